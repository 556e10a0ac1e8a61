"""test_35_topup_attempts.py: what a top-up costs the merchant at Stripe,
and what it credits (DESIGN §13).

Every top-up attempt counts toward `[stripe] topups_per_hour`, whether or
not Stripe accepted it: a client (a browser token's widget, or the app's
server) looping on failures reaches Stripe at most that many times an
hour. An Idempotency-Key reused with another body is 409 before any call
to Stripe, and the same body again is answered from creditd's record
without one, counted once. A top-up credits the credit it quoted when it
started (`credits_micros`), whatever `topup_rate` is when it is paid.

The fake Stripe fails only Checkout Session creation (its /_mode with a
path) while customers are still made; what reached it is read back from
its /_requests. The rate is changed by a creditd of the test's own
(test_30's Spawned) with another `topup_rate` on the same database.
"""
import json
import secrets

from lib import ENV, check, eq, new_account, verify
from test_30_stripe import (HOOK, RATE, Spawned, acct_path, attempts, balance, checkout_event, delivered, fake_mode,
                            fake_requests, last_seq, ok_mode, one, quoted, sign, topup)
from test_33_payg import stripe_key
from test_58_browser_tokens import me, token

SESSIONS = "/v1/checkout/sessions"
ME_TOPUP = "/v1/me/topup"


def me_topup(tok, cents, key=None):
    return me(tok, ME_TOPUP, "POST", {"amount_cents": cents}, headers={"Idempotency-Key": key} if key else None)


def test_failed_attempts_count_and_the_eleventh_is_refused_before_stripe():
    ok_mode()
    acct = new_account("tries")
    tok = token(acct)
    seq = last_seq()
    fake_mode("fail500", path=SESSIONS)
    try:
        for i in range(10):
            r = me_topup(tok, 500 + i)
            eq((r.status, r.err.get("code")), (502, "upstream_error"), "attempt %d: %r" % (i + 1, r))
        calls = fake_requests(SESSIONS, since=seq)
        eq([c["status"] for c in calls], [500] * 10, "each attempt reached Stripe once, and Stripe failed it")
        seq = last_seq()
        r = me_topup(tok, 500)
        eq(r.status, 429, "the 11th attempt in the hour: %r" % r)
        eq((r.err.get("code"), r.err.get("type")), ("rate_limit_exceeded", "rate_limit_error"), "a rate limit")
        retry = int(r.headers.get("retry-after", "0"))
        check(1 <= retry <= 3600, "Retry-After until the oldest attempt leaves the hour: %r" % retry)
        eq(fake_requests(since=seq), [], "nothing sent to Stripe")
    finally:
        ok_mode()
    eq(attempts(acct), {"failed": 10}, "ten attempts kept, failed")
    seq = last_seq()
    eq(me_topup(tok, 500).status, 429, "Stripe working again changes nothing: the hour's attempts are spent")
    eq(topup(acct, 500).status, 429, "the app's route counts the same attempts")
    eq(fake_requests(since=seq), [], "still nothing sent to Stripe")
    eq(topup(new_account("tries2"), 500).status, 200, "another account is not limited")
    verify()


def test_a_key_reused_with_another_amount_is_409_before_stripe():
    ok_mode()
    acct = new_account("keyloop")
    tok = token(acct)
    key = "loop-" + secrets.token_hex(8)
    first = me_topup(tok, 500, key)
    eq(first.status, 200, "the first top-up under the key: %r" % first)
    seq = last_seq()
    for cents in range(600, 620):
        r = me_topup(tok, cents, key)
        eq(r.status, 409, "%d cents under the key: %r" % (cents, r))
        eq((r.err.get("code"), r.err.get("param")), ("conflict", "idempotency_key"), "names the key")
    r = topup(acct, 500, idempotency_key=key)
    eq((r.status, r.err.get("param")), (409, "idempotency_key"), "another route is another request: %r" % r)
    again = me_topup(tok, 500, key)
    eq(again.status, 200, "the same request again: %r" % again)
    eq(again.json, first.json, "the first answer, the same session")
    eq(fake_requests(since=seq), [], "nothing sent to Stripe for the conflicts nor for the replay")
    eq(attempts(acct), {"pending": 1}, "one top-up recorded")
    for i in range(9):
        eq(topup(acct, 500).status, 200, "top-up %d: neither the conflicts nor the replay counted" % (i + 2))
    eq(topup(acct, 500).status, 429, "the 11th")
    verify()


def test_a_failed_attempt_keeps_its_key_and_a_retry_counts_again():
    ok_mode()
    acct = new_account("keyfail")
    key = "retry-" + secrets.token_hex(8)
    fake_mode("fail500", path=SESSIONS, count=1)
    try:
        r = topup(acct, 800, idempotency_key=key)
        eq(r.status, 502, "Stripe failed the session: %r" % r)
    finally:
        ok_mode()
    seq = last_seq()
    r = topup(acct, 900, idempotency_key=key)
    eq((r.status, r.err.get("param")), (409, "idempotency_key"), "the failed attempt holds its key: %r" % r)
    eq(fake_requests(since=seq), [], "nothing sent to Stripe")
    r = topup(acct, 800, idempotency_key=key)
    eq(r.status, 200, "the same request again is tried again: %r" % r)
    eq(len(fake_requests(SESSIONS, since=seq)), 1, "one session call")
    eq(attempts(acct), {"failed": 1, "pending": 1}, "both attempts counted")
    seq = last_seq()
    again = topup(acct, 800, idempotency_key=key)
    eq((again.status, again.json), (200, r.json), "now its session is answered")
    eq(fake_requests(since=seq), [], "without calling Stripe")
    verify()


def test_a_topup_credits_its_quote_whatever_the_rate_when_paid():
    ok_mode()
    acct = new_account("quote")
    r = topup(acct, 1234)
    eq(r.status, 200, "top-up %r" % r)
    eq(r.json["credits_micros"], 1234 * RATE, "quoted at the rate of the moment")
    before = balance(acct)
    payload = json.dumps(checkout_event(r.json["session_id"]))
    c = Spawned(ENV["CREDITD_WEBHOOK_SECRET"], extra="topup_rate = %d\n" % (3 * RATE))
    try:
        status, body = c.request("POST", HOOK, payload.encode(), {"Stripe-Signature": sign(payload)})
        eq((status, body.get("outcome")), (200, "credited"), "paid where topup_rate is 3 times higher: %r" % body)
    finally:
        c.close()
    eq(balance(acct), before + 1234 * RATE, "the quoted credit, not 1234 cents at today's rate")
    eq(one("SELECT CONCAT(credited_micros, '/', quoted_micros) FROM topups WHERE session_id = %s"
           % quoted(r.json["session_id"])), "%d/%d" % (1234 * RATE, 1234 * RATE), "the record")
    # And the other way: quoted where the rate is higher, paid at the stack's.
    c = Spawned(ENV["CREDITD_WEBHOOK_SECRET"], secret_key=stripe_key(), extra="topup_rate = %d\n" % (3 * RATE))
    try:
        status, body = c.request("POST", acct_path(acct, "/topup"), json.dumps({"amount_cents": 1000}).encode(),
                                 {"Authorization": "Bearer " + ENV["CREDITD_APP_KEY"]})
        eq(status, 200, "top-up where topup_rate is 3 times higher: %r" % body)
        eq(body["credits_micros"], 1000 * 3 * RATE, "quoted at that rate")
    finally:
        c.close()
    eq(delivered(checkout_event(body["session_id"])).json.get("outcome"), "credited", "paid through the stack")
    eq(balance(acct), before + 1234 * RATE + 1000 * 3 * RATE, "the quoted credit again")
    verify()
