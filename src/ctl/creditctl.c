/* creditctl.c: the operator's command line for creditd. It reads the same
 * config as the daemon and talks to the database only through the ledger
 * module. Exit status: 0 success, 1 failure or violations, 2 usage. */
#include "answer.h"
#include "config.h"
#include "ctl_collect.h"
#include "ctl_common.h"
#include "ctl_prices.h"
#include "envfile.h"
#include "gwconfig.h"
#include "ctl_reconcile.h"
#include "ctl_sweep.h"
#include "ctl_holds.h"
#include "ctl_events.h"
#include "ctl_keys.h"
#include "ctl_usage.h"
#include "dynbuf.h"
#include "jsonio.h"
#include "keys.h"
#include "ledger.h"
#include "ledger_config.h"
#include "notify_config.h"
#include "email_config.h"
#include "pricing.h"
#include "stripe_config.h"
#include "timefmt.h"
#include "widget_config.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <assert.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CREDITD_SQL_DIR
#define CREDITD_SQL_DIR "/usr/local/share/creditd/sql"
#endif

/* ---- What the ledger copies out, printed here (the ledger never prints) ---- */

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Warnings are printed, and only violations fail. Findings past the
 * LIMIT_VERIFY_VIOLATIONS listed are counted in the last line and said
 * on stderr, so stdout keeps its shape. With --progress, or when stderr is
 * a terminal, a line on stderr after each check: what it was, what it
 * found, how long it took (a ledger of tens of millions of rows takes
 * minutes, docs/growth.md). */
static int verify(struct store *db, int argc, char **argv)
{
	if (argc > 3 || (argc == 3 && strcmp(argv[2], "--progress") != 0)) {
		fprintf(stderr, "creditctl: verify takes only --progress, not %s\nusage: creditctl verify [--progress]\n",
			argc == 3 ? argv[2] : argv[3]);
		return 2;
	}
	int progress = argc == 3 || isatty(STDERR_FILENO);
	struct ledger_verify_report *r = malloc(sizeof(*r));
	if (r == NULL)
		return ctl_common_fail(db, CD_E_INTERNAL, "verify");
	ledger_verify_init(r);
	int checks = ledger_verify_checks();
	struct timespec start, t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < checks; i++) {
		long found = r->violations + r->warnings;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		enum cd_err rc = ledger_verify_step(db, i, r);
		if (rc != CD_OK) {
			free(r);
			return ctl_common_fail(db, rc, "verify");
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (progress)
			fprintf(stderr, "creditctl: verify: %d/%d %s: %ld found, %.1f s (%.1f s in all)\n", i + 1, checks,
				ledger_verify_check_name(i), r->violations + r->warnings - found, seconds_between(&t0, &t1),
				seconds_between(&start, &t1));
	}
	for (int i = 0; i < r->n; i++) {
		const struct ledger_violation *v = &r->found[i];
		printf("%s: %s: account %s: %s %s, %s %s\n", v->warning ? "warning" : "violation", v->check, v->account,
		       v->left, v->left_value, v->right, v->right_value);
	}
	if (r->more > 0)
		fprintf(stderr, "creditctl: verify: %ld more findings not listed (the first %d are)\n", r->more,
			LIMIT_VERIFY_VIOLATIONS);
	printf("%ld violations, %ld warnings\n", r->violations, r->warnings);
	int failed = r->violations != 0;
	free(r);
	return failed;
}

/* A quoted CSV field, quotes doubled; none (has 0) is "". */
static void csv_field(const char *s, int has)
{
	putchar('"');
	for (; has && *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* A journal row as CSV or as a line of JSON. */
static void print_journal_row(const struct ledger_journal_row *r, int csv)
{
	char t[TIMEFMT_LEN];
	timefmt_rfc3339(r->created_at, t);
	if (!csv) {
		json_t *row = json_pack("{s:s, s:I, s:I, s:s, s:s?, s:s?, s:s?, s:s}", "id", r->id, "amount_micros",
					(json_int_t)r->amount_micros, "balance_after_micros",
					(json_int_t)r->balance_after_micros, "cause", r->cause, "source",
					r->has_source ? r->source : NULL, "reference",
					r->has_reference ? r->reference : NULL, "description",
					r->has_description ? r->description : NULL, "created_at", t);
		char *line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", line != NULL ? line : "{}");
		free(line);
		json_decref(row);
		return;
	}
	printf("%s,%lld,%lld,%s,", r->id, (long long)r->amount_micros, (long long)r->balance_after_micros, r->cause);
	csv_field(r->source, r->has_source);
	putchar(',');
	csv_field(r->reference, r->has_reference);
	putchar(',');
	csv_field(r->description, r->has_description);
	printf(",%s\n", t);
}

/* An export, read in pages of LIMIT_EXPORT_PAGE after the last row
 * printed: memory stays bounded however long the journal is. CSV has a
 * header line, which goes out with the first page (or after an empty
 * journal), never before a failure; JSON is a line per row. */
static int export_journal(struct store *db, const char *id, int csv)
{
	struct ledger_journal_row *rows = calloc(LIMIT_EXPORT_PAGE, sizeof(*rows));
	int64_t after = 0;
	int n = LIMIT_EXPORT_PAGE, header_done = 0;
	enum cd_err rc = rows != NULL ? CD_OK : CD_E_INTERNAL;
	while (rc == CD_OK && n == LIMIT_EXPORT_PAGE) {
		rc = ledger_export_next(db, id, after, rows, LIMIT_EXPORT_PAGE, &n);
		if (rc != CD_OK)
			break;
		if (csv && !header_done)
			printf("id,amount_micros,balance_after_micros,cause,source,reference,description,created_at\n");
		header_done = 1;
		for (int i = 0; i < n; i++)
			print_journal_row(&rows[i], csv);
		if (n > 0)
			after = rows[n - 1].seq;
	}
	free(rows);
	if (rc == CD_E_NOT_FOUND) {
		fprintf(stderr, "creditctl: export: not found: no account '%s'\n", id);
		return 1;
	}
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "export");
}

/* Prints a write's answer: its body on success, its error on a refusal. */
static int answered(struct store *db, enum cd_err rc, struct ledger_result *res, const char *what)
{
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, what);
	if (res->refusal.why == REFUSE_NONE && res->body == NULL) {
		/* The API's answer, as the API renders it. */
		json_t *body = NULL;
		int status;
		if (answer_render(&res->done, &status, &body) != CD_OK) {
			fprintf(stderr, "creditctl: %s: done, but its answer could not be made (out of memory)\n", what);
			return 1;
		}
		return ctl_common_print_json(body);
	}
	if (res->refusal.why == REFUSE_NONE)
		return ctl_common_print_json(res->body);
	const char *msg = json_string_value(json_object_get(json_object_get(res->body, "error"), "message"));
	fprintf(stderr, "creditctl: %s: %s: %s\n", what, errors_strerror(refusal_err(res->refusal.why)), msg != NULL ? msg : "");
	json_decref(res->body);
	return 1;
}

static int cmd_account(struct store *db, int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[2], "show") != 0 && strcmp(argv[2], "create") != 0))
		return argc < 3 ? ctl_usage_bad("account needs create or show")
				: ctl_usage_bad("unknown account command: %s", argv[2]);
	if (argc < 4)
		return ctl_usage_bad("account %s needs an account ID", argv[2]);
	if (strcmp(argv[2], "show") == 0 && argc > 4)
		return ctl_usage_bad("account show takes one ID; unexpected argument: %s", argv[4]);
	if (strcmp(argv[2], "show") == 0) {
		struct ledger_account_view account;
		enum cd_err rc = ledger_account_get(db, argv[3], &account);
		if (rc == CD_OK)
			return ctl_common_print_json(answer_accounts_view(&account));
		if (rc == CD_E_NOT_FOUND) {
			fprintf(stderr, "creditctl: account show: not found: no account '%s'\n", argv[3]);
			return 1;
		}
		return ctl_common_fail(db, rc, "account show");
	}
	if (argc >= 4 && strcmp(argv[2], "create") == 0) {
		struct account_new n;
		static const char *const known[] = {"--kind", NULL};
		const char *kind = ctl_common_opt(argc, argv, 4, "--kind");
		struct ledger_result res;
		if (!ctl_common_opts_known(argc, argv, 4, known)) {
			ctl_usage_print(stderr);
			return 2;
		}
		memset(&n, 0, sizeof(n));
		n.id = argv[3];
		n.kind = kind != NULL ? kind : "user";
		n.monthly_limit_micros = -1;
		n.low_balance_micros = -1;
		n.daily_limit_micros = -1;
		n.requests_per_minute = n.tokens_per_minute = -1;
		if (!ctl_common_text_ok(n.id, 1, LIMIT_ACCOUNT_ID_BYTES))
			return ctl_usage_bad("the account ID must be 1 to %d bytes of UTF-8 without control characters",
					     LIMIT_ACCOUNT_ID_BYTES);
		if (strcmp(n.kind, "user") != 0 && strcmp(n.kind, "workspace") != 0)
			return ctl_usage_bad("--kind must be user or workspace, not '%s'", n.kind);
		return answered(db, ledger_account_create(db, NULL, &n, &res), &res, "account create");
	}
	return ctl_usage_bad("unknown account command: %s", argv[2]);
}

/* An amount of micros given on the command line: a whole number from 1
 * to LIMIT_AMOUNT_MICROS_MAX (docs/api.md, "Money"), or 0 when allow_zero. */
static int micros_ok(const char *s, int allow_zero, int64_t *out)
{
	return ctl_common_parse_i64(s, out) == 0 && *out >= (allow_zero ? 0 : 1) && *out <= LIMIT_AMOUNT_MICROS_MAX;
}

/* A time that is still to come (RFC 3339). */
static int future_ok(const char *s, int64_t *out)
{
	return timefmt_parse(s, out) == 0 && *out > timefmt_now();
}

/* What is wrong with a grant's arguments, said with the usage text (2);
 * 0 when nothing is. */
static int grant_bad(const struct grant_new *g, const char *amount, const char *exp, const char *prio)
{
	if (g->source == NULL)
		return ctl_usage_bad("grant needs --source promo, adjustment or signup_bonus");
	if (strcmp(g->source, "promo") != 0 && strcmp(g->source, "adjustment") != 0 && strcmp(g->source, "signup_bonus") != 0)
		return ctl_usage_bad("--source must be promo, adjustment or signup_bonus, not '%s'", g->source);
	if (exp != NULL && timefmt_parse(exp, &(int64_t){0}) != 0)
		return ctl_usage_bad("--expires '%s' is not an RFC 3339 time", exp);
	if (exp != NULL && g->expires_at <= timefmt_now())
		return ctl_usage_bad("--expires '%s' is not in the future", exp);
	if (prio != NULL && (ctl_common_parse_i64(prio, &(int64_t){0}) != 0 || g->priority < 0 || g->priority > GRANT_PRIORITY_MAX))
		return ctl_usage_bad("--priority '%s' is not a whole number from 0 to %d", prio, GRANT_PRIORITY_MAX);
	if (g->description != NULL && (!ctl_common_text_ok(g->description, 0, 4 * LIMIT_DESCRIPTION_CHARS) ||
				       jsonio_chars(g->description, strlen(g->description)) > LIMIT_DESCRIPTION_CHARS))
		return ctl_usage_bad("--description must be at most %d characters of UTF-8 without control characters",
				     LIMIT_DESCRIPTION_CHARS);
	if (g->amount_micros <= 0)
		return ctl_usage_bad("AMOUNT_MICROS '%s' is not a whole number of micros from 1 to %lld", amount,
				     (long long)LIMIT_AMOUNT_MICROS_MAX);
	return 0;
}

static int cmd_grant(struct store *db, int argc, char **argv)
{
	static const char *const known[] = {"--source", "--expires", "--priority", "--description", NULL};
	struct grant_new g;
	if (argc < 4)
		return ctl_usage_bad(argc < 3 ? "grant needs an account ID and AMOUNT_MICROS" : "grant needs AMOUNT_MICROS");
	if (!ctl_common_opts_known(argc, argv, 4, known)) {
		ctl_usage_print(stderr);
		return 2;
	}
	const char *exp = ctl_common_opt(argc, argv, 4, "--expires"), *prio = ctl_common_opt(argc, argv, 4, "--priority");
	memset(&g, 0, sizeof(g));
	g.account = argc >= 3 ? argv[2] : NULL;
	g.source = ctl_common_opt(argc, argv, 4, "--source");
	g.description = ctl_common_opt(argc, argv, 4, "--description");
	g.expires_at = -1;
	g.priority = GRANT_PRIORITY_DEFAULT;
	if (!micros_ok(argv[3], 0, &g.amount_micros))
		g.amount_micros = 0;
	if (exp != NULL && timefmt_parse(exp, &g.expires_at) != 0)
		g.expires_at = 0;
	if (prio != NULL && ctl_common_parse_i64(prio, &g.priority) != 0)
		g.priority = -1;
	if (grant_bad(&g, argv[3], exp, prio) != 0)
		return 2;
	struct ledger_result res;
	return answered(db, ledger_grant(db, NULL, &g, &res), &res, "grant");
}

/* promo list: a line of JSON per code, read in pages of LIMIT_LIST_PAGE. */
static int promo_list(struct store *db)
{
	int64_t after = 0;
	size_t n = LIMIT_LIST_PAGE;
	enum cd_err rc = CD_OK;
	while (rc == CD_OK && n == LIMIT_LIST_PAGE) {
		json_t *page = NULL, *code;
		size_t i;
		rc = ledger_promo_list(db, after, LIMIT_LIST_PAGE, &page, &after);
		if (rc != CD_OK)
			break;
		json_array_foreach(page, i, code) {
			char *text = json_dumps(code, JSON_COMPACT | JSON_PRESERVE_ORDER);
			printf("%s\n", text != NULL ? text : "null");
			free(text);
		}
		n = json_array_size(page);
		json_decref(page);
	}
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "promo list");
}

/* promo create CODE AMOUNT [--max N] [--expires T] [--ttl-days N]; promo list */
static int cmd_promo(struct store *db, int argc, char **argv)
{
	static const char *const known[] = {"--max", "--expires", "--ttl-days", NULL};
	if (argc >= 3 && strcmp(argv[2], "list") == 0)
		return argc == 3 ? promo_list(db) : ctl_usage_bad("promo list takes no argument: %s", argv[3]);
	if (argc < 3 || strcmp(argv[2], "create") != 0)
		return argc < 3 ? ctl_usage_bad("promo needs create or list") : ctl_usage_bad("unknown promo command: %s", argv[2]);
	if (argc < 5)
		return ctl_usage_bad("promo create needs CODE and AMOUNT_MICROS");
	if (!ctl_common_opts_known(argc, argv, 5, known)) {
		ctl_usage_print(stderr);
		return 2;
	}
	const char *max = ctl_common_opt(argc, argv, 5, "--max"), *exp = ctl_common_opt(argc, argv, 5, "--expires");
	const char *ttl = ctl_common_opt(argc, argv, 5, "--ttl-days");
	struct promo_new p = {argv[3], 0, -1, -1, -1};
	if (!ledger_name_ok(p.code, PROMO_CODE_CHARS, LIMIT_PROMO_CODE_MIN_BYTES, LIMIT_PROMO_CODE_BYTES))
		return ctl_usage_bad("the promo code '%.80s' is not %d to %d of A-Z, a-z, 0-9, _ and -", p.code,
				     LIMIT_PROMO_CODE_MIN_BYTES, LIMIT_PROMO_CODE_BYTES);
	if (!micros_ok(argv[4], 0, &p.amount_micros))
		return ctl_usage_bad("AMOUNT_MICROS '%s' is not a whole number of micros from 1 to %lld", argv[4],
				     (long long)LIMIT_AMOUNT_MICROS_MAX);
	if (max != NULL && (ctl_common_parse_i64(max, &p.max_redemptions) != 0 || p.max_redemptions < 1 ||
			    p.max_redemptions > LIMIT_PROMO_REDEMPTIONS_MAX))
		return ctl_usage_bad("--max '%s' is not a whole number from 1 to %d", max, LIMIT_PROMO_REDEMPTIONS_MAX);
	if (exp != NULL && !future_ok(exp, &p.expires_at))
		return ctl_usage_bad("--expires '%s' is not an RFC 3339 time in the future", exp);
	if (ttl != NULL && (ctl_common_parse_i64(ttl, &p.grant_ttl_days) != 0 || p.grant_ttl_days < 1 ||
			    p.grant_ttl_days > LIMIT_PROMO_GRANT_TTL_DAYS_MAX))
		return ctl_usage_bad("--ttl-days '%s' is not a whole number from 1 to %d", ttl, LIMIT_PROMO_GRANT_TTL_DAYS_MAX);
	struct ledger_result res;
	return answered(db, ledger_promo_create(db, NULL, &p, &res), &res, "promo create");
}

/* plan set NAME --credits N [...]; plan list */
static int cmd_plan(struct store *db, int argc, char **argv)
{
	static const char *const known[] = {"--credits", "--rollover", "--rollover-cap", "--member-cap",
					    "--stripe-price", NULL};
	const char *prices[LIMIT_PLAN_STRIPE_PRICES];
	if (argc > 3 && strcmp(argv[2], "list") == 0)
		return ctl_usage_bad("plan list takes no argument: %s", argv[3]);
	if (argc == 3 && strcmp(argv[2], "list") == 0) {
		json_t *out = NULL;
		enum cd_err rc = ledger_plans(db, &out);
		return rc == CD_OK ? ctl_common_print_json(out) : ctl_common_fail(db, rc, "plan list");
	}
	if (argc < 3 || strcmp(argv[2], "set") != 0)
		return argc < 3 ? ctl_usage_bad("plan needs set or list") : ctl_usage_bad("unknown plan command: %s", argv[2]);
	if (argc < 4)
		return ctl_usage_bad("plan set needs a plan NAME");
	if (!ctl_common_opts_known(argc, argv, 4, known)) {
		ctl_usage_print(stderr);
		return 2;
	}
	const char *credits = ctl_common_opt(argc, argv, 4, "--credits"), *cap = ctl_common_opt(argc, argv, 4, "--rollover-cap");
	const char *member = ctl_common_opt(argc, argv, 4, "--member-cap");
	struct plan_def p = {argv[3], 0, ctl_common_opt(argc, argv, 4, "--rollover"), -1, -1, prices, 0};
	for (int i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--stripe-price") != 0)
			continue;
		if (p.nprices == LIMIT_PLAN_STRIPE_PRICES)
			return ctl_usage_bad("--stripe-price: at most %d Stripe prices", LIMIT_PLAN_STRIPE_PRICES);
		if (!ledger_name_ok(argv[i + 1], STRIPE_ID_CHARS, 1, LIMIT_STRIPE_ID_BYTES))
			return ctl_usage_bad("--stripe-price '%s' is not a Stripe price id", argv[i + 1]);
		prices[p.nprices++] = argv[i + 1];
	}
	if (p.rollover == NULL)
		p.rollover = "none";
	if (!ledger_name_ok(p.name, PLAN_NAME_CHARS, 1, LIMIT_PLAN_NAME_BYTES))
		return ctl_usage_bad("the plan name '%.80s' is not 1 to %d of A-Z, a-z, 0-9, _, . and -", p.name,
				     LIMIT_PLAN_NAME_BYTES);
	if (credits == NULL)
		return ctl_usage_bad("plan set needs --credits MICROS");
	if (!micros_ok(credits, 1, &p.credits_micros))
		return ctl_usage_bad("--credits '%s' is not a whole number of micros, 0 or more", credits);
	if (strcmp(p.rollover, "none") != 0 && strcmp(p.rollover, "full") != 0 && strcmp(p.rollover, "capped") != 0)
		return ctl_usage_bad("--rollover must be none, full or capped, not '%s'", p.rollover);
	if (cap != NULL && !micros_ok(cap, 1, &p.rollover_cap_micros))
		return ctl_usage_bad("--rollover-cap '%s' is not a whole number of micros, 0 or more", cap);
	if ((strcmp(p.rollover, "capped") == 0) != (cap != NULL))
		return ctl_usage_bad("--rollover-cap goes with --rollover capped, and only with it");
	if (member != NULL && !micros_ok(member, 1, &p.member_cap_micros))
		return ctl_usage_bad("--member-cap '%s' is not a whole number of micros, 0 or more", member);
	struct ledger_result res;
	return answered(db, ledger_plan_put(db, NULL, &p, &res), &res, "plan set");
}

/* migrate: a line per migration applied, those committed before a
 * failure too (its message went to stderr as it happened). --check: a
 * line per migration not applied yet, and exit 3 when there is one, 4 when
 * the database cannot be reached (the package's upgrade asks before it
 * restarts creditd). */
static int migrate(struct store *db, const char *dir, int check_only)
{
	struct store_migrated *applied = malloc(sizeof(*applied));
	if (applied == NULL)
		return ctl_common_fail(db, CD_E_INTERNAL, "migrate");
	enum cd_err rc = store_migrate(db, dir, check_only, applied);
	for (int i = 0; i < applied->n; i++)
		printf("%s %s\n", check_only ? "pending" : "applied", applied->name[i]);
	int pending = check_only && applied->n > 0;
	free(applied);
	if (rc != CD_OK) {
		/* A migrations' directory that cannot be read, or a file in it
		 * that cannot be applied, is said where it is found (CD_E_INVALID). */
		if (rc != CD_E_INVALID)
			ctl_common_fail(db, rc, "migrate");
		return check_only && rc == CD_E_UNAVAILABLE ? CTL_EXIT_UNREACHABLE : 1;
	}
	return pending ? CTL_EXIT_PENDING : 0;
}

/* export ID [--format csv|json] */
static int cmd_export(struct store *db, int argc, char **argv)
{
	static const char *const known[] = {"--format", NULL};
	if (argc < 3)
		return ctl_usage_bad("export needs an account ID");
	const char *format = ctl_common_opt(argc, argv, 3, "--format");
	int csv = format == NULL || strcmp(format, "csv") == 0;
	if (!ctl_common_opts_known(argc, argv, 3, known)) {
		ctl_usage_print(stderr);
		return 2;
	}
	if (format != NULL && !csv && strcmp(format, "json") != 0)
		return ctl_usage_bad("--format must be csv or json, not '%s'", format);
	return export_journal(db, argv[2], csv);
}

static int dispatch(struct store *db, int argc, char **argv, const struct cfg *cfg)
{
	const char *cmd = argv[1];
	if (strcmp(cmd, "migrate") == 0) {
		static const char *const known[] = {"--sql-dir", "--user", "--password-file", NULL};
		int check_only = ctl_common_flag_take(&argc, argv, 2, "--check");
		const char *dir = ctl_common_opt(argc, argv, 2, "--sql-dir");
		if (!ctl_common_opts_known(argc, argv, 2, known)) {
			ctl_usage_print(stderr);
			return 2;
		}
		if (dir == NULL)
			dir = getenv("CREDITD_SQL_DIR");
		return migrate(db, dir != NULL ? dir : CREDITD_SQL_DIR, check_only);
	}
	if (strcmp(cmd, "key") == 0)
		return ctl_keys_cmd(db, argc, argv);
	if (strcmp(cmd, "account") == 0)
		return cmd_account(db, argc, argv);
	if (strcmp(cmd, "grant") == 0)
		return cmd_grant(db, argc, argv);
	if (strcmp(cmd, "promo") == 0)
		return cmd_promo(db, argc, argv);
	if (strcmp(cmd, "events") == 0)
		return ctl_events_cmd(db, argc, argv);
	if (strcmp(cmd, "plan") == 0)
		return cmd_plan(db, argc, argv);
	if (strcmp(cmd, "price") == 0)
		return ctl_prices_command(db, cfg, argc, argv);
	if (strcmp(cmd, "reconcile") == 0)
		return ctl_reconcile(db, argc, argv);
	if (strcmp(cmd, "verify") == 0)
		return verify(db, argc, argv);
	if (strcmp(cmd, "collect") == 0)
		return ctl_collect(db, cfg, argc, argv);
	if (strcmp(cmd, "sweep") == 0)
		return ctl_sweep(db, cfg, argc, argv);
	if (strcmp(cmd, "hold") == 0)
		return ctl_holds(db, argc, argv);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(db, argc, argv);
	return ctl_usage_bad("unknown command: %s", cmd);
}

/* Every module's table of keys, at its slot: config.h's list (no layer
 * below both programs sees every module); config_load refuses a list
 * that misses one. */
static const struct config_module *const modules[CONFIG_MODULES] = {
	CONFIG_MODULE_LIST(CONFIG_MODULE_ENTRY)
};

/* Operators' commands scan whole tables; the daemon's short statement
 * timeouts are for the request path. Not sweep's: it runs the daemon's
 * own passes and rounds, each statement as short as theirs, and a
 * database that stalls must end a run as it ends the daemon's pass (cron
 * starts the next run a minute later). */
static void admin_timeouts(struct cfg *cfg)
{
	if (cfg->db_read_timeout_seconds < LIMIT_DB_ADMIN_TIMEOUT_SECONDS)
		cfg->db_read_timeout_seconds = LIMIT_DB_ADMIN_TIMEOUT_SECONDS;
	if (cfg->db_write_timeout_seconds < LIMIT_DB_ADMIN_TIMEOUT_SECONDS)
		cfg->db_write_timeout_seconds = LIMIT_DB_ADMIN_TIMEOUT_SECONDS;
}

/* The secrets creditd runs with, wherever they are kept: the config, or
 * the environment file its unit reads (envfile_for_config), or the one
 * named (--env-file, env_file here; CREDITD_ENV_FILE). A file named that
 * is not there is refused, where the default one may be absent: a
 * mistyped name would run without the secrets creditd runs with, and
 * collect and sweep would charge under another salt (CONFIG in
 * docs/creditctl.8). 0, or -1 said (exit 2). */
static int load_env_file(const char *env_file, const char *config)
{
	char err[512];
	int set;
	const char *named = env_file != NULL ? "--env-file" : getenv("CREDITD_ENV_FILE") != NULL ? "CREDITD_ENV_FILE" : NULL;
	if (env_file == NULL)
		env_file = envfile_for_config(config);
	if (env_file == NULL || env_file[0] == '\0')
		return 0;
	if (named != NULL && access(env_file, F_OK) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
		fprintf(stderr, "creditctl: %s %s: %s\n", named, env_file, strerror(errno));
		return -1;
	}
	int got = envfile_load(env_file, &set, err, sizeof(err));
	if (got == ENVFILE_UNREADABLE)
		fprintf(stderr, "creditctl: %s: the secrets creditd's unit takes from it are not seen here (run as root)\n",
			err);
	else if (got != 0) {
		fprintf(stderr, "creditctl: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cfg cfg;
	char err[512];
	const char *config = NULL, *env_file = NULL;
	while (argc >= 3 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0 ||
			     strcmp(argv[1], "--env-file") == 0)) {
		*(strcmp(argv[1], "--env-file") == 0 ? &env_file : &config) = argv[2];
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (argc == 2 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0 ||
			  strcmp(argv[1], "--env-file") == 0))
		return ctl_usage_bad("%s needs a FILE", argv[1]);
	if (argc < 2)
		return ctl_usage_bad("no command given");
	/* Help and version before anything is read: a user who may not read
	 * the config still gets them. */
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		ctl_usage_print(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("creditctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (load_env_file(env_file, config) != 0)
		return 2;
	/* Migrations run as the schema's owner; every other command, and
	 * migrate --check (so that a host without the owner's password can
	 * ask), as the runtime user of the config (docs/operations.md). */
	if (config_load(config, modules, &cfg, err, sizeof(err)) != 0 ||
	    (strcmp(argv[1], "migrate") == 0 && !ctl_common_flag(argc, argv, 2, "--check") &&
	     config_use_migrate_user(&cfg, ctl_common_opt(argc, argv, 2, "--user"),
								      ctl_common_opt(argc, argv, 2, "--password-file"), err, sizeof(err)) != 0)) {
		fprintf(stderr, "creditctl: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (strcmp(argv[1], "sweep") != 0)
		admin_timeouts(&cfg);
	store_global_init();
	struct store *db = store_new(&cfg);
	int rc = db != NULL ? dispatch(db, argc, argv, &cfg) : 1;
	/* Only the statuses creditctl(8) names: 0 done, 1 failed, 2 refused
	 * (usage), 3 and 4 migrate --check's (pending, unreachable). */
	assert(rc >= 0 && rc <= CTL_EXIT_UNREACHABLE);
	store_free(db);
	config_free(&cfg);
	return rc;
}
