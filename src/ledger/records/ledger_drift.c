/* ledger_drift.c: what creditctl reconcile compared, stored (sql/077;
 * docs/reconciliation.md, "What is stored"), and read back for GET
 * /v1/reconcile and the overview. A run replaces its period's rows of
 * its provider in one transaction, so a day shows its latest run only;
 * nothing here touches an account or money: the figures are the
 * report's and the usage records' as reconcile read them. */
#include "ledger_int.h"
#include "ledger_reconcile.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

static enum cd_err replace_tx(struct store *db, const char *provider, int64_t from, int64_t to,
			    const struct ledger_drift_row *rows, size_t n)
{
	static const char del[] = "DELETE FROM reconcile_drift WHERE provider = ? AND day >= ? AND day < ?";
	static const char ins[] = "INSERT INTO reconcile_drift (day, provider, model, dimension, provider_value, "
				  "creditd_value, compared_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
	enum cd_err rc = store_do(db, del, "drift replace", "sii", provider, from, to);
	for (size_t i = 0; rc == CD_OK && i < n; i++)
		rc = store_do(db, ins, "drift store", "isssiii", rows[i].day, provider, rows[i].model, rows[i].dimension,
			      rows[i].provider_value, rows[i].creditd_value, db->now);
	return rc;
}

enum cd_err ledger_drift_store(struct store *db, const char *provider, int64_t from, int64_t to,
			       const struct ledger_drift_row *rows, size_t n)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, replace_tx(db, provider, from, to, rows, n));
	return t.rc;
}

static json_t *day_json(int64_t t, int day_only)
{
	char s[TIMEFMT_LEN];
	timefmt_rfc3339(t, s);
	if (day_only)
		s[10] = '\0';
	return json_string(s);
}

static json_t *row_json(struct dbstmt *s)
{
	int64_t p = store_i64(s, 4), c = store_i64(s, 5), d;
	json_t *drift = __builtin_sub_overflow(c, p, &d) ? json_null() : json_integer(d);
	return json_pack("{s:o, s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "day", day_json(store_i64(s, 0), 1), "provider",
			 store_str(s, 1), "model", store_str(s, 2), "dimension", store_str(s, 3), "provider_value",
			 (json_int_t)p, "creditd_value", (json_int_t)c, "drift", drift, "compared_at",
			 day_json(store_i64(s, 6), 0));
}

static enum cd_err read_tx(struct store *db, int64_t from, int64_t to, int cap, json_t **out, int *more)
{
	static const char sql[] = "SELECT day, provider, model, dimension, provider_value, creditd_value, compared_at "
				  "FROM reconcile_drift WHERE day >= ? AND day < ? "
				  "ORDER BY day, provider, model, dimension LIMIT ?";
	int e, got, n = 0;
	json_decref(*out);
	*out = json_array();
	*more = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "iii", from, to, (int64_t)cap + 1);
	if (s == NULL)
		return store_err(db, e, "drift read");
	while (*out != NULL && (got = store_fetch(s)) == 1) {
		if (n == cap) {
			*more = 1;
			break;
		}
		if (json_array_append_new(*out, row_json(s)) != 0)
			return CD_E_INTERNAL;
		n++;
	}
	return *out == NULL || got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_drift_read(struct store *db, int64_t from, int64_t to, int cap, json_t **out, int *more)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, read_tx(db, from, to, cap, out, more));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}

/* The money first (what creditd charged against what it should have for
 * the provider's figures), then the tokens of the four kinds reconcile
 * compares; each |drift| summed over the rows. */
static enum cd_err recent_tx(struct store *db, int64_t since, json_t **out)
{
	static const char sql[] = "SELECT COUNT(*), MAX(compared_at), "
		"CAST(IFNULL(SUM(IF(dimension = 'charged_micros', ABS(creditd_value - provider_value), 0)), 0) AS SIGNED), "
		"CAST(IFNULL(SUM(IF(dimension IN ('input_tokens', 'cached_input_tokens', 'cache_write_input_tokens', "
		"'output_tokens'), ABS(creditd_value - provider_value), 0)), 0) AS SIGNED) "
		"FROM reconcile_drift WHERE day >= ?";
	int e;
	json_decref(*out);
	*out = NULL;
	struct dbstmt *s = store_exec(db, sql, &e, "i", since);
	if (s == NULL)
		return store_err(db, e, "drift recent");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	if (store_i64(s, 0) == 0) {
		*out = json_null();
		return CD_OK;
	}
	*out = json_pack("{s:o, s:o, s:I, s:I, s:I}", "since", day_json(since, 1), "compared_at",
			 day_json(store_i64(s, 1), 0), "abs_drift_micros", (json_int_t)store_i64(s, 2),
			 "abs_drift_tokens", (json_int_t)store_i64(s, 3), "rows", (json_int_t)store_i64(s, 0));
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_drift_recent(struct store *db, int64_t since, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, recent_tx(db, since, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}
