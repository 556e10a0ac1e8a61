"""chaos_input.py: hostile input (docs/api.md); the authorization
matrix is chaos_keys.py's, with this file's helpers.

Owns one scenario:

- hostile_input: a table of malformed requests (broken and hostile JSON,
  numbers beyond int64 or the allowed ranges, NUL bytes and invalid UTF-8,
  foreign Content-Types, oversized bodies and headers, hostile paths and
  percent-encoding, wrong methods, unknown routes, bad webhook signatures),
  each sent through nginx with a key of the right scope. Every one must get
  its 4xx with the error object of §5 ("type", "code", "message", "param")
  and the right code and param; none may change the ledger, and creditd
  must still be the same live process, healthy, with `creditctl verify`
  clean afterwards.

Each row is data; one small runner sends it and collects every mismatch, so
a failure lists all the rows that went wrong at once.
"""
import collections
import hashlib
import hmac
import http.client
import json
import re
import socket
import struct
import time
import urllib.parse

import lib
from lib import ENV, api, check, eq, new_account, sql, uid, verify
import stack

# ---- what the answers must look like ----------------------------------------

# docs/api.md, "Errors": the error type by status (405 is creditd's own, an
# invalid request like the other 4xx of the request's shape).
TYPE_BY_STATUS = {400: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
                  415: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                  404: "not_found_error", 409: "conflict_error", 402: "insufficient_quota",
                  429: "insufficient_quota"}
ANY_4XX = tuple(range(400, 500))
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# An Authorization header value in a row's headers replaces the key the
# runner would send; NO_KEY sends none at all.
NO_KEY = object()
# In the param column: the answer's param must be null (no field is at
# fault); None leaves param unchecked.
NULL = "(null)"
# A path with this prefix goes straight to creditd's FastCGI socket.
DIRECT = "fastcgi:"
# A field left out of a body built from a default one.
DROP = object()

Row = collections.namedtuple("Row", "name method path headers body status code param")


def error_problems(r, status, code, param):
    """What is wrong with answer r against (status, code, param): a list of
    sentences, empty when it is right. code None: the answer may come from
    nginx itself (a header too large), so only the status is checked."""
    problems = []
    wanted = status if isinstance(status, tuple) else (status,)
    if r.status not in wanted:
        problems.append("status %d, want %s" % (r.status, status if isinstance(status, int) else "4xx"))
    if r.status >= 500:
        problems.append("a server error")
    rid = r.headers.get("x-request-id")
    if rid is not None and not REQUEST_ID_RE.match(rid):
        problems.append("X-Request-Id echoed unsafely: %r" % rid[:80])
    if code is None:
        return problems
    if not r.headers.get("content-type", "").startswith("application/json"):
        problems.append("Content-Type %r, want application/json" % r.headers.get("content-type"))
    err = (r.json or {}).get("error") if isinstance(r.json, dict) else None
    if not isinstance(err, dict):
        problems.append("no JSON error object")
        return problems
    missing = [k for k in ("type", "code", "message", "param") if k not in err]
    if missing:
        problems.append("error object lacks %s" % ", ".join(missing))
    if err.get("code") not in (code if isinstance(code, tuple) else (code,)):
        problems.append("code %r, want %r" % (err.get("code"), code))
    if err.get("type") != TYPE_BY_STATUS.get(r.status, err.get("type")):
        problems.append("type %r, want %r" % (err.get("type"), TYPE_BY_STATUS.get(r.status)))
    if not isinstance(err.get("message"), str) or not err.get("message"):
        problems.append("empty message")
    if not (err.get("param") is None or isinstance(err.get("param"), str)):
        problems.append("param %r is neither a string nor null" % (err.get("param"),))
    want_param = None if param == NULL else param
    if param is not None and err.get("param") != want_param:
        problems.append("param %r, want %r" % (err.get("param"), want_param))
    return problems


# ---- sending ------------------------------------------------------------------

def raw_request(method, path, headers, body):
    """One request written byte for byte on a fresh connection to nginx: for
    paths http.client refuses to send (raw bytes that are not ASCII)."""
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    lines = [method.encode() + b" " + u.path.rstrip("/").encode() + path + b" HTTP/1.1",
             b"Host: " + u.netloc.encode(), b"Connection: close"]
    for k, v in headers.items():
        lines.append(k.encode() + b": " + v.encode("latin-1"))
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    s = socket.create_connection((u.hostname, u.port), timeout=60)
    try:
        s.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        r = http.client.HTTPResponse(s)
        r.begin()
        payload = r.read()
        return lib.Resp(r.status, payload, {k.lower(): v for k, v in r.getheaders()})
    finally:
        s.close()


def _fcgi_record(rtype, content, request_id=1):
    return struct.pack(">BBHHBB", 1, rtype, request_id, len(content), 0, 0) + content


def _fcgi_pairs(params):
    out = b""
    for k, v in params.items():
        for n in (len(k), len(v)):
            out += struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def fcgi_request(method, uri, headers, body):
    """One request straight to creditd's FastCGI socket, bypassing nginx:
    for URIs nginx refuses on its own (bad percent-encoding), so creditd's
    own answer to them is checked too. A minimal responder-role client."""
    params = {b"REQUEST_METHOD": method.encode(), b"REQUEST_URI": uri.encode("latin-1"),
              b"QUERY_STRING": uri.partition("?")[2].encode("latin-1"), b"SERVER_PROTOCOL": b"HTTP/1.1"}
    for k, v in headers.items():
        name = k.upper().replace("-", "_")
        name = name if name in ("CONTENT_TYPE",) else "HTTP_" + name
        params[name.encode()] = v.encode("latin-1")
    body = body or b""
    params[b"CONTENT_LENGTH"] = str(len(body)).encode()
    msg = _fcgi_record(1, struct.pack(">HB5x", 1, 0))  # BEGIN_REQUEST: responder, close after
    msg += _fcgi_record(4, _fcgi_pairs(params)) + _fcgi_record(4, b"")
    for i in range(0, len(body), 65535):
        msg += _fcgi_record(5, body[i:i + 65535])
    msg += _fcgi_record(5, b"")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(stack.path("creditd.sock"))
        s.sendall(msg)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    out, pos = b"", 0
    while pos + 8 <= len(data):
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", data[pos:pos + 8])
        if rtype == 6:  # STDOUT
            out += data[pos + 8:pos + 8 + clen]
        pos += 8 + clen + plen
    head, _, payload = out.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs.get("status", "200").split()[0])
    return lib.Resp(status, payload, hdrs)


def key_for(method, path):
    """The scope router.c gives the route of (method, path)."""
    p = path if isinstance(path, str) else path.decode("latin-1")
    p = p[len(DIRECT):] if p.startswith(DIRECT) else p
    if p.startswith("/v1/guard/") or p.startswith("/v1/usage"):
        return "guard"
    if method == "GET":
        return "read"
    if method == "POST" and p.split("?")[0].endswith(("/topup", "/redeem", "/browser_tokens")):
        return "app"
    if "/gateway_keys" in p:
        return "app"
    return "admin"


def encode_body(body):
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def send(row):
    headers = dict(row.headers or {})
    auth = key_for(row.method, row.path)
    if "Authorization" in headers:
        auth = None
        if headers["Authorization"] is NO_KEY:
            del headers["Authorization"]
    body = encode_body(row.body)
    if isinstance(row.path, str) and row.path.startswith(DIRECT):
        h = {"Content-Type": "application/json"}
        if auth is not None:
            h["Authorization"] = "Bearer " + lib.key(auth)
        h.update(headers)
        return fcgi_request(row.method, row.path[len(DIRECT):], h, body)
    if isinstance(row.path, bytes):
        h = {"Content-Type": "application/json"}
        if auth is not None:
            h["Authorization"] = "Bearer " + lib.key(auth)
        h.update(headers)
        return raw_request(row.method, row.path, h, body)
    return api(row.method, row.path, auth=auth, headers=headers, raw=body)


def run_rows(rows):
    """Sends every row; returns (failures, Counter of statuses)."""
    failures, seen = [], collections.Counter()
    for row in rows:
        try:
            r = send(row)
        except (OSError, http.client.HTTPException) as e:
            failures.append("%s: %s %r: no answer (%s)" % (row.name, row.method, row.path[:80], e))
            continue
        seen[r.status] += 1
        problems = error_problems(r, row.status, row.code, row.param)
        if problems:
            failures.append("%s: %s %s -> %s (%s)" % (row.name, row.method, str(row.path)[:100],
                                                     "; ".join(problems), r.raw[:240]))
    return failures, seen


# ---- the ledger, before and after ---------------------------------------------

SNAPSHOT_SQL = ", ".join([
    "(SELECT COUNT(*) FROM journal)", "(SELECT COALESCE(SUM(amount_micros), 0) FROM journal)",
    "(SELECT COALESCE(MAX(id), 0) FROM journal)",
    "(SELECT COUNT(*) FROM accounts)", "(SELECT COALESCE(SUM(balance_micros), 0) FROM accounts)",
    "(SELECT COALESCE(SUM(reserved_micros), 0) FROM accounts)",
    "(SELECT COALESCE(SUM(month_spent_micros), 0) FROM accounts)",
    "(SELECT COUNT(*) FROM grants)", "(SELECT COALESCE(SUM(remaining_micros), 0) FROM grants)",
    "(SELECT COUNT(*) FROM holds)", "(SELECT COUNT(*) FROM holds WHERE state = 'pending')",
    "(SELECT COALESCE(SUM(charged_micros), 0) FROM holds)",
    "(SELECT COUNT(*) FROM usage_records)", "(SELECT COUNT(*) FROM idempotency_keys)",
    "(SELECT COUNT(*) FROM members)", "(SELECT COUNT(*) FROM topups)", "(SELECT COUNT(*) FROM stripe_events)",
])
SNAPSHOT_NAMES = ["journal_rows", "journal_sum", "journal_max_id", "accounts", "balance_sum", "reserved_sum",
                  "month_spent_sum", "grants", "grants_remaining", "holds", "holds_pending", "holds_charged",
                  "usage_records", "idempotency_keys", "members", "topups", "stripe_events"]
CHECKSUM_TABLES = "journal, grants, holds, usage_records, idempotency_keys, topups, stripe_events"
# Accounts and members are checksummed on everything but what they were
# told (the notice columns): a refused 402 or 429 is news once, and writes
# its balance.depleted or limit.reached with its note (docs/api.md, "Events"); the
# money, the settings and the counters must not move.
ROW_CHECKSUMS = {
    "accounts": "SELECT COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, ext_id, kind, status, balance_micros, "
                "reserved_micros, overdraft_limit_micros, IFNULL(monthly_limit_micros, '-'), "
                "IFNULL(low_balance_micros, '-'), IFNULL(plan, '-'), month_key, month_spent_micros, "
                "IFNULL(sweep_due_at, '-'), IFNULL(daily_limit_micros, '-'), day_key, day_spent_micros, plan_period, "
                "IFNULL(recharge_threshold_micros, '-'), recharge_pending, recharge_day_count))), 0) FROM accounts",
    "members": "SELECT COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', account_id, member, IFNULL(monthly_cap_micros, '-'), "
               "month_key, month_spent_micros, reserved_micros))), 0) FROM members",
}


def ledger_snapshot():
    figures = dict(zip(SNAPSHOT_NAMES, sql("SELECT " + SNAPSHOT_SQL)[0]))
    for table, checksum in sql("CHECKSUM TABLE " + CHECKSUM_TABLES):
        figures["checksum " + table.split(".")[-1]] = checksum
    for table, query in ROW_CHECKSUMS.items():
        figures["checksum " + table] = sql(query)[0][0]
    return figures


def ledger_changes(before, what):
    """[] when the ledger is as in `before`, else one sentence saying how."""
    after = ledger_snapshot()
    diff = ["%s %s -> %s" % (k, before[k], after.get(k)) for k in before if before[k] != after.get(k)]
    return ["%s changed the ledger: %s" % (what, ", ".join(diff))] if diff else []


def creditd_unharmed(pid):
    check(stack.alive(pid), "creditd (pid %d) died" % pid)
    eq(stack.creditd_pid(), pid, "creditd's pid")
    eq(stack.health(), 200, "/healthz")
    verify()


# ---- fixtures -------------------------------------------------------------------

def q(segment):
    return urllib.parse.quote(segment, safe="")


def authorize(acct, **extra):
    body = {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 100, "max_output_tokens": 100,
            "request_id": uid("req")}
    body.update(extra)
    r = api("POST", "/v1/guard/authorize", body, auth="guard")
    eq(r.status, 200, "fixture authorize: %r" % r)
    return r.json["hold_id"]


def guard_call(path, body, want=200):
    r = api("POST", path, body, auth="guard")
    eq(r.status, want, "fixture %s: %r" % (path, r))


def sign(payload, t, secret=None):
    secret = secret or ENV["CREDITD_WEBHOOK_SECRET"]
    mac = hmac.new(secret.encode(), b"%d." % t + payload, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def stripe_event(acct):
    """A paid top-up event as Stripe would send it (its signature decides)."""
    sid = "cs_test_" + uid("chaos")
    return json.dumps({"id": "evt_" + uid("chaos"), "object": "event", "type": "checkout.session.completed",
                       "created": int(time.time()), "data": {"object": {
                           "id": sid, "object": "checkout.session", "mode": "payment", "currency": "eur",
                           "payment_status": "paid", "status": "complete", "amount_total": 1000,
                           "metadata": {"type": "credit_topup", "account": acct, "amount_cents": "1000"}}}}).encode()


# ---- hostile input ---------------------------------------------------------------

def nested(depth):
    return "[" * depth + "]" * depth


def hostile_rows(acct, ws, hold, settled, released, suspended, capped):
    """The table: (name, method, path, headers, body, status, code, param).
    A body is a dict (sent as JSON), a str (its UTF-8) or bytes (as is)."""
    A = "/v1/accounts/" + q(acct)
    G = A + "/grants"
    D = A + "/debits"
    T = A + "/transactions"
    U = A + "/usage"
    AUTH, SETTLE, RELEASE, USAGE = "/v1/guard/authorize", "/v1/guard/settle", "/v1/guard/release", "/v1/usage"
    HOOK = "/v1/webhooks/stripe"
    INV, NF = "invalid_request", "not_found"

    def grant(**f):
        b = {"amount_micros": 1000, "source": "promo"}
        b.update(f)
        return {k: v for k, v in b.items() if v is not DROP}

    def grant_raw(amount):
        return '{"amount_micros": %s, "source": "promo"}' % amount

    def authz(**f):
        b = {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10, "max_output_tokens": 10,
             "request_id": "hostile-never-stored"}
        b.update(f)
        return {k: v for k, v in b.items() if v is not DROP}

    def authz_raw(field, literal):
        b = authz()
        b[field] = "@@"
        return json.dumps(b).replace('"@@"', literal)

    def settle(**f):
        b = {"hold_id": hold, "input_tokens": 10, "output_tokens": 10}
        b.update(f)
        return {k: v for k, v in b.items() if v is not DROP}

    def usage(**f):
        b = {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10, "output_tokens": 10,
             "request_id": "hostile-usage-never-stored"}
        b.update(f)
        return {k: v for k, v in b.items() if v is not DROP}

    now = int(time.time())
    event = stripe_event(acct)
    huge = "x" * 20000
    ct = lambda v: {"Content-Type": v}  # noqa: E731 - a table shorthand
    R = Row
    return [
        # -- JSON structure ---------------------------------------------------
        R("nested 10,000 arrays", "POST", G, None, '{"amount_micros": %s, "source": "promo"}' % nested(10000),
          400, INV, None),
        R("nested 10,000 objects", "POST", G, None, '{"a":' * 10000 + "1" + "}" * 10000, 400, INV, None),
        R("top-level 10,000 arrays", "POST", AUTH, None, nested(10000), 400, INV, None),
        R("nested 40 deep (beyond creditd's 32)", "POST", G, None,
          '{"amount_micros": 1, "source": "promo", "description": %s}' % nested(40), 400, INV, None),
        R("empty body", "POST", G, None, b"", 400, INV, None),
        R("whitespace body", "POST", G, None, b" \n\t ", 400, INV, None),
        R("top-level null", "POST", G, None, "null", 400, INV, None),
        R("top-level array", "POST", G, None, "[]", 400, INV, None),
        R("top-level string", "POST", G, None, '"string"', 400, INV, None),
        R("top-level number", "POST", AUTH, None, "42", 400, INV, None),
        R("truncated JSON", "POST", G, None, '{"amount_micros": 1000, "source": "pro', 400, INV, None),
        R("truncated after a key", "POST", AUTH, None, '{"account": ', 400, INV, None),
        R("trailing comma", "POST", G, None, '{"amount_micros": 1000, "source": "promo",}', 400, INV, None),
        R("trailing garbage", "POST", G, None, '{"amount_micros": 1000, "source": "promo"} x', 400, INV, NULL),
        R("two objects", "POST", G, None, '{"amount_micros": 1000, "source": "promo"}{}', 400, INV, None),
        R("single quotes", "POST", G, None, "{'amount_micros': 1000, 'source': 'promo'}", 400, INV, None),
        R("comment", "POST", G, None, '{"amount_micros": 1000 /* x */, "source": "promo"}', 400, INV, None),
        R("duplicate key", "POST", G, None, '{"amount_micros": 1, "source": "promo", "amount_micros": 2000000}',
          400, INV, "amount_micros"),
        R("duplicate account in authorize", "POST", AUTH, None,
          authz_raw("request_id", '"r1", "account": "someone-else"'), 400, INV, "account"),
        R("duplicate key by escape", "POST", G, None,
          '{"amount_micros": 1, "source": "promo", "amount\\u005fmicros": 2000000}', 400, INV, None),
        R("key with \\u0000", "POST", G, None, '{"amount_micros\\u0000": 1000, "source": "promo"}', 400, INV,
          None),
        R("key twin with \\u0000", "POST", G, None,
          '{"amount_micros": 1, "amount_micros\\u0000x": 2000000, "source": "promo"}', 400, INV, None),
        R("many unknown keys", "POST", G, None,
          "{" + ", ".join('"k%d": %d' % (i, i) for i in range(4000)) + "}", 400, INV, "k0"),
        # -- numbers ----------------------------------------------------------
        R("1e400", "POST", G, None, grant_raw("1e400"), 400, INV, "amount_micros"),
        R("-1e400", "POST", G, None, grant_raw("-1e400"), 400, INV, "amount_micros"),
        R("NaN", "POST", G, None, grant_raw("NaN"), 400, INV, "amount_micros"),
        R("Infinity", "POST", G, None, grant_raw("Infinity"), 400, INV, "amount_micros"),
        R("-Infinity", "POST", G, None, grant_raw("-Infinity"), 400, INV, "amount_micros"),
        R("negative amount", "POST", G, None, grant(amount_micros=-5000000), 400, INV, "amount_micros"),
        R("zero amount", "POST", G, None, grant(amount_micros=0), 400, INV, "amount_micros"),
        R("int64 + 1", "POST", G, None, grant_raw("9223372036854775808"), 400, INV, "amount_micros"),
        R("int64 min - 1", "POST", G, None, grant_raw("-9223372036854775809"), 400, INV, "amount_micros"),
        R("2^64", "POST", G, None, grant_raw("18446744073709551616"), 400, INV, "amount_micros"),
        R("int64 max (beyond 10^12)", "POST", G, None, grant(amount_micros=9223372036854775807), 400, INV,
          "amount_micros"),
        R("10^12 + 1", "POST", G, None, grant(amount_micros=10 ** 12 + 1), 400, INV, "amount_micros"),
        R("float 1.5", "POST", G, None, grant(amount_micros=1.5), 400, INV, "amount_micros"),
        R("float 1e3", "POST", G, None, grant_raw("1e3"), 400, INV, "amount_micros"),
        R("float 1000.0", "POST", G, None, grant_raw("1000.0"), 400, INV, "amount_micros"),
        R("leading zero 0100", "POST", G, None, grant_raw("0100"), 400, INV, None),
        R("hex 0x10", "POST", G, None, grant_raw("0x10"), 400, INV, None),
        R("plus sign +1000", "POST", G, None, grant_raw("+1000"), 400, INV, None),
        R("string amount", "POST", G, None, grant(amount_micros="1000"), 400, INV, "amount_micros"),
        R("bool amount", "POST", G, None, grant(amount_micros=True), 400, INV, "amount_micros"),
        R("null amount", "POST", G, None, grant(amount_micros=None), 400, INV, "amount_micros"),
        R("object amount", "POST", G, None, grant(amount_micros={"v": 1}), 400, INV, "amount_micros"),
        R("array amount", "POST", G, None, grant(amount_micros=[1000]), 400, INV, "amount_micros"),
        R("debit negative", "POST", D, None, {"amount_micros": -1, "reason": "x"}, 400, INV, "amount_micros"),
        R("debit int64 + 1", "POST", D, None, '{"amount_micros": 9223372036854775808, "reason": "x"}', 400, INV,
          "amount_micros"),
        R("debit beyond the balance", "POST", D, None, {"amount_micros": 10 ** 12, "reason": "x"}, 402,
          "insufficient_credits", None),
        R("tokens negative", "POST", AUTH, None, authz(input_tokens=-1), 400, INV, "input_tokens"),
        R("tokens 1.5", "POST", AUTH, None, authz(input_tokens=1.5), 400, INV, "input_tokens"),
        R("tokens string", "POST", AUTH, None, authz(input_tokens="10"), 400, INV, "input_tokens"),
        R("tokens int64 + 1", "POST", AUTH, None, authz_raw("input_tokens", "9223372036854775808"), 400, INV,
          "input_tokens"),
        R("tokens 1e400", "POST", AUTH, None, authz_raw("input_tokens", "1e400"), 400, INV, "input_tokens"),
        R("tokens NaN", "POST", AUTH, None, authz_raw("input_tokens", "NaN"), 400, INV, "input_tokens"),
        R("tokens beyond 10^9", "POST", AUTH, None, authz(input_tokens=10 ** 9 + 1), 400, INV, "input_tokens"),
        R("max_output_tokens 0", "POST", AUTH, None, authz(max_output_tokens=0), 400, INV, "max_output_tokens"),
        R("max_output_tokens above the model's", "POST", AUTH, None, authz(max_output_tokens=100000), 400, INV,
          "max_output_tokens"),
        R("ttl_seconds 0", "POST", AUTH, None, authz(ttl_seconds=0), 400, INV, "ttl_seconds"),
        R("ttl_seconds 86401", "POST", AUTH, None, authz(ttl_seconds=86401), 400, INV, "ttl_seconds"),
        R("authorize beyond the balance", "POST", AUTH, None,
          authz(model="gpt-4o", input_tokens=10 ** 9, max_output_tokens=16384), 402, "insufficient_credits", None),
        R("settle output negative", "POST", SETTLE, None, settle(output_tokens=-1), 400, INV, "output_tokens"),
        R("settle input 1e400", "POST", SETTLE, None,
          '{"hold_id": "%s", "input_tokens": 1e400, "output_tokens": 1}' % hold, 400, INV, "input_tokens"),
        R("settle cached > input", "POST", SETTLE, None, settle(cached_input_tokens=11), 400, INV,
          "cached_input_tokens"),
        R("usage output -1", "POST", USAGE, None, usage(output_tokens=-1), 400, INV, "output_tokens"),
        R("member cap negative", "POST", "/v1/accounts/%s/members" % q(ws), None,
          {"member": "m1", "monthly_cap_micros": -1}, 400, INV, "monthly_cap_micros"),
        R("topup cents 1.5", "POST", A + "/topup", None, {"amount_cents": 1.5}, 400, INV, "amount_cents"),
        R("topup cents int64 + 1", "POST", A + "/topup", None, '{"amount_cents": 9223372036854775808}', 400, INV,
          "amount_cents"),
        R("topup below the minimum", "POST", A + "/topup", None, {"amount_cents": 1}, 400, INV, "amount_cents"),
        R("account overdraft negative", "POST", "/v1/accounts", None,
          {"id": uid("hostile"), "kind": "user", "overdraft_limit_micros": -1}, 400, INV, "overdraft_limit_micros"),
        R("patch overdraft as a string", "PATCH", A, None, {"overdraft_limit_micros": "1000"}, 400, INV,
          "overdraft_limit_micros"),
        # -- strings: NUL, control characters, UTF-8, lengths, enums -----------
        R("\\u0000 in a description", "POST", G, None, grant(description="a\u0000b"), 400, INV, "description"),
        R("raw NUL in a description", "POST", G, None, b'{"amount_micros": 1000, "source": "promo", '
          b'"description": "a\x00b"}', 400, INV, None),
        R("\\u0000 in an account id", "POST", "/v1/accounts", None, {"id": "nul\u0000id", "kind": "user"}, 400,
          INV, "id"),
        R("\\u0000 in a request_id", "POST", AUTH, None, authz(request_id="r\u0000"), 400, INV, "request_id"),
        R("control character in an id", "POST", "/v1/accounts", None, {"id": "bell\u0007", "kind": "user"}, 400,
          INV, "id"),
        R("invalid UTF-8 in a description", "POST", G, None, b'{"amount_micros": 1000, "source": "promo", '
          b'"description": "\xff\xfe"}', 400, INV, "description"),
        R("overlong UTF-8 in an account", "POST", AUTH, None, b'{"account": "\xc0\xaf", "model": "gpt-3.5-turbo", '
          b'"input_tokens": 1, "request_id": "r"}', 400, INV, "account"),
        R("lone surrogate escape", "POST", G, None, '{"amount_micros": 1000, "source": "promo", '
          '"description": "\\ud800"}', 400, INV, None),
        R("description 501 bytes", "POST", G, None, grant(description="d" * 501), 400, INV, "description"),
        R("empty account id", "POST", "/v1/accounts", None, {"id": "", "kind": "user"}, 400, INV, "id"),
        R("account id 129 bytes", "POST", "/v1/accounts", None, {"id": "i" * 129, "kind": "user"}, 400, INV, "id"),
        R("account id a number", "POST", "/v1/accounts", None, {"id": 123, "kind": "user"}, 400, INV, "id"),
        R("kind not an enum value", "POST", "/v1/accounts", None, {"id": uid("hostile"), "kind": "admin"}, 400,
          INV, "kind"),
        R("grant source topup", "POST", G, None, grant(source="topup"), 400, INV, "source"),
        R("status not an enum value", "PATCH", A, None, {"status": "deleted"}, 400, INV, "status"),
        R("expires_at not a time", "POST", G, None, grant(expires_at="tomorrow"), 400, INV, "expires_at"),
        R("expires_at in the past", "POST", G, None, grant(expires_at="2001-01-01T00:00:00Z"), 400, INV,
          "expires_at"),
        R("priority 101", "POST", G, None, grant(priority=101), 400, INV, "priority"),
        R("byok a string", "POST", AUTH, None, authz(byok="yes"), 400, INV, "byok"),
        R("force a string", "POST", USAGE, None, usage(force="true"), 400, INV, "force"),
        R("hold_id a number", "POST", SETTLE, None, settle(hold_id=12), 400, INV, "hold_id"),
        R("hold_id empty", "POST", RELEASE, None, {"hold_id": ""}, 400, INV, "hold_id"),
        R("hold_id null", "POST", RELEASE, None, {"hold_id": None}, 400, INV, "hold_id"),
        R("unknown model", "POST", AUTH, None, authz(model="gpt-9-ultra"), 400, INV, "model"),
        R("model and action", "POST", AUTH, None, authz(action="debrief"), 400, INV, None),
        R("success_url javascript:", "POST", A + "/topup", None,
          {"amount_cents": 1000, "success_url": "javascript:alert(1)"}, 400, INV, "success_url"),
        R("idempotency_key field 256 bytes", "POST", G, None, grant(idempotency_key="k" * 256), 400, INV,
          "idempotency_key"),
        R("Idempotency-Key header 300 bytes", "POST", G, {"Idempotency-Key": "k" * 300}, grant(), 400, INV,
          "idempotency_key"),
        R("Idempotency-Key with a tab", "POST", G, {"Idempotency-Key": "a\tb"}, grant(), 400, INV,
          "idempotency_key"),
        R("Idempotency-Key on a bad body", "POST", G, {"Idempotency-Key": uid("idem")}, grant(amount_micros=-1),
          400, INV, "amount_micros"),
        R("Idempotency-Key on a bad settle", "POST", SETTLE, {"Idempotency-Key": uid("idem")},
          settle(output_tokens=-1), 400, INV, "output_tokens"),
        # -- no mass assignment, required fields --------------------------------
        R("balance_micros on a grant", "POST", G, None, grant(balance_micros=10 ** 12), 400, INV, "balance_micros"),
        R("account_id on a grant", "POST", G, None, grant(account_id=1), 400, INV, "account_id"),
        R("unknown field of 80 bytes ending in UTF-8", "POST", G, None, grant(**{"x" * 78 + "\u00e9": 1}), 400, INV,
          None),
        R("unknown field of 100 two-byte characters", "POST", AUTH, None, authz(**{"\u00e9" * 100: 1}), 400, INV,
          None),
        R("balance_micros on an account", "POST", "/v1/accounts", None,
          {"id": uid("hostile"), "kind": "user", "balance_micros": 10 ** 12}, 400, INV, "balance_micros"),
        R("balance_micros on a patch", "PATCH", A, None, {"balance_micros": 10 ** 12}, 400, INV, "balance_micros"),
        R("amount_micros on authorize", "POST", AUTH, None, authz(amount_micros=0), 400, INV, "amount_micros"),
        R("charged_micros on settle", "POST", SETTLE, None, settle(charged_micros=0), 400, INV, "charged_micros"),
        R("unknown field on release", "POST", RELEASE, None, {"hold_id": hold, "state": "settled"}, 400, INV,
          "state"),
        R("missing amount_micros", "POST", G, None, grant(amount_micros=DROP), 400, INV, "amount_micros"),
        R("missing source", "POST", G, None, grant(source=DROP), 400, INV, "source"),
        R("missing reason", "POST", D, None, {"amount_micros": 1}, 400, INV, "reason"),
        R("missing kind", "POST", "/v1/accounts", None, {"id": uid("hostile")}, 400, INV, "kind"),
        R("missing account", "POST", AUTH, None, authz(account=DROP), 400, INV, "account"),
        R("missing request_id", "POST", AUTH, None, authz(request_id=DROP), 400, INV, "request_id"),
        R("missing model and action", "POST", AUTH, None, authz(model=DROP), 400, INV, "model"),
        R("missing output_tokens", "POST", SETTLE, None, settle(output_tokens=DROP), 400, INV, "output_tokens"),
        R("usage without output_tokens", "POST", USAGE, None, usage(output_tokens=DROP), 400, INV, "output_tokens"),
        R("missing hold_id", "POST", RELEASE, None, {}, 400, INV, "hold_id"),
        R("missing member", "POST", "/v1/accounts/%s/members" % q(ws), None, {"monthly_cap_micros": 1}, 400, INV,
          "member"),
        # -- holds in the wrong state, unknown things ---------------------------
        R("settle an unknown hold", "POST", SETTLE, None, settle(hold_id="hold_999999999"), 404, NF, None),
        R("release an unknown hold", "POST", RELEASE, None, {"hold_id": "hold_999999999"}, 404, NF, None),
        R("release a hold id beyond int64", "POST", RELEASE, None, {"hold_id": "hold_99999999999999999999_1"}, 404,
          NF, None),
        R("release a settled hold", "POST", RELEASE, None, {"hold_id": settled}, 409, "conflict", None),
        R("settle a released hold", "POST", SETTLE, None, settle(hold_id=released), 409, "conflict", None),
        R("authorize an unknown account", "POST", AUTH, None, authz(account=uid("nobody")), 404, NF, None),
        R("settle a settled hold with other figures", "POST", SETTLE, None, settle(hold_id=settled, output_tokens=11),
          409, "conflict", None),
        R("re-create an account with another body", "POST", "/v1/accounts", None, {"id": acct, "kind": "workspace"},
          409, "conflict", "id"),
        R("authorize on a suspended account", "POST", AUTH, None, authz(account=suspended), 403,
          "account_suspended", None),
        R("usage on a suspended account", "POST", USAGE, None, usage(account=suspended), 403, "account_suspended",
          None),
        R("authorize past the monthly limit", "POST", AUTH, None, authz(account=capped), 429,
          "billing_hard_limit_reached", None),
        R("usage past the monthly limit", "POST", USAGE, None, usage(account=capped), 429,
          "billing_hard_limit_reached", None),
        R("grant to an unknown account", "POST", "/v1/accounts/%s/grants" % uid("nobody"), None, grant(), 404, NF,
          None),
        R("patch an unknown account", "PATCH", "/v1/accounts/" + uid("nobody"), None, {"status": "closed"}, 404,
          NF, None),
        # -- Content-Type -------------------------------------------------------
        R("text/plain", "POST", G, ct("text/plain"), grant(), 415, "unsupported_media_type", None),
        R("form", "POST", G, ct("application/x-www-form-urlencoded"), "amount_micros=1000&source=promo", 415,
          "unsupported_media_type", None),
        R("multipart", "POST", G, ct("multipart/form-data; boundary=xyz"),
          '--xyz\r\nContent-Disposition: form-data; name="amount_micros"\r\n\r\n1000\r\n--xyz--\r\n', 415,
          "unsupported_media_type", None),
        R("application/jsonx", "POST", G, ct("application/jsonx"), grant(), 415, "unsupported_media_type", None),
        R("application/json-patch+json", "PATCH", A, ct("application/json-patch+json"), {"status": "closed"}, 415,
          "unsupported_media_type", None),
        R("text/json on authorize", "POST", AUTH, ct("text/json"), authz(), 415, "unsupported_media_type", None),
        R("text/plain with an Idempotency-Key", "POST", G, {"Content-Type": "text/plain",
                                                             "Idempotency-Key": uid("idem")}, grant(), 415,
          "unsupported_media_type", None),
        R("text/plain body on a GET", "GET", A, ct("text/plain"), "x", 415, "unsupported_media_type", None),
        R("form on a member delete", "DELETE", "/v1/accounts/%s/members/m1" % q(ws),
          ct("application/x-www-form-urlencoded"), "a=b", 415, "unsupported_media_type", None),
        R("form on settle", "POST", SETTLE, ct("application/x-www-form-urlencoded"), settle(), 415,
          "unsupported_media_type", None),
        R("charset allowed, body still checked", "POST", G, ct("application/json; charset=utf-8"),
          grant(amount_micros=-1), 400, INV, "amount_micros"),
        # -- sizes --------------------------------------------------------------
        R("10 MB body", "POST", G, None, b'{"description": "' + b"x" * (10 * 1024 * 1024) + b'"}', 413,
          "payload_too_large", None),
        R("100 KiB body (creditd's limit)", "POST", G, None, grant(description="x" * (100 * 1024)), 413,
          "payload_too_large", None),
        R("20 KB Authorization", "GET", A, {"Authorization": "Bearer " + huge}, None, 400, INV, NULL),
        R("20 KB X-Request-Id", "GET", A, {"X-Request-Id": huge}, None, 400, INV, NULL),
        R("hostile X-Request-Id", "GET", "/v1/accounts/" + uid("nobody"), {"X-Request-Id": "<script>\"x\"</script>"},
          None, 404, NF, None),
        # -- paths ----------------------------------------------------------------
        R("path traversal", "GET", "/v1/accounts/..%2F..%2Fetc", None, None, 404, NF, None),
        R("path traversal on grants", "POST", "/v1/accounts/..%2F..%2Fetc%2Fpasswd/grants", None, grant(), 404, NF,
          None),
        R("SQL in an id", "GET", "/v1/accounts/x'%20OR%201=1--", None, None, 404, NF, None),
        R("SQL in an id, quoted", "GET", "/v1/accounts/%22%3B%20DROP%20TABLE%20accounts%3B--", None, None, 404, NF,
          None),
        R("SQL in an account field", "POST", AUTH, None, authz(account="x' OR '1'='1"), 404, NF, None),
        R("SQL in a hold_id", "POST", RELEASE, None, {"hold_id": "1 OR 1=1"}, 404, NF, None),
        R("invalid UTF-8 id, percent-encoded", "GET", "/v1/accounts/%ff%fe", None, None, 400, INV, "id"),
        R("overlong UTF-8 id on grants", "POST", "/v1/accounts/%c0%af/grants", None, grant(), 400, INV, "id"),
        R("invalid UTF-8 id, raw bytes", "GET", b"/v1/accounts/\xff\xfe", None, None, 400, INV, "id"),
        R("control character in an id", "GET", "/v1/accounts/a%01b", None, None, 400, INV, "id"),
        R("invalid UTF-8 workspace id on members", "POST", "/v1/accounts/%ff%fe/members", None, {"member": "m1"},
          (400, 404), (INV, NF), None),
        R("invalid UTF-8 member on delete", "DELETE", "/v1/accounts/%s/members/%%ff%%fe" % q(ws), None, None,
          (400, 404), (INV, NF), None),
        R("invalid UTF-8 id on topup", "POST", "/v1/accounts/%ff%fe/topup", None, {"amount_cents": 1000},
          (400, 404), (INV, NF), None),
        R("id 129 bytes", "GET", "/v1/accounts/" + "i" * 129, None, None, 400, INV, "id"),
        R("path beyond 1 KiB", "GET", "/v1/accounts/" + "i" * 2000, None, None, (400, 404), (INV, NF), None),
        # nginx refuses these URIs itself (its own HTML 400, so only the
        # status is checked); the same URIs sent straight to creditd's
        # FastCGI socket must get creditd's JSON 400.
        R("bad percent-encoding %zz (nginx)", "GET", "/v1/accounts/%zz", None, None, 400, INV, NULL),
        R("bad percent-encoding % (nginx)", "GET", "/v1/accounts/%", None, None, 400, INV, NULL),
        R("bad percent-encoding %0 (nginx)", "GET", "/v1/accounts/%0", None, None, 400, INV, NULL),
        R("percent-encoded NUL (nginx)", "GET", "/v1/accounts/a%00b", None, None, 400, INV, NULL),
        R("bad percent-encoding %zz", "GET", DIRECT + "/v1/accounts/%zz", None, None, 400, INV, None),
        R("bad percent-encoding %", "GET", DIRECT + "/v1/accounts/%", None, None, 400, INV, None),
        R("bad percent-encoding %0", "GET", DIRECT + "/v1/accounts/%0", None, None, 400, INV, None),
        R("bad percent-encoding %0 mid-path", "GET", DIRECT + "/v1/accounts/%0/transactions", None, None, 400,
          INV, None),
        R("bad percent-encoding %g1 on grants", "POST", DIRECT + "/v1/accounts/%g1/grants", None, grant(), 400,
          INV, None),
        R("percent-encoded NUL", "GET", DIRECT + "/v1/accounts/a%00b", None, None, 400, INV, None),
        R("percent-encoded NUL on settle's path", "POST", DIRECT + "/v1/guard/settle%00", None, settle(), 404, NF,
          None),
        R("path traversal, decoded dots", "GET", DIRECT + "/v1/accounts/%2e%2e", None, None, 404, NF, None),
        R("no key, straight to creditd", "POST", DIRECT + G, {"Authorization": NO_KEY}, grant(), 401,
          "unauthorized", None),
        R("text/plain, straight to creditd", "POST", DIRECT + G, ct("text/plain"), grant(), 415,
          "unsupported_media_type", None),
        R("bad percent-encoding in a query", "GET", T + "?limit=%zz", None, None, 400, INV, "limit"),
        R("limit 0", "GET", T + "?limit=0", None, None, 400, INV, "limit"),
        R("limit 201", "GET", T + "?limit=201", None, None, 400, INV, "limit"),
        R("limit int64 + 1", "GET", T + "?limit=9223372036854775808", None, None, 400, INV, "limit"),
        R("limit 1e3", "GET", T + "?limit=1e3", None, None, 400, INV, "limit"),
        R("cursor garbage", "GET", T + "?cursor=%27%20OR%201=1", None, None, 400, INV, "cursor"),
        R("cursor beyond int64", "GET", T + "?cursor=txn_99999999999999999999", None, None, 400, INV, "cursor"),
        R("cursor zero", "GET", T + "?cursor=txn_0", None, None, 400, INV, "cursor"),
        R("usage from not a date", "GET", U + "?from=yesterday", None, None, 400, INV, "from"),
        R("usage group_by unknown", "GET", U + "?group_by=account", None, None, 400, INV, "group_by"),
        R("usage from after to", "GET", U + "?from=2030-01-01&to=2020-01-01", None, None, 400, INV, "from"),
        # -- methods and routes ---------------------------------------------------
        R("PUT authorize", "PUT", AUTH, None, authz(), 405, "method_not_allowed", None),
        R("GET settle", "GET", SETTLE, None, None, 405, "method_not_allowed", None),
        R("DELETE /v1/accounts", "DELETE", "/v1/accounts", None, None, 405, "method_not_allowed", None),
        R("DELETE an account", "DELETE", A, None, None, 405, "method_not_allowed", None),
        R("GET grants", "GET", G, None, None, 405, "method_not_allowed", None),
        R("POST /healthz", "POST", "/healthz", None, "{}", 405, "method_not_allowed", None),
        R("made-up method", "FROB", "/v1/accounts", None, None, 405, "method_not_allowed", None),
        R("unknown route", "GET", "/v1/nope", None, None, 404, NF, None),
        R("unknown version", "POST", "/v2/accounts", None, {"id": uid("hostile"), "kind": "user"}, 404, NF, None),
        R("empty id segment", "GET", "/v1/accounts//transactions", None, None, 404, NF, None),
        R("extra segment", "GET", T + "/extra", None, None, 404, NF, None),
        R("trailing slash", "POST", "/v1/guard/authorize/", None, authz(), 404, NF, None),
        # -- keys -----------------------------------------------------------------
        R("no key on a grant", "POST", G, {"Authorization": NO_KEY}, grant(), 401, "unauthorized", None),
        R("guard key on a grant", "POST", G, {"Authorization": "Bearer " + ENV["CREDITD_GUARD_KEY"]}, grant(), 403,
          "forbidden", None),
        R("key with percent junk", "POST", G, {"Authorization": "Bearer crd_%00" + "0" * 61}, grant(), 401,
          "unauthorized", None),
        # -- the Stripe webhook (a signature, never a key) ---------------------------
        R("webhook without a signature", "POST", HOOK, {"Authorization": NO_KEY}, event, 400, INV,
          "Stripe-Signature"),
        R("webhook garbage signature", "POST", HOOK, {"Authorization": NO_KEY, "Stripe-Signature": "garbage"},
          event, 400, INV, "Stripe-Signature"),
        R("webhook wrong secret", "POST", HOOK, {"Authorization": NO_KEY,
                                                  "Stripe-Signature": sign(event, now, "whsec_wrong")},
          event, 400, INV, "Stripe-Signature"),
        R("webhook stale signature", "POST", HOOK, {"Authorization": NO_KEY,
                                                     "Stripe-Signature": sign(event, now - 3600)},
          event, 400, INV, "Stripe-Signature"),
        R("webhook signature from the future", "POST", HOOK, {"Authorization": NO_KEY,
                                                               "Stripe-Signature": sign(event, now + 3600)},
          event, 400, INV, "Stripe-Signature"),
        R("webhook signed over another body", "POST", HOOK, {"Authorization": NO_KEY,
                                                              "Stripe-Signature": sign(event + b" ", now)},
          event, 400, INV, "Stripe-Signature"),
        R("webhook text/plain, bad signature", "POST", HOOK, {"Authorization": NO_KEY, "Content-Type": "text/plain",
                                                               "Stripe-Signature": "t=1,v1=" + "0" * 64},
          event, 400, INV, "Stripe-Signature"),
        R("webhook signed, 10,000 deep", "POST", HOOK, {"Authorization": NO_KEY,
                                                         "Stripe-Signature": sign(nested(10000).encode(), now)},
          nested(10000), 400, INV, None),
        R("webhook signed, not JSON", "POST", HOOK, {"Authorization": NO_KEY,
                                                      "Stripe-Signature": sign(b"\xff{", now)},
          b"\xff{", 400, INV, None),
    ]


def hostile_input(short):
    # Fixtures: accounts in each state the rows need, a pending hold, a
    # settled one and a released one. The snapshot is taken after them.
    acct = new_account("hostile")
    ws = new_account("hostile-ws", kind="workspace")
    suspended = new_account("hostile-suspended")
    r = api("PATCH", "/v1/accounts/" + q(suspended), {"status": "suspended"})
    eq(r.status, 200, "fixture suspend: %r" % r)
    capped = new_account("hostile-capped", monthly_limit_micros=1)
    hold = authorize(acct)
    settled = authorize(acct)
    guard_call("/v1/guard/settle", {"hold_id": settled, "input_tokens": 10, "output_tokens": 10})
    released = authorize(acct)
    guard_call("/v1/guard/release", {"hold_id": released})
    rows = hostile_rows(acct, ws, hold, settled, released, suspended, capped)
    check(len(rows) >= 80, "the table has %d rows" % len(rows))
    pid = stack.creditd_pid()
    before = ledger_snapshot()
    failures, seen = run_rows(rows)
    failures += ledger_changes(before, "the hostile table")
    creditd_unharmed(pid)
    guard_call("/v1/guard/release", {"hold_id": hold})
    check(not failures, "%d of %d rows went wrong:\n  %s" % (len(failures), len(rows), "\n  ".join(failures)))
    verify()
    return {"rows": len(rows), "statuses": ",".join("%d:%d" % kv for kv in sorted(seen.items())), "pid": pid}


SCENARIOS = [hostile_input]
