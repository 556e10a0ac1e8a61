"""test_24_rate_limits.py: requests and tokens per minute (DESIGN §9).
Accounts take `requests_per_minute` and `tokens_per_minute`; a request
over either is refused 429 `rate_limit_exceeded` with Retry-After and
holds nothing. The window lives with the account row, so it is exact
across creditd processes: here the nginx one and the Apache one, sent to
at once. Settle corrects the tokens a hold counted to the actual count."""
from lib import ENV, api, check, clock_now, clock_reset, clock_set, eq, parallel, uid, verify
from test_20_guard import account, funded, q, settle


def minute_start(offset=1):
    """Moves the stack's clock to `offset` seconds into the next minute."""
    now = clock_now()
    clock_set(now - now % 60 + 60 + offset)


def authorize(acct, base=None, input_tokens=1000, max_output_tokens=500, key=None, request_id=None):
    return api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": input_tokens,
                                               "max_output_tokens": max_output_tokens,
                                               "request_id": request_id or uid("r")},
               auth="guard", base=base, headers={"Idempotency-Key": key} if key else None)


def is_rate_limited(r, which):
    eq(r.status, 429, "refused: %r" % r)
    eq(r.err.get("code"), "rate_limit_exceeded", "the code")
    eq(r.err.get("type"), "rate_limit_error", "the type")
    check(which in r.err.get("message", ""), "names the limit: %r" % r.err)
    retry = int(r.headers.get("retry-after", "0"))
    check(1 <= retry <= 60, "Retry-After in seconds to the next minute: %r" % r.headers)
    eq(r.err.get("retry_after_seconds"), retry, "the body says the same")


def test_the_fields_on_create_patch_and_get():
    acct = uid("rl")
    r = api("POST", "/v1/accounts", {"id": acct, "kind": "user", "requests_per_minute": 10})
    eq(r.status, 201, "created: %r" % r)
    eq((r.json["requests_per_minute"], r.json["tokens_per_minute"]), (10, None), "answered")
    r = api("PATCH", "/v1/accounts/" + q(acct), {"tokens_per_minute": 50000})
    eq((r.json["requests_per_minute"], r.json["tokens_per_minute"]), (10, 50000), "patched")
    r = api("PATCH", "/v1/accounts/" + q(acct), {"requests_per_minute": None})
    eq((account(acct)["requests_per_minute"], account(acct)["tokens_per_minute"]), (None, 50000), "removed by null")
    for bad in (0, -1, "ten", 1.5, 2000000000):
        r = api("PATCH", "/v1/accounts/" + q(acct), {"requests_per_minute": bad})
        eq(r.status, 400, "%r refused" % (bad,))
        eq(r.err.get("param"), "requests_per_minute", "names the field")
    eq(account(acct)["tokens_per_minute"], 50000, "a refused patch changes nothing")


def test_requests_per_minute_is_exact_across_two_processes():
    acct = funded(100000000, "rl-rpm")
    eq(api("PATCH", "/v1/accounts/" + q(acct), {"requests_per_minute": 10}).status, 200, "limit set")
    bases = [ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]]
    try:
        minute_start()
        res = parallel(40, lambda i: authorize(acct, bases[i % 2]))
        ok = [r for r in res if r.status == 200]
        eq(len(ok), 10, "exactly the limit granted: %r" % [r.status for r in res])
        for r in res:
            if r.status != 200:
                is_rate_limited(r, "requests_per_minute")
        eq(account(acct)["reserved_micros"], sum(r.json["amount_micros"] for r in ok), "only the granted hold")
        # The next minute starts afresh.
        minute_start()
        eq(authorize(acct, bases[1]).status, 200, "allowed again in the next minute")
    finally:
        clock_reset()
    verify()


def test_tokens_per_minute_counts_holds_and_settle_corrects_them():
    acct = funded(100000000, "rl-tpm")
    eq(api("PATCH", "/v1/accounts/" + q(acct), {"tokens_per_minute": 5000}).status, 200, "limit set")
    try:
        minute_start()
        holds = [authorize(acct) for _ in range(3)]                  # 3 x (1000 + 500) = 4500
        check(all(r.status == 200 for r in holds), "three fit: %r" % holds)
        is_rate_limited(authorize(acct), "tokens_per_minute")       # 6000 > 5000
        # The first call used 1000 + 100: the minute counts 4100 now.
        eq(settle(holds[0].json["hold_id"], 1000, 100).status, 200, "settled")
        is_rate_limited(authorize(acct), "tokens_per_minute")       # 5600 > 5000
        eq(authorize(acct, input_tokens=500, max_output_tokens=400).status, 200, "900 more fits exactly: 5000")
        is_rate_limited(authorize(acct, input_tokens=1, max_output_tokens=1), "tokens_per_minute")
        # Direct usage counts too.
        minute_start()
        r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 4000, "output_tokens": 1000,
                                      "request_id": uid("u")}, auth="guard")
        eq(r.status, 200, "usage within the minute's tokens")
        is_rate_limited(authorize(acct, input_tokens=1, max_output_tokens=1), "tokens_per_minute")
    finally:
        clock_reset()
    verify()


def test_a_rate_limited_key_is_decided_again_later():
    acct = funded(100000000, "rl-key")
    eq(api("PATCH", "/v1/accounts/" + q(acct), {"requests_per_minute": 1}).status, 200, "limit set")
    try:
        minute_start()
        eq(authorize(acct).status, 200, "the first")
        key = uid("key")
        rid = uid("rid")
        is_rate_limited(authorize(acct, key=key, request_id=rid), "requests_per_minute")
        minute_start()
        r = authorize(acct, key=key, request_id=rid)
        eq(r.status, 200, "the same key in the next minute is decided anew, not replayed 429: %r" % r)
    finally:
        clock_reset()
    verify()


def test_a_member_has_its_own_limits_within_the_workspace():
    ws = funded(100000000, "rl-ws", kind="workspace")
    r = api("POST", "/v1/accounts/%s/members" % q(ws), {"member": "bob", "requests_per_minute": 2})
    eq(r.status, 201, "member with a limit: %r" % r)
    eq((r.json["requests_per_minute"], r.json["tokens_per_minute"]), (2, None), "answered")
    r = api("POST", "/v1/accounts/%s/members" % q(ws), {"member": "bob", "monthly_cap_micros": 90000000})
    eq(r.json["requests_per_minute"], 2, "kept when not sent")
    bases = [ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]]
    try:
        minute_start()
        res = parallel(8, lambda i: api("POST", "/v1/guard/authorize", {
            "account": ws, "member": "bob", "model": "gpt-4o", "input_tokens": 100, "max_output_tokens": 100,
            "request_id": uid("r")}, auth="guard", base=bases[i % 2]))
        eq(sum(1 for r in res if r.status == 200), 2, "bob's two: %r" % [r.status for r in res])
        for r in res:
            if r.status != 200:
                is_rate_limited(r, "requests_per_minute")
        eq(authorize(ws).status, 200, "the workspace itself (no member) is not limited by bob's")
    finally:
        clock_reset()
    r = api("POST", "/v1/accounts/%s/members" % q(ws), {"member": "bob", "requests_per_minute": None})
    eq(r.json["requests_per_minute"], None, "null removes it")
    verify()


def test_gateway_calls_that_hold_nothing_count_too():
    """DESIGN §15: a free route (Anthropic's count_tokens) and a call that
    brings its own provider key (BYOK, held at nothing) count against the
    account's requests_per_minute like any call: ten under a limit of two
    are two answered, then 429 rate_limit_error with Retry-After in the
    provider's shape, nothing forwarded past the limit."""
    from test_80_gateway import body_chat, call, chat, received, reset
    for what in ("count_tokens", "byok"):
        acct = funded(100000000, "rl-" + what)
        eq(api("PATCH", "/v1/accounts/" + q(acct), {"requests_per_minute": 2}).status, 200, "limit set")
        try:
            minute_start()
            reset()
            res = []
            for _ in range(10):
                if what == "count_tokens":
                    res.append(call("/anthropic/v1/messages/count_tokens",
                                    {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "one two"}]},
                                    headers={"Creditd-Account": acct, "anthropic-version": "2023-06-01"}))
                else:
                    res.append(chat(acct, body_chat(max_completion_tokens=5),
                                    headers={"Creditd-Provider-Key": "sk-fake-openai"}))
            eq([r.status for r in res], [200, 200] + [429] * 8, "%s: two pass, then 429s" % what)
            for r in res[2:]:
                err = r.json["error"]
                eq(err["type"], "rate_limit_error", "%s: the type: %r" % (what, r.json))
                check("requests_per_minute" in err["message"], "%s: names the limit: %r" % (what, err))
                retry = int(r.headers.get("retry-after", "0"))
                check(1 <= retry <= 60, "%s: Retry-After: %r" % (what, r.headers))
            eq(len(received()), 2, "%s: only the two forwarded" % what)
        finally:
            clock_reset()
    verify()
