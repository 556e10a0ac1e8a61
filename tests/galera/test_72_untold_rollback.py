"""test_72_untold_rollback.py: a transaction Galera rolled back without
telling creditd is never committed in part (sql/053, src/store/store_tx.c).

A brute-force abort inside a stored procedure can be eaten: the CALL
answers success, what it wrote is gone, and the statements after it run
in a new transaction that the COMMIT then commits (mysql-wsrep #191,
MDEV-20225). The test build's fault (CREDITD_TEST_UNTOLD_ROLLBACK_FILE, a
count) makes that happen on purpose: a write CALL followed by a ROLLBACK
creditd is not told of. Each operation must still take effect exactly
once, its answer true: creditd sees at the commit that the mark its
transaction wrote on the account is gone, rolls back and runs it again.
Without the mark, the grant below answers 201 and is not there.

The fault takes the next write CALL of any transaction that marked an
account, in either instance; each test checks, from what the fault tells
it took (FILE.used: the transaction's first marked account, its journal
key, the write), that it was the transaction the test meant, never a
sweep's or another request's.
"""
import json
import os

from lib import ENV, api, check, eq, tx_retries, uid, verify
from test_70_galera import account, authorize, galera, new_account, node_sql, paid_checkout, q, settle, sign, urls
from test_73_payments_met import disputed


def fault(n, skip=0, after=None):
    """n write CALLs of marked transactions rolled back untold, after skip;
    with after, the statements (of any transaction) that begin so instead;
    what the fault took before forgotten."""
    path = ENV["CREDITD_TEST_UNTOLD_ROLLBACK_FILE"]
    with open(path + ".used", "w"):
        pass
    # Written whole, then renamed: creditd, which reads it at every
    # statement, never sees half of it, and sees a new file each time.
    with open(path + ".new", "w") as f:
        f.write("%d %d%s\n" % (n, skip, " " + after if after else ""))
    os.replace(path + ".new", path)


def fault_used():
    """The write CALLs the fault took since it was set, in order: [(how,
    account id, journal key, write)], how "skipped" or "fired"."""
    try:
        with open(ENV["CREDITD_TEST_UNTOLD_ROLLBACK_FILE"] + ".used") as f:
            return [tuple(line.rstrip("\n").split(" ", 3)) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def fired_in(acct_ids, key=None, used=None):
    """The fault (what it took: used, else fault_used()) fired once, in a
    transaction that first marked one of acct_ids (and whose journal key
    is key, when given), every write it skipped before of that
    transaction too: True; nothing fired: False. A write of another
    transaction taken fails the test: the fault was not where the test
    meant it."""
    used = fault_used() if used is None else used
    for how, aid, k, what in used:
        check(aid in acct_ids and (key is None or k == key),
              "the fault %s %s of account %s, key %s: not the transaction meant (accounts %s, key %s): %r"
              % (how, what, aid, k, acct_ids, key, used))
    fired = [u for u in used if u[0] == "fired"]
    check(len(fired) <= 1, "fired once at most: %r" % used)
    return len(fired) == 1


def account_id(acct):
    return node_sql(galera()[0], "SELECT id FROM accounts WHERE ext_id = '%s'" % acct, causal=True)[0][0]


def fault_left():
    with open(ENV["CREDITD_TEST_UNTOLD_ROLLBACK_FILE"]) as f:
        return int((f.read().split() or ["0"])[0])


def teardown_module():
    path = ENV.get("CREDITD_TEST_UNTOLD_ROLLBACK_FILE")
    for p in (path, path + ".used") if path else ():
        if os.path.exists(p):
            os.remove(p)


def ledger(acct):
    """balance, the journal's sum, reserved, the pending holds' sum, the
    grants' remaining sum, read on a node after every commit applied."""
    row = node_sql(galera()[0],
                   "SELECT a.balance_micros, (SELECT COALESCE(SUM(amount_micros), 0) FROM journal WHERE account_id "
                   "= a.id), a.reserved_micros, (SELECT COALESCE(SUM(amount_micros), 0) FROM holds WHERE "
                   "account_id = a.id AND state = 'pending'), (SELECT COALESCE(SUM(remaining_micros), 0) FROM "
                   "grants WHERE account_id = a.id) FROM accounts a WHERE a.ext_id = '%s'" % acct, causal=True)[0]
    return [int(x) for x in row]


def untold_logged(seen="untold"):
    n = 0
    for k in ("CREDITD_G1_LOG", "CREDITD_G2_LOG"):
        with open(ENV[k], errors="replace") as f:
            # the first account's mark, or the row's a webhook marks first
            n += sum(1 for line in f if ("its lock was taken back by another node's commit, untold" in line
                                         or "this transaction's mark on it is gone" in line) and seen in line)
    return n


def exact(acct, what):
    bal, journal, reserved, pending, grants = ledger(acct)
    eq(journal, bal, "%s: the journal sums to the balance" % what)
    eq(grants, bal, "%s: the grants' remaining sums to the balance" % what)
    eq(pending, reserved, "%s: the reserve is the pending holds' sum" % what)
    return bal, reserved


def rollbacks():
    """Attempts run again for an untold rollback, both instances'
    (creditd_tx_retries_total{reason="rollback"})."""
    counts = tx_retries(urls())
    check("rollback" in counts, "the transaction loop's reasons are counted in /metrics: %r" % counts)
    return counts["rollback"]


def test_a_grant_rolled_back_untold_is_run_again_and_granted_once():
    acct = new_account("untold")
    before, _ = exact(acct, "before")
    seen = untold_logged()
    counted = rollbacks()
    key = uid("k")
    fault(1)
    r = api("POST", "/v1/accounts/%s/grants" % q(acct), {"amount_micros": 1234567, "source": "promo"},
            headers={"Idempotency-Key": key})
    eq(r.status, 201, "the grant: %r" % r)
    eq(fault_left(), 0, "the fault happened")
    check(fired_in([account_id(acct)], key), "the fault fired in the grant's transaction: %r" % fault_used())
    bal, _ = exact(acct, "after the grant")
    eq(bal, before + 1234567, "granted once")
    eq(account(acct)["balance_micros"], bal, "the API shows it")
    rows = node_sql(galera()[0], "SELECT COUNT(*) FROM grants g JOIN accounts a ON a.id = g.account_id WHERE "
                    "a.ext_id = '%s' AND g.amount_micros = 1234567" % acct, causal=True)
    eq(int(rows[0][0]), 1, "one grant row")
    check(untold_logged() > seen, "creditd logged the untold rollback it caught")
    eq(rollbacks(), counted + 1, "run again once by its loop, its reason: rollback")
    verify()


def test_a_guard_batch_rolled_back_untold_holds_and_settles_once():
    acct = new_account("untold")
    before, _ = exact(acct, "before")
    base = ENV["CREDITD_URL"]
    counted = rollbacks()
    fault(1)
    r = authorize(acct, base)
    eq(r.status, 200, "authorize: %r" % r)
    eq(fault_left(), 0, "the fault happened in the authorize")
    check(fired_in([account_id(acct)]), "the fault fired in the authorize's transaction: %r" % fault_used())
    bal, reserved = exact(acct, "after the authorize")
    eq(bal, before, "nothing charged yet")
    check(r.json["amount_micros"] > 0, "a hold of some amount")
    eq(reserved, r.json["amount_micros"], "held once")
    fault(1)
    s = settle(r.json["hold_id"], base)
    eq(s.status, 200, "settle: %r" % s)
    eq(fault_left(), 0, "the fault happened in the settle")
    check(fired_in([account_id(acct)]), "the fault fired in the settle's transaction: %r" % fault_used())
    bal, reserved = exact(acct, "after the settle")
    eq(reserved, 0, "no hold left")
    eq(bal, before - s.json["charged_micros"], "charged once")
    eq(rollbacks(), counted + 2, "the batches run again whole by their loop, once each: rollback")
    verify()


def checkout(acct):
    """acct's Checkout top-up of 10 € paid: (the webhook's answer, its
    event's id)."""
    payload, _ = paid_checkout(acct)
    return api("POST", "/v1/webhooks/stripe", raw=payload.encode(), auth=None,
               headers={"Stripe-Signature": sign(payload)}, base=urls()[1]), json.loads(payload)["id"]


def test_a_referral_s_reward_rolled_back_untold_at_each_of_its_writes_is_rewarded_once():
    # The top-up's credit that rewards a referral (two accounts, the most
    # writes of any transaction) with the untold rollback after each of
    # its write CALLs in turn: whether the commit's check sees the mark
    # gone, or a later step fails first (the reward reading back a grant
    # the rollback took: "after the operation failed"), the webhook is
    # answered "credited" and each account holds its credit and reward once.
    fired, after_failure = 0, untold_logged("after the operation failed")
    for skip in range(10):
        a = new_account("untold-a")
        r = api("GET", "/v1/accounts/%s/referral_code" % q(a), auth="app")
        eq(r.status, 200, "code %r" % r)
        b = uid("untold-b")
        eq(api("POST", "/v1/accounts", {"id": b, "kind": "user", "referral_code": r.json["code"]}).status, 201,
           "referred")
        before = (exact(a, "referrer before")[0], exact(b, "referred before")[0])
        fault(1, skip)
        h, event = checkout(b)
        used, left = fault_used(), fault_left()
        fault(0)
        eq((h.status, h.json.get("outcome")), (200, "credited"), "the credit, the fault after %d writes" % skip)
        # fired in the credit's transaction (its journal key the event's
        # id, its first marked account the referred or the referrer),
        # every write skipped before it that transaction's too
        took = fired_in([account_id(b), account_id(a)], event, used)
        eq(took, left == 0, "the fault spent where it was told: %r" % used)
        fired += took
        rewards = node_sql(galera()[0], "SELECT COUNT(referrer_grant_id), COUNT(referred_grant_id) FROM referrals r "
                           "JOIN accounts x ON x.id = r.referred_id WHERE x.ext_id = '%s' AND r.settled_at IS NOT NULL"
                           % b, causal=True)[0]
        eq(rewards, ["1", "1"], "settled once with both grants (fault after %d writes)" % skip)
        after = (exact(a, "referrer after")[0], exact(b, "referred after")[0])
        # The stack's [referral]: 5 € to the referrer, 2 € to the referred;
        # 10 € at the default rate (10,000 micros a cent).
        eq(after, (before[0] + 5000000, before[1] + 1000 * 10000 + 2000000),
           "the reward and the credit once each (fault after %d writes)" % skip)
    check(fired >= 3, "the fault fired in the reward's transaction (%d of 10)" % fired)
    check(untold_logged("after the operation failed") > after_failure,
          "at least once a step failed first and was run again, not answered")
    verify()


def logged(text):
    n = 0
    for k in ("CREDITD_G1_LOG", "CREDITD_G2_LOG"):
        with open(ENV[k], errors="replace") as f:
            n += sum(1 for line in f if text in line)
    return n


def test_a_dispute_kept_for_its_credit_rolled_back_untold_is_kept_and_applied_once():
    # A dispute that comes before its credit locks no account: it writes
    # its event's row, its own row and its payment's row of payments_met,
    # then reads the credit with a locking read. A brute-force abort of
    # that read was seen to go untold (the read answered, no rows, the
    # COMMIT answered OK with nothing in it): the webhook answered "kept"
    # and the dispute was gone, so the credit that came next kept its
    # money. The fault rolls the transaction back untold after that read;
    # the event's row, written first with the transaction's mark, shows
    # it before the COMMIT, and the dispute is kept once and applied.
    acct = new_account("untold")
    before, _ = exact(acct, "before")
    credit, pi = paid_checkout(acct)
    dispute = disputed(pi)
    event = json.loads(dispute)["id"]
    counted = rollbacks()
    seen = logged("row %s: this transaction's mark on it is gone" % event)
    fault(1, 0, "SELECT id FROM invoice_credits WHERE payment_intent")
    d = api("POST", "/v1/webhooks/stripe", raw=dispute.encode(), auth=None,
            headers={"Stripe-Signature": sign(dispute)}, base=urls()[0])
    used, left = fault_used(), fault_left()
    fault(0)
    eq((d.status, d.json.get("outcome", "")[:5]), (200, "kept:"), "the dispute, before its credit: %r" % d)
    eq(left, 0, "the fault happened")
    check(fired_in(["0"], event, used), "the fault fired in the dispute's transaction: %r" % used)
    rows = node_sql(galera()[0], "SELECT COUNT(*) FROM disputes WHERE payment_intent = '%s'" % pi, causal=True)
    eq(int(rows[0][0]), 1, "the dispute kept: its row is there")
    eq(logged("row %s: this transaction's mark on it is gone" % event), seen + 1,
       "creditd logged the untold rollback it caught")
    eq(rollbacks(), counted + 1, "run again once by its loop, its reason: rollback")
    c = api("POST", "/v1/webhooks/stripe", raw=credit.encode(), auth=None,
            headers={"Stripe-Signature": sign(credit)}, base=urls()[1])
    eq((c.status, c.json.get("outcome")), (200, "credited"), "the credit: %r" % c)
    bal, _ = exact(acct, "after the credit")
    eq(bal, before, "credited and disputed: the dispute took the credit back")
    verify()


def test_a_key_s_claim_rolled_back_untold_before_its_grant_is_granted_once():
    # A write under an Idempotency-Key claims the key before it locks its
    # account. Rolled back untold just after the claim, the grant ran on in
    # a new transaction that marked the account anew and committed without
    # the claim: answered 201, and the same key sent again granted again.
    # The claim's row carries the transaction's mark (sql/085): the commit
    # sees it gone, runs the grant again, and the key replays it.
    acct = new_account("untold")
    before, _ = exact(acct, "before")
    counted = rollbacks()
    key = uid("k")
    fault(1, 0, "INSERT INTO idempotency_keys")
    first = api("POST", "/v1/accounts/%s/grants" % q(acct), {"amount_micros": 2345678, "source": "promo"},
                headers={"Idempotency-Key": key})
    used, left = fault_used(), fault_left()
    fault(0)
    eq(first.status, 201, "the grant: %r" % first)
    eq(left, 0, "the fault happened")
    check(fired_in(["0"], None, used), "the fault fired after the claim, before any lock: %r" % used)
    again = api("POST", "/v1/accounts/%s/grants" % q(acct), {"amount_micros": 2345678, "source": "promo"},
                headers={"Idempotency-Key": key}, base=urls()[1])
    eq(again.status, 201, "the key sent again: %r" % again)
    eq(again.json.get("id"), first.json.get("id"), "replayed, the same grant")
    bal, _ = exact(acct, "after the grant and its replay")
    eq(bal, before + 2345678, "granted once")
    eq(rollbacks(), counted + 1, "run again once by its loop, its reason: rollback")
    verify()



def test_a_price_set_rolled_back_untold_is_set():
    # A model's price locks no account: its transaction reads the row
    # under a lock, writes it and its history. Rolled back untold after
    # the write, the history's INSERT … SELECT ran on in a new transaction
    # that found no row, and the COMMIT answered: 200, the model unpriced.
    # The transaction's first locking statement is now preceded by its
    # handle's row of tx_marks (sql/085): the commit sees it gone and runs
    # the write again.
    name = uid("untold-model")
    counted = rollbacks()
    fault(1, 0, "INSERT INTO models (name")
    r = api("PUT", "/v1/models/" + name, {"input_micros_per_mtok": 1000000, "output_micros_per_mtok": 2000000,
                                          "max_output_tokens": 1000})
    used, left = fault_used(), fault_left()
    fault(0)
    eq(r.status, 200, "the price set: %r" % r)
    eq(left, 0, "the fault happened")
    check(fired_in(["0"], None, used), "the fault fired in the price's transaction: %r" % used)
    rows = node_sql(galera()[0], "SELECT input_micros_per_mtok, (SELECT COUNT(*) FROM price_history WHERE model = '%s') "
                    "FROM models WHERE name = '%s'" % (name, name), causal=True)
    eq(rows, [["1000000", "1"]], "the model priced, its history entered once")
    eq(rollbacks(), counted + 1, "run again once by its loop, its reason: rollback")
