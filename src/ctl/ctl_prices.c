/* ctl_prices.c: creditctl's price commands (see ctl_prices.h). A price
 * list is read whole and checked before anything is imported: all or
 * nothing, the first bad line or entry named. */
#include "ctl_prices.h"
#include "ctl_common.h"
#include "ctl_reconcile.h"
#include "config.h"
#include "dynbuf.h"
#include "jsonio.h"
#include "ledger.h"
#include "ledger_price_list.h"
#include "pricing.h"
#include "timefmt.h"
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is wrong (naming the argument), then the usage text; returns 2. */
static int price_usage(const char *what, const char *arg)
{
	fprintf(stderr, "creditctl: %s%s%s\n", what, arg != NULL ? ": " : "", arg != NULL ? arg : "");
	fprintf(stderr, "usage: creditctl price list | price import FILE [--max-increase-pct N] [--force] [--dry-run]\n"
			"       | price set MODEL [--provider NAME] FIELD=VALUE... | price history MODEL\n"
			"       | price alias PROVIDER_NAME MODEL\n");
	return 2;
}


/* A CSV price list, a row a line (pricing_parse_row). */
static int read_csv(FILE *f, const char *path, struct ledger_price_list *r)
{
	char line[1024], err[256];
	int lineno = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		struct price_row *row = ledger_price_list_next(r);
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

static int provider_known(void *arg, const char *name)
{
	return ctl_price_set_provider_known(arg, name);
}

/* A JSON catalogue (docs/api.md, "Price sync with a guard"), as
 * ledger_price_list_json reads it: a list in micros, all or nothing, or
 * LiteLLM's object of models, what cannot be priced skipped and reported. */
static int read_json(const struct cfg *cfg, const char *text, const char *path, struct ledger_price_list *r)
{
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	char err[512];
	if (root == NULL) {
		fprintf(stderr, "creditctl: %s:%d: not JSON: %s; nothing imported\n", path, je.line, je.text);
		return -1;
	}
	int rc = ledger_price_list_json(root, provider_known, (void *)cfg, r, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "creditctl: %s: %s; nothing imported\n", path, err);
	json_decref(root);
	return rc;
}

static int read_prices(const struct cfg *cfg, const char *path, struct ledger_price_list *r)
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
		rc = all == NULL ? -1 : read_json(cfg, all, path, r);
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
static void print_report(const struct ledger_price_list *rep)
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
static int check_rises(const struct ledger_price_list *r, const char *path, int64_t max_pct, int force, int dry)
{
	char err[512];
	for (size_t i = 0; dry && i < r->n; i++) {
		const struct price_row *row = &r->v[i];
		struct price was;
		int64_t margin;
		int own = 0;
		if (row->kind != PRICE_ROW_MODEL)
			continue;
		if (!ledger_price_model_at(row->name, row->provider, &was, &margin, &own) || own != (row->provider[0] != '\0'))
			print_change(row, NULL);
		else if (!pricing_same(&was, &row->price))
			print_change(row, &was);
	}
	if (force || !ledger_price_list_rise(r, max_pct, err, sizeof(err)))
		return 0;
	fprintf(stderr, "creditctl: %s: %s (--max-increase-pct %" PRId64 "); nothing imported (--force imports it)\n",
		path, err, max_pct);
	return 1;
}

_Static_assert(LIMIT_PRICE_RISE_PCT_MAX == 1000000, "price_import's message names the bound");

/* price import FILE [--max-increase-pct N] [--force] [--dry-run]: a
 * price list, CSV or JSON, all or nothing. A model's price rising by more
 * than N % (20 by default) refuses the whole import unless --force (a
 * catalogue's mistake, or a surprise, is not billed); --dry-run prints
 * what would change and changes nothing. A catalogue's report (entries
 * skipped, billing keys not applied) is printed first, whatever follows. */
static int price_import(struct store *db, const struct cfg *cfg, int argc, char **argv)
{
	int64_t max_pct = LIMIT_PRICE_RISE_PCT_DEFAULT;
	int force = 0, dry = 0, rc = 0, refused = 0;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry = 1;
		else if (strcmp(argv[i], "--max-increase-pct") == 0 && i + 1 >= argc)
			return price_usage("an option without its value", argv[i]);
		else if (strcmp(argv[i], "--max-increase-pct") == 0 && (ctl_common_parse_i64(argv[i + 1], &max_pct) != 0 ||
			 max_pct < 0 || max_pct > LIMIT_PRICE_RISE_PCT_MAX))
			return price_usage("--max-increase-pct is not a whole number from 0 to 1000000", argv[i + 1]);
		else if (strcmp(argv[i], "--max-increase-pct") == 0)
			i++;
		else
			return price_usage("unknown option or argument", argv[i]);
	}
	struct ledger_price_list r;
	enum cd_err err = CD_OK;
	if (ledger_price_list_init(&r) != 0 || read_prices(cfg, argv[3], &r) != 0) {
		rc = 1;
		goto out;
	}
	print_report(&r);
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
	ledger_price_list_free(&r);
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
	if (argc != 4 && argc >= 3 && strcmp(argv[2], "history") == 0)
		return price_usage(argc < 4 ? "price history needs a MODEL" : "price history takes one MODEL; unexpected argument",
				   argc < 4 ? NULL : argv[4]);
	if (argc > 3 && strcmp(argv[2], "list") == 0)
		return price_usage("price list takes no argument", argv[3]);
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		enum cd_err rc = ledger_prices_reload(db);
		/* As GET /v1/models answers it, with the deployment's currency. */
		return rc == CD_OK ? ctl_common_print_json(ledger_prices_json(cfg->currency != NULL ? cfg->currency : ""))
				   : ctl_common_fail(db, rc, "price list");
	}
	if (argc < 3)
		return price_usage("price needs list, import, set, history or alias", NULL);
	if (strcmp(argv[2], "import") != 0)
		return price_usage("unknown price command", argv[2]);
	if (argc < 4)
		return price_usage("price import needs a FILE", NULL);
	return price_import(db, cfg, argc, argv);
}
