"""test_93_console_session.py: the operator's console's sign-in, session
and calls (docs/api.md, "Console sessions"; docs/operations.md,
"Console").

* POST {base}/console/session with an admin or read key: 204 and one
  cookie, creditd_console=<64 hex>; Path={base}/console/; HttpOnly;
  SameSite=Strict; Max-Age=43200; Secure unless the request came over
  plain http from a loopback address (asked over FastCGI with another
  address, and with HTTPS=on, it is there). The database keeps the id's
  SHA-256, never the id. A guard, app or gateway key, a wrong key: 401 in
  creditd's error shape, no cookie, no row; failed sign-ins throttled as
  failed keys are (429).
* GET {base}/console/session: the scopes, the key's prefix, the CSRF
  token and both expiries; DELETE (with the token): 204, the cookie
  cleared, the row gone, the next call 401.
* {base}/console/api/v1/PATH is /v1/PATH by the session's key: a read
  key's session reads and is refused a write (403); a write without the
  CSRF token, with another site's Origin or a cross-site Sec-Fetch-Site is
  403 and the ledger is unchanged; with all right it is done (a grant
  under an Idempotency-Key, the balance checked). /v1 never reads the
  cookie (401).
* A revoked key ends its sessions; a session idle 30 minutes or 12 hours
  old opens nothing (the test moves its clocks back in the database); its
  last call is written at most once a minute; the sweep purges idle
  sessions."""
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.parse

from lib import ENV, api, check, clock_now, creditctl, eq, new_account, sql, uid
from test_27_auth_throttle import with_default_limit

COOKIE = "creditd_console"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class Answer:
    def __init__(self, status, body, headers, cookies):
        self.status = status
        self.raw = body
        self.headers = headers
        self.cookies = cookies
        try:
            self.json = json.loads(body.decode()) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.raw[:300], self.cookies)


def base_path():
    return urllib.parse.urlsplit(ENV["CREDITD_URL"]).path.rstrip("/")


def origin():
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    return "http://%s" % u.netloc


def call(method, path, body=None, headers=None, cookie=None, source="127.0.0.1"):
    """One request through nginx from `source`, with no Authorization
    unless headers say so; every Set-Cookie of the answer kept."""
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=(source, 0))
    h = {"Content-Type": "application/json"}
    if cookie is not None:
        h["Cookie"] = "%s=%s" % (COOKIE, cookie)
    h.update(headers or {})
    try:
        c.request(method, base_path() + path, body=json.dumps(body).encode() if body is not None else None, headers=h)
        r = c.getresponse()
        payload = r.read()
        cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        return Answer(r.status, payload, {k.lower(): v for k, v in r.getheaders()}, cookies)
    finally:
        c.close()


def parse_cookie(text):
    """(name, value, {attribute lower-cased: value or True})."""
    parts = [p.strip() for p in text.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, sep, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if sep else True
    return name, value, attrs


def sign_in(key, source="127.0.0.1", headers=None):
    return call("POST", "/console/session", {"key": key}, headers=headers, source=source)


def session(key="admin"):
    """A signed-in session of the stack's key (admin|read) or a key: (cookie id, csrf)."""
    k = {"admin": ENV["CREDITD_ADMIN_KEY"], "read": ENV["CREDITD_READ_KEY"]}.get(key, key)
    r = sign_in(k)
    eq(r.status, 204, "sign-in: %r" % r)
    eq(len(r.cookies), 1, "one cookie")
    _, value, _ = parse_cookie(r.cookies[0])
    g = call("GET", "/console/session", cookie=value)
    eq(g.status, 200, "the session: %r" % g)
    return value, g.json["csrf"]


def new_key(scope):
    """A new key of creditctl's (its text, its id)."""
    name = uid("console-" + scope)
    key = creditctl("key", "create", "--scope", scope, "--name", name).stdout.strip().splitlines()[-1]
    check(key.startswith("crd_"), "a key: %r" % key)
    kid = sql("SELECT id FROM api_keys WHERE name = '%s'" % name)[0][0]
    return key, kid


def id_hash(value):
    return hashlib.sha256(value.encode()).hexdigest()


def row_of(value):
    return sql("SELECT HEX(id_hash), key_id, created_at, last_seen_at FROM console_sessions "
               "WHERE id_hash = UNHEX('%s')" % id_hash(value))


def balance(acct):
    return api("GET", "/v1/accounts/" + acct, auth="read").json["balance_micros"]


def grant_call(acct, value, headers, idem=None):
    h = dict(headers)
    h["Idempotency-Key"] = idem or uid("console-grant")
    return call("POST", "/console/api/v1/accounts/%s/grants" % acct,
                {"amount_micros": 1234567, "source": "promo"}, headers=h, cookie=value)


def fcgi_sign_in(extra):
    """creditd's own answer to a sign-in over FastCGI (cgi-fcgi) with the
    params in extra (REMOTE_ADDR, HTTPS), web servers aside: its headers."""
    tool = shutil.which("cgi-fcgi")
    check(tool, "cgi-fcgi (Debian's libfcgi-bin) is needed to ask creditd over FastCGI")
    body = json.dumps({"key": ENV["CREDITD_ADMIN_KEY"]}).encode()
    path = base_path() + "/console/session"
    env = {"PATH": os.environ.get("PATH", ""), "REQUEST_METHOD": "POST", "REQUEST_URI": path, "DOCUMENT_URI": path,
           "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json",
           "CONTENT_LENGTH": str(len(body))}
    env.update(extra)
    sock = os.path.join(ENV["CREDITD_STACK_DIR"], "creditd.sock")
    p = subprocess.run([tool, "-bind", "-connect", sock], env=env, input=body, capture_output=True, timeout=30)
    head, sep, _ = p.stdout.partition(b"\r\n\r\n")
    check(sep, "a FastCGI answer: %r %r" % (p.stdout[:200], p.stderr[:200]))
    lines = head.decode("latin-1").split("\r\n")
    return lines


# ---- Sign-in ----

def test_an_admin_key_signs_in_with_every_flag_of_the_cookie():
    r = sign_in(ENV["CREDITD_ADMIN_KEY"])
    eq(r.status, 204, "signed in: %r" % r)
    eq(r.raw, b"", "no body")
    eq(len(r.cookies), 1, "one Set-Cookie: %r" % r.cookies)
    name, value, attrs = parse_cookie(r.cookies[0])
    eq(name, COOKIE, "the cookie's name")
    check(re.fullmatch(r"[0-9a-f]{64}", value), "a random id of 32 bytes in hex: %r" % value)
    eq(attrs.get("path"), base_path() + "/console/", "Path is {base}/console/")
    eq(attrs.get("httponly"), True, "HttpOnly")
    eq(attrs.get("samesite"), "Strict", "SameSite=Strict")
    eq(attrs.get("max-age"), "43200", "12 hours")
    check("secure" not in attrs, "plain http from loopback (the dev stack): no Secure: %r" % r.cookies[0])
    eq(set(attrs), {"path", "httponly", "samesite", "max-age"}, "no other attribute")
    eq(r.headers.get("content-security-policy"), CSP, "the console's policy")
    eq(r.headers.get("x-frame-options"), "DENY", "no framing")
    eq(r.headers.get("cache-control"), "no-store", "not stored")
    # Two sign-ins, two ids.
    again = parse_cookie(sign_in(ENV["CREDITD_ADMIN_KEY"]).cookies[0])[1]
    check(again != value, "each sign-in its own id")


def test_the_database_keeps_the_ids_hash_not_the_id():
    value, _ = session()
    rows = row_of(value)
    eq(len(rows), 1, "one row under the id's SHA-256")
    eq(rows[0][0].lower(), id_hash(value), "the hash")
    eq(sql("SELECT COUNT(*) FROM console_sessions WHERE HEX(id_hash) = UPPER('%s') OR csrf = '%s'" % (value, value)),
       [["0"]], "no row holds the cookie's value")
    admin_id = sql("SELECT id FROM api_keys WHERE key_hash = UNHEX('%s')"
                   % hashlib.sha256(ENV["CREDITD_ADMIN_KEY"].encode()).hexdigest())[0][0]
    eq(rows[0][1], admin_id, "the session stands for the key that signed in")


def test_secure_unless_plain_http_from_loopback():
    def cookie(lines):
        got = [ln for ln in lines if ln.lower().startswith("set-cookie:")]
        eq(len(got), 1, "one cookie: %r" % lines)
        return parse_cookie(got[0].split(":", 1)[1].strip())[2]
    check("secure" not in cookie(fcgi_sign_in({"REMOTE_ADDR": "127.0.0.1"})), "plain http from loopback: no Secure")
    check("secure" not in cookie(fcgi_sign_in({"REMOTE_ADDR": "::1"})), "nor from ::1")
    eq(cookie(fcgi_sign_in({"REMOTE_ADDR": "203.0.113.7"})).get("secure"), True, "another address: Secure")
    eq(cookie(fcgi_sign_in({"REMOTE_ADDR": "127.0.0.1", "HTTPS": "on"})).get("secure"), True, "over HTTPS: Secure")
    eq(cookie(fcgi_sign_in({})).get("secure"), True, "no address at all: Secure")


def test_a_read_key_signs_in_reads_and_is_refused_a_write():
    acct = new_account("console-read")
    value, csrf = session("read")
    g = call("GET", "/console/session", cookie=value)
    eq(g.json["scopes"], ["read"], "a read session")
    r = call("GET", "/console/api/v1/accounts/" + acct, cookie=value)
    eq(r.status, 200, "a read: %r" % r)
    eq(r.json, api("GET", "/v1/accounts/" + acct, auth="read").json, "the same answer as /v1")
    before = balance(acct)
    w = grant_call(acct, value, {"X-CSRF-Token": csrf, "Origin": origin(), "Sec-Fetch-Site": "same-origin"})
    eq(w.status, 403, "a read key's session writes nothing: %r" % w)
    eq(w.json["error"]["code"], "forbidden", "as the API refuses a read key")
    eq(balance(acct), before, "the ledger unchanged")


def test_other_keys_sign_in_nowhere():
    acct = new_account("console-gw")
    gw = api("POST", "/v1/accounts/%s/gateway_keys" % acct, {}, auth="app")
    eq(gw.status, 201, "a gateway key: %r" % gw)
    n = sql("SELECT COUNT(*) FROM console_sessions")[0][0]
    keys = {"guard": ENV["CREDITD_GUARD_KEY"], "app": ENV["CREDITD_APP_KEY"], "gateway": gw.json["key"],
            "unknown": "crd_" + secrets.token_hex(32), "malformed": "not-a-key", "empty": "",
            "too long for a key": "crd_" + "0" * 200}
    for what, k in keys.items():
        r = sign_in(k)
        eq(r.status, 401, "%s key: %r" % (what, r))
        eq(r.json["error"]["code"], "unauthorized", "creditd's error shape (%s)" % what)
        eq(r.cookies, [], "no cookie (%s)" % what)
    revoked, kid = new_key("admin")
    creditctl("key", "revoke", kid)
    eq(sign_in(revoked).status, 401, "a revoked admin key")
    eq(sql("SELECT COUNT(*) FROM console_sessions")[0][0], n, "no session stored")
    eq(call("POST", "/console/session", {}).status, 400, "no key: 400")


def test_failed_sign_ins_are_throttled():
    src = "127.0.0.93"

    def run():
        answers = [sign_in("crd_" + secrets.token_hex(32), source=src).status for _ in range(30)]
        eq(answers, [401] * 30, "30 wrong keys refused")
        r = sign_in(ENV["CREDITD_ADMIN_KEY"], source=src)
        eq(r.status, 429, "then throttled, even with a good key: %r" % r)
        eq(r.json["error"]["code"], "rate_limit_exceeded", "the throttle's code")
        check(int(r.headers.get("retry-after", "0")) >= 1, "Retry-After")
        eq(r.cookies, [], "no cookie")
        eq(sign_in(ENV["CREDITD_ADMIN_KEY"], source="127.0.0.94").status, 204, "another address signs in")
    with_default_limit(run)


# ---- The session ----

def test_the_session_says_its_scopes_token_and_expiries():
    before = clock_now()
    value, csrf = session()
    g = call("GET", "/console/session", cookie=value)
    eq(g.status, 200, "the session")
    eq(set(g.json), {"scopes", "key_prefix", "csrf", "expires_at", "idle_expires_at"}, "its fields")
    eq(g.json["scopes"], ["admin"], "an admin session")
    eq(g.json["key_prefix"], ENV["CREDITD_ADMIN_KEY"][:12], "the key's prefix as creditctl lists it")
    check(re.fullmatch(r"[0-9a-f]{64}", csrf) and csrf != value, "a token of its own: %r" % csrf)
    check(before + 43200 <= g.json["expires_at"] <= clock_now() + 43200, "12 hours from sign-in: %r" % g.json)
    check(before + 1800 <= g.json["idle_expires_at"] <= clock_now() + 1800, "30 minutes from now: %r" % g.json)
    eq(g.headers.get("content-security-policy"), CSP, "the console's policy")
    r = call("GET", "/console/session")
    eq(r.status, 401, "no cookie: %r" % r)
    eq(call("GET", "/console/session", cookie="0" * 64).status, 401, "an unknown id")
    eq(call("GET", "/console/session", cookie=id_hash(value)).status, 401, "the stored hash opens nothing")


def test_sign_out_clears_the_cookie_and_ends_the_session():
    value, csrf = session()
    r = call("DELETE", "/console/session", cookie=value)
    eq(r.status, 403, "sign-out needs the token: %r" % r)
    eq(call("GET", "/console/session", cookie=value).status, 200, "still signed in")
    r = call("DELETE", "/console/session", cookie=value, headers={"X-CSRF-Token": csrf})
    eq(r.status, 204, "signed out: %r" % r)
    eq(len(r.cookies), 1, "the cookie cleared")
    name, v, attrs = parse_cookie(r.cookies[0])
    eq((name, v, attrs.get("max-age"), attrs.get("path")), (COOKIE, "", "0", base_path() + "/console/"),
       "Max-Age=0 on the same path")
    eq(row_of(value), [], "the row deleted")
    eq(call("GET", "/console/session", cookie=value).status, 401, "the next call 401")
    eq(call("GET", "/console/api/v1/models", cookie=value).status, 401, "and the console's calls")


# ---- The console's calls ----

def test_a_console_write_needs_the_token_and_its_own_origin():
    acct = new_account("console-w")
    value, csrf = session()
    before = balance(acct)
    right = {"X-CSRF-Token": csrf, "Origin": origin(), "Sec-Fetch-Site": "same-origin"}
    refused = [
        ("no token", {"Origin": origin(), "Sec-Fetch-Site": "same-origin"}),
        ("a wrong token", dict(right, **{"X-CSRF-Token": "0" * 64})),
        ("another site's Origin", dict(right, Origin="https://evil.example")),
        ("a null Origin", dict(right, Origin="null")),
        ("another port of the same host", dict(right, Origin="http://%s:1" % urllib.parse.urlsplit(origin()).hostname)),
        ("another host on the same port", dict(right, Origin="http://evil.example:%d"
                                                % urllib.parse.urlsplit(origin()).port)),
        ("a cross-site fetch", dict(right, **{"Sec-Fetch-Site": "cross-site"})),
        ("a same-site fetch", dict(right, **{"Sec-Fetch-Site": "same-site"})),
    ]
    for what, headers in refused:
        r = grant_call(acct, value, headers)
        eq(r.status, 403, "%s: %r" % (what, r))
        eq(r.json["error"]["code"], "forbidden", "creditd's error shape (%s)" % what)
    eq(balance(acct), before, "nothing done")
    idem = uid("console-idem")
    r = grant_call(acct, value, right, idem=idem)
    eq(r.status, 201, "with the token from its own origin: %r" % r)
    eq(balance(acct), before + 1234567, "granted")
    again = grant_call(acct, value, right, idem=idem)
    eq((again.status, again.json), (201, r.json), "the Idempotency-Key replays")
    eq(balance(acct), before + 1234567, "once")
    r = call("POST", "/console/api/v1/accounts/%s/debits" % acct, {"amount_micros": 1000, "reason": "t"},
             headers={"X-CSRF-Token": csrf}, cookie=value)
    eq(r.status, 201, "a client that is no browser (no Origin, no Sec-Fetch-Site) with the token: %r" % r)


def test_console_reads_are_the_apis():
    acct = new_account("console-r")
    value, _ = session()
    for path in ("/v1/accounts/" + acct, "/v1/accounts/%s/transactions" % acct, "/v1/models"):
        r = call("GET", "/console/api" + path, cookie=value)
        a = api("GET", path)
        eq((r.status, r.json), (a.status, a.json), "the same answer for " + path)
    r = call("GET", "/console/api/v1/accounts/%s-none" % acct, cookie=value)
    eq((r.status, r.json["error"]["code"]), (404, "not_found"), "the same errors")
    eq(call("GET", "/console/api/v1/accounts/" + acct).status, 401, "no session: 401")
    eq(call("GET", "/console/api/v1/me", cookie=value).status, 404, "only the routes a key opens")


def test_v1_never_reads_the_cookie():
    acct = new_account("console-v1")
    value, csrf = session()
    r = call("GET", "/v1/accounts/" + acct, cookie=value)
    eq(r.status, 401, "/v1 with only the cookie: %r" % r)
    before = balance(acct)
    r = call("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 5, "source": "promo"},
             headers={"X-CSRF-Token": csrf, "Idempotency-Key": uid("v1")}, cookie=value)
    eq(r.status, 401, "a /v1 write with the cookie and token: %r" % r)
    eq(balance(acct), before, "nothing done")


def test_a_revoked_key_ends_its_sessions():
    key, kid = new_key("admin")
    value, _ = session(key)
    eq(call("GET", "/console/api/v1/models", cookie=value).status, 200, "the session works")
    creditctl("key", "revoke", kid)
    eq(call("GET", "/console/api/v1/models", cookie=value).status, 401, "its next call after the revoke")
    eq(call("GET", "/console/session", cookie=value).status, 401, "its session too")


def test_idle_and_absolute_limits():
    idle, _ = session()
    h = id_hash(idle)
    sql("UPDATE console_sessions SET last_seen_at = last_seen_at - 1801 WHERE id_hash = UNHEX('%s')" % h)
    eq(call("GET", "/console/session", cookie=idle).status, 401, "idle 30 minutes: ended")
    old, _ = session()
    sql("UPDATE console_sessions SET created_at = created_at - 43201 WHERE id_hash = UNHEX('%s')" % id_hash(old))
    eq(call("GET", "/console/api/v1/models", cookie=old).status, 401, "12 hours old: ended, however busy")
    live, _ = session()
    h = id_hash(live)
    sql("UPDATE console_sessions SET last_seen_at = last_seen_at - 1700, created_at = created_at - 43000 "
        "WHERE id_hash = UNHEX('%s')" % h)
    eq(call("GET", "/console/session", cookie=live).status, 200, "within both limits")
    seen = int(row_of(live)[0][3])
    check(abs(seen - clock_now()) <= 5, "a call after a minute notes itself: %d vs %d" % (seen, clock_now()))
    sql("UPDATE console_sessions SET last_seen_at = last_seen_at - 30 WHERE id_hash = UNHEX('%s')" % h)
    eq(call("GET", "/console/session", cookie=live).status, 200, "still live")
    eq(int(row_of(live)[0][3]), seen - 30, "within the minute: no write")


def test_the_sweep_purges_idle_sessions():
    idle, _ = session()
    live, _ = session()
    sql("UPDATE console_sessions SET last_seen_at = last_seen_at - 1900 WHERE id_hash = UNHEX('%s')" % id_hash(idle))
    creditctl("sweep")
    eq(row_of(idle), [], "the idle session purged")
    eq(len(row_of(live)), 1, "the live one kept")


def test_the_page_route_answers_with_the_consoles_headers():
    for path in ("/console/", "/console/console.js", "/console/console_account.js", "/console/console.css"):
        r = call("GET", path)
        eq(r.status, 200, path)
        eq(r.headers.get("content-security-policy"), CSP, "the policy on " + path)
        eq(r.headers.get("x-frame-options"), "DENY", "no framing on " + path)
        eq(r.headers.get("x-content-type-options"), "nosniff", "nosniff on " + path)
        eq(r.headers.get("referrer-policy"), "no-referrer", "no referrer on " + path)
