"""test_86_gateway_dimensions.py: the gateway charges what the provider
bills (DESIGN §14): a model whose price row prices a service tier, 1-hour
cache writes, audio tokens or web searches is forwarded a request asking
for them, held at the worst case of what it asked, and charged to the
micro at the row's prices for what the provider's usage says it used
(the tier served, the 1-hour writes, the audio tokens, the searches run),
whole and streamed, OpenAI and Anthropic. Usage the row does not price
(a tier served that was not asked) is charged at the standard price and
flagged over_hold, never dropped."""
import json

from gateway_bill import MARGIN_BPS, expected, last_reported
from lib import eq, check, new_account, sql, verify, wait_until
from test_80_gateway import call, chat, ensure_prices, forwarded, import_prices, messages, mode, reasons, reset, state

GPT = {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06,
       "cache_read_input_token_cost": 1.25e-06, "output_cost_per_token": 1e-05, "max_output_tokens": 4000,
       "input_cost_per_token_priority": 5e-06, "cache_read_input_token_cost_priority": 2.5e-06,
       "output_cost_per_token_priority": 2e-05, "input_cost_per_token_flex": 1.25e-06,
       "cache_read_input_token_cost_flex": 6.25e-07, "output_cost_per_token_flex": 5e-06,
       "input_cost_per_audio_token": 4e-05, "output_cost_per_audio_token": 8e-05,
       "search_context_cost_per_query": {"search_context_size_low": 0.005, "search_context_size_medium": 0.008,
                                         "search_context_size_high": 0.01}}
CLAUDE = {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
          "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06,
          "cache_creation_input_token_cost_above_1hr": 6e-06, "output_cost_per_token": 1.5e-05,
          "max_output_tokens": 4000, "search_context_cost_per_query": {"search_context_size_low": 0.01,
                                                                      "search_context_size_medium": 0.01,
                                                                      "search_context_size_high": 0.01}}


def _price():
    ensure_prices()
    import_prices({"gpt-dims": GPT, "claude-dims": CLAUDE}, "--force")


# GPT and CLAUDE above, written again in micros a million tokens (LiteLLM's
# dollars a token × 10^12; a search's dollars × 10^6 micros a call): what
# the charges are held to, not what creditd says it imported.
PRICE = {
    "gpt-dims": {"input": 2500000, "cached": 1250000, "output": 10000000,
                 "priority": {"input": 5000000, "cached": 2500000, "output": 20000000},
                 "flex": {"input": 1250000, "cached": 625000, "output": 5000000},
                 "audio_input": 40000000, "audio_output": 80000000,
                 "web_search_low": 5000, "web_search_medium": 8000, "web_search_high": 10000},
    "claude-dims": {"input": 3000000, "cached": 300000, "cache_write": 3750000, "cache_write_1h": 6000000,
                    "output": 15000000, "web_search": 10000},
}


def want(model, u, tier=None, size=None):
    """§3's formula over every dimension (DESIGN §14), in Python, of the
    usage u the provider stated, at the literal prices above:
    ceil(raw × margin / 10^10), once."""
    return expected(PRICE[model], u, tier, size)


def _usage(acct):
    return sql("SELECT u.input_tokens, u.cached_input_tokens, u.cache_write_input_tokens, u.output_tokens, "
               "u.cost_micros, u.over_hold FROM usage_records u JOIN accounts a ON a.id = u.account_id "
               "WHERE a.ext_id = '%s' ORDER BY u.id" % acct)


def _last(acct, n):
    """The n-th call's usage record (its cost and over_hold) and the usage
    the provider stated for it: the record must hold the provider's
    figures; the cost is held to them by the caller."""
    said = last_reported()
    check(wait_until(lambda: len(reasons(acct)) == n, timeout=10), "%d calls settled" % n)
    inp, cached, write, out, cost, over = (int(x) for x in _usage(acct)[-1])
    return said, (inp, cached, write, out), cost, over


def _recorded(said, figures):
    eq(figures, (said["input_tokens"], said["cached_input_tokens"], said["cache_write_input_tokens"],
                 said["output_tokens"]), "the usage record holds the provider's figures")


def test_service_tiers_are_held_and_charged_at_the_tier_served():
    _price()
    reset()
    acct = new_account("gwtier")
    for k, (asked, served) in enumerate((("priority", "priority"), ("flex", "flex"), ("auto", "priority"),
                                         ("auto", "default"), (None, "priority")), 1):
        mode(output_tokens=20, service_tier=served, count=1)
        body = {"model": "gpt-dims", "max_completion_tokens": 50, "messages": [{"role": "user", "content": "hi there"}]}
        if asked:
            body["service_tier"] = asked
        r = chat(acct, body)
        eq(r.status, 200, "%s asked: %r" % (asked, r.body[:200]))
        said, figures, cost, over = _last(acct, k)
        eq(said["service_tier"], served, "the provider says it served %s" % served)
        tier = served if served in ("priority", "flex") else None
        eq(cost, want("gpt-dims", said, tier=tier), "asked %s, served %s: the served tier's prices" %
           (asked, served))
        _recorded(said, figures)
        eq(int(r.headers["creditd-charged-micros"]), cost, "the answer says so")
        # OpenAI's auto, as a tier left out, is the project's default tier
        # (standard here): priority served beyond it is charged and flagged.
        eq(over, 1 if asked in (None, "auto") and served == "priority" else 0, "a dearer tier than asked is flagged")
        _billed(r, service_tier=tier or "standard", long_context=False, web_search_calls=0)
    verify()


def _billed(r, **want):
    """GET /v1/holds/{hold_id}'s usage shows what the call was charged for
    beyond its tokens (kept on its usage record after the settle)."""
    from lib import api
    got = {}

    def shown():
        got.update(api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["usage"] or {})
        return all(got.get(k) == v for k, v in want.items())
    check(wait_until(shown, timeout=10), "the hold's usage shows %r: %r" % (want, got))


def _held(r):
    from lib import api
    return api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["held_micros"]


def test_the_hold_covers_the_worst_case_of_what_was_asked():
    """Held at the tier asked (OpenAI's auto: the project's default tier), with the
    searches' fees for the most searches asked (else [gateway]
    max_tool_calls_held, 5) on top."""
    _price()
    reset()
    acct = new_account("gwworst")
    body = {"model": "gpt-dims", "max_completion_tokens": 50, "messages": [{"role": "user", "content": "hi there"}]}
    base = _held(chat(acct, body))
    pri, auto, flex = (_held(chat(acct, dict(body, service_tier=t))) for t in ("priority", "auto", "flex"))
    # (the input bound counts the body's bytes: "auto" is shorter than "priority")
    check(pri > 19 * base // 10, "priority held at twice the standard: %d, %d" % (base, pri))
    # OpenAI's "auto" is the project's default tier ([gateway]
    # default_service_tier, default): held at the standard prices.
    check(auto < 6 * base // 5 < pri, "auto held at the project's default, standard: %d, %d, %d" % (base, auto, pri))
    check(flex < base, "flex at its own, lower prices: %d < %d" % (flex, base))
    rbody = {"model": "gpt-dims", "input": "news?", "max_output_tokens": 50}
    margin = MARGIN_BPS
    # a search named at no size is held at the medium size's fee (the
    # provider's default), not the dearest
    fee = PRICE["gpt-dims"]["web_search_medium"]
    plain = _held(call("/openai/v1/responses", rbody, headers={"Creditd-Account": acct}))
    # Responses' max_tool_calls is no member of the pinned SDK's request
    # type: the gateway's table refuses it (docs/gateway.md); the bound of
    # a Responses search is max_tool_calls_held.
    r = call("/openai/v1/responses", dict(rbody, max_tool_calls=3, tools=[{"type": "web_search"}]),
             headers={"Creditd-Account": acct})
    eq((r.status, r.json["error"]["param"]), (400, "max_tool_calls"), "refused: %r" % r.body[:200])
    three = _held(messages(acct, {"model": "claude-dims", "max_tokens": 50, "messages": [{"role": "user", "content": "news?"}],
                                  "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]}))
    plain_a = _held(messages(acct, {"model": "claude-dims", "max_tokens": 50,
                                    "messages": [{"role": "user", "content": "news?"}]}))
    five = _held(call("/openai/v1/responses", dict(rbody, tools=[{"type": "web_search"}]),
                      headers={"Creditd-Account": acct}))
    # (the tools member adds a few bytes to the input bound too)
    fees5 = 5 * fee * margin // 10000
    fee_a = PRICE["claude-dims"]["web_search"]
    fees3 = 3 * fee_a * margin // 10000
    check(fees3 <= three - plain_a <= fees3 + fees3 // 20,
          "max_uses 3: three searches' fees held: %d (fees %d)" % (three - plain_a, fees3))
    check(fees5 <= five - plain <= fees5 + fees5 // 20,
          "no max: max_tool_calls_held (5) searches held: %d (fees %d)" % (five - plain, fees5))
    verify()


def test_one_hour_cache_writes_are_charged_at_their_price():
    _price()
    reset()
    acct = new_account("gw1h")
    body = {"model": "claude-dims", "max_tokens": 50, "system": [{"type": "text", "text": "long system prompt " * 20,
                                                                  "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [{"role": "user", "content": "hi"}]}
    for k, stream in enumerate((False, True), 1):
        mode(output_tokens=10, cache_creation_tokens=30, cache_1h_tokens=20, count=1)
        r = messages(acct, dict(body, stream=True) if stream else body)
        eq(r.status, 200, "forwarded: %r" % r.body[:200])
        said, figures, cost, over = _last(acct, k)
        eq((said["cache_write_input_tokens"], said["cache_write_1h_tokens"]), (30, 20),
           "the provider wrote 30, 20 of them for an hour")
        eq(over, 0, "30 cache writes, within what was asked")
        eq(cost, want("claude-dims", said), "20 of them at the 1-hour price (%s)" % ("streamed" if stream else "whole"))
        _recorded(said, figures)
        _billed(r, cache_write_input_tokens=30, cache_write_1h_tokens=20)
    verify()


def test_web_searches_are_held_and_charged_a_fee_each():
    _price()
    reset()
    acct = new_account("gwsearch")
    before, _ = state(acct)
    tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    mode(output_tokens=10, web_searches=2, count=1)
    r = messages(acct, {"model": "claude-dims", "max_tokens": 50, "tools": [tool],
                        "messages": [{"role": "user", "content": "news?"}]})
    eq(r.status, 200, "Anthropic: forwarded")
    said, figures, cost, over = _last(acct, 1)
    eq(said["web_searches"], 2, "the provider ran two searches")
    eq(cost, want("claude-dims", said), "two searches at a cent each")
    _recorded(said, figures)
    eq(over, 0, "within the 3 held")
    _billed(r, web_search_calls=2)
    mode(output_tokens=10, web_searches=6, count=1)
    r = call("/openai/v1/responses", {"model": "gpt-dims", "input": "news?", "max_output_tokens": 50,
                                      "tools": [{"type": "web_search"}], "stream": True},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "Responses streamed: forwarded")
    said, figures, cost, over = _last(acct, 2)
    eq(said["web_searches"], 6, "the provider ran six searches")
    _recorded(said, figures)
    eq(cost, want("gpt-dims", said, size="medium"),
       "six web_search_call items at the medium size's fee (none named: the provider's default)")
    eq(over, 1, "more searches than the 5 held (max_tool_calls_held): charged, flagged")
    _billed(r, web_search_calls=6, service_tier="standard")
    eq(state(acct)[1], 0, "nothing left held")
    check(state(acct)[0] < before, "charged")
    verify()


def test_audio_tokens_are_charged_at_the_audio_prices():
    _price()
    reset()
    acct = new_account("gwaudio")
    mode(output_tokens=20, audio_input_tokens=2, audio_output_tokens=15, count=1)
    r = chat(acct, {"model": "gpt-dims", "max_completion_tokens": 50, "modalities": ["text", "audio"],
                    "audio": {"voice": "alloy", "format": "wav"},
                    "messages": [{"role": "user", "content": "say hello there"}]})
    eq(r.status, 200, "forwarded: %r" % r.body[:200])
    said, figures, cost, over = _last(acct, 1)
    eq((said["audio_input_tokens"], said["audio_output_tokens"]), (2, 15), "the provider's audio tokens")
    eq(cost, want("gpt-dims", said), "audio in and out at their prices, to the micro")
    _recorded(said, figures)
    _billed(r, audio_input_tokens=2, audio_output_tokens=15)
    eq(over, 0, "asked")
    verify()


def test_a_dimension_the_row_does_not_price_is_still_refused():
    _price()
    reset()
    acct = new_account("gwnodim")
    before = state(acct)
    from test_80_gateway import anthropic_error, openai_error
    openai_error(chat(acct, {"model": "gpt-4o-mini", "service_tier": "priority",
                             "messages": [{"role": "user", "content": "x"}]}), 400, "invalid_request", "service_tier")
    anthropic_error(messages(acct, {"model": "claude-dims", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}]}], "tools": [{"type": "code_execution_20250522", "name": "code_execution"}]}),
        400, "invalid_request_error")
    openai_error(chat(acct, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}), 400, "invalid_request",
        "input_audio")
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held")
    verify()


def test_a_call_cut_before_its_usage_is_estimated_at_the_worst_case_asked():
    """A stream cut before its usage (a client that leaves, a provider that
    drops it) is estimated: at the tier it asked (not the standard price)
    and with the searches it was held for, never less than asked."""
    _price()
    reset()
    acct = new_account("gwcut")
    mode(mode="cut", output_tokens=20, cut_after=3, count=1)
    r = chat(acct, {"model": "gpt-dims", "max_completion_tokens": 50, "service_tier": "priority", "stream": True,
                    "messages": [{"role": "user", "content": "hi there"}]})
    eq(r.status, 200, "the stream began")
    said, (inp, cached, write, out), cost, over = _last(acct, 1)
    eq(said, None, "the provider stated no usage")
    eq(reasons(acct), ["estimated"], "estimated")
    # docs/gateway.md, "The estimate": the output is a token per four
    # ASCII bytes of the text the provider sent (here all the client got),
    # the input the hold's input bound (no provider figure: Chat has no
    # message_start). The hold was of that bound and the 50 asked, at the
    # priority prices; the charge is of the same bound and the output sent,
    # at the same prices: held less the output not sent at the priority
    # output price (each a whole number of micros: one rounding apiece).
    chunks = [json.loads(e) for e in r.events() if e != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    eq(text, "w0 w1 w2 ", "the three words sent before the cut")
    sent = -(-len(text.encode()) // 4)
    eq(out, sent, "the output estimated from the bytes sent")
    unsent = (50 - sent) * PRICE["gpt-dims"]["priority"]["output"] * MARGIN_BPS
    eq(unsent % 10 ** 10, 0, "(the output's share of the hold is a whole number of micros)")
    eq(cost, _held(r) - unsent // 10 ** 10, "held less the output never sent, at the priority prices it asked")
    verify()
