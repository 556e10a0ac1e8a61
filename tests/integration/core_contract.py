"""core_contract.py: what test_97_core_contract*.py share to check the
ledger's contract from outside (docs/api.md, docs/creditctl.md): the error
shape, the account's money figures a refusal must leave as they were, the
price of a call as docs/api.md "Costs" states it, Stripe events signed as
Stripe signs them."""
import hashlib
import hmac
import json
import os
import time
import urllib.parse

from lib import ENV, api, check, creditctl, eq, uid

# docs/api.md "Errors": the type each status carries.
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 409: "conflict_error",
               402: "insufficient_quota", 413: "invalid_request_error", 415: "invalid_request_error",
               502: "api_error", 503: "api_error"}
BONUS = 10000000   # signup_bonus_micros of the stack (docs/configuration.md; DESIGN's seed value)
HOOK = "/v1/webhooks/stripe"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---- helpers ----

def path(acct, tail=""):
    return "/v1/accounts/" + urllib.parse.quote(acct, safe="") + tail


def err(r, status, code=None, param="-", what=""):
    """An error in docs/api.md's shape: {"error": {type, code, message, param}}."""
    eq(r.status, status, "%s: status (%r)" % (what, r))
    check(r.headers.get("content-type", "").startswith("application/json"), "%s: JSON error: %r" % (what, r.headers))
    check(isinstance(r.json, dict) and isinstance(r.json.get("error"), dict), "%s: error object: %r" % (what, r))
    e = r.json["error"]
    for k in ("type", "code", "message", "param"):
        check(k in e, "%s: error member %s: %r" % (what, k, r.json))
    if status in ERROR_TYPES:
        eq(e["type"], ERROR_TYPES[status], "%s: type for %d" % (what, status))
    if code is not None:
        eq(e["code"], code, "%s: code" % what)
    if param != "-":
        eq(e["param"], param, "%s: param" % what)
    check(isinstance(e["message"], str) and e["message"], "%s: a message" % what)
    return e


def get(acct):
    r = api("GET", path(acct), auth="read")
    eq(r.status, 200, "GET account %s: %r" % (acct, r))
    return r.json


def txns(acct, limit=200):
    r = api("GET", path(acct, "/transactions?limit=%d" % limit), auth="read")
    eq(r.status, 200, "transactions: %r" % r)
    return r.json["data"]


def state(acct):
    """What a refusal must not change: the money figures and the journal."""
    a = get(acct)
    return ({k: a[k] for k in ("balance_micros", "reserved_micros", "available_micros", "month_spent_micros",
                               "status")}, [t["id"] for t in txns(acct)], sorted(g["id"] for g in a["grants"]))


def prices():
    r = api("GET", "/v1/models", auth="read")
    eq(r.status, 200, "GET /v1/models")
    return r.json


def cost(model, inp, out, cached=0):
    """docs/api.md "Costs" (DESIGN §3): ceil of the token cost with the margin."""
    m = prices()
    row = [x for x in m["data"] if x["model"] == model and x.get("provider") is None][0]
    num = ((inp - cached) * row["input_micros_per_mtok"] + cached * row["cached_input_micros_per_mtok"] +
           out * row["output_micros_per_mtok"]) * m["margin_bps"]
    return -(-num // (10 ** 6 * 10 ** 4))


def authorize(acct, auth="guard", **fields):
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 1000,
            "request_id": uid("req")}
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    return api("POST", "/v1/guard/authorize", body, auth=auth)


def hold(acct, **fields):
    r = authorize(acct, **fields)
    eq(r.status, 200, "authorize: %r" % r)
    return r.json


def refused_unchanged(acct, fn, status, code=None, param="-", what=""):
    """fn() is refused with status/code/param and changes nothing."""
    before = state(acct)
    e = err(fn(), status, code, param, what)
    eq(state(acct), before, "%s: the ledger untouched" % what)
    return e


def sign(payload, secret=None, t=None):
    t = int(time.time()) if t is None else t
    secret = (secret or ENV["CREDITD_WEBHOOK_SECRET"]).encode()
    return "t=%d,v1=%s" % (t, hmac.new(secret, ("%d." % t).encode() + payload, hashlib.sha256).hexdigest())


def hook(payload, header):
    h = {} if header is None else {"Stripe-Signature": header}
    return api("POST", HOOK, raw=payload, auth=None, headers=h)


def stripe_session(sid):
    r = api("GET", "/_sessions/" + sid, auth=None, base=ENV["CREDITD_STRIPE_API_BASE"])
    eq(r.status, 200, "the Stripe stand-in's session %s" % sid)
    return {k: v for k, v in r.json.items() if not k.startswith("_")}


def checkout_event(sid, eid=None, **changes):
    obj = stripe_session(sid)
    obj.update({"status": "complete", "payment_status": "paid"})
    obj.update(changes)
    return json.dumps({"id": eid or uid("evt"), "object": "event", "api_version": "2024-06-20",
                       "created": int(time.time()), "data": {"object": obj}, "livemode": False,
                       "type": "checkout.session.completed"}).encode()


def ctl(*args):
    return creditctl(*args, check_rc=False)


def event(etype, obj):
    return json.dumps({"id": uid("evt"), "object": "event", "type": etype, "created": int(time.time()),
                       "data": {"object": obj}}).encode()


def send(payload):
    r = hook(payload, sign(payload))
    eq(r.status, 200, "webhook: %r" % r)
    return r.json
