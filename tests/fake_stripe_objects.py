"""fake_stripe_objects.py: the Stripe stand-in's customers and Checkout
Sessions (fake_stripe.py): what a create request may carry, checked against
Stripe's API reference (parameters, nesting, amounts per currency,
invoice_creation, payment_intent_data), and the objects Stripe answers
with."""

import re
import secrets
import string
import time

from fake_stripe_form import (StripeError, check_keys, exclusive, invalid, missing, rand_id, shallow, sub, want_bool,
                              want_dict, want_email, want_enabled, want_enum, want_int, want_list, want_metadata,
                              want_str, want_url)

# Stripe's minimum charge per currency (smallest unit) for the ones we know.
MIN_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "jpy": 50}
AMOUNT_MAX = 99999999

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


# ---- payment intents ----------------------------------------------------------

def payment_intent_object(pid, amount, currency, customer, pm, metadata, livemode, status, sfu=None):
    return {"id": pid, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": amount if status == "succeeded" else 0, "canceled_at": None,
            "cancellation_reason": None, "capture_method": "automatic",
            "confirmation_method": "automatic", "created": int(time.time()), "currency": currency,
            "customer": customer, "description": None, "last_payment_error": None, "livemode": livemode,
            "metadata": metadata, "payment_method": pm, "payment_method_types": ["card"],
            "setup_future_usage": sfu, "status": status}


# POST /v1/payment_intents/{intent}/cancel: Stripe's parameters, its
# reasons, and the statuses from which a PaymentIntent may be cancelled.
PAYMENT_INTENT_CANCEL_KEYS = ("cancellation_reason", "expand")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action",
              "processing")


def cancel_intent(obj, p):
    """Cancels the PaymentIntent obj (held under the caller's lock) with
    parameters p as Stripe does: canceled, with canceled_at and the reason
    given, when its status allows; Stripe's 400
    payment_intent_unexpected_state, naming the PaymentIntent, otherwise
    (one that succeeded, or was cancelled already). Returns it public."""
    check_keys(p, PAYMENT_INTENT_CANCEL_KEYS, "")
    reason = p.get("cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise invalid("cancellation_reason", "Invalid cancellation_reason: must be one of %s"
                      % ", ".join(CANCELLATION_REASONS))
    if obj["status"] not in CANCELABLE:
        raise StripeError(400, "You cannot cancel this PaymentIntent because it has a status of %s. Only a "
                          "PaymentIntent with one of the following statuses may be canceled: %s."
                          % (obj["status"], ", ".join(CANCELABLE)), code="payment_intent_unexpected_state",
                          payment_intent=public(obj))
    obj.update({"status": "canceled", "canceled_at": int(time.time()), "cancellation_reason": reason,
                "amount_received": 0})
    return public(obj)


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
