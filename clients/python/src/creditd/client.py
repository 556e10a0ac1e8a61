"""The HTTP client: one API key against one creditd, over one kept-alive connection."""
import http.client
import select
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union, cast

from . import _calls
from ._calls import CLEAR, Call, Clear
from ._transport import (DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_DELAY_MS, DEFAULT_RETRY_DELAY_MS, DEFAULT_TIMEOUT_MS,
                         MAX_ANSWER_BYTES, WRITES, Prepared, Retries, decode, endpoint, header_value, make_options,
                         prepare)
from ._version import VERSION
from .answers import (Account, Alerts, BrowserToken, Checkout, Event, EventPage, GrantResult, Health, Hold,
                      JSONObject, Member, MemberDeleted, Models, Plan, PlanList, PromoCode, Redemption, ReferralCode,
                      Release, Settlement, Transaction, TransactionPage, TransactionResult, UsageCharge, UsageReport)
from .errors import ConnectionFailed, CreditdError
from .guard import Guard

__all__ = ["Creditd", "CLEAR", "JSONObject", "VERSION"]

T = TypeVar("T")

# What a kept-alive connection closed by the server while idle raises on reuse.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _SendFailed(Exception):
    """No whole answer came: error, and whether the connection was a reused one."""

    def __init__(self, error: BaseException, reused: bool) -> None:
        super().__init__(error)
        self.error = error
        self.reused = reused


class AnswerTooLarge(http.client.HTTPException):
    """An answer over MAX_ANSWER_BYTES: no usable answer."""


def _read_capped(resp: http.client.HTTPResponse) -> bytes:
    """The answer's body, at most MAX_ANSWER_BYTES (16 MiB): a broken or
    hostile peer must not make the client hold unbounded memory."""
    if resp.length is not None and resp.length > MAX_ANSWER_BYTES:
        raise AnswerTooLarge("an answer over %d bytes" % MAX_ANSWER_BYTES)
    raw = resp.read(MAX_ANSWER_BYTES + 1)
    # A body read to its end leaves resp closed; one that is not has more to come.
    if len(raw) > MAX_ANSWER_BYTES or (not resp.isclosed() and resp.read(1)):
        raise AnswerTooLarge("an answer over %d bytes" % MAX_ANSWER_BYTES)
    return raw


def _reason(e: BaseException) -> object:
    return "timed out" if isinstance(e, socket.timeout) else e


class Creditd:
    """One API key against one creditd.

    base_url: where creditd is mounted, e.g. "https://billing.example.com/credits".
    api_key: a guard, read, app or admin key (an admin key may call every route).
    The options (keywords; the same names, units and defaults in the PHP and
    Node clients, clients/vocabulary.json):
    timeout_ms: milliseconds one try may wait for creditd, to connect and
      for each read of the answer (default 10000).
    max_retries: how many times a call is sent again after an Unavailable
      (503 `unavailable`, `gateway_busy`, or without a code this client
      knows; `unavailable` with any 5xx; a 502 or 504 without creditd's
      JSON error, a web server's) or a network error (default 2; 0: never). A write is sent again with
      the same Idempotency-Key and the same bytes, so creditd applies it
      once: when no idempotency_key is given, the client makes one per call
      (none when max_retries is 0). A top-up "in progress" (409) is waited
      out within max_retry_delay_ms, apart from max_retries
      (_transport.Retries).
    retry_delay_ms: the first wait between tries when creditd names no
      Retry-After, doubled each try, with jitter (default 250).
    max_retry_delay_ms: a wait longer than this (Retry-After or backoff) is
      not made: the error is raised at once, its retry_after telling when
      (default 10000).
    user_agent: the User-Agent header (default "creditd-client-python/VERSION").
      It, the API key and every idempotency_key (1 to 255 characters) must
      be printable ASCII: a CR, LF or other control character would smuggle
      a header or a request of its own, so it is a ValueError, raised before
      anything is sent and never retried.
    ssl_context: for https URLs (default: ssl.create_default_context()).
    timeout, backoff, max_retry_wait: the former names, in seconds; still
      taken, with a DeprecationWarning.
    A number option is a whole number (an int, or a whole float) within its
    range (timeout_ms 1 to 3600000, max_retries 0 to 100, the other two 0 to
    3600000), else TypeError or ValueError; None takes its default.

    The client keeps one HTTP/1.1 connection open and reuses it for every
    call (connections_opened counts the connections it made). It is
    thread-safe: calls from several threads take turns on that connection.
    For calls in parallel, give each thread a client of its own, or use
    creditd.aio.AsyncCreditd. close() (or a with block) closes the
    connection; the next call opens a new one. No environment proxy is used:
    server-to-server calls go straight to creditd.

    Every method returns the decoded JSON answer, typed (creditd.answers).
    An error answer raises CreditdError or one of its subclasses; no answer
    raises ConnectionFailed. Amounts are integer micros (1 EUR = 1,000,000).
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
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return "Creditd(%r)" % self.base_url

    def __enter__(self) -> "Creditd":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the kept-alive connection (a later call opens a new one)."""
        with self._lock:
            self._drop()

    # -- transport --

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            w, seconds = self._where, self._opts.timeout_ms / 1000.0
            if w.https:
                self._conn = http.client.HTTPSConnection(w.host, w.port, timeout=seconds,
                                                         context=self._ssl_context or ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(w.host, w.port, timeout=seconds)
        return self._conn

    def _drop_if_unfit(self) -> None:
        """Drops the idle connection when a byte is waiting on it, or its end:
        bytes nobody asked for would be read as the next request's answer,
        and a connection the server closed would fail the next try."""
        sock = self._conn.sock if self._conn is not None else None
        if sock is None:
            return
        try:
            waiting = select.select([sock], [], [], 0)[0] or (isinstance(sock, ssl.SSLSocket) and sock.pending() > 0)
        except (OSError, ValueError):
            waiting = True
        if waiting:
            self._drop()

    def _send_once(self, call: Prepared) -> Tuple[int, bytes, Dict[str, str]]:
        """One exchange on the kept-alive connection: (status, body, headers).
        Raises _SendFailed when no whole answer came."""
        self._drop_if_unfit()
        conn = self._connection()
        reused = conn.sock is not None
        if not reused:
            self.connections_opened += 1
        try:
            conn.request(call.method, call.target, body=call.data, headers=dict(call.headers))
            resp = conn.getresponse()
            raw = _read_capped(resp)
        except (OSError, http.client.HTTPException) as e:
            self._drop()
            raise _SendFailed(e, reused) from e
        except BaseException:
            self._drop()
            raise
        if resp.will_close:
            self._drop()
        return resp.status, raw, {k.lower(): v for k, v in resp.getheaders()}

    def _try(self, call: Prepared, stale_retried: bool) -> Tuple[Any, bool]:
        """One try: the decoded answer, or raises its error; (None, True) when
        a kept-alive connection the server closed while idle failed at once
        on reuse: one more go on a new connection costs no try and no wait
        (a write carries its Idempotency-Key)."""
        try:
            with self._lock:
                status, raw, headers = self._send_once(call)
        except _SendFailed as failed:
            e = failed.error
            if failed.reused and not stale_retried and isinstance(e, _STALE) \
                    and (call.method not in WRITES or call.idempotency_key is not None):
                return None, True
            raise ConnectionFailed(_reason(e)) from e
        return decode(status, raw, headers), False

    def request(self, method: str, path: str, body: Optional[JSONObject] = None,
                query: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None,
                auth: bool = True) -> Any:
        """One API call; returns the decoded JSON answer or raises CreditdError.

        path: below base_url, e.g. "/v1/models"; query: None values dropped.
        A write (POST, PUT, PATCH, DELETE) carries idempotency_key, or one
        made for this call, so that its retries are applied once."""
        call = prepare(self._where, self.api_key, self._opts, method, path, body, query, idempotency_key, auth)
        retries = Retries(self._opts)
        stale_retried = False
        while True:
            try:
                answer, stale = self._try(call, stale_retried)
            except CreditdError as e:
                delay = retries.delay_s(e)
                if delay is None:
                    raise
                if delay > 0:
                    self._sleep(delay)
                continue
            if not stale:
                return answer
            stale_retried = True

    def _run(self, call: "Call[T]") -> T:
        return cast(T, self.request(call.method, call.path, call.body, call.query, call.idempotency_key, call.auth))

    # -- service --

    def healthz(self) -> Health:
        """GET /healthz (no key): {"status": "ok"}; Unavailable while the database is down."""
        return self._run(_calls.healthz())

    def models(self) -> Models:
        """GET /v1/models (read): margin_bps, currency, data[] (model prices), actions[]."""
        return self._run(_calls.models())

    def plans(self) -> PlanList:
        """GET /v1/plans (read): {"data": [{"name", "credits_micros", "rollover", ...}]}."""
        return self._run(_calls.plans())

    def put_plan(self, name: str, credits_micros: int, rollover: str = "none",
                 idempotency_key: Optional[str] = None, **fields: Any) -> Plan:
        """PUT /v1/plans/{name} (admin): creates or replaces a plan. fields:
        rollover_cap_micros, member_cap_micros, stripe_price_ids."""
        return self._run(_calls.put_plan(name, credits_micros, rollover, idempotency_key, fields))

    def create_promo_code(self, code: str, amount_micros: int, idempotency_key: Optional[str] = None,
                          **fields: Any) -> PromoCode:
        """POST /v1/promo_codes (admin). fields: max_redemptions, expires_at, grant_ttl_days."""
        return self._run(_calls.create_promo_code(code, amount_micros, idempotency_key, fields))

    # -- accounts --

    def create_account(self, id: str, kind: str = "user", idempotency_key: Optional[str] = None,
                       **fields: Any) -> Account:
        """POST /v1/accounts (admin). fields: overdraft_limit_micros, monthly_limit_micros,
        daily_limit_micros, low_balance_micros, plan, requests_per_minute, tokens_per_minute,
        email (where the account's alerts are mailed), referral_code (another account's: the new
        account is referred by it; unknown: InvalidRequest, nothing created). The same body again
        answers the account (200)."""
        return self._run(_calls.create_account(id, kind, idempotency_key, fields))

    def get_account(self, id: str) -> Account:
        """GET /v1/accounts/{id} (read): balance, reserved, available, limits, plan, grants[]."""
        return self._run(_calls.get_account(id))

    account = get_account

    def patch_account(self, id: str, idempotency_key: Optional[str] = None, **fields: Any) -> Account:
        """PATCH /v1/accounts/{id} (admin): status, limits, plan, auto_recharge, email.
        Pass CLEAR to remove a limit, the plan, auto_recharge or the email."""
        return self._run(_calls.patch_account(id, idempotency_key, fields))

    def transactions(self, id: str, limit: Optional[int] = None, cursor: Optional[str] = None) -> TransactionPage:
        """GET /v1/accounts/{id}/transactions (read): one page of the journal, newest first:
        {"data": [...], "next_cursor", "has_more"}."""
        return self._run(_calls.transactions(id, limit, cursor))

    def iter_transactions(self, id: str, page_size: Optional[int] = None) -> Iterator[Transaction]:
        """Every journal entry, newest first, following next_cursor page by page."""
        cursor = None
        while True:
            page = self.transactions(id, limit=page_size, cursor=cursor)
            for entry in page.get("data") or []:
                yield entry
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def usage(self, id: str, from_: Optional[str] = None, to: Optional[str] = None,
              group_by: Optional[str] = None) -> UsageReport:
        """GET /v1/accounts/{id}/usage (read): the usage report, requests, tokens and cost
        in [from, to) (RFC 3339 or YYYY-MM-DD); group_by: "model", "day" or "member"."""
        return self._run(_calls.usage(id, from_, to, group_by))

    usage_report = usage

    def grant(self, id: str, amount_micros: int, source: str, idempotency_key: Optional[str] = None,
              **fields: Any) -> GrantResult:
        """POST /v1/accounts/{id}/grants (admin). source: promo|adjustment|signup_bonus;
        fields: expires_at, priority, description."""
        return self._run(_calls.grant(id, amount_micros, source, idempotency_key, fields))

    def debit(self, id: str, amount_micros: int, reason: str,
              idempotency_key: Optional[str] = None) -> TransactionResult:
        """POST /v1/accounts/{id}/debits (admin): a negative adjustment, at most the available balance."""
        return self._run(_calls.debit(id, amount_micros, reason, idempotency_key))

    def add_member(self, id: str, member: str, monthly_cap_micros: Union[int, Clear, None] = None,
                   idempotency_key: Optional[str] = None) -> Member:
        """POST /v1/accounts/{id}/members (admin): adds or updates a workspace member.
        Without monthly_cap_micros a new member has no cap and an existing one keeps
        its own; monthly_cap_micros=CLEAR removes it."""
        return self._run(_calls.add_member(id, member, monthly_cap_micros, idempotency_key))

    def remove_member(self, id: str, member: str, idempotency_key: Optional[str] = None) -> MemberDeleted:
        """DELETE /v1/accounts/{id}/members/{member} (admin); NotFound when unknown."""
        return self._run(_calls.remove_member(id, member, idempotency_key))

    def topup(self, id: str, amount_cents: int, success_url: Optional[str] = None,
              cancel_url: Optional[str] = None, idempotency_key: Optional[str] = None,
              save_card: Optional[bool] = None) -> Checkout:
        """POST /v1/accounts/{id}/topup (app): a Stripe Checkout Session; send the user to
        the answer's checkout_url. The credit comes with Stripe's webhook. save_card=True
        keeps the card for auto-recharge and pay-as-you-go."""
        return self._run(_calls.topup(id, amount_cents, success_url, cancel_url, idempotency_key, save_card))

    def redeem(self, id: str, code: str, idempotency_key: Optional[str] = None) -> Redemption:
        """POST /v1/accounts/{id}/redeem (app): {"grant_id", "amount_micros", "expires_at", ...}.
        NotFound for an unknown code; AlreadyRedeemed, PromoExhausted, PromoExpired (409)."""
        return self._run(_calls.redeem(id, code, idempotency_key))

    def set_alerts(self, id: str, alerts: Sequence[Mapping[str, Any]]) -> Alerts:
        """PUT /v1/accounts/{id}/alerts (app): the account's threshold alerts, replaced whole
        ([] for none): [{"kind": "monthly_spend_pct", "pct": 80}, {"kind": "balance_below",
        "micros": 2000000}, {"kind": "member_cap_pct", "pct": 90, "member": "bob"}, ...], at most
        16. Answers {"alerts": [...]} as get_alerts does; each alert fires alert.threshold."""
        return self._run(_calls.set_alerts(id, alerts))

    def get_alerts(self, id: str) -> Alerts:
        """GET /v1/accounts/{id}/alerts (read): {"alerts": [{kind, pct | micros, member?,
        state ("armed" or "fired"), members_fired?}]}."""
        return self._run(_calls.get_alerts(id))

    def referral_code(self, id: str) -> ReferralCode:
        """GET /v1/accounts/{id}/referral_code (app): {"code"}, the account's referral code,
        made the first time it is asked for and the same ever after. An account created
        with it (create_account(..., referral_code=code)) is referred by this one."""
        return self._run(_calls.referral_code(id))

    def browser_token(self, id: str, ttl_seconds: Optional[int] = None, member: Optional[str] = None) -> BrowserToken:
        """POST /v1/accounts/{id}/browser_tokens (app): {"token", "expires_at"}, for the
        widget on the page of the account's user (never give the page an API key). With
        member, the token sees that workspace member's share only."""
        return self._run(_calls.browser_token(id, ttl_seconds, member))

    # -- events --

    def events(self, after: Optional[int] = None, limit: Optional[int] = None) -> EventPage:
        """GET /v1/events (admin): the outbox, oldest first, after an event id:
        {"data": [{"id", "type", "created_at", "account", "data"}], "next_after"}."""
        return self._run(_calls.events(after, limit))

    def iter_events(self, after: int = 0, page_size: Optional[int] = None) -> Iterator[Event]:
        """Every event after `after`, oldest first, page by page, up to the newest.
        Keep the last id you handled and start from it next time."""
        while True:
            page = self.events(after=after, limit=page_size)
            data: List[Event] = page.get("data") or []
            for ev in data:
                yield ev
            if not data:
                return
            after = int(page.get("next_after") or data[-1]["id"])

    # -- chat guard --

    def authorize(self, account: str, request_id: str, model: Optional[str] = None,
                  input_tokens: Optional[int] = None, max_output_tokens: Optional[int] = None,
                  action: Optional[str] = None, member: Optional[str] = None, ttl_seconds: Optional[int] = None,
                  byok: Optional[bool] = None, conversation_id: Optional[str] = None,
                  idempotency_key: Optional[str] = None, min_output_tokens: Optional[int] = None) -> Hold:
        """POST /v1/guard/authorize (guard): holds the worst-case cost of a model call
        (model + input_tokens) or a fixed-price action. {"hold_id", "amount_micros",
        "available_micros", "expires_at", "max_output_tokens"}: pass max_output_tokens to the
        model as its output cap. With min_output_tokens, a hold the account cannot cover is
        shrunk to the most output it can, down to that many, instead of refused. The same
        request_id again returns the same hold."""
        return self._run(_calls.authorize(idempotency_key, dict(
            account=account, member=member, model=model, action=action, input_tokens=input_tokens,
            max_output_tokens=max_output_tokens, min_output_tokens=min_output_tokens, request_id=request_id,
            ttl_seconds=ttl_seconds, byok=byok, conversation_id=conversation_id)))

    def settle(self, hold_id: str, input_tokens: int, output_tokens: int, cached_input_tokens: Optional[int] = None,
               model: Optional[str] = None, conversation_id: Optional[str] = None,
               idempotency_key: Optional[str] = None,
               cache_write_input_tokens: Optional[int] = None) -> Settlement:
        """POST /v1/guard/settle (guard): charges the tokens actually used (input_tokens counts
        cached ones and cache writes too; cache_write_input_tokens, the input written to the
        provider's prompt cache, Anthropic's cache_creation_input_tokens, is charged at the
        model's cache-write price). {"hold_id", "charged_micros", "released_micros",
        "balance_micros", "available_micros", "late"}. An action hold is settled with zero tokens."""
        return self._run(_calls.settle(hold_id, input_tokens, output_tokens, idempotency_key, dict(
            cached_input_tokens=cached_input_tokens, cache_write_input_tokens=cache_write_input_tokens, model=model,
            conversation_id=conversation_id)))

    def release(self, hold_id: str, idempotency_key: Optional[str] = None) -> Release:
        """POST /v1/guard/release (guard): voids a hold (the AI call failed). Idempotent;
        Conflict when the hold was settled."""
        return self._run(_calls.release(hold_id, idempotency_key))

    def record_usage(self, account: str, model: Optional[str] = None, input_tokens: Optional[int] = None,
                     output_tokens: Optional[int] = None, cached_input_tokens: Optional[int] = None,
                     action: Optional[str] = None, member: Optional[str] = None, request_id: Optional[str] = None,
                     conversation_id: Optional[str] = None, byok: Optional[bool] = None,
                     idempotency_key: Optional[str] = None, force: Optional[bool] = None,
                     cache_write_input_tokens: Optional[int] = None) -> UsageCharge:
        """POST /v1/usage (guard): charges usage with no hold (batch jobs). Give a model with
        input_tokens and output_tokens (cached_input_tokens and cache_write_input_tokens are
        parts of input_tokens, as in settle), or an action. Checked like authorize (402/429 refuse
        it, charging nothing) unless force=True: the tokens were spent, charge them anyway.
        A repeated request_id is recorded once."""
        return self._run(_calls.record_usage(idempotency_key, dict(
            account=account, member=member, model=model, action=action, input_tokens=input_tokens,
            output_tokens=output_tokens, cached_input_tokens=cached_input_tokens,
            cache_write_input_tokens=cache_write_input_tokens, request_id=request_id,
            conversation_id=conversation_id, byok=byok, force=force)))

    def guard(self, account: str, request_id: str, model: str, input_tokens: int,
              max_output_tokens: Optional[int] = None, **authorize_fields: Any) -> Guard:
        """The same as creditd.guard(self, ...)."""
        return Guard(self, account, request_id, model, input_tokens, max_output_tokens, **authorize_fields)
