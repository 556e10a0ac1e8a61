"""The client against a local HTTP/1.1 server: keep-alive, typed errors, retries."""
import http.server
import json
import socket
import threading
import time
import unittest
from typing import Any, Callable, Dict, List, Optional, Tuple

import creditd
from creditd import Creditd

Answer = Tuple[int, Dict[str, str], Any]     # status, headers, JSON body (or bytes as they are)
HANG = 0                # (HANG, {"seconds": "2"}, None): no answer for that long, then the connection drops
THEN_CLOSE = "X-Then-Close"     # a header that closes the connection after the answer, unannounced
THEN_SEND = "X-Then-Send"       # a header whose value is sent as raw bytes just after the answer, unasked for


def error(status: int, code: str, **extra: Any) -> Dict[str, Any]:
    return {"error": dict({"type": "t", "code": code, "message": "m", "param": None}, **extra)}


class Server:
    """A local server answering from a script; records (method, path, headers, body, client port)."""

    def __init__(self, script: Callable[[int, str, str], Optional[Answer]]) -> None:
        self.script = script
        self.seen: List[Dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append({"method": self.command, "path": self.path, "body": body,
                                   "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "port": self.client_address[1]})
                answer = outer.script(len(outer.seen), self.command, self.path)
                if answer is None or answer[0] == HANG:     # drop the connection with no answer
                    if answer is not None:
                        time.sleep(float(answer[1]["seconds"]))
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, headers, payload = answer
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                chunked = "Transfer-Encoding" in headers
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if chunked:                 # in two chunks and an empty trailer
                    half = len(raw) // 2
                    raw = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (raw[:half], raw[half:]) if p) \
                        + b"0\r\n\r\n"
                else:
                    self.send_header("Content-Length", str(len(raw)))
                for k, v in headers.items():
                    if k not in (THEN_CLOSE, THEN_SEND):
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)
                if THEN_SEND in headers:    # a moment later, so that the answer was read alone
                    self.wfile.flush()
                    time.sleep(0.02)
                    self.wfile.write(headers[THEN_SEND].encode("latin-1"))
                if THEN_CLOSE in headers:   # closed after the answer, without saying so
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

            def log_message(self, *args: Any) -> None:
                pass

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass        # a client that aborts its connection is what some tests do

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/credits" % self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Base(unittest.TestCase):
    def serve(self, script: Callable[[int, str, str], Optional[Answer]]) -> Server:
        s = Server(script)
        self.addCleanup(s.close)
        return s

    def client(self, s: Server, **kw: Any) -> Tuple[Creditd, List[float]]:
        c = Creditd(s.url, "sk_test", timeout_ms=5000, **kw)
        slept: List[float] = []
        c._sleep = slept.append
        self.addCleanup(c.close)
        return c, slept


class KeepAlive(Base):
    def test_several_calls_share_one_connection(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"n": n}))
        c, _ = self.client(s)
        for i in range(5):
            self.assertEqual(c.request("GET", "/v1/accounts/a")["n"], i + 1)
        c.authorize("a", "r", model="m", input_tokens=1)
        self.assertEqual(c.connections_opened, 1)
        self.assertEqual(len({x["port"] for x in s.seen}), 1, "one client port: one TCP connection")
        self.assertEqual(s.seen[0]["path"], "/credits/v1/accounts/a")
        self.assertEqual(s.seen[0]["headers"]["authorization"], "Bearer sk_test")

    def test_alerts_are_put_whole_and_read(self) -> None:
        answer = {"alerts": [{"kind": "monthly_spend_pct", "pct": 80, "state": "armed"}]}
        s = self.serve(lambda n, m, p: (200, {}, answer))
        c, _ = self.client(s)
        alerts = [{"kind": "monthly_spend_pct", "pct": 80}, {"kind": "member_cap_pct", "pct": 90, "member": "bob"}]
        self.assertEqual(c.set_alerts("a/b", alerts), answer)
        self.assertEqual(c.get_alerts("a/b")["alerts"][0]["state"], "armed")
        c.set_alerts("a/b", [])
        self.assertEqual([(x["method"], x["path"]) for x in s.seen],
                         [("PUT", "/credits/v1/accounts/a%2Fb/alerts"), ("GET", "/credits/v1/accounts/a%2Fb/alerts"),
                          ("PUT", "/credits/v1/accounts/a%2Fb/alerts")])
        self.assertEqual(json.loads(s.seen[0]["body"]), {"alerts": alerts})
        self.assertEqual(s.seen[1]["body"], b"", "a GET sends no body")
        self.assertEqual(s.seen[2]["body"], b'{"alerts":[]}', "none: an empty list")
        with self.assertRaises(TypeError):
            c.set_alerts("a", {"kind": "balance_below", "micros": 1})  # type: ignore[arg-type]
        self.assertEqual(len(s.seen), 3, "a refused list is not sent")

    def test_threads_take_turns_on_the_connection(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"ok": True}))
        c, _ = self.client(s)
        errors: List[BaseException] = []

        def work() -> None:
            try:
                for _ in range(20):
                    c.models()
            except BaseException as e:  # pragma: no cover
                errors.append(e)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual((errors, len(s.seen), c.connections_opened), ([], 80, 1))

    def test_a_connection_closed_by_the_server_is_reopened_without_a_retry(self) -> None:
        s = self.serve(lambda n, m, p: (200, {"Connection": "close"} if n == 1 else {}, {"n": n}))
        c, slept = self.client(s, max_retries=0)
        self.assertEqual(c.request("GET", "/v1/models")["n"], 1)
        self.assertEqual(c.request("GET", "/v1/models")["n"], 2)
        self.assertEqual((c.connections_opened, slept), (2, []))

    def test_an_idle_connection_with_bytes_waiting_is_not_reused(self) -> None:
        smuggled = 'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"smuggled":true}'
        s = self.serve(lambda n, m, p: (200, {THEN_SEND: smuggled} if n == 1 else {}, {"n": n}))
        c, slept = self.client(s)
        self.assertEqual(c.models(), {"n": 1})
        time.sleep(0.05)
        self.assertEqual(c.models(), {"n": 2}, "an answer nobody asked for is not taken for the next one")
        self.assertEqual((c.connections_opened, slept), (2, []))

    def test_an_idle_connection_dropped_by_the_server_is_reopened(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"n": n}))
        c, slept = self.client(s, max_retries=0)
        c.models()
        assert c._conn is not None and c._conn.sock is not None
        c._conn.sock.shutdown(socket.SHUT_RDWR)     # as if the server had timed it out
        self.assertEqual(c.request("GET", "/v1/models")["n"], 2)
        self.assertEqual((c.connections_opened, slept), (2, []))


class Errors(Base):
    CASES = [
        (400, "invalid_request", creditd.InvalidRequest), (401, "unauthorized", creditd.Unauthorized),
        (402, "insufficient_credits", creditd.InsufficientCredits), (403, "forbidden", creditd.Forbidden),
        (403, "account_suspended", creditd.AccountSuspended), (404, "not_found", creditd.NotFound),
        (409, "conflict", creditd.Conflict), (409, "already_redeemed", creditd.AlreadyRedeemed),
        (409, "promo_exhausted", creditd.PromoExhausted), (409, "promo_expired", creditd.PromoExpired),
        (413, "payload_too_large", creditd.PayloadTooLarge),
        (429, "billing_hard_limit_reached", creditd.BillingHardLimitReached),
        (429, "daily_limit_reached", creditd.DailyLimitReached),
        (429, "member_cap_reached", creditd.MemberCapReached), (429, "rate_limit_exceeded", creditd.RateLimited),
        (502, "upstream_error", creditd.UpstreamError),
        (503, "stripe_not_configured", creditd.StripeNotConfigured), (500, "internal_error", creditd.ServerError),
        (599, "internal", creditd.ServerError), (302, "moved", creditd.CreditdError),
    ]

    def test_each_code_has_its_class(self) -> None:
        for status, code, cls in self.CASES:
            s = self.serve(lambda n, m, p: (status, {"Retry-After": "3"},
                                            error(status, code, available_micros=5, required_micros=9)))
            c, slept = self.client(s)
            with self.assertRaises(creditd.CreditdError) as cm:
                c.redeem("a", "CODE")
            e = cm.exception
            self.assertIs(type(e), cls, code)
            self.assertEqual((e.status, e.code, e.retry_after, e.available_micros, e.required_micros),
                             (status, code, 3, 5, 9))
            self.assertEqual((len(s.seen), slept), (1, []), "%s is not retried" % code)
        self.assertTrue(issubclass(creditd.MemberCapReached, creditd.LimitReached))
        self.assertFalse(issubclass(creditd.RateLimited, creditd.LimitReached))

    def test_a_body_that_is_not_json(self) -> None:
        s = self.serve(lambda n, m, p: (500, {}, b"<html>Internal Server Error</html>"))
        c, _ = self.client(s)
        with self.assertRaises(creditd.ServerError) as cm:
            c.models()
        self.assertEqual((cm.exception.body, cm.exception.code), (None, None))
        self.assertIn("Internal Server Error", cm.exception.message)

    def test_a_proxys_502_page_is_unavailable_not_stripes_upstream_error(self) -> None:
        s = self.serve(lambda n, m, p: (502, {}, b"<html>Bad Gateway</html>"))
        c, _ = self.client(s, max_retries=0)
        with self.assertRaises(creditd.Unavailable) as cm:
            c.models()
        self.assertEqual((cm.exception.status, cm.exception.body, cm.exception.code), (502, None, None))
        self.assertIn("Bad Gateway", cm.exception.message)

    def test_a_proxys_429_page_is_rate_limited_not_a_spending_limit(self) -> None:
        page = b"<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>"
        s = self.serve(lambda n, m, p: (429, {"Retry-After": "7"}, page))
        c, slept = self.client(s)
        with self.assertRaises(creditd.RateLimited) as cm:
            c.authorize("a", "r", model="m", input_tokens=1)
        e = cm.exception
        self.assertNotIsInstance(e, creditd.LimitReached)
        self.assertEqual((e.status, e.code, e.retry_after), (429, None, 7))
        self.assertEqual((len(s.seen), slept), (1, []), "a rate limit is not retried")
        s = self.serve(lambda n, m, p: (429, {}, b""))
        c, _ = self.client(s)
        with self.assertRaises(creditd.RateLimited) as cm:
            c.models()
        self.assertIsNone(cm.exception.retry_after)


class Retries(Base):
    def test_503_is_retried_with_the_same_key_and_body_honouring_retry_after(self) -> None:
        s = self.serve(lambda n, m, p: (503, {"Retry-After": "2"}, error(503, "unavailable")) if n < 3
                       else (200, {}, {"hold_id": "h", "charged_micros": 5}))
        c, slept = self.client(s)
        self.assertEqual(c.settle("h", 10, 5)["charged_micros"], 5)
        self.assertEqual(slept, [2.0, 2.0])
        keys = {x["headers"]["idempotency-key"] for x in s.seen}
        bodies = {x["body"] for x in s.seen}
        self.assertEqual((len(s.seen), len(keys), len(bodies)), (3, 1, 1), "one key, one body, three tries")

    def test_the_callers_key_is_kept(self) -> None:
        s = self.serve(lambda n, m, p: (503, {}, error(503, "unavailable")) if n == 1 else (200, {}, {}))
        c, slept = self.client(s, retry_delay_ms=100)
        c.grant("a", 5, "promo", idempotency_key="grant-7")
        self.assertEqual([x["headers"]["idempotency-key"] for x in s.seen], ["grant-7", "grant-7"])
        self.assertEqual(len(slept), 1)
        self.assertTrue(0.05 <= slept[0] <= 0.1, "backoff with jitter: %r" % slept)

    def test_retries_are_bounded(self) -> None:
        s = self.serve(lambda n, m, p: (503, {"Retry-After": "1"}, error(503, "unavailable")))
        c, slept = self.client(s, max_retries=3)
        with self.assertRaises(creditd.Unavailable) as cm:
            c.models()
        self.assertEqual((len(s.seen), slept, cm.exception.retry_after), (4, [1.0, 1.0, 1.0], 1))

    def test_a_long_retry_after_is_not_waited_for(self) -> None:
        s = self.serve(lambda n, m, p: (503, {"Retry-After": "60"}, error(503, "unavailable")))
        c, slept = self.client(s, max_retry_delay_ms=10_000)
        with self.assertRaises(creditd.Unavailable) as cm:
            c.models()
        self.assertEqual((len(s.seen), slept, cm.exception.retry_after), (1, [], 60))

    def test_a_503_without_a_code_is_unavailable_and_retried(self) -> None:
        s = self.serve(lambda n, m, p: (503, {}, b"<html>Service Unavailable</html>") if n == 1 else (200, {}, {}))
        c, slept = self.client(s)
        self.assertEqual(c.models(), {})
        self.assertEqual((len(s.seen), len(slept)), (2, 1))

    def test_unavailable_with_502_or_504_is_retried_like_a_503(self) -> None:
        # Apache's ErrorDocument (apache/errors/502.json) answers 502 and 504 with code unavailable.
        for status in (502, 504, 500):
            s = self.serve(lambda n, m, p: (status, {"Retry-After": "2"}, error(status, "unavailable")) if n < 3
                           else (200, {}, {"hold_id": "h", "charged_micros": 5}))
            c, slept = self.client(s)
            self.assertEqual(c.settle("h", 10, 5)["charged_micros"], 5, status)
            self.assertEqual(slept, [2.0, 2.0], status)
            self.assertEqual(len({x["headers"]["idempotency-key"] for x in s.seen}), 1, "one key")
            self.assertEqual(len(s.seen), 3)

    def test_a_proxys_502_or_504_page_is_unavailable_and_retried(self) -> None:
        for status in (502, 504):
            page = b"<html><body>%d</body></html>" % status
            s = self.serve(lambda n, m, p: (status, {}, page) if n < 3 else (200, {}, {"ok": True}))
            c, slept = self.client(s, retry_delay_ms=100)
            self.assertEqual(c.grant("a", 5, "promo"), {"ok": True})
            self.assertEqual(len(s.seen), 3, status)
            self.assertEqual(len({x["headers"]["idempotency-key"] for x in s.seen}), 1, "one key")
            self.assertTrue(0.05 <= slept[0] <= 0.1 and 0.1 <= slept[1] <= 0.2, "backoff: %r" % slept)
            s = self.serve(lambda n, m, p: (status, {"Retry-After": "1"}, page))
            c, slept = self.client(s, max_retries=3)
            with self.assertRaises(creditd.Unavailable) as cm:
                c.models()
            self.assertEqual((len(s.seen), slept, cm.exception.status), (4, [1.0, 1.0, 1.0], status))

    def test_upstream_error_and_other_5xx_codes_are_not_retried(self) -> None:
        for status, code, cls in ((502, "upstream_error", creditd.UpstreamError),
                                  (504, "internal_error", creditd.ServerError),
                                  (502, "no_such_code", creditd.UpstreamError),
                                  (503, "stripe_not_configured", creditd.StripeNotConfigured)):
            s = self.serve(lambda n, m, p: (status, {"Retry-After": "1"}, error(status, code)))
            c, slept = self.client(s)
            with self.assertRaises(cls):
                c.topup("a", 500)
            self.assertEqual((len(s.seen), slept), (1, []), "%d %s" % (status, code))

    def test_no_retries_when_asked(self) -> None:
        s = self.serve(lambda n, m, p: (503, {}, error(503, "unavailable")))
        c, _ = self.client(s, max_retries=0)
        with self.assertRaises(creditd.Unavailable):
            c.release("h")
        self.assertEqual(len(s.seen), 1)
        self.assertNotIn("idempotency-key", s.seen[0]["headers"], "no retries: no key of the client's own")

    def test_a_dropped_connection_is_retried_with_the_same_key(self) -> None:
        s = self.serve(lambda n, m, p: None if n == 1 else (200, {}, {"hold_id": "h", "amount_micros": 1}))
        c, slept = self.client(s)
        self.assertEqual(c.authorize("a", "r", model="m", input_tokens=1)["hold_id"], "h")
        self.assertEqual(len(s.seen), 2)
        self.assertEqual(s.seen[0]["headers"]["idempotency-key"], s.seen[1]["headers"]["idempotency-key"])
        self.assertEqual(s.seen[0]["body"], s.seen[1]["body"])
        self.assertEqual(len(slept), 1)

    def test_nobody_listening(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        c = Creditd("http://127.0.0.1:%d" % port, "k", timeout_ms=2000)
        slept: List[float] = []
        c._sleep = slept.append
        with self.assertRaises(creditd.ConnectionFailed) as cm:
            c.models()
        self.assertEqual((cm.exception.status, len(slept)), (None, 2))


class Requests(Base):
    def test_paths_queries_and_bodies(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"data": [{"id": n}] if n < 3 else [], "next_after": n,
                                                  "next_cursor": "txn_%d" % n if n < 2 else None}))
        c, _ = self.client(s)
        c.get_account("a/b c")
        c.record_usage("a", model="m", input_tokens=1, output_tokens=2, force=True)
        c.topup("a", 500, save_card=True)
        c.patch_account("a", monthly_limit_micros=creditd.CLEAR, plan=None, email="ops@example.com")
        c.usage("a", from_="2026-01-01", group_by="day")
        c.browser_token("a", member="bob")
        c.referral_code("a/b")
        c.create_account("n", referral_code="k3m9x2p7qa")
        self.assertEqual([x["path"] for x in s.seen][:1], ["/credits/v1/accounts/a%2Fb%20c"])
        self.assertEqual((s.seen[6]["method"], s.seen[6]["path"]), ("GET", "/credits/v1/accounts/a%2Fb/referral_code"))
        self.assertEqual(json.loads(s.seen[7]["body"]), {"id": "n", "kind": "user", "referral_code": "k3m9x2p7qa"})
        self.assertEqual(json.loads(s.seen[1]["body"]), {"account": "a", "model": "m", "input_tokens": 1,
                                                         "output_tokens": 2, "force": True})
        self.assertEqual(json.loads(s.seen[2]["body"]), {"amount_cents": 500, "save_card": True})
        self.assertEqual(json.loads(s.seen[3]["body"]), {"monthly_limit_micros": None, "email": "ops@example.com"})
        self.assertEqual(s.seen[4]["path"], "/credits/v1/accounts/a/usage?from=2026-01-01&group_by=day")
        self.assertEqual(json.loads(s.seen[5]["body"]), {"member": "bob"})

    def test_settle_and_record_usage_send_cache_writes(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {}))
        c, _ = self.client(s)
        c.settle("hold_1_1", 100, 5, cached_input_tokens=20, cache_write_input_tokens=40)
        c.record_usage("a", model="m", input_tokens=100, output_tokens=5, cache_write_input_tokens=40)
        c.settle("hold_1_2", 100, 5)
        self.assertEqual(json.loads(s.seen[0]["body"]), {"hold_id": "hold_1_1", "input_tokens": 100,
                                                         "output_tokens": 5, "cached_input_tokens": 20,
                                                         "cache_write_input_tokens": 40})
        self.assertEqual(json.loads(s.seen[1]["body"]), {"account": "a", "model": "m", "input_tokens": 100,
                                                         "output_tokens": 5, "cache_write_input_tokens": 40})
        self.assertEqual(json.loads(s.seen[2]["body"]), {"hold_id": "hold_1_2", "input_tokens": 100,
                                                         "output_tokens": 5})

    def test_event_and_transaction_iterators_follow_their_cursors(self) -> None:
        pages = {1: {"data": [{"id": 4}, {"id": 5}], "next_after": 5}, 2: {"data": [{"id": 6}], "next_after": 6},
                 3: {"data": [], "next_after": 6}}
        s = self.serve(lambda n, m, p: (200, {}, pages[n]))
        c, _ = self.client(s)
        self.assertEqual([e["id"] for e in c.iter_events(after=3, page_size=2)], [4, 5, 6])
        self.assertEqual([x["path"] for x in s.seen], ["/credits/v1/events?after=3&limit=2",
                                                       "/credits/v1/events?after=5&limit=2",
                                                       "/credits/v1/events?after=6&limit=2"])
        tpages = {1: {"data": [{"id": "txn_9"}], "next_cursor": "txn_9"}, 2: {"data": [{"id": "txn_8"}],
                                                                            "next_cursor": None}}
        t = self.serve(lambda n, m, p: (200, {}, tpages[n]))
        c2, _ = self.client(t)
        self.assertEqual([e["id"] for e in c2.iter_transactions("a", page_size=1)], ["txn_9", "txn_8"])
        self.assertEqual(t.seen[1]["path"], "/credits/v1/accounts/a/transactions?limit=1&cursor=txn_9")


class HeaderValues(Base):
    """A header value goes on the wire only as printable ASCII: a CR or LF in
    a key would end the header and smuggle a request of its own."""

    BAD_KEYS = ["k\r\nX-Injected: 1", "k\nX-Injected: 1", "k\r", "k\x00", "k\x7f", "k\tk", "k\u00e9", "",
                "k" * 256]

    def test_a_bad_idempotency_key_is_refused_before_anything_is_sent(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {"n": n}))
        c, slept = self.client(s)
        for key in self.BAD_KEYS:
            with self.assertRaises(ValueError, msg=repr(key)) as cm:
                c.grant("a", 5, "promo", idempotency_key=key)
            self.assertIn("Idempotency-Key", str(cm.exception))
        self.assertEqual((s.seen, slept), ([], []), "nothing sent, nothing retried")
        self.assertEqual(c.request("POST", "/v1/x", {}, idempotency_key="k" * 255)["n"], 1, "255 printable bytes do")
        self.assertEqual(c.connections_opened, 1)

    def test_a_bad_api_key_or_user_agent_is_refused_when_the_client_is_made(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {}))
        for kw in ({"api_key": "sk\r\nX-Injected: 1"}, {"api_key": "sk\x00"},
                   {"user_agent": "app/1\r\nX-Injected: 1"}, {"user_agent": "app\x1b[1m"}):
            with self.assertRaises(ValueError, msg=repr(kw)):
                Creditd(s.url, **dict({"api_key": "sk"}, **kw))     # type: ignore[arg-type]
        c, _ = self.client(s)
        c.api_key = "sk\r\nX-Injected: 1"
        with self.assertRaises(ValueError):
            c.models()
        self.assertEqual(s.seen, [])

    def test_a_path_with_control_characters_or_spaces_is_refused(self) -> None:
        s = self.serve(lambda n, m, p: (200, {}, {}))
        c, slept = self.client(s)
        for path in ("/v1/models HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /x", "/v1/a\nb", "/v1/a b"):
            with self.assertRaises(ValueError):
                c.request("GET", path)
        self.assertEqual((s.seen, slept), ([], []))


IN_PROGRESS = error(409, "conflict", param="idempotency_key",
                    message="a top-up with this Idempotency-Key is in progress")
KEY_REUSED = error(409, "conflict", param="idempotency_key",
                   message="this Idempotency-Key was used with another request")


class TopupInProgress(Base):
    """A top-up retried after a timeout while creditd still calls Stripe for
    the first try gets 409 "in progress": waited out and sent again, the
    same key, until the answer (the first try's session) comes."""

    def test_an_in_progress_409_is_retried_with_the_same_key_apart_from_max_retries(self) -> None:
        s = self.serve(lambda n, m, p: (409, {}, IN_PROGRESS) if n <= 3
                       else (200, {}, {"checkout_url": "https://stripe.test/c", "session_id": "cs_1"}))
        c, slept = self.client(s, max_retries=1, retry_delay_ms=100)
        self.assertEqual(c.topup("a", 2000, idempotency_key="topup-7")["session_id"], "cs_1")
        self.assertEqual([x["headers"]["idempotency-key"] for x in s.seen], ["topup-7"] * 4)
        self.assertEqual(len({x["body"] for x in s.seen}), 1)
        self.assertEqual(len(slept), 3)
        self.assertTrue(0.05 <= slept[0] <= 0.1 and 0.1 <= slept[1] <= 0.2 and 0.2 <= slept[2] <= 0.4, slept)

    def test_waits_add_up_to_max_retry_delay_ms_at_most_then_conflict(self) -> None:
        s = self.serve(lambda n, m, p: (409, {}, IN_PROGRESS))
        c, slept = self.client(s, retry_delay_ms=1000, max_retry_delay_ms=3000)
        with self.assertRaises(creditd.Conflict) as cm:
            c.topup("a", 2000)
        self.assertEqual((cm.exception.param, type(cm.exception)), ("idempotency_key", creditd.Conflict))
        self.assertLessEqual(sum(slept), 3.0)
        self.assertEqual(len(s.seen), len(slept) + 1)
        self.assertGreaterEqual(len(slept), 2)

    def test_a_key_used_with_another_request_or_retries_off_is_not_retried(self) -> None:
        s = self.serve(lambda n, m, p: (409, {}, KEY_REUSED))
        c, slept = self.client(s)
        with self.assertRaises(creditd.Conflict):
            c.topup("a", 2000, idempotency_key="k")
        self.assertEqual((len(s.seen), slept), (1, []))
        t = self.serve(lambda n, m, p: (409, {}, IN_PROGRESS))
        c2, slept2 = self.client(t, max_retries=0)
        with self.assertRaises(creditd.Conflict):
            c2.topup("a", 2000, idempotency_key="k")
        self.assertEqual((len(t.seen), slept2), (1, []))



class Hardening(Base):
    def test_an_answer_over_16_mib_is_no_answer(self) -> None:
        big = b"x" * (16 * 1024 * 1024 + 1)
        cases: List[Dict[str, str]] = [{}, {"Transfer-Encoding": "chunked"}]
        for headers in cases:
            s = self.serve(lambda n, m, p: (200, headers, big))
            c, _ = self.client(s, max_retries=0)
            with self.assertRaises(creditd.ConnectionFailed) as cm:
                c.models()
            self.assertIn("16777216", str(cm.exception), headers)
            s2 = self.serve(lambda n, m, p: (200, headers, b'{"n": 1}'))
            c2, _ = self.client(s2)
            self.assertEqual(c2.models(), {"n": 1})

    def test_retry_after_is_seconds_from_the_header_else_the_body(self) -> None:
        cases: List[Tuple[Dict[str, str], Dict[str, Any], Optional[int]]] = [
                 ({"Retry-After": "3"}, {}, 3), ({}, {"retry_after_seconds": 4}, 4),
                 ({"Retry-After": "5"}, {"retry_after_seconds": 9}, 5),
                 ({"Retry-After": "Wed, 21 Oct 2037 07:28:00 GMT"}, {"retry_after_seconds": 6}, 6),
                 ({"Retry-After": "Wed, 21 Oct 2037 07:28:00 GMT"}, {}, None), ({"Retry-After": "2.5"}, {}, None),
                 ({"Retry-After": "+2"}, {}, None), ({"Retry-After": "-1"}, {}, None),
                 ({}, {"retry_after_seconds": -1}, None), ({}, {"retry_after_seconds": "7"}, None)]
        for headers, extra, want in cases:
            s = self.serve(lambda n, m, p: (429, headers, error(429, "rate_limit_exceeded", **extra)))
            c, _ = self.client(s)
            with self.assertRaises(creditd.RateLimited) as cm:
                c.models()
            self.assertEqual(cm.exception.retry_after, want, (headers, extra))
        s = self.serve(lambda n, m, p: (503, {}, error(503, "unavailable", retry_after_seconds=2)) if n == 1
                       else (200, {}, {}))
        c, slept = self.client(s)
        c.models()
        self.assertEqual(slept, [2.0], "the body's retry_after_seconds is waited for")


if __name__ == "__main__":
    unittest.main()
