"""test_25_capture.py: the `expired_holds = capture` policy, end to end.

The stack runs `release`, so this test gives a creditd of its own a
database of its own (same mariadbd): a config copy with another database
name and the capture policy, migrated and priced with creditctl, served on
its own socket and spoken to over FastCGI with libfcgi's cgi-fcgi. The
stack's sweepers never see that database."""
import calendar
import contextlib
import json
import os
import re
import shutil
import subprocess
import time

from lib import ENV, check, clock_now, clock_reset, clock_set, eq, sql, wait_until

DB = "creditd_capture"
ROOT = os.path.dirname(ENV["CREDITCTL"])


def _dir():
    return os.path.join(ENV["CREDITD_STACK_DIR"], "capture")


def _config():
    with open(ENV["CREDITD_CONFIG"]) as f:
        text = f.read()
    text = re.sub(r"(?m)^name = .*$", "name = " + DB, text)
    text = text.replace("[ledger]\n", "[ledger]\nexpired_holds = capture\n")
    path = os.path.join(_dir(), "creditd.conf")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    return path


def _ctl(conf, *args):
    p = subprocess.run([ENV["CREDITCTL"], "-c", conf] + list(args), capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "creditctl %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def _call(sock, key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REQUEST_METHOD": method, "REQUEST_URI": path,
           "QUERY_STRING": "", "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
           "HTTP_AUTHORIZATION": "Bearer " + key, "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
    p = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock], input=data, env=env, capture_output=True, timeout=30)
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    status = int(re.search(rb"Status: (\d+)", head).group(1))
    return status, json.loads(payload)


@contextlib.contextmanager
def _instance():
    """A creditd with the capture policy on a database of its own: yields
    (config path, socket, admin key); stops it and drops the database."""
    os.makedirs(_dir(), exist_ok=True)
    sql("DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0}; GRANT ALL ON {0}.* TO 'creditd_owner'@'localhost'; "
        "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON {0}.* TO 'creditd'@'localhost'".format(DB))
    conf = _config()
    _ctl(conf, "migrate", "--sql-dir", os.path.join(ROOT, "sql"))
    _ctl(conf, "price", "import", os.path.join(ROOT, "etc", "prices.csv"))
    key = _ctl(conf, "key", "create", "--scope", "admin").strip()
    sock = os.path.join(_dir(), "creditd.sock")
    out = open(os.path.join(_dir(), "creditd.out"), "w")
    proc = subprocess.Popen([os.path.join(ROOT, "creditd"), "-c", conf, "--listen", "unix:" + sock],
                            stdout=out, stderr=out, env=dict(os.environ, CREDITD_LOG="stderr"))
    try:
        check(wait_until(lambda: os.path.exists(sock), timeout=10), "capture instance listening")
        yield conf, sock, key
    finally:
        proc.terminate()
        proc.wait(10)
        out.close()
        sql("DROP DATABASE IF EXISTS %s" % DB)
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(_dir(), ignore_errors=True)


def test_expired_holds_are_captured_and_a_late_settle_refunds_the_difference():
    with _instance() as (conf, sock, key):
        eq(_call(sock, key, "POST", "/v1/accounts", {"id": "cap", "kind": "user"})[0], 201, "account")
        # gpt-4o, 1000 in + 1000 out: (2.5 + 10) * 1.05 = 13.125 -> 13125 micros held.
        st, hold = _call(sock, key, "POST", "/v1/guard/authorize",
                         {"account": "cap", "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 1000,
                          "request_id": "r1", "ttl_seconds": 1})
        eq((st, hold["amount_micros"]), (200, 13125), "hold")
        time.sleep(2.5)   # the sweeper (every second) captures it
        st, acct = _call(sock, key, "GET", "/v1/accounts/cap")
        eq(acct["balance_micros"], 10000000 - 13125, "the whole hold was charged")
        eq(acct["reserved_micros"], 0, "nothing reserved")
        eq(acct["month_spent_micros"], 13125, "counted as spend")
        eq(sql("SELECT state, charged_micros FROM %s.holds" % DB), [["captured", "13125"]], "hold captured")
        # Late settle: 1000 in + 100 out = (2.5 + 1) * 1.05 = 3.675 -> 3675 micros.
        st, settled = _call(sock, key, "POST", "/v1/guard/settle",
                            {"hold_id": hold["hold_id"], "input_tokens": 1000, "output_tokens": 100})
        eq(st, 200, "late settle")
        eq((settled["charged_micros"], settled["late"]), (3675, True), "actual cost, late")
        eq(settled["balance_micros"], 10000000 - 3675, "the full charge is replaced by the actual cost")
        st, txns = _call(sock, key, "GET", "/v1/accounts/cap/transactions")
        causes = [(t["cause"], t["amount_micros"]) for t in txns["data"]]
        eq(causes, [("grant", 13125 - 3675), ("usage", -13125), ("grant", 10000000)], "journal, newest first")
        eq(_call(sock, key, "POST", "/v1/guard/settle",
                 {"hold_id": hold["hold_id"], "input_tokens": 1000, "output_tokens": 100})[1], settled,
           "settling again replays")
        check("0 violations" in _ctl(conf, "verify"), "verify clean on the capture database")


def _next_month_start(t):
    g = time.gmtime(t)
    y, m = (g.tm_year + 1, 1) if g.tm_mon == 12 else (g.tm_year, g.tm_mon + 1)
    return calendar.timegm((y, m, 1, 0, 0, 0))


def test_a_hold_captured_in_one_month_and_settled_in_the_next_keeps_member_spend_exact():
    """The capture counts in its month's member spend; the late settle in
    the next month counts only its difference there (here a refund: the
    member's spend there goes below zero), and verify agrees."""
    end = _next_month_start(clock_now())
    if end - clock_now() < 120:
        end = _next_month_start(end)
    try:
        with _instance() as (conf, sock, key):
            clock_set(end - 30)
            eq(_call(sock, key, "POST", "/v1/accounts", {"id": "ws", "kind": "workspace"})[0], 201, "workspace")
            eq(_call(sock, key, "POST", "/v1/accounts/ws/members", {"member": "ann"})[0] in (200, 201), True,
               "member")
            st, hold = _call(sock, key, "POST", "/v1/guard/authorize",
                             {"account": "ws", "member": "ann", "model": "gpt-4o", "input_tokens": 1000,
                              "max_output_tokens": 1000, "request_id": "r1", "ttl_seconds": 1})
            eq((st, hold["amount_micros"]), (200, 13125), "hold")
            check(wait_until(lambda: sql("SELECT state FROM %s.holds" % DB) == [["captured"]], timeout=10),
                  "the sweeper captured it")
            eq(sql("SELECT month_spent_micros FROM %s.members" % DB), [["13125"]], "counted in ann's month")
            _ctl(conf, "verify")
            clock_set(end + 10)
            st, settled = _call(sock, key, "POST", "/v1/guard/settle",
                                {"hold_id": hold["hold_id"], "input_tokens": 1000, "output_tokens": 100})
            eq((st, settled["charged_micros"], settled["late"]), (200, 3675, True), "late settle, next month")
            eq(sql("SELECT month_spent_micros FROM %s.members" % DB), [[str(3675 - 13125)]],
               "the next month counts the difference")
            check("0 violations" in _ctl(conf, "verify"), "verify clean across the month end")
    finally:
        clock_reset()
