/* pricing.c: the money math of creditd, as pure functions.
 *
 * Owns the token cost formula (docs/api.md, "Costs") and the strict parser of one
 * price-list CSV row. No I/O, no allocation, no floating point: amounts are
 * int64 micros, intermediates are signed __int128, and every product is
 * bounded before it is formed, so a cost that does not fit in int64 comes
 * back as PRICING_OVERFLOW instead of a wrapped number. */
#include "pricing.h"
#include "limits.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 10^6 tokens per priced unit times 10^4 basis points per 100%. */
static const __int128 cost_divisor = 10000000000;

/* The most fields any row kind has (a model with its cache-write price). */
#define ROW_FIELDS_MAX 7

/* One comma-separated field of a row, already trimmed; not NUL-terminated. */
struct field {
	const char *s;
	size_t len;
};

static int args_valid(const struct price *p, int64_t margin_bps, const struct pricing_tokens *t,
		      const int64_t *cost_micros)
{
	if (p == NULL || t == NULL || cost_micros == NULL)
		return 0;
	if (t->input_tokens < 0 || t->cached_input_tokens < 0 || t->cache_write_input_tokens < 0 ||
	    t->output_tokens < 0 || margin_bps < 0)
		return 0;
	/* Both are parts of the input. Compared by what is left of it, never
	 * by their sum, which could wrap. */
	if (t->cached_input_tokens > t->input_tokens ||
	    t->cache_write_input_tokens > t->input_tokens - t->cached_input_tokens)
		return 0;
	if (p->input_micros_per_mtok < 0 || p->cached_input_micros_per_mtok < 0)
		return 0;
	if (p->output_micros_per_mtok < 0 || p->cache_write_micros_per_mtok < 0)
		return 0;
	/* What the checks give: the uncached input is no part below 0. */
	assert(t->cache_write_input_tokens <= t->input_tokens);
	assert(t->input_tokens - t->cached_input_tokens - t->cache_write_input_tokens >= 0);
	return 1;
}

/* Adds tokens * price to *acc, or returns -1 if the sum would pass limit.
 * Both factors are >= 0 and *acc <= limit on entry; the division bounds the
 * product before it is formed, so nothing here can wrap. */
static int add_term(__int128 *acc, int64_t tokens, int64_t price, __int128 limit)
{
	__int128 room = limit - *acc;

	assert(tokens >= 0);
	assert(price >= 0);
	assert(*acc <= limit);
	if (price != 0 && (__int128)tokens > room / price)
		return -1;
	*acc += (__int128)tokens * price;
	return 0;
}

enum pricing_status pricing_token_cost(const struct price *p, int64_t margin_bps, const struct pricing_tokens *t,
				       int64_t *cost_micros)
{
	/* ceil(x / D) <= INT64_MAX exactly when x <= INT64_MAX * D. */
	const __int128 limit = (__int128)INT64_MAX * cost_divisor;
	__int128 base = 0;
	__int128 total;

	if (!args_valid(p, margin_bps, t, cost_micros))
		return PRICING_INVALID;
	if (margin_bps == 0) {
		/* The exact cost is 0 whatever the token counts are. */
		*cost_micros = 0;
		return PRICING_OK;
	}
	int64_t uncached = t->input_tokens - t->cached_input_tokens - t->cache_write_input_tokens;
	assert(uncached >= 0);	/* args_valid */
	/* margin_bps >= 1, so a base above limit already means overflow. */
	if (add_term(&base, uncached, p->input_micros_per_mtok, limit) != 0
	    || add_term(&base, t->cached_input_tokens, p->cached_input_micros_per_mtok, limit) != 0
	    || add_term(&base, t->cache_write_input_tokens, p->cache_write_micros_per_mtok, limit) != 0
	    || add_term(&base, t->output_tokens, p->output_micros_per_mtok, limit) != 0)
		return PRICING_OVERFLOW;
	if (base > limit / margin_bps)
		return PRICING_OVERFLOW;
	total = base * margin_bps;
	*cost_micros = (int64_t)((total + cost_divisor - 1) / cost_divisor);
	assert(*cost_micros >= 0);
	return PRICING_OK;
}

enum pricing_status pricing_cost_with_extra(const struct price *p, int64_t margin_bps, const struct pricing_tokens *t,
					    int64_t extra_raw, int64_t *cost_micros)
{
	const __int128 limit = (__int128)INT64_MAX * cost_divisor;
	__int128 base = 0;
	if (!args_valid(p, margin_bps, t, cost_micros))
		return PRICING_INVALID;
	int64_t uncached = t->input_tokens - t->cached_input_tokens - t->cache_write_input_tokens;
	assert(uncached >= 0);	/* args_valid */
	if (add_term(&base, uncached, p->input_micros_per_mtok, limit) != 0 ||
	    add_term(&base, t->cached_input_tokens, p->cached_input_micros_per_mtok, limit) != 0 ||
	    add_term(&base, t->cache_write_input_tokens, p->cache_write_micros_per_mtok, limit) != 0 ||
	    add_term(&base, t->output_tokens, p->output_micros_per_mtok, limit) != 0)
		return PRICING_OVERFLOW;
	base += extra_raw;	/* |extra_raw| < 2^63: no wrap in 128 bits */
	if (base < 0)
		return PRICING_INVALID;
	if (margin_bps == 0) {
		*cost_micros = 0;
		return PRICING_OK;
	}
	if (base > limit / margin_bps)
		return PRICING_OVERFLOW;
	*cost_micros = (int64_t)((base * margin_bps + cost_divisor - 1) / cost_divisor);
	assert(*cost_micros >= 0);
	return PRICING_OK;
}

/* The price of dimension d, or `standard` (and d's bit in *unpriced)
 * when p does not price it. */
static int64_t dim_or(const struct price *p, enum price_dim d, int64_t standard, uint64_t *unpriced)
{
	int64_t v;
	assert(unpriced != NULL);
	assert(d < PRICE_DIM_COUNT);
	if (pricing_dim_get(p, d, &v))
		return v;
	*unpriced |= (uint64_t)1 << d;
	return standard;
}

/* Adds (price - standard) × tokens to *acc, in 128 bits. */
static void add_diff(__int128 *acc, int64_t tokens, int64_t price, int64_t standard)
{
	/* A count (or one less a part of it) of at most 2^40 (pricing_dims_extra): no wrap. */
	assert(tokens >= 0);
	assert(tokens <= (int64_t)1 << 40);
	*acc += (__int128)tokens * ((__int128)price - standard);
}

int pricing_long_context(const struct price *p, int64_t input_tokens)
{
	int64_t threshold;
	assert(p != NULL);
	int in_tier = pricing_dim_get(p, PRICE_DIM_TIER_THRESHOLD, &threshold) && input_tokens > threshold;
	assert(in_tier == 0 || in_tier == 1);
	return in_tier;
}

/* ceil(x × num / den) into *out (x, num, den >= 0); den 0 (a free
 * standard price) gives the dearer of x and num. -1 past int64. */
static int scaled(int64_t x, int64_t num, int64_t den, int64_t *out)
{
	assert(out != NULL);
	if (den == 0) {
		*out = x > num ? x : num;
		assert(*out >= x);
		assert(*out >= num);
		return 0;
	}
	__int128 v = ((__int128)x * num + den - 1) / den;
	if (v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

enum pricing_status pricing_long_row(const struct price *p, struct price *out, uint64_t *unpriced)
{
	/* Each dimension scaled, and the price it is scaled by: the input's
	 * ratio for input prices, the output's for output ones, the cache
	 * write's for the 1-hour write. */
	static const struct { enum price_dim d; int by; } scale[] = {
		{PRICE_DIM_PRIORITY_INPUT, 0}, {PRICE_DIM_PRIORITY_CACHED_INPUT, 0}, {PRICE_DIM_FLEX_INPUT, 0},
		{PRICE_DIM_FLEX_CACHED_INPUT, 0}, {PRICE_DIM_PRIORITY_OUTPUT, 1}, {PRICE_DIM_FLEX_OUTPUT, 1},
		{PRICE_DIM_CACHE_WRITE_1H, 2}};
	int64_t in, v;
	assert(out != p);
	assert(unpriced != NULL);
	*out = *p;
	if (!pricing_dim_get(p, PRICE_DIM_TIER_INPUT, &in)) {
		*unpriced |= (uint64_t)1 << PRICE_DIM_TIER_INPUT;
		return PRICING_OK;
	}
	const int64_t std_in = p->input_micros_per_mtok;
	int64_t tier[3] = {in, 0, 0};	/* input, output, cache write at the tier */
	if ((!pricing_dim_get(p, PRICE_DIM_TIER_OUTPUT, &tier[1]) && scaled(p->output_micros_per_mtok, in, std_in, &tier[1]) != 0) ||
	    (!pricing_dim_get(p, PRICE_DIM_TIER_CACHE_WRITE, &tier[2]) &&
	     scaled(p->cache_write_micros_per_mtok, in, std_in, &tier[2]) != 0))
		return PRICING_OVERFLOW;
	const int64_t standard[3] = {std_in, p->output_micros_per_mtok, p->cache_write_micros_per_mtok};
	if (!pricing_dim_get(p, PRICE_DIM_TIER_CACHED_INPUT, &out->cached_input_micros_per_mtok) &&
	    scaled(p->cached_input_micros_per_mtok, in, std_in, &out->cached_input_micros_per_mtok) != 0)
		return PRICING_OVERFLOW;
	out->input_micros_per_mtok = tier[0];
	out->output_micros_per_mtok = tier[1];
	out->cache_write_micros_per_mtok = tier[2];
	for (size_t i = 0; i < sizeof(scale) / sizeof(scale[0]); i++) {
		if (!pricing_dim_get(p, scale[i].d, &v))
			continue;
		if (scaled(v, tier[scale[i].by], standard[scale[i].by], &v) != 0)
			return PRICING_OVERFLOW;
		pricing_dim_put(out, scale[i].d, v);
	}
	/* The tier is applied: its prices are the row's now. */
	static const enum price_dim tier_dims[] = {PRICE_DIM_TIER_THRESHOLD, PRICE_DIM_TIER_INPUT, PRICE_DIM_TIER_OUTPUT,
						   PRICE_DIM_TIER_CACHED_INPUT, PRICE_DIM_TIER_CACHE_WRITE};
	for (size_t i = 0; i < sizeof(tier_dims) / sizeof(tier_dims[0]); i++)
		pricing_dim_put(out, tier_dims[i], -1);
	assert(out->input_micros_per_mtok == in);
	assert(!pricing_long_context(out, INT64_MAX));	/* no tier left to apply twice */
	return PRICING_OK;
}

enum pricing_status pricing_dims_extra(const struct price *p, const struct pricing_tokens *t,
				       const struct pricing_dims_usage *d, int64_t *extra_raw, uint64_t *unpriced)
{
	int64_t zero = 0;
	assert(unpriced != NULL);
	assert(extra_raw != NULL);
	*unpriced = 0;
	if (!args_valid(p, 0, t, &zero) || d->cache_write_1h_tokens < 0 || d->audio_input_tokens < 0 ||
	    d->audio_output_tokens < 0 || d->web_search_calls < 0)
		return PRICING_INVALID;
	/* Counts of at most 2^40 (10^12 tokens or calls, far past any call):
	 * each term then stays below 2^105, and their sum in 128 bits never
	 * wraps; a larger count is no call's (PRICING_OVERFLOW). */
	const int64_t most = (int64_t)1 << 40;
	if (t->input_tokens > most || t->output_tokens > most || d->web_search_calls > most)
		return PRICING_OVERFLOW;
	int64_t uncached = t->input_tokens - t->cached_input_tokens - t->cache_write_input_tokens;
	if (d->cache_write_1h_tokens > t->cache_write_input_tokens || d->audio_input_tokens > uncached ||
	    d->audio_output_tokens > t->output_tokens)
		return PRICING_INVALID;
	assert(uncached >= 0);	/* args_valid */
	/* The long-context tier's row, then the service tier's prices on it,
	 * each the row's standard one where it has none. */
	struct price q = *p;
	if (d->long_context) {
		enum pricing_status st = pricing_long_row(p, &q, unpriced);
		if (st != PRICING_OK)
			return st;
	}
	int64_t in = q.input_micros_per_mtok, cached = q.cached_input_micros_per_mtok;
	int64_t out = q.output_micros_per_mtok;
	if (d->tier == PRICING_TIER_PRIORITY) {
		in = dim_or(&q, PRICE_DIM_PRIORITY_INPUT, in, unpriced);
		cached = dim_or(&q, PRICE_DIM_PRIORITY_CACHED_INPUT, cached, unpriced);
		out = dim_or(&q, PRICE_DIM_PRIORITY_OUTPUT, out, unpriced);
	} else if (d->tier == PRICING_TIER_FLEX) {
		in = dim_or(&q, PRICE_DIM_FLEX_INPUT, in, unpriced);
		cached = dim_or(&q, PRICE_DIM_FLEX_CACHED_INPUT, cached, unpriced);
		out = dim_or(&q, PRICE_DIM_FLEX_OUTPUT, out, unpriced);
	}
	__int128 x = 0;
	add_diff(&x, uncached - d->audio_input_tokens, in, p->input_micros_per_mtok);
	add_diff(&x, t->cached_input_tokens, cached, p->cached_input_micros_per_mtok);
	add_diff(&x, t->cache_write_input_tokens - d->cache_write_1h_tokens, q.cache_write_micros_per_mtok,
		 p->cache_write_micros_per_mtok);
	add_diff(&x, t->output_tokens - d->audio_output_tokens, out, p->output_micros_per_mtok);
	if (d->audio_input_tokens > 0)
		add_diff(&x, d->audio_input_tokens, dim_or(&q, PRICE_DIM_INPUT_AUDIO, in, unpriced),
			 p->input_micros_per_mtok);
	if (d->audio_output_tokens > 0)
		add_diff(&x, d->audio_output_tokens, dim_or(&q, PRICE_DIM_OUTPUT_AUDIO, out, unpriced),
			 p->output_micros_per_mtok);
	if (d->cache_write_1h_tokens > 0)
		add_diff(&x, d->cache_write_1h_tokens,
			 dim_or(&q, PRICE_DIM_CACHE_WRITE_1H, q.cache_write_micros_per_mtok, unpriced),
			 p->cache_write_micros_per_mtok);
	if (d->web_search_calls > 0)
		x += (__int128)d->web_search_calls * pricing_search_fee(p, d->web_search_size, unpriced) * 1000000;
	if (x > INT64_MAX || x < -INT64_MAX)
		return PRICING_OVERFLOW;
	*extra_raw = (int64_t)x;
	return PRICING_OK;
}

const char *pricing_blame(const struct price *p, const struct pricing_tokens *t, const char *out_field)
{
	/* The input's three token counts sum to at most input_tokens (the
	 * cost was priced, so they are valid), each price is below 2^63: the
	 * input's terms together stay below 2^126, as the output's does, and
	 * nothing can wrap in 128 bits. */
	assert(p != NULL);
	assert(out_field != NULL);
	__int128 in = (__int128)(t->input_tokens - t->cached_input_tokens - t->cache_write_input_tokens) *
			      p->input_micros_per_mtok +
		      (__int128)t->cached_input_tokens * p->cached_input_micros_per_mtok +
		      (__int128)t->cache_write_input_tokens * p->cache_write_micros_per_mtok;
	__int128 out = (__int128)t->output_tokens * p->output_micros_per_mtok;
	return out >= in ? out_field : "input_tokens";
}

__attribute__((format(printf, 3, 4)))
static void set_err(char *errbuf, size_t errcap, const char *fmt, ...)
{
	va_list ap;

	assert(fmt != NULL);
	if (errbuf == NULL || errcap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errcap, fmt, ap);
	va_end(ap);
	assert(strlen(errbuf) < errcap);	/* the sentence fits, cut if it must */
}

static int is_blank(char c)
{
	int blank = c == ' ' || c == '\t';
	assert(blank == 0 || blank == 1);
	assert(!blank || c != '\0');	/* never the end of the text */
	return blank;
}

static struct field trim(const char *s, size_t len)
{
	struct field f;

	assert(s != NULL);
	assert(memchr(s, '\0', len) == NULL);	/* len is within the text */
	while (len > 0 && is_blank(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	f.s = s;
	f.len = len;
	return f;
}

/* The length of line without one trailing "\n" or "\r\n". */
static size_t line_length(const char *line)
{
	size_t len = strlen(line);

	if (len > 0 && line[len - 1] == '\n') {
		len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
	}
	/* Where the text or its one line end begins. */
	assert(line[len] == '\0' || line[len] == '\n' || line[len] == '\r');
	assert(memchr(line, '\0', len) == NULL);
	return len;
}

/* Splits line[0, len) at commas, storing at most max trimmed fields in out.
 * Returns the real field count, which may exceed max. */
static size_t split_fields(const char *line, size_t len, struct field *out, size_t max)
{
	size_t n = 0;
	size_t start = 0;
	size_t i;

	assert(out != NULL);
	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != ',')
			continue;
		if (n < max)
			out[n] = trim(line + start, i - start);
		n++;
		start = i + 1;
	}
	assert(n >= 1);	/* a line is one field at least */
	return n;
}

static int field_is(const struct field *f, const char *word)
{
	assert(f != NULL);
	assert(word != NULL);
	return f->len == strlen(word) && memcmp(f->s, word, f->len) == 0;
}

/* Parses a field that must be digits only and fit in int64. */
static int parse_amount(const struct field *f, int index, const char *what, int64_t *out,
			char *errbuf, size_t errcap)
{
	int64_t v = 0;
	size_t i;

	assert(index >= 2);
	assert(index <= ROW_FIELDS_MAX);
	if (f->len == 0) {
		set_err(errbuf, errcap, "field %d (%s) is empty", index, what);
		return -1;
	}
	for (i = 0; i < f->len; i++) {
		if (f->s[i] < '0' || f->s[i] > '9') {
			set_err(errbuf, errcap, "field %d (%s) is not a non-negative integer",
				index, what);
			return -1;
		}
	}
	for (i = 0; i < f->len; i++) {
		int d = f->s[i] - '0';

		if (v > (INT64_MAX - d) / 10) {
			set_err(errbuf, errcap, "field %d (%s) is too large (the limit is %" PRId64 ")",
				index, what, INT64_MAX);
			return -1;
		}
		v = v * 10 + d;
	}
	assert(v >= 0);
	*out = v;
	return 0;
}

static int name_char_ok(char c)
{
	int good = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		   (c != '\0' && strchr("._:/-", c) != NULL);
	assert(!good || c != ',');	/* never the field separator */
	assert(!good || !is_blank(c));	/* nor a blank trim takes off */
	return good;
}

int pricing_name_valid(const char *name)
{
	assert(name != NULL);
	size_t len = strlen(name);
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(name[i]))
			return 0;
	assert(strchr(name, ',') == NULL);	/* fits a CSV row as one field */
	return len >= 1 && len <= PRICING_NAME_MAX;
}

/* Parses field 2, the model or action name, into row->name. */
static int parse_name(const struct field *f, struct price_row *row, char *errbuf, size_t errcap)
{
	size_t i;

	assert(row != NULL);
	if (f->len == 0) {
		set_err(errbuf, errcap, "field 2 (name) is empty");
		return -1;
	}
	if (f->len > PRICING_NAME_MAX) {
		set_err(errbuf, errcap, "field 2 (name) is longer than %d characters",
			PRICING_NAME_MAX);
		return -1;
	}
	for (i = 0; i < f->len; i++) {
		if (!name_char_ok(f->s[i])) {
			set_err(errbuf, errcap, "field 2 (name) has a character outside "
				"[A-Za-z0-9._:/-] at position %zu", i + 1);
			return -1;
		}
	}
	memcpy(row->name, f->s, f->len);
	row->name[f->len] = '\0';
	assert(strlen(row->name) == f->len);	/* no NUL inside: the whole name */
	return 0;
}

static int parse_model(const struct field *f, size_t n, struct price_row *row,
		       char *errbuf, size_t errcap)
{
	static const char *const what[5] = { "input", "cached_input", "output",
					     "max_output_tokens", "cache_write" };
	int64_t *dest[5] = { &row->price.input_micros_per_mtok,
			     &row->price.cached_input_micros_per_mtok,
			     &row->price.output_micros_per_mtok, &row->price.max_output_tokens,
			     &row->price.cache_write_micros_per_mtok };
	size_t i;

	if (n != 6 && n != 7) {
		set_err(errbuf, errcap, "a model row has 6 or 7 fields "
			"(model,NAME,INPUT,CACHED_INPUT,OUTPUT,MAX_OUTPUT_TOKENS[,CACHE_WRITE]), this one has %zu", n);
		return -1;
	}
	assert(n <= ROW_FIELDS_MAX);	/* f[i + 2] below is one split_fields stored */
	if (parse_name(&f[1], row, errbuf, errcap) != 0)
		return -1;
	for (i = 0; i + 2 < n; i++) {
		if (parse_amount(&f[i + 2], (int)i + 3, what[i], dest[i], errbuf, errcap) != 0)
			return -1;
	}
	if (row->price.max_output_tokens < 1) {
		set_err(errbuf, errcap, "field 6 (max_output_tokens) must be at least 1");
		return -1;
	}
	/* docs/api.md, "Costs": a model listed without one writes its cache at the
	 * input price. */
	if (n == 6)
		row->price.cache_write_micros_per_mtok = row->price.input_micros_per_mtok;
	assert(row->price.cache_write_micros_per_mtok >= 0);
	row->kind = PRICE_ROW_MODEL;
	return 0;
}

static int parse_action(const struct field *f, size_t n, struct price_row *row,
			char *errbuf, size_t errcap)
{
	assert(field_is(&f[0], "action"));
	if (n != 3) {
		set_err(errbuf, errcap, "an action row has 3 fields (action,NAME,PRICE_MICROS), "
			"this one has %zu", n);
		return -1;
	}
	if (parse_name(&f[1], row, errbuf, errcap) != 0)
		return -1;
	if (parse_amount(&f[2], 3, "price_micros", &row->price_micros, errbuf, errcap) != 0)
		return -1;
	assert(row->price_micros >= 0);
	row->kind = PRICE_ROW_ACTION;
	return 0;
}

static int parse_margin(const struct field *f, size_t n, struct price_row *row,
			char *errbuf, size_t errcap)
{
	assert(field_is(&f[0], "margin"));
	if (n != 2) {
		set_err(errbuf, errcap, "a margin row has 2 fields (margin,BPS), this one has %zu", n);
		return -1;
	}
	if (parse_amount(&f[1], 2, "bps", &row->margin_bps, errbuf, errcap) != 0)
		return -1;
	if (row->margin_bps < 1 || row->margin_bps > 1000000) {
		set_err(errbuf, errcap, "field 2 (bps) must be between 1 and 1000000");
		return -1;
	}
	assert(row->name[0] == '\0');	/* a margin names nothing */
	row->kind = PRICE_ROW_MARGIN;
	return 0;
}

int pricing_model_row(const char *name, const int64_t v[5], struct price_row *row, char *errbuf, size_t errcap)
{
	char line[PRICING_NAME_MAX * 2 + 128], cache_write[32] = "";
	assert(name != NULL);
	if (strchr(name, ',') != NULL || strlen(name) > PRICING_NAME_MAX * 2) {
		set_err(errbuf, errcap, strchr(name, ',') != NULL ? "a model name has no comma" : "a model name too long");
		return -1;
	}
	if (v[4] != PRICING_NO_CACHE_WRITE)
		snprintf(cache_write, sizeof(cache_write), ",%" PRId64, v[4]);
	int len = snprintf(line, sizeof(line), "model,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "%s", name, v[0],
			   v[1], v[2], v[3], cache_write);
	assert(len > 0);
	assert((size_t)len < sizeof(line));	/* 128 of name, five int64: never cut */
	return pricing_parse_row(line, row, errbuf, errcap);
}

int pricing_media_row(const char *name, struct price_row *row, char *errbuf, size_t errcap)
{
	assert(name != NULL);
	assert(row != NULL);
	memset(row, 0, sizeof(*row));
	if (!pricing_name_valid(name)) {
		snprintf(errbuf, errcap, "a model name of creditd is 1 to %d characters of [A-Za-z0-9._:/-]",
			 PRICING_NAME_MAX);
		return -1;
	}
	row->kind = PRICE_ROW_MODEL;
	memcpy(row->name, name, strlen(name) + 1);
	row->price.dims.no_tokens = 1;
	assert(!pricing_prices_tokens(&row->price));
	return 0;
}

/* Reports an unknown field 1, quoting it only when it is short and printable. */
static void unknown_kind(const struct field *f, char *errbuf, size_t errcap)
{
	size_t i;
	int quote = f->len > 0 && f->len <= 32;

	assert(!field_is(f, "model"));
	assert(!field_is(f, "action"));
	for (i = 0; quote && i < f->len; i++)
		quote = f->s[i] >= 0x20 && f->s[i] < 0x7f;
	if (quote)
		set_err(errbuf, errcap, "field 1 (kind) '%.*s' is not model, action or margin",
			(int)f->len, f->s);
	else
		set_err(errbuf, errcap, "field 1 (kind) is not model, action or margin");
}

static int parse_fields(const struct field *f, size_t n, struct price_row *row,
			char *errbuf, size_t errcap)
{
	assert(n >= 1);			/* split_fields: f[0] is one */
	assert(row->kind == PRICE_ROW_SKIP);	/* as the memset left it */
	if (field_is(&f[0], "model"))
		return parse_model(f, n, row, errbuf, errcap);
	if (field_is(&f[0], "action"))
		return parse_action(f, n, row, errbuf, errcap);
	if (field_is(&f[0], "margin"))
		return parse_margin(f, n, row, errbuf, errcap);
	unknown_kind(&f[0], errbuf, errcap);
	return -1;
}

int pricing_parse_row(const char *line, struct price_row *row, char *errbuf, size_t errcap)
{
	struct field f[ROW_FIELDS_MAX];
	struct field whole;
	size_t len;
	size_t n;
	int rc;

	set_err(errbuf, errcap, "%s", "");
	if (line == NULL || row == NULL) {
		set_err(errbuf, errcap, "no line or no row to parse into");
		return -1;
	}
	memset(row, 0, sizeof *row);
	len = line_length(line);
	whole = trim(line, len);
	if (whole.len == 0 || whole.s[0] == '#')
		return 0;	/* PRICE_ROW_SKIP, set by the memset */
	n = split_fields(line, len, f, ROW_FIELDS_MAX);
	rc = parse_fields(f, n, row, errbuf, errcap);
	if (rc != 0)
		memset(row, 0, sizeof *row);	/* never hand back half a row */
	assert(rc == 0 || row->kind == PRICE_ROW_SKIP);
	assert(rc != 0 || row->kind != PRICE_ROW_SKIP);
	return rc;
}

int pricing_decimal_scaled(const char *text, int shift, int64_t *out)
{
	/* digits: the significant digits without the point; exp10: where the
	 * point is, as a power of ten applied to them. */
	unsigned __int128 digits = 0;
	int exp10 = shift, seen = 0, after_point = 0;
	const char *p = text;
	assert(out != NULL);
	assert(shift >= -400);	/* with the exponent's ±400, exp10 stays far inside int */
	assert(shift <= 400);
	if (p == NULL || *p == '-')
		return -1;
	if (*p == '+')
		p++;
	for (; *p != '\0'; p++) {
		if (*p == '.' && !after_point) {
			after_point = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		seen = 1;
		if (digits > (unsigned __int128)INT64_MAX * 1000)
			return -1;		/* far too many digits */
		digits = digits * 10 + (unsigned)(*p - '0');
		if (after_point)
			exp10--;
	}
	if (!seen)
		return -1;
	if (*p == 'e' || *p == 'E') {
		char *end;
		long e = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end != '\0' || e < -400 || e > 400)
			return -1;
		exp10 += (int)e;
	} else if (*p != '\0') {
		return -1;
	}
	for (; exp10 > 0; exp10--) {
		digits *= 10;
		if (digits > (unsigned __int128)INT64_MAX)
			return -1;
	}
	for (; exp10 < 0; exp10++) {
		if (digits % 10 != 0)
			return -1;		/* a fraction of the unit is left */
		digits /= 10;
	}
	if (digits > (unsigned __int128)INT64_MAX)
		return -1;
	*out = (int64_t)digits;
	return 0;
}

/* (now - was) / was > max_pct / 100, without dividing; a price that was
 * 0 rises above any percentage when it becomes more. */
static int rises(int64_t was, int64_t now, int64_t max_pct)
{
	assert(max_pct >= 0);		/* creditctl's --max-increase-pct */
	assert(max_pct <= 1000000);
	return now > was && (__int128)(now - was) * 100 > (__int128)max_pct * was;
}

int pricing_rise_above(const struct price *was, const struct price *now, int64_t max_pct, const char **field,
		       int64_t *old_v, int64_t *new_v)
{
	assert(was != NULL);
	assert(now != NULL);
	const char *names[] = {"input", "cached_input", "output", "cache_write"};
	const int64_t olds[] = {was->input_micros_per_mtok, was->cached_input_micros_per_mtok,
				was->output_micros_per_mtok, was->cache_write_micros_per_mtok};
	const int64_t news[] = {now->input_micros_per_mtok, now->cached_input_micros_per_mtok,
				now->output_micros_per_mtok, now->cache_write_micros_per_mtok};
	for (int i = 0; i < 4 && !was->dims.no_tokens && !now->dims.no_tokens; i++) {
		if (rises(olds[i], news[i], max_pct)) {
			*field = names[i];
			*old_v = olds[i];
			*new_v = news[i];
			return 1;
		}
	}
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		int64_t o, n;
		if (pricing_dim_is_money(d) && pricing_dim_get(was, d, &o) && pricing_dim_get(now, d, &n) &&
		    rises(o, n, max_pct)) {
			*field = pricing_dim_name(d);
			*old_v = o;
			*new_v = n;
			return 1;
		}
	}
	return 0;
}

