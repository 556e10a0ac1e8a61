"""test_25_capture.py: the `expired_holds = capture` policy, end to end;
and what fell due on an account no sweep reached, brought due before the
guard batch that meets it decides.

The stack runs `release`, so this test gives a creditd of its own a
database of its own (same mariadbd): a config copy with another database
name and the capture policy, migrated and priced with creditctl, served on
its own socket and spoken to over FastCGI with libfcgi's cgi-fcgi. The
stack's sweepers never see that database; its own sweeps every second, or
once an hour where a request must be the first to meet what fell due."""
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


def _config(policy, sweep_seconds):
    with open(ENV["CREDITD_CONFIG"]) as f:
        text = f.read()
    text = re.sub(r"(?m)^name = .*$", "name = " + DB, text)
    text = re.sub(r"(?m)^sweep_interval_seconds = .*$", "sweep_interval_seconds = %d" % sweep_seconds, text)
    text = text.replace("[ledger]\n", "[ledger]\nexpired_holds = %s\n" % policy)
    path = os.path.join(_dir(), "creditd.conf")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    return path


def _ctl(conf, *args):
    p = subprocess.run([ENV["CREDITCTL"], "-c", conf] + list(args), capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "creditctl %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def _fcgi(sock, key, method, path, body=None):
    """(status, payload bytes) of one request to the instance."""
    data = json.dumps(body).encode() if body is not None else b""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REQUEST_METHOD": method, "REQUEST_URI": path,
           "QUERY_STRING": "", "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
           "HTTP_AUTHORIZATION": "Bearer " + key, "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
    p = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock], input=data, env=env, capture_output=True, timeout=30)
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    status = int(re.search(rb"Status: (\d+)", head).group(1))
    return status, payload


def _call(sock, key, method, path, body=None):
    status, payload = _fcgi(sock, key, method, path, body)
    return status, json.loads(payload)


def _counter(sock, key, name):
    """A counter of the instance's /metrics (None: no such line)."""
    status, text = _fcgi(sock, key, "GET", "/metrics")
    eq(status, 200, "GET /metrics")
    m = re.search(r"(?m)^%s (\d+)$" % re.escape(name), text.decode())
    return int(m.group(1)) if m else None


@contextlib.contextmanager
def _instance(policy="capture", sweep_seconds=1):
    """A creditd with the capture policy (or `policy`) on a database of its
    own, sweeping every `sweep_seconds`: yields (config path, socket, admin
    key); stops it and drops the database."""
    os.makedirs(_dir(), exist_ok=True)
    sql("DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0}; GRANT ALL ON {0}.* TO 'creditd_owner'@'localhost'; "
        "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON {0}.* TO 'creditd'@'localhost'".format(DB))
    conf = _config(policy, sweep_seconds)
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


def _calls():
    """The database server's procedure CALLs so far (MariaDB's
    Com_call_procedure: a guard batch's read and each of its writes)."""
    return int(sql("SHOW GLOBAL STATUS LIKE 'Com_call_procedure'")[0][1])


def test_a_late_settles_refund_is_written_with_its_batch():
    """A settle below its captured hold gives the difference back as a
    refund grant decided in the batch and written with it: the settle is
    the read CALL and the write CALL (its hold, captured, is not kept in
    memory), nothing written between them; the grant and its journal row
    name each other."""
    with _instance() as (conf, sock, key):
        eq(_call(sock, key, "POST", "/v1/accounts", {"id": "late", "kind": "user"})[0], 201, "account")
        st, hold = _call(sock, key, "POST", "/v1/guard/authorize",
                         {"account": "late", "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 1000,
                          "request_id": "r1", "ttl_seconds": 1})
        eq((st, hold["amount_micros"]), (200, 13125), "hold")
        check(wait_until(lambda: sql("SELECT state FROM %s.holds" % DB) == [["captured"]], timeout=10),
              "captured by the sweeper")
        before = _calls()
        st, settled = _call(sock, key, "POST", "/v1/guard/settle",
                            {"hold_id": hold["hold_id"], "input_tokens": 1000, "output_tokens": 100})
        calls = _calls() - before
        eq((st, settled["charged_micros"], settled["late"]), (200, 3675, True), "the late settle")
        eq(calls, 2, "the read CALL and the write CALL: the refund grant written with the batch")
        eq(sql("SELECT g.amount_micros, g.remaining_micros, j.amount_micros, j.cause, j.reference = g.reference "
               "FROM %s.grants g JOIN %s.journal j ON j.grant_id = g.id WHERE g.source = 'refund'"
               % (DB, DB)), [["9450", "9450", "9450", "grant", "1"]],
           "one refund grant of 13125 - 3675 and its journal row, naming each other")
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


def _journal(acct):
    return sql("SELECT j.cause, j.amount_micros, j.hold_id, j.grant_id FROM {0}.journal j JOIN {0}.accounts a "
               "ON a.id = j.account_id WHERE a.ext_id = '{1}' ORDER BY j.id".format(DB, acct))


def _due_account(sock, key, acct, now):
    """An account with a grant of 500000 expiring at now + 60 and a hold of
    13125 expiring at now + 30."""
    eq(_call(sock, key, "POST", "/v1/accounts", {"id": acct, "kind": "user"})[0], 201, "account " + acct)
    st, grant = _call(sock, key, "POST", "/v1/accounts/%s/grants" % acct,
                      {"amount_micros": 500000, "source": "promo",
                       "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60))})
    eq(st, 201, "an expiring grant")
    st, hold = _call(sock, key, "POST", "/v1/guard/authorize",
                     {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 1000,
                      "request_id": "r1", "ttl_seconds": 30})
    eq((st, hold["amount_micros"]), (200, 13125), "a hold expiring first")


def test_what_fell_due_is_brought_due_in_its_own_transaction_before_the_batch():
    """Expired a hold and a grant that no sweep reached (this instance
    sweeps once an hour): the guard batch that meets them writes nothing
    in its read. The account is brought due first, in a transaction of its
    own (counted in /metrics: the old opening inside the read counted
    nothing), its expiry rows in the journal before the batch's own, and
    the batch decides on the account as they left it; the next batch
    finds nothing due."""
    now = clock_now()
    try:
        with _instance(policy="release", sweep_seconds=3600) as (conf, sock, key):
            counter = "creditd_guard_brought_due_total"
            # The batch's one transaction loop runs it again for that
            # reason (docs/architecture.md, "One retry loop"), counted.
            due = 'creditd_tx_retries_total{reason="due"}'
            eq(_counter(sock, key, counter), 0, "nothing brought due yet")
            eq(_counter(sock, key, due), 0, "no attempt run again for something due yet")
            for acct in ("due-a", "due-u"):
                _due_account(sock, key, acct, now)
            eq(sql("SELECT COUNT(*) FROM %s.journal WHERE cause = 'expiry'" % DB), [["0"]], "nothing swept yet")
            clock_set(now + 120)
            # An authorize on one: the expired hold no longer reserves, the
            # expired grant no longer counts.
            st, held = _call(sock, key, "POST", "/v1/guard/authorize",
                             {"account": "due-a", "model": "gpt-4o", "input_tokens": 1000,
                              "max_output_tokens": 1000, "request_id": "r2"})
            eq((st, held["amount_micros"]), (200, 13125), "authorize after the expiries")
            eq(held["available_micros"], 10000000 - 13125, "available: the new hold's alone, the grant gone")
            eq(_counter(sock, key, counter), 1, "its account brought due before the batch decided")
            eq(_counter(sock, key, due), 1, "the batch run again once, its reason: due")
            eq([r[:2] for r in _journal("due-a")],
               [["grant", "10000000"], ["grant", "500000"], ["expiry", "0"], ["expiry", "-500000"]],
               "the hold released and the grant written off, each its journal row")
            eq(sql("SELECT state FROM {0}.holds h JOIN {0}.accounts a ON a.id = h.account_id "
                   "WHERE a.ext_id = 'due-a' ORDER BY h.id".format(DB)), [["expired"], ["pending"]], "holds")
            st, acct = _call(sock, key, "GET", "/v1/accounts/due-a")
            eq((acct["balance_micros"], acct["reserved_micros"]), (10000000, 13125), "balance and reserve")
            # Direct usage on the other: its journal row comes after the
            # expiries', which were committed before its batch read.
            st, used = _call(sock, key, "POST", "/v1/usage",
                             {"account": "due-u", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100,
                              "request_id": "u1"})
            eq((st, used["charged_micros"]), (200, 3675), "usage after the expiries")
            eq((used["balance_micros"], used["available_micros"]), (10000000 - 3675, 10000000 - 3675),
               "charged on the account as the expiries left it")
            eq([r[:2] for r in _journal("due-u")][2:],
               [["expiry", "0"], ["expiry", "-500000"], ["usage", "-3675"]], "the expiries' rows, then the usage's")
            eq(_counter(sock, key, counter), 2, "the second account brought due")
            eq(_counter(sock, key, due), 2, "its batch run again once for it")
            # Nothing is due any more: the next batches bring nothing due.
            st, again = _call(sock, key, "POST", "/v1/guard/authorize",
                              {"account": "due-u", "model": "gpt-4o", "input_tokens": 10, "max_output_tokens": 10,
                               "request_id": "r3"})
            eq(st, 200, "authorize again")
            eq(_counter(sock, key, counter), 2, "nothing more brought due")
            eq(_counter(sock, key, due), 2, "nor run again")
            check("0 violations" in _ctl(conf, "verify"), "verify clean")
    finally:
        clock_reset()


def test_what_fell_due_stays_brought_due_when_the_batch_that_met_it_fails():
    """The expiry a guard batch meets is committed by its own transaction,
    not the batch's: a batch that then fails (its hold's amount edited by
    hand above the account's reserve: rows that disagree, 500) leaves the
    expiry applied. With the expiry applied inside the batch's read, the
    failed batch rolled it back with everything else."""
    now = clock_now()
    try:
        with _instance(policy="release", sweep_seconds=3600) as (conf, sock, key):
            eq(_call(sock, key, "POST", "/v1/accounts", {"id": "due-f", "kind": "user"})[0], 201, "account")
            ids = []
            for req, ttl in (("r1", 30), ("r2", 3600)):
                st, hold = _call(sock, key, "POST", "/v1/guard/authorize",
                                 {"account": "due-f", "model": "gpt-4o", "input_tokens": 1000,
                                  "max_output_tokens": 1000, "request_id": req, "ttl_seconds": ttl})
                eq((st, hold["amount_micros"]), (200, 13125), "hold " + req)
                ids.append(hold["hold_id"])
            states = "SELECT request_id, state FROM %s.holds ORDER BY id" % DB
            sql("UPDATE %s.holds SET amount_micros = 20000 WHERE request_id = 'r2'" % DB)
            clock_set(now + 120)
            st, body = _call(sock, key, "POST", "/v1/guard/release", {"hold_id": ids[1]})
            eq(st, 500, "the batch fails on rows that disagree: %r" % body)
            eq(sql(states), [["r1", "expired"], ["r2", "pending"]], "the expiry stands, the release does not")
            eq(sql("SELECT cause, amount_micros FROM %s.journal WHERE cause = 'expiry'" % DB), [["expiry", "0"]],
               "its journal row committed")
            eq(sql("SELECT reserved_micros FROM %s.accounts WHERE ext_id = 'due-f'" % DB), [["13125"]],
               "the expired hold reserves no more")
            sql("UPDATE %s.holds SET amount_micros = 13125 WHERE request_id = 'r2'" % DB)
            st, released = _call(sock, key, "POST", "/v1/guard/release", {"hold_id": ids[1]})
            eq((st, released["released_micros"], released["available_micros"]), (200, 13125, 10000000),
               "released once the rows agree")
            check("0 violations" in _ctl(conf, "verify"), "verify clean")
    finally:
        clock_reset()


def test_what_fell_due_stays_brought_due_when_an_operation_that_met_it_is_refused():
    """Any operation, not only the guard's batch, meets what fell due on
    its account the same way: the attempt ends on it, the account is
    brought due in a transaction of its own, and the operation runs
    again. A debit then refused (402) leaves the expiries applied and
    committed; with them applied inside the debit's own transaction, its
    refusal rolled them back with it."""
    now = clock_now()
    try:
        with _instance(policy="release", sweep_seconds=3600) as (conf, sock, key):
            _due_account(sock, key, "due-d", now)
            clock_set(now + 120)
            st, body = _call(sock, key, "POST", "/v1/accounts/due-d/debits",
                             {"amount_micros": 20000000, "reason": "too much"})
            eq(st, 402, "the debit is refused: %r" % body)
            eq(body["error"].get("available_micros"), 10000000, "on the account as the expiries left it")
            eq([r[:2] for r in _journal("due-d")],
               [["grant", "10000000"], ["grant", "500000"], ["expiry", "0"], ["expiry", "-500000"]],
               "the hold released and the grant written off, committed")
            eq(sql("SELECT state FROM {0}.holds h JOIN {0}.accounts a ON a.id = h.account_id "
                   "WHERE a.ext_id = 'due-d'".format(DB)), [["expired"]], "the hold expired")
            st, done = _call(sock, key, "POST", "/v1/accounts/due-d/debits", {"amount_micros": 1000, "reason": "ok"})
            eq((st, done["balance_micros"]), (201, 10000000 - 1000), "a debit that fits goes through")
            check("0 violations" in _ctl(conf, "verify"), "verify clean")
    finally:
        clock_reset()
