"""test_55_events.py: the outbox (DESIGN §9 "Notifications"): every event
is written in the transaction of its cause, once per cause, and never
for a change that rolled back; GET /v1/events pages through them in id
order."""
import secrets
import time

from lib import api, check, eq, new_account, parallel, sql, uid, verify
from test_20_guard import authorize, cost
from test_30_stripe import charge_event, checkout_event, delivered, deliver, ok_mode, open_session, session

C = cost("gpt-4o", 1000, 500)


def last_id():
    rows = sql("SELECT COALESCE(MAX(id), 0) FROM events")
    return int(rows[0][0])


def pull(after=0, limit=100, auth="admin"):
    return api("GET", "/v1/events?after=%d&limit=%d" % (after, limit), auth=auth)


def events_since(start, acct=None):
    """Every event after `start`, paged through the pull route (of acct)."""
    out, after = [], start
    while True:
        r = pull(after, 50)
        eq(r.status, 200, "pull %r" % r)
        page = r.json["data"]
        if not page:
            eq(r.json["next_after"], after, "an empty page keeps the cursor")
            break
        out += page
        after = r.json["next_after"]
        eq(after, page[-1]["id"], "next_after is the page's last id")
    ids = [e["id"] for e in out]
    eq(ids, sorted(set(ids)), "ids increase, each once")
    return [e for e in out if acct is None or e["account"] == acct]


def types(evs):
    return [e["type"] for e in evs]


def spend(acct, n=1, **extra):
    statuses = []
    for _ in range(n):
        body = dict({"account": acct, "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500,
                     "request_id": uid("u")}, **extra)
        statuses.append(api("POST", "/v1/usage", body, auth="guard").status)
    return statuses


def test_promo_redeemed_once_and_a_refusal_writes_nothing():
    start = last_id()
    acct = new_account("ev")
    code = "EV" + secrets.token_hex(4).upper()
    eq(api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 3000, "max_redemptions": 5}).status, 201,
       "code")
    eq(api("POST", "/v1/accounts/%s/redeem" % acct, {"code": code}, auth="app").status, 201, "redeemed")
    eq(api("POST", "/v1/accounts/%s/redeem" % acct, {"code": code.lower()}, auth="app").status, 409, "again")
    evs = events_since(start, acct)
    eq(types(evs), ["promo.redeemed"], "one event, none for the refusal")
    e = evs[0]
    eq(sorted(e), ["account", "created_at", "data", "id", "type"], "the event's fields")
    eq((e["data"]["code"], e["data"]["amount_micros"]), (code, 3000), "its data")
    check(e["data"]["grant_id"].startswith("grant_"), "names the grant")


def test_topup_succeeded_once_for_ten_concurrent_deliveries_and_refunded():
    ok_mode()
    start = last_id()
    acct = new_account("ev")
    sid = open_session(acct, 2000)
    ev = checkout_event(sid)
    res = parallel(10, lambda i: deliver(ev))
    check(all(200 <= r.status < 300 for r in res), "every delivery acknowledged")
    evs = events_since(start, acct)
    eq(types(evs), ["topup.succeeded"], "one event for one top-up")
    eq((evs[0]["data"]["amount_cents"], evs[0]["data"]["session"]), (2000, sid), "its data")
    pi = session(sid)["payment_intent"]
    charge = "ch_" + secrets.token_hex(12)
    delivered(charge_event(pi, acct, 500, charge=charge))
    delivered(charge_event(pi, acct, 500, charge=charge))
    evs = events_since(start, acct)
    eq(types(evs), ["topup.succeeded", "topup.refunded"], "one refund event for one refund")
    eq(evs[1]["data"]["amount_refunded_cents"], 500, "the refund's data")


def test_a_change_that_rolls_back_leaves_no_event():
    ok_mode()
    start = last_id()
    acct = new_account("evrb")
    sid = open_session(acct, 1500)
    # The account's row refuses to be credited, after the event row was
    # written in the same transaction: the whole webhook fails.
    # (A NULL into a NOT NULL column fails the statement: strict mode.)
    sql("CREATE TRIGGER ev_rollback BEFORE UPDATE ON accounts FOR EACH ROW SET NEW.balance_micros = "
        "IF(NEW.ext_id = '%s' AND NEW.balance_micros > OLD.balance_micros, NULL, NEW.balance_micros)" % acct)
    try:
        ev = checkout_event(sid)
        r = deliver(ev)
        check(r.status >= 500, "the failed credit is not acknowledged: %r" % r)
        eq(events_since(start, acct), [], "no event of a rolled-back change")
    finally:
        sql("DROP TRIGGER IF EXISTS ev_rollback")
    delivered(ev)
    eq(types(events_since(start, acct)), ["topup.succeeded"], "Stripe's retry credits it, with its event")
    verify()


def test_balance_low_once_per_crossing_under_concurrency_and_re_armed():
    start = last_id()
    acct = new_account("evlow")
    bal = api("GET", "/v1/accounts/" + acct, auth="read").json["balance_micros"]
    threshold = bal - 4 * C
    eq(api("PATCH", "/v1/accounts/" + acct, {"low_balance_micros": threshold}).status, 200, "threshold")
    n = bal // C
    res = parallel(32, lambda i: spend(acct)[0])
    check(res.count(200) == min(32, n), "charges: %r" % res)
    evs = [e for e in events_since(start, acct) if e["type"] == "balance.low"]
    eq(len(evs), 1, "one balance.low for 32 concurrent charges crossing the threshold")
    eq(evs[0]["data"]["threshold_micros"], threshold, "its threshold")
    check(evs[0]["data"]["available_micros"] < threshold, "below it")
    eq(spend(acct, 2), [402, 402] if n <= 32 else [200, 200], "more charges")
    eq(len([e for e in events_since(start, acct) if e["type"] == "balance.low"]), 1, "still one: same crossing")
    r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": bal, "source": "adjustment"})
    eq(r.status, 201, "credit above the threshold %r" % r)
    while spend(acct)[0] == 200 and api("GET", "/v1/accounts/" + acct, auth="read").json["available_micros"] \
            >= threshold:
        pass
    eq(len([e for e in events_since(start, acct) if e["type"] == "balance.low"]), 2, "re-armed: a second crossing")
    verify()


def test_depleted_and_limits_once_per_period():
    start = last_id()
    poor = new_account("evdep")
    bal = api("GET", "/v1/accounts/" + poor, auth="read").json["balance_micros"]
    eq(api("POST", "/v1/accounts/%s/debits" % poor, {"amount_micros": bal, "reason": "test"}).status in (200, 201),
       True, "emptied")
    eq([authorize(poor).status for _ in range(3)], [402] * 3, "refused")
    evs = events_since(start, poor)
    eq(types(evs), ["balance.depleted"], "the first 402 only")
    eq(evs[0]["data"]["required_micros"], C, "what it needed")
    eq(api("POST", "/v1/accounts/%s/grants" % poor, {"amount_micros": 1000, "source": "adjustment"}).status, 201,
       "credit came in")
    eq(authorize(poor).status, 402, "still too poor")
    eq(types(events_since(start, poor)), ["balance.depleted"] * 2, "news again after credit came in")

    capped = new_account("evlim", monthly_limit_micros=C, daily_limit_micros=10 * C)
    eq([s for s in spend(capped, 3)], [200, 429, 429], "the monthly limit")
    day = new_account("evday", daily_limit_micros=C)
    eq([s for s in spend(day, 3)], [200, 429, 429], "the daily limit")
    ws = new_account("evws", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "bo", "monthly_cap_micros": C}).status, 201, "member")
    eq([s for s in spend(ws, 3, member="bo")], [200, 429, 429], "the member's cap")
    for acct, limit in ((capped, "monthly"), (day, "daily"), (ws, "member_cap")):
        evs = events_since(start, acct)
        eq(types(evs), ["limit.reached"], "one limit.reached for %s" % limit)
        eq(evs[0]["data"]["limit"], limit, "its limit")
    eq(events_since(start, ws)[0]["data"]["member"], "bo", "names the member")


def test_pull_pages_and_is_admin_only():
    start = last_id()
    accts = [new_account("evpage") for _ in range(5)]
    code = "PG" + secrets.token_hex(4).upper()
    eq(api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 10}).status, 201, "code")
    for a in accts:
        eq(api("POST", "/v1/accounts/%s/redeem" % a, {"code": code}, auth="app").status, 201, "redeemed")
    pages, after = [], start
    while True:
        r = pull(after, 2)
        eq(r.status, 200, "page")
        if not r.json["data"]:
            break
        check(len(r.json["data"]) <= 2, "limit honoured")
        pages.append(r.json["data"])
        after = r.json["next_after"]
    mine = [e["account"] for p in pages for e in p if e["account"] in accts]
    eq(mine, accts, "every event once, oldest first")
    check(len(pages) >= 3, "more than one page: %d" % len(pages))
    eq(pull(start, 5, auth="read").status, 403, "read keys cannot pull")
    eq(pull(start, 5, auth="guard").status, 403, "guard keys cannot pull")
    for q in ("after=-1", "after=x", "limit=0", "limit=100000"):
        r = api("GET", "/v1/events?" + q)
        eq(r.status, 400, "bad %s" % q)
    r = api("GET", "/v1/events")
    eq(r.status, 200, "defaults")
    check(isinstance(r.json["next_after"], int), "next_after is an id")


def test_crossings_in_a_batch_that_flushes_midway_are_all_told():
    """A batch writes in the middle when an account burns through more
    grants than it read (or refunds a late settle); the accounts charged
    before that must still get their balance.low at the end."""
    start = last_id()
    burner = new_account("evburn")
    # Small grants spent first (priority 1): one charge burns more of them
    # than a batch reads at once.
    made = parallel(24, lambda i: {api("POST", "/v1/accounts/%s/grants" % burner, {
        "amount_micros": 100, "source": "adjustment", "priority": 1}).status for _ in range(50)})
    eq(set().union(*made), {201}, "1,200 small grants")
    crossers = []
    for _ in range(3):
        batch = [new_account("evcross") for _ in range(8)]
        for a in batch:
            bal = api("GET", "/v1/accounts/" + a, auth="read").json["balance_micros"]
            eq(api("PATCH", "/v1/accounts/" + a, {"low_balance_micros": bal - C // 2}).status, 200, "threshold")

        def hit(i):
            # Each crossing account is charged once: its one charge must
            # carry its balance.low, whatever else its batch did.
            if i < len(batch):
                return spend(batch[i])[0]
            time.sleep(0.002)   # behind the crossings, in the same batch as often as not
            return api("POST", "/v1/usage", {"account": burner, "model": "gpt-4o", "input_tokens": 1000,
                                             "output_tokens": 500, "request_id": uid("b")}, auth="guard").status
        eq(parallel(24, hit)[:len(batch)], [200] * len(batch), "each crossed")
        crossers += batch
    for a in crossers:
        eq(types(events_since(start, a)), ["balance.low"], "%s told in its charge's transaction" % a)
    verify()
