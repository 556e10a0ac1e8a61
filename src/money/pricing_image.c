/* pricing_image.c: the image routes' money math (pricing_image.h;
 * docs/gateway.md, "Images"). Pure: no I/O, no floats, every product in
 * 128 bits. */
#include "pricing_image.h"

static int64_t dim_or(const struct price *p, enum price_dim d, int64_t otherwise)
{
	int64_t v;
	return pricing_dim_get(p, d, &v) ? v : otherwise;
}

enum pricing_image_basis pricing_image_basis(const struct price *p, int sized, int *pixels_unsized)
{
	int pixels = pricing_dim_get(p, PRICE_DIM_INPUT_PIXEL, NULL) || pricing_dim_get(p, PRICE_DIM_OUTPUT_PIXEL, NULL);
	if (pixels_unsized != NULL)
		*pixels_unsized = pixels && !sized;
	if (pricing_dim_get(p, PRICE_DIM_OUTPUT_IMAGE, NULL))
		return PRICING_IMAGE_TOKENS;
	if (pixels && sized)
		return PRICING_IMAGE_PIXELS;
	if (pricing_dim_get(p, PRICE_DIM_OUTPUT_PER_IMAGE, NULL))
		return PRICING_IMAGE_EACH;
	return PRICING_IMAGE_NONE;
}

enum pricing_status pricing_image_one_raw(const struct price *p, enum pricing_image_basis b, int64_t width,
					  int64_t height, int64_t *raw)
{
	__int128 x;
	if (width < 0 || height < 0)
		return PRICING_INVALID;
	if (b == PRICING_IMAGE_PIXELS) {
		/* Each factor below 2^63: the product below 2^127 needs the
		 * pixels below 2^63 too, which two sizes of an image are. */
		__int128 px = (__int128)dim_or(p, PRICE_DIM_INPUT_PIXEL, 0) + dim_or(p, PRICE_DIM_OUTPUT_PIXEL, 0);
		__int128 pixels = (__int128)width * height;
		if (pixels > INT64_MAX)
			return PRICING_OVERFLOW;
		x = pixels * px;
		/* Above int64 before the division: refused (an image of more
		 * than ~9,200,000,000 micros); below, divided in 64 bits. */
		if (x > INT64_MAX)
			return PRICING_OVERFLOW;
		int64_t y = (int64_t)x;
		x = y / 1000 + (y % 1000 != 0);
	} else if (b == PRICING_IMAGE_EACH) {
		x = (__int128)dim_or(p, PRICE_DIM_OUTPUT_PER_IMAGE, 0) * 1000000;
	} else {
		return PRICING_INVALID;
	}
	if (x > INT64_MAX)
		return PRICING_OVERFLOW;
	*raw = (int64_t)x;
	return PRICING_OK;
}

enum pricing_status pricing_image_tokens_raw(const struct price *p, int64_t images, int64_t tokens, int64_t *raw)
{
	int64_t price;
	if (images < 0 || tokens < 0 || !pricing_dim_get(p, PRICE_DIM_OUTPUT_IMAGE, &price))
		return PRICING_INVALID;
	__int128 x = (__int128)images * tokens;
	if (x > INT64_MAX)
		return PRICING_OVERFLOW;
	x *= price;
	if (x > INT64_MAX)
		return PRICING_OVERFLOW;
	*raw = (int64_t)x;
	return PRICING_OK;
}

enum pricing_status pricing_image_tokens_extra(const struct price *p, int64_t input_image, int64_t output_image,
					       int64_t *extra_raw)
{
	if (input_image < 0 || output_image < 0)
		return PRICING_INVALID;
	__int128 in = (__int128)dim_or(p, PRICE_DIM_INPUT_IMAGE, p->input_micros_per_mtok) - p->input_micros_per_mtok;
	__int128 out = (__int128)dim_or(p, PRICE_DIM_OUTPUT_IMAGE, p->output_micros_per_mtok) - p->output_micros_per_mtok;
	__int128 x = in * input_image + out * output_image;
	if (x > INT64_MAX || x < INT64_MIN)
		return PRICING_OVERFLOW;
	*extra_raw = (int64_t)x;
	return PRICING_OK;
}

enum pricing_status pricing_image_times(int64_t a, int64_t b, int64_t *out)
{
	if (a < 0 || b < 0)
		return PRICING_INVALID;
	__int128 x = (__int128)a * b;
	if (x > INT64_MAX)
		return PRICING_OVERFLOW;
	*out = (int64_t)x;
	return PRICING_OK;
}
