"""test_39_collection_tries.py: a pay-as-you-go collection is paid once,
whichever of its tries pays (DESIGN §13). A declined try's PaymentIntent
stays open at Stripe (requires_payment_method: the customer may still
authenticate it and pay); the next try has its own. When one try's payment
succeeds -- its webhook, or the sender's fetch of a payment left without
news (DESIGN §10) -- the collection is credited once, for that try's
amount; every other try still open is cancelled at Stripe (POST
/v1/payment_intents/{id}/cancel, cancellation_reason=duplicate, with an
Idempotency-Key) and no further try is sent. A try that succeeded before
its cancel could reach Stripe is a second payment: credited nothing more,
recorded as paid, and creditctl verify warns of it for the operator.

The stand-in's decline names the PaymentIntent it made (Stripe's
error.payment_intent); /_payment_intents/<id>/status changes what became
of one at the bank without an event. Each test moves the stack clock to
the month change and the days after (test_33's helpers), and puts it back
in a finally with the accounts out of debt."""
import time

from lib import check, clock_now, creditctl, eq, key_salt, sql, verify, wait_until
from test_30_stripe import RATE, fake, ok_mode, post_payload
from test_33_payg import (SWEEPS, at, collection, failed_seen, next_month, payg_account, payg_intents, payment_credits,
                          pi_event, pi_requests, restore, rfc3339)
from test_57_autorecharge import acct_get, events_of, payment_mode

MINUTE = 60
DAY = 86400


def set_status(pid, status):
    """What became of the PaymentIntent at the bank, with no event sent."""
    return fake("POST", "/_payment_intents/%s/status" % pid, {"status": status})


def status_at_stripe(pid):
    return [p["status"] for p in fake("GET", "/_payment_intents") if p["id"] == pid][0]


def cancels(pid):
    """The cancels of pid the stand-in received."""
    return [e for e in fake("GET", "/_requests")
            if e["method"] == "POST" and e["path"] == "/v1/payment_intents/%s/cancel" % pid]


def tries(acct):
    """payg_tries of acct's collections: {payment_intent: (try, state)}."""
    rows = sql("SELECT t.payment_intent, t.try_no, t.state FROM payg_tries t JOIN recharges r ON r.id = t.recharge_id "
               "JOIN accounts a ON a.id = r.account_id WHERE a.ext_id = '%s'" % acct)
    return {r[0]: (int(r[1]), r[2]) for r in rows}


def row_state(acct):
    rows = sql("SELECT r.state FROM recharges r JOIN accounts a ON a.id = r.account_id WHERE a.ext_id = '%s' "
               "AND r.kind = 'payg'" % acct)
    return rows[0][0] if rows else None


def declined_then(debt, prefix, mode="processing", **kw):
    """An account whose collection's try 1 was declined and try 2 sent
    (Stripe answering it as mode says): (account, period, try 1's
    PaymentIntent, the time try 2 was due). Try 2 is not waited for."""
    ok_mode()
    acct, _ = payg_account(debt, prefix)
    start, period = next_month(clock_now())
    payment_mode("decline")
    at(start + 5)
    check(failed_seen(acct), "try 1 declined: %r" % payg_intents(acct))
    declined = payg_intents(acct)
    eq([p["status"] for p in declined], ["requires_payment_method"], "try 1's PaymentIntent open at Stripe")
    retry = rfc3339(collection(acct)["next_try_at"])
    payment_mode(mode, **kw)
    at(retry + 2)
    return acct, period, declined[0]["id"], retry


def try_2_sent(acct, first):
    """Waits for try 2 to be with Stripe (processing): its PaymentIntent."""
    check(wait_until(lambda: len(payg_intents(acct)) == 2 and row_state(acct) == "sent", timeout=10),
          "try 2 sent: %r" % payg_intents(acct))
    payment_mode("ok")
    second = [p for p in payg_intents(acct) if p["id"] != first][0]
    eq(second["status"], "processing", "try 2 processing at Stripe")
    return second["id"]


def cancelled(pid):
    check(wait_until(lambda: status_at_stripe(pid) == "canceled", timeout=10),
          "%s cancelled at Stripe: %r %r" % (pid, status_at_stripe(pid), cancels(pid)))
    sent = cancels(pid)
    eq(len(sent), 1, "one cancel")
    eq((sent[0]["form"], sent[0]["status"]), ({"cancellation_reason": "duplicate"}, 200),
       "cancellation_reason=duplicate, accepted")
    eq(sent[0]["headers"].get("idempotency-key"), "payg-cancel-%s-%s" % (key_salt(), pid),
       "an Idempotency-Key with the deployment's salt")


def credited_once(acct, debt, cents, pid):
    a = acct_get(acct)
    eq(a["balance_micros"], cents * RATE - debt, "the debt repaid once")
    eq((a["status"], a["status_reason"]), ("active", None), "the payment_failed suspension lifted")
    eq(payment_credits(acct), [(cents * RATE, "grant")], "one payment grant")
    ev = events_of(acct, "payg.collected")
    eq([(e.get("payment_intent"), e.get("amount_cents")) for e in ev], [(pid, cents)],
       "one payg.collected, for %s" % pid)


def no_more_tries(acct, retry, sent):
    """Days later, past when try 3 would have been due: nothing more sent."""
    at(retry + 3 * DAY)
    time.sleep(SWEEPS)
    at(retry + 10 * DAY)
    time.sleep(SWEEPS)
    eq(len(pi_requests(acct)), sent, "no further try sent: %r" % [e["headers"].get("idempotency-key")
                                                                  for e in pi_requests(acct)])


def test_an_earlier_try_that_pays_late_is_credited_and_the_later_one_cancelled():
    debt = 20000000                                   # 20 EUR
    acct, period, first, retry = declined_then(debt, "tries")
    try:
        second = try_2_sent(acct, first)
        eq(collection(acct)["state"], "pending", "try 2 with Stripe")
        # The customer authenticates try 1's payment days late: it succeeds.
        set_status(first, "succeeded")
        payload, sig = pi_event(first)
        r = post_payload(payload, sig)
        eq(r.status, 200, "try 1's payment_intent.succeeded acknowledged")
        eq(r.json["outcome"], "collection credited", "and credited: %r" % r.json)
        credited_once(acct, debt, 2000, first)
        col = collection(acct)
        eq((col["period"], col["state"], col["tries"], col["amount_micros"], col["next_try_at"]),
           (period, "succeeded", 2, 2000 * RATE, None), "the collection paid, after two tries")
        cancelled(second)
        eq(tries(acct), {first: (1, "paid"), second: (2, "canceled")}, "try 1 paid, try 2 cancelled")
        # Its event again, and try 2's cancellation, change nothing.
        for _ in range(2):
            payload, sig = pi_event(first)
            eq(post_payload(payload, sig).status, 200, "acknowledged again")
        credited_once(acct, debt, 2000, first)
        no_more_tries(acct, retry, 2)
        eq(len(cancels(second)), 1, "cancelled once")
        verify()
        # creditctl verify names a try left open beside the payment.
        sql("UPDATE payg_tries SET state = 'open' WHERE payment_intent = '%s'" % second)
        try:
            p = creditctl("verify", check_rc=False)
            eq(p.returncode, 1, "a violation: %s" % p.stdout)
            check("violation: collection try open beside its payment: account %s: try still open %s, the "
                  "collection's payment %s" % (acct, second, first) in p.stdout, "named: %s" % p.stdout)
        finally:
            sql("UPDATE payg_tries SET state = 'canceled' WHERE payment_intent = '%s'" % second)
    finally:
        restore(acct)
    verify()


def test_the_try_with_stripe_paid_by_its_fetch_cancels_the_declined_one():
    debt = 9000000                                    # 9 EUR
    acct, _, first, retry = declined_then(debt, "triesnews")
    try:
        second = try_2_sent(acct, first)
        sent = clock_now()
        set_status(second, "succeeded")               # paid, and its webhook lost
        at(sent + 16 * MINUTE)
        check(wait_until(lambda: row_state(acct) == "succeeded", timeout=10), "credited from the fetch")
        credited_once(acct, debt, 900, second)
        cancelled(first)
        eq(tries(acct), {first: (1, "canceled"), second: (2, "paid")}, "try 2 paid, try 1 cancelled")
        # Try 1's late payment_failed (its card still refused) changes nothing.
        payload, sig = pi_event(first, "payment_intent.payment_failed")
        eq(post_payload(payload, sig).status, 200, "acknowledged")
        eq(acct_get(acct)["status"], "active", "not suspended again")
        no_more_tries(acct, retry, 2)
    finally:
        restore(acct)
    verify()


def test_a_try_answered_after_another_paid_is_cancelled_when_its_answer_comes():
    """Try 2 is with Stripe (its answer slow) when try 1's late payment is
    credited: the collection is paid, so try 2's PaymentIntent, once its
    answer names it, is cancelled at once."""
    debt = 7000000
    acct, _, first, retry = declined_then(debt, "triesrace", "processing", delay_seconds=2, count=1)
    try:
        check(wait_until(lambda: len(pi_requests(acct)) == 2, timeout=10), "try 2 at Stripe")
        set_status(first, "succeeded")
        payload, sig = pi_event(first)
        r = post_payload(payload, sig)
        eq((r.status, r.json["outcome"]), (200, "collection credited"), "try 1 credited while try 2 is with Stripe")
        check(wait_until(lambda: len(payg_intents(acct)) == 2, timeout=10), "try 2's answer came")
        second = [p["id"] for p in payg_intents(acct) if p["id"] != first][0]
        cancelled(second)
        credited_once(acct, debt, 700, first)
        eq(tries(acct), {first: (1, "paid"), second: (2, "canceled")}, "try 2 recorded, and cancelled")
        eq(row_state(acct), "succeeded", "the collection stays paid")
        no_more_tries(acct, retry, 2)
    finally:
        restore(acct)
    verify()


def test_a_try_that_paid_before_its_cancel_is_a_second_payment_credited_nothing():
    debt = 5000000
    acct, _, first, retry = declined_then(debt, "triestwice")
    try:
        second = try_2_sent(acct, first)
        set_status(second, "succeeded")               # the bank paid try 2; its webhook is late
        set_status(first, "succeeded")
        payload, sig = pi_event(first)
        eq(post_payload(payload, sig).json["outcome"], "collection credited", "try 1 credited first")
        check(wait_until(lambda: len(cancels(second)) == 1 and tries(acct).get(second) == (2, "paid"), timeout=10),
              "try 2's cancel refused, it paid: %r %r" % (cancels(second), tries(acct)))
        eq(cancels(second)[0]["status"], 400, "Stripe refused to cancel a succeeded PaymentIntent")
        payload, sig = pi_event(second)
        r = post_payload(payload, sig)
        eq((r.status, r.json["outcome"]), (200, "duplicate: collection credited already"), "try 2's late webhook")
        credited_once(acct, debt, 500, first)
        p = creditctl("verify", check_rc=False)
        eq(p.returncode, 0, "no violation: %s" % p.stdout)
        check("warning: collection paid by more than one try: account %s: tries paid 2, one (refund the others) 1"
              % acct in p.stdout, "a warning for the operator: %s" % p.stdout)
        no_more_tries(acct, retry, 2)
    finally:
        restore(acct)
