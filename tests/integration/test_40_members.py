"""test_40_members.py: workspace members, their monthly caps and the
attribution of usage to them."""
import time

from lib import api, account, check, clock_now, eq, new_account, parallel, sql, uid, verify


def _hold(acct, member, rid, tokens=1000):
    return api("POST", "/v1/guard/authorize", {"account": acct, "member": member, "model": "gpt-4o",
                                               "input_tokens": tokens, "max_output_tokens": 1000,
                                               "request_id": rid}, auth="guard")


def test_member_put_and_delete():
    ws = new_account("ws", kind="workspace")
    r = api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob", "monthly_cap_micros": 50000})
    eq(r.status, 201, "member added")
    eq(r.json, {"account": ws, "member": "bob", "monthly_cap_micros": 50000, "month_spent_micros": 0,
                "reserved_micros": 0, "requests_per_minute": None, "tokens_per_minute": None}, "member body")
    r = api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob"})
    eq(r.status, 200, "posting an existing member again")
    eq(r.json["monthly_cap_micros"], 50000, "without the field, the cap stays")
    r = api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob", "monthly_cap_micros": None})
    eq(r.status, 200, "member updated")
    eq(r.json["monthly_cap_micros"], None, "cap removed")
    r = api("DELETE", "/v1/accounts/%s/members/bob" % ws)
    eq(r.status, 200, "member deleted")
    eq(api("DELETE", "/v1/accounts/%s/members/bob" % ws).status, 404, "deleting again")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "x"}, auth="read").status, 403, "admin only")


def test_member_input_is_validated():
    ws = new_account("ws", kind="workspace")
    user = new_account("user")
    r = api("POST", "/v1/accounts/%s/members" % user, {"member": "bob"})
    eq(r.status, 400, "members only on workspaces")
    for body, param in (({"member": "bob", "monthly_cap_micros": -1}, "monthly_cap_micros"),
                        ({"member": "bob", "monthly_cap_micros": 1.5}, "monthly_cap_micros"),
                        ({"member": "bob", "role": "owner"}, "role"),
                        ({"member": ""}, "member"), ({}, "member")):
        r = api("POST", "/v1/accounts/%s/members" % ws, body)
        eq(r.status, 400, "bad member body %r" % body)
        eq(r.err.get("param"), param, "param of %r" % body)
    eq(api("POST", "/v1/accounts/nobody-here/members", {"member": "bob"}).status, 404, "unknown account")
    eq(sql("SELECT COUNT(*) FROM members m JOIN accounts a ON a.id = m.account_id WHERE a.ext_id = '%s'" % ws)[0][0],
       "0", "nothing stored")


def test_member_cap_refuses_with_429_before_the_pool_runs_dry():
    ws = new_account("ws", kind="workspace")
    # gpt-4o, 1000 in + 1000 out: (2.5 + 10) * 1.05 = 13.125 -> 13125 micros per hold.
    api("POST", "/v1/accounts/%s/members" % ws, {"member": "carol", "monthly_cap_micros": 30000})
    eq(_hold(ws, "carol", "c1").status, 200, "first hold within the cap")
    eq(_hold(ws, "carol", "c2").status, 200, "second hold within the cap")
    r = _hold(ws, "carol", "c3")
    eq(r.status, 429, "third hold passes the cap")
    eq(r.err.get("code"), "member_cap_reached", "code")
    eq(r.err.get("type"), "insufficient_quota", "type")
    eq(r.err.get("required_micros"), 13125, "required")
    eq(r.err.get("available_micros"), 30000 - 2 * 13125, "left under the cap")
    eq(_hold(ws, "dave", "d1").status, 200, "another member is not capped")
    eq(_hold(ws, "carol", "c2").status, 200, "a replayed request_id still gets its hold")


def test_member_cap_counts_settled_spend_and_releases():
    ws = new_account("ws", kind="workspace")
    api("POST", "/v1/accounts/%s/members" % ws, {"member": "erin", "monthly_cap_micros": 20000})
    h = _hold(ws, "erin", "e1").json["hold_id"]
    r = api("POST", "/v1/guard/settle", {"hold_id": h, "input_tokens": 1000, "output_tokens": 0}, auth="guard")
    eq(r.json["charged_micros"], 2625, "charged the input only")
    m = sql("SELECT m.month_spent_micros, m.reserved_micros FROM members m JOIN accounts a ON a.id = m.account_id "
            "WHERE a.ext_id = '%s' AND m.member = 'erin'" % ws)
    eq(m, [["2625", "0"]], "member spend and reserve after settle")
    h2 = _hold(ws, "erin", "e2").json["hold_id"]
    eq(_hold(ws, "erin", "e3").status, 429, "2625 + 13125 + 13125 > 20000")
    eq(api("POST", "/v1/guard/release", {"hold_id": h2}, auth="guard").status, 200, "release")
    eq(_hold(ws, "erin", "e4").status, 200, "the released reserve is free again")
    verify()


def test_member_cap_holds_under_concurrency():
    ws = new_account("ws", kind="workspace")
    cap = 10 * 13125
    api("POST", "/v1/accounts/%s/members" % ws, {"member": "frank", "monthly_cap_micros": cap})
    results = parallel(32, lambda i: _hold(ws, "frank", "f%d" % i).status)
    eq(results.count(200), 10, "exactly cap / hold holds granted")
    eq(results.count(429), 22, "the rest refused")
    acct = account(ws)
    eq(acct["reserved_micros"], cap, "pool reserve")
    usage = api("GET", "/v1/accounts/%s/usage?group_by=member" % ws, auth="read")
    eq(usage.status, 200, "usage by member")
    verify()


# ---- Members with no row on a workspace whose plan has a member cap ----
# (DESIGN §9, §13): the first guard call naming such a member makes its
# row, which the plan's member_cap_micros caps like a row with no cap of
# its own, its month spend and pending holds counted.

HOLD = 13125        # _hold's gpt-4o hold: 1000 in + 1000 out


def _plan(member_cap=None):
    n = uid("mplan")
    body = {"credits_micros": 0, "rollover": "none"}
    if member_cap is not None:
        body["member_cap_micros"] = member_cap
    eq(api("PUT", "/v1/plans/" + n, body).status, 200, "plan %s" % n)
    return n


def _workspace(plan):
    ws = uid("mws")
    eq(api("POST", "/v1/accounts", {"id": ws, "kind": "workspace", "plan": plan}).status, 201, "workspace")
    return ws


def _usage(acct, member, rid):
    return api("POST", "/v1/usage", {"account": acct, "member": member, "model": "gpt-4o", "input_tokens": 1000,
                                     "output_tokens": 1000, "request_id": rid}, auth="guard")


def _row(ws, member):
    """The member's row: [monthly_cap_micros, month_spent_micros, reserved_micros], or None."""
    rows = sql("SELECT COALESCE(m.monthly_cap_micros, 'null'), m.month_spent_micros, m.reserved_micros "
               "FROM members m JOIN accounts a ON a.id = m.account_id "
               "WHERE a.ext_id = '%s' AND m.member = '%s'" % (ws, member))
    return rows[0] if rows else None


def _member_view(ws, member):
    """What a browser token of the member shows of it (404: no such member)."""
    r = api("POST", "/v1/accounts/%s/browser_tokens" % ws, {"member": member}, auth="app")
    if r.status != 201:
        return r.status
    me = api("GET", "/v1/me", auth=None, headers={"Authorization": "Bearer " + r.json["token"]})
    eq(me.status, 200, "the member's view")
    return me.json["member"]


def test_a_member_never_added_is_capped_at_the_plans_member_cap():
    cap = 3 * HOLD + 500
    ws = _workspace(_plan(member_cap=cap))
    eq(_member_view(ws, "stranger"), 404, "not a member before any call")
    eq([_hold(ws, "stranger", "s%d" % i).status for i in range(3)], [200, 200, 200], "three holds fit")
    r = _hold(ws, "stranger", "s3")
    eq(r.status, 429, "the fourth passes the plan's member cap")
    eq((r.err.get("code"), r.err.get("available_micros"), r.err.get("required_micros")),
       ("member_cap_reached", 500, HOLD), "member_cap_reached, with what is left under the cap")
    eq(_row(ws, "stranger"), ["null", "0", str(3 * HOLD)], "its row: no cap of its own, the holds reserved")
    view = _member_view(ws, "stranger")
    eq((view["monthly_cap_micros"], view["reserved_micros"], view["remaining_micros"]), (cap, 3 * HOLD, 500),
       "a member now, capped at the plan's member cap")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "stranger"}).status, 200, "POST finds it there")
    # Direct usage: the same cap, its month spend counted.
    eq([_usage(ws, "walker", "w%d" % i).status for i in range(3)], [200, 200, 200], "three usages fit")
    r = _usage(ws, "walker", "w3")
    eq((r.status, r.err.get("code")), (429, "member_cap_reached"), "the fourth usage is refused")
    eq(_row(ws, "walker"), ["null", str(3 * HOLD), "0"], "its month spend")
    # A settle and a release move the new row like any other.
    h = _hold(ws, "settler", "t0").json["hold_id"]
    eq(api("POST", "/v1/guard/settle", {"hold_id": h, "input_tokens": 1000, "output_tokens": 0},
           auth="guard").status, 200, "settle")
    h = _hold(ws, "settler", "t1").json["hold_id"]
    eq(api("POST", "/v1/guard/release", {"hold_id": h}, auth="guard").status, 200, "release")
    eq(_row(ws, "settler"), ["null", "2625", "0"], "spent what it settled, nothing reserved")
    verify()


def test_racing_authorizes_of_a_new_member_never_pass_the_plans_cap():
    ws = _workspace(_plan(member_cap=5 * HOLD))
    results = parallel(20, lambda i: _hold(ws, "racer", "r%d" % i).status)
    eq((results.count(200), results.count(429)), (5, 15), "cap / hold granted, the rest refused: %r" % results)
    eq(_row(ws, "racer"), ["null", "0", str(5 * HOLD)], "one row, the five holds reserved")
    eq(account(ws)["reserved_micros"], 5 * HOLD, "the pool's reserve")
    verify()


def test_members_with_rows_and_workspaces_without_a_plan_cap_are_unchanged():
    ws = _workspace(_plan(member_cap=HOLD))
    api("POST", "/v1/accounts/%s/members" % ws, {"member": "owner", "monthly_cap_micros": 3 * HOLD})
    eq([_hold(ws, "owner", "o%d" % i).status for i in range(4)], [200, 200, 200, 429],
       "a member's own cap, not the plan's")
    for plan in (_plan(), None):
        free = _workspace(plan) if plan else new_account("mws", kind="workspace")
        eq([_hold(free, "drifter", "d%d" % i).status for i in range(4)], [200] * 4,
           "no member cap on the plan (%s): a member with no row is not capped" % plan)
        eq(_usage(free, "drifter", "u0").status, 200, "nor its usage")
        eq(_row(free, "drifter"), None, "and gets no row")
        eq(_member_view(free, "drifter"), 404, "so it is no member")
    verify()


def test_holds_made_before_the_plan_had_a_cap_count_in_the_new_row():
    plan = _plan()
    ws = _workspace(plan)
    early = [_hold(ws, "early", "e%d" % i).json["hold_id"] for i in range(2)]
    eq(_row(ws, "early"), None, "no plan member cap yet: no row")
    eq(api("PUT", "/v1/plans/" + plan, {"credits_micros": 0, "rollover": "none",
                                        "member_cap_micros": 3 * HOLD}).status, 200, "the plan gets a member cap")
    eq(_hold(ws, "early", "e2").status, 200, "a third hold fits the cap exactly")
    eq(_row(ws, "early"), ["null", "0", str(3 * HOLD)], "the row reserves the two earlier holds too")
    eq(_hold(ws, "early", "e3").status, 429, "a fourth does not")
    r = api("POST", "/v1/guard/settle", {"hold_id": early[0], "input_tokens": 1000, "output_tokens": 0},
            auth="guard")
    eq(r.status, 200, "an earlier hold settled")
    eq(api("POST", "/v1/guard/release", {"hold_id": early[1]}, auth="guard").status, 200, "the other released")
    eq(_row(ws, "early"), ["null", "2625", str(HOLD)], "both taken off the row's reserve; the settle spent")
    verify()


def test_a_deleted_member_named_again_gets_a_new_row():
    ws = _workspace(_plan(member_cap=2 * HOLD))
    api("POST", "/v1/accounts/%s/members" % ws, {"member": "dora", "monthly_cap_micros": 5 * HOLD})
    eq([_hold(ws, "dora", "x%d" % i).status for i in range(3)], [200] * 3, "three holds under her own cap")
    eq(api("DELETE", "/v1/accounts/%s/members/dora" % ws).status, 200, "removed")
    eq(_row(ws, "dora"), None, "no row")
    r = _hold(ws, "dora", "x3")
    eq((r.status, r.err.get("code")), (429, "member_cap_reached"),
       "named again: a new row, capped at the plan's cap, her pending holds counted")
    eq(_row(ws, "dora"), ["null", "0", str(3 * HOLD)], "the new row: the plan's cap, her three holds")
    verify()


def test_a_member_added_while_its_holds_are_pending_reserves_them():
    ws = new_account("mws", kind="workspace")
    h = _hold(ws, "late", "l0").json["hold_id"]
    r = api("POST", "/v1/accounts/%s/members" % ws, {"member": "late", "monthly_cap_micros": 2 * HOLD})
    eq((r.status, r.json["reserved_micros"]), (201, HOLD), "added with its pending hold reserved")
    eq(_hold(ws, "late", "l1").status, 200, "a second hold fits the cap")
    eq(_hold(ws, "late", "l2").status, 429, "a third does not")
    r = api("POST", "/v1/guard/settle", {"hold_id": h, "input_tokens": 1000, "output_tokens": 0}, auth="guard")
    eq(r.status, 200, "the earlier hold settles")
    eq(_row(ws, "late"), ["26250", "2625", str(HOLD)], "its reserve taken off, its cost spent")
    verify()


def test_a_new_row_starts_with_what_its_own_second_spent_before_it():
    """verify counts a member's usage from its row's created_at, to the
    second, in the row's month: usage of the member in that second made
    before the row (a row deleted and made again in one second) is the new
    row's month spend. The usage row is moved 30 s ahead here so that it
    is at or after the row's second, whichever second the row is made in
    (counted when that is still the row's month)."""
    plan = _plan()
    ws = _workspace(plan)
    eq(_usage(ws, "sam", "m0").status, 200, "sam's usage: no row yet")
    now = clock_now()
    ahead = now + 30
    sql("UPDATE usage_records SET created_at = %d WHERE member = 'sam' AND account_id = "
        "(SELECT id FROM accounts WHERE ext_id = '%s')" % (ahead, ws))
    eq(api("PUT", "/v1/plans/" + plan, {"credits_micros": 0, "rollover": "none",
                                        "member_cap_micros": 10 * HOLD}).status, 200, "the plan gets a member cap")
    eq(_hold(ws, "sam", "m1").status, 200, "sam's hold makes the row")
    same_month = time.gmtime(now)[:2] == time.gmtime(ahead)[:2]
    eq(_row(ws, "sam"), ["null", str(HOLD if same_month else 0), str(HOLD)],
       "the usage from the row's second on is its month spend")
    verify()
