"""chaos_db.py: the database frozen (SIGSTOP) and killed under load.

A frozen mariadbd is what a hung disk, a stuck network or a long lock look
like from creditd: connections open, no answers. /healthz must say 503
within 2 s, no request may wait past the database read timeout (5 s), and
everything must answer again within 2 s of the thaw. Then mariadbd is
killed -9 and restarted: creditd (the same process) recovers by itself.
Writes whose outcome was unknown are retried with their keys afterwards,
and the ledger must still be exact.
"""
import os
import signal
import threading
import time

import load
import stack
from lib import account, check, eq, new_account, parallel, verify

READ_TIMEOUT_S = 5          # database.read_timeout_seconds, the default
SLACK_S = 1.0               # nginx, scheduling and the client on 2 cores


class Poller:
    """Polls /healthz every 50 ms and keeps (time, status) samples."""

    def __init__(self):
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.time(), stack.health()))
            time.sleep(0.05)

    def first(self, status, after):
        for t, s in list(self.samples):
            if t >= after and s == status:
                return t - after
        return None

    def close(self):
        self.stop.set()
        self.thread.join(5)


def _load(led, accounts, seconds):
    def client(i, stop_at):
        while time.time() < stop_at:
            led.pair(accounts[i % len(accounts)], stop_at + 60)
            time.sleep(0.01)
    return load.run_clients(8, client, seconds)


def _all_threads_answer():
    """More concurrent requests than creditd has threads: each one works."""
    results = parallel(96, lambda i: stack.health())
    return sum(1 for s in results if s == 200)


def database_stall_and_loss(short):
    freeze_s = 7 if short else 10
    accounts = [new_account("dbfault") for _ in range(4)]
    start = {a: account(a)["balance_micros"] for a in accounts}
    pid0 = stack.creditd_pid()
    led = load.Ledger()
    poll = Poller()
    figures = {}
    try:
        threads = _load(led, accounts, freeze_s + 8)
        time.sleep(1.5)
        db = stack.mariadbd_pid()
        os.kill(db, signal.SIGSTOP)
        t_stop = time.time()
        try:
            time.sleep(freeze_s)
        finally:
            os.kill(db, signal.SIGCONT)
        t_cont = time.time()
        down = poll.first(503, t_stop)
        check(down is not None and down <= 2.0, "healthz 503 within 2 s of the freeze (took %s)" % down)
        check(wait_until_status(poll, 200, t_cont, 3.0), "healthz back")
        up = poll.first(200, t_cont)
        check(up is not None and up <= 2.0, "healthz 200 within 2 s of the thaw (took %s)" % up)
        figures.update({"stall_503_after_s": down, "stall_200_after_s": up})
        load.join(threads, 120)
        check(led.max_seconds <= READ_TIMEOUT_S + SLACK_S,
              "no request waited past the read timeout (slowest %.2f s)" % led.max_seconds)
        figures.update({"slowest_request_s": led.max_seconds, "stall_503s": led.statuses.get(503, 0),
                        "stall_200s": led.statuses.get(200, 0)})
        eq(_all_threads_answer(), 96, "every thread answers after the stall")

        # Killed and restarted: creditd recovers without a restart of its own.
        db = stack.mariadbd_pid()
        os.kill(db, signal.SIGKILL)
        t_kill = time.time()
        check(wait_until_status(poll, 503, t_kill, 3.0), "healthz 503 after the kill")
        lost = poll.first(503, t_kill)
        check(lost <= 2.0, "503 within 2 s of the kill (took %.2f s)" % lost)
        time.sleep(1)
        stack.mariadbd_start()
        t_back = time.time()
        check(wait_until_status(poll, 200, t_back, 3.0), "healthz 200 after the restart")
        back = poll.first(200, t_back)
        check(back <= 2.0, "200 within 2 s of the database's return (took %.2f s)" % back)
        eq(stack.creditd_pid(), pid0, "the same creditd process")
        check(stack.alive(pid0), "creditd alive")
        eq(_all_threads_answer(), 96, "every thread answers after the restart")
        for a in accounts:
            check(led.pair(a, time.time() + 30), "writes work again")
        figures.update({"kill_503_after_s": lost, "restart_200_after_s": back})
    finally:
        poll.close()
    led.check_clean()
    for a in accounts:
        got = account(a)
        eq(got["balance_micros"], start[a] - led.charged.get(a, 0), "balance of %s exact" % a)
        eq(got["reserved_micros"], 0, "nothing reserved on %s" % a)
    verify()
    return figures


def wait_until_status(poll, status, after, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if poll.first(status, after) is not None:
            return True
        time.sleep(0.05)
    return False


SCENARIOS = [database_stall_and_loss]
