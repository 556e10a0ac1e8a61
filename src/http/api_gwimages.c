/* api_gwimages.c: an image route's call priced and its hold figured
 * (docs/gateway.md, "Images"), on the worker's thread: the rows that
 * price it found (the model's own when it prices image tokens; else for
 * each size × quality the call may be answered at, QUALITY/WxH/MODEL, then
 * WxH/MODEL, then MODEL, LiteLLM's names), the dearest of them held for
 * each of the n images asked, or the call refused naming the member whose
 * price is missing; then each provider the call may try priced at its own
 * rows where it has them (docs/gateway.md, "Which price a call is
 * charged"), the hold at the dearest of them and each try charged at its
 * provider's. The hold is then authorized as any gateway call's
 * (api_gwhold.c). Never SQL, never FastCGI, never curl. */
#include "api.h"
#include "api_gwhold.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "ledger.h"
#include "limits_gateway.h"
#include "pricing.h"
#include "pricing_image.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

/* The names of combo k of model (NULL: the model's own row alone), most
 * specific first: QUALITY/W-x-H/MODEL, W-x-H/MODEL, MODEL. Their count.
 * The reference's models are priced by size and quality: dall-e-3 at its
 * QUALITY/W-x-H row alone, dall-e-2 (one quality) at its W-x-H row too,
 * never at a row of the model alone (LiteLLM's "dall-e-3" prices a
 * standard 1024x1024 image: an hd or larger one would be charged it). */
static int names_of(const char *model, const struct gw_image_combo *k, char names[3][2 * LIMIT_NAME_BYTES])
{
	int n = 0, family = gwkind_images_family(model);
	if (k != NULL && k->quality[0] != '\0' && k->width > 0)
		snprintf(names[n++], sizeof(names[0]), "%s/%lld-x-%lld/%s", k->quality, (long long)k->width,
			 (long long)k->height, model);
	if (k != NULL && k->width > 0 && family != GW_IMAGE_DALLE3)
		snprintf(names[n++], sizeof(names[0]), "%lld-x-%lld/%s", (long long)k->width, (long long)k->height, model);
	if (k == NULL || family == GW_IMAGE_OTHER)
		snprintf(names[n++], sizeof(names[0]), "%s", model);
	return n;
}

/* The first of combo k's names the price cache has: 1 with its row. The
 * cache only: a call whose rows are all there never waits for a reload
 * (api_gw_images_hold_of waits once, for a row it lacks). */
static int row_of(const char *model, const struct gw_image_combo *k, struct price *p, int64_t *margin)
{
	char names[3][2 * LIMIT_NAME_BYTES];
	int n = names_of(model, k, names);
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) <= LIMIT_NAME_BYTES && pricing_name_valid(names[i]) &&
		    ledger_price_model(names[i], p, margin))
			return 1;
	return 0;
}

/* A row combo k lacks, priced a moment ago: one reload waited for (the
 * price cache's miss rule, at most LIMIT_PRICE_MISS_RELOADS a
 * LIMIT_PRICE_MISS_RELOAD_MS process-wide). */
static void wait_for(const char *model, const struct gw_image_combo *k)
{
	char names[3][2 * LIMIT_NAME_BYTES];
	struct price p;
	int64_t margin;
	names_of(model, k, names);
	if (strlen(names[0]) <= LIMIT_NAME_BYTES && pricing_name_valid(names[0]))
		ledger_price_model_wait(names[0], &p, &margin);
}

/* 1 when the price cache has a row of model under any name an image row
 * of it may have: the model's alone, or at a size and quality the
 * providers' image models offer (LiteLLM's names, docs/gateway.md
 * "Images"). */
static int has_any_row(const char *model)
{
	static const char *const sizes[] = {"256-x-256", "512-x-512", "1024-x-1024", "1792-x-1024", "1024-x-1792",
					    "1536-x-1024", "1024-x-1536"};
	static const char *const qualities[] = {"", "standard/", "hd/", "low/", "medium/", "high/"};
	char name[2 * LIMIT_NAME_BYTES];
	struct price p;
	int64_t margin;
	if (pricing_name_valid(model) && ledger_price_model(model, &p, &margin))
		return 1;
	for (size_t q = 0; q < sizeof(qualities) / sizeof(qualities[0]); q++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			snprintf(name, sizeof(name), "%s%s/%s", qualities[q], sizes[s], model);
			if (strlen(name) <= LIMIT_NAME_BYTES && pricing_name_valid(name) &&
			    ledger_price_model(name, &p, &margin))
				return 1;
		}
	return 0;
}

/* The member a missing price is blamed on: the model when creditd has no
 * row of it at all (a model with no price is refused naming model:
 * docs/gateway.md, "The hold and the charge"), else the size or quality
 * the call named, else the model. */
static const char *blamed(const struct gw_images_ask *a, const char *model)
{
	if (a->family == GW_IMAGE_OTHER && !has_any_row(model))
		return "model";
	return a->quality[0] != '\0' && strcmp(a->quality, "auto") != 0 ? "quality"
	       : a->size[0] != '\0' && strcmp(a->size, "auto") != 0 ? "size" : "model";
}

/* A model priced by image tokens (its own general row's
 * output_image_micros_per_mtok): each combo's output tokens from the
 * published table at that row (raw), the input bound (the prompt, an
 * edit's input images); each provider's price is held_dearest's. */
static int by_tokens(struct gw_job *job, const struct price *base, struct guard_authorize *r, struct response *rs)
{
	struct gw_images_ask *a = &job->ask.img;
	if (a->family != GW_IMAGE_GPT) {
		api_error(rs, CD_E_INVALID, "model", "'%s' is priced by image tokens, and creditd has no table of the "
			  "tokens its images take: not forwarded", job->ask.model);
		return -1;
	}
	if (!pricing_prices_text_input(base)) {
		api_error(rs, CD_E_INVALID, "model", "'%s' is priced by image tokens but its row prices no text input, "
			  "which its prompt is billed as: not forwarded", job->ask.model);
		return -1;
	}
	a->held = 0;
	for (size_t i = 0; i < a->ncombos; i++) {
		if (pricing_image_tokens_raw(base, 1, a->combos[i].tokens, &a->combos[i].raw) != PRICING_OK)
			return -1;
		if (a->combos[i].raw > a->combos[a->held].raw)
			a->held = i;
	}
	a->basis = PRICING_IMAGE_TOKENS;
	a->input_image_tokens = a->input_images * LIMIT_GATEWAY_IMAGE_EDIT_TOKENS;
	r->input_tokens = job->ask.input_bound + a->input_image_tokens;
	return 0;
}

/* Models priced by pixels or by the image: each combo at its own general
 * row (the first found of its names, raw), the dearest found (held); each
 * provider's price is held_dearest's. 0; -1 with rs
 * filled; 1 (rs untouched, *missing the combo) when a combo has no row
 * and final is 0. */
static int by_images(struct gw_job *job, int final, size_t *missing, struct guard_authorize *r, int64_t *margin,
		     struct response *rs)
{
	struct gw_images_ask *a = &job->ask.img;
	struct price p;
	int64_t m;
	/* The GPT image models bill their prompt and input images by
	 * tokens, which a row per pixel or per image does not price. */
	if (a->family == GW_IMAGE_GPT && !final) {
		*missing = 0;	/* its own row may be priced a moment ago: one reload waited for */
		return 1;
	}
	if (a->family == GW_IMAGE_GPT) {
		api_error(rs, CD_E_INVALID, "model", "'%s' bills its prompt and input images by tokens: its own row must "
			  "price image tokens (output_image_micros_per_mtok): not forwarded", job->ask.model);
		return -1;
	}
	for (size_t i = 0; i < a->ncombos; i++) {
		struct gw_image_combo *k = &a->combos[i];
		int unsized = 0, found = row_of(job->ask.model, k, &p, &m);
		enum pricing_image_basis b = found ? pricing_image_basis(&p, k->width > 0, &unsized) : PRICING_IMAGE_NONE;
		if (!found && !final) {
			*missing = i;
			return 1;
		}
		if (b != PRICING_IMAGE_PIXELS && b != PRICING_IMAGE_EACH) {
			api_error(rs, CD_E_INVALID, unsized ? "size" : blamed(a, job->ask.model), "%s: no price row of '%s'%s%s%s prices "
				  "its images (per pixel, per image or by image tokens): not forwarded", unsized ?
				  "priced per pixel, the call must name its size" : "unpriced", job->ask.model,
				  k->quality[0] != '\0' ? " at quality " : "", k->quality, k->width > 0 ? " at the size asked" : "");
			return -1;
		}
		if (pricing_image_one_raw(&p, b, k->width, k->height, &k->raw) != PRICING_OK)
			return -1;
		if (i == 0 || k->raw > a->combos[a->held].raw) {
			a->held = i;
			a->basis = b;
			*margin = m;
		}
	}
	r->input_tokens = 0;
	return 0;
}

/* The first of combo k's names (names_of) that provider has a row for:
 * its own where it has one (*own 1), else the general one; the cache
 * only. A provider's own row needs the general one of its name, so the
 * name found is the one the general rows' was. 1 found, 0 not. */
static int row_at(const char *model, const struct gw_image_combo *k, const char *provider, struct price *p, int *own)
{
	char names[3][2 * LIMIT_NAME_BYTES];
	int64_t margin;
	int n = names_of(model, k, names);
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) <= LIMIT_NAME_BYTES && pricing_name_valid(names[i]) &&
		    ledger_price_model_at(names[i], provider, p, &margin, own))
			return 1;
	return 0;
}

/* Each combo's price at provider i (raw_at[i], own_at[i]) and the
 * hold's worst case there in c: by image tokens, the model's row at that
 * provider (its prompt as text, an edit's files at the dearer input
 * price); by pixels or by the image, each combo's row there, the dearest
 * pinned. A row there that does not bill the call's images as the
 * general rows do is refused naming the provider. 0, or -1 with rs filled. */
static int priced_at(struct gw_job *job, int i, struct guard_authorize *c, struct response *rs)
{
	struct gw_images_ask *a = &job->ask.img;
	const char *provider = job->providers[i]->name;
	int tokens = a->basis == PRICING_IMAGE_TOKENS, own = 0, unsized = 0;
	size_t held = 0;
	for (size_t k = 0; k < a->ncombos; k++) {
		struct gw_image_combo *ko = &a->combos[k];
		struct price p;
		enum pricing_image_basis b = PRICING_IMAGE_NONE;
		if (row_at(job->ask.model, tokens ? NULL : ko, provider, &p, &own))
			b = pricing_image_basis(&p, tokens || ko->width > 0, &unsized);
		if (tokens ? b != PRICING_IMAGE_TOKENS || !pricing_prices_text_input(&p)
			   : b != PRICING_IMAGE_PIXELS && b != PRICING_IMAGE_EACH) {
			api_error(rs, CD_E_INVALID, unsized ? "size" : "model", "the price of '%s' at provider %s does not "
				  "price its images as its general row%s does (%s): not forwarded", job->ask.model, provider,
				  tokens ? "" : "s", tokens ? "by image tokens, with text input" : unsized
				  ? "per pixel, the call must name its size" : "per pixel or per image");
			return -1;
		}
		if ((tokens ? pricing_image_tokens_raw(&p, 1, ko->tokens, &ko->raw_at[i])
			    : pricing_image_one_raw(&p, b, ko->width, ko->height, &ko->raw_at[i])) != PRICING_OK)
			return -1;
		ko->own_at[i] = (unsigned char)own;
		if (k == 0 || ko->raw_at[i] > a->combos[held].raw_at[i]) {
			held = k;
			c->price = job->prices[i] = p;
			job->price_own[i] = (unsigned char)own;
		}
	}
	c->hold_price = c->price;
	int64_t image_in;
	if (tokens && a->input_image_tokens > 0 && pricing_dim_get(&c->price, PRICE_DIM_INPUT_IMAGE, &image_in) &&
	    image_in > c->hold_price.input_micros_per_mtok)
		c->hold_price.input_micros_per_mtok = image_in;
	__int128 fees = (__int128)a->n * a->combos[held].raw_at[i];
	c->hold_fees_raw = fees > INT64_MAX ? INT64_MAX : (int64_t)fees;
	return fees > INT64_MAX || ledger_decide_hold_cost(c, 0, &c->amount_micros) != PRICING_OK ? -1 : 0;
}

/* The hold at the dearest of the providers the call may reach, each at
 * its own rows where it has them, else the general rows (docs/gateway.md,
 * "Which price a call is charged"), as the audio routes' (api_gwaudio.c):
 * job->prices[i] the row a try answered by providers[i] is pinned at, the
 * settle charging each image at the answering provider's price for it
 * (gwmoney_images.h). 0, or -1 with rs filled. */
static int held_dearest(struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	int64_t dearest = -1;
	for (int i = 0; i < job->nproviders; i++) {
		struct guard_authorize c = *r;
		if (priced_at(job, i, &c, rs) != 0 || c.amount_micros > LIMIT_AMOUNT_MICROS_MAX) {
			if (rs->status == 0)
				api_error(rs, CD_E_INVALID, "n", "the call's worst case is above the %lld micros one "
					  "operation may move", (long long)LIMIT_AMOUNT_MICROS_MAX);
			return -1;
		}
		if (c.amount_micros > dearest) {
			dearest = c.amount_micros;
			r->hold_price = c.hold_price;
			r->hold_fees_raw = c.hold_fees_raw;
			r->amount_micros = c.amount_micros;
		}
	}
	assert(dearest >= 0);	/* a call has one provider at least */
	return 0;
}

int api_gw_images_hold_of(struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	struct gw_images_ask *a = &job->ask.img;
	const char *param = "size";
	char err[256];
	if (job->route->images == GW_IMAGES_EDIT && a->family == GW_IMAGE_DALLE3) {
		api_error(rs, CD_E_INVALID, "model", "dall-e-3 makes no edits (images/edits takes dall-e-2 and the GPT image "
			  "models)");
		return -1;
	}
	if (gwkind_images_combos(a, &param, err, sizeof(err)) != 0) {
		api_error(rs, CD_E_INVALID, param, "%s", err);
		return -1;
	}
	job->hold_input = job->hold_output = 0;
	r->input_tokens = r->max_output_tokens = 0;
	r->min_output_tokens = -1;
	if (job->byok)
		return 0;
	struct price base;
	int64_t margin = 0;
	size_t missing = 0;
	int rc = 1;
	for (int pass = 0; rc == 1 && pass < 2; pass++) {
		if (pass > 0)
			wait_for(job->ask.model, &a->combos[missing]);
		rc = row_of(job->ask.model, NULL, &base, &margin) && pricing_image_basis(&base, 1, NULL) ==
		     PRICING_IMAGE_TOKENS ? by_tokens(job, &base, r, rs) : by_images(job, pass, &missing, r, &margin, rs);
	}
	if (rc != 0)
		return rs->status != 0 ? -1 : (api_error(rs, CD_E_INVALID, "n", "the call's worst case is above what one "
							 "operation may move"), -1);
	job->hold_input = r->input_tokens;
	job->margin = r->margin_bps = margin;
	r->priced = r->has_hold_price = 1;
	if (held_dearest(job, r, rs) != 0)
		return -1;
	r->price = job->price = job->prices[0];	/* pinned: the first provider's */
	return 0;
}
