/* test_pricing.c: unit tests for src/money/pricing.c, the money math.
 *
 * Owns the exact-micros checks of the cost formula (rounding once, cached
 * tokens, 128-bit intermediates, overflow reported and never wrapped) and
 * the strict price-list row parser. Every expected value is worked out by
 * hand in a comment next to it; nothing here uses floating point. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pricing.h"
#include "tap.h"

/* Micros per 1M tokens: input, cached input, output, max output tokens,
 * cache write (here the default, the input price, as a price-list row
 * without one gets). */
static const struct price gpt4o = { 2500000, 1250000, 10000000, 16384, 2500000, PRICING_NO_DIMS };
static const struct price mini = { 150000, 75000, 600000, 16384, 150000, PRICING_NO_DIMS };
/* 1 micro per token for input and output, so cost == tokens at margin 10000. */
static const struct price unit = { 1000000, 0, 1000000, 1, 1000000, PRICING_NO_DIMS };
static const struct price huge = { INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, PRICING_NO_DIMS };

/* Checks status PRICING_OK and the exact cost of in input tokens (cached
 * of them read from the cache, cw written to it) and out output tokens
 * (two assertions). */
#define COST_CW_IS(p, m, in, cached, cw, out, want, desc) do { \
		int64_t got_ = -7; \
		const struct pricing_tokens t_ = {(in), (cached), (cw), (out)}; \
		is_int(pricing_token_cost((p), (m), &t_, &got_), PRICING_OK, "%s: ok", (desc)); \
		is_int(got_, (want), "%s: %s micros", (desc), #want); \
	} while (0)
#define COST_IS(p, m, in, cached, out, want, desc) COST_CW_IS(p, m, in, cached, 0, out, want, desc)

/* Checks a failing status and that the cost was left alone (two assertions). */
#define COST_CW_FAILS(p, m, in, cached, cw, out, status, desc) do { \
		int64_t got_ = -7; \
		const struct pricing_tokens t_ = {(in), (cached), (cw), (out)}; \
		is_int(pricing_token_cost((p), (m), &t_, &got_), (status), "%s: %s", (desc), #status); \
		is_int(got_, -7, "%s: cost untouched", (desc)); \
	} while (0)
#define COST_FAILS(p, m, in, cached, out, status, desc) COST_CW_FAILS(p, m, in, cached, 0, out, status, desc)

static void test_cost_basic(void)
{
	/* (1000*2,500,000 + 500*10,000,000) = 7,500,000,000;
	 * * 10500 = 78,750,000,000,000; / 10^10 = 7875 exactly. */
	COST_IS(&gpt4o, 10500, 1000, 0, 500, 7875, "gpt-4o 1000 in + 500 out, margin 10500");
	COST_IS(&gpt4o, 10500, 0, 0, 0, 0, "zero tokens");
	COST_IS(&huge, 1000000, 0, 0, 0, 0, "zero tokens at the largest prices");
	/* 150,000 * 10500 = 1,575,000,000; / 10^10 = 0.1575 -> 1. */
	COST_IS(&mini, 10500, 1, 0, 0, 1, "one input token rounds up to 1 micro");
	/* 600,000 * 10500 = 6,300,000,000; / 10^10 = 0.63 -> 1. */
	COST_IS(&mini, 10500, 0, 0, 1, 1, "one output token rounds up to 1 micro");
	/* 2,500,000 * 10500 = 26,250,000,000; / 10^10 = 2.625 -> 3. */
	COST_IS(&gpt4o, 10500, 1, 0, 0, 3, "one gpt-4o input token: 2.625 -> 3");
	/* (150,000 + 600,000) * 10000 = 7,500,000,000; / 10^10 = 0.75 -> 1,
	 * where rounding each term up would give 2. */
	COST_IS(&mini, 10000, 1, 0, 1, 1, "rounded up once, not per term");
	/* 1,000,000 * 10001 = 10,001,000,000; / 10^10 = 1.0001 -> 2. */
	COST_IS(&unit, 10001, 0, 0, 1, 2, "just above a whole micro rounds up");
	COST_IS(&gpt4o, 0, 1000, 0, 500, 0, "margin 0 costs nothing");
}

static void test_cost_margin_exact(void)
{
	/* 7,500,000,000 * 10000 / 10^10 = 7500, no rounding. */
	COST_IS(&gpt4o, 10000, 1000, 0, 500, 7500, "margin 10000 exact");
	/* 4 * 2,500,000 * 10000 = 100,000,000,000; / 10^10 = 10 exactly (not 11). */
	COST_IS(&gpt4o, 10000, 4, 0, 0, 10, "margin 10000, divisible: 10 not 11");
	/* 3 * 2,500,000 * 10000 = 75,000,000,000; / 10^10 = 7.5 -> 8. */
	COST_IS(&gpt4o, 10000, 3, 0, 0, 8, "margin 10000, 7.5 -> 8");
}

static void test_cost_cached(void)
{
	/* 1000 * 2,500,000 * 10500 / 10^10 = 2625 (no cache). */
	COST_IS(&gpt4o, 10500, 1000, 0, 0, 2625, "1000 uncached input");
	/* (600*2,500,000 + 400*1,250,000) = 2,000,000,000; * 10500 / 10^10 = 2100. */
	COST_IS(&gpt4o, 10500, 1000, 400, 0, 2100, "1000 input of which 400 cached");
	/* 1000 * 1,250,000 * 10500 / 10^10 = 1312.5 -> 1313. */
	COST_IS(&gpt4o, 10500, 1000, 1000, 0, 1313, "all input cached");
	/* 667*2,500,000 = 1,667,500,000; 333*1,250,000 = 416,250,000;
	 * 7*10,000,000 = 70,000,000; sum 2,153,750,000; * 10500 =
	 * 22,614,375,000,000; / 10^10 = 2261.4375 -> 2262. */
	COST_IS(&gpt4o, 10500, 1000, 333, 7, 2262, "cached mix rounds up once");
}

static void test_cost_large(void)
{
	/* 10^12 uncached + 10^12 cached input + 10^12 output:
	 * 10^12 * (2,500,000 + 1,250,000 + 10,000,000) = 1.375 * 10^19, already
	 * past INT64_MAX; * 10500 = 1.44375 * 10^23; / 10^10 = 14,437,500,000,000. */
	COST_IS(&gpt4o, 10500, 2000000000000, 1000000000000, 1000000000000, 14437500000000,
		"10^12 tokens of each kind, margin 10500");
	/* 1.375 * 10^19 * 10000 / 10^10 = 13,750,000,000,000. */
	COST_IS(&gpt4o, 10000, 2000000000000, 1000000000000, 1000000000000, 13750000000000,
		"10^12 tokens of each kind, margin 10000");
	/* 1 micro per token at margin 10000: cost == tokens == INT64_MAX. */
	COST_IS(&unit, 10000, 0, 0, INT64_MAX, INT64_MAX, "cost of exactly INT64_MAX fits");
	/* 878,416,384,462,359,600 output tokens at 10 micros * 1.05 = 10.5 each:
	 * 9,223,372,036,854,775,800, the largest such cost <= INT64_MAX. */
	COST_IS(&gpt4o, 10500, 0, 0, 878416384462359600, 9223372036854775800,
		"largest gpt-4o output that fits");
	/* INT64_MAX * 10^4 / 10^10 = INT64_MAX / 10^6 = 9,223,372,036,854.775807
	 * -> 9,223,372,036,855. */
	COST_IS(&huge, 10000, 1, 0, 0, 9223372036855, "one token at an INT64_MAX price");
	/* 10^6 tokens at INT64_MAX micros per 10^6 tokens, margin 10000. */
	COST_IS(&huge, 10000, 1000000, 0, 0, INT64_MAX, "10^6 tokens at an INT64_MAX price");
	/* 10^4 * 10^6 * INT64_MAX / 10^10 = INT64_MAX exactly. */
	COST_IS(&unit, INT64_MAX, 0, 0, 10000, INT64_MAX, "INT64_MAX margin, exact fit");
}

static void test_cost_overflow(void)
{
	/* One more token: ...775,800 + 10.5 -> ...775,811 > INT64_MAX. */
	COST_FAILS(&gpt4o, 10500, 0, 0, 878416384462359601, PRICING_OVERFLOW,
		   "one token past the largest fitting output");
	/* 10^18 * 10,000,000 * 10500 / 10^10 = 1.05 * 10^19 > INT64_MAX. */
	COST_FAILS(&gpt4o, 10500, 0, 0, 1000000000000000000, PRICING_OVERFLOW,
		   "10^18 output tokens exceed int64");
	/* INT64_MAX + 1 micros at 1 micro per token. */
	COST_FAILS(&unit, 10000, 1, 0, INT64_MAX, PRICING_OVERFLOW, "INT64_MAX + 1 micros");
	COST_FAILS(&unit, 10001, 0, 0, INT64_MAX, PRICING_OVERFLOW, "margin pushes past INT64_MAX");
	COST_FAILS(&gpt4o, 10500, INT64_MAX, 0, 0, PRICING_OVERFLOW, "INT64_MAX input tokens");
	COST_FAILS(&gpt4o, 10500, INT64_MAX, INT64_MAX, 0, PRICING_OVERFLOW,
		   "INT64_MAX cached input tokens");
	COST_FAILS(&gpt4o, 10500, INT64_MAX, 0, INT64_MAX, PRICING_OVERFLOW,
		   "INT64_MAX input and output tokens");
	/* Two INT64_MAX^2 terms sum to about 2^127: a naive __int128 sum wraps. */
	COST_FAILS(&huge, INT64_MAX, INT64_MAX, 0, INT64_MAX, PRICING_OVERFLOW,
		   "INT64_MAX everything: overflow, not wrap");
	/* 10^6 + 1 tokens at INT64_MAX micros per 10^6 tokens: INT64_MAX + a bit. */
	COST_FAILS(&huge, 10000, 1000001, 0, 0, PRICING_OVERFLOW,
		   "10^6 + 1 tokens at an INT64_MAX price");
	/* 10001 * 10^6 * INT64_MAX / 10^10 > INT64_MAX. */
	COST_FAILS(&unit, INT64_MAX, 0, 0, 10001, PRICING_OVERFLOW, "INT64_MAX margin");
}

static void test_cost_invalid(void)
{
	struct price neg_in = gpt4o;
	struct price neg_cached = gpt4o;
	struct price neg_out = gpt4o;
	int64_t got = -7;

	neg_in.input_micros_per_mtok = -1;
	neg_cached.cached_input_micros_per_mtok = -1;
	neg_out.output_micros_per_mtok = -1;
	COST_FAILS(&gpt4o, 10500, 10, 11, 0, PRICING_INVALID, "cached > input");
	COST_FAILS(&gpt4o, 10500, -1, 0, 0, PRICING_INVALID, "negative input");
	COST_FAILS(&gpt4o, 10500, 10, -1, 0, PRICING_INVALID, "negative cached input");
	COST_FAILS(&gpt4o, 10500, 0, 0, -1, PRICING_INVALID, "negative output");
	COST_FAILS(&gpt4o, 10500, INT64_MIN, INT64_MIN, 0, PRICING_INVALID, "INT64_MIN tokens");
	COST_FAILS(&gpt4o, -1, 10, 0, 0, PRICING_INVALID, "negative margin");
	COST_FAILS(&neg_in, 10500, 0, 0, 0, PRICING_INVALID, "negative input price");
	COST_FAILS(&neg_cached, 10500, 0, 0, 0, PRICING_INVALID, "negative cached price");
	COST_FAILS(&neg_out, 10500, 0, 0, 0, PRICING_INVALID, "negative output price");
	const struct pricing_tokens one = {1, 0, 0, 0};
	is_int(pricing_token_cost(NULL, 10500, &one, &got), PRICING_INVALID, "NULL price");
	is_int(pricing_token_cost(&gpt4o, 10500, &one, NULL), PRICING_INVALID, "NULL cost");
	is_int(pricing_token_cost(&gpt4o, 10500, NULL, &got), PRICING_INVALID, "NULL tokens");
}

/* Claude Sonnet 4's list prices (micros per 1M tokens): input 3,000,000,
 * cache read 300,000, output 15,000,000, a 5-minute cache write 3,750,000
 * (1.25 x input; docs/api.md, "Costs"). */
static const struct price sonnet = { 3000000, 300000, 15000000, 8192, 3750000, PRICING_NO_DIMS };

static void test_cost_cache_write(void)
{
	/* 1000 * 3,750,000 = 3,750,000,000; * 10000 / 10^10 = 3750. */
	COST_CW_IS(&sonnet, 10000, 1000, 0, 1000, 0, 3750, "all input written to the cache");
	/* The same tokens as plain input: 1000 * 3,000,000 -> 3000. */
	COST_CW_IS(&sonnet, 10000, 1000, 0, 0, 0, 3000, "the same input uncached costs less");
	/* 10000 input: 6000 cached, 3000 written, 1000 uncached; 500 output.
	 * 1000*3,000,000 = 3,000,000,000; 6000*300,000 = 1,800,000,000;
	 * 3000*3,750,000 = 11,250,000,000; 500*15,000,000 = 7,500,000,000;
	 * sum 23,550,000,000; * 10500 = 247,275,000,000,000; / 10^10 =
	 * 24,727.5 -> 24,728. */
	COST_CW_IS(&sonnet, 10500, 10000, 6000, 3000, 500, 24728, "every kind of token at once, margin 10500");
	/* 0.5 micro per token for uncached input and cache writes: 2 input of
	 * which 1 written is 0.5 + 0.5 = 1 exactly, where rounding each term
	 * up would give 2. */
	{
		static const struct price half = { 500000, 0, 0, 1, 500000, PRICING_NO_DIMS };
		COST_CW_IS(&half, 10000, 2, 0, 1, 0, 1, "rounded up once, not per term");
		/* 3 input: 1 written, 2 uncached: 1.5 -> 2. */
		COST_CW_IS(&half, 10000, 3, 0, 1, 0, 2, "1.5 -> 2");
	}
	/* The default, a cache-write price equal to the input price (gpt4o
	 * here), charges cache writes as plain input: 1000 * 2,500,000 *
	 * 10500 / 10^10 = 2625. */
	COST_CW_IS(&gpt4o, 10500, 1000, 0, 400, 0, 2625, "cache writes at the input price cost as input");
	/* 600 cached: 400*2,500,000 + 600*1,250,000 = 1,750,000,000;
	 * * 10500 / 10^10 = 1837.5 -> 1838. */
	COST_CW_IS(&gpt4o, 10500, 1000, 600, 400, 0, 1838, "cached plus written is all the input");
	{
		static const struct price free_writes = { 3000000, 300000, 15000000, 8192, 0, PRICING_NO_DIMS };
		COST_CW_IS(&free_writes, 10000, 1000, 0, 1000, 0, 0, "a cache-write price of 0");
	}
	COST_CW_IS(&sonnet, 0, 1000, 0, 1000, 0, 0, "margin 0 costs nothing");
}

static void test_cost_cache_write_large(void)
{
	static const struct price dear_writes = { 0, 0, 0, 1, INT64_MAX, PRICING_NO_DIMS };
	/* 10^6 cache-write tokens at INT64_MAX micros per 10^6: INT64_MAX exactly. */
	COST_CW_IS(&dear_writes, 10000, 1000000, 0, 1000000, 0, INT64_MAX, "INT64_MAX cost of cache writes fits");
	COST_CW_FAILS(&dear_writes, 10000, 1000001, 0, 1000001, 0, PRICING_OVERFLOW,
		      "one cache-write token more overflows");
	/* Every term near its largest: about 2^127 in all, reported, never wrapped. */
	COST_CW_FAILS(&huge, 10000, INT64_MAX, INT64_MAX / 2, INT64_MAX / 2, INT64_MAX, PRICING_OVERFLOW,
		      "INT64_MAX tokens across the four terms");
	COST_CW_FAILS(&huge, 1, INT64_MAX, 0, INT64_MAX, 0, PRICING_OVERFLOW,
		      "INT64_MAX cache-write tokens at an INT64_MAX price, margin 1");
	/* 10^12 of each input kind and output at Sonnet's prices:
	 * 10^12 * (3,000,000 + 300,000 + 3,750,000 + 15,000,000) =
	 * 2.205 * 10^19 (past INT64_MAX, held in 128 bits); * 10000 / 10^10 =
	 * 22,050,000,000,000. */
	COST_CW_IS(&sonnet, 10000, 3000000000000, 1000000000000, 1000000000000, 1000000000000, 22050000000000,
		   "10^12 tokens of each kind, past int64 before the division");
}

static void test_cost_cache_write_invalid(void)
{
	struct price neg_cw = sonnet;
	neg_cw.cache_write_micros_per_mtok = -1;
	COST_CW_FAILS(&sonnet, 10000, 10, 6, 5, 0, PRICING_INVALID, "cached + cache_write > input");
	COST_CW_FAILS(&sonnet, 10000, 10, 0, 11, 0, PRICING_INVALID, "cache_write > input");
	COST_CW_FAILS(&sonnet, 10000, 10, 0, -1, 0, PRICING_INVALID, "negative cache_write");
	COST_CW_FAILS(&sonnet, 10000, INT64_MAX, INT64_MAX, INT64_MAX, 0, PRICING_INVALID,
		      "cached and cache_write each at most input, their sum far above (no wrap)");
	COST_CW_FAILS(&neg_cw, 10000, 0, 0, 0, 0, PRICING_INVALID, "negative cache-write price");
	/* 6*300,000 + 4*3,750,000 = 16,800,000; * 10000 / 10^10 = 16.8 -> 17. */
	COST_CW_IS(&sonnet, 10000, 10, 6, 4, 0, 17, "cached + cache_write == input is allowed");
}

/* The field a charge too large is blamed on weighs cache writes at their
 * own price. */
static void test_blame_cache_write(void)
{
	/* 1000 written: 3,750,000,000 against 240 output: 3,600,000,000. */
	const struct pricing_tokens written = {1000, 0, 1000, 240};
	is_str(pricing_blame(&sonnet, &written, "output_tokens"), "input_tokens", "cache writes weigh 1.25 x input");
	/* The same input uncached: 3,000,000,000 against 3,600,000,000. */
	const struct pricing_tokens plain = {1000, 0, 0, 240};
	is_str(pricing_blame(&sonnet, &plain, "output_tokens"), "output_tokens", "as plain input, the output weighs more");
	const struct pricing_tokens even = {1000, 0, 1000, 250};
	is_str(pricing_blame(&sonnet, &even, "max_output_tokens"), "max_output_tokens", "a tie blames the output");
}

/* Parses line and checks it succeeds with the given kind (two assertions). */
#define ROW_OK(line, row, want_kind, desc) do { \
		char err_[200] = "untouched"; \
		is_int(pricing_parse_row((line), (row), err_, sizeof err_), 0, "%s: parses", (desc)); \
		is_int((row)->kind, (want_kind), "%s: kind %s", (desc), #want_kind); \
	} while (0)

/* Parses line and checks it fails with exactly the message want (three
 * assertions, the last one that the row was cleared). */
#define ROW_FAILS(line, want, desc) do { \
		struct price_row r_; \
		char err_[200] = ""; \
		memset(&r_, 0x5a, sizeof r_); \
		is_int(pricing_parse_row((line), &r_, err_, sizeof err_), -1, "%s: fails", (desc)); \
		is_str(err_, (want), "%s: message", (desc)); \
		ok(r_.kind == PRICE_ROW_SKIP && r_.name[0] == '\0', "%s: row cleared", (desc)); \
	} while (0)

static void test_parse_good(void)
{
	struct price_row r;

	ROW_OK("model,gpt-4o,2500000,1250000,10000000,16384\n", &r, PRICE_ROW_MODEL, "model row");
	is_str(r.name, "gpt-4o", "model name");
	is_int(r.price.input_micros_per_mtok, 2500000, "model input");
	is_int(r.price.cached_input_micros_per_mtok, 1250000, "model cached input");
	is_int(r.price.output_micros_per_mtok, 10000000, "model output");
	is_int(r.price.max_output_tokens, 16384, "model max output tokens");
	ROW_OK(" model , openai/gpt-4o:2024-08-06 ,\t0 , 0 ,0, 1 \r\n", &r, PRICE_ROW_MODEL,
	       "model row with spaces, zero prices, CRLF");
	is_str(r.name, "openai/gpt-4o:2024-08-06", "name with / : - .");
	is_int(r.price.max_output_tokens, 1, "max output tokens 1");
	ROW_OK("model,x,9223372036854775807,0,0,1", &r, PRICE_ROW_MODEL, "INT64_MAX price");
	is_int(r.price.input_micros_per_mtok, INT64_MAX, "INT64_MAX price value");
	ROW_OK("model,m,007,0,0,1", &r, PRICE_ROW_MODEL, "leading zeros");
	is_int(r.price.input_micros_per_mtok, 7, "leading zeros value");
	ROW_OK("action,web_search,25000\r\n", &r, PRICE_ROW_ACTION, "action row, CRLF");
	is_str(r.name, "web_search", "action name");
	is_int(r.price_micros, 25000, "action price");
	ROW_OK("action,free.thing,0", &r, PRICE_ROW_ACTION, "action price 0");
	is_int(r.price_micros, 0, "action price 0 value");
	ROW_OK("margin,10500\n", &r, PRICE_ROW_MARGIN, "margin row");
	is_int(r.margin_bps, 10500, "margin bps");
	ROW_OK("margin,1", &r, PRICE_ROW_MARGIN, "margin 1");
	ROW_OK("margin,1000000", &r, PRICE_ROW_MARGIN, "margin 1000000");
	is_int(r.margin_bps, 1000000, "margin 1000000 value");
}

static void test_parse_cache_write(void)
{
	struct price_row r;

	ROW_OK("model,claude-sonnet-4,3000000,300000,15000000,8192,3750000\n", &r, PRICE_ROW_MODEL,
	       "model row with a cache-write price");
	is_int(r.price.input_micros_per_mtok, 3000000, "its input");
	is_int(r.price.cache_write_micros_per_mtok, 3750000, "its cache-write price");
	is_int(r.price.max_output_tokens, 8192, "max output tokens still field 6");
	ROW_OK("model,gpt-4o,2500000,1250000,10000000,16384\n", &r, PRICE_ROW_MODEL, "a row of before: 6 fields");
	is_int(r.price.cache_write_micros_per_mtok, 2500000, "without one: the input price");
	ROW_OK("model,m,5,1,9,1, 0 \r\n", &r, PRICE_ROW_MODEL, "cache writes priced 0, spaces, CRLF");
	is_int(r.price.cache_write_micros_per_mtok, 0, "0 is a price, not the default");
	ROW_OK("model,m,5,1,9,1,9223372036854775807", &r, PRICE_ROW_MODEL, "INT64_MAX cache-write price");
	is_int(r.price.cache_write_micros_per_mtok, INT64_MAX, "INT64_MAX kept");
	ROW_FAILS("model,m,5,1,9,1,", "field 7 (cache_write) is empty", "an empty 7th field");
	ROW_FAILS("model,m,5,1,9,1,-1", "field 7 (cache_write) is not a non-negative integer", "negative");
	ROW_FAILS("model,m,5,1,9,1,1.25", "field 7 (cache_write) is not a non-negative integer", "fractional");
	ROW_FAILS("model,m,5,1,9,1,9223372036854775808",
		  "field 7 (cache_write) is too large (the limit is 9223372036854775807)", "INT64_MAX + 1");
	ROW_FAILS("model,m,5,1,9,0,7", "field 6 (max_output_tokens) must be at least 1",
		  "max output checked with 7 fields too");
}

static void test_parse_skip(void)
{
	static const char *const lines[] = {
		"", "\n", "\r\n", "   \t\n", "# a comment\n", "#model,x,1,1,1,1", "  # indented\r\n"
	};
	struct price_row r;
	char err[200];
	size_t i;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		memset(&r, 0x5a, sizeof r);
		memcpy(err, "untouched", sizeof "untouched");
		is_int(pricing_parse_row(lines[i], &r, err, sizeof err), 0, "skip line %zu parses", i);
		is_int(r.kind, PRICE_ROW_SKIP, "skip line %zu is PRICE_ROW_SKIP", i);
		is_str(err, "", "skip line %zu leaves no message", i);
	}
}

static void test_parse_bad_numbers(void)
{
	ROW_FAILS("model,m,1.5,0,0,1", "field 3 (input) is not a non-negative integer", "1.5");
	ROW_FAILS("model,m,-3,0,0,1", "field 3 (input) is not a non-negative integer", "-3");
	ROW_FAILS("model,m,+3,0,0,1", "field 3 (input) is not a non-negative integer", "+3");
	ROW_FAILS("model,m,,0,0,1", "field 3 (input) is empty", "empty input");
	ROW_FAILS("model,m,  ,0,0,1", "field 3 (input) is empty", "blank input");
	ROW_FAILS("model,m,0,12a,0,1", "field 4 (cached_input) is not a non-negative integer",
		  "12a");
	ROW_FAILS("model,m,0,0,1 000,1", "field 5 (output) is not a non-negative integer",
		  "space inside a number");
	ROW_FAILS("model,m,0,0,0x10,1", "field 5 (output) is not a non-negative integer", "hex");
	ROW_FAILS("model,m,99999999999999999999,0,0,1",
		  "field 3 (input) is too large (the limit is 9223372036854775807)", "20 nines");
	ROW_FAILS("model,m,9223372036854775808,0,0,1",
		  "field 3 (input) is too large (the limit is 9223372036854775807)", "INT64_MAX + 1");
	ROW_FAILS("model,m,0,0,0,0", "field 6 (max_output_tokens) must be at least 1",
		  "max output tokens 0");
	ROW_FAILS("model,m,0,0,0,-1", "field 6 (max_output_tokens) is not a non-negative integer",
		  "max output tokens -1");
	ROW_FAILS("action,a,-1", "field 3 (price_micros) is not a non-negative integer",
		  "negative action price");
	ROW_FAILS("action,a,1.5", "field 3 (price_micros) is not a non-negative integer",
		  "fractional action price");
	ROW_FAILS("margin,0", "field 2 (bps) must be between 1 and 1000000", "margin 0");
	ROW_FAILS("margin,1000001", "field 2 (bps) must be between 1 and 1000000", "margin 1000001");
	ROW_FAILS("margin,105.5", "field 2 (bps) is not a non-negative integer", "margin 105.5");
	ROW_FAILS("margin,10500\r", "field 2 (bps) is not a non-negative integer",
		  "a lone CR is not a line end");
}

static void test_parse_bad_names(void)
{
	/* 64 and 65 characters. */
	static const char name64[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
	char line[200];
	struct price_row r;

	is_int((int64_t)strlen(name64), 64, "test name is 64 characters");
	snprintf(line, sizeof line, "action,%s,1", name64);
	ROW_OK(line, &r, PRICE_ROW_ACTION, "64-character name");
	is_str(r.name, name64, "64-character name kept whole");
	snprintf(line, sizeof line, "action,%sx,1", name64);
	ROW_FAILS(line, "field 2 (name) is longer than 64 characters", "65-character name");
	ROW_FAILS("model,,0,0,0,1", "field 2 (name) is empty", "empty name");
	ROW_FAILS("action,gpt 4o,1",
		  "field 2 (name) has a character outside [A-Za-z0-9._:/-] at position 4",
		  "space inside a name");
	ROW_FAILS("action,gpt@4o,1",
		  "field 2 (name) has a character outside [A-Za-z0-9._:/-] at position 4", "@ in name");
}

static void test_parse_bad_shape(void)
{
	ROW_FAILS("model,m,0,0,0", "a model row has 6 or 7 fields "
		  "(model,NAME,INPUT,CACHED_INPUT,OUTPUT,MAX_OUTPUT_TOKENS[,CACHE_WRITE]), this one has 5",
		  "model with 5 fields");
	ROW_FAILS("model,m,0,0,0,1,2,3", "a model row has 6 or 7 fields "
		  "(model,NAME,INPUT,CACHED_INPUT,OUTPUT,MAX_OUTPUT_TOKENS[,CACHE_WRITE]), this one has 8",
		  "model with 8 fields");
	ROW_FAILS("action,a", "an action row has 3 fields (action,NAME,PRICE_MICROS), "
		  "this one has 2", "action with 2 fields");
	ROW_FAILS("action,gpt,4o,1", "an action row has 3 fields (action,NAME,PRICE_MICROS), "
		  "this one has 4", "comma inside a name");
	ROW_FAILS("margin", "a margin row has 2 fields (margin,BPS), this one has 1",
		  "margin with 1 field");
	ROW_FAILS("margin,10500,\n", "a margin row has 2 fields (margin,BPS), this one has 3",
		  "trailing comma");
	ROW_FAILS("discount,5", "field 1 (kind) 'discount' is not model, action or margin",
		  "unknown kind");
	ROW_FAILS("MODEL,m,0,0,0,1", "field 1 (kind) 'MODEL' is not model, action or margin",
		  "kinds are case-sensitive");
	ROW_FAILS(",margin,1", "field 1 (kind) is not model, action or margin", "empty kind");
}

static void test_parse_errbuf(void)
{
	struct price_row r;
	char small[8];

	is_int(pricing_parse_row("margin,0", &r, NULL, 0), -1, "no errbuf: still fails");
	is_int(pricing_parse_row("margin,0", &r, small, sizeof small), -1, "small errbuf fails");
	is_int((int64_t)strlen(small), 7, "small errbuf truncated and terminated");
	is_int(pricing_parse_row(NULL, &r, small, sizeof small), -1, "NULL line");
	is_int(pricing_parse_row("margin,1", NULL, small, sizeof small), -1, "NULL row");
}

int main(void)
{
	test_cost_basic();
	test_cost_margin_exact();
	test_cost_cached();
	test_cost_large();
	test_cost_overflow();
	test_cost_invalid();
	test_cost_cache_write();
	test_cost_cache_write_large();
	test_cost_cache_write_invalid();
	test_blame_cache_write();
	test_parse_good();
	test_parse_cache_write();
	test_parse_skip();
	test_parse_bad_numbers();
	test_parse_bad_names();
	test_parse_bad_shape();
	test_parse_errbuf();
	/* Per-token prices in currency units, as catalogues write them, become
	 * micros per million tokens exactly (shift 12), or are refused. */
	{
		static const struct { const char *text; int64_t want; } ok_cases[] = {
			{"2.5e-06", 2500000}, {"0.0000025", 2500000}, {"1e-05", 10000000}, {"1.25E-6", 1250000},
			{"3", 3000000000000}, {"0", 0}, {"0.000001", 1000000}, {"+1e-12", 1}, {"7.5e-7", 750000},
		};
		for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
			int64_t got = -1;
			ok(pricing_decimal_scaled(ok_cases[i].text, 12, &got) == 0 && got == ok_cases[i].want,
			   "%s per token is %lld micros per Mtok (got %lld)", ok_cases[i].text, (long long)ok_cases[i].want,
			   (long long)got);
		}
		static const char *bad[] = {"1e-13", "-1e-6", "abc", "", "1e-6x", "1.5e-13", "9e20", "1..2", "e-6"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int64_t got;
			ok(pricing_decimal_scaled(bad[i], 12, &got) != 0, "'%s' refused", bad[i]);
		}
	}
	/* A rise beyond the allowed percentage, in integer math. */
	{
		struct price was = {1000000, 500000, 4000000, 4096, 1000000, PRICING_NO_DIMS}, now = was;
		const char *field = NULL;
		int64_t o, n;
		now.output_micros_per_mtok = 4800000;		/* +20 %: allowed at 20 */
		ok(!pricing_rise_above(&was, &now, 20, &field, &o, &n), "+20 %% is not above 20 %%");
		now.output_micros_per_mtok = 4800001;
		ok(pricing_rise_above(&was, &now, 20, &field, &o, &n) && strcmp(field, "output") == 0 && o == 4000000 &&
		   n == 4800001, "one micro more is, and names the field");
		now = was;
		now.input_micros_per_mtok = 100;		/* a fall is no rise */
		ok(!pricing_rise_above(&was, &now, 0, &field, &o, &n), "a fall passes even at 0 %%");
		was.cached_input_micros_per_mtok = 0;
		now = was;
		now.cached_input_micros_per_mtok = 1;
		ok(pricing_rise_above(&was, &now, 1000, &field, &o, &n) && strcmp(field, "cached_input") == 0,
		   "from free to priced is a rise beyond any percentage");
		struct price cw_was = {1000000, 500000, 4000000, 4096, 1250000, PRICING_NO_DIMS}, cw_now = cw_was;
		cw_now.cache_write_micros_per_mtok = 1500000;		/* +20 % */
		ok(!pricing_rise_above(&cw_was, &cw_now, 20, &field, &o, &n), "a cache-write price +20 %% passes at 20");
		cw_now.cache_write_micros_per_mtok = 1500001;
		ok(pricing_rise_above(&cw_was, &cw_now, 20, &field, &o, &n) && strcmp(field, "cache_write") == 0 &&
		   o == 1250000 && n == 1500001, "one micro more is refused, naming cache_write");
	}
	return done_testing();
}
