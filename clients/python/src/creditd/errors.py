"""The errors creditd answers, one class per status and code.

Every error answer of creditd is {"error": {"type", "code", "message",
"param", ...}}; error_for() picks the class from the status and the code.
"""
from typing import Any, Dict, Mapping, Optional, Type

__all__ = [
    "CreditdError", "BadRequest", "Unauthorized", "Forbidden", "AccountSuspended", "NotFound", "Conflict",
    "AlreadyRedeemed", "PromoExhausted", "PromoExpired", "InsufficientCredits", "LimitReached",
    "MonthlyLimitReached", "DailyLimitReached", "MemberCapReached", "RateLimited", "PayloadTooLarge",
    "UpstreamError", "Unavailable", "StripeNotConfigured", "ConnectionFailed", "BadSignature", "error_for",
]


def _parse_retry_after(value: Optional[str]) -> Optional[int]:
    """Retry-After in seconds (creditd sends delta-seconds); None when absent or not a number."""
    if value is None:
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class CreditdError(Exception):
    """An error answer of creditd, or no answer at all (ConnectionFailed).

    status: the HTTP status (None when no answer came); type, code, message,
    param: the error object's fields; body: the whole decoded answer (None
    when it was not JSON); headers: the answer's headers, names in lower
    case; available_micros, required_micros: on 402/429 refusals of the
    guard, else None; retry_after: the Retry-After header in seconds, or None.
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
        self.retry_after = _parse_retry_after(self.headers.get("retry-after"))
        where = "no answer" if status is None else str(status)
        param = " (param %s)" % self.param if self.param else ""
        super().__init__("%s %s: %s%s" % (where, self.code or "error", self.message, param))


class BadRequest(CreditdError):
    """400 invalid_request (param names the field), also 415 unsupported_media_type."""


class Unauthorized(CreditdError):
    """401 unauthorized: no key, or a wrong one."""


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


class InsufficientCredits(CreditdError):
    """402 insufficient_credits: not enough available credit (available_micros, required_micros)."""


class LimitReached(CreditdError):
    """429 of a spending limit (type insufficient_quota); the subclasses name which.

    Not a rate limit: that is RateLimited."""


class MonthlyLimitReached(LimitReached):
    """429 billing_hard_limit_reached: the account's monthly limit."""


class DailyLimitReached(LimitReached):
    """429 daily_limit_reached: the account's daily limit."""


class MemberCapReached(LimitReached):
    """429 member_cap_reached: the workspace member's monthly cap."""


class RateLimited(CreditdError):
    """429 rate_limit_exceeded (requests or tokens per minute, top-ups per hour);
    retry_after: seconds to wait (Retry-After). Nothing was held or charged."""


class PayloadTooLarge(CreditdError):
    """413 payload_too_large."""


class UpstreamError(CreditdError):
    """502 upstream_error: Stripe failed or timed out."""


class Unavailable(CreditdError):
    """503 unavailable: the database is unreachable (retry_after from Retry-After).
    The client retries these by itself first (see Creditd's max_retries)."""


class StripeNotConfigured(Unavailable):
    """503 stripe_not_configured: a top-up while creditd has no Stripe key (not retried)."""


class ConnectionFailed(CreditdError):
    """No answer: connection refused, reset or timed out, DNS failure. status is None.

    The client retries these by itself first, with the same Idempotency-Key.
    For a settle this means the outcome is unknown: settling again with the
    same figures is safe (creditd returns the first result)."""

    reason: object

    def __init__(self, reason: object) -> None:
        super().__init__(None, None, None, "cannot reach creditd: %s" % (reason,))
        self.reason = reason


class BadSignature(ValueError):
    """A pushed event whose Creditd-Signature does not check out."""


_BY_CODE: Dict[str, Type[CreditdError]] = {
    "account_suspended": AccountSuspended,
    "already_redeemed": AlreadyRedeemed,
    "promo_exhausted": PromoExhausted,
    "promo_expired": PromoExpired,
    "billing_hard_limit_reached": MonthlyLimitReached,
    "daily_limit_reached": DailyLimitReached,
    "member_cap_reached": MemberCapReached,
    "rate_limit_exceeded": RateLimited,
    "stripe_not_configured": StripeNotConfigured,
}

_BY_STATUS: Dict[int, Type[CreditdError]] = {
    400: BadRequest, 401: Unauthorized, 402: InsufficientCredits, 403: Forbidden, 404: NotFound,
    409: Conflict, 413: PayloadTooLarge, 415: BadRequest, 429: LimitReached, 502: UpstreamError,
    503: Unavailable,
}


def error_for(status: int, body: Any = None, headers: Optional[Mapping[str, str]] = None,
              message: Optional[str] = None) -> CreditdError:
    """The exception for an error answer: by code when creditd named one this
    client knows (and it fits the status), else by status, else CreditdError."""
    code = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
    cls = _BY_STATUS.get(status, CreditdError)
    by_code = _BY_CODE.get(code) if isinstance(code, str) else None
    if by_code is not None and issubclass(by_code, cls):
        cls = by_code
    elif by_code is RateLimited and status == 429:
        cls = RateLimited
    return cls(status, body, headers, message)
