"""The HTTP client: one API key against one creditd, over one kept-alive connection."""
import http.client
import json
import random
import socket
import ssl
import threading
import time
import urllib.parse
import uuid
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from .errors import ConnectionFailed, CreditdError, StripeNotConfigured, Unavailable, error_for

if TYPE_CHECKING:
    from .guard import Guard

__all__ = ["Creditd", "CLEAR", "JSONObject", "VERSION"]

VERSION = "2.0.0"

JSONObject = Dict[str, Any]
"""A decoded JSON object, as creditd answers it."""


class _Clear:
    """The type of CLEAR: a field value sent as JSON null."""

    _instance: Optional["_Clear"] = None

    def __new__(cls) -> "_Clear":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = _Clear()
"""None means "do not send this field". Pass CLEAR where the API gives null a
meaning, e.g. patch_account(id, monthly_limit_micros=CLEAR) removes the limit."""

_WRITES = frozenset(("POST", "PUT", "PATCH", "DELETE"))

# What a kept-alive connection closed by the server while idle raises on reuse.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _SendFailed(Exception):
    """No whole answer came: error, and whether the connection was a reused one."""

    def __init__(self, error: BaseException, reused: bool) -> None:
        super().__init__(error)
        self.error = error
        self.reused = reused


def _q(value: object) -> str:
    """One URL path segment: every reserved character escaped."""
    return urllib.parse.quote(str(value), safe="")


def _fields(**fields: Any) -> JSONObject:
    """The JSON body: None values dropped, CLEAR sent as null."""
    return {k: (None if v is CLEAR else v) for k, v in fields.items() if v is not None}


class Creditd:
    """One API key against one creditd.

    base_url: where creditd is mounted, e.g. "https://billing.example.com/credits".
    api_key: a guard, read, app or admin key (an admin key may call every route).
    timeout: seconds for connecting and for each read.
    max_retries: how many times a call is sent again after a 503 `unavailable`
      or a network error (0: never). A write is sent again with the same
      Idempotency-Key and the same bytes, so creditd applies it once: when no
      idempotency_key is given, the client makes one per call.
    backoff: the first wait between tries in seconds, doubled each try (with
      jitter), unless the 503 said how long in Retry-After.
    max_retry_wait: a Retry-After longer than this (seconds) is not waited
      for: the Unavailable is raised at once, its retry_after telling when.
    ssl_context: for https URLs (default: ssl.create_default_context()).

    The client keeps one HTTP/1.1 connection open and reuses it for every
    call (connections_opened counts the connections it made). It is
    thread-safe: calls from several threads take turns on that connection.
    For calls in parallel, give each thread a client of its own. close() (or
    a with block) closes the connection; the next call opens a new one.
    No environment proxy is used: server-to-server calls go straight to creditd.

    Every method returns the decoded JSON answer (a dict). An error answer
    raises CreditdError or one of its subclasses; no answer raises
    ConnectionFailed. Amounts are integer micros (1 EUR = 1,000,000).
    """

    def __init__(self, base_url: str, api_key: str, timeout: float = 10, max_retries: int = 2,
                 backoff: float = 0.5, max_retry_wait: float = 10, ssl_context: Optional[ssl.SSLContext] = None,
                 user_agent: Optional[str] = None) -> None:
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("base_url must be an http:// or https:// URL: %r" % (base_url,))
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.connections_opened = 0
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port
        self._prefix = u.path.rstrip("/")
        self._ssl_context = ssl_context
        self._user_agent = user_agent or "creditd-python/" + VERSION
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
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                                         context=self._ssl_context or ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _send_once(self, method: str, target: str, data: Optional[bytes],
                   headers: Mapping[str, str]) -> Tuple[int, bytes, Dict[str, str]]:
        """One exchange on the kept-alive connection: (status, body, headers).
        Raises _SendFailed when no whole answer came."""
        conn = self._connection()
        reused = conn.sock is not None
        if not reused:
            self.connections_opened += 1
        try:
            conn.request(method, target, body=data, headers=dict(headers))
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self._drop()
            raise _SendFailed(e, reused) from e
        except BaseException:
            self._drop()
            raise
        if resp.will_close:
            self._drop()
        return resp.status, raw, {k.lower(): v for k, v in resp.getheaders()}

    def _wait(self, tries: int, retry_after: Optional[int]) -> None:
        if retry_after is not None:
            delay = float(retry_after)
        else:
            delay = self.backoff * (2 ** tries)
            delay = delay / 2 + random.uniform(0, delay / 2)
        if delay > 0:
            self._sleep(delay)

    def request(self, method: str, path: str, body: Optional[JSONObject] = None,
                query: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None,
                auth: bool = True) -> Any:
        """One API call; returns the decoded JSON answer or raises CreditdError.

        path: below base_url, e.g. "/v1/models"; query: None values dropped.
        A write (POST, PUT, PATCH, DELETE) carries idempotency_key, or one
        made for this call, so that its retries are applied once."""
        target = self._prefix + path
        if query:
            params = [(k, "true" if v is True else "false" if v is False else v)
                      for k, v in query.items() if v is not None]
            if params:
                target += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Bearer " + self.api_key
        if idempotency_key is None and method in _WRITES and self.max_retries > 0:
            idempotency_key = "py-" + uuid.uuid4().hex
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        tries = 0
        stale_retried = False
        while True:
            try:
                with self._lock:
                    status, raw, answer_headers = self._send_once(method, target, data, headers)
            except _SendFailed as failed:
                e = failed.error
                # A kept-alive connection the server closed while idle fails
                # at once on reuse: one more go on a new connection costs no
                # try and no wait (a write carries its Idempotency-Key).
                if failed.reused and not stale_retried and isinstance(e, _STALE) \
                        and (method not in _WRITES or idempotency_key is not None):
                    stale_retried = True
                    continue
                if tries >= self.max_retries:
                    raise ConnectionFailed(self._reason(e)) from e
                self._wait(tries, None)
                tries += 1
                continue
            try:
                return self._decode(status, raw, answer_headers)
            except Unavailable as e:
                if isinstance(e, StripeNotConfigured) or tries >= self.max_retries:
                    raise
                if e.retry_after is not None and e.retry_after > self.max_retry_wait:
                    raise
                self._wait(tries, e.retry_after)
                tries += 1

    @staticmethod
    def _reason(e: BaseException) -> object:
        if isinstance(e, socket.timeout):
            return "timed out"
        return e

    @staticmethod
    def _decode(status: int, raw: bytes, headers: Mapping[str, str]) -> Any:
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        if 200 <= status < 300:
            if body is None and raw:
                raise CreditdError(status, None, headers, "answer is not JSON: %r" % raw[:200])
            return body
        text = None if body is not None else raw[:200].decode("utf-8", "replace")
        raise error_for(status, body, headers, text)

    # -- service --

    def healthz(self) -> JSONObject:
        """GET /healthz (no key): {"status": "ok"}; Unavailable while the database is down."""
        r: JSONObject = self.request("GET", "/healthz", auth=False)
        return r

    def models(self) -> JSONObject:
        """GET /v1/models (read): margin_bps, currency, data[] (model prices), actions[]."""
        r: JSONObject = self.request("GET", "/v1/models")
        return r

    def plans(self) -> JSONObject:
        """GET /v1/plans (read): {"data": [{"name", "credits_micros", "rollover", ...}]}."""
        r: JSONObject = self.request("GET", "/v1/plans")
        return r

    def put_plan(self, name: str, credits_micros: int, rollover: str = "none",
                 idempotency_key: Optional[str] = None, **fields: Any) -> JSONObject:
        """PUT /v1/plans/{name} (admin): creates or replaces a plan. fields:
        rollover_cap_micros, member_cap_micros, stripe_price_ids."""
        r: JSONObject = self.request("PUT", "/v1/plans/" + _q(name),
                                     _fields(credits_micros=credits_micros, rollover=rollover, **fields),
                                     idempotency_key=idempotency_key)
        return r

    def create_promo_code(self, code: str, amount_micros: int, idempotency_key: Optional[str] = None,
                          **fields: Any) -> JSONObject:
        """POST /v1/promo_codes (admin). fields: max_redemptions, expires_at, grant_ttl_days."""
        r: JSONObject = self.request("POST", "/v1/promo_codes", _fields(code=code, amount_micros=amount_micros,
                                                                        **fields),
                                     idempotency_key=idempotency_key)
        return r

    # -- accounts --

    def create_account(self, id: str, kind: str = "user", idempotency_key: Optional[str] = None,
                       **fields: Any) -> JSONObject:
        """POST /v1/accounts (admin). fields: overdraft_limit_micros, monthly_limit_micros,
        daily_limit_micros, low_balance_micros, plan, requests_per_minute, tokens_per_minute.
        The same body again answers the account (200)."""
        r: JSONObject = self.request("POST", "/v1/accounts", _fields(id=id, kind=kind, **fields),
                                     idempotency_key=idempotency_key)
        return r

    def get_account(self, id: str) -> JSONObject:
        """GET /v1/accounts/{id} (read): balance, reserved, available, limits, plan, grants[]."""
        r: JSONObject = self.request("GET", "/v1/accounts/" + _q(id))
        return r

    account = get_account

    def patch_account(self, id: str, idempotency_key: Optional[str] = None, **fields: Any) -> JSONObject:
        """PATCH /v1/accounts/{id} (admin): status, limits, plan, auto_recharge.
        Pass CLEAR to remove a limit, the plan or auto_recharge."""
        r: JSONObject = self.request("PATCH", "/v1/accounts/" + _q(id), _fields(**fields),
                                     idempotency_key=idempotency_key)
        return r

    def transactions(self, id: str, limit: Optional[int] = None, cursor: Optional[str] = None) -> JSONObject:
        """GET /v1/accounts/{id}/transactions (read): one page of the journal, newest first:
        {"data": [...], "next_cursor", "has_more"}."""
        r: JSONObject = self.request("GET", "/v1/accounts/%s/transactions" % _q(id),
                                     query={"limit": limit, "cursor": cursor})
        return r

    def iter_transactions(self, id: str, page_size: Optional[int] = None) -> Iterator[JSONObject]:
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
              group_by: Optional[str] = None) -> JSONObject:
        """GET /v1/accounts/{id}/usage (read): the usage report, requests, tokens and cost
        in [from, to) (RFC 3339 or YYYY-MM-DD); group_by: "model", "day" or "member"."""
        r: JSONObject = self.request("GET", "/v1/accounts/%s/usage" % _q(id),
                                     query={"from": from_, "to": to, "group_by": group_by})
        return r

    usage_report = usage

    def grant(self, id: str, amount_micros: int, source: str, idempotency_key: Optional[str] = None,
              **fields: Any) -> JSONObject:
        """POST /v1/accounts/{id}/grants (admin). source: promo|adjustment|signup_bonus;
        fields: expires_at, priority, description."""
        r: JSONObject = self.request("POST", "/v1/accounts/%s/grants" % _q(id),
                                     _fields(amount_micros=amount_micros, source=source, **fields),
                                     idempotency_key=idempotency_key)
        return r

    def debit(self, id: str, amount_micros: int, reason: str, idempotency_key: Optional[str] = None) -> JSONObject:
        """POST /v1/accounts/{id}/debits (admin): a negative adjustment, at most the available balance."""
        r: JSONObject = self.request("POST", "/v1/accounts/%s/debits" % _q(id),
                                     _fields(amount_micros=amount_micros, reason=reason),
                                     idempotency_key=idempotency_key)
        return r

    def add_member(self, id: str, member: str, monthly_cap_micros: Union[int, "_Clear", None] = None,
                   idempotency_key: Optional[str] = None) -> JSONObject:
        """POST /v1/accounts/{id}/members (admin): adds or updates a workspace member.
        Without monthly_cap_micros a new member has no cap and an existing one keeps
        its own; monthly_cap_micros=CLEAR removes it."""
        r: JSONObject = self.request("POST", "/v1/accounts/%s/members" % _q(id),
                                     _fields(member=member, monthly_cap_micros=monthly_cap_micros),
                                     idempotency_key=idempotency_key)
        return r

    def remove_member(self, id: str, member: str, idempotency_key: Optional[str] = None) -> JSONObject:
        """DELETE /v1/accounts/{id}/members/{member} (admin); NotFound when unknown."""
        r: JSONObject = self.request("DELETE", "/v1/accounts/%s/members/%s" % (_q(id), _q(member)),
                                     idempotency_key=idempotency_key)
        return r

    def topup(self, id: str, amount_cents: int, success_url: Optional[str] = None,
              cancel_url: Optional[str] = None, idempotency_key: Optional[str] = None,
              save_card: Optional[bool] = None) -> JSONObject:
        """POST /v1/accounts/{id}/topup (app): a Stripe Checkout Session; send the user to
        the answer's checkout_url. The credit comes with Stripe's webhook. save_card=True
        keeps the card for auto-recharge and pay-as-you-go."""
        r: JSONObject = self.request("POST", "/v1/accounts/%s/topup" % _q(id),
                                     _fields(amount_cents=amount_cents, success_url=success_url,
                                             cancel_url=cancel_url, save_card=save_card),
                                     idempotency_key=idempotency_key)
        return r

    def redeem(self, id: str, code: str, idempotency_key: Optional[str] = None) -> JSONObject:
        """POST /v1/accounts/{id}/redeem (app): {"grant_id", "amount_micros", "expires_at"}.
        NotFound for an unknown code; AlreadyRedeemed, PromoExhausted, PromoExpired (409)."""
        r: JSONObject = self.request("POST", "/v1/accounts/%s/redeem" % _q(id), {"code": code},
                                     idempotency_key=idempotency_key)
        return r

    def browser_token(self, id: str, ttl_seconds: Optional[int] = None, member: Optional[str] = None) -> JSONObject:
        """POST /v1/accounts/{id}/browser_tokens (app): {"token", "expires_at"}, for the
        widget on the page of the account's user (never give the page an API key). With
        member, the token sees that workspace member's share only."""
        r: JSONObject = self.request("POST", "/v1/accounts/%s/browser_tokens" % _q(id),
                                     _fields(ttl_seconds=ttl_seconds, member=member))
        return r

    # -- events --

    def events(self, after: Optional[int] = None, limit: Optional[int] = None) -> JSONObject:
        """GET /v1/events (admin): the outbox, oldest first, after an event id:
        {"data": [{"id", "type", "created_at", "account", "data"}], "next_after"}."""
        r: JSONObject = self.request("GET", "/v1/events", query={"after": after, "limit": limit})
        return r

    def iter_events(self, after: int = 0, page_size: Optional[int] = None) -> Iterator[JSONObject]:
        """Every event after `after`, oldest first, page by page, up to the newest.
        Keep the last id you handled and start from it next time."""
        while True:
            page = self.events(after=after, limit=page_size)
            data: List[JSONObject] = page.get("data") or []
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
                  idempotency_key: Optional[str] = None, min_output_tokens: Optional[int] = None) -> JSONObject:
        """POST /v1/guard/authorize (guard): holds the worst-case cost of a model call
        (model + input_tokens) or a fixed-price action. {"hold_id", "amount_micros",
        "available_micros", "expires_at", "max_output_tokens"}: pass max_output_tokens to the
        model as its output cap. With min_output_tokens, a hold the account cannot cover is
        shrunk to the most output it can, down to that many, instead of refused. The same
        request_id again returns the same hold."""
        r: JSONObject = self.request(
            "POST", "/v1/guard/authorize",
            _fields(account=account, member=member, model=model, action=action, input_tokens=input_tokens,
                    max_output_tokens=max_output_tokens, min_output_tokens=min_output_tokens,
                    request_id=request_id, ttl_seconds=ttl_seconds, byok=byok, conversation_id=conversation_id),
            idempotency_key=idempotency_key)
        return r

    def settle(self, hold_id: str, input_tokens: int, output_tokens: int, cached_input_tokens: Optional[int] = None,
               model: Optional[str] = None, conversation_id: Optional[str] = None,
               idempotency_key: Optional[str] = None) -> JSONObject:
        """POST /v1/guard/settle (guard): charges the tokens actually used (input_tokens counts
        cached ones too). {"hold_id", "charged_micros", "released_micros", "balance_micros",
        "available_micros", "late"}. An action hold is settled with zero tokens."""
        r: JSONObject = self.request(
            "POST", "/v1/guard/settle",
            _fields(hold_id=hold_id, input_tokens=input_tokens, output_tokens=output_tokens,
                    cached_input_tokens=cached_input_tokens, model=model, conversation_id=conversation_id),
            idempotency_key=idempotency_key)
        return r

    def release(self, hold_id: str, idempotency_key: Optional[str] = None) -> JSONObject:
        """POST /v1/guard/release (guard): voids a hold (the AI call failed). Idempotent;
        Conflict when the hold was settled."""
        r: JSONObject = self.request("POST", "/v1/guard/release", {"hold_id": hold_id},
                                     idempotency_key=idempotency_key)
        return r

    def record_usage(self, account: str, model: Optional[str] = None, input_tokens: Optional[int] = None,
                     output_tokens: Optional[int] = None, cached_input_tokens: Optional[int] = None,
                     action: Optional[str] = None, member: Optional[str] = None, request_id: Optional[str] = None,
                     conversation_id: Optional[str] = None, byok: Optional[bool] = None,
                     idempotency_key: Optional[str] = None, force: Optional[bool] = None) -> JSONObject:
        """POST /v1/usage (guard): charges usage with no hold (batch jobs). Give a model with
        input_tokens and output_tokens, or an action. Checked like authorize (402/429 refuse
        it, charging nothing) unless force=True: the tokens were spent, charge them anyway.
        A repeated request_id is recorded once."""
        r: JSONObject = self.request(
            "POST", "/v1/usage",
            _fields(account=account, member=member, model=model, action=action, input_tokens=input_tokens,
                    output_tokens=output_tokens, cached_input_tokens=cached_input_tokens, request_id=request_id,
                    conversation_id=conversation_id, byok=byok, force=force),
            idempotency_key=idempotency_key)
        return r

    def guard(self, account: str, request_id: str, model: str, input_tokens: int,
              max_output_tokens: Optional[int] = None, **authorize_fields: Any) -> "Guard":
        """The same as creditd.guard(self, ...)."""
        from .guard import Guard
        return Guard(self, account, request_id, model, input_tokens, max_output_tokens, **authorize_fields)
