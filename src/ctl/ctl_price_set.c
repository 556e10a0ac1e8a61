/* ctl_price_set.c: creditctl price set MODEL [--provider NAME] FIELD=VALUE...
 * (docs/creditctl.md): one model's price, its fields named as GET
 * /v1/models names them; with --provider, that provider's own price for
 * the model (docs/gateway.md, "Which price a call is charged"), a
 * provider of the config's gateway, for a model with a general price. A
 * row already priced keeps every field not named (a provider's new row
 * starts from the general one); a new model needs its input, output and
 * max_output_tokens. Checked as a price list's row is
 * (pricing_parse_row, pricing_dim_valid) before anything is written; the
 * write is the import's (a changed price enters the model's history). */
#include "ctl_prices.h"
#include "ctl_common.h"
#include "config.h"
#include "gwconfig.h"
#include "jsonio.h"
#include "ledger.h"
#include "pricing.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The five fields every model has, by name, in the CSV row's order. */
static const char *const token_fields[] = {"input_micros_per_mtok", "cached_input_micros_per_mtok",
					   "output_micros_per_mtok", "max_output_tokens", "cache_write_micros_per_mtok"};
enum { TOKEN_FIELDS = 5 };

/* What the command line sets: each token field's value (-1: not named),
 * each dimension's (-1: not named, -2: "none", not priced). */
struct wanted {
	int64_t tokens[TOKEN_FIELDS];
	int64_t dims[PRICE_DIM_COUNT];
};

/* name, or name with its unit left off ("input" for
 * input_micros_per_mtok, "web_search" for web_search_micros_per_call),
 * against field: 1 when they are the same. "-" counts as "_" and a
 * leading "--" is dropped. */
static int names(const char *name, size_t len, const char *field)
{
	static const char *const units[] = {"", "_micros_per_mtok", "_micros_per_call"};
	char norm[96];
	if (len >= 2 && name[0] == '-' && name[1] == '-') {
		name += 2;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(norm))
		return 0;
	for (size_t i = 0; i < len; i++)
		norm[i] = name[i] == '-' ? '_' : name[i];
	norm[len] = '\0';
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t n = strlen(units[u]), f = strlen(field);
		if (f == len + n && strncmp(field, norm, len) == 0 && strcmp(field + len, units[u]) == 0)
			return 1;
	}
	return 0;
}

/* One FIELD=VALUE (or --FIELD VALUE: *used 2) into w. 0, or -1 said. */
static int parse_one(int argc, char **argv, int i, struct wanted *w, int *used)
{
	const char *arg = argv[i], *eq = strchr(arg, '='), *value = eq != NULL ? eq + 1 : NULL;
	size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	*used = 1;
	if (value == NULL && strncmp(arg, "--", 2) == 0 && i + 1 < argc) {
		value = argv[i + 1];
		*used = 2;
	}
	int64_t v = -1;
	int none = value != NULL && strcmp(value, "none") == 0;
	if (value == NULL || (!none && ctl_common_parse_i64(value, &v) != 0)) {
		fprintf(stderr, "creditctl: price set: %s: want FIELD=VALUE, VALUE an integer%s\n", arg,
			" (a dimension also none)");
		return -1;
	}
	for (int f = 0; f < TOKEN_FIELDS; f++)
		if (names(arg, len, token_fields[f])) {
			if (none || v < 0) {
				fprintf(stderr, "creditctl: price set: %s must be a non-negative integer\n", token_fields[f]);
				return -1;
			}
			w->tokens[f] = v;
			return 0;
		}
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		if (names(arg, len, pricing_dim_name(d))) {
			if (!none && !pricing_dim_valid(d, v)) {
				fprintf(stderr, "creditctl: price set: %s must be %s, or none\n", pricing_dim_name(d),
					d == PRICE_DIM_REASONING ? "0 or 1" : d == PRICE_DIM_TIER_THRESHOLD ?
					"an integer of at least 1" : "a non-negative integer");
				return -1;
			}
			w->dims[d] = none ? -2 : v;
			return 0;
		}
	fprintf(stderr, "creditctl: price set: %.*s is no price field (see creditctl price list)\n", (int)len, arg);
	return -1;
}

/* The model's new row (provider's: "" the general one): its price now
 * (a provider's new row: the general price) with w's fields, checked as
 * a price list's row. 0, or -1 said. */
static int new_row(const char *model, const char *provider, const struct wanted *w, struct price_row *row)
{
	struct price was;
	int64_t margin, v[TOKEN_FIELDS];
	char err[256];
	int own;
	memset(&was, 0, sizeof(was));
	int priced = ledger_price_model_at(model, provider, &was, &margin, &own);
	if (provider[0] != '\0' && !priced) {
		fprintf(stderr, "creditctl: price set: %s has no general price: set it first (without --provider)\n", model);
		return -1;
	}
	int any = 0;
	const int64_t now[TOKEN_FIELDS] = {was.input_micros_per_mtok, was.cached_input_micros_per_mtok,
					   was.output_micros_per_mtok, was.max_output_tokens, was.cache_write_micros_per_mtok};
	for (int f = 0; f < TOKEN_FIELDS; f++)
		any |= w->tokens[f] >= 0;
	/* A media row stays one unless its tokens are priced whole: then it
	 * is a row with token prices (docs/decisions.md, "A media row prices
	 * no token"). */
	int media = priced && !pricing_prices_tokens(&was) && !any;
	for (int f = 0; f < TOKEN_FIELDS; f++) {
		v[f] = w->tokens[f] >= 0 ? w->tokens[f] : media ? now[f] : priced && pricing_prices_tokens(&was) ? now[f] : -1;
		if (v[f] < 0 && f != 1 && f != 4) {
			fprintf(stderr, "creditctl: price set: %s is not priced yet: give its %s\n", model, token_fields[f]);
			return -1;
		}
	}
	/* A new model's cached and cache-write input: its input price. */
	v[1] = v[1] >= 0 ? v[1] : v[0];
	v[4] = v[4] >= 0 ? v[4] : v[0];
	int bad = media ? pricing_media_row(model, row, err, sizeof(err)) : pricing_model_row(model, v, row, err, sizeof(err));
	if (bad != 0) {
		fprintf(stderr, "creditctl: price set: %s\n", err);
		return -1;
	}
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

/* Prints model's entry of the price list (as GET /v1/models lists it;
 * provider's, "" the general one) from the loaded cache: 0, or 1 when it
 * is not there. */
static int price_print(const char *model, const char *provider)
{
	json_t *all = ledger_prices_json(""), *m;
	size_t i;
	json_array_foreach(json_object_get(all, "data"), i, m)
		if (jsonio_str(m, "model") != NULL && strcmp(jsonio_str(m, "model"), model) == 0 &&
		    strcmp(jsonio_str(m, "provider") != NULL ? jsonio_str(m, "provider") : "", provider) == 0) {
			json_incref(m);
			json_decref(all);
			return ctl_common_print_json(m);
		}
	json_decref(all);
	fprintf(stderr, "creditctl: no model named %s is priced\n", model);
	return 1;
}

int ctl_price_set_provider_known(const struct cfg *cfg, const char *name)
{
	const struct gwconfig *gw = gwconfig_of(cfg);
	for (size_t i = 0; i < gw->nproviders; i++)
		if (strcmp(gw->providers[i].name, name) == 0)
			return 1;
	fprintf(stderr, "creditctl: price: no provider named '%s' in the config's gateway (", name);
	for (size_t i = 0; i < gw->nproviders; i++)
		fprintf(stderr, "%s%s", i > 0 ? ", " : "", gw->providers[i].name);
	fprintf(stderr, "): a provider's price is for a [provider NAME] of the config, openai or anthropic\n");
	return 0;
}

/* --provider NAME (or --provider=NAME), anywhere in argv[from..], taken
 * out of it: the name, "" when not given, NULL when given without one
 * (said). */
static const char *provider_take(int *argc, char **argv, int from)
{
	for (int i = from; i < *argc; i++) {
		const char *name = NULL;
		int used = 1;
		if (strcmp(argv[i], "--provider") == 0 && i + 1 < *argc) {
			name = argv[i + 1];
			used = 2;
		} else if (strncmp(argv[i], "--provider=", 11) == 0) {
			name = argv[i] + 11;
		} else if (strcmp(argv[i], "--provider") != 0) {
			continue;
		}
		if (name == NULL || name[0] == '\0') {
			fprintf(stderr, "creditctl: price set: --provider wants a provider's name\n");
			return NULL;
		}
		for (int j = i; j + used < *argc; j++)
			argv[j] = argv[j + used];
		*argc -= used;
		return name;
	}
	return "";
}

int ctl_price_set(struct store *db, const struct cfg *cfg, int argc, char **argv)
{
	struct wanted w;
	struct price_row row;
	const char *provider = provider_take(&argc, argv, 3);	/* before MODEL or after it */
	for (int f = 0; f < TOKEN_FIELDS; f++)
		w.tokens[f] = -1;
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		w.dims[d] = -1;
	if (argc < 5) {
		fprintf(stderr, "usage: creditctl price set MODEL [--provider NAME] FIELD=VALUE... (a field as GET "
				"/v1/models names it; a dimension =none is no longer priced)\n");
		return 2;
	}
	if (provider == NULL || (provider[0] != '\0' && !ctl_price_set_provider_known(cfg, provider)))
		return 2;
	for (int i = 4, used; i < argc; i += used)
		if (parse_one(argc, argv, i, &w, &used) != 0)
			return 2;
	enum cd_err rc = ledger_prices_reload(db);
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "price set");
	if (new_row(argv[3], provider, &w, &row) != 0)
		return 2;
	rc = ledger_prices_import(db, &row, 1);
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "price set");
	rc = ledger_prices_reload(db);
	return rc == CD_OK ? price_print(argv[3], provider) : ctl_common_fail(db, rc, "price set");
}
