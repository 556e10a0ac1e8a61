"""creditd_client.py: a Python client for creditd's HTTP API (server to server).

Python 3 standard library only: copy this one file next to your app.

    from creditd_client import Creditd, InsufficientCredits, guard

    guard_api = Creditd("https://billing.example.com/credits", GUARD_KEY)
    with guard(guard_api, "alice", "chat-42", "gpt-4o", input_tokens=1200,
               max_output_tokens=800) as hold:
        reply = call_the_llm(...)
        hold.settle(reply.input_tokens, reply.output_tokens)

Every method returns the decoded JSON answer (a dict). Any non-2xx answer
raises CreditdError or one of its subclasses; a failed connection raises
ConnectionFailed. Amounts are integer micros (1 EUR = 1,000,000).
"""
import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["Creditd", "CreditdError", "InsufficientCredits", "LimitReached", "NotFound", "Conflict",
           "Unavailable", "ConnectionFailed", "Guard", "guard", "CHARS_PER_TOKEN", "CLEAR", "verify_event", "BadSignature"]

__version__ = "1.0"


class _Clear:
    """The type of CLEAR: a field value sent as JSON null."""

    def __repr__(self):
        return "CLEAR"


# None means "do not send this field". Pass CLEAR where the API gives null a
# meaning, e.g. patch_account(id, monthly_limit_micros=CLEAR) removes the limit.
CLEAR = _Clear()


# ---- errors ----

class CreditdError(Exception):
    """An error answer of creditd: {"error": {"type", "code", "message", "param", ...}}.

    status: the HTTP status (None when no answer came); type, code, message,
    param: the error object's fields; body: the whole decoded answer (or None
    when it was not JSON); available_micros, required_micros: present on
    402/429 refusals of the guard, else None.
    """

    def __init__(self, status, body=None, headers=None, message=None):
        err = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.type = err.get("type")
        self.code = err.get("code")
        self.param = err.get("param")
        self.message = err.get("message") or message or "HTTP %s" % status
        self.available_micros = err.get("available_micros")
        self.required_micros = err.get("required_micros")
        where = "no answer" if status is None else status
        param = " (param %s)" % self.param if self.param else ""
        super().__init__("%s %s: %s%s" % (where, self.code or "error", self.message, param))


class InsufficientCredits(CreditdError):
    """402 insufficient_credits: not enough available credit."""


class LimitReached(CreditdError):
    """429 billing_hard_limit_reached / member_cap_reached."""


class NotFound(CreditdError):
    """404: unknown account, hold, member or route."""


class Conflict(CreditdError):
    """409: Idempotency-Key reused with another body, hold already settled/released, ..."""


class Unavailable(CreditdError):
    """503: database unreachable (retry_after seconds, from Retry-After) or Stripe not configured."""

    def __init__(self, status, body=None, headers=None, message=None):
        super().__init__(status, body, headers, message)
        try:
            self.retry_after = int(self.headers.get("retry-after"))
        except (TypeError, ValueError):
            self.retry_after = None


class ConnectionFailed(CreditdError):
    """No answer: connection refused, timeout, DNS failure. status is None.

    For a settle this means the outcome is unknown: settling again with the
    same figures is safe (creditd returns the first result)."""

    def __init__(self, reason):
        super().__init__(None, None, None, "cannot reach creditd: %s" % (reason,))
        self.reason = reason


_ERRORS_BY_STATUS = {402: InsufficientCredits, 429: LimitReached, 404: NotFound, 409: Conflict, 503: Unavailable}


# ---- the client ----

def _q(value):
    """One URL path segment: every reserved character escaped."""
    return urllib.parse.quote(str(value), safe="")


def _fields(**fields):
    """The JSON body: None values dropped, CLEAR sent as null."""
    return {k: (None if v is CLEAR else v) for k, v in fields.items() if v is not None}


class Creditd:
    """One API key against one creditd. Safe to share between threads (each
    call opens its own connection).

    base_url: where creditd is mounted, e.g. "https://billing.example.com/credits".
    api_key: a guard, read or admin key (an admin key may call every route).
    """

    def __init__(self, base_url, api_key, timeout=10):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        # Server-to-server calls go straight to creditd, not through the
        # environment's HTTP proxy.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self):
        return "Creditd(%r)" % self.base_url

    # -- transport --

    def request(self, method, path, body=None, query=None, idempotency_key=None, auth=True):
        """One API call; returns the decoded JSON answer or raises CreditdError.

        path: below base_url, e.g. "/v1/models"; query: dict, None values dropped."""
        url = self.base_url + path
        if query:
            params = [(k, v) for k, v in query.items() if v is not None]
            if params:
                url += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json", "User-Agent": "creditd-client-python/" + __version__}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Bearer " + self.api_key
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return self._decode(resp.status, resp.read(), resp.headers)
        except urllib.error.HTTPError as e:
            with e:
                raw = e.read()
            return self._decode(e.code, raw, e.headers)
        except urllib.error.URLError as e:
            raise ConnectionFailed(e.reason) from e
        except (socket.timeout, ConnectionError, OSError) as e:
            raise ConnectionFailed(e) from e

    @staticmethod
    def _decode(status, raw, headers):
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        if 200 <= status < 300:
            if body is None and raw:
                raise CreditdError(status, None, None, "answer is not JSON: %r" % raw[:200])
            return body
        lower = {k.lower(): v for k, v in (headers.items() if headers is not None else [])}
        text = None if body is not None else raw[:200].decode("utf-8", "replace")
        raise _ERRORS_BY_STATUS.get(status, CreditdError)(status, body, lower, text)

    # -- service --

    def healthz(self):
        """GET /healthz (no key): {"status": "ok"}; Unavailable while the database is down."""
        return self.request("GET", "/healthz", auth=False)

    def models(self):
        """GET /v1/models (read): margin_bps, currency, data[] (model prices), actions[]."""
        return self.request("GET", "/v1/models")

    # -- accounts --

    def create_account(self, id, kind="user", idempotency_key=None, **fields):
        """POST /v1/accounts (admin). fields: overdraft_limit_micros, monthly_limit_micros,
        low_balance_micros, plan. The same body again answers the account (200)."""
        return self.request("POST", "/v1/accounts", _fields(id=id, kind=kind, **fields),
                            idempotency_key=idempotency_key)

    def get_account(self, id):
        """GET /v1/accounts/{id} (read): balance, reserved, available, limits, grants[]."""
        return self.request("GET", "/v1/accounts/" + _q(id))

    def patch_account(self, id, idempotency_key=None, **fields):
        """PATCH /v1/accounts/{id} (admin): status, overdraft_limit_micros, monthly_limit_micros,
        low_balance_micros, plan. Pass CLEAR to remove a limit or the plan."""
        return self.request("PATCH", "/v1/accounts/" + _q(id), _fields(**fields), idempotency_key=idempotency_key)

    def transactions(self, id, limit=None, cursor=None):
        """GET /v1/accounts/{id}/transactions (read): one page of the journal, newest first:
        {"data": [...], "next_cursor", "has_more"}."""
        return self.request("GET", "/v1/accounts/%s/transactions" % _q(id), query={"limit": limit, "cursor": cursor})

    def iter_transactions(self, id, page_size=None):
        """Every journal entry, newest first, following next_cursor page by page."""
        cursor = None
        while True:
            page = self.transactions(id, limit=page_size, cursor=cursor)
            for entry in page.get("data") or []:
                yield entry
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def browser_token(self, id, ttl_seconds=None):
        """POST /v1/accounts/{id}/browser_tokens (app): {"token", "expires_at"}, for the
        widget on the page of the account's user (never give the page an API key)."""
        return self.request("POST", "/v1/accounts/%s/browser_tokens" % _q(id), _fields(ttl_seconds=ttl_seconds))

    def events(self, after=None, limit=None):
        """GET /v1/events (admin): the outbox, oldest first, after an event id:
        {"data": [{"id", "type", "created_at", "account", "data"}], "next_after"}."""
        return self.request("GET", "/v1/events", query={"after": after, "limit": limit})

    def iter_events(self, after=0, page_size=None):
        """Every event after `after`, oldest first, page by page. Keep the last
        id you handled and start from it next time."""
        while True:
            page = self.events(after=after, limit=page_size)
            data = page.get("data") or []
            for ev in data:
                yield ev
            if not data:
                return
            after = page["next_after"]

    def usage(self, id, from_=None, to=None, group_by=None):
        """GET /v1/accounts/{id}/usage (read): requests, tokens and cost in [from, to)
        (RFC 3339 or YYYY-MM-DD); group_by: "model", "day" or "member"."""
        return self.request("GET", "/v1/accounts/%s/usage" % _q(id),
                            query={"from": from_, "to": to, "group_by": group_by})

    def grant(self, id, amount_micros, source, idempotency_key=None, **fields):
        """POST /v1/accounts/{id}/grants (admin). source: promo|adjustment|signup_bonus;
        fields: expires_at, priority, description."""
        return self.request("POST", "/v1/accounts/%s/grants" % _q(id),
                            _fields(amount_micros=amount_micros, source=source, **fields),
                            idempotency_key=idempotency_key)

    def debit(self, id, amount_micros, reason, idempotency_key=None):
        """POST /v1/accounts/{id}/debits (admin): a negative adjustment, at most the available balance."""
        return self.request("POST", "/v1/accounts/%s/debits" % _q(id),
                            _fields(amount_micros=amount_micros, reason=reason), idempotency_key=idempotency_key)

    def add_member(self, id, member, monthly_cap_micros=None, idempotency_key=None):
        """POST /v1/accounts/{id}/members (admin): adds or updates a workspace member.
        Without monthly_cap_micros a new member has no cap and an existing one keeps
        its own; monthly_cap_micros=CLEAR removes it."""
        return self.request("POST", "/v1/accounts/%s/members" % _q(id),
                            _fields(member=member, monthly_cap_micros=monthly_cap_micros),
                            idempotency_key=idempotency_key)

    def remove_member(self, id, member, idempotency_key=None):
        """DELETE /v1/accounts/{id}/members/{member} (admin); NotFound when unknown."""
        return self.request("DELETE", "/v1/accounts/%s/members/%s" % (_q(id), _q(member)),
                            idempotency_key=idempotency_key)

    def topup(self, id, amount_cents, success_url=None, cancel_url=None, idempotency_key=None):
        """POST /v1/accounts/{id}/topup (app): a Stripe Checkout Session;
        send the user to the answer's checkout_url. The credit comes with Stripe's webhook."""
        return self.request("POST", "/v1/accounts/%s/topup" % _q(id),
                            _fields(amount_cents=amount_cents, success_url=success_url, cancel_url=cancel_url),
                            idempotency_key=idempotency_key)

    # -- chat guard --

    def authorize(self, account, request_id, model=None, input_tokens=None, max_output_tokens=None, action=None,
                  member=None, ttl_seconds=None, byok=None, conversation_id=None, idempotency_key=None,
                  min_output_tokens=None):
        """POST /v1/guard/authorize (guard): holds the worst-case cost of a model call
        (model + input_tokens) or a fixed-price action. {"hold_id", "amount_micros",
        "available_micros", "expires_at", "max_output_tokens"}: pass max_output_tokens to the
        model as its output cap. With min_output_tokens, a hold the account cannot cover is
        shrunk to the most output it can, down to that many, instead of refused. The same
        request_id again returns the same hold."""
        return self.request("POST", "/v1/guard/authorize",
                            _fields(account=account, member=member, model=model, action=action,
                                    input_tokens=input_tokens, max_output_tokens=max_output_tokens,
                                    min_output_tokens=min_output_tokens,
                                    request_id=request_id, ttl_seconds=ttl_seconds, byok=byok,
                                    conversation_id=conversation_id),
                            idempotency_key=idempotency_key)

    def settle(self, hold_id, input_tokens, output_tokens, cached_input_tokens=None, model=None,
               conversation_id=None, idempotency_key=None):
        """POST /v1/guard/settle (guard): charges the tokens actually used (input_tokens counts
        cached ones too). {"hold_id", "charged_micros", "released_micros", "balance_micros",
        "available_micros", "late"}. An action hold is settled with zero tokens."""
        return self.request("POST", "/v1/guard/settle",
                            _fields(hold_id=hold_id, input_tokens=input_tokens, output_tokens=output_tokens,
                                    cached_input_tokens=cached_input_tokens, model=model,
                                    conversation_id=conversation_id),
                            idempotency_key=idempotency_key)

    def release(self, hold_id, idempotency_key=None):
        """POST /v1/guard/release (guard): voids a hold (the AI call failed). Idempotent;
        Conflict when the hold was settled."""
        return self.request("POST", "/v1/guard/release", {"hold_id": hold_id}, idempotency_key=idempotency_key)

    def record_usage(self, account, model=None, input_tokens=None, output_tokens=None, cached_input_tokens=None,
                     action=None, member=None, request_id=None, conversation_id=None, byok=None,
                     idempotency_key=None):
        """POST /v1/usage (guard): charges usage with no hold (batch jobs). Give a model with
        input_tokens and output_tokens, or an action. A repeated request_id is recorded once."""
        return self.request("POST", "/v1/usage",
                            _fields(account=account, member=member, model=model, action=action,
                                    input_tokens=input_tokens, output_tokens=output_tokens,
                                    cached_input_tokens=cached_input_tokens, request_id=request_id,
                                    conversation_id=conversation_id, byok=byok),
                            idempotency_key=idempotency_key)

    def guard(self, account, request_id, model, input_tokens, max_output_tokens=None, **authorize_fields):
        """The same as guard(self, ...)."""
        return Guard(self, account, request_id, model, input_tokens, max_output_tokens, **authorize_fields)


# ---- the guard context manager ----

# The fallback estimate of output tokens when the provider sent no usage:
# about 4 characters a token (the usual rule for English text with the
# common BPE tokenizers), and never fewer tokens than non-empty chunks.
CHARS_PER_TOKEN = 4


class Guard:
    """Authorizes on enter; on exit settles what was produced, or releases.

    Tell the guard what the call produces as it goes, then either settle
    yourself or let the exit do it:

    - hold.usage(input_tokens=, output_tokens=, cached_input_tokens=): the
      provider's reported usage (totals so far, e.g. its final stream chunk);
      it wins over everything below.
    - hold.add_output_tokens(n): output tokens you counted yourself.
    - hold.chunk(text): one streamed piece of output; when neither of the
      above gave output tokens, they are estimated as
      max(chunks, ceil(characters / CHARS_PER_TOKEN)), at most the hold's
      max_output_tokens. Whatever the source, never fewer output tokens
      than non-empty chunks.
    - hold.stream(chunks, text=, usage=): wraps a provider's stream, calling
      chunk() (and usage()) for each item it yields.

    On exit without a settle: if any output was seen (hold.produced()
    has output_tokens > 0) the hold is settled with the input tokens
    (reported, else as authorized) and the output produced so far, also when
    the block raised (a stream cut off midway): the provider bills those
    tokens. Only a call that produced nothing is released. The block's
    exception is always re-raised after that. A settle that was attempted
    but failed (say, a timeout) is not followed by a release: the tokens were
    spent, so the hold is left for a retried hold.settle() (same figures,
    same result) or for its expiry; when that happens on exit while the block
    raised, the settle's error is kept in settle_error and the block's
    exception propagates.

    Attributes: hold (the authorize answer), hold_id, settled (the settle
    answer, or None), released (the release answer, or None), settle_error
    (see above), partial (True when the exit settled a call that raised)."""

    def __init__(self, client, account, request_id, model, input_tokens, max_output_tokens=None,
                 **authorize_fields):
        self.client = client
        self._authorize = dict(account=account, request_id=request_id, model=model, input_tokens=input_tokens,
                               max_output_tokens=max_output_tokens, **authorize_fields)
        self.hold = None
        self.hold_id = None
        self.settled = None
        self.released = None
        self.settle_error = None
        self.partial = False
        self._settle_attempted = False
        self._reported = {}
        self._counted_tokens = 0
        self._chunks = 0
        self._chars = 0

    def __enter__(self):
        self.hold = self.client.authorize(**self._authorize)
        self.hold_id = self.hold["hold_id"]
        return self

    # -- what the call produced --

    def usage(self, input_tokens=None, output_tokens=None, cached_input_tokens=None):
        """The provider's reported usage, totals so far; None fields are left as they were.
        A negative figure is no figure (creditd would refuse it): it is ignored."""
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                            ("cached_input_tokens", cached_input_tokens)):
            if value is not None and int(value) >= 0:
                self._reported[name] = int(value)

    def add_output_tokens(self, n):
        """Output tokens counted by the caller (added up)."""
        self._counted_tokens += int(n)

    def chunk(self, text):
        """One streamed piece of output (str or bytes); an empty one is not counted.
        Characters are code points: bytes are decoded as UTF-8 (an invalid
        byte counts as one replacement character), as the PHP client counts."""
        if text:
            if isinstance(text, (bytes, bytearray)):
                text = bytes(text).decode("utf-8", "replace")
            self._chunks += 1
            self._chars += len(text)

    def stream(self, chunks, text=None, usage=None):
        """Yields every item of `chunks`, telling the guard about each first.
        text(item): the item's output text (default: the item itself, a str
        or bytes); usage(item): a dict of usage() fields, or None."""
        for item in chunks:
            if usage is not None:
                reported = usage(item)
                if reported:
                    self.usage(**reported)
            self.chunk(item if text is None else text(item))
            yield item

    def produced(self):
        """{"input_tokens", "output_tokens", "cached_input_tokens"}: what the exit would settle now."""
        cap = (self.hold or {}).get("max_output_tokens")
        # Every non-empty chunk carried a token at least (a usage reported
        # early in a stream, as some providers do, may lag behind); the model
        # was told to stop at the cap, so neither the chunks nor an estimate
        # go past it: the settle stays within the hold.
        floor = min(self._chunks, cap) if cap else self._chunks
        out = self._reported.get("output_tokens")
        if out is None and self._counted_tokens > 0:
            out = self._counted_tokens
        if out is None:
            out = max(self._chunks, -(-self._chars // CHARS_PER_TOKEN))
            if cap:
                out = min(out, cap)
        # A reported or counted figure is real tokens: settled as it is,
        # past the cap if so (creditd charges them beyond the hold).
        out = max(out, floor)
        inp = self._reported.get("input_tokens", self._authorize["input_tokens"])
        cached = self._reported.get("cached_input_tokens")
        if cached is not None and cached > inp:     # creditd refuses more cached than input tokens
            cached = inp
        return {"input_tokens": inp, "output_tokens": out, "cached_input_tokens": cached}

    # -- the end --

    def settle(self, input_tokens, output_tokens, cached_input_tokens=None):
        """Charges the tokens the call really used; the rest of the hold is released."""
        if self.hold_id is None:
            raise RuntimeError("settle() outside the with block")
        self._settle_attempted = True
        self.settled = self.client.settle(self.hold_id, input_tokens, output_tokens,
                                          cached_input_tokens=cached_input_tokens)
        return self.settled

    def __exit__(self, exc_type, exc, tb):
        if self.hold_id is None or self._settle_attempted:
            return False
        made = self.produced()
        try:
            if made["output_tokens"] > 0:
                self.partial = exc_type is not None
                self.settle(made["input_tokens"], made["output_tokens"], made["cached_input_tokens"])
            else:
                self.released = self.client.release(self.hold_id)
        except CreditdError as e:
            if exc_type is None:
                raise
            # The block's own exception matters more; a failed settle stays
            # pending for a retry, a failed release expires anyway.
            self.settle_error = e if self._settle_attempted else None
        return False


def guard(client, account, request_id, model, input_tokens, max_output_tokens=None, **authorize_fields):
    """with guard(client, account, request_id, model, input_tokens[, max_output_tokens]) as hold: ...

    authorize_fields: member, ttl_seconds, conversation_id, byok. Call
    hold.settle(input_tokens, output_tokens[, cached_input_tokens]) inside
    the block, or report what the call produces (hold.usage(), hold.chunk(),
    hold.stream(), hold.add_output_tokens()) and let the exit settle it.
    When the block ends (or raises) with no settle and no output seen, the
    hold is released; with output seen, it is settled with what was produced."""
    return Guard(client, account, request_id, model, input_tokens, max_output_tokens, **authorize_fields)


class BadSignature(ValueError):
    """A pushed event whose Creditd-Signature does not check out."""


def verify_event(payload, header, secret, tolerance=300, now=None):
    """Checks a pushed event as it came in, before trusting it, and returns
    it decoded. payload: the raw request body (bytes); header: the
    Creditd-Signature header ("t=TS,v1=HEX"); secret: [notify] secret.
    Raises BadSignature when no v1 matches HMAC-SHA256(secret, "TS.body")
    or TS is more than `tolerance` seconds away. Events are delivered at
    least once: skip an id you have handled already."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    t, sigs = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            t = int(value)
        elif key == "v1":
            sigs.append(value)
    if t is None or not sigs:
        raise BadSignature("no t= and v1= in the Creditd-Signature header")
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise BadSignature("the signature's timestamp is outside the tolerance")
    mac = hmac.new(secret.encode("utf-8"), str(t).encode("ascii") + b"." + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(mac, s) for s in sigs):
        raise BadSignature("no signature matches the secret")
    return json.loads(payload)
