/* gwkind_images.h: what an image route's call asks and what its answer says
 * (docs/gateway.md, "Images"): images/generations (a JSON body) and
 * images/edits (multipart). Types carried in struct gw_ask and struct
 * gw_usage (gwkind.h); read by gwkind_images.c, held by
 * api_gwimages.c, charged by gwmoney_images.c. Types and the readers'
 * interface only. */
#ifndef CREDITD_GWKIND_IMAGES_H
#define CREDITD_GWKIND_IMAGES_H
#include <stddef.h>
#include <stdint.h>
#include "limits_gateway.h"

struct gwkind_route;
struct gwkind_refusal;

/* An image route (gwkind_route.images): 0 on every other route. */
enum { GW_IMAGES_GENERATE = 1, GW_IMAGES_EDIT = 2 };

/* The model families whose sizes, qualities and limits creditd knows
 * (OpenAI's images reference); OTHER: any other name, priced per image or
 * per pixel at the size it names. */
enum gw_image_family { GW_IMAGE_OTHER = 0, GW_IMAGE_DALLE2, GW_IMAGE_DALLE3, GW_IMAGE_GPT };

/* The sizes × qualities a call may be answered at (the size and quality
 * asked; "auto" every one the model offers), each priced by the hold. */
#define GW_IMAGE_COMBOS 12
#define GW_IMAGE_WORD_BYTES 16
struct gw_image_combo {
	int64_t width, height;		/* 0: the size is not known (OTHER, none named) */
	char quality[GW_IMAGE_WORD_BYTES];	/* "" : none */
	int64_t tokens;			/* image tokens: the output tokens of one image */
	int64_t raw;			/* one image's worst case at the general rows, in the cost formula's raw units */
	/* One image's price at each provider the call may try (gw_job's
	 * providers[i]): that provider's own row where it has one (own_at[i]
	 * 1), else the general row (docs/gateway.md, "Which price a call is
	 * charged"); what a try answered by providers[i] is charged. */
	int64_t raw_at[LIMIT_GATEWAY_ATTEMPTS_MAX];
	unsigned char own_at[LIMIT_GATEWAY_ATTEMPTS_MAX];
};

struct gw_images_ask {
	int family;			/* enum gw_image_family */
	int model_defaulted;		/* no "model" given: the reference's default, written into the body sent */
	int quality_defaulted;		/* dall-e-3 with no "quality": "standard", held and written into the body sent */
	int64_t n;			/* images asked: "n", 1 when left out */
	char size[GW_IMAGE_WORD_BYTES];	/* as asked: "" left out, "auto", "WxH" */
	char quality[GW_IMAGE_WORD_BYTES];
	int64_t input_images;		/* images/edits: the image files and the mask sent */
	int64_t text_bytes;		/* the prompt's bytes (its tokens are at most that) */
	/* Set by the hold (api_gwimages.c). */
	int basis;			/* enum pricing_image_basis */
	size_t ncombos, held;		/* combos[held]: the dearest at the general rows */
	struct gw_image_combo combos[GW_IMAGE_COMBOS];
	int64_t input_image_tokens;	/* images/edits, image tokens: the input images' bound */
};

/* What an images answer says. */
struct gw_images_usage {
	int answered;			/* its "data" array was read */
	int64_t made;			/* the images in it */
	char size[GW_IMAGE_WORD_BYTES];	/* the answer's "size" and "quality" (GPT image models), "" : unsaid */
	char quality[GW_IMAGE_WORD_BYTES];
	int usage;			/* its "usage" was read (the token counts of struct gw_usage) */
	int64_t image_input_tokens;	/* usage.input_tokens_details.image_tokens (of input_tokens) */
	int64_t image_output_tokens;	/* usage.output_tokens_details.image_tokens, else output_tokens */
};

/* The sizes × qualities a may be answered at (each with no price yet;
 * tokens set for the GPT image models from their published table), into
 * a->combos (gwkind_images.c). 0, or -1 with the member at fault in
 * *param and a sentence in err (a size or quality the model does not
 * offer). */
int gwkind_images_combos(struct gw_images_ask *a, const char **param, char *err, size_t errcap);
/* The model an images/generations body root that names none is made
 * with (the reference: dall-e-2 unless a member only the GPT image
 * models take is given), or NULL when that is not known (such a member:
 * the call must name its model). */
const char *gwkind_images_default(const void *root);
/* The family (enum gw_image_family) of model. */
int gwkind_images_family(const char *model);

#endif
