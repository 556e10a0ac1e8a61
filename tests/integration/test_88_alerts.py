"""test_88_alerts.py: threshold alerts (docs/api.md, "Threshold alerts"):
PUT /v1/accounts/{id}/alerts sets them whole (400 naming the field for a
bad one, nothing changed), GET shows each armed or fired; each kind fires
alert.threshold once per crossing, in the transaction of the change that
crosses it, whoever writes the money (the guard's authorize and settle,
POST /v1/usage, admin debits and grants, the gateway's chat call), armed
again below the threshold or in a new period; one change past two
thresholds fires both, once each."""
from lib import api, check, clock_now, clock_reset, clock_set, eq, new_account, sql, uid, verify, wait_until
from test_20_guard import authorize, cost, settle

C = cost("gpt-4o", 1000, 500)


def put(acct, alerts, auth="app"):
    return api("PUT", "/v1/accounts/%s/alerts" % acct, {"alerts": alerts}, auth=auth)


def get(acct, auth="read"):
    r = api("GET", "/v1/accounts/%s/alerts" % acct, auth=auth)
    eq(r.status, 200, "alerts read: %r" % r)
    return r.json["alerts"]


def states(acct):
    return [a["state"] for a in get(acct)]


def fired(acct):
    """The account's alert.threshold events' data, oldest first (read from
    the outbox: its pull route pages over every account)."""
    rows = sql("SELECT e.data FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id = '%s' "
               "AND e.type = 'alert.threshold' ORDER BY e.id" % acct)
    import json
    return [json.loads(r[0]) for r in rows]


def kinds(evs):
    return [(e["kind"], e.get("pct", e.get("micros"))) for e in evs]


def usage(acct, input_tokens=1000, output_tokens=500, **extra):
    body = dict({"account": acct, "model": "gpt-4o", "input_tokens": input_tokens, "output_tokens": output_tokens,
                 "request_id": uid("u")}, **extra)
    return api("POST", "/v1/usage", body, auth="guard")


def debit(acct, micros):
    r = api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": micros, "reason": "test"})
    eq(r.status, 201, "debit: %r" % r)


def grant(acct, micros):
    r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": micros, "source": "adjustment"})
    eq(r.status, 201, "grant: %r" % r)


def balance(acct):
    return api("GET", "/v1/accounts/" + acct, auth="read").json["balance_micros"]


def test_put_validates_and_changes_nothing_on_a_bad_alert():
    acct = new_account("alv")
    good = [{"kind": "balance_below", "micros": 1000}, {"kind": "monthly_spend_pct", "pct": 80}]
    r = put(acct, good)
    eq(r.status, 200, "set: %r" % r)
    eq(r.json, {"alerts": [dict(good[0], state="armed"), dict(good[1], state="armed")]}, "answered as GET answers")
    eq(get(acct), r.json["alerts"], "read back")
    bad = [
        ({"kind": "balance_above", "micros": 1}, "alerts[1].kind"),
        ({"kind": "monthly_spend_pct", "pct": 0}, "alerts[1].pct"),
        ({"kind": "monthly_spend_pct", "pct": 101}, "alerts[1].pct"),
        ({"kind": "monthly_spend_pct", "micros": 5}, "alerts[1].micros"),
        ({"kind": "balance_below", "pct": 5}, "alerts[1].pct"),
        ({"kind": "balance_below"}, "alerts[1].micros"),
        ({"kind": "balance_below", "micros": -1}, "alerts[1].micros"),
        ({"kind": "daily_spend_pct", "pct": 50, "member": "bob"}, "alerts[1].member"),
        ({"kind": "member_cap_pct", "pct": 50, "member": ""}, "alerts[1].member"),
        ({"kind": "member_cap_pct", "pct": 50, "colour": "red"}, "alerts[1].colour"),
        ({"kind": "daily_spend_pct", "pct": 2.5}, "alerts[1].pct"),
        ("daily", "alerts[1]"),
        ({"kind": "balance_below", "micros": 7}, "alerts[1]"),
    ]
    for alert, param in bad:
        first = {"kind": "balance_below", "micros": 7}
        r = put(acct, [first, alert])
        eq(r.status, 400, "%r refused: %r" % (alert, r))
        eq(r.json["error"]["param"], param, "%r: the field named" % (alert,))
    r = put(acct, [{"kind": "daily_spend_pct", "pct": p} for p in range(1, 18)])
    eq((r.status, r.json["error"]["param"]), (400, "alerts"), "17 alerts: too many")
    eq(api("PUT", "/v1/accounts/%s/alerts" % acct, {"alerts": good, "x": 1}).status, 400, "an unknown field")
    eq(api("PUT", "/v1/accounts/%s/alerts" % acct, {}).status, 400, "alerts required")
    eq(get(acct), r_json_alerts(good), "nothing changed by any of them")
    eq(put(acct, good, auth="read").status, 403, "a read key sets none")
    eq(put(acct, good, auth="guard").status, 403, "nor a guard key")
    eq(put(acct, good, auth="admin").status, 200, "an admin key may")
    eq(api("GET", "/v1/accounts/%s/alerts" % acct, auth="guard").status, 403, "a guard key reads none")
    eq(put("nobody-" + uid("x"), good).status, 404, "an unknown account")
    eq(api("GET", "/v1/accounts/nobody-x/alerts", auth="read").status, 404, "read: an unknown account")
    r = put(acct, [{"kind": "daily_spend_pct", "pct": p} for p in range(1, 17)])
    eq((r.status, len(r.json["alerts"])), (200, 16), "16 alerts: the most")
    eq(put(acct, []).json, {"alerts": []}, "none")
    eq(sql("SELECT alert_count FROM accounts WHERE ext_id = '%s'" % acct)[0][0], "0", "counted on the row")
    eq(sql("SELECT COUNT(*) FROM alerts a JOIN accounts c ON c.id = a.account_id WHERE c.ext_id = '%s'" % acct)[0][0],
       "0", "their rows gone")


def r_json_alerts(alerts):
    return [dict(a, state="armed") for a in alerts]


def test_balance_below_fires_once_per_crossing_through_debits_grants_and_usage():
    acct = new_account("alb")
    start = balance(acct)
    threshold = start - 3000000
    eq(put(acct, [{"kind": "balance_below", "micros": threshold}]).status, 200, "set")
    debit(acct, 2000000)
    eq(fired(acct), [], "above it: nothing")
    debit(acct, 2000000)
    evs = fired(acct)
    eq(len(evs), 1, "the debit that crossed it fires once")
    eq(evs[0], {"kind": "balance_below", "micros": threshold, "member": None, "value_micros": start - 4000000,
                "limit_micros": None}, "its data")
    eq(states(acct), ["fired"], "fired")
    debit(acct, 100000)
    eq(usage(acct).status, 200, "usage")
    eq(len(fired(acct)), 1, "further below: nothing more")
    grant(acct, 5000000)
    eq(states(acct), ["armed"], "a grant back above it re-arms it")
    eq(len(fired(acct)), 1, "and tells nothing")
    # POST /v1/usage (the guard's batch) crosses it again.
    n = 0
    while balance(acct) >= threshold and n < 2000:
        eq(usage(acct, input_tokens=100000, output_tokens=50000).status, 200, "usage")
        n += 1
    eq(len(fired(acct)), 2, "the usage that crossed it again fires again, once")
    check(fired(acct)[1]["value_micros"] < threshold, "below it: %r" % fired(acct)[1])
    verify()


def test_a_batch_past_two_thresholds_fires_both_once_and_a_new_month_rearms():
    acct = new_account("alm")
    big = cost("gpt-4o", 9000, 4500)
    limit = big * 10 // 9 + 1
    r = api("PATCH", "/v1/accounts/" + acct, {"monthly_limit_micros": limit})
    eq(r.status, 200, "limit: %r" % r)
    alerts = [{"kind": "monthly_spend_pct", "pct": p} for p in (50, 80, 100)]
    eq(put(acct, alerts).status, 200, "set")
    eq(usage(acct, 9000, 4500).status, 200, "one usage of 90 %")
    evs = fired(acct)
    eq(kinds(evs), [("monthly_spend_pct", 50), ("monthly_spend_pct", 80)], "50 and 80 %: both, once each")
    eq({e["value_micros"] for e in evs}, {big}, "the month's spend")
    eq({e["limit_micros"] for e in evs}, {limit}, "of the limit")
    ids = sql("SELECT e.id FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id = '%s' "
              "AND e.type = 'alert.threshold'" % acct)
    eq(states(acct), ["fired", "fired", "armed"], "two fired")
    eq(usage(acct, 10, 5).status, 200, "a little more")
    eq(len(fired(acct)), 2, "nothing again")
    try:
        clock_set(clock_now() + 32 * 86400)
        eq(states(acct), ["armed", "armed", "armed"], "a new month: armed again")
        eq(usage(acct, 9000, 4500).status, 200, "90 % of the new month")
        eq(kinds(fired(acct))[2:], [("monthly_spend_pct", 50), ("monthly_spend_pct", 80)], "fired again in it")
    finally:
        clock_reset()
    check(len(ids) == 2, "two events: %r" % ids)
    verify()


def test_daily_spend_fires_at_the_settle_that_crosses_it():
    acct = new_account("ald")
    limit = 4 * C
    eq(api("PATCH", "/v1/accounts/" + acct, {"daily_limit_micros": limit}).status, 200, "limit")
    eq(put(acct, [{"kind": "daily_spend_pct", "pct": 50}, {"kind": "monthly_spend_pct", "pct": 50}]).status, 200,
       "set (no monthly limit: accepted, never fires)")
    h = authorize(acct)
    eq(h.status, 200, "authorize")
    eq(settle(h.json["hold_id"], 1000, 500).status, 200, "settle one C: 25 %")
    eq(fired(acct), [], "under 50 %")
    h = authorize(acct)
    eq(settle(h.json["hold_id"], 1000, 500).status, 200, "settle a second C: 50 %")
    eq(kinds(fired(acct)), [("daily_spend_pct", 50)], "the settle that reached 50 % fired it")
    eq(fired(acct)[0]["value_micros"], 2 * C, "the day's spend")
    eq(states(acct), ["fired", "armed"], "the monthly alert without a limit stays armed")
    verify()


def test_member_alerts_fire_per_member():
    ws = new_account("alw", kind="workspace")
    cap = 4 * C
    for m in ("bob", "carol"):
        eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": m, "monthly_cap_micros": cap}).status in (200, 201),
           True, "member %s" % m)
    eq(put(ws, [{"kind": "member_cap_pct", "pct": 50}, {"kind": "member_cap_pct", "pct": 75, "member": "carol"}]).status,
       200, "set")
    eq(usage(ws, member="bob").status, 200, "bob 25 %")
    eq(fired(ws), [], "nothing yet")
    eq(usage(ws, member="bob").status, 200, "bob 50 %")
    eq([(e["kind"], e["pct"], e["member"]) for e in fired(ws)], [("member_cap_pct", 50, "bob")], "bob's 50 %")
    eq(fired(ws)[0]["limit_micros"], cap, "of bob's cap")
    for _ in range(3):
        eq(usage(ws, member="carol").status, 200, "carol")
    eq([(e["pct"], e["member"]) for e in fired(ws)], [(50, "bob"), (50, "carol"), (75, "carol")],
       "carol's 50 % (every member's) and 75 % (hers), once each")
    a = get(ws)
    eq([(x["state"], x["members_fired"], x["member"]) for x in a], [("fired", 2, None), ("fired", 1, "carol")],
       "states per member")
    eq(usage(ws, member="bob").status, 200, "bob 75 %")
    eq(len(fired(ws)), 3, "bob's again past 50 %: nothing")
    verify()


def test_a_member_s_cap_changed_arms_its_alerts_again():
    """bob told at 50 % of 4 C, his cap raised to 8 C (37.5 %): one change
    taking him to 62.5 % of the new cap crosses 50 % again."""
    ws = new_account("alwcap", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob", "monthly_cap_micros": 4 * C}).status in (200, 201),
       True, "bob")
    eq(put(ws, [{"kind": "member_cap_pct", "pct": 50}]).status, 200, "set")
    for _ in range(3):
        eq(usage(ws, member="bob").status, 200, "bob")
    eq([(e["pct"], e["member"], e["limit_micros"]) for e in fired(ws)], [(50, "bob", 4 * C)], "told once at 4 C")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob", "monthly_cap_micros": 8 * C}).status, 200,
       "cap raised")
    eq(usage(ws, member="bob", input_tokens=2000, output_tokens=1000).status, 200, "bob 62.5 % of the new cap")
    eq([(e["pct"], e["member"], e["limit_micros"]) for e in fired(ws)], [(50, "bob", 4 * C), (50, "bob", 8 * C)],
       "told again against the new cap")
    eq(api("DELETE", "/v1/accounts/%s/members/bob" % ws).status in (200, 204), True, "bob removed")
    eq(get(ws)[0]["members_fired"], 0, "a removed member leaves no state")
    verify()


def test_a_member_capped_by_its_plan_is_told_once_by_settles_and_authorizes_alike():
    """A member with no cap of its own is capped by its plan's: a settle's
    batch (which reads no plan cap for its own checks) and an authorize's
    decide on the same cap, so the alert fires at the settle that crosses
    it and neither re-arms nor fires it again."""
    plan = "alc-" + uid("p")[-8:]
    eq(api("PUT", "/v1/plans/" + plan, {"credits_micros": 0, "rollover": "none", "member_cap_micros": 4 * C}).status,
       200, "plan")
    ws = uid("alc")
    eq(api("POST", "/v1/accounts", {"id": ws, "kind": "workspace", "plan": plan}).status, 201, "workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "ann"}).status in (200, 201), True, "ann, no cap")
    eq(put(ws, [{"kind": "member_cap_pct", "pct": 50}]).status, 200, "set")
    told = []
    for _ in range(4):
        h = authorize(ws, member="ann")
        eq(h.status, 200, "authorize")
        eq(settle(h.json["hold_id"], 1000, 500).status, 200, "settle")
        told.append(len(fired(ws)))
    eq(told, [0, 1, 1, 1], "told at the second settle (50 %), once")
    eq(fired(ws)[0]["limit_micros"], 4 * C, "of the plan's member cap")


def test_plan_credits_used_fires_and_a_set_alert_past_already_is_fired_without_an_event():
    plan = "alp-" + uid("p")[-8:]
    credits = 8 * C
    eq(api("PUT", "/v1/plans/" + plan, {"credits_micros": credits, "rollover": "none"}).status, 200, "plan")
    acct = new_account("alp", plan=plan)
    eq(put(acct, [{"kind": "plan_credits_used_pct", "pct": 25}]).status, 200, "set")
    eq(usage(acct).status, 200, "12.5 %")
    eq(fired(acct), [], "nothing")
    h = authorize(acct)
    eq(settle(h.json["hold_id"], 1000, 500).status, 200, "25 %")
    eq(kinds(fired(acct)), [("plan_credits_used_pct", 25)], "fired at 25 %")
    eq((fired(acct)[0]["value_micros"], fired(acct)[0]["limit_micros"]), (2 * C, credits), "used of granted")
    # Set again with one more, past already: the kept one stays fired, the
    # new one is set fired without an event.
    r = put(acct, [{"kind": "plan_credits_used_pct", "pct": 10}, {"kind": "plan_credits_used_pct", "pct": 25}])
    eq([a["state"] for a in r.json["alerts"]], ["fired", "fired"], "both fired")
    eq(len(fired(acct)), 1, "no event for either")
    eq(usage(acct).status, 200, "more")
    eq(len(fired(acct)), 1, "still none")
    verify()


def test_the_gateway_s_chat_call_crosses_an_alert():
    """gpt-4o: a model no [provider] section names, so the stack's own fake
    provider answers it whatever sections a test before left configured."""
    from test_80_gateway import body_chat, chat, mode, reset
    reset()
    mode(output_tokens=7)
    acct = new_account("algw")
    start = balance(acct)
    eq(put(acct, [{"kind": "balance_below", "micros": start}]).status, 200, "set at the balance")
    r = chat(acct, body_chat("gpt-4o", max_completion_tokens=100))
    eq(r.status, 200, "answered: %r" % r.body[:300])
    evs = fired(acct)
    eq(len(evs), 1, "the chat's charge crossed it, once (its hold did already, or its settle)")
    check(evs[0]["value_micros"] < start, "below: %r" % evs[0])
    r = chat(acct, body_chat("gpt-4o", max_completion_tokens=100))
    eq(r.status, 200, "again")
    eq(len(fired(acct)), 1, "not again")
    verify()


def test_a_hold_expired_and_captured_by_the_sweep_fires_its_member_s_alert():
    """The sweep's capture of an expired hold moves the member's spend
    outside the guard's batches: its member_cap_pct alert fires in that
    transaction (a creditd of its own with expired_holds = capture,
    test_25's)."""
    import json
    from test_25_capture import DB, _call, _instance
    with _instance() as (_conf, sock, key):
        eq(_call(sock, key, "POST", "/v1/accounts", {"id": "ws", "kind": "workspace"})[0], 201, "workspace")
        # gpt-4o, 1000 in + 1000 out: 13125 micros held, 65.6 % of ann's cap.
        eq(_call(sock, key, "POST", "/v1/accounts/ws/members", {"member": "ann", "monthly_cap_micros": 20000})[0]
           in (200, 201), True, "member")
        st, r = _call(sock, key, "PUT", "/v1/accounts/ws/alerts",
                      {"alerts": [{"kind": "member_cap_pct", "pct": 50, "member": "ann"}]})
        eq((st, r["alerts"][0]["state"]), (200, "armed"), "set")
        st, hold = _call(sock, key, "POST", "/v1/guard/authorize",
                         {"account": "ws", "member": "ann", "model": "gpt-4o", "input_tokens": 1000,
                          "max_output_tokens": 1000, "request_id": "r1", "ttl_seconds": 1})
        eq((st, hold["amount_micros"]), (200, 13125), "hold")
        eq(sql("SELECT COUNT(*) FROM %s.events WHERE type = 'alert.threshold'" % DB), [["0"]],
           "a hold is no spend: nothing yet")
        check(wait_until(lambda: sql("SELECT state FROM %s.holds" % DB) == [["captured"]], timeout=10),
              "the sweeper captured it")
        evs = [json.loads(r[0]) for r in sql("SELECT data FROM %s.events WHERE type = 'alert.threshold'" % DB)]
        eq(evs, [{"kind": "member_cap_pct", "pct": 50, "member": "ann", "value_micros": 13125,
                  "limit_micros": 20000}], "told by the capture's transaction, once")
        st, r = _call(sock, key, "GET", "/v1/accounts/ws/alerts")
        eq((r["alerts"][0]["state"], r["alerts"][0]["members_fired"]), ("fired", 1), "fired for ann")


def test_the_python_client_sets_and_reads_alerts():
    """The Python client (clients/python) live: set_alerts, get_alerts,
    a bad alert's field named; Node, PHP and asyncio in test_51, 52, 54."""
    from test_50_clients import admin, app_client, raises, reader
    import creditd as cc
    c, app = admin(), app_client()
    acct = uid("cli")
    c.create_account(acct)
    start = c.get_account(acct)["balance_micros"]
    alerts = [{"kind": "balance_below", "micros": start - 1000}, {"kind": "monthly_spend_pct", "pct": 80}]
    r = app.set_alerts(acct, alerts)
    eq([a["state"] for a in r["alerts"]], ["armed", "armed"], "set, armed")
    e = raises(cc.InvalidRequest, app.set_alerts, acct, [{"kind": "monthly_spend_pct", "pct": 101}])
    eq((e.status, e.param), (400, "alerts[0].pct"), "a bad pct names its field")
    raises(cc.Forbidden, reader().set_alerts, acct, alerts)
    raises(cc.NotFound, reader().get_alerts, "no-such-" + uid("x"))
    c.debit(acct, 2000, "test")
    eq([a["state"] for a in reader().get_alerts(acct)["alerts"]], ["fired", "armed"], "the debit crossed it")
    fired = [ev for ev in c.iter_events(after=0, page_size=200) if ev["account"] == acct
             and ev["type"] == "alert.threshold"]
    eq([ev["data"]["micros"] for ev in fired], [start - 1000], "one alert.threshold")
    eq(app.set_alerts(acct, []), {"alerts": []}, "none")
