"""test_81b_gateway_tables.py: the gateway's tables of what it forwards
(src/gateway/tables/, docs/gateway.md "What the gateway forwards") held to
the official SDKs' request types, at the versions test_81 pins: every
member, union variant, enum value and Anthropic beta the SDKs' create-params
types name (read by the TypeScript compiler, devtools/gwtables/sdk_paths.mjs)
has a row, and every row is reached by one of them (so removing any row
fails here). Then, through nginx, what the tables refuse is refused in the
provider's shape naming its path, nothing forwarded or held."""
import json
import os
import subprocess

from lib import check, eq, new_account
from test_80_gateway import (anthropic_error, body_chat, call, chat, cost, ensure_prices, messages, mode, openai_error,
                             received, reset, state)
from test_81_gateway_sdks import sdk_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The SDKs' routes and the table each is held to (count_tokens' members
# are the Messages route's).
TABLES = {"openai.chat": "openai_chat", "openai.responses": "openai_responses",
          "openai.embeddings": "openai_embeddings", "anthropic.messages": "anthropic_messages",
          "anthropic.count_tokens": "anthropic_messages"}


def sdk_paths():
    p = subprocess.run(["node", os.path.join(ROOT, "devtools", "gwtables", "sdk_paths.mjs"), sdk_dir()],
                       capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "sdk_paths.mjs failed: %s" % p.stderr[-1500:])
    return json.loads(p.stdout)


def cover(lines):
    exe = os.path.join(ROOT, "tests", "unit", "gateway", "gwtable_cover")
    check(os.access(exe, os.X_OK), "the build made no %s" % exe)
    return subprocess.run([exe] + sorted(set(TABLES.values())), input="".join(lines), capture_output=True,
                          text=True, timeout=120)


def test_every_member_the_sdks_name_has_a_row_and_every_row_a_member():
    paths = sdk_paths()
    eq(sorted(paths), sorted(TABLES), "the routes read")
    lines = ["%s\t%s\n" % (TABLES[r], p) for r, ps in paths.items() for p in ps]
    check(len(lines) > 10000, "the SDKs' types read whole: %d paths" % len(lines))
    p = cover(lines)
    eq(p.returncode, 0, "every path classified, every row used:\n%s" % p.stdout[:3000])
    # The check can fail: a path no table has, and a table missing a row
    # some path needs, each reported.
    p = cover(lines + ["openai_chat\tmessages[]{role=user}.content[]{type=hologram}\n"])
    eq(p.returncode, 1, "an unclassified path fails the check")
    check("unclassified openai_chat messages[]{role=user}.content[]{type=hologram}" in p.stdout, p.stdout[:500])


def test_a_beta_the_sdk_names_is_classified():
    paths = sdk_paths()
    betas = [p for p in paths["anthropic.messages"] if p.startswith("beta:")]
    check("beta:fast-mode-2026-02-01" in betas and len(betas) > 20, "the SDK's betas read: %r" % betas[:5])


def _refused(send, body, want_param, headers=None):
    """send(acct, body, headers=...) is refused 400 in its provider's shape
    naming want_param, nothing forwarded, held or charged; the error."""
    ensure_prices()
    reset()
    acct = new_account("gwtab")
    before = state(acct)
    r = send(acct, body, headers=headers or {})
    if send is messages:
        anthropic_error(r, 400, "invalid_request_error")
        err = r.json["error"]
    else:
        openai_error(r, 400, "invalid_request", want_param)
        err = r.json["error"]
    eq(err.get("param"), want_param, "the member's path named: %r" % err)
    eq(received(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")
    return err


def responses(acct, body, **kw):
    h = dict({"Creditd-Account": acct}, **kw.pop("headers", {}))
    return call("/openai/v1/responses", body, headers=h, **kw)


def test_what_no_row_names_is_refused_before_anything_is_forwarded():
    _refused(chat, body_chat(my_own_option=1), "my_own_option")
    b = body_chat()
    b["messages"] = [{"role": "user", "content": [{"type": "text", "text": "hi", "weight": 3}]}]
    _refused(chat, b, "messages[0].content[0].weight")
    err = _refused(responses, {"model": "gpt-4o-mini", "input": "hi", "tools": [{"type": "shell"}]}, "tools[0].type")
    check("shell" in err["message"], err)


MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def test_anthropic_fast_mode_geo_and_advisor_are_refused_until_priced():
    """A reviewer's findings: speed "fast" (a multiple of the price) and
    inference_geo reached the provider and were charged the standard
    price; an advisor tool ran another model at this one's price."""
    err = _refused(messages, dict(MESSAGES, speed="fast"), "speed")
    check("multiple" in err.get("message", ""), err)
    _refused(messages, dict(MESSAGES, inference_geo="us"), "inference_geo")
    _refused(messages, dict(MESSAGES, tools=[{"type": "advisor_20260301", "name": "advisor",
                                              "model": "claude-opus-4-1"}]), "tools")
    _refused(messages, MESSAGES, "anthropic-beta", headers={"anthropic-beta": "my-own-beta-1"})


def test_a_compaction_pass_is_charged_with_the_call():
    """A reviewer's case: compaction (a compact_ edit) bills a summarising
    pass under usage.iterations, outside the top-level figures: charged
    147,000 where about 1,127,500 was billed. Now the pass is charged
    with the call, streamed and whole."""
    ensure_prices()
    for stream in (False, True):
        reset()
        acct = new_account("gwcompact")
        before, _ = state(acct)
        mode(output_tokens=20, compaction_input_tokens=150000, compaction_output_tokens=4000)
        body = dict(MESSAGES, model="claude-haiku-4-5", max_tokens=100, stream=stream,
                    context_management={"edits": [{"type": "compact_20260112"}]})
        r = messages(acct, body, headers={"anthropic-beta": "compact-2026-01-12"})
        eq(r.status, 200, "forwarded: %r" % r.body[:300])
        eq(len(received()), 1, "sent once")
        from lib import sql
        rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
                   "ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct)
        inp, out, charged = (int(x) for x in rows[0])
        check(inp >= 150000 and out == 4020, "the pass's tokens charged with the call's: in %d out %d" % (inp, out))
        eq(charged, cost("claude-haiku-4-5", inp, 0, out), "at the model's price")
        eq(state(acct), (before - charged, 0), "the balance down by it alone")


def _metric(name):
    import re
    from lib import api
    text = api("GET", "/metrics", auth=None).raw.decode()
    return int(re.search(r"^%s (\d+)$" % name, text, re.M).group(1))


def test_tokens_creditd_does_not_know_are_charged_at_the_dearest_price_and_flagged():
    """A provider's usage beyond what creditd knows is a bill the operator
    pays: a "*_tokens" member no reading places is charged at the model's
    dearest token price, the usage record flagged usage_unknown (GET
    /v1/holds, the journal row's usage), a warning and a metric."""
    from lib import api
    ensure_prices()
    reset()
    acct = new_account("gwunknown")
    before, _ = state(acct)
    seen = _metric("creditd_gateway_usage_unknown_total")
    mode(output_tokens=7, unknown_tokens=1000)
    r = chat(acct, body_chat(max_completion_tokens=50))
    eq(r.status, 200, "forwarded: %r" % r.body[:300])
    u = r.json["usage"]
    charged = int(r.headers["creditd-charged-micros"])
    models = api("GET", "/v1/models", auth="read").json
    p = [m for m in models["data"] if m["model"] == "gpt-4o-mini"][0]
    margin = models["margin_bps"]
    dear = max(p["input_micros_per_mtok"], p["output_micros_per_mtok"], p["cache_write_micros_per_mtok"])
    raw = (u["prompt_tokens"] * p["input_micros_per_mtok"] + 7 * p["output_micros_per_mtok"] + 1000 * dear) * margin
    eq(charged, -(-raw // 10 ** 10), "the unknown tokens at the dearest price, to the micro")
    eq(state(acct), (before - charged, 0), "the balance down by it")
    h = api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json
    eq((h["usage_unknown"], h["over_hold"]), (True, False), "the hold says so: %r" % h)
    rows = api("GET", "/v1/accounts/%s/transactions" % acct, auth="read").json["data"]
    usage = [x["usage"] for x in rows if x["cause"] == "usage"][0]
    eq((usage["usage_unknown"], usage["over_hold"]), (True, False), "the journal row's usage says so: %r" % usage)
    eq(_metric("creditd_gateway_usage_unknown_total"), seen + 1, "counted")


CLAUDE_FAST = {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "max_output_tokens": 64000,
               "cache_read_input_token_cost": 3e-07, "provider_specific_entry": {"fast": 6.0, "us": 1.1}}
GPT_SEARCH = {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "max_output_tokens": 16384,
              "search_context_cost_per_query": {"search_context_size_low": 0.03, "search_context_size_medium": 0.035,
                                                "search_context_size_high": 0.05}}


def _charged(acct):
    from lib import sql
    rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
               "ON a.id = u.account_id WHERE a.ext_id = '%s' ORDER BY u.id DESC LIMIT 1" % acct)
    return tuple(int(x) for x in rows[0])


def test_fast_mode_and_the_us_geo_are_charged_at_the_row_s_multiple():
    """LiteLLM's provider_specific_entry ({"fast": 6.0, "us": 1.1}) is
    imported as multipliers of every token price; a call asking for
    either is held and charged at that multiple (both: their product), to
    the micro; a row without them refuses the call (test above)."""
    from test_80_gateway import import_prices
    from lib import api
    ensure_prices()
    import_prices({"claude-fast": CLAUDE_FAST}, "--force")
    from lib import sql
    eq(sql("SELECT fast_multiplier_bps, geo_us_multiplier_bps FROM models WHERE name = 'claude-fast'"),
       [["60000", "11000"]], "imported as multipliers")
    margin = api("GET", "/v1/models", auth="read").json["margin_bps"]
    for extra, bps in (({}, 10000), ({"speed": "fast"}, 60000), ({"inference_geo": "us"}, 11000),
                       ({"speed": "fast", "inference_geo": "us"}, 66000), ({"inference_geo": "global"}, 10000)):
        reset()
        acct = new_account("gwfast")
        before, _ = state(acct)
        mode(output_tokens=30)
        r = messages(acct, dict(MESSAGES, model="claude-fast", **extra))
        eq(r.status, 200, "forwarded: %r %r" % (extra, r.body[:300]))
        inp, out, charged = _charged(acct)
        pin = -(-3000000 * bps // 10000)
        pout = -(-15000000 * bps // 10000)
        eq(charged, -(-(inp * pin + out * pout) * margin // 10 ** 10), "%r: every token at %d bps" % (extra, bps))
        eq(state(acct), (before - charged, 0), "the balance down by it")


def test_a_web_search_at_no_size_is_charged_the_medium_fee():
    """A reviewer's finding: a Responses web_search with no
    search_context_size was charged the high fee; the provider's default is
    medium. Now each size is charged its own fee, no size medium's."""
    from test_80_gateway import import_prices
    from lib import api
    ensure_prices()
    import_prices({"gpt-search": GPT_SEARCH}, "--force")
    margin = api("GET", "/v1/models", auth="read").json["margin_bps"]
    for tool, fee in (({"type": "web_search"}, 35000), ({"type": "web_search", "search_context_size": "low"}, 30000),
                      ({"type": "web_search", "search_context_size": "high"}, 50000)):
        reset()
        acct = new_account("gwsize")
        mode(output_tokens=10, web_searches=2, count=1)
        r = responses(acct, {"model": "gpt-search", "input": "news?", "max_output_tokens": 50, "tools": [tool]})
        eq(r.status, 200, "forwarded: %r" % r.body[:300])
        inp, out, charged = _charged(acct)
        raw = inp * 2500000 + out * 10000000 + 2 * fee * 1000000
        eq(charged, -(-raw * margin // 10 ** 10), "%r: two searches at %d micros each" % (tool, fee))
