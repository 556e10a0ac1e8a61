"""gateway_bill.py: the charge a gateway test expects (test_85, test_86),
worked out from what the fake provider's answer stated (its record's
usage, tests/fake_provider.md) at prices the test writes down as
literals, with the margin of the stack's price list. Never from creditd's
usage records nor from its price list (GET /v1/models): a token count
recorded wrong, or a price imported into the wrong column, would then
be in the figures and in the expectation alike, and cancel out.

Prices are in micros per million tokens (a web search: micros a call),
as etc/prices.csv writes them; a tier's own token prices in a dict of
their own. A dimension the call used whose price the literal row lacks
is a KeyError: the test said nothing of it, and no fallback guesses."""
from lib import check
from test_80_gateway import provider

# test_80_gateway.PRICES, the price list ensure_prices() imports:
# margin,10500 (+5 %), and its rows, written again here.
MARGIN_BPS = 10500
BASE = {
    "gpt-4o-mini": {"input": 150000, "cached": 75000, "output": 600000},
    "claude-haiku-4-5": {"input": 1000000, "cached": 100000, "output": 5000000},
}


def last_reported():
    """The usage the fake provider's answer to the last call forwarded
    (the last POST it was sent) stated; None when it stated none."""
    sent = [r for r in provider("GET", "/_requests") if r["method"] == "POST" and not r["path"].startswith("/_")]
    check(sent, "the provider was sent a call")
    return sent[-1]["usage"]


def all_reported():
    """The usage of every call the fake provider answered since its
    reset, in the order it was sent them."""
    return [r["usage"] for r in provider("GET", "/_requests")
            if r["method"] == "POST" and not r["path"].startswith("/_")]


def _at(tokens, row, name):
    """tokens at row's price name; no price is looked up for none."""
    return tokens * row[name] if tokens else 0


def raw_cost(row, u, tier=None, search_size=None):
    """DESIGN §3's sum before the margin, in micros × 10^6, of usage u (the
    provider's figures) at the literal row: the input not cached, written
    or audio at the input price, each other kind at its own, the output
    not audio at the output price; tier (a key of row): that tier's token
    prices for input, cached input and output; searches at the row's fee
    (web_search, or web_search_SIZE)."""
    t = row[tier] if tier else row
    plain = u["input_tokens"] - u["cached_input_tokens"] - u["cache_write_input_tokens"] - u["audio_input_tokens"]
    w1h = u["cache_write_1h_tokens"]
    fee = "web_search_" + search_size if search_size else "web_search"
    return (_at(plain, t, "input") + _at(u["audio_input_tokens"], row, "audio_input") +
            _at(u["cached_input_tokens"], t, "cached") +
            _at(u["cache_write_input_tokens"] - w1h, row, "cache_write") + _at(w1h, row, "cache_write_1h") +
            _at(u["output_tokens"] - u["audio_output_tokens"], t, "output") +
            _at(u["audio_output_tokens"], row, "audio_output") + _at(u["web_searches"], row, fee) * 10 ** 6)


def charge(raw):
    """§3's one rounding: ceil(raw × margin / 10^10) micros."""
    return -(-raw * MARGIN_BPS // 10 ** 10)


def expected(row, u, tier=None, search_size=None):
    """The micros a call whose provider stated u is charged at row."""
    check(u is not None, "the provider stated a usage")
    return charge(raw_cost(row, u, tier, search_size))
