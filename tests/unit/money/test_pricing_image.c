/* test_pricing_image.c: the image routes' money math (pricing_image.h;
 * docs/gateway.md, "Images"), to the micro: an image by its pixels
 * (LiteLLM's per-pixel rows), by the image, by its tokens; the basis a
 * row bills by; overflow refused, never wrapped. */
#include "pricing.h"
#include "pricing_image.h"
#include "tap.h"
#include <stdint.h>

static struct price media(void)
{
	struct price p = {0, 0, 0, 1, 0, PRICING_NO_DIMS};
	return p;
}

static void basis(void)
{
	struct price p = media();
	int unsized = -1;
	is_int(pricing_image_basis(&p, 1, &unsized), PRICING_IMAGE_NONE, "a row pricing no image: none");
	is_int(unsized, 0, "and no pixels");
	pricing_dim_put(&p, PRICE_DIM_OUTPUT_PER_IMAGE, 40000);
	is_int(pricing_image_basis(&p, 0, NULL), PRICING_IMAGE_EACH, "per image, size or not");
	pricing_dim_put(&p, PRICE_DIM_INPUT_PIXEL, 38146900);
	is_int(pricing_image_basis(&p, 1, &unsized), PRICING_IMAGE_PIXELS, "pixels before the image when sized");
	is_int(pricing_image_basis(&p, 0, &unsized), PRICING_IMAGE_EACH, "per image when the size is unknown");
	is_int(unsized, 1, "and said so");
	pricing_dim_put(&p, PRICE_DIM_OUTPUT_IMAGE, 40000000);
	is_int(pricing_image_basis(&p, 1, NULL), PRICING_IMAGE_TOKENS, "image tokens first: the provider reports them");
}

static void pixels(void)
{
	struct price p = media();
	int64_t raw = -1, cost = -1;
	struct pricing_tokens none = {0, 0, 0, 0};
	/* hd/1792-x-1024/dall-e-3: 6.539e-08 USD a pixel, input_cost_per_pixel. */
	pricing_dim_put(&p, PRICE_DIM_INPUT_PIXEL, 65390000);
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_PIXELS, 1792, 1024, &raw), PRICING_OK, "priced");
	is_int(raw, 1835008LL * 65390, "pixels × micros per 10^9 pixels / 1,000: exact here");
	is_int(pricing_cost_with_extra(&p, 10000, &none, raw, &cost), PRICING_OK, "costed");
	is_int(cost, 119992, "$0.11999 rounded up to the micro, once");
	/* The output pixel price adds to the input one (LiteLLM's are 0). */
	pricing_dim_put(&p, PRICE_DIM_OUTPUT_PIXEL, 1);
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_PIXELS, 1, 1, &raw), PRICING_OK, "one pixel");
	is_int(raw, 65391, "65,390,001 / 1,000 rounded up to the raw unit");
	/* standard/1024-x-1024/dall-e-3: 3.81469e-08: not a whole raw unit. */
	pricing_dim_put(&p, PRICE_DIM_INPUT_PIXEL, 38146900);
	pricing_dim_put(&p, PRICE_DIM_OUTPUT_PIXEL, -1);
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_PIXELS, 1024, 1024, &raw), PRICING_OK, "priced");
	is_int(raw, (1048576LL * 38146900 + 999) / 1000, "rounded up");
	is_int(pricing_cost_with_extra(&p, 10500, &none, raw, &cost), PRICING_OK, "costed");
	is_int(cost, 42000, "$0.04 and 5 %%");
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_PIXELS, -1, 1024, &raw), PRICING_INVALID, "a negative size");
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_TOKENS, 1, 1, &raw), PRICING_INVALID, "not this function's");
	pricing_dim_put(&p, PRICE_DIM_INPUT_PIXEL, INT64_MAX);
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_PIXELS, 4096, 4096, &raw), PRICING_OVERFLOW, "past int64: refused");
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_PIXELS, INT64_MAX, INT64_MAX, &raw), PRICING_OVERFLOW,
	       "pixels past int64: refused");
}

static void each_and_tokens(void)
{
	struct price p = media();
	int64_t raw = -1, extra = 0;
	pricing_dim_put(&p, PRICE_DIM_OUTPUT_PER_IMAGE, 40000);
	is_int(pricing_image_one_raw(&p, PRICING_IMAGE_EACH, 0, 0, &raw), PRICING_OK, "per image");
	is_int(raw, 40000LL * 1000000, "its micros in raw units");
	is_int(pricing_image_times(raw, 3, &raw), PRICING_OK, "three");
	is_int(raw, 120000LL * 1000000, "three times");
	is_int(pricing_image_times(INT64_MAX, 2, &raw), PRICING_OVERFLOW, "past int64");
	is_int(pricing_image_times(-1, 2, &raw), PRICING_INVALID, "negative");
	/* gpt-image-1: text in 5, image in 10, image out 40 (a million tokens);
	 * the row's plain output 10. */
	struct price g = {5000000, 1250000, 10000000, 1, 5000000, PRICING_NO_DIMS};
	is_int(pricing_image_tokens_raw(&g, 2, 6240, &raw), PRICING_INVALID, "no image price: not this basis");
	pricing_dim_put(&g, PRICE_DIM_INPUT_IMAGE, 10000000);
	pricing_dim_put(&g, PRICE_DIM_OUTPUT_IMAGE, 40000000);
	is_int(pricing_image_tokens_raw(&g, 2, 6240, &raw), PRICING_OK, "two high portrait images");
	is_int(raw, 2LL * 6240 * 40000000, "at the output image price");
	is_int(pricing_image_tokens_raw(&g, INT64_MAX, 2, &raw), PRICING_OVERFLOW, "past int64");
	is_int(pricing_image_tokens_extra(&g, 323, 2112, &extra), PRICING_OK, "the image parts");
	is_int(extra, 323LL * 5000000 + 2112LL * 30000000, "what image tokens cost above the token prices");
	struct pricing_tokens t = {12 + 323, 0, 0, 2112};
	int64_t cost = -1;
	is_int(pricing_cost_with_extra(&g, 10000, &t, extra, &cost), PRICING_OK, "costed");
	is_int(cost, (12LL * 5000000 + 323LL * 10000000 + 2112LL * 40000000 + 999999) / 1000000,
	       "text at the input price, image tokens at theirs, rounded up once");
	struct price cheap = g;
	pricing_dim_put(&cheap, PRICE_DIM_OUTPUT_IMAGE, 1000000);
	is_int(pricing_image_tokens_extra(&cheap, 0, 10, &extra), PRICING_OK, "cheaper than the token price");
	is_int(extra, -90000000, "a negative difference: the call still costs its image tokens");
	is_int(pricing_image_tokens_extra(&g, -1, 0, &extra), PRICING_INVALID, "negative");
}

int main(void)
{
	basis();
	pixels();
	each_and_tokens();
	return done_testing();
}
