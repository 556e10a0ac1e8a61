"""chaos_soak.py: mixed load at 32 clients, creditd's memory and fds watched.

Guard pairs, direct usage, account and journal reads, grants, refusals
(402, 404, 400) and health checks, from 32 clients for 3 minutes (20 s in
the short version). creditd's RSS and open fds are sampled from /proc every
second; after the warm-up they must stay flat, and no answer may be a 5xx.

The warm-up is the first half. Each of the 64 worker threads prepares its
own statements, with result buffers, the first time it serves each kind of
request, and which thread serves a request depends on which FastCGI
connection nginx reuses, so covering every (thread, statement) pair takes a
while: measured with wrk on authorize+settle alone, RSS grew 1,340, 892,
520, 204, 72, 28 and 28 KiB in successive 15 s rounds (about 20,000 pairs
each), i.e. it levels off.

The bound: over the second half RSS may grow at most 4 MiB (over 100,000
requests, so a leak of 40 bytes a request fails it), and open fds other
than FastCGI connections at most 4. The web server opens and closes FastCGI
connections with its load (nginx keeps 8 per worker and opens more under 32
clients), so those are counted apart.
"""
import random
import sys
import threading
import time

import load
import stack
from lib import Fail, api, check, eq, new_account, uid, verify

RSS_GROWTH_KIB = 4 * 1024
FD_GROWTH = 4

# The long soak. Warm-up: one hold lifetime and a minute (the first half
# when the soak is shorter than twice that). Every authorize sets its
# account's sweep_due_at to the hold's expiry, so the sweeper's first real
# sweeps (locking due accounts, reading their next due time) start only
# when the first holds of the run come due, hold_ttl_seconds (600 on the
# chaos stack) after the start; they run on the background thread, whose
# malloc arena and prepared statements grow then, once: +3.5 MiB in one
# step at that moment, flat over four more lifetimes after it (measured
# with hold_ttl_seconds = 60). By the end of the warm-up every (thread,
# statement) pair has been prepared many times over. After it RSS may grow
# at most 2 MiB however long the soak: what is still being touched for the
# first time is small by then, while the arena growth this guards against
# (about 1.4 MiB a minute at 32 clients, measured) passes 2 MiB within 2
# minutes. fds as in the short soak.
HOLD_TTL_S = 600
LONG_WARMUP_S = HOLD_TTL_S + 60
LONG_RSS_GROWTH_KIB = 2 * 1024
LONG_SAMPLE_S = 10
LONG_CLIENTS = 32


def _mixed(rnd, led, accounts, stop_at):
    acct = rnd.choice(accounts)
    x = rnd.random()
    if x < 0.45:
        led.pair(acct, stop_at + 60)
        return
    if x < 0.55:
        r = led.call("POST", "/v1/usage", {"account": acct, "model": load.MODEL, "input_tokens": 100,
                                            "output_tokens": 50, "request_id": uid("soak")},
                     key=uid("ku"), deadline=stop_at + 60)
        return
    if x < 0.70:
        r, s = load.timed("GET", "/v1/accounts/" + acct, auth="read")
    elif x < 0.80:
        r, s = load.timed("GET", "/v1/accounts/%s/transactions?limit=20" % acct, auth="read")
    elif x < 0.85:
        led.grant(acct, 1000, stop_at + 60)
        return
    elif x < 0.90:   # a 402: far more than anyone holds
        r, s = load.timed("POST", "/v1/guard/authorize", {"account": acct, "model": load.MODEL,
                                                          "input_tokens": 10 ** 9, "max_output_tokens": 1,
                                                          "request_id": uid("big")})
    elif x < 0.94:   # a 404 and a 400
        r, s = load.timed("GET", "/v1/accounts/no-such-" + uid(), auth="read")
        led.count(r, s)
        r, s = load.timed("POST", "/v1/guard/settle", raw=b'{"hold_id": 12}')
    else:
        r, s = load.timed("GET", "/healthz", auth=None)
    led.count(r, s)
    if r is None or r.status >= 500:
        led.fail("soak: %r" % r)


def _threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def _funded_accounts():
    accounts = [new_account("soak") for _ in range(50)]
    for a in accounts:
        eq(api("POST", "/v1/accounts/%s/grants" % a, {"amount_micros": 10 ** 10, "source": "promo"}).status,
           201, "fund")
    return accounts


def long_soak(minutes):
    """The mixed load for `minutes` at 32 clients; prints an RSS/fd series
    every 10 s and a verdict; raises Fail when RSS grows more than
    LONG_RSS_GROWTH_KIB after the warm-up, or fds past FD_GROWTH."""
    seconds = int(minutes * 60)
    warmup = LONG_WARMUP_S if seconds >= 2 * LONG_WARMUP_S else seconds / 2
    accounts = _funded_accounts()
    pid = stack.creditd_pid()
    sock = stack.path("creditd.sock")
    led = load.Ledger()
    samples = []
    stop = threading.Event()

    def sampler():
        t0 = time.time()
        print("soak: %d min at %d clients, warm-up %d s, sample every %d s" % (minutes, LONG_CLIENTS, warmup,
                                                                            LONG_SAMPLE_S), flush=True)
        print("soak:   t_s  rss_kib  fds_other  fds_all  threads  requests", flush=True)
        while True:
            total, other = stack.fds_apart_from_fastcgi(pid, sock)
            row = (time.time() - t0, stack.rss_kib(pid), other, total, _threads(pid), sum(led.statuses.values()))
            samples.append(row)
            print("soak: %5.0f  %7d  %9d  %7d  %7d  %8d" % row, flush=True)
            if stop.wait(LONG_SAMPLE_S):
                return

    def client(i, stop_at):
        rnd = random.Random(i)
        while time.time() < stop_at:
            _mixed(rnd, led, accounts, stop_at)

    smp = threading.Thread(target=sampler, daemon=True)
    smp.start()
    threads = load.run_clients(LONG_CLIENTS, client, seconds)
    load.join(threads, seconds + 120)
    stop.set()
    smp.join(5)
    eq(stack.creditd_pid(), pid, "the same creditd")
    led.check_clean()
    fivexx = sum(v for k, v in led.statuses.items() if k == "conn" or k >= 500)
    eq(fivexx, 0, "no 5xx or cut connection (%r)" % led.statuses)
    return _long_verdict(samples, warmup, seconds, led)


def _long_verdict(samples, warmup, seconds, led):
    after = [s for s in samples if s[0] >= warmup]
    check(len(after) >= 2, "enough samples after the warm-up")
    rss0, fd0 = after[0][1], after[0][2]
    rss_max, fd_max = max(s[1] for s in after), max(s[2] for s in after)
    span_min = max((after[-1][0] - after[0][0]) / 60, 1e-9)
    grew = rss_max - rss0
    verdict = "flat" if grew <= LONG_RSS_GROWTH_KIB and fd_max - fd0 <= FD_GROWTH else "GROWING"
    print("soak: %s after the warm-up: RSS %d -> %d KiB (max %d, +%d KiB, %.0f KiB/min; bound +%d KiB), "
          "fds other than FastCGI %d -> max %d (bound +%d)"
          % (verdict, rss0, after[-1][1], rss_max, grew, (after[-1][1] - rss0) / span_min, LONG_RSS_GROWTH_KIB,
             fd0, fd_max, FD_GROWTH), file=sys.stdout, flush=True)
    if grew > LONG_RSS_GROWTH_KIB:
        raise Fail("RSS grew %d KiB after the warm-up (%d -> %d KiB, bound %d)"
                   % (grew, rss0, rss_max, LONG_RSS_GROWTH_KIB))
    if fd_max - fd0 > FD_GROWTH:
        raise Fail("fds other than FastCGI connections grew from %d to %d after the warm-up" % (fd0, fd_max))
    verify()
    total = sum(led.statuses.values())
    return {"seconds": seconds, "requests": total, "requests_per_s": total / seconds, "rss_start_kib": samples[0][1],
            "rss_warm_kib": rss0, "rss_max_kib": rss_max, "rss_end_kib": samples[-1][1], "fds_warm": fd0,
            "fds_max": fd_max}


def soak(short):
    seconds = 20 if short else 180
    warmup = seconds / 2
    accounts = _funded_accounts()
    pid = stack.creditd_pid()
    sock = stack.path("creditd.sock")
    led = load.Ledger()
    samples = []
    stop = threading.Event()

    def sampler():
        t0 = time.time()
        while not stop.is_set():
            total, other = stack.fds_apart_from_fastcgi(pid, sock)
            samples.append((time.time() - t0, stack.rss_kib(pid), other, total))
            time.sleep(1)

    def client(i, stop_at):
        rnd = random.Random(i)
        while time.time() < stop_at:
            _mixed(rnd, led, accounts, stop_at)

    smp = threading.Thread(target=sampler, daemon=True)
    smp.start()
    threads = load.run_clients(32, client, seconds)
    load.join(threads, seconds + 120)
    stop.set()
    smp.join(5)
    eq(stack.creditd_pid(), pid, "the same creditd")
    led.check_clean()
    fivexx = sum(v for k, v in led.statuses.items() if k == "conn" or k >= 500)
    eq(fivexx, 0, "no 5xx or cut connection (%r)" % led.statuses)
    after = [s for s in samples if s[0] >= warmup]
    check(len(after) >= 3, "enough samples after the warm-up")
    rss0, fd0 = after[0][1], after[0][2]
    rss_max = max(s[1] for s in after)
    fd_max = max(s[2] for s in after)
    if rss_max - rss0 > RSS_GROWTH_KIB:
        raise Fail("RSS grew %d KiB after the warm-up (%d -> %d KiB, bound %d)"
                   % (rss_max - rss0, rss0, rss_max, RSS_GROWTH_KIB))
    if fd_max - fd0 > FD_GROWTH:
        raise Fail("fds other than FastCGI connections grew from %d to %d after the warm-up (RSS %d -> %d KiB)"
                   % (fd0, fd_max, rss0, rss_max))
    verify()
    total = sum(led.statuses.values())
    quarter = [x[1] for x in samples if x[0] >= seconds / 4][:1] or [0]
    return {"seconds": seconds, "requests": total, "requests_per_s": total / seconds,
            "rss_quarter_kib": quarter[0], "rss_warm_kib": rss0, "rss_max_kib": rss_max, "rss_end_kib": samples[-1][1],
            "fds_warm": fd0, "fds_max": fd_max, "fds_with_fastcgi_max": max(s[3] for s in after), "statuses": "/".join("%s:%d" % kv for kv in
                                                                    sorted(led.statuses.items(), key=str))}


SCENARIOS = [soak]
