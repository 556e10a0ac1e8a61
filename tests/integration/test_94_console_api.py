"""test_94_console_api.py: the operator's reads and keys the console's
pages use (docs/api.md, "The operator's reads", "API keys"): accounts
searched and paged, GET /v1/health, GET /v1/overview, GET/POST/DELETE
/v1/keys. Each route is checked for its answer against what MariaDB holds,
for who may call it (a read key reads, only an admin key writes, an app
key and a bound key are refused), and for its errors in creditd's shape."""
import os
import time
import urllib.parse

from lib import api, check, creditctl, eq, key, new_account, sql, uid

HERE = os.path.dirname(os.path.abspath(__file__))


def q(s):
    return urllib.parse.quote(s, safe="")


def search(text, auth="read", **params):
    query = "q=" + q(text) + "".join("&%s=%s" % (k, q(str(v))) for k, v in params.items())
    return api("GET", "/v1/accounts?" + query, auth=auth)


def bound_read_key(acct_id):
    out = creditctl("key", "create", "--scope", "read", "--account", acct_id, "--name", "bound")
    return out.stdout.strip().splitlines()[-1]


# ---- accounts search ----

def test_search_by_id_prefix_and_email_paged():
    stem = uid("srch")
    ids = [new_account(stem + "-%d" % i) for i in range(5)]
    mailed = new_account("other", email="%s@example.com" % stem.replace("-", "."))
    r = search(stem)
    eq(r.status, 200, "search: %r" % r)
    eq([a["id"] for a in r.json["data"]], sorted(ids), "the id prefix's accounts in id order")
    eq(r.json["has_more"], False, "one page")
    row = r.json["data"][0]
    eq(set(row), {"id", "kind", "status", "balance_micros", "reserved_micros", "email", "created_at"}, "fields")
    eq(row["balance_micros"], int(sql("SELECT balance_micros FROM accounts WHERE ext_id = '%s'" % row["id"])[0][0]),
       "balance as MariaDB has it")
    # By email (case does not matter for an address).
    r = search(stem.replace("-", ".").upper())
    eq([a["id"] for a in r.json["data"]], [mailed], "by the email's start")
    eq(r.json["data"][0]["email"], "%s@example.com" % stem.replace("-", "."), "the email shown")
    # Paged: two, two, one; the cursor walks on in id order, nothing twice.
    seen, cursor, pages = [], None, 0
    while True:
        extra = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        r = search(stem, **extra)
        eq(r.status, 200, "page: %r" % r)
        seen += [a["id"] for a in r.json["data"]]
        pages += 1
        if not r.json["has_more"]:
            eq(r.json["next_cursor"], None, "no cursor on the last page")
            break
        cursor = r.json["next_cursor"]
    eq((seen, pages), (sorted(ids), 3), "every account once, in three pages")


def test_search_wildcards_are_literal_and_limits_refused():
    stem = uid("wild")
    new_account(stem)
    eq(search("%").json["data"], [], "% is a character, not a wildcard")
    eq(search(stem[:4] + "_").json["data"], [], "_ is literal")
    for bad in ("0", "101", "x"):
        r = search(stem, limit=bad)
        eq((r.status, r.err.get("param"), r.err.get("code")), (400, "limit", "invalid_request"), "limit=%s" % bad)
    r = search("x" * 129)
    eq((r.status, r.err.get("param")), (400, "q"), "q too long")
    # Every account, no q: a page of the first ones in id order.
    r = api("GET", "/v1/accounts?limit=3", auth="admin")
    eq(r.status, 200, "no q")
    ids = [a["id"] for a in r.json["data"]]
    eq(ids, sorted(ids), "in id order")


def test_operator_reads_refuse_app_and_bound_keys():
    acct_id = new_account("bnd")
    bound = bound_read_key(acct_id)
    for path in ("/v1/accounts?q=a", "/v1/health", "/v1/overview", "/v1/keys"):
        r = api("GET", path, auth="app")
        eq((r.status, r.err.get("code")), (403, "forbidden"), "app key on %s" % path)
        r = api("GET", path, auth=bound)
        eq((r.status, r.err.get("code")), (403, "forbidden"), "bound read key on %s" % path)
        r = api("GET", path, auth=None)
        eq(r.status, 401, "no key on %s" % path)
        eq(api("GET", path, auth="read").status, 200, "read key on %s" % path)
        eq(api("GET", path, auth="admin").status, 200, "admin key on %s" % path)


# ---- health ----

def test_health_names_database_migrations_version_and_no_secret():
    r = api("GET", "/v1/health", auth="read")
    eq(r.status, 200, "health: %r" % r)
    h = r.json
    eq(h["database"]["reachable"], True, "database reachable")
    latest = sorted(f for f in os.listdir(os.path.join(HERE, "..", "..", "sql")) if f[:3].isdigit())[-1]
    applied = sql("SELECT MAX(name), COUNT(*) FROM schema_migrations")[0]
    eq(h["migrations"], {"expected": latest, "applied_latest": applied[0], "applied": int(applied[1]),
                         "current": applied[0] == latest}, "migrations as sql/ and the database have them")
    eq(h["status"], "ok" if applied[0] == latest else "degraded", "status")
    check(h["version"], "a version")
    check(isinstance(h["providers"], list), "providers listed")
    for p in h["providers"]:
        eq(set(p), {"name", "tries", "failed"}, "a provider's fields")
    text = r.raw.decode()
    for name in ("admin", "read", "guard", "app"):
        check(key(name) not in text, "no API key in the answer")
    check("password" not in text and "sk-" not in text, "no secret in the answer")


# ---- overview ----

def test_overview_sums_match_the_ledger():
    debtor = new_account("debt", overdraft_limit_micros=50000000)
    r = api("POST", "/v1/accounts/%s/debits" % q(debtor), {"amount_micros": 30000000, "reason": "test",
                                                           "idempotency_key": uid("d")})
    check(r.status in (200, 201), "debit into overdraft: %r" % r)
    spender = new_account("spend")
    r = api("POST", "/v1/usage", {"account": spender, "model": "gpt-4o", "input_tokens": 1000,
                                  "output_tokens": 100, "request_id": uid("u")}, auth="guard")
    eq(r.status, 200, "usage: %r" % r)
    def sums():
        row = sql("SELECT SUM(GREATEST(balance_micros, 0)), -SUM(LEAST(balance_micros, 0)), COUNT(*), "
                  "SUM(balance_micros < 0) FROM accounts")[0]
        month = sql("SELECT IFNULL(SUM(cost_micros), 0), COUNT(*), IFNULL(SUM(cost_micros - base_cost_micros), 0), "
                    "COUNT(base_cost_micros) FROM usage_records WHERE byok = 0 AND "
                    "created_at >= UNIX_TIMESTAMP(DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-01')) AND "
                    "created_at <= UNIX_TIMESTAMP()")[0]	# the month so far (a file may date records ahead)
        top = sql("SELECT ext_id, month_spent_micros FROM accounts WHERE month_spent_micros > 0 AND "
                  "month_key = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m') ORDER BY month_spent_micros DESC, id LIMIT 10")
        return (tuple(int(x) for x in row), (int(month[0]), int(month[1])), [(t[0], int(t[1])) for t in top],
                int(month[2]) if int(month[3]) > 0 else None)

    # The stack's sweeper may capture an earlier file's expired holds
    # meanwhile: the overview is held to MariaDB's sums read before and
    # after it, when the two agree (nothing moved in between).
    for _ in range(20):
        before = sums()
        r = api("GET", "/v1/overview", auth="read")
        eq(r.status, 200, "overview: %r" % r)
        if sums() == before:
            break
        time.sleep(0.5)
    o = r.json
    eq((o["prepaid_micros"], o["debt_micros"], o["accounts"], o["accounts_in_debt"]), before[0],
       "balances as MariaDB sums them")
    check(o["debt_micros"] >= 20000000, "the overdrawn account's debt counted")
    eq((o["month"]["spend_micros"], o["month"]["calls"]), before[1], "the month's spend")
    check(o["today"]["calls"] >= 1 and o["calls_last_minute"] >= 1, "the usage just made is counted")
    eq(o["month"]["margin_micros"], before[3], "the month's margin: charged less the cost before the margin, "
       "over the records that keep it (sql/078; POST /v1/usage's do not)")
    eq([(a["id"], a["month_spent_micros"]) for a in o["top_accounts"]], before[2],
       "the month's top ten as MariaDB orders them")
    check(int(sql("SELECT month_spent_micros FROM accounts WHERE ext_id = '%s'" % spender)[0][0]) > 0,
          "the usage counted in the spender's month")
    eq(o["mails_failed"], int(sql("SELECT COUNT(*) FROM event_mails WHERE state = 'failed'")[0][0]), "mails")
    eq(o["events_failed"], int(sql("SELECT COUNT(*) FROM events WHERE state = 'failed'")[0][0]), "events")
    check(isinstance(o["failing_providers"], list), "failing providers listed")


# ---- keys ----

def test_keys_create_list_revoke_as_creditctl():
    acct_id = new_account("kb")
    r = api("POST", "/v1/keys", {"scopes": ["read", "app"], "name": "console made", "account": acct_id,
                                 "models": ["gpt-4o"]})
    eq(r.status, 201, "create: %r" % r)
    made = r.json
    secret = made["key"]
    check(secret.startswith("crd_") and made["prefix"] == secret[:12], "the secret and its prefix")
    eq((made["scopes"], made["account"], made["models"], made["revoked_at"]),
       (["read", "app"], acct_id, ["gpt-4o"], None), "as asked")
    # The key works, bound as asked.
    eq(api("GET", "/v1/accounts/%s" % q(acct_id), auth=secret).status, 200, "the new key reads its account")
    # Listed without the secret or its hash, as creditctl lists it.
    listed, cursor = [], None
    while True:
        r = api("GET", "/v1/keys?limit=2" + ("&cursor=%d" % cursor if cursor else ""), auth="read")
        eq(r.status, 200, "list: %r" % r)
        listed += r.json["data"]
        if not r.json["has_more"]:
            break
        cursor = r.json["next_cursor"]
    ids = [k["id"] for k in listed]
    eq(ids, sorted(set(ids)), "every key once, by id")
    mine = [k for k in listed if k["id"] == made["id"]][0]
    check("key" not in mine and secret not in str(listed), "no secret listed")
    eq(set(mine), {"id", "prefix", "name", "scopes", "models", "account", "created_at", "revoked_at"}, "fields")
    check(str(made["id"]) in creditctl("key", "list").stdout, "creditctl sees it")
    # Revoked: refused from then on; a second revoke answers the same.
    r = api("DELETE", "/v1/keys/%d" % made["id"])
    eq((r.status, r.json), (200, {"id": made["id"], "revoked": True}), "revoke")
    eq(api("DELETE", "/v1/keys/%d" % made["id"]).status, 200, "revoke again")
    check(sql("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = %d" % made["id"])[0][0] == "1", "revoked row")
    eq(api("GET", "/v1/accounts/%s" % q(acct_id), auth=secret).status, 401, "the revoked key is refused")
    r = api("DELETE", "/v1/keys/999999999")
    eq((r.status, r.err.get("code")), (404, "not_found"), "unknown key")
    eq(api("DELETE", "/v1/keys/abc").status, 404, "a key id of no shape")


def test_keys_rules_and_scopes():
    acct_id = new_account("kr")
    cases = [({"scopes": ["admin"], "account": acct_id}, "account"),
             ({"scopes": ["gateway"]}, "scopes"),
             ({"scopes": ["root"]}, "scopes"),
             ({"scopes": []}, "scopes"),
             ({"scopes": ["read"], "models": []}, "models"),
             ({"scopes": ["read"], "models": ["a b"]}, "models"),
             ({"scopes": ["read"], "secret": "x"}, "secret"),
             ({}, "scopes")]
    before = sql("SELECT COUNT(*) FROM api_keys")[0][0]
    for body, param in cases:
        r = api("POST", "/v1/keys", body)
        eq((r.status, r.err.get("param"), r.err.get("type")), (400, param, "invalid_request_error"), repr(body))
    r = api("POST", "/v1/keys", {"scopes": ["read"], "account": uid("nobody")})
    eq(r.status, 404, "an unknown account: %r" % r)
    eq(sql("SELECT COUNT(*) FROM api_keys")[0][0], before, "nothing stored")
    # Writes: admin only.
    for auth in ("read", "app", "guard"):
        eq(api("POST", "/v1/keys", {"scopes": ["read"]}, auth=auth).status, 403, "create with %s" % auth)
        eq(api("DELETE", "/v1/keys/1", auth=auth).status, 403, "revoke with %s" % auth)
    # An admin key never revokes itself here (docs/api.md): 409, still live.
    made = api("POST", "/v1/keys", {"scopes": ["admin"], "name": "self"}).json
    r = api("DELETE", "/v1/keys/%d" % made["id"], auth=made["key"])
    eq((r.status, r.err.get("code")), (409, "conflict"), "self-revoke: %r" % r)
    eq(api("GET", "/v1/keys?limit=1", auth=made["key"]).status, 200, "still live")
    eq(api("DELETE", "/v1/keys/%d" % made["id"]).status, 200, "another admin key revokes it")


# ---- prices ----

def listed_model(model, provider=None):
    for m in api("GET", "/v1/models", auth="read").json["data"]:
        if m["model"] == model and m.get("provider") == provider:
            return m
    return None


def test_price_put_sets_as_creditctl_price_set_and_history_lists_it():
    model = uid("put-model")
    path = "/v1/models/" + q(model)
    r = api("PUT", path, {"input_micros_per_mtok": 1000000})
    eq((r.status, r.err.get("code")), (400, "invalid_request"), "a new model without its output: %r" % r)
    check("output_micros_per_mtok" in r.err["message"], "names what is missing")
    eq(listed_model(model), None, "nothing priced")
    r = api("PUT", path, {"input_micros_per_mtok": 1000000, "output_micros_per_mtok": 4000000,
                          "max_output_tokens": 8000, "priority_input_micros_per_mtok": 2000000,
                          "web_search_micros_per_call": 10000}, headers={"Idempotency-Key": uid("k")})
    eq(r.status, 200, "set: %r" % r)
    eq((r.json["model"], r.json["cached_input_micros_per_mtok"], r.json["cache_write_micros_per_mtok"],
        r.json["web_search_micros_per_call"], r.json["flex_input_micros_per_mtok"]),
       (model, 1000000, 1000000, 10000, None), "priced as said, shown as listed")
    m = listed_model(model)
    check(m is not None, "GET /v1/models lists it at once")
    eq((m["output_micros_per_mtok"], m["priority_input_micros_per_mtok"]), (4000000, 2000000), "listed")
    # A change keeps what is not named; null unprices a dimension.
    r = api("PUT", path, {"cached_input_micros_per_mtok": 100000, "web_search_micros_per_call": None})
    eq(r.status, 200, "change: %r" % r)
    m = listed_model(model)
    eq((m["input_micros_per_mtok"], m["cached_input_micros_per_mtok"], m["web_search_micros_per_call"],
        m["priority_input_micros_per_mtok"]), (1000000, 100000, None, 2000000), "kept, changed, unpriced")
    # The same body again changes nothing and adds no history.
    eq(api("PUT", path, {"cached_input_micros_per_mtok": 100000}).status, 200, "again")
    eq(int(sql("SELECT COUNT(*) FROM price_history WHERE model = '%s'" % model)[0][0]), 2, "two changes kept")
    # creditctl sees the same history; the API pages it.
    check(len(creditctl("price", "history", model).stdout.strip().splitlines()) == 2, "creditctl's history")
    r = api("GET", path + "/history?limit=1", auth="read")
    eq((r.status, len(r.json["data"]), r.json["has_more"]), (200, 1, True), "page one: %r" % r)
    first = r.json["data"][0]
    eq((first["input_micros_per_mtok"], first["web_search_micros_per_call"], first["provider"]),
       (1000000, 10000, None), "the first price")
    r = api("GET", path + "/history?limit=1&cursor=" + q(r.json["next_cursor"]), auth="read")
    eq((len(r.json["data"]), r.json["has_more"], r.json["data"][0]["cached_input_micros_per_mtok"]),
       (1, False, 100000), "page two, the last")
    r = api("GET", "/v1/models/%s/history" % q(uid("never")), auth="read")
    eq((r.status, r.err.get("code")), (404, "not_found"), "a model never priced")
    eq(api("GET", path + "/history?cursor=zz", auth="read").status, 400, "a bad cursor")


def test_price_put_refusals_and_a_provider_row():
    model = uid("put-prov")
    path = "/v1/models/" + q(model)
    r = api("PUT", path + "?provider=openai", {"input_micros_per_mtok": 1, "output_micros_per_mtok": 1,
                                               "max_output_tokens": 10})
    eq(r.status, 400, "a provider's row needs the general one first: %r" % r)
    eq(api("PUT", path, {"input_micros_per_mtok": 3000000, "output_micros_per_mtok": 6000000,
                         "max_output_tokens": 4000}).status, 200, "general row")
    r = api("PUT", path + "?provider=openai", {"input_micros_per_mtok": 2000000})
    eq((r.status, r.json.get("provider"), r.json.get("output_micros_per_mtok")), (200, "openai", 6000000),
       "the provider's row starts from the general one: %r" % r)
    eq(listed_model(model, "openai")["input_micros_per_mtok"], 2000000, "listed for its provider")
    r = api("PUT", path + "?provider=nosuch", {"input_micros_per_mtok": 1})
    eq((r.status, r.err.get("param")), (400, "provider"), "an unknown provider")
    for body, param in (({"input_micros_per_mtok": -5}, "input_micros_per_mtok"), ({"reasoning": 2}, "reasoning"),
                        ({"tier_threshold_tokens": 0}, "tier_threshold_tokens"), ({"bogus": 1}, "bogus"),
                        ({"input_micros_per_mtok": "12"}, "input_micros_per_mtok"), ({}, None)):
        r = api("PUT", path, body)
        eq((r.status, r.err.get("param")), (400, param), repr(body))
    eq(listed_model(model)["input_micros_per_mtok"], 3000000, "nothing changed")
    for auth in ("read", "app", "guard"):
        eq(api("PUT", path, {"input_micros_per_mtok": 1}, auth=auth).status, 403, "PUT with %s" % auth)
    eq(api("GET", path + "/history", auth="app").status, 403, "history with an app key")


# ---- deliveries ----

def test_mails_lists_failed_deliveries_and_retry_sends_again():
    acct_id = new_account("mail")
    aid = int(sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct_id)[0][0])
    # A push given up; a push delivered whose mail was given up; one
    # delivered. Their ids from event_seq, as creditd takes them (an id
    # set by hand far ahead would move the stack's mailer past every
    # event creditd writes after it); their data a balance.low's whole, as
    # docs/openapi.yaml holds every answer of GET /v1/events (another
    # file's page on the same stack may list them).
    for state in ("failed", "delivered", "delivered"):
        sql("START TRANSACTION; UPDATE event_seq SET last_id = LAST_INSERT_ID(last_id + 1) WHERE id = 1; "
            "INSERT INTO events (id, account_id, account, type, data, created_at, state, attempts, next_attempt_at, "
            "last_error) VALUES (LAST_INSERT_ID(), %d, '%s', 'balance.low', "
            "'{\"available_micros\": 0, \"balance_micros\": 0, \"threshold_micros\": 1000000}', UNIX_TIMESTAMP(), '%s', 8, 0, %s); "
            "COMMIT" % (aid, acct_id, state, "'HTTP 500'" if state == "failed" else "NULL"))
    ids = [int(r[0]) for r in sql("SELECT id FROM events WHERE account_id = %d ORDER BY id" % aid)]
    eq(len(ids), 3, "the three events made")
    base = ids[0]
    sql("INSERT INTO event_mails (event_id, account_id, state, attempts, next_at, last_error, created_at) "
        "VALUES (%d, %d, 'failed', 5, 0, 'smtp 550', UNIX_TIMESTAMP())" % (ids[1], aid))
    r = api("GET", "/v1/mails?status=failed&limit=100&cursor=%d" % (base - 1), auth="read")
    eq(r.status, 200, "list: %r" % r)
    got = {d["id"]: d for d in r.json["data"]}
    eq(sorted(got), [base, ids[1]], "the failed push and the failed mail, not the delivered one")
    eq((got[base]["push"]["state"], got[base]["push"]["last_error"], got[base]["mail"], got[base]["account"]),
       ("failed", "HTTP 500", None, acct_id), "the failed push")
    eq((got[ids[1]]["push"]["state"], got[ids[1]]["mail"]["state"], got[ids[1]]["mail"]["last_error"]),
       ("delivered", "failed", "smtp 550"), "the failed mail")
    r = api("GET", "/v1/mails?status=failed&limit=1&cursor=%d" % (base - 1), auth="read")
    eq((len(r.json["data"]), r.json["has_more"], r.json["next_cursor"]), (1, True, base), "paged by id")
    eq(api("GET", "/v1/mails?status=sent", auth="read").err.get("param"), "status", "a bad status")
    # Retry: the push and the mail are due again, as creditctl events retry.
    r = api("POST", "/v1/mails/%d/retry" % (ids[1]), {}, headers={"Idempotency-Key": uid("k")})
    eq((r.status, r.json), (200, {"id": ids[1], "push_retried": False, "mail_retried": True}), "retry a mail")
    check(sql("SELECT state FROM event_mails WHERE event_id = %d" % (ids[1]))[0][0] != "failed", "mail due")
    r = api("POST", "/v1/mails/%d/retry" % base, {})
    eq((r.status, r.json["push_retried"]), (200, True), "retry a push")
    check(sql("SELECT state FROM events WHERE id = %d" % base)[0][0] != "failed", "push due")
    r = api("POST", "/v1/mails/%d/retry" % (ids[2]), {})
    eq((r.status, r.err.get("code")), (404, "not_found"), "a delivered one has nothing to retry")
    eq(api("POST", "/v1/mails/x/retry", {}).status, 404, "an id of no shape")
    for auth in ("read", "app"):
        eq(api("POST", "/v1/mails/%d/retry" % base, {}, auth=auth).status, 403, "retry with %s" % auth)
    eq(api("GET", "/v1/mails", auth="app").status, 403, "list with an app key")


# ---- reconcile ----

def test_reconcile_gives_creditds_side_by_day_and_model():
    acct_id = new_account("recon")
    model = "gpt-4o"
    for _ in range(2):
        eq(api("POST", "/v1/usage", {"account": acct_id, "model": model, "input_tokens": 1000, "output_tokens": 50,
                                     "request_id": uid("u")}, auth="guard").status, 200, "usage")
    # The day of this account's records (another file of the stack may have
    # written records on another day, its clock moved).
    today = sql("SELECT DATE_FORMAT(FROM_UNIXTIME(MAX(u.created_at)), '%%Y-%%m-%%d') FROM usage_records u "
                "JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct_id)[0][0]
    r = api("GET", "/v1/reconcile?from=%s&to=%s" % (today, today), auth="read")
    eq(r.status, 200, "reconcile: %r" % r)
    eq(r.json["from"][:10], today, "the day")
    # No reconcile run compared this model (test_94c: what one stores).
    eq([d for d in r.json["drift"] or [] if d["model"] == model], [], "no drift of the model stored")
    row = [d for d in r.json["data"] if d["model"] == model and d["day"] == today][0]
    want = sql("SELECT COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros) FROM usage_records "
               "WHERE byok = 0 AND model = '%s' AND created_at >= UNIX_TIMESTAMP('%s') AND "
               "created_at < UNIX_TIMESTAMP('%s') + 86400" % (model, today, today))[0]
    eq((row["requests"], row["input_tokens"], row["output_tokens"], row["charged_micros"]),
       tuple(int(x) for x in want), "creditd's side as MariaDB sums it")
    check(set(row["by_settle_reason"]) == {"provider_usage", "client_gone", "estimated", "provider_error"},
          "by settle reason")
    for query, param in (("from=%s" % today, "to"), ("to=%s" % today, "from"), ("from=2026-13-01&to=2026-13-02", "from"),
                         ("from=2026-01-10&to=2026-01-09", "to"), ("from=2026-01-01&to=2026-03-01", "to")):
        r = api("GET", "/v1/reconcile?" + query, auth="read")
        eq((r.status, r.err.get("param")), (400, param), query)
    eq(api("GET", "/v1/reconcile?from=%s&to=%s" % (today, today), auth="app").status, 403, "app key")


def test_operator_queries_read_index_ranges():
    """EXPLAIN of the search's two halves and of the spend sums: each an
    index range (uq_ext_id, ix_email of sql/065, ix_created_model), never
    a scan of the table."""
    cols = "ext_id, kind, status, balance_micros, reserved_micros, email, created_at"
    plans = sql("EXPLAIN (SELECT %s FROM accounts WHERE ext_id LIKE 'ab%%' AND ext_id > '' ORDER BY ext_id LIMIT 26) "
                "UNION (SELECT %s FROM accounts WHERE email LIKE 'ab%%' AND ext_id > '' ORDER BY ext_id LIMIT 26) "
                "ORDER BY ext_id LIMIT 26" % (cols, cols))
    print("search plan: %r" % plans)
    keys = [p[5] for p in plans if p[2] == "accounts"]
    eq(sorted(keys), ["ix_email", "uq_ext_id"], "each half reads its own index")
    plan = sql("EXPLAIN SELECT CAST(IFNULL(SUM(cost_micros), 0) AS SIGNED), COUNT(*) FROM usage_records "
               "WHERE created_at >= 0 AND created_at < 60 AND byok = 0")
    print("spend plan: %r" % plan)
    eq(plan[0][5], "ix_created_model", "the spend reads ix_created_model")
