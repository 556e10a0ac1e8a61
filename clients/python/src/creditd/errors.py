"""The errors creditd answers, one class per status and code.

Every error answer of creditd is {"error": {"type", "code", "message",
"param", ...}}; error_for() picks the class from the status and the code.
The names are the three clients' one vocabulary (clients/vocabulary.json):
the PHP and Node clients throw classes of the same names for the same codes.
"""
from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Type

__all__ = [
    "CreditdError", "InvalidRequest", "PayloadTooLarge", "Unauthorized", "InsufficientCredits", "Forbidden",
    "AccountSuspended", "NotFound", "Conflict", "AlreadyRedeemed", "PromoExhausted", "PromoExpired", "LimitReached",
    "BillingHardLimitReached", "DailyLimitReached", "MemberCapReached", "RateLimited", "ServerError",
    "UpstreamError", "Unavailable", "StripeNotConfigured", "ProviderNotConfigured", "ConnectionFailed",
    "BadSignature", "BadRequest", "MonthlyLimitReached", "error_class", "error_for",
]


def _retry_after(headers: Mapping[str, str], err: Mapping[str, Any]) -> Optional[int]:
    """Seconds to wait, the same in the three clients: the Retry-After header
    when it is delta-seconds (digits only: creditd sends no HTTP date, and a
    proxy's is not read), else the error object's retry_after_seconds when it
    is a non-negative integer; None when neither."""
    value = headers.get("retry-after")
    if value is not None:
        value = value.strip(" \t")
        if value.isascii() and value.isdigit():
            return int(value)
    seconds = _int_or_none(err.get("retry_after_seconds"))
    return seconds if seconds is not None and seconds >= 0 else None


def _int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class CreditdError(Exception):
    """An error answer of creditd, or no answer at all (ConnectionFailed).

    status: the HTTP status (None when no answer came); type, code, message,
    param: the error object's fields; body: the whole decoded answer (None
    when it was not JSON); headers: the answer's headers, names in lower
    case; available_micros, required_micros: on 402/429 refusals of the
    guard, else None; retry_after: seconds to wait, from the Retry-After
    header (delta-seconds), else the body's retry_after_seconds, or None.
    """

    status: Optional[int]
    body: Any
    headers: Dict[str, str]
    type: Optional[str]
    code: Optional[str]
    param: Optional[str]
    message: str
    available_micros: Optional[int]
    required_micros: Optional[int]
    retry_after: Optional[int]
    retried: ClassVar[bool] = False
    """Whether the client sends the request again after this error (up to max_retries)."""

    def __init__(self, status: Optional[int], body: Any = None, headers: Optional[Mapping[str, str]] = None,
                 message: Optional[str] = None) -> None:
        err: Dict[str, Any] = {}
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
        self.status = status
        self.body = body
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.type = err.get("type") if isinstance(err.get("type"), str) else None
        self.code = err.get("code") if isinstance(err.get("code"), str) else None
        self.param = err.get("param") if isinstance(err.get("param"), str) else None
        msg = err.get("message")
        self.message = msg if isinstance(msg, str) and msg else (message or "HTTP %s" % status)
        self.available_micros = _int_or_none(err.get("available_micros"))
        self.required_micros = _int_or_none(err.get("required_micros"))
        self.retry_after = _retry_after(self.headers, err)
        where = "no answer" if status is None else str(status)
        param = " (param %s)" % self.param if self.param else ""
        super().__init__("%s %s: %s%s" % (where, self.code or "error", self.message, param))


class InvalidRequest(CreditdError):
    """400 invalid_request (param names the field), and the other answers of type
    invalid_request_error: 405 method_not_allowed, 408 request_timeout, 415
    unsupported_media_type. The request itself is wrong: sending it again will
    not help. (Formerly BadRequest, still an alias.)"""


class PayloadTooLarge(InvalidRequest):
    """413 payload_too_large: the body is over creditd's limit."""


class Unauthorized(CreditdError):
    """401 unauthorized: no key, or a wrong one."""


class InsufficientCredits(CreditdError):
    """402 insufficient_credits: not enough available credit (available_micros, required_micros)."""


class Forbidden(CreditdError):
    """403 forbidden: the key lacks the scope."""


class AccountSuspended(Forbidden):
    """403 account_suspended: the account is not active."""


class NotFound(CreditdError):
    """404 not_found: unknown account, hold, member, promo code or route."""


class Conflict(CreditdError):
    """409 conflict: Idempotency-Key reused with another body, hold already settled/released, ..."""


class AlreadyRedeemed(Conflict):
    """409 already_redeemed: this account redeemed the promo code before."""


class PromoExhausted(Conflict):
    """409 promo_exhausted: every redemption of the code is used."""


class PromoExpired(Conflict):
    """409 promo_expired: the code is past its expires_at."""


class LimitReached(CreditdError):
    """429 of a spending limit (type insufficient_quota); the subclasses name which.

    Not a rate limit: that is RateLimited."""


class BillingHardLimitReached(LimitReached):
    """429 billing_hard_limit_reached: the account's monthly limit. (Formerly
    MonthlyLimitReached, still an alias.)"""


class DailyLimitReached(LimitReached):
    """429 daily_limit_reached: the account's daily limit."""


class MemberCapReached(LimitReached):
    """429 member_cap_reached: the workspace member's monthly cap."""


class RateLimited(CreditdError):
    """429 rate_limit_exceeded (requests or tokens per minute, top-ups per hour,
    failed authentications), and a 429 without creditd's JSON error (a web
    server's own rate limit, nginx's limit_req); retry_after: seconds to wait
    (Retry-After). Nothing was held or charged. Not retried."""


class ServerError(CreditdError):
    """500 internal_error (creditd logged its cause; nothing changed), and any
    other 5xx this client has no class for."""


class UpstreamError(CreditdError):
    """502 upstream_error: Stripe failed or timed out (and a 502 with a code
    this client does not know). Not retried; a 502 without a code is Unavailable."""


class Unavailable(CreditdError):
    """503 unavailable: the database is unreachable (retry_after from Retry-After);
    also 503 gateway_busy, any other 503 without a code this client knows
    (a proxy's), code unavailable with any 5xx status (Apache's 502 and 504
    error pages), and a 502 or 504 without creditd's JSON error (the web
    server could not reach creditd). The client retries these by itself
    first (see max_retries), with the call's one Idempotency-Key."""

    retried = True


class StripeNotConfigured(Unavailable):
    """503 stripe_not_configured: a top-up while creditd has no Stripe key (not retried)."""

    retried = False


class ProviderNotConfigured(Unavailable):
    """503 provider_not_configured: the gateway has no key for the provider (not retried)."""

    retried = False


class ConnectionFailed(CreditdError):
    """No answer: connection refused, reset or timed out, DNS failure. status is None.

    The client retries these by itself first, with the same Idempotency-Key.
    For a settle this means the outcome is unknown: settling again with the
    same figures is safe (creditd returns the first result)."""

    reason: object
    retried = True

    def __init__(self, reason: object) -> None:
        super().__init__(None, None, None, "cannot reach creditd: %s" % (reason,))
        self.reason = reason


class BadSignature(ValueError):
    """A pushed event whose Creditd-Signature does not check out."""


# Former names, kept so that existing apps go on working (clients/vocabulary.json).
BadRequest = InvalidRequest
MonthlyLimitReached = BillingHardLimitReached

# Every code of creditd's error table, with the status it comes with
# (src/core/errors.c; clients/vocabulary.json holds the three clients to it).
_BY_CODE: Dict[str, Tuple[int, Type[CreditdError]]] = {
    "invalid_request": (400, InvalidRequest),
    "unauthorized": (401, Unauthorized),
    "insufficient_credits": (402, InsufficientCredits),
    "forbidden": (403, Forbidden),
    "account_suspended": (403, AccountSuspended),
    "not_found": (404, NotFound),
    "method_not_allowed": (405, InvalidRequest),
    "request_timeout": (408, InvalidRequest),
    "conflict": (409, Conflict),
    "already_redeemed": (409, AlreadyRedeemed),
    "promo_exhausted": (409, PromoExhausted),
    "promo_expired": (409, PromoExpired),
    "payload_too_large": (413, PayloadTooLarge),
    "unsupported_media_type": (415, InvalidRequest),
    "billing_hard_limit_reached": (429, BillingHardLimitReached),
    "daily_limit_reached": (429, DailyLimitReached),
    "member_cap_reached": (429, MemberCapReached),
    "rate_limit_exceeded": (429, RateLimited),
    "internal_error": (500, ServerError),
    "upstream_error": (502, UpstreamError),
    "unavailable": (503, Unavailable),
    "gateway_busy": (503, Unavailable),
    "stripe_not_configured": (503, StripeNotConfigured),
    "provider_not_configured": (503, ProviderNotConfigured),
}

# A code that is its class with any 5xx status: a web server's error page
# naming it (Apache's ErrorDocument answers 502 and 504 with unavailable).
_ANY_5XX: Dict[str, Type[CreditdError]] = {"unavailable": Unavailable}

# An answer without a code, not creditd's JSON error (a web server's own
# page): nginx's limit_req 429 is a rate limit, not a spending limit; a 502,
# 503 or 504 is the web server not reaching creditd, as good as no answer.
_WITHOUT_CODE: Dict[int, Type[CreditdError]] = {429: RateLimited, 502: Unavailable, 503: Unavailable,
                                                504: Unavailable}

# An answer with a code this client does not know (a newer creditd's), or
# with another status, or without a code and a status not above: by its status.
_BY_STATUS: Dict[int, Type[CreditdError]] = {
    400: InvalidRequest, 401: Unauthorized, 402: InsufficientCredits, 403: Forbidden, 404: NotFound,
    405: InvalidRequest, 408: InvalidRequest, 409: Conflict, 413: PayloadTooLarge, 415: InvalidRequest,
    429: LimitReached, 500: ServerError, 502: UpstreamError, 503: Unavailable,
}


def error_class(status: int, code: Optional[str]) -> Type[CreditdError]:
    """The class of an error answer: its code's when creditd names a code
    with that status, or the code is `unavailable` and the status any 5xx;
    without a code (None: not creditd's JSON error, a web server's page), a
    429 is RateLimited and a 502, 503 or 504 Unavailable; else its status's
    (any other 4xx InvalidRequest, 5xx ServerError), else CreditdError."""
    known = _BY_CODE.get(code) if code is not None else None
    if known is not None and known[0] == status:
        return known[1]
    if code is not None and code in _ANY_5XX and 500 <= status < 600:
        return _ANY_5XX[code]
    if code is None and status in _WITHOUT_CODE:
        return _WITHOUT_CODE[status]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 400 <= status < 500:
        return InvalidRequest
    return ServerError if 500 <= status < 600 else CreditdError


def error_for(status: int, body: Any = None, headers: Optional[Mapping[str, str]] = None,
              message: Optional[str] = None) -> CreditdError:
    """The exception for an error answer (see error_class)."""
    code = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        found = body["error"].get("code")
        code = found if isinstance(found, str) else None
    return error_class(status, code)(status, body, headers, message)
