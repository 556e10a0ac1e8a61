"""test_23b_price_dimensions.py: what a provider bills beyond the token
prices, carried by a model's price as optional fields (DESIGN §14, "The
gateway charges what the provider bills"; sql/042).

litellm_catalogue.json is a subset of LiteLLM's own
model_prices_and_context_window.json, as it has them; this test takes nine
of its entries: its sample_spec, a Databricks model priced finer than a
micro (skipped, and said why), and seven models between them carrying every dimension creditd
reads (the long-context tier at 200k and 272k, 1-hour cache writes, the
priority and flex service tiers, web search, audio, reasoning, the context
window) and billing keys it does not apply (batches, tiers of tiers,
regional uplifts, fast mode's factor). Its image, audio and moderation
entries are test_23c's. The test imports these with each model
renamed to a private name (sample_spec kept), and checks GET /v1/models and
`creditctl price list` show each dimension to the micro (null where the
catalogue gives none), the import's report names each billing key not
applied with its models, history keeps them, and a CSV import still works.
The expected numbers are worked out by hand from the catalogue's text (a
per-token price times 10^12 is micros per million tokens, 1:1; a search's
fee, the highest of its sizes, times 10^6)."""
import json
import os
import re

import stack
from lib import api, check, creditctl, eq, uid, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
DIMS = ("max_input_tokens", "reasoning", "cache_write_1h_micros_per_mtok", "tier_threshold_tokens",
        "tier_input_micros_per_mtok", "tier_output_micros_per_mtok", "tier_cached_input_micros_per_mtok",
        "tier_cache_write_micros_per_mtok", "priority_input_micros_per_mtok", "priority_output_micros_per_mtok",
        "priority_cached_input_micros_per_mtok", "flex_input_micros_per_mtok", "flex_output_micros_per_mtok",
        "flex_cached_input_micros_per_mtok", "web_search_micros_per_call", "input_audio_micros_per_mtok",
        "output_audio_micros_per_mtok", "web_search_low_micros_per_call", "web_search_medium_micros_per_call",
        "fast_multiplier_bps", "geo_us_multiplier_bps")
BASE = ("input_micros_per_mtok", "cached_input_micros_per_mtok", "cache_write_micros_per_mtok",
        "output_micros_per_mtok", "max_output_tokens")
# Each model's row: the five prices, then the dimensions it carries (the
# others null).
WANT = {
    "ai21.j2-mid-v1": ((12500000, 12500000, 12500000, 12500000, 8191), {"max_input_tokens": 8191}),
    "claude-opus-4-6": ((5000000, 500000, 6250000, 25000000, 128000), {
        "max_input_tokens": 1000000, "reasoning": True, "cache_write_1h_micros_per_mtok": 10000000,
        "web_search_micros_per_call": 10000, "web_search_low_micros_per_call": 10000,
        "web_search_medium_micros_per_call": 10000,
        # provider_specific_entry {"us": 1.1, "fast": 6.0}: multipliers in basis points
        "fast_multiplier_bps": 60000, "geo_us_multiplier_bps": 11000}),
    "claude-sonnet-4-5": ((3000000, 300000, 3750000, 15000000, 64000), {
        "max_input_tokens": 200000, "reasoning": True, "cache_write_1h_micros_per_mtok": 6000000,
        "tier_threshold_tokens": 200000, "tier_input_micros_per_mtok": 6000000,
        "tier_output_micros_per_mtok": 22500000, "tier_cached_input_micros_per_mtok": 600000,
        "tier_cache_write_micros_per_mtok": 7500000, "web_search_micros_per_call": 10000,
        "web_search_low_micros_per_call": 10000, "web_search_medium_micros_per_call": 10000}),
    "gemini-3-pro-preview": ((2000000, 200000, 2000000, 12000000, 65535), {
        "max_input_tokens": 1048576, "reasoning": True, "tier_threshold_tokens": 200000,
        "tier_input_micros_per_mtok": 4000000, "tier_output_micros_per_mtok": 18000000,
        "tier_cached_input_micros_per_mtok": 400000, "tier_cache_write_micros_per_mtok": 250000,
        "priority_input_micros_per_mtok": 3600000, "priority_output_micros_per_mtok": 21600000,
        "priority_cached_input_micros_per_mtok": 360000, "web_search_micros_per_call": 14000,
        "web_search_low_micros_per_call": 14000, "web_search_medium_micros_per_call": 14000}),
    "gpt-4o-audio-preview": ((2500000, 2500000, 2500000, 10000000, 16384), {
        "max_input_tokens": 128000, "input_audio_micros_per_mtok": 40000000,
        "output_audio_micros_per_mtok": 80000000}),
    "gpt-4o-search-preview": ((2500000, 1250000, 2500000, 10000000, 16384), {
        "max_input_tokens": 128000, "web_search_micros_per_call": 50000, "web_search_low_micros_per_call": 30000,
        "web_search_medium_micros_per_call": 35000}),
    "gpt-5.4": ((2500000, 250000, 2500000, 15000000, 128000), {
        "max_input_tokens": 1050000, "reasoning": True, "tier_threshold_tokens": 272000,
        "tier_input_micros_per_mtok": 5000000, "tier_output_micros_per_mtok": 22500000,
        "tier_cached_input_micros_per_mtok": 500000, "priority_input_micros_per_mtok": 5000000,
        "priority_output_micros_per_mtok": 30000000, "priority_cached_input_micros_per_mtok": 500000,
        "flex_input_micros_per_mtok": 1250000, "flex_output_micros_per_mtok": 7500000,
        "flex_cached_input_micros_per_mtok": 130000}),
}
SKIPPED = {"sample_spec": "LiteLLM's description of its fields",
           "databricks/databricks-claude-3-7-sonnet": "input_cost_per_token is not a price in whole micros"}
# The billing keys creditd does not apply, with the models (of those taken)
# carrying them (the Batch API's *_cost_per_token_batches are applied:
# docs/gateway.md, "Batches").
UNAPPLIED = {
    "cache_creation_input_token_cost_above_1hr_above_200k_tokens": {"claude-sonnet-4-5"},
    "input_cost_per_token_above_200k_tokens_priority": {"gemini-3-pro-preview"},
    "output_cost_per_token_above_200k_tokens_priority": {"gemini-3-pro-preview"},
    "cache_read_input_token_cost_above_200k_tokens_priority": {"gemini-3-pro-preview"},
    "regional_processing_uplift_multiplier_eu": {"gpt-5.4"},
    "regional_processing_uplift_multiplier_us": {"gpt-5.4"},
}


def write(name, content):
    path = stack.path("%s-%s" % (uid("dims"), name))
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))
    return path


def listed():
    return {m["model"]: m for m in api("GET", "/v1/models", auth="read").json["data"]}


def run(*args):
    return creditctl("price", "import", *args, check_rc=False)


def history(model):
    p = creditctl("price", "history", model, check_rc=False)
    return p.stdout.strip().splitlines() if p.returncode == 0 else []


def private_catalogue():
    """The catalogue with its models renamed PREFIX/name (sample_spec kept),
    written where creditctl reads it: (path, prefix)."""
    with open(os.path.join(HERE, "litellm_catalogue.json")) as f:
        entries = json.load(f)
    prefix = uid("d")
    renamed = {(k if k == "sample_spec" else "%s/%s" % (prefix, k)): v for k, v in entries.items()
               if k in WANT or k in SKIPPED}
    return write("litellm.json", renamed), prefix


def report(stdout):
    """{key: set of models} of the import's "billing keys" lines, and
    {name: why} of its "skipped" lines."""
    keys, skipped = {}, {}
    for line in stdout.splitlines():
        m = re.match(r"^  (\S+) \((\d+) models?\): (.*)$", line)
        if m:
            keys[m.group(1)] = set(m.group(3).split(", "))
            eq(len(keys[m.group(1)]), int(m.group(2)), "the count is the models named: %r" % line)
            continue
        m = re.match(r"^  (\S+): (.*)$", line)
        if m:
            skipped[m.group(1)] = m.group(2)
    return keys, skipped


def test_a_litellm_catalogue_imports_every_dimension_to_the_micro():
    path, prefix = private_catalogue()
    p = run(path)
    eq(p.returncode, 0, "imported: %s%s" % (p.stdout, p.stderr))
    check("imported %d price rows" % len(WANT) in p.stdout, "the seven models: %r" % p.stdout)
    names = ["%s/%s" % (prefix, m) for m in WANT]
    check(wait_until(lambda: all(n in listed() for n in names), timeout=15), "creditd lists them")
    rows = listed()
    for model, (base, dims) in WANT.items():
        got = rows["%s/%s" % (prefix, model)]
        eq(tuple(got[k] for k in BASE), base, "%s: the token prices" % model)
        eq({k: got[k] for k in DIMS}, {k: dims.get(k) for k in DIMS}, "%s: every dimension, null where none" % model)
    for name in SKIPPED:
        check("%s/%s" % (prefix, name) not in rows, "%s was skipped, not priced" % name)
    # creditctl price list shows what GET /v1/models shows.
    ctl = {m["model"]: m for m in json.loads(creditctl("price", "list").stdout)["data"]}
    for n in names:
        eq(ctl[n], rows[n], "price list: %s as the API has it" % n)


def test_the_report_names_each_billing_key_not_applied_with_its_models():
    path, prefix = private_catalogue()
    p = run(path, "--dry-run")
    eq(p.returncode, 0, "a dry run: %s" % p.stderr)
    keys, skipped = report(p.stdout)
    mine = {k: {m.split("/", 1)[1] for m in v if m.startswith(prefix + "/")} for k, v in keys.items()}
    eq({k: v for k, v in mine.items() if v}, UNAPPLIED, "each key not applied, with the models carrying it")
    for name, why in SKIPPED.items():
        full = name if name == "sample_spec" else "%s/%s" % (prefix, name)
        check(why in skipped.get(full, ""), "%s skipped, saying %r: %r" % (name, why, skipped.get(full)))
    check("%s/claude-sonnet-4-5: new:" % prefix in p.stdout and "tier_threshold_tokens 200000" in p.stdout and
          "web_search_micros_per_call 10000" in p.stdout, "the dry run shows the dimensions: %r" % p.stdout[-2000:])
    eq(history("%s/claude-sonnet-4-5" % prefix), [], "a dry run imports nothing")


def test_history_keeps_the_dimensions_and_a_change_of_one_enters_it():
    path, prefix = private_catalogue()
    eq(run(path).returncode, 0, "imported")
    model = "%s/claude-sonnet-4-5" % prefix
    h = history(model)
    eq(len(h), 1, "one price so far")
    for part in ("cache_write 3750000", "max_input_tokens 200000", "reasoning 1",
                 "cache_write_1h_micros_per_mtok 6000000", "tier_threshold_tokens 200000",
                 "tier_input_micros_per_mtok 6000000", "tier_output_micros_per_mtok 22500000",
                 "tier_cached_input_micros_per_mtok 600000", "tier_cache_write_micros_per_mtok 7500000",
                 "web_search_micros_per_call 10000"):
        check(part in h[0], "history shows %r: %r" % (part, h[0]))
    check("priority_" not in h[0] and "audio" not in h[0], "and only what it carries: %r" % h[0])
    eq(run(path).returncode, 0, "the same catalogue again")
    eq(len(history(model)), 1, "the same price is no new entry")
    # One dimension changes (+10 %, within the guard): a new entry.
    with open(path) as f:
        cat = json.load(f)
    cat[model]["input_cost_per_token_above_200k_tokens"] = 6.6e-06
    p = run(write("changed.json", cat), "--dry-run")
    check("tier_input_micros_per_mtok 6000000 -> 6600000" in p.stdout, "the dry run names the change: %r" % p.stdout)
    eq(run(write("changed.json", cat)).returncode, 0, "imported")
    h = history(model)
    eq(len(h), 2, "a changed dimension enters the history")
    check("tier_input_micros_per_mtok 6600000" in h[1], "as it is now: %r" % h[1])


def test_a_dimension_rising_beyond_the_guard_is_refused_and_a_bad_one_named():
    m = uid("dimrise")
    row = {"model": m, "input_micros_per_mtok": 1000000, "cached_input_micros_per_mtok": 100000,
           "output_micros_per_mtok": 4000000, "max_output_tokens": 4096, "priority_input_micros_per_mtok": 2000000,
           "reasoning": False}
    eq(run(write("l.json", [row])).returncode, 0, "a JSON list in micros takes the dimensions by name")
    check(wait_until(lambda: m in listed(), timeout=15), "listed")
    got = listed()[m]
    eq((got["priority_input_micros_per_mtok"], got["reasoning"], got["flex_input_micros_per_mtok"]),
       (2000000, False, None), "as given; absent is null")
    p = run(write("l.json", [dict(row, priority_input_micros_per_mtok=2400001)]))
    eq(p.returncode, 1, "a rise above 20 %")
    check("priority_input_micros_per_mtok rises from 2000000 to 2400001" in p.stderr, "named: %r" % p.stderr)
    for field, bad in (("reasoning", 2), ("tier_threshold_tokens", 0), ("web_search_micros_per_call", -1),
                       ("input_audio_micros_per_mtok", "3")):
        p = run(write("bad.json", [dict(row, **{field: bad})]))
        eq(p.returncode, 1, "%s %r refused" % (field, bad))
        check(field in p.stderr and "nothing imported" in p.stderr, "names %s: %r" % (field, p.stderr))
    eq(len(history(m)), 1, "nothing imported by any of them")


def test_a_csv_import_works_as_before_and_prices_no_dimension():
    m = uid("dimcsv")
    p = run(write("p.csv", "model,%s,1000000,500000,4000000,4096,1250000\n" % m))
    eq(p.returncode, 0, "a CSV list: %s" % p.stderr)
    eq(p.stdout.strip(), "imported 1 price rows", "the import says only that")
    check(wait_until(lambda: m in listed(), timeout=15), "listed")
    got = listed()[m]
    eq(tuple(got[k] for k in BASE), (1000000, 500000, 1250000, 4000000, 4096), "its prices")
    eq({k: got[k] for k in DIMS}, {k: None for k in DIMS}, "no dimension")
    h = history(m)
    eq(len(h), 1, "one entry")
    check(h[0].endswith("cache_write 1250000"), "history as before: %r" % h[0])
    # A CSV row over a model with dimensions is its whole price: none of them left.
    path, prefix = private_catalogue()
    eq(run(path).returncode, 0, "the catalogue")
    sonnet = "%s/claude-sonnet-4-5" % prefix
    tier = lambda: listed().get(sonnet, {}).get("tier_input_micros_per_mtok", 0)
    check(wait_until(lambda: tier() == 6000000, timeout=15), "listed with its tier")
    eq(run(write("p.csv", "model,%s,3000000,300000,15000000,64000,3750000\n" % sonnet)).returncode, 0, "CSV")
    check(wait_until(lambda: tier() is None, timeout=15),
          "the CSV row prices no tier: a call needing one is refused, not charged at the token price")


def test_an_import_beyond_what_creditd_loads_is_refused_whole():
    """LiteLLM's whole catalogue fits (about 2,200 models priced per token);
    an import that would leave more than creditd's price cache holds
    (src/limits.h LIMIT_PRICES, 4096) is refused, nothing written: creditd
    would otherwise be left unable to load any price."""
    prefix = uid("many")
    rows = "".join("model,%s/%d,1000000,100000,2000000,100\n" % (prefix, i) for i in range(4097))
    p = run(write("many.csv", rows))
    eq(p.returncode, 1, "refused: %s" % p.stdout[-300:])
    check("more than the 4096 creditd loads" in p.stderr and "nothing imported" in p.stderr, "says so: %r" % p.stderr)
    eq((history("%s/0" % prefix), history("%s/4096" % prefix)), ([], []), "nothing written")


def test_price_set_sets_one_model_s_fields_and_dimensions():
    """creditctl price set MODEL FIELD=VALUE... (DESIGN §14): fields named
    as GET /v1/models names them (or without their unit, or as --flags);
    a new model needs input, output and max_output_tokens (its cached and
    cache-write input default to the input price); a priced one keeps what
    is not named; a dimension =none is priced no longer; each change enters
    the history; bad input is exit 2, the field named, nothing changed."""
    model = uid("set-model")
    p = creditctl("price", "set", model, "input=1000000", check_rc=False)
    eq(p.returncode, 2, "a new model without its output")
    check("output_micros_per_mtok" in p.stderr, "names what is missing: %r" % p.stderr)
    check(model not in listed(), "nothing priced")
    p = creditctl("price", "set", model, "input_micros_per_mtok=1000000", "output=4000000", "max_output_tokens=8000",
                  "--priority-input", "2000000", "priority_output=8000000", "web_search=10000")
    shown = json.loads(p.stdout)
    eq((shown["model"], shown["input_micros_per_mtok"], shown["cached_input_micros_per_mtok"],
        shown["cache_write_micros_per_mtok"], shown["priority_input_micros_per_mtok"],
        shown["web_search_micros_per_call"], shown["flex_input_micros_per_mtok"]),
       (model, 1000000, 1000000, 1000000, 2000000, 10000, None), "priced as said, printed as listed")
    check(wait_until(lambda: model in listed(), timeout=15), "creditd lists it")
    m = listed()[model]
    eq((m["output_micros_per_mtok"], m["max_output_tokens"], m["priority_output_micros_per_mtok"]),
       (4000000, 8000, 8000000), "GET /v1/models lists it")
    creditctl("price", "set", model, "cached_input=100000", "web_search_micros_per_call=none",
              "tier_threshold_tokens=1000", "tier_input=2000000")
    check(wait_until(lambda: listed()[model]["tier_threshold_tokens"] == 1000, timeout=15), "creditd lists the change")
    m = listed()[model]
    eq((m["input_micros_per_mtok"], m["cached_input_micros_per_mtok"], m["web_search_micros_per_call"],
        m["priority_input_micros_per_mtok"], m["tier_threshold_tokens"], m["tier_input_micros_per_mtok"]),
       (1000000, 100000, None, 2000000, 1000, 2000000), "what was not named is kept, none unprices")
    h = history(model)
    eq(len(h), 2, "each change in the history")
    check("tier_threshold_tokens 1000" in h[1] and "web_search" not in h[1], "as it is now: %r" % h[1])
    # reasoning as the list shows it (true/false), 1/0 too; a flag is no price.
    creditctl("price", "set", model, "reasoning=true")
    check(wait_until(lambda: listed()[model]["reasoning"] is True, timeout=15), "reasoning=true: listed true")
    creditctl("price", "set", model, "reasoning=0")
    check(wait_until(lambda: listed()[model]["reasoning"] is False, timeout=15), "reasoning=0: listed false")
    creditctl("price", "set", model, "reasoning=none")
    check(wait_until(lambda: listed()[model]["reasoning"] is None, timeout=15), "reasoning=none: unpriced")
    eq(len(history(model)), 5, "each change in the history")
    m, h = listed()[model], history(model)
    for bad, named in ((["input=-5"], "input_micros_per_mtok"), (["reasoning=2"], "reasoning"),
                       (["input=true"], "input_micros_per_mtok"), (["tier_threshold_tokens=false"], "tier_threshold_tokens"),
                       (["tier_threshold_tokens=0"], "tier_threshold_tokens"), (["bogus=1"], "bogus"),
                       (["input=12abc"], "input=12abc"), (["input=none"], "input_micros_per_mtok")):
        p = creditctl("price", "set", model, *bad, check_rc=False)
        eq(p.returncode, 2, "%r refused" % bad)
        check(named in p.stderr, "names %s: %r" % (named, p.stderr))
    eq(listed()[model], m, "nothing changed")
    eq(history(model), h, "nor the history")
