"""test_22_guard_grant_pages.py: a guard charge past the grants a batch read.

A guard batch reads an account's grants a page at a time (LIMIT_SPEND_GRANTS,
64, and one more to know there are more). Its decision burns the page it
holds; what that page cannot cover is burnt by the combiner afterwards,
page after page, and what no grant covers becomes the account's debt
(ledger_load_spend_more). Here an account holds 80 grants of 100 micros
(8,000 in all): a settle and a POST /v1/usage charge past the first page,
a forced usage past every page onto the debt row (and another on an
account whose last grants the batch read, onto its debt row at once):
the balance, every grant's remainder in spending order, the debt and
creditctl verify are checked after each."""
from lib import api, check, eq, sql, uid, verify
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
    s = settle(a.json["hold_id"], 10, out)
    eq(s.status, 200, "settle %r" % (s.json,))
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
