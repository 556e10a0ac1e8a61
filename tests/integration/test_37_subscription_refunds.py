"""test_37_subscription_refunds.py: a subscription's credit is refunded and
disputed like a top-up (DESIGN §13). An invoice.paid records the payment
that paid it (its payment intent and charge: on the invoice, or in
payments.data[0].payment in newer API versions) beside the credit it
bought, so that charge.refunded takes back the refunded share (once, never
beyond the credit) and charge.dispute.created takes back the disputed
share and suspends the account, and a dispute won gives it back: for a
price in no plan (the invoice's own credit) and for a catalogued plan (the
period's plan credit). creditctl verify names an invoice credit that kept
no payment."""
import json
import secrets
import time

from lib import api, check, creditctl, eq, new_account, parallel, sql, uid, verify
from test_30_stripe import RATE, balance, charge_event, delivered, event, give_customer, invoice_event, ok_mode
from test_31_stripe_trust import causes, dispute_event, status_of


def paid_invoice(acct, cents, price="price_pro_monthly", new_api=False, charge_only=False, reason=None):
    """A paid subscription invoice of cents for acct, delivered: its
    payment intent and charge."""
    customer = give_customer(acct)
    pi, charge = "pi_" + secrets.token_hex(12), "ch_" + secrets.token_hex(12)
    ev = invoice_event(customer, "sub_" + secrets.token_hex(10), cents, int(time.time()) + 30 * 86400, price=price)
    obj = ev["data"]["object"]
    if reason:
        obj["billing_reason"] = reason
    if charge_only:
        obj["payment_intent"], obj["charge"] = None, charge
    elif new_api:
        del obj["payment_intent"], obj["charge"]     # gone from the invoice since API 2025-03-31
        obj["payments"] = {"object": "list", "has_more": False, "data": [
            {"id": "inpay_" + secrets.token_hex(8), "object": "invoice_payment", "status": "paid",
             "payment": {"type": "payment_intent", "payment_intent": pi, "charge": charge}}]}
    else:
        obj["payment_intent"], obj["charge"] = pi, charge
    r = delivered(ev)
    check(r.json["outcome"] in ("plan credited", "ignored: the plan's credit for the period was already made"),
          "invoice: %r" % r.json)
    return pi, charge


def refund(acct, pi, charge, refunded, amount):
    ev = charge_event(pi, acct, refunded, amount=amount, charge=charge)
    ev["data"]["object"]["payment_intent"] = pi
    ev["data"]["object"]["metadata"] = {}
    return delivered(ev)


def test_a_price_in_no_plan_refunded_in_two_parts_takes_its_credit_back_once():
    ok_mode()
    acct = new_account("subref")
    base = balance(acct)
    pi, charge = paid_invoice(acct, 700)
    eq(balance(acct), base + 700 * RATE, "the invoice credited")
    eq(refund(acct, pi, charge, 350, 700).json["outcome"], "refunded", "half refunded")
    eq(balance(acct), base + 350 * RATE, "half the credit taken back")
    refund(acct, pi, charge, 350, 700)
    eq(balance(acct), base + 350 * RATE, "the same refund again: nothing more")
    refund(acct, pi, charge, 700, 700)
    eq(balance(acct), base, "refunded in full: the whole credit, once")
    eq(sum(t["amount_micros"] for t in causes(acct, "refund")), -700 * RATE, "refund entries")
    verify()


def test_a_disputed_subscription_is_taken_back_suspended_and_given_back_when_won():
    ok_mode()
    acct = new_account("subdis")
    base = balance(acct)
    pi, charge = paid_invoice(acct, 900, new_api=True)
    eq(balance(acct), base + 900 * RATE, "credited (payment named in payments.data[0])")
    du = "du_" + secrets.token_hex(10)
    outcomes = [delivered(dispute_event("charge.dispute.created", pi, 900, dispute=du, charge=charge)).json
                for _ in range(2)]
    eq(balance(acct), base, "the disputed credit taken back once: %r" % outcomes)
    eq(status_of(acct), ("suspended", "dispute"), "suspended for the dispute")
    delivered(dispute_event("charge.dispute.closed", pi, 900, status="won", dispute=du, charge=charge))
    eq(balance(acct), base + 900 * RATE, "won: given back")
    verify()
    api("PATCH", "/v1/accounts/" + acct, {"status": "active"})


def test_a_catalogued_plan_s_period_credit_is_refunded_with_its_invoice():
    ok_mode()
    plan, price = uid("subplan"), "price_" + secrets.token_hex(6)
    r = api("PUT", "/v1/plans/" + plan, {"credits_micros": 5 * 10 ** 6, "rollover": "none",
                                          "stripe_price_ids": [price]})
    check(r.status in (200, 201), "plan %r" % r)
    acct = new_account("subcat")
    base = balance(acct)
    pi, charge = paid_invoice(acct, 1500, price=price)
    eq(balance(acct), base + 5 * 10 ** 6, "the plan's credit for the period")
    refund(acct, pi, charge, 1500, 1500)
    eq(balance(acct), base, "the invoice refunded in full: the period's credit taken back")
    verify()


def test_a_trial_and_a_proration_first_leave_the_period_s_credit_to_the_paid_invoice():
    # Stripe bills on the subscription's date: a $0 trial invoice, or a
    # small proration, may come first in a month. Neither bought the
    # period's credit: the period's own invoice did, and its refund takes
    # it back.
    ok_mode()
    plan, price = uid("subtrial"), "price_" + secrets.token_hex(6)
    r = api("PUT", "/v1/plans/" + plan, {"credits_micros": 4 * 10 ** 6, "rollover": "none",
                                          "stripe_price_ids": [price]})
    check(r.status in (200, 201), "plan %r" % r)
    acct = new_account("subtrial")
    base = balance(acct)
    customer = give_customer(acct)
    trial = invoice_event(customer, "sub_" + secrets.token_hex(10), 0, int(time.time()) + 30 * 86400, price=price)
    eq(delivered(trial).json["outcome"], "ignored: not a paid subscription invoice", "a trial's $0 invoice")
    eq(balance(acct), base, "credits nothing")
    pro_pi, pro_charge = paid_invoice(acct, 120, price=price, reason="subscription_update")
    eq(balance(acct), base + 4 * 10 ** 6, "the proration, first, made the period's credit")
    pi, charge = paid_invoice(acct, 1500, price=price, reason="subscription_cycle")
    eq(balance(acct), base + 4 * 10 ** 6, "the period's credit once")
    refund(acct, pro_pi, pro_charge, 120, 120)
    eq(balance(acct), base + 4 * 10 ** 6, "the proration granted nothing: its refund takes nothing")
    refund(acct, pi, charge, 1500, 1500)
    eq(balance(acct), base, "the paid invoice's refund takes the period's credit back")
    verify()


def test_a_payment_known_by_its_charge_alone_is_refunded():
    ok_mode()
    acct = new_account("subch")
    base = balance(acct)
    _, charge = paid_invoice(acct, 500, charge_only=True)
    eq(balance(acct), base + 500 * RATE, "credited")
    refund(acct, None, charge, 500, 500)
    eq(balance(acct), base, "refunded by its charge")
    verify()


def test_verify_names_an_invoice_credit_without_its_payment():
    # A fresh one is a warning (its invoice_payment.paid may be seconds
    # away); one an hour old a violation.
    ok_mode()
    acct = new_account("subvf")
    pi, _ = paid_invoice(acct, 300)
    sql("UPDATE invoice_credits SET payment_intent = NULL, charge_id = NULL WHERE payment_intent = '%s'" % pi)
    try:
        p = creditctl("verify", check_rc=False)
        out = p.stdout + p.stderr
        check(p.returncode == 0 and "warning: invoice credit without its payment" in out,
              "a fresh one is a warning: %s" % out)
        sql("UPDATE invoice_credits SET created_at = created_at - 7200 WHERE account_id = (SELECT id FROM accounts "
            "WHERE ext_id = '%s')" % acct)
        p = creditctl("verify", check_rc=False)
        out = p.stdout + p.stderr
        check(p.returncode != 0 and "violation: invoice credit without its payment" in out,
              "an hour old, a violation: %s" % out)
    finally:
        sql("UPDATE invoice_credits SET payment_intent = '%s' WHERE account_id = (SELECT id FROM accounts "
            "WHERE ext_id = '%s')" % (pi, acct))
    verify()


# ---- API 2025-03-31 on: the payment in its own event ------------------------------

def unnamed_invoice(acct, cents, price="price_pro_monthly"):
    """An invoice.paid as Stripe sends it from API 2025-03-31 on: no
    payment intent, no charge, payments not expanded."""
    customer = give_customer(acct)
    ev = invoice_event(customer, "sub_" + secrets.token_hex(10), cents, int(time.time()) + 30 * 86400, price=price)
    ev["api_version"] = "2025-03-31.basil"
    del ev["data"]["object"]["payment_intent"], ev["data"]["object"]["charge"]
    return ev


def payment_event(invoice, cents, pi=None, charge=None, status="paid", top_level=False):
    # top_level: as Stripe's preview API versions (2025-11-17.preview) show it.
    """invoice_payment.paid of invoice: its payment intent (payment.type
    payment_intent) or its charge alone (payment.type charge)."""
    payment = ({"type": "payment_intent", "payment_intent": pi} if pi else {"type": "charge", "charge": charge})
    obj = {"id": "inpay_" + secrets.token_hex(10), "object": "invoice_payment", "amount_paid": cents,
           "amount_requested": cents, "created": int(time.time()), "currency": "eur", "invoice": invoice,
           "is_default": True, "livemode": False, "payment": payment, "status": status,
           "status_transitions": {"canceled_at": None, "paid_at": int(time.time())}}
    if top_level:
        del obj["payment"]
        obj["payment_intent"], obj["charge"] = pi, charge
    ev = event("invoice_payment.paid", obj)
    ev["api_version"] = "2025-03-31.basil"
    return ev


def credit_payment(invoice):
    return sql("SELECT COALESCE(payment_intent, '-'), COALESCE(charge_id, '-') FROM invoice_credits "
               "WHERE invoice_id = '%s'" % invoice)[0]


def test_an_invoice_naming_no_payment_takes_it_from_invoice_payment_paid_after_it():
    ok_mode()
    acct = new_account("subnews")
    base = balance(acct)
    ev = unnamed_invoice(acct, 800)
    invoice = ev["data"]["object"]["id"]
    eq(delivered(ev).json["outcome"], "plan credited", "invoice.paid naming no payment")
    eq(credit_payment(invoice), ["-", "-"], "no payment yet")
    pi, charge = "pi_" + secrets.token_hex(12), "ch_" + secrets.token_hex(12)
    eq(delivered(payment_event(invoice, 800, pi=pi)).json["outcome"], "invoice payment recorded",
       "invoice_payment.paid")
    eq(credit_payment(invoice), [pi, "-"], "the credit names its payment intent")
    verify()
    eq(refund(acct, pi, charge, 800, 800).json["outcome"], "refunded", "its refund is matched")
    eq(balance(acct), base, "the invoice's credit taken back")
    verify()


def test_a_refund_before_the_payment_is_known_waits_for_it():
    ok_mode()
    acct = new_account("subrwait")
    base = balance(acct)
    ev = unnamed_invoice(acct, 800)
    invoice = ev["data"]["object"]["id"]
    delivered(ev)
    pi, charge = "pi_" + secrets.token_hex(12), "ch_" + secrets.token_hex(12)
    r = refund(acct, pi, charge, 300, 800)
    eq(r.json["outcome"], "kept: no credit for this charge yet, applied if a credit comes to name its payment",
       "a refund of a payment no credit knows is kept, not dropped")
    refund(acct, pi, charge, 500, 800)
    eq(balance(acct), base + 800 * RATE, "nothing taken yet")
    eq(delivered(payment_event(invoice, 800, pi=pi)).json["outcome"], "invoice payment recorded", "its payment")
    eq(balance(acct), base + 300 * RATE, "the most refunded so far taken back once the credit names it")
    eq(sql("SELECT COUNT(*) FROM refunds_waiting WHERE charge_id = '%s'" % charge), [["0"]], "no longer waiting")
    eq(refund(acct, pi, charge, 500, 800).json["outcome"], "duplicate: refund already applied", "its event again")
    eq(refund(acct, pi, charge, 800, 800).json["outcome"], "refunded", "the rest later")
    eq(balance(acct), base, "all of it")
    verify()


def test_a_payment_of_another_amount_or_currency_is_not_taken():
    ok_mode()
    acct = new_account("subpmis")
    ev = unnamed_invoice(acct, 800)
    invoice = ev["data"]["object"]["id"]
    delivered(ev)
    r = delivered(payment_event(invoice, 100, pi="pi_" + secrets.token_hex(12)))
    eq(r.json["outcome"], "ignored: the payment's amount or currency is not its invoice's", "a smaller payment")
    other = payment_event(invoice, 800, pi="pi_" + secrets.token_hex(12))
    other["data"]["object"]["currency"] = "usd"
    try:
        eq(credit_payment(invoice), ["-", "-"], "the credit names none")
        p = creditctl("verify", check_rc=False)
        check(p.returncode != 0 and "invoice payment not named on its credit" in p.stdout,
              "verify names the payment left off its credit: %s" % p.stdout)
    finally:
        sql("DELETE FROM invoice_payments WHERE invoice_id = '%s'" % invoice)
    eq(delivered(other).json["outcome"], "ignored: the payment's amount or currency is not its invoice's",
       "a payment in another currency")
    sql("DELETE FROM invoice_payments WHERE invoice_id = '%s'" % invoice)
    # The other order: the payment first, the invoice of another amount.
    ev2 = unnamed_invoice(acct, 900)
    delivered(payment_event(ev2["data"]["object"]["id"], 901, pi="pi_" + secrets.token_hex(12)))
    delivered(ev2)
    eq(credit_payment(ev2["data"]["object"]["id"]), ["-", "-"], "not taken by invoice.paid either")
    sql("DELETE FROM invoice_payments WHERE invoice_id = '%s'" % ev2["data"]["object"]["id"])
    sql("UPDATE invoice_credits SET charge_id = 'ch_cleanup_%s' WHERE invoice_id IN ('%s', '%s')"
        % (secrets.token_hex(4), invoice, ev2["data"]["object"]["id"]))
    verify()


def test_invoice_payment_paid_before_its_invoice_is_kept_for_it():
    ok_mode()
    acct = new_account("subearly")
    base = balance(acct)
    ev = unnamed_invoice(acct, 600)
    invoice = ev["data"]["object"]["id"]
    charge = "ch_" + secrets.token_hex(12)
    early = payment_event(invoice, 600, charge=charge, top_level=True)
    eq(delivered(early).json["outcome"], "kept: named on the invoice's credit when invoice.paid comes",
       "the payment first")
    eq(balance(acct), base, "a payment alone credits nothing")
    eq(delivered(early).json["outcome"], "duplicate: event already processed", "its event again")
    eq(delivered(ev).json["outcome"], "plan credited", "then its invoice")
    eq(credit_payment(invoice), ["-", charge], "the credit names the charge that came first")
    other = payment_event(invoice, 600, pi="pi_" + secrets.token_hex(12))
    eq(delivered(other).json["outcome"], "duplicate: the invoice's payment is known already",
       "a second payment of the invoice")
    eq(credit_payment(invoice), ["-", charge], "the first payment kept")
    refund(acct, None, charge, 600, 600)
    eq(balance(acct), base + 0, "refunded by its charge")
    verify()


def test_a_dispute_before_the_payment_is_known_is_applied_when_it_is():
    ok_mode()
    acct = new_account("subdwait")
    base = balance(acct)
    ev = unnamed_invoice(acct, 500)
    invoice = ev["data"]["object"]["id"]
    delivered(ev)
    pi = "pi_" + secrets.token_hex(12)
    r = delivered(dispute_event("charge.dispute.created", pi, 500))
    eq(r.json["outcome"], "kept: no credit for this payment yet, applied when it comes", "the dispute waits")
    eq(balance(acct), base + 500 * RATE, "nothing taken yet")
    eq(delivered(payment_event(invoice, 500, pi=pi)).json["outcome"], "invoice payment recorded", "its payment")
    eq(balance(acct), base, "the dispute took the credit back")
    eq(status_of(acct), ("suspended", "dispute"), "and suspended the account")
    verify()
    api("PATCH", "/v1/accounts/" + acct, {"status": "active"})


def test_an_unpaid_or_malformed_invoice_payment_changes_nothing():
    ok_mode()
    acct = new_account("subpbad")
    ev = unnamed_invoice(acct, 400)
    invoice = ev["data"]["object"]["id"]
    delivered(ev)
    base = balance(acct)
    eq(delivered(payment_event(invoice, 400, pi="pi_" + secrets.token_hex(12), status="open")).json["outcome"],
       "ignored: no paid payment", "an open payment")
    def without_invoice(o):
        del o["invoice"]
    for named, change in (("invoice", lambda o: o.update(invoice=7)),
                          ("payment.charge", lambda o: o.update(payment={"type": "charge", "charge": ["ch_x"]})),
                          ("amount_paid", lambda o: o.update(amount_paid="400")),
                          ("no invoice", without_invoice)):
        bad = payment_event(invoice, 400, pi="pi_" + secrets.token_hex(12))
        change(bad["data"]["object"])
        r = delivered_or(bad)
        eq(r.status, 400, "%s refused: %r" % (named, r))
        check(named in json.dumps(r.json), "the answer names it: %r" % r.json)
    eq(credit_payment(invoice), ["-", "-"], "the credit names no payment")
    eq(balance(acct), base, "nothing changed")
    eq(int(sql("SELECT COUNT(*) FROM invoice_payments WHERE invoice_id = '%s' AND (payment_intent IS NOT NULL "
               "OR charge_id IS NOT NULL)" % invoice)[0][0]), 0, "no payment kept")


def test_an_invoice_and_its_payment_at_once_always_meet():
    # Both orders at once, many times: whichever commits second sees the
    # first (both take the invoice's payment row lock first).
    ok_mode()
    pairs = []
    for i in range(12):
        acct = new_account("subrace")
        ev = unnamed_invoice(acct, 300)
        pi = "pi_" + secrets.token_hex(12)
        pairs.append((ev, payment_event(ev["data"]["object"]["id"], 300, pi=pi), pi))
    events = [x for ev, pay, _ in pairs for x in (ev, pay)]
    parallel(len(events), lambda i: delivered(events[i]))
    for ev, _, pi in pairs:
        eq(credit_payment(ev["data"]["object"]["id"]), [pi, "-"], "the credit names its payment")
    verify()


def test_an_invoice_naming_its_payment_wrongly_is_refused_and_changes_nothing():
    ok_mode()
    acct = new_account("subbad")
    customer = give_customer(acct)
    base = balance(acct)
    ev = invoice_event(customer, "sub_" + secrets.token_hex(10), 400, int(time.time()) + 30 * 86400)
    ev["data"]["object"]["payment_intent"] = 12345
    r = delivered_or(ev)
    eq(r.status, 400, "a payment intent that is no id is refused: %r" % r)
    check("payment_intent" in json.dumps(r.json), "the answer names the field: %r" % r.json)
    eq(balance(acct), base, "nothing credited")


def delivered_or(ev):
    from test_30_stripe import deliver
    return deliver(ev)
