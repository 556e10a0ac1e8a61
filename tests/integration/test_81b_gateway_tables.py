"""test_81b_gateway_tables.py: the gateway's tables of what it forwards
(src/gateway/tables/, docs/gateway.md "What the gateway forwards") held to
the official SDKs' request types, at the versions test_81 pins: every
member, union variant, enum value and Anthropic beta the SDKs' create-params
types name (read by the TypeScript compiler, devtools/gwtables/sdk_paths.mjs)
has a row, and every row is reached by one of them (so removing any row
fails here); each top-level member's JSON kinds and required flag (the
json: field of its row) are the SDKs' types' (so removing or changing
one fails here). Then, through nginx, what the tables refuse is refused in the
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
          "openai.embeddings": "openai_embeddings", "openai.speech": "openai_speech",
          "openai.moderations": "openai_moderations", "openai.transcriptions": "openai_transcriptions",
          "anthropic.messages": "anthropic_messages",
          "openai.images_generations": "openai_images_generations", "openai.images_edits": "openai_images_edits",
          "anthropic.count_tokens": "anthropic_messages"}


def sdk_paths():
    p = subprocess.run(["node", os.path.join(ROOT, "devtools", "gwtables", "sdk_paths.mjs"), sdk_dir()],
                       capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "sdk_paths.mjs failed: %s" % p.stderr[-1500:])
    return json.loads(p.stdout)


KINDS = ("string", "number", "boolean", "array", "object", "null")


def json_lines(paths):
    """The SDKs' top-level kinds ("json:NAME=KINDS[ required]") merged per
    table: the kinds any of its routes' types allows ("any": all six), required
    only where every one of them requires it (count_tokens does not require
    Messages' max_tokens)."""
    out = []
    for table in sorted(set(TABLES.values())):
        per = []
        for route in (r for r, t in TABLES.items() if t == table):
            d = {}
            for p in paths[route]:
                if p.startswith("json:"):
                    name, rest = p[5:].split("=", 1)
                    kinds, _, req = rest.partition(" ")
                    d[name] = (set(kinds.split("|")), req == "required")
            per.append(d)
        for name in sorted(set().union(*per)):
            kinds = set().union(*(d[name][0] for d in per if name in d))
            check(kinds <= set(KINDS) and kinds, "%s %s: kinds %r" % (table, name, kinds))
            text = "any" if kinds == set(KINDS) else "|".join(k for k in KINDS if k in kinds)
            req = all(name in d and d[name][1] for d in per)
            out.append("%s\tjson:%s=%s%s\n" % (table, name, text, " required" if req else ""))
    return out


def cover(lines):
    exe = os.path.join(ROOT, "tests", "unit", "gateway", "gwtable_cover")
    check(os.access(exe, os.X_OK), "the build made no %s" % exe)
    return subprocess.run([exe] + sorted(set(TABLES.values())), input="".join(lines), capture_output=True,
                          text=True, timeout=120)


def test_every_member_the_sdks_name_has_a_row_and_every_row_a_member():
    paths = sdk_paths()
    eq(sorted(paths), sorted(TABLES), "the routes read")
    lines = ["%s\t%s\n" % (TABLES[r], p) for r, ps in paths.items() for p in ps if not p.startswith("json:")]
    check(len(lines) > 10000, "the SDKs' types read whole: %d paths" % len(lines))
    kinds = json_lines(paths)

    def top(p):
        return not p.startswith(("beta:", "json:")) and not set(p) & set(".[]{}=*")
    want = sum(len({p for r in TABLES if TABLES[r] == t for p in paths[r] if top(p)}) for t in set(TABLES.values()))
    eq(len(kinds), want, "a kind for every top-level member")
    check("openai_chat\tjson:messages=array required\n" in kinds and
          "anthropic_messages\tjson:max_tokens=number\n" in kinds, "the kinds read: %r" % kinds[:8])
    p = cover(lines + kinds)
    eq(p.returncode, 0, "every path classified, every row used, every kind the SDKs':\n%s" % p.stdout[:3000])
    # The check can fail: a path no table has, and a table missing a row
    # some path needs, each reported.
    p = cover(lines + ["openai_chat\tmessages[]{role=user}.content[]{type=hologram}\n"])
    eq(p.returncode, 1, "an unclassified path fails the check")
    check("unclassified openai_chat messages[]{role=user}.content[]{type=hologram}" in p.stdout, p.stdout[:500])
    # So can a kind or a required flag that is not the SDKs'.
    for was, now in (("messages=array required", "messages=array"), ("messages=array required",
                                                                      "messages=string|array required"),
                     ("temperature=number|null", "temperature=number")):
        changed = [x.replace("openai_chat\tjson:" + was, "openai_chat\tjson:" + now) for x in kinds]
        check(changed != kinds, "the case %s changes a line" % was)
        p = cover(lines + changed)
        eq(p.returncode, 1, "a kind that is not the table's fails the check (%s)" % now)
        check("kinds openai_chat %s" % now.split("=")[0] in p.stdout, p.stdout[:500])


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


def test_anthropic_fast_mode_and_geo_are_refused_until_priced():
    """A reviewer's findings: speed "fast" (a multiple of the price) and
    inference_geo reached the provider and were charged the standard
    price. (The advisor tool, refused here before, is priced now: see
    the advisor tests below.)"""
    err = _refused(messages, dict(MESSAGES, speed="fast"), "speed")
    check("multiple" in err.get("message", ""), err)
    _refused(messages, dict(MESSAGES, inference_geo="us"), "inference_geo")
    _refused(messages, MESSAGES, "anthropic-beta", headers={"anthropic-beta": "my-own-beta-1"})


# ---- a tool's own model (docs/gateway.md, "A tool's own model") ----

ADVISOR = "claude-opus-4-1"
ADVISOR_BETA = {"anthropic-beta": "advisor-tool-2026-03-01"}
_advisor_priced = []


def _price_advisor():
    """The advisor's model priced (Opus-like: 15/1.5/75 per million, 32,000
    output), once a run."""
    ensure_prices()
    if not _advisor_priced:
        from test_80_gateway import import_prices
        import_prices("model,%s,15000000,1500000,75000000,32000\n" % ADVISOR)
        _advisor_priced.append(1)


def _advised(model=ADVISOR, **tool):
    return dict(MESSAGES, tools=[dict({"type": "advisor_20260301", "name": "advisor", "model": model}, **tool)])


def _raw(model, inp, out, cached=0, cache_write=0):
    """A model's tokens in the cost formula's units (before the margin)."""
    from test_80_gateway import prices
    m = prices()[0][model]
    return ((inp - cached - cache_write) * m["input_micros_per_mtok"] + cached * m["cached_input_micros_per_mtok"] +
            cache_write * m["cache_write_micros_per_mtok"] + out * m["output_micros_per_mtok"])


def _micros(raw):
    from test_80_gateway import prices
    return -(-raw * prices()[1] // 10 ** 10)


def _own_usage(acct):
    from lib import sql
    rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
               "ON a.id = u.account_id WHERE a.ext_id = '%s' ORDER BY u.id" % acct)
    return [tuple(int(x) for x in r) for r in rows]


def test_an_advisor_tool_is_charged_its_runs_at_its_own_model_s_price():
    """A reviewer's case: an advisor tool ran Opus and was charged at the
    call's model's (Sonnet's) price. Now the call is charged its own
    tokens at its price and the advisor's run (usage.iterations,
    "advisor_message") at the advisor model's, to the micro, whole and
    streamed; a run naming a cheaper model than asked is charged at the
    dearer and flagged over_hold."""
    _price_advisor()
    for stream in (False, True):
        reset()
        acct = new_account("gwadvise")
        before, _ = state(acct)
        mode(output_tokens=20, advisor_input_tokens=9000, advisor_output_tokens=700)
        r = messages(acct, dict(_advised(max_tokens=1000, max_uses=2), stream=stream), headers=ADVISOR_BETA)
        eq(r.status, 200, "forwarded: %r" % r.body[:300])
        eq(len(received()), 1, "sent once")
        [(inp, out, charged)] = _own_usage(acct)
        check(inp < 1000 and out == 20, "the call's own tokens alone on its record: in %d out %d" % (inp, out))
        want = _micros(_raw("claude-sonnet-4-5", inp, out) + _raw(ADVISOR, 9000, 700))
        eq(charged, want, "its own tokens at Sonnet's price, the advisor's at Opus's (stream %s)" % stream)
        check(charged > _micros(_raw("claude-sonnet-4-5", inp + 9000, out + 700)), "more than at the call's price")
        eq(state(acct), (before - charged, 0), "the balance down by it alone")
    reset()
    acct = new_account("gwadvise")
    mode(output_tokens=20, advisor_input_tokens=9000, advisor_output_tokens=700, advisor_model="claude-haiku-4-5")
    r = messages(acct, _advised(max_tokens=1000, max_uses=2), headers=ADVISOR_BETA)
    eq(r.status, 200, "forwarded")
    [(inp, out, charged)] = _own_usage(acct)
    eq(charged, _micros(_raw("claude-sonnet-4-5", inp, out) + _raw(ADVISOR, 9000, 700)),
       "a run naming a cheaper model than asked: at the dearer, the one asked")
    from lib import api, wait_until
    check(wait_until(lambda: api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["over_hold"],
                     timeout=10), "flagged over_hold")


def test_an_advisor_tool_is_held_at_its_runs_worst_case():
    """The hold: the call's own worst case plus the advisor's runs (its
    max_uses, else [gateway] max_tool_calls_held, 5), each reading the
    conversation (the input bound, the call's output and every run's
    output) and writing its max_tokens (else its model's max output), at
    the advisor model's prices."""
    _price_advisor()
    from lib import api
    from test_80_gateway import prices

    def dear(m):
        return max(m["input_micros_per_mtok"], m["cached_input_micros_per_mtok"], m["cache_write_micros_per_mtok"])
    for tool, runs, cap in (({"max_tokens": 1000, "max_uses": 2}, 2, 1000), ({}, 5, 32000)):
        reset()
        from test_20_guard import funded
        acct = funded(100000000, prefix="gwadvhold")  # the unbounded advisor's hold is about 26 units
        mode(output_tokens=20)
        body = _advised(**tool)
        r = messages(acct, body, headers=ADVISOR_BETA)
        eq(r.status, 200, "forwarded: %r" % r.body[:300])
        son, adv = prices()[0]["claude-sonnet-4-5"], prices()[0][ADVISOR]
        bound = len(json.dumps(body).encode())
        own = bound * dear(son) + 100 * son["output_micros_per_mtok"]
        runs_raw = runs * ((bound + 100 + runs * cap) * dear(adv) + cap * adv["output_micros_per_mtok"])
        held = api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["held_micros"]
        eq(held, _micros(own + runs_raw), "held: the call's worst case and %d advisor runs of %d tokens" % (runs, cap))


def test_a_stream_cut_before_its_usage_is_charged_the_advisor_runs_held():
    """A stream that ends without usage is estimated (never under): the
    advisor's runs it may have made are charged as held, each its held
    input and output at the advisor model's input and output prices."""
    _price_advisor()
    reset()
    acct = new_account("gwadvcut")
    mode(mode="no_usage", output_tokens=20)
    body = dict(_advised(max_tokens=1000, max_uses=2), stream=True)
    r = messages(acct, body, headers=ADVISOR_BETA)
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    [(inp, out, charged)] = _own_usage(acct)
    each = len(json.dumps(body).encode()) + 100 + 2 * 1000
    eq(charged, _micros(_raw("claude-sonnet-4-5", inp, out) + 2 * _raw(ADVISOR, each, 1000)),
       "its own estimate and the two runs held")


def test_an_advisor_model_the_key_may_not_call_or_unpriced_is_refused():
    """The advisor's model is held to the key's model list as the call's
    own is (403 model_not_allowed, param tools) and must be priced (400
    naming tools); nothing is forwarded, held or charged. The same call
    with a model the key may call, priced, passes."""
    _price_advisor()
    from test_83_gateway_keys import gw_key
    reset()
    acct = new_account("gwadvkey")
    before = state(acct)
    limited = gw_key(acct, models=["claude-sonnet-4-5"])["key"]
    both = gw_key(acct, models=["claude-sonnet-4-5", ADVISOR])["key"]

    def send(secret, body):
        h = dict({"anthropic-version": "2023-06-01", "x-api-key": secret}, **ADVISOR_BETA)
        return call("/anthropic/v1/messages", body, auth=None, headers=h)
    r = send(limited, _advised(max_tokens=1000, max_uses=1))
    anthropic_error(r, 403, "permission_error")
    eq((r.json["error"].get("code"), r.json["error"].get("param")), ("model_not_allowed", "tools"), "%r" % r.json)
    check(ADVISOR in r.json["error"]["message"], "naming the model: %r" % r.json)
    err = _refused(messages, _advised(model="claude-unpriced-advisor-9", max_tokens=1000), "tools",
                   headers=ADVISOR_BETA)
    check("claude-unpriced-advisor-9" in err["message"] and "price" in err["message"], err)
    eq(received(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")
    mode(output_tokens=5, advisor_input_tokens=100, advisor_output_tokens=10)
    eq(send(both, _advised(max_tokens=1000, max_uses=1)).status, 200, "a key that may call both: forwarded")
    eq(len(received()), 1, "once")


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
    # 1.5 x 1.1111: a product with a fraction of a basis point, rounded up (16667)
    import_prices({"claude-odd": dict(CLAUDE_FAST, provider_specific_entry={"fast": 1.5, "us": 1.1111})}, "--force")
    for model, extra, bps in (("claude-fast", {}, 10000), ("claude-fast", {"speed": "fast"}, 60000),
                              ("claude-fast", {"inference_geo": "us"}, 11000),
                              ("claude-fast", {"speed": "fast", "inference_geo": "us"}, 66000),
                              ("claude-fast", {"inference_geo": "global"}, 10000),
                              ("claude-odd", {"speed": "fast", "inference_geo": "us"}, 16667)):
        reset()
        acct = new_account("gwfast")
        before, _ = state(acct)
        mode(output_tokens=30)
        r = messages(acct, dict(MESSAGES, model=model, **extra))
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
