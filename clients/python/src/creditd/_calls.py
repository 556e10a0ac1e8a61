"""Every route a client calls, once: its method, path, body and answer type.

The sync client (client.Creditd) and the asyncio one (aio.AsyncCreditd)
both send these, so the two cannot disagree on a path or a field. A Call
is only a description; nothing here touches the network.
"""
import urllib.parse
from typing import Any, Dict, Generic, Mapping, Optional, Sequence, TypeVar, Union

from .answers import (Account, Alerts, BrowserToken, Checkout, EventPage, GrantResult, Health, Hold, Member,
                      MemberDeleted, Models, Plan, PlanList, PromoCode, Redemption, ReferralCode, Release, Settlement,
                      TransactionPage, TransactionResult, UsageCharge, UsageReport)

__all__ = ["Call", "CLEAR", "Clear"]

T = TypeVar("T")


class Clear:
    """The type of CLEAR: a field value sent as JSON null."""

    _instance: Optional["Clear"] = None

    def __new__(cls) -> "Clear":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = Clear()
"""None means "do not send this field". Pass CLEAR where the API gives null a
meaning, e.g. patch_account(id, monthly_limit_micros=CLEAR) removes the limit."""


class Call(Generic[T]):
    """One request to send; T is the type of its answer."""

    __slots__ = ("method", "path", "body", "query", "idempotency_key", "auth")

    def __init__(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                 query: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None,
                 auth: bool = True) -> None:
        self.method = method
        self.path = path
        self.body = body
        self.query = query
        self.idempotency_key = idempotency_key
        self.auth = auth

    def __repr__(self) -> str:
        return "Call(%s %s)" % (self.method, self.path)


def _q(value: object) -> str:
    """One URL path segment: every reserved character escaped."""
    return urllib.parse.quote(str(value), safe="")


def _account(id: str, tail: str = "") -> str:
    return "/v1/accounts/" + _q(id) + tail


def fields(**given: Any) -> Dict[str, Any]:
    """The JSON body: None values dropped, CLEAR sent as null."""
    return {k: (None if v is CLEAR else v) for k, v in given.items() if v is not None}


def healthz() -> "Call[Health]":
    return Call("GET", "/healthz", auth=False)


def models() -> "Call[Models]":
    return Call("GET", "/v1/models")


def plans() -> "Call[PlanList]":
    return Call("GET", "/v1/plans")


def put_plan(name: str, credits_micros: int, rollover: str, key: Optional[str], more: Dict[str, Any]) -> "Call[Plan]":
    return Call("PUT", "/v1/plans/" + _q(name), fields(credits_micros=credits_micros, rollover=rollover, **more),
                idempotency_key=key)


def create_promo_code(code: str, amount_micros: int, key: Optional[str], more: Dict[str, Any]) -> "Call[PromoCode]":
    return Call("POST", "/v1/promo_codes", fields(code=code, amount_micros=amount_micros, **more), idempotency_key=key)


def create_account(id: str, kind: str, key: Optional[str], more: Dict[str, Any]) -> "Call[Account]":
    return Call("POST", "/v1/accounts", fields(id=id, kind=kind, **more), idempotency_key=key)


def get_account(id: str) -> "Call[Account]":
    return Call("GET", _account(id))


def patch_account(id: str, key: Optional[str], more: Dict[str, Any]) -> "Call[Account]":
    return Call("PATCH", _account(id), fields(**more), idempotency_key=key)


def transactions(id: str, limit: Optional[int], cursor: Optional[str]) -> "Call[TransactionPage]":
    return Call("GET", _account(id, "/transactions"), query={"limit": limit, "cursor": cursor})


def usage(id: str, from_: Optional[str], to: Optional[str], group_by: Optional[str]) -> "Call[UsageReport]":
    return Call("GET", _account(id, "/usage"), query={"from": from_, "to": to, "group_by": group_by})


def grant(id: str, amount_micros: int, source: str, key: Optional[str], more: Dict[str, Any]) -> "Call[GrantResult]":
    return Call("POST", _account(id, "/grants"), fields(amount_micros=amount_micros, source=source, **more),
                idempotency_key=key)


def debit(id: str, amount_micros: int, reason: str, key: Optional[str]) -> "Call[TransactionResult]":
    return Call("POST", _account(id, "/debits"), fields(amount_micros=amount_micros, reason=reason),
                idempotency_key=key)


def add_member(id: str, member: str, monthly_cap_micros: Union[int, Clear, None], key: Optional[str]) -> "Call[Member]":
    return Call("POST", _account(id, "/members"), fields(member=member, monthly_cap_micros=monthly_cap_micros),
                idempotency_key=key)


def remove_member(id: str, member: str, key: Optional[str]) -> "Call[MemberDeleted]":
    return Call("DELETE", _account(id, "/members/" + _q(member)), idempotency_key=key)


def topup(id: str, amount_cents: int, success_url: Optional[str], cancel_url: Optional[str], key: Optional[str],
          save_card: Optional[bool]) -> "Call[Checkout]":
    return Call("POST", _account(id, "/topup"), fields(amount_cents=amount_cents, success_url=success_url,
                                                        cancel_url=cancel_url, save_card=save_card),
                idempotency_key=key)


def redeem(id: str, code: str, key: Optional[str]) -> "Call[Redemption]":
    return Call("POST", _account(id, "/redeem"), {"code": code}, idempotency_key=key)


def set_alerts(id: str, alerts: Sequence[Mapping[str, Any]]) -> "Call[Alerts]":
    if isinstance(alerts, (str, bytes, Mapping)) or not isinstance(alerts, Sequence):
        raise TypeError("alerts must be a list of {kind, pct | micros, member?}")
    return Call("PUT", _account(id, "/alerts"), {"alerts": [dict(a) for a in alerts]})


def get_alerts(id: str) -> "Call[Alerts]":
    return Call("GET", _account(id, "/alerts"))


def referral_code(id: str) -> "Call[ReferralCode]":
    return Call("GET", _account(id, "/referral_code"))


def browser_token(id: str, ttl_seconds: Optional[int], member: Optional[str]) -> "Call[BrowserToken]":
    return Call("POST", _account(id, "/browser_tokens"), fields(ttl_seconds=ttl_seconds, member=member))


def events(after: Optional[int], limit: Optional[int]) -> "Call[EventPage]":
    return Call("GET", "/v1/events", query={"after": after, "limit": limit})


def authorize(key: Optional[str], body: Dict[str, Any]) -> "Call[Hold]":
    return Call("POST", "/v1/guard/authorize", fields(**body), idempotency_key=key)


def settle(hold_id: str, input_tokens: int, output_tokens: int, key: Optional[str],
           more: Dict[str, Any]) -> "Call[Settlement]":
    return Call("POST", "/v1/guard/settle", fields(hold_id=hold_id, input_tokens=input_tokens,
                                                   output_tokens=output_tokens, **more), idempotency_key=key)


def release(hold_id: str, key: Optional[str]) -> "Call[Release]":
    return Call("POST", "/v1/guard/release", {"hold_id": hold_id}, idempotency_key=key)


def record_usage(key: Optional[str], body: Dict[str, Any]) -> "Call[UsageCharge]":
    return Call("POST", "/v1/usage", fields(**body), idempotency_key=key)
