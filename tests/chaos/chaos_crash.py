"""chaos_crash.py: creditd killed with SIGKILL every ~2 s under load.

16 clients write authorize+settle pairs and grants, every write with an
Idempotency-Key (and authorize with a request_id). A killer thread kill -9s
creditd every ~2 s and starts it again. Clients retry an unknown outcome
(a 503 from nginx, a cut connection) with the same key, as an app should.
Afterwards: every acknowledged write is in the database, every key had
effect exactly once, balances are exact to the micro, nothing is left
reserved, and `creditctl verify` finds nothing.
"""
import random
import threading
import time

import load
import stack
from lib import Fail, account, check, eq, new_account, sql, verify


def crash_under_load(short):
    seconds = 10 if short else 45
    clients = 16
    accounts = [new_account("crash") for _ in range(8)]
    start = {a: account(a)["balance_micros"] for a in accounts}
    led = load.Ledger()
    stop = threading.Event()
    kills = []
    restart_s = []

    def killer():
        while not stop.is_set():
            time.sleep(random.uniform(1.5, 2.5))
            if stop.is_set():
                break
            kills.append(stack.creditd_kill9())
            t0 = time.time()
            stack.creditd_start()
            restart_s.append(time.time() - t0)

    def client(i, stop_at):
        rnd = random.Random(i)
        while time.time() < stop_at:
            acct = rnd.choice(accounts)
            if rnd.random() < 0.1:
                led.grant(acct, rnd.randint(1, 10 ** 6), stop_at + 60)
            else:
                led.pair(acct, stop_at + 60)

    k = threading.Thread(target=killer, daemon=True)
    k.start()
    t0 = time.time()
    threads = load.run_clients(clients, client, seconds)
    time.sleep(seconds)
    stop.set()
    k.join(30)
    load.join(threads, 90)
    elapsed = time.time() - t0
    check(stack.health() == 200, "creditd up at the end")
    led.check_clean()
    check(len(kills) >= (3 if short else 15), "creditd was killed %d times" % len(kills))
    # Every acknowledged hold is in the database, settled with the charge
    # that was answered.
    holds = list(led.holds.items())
    check(holds, "some holds were acknowledged")
    rows = stack.hold_rows(h for h, _ in holds)
    for hold, (acct, charged) in holds:
        check(hold in rows, "acknowledged hold %s is durable" % hold)
        if charged is not None:
            eq(rows[hold], ["settled", str(charged)], "hold %s settled as acknowledged" % hold)
    # Each grant key had effect exactly once.
    keys = [k for _, k in led.grant_keys]
    if keys:
        rows = sql("SELECT idempotency_key, COUNT(*) FROM journal WHERE idempotency_key IN (%s) "
                   "GROUP BY idempotency_key" % ",".join("'%s'" % k for k in keys))
        eq(sorted(r[0] for r in rows), sorted(keys), "every acknowledged grant in the journal")
        check(all(r[1] == "1" for r in rows), "each grant key once: %r" % [r for r in rows if r[1] != "1"][:3])
    # Balances exact, nothing left reserved.
    for a in accounts:
        got = account(a)
        want = start[a] + led.granted.get(a, 0) - led.charged.get(a, 0)
        eq(got["balance_micros"], want, "balance of %s" % a)
        eq(got["reserved_micros"], 0, "reserved of %s" % a)
    verify()
    writes = sum(led.statuses.get(s, 0) for s in (200, 201))
    return {"kills": len(kills), "restart_max_s": max(restart_s or [0]), "acked_writes": writes,
            "writes_per_s": writes / elapsed, "unknown_then_converged": led.first_unknown,
            "max_attempts": led.max_attempts, "503s": led.statuses.get(503, 0), "conn_errors": led.statuses.get("conn", 0)}


SCENARIOS = [crash_under_load]
