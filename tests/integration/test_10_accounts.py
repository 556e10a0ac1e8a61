"""test_10_accounts.py: the ledger core through nginx (issue "Ledger core").

Accounts, grants, debits, the journal and its pages (idempotency, the
spending order, expiry, creditctl's ledger commands and `verify` are
test_11_ledger.py's, with this file's helpers). Every bad
request is checked twice: the answer (a 4xx JSON error naming the field)
and the ledger (the account, its journal and its grants are exactly as
they were before, read through the API and straight from MariaDB)."""
import datetime
import json
import threading
import time
import urllib.parse

from lib import Fail, api, check, creditctl, eq, new_account, parallel, sql, uid

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
                                         "requests_per_minute", "tokens_per_minute", "status_reason", "collection",
                                         "email"},
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
    eq(a["email"], None, "no email")
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
        eq(set(e), TXN_FIELDS | {"usage", "actor"}, "entry fields (a page's rows carry usage, DESIGN §11, and who "
           "acted, sql/074)")
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


# ---- helpers of test_11_ledger.py (shared) ----

def idem(method, path, body, k, auth="admin"):
    return api(method, path, body, auth=auth, headers={"Idempotency-Key": k})
