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
#include "timefmt.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void price_usage(void)
{
	fprintf(stderr, "usage: creditctl price list | price import FILE [--max-increase-pct N] [--force] [--dry-run]\n"
			"       | price history MODEL | price alias PROVIDER_NAME MODEL\n");
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

/* A JSON catalogue's model with no cache-write price: its CSV row has
 * none either (the input price). */
#define NO_CACHE_WRITE INT64_MIN

/* One model of a JSON catalogue, checked as a CSV line would be: v[4]
 * is its cache-write price, or NO_CACHE_WRITE. */
static int json_model(const char *path, size_t entry, const char *name, const int64_t v[5], struct rows *r)
{
	char line[512], err[256], cache_write[32] = "";
	struct price_row *row = row_next(r);
	if (row == NULL)
		return -1;
	if (v[4] != NO_CACHE_WRITE)
		snprintf(cache_write, sizeof(cache_write), ",%" PRId64, v[4]);
	snprintf(line, sizeof(line), "model,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "%s", name, v[0], v[1], v[2],
		 v[3], cache_write);
	if (strchr(name, ',') != NULL || pricing_parse_row(line, row, err, sizeof(err)) != 0) {
		fprintf(stderr, "creditctl: %s: entry %zu (%s): %s; nothing imported\n", path, entry, name,
			strchr(name, ',') != NULL ? "a model name has no comma" : err);
		return -1;
	}
	r->n++;
	return 0;
}

/* A list of {model, input_micros_per_mtok, ...} in micros;
 * cache_write_micros_per_mtok may be absent (the input price). */
static int read_json_list(json_t *root, const char *path, struct rows *r)
{
	static const char *const micros_keys[] = {"input_micros_per_mtok", "cached_input_micros_per_mtok",
						  "output_micros_per_mtok", "max_output_tokens",
						  "cache_write_micros_per_mtok"};
	size_t i;
	json_t *e;
	json_array_foreach(root, i, e) {
		const char *name = json_string_value(json_object_get(e, "model"));
		int64_t v[5] = {0, 0, 0, 0, NO_CACHE_WRITE};
		for (int k = 0; k < 5; k++) {
			json_t *f = json_object_get(e, micros_keys[k]);
			if (k == 4 && f == NULL)
				break;
			if (!json_is_integer(f) || json_integer_value(f) == NO_CACHE_WRITE) {
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
		if (json_model(path, i + 1, name, v, r) != 0)
			return -1;
	}
	return 0;
}

/* An object of models with per-token prices in currency units. */
static int read_json_models(json_t *root, const char *path, struct rows *r)
{
	static const char *const usd_keys[] = {"input_cost_per_token", "cache_read_input_token_cost",
					       "output_cost_per_token", "cache_creation_input_token_cost"};
	const char *name;
	json_t *e;
	size_t entry = 0;
	json_object_foreach(root, name, e) {
		int64_t v[5] = {0, 0, 0, 0, NO_CACHE_WRITE};
		char num[64];
		entry++;
		for (int k = 0; k < 4; k++) {
			json_t *f = json_object_get(e, usd_keys[k]);
			if (k == 1 && f == NULL)
				f = json_object_get(e, usd_keys[0]);	/* no cache price: the input price */
			if (k == 3 && f == NULL)
				break;		/* no cache-write price: the input price */
			if (jsonio_number_text(f, num, sizeof(num)) != 0 ||
			    pricing_decimal_scaled(num, 12, &v[k == 3 ? 4 : k]) != 0) {
				fprintf(stderr, "creditctl: %s: entry %zu (%s): %s %s; nothing imported\n", path, entry, name,
					usd_keys[k], f == NULL ? "is missing" : "is not a price in whole micros per million tokens");
				return -1;
			}
		}
		json_t *m = json_object_get(e, "max_output_tokens");
		if (m == NULL)
			m = json_object_get(e, "max_tokens");
		if (!json_is_integer(m)) {
			fprintf(stderr, "creditctl: %s: entry %zu (%s): max_output_tokens must be an integer; nothing imported\n",
				path, entry, name);
			return -1;
		}
		v[3] = (int64_t)json_integer_value(m);
		if (json_model(path, entry, name, v, r) != 0)
			return -1;
	}
	return 0;
}

/* A JSON catalogue (DESIGN §9): a list of {model, input_micros_per_mtok,
 * cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens,
 * cache_write_micros_per_mtok?}, or an object of models with per-token
 * prices in currency units as public catalogues publish them
 * (input_cost_per_token, output_cost_per_token,
 * cache_read_input_token_cost (else the input price),
 * cache_creation_input_token_cost (else the input price: DESIGN §12),
 * max_output_tokens or max_tokens), converted exactly from their decimal
 * text to micros per million tokens. */
static int read_json(const char *text, const char *path, struct rows *r)
{
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	int rc;
	if (root == NULL) {
		fprintf(stderr, "creditctl: %s:%d: not JSON: %s; nothing imported\n", path, je.line, je.text);
		return -1;
	}
	if (json_is_array(root))
		rc = read_json_list(root, path, r);
	else if (json_is_object(root))
		rc = read_json_models(root, path, r);
	else {
		fprintf(stderr, "creditctl: %s: a JSON catalogue is a list or an object of models; nothing imported\n", path);
		rc = -1;
	}
	json_decref(root);
	return rc;
}

static int read_prices(const char *path, struct rows *r)
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
		rc = all == NULL ? -1 : read_json(all, path, r);
		free(all);
		dynbuf_free(&text);
	} else {
		rc = read_csv(f, path, r);
	}
	fclose(f);
	return rc;
}

/* A dry run's line for a model: its new price (was NULL), or each field
 * from what it was to what it would be. */
static void print_change(const struct price_row *row, const struct price *was)
{
	const struct price *p = &row->price;
	if (was == NULL) {
		printf("%s: new: input %" PRId64 ", cached_input %" PRId64 ", output %" PRId64 ", max_output_tokens %" PRId64
		       ", cache_write %" PRId64 "\n", row->name, p->input_micros_per_mtok, p->cached_input_micros_per_mtok,
		       p->output_micros_per_mtok, p->max_output_tokens, p->cache_write_micros_per_mtok);
		return;
	}
	printf("%s: input %" PRId64 " -> %" PRId64 ", cached_input %" PRId64 " -> %" PRId64 ", output %" PRId64
	       " -> %" PRId64 ", max_output_tokens %" PRId64 " -> %" PRId64 ", cache_write %" PRId64 " -> %" PRId64 "\n",
	       row->name, was->input_micros_per_mtok, p->input_micros_per_mtok, was->cached_input_micros_per_mtok,
	       p->cached_input_micros_per_mtok, was->output_micros_per_mtok, p->output_micros_per_mtok,
	       was->max_output_tokens, p->max_output_tokens, was->cache_write_micros_per_mtok,
	       p->cache_write_micros_per_mtok);
}

/* price import FILE [--max-increase-pct N] [--force] [--dry-run]: a
 * price list, CSV or JSON, all or nothing. A model's price rising by more
 * than N % (20 by default) refuses the whole import unless --force (a
 * catalogue's mistake, or a surprise, is not billed); --dry-run prints
 * what would change and changes nothing. */
static int price_import(struct ledger *lg, int argc, char **argv)
{
	int64_t max_pct = 20;
	int force = 0, dry = 0;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry = 1;
		else if (strcmp(argv[i], "--max-increase-pct") == 0 && i + 1 < argc && ctl_parse_i64(argv[i + 1], &max_pct) == 0 &&
			 max_pct >= 0 && max_pct <= 1000000)
			i++;
		else {
			price_usage();
			return 2;
		}
	}
	struct rows r = {NULL, 0, 0};
	if (read_prices(argv[3], &r) != 0) {
		free(r.v);
		return 1;
	}
	enum cd_err rc = ledger_prices_reload(lg);
	if (rc != CD_OK) {
		free(r.v);
		return ctl_fail(lg, rc, "price import");
	}
	int refused = 0;
	for (size_t i = 0; i < r.n; i++) {
		const struct price_row *row = &r.v[i];
		struct price was;
		int64_t margin, old_v, new_v;
		const char *field;
		if (row->kind != PRICE_ROW_MODEL)
			continue;
		if (!ledger_price_model(row->name, &was, &margin)) {
			if (dry)
				print_change(row, NULL);
			continue;
		}
		if (dry && memcmp(&was, &row->price, sizeof(was)) != 0)
			print_change(row, &was);
		if (!force && !refused && pricing_rise_above(&was, &row->price, max_pct, &field, &old_v, &new_v)) {
			fprintf(stderr, "creditctl: %s: %s: %s rises from %" PRId64 " to %" PRId64
				", more than --max-increase-pct %" PRId64 "; nothing imported (--force imports it)\n",
				argv[3], row->name, field, old_v, new_v, max_pct);
			refused = 1;
		}
	}
	if (refused || dry) {
		if (dry && !refused)
			printf("dry run: %zu price rows checked, nothing imported\n", r.n);
		free(r.v);
		return refused ? 1 : 0;
	}
	rc = ledger_prices_import(lg, r.v, r.n);
	free(r.v);
	if (rc != CD_OK)
		return ctl_fail(lg, rc, "price import");
	printf("imported %zu price rows\n", r.n);
	return 0;
}

static void print_price_change(const struct ledger_price_change *c)
{
	char at[TIMEFMT_LEN];
	const struct price *p = &c->price;
	timefmt_rfc3339(c->effective_at, at);
	printf("%s  input %" PRId64 "  cached_input %" PRId64 "  output %" PRId64 "  max_output_tokens %" PRId64
	       "  cache_write %" PRId64 "\n", at, p->input_micros_per_mtok, p->cached_input_micros_per_mtok,
	       p->output_micros_per_mtok, p->max_output_tokens, p->cache_write_micros_per_mtok);
}

/* Every price the model had, oldest first, with when it took effect
 * (micros per million tokens), read in pages of LIMIT_LIST_PAGE. */
static int price_history(struct ledger *lg, const char *model)
{
	struct ledger_price_change *rows = calloc(LIMIT_LIST_PAGE, sizeof(*rows)), last = {0};
	int n = LIMIT_LIST_PAGE, first = 1;
	enum cd_err rc = rows != NULL ? CD_OK : CD_E_INTERNAL;
	while (rc == CD_OK && n == LIMIT_LIST_PAGE) {
		rc = ledger_price_history(lg, model, first ? NULL : &last, rows, LIMIT_LIST_PAGE, &n);
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
	return rc == CD_OK ? 0 : ctl_fail(lg, rc, "price history");
}

int ctl_price(struct ledger *lg, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "alias") == 0)
		return ctl_price_alias(lg, argc, argv);
	if (argc == 4 && strcmp(argv[2], "history") == 0)
		return price_history(lg, argv[3]);
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		enum cd_err rc = ledger_prices_reload(lg);
		return rc == CD_OK ? ctl_print_json(ledger_prices_json("")) : ctl_fail(lg, rc, "price list");
	}
	if (argc < 4 || strcmp(argv[2], "import") != 0) {
		price_usage();
		return 2;
	}
	return price_import(lg, argc, argv);
}
