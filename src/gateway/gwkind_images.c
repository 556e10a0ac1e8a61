/* gwkind_images.c: the OpenAI kind's image routes (docs/gateway.md,
 * "Images"): images/generations and images/edits. What a request asks (n,
 * size, quality; the members a model does not take refused, as the
 * provider would refuse them), the sizes × qualities it may be answered
 * at for the hold to price, and what an answer says it made (its data,
 * size, quality and usage). The models' sizes, qualities, defaults and
 * most images a call are OpenAI's images reference's (the pinned openai
 * SDK's src/resources/images.ts: ImageGenerateParams, ImageEditParams);
 * the GPT image models' output tokens an image are OpenAI's published
 * table (LIMIT_GATEWAY_GPT_IMAGE_TOKENS).
 *
 * Never: does I/O, reads the clock or touches the ledger. */
#include "gwkind.h"
#include "gwkind_int.h"
#include "limits.h"
#include "limits_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct family {
	int id;
	const char *sizes[3];
	const char *qualities[3];
	const char *default_size, *default_quality;
	int64_t max_n;
	int edits;			/* taken on images/edits */
};

/* The reference's models. dall-e-2: 256x256, 512x512, 1024x1024,
 * "standard" the only quality; dall-e-3: three sizes, standard or hd, one
 * image a call, not on images/edits; the GPT image models: three sizes,
 * low, medium or high, "auto" (their default) for either. A size or
 * quality left out is the model's default (dall-e's: 1024x1024 and
 * standard), "auto" the dearest the model offers. */
static const struct family families[] = {
	{GW_IMAGE_DALLE2, {"256x256", "512x512", "1024x1024"}, {"standard", NULL, NULL}, "1024x1024", "standard",
	 LIMIT_GATEWAY_IMAGES_N, 1},
	{GW_IMAGE_DALLE3, {"1024x1024", "1792x1024", "1024x1792"}, {"standard", "hd", NULL}, "1024x1024", "standard", 1, 0},
	{GW_IMAGE_GPT, {"1024x1024", "1024x1536", "1536x1024"}, {"low", "medium", "high"}, "auto", "auto",
	 LIMIT_GATEWAY_IMAGES_N, 1},
};

int gwkind_images_family(const char *model)
{
	if (strcmp(model, "dall-e-2") == 0)
		return GW_IMAGE_DALLE2;
	if (strcmp(model, "dall-e-3") == 0)
		return GW_IMAGE_DALLE3;
	/* gpt-image-1, its snapshots and gpt-image-1-mini, gpt-image-1.5. */
	if (strcmp(model, "gpt-image-1") == 0 || strncmp(model, "gpt-image-1-", 12) == 0 ||
	    strncmp(model, "gpt-image-1.", 12) == 0 || strcmp(model, "chatgpt-image-latest") == 0)
		return GW_IMAGE_GPT;
	return GW_IMAGE_OTHER;
}

static const struct family *family_of(int id)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (families[i].id == id)
			return &families[i];
	return NULL;
}

/* "WxH": 1 with *w, *h (each 1..99,999), 0 when s is not one. */
static int parse_size(const char *s, int64_t *w, int64_t *h)
{
	char *end;
	if (s[0] < '1' || s[0] > '9')
		return 0;
	long a = strtol(s, &end, 10);
	if (*end != 'x' || end - s > 5 || end[1] < '1' || end[1] > '9')
		return 0;
	const char *t = end + 1;
	long b = strtol(t, &end, 10);
	if (*end != '\0' || end - t > 5)
		return 0;
	*w = a;
	*h = b;
	return 1;
}

/* A string member's value into out ("" when left out or null); -1
 * through rf when it is not a string that fits. */
static int read_word(const struct gwkind_route *r, const json_t *root, const char *name, char *out, size_t cap,
		     struct gwkind_refusal *rf)
{
	const json_t *v = gwkind_member(r, root, name);
	out[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return gwkind_refuse(rf, name, "\"%s\" must be one of the values OpenAI's reference names", name);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

const char *gwkind_images_default(const void *root)
{
	static const char *const gpt_only[] = {"background", "moderation", "output_compression", "output_format",
					       "partial_images", "stream", NULL};
	for (int i = 0; gpt_only[i] != NULL; i++) {
		const json_t *v = json_object_get((const json_t *)root, gpt_only[i]);
		if (v != NULL && !json_is_null(v) && !json_is_false(v))
			return NULL;
	}
	return "dall-e-2";
}

/* Members only some models take (the reference): a GPT image model's
 * own, dall-e's response_format and style. Refused where the provider
 * refuses them, before anything is held. */
static int model_members(const struct gwkind_route *r, const json_t *root, int family, struct gwkind_refusal *rf)
{
	static const char *const gpt_only[] = {"background", "moderation", "output_compression", "output_format",
					       "input_fidelity", NULL};
	int dalle = family == GW_IMAGE_DALLE2 || family == GW_IMAGE_DALLE3;
	for (int i = 0; dalle && gpt_only[i] != NULL; i++)
		if (gwkind_member(r, root, gpt_only[i]) != NULL)
			return gwkind_refuse(rf, gpt_only[i], "\"%s\" is taken by the GPT image models only, not %s",
					     gpt_only[i], family == GW_IMAGE_DALLE2 ? "dall-e-2" : "dall-e-3");
	if (family == GW_IMAGE_GPT && gwkind_member(r, root, "response_format") != NULL)
		return gwkind_refuse(rf, "response_format", "\"response_format\" is not taken by the GPT image models, "
				     "which always answer base64 (b64_json)");
	if (family != GW_IMAGE_DALLE3 && family != GW_IMAGE_OTHER && gwkind_member(r, root, "style") != NULL)
		return gwkind_refuse(rf, "style", "\"style\" is taken by dall-e-3 only");
	return 0;
}

/* Streaming image calls (partial images, billed 100 output tokens each)
 * are not taken: refused naming the member. */
static int read_stream(const struct gwkind_route *r, const json_t *root, const struct gw_ask *ask,
		       struct gwkind_refusal *rf)
{
	const json_t *partial = gwkind_member(r, root, "partial_images");
	if (ask->stream)
		return gwkind_refuse(rf, "stream", "creditd does not stream image calls: send them without \"stream\"");
	if (partial != NULL && !(json_is_integer(partial) && json_integer_value(partial) == 0))
		return gwkind_refuse(rf, "partial_images", "\"partial_images\" are made only in a stream, which creditd "
				     "does not take on image calls");
	return 0;
}

/* The members the reference requires (ImageGenerateParams.prompt,
 * ImageEditParams.image and .prompt): a prompt that is a text of one
 * character at least, and on an edit an image (image, or image[], sent
 * as files: gwshape_form.c writes each as ""). A call the provider would
 * refuse is refused before anything is held or forwarded. */
static int required_members(const struct gwkind_route *r, const json_t *root, struct gwkind_refusal *rf)
{
	const json_t *prompt = gwkind_member(r, root, "prompt");
	if (r->images == GW_IMAGES_EDIT && !json_is_string(gwkind_member(r, root, "image")))
		return gwkind_refuse(rf, "image", "\"image\" is required: the image to edit, sent as a file (image, "
				     "or image[] for several)");
	if (!json_is_string(prompt) || json_string_length(prompt) == 0)
		return gwkind_refuse(rf, "prompt", "\"prompt\" is required: a text describing the image%s",
				     r->images == GW_IMAGES_EDIT ? " wanted" : "s");
	return 0;
}

int gwkind_images_read(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask, struct gwkind_refusal *rf)
{
	struct gw_images_ask *a = &ask->img;
	const struct family *f;
	int64_t n;
	a->family = gwkind_images_family(ask->model);
	f = family_of(a->family);
	if (required_members(r, root, rf) != 0 || read_stream(r, root, ask, rf) != 0 ||
	    model_members(r, root, a->family, rf) != 0)
		return -1;
	if (gwkind_read_int(rf, r, root, "n", 1, f != NULL ? f->max_n : LIMIT_GATEWAY_IMAGES_N, &n) != 0)
		return -1;
	a->n = n > 0 ? n : 1;
	if (read_word(r, root, "size", a->size, sizeof(a->size), rf) != 0 ||
	    read_word(r, root, "quality", a->quality, sizeof(a->quality), rf) != 0)
		return -1;
	/* The SDK's types say a left-out quality is "auto", the provider's
	 * choice, and a dall-e-3 answer names none: the quality held, its
	 * default, is written into the body sent, so the provider makes what
	 * is charged. */
	a->quality_defaulted = a->family == GW_IMAGE_DALLE3 && a->quality[0] == '\0';
	const json_t *prompt = gwkind_member(r, root, "prompt");
	a->text_bytes = json_is_string(prompt) ? (int64_t)json_string_length(prompt) : 0;
	return 0;
}

/* ---- the sizes × qualities a call may be answered at ---- */

static int in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* The sizes asked of f (NULL: any model): sizes[] filled, their count. */
static int sizes_asked(const struct family *f, const char *asked, int64_t w[3], int64_t h[3], const char **param,
		       char *err, size_t errcap)
{
	const char *size = asked[0] != '\0' ? asked : f != NULL ? f->default_size : "";
	int n = 0;
	if (f == NULL) {
		w[0] = h[0] = 0;
		if (size[0] != '\0' && strcmp(size, "auto") != 0 && !parse_size(size, &w[0], &h[0]))
			goto bad;
		return 1;
	}
	for (int i = 0; i < 3; i++)
		if (f->sizes[i] != NULL && (strcmp(size, "auto") == 0 || strcmp(size, f->sizes[i]) == 0) &&
		    parse_size(f->sizes[i], &w[n], &h[n]))
			n++;
	if (n > 0)
		return n;
bad:
	*param = "size";
	snprintf(err, errcap, "\"size\": \"%.15s\" is not a size the model offers", size);
	return -1;
}

int gwkind_images_combos(struct gw_images_ask *a, const char **param, char *err, size_t errcap)
{
	static const int64_t gpt_tokens[3][3] = LIMIT_GATEWAY_GPT_IMAGE_TOKENS;
	const struct family *f = family_of(a->family);
	int64_t w[3], h[3];
	int ns = sizes_asked(f, a->size, w, h, param, err, errcap);
	const char *quality = a->quality[0] != '\0' ? a->quality : f != NULL ? f->default_quality : "";
	a->ncombos = 0;
	if (ns < 0)
		return -1;
	if (f != NULL && strcmp(quality, "auto") != 0 && !in_list(f->qualities, 3, quality)) {
		*param = "quality";
		snprintf(err, errcap, "\"quality\": \"%.15s\" is not a quality the model offers", quality);
		return -1;
	}
	for (int q = 0; q < 3 || (f == NULL && q == 0); q++) {
		const char *name = f == NULL ? (strcmp(quality, "auto") == 0 ? "" : quality) : f->qualities[q];
		if (f != NULL && (name == NULL || (strcmp(quality, "auto") != 0 && strcmp(quality, name) != 0)))
			continue;
		for (int s = 0; s < ns && a->ncombos < GW_IMAGE_COMBOS; s++) {
			struct gw_image_combo *c = &a->combos[a->ncombos++];
			memset(c, 0, sizeof(*c));
			c->width = w[s];
			c->height = h[s];
			snprintf(c->quality, sizeof(c->quality), "%s", name);
			if (a->family == GW_IMAGE_GPT) {
				/* The table's sizes in the family's order. */
				int col = c->width == c->height ? 0 : c->width < c->height ? 1 : 2;
				c->tokens = gpt_tokens[q][col];
			}
		}
		if (f == NULL)
			break;
	}
	return 0;
}

/* ---- what an answer says ---- */

static void word_of(const json_t *v, char *out, size_t cap)
{
	out[0] = '\0';
	if (json_is_string(v) && json_string_length(v) < cap && strlen(json_string_value(v)) == json_string_length(v))
		memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

/* The answer's usage into u (1), or 0 when it has none creditd can read. */
static int read_usage(const json_t *usage, struct gw_usage *u)
{
	const json_t *in = json_object_get(usage, "input_tokens_details");
	const json_t *out = json_object_get(usage, "output_tokens_details");
	int64_t input = 0, output = 0, total = 0, image_in = 0, image_out = -1;
	if (!json_is_object(usage) || gwkind_count_of(json_object_get(usage, "input_tokens"), &input) != 1 ||
	    gwkind_count_of(json_object_get(usage, "output_tokens"), &output) != 1 ||
	    gwkind_count_of(json_object_get(usage, "total_tokens"), &total) < 0 ||
	    gwkind_count_of(json_object_get(in, "image_tokens"), &image_in) < 0 ||
	    gwkind_count_of(json_object_get(out, "image_tokens"), &image_out) < 0)
		return 0;
	u->input_tokens = input;
	u->output_tokens = output;
	u->total_tokens = total;
	u->img.image_input_tokens = image_in < input ? image_in : input;
	u->img.image_output_tokens = image_out < 0 || image_out > output ? output : image_out;
	/* A total above its parts is counted as output (as on every route). */
	if (total > input + output)
		u->output_tokens = u->img.image_output_tokens = gwkind_clamp_tokens(total - input);
	return 1;
}

void gwkind_images_usage(const struct gwkind_route *r, const json_t *root, struct gw_usage *u)
{
	static const char *const top[] = {"input_tokens", "output_tokens", "total_tokens", NULL};
	static const char *const parts[] = {"text_tokens", "image_tokens", NULL};
	static const struct gwkind_usage_names names = {top, "input_tokens_details", "output_tokens_details", parts,
							 parts};
	const json_t *data = json_object_get(root, "data");
	(void)r;
	if (!json_is_array(data))
		return;
	u->have = 1;
	u->img.answered = 1;
	u->img.made = (int64_t)json_array_size(data);
	word_of(json_object_get(root, "size"), u->img.size, sizeof(u->img.size));
	word_of(json_object_get(root, "quality"), u->img.quality, sizeof(u->img.quality));
	u->img.usage = read_usage(json_object_get(root, "usage"), u);
	if (u->img.usage)
		gwkind_usage_unknown(json_object_get(root, "usage"), &names, u);
}
