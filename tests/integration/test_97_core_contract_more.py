"""test_97_core_contract_more.py: more of the ledger's contract from
outside (test_97_core_contract.py says how): the outbox pulled, creditctl's
exit codes (the database unreachable too), the guard's order of checks,
overdrafts, rate limits, shrink, settles beyond a hold, the operator's
reads, threshold alerts, keys through the API, members' browser tokens,
the spending order, events of money and limits, concurrent redemptions,
bound keys, every usage row's record, and the writes that read no
Idempotency-Key (their answer a secret never stored)."""
import json
import os
import re
import subprocess
import time
import urllib.parse

from core_contract import (BONUS, ROOT, authorize, cost, ctl, err, get, hold, path, prices,
                           refused_unchanged, state, txns)
from lib import ENV, api, check, creditctl, eq, new_account, parallel, uid, verify, wait_until


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
    p = ctl("migrate", "--check", "--sql-dir", os.path.join(ROOT, "no-such-sql"))
    eq(p.returncode, 1, "migrate --check without its directory: %s" % p.stderr)
    check("no-such-sql" in p.stderr and "--sql-dir" in p.stderr, "names the directory and how to give it: %r" % p.stderr)
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


def test_every_usage_row_carries_its_usage():
    acct = new_account("unul")
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10},
            auth="guard")
    eq(r.status, 200, "usage without request_id")
    row = txns(acct)[0]
    eq(row["cause"], "usage", "a usage row")
    check(row["usage"] is not None, "its usage record on the journal row: %r" % row)
    eq(row["usage"]["model"], "gpt-4o", "the model")
    check(re.fullmatch(r"gw_usage_[0-9a-f]{32}", row["reference"] or "") is not None,
          "its reference, creditd's own key (docs/api.md): %r" % row["reference"])


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


# ---- secrets, and the price list as the API answers it ----

# Writes whose answer is a secret never stored are not idempotent
# (docs/decisions.md, "Idempotency-Key"; docs/api.md at each): DESIGN §5's
# rule names no exception, §15's console makes keys through the API
# ("every action is an existing API operation"), so GET /v1/keys is served
# though §10 kept it to creditctl.

def test_browser_tokens_read_no_idempotency_key():
    acct = new_account("btik")
    r = api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 120, "idempotency_key": uid("bk")}, auth="app")
    err(r, 400, "invalid_request", "idempotency_key", what="the idempotency_key field")
    h = {"Idempotency-Key": uid("bh")}
    t1 = api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 120}, auth="app", headers=h)
    t2 = api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 300}, auth="app", headers=h)
    eq((t1.status, t2.status), (201, 201), "each minted: %r %r" % (t1, t2))
    check(t1.json["token"] != t2.json["token"], "two tokens, never a replay of a secret")


def test_key_mints_read_no_idempotency_key():
    h = {"Idempotency-Key": uid("mk")}
    body = {"scopes": ["read"], "name": uid("kk")}
    r1, r2 = api("POST", "/v1/keys", body, headers=h), api("POST", "/v1/keys", body, headers=h)
    eq((r1.status, r2.status), (201, 201), "minted")
    check(r1.json["id"] != r2.json["id"], "a second key, the first's secret never stored to replay")
    for r in (r1, r2):
        eq(api("DELETE", "/v1/keys/%d" % r.json["id"]).status, 200, "revoked")


def test_creditctl_price_list_is_get_v1_models():
    p = creditctl("price", "list")
    listed = json.loads(p.stdout)
    m = prices()
    eq((listed["data"], listed["actions"], listed["margin_bps"]), (m["data"], m["actions"], m["margin_bps"]),
       "the same models, actions and margin")
    eq(listed["currency"], m["currency"], "the same currency")
