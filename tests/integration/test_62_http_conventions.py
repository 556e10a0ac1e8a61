"""test_62_http_conventions.py: HTTP as clients and monitors expect it
(DESIGN §11), answered by creditd itself and passed through by both web
servers in front (nginx: CREDITD_URL, Apache: CREDITD_APACHE_URL).

* HEAD on every GET route of routes[] in src/http/router.c: GET's status and
  headers, Content-Length as GET sends it, and no body, neither from the
  web server (read to the end of a closed connection) nor from creditd
  itself (asked over FastCGI with cgi-fcgi).
* A method a path's routes do not take: 405 with Allow naming exactly
  those methods (HEAD wherever GET is).
* 401: `WWW-Authenticate: Bearer realm="creditd"`, with
  `error="invalid_token"` when a bearer credential was sent (RFC 6750 §3).
* docs/openapi.yaml passes `redocly lint` with no warning (the CLI is
  installed from npm into the stack directory)."""
import json
import os
import shutil
import socket
import subprocess
import urllib.parse

from lib import ENV, api, check, eq, new_account, npm_tool
from test_99_openapi import ROOT, SPEC, router_routes

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CHALLENGE = 'Bearer realm="creditd"'
INVALID = 'Bearer realm="creditd", error="invalid_token"'
BOGUS_KEY = "crd_" + "0" * 64
# Headers that differ from one answer to the next whatever the method.
VOLATILE = {"date", "x-request-id", "connection", "keep-alive"}
REDOCLY = "@redocly/cli@2.77.0"


def bases():
    return (("nginx", ENV["CREDITD_URL"]), ("Apache", ENV["CREDITD_APACHE_URL"]))


def table():
    """{pattern: [methods in table order]} of routes[], and its routes
    (without the HEAD that test_99 adds for the description's sake)."""
    routes = [r for r in router_routes() if r[0] != "HEAD"]
    paths = {}
    for method, pattern, _scope, _name in routes:
        paths.setdefault(pattern, []).append(method)
    return paths, routes


def matches(pattern, path):
    """Does the route pattern match the concrete path ('*' one segment)?"""
    a, b = pattern.split("/"), path.split("/")
    return len(a) == len(b) and all(x == "*" or x == y for x, y in zip(a, b))


def allowed_at(paths, path):
    """What Allow must name for path: every route whose pattern matches it
    (a literal segment such as /v1/models/import is also a model's name to
    /v1/models/*), HEAD where GET is."""
    return allowed([m for pattern, methods in paths.items() if matches(pattern, path) for m in methods])


def allowed(methods):
    """What Allow must name for a path with these routes: HEAD where GET is."""
    want = set(methods)
    if "GET" in want:
        want.add("HEAD")
    return want


def concrete(pattern, acct):
    """The pattern with its '*' segments filled: the account first, then a
    member; a hold's, one of the account's holds."""
    if pattern == "/v1/holds/*":
        r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 10,
                                                "max_output_tokens": 10, "request_id": "head-hold"}, auth="guard")
        return "/v1/holds/" + (r.json["hold_id"] if r.status == 200 else "hold_" + "0" * 32)
    if pattern.startswith("/v1/models/*"):
        return pattern.replace("*", "gpt-4o")	# a model's, one the stack prices
    parts = pattern.split("/")
    filled, n = [], 0
    for p in parts:
        if p == "*":
            filled.append(urllib.parse.quote(acct if n == 0 else "member-1", safe=""))
            n += 1
        else:
            filled.append(p)
    return "/".join(filled)


def browser_token(acct):
    r = api("POST", "/v1/accounts/%s/browser_tokens" % acct, {}, auth="app")
    eq(r.status, 201, "browser token %r" % r)
    return r.json["token"]


def console_cookie():
    """A console session's cookie (docs/api.md, "Console sessions"), signed in with the read key."""
    r = api("POST", "/console/session", {"key": ENV["CREDITD_READ_KEY"]}, auth=None)
    eq(r.status, 204, "console sign-in %r" % r)
    return r.headers["set-cookie"].split(";", 1)[0]


def credential(scope, tok, cookie=None):
    """(auth for lib.api, extra headers) that open a route of this scope."""
    if scope == "ROUTE_BROWSER":
        return None, {"Authorization": "Bearer " + tok}
    if scope == "ROUTE_CONSOLE":
        return None, {"Cookie": cookie}
    return {"0": None, "KEY_SCOPE_READ": "read", "KEY_SCOPE_APP": "app", "KEY_SCOPE_GUARD": "guard",
            "KEY_SCOPE_ADMIN": "admin", "ROUTE_HOLD": "read"}.get(scope, "admin"), {}


def raw_head(base, path, headers):
    """A HEAD on a connection the client closes after it: (status line,
    header lines, every byte that followed the header block)."""
    u = urllib.parse.urlsplit(base)
    lines = ["HEAD %s%s HTTP/1.1" % (u.path.rstrip("/"), path), "Host: %s" % u.netloc, "Connection: close"]
    lines += ["%s: %s" % kv for kv in headers.items()]
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, rest = data.partition(b"\r\n\r\n")
    check(sep, "no end of headers in %r" % data[:300])
    head_lines = head.decode("latin-1").split("\r\n")
    return head_lines[0], head_lines[1:], rest


def same_headers(where, g, h, path):
    """HEAD's headers are GET's, but for what varies per answer."""
    names_g = set(g.headers) - VOLATILE - {"transfer-encoding"}
    names_h = set(h.headers) - VOLATILE
    eq(sorted(names_h - {"content-length"}), sorted(names_g - {"content-length"}), where + " header names")
    for name in sorted(names_g - {"content-length"}):
        eq(h.headers.get(name), g.headers.get(name), "%s %s" % (where, name))
    check(h.headers.get("x-request-id"), where + " X-Request-Id")
    length = h.headers.get("content-length")
    if length is None:
        return
    if path == "/metrics":
        # The counters move between the two requests: a length, not 0.
        check(length.isdigit() and int(length) > 0, "%s Content-Length %r" % (where, length))
    else:
        eq(length, str(len(g.raw)), where + " Content-Length as GET's body")


# ---- HEAD ------------------------------------------------------------------

def test_head_on_every_get_route_is_get_without_a_body():
    acct = new_account("head")
    tok = browser_token(acct)
    cookie = console_cookie()
    _paths, routes = table()
    gets = [(p, s) for m, p, s, _n in routes if m == "GET"]
    check(len(gets) >= 8, "GET routes in routes[]: %s" % gets)
    for label, base in bases():
        for pattern, scope in gets:
            path = concrete(pattern, acct)
            auth, headers = credential(scope, tok, cookie)
            where = "HEAD %s via %s" % (path, label)
            g = api("GET", path, auth=auth, headers=headers, base=base)
            h = api("HEAD", path, auth=auth, headers=headers, base=base)
            eq(h.status, g.status, where + " status as GET's (%r)" % g)
            check(g.status == 200, "GET %s via %s succeeds: %r" % (path, label, g))
            eq(h.raw, b"", where + " body")
            same_headers(where, g, h, path)
            sent = dict(headers)
            if auth is not None:
                sent["Authorization"] = "Bearer " + ENV["CREDITD_%s_KEY" % auth.upper()]
            status, _lines, rest = raw_head(base, path, sent)
            check(" 200 " in status + " ", "%s on a closed connection: %s" % (where, status))
            eq(rest, b"", where + " bytes after the headers")


def test_head_healthz_and_head_errors():
    for label, base in bases():
        r = api("HEAD", "/healthz", auth=None, base=base)
        eq(r.status, 200, "HEAD /healthz via %s" % label)
        eq(r.raw, b"", "HEAD /healthz via %s: no body" % label)
        g = api("GET", "/v1/accounts/nobody-at-all-62", auth="read", base=base)
        h = api("HEAD", "/v1/accounts/nobody-at-all-62", auth="read", base=base)
        eq((h.status, h.raw), (404, b""), "HEAD of an unknown account via %s, as GET (%r)" % (label, g))
        eq(g.status, 404, "GET of an unknown account")
        same_headers("HEAD 404 via %s" % label, g, h, "")
        h = api("HEAD", "/v1/models", auth=None, base=base)
        eq((h.status, h.raw), (401, b""), "HEAD without a key via %s" % label)
        eq(h.headers.get("www-authenticate"), CHALLENGE, "HEAD's 401 challenge via %s" % label)


def fcgi_answer(method, path):
    """creditd's own answer over FastCGI (cgi-fcgi), web servers aside."""
    tool = shutil.which("cgi-fcgi")
    check(tool, "cgi-fcgi (Debian's libfcgi-bin) is needed to ask creditd over FastCGI")
    sock = os.path.join(ENV["CREDITD_STACK_DIR"], "creditd.sock")
    env = {"PATH": os.environ.get("PATH", ""), "REQUEST_METHOD": method, "REQUEST_URI": path,
           "DOCUMENT_URI": path, "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
           "HTTP_AUTHORIZATION": "Bearer " + ENV["CREDITD_READ_KEY"]}
    p = subprocess.run([tool, "-bind", "-connect", sock], env=env, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    head, sep, body = p.stdout.partition(b"\r\n\r\n")
    check(sep, "no FastCGI answer from creditd for %s %s: %r %r" % (method, path, p.stdout[:200], p.stderr[:200]))
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return headers, body


def test_creditd_itself_sends_no_body_on_head():
    for path in ("/healthz", "/v1/models", "/v1/accounts/nobody-at-all-62"):
        gh, gbody = fcgi_answer("GET", path)
        hh, hbody = fcgi_answer("HEAD", path)
        eq(hh.get("status"), gh.get("status"), "FastCGI HEAD %s status as GET's" % path)
        eq(hbody, b"", "FastCGI HEAD %s: creditd writes no body" % path)
        eq(gh.get("content-length"), str(len(gbody)), "FastCGI GET %s Content-Length" % path)
        eq(hh.get("content-length"), gh.get("content-length"), "FastCGI HEAD %s Content-Length" % path)
    # A HEAD on a path without GET: 405, its headers and still no body.
    hh, hbody = fcgi_answer("HEAD", "/v1/guard/authorize")
    eq((hh.get("status"), hh.get("allow"), hbody), ("405 Method Not Allowed", "POST", b""),
       "FastCGI HEAD /v1/guard/authorize")


# ---- 405 -------------------------------------------------------------------

def test_405_names_the_path_s_methods_in_allow():
    paths, _routes = table()
    for label, base in bases():
        for pattern, methods in paths.items():
            path = concrete(pattern, "acct-62")
            want = allowed_at(paths, path.split("?")[0])
            for method in METHODS:
                if method in want:
                    continue
                where = "%s %s via %s" % (method, path, label)
                r = api(method, path, auth="admin", base=base)
                eq(r.status, 405, where)
                names = [m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()]
                eq(len(names), len(set(names)), where + " Allow without repeats: %r" % r.headers.get("allow"))
                eq(set(names), want, where + " Allow")
                if method != "HEAD":
                    eq(r.err.get("code"), "method_not_allowed", where + " error code")
                else:
                    eq(r.raw, b"", where + " no body")


# ---- 401 -------------------------------------------------------------------

def test_401_carries_a_bearer_challenge():
    _paths, routes = table()
    keyed = [(m, p) for m, p, s, _n in routes if s.startswith("KEY_SCOPE_") or s == "ROUTE_BROWSER"]
    check(len(keyed) >= 15, "routes with a key or token: %s" % keyed)
    cases = ((None, CHALLENGE, "no Authorization"),
             ("Bearer " + BOGUS_KEY, INVALID, "an unknown key"),
             ("Bearer not-a-key", INVALID, "a malformed key"),
             ("Basic dXNlcjpwYXNz", CHALLENGE, "another scheme (no bearer credential)"))
    for label, base in bases():
        for method, pattern in keyed:
            path = concrete(pattern, "acct-62")
            for value, want, what in cases:
                headers = {"Authorization": value} if value else None
                body = {} if method in ("POST", "PUT", "PATCH") else None
                r = api(method, path, body, auth=None, headers=headers, base=base)
                where = "%s %s via %s with %s" % (method, path, label, what)
                eq(r.status, 401, where)
                eq(r.headers.get("www-authenticate"), want, where + " WWW-Authenticate")
                eq(r.err.get("code"), "unauthorized", where + " error code")


def test_other_answers_carry_no_challenge_nor_allow():
    for label, base in bases():
        r = api("GET", "/v1/models", auth="read", base=base)
        eq(r.status, 200, "GET /v1/models via %s" % label)
        check("www-authenticate" not in r.headers and "allow" not in r.headers,
              "a 200 has neither WWW-Authenticate nor Allow via %s: %r" % (label, r.headers))
        r = api("POST", "/v1/accounts", {}, auth="read", base=base)
        eq(r.status, 403, "a read key creating an account via %s" % label)
        check("www-authenticate" not in r.headers, "a 403 has no challenge via %s" % label)


# ---- redocly lint ------------------------------------------------------------

def test_openapi_passes_redocly_lint_without_warnings():
    tool = npm_tool(REDOCLY, "redocly")
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true")
    p = subprocess.run([tool, "lint", "--format=json", SPEC], capture_output=True, text=True, timeout=300,
                       cwd=ROOT, env=env)
    start = p.stdout.find("{")
    check(start >= 0, "redocly lint printed no JSON (exit %d): %s%s" % (p.returncode, p.stdout[-800:],
                                                                     p.stderr[-800:]))
    report = json.loads(p.stdout[start:])
    problems = ["%s %s: %s" % (pr.get("severity"), pr.get("ruleId"), pr.get("message"))
                for pr in report.get("problems", [])]
    totals = report.get("totals", {})
    check(totals.get("errors") == 0 and totals.get("warnings") == 0 and not problems,
          "redocly lint docs/openapi.yaml: %s\n    %s" % (totals, "\n    ".join(problems[:20])))
    eq(p.returncode, 0, "redocly lint exit status")


def test_a_connection_kept_alive_six_seconds_still_answers():
    """An app's calls often come seconds apart on one kept-alive
    connection; a front end that closes it meanwhile (Apache's Debian
    default KeepAliveTimeout is 5 s) races the next request, which is then
    lost without an answer (the app cannot tell whether it applied). Both
    front ends keep an idle connection past 6 s (nginx's default 75 s; the
    Apache snippet sets 75 s): the second request on it is answered."""
    import http.client
    import threading
    import time
    got = {}

    def two_calls(name, base):
        u = urllib.parse.urlsplit(base)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            for i in range(2):
                if i:
                    time.sleep(6.5)
                c.request("GET", u.path.rstrip("/") + "/healthz")
                r = c.getresponse()
                r.read()
                check(not r.will_close, "%s keeps the connection" % name)
            got[name] = r.status
        except (OSError, http.client.HTTPException) as e:
            got[name] = "no answer: %r" % e
        finally:
            c.close()
    threads = [threading.Thread(target=two_calls, args=fb) for fb in bases()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    eq(got, {name: 200 for name, _ in bases()}, "the second call on an idle connection answered")
