"""chaos_races.py: the hold lifecycle raced, and webhook storms.

Holds: settle, release and a second identical settle fired at once at each
of many holds, a third of them with a 1 s ttl so that expiry joins the
race. Each hold must end in one outcome that every answer agrees with, and
nothing may stay reserved.

Webhooks: many top-up sessions, each completed event delivered 20 times at
once in a shuffled storm, plus other event ids for the same sessions: each
session credits exactly once.
"""
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import stack
from lib import Fail, account, api, check, eq, new_account, sql, uid, verify, wait_until

MODEL = "gpt-4o"


def _authorize(acct, ttl):
    body = {"account": acct, "model": MODEL, "input_tokens": 1000, "max_output_tokens": 300,
            "request_id": uid("race"), "ttl_seconds": ttl}
    r = api("POST", "/v1/guard/authorize", body, auth="guard")
    eq(r.status, 200, "authorize %r" % r)
    return r.json["hold_id"]


def _judge(hold, answers, row):
    """answers: [(kind, Resp)]; row: [state, charged]. Returns the outcome."""
    settles = [r for k, r in answers if k == "settle"]
    release = [r for k, r in answers if k == "release"][0]
    state, charged = row
    for r in settles + [release]:
        if r is None or r.status not in (200, 409):
            raise Fail("hold %s: answer %r" % (hold, r))
    ok_settles = [r for r in settles if r.status == 200]
    if ok_settles:
        eq(state, "settled", "hold %s settled when a settle succeeded" % hold)
        bodies = {json.dumps(r.json, sort_keys=True) for r in ok_settles}
        eq(len(bodies), 1, "hold %s: both settles answered the same" % hold)
        eq(ok_settles[0].json["charged_micros"], int(charged), "hold %s charged as answered" % hold)
        if release.status == 200:
            check(release.json["state"] == "expired" and ok_settles[0].json["late"],
                  "hold %s: a release succeeded beside a settle only as a late settle of an expired hold: %r %r"
                  % (hold, release, ok_settles[0]))
        return "late_settle" if ok_settles[0].json["late"] else "settled"
    eq(release.status, 200, "hold %s: neither settle nor release succeeded" % hold)
    check(state in ("released", "expired"), "hold %s ended %s" % (hold, state))
    eq(charged, "0", "hold %s charged nothing" % hold)
    return "released" if release.json["state"] == "released" else "expired_released"


def hold_lifecycle_races(short):
    n = 60 if short else 200
    accounts = [new_account("race") for _ in range(10)]
    start = {a: account(a)["balance_micros"] for a in accounts}
    # The 1 s holds are placed last, just before the race: their expiry
    # (whole seconds) falls while it runs, or just before.
    holds = []
    for i in range(n):
        acct = accounts[i % len(accounts)]
        holds.append((acct, _authorize(acct, 600 if i < n - n // 3 else 1)))
    jobs = []
    for acct, hold in holds:
        body = {"hold_id": hold, "input_tokens": 1000, "output_tokens": random.randint(1, 300)}
        jobs += [(hold, "settle", body), (hold, "release", {"hold_id": hold}), (hold, "settle", body)]
    random.shuffle(jobs)
    answers = {}
    lock = threading.Lock()

    def fire(job):
        hold, kind, body = job
        path = "/v1/guard/settle" if kind == "settle" else "/v1/guard/release"
        try:
            r = api("POST", path, body, auth="guard")
        except OSError:
            r = None
        with lock:
            answers.setdefault(hold, []).append((kind, r))

    t0 = time.time()
    with ThreadPoolExecutor(max_workers=48) as pool:
        list(pool.map(fire, jobs))
    elapsed = time.time() - t0
    # Expired holds are released by the sweep (or by the next touch) soon.
    check(wait_until(lambda: all(account(a)["reserved_micros"] == 0 for a in accounts), timeout=15),
          "nothing reserved once the 1 s holds expired")
    outcomes = {}
    charged = {a: 0 for a in accounts}
    rows = stack.hold_rows(h for _, h in holds)
    for acct, hold in holds:
        row = rows[hold]
        out = _judge(hold, answers[hold], row)
        outcomes[out] = outcomes.get(out, 0) + 1
        if row[0] == "settled":
            charged[acct] += int(row[1])
    for a in accounts:
        eq(account(a)["balance_micros"], start[a] - charged[a], "balance of %s" % a)
    verify()
    fig = {"holds": n, "requests": len(jobs), "requests_per_s": len(jobs) / elapsed}
    fig.update(outcomes)
    return fig


def webhook_storm(short):
    import test_30_stripe as st
    sessions = 20 if short else 50
    dups = 8 if short else 20
    st.ok_mode()
    accounts = [new_account("storm") for _ in range(5)]
    base = {a: st.balance(a) for a in accounts}
    want = {a: 0 for a in accounts}
    deliveries = []
    sids = []
    for i in range(sessions):
        acct = accounts[i % len(accounts)]
        cents = 500 + 100 * (i % 7)
        sid = st.open_session(acct, cents)
        sids.append(sid)
        want[acct] += cents * st.RATE
        completed = st.checkout_event(sid)
        payload = json.dumps(completed)
        deliveries += [payload] * dups
        # Other event ids for the same session: a second completed event and
        # the async success Stripe may also send.
        deliveries.append(json.dumps(st.checkout_event(sid)))
        deliveries.append(json.dumps(st.checkout_event(sid, etype="checkout.session.async_payment_succeeded")))
    random.shuffle(deliveries)
    statuses = {}
    credited = []
    lock = threading.Lock()

    def send(payload):
        r = st.post_payload(payload, st.sign(payload))
        with lock:
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.status == 200 and r.json.get("outcome") == "credited":
                credited.append(json.loads(payload)["data"]["object"]["id"])

    t0 = time.time()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(send, deliveries))
    elapsed = time.time() - t0
    eq(set(statuses), {200}, "every delivery answered 200 (%r)" % statuses)
    eq(sorted(credited), sorted(sids), "exactly one credited answer per session")
    for a in accounts:
        eq(st.balance(a), base[a] + want[a], "balance of %s credited once per session" % a)
    rows = sql("SELECT reference, COUNT(*) FROM grants WHERE source = 'topup' AND reference IN (%s) GROUP BY reference"
               % ",".join("'%s'" % s for s in sids))
    eq(len(rows), sessions, "a grant for each session")
    check(all(r[1] == "1" for r in rows), "one grant per session")
    verify()
    return {"sessions": sessions, "deliveries": len(deliveries), "deliveries_per_s": len(deliveries) / elapsed}


SCENARIOS = [hold_lifecycle_races, webhook_storm]
