"""test_90_resilience.py: creditd survives its database going away and
stops cleanly on SIGTERM. Runs last: it stops and restarts servers of the
stack (and records the new pids so ./dev still stops them)."""
import os
import subprocess
import threading
import time

import stack
from lib import ENV, api, check, eq, new_account, wait_until

ROOT = stack.ROOT


def test_healthz_503_while_db_down_and_recovers():
    acct = new_account("outage")
    cnf = stack.path("my.cnf")
    subprocess.run(["mariadb-admin", "--defaults-file=" + cnf, "shutdown"], check=True, timeout=30)
    t0 = time.time()
    check(wait_until(lambda: stack.health() == 503, timeout=2.0),
          "healthz 503 within 2 s of the database stopping")
    r = api("GET", "/healthz", auth=None)
    eq(r.err.get("code"), "unavailable", "code")
    eq(r.err.get("type"), "api_error", "type")
    check(r.headers.get("retry-after"), "Retry-After header")
    r = api("GET", "/v1/accounts/" + acct, auth="read")
    eq(r.status, 503, "a ledger read while the database is down")
    check(r.headers.get("retry-after"), "Retry-After on API 503")
    check(stack.alive(stack.pid_of("creditd")), "creditd still running")
    stack.start("mariadbd", ["mariadbd", "--defaults-file=" + cnf])
    check(wait_until(lambda: stack.health() == 200, timeout=30), "healthz 200 after the database returns")
    check(time.time() - t0 < 60, "recovered in reasonable time")
    for _ in range(40):  # every worker thread reconnects without failing a request
        r = api("GET", "/v1/accounts/" + acct, auth="read")
        eq(r.status, 200, "reads work again on every thread")
    # The creditd behind Apache has a watchdog of its own: it sees the
    # database back within 2 s too.
    check(wait_until(lambda: stack.health(base=ENV["CREDITD_APACHE_URL"]) == 200, timeout=2.5),
          "Apache side recovered")


def test_sigterm_lets_a_slow_request_finish():
    acct = new_account("slow")
    cnf = stack.path("my.cnf")
    # Hold the account row for 2 s from another session: the API read waits on it.
    locker = subprocess.Popen(["mariadb", "--defaults-file=" + cnf, "creditd", "-e",
                               "BEGIN; SELECT id FROM accounts WHERE ext_id = '%s' FOR UPDATE; "
                               "SELECT SLEEP(2); COMMIT;" % acct], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    result = {}

    def slow():
        result["r"] = api("GET", "/v1/accounts/" + acct, auth="read")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    pid = stack.pid_of("creditd")
    os.kill(pid, 15)
    t.join(30)
    locker.wait(30)
    check("r" in result, "the slow request got an answer")
    eq(result["r"].status, 200, "the in-flight request finished")
    eq(result["r"].json["id"], acct, "with its body")
    check(wait_until(lambda: not stack.alive(pid), timeout=10), "creditd exited after SIGTERM")
    with open(stack.path("creditd.log")) as f:
        log = f.read()
    check("stopping, finishing in-flight requests" in log, "shutdown logged")
    check("stopped with requests still running" not in log, "nothing was cut off")
    r = api("GET", "/healthz", auth=None)
    eq(r.status, 503, "nginx answers JSON 503 while creditd is down")
    sock = stack.path("creditd.sock")
    stack.start("creditd", [os.path.join(ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"], "--listen", "unix:" + sock],
           env={"CREDITD_BASE_PATH": "/"})
    check(wait_until(lambda: stack.health() == 200, timeout=10), "creditd back after restart")


def test_sigterm_exit_status_is_zero():
    sock = stack.path("exit-test.sock")
    p = subprocess.Popen([os.path.join(ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"], "--listen", "unix:" + sock],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, CREDITD_LOG="stderr"))
    check(wait_until(lambda: os.path.exists(sock), timeout=5), "second instance listening")
    p.send_signal(15)
    eq(p.wait(10), 0, "exit status after SIGTERM")
    check(not os.path.exists(sock), "socket removed")
