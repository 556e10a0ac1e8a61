"""test_16_batches.py: group commit. Guard writes sent at once are run in
shared batches (the /metrics histogram shows batches of more than one); in
a batch each operation keeps its own answer: refusals (402, 403, 404, 409,
429), duplicate request_ids, a settle and a release of the same hold, the
same Idempotency-Key twice, and the ledger after them is exactly what the
answers say (and `creditctl verify` is clean)."""
import re

from lib import api, account, check, eq, new_account, parallel, sql, uid, verify
from test_20_guard import assert_reserve, authorize, cost, funded, q, release, settle

BURST = 48


def batch_counts():
    """(batches, operations, batches of one) from GET /metrics."""
    r = api("GET", "/metrics", auth=None)
    eq(r.status, 200, "metrics")
    text = r.raw.decode()

    def num(pattern):
        m = re.search(pattern, text, re.M)
        check(m is not None, "metrics line %r" % pattern)
        return int(m.group(1))
    return (num(r"^creditd_guard_batch_size_count (\d+)$"), num(r"^creditd_guard_batch_size_sum (\d+)$"),
            num(r'^creditd_guard_batch_size_bucket\{le="1"\} (\d+)$'))


def assert_batched(before, ops):
    after = batch_counts()
    batches, total, ones = (after[i] - before[i] for i in range(3))
    check(total >= ops, "every guard write went through a batch (%d of %d)" % (total, ops))
    check(batches < total and ones < batches,
          "writes sent at once shared batches (%d writes in %d batches, %d of one)" % (total, batches, ones))


def test_a_burst_of_authorizes_mixing_refusals_and_duplicates_keeps_each_answer():
    hold = cost("gpt-4o", 1000, 500)
    small = funded(5 * hold, "batch")                       # room for exactly 5 holds
    limited = funded(50 * hold, "batch", monthly_limit_micros=3 * hold)   # 3 before the monthly limit
    stopped = funded(50 * hold, "batch")
    eq(api("PATCH", "/v1/accounts/" + q(stopped), {"status": "suspended"}).status, 200, "suspend")
    ghost = uid("ghost")
    plan = []                                               # (account, request_id) per request
    for i in range(BURST):
        target = [small, limited, stopped, ghost][i % 4]
        plan.append((target, "dup-%d" % (i % 8) if i % 3 == 0 else "req-%d" % i))
    before = batch_counts()
    res = parallel(BURST, lambda i: authorize(plan[i][0], request_id=plan[i][1]))
    assert_batched(before, BURST)
    by_request = {}
    for (acct, rid), r in zip(plan, res):
        if acct == ghost:
            eq(r.status, 404, "unknown account")
            eq(r.err.get("code"), "not_found", "its code")
        elif acct == stopped:
            eq(r.status, 403, "suspended account")
        elif r.status == 200:
            eq(r.json["amount_micros"], hold, "the worst case held")
            by_request.setdefault((acct, rid), set()).add(r.json["hold_id"])
        elif acct == small:
            eq(r.status, 402, "past the balance: %r" % r)
            eq(r.err.get("required_micros"), hold, "what it needed")
        else:
            eq(r.status, 429, "past the monthly limit: %r" % r)
            eq(r.err.get("code"), "billing_hard_limit_reached", "its code")
    for key, holds in by_request.items():
        eq(len(holds), 1, "one hold per request_id, however often it was sent at once: %r" % (key,))
    granted = {a: sum(1 for (acct, _) in by_request if acct == a) for a in (small, limited)}
    eq(granted[small], 5, "exactly as many holds as the balance covers")
    eq(granted[limited], 3, "exactly as many holds as the monthly limit allows")
    assert_reserve(small, 5 * hold)
    assert_reserve(limited, 3 * hold)
    assert_reserve(stopped, 0)
    verify()


def test_settle_and_release_of_the_same_hold_at_once_one_wins():
    acct = funded(100000000, "batch")
    holds = [authorize(acct).json["hold_id"] for _ in range(8)]
    start = account(acct)["balance_micros"]
    charge = cost("gpt-4o", 1000, 200)
    calls = []
    for h in holds:
        calls += [("settle", h, 200), ("settle", h, 200), ("release", h, 0), ("settle", h, 300)]
    before = batch_counts()
    res = parallel(len(calls), lambda i: settle(calls[i][1], 1000, calls[i][2]) if calls[i][0] == "settle"
                   else release(calls[i][1]))
    assert_batched(before, len(calls))
    charged = 0
    for h in holds:
        mine = [(c, r) for c, r in zip(calls, res) if c[1] == h]
        ok_settles = [r for c, r in mine if c[0] == "settle" and r.status == 200]
        released = [r for c, r in mine if c[0] == "release" and r.status == 200]
        for c, r in mine:
            check(r.status in (200, 409), "an answer or a conflict, never a failure: %r" % r)
        eq(len(released) + (1 if ok_settles else 0), 1, "a settle or the release wins, not both: %s" % h)
        if released:
            eq(ok_settles, [], "after a release every settle is a conflict")
            eq(released[0].json["state"], "released", "released")
        else:
            bodies = {r.raw for r in ok_settles}
            eq(len(bodies), 1, "the same settle sent twice gets one answer, byte for byte")
            charged += ok_settles[0].json["charged_micros"]
            check(ok_settles[0].json["charged_micros"] in (charge, cost("gpt-4o", 1000, 300)), "a real charge")
    a = assert_reserve(acct, 0)
    eq(start - a["balance_micros"], charged, "the balance moved by exactly what the settles answered")
    verify()


def test_direct_usage_duplicates_in_one_batch_are_charged_once():
    acct = funded(10000000, "batch")
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 100, "output_tokens": 50, "request_id": "u-1"}
    other = dict(body, output_tokens=51)
    before = batch_counts()
    res = parallel(16, lambda i: api("POST", "/v1/usage", other if i == 15 else body, auth="guard"))
    assert_batched(before, 16)
    groups = {"same": res[:15], "other": res[15:]}
    winner = [g for g, rs in groups.items() if any(r.status == 200 for r in rs)]
    eq(len(winner), 1, "one body is recorded, whichever came first: %r" % [r.status for r in res])
    ok, lost = groups[winner[0]], groups["other" if winner[0] == "same" else "same"]
    check(all(r.status == 200 for r in ok), "its copies are all answered: %r" % ok)
    eq(len({r.json["usage_id"] for r in ok}), 1, "one usage record")
    eq(sum(1 for r in ok if not r.json["replayed"]), 1, "charged once; the others are replays")
    eq(10000000 - account(acct)["balance_micros"], ok[0].json["charged_micros"], "one charge")
    check(all(r.status == 409 and r.err.get("param") == "request_id" for r in lost),
          "the other body is a conflict on the request_id: %r" % lost)
    verify()


def test_one_idempotency_key_sent_at_once_has_one_effect():
    # Whether the copies meet in one batch depends on when they arrive:
    # the burst is sent again (new account, new key) until one did, and
    # every round must have one effect whichever way it went.
    shared = []
    for _ in range(5):
        acct = funded(10000000, "batch")
        key = uid("key")
        bodies = [{"account": acct, "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 500,
                   "request_id": "k-%d" % (0 if i < 23 else 1)} for i in range(24)]
        before = batch_counts()
        res = parallel(24, lambda i: api("POST", "/v1/guard/authorize", bodies[i], auth="guard",
                                         headers={"Idempotency-Key": key}))
        after = batch_counts()
        check(after[1] - before[1] >= 24, "every guard write went through a batch")
        shared.append((after[1] - before[1], after[0] - before[0]))
        same = [r for r, b in zip(res, bodies) if b["request_id"] == "k-0"]
        other = [r for r, b in zip(res, bodies) if b["request_id"] == "k-1"]
        winners = [r for r in res if r.status == 200]
        eq(len({r.raw for r in winners}), 1, "every 200 is the one stored answer")
        if other[0].status == 200:
            check(all(r.status == 409 for r in same), "the key went to the other body first")
        else:
            eq(other[0].status, 409, "the key used with another body")
            eq(other[0].err.get("param"), "idempotency_key", "names the key")
            check(all(r.status == 200 for r in same), "the same body is answered: %r" % same)
        eq(account(acct)["reserved_micros"], cost("gpt-4o", 1000, 500), "one hold")
        if shared[-1][1] < shared[-1][0]:
            break
    check(shared[-1][1] < shared[-1][0], "copies of one key met in a batch in some round: %r" % shared)
    verify()


def test_a_batch_with_a_new_account_and_a_known_one_locks_both():
    first = new_account("batch")
    second = new_account("batch")
    before = batch_counts()
    res = parallel(24, lambda i: authorize(first if i % 2 else second))
    assert_batched(before, 24)
    check(all(r.status == 200 for r in res), "every hold granted: %r" % [r.status for r in res if r.status != 200])
    held = cost("gpt-4o", 1000, 500) * 12
    assert_reserve(first, held)
    assert_reserve(second, held)


def test_mixed_batches_over_few_accounts_never_fail_on_lock_order():
    # Ids ascend while external ids descend: batches naming accounts by
    # external id (authorize) and by id (settle) lock them in one order.
    accts = []
    for prefix in ("zz", "mm", "aa"):
        accts.append(new_account("%s-batch" % prefix))
    holds = [authorize(a).json["hold_id"] for a in accts for _ in range(6)]
    calls = [("settle", h) for h in holds] + [("authorize", accts[i % 3]) for i in range(30)]
    before = batch_counts()
    res = parallel(len(calls), lambda i: settle(calls[i][1], 1000, 100) if calls[i][0] == "settle"
                   else authorize(calls[i][1]))
    assert_batched(before, len(calls))
    bad = [r for r in res if r.status != 200]
    eq(bad, [], "every settle and authorize answered 200, none 503 from a deadlock")
    for a in accts:
        assert_reserve(a, cost("gpt-4o", 1000, 500) * 10)
    verify()


def test_one_account_s_lasting_fault_fails_its_own_operations_alone():
    # A fault of one account's that names no operation (here MariaDB
    # refuses its new holds: a trigger, as a corrupt row or a failing
    # constraint would) fails the batch it shares with others; with no
    # COMMIT sent each operation then runs alone, so only that account's
    # authorizes fail, and every other account sharing its batches is
    # served as if it were not there.
    hold = cost("gpt-4o", 1000, 500)
    bad = funded(50 * hold, "fault")
    good = [funded(50 * hold, "fault") for _ in range(4)]
    bad_id = int(sql("SELECT id FROM accounts WHERE ext_id = '%s'" % bad)[0][0])
    # One statement (the client splits at ';'): the broken account's hold
    # meets "Subquery returns more than 1 row", an error no retry cures.
    sql("CREATE TRIGGER test16_fault BEFORE INSERT ON holds FOR EACH ROW SET NEW.amount_micros = "
        "IF(NEW.account_id = %d, (SELECT 1 UNION SELECT 2), NEW.amount_micros)" % bad_id)
    try:
        before = batch_counts()
        res = parallel(BURST, lambda i: authorize(bad if i % 4 == 0 else good[i % 4], request_id="f-%d" % i))
        assert_batched(before, BURST)
    finally:
        sql("DROP TRIGGER IF EXISTS test16_fault")
    for i, r in enumerate(res):
        if i % 4 == 0:
            eq(r.status, 500, "the broken account's authorize: %r" % r)
        else:
            eq(r.status, 200, "an authorize of another account that shared its batch: %r" % r)
    for g in good:
        assert_reserve(g, sum(1 for i in range(BURST) if i % 4 and good[i % 4] == g) * hold)
    assert_reserve(bad, 0)
    verify()
