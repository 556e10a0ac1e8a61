"""creditd: a Python client for creditd's HTTP API (server to server).

Python 3.8+, standard library only.

    from creditd import Creditd, InsufficientCredits, LimitReached

    credits = Creditd("https://billing.example.com/credits", GUARD_KEY)
    with credits.guard("alice", "chat-42", "gpt-4o", input_tokens=1200, max_output_tokens=800) as hold:
        reply = openai.chat.completions.create(..., max_tokens=hold.max_output_tokens)
        hold.openai_response(reply)

Every method returns the decoded JSON answer (a dict). Any non-2xx answer
raises CreditdError or one of its subclasses; no answer raises
ConnectionFailed (both after the client's own retries of 503 and network
errors). Amounts are integer micros (1 EUR = 1,000,000).
"""
from .client import CLEAR, VERSION, Creditd, JSONObject
from .errors import (AccountSuspended, AlreadyRedeemed, BadRequest, BadSignature, ConnectionFailed, Conflict,
                     CreditdError, DailyLimitReached, Forbidden, InsufficientCredits, LimitReached, MemberCapReached,
                     MonthlyLimitReached, NotFound, PayloadTooLarge, PromoExhausted, PromoExpired, RateLimited,
                     StripeNotConfigured, Unauthorized, Unavailable, UpstreamError, error_for)
from .events import DEFAULT_TOLERANCE, sign_event, verify_event
from .guard import CHARS_PER_TOKEN, Guard, Produced, anthropic_usage, guard, openai_usage

__version__ = VERSION

__all__ = [
    "Creditd", "CLEAR", "JSONObject", "Guard", "guard", "Produced", "CHARS_PER_TOKEN", "openai_usage",
    "anthropic_usage", "verify_event", "sign_event", "DEFAULT_TOLERANCE", "CreditdError", "BadRequest",
    "Unauthorized", "Forbidden", "AccountSuspended", "NotFound", "Conflict", "AlreadyRedeemed", "PromoExhausted",
    "PromoExpired", "InsufficientCredits", "LimitReached", "MonthlyLimitReached", "DailyLimitReached",
    "MemberCapReached", "RateLimited", "PayloadTooLarge", "UpstreamError", "Unavailable", "StripeNotConfigured",
    "ConnectionFailed", "BadSignature", "error_for", "__version__",
]
