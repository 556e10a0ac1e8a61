"""test_00_foundation.py: the responder, the router, keys and the error
model, through nginx and through Apache (mod_proxy_fcgi)."""
import os
import re
import subprocess
import time
import urllib.parse

import lib
from lib import ENV, Fail, api, check, creditctl, eq, new_account, sql, uid, wait_until


def test_healthz_through_nginx():
    r = api("GET", "/healthz", auth=None)
    eq(r.status, 200, "healthz")
    eq(r.json, {"status": "ok"}, "healthz body")
    check(r.headers.get("content-type", "").startswith("application/json"), "JSON content type")
    check(len(r.headers.get("x-request-id", "")) > 0, "a request id is returned")


def test_healthz_through_apache():
    r = api("GET", "/healthz", auth=None, base=ENV["CREDITD_APACHE_URL"])
    eq(r.status, 200, "healthz via Apache")
    eq(r.json, {"status": "ok"}, "healthz body via Apache")


def test_request_id_is_echoed():
    r = api("GET", "/healthz", auth=None, headers={"X-Request-Id": "abc-123"})
    eq(r.headers.get("x-request-id"), "abc-123", "X-Request-Id echoed")


def test_no_key_is_401_json():
    r = api("GET", "/v1/models", auth=None)
    eq(r.status, 401, "no key")
    eq(r.err.get("type"), "authentication_error", "type")
    eq(r.err.get("code"), "unauthorized", "code")
    check("param" in r.err and r.err["param"] is None, "param is null")


def test_malformed_and_unknown_keys_are_401():
    for bad in ("nonsense", "crd_" + "0" * 64, "crd_" + "g" * 64, ""):
        r = api("GET", "/v1/models", auth=bad)
        eq(r.status, 401, "key %r" % bad)
    r = api("GET", "/v1/models", auth=None, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    eq(r.status, 401, "basic auth")


def test_scopes_are_enforced():
    r = api("POST", "/v1/accounts", {"id": uid(), "kind": "user"}, auth="read")
    eq(r.status, 403, "read key on an admin route")
    eq(r.err.get("code"), "forbidden", "code")
    eq(r.err.get("type"), "permission_error", "type")
    r = api("POST", "/v1/guard/authorize", {"account": "x", "model": "gpt-4o", "input_tokens": 1,
                                            "request_id": "r"}, auth="read")
    eq(r.status, 403, "read key on a guard route")
    r = api("GET", "/v1/models", auth="guard")
    eq(r.status, 403, "guard key on a read route")
    r = api("GET", "/v1/models", auth="admin")
    eq(r.status, 200, "admin key may read")


def test_app_scope_starts_what_read_no_longer_may():
    """DESIGN §10: top-up, redeem and browser tokens need app (or admin);
    a read key gets 403 forbidden on them; app reads what read reads."""
    acct = new_account("app-scope")
    for auth, want in (("read", 403), ("guard", 403), ("app", None), ("admin", None)):
        calls = [("POST", "/v1/accounts/%s/topup" % acct, {"amount_cents": 1000}, 200),
                 ("POST", "/v1/accounts/%s/redeem" % acct, {"code": _promo()}, 201),
                 ("POST", "/v1/accounts/%s/browser_tokens" % acct, {}, 201)]
        for method, path, body, ok in calls:
            r = api(method, path, body, auth=auth)
            eq(r.status, want or ok, "%s key: %s %s (%r)" % (auth, method, path, r))
            if want == 403:
                eq((r.err.get("code"), r.err.get("type")), ("forbidden", "permission_error"), "the 403's code")
    for path in ("/v1/models", "/v1/plans", "/v1/accounts/" + acct, "/v1/accounts/%s/transactions" % acct):
        eq(api("GET", path, auth="app").status, 200, "an app key reads " + path)
    eq(api("POST", "/v1/accounts", {"id": uid(), "kind": "user"}, auth="app").status, 403, "app: no admin route")
    eq(api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 1,
                                           "request_id": uid("r")}, auth="app").status, 403, "app: no guard route")
    eq(api("GET", "/v1/events", auth="app").status, 403, "app: no events")


# ---- keys bound to one account (DESIGN §10) ----

ORDER = ["guard", "read", "app", "admin"]


def _allows(scope, need):
    return need is None or scope == "admin" or scope == need or (scope == "app" and need == "read")


def _promo():
    code = uid("KEYS").upper().replace("-", "")[:30]
    r = api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 1000})
    check(r.status == 201, "promo code: %r" % r)
    return code


def _hold(acct):
    r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10,
                                           "max_output_tokens": 10, "request_id": uid("hold")}, auth="guard")
    check(r.status == 200, "hold: %r" % r)
    return r.json["hold_id"]


def _new_key(scope, account=None):
    args = ["key", "create", "--scope", scope, "--name", uid("bound-" + scope)]
    if account is not None:
        args += ["--account", account]
    p = creditctl(*args)
    key = p.stdout.strip().splitlines()[-1]
    check(key.startswith("crd_") and len(key) == 68, "the key alone on the last line: %r" % p.stdout)
    return key


def _calls(acct):
    """Every account route and guard call, naming acct: (method, path,
    body, scope needed, 2xx). Bodies are made fresh for each call."""
    a = "/v1/accounts/" + urllib.parse.quote(acct, safe="")
    return [
        ("GET", a, lambda: None, "read", 200),
        ("GET", a + "/transactions?limit=2", lambda: None, "read", 200),
        ("GET", a + "/usage?group_by=day", lambda: None, "read", 200),
        ("POST", a + "/topup", lambda: {"amount_cents": 1000}, "app", 200),
        ("POST", a + "/redeem", lambda: {"code": _promo()}, "app", 201),
        ("POST", a + "/browser_tokens", lambda: {}, "app", 201),
        ("PATCH", a, lambda: {"low_balance_micros": 1000}, "admin", 200),
        ("POST", a + "/grants", lambda: {"amount_micros": 1000, "source": "promo"}, "admin", 201),
        ("POST", a + "/debits", lambda: {"amount_micros": 1000, "reason": "keys test"}, "admin", 201),
        ("POST", "/v1/guard/authorize", lambda: {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10,
                                                 "max_output_tokens": 10, "request_id": uid("r")}, "guard", 200),
        ("POST", "/v1/usage", lambda: {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10,
                                       "output_tokens": 10, "request_id": uid("u")}, "guard", 200),
        ("POST", "/v1/guard/settle", lambda: {"hold_id": _hold(acct), "input_tokens": 10, "output_tokens": 10},
         "guard", 200),
        ("POST", "/v1/guard/release", lambda: {"hold_id": _hold(acct)}, "guard", 200),
    ]


def _snapshot(acct):
    """What another key's calls must not change: the account as read, and
    its rows."""
    aid = sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct)[0][0]
    rows = sql("SELECT (SELECT COUNT(*) FROM journal WHERE account_id = {0}), "
               "(SELECT GROUP_CONCAT(id, state ORDER BY id) FROM holds WHERE account_id = {0}), "
               "(SELECT COUNT(*) FROM topups WHERE account_id = {0}), "
               "(SELECT COUNT(*) FROM grants WHERE account_id = {0}), "
               "(SELECT COUNT(*) FROM usage_records WHERE account_id = {0})".format(int(aid)))
    got = api("GET", "/v1/accounts/" + acct, auth="admin").json
    return got, rows


def _ghost_answer(method, path, body, scope, acct, ghost):
    """The answer an unbound key of this scope gets for an account (or a
    hold) that does not exist, worded for acct: what a bound key must get."""
    path = path.replace(urllib.parse.quote(acct, safe=""), ghost)
    if body is not None and "account" in body:
        body = dict(body, account=ghost)
    if body is not None and "hold_id" in body:
        body = dict(body, hold_id="hold_999999999_1")
    r = api(method, path, body, auth=scope)
    return r, ghost


def test_bound_keys_reach_their_account_only():
    own = new_account("bound-own", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % own, {"member": "m1"}).status // 100, 2, "a member")
    other = new_account("bound-other")
    other_hold = _hold(other)
    bound = {s: _new_key(s, own) for s in ("guard", "read", "app")}
    # The bodies first: a settle's or release's hold of the other account is
    # made before its snapshot.
    plan = [(scope, method, path, body_of() if _allows(scope, need) else None, need)
            for scope in ("guard", "read", "app") for method, path, body_of, need, _ in _calls(other)]
    before = _snapshot(other)
    seen = 0
    for scope, method, path, body, need in plan:
        r = api(method, path, body, auth=bound[scope])
        what = "bound %s key: %s %s" % (scope, method, path)
        if not _allows(scope, need):
            eq((r.status, r.err.get("code")), (403, "forbidden"), what)
            continue
        ghost = uid("ghost")
        g, ghost = _ghost_answer(method, path, body, scope, other, ghost)
        eq((r.status, r.err.get("code"), r.err.get("type")), (404, "not_found", "not_found_error"), what)
        hold = (body or {}).get("hold_id")
        want = dict(g.err, message=g.err["message"].replace(ghost, other).replace("hold_999999999_1", hold or ""))
        eq(r.err, want, what + ": as for one that does not exist")
        seen += 1
    for scope in ("guard",):
        # Its hold, named directly, is as unknown as any other's.
        for route in ("/v1/guard/release", "/v1/guard/settle"):
            body = {"hold_id": other_hold}
            if route.endswith("settle"):
                body.update(input_tokens=1, output_tokens=1)
            r = api("POST", route, body, auth=bound[scope])
            eq((r.status, r.err.get("param")), (404, "hold_id"), "another account's hold: " + route)
    check(seen >= 3 * 3, "the bound keys were let through to the 404s: %d" % seen)
    after = _snapshot(other)
    eq(after, before, "the other account is unchanged")
    eq(sql("SELECT state FROM holds WHERE id = %d" % lib.hold_parts(other_hold)[1])[0][0], "pending",
       "its hold is still pending")

    # Its own account, a workspace with its member: 2xx wherever the scope allows.
    for scope in ("guard", "read", "app"):
        for method, path, body_of, need, ok in _calls(own):
            r = api(method, path, body_of() if _allows(scope, need) else {}, auth=bound[scope])
            eq(r.status, ok if _allows(scope, need) else 403, "bound %s key on its own: %s %s (%r)"
               % (scope, method, path, r))
        for path in ("/v1/models", "/v1/plans"):
            eq(api("GET", path, auth=bound[scope]).status, 403 if scope == "guard" else 200,
               "bound %s key: %s as its scope allows" % (scope, path))
    r = api("POST", "/v1/guard/authorize", {"account": own, "member": "m1", "model": "gpt-3.5-turbo",
                                            "input_tokens": 10, "request_id": uid("m")}, auth=bound["guard"])
    eq(r.status, 200, "with its workspace's member: %r" % r)
    eq(api("GET", "/v1/accounts/%s/usage?group_by=member" % own, auth=bound["read"]).status, 200, "usage by member")
    # An unbound key of each scope (and none) keeps the scope rules.
    for scope in [None] + ORDER:
        for method, path, body_of, need, ok in _calls(own):
            if need == "admin" and scope != "admin":
                continue
            r = api(method, path, body_of() if scope is not None and _allows(scope, need) else {}, auth=scope)
            want = 401 if scope is None else ok if _allows(scope, need) else 403
            eq(r.status, want, "unbound %s key: %s %s (%r)" % (scope, method, path, r))


def test_admin_keys_cannot_be_bound_and_accounts_must_exist():
    own = new_account("bind")
    n = sql("SELECT COUNT(*) FROM api_keys")[0][0]
    for scope in ("admin", "guard,admin"):
        p = creditctl("key", "create", "--scope", scope, "--account", own, check_rc=False)
        eq(p.returncode, 2, "an admin key bound: usage error")
        check("admin" in p.stderr and "bound" in p.stderr, "says why: %r" % p.stderr)
        eq(p.stdout, "", "no key printed")
    p = creditctl("key", "create", "--scope", "read", "--account", uid("nobody"), check_rc=False)
    check(p.returncode != 0, "an unknown account refused")
    check("no account" in p.stderr, "says so: %r" % p.stderr)
    eq(p.stdout, "", "no key printed")
    p = creditctl("key", "create", "--scope", "read", "--acount", own, check_rc=False)
    eq(p.returncode, 2, "a mistyped option does not make an unbound key")
    eq(sql("SELECT COUNT(*) FROM api_keys")[0][0], n, "no key stored")
    key = _new_key("app", own)
    line = [ln for ln in creditctl("key", "list").stdout.splitlines() if key[:12] in ln]
    eq(len(line), 1, "listed once")
    check(re.search(r"\bapp\b", line[0]) and own in line[0], "scope and binding listed: %r" % line[0])
    check(key not in creditctl("key", "list").stdout, "never the secret")


def test_bound_tenants_idempotency_keys_do_not_meet():
    t1, t2 = new_account("tenant"), new_account("tenant")
    k1, k2 = _new_key("app", t1), _new_key("app", t2)
    g1, g2 = _new_key("guard", t1), _new_key("guard", t2)
    shared = uid("same-idem")
    code = _promo()
    r1 = api("POST", "/v1/accounts/%s/redeem" % t1, {"code": code}, auth=k1, headers={"Idempotency-Key": shared})
    r2 = api("POST", "/v1/accounts/%s/redeem" % t2, {"code": code}, auth=k2, headers={"Idempotency-Key": shared})
    eq((r1.status, r2.status), (201, 201), "each tenant redeems under the same key, no 409: %r %r" % (r1, r2))
    again = api("POST", "/v1/accounts/%s/redeem" % t2, {"code": code}, auth=k2, headers={"Idempotency-Key": shared})
    eq((again.status, again.json), (201, r2.json), "a replay answers the tenant's own first answer")
    # The namespace is the account's: its guard key under the same key is
    # the same client reusing it for another request (409).
    h1 = api("POST", "/v1/guard/authorize", {"account": t1, "model": "gpt-3.5-turbo", "input_tokens": 5,
                                             "request_id": "r1"}, auth=g1, headers={"Idempotency-Key": shared})
    eq((h1.status, h1.err.get("code")), (409, "conflict"), "one tenant's keys share its namespace")
    shared2 = uid("same-idem")
    h1 = api("POST", "/v1/guard/authorize", {"account": t1, "model": "gpt-3.5-turbo", "input_tokens": 5,
                                             "request_id": "r1"}, auth=g1, headers={"Idempotency-Key": shared2})
    h2 = api("POST", "/v1/guard/authorize", {"account": t2, "model": "gpt-3.5-turbo", "input_tokens": 5,
                                             "request_id": "r1"}, auth=g2, headers={"Idempotency-Key": shared2})
    eq((h1.status, h2.status), (200, 200), "the guard too: %r %r" % (h1, h2))
    check(h1.json["hold_id"] != h2.json["hold_id"], "two holds, not one replayed to the other")
    eq(sql("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = '%s'" % shared)[0][0], "0",
       "a bound key's Idempotency-Key is not stored as sent")
    rows = sql("SELECT idem_key FROM idempotency_keys WHERE idem_key LIKE 't%%:%%' ORDER BY created_at DESC LIMIT 50")
    check(len(rows) >= 3 and all(len(r[0]) <= 255 for r in rows), "namespaced, within the column: %r" % rows[:2])
    # An unbound key's stays as sent (and meets neither tenant).
    r = api("POST", "/v1/accounts/%s/redeem" % t1, {"code": _promo()}, auth="app", headers={"Idempotency-Key": shared})
    eq(r.status, 201, "an unbound key under the same key: its own answer")
    eq(sql("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = '%s'" % shared)[0][0], "1", "stored as sent")


def _round_trips(route):
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r'creditd_db_round_trips_total\{route="%s"\} (\d+)' % route, text)
    return int(m.group(1)) if m else 0


def test_unknown_keys_are_remembered():
    bogus = "crd_" + os.urandom(32).hex()
    before = _round_trips("models")
    for _ in range(20):
        eq(api("GET", "/v1/models", auth=bogus).status, 401, "an unknown key")
    spent = _round_trips("models") - before
    check(spent <= 3, "20 tries of one unknown key cost %d database round trips (one lookup, then memory)" % spent)
    known = _new_key("read")
    eq(api("GET", "/v1/models", auth=known).status, 200, "a key never refused works at once")


def test_unknown_route_and_method():
    r = api("GET", "/v1/nothing-here")
    eq(r.status, 404, "unknown route")
    eq(r.err.get("code"), "not_found", "code")
    eq(r.err.get("type"), "not_found_error", "type")
    r = api("DELETE", "/v1/accounts/abc")
    eq(r.status, 405, "wrong method")


def test_one_mib_body_is_413():
    body = b'{"id":"' + b"a" * (1024 * 1024) + b'"}'
    r = api("POST", "/v1/accounts", raw=body)
    eq(r.status, 413, "1 MiB body")
    eq(r.err.get("code"), "payload_too_large", "code")
    eq(r.err.get("type"), "invalid_request_error", "type")
    r = api("POST", "/v1/accounts", raw=b'{"id":"' + b"a" * (3 * 1024 * 1024) + b'"}')
    eq(r.status, 413, "3 MiB body answered by nginx")
    eq(r.err.get("code"), "payload_too_large", "nginx's 413 is JSON too")
    r = api("POST", "/v1/accounts", raw=b'{"id":"' + b"a" * (1024 * 1024) + b'"}', base=ENV["CREDITD_APACHE_URL"])
    eq(r.status, 413, "1 MiB body via Apache")


def test_body_over_limit_is_413_even_without_key():
    r = api("POST", "/v1/accounts", raw=b"x" * 70000, auth=None)
    eq(r.status, 413, "body limit checked before auth")


def test_same_requests_work_through_apache():
    acct = new_account("apache")
    a = ENV["CREDITD_APACHE_URL"]
    r = api("GET", "/v1/accounts/" + acct, auth="read", base=a)
    eq(r.status, 200, "account via Apache")
    eq(r.json["balance_micros"], 10000000, "signup bonus via Apache")
    r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 100,
                                            "max_output_tokens": 100, "request_id": "ap-1"}, auth="guard", base=a)
    eq(r.status, 200, "authorize via Apache")
    hold = r.json["hold_id"]
    r = api("POST", "/v1/guard/settle", {"hold_id": hold, "input_tokens": 100, "output_tokens": 50},
            auth="guard", base=a)
    eq(r.status, 200, "settle via Apache")
    r = api("GET", "/v1/models", auth=None, base=a)
    eq(r.status, 401, "no key via Apache")
    r = api("POST", "/v1/accounts", {"id": uid(), "kind": "user"}, auth="read", base=a)
    eq(r.status, 403, "read key on admin route via Apache")
    r = api("GET", "/v1/accounts/" + acct, auth="read")
    eq(r.json["balance_micros"], 10000000 - 788, "Apache and nginx see one ledger (gpt-4o 100 in, 50 out, +5 %)")


def test_metrics_counts_requests():
    api("GET", "/healthz", auth=None)
    r = api("GET", "/metrics", auth=None)
    eq(r.status, 200, "metrics")
    text = r.raw.decode()
    check('creditd_requests_total{route="healthz",status="200"}' in text, "healthz counted")
    check("creditd_db_round_trips_total" in text, "round trips exposed")


def test_check_config():
    binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
    p = subprocess.run([binary, "-c", ENV["CREDITD_CONFIG"], "--check-config"], capture_output=True, text=True)
    eq(p.returncode, 0, "valid config: " + p.stderr)
    bad = os.path.join(ENV["CREDITD_STACK_DIR"], "bad.conf")
    with open(bad, "w") as f:
        f.write("[server]\nthreads = 4\nbogus_key = 1\n")
    p = subprocess.run([binary, "-c", bad, "--check-config"], capture_output=True, text=True)
    check(p.returncode != 0, "unknown key stops start-up")
    check("bogus_key" in p.stderr and ":3" in p.stderr, "message names key and line: " + p.stderr)


def test_check_config_fails_where_a_start_would():
    """creditd --check-config (and -t, as nginx -t) exits 2 naming the
    cause for what a start refuses or a sysadmin never means: no config
    file at all, a plain-http Stripe base or notify URL off loopback, a log
    path creditd cannot open; it creates nothing (a check run as root must
    not leave a log file creditd's user cannot write)."""
    binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
    d = os.path.join(ENV["CREDITD_STACK_DIR"], "checks")
    os.makedirs(d, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}

    def checked(text, *flag):
        path = os.path.join(d, "c.conf")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return subprocess.run([binary, "-c", path] + list(flag or ["--check-config"]), capture_output=True, text=True,
                              env=env, timeout=30)
    p = subprocess.run([binary, "--check-config"], capture_output=True, text=True, timeout=30,
                       env=dict(env, CREDITD_CONFIG=os.path.join(d, "none.conf")))
    eq(p.returncode, 2, "a config named and absent: %s" % p.stderr)
    default = re.search(r"else ([^ )]+)\)", subprocess.run([binary, "--help"], capture_output=True, text=True).stdout)
    check(default is not None, "--help names the default config")
    if not os.path.exists(default.group(1)):
        p = subprocess.run([binary, "--check-config"], capture_output=True, text=True, timeout=30, env=env)
        eq(p.returncode, 2, "no config file at the default path either: %s" % p.stderr)
        check("no config file at %s" % default.group(1) in p.stderr, "says so: %r" % p.stderr)
        # A start allows it (the defaults and the environment), but says so
        # in its log (stderr here) rather than silently.
        sock = os.path.join(d, "nofile.sock")
        proc = subprocess.Popen([binary, "--listen", "unix:" + sock], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        try:
            check(wait_until(lambda: os.path.exists(sock), timeout=10), "creditd started on no config file")
        finally:
            proc.terminate()
            err = proc.communicate(timeout=30)[1]
        check("no config file at %s: running on the defaults" % default.group(1) in err,
              "the start warns of no config file: %r" % err[-1500:])
    secret = "s" * 40
    for text, named in (("[stripe]\napi_base = http://stripe.example.com\n", "stripe.api_base"),
                        ("[notify]\nurl = http://10.0.0.1/hook\nsecret = %s\n" % secret, "notify.url"),
                        ("[server]\nlog = %s/no-such-dir/creditd.log\n" % d, "no-such-dir"),
                        ("[server]\nlog = %s/c.conf/creditd.log\n" % d, "c.conf/creditd.log")):
        for flag in ("--check-config", "-t"):
            p = checked(text, flag)
            eq(p.returncode, 2, "%s %r refused" % (flag, text))
            check(named in p.stderr, "names %s: %r" % (named, p.stderr))
    p = checked("[notify]\nurl = http://127.0.0.1:9/hook\nsecret = %s\n[server]\nlog = %s/new.log\n" % (secret, d), "-t")
    eq((p.returncode, p.stdout.strip()), (0, "creditd: configuration OK"), "loopback http and a new log: %s" % p.stderr)
    check(not os.path.exists(os.path.join(d, "new.log")), "the check created no log file")
    # A test-clock build (the suite's) says so in --version and -t, on
    # stderr (stdout stays what scripts read).
    with open(binary, "rb") as f:
        test_build = b"CREDITD_TEST_CLOCK_FILE" in f.read()
    check(test_build, "the suite runs a test-clock build")
    for argv in ([binary, "--version"], [binary, "-c", os.path.join(d, "c.conf"), "-t"]):
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
        check(p.returncode == 0 and "built with --enable-test-clock: a test build" in p.stderr,
              "%s says it is a test build: %r" % (argv[-1], p.stdout + p.stderr))


def test_the_tests_sql_reads_what_the_mariadb_client_prints():
    """lib.sql, which the tests read the database through, asks in its own
    process (libmariadb): its rows are the ones `mariadb -N -B -e` prints,
    split on tabs, for every kind of value the schema holds (the extremes
    of a BIGINT, a DECIMAL, a DOUBLE, a DATETIME(6), NULL, binary bytes
    that are not UTF-8, a tab, a newline and a backslash in a text, a
    non-ASCII letter in a utf8mb4 column, JSON, BIT), the result sets of
    several statements in order, in the client's character sets; a
    statement that fails is a Fail. Every value is the query's own (a
    temporary table), so both reads see the same rows."""
    q = ("CREATE TEMPORARY TABLE t00_kinds (a BIGINT, b BIGINT UNSIGNED, c DECIMAL(12,4), d DOUBLE, "
         "e DATETIME(6), f VARBINARY(16), g VARCHAR(32) CHARACTER SET utf8mb4, h JSON, i BIT(3), j TIMESTAMP NULL); "
         "INSERT INTO t00_kinds VALUES (-9223372036854775808, 18446744073709551615, -1.5, 1e-5, "
         "'2026-01-02 03:04:05.25', 0x00410942, 'a\\tb\\nc\\\\d é', '{\"k\": [1, 2.5]}', b'101', NULL), "
         "(0, NULL, NULL, 1e300, NULL, 0xff1c0bc3, '', NULL, NULL, '2026-01-01 00:00:00'); "
         "SELECT * FROM t00_kinds ORDER BY a; SELECT COUNT(*), 1/3, 0.1 + 0.2 FROM t00_kinds; "
         "SELECT @@character_set_client, @@character_set_results, @@collation_connection, @@autocommit")
    want = lib.sql_client(q)
    got = sql(q)
    eq(got, want, "lib.sql's rows")
    check(len(want) == 4 and "\\t" in want[0][5] and "\\n" in want[0][6] and "\x1c" in want[1][5] and
          want[1][1] == "NULL", "the query reached the escapes, the bytes and NULL: %r" % want)
    try:
        sql("SELECT 1; SELECT * FROM t00_no_such_table")
    except Fail as e:
        check("t00_no_such_table" in str(e), "the Fail names the error: %s" % e)
    else:
        raise Fail("a failing statement was not a Fail")


def test_migrate_twice_is_a_noop():
    p = creditctl("migrate", "--sql-dir", os.path.join(os.path.dirname(ENV["CREDITCTL"]), "sql"))
    eq(p.stdout.strip(), "", "nothing applied the second time")


def test_migrate_refuses_changed_file():
    d = os.path.join(ENV["CREDITD_STACK_DIR"], "sql-changed")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "sql", "001_init.sql")
    with open(src) as f:
        text = f.read()
    with open(os.path.join(d, "001_init.sql"), "w") as f:
        f.write(text + "\n-- edited after it was applied\n")
    p = creditctl("migrate", "--sql-dir", d, check_rc=False)
    check(p.returncode != 0, "changed migration refused")
    check("changed" in p.stderr, "message says why: " + p.stderr)


def test_the_migrations_lock_carries_the_database_s_salt():
    """Named locks are the server's: a co-tenant on a shared server holding
    creditd.migrate.<database> (the name before the salt) holds no
    migration up; the name with the database's salt (sql/041), which only
    its users can read, does: a run waits for it, then goes on."""
    from test_05_shared_hosting import Session
    sql_dir = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "sql")
    held = Session()
    try:
        eq(held.one("SELECT GET_LOCK('creditd.migrate.creditd', 0)"), "1", "the guessable name taken")
        p = _ctl(ENV["CREDITD_CONFIG"], "migrate", "--sql-dir", sql_dir)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Fail("creditctl migrate waits on a co-tenant's lock of the guessable name")
        eq((p.returncode, out), (0, ""), "a co-tenant's guess holds nothing up: %s" % err)
        eq(held.one("SELECT RELEASE_LOCK('creditd.migrate.creditd')"), "1", "given back")
        eq(held.one("SELECT GET_LOCK(LEFT(CONCAT('creditd.migrate.', (SELECT value FROM settings WHERE name = "
                    "'lock_salt'), '.', DATABASE()), 64), 0)"), "1", "the salted name taken")
        p = _ctl(ENV["CREDITD_CONFIG"], "migrate", "--sql-dir", sql_dir)
        time.sleep(3)
        check(p.poll() is None, "a run waits for the salted lock")
        held.one("SELECT RELEASE_LOCK(LEFT(CONCAT('creditd.migrate.', (SELECT value FROM settings WHERE name = "
                 "'lock_salt'), '.', DATABASE()), 64))")
        out, err = p.communicate(timeout=30)
        eq((p.returncode, out), (0, ""), "then goes on, nothing to apply: %s" % err)
    finally:
        held.close()


def _fresh_schema_config(db):
    """A copy of the stack's config naming an empty database db, on which
    the stack's two users have their rights."""
    sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s; GRANT ALL ON %s.* TO 'creditd_owner'@'localhost';"
        "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON %s.* TO 'creditd'@'localhost'" % (db, db, db, db))
    text = re.sub(r"(?m)^name = creditd$", "name = " + db, open(ENV["CREDITD_CONFIG"]).read())
    conf = os.path.join(ENV["CREDITD_STACK_DIR"], db + ".conf")
    with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    return conf


def _ctl(conf, *args):
    return subprocess.Popen([ENV["CREDITCTL"], "-c", conf] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_migrate_check_and_two_runs_at_once():
    """migrate --check: every migration pending on an empty schema (exit 3),
    none once migrated (exit 0), asked as the runtime user (an owner's
    password that is wrong does not matter). Two migrate runs at once on
    an empty schema take turns: both succeed and each migration is applied
    once."""
    db = "creditd_t00_migrate"
    conf = _fresh_schema_config(db)
    sql_dir = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "sql")
    names = sorted(f for f in os.listdir(sql_dir) if f.endswith(".sql"))
    try:
        p = _ctl(conf, "migrate", "--check", "--sql-dir", sql_dir)
        out, err = p.communicate(timeout=60)
        eq((p.returncode, out.split()), (3, [w for n in names for w in ("pending", n)]),
           "all pending on an empty schema: %s" % err)
        runs = [_ctl(conf, "migrate", "--sql-dir", sql_dir) for _ in range(2)]
        outs = [r.communicate(timeout=600) for r in runs]
        eq([r.returncode for r in runs], [0, 0], "both runs succeed: %r" % [o[1] for o in outs])
        applied = sorted(line.split()[1] for o in outs for line in o[0].splitlines())
        eq(applied, names, "each migration applied once between them")
        eq(sql("SELECT COUNT(*) FROM %s.schema_migrations" % db), [[str(len(names))]], "recorded once each")
        wrong_owner = conf + ".wrong-owner"
        with open(os.open(wrong_owner, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(re.sub(r"(?m)^migrate_password = .*$", "migrate_password = not-the-owners-password-at-all",
                           open(conf).read()))
        p = _ctl(wrong_owner, "migrate", "--check", "--sql-dir", sql_dir)
        out, err = p.communicate(timeout=60)
        eq((p.returncode, out), (0, ""), "current, asked as the runtime user: %s" % err)
        # A server that refuses the runtime user is a failure (1), one that
        # does not answer is "unreachable" (4): the package's upgrade fails
        # on the first, and restarts nothing on either.
        for name, edit, want in (("wrong-runtime", (r"(?m)^password = .*$", "password = not-the-runtime-password"), 1),
                                 ("no-server", (r"(?m)^socket = .*$", "socket = /nonexistent/mysql.sock"), 4)):
            path = "%s.%s" % (conf, name)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(re.sub(edit[0], edit[1], open(conf).read()))
            p = _ctl(path, "migrate", "--check", "--sql-dir", sql_dir)
            out, err = p.communicate(timeout=60)
            eq(p.returncode, want, "%s: exit %d: %s" % (name, want, err))
    finally:
        sql("DROP DATABASE IF EXISTS %s" % db)


def test_key_create_list_revoke():
    p = creditctl("key", "create", "--scope", "read", "--name", "short-lived")
    new_key = p.stdout.strip()
    check(new_key.startswith("crd_") and len(new_key) == 68, "key printed once")
    rows = sql("SELECT COUNT(*) FROM api_keys WHERE prefix = '%s'" % new_key[:12])
    eq(rows[0][0], "1", "stored")
    rows = sql("SELECT COUNT(*) FROM api_keys WHERE HEX(key_hash) LIKE '%%%s%%'" % new_key[4:20].upper())
    eq(rows[0][0], "0", "the key itself is not stored")
    eq(api("GET", "/v1/models", auth=new_key).status, 200, "new key works")
    listing = creditctl("key", "list").stdout
    check("short-lived" in listing and new_key not in listing, "listed without the secret")
    key_id = sql("SELECT id FROM api_keys WHERE prefix = '%s'" % new_key[:12])[0][0]
    creditctl("key", "revoke", key_id)
    time.sleep(1.2)
    eq(api("GET", "/v1/models", auth=new_key).status, 401, "revoked key refused")


def test_key_list_in_pages():
    # More keys than one page of a list (LIMIT_LIST_PAGE, 100): creditctl
    # reads page after page and prints every key once, oldest first, under
    # one header. The keys are revoked and are hashes of nothing.
    tag = uid("pages")
    sql("INSERT INTO api_keys (key_hash, prefix, name, scopes, created_at, revoked_at) "
        "SELECT UNHEX(SHA2(CONCAT('%s', seq), 256)), 'crd_pagetest', CONCAT('%s-', seq), 2, 1700000000, "
        "1700000000 FROM seq_1_to_150" % (tag, tag))
    lines = creditctl("key", "list").stdout.splitlines()
    eq(lines[0].split(), ["ID", "PREFIX", "SCOPES", "ACCOUNT", "CREATED", "REVOKED", "NAME"], "header first")
    eq([int(line.split()[0]) for line in lines[1:]], [int(r[0]) for r in sql("SELECT id FROM api_keys ORDER BY id")],
       "every key once, oldest first")
    eq(sum(1 for line in lines if line.endswith(" %s-150" % tag)), 1, "the last one listed")


def _fcgi_get(sock, path):
    """One FastCGI GET straight to a socket, with libfcgi's cgi-fcgi."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REQUEST_METHOD": "GET", "REQUEST_URI": path,
           "QUERY_STRING": "", "CONTENT_LENGTH": "0", "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
    p = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock], input=b"", env=env, capture_output=True, timeout=30)
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    return head.decode("latin-1"), payload


def test_socket_inherited_on_fd0_from_spawn_fcgi():
    sock = os.path.join(ENV["CREDITD_STACK_DIR"], "spawned.sock")
    binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
    pidfile = os.path.join(ENV["CREDITD_STACK_DIR"], "spawned.pid")
    env = dict(os.environ, CREDITD_LOG="stderr")
    env.pop("CREDITD_LISTEN", None)
    p = subprocess.run(["spawn-fcgi", "-s", sock, "-P", pidfile, "--", binary, "-c", ENV["CREDITD_CONFIG"]],
                       env=env, capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "spawn-fcgi: " + p.stderr)
    with open(pidfile) as f:
        pid = int(f.read().strip())
    try:
        head, payload = "", b""
        for _ in range(50):
            head, payload = _fcgi_get(sock, "/healthz")
            if "200" in head:
                break
            time.sleep(0.1)
        check("Status: 200" in head, "healthz over the inherited socket: %r" % head)
        eq(payload.strip(), b'{"status":"ok"}', "healthz body")
        head, payload = _fcgi_get(sock, "/v1/models")
        check("Status: 401" in head, "no key over FastCGI: %r" % head)
    finally:
        os.kill(pid, 15)
    check(wait_until(lambda: not os.path.exists("/proc/%d" % pid), timeout=10), "spawned creditd stopped")


def test_install_md_s_spawn_fcgi_line_runs_creditd_as_its_own_user():
    """install.md's spawn-fcgi command as printed (its socket and binary
    moved to a scratch directory): creditd never runs as root (it drops no
    privileges itself), and its socket is creditd's, group www-data, 0660,
    so nginx's workers and nobody else reach it."""
    import pwd
    import grp
    import shutil
    import stat
    import tempfile
    text = open(os.path.join(os.path.dirname(ENV["CREDITCTL"]), "docs", "install.md")).read()
    m = re.search(r"`(spawn-fcgi -s [^`]+)`", text)
    check(m is not None, "install.md has a spawn-fcgi line")
    d = tempfile.mkdtemp(prefix="spawn-fcgi.")
    os.chmod(d, 0o755)
    shutil.copy(os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd"), d)
    sock, pidfile = os.path.join(d, "creditd.sock"), os.path.join(d, "spawned.pid")
    argv = m.group(1).replace("/run/creditd/creditd.sock", sock).replace("/usr/local/bin/creditd",
                                                                      os.path.join(d, "creditd")).split()
    argv[1:1] = ["-P", pidfile]
    made = subprocess.run(["getent", "passwd", "creditd"], capture_output=True).returncode != 0
    if made:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "creditd"], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
    pid = None
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "%s: %s" % (" ".join(argv), p.stderr))
        pid = int(open(pidfile).read().strip())
        uid = pwd.getpwnam("creditd").pw_uid
        status = open("/proc/%d/status" % pid).read()
        eq(re.search(r"(?m)^Uid:\s+(\d+)", status).group(1), str(uid), "creditd runs as the creditd user")
        st = os.stat(sock)
        eq((st.st_uid, grp.getgrgid(st.st_gid).gr_name, oct(stat.S_IMODE(st.st_mode))), (uid, "www-data", "0o660"),
           "its socket: creditd's, group www-data, 0660")
    finally:
        if pid is not None:
            os.kill(pid, 15)
            wait_until(lambda: not os.path.exists("/proc/%d" % pid), timeout=10)
        if made:
            subprocess.run(["userdel", "creditd"])
            subprocess.run(["groupdel", "creditd"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def test_encoded_slash_in_an_id_through_apache_and_nginx():
    acct = uid("team") + "/alice"
    r = api("POST", "/v1/accounts", {"id": acct, "kind": "user"})
    eq(r.status, 201, "an id with a slash")
    path = "/v1/accounts/" + acct.replace("/", "%2F")
    eq(api("GET", path, auth="read").json["id"], acct, "through nginx")
    r = api("GET", path, auth="read", base=ENV["CREDITD_APACHE_URL"])
    eq(r.status, 200, "through Apache (AllowEncodedSlashes NoDecode)")
    eq(r.json["id"], acct, "the same account")


def test_help_comes_before_any_config():
    """creditctl --help and creditd --help print their usage on stdout and
    exit 0 before reading any config, so a user who may not read it still
    gets them; ./dev --help too."""
    import shutil
    import tempfile
    root = os.path.dirname(ENV["CREDITCTL"])
    bins = tempfile.mkdtemp(prefix="creditd-help-")  # the tree may be in a directory nobody cannot enter
    os.chmod(bins, 0o755)
    for b in ("creditctl", "creditd"):
        shutil.copy(os.path.join(root, b), bins)
    ctl = os.path.join(bins, "creditctl")
    for argv in ([ctl, "--help"], [ctl, "-c", ENV["CREDITD_CONFIG"], "--help"], [os.path.join(bins, "creditd"), "--help"]):
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] + argv,
                           capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "%s as nobody: %s" % (" ".join(argv[1:]), p.stderr))
        check(p.stdout.startswith("usage: "), "usage on stdout: %r" % p.stdout[:100])
        check("price set" in p.stdout or "creditd" in argv[0][-7:], "every command listed: %r" % p.stdout[:2000])
    shutil.rmtree(bins)
    p = subprocess.run([os.path.join(root, "dev"), "--help"], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "./dev --help: %s" % p.stderr)
    check("./dev demo" in p.stdout and "./dev check" in p.stdout, "./dev's commands: %r" % p.stdout[:300])


def test_help_names_every_documented_option():
    """Each command of docs/creditctl.md's table is in creditctl --help
    with every option the table gives it (key create --models was not)."""
    out = subprocess.run([ENV["CREDITCTL"], "--help"], capture_output=True, text=True, timeout=30).stdout
    entries, current = {}, None
    for line in out.splitlines()[1:]:
        if line.startswith("  ") and not line.startswith("   "):
            current = line.strip()
            entries[current] = current
        elif current is not None:
            entries[current] += " " + line.strip()
    missing = []
    for row in open(os.path.join(os.path.dirname(ENV["CREDITCTL"]), "docs", "creditctl.md")):
        if not row.startswith("| `"):
            continue
        doc = row.split("`")[1]
        if doc.split()[0] not in {e.split()[0] for e in entries}:
            continue        # another table's row (price fields)
        words = re.match(r"[a-z ]+", doc).group(0).split()
        usage = [e for e in entries.values() if e.split()[:len(words)] == words]
        if not usage:
            missing.append(doc)
            continue
        missing += ["%s: %s" % (doc, opt) for opt in re.findall(r"--[a-z][a-z-]*", doc)
                    if not any(opt in u for u in usage)]
    eq(missing, [], "documented options missing from creditctl --help")
