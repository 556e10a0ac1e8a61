/* ledger_price_list.h: a price list in JSON as creditctl price import and
 * POST /v1/models/import read it (docs/creditctl.md, "price import";
 * docs/api.md, "Prices"): one reader for both, so the two take the same
 * lists, skip the same catalogue entries and refuse the same rises. */
#ifndef CREDITD_LEDGER_PRICE_LIST_H
#define CREDITD_LEDGER_PRICE_LIST_H
#include "ledger.h"

/* The rows read (v[0..n), grown by ledger_price_list_next), and what a
 * LiteLLM-shaped catalogue says besides them: the entries skipped and
 * why, and each billing key creditd does not apply with the models that
 * carry it. Never silently dropped. */
struct ledger_price_list {
	struct price_row *v;
	size_t n, cap;
	json_t *skipped;	/* [[name, why], ...], the list's order */
	json_t *unapplied;	/* {key: [model, ...]}, keys in the order first seen */
};
/* Empty; 0, or -1 out of memory. ledger_price_list_free frees it. */
int ledger_price_list_init(struct ledger_price_list *l);
void ledger_price_list_free(struct ledger_price_list *l);
/* Room for one more row at v[n] (the caller fills it and counts it in
 * n); NULL out of memory. */
struct price_row *ledger_price_list_next(struct ledger_price_list *l);

/* Whether a list entry's "provider" names a provider of the gateway's
 * config (the caller knows the config). */
typedef int ledger_provider_known(void *arg, const char *name);

/* root, a JSON price list: a list of {model, provider?,
 * input_micros_per_mtok, cached_input_micros_per_mtok,
 * output_micros_per_mtok, max_output_tokens,
 * cache_write_micros_per_mtok?, the optional dimensions by name}, all or
 * nothing; or an object of models as LiteLLM publishes them, what
 * cannot be priced skipped and reported (pricing_catalogue.h). 0, or -1
 * with the first bad entry and why in err ("entry 3 (gpt-4o): ..."). */
int ledger_price_list_json(json_t *root, ledger_provider_known *known, void *arg, struct ledger_price_list *l,
			   char *err, size_t cap);

/* The first model row of l whose price rises by more than max_pct % of
 * the price the cache has for it (a new model, or a provider's new row,
 * rises from nothing: the operator's figure): 1 with it said in err
 * ("gpt-4o: input_micros_per_mtok rises from 2500000 to 9000000, more than
 * 20 %"), 0 when none. The cache should be fresh
 * (ledger_prices_reload or ledger_prices_sync first). */
int ledger_price_list_rise(const struct ledger_price_list *l, int64_t max_pct, char *err, size_t cap);
#endif
