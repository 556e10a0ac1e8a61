#!/usr/bin/python3
"""fake_stripe.py: a local stand-in for the parts of Stripe's HTTP API that
creditd uses (POST /v1/customers, POST /v1/checkout/sessions, POST
/v1/payment_intents for off-session charges of a saved card, and GETs of
them: GET /v1/customers/<id>, /v1/checkout/sessions/<id> and
/v1/payment_intents/<id>, 404 resource_missing for another key's), for
integration tests.

Owns: checking what creditd sends the way Stripe does -- Bearer auth with an
sk_test_/sk_live_ key, a form-encoded body, an Idempotency-Key on every POST
(replayed answers for the same key and parameters, Stripe's idempotency_error
for the same key with other parameters), nested bracket parameters, unknown
parameters, required parameters, integers, URLs, metadata limits, customers
that must exist -- and answering with Stripe-shaped objects and errors. It
also owns a few test-control endpoints under /_ (not Stripe's) to inspect
what was received and to inject failures.

Never: listens beyond the address it is given (127.0.0.1 by default), talks
to the real Stripe, needs anything beyond the Python 3 standard library,
crashes on bad input (every request is answered or deliberately dropped), or
writes to stderr unless --verbose (and then never an API key).

Why: creditd's Stripe client must be tested without the internet, and a fake
that accepted anything would let wrong parameter names, bad escaping or a
missing idempotency key through to production.

Usage: /usr/bin/python3 tests/fake_stripe.py --port 0 --port-file /tmp/port
  [--host 127.0.0.1] [--secret-key sk_test_...] [--verbose]

Control endpoints (no auth):
  GET  /_requests          recorded /v1 requests: [{seq, method, path, query,
                           headers (lower-case names), body, form (flat dict,
                           last value wins), form_pairs, nested (brackets
                           nested; a[0], a[1] become a list), status (0 when
                           dropped), idempotent_replayed}]
  POST /_reset             forget requests, objects, idempotency keys; mode ok
  GET  /_mode, POST /_mode {"mode": "ok"|"slow"|"fail500"|"close"|"garbage"|
                           "huge", "delay_seconds": N, "count": N}
                           slow sleeps delay_seconds (default 5) then answers
                           normally; fail500 answers Stripe's 500 api_error;
                           close drops the connection without an answer;
                           garbage answers 200 with a non-JSON body; huge
                           answers 200 with a 300 KiB JSON object. count
                           (optional) applies the mode to the next N /v1
                           requests only, then back to ok. Requests are
                           recorded before the mode applies.
  GET  /_sessions/<id>     the stored session, with private _line_items,
                           _payment_intent_data, _idempotency_key and
                           _api_key_hash (sessions and customers belong to
                           the key that created them, as accounts do)
  POST /_sessions/<id>/complete {"webhook_secret": "whsec_...",
                           "timestamp": N, "payment_status": "paid",
                           "type": "checkout.session.completed"}
                           marks the session complete and returns
                           {"event", "payload", "signature"}: a Stripe event
                           and its Stripe-Signature header (when a secret is
                           given) ready to POST to creditd's webhook
                           A paid session that kept its card (payment_intent_data
                           [setup_future_usage]=off_session) attaches a payment
                           method to its customer and also returns
                           "payment_intent_event", "payment_intent_payload" and
                           "payment_intent_signature": its payment_intent.succeeded;
                           body "payment_method": "pm_..." names the card kept
                           (pm_card_chargeDeclined: declined off-session)
  POST /_sessions/<id>/charge_event {"webhook_secret", "timestamp", "type":
                           "charge.succeeded"|"charge.updated", "receipt_url"}
                           the paid session's charge (one ch_ id per session)
                           as Stripe sends it, with a new receipt_url unless
                           the body names one; returns {"event", "payload",
                           "signature"}
  POST /_sessions/<id>/invoice_event {"webhook_secret", "timestamp", "type":
                           "invoice.paid"|"invoice.finalized",
                           "hosted_invoice_url", "invoice_pdf"} the invoice
                           of a paid session created with
                           invoice_creation[enabled]=true (its session's
                           "invoice" once completed)
  POST /_sign {"payload": "...", "webhook_secret": "...", "timestamp": N}
                           returns {"signature": "t=...,v1=..."}
  GET  /_payment_mode, POST /_payment_mode {"mode": "ok"|"decline"|"slow"|
                           "processing", "delay_seconds": N, "count": N}: how
                           the next POST /v1/payment_intents answer (ok: status
                           succeeded; decline: Stripe's 402 card_error
                           card_declined; slow: after delay_seconds;
                           processing: status processing, paid later)
  GET  /_payment_intents   every PaymentIntent made through the API, with
                           "_idempotency_key": the key it was created with
  POST /_payment_intents/<id>/event {"webhook_secret", "timestamp",
                           "type": "payment_intent.succeeded"|
                           "payment_intent.payment_failed"} returns
                           {"event", "payload", "signature"} for it
  POST /_payment_intents/<id>/status {"status": "succeeded"|
                           "requires_payment_method"|"canceled"|"processing"|
                           "requires_action"} changes what GET
                           /v1/payment_intents/<id> answers, and sends no
                           event (a webhook lost): succeeded sets
                           amount_received to the amount,
                           requires_payment_method a card_error
                           last_payment_error, canceled canceled_at and
                           cancellation_reason; returns the PaymentIntent
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import string
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2024-06-20"
BODY_MAX = 1024 * 1024
MAX_FIELDS = 2000
ALNUM = string.ascii_letters + string.digits
# Stripe's minimum charge per currency (smallest unit) for the ones we know.
MIN_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "jpy": 50}
AMOUNT_MAX = 99999999
MODES = ("ok", "slow", "fail500", "close", "garbage", "huge")
PAYMENT_MODES = ("ok", "decline", "slow", "processing")
PAYMENT_INTENT_KEYS = ("amount", "currency", "customer", "payment_method", "off_session", "confirm", "metadata",
                       "description", "receipt_email", "statement_descriptor_suffix")


def rand_id(prefix, n):
    return prefix + "".join(secrets.choice(ALNUM) for _ in range(n))


class StripeError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(self, status, message, type_="invalid_request_error", code=None, param=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param

    def body(self):
        err = {"type": self.type, "message": self.message}
        if self.code is not None:
            err["code"] = self.code
            err["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param is not None:
            err["param"] = self.param
        return {"error": err}


def unknown(param):
    return StripeError(400, "Received unknown parameter: %s" % param, code="parameter_unknown", param=param)


def missing(param):
    return StripeError(400, "Missing required param: %s." % param, code="parameter_missing", param=param)


def invalid(param, message, code="parameter_invalid"):
    return StripeError(400, message, code=code, param=param)


def sub(prefix, key):
    return "%s[%s]" % (prefix, key) if prefix else key


# ---- form parsing -----------------------------------------------------------

def parse_key(key):
    """'a[b][0]' -> ['a', 'b', '0']; '' segments mean 'append'."""
    i = key.find("[")
    if i == -1:
        if "]" in key or key == "":
            raise invalid(key, "Invalid parameter name: %r" % key)
        return [key]
    if i == 0:
        raise invalid(key, "Invalid parameter name: %r" % key)
    parts = [key[:i]]
    rest = key[i:]
    while rest:
        j = rest.find("]")
        if rest[0] != "[" or j == -1 or "[" in rest[1:j]:
            raise invalid(key, "Invalid parameter name: %r" % key)
        parts.append(rest[1:j])
        rest = rest[j + 1:]
    return parts


def nest(pairs):
    """Rack-style nesting of bracketed keys into dicts (arrays stay dicts of
    '0', '1', ... until a validator asks for a list)."""
    root = {}
    for key, value in pairs:
        parts = parse_key(key)
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                part = str(len(node))
            if last:
                if isinstance(node.get(part), dict):
                    raise invalid(key, "Invalid hash: %s is both a value and an object" % key)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(key, "Invalid hash: %s is both a value and an object" % key)
                node = child
    return root


def listify(v):
    """For the recorded view: dicts keyed 0..n-1 (from a[0], a[1]) become lists."""
    if not isinstance(v, dict):
        return v
    if v and all(k.isdigit() for k in v) and sorted(int(k) for k in v) == list(range(len(v))):
        return [listify(v[str(i)]) for i in range(len(v))]
    return {k: listify(x) for k, x in v.items()}


def parse_form(raw):
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise StripeError(400, "Invalid request: the body must be percent-encoded ASCII "
                          "(application/x-www-form-urlencoded).")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                          errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as e:
        raise StripeError(400, "Invalid request body: %s" % e)
    return pairs


# ---- value checks -----------------------------------------------------------

def want_str(v, param, maxlen=5000, allow_empty=True):
    if not isinstance(v, str):
        raise invalid(param, "Invalid string: %s" % json.dumps(v), "parameter_invalid_string")
    if not allow_empty and v == "":
        raise invalid(param, "You passed an empty string for '%s'. We assume empty values are an attempt to "
                      "unset a parameter; however '%s' cannot be unset. You should remove '%s' from your "
                      "request or supply a non-empty value." % (param, param, param),
                      "parameter_invalid_empty")
    if len(v) > maxlen:
        raise invalid(param, "Invalid string: %s...; must be at most %d characters" % (v[:20], maxlen),
                      "string_length_exceeds_maximum")
    return v


def want_int(v, param, minimum=None):
    if not isinstance(v, str) or not re.fullmatch(r"-?[0-9]{1,18}", v):
        raise invalid(param, "Invalid integer: %s" % (v if isinstance(v, str) else json.dumps(v)),
                      "parameter_invalid_integer")
    n = int(v)
    if minimum is not None and n < minimum:
        raise invalid(param, "This value must be greater than or equal to %d." % minimum,
                      "parameter_invalid_integer")
    return n


def want_bool(v, param):
    if v not in ("true", "false"):
        raise invalid(param, "Invalid boolean: %s" % json.dumps(v))
    return v == "true"


def want_enum(v, param, allowed):
    want_str(v, param)
    if v not in allowed:
        raise invalid(param, "Invalid %s: must be one of %s" % (param, ", ".join(allowed)))
    return v


def want_url(v, param):
    want_str(v, param, maxlen=5000, allow_empty=False)
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in v):
        raise invalid(param, "Not a valid URL", "url_invalid")
    return v


def want_email(v, param):
    want_str(v, param, maxlen=512, allow_empty=False)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
        raise invalid(param, "Invalid email address: %s" % v, "email_invalid")
    return v


def want_dict(v, param):
    if not isinstance(v, dict):
        raise invalid(param, "Invalid object", "parameter_invalid_object")
    return v


def want_list(v, param):
    """A dict of '0'..'n-1' (from brackets) as a list; '' unsets."""
    if v == "":
        return []
    if not isinstance(v, dict) or not all(k.isdigit() for k in v):
        raise invalid(param, "Invalid array", "parameter_invalid_array")
    keys = sorted(v, key=int)
    if [int(k) for k in keys] != list(range(len(keys))):
        raise invalid(param, "Invalid array: indexes must be 0, 1, 2, ... without gaps",
                      "parameter_invalid_array")
    return [v[k] for k in keys]


def check_keys(d, allowed, prefix):
    for k in d:
        if k not in allowed:
            raise unknown(sub(prefix, k))


def want_metadata(v, param):
    if v == "":
        return {}
    want_dict(v, param)
    if len(v) > 50:
        raise invalid(param, "You can have up to 50 metadata keys, but you passed in %d." % len(v))
    out = {}
    for k, val in v.items():
        if len(k) > 40:
            raise invalid(sub(param, k), "Metadata keys can have up to 40 characters, but you passed in a key "
                          "that is %d characters. Invalid key: %s" % (len(k), k))
        if not isinstance(val, str):
            raise invalid(sub(param, k), "Invalid metadata value for %s: metadata values must be strings"
                          % sub(param, k))
        if len(val) > 500:
            raise invalid(sub(param, k), "Metadata values can have up to 500 characters, but you passed in a "
                          "value that is %d characters. Invalid value: %s" % (len(val), val[:40]))
        out[k] = val
    return out


def want_enabled(v, param):
    want_dict(v, param)
    check_keys(v, ("enabled", "liability", "position"), param)
    if "enabled" not in v:
        raise missing(sub(param, "enabled"))
    return {"enabled": want_bool(v["enabled"], sub(param, "enabled"))}


def shallow(v, param):
    """Parameters we accept without looking inside (documented, unused by creditd)."""
    if not isinstance(v, (str, dict)):
        raise invalid(param, "Invalid value")
    return v


def exclusive(d, a, b, prefix=""):
    if a in d and b in d:
        raise StripeError(400, "You may only specify one of these parameters: %s, %s." % (sub(prefix, a),
                                                                                       sub(prefix, b)))


# ---- customers --------------------------------------------------------------

ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")
CUSTOMER_SHALLOW = ("cash_balance", "coupon", "invoice_settings", "next_invoice_sequence", "payment_method",
                    "promotion_code", "shipping", "source", "tax", "tax_id_data", "test_clock", "validate")
CUSTOMER_KEYS = ("address", "balance", "description", "email", "expand", "invoice_prefix", "metadata", "name",
                 "phone", "preferred_locales", "tax_exempt") + CUSTOMER_SHALLOW


def validate_customer(p):
    check_keys(p, CUSTOMER_KEYS, "")
    out = {}
    if "address" in p and p["address"] != "":
        want_dict(p["address"], "address")
        check_keys(p["address"], ADDRESS_KEYS, "address")
        out["address"] = {k: want_str(p["address"].get(k), sub("address", k), 200) if k in p["address"] else None
                          for k in ADDRESS_KEYS}
    if "balance" in p:
        out["balance"] = want_int(p["balance"], "balance")
    for k, limit in (("description", 5000), ("name", 256), ("phone", 20), ("invoice_prefix", 12)):
        if k in p:
            out[k] = want_str(p[k], k, limit)
    if "email" in p and p["email"] != "":
        out["email"] = want_email(p["email"], "email")
    if "metadata" in p:
        out["metadata"] = want_metadata(p["metadata"], "metadata")
    if "tax_exempt" in p:
        out["tax_exempt"] = want_enum(p["tax_exempt"], "tax_exempt", ("none", "exempt", "reverse"))
    for k in ("expand", "preferred_locales"):
        if k in p:
            out[k] = [want_str(x, "%s[%d]" % (k, i)) for i, x in enumerate(want_list(p[k], k))]
    for k in CUSTOMER_SHALLOW:
        if k in p:
            shallow(p[k], k)
    return out


def customer_object(v, livemode):
    return {
        "id": rand_id("cus_", 14), "object": "customer", "address": v.get("address"),
        "balance": v.get("balance", 0), "created": int(time.time()), "currency": None,
        "default_source": None, "delinquent": False, "description": v.get("description"),
        "discount": None, "email": v.get("email"), "invoice_prefix": v.get("invoice_prefix") or
        "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": livemode, "metadata": v.get("metadata", {}), "name": v.get("name"),
        "next_invoice_sequence": 1, "phone": v.get("phone"), "preferred_locales": v.get("preferred_locales", []),
        "shipping": None, "tax_exempt": v.get("tax_exempt", "none"), "test_clock": None,
    }


# ---- checkout sessions --------------------------------------------------------

SESSION_SHALLOW = ("after_expiration", "consent_collection", "custom_fields", "custom_text", "customer_update",
                   "discounts", "payment_method_configuration", "payment_method_options",
                   "redirect_on_completion", "saved_payment_method_options", "setup_intent_data",
                   "shipping_address_collection", "shipping_options", "subscription_data")
SESSION_KEYS = ("mode", "success_url", "cancel_url", "return_url", "ui_mode", "line_items", "customer",
                "customer_email", "customer_creation", "client_reference_id", "metadata", "payment_intent_data",
                "payment_method_types", "payment_method_collection", "expand", "locale", "allow_promotion_codes",
                "billing_address_collection", "phone_number_collection", "tax_id_collection", "automatic_tax",
                "expires_at", "submit_type", "currency", "invoice_creation") + SESSION_SHALLOW
LINE_ITEM_KEYS = ("price", "price_data", "quantity", "adjustable_quantity", "dynamic_tax_rates", "tax_rates")
PRICE_DATA_KEYS = ("currency", "product", "product_data", "recurring", "tax_behavior", "unit_amount",
                   "unit_amount_decimal")
PRODUCT_DATA_KEYS = ("name", "description", "images", "metadata", "tax_code", "unit_label")
PI_DATA_KEYS = ("application_fee_amount", "capture_method", "description", "metadata", "on_behalf_of",
                "receipt_email", "setup_future_usage", "shipping", "statement_descriptor",
                "statement_descriptor_suffix", "transfer_data", "transfer_group")


INVOICE_CREATION_KEYS = ("enabled", "invoice_data")
INVOICE_DATA_KEYS = ("account_tax_ids", "custom_fields", "description", "footer", "issuer", "metadata",
                     "rendering_options")


def validate_invoice_creation(v, mode):
    """invoice_creation[enabled] (required) and invoice_creation[invoice_data][...], payment mode only."""
    want_dict(v, "invoice_creation")
    check_keys(v, INVOICE_CREATION_KEYS, "invoice_creation")
    if "enabled" not in v:
        raise missing("invoice_creation[enabled]")
    if mode != "payment":
        raise invalid("invoice_creation", "You can only pass `invoice_creation` in `payment` mode.")
    out = {"enabled": want_bool(v["enabled"], "invoice_creation[enabled]"),
           "invoice_data": {"account_tax_ids": None, "custom_fields": None, "description": None, "footer": None,
                            "issuer": None, "metadata": {}, "rendering_options": None}}
    if "invoice_data" in v:
        d = want_dict(v["invoice_data"], "invoice_creation[invoice_data]")
        check_keys(d, INVOICE_DATA_KEYS, "invoice_creation[invoice_data]")
        for k, limit in (("description", 1500), ("footer", 5000)):
            if k in d:
                out["invoice_data"][k] = want_str(d[k], "invoice_creation[invoice_data][%s]" % k, limit)
        if "metadata" in d:
            out["invoice_data"]["metadata"] = want_metadata(d["metadata"], "invoice_creation[invoice_data][metadata]")
        for k in ("account_tax_ids", "custom_fields", "issuer", "rendering_options"):
            if k in d:
                shallow(d[k], "invoice_creation[invoice_data][%s]" % k)
    return out


def want_currency(v, param):
    want_str(v, param)
    if not re.fullmatch(r"[a-z]{3}", v):
        raise invalid(param, "Invalid currency: %s. Stripe currently supports these currencies: usd, eur, "
                      "gbp, ... (three lower-case letters)" % v)
    return v


def validate_product_data(pd, param):
    want_dict(pd, param)
    check_keys(pd, PRODUCT_DATA_KEYS, param)
    if "name" not in pd:
        raise missing(sub(param, "name"))
    out = {"name": want_str(pd["name"], sub(param, "name"), 250, allow_empty=False)}
    if "description" in pd:
        out["description"] = want_str(pd["description"], sub(param, "description"))
    if "metadata" in pd:
        out["metadata"] = want_metadata(pd["metadata"], sub(param, "metadata"))
    if "images" in pd:
        out["images"] = [want_url(u, "%s[%d]" % (sub(param, "images"), i))
                         for i, u in enumerate(want_list(pd["images"], sub(param, "images")))]
    return out


def validate_price_data(pd, param):
    want_dict(pd, param)
    check_keys(pd, PRICE_DATA_KEYS, param)
    if "currency" not in pd:
        raise missing(sub(param, "currency"))
    out = {"currency": want_currency(pd["currency"], sub(param, "currency"))}
    exclusive(pd, "unit_amount", "unit_amount_decimal", param)
    exclusive(pd, "product", "product_data", param)
    if "unit_amount" in pd:
        out["unit_amount"] = want_int(pd["unit_amount"], sub(param, "unit_amount"), 0)
        if out["unit_amount"] > AMOUNT_MAX:
            raise invalid(sub(param, "unit_amount"), "Amount must be no more than %d" % AMOUNT_MAX,
                          "amount_too_large")
    elif "unit_amount_decimal" in pd:
        want_str(pd["unit_amount_decimal"], sub(param, "unit_amount_decimal"))
        if not re.fullmatch(r"[0-9]+(\.[0-9]{1,12})?", pd["unit_amount_decimal"]):
            raise invalid(sub(param, "unit_amount_decimal"), "Invalid decimal: %s" % pd["unit_amount_decimal"])
        out["unit_amount"] = int(float(pd["unit_amount_decimal"]) + 0.5)
    else:
        raise missing(sub(param, "unit_amount"))
    if "product_data" in pd:
        out["product_data"] = validate_product_data(pd["product_data"], sub(param, "product_data"))
    elif "product" in pd:
        out["product"] = want_str(pd["product"], sub(param, "product"), allow_empty=False)
    else:
        raise missing(sub(param, "product_data"))
    if "recurring" in pd:
        rec = want_dict(pd["recurring"], sub(param, "recurring"))
        check_keys(rec, ("interval", "interval_count"), sub(param, "recurring"))
        if "interval" not in rec:
            raise missing(sub(sub(param, "recurring"), "interval"))
        want_enum(rec["interval"], sub(sub(param, "recurring"), "interval"), ("day", "week", "month", "year"))
        out["recurring"] = rec
    if "tax_behavior" in pd:
        want_enum(pd["tax_behavior"], sub(param, "tax_behavior"), ("exclusive", "inclusive", "unspecified"))
    return out


def validate_line_item(li, param, mode):
    want_dict(li, param)
    check_keys(li, LINE_ITEM_KEYS, param)
    exclusive(li, "price", "price_data", param)
    out = {}
    if "price" in li:
        out["price"] = want_str(li["price"], sub(param, "price"), allow_empty=False)
        if not re.fullmatch(r"(price|plan)_[A-Za-z0-9_]+", out["price"]):
            raise StripeError(400, "No such price: '%s'" % out["price"], code="resource_missing",
                              param=sub(param, "price"))
    elif "price_data" in li:
        out["price_data"] = validate_price_data(li["price_data"], sub(param, "price_data"))
    else:
        raise StripeError(400, "You must specify either `price` or `price_data` in %s." % param,
                          code="parameter_missing", param=param)
    if "quantity" not in li:
        raise missing(sub(param, "quantity"))
    out["quantity"] = want_int(li["quantity"], sub(param, "quantity"), 1)
    for k in ("adjustable_quantity", "dynamic_tax_rates", "tax_rates"):
        if k in li:
            shallow(li[k], sub(param, k))
    recurring = "recurring" in out.get("price_data", {})
    if mode == "payment" and recurring:
        raise invalid(param, "You specified `payment` mode but passed a recurring price. Either switch to "
                      "`subscription` mode or use only one-time prices.")
    return out


def line_items_total(items, mode):
    """(currency, total) of price_data items; None total when a price id is used."""
    currencies = {li["price_data"]["currency"] for li in items if "price_data" in li}
    if len(currencies) > 1:
        raise invalid("line_items", "All line items must use the same currency.")
    if any("price" in li for li in items):
        return (currencies.pop() if currencies else None), None
    currency = currencies.pop() if currencies else None
    total = sum(li["price_data"]["unit_amount"] * li["quantity"] for li in items)
    if total > AMOUNT_MAX:
        raise invalid("line_items", "The Checkout Session's total amount due must be no more than %d."
                      % AMOUNT_MAX, "amount_too_large")
    minimum = MIN_CHARGE.get(currency)
    if mode == "payment" and minimum is not None and 0 < total < minimum:
        raise invalid("line_items", "The Checkout Session's total amount due must add up to at least %d %s."
                      % (minimum, currency), "amount_too_small")
    return currency, total


def validate_pi_data(v):
    want_dict(v, "payment_intent_data")
    check_keys(v, PI_DATA_KEYS, "payment_intent_data")
    out = {}
    if "metadata" in v:
        out["metadata"] = want_metadata(v["metadata"], "payment_intent_data[metadata]")
    if "capture_method" in v:
        out["capture_method"] = want_enum(v["capture_method"], "payment_intent_data[capture_method]",
                                          ("automatic", "automatic_async", "manual"))
    if "setup_future_usage" in v:
        out["setup_future_usage"] = want_enum(v["setup_future_usage"], "payment_intent_data[setup_future_usage]",
                                              ("on_session", "off_session"))
    for k, limit in (("description", 1000), ("statement_descriptor", 22), ("statement_descriptor_suffix", 22),
                     ("transfer_group", 5000), ("on_behalf_of", 255)):
        if k in v:
            out[k] = want_str(v[k], "payment_intent_data[%s]" % k, limit)
    if "receipt_email" in v:
        out["receipt_email"] = want_email(v["receipt_email"], "payment_intent_data[receipt_email]")
    if "application_fee_amount" in v:
        out["application_fee_amount"] = want_int(v["application_fee_amount"],
                                                 "payment_intent_data[application_fee_amount]", 0)
    for k in ("shipping", "transfer_data"):
        if k in v:
            shallow(v[k], "payment_intent_data[%s]" % k)
    return out


def validate_session_urls(p, out):
    ui_mode = out["ui_mode"]
    if ui_mode == "hosted":
        if "return_url" in p:
            raise invalid("return_url", "You can only pass `return_url` when `ui_mode` is `embedded` or `custom`.")
        if "success_url" not in p:
            raise missing("success_url")
        out["success_url"] = want_url(p["success_url"], "success_url")
        out["cancel_url"] = want_url(p["cancel_url"], "cancel_url") if "cancel_url" in p else None
    else:
        for k in ("success_url", "cancel_url"):
            if k in p:
                raise invalid(k, "You cannot pass `%s` when `ui_mode` is `%s`." % (k, ui_mode))
        if "return_url" in p:
            out["return_url"] = want_url(p["return_url"], "return_url")
        elif p.get("redirect_on_completion") != "never":
            raise missing("return_url")


def validate_session_mode(p, out):
    if "mode" not in p:
        raise missing("mode")
    mode = want_enum(p["mode"], "mode", ("payment", "setup", "subscription"))
    out["mode"] = mode
    if mode != "payment" and "payment_intent_data" in p:
        raise invalid("payment_intent_data", "You can not pass `payment_intent_data` in `%s` mode." % mode)
    if mode != "subscription" and "subscription_data" in p:
        raise invalid("subscription_data", "You can not pass `subscription_data` in `%s` mode." % mode)
    if mode == "setup" and "line_items" in p:
        raise invalid("line_items", "You can not pass `line_items` in `setup` mode.")
    if mode in ("payment", "subscription") and "line_items" not in p:
        raise missing("line_items")
    items = [validate_line_item(li, "line_items[%d]" % i, mode)
             for i, li in enumerate(want_list(p.get("line_items", ""), "line_items"))]
    if mode in ("payment", "subscription") and not items:
        raise invalid("line_items", "`line_items` is required in `%s` mode." % mode)
    if mode == "subscription" and not any("recurring" in li.get("price_data", {}) or "price" in li for li in items):
        raise invalid("line_items", "You must provide at least one recurring price in `subscription` mode when "
                      "using prices.")
    out["_line_items"] = items
    out["currency"], out["amount_total"] = line_items_total(items, mode) if items else (None, None)
    if "currency" in p:
        out["currency"] = want_currency(p["currency"], "currency")


def validate_session_simple(p, out):
    if "client_reference_id" in p:
        out["client_reference_id"] = want_str(p["client_reference_id"], "client_reference_id", 200)
    out["metadata"] = want_metadata(p.get("metadata", ""), "metadata")
    out["_payment_intent_data"] = validate_pi_data(p["payment_intent_data"]) if "payment_intent_data" in p else {}
    if "customer_email" in p:
        out["customer_email"] = want_email(p["customer_email"], "customer_email")
    if "payment_method_types" in p:
        out["payment_method_types"] = [want_str(x, "payment_method_types[%d]" % i, 64, False)
                                       for i, x in enumerate(want_list(p["payment_method_types"],
                                                                       "payment_method_types"))]
    if "expand" in p:
        for i, x in enumerate(want_list(p["expand"], "expand")):
            want_str(x, "expand[%d]" % i)
    if "expires_at" in p:
        out["expires_at"] = want_int(p["expires_at"], "expires_at", 0)
    if "allow_promotion_codes" in p:
        out["allow_promotion_codes"] = want_bool(p["allow_promotion_codes"], "allow_promotion_codes")
    enums = (("billing_address_collection", ("auto", "required")),
             ("customer_creation", ("always", "if_required")),
             ("payment_method_collection", ("always", "if_required")),
             ("submit_type", ("auto", "book", "donate", "pay", "subscribe")))
    for k, allowed in enums:
        if k in p:
            out[k] = want_enum(p[k], k, allowed)
    if "locale" in p:
        out["locale"] = want_str(p["locale"], "locale", 16)
    for k in ("phone_number_collection", "tax_id_collection", "automatic_tax"):
        if k in p:
            out[k] = want_enabled(p[k], k)
    for k in SESSION_SHALLOW:
        if k in p:
            shallow(p[k], k)
    if "invoice_creation" in p:
        out["invoice_creation"] = validate_invoice_creation(p["invoice_creation"], out["mode"])
    elif out["mode"] == "payment":
        out["invoice_creation"] = {"enabled": False, "invoice_data": {
            "account_tax_ids": None, "custom_fields": None, "description": None, "footer": None, "issuer": None,
            "metadata": {}, "rendering_options": None}}


def validate_session(p, state, api_key):
    check_keys(p, SESSION_KEYS, "")
    out = {"ui_mode": want_enum(p["ui_mode"], "ui_mode", ("hosted", "embedded", "custom"))
           if "ui_mode" in p else "hosted"}
    validate_session_mode(p, out)
    validate_session_urls(p, out)
    exclusive(p, "customer", "customer_email")
    if "customer" in p:
        cid = want_str(p["customer"], "customer", 255, allow_empty=False)
        if state.get_customer(api_key, cid) is None:
            raise StripeError(400, "No such customer: '%s'" % cid, code="resource_missing", param="customer")
        out["customer"] = cid
    validate_session_simple(p, out)
    return out


def session_object(v, livemode):
    now = int(time.time())
    sid = rand_id("cs_live_a1" if livemode else "cs_test_a1", 56)
    mode = v["mode"]
    return {
        "id": sid, "object": "checkout.session", "after_expiration": None,
        "allow_promotion_codes": v.get("allow_promotion_codes"),
        "amount_subtotal": v.get("amount_total"), "amount_total": v.get("amount_total"),
        "automatic_tax": v.get("automatic_tax", {"enabled": False, "liability": None, "status": None}),
        "billing_address_collection": v.get("billing_address_collection"),
        "cancel_url": v.get("cancel_url"), "client_reference_id": v.get("client_reference_id"),
        "client_secret": None if v["ui_mode"] == "hosted" else rand_id(sid + "_secret_", 24),
        "consent": None, "consent_collection": None, "created": now, "currency": v.get("currency"),
        "custom_fields": [], "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                                             "terms_of_service_acceptance": None},
        "customer": v.get("customer"),
        "customer_creation": v.get("customer_creation", None if v.get("customer") else "if_required"),
        "customer_details": None, "customer_email": v.get("customer_email"),
        "expires_at": v.get("expires_at", now + 86400), "invoice": None, "invoice_creation": v.get("invoice_creation"),
        "livemode": livemode, "locale": v.get("locale"), "metadata": v["metadata"], "mode": mode,
        "payment_intent": rand_id("pi_", 24) if mode == "payment" else None, "payment_link": None,
        "payment_method_collection": v.get("payment_method_collection", "if_required"),
        "payment_method_types": v.get("payment_method_types", ["card"]),
        "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
        "phone_number_collection": v.get("phone_number_collection", {"enabled": False}),
        "recovered_from": None, "return_url": v.get("return_url"), "setup_intent": None,
        "shipping_address_collection": None, "shipping_cost": None, "shipping_details": None,
        "shipping_options": [], "status": "open", "submit_type": v.get("submit_type"), "subscription": None,
        "success_url": v.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": v["ui_mode"],
        "url": ("https://checkout.stripe.com/c/pay/" + sid) if v["ui_mode"] == "hosted" else None,
        "_line_items": v["_line_items"], "_payment_intent_data": v["_payment_intent_data"],
    }


def public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


# ---- state ----------------------------------------------------------------------

class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.customers = {}     # (api_key, id) -> object
            self.sessions = {}      # id -> object (with private fields)
            self.idem = {}          # (api_key, key) -> {"path", "params", "status", "body"}
            self.inflight = set()
            self.mode = {"mode": "ok", "delay_seconds": 0, "count": None}
            self.payment_mode = {"mode": "ok", "delay_seconds": 0, "count": None}
            self.payment_methods = {}   # (api key hash, customer) -> set of pm ids
            self.payment_intents = {}   # id -> object (with private _api_key_hash)
            self.seq = 0

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.requests.append(entry)
            if len(self.requests) > 10000:
                del self.requests[0]

    def take_mode(self, attr="mode"):
        """The mode (attr: "mode" for every /v1 request, "payment_mode" for
        POST /v1/payment_intents) for this request, counting down a limited one."""
        with self.lock:
            mode = getattr(self, attr)
            m = dict(mode)
            if m["mode"] != "ok" and m["count"] is not None:
                mode["count"] -= 1
                if mode["count"] <= 0:
                    setattr(self, attr, {"mode": "ok", "delay_seconds": 0, "count": None})
            return m

    def get_customer(self, api_key, cid):
        with self.lock:
            return self.customers.get((api_key, cid))


STATE = State()
OPTIONS = argparse.Namespace(verbose=False, secret_key=None)


def log(fmt, *args):
    if OPTIONS.verbose:
        sys.stderr.write("fake_stripe: " + (fmt % args) + "\n")
        sys.stderr.flush()


def mask_key(key):
    return key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"


# ---- HTTP -------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_stripe/1.0"
    sys_version = ""
    timeout = 60

    def version_string(self):
        return self.server_version

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (bad request line, huge headers) in
        Stripe's error shape instead of an HTML page."""
        self.close_connection = True
        short = self.responses.get(code, ("Error",))[0]
        body = json.dumps(StripeError(code, message or short).body()).encode("utf-8")
        try:
            self.send_response(code, short)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        log("%s %s", self.address_string(), fmt % args)

    # -- plumbing --

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj, indent=2).encode("utf-8") + b"\n"
        self.send_raw(status, body, "application/json", headers)

    def send_raw(self, status, body, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", rand_id("req_", 14))
        self.send_header("Stripe-Version", API_VERSION)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_error_obj(self, err):
        self.send_json(err.status, err.body())

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise StripeError(411, "fake_stripe needs a Content-Length (no chunked bodies).")
        length = self.headers.get("Content-Length", "0") or "0"
        if not length.isdigit():
            self.close_connection = True
            raise StripeError(400, "Invalid Content-Length.")
        n = int(length)
        if n > BODY_MAX:
            self.close_connection = True
            raise StripeError(413, "Request body too large.")
        return self.rfile.read(n) if n else b""

    def dispatch(self):
        try:
            path = urlsplit(self.path).path
            if path.startswith("/_"):
                self.control(path)
            else:
                self.api(path)
        except StripeError as e:
            self.send_error_obj(e)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception:  # never die on a request
            log("internal error:\n%s", traceback.format_exc())
            self.close_connection = True
            try:
                self.send_error_obj(StripeError(500, "fake_stripe internal error", "api_error"))
            except OSError:
                pass

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = dispatch

    # -- the Stripe API --

    def take_delay(self):
        delay, self.pending_delay = self.pending_delay, 0
        if delay:
            time.sleep(delay)

    def api(self, path):
        raw = self.read_body()
        entry = self.make_entry(path, raw)
        STATE.record(entry)
        self.pending_delay = 0
        try:
            status, obj, headers = self.api_answer(path, raw, entry)
        except StripeError as e:
            status, obj, headers = e.status, e.body(), None
        self.take_delay()
        entry["status"] = status
        if obj is not None:
            self.send_json(status, obj, headers)

    def make_entry(self, path, raw):
        entry = {"seq": 0, "time": time.time(), "method": self.command, "path": path,
                 "query": urlsplit(self.path).query,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": raw.decode("utf-8", "replace"), "form": {}, "form_pairs": [], "nested": None,
                 "status": None, "idempotent_replayed": False}
        try:
            pairs = parse_form(raw)
            entry["form_pairs"] = [list(p) for p in pairs]
            entry["form"] = dict(pairs)
            entry["nested"] = listify(nest(pairs))
        except StripeError:
            pass
        return entry

    def apply_mode(self):
        """Returns an answer tuple for failure modes, None to go on."""
        m = STATE.take_mode()
        if m["mode"] == "slow":
            # Slept inside the idempotency in-flight window (see idempotent),
            # like a slow Stripe, or before the answer when there is none.
            self.pending_delay = m["delay_seconds"] or 5
        elif m["mode"] == "fail500":
            return 500, StripeError(500, "An unknown error occurred", "api_error").body(), None
        elif m["mode"] == "close":
            self.close_connection = True
            return 0, None, None
        elif m["mode"] == "garbage":
            self.send_raw(200, b"<html>this is not JSON</html>", "text/html")
            return 200, None, None
        elif m["mode"] == "huge":
            self.send_raw(200, json.dumps({"id": "cus_huge", "pad": "x" * (300 * 1024)}).encode(),
                          "application/json")
            return 200, None, None
        return None

    def api_answer(self, path, raw, entry):
        failure = self.apply_mode()
        if failure is not None:
            return failure
        api_key = self.check_auth()
        livemode = api_key.startswith("sk_live_")
        if self.command == "GET":
            return self.api_get(path, api_key)
        if self.command != "POST" or path not in ("/v1/customers", "/v1/checkout/sessions", "/v1/payment_intents"):
            raise self.unrecognized(path)
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise StripeError(400, "Invalid request: the body must be application/x-www-form-urlencoded "
                              "(got %r)." % ctype)
        key = self.headers.get("Idempotency-Key")
        if key is None or key.strip() == "":
            raise StripeError(400, "fake_stripe: every POST from creditd must carry an Idempotency-Key header.")
        if len(key) > 255:
            raise StripeError(400, "Idempotency keys can be at most 255 characters long.",
                              code="idempotency_key_too_long")
        params = nest(parse_form(raw))
        return self.idempotent(api_key, key, path, sorted(parse_form(raw)), params, livemode, entry)

    def unrecognized(self, path):
        return StripeError(404, "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we "
                           "can help at https://support.stripe.com/." % (self.command, path))

    def check_auth(self):
        auth = self.headers.get("Authorization")
        if auth is None or auth.strip() == "":
            raise StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                              "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                              "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                              "or we can help at https://support.stripe.com/.")
        scheme, _, key = auth.strip().partition(" ")
        if scheme != "Bearer":
            raise StripeError(401, "fake_stripe accepts only Bearer auth ('Authorization: Bearer sk_test_...').")
        key = key.strip()
        if not re.fullmatch(r"sk_(test|live)_[A-Za-z0-9_]+", key) or \
                (OPTIONS.secret_key is not None and not hmac.compare_digest(key, OPTIONS.secret_key)):
            raise StripeError(401, "Invalid API Key provided: %s" % mask_key(key))
        return key

    def api_get(self, path, api_key):
        m = re.fullmatch(r"/v1/customers/([A-Za-z0-9_]+)", path)
        if m:
            obj = STATE.get_customer(api_key, m.group(1))
            if obj is None:
                raise StripeError(404, "No such customer: '%s'" % m.group(1), code="resource_missing", param="id")
            return 200, obj, None
        m = re.fullmatch(r"/v1/checkout/sessions/([A-Za-z0-9_]+)", path)
        if m:
            with STATE.lock:
                obj = STATE.sessions.get(m.group(1))
            if obj is None or obj["_api_key_hash"] != hashlib.sha256(api_key.encode()).hexdigest()[:16]:
                raise StripeError(404, "No such checkout.session: '%s'" % m.group(1), code="resource_missing",
                                  param="session")
            return 200, public(obj), None
        m = re.fullmatch(r"/v1/payment_intents/([^/]+)", path)
        if m:
            return 200, get_payment_intent(m.group(1), api_key, self.path), None
        raise self.unrecognized(path)

    def idempotent(self, api_key, key, path, pairs, params, livemode, entry):
        slot = (api_key, key)
        with STATE.lock:
            saved = STATE.idem.get(slot)
            if saved is None and slot in STATE.inflight:
                raise StripeError(409, "There is currently another in-progress request using this Idempotent "
                                  "Key (that probably means you submitted twice, and the other request is "
                                  "still going through): %s. Please try again later." % key,
                                  "idempotency_error")
            if saved is None:
                STATE.inflight.add(slot)
        if saved is not None:
            return self.replay(saved, key, path, pairs, entry)
        try:
            self.take_delay()
            status, obj = self.create(path, params, api_key, livemode, key)
            if 200 <= status < 300:
                with STATE.lock:
                    STATE.idem[slot] = {"path": path, "params": pairs, "status": status, "body": obj}
            return status, obj, None
        finally:
            with STATE.lock:
                STATE.inflight.discard(slot)

    def replay(self, saved, key, path, pairs, entry):
        if saved["path"] != path:
            raise StripeError(400, "Keys for idempotent requests can only be used for the same endpoint they "
                              "were first used for ('%s' vs '%s'). Try using a key other than '%s' if you "
                              "meant to execute a different request." % (saved["path"], path, key),
                              "idempotency_error")
        if saved["params"] != pairs:
            raise StripeError(400, "Keys for idempotent requests can only be used with the same parameters "
                              "they were first used with. Try using a key other than '%s' if you meant to "
                              "execute a different request." % key, "idempotency_error")
        entry["idempotent_replayed"] = True
        return saved["status"], saved["body"], {"Idempotent-Replayed": "true", "Original-Request":
                                                rand_id("req_", 14)}

    def create(self, path, params, api_key, livemode, key):
        if path == "/v1/payment_intents":
            return create_payment_intent(params, api_key, livemode, key)
        if path == "/v1/customers":
            obj = customer_object(validate_customer(params), livemode)
            with STATE.lock:
                STATE.customers[(api_key, obj["id"])] = obj
            return 200, obj
        obj = session_object(validate_session(params, STATE, api_key), livemode)
        obj["_idempotency_key"] = key
        obj["_api_key_hash"] = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        with STATE.lock:
            STATE.sessions[obj["id"]] = obj
        return 200, public(obj)

    # -- test control --

    def control_json(self):
        raw = self.read_body()
        if not raw.strip():
            return {}
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise StripeError(400, "control body is not JSON: %s" % e)
        if not isinstance(obj, dict):
            raise StripeError(400, "control body must be a JSON object")
        return obj

    def control(self, path):
        if self.command == "POST":
            body = self.control_json()
        else:
            self.read_body()
            body = {}
        if path == "/_requests" and self.command == "GET":
            with STATE.lock:
                out = list(STATE.requests)
            return self.send_json(200, out)
        if path == "/_reset" and self.command == "POST":
            STATE.reset()
            return self.send_json(200, {"reset": True})
        if path == "/_mode":
            return self.control_mode(body, "mode", MODES)
        if path == "/_sign" and self.command == "POST":
            return self.send_json(200, {"signature": sign_header(body)})
        m = re.fullmatch(r"/_sessions/([A-Za-z0-9_]+)(/complete)?", path)
        if m and self.command == "GET" and not m.group(2):
            with STATE.lock:
                obj = STATE.sessions.get(m.group(1))
            if obj is None:
                raise StripeError(404, "No such checkout.session: '%s'" % m.group(1), code="resource_missing")
            return self.send_json(200, obj)
        if m and self.command == "POST" and m.group(2):
            return self.send_json(200, complete_session(m.group(1), body))
        m = re.fullmatch(r"/_sessions/([A-Za-z0-9_]+)/(charge|invoice)_event", path)
        if m and self.command == "POST":
            make = session_charge_event if m.group(2) == "charge" else session_invoice_event
            return self.send_json(200, make(m.group(1), body))
        if path == "/_payment_mode":
            return self.control_mode(body, "payment_mode", PAYMENT_MODES)
        if path == "/_payment_intents" and self.command == "GET":
            with STATE.lock:
                return self.send_json(200, [dict(public(o), _idempotency_key=o.get("_idempotency_key"))
                                            for o in STATE.payment_intents.values()])
        m = re.fullmatch(r"/_payment_intents/([A-Za-z0-9_]+)/event", path)
        if m and self.command == "POST":
            with STATE.lock:
                obj = STATE.payment_intents.get(m.group(1))
            if obj is None:
                raise StripeError(404, "No such payment_intent: '%s'" % m.group(1), code="resource_missing")
            etype = body.get("type", "payment_intent.succeeded")
            if etype not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
                raise StripeError(400, "type must be payment_intent.succeeded or payment_intent.payment_failed")
            pi = public(obj)
            if etype == "payment_intent.payment_failed":
                pi.update({"status": "requires_payment_method", "amount_received": 0,
                           "last_payment_error": {"code": "card_declined", "message": "Your card was declined.",
                                                  "type": "card_error"}})
            return self.send_json(200, event_for(etype, pi, body))
        m = re.fullmatch(r"/_payment_intents/([A-Za-z0-9_]+)/status", path)
        if m and self.command == "POST":
            return self.send_json(200, set_payment_intent_status(m.group(1), body))
        raise StripeError(404, "Unknown control endpoint %s %s" % (self.command, path))

    def control_mode(self, body, attr, modes):
        """GET or POST /_mode (attr "mode") or /_payment_mode ("payment_mode")."""
        if self.command == "POST":
            mode = body.get("mode", "ok")
            delay = body.get("delay_seconds", 5 if mode == "slow" else 0)
            count = body.get("count")
            if mode not in modes:
                raise StripeError(400, "mode must be one of %s" % ", ".join(modes))
            if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= 600:
                raise StripeError(400, "delay_seconds must be a number from 0 to 600")
            if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
                raise StripeError(400, "count must be a positive integer")
            with STATE.lock:
                setattr(STATE, attr, {"mode": mode, "delay_seconds": delay, "count": count})
        elif self.command != "GET":
            raise StripeError(405, "use GET or POST on /_%s" % attr)
        with STATE.lock:
            return self.send_json(200, dict(getattr(STATE, attr)))


def sign_header(body):
    payload = body.get("payload")
    secret = body.get("webhook_secret")
    ts = body.get("timestamp", int(time.time()))
    if not isinstance(payload, str) or not isinstance(secret, str) or secret == "" or \
            not isinstance(ts, int) or isinstance(ts, bool):
        raise StripeError(400, "need payload (string), webhook_secret (string) and optional timestamp (integer)")
    mac = hmac.new(secret.encode("utf-8"), ("%d.%s" % (ts, payload)).encode("utf-8"), hashlib.sha256)
    return "t=%d,v1=%s" % (ts, mac.hexdigest())


def event_for(etype, obj, body):
    """A Stripe event of obj, with its signature when a secret is given."""
    ts = body.get("timestamp", int(time.time()))
    secret = body.get("webhook_secret")
    if not isinstance(ts, int) or isinstance(ts, bool) or (secret is not None and not isinstance(secret, str)):
        raise StripeError(400, "timestamp must be an integer and webhook_secret a string")
    event = {"id": rand_id("evt_", 24), "object": "event", "api_version": API_VERSION, "created": ts,
             "data": {"object": obj}, "livemode": obj.get("livemode", False), "pending_webhooks": 1,
             "request": {"id": None, "idempotency_key": None}, "type": etype}
    payload = json.dumps(event, indent=2)
    signature = sign_header({"payload": payload, "webhook_secret": secret, "timestamp": ts}) if secret else None
    return {"event": event, "payload": payload, "signature": signature}


def payment_intent_object(pid, amount, currency, customer, pm, metadata, livemode, status, sfu=None):
    return {"id": pid, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": amount if status == "succeeded" else 0, "canceled_at": None,
            "cancellation_reason": None, "capture_method": "automatic",
            "confirmation_method": "automatic", "created": int(time.time()), "currency": currency,
            "customer": customer, "description": None, "last_payment_error": None, "livemode": livemode,
            "metadata": metadata, "payment_method": pm, "payment_method_types": ["card"],
            "setup_future_usage": sfu, "status": status}


# Stripe's test payment methods whose off-session charges are declined
# (card_declined); any other saved card is charged.
DECLINING_CARDS = ("pm_card_chargeDeclined", "pm_card_visa_chargeDeclined")


def check_charge_metadata(metadata):
    """What creditd's off-session charges carry: an auto-recharge its id, a
    pay-as-you-go collection the month it collects."""
    kind = metadata.get("type")
    if not metadata.get("account"):
        raise StripeError(400, "fake_stripe: an off-session charge carries metadata[account].")
    if kind == "auto_recharge" and str(metadata.get("recharge", "")).isdigit():
        return
    if kind == "payg_collection" and re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", metadata.get("period", "")) \
            and "recharge" not in metadata:
        return
    raise StripeError(400, "fake_stripe: an off-session charge is metadata[type]=auto_recharge with "
                      "metadata[recharge] (its id), or metadata[type]=payg_collection with metadata[period] "
                      "(YYYY-MM).")


def create_payment_intent(p, api_key, livemode, key=None):
    """POST /v1/payment_intents the way an off-session recharge must send it."""
    check_keys(p, PAYMENT_INTENT_KEYS, "")
    for k in ("amount", "currency", "customer", "payment_method"):
        if k not in p:
            raise missing(k)
    currency = want_currency(p["currency"], "currency")
    amount = want_int(p["amount"], "amount", 1)
    if amount < MIN_CHARGE.get(currency, 1):
        raise StripeError(400, "Amount must be at least %d %s" % (MIN_CHARGE[currency], currency),
                          code="amount_too_small", param="amount")
    cid = want_str(p["customer"], "customer", 255, allow_empty=False)
    if STATE.get_customer(api_key, cid) is None:
        raise StripeError(400, "No such customer: '%s'" % cid, code="resource_missing", param="customer")
    pm = want_str(p["payment_method"], "payment_method", 255, allow_empty=False)
    with STATE.lock:
        attached = pm in STATE.payment_methods.get((hashlib.sha256(api_key.encode()).hexdigest()[:16], cid), set())
    if not attached:
        raise StripeError(400, "The provided PaymentMethod %s is not attached to customer %s." % (pm, cid),
                          param="payment_method")
    confirm = want_bool(p.get("confirm", "false"), "confirm")
    off_session = want_bool(p.get("off_session", "false"), "off_session")
    if off_session and not confirm:
        raise invalid("off_session", "You can only pass `off_session` when `confirm` is true.")
    if not (confirm and off_session):
        raise StripeError(400, "fake_stripe: a recharge must be confirmed off-session (confirm=true, "
                          "off_session=true).")
    metadata = want_metadata(p.get("metadata", ""), "metadata")
    check_charge_metadata(metadata)
    m = STATE.take_mode("payment_mode")
    if pm in DECLINING_CARDS:
        m = {"mode": "decline"}
    if m["mode"] == "slow":
        time.sleep(m["delay_seconds"])
    pid = rand_id("pi_", 24)
    status = {"decline": "requires_payment_method", "processing": "processing"}.get(m["mode"], "succeeded")
    obj = payment_intent_object(pid, amount, currency, cid, pm, metadata, livemode, status)
    obj["_api_key_hash"] = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    obj["_idempotency_key"] = key
    with STATE.lock:
        STATE.payment_intents[pid] = obj
    if m["mode"] == "decline":
        err = StripeError(402, "Your card was declined.", "card_error", code="card_declined")
        raise err
    return 200, public(obj)


# GET /v1/payment_intents/{intent}: the query parameters Stripe's reference
# lists for it (creditd sends none).
PAYMENT_INTENT_GET_KEYS = ("client_secret", "expand")


def get_payment_intent(pid, api_key, raw_path):
    """GET /v1/payment_intents/{intent}: the PaymentIntent as it is now, if
    this key's account made it; Stripe's 404 resource_missing otherwise."""
    try:
        pairs = parse_qsl(urlsplit(raw_path).query, keep_blank_values=True, strict_parsing=False)
        params = nest(pairs)
    except ValueError as e:
        raise StripeError(400, "Invalid query string: %s" % e)
    check_keys(params, PAYMENT_INTENT_GET_KEYS, "")
    with STATE.lock:
        obj = STATE.payment_intents.get(pid)
    if obj is None or obj["_api_key_hash"] != hashlib.sha256(api_key.encode()).hexdigest()[:16]:
        raise StripeError(404, "No such payment_intent: '%s'" % pid, code="resource_missing", param="intent")
    return public(obj)


PAYMENT_INTENT_STATUSES = ("succeeded", "requires_payment_method", "canceled", "processing", "requires_action")


def set_payment_intent_status(pid, body):
    """POST /_payment_intents/<id>/status: what became of the PaymentIntent
    at the bank, with no event sent (a webhook lost)."""
    status = body.get("status")
    if status not in PAYMENT_INTENT_STATUSES:
        raise StripeError(400, "status must be one of %s" % ", ".join(PAYMENT_INTENT_STATUSES))
    with STATE.lock:
        obj = STATE.payment_intents.get(pid)
        if obj is None:
            raise StripeError(404, "No such payment_intent: '%s'" % pid, code="resource_missing")
        obj["status"] = status
        obj["amount_received"] = obj["amount"] if status == "succeeded" else 0
        obj["last_payment_error"] = None
        obj["canceled_at"] = int(time.time()) if status == "canceled" else None
        obj["cancellation_reason"] = "requested_by_customer" if status == "canceled" else None
        if status == "requires_payment_method":
            obj["last_payment_error"] = {"code": "card_declined", "decline_code": "insufficient_funds",
                                         "message": "Your card has insufficient funds.", "type": "card_error"}
        return public(obj)


def complete_session(sid, body):
    """Marks a session paid and builds the checkout.session.* event Stripe would send."""
    etype = body.get("type", "checkout.session.completed")
    status = body.get("payment_status", "paid")
    ts = body.get("timestamp", int(time.time()))
    secret = body.get("webhook_secret")
    if etype not in ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                     "checkout.session.async_payment_failed", "checkout.session.expired"):
        raise StripeError(400, "type must be a checkout.session.* event type")
    if status not in ("paid", "unpaid", "no_payment_required"):
        raise StripeError(400, "payment_status must be paid, unpaid or no_payment_required")
    if not isinstance(ts, int) or isinstance(ts, bool) or (secret is not None and not isinstance(secret, str)):
        raise StripeError(400, "timestamp must be an integer and webhook_secret a string")
    with STATE.lock:
        obj = STATE.sessions.get(sid)
        if obj is None:
            raise StripeError(404, "No such checkout.session: '%s'" % sid, code="resource_missing")
        obj["status"] = "expired" if etype == "checkout.session.expired" else "complete"
        obj["payment_status"] = status
        if status == "paid" and (obj.get("invoice_creation") or {}).get("enabled") and not obj.get("invoice"):
            # Stripe makes the invoice of a paid session that asked for one.
            obj["invoice"] = rand_id("in_", 24)
        obj["customer_details"] = {"address": None, "email": "test@example.com", "name": "Test Customer",
                                   "phone": None, "tax_exempt": "none", "tax_ids": []}
        obj["url"] = None
        session = public(obj)
    event = {"id": rand_id("evt_", 24), "object": "event", "api_version": API_VERSION, "created": ts,
             "data": {"object": session}, "livemode": session["livemode"], "pending_webhooks": 1,
             "request": {"id": None, "idempotency_key": None}, "type": etype}
    payload = json.dumps(event, indent=2)
    signature = None
    if secret:
        signature = sign_header({"payload": payload, "webhook_secret": secret, "timestamp": ts})
    out = {"event": event, "payload": payload, "signature": signature}
    pid = obj.get("_payment_intent_data") or {}
    if status == "paid" and session.get("payment_intent") and pid.get("setup_future_usage") == "off_session":
        # The card is kept for later: attached to the customer, and named
        # by the session's PaymentIntent, as Stripe does.
        pm = body.get("payment_method") or rand_id("pm_", 24)
        if not isinstance(pm, str) or not re.fullmatch(r"pm_[A-Za-z0-9_]{1,64}", pm):
            raise StripeError(400, "payment_method must be a pm_ id")
        with STATE.lock:
            STATE.payment_methods.setdefault((obj["_api_key_hash"], session["customer"]), set()).add(pm)
        pi = payment_intent_object(session["payment_intent"], session.get("amount_total"), session["currency"],
                                   session["customer"], pm, pid.get("metadata", {}), session["livemode"],
                                   "succeeded", "off_session")
        more = event_for("payment_intent.succeeded", pi, body)
        out.update({"payment_intent_event": more["event"], "payment_intent_payload": more["payload"],
                    "payment_intent_signature": more["signature"]})
    return out


def paid_session(sid):
    with STATE.lock:
        obj = STATE.sessions.get(sid)
        if obj is None:
            raise StripeError(404, "No such checkout.session: '%s'" % sid, code="resource_missing")
        if obj["status"] != "complete" or obj["payment_status"] != "paid" or not obj.get("payment_intent"):
            raise StripeError(400, "fake_stripe: the session is not paid yet (POST /_sessions/<id>/complete)")
        return obj


def session_charge_event(sid, body):
    """charge.succeeded / charge.updated of a paid session's charge: a
    Charge object as Stripe's API reference shapes it (receipt_url set; a
    charge.updated gets a new one unless the body names it)."""
    etype = body.get("type", "charge.succeeded")
    if etype not in ("charge.succeeded", "charge.updated"):
        raise StripeError(400, "type must be charge.succeeded or charge.updated")
    obj = paid_session(sid)
    with STATE.lock:
        charge = obj.setdefault("_charge", rand_id("ch_", 24))
    url = body.get("receipt_url", "https://pay.stripe.com/receipts/payment/" + rand_id("CAcaFwoV", 48) + "?s=ap")
    if url is not None and not isinstance(url, str):
        raise StripeError(400, "receipt_url must be a string or null")
    amount = obj.get("amount_total") or 0
    pid = obj.get("_payment_intent_data") or {}
    ch = {"id": charge, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
          "application_fee_amount": None, "balance_transaction": rand_id("txn_", 24),
          "billing_details": {"address": None, "email": "test@example.com", "name": "Test Customer",
                              "phone": None},
          "calculated_statement_descriptor": "CREDITD", "captured": True, "created": int(time.time()),
          "currency": obj["currency"], "customer": obj.get("customer"), "description": None, "disputed": False,
          "failure_code": None, "failure_message": None, "invoice": obj.get("invoice"), "livemode": obj["livemode"],
          "metadata": pid.get("metadata", {}), "outcome": {"network_status": "approved_by_network",
                                                           "risk_level": "normal", "seller_message":
                                                           "Payment complete.", "type": "authorized"},
          "paid": True, "payment_intent": obj["payment_intent"], "payment_method": rand_id("pm_", 24),
          "receipt_email": None, "receipt_number": None, "receipt_url": url, "refunded": False,
          "refunds": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                      "url": "/v1/charges/%s/refunds" % charge},
          "status": "succeeded"}
    return event_for(etype, ch, body)


def session_invoice_event(sid, body):
    """invoice.finalized / invoice.paid of the invoice a paid session made
    (invoice_creation[enabled]=true): an Invoice object as Stripe's API
    reference shapes it, with hosted_invoice_url and invoice_pdf."""
    etype = body.get("type", "invoice.paid")
    if etype not in ("invoice.paid", "invoice.finalized"):
        raise StripeError(400, "type must be invoice.paid or invoice.finalized")
    obj = paid_session(sid)
    if not obj.get("invoice"):
        raise StripeError(400, "fake_stripe: the session made no invoice (invoice_creation[enabled]=true)")
    inv = obj["invoice"]
    now = int(time.time())
    amount = obj.get("amount_total") or 0
    paid = etype == "invoice.paid"
    token = obj.setdefault("_invoice_token", rand_id("test_", 40))
    hosted = body.get("hosted_invoice_url", "https://invoice.stripe.com/i/acct_1Fake/" + token + "?s=ap")
    pdf = body.get("invoice_pdf", "https://pay.stripe.com/invoice/acct_1Fake/" + token + "/pdf?s=ap")
    line = {"id": rand_id("il_", 24), "object": "line_item", "amount": amount, "currency": obj["currency"],
            "description": (obj["_line_items"][0].get("price_data", {}).get("product_data", {}).get("name")
                            if obj["_line_items"] else None),
            "invoice": inv, "livemode": obj["livemode"], "metadata": {}, "period": {"start": now, "end": now},
            "quantity": 1, "subscription": None, "type": "invoiceitem"}
    invoice = {"id": inv, "object": "invoice", "account_country": "DE", "amount_due": amount,
               "amount_paid": amount if paid else 0, "amount_remaining": 0 if paid else amount,
               "attempt_count": 1 if paid else 0, "attempted": paid, "billing_reason": "manual",
               "charge": obj.get("_charge"), "collection_method": "charge_automatically", "created": now,
               "currency": obj["currency"], "customer": obj.get("customer"), "description": None,
               "hosted_invoice_url": hosted, "invoice_pdf": pdf,
               "lines": {"object": "list", "data": [line], "has_more": False, "total_count": 1,
                         "url": "/v1/invoices/%s/lines" % inv},
               "livemode": obj["livemode"], "metadata": {}, "number": "FAKE-" + inv[-6:].upper(),
               "paid": paid, "payment_intent": obj["payment_intent"], "period_end": now, "period_start": now,
               "status": "paid" if paid else "open", "subscription": None, "subtotal": amount, "total": amount}
    return event_for(etype, invoice, body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        log("connection error from %s:\n%s", client_address, traceback.format_exc())


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="Local stand-in for Stripe's HTTP API (tests only).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the chosen port to this file")
    ap.add_argument("--secret-key", help="accept only this API key (default: any sk_test_/sk_live_ key)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args()
    OPTIONS.verbose = args.verbose
    OPTIONS.secret_key = args.secret_key
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    log("listening on http://%s:%d", args.host, port)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
