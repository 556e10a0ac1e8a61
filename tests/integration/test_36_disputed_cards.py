"""test_36_disputed_cards.py: a disputed card is never charged again
(DESIGN §13). While an account is suspended for a dispute, or has one
open, no pay-as-you-go collection and no auto-recharge is sent to Stripe:
not at the month change, not from creditctl collect, not when a settle of
a hold in flight crosses the auto-recharge threshold, not when an admin's
suspension has replaced the dispute's. A collection held back this way
waits and goes out once the dispute is won and the account active again.
creditctl verify names a charge sent during a dispute."""
import json

from lib import ENV, api, check, clock_now, creditctl, eq, sql, wait_until
from test_20_guard import authorize, settle
from test_30_stripe import fake, ok_mode, post_payload
from test_31_stripe_trust import dispute_event, status_of
from test_33_payg import SWEEPS, at, card_topup, in_debt, next_month, pi_requests, restore
from test_57_autorecharge import acct_get, enable, events_of, intents, payment_mode, recharges


def card_account(prefix):
    """A new account that topped up 10 EUR keeping its card: (account, the
    top-up's PaymentIntent, the one a dispute names)."""
    acct, _, pi = card_topup(prefix)
    return acct, pi


def dispute(pi, etype="charge.dispute.created", status="needs_response", du=None):
    ev = dispute_event(etype, pi, 1000, status=status, dispute=du)
    ev["created"] = clock_now()
    payload = json.dumps(ev)
    out = fake("POST", "/_sign", {"payload": payload, "webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"],
                                  "timestamp": clock_now()})
    r = post_payload(payload, out["signature"])
    eq(r.status, 200, "dispute %s delivered: %r" % (etype, r))
    return ev["data"]["object"]["id"]


def recharge_intents(acct):
    return [p for p in intents(acct) if p["metadata"].get("type") == "auto_recharge"]


def test_a_settle_in_flight_crossing_the_threshold_recharges_no_disputed_card():
    ok_mode()
    payment_mode("ok")
    acct, pi = card_account("dsar")
    holds = [authorize(acct) for _ in range(2)]
    for h in holds:
        eq(h.status, 200, "held before the dispute: %r" % h)
    dispute(pi)
    eq(status_of(acct), ("suspended", "dispute"), "suspended for the dispute")
    # Auto-recharge set just under what the account has once the dispute
    # took the top-up back: the settles cross it.
    enable(acct, acct_get(acct)["available_micros"] + holds[0].json["amount_micros"] * 2, 1000)
    eq(settle(holds[0].json["hold_id"], 1000, 500).status, 200, "a hold in flight settles")
    # An admin's suspension replaces the dispute's reason; the dispute is
    # still open, and the card still disputed.
    eq(api("PATCH", "/v1/accounts/" + acct, {"status": "suspended"}).status, 200, "suspended by an admin")
    eq(status_of(acct)[0], "suspended", "still suspended")
    eq(settle(holds[1].json["hold_id"], 1000, 500).status, 200, "the other settles")
    wait_until(lambda: any(r[1] == "failed" for r in recharges(acct)), timeout=SWEEPS + 3)
    eq(recharge_intents(acct), [], "no PaymentIntent for the disputed card")
    for r in recharges(acct):
        eq(r[1], "failed", "a recharge queued under the admin's suspension ends unsent: %r" % (r,))
    failed = events_of(acct, "autorecharge.failed")
    check(all("dispute" in e["error"] for e in failed), "the reason given: %r" % failed)
    eq(acct_get(acct).get("auto_recharge") is not None, True, "not switched off: not the card's failure")


def test_no_collection_while_a_dispute_is_open_then_one_once_it_is_won():
    ok_mode()
    payment_mode("ok")
    acct, pi = card_account("dspg")
    try:
        in_debt(acct, 2500000)
        du = dispute(pi)
        eq(status_of(acct), ("suspended", "dispute"), "suspended for the dispute")
        start, _ = next_month(clock_now())
        at(start + 60)
        check(wait_until(lambda: len(sql("SELECT 1 FROM recharges r JOIN accounts a ON a.id = r.account_id "
                                         "WHERE a.ext_id = '%s' AND r.kind = 'payg' AND r.error LIKE '%%dispute%%'"
                                         % acct)) == 1, timeout=SWEEPS + 5),
              "the month's collection is made, and held back")
        p = creditctl("collect", "--account", acct, check_rc=False)
        eq(pi_requests(acct), [], "no collection sent to a disputed card (sweep nor creditctl collect: %s)"
           % (p.stdout + p.stderr))
        rows = sql("SELECT r.state, IFNULL(r.error, '') FROM recharges r JOIN accounts a ON a.id = r.account_id "
                   "WHERE a.ext_id = '%s'" % acct)
        eq(rows[0][0], "queued", "the collection waits")
        check("dispute" in rows[0][1], "and says why: %r" % rows)
        dispute(pi, "charge.dispute.closed", status="won", du=du)
        eq(api("PATCH", "/v1/accounts/" + acct, {"status": "active"}).status, 200, "active again")
        at(clock_now() + 3601)
        check(wait_until(lambda: len(pi_requests(acct)) == 1, timeout=SWEEPS + 5),
              "sent once the dispute is won and the account active")
        eq(pi_requests(acct)[0]["form"]["amount"], "250",
           "for what is owed now (the dispute's 10 EUR given back), not the 12.50 owed when it was queued")
    finally:
        restore(acct)


def test_verify_names_a_charge_sent_during_a_dispute():
    ok_mode()
    payment_mode("ok")
    acct, pi = card_account("dsvf")
    dispute(pi)
    sql("INSERT INTO recharges (account_id, kind, amount_cents, state, next_attempt_at, decided_at, created_at, "
        "updated_at) SELECT id, 'recharge', 1000, 'failed', 0, UNIX_TIMESTAMP() + 5, UNIX_TIMESTAMP(), "
        "UNIX_TIMESTAMP() FROM accounts WHERE ext_id = '%s'" % acct)
    try:
        p = creditctl("verify", check_rc=False)
        check(p.returncode != 0 and "charge sent during a dispute" in p.stdout + p.stderr and acct in p.stdout,
              "verify names it: %s" % (p.stdout + p.stderr))
    finally:
        sql("DELETE r FROM recharges r JOIN accounts a ON a.id = r.account_id WHERE a.ext_id = '%s'" % acct)
        api("PATCH", "/v1/accounts/" + acct, {"status": "active"})
