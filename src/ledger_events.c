/* ledger_events.c: the outbox's rows (see ledger_events.h) and the pull
 * route's page of them. */
#include "ledger_events.h"
#include "timefmt.h"
#include <stdlib.h>
#include <string.h>

static const char SQL_SEQ_NEXT[] = "UPDATE event_seq SET last_id = LAST_INSERT_ID(last_id + 1) WHERE id = 1";
static const char SQL_EVENT_ADD[] = "INSERT INTO events (id, account_id, account, type, data, created_at, "
				    "next_attempt_at) VALUES (LAST_INSERT_ID(), ?, ?, ?, ?, ?, ?)";
static const char SQL_EVENT_PAGE[] = "SELECT id, account, type, data, created_at FROM events WHERE id > ? "
				     "ORDER BY id LIMIT ?";

enum cd_err event_add(struct ledger *lg, const struct acct *a, const char *type, json_t *data)
{
	char *text = json_dumps(data != NULL ? data : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(data);
	if (text == NULL)
		return CD_E_INTERNAL;
	enum cd_err rc = db_do(lg, SQL_SEQ_NEXT, "event id", "");
	if (rc == CD_OK)
		rc = db_do(lg, SQL_EVENT_ADD, "event insert", "isssii", a->id, a->ext_id, type, text, lg->now, lg->now);
	free(text);
	return rc;
}

void event_script(struct ledger *lg, struct db_script *s, const struct acct *a, const char *type, json_t *data)
{
	char *text = json_dumps(data != NULL ? data : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(data);
	if (text == NULL) {
		s->sql.failed = 1;	/* the script fails whole, never runs without its event */
		return;
	}
	dbs_sql(s, SQL_SEQ_NEXT);
	dbs_end(s);
	dbs_sql(s, "INSERT INTO events (id, account_id, account, type, data, created_at, next_attempt_at) "
		"VALUES (LAST_INSERT_ID(), ");
	dbs_i64(s, a->id);
	dbs_sql(s, ", ");
	dbs_str(lg, s, a->ext_id);
	dbs_sql(s, ", ");
	dbs_str(lg, s, type);
	dbs_sql(s, ", ");
	dbs_str(lg, s, text);
	dbs_sql(s, ", ");
	dbs_i64(s, lg->now);
	dbs_sql(s, ", ");
	dbs_i64(s, lg->now);
	dbs_sql(s, ")");
	dbs_end(s);
	free(text);
}

json_t *notice_balance(const struct ledger *lg, struct acct *a)
{
	int64_t threshold = a->low_balance >= 0 ? a->low_balance : lg->cfg->low_balance_default_micros;
	int64_t available = acct_available(a);
	if (threshold <= 0 || available >= threshold) {
		a->low_noted = 0;
		return NULL;
	}
	if (a->low_noted)
		return NULL;
	a->low_noted = 1;
	return json_pack("{s:I, s:I, s:I}", "available_micros", (json_int_t)available, "balance_micros",
			 (json_int_t)a->balance, "threshold_micros", (json_int_t)threshold);
}

const char *notice_refusal(const struct ledger *lg, struct acct *a, struct member_row *m, enum refusal_why why,
			   int64_t available, int64_t required, json_t **data)
{
	int64_t month = timefmt_month_key(lg->now), day = lg->now / TIMEFMT_SECONDS_PER_DAY;
	const char *limit = NULL;
	int64_t limit_micros = -1;
	*data = NULL;
	switch (why) {
	case REFUSE_INSUFFICIENT:
		if (a->depleted_noted)
			return NULL;
		a->depleted_noted = 1;
		*data = json_pack("{s:I, s:I}", "available_micros", (json_int_t)available, "required_micros",
				  (json_int_t)required);
		return EVENT_BALANCE_DEPLETED;
	case REFUSE_MONTHLY_LIMIT:
		if (a->limit_month_noted == month)
			return NULL;
		a->limit_month_noted = month;
		limit = "monthly";
		limit_micros = a->monthly_limit;
		break;
	case REFUSE_DAILY_LIMIT:
		if (a->limit_day_noted == day)
			return NULL;
		a->limit_day_noted = day;
		limit = "daily";
		limit_micros = a->daily_limit;
		break;
	case REFUSE_MEMBER_CAP:
		if (m == NULL || m->cap_month_noted == month)
			return NULL;
		m->cap_month_noted = month;
		limit = "member_cap";
		limit_micros = m->cap >= 0 ? m->cap : a->plan_member_cap;
		break;
	default:
		return NULL;
	}
	*data = json_pack("{s:s, s:I, s:I, s:I}", "limit", limit, "limit_micros", (json_int_t)limit_micros,
			  "available_micros", (json_int_t)available, "required_micros", (json_int_t)required);
	if (*data != NULL && m != NULL && why == REFUSE_MEMBER_CAP)
		json_object_set_new(*data, "member", json_string(m->member));
	return limit != NULL ? EVENT_LIMIT_REACHED : NULL;
}

enum cd_err acct_save(struct ledger *lg, struct acct *a)
{
	json_t *low = notice_balance(lg, a);
	enum cd_err rc = low != NULL ? event_add(lg, a, EVENT_BALANCE_LOW, low) : CD_OK;
	return rc == CD_OK ? acct_store(lg, a) : rc;
}

/* An event as the pull route and the push body show it. */
static json_t *event_json(const struct dbstmt *s)
{
	json_error_t jerr;
	json_t *data = json_loads(db_str(s, 3), 0, &jerr);
	if (data == NULL)
		data = json_object();
	return json_pack("{s:I, s:s, s:o, s:s, s:o}", "id", (json_int_t)db_i64(s, 0), "type", db_str(s, 2),
			 "created_at", ledger_json_time(db_i64(s, 4)), "account", db_str(s, 1), "data", data);
}

struct page_run { int64_t after; int limit; json_t *out; };

static enum cd_err page_tx(struct ledger *lg, void *arg)
{
	struct page_run *p = arg;
	int e;
	json_decref(p->out);
	p->out = NULL;
	struct dbstmt *s = db_exec(lg, SQL_EVENT_PAGE, &e, "ii", p->after, (int64_t)p->limit);
	if (s == NULL)
		return db_err(lg, e, "event page");
	json_t *data = json_array();
	int64_t last = p->after;
	int got = 0;
	while (data != NULL && (got = db_fetch(s)) == 1) {
		last = db_i64(s, 0);
		json_array_append_new(data, event_json(s));
	}
	if (data == NULL || got < 0) {
		json_decref(data);
		return CD_E_INTERNAL;
	}
	p->out = json_pack("{s:o, s:I}", "data", data != NULL ? data : json_array(), "next_after", (json_int_t)last);
	return p->out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_events(struct ledger *lg, int64_t after, int limit, json_t **out)
{
	struct page_run p = {after, limit, NULL};
	enum cd_err rc = ledger_run(lg, page_tx, &p);
	*out = p.out;
	return rc;
}
