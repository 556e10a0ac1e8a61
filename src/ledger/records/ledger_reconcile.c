/* ledger_reconcile.c: what creditctl reconcile reads from the ledger
 * (docs/reconciliation.md): creditd's usage by UTC day and model, the holds that
 * expired unsettled, and the provider
 * names mapped to models (price_aliases, the one thing written here);
 * the price in effect on a day is ledger_prices.c's.
 *
 * Usage is read by one grouped query over a range of
 * usage_records.ix_created_model, which covers every column it sums (the
 * cache-write tokens and settle reasons too, sql/034): a month at 100k
 * calls a day is read from the index in seconds, never fetched row by
 * row (what the gateway charged beyond tokens too, sql/047); the media
 * calls' kinds and units (sql/066) by a second query from an index of
 * their own; by minute
 * too, for creditctl hold resolve --from-usage. Nothing here changes an account. */
#include "ledger_int.h"
#include "ledger_reconcile.h"
#include "ledger_rows.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MEDIA_NAME(k) #k,
static const char *const media_kinds[LEDGER_MEDIA_KIND_COUNT] = {LEDGER_MEDIA_KINDS(MEDIA_NAME)};
#undef MEDIA_NAME

const char *ledger_media_kind(int i)
{
	return i >= 0 && i < LEDGER_MEDIA_KIND_COUNT ? media_kinds[i] : "";
}

/* The media calls of the rows' days and models, by kind (sql/066), added
 * to rows: read from ix_media_created alone (its kind first: the media
 * calls of the period and no other record), in the rows' order. Every
 * such call is a record the grouped query counted: its row is there. */
static enum cd_err media_tx(struct store *db, int64_t from, int64_t to, struct ledger_usage_day *rows, int n)
{
#define MEDIA_IN(k) "'" #k "',"
	static const char sql[] = "SELECT created_at DIV " TIMEFMT_DAY_SQL " AS day, model, media_kind, COUNT(*), "
		"SUM(media_characters), SUM(media_audio_ms), SUM(media_images) "
		"FROM usage_records FORCE INDEX (ix_media_created) "
		"WHERE media_kind IN (" LEDGER_MEDIA_KINDS(MEDIA_IN) "'') AND created_at >= ? AND created_at < ? "
		"AND model IS NOT NULL AND byok = 0 GROUP BY day, model, media_kind ORDER BY day, model, media_kind";
#undef MEDIA_IN
	int e, got, at = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", from, to);
	if (s == NULL)
		return store_err(db, e, "reconcile media");
	while ((got = store_fetch(s)) == 1) {
		int64_t day = store_i64(s, 0) * TIMEFMT_SECONDS_PER_DAY;
		const char *model = store_str(s, 1), *kind = store_str(s, 2);
		while (at < n && (rows[at].day != day || model == NULL || strcasecmp(rows[at].model, model) != 0))
			at++;
		if (at == n)
			return CD_E_INTERNAL;	/* a media call the grouped query did not count (one collation, one order) */
		struct ledger_usage_day *r = &rows[at];
		for (int k = 0; k < LEDGER_MEDIA_KIND_COUNT; k++)
			if (kind != NULL && strcmp(kind, media_kinds[k]) == 0)
				r->media_calls[k] += store_i64(s, 3);
		r->speech_characters += store_i64(s, 4);
		r->transcription_ms += store_i64(s, 5);
		r->images += store_i64(s, 6);
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

static enum cd_err usage_tx(struct store *db, int64_t from, int64_t to, struct ledger_usage_day *rows, int cap,
			    int *n, int *more)
{
	/* With the calls settled by each reason (docs/api.md, "Settle reasons"; <=> is never
	 * NULL): every column is in ix_created_model (sql/034). */
#define REASON_SUM(n) ", SUM(settle_reason <=> '" #n "')"
	static const char sql[] = "SELECT created_at DIV " TIMEFMT_DAY_SQL " AS day, model, COUNT(*), "
		"SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros), "
		"SUM(cache_write_input_tokens)" LEDGER_SETTLE_REASONS(REASON_SUM) ", SUM(cache_write_1h_tokens), "
		"SUM(audio_input_tokens), SUM(audio_output_tokens), SUM(web_search_calls), "
		"SUM(IF(service_tier <=> 'priority', input_tokens + output_tokens, 0)), "
		"SUM(IF(service_tier <=> 'flex', input_tokens + output_tokens, 0)), "
		"SUM(IF(long_context = 1, input_tokens + output_tokens, 0)) "
		"FROM usage_records FORCE INDEX (ix_created_model) "
		"WHERE created_at >= ? AND created_at < ? AND model IS NOT NULL AND byok = 0 "
		"GROUP BY day, model ORDER BY day, model";
#undef REASON_SUM
	int e;
	*n = 0;
	*more = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", from, to);
	if (s == NULL)
		return store_err(db, e, "reconcile usage");
	int got;
	while ((got = store_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		struct ledger_usage_day *r = &rows[*n];
		r->day = store_i64(s, 0) * TIMEFMT_SECONDS_PER_DAY;
		if (store_copy(s, 1, r->model, sizeof(r->model), "") != 0)
			return CD_E_INTERNAL;
		r->requests = store_i64(s, 2);
		r->input_tokens = store_i64(s, 3);
		r->cached_input_tokens = store_i64(s, 4);
		r->output_tokens = store_i64(s, 5);
		r->charged_micros = store_i64(s, 6);
		r->cache_write_input_tokens = store_i64(s, 7);
		for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
			r->by_settle_reason[i] = store_i64(s, 8 + (unsigned int)i);
		int64_t *billed[] = {&r->cache_write_1h_tokens, &r->audio_input_tokens, &r->audio_output_tokens,
				     &r->web_search_calls, &r->priority_tokens, &r->flex_tokens, &r->long_context_tokens};
		for (unsigned int i = 0; i < sizeof(billed) / sizeof(billed[0]); i++)
			*billed[i] = store_i64(s, 8 + LEDGER_SETTLE_REASON_COUNT + i);
		memset(r->media_calls, 0, sizeof(r->media_calls));
		r->speech_characters = r->transcription_ms = r->images = 0;
		(*n)++;
	}
	if (got < 0)
		return CD_E_INTERNAL;
	return *more ? CD_OK : media_tx(db, from, to, rows, *n);	/* more: the caller refuses */
}

enum cd_err ledger_usage_by_day(struct store *db, int64_t from, int64_t to, struct ledger_usage_day *rows, int cap,
				int *n, int *more)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, usage_tx(db, from, to, rows, cap, n, more));
	return t.rc;
}

static enum cd_err minutes_tx(struct store *db, int64_t from, int64_t to, struct ledger_usage_minute *rows,
			      int cap, int *n, int *more)
{
	/* A call's usage counted in the minute its call began (its hold's
	 * creation), as a provider's report files a request, not when it
	 * settled: a long call settled minutes later is never counted where
	 * an unresolved call's leftover is read (a review's finding). */
	static const char sql[] = "SELECT COALESCE(h.created_at, u.created_at) DIV 60 AS minute, u.model, "
		"SUM(u.input_tokens), SUM(u.cached_input_tokens), SUM(u.cache_write_input_tokens), SUM(u.output_tokens) "
		"FROM usage_records u LEFT JOIN holds h ON h.id = u.hold_id AND h.account_id = u.account_id "
		"WHERE u.created_at >= ? - 86400 AND COALESCE(h.created_at, u.created_at) >= ? "
		"AND COALESCE(h.created_at, u.created_at) < ? AND u.model IS NOT NULL AND u.byok = 0 "
		"GROUP BY minute, u.model ORDER BY minute, u.model LIMIT ?";
	int e, got;
	*n = 0;
	*more = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "iiii", from, from, to, (int64_t)cap + 1);
	if (s == NULL)
		return store_err(db, e, "usage by minute");
	while ((got = store_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		struct ledger_usage_minute *r = &rows[*n];
		r->minute = store_i64(s, 0) * 60;
		if (store_copy(s, 1, r->model, sizeof(r->model), "") != 0)
			return CD_E_INTERNAL;
		r->input_tokens = store_i64(s, 2);
		r->cached_input_tokens = store_i64(s, 3);
		r->cache_write_input_tokens = store_i64(s, 4);
		r->output_tokens = store_i64(s, 5);
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_usage_by_minute(struct store *db, int64_t from, int64_t to, struct ledger_usage_minute *rows,
				   int cap, int *n, int *more)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, minutes_tx(db, from, to, rows, cap, n, more));
	return t.rc;
}

static enum cd_err holds_tx(struct store *db, int64_t from, int64_t to, struct ledger_expired_hold *rows, int cap,
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
	struct dbstmt *s = store_exec(db, sql, &e, "iiii", from, to, db->now, (int64_t)cap + 1);
	if (s == NULL)
		return store_err(db, e, "reconcile holds");
	int got;
	while ((got = store_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		struct ledger_expired_hold *r = &rows[*n];
		ledger_rows_hold_id_format(r->hold_id, sizeof(r->hold_id), store_i64(s, 4), store_i64(s, 0));
		if (store_copy(s, 1, r->account, sizeof(r->account), "") != 0 ||
		    store_copy(s, 2, r->model, sizeof(r->model), "") != 0)
			return CD_E_INTERNAL;
		r->expired_at = store_i64(s, 3);
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_expired_holds(struct store *db, int64_t from, int64_t to, struct ledger_expired_hold *rows,
				 int cap, int *n, int *more)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, holds_tx(db, from, to, rows, cap, n, more));
	return t.rc;
}

static enum cd_err aliases_tx(struct store *db, struct ledger_price_alias *rows, int cap, int *n, int *more)
{
	static const char sql[] = "SELECT provider_name, model FROM price_aliases ORDER BY provider_name LIMIT ?";
	int e;
	*n = 0;
	*more = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "i", (int64_t)cap + 1);
	if (s == NULL)
		return store_err(db, e, "price aliases");
	int got;
	while ((got = store_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		if (store_copy(s, 0, rows[*n].provider_name, sizeof(rows[*n].provider_name), "") != 0 ||
		    store_copy(s, 1, rows[*n].model, sizeof(rows[*n].model), "") != 0)
			return CD_E_INTERNAL;
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_price_aliases(struct store *db, struct ledger_price_alias *rows, int cap, int *n, int *more)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, aliases_tx(db, rows, cap, n, more));
	return t.rc;
}

enum cd_err ledger_price_alias_set(struct store *db, const char *provider_name, const char *model)
{
	static const char sql[] = "INSERT INTO price_aliases (provider_name, model, created_at) VALUES (?, ?, ?) "
		"ON DUPLICATE KEY UPDATE model = VALUES(model), created_at = VALUES(created_at)";
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, store_do(db, sql, "price alias", "ssi", provider_name, model, db->now));
	return t.rc;
}
