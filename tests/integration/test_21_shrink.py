"""test_21_shrink.py: shrink instead of refusing (DESIGN §9). With
`min_output_tokens`, an authorize the account cannot cover at
`max_output_tokens` holds the largest output it can cover, down to the
minimum, under the same locks and every limit; the answer always carries
`max_output_tokens`, the number the app passes to the model."""
from lib import api, check, eq, parallel, uid, verify
from test_20_guard import account, authorize, cost, error_is, funded, max_out, q, settle

MODEL = "gpt-4o"


def largest_out(room, input_tokens=1000, top=500, bottom=1):
    """The most output tokens in [bottom, top] whose hold fits in room."""
    best = None
    for out in range(bottom, top + 1):
        if cost(MODEL, input_tokens, out) <= room:
            best = out
    return best


def test_every_answer_carries_max_output_tokens():
    acct = funded(10000000, "shrink")
    r = authorize(acct, max_output_tokens=300)
    eq(r.status, 200, "authorize")
    eq(r.json["max_output_tokens"], 300, "the requested number when it is affordable")
    r = authorize(acct, max_output_tokens=None)
    eq(r.json["max_output_tokens"], max_out(MODEL), "the model's default when none was asked")
    eq(r.json["amount_micros"], cost(MODEL, 1000, max_out(MODEL)), "held for it")
    r = authorize(acct, max_output_tokens=300, min_output_tokens=10)
    eq(r.json["max_output_tokens"], 300, "nothing shrinks when the whole hold is affordable")
    r = api("POST", "/v1/guard/authorize", {"account": acct, "action": "image", "request_id": uid("r")}, auth="guard")
    if r.status == 200:
        eq(r.json["max_output_tokens"], None, "an action's hold has no output tokens")


def test_shrinks_to_the_largest_affordable_output():
    room = cost(MODEL, 1000, 200) + 7
    acct = funded(room, "shrink")
    r = authorize(acct, max_output_tokens=500, min_output_tokens=50)
    eq(r.status, 200, "shrunk, not refused: %r" % r)
    out = r.json["max_output_tokens"]
    eq(out, largest_out(room), "the largest output that fits")
    eq(r.json["amount_micros"], cost(MODEL, 1000, out), "held exactly what that output costs")
    eq(r.json["available_micros"], room - r.json["amount_micros"], "what is left")
    check(cost(MODEL, 1000, out + 1) > room, "one token more would not have fitted")
    # The same request_id again: the same hold, the same number.
    again = authorize(acct, max_output_tokens=500, min_output_tokens=50, request_id=None)
    eq(again.status, 402, "a new request finds the room taken")
    s = settle(r.json["hold_id"], 1000, out)
    eq(s.status, 200, "settle of a shrunk hold")
    eq(s.json["charged_micros"], cost(MODEL, 1000, out), "charged the tokens used")
    verify()


def test_a_replayed_request_id_answers_the_same_output():
    room = cost(MODEL, 1000, 120)
    acct = funded(room, "shrink")
    rid = uid("rid")
    first = authorize(acct, max_output_tokens=500, min_output_tokens=20, request_id=rid)
    eq(first.status, 200, "shrunk")
    second = authorize(acct, max_output_tokens=500, min_output_tokens=20, request_id=rid)
    eq(second.status, 200, "the request_id again")
    eq(second.json["hold_id"], first.json["hold_id"], "the same hold")
    eq(second.json["max_output_tokens"], first.json["max_output_tokens"], "the same output")


def test_below_the_minimum_is_refused_with_what_the_minimum_needs():
    room = cost(MODEL, 1000, 40)
    acct = funded(room, "shrink")
    r = authorize(acct, max_output_tokens=500, min_output_tokens=100)
    error_is(r, 402, "insufficient_credits", "insufficient_quota")
    eq(r.err.get("required_micros"), cost(MODEL, 1000, 100), "required: the least hold the app accepts")
    eq(account(acct)["reserved_micros"], 0, "nothing held")


def test_limits_and_member_caps_shrink_too():
    # The monthly limit leaves room for fewer tokens than the balance.
    limit = cost(MODEL, 1000, 150)
    acct = funded(10000000, "shrink", monthly_limit_micros=limit)
    r = authorize(acct, max_output_tokens=500, min_output_tokens=10)
    eq(r.status, 200, "shrunk to the monthly limit: %r" % r)
    eq(r.json["max_output_tokens"], largest_out(limit), "the most the monthly limit allows")
    r = authorize(acct, max_output_tokens=500, min_output_tokens=10)
    error_is(r, 429, "billing_hard_limit_reached", "insufficient_quota")
    # The daily limit.
    daily = cost(MODEL, 1000, 90)
    acct = funded(10000000, "shrink", daily_limit_micros=daily)
    r = authorize(acct, max_output_tokens=500, min_output_tokens=10)
    eq(r.json["max_output_tokens"], largest_out(daily), "the most the daily limit allows")
    # A member's cap.
    ws = funded(10000000, "shrink-ws", kind="workspace")
    cap = cost(MODEL, 1000, 60)
    eq(api("POST", "/v1/accounts/%s/members" % q(ws), {"member": "bob", "monthly_cap_micros": cap}).status in (200, 201),
       True, "member")
    r = authorize(ws, member="bob", max_output_tokens=500, min_output_tokens=10)
    eq(r.status, 200, "shrunk to the member's cap: %r" % r)
    eq(r.json["max_output_tokens"], largest_out(cap), "the most bob's cap allows")
    verify()


def test_bad_minimums_are_refused_and_hold_nothing():
    acct = funded(10000000, "shrink")
    for extra, why in (({"min_output_tokens": 501}, "above max"), ({"min_output_tokens": 0}, "zero"),
                       ({"min_output_tokens": "ten"}, "a string"), ({"min_output_tokens": -5}, "negative")):
        r = authorize(acct, max_output_tokens=500, **extra)
        eq(r.status, 400, "%s refused" % why)
        eq(r.err.get("param"), "min_output_tokens", "names the field (%s)" % why)
    r = api("POST", "/v1/guard/authorize", {"account": acct, "action": "image", "min_output_tokens": 5,
                                            "request_id": uid("r")}, auth="guard")
    eq(r.status, 400, "with an action")
    eq(r.err.get("param"), "min_output_tokens", "names the field")
    eq(account(acct)["reserved_micros"], 0, "nothing held")


def test_64_way_race_on_one_account_never_overspends():
    room = 20 * cost(MODEL, 1000, 500) + cost(MODEL, 1000, 77)
    acct = funded(room, "shrink-race")
    res = parallel(64, lambda i: authorize(acct, max_output_tokens=500, min_output_tokens=1))
    ok = [r for r in res if r.status == 200]
    bad = [r for r in res if r.status != 200]
    check(all(r.status == 402 for r in bad), "the rest refused 402: %r" % bad[:3])
    held = sum(r.json["amount_micros"] for r in ok)
    check(held <= room, "never more held than the account had: %d > %d" % (held, room))
    for r in ok:
        out = r.json["max_output_tokens"]
        eq(r.json["amount_micros"], cost(MODEL, 1000, out), "each hold is its output's exact cost")
        check(r.json["available_micros"] >= 0, "affordable when granted: %r" % r.json)
        if out < 500:
            # Shrunk: one token more did not fit in what was there then.
            check(cost(MODEL, 1000, out + 1) > r.json["available_micros"] + r.json["amount_micros"],
                  "shrunk only as far as needed: %r" % r.json)
    eq(sum(1 for r in ok if r.json["max_output_tokens"] == 500), 20, "20 full holds fit")
    check(any(r.json["max_output_tokens"] < 500 for r in ok), "and the remainder was shrunk into")
    a = account(acct)
    eq(a["reserved_micros"], held, "reserved = the holds")
    check(a["available_micros"] < cost(MODEL, 1000, 1), "what is left cannot hold even one token")
    verify()
