/* test_gwmoney_images.c: an image call's charge (gwmoney_images.h;
 * docs/gateway.md, "Images"): the images made at the size and quality
 * the answer says (else the hold's dearest), by pixels, by the image or
 * by the usage's image tokens; more than asked charged and flagged. */
#include "gwmoney_images.h"
#include "pricing_image.h"
#include "tap.h"
#include <stdint.h>
#include <string.h>

static struct gw_ask dall_e_3(void)
{
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	ask.img.n = 1;
	ask.img.basis = PRICING_IMAGE_PIXELS;
	ask.img.ncombos = 2;
	ask.img.combos[0] = (struct gw_image_combo){1024, 1024, "standard", 0, 40000LL * 1000000, {40000LL * 1000000}, {0}};
	ask.img.combos[1] = (struct gw_image_combo){1024, 1024, "hd", 0, 80000LL * 1000000, {80000LL * 1000000}, {0}};
	ask.img.held = 1;
	return ask;
}

static struct gw_usage made(int64_t n, const char *size, const char *quality)
{
	struct gw_usage u;
	memset(&u, 0, sizeof(u));
	u.have = u.img.answered = 1;
	u.img.made = n;
	strcpy(u.img.size, size);
	strcpy(u.img.quality, quality);
	return u;
}

static void by_pixels(void)
{
	struct price p = {0, 0, 0, 1, 0, PRICING_NO_DIMS};
	struct gw_ask ask = dall_e_3();
	struct gw_charge c;
	struct gw_usage u = made(1, "", ""), t;
	int64_t extra = 0;
	memset(&c, 0, sizeof(c));
	u.input_tokens = 99;	/* an answer's tokens a pixel price does not bill */
	gwmoney_images_usage(&ask, 0, 0, &u, &t);
	is_int(t.input_tokens + t.output_tokens, 0, "no tokens billed by pixels");
	is_int(gwmoney_images(&ask, 0, &p, &t, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 80000LL * 1000000, "an answer that says no quality: the hold's dearest");
	is_int(c.over_hold, 0, "as asked");
	extra = 0;
	u = made(1, "1024x1024", "standard");
	is_int(gwmoney_images(&ask, 0, &p, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 40000LL * 1000000, "the quality it says it made");
	extra = 0;
	u = made(3, "1024x1024", "ultra");
	is_int(gwmoney_images(&ask, 0, &p, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 3 * 80000LL * 1000000, "three made of one asked, a quality held by none: the dearest");
	is_int(c.over_hold, 1, "flagged");
	ok(strstr(c.why, "3 images made, 1 asked") != NULL, "and said why: %s", c.why);
	extra = 0;
	memset(&c, 0, sizeof(c));
	memset(&u, 0, sizeof(u));	/* an answer creditd could not read */
	is_int(gwmoney_images(&ask, 0, &p, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 80000LL * 1000000, "the n images held");
	extra = INT64_MAX;
	u = made(1, "", "");
	is_int(gwmoney_images(&ask, 0, &p, &u, &extra, &c), PRICING_OVERFLOW, "past int64: not wrapped");
}

static void by_tokens(void)
{
	struct price p = {5000000, 5000000, 10000000, 1, 5000000, PRICING_NO_DIMS};
	pricing_dim_put(&p, PRICE_DIM_INPUT_IMAGE, 10000000);
	pricing_dim_put(&p, PRICE_DIM_OUTPUT_IMAGE, 40000000);
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	ask.img.n = 2;
	ask.img.basis = PRICING_IMAGE_TOKENS;
	ask.img.ncombos = 2;
	ask.img.combos[0] = (struct gw_image_combo){1024, 1024, "low", 272, 272LL * 40000000, {272LL * 40000000}, {0}};
	ask.img.combos[1] = (struct gw_image_combo){1024, 1536, "high", 6240, 6240LL * 40000000, {6240LL * 40000000}, {0}};
	ask.img.held = 1;
	ask.img.input_image_tokens = 25600;
	struct gw_usage u = made(2, "1024x1024", "low"), t;
	struct gw_charge c;
	int64_t extra = 0;
	memset(&c, 0, sizeof(c));
	u.img.usage = 1;
	u.input_tokens = 12 + 646;
	u.img.image_input_tokens = 646;
	u.output_tokens = u.img.image_output_tokens = 544;
	gwmoney_images_usage(&ask, 0, 30000, &u, &t);
	is_int(t.input_tokens, 658, "the usage as reported");
	is_int(gwmoney_images(&ask, 0, &p, &t, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 646LL * 5000000 + 544LL * 30000000, "image tokens above the token prices");
	is_int(c.over_hold, 0, "within the hold");
	/* No usage: the held input, the images made at the answered size's tokens. */
	u = made(2, "1024x1024", "low");
	gwmoney_images_usage(&ask, 0, 30000, &u, &t);
	is_int(t.input_tokens, 30000, "the input held");
	is_int(t.output_tokens, 2 * 272, "two low squares");
	is_int(t.img.image_input_tokens, 25600, "the files' held tokens");
	/* More tokens than held: charged, flagged. */
	u = made(2, "", "");
	u.img.usage = 1;
	u.input_tokens = 10;
	u.output_tokens = u.img.image_output_tokens = 2 * 6240 + 1;
	extra = 0;
	memset(&c, 0, sizeof(c));
	is_int(gwmoney_images(&ask, 0, &p, &u, &extra, &c), PRICING_OK, "priced");
	is_int(c.over_hold, 1, "output above the hold flagged");
	is_int(extra, (2LL * 6240 + 1) * 30000000, "and charged");
}

/* Two providers, the second with its own rows (docs/gateway.md, "Which
 * price a call is charged"): each try charged at its provider's price for
 * the image made, an answer that says no quality at the dearest there. */
static void by_provider(void)
{
	struct price p = {0, 0, 0, 1, 0, PRICING_NO_DIMS};
	struct gw_ask ask = dall_e_3();
	ask.img.combos[0] = (struct gw_image_combo){1024, 1024, "standard", 0, 40000LL * 1000000,
						   {40000LL * 1000000, 90000LL * 1000000}, {0, 1}};
	ask.img.combos[1] = (struct gw_image_combo){1024, 1024, "hd", 0, 80000LL * 1000000,
						   {80000LL * 1000000, 85000LL * 1000000}, {0, 0}};
	struct gw_charge c;
	struct gw_usage u = made(1, "1024x1024", "hd");
	int64_t extra = 0;
	memset(&c, 0, sizeof(c));
	is_int(gwmoney_images(&ask, 1, &p, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 85000LL * 1000000, "hd answered by the second: its price for hd");
	is_int(gwmoney_images_own(&ask, 1, &u), 0, "its hd row is the general one");
	extra = 0;
	u = made(1, "", "");
	is_int(gwmoney_images(&ask, 1, &p, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 90000LL * 1000000, "no quality said: the dearest at the second, its own standard");
	is_int(gwmoney_images_own(&ask, 1, &u), 1, "its own row named");
	extra = 0;
	is_int(gwmoney_images(&ask, 0, &p, &u, &extra, &c), PRICING_OK, "priced");
	is_int(extra, 80000LL * 1000000, "the first's dearest: hd at the general row");
	is_int(gwmoney_images_own(&ask, 0, &u), 0, "the general price");
}

int main(void)
{
	by_pixels();
	by_tokens();
	by_provider();
	return done_testing();
}
