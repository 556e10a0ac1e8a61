/* gwmoney.c: the gateway's money decision (gwmoney.h). */
#include "gwmoney.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Appends a clause to why ("; " between), cut to fit. */
static void say(struct gw_charge *out, const char *clause)
{
	size_t len = strlen(out->why);
	if (len + 3 >= sizeof(out->why))
		return;
	snprintf(out->why + len, sizeof(out->why) - len, "%s%s", len > 0 ? "; " : "", clause);
}

void gwmoney_charge(const struct gw_asked *a, const struct gw_usage *u, struct gw_charge *out)
{
	char clause[128];
	assert(u->input_tokens >= 0 && u->cached_input_tokens >= 0 && u->cache_write_tokens >= 0 && u->output_tokens >= 0);
	memset(out, 0, sizeof(*out));
	out->usage = *u;
	struct gw_usage *c = &out->usage;
	if (a->route->input_only)
		c->output_tokens = 0;		/* embeddings bill input only */
	/* Cache reads and writes are parts of the input: reported above it,
	 * the input is taken to be at least their sum. */
	if (c->cached_input_tokens > INT64_MAX - c->cache_write_tokens)
		c->cached_input_tokens = INT64_MAX - c->cache_write_tokens;	/* no overflow; flagged below */
	int64_t parts = c->cached_input_tokens + c->cache_write_tokens;
	if (parts > c->input_tokens) {
		snprintf(clause, sizeof(clause), "cached (%lld) and cache-write (%lld) input above input (%lld): counted as input",
			 (long long)u->cached_input_tokens, (long long)u->cache_write_tokens, (long long)u->input_tokens);
		say(out, clause);
		c->input_tokens = parts;
		out->over_hold = 1;
	}
	if (a->hold_input >= 0 && c->input_tokens > a->hold_input) {
		snprintf(clause, sizeof(clause), "input %lld above the %lld held", (long long)c->input_tokens,
			 (long long)a->hold_input);
		say(out, clause);
		out->over_hold = 1;
	}
	int64_t n = a->choices > 0 ? a->choices : 1;
	if (!a->route->input_only && a->output_cap >= 0 && a->output_cap <= INT64_MAX / n &&
	    c->output_tokens > a->output_cap * n) {
		snprintf(clause, sizeof(clause), "output %lld above the cap of %lld sent (%lld choices)",
			 (long long)c->output_tokens, (long long)a->output_cap, (long long)n);
		say(out, clause);
		out->over_hold = 1;
	}
	assert(c->cached_input_tokens + c->cache_write_tokens <= c->input_tokens);
	assert(out->over_hold == (out->why[0] != '\0'));
}

/* p prices every price of dims[] (n of them). */
static int priced(const struct price *p, const enum price_dim *dims, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!pricing_dim_get(p, dims[i], NULL))
			return 0;
	return 1;
}

const char *gwmoney_unpriced(const struct gw_ask *ask, const struct price *p)
{
	static const enum price_dim priority[] = {PRICE_DIM_PRIORITY_INPUT, PRICE_DIM_PRIORITY_OUTPUT};
	static const enum price_dim flex[] = {PRICE_DIM_FLEX_INPUT, PRICE_DIM_FLEX_OUTPUT};
	static const enum price_dim audio[] = {PRICE_DIM_INPUT_AUDIO, PRICE_DIM_OUTPUT_AUDIO};
	static const enum price_dim hour[] = {PRICE_DIM_CACHE_WRITE_1H};
	static const enum price_dim search[] = {PRICE_DIM_WEB_SEARCH};
	static const enum price_dim tier[] = {PRICE_DIM_TIER_INPUT};
	if (ask->long_context != NULL && !priced(p, tier, 1))
		return ask->long_context;
	if ((ask->tier == GW_TIER_PRIORITY && !priced(p, priority, 2)) || (ask->tier == GW_TIER_FLEX && !priced(p, flex, 2)))
		return "service_tier";
	if (ask->cache_1h && !priced(p, hour, 1))
		return "cache_control";
	if (ask->audio != NULL && !priced(p, audio, 2))
		return ask->audio;
	if (ask->web_search != NULL && !priced(p, search, 1))
		return ask->web_search;
	return NULL;
}

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
	return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* The searches a call is held for: none without a search tool, else its
 * max_tool_calls / max_uses, else [gateway] max_tool_calls_held. */
static int64_t searches_asked(const struct gw_ask *ask, int64_t searches_held)
{
	return ask->web_search == NULL ? 0 : ask->web_search_max >= 0 ? ask->web_search_max : searches_held;
}

static int64_t dim_of(const struct price *p, enum price_dim d, int64_t standard)
{
	int64_t v;
	return pricing_dim_get(p, d, &v) ? v : standard;
}

/* The dearest price an input and an output token of a call asking ask
 * may be billed at p's prices: the tier asked ("auto" the dearest), any
 * input token a cache write (the 1-hour price when asked), a cache read
 * at its tier's price or audio, any output token audio when asked. */
static void dearest(const struct gw_ask *ask, const struct price *p, int64_t *in_out, int64_t *out_out)
{
	int64_t in = p->input_micros_per_mtok, out = p->output_micros_per_mtok;
	int64_t pin = dim_of(p, PRICE_DIM_PRIORITY_INPUT, in), pout = dim_of(p, PRICE_DIM_PRIORITY_OUTPUT, out);
	int64_t fin = dim_of(p, PRICE_DIM_FLEX_INPUT, in), fout = dim_of(p, PRICE_DIM_FLEX_OUTPUT, out);
	if (ask->tier == GW_TIER_PRIORITY) {
		in = pin;
		out = pout;
	} else if (ask->tier == GW_TIER_FLEX) {
		in = fin;
		out = fout;
	} else if (ask->tier == GW_TIER_AUTO) {
		in = max3(in, pin, fin);
		out = max3(out, pout, fout);
	}
	int64_t write = ask->cache_1h ? dim_of(p, PRICE_DIM_CACHE_WRITE_1H, p->cache_write_micros_per_mtok)
				      : p->cache_write_micros_per_mtok;
	int64_t ain = ask->audio != NULL ? dim_of(p, PRICE_DIM_INPUT_AUDIO, in) : in;
	int64_t aout = ask->audio != NULL ? dim_of(p, PRICE_DIM_OUTPUT_AUDIO, out) : out;
	/* Cache reads at the tier's price too (a row may price them above
	 * its input). */
	int64_t tcached = ask->tier == GW_TIER_PRIORITY ? dim_of(p, PRICE_DIM_PRIORITY_CACHED_INPUT, 0)
			  : ask->tier == GW_TIER_FLEX ? dim_of(p, PRICE_DIM_FLEX_CACHED_INPUT, 0)
			  : ask->tier == GW_TIER_AUTO ? max3(dim_of(p, PRICE_DIM_PRIORITY_CACHED_INPUT, 0),
							    dim_of(p, PRICE_DIM_FLEX_CACHED_INPUT, 0), 0) : 0;
	*in_out = max3(max3(in, write, ain), tcached, p->cached_input_micros_per_mtok);
	*out_out = out > aout ? out : aout;
}

int gwmoney_hold(const struct gw_ask *ask, const struct price *p, int64_t searches_held, struct price *hold_price,
		 int64_t *fees_raw, int64_t *searches)
{
	int64_t in, out;
	*hold_price = *p;	/* pinned: the row; only its token prices are the worst case's */
	dearest(ask, p, &in, &out);
	if (ask->long_context != NULL) {
		/* The input may pass the threshold (every token at the
		 * tier's prices) or not (the standard ones): the dearer of
		 * the two, a row's tier cheaper than standard included. */
		struct price tiered;
		uint64_t unpriced = 0;
		int64_t tin, tout;
		if (pricing_long_row(p, &tiered, &unpriced) != PRICING_OK)
			return -1;
		assert(unpriced == 0);	/* gwmoney_unpriced refused a tier without prices */
		dearest(ask, &tiered, &tin, &tout);
		in = tin > in ? tin : in;
		out = tout > out ? tout : out;
	}
	hold_price->input_micros_per_mtok = in;
	hold_price->output_micros_per_mtok = out;
	*searches = searches_asked(ask, searches_held);
	uint64_t unpriced = 0;
	__int128 fees = (__int128)*searches * pricing_search_fee(p, (enum pricing_search_size)ask->web_search_size, &unpriced) *
			1000000;
	if (fees > INT64_MAX)
		return -1;
	*fees_raw = (int64_t)fees;
	return 0;
}

void gwmoney_hold_max(struct price *held, int64_t *fees_raw, const struct price *other, int64_t other_fees_raw)
{
	/* The hold prices its input and output tokens alone (its cached
	 * and cache-write ones are at most its input price there). */
	if (other->input_micros_per_mtok > held->input_micros_per_mtok)
		held->input_micros_per_mtok = other->input_micros_per_mtok;
	if (other->output_micros_per_mtok > held->output_micros_per_mtok)
		held->output_micros_per_mtok = other->output_micros_per_mtok;
	if (other_fees_raw > *fees_raw)
		*fees_raw = other_fees_raw;
	assert(held->input_micros_per_mtok >= other->input_micros_per_mtok);
	assert(held->output_micros_per_mtok >= other->output_micros_per_mtok);
}

int gwmoney_worst_tier(const struct gw_ask *ask, const struct price *p)
{
	if (ask->tier != GW_TIER_AUTO)
		return ask->tier;
	return pricing_dim_get(p, PRICE_DIM_PRIORITY_INPUT, NULL) ? GW_TIER_PRIORITY : GW_TIER_STANDARD;
}

/* The row's dearest price of a token: its four prices and every
 * dimension priced per million tokens. */
static int64_t dearest_token(const struct price *p)
{
	int64_t v, most = p->input_micros_per_mtok;
	const int64_t base[] = {p->cached_input_micros_per_mtok, p->output_micros_per_mtok, p->cache_write_micros_per_mtok};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		most = base[i] > most ? base[i] : most;
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		const char *name = pricing_dim_name((enum price_dim)d);
		size_t n = strlen(name);
		if (n > 16 && strcmp(name + n - 16, "_micros_per_mtok") == 0 && pricing_dim_get(p, (enum price_dim)d, &v))
			most = v > most ? v : most;
	}
	return most;
}

/* Usage no reading placed (gw_usage.unknown_*; docs/gateway.md "Usage
 * read whole"): a bill the operator pays, charged at the row's dearest
 * token price — a part of the input or output already charged at its
 * own price, the difference — and flagged usage_unknown. */
static enum pricing_status unknown_charge(const struct price *p, const struct gw_usage *u, int64_t *extra_raw,
					  struct gw_charge *c)
{
	char clause[128];
	int64_t dear = dearest_token(p);
	if (u->unknown_tokens == 0 && u->unknown_input_part == 0 && u->unknown_output_part == 0)
		return PRICING_OK;
	assert(dear >= p->input_micros_per_mtok && dear >= p->output_micros_per_mtok);
	__int128 x = (__int128)*extra_raw + (__int128)u->unknown_tokens * dear +
		     (__int128)u->unknown_input_part * (dear - p->input_micros_per_mtok) +
		     (__int128)u->unknown_output_part * (dear - p->output_micros_per_mtok);
	if (x > INT64_MAX)
		return PRICING_OVERFLOW;
	*extra_raw = (int64_t)x;
	c->usage_unknown = 1;
	snprintf(clause, sizeof(clause), "usage_unknown: %.48s charged at the dearest token price", u->unknown_member);
	say(c, clause);
	return PRICING_OK;
}

enum pricing_status gwmoney_dims(const struct gw_ask *ask, const struct price *p, int64_t searches_held,
				 const struct gw_usage *u, int64_t *extra_raw, struct gw_charge *c)
{
	char clause[128];
	uint64_t unpriced = 0;
	const struct pricing_tokens t = {c->usage.input_tokens, c->usage.cached_input_tokens, c->usage.cache_write_tokens,
					 c->usage.output_tokens};
	struct pricing_dims_usage d = {u->tier == GW_TIER_PRIORITY ? PRICING_TIER_PRIORITY
				       : u->tier == GW_TIER_FLEX ? PRICING_TIER_FLEX : PRICING_TIER_STANDARD,
				       u->cache_write_1h_tokens, u->audio_input_tokens, u->audio_output_tokens, u->web_searches,
				       !ask->long_context_off && pricing_long_context(p, t.input_tokens),
				       (enum pricing_search_size)ask->web_search_size};
	/* Chat's search models bill a search a call; their usage does not
	 * count it. */
	if (ask->web_search != NULL && strcmp(ask->web_search, "web_search_options") == 0 && d.web_search_calls == 0)
		d.web_search_calls = 1;
	/* Parts kept within their totals (the charge's counts, as gwmoney_charge made them). */
	if (d.cache_write_1h_tokens > t.cache_write_input_tokens)
		d.cache_write_1h_tokens = t.cache_write_input_tokens;
	if (d.audio_input_tokens > t.input_tokens - t.cached_input_tokens - t.cache_write_input_tokens)
		d.audio_input_tokens = t.input_tokens - t.cached_input_tokens - t.cache_write_input_tokens;
	if (d.audio_output_tokens > t.output_tokens)
		d.audio_output_tokens = t.output_tokens;
	enum pricing_status st = pricing_dims_extra(p, &t, &d, extra_raw, &unpriced);
	if (st != PRICING_OK)
		return st;
	/* What was charged: a tier the row does not price was the standard
	 * price (flagged below). */
	c->dims = d;
	if (unpriced & (uint64_t)1 << PRICE_DIM_TIER_INPUT)
		c->dims.long_context = 0;
	if (unpriced & ((uint64_t)1 << PRICE_DIM_PRIORITY_INPUT | (uint64_t)1 << PRICE_DIM_FLEX_INPUT))
		c->dims.tier = PRICING_TIER_STANDARD;
	if (unpriced != 0) {
		for (int i = 0; i < PRICE_DIM_COUNT; i++)
			if (unpriced & (uint64_t)1 << i) {
				snprintf(clause, sizeof(clause), "%s used, not priced: charged at the standard price",
					 pricing_dim_name((enum price_dim)i));
				say(c, clause);
				break;
			}
		c->over_hold = 1;
	}
	int asked = ask->tier == GW_TIER_AUTO ? GW_TIER_PRIORITY : ask->tier;
	if ((u->tier == GW_TIER_PRIORITY && asked != GW_TIER_PRIORITY) ||
	    (u->tier == GW_TIER_STANDARD && asked == GW_TIER_FLEX)) {
		say(c, "a dearer service tier served than asked");
		c->over_hold = 1;
	}
	int64_t held = searches_asked(ask, searches_held);
	if (u->web_searches > held) {
		snprintf(clause, sizeof(clause), "%lld web searches, %lld held", (long long)u->web_searches, (long long)held);
		say(c, clause);
		c->over_hold = 1;
	}
	return unknown_charge(p, u, extra_raw, c);
}

/* ---- a tool's own model (docs/gateway.md, "A tool's own model") ---- */

/* The price an input token of a tool's run may be billed at. */
static int64_t tool_dearest_input(const struct gw_ask *ask, const struct price *tp)
{
	int64_t in = max3(tp->input_micros_per_mtok, tp->cached_input_micros_per_mtok, tp->cache_write_micros_per_mtok);
	int64_t hour = ask->tool_model_cache_1h ? dim_of(tp, PRICE_DIM_CACHE_WRITE_1H, in) : in;
	return hour > in ? hour : in;
}

int gwmoney_tool_hold(const struct gw_ask *ask, const struct price *tp, int64_t runs_held, int64_t call_input,
		      int64_t call_output, struct gw_tool_held *h)
{
	memset(h, 0, sizeof(*h));
	if (ask->tool_model[0] == '\0')
		return 0;
	h->runs = ask->tool_model_uses >= 0 ? ask->tool_model_uses : runs_held;
	h->output = ask->tool_model_cap >= 0 ? ask->tool_model_cap : tp->max_output_tokens;
	/* Each at most LIMIT_TOKENS_MAX (< 2^40), runs at most
	 * LIMIT_GATEWAY_TOOL_CALLS_MAX: no product below wraps 128 bits. */
	__int128 input = (__int128)call_input + call_output + (__int128)h->runs * h->output;
	if (input > LIMIT_TOKENS_MAX)
		return -1;
	h->input = (int64_t)input;
	__int128 raw = (__int128)h->runs * ((__int128)h->input * tool_dearest_input(ask, tp) +
					    (__int128)h->output * tp->output_micros_per_mtok);
	if (raw > INT64_MAX)
		return -1;
	h->raw = (int64_t)raw;
	return 0;
}

/* The runs' tokens at prices in[] (uncached, cache write, cache read,
 * output, 1-hour cache write) added to *x. */
static int tool_add(const struct gw_tool_usage *t, const int64_t price[GW_TOOL_PARTS], __int128 *x)
{
	const int64_t n[GW_TOOL_PARTS] = {t->tokens[GW_TOOL_INPUT], t->tokens[GW_TOOL_CACHE_WRITE] -
					  t->tokens[GW_TOOL_CACHE_1H], t->tokens[GW_TOOL_CACHE_READ],
					  t->tokens[GW_TOOL_OUTPUT], t->tokens[GW_TOOL_CACHE_1H]};
	for (int k = 0; k < GW_TOOL_PARTS; k++)
		*x += (__int128)n[k] * price[k];
	return *x > INT64_MAX ? -1 : 0;
}

static void tool_prices(const struct price *p, int64_t out[GW_TOOL_PARTS])
{
	out[GW_TOOL_INPUT] = p->input_micros_per_mtok;
	out[GW_TOOL_CACHE_WRITE] = p->cache_write_micros_per_mtok;
	out[GW_TOOL_CACHE_READ] = p->cached_input_micros_per_mtok;
	out[GW_TOOL_OUTPUT] = p->output_micros_per_mtok;
	out[GW_TOOL_CACHE_1H] = dim_of(p, PRICE_DIM_CACHE_WRITE_1H, p->cache_write_micros_per_mtok);
}

enum pricing_status gwmoney_tool(const struct gw_ask *ask, const struct price *tp, const struct price *named,
				 const struct gw_tool_held *h, const struct gw_usage *u, int64_t *extra_raw,
				 struct gw_charge *c)
{
	char clause[128];
	int64_t price[GW_TOOL_PARTS], other[GW_TOOL_PARTS];
	const struct gw_tool_usage *t = &u->tool;
	if (t->runs == 0)
		return PRICING_OK;
	tool_prices(tp, price);
	int asked = ask->tool_model[0] != '\0';
	if (!asked || t->models || strcmp(t->model, ask->tool_model) != 0) {
		/* Another model than the one asked: the dearer of the two at
		 * each token, every token the dearest when unknown. */
		if (named != NULL && asked && !t->models)
			tool_prices(named, other);
		for (int k = 0; k < GW_TOOL_PARTS; k++) {
			int64_t o = named != NULL && asked && !t->models ? other[k] : dearest_token(tp);
			price[k] = o > price[k] ? o : price[k];
		}
		snprintf(clause, sizeof(clause), "tool ran %.32s%s, not %.32s: dearer price", t->model,
			 t->models ? " and others" : "", asked ? ask->tool_model : "a tool model asked");
		say(c, clause);
		c->over_hold = 1;
	}
	if (t->runs > h->runs) {
		snprintf(clause, sizeof(clause), "%lld runs of the tool's model, %lld held", (long long)t->runs,
			 (long long)h->runs);
		say(c, clause);
		c->over_hold = 1;
	}
	__int128 x = *extra_raw;
	if (tool_add(t, price, &x) != 0)
		return PRICING_OVERFLOW;
	*extra_raw = (int64_t)x;
	return PRICING_OK;
}

void gwmoney_tool_estimate(const struct gw_ask *ask, const struct gw_tool_held *h, const struct gw_tool_usage *seen,
			   struct gw_tool_usage *t)
{
	*t = *seen;
	if (t->runs > 0 || h->runs == 0)
		return;
	/* h's figures passed gwmoney_tool_hold: each product fits. */
	t->runs = h->runs;
	t->tokens[GW_TOOL_INPUT] = h->runs * h->input;
	t->tokens[GW_TOOL_OUTPUT] = h->runs * h->output;
	snprintf(t->model, sizeof(t->model), "%s", ask->tool_model);
}
