/* pricing_dims.c: the optional dimensions of a price row (pricing.h
 * PRICE_DIMS, docs/gateway.md, "What is billed"): their names, which values each may have, a
 * web search's fee by its context size, and a row scaled by a
 * multiplier. Pure functions over struct price, as pricing.c: no I/O,
 * no floats, every product in 128 bits. */
#include "pricing.h"
#include "limits.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* ---- The optional dimensions (pricing.h PRICE_DIMS) ---- */

#define DIM_NAME(id, field) #field,
static const char *const dim_names[PRICE_DIM_COUNT] = {PRICE_DIMS(DIM_NAME)};
#undef DIM_NAME

const char *pricing_dim_name(enum price_dim d)
{
	assert((int)d >= 0);
	assert(d < PRICE_DIM_COUNT);
	return dim_names[d];
}

int pricing_dim_by_name(const char *name)
{
	int found = -1;
	assert(name != NULL);
	for (int d = 0; d < PRICE_DIM_COUNT && found < 0; d++)
		if (strcmp(dim_names[d], name) == 0)
			found = d;
	assert(found < 0 || strcmp(pricing_dim_name(found), name) == 0);	/* and back */
	return found;
}

/* A multiplier raises every price of a call: guarded as money is. */
int pricing_dim_is_money(enum price_dim d)
{
	assert((int)d >= 0);
	assert(d < PRICE_DIM_COUNT);
	return d != PRICE_DIM_MAX_INPUT_TOKENS && d != PRICE_DIM_REASONING && d != PRICE_DIM_TIER_THRESHOLD &&
	       d != PRICE_DIM_BATCH_DISCOUNT;
}

static int is_multiplier(enum price_dim d)
{
	return d == PRICE_DIM_FAST_MULTIPLIER || d == PRICE_DIM_GEO_US_MULTIPLIER;
}

/* A multiplier is at least 1 bps and at most LIMIT_PRICE_MULTIPLIER_BPS. */
int pricing_dim_valid(enum price_dim d, int64_t v)
{
	assert((int)d >= 0);
	assert(d < PRICE_DIM_COUNT);
	if (d == PRICE_DIM_REASONING)
		return v == 0 || v == 1;
	if (is_multiplier(d))
		return v >= 1 && v <= LIMIT_PRICE_MULTIPLIER_BPS;
	if (d == PRICE_DIM_BATCH_DISCOUNT)	/* a discount of the whole price would serve batches free */
		return v >= 0 && v < 10000;
	return v >= (d == PRICE_DIM_TIER_THRESHOLD ? 1 : 0);
}

int64_t pricing_search_fee(const struct price *p, enum pricing_search_size size, uint64_t *unpriced)
{
	int64_t v;
	if (size == PRICING_SEARCH_LOW && pricing_dim_get(p, PRICE_DIM_WEB_SEARCH_LOW, &v))
		return v;
	if (size == PRICING_SEARCH_MEDIUM && pricing_dim_get(p, PRICE_DIM_WEB_SEARCH_MEDIUM, &v))
		return v;
	if (pricing_dim_get(p, PRICE_DIM_WEB_SEARCH, &v))
		return v;
	*unpriced |= UINT64_C(1) << PRICE_DIM_WEB_SEARCH;
	return 0;
}

/* ceil(v * bps / 10000), or -1 past int64. */
static int scale_one(int64_t v, int64_t bps, int64_t *out)
{
	__int128 x = ((__int128)v * bps + 9999) / 10000;
	if (x > INT64_MAX)
		return -1;
	*out = (int64_t)x;
	return 0;
}

int pricing_scaled(const struct price *p, int64_t bps, struct price *out)
{
	assert(bps >= 1);
	*out = *p;
	if (scale_one(p->input_micros_per_mtok, bps, &out->input_micros_per_mtok) != 0 ||
	    scale_one(p->cached_input_micros_per_mtok, bps, &out->cached_input_micros_per_mtok) != 0 ||
	    scale_one(p->output_micros_per_mtok, bps, &out->output_micros_per_mtok) != 0 ||
	    scale_one(p->cache_write_micros_per_mtok, bps, &out->cache_write_micros_per_mtok) != 0)
		return -1;
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		size_t n = strlen(dim_names[d]);
		if (!(p->dims.set & (UINT64_C(1) << d)) || n < 16 || strcmp(dim_names[d] + n - 16, "_micros_per_mtok") != 0)
			continue;
		if (scale_one(p->dims.v[d], bps, &out->dims.v[d]) != 0)
			return -1;
	}
	return 0;
}

int pricing_dim_get(const struct price *p, enum price_dim d, int64_t *v)
{
	assert(p != NULL);
	assert(d < PRICE_DIM_COUNT);	/* its bit is in set */
	if (!(p->dims.set & (UINT64_C(1) << d)))
		return 0;
	if (v != NULL)
		*v = p->dims.v[d];
	return 1;
}

void pricing_dim_put(struct price *p, enum price_dim d, int64_t v)
{
	assert(p != NULL);
	assert(d < PRICE_DIM_COUNT);	/* its bit is in set */
	if (v < 0) {
		p->dims.set &= ~(UINT64_C(1) << d);
		p->dims.v[d] = 0;
		return;
	}
	p->dims.set |= UINT64_C(1) << d;
	p->dims.v[d] = v;
}

/* A row priced by a media unit (pixels, images, seconds, characters,
 * image or audio tokens) whose token prices are both 0 prices no token either: one set by hand
 * as `creditctl price set tts-1 0 0 … input_micros_per_mchar=…` would
 * otherwise serve a token route free. */
static int media_units_alone(const struct price *p)
{
	static const enum price_dim units[] = {PRICE_DIM_INPUT_PIXEL, PRICE_DIM_OUTPUT_PIXEL, PRICE_DIM_OUTPUT_PER_IMAGE,
					       PRICE_DIM_INPUT_SECOND, PRICE_DIM_OUTPUT_SECOND, PRICE_DIM_INPUT_CHAR,
					       PRICE_DIM_INPUT_IMAGE, PRICE_DIM_OUTPUT_IMAGE, PRICE_DIM_INPUT_AUDIO,
					       PRICE_DIM_OUTPUT_AUDIO};
	int any = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		any |= pricing_dim_get(p, units[i], NULL);
	return any && p->input_micros_per_mtok == 0 && p->output_micros_per_mtok == 0;
}

int pricing_prices_tokens(const struct price *p)
{
	assert(p != NULL);
	assert(p->dims.no_tokens == 0 || p->dims.no_tokens == 1);
	return !p->dims.no_tokens && !media_units_alone(p);
}

int pricing_prices_text_input(const struct price *p)
{
	assert(p != NULL);
	assert(!p->dims.text_input || p->dims.no_tokens);	/* a media row's alone */
	return !p->dims.no_tokens || p->dims.text_input;
}

int pricing_same(const struct price *a, const struct price *b)
{
	assert(a != NULL);
	assert(b != NULL);
	if (a->input_micros_per_mtok != b->input_micros_per_mtok ||
	    a->cached_input_micros_per_mtok != b->cached_input_micros_per_mtok ||
	    a->output_micros_per_mtok != b->output_micros_per_mtok || a->max_output_tokens != b->max_output_tokens ||
	    a->cache_write_micros_per_mtok != b->cache_write_micros_per_mtok || a->dims.set != b->dims.set ||
	    a->dims.no_tokens != b->dims.no_tokens || a->dims.text_input != b->dims.text_input)
		return 0;
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		if ((a->dims.set & (UINT64_C(1) << d)) && a->dims.v[d] != b->dims.v[d])
			return 0;
	return 1;
}

/* ceil(v × num / den), exactly: 0 <= num <= den (a batch price clamped
 * at its list price), so it is at most v and never wraps. */
static int64_t ratio_of(int64_t v, int64_t num, int64_t den)
{
	assert(den > 0);
	assert(num >= 0 && num <= den);
	assert(v >= 0);	/* a price (pricing_dim_valid) */
	__int128 x = (__int128)v * num;	/* 0 <= x < 2^126: x + den - 1 does not wrap */
	return (int64_t)((x + den - 1) / den);
}

/* p's token prices that no batch figure gives, each at its side's batch
 * ratio into out, rounded up once (docs/gateway.md, "Batches"): cached
 * input, cache writes and every input-like per-token dimension at
 * num[0] / den[0] (the batch input's to the list input's), every
 * output-like one (its name says output: the tiers' outputs, audio and
 * image output) at num[1] / den[1]. */
static void by_ratios(const struct price *p, struct price *out, const int64_t num[2], const int64_t den[2])
{
	out->cached_input_micros_per_mtok = ratio_of(p->cached_input_micros_per_mtok, num[0], den[0]);
	out->cache_write_micros_per_mtok = ratio_of(p->cache_write_micros_per_mtok, num[0], den[0]);
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		size_t n = strlen(dim_names[d]);
		if (!(p->dims.set & (UINT64_C(1) << d)) || n < 16 || strcmp(dim_names[d] + n - 16, "_micros_per_mtok") != 0)
			continue;
		int side = strstr(dim_names[d], "output") != NULL;
		out->dims.v[d] = ratio_of(p->dims.v[d], num[side], den[side]);
	}
}

/* The batch keys alone: each side's ratio, exact (no basis point), the
 * other side's where a list price is 0, none (the list's) where both are. */
static void by_batch_keys(const struct price *p, int64_t in, int64_t outp, struct price *out)
{
	int64_t num[2] = {in, outp}, den[2] = {p->input_micros_per_mtok, p->output_micros_per_mtok};
	for (int side = 0; side < 2; side++)
		if (den[side] <= 0) {
			num[side] = den[!side] > 0 ? num[!side] : 1;
			den[side] = den[!side] > 0 ? den[!side] : 1;
		}
	by_ratios(p, out, num, den);
}

int pricing_batch(const struct price *p, struct price *out, const char **missing)
{
	int64_t discount = 0, in = 0, outp = 0;
	assert(p != NULL);
	assert(out != NULL);
	int has_discount = pricing_dim_get(p, PRICE_DIM_BATCH_DISCOUNT, &discount);
	int has_in = pricing_dim_get(p, PRICE_DIM_BATCH_INPUT, &in);
	int has_out = pricing_dim_get(p, PRICE_DIM_BATCH_OUTPUT, &outp);
	*missing = NULL;
	*out = *p;
	if (!has_discount && !(has_in && has_out)) {
		*missing = has_in ? "batch_output_micros_per_mtok"
			 : has_out ? "batch_input_micros_per_mtok" : "batch_discount_bps";
		return -1;
	}
	assert(discount >= 0 && discount < 10000);	/* pricing_dim_valid */
	/* A batch price is never above the list's: a row that says so is
	 * read at the list's (docs/gateway.md, "Batches"); a list price of 0
	 * leaves the batch price as given, never makes it free. */
	if (has_in && p->input_micros_per_mtok > 0 && in > p->input_micros_per_mtok)
		in = p->input_micros_per_mtok;
	if (has_out && p->output_micros_per_mtok > 0 && outp > p->output_micros_per_mtok)
		outp = p->output_micros_per_mtok;
	/* The discount where the row sets one, on every price no batch key
	 * gives; else each price at its own side's batch ratio, exact. */
	if (has_discount && pricing_scaled(p, 10000 - discount, out) != 0)
		return -2;
	if (!has_discount)
		by_batch_keys(p, in, outp, out);
	if (has_in)
		out->input_micros_per_mtok = in;
	if (has_out)
		out->output_micros_per_mtok = outp;
	/* A batch line is priced at its batch prices, not scaled again by a
	 * later call: the result prices no batch dimension of its own. */
	pricing_dim_put(out, PRICE_DIM_BATCH_DISCOUNT, -1);
	pricing_dim_put(out, PRICE_DIM_BATCH_INPUT, -1);
	pricing_dim_put(out, PRICE_DIM_BATCH_OUTPUT, -1);
	return 0;
}
