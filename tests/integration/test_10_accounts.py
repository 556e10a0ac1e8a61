"""test_10_accounts.py: the ledger core through nginx (issue "Ledger core").

Accounts, grants, debits, the journal and its pages, idempotency, the
spending order, expiry, creditctl's ledger commands and `verify`. Every bad
request is checked twice: the answer (a 4xx JSON error naming the field)
and the ledger (the account, its journal and its grants are exactly as
they were before, read through the API and straight from MariaDB)."""
import datetime
import json
import random
import re
import threading
import time
import urllib.parse

from lib import Fail, api, check, creditctl, eq, new_account, parallel, sql, uid, verify, wait_until

BONUS = 10000000
INT64_MAX = 9223372036854775807
ACCOUNT_FIELDS = {"id", "kind", "status", "currency", "balance_micros", "reserved_micros", "available_micros",
                  "month_spent_micros", "monthly_limit_micros", "overdraft_limit_micros", "low_balance_micros",
                  "plan", "grants", "daily_limit_micros", "period_start", "period_end"}
GRANT_FIELDS = {"id", "source", "remaining_micros", "priority", "expires_at"}
TXN_FIELDS = {"id", "amount_micros", "balance_after_micros", "cause", "source", "reference", "description",
              "created_at"}
ANY = object()  # a malformed body with no single field to blame: param may be null or a guess
ERROR_TYPES = {400: "invalid_request_error", 402: "insufficient_quota", 404: "not_found_error",
               409: "conflict_error", 413: "invalid_request_error"}


# ---- helpers ----

def p(acct_id):
    """The account's URL path segment (any bytes, percent-encoded)."""
    if isinstance(acct_id, str):
        acct_id = acct_id.encode()
    return "/v1/accounts/" + urllib.parse.quote(acct_id, safe="")


def hexid(acct_id):
    if isinstance(acct_id, str):
        acct_id = acct_id.encode()
    return "X'%s'" % acct_id.hex() if acct_id else "''"


def get(acct_id):
    r = api("GET", p(acct_id), auth="read")
    eq(r.status, 200, "GET %s: %r" % (acct_id, r))
    return r.json


def journal(acct_id):
    """(id, amount, balance_after, cause, source) rows straight from MariaDB, oldest first."""
    rows = sql("SELECT j.id, j.amount_micros, j.balance_after_micros, j.cause, COALESCE(j.source, '') "
               "FROM journal j JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = %s ORDER BY j.id"
               % hexid(acct_id))
    return [(int(r[0]), int(r[1]), int(r[2]), r[3], r[4]) for r in rows]


def db_state(acct_id):
    """Everything the ledger keeps for an account, from MariaDB, in one
    query: (account row, grant rows, journal rows), each a list of lists."""
    x = hexid(acct_id)
    row = sql("SELECT (SELECT CONCAT_WS(',', status, balance_micros, reserved_micros, overdraft_limit_micros, "
              "COALESCE(monthly_limit_micros, -1), COALESCE(low_balance_micros, -1), HEX(COALESCE(plan, '')), "
              "month_spent_micros) FROM accounts WHERE ext_id = %s), "
              "(SELECT GROUP_CONCAT(CONCAT_WS(',', g.id, g.source, g.amount_micros, g.remaining_micros, g.priority, "
              "COALESCE(g.expires_at, -1)) ORDER BY g.id SEPARATOR ';') FROM grants g "
              "JOIN accounts a ON a.id = g.account_id WHERE a.ext_id = %s), "
              "(SELECT GROUP_CONCAT(CONCAT_WS(',', j.id, j.amount_micros, j.balance_after_micros, j.cause, "
              "COALESCE(j.source, '')) ORDER BY j.id SEPARATOR ';') FROM journal j "
              "JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = %s)" % (x, x, x))[0]
    acct, grants, rows = ([part.split(",") for part in col.split(";")] if col != "NULL" else [] for col in row)
    return acct, grants, [(int(r[0]), int(r[1]), int(r[2]), r[3], r[4]) for r in rows]


def snapshot(acct_id):
    return get(acct_id), db_state(acct_id)


def accounts_total():
    return int(sql("SELECT COUNT(*) FROM accounts")[0][0])


def exists(acct_id):
    return int(sql("SELECT COUNT(*) FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0]) == 1


def is_error(r, status, code, param, what):
    """r is DESIGN's error object with this status, code and param."""
    eq(r.status, status, "%s: status (%r)" % (what, r))
    check(r.json is not None and isinstance(r.json.get("error"), dict), "%s: JSON error body: %r" % (what, r))
    check(r.headers.get("content-type", "").startswith("application/json"), what + ": JSON content type")
    eq(r.err.get("type"), ERROR_TYPES[status], what + ": error type")
    eq(r.err.get("code"), code, what + ": error code")
    if param is not ANY:
        eq(r.err.get("param"), param, what + ": error param")
    check(isinstance(r.err.get("message"), str) and r.err["message"], what + ": a message")


def rejected(method, path, body, param, acct_id, what, status=400, code="invalid_request", headers=None):
    """Sends a bad request; checks the error and that acct_id's ledger is unchanged."""
    before = snapshot(acct_id)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = api(method, path, raw=raw, headers=headers)
    is_error(r, status, code, param, what)
    eq(snapshot(acct_id), before, what + ": ledger unchanged")
    return r


def in_seconds(s):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_epoch(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def grant(acct_id, amount, source="promo", **kw):
    body = {"amount_micros": amount, "source": source}
    body.update(kw)
    r = api("POST", p(acct_id) + "/grants", body)
    eq(r.status, 201, "grant: %r" % r)
    return r.json


def debit(acct_id, amount, reason="test debit", headers=None):
    return api("POST", p(acct_id) + "/debits", {"amount_micros": amount, "reason": reason}, headers=headers)


def remaining(acct_id):
    """grant id -> remaining_micros, in the order the account lists them."""
    return [(g["id"], g["remaining_micros"]) for g in get(acct_id)["grants"]]


def pages(acct_id, limit):
    """Walks every page; returns the entries in the order served."""
    out, cursor, seen_cursors = [], None, set()
    for _ in range(10000):
        q = "?limit=%d" % limit + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        r = api("GET", p(acct_id) + "/transactions" + q, auth="read")
        eq(r.status, 200, "page: %r" % r)
        check(len(r.json["data"]) <= limit, "page within limit")
        out.extend(r.json["data"])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return out
        check(cursor not in seen_cursors, "a cursor never repeats")
        seen_cursors.add(cursor)
    raise Fail("pagination does not end")


def ledger_consistent(acct_id):
    """DESIGN §4 invariant 1 for one account: balance = journal sum = grants sum, and the chain holds."""
    acct, grants, rows = db_state(acct_id)
    balance = int(acct[0][1])
    eq(sum(r[1] for r in rows), balance, "%s: balance = sum of journal" % acct_id)
    eq(sum(int(g[3]) for g in grants), balance, "%s: balance = sum of remaining grants" % acct_id)
    running = 0
    for r in rows:
        running += r[1]
        eq(r[2], running, "%s: balance_after_micros is the running sum" % acct_id)
    return balance


# ---- accounts: create ----

def test_create_grants_signup_bonus_once():
    acct_id = uid("create")
    body = {"id": acct_id, "kind": "user"}
    r = api("POST", "/v1/accounts", body)
    eq(r.status, 201, "first creation: %r" % r)
    eq(r.json["id"], acct_id, "id")
    eq(r.json["balance_micros"], BONUS, "signup bonus")
    eq(r.json["available_micros"], BONUS, "available")
    rows = journal(acct_id)
    eq(len(rows), 1, "one journal row")
    eq(rows[0][1:], (BONUS, BONUS, "grant", "signup_bonus"), "the bonus entry")
    r = api("POST", "/v1/accounts", body)
    eq(r.status, 200, "same body again")
    eq(r.json["balance_micros"], BONUS, "no second bonus")
    r = api("POST", "/v1/accounts", {"kind": "user", "id": acct_id, "overdraft_limit_micros": 0,
                                     "monthly_limit_micros": None, "plan": None})
    eq(r.status, 200, "the same settings spelled out with their defaults")
    eq(len(journal(acct_id)), 1, "still one journal row")
    ensure_plans()
    for other in ({"id": acct_id, "kind": "workspace"}, {"id": acct_id, "kind": "user", "plan": "pro"},
                  {"id": acct_id, "kind": "user", "overdraft_limit_micros": 5}):
        rejected("POST", "/v1/accounts", other, "id", acct_id, "same id, other body %r" % other,
                 status=409, code="conflict")
    rows = sql("SELECT COUNT(*) FROM grants g JOIN accounts a ON a.id = g.account_id "
               "WHERE a.ext_id = %s AND g.source = 'signup_bonus'" % hexid(acct_id))
    eq(rows[0][0], "1", "one signup_bonus grant")


def test_create_concurrent_same_id_grants_once():
    acct_id = uid("race")
    body = {"id": acct_id, "kind": "user"}
    results = parallel(20, lambda i: api("POST", "/v1/accounts", body))
    statuses = sorted(r.status for r in results)
    eq(statuses, [200] * 19 + [201], "one 201, the rest 200")
    check(all(r.json["balance_micros"] == BONUS for r in results), "every answer shows one bonus")
    eq(sql("SELECT COUNT(*) FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0], "1", "one account")
    rows = sql("SELECT COUNT(*) FROM grants g JOIN accounts a ON a.id = g.account_id "
               "WHERE a.ext_id = %s AND g.source = 'signup_bonus'" % hexid(acct_id))
    eq(rows[0][0], "1", "one signup_bonus grant")
    eq(len(journal(acct_id)), 1, "one journal row")
    # Concurrent creates with different bodies: one wins, the others conflict.
    other = uid("race2")
    results = parallel(10, lambda i: api("POST", "/v1/accounts", {"id": other, "kind": "user",
                                                                   "low_balance_micros": i}))
    eq(sorted(r.status for r in results), [201] + [409] * 9, "one creation, nine conflicts")
    eq(len(journal(other)), 1, "one journal row for the raced id")


def ensure_plans():
    """The catalogued plans these tests put accounts on."""
    for name in ("pro", "team", "gold", "silver"):
        r = api("PUT", "/v1/plans/" + name, {"credits_micros": 0, "rollover": "none"})
        eq(r.status, 200, "plan %s: %r" % (name, r))


def test_account_fields():
    ensure_plans()
    acct_id = uid("fields")
    r = api("POST", "/v1/accounts", {"id": acct_id, "kind": "workspace", "overdraft_limit_micros": 2000000,
                                     "monthly_limit_micros": 50000000, "low_balance_micros": 1000000,
                                     "plan": "team"})
    eq(r.status, 201, "create with every field")
    a = get(acct_id)
    check(ACCOUNT_FIELDS <= set(a), "DESIGN's fields present: missing %s" % (ACCOUNT_FIELDS - set(a)))
    check(set(a) - ACCOUNT_FIELDS <= {"created_at", "day_spent_micros", "auto_recharge", "card_saved",
                                         "requests_per_minute", "tokens_per_minute", "status_reason", "collection"},
          "no unexpected fields: %s" % (set(a) - ACCOUNT_FIELDS))
    eq(a["id"], acct_id, "id")
    eq(a["kind"], "workspace", "kind")
    eq(a["status"], "active", "status")
    eq(a["currency"], "EUR", "currency")
    eq(a["balance_micros"], BONUS, "balance")
    eq(a["reserved_micros"], 0, "reserved")
    eq(a["available_micros"], BONUS + 2000000, "available = balance - reserved + overdraft")
    eq(a["month_spent_micros"], 0, "month spent")
    eq(a["monthly_limit_micros"], 50000000, "monthly limit")
    eq(a["overdraft_limit_micros"], 2000000, "overdraft")
    eq(a["low_balance_micros"], 1000000, "low balance")
    eq(a["plan"], "team", "plan")
    eq(len(a["grants"]), 1, "one live grant")
    g = a["grants"][0]
    eq(set(g), GRANT_FIELDS, "grant fields")
    check(isinstance(g["id"], str) and g["id"], "grant ids are opaque strings")
    eq((g["source"], g["remaining_micros"], g["expires_at"]), ("signup_bonus", BONUS, None), "the bonus grant")
    check(isinstance(g["priority"], int) and 0 <= g["priority"] <= 100, "priority 0-100")
    plain = get(new_account("plain"))
    eq((plain["monthly_limit_micros"], plain["low_balance_micros"], plain["plan"], plain["overdraft_limit_micros"]),
       (None, None, None, 0), "unset optional fields are null (overdraft 0)")
    # Any bytes up to 128 may be an id; it round-trips through the path.
    for odd in ("a/b c?d&e=%f", "\u00e9" * 64, "x" * 128, "\U0001F600-emoji"):
        r = api("POST", "/v1/accounts", {"id": odd, "kind": "user"})
        check(r.status in (200, 201), "id %r accepted: %r" % (odd, r))
        eq(get(odd)["id"], odd, "id %r round-trips" % odd)


def test_unknown_account_is_404():
    ghost = uid("ghost")
    n = accounts_total()
    calls = [("GET", p(ghost), None, "read"), ("PATCH", p(ghost), {"plan": "x"}, "admin"),
             ("GET", p(ghost) + "/transactions", None, "read"),
             ("POST", p(ghost) + "/grants", {"amount_micros": 5, "source": "promo"}, "admin"),
             ("POST", p(ghost) + "/debits", {"amount_micros": 5, "reason": "x"}, "admin")]
    for method, path, body, auth in calls:
        r = api(method, path, body, auth=auth)
        is_error(r, 404, "not_found", None, "%s %s" % (method, path))
    p1 = creditctl("account", "show", ghost, check_rc=False)
    eq(p1.returncode, 1, "creditctl account show of an unknown account")
    check("not found" in p1.stderr, "says not found: " + p1.stderr)
    eq(accounts_total(), n, "nothing created")
    check(not exists(ghost), "the ghost does not exist")


# ---- strict input ----

BIG = INT64_MAX + 1


def test_create_rejects_bad_bodies():
    victim = new_account("victim")
    n = accounts_total()
    fresh = uid("bad")
    cases = [
        (b'{"id": "%s", "kind": "user"' % fresh.encode(), ANY, "truncated JSON"),
        (b'{"id": "%s", "kind": user}' % fresh.encode(), "kind", "bare word"),
        (b'{"id": "%s", "kind": "user", "overdraft_limit_micros": 12x}' % fresh.encode(),
         "overdraft_limit_micros", "malformed number"),
        (b'[{"id": "x", "kind": "user"}]', None, "an array"),
        (b'', None, "empty body"),
        (b'{"id": "%s", "kind": "user", "kind": "user"}' % fresh.encode(), "kind", "duplicate key"),
        ({"id": 12345, "kind": "user"}, "id", "number id"),
        ({"id": None, "kind": "user"}, "id", "null id"),
        ({"id": [fresh], "kind": "user"}, "id", "array id"),
        ({"id": fresh, "kind": "robot"}, "kind", "unknown kind"),
        ({"id": fresh, "kind": 1}, "kind", "number kind"),
        ({"kind": "user"}, "id", "missing id"),
        ({"id": fresh}, "kind", "missing kind"),
        ({"id": "", "kind": "user"}, "id", "empty id"),
        ({"id": "x" * 129, "kind": "user"}, "id", "id over 128 bytes"),
        ({"id": "\u00e9" * 65, "kind": "user"}, "id", "id over 128 bytes in UTF-8"),
        ({"id": fresh + "\u0000", "kind": "user"}, "id", "NUL in id"),
        ({"id": fresh + "\n", "kind": "user"}, "id", "control character in id"),
        (b'{"id": "' + fresh.encode() + b'\xff\xfe", "kind": "user"}', "id", "invalid UTF-8 in id"),
        (b'{"id": "' + fresh.encode() + b'\xc3", "kind": "user"}', "id", "truncated UTF-8 in id"),
        (b'{"id": "' + fresh.encode() + b'\xed\xa0\x80", "kind": "user"}', "id", "UTF-8 surrogate in id"),
        ({"id": fresh, "kind": "user", "overdraft_limit_micros": 1.5}, "overdraft_limit_micros", "float micros"),
        ({"id": fresh, "kind": "user", "overdraft_limit_micros": 100.0}, "overdraft_limit_micros", "integral float"),
        (b'{"id": "%s", "kind": "user", "overdraft_limit_micros": 1e6}' % fresh.encode(),
         "overdraft_limit_micros", "exponent"),
        ({"id": fresh, "kind": "user", "overdraft_limit_micros": "100"}, "overdraft_limit_micros", "string micros"),
        ({"id": fresh, "kind": "user", "overdraft_limit_micros": True}, "overdraft_limit_micros", "bool micros"),
        ({"id": fresh, "kind": "user", "overdraft_limit_micros": -1}, "overdraft_limit_micros", "negative"),
        ({"id": fresh, "kind": "user", "monthly_limit_micros": -5}, "monthly_limit_micros", "negative limit"),
        ({"id": fresh, "kind": "user", "low_balance_micros": BIG}, "low_balance_micros", "int64 overflow"),
        ({"id": fresh, "kind": "user", "low_balance_micros": -BIG - 1}, "low_balance_micros", "int64 underflow"),
        ({"id": fresh, "kind": "user", "low_balance_micros": 10 ** 30}, "low_balance_micros", "huge integer"),
        ({"id": fresh, "kind": "user", "overdraft_limit_micros": INT64_MAX}, "overdraft_limit_micros",
         "int64 max is beyond any amount"),
        ({"id": fresh, "kind": "user", "plan": ""}, "plan", "empty plan"),
        ({"id": fresh, "kind": "user", "plan": "p" * 65}, "plan", "long plan"),
        ({"id": fresh, "kind": "user", "plan": "a\u0000b"}, "plan", "NUL in plan"),
        ({"id": fresh, "kind": "user", "balance_micros": 99}, "balance_micros", "read-only field"),
        ({"id": fresh, "kind": "user", "status": "active"}, "status", "status is not a create field"),
        ({"id": fresh, "kind": "user", "Kind": "user"}, "Kind", "field names are case-sensitive"),
        ({"id": fresh, "kind": "user", "idempotency_key": ""}, "idempotency_key", "empty idempotency key"),
    ]
    for body, param, what in cases:
        rejected("POST", "/v1/accounts", body, param, victim, what)
        check(not exists(fresh), what + ": no account created")
    eq(accounts_total(), n, "no account created by any bad request")


def test_grant_rejects_bad_bodies():
    acct_id = new_account("badgrant")
    path = p(acct_id) + "/grants"
    ok = {"amount_micros": 1000, "source": "promo"}

    def w(**kw):
        b = dict(ok)
        b.update(kw)
        return b

    cases = [
        (b'{"amount_micros": 1000, "source": "promo"', ANY, "truncated JSON"),
        (b'{"amount_micros": 10.5.5, "source": "promo"}', "amount_micros", "malformed number"),
        (b'{"amount_micros": 10, "source": "promo",}', ANY, "trailing comma"),
        (b'{"amount_micros": 9223372036854775808, "source": "promo"}', "amount_micros", "int64 overflow"),
        (b'{"amount_micros": -9223372036854775809, "source": "promo"}', "amount_micros", "int64 underflow"),
        (b'{"amount_micros": 1e3, "source": "promo"}', "amount_micros", "exponent"),
        (b'{"amount_micros": 1000, "source": "pro\xffmo"}', "source", "invalid UTF-8"),
        ({"source": "promo"}, "amount_micros", "missing amount"),
        ({"amount_micros": 1000}, "source", "missing source"),
        (w(amount_micros=0), "amount_micros", "zero"),
        (w(amount_micros=-1000), "amount_micros", "negative"),
        (w(amount_micros=-INT64_MAX - 1), "amount_micros", "int64 min"),
        (w(amount_micros=INT64_MAX), "amount_micros", "int64 max"),
        (w(amount_micros=1000.0), "amount_micros", "float"),
        (w(amount_micros=0.5), "amount_micros", "fraction"),
        (w(amount_micros="1000"), "amount_micros", "string"),
        (w(amount_micros=None), "amount_micros", "null"),
        (w(amount_micros=[1000]), "amount_micros", "array"),
        (w(amount_micros={"v": 1}), "amount_micros", "object"),
        (w(source="topup"), "source", "topup is Stripe's"),
        (w(source="plan"), "source", "plan is the renewal's"),
        (w(source="debt"), "source", "debt is internal"),
        (w(source="PROMO"), "source", "case-sensitive"),
        (w(source="promo\u0000"), "source", "NUL"),
        (w(priority=-1), "priority", "priority below 0"),
        (w(priority=101), "priority", "priority above 100"),
        (w(priority=5.0), "priority", "float priority"),
        (w(priority="5"), "priority", "string priority"),
        (w(expires_at="2020-01-01T00:00:00Z"), "expires_at", "expired already"),
        (w(expires_at=in_seconds(-5)), "expires_at", "a few seconds ago"),
        (w(expires_at="tomorrow"), "expires_at", "not RFC 3339"),
        (w(expires_at="2030-02-30T00:00:00Z"), "expires_at", "no such day"),
        (w(expires_at="2030-01-01T25:00:00Z"), "expires_at", "no such hour"),
        (w(expires_at=1893456000), "expires_at", "unix seconds"),
        (w(expires_at="2030-01-01T00:00:00Z\u0000"), "expires_at", "NUL in time"),
        (w(description="d" * 501), "description", "description over 500 bytes"),
        (w(description="a\u0000b"), "description", "NUL in description"),
        (w(description=7), "description", "number description"),
        (w(balance_micros=5), "balance_micros", "balance_micros on a grant"),
        (w(remaining_micros=5), "remaining_micros", "remaining_micros on a grant"),
        (w(account="other"), "account", "unknown field"),
        (w(id="grant_1"), "id", "id on a grant"),
    ]
    for body, param, what in cases:
        rejected("POST", path, body, param, acct_id, "grant: " + what)
    # The path id is checked too, before anything is read.
    for bad_id, what in ((b"x" * 129, "129 bytes"), (b"ab\x01c", "control character"),
                         (b"ab\xffc", "invalid UTF-8")):
        r = api("POST", p(bad_id) + "/grants", ok)
        is_error(r, 400, "invalid_request", "id", "grant path id with " + what)
    eq(ledger_consistent(acct_id), BONUS, "nothing was granted")
    # The limits themselves are accepted.
    g = grant(acct_id, 10 ** 12, "adjustment", priority=100, description="\u00e9" * 250)
    eq((g["amount_micros"], g["priority"], g["description"]), (10 ** 12, 100, "\u00e9" * 250), "at the limits")
    g = grant(acct_id, 1, "signup_bonus", priority=0, description="", expires_at="2099-12-31T23:00:00+02:00")
    eq(g["expires_at"], "2099-12-31T21:00:00Z", "an offset is converted to UTC")
    eq(ledger_consistent(acct_id), BONUS + 10 ** 12 + 1, "both granted")


def test_debit_rejects_bad_bodies_and_overdraw():
    acct_id = new_account("baddebit")
    path = p(acct_id) + "/debits"
    cases = [
        (b'{"amount_micros": 5, "reason": "x"', ANY, "truncated JSON"),
        (b'{"amount_micros": 18446744073709551616, "reason": "x"}', "amount_micros", "uint64 overflow"),
        (b'{"amount_micros": 5, "reason": "\xc0\xaf"}', "reason", "overlong UTF-8"),
        ({"reason": "x"}, "amount_micros", "missing amount"),
        ({"amount_micros": 5}, "reason", "missing reason"),
        ({"amount_micros": 0, "reason": "x"}, "amount_micros", "zero"),
        ({"amount_micros": -5, "reason": "x"}, "amount_micros", "negative (a credit in disguise)"),
        ({"amount_micros": 5.0, "reason": "x"}, "amount_micros", "float"),
        ({"amount_micros": "5", "reason": "x"}, "amount_micros", "string"),
        ({"amount_micros": BIG, "reason": "x"}, "amount_micros", "int64 overflow"),
        ({"amount_micros": INT64_MAX, "reason": "x"}, "amount_micros", "int64 max"),
        ({"amount_micros": 5, "reason": ""}, "reason", "empty reason"),
        ({"amount_micros": 5, "reason": None}, "reason", "null reason"),
        ({"amount_micros": 5, "reason": "r" * 501}, "reason", "long reason"),
        ({"amount_micros": 5, "reason": "a\u0000b"}, "reason", "NUL in reason"),
        ({"amount_micros": 5, "reason": "x", "cause": "usage"}, "cause", "cause is not a debit field"),
        ({"amount_micros": 5, "reason": "x", "balance_micros": 0}, "balance_micros", "balance_micros"),
    ]
    for body, param, what in cases:
        rejected("POST", path, body, param, acct_id, "debit: " + what)
    r = rejected("POST", path, {"amount_micros": BONUS + 1, "reason": "too much"}, "amount_micros", acct_id,
                 "debit over the balance", status=402, code="insufficient_credits")
    r = debit(acct_id, BONUS, "r" * 500)
    eq(r.status, 201, "debit of exactly the available amount: %r" % r)
    eq((r.json["amount_micros"], r.json["balance_after_micros"], r.json["cause"]), (-BONUS, 0, "adjustment"),
       "the entry")
    rejected("POST", path, {"amount_micros": 1, "reason": "one more"}, "amount_micros", acct_id,
             "debit of an empty account", status=402, code="insufficient_credits")
    eq(ledger_consistent(acct_id), 0, "empty, consistent")


def test_concurrent_debits_never_overdraw():
    acct_id = new_account("overdraw")
    results = parallel(24, lambda i: debit(acct_id, 1000000, "race %d" % i))
    eq(sorted(r.status for r in results), [201] * 10 + [402] * 14, "ten debits fit in ten euros")
    for r in results:
        if r.status == 402:
            is_error(r, 402, "insufficient_credits", "amount_micros", "refused debit")
    a = get(acct_id)
    eq((a["balance_micros"], a["available_micros"], a["grants"]), (0, 0, []), "exactly empty")
    afters = sorted(r.json["balance_after_micros"] for r in results if r.status == 201)
    eq(afters, list(range(0, BONUS, 1000000)), "each debit saw the one before it")
    eq(ledger_consistent(acct_id), 0, "consistent")


def test_balance_cannot_overflow():
    # DESIGN §10: one grant moves at most 10^12 micros (the ±9·10^18 range
    # of the balance itself is test_26_money_range's).
    acct_id = new_account("huge")
    top = 10 ** 12
    results = parallel(25, lambda i: [api("POST", p(acct_id) + "/grants", {"amount_micros": top, "source": "promo"})
                                      for _ in range(4)])
    eq(sorted(r.status for group in results for r in group), [201] * 100, "grants of exactly 10^12")
    rejected("POST", p(acct_id) + "/grants", {"amount_micros": top + 1, "source": "promo"}, "amount_micros", acct_id,
             "one micro above 10^12")
    eq(get(acct_id)["balance_micros"], BONUS + 100 * top, "balance")
    eq(debit(acct_id, top).status, 201, "debits still work")
    eq(ledger_consistent(acct_id), BONUS + 99 * top, "consistent")


def test_patch_account():
    ensure_plans()
    acct_id = new_account("patch")
    before = db_state(acct_id)
    grants_before = get(acct_id)["grants"]
    r = api("PATCH", p(acct_id), {"status": "suspended", "overdraft_limit_micros": 3000000,
                                  "monthly_limit_micros": 7000000, "low_balance_micros": 100, "plan": "pro"})
    eq(r.status, 200, "patch: %r" % r)
    a = get(acct_id)
    eq((a["status"], a["overdraft_limit_micros"], a["monthly_limit_micros"], a["low_balance_micros"], a["plan"]),
       ("suspended", 3000000, 7000000, 100, "pro"), "patched fields")
    eq(a["available_micros"], BONUS + 3000000, "overdraft counts in available")
    eq(r.json["status"], "suspended", "the answer is the patched account")
    eq((a["balance_micros"], a["grants"]), (BONUS, grants_before), "money untouched")
    eq(db_state(acct_id)[2], before[2], "a patch writes no journal row")
    r = api("PATCH", p(acct_id), {"monthly_limit_micros": None, "low_balance_micros": None, "plan": None})
    eq(r.status, 200, "null removes")
    a = get(acct_id)
    eq((a["monthly_limit_micros"], a["low_balance_micros"], a["plan"], a["status"], a["overdraft_limit_micros"]),
       (None, None, None, "suspended", 3000000), "removed; the rest kept")
    r = api("PATCH", p(acct_id), {"plan": "not-catalogued-" + uid("p")})
    eq((r.status, r.err.get("param")), (400, "plan"), "a plan must name a catalogued plan")
    eq(get(acct_id)["plan"], None, "and the refused patch changed nothing")
    r = api("PATCH", p(acct_id), {"plan": None})
    r = api("PATCH", p(acct_id), {})
    eq(r.status, 200, "empty patch")
    eq(get(acct_id), a, "empty patch changes nothing")
    cases = [
        ({"balance_micros": 1}, "balance_micros"), ({"reserved_micros": 0}, "reserved_micros"),
        ({"available_micros": 0}, "available_micros"), ({"month_spent_micros": 0}, "month_spent_micros"),
        ({"grants": []}, "grants"), ({"currency": "USD"}, "currency"), ({"id": "other"}, "id"),
        ({"kind": "workspace"}, "kind"), ({"status": "deleted"}, "status"), ({"status": None}, "status"),
        ({"status": "ACTIVE"}, "status"), ({"overdraft_limit_micros": -1}, "overdraft_limit_micros"),
        ({"overdraft_limit_micros": None}, "overdraft_limit_micros"),
        ({"overdraft_limit_micros": 2.5}, "overdraft_limit_micros"),
        ({"monthly_limit_micros": "100"}, "monthly_limit_micros"),
        ({"monthly_limit_micros": BIG}, "monthly_limit_micros"), ({"plan": ""}, "plan"),
        ({"plan": "x" * 65}, "plan"), ({"plan": 5}, "plan"),
        ({"status": "active", "balance_micros": 5}, "balance_micros"),
    ]
    for body, param in cases:
        rejected("PATCH", p(acct_id), body, param, acct_id, "patch %r" % body)
    rejected("PATCH", p(acct_id), b'{"status": "active",}', None, acct_id, "patch with a trailing comma")
    rejected("PATCH", p(acct_id), b'{"plan": "\xff"}', "plan", acct_id, "patch with invalid UTF-8")
    r = api("PATCH", p(acct_id), {"status": "closed"})
    eq((r.status, get(acct_id)["status"]), (200, "closed"), "close")
    r = api("PATCH", p(acct_id), {"status": "active"})
    eq((r.status, get(acct_id)["status"]), (200, "active"), "reopen")


def test_path_ids_are_checked():
    cases = [(b"x" * 129, "over 128 bytes"), (b"a\x01b", "control character"), (b"a\x7fb", "DEL"),
             (b"\xff\xfe", "invalid UTF-8"), (b"a\xc3", "truncated UTF-8"), (b"\xed\xa0\x80", "surrogate")]
    for bad_id, what in cases:
        for method, suffix, auth in (("GET", "", "read"), ("GET", "/transactions", "read"),
                                     ("PATCH", "", "admin"), ("POST", "/debits", "admin")):
            body = {"plan": "x"} if method == "PATCH" else {"amount_micros": 1, "reason": "x"}
            r = api(method, p(bad_id) + suffix, body if method != "GET" else None, auth=auth)
            is_error(r, 400, "invalid_request", "id", "%s %s with an id %s" % (method, suffix, what))
    r = api("GET", p("y" * 128), auth="read")
    is_error(r, 404, "not_found", None, "128 bytes is a valid (unknown) id")
    # A NUL in the path never reaches creditd: nginx refuses it itself (with
    # a JSON 400 from nginx/creditd-errors.conf); NULs in bodies are covered above.
    r = api("GET", "/v1/accounts/a%00b", auth="read")
    is_error(r, 400, "invalid_request", None, "NUL in a path id")


# ---- the journal ----

def test_transactions_shape_and_order():
    acct_id = new_account("txns")
    g = grant(acct_id, 2500000, "adjustment", description="goodwill")
    d = debit(acct_id, 1000000, "manual correction")
    eq(d.status, 201, "debit")
    r = api("GET", p(acct_id) + "/transactions", auth="read")
    eq(r.status, 200, "transactions")
    check(set(r.json) >= {"data", "next_cursor"}, "page fields")
    eq(r.json["next_cursor"], None, "one page only: next_cursor is null")
    data = r.json["data"]
    eq(len(data), 3, "three entries")
    for e in data:
        eq(set(e), TXN_FIELDS | {"usage"}, "entry fields (a page's rows carry usage, DESIGN §11)")
        eq(e["usage"], None, "no usage record on a grant or an adjustment")
        check(isinstance(e["id"], str) and isinstance(e["created_at"], str), "opaque id, RFC 3339 time")
        check(abs(rfc3339_epoch(e["created_at"]) - time.time()) < 120, "created_at is now")
    eq([(e["amount_micros"], e["balance_after_micros"], e["cause"]) for e in data],
       [(-1000000, BONUS + 1500000, "adjustment"), (2500000, BONUS + 2500000, "grant"), (BONUS, BONUS, "grant")],
       "newest first, signed amounts, running balance")
    eq((data[0]["description"], data[0]["source"]), ("manual correction", None), "the debit's reason")
    eq((data[1]["description"], data[1]["source"]), ("goodwill", "adjustment"), "the grant's description")
    eq(data[2]["source"], "signup_bonus", "the bonus")
    eq(data[1]["id"], g["transaction"]["id"], "the grant's answer names its journal entry")
    eq(data[0]["id"], d.json["id"], "the debit's answer is its journal entry")
    ids = [e["id"] for e in data]
    eq(len(set(ids)), 3, "distinct ids")


def test_transactions_limits_and_cursors():
    acct_id = new_account("limits")
    parallel(8, lambda i: [grant(acct_id, 1 + i * 10 + k) for k in range(7)])  # 56 grants + the bonus
    r = api("GET", p(acct_id) + "/transactions", auth="read")
    eq(len(r.json["data"]), 50, "default limit 50")
    check(r.json["next_cursor"] is not None, "more to come")
    r2 = api("GET", p(acct_id) + "/transactions?cursor=" + urllib.parse.quote(r.json["next_cursor"]), auth="read")
    eq(len(r2.json["data"]), 7, "the rest")
    eq(r2.json["next_cursor"], None, "last page")
    r = api("GET", p(acct_id) + "/transactions?limit=200", auth="read")
    eq((len(r.json["data"]), r.json["next_cursor"]), (57, None), "limit 200")
    r = api("GET", p(acct_id) + "/transactions?limit=57", auth="read")
    eq((len(r.json["data"]), r.json["next_cursor"]), (57, None), "an exact last page has no cursor")
    r = api("GET", p(acct_id) + "/transactions?limit=1", auth="read")
    eq(len(r.json["data"]), 1, "limit 1")
    all_rows = pages(acct_id, 5)
    eq([e["id"] for e in all_rows], [e["id"] for e in api("GET", p(acct_id) + "/transactions?limit=200",
                                                          auth="read").json["data"]], "pages of 5 = one page of 200")
    for q in ("limit=0", "limit=201", "limit=-1", "limit=abc", "limit=1.5", "limit=", "limit=10x",
              "limit=99999999999999999999", "limit=%00"):
        before = snapshot(acct_id)
        r = api("GET", p(acct_id) + "/transactions?" + q, auth="read")
        is_error(r, 400, "invalid_request", "limit", "bad " + q)
        eq(snapshot(acct_id), before, "unchanged after " + q)
    for q in ("cursor=abc", "cursor=txn_", "cursor=txn_-5", "cursor=txn_0", "cursor=123", "cursor="):
        r = api("GET", p(acct_id) + "/transactions?" + q, auth="read")
        is_error(r, 400, "invalid_request", "cursor", "bad " + q)


def test_pagination_across_concurrent_inserts():
    acct_id = new_account("paging")
    parallel(8, lambda i: [grant(acct_id, 100 + i) for _ in range(5)])
    existing = {"txn_%d" % row[0] for row in journal(acct_id)}
    stop = threading.Event()
    errors = []

    def writer():
        try:
            while not stop.is_set():
                grant(acct_id, 7)
                debit(acct_id, 3)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        walks = [pages(acct_id, 4) for _ in range(3)]
    finally:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    for served in walks:
        ids = [e["id"] for e in served]
        eq(len(ids), len(set(ids)), "no entry repeated")
        nums = [int(i.split("_")[-1]) for i in ids]
        eq(nums, sorted(nums, reverse=True), "newest first across pages")
        check(existing <= set(ids), "no entry skipped: missing %s" % sorted(existing - set(ids))[:5])
        first = nums[0]
        db_ids = {r[0] for r in journal(acct_id) if r[0] <= first}
        eq(set(nums), db_ids, "every entry at or below the first one served was served")
    check(len(journal(acct_id)) > len(existing), "the writers did insert during the walk")
    ledger_consistent(acct_id)


# ---- idempotency ----

def idem(method, path, body, k, auth="admin"):
    return api(method, path, body, auth=auth, headers={"Idempotency-Key": k})


def test_idempotency_sequential():
    ensure_plans()
    acct_id = new_account("idem")
    writes = [
        ("POST", "/v1/accounts", {"id": uid("idemnew"), "kind": "user"}, {"id": uid("idemnew2"), "kind": "user"}),
        ("PATCH", p(acct_id), {"plan": "gold"}, {"plan": "silver"}),
        ("POST", p(acct_id) + "/grants", {"amount_micros": 777, "source": "promo"},
         {"amount_micros": 778, "source": "promo"}),
        ("POST", p(acct_id) + "/debits", {"amount_micros": 55, "reason": "fee"}, {"amount_micros": 56, "reason": "fee"}),
    ]
    for method, path, body, other in writes:
        k = uid("key")
        first = idem(method, path, body, k)
        check(first.status in (200, 201), "%s %s first: %r" % (method, path, first))
        after_first = db_state(acct_id)
        n = accounts_total()
        again = idem(method, path, body, k)
        eq(again.status, first.status, "%s %s replay status" % (method, path))
        eq(again.json, first.json, "%s %s replay body" % (method, path))
        eq(db_state(acct_id), after_first, "%s %s applied once" % (method, path))
        r = idem(method, path, other, k)
        is_error(r, 409, "conflict", "idempotency_key", "%s %s same key, other body" % (method, path))
        eq(db_state(acct_id), after_first, "%s %s conflict changes nothing" % (method, path))
        eq(accounts_total(), n, "%s %s conflict creates nothing" % (method, path))
        if path.endswith("/grants") or path.endswith("/debits"):
            keyed = sql("SELECT COUNT(*) FROM journal WHERE idempotency_key = '%s'" % k)
            eq(keyed[0][0], "1", "%s %s: the journal row records its Idempotency-Key" % (method, path))
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55, "each write applied once")
    # A key sent in the body works like the header.
    k = uid("bodykey")
    body = {"amount_micros": 10, "source": "promo", "idempotency_key": k}
    r1 = api("POST", p(acct_id) + "/grants", body)
    r2 = api("POST", p(acct_id) + "/grants", body)
    eq((r1.status, r2.json), (201, r1.json), "idempotency_key field replays")
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55 + 10, "applied once")
    # Without a key, each request is its own write.
    grant(acct_id, 1)
    grant(acct_id, 1)
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55 + 12, "no key, two grants")
    eq(sql("SELECT COUNT(*) FROM journal WHERE idempotency_key = '%s'" % k)[0][0], "1", "the body's key is recorded")
    last = sql("SELECT idempotency_key IS NULL FROM journal WHERE account_id = (SELECT id FROM accounts "
               "WHERE ext_id = %s) ORDER BY id DESC LIMIT 1" % hexid(acct_id))
    eq(last[0][0], "1", "no key, none recorded")
    # A key names one request: the same body on another account conflicts.
    k = uid("route")
    eq(idem("POST", p(acct_id) + "/grants", {"amount_micros": 3, "source": "promo"}, k).status, 201, "first use")
    other = new_account("idemother")
    before = snapshot(other)
    r = idem("POST", p(other) + "/grants", {"amount_micros": 3, "source": "promo"}, k)
    is_error(r, 409, "conflict", "idempotency_key", "same key and body on another account")
    eq(snapshot(other), before, "the other account is untouched")
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55 + 15, "granted once")
    # Same id, other body, under a fresh key: the id conflicts, not the key.
    r = idem("POST", "/v1/accounts", {"id": acct_id, "kind": "workspace"}, uid("fresh"))
    is_error(r, 409, "conflict", "id", "id conflict under a fresh key")
    for bad in ("", "k" * 256, "a\x01b"):
        before = snapshot(acct_id)
        r = api("POST", p(acct_id) + "/grants", {"amount_micros": 10, "source": "promo", "idempotency_key": bad})
        is_error(r, 400, "invalid_request", "idempotency_key", "bad key %r" % bad[:10])
        eq(snapshot(acct_id), before, "bad key changes nothing")


def test_idempotency_concurrent():
    acct_id = new_account("idemrace")
    k = uid("race")
    body = {"amount_micros": 1234, "source": "adjustment", "priority": 3}
    results = parallel(32, lambda i: idem("POST", p(acct_id) + "/grants", body, k))
    eq({r.status for r in results}, {201}, "every request answers the one result")
    eq(len({json.dumps(r.json, sort_keys=True) for r in results}), 1, "one result for all 32")
    eq(get(acct_id)["balance_micros"], BONUS + 1234, "granted once")
    eq(len(journal(acct_id)), 2, "one journal row")
    k = uid("race")
    results = parallel(32, lambda i: idem("POST", p(acct_id) + "/debits", {"amount_micros": 34, "reason": "r"}, k))
    eq({r.status for r in results}, {201}, "debits: one result")
    eq(len({r.json["id"] for r in results}), 1, "one journal entry id")
    eq(get(acct_id)["balance_micros"], BONUS + 1200, "debited once")
    new_id = uid("idemacct")
    k = uid("race")
    results = parallel(32, lambda i: idem("POST", "/v1/accounts", {"id": new_id, "kind": "user"}, k))
    eq({r.status for r in results}, {201}, "account create under one key: the stored 201 for all")
    eq(len(journal(new_id)), 1, "one bonus")
    ledger_consistent(acct_id)


# ---- spending order and expiry ----

def test_spending_order():
    acct_id = new_account("order")
    bonus_id = get(acct_id)["grants"][0]["id"]
    late = grant(acct_id, 1000, expires_at=in_seconds(7200))["id"]       # prio 50, expires later
    soon = grant(acct_id, 1000, expires_at=in_seconds(3600))["id"]       # prio 50, expires sooner
    first = grant(acct_id, 1000, "adjustment", priority=10)["id"]        # lowest priority number
    newer = grant(acct_id, 1000)["id"]                                   # prio 50, no expiry, newer than bonus
    last = grant(acct_id, 1000, priority=90, expires_at=in_seconds(60))["id"]  # high number: burns last
    order = [g for g, _ in remaining(acct_id)]
    eq(order, [first, soon, late, bonus_id, newer, last], "grants listed in spending order")
    eq(debit(acct_id, 1500).status, 201, "debit 1500")
    eq(remaining(acct_id), [(soon, 500), (late, 1000), (bonus_id, BONUS), (newer, 1000), (last, 1000)],
       "priority 10 first, then the soonest expiry")
    eq(debit(acct_id, 1000).status, 201, "debit 1000")
    eq(remaining(acct_id), [(late, 500), (bonus_id, BONUS), (newer, 1000), (last, 1000)], "then the later expiry")
    eq(debit(acct_id, BONUS).status, 201, "debit the bonus' worth")
    eq(remaining(acct_id), [(bonus_id, 500), (newer, 1000), (last, 1000)], "then the oldest grant without expiry")
    eq(debit(acct_id, 1400).status, 201, "debit 1400")
    eq(remaining(acct_id), [(newer, 100), (last, 1000)], "then the newer one")
    eq(debit(acct_id, 1100).status, 201, "debit 1100")
    eq(remaining(acct_id), [], "priority 90 last")
    eq(ledger_consistent(acct_id), 0, "all spent")


def test_spending_many_small_grants():
    # More grants than one spend reads at once: all of them must be used
    # before anything becomes debt.
    acct_id = new_account("many")
    parallel(10, lambda i: [grant(acct_id, 1, priority=0) for _ in range(8)])
    eq(get(acct_id)["balance_micros"], BONUS + 80, "80 small grants")
    r = debit(acct_id, BONUS + 80, "everything")
    eq(r.status, 201, "debit everything: %r" % r)
    eq(get(acct_id)["grants"], [], "no grant left, no debt")
    eq(ledger_consistent(acct_id), 0, "consistent")
    verify()


def test_overdraft_debt_is_repaid_first():
    acct_id = new_account("debt", overdraft_limit_micros=5000000)
    eq(debit(acct_id, BONUS + 3000000).status, 201, "debit into the overdraft")
    a = get(acct_id)
    eq((a["balance_micros"], a["available_micros"]), (-3000000, 2000000), "a debt of 3 EUR")
    r = debit(acct_id, 2000001)
    is_error(r, 402, "insufficient_credits", "amount_micros", "beyond the overdraft")
    # The credit line cannot be cut below the debt already drawn on it
    # (verify's invariant 3); down to the debt itself is fine.
    rejected("PATCH", p(acct_id), {"overdraft_limit_micros": 2999999}, "overdraft_limit_micros", acct_id,
             "overdraft below the debt")
    ensure_plans()
    rejected("PATCH", p(acct_id), {"overdraft_limit_micros": 0, "plan": "pro"}, "overdraft_limit_micros", acct_id,
             "overdraft to zero with a debt")
    rejected("PATCH", p(acct_id), {"overdraft_limit_micros": 3000000}, "idempotency_key", acct_id,
             "a bad Idempotency-Key is named as such", headers={"Idempotency-Key": "k" * 256})
    r = api("PATCH", p(acct_id), {"overdraft_limit_micros": 3000000})
    eq((r.status, r.json["available_micros"]), (200, 0), "overdraft down to the debt")
    verify()
    r = api("PATCH", p(acct_id), {"overdraft_limit_micros": 5000000})
    eq((r.status, r.json["available_micros"]), (200, 2000000), "and back up")
    g = grant(acct_id, 4000000)
    eq(g["balance_micros"], 1000000, "the grant repays the debt first")
    eq([x["remaining_micros"] for x in get(acct_id)["grants"]], [1000000], "what is left of the grant")
    eq(ledger_consistent(acct_id), 1000000, "consistent")


def test_grant_fields_and_expiry_written_off_once():
    acct_id = new_account("expiry")
    t = in_seconds(3)
    g = grant(acct_id, 5000, "promo", expires_at=t, priority=20, description="three seconds")
    eq((g["remaining_micros"], g["priority"], g["expires_at"], g["source"]), (5000, 20, t, "promo"), "grant answer")
    listed = [x for x in get(acct_id)["grants"] if x["id"] == g["id"]]
    eq(listed, [{"id": g["id"], "source": "promo", "remaining_micros": 5000, "priority": 20, "expires_at": t}],
       "listed with its expiry")
    eq(debit(acct_id, 1000).status, 201, "spend from it first (priority 20)")
    # An account nobody touches: only the background thread can expire it.
    idle = new_account("idle")
    grant(idle, 7000, expires_at=in_seconds(2))
    deadline = rfc3339_epoch(t)
    while time.time() < deadline + 1.05:
        time.sleep(0.05)
    # Many readers race the background thread for the write-off.
    results = parallel(16, lambda i: get(acct_id))
    check(all(a["balance_micros"] == BONUS for a in results), "every reader sees the written-off balance: %r"
          % sorted({a["balance_micros"] for a in results}))
    check(all(g["id"] not in [x["id"] for x in a["grants"]] for a in results), "the grant is gone")
    check(wait_until(lambda: any(r[3] == "expiry" for r in journal(idle)), timeout=5),
          "the background thread wrote off the idle account's grant")
    rows = journal(acct_id)
    expiries = [r for r in rows if r[3] == "expiry"]
    eq(len(expiries), 1, "one expiry entry")
    eq((expiries[0][1], expiries[0][4]), (-4000, "promo"), "the remainder, written off")
    tx = api("GET", p(acct_id) + "/transactions?limit=1", auth="read").json["data"][0]
    eq((tx["cause"], tx["amount_micros"], tx["balance_after_micros"], tx["reference"]),
       ("expiry", -4000, BONUS, g["id"]), "in the journal, naming the grant")
    # Two more sweeps run; the entry stays single.
    due = sql("SELECT COALESCE(sweep_due_at, -1) FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0]
    eq(due, "-1", "nothing left to sweep")
    time.sleep(2.2)
    eq(len([r for r in journal(acct_id) if r[3] == "expiry"]), 1, "never twice")
    eq([r for r in journal(idle) if r[3] == "expiry"][0][1], -7000, "idle account: the whole grant")
    eq(len([r for r in journal(idle) if r[3] == "expiry"]), 1, "idle account: once")
    eq(get(idle)["balance_micros"], BONUS, "idle account balance")
    ledger_consistent(acct_id)
    ledger_consistent(idle)


def test_expired_grants_are_never_spent():
    spent = new_account("spent")
    grant(spent, 3000, expires_at=in_seconds(2), priority=0)
    eq(debit(spent, 3000).status, 201, "spend the whole grant before it expires")
    other = new_account("skip")
    gone = grant(other, 6000, expires_at=in_seconds(2), priority=0)["id"]
    time.sleep(2.2)
    # Whether the sweeper or this debit gets there first, the expired grant
    # is written off in full and the debit burns the bonus.
    r = debit(other, 6000, "after the expiry")
    eq(r.status, 201, "debit after the expiry")
    eq(r.json["balance_after_micros"], BONUS - 6000, "the expired 6000 did not pay for it")
    eq(remaining(other), [(get(other)["grants"][0]["id"], BONUS - 6000)], "only the bonus is left")
    expiries = [row for row in journal(other) if row[3] == "expiry"]
    eq([row[1] for row in expiries], [-6000], "written off once, in full")
    check(gone not in [g for g, _ in remaining(other)], "the grant is gone")
    eq(get(spent)["balance_micros"], BONUS, "balance")
    eq([row for row in journal(spent) if row[3] == "expiry" and row[1] != 0], [], "nothing to write off")
    r = debit(other, BONUS - 6000 + 1)
    is_error(r, 402, "insufficient_credits", "amount_micros", "the expired credit is not available")
    ledger_consistent(spent)
    ledger_consistent(other)


def test_many_expired_grants_are_all_written_off_before_spending():
    # More grants expire at once than one sweep pass takes: none of them
    # may pay for a debit, whoever (reader or sweeper) gets there first.
    acct_id = new_account("manyexp")
    t = in_seconds(3)
    parallel(25, lambda i: [grant(acct_id, 1, priority=0, expires_at=t) for _ in range(8)])
    eq(get(acct_id)["balance_micros"], BONUS + 200, "200 expiring grants")
    deadline = rfc3339_epoch(t)
    while time.time() < deadline + 0.3:
        time.sleep(0.05)
    r = debit(acct_id, BONUS + 1, "more than what is left")
    is_error(r, 402, "insufficient_credits", "amount_micros", "expired credit cannot be debited")
    r = debit(acct_id, BONUS, "all that is left")
    eq(r.status, 201, "the unexpired bonus can: %r" % r)
    eq(get(acct_id)["grants"], [], "nothing left, no debt")
    expiries = [row for row in journal(acct_id) if row[3] == "expiry"]
    eq((len(expiries), sum(row[1] for row in expiries)), (200, -200), "each grant written off once")
    eq(ledger_consistent(acct_id), 0, "consistent")


# ---- stress and verify ----

def test_randomized_stress_then_verify():
    rng = random.Random(1010)
    accts = parallel(20, lambda i: [new_account("stress") for _ in range(5)])
    accts = [a for group in accts for a in group]
    eq(len(accts), 100, "100 accounts")
    outcome = {"grant": 0, "debit": 0, "refused": 0}
    lock = threading.Lock()
    plans = [[(rng.choice(accts), rng.random(), rng.randint(1, 3000000), rng.randint(0, 100)) for _ in range(40)]
             for _ in range(24)]

    def worker(i):
        for acct_id, roll, amount, prio in plans[i]:
            if roll < 0.35:
                r = api("POST", p(acct_id) + "/grants", {"amount_micros": amount, "source": "promo", "priority": prio})
                kind = "grant"
            elif roll < 0.5:
                r = api("POST", p(acct_id) + "/grants", {"amount_micros": amount, "source": "promo", "priority": prio,
                                                         "expires_at": in_seconds(2 + prio % 3)})
                kind = "grant"
            elif roll < 0.9:
                r = debit(acct_id, amount * 3)
                kind = "debit"
            else:
                r = api("GET", p(acct_id), auth="read")
                kind = None
            if r.status == 402:
                with lock:
                    outcome["refused"] += 1
                continue
            check(r.status in (200, 201), "stress %s: %r" % (kind, r))
            if kind:
                with lock:
                    outcome[kind] += 1
        return True

    parallel(24, worker)
    check(outcome["grant"] > 100 and outcome["debit"] > 100, "a real mix: %r" % outcome)
    # Wait for every expiry to be due, then let the sweeper (or readers) write them off.
    time.sleep(4.2)
    check(wait_until(lambda: sql("SELECT COUNT(*) FROM grants WHERE remaining_micros > 0 AND expires_at <= "
                                 "UNIX_TIMESTAMP()")[0][0] == "0", timeout=10), "every due grant written off")
    verify()
    for acct_id in rng.sample(accts, 10):
        balance = ledger_consistent(acct_id)
        a = get(acct_id)
        eq(a["balance_micros"], balance, "API = DB")
        eq(sum(g["remaining_micros"] for g in a["grants"]), balance, "grants[] add up to the balance")
        check(balance >= 0, "prepaid accounts never go below zero")
    twice = sql("SELECT grant_id, COUNT(*) FROM journal WHERE cause = 'expiry' AND grant_id IS NOT NULL "
                "GROUP BY grant_id HAVING COUNT(*) > 1")
    eq(twice, [], "no grant written off twice")
    neg = sql("SELECT COUNT(*) FROM accounts WHERE balance_micros < 0 AND overdraft_limit_micros = 0")
    eq(neg[0][0], "0", "no prepaid account below zero")


def test_verify_reports_tampering():
    acct_id = new_account("tamper")
    grant(acct_id, 5000)
    verify()
    aid = sql("SELECT id FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0]
    sql("UPDATE accounts SET balance_micros = balance_micros + 1 WHERE id = %s" % aid)
    try:
        out = creditctl("verify", check_rc=False)
    finally:
        sql("UPDATE accounts SET balance_micros = balance_micros - 1 WHERE id = %s" % aid)
    eq(out.returncode, 1, "verify fails on a tampered balance")
    lines = [line for line in out.stdout.splitlines() if acct_id in line]
    check(any("journal" in line for line in lines), "names the account and the journal: " + out.stdout)
    check(any(str(BONUS + 5000 + 1) in line and str(BONUS + 5000) in line for line in lines),
          "prints both numbers: " + out.stdout)
    check("violations" in out.stdout.splitlines()[-1] and not out.stdout.splitlines()[-1].startswith("0 "),
          "a count at the end: " + out.stdout)
    verify()
    gid = sql("SELECT MAX(id) FROM grants WHERE account_id = %s" % aid)[0][0]
    sql("UPDATE grants SET remaining_micros = remaining_micros - 100 WHERE id = %s" % gid)
    try:
        out = creditctl("verify", check_rc=False)
    finally:
        sql("UPDATE grants SET remaining_micros = remaining_micros + 100 WHERE id = %s" % gid)
    eq(out.returncode, 1, "verify fails on a tampered grant")
    check(any(acct_id in line and "grants" in line for line in out.stdout.splitlines()),
          "names the account and the grants: " + out.stdout)
    verify()


# ---- creditctl ----

def test_creditctl_account_show_and_grant():
    acct_id = new_account("ctl")
    out = creditctl("account", "show", acct_id)
    shown = json.loads(out.stdout)
    eq(shown, get(acct_id), "account show prints what GET prints")
    t = in_seconds(3600)
    out = creditctl("grant", acct_id, "2500000", "--source", "promo", "--expires", t, "--priority", "7",
                    "--description", "from the CLI")
    g = json.loads(out.stdout)
    eq((g["amount_micros"], g["source"], g["priority"], g["expires_at"]), (2500000, "promo", 7, t), "grant printed")
    listed = [x for x in get(acct_id)["grants"] if x["id"] == g["id"]]
    eq(listed, [{"id": g["id"], "source": "promo", "remaining_micros": 2500000, "priority": 7, "expires_at": t}],
       "the grant is live")
    eq(get(acct_id)["balance_micros"], BONUS + 2500000, "balance")
    tx = api("GET", p(acct_id) + "/transactions?limit=1", auth="read").json["data"][0]
    eq((tx["amount_micros"], tx["cause"], tx["source"], tx["description"]),
       (2500000, "grant", "promo", "from the CLI"), "journal entry")
    creditctl("grant", acct_id, "1", "--source", "adjustment")
    creditctl("grant", acct_id, "1", "--source", "signup_bonus")
    eq(get(acct_id)["balance_micros"], BONUS + 2500002, "more grants")
    before = snapshot(acct_id)
    for args in (["grant", acct_id, "0", "--source", "promo"], ["grant", acct_id, "-5", "--source", "promo"],
                 ["grant", acct_id, "1.5", "--source", "promo"], ["grant", acct_id, "12abc", "--source", "promo"],
                 ["grant", acct_id, "9223372036854775808", "--source", "promo"],
                 ["grant", acct_id, "5", "--source", "topup"], ["grant", acct_id, "5"],
                 ["grant", acct_id, "5", "--source", "promo", "--expires", "2020-01-01T00:00:00Z"],
                 ["grant", acct_id, "5", "--source", "promo", "--expires", "soon"],
                 ["grant", acct_id, "5", "--source", "promo", "--priority", "101"],
                 ["grant", acct_id, "5", "--source", "promo", "--priority", "x"], ["grant", acct_id],
                 # A mistyped option must not turn into a grant without it.
                 ["grant", acct_id, "5", "--source", "promo", "--expire", in_seconds(60)],
                 ["grant", acct_id, "5", "--source", "promo", "--priority"],
                 ["grant", acct_id, "5", "--source", "promo", "extra"],
                 ["grant", acct_id, "5", "--source", "promo", "--description", "d" * 501],
                 ["grant", acct_id, "5", "--source", "promo", "--description", "a\x01b"]):
        r = creditctl(*args, check_rc=False)
        eq(r.returncode, 2, "usage error for %r" % args)
        check(r.stderr.strip() != "", "says why for %r" % args)
    cli_id = uid("cli")
    made = json.loads(creditctl("account", "create", cli_id, "--kind", "workspace").stdout)
    eq((made["id"], made["kind"], made["balance_micros"]), (cli_id, "workspace", BONUS), "account create")
    again = json.loads(creditctl("account", "create", cli_id, "--kind", "workspace").stdout)
    eq(again["balance_micros"], BONUS, "created once")
    eq(len(journal(cli_id)), 1, "one bonus")
    r = creditctl("account", "create", cli_id, check_rc=False)
    eq(r.returncode, 1, "same id, other kind")
    check("conflict" in r.stderr, "says conflict: " + r.stderr)
    typo = uid("typo")
    r = creditctl("account", "create", typo, "--kidn", "workspace", check_rc=False)
    eq(r.returncode, 2, "a mistyped option is a usage error")
    check(not exists(typo), "not created with the wrong kind")
    for bad in (b"x" * 129, b"a\x01b", b"\xff\xfe"):
        r = creditctl("account", "create", bad, check_rc=False)
        eq(r.returncode, 2, "bad id %r refused" % bad[:8])
        check(not exists(bad), "not created")
    r = creditctl("grant", uid("nobody"), "5", "--source", "promo", check_rc=False)
    eq(r.returncode, 1, "grant to an unknown account")
    check("not found" in r.stderr, "says not found: " + r.stderr)
    eq(snapshot(acct_id), before, "refused grants change nothing")
    verify()


def test_creditctl_export():
    acct_id = new_account("export")
    grant(acct_id, 1500, "adjustment", description='says "hi", twice')
    eq(debit(acct_id, 500, "fee, with comma").status, 201, "debit")
    api_rows = list(reversed(pages(acct_id, 200)))
    out = creditctl("export", acct_id, "--format", "csv").stdout
    import csv
    import io
    rows = list(csv.reader(io.StringIO(out)))
    eq(rows[0], ["id", "amount_micros", "balance_after_micros", "cause", "source", "reference", "description",
                 "created_at"], "CSV header")
    eq(len(rows) - 1, 3, "one row per entry")
    for row, e in zip(rows[1:], api_rows):
        eq(row[0], e["id"], "id, oldest first")
        eq((int(row[1]), int(row[2]), row[3]), (e["amount_micros"], e["balance_after_micros"], e["cause"]), "money")
        eq(row[4], e["source"] or "", "source")
        eq(row[6], e["description"] or "", "description survives quoting")
        eq(row[7], e["created_at"], "time")
    eq(creditctl("export", acct_id).stdout, out, "CSV is the default")
    out = creditctl("export", acct_id, "--format", "json").stdout
    exported = [json.loads(line) for line in out.splitlines() if line.strip()]
    eq(len(exported), 3, "JSON lines")
    for got, e in zip(exported, api_rows):
        for k in TXN_FIELDS:
            eq(got.get(k), e[k], "JSON export field " + k)
    r = creditctl("export", uid("nobody"), check_rc=False)
    eq(r.returncode, 1, "unknown account")
    r = creditctl("export", acct_id, "--format", "xml", check_rc=False)
    eq(r.returncode, 2, "unknown format")
    for args in (["--format"], ["--fromat", "json"], ["json"]):
        r = creditctl("export", acct_id, *args, check_rc=False)
        eq((r.returncode, r.stdout), (2, ""), "export %r is a usage error" % args)


def test_creditctl_export_in_pages():
    # More journal rows than one page of an export (LIMIT_EXPORT_PAGE,
    # 256): creditctl reads page after page, and prints every row once, in
    # order, with one CSV header.
    acct_id = new_account("export_pages")
    parallel(10, lambda i: [grant(acct_id, 1, "adjustment", description="row %d.%d" % (i, k)) for k in range(30)])
    api_rows = list(reversed(pages(acct_id, 200)))
    eq(len(api_rows), 301, "the signup bonus and 300 grants")
    out = creditctl("export", acct_id).stdout
    lines = out.splitlines()
    eq(lines[0], "id,amount_micros,balance_after_micros,cause,source,reference,description,created_at", "header")
    eq([line.split(",")[0] for line in lines[1:]], [e["id"] for e in api_rows], "every row once, oldest first")
    exported = [json.loads(line) for line in creditctl("export", acct_id, "--format", "json").stdout.splitlines()]
    eq([e["id"] for e in exported], [e["id"] for e in api_rows], "JSON lines, every row once")
    eq([e["description"] for e in exported], [e["description"] for e in api_rows], "descriptions")


def test_verify_says_how_far_it_is_with_progress():
    """--progress: a line on stderr after each check (its number of all,
    its name, what it found, how long), stdout as without it; a wrong
    argument is a usage error (2) that checks nothing."""
    plain = creditctl("verify")
    out = creditctl("verify", "--progress")
    eq(out.stdout, plain.stdout, "stdout keeps its shape")
    eq(plain.stderr, "", "no progress unless asked (stderr is no terminal here)")
    lines = out.stderr.splitlines()
    check(len(lines) >= 20, "a line a check: " + out.stderr)
    total = len(lines)
    for n, line in enumerate(lines, 1):
        m = re.match(r"creditctl: verify: (\d+)/(\d+) (.+): (\d+) found, ([\d.]+) s \(([\d.]+) s in all\)$", line)
        check(m is not None, "progress line shape: " + line)
        eq((int(m.group(1)), int(m.group(2))), (n, total), "numbered in order: " + line)
    check(any(" balance vs journal: " in line for line in lines), "names the checks: " + out.stderr)
    check(any(" usage cost vs journal: " in line for line in lines), "names the checks: " + out.stderr)
    bad = creditctl("verify", "--fast", check_rc=False)
    eq(bad.returncode, 2, "unknown argument: usage")
    check("usage: creditctl verify" in bad.stderr, "says the usage: " + bad.stderr)


def test_verify_sums_usage_per_account_and_names_the_account():
    """The usage check compares an account's usage rows with its journal
    charges: a usage row's cost changed is found and named by account."""
    acct_id = new_account("usesum")
    grant(acct_id, 100000)
    r = api("POST", "/v1/usage", {"account": acct_id, "model": "gpt-4o", "input_tokens": 100,
                                  "output_tokens": 10, "request_id": uid("u")}, auth="guard")
    eq(r.status, 200, "direct usage")
    verify()
    aid = sql("SELECT id FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0]
    sql("UPDATE usage_records SET cost_micros = cost_micros + 7 WHERE account_id = %s" % aid)
    try:
        out = creditctl("verify", check_rc=False)
    finally:
        sql("UPDATE usage_records SET cost_micros = cost_micros - 7 WHERE account_id = %s" % aid)
    eq(out.returncode, 1, "verify fails on a tampered usage cost")
    check(any("usage cost vs journal" in line and acct_id in line for line in out.stdout.splitlines()),
          "names the check and the account: " + out.stdout)
    verify()
