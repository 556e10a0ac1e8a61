/* test_gwmoney.c: the gateway's money decision (docs/gateway.md, "What is billed"): the
 * provider's usage is charged as reported, what is beyond what was asked
 * flagged, never dropped. */
#include "gwmoney.h"
#include "unit/gateway/gwroutes.h"
#include "tap.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static struct gw_usage usage(int64_t in, int64_t cached, int64_t writes, int64_t out)
{
	struct gw_usage u;
	memset(&u, 0, sizeof(u));
	u.have = 1;
	u.input_tokens = in;
	u.cached_input_tokens = cached;
	u.cache_write_tokens = writes;
	u.output_tokens = out;
	return u;
}

static void is_charge(const struct gw_charge *c, int64_t in, int64_t cached, int64_t writes, int64_t out, int flag,
		      const char *what)
{
	ok(c->usage.input_tokens == in && c->usage.cached_input_tokens == cached && c->usage.cache_write_tokens == writes &&
	   c->usage.output_tokens == out, "%s: charged %lld/%lld/%lld/%lld (want %lld/%lld/%lld/%lld)", what,
	   (long long)c->usage.input_tokens, (long long)c->usage.cached_input_tokens, (long long)c->usage.cache_write_tokens,
	   (long long)c->usage.output_tokens, (long long)in, (long long)cached, (long long)writes, (long long)out);
	is_int(c->over_hold, flag, "%s: over_hold %d (%s)", what, flag, c->why);
	ok((c->why[0] != '\0') == flag, "%s: a reason exactly when flagged", what);
}

/* The dimensions beyond tokens (docs/gateway.md, "What is billed"): refused when not priced,
 * held at their worst case, charged and flagged as the usage says. */
static void test_dimensions(void)
{
	struct price p = {2500000, 1250000, 10000000, 4096, 3750000, PRICING_NO_DIMS};
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	ask.web_search_max = -1;
	ask.tier = GW_TIER_PRIORITY;
	is_str(gwmoney_unpriced(&ask, &p), "service_tier", "priority asked, not priced: refused");
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_INPUT, 5000000);
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_OUTPUT, 20000000);
	ok(gwmoney_unpriced(&ask, &p) == NULL, "priced: taken");
	ask.tier = GW_TIER_AUTO;
	ok(gwmoney_unpriced(&ask, &p) == NULL, "auto: always taken");
	ask.cache_1h = 1;
	is_str(gwmoney_unpriced(&ask, &p), "cache_control", "1-hour writes not priced");
	pricing_dim_put(&p, PRICE_DIM_CACHE_WRITE_1H, 7500000);
	ask.web_search = "tools";
	is_str(gwmoney_unpriced(&ask, &p), "tools", "web search not priced");
	pricing_dim_put(&p, PRICE_DIM_WEB_SEARCH, 10000);
	ok(gwmoney_unpriced(&ask, &p) == NULL, "all priced");

	struct price held;
	int64_t fees, searches;
	gwmoney_hold(&ask, &p, 5, &held, &fees, &searches);
	is_int(held.input_micros_per_mtok, 7500000, "input held at its dearest: the 1-hour write price");
	is_int(held.output_micros_per_mtok, 20000000, "output at auto's dearest tier");
	is_int(searches, 5, "no max: the config's searches");
	is_int(fees, 5 * 10000 * 1000000LL, "their fees in the formula's units");
	ask.web_search_max = 2;
	ask.cache_1h = 0;
	ask.tier = GW_TIER_STANDARD;
	gwmoney_hold(&ask, &p, 5, &held, &fees, &searches);
	is_int(held.input_micros_per_mtok, 3750000, "standard: the 5-minute write price is the dearest input");
	is_int(held.output_micros_per_mtok, 10000000, "standard output");
	is_int(searches, 2, "the max asked");

	ask.web_search_max = 1000;
	pricing_dim_put(&p, PRICE_DIM_WEB_SEARCH, INT64_MAX / 2);
	is_int(gwmoney_hold(&ask, &p, 5, &held, &fees, &searches), -1, "fees past int64: refused, never wrapped");
	pricing_dim_put(&p, PRICE_DIM_WEB_SEARCH, 10000);
	ask.web_search_max = 2;
	struct price cheap = p;
	pricing_dim_put(&cheap, PRICE_DIM_PRIORITY_INPUT, 1000);	/* a row pricing priority below its input */
	ask.tier = GW_TIER_PRIORITY;
	is_int(gwmoney_hold(&ask, &cheap, 5, &held, &fees, &searches), 0, "a row's odd prices: no crash");
	ok(held.input_micros_per_mtok >= cheap.cached_input_micros_per_mtok, "held at least at the cached price");
	ask.tier = GW_TIER_STANDARD;
	is_int(gwmoney_worst_tier(&ask, &p), GW_TIER_STANDARD, "standard asked: standard");
	ask.tier = GW_TIER_AUTO;
	is_int(gwmoney_worst_tier(&ask, &p), GW_TIER_PRIORITY, "auto on a row pricing priority: priority");
	ask.tier = GW_TIER_STANDARD;
	struct gw_asked a = {R_MESSAGES, 100, 1, 1000};
	struct gw_usage u = usage(800, 0, 100, 50);
	u.tier = GW_TIER_PRIORITY;
	u.web_searches = 3;
	struct gw_charge c;
	int64_t extra;
	gwmoney_charge(&a, &u, &c);
	is_int(gwmoney_dims(&ask, &p, 5, &u, &extra, &c), PRICING_OK, "priced");
	/* priority: 700×2.5 more on input... (5-2.5)×700 + (20-10)×50 = 1750 + 500; searches 3×10^10 */
	is_int(extra, 2500000LL * 700 + 10000000LL * 50 + 3LL * 10000 * 1000000, "the tier's and the searches' extra");
	ok(c.over_hold && strstr(c.why, "dearer service tier") && strstr(c.why, "3 web searches, 2 held"),
	   "a dearer tier than asked, more searches than held: flagged (%s)", c.why);
	struct gw_ask chat_search = ask;
	chat_search.web_search = "web_search_options";
	chat_search.web_search_max = 1;
	u = usage(800, 0, 0, 50);
	gwmoney_charge(&a, &u, &c);
	is_int(gwmoney_dims(&chat_search, &p, 5, &u, &extra, &c), PRICING_OK, "Chat with web_search_options");
	is_int(extra, 10000LL * 1000000, "one search a call, though its usage says none");
	struct price bare = {2500000, 1250000, 10000000, 4096, 3750000, PRICING_NO_DIMS};
	u = usage(800, 0, 100, 50);
	u.cache_write_1h_tokens = 40;
	gwmoney_charge(&a, &u, &c);
	is_int(gwmoney_dims(&ask, &bare, 5, &u, &extra, &c), PRICING_OK, "a row without the dimension");
	is_int(extra, 0, "charged at the standard price");
	ok(c.over_hold && strstr(c.why, "cache_write_1h_micros_per_mtok used, not priced"), "and flagged: %s", c.why);
}

/* The long-context tier (docs/gateway.md, "The long-context tier"): held at
 * the tier's prices when the input bound passes the threshold, refused when
 * the row has a threshold and no tier price, charged so when the usage's
 * input passes it. */
static void test_long_context(void)
{
	struct price p = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	pricing_dim_put(&p, PRICE_DIM_TIER_THRESHOLD, 200000);
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	ask.web_search_max = -1;
	ask.long_context = "messages";
	is_str(gwmoney_unpriced(&ask, &p), "messages", "past the threshold, no tier price: refused, the input named");
	pricing_dim_put(&p, PRICE_DIM_TIER_INPUT, 6000000);
	pricing_dim_put(&p, PRICE_DIM_TIER_OUTPUT, 22500000);
	ok(gwmoney_unpriced(&ask, &p) == NULL, "priced: taken");
	struct price held;
	int64_t fees, searches;
	is_int(gwmoney_hold(&ask, &p, 5, &held, &fees, &searches), 0, "held");
	/* input at the dearest: the tier's input 6 vs its cache write 7.5 (3.75 scaled ×2) */
	is_int(held.input_micros_per_mtok, 7500000, "input at the tier's dearest input price");
	is_int(held.output_micros_per_mtok, 22500000, "output at the tier's");
	ask.long_context = NULL;
	gwmoney_hold(&ask, &p, 5, &held, &fees, &searches);
	is_int(held.output_micros_per_mtok, 15000000, "under the threshold: the standard output");
	struct gw_asked a = {R_MESSAGES, 1000, 1, 300000};
	struct gw_usage u = usage(250000, 0, 0, 1000);
	struct gw_charge c;
	int64_t extra;
	gwmoney_charge(&a, &u, &c);
	is_int(gwmoney_dims(&ask, &p, 5, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 3000000LL * 250000 + 7500000LL * 1000, "the usage past the threshold: every token at the tier");
	ok(!c.over_hold, "not flagged: the row prices it");
	u = usage(200000, 0, 0, 1000);
	gwmoney_charge(&a, &u, &c);
	gwmoney_dims(&ask, &p, 5, &u, &extra, &c);
	is_int(extra, 0, "an input of the threshold: the standard prices");
	/* Anthropic without the 1M-context beta: the provider serves no
	 * input past the threshold; an estimate from a bound past it is not
	 * charged the tier (it was held at the standard prices). */
	struct gw_ask off = ask;
	off.long_context_off = 1;
	u = usage(250000, 0, 0, 1000);
	gwmoney_charge(&a, &u, &c);
	gwmoney_dims(&off, &p, 5, &u, &extra, &c);
	is_int(extra, 0, "no beta: never the tier");
	ok(!c.dims.long_context, "nor recorded so");
	/* A tier cheaper than the standard prices (a row's mistake, or a
	 * discount): the hold covers the dearer of the two. */
	struct price cheap = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	pricing_dim_put(&cheap, PRICE_DIM_TIER_THRESHOLD, 200000);
	pricing_dim_put(&cheap, PRICE_DIM_TIER_INPUT, 1000000);
	pricing_dim_put(&cheap, PRICE_DIM_TIER_OUTPUT, 5000000);
	ask.long_context = "messages";
	gwmoney_hold(&ask, &cheap, 5, &held, &fees, &searches);
	ok(held.input_micros_per_mtok >= 3750000 && held.output_micros_per_mtok >= 15000000,
	   "a cheaper tier: held at the standard prices (%lld, %lld)", (long long)held.input_micros_per_mtok,
	   (long long)held.output_micros_per_mtok);
	/* A tier the row does not price is recorded as not charged. */
	struct price bare = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	pricing_dim_put(&bare, PRICE_DIM_TIER_THRESHOLD, 200000);
	u = usage(250000, 0, 0, 1000);
	gwmoney_charge(&a, &u, &c);
	gwmoney_dims(&ask, &bare, 5, &u, &extra, &c);
	ok(extra == 0 && c.over_hold && !c.dims.long_context, "a threshold without tier prices: standard, flagged, "
	   "recorded as standard (%s)", c.why);
}

/* A tool's own model (docs/gateway.md, "A tool's own model"): the
 * advisor's runs held at their worst case and charged at the advisor
 * model's row, apart from the call's. */
static void test_tool_model(void)
{
	struct price tp = {15000000, 1500000, 75000000, 32000, 18750000, PRICING_NO_DIMS};
	struct price sonnet = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	struct gw_ask ask;
	struct gw_tool_held h;
	memset(&ask, 0, sizeof(ask));
	pricing_dim_put(&tp, PRICE_DIM_CACHE_WRITE_1H, 30000000);
	is_int(gwmoney_tool_hold(&ask, &tp, 5, 500, 200, &h), 0, "no tool model: nothing held");
	is_int(h.raw, 0, "its raw");
	snprintf(ask.tool_model, sizeof(ask.tool_model), "claude-opus-4-1");
	ask.tool_model_cap = 1000;
	ask.tool_model_uses = 2;
	is_int(gwmoney_tool_hold(&ask, &tp, 5, 500, 200, &h), 0, "held");
	ok(h.runs == 2 && h.output == 1000 && h.input == 500 + 200 + 2 * 1000, "max_uses runs of max_tokens, each reading "
	   "the conversation and every output (runs %lld in %lld out %lld)", (long long)h.runs, (long long)h.input,
	   (long long)h.output);
	is_int(h.raw, 2LL * (2700LL * 18750000 + 1000LL * 75000000), "at the advisor's prices, input at its dearest");
	ask.tool_model_cache_1h = 1;
	gwmoney_tool_hold(&ask, &tp, 5, 500, 200, &h);
	is_int(h.raw, 2LL * (2700LL * 30000000 + 1000LL * 75000000), "1-hour caching asked: its write price");
	ask.tool_model_cache_1h = 0;
	ask.tool_model_cap = ask.tool_model_uses = -1;
	gwmoney_tool_hold(&ask, &tp, 5, 500, 200, &h);
	ok(h.runs == 5 && h.output == 32000, "unsaid: [gateway] max_tool_calls_held runs of the model's max output");
	ask.tool_model_uses = 2;
	ask.tool_model_cap = 1000;
	gwmoney_tool_hold(&ask, &tp, 5, 500, 200, &h);

	struct gw_asked msgs = {R_MESSAGES, 1000, 1, 100000};
	struct gw_usage u = usage(23000, 0, 0, 1000);
	struct gw_charge c;
	int64_t extra = 0;
	u.tool.runs = 1;
	snprintf(u.tool.model, sizeof(u.tool.model), "claude-opus-4-1");
	const int64_t run[GW_TOOL_PARTS] = {20000, 500, 3000, 800, 200};
	memcpy(u.tool.tokens, run, sizeof(run));
	const int64_t at_opus = 20000LL * 15000000 + 300LL * 18750000 + 200LL * 30000000 + 3000LL * 1500000 +
				800LL * 75000000;
	gwmoney_charge(&msgs, &u, &c);
	is_int(gwmoney_tool(&ask, &tp, NULL, &h, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, at_opus, "the advisor's tokens at the advisor's prices, each kind its own");
	is_charge(&c, 23000, 0, 0, 1000, 0, "the call's own tokens untouched, nothing flagged");
	snprintf(u.tool.model, sizeof(u.tool.model), "claude-sonnet-4-5");
	extra = 0;
	gwmoney_charge(&msgs, &u, &c);
	gwmoney_tool(&ask, &tp, &sonnet, &h, &u, &extra, &c);
	is_int(extra, at_opus, "a cheaper model named than asked: the dearer, the one asked");
	ok(c.over_hold && strstr(c.why, "claude-sonnet-4-5") != NULL, "flagged: %s", c.why);
	extra = 0;
	gwmoney_charge(&msgs, &u, &c);
	gwmoney_tool(&ask, &sonnet, &tp, &h, &u, &extra, &c);
	is_int(extra, at_opus, "a dearer model named than asked: the dearer, the one named");
	extra = 0;
	gwmoney_charge(&msgs, &u, &c);
	gwmoney_tool(&ask, &tp, NULL, &h, &u, &extra, &c);
	is_int(extra, (20000LL + 500 + 3000 + 800) * 75000000, "a model not priced: every token at the dearest price");
	snprintf(u.tool.model, sizeof(u.tool.model), "claude-opus-4-1");
	u.tool.runs = 3;
	extra = 0;
	gwmoney_charge(&msgs, &u, &c);
	gwmoney_tool(&ask, &tp, NULL, &h, &u, &extra, &c);
	ok(extra == at_opus && c.over_hold && strstr(c.why, "3 runs") != NULL, "more runs than held: charged, flagged "
	   "(%s)", c.why);
	struct gw_tool_usage none, est;
	memset(&none, 0, sizeof(none));
	gwmoney_tool_estimate(&ask, &h, &none, &est);
	ok(est.runs == 2 && est.tokens[GW_TOOL_INPUT] == 2 * 2700 && est.tokens[GW_TOOL_OUTPUT] == 2000 &&
	   strcmp(est.model, "claude-opus-4-1") == 0, "an estimate without runs seen: the runs held");
}

/* A call that may be answered by two providers, each at its own price
 * (docs/gateway.md, "Which price a call is charged"): the hold covers the
 * dearer at every output it may be shrunk to, input and output each at
 * the dearer's, the dearer fees; the charge is the answering provider's,
 * to the micro. */
static void test_provider_prices(void)
{
	/* b bills input 35 % dearer and output 10 % cheaper than a, and its
	 * searches cost more. */
	struct price a = {2000000, 1000000, 10000000, 4096, 2000000, PRICING_NO_DIMS};
	struct price b = {2700000, 1350000, 9000000, 4096, 2700000, PRICING_NO_DIMS};
	pricing_dim_put(&a, PRICE_DIM_WEB_SEARCH, 10000);
	pricing_dim_put(&b, PRICE_DIM_WEB_SEARCH, 25000);
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	ask.web_search_max = 2;
	ask.web_search = "tools";
	struct price held, hb;
	int64_t fees, fb, searches;
	ok(gwmoney_hold(&ask, &a, 5, &held, &fees, &searches) == 0 && gwmoney_hold(&ask, &b, 5, &hb, &fb, &searches) == 0,
	   "each candidate's hold");
	gwmoney_hold_max(&held, &fees, &hb, fb);
	is_int(held.input_micros_per_mtok, 2700000, "input held at the dearer's (b)");
	is_int(held.output_micros_per_mtok, 10000000, "output held at the dearer's (a)");
	is_int(fees, 2 * 25000 * 1000000LL, "the dearer fees (b's searches)");
	/* Covers either provider's worst case at every output the hold may
	 * be shrunk to. */
	int covers = 1;
	for (int64_t out = 0; out <= 4096; out += 256) {
		const struct pricing_tokens t = {50000, 0, 0, out};
		int64_t h = 0, ca = 0, cb = 0;
		pricing_cost_with_extra(&held, 10000, &t, fees, &h);
		pricing_cost_with_extra(&a, 10000, &t, 2 * 10000 * 1000000LL, &ca);
		pricing_cost_with_extra(&b, 10000, &t, 2 * 25000 * 1000000LL, &cb);
		covers &= h >= ca && h >= cb;
	}
	ok(covers, "the hold covers both providers' worst case at every output");
	/* Kept: a candidate cheaper in both leaves the hold as it was. */
	struct price c = {1000000, 500000, 1000000, 4096, 1000000, PRICING_NO_DIMS};
	gwmoney_hold_max(&held, &fees, &c, 0);
	ok(held.input_micros_per_mtok == 2700000 && held.output_micros_per_mtok == 10000000 &&
	   fees == 2 * 25000 * 1000000LL, "a cheaper candidate changes nothing");
	/* Charged at the one that answered, each its own: 1000 in, 200 out. */
	const struct pricing_tokens used = {1000, 0, 0, 200};
	int64_t at_a = 0, at_b = 0;
	pricing_token_cost(&a, 10000, &used, &at_a);
	pricing_token_cost(&b, 10000, &used, &at_b);
	is_int(at_a, 4000, "answered by a: 2000 + 2000");
	is_int(at_b, 4500, "answered by b: 2700 + 1800");
}

int main(void)
{
	test_provider_prices();
	test_tool_model();
	test_long_context();
	struct gw_charge c;
	struct gw_asked chat = {R_CHAT, 100, 1, 1000};
	struct gw_usage u = usage(800, 200, 0, 90);
	gwmoney_charge(&chat, &u, &c);
	is_charge(&c, 800, 200, 0, 90, 0, "within the hold");

	u = usage(800, 0, 0, 130);
	gwmoney_charge(&chat, &u, &c);
	is_charge(&c, 800, 0, 0, 130, 1, "output above the cap: charged as reported");
	ok(strstr(c.why, "output 130 above the cap of 100") != NULL, "and named: %s", c.why);

	struct gw_asked three = {R_CHAT, 100, 3, 1000};
	u = usage(800, 0, 0, 300);
	gwmoney_charge(&three, &u, &c);
	is_charge(&c, 800, 0, 0, 300, 0, "n = 3: each choice may write the cap");
	u = usage(800, 0, 0, 301);
	gwmoney_charge(&three, &u, &c);
	is_charge(&c, 800, 0, 0, 301, 1, "n = 3: one token above three caps");

	u = usage(50, 80, 0, 10);
	gwmoney_charge(&chat, &u, &c);
	is_charge(&c, 80, 80, 0, 10, 1, "cached above input: input taken as the cached");

	struct gw_asked msgs = {R_MESSAGES, 500, 1, 100000};
	u = usage(1000, 600, 500, 20);
	gwmoney_charge(&msgs, &u, &c);
	is_charge(&c, 1100, 600, 500, 20, 1, "Anthropic: cache reads and writes above input: their sum");

	u = usage(1200, 0, 0, 10);
	gwmoney_charge(&chat, &u, &c);
	is_charge(&c, 1200, 0, 0, 10, 1, "input above the bound held");
	ok(strstr(c.why, "input 1200 above the 1000 held") != NULL, "named: %s", c.why);

	struct gw_asked emb = {R_EMBEDDINGS, -1, 1, 500};
	u = usage(400, 0, 0, 7);
	gwmoney_charge(&emb, &u, &c);
	is_charge(&c, 400, 0, 0, 0, 0, "embeddings: output ignored, not flagged");

	struct gw_asked nocap = {R_RESPONSES, -1, 1, 1000};
	u = usage(10, 0, 0, 100000);
	gwmoney_charge(&nocap, &u, &c);
	is_charge(&c, 10, 0, 0, 100000, 0, "no cap sent: no output is beyond it");

	struct gw_asked huge = {R_CHAT, INT64_MAX / 2, 128, 1000};
	u = usage(10, 0, 0, INT64_MAX);
	gwmoney_charge(&huge, &u, &c);
	is_charge(&c, 10, 0, 0, INT64_MAX, 0, "a cap × n past int64: no overflow, nothing beyond it");

	u = usage(1, INT64_MAX, INT64_MAX, 0);
	gwmoney_charge(&chat, &u, &c);
	ok(c.usage.cached_input_tokens + c.usage.cache_write_tokens == c.usage.input_tokens && c.over_hold,
	   "cached + writes past int64: held to it, no overflow, flagged");

	u = usage(1500, 900, 0, 150);
	gwmoney_charge(&chat, &u, &c);
	is_charge(&c, 1500, 900, 0, 150, 1, "two things beyond: both");
	ok(strstr(c.why, "input 1500") != NULL && strstr(c.why, "output 150") != NULL, "both named: %s", c.why);
	test_dimensions();
	return done_testing();
}
