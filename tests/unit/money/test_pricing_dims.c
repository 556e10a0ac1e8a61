/* test_pricing_dims.c: the dimensions a provider bills beyond tokens
 * (docs/gateway.md, "What is billed"), each to the micro: service tiers, audio tokens, 1-hour
 * cache writes, web search fees; a dimension the row does not price is
 * charged at the standard price and named, never dropped. */
#include "pricing.h"
#include "limits.h"
#include "tap.h"
#include <stdint.h>
#include <string.h>

static struct price row(void)
{
	/* in 2.5 $/M, cached 1.25, out 10, cache write 3.75 (micros per M) */
	struct price p = {2500000, 1250000, 10000000, 4096, 3750000, PRICING_NO_DIMS};
	return p;
}

/* The whole cost of t and d at p with margin m (the extra added). */
static int64_t cost_of(const struct price *p, int64_t m, struct pricing_tokens t, struct pricing_dims_usage d,
		       uint64_t *unpriced)
{
	int64_t extra = 0, cost = -1;
	if (pricing_dims_extra(p, &t, &d, &extra, unpriced) != PRICING_OK)
		return -1;
	if (pricing_cost_with_extra(p, m, &t, extra, &cost) != PRICING_OK)
		return -2;
	return cost;
}

/* The long-context tier (a Sonnet-shaped row: 3 / 0.3 / 15, writes 3.75,
 * 1-hour 6; past 200k input 6 / 0.6 / 22.5, writes 7.5). */
static void long_context(void)
{
	struct price p = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	uint64_t un;
	pricing_dim_put(&p, PRICE_DIM_CACHE_WRITE_1H, 6000000);
	pricing_dim_put(&p, PRICE_DIM_TIER_THRESHOLD, 200000);
	pricing_dim_put(&p, PRICE_DIM_TIER_INPUT, 6000000);
	pricing_dim_put(&p, PRICE_DIM_TIER_OUTPUT, 22500000);
	pricing_dim_put(&p, PRICE_DIM_TIER_CACHED_INPUT, 600000);
	pricing_dim_put(&p, PRICE_DIM_TIER_CACHE_WRITE, 7500000);
	ok(!pricing_long_context(&p, 200000), "an input of the threshold is not past it");
	ok(pricing_long_context(&p, 200001), "one token more is");
	struct price flat = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	ok(!pricing_long_context(&flat, INT64_MAX), "a row without a threshold has no tier");
	/* 300k input: 200k uncached, 50k cached, 50k writes of which 20k
	 * 1-hour; 10k output */
	struct pricing_tokens t = {300000, 50000, 50000, 10000};
	struct pricing_dims_usage std = {PRICING_TIER_STANDARD, 20000, 0, 0, 0, 0, PRICING_SEARCH_ANY};
	/* 200k×3 0.6 + 50k×0.3 0.015 + 30k×3.75 0.1125 + 20k×6 0.12 + 10k×15 0.15 */
	is_int(cost_of(&p, 10000, t, std, &un), 997500, "below the threshold: the standard prices");
	struct pricing_dims_usage lng = std;
	lng.long_context = 1;
	/* 200k×6 1.2 + 50k×0.6 0.03 + 30k×7.5 0.225 + 20k×12 (the 1-hour
	 * write scaled as 7.5 is to 3.75) 0.24 + 10k×22.5 0.225 */
	is_int(cost_of(&p, 10000, t, lng, &un), 1920000, "past it: every token at the tier's prices, to the micro");
	is_int((long long)un, 0, "nothing unpriced");
	struct price q = p;
	pricing_dim_put(&q, PRICE_DIM_TIER_CACHED_INPUT, -1);
	pricing_dim_put(&q, PRICE_DIM_TIER_CACHE_WRITE, -1);
	pricing_dim_put(&q, PRICE_DIM_TIER_OUTPUT, -1);
	/* output scaled 15×2 = 30: +10k×7.5 */
	is_int(cost_of(&q, 10000, t, lng, &un), 1920000 + 75000, "tier prices the row lacks: scaled as its input is");
	pricing_dim_put(&q, PRICE_DIM_TIER_INPUT, -1);
	is_int(cost_of(&q, 10000, t, lng, &un), 997500, "a threshold without a tier input price: the standard prices");
	ok(un == (uint64_t)1 << PRICE_DIM_TIER_INPUT, "and named unpriced");
	/* priority in the tier: 6 → 12, output 30 → 45 */
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_INPUT, 6000000);
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_OUTPUT, 30000000);
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_CACHED_INPUT, 600000);
	struct pricing_dims_usage pri = lng;
	pri.tier = PRICING_TIER_PRIORITY;
	/* 200k×12 2.4 + 50k×1.2 0.06 + 30k×7.5 0.225 + 20k×12 0.24 + 10k×45 0.45 */
	is_int(cost_of(&p, 10000, t, pri, &un), 3375000, "priority in the tier: both, as multiples");
	struct price row_out;
	is_int(pricing_long_row(&p, &row_out, &un), PRICING_OK, "the tier's row");
	ok(!pricing_dim_get(&row_out, PRICE_DIM_TIER_THRESHOLD, NULL), "has no tier of its own");
	is_int(row_out.input_micros_per_mtok, 6000000, "its input is the tier's");
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_INPUT, INT64_MAX);
	is_int(pricing_long_row(&p, &row_out, &un), PRICING_OVERFLOW, "a scaled price past int64: overflow");
}

/* A web search's fee by its context size, and a row scaled by a
 * multiplier (docs/gateway.md, "What the gateway forwards"). */
static void test_sizes_and_multipliers(void)
{
	struct price p = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	uint64_t un = 0;
	is_int(pricing_search_fee(&p, PRICING_SEARCH_MEDIUM, &un), 0, "no fee priced: 0");
	ok(un == (uint64_t)1 << PRICE_DIM_WEB_SEARCH, "named as not priced");
	pricing_dim_put(&p, PRICE_DIM_WEB_SEARCH, 30000);
	un = 0;
	is_int(pricing_search_fee(&p, PRICING_SEARCH_MEDIUM, &un), 30000, "no size's own fee: the dearest");
	pricing_dim_put(&p, PRICE_DIM_WEB_SEARCH_MEDIUM, 25000);
	pricing_dim_put(&p, PRICE_DIM_WEB_SEARCH_LOW, 30000 - 20000);
	is_int(pricing_search_fee(&p, PRICING_SEARCH_MEDIUM, &un), 25000, "medium: its own fee");
	is_int(pricing_search_fee(&p, PRICING_SEARCH_LOW, &un), 10000, "low: its own fee");
	is_int(pricing_search_fee(&p, PRICING_SEARCH_HIGH, &un), 30000, "high: the dearest");
	is_int(pricing_search_fee(&p, PRICING_SEARCH_ANY, &un), 30000, "any (no size): the dearest");
	ok(un == 0, "all priced");
	struct price q;
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_INPUT, 6000000);
	is_int(pricing_scaled(&p, 60000, &q), 0, "6x");
	ok(q.input_micros_per_mtok == 18000000 && q.output_micros_per_mtok == 90000000 &&
		   q.cached_input_micros_per_mtok == 1800000 && q.cache_write_micros_per_mtok == 22500000,
	   "every token price 6x");
	is_int(q.dims.v[PRICE_DIM_PRIORITY_INPUT], 36000000, "a tier's token price too");
	is_int(q.dims.v[PRICE_DIM_WEB_SEARCH], 30000, "a fee a call is no token price: kept");
	is_int(pricing_scaled(&p, 11000, &q), 0, "1.1x");
	is_int(q.input_micros_per_mtok, 3300000, "rounded up, never down");
	p.output_micros_per_mtok = INT64_MAX / 2;
	is_int(pricing_scaled(&p, 60000, &q), -1, "a price past int64: refused");
	ok(pricing_dim_valid(PRICE_DIM_FAST_MULTIPLIER, 10000) && !pricing_dim_valid(PRICE_DIM_FAST_MULTIPLIER, 0) &&
		   !pricing_dim_valid(PRICE_DIM_GEO_US_MULTIPLIER, LIMIT_PRICE_MULTIPLIER_BPS + 1),
	   "a multiplier in 1..LIMIT_PRICE_MULTIPLIER_BPS");
}

/* A row priced by a media unit whose token prices are 0 serves no token
 * route (it would charge a chat call 0); with token prices it does. */
static void test_media_units_alone(void)
{
	struct price p = {0, 0, 0, 4096, 0, PRICING_NO_DIMS};
	ok(pricing_prices_tokens(&p), "a row of 0 token prices and nothing else: a free model, priced by tokens");
	pricing_dim_put(&p, PRICE_DIM_INPUT_CHAR, 15000000);
	ok(!pricing_prices_tokens(&p), "per character and 0 token prices: no token priced");
	p.output_micros_per_mtok = 1;
	ok(pricing_prices_tokens(&p), "with an output price: tokens priced");
	struct price w = {0, 0, 0, 4096, 0, PRICING_NO_DIMS};
	pricing_dim_put(&w, PRICE_DIM_INPUT_SECOND, 100000);
	ok(!pricing_prices_tokens(&w), "per second and 0 token prices: no token priced");
	struct price i = {0, 0, 0, 4096, 0, PRICING_NO_DIMS};
	pricing_dim_put(&i, PRICE_DIM_INPUT_IMAGE, 10000000);
	ok(!pricing_prices_tokens(&i), "image tokens and 0 token prices: no text token priced");
	i.input_micros_per_mtok = 5000000;
	ok(pricing_prices_tokens(&i), "with a text input price: tokens priced");
}

/* A batch line's prices (docs/gateway.md, "Batches"): the catalogue's
 * batch token prices, else the row's discount; neither: refused, naming
 * what to set. */
static void test_batch_prices(void)
{
	const char *missing = NULL;
	struct price p = {2500000, 1250000, 10000000, 4096, 3125000, PRICING_NO_DIMS}, b;
	is_int(pricing_batch(&p, &b, &missing), -1, "no batch price and no discount: refused");
	ok(missing != NULL && strcmp(missing, "batch_discount_bps") == 0, "naming the discount to set");
	pricing_dim_put(&p, PRICE_DIM_BATCH_INPUT, 1250000);
	is_int(pricing_batch(&p, &b, &missing), -1, "a batch input price without its output price: refused");
	ok(missing != NULL && strcmp(missing, "batch_output_micros_per_mtok") == 0, "naming the output's");
	pricing_dim_put(&p, PRICE_DIM_BATCH_OUTPUT, 5000000);
	is_int(pricing_batch(&p, &b, &missing), 0, "both batch token prices: priced");
	ok(b.input_micros_per_mtok == 1250000 && b.output_micros_per_mtok == 5000000, "at the batch prices");
	ok(b.cached_input_micros_per_mtok == 625000 && b.cache_write_micros_per_mtok == 1562500,
	   "cached input and cache writes at the batch input's ratio to the list's (no batch keys for them)");
	ok(!pricing_dim_get(&b, PRICE_DIM_BATCH_INPUT, NULL), "the result prices no batch dimension of its own");
	struct price r = {3000000, 300001, 12000000, 4096, 3750000, PRICING_NO_DIMS};
	pricing_dim_put(&r, PRICE_DIM_BATCH_INPUT, 1000000);	/* a third, exactly: no basis point */
	pricing_dim_put(&r, PRICE_DIM_BATCH_OUTPUT, 4000000);
	pricing_dim_put(&r, PRICE_DIM_TIER_INPUT, 6000000);
	is_int(pricing_batch(&r, &b, &missing), 0, "batch keys alone, an uneven ratio: priced");
	int64_t tier = 0;
	is_int(b.cached_input_micros_per_mtok, 100001, "cached input at a third of the list's, rounded up once");
	is_int(b.cache_write_micros_per_mtok, 1250000, "cache writes at a third, exactly");
	ok(pricing_dim_get(&b, PRICE_DIM_TIER_INPUT, &tier), "the long-context tier's input priced");
	is_int(tier, 2000000, "at a third, exactly");
	ok(b.input_micros_per_mtok == 1000000 && b.output_micros_per_mtok == 4000000, "the batch keys as given");
	/* Each side at its own batch figure's ratio: input half, output 60 %. */
	struct price o = {2500000, 1250000, 10000000, 4096, 3125000, PRICING_NO_DIMS};
	pricing_dim_put(&o, PRICE_DIM_BATCH_INPUT, 1250000);
	pricing_dim_put(&o, PRICE_DIM_BATCH_OUTPUT, 6000000);
	pricing_dim_put(&o, PRICE_DIM_TIER_OUTPUT, 15000000);
	pricing_dim_put(&o, PRICE_DIM_OUTPUT_AUDIO, 80000001);
	pricing_dim_put(&o, PRICE_DIM_INPUT_AUDIO, 40000000);
	pricing_dim_put(&o, PRICE_DIM_PRIORITY_OUTPUT, 20000000);
	is_int(pricing_batch(&o, &b, &missing), 0, "batch keys with another ratio for output: priced");
	int64_t v = 0;
	ok(pricing_dim_get(&b, PRICE_DIM_TIER_OUTPUT, &v), "the tier's output priced");
	is_int(v, 9000000, "the tier's output at the batch output's ratio (60 %%), not the input's half");
	ok(pricing_dim_get(&b, PRICE_DIM_OUTPUT_AUDIO, &v), "audio output priced");
	is_int(v, 48000001, "audio output at 60 %%, rounded up once");
	ok(pricing_dim_get(&b, PRICE_DIM_PRIORITY_OUTPUT, &v), "priority output priced");
	is_int(v, 12000000, "priority output at 60 %%");
	ok(pricing_dim_get(&b, PRICE_DIM_INPUT_AUDIO, &v), "audio input priced");
	is_int(v, 20000000, "audio input at the input's half");
	is_int(b.cached_input_micros_per_mtok, 625000, "cached input at the input's half");
	/* A ratio no basis point holds: 1 against 7. */
	struct price f = {7000000, 7000000, 7000000, 4096, 7000000, PRICING_NO_DIMS};
	pricing_dim_put(&f, PRICE_DIM_BATCH_INPUT, 1000000);
	pricing_dim_put(&f, PRICE_DIM_BATCH_OUTPUT, 1000000);
	pricing_dim_put(&f, PRICE_DIM_FLEX_OUTPUT, 7000000);
	is_int(pricing_batch(&f, &b, &missing), 0, "a seventh: priced");
	is_int(b.cached_input_micros_per_mtok, 1000000, "cached input at a seventh, exactly (1429 bps was 1,000,300)");
	ok(pricing_dim_get(&b, PRICE_DIM_FLEX_OUTPUT, &v), "flex output priced");
	is_int(v, 1000000, "flex output at a seventh, exactly");
	/* A list output of 0: its side at the input's ratio, never the list's. */
	struct price z = {2000000, 1000000, 0, 4096, 2000000, PRICING_NO_DIMS};
	pricing_dim_put(&z, PRICE_DIM_BATCH_INPUT, 1000000);
	pricing_dim_put(&z, PRICE_DIM_BATCH_OUTPUT, 0);
	pricing_dim_put(&z, PRICE_DIM_OUTPUT_IMAGE, 40000000);
	is_int(pricing_batch(&z, &b, &missing), 0, "no list output: priced");
	ok(pricing_dim_get(&b, PRICE_DIM_OUTPUT_IMAGE, &v), "image output priced");
	is_int(v, 20000000, "image output at the input's half");
	struct price huge = {1, 0, 0, 1, 0, PRICING_NO_DIMS};
	pricing_dim_put(&huge, PRICE_DIM_BATCH_INPUT, INT64_MAX);
	pricing_dim_put(&huge, PRICE_DIM_BATCH_OUTPUT, 1);
	is_int(pricing_batch(&huge, &b, &missing), 0, "a batch input past int64: read at the list's, never free");
	ok(b.input_micros_per_mtok == 1, "at the list input, not above it");
	struct price dear = {2000000, 1000000, 8000000, 4096, 2500000, PRICING_NO_DIMS};
	pricing_dim_put(&dear, PRICE_DIM_BATCH_INPUT, 3000000);	/* above the list: a row's mistake */
	pricing_dim_put(&dear, PRICE_DIM_BATCH_OUTPUT, 9000000);
	is_int(pricing_batch(&dear, &b, &missing), 0, "batch prices above the list's: priced");
	ok(b.input_micros_per_mtok == 2000000 && b.output_micros_per_mtok == 8000000 &&
	   b.cached_input_micros_per_mtok == 1000000 && b.cache_write_micros_per_mtok == 2500000,
	   "never above the list: the batch keys and the prices scaled by their ratio at the list's");
	struct price zero = {0, 0, 0, 4096, 0, PRICING_NO_DIMS};
	pricing_dim_put(&zero, PRICE_DIM_BATCH_INPUT, 500000);
	pricing_dim_put(&zero, PRICE_DIM_BATCH_OUTPUT, 700000);
	is_int(pricing_batch(&zero, &b, &missing), 0, "a row with batch prices and no list token prices: priced");
	ok(b.input_micros_per_mtok == 500000 && b.output_micros_per_mtok == 700000, "at its batch prices, never free");
	pricing_dim_put(&p, PRICE_DIM_BATCH_DISCOUNT, 5000);
	is_int(pricing_batch(&p, &b, &missing), 0, "batch prices and a discount: priced");
	ok(b.input_micros_per_mtok == 1250000 && b.cached_input_micros_per_mtok == 625000 &&
	   b.cache_write_micros_per_mtok == 1562500, "the batch keys where given, the discount on the rest");
	struct price c = {3000000, 300000, 15000001, 8192, 3750000, PRICING_NO_DIMS};
	pricing_dim_put(&c, PRICE_DIM_BATCH_DISCOUNT, 5000);
	pricing_dim_put(&c, PRICE_DIM_TIER_INPUT, 6000000);
	is_int(pricing_batch(&c, &b, &missing), 0, "a discount alone (Claude's rows): priced");
	ok(b.input_micros_per_mtok == 1500000 && b.output_micros_per_mtok == 7500001 &&
	   b.cached_input_micros_per_mtok == 150000, "every token price halved, rounded up");
	ok(pricing_dim_get(&b, PRICE_DIM_TIER_INPUT, &v) && v == 3000000, "the long-context tier's too");
	ok(!pricing_dim_valid(PRICE_DIM_BATCH_DISCOUNT, 10000) && pricing_dim_valid(PRICE_DIM_BATCH_DISCOUNT, 9999) &&
	   pricing_dim_valid(PRICE_DIM_BATCH_DISCOUNT, 0), "a discount below the whole price");
	ok(!pricing_dim_is_money(PRICE_DIM_BATCH_DISCOUNT) && pricing_dim_is_money(PRICE_DIM_BATCH_INPUT),
	   "batch prices are money, the discount a factor");
	struct price big = {INT64_MAX, 0, 0, 1, 0, PRICING_NO_DIMS};
	pricing_dim_put(&big, PRICE_DIM_BATCH_DISCOUNT, 1);
	is_int(pricing_batch(&big, &b, &missing), 0, "a discount never raises a price past int64");
}

int main(void)
{
	test_batch_prices();
	test_sizes_and_multipliers();
	test_media_units_alone();
	long_context();
	struct price p = row();
	uint64_t un;
	struct pricing_tokens t = {1000000, 200000, 100000, 500000};	/* 700k uncached */
	struct pricing_dims_usage none = {PRICING_TIER_STANDARD, 0, 0, 0, 0, 0, PRICING_SEARCH_ANY};
	int64_t std = 0;
	is_int(pricing_token_cost(&p, 10000, &t, &std), PRICING_OK, "the token cost");
	is_int(cost_of(&p, 10000, t, none, &un), std, "no dimension: the token cost, to the micro");
	is_int((long long)un, 0, "nothing unpriced");

	/* priority: 5 / 2.5 / 20 */
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_INPUT, 5000000);
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_CACHED_INPUT, 2500000);
	pricing_dim_put(&p, PRICE_DIM_PRIORITY_OUTPUT, 20000000);
	struct pricing_dims_usage pri = {PRICING_TIER_PRIORITY, 0, 0, 0, 0, 0, PRICING_SEARCH_ANY};
	/* 700k×5 + 200k×2.5 + 100k×3.75 + 500k×20 = 3.5 + 0.5 + 0.375 + 10 = 14.375 $ */
	is_int(cost_of(&p, 10000, t, pri, &un), 14375000, "priority: every token at the tier's price");
	is_int(cost_of(&p, 10500, t, pri, &un), 15093750, "and the margin on the whole, once");
	struct pricing_dims_usage flex = {PRICING_TIER_FLEX, 0, 0, 0, 0, 0, PRICING_SEARCH_ANY};
	is_int(cost_of(&p, 10000, t, flex, &un), std, "flex the row does not price: the standard price");
	ok(un == ((uint64_t)1 << PRICE_DIM_FLEX_INPUT | (uint64_t)1 << PRICE_DIM_FLEX_CACHED_INPUT |
		  (uint64_t)1 << PRICE_DIM_FLEX_OUTPUT), "and named unpriced");
	pricing_dim_put(&p, PRICE_DIM_FLEX_INPUT, 1250000);
	pricing_dim_put(&p, PRICE_DIM_FLEX_CACHED_INPUT, 625000);
	pricing_dim_put(&p, PRICE_DIM_FLEX_OUTPUT, 5000000);
	/* 700k×1.25 + 200k×0.625 + 100k×3.75 + 500k×5 = 0.875+0.125+0.375+2.5 = 3.875 $: a discount */
	is_int(cost_of(&p, 10000, t, flex, &un), 3875000, "flex: cheaper, to the micro");

	/* audio: in 40, out 80 */
	struct pricing_dims_usage audio = {PRICING_TIER_STANDARD, 0, 300000, 100000, 0, 0, PRICING_SEARCH_ANY};
	is_int(cost_of(&p, 10000, t, audio, &un), std, "audio the row does not price: the text price");
	ok(un == ((uint64_t)1 << PRICE_DIM_INPUT_AUDIO | (uint64_t)1 << PRICE_DIM_OUTPUT_AUDIO), "named");
	pricing_dim_put(&p, PRICE_DIM_INPUT_AUDIO, 40000000);
	pricing_dim_put(&p, PRICE_DIM_OUTPUT_AUDIO, 80000000);
	/* std 6.625 $ (700k×2.5 1.75 + 0.25 + 0.375 + 5) + 300k×(40-2.5) 11.25 + 100k×(80-10) 7 = 24.875 */
	is_int(std, 7375000, "the token cost is 7.375 $");
	is_int(cost_of(&p, 10000, t, audio, &un), 7375000 + 11250000 + 7000000, "audio tokens at their prices");

	/* 1-hour cache writes: 7.5 $/M instead of 3.75 */
	struct pricing_dims_usage hour = {PRICING_TIER_STANDARD, 60000, 0, 0, 0, 0, PRICING_SEARCH_ANY};
	is_int(cost_of(&p, 10000, t, hour, &un), std, "1-hour writes the row does not price: the 5-minute price");
	ok(un == (uint64_t)1 << PRICE_DIM_CACHE_WRITE_1H, "named");
	pricing_dim_put(&p, PRICE_DIM_CACHE_WRITE_1H, 7500000);
	is_int(cost_of(&p, 10000, t, hour, &un), std + 225000, "60k 1-hour writes at 7.5 (+0.225 $)");

	/* web search: 10,000 micros (1 cent) a search */
	struct pricing_dims_usage web = {PRICING_TIER_STANDARD, 0, 0, 0, 3, 0, PRICING_SEARCH_ANY};
	is_int(cost_of(&p, 10000, t, web, &un), std, "searches the row does not price: nothing more");
	ok(un == (uint64_t)1 << PRICE_DIM_WEB_SEARCH, "named");
	pricing_dim_put(&p, PRICE_DIM_WEB_SEARCH, 10000);
	is_int(cost_of(&p, 10000, t, web, &un), std + 30000, "three searches: 3 cents");
	is_int(cost_of(&p, 12000, t, web, &un), (std + 30000) * 12 / 10, "the margin on the fees too");

	/* everything at once: priority tier, audio in and out at the audio price, 1h, searches */
	struct pricing_dims_usage all = {PRICING_TIER_PRIORITY, 60000, 300000, 100000, 3, 0, PRICING_SEARCH_ANY};
	/* priority: 400k×5 2 + 200k×2.5 0.5 + 40k×3.75 0.15 + 60k×7.5 0.45 + 400k×20 8 + audio 300k×40 12 + 100k×80 8
	 * + 0.03 = 31.13 $ */
	is_int(cost_of(&p, 10000, t, all, &un), 31130000, "every dimension at once, to the micro");
	is_int((long long)un, 0, "all priced");

	/* refusals of the arithmetic */
	int64_t extra;
	struct pricing_dims_usage bad = {PRICING_TIER_STANDARD, 100001, 0, 0, 0, 0, PRICING_SEARCH_ANY};
	is_int(pricing_dims_extra(&p, &t, &bad, &extra, &un), PRICING_INVALID, "1-hour writes above the writes");
	bad = (struct pricing_dims_usage){PRICING_TIER_STANDARD, 0, 700001, 0, 0, 0, PRICING_SEARCH_ANY};
	is_int(pricing_dims_extra(&p, &t, &bad, &extra, &un), PRICING_INVALID, "audio input above the uncached input");
	bad = (struct pricing_dims_usage){PRICING_TIER_STANDARD, 0, 0, 500001, 0, 0, PRICING_SEARCH_ANY};
	is_int(pricing_dims_extra(&p, &t, &bad, &extra, &un), PRICING_INVALID, "audio output above the output");
	bad = (struct pricing_dims_usage){PRICING_TIER_STANDARD, 0, 0, 0, -1, 0, PRICING_SEARCH_ANY};
	is_int(pricing_dims_extra(&p, &t, &bad, &extra, &un), PRICING_INVALID, "negative searches");
	struct pricing_tokens huge = {INT64_MAX, 0, 0, 0};
	is_int(pricing_dims_extra(&p, &huge, &none, &extra, &un), PRICING_OVERFLOW, "no call's count: overflow");
	int64_t c;
	is_int(pricing_cost_with_extra(&p, 10000, &t, INT64_MIN + 1, &c), PRICING_INVALID, "below 0: refused");
	is_int(pricing_cost_with_extra(&p, 0, &t, 5, &c), PRICING_OK, "margin 0");
	is_int(c, 0, "costs nothing");
	return done_testing();
}
