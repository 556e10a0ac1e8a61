"""test_20_guard.py: the chat guard (authorize, settle, release, direct
usage and the usage report) through nginx, against DESIGN §3-§5.

Every expected amount is computed here from GET /v1/models with DESIGN's
formula in integer math; nothing is hard-coded. Expiry, the overdraft and
direct usage, and the races are test_21_guard_expiry_races.py's, with this
file's helpers.
"""
import random
import re
import threading
import time
import urllib.parse

from lib import (ENV, api, account, check, eq, hold_id_of, hold_parts, new_account, parallel, sql, tx_retries, uid,
                 verify)

# ---- helpers ----

_prices = {}


def prices():
    """GET /v1/models once: {"margin": bps, "models": {name: row}}."""
    if not _prices:
        r = api("GET", "/v1/models", auth="read")
        eq(r.status, 200, "models")
        _prices["margin"] = r.json["margin_bps"]
        _prices["models"] = {m["model"]: m for m in r.json["data"]}
        check(_prices["models"], "the stack has models")
    return _prices


def cost(model, input_tokens, output_tokens, cached=0):
    """DESIGN §3: ceil(((in - cached)*p_in + cached*p_cached + out*p_out) * margin / 10^10)."""
    p = prices()
    m = p["models"][model]
    base = ((input_tokens - cached) * m["input_micros_per_mtok"] + cached * m["cached_input_micros_per_mtok"]
            + output_tokens * m["output_micros_per_mtok"])
    num = base * p["margin"]
    return -(-num // (10 ** 6 * 10 ** 4))


def max_out(model):
    return prices()["models"][model]["max_output_tokens"]


def q(s):
    return urllib.parse.quote(s, safe="")


def authorize(acct, model="gpt-4o", input_tokens=1000, max_output_tokens=500, request_id=None, **extra):
    body = {"account": acct, "model": model, "input_tokens": input_tokens,
            "request_id": request_id or uid("req")}
    if max_output_tokens is not None:
        body["max_output_tokens"] = max_output_tokens
    body.update(extra)
    return api("POST", "/v1/guard/authorize", body, auth="guard")


def settle(hold_id, input_tokens, output_tokens, **extra):
    body = {"hold_id": hold_id, "input_tokens": input_tokens, "output_tokens": output_tokens}
    body.update(extra)
    return api("POST", "/v1/guard/settle", body, auth="guard")


def release(hold_id):
    return api("POST", "/v1/guard/release", {"hold_id": hold_id}, auth="guard")


def funded(micros, prefix="guard", **fields):
    """An account holding exactly `micros` (signup bonus minus a debit)."""
    acct = new_account(prefix, **fields)
    bonus = account(acct)["balance_micros"]
    if bonus > micros:
        r = api("POST", "/v1/accounts/%s/debits" % q(acct),
                {"amount_micros": bonus - micros, "reason": "test set-up"})
        check(r.status in (200, 201), "debit: %r" % r)
    elif bonus < micros:
        r = api("POST", "/v1/accounts/%s/grants" % q(acct), {"amount_micros": micros - bonus, "source": "promo"})
        check(r.status in (200, 201), "grant: %r" % r)
    eq(account(acct)["balance_micros"], micros, "set-up balance")
    return acct


def internal_id(acct):
    rows = sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct)
    eq(len(rows), 1, "account row")
    return int(rows[0][0])


def hold_number(hold_id):
    check(re.fullmatch(r"hold_[0-9a-f]{32}", hold_id) is not None, "hold id shape: %r" % hold_id)
    return hold_parts(hold_id)[1]


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_time(s):
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s or "") is not None, "RFC 3339 UTC: %r" % s)
    return int(time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)


def error_is(r, status, code, etype, param="-"):
    eq(r.status, status, "status of %r" % r)
    eq(r.err.get("code"), code, "error code of %r" % r)
    eq(r.err.get("type"), etype, "error type of %r" % r)
    if param != "-":
        eq(r.err.get("param"), param, "error param of %r" % r)


def assert_reserve(acct, reserved):
    a = account(acct)
    eq(a["reserved_micros"], reserved, "reserved_micros")
    eq(a["available_micros"], a["balance_micros"] - a["reserved_micros"] + a["overdraft_limit_micros"],
       "available = balance - reserved + overdraft")
    return a


# ---- authorize ----


def test_authorize_holds_the_worst_case_cost():
    acct = new_account("guard")
    start = account(acct)["balance_micros"]
    t0 = int(time.time())
    r = authorize(acct, "gpt-4o", 1200, 800)
    eq(r.status, 200, "authorize")
    want = cost("gpt-4o", 1200, 800)
    check(want > 0, "a priced hold")
    eq(set(r.json), {"hold_id", "amount_micros", "available_micros", "expires_at", "max_output_tokens"},
       "authorize fields (DESIGN §9: the answer always carries max_output_tokens)")
    eq(r.json["max_output_tokens"], 800, "the output held for")
    eq(r.json["amount_micros"], want, "hold = cost of input in + max_output out")
    eq(r.json["available_micros"], start - want, "available after the hold")
    hold_number(r.json["hold_id"])
    eq(hold_parts(r.json["hold_id"])[0], internal_id(acct), "hold id names its account (enciphered)")
    exp = parse_time(r.json["expires_at"])
    check(t0 + 600 - 2 <= exp <= int(time.time()) + 600 + 1, "default ttl 600 s: %r" % r.json["expires_at"])
    a = assert_reserve(acct, want)
    eq(a["balance_micros"], start, "a hold does not change the balance")
    rows = sql("SELECT state, amount_micros, model FROM holds WHERE id = %d" % hold_number(r.json["hold_id"]))
    eq(rows, [["pending", str(want), "gpt-4o"]], "the hold row")

    # Without max_output_tokens the model's own maximum is held (every
    # model priced by its tokens with a cap: other files on the stack may
    # have priced media rows, which the guard does not hold).
    for model in sorted(m for m, row in prices()["models"].items() if isinstance(row.get("max_output_tokens"), int)
                        and isinstance(row.get("output_micros_per_mtok"), int)):
        r = authorize(acct, model, 777, None)
        eq(r.status, 200, "authorize %s without max_output_tokens" % model)
        eq(r.json["amount_micros"], cost(model, 777, max_out(model)), "%s default max output" % model)
        want += r.json["amount_micros"]
    r = authorize(acct, "gpt-4o", 10, max_out("gpt-4o"))
    eq(r.status, 200, "max_output_tokens equal to the model's maximum")
    want += r.json["amount_micros"]
    r = authorize(acct, "gpt-4o", 0, 1, ttl_seconds=120)
    eq(r.status, 200, "zero input tokens, custom ttl")
    eq(r.json["amount_micros"], cost("gpt-4o", 0, 1), "one output token")
    exp = parse_time(r.json["expires_at"])
    check(abs(exp - (time.time() + 120)) <= 3, "ttl_seconds 120: %r" % r.json["expires_at"])
    want += r.json["amount_micros"]
    assert_reserve(acct, want)
    verify()


def test_hold_ids_cannot_be_guessed_by_counting():
    # DESIGN §14: ids were hold_<account>_<n>, n counting up, so whoever
    # saw one could settle or release the next. Now the two numbers are
    # enciphered under the database's key: two holds in a row share no
    # pattern, and the counted form of a real hold finds nothing.
    acct = new_account("guard")
    a, b = authorize(acct), authorize(acct)
    eq((a.status, b.status), (200, 200), "two holds")
    ia, na = hold_parts(a.json["hold_id"])
    ib, nb = hold_parts(b.json["hold_id"])
    eq((ia, ib), (internal_id(acct),) * 2, "both of the account")
    check(nb > na, "the holds' row ids count up (%d, %d)" % (na, nb))
    check(re.fullmatch(r"hold_[0-9a-f]{32}", a.json["hold_id"]) is not None, "hold_ and 32 hex digits")
    alike = sum(x == y for x, y in zip(a.json["hold_id"][5:], b.json["hold_id"][5:]))
    check(alike < 16, "the next id shares no pattern: %s, %s" % (a.json["hold_id"], b.json["hold_id"]))
    counted = "hold_%d_%d" % (ia, nb)
    eq(settle(counted, 1, 1).status, 404, "the counted form of the next hold: not found")
    eq(release(counted).status, 404, "nor released")
    assert_reserve(acct, a.json["amount_micros"] + b.json["amount_micros"])
    eq(release(b.json["hold_id"]).status, 200, "its own id releases it")
    eq(settle(a.json["hold_id"], 10, 10).status, 200, "and settles")


def test_authorize_rejects_bad_input():
    acct = new_account("guard")
    base = {"account": acct, "model": "gpt-4o", "input_tokens": 100, "max_output_tokens": 100}
    cases = [
        ({"model": "no-such-model"}, "model"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"input_tokens": 1.5}, "input_tokens"),
        ({"input_tokens": 100.0}, "input_tokens"),
        ({"input_tokens": "100"}, "input_tokens"),
        ({"input_tokens": None}, "input_tokens"),
        ({"input_tokens": True}, "input_tokens"),
        ({"max_output_tokens": -5}, "max_output_tokens"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 2.0}, "max_output_tokens"),
        ({"max_output_tokens": max_out("gpt-4o") + 1}, "max_output_tokens"),
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"ttl_seconds": 86401}, "ttl_seconds"),
        ({"balance_micros": 5}, "balance_micros"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": "r" * 129}, "request_id"),
        ({"byok": "yes"}, "byok"),
    ]
    for change, param in cases:
        body = dict(base, request_id=uid("bad"))
        body.update(change)
        r = api("POST", "/v1/guard/authorize", body, auth="guard")
        error_is(r, 400, "invalid_request", "invalid_request_error", param)
    for missing in ("account", "model", "input_tokens", "request_id"):
        body = dict(base, request_id=uid("bad"))
        del body[missing]
        r = api("POST", "/v1/guard/authorize", body, auth="guard")
        error_is(r, 400, "invalid_request", "invalid_request_error", missing)
    r = api("POST", "/v1/guard/authorize", raw=b'{"account": "x", "input_tokens": 1e3}', auth="guard")
    eq(r.status, 400, "exponent number")
    r = authorize("no-such-account-" + uid(), "gpt-4o", 1, 1)
    error_is(r, 404, "not_found", "not_found_error")
    assert_reserve(acct, 0)
    eq(sql("SELECT COUNT(*) FROM holds WHERE account_id = %d" % internal_id(acct)), [["0"]], "no hold written")


def test_insufficient_credits_is_402_with_amounts():
    first = cost("gpt-4o", 2000, 1000)
    acct = funded(first)
    r = authorize(acct, "gpt-4o", 2000, 1001)
    error_is(r, 402, "insufficient_credits", "insufficient_quota")
    eq(r.err.get("available_micros"), first, "available_micros in the error")
    eq(r.err.get("required_micros"), cost("gpt-4o", 2000, 1001), "required_micros in the error")
    assert_reserve(acct, 0)
    r = authorize(acct, "gpt-4o", 2000, 1000)
    eq(r.status, 200, "a hold of exactly the balance fits")
    eq(r.json["available_micros"], 0, "nothing left")
    r = authorize(acct, "gpt-4o", 1, 1)
    error_is(r, 402, "insufficient_credits", "insufficient_quota")
    eq(r.err.get("available_micros"), 0, "pending holds count against available")
    eq(r.err.get("required_micros"), cost("gpt-4o", 1, 1), "required_micros")
    assert_reserve(acct, first)
    eq(sql("SELECT COUNT(*) FROM holds WHERE account_id = %d" % internal_id(acct)), [["1"]], "refusals hold nothing")


def test_monthly_hard_limit_is_429():
    acct = new_account("guard")
    a = authorize(acct, "gpt-4o", 3000, 2000)
    eq(a.status, 200, "hold A")
    held_a = a.json["amount_micros"]
    s = settle(authorize(acct, "gpt-4o", 1000, 1000).json["hold_id"], 1000, 400)
    eq(s.status, 200, "settle")
    spent = s.json["charged_micros"]
    eq(account(acct)["month_spent_micros"], spent, "month spend")
    fit = cost("gpt-4o", 500, 500)
    limit = spent + held_a + fit
    r = api("PATCH", "/v1/accounts/" + q(acct), {"monthly_limit_micros": limit})
    eq(r.status, 200, "set the monthly limit")
    eq(r.json["monthly_limit_micros"], limit, "limit stored")
    r = authorize(acct, "gpt-4o", 500, 501)
    error_is(r, 429, "billing_hard_limit_reached", "insufficient_quota")
    eq(r.err.get("required_micros"), cost("gpt-4o", 500, 501), "required_micros")
    eq(r.err.get("available_micros"), fit, "what the month still allows (spend and pending holds counted)")
    r = authorize(acct, "gpt-4o", 500, 500)
    eq(r.status, 200, "month spend + pending holds + hold == limit is allowed")
    fit_hold = r.json["hold_id"]
    r = authorize(acct, "gpt-4o", 1, 1)
    error_is(r, 429, "billing_hard_limit_reached", "insufficient_quota")
    eq(r.err.get("available_micros"), 0, "nothing left this month")
    eq(release(a.json["hold_id"]).status, 200, "release A")
    r = authorize(acct, "gpt-4o", 3000, 2000)
    eq(r.status, 200, "a released hold frees the month's room")
    # The hard limit is checked before the balance: both exceeded gives 429.
    r = authorize(acct, "claude-sonnet-4-20250514", 10 ** 7, None)
    eq(r.status, 429, "429 before 402")
    eq(release(fit_hold).status, 200, "release")
    verify()


def test_suspended_account_is_403():
    acct = new_account("guard")
    held = authorize(acct, "gpt-4o", 100, 100)
    eq(held.status, 200, "a hold taken while active")
    for status in ("suspended", "closed"):
        r = api("PATCH", "/v1/accounts/" + q(acct), {"status": status})
        eq(r.status, 200, "PATCH status %s" % status)
        eq(account(acct)["status"], status, "status stored")
        r = authorize(acct, "gpt-4o", 100, 100)
        error_is(r, 403, "account_suspended", "permission_error")
        check("available_micros" in r.err and "required_micros" in r.err, "amounts in the 403: %r" % r)
        r = authorize(acct, "gpt-4o", 100, 100, byok=True)
        error_is(r, 403, "account_suspended", "permission_error")
        # Suspended and over the monthly limit: 403 comes first.
        api("PATCH", "/v1/accounts/" + q(acct), {"monthly_limit_micros": 0})
        eq(authorize(acct, "gpt-4o", 100, 100).status, 403, "403 before 429")
        api("PATCH", "/v1/accounts/" + q(acct), {"monthly_limit_micros": None})
    r = api("PATCH", "/v1/accounts/" + q(acct), {"status": "active"})
    eq(r.status, 200, "reactivate")
    eq(authorize(acct, "gpt-4o", 100, 100).status, 200, "active again")
    # Tokens already spent are still charged to a suspended account.
    api("PATCH", "/v1/accounts/" + q(acct), {"status": "suspended"})
    s = settle(held.json["hold_id"], 100, 50)
    eq(s.status, 200, "settle of a hold taken before the suspension")
    eq(s.json["charged_micros"], cost("gpt-4o", 100, 50), "charged")
    verify()


def test_a_refusing_account_replays_a_held_request_id_from_its_first_load():
    """An account refusing for its funds (its 402 noted): an authorize
    replaying a request_id it holds is answered with that hold, and its
    load read the request_id beside the account's rows kept in memory,
    so no attempt ended to read it (retry reason load)."""
    poor = funded(cost("gpt-4o", 1500, 700))
    rid = uid("held")
    first = authorize(poor, "gpt-4o", 1500, 700, request_id=rid)
    eq(first.status, 200, "hold of the whole balance")
    eq(authorize(poor, "gpt-4o", 1500, 700).status, 402, "a new one refused: the account is depleted")
    loads = tx_retries([ENV["CREDITD_URL"]]).get("load", 0)
    again = authorize(poor, "gpt-4o", 1500, 700, request_id=rid)
    eq(again.status, 200, "the replay %r" % (again.json,))
    eq(again.json["hold_id"], first.json["hold_id"], "its hold")
    eq(tx_retries([ENV["CREDITD_URL"]]).get("load", 0), loads, "read by the first load")
    eq(authorize(poor, "gpt-4o", 1500, 700, request_id=uid("new")).status, 402, "a new request_id still refused")
    assert_reserve(poor, first.json["amount_micros"])
    # The same for an account refusing at its rate: its last batch
    # refused, so its next load reads the request_ids.
    busy = new_account("guard", requests_per_minute=2)
    held = authorize(busy, "gpt-4o", 10, 10, request_id=rid)
    eq(held.status, 200, "a hold")
    eq(authorize(busy, "gpt-4o", 10, 10).status, 200, "a second")
    eq(authorize(busy, "gpt-4o", 10, 10).status, 429, "a third over the rate")
    loads = tx_retries([ENV["CREDITD_URL"]]).get("load", 0)
    again = authorize(busy, "gpt-4o", 10, 10, request_id=rid)
    eq((again.status, again.json.get("hold_id")), (200, held.json["hold_id"]), "the replay answered its hold")
    eq(tx_retries([ENV["CREDITD_URL"]]).get("load", 0), loads, "read by the first load")


def test_request_id_makes_authorize_idempotent():
    acct = new_account("guard")
    rid = uid("same")
    res = parallel(32, lambda i: authorize(acct, "gpt-4o", 1500, 700, request_id=rid))
    for r in res:
        eq(r.status, 200, "concurrent identical authorize")
    ids = {r.json["hold_id"] for r in res}
    eq(len(ids), 1, "one hold id for 32 identical requests")
    want = cost("gpt-4o", 1500, 700)
    for r in res:
        eq(r.json["amount_micros"], want, "same amount")
    eq(sql("SELECT COUNT(*), SUM(amount_micros) FROM holds WHERE account_id = %d AND request_id = '%s'"
           % (internal_id(acct), rid)), [["1", str(want)]], "one hold row")
    assert_reserve(acct, want)
    # Later, with other figures, still the same hold: never a second one.
    r = authorize(acct, "gpt-4o", 9, 9, request_id=rid)
    eq(r.status, 200, "replay with other figures")
    eq(r.json["hold_id"], ids.pop(), "same hold")
    eq(r.json["amount_micros"], want, "the first hold's amount")
    assert_reserve(acct, want)
    # request_id is unique per account, not globally.
    other = new_account("guard")
    r2 = authorize(other, "gpt-4o", 1500, 700, request_id=rid)
    eq(r2.status, 200, "same request_id on another account")
    check(r2.json["hold_id"] != r.json["hold_id"], "another account gets its own hold")
    # A replay is answered even when a new hold would not fit any more.
    poor = funded(cost("gpt-4o", 1500, 700))
    first = authorize(poor, "gpt-4o", 1500, 700, request_id=rid)
    eq(first.status, 200, "hold of the whole balance")
    again = authorize(poor, "gpt-4o", 1500, 700, request_id=rid)
    eq(again.status, 200, "replay when the balance is all held")
    eq(again.json["hold_id"], first.json["hold_id"], "same hold")
    assert_reserve(poor, first.json["amount_micros"])


def test_byok_holds_nothing_and_records_usage():
    acct = funded(0)
    r = authorize(acct, "gpt-4o", 5000, 4000, byok=True, member="m-byok")
    eq(r.status, 200, "byok authorize on an empty account")
    eq(r.json["amount_micros"], 0, "nothing held")
    assert_reserve(acct, 0)
    s = settle(r.json["hold_id"], 5000, 3000, cached_input_tokens=1000)
    eq(s.status, 200, "byok settle")
    eq(s.json["charged_micros"], 0, "settled at 0")
    eq(s.json["balance_micros"], 0, "balance untouched")
    eq(s.json["late"], False, "not late")
    rows = sql("SELECT model, input_tokens, cached_input_tokens, output_tokens, cost_micros, byok, member "
               "FROM usage_records WHERE account_id = %d" % internal_id(acct))
    eq(rows, [["gpt-4o", "5000", "1000", "3000", "0", "1", "m-byok"]], "usage recorded at cost 0")
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10,
                                  "byok": True}, auth="guard")
    eq(r.status, 200, "direct byok usage")
    eq(r.json["charged_micros"], 0, "direct byok usage costs nothing")
    a = assert_reserve(acct, 0)
    eq(a["balance_micros"], 0, "no charge")
    eq(a["month_spent_micros"], 0, "no month spend")
    eq(sql("SELECT COUNT(*) FROM journal WHERE account_id = %d AND cause = 'usage'" % internal_id(acct)),
       [["0"]], "no journal row for byok")
    r = authorize("no-such-account-" + uid(), "gpt-4o", 1, 1, byok=True)
    eq(r.status, 404, "byok on an unknown account")
    # Only 404/403 apply to byok: a monthly limit of 0 does not stop it.
    eq(api("PATCH", "/v1/accounts/" + q(acct), {"monthly_limit_micros": 0}).status, 200, "limit 0")
    eq(authorize(acct, "gpt-4o", 1, 1).status, 429, "a priced hold is refused")
    eq(authorize(acct, "gpt-4o", 1, 1, byok=True).status, 200, "byok is not")


# ---- settle ----


def test_settle_charges_actual_tokens_and_records_usage():
    acct = new_account("guard")
    start = account(acct)["balance_micros"]
    rid = uid("req")
    a = authorize(acct, "gpt-4o", 4000, 1500, request_id=rid, member="alice", conversation_id="conv-1")
    eq(a.status, 200, "authorize")
    hold = a.json["hold_id"]
    held = a.json["amount_micros"]
    s = settle(hold, 4000, 600, cached_input_tokens=1500)
    eq(s.status, 200, "settle")
    charged = cost("gpt-4o", 4000, 600, cached=1500)
    check(charged < held, "actual below the hold")
    eq(s.json["hold_id"], hold, "hold id")
    eq(s.json["charged_micros"], charged, "charged = actual cost with cached tokens")
    eq(s.json["released_micros"], held - charged, "the rest released")
    eq(s.json["balance_micros"], start - charged, "balance")
    eq(s.json["late"], False, "in time")
    a2 = assert_reserve(acct, 0)
    eq(a2["balance_micros"], start - charged, "account balance")
    eq(a2["month_spent_micros"], charged, "month spend")
    aid = internal_id(acct)
    rows = sql("SELECT model, input_tokens, cached_input_tokens, output_tokens, cost_micros, member, request_id, "
               "conversation_id, hold_id, byok FROM usage_records WHERE account_id = %d" % aid)
    eq(rows, [["gpt-4o", "4000", "1500", "600", str(charged), "alice", rid, "conv-1", str(hold_number(hold)), "0"]],
       "usage row")
    rows = sql("SELECT amount_micros, balance_after_micros, hold_id FROM journal WHERE account_id = %d "
               "AND cause = 'usage'" % aid)
    eq(rows, [[str(-charged), str(start - charged), str(hold_number(hold))]], "one usage journal row")
    eq(sql("SELECT state, charged_micros FROM holds WHERE id = %d" % hold_number(hold)),
       [["settled", str(charged)]], "hold settled")
    r = api("GET", "/v1/accounts/%s/transactions?limit=1" % q(acct), auth="read")
    eq(r.status, 200, "transactions")
    eq(r.json["data"][0]["amount_micros"], -charged, "newest journal entry is the usage")
    eq(r.json["data"][0]["cause"], "usage", "cause")

    # Settling with another model prices the tokens at that model.
    b = authorize(acct, "gpt-4o", 1000, 1000)
    s = settle(b.json["hold_id"], 1000, 1000, model="gpt-3.5-turbo")
    eq(s.status, 200, "settle with another model")
    eq(s.json["charged_micros"], cost("gpt-3.5-turbo", 1000, 1000), "priced at the settled model")
    # Bad settles change nothing.
    c = authorize(acct, "gpt-4o", 1000, 1000)
    hc = c.json["hold_id"]
    error_is(settle(hc, 10, 10, cached_input_tokens=11), 400, "invalid_request", "invalid_request_error",
             "cached_input_tokens")
    error_is(settle(hc, -1, 10), 400, "invalid_request", "invalid_request_error", "input_tokens")
    error_is(settle(hc, 10, 1.5), 400, "invalid_request", "invalid_request_error", "output_tokens")
    error_is(settle(hc, 10, 10, model="nope"), 400, "invalid_request", "invalid_request_error", "model")
    error_is(settle(hc, 10, 10, tip=1), 400, "invalid_request", "invalid_request_error", "tip")
    eq(settle("hold_999999999_1", 1, 1).status, 404, "unknown hold")
    eq(settle("hold_%d_999999999" % aid, 1, 1).status, 404, "unknown hold of a known account")
    eq(settle("nonsense", 1, 1).status, 404, "malformed hold id")
    other = new_account("guard")
    swapped = hold_id_of(internal_id(other), hold_number(hc))
    eq(settle(swapped, 1, 1).status, 404, "a hold is found only under its own account")
    eq(release(swapped).status, 404, "release under another account")
    assert_reserve(acct, c.json["amount_micros"])
    eq(release(hc).status, 200, "release")
    verify()


def test_settle_beyond_the_hold_goes_negative():
    held = cost("gpt-4o", 1000, 100)
    acct = funded(held + 50)
    a = authorize(acct, "gpt-4o", 1000, 100)
    eq(a.status, 200, "authorize")
    s = settle(a.json["hold_id"], 1000, 3000)
    eq(s.status, 200, "settle beyond the hold")
    charged = cost("gpt-4o", 1000, 3000)
    eq(s.json["charged_micros"], charged, "the actual tokens are charged, hold or not")
    eq(s.json["released_micros"], 0, "nothing to release")
    eq(s.json["balance_micros"], held + 50 - charged, "the balance says it went negative")
    check(s.json["balance_micros"] < 0, "negative balance")
    acc = assert_reserve(acct, 0)
    eq(acc["balance_micros"], held + 50 - charged, "debt on the account")
    r = authorize(acct, "gpt-4o", 1, 1)
    eq(r.status, 402, "an account in debt is refused")
    eq(r.err.get("available_micros"), held + 50 - charged, "negative available")
    # The next grant repays the debt first.
    g = api("POST", "/v1/accounts/%s/grants" % q(acct), {"amount_micros": 1000000, "source": "promo"})
    eq(g.status, 201, "grant")
    eq(account(acct)["balance_micros"], held + 50 - charged + 1000000, "debt repaid")
    verify()


def test_settle_spends_grants_in_ledger_order():
    acct = new_account("guard")
    day = 86400
    now = int(time.time())

    def grant(amount, priority, expires_in=None, source="promo"):
        body = {"amount_micros": amount, "source": source, "priority": priority}
        if expires_in is not None:
            body["expires_at"] = rfc3339(now + expires_in)
        r = api("POST", "/v1/accounts/%s/grants" % q(acct), body)
        eq(r.status, 201, "grant %r" % body)
        return r.json["id"]

    signup = [g for g in account(acct)["grants"] if g["source"] == "signup_bonus"]
    eq(len(signup), 1, "one signup grant")
    # Created in this order; expected spending order: p10, soon, later, signup (oldest), newer.
    later = grant(5000, 50, 2 * day)
    p10 = grant(3000, 10)
    soon = grant(4000, 50, day)
    newer = grant(1000, 50, None, "adjustment")
    remaining = {p10: 3000, soon: 4000, later: 5000, signup[0]["id"]: signup[0]["remaining_micros"], newer: 1000}
    order = [p10, soon, later, signup[0]["id"], newer]

    def burn(amount):
        for gid in order:
            take = min(amount, remaining[gid])
            remaining[gid] -= take
            amount -= take

    for tokens in ((500, 500), (1000, 1000), (200, 0)):
        a = authorize(acct, "gpt-4o", tokens[0], max(tokens[1], 1))
        s = settle(a.json["hold_id"], tokens[0], tokens[1])
        eq(s.status, 200, "settle")
        eq(s.json["charged_micros"], cost("gpt-4o", *tokens), "charge")
        burn(s.json["charged_micros"])
        live = {g["id"]: g["remaining_micros"] for g in account(acct)["grants"]}
        eq(live, {k: v for k, v in remaining.items() if v != 0}, "grants after charging %d" % s.json["charged_micros"])
    check(remaining[later] < 5000 and remaining[newer] == 1000, "the charges reached past the short grants")
    verify()


def test_settle_replay_and_conflicts():
    acct = new_account("guard")
    a = authorize(acct, "gpt-4o", 800, 800)
    hold = a.json["hold_id"]
    body = {"hold_id": hold, "input_tokens": 800, "output_tokens": 300}
    first = api("POST", "/v1/guard/settle", body, auth="guard")
    eq(first.status, 200, "settle")
    again = api("POST", "/v1/guard/settle", body, auth="guard")
    eq(again.status, 200, "settle replay")
    eq(again.json, first.json, "the replay returns the first result")
    res = parallel(8, lambda i: api("POST", "/v1/guard/settle", body, auth="guard"))
    for r in res:
        eq(r.status, 200, "concurrent replay")
        eq(r.json, first.json, "concurrent replay result")
    other = settle(hold, 800, 301)
    error_is(other, 409, "conflict", "conflict_error")
    eq(release(hold).status, 409, "release after settle")
    aid = internal_id(acct)
    eq(sql("SELECT COUNT(*), SUM(cost_micros) FROM usage_records WHERE account_id = %d" % aid),
       [["1", str(cost("gpt-4o", 800, 300))]], "charged once")
    eq(account(acct)["balance_micros"], first.json["balance_micros"], "balance after one charge")

    # Many different settles at once on one fresh hold: exactly one wins.
    b = authorize(acct, "gpt-4o", 800, 800)
    res = parallel(16, lambda i: settle(b.json["hold_id"], 800, 100 + i))
    wins = [r for r in res if r.status == 200]
    eq(len(wins), 1, "one settle wins: %r" % [r.status for r in res])
    for r in res:
        check(r.status in (200, 409), "others conflict: %r" % r)
    eq(sql("SELECT COUNT(*) FROM usage_records WHERE hold_id = %d" % hold_number(b.json["hold_id"])), [["1"]],
       "one usage row")
    verify()


def test_release():
    acct = new_account("guard")
    start = account(acct)["balance_micros"]
    a = authorize(acct, "gpt-4o", 2000, 2000)
    hold = a.json["hold_id"]
    assert_reserve(acct, a.json["amount_micros"])
    r = release(hold)
    eq(r.status, 200, "release")
    eq(r.json["hold_id"], hold, "hold id")
    eq(r.json["state"], "released", "state")
    eq(r.json["released_micros"], a.json["amount_micros"], "the whole hold released")
    eq(r.json["balance_micros"], start, "no charge")
    acc = assert_reserve(acct, 0)
    eq(acc["available_micros"], start, "available restored")
    r = release(hold)
    eq(r.status, 200, "release twice")
    eq(r.json["state"], "released", "still released")
    eq(r.json["released_micros"], 0, "nothing more to release")
    error_is(settle(hold, 2000, 10), 409, "conflict", "conflict_error")
    eq(account(acct)["balance_micros"], start, "a settle after release charges nothing")
    res = parallel(8, lambda i: release(authorize(acct, "gpt-4o", 10, 10, request_id="rel-%d" % (i % 2)).json["hold_id"]))
    for r in res:
        eq(r.status, 200, "concurrent releases of shared holds")
    assert_reserve(acct, 0)
    eq(release("hold_%d_999999999" % internal_id(acct)).status, 404, "unknown hold")
    eq(api("POST", "/v1/guard/release", {"hold_id": hold, "x": 1}, auth="guard").status, 400, "unknown field")
    eq(sql("SELECT COUNT(*) FROM journal WHERE account_id = %d AND cause <> 'grant'" % internal_id(acct)),
       [["0"]], "releases write no money movement")
    verify()


# ---- helpers of test_21_guard_expiry_races.py (shared) ----

def expiry_rows(hold_id):
    return sql("SELECT amount_micros FROM journal WHERE cause = 'expiry' AND hold_id = %d" % hold_number(hold_id))


# A usage report's counts by settle reason when only the guard settled
# (the gateway's reasons, DESIGN §12; the guard's own calls have none).
NO_REASONS = {"provider_usage": 0, "client_gone": 0, "estimated": 0, "provider_error": 0}


def race(acct, clients, cycles, seed, sizes, release_every=0, abandon_every=0):
    """clients threads × cycles authorize+settle on one account. Every
    release_every-th hold is released instead, every abandon_every-th is
    left to expire (ttl 1 s). Returns the tallies; every response is
    checked as it comes."""
    lock = threading.Lock()
    t = {"charged": 0, "statuses": {}, "min_balance": None, "refusals": [], "abandoned": []}

    def note(status):
        with lock:
            t["statuses"][status] = t["statuses"].get(status, 0) + 1

    def client(i):
        rnd = random.Random(seed * 1000 + i)
        charged = 0
        for n in range(cycles):
            model, inp, mx = sizes(rnd)
            abandon = abandon_every and n % abandon_every == abandon_every - 1
            extra = {"ttl_seconds": 1} if abandon else {}
            r = authorize(acct, model, inp, mx, request_id="r%d-%d" % (i, n), **extra)
            note(r.status)
            check(r.status < 500, "5xx on authorize: %r" % r)
            if r.status != 200:
                check(r.status in (402, 429), "refusal: %r" % r)
                check(r.err["available_micros"] < r.err["required_micros"], "a refusal had no room: %r" % r)
                with lock:
                    t["refusals"].append(r.status)
                continue
            check(r.json["available_micros"] >= 0, "authorize never leaves available < 0: %r" % r)
            if abandon:
                with lock:
                    t["abandoned"].append(r.json["hold_id"])
                continue
            if release_every and n % release_every == 0:
                rr = release(r.json["hold_id"])
                note(rr.status)
                eq(rr.status, 200, "release")
                continue
            out = rnd.randint(0, mx)
            s = settle(r.json["hold_id"], inp, out)
            note(s.status)
            eq(s.status, 200, "settle")
            eq(s.json["charged_micros"], cost(model, inp, out), "charge")
            check(s.json["charged_micros"] <= r.json["amount_micros"], "settle within the hold")
            charged += s.json["charged_micros"]
            with lock:
                if t["min_balance"] is None or s.json["balance_micros"] < t["min_balance"]:
                    t["min_balance"] = s.json["balance_micros"]
        with lock:
            t["charged"] += charged

    parallel(clients, client)
    return t


def small_sizes(rnd):
    model = rnd.choice(("gpt-4o", "gpt-4o", "gpt-3.5-turbo"))
    return model, rnd.randint(50, 600), rnd.randint(1, 150)


def check_after_race(acct, start, t, refusal):
    acc = assert_reserve(acct, 0)
    eq(t["charged"], start - acc["balance_micros"], "sum of charged = balance drop")
    aid = internal_id(acct)
    eq(sql("SELECT COALESCE(SUM(cost_micros), 0) FROM usage_records WHERE account_id = %d" % aid),
       [[str(t["charged"])]], "usage rows sum to the charges")
    eq(sql("SELECT COUNT(*) FROM holds WHERE account_id = %d AND state = 'pending'" % aid), [["0"]], "no pending hold")
    check(not any(s >= 500 for s in t["statuses"]), "no 5xx: %r" % t["statuses"])
    check(refusal in t["refusals"], "refusals (%d) happened: %r" % (refusal, t["statuses"]))
    verify()
    return acc
