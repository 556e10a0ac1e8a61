/* ctl_price_set.c: creditctl price set MODEL [--provider NAME] FIELD=VALUE...
 * (docs/creditctl.md): one model's price, its fields named as GET
 * /v1/models names them; with --provider, that provider's own price for
 * the model (docs/gateway.md, "Which price a call is charged"), a
 * provider of the config's gateway, for a model with a general price.
 * The row is the ledger's ledger_price_set_row, as PUT /v1/models/{name}
 * builds it (what is kept, what a new model needs, the checks); the
 * write is the import's (a changed price enters the model's history). */
#include "ctl_prices.h"
#include "ctl_common.h"
#include "config.h"
#include "gwconfig.h"
#include "jsonio.h"
#include "ledger.h"
#include "ledger_price_set.h"
#include "pricing.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static int parse_one(int argc, char **argv, int i, struct ledger_price_wanted *w, int *used)
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
	/* reasoning as GET /v1/models and a price list show it: true or false (1 or 0 too). */
	int flag = value != NULL && (strcmp(value, "true") == 0 || strcmp(value, "false") == 0);
	if (flag)
		v = strcmp(value, "true") == 0;
	if (value == NULL || (!none && !flag && ctl_common_parse_i64(value, &v) != 0)) {
		fprintf(stderr, "creditctl: price set: %s: want FIELD=VALUE, VALUE an integer%s\n", arg,
			" (a dimension also none; reasoning true or false)");
		return -1;
	}
	for (int f = 0; f < LEDGER_PRICE_TOKEN_FIELDS; f++)
		if (names(arg, len, ledger_price_set_field(f))) {
			if (none || flag || v < 0) {
				fprintf(stderr, "creditctl: price set: %s must be a non-negative integer\n",
					ledger_price_set_field(f));
				return -1;
			}
			w->tokens[f] = v;
			return 0;
		}
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		if (names(arg, len, pricing_dim_name(d))) {
			if (!none && (!pricing_dim_valid(d, v) || (flag && d != PRICE_DIM_REASONING))) {
				fprintf(stderr, "creditctl: price set: %s must be %s, or none\n", pricing_dim_name(d),
					d == PRICE_DIM_REASONING ? "true or false (1 or 0)" : d == PRICE_DIM_TIER_THRESHOLD ?
					"an integer of at least 1" : "a non-negative integer");
				return -1;
			}
			w->dims[d] = none ? -2 : v;
			return 0;
		}
	fprintf(stderr, "creditctl: price set: %.*s is no price field (see creditctl price list)\n", (int)len, arg);
	return -1;
}

/* The model's new row (ledger_price_set_row): 0, or -1 said. */
static int new_row(const char *model, const char *provider, const struct ledger_price_wanted *w, struct price_row *row)
{
	char err[256];
	if (ledger_price_set_row(model, provider, w, row, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "creditctl: price set: %s\n", err);
	return -1;
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
	struct ledger_price_wanted w;
	struct price_row row;
	const char *provider = provider_take(&argc, argv, 3);	/* before MODEL or after it */
	ledger_price_set_init(&w);
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
