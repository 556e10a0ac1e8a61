/* creditctl.c: the operator's command line for creditd. It reads the same
 * config as the daemon and talks to the database only through the ledger
 * module. Exit status: 0 success, 1 failure or violations, 2 usage. */
#include "config.h"
#include "jsonio.h"
#include "keys.h"
#include "ledger.h"
#include "pricing.h"
#include "timefmt.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CREDITD_SQL_DIR
#define CREDITD_SQL_DIR "/usr/local/share/creditd/sql"
#endif

static void usage(void)
{
	fprintf(stderr,
		"usage: creditctl [-c FILE] COMMAND ...\n"
		"  migrate [--sql-dir DIR]\n"
		"  key create --scope guard|read|admin[,...] [--name NAME]\n"
		"  key list\n"
		"  key revoke ID\n"
		"  account create ID [--kind user|workspace]\n"
		"  account show ID\n"
		"  grant ID AMOUNT_MICROS --source promo|adjustment|signup_bonus [--expires RFC3339] [--priority P]\n"
		"        [--description TEXT]\n"
		"  verify\n"
		"  export ID [--format csv|json]\n"
		"  price list\n"
		"  price import FILE.csv\n");
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

static int cmd_key(struct ledger *lg, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "create") == 0) {
		const char *scope = opt(argc, argv, 3, "--scope"), *name = opt(argc, argv, 3, "--name");
		int mask = scope != NULL ? keys_parse_scopes(scope) : -1;
		char key[KEYS_LEN + 1], prefix[16];
		unsigned char hash[KEYS_HASH_LEN];
		int64_t id;
		if (mask < 0) {
			fprintf(stderr, "creditctl: --scope must list guard, read and/or admin\n");
			return 2;
		}
		if (keys_generate(key) != 0) {
			fprintf(stderr, "creditctl: the random generator failed\n");
			return 1;
		}
		keys_sha256(key, strlen(key), hash);
		snprintf(prefix, sizeof(prefix), "%.12s", key);
		enum cd_err rc = ledger_key_create(lg, hash, prefix, name ? name : "", mask, &id);
		if (rc != CD_OK)
			return fail(lg, rc, "key create");
		printf("%s\n", key);
		fprintf(stderr, "key %lld created; it is shown only once\n", (long long)id);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		enum cd_err rc = ledger_key_list(lg);
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

static int run_write(struct ledger *lg, enum cd_err (*fn)(struct ledger *, void *, json_t **, int *), void *arg,
		     const char *what)
{
	unsigned char hash[32] = {0};
	struct ledger_write w = {NULL, hash, fn, arg};
	json_t *out = NULL;
	int status, replayed;
	enum cd_err rc = ledger_write(lg, &w, &out, &status, &replayed);
	return rc == CD_OK ? print_json(out) : fail(lg, rc, what);
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
		char canon[256];
		if (!opts_known(argc, argv, 4, known)) {
			usage();
			return 2;
		}
		memset(&n, 0, sizeof(n));
		n.id = argv[3];
		n.kind = kind != NULL ? kind : "user";
		n.monthly_limit_micros = -1;
		n.low_balance_micros = -1;
		if (!text_ok(n.id, 1, LIMIT_ACCOUNT_ID_BYTES) || (strcmp(n.kind, "user") != 0 && strcmp(n.kind, "workspace") != 0)) {
			fprintf(stderr, "creditctl: bad account id or kind\n");
			return 2;
		}
		snprintf(canon, sizeof(canon), "%s|0|-1|-1|", n.kind);
		keys_sha256(canon, strlen(canon), n.create_hash);
		return run_write(lg, ledger_account_create, &n, "account create");
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
	g.priority = 50;
	if (parse_i64(argv[3], &g.amount_micros) != 0 || g.amount_micros <= 0 ||
	    g.amount_micros > LIMIT_AMOUNT_MICROS_MAX || g.source == NULL ||
	    (strcmp(g.source, "promo") != 0 && strcmp(g.source, "adjustment") != 0 &&
	     strcmp(g.source, "signup_bonus") != 0) ||
	    (exp != NULL && (timefmt_parse(exp, &g.expires_at) != 0 || g.expires_at <= timefmt_now())) ||
	    (prio != NULL && (parse_i64(prio, &g.priority) != 0 || g.priority < 0 || g.priority > 100)) ||
	    (g.description != NULL && !text_ok(g.description, 0, LIMIT_DESCRIPTION_BYTES))) {
		usage();
		return 2;
	}
	return run_write(lg, ledger_grant, &g, "grant");
}

static int cmd_price(struct ledger *lg, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "list") == 0) {
		enum cd_err rc = ledger_prices_reload(lg);
		return rc == CD_OK ? print_json(ledger_prices_json("")) : fail(lg, rc, "price list");
	}
	if (argc < 4 || strcmp(argv[2], "import") != 0) {
		usage();
		return 2;
	}
	FILE *f = fopen(argv[3], "r");
	if (f == NULL) {
		fprintf(stderr, "creditctl: cannot open %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	size_t n = 0, cap = 64;
	struct price_row *rows = malloc(cap * sizeof(*rows));
	char line[1024], err[256];
	int lineno = 0, rc = 0;
	while (rows != NULL && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (n == cap) {
			struct price_row *bigger = realloc(rows, 2 * cap * sizeof(*rows));
			if (bigger == NULL)
				break;
			rows = bigger;
			cap *= 2;
		}
		if (pricing_parse_row(line, &rows[n], err, sizeof(err)) != 0) {
			fprintf(stderr, "creditctl: %s:%d: %s; nothing imported\n", argv[3], lineno, err);
			rc = 1;
			break;
		}
		if (rows[n].kind != PRICE_ROW_SKIP)
			n++;
	}
	fclose(f);
	if (rc == 0 && rows != NULL) {
		enum cd_err e = ledger_prices_import(lg, rows, n);
		rc = e == CD_OK ? 0 : fail(lg, e, "price import");
		if (rc == 0)
			printf("imported %zu price rows\n", n);
	}
	free(rows);
	return rc;
}

static int dispatch(struct ledger *lg, int argc, char **argv, const struct cfg *cfg)
{
	const char *cmd = argv[1];
	long violations = 0;
	enum cd_err rc;
	if (strcmp(cmd, "migrate") == 0) {
		const char *dir = opt(argc, argv, 2, "--sql-dir");
		if (dir == NULL)
			dir = getenv("CREDITD_SQL_DIR");
		rc = ledger_migrate(lg, dir != NULL ? dir : CREDITD_SQL_DIR);
		return rc == CD_OK ? 0 : fail(lg, rc, "migrate");
	}
	if (strcmp(cmd, "key") == 0)
		return cmd_key(lg, argc, argv);
	if (strcmp(cmd, "account") == 0)
		return cmd_account(lg, argc, argv);
	if (strcmp(cmd, "grant") == 0)
		return cmd_grant(lg, argc, argv);
	if (strcmp(cmd, "price") == 0)
		return cmd_price(lg, argc, argv);
	if (strcmp(cmd, "verify") == 0) {
		rc = ledger_verify(lg, &violations);
		if (rc != CD_OK)
			return fail(lg, rc, "verify");
		printf("%ld violations\n", violations);
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
		rc = ledger_export(lg, argv[2], csv);
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
	if (cfg_load(config, &cfg, err, sizeof(err)) != 0) {
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
