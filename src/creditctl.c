/* creditctl.c: the operator's command line for creditd. It reads the same
 * config as the daemon and talks to the database only through the ledger
 * module. Exit status: 0 success, 1 failure or violations, 2 usage. */
#include "config.h"
#include "dynbuf.h"
#include "jsonio.h"
#include "keys.h"
#include "ledger.h"
#include "pricing.h"
#include "timefmt.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CREDITD_SQL_DIR
#define CREDITD_SQL_DIR "/usr/local/share/creditd/sql"
#endif

static void usage(void)
{
	fprintf(stderr,
		"usage: creditctl [-c FILE] COMMAND ... | creditctl --version\n"
		"  migrate [--sql-dir DIR] [--user USER] [--password-file FILE]\n"
		"  key create --scope guard|read|app|admin[,...] [--name NAME] [--account ID]\n"
		"  key list\n"
		"  key revoke ID\n"
		"  account create ID [--kind user|workspace]\n"
		"  account show ID\n"
		"  grant ID AMOUNT_MICROS --source promo|adjustment|signup_bonus [--expires RFC3339] [--priority P]\n"
		"        [--description TEXT]\n"
		"  verify\n"
		"  export ID [--format csv|json]\n"
		"  price list\n"
		"  price import FILE [--max-increase-pct N] [--force] [--dry-run]   (CSV or JSON)\n"
		"  price history MODEL\n"
		"  promo create CODE AMOUNT_MICROS [--max N] [--expires RFC3339] [--ttl-days N]\n"
		"  promo list\n"
		"  events list [--state pending|delivered|failed] [--after ID] [--limit N]\n"
		"  events retry ID|--failed\n"
		"  plan set NAME --credits MICROS [--rollover none|full|capped] [--rollover-cap MICROS]\n"
		"        [--member-cap MICROS] [--stripe-price ID]...\n"
		"  plan list\n");
}

/* Finds "--name VALUE" in argv[from..]; NULL when absent. */
static const char *opt(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* 1 when argv[from..] is only "--name VALUE" pairs with names from the
 * NULL-terminated list: a mistyped option (--expire for --expires) must
 * stop the command, not be ignored and change what it does. */
static int opts_known(int argc, char **argv, int from, const char *const *names)
{
	for (int i = from; i < argc; i += 2) {
		const char *const *n = names;
		while (*n != NULL && strcmp(*n, argv[i]) != 0)
			n++;
		if (*n == NULL || i + 1 >= argc) {
			fprintf(stderr, "creditctl: unknown option or missing value: %s\n", argv[i]);
			return 0;
		}
	}
	return 1;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0)
		return -1;
	*out = v;
	return 0;
}

static int fail(struct ledger *lg, enum cd_err rc, const char *what)
{
	const char *msg = ledger_errmsg(lg);
	fprintf(stderr, "creditctl: %s: %s%s%s\n", what, cd_strerror(rc), msg[0] ? ": " : "", msg);
	return 1;
}

static int print_json(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text != NULL ? text : "null");
	free(text);
	json_decref(v);
	return 0;
}

/* ---- What the ledger hands over, printed here (the ledger never prints) ---- */

#define KEY_LIST_LINE "%-6s %-14s %-20s %-21s %-21s %-21s %s\n"

/* The key list's header goes out with the first row, or after a listing
 * without any: never before a failure. */
struct key_listing { int header_done; };

static void key_list_header(struct key_listing *l)
{
	if (!l->header_done)
		printf(KEY_LIST_LINE, "ID", "PREFIX", "SCOPES", "ACCOUNT", "CREATED", "REVOKED", "NAME");
	l->header_done = 1;
}

static void print_key(void *ctx, const struct ledger_key_row *k)
{
	char id[24], scopes[32], created[TIMEFMT_LEN], revoked[TIMEFMT_LEN] = "-";
	key_list_header(ctx);
	snprintf(id, sizeof(id), "%lld", (long long)k->id);
	keys_format_scopes(k->scopes, scopes, sizeof(scopes));
	timefmt_rfc3339(k->created_at, created);
	if (k->revoked_at >= 0)
		timefmt_rfc3339(k->revoked_at, revoked);
	printf(KEY_LIST_LINE, id, k->prefix, scopes, k->account != NULL ? k->account : "-", created, revoked, k->name);
}

static void print_applied(void *ctx, const char *name)
{
	(void)ctx;
	printf("applied %s\n", name);
}

static void print_violation(void *ctx, const struct ledger_violation *v)
{
	(void)ctx;
	printf("%s: %s: account %s: %s %s, %s %s\n", v->warning ? "warning" : "violation", v->check, v->account, v->left,
	       v->left_value, v->right, v->right_value);
}

/* An export as CSV (with a header line, which goes out like the key
 * list's) or as JSON lines. */
struct export_out { int csv; int header_done; };

static void export_header(struct export_out *x)
{
	if (x->csv && !x->header_done)
		printf("id,amount_micros,balance_after_micros,cause,source,reference,description,created_at\n");
	x->header_done = 1;
}

/* A quoted CSV field, quotes doubled; NULL is "". */
static void csv_field(const char *s)
{
	putchar('"');
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void print_journal_row(void *ctx, const struct ledger_journal_row *r)
{
	struct export_out *x = ctx;
	char t[TIMEFMT_LEN];
	export_header(x);
	timefmt_rfc3339(r->created_at, t);
	if (!x->csv) {
		json_t *row = json_pack("{s:s, s:I, s:I, s:s, s:s?, s:s?, s:s?, s:s}", "id", r->id, "amount_micros",
					(json_int_t)r->amount_micros, "balance_after_micros",
					(json_int_t)r->balance_after_micros, "cause", r->cause, "source", r->source,
					"reference", r->reference, "description", r->description, "created_at", t);
		char *line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", line != NULL ? line : "{}");
		free(line);
		json_decref(row);
		return;
	}
	printf("%s,%lld,%lld,%s,", r->id, (long long)r->amount_micros, (long long)r->balance_after_micros, r->cause);
	csv_field(r->source);
	putchar(',');
	csv_field(r->reference);
	putchar(',');
	csv_field(r->description);
	printf(",%s\n", t);
}

/* key create: the new key alone on stdout's last line (scripts take it
 * from there), its id on stderr. A key bound to an account (--account)
 * reaches that account only; an admin key reaches everything, so it is
 * never bound. */
static int key_create(struct ledger *lg, int argc, char **argv)
{
	const char *scope = opt(argc, argv, 3, "--scope"), *name = opt(argc, argv, 3, "--name");
	const char *account = opt(argc, argv, 3, "--account");
	int mask = scope != NULL ? keys_parse_scopes(scope) : -1;
	char key[KEYS_LEN + 1], prefix[16];
	unsigned char hash[KEYS_HASH_LEN];
	int64_t id;
	static const char *const known[] = {"--scope", "--name", "--account", NULL};
	if (!opts_known(argc, argv, 3, known)) {
		usage();
		return 2;
	}
	if (mask < 0) {
		fprintf(stderr, "creditctl: --scope must list guard, read, app and/or admin\n");
		return 2;
	}
	if (account != NULL && ((mask & KEY_SCOPE_ADMIN) || account[0] == '\0')) {
		fprintf(stderr, "creditctl: %s\n", account[0] == '\0' ? "--account needs an account id"
			: "an admin key cannot be bound to an account (--account is for guard, read and app keys)");
		return 2;
	}
	if (keys_generate(key) != 0) {
		fprintf(stderr, "creditctl: the random generator failed\n");
		return 1;
	}
	keys_sha256(key, strlen(key), hash);
	snprintf(prefix, sizeof(prefix), "%.12s", key);
	const struct ledger_key_new n = {hash, prefix, name ? name : "", mask, account};
	enum cd_err rc = ledger_key_create(lg, &n, &id);
	if (rc == CD_E_NOT_FOUND) {
		fprintf(stderr, "creditctl: key create: no account '%s'; nothing created\n", account);
		return 1;
	}
	if (rc != CD_OK)
		return fail(lg, rc, "key create");
	fprintf(stderr, "key %lld created; it is shown only once\n", (long long)id);
	printf("%s\n", key);
	return 0;
}

static int cmd_key(struct ledger *lg, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "create") == 0)
		return key_create(lg, argc, argv);
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		struct key_listing l = {0};
		enum cd_err rc = ledger_key_list(lg, print_key, &l);
		if (rc == CD_OK)
			key_list_header(&l);
		return rc == CD_OK ? 0 : fail(lg, rc, "key list");
	}
	int64_t id;
	if (argc >= 4 && strcmp(argv[2], "revoke") == 0 && parse_i64(argv[3], &id) == 0) {
		enum cd_err rc = ledger_key_revoke(lg, id);
		if (rc == CD_OK)
			printf("key %lld revoked\n", (long long)id);
		return rc == CD_OK ? 0 : fail(lg, rc, "key revoke");
	}
	usage();
	return 2;
}

/* Prints a write's answer: its body on success, its error on a refusal. */
static int answered(struct ledger *lg, enum cd_err rc, struct ledger_result *res, const char *what)
{
	if (rc != CD_OK)
		return fail(lg, rc, what);
	if (res->refusal.why == REFUSE_NONE)
		return print_json(res->body);
	const char *msg = json_string_value(json_object_get(json_object_get(res->body, "error"), "message"));
	fprintf(stderr, "creditctl: %s: %s: %s\n", what, cd_strerror(refusal_err(res->refusal.why)), msg != NULL ? msg : "");
	json_decref(res->body);
	return 1;
}

/* The API's rule for text: min to max bytes of UTF-8 without control
 * characters (jansson's json_string refuses invalid UTF-8). */
static int text_ok(const char *s, size_t min, size_t max)
{
	if (jsonio_check_text(s, strlen(s), min, max) != 0)
		return 0;
	json_t *probe = json_string(s);
	int ok = probe != NULL;
	json_decref(probe);
	return ok;
}

static int cmd_account(struct ledger *lg, int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[2], "show") == 0) {
		json_t *out = NULL;
		enum cd_err rc = ledger_account_get(lg, argv[3], &out);
		return rc == CD_OK ? print_json(out) : fail(lg, rc, "account show");
	}
	if (argc >= 4 && strcmp(argv[2], "create") == 0) {
		struct account_new n;
		static const char *const known[] = {"--kind", NULL};
		const char *kind = opt(argc, argv, 4, "--kind");
		struct ledger_result res;
		if (!opts_known(argc, argv, 4, known)) {
			usage();
			return 2;
		}
		memset(&n, 0, sizeof(n));
		n.id = argv[3];
		n.kind = kind != NULL ? kind : "user";
		n.monthly_limit_micros = -1;
		n.low_balance_micros = -1;
		n.daily_limit_micros = -1;
		n.requests_per_minute = n.tokens_per_minute = -1;
		if (!text_ok(n.id, 1, LIMIT_ACCOUNT_ID_BYTES) || (strcmp(n.kind, "user") != 0 && strcmp(n.kind, "workspace") != 0)) {
			fprintf(stderr, "creditctl: bad account id or kind\n");
			return 2;
		}
		return answered(lg, ledger_account_create(lg, NULL, &n, &res), &res, "account create");
	}
	usage();
	return 2;
}

static int cmd_grant(struct ledger *lg, int argc, char **argv)
{
	static const char *const known[] = {"--source", "--expires", "--priority", "--description", NULL};
	struct grant_new g;
	if (argc < 4 || !opts_known(argc, argv, 4, known)) {
		usage();
		return 2;
	}
	const char *exp = opt(argc, argv, 4, "--expires"), *prio = opt(argc, argv, 4, "--priority");
	memset(&g, 0, sizeof(g));
	g.account = argc >= 3 ? argv[2] : NULL;
	g.source = opt(argc, argv, 4, "--source");
	g.description = opt(argc, argv, 4, "--description");
	g.expires_at = -1;
	g.priority = GRANT_PRIORITY_DEFAULT;
	if (parse_i64(argv[3], &g.amount_micros) != 0 || g.amount_micros <= 0 ||
	    g.amount_micros > LIMIT_AMOUNT_MICROS_MAX || g.source == NULL ||
	    (strcmp(g.source, "promo") != 0 && strcmp(g.source, "adjustment") != 0 &&
	     strcmp(g.source, "signup_bonus") != 0) ||
	    (exp != NULL && (timefmt_parse(exp, &g.expires_at) != 0 || g.expires_at <= timefmt_now())) ||
	    (prio != NULL && (parse_i64(prio, &g.priority) != 0 || g.priority < 0 || g.priority > GRANT_PRIORITY_MAX)) ||
	    (g.description != NULL && !text_ok(g.description, 0, LIMIT_DESCRIPTION_BYTES))) {
		usage();
		return 2;
	}
	struct ledger_result res;
	return answered(lg, ledger_grant(lg, NULL, &g, &res), &res, "grant");
}

/* ---- price import ---- */

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

/* One model of a JSON catalogue, checked as a CSV line would be. */
static int json_model(const char *path, size_t entry, const char *name, const int64_t v[4], struct rows *r)
{
	char line[512], err[256];
	struct price_row *row = row_next(r);
	if (row == NULL)
		return -1;
	snprintf(line, sizeof(line), "model,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64, name, v[0], v[1], v[2], v[3]);
	if (strchr(name, ',') != NULL || pricing_parse_row(line, row, err, sizeof(err)) != 0) {
		fprintf(stderr, "creditctl: %s: entry %zu (%s): %s; nothing imported\n", path, entry, name,
			strchr(name, ',') != NULL ? "a model name has no comma" : err);
		return -1;
	}
	r->n++;
	return 0;
}

/* A JSON catalogue (DESIGN §9): a list of {model, input_micros_per_mtok,
 * cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens},
 * or an object of models with per-token prices in currency units as
 * public catalogues publish them (input_cost_per_token,
 * output_cost_per_token, cache_read_input_token_cost (else the input
 * price), max_output_tokens or max_tokens), converted exactly from their
 * decimal text to micros per million tokens. */
static int read_json(const char *text, const char *path, struct rows *r)
{
	static const char *const micros_keys[] = {"input_micros_per_mtok", "cached_input_micros_per_mtok",
						  "output_micros_per_mtok", "max_output_tokens"};
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	int rc = 0;
	if (root == NULL) {
		fprintf(stderr, "creditctl: %s:%d: not JSON: %s; nothing imported\n", path, je.line, je.text);
		return -1;
	}
	if (json_is_array(root)) {
		size_t i;
		json_t *e;
		json_array_foreach(root, i, e) {
			const char *name = json_string_value(json_object_get(e, "model"));
			int64_t v[4];
			for (int k = 0; rc == 0 && k < 4; k++) {
				json_t *f = json_object_get(e, micros_keys[k]);
				if (!json_is_integer(f)) {
					fprintf(stderr, "creditctl: %s: entry %zu (%s): %s must be an integer; nothing imported\n",
						path, i + 1, name ? name : "no model", micros_keys[k]);
					rc = -1;
				} else {
					v[k] = (int64_t)json_integer_value(f);
				}
			}
			if (rc == 0 && name == NULL) {
				fprintf(stderr, "creditctl: %s: entry %zu: no \"model\" name; nothing imported\n", path, i + 1);
				rc = -1;
			}
			if (rc != 0 || json_model(path, i + 1, name, v, r) != 0) {
				rc = -1;
				break;
			}
		}
	} else if (json_is_object(root)) {
		static const char *const usd_keys[] = {"input_cost_per_token", "cache_read_input_token_cost",
						       "output_cost_per_token"};
		const char *name;
		json_t *e;
		size_t entry = 0;
		json_object_foreach(root, name, e) {
			int64_t v[4];
			char num[64];
			entry++;
			for (int k = 0; rc == 0 && k < 3; k++) {
				json_t *f = json_object_get(e, usd_keys[k]);
				if (k == 1 && f == NULL)
					f = json_object_get(e, usd_keys[0]);	/* no cache price: the input price */
				if (jsonio_number_text(f, num, sizeof(num)) != 0 || pricing_decimal_scaled(num, 12, &v[k]) != 0) {
					fprintf(stderr, "creditctl: %s: entry %zu (%s): %s %s; nothing imported\n", path, entry, name,
						usd_keys[k], f == NULL ? "is missing" : "is not a price in whole micros per million tokens");
					rc = -1;
				}
			}
			json_t *m = json_object_get(e, "max_output_tokens");
			if (m == NULL)
				m = json_object_get(e, "max_tokens");
			if (rc == 0 && !json_is_integer(m)) {
				fprintf(stderr, "creditctl: %s: entry %zu (%s): max_output_tokens must be an integer; nothing imported\n",
					path, entry, name);
				rc = -1;
			}
			if (rc == 0) {
				v[3] = (int64_t)json_integer_value(m);
				rc = json_model(path, entry, name, v, r);
			}
			if (rc != 0)
				break;
		}
	} else {
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
		else if (strcmp(argv[i], "--max-increase-pct") == 0 && i + 1 < argc && parse_i64(argv[i + 1], &max_pct) == 0 &&
			 max_pct >= 0 && max_pct <= 1000000)
			i++;
		else {
			usage();
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
		return fail(lg, rc, "price import");
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
				printf("%s: new: input %" PRId64 ", cached_input %" PRId64 ", output %" PRId64 ", max_output_tokens %" PRId64 "\n",
				       row->name, row->price.input_micros_per_mtok, row->price.cached_input_micros_per_mtok,
				       row->price.output_micros_per_mtok, row->price.max_output_tokens);
			continue;
		}
		if (dry && memcmp(&was, &row->price, sizeof(was)) != 0)
			printf("%s: input %" PRId64 " -> %" PRId64 ", cached_input %" PRId64 " -> %" PRId64 ", output %" PRId64
			       " -> %" PRId64 ", max_output_tokens %" PRId64 " -> %" PRId64 "\n", row->name,
			       was.input_micros_per_mtok, row->price.input_micros_per_mtok, was.cached_input_micros_per_mtok,
			       row->price.cached_input_micros_per_mtok, was.output_micros_per_mtok,
			       row->price.output_micros_per_mtok, was.max_output_tokens, row->price.max_output_tokens);
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
		return fail(lg, rc, "price import");
	printf("imported %zu price rows\n", r.n);
	return 0;
}

static void history_row(void *ctx, const struct price *p, int64_t effective_at)
{
	char at[TIMEFMT_LEN];
	(void)ctx;
	timefmt_rfc3339(effective_at, at);
	printf("%s  input %" PRId64 "  cached_input %" PRId64 "  output %" PRId64 "  max_output_tokens %" PRId64 "\n",
	       at, p->input_micros_per_mtok, p->cached_input_micros_per_mtok, p->output_micros_per_mtok,
	       p->max_output_tokens);
}

static int cmd_price(struct ledger *lg, int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[2], "history") == 0) {
		/* Every price the model had, oldest first, with when it took
		 * effect (micros per million tokens). */
		enum cd_err rc = ledger_price_history(lg, argv[3], history_row, NULL);
		if (rc == CD_E_NOT_FOUND) {
			fprintf(stderr, "creditctl: no model named %s has ever been priced\n", argv[3]);
			return 1;
		}
		return rc == CD_OK ? 0 : fail(lg, rc, "price history");
	}
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		enum cd_err rc = ledger_prices_reload(lg);
		return rc == CD_OK ? print_json(ledger_prices_json("")) : fail(lg, rc, "price list");
	}
	if (argc < 4 || strcmp(argv[2], "import") != 0) {
		usage();
		return 2;
	}
	return price_import(lg, argc, argv);
}

static void promo_row(void *ctx, const json_t *code)
{
	char *text = json_dumps(code, JSON_COMPACT | JSON_PRESERVE_ORDER);
	(void)ctx;
	printf("%s\n", text != NULL ? text : "null");
	free(text);
}

/* promo create CODE AMOUNT [--max N] [--expires T] [--ttl-days N]; promo list */
static int cmd_promo(struct ledger *lg, int argc, char **argv)
{
	static const char *const known[] = {"--max", "--expires", "--ttl-days", NULL};
	if (argc == 3 && strcmp(argv[2], "list") == 0) {
		enum cd_err rc = ledger_promo_list(lg, promo_row, NULL);
		return rc == CD_OK ? 0 : fail(lg, rc, "promo list");
	}
	if (argc < 5 || strcmp(argv[2], "create") != 0 || !opts_known(argc, argv, 5, known)) {
		usage();
		return 2;
	}
	const char *max = opt(argc, argv, 5, "--max"), *exp = opt(argc, argv, 5, "--expires");
	const char *ttl = opt(argc, argv, 5, "--ttl-days");
	struct promo_new p = {argv[3], 0, -1, -1, -1};
	if (!ledger_name_ok(p.code, PROMO_CODE_CHARS, LIMIT_PROMO_CODE_MIN_BYTES, LIMIT_PROMO_CODE_BYTES) ||
	    parse_i64(argv[4], &p.amount_micros) != 0 || p.amount_micros <= 0 ||
	    p.amount_micros > LIMIT_AMOUNT_MICROS_MAX ||
	    (max != NULL && (parse_i64(max, &p.max_redemptions) != 0 || p.max_redemptions < 1 ||
			     p.max_redemptions > LIMIT_PROMO_REDEMPTIONS_MAX)) ||
	    (exp != NULL && (timefmt_parse(exp, &p.expires_at) != 0 || p.expires_at <= timefmt_now())) ||
	    (ttl != NULL && (parse_i64(ttl, &p.grant_ttl_days) != 0 || p.grant_ttl_days < 1 ||
			     p.grant_ttl_days > LIMIT_PROMO_GRANT_TTL_DAYS_MAX))) {
		usage();
		return 2;
	}
	struct ledger_result res;
	return answered(lg, ledger_promo_create(lg, NULL, &p, &res), &res, "promo create");
}

static void event_row(void *ctx, const struct ledger_event_row *r)
{
	char created[TIMEFMT_LEN], when[TIMEFMT_LEN] = "-";
	(void)ctx;
	timefmt_rfc3339(r->created_at, created);
	if (r->delivered_at >= 0)
		timefmt_rfc3339(r->delivered_at, when);
	else if (r->next_attempt_at >= 0)
		timefmt_rfc3339(r->next_attempt_at, when);
	printf("%lld\t%s\t%s\t%s\t%s\tattempts=%lld\t%s\t%s\n", (long long)r->id, created, r->type, r->account,
	       r->state, (long long)r->attempts, when, r->last_error != NULL ? r->last_error : "");
}

/* events list [--state S] [--after ID] [--limit N]; events retry ID|--failed.
 * A line per event: id, created, type, account, state, attempts, then the
 * time it was delivered (delivered) or is next tried (pending), and the
 * last error. */
static int cmd_events(struct ledger *lg, int argc, char **argv)
{
	static const char *const known[] = {"--state", "--after", "--limit", NULL};
	if (argc == 4 && strcmp(argv[2], "retry") == 0) {
		int64_t id = 0;
		int count = 0;
		if (strcmp(argv[3], "--failed") != 0 && (parse_i64(argv[3], &id) != 0 || id <= 0)) {
			usage();
			return 2;
		}
		enum cd_err rc = ledger_events_retry(lg, id, &count);
		if (rc != CD_OK)
			return fail(lg, rc, "events retry");
		fprintf(stderr, "%d event(s) to be sent again\n", count);
		return id > 0 && count == 0 ? 1 : 0;
	}
	if (argc < 3 || strcmp(argv[2], "list") != 0 || !opts_known(argc, argv, 3, known)) {
		usage();
		return 2;
	}
	const char *state = opt(argc, argv, 3, "--state"), *after = opt(argc, argv, 3, "--after");
	const char *limit = opt(argc, argv, 3, "--limit");
	int64_t a = 0, n = 100;
	if ((state != NULL && strcmp(state, "pending") != 0 && strcmp(state, "delivered") != 0 &&
	     strcmp(state, "failed") != 0) ||
	    (after != NULL && (parse_i64(after, &a) != 0 || a < 0)) ||
	    (limit != NULL && (parse_i64(limit, &n) != 0 || n < 1 || n > 100000))) {
		usage();
		return 2;
	}
	enum cd_err rc = ledger_events_list(lg, state, a, (int)n, event_row, NULL);
	return rc == CD_OK ? 0 : fail(lg, rc, "events list");
}

/* plan set NAME --credits N [...]; plan list */
static int cmd_plan(struct ledger *lg, int argc, char **argv)
{
	static const char *const known[] = {"--credits", "--rollover", "--rollover-cap", "--member-cap",
					    "--stripe-price", NULL};
	const char *prices[LIMIT_PLAN_STRIPE_PRICES];
	if (argc == 3 && strcmp(argv[2], "list") == 0) {
		json_t *out = NULL;
		enum cd_err rc = ledger_plans(lg, &out);
		return rc == CD_OK ? print_json(out) : fail(lg, rc, "plan list");
	}
	if (argc < 4 || strcmp(argv[2], "set") != 0 || !opts_known(argc, argv, 4, known)) {
		usage();
		return 2;
	}
	const char *credits = opt(argc, argv, 4, "--credits"), *cap = opt(argc, argv, 4, "--rollover-cap");
	const char *member = opt(argc, argv, 4, "--member-cap");
	struct plan_def p = {argv[3], 0, opt(argc, argv, 4, "--rollover"), -1, -1, prices, 0};
	int bad = 0;
	for (int i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--stripe-price") != 0)
			continue;
		if (p.nprices == LIMIT_PLAN_STRIPE_PRICES ||
		    !ledger_name_ok(argv[i + 1], STRIPE_ID_CHARS, 1, LIMIT_STRIPE_ID_BYTES))
			bad = 1;
		else
			prices[p.nprices++] = argv[i + 1];
	}
	if (p.rollover == NULL)
		p.rollover = "none";
	if (bad || !ledger_name_ok(p.name, PLAN_NAME_CHARS, 1, LIMIT_PLAN_NAME_BYTES) || credits == NULL ||
	    parse_i64(credits, &p.credits_micros) != 0 || p.credits_micros < 0 ||
	    p.credits_micros > LIMIT_AMOUNT_MICROS_MAX ||
	    (strcmp(p.rollover, "none") != 0 && strcmp(p.rollover, "full") != 0 && strcmp(p.rollover, "capped") != 0) ||
	    (cap != NULL && (parse_i64(cap, &p.rollover_cap_micros) != 0 || p.rollover_cap_micros < 0 ||
			     p.rollover_cap_micros > LIMIT_AMOUNT_MICROS_MAX)) ||
	    (strcmp(p.rollover, "capped") == 0) != (cap != NULL) ||
	    (member != NULL && (parse_i64(member, &p.member_cap_micros) != 0 || p.member_cap_micros < 0 ||
				p.member_cap_micros > LIMIT_AMOUNT_MICROS_MAX))) {
		usage();
		return 2;
	}
	struct ledger_result res;
	return answered(lg, ledger_plan_put(lg, NULL, &p, &res), &res, "plan set");
}

static int dispatch(struct ledger *lg, int argc, char **argv, const struct cfg *cfg)
{
	const char *cmd = argv[1];
	long violations = 0;
	enum cd_err rc;
	if (strcmp(cmd, "migrate") == 0) {
		static const char *const known[] = {"--sql-dir", "--user", "--password-file", NULL};
		const char *dir = opt(argc, argv, 2, "--sql-dir");
		if (!opts_known(argc, argv, 2, known)) {
			usage();
			return 2;
		}
		if (dir == NULL)
			dir = getenv("CREDITD_SQL_DIR");
		rc = ledger_migrate(lg, dir != NULL ? dir : CREDITD_SQL_DIR, print_applied, NULL);
		return rc == CD_OK ? 0 : fail(lg, rc, "migrate");
	}
	if (strcmp(cmd, "key") == 0)
		return cmd_key(lg, argc, argv);
	if (strcmp(cmd, "account") == 0)
		return cmd_account(lg, argc, argv);
	if (strcmp(cmd, "grant") == 0)
		return cmd_grant(lg, argc, argv);
	if (strcmp(cmd, "promo") == 0)
		return cmd_promo(lg, argc, argv);
	if (strcmp(cmd, "events") == 0)
		return cmd_events(lg, argc, argv);
	if (strcmp(cmd, "plan") == 0)
		return cmd_plan(lg, argc, argv);
	if (strcmp(cmd, "price") == 0)
		return cmd_price(lg, argc, argv);
	if (strcmp(cmd, "verify") == 0) {
		long warnings = 0;
		rc = ledger_verify(lg, print_violation, NULL, &violations, &warnings);
		if (rc != CD_OK)
			return fail(lg, rc, "verify");
		/* Warnings are printed, and only violations fail. */
		printf("%ld violations, %ld warnings\n", violations, warnings);
		return violations == 0 ? 0 : 1;
	}
	if (strcmp(cmd, "export") == 0 && argc >= 3) {
		static const char *const known[] = {"--format", NULL};
		const char *format = opt(argc, argv, 3, "--format");
		int csv = format == NULL || strcmp(format, "csv") == 0;
		if (!opts_known(argc, argv, 3, known) || (format != NULL && !csv && strcmp(format, "json") != 0)) {
			usage();
			return 2;
		}
		struct export_out x = {csv, 0};
		rc = ledger_export(lg, argv[2], print_journal_row, &x);
		if (rc == CD_OK)
			export_header(&x);
		return rc == CD_OK ? 0 : fail(lg, rc, "export");
	}
	(void)cfg;
	usage();
	return 2;
}

int main(int argc, char **argv)
{
	struct cfg cfg;
	char err[512];
	const char *config = NULL;
	if (argc >= 3 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0)) {
		config = argv[2];
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("creditctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	/* Migrations run as the schema's owner; every other command as the
	 * runtime user of the config (DESIGN §10). */
	if (cfg_load(config, &cfg, err, sizeof(err)) != 0 ||
	    (strcmp(argv[1], "migrate") == 0 && cfg_use_migrate_user(&cfg, opt(argc, argv, 2, "--user"),
								      opt(argc, argv, 2, "--password-file"), err, sizeof(err)) != 0)) {
		fprintf(stderr, "creditctl: %s\n", err);
		cfg_free(&cfg);
		return 2;
	}
	/* Operators' commands scan whole tables; the daemon's short statement
	 * timeouts are for the request path. */
	if (cfg.db_read_timeout_seconds < LIMIT_DB_ADMIN_TIMEOUT_SECONDS)
		cfg.db_read_timeout_seconds = LIMIT_DB_ADMIN_TIMEOUT_SECONDS;
	if (cfg.db_write_timeout_seconds < LIMIT_DB_ADMIN_TIMEOUT_SECONDS)
		cfg.db_write_timeout_seconds = LIMIT_DB_ADMIN_TIMEOUT_SECONDS;
	ledger_global_init();
	struct ledger *lg = ledger_new(&cfg);
	int rc = lg != NULL ? dispatch(lg, argc, argv, &cfg) : 1;
	ledger_free(lg);
	cfg_free(&cfg);
	return rc;
}
