"""test_00_foundation.py: the responder, the router, keys and the error
model, through nginx and through Apache (mod_proxy_fcgi)."""
import os
import subprocess
import time

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


def test_encoded_slash_in_an_id_through_apache_and_nginx():
    acct = uid("team") + "/alice"
    r = api("POST", "/v1/accounts", {"id": acct, "kind": "user"})
    eq(r.status, 201, "an id with a slash")
    path = "/v1/accounts/" + acct.replace("/", "%2F")
    eq(api("GET", path, auth="read").json["id"], acct, "through nginx")
    r = api("GET", path, auth="read", base=ENV["CREDITD_APACHE_URL"])
    eq(r.status, 200, "through Apache (AllowEncodedSlashes NoDecode)")
    eq(r.json["id"], acct, "the same account")
