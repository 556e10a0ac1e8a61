"""test_85_gateway_billed.py: a request that asks for what the provider
bills beyond its tokens at the standard price (DESIGN §14, "The gateway
charges what the provider bills") — a dearer service tier, 1-hour cache
writes, audio, a server-side tool — is refused 400 in the provider's
shape, naming the member, before anything is forwarded or held: creditd's
price rows price none of these, and it never charges them at a flat token
price. The same bodies without the member go through."""
from gateway_bill import BASE, MARGIN_BPS, all_reported, expected, last_reported
from lib import api, check, eq, new_account, sql, verify, wait_until
from test_80_gateway import (anthropic_error, body_chat, call, chat, ensure_prices, import_prices, messages,
                             mode, openai_error, reasons, received, reset, state)

OPENAI = (
    ("/openai/v1/chat/completions", dict(body_chat(), service_tier="priority"), "service_tier"),
    ("/openai/v1/chat/completions", dict(body_chat(), service_tier="flex"), "service_tier"),
    ("/openai/v1/chat/completions", dict(body_chat(), modalities=["text", "audio"], audio={"voice": "alloy",
                                                                                           "format": "wav"}),
     "modalities"),
    ("/openai/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]}, "input_audio"),
    ("/openai/v1/chat/completions", dict(body_chat(), web_search_options={}), "web_search_options"),
    ("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "news?", "tools": [{"type": "web_search"}]}, "tools"),
    # a tool the provider runs and bills apart: the route's table refuses it, naming its type
    ("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "draw", "tools": [{"type": "image_generation"}]},
     "tools[0].type"),
    ("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "run", "tools": [{"type": "code_interpreter",
                                                                                 "container": {"type": "auto"}}]},
     "tools[0].type"),
)

ANTHROPIC = (
    ({"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "news?"}],
      "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]}, "tools"),
    ({"model": "claude-haiku-4-5", "max_tokens": 50, "system": [
        {"type": "text", "text": "long context", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
      "messages": [{"role": "user", "content": "hi"}]}, "cache_control"),
    ({"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
      "service_tier": "priority"}, "service_tier"),
    ({"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
      "mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}]}, "mcp_servers"),
)


def test_what_is_billed_beyond_tokens_is_refused_before_anything_is_forwarded():
    ensure_prices()
    reset()
    acct = new_account("gwbill")
    before = state(acct)
    for path, body, param in OPENAI:
        r = call(path, body, headers={"Creditd-Account": acct})
        openai_error(r, 400, "invalid_request", param)
        check("not forwarded" in r.json["error"]["message"], "says why: %r" % r.json)
    for body, param in ANTHROPIC:
        r = messages(acct, body)
        anthropic_error(r, 400, "invalid_request_error")
        check(('"%s"' % param) in r.json["error"]["message"], "names %s: %r" % (param, r.json))
    eq(received(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


def test_the_standard_price_goes_through():
    """auto and default tiers, 5-minute cache writes and client-side tools
    are the standard price: forwarded and charged as usual."""
    ensure_prices()
    reset()
    acct = new_account("gwstd")
    for tier in ("auto", "default"):
        eq(chat(acct, dict(body_chat(), service_tier=tier)).status, 200, "service_tier %s" % tier)
    eq(chat(acct, dict(body_chat(), tools=[{"type": "function", "function": {"name": "web_search",
                                                                            "parameters": {}}}])).status, 200,
       "a function tool, whatever its name")
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 50, "system": [
        {"type": "text", "text": "ctx", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}]})
    eq(r.status, 200, "a 5-minute cache write: %r" % r.body[:200])
    eq(len(received()), 4, "all four forwarded")
    verify()


# _price_tiered()'s rows in micros a million tokens: the tier's prices
# from the key's "above_1k_tokens" (LiteLLM's dollars a token × 10^12).
TIERED = {"input": 1000000, "output": 2000000, "tier": {"input": 2000000, "output": 3000000}}


def _price_tiered():
    """Models with a long-context tier from 1,000 input tokens, imported
    from LiteLLM-shaped entries (the threshold from the key's name), a
    twin without the tier, and (creditd's own JSON list) a row with a
    threshold and no tier price."""
    tier = {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "max_output_tokens": 1000,
            "input_cost_per_token_above_1k_tokens": 2e-06, "output_cost_per_token_above_1k_tokens": 3e-06}
    flat = {k: v for k, v in tier.items() if "above" not in k}
    import_prices({"gpt-tiered": dict(tier, litellm_provider="openai", mode="chat"),
                   "claude-tiered": dict(tier, litellm_provider="anthropic", mode="chat"),
                   "gpt-single": dict(flat, litellm_provider="openai", mode="chat")}, "--force")
    import_prices([{"model": "gpt-tier-unpriced", "input_micros_per_mtok": 1000000, "cached_input_micros_per_mtok": 0,
                    "output_micros_per_mtok": 2000000, "max_output_tokens": 1000, "tier_threshold_tokens": 1000}],
                  "--force")


def _held(r):
    return api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["held_micros"]


def _charged(acct, model, r, tier):
    """The call's charge against §3's formula over the usage the provider
    stated, at the standard or the tier's literal prices; its usage record
    holds the provider's figures. The provider's input returned."""
    eq(r.status, 200, "answered: %r" % r.body[:200])
    u = last_reported()
    check(wait_until(lambda: len(reasons(acct)) > 0 and sql(
        "SELECT COUNT(*) FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s' "
        "AND h.state = 'pending'" % acct) == [["0"]], timeout=10), "settled")
    inp, out, charged = (int(x) for x in sql(
        "SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
        "ON a.id = u.account_id WHERE a.ext_id = '%s' ORDER BY u.id DESC LIMIT 1" % acct)[0])
    eq(charged, expected(TIERED, u, "tier" if tier else None), "%s, %d input, %d output (the provider's): "
       "charged at the %s prices" % (model, u["input_tokens"], u["output_tokens"], "tier's" if tier else "standard"))
    eq((inp, out), (u["input_tokens"], u["output_tokens"]), "the usage record holds the provider's figures")
    eq(int(r.headers["creditd-charged-micros"]), charged, "the answer says so")
    return u["input_tokens"]


def test_the_long_context_tier_is_held_and_charged():
    """A model whose row gives a long-context tier (every token priced
    higher once the input passes its threshold): a call whose input bound
    passes it is held at the tier's prices, and a call whose usage passes
    it is charged every token at them, to the micro; under it, the
    standard prices. An Anthropic call without the 1M-context beta is held
    and charged at the standard prices (the provider serves no input past
    200k without it: a usage past the threshold is not the tier's). A row with a
    threshold and no tier price refuses such a call, nothing forwarded."""
    ensure_prices()
    _price_tiered()
    reset()
    mode(output_tokens=20)
    acct = new_account("gwtier")
    big = "word " * 1200
    check(_charged(acct, "gpt-tiered", chat(acct, {"model": "gpt-tiered", "messages": [
        {"role": "user", "content": "short"}]}), False) <= 1000, "under the threshold")
    r = chat(acct, {"model": "gpt-tiered", "messages": [{"role": "user", "content": big}]})
    check(_charged(acct, "gpt-tiered", r, True) > 1000, "past the threshold")
    eq(api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["usage"]["long_context"], True,
       "the hold shows it")
    flat = _held(chat(acct, {"model": "gpt-single", "messages": [{"role": "user", "content": big}]}))
    margin = MARGIN_BPS
    # (the twin's name has as many bytes) the input bound B from the twin's hold: ceil((B×1 + 1000×2) × margin / 10^4) micros
    bound = round((flat * 10 ** 4 / margin - 2000))
    want = (bound * 2 + 1000 * 3) * margin / 10 ** 4
    check(abs(_held(r) - want) <= 2, "held at the tier's prices: %d, about %d (the twin's %d)" % (_held(r), want, flat))
    beta = {"anthropic-beta": "context-1m-2025-08-07"}
    body = {"model": "claude-tiered", "max_tokens": 50, "messages": [{"role": "user", "content": big}]}
    r = messages(acct, body, headers=beta)
    check(_charged(acct, "claude-tiered", r, True) > 1000, "Anthropic with the 1M-context beta")
    lone = messages(acct, body)
    _charged(acct, "claude-tiered", lone, False)
    check(_held(lone) < _held(r) * 6 // 10, "no beta: held at the standard prices (%d, %d with it)" %
          (_held(lone), _held(r)))
    before = state(acct)
    reset()
    openai_error(chat(acct, {"model": "gpt-tier-unpriced", "messages": [{"role": "user", "content": big}]}), 400,
                 "invalid_request", "messages")
    eq(received(), [], "a tier without prices: nothing forwarded")
    eq(state(acct), before, "nothing held")
    eq(chat(acct, {"model": "gpt-tier-unpriced", "messages": [{"role": "user", "content": "short"}]}).status, 200,
       "under its threshold")
    verify()


def _over_hold(acct):
    return [int(r[0]) for r in sql("SELECT u.over_hold FROM usage_records u JOIN accounts a ON a.id = u.account_id "
                                   "WHERE a.ext_id = '%s' ORDER BY u.id" % acct)]


def _over_hold_metric():
    import re
    text = api("GET", "/metrics", auth=None).raw.decode()
    return int(re.search(r"^creditd_gateway_over_hold_total (\d+)$", text, re.M).group(1))


def test_usage_above_what_was_asked_is_charged_and_flagged():
    """DESIGN §14: a provider that reports more output than the cap creditd
    sent (one counting hidden reasoning outside max_tokens does it on
    every call) bills the operator for it. The answer passes through; the
    charge is the provider's figures at the pinned prices, beyond the hold
    (as §5 allows), and the usage record says over_hold, with a warning
    and creditd_gateway_over_hold_total. Before, such a call was answered
    502 and charged nothing. Whole and streamed, OpenAI and Anthropic."""
    ensure_prices()
    reset()
    mode(output_tokens=10, extra_output_tokens=25, count=4)
    acct = new_account("gwover")
    before, _ = state(acct)
    metric = _over_hold_metric()
    r = chat(acct, body_chat(max_completion_tokens=10))
    eq(r.status, 200, "passed through: %r" % r.body[:200])
    said = last_reported()
    eq(said["output_tokens"], 35, "the provider reported 35 output tokens for a cap of 10")
    eq(r.json["usage"]["completion_tokens"], 35, "passed on as the provider said")
    want = expected(BASE["gpt-4o-mini"], said)
    eq(int(r.headers["creditd-charged-micros"]), want, "charged the reported usage, beyond the hold")
    r = chat(acct, body_chat(max_completion_tokens=10, stream=True))
    eq(r.status, 200, "streamed through")
    r.events()
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    eq(r.status, 200, "Anthropic, passed through: %r" % r.body[:200])
    eq(r.json["usage"]["output_tokens"], 35, "reported above max_tokens")
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 10, "stream": True,
                        "messages": [{"role": "user", "content": "hi"}]})
    eq(r.status, 200, "Anthropic streamed through")
    r.events()
    check(wait_until(lambda: len(reasons(acct)) == 4, timeout=10), "four calls settled")
    eq(reasons(acct), ["provider_usage"] * 4, "each at the provider's figures")
    check(wait_until(lambda: _over_hold(acct) == [1, 1, 1, 1], timeout=10), "each flagged over_hold: %r" % _over_hold(acct))
    rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros, u.model FROM usage_records u JOIN accounts a "
               "ON a.id = u.account_id WHERE a.ext_id = '%s' ORDER BY u.id" % acct)
    said = all_reported()
    eq([u["output_tokens"] for u in said], [35] * 4, "the provider stated 35 output tokens each time")
    models = ["gpt-4o-mini", "gpt-4o-mini", "claude-haiku-4-5", "claude-haiku-4-5"]
    wants = [expected(BASE[m], u) for m, u in zip(models, said)]
    eq([x[3] for x in rows], models, "in the order sent")
    eq([int(x[2]) for x in rows], wants, "each the provider's figures at its model's price")
    eq([(int(x[0]), int(x[1])) for x in rows], [(u["input_tokens"], 35) for u in said],
       "the provider's figures recorded")
    eq(state(acct), (before - sum(wants), 0), "the balance down by all four, nothing left reserved")
    eq(_over_hold_metric(), metric + 4, "creditd_gateway_over_hold_total counted them")
    verify()


def test_a_hold_shows_what_its_call_held_charged_and_used():
    """GET /v1/holds/{hold_id} (DESIGN §14): a gateway call's hold, named by
    its Creditd-Hold-Id, with its provider, status, what it held and was
    charged, the usage settled, its reason and over_hold; a guard hold the
    same, pending then settled; 404 for an id nobody made, and for another
    account's hold through a key bound to one account."""
    ensure_prices()
    reset()
    mode(output_tokens=10, extra_output_tokens=5, count=1)
    acct = new_account("gwhold")
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    eq(r.status, 200, "a call")
    hold_id = r.headers["creditd-hold-id"]
    check(wait_until(lambda: _over_hold(acct) == [1], timeout=10), "flagged")
    for scope in ("read", "guard", "app"):
        g = api("GET", "/v1/holds/" + hold_id, auth=scope)
        eq(g.status, 200, "%s key: %r" % (scope, g.raw[:200]))
    h = g.json
    eq(sorted(h), sorted(["hold_id", "account", "member", "model", "provider", "price_provider", "attempts", "status",
                          "held_micros",
                          "charged_micros", "usage", "settle_reason", "resolved", "over_hold", "usage_unknown",
                          "created_at", "settled_at"]),
       "its fields")
    eq(h["attempts"], 1, "one provider tried")
    eq(h["price_provider"], None, "charged at the model's general price")
    eq(h["resolved"], None, "never unresolved")
    eq((h["hold_id"], h["account"], h["member"], h["model"], h["provider"], h["status"]),
       (hold_id, acct, None, "claude-haiku-4-5", "anthropic", "settled"), "whose and what")
    eq(h["charged_micros"], int(r.headers["creditd-charged-micros"]), "charged as the call said")
    eq(h["usage"]["output_tokens"], 15, "the provider's output")
    eq(h["usage"]["input_tokens"], r.json["usage"]["input_tokens"], "and input")
    eq((h["settle_reason"], h["over_hold"]), ("provider_usage", True), "settled at the provider's figures, over its hold")
    check(h["held_micros"] > 0 and h["settled_at"] is not None and h["created_at"] <= h["settled_at"], "held, then settled")
    a = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o-mini", "input_tokens": 10,
                                            "max_output_tokens": 20, "request_id": "hold-get-1"}, auth="guard")
    eq(a.status, 200, "a guard hold")
    g = api("GET", "/v1/holds/" + a.json["hold_id"], auth="read").json
    eq((g["status"], g["provider"], g["usage"], g["settle_reason"], g["settled_at"], g["held_micros"]),
       ("pending", None, None, None, None, a.json["amount_micros"]), "pending, no usage yet")
    eq(api("POST", "/v1/guard/settle", {"hold_id": a.json["hold_id"], "input_tokens": 10, "output_tokens": 5},
           auth="guard").status, 200, "settled")
    g = api("GET", "/v1/holds/" + a.json["hold_id"], auth="read").json
    eq((g["status"], g["usage"]["output_tokens"], g["over_hold"]), ("settled", 5, False), "settled within its hold")
    eq((g["provider"], g["attempts"], g["price_provider"]), (None, None, None),
       "a guard hold has no provider, no tries, and the model's general price")
    eq(api("GET", "/v1/holds/hold_" + "0" * 32, auth="read").status, 404, "an id nobody made")
    eq(api("GET", "/v1/holds/nonsense", auth="read").status, 404, "not a hold id")
    from lib import creditctl
    other = new_account("gwhold")
    bound = creditctl("key", "create", "--scope", "read", "--account", other).stdout.strip().splitlines()[-1]
    eq(api("GET", "/v1/holds/" + hold_id, auth=bound).status, 404, "another account's hold, through a bound key")
    own = creditctl("key", "create", "--scope", "read", "--account", acct).stdout.strip().splitlines()[-1]
    eq(api("GET", "/v1/holds/" + hold_id, auth=own).status, 200, "its own, through a key bound to it")
    verify()


def test_a_stream_asked_for_its_cost_ends_with_a_comment_line():
    """Creditd-Stream-Cost: 1 (DESIGN §14): after the provider's last event
    and the settle, one SSE comment `: creditd {hold_id, charged_micros,
    balance_micros, settle_reason}` (every SSE parser ignores a comment);
    without the header the stream is the provider's alone."""
    import json
    ensure_prices()
    reset()
    mode(output_tokens=6)
    acct = new_account("gwcost")
    before, _ = state(acct)
    r = chat(acct, body_chat(stream=True), headers={"Creditd-Stream-Cost": "1"})
    eq(r.status, 200, "streamed")
    text = r.body.decode()
    tail = text.rstrip("\n").rsplit("\n", 1)[-1]
    check(tail.startswith(": creditd {"), "the last line is the cost comment: %r" % text[-300:])
    check(text.index("data: [DONE]") < text.index(": creditd "), "after the provider's last event")
    line = json.loads(tail[len(": creditd "):])
    eq(sorted(line), ["balance_micros", "charged_micros", "hold_id", "settle_reason"], "its fields")
    eq(line["hold_id"], r.headers["creditd-hold-id"], "the call's hold")
    rows = sql("SELECT u.cost_micros FROM usage_records u JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s'"
               % acct)
    eq(line["charged_micros"], int(rows[0][0]), "what the settle charged")
    eq(line["charged_micros"], expected(BASE["gpt-4o-mini"], last_reported()), "the provider's figures at the price")
    eq((line["balance_micros"], line["settle_reason"]), (before - int(rows[0][0]), "provider_usage"), "the balance after it")
    r = chat(acct, body_chat(stream=True))
    check(": creditd" not in r.body.decode(), "not asked: no comment")
    verify()
