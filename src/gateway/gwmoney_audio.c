/* gwmoney_audio.c: the audio routes' money decision (gwmoney_audio.h;
 * docs/gateway.md, "Audio and speech"). */
#include "gwmoney_audio.h"
#include "pricing_audio.h"
#include <stdio.h>
#include <string.h>

/* Appends a clause to c's why ("; " between), cut to fit; flags it. */
static void flag(struct gw_charge *c, const char *clause)
{
	size_t len = strlen(c->why);
	c->over_hold = 1;
	if (len + 3 < sizeof(c->why))
		snprintf(c->why + len, sizeof(c->why) - len, "%s%s", len > 0 ? "; " : "", clause);
}

int gwmoney_audio_priced(const struct gwkind_route *r, const struct price *p)
{
	if (gwkind_media(r) == GW_MEDIA_SPEECH)
		return pricing_dim_get(p, PRICE_DIM_INPUT_CHAR, NULL) ? GW_AUDIO_BY_CHARS
		       : pricing_dim_get(p, PRICE_DIM_OUTPUT_AUDIO, NULL) ? GW_AUDIO_BY_TOKENS : GW_AUDIO_NONE;
	if (gwkind_media(r) == GW_MEDIA_TRANSCRIPTION)
		return pricing_dim_get(p, PRICE_DIM_INPUT_SECOND, NULL) ? GW_AUDIO_BY_SECONDS
		       : pricing_dim_get(p, PRICE_DIM_INPUT_AUDIO, NULL) ? GW_AUDIO_BY_TOKENS : GW_AUDIO_NONE;
	return GW_AUDIO_NONE;
}

static int64_t dim_or(const struct price *p, enum price_dim d, int64_t standard)
{
	int64_t v;
	return pricing_dim_get(p, d, &v) ? v : standard;
}

static int64_t larger(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

int gwmoney_audio_hold(const struct gw_ask *ask, const struct price *p, struct price *hold_price, int64_t *fees_raw)
{
	*hold_price = *p;	/* pinned: the row; only its token prices are the worst case's */
	*fees_raw = 0;
	if (ask->media_priced == GW_AUDIO_BY_TOKENS) {
		int64_t audio_in = dim_or(p, PRICE_DIM_INPUT_AUDIO, p->input_micros_per_mtok);
		int64_t audio_out = dim_or(p, PRICE_DIM_OUTPUT_AUDIO, p->output_micros_per_mtok);
		hold_price->input_micros_per_mtok = larger(p->input_micros_per_mtok, larger(audio_in, p->cached_input_micros_per_mtok));
		hold_price->output_micros_per_mtok = larger(p->output_micros_per_mtok, audio_out);
		return 0;
	}
	enum price_dim d = ask->media_priced == GW_AUDIO_BY_CHARS ? PRICE_DIM_INPUT_CHAR : PRICE_DIM_INPUT_SECOND;
	int64_t price;
	if (ask->media_priced == GW_AUDIO_NONE || !pricing_dim_get(p, d, &price))
		return 0;
	return pricing_audio_raw(ask->media_bound, price, fees_raw) == PRICING_OK ? 0 : -1;
}

void gwmoney_audio_usage(const struct gwkind_route *r, const struct gw_ask *ask, struct gw_usage *u)
{
	if (ask->media_priced != GW_AUDIO_BY_TOKENS)
		return;
	if (gwkind_media(r) == GW_MEDIA_SPEECH)	/* every output token is audio */
		u->audio_output_tokens = u->output_tokens;
	else if (u->audio_input_tokens == 0)	/* a transcription's estimate: its input is the audio held */
		u->audio_input_tokens = u->input_tokens - u->cached_input_tokens - u->cache_write_tokens;
}

/* n units at p's price d added to *x; flagged when p does not price d
 * or n passes what was held. */
static enum pricing_status add_units(const struct gw_ask *ask, const struct price *p, enum price_dim d, int64_t n,
				     const char *unit, __int128 *x, struct gw_charge *c)
{
	char clause[128];
	int64_t price, raw;
	if (n == 0)
		return PRICING_OK;
	if (!pricing_dim_get(p, d, &price)) {
		snprintf(clause, sizeof(clause), "%lld %s reported, not priced: charged nothing for them", (long long)n, unit);
		flag(c, clause);
		return PRICING_OK;
	}
	enum pricing_status st = pricing_audio_raw(n, price, &raw);
	if (st != PRICING_OK)
		return st;
	*x += raw;
	if (n > ask->media_bound) {
		snprintf(clause, sizeof(clause), "%lld %s, %lld held", (long long)n, unit, (long long)ask->media_bound);
		flag(c, clause);
	}
	return PRICING_OK;
}

enum pricing_status gwmoney_audio_extra(const struct gw_ask *ask, const struct price *p, const struct gw_usage *u,
					int64_t *extra_raw, struct gw_charge *c)
{
	__int128 x = *extra_raw;
	enum pricing_status st = add_units(ask, p, PRICE_DIM_INPUT_CHAR, u->speech_chars, "characters", &x, c);
	if (st == PRICING_OK)
		st = add_units(ask, p, PRICE_DIM_INPUT_SECOND, u->audio_ms, "ms of audio", &x, c);
	if (st != PRICING_OK)
		return st;
	if (x > INT64_MAX || x < -INT64_MAX)
		return PRICING_OVERFLOW;
	*extra_raw = (int64_t)x;
	c->usage.speech_chars = u->speech_chars;
	c->usage.audio_ms = u->audio_ms;
	return PRICING_OK;
}
