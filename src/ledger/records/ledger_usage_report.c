/* ledger_usage_report.c: GET /v1/accounts/{id}/usage, an account's
 * usage summed by model, day or member over a window (docs/api.md, "GET /v1/accounts/{id}/usage").
 *
 * It reads usage_records through the one index that covers every column
 * it sums, in a transaction of its own with no lock: a report is what was
 * committed, never a money decision. It writes nothing. Beside the guard
 * (ledger_holds.c), whose settles and direct usage make the rows it sums;
 * the settle reasons they record are named here, where they are counted. */
#include "ledger_rows.h"
#include "timefmt.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

/* An account's usage in [from, to), of one member when the third
 * parameter is not NULL (a member's browser token: docs/api.md, "Widget"). */
#define USAGE_WHERE "WHERE account_id = ? AND created_at >= ? AND created_at < ? AND (? IS NULL OR member = ?)"

/* What each group sums (and the total): requests, the four token counts,
 * the cost, then the calls settled by each reason (LEDGER_SETTLE_REASONS'
 * order; <=> is never NULL, so a group without one counts 0). Every
 * column is in usage_records.ix_account_time (sql/034): the report reads
 * the index alone. */
#define REASON_SUM(n) ", SUM(settle_reason <=> '" #n "')"
#define USAGE_SUMS "COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_input_tokens), " \
	"SUM(output_tokens), SUM(cost_micros)" LEDGER_SETTLE_REASONS(REASON_SUM) " FROM usage_records "
enum { SUM_REQUESTS, SUM_INPUT, SUM_CACHED, SUM_CACHE_WRITE, SUM_OUTPUT, SUM_COST, SUM_REASONS };
#define USAGE_SUMS_N (SUM_REASONS + LEDGER_SETTLE_REASON_COUNT)
static const char *const sum_names[SUM_REASONS] = {"requests", "input_tokens", "cached_input_tokens",
						   "cache_write_input_tokens", "output_tokens", "cost_micros"};

static const char SQL_USAGE_BY_MODEL[] = "SELECT COALESCE(model, action, ''), " USAGE_SUMS
	USAGE_WHERE " GROUP BY 1 ORDER BY 1";
static const char SQL_USAGE_BY_DAY[] = "SELECT created_at DIV " TIMEFMT_DAY_SQL ", " USAGE_SUMS
	USAGE_WHERE " GROUP BY 1 ORDER BY 1";
static const char SQL_USAGE_BY_MEMBER[] = "SELECT member, " USAGE_SUMS
	USAGE_WHERE " GROUP BY 1 ORDER BY 1";

/* A group's (or the total's) sums as the report shows them: the counts,
 * and by_settle_reason, every reason's calls (0 included). NULL when
 * memory runs out. */
static json_t *sums_json(const int64_t v[USAGE_SUMS_N])
{
	json_t *o = json_object(), *reasons = json_object();
	int bad = o == NULL || reasons == NULL;
	for (int i = 0; !bad && i < SUM_REASONS; i++)
		bad = json_object_set_new(o, sum_names[i], json_integer((json_int_t)v[i])) != 0;
	for (int i = 0; !bad && i < LEDGER_SETTLE_REASON_COUNT; i++)
		bad = json_object_set_new(reasons, ledger_settle_reason(i),
					  json_integer((json_int_t)v[SUM_REASONS + i])) != 0;
	if (!bad && json_object_set_new(o, "by_settle_reason", reasons) == 0)
		return o;
	if (bad)
		json_decref(reasons);
	json_decref(o);
	return NULL;
}

static json_t *report_row(const struct dbstmt *s, const char *group_by, int64_t sums[USAGE_SUMS_N])
{
	char key[TIMEFMT_LEN];
	int64_t v[USAGE_SUMS_N];
	if (strcmp(group_by, "day") == 0) {
		timefmt_rfc3339(store_i64(s, 0) * TIMEFMT_SECONDS_PER_DAY, key);
		key[10] = '\0';
	} else {
		snprintf(key, sizeof(key), "%s", "");
	}
	for (unsigned int i = 0; i < USAGE_SUMS_N; i++) {
		v[i] = store_i64(s, i + 1);
		sums[i] += v[i];
	}
	json_t *row = sums_json(v);
	/* Usage with no member is its own group, named null as in the request. */
	json_t *name = key[0] ? json_string(key) : store_null(s, 0) ? json_null() : json_string(store_str(s, 0));
	json_object_set_new(row, group_by, name);
	return row;
}

static enum cd_err report_tx(struct store *db, const struct usage_query *q, json_t **out)
{
	struct acct a;
	int e;
	json_decref(*out);
	*out = NULL;
	enum cd_err rc = ledger_rows_acct_read(db, q->account, &a);
	if (rc != CD_OK)
		return rc;
	const char *sql = strcmp(q->group_by, "day") == 0 ? SQL_USAGE_BY_DAY
			  : strcmp(q->group_by, "member") == 0 ? SQL_USAGE_BY_MEMBER : SQL_USAGE_BY_MODEL;
	struct dbstmt *s = store_exec(db, sql, &e, "iiiss", a.id, q->from, q->to, q->member, q->member);
	if (s == NULL)
		return store_err(db, e, "usage report");
	json_t *data = json_array();
	int64_t sums[USAGE_SUMS_N] = {0};
	while (store_fetch(s) == 1)
		json_array_append_new(data, report_row(s, q->group_by, sums));
	char from[TIMEFMT_LEN], to[TIMEFMT_LEN];
	timefmt_rfc3339(q->from, from);
	timefmt_rfc3339(q->to, to);
	*out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o*}", "account", a.ext_id, "currency", db->cfg->currency,
			 "from", from, "to", to, "group_by", q->group_by, "data", data, "total", sums_json(sums));
	return *out != NULL && json_object_get(*out, "total") != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_usage_report(struct store *db, const struct usage_query *q, json_t **out)
{
	struct store_tx t;
	assert(q->from < q->to);	/* the API refuses an empty window */
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, report_tx(db, q, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	assert(t.rc != CD_OK || *out != NULL);
	return t.rc;
}

/* ---- Settle reasons (ledger.h), the ones the guard's settles and
 * usage record and this report counts ---- */

#define REASON_NAME(n) #n,
static const char *const settle_reasons[LEDGER_SETTLE_REASON_COUNT] = {LEDGER_SETTLE_REASONS(REASON_NAME)};
#undef REASON_NAME

const char *ledger_settle_reason(int i)
{
	assert(i >= 0);
	assert(i < LEDGER_SETTLE_REASON_COUNT);
	return settle_reasons[i];
}

int ledger_settle_reason_ok(const char *reason)
{
	if (reason == NULL)
		return 1;
	for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
		if (strcmp(reason, settle_reasons[i]) == 0)
			return 1;
	return 0;
}
