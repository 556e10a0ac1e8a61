"""test_58_browser_tokens.py: browser tokens and the /v1/me routes (DESIGN
§9): minted with a read key, signed by creditd, naming one account, good on
/v1/me* only; expired, tampered or foreign tokens are 401; CORS for the
configured widget origins only, never with credentials; the widget's
script served with caching headers."""
import base64
import time

from lib import ENV, api, check, clock_now, eq, new_account, uid, verify
from test_20_guard import authorize

APP = "https://app.example.com"     # in the test stack's [widget] origins


def mint(acct, auth="app", **body):
    return api("POST", "/v1/accounts/%s/browser_tokens" % acct, body, auth=auth)


def token(acct, **body):
    r = mint(acct, **body)
    eq(r.status, 201, "minted %r" % r)
    return r.json["token"]


def me(tok, path="/v1/me", method="GET", body=None, headers=None):
    h = {"Authorization": "Bearer " + tok}
    h.update(headers or {})
    return api(method, path, body, auth=None, headers=h)


def test_mint_and_read_the_account():
    acct = new_account("bt")
    r = mint(acct)
    eq(r.status, 201, "minted")
    eq(sorted(r.json), ["expires_at", "token"], "its fields")
    exp = time.mktime(time.strptime(r.json["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    check(abs(exp - (clock_now() + 900)) <= 2, "900 s by default: %s" % r.json["expires_at"])
    a = me(r.json["token"])
    eq(a.status, 200, "GET /v1/me %r" % a)
    full = api("GET", "/v1/accounts/" + acct, auth="read").json
    for k in ("id", "currency", "balance_micros", "available_micros", "reserved_micros", "plan"):
        eq(a.json[k], full[k], "%s as the key route says" % k)
    for k in ("overdraft_limit_micros", "grants", "monthly_limit_micros", "auto_recharge"):
        check(k not in a.json, "no limits' internals: %s" % k)
    eq(a.json["low"], False, "not low")
    check(a.json["topup"]["min_cents"] > 0, "the top-up bounds for the widget")
    for ttl, ok in ((60, 201), (3600, 201), (59, 400), (3601, 400), ("900", 400)):
        r = mint(acct, ttl_seconds=ttl)
        eq(r.status, ok, "ttl %r" % (ttl,))
        if ok == 400:
            eq(r.err.get("param"), "ttl_seconds", "names ttl_seconds")
    eq(mint(uid("nobody")).status, 404, "no token for an unknown account")
    eq(mint(acct, auth="guard").status, 403, "a guard key cannot mint")
    eq(mint(acct, auth="read").status, 403, "nor a read key (an app key can)")
    eq(mint(acct, auth="admin").status, 201, "an admin key can")


def test_low_state_transactions_and_topup_through_the_token():
    acct = new_account("bt")
    bal = api("GET", "/v1/accounts/" + acct, auth="read").json["available_micros"]
    api("PATCH", "/v1/accounts/" + acct, {"low_balance_micros": bal + 1})
    tok = token(acct)
    eq(me(tok).json["low"], True, "under its low_balance_micros: low")
    for _ in range(3):
        eq(authorize(acct).status, 200, "a hold")
    page = me(tok, "/v1/me/transactions?limit=1")
    eq(page.status, 200, "transactions %r" % page)
    key_page = api("GET", "/v1/accounts/%s/transactions?limit=1" % acct, auth="read")
    eq(page.json, key_page.json, "the same page as the key route")
    r = me(tok, "/v1/me/topup", "POST", {"amount_cents": 1000})
    eq(r.status, 200, "top-up %r" % r)
    check(r.json["checkout_url"].startswith("https://"), "a Checkout URL")
    eq(me(tok, "/v1/me/topup", "POST", {"amount_cents": 1}).status, 400, "bounds checked")


def test_expired_tampered_foreign_and_misplaced_tokens_are_401():
    acct = new_account("bt")
    other = new_account("bt")
    tok = token(acct, ttl_seconds=60)
    head, exp, sig = tok.rsplit(".", 2)
    forged_acct = "cdw1." + base64.urlsafe_b64encode(other.encode()).decode().rstrip("=") + "." + exp + "." + sig
    longer = head + "." + str(int(exp) + 3600) + "." + sig
    flipped = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    for bad, why in ((forged_acct, "another account under this signature"), (longer, "a longer life"),
                     (flipped, "a changed signature"), ("cdw1.x.1.y", "garbage"), ("", "empty"),
                     (ENV["CREDITD_READ_KEY"], "an API key")):
        r = me(bad)
        eq(r.status, 401, "%s: %r" % (why, r))
    r = api("GET", "/v1/me", auth=None)
    eq(r.status, 401, "no token")
    for method, path, body in (("GET", "/v1/accounts/" + acct, None), ("POST", "/v1/guard/authorize", {}),
                               ("GET", "/v1/events", None), ("POST", "/v1/accounts", {"id": uid("x")})):
        r = api(method, path, body, auth=None, headers={"Authorization": "Bearer " + tok})
        eq(r.status, 401, "a browser token opens no key route: %s %s %r" % (method, path, r))
    # Expired: the test clock moves past its 60 seconds.
    from lib import clock_set
    try:
        clock_set(clock_now() + 61)
        r = me(tok)
        eq(r.status, 401, "expired")
        check("expired" in r.err.get("message", ""), "says so: %r" % r)
    finally:
        from lib import clock_reset
        clock_reset()
    eq(me(tok).status, 200, "good again at the real time (the check is of its expiry alone)")


def test_cors_for_the_widget_origins_only():
    acct = new_account("bt")
    tok = token(acct)
    r = me(tok, headers={"Origin": APP})
    eq(r.headers.get("access-control-allow-origin"), APP, "an allowed origin is echoed")
    check("access-control-allow-credentials" not in r.headers, "never credentials")
    eq(r.headers.get("vary"), "Origin", "Vary: Origin")
    r = me(tok, headers={"Origin": "https://evil.example"})
    eq(r.status, 200, "answered (the browser enforces CORS)")
    check("access-control-allow-origin" not in r.headers, "but no CORS for another origin")
    pre = api("OPTIONS", "/v1/me/topup", auth=None, headers={"Origin": APP, "Access-Control-Request-Method": "POST",
                                                              "Access-Control-Request-Headers": "authorization,content-type"})
    eq(pre.status, 204, "preflight %r" % pre)
    eq(pre.headers.get("access-control-allow-origin"), APP, "preflight allowed")
    check("POST" in pre.headers.get("access-control-allow-methods", ""), "methods")
    check("Authorization" in pre.headers.get("access-control-allow-headers", ""), "headers")
    pre = api("OPTIONS", "/v1/me", auth=None, headers={"Origin": "https://evil.example"})
    check("access-control-allow-origin" not in pre.headers, "no preflight grant for another origin")
    r = me("cdw1.bad", headers={"Origin": APP})
    eq((r.status, r.headers.get("access-control-allow-origin")), (401, APP), "errors readable by the widget")
    r = api("GET", "/v1/accounts/" + acct, auth="read", headers={"Origin": APP})
    check("access-control-allow-origin" not in r.headers, "no CORS on key routes")


def test_the_widget_script_is_served_with_caching():
    r = api("GET", "/widget/creditd-widget.js", auth=None)
    eq(r.status, 200, "served")
    check(r.headers.get("content-type", "").startswith("application/javascript"), "as JavaScript")
    check("max-age" in r.headers.get("cache-control", ""), "cacheable: %r" % r.headers.get("cache-control"))
    etag = r.headers.get("etag")
    check(etag, "an ETag")
    body = r.raw
    check(len(body) < 40 * 1024, "under 40 KB: %d" % len(body))
    for name in (b"creditd-balance", b"creditd-topup", b"creditd-history"):
        check(name in body, "defines %s" % name.decode())
    r = api("GET", "/widget/creditd-widget.js", auth=None, headers={"If-None-Match": etag})
    eq(r.status, 304, "revalidated")
    r = api("GET", "/widget/creditd-widget.js", auth=None, base=ENV["CREDITD_APACHE_URL"])
    eq(r.status, 200, "through Apache too")
    verify()


def test_the_clients_mint_tokens():
    import json as _json
    import os
    import subprocess
    import sys
    import stack
    sys.path.insert(0, os.path.join(stack.ROOT, "clients", "python"))
    import creditd_client
    acct = new_account("bt")
    t = creditd_client.Creditd(ENV["CREDITD_URL"], ENV["CREDITD_APP_KEY"]).browser_token(acct, ttl_seconds=120)
    eq(me(t["token"]).json["id"], acct, "the Python client's token opens /v1/me")
    php = ("require $argv[1]; $c = new Creditd\\Client($argv[2], $argv[3]);"
           "echo json_encode($c->browserToken($argv[4]));")
    p = subprocess.run(["php", "-r", php, os.path.join(stack.ROOT, "clients", "php", "Creditd.php"),
                        ENV["CREDITD_URL"], ENV["CREDITD_APP_KEY"], acct], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "php: %s" % p.stderr)
    eq(me(_json.loads(p.stdout)["token"]).json["id"], acct, "the PHP client's token opens /v1/me")


def test_path_ids_that_are_not_utf8_are_400_on_every_account_route():
    for method, path, body in (("POST", "/v1/accounts/%FF%FE/topup", {"amount_cents": 1000}),
                               ("POST", "/v1/accounts/%FF/members", {"member": "m"}),
                               ("DELETE", "/v1/accounts/ok/members/%C3%28", None),
                               ("POST", "/v1/accounts/%FF/browser_tokens", {}),
                               ("GET", "/v1/accounts/%FF", None)):
        r = api(method, path, body, auth="admin")
        eq(r.status, 400, "%s %s: %r" % (method, path, r))
