/* ctl_prices.c: creditctl's price commands (see ctl_prices.h). A price
 * list is read whole and checked before anything is imported: all or
 * nothing, the first bad line or entry named. */
#include "ctl_prices.h"
#include "ctl_common.h"
#include "ctl_reconcile.h"
#include "dynbuf.h"
#include "jsonio.h"
#include "ledger.h"
#include "pricing.h"
#include "pricing_catalogue.h"
#include "timefmt.h"
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void price_usage(void)
{
	fprintf(stderr, "usage: creditctl price list | price import FILE [--max-increase-pct N] [--force] [--dry-run]\n"
			"       | price set MODEL [--provider NAME] FIELD=VALUE... | price history MODEL\n"
			"       | price alias PROVIDER_NAME MODEL\n");
}


struct rows { struct price_row *v; size_t n, cap; };

static struct price_row *row_next(struct rows *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct price_row *bigger = realloc(r->v, cap * sizeof(*bigger));
		if (bigger == NULL)
			return NULL;
		r->v = bigger;
		r->cap = cap;
	}
	return &r->v[r->n];
}

static int read_csv(FILE *f, const char *path, struct rows *r)
{
	char line[1024], err[256];
	int lineno = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		struct price_row *row = row_next(r);
		if (row == NULL)
			return -1;
		if (pricing_parse_row(line, row, err, sizeof(err)) != 0) {
			fprintf(stderr, "creditctl: %s:%d: %s; nothing imported\n", path, lineno, err);
			return -1;
		}
		if (row->kind != PRICE_ROW_SKIP)
			r->n++;
	}
	return 0;
}

/* What an import of a LiteLLM-shaped catalogue says besides its rows:
 * the entries it skipped and why, and each billing key creditd does not
 * apply with the models that carry it. Never silently dropped. */
struct report {
	json_t *skipped;	/* [[name, why], ...], the file's order */
	json_t *unapplied;	/* {key: [model, ...]}, keys in the order first seen */
};

/* One model of a JSON list, checked as a CSV line would be: v[4] is its
 * cache-write price, or PRICING_NO_CACHE_WRITE. The row, or NULL (said). */
static struct price_row *json_model(const char *path, size_t entry, const char *name, const int64_t v[5],
				    int media, struct rows *r)
{
	char err[256];
	struct price_row *row = row_next(r);
	if (row == NULL)
		return NULL;
	int bad = media ? pricing_media_row(name, row, err, sizeof(err)) : pricing_model_row(name, v, row, err, sizeof(err));
	if (bad != 0) {
		fprintf(stderr, "creditctl: %s: entry %zu (%s): %s; nothing imported\n", path, entry, name, err);
		return NULL;
	}
	r->n++;
	return row;
}

/* A list entry's optional dimensions, by their names (pricing.h): an
 * integer each (reasoning true or false too), null or absent for none. */
static int json_dims(const char *path, size_t entry, const char *name, json_t *e, struct price *p)
{
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		json_t *f = json_object_get(e, pricing_dim_name(d));
		int64_t v = json_is_integer(f) ? (int64_t)json_integer_value(f) : -1;
		if (d == PRICE_DIM_REASONING && json_is_boolean(f))
			v = json_is_true(f);
		if (f == NULL || json_is_null(f))
			continue;
		if (!pricing_dim_valid(d, v)) {
			fprintf(stderr, "creditctl: %s: entry %zu (%s): %s must be %s; nothing imported\n", path, entry,
				name, pricing_dim_name(d), d == PRICE_DIM_REASONING ? "true or false" :
				d == PRICE_DIM_TIER_THRESHOLD ? "an integer of at least 1" : "a non-negative integer");
			return -1;
		}
		pricing_dim_put(p, d, v);
	}
	return 0;
}

/* A media row's prompt text prices in a list entry: none when its input
 * price is null or absent, else the input price and the cached input's
 * and cache write's (each the input price when null or absent). 0, or -1
 * said. */
static int json_media_text(const char *path, size_t entry, const char *name, json_t *e, struct price *p)
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
			fprintf(stderr, "creditctl: %s: entry %zu (%s): %s must be a non-negative integer or null; nothing "
				"imported\n", path, entry, name, keys[k]);
			return -1;
		}
		*to[k] = (int64_t)json_integer_value(f);
	}
	p->dims.text_input = 1;
	return 0;
}

/* An entry's "provider" (docs/creditctl.md: that provider's own price
 * for the model), a provider of cfg's gateway, into row; absent or null:
 * the model's general price. 0, or -1 said. */
static int json_provider(const struct cfg *cfg, const char *path, size_t entry, const char *name, json_t *e,
			 struct price_row *row)
{
	json_t *f = json_object_get(e, "provider");
	if (f == NULL || json_is_null(f))
		return 0;
	const char *provider = json_string_value(f);
	if (provider == NULL || provider[0] == '\0' || strlen(provider) > PRICING_PROVIDER_MAX) {
		fprintf(stderr, "creditctl: %s: entry %zu (%s): \"provider\" must be a provider's name; nothing imported\n",
			path, entry, name);
		return -1;
	}
	if (!ctl_price_set_provider_known(cfg, provider)) {
		fprintf(stderr, "creditctl: %s: entry %zu (%s): nothing imported\n", path, entry, name);
		return -1;
	}
	snprintf(row->provider, sizeof(row->provider), "%s", provider);
	return 0;
}

/* A list of {model, provider?, input_micros_per_mtok, ...} in micros;
 * cache_write_micros_per_mtok and the dimensions may be absent. */
static int read_json_list(const struct cfg *cfg, json_t *root, const char *path, struct rows *r)
{
	static const char *const micros_keys[] = {"input_micros_per_mtok", "cached_input_micros_per_mtok",
						  "output_micros_per_mtok", "max_output_tokens",
						  "cache_write_micros_per_mtok"};
	size_t i;
	json_t *e;
	json_array_foreach(root, i, e) {
		const char *name = json_string_value(json_object_get(e, "model"));
		int64_t v[5] = {0, 0, 0, 0, PRICING_NO_CACHE_WRITE};
		struct price_row *row;
		/* Output price and max_output_tokens null: a media row, as GET
		 * /v1/models lists one (docs/decisions.md, "A media row prices no
		 * token"). */
		int media = json_is_null(json_object_get(e, micros_keys[2])) &&
			    json_is_null(json_object_get(e, micros_keys[3]));
		for (int k = 0; k < 5 && !media; k++) {
			json_t *f = json_object_get(e, micros_keys[k]);
			if (k == 4 && f == NULL)
				break;
			if (!json_is_integer(f) || json_integer_value(f) == PRICING_NO_CACHE_WRITE) {
				fprintf(stderr, "creditctl: %s: entry %zu (%s): %s must be an integer; nothing imported\n",
					path, i + 1, name ? name : "no model", micros_keys[k]);
				return -1;
			}
			v[k] = (int64_t)json_integer_value(f);
		}
		if (name == NULL) {
			fprintf(stderr, "creditctl: %s: entry %zu: no \"model\" name; nothing imported\n", path, i + 1);
			return -1;
		}
		if ((row = json_model(path, i + 1, name, v, media, r)) == NULL ||
		    json_dims(path, i + 1, name, e, &row->price) != 0 || json_provider(cfg, path, i + 1, name, e, row) != 0 ||
		    (media && json_media_text(path, i + 1, name, e, &row->price) != 0))
			return -1;
	}
	return 0;
}

/* An object of models as LiteLLM's catalogue has them
 * (pricing_catalogue.h): every entry creditd can price is taken, every
 * other is skipped and reported with why. */
static int read_json_models(json_t *root, struct rows *r, struct report *rep)
{
	const char *name;
	json_t *e;
	json_object_foreach(root, name, e) {
		struct price_row *row = row_next(r);
		struct pricing_entry *got = malloc(sizeof(*got));
		if (row == NULL || got == NULL) {
			free(got);
			return -1;
		}
		if (pricing_catalogue_entry(name, e, got) != 0) {
			json_array_append_new(rep->skipped, json_pack("[s, s]", name, got->why));
		} else {
			*row = got->row;
			r->n++;
		}
		for (size_t k = 0; k < got->n_unapplied; k++) {
			json_t *models = json_object_get(rep->unapplied, got->unapplied[k]);
			if (models == NULL)
				json_object_set_new(rep->unapplied, got->unapplied[k], models = json_array());
			json_array_append_new(models, json_string(name));
		}
		free(got);
	}
	return 0;
}

/* A JSON catalogue (docs/api.md, "Price sync with a guard"): a list of {model,
 * input_micros_per_mtok, cached_input_micros_per_mtok,
 * output_micros_per_mtok, max_output_tokens,
 * cache_write_micros_per_mtok?, and the optional dimensions by name},
 * all or nothing; or an object of models with per-token prices in
 * currency units as LiteLLM publishes them, converted exactly to micros
 * per million tokens (pricing_catalogue.h), what cannot be priced
 * skipped and reported. */
static int read_json(const struct cfg *cfg, const char *text, const char *path, struct rows *r, struct report *rep)
{
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	int rc;
	if (root == NULL) {
		fprintf(stderr, "creditctl: %s:%d: not JSON: %s; nothing imported\n", path, je.line, je.text);
		return -1;
	}
	if (json_is_array(root))
		rc = read_json_list(cfg, root, path, r);
	else if (json_is_object(root))
		rc = read_json_models(root, r, rep);
	else {
		fprintf(stderr, "creditctl: %s: a JSON catalogue is a list or an object of models; nothing imported\n", path);
		rc = -1;
	}
	json_decref(root);
	return rc;
}

static int read_prices(const struct cfg *cfg, const char *path, struct rows *r, struct report *rep)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "creditctl: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	int c;
	while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		;
	rewind(f);
	int rc;
	if (c == '[' || c == '{') {
		struct dynbuf text;
		char chunk[4096];
		size_t got;
		dynbuf_init(&text, LIMIT_PRICE_FILE_BYTES);
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			dynbuf_add(&text, chunk, got);
		char *all = text.failed ? NULL : dynbuf_take(&text);
		if (all == NULL)
			fprintf(stderr, "creditctl: %s: unreadable or larger than %d bytes; nothing imported\n", path,
				LIMIT_PRICE_FILE_BYTES);
		rc = all == NULL ? -1 : read_json(cfg, all, path, r, rep);
		free(all);
		dynbuf_free(&text);
	} else {
		rc = read_csv(f, path, r);
	}
	fclose(f);
	return rc;
}

/* A dimension's value as creditctl prints it: the number, or "none"
 * when the price does not carry it. */
static const char *dim_text(const struct price *p, enum price_dim d, char buf[24])
{
	int64_t v;
	if (!pricing_dim_get(p, d, &v))
		return "none";
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

/* Token field k of p (input, cached input, output, max output tokens,
 * cache write) as creditctl prints it: the number, or "none" on a media
 * row, which prices no token (docs/decisions.md), but for the text
 * prices (input, cached input, cache write) of one pricing them. */
static const char *token_text(const struct price *p, int k, char buf[24])
{
	const int64_t v[] = {p->input_micros_per_mtok, p->cached_input_micros_per_mtok, p->output_micros_per_mtok,
			     p->max_output_tokens, p->cache_write_micros_per_mtok};
	assert(k >= 0 && k < 5);
	if (!pricing_prices_tokens(p) && !(k != 2 && k != 3 && pricing_prices_text_input(p)))
		snprintf(buf, 24, "none");
	else
		snprintf(buf, 24, "%" PRId64, v[k]);
	return buf;
}

/* A dry run's line for a model: its new price (was NULL), or each field
 * from what it was to what it would be; a dimension when it is priced
 * (new) or changes. */
static void print_change(const struct price_row *row, const struct price *was)
{
	static const char *const names[] = {"input", "cached_input", "output", "max_output_tokens", "cache_write"};
	const struct price *p = &row->price;
	char a[24], b[24];
	printf("%s%s%s: %s", row->name, row->provider[0] != '\0' ? " at " : "", row->provider, was == NULL ? "new: " : "");
	for (int k = 0; k < 5; k++) {
		if (was == NULL)
			printf("%s%s %s", k > 0 ? ", " : "", names[k], token_text(p, k, a));
		else
			printf("%s%s %s -> %s", k > 0 ? ", " : "", names[k], token_text(was, k, a), token_text(p, k, b));
	}
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		const char *then = was != NULL ? dim_text(was, d, a) : "none", *now = dim_text(p, d, b);
		if (was == NULL && pricing_dim_get(p, d, NULL))
			printf(", %s %s", pricing_dim_name(d), now);
		else if (was != NULL && strcmp(then, now) != 0)
			printf(", %s %s -> %s", pricing_dim_name(d), then, now);
	}
	printf("\n");
}

/* The report of a catalogue's import (stdout): nothing when it skipped
 * nothing and applies every billing key. */
static void print_report(const struct report *rep)
{
	const char *key;
	json_t *v, *models;
	size_t i;
	if (json_array_size(rep->skipped) > 0)
		printf("skipped %zu catalogue entries (not imported):\n", json_array_size(rep->skipped));
	json_array_foreach(rep->skipped, i, v)
		printf("  %s: %s\n", json_string_value(json_array_get(v, 0)), json_string_value(json_array_get(v, 1)));
	if (json_object_size(rep->unapplied) > 0)
		printf("billing keys creditd does not apply (docs/gateway.md):\n");
	json_object_foreach(rep->unapplied, key, models) {
		printf("  %s (%zu model%s):", key, json_array_size(models), json_array_size(models) == 1 ? "" : "s");
		json_array_foreach(models, i, v)
			printf("%s %s", i > 0 ? "," : "", json_string_value(v));
		printf("\n");
	}
}

/* Checks every model row against the price it has now: a rise above
 * max_pct % refuses the import (said on stderr) unless force; a dry run
 * prints each change. 1 when refused, 0 when not. */
static int check_rises(const struct rows *r, const char *path, int64_t max_pct, int force, int dry)
{
	int refused = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct price_row *row = &r->v[i];
		struct price was;
		int64_t margin, old_v, new_v;
		const char *field;
		int own = 0;
		if (row->kind != PRICE_ROW_MODEL)
			continue;
		/* A provider's row rises from what it has now, a new one from
		 * nothing (as a new model: the operator's figure). */
		if (!ledger_price_model_at(row->name, row->provider, &was, &margin, &own) || own != (row->provider[0] != '\0')) {
			if (dry)
				print_change(row, NULL);
			continue;
		}
		if (dry && !pricing_same(&was, &row->price))
			print_change(row, &was);
		if (!force && !refused && pricing_rise_above(&was, &row->price, max_pct, &field, &old_v, &new_v)) {
			fprintf(stderr, "creditctl: %s: %s: %s rises from %" PRId64 " to %" PRId64
				", more than --max-increase-pct %" PRId64 "; nothing imported (--force imports it)\n",
				path, row->name, field, old_v, new_v, max_pct);
			refused = 1;
		}
	}
	return refused;
}

/* price import FILE [--max-increase-pct N] [--force] [--dry-run]: a
 * price list, CSV or JSON, all or nothing. A model's price rising by more
 * than N % (20 by default) refuses the whole import unless --force (a
 * catalogue's mistake, or a surprise, is not billed); --dry-run prints
 * what would change and changes nothing. A catalogue's report (entries
 * skipped, billing keys not applied) is printed first, whatever follows. */
static int price_import(struct store *db, const struct cfg *cfg, int argc, char **argv)
{
	int64_t max_pct = 20;
	int force = 0, dry = 0, rc = 0, refused = 0;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry = 1;
		else if (strcmp(argv[i], "--max-increase-pct") == 0 && i + 1 < argc && ctl_common_parse_i64(argv[i + 1], &max_pct) == 0 &&
			 max_pct >= 0 && max_pct <= 1000000)
			i++;
		else {
			price_usage();
			return 2;
		}
	}
	struct rows r = {NULL, 0, 0};
	struct report rep = {json_array(), json_object()};
	enum cd_err err = CD_OK;
	if (read_prices(cfg, argv[3], &r, &rep) != 0) {
		rc = 1;
		goto out;
	}
	print_report(&rep);
	err = ledger_prices_reload(db);
	if (err == CD_OK)
		refused = check_rises(&r, argv[3], max_pct, force, dry);
	if (err == CD_OK && !refused && !dry)
		err = ledger_prices_import(db, r.v, r.n);
	if (err != CD_OK)
		rc = ctl_common_fail(db, err, "price import");
	else if (refused)
		rc = 1;
	else
		printf(dry ? "dry run: %zu price rows checked, nothing imported\n" : "imported %zu price rows\n", r.n);
out:
	free(r.v);
	json_decref(rep.skipped);
	json_decref(rep.unapplied);
	return rc;
}

/* One price of a model's history: the five prices, then each dimension
 * it carried. */
static void print_price_change(const struct ledger_price_change *c)
{
	char at[TIMEFMT_LEN], v[24];
	const struct price *p = &c->price;
	timefmt_rfc3339(c->effective_at, at);
	char t[5][24];
	for (int k = 0; k < 5; k++)
		token_text(p, k, t[k]);
	printf("%s  input %s  cached_input %s  output %s  max_output_tokens %s  cache_write %s", at, t[0], t[1], t[2],
	       t[3], t[4]);
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		if (pricing_dim_get(p, d, NULL))
			printf("  %s %s", pricing_dim_name(d), dim_text(p, d, v));
	if (c->provider[0] != '\0')
		printf("  provider %s", c->provider);
	printf("\n");
}

/* Every price the model had, oldest first, with when it took effect
 * (micros per million tokens), read in pages of LIMIT_LIST_PAGE. */
static int price_history(struct store *db, const char *model)
{
	struct ledger_price_change *rows = calloc(LIMIT_LIST_PAGE, sizeof(*rows)), last = {0};
	int n = LIMIT_LIST_PAGE, first = 1;
	enum cd_err rc = rows != NULL ? CD_OK : CD_E_INTERNAL;
	while (rc == CD_OK && n == LIMIT_LIST_PAGE) {
		rc = ledger_price_history(db, model, first ? NULL : &last, rows, LIMIT_LIST_PAGE, &n);
		if (rc != CD_OK)
			break;
		for (int i = 0; i < n; i++)
			print_price_change(&rows[i]);
		if (n > 0)
			last = rows[n - 1];
		first = 0;
	}
	free(rows);
	if (rc == CD_E_NOT_FOUND) {
		fprintf(stderr, "creditctl: no model named %s has ever been priced\n", model);
		return 1;
	}
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "price history");
}

int ctl_prices_command(struct store *db, const struct cfg *cfg, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "set") == 0)
		return ctl_price_set(db, cfg, argc, argv);
	if (argc >= 3 && strcmp(argv[2], "alias") == 0)
		return ctl_reconcile_price_alias(db, argc, argv);
	if (argc == 4 && strcmp(argv[2], "history") == 0)
		return price_history(db, argv[3]);
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		enum cd_err rc = ledger_prices_reload(db);
		return rc == CD_OK ? ctl_common_print_json(ledger_prices_json("")) : ctl_common_fail(db, rc, "price list");
	}
	if (argc < 4 || strcmp(argv[2], "import") != 0) {
		price_usage();
		return 2;
	}
	return price_import(db, cfg, argc, argv);
}
