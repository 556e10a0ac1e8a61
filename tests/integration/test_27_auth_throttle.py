"""test_27_auth_throttle.py: failed authentication throttled per client
address (DESIGN §13, [security] auth_failures_per_minute). An address
that sent 30 bad keys within a minute of its first is answered 429
rate_limit_exceeded with Retry-After for the rest of that minute, with
no key look-up in the database (creditd_auth_lookups_total on /metrics
counts them); another address is not affected, and the window ends a
minute after its first failure (the stack's clock moved forward).

The check's stack throttles past 100,000 a minute (every test comes from
127.0.0.1 and many send bad keys on purpose), so these tests restart the
nginx-side creditd with the default, and put it back after."""
import http.client
import json
import re
import secrets
import shutil
import urllib.parse

import stack
from lib import ENV, api, check, clock_now, clock_reset, clock_set, creditctl, eq

LIMIT = 30


def call(key, source="127.0.0.1", path="/v1/accounts/nobody"):
    """GET path through nginx from the loopback address `source`."""
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=(source, 0))
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + key})
        r = c.getresponse()
        body = r.read()
        return r.status, json.loads(body or b"null"), {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()


def random_key():
    return "crd_" + secrets.token_hex(32)


def counters():
    text = api("GET", "/metrics", auth=None).raw.decode()
    got = {}
    for name in ("creditd_auth_lookups_total", "creditd_auth_failures_total", "creditd_auth_throttled_total"):
        m = re.search(r"^%s (\d+)$" % name, text, re.M)
        check(m, "/metrics has %s" % name)
        got[name] = int(m.group(1))
    return got


def with_default_limit(fn):
    """Runs fn against the nginx-side creditd started with the config's
    [security] section removed (the default, 30), then restarts it as the
    stack has it."""
    conf = stack.path("creditd-throttle.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(re.sub(r"\[security\][^\[]*", "", text))
    stack.creditd_kill9()
    stack.creditd_start(config=conf)
    try:
        fn()
    finally:
        clock_reset()
        stack.creditd_kill9()
        stack.creditd_start()


def test_two_hundred_random_keys_cost_thirty_look_ups():
    def run():
        before = counters()
        answers = [call(random_key()) for _ in range(200)]
        after = counters()
        statuses = [s for s, _, _ in answers]
        eq(statuses[:LIMIT], [401] * LIMIT, "the first 30 bad keys are refused as unknown")
        eq(statuses[LIMIT:], [429] * (200 - LIMIT), "every one after them is throttled")
        for status, body, headers in answers[LIMIT:]:
            err = body["error"]
            eq((err["type"], err["code"]), ("rate_limit_error", "rate_limit_exceeded"), "the error: %r" % body)
            retry = int(headers.get("retry-after", "0"))
            check(1 <= retry <= 60, "Retry-After: the rest of the minute: %r" % headers)
            eq(err.get("retry_after_seconds"), retry, "the body says the same")
            check("failed authentications" in err["message"], "the message says why: %r" % err)
        eq(after["creditd_auth_lookups_total"] - before["creditd_auth_lookups_total"], LIMIT,
           "the database was asked about the first 30 keys only")
        eq(after["creditd_auth_failures_total"] - before["creditd_auth_failures_total"], LIMIT,
           "failures counted until the throttle")
        eq(after["creditd_auth_throttled_total"] - before["creditd_auth_throttled_total"], 200 - LIMIT,
           "throttled answers counted")
        eq(call(random_key())[0], 429, "a new bad key from the address: throttled")
        # Another address is its own.
        status, body, _ = call(ENV["CREDITD_ADMIN_KEY"], source="127.0.0.2")
        eq(status, 404, "a good key from another address reaches the route: %r" % body)
        eq(call(random_key(), source="127.0.0.3")[0], 401, "a bad key from another address: 401, not 429")
        # A minute after the first failure the window is over.
        clock_set(clock_now() + 61)
        eq(call(random_key())[0], 401, "after the minute: looked up again")
        eq(call(ENV["CREDITD_ADMIN_KEY"])[0], 404, "and a good key works")
    with_default_limit(run)


def test_a_good_key_used_lately_still_works_from_a_throttled_address():
    # An app whose host also runs a client with a stale key: the app's key,
    # known to the database in the last ten minutes, is still looked up;
    # a key never used before waits out the minute like any other.
    fresh = creditctl("key", "create", "--scope", "read", "--name", "t27-fresh").stdout.strip().splitlines()[-1]

    def run():
        eq(call(ENV["CREDITD_READ_KEY"])[0], 404, "the app's key, before")
        for _ in range(LIMIT):
            call(random_key())
        eq(call(random_key())[0], 429, "the address is throttled")
        for _ in range(3):
            eq(call(ENV["CREDITD_READ_KEY"])[0], 404, "the app's key still reaches the route")
        eq(call(fresh)[0], 429, "a key this creditd never saw waits out the minute")
    with_default_limit(run)


def test_routes_without_a_key_are_not_throttled():
    def run():
        for _ in range(LIMIT):
            call(random_key())
        eq(call(random_key())[0], 429, "the address is throttled")
        eq(call("x", path="/healthz")[0], 200, "/healthz needs no key and answers")
        u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("POST", "/v1/webhooks/stripe", body=b"{}", headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        eq(r.status, 400, "the Stripe webhook is checked by its signature, not throttled")
    with_default_limit(run)
