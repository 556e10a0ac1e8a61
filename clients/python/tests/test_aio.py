"""The asyncio client against a local HTTP/1.1 server: keep-alive, typed
errors, retries, timeouts, chunked answers, and the async guard."""
import asyncio
import json
import socket
import unittest
from typing import Any, Callable, Dict, List, Optional, Tuple

import creditd
from creditd import AsyncCreditd

from .fakes import FakeAsyncGuardAPI, ProviderCut, anthropic_events, async_items, openai_chunks
from .test_transport import HANG, IN_PROGRESS, THEN_CLOSE, THEN_SEND, Answer, Server, error


class Base(unittest.IsolatedAsyncioTestCase):
    def serve(self, script: Callable[[int, str, str], Optional[Answer]]) -> Server:
        s = Server(script)
        self.addCleanup(s.close)
        return s

    async def client(self, s: Server, **kw: Any) -> Tuple[AsyncCreditd, List[float]]:
        c = AsyncCreditd(s.url, "sk_test", **dict({"timeout_ms": 5000}, **kw))
        slept: List[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
        c._sleep = sleep
        self.addAsyncCleanup(c.close)
        return c, slept


class KeepAlive(Base):
    async def test_calls_share_one_connection_and_answers_are_decoded(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"hold_id": "hold_1_%d" % n, "amount_micros": 7}))
        c, _ = await self.client(s)
        for i in range(4):
            hold = await c.authorize("a", "r%d" % i, model="m", input_tokens=1)
            self.assertEqual(hold["hold_id"], "hold_1_%d" % (i + 1))
        self.assertEqual(c.connections_opened, 1)
        self.assertEqual(len({x["port"] for x in s.seen}), 1, "one client port: one TCP connection")
        first = s.seen[0]
        self.assertEqual((first["method"], first["path"]), ("POST", "/credits/v1/guard/authorize"))
        self.assertEqual(first["headers"]["authorization"], "Bearer sk_test")
        self.assertEqual(first["headers"]["user-agent"], "creditd-client-python/" + creditd.VERSION)
        self.assertEqual(json.loads(first["body"]), {"account": "a", "model": "m", "input_tokens": 1,
                                                     "request_id": "r0"})

    async def test_alerts_are_put_whole_and_read(self) -> None:
        answer = {"alerts": [{"kind": "balance_below", "micros": 2000000, "state": "fired"}]}
        s = self.serve(lambda n, m, p: (200, {}, answer))
        c, _ = await self.client(s)
        self.assertEqual(await c.set_alerts("a", [{"kind": "balance_below", "micros": 2000000}]), answer)
        self.assertEqual((await c.get_alerts("a"))["alerts"][0]["state"], "fired")
        self.assertEqual([(x["method"], x["path"]) for x in s.seen],
                         [("PUT", "/credits/v1/accounts/a/alerts"), ("GET", "/credits/v1/accounts/a/alerts")])
        self.assertEqual(json.loads(s.seen[0]["body"]), {"alerts": [{"kind": "balance_below", "micros": 2000000}]})

    async def test_settle_and_record_usage_send_cache_writes(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {}))
        c, _ = await self.client(s)
        await c.settle("hold_1_1", 100, 5, cached_input_tokens=20, cache_write_input_tokens=40)
        await c.record_usage("a", model="m", input_tokens=100, output_tokens=5, cache_write_input_tokens=40)
        self.assertEqual(json.loads(s.seen[0]["body"]), {"hold_id": "hold_1_1", "input_tokens": 100,
                                                         "output_tokens": 5, "cached_input_tokens": 20,
                                                         "cache_write_input_tokens": 40})
        self.assertEqual(json.loads(s.seen[1]["body"]), {"account": "a", "model": "m", "input_tokens": 100,
                                                         "output_tokens": 5, "cache_write_input_tokens": 40})

    async def test_calls_at_once_take_connections_of_their_own(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"status": "ok"}))
        c, _ = await self.client(s)
        answers = await asyncio.gather(*(c.healthz() for _ in range(5)))
        self.assertEqual(answers, [{"status": "ok"}] * 5)
        self.assertGreater(c.connections_opened, 1)
        opened = c.connections_opened
        await c.healthz()
        self.assertEqual(c.connections_opened, opened, "an idle connection is reused")
        self.assertNotIn("authorization", s.seen[0]["headers"], "healthz takes no key")

    async def test_a_connection_closed_after_an_answer_is_reopened_without_a_retry(self) -> None:
        s = self.serve(lambda n, m, p: (200, {THEN_CLOSE: "1"} if n == 1 else {}, {"n": n}))
        c, slept = await self.client(s, max_retries=0)
        self.assertEqual((await c.request("GET", "/v1/models"))["n"], 1)
        await asyncio.sleep(0.05)
        self.assertEqual((await c.request("GET", "/v1/models"))["n"], 2)
        self.assertEqual((c.connections_opened, slept), (2, []))

    async def test_an_idle_connection_with_bytes_waiting_is_not_reused(self) -> None:
        smuggled = 'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"smuggled":true}'
        s = self.serve(lambda n, m, p: (200, {THEN_SEND: smuggled} if n == 1 else {}, {"n": n}))
        c, slept = await self.client(s)
        self.assertEqual(await c.models(), {"n": 1})
        await asyncio.sleep(0.05)
        self.assertEqual(await c.models(), {"n": 2}, "an answer nobody asked for is not taken for the next one")
        self.assertEqual((c.connections_opened, slept), (2, []))

    async def test_an_idle_connection_at_eof_is_not_reused_even_for_a_write_without_a_key(self) -> None:
        s = self.serve(lambda n, m, p: (200, {THEN_CLOSE: "1"} if n == 1 else {}, {"n": n}))
        c, slept = await self.client(s, max_retries=0)
        self.assertEqual(await c.models(), {"n": 1})
        await asyncio.sleep(0.05)
        self.assertEqual(await c.grant("a", 5, "promo"), {"n": 2}, "a new connection, not a failed try")
        self.assertNotIn("idempotency-key", s.seen[1]["headers"])
        self.assertEqual((c.connections_opened, slept), (2, []))

    async def test_chunked_answers_and_paths(self) -> None:
        s = self.serve(lambda n, m, p: (200, {"Transfer-Encoding": "chunked"},
                                        {"data": [{"id": "txn_%d" % n}], "next_cursor": "txn_1" if n == 1 else None}))
        c, _ = await self.client(s)
        rows = [row["id"] async for row in c.iter_transactions("a/b c", page_size=1)]
        self.assertEqual(rows, ["txn_1", "txn_2"])
        self.assertEqual([x["path"] for x in s.seen], ["/credits/v1/accounts/a%2Fb%20c/transactions?limit=1",
                                                       "/credits/v1/accounts/a%2Fb%20c/transactions?limit=1&"
                                                       "cursor=txn_1"])
        self.assertEqual(c.connections_opened, 1)
        await c.referral_code("a/b")
        await c.create_account("n", referral_code="k3m9x2p7qa")
        self.assertEqual((s.seen[2]["method"], s.seen[2]["path"]), ("GET", "/credits/v1/accounts/a%2Fb/referral_code"))
        self.assertEqual(json.loads(s.seen[3]["body"]), {"id": "n", "kind": "user", "referral_code": "k3m9x2p7qa"})


class Errors(Base):
    async def test_each_code_has_its_class_and_is_not_retried(self) -> None:
        cases = [(400, "invalid_request", creditd.InvalidRequest), (402, "insufficient_credits",
                                                                     creditd.InsufficientCredits),
                 (429, "billing_hard_limit_reached", creditd.BillingHardLimitReached),
                 (429, "rate_limit_exceeded", creditd.RateLimited), (409, "already_redeemed", creditd.AlreadyRedeemed),
                 (503, "stripe_not_configured", creditd.StripeNotConfigured), (500, "internal_error",
                                                                               creditd.ServerError)]
        for status, code, cls in cases:
            s = self.serve(lambda n, m, p: (status, {"Retry-After": "3"},
                                            error(status, code, available_micros=5, required_micros=9)))
            c, slept = await self.client(s)
            with self.assertRaises(creditd.CreditdError) as cm:
                await c.redeem("a", "CODE")
            e = cm.exception
            self.assertIs(type(e), cls, code)
            self.assertEqual((e.status, e.code, e.retry_after, e.available_micros, e.required_micros),
                             (status, code, 3, 5, 9))
            self.assertEqual((len(s.seen), slept), (1, []), "%s is not retried" % code)
        self.assertIs(creditd.BadRequest, creditd.InvalidRequest)


class Retries(Base):
    async def test_503_is_retried_with_the_same_key_and_body_after_retry_after(self) -> None:
        s = self.serve(lambda n, m, p: (503, {"Retry-After": "2"}, error(503, "unavailable")) if n < 3
                       else (200, {}, {"id": "grant_1"}))
        c, slept = await self.client(s)
        self.assertEqual((await c.grant("a", 5, "promo"))["id"], "grant_1")
        self.assertEqual(slept, [2.0, 2.0])
        keys = {x["headers"]["idempotency-key"] for x in s.seen}
        self.assertEqual((len(s.seen), len(keys), len({x["body"] for x in s.seen})), (3, 1, 1))

    async def test_unavailable_of_a_web_server_502_504_is_retried_and_its_429_is_rate_limited(self) -> None:
        answers: Dict[int, Answer] = {
            1: (502, {"Retry-After": "1"}, error(502, "unavailable")),    # Apache's ErrorDocument
            2: (504, {}, b"<html>504 Gateway Time-out</html>"),            # a proxy's own page
            3: (200, {}, {"id": "grant_1"})}
        s = self.serve(lambda n, m, p: answers[n])
        c, slept = await self.client(s, retry_delay_ms=100)
        self.assertEqual((await c.grant("a", 5, "promo"))["id"], "grant_1")
        self.assertEqual(len(s.seen), 3)
        self.assertEqual(len({x["headers"]["idempotency-key"] for x in s.seen}), 1, "one key")
        self.assertTrue(slept[0] == 1.0 and 0.1 <= slept[1] <= 0.2, "Retry-After, then backoff: %r" % slept)
        t = self.serve(lambda n, m, p: (429, {"Retry-After": "9"}, b"<html>429 Too Many Requests</html>"))
        c2, slept2 = await self.client(t)
        with self.assertRaises(creditd.RateLimited) as cm:
            await c2.authorize("a", "r", model="m", input_tokens=1)
        self.assertNotIsInstance(cm.exception, creditd.LimitReached)
        self.assertEqual((len(t.seen), slept2, cm.exception.retry_after), (1, [], 9))

    async def test_backoff_and_a_long_retry_after(self) -> None:
        s = self.serve(lambda n, m, p: (503, {}, error(503, "gateway_busy")) if n == 1 else (200, {}, {}))
        c, slept = await self.client(s, retry_delay_ms=100)
        await c.grant("a", 5, "promo", idempotency_key="grant-7")
        self.assertEqual([x["headers"]["idempotency-key"] for x in s.seen], ["grant-7", "grant-7"])
        self.assertTrue(len(slept) == 1 and 0.05 <= slept[0] <= 0.1, "backoff with jitter: %r" % slept)
        t = self.serve(lambda n, m, p: (503, {"Retry-After": "60"}, error(503, "unavailable")))
        c2, slept2 = await self.client(t, max_retry_delay_ms=10_000)
        with self.assertRaises(creditd.Unavailable) as cm:
            await c2.models()
        self.assertEqual((len(t.seen), slept2, cm.exception.retry_after), (1, [], 60))

    async def test_a_top_up_in_progress_is_waited_out_apart_from_max_retries(self) -> None:
        s = self.serve(lambda n, m, p: (409, {}, IN_PROGRESS) if n <= 2 else (200, {}, {"session_id": "cs_1"}))
        c, slept = await self.client(s, max_retries=1, retry_delay_ms=100)
        self.assertEqual((await c.topup("a", 2000, idempotency_key="t-1"))["session_id"], "cs_1")
        self.assertEqual([x["headers"]["idempotency-key"] for x in s.seen], ["t-1"] * 3)
        self.assertEqual(len(slept), 2)
        t = self.serve(lambda n, m, p: (409, {}, IN_PROGRESS))
        c2, slept2 = await self.client(t, retry_delay_ms=1000, max_retry_delay_ms=3000)
        with self.assertRaises(creditd.Conflict):
            await c2.topup("a", 2000)
        self.assertLessEqual(sum(slept2), 3.0)
        self.assertEqual(len(t.seen), len(slept2) + 1)

    async def test_a_dropped_connection_is_retried_with_the_same_key(self) -> None:
        s = self.serve(lambda n, m, p: None if n == 1 else (200, {}, {"usage_id": "usage_1"}))
        c, slept = await self.client(s)
        self.assertEqual((await c.record_usage("a", model="m", input_tokens=1, output_tokens=1))["usage_id"],
                         "usage_1")
        self.assertEqual(len(s.seen), 2)
        self.assertEqual(s.seen[0]["headers"]["idempotency-key"], s.seen[1]["headers"]["idempotency-key"])
        self.assertEqual(len(slept), 1)

    async def test_a_try_is_bounded_by_timeout_ms(self) -> None:
        s = self.serve(lambda n, m, p: (HANG, {"seconds": "2"}, None))
        c, slept = await self.client(s, timeout_ms=200, max_retries=1)
        started = asyncio.get_running_loop().time()
        with self.assertRaises(creditd.ConnectionFailed) as cm:
            await c.settle("hold_1_1", 10, 5)
        took = asyncio.get_running_loop().time() - started
        self.assertIn("timed out", str(cm.exception))
        self.assertEqual((cm.exception.status, len(slept)), (None, 1), "one retry, then raised")
        self.assertLess(took, 1.5, "two tries of 200 ms, not the server's 2 s")

    async def test_a_stale_connection_and_its_new_one_share_one_timeout(self) -> None:
        # The kept-alive connection dies after 0.7 s without an answer (stale);
        # the new one then hangs: the try still ends at timeout_ms, not later.
        s = self.serve(lambda n, m, p: (200, {}, {"n": n}) if n == 1
                       else (HANG, {"seconds": "0.7" if n == 2 else "3"}, None))
        c, slept = await self.client(s, timeout_ms=1000, max_retries=0)
        await c.request("GET", "/v1/models")
        started = asyncio.get_running_loop().time()
        with self.assertRaises(creditd.ConnectionFailed) as cm:
            await c.request("GET", "/v1/models")
        took = asyncio.get_running_loop().time() - started
        self.assertIn("timed out", str(cm.exception))
        self.assertEqual((len(s.seen), slept), (3, []), "the stale connection, then a new one")
        self.assertLess(took, 1.4, "one timeout_ms for the whole try, not one per connection: %.2f s" % took)

    async def test_nobody_listening(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        c = AsyncCreditd("http://127.0.0.1:%d" % port, "k", timeout_ms=2000)
        slept: List[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
        c._sleep = sleep
        with self.assertRaises(creditd.ConnectionFailed) as cm:
            await c.models()
        self.assertEqual((cm.exception.status, len(slept)), (None, 2))


class HeaderValues(Base):
    async def test_a_key_with_crlf_smuggles_nothing_and_the_connection_stays_in_step(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"n": n, "path": p}))
        c, slept = await self.client(s)
        self.assertEqual((await c.request("GET", "/v1/models"))["n"], 1)
        smuggle = "k\r\nContent-Length: 0\r\n\r\nGET /credits/v1/accounts/victim HTTP/1.1\r\nX-Pad: x"
        for key in [smuggle, "k\n", "k\x00", "k\x7f", "k\u00e9", "", "k" * 256]:
            with self.assertRaises(ValueError, msg=repr(key)) as cm:
                await c.grant("a", 5, "promo", idempotency_key=key)
            self.assertIn("Idempotency-Key", str(cm.exception))
        self.assertEqual((len(s.seen), slept), (1, []), "nothing sent, nothing retried")
        answer = await c.request("GET", "/v1/models")
        self.assertEqual((answer["n"], answer["path"]), (2, "/credits/v1/models"), "the next answer is its own")
        self.assertEqual(c.connections_opened, 1)

    async def test_a_bad_api_key_user_agent_or_path_is_refused(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {}))
        with self.assertRaises(ValueError):
            AsyncCreditd(s.url, "sk\r\nX-Injected: 1")
        with self.assertRaises(ValueError):
            AsyncCreditd(s.url, "sk", user_agent="app\r\nX-Injected: 1")
        c, slept = await self.client(s)
        with self.assertRaises(ValueError):
            await c.request("GET", "/v1/models HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /x")
        self.assertEqual((s.seen, slept), ([], []))



class Hardening(Base):
    async def raw(self, answer: bytes) -> str:
        """A server that answers every request with these bytes, then closes."""
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
            writer.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)

        async def stop() -> None:
            server.close()
            await server.wait_closed()
        self.addAsyncCleanup(stop)
        return "http://127.0.0.1:%d" % server.sockets[0].getsockname()[1]

    async def test_a_chunk_size_is_hex_digits_only(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        for size in (b"7", b"07", b"7;ext=1"):
            c = AsyncCreditd(await self.raw(head + size + b'\r\n{"a":1}\r\n0\r\n\r\n'), "k", max_retries=0)
            self.assertEqual(await c.request("GET", "/v1/models"), {"a": 1}, size)
            await c.close()
        for size in (b"0x7", b"+7", b"0_7", b" 7", b"-0", b""):
            c = AsyncCreditd(await self.raw(head + size + b'\r\n{"a":1}\r\n0\r\n\r\n'), "k", max_retries=0)
            with self.assertRaises(creditd.ConnectionFailed, msg=repr(size)):
                await c.request("GET", "/v1/models")
            await c.close()

    async def test_retry_after_is_seconds_from_the_header_else_the_body(self) -> None:
        s = self.serve(lambda n, m, p: (503, {"Retry-After": "Wed, 21 Oct 2037 07:28:00 GMT"},
                                        error(503, "unavailable", retry_after_seconds=2)) if n == 1 else (200, {}, {}))
        c, slept = await self.client(s)
        await c.models()
        self.assertEqual(slept, [2.0])


class AsyncGuards(unittest.IsolatedAsyncioTestCase):
    async def test_an_async_stream_settles_its_final_usage(self) -> None:
        api = FakeAsyncGuardAPI()
        usage = {"prompt_tokens": 1010, "completion_tokens": 42, "prompt_tokens_details": {"cached_tokens": 10}}
        chunks = openai_chunks(["Hel", "lo"], usage)
        async with AsyncCreditd.guard(api.as_client(), "acct", "req", "gpt-4o", 1000, 500) as hold:
            got = [c async for c in hold.openai_stream(async_items(chunks))]
        self.assertEqual(got, chunks)
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 1010,
                                       "output_tokens": 42, "cached_input_tokens": 10}])
        self.assertFalse(hold.partial)

    async def test_a_stream_cut_midway_settles_what_came_and_nothing_releases(self) -> None:
        api = FakeAsyncGuardAPI()
        with self.assertRaises(ProviderCut):
            async with AsyncCreditd.guard(api.as_client(), "acct", "req", "gpt-4o", 1000, 500) as hold:
                async for _ in hold.anthropic_stream(async_items(anthropic_events(["abcdefgh"], 900), cut_after=3)):
                    pass
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 900,
                                       "output_tokens": 2, "cached_input_tokens": 0}])
        self.assertTrue(hold.partial)
        api.calls.clear()
        with self.assertRaises(ProviderCut):
            async with AsyncCreditd.guard(api.as_client(), "acct", "req2", "gpt-4o", 1000, 500) as hold:
                async for _ in hold.stream(async_items(["", ""], cut_after=2)):
                    pass
        self.assertEqual(api.ends(), [{"op": "release", "hold_id": hold.hold_id}])

    async def test_whole_answers_and_plain_iterables(self) -> None:
        api = FakeAsyncGuardAPI(available_output=5)
        async with AsyncCreditd.guard(api.as_client(), "acct", "req", "gpt-4o", 1000, 500,
                                      min_output_tokens=2) as hold:
            self.assertEqual(hold.max_output_tokens, 5, "shrunk: the cap to give the model")
            async for _ in hold.stream(["ab", "cd"]):
                pass
            settled = await hold.anthropic_response({"usage": {"input_tokens": 3, "output_tokens": 4}})
        self.assertEqual(settled, {"hold_id": hold.hold_id, "charged_micros": 1})
        self.assertEqual(api.ends()[-1]["output_tokens"], 4)

    async def test_anthropic_cache_writes_are_sent_as_cache_writes(self) -> None:
        api = FakeAsyncGuardAPI()
        events = anthropic_events(["ab", "cd"], input_tokens=5, cache_read=10, cache_write=300, output_tokens=9)
        async with AsyncCreditd.guard(api.as_client(), "acct", "req", "claude", 400, 500) as hold:
            async for _ in hold.anthropic_stream(async_items(events)):
                pass
        async with AsyncCreditd.guard(api.as_client(), "acct", "req2", "claude", 400, 500) as hold2:
            await hold2.anthropic_response({"usage": {"input_tokens": 5, "cache_creation_input_tokens": 300,
                                                      "output_tokens": 9}})
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 315,
                                       "output_tokens": 9, "cached_input_tokens": 10,
                                       "cache_write_input_tokens": 300},
                                      {"op": "settle", "hold_id": hold2.hold_id, "input_tokens": 305,
                                       "output_tokens": 9, "cached_input_tokens": 0,
                                       "cache_write_input_tokens": 300}])


class SlowGuardAPI(FakeAsyncGuardAPI):
    """A settle and a release that take a while on the network, and say when they started."""

    def __init__(self) -> None:
        super().__init__()
        self.ending = asyncio.Event()
        self.finished: List[str] = []

    async def settle(self, hold_id: str, input_tokens: int, output_tokens: int,
                     cached_input_tokens: Optional[int] = None,
                     cache_write_input_tokens: Optional[int] = None) -> Dict[str, Any]:
        self.ending.set()
        await asyncio.sleep(0.2)
        self.finished.append("settle")
        return await super().settle(hold_id, input_tokens, output_tokens, cached_input_tokens,
                                    cache_write_input_tokens)

    async def release(self, hold_id: str) -> Dict[str, Any]:
        self.ending.set()
        await asyncio.sleep(0.2)
        self.finished.append("release")
        return await super().release(hold_id)


class GuardCancelled(unittest.IsolatedAsyncioTestCase):
    """A task cancelled while its guard settles on the way out (a second
    cancellation: the first one ended the block) still settles: the hold
    must not stay pending."""

    async def _cancelled_twice(self, api: SlowGuardAPI, pieces: List[str]) -> None:
        started = asyncio.Event()

        async def handler() -> None:
            async with AsyncCreditd.guard(api.as_client(), "acct", "req", "gpt-4o", 1000, 500) as hold:
                async for _ in hold.stream(pieces):
                    pass
                started.set()
                await asyncio.sleep(10)     # the model still streaming when the user goes away

        task = asyncio.ensure_future(handler())
        await started.wait()
        task.cancel()
        await api.ending.wait()
        task.cancel()                       # again, while the exit's settle is on the wire
        with self.assertRaises(asyncio.CancelledError):
            await task

    async def test_a_second_cancellation_during_the_exit_settle_still_settles(self) -> None:
        api = SlowGuardAPI()
        await self._cancelled_twice(api, ["some ", "output"])
        self.assertEqual(api.finished, ["settle"])
        self.assertEqual([c["op"] for c in api.ends()], ["settle"])

    async def test_a_second_cancellation_during_the_exit_release_still_releases(self) -> None:
        api = SlowGuardAPI()
        await self._cancelled_twice(api, [])
        self.assertEqual(api.finished, ["release"])

    async def test_a_cancellation_during_the_exit_of_a_block_that_ended_well(self) -> None:
        api = SlowGuardAPI()

        async def handler() -> None:
            async with AsyncCreditd.guard(api.as_client(), "acct", "req", "gpt-4o", 1000, 500) as hold:
                hold.chunk("done")

        task = asyncio.ensure_future(handler())
        await api.ending.wait()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertEqual(api.finished, ["settle"])


if __name__ == "__main__":
    unittest.main()
