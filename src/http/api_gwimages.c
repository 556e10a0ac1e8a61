/* api_gwimages.c: an image route's call priced and its hold figured
 * (docs/gateway.md, "Images"), on the worker's thread: the rows that
 * price it found (the model's own when it prices image tokens; else for
 * each size × quality the call may be answered at, QUALITY/WxH/MODEL, then
 * WxH/MODEL, then MODEL, LiteLLM's names), the dearest of them held for
 * each of the n images asked, or the call refused naming the member whose
 * price is missing. The hold is then authorized as any gateway call's
 * (api_gwhold.c). Never SQL, never FastCGI, never curl. */
#include "api.h"
#include "api_gwhold.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "ledger.h"
#include "limits_gateway.h"
#include "pricing.h"
#include "pricing_image.h"
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

/* The member a missing price is blamed on: the size or quality the call
 * named, else the model. */
static const char *blamed(const struct gw_images_ask *a)
{
	return a->quality[0] != '\0' && strcmp(a->quality, "auto") != 0 ? "quality"
	       : a->size[0] != '\0' && strcmp(a->size, "auto") != 0 ? "size" : "model";
}

/* A model priced by image tokens (its own row's output_image_micros_per_mtok):
 * each combo's output tokens from the published table, the prompt at the
 * row's input price, an edit's input images at its input image price. */
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
	r->price = r->hold_price = *base;
	int64_t image_in;
	if (a->input_image_tokens > 0 && pricing_dim_get(base, PRICE_DIM_INPUT_IMAGE, &image_in) &&
	    image_in > r->hold_price.input_micros_per_mtok)
		r->hold_price.input_micros_per_mtok = image_in;
	return 0;
}

/* Models priced by pixels or by the image: each combo at its own row
 * (the first found of its names), pinned at the dearest's. 0; -1 with rs
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
			api_error(rs, CD_E_INVALID, unsized ? "size" : blamed(a), "%s: no price row of '%s'%s%s%s prices "
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
			r->price = p;
			*margin = m;
		}
	}
	r->hold_price = r->price;
	r->input_tokens = 0;
	return 0;
}

/* A provider's own price for any row of the call (docs/gateway.md,
 * "Which price a call is charged"): the image routes charge the general
 * rows, so a call a provider with its own price may answer is refused
 * rather than charged another price than its provider's. 0, or -1 with
 * rs filled. */
static int provider_rows(const struct gw_job *job, struct response *rs)
{
	const struct gw_images_ask *a = &job->ask.img;
	char names[3][2 * LIMIT_NAME_BYTES];
	struct price p;
	int64_t m;
	for (int i = 0; i < job->nproviders; i++)
		for (size_t c = 0; c <= a->ncombos; c++) {
			int n = names_of(job->ask.model, c < a->ncombos ? &a->combos[c] : NULL, names), own = 0;
			for (int j = 0; j < n && !own; j++)
				if (strlen(names[j]) <= LIMIT_NAME_BYTES && pricing_name_valid(names[j]))
					ledger_price_model_at(names[j], job->providers[i]->name, &p, &m, &own);
			if (own) {
				api_error(rs, CD_E_INVALID, "model", "provider %s has its own price for '%s', which the image "
					  "routes do not apply (they charge the general rows): not forwarded",
					  job->providers[i]->name, names[0]);
				return -1;
			}
		}
	return 0;
}

int api_gw_images_hold_of(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	struct gw_images_ask *a = &job->ask.img;
	const char *param = "size";
	char err[256];
	(void)ctx;
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
	if (provider_rows(job, rs) != 0)
		return -1;
	__int128 fees = (__int128)a->n * a->combos[a->held].raw;
	job->hold_input = r->input_tokens;
	job->price = r->price;
	/* Every provider's at the general rows: an image call's rows are the
	 * model's by size and quality (docs/gateway.md, "Images"); a
	 * provider's own price applies to the token and audio routes. */
	for (int i = 0; i < job->nproviders; i++) {
		job->prices[i] = r->price;
		job->price_own[i] = 0;
	}
	job->margin = r->margin_bps = margin;
	r->priced = r->has_hold_price = 1;
	r->hold_fees_raw = fees > INT64_MAX ? INT64_MAX : (int64_t)fees;
	if (fees > INT64_MAX || ledger_decide_hold_cost(r, 0, &r->amount_micros) != PRICING_OK ||
	    r->amount_micros > LIMIT_AMOUNT_MICROS_MAX) {
		api_error(rs, CD_E_INVALID, "n", "the call's worst case is above the %lld micros one operation may move",
			  (long long)LIMIT_AMOUNT_MICROS_MAX);
		return -1;
	}
	return 0;
}
