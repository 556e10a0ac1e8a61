/* ledger_price_set.c: one model's new price row from the fields a caller
 * names (creditctl price set, PUT /v1/models/{name}: docs/creditctl.md,
 * docs/api.md "Prices"), over its price as the cache holds it. A row
 * already priced keeps every field not named (a provider's new row starts
 * from the general one); a new model needs its input, output and
 * max_output_tokens. Checked as a price list's row is (pricing_model_row,
 * pricing_media_row) before anything is written; the write is the
 * import's (ledger_prices_import). Reads the cache only: no I/O. */
#include "ledger.h"
#include "ledger_price_set.h"
#include <stdio.h>
#include <string.h>

static const char *const token_fields[LEDGER_PRICE_TOKEN_FIELDS] = {
	"input_micros_per_mtok", "cached_input_micros_per_mtok", "output_micros_per_mtok", "max_output_tokens",
	"cache_write_micros_per_mtok"};

const char *ledger_price_set_field(int f)
{
	return f >= 0 && f < LEDGER_PRICE_TOKEN_FIELDS ? token_fields[f] : "";
}

void ledger_price_set_init(struct ledger_price_wanted *w)
{
	for (int f = 0; f < LEDGER_PRICE_TOKEN_FIELDS; f++)
		w->tokens[f] = -1;
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		w->dims[d] = -1;
}

/* The token fields of the row: those named, else the price's now (a
 * media row's kept), else -1 (a new model's). 0, or -1 with err. */
static int token_values(const char *model, const struct ledger_price_wanted *w, const struct price *was, int priced,
			int media, int64_t v[LEDGER_PRICE_TOKEN_FIELDS], char *err, size_t cap)
{
	const int64_t now[LEDGER_PRICE_TOKEN_FIELDS] = {was->input_micros_per_mtok, was->cached_input_micros_per_mtok,
							was->output_micros_per_mtok, was->max_output_tokens,
							was->cache_write_micros_per_mtok};
	for (int f = 0; f < LEDGER_PRICE_TOKEN_FIELDS; f++) {
		v[f] = w->tokens[f] >= 0 ? w->tokens[f] : media ? now[f] : priced && pricing_prices_tokens(was) ? now[f] : -1;
		if (v[f] < 0 && f != 1 && f != 4) {
			snprintf(err, cap, "%s is not priced yet: give its %s", model, token_fields[f]);
			return -1;
		}
	}
	/* A new model's cached and cache-write input: its input price. */
	v[1] = v[1] >= 0 ? v[1] : v[0];
	v[4] = v[4] >= 0 ? v[4] : v[0];
	return 0;
}

int ledger_price_set_row(const char *model, const char *provider, const struct ledger_price_wanted *w,
			 struct price_row *row, char *err, size_t cap)
{
	struct price was;
	int64_t margin, v[LEDGER_PRICE_TOKEN_FIELDS];
	int own, any = 0;
	memset(&was, 0, sizeof(was));
	int priced = ledger_price_model_at(model, provider, &was, &margin, &own);
	if (provider[0] != '\0' && !priced) {
		snprintf(err, cap, "%s has no general price: set it first (without a provider)", model);
		return -1;
	}
	for (int f = 0; f < LEDGER_PRICE_TOKEN_FIELDS; f++)
		any |= w->tokens[f] >= 0;
	/* A media row stays one unless its tokens are priced whole: then it
	 * is a row with token prices (docs/decisions.md, "A media row prices
	 * no token"). */
	int media = priced && !pricing_prices_tokens(&was) && !any;
	if (token_values(model, w, &was, priced, media, v, err, cap) != 0)
		return -1;
	if ((media ? pricing_media_row(model, row, err, cap) : pricing_model_row(model, v, row, err, cap)) != 0)
		return -1;
	if (media)
		row->price = was;	/* its prompt's text prices kept, if any */
	else if (priced)
		row->price.dims = was.dims;
	row->price.dims.no_tokens = media;
	row->price.dims.text_input &= media;
	snprintf(row->provider, sizeof(row->provider), "%s", provider);
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		if (w->dims[d] != -1)
			pricing_dim_put(&row->price, d, w->dims[d] == -2 ? -1 : w->dims[d]);
	return 0;
}
