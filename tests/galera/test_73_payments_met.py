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
their disputes come through the other, all at once, and the test
shows they met: both orders seen, and the cluster rolling back one of
two that met (else it says so and runs again, a bounded number of times).
"""
import secrets
import time

from lib import api, check, eq, parallel, verify
from test_70_galera import account, galera, new_account, node_sql, paid_checkout, sign, status, stripe_event, urls

# Rounds tried for the race to happen before the test says it never did.
TRIES = 5


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


def conflicts():
    """The cluster's transactions rolled back for meeting another's writes:
    certification failures and brute-force aborts (two nodes), deadlocks
    (one node), summed over the nodes."""
    return sum(int(status(n, "wsrep_local_cert_failures")) + int(status(n, "wsrep_local_bf_aborts")) +
               int(status(n, "Innodb_deadlocks")) for n in galera())


def one_round(n):
    """n payments credited through one instance while their disputes come
    through the other, all at once; each dispute applied. Returns how the
    race went: (disputes that came first, credits that came first, the
    conflicts the cluster rolled back meanwhile)."""
    accts = [new_account("met") for _ in range(n)]
    before = [account(a)["balance_micros"] for a in accts]
    sent = []
    for a in accts:
        credit, pi = paid(a)
        sent += [(credit, urls()[1]), (disputed(pi), urls()[0])]
    met = conflicts()
    res = parallel(len(sent), lambda i: api("POST", "/v1/webhooks/stripe", raw=sent[i][0].encode(), auth=None,
                                            headers={"Stripe-Signature": sign(sent[i][0])}, base=sent[i][1]))
    met = conflicts() - met
    check(all(r.status == 200 for r in res), "every event acknowledged: %r" % [r.status for r in res])
    for i, a in enumerate(accts):
        # A dispute of the whole payment takes the whole credit back,
        # whichever came first.
        eq(account(a)["balance_micros"], before[i], "%s: credited and disputed, nothing kept" % a)
        rows = node_sql(galera()[0], "SELECT COUNT(*) FROM disputes d JOIN accounts x ON x.id = d.account_id "
                        "WHERE x.ext_id = '%s'" % a, causal=True)
        eq(rows[0][0], "1", "%s: its dispute attached to its credit" % a)
    # Which came first, as each dispute's answer says: kept for a credit
    # to come, or applied to the credit there.
    said = [res[2 * i + 1].json.get("outcome", "") for i in range(n)]
    first = sum(1 for o in said if o.startswith("kept: no credit for this payment yet"))
    after = sum(1 for o in said if o.startswith("disputed: credit taken back"))
    eq(first + after, n, "each dispute kept or applied: %r" % said)
    return first, after, met


def test_disputes_coming_with_their_credits_through_the_other_instance_are_each_applied():
    # Each round is checked whole; it counts only if the two met: disputes
    # before their credits and credits before their disputes, and the
    # cluster rolling back a transaction that met another's writes (what
    # payments_met makes of a dispute and a credit unseen by each other).
    # A round where they did not is said so and run again, a few times.
    for attempt in range(1, TRIES + 1):
        first, after, met = one_round(12)
        print("round %d: %d disputes came first, %d credits came first, %d conflicts rolled back"
              % (attempt, first, after, met))
        if first and after and met:
            break
        print("round %d: the disputes and the credits did not race; run again" % attempt)
    else:
        check(False, "the disputes and the credits never raced in %d rounds" % TRIES)
    verify()
