"""test_54_python_async_client.py: the Python asyncio client (creditd.aio.AsyncCreditd,
clients/python) against the real stack.

The async counterpart of test_50: each test runs a coroutine under
asyncio.run. Exact costs come from GET /v1/models and DESIGN's formula;
refusals are checked against clients/vocabulary.json, the table the three
clients share; retries go through test_52's proxy that loses the first
answer (the write happened) or answers 503 first, and timeouts through a
local server that never answers.
"""
import asyncio
import contextlib
import json
import os
import socket
import time
import uuid

from lib import ENV, Fail, api, check, eq, uid, verify
from test_50_clients import (ROOT, ProviderCut, anthropic_cache_stream, cache_write_model, cache_writes,
                             closed_url, cost, funded, hold_state, unavailable_server, usage_row)
from test_52_node_client import _with_proxy

import creditd as cc  # noqa: E402  (test_50 put clients/python/src on sys.path)
from creditd.aio import AsyncCreditd  # noqa: E402

with open(os.path.join(ROOT, "clients", "vocabulary.json")) as _f:
    VOCABULARY = {row["code"]: row["class"] for row in json.load(_f)["codes"]}


def client(key="CREDITD_GUARD_KEY", **options):
    return AsyncCreditd(ENV["CREDITD_URL"], ENV[key], **options)


async def refused(cls, awaitable):
    """Awaits what must raise exactly cls, named as vocabulary.json names its code; returns the error."""
    try:
        await awaitable
    except cc.CreditdError as e:
        eq(type(e), cls, "exception class (%s)" % e)
        if e.code in VOCABULARY:
            eq(cls.__name__, VOCABULARY[e.code], "the vocabulary's class for %s" % e.code)
        return e
    raise Fail("no %s raised" % cls.__name__)


def test_async_authorize_settle_and_usage_charge_the_exact_cost():
    async def run():
        async with client("CREDITD_READ_KEY") as reader, client() as g:
            models = await reader.models()
            acct = funded(5_000_000, "aio")
            hold = await g.authorize(acct, uid("req"), model="gpt-4o", input_tokens=1200, max_output_tokens=800)
            eq(hold["amount_micros"], cost(models, "gpt-4o", 1200, 800), "hold = worst-case cost")
            eq((hold["available_micros"], hold["max_output_tokens"]), (5_000_000 - hold["amount_micros"], 800),
               "available after the hold, the cap to give the model")
            want = cost(models, "gpt-4o", 1200, 350, cached=200)
            settled = await g.settle(hold["hold_id"], 1200, 350, cached_input_tokens=200)
            eq((settled["charged_micros"], settled["released_micros"], settled["late"]),
               (want, hold["amount_micros"] - want, False), "charged the exact cost, released the rest")
            eq(await g.settle(hold["hold_id"], 1200, 350, cached_input_tokens=200), settled, "settling again replays")
            e = await refused(cc.Conflict, g.release(hold["hold_id"]))
            eq(e.param, "hold_id", "a settled hold cannot be released")
            eq(hold_state(hold["hold_id"]), "settled", "hold state")
            rid = uid("batch")
            used = await g.record_usage(acct, model="gpt-3.5-turbo", input_tokens=300, output_tokens=120,
                                        request_id=rid)
            eq(used["charged_micros"], cost(models, "gpt-3.5-turbo", 300, 120), "direct usage cost")
            eq(g.connections_opened, 1, "one kept-alive connection for five calls in a row")

            # Calls at once: connections of their own, each hold its own.
            holds = await asyncio.gather(*(g.authorize(acct, uid("req"), model="gpt-4o", input_tokens=100,
                                                       max_output_tokens=10) for _ in range(4)))
            eq(len({h["hold_id"] for h in holds}), 4, "four holds")
            done = await asyncio.gather(*(g.settle(h["hold_id"], 100, 5) for h in holds))
            each = cost(models, "gpt-4o", 100, 5)
            eq([d["charged_micros"] for d in done], [each] * 4, "each settled at its cost")
            a = await reader.get_account(acct)
            eq((a["balance_micros"], a["reserved_micros"]),
               (5_000_000 - want - used["charged_micros"] - 4 * each, 0), "the account after it all")
    asyncio.run(run())
    verify()


def test_async_refusals_are_the_vocabularys_classes():
    async def run():
        async with client("CREDITD_ADMIN_KEY") as admin, client() as g, client("CREDITD_READ_KEY") as reader:
            models = await reader.models()
            poor = funded(1000, "aio")
            need = cost(models, "gpt-4o", 100000, 1000)
            e = await refused(cc.InsufficientCredits, g.authorize(poor, uid("req"), model="gpt-4o",
                                                                 input_tokens=100000, max_output_tokens=1000))
            eq((e.status, e.type, e.available_micros, e.required_micros), (402, "insufficient_quota", 1000, need),
               "402 with the amounts")
            capped = uid("aio")
            await admin.create_account(capped, monthly_limit_micros=1000)
            e = await refused(cc.BillingHardLimitReached, g.authorize(capped, uid("req"), model="gpt-4o",
                                                                     input_tokens=100000, max_output_tokens=1000))
            check(isinstance(e, cc.MonthlyLimitReached) and isinstance(e, cc.LimitReached), "the former name too")
            daily = uid("aio")
            await admin.create_account(daily, daily_limit_micros=1)
            await refused(cc.DailyLimitReached, g.authorize(daily, uid("req"), model="gpt-4o", input_tokens=1000,
                                                            max_output_tokens=100))
            ws = uid("aio-ws")
            await admin.create_account(ws, kind="workspace")
            await admin.add_member(ws, "dan", monthly_cap_micros=1)
            await refused(cc.MemberCapReached, g.authorize(ws, uid("req"), model="gpt-4o", input_tokens=1000,
                                                           max_output_tokens=100, member="dan"))
            mailed = uid("aio")
            eq((await admin.create_account(mailed, email="ann@example.org"))["email"], "ann@example.org",
               "an email at creation")
            eq((await admin.patch_account(mailed, email=cc.CLEAR))["email"], None, "CLEAR removes it")
            e = await refused(cc.InvalidRequest, admin.patch_account(mailed, email="not an address"))
            eq(e.param, "email", "a bad email names email")
            rated = uid("aio")
            await admin.create_account(rated, requests_per_minute=1)
            hold = await g.authorize(rated, uid("req"), model="gpt-4o", input_tokens=10, max_output_tokens=10)
            e = await refused(cc.RateLimited, g.authorize(rated, uid("req"), model="gpt-4o", input_tokens=10,
                                                          max_output_tokens=10))
            check(e.retry_after is not None and 0 < e.retry_after <= 60, "retry_after: %r" % e.retry_after)
            await g.release(hold["hold_id"])
            e = await refused(cc.InvalidRequest, g.authorize(poor, uid("req"), model="no-such-model", input_tokens=1))
            eq((e.status, e.param), (400, "model"), "400 names the field")
            check(isinstance(e, cc.BadRequest), "the former name catches it")
            await refused(cc.NotFound, reader.get_account(uid("nobody")))
            await refused(cc.Conflict, admin.create_account(poor, kind="workspace"))
            await refused(cc.Forbidden, reader.grant(poor, 1, "promo"))
            async with AsyncCreditd(ENV["CREDITD_URL"], "crd_wrong") as stranger:
                await refused(cc.Unauthorized, stranger.get_account(poor))
    asyncio.run(run())


def test_async_topup_promo_and_browser_token():
    async def run():
        async with client("CREDITD_APP_KEY") as app, client("CREDITD_ADMIN_KEY") as admin, \
                client("CREDITD_READ_KEY") as reader:
            acct = uid("aio")
            await admin.create_account(acct)
            t = await app.topup(acct, 2000, success_url="https://app.example.com/paid", idempotency_key=uid("top"))
            check(t["checkout_url"].startswith("https://") and t["session_id"], "a Checkout Session: %r" % t)
            eq(t["amount_cents"], 2000, "amount_cents")
            e = await refused(cc.Forbidden, reader.topup(acct, 2000))
            eq(e.code, "forbidden", "a read key starts no top-up")
            e = await refused(cc.InvalidRequest, app.topup(acct, 1))
            eq(e.param, "amount_cents", "below the minimum")
            code = "AIO" + uuid.uuid4().hex[:16]
            await admin.create_promo_code(code, 250000)
            eq((await app.redeem(acct, code.lower()))["amount_micros"], 250000, "redeemed (any case)")
            await refused(cc.AlreadyRedeemed, app.redeem(acct, code))
            token = await app.browser_token(acct, ttl_seconds=120)
            check(token["token"] and token["expires_at"], "a browser token")
            code = (await app.referral_code(acct))["code"]
            eq((await app.referral_code(acct))["code"], code, "the referral code is stable")
            await refused(cc.Forbidden, reader.referral_code(acct))
            referred = uid("aio-ref")
            eq((await admin.create_account(referred, referral_code=code))["id"], referred, "created with the code")
            e = await refused(cc.InvalidRequest, admin.create_account(uid("aio-ref"), referral_code="zzzzzzzzzz"))
            eq(e.param, "referral_code", "an unknown code names the field")
            rows = [row["id"] async for row in reader.iter_transactions(acct, page_size=1)]
            eq(rows, [row["id"] for row in (await reader.transactions(acct, limit=200))["data"]],
               "the async iterator walks every page")
    asyncio.run(run())


def test_async_alerts_set_whole_read_and_fired():
    async def run():
        async with client("CREDITD_APP_KEY") as app, client("CREDITD_ADMIN_KEY") as admin, \
                client("CREDITD_READ_KEY") as reader:
            acct = uid("aio")
            await admin.create_account(acct)
            start = (await reader.get_account(acct))["balance_micros"]
            r = await app.set_alerts(acct, [{"kind": "balance_below", "micros": start - 1000}])
            eq(r["alerts"], [{"kind": "balance_below", "micros": start - 1000, "state": "armed"}], "set")
            e = await refused(cc.InvalidRequest, app.set_alerts(acct, [{"kind": "balance_below", "pct": 5}]))
            eq(e.param, "alerts[0].pct", "the field named")
            await admin.debit(acct, 2000, "test")
            eq((await reader.get_alerts(acct))["alerts"][0]["state"], "fired", "the debit crossed it")
    asyncio.run(run())


def test_async_a_lost_answer_is_retried_and_applied_once():
    acct = funded(5_000_000, "aio")

    def grant_through(base):
        async def run():
            async with AsyncCreditd(base, ENV["CREDITD_ADMIN_KEY"], retry_delay_ms=20) as admin:
                return await admin.grant(acct, 1234567, "promo")
        return asyncio.run(run())
    got, seen = _with_proxy("drop", grant_through)
    eq(len(seen), 2, "the lost answer was retried once")
    check(seen[0]["key"] and seen[0]["key"] == seen[1]["key"], "one Idempotency-Key for both: %r" % seen)
    eq(got["amount_micros"], 1234567, "the retry answers the first grant")
    rows = api("GET", "/v1/accounts/%s/transactions?limit=50" % acct, auth="read").json["data"]
    eq(len([t for t in rows if t["amount_micros"] == 1234567]), 1, "granted once")

    def read_through(base):
        async def run():
            async with AsyncCreditd(base, ENV["CREDITD_READ_KEY"]) as reader:
                t0 = time.monotonic()
                account = await reader.get_account(acct)
                return account["balance_micros"], time.monotonic() - t0
        return asyncio.run(run())
    (balance, waited), seen = _with_proxy("503", read_through)
    eq((len(seen), balance), (2, 5_000_000 + 1234567), "one 503, then the retry's answer")
    check(waited >= 0.95, "Retry-After: 1 honoured (%.2f s)" % waited)


@contextlib.contextmanager
def silent_server():
    """A loopback port that takes connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        yield "http://127.0.0.1:%d" % s.getsockname()[1]
    finally:
        s.close()


def test_async_timeouts_and_unanswered_calls():
    async def run():
        with silent_server() as url:
            c = AsyncCreditd(url, "k", timeout_ms=300, max_retries=1, retry_delay_ms=10)
            t0 = time.monotonic()
            e = await refused(cc.ConnectionFailed, c.models())
            took = time.monotonic() - t0
            check("timed out" in str(e) and e.status is None, "a timeout: %s" % e)
            check(0.55 <= took < 2.0, "two tries of 300 ms (%.2f s)" % took)
        e = await refused(cc.ConnectionFailed, AsyncCreditd(closed_url(), "k", retry_delay_ms=10).models())
        eq(e.status, None, "no status without an answer")
        with unavailable_server() as (url, seen):
            # Retry-After 7 is more than max_retry_delay_ms: raised at once, saying when.
            e = await refused(cc.Unavailable, AsyncCreditd(url, "k", max_retry_delay_ms=5000).healthz())
            eq((e.status, e.code, e.retry_after, len(seen)), (503, "unavailable", 7, 1), "503 with Retry-After")
    asyncio.run(run())


async def _cut_stream(pieces):
    yield {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}], "usage": None}
    for p in pieces:
        await asyncio.sleep(0)
        yield {"choices": [{"index": 0, "delta": {"content": p}}], "usage": None}
    raise ProviderCut("stream cut off")


def test_async_guard_settles_a_stream_cut_midway_and_releases_when_nothing_came():
    async def run():
        async with client("CREDITD_READ_KEY") as reader, client() as g:
            models = await reader.models()
            acct = funded(5_000_000, "aio")
            pieces = ["The answer", " is forty", "-two, and"]
            est = max(3, -(-len("".join(pieces)) // cc.CHARS_PER_TOKEN))
            try:
                async with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
                    async for _ in h.openai_stream(_cut_stream(pieces)):
                        pass
            except ProviderCut:
                pass
            else:
                raise Fail("the provider's exception must propagate")
            eq((hold_state(h.hold_id), h.partial), ("settled", True), "cut off: settled")
            eq(usage_row(h.hold_id), (1000, est, 0, cost(models, "gpt-4o", 1000, est)), "the streamed text's estimate")
            spent = h.settled["charged_micros"] if h.settled else 0
            try:
                async with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
                    async for _ in h.openai_stream(_cut_stream([])):
                        pass
            except ProviderCut:
                pass
            eq((hold_state(h.hold_id), h.settled), ("released", None), "nothing produced: released")
            async with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
                await h.openai_response({"choices": [{"message": {"content": "Hi"}}],
                                         "usage": {"prompt_tokens": 1000, "completion_tokens": 2}})
            eq(usage_row(h.hold_id), (1000, 2, 0, cost(models, "gpt-4o", 1000, 2)), "a whole answer's usage")
            spent += cost(models, "gpt-4o", 1000, 2)
            a = await reader.get_account(acct)
            eq((a["balance_micros"], a["reserved_micros"]), (5_000_000 - spent, 0), "charged exactly the settles")
    asyncio.run(run())
    verify()


async def _async_items(items):
    for item in items:
        await asyncio.sleep(0)
        yield item


def test_async_guard_charges_anthropic_cache_writes_at_the_cache_write_price():
    async def run():
        async with client("CREDITD_READ_KEY") as reader, client() as g:
            models = await reader.models()
            model = cache_write_model(models)
            acct = funded(5_000_000, "aio")
            want = cost(models, model, 4000, 21, cached=600, cache_write=3000)
            async with g.guard(acct, uid("req"), model, 4000, max_output_tokens=500) as h:
                async for _ in h.anthropic_stream(_async_items(anthropic_cache_stream(["Hi"], output_tokens=21))):
                    pass
            eq((h.settled["charged_micros"], usage_row(h.hold_id), cache_writes(h.hold_id)),
               (want, (4000, 21, 600, want), 3000), "a stream: the writes at the cache-write price")
            async with g.guard(acct, uid("req"), model, 4000, max_output_tokens=500) as h2:
                await h2.anthropic_response({"type": "message", "content": [], "usage": {
                    "input_tokens": 400, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 600,
                    "output_tokens": 21}})
            eq((h2.settled["charged_micros"], cache_writes(h2.hold_id)), (want, 3000), "a whole answer")
            hold = await g.authorize(acct, uid("req"), model=model, input_tokens=4000, max_output_tokens=500)
            settled = await g.settle(hold["hold_id"], 4000, 21, cached_input_tokens=600,
                                     cache_write_input_tokens=3000)
            eq(settled["charged_micros"], want, "settle(cache_write_input_tokens=)")
            used = await g.record_usage(acct, model=model, input_tokens=4000, output_tokens=21,
                                        cached_input_tokens=600, cache_write_input_tokens=3000,
                                        request_id=uid("batch"))
            eq(used["charged_micros"], want, "record_usage(cache_write_input_tokens=)")
            a = await reader.get_account(acct)
            eq((a["balance_micros"], a["reserved_micros"]), (5_000_000 - 4 * want, 0), "charged exactly the settles")
    asyncio.run(run())
    verify()


def test_async_client_keeps_no_connection_after_close():
    async def run():
        c = client("CREDITD_READ_KEY")
        await c.healthz()
        await c.close()
        await c.healthz()
        eq(c.connections_opened, 2, "close() then a call: a new connection")
        await c.close()
    asyncio.run(run())
