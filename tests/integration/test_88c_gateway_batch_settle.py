"""test_88c_gateway_batch_settle.py: what a batch's settle keeps when it
cannot release its hold, and what it keeps of its lines (docs/gateway.md,
"Batches"), through nginx -> creditd -> the fake provider
(tests/fake_provider_batches.py): a job abandoned after some lines were
charged keeps its hold unresolved at the hold less those lines' charges;
a succeeded line the results do not carry (the provider's request_counts
say more succeeded) keeps the hold unresolved, never released; a line's
over_hold is kept on its usage record and counted once."""
from lib import ENV, api, check, eq, new_account, sql, verify, wait_until
from test_80_gateway import provider, state
from test_88b_gateway_batches import (batch_cost, batch_prices, control, create, discounted_cost, done, job, line,
                                      messages_batch, reset, run_batch, upload, usage_records)


def test_a_batch_abandoned_with_lines_charged_keeps_its_hold_unresolved_at_the_rest():
    """A job abandoned after some of its lines were charged (one line never
    chargeable: its answer gives no usage) keeps its hold unresolved at the
    hold less what those lines charged: they were charged apart from the
    hold (the sweep charging the whole hold at its days would charge them
    twice), and the rest is what the line never charged may still cost."""
    from lib import clock_reset, clock_set
    import time
    batch_prices()
    reset()
    acct = new_account("batchabandon2")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["c1", "nouse-1", "c2"])
    try:
        check(wait_until(lambda: job(bid)[1:] == ["2", "0"] or job(bid)[0] == "done", timeout=30),
              "its chargeable lines charged: %r" % (job(bid),))
        eq(job(bid)[0], "settling", "the line with no usage keeps it settling")
        clock_set(time.time() + 7 * 86400 + 60)
        row = done(bid, timeout=30)
        eq(row[1], "2", "its two lines charged")
        h = hold_of(bid)
        charged = charged_lines(bid, lambda x: not x["custom_id"].startswith("nouse"))
        eq(h, ["pending", held, 1, held - charged],
           "its hold pending, unresolved at the hold less its two lines' %d micros" % charged)
        eq(state(acct), (balance - charged, held), "its two lines charged once, the hold kept")
        eq(int(sql("SELECT charged_micros FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0]), charged,
           "what its lines charged kept on its job")
        verify()
    finally:
        clock_reset()
        sql("UPDATE gateway_jobs SET state = 'done' WHERE object_id = '%s'" % bid)


def hold_of(batch_id):
    """A batch's hold: its state, amount, unresolved or not, and the
    micros it is kept unresolved at."""
    h = sql("SELECT h.state, h.amount_micros, h.unresolved_at IS NOT NULL, COALESCE(h.unresolved_input_micros, -1) "
            "FROM holds h JOIN gateway_jobs j ON j.account_id = h.account_id AND j.hold_row = h.id "
            "WHERE j.object_id = '%s'" % batch_id)[0]
    return [h[0], int(h[1]), int(h[2]), int(h[3])]


def charged_lines(batch_id, which, cost=None):
    """What the provider's succeeded lines that which picks cost (each once)."""
    b = [x for x in provider("GET", "/_batches") if x["id"] == batch_id][0]
    return sum((cost or batch_cost)(x["usage"]) for x in b["lines"] if x.get("outcome") == "succeeded" and which(x))


def test_a_succeeded_line_missing_from_the_results_keeps_the_hold_unresolved_never_released():
    """The provider counts a line succeeded (request_counts) that its
    output file does not carry: the lines it carries are charged, and the
    hold is not released (the missing line would be free) but kept
    unresolved at the hold less what the lines charged, the job done and
    flagged lines_missing. OpenAI and Anthropic."""
    batch_prices()
    reset()
    acct = new_account("batchlost")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["m1", "lost1", "m2", "err1"])
    row = done(bid)
    charged = charged_lines(bid, lambda x: not x["custom_id"].startswith("lost"))
    eq((int(row[1]), int(row[2])), (2, 1), "the 2 lines carried charged, the errored one released")
    eq(sql("SELECT status FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0], "lines_missing", "flagged")
    eq(hold_of(bid), ["pending", held, 1, held - charged], "its hold pending, unresolved at the hold less the "
       "%d micros its lines charged" % charged)
    eq(state(acct), (balance - charged, held), "its lines charged once, its hold kept")
    verify()
    # Anthropic: its request_counts.succeeded against its results' lines.
    acct = new_account("batchlost2")
    balance = state(acct)[0]
    control(reset=True)
    r = messages_batch(acct, ["a1", "lost2", "a2"])
    eq(r.status, 200, "the batch made: %r" % r.body)
    held = state(acct)[1]
    done(r.json["id"])
    charged = charged_lines(r.json["id"], lambda x: not x["custom_id"].startswith("lost"), discounted_cost)
    eq(hold_of(r.json["id"]), ["pending", held, 1, held - charged], "its hold kept unresolved")
    eq(state(acct), (balance - charged, held), "its lines charged once, its hold kept")
    verify()


def _over_hold_metric():
    import re
    n = 0
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        text = api("GET", "/metrics", auth=None, base=base).raw.decode()
        n += int(re.search(r"^creditd_gateway_over_hold_total (\d+)$", text, re.M).group(1))
    return n


def test_a_line_s_over_hold_is_kept_on_its_usage_record_and_counted_once():
    """A line served at a dearer tier than its batch asked (over_hold, as
    a whole call's): its usage record says so, and the metric counts it
    when the record is first written, never again on a resumed pass."""
    batch_prices()
    reset()
    acct = new_account("batchover")
    metric = _over_hold_metric()
    control(reset=True, mode={"service_tier": "priority"})
    try:
        r = upload(acct, [line("v%d" % i) for i in range(2)])
        bid = create(acct, r.json["id"]).json["id"]
        done(bid)
    finally:
        control(mode={"service_tier": None})    # its files kept: the resumed pass reads them
    flags = [int(x[0]) for x in sql("SELECT u.over_hold FROM usage_records u JOIN accounts a ON a.id = u.account_id "
                                    "WHERE a.ext_id = '%s' ORDER BY u.id" % acct)]
    eq(flags, [1, 1], "kept on each line's usage record")
    eq(_over_hold_metric(), metric + 2, "counted once a line")
    # A pass that settles the job again (as after a crash): its lines replay.
    sql("UPDATE gateway_jobs SET state = 'settling', line_cursor = 0, next_poll_at = 0 WHERE object_id = '%s'" % bid)
    done(bid)
    eq(usage_records(acct), 2, "nothing charged twice")
    eq(_over_hold_metric(), metric + 2, "not counted again on a resumed pass")
    verify()
