/* ledger_price_set.h: one model's new price row from the fields a caller
 * names (ledger_price_set.c), for creditctl price set and PUT
 * /v1/models/{name} alike: one set of rules for both. */
#ifndef CREDITD_LEDGER_PRICE_SET_H
#define CREDITD_LEDGER_PRICE_SET_H
#include "ledger.h"

/* A model's price as a caller sets it (ledger_price_set.c: creditctl price
 * set, PUT /v1/models/{name}): each token field (named as GET /v1/models
 * names it: ledger_price_set_field) -1 when not named; each dimension
 * -1 when not named, -2 when no longer priced. */
#define LEDGER_PRICE_TOKEN_FIELDS 5
const char *ledger_price_set_field(int f);	/* 0 to LEDGER_PRICE_TOKEN_FIELDS - 1; static */
struct ledger_price_wanted {
	int64_t tokens[LEDGER_PRICE_TOKEN_FIELDS];
	int64_t dims[PRICE_DIM_COUNT];
};
void ledger_price_set_init(struct ledger_price_wanted *w);
/* The model's new row for provider ("": its general row) from its price
 * in the cache and w, checked as a price list's row: 0, or -1 with why
 * in err (cap bytes). The caller imports it (ledger_prices_import). */
int ledger_price_set_row(const char *model, const char *provider, const struct ledger_price_wanted *w,
			 struct price_row *row, char *err, size_t cap);
#endif
