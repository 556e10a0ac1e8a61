"""test_73_payments_met.py: a dispute that comes at the moment its
payment is credited is applied, on Galera too (sql/054).

A dispute names no account: one that comes before its payment's credit
is kept on the node of no account, while the credit is written on its
account's node. Each side writes, then reads the other with a locking
read, which on one server makes the later one see the earlier; on Galera
a lock of one node is not another's, so both could commit unseen by the
other, the dispute never applied. Both now write the payment's row of
payments_met: Galera aborts one at certification, and run again it sees
the other. Here twelve payments are credited through one instance while
their disputes come through the other, all at once.
"""
import secrets
import time

from lib import api, check, eq, parallel, verify
from test_70_galera import account, galera, new_account, node_sql, paid_checkout, sign, stripe_event, urls


def paid(acct):
    """acct's 10 € Checkout session: (its completed event, its payment intent)."""
    credit, pi = paid_checkout(acct)
    check(pi, "the session names its payment intent")
    return credit, pi


def disputed(pi):
    return stripe_event("charge.dispute.created", {
        "id": "du_" + secrets.token_hex(10), "object": "dispute", "amount": 1000, "charge": "ch_" + secrets.token_hex(12),
        "currency": "eur", "created": int(time.time()), "evidence": {}, "is_charge_refundable": False,
        "livemode": False, "metadata": {}, "payment_intent": pi, "reason": "fraudulent", "status": "needs_response"})


def test_disputes_coming_with_their_credits_through_the_other_instance_are_each_applied():
    n = 12
    accts = [new_account("met") for _ in range(n)]
    before = [account(a)["balance_micros"] for a in accts]
    sent = []
    for a in accts:
        credit, pi = paid(a)
        sent += [(credit, urls()[1]), (disputed(pi), urls()[0])]
    res = parallel(len(sent), lambda i: api("POST", "/v1/webhooks/stripe", raw=sent[i][0].encode(), auth=None,
                                            headers={"Stripe-Signature": sign(sent[i][0])}, base=sent[i][1]))
    check(all(r.status == 200 for r in res), "every event acknowledged: %r" % [r.status for r in res])
    for i, a in enumerate(accts):
        # A dispute of the whole payment takes the whole credit back,
        # whichever came first.
        eq(account(a)["balance_micros"], before[i], "%s: credited and disputed, nothing kept" % a)
        rows = node_sql(galera()[0], "SELECT COUNT(*) FROM disputes d JOIN accounts x ON x.id = d.account_id "
                        "WHERE x.ext_id = '%s'" % a, causal=True)
        eq(rows[0][0], "1", "%s: its dispute attached to its credit" % a)
    verify()
