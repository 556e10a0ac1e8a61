/* test_pricing_catalogue.c: the optional dimensions of a price
 * (pricing.h PRICE_DIMS) and one entry of a LiteLLM-shaped catalogue read
 * into a price row (pricing_catalogue.h): each key to its dimension to the
 * micro, the tier's threshold from the key's name, the billing keys
 * creditd does not apply named, and entries it cannot price skipped with
 * why. The entries are LiteLLM's own (model_prices_and_context_window.json),
 * cut to the keys each case needs where it says so. */
#include "pricing.h"
#include "pricing_catalogue.h"
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int64_t dim(const struct price *p, enum price_dim d)
{
	int64_t v;
	return pricing_dim_get(p, d, &v) ? v : -1;
}

/* Reads text's one entry as name. Returns 0 or 1 as the reader does. */
static int read_one(const char *name, const char *text, struct pricing_entry *out, json_t **keep)
{
	json_error_t je;
	memset(out, 0, sizeof(*out));
	*keep = json_loads(text, JSON_DECODE_ANY, &je);
	if (*keep == NULL) {
		ok(0, "fixture parses: %s", je.text);
		return -1;
	}
	return pricing_catalogue_entry(name, *keep, out);
}

static int unapplied(const struct pricing_entry *e, const char *key)
{
	for (size_t i = 0; i < e->n_unapplied; i++)
		if (strcmp(e->unapplied[i], key) == 0)
			return 1;
	return 0;
}

static void test_dims(void)
{
	struct price p = {1, 1, 1, 1, 1, PRICING_NO_DIMS}, q;
	int set = 0;
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		set |= pricing_dim_get(&p, d, NULL);
	ok(!set, "a price made without dimensions prices none of them (not 0)");
	is_str(pricing_dim_name(PRICE_DIM_TIER_CACHE_WRITE), "tier_cache_write_micros_per_mtok", "a dimension's name");
	is_int(pricing_dim_by_name("web_search_micros_per_call"), PRICE_DIM_WEB_SEARCH, "and back");
	is_int(pricing_dim_by_name("web_search"), -1, "a name that is none");
	pricing_dim_put(&p, PRICE_DIM_FLEX_OUTPUT, 0);
	is_int(dim(&p, PRICE_DIM_FLEX_OUTPUT), 0, "priced 0 is priced");
	q = p;
	ok(pricing_same(&p, &q), "the same price");
	pricing_dim_put(&q, PRICE_DIM_FLEX_OUTPUT, -1);
	ok(!pricing_dim_get(&q, PRICE_DIM_FLEX_OUTPUT, NULL) && !pricing_same(&p, &q), "unpriced again: not the same");
	ok(pricing_dim_valid(PRICE_DIM_REASONING, 1) && !pricing_dim_valid(PRICE_DIM_REASONING, 2) &&
	   !pricing_dim_valid(PRICE_DIM_TIER_THRESHOLD, 0) && pricing_dim_valid(PRICE_DIM_TIER_INPUT, 0) &&
	   !pricing_dim_valid(PRICE_DIM_INPUT_AUDIO, -1), "what each may be");
	ok(!pricing_dim_is_money(PRICE_DIM_MAX_INPUT_TOKENS) && pricing_dim_is_money(PRICE_DIM_WEB_SEARCH),
	   "money and facts");
}

static void test_rises(void)
{
	struct price was = {1000000, 500000, 4000000, 4096, 1000000, PRICING_NO_DIMS}, now;
	const char *field = NULL;
	int64_t o = 0, n = 0;
	pricing_dim_put(&was, PRICE_DIM_TIER_INPUT, 2000000);
	pricing_dim_put(&was, PRICE_DIM_MAX_INPUT_TOKENS, 1000);
	now = was;
	pricing_dim_put(&now, PRICE_DIM_TIER_INPUT, 2400000);	/* +20 % */
	ok(!pricing_rise_above(&was, &now, 20, &field, &o, &n), "a dimension +20 %% passes at 20");
	pricing_dim_put(&now, PRICE_DIM_TIER_INPUT, 2400001);
	ok(pricing_rise_above(&was, &now, 20, &field, &o, &n) && field != NULL &&
	   strcmp(field, "tier_input_micros_per_mtok") == 0 && o == 2000000 && n == 2400001,
	   "one micro more is refused, naming the dimension");
	now = was;
	pricing_dim_put(&now, PRICE_DIM_MAX_INPUT_TOKENS, 9000000);
	pricing_dim_put(&now, PRICE_DIM_WEB_SEARCH, 50000);
	ok(!pricing_rise_above(&was, &now, 0, &field, &o, &n),
	   "a larger context window is no rise, nor a dimension priced for the first time");
}

static void test_thresholds(void)
{
	static const struct { const char *key; int64_t want; } good[] = {
		{"input_cost_per_token_above_200k_tokens", 200000}, {"input_cost_per_token_above_128k_tokens", 128000},
		{"input_cost_per_token_above_272k_tokens", 272000}, {"input_cost_per_token_above_1m_tokens", 1000000},
		{"input_cost_per_token_above_32000_tokens", 32000},
	};
	static const char *const bad[] = {
		"input_cost_per_token_above_200k_tokens_priority", "input_cost_per_token_above_k_tokens",
		"input_cost_per_token_above_0k_tokens", "input_cost_per_token_above_200x_tokens",
		"output_cost_per_token_above_200k_tokens", "input_cost_per_token_above_99999999999999999999k_tokens",
		"input_cost_per_token_above_1hr",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t n = -1;
		ok(pricing_catalogue_tier_threshold(good[i].key, "input_cost_per_token_above_", &n) == 0 && n == good[i].want,
		   "%s: %lld tokens (got %lld)", good[i].key, (long long)good[i].want, (long long)n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t n;
		ok(pricing_catalogue_tier_threshold(bad[i], "input_cost_per_token_above_", &n) != 0, "%s names no threshold", bad[i]);
	}
}

/* claude-sonnet-4-5 as LiteLLM has it. */
static const char sonnet[] = "{\"cache_creation_input_token_cost\": 3.75e-06, "
	"\"cache_creation_input_token_cost_above_1hr\": 6e-06, "
	"\"cache_creation_input_token_cost_above_1hr_above_200k_tokens\": 1.2e-05, "
	"\"cache_read_input_token_cost\": 3e-07, \"input_cost_per_token\": 3e-06, "
	"\"input_cost_per_token_above_200k_tokens\": 6e-06, \"output_cost_per_token_above_200k_tokens\": 2.25e-05, "
	"\"cache_creation_input_token_cost_above_200k_tokens\": 7.5e-06, "
	"\"cache_read_input_token_cost_above_200k_tokens\": 6e-07, \"litellm_provider\": \"anthropic\", "
	"\"max_input_tokens\": 200000, \"max_output_tokens\": 64000, \"max_tokens\": 64000, \"mode\": \"chat\", "
	"\"output_cost_per_token\": 1.5e-05, \"search_context_cost_per_query\": {\"search_context_size_high\": 0.01, "
	"\"search_context_size_low\": 0.01, \"search_context_size_medium\": 0.01}, \"supports_reasoning\": true, "
	"\"supports_prompt_caching\": true, \"prompt_cache_min_tokens\": 1024}";

static void test_anthropic_entry(void)
{
	struct pricing_entry e;
	json_t *keep;
	is_int(read_one("claude-sonnet-4-5", sonnet, &e, &keep), 0, "claude-sonnet-4-5 is taken: %s", e.why);
	const struct price *p = &e.row.price;
	ok(e.row.kind == PRICE_ROW_MODEL && strcmp(e.row.name, "claude-sonnet-4-5") == 0, "a model row of its name");
	ok(p->input_micros_per_mtok == 3000000 && p->cached_input_micros_per_mtok == 300000 &&
	   p->output_micros_per_mtok == 15000000 && p->cache_write_micros_per_mtok == 3750000 &&
	   p->max_output_tokens == 64000, "its four prices, 1:1 times 10^12, and max output");
	is_int(dim(p, PRICE_DIM_MAX_INPUT_TOKENS), 200000, "max_input_tokens");
	is_int(dim(p, PRICE_DIM_REASONING), 1, "supports_reasoning");
	is_int(dim(p, PRICE_DIM_CACHE_WRITE_1H), 6000000, "cache_creation_input_token_cost_above_1hr");
	is_int(dim(p, PRICE_DIM_TIER_THRESHOLD), 200000, "the tier's threshold, from the key's name");
	is_int(dim(p, PRICE_DIM_TIER_INPUT), 6000000, "input above 200k");
	is_int(dim(p, PRICE_DIM_TIER_OUTPUT), 22500000, "output above 200k");
	is_int(dim(p, PRICE_DIM_TIER_CACHED_INPUT), 600000, "cache reads above 200k");
	is_int(dim(p, PRICE_DIM_TIER_CACHE_WRITE), 7500000, "cache writes above 200k");
	is_int(dim(p, PRICE_DIM_WEB_SEARCH), 10000, "a search: 0.01 a call is 10000 micros");
	is_int(dim(p, PRICE_DIM_PRIORITY_INPUT), -1, "no service tier");
	is_int(dim(p, PRICE_DIM_INPUT_AUDIO), -1, "no audio");
	ok(e.n_unapplied == 1 && unapplied(&e, "cache_creation_input_token_cost_above_1hr_above_200k_tokens"),
	   "the one billing key not applied is named (%zu)", e.n_unapplied);
	json_decref(keep);
}

/* gpt-5.4 as LiteLLM has it, its capability flags cut. */
static const char gpt54[] = "{\"cache_read_input_token_cost\": 2.5e-07, "
	"\"cache_read_input_token_cost_above_272k_tokens\": 5e-07, \"cache_read_input_token_cost_flex\": 1.3e-07, "
	"\"cache_read_input_token_cost_priority\": 5e-07, \"input_cost_per_token\": 2.5e-06, "
	"\"input_cost_per_token_above_272k_tokens\": 5e-06, \"input_cost_per_token_flex\": 1.25e-06, "
	"\"input_cost_per_token_batches\": 1.25e-06, \"input_cost_per_token_priority\": 5e-06, "
	"\"litellm_provider\": \"openai\", \"max_input_tokens\": 1050000, \"max_output_tokens\": 128000, "
	"\"max_tokens\": 128000, \"mode\": \"chat\", \"output_cost_per_token\": 1.5e-05, "
	"\"output_cost_per_token_above_272k_tokens\": 2.25e-05, \"output_cost_per_token_flex\": 7.5e-06, "
	"\"output_cost_per_token_batches\": 7.5e-06, \"output_cost_per_token_priority\": 3e-05, "
	"\"regional_processing_uplift_multiplier_eu\": 1.1, \"supports_reasoning\": false}";

static void test_openai_entry(void)
{
	struct pricing_entry e;
	json_t *keep;
	is_int(read_one("gpt-5.4", gpt54, &e, &keep), 0, "gpt-5.4 is taken: %s", e.why);
	const struct price *p = &e.row.price;
	is_int(p->cache_write_micros_per_mtok, 2500000, "no cache-write price: the input price");
	is_int(dim(p, PRICE_DIM_REASONING), 0, "supports_reasoning false is 0, set");
	is_int(dim(p, PRICE_DIM_TIER_THRESHOLD), 272000, "272k");
	is_int(dim(p, PRICE_DIM_TIER_INPUT), 5000000, "input above 272k");
	is_int(dim(p, PRICE_DIM_TIER_OUTPUT), 22500000, "output above 272k");
	is_int(dim(p, PRICE_DIM_TIER_CACHED_INPUT), 500000, "cache reads above 272k");
	is_int(dim(p, PRICE_DIM_TIER_CACHE_WRITE), -1, "no cache-write tier given: none");
	is_int(dim(p, PRICE_DIM_PRIORITY_INPUT), 5000000, "priority input");
	is_int(dim(p, PRICE_DIM_PRIORITY_OUTPUT), 30000000, "priority output");
	is_int(dim(p, PRICE_DIM_PRIORITY_CACHED_INPUT), 500000, "priority cache reads");
	is_int(dim(p, PRICE_DIM_FLEX_INPUT), 1250000, "flex input");
	is_int(dim(p, PRICE_DIM_FLEX_OUTPUT), 7500000, "flex output");
	is_int(dim(p, PRICE_DIM_FLEX_CACHED_INPUT), 130000, "flex cache reads");
	is_int(dim(p, PRICE_DIM_CACHE_WRITE_1H), -1, "no 1-hour writes");
	is_int(dim(p, PRICE_DIM_BATCH_INPUT), 1250000, "batch input (the Batch API's)");
	is_int(dim(p, PRICE_DIM_BATCH_OUTPUT), 7500000, "batch output");
	is_int(dim(p, PRICE_DIM_BATCH_DISCOUNT), -1, "no discount: the catalogue has none");
	ok(e.n_unapplied == 1 && unapplied(&e, "regional_processing_uplift_multiplier_eu"),
	   "the regional uplift is named, not applied (%zu)", e.n_unapplied);
	json_decref(keep);
}

static void test_search_and_audio(void)
{
	struct pricing_entry e;
	json_t *keep;
	/* gpt-4o-search-preview: the highest size is the fee. */
	is_int(read_one("gpt-4o-search-preview", "{\"input_cost_per_token\": 2.5e-06, \"output_cost_per_token\": 1e-05, "
			"\"max_output_tokens\": 16384, \"search_context_cost_per_query\": {\"search_context_size_high\": 0.05, "
			"\"search_context_size_low\": 0.03, \"search_context_size_medium\": 0.035}}", &e, &keep), 0, "taken");
	is_int(dim(&e.row.price, PRICE_DIM_WEB_SEARCH), 50000, "search_context_size_high, 0.05 a call");
	is_int(e.row.price.cached_input_micros_per_mtok, 2500000, "no cache price: the input price");
	json_decref(keep);
	/* gpt-4o-audio-preview. */
	is_int(read_one("gpt-4o-audio-preview", "{\"input_cost_per_audio_token\": 4e-05, \"input_cost_per_token\": 2.5e-06, "
			"\"max_output_tokens\": 16384, \"output_cost_per_audio_token\": 8e-05, "
			"\"output_cost_per_token\": 1e-05, \"supports_audio_input\": true}", &e, &keep), 0, "taken");
	is_int(dim(&e.row.price, PRICE_DIM_INPUT_AUDIO), 40000000, "audio in");
	is_int(dim(&e.row.price, PRICE_DIM_OUTPUT_AUDIO), 80000000, "audio out");
	is_int(dim(&e.row.price, PRICE_DIM_REASONING), -1, "no supports_reasoning: not known");
	is_int((int64_t)e.n_unapplied, 0, "nothing left over");
	json_decref(keep);
	/* claude-opus-4-6's price factors (fast mode: 6x). */
	is_int(read_one("claude-opus-4-6", "{\"input_cost_per_token\": 5e-06, \"output_cost_per_token\": 2.5e-05, "
			"\"max_tokens\": 128000, \"provider_specific_entry\": {\"us\": 1.1, \"fast\": 6.0}}", &e, &keep), 0,
	       "taken, max_tokens standing for max_output_tokens");
	is_int((int64_t)e.n_unapplied, 0, "its price factors applied");
	is_int(dim(&e.row.price, PRICE_DIM_FAST_MULTIPLIER), 60000, "fast: 6x in basis points");
	is_int(dim(&e.row.price, PRICE_DIM_GEO_US_MULTIPLIER), 11000, "us: 1.1x");
	json_decref(keep);
}

static void test_skipped(void)
{
	static const struct { const char *name, *text, *why; } cases[] = {
		{"sample_spec", "{\"input_cost_per_token\": 0.0, \"max_tokens\": \"LEGACY\"}", "LiteLLM's description"},
		/* A chat model priced per character (Vertex's medlm-large):
		 * not a media mode, so not a media row. */
		{"medlm-large", "{\"input_cost_per_character\": 5e-06, \"max_output_tokens\": 1024, \"mode\": \"chat\", "
				"\"output_cost_per_character\": 1.5e-05}", "input_cost_per_token is missing"},
		{"databricks/databricks-claude-3-7-sonnet", "{\"input_cost_per_token\": 2.9999900000000002e-06, "
			"\"output_cost_per_token\": 1.5000020000000002e-05, \"max_tokens\": 200000}",
		 "input_cost_per_token is not a price in whole micros"},
		{"azure/gpt-image-2", "{\"input_cost_per_token\": 5e-06, \"output_cost_per_token\": 4e-05}",
		 "max_output_tokens (or max_tokens) is not an integer"},
		{"vertex_ai/claude-3-5-sonnet@20240620", "{\"input_cost_per_token\": 3e-06, "
			"\"output_cost_per_token\": 1.5e-05, \"max_tokens\": 8192}", "a model name of creditd"},
		{"m", "{\"input_cost_per_token\": 3e-06, \"output_cost_per_token\": 1.5e-05, \"max_tokens\": 8192, "
		      "\"input_cost_per_audio_token\": \"dear\"}", "input_cost_per_audio_token is not a price"},
		{"m", "{\"input_cost_per_token\": 3e-06, \"output_cost_per_token\": 1.5e-05, \"max_tokens\": 8192, "
		      "\"search_context_cost_per_query\": 0.01}", "search_context_cost_per_query is not a price"},
		{"m", "{\"input_cost_per_token\": 3e-06, \"output_cost_per_token\": 1.5e-05, \"max_tokens\": 8192, "
		      "\"supports_reasoning\": \"yes\"}", "supports_reasoning is not true or false"},
		{"m", "5", "not an object"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pricing_entry e;
		json_t *keep;
		int rc = read_one(cases[i].name, cases[i].text, &e, &keep);
		ok(rc == 1 && strstr(e.why, cases[i].why) != NULL && e.row.kind == PRICE_ROW_SKIP && e.n_unapplied == 0,
		   "%s skipped: %s", cases[i].name, e.why);
		json_decref(keep);
	}
}

/* Media rows (docs/decisions.md, "A media row prices no token"): each
 * media key to its column's unit, exactly; no token price. */
static void test_media_entries(void)
{
	struct pricing_entry e;
	json_t *keep;
	is_int(read_one("hd/1024-x-1792/dall-e-3", "{\"input_cost_per_pixel\": 6.539e-08, \"litellm_provider\": "
			"\"openai\", \"mode\": \"image_generation\", \"output_cost_per_pixel\": 0.0}", &e, &keep), 0,
	       "a size's row of dall-e-3 taken: %s", e.why);
	ok(!pricing_prices_tokens(&e.row.price) && e.row.kind == PRICE_ROW_MODEL, "a media row: no token price");
	is_str(e.row.name, "hd/1024-x-1792/dall-e-3", "named as LiteLLM names it");
	is_int(dim(&e.row.price, PRICE_DIM_INPUT_PIXEL), 65390000, "6.539e-08 a pixel: micros per 10^9 pixels");
	ok(!pricing_prices_text_input(&e.row.price), "no text price either");
	is_int(dim(&e.row.price, PRICE_DIM_OUTPUT_PIXEL), 0, "output pixels priced 0, as the catalogue says");
	is_int(e.row.price.max_output_tokens + e.row.price.input_micros_per_mtok + e.row.price.output_micros_per_mtok, 0,
	       "token fields 0");
	is_int((int64_t)e.n_unapplied, 0, "nothing left over");
	json_decref(keep);
	is_int(read_one("high/1024-x-1024/gpt-image-1", "{\"input_cost_per_image\": 0.167, \"input_cost_per_pixel\": "
			"1.59263611e-07, \"mode\": \"image_generation\", \"output_cost_per_pixel\": 0.0}", &e, &keep), 0,
	       "taken");
	is_int(dim(&e.row.price, PRICE_DIM_OUTPUT_PER_IMAGE), 167000, "input_cost_per_image: an image made, 0.167");
	is_int(dim(&e.row.price, PRICE_DIM_INPUT_PIXEL), 159263611, "1.59263611e-07 a pixel");
	json_decref(keep);
	is_int(read_one("gpt-image-1", "{\"cache_read_input_token_cost\": 1.25e-06, \"input_cost_per_image_token\": 1e-05, "
			"\"input_cost_per_token\": 5e-06, \"mode\": \"image_generation\", \"output_cost_per_image_token\": "
			"4e-05}", &e, &keep), 0, "gpt-image-1: no output token price, a media row");
	ok(!pricing_prices_tokens(&e.row.price), "its text input price does not make it a token row");
	ok(pricing_prices_text_input(&e.row.price) && e.row.price.input_micros_per_mtok == 5000000 &&
	   e.row.price.cached_input_micros_per_mtok == 1250000 && e.row.price.cache_write_micros_per_mtok == 5000000,
	   "its prompt's text priced: input, cache read, cache write (the input price)");
	is_int(dim(&e.row.price, PRICE_DIM_INPUT_IMAGE), 10000000, "image tokens in");
	is_int(dim(&e.row.price, PRICE_DIM_OUTPUT_IMAGE), 40000000, "image tokens out");
	is_int((int64_t)e.n_unapplied, 0, "its text prices read, none left over");
	json_decref(keep);
	is_int(read_one("whisper-1", "{\"input_cost_per_second\": 0.0001, \"mode\": \"audio_transcription\", "
			"\"output_cost_per_second\": 0.0001}", &e, &keep), 0, "whisper-1 taken");
	is_int(dim(&e.row.price, PRICE_DIM_INPUT_SECOND), 100000, "0.0001 a second: micros per 1,000 seconds");
	is_int(dim(&e.row.price, PRICE_DIM_OUTPUT_SECOND), 100000, "and out");
	json_decref(keep);
	is_int(read_one("tts-1", "{\"input_cost_per_character\": 1.5e-05, \"mode\": \"audio_speech\"}", &e, &keep), 0,
	       "tts-1 taken");
	is_int(dim(&e.row.price, PRICE_DIM_INPUT_CHAR), 15000000, "1.5e-05 a character: micros per million");
	json_decref(keep);
	is_int(read_one("omni-moderation-latest", "{\"input_cost_per_token\": 0.0, \"max_input_tokens\": 32768, "
			"\"mode\": \"moderation\", \"output_cost_per_token\": 0.0}", &e, &keep), 0,
	       "a moderation model taken, free");
	ok(!pricing_prices_tokens(&e.row.price) && !pricing_prices_text_input(&e.row.price) && e.n_unapplied == 0 &&
	   dim(&e.row.price, PRICE_DIM_INPUT_CHAR) < 0, "a media row pricing nothing, its zero token prices not named");
	is_int(dim(&e.row.price, PRICE_DIM_MAX_INPUT_TOKENS), 32768, "its context window kept");
	json_decref(keep);
	/* A chat model's per-image price is a prompt's image, not one made. */
	is_int(read_one("gpt-realtime", "{\"input_cost_per_image\": 5e-06, \"input_cost_per_token\": 4e-06, "
			"\"max_output_tokens\": 4096, \"mode\": \"realtime\", \"output_cost_per_token\": 1.6e-05}",
			&e, &keep), 0, "a token row");
	ok(pricing_prices_tokens(&e.row.price) && unapplied(&e, "input_cost_per_image") &&
	   dim(&e.row.price, PRICE_DIM_OUTPUT_PER_IMAGE) < 0, "input_cost_per_image of another mode: not applied");
	json_decref(keep);
	/* A media mode with token prices: a token row, its media keys read. */
	is_int(read_one("gpt-4o-mini-tts", "{\"input_cost_per_token\": 2.5e-06, \"mode\": \"audio_speech\", "
			"\"output_cost_per_audio_token\": 1.2e-05, \"output_cost_per_second\": 0.00025, "
			"\"output_cost_per_token\": 1e-05, \"max_output_tokens\": 2000}", &e, &keep), 0, "taken");
	ok(pricing_prices_tokens(&e.row.price) && e.row.price.output_micros_per_mtok == 10000000 &&
	   dim(&e.row.price, PRICE_DIM_OUTPUT_SECOND) == 250000, "tokens and seconds");
	json_decref(keep);
}

static void test_media_refused(void)
{
	static const struct { const char *name, *text, *why; } cases[] = {
		{"m", "{\"input_cost_per_pixel\": 1.59263611e-16, \"mode\": \"image_generation\"}",
		 "input_cost_per_pixel is not a price in whole micros per 10^9 pixels"},
		{"m", "{\"input_cost_per_second\": 3.08333e-05, \"mode\": \"audio_transcription\"}",
		 "input_cost_per_second is not a price in whole micros per 1,000 seconds"},
		{"m", "{\"input_cost_per_character\": 1.5e-13, \"mode\": \"audio_speech\"}",
		 "input_cost_per_character is not a price in whole micros per million characters"},
		{"m", "{\"output_cost_per_image\": 0.0000005, \"mode\": \"image_generation\"}",
		 "output_cost_per_image is not a price in whole micros per image"},
		{"m", "{\"input_cost_per_image\": 0.04, \"output_cost_per_image\": 0.04, \"mode\": \"image_generation\"}",
		 "both price an image made"},
		{"m", "{\"input_cost_per_pixel\": -1e-08, \"mode\": \"image_generation\"}", "input_cost_per_pixel is not"},
		{"1024 x 1024/dall-e-2", "{\"input_cost_per_pixel\": 1.9e-08, \"mode\": \"image_generation\"}",
		 "a model name of creditd"},
		{"m", "{\"mode\": \"image_generation\", \"output_cost_per_image_premium_image\": 0.1}",
		 "an image_generation model with no price creditd applies"},
		{"m", "{\"mode\": \"rerank\", \"input_cost_per_query\": 0.002}", "input_cost_per_token is missing"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pricing_entry e;
		json_t *keep;
		int rc = read_one(cases[i].name, cases[i].text, &e, &keep);
		ok(rc == 1 && strstr(e.why, cases[i].why) != NULL && e.row.kind == PRICE_ROW_SKIP && e.n_unapplied == 0,
		   "%s refused: %s", cases[i].name, e.why);
		json_decref(keep);
	}
	/* A media row and a row with token prices are never the same, and a
	 * row's first token prices are no rise. */
	struct price media = {0, 0, 0, 0, 0, PRICING_NO_DIMS}, tokens = {1000, 1000, 99000000, 1, 1000, PRICING_NO_DIMS};
	const char *field = NULL;
	int64_t was, now;
	media.dims.no_tokens = 1;
	ok(!pricing_same(&media, &tokens) && pricing_prices_tokens(&tokens), "no_tokens tells them apart");
	ok(!pricing_rise_above(&media, &tokens, 20, &field, &was, &now) &&
	   !pricing_rise_above(&tokens, &media, 20, &field, &was, &now), "no rise across a media row");
	struct price_row row;
	char err[160];
	ok(pricing_media_row("low/1024-x-1536/gpt-image-1", &row, err, sizeof(err)) == 0 &&
	   !pricing_prices_tokens(&row.price) && row.kind == PRICE_ROW_MODEL, "a media row made by name");
	ok(pricing_media_row("a,b", &row, err, sizeof(err)) != 0 && strstr(err, "model name") != NULL, "a bad name refused");
}

static void test_billing_keys(void)
{
	json_t *factors = json_pack("{s:f}", "fast", 6.0), *schema = json_pack("{s:s}", "schema", "titan_v2");
	ok(pricing_catalogue_billing_key("output_cost_per_reasoning_token", NULL) &&
	   pricing_catalogue_billing_key("tiered_pricing", NULL) &&
	   pricing_catalogue_billing_key("regional_processing_uplift_multiplier_us", NULL) &&
	   pricing_catalogue_billing_key("provider_specific_entry", factors), "what bills");
	ok(!pricing_catalogue_billing_key("max_input_tokens", NULL) && !pricing_catalogue_billing_key("mode", NULL) &&
	   !pricing_catalogue_billing_key("provider_specific_entry", schema), "what does not");
	json_decref(factors);
	json_decref(schema);
}

int main(void)
{
	test_dims();
	test_rises();
	test_thresholds();
	test_anthropic_entry();
	test_openai_entry();
	test_search_and_audio();
	test_skipped();
	test_media_entries();
	test_media_refused();
	test_billing_keys();
	return done_testing();
}
