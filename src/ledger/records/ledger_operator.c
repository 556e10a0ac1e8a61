/* ledger_operator.c: the operator's reads behind the console's pages
 * (ledger_operator.h; docs/api.md, "The operator's reads"). Reads only,
 * each in one transaction, each bounded: a search walks the index of the
 * column it matches (uq_ext_id, ix_email of sql/065) for at most a page;
 * the spend sums read ix_created_model's range of the day or month (a
 * covering index: no row fetched). Two reads go over the accounts table
 * whole, one row an account (the balances' sums and the month's top
 * accounts by month_spent_micros): docs/api.md says so. Nothing here
 * writes, so nothing here takes a lock. */
#include "ledger_operator.h"
#include "ledger_int.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

/* Each half takes its own index's range in ext_id order and at most a
 * page and one; the union is ordered again and cut to the page and one
 * (the one says whether there is more). */
#define ACCOUNT_COLUMNS "ext_id, kind, status, balance_micros, reserved_micros, email, created_at"
static const char SQL_SEARCH[] =
	"(SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE ext_id LIKE ? AND ext_id > ? ORDER BY ext_id LIMIT ?) "
	"UNION (SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE email LIKE ? AND ext_id > ? ORDER BY ext_id LIMIT ?) "
	"ORDER BY ext_id LIMIT ?";
static const char SQL_SEARCH_ALL[] = "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE ext_id > ? "
				     "ORDER BY ext_id LIMIT ?";

/* q as a LIKE prefix pattern: its %, _ and \ escaped, then %. */
static int like_prefix(const char *q, char *out, size_t cap)
{
	size_t n = 0;
	for (; *q != '\0'; q++) {
		if (n + 3 >= cap)
			return -1;
		if (*q == '%' || *q == '_' || *q == '\\')
			out[n++] = '\\';
		out[n++] = *q;
	}
	out[n++] = '%';
	out[n] = '\0';
	return 0;
}

static json_t *account_row_json(const struct dbstmt *s)
{
	char created[TIMEFMT_LEN];
	timefmt_rfc3339(store_i64(s, 6), created);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:s}", "id", store_str(s, 0), "kind", store_str(s, 1),
			 "status", store_str(s, 2), "balance_micros", (json_int_t)store_i64(s, 3),
			 "reserved_micros", (json_int_t)store_i64(s, 4),
			 "email", store_null(s, 5) ? json_null() : json_string(store_str(s, 5)), "created_at", created);
}

static enum cd_err search_tx(struct store *db, const char *q, const char *after, int limit, json_t **out)
{
	char pattern[2 * LIMIT_ACCOUNT_ID_BYTES + 4], last[LIMIT_ACCOUNT_ID_BYTES + 1] = "";
	int e, n = 0, more = 0;
	int64_t page = (int64_t)limit + 1;
	struct dbstmt *s;
	json_decref(*out);
	*out = NULL;
	if (q != NULL && q[0] != '\0') {
		if (like_prefix(q, pattern, sizeof(pattern)) != 0)
			return CD_E_INVALID;
		s = store_exec(db, SQL_SEARCH, &e, "ssissii", pattern, after, page, pattern, after, page, page);
	} else {
		s = store_exec(db, SQL_SEARCH_ALL, &e, "si", after, page);
	}
	if (s == NULL)
		return store_err(db, e, "account search");
	json_t *data = json_array();
	while (data != NULL && store_fetch(s) == 1) {
		if (n == limit) {
			more = 1;
			break;
		}
		if (json_array_append_new(data, account_row_json(s)) != 0) {
			json_decref(data);
			return CD_E_INTERNAL;
		}
		snprintf(last, sizeof(last), "%s", store_str(s, 0));
		n++;
	}
	*out = json_pack("{s:o, s:o, s:b}", "data", data, "next_cursor", more ? json_string(last) : json_null(),
			 "has_more", more);
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_operator_search(struct store *db, const char *q, const char *after, int limit, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, search_tx(db, q, after != NULL ? after : "", limit, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}

/* ---- The overview ---- */

static const char SQL_BALANCES[] =
	"SELECT CAST(IFNULL(SUM(GREATEST(balance_micros, 0)), 0) AS SIGNED), "
	"CAST(IFNULL(SUM(LEAST(balance_micros, 0)), 0) AS SIGNED), "
	"CAST(IFNULL(SUM(reserved_micros), 0) AS SIGNED), COUNT(*), SUM(balance_micros < 0) FROM accounts";
/* BYOK calls ran on the user's own key and charged nothing (reconcile
 * leaves them out too). */
static const char SQL_SPEND[] = "SELECT CAST(IFNULL(SUM(cost_micros), 0) AS SIGNED), COUNT(*) FROM usage_records "
				"WHERE created_at >= ? AND created_at < ? AND byok = 0";
/* The margin: what was charged less the cost before the margin, over the
 * records that know it (sql/078); those rows are fetched, the index does
 * not hold base_cost_micros (docs/api.md). */
static const char SQL_MARGIN[] = "SELECT CAST(IFNULL(SUM(cost_micros - base_cost_micros), 0) AS SIGNED), "
				 "COUNT(base_cost_micros) FROM usage_records "
				 "WHERE created_at >= ? AND created_at < ? AND byok = 0 AND base_cost_micros IS NOT NULL";
static const char SQL_TOP[] = "SELECT ext_id, month_spent_micros FROM accounts WHERE month_key = ? "
			      "AND month_spent_micros > 0 ORDER BY month_spent_micros DESC, id LIMIT ?";
static const char SQL_MAILS_FAILED[] = "SELECT COUNT(*) FROM event_mails WHERE state = 'failed'";
static const char SQL_EVENTS_FAILED[] = "SELECT COUNT(*) FROM events WHERE state = 'failed'";

/* The charged sum and count of usage records in [from, to). */
static enum cd_err spend(struct store *db, int64_t from, int64_t to, int64_t *micros, int64_t *calls)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_SPEND, &e, "ii", from, to);
	if (s == NULL)
		return store_err(db, e, "overview spend");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	*micros = store_i64(s, 0);
	*calls = store_i64(s, 1);
	return CD_OK;
}

/* The margin of [from, to) into *margin: a JSON integer, or null when no
 * record of it knows its cost before the margin. */
static enum cd_err margin_of(struct store *db, int64_t from, int64_t to, json_t **margin)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_MARGIN, &e, "ii", from, to);
	if (s == NULL)
		return store_err(db, e, "overview margin");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	*margin = store_i64(s, 1) > 0 ? json_integer(store_i64(s, 0)) : json_null();
	return *margin != NULL ? CD_OK : CD_E_INTERNAL;
}

static enum cd_err count_of(struct store *db, const char *sql, int64_t *n)
{
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "");
	if (s == NULL)
		return store_err(db, e, "overview count");
	*n = store_fetch(s) == 1 ? store_i64(s, 0) : 0;
	return CD_OK;
}

static enum cd_err top_accounts(struct store *db, json_t **top)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_TOP, &e, "ii", db->now_month, (int64_t)LIMIT_OVERVIEW_TOP_ACCOUNTS);
	if (s == NULL)
		return store_err(db, e, "overview top accounts");
	*top = json_array();
	while (*top != NULL && store_fetch(s) == 1)
		if (json_array_append_new(*top, json_pack("{s:s, s:I}", "id", store_str(s, 0), "month_spent_micros",
							  (json_int_t)store_i64(s, 1))) != 0)
			return CD_E_INTERNAL;
	return *top != NULL ? CD_OK : CD_E_INTERNAL;
}

static enum cd_err balances(struct store *db, json_t *out)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_BALANCES, &e, "");
	if (s == NULL)
		return store_err(db, e, "overview balances");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	json_object_set_new(out, "prepaid_micros", json_integer(store_i64(s, 0)));
	json_object_set_new(out, "debt_micros", json_integer(-store_i64(s, 1)));
	json_object_set_new(out, "reserved_micros", json_integer(store_i64(s, 2)));
	json_object_set_new(out, "accounts", json_integer(store_i64(s, 3)));
	json_object_set_new(out, "accounts_in_debt", json_integer(store_null(s, 4) ? 0 : store_i64(s, 4)));
	return CD_OK;
}

static enum cd_err overview_tx(struct store *db, json_t **out)
{
	int64_t day = db->now_day * TIMEFMT_SECONDS_PER_DAY, month_start, month_end, v[8];
	json_t *top = NULL;
	json_decref(*out);
	*out = json_object();
	if (*out == NULL)
		return CD_E_INTERNAL;
	timefmt_month_bounds(db->now, &month_start, &month_end);
	enum cd_err rc = balances(db, *out);
	if (rc == CD_OK)
		rc = spend(db, day, db->now + 1, &v[0], &v[1]);
	if (rc == CD_OK)
		rc = spend(db, month_start, db->now + 1, &v[2], &v[3]);
	if (rc == CD_OK)
		rc = spend(db, db->now - 60, db->now + 1, &v[4], &v[5]);
	if (rc == CD_OK)
		rc = count_of(db, SQL_MAILS_FAILED, &v[6]);
	if (rc == CD_OK)
		rc = count_of(db, SQL_EVENTS_FAILED, &v[7]);
	if (rc == CD_OK)
		rc = top_accounts(db, &top);
	json_t *margin[2] = {NULL, NULL};
	if (rc == CD_OK)
		rc = margin_of(db, day, db->now + 1, &margin[0]);
	if (rc == CD_OK)
		rc = margin_of(db, month_start, db->now + 1, &margin[1]);
	if (rc != CD_OK) {
		json_decref(top);
		json_decref(margin[0]);
		json_decref(margin[1]);
		return rc;
	}
	json_object_set_new(*out, "today", json_pack("{s:I, s:o, s:I}", "spend_micros", (json_int_t)v[0],
						     "margin_micros", margin[0], "calls", (json_int_t)v[1]));
	json_object_set_new(*out, "month", json_pack("{s:I, s:o, s:I}", "spend_micros", (json_int_t)v[2],
						     "margin_micros", margin[1], "calls", (json_int_t)v[3]));
	json_object_set_new(*out, "calls_last_minute", json_integer(v[5]));
	json_object_set_new(*out, "mails_failed", json_integer(v[6]));
	json_object_set_new(*out, "events_failed", json_integer(v[7]));
	json_object_set_new(*out, "top_accounts", top);
	return CD_OK;
}

enum cd_err ledger_operator_overview(struct store *db, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, overview_tx(db, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}

/* ---- The schema; a key's id ---- */

/* Galera's view of this node: wsrep_local_state_comment ("Synced",
 * "Donor/Desynced", ...); no row on a server without Galera. */
static const char SQL_GALERA[] = "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
				 "WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT'";

static enum cd_err schema_tx(struct store *db, struct ledger_operator_db_state *st)
{
	int e;
	struct dbstmt *s = store_exec(db, "SELECT MAX(name), COUNT(*) FROM schema_migrations", &e, "");
	if (s == NULL)
		return store_err(db, e, "schema state");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	st->applied = store_i64(s, 1);
	if (store_copy(s, 0, st->latest, sizeof(st->latest), "") != 0)
		return CD_E_INTERNAL;
	s = store_exec(db, SQL_GALERA, &e, "");
	if (s == NULL)
		return store_err(db, e, "galera state");
	st->galera[0] = '\0';
	if (store_fetch(s) == 1 && store_copy(s, 0, st->galera, sizeof(st->galera), "") != 0)
		return CD_E_INTERNAL;
	return CD_OK;
}

enum cd_err ledger_operator_db_state(struct store *db, struct ledger_operator_db_state *st)
{
	struct store_tx t;
	memset(st, 0, sizeof(*st));
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, schema_tx(db, st));
	return t.rc;
}

static enum cd_err key_id_tx(struct store *db, const unsigned char hash[32], int64_t *id)
{
	int e;
	struct dbstmt *s = store_exec(db, "SELECT id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", &e, "b",
				   hash, (size_t)32);
	if (s == NULL)
		return store_err(db, e, "key id");
	*id = store_fetch(s) == 1 ? store_i64(s, 0) : 0;
	return CD_OK;
}

enum cd_err ledger_operator_key_id(struct store *db, const unsigned char hash[32], int64_t *id)
{
	struct store_tx t;
	*id = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, key_id_tx(db, hash, id));
	return t.rc;
}
