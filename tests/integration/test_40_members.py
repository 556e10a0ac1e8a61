"""test_40_members.py: workspace members, their monthly caps and the
attribution of usage to them."""
from lib import api, account, check, eq, new_account, parallel, sql, verify


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
