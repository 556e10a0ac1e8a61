"""test_34_payment_news.py: a payment left without news (DESIGN §10, "Stripe:
only what creditd asked for"). A PaymentIntent creditd made off-session (an
auto-recharge, a pay-as-you-go collection) that Stripe answered processing,
and whose webhook never comes, is fetched (GET /v1/payment_intents/{id}, no
Idempotency-Key) 15 minutes after it was made, and its status applied as
its event would be: succeeded credits (once: a late webhook credits nothing
more), requires_payment_method or canceled fail (once: a late
payment_failed changes nothing more), processing is fetched again later,
its age doubled, and not after 3 days.

The stand-in's POST /_payment_intents/<id>/status changes what the GET
answers without sending any event (the webhook lost); the stack's test
clock is moved forward past the 15 minutes (and the days), and put back
in a finally. Webhooks sent once the clock moved are signed at its time."""
import time

from lib import check, clock_now, clock_reset, eq, sql, verify, wait_until
from test_30_stripe import RATE, fake, ok_mode, post_payload
from test_33_payg import at, collection, field, next_month, payg_account, payg_intents, payment_credits, pi_event, \
    restore
from test_57_autorecharge import acct_get, events_of, intents, near_threshold, payment_mode, reached, recharges, \
    spend, with_card

MINUTE = 60
DAY = 86400
QUIET = 2.0        # seconds: several rounds of the sender, which looks for due charges every 250 ms


def set_status(pid, status):
    """What became of the PaymentIntent at the bank, with no event sent."""
    return fake("POST", "/_payment_intents/%s/status" % pid, {"status": status})


def fetches(pid):
    """Every GET of the PaymentIntent the stand-in received."""
    return [e for e in fake("GET", "/_requests")
            if e["method"] == "GET" and e["path"] == "/v1/payment_intents/" + pid]


def grants_of(pid):
    return sql("SELECT COUNT(*), COALESCE(SUM(amount_micros), 0) FROM grants WHERE reference = '%s'" % pid)


def processing_recharge(prefix, cents=1500):
    """An account whose auto-recharge Stripe answered processing: (account,
    its PaymentIntent's id, the stack's time when it was sent)."""
    ok_mode()
    payment_mode("processing")
    acct = with_card(prefix)
    near_threshold(acct, cents)
    eq(spend(acct), [200], "a charge below the threshold")
    check(reached(acct, "sent", timeout=10), "sent, not paid yet: %r" % recharges(acct))
    payment_mode("ok")
    pis = intents(acct)
    eq([p["status"] for p in pis], ["processing"], "one PaymentIntent, processing")
    return acct, pis[0]["id"], clock_now()


def processing_collection(debt, prefix):
    """An account whose collection of debt Stripe answered processing, at
    the first month change: (account, PaymentIntent id, the time it was sent)."""
    ok_mode()
    acct, _ = payg_account(debt, prefix)
    start, _ = next_month(clock_now())
    payment_mode("processing")
    at(start + 5)
    check(wait_until(lambda: len(payg_intents(acct)) == 1, timeout=10), "sent: %r" % intents(acct))
    payment_mode("ok")
    check(wait_until(lambda: sql("SELECT r.state FROM recharges r JOIN accounts a ON a.id = r.account_id WHERE "
                                 "a.ext_id = '%s' AND r.kind = 'payg'" % acct) == [["sent"]], timeout=10),
          "recorded as sent")
    return acct, payg_intents(acct)[0]["id"], clock_now()


def quiet_before_15_minutes(pid, sent):
    """Nothing happens until the payment is 15 minutes without news."""
    at(sent + 14 * MINUTE)
    time.sleep(QUIET)
    eq(fetches(pid), [], "not fetched 14 minutes after it was made")


def test_an_auto_recharge_without_news_is_fetched_and_credited_once():
    acct, pid, sent = processing_recharge("news")
    try:
        set_status(pid, "succeeded")
        before = acct_get(acct)["balance_micros"]
        quiet_before_15_minutes(pid, sent)
        eq(recharges(acct)[0][1], "sent", "still in flight at 14 minutes")
        eq(acct_get(acct)["balance_micros"], before, "nothing credited yet")
        at(sent + 16 * MINUTE)
        check(reached(acct, "succeeded", timeout=10), "credited from the fetch: %r" % recharges(acct))
        got = fetches(pid)
        eq(len(got), 1, "fetched once")
        eq((got[0]["headers"].get("idempotency-key"), got[0]["body"], got[0]["query"], got[0]["status"]),
           (None, "", "", 200), "a plain GET: no Idempotency-Key, no body, no parameters")
        eq(acct_get(acct)["balance_micros"], before + 1500 * RATE, "credited what was received")
        eq(grants_of(pid), [["1", str(1500 * RATE)]], "one grant of the payment")
        ev = events_of(acct, "autorecharge.succeeded")
        eq((len(ev), ev[0]["payment_intent"]), (1, pid), "one autorecharge.succeeded")
        # The webhook comes after all: it credits nothing more.
        payload, sig = pi_event(pid)
        r = post_payload(payload, sig)
        eq(r.status, 200, "the late webhook acknowledged")
        check(r.json["outcome"].startswith("duplicate"), "and ignored: %r" % r.json)
        eq(acct_get(acct)["balance_micros"], before + 1500 * RATE, "still credited once")
        eq(len(events_of(acct, "autorecharge.succeeded")), 1, "still one event")
        time.sleep(QUIET)
        eq(len(fetches(pid)), 1, "not fetched again once it ended")
    finally:
        clock_reset()
        payment_mode("ok")
    verify()


def test_a_webhook_that_came_first_leaves_nothing_to_fetch():
    acct, pid, sent = processing_recharge("newshook")
    try:
        set_status(pid, "succeeded")
        before = acct_get(acct)["balance_micros"]
        payload, sig = pi_event(pid)
        eq(post_payload(payload, sig).status, 200, "the webhook in time")
        eq(recharges(acct)[0][1], "succeeded", "credited by it")
        at(sent + 16 * MINUTE)
        time.sleep(QUIET)
        eq(fetches(pid), [], "nothing fetched: the news came")
        eq(acct_get(acct)["balance_micros"], before + 1500 * RATE, "credited once")
    finally:
        clock_reset()
    verify()


def test_a_canceled_auto_recharge_fails_once():
    acct, pid, sent = processing_recharge("newscancel")
    try:
        set_status(pid, "canceled")
        at(sent + 16 * MINUTE)
        check(reached(acct, "failed", timeout=10), "failed from the fetch: %r" % recharges(acct))
        ev = events_of(acct, "autorecharge.failed")
        eq((len(ev), ev[0]["failures_in_a_row"]), (1, 1), "one autorecharge.failed, counted")
        check("cancel" in ev[0]["error"], "says why: %r" % ev[0])
        payload, sig = pi_event(pid, "payment_intent.payment_failed")
        r = post_payload(payload, sig)
        eq(r.status, 200, "a late payment_failed acknowledged")
        check(r.json["outcome"].startswith("ignored"), "and ignored: %r" % r.json)
        eq(len(events_of(acct, "autorecharge.failed")), 1, "failed once")
        eq(grants_of(pid), [["0", "0"]], "nothing credited")
    finally:
        clock_reset()
    verify()


def test_a_collection_without_news_is_fetched_and_credited_once():
    debt = 7000000
    acct, pid, sent = processing_collection(debt, "paygnews")
    try:
        set_status(pid, "succeeded")
        quiet_before_15_minutes(pid, sent)
        eq(collection(acct)["state"], "pending", "still pending at 14 minutes")
        eq(acct_get(acct)["balance_micros"], -debt, "still owing")
        at(sent + 16 * MINUTE)
        check(wait_until(lambda: collection(acct)["state"] == "succeeded", timeout=10),
              "collected from the fetch: %r" % collection(acct))
        eq(len(fetches(pid)), 1, "fetched once")
        a = acct_get(acct)
        eq((a["balance_micros"], a["status"]), (0, "active"), "the debt paid")
        eq(payment_credits(acct), [(700 * RATE, "grant")], "one grant with source payment")
        ev = events_of(acct, "payg.collected")
        eq((len(ev), ev[0]["payment_intent"]), (1, pid), "one payg.collected")
        payload, sig = pi_event(pid)
        r = post_payload(payload, sig)
        eq(r.status, 200, "the late webhook acknowledged")
        check(r.json["outcome"].startswith("duplicate"), "and ignored: %r" % r.json)
        eq(payment_credits(acct), [(700 * RATE, "grant")], "still one grant")
        eq(len(events_of(acct, "payg.collected")), 1, "still one event")
        eq(collection(acct)["state"], "succeeded", "the collection succeeded")
    finally:
        restore(acct)
    verify()


def test_a_collection_declined_without_news_fails_as_its_webhook_would():
    debt = 9000000
    acct, pid, sent = processing_collection(debt, "paygnewsfail")
    try:
        set_status(pid, "requires_payment_method")
        quiet_before_15_minutes(pid, sent)
        eq(events_of(acct, "payg.failed"), [], "no failure at 14 minutes")
        eq(acct_get(acct)["status"], "active", "not suspended yet")
        at(sent + 16 * MINUTE)
        check(wait_until(lambda: len(events_of(acct, "payg.failed")) == 1, timeout=10), "failed from the fetch")
        ev = events_of(acct, "payg.failed")[0]
        eq((ev["tries"], ev["error"]), (1, "Your card has insufficient funds."), "payg.failed with Stripe's message")
        check(ev["next_try_at"] is not None, "a retry scheduled: %r" % ev)
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason")), ("suspended", "payment_failed"), "suspended")
        col = collection(acct)
        eq((col["state"], col["tries"]), ("failed", 1), "the try failed")
        check(col["next_try_at"] is not None, "the next try scheduled: %r" % col)
        # The webhook comes after all: it changes nothing more.
        payload, sig = pi_event(pid, "payment_intent.payment_failed")
        r = post_payload(payload, sig)
        eq(r.status, 200, "the late payment_failed acknowledged")
        check(r.json["outcome"].startswith("ignored"), "and ignored: %r" % r.json)
        eq(len(events_of(acct, "payg.failed")), 1, "one payg.failed")
        eq(collection(acct), col, "the collection as it was")
        eq(acct_get(acct)["balance_micros"], -debt, "nothing credited")
        eq(len(fetches(pid)), 1, "fetched once")
    finally:
        restore(acct)
    verify()


def test_a_payment_still_processing_is_fetched_again_later_and_not_after_3_days():
    acct, pid, sent = processing_recharge("newslong")
    try:
        at(sent + 16 * MINUTE)
        check(wait_until(lambda: len(fetches(pid)) == 1, timeout=10), "fetched at 15 minutes")
        time.sleep(QUIET)
        eq(len(fetches(pid)), 1, "not again at once")
        eq(recharges(acct)[0][1], "sent", "still in flight")
        at(sent + 25 * MINUTE)
        time.sleep(QUIET)
        eq(len(fetches(pid)), 1, "not again before its age has doubled")
        at(sent + 33 * MINUTE)
        check(wait_until(lambda: len(fetches(pid)) == 2, timeout=10), "fetched again at about 32 minutes")
        at(sent + 3 * DAY + 60 * MINUTE)
        check(wait_until(lambda: len(fetches(pid)) == 3, timeout=10), "fetched a last time at 3 days")
        time.sleep(QUIET)
        at(sent + 5 * DAY)
        time.sleep(QUIET)
        eq(len(fetches(pid)), 3, "then left: not fetched after 3 days")
        eq(recharges(acct)[0][1], "sent", "left as it is, for its webhook")
        eq(sql("SELECT r.next_attempt_at FROM recharges r JOIN accounts a ON a.id = r.account_id "
               "WHERE a.ext_id = '%s'" % acct), [["0"]], "no further fetch planned")
        # Its webhook may still come: it is applied.
        before = acct_get(acct)["balance_micros"]
        set_status(pid, "succeeded")
        payload, sig = pi_event(pid)
        eq(post_payload(payload, sig).status, 200, "the webhook, days later")
        eq(recharges(acct)[0][1], "succeeded", "credited by it")
        eq(acct_get(acct)["balance_micros"], before + 1500 * RATE, "once")
    finally:
        clock_reset()
    verify()
