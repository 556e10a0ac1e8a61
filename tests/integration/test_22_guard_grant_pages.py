"""test_22_guard_grant_pages.py: a guard charge past the grants a batch read.

A guard batch reads an account's grants a page at a time (LIMIT_SPEND_GRANTS,
64, and one more to know there are more), and decides on the rows it read
alone (docs/architecture.md, "The guard in one shape"). A charge its page
cannot cover ends the attempt, rolled back: alone, the operation's next
attempt reads up to LIMIT_SPEND_GRANTS_WIDE (16,384) of its account's
grants (counted as the retry reason "load"); in a batch of several, it
runs apart. What no grant covers becomes the account's debt. Here an account holds 80 grants
of 100 micros (8,000 in all): a settle and a POST /v1/usage charge past
the first page, a forced usage past every page onto the debt row (and
another on an account whose last grants the batch read, onto its debt row
at once), settles of several accounts at once (in batches of several or
alone, as they meet), and a charge past every grant a transaction reads
(refused, nothing changed): the balance, every
grant's remainder in spending order, the debt and creditctl verify are
checked after each."""
from lib import ENV, api, check, eq, parallel, sql, tx_retries, uid, verify
from test_20_guard import authorize, cost, funded, internal_id, settle

GRANTS, EACH = 80, 100


def remaining(aid):
    return [int(r[0]) for r in sql("SELECT remaining_micros FROM grants WHERE account_id = %d AND source = 'promo' "
                                   "ORDER BY priority, expires_at IS NULL, expires_at, id"
                                   % aid)]


def many_grants():
    acct = funded(0, prefix="pages")
    for i in range(GRANTS):
        r = api("POST", "/v1/accounts/%s/grants" % acct,
                {"amount_micros": EACH, "source": "promo"})
        eq(r.status in (200, 201), True, "grant %d: %r" % (i, r))
    return acct, internal_id(acct)


def tokens_costing_at_least(micros):
    out = 1
    while cost("gpt-4o", 10, out) < micros:
        out *= 2
    lo, hi = out // 2, out
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if cost("gpt-4o", 10, mid) >= micros else (mid, hi)
    return hi


def balance(acct):
    r = api("GET", "/v1/accounts/%s" % acct, auth="read")
    eq(r.status, 200, "account")
    return r.json["balance_micros"]


def burnt_in_order(left, total_burnt):
    """Spending order: the first grants go whole, one in part, the rest untouched."""
    want, burn = [], total_burnt
    for _ in range(GRANTS):
        b = min(EACH, burn)
        want.append(EACH - b)
        burn -= b
    eq(left, want, "every grant's remainder, in spending order")


def test_a_settle_burns_past_the_page_read():
    acct, aid = many_grants()
    out = tokens_costing_at_least(70 * EACH + 30)      # past 64 (or 65) grants
    c = cost("gpt-4o", 10, out)
    a = authorize(acct, "gpt-4o", 10, out)
    eq(a.status, 200, "authorize %r" % (a.json,))
    before = tx_retries([ENV["CREDITD_URL"]]).get("load", 0)
    s = settle(a.json["hold_id"], 10, out)
    eq(s.status, 200, "settle %r" % (s.json,))
    check(tx_retries([ENV["CREDITD_URL"]]).get("load", 0) > before,
          "the attempt on the page ended, and the next read every grant (retry reason load)")
    eq(s.json["charged_micros"], c, "charged its cost")
    eq(s.json["balance_micros"], GRANTS * EACH - c, "the balance after it")
    eq(balance(acct), GRANTS * EACH - c, "the account says so")
    burnt_in_order(remaining(aid), c)
    verify()


def forced(acct, at_least):
    out = tokens_costing_at_least(at_least)
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": out,
                                  "request_id": uid("t22"), "force": True}, auth="guard")
    eq(r.status in (200, 201), True, "forced usage %r" % (r.json,))
    return cost("gpt-4o", 10, out)


def debt_of(aid):
    rows = sql("SELECT COALESCE(SUM(remaining_micros), 0) FROM grants WHERE account_id = %d AND remaining_micros < 0"
               % aid)
    return int(rows[0][0])


def test_a_forced_usage_past_every_page_becomes_debt():
    acct, aid = many_grants()
    charged = forced(acct, GRANTS * EACH + 500)
    eq(balance(acct), GRANTS * EACH - charged, "the balance after it")
    eq(remaining(aid), [0] * GRANTS, "every grant burnt, page after page")
    eq(debt_of(aid), GRANTS * EACH - charged, "the rest is the account's debt")
    verify()


def test_a_usage_past_the_page_and_a_forced_one_past_every_grant():
    acct, aid = many_grants()
    out = tokens_costing_at_least(66 * EACH + 50)
    first = cost("gpt-4o", 10, out)
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": out,
                                  "request_id": uid("t22")}, auth="guard")
    eq(r.status in (200, 201), True, "usage %r" % (r.json,))
    eq(balance(acct), GRANTS * EACH - first, "the balance after the usage")
    burnt_in_order(remaining(aid), first)
    second = forced(acct, GRANTS * EACH)      # more than is left
    after = GRANTS * EACH - first - second
    check(after < 0, "below zero: %d" % after)
    eq(balance(acct), after, "the balance after the forced usage")
    eq(remaining(aid), [0] * GRANTS, "every grant burnt")
    eq(debt_of(aid), after, "the rest is the account's debt")
    verify()


def test_settles_of_several_accounts_at_once_past_their_pages():
    """Charges past the page in batches of several: each runs apart (or
    alone, wide), and every other operation of its batch is answered as
    its own."""
    accts = [many_grants() for _ in range(4)]
    out = tokens_costing_at_least(70 * EACH + 30)
    c = cost("gpt-4o", 10, out)
    small = cost("gpt-4o", 10, 1)
    holds = []
    for acct, _ in accts:
        big = authorize(acct, "gpt-4o", 10, out)
        little = authorize(acct, "gpt-4o", 10, 1)
        eq((big.status, little.status), (200, 200), "authorizes %r %r" % (big.json, little.json))
        holds += [(big.json["hold_id"], out), (little.json["hold_id"], 1)]
    got = parallel(len(holds), lambda i: settle(holds[i][0], 10, holds[i][1]))
    for r in got:
        eq(r.status, 200, "settle %r" % (r.json,))
    for acct, aid in accts:
        eq(balance(acct), GRANTS * EACH - c - small, "%s: both charges, once each" % acct)
        burnt_in_order(remaining(aid), c + small)
    verify()


def test_a_charge_past_every_grant_a_transaction_reads():
    """16,500 grants of 1 micro first in spending order: a settle that must
    burn past the 16,384 a transaction reads is refused (500, logged) and
    changes nothing; its hold stays pending (captured at expiry)."""
    acct = funded(10 ** 6, prefix="pages")
    aid = internal_id(acct)
    # Rows of no journal's, first in spending order: taken out again, so
    # the ledger still verifies. Made before the authorize, whose read
    # then keeps none of the account's grants in memory.
    sql("INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, reference, created_at) "
        "SELECT %d, 'promo', 1, 1, 0, 't22-wide', 0 FROM seq_1_to_16500" % aid)
    try:
        a = authorize(acct, "gpt-4o", 10, tokens_costing_at_least(17000))
        eq(a.status, 200, "authorize %r" % (a.json,))
        before = sql("SELECT balance_micros, reserved_micros FROM accounts WHERE id = %d" % aid)
        loads = tx_retries([ENV["CREDITD_URL"]]).get("load", 0)
        s = settle(a.json["hold_id"], 10, tokens_costing_at_least(16600))
        eq(s.status, 500, "a charge past 16,384 grants %r" % (s.json,))
        check(tx_retries([ENV["CREDITD_URL"]]).get("load", 0) > loads, "refused after reading them wide")
        eq(sql("SELECT balance_micros, reserved_micros FROM accounts WHERE id = %d" % aid), before, "nothing moved")
        eq(sql("SELECT COUNT(*), SUM(remaining_micros) FROM grants WHERE account_id = %d AND reference = 't22-wide'"
               % aid), [["16500", "16500"]], "no grant burnt")
        eq(sql("SELECT state FROM holds WHERE account_id = %d" % aid), [["pending"]], "the hold still pending")
    finally:
        sql("DELETE FROM grants WHERE account_id = %d AND reference = 't22-wide'" % aid)
    verify()
