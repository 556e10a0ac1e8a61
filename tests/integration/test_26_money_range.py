"""test_26_money_range.py: money stays in range (DESIGN §10) and the
checks of `creditctl verify` that go with it.

Token counts above 10^9 in one call, and any single charge, grant or
debit above 10^12 micros, are refused with 400 naming the field; a
computed charge above 10^12 names the token field that drives it. Every
balance, reserve and spend counter stays within ±9·10^18: an operation
that would leave the range is refused (400) and changes nothing, forced
usage included. verify compares each usage record's cost with its
journal charge and each member's month spend with its usage, and reports
a monthly limit lowered below the month's spend as a warning (a violation
once the spend passes what was spent and held when the limit changed),
and accepts a late settle past the monthly limit.
"""
import os
import threading
import time

import stack
from lib import ENV, api, check, creditctl, eq, new_account, sql, uid, verify
from test_20_guard import authorize, cost, settle

TOKENS_MAX = 10 ** 9
AMOUNT_MAX = 10 ** 12
RANGE = 9 * 10 ** 18
BONUS = 10000000
MARGIN = 10500
# An output price at which 10^9 tokens cost just under 10^12 micros:
# ceil(10^9 * 952380952 * 10500 / 10^10) = 999,999,999,600.
MAX_PRICE = 952380952
# An output price at which 10^6 tokens already cost 1.05·10^12 micros.
BIG_PRICE = 10 ** 12
_imported = set()


def import_model(name, out_price, max_out):
    """Imports one model priced only by its output (--force: far above the
    import's guard), once per run."""
    if name in _imported:
        return
    path = stack.path("prices-%s.csv" % uid("p"))
    with open(path, "w") as f:
        f.write("model,%s,0,0,%d,%d\n" % (name, out_price, max_out))
    creditctl("price", "import", path, "--force")
    os.unlink(path)
    _imported.add(name)


def charge_of(out_price, tokens):
    return -(-(tokens * out_price * MARGIN) // 10 ** 10)


def usage(acct, model="gpt-4o", input_tokens=10, output_tokens=10, **extra):
    body = {"account": acct, "model": model, "input_tokens": input_tokens, "output_tokens": output_tokens,
            "request_id": uid("u")}
    body.update(extra)
    return api("POST", "/v1/usage", body, auth="guard")


def state(acct):
    r = api("GET", "/v1/accounts/" + acct, auth="read")
    eq(r.status, 200, "account")
    j = r.json
    rows = sql("SELECT COUNT(*) FROM journal j JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = '%s'" % acct)
    return (j["balance_micros"], j["reserved_micros"], j["month_spent_micros"], j["day_spent_micros"], rows[0][0])


def refused(r, param, what):
    eq(r.status, 400, "%s: refused 400: %r" % (what, r))
    eq((r.err.get("code"), r.err.get("param")), ("invalid_request", param), "%s: the field named" % what)


# ---- token counts ----

def test_tokens_above_a_billion_are_refused_on_every_guard_route():
    acct = new_account("tok")
    before = state(acct)
    for n in (10 ** 15, TOKENS_MAX + 1):
        refused(authorize(acct, input_tokens=n), "input_tokens", "authorize input %d" % n)
        refused(authorize(acct, max_output_tokens=n), "max_output_tokens", "authorize max_output %d" % n)
        refused(authorize(acct, max_output_tokens=500, min_output_tokens=n), "min_output_tokens",
                "authorize min_output %d" % n)
        for field in ("input_tokens", "output_tokens"):
            refused(usage(acct, **{field: n}), field, "usage %s %d" % (field, n))
            refused(usage(acct, force=True, **{field: n}), field, "forced usage %s %d" % (field, n))
        refused(usage(acct, input_tokens=10, cached_input_tokens=n), "cached_input_tokens", "usage cached %d" % n)
    h = authorize(acct)
    eq(h.status, 200, "a normal hold")
    before = state(acct)
    for n in (10 ** 15, TOKENS_MAX + 1):
        refused(settle(h.json["hold_id"], 1000, n), "output_tokens", "settle output %d" % n)
        refused(settle(h.json["hold_id"], n, 10), "input_tokens", "settle input %d" % n)
    eq(state(acct), before, "nothing charged, held or journaled by the refusals")
    # 10^9 itself is a valid count: charged where the price allows.
    r = usage(acct, output_tokens=TOKENS_MAX, input_tokens=TOKENS_MAX, cached_input_tokens=TOKENS_MAX, force=True)
    eq(r.status, 200, "10^9 tokens at gpt-4o's prices: %r" % r)
    eq(r.json["charged_micros"], cost("gpt-4o", TOKENS_MAX, TOKENS_MAX, cached=TOKENS_MAX), "charged exactly")
    s = settle(h.json["hold_id"], TOKENS_MAX, TOKENS_MAX)
    eq(s.status, 200, "a settle of 10^9 tokens: %r" % s)
    eq(s.json["charged_micros"], cost("gpt-4o", TOKENS_MAX, TOKENS_MAX), "charged beyond its hold, exactly")
    verify()


# ---- single amounts ----

def test_amounts_above_10_12_are_refused_and_change_nothing():
    acct = new_account("amt")
    before = state(acct)
    path = "/v1/accounts/" + acct
    refused(api("POST", path + "/grants", {"amount_micros": AMOUNT_MAX + 1, "source": "promo"}), "amount_micros",
            "grant")
    refused(api("POST", path + "/debits", {"amount_micros": AMOUNT_MAX + 1, "reason": "x"}), "amount_micros", "debit")
    eq(state(acct), before, "nothing changed")
    refused(api("POST", "/v1/promo_codes", {"code": uid("BIG").replace("-", "_"), "amount_micros": AMOUNT_MAX + 1}),
            "amount_micros", "promo code")
    plan = uid("big").replace("-", "_")
    refused(api("PUT", "/v1/plans/" + plan, {"credits_micros": AMOUNT_MAX + 1, "rollover": "none"}), "credits_micros", "plan credits")
    eq(api("GET", "/v1/plans", auth="read").json["data"].__repr__().count(plan), 0, "no plan made")
    g = api("POST", path + "/grants", {"amount_micros": AMOUNT_MAX, "source": "adjustment"})
    eq(g.status, 201, "a grant of exactly 10^12: %r" % g)
    d = api("POST", path + "/debits", {"amount_micros": AMOUNT_MAX, "reason": "back"})
    eq(d.status, 201, "a debit of exactly 10^12: %r" % d)
    eq(state(acct)[0], BONUS, "back where it was")
    verify()


def test_a_computed_charge_above_10_12_names_its_token_field():
    import_model("range-big", BIG_PRICE, 2000000)
    acct = new_account("bigcost")
    eq(api("POST", "/v1/accounts/" + acct + "/grants", {"amount_micros": 10 ** 10, "source": "adjustment"}).status,
       201, "funded")
    before = state(acct)
    refused(authorize(acct, model="range-big", input_tokens=1, max_output_tokens=10 ** 6), "max_output_tokens",
            "a hold of 1.05·10^12")
    refused(usage(acct, model="range-big", output_tokens=10 ** 6, force=True), "output_tokens", "forced usage")
    h = authorize(acct, model="range-big", input_tokens=1, max_output_tokens=1000)
    eq(h.status, 200, "a small hold: %r" % h)
    mid = state(acct)
    refused(settle(h.json["hold_id"], 1, 10 ** 6), "output_tokens", "a settle costing 1.05·10^12")
    eq(state(acct), mid, "the refused settle changed nothing")
    s = settle(h.json["hold_id"], 1, 900000)
    eq((s.status, s.json and s.json["charged_micros"]), (200, charge_of(BIG_PRICE, 900000)), "a settle under 10^12")
    check(before[0] - state(acct)[0] == charge_of(BIG_PRICE, 900000), "charged once")
    verify()


# ---- forced charges: exact, in range ----

def test_ten_thousand_forced_maximum_charges_stay_exact():
    import_model("range-max", MAX_PRICE, TOKENS_MAX)
    each = charge_of(MAX_PRICE, TOKENS_MAX)
    check(each <= AMOUNT_MAX and charge_of(MAX_PRICE, TOKENS_MAX + 1) > AMOUNT_MAX - 10 ** 6, "the largest charge")
    acct = new_account("forced")
    n, threads = 10000, 16
    charged = [0] * threads
    errors = []

    def run(t):
        for i in range(t, n, threads):
            r = usage(acct, model="range-max", input_tokens=0, output_tokens=TOKENS_MAX, force=True,
                      request_id="f-%d" % i)
            if r.status != 200:
                errors.append(r)
                return
            charged[t] += r.json["charged_micros"]

    started = time.monotonic()
    ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    eq(errors[:1], [], "every forced charge answered 200")
    eq(sum(charged), n * each, "each charged the same exact amount")
    a = state(acct)
    eq(a[0], BONUS - n * each, "balance = bonus - sum of charges, exactly")
    check(-RANGE <= a[0] <= RANGE, "in range")
    eq(a[2], n * each, "the month's spend counted every charge")
    verify()
    check(time.monotonic() - started < 60, "well under a minute")


def _near_bound(acct, balance):
    """Moves acct (fresh: its signup grant only) to `balance` consistently,
    as root: the grant burnt, a debt row carrying the balance, one journal
    row (source forced, so a balance below -overdraft is accounted for)."""
    aid = sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct)[0][0]
    sql("UPDATE grants SET remaining_micros = 0 WHERE account_id = %s; "
        "INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, description, created_at) "
        "VALUES (%s, 'debt', 0, %d, 0, 'debt carried by the account', UNIX_TIMESTAMP()); "
        "INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, description, created_at) "
        "VALUES (%s, %d, %d, 'adjustment', 'forced', 'moved near the bound by a test', UNIX_TIMESTAMP()); "
        "UPDATE accounts SET balance_micros = %d WHERE id = %s"
        % (aid, aid, balance, aid, balance - BONUS, balance, balance, aid))


def test_a_forced_charge_that_would_cross_minus_9e18_is_refused():
    import_model("range-max", MAX_PRICE, TOKENS_MAX)
    acct = new_account("edge")
    _near_bound(acct, -RANGE + AMOUNT_MAX // 2)
    verify()
    before = state(acct)
    r = usage(acct, model="range-max", input_tokens=0, output_tokens=TOKENS_MAX, force=True)
    refused(r, "output_tokens", "the forced charge past -9·10^18")
    eq(state(acct), before, "nothing changed")
    d = api("POST", "/v1/accounts/" + acct + "/debits", {"amount_micros": AMOUNT_MAX, "reason": "past"})
    eq(d.status, 402, "a debit is refused first as insufficient: %r" % d)
    small = usage(acct, model="range-max", input_tokens=0, output_tokens=TOKENS_MAX // 4, force=True)
    eq(small.status, 200, "a charge that stays in range still goes through: %r" % small)
    eq(state(acct)[0], before[0] - small.json["charged_micros"], "charged exactly")
    verify()


def test_a_grant_that_would_pass_plus_9e18_is_refused():
    acct = new_account("top")
    aid = sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct)[0][0]
    top = RANGE - AMOUNT_MAX // 2
    sql("INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, description, created_at) "
        "VALUES (%s, 'adjustment', %d, %d, 0, 'near the bound', UNIX_TIMESTAMP()); "
        "INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, description, created_at) "
        "VALUES (%s, %d, %d, 'grant', 'adjustment', 'near the bound', UNIX_TIMESTAMP()); "
        "UPDATE accounts SET balance_micros = %d WHERE id = %s"
        % (aid, top - BONUS, top - BONUS, aid, top - BONUS, top, top, aid))
    before = state(acct)
    refused(api("POST", "/v1/accounts/" + acct + "/grants", {"amount_micros": AMOUNT_MAX, "source": "promo"}),
            "amount_micros", "a grant past +9·10^18")
    eq(state(acct), before, "nothing changed")
    verify()


# ---- verify ----

def _verify_out():
    p = creditctl("verify", check_rc=False)
    return p.returncode, p.stdout + p.stderr


def test_verify_finds_a_usage_cost_that_is_not_its_journal_charge():
    acct = new_account("vusage")
    r = usage(acct)
    eq(r.status, 200, "usage")
    h = authorize(acct)
    eq(settle(h.json["hold_id"], 800, 300).status, 200, "a settle")
    verify()
    for where in ("hold_id IS NULL", "hold_id IS NOT NULL"):
        cond = "account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND %s" % (acct, where)
        sql("UPDATE usage_records SET cost_micros = cost_micros + 1 WHERE " + cond)
        try:
            rc, out = _verify_out()
            eq(rc, 1, "verify exits 1 (%s): %s" % (where, out))
            check("usage cost vs journal" in out and acct in out, "it names the check and the account: " + out)
        finally:
            sql("UPDATE usage_records SET cost_micros = cost_micros - 1 WHERE " + cond)
    verify()


def test_verify_finds_a_member_spend_that_is_not_its_usage():
    acct = uid("vmember")
    eq(api("POST", "/v1/accounts", {"id": acct, "kind": "workspace"}).status, 201, "workspace")
    eq(api("POST", "/v1/accounts/%s/members" % acct, {"member": "ann"}).status in (200, 201), True, "member")
    eq(usage(acct, member="ann").status, 200, "usage by ann")
    h = authorize(acct, member="ann")
    eq(settle(h.json["hold_id"], 900, 100).status, 200, "ann's settle")
    verify()
    cond = "account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND member = 'ann'" % acct
    sql("UPDATE members SET month_spent_micros = month_spent_micros + 7 WHERE " + cond)
    try:
        rc, out = _verify_out()
        eq(rc, 1, "verify exits 1: " + out)
        check("member month spend vs usage" in out and acct in out, "it names the check: " + out)
    finally:
        sql("UPDATE members SET month_spent_micros = month_spent_micros - 7 WHERE " + cond)
    verify()


def test_verify_warns_of_a_monthly_limit_lowered_below_the_spend():
    acct = new_account("vlimit", monthly_limit_micros=BONUS)
    r = usage(acct, input_tokens=100000, output_tokens=100000)
    eq(r.status, 200, "spend under the limit")
    eq(api("PATCH", "/v1/accounts/" + acct, {"monthly_limit_micros": 1}).status, 200, "limit lowered")
    rc, out = _verify_out()
    eq(rc, 0, "a warning is not a violation: " + out)
    lines = [ln for ln in out.splitlines() if acct in ln]
    check(lines and all(ln.startswith("warning: ") for ln in lines), "a warning line names the account: " + out)
    check("month spend vs monthly limit" in lines[0], "and the check: " + out)
    # Past what was spent (and held) when the limit was lowered, the spend
    # is no longer the one that came first: a violation.
    cond = "ext_id = '%s'" % acct
    sql("UPDATE accounts SET month_spent_micros = month_spent_micros + 1 WHERE " + cond)
    try:
        rc, out = _verify_out()
        eq(rc, 1, "spend beyond the lowered limit and the spend then is a violation: " + out)
        lines = [ln for ln in out.splitlines() if acct in ln]
        check(lines and lines[0].startswith("violation: ") and "month spend vs monthly limit" in lines[0],
              "a violation line names the account and the check: " + out)
    finally:
        sql("UPDATE accounts SET month_spent_micros = month_spent_micros - 1 WHERE " + cond)
    verify()


def test_verify_reports_spend_beyond_a_raised_monthly_limit():
    acct = new_account("vraise", monthly_limit_micros=BONUS // 2)
    eq(usage(acct, input_tokens=1000, output_tokens=1000).status, 200, "spend under the limit")
    eq(api("PATCH", "/v1/accounts/" + acct, {"monthly_limit_micros": BONUS}).status, 200, "limit raised")
    verify()
    cond = "ext_id = '%s'" % acct
    spent = state(acct)[2]
    sql("UPDATE accounts SET month_spent_micros = %d WHERE %s" % (BONUS + 1, cond))
    try:
        rc, out = _verify_out()
        eq(rc, 1, "spend beyond a limit raised this month is a violation, not a warning: " + out)
        check(any(ln.startswith("violation: ") and acct in ln for ln in out.splitlines()), "named: " + out)
    finally:
        sql("UPDATE accounts SET month_spent_micros = %d WHERE %s" % (spent, cond))
    verify()


def test_verify_accepts_a_late_settle_of_an_expired_hold_past_the_monthly_limit():
    # gpt-4o, 1000 in + 500 out: (2500 + 5000) * 1.05 = 7875 micros held;
    # the late settle, 1000 in + 400 out: 6825.
    limit = 10000
    acct = new_account("vlate", monthly_limit_micros=limit)
    first = authorize(acct, ttl_seconds=1)
    eq((first.status, first.json["amount_micros"]), (200, 7875), "the first hold")
    time.sleep(1.5)     # it expires: it reserves nothing from now on
    second = authorize(acct)
    eq(second.status, 200, "a second hold fits the limit beside an expired one: %r" % second)
    eq(settle(second.json["hold_id"], 1000, 500).status, 200, "the second settled in full")
    s = settle(first.json["hold_id"], 1000, 400)
    eq((s.status, s.json and s.json["late"], s.json and s.json["charged_micros"]), (200, True, 6825),
       "the expired hold settled late")
    eq(state(acct)[2], 7875 + 6825, "the month's spend passed its limit by the late settle")
    check(7875 + 6825 > limit, "past the limit")
    verify()


def test_verify_warns_when_a_hold_pending_at_the_lowering_is_settled():
    # What was held when the limit was lowered had been allowed under the
    # old limit: its settle is part of what the month had committed then.
    acct = new_account("vheld", monthly_limit_micros=BONUS)
    h = authorize(acct)
    eq(h.status, 200, "a hold under the old limit")
    eq(api("PATCH", "/v1/accounts/" + acct, {"monthly_limit_micros": 1}).status, 200, "limit lowered")
    eq(settle(h.json["hold_id"], 1000, 500).status, 200, "the hold settled in full")
    rc, out = _verify_out()
    eq(rc, 0, "a warning, not a violation: " + out)
    lines = [ln for ln in out.splitlines() if acct in ln]
    check(lines and all(ln.startswith("warning: ") for ln in lines), "a warning line names the account: " + out)


def test_verify_finds_a_member_reserve_that_is_not_its_pending_holds_and_032_repairs_it():
    acct = uid("vmember")
    eq(api("POST", "/v1/accounts", {"id": acct, "kind": "workspace"}).status, 201, "workspace")
    early = authorize(acct, member="bea")
    eq(early.status, 200, "a hold of bea's before she is a member")
    eq(api("POST", "/v1/accounts/%s/members" % acct, {"member": "bea"}).status, 201, "bea added")
    eq(authorize(acct, member="bea").status, 200, "and a hold since")
    verify()
    cond = "account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND member = 'bea'" % acct
    # As a row made before migration 032 was: its earlier hold not reserved.
    sql("UPDATE members SET reserved_micros = reserved_micros - %d WHERE %s" % (early.json["amount_micros"], cond))
    rc, out = _verify_out()
    eq(rc, 1, "verify exits 1: " + out)
    check("member reserved vs holds" in out and acct in out, "it names the check: " + out)
    with open(os.path.join(os.path.dirname(ENV["CREDITCTL"]), "sql", "032_member_reserves.sql")) as f:
        sql(f.read())
    verify()
    eq(settle(early.json["hold_id"], 100, 10).status, 200, "the earlier hold settles off the repaired reserve")
    verify()


def test_a_reserve_edited_below_zero_is_refused_and_the_daemon_serves_on():
    """A reserve set below 0 by hand (invariant 2 broken outside creditd):
    a write to that account is refused 500 internal_error with nothing
    written, not an assertion that takes the daemon down for everyone."""
    acct = new_account("neg-reserve")
    eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1000, "source": "promo"}).status, 201, "funded")
    sql("UPDATE accounts SET reserved_micros = -5 WHERE ext_id = '%s'" % acct)
    try:
        before = sql("SELECT balance_micros, (SELECT COUNT(*) FROM journal j WHERE j.account_id = a.id) "
                     "FROM accounts a WHERE ext_id = '%s'" % acct)
        r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1000, "source": "promo"})
        eq((r.status, r.err.get("code")), (500, "internal_error"), "the write refused: %r" % r)
        eq(sql("SELECT balance_micros, (SELECT COUNT(*) FROM journal j WHERE j.account_id = a.id) "
               "FROM accounts a WHERE ext_id = '%s'" % acct), before, "nothing written")
        other = new_account("neg-reserve-other")
        eq(api("POST", "/v1/accounts/%s/grants" % other, {"amount_micros": 1000, "source": "promo"}).status, 201,
           "the daemon serves the next request")
    finally:
        sql("UPDATE accounts SET reserved_micros = 0 WHERE ext_id = '%s'" % acct)
    verify()


def test_a_reserve_edited_below_zero_fails_only_its_own_guard_calls():
    """The same through the guard's batch: a usage of that account is
    refused 500 with nothing written, the daemon and other accounts'
    guard calls go on."""
    acct = new_account("neg-reserve-guard")
    eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 10 ** 9, "source": "promo"}).status, 201,
       "funded")
    sql("UPDATE accounts SET reserved_micros = -5 WHERE ext_id = '%s'" % acct)
    try:
        before = sql("SELECT balance_micros, (SELECT COUNT(*) FROM journal j WHERE j.account_id = a.id) "
                     "FROM accounts a WHERE ext_id = '%s'" % acct)
        r = usage(acct)
        eq((r.status, r.err.get("code")), (500, "internal_error"), "the usage refused: %r" % r)
        eq(sql("SELECT balance_micros, (SELECT COUNT(*) FROM journal j WHERE j.account_id = a.id) "
               "FROM accounts a WHERE ext_id = '%s'" % acct), before, "nothing written")
        other = new_account("neg-reserve-guard-other")
        eq(api("POST", "/v1/accounts/%s/grants" % other, {"amount_micros": 10 ** 9, "source": "promo"}).status, 201,
           "funded")
        eq(usage(other).status, 200, "another account's usage goes on")
    finally:
        sql("UPDATE accounts SET reserved_micros = 0 WHERE ext_id = '%s'" % acct)
    verify()


def test_a_member_reserve_edited_below_zero_fails_only_its_own_guard_calls():
    """A member's reserve set below 0 by hand: a usage naming that member
    is refused 500 with nothing written (the batch's read finds rows that
    disagree), not an assertion that takes the daemon down; the account's
    other members and other accounts go on."""
    acct = new_account("neg-member", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 10 ** 9, "source": "promo"}).status, 201,
       "funded")
    for member in ("ann", "bob"):
        eq(api("POST", "/v1/accounts/%s/members" % acct, {"member": member}).status, 201, "member %s" % member)
    sql("UPDATE members m JOIN accounts a ON a.id = m.account_id SET m.reserved_micros = -5 "
        "WHERE a.ext_id = '%s' AND m.member = 'ann'" % acct)
    try:
        before = state(acct)
        r = usage(acct, member="ann")
        eq((r.status, r.err.get("code")), (500, "internal_error"), "the usage refused: %r" % r)
        eq(state(acct), before, "nothing written")
        eq(usage(acct, member="bob").status, 200, "another member's usage goes on")
        other = new_account("neg-member-other")
        eq(usage(other).status, 200, "and another account's")
    finally:
        sql("UPDATE members m JOIN accounts a ON a.id = m.account_id SET m.reserved_micros = 0 "
            "WHERE a.ext_id = '%s' AND m.member = 'ann'" % acct)
    verify()
