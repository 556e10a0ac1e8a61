"""What the sync and the asyncio client share about one call, short of the
network: the options (one vocabulary with the PHP and Node clients,
clients/vocabulary.json), the request's bytes and headers, the answer's
decoding into a value or an error, and when to try again.

Nothing here opens a socket or sleeps: each client does its own I/O.
"""
import json
import random
import urllib.parse
import uuid
import warnings
from typing import Any, Dict, Mapping, NamedTuple, Optional

from ._version import VERSION
from .errors import CreditdError, error_for

__all__ = ["Options", "Endpoint", "Prepared", "make_options", "endpoint", "prepare", "decode", "retry_delay_s",
           "Retries", "in_progress", "header_value", "WRITES", "MAX_ANSWER_BYTES", "MAX_IDEMPOTENCY_KEY_BYTES"]

WRITES = frozenset(("POST", "PUT", "PATCH", "DELETE"))

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_MAX_RETRIES = 2
DEFAULT_RETRY_DELAY_MS = 250
DEFAULT_MAX_RETRY_DELAY_MS = 10_000

MAX_IDEMPOTENCY_KEY_BYTES = 255
"""creditd takes an Idempotency-Key of 1 to 255 printable bytes (src/limits.h)."""

MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The largest answer body read: a page of 200 journal rows is well under 1 MiB,
and a broken or hostile peer must not make the client hold unbounded memory."""


class Options(NamedTuple):
    """A client's options, in the units of their names."""

    timeout_ms: int
    max_retries: int
    retry_delay_ms: int
    max_retry_delay_ms: int
    user_agent: str


# The range of each number option (clients/vocabulary.json): a value beyond
# it is a mistake of unit or a runaway (an hour for one try or one wait).
MAX_MS = 3_600_000
MAX_RETRIES = 100
_RANGES = {"timeout_ms": (1, MAX_MS), "max_retries": (0, MAX_RETRIES), "retry_delay_ms": (0, MAX_MS),
           "max_retry_delay_ms": (0, MAX_MS)}


def _whole(name: str, value: object, default: int) -> int:
    """A number option: None takes the default; an int (or a whole float)
    within its range is taken; anything else raises, naming the option
    (TypeError for a value that is no number, ValueError for one out of range)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("%s must be a whole number: %r" % (name, value))
        value = int(value)
    low, high = _RANGES[name]
    if not low <= value <= high:
        raise ValueError("%s must be from %d to %d: %r" % (name, low, high, value))
    return value


def _from_seconds(old: str, new: str, seconds: Optional[float], value: object) -> object:
    if seconds is None:
        return value
    warnings.warn("%s= (seconds) is deprecated: pass %s= (milliseconds)" % (old, new), DeprecationWarning,
                  stacklevel=4)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds, not %s" % (old, type(seconds).__name__))
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("%s must be a finite number of seconds: %r" % (old, seconds))
    return int(round(float(seconds) * 1000))


def make_options(timeout_ms: object, max_retries: object, retry_delay_ms: object, max_retry_delay_ms: object,
                 user_agent: Optional[str], timeout: Optional[float] = None, backoff: Optional[float] = None,
                 max_retry_wait: Optional[float] = None) -> Options:
    """The options, the former names in seconds (timeout, backoff,
    max_retry_wait) taken when given, with a DeprecationWarning. A number
    option given as None takes its default; one that is no whole number
    within its range (_RANGES) raises TypeError or ValueError."""
    timeout_ms = _from_seconds("timeout", "timeout_ms", timeout, timeout_ms)
    retry_delay_ms = _from_seconds("backoff", "retry_delay_ms", backoff, retry_delay_ms)
    max_retry_delay_ms = _from_seconds("max_retry_wait", "max_retry_delay_ms", max_retry_wait, max_retry_delay_ms)
    agent = header_value("user_agent", user_agent or "creditd-client-python/" + VERSION)
    return Options(_whole("timeout_ms", timeout_ms, DEFAULT_TIMEOUT_MS),
                   _whole("max_retries", max_retries, DEFAULT_MAX_RETRIES),
                   _whole("retry_delay_ms", retry_delay_ms, DEFAULT_RETRY_DELAY_MS),
                   _whole("max_retry_delay_ms", max_retry_delay_ms, DEFAULT_MAX_RETRY_DELAY_MS), agent)


def header_value(name: str, value: str, min_length: int = 0, max_length: Optional[int] = None) -> str:
    """value, checked to go on the wire as the header `name`: printable
    ASCII only (space to tilde). A CR or LF would end the header and start
    another one, or a request of its own on a kept-alive connection; NUL,
    other control bytes and non-ASCII (which HTTP libraries encode each
    their own way) are refused too. Raises ValueError (TypeError for a
    value that is not a str), naming the header, never its value: it may
    be a secret."""
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (name, type(value).__name__))
    if not (value.isascii() and value.isprintable()):
        raise ValueError("%s must be printable ASCII: no CR, LF, NUL or other control or non-ASCII character"
                         % name)
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        raise ValueError("%s must be %d to %s characters long, not %d"
                         % (name, min_length, max_length if max_length is not None else "any", len(value)))
    return value


def _request_target(target: str) -> str:
    """The request line's target: visible ASCII, no space nor control character
    (the clients URL-encode what they put in a path; this guards request())."""
    if not (target.isascii() and target.isprintable()) or " " in target:
        raise ValueError("the path must be visible ASCII (URL-encoded): no space, CR, LF or other control "
                         "character")
    return target


class Endpoint(NamedTuple):
    """Where creditd is mounted: base_url taken apart."""

    base_url: str
    https: bool
    host: str
    port: int
    prefix: str


def endpoint(base_url: str) -> Endpoint:
    u = urllib.parse.urlsplit(base_url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError("base_url must be an http:// or https:// URL: %r" % (base_url,))
    port = u.port or (443 if u.scheme == "https" else 80)
    return Endpoint(base_url.rstrip("/"), u.scheme == "https", u.hostname, port, u.path.rstrip("/"))


class Prepared(NamedTuple):
    """One call's request, the same bytes for every try."""

    method: str
    target: str
    headers: Dict[str, str]
    data: Optional[bytes]
    idempotency_key: Optional[str]


def prepare(where: Endpoint, api_key: str, opts: Options, method: str, path: str, body: Optional[Mapping[str, Any]],
            query: Optional[Mapping[str, Any]], idempotency_key: Optional[str], auth: bool) -> Prepared:
    """The request of one call. A write carries idempotency_key, or one made
    for this call when retries are on, so that its retries are applied once.
    Raises ValueError, before anything is sent, for a header value (API
    key, user agent, Idempotency-Key) or a path that could not go on the
    wire as it is (header_value)."""
    target = where.prefix + path
    if query:
        params = [(k, "true" if v is True else "false" if v is False else v) for k, v in query.items() if v is not None]
        if params:
            target += "?" + urllib.parse.urlencode(params)
    _request_target(target)
    headers = {"Accept": "application/json", "User-Agent": header_value("User-Agent", opts.user_agent)}
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if auth:
        headers["Authorization"] = "Bearer " + header_value("the API key", api_key)
    if idempotency_key is None and method in WRITES and opts.max_retries > 0:
        idempotency_key = "py-" + uuid.uuid4().hex
    if idempotency_key is not None:
        headers["Idempotency-Key"] = header_value("Idempotency-Key", idempotency_key, 1, MAX_IDEMPOTENCY_KEY_BYTES)
    return Prepared(method, target, headers, data, idempotency_key)


def decode(status: int, raw: bytes, headers: Mapping[str, str]) -> Any:
    """The decoded JSON of a 2xx answer; else raises its CreditdError subclass."""
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


def _backoff_ms(opts: Options, tries: int) -> float:
    """retry_delay_ms doubled for each try before, with jitter (half to all of it)."""
    full = float(opts.retry_delay_ms * 2 ** tries)
    return full / 2 + random.uniform(0, full / 2)


def retry_delay_s(opts: Options, error: CreditdError, tries: int) -> Optional[float]:
    """Seconds to wait before sending again after `error` on try `tries`
    (0 for the first), or None: raise it. Retried: the classes whose
    `retried` is set (Unavailable: 503 unavailable, gateway_busy or without
    a code this client knows, unavailable with any 5xx, a 502 or 504 without
    creditd's JSON error; ConnectionFailed: no answer), at most max_retries times, after the answer's
    Retry-After, else retry_delay_ms doubled each try with jitter; a wait
    above max_retry_delay_ms is not made."""
    if not error.retried or tries >= opts.max_retries:
        return None
    delay_ms = error.retry_after * 1000.0 if error.retry_after is not None else _backoff_ms(opts, tries)
    if delay_ms > opts.max_retry_delay_ms:
        return None
    return delay_ms / 1000.0


IN_PROGRESS_RETRIES = 8
"""At most this many tries after a top-up "in progress" answer, whatever the waits add up to."""


def in_progress(error: CreditdError) -> bool:
    """A 409 of a top-up whose Idempotency-Key is still calling Stripe for an
    earlier try (src/http/api_stripe.c): the answer is coming, not refused.
    creditd names it by param idempotency_key and its message, with code
    conflict, which is also the code of a key used with another request."""
    return (error.status == 409 and error.code == "conflict" and error.param == "idempotency_key"
            and "in progress" in error.message)


class Retries:
    """When to send one call again: retry_delay_s for the retried classes;
    and a top-up "in progress" (in_progress()), which a retry after a lost
    answer meets while creditd is still calling Stripe for the first try:
    sent again after waits starting at retry_delay_ms, doubled each time
    with jitter, as long as they add up to max_retry_delay_ms at most (and
    IN_PROGRESS_RETRIES tries); these do not count against max_retries, but
    max_retries 0 turns them off too."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.tries = 0
        self.waits_in_progress = 0
        self.waited_in_progress_ms = 0.0

    def delay_s(self, error: CreditdError) -> Optional[float]:
        """Seconds to wait before the next try after `error`, or None: raise it."""
        if in_progress(error):
            return self._in_progress_delay_s(error)
        delay = retry_delay_s(self.opts, error, self.tries)
        if delay is not None:
            self.tries += 1
        return delay

    def _in_progress_delay_s(self, error: CreditdError) -> Optional[float]:
        opts = self.opts
        if opts.max_retries == 0 or self.waits_in_progress >= IN_PROGRESS_RETRIES:
            return None
        delay_ms = (error.retry_after * 1000.0 if error.retry_after is not None
                    else _backoff_ms(opts, self.waits_in_progress))
        if self.waited_in_progress_ms + delay_ms > opts.max_retry_delay_ms:
            return None
        self.waits_in_progress += 1
        self.waited_in_progress_ms += delay_ms
        return delay_ms / 1000.0
