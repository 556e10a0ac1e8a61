"""test_88c_gateway_batch_settle.py: what a batch's settle keeps when it
cannot release its hold, and what it keeps of its lines (docs/gateway.md,
"Batches"), through nginx -> creditd -> the fake provider
(tests/fake_provider_batches.py): a job abandoned after some lines were
charged keeps its hold unresolved at the hold less those lines' charges,
read from their usage records even when the count kept on the job is
short; a succeeded line the results do not carry (the provider's
request_counts say more succeeded) keeps the hold unresolved, never
released, and a duplicate line does not make up for it; a line's
over_hold is kept on its usage record and counted once, by the pass that
charged it; a line is charged at the model it asked for."""
from lib import ENV, api, check, creditctl, eq, new_account, sql, verify, wait_until
from test_80_gateway import call, prices, provider, state
from test_88b_gateway_batches import (batch_cost, batch_prices, control, create, discounted_cost, done, expected_charge, job,
                                      line, messages_batch, reset, run_batch, upload, usage_records)


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
    eq(sql("SELECT status FROM gateway_jobs WHERE object_id = '%s'" % r.json["id"])[0][0], "lines_missing",
       "flagged")
    eq(hold_of(r.json["id"]), ["pending", held, 1, held - charged], "its hold kept unresolved")
    eq(state(acct), (balance - charged, held), "its lines charged once, its hold kept")
    verify()


def test_a_duplicate_line_does_not_hide_a_missing_one():
    """A custom_id the provider wrote twice beside one it counted
    succeeded but left out of its results: the duplicate is counted once,
    so the lines met fall short of the provider's count and the hold is
    kept unresolved (counting it twice would have matched the count and
    released the missing line free)."""
    batch_prices()
    reset()
    acct = new_account("batchduplost")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["dup1", "lost1"])
    row = done(bid)
    charged = charged_lines(bid, lambda x: x["custom_id"] == "dup1")
    eq(row[1], "1", "the duplicate charged once")
    eq(sql("SELECT status FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0], "lines_missing", "flagged")
    eq(hold_of(bid), ["pending", held, 1, held - charged], "its hold kept unresolved at the hold less its one line")
    eq(state(acct), (balance - charged, held), "the duplicate charged once, the hold kept")
    eq(usage_records(acct), 1, "one usage record")
    verify()


def test_an_abandoned_job_whose_count_is_short_keeps_its_hold_at_what_its_lines_did_not_charge():
    """A pass cut after its last save (a kill -9, a lease outlived) leaves
    the job's charged_micros short of what its lines charged. Abandoned
    then, its hold is kept unresolved at the hold less what its lines'
    usage records say they charged, read in the mark's transaction; at
    the hold less the short count, the sweep would charge the lines the
    count missed a second time."""
    from lib import clock_reset, clock_set
    import time
    batch_prices()
    reset()
    acct = new_account("batchshort")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["s1", "nouse-1", "s2", "s3"])
    try:
        check(wait_until(lambda: job(bid)[1:] == ["3", "0"], timeout=30), "its lines charged: %r" % (job(bid),))
        charged = charged_lines(bid, lambda x: not x["custom_id"].startswith("nouse"))
        one = charged_lines(bid, lambda x: x["custom_id"] == "s1")
        # As a cut pass leaves it: one line counted of three. Not due
        # until the clock is past its days (a pass in between would read
        # its lines again and mend the count), and the poll time moved, so
        # that a pass holding the job saves nothing.
        sql("UPDATE gateway_jobs SET charged_micros = %d, lines_charged = 1, next_poll_at = 4000000000 "
            "WHERE object_id = '%s'" % (one, bid))
        clock_set(time.time() + 7 * 86400 + 60)
        sql("UPDATE gateway_jobs SET next_poll_at = 0 WHERE object_id = '%s'" % bid)
        done(bid)
        eq(sql("SELECT status FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0], "abandoned", "abandoned")
        eq(hold_of(bid), ["pending", held, 1, held - charged],
           "kept unresolved at the hold less its three lines' %d micros (the count said %d)" % (charged, one))
        eq(state(acct), (balance - charged, held), "its lines charged once, the hold kept")
        eq(int(sql("SELECT charged_micros FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0]), charged,
           "what its lines charged kept on its job")
        verify()
    finally:
        clock_reset()
        sql("UPDATE gateway_jobs SET state = 'done' WHERE object_id = '%s'" % bid)


def test_a_line_whose_over_hold_is_not_kept_is_counted_by_the_pass_that_charged_it():
    """A line charged beyond what it asked whose over_hold flag cannot be
    written just after its charge (the database refuses it): the line
    waits unresolved, but the pass that charged it counts it, in the
    job's lines_charged and in the over_hold metric; the pass that keeps
    its flag later replays it and counts neither again."""
    batch_prices()
    reset()
    acct = new_account("batchoverfail")
    metric = _over_hold_metric()
    sql("CREATE TRIGGER test_over_hold_refused BEFORE UPDATE ON usage_records FOR EACH ROW "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'over_hold refused by the test'")
    control(reset=True, mode={"service_tier": "priority"})
    try:
        r = upload(acct, [line("w%d" % i) for i in range(2)])
        bid = create(acct, r.json["id"]).json["id"]
        check(wait_until(lambda: (job(bid) or ["", "0"])[1] == "2", timeout=30),
              "its two lines counted by the pass that charged them: %r" % (job(bid),))
        eq(job(bid)[0], "settling", "their flags not kept: settling still")
        eq(_over_hold_flags(acct), [0, 0], "not flagged yet")
        eq(_over_hold_metric(), metric + 2, "counted by the pass that charged them")
    finally:
        sql("DROP TRIGGER IF EXISTS test_over_hold_refused")
        control(mode={"service_tier": None})
    row = done(bid)
    eq(row[1], "2", "counted once each")
    eq(_over_hold_flags(acct), [1, 1], "flagged by a later pass")
    eq(_over_hold_metric(), metric + 2, "not counted again")
    eq(usage_records(acct), 2, "nothing charged twice")
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
    eq(_over_hold_flags(acct), [1, 1], "kept on each line's usage record")
    eq(_over_hold_metric(), metric + 2, "counted once a line")
    # A pass that settles the job again (as after a crash): its lines replay.
    sql("UPDATE gateway_jobs SET state = 'settling', line_cursor = 0, next_poll_at = 0 WHERE object_id = '%s'" % bid)
    done(bid)
    eq(usage_records(acct), 2, "nothing charged twice")
    eq(_over_hold_metric(), metric + 2, "not counted again on a resumed pass")
    verify()


def _haiku_batch_priced():
    creditctl("price", "set", "claude-haiku-4-5", "batch_discount_bps=5000")

    def seen(base):
        models = {m["model"]: m for m in api("GET", "/v1/models", auth="read", base=base).json["data"]}
        return (models.get("claude-haiku-4-5") or {}).get("batch_discount_bps") == 5000
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        check(wait_until(lambda: seen(base), timeout=30), "haiku's batch discount reaches %s" % base)


def _mixed_batch(acct, models):
    reqs = [{"custom_id": c, "params": {"model": m, "max_tokens": 32,
                                        "messages": [{"role": "user", "content": "words for %s" % c}]}}
            for c, m in models.items()]
    r = call("/anthropic/v1/messages/batches", {"requests": reqs},
             headers={"Creditd-Account": acct, "anthropic-version": "2023-06-01"})
    eq(r.status, 200, "the batch made: %r" % r.body)
    return r.json["id"]


def test_a_line_is_charged_at_the_model_it_asked_for_never_a_dearer_one():
    """A batch of two models: each line charged at the batch price of the
    model it asked for, whatever model its answer names (one creditd does
    not price: not the batch's dearest for every line; a dearer one: not
    that, and the line's usage record flagged over_hold). Anthropic, and
    OpenAI's input file."""
    batch_prices()
    reset()
    _haiku_batch_priced()
    asked = {"h1": "claude-haiku-4-5", "s1": "claude-sonnet-4-5", "h2": "claude-haiku-4-5"}
    acct = new_account("batchasked")
    balance = state(acct)[0]
    control(reset=True, answer_model="claude-unpriced-x")
    try:
        bid = _mixed_batch(acct, asked)
        done(bid)
    finally:
        control(answer_model=None)
    b = [x for x in provider("GET", "/_batches") if x["id"] == bid][0]
    want = sum(discounted_cost(x["usage"], model=asked[x["custom_id"]]) for x in b["lines"])
    eq(state(acct), (balance - want, 0), "each line at its own model's batch price, to the micro")
    # Answered by a dearer model than asked: charged as asked, flagged.
    acct = new_account("batchdearer")
    balance = state(acct)[0]
    control(reset=True, answer_model="claude-sonnet-4-5")
    try:
        bid = _mixed_batch(acct, {"d1": "claude-haiku-4-5", "d2": "claude-haiku-4-5"})
        done(bid)
    finally:
        control(answer_model=None)
    b = [x for x in provider("GET", "/_batches") if x["id"] == bid][0]
    want = sum(discounted_cost(x["usage"], model="claude-haiku-4-5") for x in b["lines"])
    eq(state(acct), (balance - want, 0), "charged at the model asked, not the answer's dearer one")
    eq(_over_hold_flags(acct), [1, 1], "each line's usage record flagged over_hold")
    verify()
    # OpenAI: the models kept with the input file when it was uploaded.
    acct = new_account("batchaskedoai")
    balance = state(acct)[0]
    creditctl("price", "set", "gpt-4o-mini-dear", "input_micros_per_mtok=300000", "output_micros_per_mtok=1200000",
              "max_output_tokens=16384", "batch_discount_bps=5000")

    def seen(base):
        return any(m["model"] == "gpt-4o-mini-dear" for m in api("GET", "/v1/models", auth="read", base=base).json["data"])
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        check(wait_until(lambda: seen(base), timeout=30), "the dearer model's price reaches %s" % base)
    control(reset=True, answer_model="gpt-unpriced-x")
    try:
        r = upload(acct, [line("o1"), line("o2", model="gpt-4o-mini-dear")])
        eq(r.status, 200, "uploaded: %r" % r.body)
        bid = create(acct, r.json["id"]).json["id"]
        done(bid)
    finally:
        control(answer_model=None)
    b = [x for x in provider("GET", "/_batches") if x["id"] == bid][0]
    want = sum(batch_cost(x["usage"]) for x in b["lines"] if x["custom_id"] == "o1")
    dear = [x for x in b["lines"] if x["custom_id"] == "o2"][0]["usage"]
    p, margin = prices()
    raw = (dear["input_tokens"] * 150000 + dear["output_tokens"] * 600000) * margin
    want += -(-raw // 10 ** 10)
    eq(state(acct), (balance - want, 0), "o1 at gpt-4o-mini's batch price, o2 at its own")
    verify()


def _over_hold_flags(acct):
    return [int(x[0]) for x in sql("SELECT u.over_hold FROM usage_records u JOIN accounts a ON a.id = u.account_id "
                                   "WHERE a.ext_id = '%s' ORDER BY u.id" % acct)]


def test_a_line_whose_asked_model_lost_its_price_waits_never_charged_at_the_batch_s_model():
    """A line whose asked model has no batch price at its settle (its row
    gone) is not charged at the batch's model (the dearest by worst case,
    which may be cheaper by the token): it waits, unresolved, the hold
    held; once its model is priced, it is charged at that model's price."""
    import time
    batch_prices()
    reset()
    creditctl("price", "set", "gpt-4o-mini-dear", "input_micros_per_mtok=300000", "output_micros_per_mtok=1200000",
              "max_output_tokens=16384", "batch_discount_bps=5000")

    def seen(base):
        return any(m["model"] == "gpt-4o-mini-dear" for m in api("GET", "/v1/models", auth="read", base=base).json["data"])
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        check(wait_until(lambda: seen(base), timeout=30), "the dearer model's price reaches %s" % base)
    acct = new_account("batchaskedgone")
    balance = state(acct)[0]
    control(reset=True, complete=False, answer_model="gpt-unpriced-x")
    # o1 the batch's model by worst case (many tokens asked), o2 dearer by the token.
    r = upload(acct, [line("o1", max_tokens=4000), line("o2", model="gpt-4o-mini-dear")])
    eq(r.status, 200, "uploaded: %r" % r.body)
    bid = create(acct, r.json["id"]).json["id"]
    eq(sql("SELECT model FROM gateway_jobs WHERE object_id = '%s'" % bid), [["gpt-4o-mini"]], "the batch's model")
    gone = "UPDATE gateway_jobs SET line_models = REPLACE(line_models, '%s', '%s') WHERE object_id = '" + bid + "'"
    sql(gone % ("gpt-4o-mini-dear", "gpt-unpriced-y"))
    try:
        time.sleep(2)       # a pass that read the row before the update is over
        control(complete=True)
        check(wait_until(lambda: (job(bid) or ["-"])[0] != "running", timeout=20), "the final poll seen")
        time.sleep(3)
        eq((job(bid)[0], usage_records(acct)), ("settling", 1), "o1 charged, o2 waits")
        check(state(acct)[1] > 0, "its hold still held")
    finally:
        sql(gone % ("gpt-unpriced-y", "gpt-4o-mini-dear"))
        control(answer_model=None)
    done(bid)
    b = [x for x in provider("GET", "/_batches") if x["id"] == bid][0]
    want = sum(batch_cost(x["usage"]) for x in b["lines"] if x["custom_id"] == "o1")
    dear = [x for x in b["lines"] if x["custom_id"] == "o2"][0]["usage"]
    p, margin = prices()
    raw = (dear["input_tokens"] * 150000 + dear["output_tokens"] * 600000) * margin
    want += -(-raw // 10 ** 10)
    eq(state(acct), (balance - want, 0), "o2 charged at its own model's batch price once priced")
    verify()


def test_a_pass_that_lost_its_job_charges_none_of_its_lines():
    """A pass whose job another creditd took meanwhile (its lease ran out
    while it downloaded the results: moved here by hand) charges no line:
    the other may have ended the job already (abandoned, its hold kept
    at what its lines had charged), and a line charged after that would be
    charged again. The job's next pass settles every line once."""
    import time
    batch_prices()
    reset()
    acct = new_account("batchstale")
    balance = state(acct)[0]
    control(reset=True, results_gate=True)
    r = upload(acct, [line("st%d" % i) for i in range(3)])
    bid = create(acct, r.json["id"]).json["id"]
    try:
        check(wait_until(lambda: (job(bid) or ["-"])[0] == "settling", timeout=20), "the final poll seen")
        time.sleep(0.5)     # the settling pass's download has begun, held at the gate
        # Taken by another: its lease no longer the one the pass wrote.
        sql("UPDATE gateway_jobs SET next_poll_at = next_poll_at + 1 WHERE object_id = '%s'" % bid)
    finally:
        provider("POST", "/_open_results", {})
    time.sleep(2)
    eq((job(bid)[0], usage_records(acct)), ("settling", 0), "the pass that lost its job charged none of its lines")
    sql("UPDATE gateway_jobs SET next_poll_at = 0 WHERE object_id = '%s'" % bid)
    row = done(bid)
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "charged once, to the micro, by the next pass")
    eq((int(row[1]), usage_records(acct)), (3, 3), "3 lines charged, one record each")
    verify()


def test_a_poll_whose_job_another_pass_took_warns_and_the_next_pass_settles_it():
    """A pass whose lease another pass took while it waited on its poll's
    answer (a slow provider, or the clock moved: every_writer moves it a
    month) does not keep that poll: a warning says another pass took the
    job, not an error (nothing went wrong: the other pass polls it). The
    batch is settled all the same, each line charged once."""
    import os
    import stack
    batch_prices()
    reset()
    acct = new_account("batchlease")
    balance = state(acct)[0]
    log = stack.path("creditd.log")
    start = os.path.getsize(log)
    control(reset=True, poll_gate=True)
    r = upload(acct, [line("ls%d" % i) for i in range(2)])
    bid = create(acct, r.json["id"]).json["id"]
    claimed = ("SELECT COUNT(*) FROM gateway_jobs WHERE object_id = '%s' AND next_poll_at > UNIX_TIMESTAMP() + 3"
               % bid)
    try:
        check(wait_until(lambda: sql(claimed)[0][0] == "1", timeout=20), "a pass claimed it: %r" % (job(bid),))
        # Taken by another: due now, its lease no longer the one the pass wrote.
        sql("UPDATE gateway_jobs SET next_poll_at = UNIX_TIMESTAMP() WHERE object_id = '%s'" % bid)
    finally:
        control(poll_gate=False)
        provider("POST", "/_open_polls", {})
    row = done(bid)
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "charged once, to the micro")
    eq((int(row[1]), usage_records(acct)), (2, 2), "2 lines charged, one record each")
    with open(log, "rb") as f:
        f.seek(start)
        mine = [x for x in f.read().decode("utf-8", "replace").splitlines() if "batch %s:" % bid in x]
    eq([x for x in mine if " error: " in x], [], "no error logged for it")
    check(any(" warn: " in x and "its poll not kept: another pass took the job" in x for x in mine),
          "a warning says another pass took it: %r" % mine)
    verify()


def teardown_module():
    """The fake's batches as a provider runs them again, for the files
    after this one on the stack (a test here keeps batches running or their
    results held): the flags alone."""
    control(complete=True, results_gate=False, fail_polls=False, poll_gate=False, answer_model=None)
    provider("POST", "/_open_results", {})
    provider("POST", "/_open_polls", {})
