"""test_97_core_contract.py: the ledger's HTTP and creditctl contract
checked from outside, as an app's developer or an operator meets it:
plain HTTP through nginx and creditctl's exit codes, against what
docs/api.md, docs/openapi.yaml, docs/creditctl.md and docs/operations.md
promise (routes, fields, status and error codes, exit codes). Broad
rather than deep: the stack's environment, /healthz, /metrics, keys and
scopes, accounts, grants, debits, the journal, the guard (authorize,
settle, release, expiry, idempotency), POST /v1/usage, usage reports,
plans, members, promo codes and referral codes. Every refusal is checked
twice: its error shape and code, and the ledger left as it was. More in
test_97_core_contract_more.py (the guard's order and limits, events,
creditctl, bound keys, and where creditd and its contract disagree) and
test_97_core_contract_stripe.py (top-ups, the Stripe webhook, browser
tokens)."""
import json
import time
import urllib.parse

from core_contract import BONUS, authorize, cost, ctl, err, get, hold, path, prices, refused_unchanged, state, txns
from lib import ENV, api, check, creditctl, eq, new_account, uid, verify


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
