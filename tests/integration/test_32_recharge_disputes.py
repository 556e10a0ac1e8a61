"""test_32_recharge_disputes.py: an auto-recharge is a Stripe-funded credit
like a Checkout top-up (DESIGN §10): its dispute takes the credit back
once, a won one gives it back, and its refund takes it back."""
import json
import secrets

from lib import check, eq, parallel, verify
from test_30_stripe import RATE, balance, charge_event, delivered, ok_mode, post_payload, sign
from test_31_stripe_trust import causes, dispute_event, status_of
from test_57_autorecharge import intents, near_threshold, payment_mode, pi_event, reached, spend, with_card


def recharged(cents=1500):
    """An account whose auto-recharge of cents was paid and credited: the
    account and the recharge's PaymentIntent id."""
    ok_mode()
    payment_mode("ok")
    acct = with_card("ard")
    near_threshold(acct, cents)
    eq(spend(acct), [200], "below the threshold")
    check(reached(acct, "succeeded", timeout=15), "the recharge is credited")
    return acct, intents(acct)[0]["id"]


def test_recharge_dispute_takes_back_once_and_won_gives_back():
    acct, pi = recharged(5000)
    paid = balance(acct)
    charge, du = "ch_" + secrets.token_hex(12), "du_" + secrets.token_hex(10)
    payloads = [json.dumps(dispute_event("charge.dispute.created", pi, 5000, dispute=du, charge=charge))
                for _ in range(10)]
    results = parallel(10, lambda i: post_payload(payloads[i], sign(payloads[i])))
    check(all(r.status == 200 for r in results), "acknowledged: %r" % results)
    eq(balance(acct), paid - 5000 * RATE, "the recharge's credit taken back once")
    eq([t["amount_micros"] for t in causes(acct, "dispute")], [-5000 * RATE], "one dispute entry")
    eq(status_of(acct), ("suspended", "dispute"), "suspended")
    delivered(dispute_event("charge.dispute.closed", pi, 5000, status="won", dispute=du, charge=charge))
    delivered(dispute_event("charge.dispute.closed", pi, 5000, status="won", dispute=du, charge=charge))
    eq(balance(acct), paid, "won: given back once")
    verify()


def test_recharge_refund_takes_back():
    acct, pi = recharged(1500)
    paid = balance(acct)
    delivered(charge_event(pi, acct, 500, amount=1500))
    eq(balance(acct), paid - 500 * RATE, "a third refunded: a third of the credit")
    delivered(charge_event(pi, acct, 1500, amount=1500))
    delivered(charge_event(pi, acct, 1500, amount=1500))
    eq(balance(acct), paid - 1500 * RATE, "fully refunded: the whole credit, once")
    verify()


def test_recharge_dispute_before_its_credit_is_applied_with_it():
    ok_mode()
    payment_mode("processing")
    try:
        acct = with_card("ardearly")
        near_threshold(acct, 1200)
        eq(spend(acct), [200], "below the threshold")
        check(reached(acct, "sent", timeout=10), "sent, not paid yet")
        pi = intents(acct)[0]["id"]
        before = balance(acct)
        delivered(dispute_event("charge.dispute.created", pi, 1200))
        eq(balance(acct), before, "nothing to take yet")
        payload, sig = pi_event(pi)
        eq(post_payload(payload, sig).status, 200, "payment_intent.succeeded")
        eq(balance(acct), before, "credited and taken back by the dispute that came first")
        eq([t["amount_micros"] for t in causes(acct, "dispute")], [-1200 * RATE], "one dispute entry")
    finally:
        payment_mode("ok")
    verify()
