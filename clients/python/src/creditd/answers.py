"""The answers of creditd's routes as typed dicts (docs/openapi.yaml's schemas).

They are the decoded JSON as creditd sends it (plain dicts at run time):
the types only tell a type checker which fields each answer has. Fields
that creditd sends only in some answers are in a total=False part. Amounts
are integer micros (1 EUR = 1,000,000); timestamps RFC 3339 UTC strings.
"""
from typing import Any, Dict, List, Optional, TypedDict

__all__ = [
    "JSONObject", "Health", "ModelPrice", "ActionPrice", "Models", "AccountGrant", "AutoRecharge", "Collection",
    "Account", "JournalUsage", "Transaction", "TransactionPage", "TransactionResult", "UsageTotals", "UsageReport",
    "GrantResult", "Member", "MemberDeleted", "Checkout", "Redemption", "ReferralCode", "BrowserToken", "Plan", "PlanList",
    "PromoCode", "Event", "EventPage", "Hold", "Settlement", "Release", "UsageCharge", "Alert", "Alerts",
]

JSONObject = Dict[str, Any]
"""A decoded JSON object (what request() answers)."""


class Health(TypedDict):
    status: str


class ModelPrice(TypedDict):
    model: str
    # None: the model's general price; else the gateway provider whose own
    # price for the model this row is (docs/gateway.md, "Which price a
    # call is charged").
    provider: Optional[str]
    input_micros_per_mtok: int
    cached_input_micros_per_mtok: int
    cache_write_micros_per_mtok: int
    output_micros_per_mtok: int
    max_output_tokens: int
    # What a provider bills beyond the token prices (docs/api.md): None
    # when the price list does not give it (not priced).
    max_input_tokens: Optional[int]
    reasoning: Optional[bool]
    cache_write_1h_micros_per_mtok: Optional[int]
    tier_threshold_tokens: Optional[int]
    tier_input_micros_per_mtok: Optional[int]
    tier_output_micros_per_mtok: Optional[int]
    tier_cached_input_micros_per_mtok: Optional[int]
    tier_cache_write_micros_per_mtok: Optional[int]
    priority_input_micros_per_mtok: Optional[int]
    priority_output_micros_per_mtok: Optional[int]
    priority_cached_input_micros_per_mtok: Optional[int]
    flex_input_micros_per_mtok: Optional[int]
    flex_output_micros_per_mtok: Optional[int]
    flex_cached_input_micros_per_mtok: Optional[int]
    web_search_micros_per_call: Optional[int]
    input_audio_micros_per_mtok: Optional[int]
    output_audio_micros_per_mtok: Optional[int]


class ActionPrice(TypedDict):
    action: str
    price_micros: int


class Models(TypedDict):
    margin_bps: int
    currency: str
    data: List[ModelPrice]
    actions: List[ActionPrice]


class AccountGrant(TypedDict):
    id: str
    source: str
    remaining_micros: int
    priority: int
    expires_at: Optional[str]


class AutoRecharge(TypedDict):
    threshold_micros: int
    amount_cents: int


class Collection(TypedDict):
    period: str
    amount_micros: int
    state: str
    tries: int
    next_try_at: Optional[str]


class Account(TypedDict):
    id: str
    kind: str
    status: str
    status_reason: Optional[str]
    currency: str
    balance_micros: int
    reserved_micros: int
    available_micros: int
    month_spent_micros: int
    monthly_limit_micros: Optional[int]
    day_spent_micros: int
    daily_limit_micros: Optional[int]
    overdraft_limit_micros: int
    low_balance_micros: Optional[int]
    plan: Optional[str]
    period_start: Optional[str]
    period_end: Optional[str]
    grants: List[AccountGrant]
    auto_recharge: Optional[AutoRecharge]
    card_saved: bool
    requests_per_minute: Optional[int]
    tokens_per_minute: Optional[int]
    email: Optional[str]
    collection: Optional[Collection]
    created_at: str


class JournalUsage(TypedDict):
    model: Optional[str]
    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    member: Optional[str]
    byok: bool
    settle_reason: Optional[str]
    over_hold: bool
    usage_unknown: bool


class _TransactionRow(TypedDict):
    id: str
    amount_micros: int
    balance_after_micros: int
    cause: str
    source: Optional[str]
    reference: Optional[str]
    description: Optional[str]
    created_at: str
    usage: Optional[JournalUsage]


class Transaction(_TransactionRow, total=False):
    """A row of the journal; the URLs only on a Stripe top-up's row, once Stripe sent them."""

    receipt_url: str
    invoice_url: str
    invoice_pdf: str


class TransactionPage(TypedDict):
    data: List[Transaction]
    next_cursor: Optional[str]
    has_more: bool


class TransactionResult(TypedDict):
    """A journal row as written (a debit's answer, a grant's transaction)."""

    id: str
    amount_micros: int
    balance_after_micros: int
    cause: str
    source: Optional[str]
    reference: Optional[str]
    description: Optional[str]
    created_at: str
    account: str
    balance_micros: int
    available_micros: int


class UsageTotals(TypedDict):
    requests: int
    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    cost_micros: int
    by_settle_reason: Dict[str, int]


# "from" is a keyword: the functional form. data: one row per group, a
# UsageTotals with its key (model, day or member).
UsageReport = TypedDict("UsageReport", {
    "account": str, "currency": str, "from": str, "to": str, "group_by": str, "data": List[Dict[str, Any]],
    "total": UsageTotals,
})


class GrantResult(TypedDict):
    id: str
    account: str
    source: str
    amount_micros: int
    remaining_micros: int
    priority: int
    expires_at: Optional[str]
    description: Optional[str]
    balance_micros: int
    available_micros: int
    transaction: TransactionResult


class Member(TypedDict):
    account: str
    member: str
    monthly_cap_micros: Optional[int]
    month_spent_micros: int
    reserved_micros: int
    requests_per_minute: Optional[int]
    tokens_per_minute: Optional[int]


class MemberDeleted(TypedDict):
    account: str
    member: str
    deleted: bool


class Checkout(TypedDict):
    checkout_url: str
    session_id: str
    amount_cents: int
    currency: str
    credits_micros: int


class Redemption(TypedDict):
    grant_id: str
    account: str
    code: str
    amount_micros: int
    expires_at: Optional[str]
    balance_micros: int
    available_micros: int


class _AlertBase(TypedDict):
    kind: str
    state: str


class Alert(_AlertBase, total=False):
    """A threshold alert as set: pct (the _pct kinds) or micros
    (balance_below); member and members_fired for member_cap_pct; state
    "armed" or "fired"."""
    pct: int
    micros: int
    member: Optional[str]
    members_fired: int


class Alerts(TypedDict):
    alerts: List[Alert]


class ReferralCode(TypedDict):
    code: str


class BrowserToken(TypedDict):
    token: str
    expires_at: str


class Plan(TypedDict):
    name: str
    credits_micros: int
    rollover: str
    rollover_cap_micros: Optional[int]
    member_cap_micros: Optional[int]
    stripe_price_ids: List[str]


class PlanList(TypedDict):
    data: List[Plan]


class PromoCode(TypedDict):
    code: str
    amount_micros: int
    max_redemptions: Optional[int]
    redeemed: int
    expires_at: Optional[str]
    grant_ttl_days: Optional[int]
    created_at: Optional[str]


class Event(TypedDict):
    """data: the event type's fields (docs/api.md, Events)."""

    id: int
    type: str
    created_at: Optional[str]
    account: Optional[str]
    data: Dict[str, Any]


class EventPage(TypedDict):
    data: List[Event]
    next_after: int


class Hold(TypedDict):
    """max_output_tokens: the cap to give the model (None for an action's hold)."""

    hold_id: str
    amount_micros: int
    available_micros: int
    expires_at: str
    max_output_tokens: Optional[int]


class Settlement(TypedDict):
    hold_id: str
    account: str
    charged_micros: int
    released_micros: int
    balance_micros: int
    available_micros: int
    late: bool


class Release(TypedDict):
    hold_id: str
    account: str
    state: str
    released_micros: int
    balance_micros: int
    available_micros: int


class _UsageChargeBase(TypedDict):
    usage_id: str
    account: str
    charged_micros: int
    balance_micros: int
    available_micros: int
    replayed: bool


class UsageCharge(_UsageChargeBase, total=False):
    """forced: absent on a replay."""

    forced: bool
