"""test_49_periods.py: plan credits per period (DESIGN §9), with the test
clock moving time across real month and day boundaries.

One plan grant per (account, calendar month UTC), whichever of the plan
being set, the background sweep, a request or an invoice.paid gets there
first; rollover none / full / capped; an upgrade credits the difference
now, a downgrade waits for the next period; a workspace's pool and its
members' caps start again each month; the daily limit each UTC day;
creditctl verify checks plan periods and promo counts.

The clock only moves forward here: each test takes months after the last
test's (later()), and the last test puts the clock back."""
import calendar
import json
import secrets
import threading
import time
import uuid

import lib
from lib import api, check, clock_now, clock_reset, clock_set, eq, parallel, sql, uid, verify
from test_20_guard import authorize, cost
from test_30_stripe import post_payload, sign

C = cost("gpt-4o", 1000, 500)          # one request's charge
_month = [None]                          # (year, month) of the last month handed out


def month_start(y, m):
    return calendar.timegm((y, m, 1, 0, 0, 0))


def later(n):
    """n consecutive months, all after any month used before (and one left
    unused in between): [(start, end, key)]."""
    if _month[0] is None:
        t = time.gmtime(clock_now())
        _month[0] = (t.tm_year, t.tm_mon)
    y, m = _month[0]
    out = []
    for _ in range(n + 1):      # a month between tests, left unused
        m += 1
        if m == 13:
            y, m = y + 1, 1
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append((month_start(y, m), month_start(ny, nm), y * 100 + m))
    _month[0] = (y, m)
    return out[1:]


def at(t):
    t0 = time.time()
    clock_set(t)
    got = clock_now()
    # Read back at least t, and later by no more than the seconds that
    # passed: a loaded machine may stall this process between the two.
    check(t <= got <= t + 1 + int(time.time() - t0), "the clock moved: %d for %d" % (got, t))


def plan(credits, rollover="none", cap=None, member_cap=None, prices=None):
    name = "p-" + uuid.uuid4().hex[:10]
    body = {"credits_micros": credits, "rollover": rollover}
    if cap is not None:
        body["rollover_cap_micros"] = cap
    if member_cap is not None:
        body["member_cap_micros"] = member_cap
    if prices is not None:
        body["stripe_price_ids"] = prices
    r = api("PUT", "/v1/plans/" + name, body)
    eq(r.status, 200, "plan %r" % r)
    return name


def create(plan_name=None, kind="user", **fields):
    acct = uid("per")
    body = dict({"id": acct, "kind": kind}, **fields)
    if plan_name:
        body["plan"] = plan_name
    r = api("POST", "/v1/accounts", body)
    eq(r.status, 201, "account %r" % r)
    return acct


def get(acct):
    r = api("GET", "/v1/accounts/" + acct, auth="read")
    eq(r.status, 200, "get %r" % r)
    return r.json


def plan_left(acct):
    """What the account's live plan grants hold (GET shows live grants)."""
    return sum(g["remaining_micros"] for g in get(acct)["grants"] if g["source"] == "plan")


def spend(acct, n=1, member=None):
    """n usages of C each; the statuses."""
    out = []
    for _ in range(n):
        body = {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500,
                "request_id": uid("u")}
        if member:
            body["member"] = member
        out.append(api("POST", "/v1/usage", body, auth="guard").status)
    return out


def periods(acct):
    return sql("SELECT p.period_key, p.plan, p.credits_micros, p.rollover_micros FROM plan_periods p "
               "JOIN accounts a ON a.id = p.account_id WHERE a.ext_id = '%s' ORDER BY p.period_key" % acct)


def period_grants(acct, key):
    return sql("SELECT g.amount_micros, g.reference, g.expires_at FROM grants g JOIN accounts a ON a.id = "
               "g.account_id WHERE a.ext_id = '%s' AND g.period_key = %d ORDER BY g.id" % (acct, key))


def deliver_now(ev):
    """Posts a Stripe event signed at the stack's clock (Stripe's clock is
    the real one in production; here both are the moved one)."""
    ev["created"] = clock_now()
    payload = json.dumps(ev)
    return post_payload(payload, sign(payload, t=clock_now()))


def invoice(acct, sub, price, start, end, cents=1900):
    line = {"id": "il_" + secrets.token_hex(8), "object": "line_item", "amount": cents, "currency": "eur",
            "metadata": {}, "period": {"start": start, "end": end},
            "price": {"id": price, "object": "price", "recurring": {"interval": "month"}},
            "subscription": sub, "type": "subscription"}
    obj = {"id": "in_" + secrets.token_hex(10), "object": "invoice", "amount_due": cents, "amount_paid": cents,
           "billing_reason": "subscription_cycle", "currency": "eur", "customer": "cus_" + secrets.token_hex(6),
           "lines": {"object": "list", "data": [line], "has_more": False}, "metadata": {"account": acct},
           "paid": True, "period_start": start, "period_end": end, "status": "paid", "subscription": sub,
           "payment_intent": "pi_" + secrets.token_hex(12), "charge": "ch_" + secrets.token_hex(12)}
    return {"id": "evt_" + secrets.token_hex(12), "object": "event", "api_version": "2024-06-20",
            "created": clock_now(), "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": "invoice.paid"}


def subscription(acct, sub, price, status="active", etype="customer.subscription.updated"):
    now = clock_now()
    item = {"id": "si_" + secrets.token_hex(8), "object": "subscription_item",
            "price": {"id": price, "object": "price"}, "current_period_start": now,
            "current_period_end": now + 30 * 86400}
    obj = {"id": sub, "object": "subscription", "customer": "cus_" + secrets.token_hex(6), "status": status,
           "items": {"object": "list", "data": [item]}, "metadata": {"account": acct},
           "current_period_start": now, "current_period_end": now + 30 * 86400}
    return {"id": "evt_" + secrets.token_hex(12), "object": "event", "api_version": "2024-06-20",
            "created": now, "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": etype}


# ---- tests ----

def test_a_plan_credits_its_period_when_set_and_again_each_month():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 10 * 86400)
    p = plan(20 * C)
    acct = create(p)
    a = get(acct)
    eq((a["period_start"], a["period_end"]), (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(m1)),
                                              time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e1))),
       "the period is the moved clock's month")
    eq(plan_left(acct), 20 * C, "the plan's credits when the plan is set")
    eq(period_grants(acct, k1), [[str(20 * C), "%s:%d" % (p, k1), str(e1)]], "one grant, expiring at period end")
    spend(acct, 3)
    eq(plan_left(acct), 17 * C, "plan credit is spent first (priority 10)")
    at(e1 - 2)
    eq(plan_left(acct), 17 * C, "still the first period")
    at(m2 + 2)
    eq(plan_left(acct), 20 * C, "a new period: the plan's credits again, the old remainder gone (rollover none)")
    eq(periods(acct), [[str(k1), p, str(20 * C), "0"], [str(k2), p, str(20 * C), "0"]], "one row per period")
    verify()


def test_the_background_sweep_renews_without_any_request():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 86400)
    p = plan(5 * C)
    accts = [create(p) for _ in range(3)]
    at(m2 + 1)
    # No request touches them: the sweeper (every second on this stack)
    # must make the new period's credit by itself.
    deadline = time.time() + 15
    while time.time() < deadline:
        rows = sql("SELECT COUNT(*) FROM plan_periods p JOIN accounts a ON a.id = p.account_id WHERE "
                   "a.ext_id IN (%s) AND p.period_key = %d" % (",".join("'%s'" % a for a in accts), k2))
        if rows[0][0] == "3":
            break
        time.sleep(0.2)
    eq(rows[0][0], "3", "the sweep renewed all three")
    for a in accts:
        eq(plan_left(a), 5 * C, "renewed once")


def test_renewal_raced_by_the_sweep_requests_and_invoices_grants_once():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 86400)
    price = "price_" + secrets.token_hex(6)
    p = plan(8 * C, prices=[price])
    accts = [create(p) for _ in range(6)]
    at(e1 - 2)
    errors = []

    def hit(i):
        # Every request waits for the boundary, where the sweeper (every
        # second on this stack) wakes too.
        while clock_now() < e1:
            time.sleep(0.005)
        acct = accts[i % len(accts)]
        kind = i % 4
        if kind == 0:
            r = deliver_now(invoice(acct, "sub_" + secrets.token_hex(6), price, m2, e2))
        elif kind == 1:
            r = authorize(acct)
        elif kind == 2:
            r = api("GET", "/v1/accounts/" + acct, auth="read")
        else:
            r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10,
                                          "output_tokens": 10, "request_id": uid("u")}, auth="guard")
        if r.status != 200:
            errors.append(r)
    parallel(48, hit)
    eq(errors, [], "every request answered 200")
    for acct in accts:
        rows = periods(acct)
        eq([r[0] for r in rows], [str(k1), str(k2)], "one period row each")
        credits = [g for g in period_grants(acct, k2) if not g[1].startswith("rollover from")]
        eq(len(credits), 1, "one plan credit for the new period: %r" % credits)
        eq(credits[0][0], str(8 * C), "of the plan's amount")
    # Invoices after the credit was made change nothing.
    acct = accts[0]
    before = get(acct)["balance_micros"]
    r = deliver_now(invoice(acct, "sub_" + secrets.token_hex(6), price, m2, e2))
    eq(r.status, 200, "acknowledged")
    eq(get(acct)["balance_micros"], before, "a later invoice for the period credits nothing")
    verify()


def test_rollover_none_full_and_capped_over_two_boundaries():
    (m1, e1, k1), (m2, e2, k2), (m3, e3, k3) = later(3)
    at(m1 + 86400)
    P, cap = 10 * C, 3 * C
    plans = {"none": plan(P), "full": plan(P, "full"), "capped": plan(P, "capped", cap)}
    accts = {rule: create(name) for rule, name in plans.items()}
    for a in accts.values():
        eq(spend(a, 4), [200] * 4, "spent in the first month")
    at(m2 + 60)
    # Left 6C: none carries 0, full 6C, capped 3C.
    want = {"none": P, "full": P + 6 * C, "capped": P + cap}
    for rule, a in accts.items():
        eq(plan_left(a), want[rule], "after one boundary, rollover %s" % rule)
        eq(periods(a)[-1][3], str(want[rule] - P), "rollover recorded for %s" % rule)
    for a in accts.values():
        eq(spend(a, 2), [200] * 2, "spent in the second month")
    at(m3 + 60)
    left = {rule: want[rule] - 2 * C for rule in want}
    want = {"none": P, "full": P + left["full"], "capped": P + min(left["capped"], cap)}
    for rule, a in accts.items():
        eq(plan_left(a), want[rule], "after two boundaries, rollover %s" % rule)
        rows = period_grants(a, k3)
        eq([r[2] for r in rows], [str(e3)] * len(rows), "every grant of the period expires at its end")
    verify()


def test_upgrade_credits_the_difference_and_downgrade_waits_for_the_next_period():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 5 * 86400)
    small, big = plan(4 * C), plan(10 * C)
    acct = create(small)
    eq(plan_left(acct), 4 * C, "the small plan's credit")
    spend(acct, 1)
    r = api("PATCH", "/v1/accounts/" + acct, {"plan": big})
    eq(r.status, 200, "upgrade %r" % r)
    eq(plan_left(acct), 9 * C, "the difference (6C) credited now")
    eq(api("PATCH", "/v1/accounts/" + acct, {"plan": small}).status, 200, "downgrade")
    eq(plan_left(acct), 9 * C, "a downgrade takes nothing back this period")
    eq(api("PATCH", "/v1/accounts/" + acct, {"plan": big}).status, 200, "up again")
    eq(plan_left(acct), 9 * C, "the period was credited the big plan's amount already: nothing more")
    eq(api("PATCH", "/v1/accounts/" + acct, {"plan": small}).status, 200, "down again")
    eq(periods(acct), [[str(k1), big, str(10 * C), "0"]], "one period row, raised to the big plan")
    at(m2 + 60)
    eq(plan_left(acct), 4 * C, "the next period: the small plan")
    none = create()
    eq(api("PATCH", "/v1/accounts/" + none, {"plan": big}).status, 200, "a first plan mid-period")
    eq(plan_left(none), 10 * C, "its whole credit now")
    eq(api("PATCH", "/v1/accounts/" + none, {"plan": None}).status, 200, "plan removed")
    eq(plan_left(none), 10 * C, "the period's credit stays to its end")
    (m3, e3, k3), = later(1)
    at(m3 + 60)
    eq(plan_left(none), 0, "no plan, no credit in the next period")
    verify()


def test_a_workspace_pool_with_six_members_stops_exactly_and_refills():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 86400)
    p = plan(40 * C, member_cap=12 * C)
    ws = create(p, kind="workspace")
    # The signup bonus is taken away, so the pool is the plan's credit.
    bonus = get(ws)["balance_micros"] - 40 * C
    if bonus > 0:
        r = api("POST", "/v1/accounts/%s/debits" % ws, {"amount_micros": bonus, "reason": "test"})
        check(r.status in (200, 201), "debit %r" % r)
    pool = get(ws)["balance_micros"]
    eq(pool, 40 * C, "the pool")
    members = ["m%d" % i for i in range(6)]
    for m in members:
        eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": m}).status, 201, "member " + m)
    ok = [0] * 6
    refused = []

    def member_spends(i):
        while True:
            st = spend(ws, 1, member=members[i])[0]
            if st != 200:
                refused.append(st)
                return
            ok[i] += 1
    threads = [threading.Thread(target=member_spends, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a = get(ws)
    check(a["balance_micros"] >= 0, "no overspend: %d" % a["balance_micros"])
    eq(sum(ok) * C, pool - a["balance_micros"], "what was charged is what the pool lost")
    check(a["balance_micros"] < C, "stopped only when one more request could not be paid")
    check(all(n <= 12 for n in ok), "no member past the plan's member cap: %r" % ok)
    check(402 in refused and set(refused) <= {402, 429}, "refused for the pool (or a member's cap): %r" % refused)
    at(m2 + 60)
    eq(plan_left(ws), 40 * C, "a new month refills the pool")
    eq(spend(ws, 1, member=members[0]), [200], "and the members' caps start again")
    verify()


def test_members_month_counters_reset_at_the_month_boundary():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 86400)
    p = plan(50 * C, member_cap=2 * C)
    ws = create(p, kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "ann"}).status, 201, "a member with no cap")
    eq(spend(ws, 3, member="ann"), [200, 200, 429], "the plan's member cap")
    at(e1 - 1)
    eq(spend(ws, 1, member="ann"), [429], "still capped just before the month ends")
    at(m2 + 1)
    eq(spend(ws, 1, member="ann"), [200], "a new month, a new cap")


def test_daily_limit_across_a_real_day_boundary():
    (m1, e1, k1), = later(1)
    day = m1 + 4 * 86400
    at(day - 30)
    acct = create(daily_limit_micros=2 * C)
    eq(spend(acct, 3), [200, 200, 429], "the day's limit")
    eq(get(acct)["day_spent_micros"], 2 * C, "the day's spend")
    at(day + 1)
    eq(get(acct)["day_spent_micros"], 0, "a new UTC day starts at zero")
    eq(spend(acct, 3), [200, 200, 429], "and allows the limit again")
    eq(get(acct)["month_spent_micros"], 4 * C, "the month kept counting")


def test_stripe_price_in_a_plan_sets_it_and_its_invoice_credits_the_period_once():
    (m1, e1, k1), = later(1)
    at(m1 + 3 * 86400)
    price = "price_" + secrets.token_hex(6)
    p = plan(7 * C, prices=[price])
    other = "p-" + uuid.uuid4().hex[:10]
    r = api("PUT", "/v1/plans/" + other, {"credits_micros": 1, "rollover": "none", "stripe_price_ids": [price]})
    eq((r.status, r.err.get("param")), (409, "stripe_price_ids"), "a price names one plan")
    acct = create()
    sub = "sub_" + secrets.token_hex(8)
    inv = invoice(acct, sub, price, m1 + 3 * 86400 - 60, m1 + 33 * 86400)
    eq(deliver_now(inv).status, 200, "invoice first")
    eq(plan_left(acct), 7 * C, "the plan's credits, not the amount paid")
    eq(deliver_now(subscription(acct, sub, price)).status, 200, "then the subscription")
    eq(get(acct)["plan"], p, "the price put the account on its plan")
    eq(plan_left(acct), 7 * C, "still one credit for the period")
    eq(deliver_now(invoice(acct, sub, price, m1 + 3 * 86400, m1 + 33 * 86400)).status, 200, "another invoice")
    eq(plan_left(acct), 7 * C, "the period is credited once")
    eq(len(periods(acct)), 1, "one period row")
    # A new subscription on a catalogued price: the plan and its credit.
    fresh = create()
    eq(deliver_now(subscription(fresh, "sub_" + secrets.token_hex(8), price,
                                etype="customer.subscription.created")).status, 200, "created")
    eq(get(fresh)["plan"], p, "customer.subscription.created sets the plan")
    eq(plan_left(fresh), 7 * C, "and credits its period")
    # A price in no plan: today's behaviour, the amount paid.
    plain = create()
    before = get(plain)["balance_micros"]
    eq(deliver_now(invoice(plain, "sub_" + secrets.token_hex(8), "price_unplanned", m1, e1, cents=900)).status,
       200, "an unplanned price")
    check(get(plain)["balance_micros"] > before, "credited the amount paid")
    verify()


def test_verify_checks_plan_periods_and_promo_counts():
    (m1, e1, k1), = later(1)
    at(m1 + 86400)
    acct = create(plan(3 * C))
    code = "VER" + secrets.token_hex(4).upper()
    eq(api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 1000, "max_redemptions": 2}).status, 201,
       "promo")
    eq(api("POST", "/v1/accounts/%s/redeem" % acct, {"code": code}, auth="app").status, 201, "redeemed")
    verify()
    where = "account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND period_key = %d" % (acct, k1)
    for broken, fix, check_name in (
            ("UPDATE plan_periods SET credits_micros = credits_micros + 1 WHERE " + where,
             "UPDATE plan_periods SET credits_micros = credits_micros - 1 WHERE " + where,
             "plan credit vs its period"),
            ("UPDATE promo_codes SET redeemed = redeemed + 2 WHERE code = '%s'" % code,
             "UPDATE promo_codes SET redeemed = redeemed - 2 WHERE code = '%s'" % code,
             "promo redemption count"),
            ("UPDATE promo_codes SET max_redemptions = 0 WHERE code = '%s'" % code,
             "UPDATE promo_codes SET max_redemptions = 2 WHERE code = '%s'" % code,
             "promo beyond its maximum"),
            ("UPDATE grants SET period_key = period_key + 1 WHERE " + where,
             "UPDATE grants SET period_key = period_key - 1 WHERE account_id = (SELECT id FROM accounts "
             "WHERE ext_id = '%s') AND period_key = %d" % (acct, k1 + 1),
             "plan grant outside a period"),
            ("UPDATE plan_periods SET rollover_micros = 5 WHERE " + where,
             "UPDATE plan_periods SET rollover_micros = 0 WHERE " + where,
             "plan rollover vs its period"),
            ("UPDATE grants SET amount_micros = amount_micros + 1, remaining_micros = remaining_micros + 1 WHERE "
             "source = 'promo' AND account_id = (SELECT id FROM accounts WHERE ext_id = '%s')" % acct,
             "UPDATE grants SET amount_micros = amount_micros - 1, remaining_micros = remaining_micros - 1 WHERE "
             "source = 'promo' AND account_id = (SELECT id FROM accounts WHERE ext_id = '%s')" % acct,
             "promo redemption without its grant")):
        lib.verify_sees(broken, fix, check_name)
    verify()


def test_metadata_plan_and_an_unplanned_invoice_price_credit_the_period_once():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 2 * 86400)
    p = plan(6 * C)
    acct = create()
    sub = "sub_" + secrets.token_hex(8)
    ev = subscription(acct, sub, "price_not_in_any_plan")
    ev["data"]["object"]["metadata"]["plan"] = p
    eq(deliver_now(ev).status, 200, "subscription naming the plan in metadata.plan")
    eq(get(acct)["plan"], p, "metadata.plan naming a catalogued plan sets it")
    eq(plan_left(acct), 6 * C, "its credit")
    eq(deliver_now(invoice(acct, sub, "price_not_in_any_plan", m1 + 2 * 86400, e1)).status, 200, "its invoice")
    eq(plan_left(acct), 6 * C, "the invoice of the plan's subscription adds nothing in the period")
    at(m2 + 60)
    eq(deliver_now(invoice(acct, sub, "price_not_in_any_plan", m2, e2)).status, 200, "next month's invoice")
    eq(plan_left(acct), 6 * C, "one credit in the next period too, whoever made it")
    verify()


def test_a_catalogue_change_applies_from_the_next_period():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 2 * 86400)
    price = "price_" + secrets.token_hex(6)
    p = plan(10 * C, prices=[price])
    acct = create()
    sub = "sub_" + secrets.token_hex(8)
    eq(deliver_now(subscription(acct, sub, price)).status, 200, "on the plan through Stripe")
    eq(plan_left(acct), 10 * C, "its credit")
    eq(api("PUT", "/v1/plans/" + p, {"credits_micros": 15 * C, "rollover": "none", "stripe_price_ids": [price]})
       .status, 200, "the catalogue raised mid-period")
    eq(api("PATCH", "/v1/accounts/" + acct, {"plan": p}).status, 200, "the same plan set again")
    eq(deliver_now(subscription(acct, sub, price)).status, 200, "another update of the same subscription")
    eq(deliver_now(invoice(acct, sub, price, m1 + 2 * 86400, e1)).status, 200, "a late invoice")
    eq(plan_left(acct), 10 * C, "nothing more this period")
    at(m2 + 60)
    eq(plan_left(acct), 15 * C, "the new amount from the next period")
    verify()


def test_an_invoice_for_next_month_credits_this_period_only():
    (m1, e1, k1), (m2, e2, k2) = later(2)
    price = "price_" + secrets.token_hex(6)
    at(m1 + 86400)
    p = plan(10 * C, "full", prices=[price])
    acct = create(p)
    at(e1 - 3600)
    eq(deliver_now(invoice(acct, "sub_" + secrets.token_hex(8), price, m2, e2)).status, 200, "paid early")
    eq([r[0] for r in periods(acct)], [str(k1)], "this period's credit only (made when the plan was set)")
    eq(plan_left(acct), 10 * C, "nothing of next month spendable now")
    eq(spend(acct, 4), [200] * 4, "spent")
    at(m2 + 60)
    eq(plan_left(acct), 10 * C + 6 * C, "next month: its credit and what was left, rolled over once")
    verify()


def test_a_plan_named_rollover_is_not_taken_for_a_rollover():
    (m1, e1, k1), = later(1)
    at(m1 + 86400)
    name = "rollover"
    r = api("PUT", "/v1/plans/" + name, {"credits_micros": 2 * C, "rollover": "full"})
    eq(r.status, 200, "a plan called rollover")
    acct = create(name)
    eq(plan_left(acct), 2 * C, "credited")
    verify()


def test_plans_named_like_an_invoice_credit_every_account():
    """A period grant is named <plan>:<period>; an invoice's grant in_...
    is held once by invoice_credits (migration 026). A plan called
    in_house (or IN_HOUSE) is no invoice: each of its accounts gets its
    period's credit, this month and the next."""
    (m1, e1, k1), (m2, e2, k2) = later(2)
    at(m1 + 86400)
    names = ["in_house", "IN_" + uuid.uuid4().hex[:6]]
    for name in names:
        eq(api("PUT", "/v1/plans/" + name, {"credits_micros": 3 * C, "rollover": "none"}).status, 200, name)
    accts = [create(name) for name in names for _ in range(2)]
    eq([plan_left(a) for a in accts], [3 * C] * 4, "each account credited for its first period")
    at(m2 + 3600)
    for a in accts:
        eq(api("GET", "/v1/accounts/" + a, auth="read").status, 200, "a request in the next month")
    eq([plan_left(a) for a in accts], [3 * C] * 4, "each account credited for the next period")
    verify()


def test_december_to_january():
    later(1)
    y, m = _month[0]
    y = y if m < 12 else y + 1          # the next December after every month used
    dec, jan, feb = month_start(y, 12), month_start(y + 1, 1), month_start(y + 1, 2)
    _month[0] = (y + 1, 1)
    kjan = (y + 1) * 100 + 1
    at(dec + 86400)
    p = plan(5 * C, "full")
    acct = create(p)
    spend(acct, 2)
    at(jan + 60)
    eq(plan_left(acct), 5 * C + 3 * C, "credit and rollover across the year")
    eq(periods(acct)[-1][:1], [str(kjan)], "January's period")
    eq(get(acct)["period_end"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(feb)), "ends with January")
    verify()


def test_zz_the_clock_goes_back():
    clock_reset()
    check(abs(clock_now() - time.time()) <= 1, "real time again")
    eq(api("GET", "/healthz", auth=None).status, 200, "creditd answers")
