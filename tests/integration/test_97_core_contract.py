"""test_97_core_contract.py: the ledger's HTTP and creditctl contract
checked from outside, as an app's developer or an operator meets it:
plain HTTP through nginx and creditctl's exit codes, against what
docs/api.md, docs/openapi.yaml, docs/creditctl.md and docs/operations.md
promise (the product contract: routes, fields, status and error codes,
exit codes). Broad rather than deep: accounts, grants, debits, the
journal, the guard (authorize, settle, release, expiry, idempotency),
POST /v1/usage, plans, members, promo codes, referrals, top-ups and the
Stripe webhook, browser tokens and /v1/me, keys and scopes, /healthz,
/metrics, the widget script and creditctl. Every refusal is checked
twice: its error shape and code, and the ledger left as it was.

A test marked @known_discrepancy documents a place where creditd answers
otherwise than the docs say: it is expected to fail (and fails this file
if it starts to pass, so that the mark is taken off)."""
import functools
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import unittest
import urllib.parse

from lib import ENV, Fail, api, check, creditctl, eq, new_account, parallel, uid, verify, wait_until

# docs/api.md "Errors": the type each status carries.
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 409: "conflict_error",
               402: "insufficient_quota", 413: "invalid_request_error", 415: "invalid_request_error",
               502: "api_error", 503: "api_error"}
BONUS = 10000000   # signup_bonus_micros of the stack (docs/configuration.md; DESIGN's seed value)
HOOK = "/v1/webhooks/stripe"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def known_discrepancy(why):
    """Marks a test that fails because creditd disagrees with its docs
    (`why` says where). unittest's expectedFailure mark, honoured by this
    suite's runner: the failure passes, an unexpected success fails."""
    def wrap(fn):
        @functools.wraps(fn)
        def run():
            try:
                fn()
            except Fail:
                return
            raise Fail("unexpected success (take the known_discrepancy mark off): " + why)
        return unittest.expectedFailure(run)
    return wrap


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


# ---- the stack's environment, health, metrics ----

def test_stack_env_names_what_the_docs_name():
    for k in ("CREDITD_URL", "CREDITD_ADMIN_KEY", "CREDITD_GUARD_KEY", "CREDITD_READ_KEY", "CREDITD_APP_KEY",
              "CREDITD_WEBHOOK_SECRET", "CREDITD_CONFIG"):
        check(ENV.get(k), "the stack's env names %s" % k)


def test_healthz_get_head_and_405():
    r = api("GET", "/healthz", auth=None)
    eq((r.status, r.json), (200, {"status": "ok"}), "GET /healthz")
    r = api("HEAD", "/healthz", auth=None)
    eq((r.status, r.raw), (200, b""), "HEAD /healthz: no body")
    r = api("POST", "/healthz", {}, auth=None)
    err(r, 405, "method_not_allowed", what="POST /healthz")
    check("GET" in r.headers.get("allow", ""), "405 names the methods in Allow: %r" % r.headers)


def test_metrics_prometheus_text():
    api("GET", "/healthz", auth=None)
    r = api("GET", "/metrics", auth=None)
    eq(r.status, 200, "GET /metrics")
    check(r.headers.get("content-type", "").startswith("text/plain"), "Prometheus text: %r" % r.headers)
    text = r.raw.decode()
    for name in ("creditd_build_info{", "creditd_db_up", "creditd_request_duration_seconds_bucket",
                 "creditd_outbox_pending", "# TYPE "):
        check(name in text, "/metrics has %s" % name)


def test_unknown_route_and_method():
    err(api("GET", "/v1/nothing-here", auth="admin"), 404, "not_found", what="unknown route")
    r = api("DELETE", "/v1/accounts", auth="admin")
    err(r, 405, "method_not_allowed", what="DELETE /v1/accounts")
    check("POST" in r.headers.get("allow", ""), "Allow: %r" % r.headers)
    r = api("HEAD", path(new_account("head")), auth="read")
    eq((r.status, r.raw), (200, b""), "HEAD on a GET route")


# ---- keys and scopes ----

def test_no_key_and_bad_key_are_401_with_www_authenticate():
    r = api("GET", "/v1/models", auth=None)
    err(r, 401, "unauthorized", what="no key")
    check(r.headers.get("www-authenticate", "").startswith('Bearer realm="creditd"'), "WWW-Authenticate: %r" % r.headers)
    check("invalid_token" not in r.headers.get("www-authenticate", ""), "no credential: no invalid_token")
    r = api("GET", "/v1/models", auth="crd_" + "0" * 64)
    err(r, 401, "unauthorized", what="wrong key")
    check('error="invalid_token"' in r.headers.get("www-authenticate", ""), "sent a credential: %r" % r.headers)


def test_scopes():
    acct = new_account("scope")
    before = state(acct)
    err(api("POST", "/v1/accounts", {"id": uid(), "kind": "user"}, auth="read"), 403, "forbidden", what="read creates")
    err(api("POST", "/v1/accounts", {"id": uid(), "kind": "user"}, auth="guard"), 403, "forbidden", what="guard creates")
    err(api("GET", path(acct), auth="guard"), 403, "forbidden", what="guard reads an account")
    err(authorize(acct, auth="read"), 403, "forbidden", what="read authorizes")
    err(api("POST", path(acct, "/grants"), {"amount_micros": 1, "source": "promo"}, auth="app"), 403, "forbidden",
        what="app grants")
    err(api("GET", "/v1/events", auth="read"), 403, "forbidden", what="read pulls events")
    for tail, body in (("/topup", {"amount_cents": 1000}), ("/redeem", {"code": "NOPE-NOPE"}),
                       ("/browser_tokens", {})):
        err(api("POST", path(acct, tail), body, auth="read"), 403, "forbidden", what="read on " + tail)
    eq(state(acct), before, "nothing changed")


def test_creditctl_key_create_list_revoke_and_bound_key():
    a, b = new_account("bound"), new_account("other")
    name = uid("probe-bound")
    p = creditctl("key", "create", "--scope", "read", "--account", a, "--name", name)
    k = p.stdout.strip().splitlines()[-1]
    check(k.startswith("crd_"), "the new key alone on the last line: %r" % p.stdout)
    eq(api("GET", path(a), auth=k).status, 200, "a bound key reads its account")
    err(api("GET", path(b), auth=k), 404, "not_found", what="a bound key on another account")
    err(api("GET", path(uid()), auth=k), 404, "not_found", what="a bound key on an unknown account")
    listing = ctl("key", "list")
    eq(listing.returncode, 0, "key list")
    check(k not in listing.stdout and k[4:] not in listing.stdout, "key list never shows the secret")
    line = [x for x in listing.stdout.splitlines() if name in x]
    eq(len(line), 1, "key list shows the key: %s" % listing.stdout[-500:])
    check(a in line[0] and "read" in line[0], "its scope and binding: %r" % line[0])
    eq(ctl("key", "create", "--scope", "admin", "--account", a).returncode, 2, "an admin key cannot be bound")
    eq(ctl("key", "create", "--scope", "read", "--account", uid()).returncode, 1, "bound to an unknown account")
    eq(ctl("key", "create", "--scope", "gateway").returncode, 2, "no gateway key from creditctl")
    eq(ctl("key", "create", "--scope", "nonsense").returncode, 2, "a bad scope")
    kid = line[0].split()[0]
    eq(ctl("key", "revoke", kid).returncode, 0, "key revoke")
    time.sleep(1.2)
    err(api("GET", path(a), auth=k), 401, "unauthorized", what="a revoked key")


# ---- accounts ----

def test_account_create_get_replay_conflict():
    aid = uid("acc")
    body = {"id": aid, "kind": "user", "monthly_limit_micros": 50000000}
    r = api("POST", "/v1/accounts", body)
    eq(r.status, 201, "create: %r" % r)
    eq(r.json["id"], aid, "the account answered")
    a = get(aid)
    for k in ("id", "kind", "status", "status_reason", "currency", "balance_micros", "reserved_micros",
              "available_micros", "month_spent_micros", "monthly_limit_micros", "overdraft_limit_micros",
              "low_balance_micros", "plan", "grants", "period_start", "period_end", "collection",
              "daily_limit_micros", "day_spent_micros", "created_at"):
        check(k in a, "GET account has %s: %r" % (k, sorted(a)))
    eq((a["kind"], a["status"], a["status_reason"], a["currency"]), ("user", "active", None, "EUR"), "fields")
    eq((a["balance_micros"], a["reserved_micros"], a["available_micros"]), (BONUS, 0, BONUS), "signup bonus")
    eq(a["monthly_limit_micros"], 50000000, "the limit")
    eq([(g["source"], g["remaining_micros"]) for g in a["grants"]], [("signup_bonus", BONUS)], "one bonus grant")
    for g in a["grants"]:
        check(set(g) >= {"id", "source", "remaining_micros", "priority", "expires_at"}, "grant fields: %r" % g)
    r = api("POST", "/v1/accounts", body)
    eq(r.status, 200, "the same body again: %r" % r)
    eq(get(aid)["balance_micros"], BONUS, "the bonus once")
    refused_unchanged(aid, lambda: api("POST", "/v1/accounts", dict(body, kind="workspace")), 409, "conflict",
                      what="same id, another body")
    err(api("GET", path(uid()), auth="read"), 404, "not_found", what="unknown account")


def test_account_create_refusals():
    def bad(body, param, status=400, code="invalid_request"):
        aid = body.get("id") if isinstance(body.get("id"), str) else None
        r = api("POST", "/v1/accounts", body)
        err(r, status, code, param, what="create %r" % (body,))
        if aid:
            check(api("GET", path(aid), auth="read").status in (400, 404), "nothing created for %r" % (body,))
    bad({"kind": "user"}, "id")
    bad({"id": uid(), "kind": "robot"}, "kind")
    bad({"id": uid(), "kind": "user", "balance_micros": 5}, "balance_micros")
    bad({"id": uid(), "kind": "user", "overdraft_limit_micros": -1}, "overdraft_limit_micros")
    bad({"id": uid(), "kind": "user", "overdraft_limit_micros": 1.5}, "overdraft_limit_micros")
    bad({"id": uid(), "kind": "user", "monthly_limit_micros": "100"}, "monthly_limit_micros")
    bad({"id": uid(), "kind": "user", "monthly_limit_micros": 2 ** 64}, "monthly_limit_micros")
    bad({"id": "x" * 129, "kind": "user"}, "id")
    bad({"id": 42, "kind": "user"}, "id")
    bad({"id": uid(), "kind": "user", "plan": "no-such-plan-" + uid()}, "plan")
    bad({"id": uid(), "kind": "user", "referral_code": "zzzzzzzzzz"}, "referral_code")
    aid = uid()
    err(api("POST", "/v1/accounts", raw=b'{"id": "' + aid.encode() + b'", "kind": '), 400, "invalid_request",
        what="malformed JSON")
    err(api("POST", "/v1/accounts", raw=b'[1, 2]'), 400, "invalid_request", what="a JSON array")
    r = api("POST", "/v1/accounts", raw=json.dumps({"id": aid, "kind": "user"}).encode(),
            headers={"Content-Type": "text/plain"})
    err(r, 415, "unsupported_media_type", what="text/plain")
    r = api("POST", "/v1/accounts", raw=json.dumps({"id": aid, "kind": "user"}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    err(r, 415, "unsupported_media_type", what="a form")
    eq(api("GET", path(aid), auth="read").status, 404, "nothing created")
    r = api("POST", "/v1/accounts", {"id": aid, "kind": "user"}, headers={"Content-Type": "application/json; charset=utf-8"})
    eq(r.status, 201, "charset is fine: %r" % r)


def test_account_create_without_content_type_is_accepted():
    aid = uid()
    r = api("POST", "/v1/accounts", raw=json.dumps({"id": aid, "kind": "user"}).encode(), headers={"Content-Type": ""})
    eq(r.status, 201, "no Content-Type is accepted: %r" % r)


def test_payload_too_large_is_413():
    aid = uid()
    r = api("POST", "/v1/accounts", {"id": aid, "kind": "user", "pad": "x" * 70000})
    err(r, 413, "payload_too_large", what="a body over 64 KiB")
    eq(api("GET", path(aid), auth="read").status, 404, "nothing created")


def test_patch_suspend_resume_and_refusals():
    acct = new_account("patch")
    r = api("PATCH", path(acct), {"status": "suspended"})
    eq(r.status, 200, "suspend: %r" % r)
    a = get(acct)
    eq((a["status"], a["status_reason"]), ("suspended", "manual"), "suspended by an admin")
    e = refused_unchanged(acct, lambda: authorize(acct), 403, "account_suspended", what="authorize, suspended")
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10})
    err(r, 403, "account_suspended", what="usage, suspended")
    eq(api("PATCH", path(acct), {"status": "active"}).status, 200, "resume")
    a = get(acct)
    eq((a["status"], a["status_reason"]), ("active", None), "active again")
    refused_unchanged(acct, lambda: api("PATCH", path(acct), {"status": "frozen"}), 400, "invalid_request", "status",
                      what="a bad status")
    refused_unchanged(acct, lambda: api("PATCH", path(acct), {"balance_micros": 1}), 400, "invalid_request",
                      "balance_micros", what="mass assignment")
    refused_unchanged(acct, lambda: api("PATCH", path(acct), {"plan": "nope-" + uid()}), 400, "invalid_request",
                      "plan", what="an unknown plan")
    refused_unchanged(acct, lambda: api("PATCH", path(acct), {"email": "not an email"}), 400, "invalid_request",
                      "email", what="a bad email")
    refused_unchanged(acct, lambda: api("PATCH", path(acct), {"monthly_limit_micros": 1}, auth="read"), 403,
                      "forbidden", what="read patches")
    err(api("PATCH", path(uid()), {"status": "active"}), 404, "not_found", what="unknown account")
    eq(api("PATCH", path(acct), {"monthly_limit_micros": 1000, "low_balance_micros": 5}).status, 200, "limits")
    eq(api("PATCH", path(acct), {"monthly_limit_micros": None}).status, 200, "null removes a limit")
    eq(get(acct)["monthly_limit_micros"], None, "removed")
    eq(api("PATCH", path(acct), {"status": "closed"}).status, 200, "close")
    refused_unchanged(acct, lambda: authorize(acct), 403, "account_suspended", what="authorize, closed")


# ---- grants, debits, journal ----

def test_grant_debit_and_journal():
    acct = new_account("grant")
    r = api("POST", path(acct, "/grants"), {"amount_micros": 2000000, "source": "promo",
                                            "expires_at": "2099-01-01T00:00:00Z", "description": "probe"})
    eq(r.status, 201, "grant: %r" % r)
    eq(get(acct)["balance_micros"], BONUS + 2000000, "credited")
    r = api("POST", path(acct, "/debits"), {"amount_micros": 500000, "reason": "duplicate promo"})
    check(r.status in (200, 201), "debit: %r" % r)
    eq(get(acct)["balance_micros"], BONUS + 1500000, "debited")
    page = api("GET", path(acct, "/transactions"), auth="read").json
    check(set(page) >= {"data", "next_cursor"}, "page: %r" % sorted(page))
    eq(page["next_cursor"], None, "the last page")
    rows = page["data"]
    eq([(t["amount_micros"], t["cause"]) for t in rows], [(-500000, "adjustment"), (2000000, "grant"),
                                                           (BONUS, "grant")], "newest first")
    eq([t["balance_after_micros"] for t in rows], [BONUS + 1500000, BONUS + 2000000, BONUS], "the chain")
    for t in rows:
        check(set(t) >= {"id", "amount_micros", "balance_after_micros", "cause", "source", "reference",
                         "description", "created_at", "usage"}, "journal row: %r" % sorted(t))
        check(t["created_at"].endswith("Z") and "T" in t["created_at"], "RFC 3339 UTC: %r" % t["created_at"])
    one = api("GET", path(acct, "/transactions?limit=1"), auth="read").json
    eq(len(one["data"]), 1, "limit=1")
    check(one["next_cursor"], "a next page")
    two = api("GET", path(acct, "/transactions?limit=1&cursor=" + urllib.parse.quote(str(one["next_cursor"]))),
              auth="read").json
    eq(two["data"][0]["id"], rows[1]["id"], "the cursor pages on")
    for q in ("limit=0", "limit=201", "limit=abc"):
        err(api("GET", path(acct, "/transactions?" + q), auth="read"), 400, "invalid_request", "limit", what=q)
    err(api("GET", path(uid(), "/transactions"), auth="read"), 404, "not_found", what="unknown account")


def test_grant_refusals_change_nothing():
    acct = new_account("grantbad")
    g = path(acct, "/grants")
    for body, param in (({"amount_micros": 0, "source": "promo"}, "amount_micros"),
                        ({"amount_micros": -5, "source": "promo"}, "amount_micros"),
                        ({"amount_micros": 1.5, "source": "promo"}, "amount_micros"),
                        ({"amount_micros": "5", "source": "promo"}, "amount_micros"),
                        ({"amount_micros": 10 ** 12 + 1, "source": "promo"}, "amount_micros"),
                        ({"amount_micros": 2 ** 63, "source": "promo"}, "amount_micros"),
                        ({"source": "promo"}, "amount_micros"),
                        ({"amount_micros": 5, "source": "topup"}, "source"),
                        ({"amount_micros": 5}, "source"),
                        ({"amount_micros": 5, "source": "promo", "balance_micros": 9}, "balance_micros"),
                        ({"amount_micros": 5, "source": "promo", "expires_at": "tomorrow"}, "expires_at")):
        refused_unchanged(acct, lambda: api("POST", g, body), 400, "invalid_request", param, what="grant %r" % body)
    err(api("POST", path(uid(), "/grants"), {"amount_micros": 5, "source": "promo"}), 404, "not_found",
        what="grant to an unknown account")
    d = path(acct, "/debits")
    refused_unchanged(acct, lambda: api("POST", d, {"amount_micros": 0, "reason": "x"}), 400, "invalid_request",
                      "amount_micros", what="debit 0")
    refused_unchanged(acct, lambda: api("POST", d, {"amount_micros": BONUS + 1, "reason": "x"}), 402,
                      "insufficient_credits", what="debit beyond the available balance")
    verify()


def test_idempotency_key_on_grants():
    acct = new_account("idem")
    k = {"Idempotency-Key": uid("key")}
    r1 = api("POST", path(acct, "/grants"), {"amount_micros": 1000, "source": "adjustment"}, headers=k)
    r2 = api("POST", path(acct, "/grants"), {"amount_micros": 1000, "source": "adjustment"}, headers=k)
    eq((r1.status, r2.status), (201, 201), "the same key, the same body: the first answer")
    eq(r1.json, r2.json, "the same answer")
    eq(get(acct)["balance_micros"], BONUS + 1000, "one grant")
    refused_unchanged(acct, lambda: api("POST", path(acct, "/grants"), {"amount_micros": 2000, "source": "adjustment"},
                                        headers=k), 409, "conflict", what="the same key, another body")
    body = {"amount_micros": 700, "source": "adjustment", "idempotency_key": uid("fk")}
    eq(api("POST", path(acct, "/grants"), body).status, 201, "a key in the body")
    eq(api("POST", path(acct, "/grants"), body).status, 201, "again")
    eq(get(acct)["balance_micros"], BONUS + 1700, "once")


# ---- the guard ----

def test_authorize_settle_release_happy_path():
    acct = new_account("guard")
    want = cost("gpt-4o", 1000, 1000)
    rid = uid("req")
    h = hold(acct, request_id=rid)
    check(set(h) >= {"hold_id", "amount_micros", "available_micros", "expires_at", "max_output_tokens"}, "%r" % h)
    eq(h["amount_micros"], want, "the hold is the cost of input and max output")
    eq(h["available_micros"], BONUS - want, "available after the hold")
    eq(h["max_output_tokens"], 1000, "the output the hold covers")
    a = get(acct)
    eq((a["reserved_micros"], a["available_micros"], a["balance_micros"]), (want, BONUS - want, BONUS), "reserved")
    eq(hold(acct, request_id=rid)["hold_id"], h["hold_id"], "the same request_id: the same hold")
    eq(get(acct)["reserved_micros"], want, "never a second hold")
    r = api("GET", "/v1/holds/" + h["hold_id"], auth="read")
    eq((r.status, r.json["status"], r.json["held_micros"]), (200, "pending", want), "GET hold")
    s = {"hold_id": h["hold_id"], "input_tokens": 1000, "output_tokens": 300}
    r = api("POST", "/v1/guard/settle", s, auth="guard")
    eq(r.status, 200, "settle: %r" % r)
    charged = cost("gpt-4o", 1000, 300)
    check(set(r.json) >= {"hold_id", "charged_micros", "released_micros", "balance_micros", "late"}, "%r" % r.json)
    eq((r.json["charged_micros"], r.json["released_micros"], r.json["balance_micros"], r.json["late"]),
       (charged, want - charged, BONUS - charged, False), "settle figures")
    r2 = api("POST", "/v1/guard/settle", s, auth="guard")
    eq((r2.status, r2.json), (200, r.json), "settling again with the same body: the first result")
    refused_unchanged(acct, lambda: api("POST", "/v1/guard/settle", dict(s, output_tokens=301), auth="guard"), 409,
                      "conflict", what="settle again, another body")
    refused_unchanged(acct, lambda: api("POST", "/v1/guard/release", {"hold_id": h["hold_id"]}, auth="guard"), 409,
                      "conflict", what="release a settled hold")
    a = get(acct)
    eq((a["balance_micros"], a["reserved_micros"], a["month_spent_micros"]), (BONUS - charged, 0, charged), "after")
    usage_row = txns(acct)[0]
    eq((usage_row["cause"], usage_row["amount_micros"]), ("usage", -charged), "the usage journal row")
    eq(usage_row["usage"]["model"], "gpt-4o", "its usage record")
    h2 = hold(acct)
    r = api("POST", "/v1/guard/release", {"hold_id": h2["hold_id"]}, auth="guard")
    eq(r.status, 200, "release: %r" % r)
    eq(get(acct)["reserved_micros"], 0, "released")
    eq(api("POST", "/v1/guard/release", {"hold_id": h2["hold_id"]}, auth="guard").status, 200, "release again: 200")
    refused_unchanged(acct, lambda: api("POST", "/v1/guard/settle", {"hold_id": h2["hold_id"], "input_tokens": 1,
                                                                     "output_tokens": 1}, auth="guard"),
                      409, "conflict", what="settle a released hold")
    verify()


def test_authorize_refusals():
    acct = new_account("authbad")
    cases = (({"model": "no-such-model"}, "model"), ({"input_tokens": -1}, "input_tokens"),
             ({"input_tokens": 1.5}, "input_tokens"), ({"input_tokens": "10"}, "input_tokens"),
             ({"input_tokens": 10 ** 9 + 1}, "input_tokens"), ({"max_output_tokens": 16385}, "max_output_tokens"),
             ({"ttl_seconds": 0}, "ttl_seconds"), ({"ttl_seconds": 86401}, "ttl_seconds"),
             ({"request_id": None}, "request_id"), ({"model": None, "input_tokens": None}, "-"),
             ({"bogus_field": 1}, "bogus_field"), ({"request_id": "gw_" + uid()}, "request_id"))
    for fields, param in cases:
        refused_unchanged(acct, lambda: authorize(acct, **fields), 400, "invalid_request", param,
                          what="authorize %r" % (fields,))
    err(authorize(uid()), 404, "not_found", what="unknown account")
    e = refused_unchanged(acct, lambda: authorize(acct, input_tokens=4000000, max_output_tokens=16000), 402,
                          "insufficient_credits", what="more than available")
    check(e.get("available_micros") == BONUS and e.get("required_micros", 0) > BONUS,
          "a 402 carries available_micros and required_micros: %r" % e)
    r = api("POST", "/v1/guard/authorize", raw=b"{not json", auth="guard")
    err(r, 400, "invalid_request", what="bad JSON")


def test_monthly_and_daily_limits_are_429():
    acct = new_account("lim", monthly_limit_micros=5000)
    e = refused_unchanged(acct, lambda: authorize(acct), 429, "billing_hard_limit_reached", what="monthly")
    eq(e["type"], "insufficient_quota", "a spending limit is a quota")
    check("available_micros" in e and "required_micros" in e, "figures: %r" % e)
    acct = new_account("day", daily_limit_micros=5000)
    e = refused_unchanged(acct, lambda: authorize(acct), 429, "daily_limit_reached", what="daily")
    eq(e["type"], "insufficient_quota", "type")


def test_holds_count_toward_the_monthly_limit():
    acct = new_account("limh", monthly_limit_micros=cost("gpt-4o", 1000, 1000) + 10)
    hold(acct)
    refused_unchanged(acct, lambda: authorize(acct), 429, "billing_hard_limit_reached",
                      what="pending holds count toward the limit")


def test_settle_refusals():
    acct = new_account("setbad")
    h = hold(acct)
    s = {"hold_id": h["hold_id"], "input_tokens": 100, "output_tokens": 10}
    for fields, param in (({"cached_input_tokens": 101}, "cached_input_tokens"),
                          ({"input_tokens": -1}, "input_tokens"), ({"output_tokens": 2.5}, "output_tokens"),
                          ({"output_tokens": 10 ** 9 + 1}, "output_tokens"), ({"extra": True}, "extra"),
                          ({"hold_id": None}, "hold_id")):
        body = {k: v for k, v in dict(s, **fields).items() if v is not None}
        refused_unchanged(acct, lambda: api("POST", "/v1/guard/settle", body, auth="guard"), 400, "invalid_request",
                          param, what="settle %r" % (fields,))
    for hid in ("hold_" + "0" * 32, "nope"):
        err(api("POST", "/v1/guard/settle", dict(s, hold_id=hid), auth="guard"), 404, "not_found",
            what="settle unknown hold %s" % hid)
        err(api("POST", "/v1/guard/release", {"hold_id": hid}, auth="guard"), 404, "not_found",
            what="release unknown hold %s" % hid)
    err(api("GET", "/v1/holds/hold_" + "0" * 32, auth="read"), 404, "not_found", what="GET unknown hold")


def test_expired_hold_stops_counting_and_settles_late():
    acct = new_account("exp")
    h = hold(acct, ttl_seconds=1)
    time.sleep(2.2)
    a = get(acct)
    eq((a["reserved_micros"], a["available_micros"]), (0, BONUS), "an expired hold is not reserved")
    r = api("POST", "/v1/guard/settle", {"hold_id": h["hold_id"], "input_tokens": 1000, "output_tokens": 10},
            auth="guard")
    eq(r.status, 200, "late settle: %r" % r)
    eq((r.json["late"], r.json["charged_micros"]), (True, cost("gpt-4o", 1000, 10)), "charged, late")
    h2 = hold(acct, ttl_seconds=1)
    time.sleep(2.2)
    r = api("POST", "/v1/guard/release", {"hold_id": h2["hold_id"]}, auth="guard")
    eq(r.status, 200, "release of an expired hold: 200 with its state (%r)" % r)
    verify()


def test_byok_and_actions():
    acct = new_account("byok")
    h = hold(acct, byok=True)
    eq(h["amount_micros"], 0, "BYOK holds nothing")
    eq(get(acct)["reserved_micros"], 0, "nothing reserved")
    r = api("POST", "/v1/guard/settle", {"hold_id": h["hold_id"], "input_tokens": 500, "output_tokens": 500},
            auth="guard")
    eq((r.status, r.json["charged_micros"]), (200, 0), "a BYOK settle charges 0")
    act = [a for a in prices()["actions"]]
    check(act, "the stack prices an action")
    r = api("POST", "/v1/guard/authorize", {"account": acct, "action": act[0]["action"], "request_id": uid()},
            auth="guard")
    eq(r.status, 200, "an action hold: %r" % r)
    eq(r.json["amount_micros"], act[0]["price_micros"], "its price")
    r = api("POST", "/v1/guard/settle", {"hold_id": r.json["hold_id"], "input_tokens": 0, "output_tokens": 0},
            auth="guard")
    eq((r.status, r.json["charged_micros"]), (200, act[0]["price_micros"]), "an action settle")
    err(api("POST", "/v1/guard/authorize", {"account": acct, "action": "no-such-action", "request_id": uid()},
            auth="guard"), 400, "invalid_request", "action", what="unknown action")
    verify()


# ---- POST /v1/usage ----

def test_usage_charge_replay_refusals_and_force():
    acct = new_account("usage")
    rid = uid("u")
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 2000, "output_tokens": 500, "request_id": rid}
    r = api("POST", "/v1/usage", body, auth="guard")
    eq(r.status, 200, "usage: %r" % r)
    c = cost("gpt-4o", 2000, 500)
    check(set(r.json) >= {"usage_id", "account", "charged_micros", "balance_micros", "available_micros", "forced",
                          "replayed"}, "%r" % r.json)
    eq((r.json["charged_micros"], r.json["balance_micros"], r.json["forced"], r.json["replayed"]),
       (c, BONUS - c, False, False), "figures")
    r2 = api("POST", "/v1/usage", body, auth="guard")
    eq((r2.status, r2.json["replayed"], r2.json["usage_id"], r2.json["charged_micros"]),
       (200, True, r.json["usage_id"], c), "the same request_id: recorded once")
    eq(get(acct)["balance_micros"], BONUS - c, "charged once")
    big = {"account": acct, "model": "gpt-4o", "input_tokens": 4000000, "output_tokens": 0, "request_id": uid()}
    e = refused_unchanged(acct, lambda: api("POST", "/v1/usage", big, auth="guard"), 402, "insufficient_credits",
                          what="usage beyond the balance")
    check("available_micros" in e and "required_micros" in e, "figures: %r" % e)
    for fields, param in (({"model": "no-such-model"}, "model"), ({"output_tokens": -3}, "output_tokens"),
                          ({"cached_input_tokens": 3000}, "cached_input_tokens"), ({"junk": 1}, "junk"),
                          ({"request_id": "gw_x"}, "request_id")):
        b = dict(body, request_id=uid())
        b.update(fields)
        refused_unchanged(acct, lambda: api("POST", "/v1/usage", b, auth="guard"), 400, "invalid_request", param,
                          what="usage %r" % (fields,))
    err(api("POST", "/v1/usage", dict(body, account=uid(), request_id=uid()), auth="guard"), 404, "not_found",
        what="unknown account")
    r = api("POST", "/v1/usage", dict(big, force=True), auth="guard")
    eq((r.status, r.json.get("forced")), (200, True), "forced: %r" % r)
    check(get(acct)["balance_micros"] < 0, "forced below zero")
    eq(txns(acct)[0]["source"], "forced", "the forced row's source")
    verify()


# ---- usage reports and models ----

def test_usage_report_and_models():
    acct = new_account("rep")
    api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 20},
        auth="guard")
    for g in ("model", "day", "member"):
        r = api("GET", path(acct, "/usage?group_by=" + g), auth="read")
        eq(r.status, 200, "usage by %s: %r" % (g, r))
        check(set(r.json) >= {"data", "total", "group_by", "from", "to", "currency"}, "%r" % sorted(r.json))
        eq(r.json["total"]["requests"], 1, "one request")
    err(api("GET", path(acct, "/usage?group_by=colour"), auth="read"), 400, "invalid_request", "group_by",
        what="bad group_by")
    err(api("GET", path(acct, "/usage?from=yesterday"), auth="read"), 400, "invalid_request", "from", what="bad from")
    err(api("GET", path(uid(), "/usage"), auth="read"), 404, "not_found", what="unknown account")
    m = prices()
    check(set(m) >= {"margin_bps", "currency", "data", "actions"}, "models: %r" % sorted(m))
    for row in m["data"]:
        check(set(row) >= {"model", "input_micros_per_mtok", "cached_input_micros_per_mtok", "output_micros_per_mtok",
                           "max_output_tokens"}, "model row %r" % row)


# ---- plans and members ----

def test_plans_put_get_and_refusals():
    name = "probe-" + uid("p")[-8:]
    body = {"credits_micros": 3000000, "rollover": "none", "member_cap_micros": 1000000}
    r = api("PUT", "/v1/plans/" + name, body)
    eq(r.status, 200, "PUT plan: %r" % r)
    r = api("GET", "/v1/plans", auth="read")
    eq(r.status, 200, "GET plans")
    row = [p for p in r.json["data"] if p["name"] == name]
    eq(len(row), 1, "listed")
    check(set(row[0]) >= {"name", "credits_micros", "rollover", "rollover_cap_micros", "member_cap_micros",
                          "stripe_price_ids"}, "%r" % row[0])
    for bad, param in (({"credits_micros": -1, "rollover": "none"}, "credits_micros"),
                       ({"credits_micros": 1, "rollover": "sometimes"}, "rollover"),
                       ({"credits_micros": 1, "rollover": "none", "rollover_cap_micros": 5}, "rollover_cap_micros"),
                       ({"credits_micros": 10 ** 12 + 1, "rollover": "none"}, "credits_micros"),
                       ({"rollover": "none"}, "credits_micros")):
        err(api("PUT", "/v1/plans/" + name, bad), 400, "invalid_request", param, what="plan %r" % bad)
    err(api("PUT", "/v1/plans/bad%20name", body), 400, "invalid_request", what="a bad plan name")
    err(api("PUT", "/v1/plans/" + "n" * 65, body), 400, "invalid_request", what="a 65-byte name")
    err(api("PUT", "/v1/plans/" + name, body, auth="read"), 403, "forbidden", what="read puts a plan")
    acct = new_account("planned", kind="workspace", plan=name)
    a = get(acct)
    eq(a["plan"], name, "on the plan")
    check(a["period_start"] and a["period_end"], "the period: %r" % a)
    plan_grants = [g for g in a["grants"] if g["source"] == "plan"]
    eq([(g["remaining_micros"], g["priority"]) for g in plan_grants], [(3000000, 10)], "one plan grant, priority 10")
    eq(a["balance_micros"], BONUS + 3000000, "the bonus and the plan's credits")
    p = ctl("plan", "list")
    eq(p.returncode, 0, "creditctl plan list")
    check(name in p.stdout, "plan list shows it")


def test_members_and_member_cap():
    acct = new_account("ws", kind="workspace")
    r = api("POST", path(acct, "/members"), {"member": "bob", "monthly_cap_micros": 5000})
    eq(r.status, 201, "a member added: %r" % r)
    check(set(r.json) >= {"account", "member", "monthly_cap_micros", "month_spent_micros", "reserved_micros"}, "%r" % r.json)
    eq(api("POST", path(acct, "/members"), {"member": "bob", "monthly_cap_micros": 6000}).status, 200, "updated")
    e = refused_unchanged(acct, lambda: authorize(acct, member="bob"), 429, "member_cap_reached", what="member cap")
    eq(e["type"], "insufficient_quota", "type")
    eq(hold(acct, member="carol")["amount_micros"], cost("gpt-4o", 1000, 1000), "another member, uncapped")
    err(api("POST", path(acct, "/members"), {"member": "bob", "monthly_cap_micros": -1}), 400, "invalid_request",
        "monthly_cap_micros", what="a negative cap")
    err(api("POST", path(acct, "/members"), {"monthly_cap_micros": 1}), 400, "invalid_request", "member",
        what="no member")
    eq(api("DELETE", path(acct, "/members/bob")).status, 200, "removed")
    err(api("DELETE", path(acct, "/members/bob")), 404, "not_found", what="removed again")
    err(api("POST", path(uid(), "/members"), {"member": "x"}), 404, "not_found", what="unknown account")


# ---- promo codes and referrals ----

def test_promo_codes():
    code = "PRB" + uid("")[-10:].upper().replace("-", "")
    r = api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 1500000, "max_redemptions": 1,
                                        "grant_ttl_days": 30})
    eq(r.status, 201, "promo create: %r" % r)
    err(api("POST", "/v1/promo_codes", {"code": code.lower(), "amount_micros": 5}), 409, what="the code in another case")
    for bad, param in (({"code": "abc", "amount_micros": 5}, "code"), ({"code": "bad code!", "amount_micros": 5}, "code"),
                       ({"code": "GOODCODE" + uid("")[-6:], "amount_micros": 0}, "amount_micros"),
                       ({"code": "GOODCODE" + uid("")[-6:], "amount_micros": 10 ** 12 + 1}, "amount_micros")):
        err(api("POST", "/v1/promo_codes", bad), 400, "invalid_request", param, what="promo %r" % bad)
    a, b = new_account("promo"), new_account("promo")
    r = api("POST", path(a, "/redeem"), {"code": code.lower()}, auth="app")
    eq(r.status, 201, "redeem, any case: %r" % r)
    check(set(r.json) >= {"grant_id", "amount_micros", "expires_at"}, "%r" % r.json)
    eq(r.json["amount_micros"], 1500000, "its amount")
    eq(get(a)["balance_micros"], BONUS + 1500000, "credited")
    refused_unchanged(a, lambda: api("POST", path(a, "/redeem"), {"code": code}, auth="app"), 409, "already_redeemed",
                      what="redeemed again")
    refused_unchanged(b, lambda: api("POST", path(b, "/redeem"), {"code": code}, auth="app"), 409, "promo_exhausted",
                      what="all redemptions used")
    refused_unchanged(b, lambda: api("POST", path(b, "/redeem"), {"code": "NOSUCHCODE"}, auth="app"), 404, "not_found",
                      what="unknown code")
    err(api("POST", path(uid(), "/redeem"), {"code": code}, auth="app"), 404, "not_found", what="unknown account")
    exp = "EXP" + uid("")[-10:].upper()
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    eq(api("POST", "/v1/promo_codes", {"code": exp, "amount_micros": 5, "expires_at": at}).status, 201, "expiring code")
    time.sleep(3)
    refused_unchanged(b, lambda: api("POST", path(b, "/redeem"), {"code": exp}, auth="app"), 409, "promo_expired",
                      what="past expires_at")
    p = ctl("promo", "list")
    eq(p.returncode, 0, "creditctl promo list")
    check(code in p.stdout.upper(), "lists the code")
    verify()


def test_referral_code():
    a = new_account("ref")
    r = api("GET", path(a, "/referral_code"), auth="app")
    eq(r.status, 200, "referral_code: %r" % r)
    code = r.json["code"]
    eq(api("GET", path(a, "/referral_code"), auth="app").json["code"], code, "one stable code")
    check(len(code) == 10 and code.isalnum() and code == code.lower(), "10 of 0-9 a-z: %r" % code)
    b = uid("referred")
    eq(api("POST", "/v1/accounts", {"id": b, "kind": "user", "referral_code": code.upper()}).status, 201,
       "an account created with the code, any case")
    err(api("GET", path(uid(), "/referral_code"), auth="app"), 404, "not_found", what="unknown account")


# ---- top-ups and the Stripe webhook ----

def test_topup_session_and_refusals():
    acct = new_account("topup")
    r = api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app")
    eq(r.status, 200, "topup: %r" % r)
    check(set(r.json) >= {"checkout_url", "session_id"}, "%r" % r.json)
    s = stripe_session(r.json["session_id"])
    eq(s.get("mode"), "payment", "a payment session")
    md = s.get("metadata") or {}
    eq((md.get("type"), md.get("account"), str(md.get("amount_cents"))), ("credit_topup", acct, "1000"), "metadata")
    for cents in (499, 100001, -1, 10.5, "1000"):
        refused_unchanged(acct, lambda: api("POST", path(acct, "/topup"), {"amount_cents": cents}, auth="app"), 400,
                          "invalid_request", "amount_cents", what="top-up of %r" % (cents,))
    refused_unchanged(acct, lambda: api("POST", path(acct, "/topup"), {}, auth="app"), 400, "invalid_request",
                      "amount_cents", what="no amount")
    err(api("POST", path(uid(), "/topup"), {"amount_cents": 1000}, auth="app"), 404, "not_found",
        what="unknown account")


def test_webhook_signature_checks_and_credit_once():
    acct = new_account("hook")
    sid = api("POST", path(acct, "/topup"), {"amount_cents": 1500}, auth="app").json["session_id"]
    payload = checkout_event(sid)
    before = state(acct)
    for header, what in ((None, "no signature"), ("garbage", "a malformed header"),
                         (sign(payload, secret="whsec_" + "x" * 40), "another secret"),
                         (sign(payload + b" "), "a signature over another body"),
                         (sign(payload, t=int(time.time()) - 400), "an old timestamp"),
                         (sign(payload, t=int(time.time()) + 400), "a timestamp in the future")):
        r = hook(payload, header)
        eq(r.status, 400, "%s: 400 (%r)" % (what, r))
        eq(state(acct), before, "%s: no effect" % what)
    good = sign(payload)
    t = good.split(",")[0]
    several = "%s,v1=%s,%s" % (t, "0" * 64, good.split(",")[1])
    r = hook(payload, several)
    eq(r.status, 200, "one good v1 among several: %r" % r)
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "credited amount_cents x topup_rate")
    top = txns(acct)[0]
    eq((top["cause"], top["source"], top["reference"]), ("grant", "topup", sid), "the top-up's journal row")
    eq(hook(payload, sign(payload)).status, 200, "the same event again: 200")
    other = checkout_event(sid)
    eq(hook(other, sign(other)).status, 200, "the same session under another event id: 200")
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "credited once")
    stranger = json.dumps({"id": uid("evt"), "object": "event", "type": "checkout.session.completed",
                           "data": {"object": {"id": "cs_test_" + uid(""), "object": "checkout.session",
                                               "mode": "payment", "payment_status": "paid", "currency": "eur",
                                               "amount_total": 1500,
                                               "metadata": {"type": "credit_topup", "account": acct,
                                                            "amount_cents": "1500"}}}}).encode()
    eq(hook(stranger, sign(stranger)).status, 200, "a session creditd never made: 200")
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "and no credit")
    ignored = json.dumps({"id": uid("evt"), "object": "event", "type": "customer.created",
                          "data": {"object": {"id": "cus_x"}}}).encode()
    eq(hook(ignored, sign(ignored)).status, 200, "another type: 200, ignored")
    r = api("POST", HOOK, raw=ignored, auth=None, headers={"Stripe-Signature": sign(ignored),
                                                            "Content-Type": "text/plain"})
    eq(r.status, 200, "no 415 on the webhook route: %r" % r)
    verify()


# ---- browser tokens and /v1/me ----

def test_browser_tokens_and_me():
    acct = new_account("me")
    r = api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 120}, auth="app")
    eq(r.status, 201, "browser token: %r" % r)
    check(set(r.json) >= {"token", "expires_at"}, "%r" % r.json)
    tok = r.json["token"]
    r = api("GET", "/v1/me", auth=tok)
    eq((r.status, r.json["id"], r.json["balance_micros"]), (200, acct, BONUS), "GET /v1/me: %r" % r)
    r = api("GET", "/v1/me/transactions", auth=tok)
    eq((r.status, len(r.json["data"])), (200, 1), "GET /v1/me/transactions")
    check("next_cursor" in r.json, "a page")
    r = api("POST", "/v1/me/topup", {"amount_cents": 1000}, auth=tok)
    eq(r.status, 200, "POST /v1/me/topup: %r" % r)
    check(set(r.json) >= {"checkout_url", "session_id"}, "%r" % r.json)
    err(api("GET", path(acct), auth=tok), 401, "unauthorized", what="a browser token on an API route")
    tampered = tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")
    err(api("GET", "/v1/me", auth=tampered), 401, "unauthorized", what="a tampered token")
    err(api("GET", "/v1/me", auth="read"), 401, "unauthorized", what="an API key on /v1/me")
    for ttl in (59, 3601, "900"):
        err(api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": ttl}, auth="app"), 400, "invalid_request",
            "ttl_seconds", what="ttl %r" % (ttl,))
    err(api("POST", path(uid(), "/browser_tokens"), {}, auth="app"), 404, "not_found", what="unknown account")
    r = api("GET", "/widget/creditd-widget.js", auth=None)
    eq(r.status, 200, "the widget script")
    check("javascript" in r.headers.get("content-type", ""), "served as JavaScript: %r" % r.headers)
    check(len(r.raw) < 48 * 1024, "under 48 KB: %d" % len(r.raw))
    for el in (b"creditd-balance", b"creditd-topup", b"creditd-history"):
        check(el in r.raw, "defines %s" % el.decode())


# ---- events ----

def test_events_pull():
    acct = new_account("ev")
    code = "EVT" + uid("")[-10:].upper()
    api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 5})
    eq(api("POST", path(acct, "/redeem"), {"code": code}, auth="app").status, 201, "redeemed")
    r = api("GET", "/v1/events?after=0&limit=200")
    eq(r.status, 200, "GET /v1/events: %r" % r)
    check(set(r.json) >= {"data", "next_after"}, "%r" % sorted(r.json))
    after = r.json["next_after"]
    while r.json["data"]:
        after = r.json["next_after"]
        r = api("GET", "/v1/events?after=%d&limit=200" % after)
    eq(r.json["data"], [], "the end of the outbox")
    ids = []
    r = api("GET", "/v1/events?after=0&limit=200")
    ids = [e["id"] for e in r.json["data"]]
    eq(ids, sorted(ids), "oldest first")
    for e in r.json["data"][:5]:
        check(set(e) >= {"id", "type", "created_at", "account", "data"}, "event %r" % e)
    err(api("GET", "/v1/events?limit=0"), 400, "invalid_request", "limit", what="limit 0")


# ---- creditctl ----

def test_creditctl_exit_codes():
    eq(ctl("verify").returncode, 0, "verify on a clean ledger")
    eq(ctl("no-such-command").returncode, 2, "an unknown command is a usage error")
    eq(ctl().returncode, 2, "no command is a usage error")
    p = ctl("migrate", "--check", "--sql-dir", os.path.join(ROOT, "sql"))
    eq(p.returncode, 0, "migrate --check on a current schema: %s%s" % (p.stdout, p.stderr))
    acct = uid("ctl")
    p = ctl("account", "create", acct)
    eq(p.returncode, 0, "account create: %s" % p.stderr)
    eq(get(acct)["balance_micros"], BONUS, "as the API does: the bonus")
    p = ctl("account", "show", acct)
    eq(p.returncode, 0, "account show")
    check(acct in p.stdout, "shows it")
    eq(ctl("account", "show", uid()).returncode, 1, "account show of an unknown account")
    eq(ctl("grant", acct, "250000", "--source", "promo").returncode, 0, "grant")
    eq(get(acct)["balance_micros"], BONUS + 250000, "granted")
    eq(ctl("grant", acct, "-5", "--source", "promo").returncode, 2, "a negative grant is a usage error")
    eq(ctl("grant", acct, "5", "--source", "topup").returncode, 2, "a bad source is a usage error")
    eq(ctl("grant", uid(), "5", "--source", "promo").returncode, 1, "a grant to an unknown account")
    eq(get(acct)["balance_micros"], BONUS + 250000, "refused grants changed nothing")
    p = ctl("export", acct, "--format", "json")
    eq(p.returncode, 0, "export")
    p = ctl("price", "list")
    eq(p.returncode, 0, "price list")
    check("gpt-4o" in p.stdout, "lists gpt-4o")
    eq(ctl("price", "history", "gpt-4o").returncode, 0, "price history")
    eq(ctl("events", "list", "--limit", "5").returncode, 0, "events list")
    p = ctl("sweep")
    eq(p.returncode, 0, "sweep: %s" % p.stderr)
    check(" sweep: " in p.stdout and (p.stdout.rstrip().endswith("done") or "another creditctl sweep" in p.stdout),
          "sweep's one line: %r" % p.stdout)
    p = ctl("collect", "--dry-run")
    check(p.returncode in (0, 1), "collect --dry-run: %d" % p.returncode)
    verify()


def test_creditctl_refused_config_is_exit_2():
    p = subprocess.run([ENV["CREDITCTL"], "-c", "/nonexistent/creditd.conf", "verify"], capture_output=True, text=True,
                       timeout=60)
    eq(p.returncode, 2, "an unreadable config: exit 2 (%s)" % p.stderr)
    check("/nonexistent/creditd.conf" in p.stderr, "names the file: %r" % p.stderr)


# ---- the order of the guard's checks, overdrafts, rate limits, shrink ----

def test_check_order_403_before_429_before_402():
    acct = new_account("ord", monthly_limit_micros=1000)
    eq(api("PATCH", path(acct), {"status": "suspended"}).status, 200, "suspend")
    refused_unchanged(acct, lambda: authorize(acct, input_tokens=4000000, max_output_tokens=16000), 403,
                      "account_suspended", what="suspended, over the limit and the balance: 403 first")
    eq(api("PATCH", path(acct), {"status": "active"}).status, 200, "resume")
    refused_unchanged(acct, lambda: authorize(acct, input_tokens=4000000, max_output_tokens=16000), 429,
                      "billing_hard_limit_reached", what="over the limit and the balance: 429 before 402")
    big = {"account": acct, "model": "gpt-4o", "input_tokens": 4000000, "output_tokens": 0, "request_id": uid()}
    refused_unchanged(acct, lambda: api("POST", "/v1/usage", big, auth="guard"), 429, "billing_hard_limit_reached",
                      what="usage: 429 before 402")


def test_overdraft_lets_available_go_below_zero():
    acct = new_account("od", overdraft_limit_micros=5000000)
    a = get(acct)
    eq(a["available_micros"], BONUS + 5000000, "available = balance - reserved + overdraft")
    c = cost("gpt-4o", 4000000, 2000)
    check(BONUS < c < BONUS + 5000000, "the call costs more than the balance, less than with the overdraft")
    h = hold(acct, input_tokens=4000000, max_output_tokens=2000)
    r = api("POST", "/v1/guard/settle", {"hold_id": h["hold_id"], "input_tokens": 4000000, "output_tokens": 2000},
            auth="guard")
    eq((r.status, r.json["balance_micros"]), (200, BONUS - c), "the balance below zero")
    a = get(acct)
    eq(a["available_micros"], BONUS - c + 5000000, "available within the overdraft")
    verify()


def test_rate_limit_429_is_a_rate_limit_error_with_retry_after():
    acct = new_account("rpm", requests_per_minute=1)
    hold(acct)
    r = authorize(acct)
    e = err(r, 429, "rate_limit_exceeded", what="the second request in the minute")
    eq(e["type"], "rate_limit_error", "a rate limit is not a quota")
    check(r.headers.get("retry-after", "").isdigit(), "Retry-After: %r" % r.headers)
    check(isinstance(e.get("retry_after_seconds"), int), "retry_after_seconds in the body: %r" % e)
    eq(get(acct)["reserved_micros"], cost("gpt-4o", 1000, 1000), "nothing more held")


def test_default_output_and_shrink():
    acct = new_account("shrink")
    h = hold(acct, max_output_tokens=None)
    eq((h["max_output_tokens"], h["amount_micros"]), (16384, cost("gpt-4o", 1000, 16384)),
       "without max_output_tokens the model's own")
    small = new_account("shrink2")
    api("POST", path(small, "/debits"), {"amount_micros": BONUS - 50000, "reason": "leave 0.05"})
    want_out = 16000
    check(cost("gpt-4o", 1000, want_out) > 50000, "16000 out is more than 0.05 EUR")
    h = hold(small, max_output_tokens=want_out, min_output_tokens=100)
    check(100 <= h["max_output_tokens"] < want_out, "shrunk to what it can cover: %r" % h)
    check(h["amount_micros"] <= 50000, "within the available credit: %r" % h)
    eq(h["amount_micros"], cost("gpt-4o", 1000, h["max_output_tokens"]), "the hold is the shrunk call's cost")
    check(cost("gpt-4o", 1000, h["max_output_tokens"] + 1) > 50000, "the largest affordable output")
    refused_unchanged(small, lambda: authorize(small, max_output_tokens=100, min_output_tokens=200), 400,
                      "invalid_request", "min_output_tokens", what="min above max")


def test_settle_beyond_the_hold_and_cached_tokens():
    acct = new_account("beyond")
    h = hold(acct, input_tokens=100, max_output_tokens=10)
    r = api("POST", "/v1/guard/settle", {"hold_id": h["hold_id"], "input_tokens": 5000, "output_tokens": 2000,
                                         "cached_input_tokens": 3000}, auth="guard")
    c = cost("gpt-4o", 5000, 2000, cached=3000)
    eq((r.status, r.json["charged_micros"], r.json["released_micros"]), (200, c, 0), "the actual cost, beyond the hold")
    eq(get(acct)["balance_micros"], BONUS - c, "charged")
    verify()


def test_idempotency_key_on_authorize():
    acct = new_account("idemg")
    k = {"Idempotency-Key": uid("ik")}
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 10, "max_output_tokens": 10, "request_id": uid()}
    r1 = api("POST", "/v1/guard/authorize", body, auth="guard", headers=k)
    r2 = api("POST", "/v1/guard/authorize", body, auth="guard", headers=k)
    eq((r1.status, r2.status, r1.json["hold_id"]), (200, 200, r2.json["hold_id"]), "replayed")
    refused_unchanged(acct, lambda: api("POST", "/v1/guard/authorize", dict(body, input_tokens=11), auth="guard",
                                        headers=k), 409, "conflict", what="the key with another body")


def test_415_on_the_guard_and_head_on_reads():
    acct = new_account("ct")
    body = json.dumps({"account": acct, "model": "gpt-4o", "input_tokens": 10, "request_id": uid()}).encode()
    refused_unchanged(acct, lambda: api("POST", "/v1/guard/authorize", raw=body, auth="guard",
                                        headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type",
                      what="text/plain on authorize")
    for tail in ("", "/transactions", "/usage"):
        g = api("GET", path(acct, tail), auth="read")
        h = api("HEAD", path(acct, tail), auth="read")
        eq((h.status, h.raw), (g.status, b""), "HEAD %s" % tail)
    err(api("GET", path(acct, "/transactions?cursor=zzz"), auth="read"), 400, "invalid_request", "cursor",
        what="a bad cursor")


# ---- the operator's reads, holds, top-ups, alerts, keys through the API ----

def test_account_search_health_and_lists():
    acct = new_account("srch")
    r = api("GET", "/v1/accounts?q=" + urllib.parse.quote(acct), auth="read")
    eq(r.status, 200, "search: %r" % r)
    eq([a["id"] for a in r.json["data"]], [acct], "found by id")
    check(set(r.json) >= {"data", "has_more", "next_cursor"}, "a page")
    check(set(r.json["data"][0]) >= {"id", "kind", "status", "balance_micros", "reserved_micros", "email",
                                     "created_at"}, "%r" % r.json["data"][0])
    err(api("GET", "/v1/accounts", auth="app"), 403, "forbidden", what="an app key lists every account")
    err(api("GET", "/v1/accounts?limit=101", auth="read"), 400, "invalid_request", "limit", what="limit 101")
    r = api("GET", "/v1/health", auth="read")
    eq((r.status, r.json.get("status")), (200, "ok"), "GET /v1/health: %r" % r)
    check(set(r.json) >= {"status", "version", "database", "migrations", "providers"}, "%r" % sorted(r.json))
    h = hold(acct)
    r = api("GET", path(acct, "/holds"), auth="read")
    eq(r.status, 200, "holds")
    eq([x["hold_id"] for x in r.json["data"]], [h["hold_id"]], "the pending hold")
    eq(sum(x["held_micros"] for x in r.json["data"]), get(acct)["reserved_micros"], "they add up to reserved")
    r = api("GET", "/v1/holds/" + h["hold_id"], auth="read")
    check(set(r.json) >= {"hold_id", "account", "member", "model", "provider", "status", "held_micros",
                          "charged_micros", "usage", "settle_reason", "over_hold", "created_at", "settled_at"},
          "GET hold: %r" % sorted(r.json))
    eq(r.json["account"], acct, "its account")
    api("POST", path(acct, "/topup"), {"amount_cents": 700}, auth="app")
    r = api("GET", path(acct, "/topups"), auth="read")
    eq(r.status, 200, "topups")
    eq([(t["amount_cents"], t["status"]) for t in r.json["data"]], [(700, "pending")], "a pending top-up")


def test_threshold_alerts():
    acct = new_account("alrt", monthly_limit_micros=1000000)
    body = {"alerts": [{"kind": "monthly_spend_pct", "pct": 50}, {"kind": "balance_below", "micros": 2000000}]}
    r = api("PUT", path(acct, "/alerts"), body, auth="app")
    eq(r.status, 200, "PUT alerts: %r" % r)
    r = api("GET", path(acct, "/alerts"), auth="read")
    eq([(a["kind"], a["state"]) for a in r.json["alerts"]], [("monthly_spend_pct", "armed"), ("balance_below", "armed")],
       "armed, in the order set")
    for bad, param in (({"alerts": [{"kind": "colour", "pct": 5}]}, "alerts[0].kind"),
                       ({"alerts": [{"kind": "monthly_spend_pct", "pct": 101}]}, "alerts[0].pct"),
                       ({"alerts": [{"kind": "monthly_spend_pct", "pct": 5}, {"kind": "monthly_spend_pct", "pct": 5}]},
                        "-")):
        err(api("PUT", path(acct, "/alerts"), bad, auth="app"), 400, "invalid_request", param, what="alerts %r" % bad)
    eq(len(api("GET", path(acct, "/alerts"), auth="read").json["alerts"]), 2, "unchanged by the refusals")
    err(api("PUT", path(uid(), "/alerts"), body, auth="app"), 404, "not_found", what="unknown account")


def test_keys_through_the_api():
    r = api("GET", "/v1/keys?limit=100", auth="read")
    eq(r.status, 200, "GET /v1/keys: %r" % r)
    for k in r.json["data"]:
        check("key" not in k and "hash" not in k, "never the key nor its hash: %r" % k)
        check(set(k) >= {"id", "prefix", "name", "scopes", "models", "account", "created_at", "revoked_at"}, "%r" % k)
    r = api("POST", "/v1/keys", {"scopes": ["read"], "name": "probe-api"})
    eq(r.status, 201, "POST /v1/keys: %r" % r)
    new = r.json["key"]
    eq(api("GET", "/v1/models", auth=new).status, 200, "the new key works")
    err(api("POST", "/v1/keys", {"scopes": ["admin"], "account": new_account("kb")}), 400, "invalid_request", "account",
        what="an admin key bound")
    err(api("POST", "/v1/keys", {"scopes": ["read"], "account": uid()}), 404, "not_found", what="an unknown account")
    err(api("POST", "/v1/keys", {"scopes": ["read"]}, auth="read"), 403, "forbidden", what="read makes a key")
    eq(api("DELETE", "/v1/keys/%d" % r.json["id"]).status, 200, "revoke")
    time.sleep(0.2)
    err(api("GET", "/v1/models", auth=new), 401, "unauthorized", what="revoked")
    err(api("DELETE", "/v1/keys/999999999"), 404, "not_found", what="an unknown key id")


def test_member_browser_token():
    acct = new_account("wsm", kind="workspace")
    api("POST", path(acct, "/members"), {"member": "dana", "monthly_cap_micros": 3000000})
    r = api("POST", path(acct, "/browser_tokens"), {"member": "dana"}, auth="app")
    eq(r.status, 201, "a member's token: %r" % r)
    tok = r.json["token"]
    me = api("GET", "/v1/me", auth=tok).json
    eq((me["member"]["member"], me["member"]["monthly_cap_micros"]), ("dana", 3000000), "the member's own figures")
    err(api("POST", "/v1/me/topup", {"amount_cents": 1000}, auth=tok), 403, "forbidden", what="a member tops up")
    err(api("GET", "/v1/me/usage?group_by=member", auth=tok), 400, "invalid_request", what="group_by=member")
    eq(api("GET", "/v1/me/usage?group_by=day", auth=tok).status, 200, "its usage")
    err(api("POST", path(acct, "/browser_tokens"), {"member": "nobody"}, auth="app"), 404, "not_found",
        what="an unknown member")


# ---- creditctl when the database is down ----

def test_creditctl_with_the_database_unreachable():
    envs = dict(os.environ, CREDITD_DB_SOCKET="/nonexistent/mysql.sock", CREDITD_DB_HOST="", CREDITD_DB_PORT="1")
    base = [ENV["CREDITCTL"], "-c", ENV["CREDITD_CONFIG"]]
    p = subprocess.run(base + ["migrate", "--check", "--sql-dir", os.path.join(ROOT, "sql")], capture_output=True,
                       text=True, timeout=120, env=envs)
    eq(p.returncode, 4, "migrate --check, database unreachable: exit 4 (%s)" % p.stderr)
    p = subprocess.run(base + ["verify"], capture_output=True, text=True, timeout=120, env=envs)
    eq(p.returncode, 1, "verify, database unreachable: a failure (%s)" % p.stderr)
    p = subprocess.run(base + ["sweep"], capture_output=True, text=True, timeout=120, env=envs)
    eq(p.returncode, 1, "sweep, database unreachable: exit 1 (%s)" % p.stderr)


# ---- more of the guard and the ledger ----

def test_hold_ids_actor_and_concurrent_request_ids():
    acct = new_account("conc")
    rid = uid("req")
    rs = parallel(8, lambda i: authorize(acct, request_id=rid))
    eq({r.status for r in rs}, {200}, "the same request_id at once: all answered")
    eq(len({r.json["hold_id"] for r in rs}), 1, "one hold")
    eq(get(acct)["reserved_micros"], cost("gpt-4o", 1000, 1000), "held once")
    check(re.fullmatch(r"hold_[0-9a-f]{32}", rs[0].json["hold_id"]), "an opaque hold id: %r" % rs[0].json["hold_id"])
    other = new_account("conc2")
    check(hold(other, request_id=rid)["hold_id"] != rs[0].json["hold_id"], "request_id is unique per account")
    api("POST", path(acct, "/grants"), {"amount_micros": 5, "source": "promo"})
    eq(txns(acct)[0]["actor"], ENV["CREDITD_ADMIN_KEY"][:12], "the journal row names the key's prefix")
    low = new_account("concu")
    big = {"account": low, "model": "gpt-4o", "input_tokens": 1000000, "output_tokens": 0}
    rs = parallel(8, lambda i: api("POST", "/v1/usage", dict(big, request_id=uid()), auth="guard"))
    ok = [r for r in rs if r.status == 200]
    eq(len(ok), BONUS // cost("gpt-4o", 1000000, 0), "as many as the balance pays for")
    eq({r.json["error"]["code"] for r in rs if r.status != 200}, {"insufficient_credits"}, "the rest 402")
    check(get(low)["balance_micros"] >= 0, "a prepaid balance never below zero")
    verify()


def test_spending_order_and_grant_expiry():
    acct = new_account("order")
    api("POST", path(acct, "/grants"), {"amount_micros": 100000, "source": "promo", "priority": 10})
    api("POST", path(acct, "/grants"), {"amount_micros": 100000, "source": "adjustment", "priority": 90})
    api("POST", path(acct, "/grants"), {"amount_micros": 100000, "source": "promo", "expires_at": "2090-01-01T00:00:00Z"})
    c = cost("gpt-4o", 1000, 1000)
    api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 1000},
        auth="guard")
    g = {(x["source"], x["priority"], x["expires_at"]): x["remaining_micros"] for x in get(acct)["grants"]}
    eq(g[("promo", 10, None)], 100000 - c, "the lowest priority number burns first")
    c2 = cost("gpt-4o", 100000, 0)
    api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 100000, "output_tokens": 0},
        auth="guard")
    g = {(x["source"], x["priority"], x["expires_at"]): x["remaining_micros"] for x in get(acct)["grants"]}
    check(("promo", 50, "2090-01-01T00:00:00Z") not in g, "then the soonest expiry: %r" % g)
    eq(g[("signup_bonus", 50, None)], BONUS - (c2 - (100000 - c) - 100000), "then the grant that never expires")
    eq(g[("adjustment", 90, None)], 100000, "priority 90 last")
    exp = new_account("gexp")
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    eq(api("POST", path(exp, "/grants"), {"amount_micros": 300000, "source": "promo", "expires_at": at}).status, 201,
       "an expiring grant")
    check(wait_until(lambda: get(exp)["balance_micros"] == BONUS, timeout=10), "written off at its expiry")
    eq([(x["cause"], x["amount_micros"]) for x in txns(exp)][0], ("expiry", -300000), "by a journal row")
    verify()


def test_events_of_money_and_limits():
    def events(acct):
        out, after = [], 0
        while True:
            r = api("GET", "/v1/events?after=%d&limit=200" % after).json
            if not r["data"]:
                return out
            out += [(e["type"], e["data"]) for e in r["data"] if e["account"] == acct]
            after = r["next_after"]
    acct = new_account("evl", low_balance_micros=9995000, monthly_limit_micros=200000)
    h = hold(acct)
    eq(events(acct), [], "a hold tells nothing")
    api("POST", "/v1/guard/settle", {"hold_id": h["hold_id"], "input_tokens": 1000, "output_tokens": 500}, auth="guard")
    eq([e[0] for e in events(acct)], ["balance.low"], "the settle crossed the threshold")
    big = {"account": acct, "model": "gpt-4o", "input_tokens": 100000, "output_tokens": 0}
    for _ in range(2):
        err(api("POST", "/v1/usage", big, auth="guard"), 429, "billing_hard_limit_reached", what="over the month")
    lim = [e for e in events(acct) if e[0] == "limit.reached"]
    eq(len(lim), 1, "limit.reached once a period")
    eq(lim[0][1]["limit"], "monthly", "which limit")
    dep = new_account("evd")
    for _ in range(2):
        err(api("POST", "/v1/usage", {"account": dep, "model": "gpt-4o", "input_tokens": 10000000, "output_tokens": 0},
                auth="guard"), 402, "insufficient_credits", what="402")
    eq([e[0] for e in events(dep)], ["balance.depleted"], "balance.depleted at the first 402 only")
    al = new_account("eva", monthly_limit_micros=1000000)
    eq(api("PUT", path(al, "/alerts"), {"alerts": [{"kind": "monthly_spend_pct", "pct": 50}]}, auth="app").status, 200,
       "an alert")
    api("POST", "/v1/usage", {"account": al, "model": "gpt-4o", "input_tokens": 240000, "output_tokens": 0}, auth="guard")
    th = [e[1] for e in events(al) if e[0] == "alert.threshold"]
    eq([(x["kind"], x["pct"]) for x in th], [("monthly_spend_pct", 50)], "alert.threshold once")
    eq(api("GET", path(al, "/alerts"), auth="read").json["alerts"][0]["state"], "fired", "fired")


def test_concurrent_promo_redemptions_and_member_plan_cap():
    code = "CC" + uid("")[-10:].upper()
    api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 1000, "max_redemptions": 3})
    accts = [new_account("cp") for _ in range(8)]
    rs = parallel(8, lambda i: api("POST", path(accts[i], "/redeem"), {"code": code}, auth="app"))
    eq(sorted(r.status for r in rs), [201] * 3 + [409] * 5, "min(N, M) succeed")
    eq({r.json["error"]["code"] for r in rs if r.status == 409}, {"promo_exhausted"}, "the rest exhausted")
    name = "mc" + uid("")[-8:]
    api("PUT", "/v1/plans/" + name, {"credits_micros": 5000000, "rollover": "none", "member_cap_micros": 20000})
    ws = new_account("wsp", kind="workspace", plan=name)
    hold(ws, member="newbie")
    refused_unchanged(ws, lambda: authorize(ws, member="newbie"), 429, "member_cap_reached",
                      what="a member never added is capped at the plan's member_cap_micros")
    api("POST", path(ws, "/members"), {"member": "cat"})
    api("POST", "/v1/usage", {"account": ws, "member": "cat", "model": "gpt-4o", "input_tokens": 1000,
                              "output_tokens": 0, "request_id": uid()}, auth="guard")
    tok = api("POST", path(ws, "/browser_tokens"), {"member": "cat"}, auth="app").json["token"]
    m = api("GET", "/v1/me", auth=tok).json["member"]
    eq((m["monthly_cap_micros"], m["remaining_micros"]), (20000, 20000 - cost("gpt-4o", 1000, 0)),
       "the plan's cap binds a member without its own")


def test_bound_keys_answer_another_account_as_unknown():
    a, b, ghost = new_account("bk"), new_account("bo"), uid("ghost")
    keys = {sc: creditctl("key", "create", "--scope", sc, "--account", a).stdout.strip().splitlines()[-1]
            for sc in ("guard", "read", "app")}
    hb = hold(b)
    before = state(b)

    def same(what, fn):
        r1, r2 = fn(b), fn(ghost)
        eq(r1.status, 404, "%s: 404 for another account" % what)
        eq((r1.status, r1.raw.replace(b.encode(), b"X")), (r2.status, r2.raw.replace(ghost.encode(), b"X")),
           "%s: exactly as for an account that does not exist" % what)
    same("authorize", lambda x: authorize(x, auth=keys["guard"]))
    same("usage", lambda x: api("POST", "/v1/usage", {"account": x, "model": "gpt-4o", "input_tokens": 1,
                                                       "output_tokens": 1}, auth=keys["guard"]))
    for tail in ("", "/transactions", "/usage", "/holds", "/topups"):
        same("GET" + tail, lambda x: api("GET", path(x, tail), auth=keys["read"]))
    same("topup", lambda x: api("POST", path(x, "/topup"), {"amount_cents": 1000}, auth=keys["app"]))
    same("browser_tokens", lambda x: api("POST", path(x, "/browser_tokens"), {}, auth=keys["app"]))
    same("redeem", lambda x: api("POST", path(x, "/redeem"), {"code": "NOPECODE"}, auth=keys["app"]))
    err(api("POST", "/v1/guard/settle", {"hold_id": hb["hold_id"], "input_tokens": 1, "output_tokens": 1},
            auth=keys["guard"]), 404, "not_found", what="settle another account's hold")
    err(api("POST", "/v1/guard/release", {"hold_id": hb["hold_id"]}, auth=keys["guard"]), 404, "not_found",
        what="release another account's hold")
    err(api("GET", "/v1/holds/" + hb["hold_id"], auth=keys["read"]), 404, "not_found", what="GET another's hold")
    eq(state(b), before, "the other account untouched")
    eq(hold(a, auth=keys["guard"])["amount_micros"], cost("gpt-4o", 1000, 1000), "its own account")
    eq(api("GET", "/v1/models", auth=keys["app"]).status, 200, "routes naming no account")


# ---- Stripe: mismatches, refunds, disputes, subscriptions, referrals, attempts ----

def _event(etype, obj):
    return json.dumps({"id": uid("evt"), "object": "event", "type": etype, "created": int(time.time()),
                       "data": {"object": obj}}).encode()


def _send(payload):
    r = hook(payload, sign(payload))
    eq(r.status, 200, "webhook: %r" % r)
    return r.json


def test_webhook_mismatch_refund_dispute():
    acct = new_account("rfd")
    sid = api("POST", path(acct, "/topup"), {"amount_cents": 2000}, auth="app").json["session_id"]
    for changes in ({"currency": "usd"}, {"payment_status": "unpaid"},
                    {"metadata": {"type": "credit_topup", "account": acct, "amount_cents": "99999"}}):
        _send(checkout_event(sid, **changes))
        eq(get(acct)["balance_micros"], BONUS, "no credit for %r" % changes)
    _send(checkout_event(sid))
    eq(get(acct)["balance_micros"], BONUS + 2000 * 10000, "credited")
    taxed = new_account("tax")
    tsid = api("POST", path(taxed, "/topup"), {"amount_cents": 2000}, auth="app").json["session_id"]
    _send(checkout_event(tsid, amount_total=2400, total_details={"amount_discount": 0, "amount_shipping": 0,
                                                                 "amount_tax": 400}))
    eq(get(taxed)["balance_micros"], BONUS + 2000 * 10000, "metadata.amount_cents x topup_rate: tax buys nothing")
    pi = stripe_session(sid)["payment_intent"]
    ch = "ch_" + uid("")[-12:]
    refund = {"id": ch, "object": "charge", "amount": 2000, "amount_refunded": 500, "currency": "eur",
              "payment_intent": pi, "refunded": False, "status": "succeeded", "metadata": {}}
    _send(_event("charge.refunded", refund))
    _send(_event("charge.refunded", refund))
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "the refunded amount taken back once")
    eq((txns(acct)[0]["cause"], txns(acct)[0]["amount_micros"]), ("refund", -500 * 10000), "a refund row")
    du = {"id": "du_" + uid("")[-12:], "object": "dispute", "amount": 1500, "charge": ch, "currency": "eur",
          "payment_intent": pi, "status": "needs_response", "reason": "fraudulent"}
    _send(_event("charge.dispute.created", du))
    a = get(acct)
    eq((a["balance_micros"], a["status"], a["status_reason"]), (BONUS, "suspended", "dispute"), "disputed")
    eq(txns(acct)[0]["cause"], "dispute", "cause dispute")
    err(authorize(acct), 403, "account_suspended", what="a guard call while suspended for a dispute")
    _send(_event("charge.dispute.closed", dict(du, status="won")))
    a = get(acct)
    eq((a["balance_micros"], a["status"]), (BONUS + 1500 * 10000, "suspended"), "won: given back, still suspended")
    eq(txns(acct)[0]["cause"], "dispute_won", "cause dispute_won")
    verify()


def test_referral_reward_on_the_first_topup():
    referrer = new_account("rfr")
    code = api("GET", path(referrer, "/referral_code"), auth="app").json["code"]
    referred = uid("rfd")
    eq(api("POST", "/v1/accounts", {"id": referred, "kind": "user", "referral_code": code}).status, 201, "referred")
    sid = api("POST", path(referred, "/topup"), {"amount_cents": 1000}, auth="app").json["session_id"]
    eq(_send(checkout_event(sid))["outcome"], "credited", "the first top-up")
    me = api("GET", "/v1/me", auth=api("POST", path(referrer, "/browser_tokens"), {}, auth="app").json["token"]).json
    rr = me["referral"]
    check(rr and rr["referrer_micros"] > 0, "the deployment rewards referrers: %r" % rr)
    check(wait_until(lambda: any(g["source"] == "referral" for g in get(referrer)["grants"]), timeout=10),
          "the referrer's reward")
    eq([g["remaining_micros"] for g in get(referrer)["grants"] if g["source"] == "referral"], [rr["referrer_micros"]],
       "referrer_micros")
    eq([g["remaining_micros"] for g in get(referred)["grants"] if g["source"] == "referral"], [rr["referred_micros"]],
       "referred_micros")
    r = api("GET", path(referrer, "/referrals"), auth="read").json
    eq([x["account"] for x in r["data"]], [referred], "its referrals")


def test_topup_attempts_count_and_idempotency_before_stripe():
    base = ENV["CREDITD_STRIPE_API_BASE"]
    acct = new_account("tpa")
    api("POST", "/_mode", {"mode": "fail500"}, auth=None, base=base)
    try:
        for _ in range(10):
            err(api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app"), 502, "upstream_error",
                what="Stripe failing")
    finally:
        api("POST", "/_mode", {"mode": "ok"}, auth=None, base=base)
    r = api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app")
    e = err(r, 429, "rate_limit_exceeded", what="the 11th attempt in the hour")
    eq(e["type"], "rate_limit_error", "type")
    check(r.headers.get("retry-after", "").isdigit(), "Retry-After")
    other = new_account("tpi")
    k = {"Idempotency-Key": uid("tk")}
    r1 = api("POST", path(other, "/topup"), {"amount_cents": 1000}, auth="app", headers=k)
    r2 = api("POST", path(other, "/topup"), {"amount_cents": 1000}, auth="app", headers=k)
    eq((r1.status, r2.status, r1.json["session_id"]), (200, 200, r2.json["session_id"]), "replayed")
    n = len(api("GET", "/_requests", auth=None, base=base).json)
    err(api("POST", path(other, "/topup"), {"amount_cents": 1500}, auth="app", headers=k), 409, "conflict",
        what="the key with another body")
    eq(len(api("GET", "/_requests", auth=None, base=base).json), n, "nothing sent to Stripe")


def test_subscription_sets_and_clears_the_plan():
    name = "sp" + uid("")[-8:]
    api("PUT", "/v1/plans/" + name, {"credits_micros": 4000000, "rollover": "none", "stripe_price_ids": ["price_" + name]})
    acct = new_account("sub")
    api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app")
    cus = [x for x in api("GET", "/_requests", auth=None, base=ENV["CREDITD_STRIPE_API_BASE"]).json
           if x["path"] == "/v1/customers" and (x.get("form") or {}).get("metadata[account]") == acct]
    eq(len(cus), 1, "one Stripe customer made for the account")
    sessions = [x for x in api("GET", "/_requests", auth=None, base=ENV["CREDITD_STRIPE_API_BASE"]).json
                if x["path"] == "/v1/checkout/sessions" and (x.get("form") or {}).get("metadata[account]") == acct]
    customer = sessions[-1]["form"]["customer"]
    sub = {"id": "sub_" + uid("")[-10:], "object": "subscription", "customer": customer, "status": "active",
           "items": {"data": [{"price": {"id": "price_" + name}}]}, "metadata": {"account": acct},
           "current_period_start": int(time.time()) - 10, "current_period_end": int(time.time()) + 86400 * 30}
    _send(_event("customer.subscription.created", sub))
    a = get(acct)
    eq(a["plan"], name, "the subscription's plan")
    eq([g["remaining_micros"] for g in a["grants"] if g["source"] == "plan"], [4000000], "its credits")
    _send(_event("customer.subscription.deleted", dict(sub, status="canceled")))
    eq(get(acct)["plan"], None, "cleared")


# ---- where creditd and its contract disagree ----

@known_discrepancy("DESIGN §5 'Writes accept an Idempotency-Key header (or idempotency_key field): the same key "
                   "with the same body returns the first result; with a different body, 409' and docs/api.md's "
                   "intro ('Writes take an Idempotency-Key header (or an idempotency_key field)') name no "
                   "exception for POST /v1/accounts/{id}/browser_tokens; creditd refuses the field (400 "
                   "param idempotency_key, as docs/openapi.yaml's BrowserTokenCreate allows) and ignores the "
                   "header (another body under the same key: 201)")
def test_browser_tokens_take_an_idempotency_key():
    acct = new_account("btik")
    k = uid("bk")
    r = api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 120, "idempotency_key": k}, auth="app")
    eq(r.status, 201, "the idempotency_key field is accepted: %r" % r)
    h = {"Idempotency-Key": uid("bh")}
    eq(api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 120}, auth="app", headers=h).status, 201, "minted")
    err(api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 300}, auth="app", headers=h), 409, "conflict",
        what="the same Idempotency-Key with another body")


@known_discrepancy("DESIGN §11: 'Journal rows of cause usage carry usage: {model, input_tokens, ...} (the usage "
                   "record of that charge); other rows carry usage: null'; docs/api.md (transactions) says a "
                   "POST /v1/usage sent without request_id carries usage: null, and creditd does so")
def test_every_usage_row_carries_its_usage():
    acct = new_account("unul")
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10},
            auth="guard")
    eq(r.status, 200, "usage without request_id")
    row = txns(acct)[0]
    eq(row["cause"], "usage", "a usage row")
    check(row["usage"] is not None, "its usage record on the journal row: %r" % row)
    eq(row["usage"]["model"], "gpt-4o", "the model")


@known_discrepancy("DESIGN §11: with a member's browser token '/v1/me/transactions lists that member's usage "
                   "rows only' and '/v1/me/usage sums that member's rows only'; creditd leaves out of "
                   "/v1/me/transactions the member's POST /v1/usage charges sent without request_id, while "
                   "/v1/me/usage and the member's month_spent_micros count them")
def test_member_history_lists_all_its_usage():
    ws = new_account("wmh", kind="workspace")
    for m in ("ann", "ben"):
        api("POST", path(ws, "/members"), {"member": m})
    api("POST", "/v1/usage", {"account": ws, "member": "ann", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10},
        auth="guard")
    api("POST", "/v1/usage", {"account": ws, "member": "ann", "model": "gpt-4o", "input_tokens": 11, "output_tokens": 10,
                              "request_id": uid()}, auth="guard")
    api("POST", "/v1/usage", {"account": ws, "member": "ben", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10,
                              "request_id": uid()}, auth="guard")
    tok = api("POST", path(ws, "/browser_tokens"), {"member": "ann"}, auth="app").json["token"]
    rows = api("GET", "/v1/me/transactions", auth=tok).json["data"]
    usage = api("GET", "/v1/me/usage", auth=tok).json["total"]
    eq(usage["requests"], 2, "/v1/me/usage: ann's two calls")
    eq(-sum(x["amount_micros"] for x in rows), usage["cost_micros"], "her history adds up to her usage")
    eq(len(rows), 2, "/v1/me/transactions: ann's two usage rows")


@known_discrepancy("DESIGN §10: 'GET /v1/keys is not exposed: keys stay a creditctl matter'; docs/api.md "
                   "('API keys') documents GET/POST /v1/keys and DELETE /v1/keys/{id}, and creditd answers them "
                   "(DESIGN §15's console has a keys page but maps it onto {base}/console/ routes)")
def test_keys_are_not_exposed_under_v1():
    err(api("GET", "/v1/keys", auth="admin"), 404, "not_found", what="GET /v1/keys")


@known_discrepancy("DESIGN §5: writes accept an Idempotency-Key and 'the same key with the same body returns the "
                   "first result'; docs/api.md says POST /v1/keys and POST .../gateway_keys read no "
                   "Idempotency-Key (the answer holds a secret never stored), and creditd mints a second key")
def test_key_mints_replay_under_an_idempotency_key():
    h = {"Idempotency-Key": uid("mk")}
    body = {"scopes": ["read"], "name": uid("kk")}
    r1, r2 = api("POST", "/v1/keys", body, headers=h), api("POST", "/v1/keys", body, headers=h)
    eq((r1.status, r2.status), (201, 201), "minted")
    eq(r1.json["id"], r2.json["id"], "the same key with the same body: the first result, not a second key")


@known_discrepancy("docs/creditctl.md: 'price list' is the price list 'as GET /v1/models' (docs/creditctl.8 "
                   "the same); creditctl prints \"currency\": \"\" where GET /v1/models answers the "
                   "deployment's currency (EUR), its models and actions otherwise the same")
def test_creditctl_price_list_is_get_v1_models():
    p = creditctl("price", "list")
    listed = json.loads(p.stdout)
    m = prices()
    eq((listed["data"], listed["actions"], listed["margin_bps"]), (m["data"], m["actions"], m["margin_bps"]),
       "the same models, actions and margin")
    eq(listed["currency"], m["currency"], "the same currency")


def test_default_page_and_the_body_limit():
    acct = new_account("page")
    for _ in range(55):
        api("POST", path(acct, "/grants"), {"amount_micros": 1, "source": "promo"})
    r = api("GET", path(acct, "/transactions"), auth="read").json
    eq((len(r["data"]), r["has_more"]), (50, True), "a page is 50 rows by default")
    check(r["next_cursor"], "and a cursor to the rest")
    body = {"id": uid(), "kind": "user", "description": ""}
    body["description"] = "x" * (65536 - len(json.dumps(body).encode()))
    r = api("POST", "/v1/accounts", body)
    eq(r.status, 400, "64 KiB exactly is read (and its unknown field named): %r" % r)
    eq(r.json["error"]["param"], "description", "named")
    body["description"] += "x"
    err(api("POST", "/v1/accounts", body), 413, "payload_too_large", what="one byte more")
