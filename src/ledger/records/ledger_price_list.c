/* ledger_price_list.c: a JSON price list read and checked (see
 * ledger_price_list.h) before anything is imported, for creditctl price
 * import and POST /v1/models/import alike: all or nothing for a list, the
 * first bad entry named; a catalogue's entries creditd cannot price
 * skipped and reported. No I/O: the rows go to ledger_prices_import. */
#include "ledger_price_list.h"
#include "pricing_catalogue.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ledger_price_list_init(struct ledger_price_list *l)
{
	memset(l, 0, sizeof(*l));
	l->skipped = json_array();
	l->unapplied = json_object();
	return l->skipped != NULL && l->unapplied != NULL ? 0 : -1;
}

void ledger_price_list_free(struct ledger_price_list *l)
{
	free(l->v);
	json_decref(l->skipped);
	json_decref(l->unapplied);
	memset(l, 0, sizeof(*l));
}

struct price_row *ledger_price_list_next(struct ledger_price_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct price_row *bigger = realloc(l->v, cap * sizeof(*bigger));
		if (bigger == NULL)
			return NULL;
		l->v = bigger;
		l->cap = cap;
	}
	return &l->v[l->n];
}

/* One model of a list, checked as a CSV line would be: v[4] is its
 * cache-write price, or PRICING_NO_CACHE_WRITE. The row, or NULL (err). */
static struct price_row *list_model(size_t entry, const char *name, const int64_t v[5], int media,
				    struct ledger_price_list *l, char *err, size_t cap)
{
	char why[256];
	struct price_row *row = ledger_price_list_next(l);
	if (row == NULL) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	int bad = media ? pricing_media_row(name, row, why, sizeof(why)) : pricing_model_row(name, v, row, why, sizeof(why));
	if (bad != 0) {
		snprintf(err, cap, "entry %zu (%s): %s", entry, name, why);
		return NULL;
	}
	l->n++;
	return row;
}

/* An entry's optional dimensions, by their names (pricing.h): an
 * integer each (reasoning true or false too), null or absent for none. */
static int list_dims(size_t entry, const char *name, json_t *e, struct price *p, char *err, size_t cap)
{
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		json_t *f = json_object_get(e, pricing_dim_name(d));
		int64_t v = json_is_integer(f) ? (int64_t)json_integer_value(f) : -1;
		if (d == PRICE_DIM_REASONING && json_is_boolean(f))
			v = json_is_true(f);
		if (f == NULL || json_is_null(f))
			continue;
		if (!pricing_dim_valid(d, v)) {
			snprintf(err, cap, "entry %zu (%s): %s must be %s", entry, name, pricing_dim_name(d),
				 d == PRICE_DIM_REASONING ? "true or false" :
				 d == PRICE_DIM_TIER_THRESHOLD ? "an integer of at least 1" : "a non-negative integer");
			return -1;
		}
		pricing_dim_put(p, d, v);
	}
	return 0;
}

/* A media row's prompt text prices: none when its input price is null
 * or absent, else the input price and the cached input's and cache
 * write's (each the input price when null or absent). 0, or -1 (err). */
static int list_media_text(size_t entry, const char *name, json_t *e, struct price *p, char *err, size_t cap)
{
	static const char *const keys[] = {"input_micros_per_mtok", "cached_input_micros_per_mtok",
					   "cache_write_micros_per_mtok"};
	int64_t *const to[] = {&p->input_micros_per_mtok, &p->cached_input_micros_per_mtok,
			       &p->cache_write_micros_per_mtok};
	assert(!pricing_prices_tokens(p));
	for (int k = 0; k < 3; k++) {
		json_t *f = json_object_get(e, keys[k]);
		if (f == NULL || json_is_null(f)) {
			if (k == 0)
				return 0;	/* no text price */
			*to[k] = p->input_micros_per_mtok;
			continue;
		}
		if (!json_is_integer(f) || json_integer_value(f) < 0) {
			snprintf(err, cap, "entry %zu (%s): %s must be a non-negative integer or null", entry, name, keys[k]);
			return -1;
		}
		*to[k] = (int64_t)json_integer_value(f);
	}
	p->dims.text_input = 1;
	return 0;
}

/* An entry's "provider" (that provider's own price for the model), one
 * the caller knows, into row; absent or null: the model's general price. */
static int list_provider(ledger_provider_known *known, void *arg, size_t entry, const char *name, json_t *e,
			 struct price_row *row, char *err, size_t cap)
{
	json_t *f = json_object_get(e, "provider");
	if (f == NULL || json_is_null(f))
		return 0;
	const char *provider = json_string_value(f);
	if (provider == NULL || provider[0] == '\0' || strlen(provider) > PRICING_PROVIDER_MAX) {
		snprintf(err, cap, "entry %zu (%s): \"provider\" must be a provider's name", entry, name);
		return -1;
	}
	if (!known(arg, provider)) {
		snprintf(err, cap, "entry %zu (%s): \"provider\" %s is no provider of the gateway's config", entry, name,
			 provider);
		return -1;
	}
	snprintf(row->provider, sizeof(row->provider), "%s", provider);
	return 0;
}

/* A list's entry i (from 0). 0, or -1 (err). */
static int list_entry(json_t *e, size_t i, ledger_provider_known *known, void *arg, struct ledger_price_list *l,
		      char *err, size_t cap)
{
	static const char *const micros_keys[] = {"input_micros_per_mtok", "cached_input_micros_per_mtok",
						  "output_micros_per_mtok", "max_output_tokens",
						  "cache_write_micros_per_mtok"};
	const char *name = json_string_value(json_object_get(e, "model"));
	int64_t v[5] = {0, 0, 0, 0, PRICING_NO_CACHE_WRITE};
	struct price_row *row;
	/* Output price and max_output_tokens null: a media row, as GET
	 * /v1/models lists one (docs/decisions.md, "A media row prices no
	 * token"). */
	int media = json_is_null(json_object_get(e, micros_keys[2])) && json_is_null(json_object_get(e, micros_keys[3]));
	for (int k = 0; k < 5 && !media; k++) {
		json_t *f = json_object_get(e, micros_keys[k]);
		if (k == 4 && f == NULL)
			break;
		if (!json_is_integer(f) || json_integer_value(f) == PRICING_NO_CACHE_WRITE) {
			snprintf(err, cap, "entry %zu (%s): %s must be an integer", i + 1, name ? name : "no model",
				 micros_keys[k]);
			return -1;
		}
		v[k] = (int64_t)json_integer_value(f);
	}
	if (name == NULL) {
		snprintf(err, cap, "entry %zu: no \"model\" name", i + 1);
		return -1;
	}
	if ((row = list_model(i + 1, name, v, media, l, err, cap)) == NULL ||
	    list_dims(i + 1, name, e, &row->price, err, cap) != 0 ||
	    list_provider(known, arg, i + 1, name, e, row, err, cap) != 0 ||
	    (media && list_media_text(i + 1, name, e, &row->price, err, cap) != 0))
		return -1;
	return 0;
}

/* An object of models as LiteLLM's catalogue has them: every entry
 * creditd can price taken, every other skipped and reported with why. */
static int list_catalogue(json_t *root, struct ledger_price_list *l, char *err, size_t cap)
{
	const char *name;
	json_t *e;
	json_object_foreach(root, name, e) {
		struct price_row *row = ledger_price_list_next(l);
		struct pricing_entry *got = malloc(sizeof(*got));
		if (row == NULL || got == NULL) {
			free(got);
			snprintf(err, cap, "out of memory");
			return -1;
		}
		if (pricing_catalogue_entry(name, e, got) != 0) {
			json_array_append_new(l->skipped, json_pack("[s, s]", name, got->why));
		} else {
			*row = got->row;
			l->n++;
		}
		for (size_t k = 0; k < got->n_unapplied; k++) {
			json_t *models = json_object_get(l->unapplied, got->unapplied[k]);
			if (models == NULL)
				json_object_set_new(l->unapplied, got->unapplied[k], models = json_array());
			json_array_append_new(models, json_string(name));
		}
		free(got);
	}
	return 0;
}

int ledger_price_list_json(json_t *root, ledger_provider_known *known, void *arg, struct ledger_price_list *l,
			   char *err, size_t cap)
{
	size_t i;
	json_t *e;
	if (json_is_object(root))
		return list_catalogue(root, l, err, cap);
	if (!json_is_array(root)) {
		snprintf(err, cap, "a JSON catalogue is a list or an object of models");
		return -1;
	}
	json_array_foreach(root, i, e)
		if (list_entry(e, i, known, arg, l, err, cap) != 0)
			return -1;
	return 0;
}

int ledger_price_list_rise(const struct ledger_price_list *l, int64_t max_pct, char *err, size_t cap)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct price_row *row = &l->v[i];
		struct price was;
		int64_t margin, old_v, new_v;
		const char *field;
		int own = 0;
		if (row->kind != PRICE_ROW_MODEL)
			continue;
		/* A provider's row rises from what it has now, a new one from
		 * nothing (as a new model: the operator's figure). */
		if (!ledger_price_model_at(row->name, row->provider, &was, &margin, &own) ||
		    own != (row->provider[0] != '\0'))
			continue;
		if (pricing_rise_above(&was, &row->price, max_pct, &field, &old_v, &new_v)) {
			snprintf(err, cap, "%s: %s rises from %" PRId64 " to %" PRId64 ", more than %" PRId64 " %%", row->name,
				 field, old_v, new_v, max_pct);
			return 1;
		}
	}
	return 0;
}
