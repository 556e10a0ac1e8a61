/* ledger_admin.c: what operators run through creditctl: migrations, the
 * invariant checker and exports. Never called on the request path.
 *
 * Migrations are sql/NNN_name.sql files applied in order, each recorded
 * with its SHA-256 in schema_migrations; a file that changed after it was
 * applied stops the run. verify re-derives every balance from the journal
 * and from the grants and reports each disagreement with both numbers.
 * What they find is copied into structs creditctl provides (an export
 * in pages creditctl asks for one after the other): the ledger never
 * prints to stdout.
 *
 * Migrations bypass db_exec (mysql_real_query, mysql_store_result,
 * mysql_query): a migration file is a script of statements, procedures
 * included, and a CREATE PROCEDURE cannot be a prepared statement. The
 * script is split by sqlsplit.h and sent one statement at a time, on a
 * connection that accepts no multi-statement text: the text protocol is
 * safe here because the text is creditd's own files, never a request's. */
#include "ledger_open.h"
#include "ledger_periods.h"
#include "keys.h"
#include "log.h"
#include "sqlsplit.h"
#include "timefmt.h"
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_migration(const char *name)
{
	size_t n = strlen(name);
	return n > 8 && name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' &&
	       name[2] >= '0' && name[2] <= '9' && name[3] == '_' && strcmp(name + n - 4, ".sql") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n >= 0 && n < 4 * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0) {
			buf = malloc((size_t)n + 1);
			if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
				buf[n] = '\0';
				*len = (size_t)n;
			} else {
				free(buf);
				buf = NULL;
			}
		}
	}
	fclose(f);
	return buf;
}

/* Sends one statement and drains every result it has (a CALL has more
 * than one). 0, or -1 with mysql_error() set. Text protocol on purpose
 * (see the top). */
static int run_statement(MYSQL *db, const struct sqlsplit_stmt *st)
{
	if (mysql_real_query(db, st->text, (unsigned long)st->len) != 0)
		return -1;
	int status;
	do {
		MYSQL_RES *res = mysql_store_result(db);
		if (res != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(db) != 0)
			return -1;	/* it had rows, and reading them failed */
		status = mysql_next_result(db);
	} while (status == 0);
	return status > 0 ? -1 : 0;
}

/* Runs migration name's statements in order, in the transaction that
 * records it (DDL commits on its own, as it always did). The whole file
 * is split before anything runs, so one that cannot be split applies
 * nothing. CD_OK, or an error said on stderr with the statement's line
 * and the start of its first line. */
static enum cd_err run_script(struct ledger *lg, const char *name, const char *sql, size_t len)
{
	struct sqlsplit sp;
	struct sqlsplit_stmt st;
	int got;
	sqlsplit_init(&sp, sql, len);
	do
		got = sqlsplit_next(&sp, &st);
	while (got == 1);
	if (got < 0) {
		fprintf(stderr, "creditctl: migration %s cannot be split into statements (line %u: %s); nothing of it "
			"applied\n", name, sp.err_line, sqlsplit_strerror(sp.err));
		return CD_E_INVALID;
	}
	sqlsplit_init(&sp, sql, len);
	for (got = sqlsplit_next(&sp, &st); got == 1; got = sqlsplit_next(&sp, &st)) {
		if (run_statement(lg->c->db, &st) == 0)
			continue;
		const char *nl = memchr(st.text, '\n', st.len);
		size_t first = nl != NULL ? (size_t)(nl - st.text) : st.len;
		fprintf(stderr, "creditctl: migration %s failed at line %u (%.*s%s): %s\n", name, st.line,
			(int)(first < LIMIT_MIGRATION_QUOTE_BYTES ? first : LIMIT_MIGRATION_QUOTE_BYTES), st.text,
			first > LIMIT_MIGRATION_QUOTE_BYTES ? "..." : "", mysql_error(lg->c->db));
		return CD_E_INTERNAL;
	}
	return CD_OK;
}

static int applied_checksum(struct ledger *lg, const char *name, char *hex)
{
	int e;
	struct dbstmt *s = db_exec(lg, "SELECT checksum FROM schema_migrations WHERE name = ?", &e, "s", name);
	if (s == NULL || db_fetch(s) != 1)
		return 0;
	snprintf(hex, 65, "%s", db_str(s, 0));
	return 1;
}

static enum cd_err apply_one(struct ledger *lg, const char *dir, const char *name, struct ledger_migrated *applied)
{
	char path[4096], hex[65], old[65];
	unsigned char hash[32];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *sql = slurp(path, &len);
	if (sql == NULL) {
		fprintf(stderr, "creditctl: cannot read %s\n", path);
		return CD_E_INTERNAL;
	}
	keys_sha256(sql, len, hash);
	keys_hex(hash, hex);
	enum cd_err rc = CD_OK;
	if (applied_checksum(lg, name, old)) {
		if (strcmp(old, hex) != 0) {
			fprintf(stderr, "creditctl: migration %s changed after it was applied (was %.12s, now %.12s); "
				"refusing to continue\n", name, old, hex);
			rc = CD_E_CONFLICT;
		}
		goto out;
	}
	rc = run_script(lg, name, sql, len);
	if (rc != CD_OK)
		goto out;
	rc = db_do(lg, "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES (?, ?, ?)",
		   "migration record", "ssi", name, hex, timefmt_now());
	if (rc == CD_OK && mysql_commit(lg->c->db) != 0)
		rc = CD_E_INTERNAL;
	if (rc == CD_OK)
		snprintf(applied->name[applied->n++], sizeof(applied->name[0]), "%s", name);
out:
	free(sql);
	return rc;
}

/* Reads the names of sqldir's migrations into names (malloc'd; the
 * caller frees the *n there are, also after a failure). More than
 * LIMIT_MIGRATIONS_MAX, or a name longer than LIMIT_MIGRATION_NAME_BYTES,
 * is refused: cutting the list short would apply part of the schema and
 * call it done. */
static enum cd_err migration_names(const char *sqldir, char **names, int *n)
{
	enum cd_err rc = CD_OK;
	*n = 0;
	DIR *d = opendir(sqldir);
	if (d == NULL) {
		fprintf(stderr, "creditctl: cannot open %s\n", sqldir);
		return CD_E_INTERNAL;
	}
	for (;;) {
		struct dirent *de = readdir(d);
		if (de == NULL)
			break;
		if (!is_migration(de->d_name))
			continue;
		if (strlen(de->d_name) > LIMIT_MIGRATION_NAME_BYTES) {
			fprintf(stderr, "creditctl: %s holds a migration named longer than %d bytes (%.40s...); none "
				"applied\n", sqldir, LIMIT_MIGRATION_NAME_BYTES, de->d_name);
			rc = CD_E_INVALID;
			break;
		}
		if (*n == LIMIT_MIGRATIONS_MAX) {
			fprintf(stderr, "creditctl: %s holds more than %d migrations; none applied\n", sqldir,
				LIMIT_MIGRATIONS_MAX);
			rc = CD_E_INVALID;
			break;
		}
		names[*n] = strdup(de->d_name);
		if (names[*n] == NULL) {
			fprintf(stderr, "creditctl: out of memory reading %s\n", sqldir);
			rc = CD_E_INTERNAL;
			break;
		}
		(*n)++;
	}
	closedir(d);
	return rc;
}

enum cd_err ledger_migrate(struct ledger *lg, const char *sqldir, struct ledger_migrated *applied)
{
	static const char create[] = "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(255) NOT NULL "
				     "PRIMARY KEY, checksum CHAR(64) NOT NULL, applied_at BIGINT NOT NULL) ENGINE=InnoDB";
	char *names[LIMIT_MIGRATIONS_MAX];
	int n = 0;
	applied->n = 0;
	enum cd_err rc = db_ensure(lg);
	if (rc != CD_OK)
		return rc;
	if (mysql_query(lg->c->db, create) != 0)
		return db_err(lg, (int)mysql_errno(lg->c->db), "schema_migrations");
	rc = migration_names(sqldir, names, &n);
	if (rc == CD_OK)
		qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		if (rc == CD_OK)
			rc = apply_one(lg, sqldir, names[i], applied);
		free(names[i]);
	}
	ledger_end_request(lg);
	return rc;
}

/* ---- verify ---- */

struct check {
	const char *what;
	const char *sql;	/* rows: account, left, right (and, graded, warning) */
	const char *left, *right;
	int graded;		/* a fourth column: 1 a warning, 0 a violation */
};

/* The UTC month key (202611) of a unix time column, as timefmt_month_key
 * makes it: an interval on a plain DATETIME, so no session time zone. */
#define MONTH_OF(col) "EXTRACT(YEAR_MONTH FROM TIMESTAMP '1970-01-01 00:00:00' + INTERVAL " col " SECOND)"

static const struct check checks[] = {
	{"balance vs journal",
	 "SELECT a.ext_id, a.balance_micros, COALESCE(j.s, 0) FROM accounts a LEFT JOIN "
	 "(SELECT account_id, SUM(amount_micros) s FROM journal GROUP BY account_id) j ON j.account_id = a.id "
	 "WHERE a.balance_micros <> COALESCE(j.s, 0)", "balance_micros", "sum of journal", 0},
	{"balance vs grants",
	 "SELECT a.ext_id, a.balance_micros, COALESCE(g.s, 0) FROM accounts a LEFT JOIN "
	 "(SELECT account_id, SUM(remaining_micros) s FROM grants GROUP BY account_id) g ON g.account_id = a.id "
	 "WHERE a.balance_micros <> COALESCE(g.s, 0)", "balance_micros", "sum of remaining grants", 0},
	{"reserved vs holds",
	 "SELECT a.ext_id, a.reserved_micros, COALESCE(h.s, 0) FROM accounts a LEFT JOIN "
	 "(SELECT account_id, SUM(amount_micros) s FROM holds WHERE state = 'pending' GROUP BY account_id) h "
	 "ON h.account_id = a.id WHERE a.reserved_micros <> COALESCE(h.s, 0)", "reserved_micros", "sum of pending holds", 0},
	{"journal chain",
	 "SELECT a.ext_id, x.balance_after_micros, x.expected FROM (SELECT account_id, id, balance_after_micros, "
	 "SUM(amount_micros) OVER (PARTITION BY account_id ORDER BY id) expected FROM journal) x "
	 "JOIN accounts a ON a.id = x.account_id WHERE x.balance_after_micros <> x.expected",
	 "balance_after_micros", "running sum of journal", 0},
	{"grant remaining",
	 "SELECT a.ext_id, g.remaining_micros, g.amount_micros FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.source <> 'debt' AND (g.remaining_micros < 0 OR g.remaining_micros > g.amount_micros)",
	 "remaining_micros", "amount_micros (0 <= remaining <= amount)", 0},
	{"debt row",
	 "SELECT a.ext_id, g.remaining_micros, 0 FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.source = 'debt' AND g.remaining_micros > 0", "debt remaining_micros", "at most", 0},
	{"debt beside credit",
	 "SELECT a.ext_id, SUM(g.remaining_micros < 0), SUM(g.remaining_micros > 0) FROM grants g "
	 "JOIN accounts a ON a.id = g.account_id GROUP BY a.id, a.ext_id "
	 "HAVING SUM(g.remaining_micros < 0) > 0 AND SUM(g.remaining_micros > 0) > 0",
	 "debt rows", "positive grants (debt must be repaid first)", 0},
	{"negative reserve",
	 "SELECT ext_id, reserved_micros, 0 FROM accounts WHERE reserved_micros < 0", "reserved_micros", "zero", 0},
	{"top-up credited twice",
	 "SELECT a.ext_id, COUNT(*), 1 FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.source = 'topup' GROUP BY a.ext_id, g.reference HAVING COUNT(*) > 1", "grants for one session", "one", 0},
	{"refund beyond top-up",
	 "SELECT a.ext_id, t.refunded_micros, t.credited_micros FROM topups t JOIN accounts a ON a.id = t.account_id "
	 "WHERE t.refunded_micros > t.credited_micros", "refunded_micros", "credited_micros", 0},
	/* A dispute takes back at most what its top-up credited less refunds,
	 * and the top-up's disputed_micros is what its disputes hold now. */
	{"refund and dispute beyond top-up",
	 "SELECT a.ext_id, t.refunded_micros + t.disputed_micros, t.credited_micros FROM topups t "
	 "JOIN accounts a ON a.id = t.account_id WHERE t.disputed_micros < 0 OR "
	 "t.refunded_micros + t.disputed_micros > t.credited_micros",
	 "refunded_micros + disputed_micros", "credited_micros", 0},
	{"dispute vs its top-up",
	 "SELECT a.ext_id, t.disputed_micros, COALESCE(SUM(d.taken_micros - d.returned_micros), 0) FROM topups t "
	 "JOIN accounts a ON a.id = t.account_id JOIN disputes d ON d.topup_id = t.id "
	 "GROUP BY t.id, a.ext_id, t.disputed_micros HAVING t.disputed_micros <> SUM(d.taken_micros - d.returned_micros)",
	 "disputed_micros", "taken less returned by its disputes", 0},
	/* The same of an auto-recharge's credit (a Stripe-funded credit too). */
	{"refund and dispute beyond recharge",
	 "SELECT a.ext_id, r.refunded_micros + r.disputed_micros, r.credited_micros FROM recharges r "
	 "JOIN accounts a ON a.id = r.account_id WHERE r.disputed_micros < 0 OR r.refunded_micros < 0 OR "
	 "r.refunded_micros + r.disputed_micros > r.credited_micros",
	 "refunded_micros + disputed_micros", "credited_micros", 0},
	{"dispute vs its recharge",
	 "SELECT a.ext_id, r.disputed_micros, COALESCE(SUM(d.taken_micros - d.returned_micros), 0) FROM recharges r "
	 "JOIN accounts a ON a.id = r.account_id JOIN disputes d ON d.recharge_id = r.id "
	 "GROUP BY r.id, a.ext_id, r.disputed_micros HAVING r.disputed_micros <> SUM(d.taken_micros - d.returned_micros)",
	 "disputed_micros", "taken less returned by its disputes", 0},
	/* A charge refunded in full took back the whole credit: what the
	 * refund took and what disputes hold add up to it (a refund made
	 * while a dispute held the credit takes the dispute's hold over). */
	{"fully refunded, credit kept",
	 "SELECT a.ext_id, x.refunded_micros + x.disputed_micros, x.credited_micros FROM "
	 "(SELECT account_id, refunded_micros, disputed_micros, credited_micros, refunded_cents, paid_cents FROM topups "
	 "WHERE status = 'credited' UNION ALL SELECT account_id, refunded_micros, disputed_micros, credited_micros, "
	 "refunded_cents, paid_cents FROM recharges WHERE state = 'succeeded') x JOIN accounts a ON a.id = x.account_id "
	 "WHERE x.paid_cents > 0 AND x.refunded_cents >= x.paid_cents "
	 "AND x.refunded_micros + x.disputed_micros < x.credited_micros",
	 "refunded_micros + disputed_micros", "credited_micros", 0},
	/* A dispute that came before its credit waits only until the credit
	 * is made (the credit applies it in its own transaction). */
	{"dispute waiting beside its credit",
	 "SELECT a.ext_id, d.dispute_id, 'none' FROM disputes d JOIN (SELECT account_id, payment_intent FROM topups "
	 "WHERE status = 'credited' UNION ALL SELECT account_id, payment_intent FROM recharges "
	 "WHERE state = 'succeeded') x ON x.payment_intent = d.payment_intent JOIN accounts a ON a.id = x.account_id "
	 "WHERE d.account_id IS NULL", "dispute waiting", "none once its payment is credited", 0},
	{"settled hold without usage",
	 "SELECT a.ext_id, COUNT(u.id), 1 FROM holds h JOIN accounts a ON a.id = h.account_id LEFT JOIN usage_records u "
	 "ON u.hold_id = h.id WHERE h.state = 'settled' GROUP BY h.id, a.ext_id HAVING COUNT(u.id) <> 1",
	 "usage rows for a settled hold", "one", 0},
	/* One plan credit per (account, period): the key of plan_periods
	 * makes it once; its grants must add up to what the row says. */
	{"plan credit vs its period",
	 "SELECT a.ext_id, p.credits_micros, COALESCE(SUM(g.amount_micros), 0) FROM plan_periods p "
	 "JOIN accounts a ON a.id = p.account_id LEFT JOIN grants g ON g.account_id = p.account_id "
	 "AND g.period_key = p.period_key AND g.reference NOT LIKE '" PERIOD_ROLLOVER_REF "%' "
	 "GROUP BY p.account_id, p.period_key, a.ext_id, p.credits_micros "
	 "HAVING p.credits_micros > 0 AND p.credits_micros <> COALESCE(SUM(g.amount_micros), 0)",
	 "credits_micros of the period", "sum of its plan grants", 0},
	{"plan rollover vs its period",
	 "SELECT a.ext_id, p.rollover_micros, COALESCE(SUM(g.amount_micros), 0) FROM plan_periods p "
	 "JOIN accounts a ON a.id = p.account_id LEFT JOIN grants g ON g.account_id = p.account_id "
	 "AND g.period_key = p.period_key AND g.reference LIKE '" PERIOD_ROLLOVER_REF "%' "
	 "GROUP BY p.account_id, p.period_key, a.ext_id, p.rollover_micros "
	 "HAVING p.rollover_micros <> COALESCE(SUM(g.amount_micros), 0)",
	 "rollover_micros of the period", "sum of its rollover grants", 0},
	{"plan grant outside a period",
	 "SELECT a.ext_id, g.period_key, 'none' FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.period_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM plan_periods p "
	 "WHERE p.account_id = g.account_id AND p.period_key = g.period_key)", "period_key", "plan_periods row", 0},
	/* An auto-recharge or a collection is credited at most once, and a
	 * succeeded one once: the grants of its PaymentIntent on its account
	 * (a top-up grant for a recharge, a payment for a collection). */
	{"recharge credited other than once",
	 "SELECT a.ext_id, COUNT(g.id), IF(r.state = 'succeeded', 1, 0) FROM recharges r "
	 "JOIN accounts a ON a.id = r.account_id LEFT JOIN grants g ON g.account_id = r.account_id "
	 "AND g.source = IF(r.kind = 'payg', 'payment', 'topup') AND g.reference = r.payment_intent "
	 "GROUP BY r.id, a.ext_id, r.state "
	 "HAVING COUNT(g.id) <> IF(r.state = 'succeeded', 1, 0)", "grants of the recharge", "one if it succeeded, else none", 0},
	{"recharge pending without one in flight",
	 "SELECT a.ext_id, a.recharge_pending, 0 FROM accounts a WHERE a.recharge_pending <> 0 AND NOT EXISTS "
	 "(SELECT 1 FROM recharges r WHERE r.account_id = a.id AND r.kind = 'recharge' AND "
	 "r.state IN ('queued', 'sent'))",
	 "recharge_pending", "no recharge queued or sent", 0},
	/* At most one auto-recharge and one collection in flight. */
	{"recharges in flight",
	 "SELECT a.ext_id, COUNT(*), 1 FROM recharges r JOIN accounts a ON a.id = r.account_id "
	 "WHERE r.state IN ('queued', 'sent') GROUP BY a.ext_id, r.kind HAVING COUNT(*) > 1",
	 "recharges queued or sent", "at most", 0},
	{"promo redemption count",
	 "SELECT c.code, c.redeemed, COUNT(r.account_id) FROM promo_codes c LEFT JOIN promo_redemptions r "
	 "ON r.promo_id = c.id GROUP BY c.id, c.code, c.redeemed HAVING c.redeemed <> COUNT(r.account_id)",
	 "redeemed", "redemption rows", 0},
	{"promo beyond its maximum",
	 "SELECT code, redeemed, max_redemptions FROM promo_codes WHERE redeemed > max_redemptions",
	 "redeemed", "max_redemptions", 0},
	{"promo redemption without its grant",
	 "SELECT a.ext_id, c.amount_micros, COALESCE(g.amount_micros, 0) FROM promo_redemptions r "
	 "JOIN promo_codes c ON c.id = r.promo_id JOIN accounts a ON a.id = r.account_id "
	 "LEFT JOIN grants g ON g.id = r.grant_id AND g.account_id = r.account_id AND g.source = 'promo' "
	 "WHERE g.amount_micros IS NULL OR g.amount_micros <> c.amount_micros",
	 "the code's amount_micros", "its promo grant", 0},
	/* A usage record's cost is what the journal charged for it: a
	 * settle's, the usage rows of its hold (a capture and the settle's
	 * difference) less a refund grant of a late settle below a captured
	 * hold; direct usage (no hold), per account, the usage rows without a
	 * hold. A BYOK usage costs 0 and has no journal row. */
	{"usage cost vs journal",
	 "SELECT a.ext_id, u.cost_micros, -(COALESCE(j.s, 0) + COALESCE(r.s, 0)) FROM usage_records u "
	 "JOIN accounts a ON a.id = u.account_id LEFT JOIN (SELECT hold_id, SUM(amount_micros) s FROM journal "
	 "WHERE cause = 'usage' AND hold_id IS NOT NULL GROUP BY hold_id) j ON j.hold_id = u.hold_id "
	 "LEFT JOIN (SELECT reference, SUM(amount_micros) s FROM journal WHERE cause = 'grant' AND source = 'refund' "
	 "GROUP BY reference) r ON r.reference = CONCAT('hold_', u.account_id, '_', u.hold_id) "
	 "WHERE u.hold_id IS NOT NULL AND u.cost_micros <> -(COALESCE(j.s, 0) + COALESCE(r.s, 0))",
	 "usage cost_micros of a hold", "its journal charge", 0},
	{"usage cost vs journal",
	 "SELECT a.ext_id, COALESCE(u.s, 0), -COALESCE(j.s, 0) FROM accounts a "
	 "LEFT JOIN (SELECT account_id, SUM(cost_micros) s FROM usage_records WHERE hold_id IS NULL "
	 "GROUP BY account_id) u ON u.account_id = a.id LEFT JOIN (SELECT account_id, SUM(amount_micros) s "
	 "FROM journal WHERE cause = 'usage' AND hold_id IS NULL GROUP BY account_id) j ON j.account_id = a.id "
	 "WHERE COALESCE(u.s, 0) <> -COALESCE(j.s, 0)",
	 "sum of direct usage cost_micros", "their journal charges", 0},
	/* A member's month spend is its usage in the month of its month_key
	 * (the row rolls over when next touched), since the row was made,
	 * plus its holds captured then and not settled yet. A late settle of
	 * a hold captured earlier (an earlier month, or before the row was
	 * made) counted only its difference from the capture: the capture's
	 * journal charge (negative) is added back for it. */
	{"member month spend vs usage",
	 "SELECT x.who, x.spent, x.used FROM (SELECT CONCAT(a.ext_id, ' member ', m.member) who, "
	 "m.month_spent_micros spent, (SELECT COALESCE(SUM(u.cost_micros), 0) FROM usage_records u "
	 "WHERE u.account_id = m.account_id AND u.member = m.member AND u.created_at >= m.created_at "
	 "AND " MONTH_OF("u.created_at") " = m.month_key) + (SELECT COALESCE(SUM(h.charged_micros), 0) FROM holds h "
	 "WHERE h.account_id = m.account_id AND h.member = m.member AND h.state = 'captured' "
	 "AND h.finished_at >= m.created_at AND " MONTH_OF("h.finished_at") " = m.month_key) + "
	 "(SELECT COALESCE(SUM(j.amount_micros), 0) FROM usage_records u JOIN journal j ON j.account_id = u.account_id "
	 "AND j.hold_id = u.hold_id AND j.cause = 'usage' WHERE u.account_id = m.account_id AND u.member = m.member "
	 "AND u.created_at >= m.created_at AND " MONTH_OF("u.created_at") " = m.month_key "
	 "AND (j.created_at < m.created_at OR " MONTH_OF("j.created_at") " < m.month_key)) used "
	 "FROM members m JOIN accounts a ON a.id = m.account_id) x WHERE x.spent <> x.used",
	 "month_spent_micros", "its usage this month", 0},
	/* Invariant 5: month spend <= monthly limit, unless a forced usage, a
	 * settle beyond its hold or a late settle (at or after the hold's
	 * expires_at: it reserved nothing any more, DESIGN §5) came that month.
	 * A usage row is written only by a settle, which leaves its hold
	 * 'settled': the hold's state says nothing here. A limit changed
	 * during the month may have been lowered below what the month had
	 * committed then (spend and pending holds, recorded beside
	 * monthly_limit_set_at): a warning while the spend stays within that,
	 * a violation beyond it. */
	{"month spend vs monthly limit",
	 "SELECT a.ext_id, a.month_spent_micros, a.monthly_limit_micros, COALESCE(a.monthly_limit_set_at IS NOT NULL "
	 "AND " MONTH_OF("a.monthly_limit_set_at") " >= a.month_key "
	 "AND a.month_spent_micros <= a.monthly_limit_set_committed_micros, 0) "
	 "FROM accounts a WHERE a.monthly_limit_micros IS NOT NULL AND a.month_spent_micros > a.monthly_limit_micros "
	 "AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.account_id = a.id AND j.source = 'forced' "
	 "AND " MONTH_OF("j.created_at") " = a.month_key) AND NOT EXISTS (SELECT 1 FROM usage_records u "
	 "JOIN holds h ON h.id = u.hold_id WHERE u.account_id = a.id AND (u.cost_micros > h.amount_micros "
	 "OR u.created_at >= h.expires_at) AND " MONTH_OF("u.created_at") " = a.month_key)",
	 "month_spent_micros", "monthly_limit_micros", 1},
	/* Only a settle beyond its hold or a late one (see above), a Stripe
	 * refund or dispute, or a usage reported with force (journal source
	 * 'forced') may take an account below -overdraft. */
	{"below the overdraft limit without a late charge",
	 "SELECT a.ext_id, a.balance_micros, -a.overdraft_limit_micros FROM accounts a "
	 "WHERE a.balance_micros < -a.overdraft_limit_micros AND NOT EXISTS (SELECT 1 FROM usage_records u "
	 "JOIN holds h ON h.id = u.hold_id WHERE u.account_id = a.id AND "
	 "(u.cost_micros > h.amount_micros OR u.created_at >= h.expires_at)) AND NOT EXISTS (SELECT 1 FROM journal j "
	 "WHERE j.account_id = a.id AND (j.cause IN ('refund', 'dispute') OR j.source = 'forced'))",
	 "balance_micros", "-overdraft_limit_micros", 0},
};

/* Copies one finding of check c into the report, or counts it past the
 * ones listed. */
static enum cd_err verify_found(const struct check *c, const struct dbstmt *s, struct ledger_verify_report *r)
{
	int warning = c->graded && db_i64(s, 3) != 0;
	*(warning ? &r->warnings : &r->violations) += 1;
	if (r->n == LIMIT_VERIFY_VIOLATIONS) {
		r->more++;
		return CD_OK;
	}
	struct ledger_violation *v = &r->found[r->n];
	v->check = c->what;
	v->left = c->left;
	v->right = c->right;
	v->warning = warning;
	if (db_copy(s, 0, v->account, sizeof(v->account), "NULL") != 0 ||
	    db_copy(s, 1, v->left_value, sizeof(v->left_value), "NULL") != 0 ||
	    db_copy(s, 2, v->right_value, sizeof(v->right_value), "NULL") != 0)
		return CD_E_INTERNAL;
	r->n++;
	return CD_OK;
}

static enum cd_err verify_tx(struct ledger *lg, struct ledger_verify_report *r)
{
	int e;
	/* A retried transaction starts the report again. */
	r->violations = r->warnings = r->more = 0;
	r->n = 0;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		struct dbstmt *s = db_exec(lg, checks[i].sql, &e, "");
		if (s == NULL)
			return db_err(lg, e, checks[i].what);
		while (db_fetch(s) == 1) {
			enum cd_err rc = verify_found(&checks[i], s, r);
			if (rc != CD_OK)
				return rc;
		}
	}
	return CD_OK;
}

enum cd_err ledger_verify(struct ledger *lg, struct ledger_verify_report *report)
{
	struct ledger_tx t;
	report->violations = report->warnings = report->more = 0;
	report->n = 0;
	for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
		ledger_tx_end(lg, &t, verify_tx(lg, report));
	return t.rc;
}

/* ---- export ---- */

static enum cd_err journal_row_copy(const struct dbstmt *s, struct ledger_journal_row *r)
{
	r->seq = db_i64(s, 0);
	ledger_id_format(r->id, sizeof(r->id), "txn_", r->seq);
	r->amount_micros = db_i64(s, 1);
	r->balance_after_micros = db_i64(s, 2);
	r->has_source = !db_null(s, 4);
	r->has_reference = !db_null(s, 5);
	r->has_description = !db_null(s, 6);
	r->created_at = db_i64(s, 7);
	if (db_copy(s, 3, r->cause, sizeof(r->cause), "") != 0 || db_copy(s, 4, r->source, sizeof(r->source), "") != 0 ||
	    db_copy(s, 5, r->reference, sizeof(r->reference), "") != 0 ||
	    db_copy(s, 6, r->description, sizeof(r->description), "") != 0)
		return CD_E_INTERNAL;
	return CD_OK;
}

static enum cd_err export_tx(struct ledger *lg, const char *id, int64_t after_seq, struct ledger_journal_row *rows,
			     int cap, int *n)
{
	static const char sql[] = "SELECT id, amount_micros, balance_after_micros, cause, source, reference, "
				  "description, created_at FROM journal WHERE account_id = ? AND id > ? "
				  "ORDER BY id LIMIT ?";
	struct acct a;
	int e;
	*n = 0;	/* a retried transaction starts the page again */
	enum cd_err rc = acct_read(lg, id, &a);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = db_exec(lg, sql, &e, "iii", a.id, after_seq, (int64_t)cap);
	if (s == NULL)
		return db_err(lg, e, "export");
	while (*n < cap && db_fetch(s) == 1) {
		rc = journal_row_copy(s, &rows[*n]);
		if (rc != CD_OK)
			return rc;
		(*n)++;
	}
	return CD_OK;
}

enum cd_err ledger_export_next(struct ledger *lg, const char *id, int64_t after_seq, struct ledger_journal_row *rows,
			       int cap, int *n)
{
	struct ledger_tx t;
	*n = 0;
	for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
		ledger_tx_end(lg, &t, export_tx(lg, id, after_seq, rows, cap, n));
	if (t.rc != CD_OK)
		*n = 0;
	return t.rc;
}
