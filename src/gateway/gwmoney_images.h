/* gwmoney_images.h: the charge of an image route's call (docs/gateway.md,
 * "Images"), pure, beside gwmoney.h's: what its answer made, at the
 * prices its hold pinned. Tested in tests/unit/gateway/test_gwmoney_images.c. */
#ifndef CREDITD_GWMONEY_IMAGES_H
#define CREDITD_GWMONEY_IMAGES_H
#include "gwmoney.h"

/* The token counts an image call is charged, from its answer's u into
 * *out: a model priced by pixels or by the image bills no tokens (0);
 * one priced by image tokens bills its usage as reported, and when its
 * answer reported none, its input as held (hold_input) and the images
 * made (the asked n when the answer could not be read) at the output
 * tokens of the size and quality answered, else held. */
void gwmoney_images_usage(const struct gw_ask *ask, int64_t hold_input, const struct gw_usage *u, struct gw_usage *out);

/* The images' extra (in the cost formula's raw units, added to
 * *extra_raw): by pixels or by the image, the images made (n when the
 * answer could not be read) × one image's price at the size and quality
 * the answer says (its "size", "quality"; else the hold's dearest); by
 * image tokens, the image tokens of u (gwmoney_images_usage's) at the
 * image prices beyond the token prices p charges them at. More images than
 * asked, or image output tokens above the hold's, are charged and flagged
 * over_hold in *c. */
enum pricing_status gwmoney_images(const struct gw_ask *ask, const struct price *p, const struct gw_usage *u,
				   int64_t *extra_raw, struct gw_charge *c);

#endif
