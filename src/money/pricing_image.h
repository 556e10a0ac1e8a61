/* pricing_image.h: the money math of the image routes (docs/gateway.md,
 * "Images"), pure: no I/O, no floats. An image call is billed one of
 * three ways, by its model's price row: image tokens (the provider reports
 * them: output_image_micros_per_mtok, input_image_micros_per_mtok), pixels
 * (micros per 10^9 pixels of the image made: input_pixel_micros_per_gpx
 * and output_pixel_micros_per_gpx, LiteLLM's per-pixel rows, which bill the
 * image made at their input price) or an image made
 * (output_micros_per_image). Amounts come out in the cost formula's raw
 * units (micros × 10^6 before the margin: pricing_cost_with_extra), every
 * product in 128 bits, PRICING_OVERFLOW past int64. */
#ifndef CREDITD_PRICING_IMAGE_H
#define CREDITD_PRICING_IMAGE_H
#include "pricing.h"
#include <stdint.h>

enum pricing_image_basis {
	PRICING_IMAGE_NONE = 0,		/* the row prices no image */
	PRICING_IMAGE_TOKENS,		/* image tokens (output_image_micros_per_mtok) */
	PRICING_IMAGE_PIXELS,		/* pixels (either pixel price) */
	PRICING_IMAGE_EACH		/* an image made (output_micros_per_image) */
};

/* How p bills an image: image tokens when it prices output image tokens,
 * else pixels when it prices either pixel price and sized is 1 (the
 * image's size is known), else an image made, else NONE. *pixels_unsized
 * (may be NULL) is set to 1 when p prices pixels but sized is 0. */
enum pricing_image_basis pricing_image_basis(const struct price *p, int sized, int *pixels_unsized);

/* The raw cost of one image of width × height at p, billed by b (PIXELS
 * or EACH): pixels × (input + output pixel price) / 1,000 (a pixel price
 * is micros per 10^9 pixels, raw is micros × 10^6), rounded up to the raw
 * unit (a millionth of a micro: the call is rounded up to the micro once,
 * after its margin); EACH: the price × 10^6. PRICING_INVALID for a
 * negative size or another basis. */
enum pricing_status pricing_image_one_raw(const struct price *p, enum pricing_image_basis b, int64_t width,
					  int64_t height, int64_t *raw);

/* The raw cost of `images` images of tokens output image tokens each at
 * p's output image price. PRICING_INVALID for a negative count or a row
 * without the price. */
enum pricing_status pricing_image_tokens_raw(const struct price *p, int64_t images, int64_t tokens, int64_t *raw);

/* What image tokens add to a call charged at p's token prices: its
 * input_image tokens (a part of the input) at input_image_micros_per_mtok
 * rather than the input price (the input price when p has none), its
 * output_image tokens (a part of the output) at output_image_micros_per_mtok
 * rather than the output price. The difference, raw; may be below 0 (an
 * image price under the token price). PRICING_INVALID for negative
 * counts; PRICING_OVERFLOW past int64. */
enum pricing_status pricing_image_tokens_extra(const struct price *p, int64_t input_image, int64_t output_image,
					       int64_t *extra_raw);

/* a × b for raw amounts a >= 0 and a count b >= 0 (images made × the raw of
 * one): PRICING_OVERFLOW past int64. */
enum pricing_status pricing_image_times(int64_t a, int64_t b, int64_t *out);

#endif
