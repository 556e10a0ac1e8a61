"""test_48_daily_limit.py: an account's daily limit (DESIGN §9): like the
monthly limit, per UTC day, pending holds counted, 429
daily_limit_reached, nothing charged or held by a refusal; the day's
spend starts again at the next UTC day."""
from lib import api, check, eq, sql, uid
from test_20_guard import authorize, cost, settle


def hold():
    return cost("gpt-4o", 1000, 500)


def make(daily):
    acct = uid("daily")
    r = api("POST", "/v1/accounts", {"id": acct, "kind": "user", "daily_limit_micros": daily})
    eq(r.status, 201, "created: %r" % r)
    return acct


def get(acct):
    r = api("GET", "/v1/accounts/" + acct, auth="read")
    eq(r.status, 200, "get")
    return r.json


def test_daily_limit_counts_holds_and_spend_and_refuses_with_429():
    acct = make(2 * hold() + 10)
    a = get(acct)
    eq((a["daily_limit_micros"], a["day_spent_micros"]), (2 * hold() + 10, 0), "the fields")
    first = authorize(acct)
    eq(first.status, 200, "first hold")
    eq(authorize(acct).status, 200, "second hold")
    third = authorize(acct)
    eq(third.status, 429, "the pending holds count against the day")
    eq(third.err.get("code"), "daily_limit_reached", "its code")
    eq(third.err.get("available_micros"), 10, "what the day has left")
    eq(third.err.get("required_micros"), hold(), "what it needed")
    check("x-should-retry" not in third.headers, "a pending hold's settle may free the day: not said lasting")
    eq(get(acct)["reserved_micros"], 2 * hold(), "nothing held by the refusal")
    s = settle(first.json["hold_id"], 1000, 200)
    eq(s.status, 200, "settle")
    a = get(acct)
    eq(a["day_spent_micros"], cost("gpt-4o", 1000, 200), "the day's spend moved with the charge")
    eq(a["month_spent_micros"], cost("gpt-4o", 1000, 200), "and the month's")
    u = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500,
                                  "request_id": uid("u")}, auth="guard")
    eq((u.status, u.err.get("code")), (429, "daily_limit_reached"), "usage is checked the same way")
    forced = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 1000,
                                       "output_tokens": 500, "request_id": uid("u"), "force": True}, auth="guard")
    eq(forced.status, 200, "forced usage is charged anyway")


def test_the_day_starts_again_at_the_next_utc_day():
    acct = make(hold())
    eq(authorize(acct).status, 200, "the day's one hold")
    eq(authorize(acct).status, 429, "the day is full")
    # The hold is released by hand and the day's row moved to yesterday,
    # as if the clock had passed midnight with the day full.
    sql("UPDATE holds h JOIN accounts a ON a.id = h.account_id SET h.state = 'released' WHERE a.ext_id = '%s'" % acct)
    sql("UPDATE accounts SET reserved_micros = 0, day_key = day_key - 1, day_spent_micros = %d WHERE ext_id = '%s'"
        % (hold(), acct))
    r = authorize(acct)
    eq(r.status, 200, "a new day: %r" % r)
    eq(get(acct)["day_spent_micros"], 0, "its spend starts at zero")


def test_patch_sets_and_removes_the_daily_limit():
    acct = make(5)
    eq(authorize(acct).status, 429, "5 micros a day")
    r = api("PATCH", "/v1/accounts/" + acct, {"daily_limit_micros": None})
    eq(r.status, 200, "removed")
    eq(r.json["daily_limit_micros"], None, "none")
    eq(authorize(acct).status, 200, "no daily limit")
    for bad in (-1, "5", 1.5):
        r = api("PATCH", "/v1/accounts/" + acct, {"daily_limit_micros": bad})
        eq((r.status, r.err.get("param")), (400, "daily_limit_micros"), "invalid %r" % (bad,))
    r = api("POST", "/v1/accounts", {"id": uid("daily"), "kind": "user", "daily_limit_micros": -5})
    eq((r.status, r.err.get("param")), (400, "daily_limit_micros"), "invalid on create")
    check(get(acct)["daily_limit_micros"] is None, "unchanged by the refused patches")


def test_a_patch_that_leaves_the_monthly_limit_keeps_what_it_recorded():
    # When a monthly limit is set, the account records what the month had
    # committed then (creditctl verify's bound); the month's spend may be
    # below 0 (a late settle under its captured hold), so may the record.
    # A patch of another field writes the row's settings back as decided
    # in C: the record, NULL or below 0, must come back as it was.
    acct = make(None)
    col = "SELECT COALESCE(monthly_limit_set_committed_micros, 'null') FROM accounts WHERE ext_id = '%s'" % acct
    eq(api("PATCH", "/v1/accounts/" + acct, {"daily_limit_micros": 7}).status, 200, "a patch without a monthly limit")
    eq(sql(col), [["null"]], "no monthly limit set: nothing recorded")
    eq(api("PATCH", "/v1/accounts/" + acct, {"monthly_limit_micros": 1000}).status, 200, "a monthly limit")
    eq(sql(col), [["0"]], "the month's commitment when it was set")
    sql("UPDATE accounts SET monthly_limit_set_committed_micros = -5 WHERE ext_id = '%s'" % acct)
    eq(api("PATCH", "/v1/accounts/" + acct, {"daily_limit_micros": 9}).status, 200, "another field patched")
    eq(sql(col), [["-5"]], "the record below 0 kept")


def test_a_limit_only_the_period_passes_tells_clients_not_to_retry():
    """A 429 of a day's or a month's limit passes only when the period
    ends: it says `x-should-retry: false`, which the official OpenAI and
    Anthropic SDKs obey instead of retrying a 429 (docs/gateway.md,
    "Errors"); a rate limit's 429 does not (it says when to retry)."""
    from test_80_gateway import chat, messages
    acct = make(10)
    r = authorize(acct)
    eq((r.status, r.err.get("code")), (429, "daily_limit_reached"), "the guard's refusal")
    eq(r.headers.get("x-should-retry"), "false", "the guard's 429 says not to retry")
    body = {"model": "gpt-4o", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    g = chat(acct, body)
    eq((g.status, g.json["error"].get("code")), (429, "daily_limit_reached"), "the gateway's refusal")
    eq(g.headers.get("x-should-retry"), "false", "the gateway's 429 says not to retry")
    a = messages(acct, {"model": "claude-sonnet-4-20250514", "max_tokens": 50,
                        "messages": [{"role": "user", "content": "hi"}]})
    eq((a.status, a.json.get("type")), (429, "error"), "Anthropic's shape")
    eq(a.headers.get("x-should-retry"), "false", "and says not to retry")
    monthly = uid("monthly")
    eq(api("POST", "/v1/accounts", {"id": monthly, "kind": "user", "monthly_limit_micros": 10}).status, 201, "made")
    m = chat(monthly, body)
    eq((m.status, m.headers.get("x-should-retry")), (429, "false"), "a month's limit too")
    rated = uid("rated")
    eq(api("POST", "/v1/accounts", {"id": rated, "kind": "user", "requests_per_minute": 1}).status, 201, "made")
    eq(api("POST", "/v1/accounts/%s/grants" % rated, {"amount_micros": 10 ** 9, "source": "promo"}).status, 201,
       "funded")
    eq(authorize(rated).status, 200, "its minute's request")
    over = authorize(rated)
    eq(over.status, 429, "past its rate")
    check("retry-after" in over.headers and "x-should-retry" not in over.headers,
          "a rate limit says when, not never: %r" % over.headers)
    eq(get(acct)["reserved_micros"], 0, "nothing held by the refusals")
