/* pricing.h: the money math of creditd, as pure functions.
 *
 * Owns: the token cost formula (docs/api.md, "Costs") and the parsing of price-list
 * rows. Never does I/O, never touches floats: every amount is int64 micros
 * and every intermediate that can grow is computed in 128 bits, so that a
 * cost that does not fit in int64 is reported, never wrapped. */
#ifndef CREDITD_PRICING_H
#define CREDITD_PRICING_H
#include <stdint.h>
#include <stddef.h>

/* What a provider bills beyond the four token prices of struct price
 * (docs/gateway.md, "What is billed and how creditd prices it"), and what
 * a call's hold needs to know of the model besides. Each is optional: a
 * model's row carries it only when its price list gives it, and one it
 * does not carry is not priced (a call that needs it is refused, never
 * charged at the token price). One table names them, X(ID, field), and
 * the columns of models and price_history, the fields of GET /v1/models
 * and of a JSON price list, and creditctl's lines all come from it, in
 * its order. Units are in the names: micros per million tokens
 * (_micros_per_mtok), micros a call (_micros_per_call), tokens (_tokens);
 * reasoning is 1 or 0 (the model reasons: its output holds reasoning
 * tokens, billed as output). The long-context tier prices every token of
 * a call whose input passes tier_threshold_tokens at the tier_ prices;
 * priority_ and flex_ are the providers' service tiers. web_search_ is
 * the fee of a search at the dearest context size; web_search_low_ and
 * _medium_ the fees of those sizes where the row gives them (a search
 * asked at a size is charged that size's fee). The _multiplier_bps are
 * factors in basis points (60000: 6.0) of every token price of a call
 * that asks for them (Anthropic's speed "fast", inference_geo "us":
 * LiteLLM's provider_specific_entry). The media routes' prices (images,
 * audio, speech: docs/gateway.md, "Images, audio and speech") come last,
 * each in a unit fine enough for LiteLLM's catalogue to be exact: pixels
 * in micros per 10^9 pixels (_per_gpx: 6.539e-08 USD a pixel is 65,390,000),
 * image tokens per million (_per_mtok), an image made (_per_image), audio
 * seconds per 1,000 seconds (_per_ksec: whisper's 0.0001 USD a second is
 * 100,000) and characters of speech per million (_per_mchar: tts-1's
 * 1.5e-05 USD is 15,000,000). The Batch API's prices come last
 * (docs/gateway.md, "Batches"): batch_input_ and batch_output_ are
 * LiteLLM's *_cost_per_token_batches; batch_discount_bps is the
 * operator's discount off every token price of the row (5000: half),
 * for rows the catalogue gives no batch keys (Claude, cached input). */
#define PRICE_DIMS(X) \
	X(MAX_INPUT_TOKENS, max_input_tokens) \
	X(REASONING, reasoning) \
	X(CACHE_WRITE_1H, cache_write_1h_micros_per_mtok) \
	X(TIER_THRESHOLD, tier_threshold_tokens) \
	X(TIER_INPUT, tier_input_micros_per_mtok) \
	X(TIER_OUTPUT, tier_output_micros_per_mtok) \
	X(TIER_CACHED_INPUT, tier_cached_input_micros_per_mtok) \
	X(TIER_CACHE_WRITE, tier_cache_write_micros_per_mtok) \
	X(PRIORITY_INPUT, priority_input_micros_per_mtok) \
	X(PRIORITY_OUTPUT, priority_output_micros_per_mtok) \
	X(PRIORITY_CACHED_INPUT, priority_cached_input_micros_per_mtok) \
	X(FLEX_INPUT, flex_input_micros_per_mtok) \
	X(FLEX_OUTPUT, flex_output_micros_per_mtok) \
	X(FLEX_CACHED_INPUT, flex_cached_input_micros_per_mtok) \
	X(WEB_SEARCH, web_search_micros_per_call) \
	X(INPUT_AUDIO, input_audio_micros_per_mtok) \
	X(OUTPUT_AUDIO, output_audio_micros_per_mtok) \
	X(WEB_SEARCH_LOW, web_search_low_micros_per_call) \
	X(WEB_SEARCH_MEDIUM, web_search_medium_micros_per_call) \
	X(FAST_MULTIPLIER, fast_multiplier_bps) \
	X(GEO_US_MULTIPLIER, geo_us_multiplier_bps) \
	X(INPUT_PIXEL, input_pixel_micros_per_gpx) \
	X(OUTPUT_PIXEL, output_pixel_micros_per_gpx) \
	X(INPUT_IMAGE, input_image_micros_per_mtok) \
	X(OUTPUT_IMAGE, output_image_micros_per_mtok) \
	X(OUTPUT_PER_IMAGE, output_micros_per_image) \
	X(INPUT_SECOND, input_micros_per_ksec) \
	X(OUTPUT_SECOND, output_micros_per_ksec) \
	X(INPUT_CHAR, input_micros_per_mchar) \
	X(BATCH_INPUT, batch_input_micros_per_mtok) \
	X(BATCH_OUTPUT, batch_output_micros_per_mtok) \
	X(BATCH_DISCOUNT, batch_discount_bps)

#define PRICE_DIM_ENUM_(id, field) PRICE_DIM_##id,
enum price_dim { PRICE_DIMS(PRICE_DIM_ENUM_) PRICE_DIM_COUNT };
#undef PRICE_DIM_ENUM_
_Static_assert(PRICE_DIM_COUNT <= 64, "a dimension's bit fits in price_dims.set");

/* The optional dimensions of one model. A dimension is set (priced)
 * when its bit in `set` is: all zero, as a struct price made without
 * them (PRICING_NO_DIMS, memset, a hold's pin read from a row older than
 * them), is "none priced", never "priced 0". v[d] is 0 while d is not
 * set, so that two equal prices are equal byte for byte. */
struct price_dims {
	uint64_t set;			/* bit d: dimension d is priced */
	int64_t v[PRICE_DIM_COUNT];	/* its value, >= 0 (reasoning: 0 or 1) */
	/* 1: a media row (docs/decisions.md, "A media row prices no
	 * token"): an image, transcription, speech or moderation model
	 * priced by its dimensions alone. Its struct price's four token
	 * prices and max_output_tokens are not priced (0 there, NULL in
	 * models, null in GET /v1/models), and no token route takes it: a
	 * call there would be charged 0. 0 (every row with token prices,
	 * and every price made with PRICING_NO_DIMS): they are prices. */
	int no_tokens;
	/* On a media row, 1 when its input, cached-input and cache-write
	 * prices are priced: the text tokens of a media call's prompt
	 * (gpt-image-1's input_cost_per_token), which its route bills; still
	 * no token route takes the row. 0: NULL too. Always 0 on a row with
	 * token prices. */
	int text_input;
};
/* The initializer of a struct price's dims when none is priced. */
#define PRICING_NO_DIMS {0}

/* Prices of one model, in micros per one million tokens. */
struct price {
	int64_t input_micros_per_mtok;
	int64_t cached_input_micros_per_mtok;
	int64_t output_micros_per_mtok;
	int64_t max_output_tokens;	/* the hold's default output size */
	/* Input written to the provider's prompt cache (docs/api.md, "Costs"). Always
	 * a price here: a model listed without one has its input price, put
	 * in by whoever reads the list (pricing_parse_row, the ledger). Last,
	 * so that an initializer of the four fields before leaves it 0. */
	int64_t cache_write_micros_per_mtok;
	struct price_dims dims;		/* the optional dimensions (none: PRICING_NO_DIMS) */
};

/* The field name of dimension d ("tier_input_micros_per_mtok"), as the
 * table says; d < PRICE_DIM_COUNT. A static string. */
const char *pricing_dim_name(enum price_dim d);
/* The dimension called name, or -1. */
int pricing_dim_by_name(const char *name);
/* 1 when d is an amount of money (a rise of it is guarded by the
 * import), 0 when it is a count or a flag (max_input_tokens, reasoning,
 * tier_threshold_tokens). */
int pricing_dim_is_money(enum price_dim d);
/* 1 when v is a value d may have: >= 0; reasoning 0 or 1; a threshold
 * at least 1. */
int pricing_dim_valid(enum price_dim d, int64_t v);
/* 1 when p prices d (with *v its value when v is not NULL), 0 when not. */
int pricing_dim_get(const struct price *p, enum price_dim d, int64_t *v);
/* Prices d at v (pricing_dim_valid), or with v < 0 leaves it not
 * priced. */
void pricing_dim_put(struct price *p, enum price_dim d, int64_t v);
/* 1 when p prices tokens: a token route (chat, responses, embeddings,
 * Anthropic's messages) may hold and charge a call at it; 0 for a media
 * row (dims.no_tokens), or a row priced by a media unit (pixels, images,
 * seconds, characters, image or audio tokens) whose token prices are both 0. */
int pricing_prices_tokens(const struct price *p);
/* 1 when p's input, cached-input and cache-write prices are prices: a
 * row with token prices, or a media row pricing its prompt's text
 * (dims.text_input). */
int pricing_prices_text_input(const struct price *p);
/* 1 when a and b are the same price, every field and dimension. */
int pricing_same(const struct price *a, const struct price *b);

enum pricing_status {
	PRICING_OK = 0,		/* *cost_micros holds the answer */
	PRICING_INVALID,	/* a negative count or price, or cached + cache_write > input */
	PRICING_OVERFLOW	/* the exact cost does not fit in int64 */
};

/* The tokens of one call. input_tokens counts every input token: the
 * cached ones (read from the provider's prompt cache) and the cache-write
 * ones (written to it) too, so cached + cache_write <= input. */
struct pricing_tokens {
	int64_t input_tokens;
	int64_t cached_input_tokens;
	int64_t cache_write_input_tokens;
	int64_t output_tokens;
};

/* cost = ceil(((in - cached - cache_write)*p_in + cached*p_cached
 *              + cache_write*p_cache_write + out*p_out) * margin_bps
 *             / (10^6 * 10^4)), rounded up once, in 128 bits. Writes
 * *cost_micros only on PRICING_OK. */
enum pricing_status pricing_token_cost(const struct price *p, int64_t margin_bps, const struct pricing_tokens *t,
				       int64_t *cost_micros);

/* ---- The dimensions beyond tokens (docs/gateway.md, "What is billed") ---- */

/* The service tier a provider served (its answer's service_tier). */
enum pricing_tier { PRICING_TIER_STANDARD = 0, PRICING_TIER_PRIORITY, PRICING_TIER_FLEX };

/* What a call's usage bills beyond its token counts. Each count is a part
 * of a token count of struct pricing_tokens, never more: 1-hour cache
 * writes of cache_write_input_tokens, audio input of the uncached input,
 * audio output of the output. */
/* The context size a web search was asked at (its fee): ANY, the
 * dearest the row prices (web_search_micros_per_call). */
enum pricing_search_size { PRICING_SEARCH_ANY = 0, PRICING_SEARCH_LOW, PRICING_SEARCH_MEDIUM, PRICING_SEARCH_HIGH };

/* The fee of one web search at size (micros a call): the size's own when
 * p prices it, else the dearest one (web_search_micros_per_call); 0 with
 * *unpriced's web search bit set when p prices none. */
int64_t pricing_search_fee(const struct price *p, enum pricing_search_size size, uint64_t *unpriced);

/* p with every price a token is charged at (the four, and each
 * dimension per million tokens) times bps / 10000, rounded up: 0, or -1
 * when one passes int64 (the call is refused). bps >= 1. */
int pricing_scaled(const struct price *p, int64_t bps, struct price *out);
/* The row p as a Batch API line is held and charged at (docs/gateway.md,
 * "Batches"): the input and output prices at batch_input_ and
 * batch_output_ where the row has them (LiteLLM's
 * *_cost_per_token_batches), never above the list's; every other token
 * price with batch_discount_bps scaled by (10000 - discount) / 10000,
 * rounded up (pricing_scaled); without it, each at its side's exact
 * ratio, rounded up once: input-like ones (cached input, cache writes,
 * the tiers' inputs, audio and image input) × batch_input_ / the list
 * input, output-like ones × batch_output_ / the list output (the other
 * side's ratio where a list price is 0). 0; -1
 * when the row has neither a discount nor both batch token prices
 * (*missing names the dimension to set: nothing may be held or
 * forwarded); -2 past int64. */
int pricing_batch(const struct price *p, struct price *out, const char **missing);

struct pricing_dims_usage {
	enum pricing_tier tier;
	int64_t cache_write_1h_tokens;
	int64_t audio_input_tokens;
	int64_t audio_output_tokens;
	int64_t web_search_calls;
	int long_context;		/* in the row's long-context tier (pricing_long_context) */
	enum pricing_search_size web_search_size;	/* the searches' size, their fee */
};

/* 1 when a call of input_tokens input (every input token: cached and
 * cache writes too) is in p's long-context tier: p prices a threshold and
 * the input passes it. */
int pricing_long_context(const struct price *p, int64_t input_tokens);
/* The row a call in p's long-context tier is priced at
 * (docs/gateway.md, "The long-context tier"): *out is p with the tier's
 * prices as its standard ones, every token of the call at them. A tier price
 * the row lacks (cached input, cache write, output) is the standard one
 * scaled as the tier's input is to the standard input; the service tiers'
 * prices and the 1-hour write's are scaled the same way (as the tier's input,
 * or its cache write, is to the standard one: the providers price both as
 * multiples), rounded up to a micro per million tokens; audio keeps its
 * price. A row with a threshold and no tier input price prices no tier: *out
 * is p and the tier input's bit is set in *unpriced. PRICING_OVERFLOW when a
 * scaled price passes int64. */
enum pricing_status pricing_long_row(const struct price *p, struct price *out, uint64_t *unpriced);

/* The difference, in the formula's units before the margin (tokens ×
 * micros per million tokens; a fee a call counts 10^6 × its micros),
 * between the call's cost at every dimension d says it used and its cost
 * at p's token prices alone: the long-context tier's prices
 * (pricing_long_row) for every token of a call d says is in it, the
 * service tier's prices for every token of a tiered call, audio tokens at their prices (the tier's input or output
 * price, as the rest, when p prices no audio), 1-hour cache writes at
 * their price, web search's fee a call. A dimension d uses and p does not
 * price is charged at the standard price (the difference 0) and its bit
 * (1 << enum price_dim of the first price it lacks) set in *unpriced:
 * charged, flagged, never dropped. PRICING_INVALID for negative counts or
 * parts above their totals; PRICING_OVERFLOW past int64. */
enum pricing_status pricing_dims_extra(const struct price *p, const struct pricing_tokens *t,
				       const struct pricing_dims_usage *d, int64_t *extra_raw, uint64_t *unpriced);
/* pricing_token_cost with extra_raw (pricing_dims_extra's) added before
 * the margin: ceil((base + extra) × margin / 10^10), once. A total below
 * 0 is PRICING_INVALID (a tier's discount never takes a call below 0). */
enum pricing_status pricing_cost_with_extra(const struct price *p, int64_t margin_bps, const struct pricing_tokens *t,
					    int64_t extra_raw, int64_t *cost_micros);
/* The margin of a price without creditd's (basis points: × 1): a cost
 * before the margin (docs/api.md, margin_micros). */
#define PRICING_NO_MARGIN_BPS 10000

/* The token field a charge too large is blamed on (docs/api.md, "Money stays in range"): the
 * output's when its term, out*p_out, is at least the input's (uncached,
 * cached and cache-write together), else "input_tokens". out_field is
 * the caller's name for the output ("output_tokens", or
 * "max_output_tokens" for a hold, whose output_tokens is that). */
const char *pricing_blame(const struct price *p, const struct pricing_tokens *t, const char *out_field);

/* One parsed row of a price-list CSV file (see pricing_parse_row). */
enum price_row_kind { PRICE_ROW_SKIP = 0, PRICE_ROW_MODEL, PRICE_ROW_ACTION, PRICE_ROW_MARGIN };
#define PRICING_NAME_MAX 64
/* A provider's name as the gateway's config names it ([provider NAME]). */
#define PRICING_PROVIDER_MAX 32
struct price_row {
	enum price_row_kind kind;
	char name[PRICING_NAME_MAX + 1];	/* model or action name */
	/* A model's row for one provider (docs/gateway.md, "Which price a
	 * call is charged"); "": the model's general row. */
	char provider[PRICING_PROVIDER_MAX + 1];
	struct price price;			/* PRICE_ROW_MODEL */
	int64_t price_micros;			/* PRICE_ROW_ACTION */
	int64_t margin_bps;			/* PRICE_ROW_MARGIN */
};

/* 1 when name is a model or action name creditd takes: 1 to
 * PRICING_NAME_MAX characters of [A-Za-z0-9._:/-]. */
int pricing_name_valid(const char *name);

/* Parses one line of the price-list format (documented in docs/creditctl.md):
 *   model,NAME,INPUT,CACHED_INPUT,OUTPUT,MAX_OUTPUT_TOKENS[,CACHE_WRITE]
 *   action,NAME,PRICE_MICROS
 *   margin,BPS
 * Amounts are integer micros per 1M tokens; a model row without
 * CACHE_WRITE (every row before it existed) has its INPUT as the
 * cache-write price. Blank lines and lines starting
 * with '#' give PRICE_ROW_SKIP. The line may end in "\n" or "\r\n".
 * Returns 0 on success; -1 with a sentence in errbuf otherwise. */
int pricing_parse_row(const char *line, struct price_row *row, char *errbuf, size_t errcap);

/* A model's row from its numbers (input, cached input, output, max output
 * tokens, cache write; PRICING_NO_CACHE_WRITE: none, the input price), checked
 * as pricing_parse_row checks a line of them: 0, or -1 with a sentence in
 * errbuf (a name with a comma included). */
#define PRICING_NO_CACHE_WRITE INT64_MIN
int pricing_model_row(const char *name, const int64_t v[5], struct price_row *row, char *errbuf, size_t errcap);
/* A media row called name (docs/decisions.md, "A media row prices no
 * token"): no token price (dims.no_tokens), no dimension yet. 0, or -1
 * with a sentence in errbuf when name is not one pricing_name_valid
 * takes. */
int pricing_media_row(const char *name, struct price_row *row, char *errbuf, size_t errcap);

/* A decimal number as text ("2.5e-06", "0.000003", "3") times 10^shift,
 * exactly: 0 and *out when the result is a whole number from 0 to
 * INT64_MAX, else -1 (negative, finer than that, too large, not a
 * number). Per-token prices in currency units become micros per million
 * tokens with shift 12. */
int pricing_decimal_scaled(const char *text, int shift, int64_t *out);

/* A price change's rise beyond max_pct percent: 1 when one of input,
 * cached input, output or cache write, or a money dimension priced
 * before and after, rises by more than max_pct % of what it was (integer
 * math), with the first such field, its old and new values in *field,
 * *old_v, *new_v; 0 when none does. A dimension priced for the first
 * time is not a rise (a call that needed it was refused before), and
 * neither are token prices when either row is a media row (no_tokens:
 * they were not priced before, or are not priced after). */
int pricing_rise_above(const struct price *was, const struct price *now, int64_t max_pct, const char **field,
		       int64_t *old_v, int64_t *new_v);
#endif
