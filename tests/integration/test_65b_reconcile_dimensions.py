"""test_65b_reconcile_dimensions.py: creditctl reconcile shows drift per
dimension (DESIGN §14, "Reconcile shows drift per dimension"): gateway
calls charged 1-hour cache writes, web searches and the long-context tier
are lined up against Anthropic's usage report grouped by service_tier and
context_window, each figure beside creditd's, and the provider's figures
priced at each part's own prices; a figure the report does not give is
shown and not judged."""
import json

from lib import check, creditctl, eq, new_account, sql, uid
from test_65_reconcile import anthropic_page, on_one_day, reconcile, reconcile_json, row_of, write
from test_80_gateway import ensure_prices, import_prices, messages, mode, prices, reset

BETA = {"anthropic-beta": "context-1m-2025-08-07"}


def _price(model):
    ensure_prices()
    import_prices({model: {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
                           "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06,
                           "cache_creation_input_token_cost_above_1hr": 6e-06, "output_cost_per_token": 1.5e-05,
                           "max_output_tokens": 4000, "input_cost_per_token_above_1k_tokens": 6e-06,
                           "output_cost_per_token_above_1k_tokens": 2.25e-05,
                           "search_context_cost_per_query": {"search_context_size_low": 0.01,
                                                             "search_context_size_medium": 0.01,
                                                             "search_context_size_high": 0.01}}}, "--force")
    from lib import wait_until
    check(wait_until(lambda: model in prices()[0], timeout=15), "creditd lists %s" % model)


def _calls(acct, model):
    """Two gateway calls: 30 cache writes (20 of them 1-hour) and two web
    searches; then one past the long-context threshold. Their usage
    records, oldest first: (input, cached, writes, output, cost)."""
    reset()
    mode(output_tokens=10, cache_creation_tokens=30, cache_1h_tokens=20, web_searches=2, count=1)
    r = messages(acct, {"model": model, "max_tokens": 50, "tools": [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}], "system": [
        {"type": "text", "text": "system prompt " * 20, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": "news?"}]})
    eq(r.status, 200, "the first call: %r" % r.body[:200])
    mode(output_tokens=10)
    r = messages(acct, {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "word " * 1200}]},
                 headers=BETA)
    eq(r.status, 200, "the long one: %r" % r.body[:200])
    from lib import wait_until
    rows = lambda: sql("SELECT u.input_tokens, u.cached_input_tokens, u.cache_write_input_tokens, u.output_tokens, "  # noqa: E731
                       "u.cost_micros, u.web_search_calls, u.long_context FROM usage_records u JOIN accounts a "
                       "ON a.id = u.account_id WHERE a.ext_id = '%s' ORDER BY u.id" % acct)
    check(wait_until(lambda: len(rows()) == 2 and rows()[0][5] == "2" and rows()[1][6] == "1", timeout=10),
          "both settled and what they were charged for kept: %r" % rows())
    return [[int(x) for x in row[:5]] for row in rows()]


def _priced_calls(prefix):
    """A model of its own, priced, and _calls' two calls on an account of
    their own: (model, the short call's usage, the long one's)."""
    model = uid(prefix)
    _price(model)
    short, long_ = _calls(new_account(prefix.replace("-", "")), model)
    return model, short, long_


def _page(day, model, short, long_, searches=2, grouped=True):
    """Anthropic's report of the two calls, by context window (and service
    tier) when grouped, else one result for the model."""
    page = anthropic_page(day, [(model, short[0] - short[1] - short[2], short[2], short[1], short[3]),
                                (model, long_[0] - long_[1] - long_[2], long_[2], long_[1], long_[3])])
    a, b = page["data"][0]["results"]
    a["cache_creation"] = {"ephemeral_1h_input_tokens": 20, "ephemeral_5m_input_tokens": short[2] - 20}
    a["server_tool_use"] = {"web_search_requests": searches}
    a["service_tier"], a["context_window"] = "standard", "0-200k"
    b["service_tier"], b["context_window"] = "standard", "200k-1M"
    if not grouped:
        for k in ("uncached_input_tokens", "cache_read_input_tokens", "output_tokens"):
            a[k] += b[k]
        a["cache_creation"]["ephemeral_5m_input_tokens"] += b["cache_creation"]["ephemeral_5m_input_tokens"]
        del a["service_tier"], a["context_window"]
        page["data"][0]["results"] = [a]
    return page


@on_one_day
def test_drift_is_shown_per_dimension_and_priced_at_each_part_s_prices(day, d):
    model, short, long_ = _priced_calls("rec-dims")
    check(long_[0] > 1000 and short[0] < 1000, "one call under the threshold, one past it: %r %r" % (short, long_))
    rc, out = reconcile_json(write("dims.json", _page(day, model, short, long_)), "--from", d, "--to", d)
    r = row_of(out, model)
    eq(rc, 0, "the report matches: %r" % r)
    want = {"cache_write_1h_tokens": 20, "web_search_calls": 2, "long_context_tokens": long_[0] + long_[3],
            "priority_tokens": 0, "flex_tokens": 0}
    for side in ("provider", "creditd"):
        eq({k: r[side][k] for k in want}, want, "%s: each dimension" % side)
    for k in ("cache_write_1h_tokens", "web_search_calls", "long_context_tokens"):
        eq(r["drift_pct"][k], 0, "%s: no drift" % k)
    eq(r["drift_pct"]["audio_input_tokens"], None, "Anthropic's report gives no audio: not judged")
    # The provider's figures at each part's prices (GET /v1/models), the
    # margin once: the short call's writes 10 at 3.75, 20 at 6, two
    # searches at a cent; every token of the long one at the tier's.
    p, margin = prices()
    m = p[model]
    raw = ((short[0] - short[1] - short[2]) * m["input_micros_per_mtok"] + short[1] * m["cached_input_micros_per_mtok"]
           + (short[2] - 20) * m["cache_write_micros_per_mtok"] + 20 * m["cache_write_1h_micros_per_mtok"]
           + short[3] * m["output_micros_per_mtok"] + 2 * m["web_search_micros_per_call"] * 10 ** 6
           + long_[0] * m["tier_input_micros_per_mtok"] + long_[3] * m["tier_output_micros_per_mtok"])
    eq(r["expected_micros"], -(-raw * margin // 10 ** 10), "expected: every dimension at its price (%r, %r, %r)" %
       (short, long_, r))
    eq(r["charged_micros"], short[4] + long_[4], "charged: the two calls")
    check(r["expected_micros"] <= r["charged_micros"] <= r["expected_micros"] + 2, "the same, to a call's rounding")
    # A search creditd did not charge is drift, on its own line.
    rc, out = reconcile_json(write("dims3.json", _page(day, model, short, long_, searches=3)), "--from", d, "--to", d)
    r = row_of(out, model)
    eq((rc, r["drift_pct"]["web_search_calls"]), (1, -33.33), "2 of 3 searches charged: outside")
    p = reconcile(write("dims3b.json", _page(day, model, short, long_, searches=3)), "--from", d, "--to", d)
    check("beyond tokens:" in p.stdout and "web_search_calls" in p.stdout and "-33.33%" in p.stdout,
          "the table shows the dimension's drift: %r" % p.stdout)
    # A report not grouped by context window says nothing of the tier.
    rc, out = reconcile_json(write("flat.json", _page(day, model, short, long_, grouped=False)), "--from", d,
                             "--to", d)
    r = row_of(out, model)
    eq((rc, r["drift_pct"]["long_context_tokens"], r["provider"]["long_context_tokens"]), (0, None, 0),
       "not grouped by context_window: shown, not judged")
    # Results of one bucket at tiers creditd takes as one (Anthropic's
    # batch and standard) are summed; the same day × model × tier ×
    # window in two files is refused (a page saved twice).
    page = _page(day, model, short, long_)
    batch = dict(page["data"][0]["results"][0], service_tier="batch", uncached_input_tokens=7, output_tokens=3,
                 cache_read_input_tokens=0, cache_creation=None, server_tool_use=None)
    page["data"][0]["results"].append(batch)
    rc, out = reconcile_json(write("batch.json", page), "--from", d, "--to", d)
    r = row_of(out, model)
    eq((r["provider"]["input_tokens"], r["provider"]["output_tokens"]), (short[0] + long_[0] + 7, 23),
       "batch summed with standard: %r" % r)
    one = write("once.json", _page(day, model, short, long_))
    p = reconcile(one, write("again.json", _page(day, model, short, long_)))
    eq(p.returncode, 2, "a part given twice: %s" % p.stderr)
    check("given once" in p.stderr, "says so: %r" % p.stderr)


@on_one_day
def test_a_csv_gives_the_dimensions_in_its_eighth_to_thirteenth_fields(day, d):
    model, short, long_ = _priced_calls("rec-csv")
    head = "date,model,input_tokens,cached_input_tokens,output_tokens,requests,cache_write_input_tokens," \
           "cache_write_1h_tokens,audio_input_tokens,audio_output_tokens,web_search_calls,service_tier,long_context\n"
    text = head + "%s,%s,%d,%d,%d,1,%d,20,0,0,2,standard,0\n%s,%s,%d,%d,%d,1,%d,0,0,0,0,standard,1\n" % (
        d, model, short[0], short[1], short[3], short[2], d, model, long_[0], long_[1], long_[3], long_[2])
    rc, out = reconcile_json(write("dims.csv", text), "--from", d, "--to", d)
    r = row_of(out, model)
    eq((rc, r["drift_pct"]["web_search_calls"], r["drift_pct"]["long_context_tokens"]), (0, 0, 0), "matched: %r" % r)
    for bad, named in (("standard,2", "long_context"), ("premium,0", "service_tier")):
        p = reconcile(write("bad.csv", text.replace("standard,1", bad)))
        eq(p.returncode, 2, "%s refused" % bad)
        check(named in p.stderr, "named: %r" % p.stderr)
    p = reconcile(write("bad2.csv", "%s,%s,100,0,10,1,5,6,0,0,0\n" % (d, model)))
    eq(p.returncode, 2, "1-hour writes above the writes")
    json.dumps(out)
    eq(creditctl("reconcile", write("ok.csv", text), "--json").returncode, 0, "exit 0")
