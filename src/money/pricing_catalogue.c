/* pricing_catalogue.c: one model of a LiteLLM-shaped catalogue read into
 * a price row (see pricing_catalogue.h).
 *
 * Never guesses: a price is converted exactly from its decimal text or
 * the entry is skipped with the reason, and a billing key this file does
 * not apply is named, never dropped. No I/O, no allocation. */
#include "pricing_catalogue.h"
#include "jsonio.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Keys read into the row's four prices. */
static const char *const base_keys[] = {"input_cost_per_token", "cache_read_input_token_cost",
					"output_cost_per_token", "cache_creation_input_token_cost"};

struct dim_key {
	const char *key;
	enum price_dim dim;
};

/* Keys read whole into one dimension, per token. */
static const struct dim_key dim_keys[] = {
	{"cache_creation_input_token_cost_above_1hr", PRICE_DIM_CACHE_WRITE_1H},
	{"input_cost_per_token_priority", PRICE_DIM_PRIORITY_INPUT},
	{"output_cost_per_token_priority", PRICE_DIM_PRIORITY_OUTPUT},
	{"cache_read_input_token_cost_priority", PRICE_DIM_PRIORITY_CACHED_INPUT},
	{"input_cost_per_token_flex", PRICE_DIM_FLEX_INPUT},
	{"output_cost_per_token_flex", PRICE_DIM_FLEX_OUTPUT},
	{"cache_read_input_token_cost_flex", PRICE_DIM_FLEX_CACHED_INPUT},
	{"input_cost_per_audio_token", PRICE_DIM_INPUT_AUDIO},
	{"output_cost_per_audio_token", PRICE_DIM_OUTPUT_AUDIO},
	/* The Batch API's prices (docs/gateway.md, "Batches"). */
	{"input_cost_per_token_batches", PRICE_DIM_BATCH_INPUT},
	{"output_cost_per_token_batches", PRICE_DIM_BATCH_OUTPUT},
};

/* The long-context tier: stem + "<N>_tokens". The input's key sets N. */
static const struct dim_key tier_stems[] = {
	{"input_cost_per_token_above_", PRICE_DIM_TIER_INPUT},
	{"output_cost_per_token_above_", PRICE_DIM_TIER_OUTPUT},
	{"cache_read_input_token_cost_above_", PRICE_DIM_TIER_CACHED_INPUT},
	{"cache_creation_input_token_cost_above_", PRICE_DIM_TIER_CACHE_WRITE},
};

#define WEB_SEARCH_KEY "search_context_cost_per_query"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* LiteLLM's modes of the media routes (docs/gateway.md, "Images, audio
 * and speech"): an entry of one of them may be priced by its media keys
 * alone, as a media row (no_tokens). */
enum media_mode { MODE_OTHER = 0, MODE_IMAGE, MODE_TRANSCRIPTION, MODE_SPEECH, MODE_MODERATION };
static const char *const media_modes[] = {NULL, "image_generation", "audio_transcription", "audio_speech",
					  "moderation"};

/* The media keys of an entry of a media mode, each scaled to its
 * column's unit (10^shift: per pixel 15 is micros per 10^9 pixels, per
 * second 9 micros per 1,000 seconds, per character or token 12 micros
 * per million, per image 6 micros). An entry of another mode (chat:
 * Vertex's per-character and per-image prices of a prompt) names them
 * as not applied. */
struct media_key {
	const char *key;
	enum price_dim dim;
	int shift;
	const char *unit;	/* as a refusal names it */
};
static const struct media_key media_keys[] = {
	{"input_cost_per_pixel", PRICE_DIM_INPUT_PIXEL, 15, "10^9 pixels"},
	{"output_cost_per_pixel", PRICE_DIM_OUTPUT_PIXEL, 15, "10^9 pixels"},
	{"input_cost_per_image_token", PRICE_DIM_INPUT_IMAGE, 12, "million image tokens"},
	{"output_cost_per_image_token", PRICE_DIM_OUTPUT_IMAGE, 12, "million image tokens"},
	{"output_cost_per_image", PRICE_DIM_OUTPUT_PER_IMAGE, 6, "image"},
	/* LiteLLM's name for an image made on OpenAI's image models
	 * (dall-e-3, gpt-image-1's sizes): image_generation only. */
	{"input_cost_per_image", PRICE_DIM_OUTPUT_PER_IMAGE, 6, "image"},
	{"input_cost_per_second", PRICE_DIM_INPUT_SECOND, 9, "1,000 seconds"},
	{"output_cost_per_second", PRICE_DIM_OUTPUT_SECOND, 9, "1,000 seconds"},
	{"input_cost_per_character", PRICE_DIM_INPUT_CHAR, 12, "million characters"},
};
#define IMAGE_MADE_AS_INPUT 5	/* media_keys' input_cost_per_image */

__attribute__((format(printf, 2, 3)))
static int skip(struct pricing_entry *out, const char *fmt, ...)
{
	va_list ap;
	assert(out != NULL);
	assert(fmt != NULL);
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	assert(strlen(out->why) < sizeof(out->why));	/* the reason fits, cut if it must */
	return 1;
}

int pricing_catalogue_tier_threshold(const char *key, const char *stem, int64_t *tokens)
{
	assert(key != NULL);
	assert(stem != NULL);
	assert(tokens != NULL);
	size_t n = strlen(stem);
	int64_t v = 0, scale = 1;
	const char *p = key + n;
	if (strncmp(key, stem, n) != 0 || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (*p == 'k' || *p == 'K')
		scale = 1000;
	else if (*p == 'm' || *p == 'M')
		scale = 1000000;
	p += scale != 1;
	if (strcmp(p, "_tokens") != 0 || v == 0 || v > INT64_MAX / scale)
		return -1;
	*tokens = v * scale;
	assert(*tokens >= 1);	/* a threshold of at least one token */
	return 0;
}

int pricing_catalogue_billing_key(const char *key, const json_t *value)
{
	const char *member;
	json_t *v;
	assert(key != NULL);
	if (strstr(key, "cost") != NULL || strstr(key, "pric") != NULL || strstr(key, "multiplier") != NULL)
		return 1;
	if (strcmp(key, "provider_specific_entry") == 0 && json_is_object(value))
		json_object_foreach((json_t *)value, member, v)
			if (json_is_number(v))
				return 1;
	assert(strstr(key, "cost") == NULL);	/* a key not billed by names no cost */
	return 0;
}

/* A price given per unit, times 10^shift: per token (12) is micros per
 * million tokens, per call (6) micros, per second (9) micros per 1,000
 * seconds, per pixel (15) micros per 10^9 pixels. -1 when it is not a
 * number, is negative, or finer than that. */
static int price_of(const json_t *v, int shift, int64_t *out)
{
	char num[64];
	assert(out != NULL);
	assert(shift == 6 || shift == 9 || shift == 12 || shift == 15);	/* the units of pricing.h */
	int rc = jsonio_number_text(v, num, sizeof(num)) == 0 ? pricing_decimal_scaled(num, shift, out) : -1;
	assert(rc != 0 || *out >= 0);		/* a price is never below 0 */
	return rc;
}

/* The row's four prices and max output, checked as a CSV line is: a
 * name of [A-Za-z0-9._:/-], 64 at most; every amount whole micros. */
static int read_base(const char *name, const json_t *e, struct pricing_entry *out)
{
	int64_t v[4];
	assert(name != NULL);
	assert(json_is_object(e));	/* pricing_catalogue_entry's check */
	int has_write = json_object_get(e, base_keys[3]) != NULL;
	char line[512], cache_write[32] = "", err[160];
	for (size_t k = 0; k < COUNT(base_keys); k++) {
		const json_t *f = json_object_get(e, base_keys[k]);
		if (f == NULL && k != 2)
			f = json_object_get(e, base_keys[0]);	/* no cache price: the input price */
		if (price_of(f, 12, &v[k]) != 0)
			return skip(out, "%s is not a price in whole micros per million tokens", base_keys[k]);
	}
	const json_t *m = json_object_get(e, "max_output_tokens");
	if (m == NULL)
		m = json_object_get(e, "max_tokens");
	if (!json_is_integer(m) || json_integer_value(m) < 1)
		return skip(out, "max_output_tokens (or max_tokens) is not an integer of at least 1");
	if (has_write)
		snprintf(cache_write, sizeof(cache_write), ",%" PRId64, v[3]);
	if (!pricing_name_valid(name))
		return skip(out, "a model name of creditd is 1 to %d characters of [A-Za-z0-9._:/-]", PRICING_NAME_MAX);
	int len = snprintf(line, sizeof(line), "model,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" JSON_INTEGER_FORMAT "%s",
			   name, v[0], v[1], v[2], json_integer_value(m), cache_write);
	assert(len > 0);
	assert((size_t)len < sizeof(line));	/* a name of 64 at most and five int64: never cut */
	if (pricing_parse_row(line, &out->row, err, sizeof(err)) != 0)
		return skip(out, "%s", err);
	assert(out->row.kind == PRICE_ROW_MODEL);
	return 0;
}

/* The lowest N of the entry's input_cost_per_token_above_<N>_tokens, or
 * 0 when it has none. */
static int64_t tier_of(const json_t *e)
{
	const char *key;
	json_t *v;
	int64_t n, lowest = 0;
	assert(json_is_object(e));
	json_object_foreach((json_t *)e, key, v)
		if (pricing_catalogue_tier_threshold(key, tier_stems[0].key, &n) == 0 && (lowest == 0 || n < lowest))
			lowest = n;
	assert(lowest >= 0);	/* 0: none, else a threshold of at least one token */
	return lowest;
}

/* The dimension key prices, or -1 when creditd does not apply it (with
 * the entry's tier threshold, 0 for none). */
static int dim_of(const char *key, int64_t tier)
{
	int64_t n;
	assert(key != NULL);
	assert(tier >= 0);	/* tier_of's */
	for (size_t i = 0; i < COUNT(dim_keys); i++)
		if (strcmp(key, dim_keys[i].key) == 0)
			return (int)dim_keys[i].dim;
	for (size_t i = 0; i < COUNT(tier_stems) && tier != 0; i++)
		if (pricing_catalogue_tier_threshold(key, tier_stems[i].key, &n) == 0 && n == tier)
			return (int)tier_stems[i].dim;
	if (strcmp(key, WEB_SEARCH_KEY) == 0)
		return PRICE_DIM_WEB_SEARCH;
	return -1;
}

/* The fee a call of search_context_cost_per_query: the highest of its
 * sizes (low, medium, high), as the dearest a call may be billed. */
static int web_search_fee(const json_t *v, int64_t *micros)
{
	const char *size;
	json_t *price;
	int64_t each;
	assert(micros != NULL);
	*micros = -1;
	if (!json_is_object(v) || json_object_size(v) == 0)
		return -1;
	json_object_foreach((json_t *)v, size, price) {
		if (price_of(price, 6, &each) != 0)
			return -1;
		if (each > *micros)
			*micros = each;
	}
	assert(*micros >= 0);	/* one size at least, each priced */
	return 0;
}

/* The sizes' own fees of search_context_cost_per_query, where it gives
 * them (a search asked at a size is charged its fee). */
static int web_search_sizes(const json_t *v, struct pricing_entry *out)
{
	static const struct dim_key sizes[] = {{"search_context_size_low", PRICE_DIM_WEB_SEARCH_LOW},
					       {"search_context_size_medium", PRICE_DIM_WEB_SEARCH_MEDIUM}};
	int64_t each;
	for (size_t i = 0; i < COUNT(sizes); i++) {
		const json_t *fee = json_object_get(v, sizes[i].key);
		if (fee == NULL)
			continue;
		if (price_of(fee, 6, &each) != 0)
			return -1;
		pricing_dim_put(&out->row.price, sizes[i].dim, each);
	}
	return 0;
}

/* LiteLLM's provider_specific_entry: the multipliers of a call's prices
 * creditd applies ("fast": Anthropic's speed, "us": its inference_geo),
 * in basis points. 1 when it holds a number creditd does not apply (the
 * key is then named as not applied), 0, or -1 when a multiplier is not
 * one (a number of at most four decimals, at most 100). */
static int multipliers(const json_t *v, struct pricing_entry *out)
{
	static const struct dim_key known[] = {{"fast", PRICE_DIM_FAST_MULTIPLIER}, {"us", PRICE_DIM_GEO_US_MULTIPLIER}};
	const char *key;
	json_t *m;
	char num[64];
	int64_t bps;
	int other = 0;
	json_object_foreach((json_t *)v, key, m) {
		size_t i = 0;
		while (i < COUNT(known) && strcmp(key, known[i].key) != 0)
			i++;
		if (i == COUNT(known)) {
			other |= json_is_number(m);
			continue;
		}
		if (jsonio_number_text(m, num, sizeof(num)) != 0 || pricing_decimal_scaled(num, 4, &bps) != 0 ||
		    !pricing_dim_valid(known[i].dim, bps))
			return -1;
		pricing_dim_put(&out->row.price, known[i].dim, bps);
	}
	return other;
}

/* The entry's mode, when it is one of the media routes'. */
static enum media_mode mode_of(const json_t *e)
{
	const char *mode = json_string_value(json_object_get(e, "mode"));
	for (size_t i = 1; i < COUNT(media_modes) && mode != NULL; i++)
		if (strcmp(mode, media_modes[i]) == 0)
			return (enum media_mode)i;
	return MODE_OTHER;
}

/* The media key key of an entry of mode, or NULL: input_cost_per_image
 * is one of image_generation alone; no key is of another mode. */
static const struct media_key *media_key_of(const char *key, enum media_mode mode)
{
	assert(strcmp(media_keys[IMAGE_MADE_AS_INPUT].key, "input_cost_per_image") == 0);
	for (size_t i = 0; i < COUNT(media_keys) && mode != MODE_OTHER; i++)
		if (strcmp(key, media_keys[i].key) == 0)
			return i == IMAGE_MADE_AS_INPUT && mode != MODE_IMAGE ? NULL : &media_keys[i];
	return NULL;
}

/* A media row (docs/decisions.md, "A media row prices no token"): the
 * name checked as a CSV line's is, no token price but its prompt's text
 * where the entry gives input_cost_per_token (gpt-image-1's: then
 * cache_read_input_token_cost, else the input price, and
 * cache_creation_input_token_cost, else the input price; a moderation
 * model's are not read: it is free), dimensions to come. */
static int read_media(const char *name, const json_t *e, enum media_mode mode, struct pricing_entry *out)
{
	static const size_t text[] = {0, 1, 3};	/* base_keys: input, cache read, cache write */
	int64_t v[3];
	assert(name != NULL);
	if (pricing_media_row(name, &out->row, out->why, sizeof(out->why)) != 0)
		return 1;
	if (json_object_get(e, base_keys[0]) == NULL || mode == MODE_MODERATION)
		return 0;	/* no text price, or free */
	for (size_t k = 0; k < COUNT(text); k++) {
		const json_t *f = json_object_get(e, base_keys[text[k]]);
		if (price_of(f != NULL ? f : json_object_get(e, base_keys[0]), 12, &v[k]) != 0)
			return skip(out, "%s is not a price in whole micros per million tokens", base_keys[text[k]]);
	}
	out->row.price.input_micros_per_mtok = v[0];
	out->row.price.cached_input_micros_per_mtok = v[1];
	out->row.price.cache_write_micros_per_mtok = v[2];
	out->row.price.dims.text_input = 1;
	assert(pricing_prices_text_input(&out->row.price) && !pricing_prices_tokens(&out->row.price));
	return 0;
}

/* 1 when a media row prices what a media route bills: pixels, image
 * tokens, an image made, seconds, characters or audio tokens. */
static int prices_media(const struct price *p)
{
	static const enum price_dim media[] = {PRICE_DIM_INPUT_PIXEL, PRICE_DIM_OUTPUT_PIXEL, PRICE_DIM_INPUT_IMAGE,
		PRICE_DIM_OUTPUT_IMAGE, PRICE_DIM_OUTPUT_PER_IMAGE, PRICE_DIM_INPUT_SECOND, PRICE_DIM_OUTPUT_SECOND,
		PRICE_DIM_INPUT_CHAR, PRICE_DIM_INPUT_AUDIO, PRICE_DIM_OUTPUT_AUDIO};
	for (size_t i = 0; i < COUNT(media); i++)
		if (pricing_dim_get(p, media[i], NULL))
			return 1;
	return 0;
}

/* A media key's price into its dimension: 0, or 1 (skipped) when it is
 * not whole micros in the column's unit, or when an image made is priced
 * twice (input_cost_per_image and output_cost_per_image). */
static int read_media_key(const struct media_key *mk, const json_t *value, struct pricing_entry *out)
{
	int64_t v;
	if (price_of(value, mk->shift, &v) != 0)
		return skip(out, "%s is not a price in whole micros per %s", mk->key, mk->unit);
	if (pricing_dim_get(&out->row.price, mk->dim, NULL))
		return skip(out, "input_cost_per_image and output_cost_per_image both price an image made");
	pricing_dim_put(&out->row.price, mk->dim, v);
	return 0;
}

/* The dimensions that are facts, not prices: a context window, whether
 * the model reasons. */
static int read_facts(const json_t *e, struct pricing_entry *out)
{
	assert(json_is_object(e));
	assert(out != NULL);
	const json_t *window = json_object_get(e, "max_input_tokens"), *reasons = json_object_get(e, "supports_reasoning");
	if (window != NULL && (!json_is_integer(window) || json_integer_value(window) < 0))
		return skip(out, "max_input_tokens is not an integer");
	if (reasons != NULL && !json_is_boolean(reasons))
		return skip(out, "supports_reasoning is not true or false");
	if (window != NULL)
		pricing_dim_put(&out->row.price, PRICE_DIM_MAX_INPUT_TOKENS, (int64_t)json_integer_value(window));
	if (reasons != NULL)
		pricing_dim_put(&out->row.price, PRICE_DIM_REASONING, json_is_true(reasons));
	return 0;
}

/* A billing key read_dims neither reads nor names: one of the base keys
 * of a row with token prices (read already), a text price of a media row
 * pricing its prompt's text (read already), and a moderation model's
 * token price of 0 (its row is free: docs/decisions.md). */
static int read_already(const char *key, const json_t *value, enum media_mode mode, int tokens, const struct price *p)
{
	int base = 0;
	int64_t v;
	for (size_t i = 0; i < COUNT(base_keys); i++)
		base |= strcmp(key, base_keys[i]) == 0;
	if (base && p->dims.text_input && strcmp(key, base_keys[2]) != 0)
		return 1;
	return base && (tokens || (mode == MODE_MODERATION && price_of(value, 12, &v) == 0 && v == 0));
}

/* Every billing key of the entry: a dimension it prices, read; one of
 * the base keys, read already (a row with token prices); any other,
 * named as not applied. */
static int read_dims(const json_t *e, enum media_mode mode, int tokens, struct pricing_entry *out)
{
	assert(out != NULL);
	assert(out->n_unapplied == 0);	/* read once, after read_base and read_facts */
	int64_t tier = tier_of(e), v;
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)e, key, value) {
		const struct media_key *mk = media_key_of(key, mode);
		if (mk != NULL) {
			if (read_media_key(mk, value, out) != 0)
				return 1;
			continue;
		}
		int d = dim_of(key, tier), bad;
		if (d < 0 && strcmp(key, "provider_specific_entry") == 0 && json_is_object(value)) {
			bad = multipliers(value, out);
			if (bad < 0)
				return skip(out, "provider_specific_entry: a multiplier is not a number of at most four "
					    "decimals in 0.0001..100");
			if (bad == 0)
				continue;
		}
		if (d < 0) {
			if (read_already(key, value, mode, tokens, &out->row.price) ||
			    !pricing_catalogue_billing_key(key, value))
				continue;
			if (out->n_unapplied == PRICING_UNAPPLIED_MAX)
				return skip(out, "more than %d billing keys creditd does not apply", PRICING_UNAPPLIED_MAX);
			assert(out->n_unapplied < PRICING_UNAPPLIED_MAX);
			out->unapplied[out->n_unapplied++] = key;
			continue;
		}
		bad = d == PRICE_DIM_WEB_SEARCH ? web_search_fee(value, &v) || web_search_sizes(value, out)
						: price_of(value, 12, &v);
		if (bad != 0)
			return skip(out, "%s is not a price in whole micros per %s", key,
				    d == PRICE_DIM_WEB_SEARCH ? "call, for each size" : "million tokens");
		pricing_dim_put(&out->row.price, d, v);
	}
	if (tier != 0)
		pricing_dim_put(&out->row.price, PRICE_DIM_TIER_THRESHOLD, tier);
	return 0;
}

int pricing_catalogue_entry(const char *name, const json_t *entry, struct pricing_entry *out)
{
	assert(name != NULL);
	assert(out != NULL);
	memset(out, 0, sizeof(*out));
	if (strcmp(name, "sample_spec") == 0)
		return skip(out, "LiteLLM's description of its fields, not a model");
	if (!json_is_object(entry))
		return skip(out, "not an object");
	/* Priced per token, as every model before the media rows; an entry
	 * of a media mode without both token prices (and every moderation
	 * model: free) is a media row (docs/decisions.md, "A media row
	 * prices no token"). */
	enum media_mode mode = mode_of(entry);
	int tokens = json_object_get(entry, base_keys[0]) != NULL && json_object_get(entry, base_keys[2]) != NULL &&
		     mode != MODE_MODERATION;
	if (!tokens && mode == MODE_OTHER)
		return skip(out, "%s is missing: not priced per token",
			    json_object_get(entry, base_keys[0]) == NULL ? base_keys[0] : base_keys[2]);
	if ((tokens ? read_base(name, entry, out) : read_media(name, entry, mode, out)) != 0 || read_facts(entry, out) != 0 ||
	    read_dims(entry, mode, tokens, out) != 0 ||
	    (!tokens && mode != MODE_MODERATION && !prices_media(&out->row.price) &&
	     skip(out, "an %s model with no price creditd applies", media_modes[mode]))) {
		out->row = (struct price_row){0};
		out->n_unapplied = 0;
		return 1;
	}
	assert(out->row.kind == PRICE_ROW_MODEL);	/* taken: a model's row, */
	assert(out->why[0] == '\0');			/* with no reason to skip it */
	return 0;
}
