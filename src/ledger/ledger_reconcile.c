/* ledger_reconcile.c: what creditctl reconcile reads from the ledger
 * (DESIGN §10): creditd's usage by UTC day and model, the holds that
 * expired unsettled, the price a model had on a day, and the provider
 * names mapped to models (price_aliases, the one thing written here).
 *
 * Usage is read by one grouped query over a range of
 * usage_records.ix_created_model, which covers every column it sums (the
 * cache-write tokens and settle reasons too, sql/034): a month at 100k
 * calls a day is read from the index in seconds, never fetched row by
 * row. Nothing here changes an account. */
#include "ledger_int.h"
#include "ledger_rows.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

static enum cd_err usage_tx(struct ledger *lg, int64_t from, int64_t to, struct ledger_usage_day *rows, int cap,
			    int *n, int *more)
{
	/* With the calls settled by each reason (DESIGN §12; <=> is never
	 * NULL): every column is in ix_created_model (sql/034). */
#define REASON_SUM(n) ", SUM(settle_reason <=> '" #n "')"
	static const char sql[] = "SELECT created_at DIV " TIMEFMT_DAY_SQL " AS day, model, COUNT(*), "
		"SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros), "
		"SUM(cache_write_input_tokens)" LEDGER_SETTLE_REASONS(REASON_SUM) " "
		"FROM usage_records FORCE INDEX (ix_created_model) "
		"WHERE created_at >= ? AND created_at < ? AND model IS NOT NULL AND byok = 0 "
		"GROUP BY day, model ORDER BY day, model";
#undef REASON_SUM
	int e;
	*n = 0;
	*more = 0;
	struct dbstmt *s = ledger_db_exec(lg, sql, &e, "ii", from, to);
	if (s == NULL)
		return ledger_db_err(lg, e, "reconcile usage");
	int got;
	while ((got = ledger_db_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		struct ledger_usage_day *r = &rows[*n];
		r->day = ledger_db_i64(s, 0) * TIMEFMT_SECONDS_PER_DAY;
		if (ledger_db_copy(s, 1, r->model, sizeof(r->model), "") != 0)
			return CD_E_INTERNAL;
		r->requests = ledger_db_i64(s, 2);
		r->input_tokens = ledger_db_i64(s, 3);
		r->cached_input_tokens = ledger_db_i64(s, 4);
		r->output_tokens = ledger_db_i64(s, 5);
		r->charged_micros = ledger_db_i64(s, 6);
		r->cache_write_input_tokens = ledger_db_i64(s, 7);
		for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
			r->by_settle_reason[i] = ledger_db_i64(s, 8 + (unsigned int)i);
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_usage_by_day(struct ledger *lg, int64_t from, int64_t to, struct ledger_usage_day *rows, int cap,
				int *n, int *more)
{
	struct ledger_tx t;
	for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
		ledger_tx_end(lg, &t, usage_tx(lg, from, to, rows, cap, n, more));
	return t.rc;
}

static enum cd_err holds_tx(struct ledger *lg, int64_t from, int64_t to, struct ledger_expired_hold *rows, int cap,
			    int *n, int *more)
{
	/* Pending past its time is expired whether or not the sweep has
	 * marked it yet. */
	static const char sql[] = "SELECT h.id, a.ext_id, h.model, h.expires_at, h.account_id FROM holds h "
		"JOIN accounts a ON a.id = h.account_id WHERE h.state IN ('pending', 'expired') AND h.byok = 0 "
		"AND h.expires_at >= ? AND h.expires_at < ? AND h.expires_at <= ? ORDER BY h.expires_at, h.id LIMIT ?";
	int e;
	*n = 0;
	*more = 0;
	struct dbstmt *s = ledger_db_exec(lg, sql, &e, "iiii", from, to, lg->now, (int64_t)cap + 1);
	if (s == NULL)
		return ledger_db_err(lg, e, "reconcile holds");
	int got;
	while ((got = ledger_db_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		struct ledger_expired_hold *r = &rows[*n];
		ledger_hold_id_format(r->hold_id, sizeof(r->hold_id), ledger_db_i64(s, 4), ledger_db_i64(s, 0));
		if (ledger_db_copy(s, 1, r->account, sizeof(r->account), "") != 0 ||
		    ledger_db_copy(s, 2, r->model, sizeof(r->model), "") != 0)
			return CD_E_INTERNAL;
		r->expired_at = ledger_db_i64(s, 3);
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_expired_holds(struct ledger *lg, int64_t from, int64_t to, struct ledger_expired_hold *rows,
				 int cap, int *n, int *more)
{
	struct ledger_tx t;
	for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
		ledger_tx_end(lg, &t, holds_tx(lg, from, to, rows, cap, n, more));
	return t.rc;
}

static enum cd_err price_tx(struct ledger *lg, const char *model, int64_t before, struct price *p, int *found)
{
	/* The last change before the moment; a model first priced later that
	 * day (or after) is reconciled at its first price. */
	static const char sql[] = "SELECT input_micros_per_mtok, cached_input_micros_per_mtok, output_micros_per_mtok, "
		"max_output_tokens, COALESCE(cache_write_micros_per_mtok, input_micros_per_mtok) "
		"FROM price_history WHERE model = ? "
		"ORDER BY effective_at < ? DESC, CASE WHEN effective_at < ? THEN -effective_at ELSE effective_at END, "
		"CASE WHEN effective_at < ? THEN -id ELSE id END LIMIT 1";
	int e;
	struct dbstmt *s = ledger_db_exec(lg, sql, &e, "siii", model, before, before, before);
	if (s == NULL)
		return ledger_db_err(lg, e, "reconcile price");
	*found = ledger_db_fetch(s) == 1;
	if (*found)
		*p = (struct price){ledger_db_i64(s, 0), ledger_db_i64(s, 1), ledger_db_i64(s, 2), ledger_db_i64(s, 3), ledger_db_i64(s, 4),
				     PRICING_NO_DIMS};
	return CD_OK;
}

enum cd_err ledger_price_in_effect(struct ledger *lg, const char *model, int64_t before, struct price *p, int *found)
{
	struct ledger_tx t;
	*found = 0;
	for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
		ledger_tx_end(lg, &t, price_tx(lg, model, before, p, found));
	return t.rc;
}

static enum cd_err aliases_tx(struct ledger *lg, struct ledger_price_alias *rows, int cap, int *n, int *more)
{
	static const char sql[] = "SELECT provider_name, model FROM price_aliases ORDER BY provider_name LIMIT ?";
	int e;
	*n = 0;
	*more = 0;
	struct dbstmt *s = ledger_db_exec(lg, sql, &e, "i", (int64_t)cap + 1);
	if (s == NULL)
		return ledger_db_err(lg, e, "price aliases");
	int got;
	while ((got = ledger_db_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		if (ledger_db_copy(s, 0, rows[*n].provider_name, sizeof(rows[*n].provider_name), "") != 0 ||
		    ledger_db_copy(s, 1, rows[*n].model, sizeof(rows[*n].model), "") != 0)
			return CD_E_INTERNAL;
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_price_aliases(struct ledger *lg, struct ledger_price_alias *rows, int cap, int *n, int *more)
{
	struct ledger_tx t;
	for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
		ledger_tx_end(lg, &t, aliases_tx(lg, rows, cap, n, more));
	return t.rc;
}

enum cd_err ledger_price_alias_set(struct ledger *lg, const char *provider_name, const char *model)
{
	static const char sql[] = "INSERT INTO price_aliases (provider_name, model, created_at) VALUES (?, ?, ?) "
		"ON DUPLICATE KEY UPDATE model = VALUES(model), created_at = VALUES(created_at)";
	struct ledger_tx t;
	for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
		ledger_tx_end(lg, &t, ledger_db_do(lg, sql, "price alias", "ssi", provider_name, model, lg->now));
	return t.rc;
}
