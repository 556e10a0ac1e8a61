"""test_88b_gateway_batches.py: the Batch API through nginx -> creditd ->
the fake provider (tests/fake_provider_batches.py; docs/gateway.md,
"Batches"): a batch input file read line by line before it is forwarded
(each line its route's table, the key's models, batch prices; custom_ids
unique), the batch held at the sum of its lines' worst cases at batch
prices, and settled by its job when the provider ends it: each succeeded
line charged once at batch prices (a duplicated custom_id once), every
other line released; a cancel mid-run charged what ran; a creditd killed
between the final poll and the settle settles exactly once after its
restart; thousands of lines leave creditctl verify clean."""
import contextlib
import json
import os
import signal
import uuid

import stack
from every_writer_mail import launched, restart
from lib import ENV, api, check, creditctl, eq, new_account, sql, verify, wait_until
from test_80_gateway import call, ensure_prices, forwarded, prices, provider, received, reset, state

BATCH_IN, BATCH_OUT = 75000, 300000     # gpt-4o-mini's batch prices (half its own)


def batch_prices():
    """The batch prices set once, and seen by both creditd of the stack
    (either may check a batch's lines or settle them)."""
    ensure_prices()
    if _batch_priced:
        return
    creditctl("price", "set", "gpt-4o-mini", "batch_input_micros_per_mtok=%d" % BATCH_IN,
              "batch_output_micros_per_mtok=%d" % BATCH_OUT)
    creditctl("price", "set", "claude-sonnet-4-5", "batch_discount_bps=5000")

    def seen(base):
        models = {m["model"]: m for m in api("GET", "/v1/models", auth="read", base=base).json["data"]}
        return ((models.get("gpt-4o-mini") or {}).get("batch_output_micros_per_mtok") == BATCH_OUT and
                (models.get("claude-sonnet-4-5") or {}).get("batch_discount_bps") == 5000)
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        check(wait_until(lambda: seen(base), timeout=30), "the batch prices reach %s" % base)
    _batch_priced.append(1)


_batch_priced = []


def control(**want):
    return provider("POST", "/_batches", want)


def line(custom_id, text="hello there friend", model="gpt-4o-mini", url="/v1/chat/completions", **extra):
    body = dict({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 40}, **extra)
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def multipart(lines, purpose="batch"):
    boundary = "----creditdtest" + uuid.uuid4().hex
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    parts = [b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" +
             purpose.encode() + b"\r\n",
             b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\""
             b"\r\nContent-Type: application/jsonl\r\n\r\n" + data + b"\r\n"]
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n", "multipart/form-data; boundary=" + boundary


def upload(acct, lines, **kw):
    raw, ctype = multipart(lines, **kw)
    return call("/openai/v1/files", None, raw=raw, headers={"Creditd-Account": acct, "Content-Type": ctype})


def create(acct, file_id, endpoint="/v1/chat/completions"):
    return call("/openai/v1/batches", {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"},
                headers={"Creditd-Account": acct})


def get(acct, path):
    return call(path, None, headers={"Creditd-Account": acct})


def http_delete(acct, path):
    from test_87c_gateway_objects import req
    return req("DELETE", path, acct)[0]


def job(batch_id):
    rows = sql("SELECT state, lines_charged, lines_released FROM gateway_jobs WHERE object_id = '%s'" % batch_id)
    return rows[0] if rows else None


def done(batch_id, timeout=30):
    check(wait_until(lambda: (job(batch_id) or ["-"])[0] == "done", timeout=timeout),
          "the batch's job settled: %r" % (job(batch_id),))
    return job(batch_id)


def finish(acct, timeout=30):
    """Every batch of acct run to its end and settled: the fake completes
    the batches it keeps running, and creditd's next polls end them. A
    test that keeps batches running calls it before it returns, while the
    fake still knows them (a reset forgets them, and creditd would poll a
    batch the provider answers 404 for every second of the rest of the
    lane: lanes.py fails the file that leaves one)."""
    control(complete=True)
    left = ("SELECT j.object_id, j.state FROM accounts a JOIN gateway_jobs j ON j.account_id = a.id "
            "WHERE a.ext_id = '%s' AND j.state <> 'done'" % acct)
    check(wait_until(lambda: not sql(left), timeout=timeout), "%s's batches ended: %r" % (acct, sql(left)))


@contextlib.contextmanager
def finishing(acct):
    """A test's steps with acct's batches run to their end after them
    (finish), whether they passed or not."""
    try:
        yield
    finally:
        finish(acct)


def unresolved_ended(batch_id):
    """A job a test leaves settling ended by hand: 'done', with its
    next_poll_at moved so that a pass holding it can no longer save it
    back to 'settling' (a save holds only while next_poll_at is its
    claim's)."""
    sql("UPDATE gateway_jobs SET state = 'done', next_poll_at = next_poll_at - 1 WHERE object_id = '%s'" % batch_id)


def batch_cost(usage):
    """One line's charge at gpt-4o-mini's batch prices (cached input at its
    own cached price times the batch input's ratio to the list's, exactly,
    rounded up once): ceil(raw * margin / 10^10), once a line."""
    p, margin = prices()
    m = p["gpt-4o-mini"]
    cached_price = -(-m["cached_input_micros_per_mtok"] * BATCH_IN // m["input_micros_per_mtok"])
    inp, cached, out = usage["input_tokens"], usage["cached_input_tokens"], usage["output_tokens"]
    raw = ((inp - cached) * BATCH_IN + cached * cached_price + out * BATCH_OUT) * margin
    return -(-raw // 10 ** 10)


def expected_charge(batch_id):
    """The sum over the lines the provider says succeeded (each once)."""
    b = [x for x in provider("GET", "/_batches") if x["id"] == batch_id][0]
    return sum(batch_cost(x["usage"]) for x in b["lines"] if x.get("outcome") == "succeeded"), b


def usage_records(acct):
    return int(sql("SELECT COUNT(*) FROM usage_records u JOIN accounts a ON a.id = u.account_id "
                   "WHERE a.ext_id = '%s'" % acct)[0][0])


def test_a_model_without_batch_prices_is_refused_before_anything_is_held_or_forwarded():
    batch_prices()
    reset()
    acct = new_account("batchno")
    before = state(acct)
    emb = {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings",
           "body": {"model": "text-embedding-3-small", "input": "some words"}}
    r = upload(acct, [emb])
    eq(r.status, 400, "a model without batch prices: %r" % r.body)
    eq(r.json["error"]["param"], "model", "naming the member")
    check("batch_discount_bps" in r.json["error"]["message"], "and the dimension to set: %r" % r.json)
    r = upload(acct, [line("a"), line("a")])
    eq((r.status, r.json["error"]["param"]), (400, "custom_id"), "a custom_id twice: %r" % r.body)
    r = upload(acct, [line("a", temperature_x=1)])
    eq((r.status, r.json["error"]["param"]), (400, "temperature_x"), "a member no table names: %r" % r.body)
    check("line 1" in r.json["error"]["message"], "the line is named: %r" % r.json)
    r = upload(acct, [line("a")], purpose="fine-tune")
    eq((r.status, r.json["error"]["param"]), (400, "purpose"), "another purpose: %r" % r.body)
    eq([x for x in received() if x["path"].startswith("/v1/files")], [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


def run_batch(acct, ids, cancel=False):
    control(reset=True, complete=not cancel)
    r = upload(acct, [line(c, text="words for line %s" % c) for c in ids])
    eq(r.status, 200, "the file uploaded: %r" % r.body)
    held = int(sql("SELECT hold_micros FROM gateway_batch_inputs WHERE file_id = '%s'" % r.json["id"])[0][0])
    r = create(acct, r.json["id"])
    eq(r.status, 200, "the batch made: %r" % r.body)
    bid = r.json["id"]
    eq(state(acct)[1], held, "held: the sum of the lines' worst cases at batch prices")
    return bid, held


def test_a_batch_is_settled_line_by_line_each_succeeded_line_once_the_rest_released():
    batch_prices()
    reset()
    acct = new_account("batchok")
    balance = state(acct)[0]
    ids = ["ok1", "ok2", "ok3", "ok4", "err1", "exp1", "can1", "dup1"]
    bid, held = run_batch(acct, ids)
    eq(get(acct, "/openai/v1/batches/" + bid).json["id"], bid, "retrieved from creditd's record")
    row = done(bid)
    charge, b = expected_charge(bid)
    eq(sorted(x["outcome"] for x in b["lines"]), sorted(["succeeded"] * 5 + ["errored", "expired", "cancelled"]),
       "the provider's outcomes")
    eq(state(acct), (balance - charge, 0), "charged the succeeded lines to the micro, the hold released")
    check(charge < held, "below the hold (%d < %d)" % (charge, held))
    eq((int(row[1]), int(row[2])), (5, 3), "5 lines charged (the duplicate once), 3 released")
    eq(usage_records(acct), 5, "one usage record a succeeded line")
    files = get(acct, "/openai/v1/files").json
    eq([x["purpose"] for x in files["data"]], ["batch"], "its input file listed from creditd's records")
    fid = files["data"][0]["id"]
    eq(get(acct, "/openai/v1/files/" + fid).json["id"], fid, "and retrieved")
    out = get(acct, "/openai/v1/batches/" + bid).json["output_file_id"]
    content = get(acct, "/openai/v1/files/%s/content" % out)
    eq((content.status, len(content.body.decode().splitlines())), (200, 6), "the output read through creditd")
    listed = get(acct, "/openai/v1/batches").json
    eq([x["id"] for x in listed["data"]], [bid], "listed from creditd's records")
    other = new_account("batchother")
    eq(get(other, "/openai/v1/batches/" + bid).status, 404, "another account's batch: 404")
    eq(get(other, "/openai/v1/batches").json["data"], [], "and not listed")
    eq([get(other, p % x).status for p, x in (("/openai/v1/files/%s", fid), ("/openai/v1/files/%s/content", out))],
       [404, 404], "nor its files")
    gone = http_delete(other, "/openai/v1/files/" + fid)
    eq(gone, 404, "another account's delete: 404")
    eq(http_delete(acct, "/openai/v1/files/" + fid), 200, "its own deleted")
    # Deleted is forgotten (docs/gateway.md, "Routes": "then forgotten by
    # creditd"): the list no longer shows it, as GET no longer finds it.
    eq(get(acct, "/openai/v1/files").json["data"], [], "forgotten in the list too")
    eq(get(acct, "/openai/v1/files/" + fid).status, 404, "and retrieved no more")
    verify()


def test_a_batch_cancelled_midway_is_charged_what_ran():
    batch_prices()
    reset()
    acct = new_account("batchcancel")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["c%d" % i for i in range(10)], cancel=True)
    r = call("/openai/v1/batches/%s/cancel" % bid, {}, headers={"Creditd-Account": acct})
    eq((r.status, r.json["status"]), (200, "cancelling"), "the cancel forwarded: %r" % r.body)
    row = done(bid)
    charge, b = expected_charge(bid)
    eq(sum(1 for x in b["lines"] if x["outcome"] == "succeeded"), 5, "half the lines ran")
    eq(state(acct), (balance - charge, 0), "charged the lines that ran to the micro, the rest released")
    eq((int(row[1]), int(row[2])), (5, 5), "5 charged, 5 released")


def test_creditd_killed_between_the_final_poll_and_the_settle_settles_exactly_once():
    batch_prices()
    reset()
    acct = new_account("batchkill")
    balance = state(acct)[0]
    control(reset=True, results_gate=True)
    r = upload(acct, [line("k%d" % i) for i in range(6)])
    bid = create(acct, r.json["id"]).json["id"]
    check(wait_until(lambda: (job(bid) or ["-"])[0] == "settling", timeout=20), "the final poll seen")
    # Both creditd of the stack (either may hold the job) killed while the
    # results' download waits: nothing of the batch charged yet.
    launched_as = {n: launched(n) for n in ("creditd", "creditd-apache")}
    for name in launched_as:
        pid = stack.pid_of(name)
        os.kill(pid, signal.SIGKILL)
        check(wait_until(lambda: not stack.alive(pid), timeout=10, step=0.01), "%s killed" % name)
    eq((job(bid)[0], usage_records(acct)), ("settling", 0), "killed before the settle's commit")
    provider("POST", "/_open_results", {})
    for name, (argv, env) in launched_as.items():
        restart(name, argv, env)
    row = done(bid)
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "charged once, to the micro")
    eq(usage_records(acct), 6, "one usage record a line, none twice")
    eq((int(row[1]), int(row[2])), (6, 0), "6 lines charged")


def test_thousands_of_lines_end_with_verify_clean():
    batch_prices()
    reset()
    acct = new_account("batchbig")
    eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 10 ** 9, "source": "promo"}).status in (200, 201),
       True, "funded")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["n%d" % i for i in range(3000)])
    row = done(bid, timeout=180)
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "3000 lines charged to the micro")
    eq(int(row[1]), 3000, "every line")
    verify()


def messages_batch(acct, ids, model="claude-sonnet-4-5"):
    reqs = [{"custom_id": c, "params": {"model": model, "max_tokens": 32,
                                        "messages": [{"role": "user", "content": "words for %s" % c}]}} for c in ids]
    return call("/anthropic/v1/messages/batches", {"requests": reqs},
                headers={"Creditd-Account": acct, "anthropic-version": "2023-06-01"})


def discounted_cost(usage, model="claude-sonnet-4-5", bps=5000, write_1h=None):
    """A line at the row's prices less its batch discount (each price
    rounded up), cache writes at the cache-write price, 1-hour ones at
    write_1h (the row's 1-hour price, discounted too) when given."""
    p, margin = prices()
    m = p[model]
    half = {k: -(-m[k] * (10000 - bps) // 10000) for k in ("input_micros_per_mtok", "cached_input_micros_per_mtok",
                                                            "cache_write_micros_per_mtok", "output_micros_per_mtok")}
    inp, cached, cw, out = (usage["input_tokens"], usage["cached_input_tokens"], usage["cache_write_input_tokens"],
                            usage["output_tokens"])
    hour = usage.get("cache_write_1h_tokens", 0) if write_1h is not None else 0
    extra = hour * (-(-write_1h * (10000 - bps) // 10000) - half["cache_write_micros_per_mtok"]) if hour else 0
    raw = ((inp - cached - cw) * half["input_micros_per_mtok"] + cached * half["cached_input_micros_per_mtok"] +
           cw * half["cache_write_micros_per_mtok"] + out * half["output_micros_per_mtok"] + extra) * margin
    return -(-raw // 10 ** 10)


def test_anthropic_message_batches_are_held_at_the_row_s_discount_and_settled_line_by_line():
    batch_prices()
    reset()
    control(reset=True)
    acct = new_account("msgbatch")
    balance = state(acct)[0]
    r = messages_batch(acct, ["a", "a"])
    eq((r.status, r.json["error"]["type"]), (400, "invalid_request_error"), "a custom_id twice: %r" % r.body)
    r = messages_batch(acct, ["x"], model="claude-haiku-4-5")
    eq(r.status, 400, "a model without batch prices: %r" % r.body)
    check("batch_discount_bps" in r.json["error"]["message"], "names what to set: %r" % r.json)
    eq([x for x in received() if "/batches" in x["path"]], [], "nothing forwarded")
    r = messages_batch(acct, ["ok1", "ok2", "err1", "exp1", "can1", "dup1"])
    eq(r.status, 200, "made: %r" % r.body)
    bid = r.json["id"]
    eq((r.json["type"], r.json["processing_status"]), ("message_batch", "in_progress"), "Anthropic's shape")
    check(state(acct)[1] > 0, "held")
    row = done(bid)
    b = [x for x in provider("GET", "/_batches") if x["id"] == bid][0]
    charge = sum(discounted_cost(x["usage"]) for x in b["lines"] if x["outcome"] == "succeeded")
    eq(state(acct), (balance - charge, 0), "charged the succeeded lines at the discount, to the micro")
    eq((int(row[1]), int(row[2])), (3, 3), "3 charged (the duplicate once), 3 released")
    h = {"Creditd-Account": acct, "anthropic-version": "2023-06-01"}
    got = call("/anthropic/v1/messages/batches/%s" % bid, None, headers=h)
    eq((got.status, got.json["processing_status"]), (200, "ended"), "retrieved as last polled")
    res = call("/anthropic/v1/messages/batches/%s/results" % bid, None, headers=h)
    eq(res.status, 200, "results passed on: %r" % res.body[:200])
    eq(sorted(json.loads(x)["result"]["type"] for x in res.body.decode().splitlines()),
       sorted(["succeeded"] * 4 + ["errored", "expired", "canceled"]), "the provider's JSONL")
    eq([x["id"] for x in call("/anthropic/v1/messages/batches", None, headers=h).json["data"]], [bid], "listed")
    other = {"Creditd-Account": new_account("msgother"), "anthropic-version": "2023-06-01"}
    eq(call("/anthropic/v1/messages/batches/%s/results" % bid, None, headers=other).status, 404, "another's: 404")
    verify()


def test_the_official_sdks_make_batches_through_creditd():
    from test_81_gateway_sdks import sdk
    batch_prices()
    reset()
    control(reset=True)
    acct = new_account("batchsdk")
    balance = state(acct)[0]
    r = sdk("openai_batch", acct)
    eq((r["purpose"], r["again"]), ("batch", r["batch"]), "files.create, batches.create, batches.retrieve: %r" % r)
    done(r["batch"])
    charge, _ = expected_charge(r["batch"])
    eq(state(acct), (balance - charge, 0), "the SDK's batch settled to the micro")
    balance = state(acct)[0]
    r = sdk("anthropic_batch", acct)
    eq((r["type"], r["status"]), ("message_batch", "in_progress"), "messages.batches.create: %r" % r)
    done(r["batch"])
    b = [x for x in provider("GET", "/_batches") if x["id"] == r["batch"]][0]
    eq(state(acct), (balance - sum(discounted_cost(x["usage"]) for x in b["lines"]), 0), "settled to the micro")


def test_a_batch_s_hold_is_not_captured_while_its_job_is_not_done():
    """Its provider away for days (no poll answered): the sweep leaves the
    hold of a job not done, and the batch is settled at its lines."""
    from lib import clock_reset, clock_set
    import time
    batch_prices()
    reset()
    acct = new_account("batchttl")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["t1", "t2", "t3"], cancel=True)
    control(fail_polls=True)     # no poll answered: the provider away for days
    try:
        time.sleep(1.5)
        clock_set(time.time() + 2 * 86400)
        creditctl("sweep")
        eq(state(acct), (balance, held), "the sweep leaves the hold of a batch not settled")
        control(fail_polls=False, complete=True)
        row = done(bid)
    finally:
        clock_reset()
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "charged its lines to the micro, the hold released")
    eq(int(row[1]), 3, "every line charged")
    verify()


def test_a_batch_s_results_file_is_not_deleted_while_its_job_settles_it():
    batch_prices()
    reset()
    acct = new_account("batchdel")
    control(reset=True, results_gate=True)
    r = upload(acct, [line("d%d" % i) for i in range(3)])
    bid = create(acct, r.json["id"]).json["id"]
    try:
        check(wait_until(lambda: (job(bid) or ["-"])[0] == "settling", timeout=20), "the final poll seen")
        out = get(acct, "/openai/v1/batches/" + bid).json["output_file_id"]
        eq(http_delete(acct, "/openai/v1/files/" + out), 409, "its results not deleted while it settles")
    finally:
        provider("POST", "/_open_results", {})
    done(bid)
    eq(http_delete(acct, "/openai/v1/files/" + out), 200, "deleted once settled")


def test_a_batch_whose_hold_is_not_released_stays_settling_until_it_is():
    """A release that fails (the database refuses it) leaves the job
    settling, the hold held, and the next pass releases it."""
    import time
    batch_prices()
    reset()
    acct = new_account("batchrel")
    balance = state(acct)[0]
    control(reset=True, results_gate=True)
    r = upload(acct, [line("r%d" % i) for i in range(3)])
    bid = create(acct, r.json["id"]).json["id"]
    hold = sql("SELECT h.id FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s' "
               "AND h.state = 'pending'" % acct)[0][0]
    check(wait_until(lambda: (job(bid) or ["-"])[0] == "settling", timeout=20), "the final poll seen")
    sql("DELIMITER //\nCREATE TRIGGER t88b_no_release BEFORE UPDATE ON holds FOR EACH ROW BEGIN IF NEW.id = %s "
        "AND NEW.state <> 'pending' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no release'; END IF; END //"
        % hold)
    try:
        provider("POST", "/_open_results", {})
        check(wait_until(lambda: usage_records(acct) == 3, timeout=20), "its lines charged")
        time.sleep(3)
        eq(job(bid)[0], "settling", "a hold not released leaves its job settling")
        check(state(acct)[1] > 0, "its hold still held")
    finally:
        sql("DROP TRIGGER IF EXISTS t88b_no_release")
    done(bid)
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "released at a later pass, its lines charged once")
    eq(usage_records(acct), 3, "one usage record a line")


def test_a_line_whose_model_is_not_priced_is_not_released_but_charged_once_it_is():
    """Neither the answer's model nor the batch's priced (a price list not
    loaded yet, a row gone): the line waits, its job settling, the hold
    held; once priced, it is charged."""
    import time
    batch_prices()
    reset()
    acct = new_account("batchnoprice")
    balance = state(acct)[0]
    control(reset=True, complete=False, answer_model="gpt-unpriced-x")
    r = upload(acct, [line("p%d" % i) for i in range(3)])
    bid = create(acct, r.json["id"]).json["id"]
    sql("UPDATE gateway_jobs SET model = 'gpt-unpriced-x' WHERE object_id = '%s'" % bid)
    try:
        time.sleep(2)       # a pass that read the row before the update is over
        control(complete=True)
        check(wait_until(lambda: (job(bid) or ["-"])[0] != "running", timeout=20), "the final poll seen")
        time.sleep(3)
        eq((job(bid)[0], usage_records(acct)), ("settling", 0), "its lines neither charged nor released")
        check(state(acct)[1] > 0, "its hold still held")
    finally:
        sql("UPDATE gateway_jobs SET model = 'gpt-4o-mini' WHERE object_id = '%s'" % bid)
        control(answer_model=None)
    row = done(bid)
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "charged at the batch's model once priced")
    eq((int(row[1]), int(row[2])), (3, 0), "3 lines charged, none released")


def test_a_line_answered_by_a_snapshot_without_batch_prices_is_charged_the_batch_price():
    """The answer names a dated snapshot priced at its list price alone:
    the line is charged the batch price of the model it asked for, never
    the full list price."""
    batch_prices()
    reset()
    snap = "gpt-4o-mini-2024-07-18"
    creditctl("price", "set", snap, "input_micros_per_mtok=150000", "output_micros_per_mtok=600000",
             "max_output_tokens=16384")

    def seen(base):
        return any(m["model"] == snap for m in api("GET", "/v1/models", auth="read", base=base).json["data"])
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        check(wait_until(lambda: seen(base), timeout=30), "the snapshot's price reaches %s" % base)
    acct = new_account("batchsnap")
    balance = state(acct)[0]
    control(reset=True, answer_model=snap)
    try:
        r = upload(acct, [line("s%d" % i) for i in range(3)])
        bid = create(acct, r.json["id"]).json["id"]
        done(bid)
    finally:
        control(answer_model=None)
    charge, _ = expected_charge(bid)
    eq(state(acct), (balance - charge, 0), "charged gpt-4o-mini's batch prices, to the micro")


def test_a_line_s_dimensions_beyond_tokens_are_charged_as_a_whole_call_s():
    """1-hour cache writes at the row's 1-hour price (less the batch
    discount), not at the 5-minute one."""
    batch_prices()
    reset()
    creditctl("price", "set", "claude-sonnet-4-5", "cache_write_1h_micros_per_mtok=6000000")

    def seen(base):
        models = {m["model"]: m for m in api("GET", "/v1/models", auth="read", base=base).json["data"]}
        return (models.get("claude-sonnet-4-5") or {}).get("cache_write_1h_micros_per_mtok") == 6000000
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        check(wait_until(lambda: seen(base), timeout=30), "the 1-hour price reaches %s" % base)
    control(reset=True, mode={"cache_creation_tokens": 4, "cache_1h_tokens": 4})
    acct = new_account("batchdims")
    balance = state(acct)[0]
    reqs = [{"custom_id": c, "params": {"model": "claude-sonnet-4-5", "max_tokens": 40, "messages": [
        {"role": "user", "content": "many words for the line to write to its cache here %s" % c}]}} for c in ("h1", "h2")]
    r = call("/anthropic/v1/messages/batches", {"requests": reqs},
             headers={"Creditd-Account": acct, "anthropic-version": "2023-06-01"})
    eq(r.status, 200, "the batch made: %r" % r.body)
    done(r.json["id"])
    b = [x for x in provider("GET", "/_batches") if x["id"] == r.json["id"]]
    lines = b[0]["lines"] if b else []
    control(reset=True)
    check(all(x["usage"].get("cache_write_1h_tokens", 0) > 0 for x in lines), "1-hour cache writes: %r" % lines)
    eq(state(acct), (balance - sum(discounted_cost(x["usage"], write_1h=6000000) for x in lines), 0),
       "charged the 1-hour writes at their price, to the micro")


def test_a_resumed_settle_charges_every_line_whatever_their_order():
    """A pass ended partway (a line not priced yet); the next download's
    lines in another order (Anthropic's results are not ordered), which
    the cursor left by the first pass stands for: every line is settled
    again, each charge replaying, none skipped."""
    import time
    batch_prices()
    reset()
    acct = new_account("batchresume")
    balance = state(acct)[0]
    control(reset=True, complete=False, answer_model="gpt-unpriced-x")
    r = upload(acct, [line("o%d" % i) for i in range(4)])
    bid = create(acct, r.json["id"]).json["id"]
    sql("UPDATE gateway_jobs SET model = 'gpt-unpriced-x' WHERE object_id = '%s'" % bid)
    try:
        time.sleep(2)       # a pass that read the row before the update is over
        control(complete=True)
        check(wait_until(lambda: (job(bid) or ["-"])[0] != "running", timeout=20), "the final poll seen")
        time.sleep(2)
        eq(usage_records(acct), 0, "the first pass stopped at its first line")
        # As if that pass had settled two lines of another order.
        sql("UPDATE gateway_jobs SET line_cursor = 2, model = 'gpt-4o-mini' WHERE object_id = '%s'" % bid)
    finally:
        sql("UPDATE gateway_jobs SET model = 'gpt-4o-mini' WHERE object_id = '%s'" % bid)
        control(answer_model=None)
    done(bid)
    charge, _ = expected_charge(bid)
    eq(usage_records(acct), 4, "every line charged, none skipped")
    eq(state(acct), (balance - charge, 0), "to the micro, the hold released")


def test_a_batch_is_made_only_with_models_the_creating_key_may_call():
    """A file uploaded under a key that may call its lines' models: a key
    limited to other models may not make a batch of it (403
    model_not_allowed), nothing held; the uploading key may."""
    from test_83_gateway_keys import gw_key
    batch_prices()
    reset()
    control(reset=True)
    acct = new_account("batchkey")
    balance = state(acct)[0]
    r = upload(acct, [line("m%d" % i) for i in range(2)])
    eq(r.status, 200, "uploaded under a key for every model")
    k = gw_key(acct, models=["claude-sonnet-4-5"])
    made = call("/openai/v1/batches", {"input_file_id": r.json["id"], "endpoint": "/v1/chat/completions",
                                       "completion_window": "24h"}, auth=None,
                headers={"Authorization": "Bearer " + k["key"]})
    eq((made.status, (made.json.get("error") or {}).get("code")), (403, "model_not_allowed"),
       "refused under the limited key: %r" % made.body)
    eq(state(acct), (balance, 0), "nothing held")
    eq(create(acct, r.json["id"]).status, 200, "made under a key that may")


def test_a_pass_that_lost_its_job_does_not_overwrite_its_row():
    """A pass held up past its lease (its results' download waits) while
    another pass took the job and ended it: the late pass neither
    overwrites the row nor charges a line (test_88c: the other pass may
    have kept the hold at what the lines had charged)."""
    import time
    batch_prices()
    reset()
    acct = new_account("batchlease")
    control(reset=True, results_gate=True)
    r = upload(acct, [line("l%d" % i) for i in range(3)])
    bid = create(acct, r.json["id"]).json["id"]
    try:
        check(wait_until(lambda: (job(bid) or ["-"])[0] == "settling", timeout=20), "the final poll seen")
        time.sleep(0.5)
        # Another pass's work, as it would leave the row: taken, then done.
        sql("UPDATE gateway_jobs SET state = 'done', lines_charged = 99, next_poll_at = next_poll_at + 7 "
            "WHERE object_id = '%s'" % bid)
    finally:
        provider("POST", "/_open_results", {})
    time.sleep(3)
    eq(usage_records(acct), 0, "the late pass charged no line")
    eq(job(bid)[:2], ["done", "99"], "the other pass's row stands")


def test_a_cancel_is_kept_at_once_and_its_job_woken():
    """The cancel's answer is what creditd answers for the batch from
    then on (not the last poll's in_progress), and its job is due at
    once."""
    batch_prices()
    reset()
    acct = new_account("batchcancelkept")
    control(reset=True, complete=False)
    r = upload(acct, [line("k%d" % i) for i in range(4)])
    bid = create(acct, r.json["id"]).json["id"]
    check(wait_until(lambda: int(sql("SELECT polls FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0]) > 0,
                     timeout=20), "polled once")
    # Its next poll a minute away ([gateway] batch_poll_seconds): done
    # within 15 s only when the cancel wakes it.
    r = call("/openai/v1/batches/%s/cancel" % bid, {}, headers={"Creditd-Account": acct})
    eq((r.status, r.json["status"]), (200, "cancelling"), "the cancel forwarded")
    st = get(acct, "/openai/v1/batches/" + bid).json["status"]
    check(st in ("cancelling", "cancelled"), "kept, or polled at once: creditd answers it (%r)" % st)
    done(bid, timeout=15)


def test_a_batch_asking_its_results_expire_early_is_refused():
    # Its results must outlive a settle that waits (for the ledger, the
    # prices or the provider): a create that asks them gone sooner is
    # refused before anything is held or forwarded.
    batch_prices()
    reset()
    acct = new_account("batchexp")
    r = upload(acct, [line("a")])
    eq(r.status, 200, "the file: %r" % r.body)
    before = state(acct)
    r = call("/openai/v1/batches", {"input_file_id": r.json["id"], "endpoint": "/v1/chat/completions",
                                    "completion_window": "24h",
                                    "output_expires_after": {"anchor": "created_at", "seconds": 3600}},
             headers={"Creditd-Account": acct})
    eq((r.status, r.json["error"]["param"]), (400, "output_expires_after"), "refused, naming it: %r" % r.body)
    eq([x for x in forwarded() if x["path"].startswith("/v1/batches")], [], "nothing forwarded")
    eq(state(acct), before, "nothing held")
def test_a_batch_not_settled_within_its_days_is_abandoned_its_hold_kept_unresolved():
    """A job its provider never ends (no poll answered) is not kept for
    ever: 7 days after its create it is done, its status abandoned, and
    its hold kept pending and unresolved at its whole amount for the
    operator (never released); the sweep leaves it until its days."""
    from lib import clock_reset, clock_set
    import time
    batch_prices()
    reset()
    acct = new_account("batchabandon")
    balance = state(acct)[0]
    bid, held = run_batch(acct, ["a1", "a2"], cancel=True)
    control(fail_polls=True)
    try:
        time.sleep(1.5)
        clock_set(time.time() + 6 * 86400)
        time.sleep(8)
        eq(job(bid)[0], "running", "6 days on: still its job's")
        clock_set(time.time() + 7 * 86400 + 60)
        row = done(bid, timeout=30)
        eq(row[1:], ["0", "0"], "no line charged nor released")
        eq(sql("SELECT status FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0], "abandoned", "its status")
        h = sql("SELECT h.state, h.amount_micros, h.unresolved_at IS NOT NULL, h.unresolved_input_micros FROM holds h "
                "JOIN gateway_jobs j ON j.account_id = h.account_id AND j.hold_row = h.id "
                "WHERE j.object_id = '%s'" % bid)[0]
        eq([h[0], int(h[1]), int(h[2]), int(h[3])], ["pending", held, 1, held],
           "its hold pending, unresolved at its whole amount")
        creditctl("sweep")
        eq(state(acct), (balance, held), "the sweep leaves an unresolved hold until its days: never released")
    finally:
        control(fail_polls=False)
        clock_reset()


def test_a_cancel_leaves_the_claim_of_a_pass_that_holds_its_job():
    """A cancel wakes a job no pass holds; a job a pass holds (its
    next_poll_at the pass's claim, a lease of ten polls ahead) keeps it,
    so that cancels sent again and again never stop the pass's saves."""
    batch_prices()
    reset()
    acct = new_account("batchcancelclaim")
    control(reset=True, complete=False)
    r = upload(acct, [line("c%d" % i) for i in range(2)])
    bid = create(acct, r.json["id"]).json["id"]
    check(wait_until(lambda: int(sql("SELECT polls FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0]) > 0,
                     timeout=20), "polled once")
    # As a pass leaves it when it takes the job: 10 polls of 60 s ahead.
    sql("UPDATE gateway_jobs SET next_poll_at = UNIX_TIMESTAMP() + 600 WHERE object_id = '%s'" % bid)
    claim = sql("SELECT next_poll_at FROM gateway_jobs WHERE object_id = '%s'" % bid)[0][0]
    try:
        for _ in range(3):
            r = call("/openai/v1/batches/%s/cancel" % bid, {}, headers={"Creditd-Account": acct})
            eq(r.status, 200, "the cancel forwarded")
        row = sql("SELECT next_poll_at, status FROM gateway_jobs WHERE object_id = '%s'" % bid)[0]
        eq(row, [claim, "cancelling"], "the cancel kept, the pass's claim left as it was")
    finally:
        sql("UPDATE gateway_jobs SET next_poll_at = UNIX_TIMESTAMP() WHERE object_id = '%s'" % bid)
    done(bid, timeout=20)


def test_a_batch_output_file_kept_for_a_job_not_done_is_not_deleted():
    """An output file kept as the account's whose job did not record it
    (its save lost) is refused a DELETE while that job is not done: its
    lines are still to be settled from it."""
    batch_prices()
    reset()
    acct = new_account("batchkeptdel")
    bid, _ = run_batch(acct, ["o1", "o2"])
    done(bid)
    out = get(acct, "/openai/v1/batches/" + bid).json["output_file_id"]
    eq(int(sql("SELECT COUNT(*) FROM gateway_objects WHERE object_id = '%s' AND kind = 'batch_output'" % out)[0][0]),
       1, "its output file kept as the account's")
    # As a job whose save of its ended poll was lost leaves its row.
    sql("UPDATE gateway_jobs SET state = 'running', output_file_id = '', error_file_id = '', "
        "next_poll_at = UNIX_TIMESTAMP() + 86400 WHERE object_id = '%s'" % bid)
    try:
        eq(http_delete(acct, "/openai/v1/files/" + out), 409, "not deleted while its job is not done")
    finally:
        sql("UPDATE gateway_jobs SET state = 'done', output_file_id = '%s' WHERE object_id = '%s'" % (out, bid))
    eq(http_delete(acct, "/openai/v1/files/" + out), 200, "deleted once its job is done")


def test_a_line_not_charged_yet_does_not_stop_the_lines_after_it():
    """A line whose answer has no usage creditd can read, and a line that
    is not a result: both unresolved (neither charged nor released), the
    lines after them charged in the same pass, and the hold not released
    while any remain."""
    import time
    batch_prices()
    reset()
    acct = new_account("batchunres")
    bid, held = run_batch(acct, ["nouse1", "u1", "garb1", "u2"])
    try:
        check(wait_until(lambda: usage_records(acct) == 2, timeout=20), "the lines after the first charged: %r"
              % (job(bid),))
        time.sleep(2)
        eq(job(bid), ["settling", "2", "0"], "2 lines charged, none released, the job settling")
        eq(state(acct)[1], held, "its hold not released")
    finally:
        unresolved_ended(bid)


def test_a_result_line_that_is_not_a_result_is_unresolved_never_charged_nor_released():
    import time
    batch_prices()
    reset()
    acct = new_account("batchgarb")
    bid, held = run_batch(acct, ["garb1", "g2"])
    try:
        check(wait_until(lambda: usage_records(acct) == 1, timeout=20), "the result line charged")
        check(wait_until(lambda: (job(bid) or ["-"])[0] != "running", timeout=20), "the final poll seen")
        time.sleep(2)
        eq(job(bid), ["settling", "1", "0"], "1 line charged, the other neither counted charged nor released")
        eq(state(acct)[1], held, "its hold not released")
    finally:
        unresolved_ended(bid)


def teardown_module():
    """The fake's batches as a provider runs them again, for the files
    after this one on the stack (a test here keeps batches running or their
    results held): the flags alone."""
    control(complete=True, results_gate=False, fail_polls=False, answer_model=None)
    provider("POST", "/_open_results", {})
