"""test_98c_gateway_dimensions_contract.py: what the gateway charges
beyond plain tokens, checked from outside (test_98c_gateway_core_contract.py
says how): a model priced by `creditctl price set` with a priority tier,
web-search fees and a fast-mode multiplier; calls asking for them held
and charged to the micro at those literal prices (docs/gateway.md "What
is billed and how creditd prices it", "Multipliers", "An omitted option is
the provider's default"; DESIGN §15), and the usage flags GET
/v1/holds/{id} shows (`over_hold`, `usage_unknown`)."""
import json

from gateway_bill import charge, last_reported
from lib import api, check, creditctl, eq, uid, wait_until
from test_80_gateway import call, chat, messages, mode, reset
from test_98c_gateway_core_contract import USER, account, get_hold, raw

# The literal row every test here prices (micros per million tokens; fees a call).
IN, CACHED, OUT = 1000000, 500000, 4000000
P_IN, P_CACHED, P_OUT = 2000000, 1000000, 8000000
SEARCH_DEAREST, SEARCH_MEDIUM = 30000, 20000
FAST_BPS = 60000


def priced(kind):
    """A new model of the route's kind, priced at the literals above."""
    model = uid(kind + "98dim")
    creditctl("price", "set", model, "input=%d" % IN, "cached_input=%d" % CACHED, "output=%d" % OUT,
              "max_output_tokens=1000", "priority_input=%d" % P_IN, "priority_cached_input=%d" % P_CACHED,
              "priority_output=%d" % P_OUT, "web_search=%d" % SEARCH_DEAREST,
              "web_search_medium=%d" % SEARCH_MEDIUM, "fast_multiplier_bps=%d" % FAST_BPS)
    wait_until(lambda: [m for m in api("GET", "/v1/models", auth="read").json["data"] if m["model"] == model],
               timeout=20, step=0.5)
    return model


def tokens(u, i, c, o):
    return (u["input_tokens"] - u["cached_input_tokens"]) * i + u["cached_input_tokens"] * c + u["output_tokens"] * o


def test_priority_asked_and_served_is_held_and_charged_at_the_priority_prices():
    model = priced("gpt-")
    acct = account("c98prio")
    mode(output_tokens=6, service_tier="priority")
    b = raw({"model": model, "messages": USER, "max_completion_tokens": 30, "service_tier": "priority"})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    want = charge(tokens(u, P_IN, P_CACHED, P_OUT))
    eq(int(r.headers["creditd-charged-micros"]), want, "charged at the priority prices")
    h = get_hold(r)
    eq((h["charged_micros"], h["usage"]["service_tier"], h["over_hold"]), (want, "priority", False), "the hold")
    eq(h["held_micros"], charge(len(b) * P_IN + 30 * P_OUT), "held at the priority prices")


def test_auto_is_held_at_the_project_s_tier_and_a_dearer_tier_served_is_charged_and_flagged():
    """DESIGN §15: OpenAI's tier omitted or `auto` is the project's tier
    (`default_service_tier`, default `default`); the charge follows the
    tier the answer says it served, a dearer one flagged over_hold."""
    model = priced("gpt-")
    acct = account("c98auto")
    mode(output_tokens=6, service_tier="priority")
    b = raw({"model": model, "messages": USER, "max_completion_tokens": 30, "service_tier": "auto"})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    h = get_hold(r)
    eq(h["held_micros"], charge(len(b) * IN + 30 * OUT), "held at the standard prices")
    eq((h["charged_micros"], h["usage"]["service_tier"], h["over_hold"]),
       (charge(tokens(u, P_IN, P_CACHED, P_OUT)), "priority", True), "charged as served, flagged")


def test_chat_web_search_without_a_size_is_the_medium_fee():
    """DESIGN §15: `search_context_size` omitted is `medium`: held and
    charged the row's medium fee, not the dearest (docs/gateway.md "An
    omitted option is the provider's default")."""
    model = priced("gpt-")
    acct = account("c98search")
    mode(output_tokens=5)
    b = raw({"model": model, "messages": USER, "max_completion_tokens": 20, "web_search_options": {}})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    want = charge(tokens(u, IN, CACHED, OUT) + SEARCH_MEDIUM * 10 ** 6)
    eq(int(r.headers["creditd-charged-micros"]), want, "the tokens and one medium fee")
    h = get_hold(r)
    eq(h["held_micros"], charge(len(b) * IN + 20 * OUT + SEARCH_MEDIUM * 10 ** 6), "held at one medium fee")
    eq(h["usage"]["web_search_calls"], 1, "one search on the usage record")


def test_anthropic_speed_fast_is_charged_at_the_row_s_multiplier():
    """docs/gateway.md "Multipliers": every token price of the row times
    the multiple, held and charged so."""
    model = priced("claude-")
    acct = account("c98fast")
    mode(output_tokens=7)
    b = raw({"model": model, "max_tokens": 40, "messages": USER, "speed": "fast"})
    r = messages(acct, None, raw=b)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    want = charge(tokens(u, IN, CACHED, OUT) * FAST_BPS // 10000)
    eq(int(r.headers["creditd-charged-micros"]), want, "six times the tokens' price")
    eq(get_hold(r)["held_micros"], charge((len(b) * IN + 40 * OUT) * FAST_BPS // 10000), "held six times")


def test_usage_beyond_the_cap_and_unknown_tokens_are_charged_and_flagged():
    """docs/gateway.md: output above the cap sent is charged as reported
    and flagged over_hold; an unknown *_tokens member is charged at the
    row's dearest token price (any tier's) and flagged usage_unknown."""
    model = priced("gpt-")
    acct = account("c98flags")
    mode(output_tokens=5, extra_output_tokens=50)
    r = chat(acct, {"model": model, "messages": USER, "max_completion_tokens": 10})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    h = get_hold(r)
    eq((h["usage"]["output_tokens"], h["over_hold"], h["usage_unknown"]), (55, True, False), "over the hold")
    eq(h["charged_micros"], charge(tokens(u, IN, CACHED, OUT)), "charged as reported")
    reset()
    mode(output_tokens=5, unknown_tokens=100)
    r = chat(acct, {"model": model, "messages": USER, "max_completion_tokens": 10})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    h = get_hold(r)
    eq(h["usage_unknown"], True, "flagged usage_unknown")
    dearest = max(IN, CACHED, OUT, P_IN, P_CACHED, P_OUT)    # the priority tier's output, of this row
    eq(h["charged_micros"], charge(tokens(u, IN, CACHED, OUT) + 100 * dearest), "the unknown at the dearest price")


def test_anthropic_auto_is_held_at_the_dearest_tier_and_charged_the_tier_served():
    """DESIGN §15: Anthropic's `auto` may use priority capacity and stays
    held at the dearest tier; the charge follows the tier served."""
    model = priced("claude-")
    acct = account("c98aauto")
    mode(output_tokens=4)
    b = raw({"model": model, "max_tokens": 30, "messages": USER, "service_tier": "auto"})
    r = messages(acct, None, raw=b)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    h = get_hold(r)
    eq(h["held_micros"], charge(len(b) * P_IN + 30 * P_OUT), "held at the priority prices")
    eq((h["charged_micros"], h["usage"]["service_tier"], h["over_hold"]),
       (charge(tokens(u, IN, CACHED, OUT)), "standard", False), "charged the standard tier served")


def test_anthropic_web_search_is_held_at_max_uses_and_charged_the_searches_run():
    """docs/gateway.md: a fee a search (`usage.server_tool_use.
    web_search_requests`), held for the tool's `max_uses`; Anthropic's fee
    is the row's flat web_search price."""
    model = priced("claude-")
    acct = account("c98asearch")
    mode(output_tokens=4, web_searches=2)
    b = raw({"model": model, "max_tokens": 30, "messages": USER,
             "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]})
    r = messages(acct, None, raw=b)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    h = get_hold(r)
    eq(h["held_micros"], charge(len(b) * IN + 30 * OUT + 3 * SEARCH_DEAREST * 10 ** 6), "held three searches")
    eq((h["charged_micros"], h["usage"]["web_search_calls"]),
       (charge(tokens(u, IN, CACHED, OUT) + 2 * SEARCH_DEAREST * 10 ** 6), 2), "charged the two run")


def test_a_responses_web_search_at_a_size_the_row_lacks_is_charged_the_dearest_fee():
    """docs/gateway.md "An omitted option is the provider's default": a
    row without the size's own fee charges web_search_micros_per_call."""
    model = priced("gpt-")
    acct = account("c98rsearch")
    mode(output_tokens=4, web_searches=2)
    r = api_responses(acct, {"model": model, "input": "find", "max_output_tokens": 30,
                             "tools": [{"type": "web_search", "search_context_size": "low"}]})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = last_reported()
    h = get_hold(r)
    eq((h["charged_micros"], h["usage"]["web_search_calls"]),
       (charge(tokens(u, IN, CACHED, OUT) + 2 * SEARCH_DEAREST * 10 ** 6), 2), "two searches at the dearest fee")


def api_responses(acct, body):
    return call("/openai/v1/responses", body, headers={"Creditd-Account": acct})


# ---- a stream that ends without usage (docs/gateway.md "Streams, and every way one ends") ----

def _streamed_text(r):
    text = ""
    for d in r.events():
        if d != "[DONE]":
            for c in json.loads(d).get("choices") or []:
                text += c["delta"].get("content") or ""
    return text


def test_a_stream_without_usage_is_charged_the_documented_estimate():
    """Output: one token per four ASCII bytes of the text received, rounded
    up; input: the hold's bound (no message_start on OpenAI's routes);
    settle_reason estimated."""
    model = priced("gpt-")
    acct = account("c98est")
    mode(mode="no_usage", output_tokens=8)
    b = raw({"model": model, "messages": USER, "max_completion_tokens": 50, "stream": True})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    text = _streamed_text(r)
    eq(text, " ".join("w%d" % i for i in range(8)), "the text the client received")
    out = -(-len(text.encode()) // 4)
    h = get_hold(r)
    eq((h["settle_reason"], h["usage"]["output_tokens"]), ("estimated", out), "estimated from the text")
    eq(h["charged_micros"], charge(len(b) * IN + out * OUT), "the bound's input and the estimate's output")


def test_a_reasoning_model_s_stream_without_usage_is_charged_the_held_output():
    """docs/gateway.md: on a model whose row marks it `reasoning`, a stream
    ending without usage is charged the hold's output (its hidden
    reasoning was billed)."""
    model = priced("gpt-")
    creditctl("price", "set", model, "reasoning=1")
    wait_until(lambda: [m for m in api("GET", "/v1/models", auth="read").json["data"]
                        if m["model"] == model and m["reasoning"]], timeout=20, step=0.5)
    acct = account("c98estr")
    mode(mode="no_usage", output_tokens=8)
    b = raw({"model": model, "messages": USER, "max_completion_tokens": 50, "stream": True})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    h = get_hold(r)
    eq((h["settle_reason"], h["usage"]["output_tokens"]), ("estimated", 50), "the held output")
    eq(h["charged_micros"], charge(len(b) * IN + 50 * OUT), "charged it")


def test_an_anthropic_stream_without_usage_takes_its_input_from_message_start():
    """docs/gateway.md: input from message_start when it came, output from
    the text received."""
    model = priced("claude-")
    acct = account("c98aest")
    mode(mode="no_usage", output_tokens=6)
    b = raw({"model": model, "max_tokens": 50, "stream": True, "messages": USER})
    r = messages(acct, None, raw=b)
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    evs = [json.loads(d) for d in r.events()]
    inp = evs[0]["message"]["usage"]["input_tokens"]
    text = "".join(e["delta"].get("text", "") for e in evs if e["type"] == "content_block_delta")
    out = -(-len(text.encode()) // 4)
    h = get_hold(r)
    eq((h["settle_reason"], h["usage"]["input_tokens"], h["usage"]["output_tokens"]), ("estimated", inp, out),
       "message_start's input, the text's estimate")
    eq(h["charged_micros"], charge(inp * IN + out * OUT), "charged them")


def test_a_responses_stream_that_hits_its_cap_is_settled_from_response_incomplete():
    model = priced("gpt-")
    acct = account("c98inc")
    mode(output_tokens=40)
    r = call("/openai/v1/responses", {"model": model, "input": "many words", "max_output_tokens": 16, "stream": True},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    types = [json.loads(d).get("type") for d in r.events() if d != "[DONE]"]
    check("response.incomplete" in types, "ended incomplete: %r" % types[-3:])
    u = last_reported()
    h = get_hold(r)
    eq((h["settle_reason"], h["charged_micros"], h["usage"]["output_tokens"]),
       ("provider_usage", charge(tokens(u, IN, CACHED, OUT)), 16), "settled from response.incomplete's usage")
    reset()
