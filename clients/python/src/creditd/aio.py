"""The asyncio client: the same calls as creditd.Creditd, awaited.

    from creditd.aio import AsyncCreditd

    async with AsyncCreditd("https://billing.example.com/credits", GUARD_KEY) as credits:
        async with credits.guard(user_id, chat_id, "gpt-4o", prompt_tokens, max_output_tokens=800) as hold:
            stream = await openai.chat.completions.create(..., max_tokens=hold.max_output_tokens, stream=True,
                                                          stream_options={"include_usage": True})
            async for chunk in hold.openai_stream(stream):
                await send_to_browser(chunk)

It speaks HTTP/1.1 itself over asyncio streams (_aio_http), standard library
only: no thread, no executor. The options, errors, retries and answers are
the sync client's (_transport, _calls): only the waiting differs.
"""
import asyncio
import ssl
from typing import (Any, AsyncIterator, Awaitable, Callable, List, Mapping, Optional, Sequence, Tuple, TypeVar,
                    Union, cast)

from . import _calls
from ._aio_http import Answer, Connection, ProtocolError, StaleConnection, open_connection
from ._calls import Call, Clear
from ._transport import (DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_DELAY_MS, DEFAULT_RETRY_DELAY_MS, DEFAULT_TIMEOUT_MS,
                         WRITES, Prepared, Retries, decode, endpoint, header_value, make_options,
                         prepare)
from .answers import (Account, Alerts, BrowserToken, Checkout, Event, EventPage, GrantResult, Health, Hold,
                      JSONObject, Member, MemberDeleted, Models, Plan, PlanList, PromoCode, Redemption, ReferralCode,
                      Release, Settlement, Transaction, TransactionPage, TransactionResult, UsageCharge, UsageReport)
from .errors import ConnectionFailed, CreditdError
from .guard import AsyncGuard

__all__ = ["AsyncCreditd", "AsyncGuard"]

T = TypeVar("T")

MAX_IDLE_CONNECTIONS = 8
"""Kept-alive connections kept open between calls; more are closed after their answer."""

# What a try that got no whole answer raises below this module's own errors.
# Not ValueError: a request refused before it is sent (a header value) is
# the caller's to fix, never a lost answer to retry.
_NO_ANSWER = (OSError, ProtocolError, asyncio.IncompleteReadError, asyncio.TimeoutError)


class AsyncCreditd:
    """One API key against one creditd, for asyncio code.

    The arguments, options (timeout_ms, max_retries, retry_delay_ms,
    max_retry_delay_ms, user_agent, ssl_context, and the deprecated timeout,
    backoff, max_retry_wait in seconds), methods, answers, errors and retries
    are those of creditd.Creditd; every method is a coroutine, and
    iter_transactions / iter_events are async iterators. timeout_ms bounds a
    whole try here: connecting (a stale kept-alive connection and the new one
    replacing it included), sending and reading the whole answer; closing a
    connection is not waited for.

    Calls made at once (asyncio.gather) each take a kept-alive connection of
    their own: an idle one when there is one, else a new one
    (connections_opened counts them); at most MAX_IDLE_CONNECTIONS stay open
    between calls. close() (or `async with`) closes them; a later call opens
    a new one. One client belongs to one event loop.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout_ms: Optional[int] = DEFAULT_TIMEOUT_MS,
                 max_retries: Optional[int] = DEFAULT_MAX_RETRIES,
                 retry_delay_ms: Optional[int] = DEFAULT_RETRY_DELAY_MS,
                 max_retry_delay_ms: Optional[int] = DEFAULT_MAX_RETRY_DELAY_MS, user_agent: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None, timeout: Optional[float] = None,
                 backoff: Optional[float] = None, max_retry_wait: Optional[float] = None) -> None:
        self._where = endpoint(base_url)
        self._opts = make_options(timeout_ms, max_retries, retry_delay_ms, max_retry_delay_ms, user_agent,
                                  timeout, backoff, max_retry_wait)
        self.base_url = self._where.base_url
        self.api_key = header_value("the API key", api_key)
        self.timeout_ms, self.max_retries, self.retry_delay_ms, self.max_retry_delay_ms, self.user_agent = self._opts
        self.connections_opened = 0
        self._ssl_context = ssl_context
        self._idle: List[Connection] = []
        self._generation = 0
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __repr__(self) -> str:
        return "AsyncCreditd(%r)" % self.base_url

    async def __aenter__(self) -> "AsyncCreditd":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the kept-alive connections (a later call opens a new one)."""
        self._generation += 1
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    # -- transport --

    def _idle_connection(self) -> Optional[Connection]:
        """The most recently used idle connection fit to reuse; the unfit are aborted."""
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable():
                return conn
            conn.abort()
        return None

    async def _exchange(self, call: Prepared, fresh: bool) -> Answer:
        conn = None if fresh else self._idle_connection()
        if conn is None:
            conn = await open_connection(self._where, self._ssl_context)
            self.connections_opened += 1
        generation = self._generation
        try:
            answer = await conn.exchange(call)
        except BaseException:
            conn.abort()
            raise
        if answer.will_close or generation != self._generation or len(self._idle) >= MAX_IDLE_CONNECTIONS:
            conn.close_soon()       # not awaited: the try's time is for the answer
        else:
            self._idle.append(conn)
        return answer

    async def _attempt(self, call: Prepared) -> Answer:
        """One try's exchange. A kept-alive connection the server closed while
        idle fails at once on reuse: one more go on a new connection, within
        the same try (a write carries its Idempotency-Key)."""
        try:
            return await self._exchange(call, fresh=False)
        except StaleConnection:
            if call.method in WRITES and call.idempotency_key is None:
                raise ConnectionFailed("the connection was closed by creditd") from None
            return await self._exchange(call, fresh=True)

    async def _try(self, call: Prepared) -> Any:
        """One try, timeout_ms for all of it (connecting, a stale connection
        and its new one, sending, reading the whole answer): the decoded
        answer, or raises its error."""
        try:
            answer = await asyncio.wait_for(self._attempt(call), self._opts.timeout_ms / 1000.0)
        except asyncio.TimeoutError as e:
            raise ConnectionFailed("timed out after %d ms" % self._opts.timeout_ms) from e
        except _NO_ANSWER + (StaleConnection,) as e:
            raise ConnectionFailed(e) from e
        return decode(answer.status, answer.body, answer.headers)

    async def request(self, method: str, path: str, body: Optional[JSONObject] = None,
                      query: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None,
                      auth: bool = True) -> Any:
        """One API call, as Creditd.request."""
        call = prepare(self._where, self.api_key, self._opts, method, path, body, query, idempotency_key, auth)
        retries = Retries(self._opts)
        while True:
            try:
                return await self._try(call)
            except CreditdError as e:
                delay = retries.delay_s(e)
                if delay is None:
                    raise
                if delay > 0:
                    await self._sleep(delay)

    async def _run(self, call: "Call[T]") -> T:
        return cast(T, await self.request(call.method, call.path, call.body, call.query, call.idempotency_key,
                                          call.auth))

    # -- service --

    async def healthz(self) -> Health:
        """As Creditd.healthz."""
        return await self._run(_calls.healthz())

    async def models(self) -> Models:
        """As Creditd.models."""
        return await self._run(_calls.models())

    async def plans(self) -> PlanList:
        """As Creditd.plans."""
        return await self._run(_calls.plans())

    async def put_plan(self, name: str, credits_micros: int, rollover: str = "none",
                       idempotency_key: Optional[str] = None, **fields: Any) -> Plan:
        """As Creditd.put_plan."""
        return await self._run(_calls.put_plan(name, credits_micros, rollover, idempotency_key, fields))

    async def create_promo_code(self, code: str, amount_micros: int, idempotency_key: Optional[str] = None,
                                **fields: Any) -> PromoCode:
        """As Creditd.create_promo_code."""
        return await self._run(_calls.create_promo_code(code, amount_micros, idempotency_key, fields))

    # -- accounts --

    async def create_account(self, id: str, kind: str = "user", idempotency_key: Optional[str] = None,
                             **fields: Any) -> Account:
        """As Creditd.create_account."""
        return await self._run(_calls.create_account(id, kind, idempotency_key, fields))

    async def get_account(self, id: str) -> Account:
        """As Creditd.get_account."""
        return await self._run(_calls.get_account(id))

    account = get_account

    async def patch_account(self, id: str, idempotency_key: Optional[str] = None, **fields: Any) -> Account:
        """As Creditd.patch_account."""
        return await self._run(_calls.patch_account(id, idempotency_key, fields))

    async def transactions(self, id: str, limit: Optional[int] = None,
                           cursor: Optional[str] = None) -> TransactionPage:
        """As Creditd.transactions."""
        return await self._run(_calls.transactions(id, limit, cursor))

    async def iter_transactions(self, id: str, page_size: Optional[int] = None) -> AsyncIterator[Transaction]:
        """As Creditd.iter_transactions, for `async for`."""
        cursor = None
        while True:
            page = await self.transactions(id, limit=page_size, cursor=cursor)
            for entry in page.get("data") or []:
                yield entry
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def usage(self, id: str, from_: Optional[str] = None, to: Optional[str] = None,
                    group_by: Optional[str] = None) -> UsageReport:
        """As Creditd.usage."""
        return await self._run(_calls.usage(id, from_, to, group_by))

    usage_report = usage

    async def grant(self, id: str, amount_micros: int, source: str, idempotency_key: Optional[str] = None,
                    **fields: Any) -> GrantResult:
        """As Creditd.grant."""
        return await self._run(_calls.grant(id, amount_micros, source, idempotency_key, fields))

    async def debit(self, id: str, amount_micros: int, reason: str,
                    idempotency_key: Optional[str] = None) -> TransactionResult:
        """As Creditd.debit."""
        return await self._run(_calls.debit(id, amount_micros, reason, idempotency_key))

    async def add_member(self, id: str, member: str, monthly_cap_micros: Union[int, Clear, None] = None,
                         idempotency_key: Optional[str] = None) -> Member:
        """As Creditd.add_member."""
        return await self._run(_calls.add_member(id, member, monthly_cap_micros, idempotency_key))

    async def remove_member(self, id: str, member: str, idempotency_key: Optional[str] = None) -> MemberDeleted:
        """As Creditd.remove_member."""
        return await self._run(_calls.remove_member(id, member, idempotency_key))

    async def topup(self, id: str, amount_cents: int, success_url: Optional[str] = None,
                    cancel_url: Optional[str] = None, idempotency_key: Optional[str] = None,
                    save_card: Optional[bool] = None) -> Checkout:
        """As Creditd.topup."""
        return await self._run(_calls.topup(id, amount_cents, success_url, cancel_url, idempotency_key, save_card))

    async def redeem(self, id: str, code: str, idempotency_key: Optional[str] = None) -> Redemption:
        """As Creditd.redeem."""
        return await self._run(_calls.redeem(id, code, idempotency_key))

    async def set_alerts(self, id: str, alerts: Sequence[Mapping[str, Any]]) -> Alerts:
        """As Creditd.set_alerts."""
        return await self._run(_calls.set_alerts(id, alerts))

    async def get_alerts(self, id: str) -> Alerts:
        """As Creditd.get_alerts."""
        return await self._run(_calls.get_alerts(id))

    async def referral_code(self, id: str) -> ReferralCode:
        """As Creditd.referral_code."""
        return await self._run(_calls.referral_code(id))

    async def browser_token(self, id: str, ttl_seconds: Optional[int] = None,
                            member: Optional[str] = None) -> BrowserToken:
        """As Creditd.browser_token."""
        return await self._run(_calls.browser_token(id, ttl_seconds, member))

    # -- events --

    async def events(self, after: Optional[int] = None, limit: Optional[int] = None) -> EventPage:
        """As Creditd.events."""
        return await self._run(_calls.events(after, limit))

    async def iter_events(self, after: int = 0, page_size: Optional[int] = None) -> AsyncIterator[Event]:
        """As Creditd.iter_events, for `async for`."""
        while True:
            page = await self.events(after=after, limit=page_size)
            data: List[Event] = page.get("data") or []
            for ev in data:
                yield ev
            if not data:
                return
            after = int(page.get("next_after") or data[-1]["id"])

    # -- chat guard --

    async def authorize(self, account: str, request_id: str, model: Optional[str] = None,
                        input_tokens: Optional[int] = None, max_output_tokens: Optional[int] = None,
                        action: Optional[str] = None, member: Optional[str] = None,
                        ttl_seconds: Optional[int] = None, byok: Optional[bool] = None,
                        conversation_id: Optional[str] = None, idempotency_key: Optional[str] = None,
                        min_output_tokens: Optional[int] = None) -> Hold:
        """As Creditd.authorize."""
        return await self._run(_calls.authorize(idempotency_key, dict(
            account=account, member=member, model=model, action=action, input_tokens=input_tokens,
            max_output_tokens=max_output_tokens, min_output_tokens=min_output_tokens, request_id=request_id,
            ttl_seconds=ttl_seconds, byok=byok, conversation_id=conversation_id)))

    async def settle(self, hold_id: str, input_tokens: int, output_tokens: int,
                     cached_input_tokens: Optional[int] = None, model: Optional[str] = None,
                     conversation_id: Optional[str] = None, idempotency_key: Optional[str] = None,
                     cache_write_input_tokens: Optional[int] = None) -> Settlement:
        """As Creditd.settle."""
        return await self._run(_calls.settle(hold_id, input_tokens, output_tokens, idempotency_key, dict(
            cached_input_tokens=cached_input_tokens, cache_write_input_tokens=cache_write_input_tokens, model=model,
            conversation_id=conversation_id)))

    async def release(self, hold_id: str, idempotency_key: Optional[str] = None) -> Release:
        """As Creditd.release."""
        return await self._run(_calls.release(hold_id, idempotency_key))

    async def record_usage(self, account: str, model: Optional[str] = None, input_tokens: Optional[int] = None,
                           output_tokens: Optional[int] = None, cached_input_tokens: Optional[int] = None,
                           action: Optional[str] = None, member: Optional[str] = None,
                           request_id: Optional[str] = None, conversation_id: Optional[str] = None,
                           byok: Optional[bool] = None, idempotency_key: Optional[str] = None,
                           force: Optional[bool] = None,
                           cache_write_input_tokens: Optional[int] = None) -> UsageCharge:
        """As Creditd.record_usage."""
        return await self._run(_calls.record_usage(idempotency_key, dict(
            account=account, member=member, model=model, action=action, input_tokens=input_tokens,
            output_tokens=output_tokens, cached_input_tokens=cached_input_tokens,
            cache_write_input_tokens=cache_write_input_tokens, request_id=request_id,
            conversation_id=conversation_id, byok=byok, force=force)))

    def guard(self, account: str, request_id: str, model: str, input_tokens: int,
              max_output_tokens: Optional[int] = None, **authorize_fields: Any) -> AsyncGuard:
        """`async with client.guard(...) as hold:`: the asyncio Guard (creditd.guard's)."""
        return AsyncGuard(self, account, request_id, model, input_tokens, max_output_tokens, **authorize_fields)
