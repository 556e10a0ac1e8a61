/* gwmoney_images.h: the charge of an image route's call (docs/gateway.md,
 * "Images"), pure, beside gwmoney.h's: what its answer made, at the
 * prices its hold pinned. Tested in tests/unit/gateway/test_gwmoney_images.c. */
#ifndef CREDITD_GWMONEY_IMAGES_H
#define CREDITD_GWMONEY_IMAGES_H
#include "gwmoney.h"

/* Each function takes at, the index of the try that answered (gw_job's
 * providers[at], 0 <= at < LIMIT_GATEWAY_ATTEMPTS_MAX): an image is
 * charged at that provider's price for it (gw_image_combo.raw_at[at];
 * docs/gateway.md, "Which price a call is charged"), and the size and
 * quality an answer that says neither is charged at are the dearest
 * there of those held. */

/* The token counts an image call is charged, from its answer's u into
 * *out: a model priced by pixels or by the image bills no tokens (0);
 * one priced by image tokens bills its usage as reported, and when its
 * answer reported none, its input as held (hold_input) and the images
 * made (the asked n when the answer could not be read) at the output
 * tokens of the size and quality answered, else held. */
void gwmoney_images_usage(const struct gw_ask *ask, int at, int64_t hold_input, const struct gw_usage *u,
			  struct gw_usage *out);

/* 1 when the image the answer u made is charged at providers[at]'s own
 * row (own_at), 0 at the general row: the usage record's price_provider. */
int gwmoney_images_own(const struct gw_ask *ask, int at, const struct gw_usage *u);

/* The images' extra (in the cost formula's raw units, added to
 * *extra_raw): by pixels or by the image, the images made (n when the
 * answer could not be read) × one image's price at providers[at] at the
 * size and quality the answer says (its "size", "quality"; else the
 * dearest held); by image tokens, the image tokens of u
 * (gwmoney_images_usage's) at the image prices of p (providers[at]'s
 * row) beyond the token prices p charges them at. More images than
 * asked, or image output tokens above the hold's, are charged and
 * flagged over_hold in *c. */
enum pricing_status gwmoney_images(const struct gw_ask *ask, int at, const struct price *p, const struct gw_usage *u,
				   int64_t *extra_raw, struct gw_charge *c);

#endif
