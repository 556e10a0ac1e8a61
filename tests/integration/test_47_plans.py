"""test_47_plans.py: the plan catalogue (DESIGN §9): PUT /v1/plans/{name}
creates or replaces a plan, GET /v1/plans lists them, creditctl plan
set|list does the same, and an account's plan must name a catalogued plan
(400 param plan, nothing changed)."""
import json
import time
import uuid

from lib import api, account, check, creditctl, eq, new_account, uid


def name(prefix="plan"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def put(n, body, auth="admin"):
    return api("PUT", "/v1/plans/" + n, body, auth=auth)


def listed(n):
    r = api("GET", "/v1/plans", auth="read")
    eq(r.status, 200, "list")
    found = [p for p in r.json["data"] if p["name"] == n]
    eq(len(found), 1, "%s listed once" % n)
    return found[0]


def test_put_creates_and_replaces_and_get_lists():
    n = name("Team.v2")
    body = {"credits_micros": 500000000, "rollover": "capped", "rollover_cap_micros": 100000000,
            "member_cap_micros": 50000000, "stripe_price_ids": ["price_123abc", "price_456def"]}
    r = put(n, body)
    eq(r.status, 200, "created: %r" % r)
    want = dict(body, name=n)
    eq(r.json, want, "the plan as stored")
    eq(listed(n), want, "listed as stored")
    r = put(n, {"credits_micros": 1000, "rollover": "none"})
    eq(r.status, 200, "replaced")
    eq(listed(n), {"name": n, "credits_micros": 1000, "rollover": "none", "rollover_cap_micros": None,
                   "member_cap_micros": None, "stripe_price_ids": []}, "replaced whole")
    names = [p["name"] for p in api("GET", "/v1/plans", auth="read").json["data"]]
    eq(names, sorted(names), "listed by name")


def test_put_validates():
    for path, body, param in (
            ("bad name", {"credits_micros": 1, "rollover": "none"}, "name"),
            ("x" * 65, {"credits_micros": 1, "rollover": "none"}, "name"),
            (name(), {"rollover": "none"}, "credits_micros"),
            (name(), {"credits_micros": -1, "rollover": "none"}, "credits_micros"),
            (name(), {"credits_micros": 1, "rollover": "sometimes"}, "rollover"),
            (name(), {"credits_micros": 1, "rollover": "capped"}, "rollover_cap_micros"),
            (name(), {"credits_micros": 1, "rollover": "full", "rollover_cap_micros": 5}, "rollover_cap_micros"),
            (name(), {"credits_micros": 1, "rollover": "none", "stripe_price_ids": "price_1"}, "stripe_price_ids"),
            (name(), {"credits_micros": 1, "rollover": "none", "stripe_price_ids": ["price 1"]}, "stripe_price_ids"),
            (name(), {"credits_micros": 1, "rollover": "none", "stripe_price_ids": ["p%d" % i for i in range(17)]},
             "stripe_price_ids"),
            (name(), {"credits_micros": 1, "rollover": "none", "extra": 1}, "extra")):
        r = put(path.replace(" ", "%20"), body)
        eq(r.status, 400, "invalid %r %r: %r" % (path, body, r))
        eq(r.err.get("param"), param, "names %s" % param)
        check(path == "bad name" or len(path) > 64 or not any(p["name"] == path for p in
                                                               api("GET", "/v1/plans", auth="read").json["data"]),
              "nothing stored")
    eq(put(name(), {"credits_micros": 1, "rollover": "none"}, auth="read").status, 403, "admin only")
    eq(api("GET", "/v1/plans", auth="guard").status, 403, "read scope to list")


def test_an_account_plan_must_be_catalogued():
    n = name()
    bad = api("POST", "/v1/accounts", {"id": uid("planacct"), "kind": "user", "plan": n})
    eq((bad.status, bad.err.get("param")), (400, "plan"), "an unknown plan on create")
    eq(put(n, {"credits_micros": 0, "rollover": "none"}).status, 200, "catalogued")
    acct = uid("planacct")
    r = api("POST", "/v1/accounts", {"id": acct, "kind": "user", "plan": n})
    eq(r.status, 201, "a catalogued plan: %r" % r)
    a = account(acct)
    eq(a["plan"], n, "stored")
    now = time.gmtime()
    start = "%04d-%02d-01T00:00:00Z" % (now.tm_year, now.tm_mon)
    nxt = (now.tm_year + (now.tm_mon == 12), now.tm_mon % 12 + 1)
    eq((a["period_start"], a["period_end"]), (start, "%04d-%02d-01T00:00:00Z" % nxt),
       "the period is the calendar month, UTC")
    other = new_account("planacct")
    r = api("PATCH", "/v1/accounts/" + other, {"plan": name()})
    eq((r.status, r.err.get("param")), (400, "plan"), "an unknown plan on patch")
    eq(account(other)["plan"], None, "nothing changed")
    eq((account(other)["period_start"], account(other)["period_end"]), (None, None), "no plan, no period")
    eq(api("PATCH", "/v1/accounts/" + other, {"plan": n}).status, 200, "a catalogued one")
    eq(account(other)["plan"], n, "set")


def test_creditctl_plan_set_and_list():
    n = name("cli")
    p = creditctl("plan", "set", n, "--credits", "2500000", "--rollover", "capped", "--rollover-cap", "1000",
                  "--member-cap", "500", "--stripe-price", "price_a1", "--stripe-price", "price_b2")
    eq(json.loads(p.stdout), {"name": n, "credits_micros": 2500000, "rollover": "capped", "rollover_cap_micros": 1000,
                              "member_cap_micros": 500, "stripe_price_ids": ["price_a1", "price_b2"]}, "set")
    listed_cli = [x for x in json.loads(creditctl("plan", "list").stdout)["data"] if x["name"] == n]
    eq(len(listed_cli), 1, "listed")
    eq(listed(n)["stripe_price_ids"], ["price_a1", "price_b2"], "the API sees it")
    eq(creditctl("plan", "set", n, "--credits", "1", "--rollover", "capped", check_rc=False).returncode, 2,
       "capped needs a cap")
    eq(creditctl("plan", "set", "bad name", "--credits", "1", check_rc=False).returncode, 2, "a bad name")


def test_a_member_without_a_cap_has_its_plans_member_cap():
    from test_20_guard import authorize, cost
    hold = cost("gpt-4o", 1000, 500)
    n = name("team")
    eq(put(n, {"credits_micros": 0, "rollover": "none", "member_cap_micros": 2 * hold}).status, 200, "plan")
    ws = uid("planws")
    eq(api("POST", "/v1/accounts", {"id": ws, "kind": "workspace", "plan": n}).status, 201, "workspace")
    for member, body in (("capless", {"member": "capless"}),
                         ("own-cap", {"member": "own-cap", "monthly_cap_micros": 3 * hold})):
        r = api("POST", "/v1/accounts/%s/members" % ws, body)
        check(r.status in (200, 201), "member %s: %r" % (member, r))
    eq([authorize(ws, member="capless").status for _ in range(3)], [200, 200, 429],
       "the plan's member cap, for a member with none of its own")
    r = authorize(ws, member="capless")
    eq(r.err.get("code"), "member_cap_reached", "its code")
    eq([authorize(ws, member="own-cap").status for _ in range(4)], [200, 200, 200, 429],
       "a member's own cap wins over the plan's")
    eq([authorize(ws, member="no-row").status for _ in range(3)], [200, 200, 429],
       "a member with no row is capped at the plan's member cap too (DESIGN §13)")
