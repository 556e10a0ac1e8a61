"""creditd: a Python client for creditd's HTTP API (server to server).

Python 3.8+, standard library only.

    from creditd import Creditd, InsufficientCredits, LimitReached

    credits = Creditd("https://billing.example.com/credits", GUARD_KEY)
    with credits.guard("alice", "chat-42", "gpt-4o", input_tokens=1200, max_output_tokens=800) as hold:
        reply = openai.chat.completions.create(..., max_tokens=hold.max_output_tokens)
        hold.openai_response(reply)

asyncio code: creditd.aio.AsyncCreditd (also importable from here), the
same methods awaited. Every method returns the decoded JSON answer, typed
(creditd.answers: TypedDicts). Any non-2xx answer raises CreditdError or one
of its subclasses; no answer raises ConnectionFailed (both after the
client's own retries of Unavailable and network errors). The error classes and
option names are the PHP and Node clients' too. Amounts are integer micros
(1 EUR = 1,000,000).
"""
from ._calls import CLEAR
from ._version import VERSION
from .aio import AsyncCreditd
from .answers import JSONObject
from .client import Creditd
from .errors import (AccountSuspended, AlreadyRedeemed, BadRequest, BadSignature, BillingHardLimitReached,
                     ConnectionFailed, Conflict, CreditdError, DailyLimitReached, Forbidden, InsufficientCredits,
                     InvalidRequest, LimitReached, MemberCapReached, MonthlyLimitReached, NotFound, PayloadTooLarge,
                     PromoExhausted, PromoExpired, ProviderNotConfigured, RateLimited, ServerError,
                     StripeNotConfigured, Unauthorized, Unavailable, UpstreamError, error_class, error_for)
from .events import DEFAULT_TOLERANCE, sign_event, verify_event
from .guard import CHARS_PER_TOKEN, AsyncGuard, Guard, Produced, anthropic_usage, guard, openai_usage

__version__ = VERSION

__all__ = [
    "Creditd", "AsyncCreditd", "CLEAR", "JSONObject", "VERSION", "Guard", "AsyncGuard", "guard", "Produced",
    "CHARS_PER_TOKEN", "openai_usage", "anthropic_usage", "verify_event", "sign_event", "DEFAULT_TOLERANCE",
    "CreditdError", "InvalidRequest", "PayloadTooLarge", "Unauthorized", "InsufficientCredits", "Forbidden",
    "AccountSuspended", "NotFound", "Conflict", "AlreadyRedeemed", "PromoExhausted", "PromoExpired", "LimitReached",
    "BillingHardLimitReached", "DailyLimitReached", "MemberCapReached", "RateLimited", "ServerError",
    "UpstreamError", "Unavailable", "StripeNotConfigured", "ProviderNotConfigured", "ConnectionFailed",
    "BadSignature", "BadRequest", "MonthlyLimitReached", "error_class", "error_for", "__version__",
]
