/* pricing_catalogue.h: one model of a LiteLLM-shaped price catalogue.
 *
 * LiteLLM's model_prices_and_context_window.json is an object of models,
 * each an object of prices per token (or per query, per second, ...) in
 * currency units, and facts about the model. This reads one entry into a
 * price row, converted exactly (a per-token price times 10^12 is micros
 * per million tokens, in the deployment's unit, 1:1), and names every
 * billing key of it that creditd does not apply, so that creditctl price
 * import reports it instead of dropping it. Pure: no I/O, no allocation;
 * jansson values in, a row and borrowed key names out. */
#ifndef CREDITD_PRICING_CATALOGUE_H
#define CREDITD_PRICING_CATALOGUE_H
#include "pricing.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Billing keys of one entry named as not applied: more is a catalogue
 * creditd does not understand, and the entry is skipped. */
#define PRICING_UNAPPLIED_MAX 64

struct pricing_entry {
	struct price_row row;		/* a PRICE_ROW_MODEL when the entry is taken */
	char why[200];			/* why it is skipped, a sentence; "" when taken */
	/* The entry's billing keys creditd does not apply, in the entry's
	 * order: borrowed from the entry, they live as long as it does. */
	const char *unapplied[PRICING_UNAPPLIED_MAX];
	size_t n_unapplied;
};

/* Reads the catalogue's entry called name into *out. 0: a model creditd
 * prices (out->row, out->unapplied); 1: skipped, out->why saying why (not
 * an object, LiteLLM's sample_spec, no per-token input or output price
 * on a model that is not a media one, a price finer than one micro in its
 * column's unit, no integer max_output_tokens or max_tokens, a name
 * creditd does not take, ...). An entry of LiteLLM's modes
 * image_generation, audio_transcription or audio_speech without both
 * token prices, and every moderation entry, is a media row
 * (row.price.no_tokens; docs/decisions.md, "A media row prices no
 * token"): priced by its media keys (and its prompt's text by
 * input_cost_per_token where given: dims.text_input), input_cost_per_pixel and
 * output_cost_per_pixel (micros per 10^9 pixels), input_ and
 * output_cost_per_image_token, output_cost_per_image (and, of
 * image_generation, input_cost_per_image: LiteLLM's name for an image
 * made), input_ and output_cost_per_second (micros per 1,000 seconds),
 * input_cost_per_character (micros per million); a moderation row
 * prices nothing (free), any other media row at least one of them. An
 * entry of a media mode with token prices reads them as well.
 * What is read (docs/creditctl.md): input_cost_per_token,
 * output_cost_per_token, cache_read_input_token_cost (else the input
 * price), cache_creation_input_token_cost (else the input price),
 * max_output_tokens (else max_tokens), and the optional dimensions of
 * pricing.h: max_input_tokens, supports_reasoning,
 * cache_creation_input_token_cost_above_1hr, the long-context tier
 * (input_cost_per_token_above_<N>_tokens, the lowest N if several, and
 * the output_, cache_read_ and cache_creation_ keys of the same N), the
 * service tiers (input_cost_per_token_priority, output_..., 
 * cache_read_input_token_cost_priority, the same with _flex),
 * search_context_cost_per_query (the highest of its sizes, a fee a call)
 * and input_/output_cost_per_audio_token. */
int pricing_catalogue_entry(const char *name, const json_t *entry, struct pricing_entry *out);

/* The token threshold a key names after stem:
 * ("input_cost_per_token_above_200k_tokens", "input_cost_per_token_above_")
 * gives 200000. Digits, then k (thousands) or m (millions) or nothing,
 * then "_tokens" and the end. 0 with *tokens, or -1 when key is not
 * stem and that, or the number is 0 or too large. */
int pricing_catalogue_tier_threshold(const char *key, const char *stem, int64_t *tokens);

/* 1 when a catalogue's key is one a provider bills by: its name holds
 * "cost", "pric" or "multiplier", or it is provider_specific_entry
 * holding a number (LiteLLM's price factors, as "fast": 6.0). */
int pricing_catalogue_billing_key(const char *key, const json_t *value);
#endif
