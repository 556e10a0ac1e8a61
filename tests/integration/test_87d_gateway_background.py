"""test_87d_gateway_background.py: Responses "background": true through
nginx -> creditd -> the fake provider's background runs (tests/fake_provider.md,
"Background runs"; docs/gateway.md, "Background responses"): a run is held
as a whole call and answered "queued", its hold waits while the run lives
and is settled once when it ends, from whichever tells creditd first:
OpenAI's signed webhook (POST /v1/webhooks/openai, Standard Webhooks, signed
here with Python's hmac, not creditd's code), creditd's own poll, or the
client's GET through creditd. A bad signature changes nothing; a cancel is
forwarded and charged the usage so far; a creditd killed mid-run settles
the run after its restart; the tier and web searches asked are charged as
asked (never flagged), creditctl sweep prices a run's searches, every
running run's hold is renewed each round, a DELETE of a running run is
refused (409) and of an ended one settles it first, a run its provider
forgot is given up at its hold, a poll answer past its budget is settled
from its tail, a run one poller has in hand is not asked for by another, a webhook
that comes while its run is being polled, or before creditd's prices are
loaded, is not lost,
a run past its days whose hold is pending no more ends, a queued answer
not received whole keeps its hold unresolved (504, never an estimate);
the official SDK's responses.create({background: true}) then
responses.retrieve; creditctl verify 0.

The module runs creditd with a config of its own: a webhook secret and, first,
a poll slow enough (60 s) that what settles a run is the webhook or the GET;
then (after a kill -9) a poll of 1 s. teardown_module starts it as the stack has it."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time

import http.client
import urllib.parse

import stack
from gateway_bill import expected
from lib import ENV, api, check, creditctl, eq, key, new_account, sql, verify, wait_until
from test_80_gateway import call, cost, ensure_prices, mode, provider, reasons, reset, state
from test_81_gateway_sdks import sdk
from test_86_gateway_dimensions import PRICE, _price

SECRET = "whsec_" + base64.b64encode(hashlib.sha256(b"creditd background test").digest()).decode()
INPUT = "say some words for the background run"
_conf = {}
_holds = {}	# a run's hold, as its create answer named it


def config(poll, most):
    """The stack's config with the webhook secret and this poll, creditd
    restarted on it (kill -9: nothing of the old one's memory survives)."""
    conf = stack.path("creditd-background-%d.conf" % poll)
    text = open(ENV["CREDITD_CONFIG"]).read()
    check("[gateway]\n" in text, "the stack's config has a [gateway] section")
    text = text.replace("[gateway]\n", "[gateway]\nopenai_webhook_secret = %s\nbackground_poll_seconds = %d\n"
                        "background_poll_max_seconds = %d\n" % (SECRET, poll, most), 1)
    with open(conf, "w") as f:
        f.write(text)
    os.chmod(conf, 0o600)
    stack.creditd_kill9()
    stack.creditd_start(config=conf)
    _conf["poll"] = poll


def slow():
    if _conf.get("poll") != 60:
        config(60, 120)


def teardown_module():
    if _conf:
        stack.creditd_kill9()
        stack.creditd_start()
        _conf.clear()


def create(acct, **extra):
    """A background run made through creditd: its id (answered queued)."""
    r = call("/openai/v1/responses", dict({"model": "gpt-4o-mini", "input": INPUT, "max_output_tokens": 40,
                                           "background": True}, **extra), headers={"Creditd-Account": acct})
    eq(r.status, 200, "a background run made: %r" % r.body[:300])
    eq((r.json["status"], r.json["usage"], r.json.get("background")), ("queued", None, True), "answered at once, queued")
    check("creditd-charged-micros" not in r.headers, "nothing charged yet: %r" % r.headers)
    _holds[r.json["id"]] = r.headers.get("creditd-hold-id")
    return r.json["id"]


def move(rid, status, **extra):
    got = provider("POST", "/_background", dict({"id": rid, "status": status}, **extra))
    eq(got.get("status"), status, "the fake's run moved: %r" % got)
    return got


def usage_of(rid):
    return provider("GET", "/_background/" + rid)["usage"]


def charge_of(u):
    return cost("gpt-4o-mini", u["input_tokens"], u["input_tokens_details"]["cached_tokens"], u["output_tokens"])


def hook(body, secret=SECRET, at=None, msg_id="msg_test", signature=None):
    """POST /v1/webhooks/openai, signed as OpenAI signs (Standard Webhooks)."""
    raw = json.dumps(body).encode()
    ts = str(int(time.time()) if at is None else at)
    k = base64.b64decode(secret[len("whsec_"):])
    mac = base64.b64encode(hmac.new(k, b"%s.%s.%s" % (msg_id.encode(), ts.encode(), raw), hashlib.sha256).digest())
    headers = {"webhook-id": msg_id, "webhook-timestamp": ts,
               "webhook-signature": signature if signature is not None else "v1," + mac.decode()}
    return api("POST", "/v1/webhooks/openai", auth=None, raw=raw, headers=headers)


def event(rid, kind="response.completed"):
    return {"id": "evt_" + rid, "object": "event", "created_at": int(time.time()), "type": kind, "data": {"id": rid}}


def run_row(rid):
    rows = sql("SELECT state, status FROM gateway_background WHERE response_id = '%s'" % rid)
    return tuple(rows[0]) if rows else None


def ended_on_record(rid, want, what):
    """The run's record ended as want: marked right after its settle
    commits, in a transaction of its own (a reader between the two sees
    the hold settled and the run still running; docs/gateway.md,
    "Background responses")."""
    check(wait_until(lambda: run_row(rid) == want, timeout=15), "%s: %r" % (what, run_row(rid)))


def settled_once(acct, before, u, what):
    """The run's hold settled once, charged its usage to the micro."""
    check(wait_until(lambda: state(acct)[1] == 0, timeout=15), "%s: the hold ended" % what)
    eq(reasons(acct), ["provider_usage"], "%s: one usage record, the provider's usage" % what)
    eq(before - state(acct)[0], charge_of(u), "%s: charged its usage to the micro" % what)


def test_a_background_run_is_held_answered_queued_and_charged_nothing_while_it_runs():
    slow()
    reset()
    acct = new_account("gwbg")
    before = state(acct)
    rid = create(acct)
    balance, reserved = state(acct)
    eq(balance, before[0], "nothing charged while it runs")
    check(reserved > 0, "its hold waits for the run's end: %r" % reserved)
    eq(reasons(acct), [], "no usage record yet")
    eq(run_row(rid), ("running", "queued"), "the run on record")
    left = int(sql("SELECT h.expires_at - UNIX_TIMESTAMP() FROM holds h JOIN accounts a ON a.id = h.account_id "
                   "WHERE a.ext_id = '%s' AND h.state = 'pending'" % acct)[0][0])
    check(left > 3000, "the hold lives while the run does (renewed past expiry capture): %d s left" % left)
    r = call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": INPUT, "background": True, "stream": True},
             headers={"Creditd-Account": acct})
    eq((r.status, r.json["error"]["param"]), (400, "stream"), "background with stream refused: %r" % r.body[:300])
    other = new_account("gwbgx")
    r = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": other})
    eq(r.status, 404, "another account's id: 404")
    move(rid, "in_progress")
    r = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": acct})
    eq((r.status, r.json["status"]), (200, "in_progress"), "its own: retrieved while it runs")
    eq(state(acct), (balance, reserved), "a GET of a running run settles nothing")
    move(rid, "completed")
    u = usage_of(rid)
    r = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": acct})
    eq((r.status, r.json["status"]), (200, "completed"), "the client's GET sees it ended")
    # Settled before the GET was answered: no wait.
    eq(state(acct), (before[0] - charge_of(u), 0), "the GET that saw the end settled it, before it was answered")
    ended_on_record(rid, ("ended", "completed"), "the run ended on record")
    r = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": acct})
    eq(r.status, 200, "retrieved again")
    settled_once(acct, before[0], u, "a GET again")
    h = api("GET", "/v1/holds/" + _holds[rid], auth="read")
    eq(h.status, 200, "its hold, as the create answer named it: %r" % h.raw[:300])
    eq((h.json["status"], h.json["charged_micros"], h.json["settle_reason"]),
       ("settled", charge_of(u), "provider_usage"), "settled once at its usage: %r" % h.json)
    verify()


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing():
    slow()
    reset()
    acct = new_account("gwbg")
    rid = create(acct)
    move(rid, "completed")
    held = state(acct)
    for what, r in (("another secret", hook(event(rid), secret="whsec_" + base64.b64encode(b"x" * 32).decode())),
                    ("a signature of another body", hook(event(rid), signature="v1," + base64.b64encode(
                        hmac.new(b"y" * 32, b"other", hashlib.sha256).digest()).decode())),
                    ("no signature", hook(event(rid), signature="")),
                    ("a timestamp ten minutes old", hook(event(rid), at=int(time.time()) - 600)),
                    ("a timestamp ten minutes ahead", hook(event(rid), at=int(time.time()) + 600))):
        eq(r.status, 400, "%s: refused (%r)" % (what, r.raw[:200]))
        eq(r.json["error"]["param"], "webhook-signature", "%s: the signature named" % what)
    time.sleep(1.5)
    eq(state(acct), held, "nothing charged or released")
    eq(reasons(acct), [], "no usage record")
    eq(run_row(rid), ("running", "queued"), "the run still waits")
    eq(sql("SELECT next_poll_at - UNIX_TIMESTAMP() > 30 FROM gateway_background WHERE response_id = '%s'" % rid),
       [["1"]], "its poll not moved")
    # The same event signed with the secret settles it.
    r = hook(event(rid))
    eq((r.status, r.json), (200, {"received": True}), "the signed webhook taken")
    settled_once(acct, held[0], usage_of(rid), "the signed webhook")
    verify()


def test_the_signed_webhook_settles_the_run_with_its_usage_and_other_events_are_ignored():
    slow()
    reset()
    acct = new_account("gwbg")
    before = state(acct)[0]
    rid = create(acct)
    move(rid, "in_progress")
    eq(hook(event(rid, "response.in_progress")).status, 200, "an event creditd does not act on: 200")
    eq(hook(event("resp_nobodymadethis")).status, 200, "an id creditd did not make: 200, ignored")
    eq(hook({"id": "evt_b", "type": "batch.completed", "data": {"id": "batch_1"}}).status, 200, "another kind: 200")
    time.sleep(1)
    eq(run_row(rid), ("running", "queued"), "still running")
    move(rid, "completed")
    eq(hook(event(rid)).status, 200, "response.completed taken")
    settled_once(acct, before, usage_of(rid), "the webhook")
    ended_on_record(rid, ("ended", "completed"), "ended on record")
    eq(hook(event(rid)).status, 200, "the same event again (OpenAI retries): 200")
    time.sleep(1)
    settled_once(acct, before, usage_of(rid), "a webhook again")
    verify()


def test_failed_and_incomplete_runs_are_charged_what_the_provider_reports():
    slow()
    reset()
    for end in ("failed", "incomplete"):
        acct = new_account("gwbg")
        before = state(acct)[0]
        rid = create(acct)
        move(rid, end, output_tokens=5)
        eq(hook(event(rid, "response." + end)).status, 200, "%s taken" % end)
        settled_once(acct, before, usage_of(rid), end)
        ended_on_record(rid, ("ended", end), "%s on record" % end)
    verify()


def test_a_cancel_is_forwarded_and_charged_the_usage_so_far():
    slow()
    reset()
    acct = new_account("gwbg")
    before = state(acct)[0]
    rid = create(acct)
    move(rid, "in_progress")
    r = call("/openai/v1/responses/%s/cancel" % rid, {}, headers={"Creditd-Account": acct})
    eq((r.status, r.json["status"]), (200, "cancelled"), "cancelled at the provider: %r" % r.body[:300])
    u = usage_of(rid)
    check(0 < u["output_tokens"] < 40, "the usage so far is part of the run: %r" % u)
    eq(state(acct), (before - charge_of(u), 0), "charged the usage so far when the cancel was answered")
    settled_once(acct, before, u, "the cancel")
    r = call("/openai/v1/responses/%s/cancel" % rid, {}, headers={"Creditd-Account": acct})
    eq(r.status, 400, "a cancel of a cancelled run: the provider's 400")
    settled_once(acct, before, u, "a cancel again")
    other = new_account("gwbgx")
    r = call("/openai/v1/responses/%s/cancel" % rid, {}, headers={"Creditd-Account": other})
    eq(r.status, 404, "another account's cancel: 404")
    verify()


def test_a_creditd_killed_mid_run_settles_the_run_after_its_restart():
    slow()
    reset()
    acct = new_account("gwbg")
    before = state(acct)[0]
    rid = create(acct)
    move(rid, "in_progress")
    stack.creditd_kill9()
    move(rid, "completed")
    config(1, 2)	# the restart, with a fast poll: the run is found in the database
    settled_once(acct, before, usage_of(rid), "after the restart, by the poll")
    ended_on_record(rid, ("ended", "completed"), "ended on record")
    verify()


def test_the_webhook_the_poll_and_the_client_s_get_racing_settle_each_run_once():
    if _conf.get("poll") != 1:
        config(1, 2)
    reset()
    runs = []
    for i in range(6):
        acct = new_account("gwbgr")
        runs.append((acct, state(acct)[0], create(acct)))
    for acct, _, rid in runs:
        move(rid, "completed")
    threads = []
    for acct, _, rid in runs:
        threads.append(threading.Thread(target=hook, args=(event(rid),)))
        threads.append(threading.Thread(target=call, args=("/openai/v1/responses/" + rid, None),
                                        kwargs={"headers": {"Creditd-Account": acct}}))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(3)	# the poll's round comes too
    for acct, before, rid in runs:
        settled_once(acct, before, usage_of(rid), "raced " + rid)
        ended_on_record(rid, ("ended", "completed"), "ended")
    verify()


def fast():
    if _conf.get("poll") != 1:
        config(1, 2)


def hold_row(acct):
    """The account's one hold: its state, amount, what it keeps unresolved, seconds left."""
    rows = sql("SELECT h.state, h.amount_micros, COALESCE(h.unresolved_input_micros, -1), "
               "h.expires_at - UNIX_TIMESTAMP() FROM holds h JOIN accounts a ON a.id = h.account_id "
               "WHERE a.ext_id = '%s'" % acct)
    eq(len(rows), 1, "one hold")
    return rows[0][0], int(rows[0][1]), int(rows[0][2]), int(rows[0][3])


def dims_usage(rid, searches):
    """The run's usage as gateway_bill.expected reads it (the fake's figures)."""
    u = usage_of(rid)
    return {"input_tokens": u["input_tokens"], "cached_input_tokens": u["input_tokens_details"]["cached_tokens"],
            "cache_write_input_tokens": 0, "audio_input_tokens": 0, "cache_write_1h_tokens": 0,
            "output_tokens": u["output_tokens"], "audio_output_tokens": 0, "web_searches": searches}


def dims_run(acct, searches, size):
    """A gpt-dims run at the priority tier with web searches of size."""
    mode(service_tier="priority", web_searches=searches)
    try:
        return create(acct, model="gpt-dims", service_tier="priority",
                      tools=[{"type": "web_search", "search_context_size": size}])
    finally:
        mode()


def last_over_hold(acct):
    return [r[0] for r in sql("SELECT u.over_hold FROM usage_records u JOIN accounts a ON a.id = u.account_id "
                              "WHERE a.ext_id = '%s' ORDER BY u.id" % acct)]


def test_a_run_s_tier_and_web_searches_are_charged_as_asked_not_flagged():
    fast()
    _price()
    reset()
    acct = new_account("gwbgd")
    before = state(acct)[0]
    rid = dims_run(acct, 2, "high")
    move(rid, "completed")
    check(wait_until(lambda: state(acct)[1] == 0, timeout=15), "settled by the poll")
    want = expected(PRICE["gpt-dims"], dims_usage(rid, 2), "priority", "high")
    eq(before - state(acct)[0], want, "the priority tokens and two high-size searches, to the micro")
    eq(last_over_hold(acct), ["0"], "asked priority and searches: nothing beyond what was asked")
    verify()


def test_creditctl_sweep_settles_a_run_with_its_searches_priced():
    fast()
    _price()
    reset()
    acct = new_account("gwbgs")
    before = state(acct)[0]
    rid = dims_run(acct, 1, "medium")
    stack.creditd_kill9()	# no poll but the sweep's
    _conf.clear()
    move(rid, "completed")
    sql("UPDATE gateway_background SET next_poll_at = 0 WHERE response_id = '%s'" % rid)
    creditctl("sweep")
    # Read before creditd is back (its poll would settle the run too).
    ended_on_record(rid, ("ended", "completed"), "the sweep's poll ended it")
    want = expected(PRICE["gpt-dims"], dims_usage(rid, 1), "priority", "medium")
    cost = sql("SELECT u.cost_micros FROM usage_records u JOIN accounts a ON a.id = u.account_id "
               "WHERE a.ext_id = '%s'" % acct)
    eq(cost, [[str(want)]], "charged its search's fee too (the sweep loaded the prices)")
    eq(last_over_hold(acct), ["0"], "not flagged")
    fast()
    eq(before - state(acct)[0], want, "the balance moved by that")
    verify()


def test_every_running_run_s_hold_is_renewed_each_round_due_or_not():
    fast()
    reset()
    acct = new_account("gwbgn")
    rid = create(acct)
    sql("UPDATE gateway_background SET next_poll_at = UNIX_TIMESTAMP() + 3600 WHERE response_id = '%s'" % rid)
    sql("UPDATE holds h JOIN accounts a ON a.id = h.account_id SET h.expires_at = UNIX_TIMESTAMP() + 30 "
        "WHERE a.ext_id = '%s'" % acct)
    check(wait_until(lambda: hold_row(acct)[3] > 3000, timeout=10),
          "a run not due has its hold renewed all the same: %r" % (hold_row(acct),))
    move(rid, "completed")
    eq(hook(event(rid)).status, 200, "the webhook")
    check(wait_until(lambda: state(acct)[1] == 0, timeout=15), "settled")
    verify()


def test_a_run_whose_hold_expired_while_creditd_was_away_is_settled_at_its_usage_never_captured():
    """creditd away longer than a round's hour: the run's hold is past its
    expiry when creditd comes back. With creditd down, `creditctl sweep`
    (its ledger passes run before its background rounds) meets the expired
    hold before any round could renew it: it stays pending while its run
    lives, and the run's end settles it at its usage, never the whole hold."""
    slow()
    reset()
    acct = new_account("gwbgaway")
    before = state(acct)[0]
    rid = create(acct)
    move(rid, "in_progress")
    held = hold_row(acct)[1]
    money = lambda: tuple(int(x) for x in sql("SELECT balance_micros, reserved_micros FROM accounts "
                                              "WHERE ext_id = '%s'" % acct)[0])
    stack.creditd_kill9()
    try:
        sql("UPDATE holds h JOIN accounts a ON a.id = h.account_id SET h.expires_at = UNIX_TIMESTAMP() - 60 "
            "WHERE a.ext_id = '%s'" % acct)
        sql("UPDATE accounts SET sweep_due_at = UNIX_TIMESTAMP() - 60 WHERE ext_id = '%s'" % acct)
        creditctl("sweep")
        eq((hold_row(acct)[0], money()), ("pending", (before, held)),
           "the running run's expired hold left pending by the sweep, nothing captured")
    finally:
        config(60, 120)
    move(rid, "completed")
    eq(hook(event(rid)).status, 200, "the webhook")
    settled_once(acct, before, usage_of(rid), "its end, after the expiry")
    ended_on_record(rid, ("ended", "completed"), "ended on record")
    verify()


def test_a_run_given_up_after_a_sweep_skipped_its_hold_is_charged_at_unresolved_days():
    """A sweep while the run lives skips its hold and keeps the account due
    an hour on (not never): the run given up later leaves the hold
    unresolved, and unresolved_days on the sweep charges its input bound
    (docs/gateway.md, "Background responses")."""
    from lib import clock_now, clock_reset, clock_set
    fast()
    reset()
    acct = new_account("gwbgskip")
    rid = create(acct)
    move(rid, "in_progress")
    due = lambda: sql("SELECT sweep_due_at, UNIX_TIMESTAMP() FROM accounts WHERE ext_id = '%s'" % acct)[0]
    sql("UPDATE accounts SET sweep_due_at = UNIX_TIMESTAMP() - 1 WHERE ext_id = '%s'" % acct)
    looked = lambda d: d[0] in (None, "NULL") or int(d[0]) > int(d[1])
    check(wait_until(lambda: looked(due()), timeout=10), "swept while the run lives: %r" % (due(),))
    eq(hold_row(acct)[0], "pending", "the run's hold skipped")
    sql("UPDATE gateway_background SET created_at = created_at - 4 * 86400, next_poll_at = 0 "
        "WHERE response_id = '%s'" % rid)
    check(wait_until(lambda: run_row(rid)[0] == "ended", timeout=15), "given up past its days: %r" % (run_row(rid),))
    h = hold_row(acct)
    check(h[0] == "pending" and h[2] > 0, "kept unresolved at its input bound: %r" % (h,))
    before = state(acct)[0]
    try:
        clock_set(clock_now() + 8 * 86400)
        check(wait_until(lambda: hold_row(acct)[0] != "pending", timeout=15),
              "unresolved_days on, the sweep took it: %r, due %r" % (hold_row(acct), due()))
        eq(before - state(acct)[0], h[2], "charged its input bound, not the whole hold")
    finally:
        clock_reset()
    verify()


def test_a_running_run_s_hold_already_expired_is_renewed_by_the_next_round():
    """The sweep never takes it (sql/084), so the round renews it, expired
    or not: its expiry is ahead again, its reserve kept."""
    fast()
    reset()
    acct = new_account("gwbgexp")
    rid = create(acct)
    held = hold_row(acct)[1]
    sql("UPDATE holds h JOIN accounts a ON a.id = h.account_id SET h.expires_at = UNIX_TIMESTAMP() - 60 "
        "WHERE a.ext_id = '%s'" % acct)
    check(wait_until(lambda: hold_row(acct)[3] > 3000, timeout=10),
          "an expired hold of a running run renewed: %r" % (hold_row(acct),))
    eq((hold_row(acct)[0], state(acct)[1]), ("pending", held), "still pending, its reserve kept")
    move(rid, "completed")
    eq(hook(event(rid)).status, 200, "the webhook")
    check(wait_until(lambda: state(acct)[1] == 0, timeout=15), "settled")
    verify()


def fake_delete(rid):
    """DELETE /v1/responses/{id} at the fake provider itself (not through creditd)."""
    u = urllib.parse.urlsplit(ENV["CREDITD_PROVIDER_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("DELETE", "/v1/responses/" + rid, headers={"Authorization": "Bearer sk-fake-openai"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def test_a_delete_of_a_running_run_is_refused_and_of_an_ended_one_settles_it_first():
    slow()
    reset()
    acct = new_account("gwbgdel")
    before = state(acct)[0]
    rid = create(acct)
    held = state(acct)
    r = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": acct})
    eq(r.status, 200, "retrieved")
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    def delete():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("DELETE", "/openai/v1/responses/" + rid, headers={"Authorization": "Bearer " + key("guard"),
                                                                    "Creditd-Account": acct})
        got = c.getresponse()
        body = json.loads(got.read() or b"null")
        c.close()
        return got.status, body
    status, body = delete()
    eq(status, 409, "a running run's response is not deleted: %r" % body)
    eq((body["error"]["type"], "cancel" in body["error"]["message"]), ("invalid_request_error", True),
       "OpenAI's error shape, saying to cancel it first: %r" % body)
    eq(state(acct), held, "nothing settled")
    eq(run_row(rid), ("running", "queued"), "still running")
    move(rid, "completed")
    status, body = delete()
    eq((status, body.get("deleted")), (200, True), "an ended run: deleted at the provider: %r" % body)
    settled_once(acct, before, usage_of(rid), "the DELETE of an ended run")
    ended_on_record(rid, ("ended", "completed"), "ended on record")
    verify()


def test_a_run_its_provider_no_longer_knows_is_given_up_at_its_hold():
    fast()
    reset()
    acct = new_account("gwbg404")
    rid = create(acct)
    eq(fake_delete(rid), 200, "deleted at the provider behind creditd's back")
    check(wait_until(lambda: run_row(rid)[0] == "ended", timeout=15), "given up after two 404 polls: %r"
          % (run_row(rid),))
    ended_on_record(rid, ("ended", "gone"), "ended as gone")
    st, amount, unresolved, _ = hold_row(acct)
    eq((st, unresolved), ("pending", amount), "its hold kept unresolved at all it held (not its input bound)")
    verify()


def test_a_run_whose_answer_is_past_the_poll_s_budget_is_settled_from_its_tail():
    fast()
    reset()
    acct = new_account("gwbgbig")
    before = state(acct)[0]
    mode(word_bytes=1100000)	# 16 words of 1.1 MB: past the poll's 16 MiB
    try:
        rid = create(acct)
    finally:
        mode()
    provider("POST", "/_background", {"id": rid, "status": "completed"})
    settled_once(acct, before, usage_of(rid), "an answer too large to keep, its usage read from its tail")
    ended_on_record(rid, ("ended", "completed"), "ended on record")
    verify()


def gets_of(rid):
    return len([r for r in provider("GET", "/_requests")
                if r["method"] == "GET" and r["path"] == "/v1/responses/" + rid])


def test_a_run_being_polled_is_not_polled_again_by_creditctl_sweep():
    fast()
    reset()
    acct = new_account("gwbgclaim")
    before = state(acct)[0]
    rid = create(acct)
    mode(get_delay_ms=6000)	# a poll's GET answered 6 s after it came
    check(wait_until(lambda: gets_of(rid) == 1, timeout=10), "creditd's poll asked once")
    creditctl("sweep")	# creditd's poll still waits for its answer
    eq(gets_of(rid), 1, "the sweep did not ask for the run creditd's poll has in hand")
    mode()
    move(rid, "completed")
    r = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": acct})
    eq((r.status, r.json["status"]), (200, "completed"), "the client's GET sees it ended")
    settled_once(acct, before, usage_of(rid), "the client's GET after")
    verify()


def test_a_webhook_that_comes_while_its_run_is_being_polled_is_not_lost():
    """OpenAI's webhook says the run ended while creditd's poll of it waits
    for an answer the provider made before it ended ("in_progress"): the
    poll sets the run's next look only where its claim still stands, so
    the webhook's "look now" stands and the run is asked for again at once
    and settled, not a backoff later (60 s here). The poll's write used to
    overwrite the webhook's: a run ended was settled at the next poll."""
    slow()
    reset()
    acct = new_account("gwbgwake")
    before = state(acct)[0]
    rid = create(acct)
    move(rid, "in_progress")
    mode(get_delay_ms=3000)	# a poll's GET answered 3 s after it came, as the run was then
    try:
        eq(hook(event(rid), msg_id="msg_wake_1").status, 200, "a first webhook: the run looked at now")
        check(wait_until(lambda: gets_of(rid) == 1, timeout=10), "creditd's poll asked, its answer not back yet")
        move(rid, "completed")
        eq(hook(event(rid), msg_id="msg_wake_2").status, 200, "the webhook of its end, during the poll")
    finally:
        mode()
    check(wait_until(lambda: gets_of(rid) == 2, timeout=10), "asked again at once: %d asks" % gets_of(rid))
    settled_once(acct, before, usage_of(rid), "the webhook during a poll")
    ended_on_record(rid, ("ended", "completed"), "ended on record")
    verify()


def test_a_webhook_that_comes_before_the_prices_are_loaded_is_not_lost():
    """creditd restarted while its price list cannot be read yet (the
    models table locked) meets a run that ended while it was away, and its
    webhook: no run is claimed before the prices are loaded, so neither the
    start's look nor the webhook's "look now" is spent, and the run is
    settled within seconds (by this creditd once its prices load, or by the
    stack's other instance). The poll used to claim the run, learn nothing
    without prices and set its next look a back-off away (60 s)."""
    slow()
    reset()
    acct = new_account("gwbgcold")
    before = state(acct)[0]
    rid = create(acct)
    move(rid, "completed")
    cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
    locker = subprocess.Popen(["mariadb", "--defaults-file=" + cnf, "creditd", "-e",
                               "LOCK TABLES models WRITE; SELECT SLEEP(5); UNLOCK TABLES"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        check(wait_until(lambda: sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                     "WHERE INFO = 'SELECT SLEEP(5)'")[0][0] == "1", timeout=10), "the lock taken")
        config(60, 120)         # /healthz answers: it reads no price
        eq(hook(event(rid), msg_id="msg_cold").status, 200, "the webhook, the prices not loaded yet")
    finally:
        eq(locker.wait(timeout=30), 0, "the lock was taken and let go: %r" % locker.stderr.read())
    settled_once(acct, before, usage_of(rid), "the webhook before the prices")
    ended_on_record(rid, ("ended", "completed"), "ended on record")
    verify()


def test_a_run_past_its_days_whose_hold_is_pending_no_more_ends_not_polled_forever():
    fast()
    reset()
    acct = new_account("gwbgold")
    before = state(acct)[0]
    rid = create(acct)
    move(rid, "completed")
    r = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": acct})
    eq(r.status, 200, "retrieved: settled")
    settled_once(acct, before, usage_of(rid), "the GET")
    # A row left running past its days (its settle's end not written), its hold settled.
    sql("UPDATE gateway_background SET state = 'running', ended_at = NULL, created_at = UNIX_TIMESTAMP() - 4 * 86400, "
        "next_poll_at = 0 WHERE response_id = '%s'" % rid)
    check(wait_until(lambda: run_row(rid)[0] == "ended", timeout=10), "given up and ended: %r" % (run_row(rid),))
    settled_once(acct, before, usage_of(rid), "nothing more charged or kept")
    verify()


def test_a_queued_answer_not_received_whole_keeps_its_hold_unresolved_never_an_estimate():
    from test_82_gateway_capacity import with_gateway

    def run():
        reset()
        acct = new_account("gwbgcut")
        before = state(acct)[0]
        # The fake echoes instructions in the response object: a queued
        # answer past max_buffered_mib (1 MiB), not kept whole.
        r = call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": INPUT, "max_output_tokens": 40,
                                          "background": True, "instructions": "x " * 700000},
                 headers={"Creditd-Account": acct})
        eq(r.status, 504, "not answered as a run creditd follows: %r" % r.body[:300])
        eq(r.headers.get("x-should-retry"), "false", "an SDK must not make a second run")
        st, amount, unresolved, _ = hold_row(acct)
        eq(st, "pending", "its hold waits for the operator (the provider runs it and bills it)")
        check(0 <= unresolved <= amount, "kept unresolved: %r" % ((st, amount, unresolved),))
        eq(reasons(acct), [], "no estimate settled")
        eq(state(acct)[0], before, "nothing charged")
    _conf.clear()
    with_gateway("max_buffered_mib = 1\n", run)


def test_the_official_sdk_creates_a_background_run_and_retrieves_it_settled():
    ensure_prices()
    reset()
    acct = new_account("gwbgsdk")
    before = state(acct)[0]
    out = sdk("openai_background_create", acct)
    eq(out["status"], "queued", "the SDK's create answered queued: %r" % out)
    rid = out["id"]
    move(rid, "completed")
    os.environ["RESPONSE_ID"] = rid
    try:
        out = sdk("openai_background_retrieve", acct)
    finally:
        del os.environ["RESPONSE_ID"]
    eq((out["status"], out["id"]), ("completed", rid), "retrieved ended: %r" % out)
    eq(out["usage"], usage_of(rid), "its usage as the provider reported it")
    settled_once(acct, before, usage_of(rid), "the SDK's retrieve")
    verify()
