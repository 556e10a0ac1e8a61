#!/usr/bin/python3
"""fake_stripe.py: a local stand-in for the parts of Stripe's HTTP API that
creditd uses (POST /v1/customers, POST /v1/checkout/sessions, POST
/v1/payment_intents for off-session charges of a saved card and POST
/v1/payment_intents/<id>/cancel, and GETs of them: GET /v1/customers/<id>,
/v1/checkout/sessions/<id> and /v1/payment_intents/<id>, 404
resource_missing for another key's), for integration tests.

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

Control endpoints (no auth, not Stripe's: /_requests, /_reset, /_mode,
/_sessions/..., /_payment_intents/..., /_sign): tests/fake_stripe.md.
The request parsing and value checks are in fake_stripe_form.py, the
customers, Checkout Sessions and PaymentIntent objects in
fake_stripe_objects.py.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from fake_stripe_form import (StripeError, check_keys, invalid, listify, missing, nest, parse_form, rand_id,
                              want_bool, want_int, want_metadata, want_str)
from fake_stripe_objects import (DECLINING_CARDS, MIN_CHARGE, cancel_intent, check_charge_metadata, customer_object,
                                 payment_intent_object, public, session_object, validate_customer, validate_session,
                                 want_currency)

API_VERSION = "2024-06-20"
BODY_MAX = 1024 * 1024
MODES = ("ok", "slow", "fail500", "close", "garbage", "huge")
PAYMENT_MODES = ("ok", "decline", "slow", "processing")
CANCEL_PATH = re.compile(r"/v1/payment_intents/([^/]+)/cancel")
PAYMENT_INTENT_KEYS = ("amount", "currency", "customer", "payment_method", "off_session", "confirm", "metadata",
                       "description", "receipt_email", "statement_descriptor_suffix")


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
            self.mode = {"mode": "ok", "delay_seconds": 0, "count": None, "path": None}
            self.payment_mode = {"mode": "ok", "delay_seconds": 0, "count": None, "path": None}
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

    def take_mode(self, attr="mode", path=None):
        """The mode (attr: "mode" for every /v1 request, or those to its
        "path" alone when it names one, "payment_mode" for POST
        /v1/payment_intents) for this request at path, counting down a
        limited one."""
        with self.lock:
            mode = getattr(self, attr)
            if mode.get("path") is not None and path != mode["path"]:
                return {"mode": "ok", "delay_seconds": 0, "count": None, "path": None}
            m = dict(mode)
            if m["mode"] != "ok" and m["count"] is not None:
                mode["count"] -= 1
                if mode["count"] <= 0:
                    setattr(self, attr, {"mode": "ok", "delay_seconds": 0, "count": None, "path": None})
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

    def apply_mode(self, path):
        """Returns an answer tuple for failure modes, None to go on."""
        m = STATE.take_mode(path=path)
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
        failure = self.apply_mode(path)
        if failure is not None:
            return failure
        api_key = self.check_auth()
        livemode = api_key.startswith("sk_live_")
        if self.command == "GET":
            return self.api_get(path, api_key)
        if self.command != "POST" or (path not in ("/v1/customers", "/v1/checkout/sessions", "/v1/payment_intents")
                                      and not CANCEL_PATH.fullmatch(path)):
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
        m = CANCEL_PATH.fullmatch(path)
        if m:
            return cancel_payment_intent(m.group(1), params, api_key)
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
            path = body.get("path")
            if mode not in modes:
                raise StripeError(400, "mode must be one of %s" % ", ".join(modes))
            if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= 600:
                raise StripeError(400, "delay_seconds must be a number from 0 to 600")
            if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
                raise StripeError(400, "count must be a positive integer")
            if path is not None and (attr != "mode" or not isinstance(path, str) or not path.startswith("/v1/")):
                raise StripeError(400, "path (of /_mode only) must be a /v1/... path")
            with STATE.lock:
                setattr(STATE, attr, {"mode": mode, "delay_seconds": delay, "count": count, "path": path})
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
    if m.get("delay_seconds"):
        time.sleep(m["delay_seconds"])      # slow, or any answer given late
    pid = rand_id("pi_", 24)
    status = {"decline": "requires_payment_method", "processing": "processing"}.get(m["mode"], "succeeded")
    obj = payment_intent_object(pid, amount, currency, cid, pm, metadata, livemode, status)
    obj["_api_key_hash"] = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    obj["_idempotency_key"] = key
    with STATE.lock:
        STATE.payment_intents[pid] = obj
    if m["mode"] == "decline":
        obj["last_payment_error"] = {"code": "card_declined", "decline_code": "generic_decline",
                                     "message": "Your card was declined.", "type": "card_error"}
        # Stripe's card error names the PaymentIntent it made: open, its
        # card to be replaced or authenticated (requires_payment_method).
        raise StripeError(402, "Your card was declined.", "card_error", code="card_declined",
                          payment_intent=public(obj))
    return 200, public(obj)


def cancel_payment_intent(pid, p, api_key):
    """POST /v1/payment_intents/{intent}/cancel, if this key's account made it."""
    with STATE.lock:
        obj = STATE.payment_intents.get(pid)
        if obj is None or obj["_api_key_hash"] != hashlib.sha256(api_key.encode()).hexdigest()[:16]:
            raise StripeError(404, "No such payment_intent: '%s'" % pid, code="resource_missing", param="intent")
        return 200, cancel_intent(obj, p)


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
