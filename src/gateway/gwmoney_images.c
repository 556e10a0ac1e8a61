/* gwmoney_images.c: the charge of an image call (gwmoney_images.h;
 * docs/gateway.md, "Images"). Pure: the pricing is src/money's
 * (pricing_image.h). */
#include "gwmoney_images.h"
#include "pricing_image.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends a clause to c->why ("; " between), as gwmoney.c does. */
static void say(struct gw_charge *c, const char *clause)
{
	size_t len = strlen(c->why);
	if (len + 3 >= sizeof(c->why))
		return;
	snprintf(c->why + len, sizeof(c->why) - len, "%s%s", len > 0 ? "; " : "", clause);
}

/* The combo the answer made, at the prices of providers[at] (the try
 * that answered): the dearest there of those held that agree with what
 * it says (its "size" "WxH", its "quality"); an answer that says neither,
 * or something no combo held has, is the dearest there of all held. */
static const struct gw_image_combo *answered(const struct gw_images_ask *a, int at, const struct gw_images_usage *iu)
{
	char size[2 * GW_IMAGE_WORD_BYTES + 8];
	const struct gw_image_combo *best = NULL;
	assert(at >= 0 && at < LIMIT_GATEWAY_ATTEMPTS_MAX);	/* a try's index */
	for (int pass = 0; pass < 2 && best == NULL; pass++)
		for (size_t i = 0; i < a->ncombos; i++) {
			const struct gw_image_combo *k = &a->combos[i];
			snprintf(size, sizeof(size), "%lldx%lld", (long long)k->width, (long long)k->height);
			if (pass == 0 && ((iu->size[0] == '\0' && iu->quality[0] == '\0') ||
					  (iu->size[0] != '\0' && strcmp(size, iu->size) != 0) ||
					  (iu->quality[0] != '\0' && strcmp(k->quality, iu->quality) != 0)))
				continue;
			if (best == NULL || k->raw_at[at] > best->raw_at[at] ||
			    (k->raw_at[at] == best->raw_at[at] && k->tokens > best->tokens))
				best = k;
		}
	return best;
}

static int64_t made_of(const struct gw_ask *ask, const struct gw_usage *u)
{
	return u->img.answered ? u->img.made : ask->img.n;
}

void gwmoney_images_usage(const struct gw_ask *ask, int at, int64_t hold_input, const struct gw_usage *u,
			  struct gw_usage *out)
{
	const struct gw_images_ask *a = &ask->img;
	*out = *u;
	if (a->basis != PRICING_IMAGE_TOKENS) {
		out->input_tokens = out->cached_input_tokens = out->cache_write_tokens = out->output_tokens = 0;
		out->unknown_tokens = out->unknown_input_part = out->unknown_output_part = out->total_tokens = 0;
		out->img.image_input_tokens = out->img.image_output_tokens = 0;
		return;
	}
	if (u->img.usage)
		return;
	const struct gw_image_combo *k = answered(a, at, &u->img);
	int64_t per = k != NULL ? k->tokens : 0, made = made_of(ask, u);
	out->input_tokens = hold_input;
	out->cached_input_tokens = out->cache_write_tokens = 0;
	/* made ≤ LIMIT_GATEWAY_ANSWER_BYTES entries, per ≤ 6,240: no wrap. */
	out->output_tokens = made > LIMIT_TOKENS_MAX / (per > 0 ? per : 1) ? LIMIT_TOKENS_MAX : made * per;
	out->total_tokens = 0;
	out->img.image_input_tokens = a->input_image_tokens < hold_input ? a->input_image_tokens : hold_input;
	out->img.image_output_tokens = out->output_tokens;
}

int gwmoney_images_own(const struct gw_ask *ask, int at, const struct gw_usage *u)
{
	const struct gw_image_combo *k = answered(&ask->img, at, &u->img);
	return k != NULL && k->own_at[at];
}

enum pricing_status gwmoney_images(const struct gw_ask *ask, int at, const struct price *p, const struct gw_usage *u,
				   int64_t *extra_raw, struct gw_charge *c)
{
	const struct gw_images_ask *a = &ask->img;
	const struct gw_image_combo *k = answered(a, at, &u->img);
	int64_t made = made_of(ask, u), add = 0;
	char clause[128];
	enum pricing_status st;
	if (made > a->n) {
		snprintf(clause, sizeof(clause), "%lld images made, %lld asked", (long long)made, (long long)a->n);
		say(c, clause);
		c->over_hold = 1;
	}
	if (a->basis == PRICING_IMAGE_TOKENS) {
		int64_t held = k != NULL ? a->n * a->combos[a->held].tokens : 0;
		if (u->img.image_output_tokens > held) {
			snprintf(clause, sizeof(clause), "image output %lld tokens above the %lld held",
				 (long long)u->img.image_output_tokens, (long long)held);
			say(c, clause);
			c->over_hold = 1;
		}
		/* A media row prices no text output: every output token at
		 * the image price, never 0 (docs/decisions.md, "A media row
		 * prices no token"). */
		int64_t out = pricing_prices_tokens(p) ? u->img.image_output_tokens : u->output_tokens;
		st = pricing_image_tokens_extra(p, u->img.image_input_tokens, out, &add);
	} else if (k == NULL) {
		return made == 0 ? PRICING_OK : PRICING_INVALID;
	} else {
		st = pricing_image_times(k->raw_at[at], made, &add);
	}
	if (st != PRICING_OK)
		return st;
	if ((add > 0 && *extra_raw > INT64_MAX - add) || (add < 0 && *extra_raw < INT64_MIN - add))
		return PRICING_OVERFLOW;
	*extra_raw += add;
	return PRICING_OK;
}
