/* ledger_events.c: the outbox's rows (see ledger_events.h) and the pull
 * route's page of them. */
#include "ledger_alerts.h"
#include "ledger_config.h"
#include "ledger_operator.h"
#include "ledger_events.h"
#include "money_alert.h"
#include "store_write.h"
#include "timefmt.h"
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_EVENT_PAGE[] = "SELECT id, account, type, data, created_at FROM events WHERE id > ? "
				     "ORDER BY id LIMIT ?";
/* An event as the pull route and the push body show it, from columns
 * id, account, type, data, created_at. */
static json_t *event_json(const struct dbstmt *s);

enum cd_err ledger_events_add(struct store *db, const struct acct *a, const char *type, json_t *data)
{
	struct store_write lw;
	assert(type != NULL);
	assert(a == NULL || a->id > 0);
	char *text = json_dumps(data != NULL ? data : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(data);
	if (text == NULL)
		return CD_E_INTERNAL;
	store_write_begin(&lw);
	LEDGER_WRITE_ONE(&lw, "events", EVENTS_TABLE(COL_WRITE, a != NULL ? &a->id : NULL, a != NULL ? a->ext_id : NULL,
						    type, text));
	enum cd_err rc = store_write_run(db, &lw, "event insert", NULL, NULL);
	free(text);
	return rc;
}

static json_t *notice_balance(int64_t low_default, struct acct *a)
{
	int64_t threshold = money_alert_low_threshold(a->low_balance, low_default);
	int noted;
	/* Judged on the balance after settles, holds excluded (money_alert.h). */
	enum money_alert_step step = money_alert_low(a->balance, a->overdraft, threshold > 0 ? threshold : 0,
						     a->low_noted != 0, &noted);
	a->low_noted = noted;
	if (step != ALERT_STEP_FIRE)
		return NULL;
	return json_pack("{s:I, s:I, s:I}", "available_micros", (json_int_t)ledger_rows_acct_available(a),
			 "balance_micros", (json_int_t)a->balance, "threshold_micros", (json_int_t)threshold);
}

json_t *ledger_events_notice_balance(int64_t low_default, struct acct *a)
{
	json_t *low = notice_balance(low_default, a);
	/* Told once a crossing: told now, or re-armed at the threshold. */
	assert(low == NULL || a->low_noted);
	return low;
}

static const char *notice_refusal(const struct ledger_clock *clock, struct acct *a, struct member_row *m,
				  enum refusal_why why, int64_t available, int64_t required, json_t **data)
{
	struct money_refusal_noted noted = {a->depleted_noted, a->limit_month_noted, a->limit_day_noted,
					    m != NULL ? m->cap_month_noted : 0};
	enum money_refusal_notice told = money_alert_refusal(why, m != NULL, clock->month, clock->day, &noted);
	a->depleted_noted = noted.depleted;
	a->limit_month_noted = noted.limit_month;
	a->limit_day_noted = noted.limit_day;
	if (m != NULL)
		m->cap_month_noted = noted.member_month;
	*data = NULL;
	if (told == REFUSAL_NOTICE_DEPLETED) {
		*data = json_pack("{s:I, s:I}", "available_micros", (json_int_t)available, "required_micros",
				  (json_int_t)required);
		return EVENT_BALANCE_DEPLETED;
	}
	if (told == REFUSAL_NOTICE_NONE)
		return NULL;
	const char *limit = why == REFUSE_MONTHLY_LIMIT ? "monthly" : why == REFUSE_DAILY_LIMIT ? "daily" : "member_cap";
	int64_t limit_micros = why == REFUSE_MONTHLY_LIMIT ? a->monthly_limit
			       : why == REFUSE_DAILY_LIMIT ? a->daily_limit
			       : m->cap >= 0 ? m->cap : a->plan_member_cap;
	*data = json_pack("{s:s, s:I, s:I, s:I}", "limit", limit, "limit_micros", (json_int_t)limit_micros,
			  "available_micros", (json_int_t)available, "required_micros", (json_int_t)required);
	if (*data != NULL && why == REFUSE_MEMBER_CAP)
		json_object_set_new(*data, "member", json_string(m->member));
	return EVENT_LIMIT_REACHED;
}

const char *ledger_events_notice_refusal(const struct ledger_clock *clock, struct acct *a, struct member_row *m,
					 enum refusal_why why, int64_t available, int64_t required, json_t **data)
{
	assert(data != NULL);
	const char *type = notice_refusal(clock, a, m, why, available, required, data);
	/* Nothing to tell carries no data; what is told is one of the two. */
	assert(type != NULL || *data == NULL);
	assert(type == NULL || strcmp(type, EVENT_BALANCE_DEPLETED) == 0 || strcmp(type, EVENT_LIMIT_REACHED) == 0);
	return type;
}

/* docs/pay-as-you-go.md, "The suspension ends by itself": when a credit pays the debt (the balance,
 * below 0 as the row was read, is at 0 or above), a collection's later
 * try still waiting has nothing left to collect, and a suspension for a
 * failed payment ends by itself; one for another reason (an admin's, a
 * dispute's) stays. Both beside the writer, now; *recovered: the data
 * of payg.recovered when a suspension ended, else NULL. */
static enum cd_err debt_paid(struct store *db, struct acct *a, json_t **recovered)
{
	static const char sql_retry[] = "UPDATE recharges SET state = 'failed', try_no = try_no - 1, "
					"error = 'the debt was paid otherwise', updated_at = ? WHERE account_id = ? AND "
					"kind = 'payg' AND state = 'queued' AND try_no > 1";
	static const char sql[] = "UPDATE accounts SET status = 'active', status_reason = NULL WHERE id = ? AND "
				  "status = 'suspended' AND status_reason = 'payment_failed'";
	*recovered = NULL;
	if (a->balance_read >= 0 || a->balance < 0)
		return CD_OK;
	a->balance_read = a->balance;
	enum cd_err rc = store_do(db, sql_retry, "collection retry dropped", "ii", db->now, a->id);
	if (rc != CD_OK || strcmp(a->status, "suspended") != 0 || strcmp(a->status_reason, "payment_failed") != 0)
		return rc;
	rc = store_do(db, sql, "suspension lift", "i", a->id);
	if (rc != CD_OK)
		return rc;
	ledger_rows_copy_text(a->status, sizeof(a->status), "active");
	a->status_reason[0] = '\0';
	*recovered = json_pack("{s:s, s:I}", "reason", "payment_failed", "balance_micros", (json_int_t)a->balance);
	return *recovered != NULL ? CD_OK : CD_E_INTERNAL;
}

static enum cd_err notice_debt_paid(struct store *db, struct acct *a)
{
	json_t *recovered;
	enum cd_err rc = debt_paid(db, a, &recovered);
	return rc == CD_OK && recovered != NULL ? ledger_events_add(db, a, EVENT_PAYG_RECOVERED, recovered) : rc;
}

enum cd_err ledger_events_alerts(struct store *db, const struct acct *a, const json_t *fired)
{
	size_t i;
	json_t *data;
	enum cd_err rc = CD_OK;
	json_array_foreach(fired, i, data) {
		rc = ledger_events_add(db, a, EVENT_ALERT_THRESHOLD, json_incref(data));
		if (rc != CD_OK)
			break;
	}
	return rc;
}

/* The account's threshold alerts after its change (ledger_alerts.h):
 * nothing read when it has none. */
static enum cd_err notice_alerts(struct store *db, struct acct *a)
{
	if (a->alert_count == 0)
		return CD_OK;
	json_t *fired = json_array();
	if (fired == NULL)
		return CD_E_INTERNAL;
	enum cd_err rc = ledger_alerts_notice(db, a, fired);
	rc = rc == CD_OK ? ledger_events_alerts(db, a, fired) : rc;
	json_decref(fired);
	return rc;
}

enum cd_err ledger_events_acct_save(struct store *db, struct acct *a)
{
	/* Every operation saves the account it opened locked (ledger_due_lock). */
	assert(a->locked_tx == db->tx_serial);
	json_t *low = ledger_events_notice_balance(ledger_config_of(db->cfg)->low_balance_default_micros, a);
	enum cd_err rc = low != NULL ? ledger_events_add(db, a, EVENT_BALANCE_LOW, low) : CD_OK;
	if (rc == CD_OK)
		rc = notice_debt_paid(db, a);
	rc = rc == CD_OK ? notice_alerts(db, a) : rc;
	rc = rc == CD_OK ? ledger_rows_acct_store(db, a) : rc;
	/* A debt paid off is noticed once: the balance as read follows it. */
	assert(rc != CD_OK || a->balance_read >= 0 || a->balance < 0);
	return rc;
}

int ledger_events_out_add(struct ledger_events_out *out, const char *type, json_t *data, int grant)
{
	assert(type != NULL);
	assert(grant >= -1);
	if (data == NULL || out->n >= LEDGER_EVENTS_OUT_MAX) {
		json_decref(data);
		return -1;
	}
	out->e[out->n++] = (struct ledger_event_out){type, data, grant};
	return 0;
}

void ledger_events_out_free(struct ledger_events_out *out)
{
	for (int i = 0; i < out->n; i++)
		json_decref(out->e[i].data);
	out->n = 0;
}

enum cd_err ledger_events_out_write(struct store_write *lw, const struct acct *a, const struct ledger_events_out *out)
{
	enum cd_err rc = CD_OK;
	assert(a->id > 0);
	struct jw *w = store_write_list(lw, "events");
	for (int i = 0; i < out->n; i++) {
		/* Sorted compact JSON, as ledger_events_add writes it. */
		char *text = json_dumps(out->e[i].data, JSON_COMPACT | JSON_SORT_KEYS);
		if (text == NULL) {
			rc = CD_E_INTERNAL;
			continue;
		}
		/* One that names a grant of the write (sql/083): its data null,
		 * then the grant's place and the data the writer puts its id
		 * in; a procedure before 083 refuses it (data is NOT NULL). */
		const int named = out->e[i].grant >= 0;
		jsonw_open(w, '[');
		EVENTS_TABLE(COL_WRITE, &a->id, a->ext_id, out->e[i].type, named ? NULL : text)
		if (named) {
			jsonw_i64(w, out->e[i].grant);
			jsonw_str(w, text);
		}
		jsonw_close(w, ']');
		free(text);
	}
	jsonw_close(w, ']');
	return rc;
}

enum cd_err ledger_events_acct_add(struct store *db, struct store_write *lw, struct acct *a, struct alert_load *al,
				   struct ledger_events_out *out)
{
	json_t *recovered = NULL, *fired = NULL;
	const int before = out->n;
	/* ledger_events_acct_save's, on the account it opened locked. */
	assert(a->locked_tx == db->tx_serial);
	json_t *low = ledger_events_notice_balance(ledger_config_of(db->cfg)->low_balance_default_micros, a);
	enum cd_err rc = low != NULL && ledger_events_out_add(out, EVENT_BALANCE_LOW, low, -1) != 0 ? CD_E_INTERNAL
												  : CD_OK;
	rc = rc == CD_OK ? debt_paid(db, a, &recovered) : rc;
	if (rc == CD_OK && recovered != NULL && ledger_events_out_add(out, EVENT_PAYG_RECOVERED, recovered, -1) != 0)
		rc = CD_E_INTERNAL;
	if (rc == CD_OK && a->alert_count > 0) {
		fired = json_array();
		rc = fired != NULL ? ledger_alerts_notice_add(db, lw, a, al, fired) : CD_E_INTERNAL;
	}
	size_t i;
	json_t *data;
	json_array_foreach(fired, i, data) {
		if (rc == CD_OK && ledger_events_out_add(out, EVENT_ALERT_THRESHOLD, json_incref(data), -1) != 0)
			rc = CD_E_INTERNAL;
	}
	json_decref(fired);
	rc = rc == CD_OK ? ledger_rows_acct_add(db, lw, a) : rc;
	/* Notices only appended; a debt paid off is noticed once. */
	assert(rc != CD_OK || out->n >= before);
	assert(rc != CD_OK || a->balance_read >= 0 || a->balance < 0);
	return rc;
}

/* An event as the pull route and the push body show it. */
static json_t *event_json(const struct dbstmt *s)
{
	json_error_t jerr;
	json_t *data = json_loads(store_str(s, 3), 0, &jerr);
	if (data == NULL)
		data = json_object();
	return json_pack("{s:I, s:s, s:o, s:o, s:o}", "id", (json_int_t)store_i64(s, 0), "type", store_str(s, 2),
			 "created_at", ledger_rows_json_time(store_i64(s, 4)), "account",
			 store_null(s, 1) ? json_null() : json_string(store_str(s, 1)), "data", data);
}

static enum cd_err page_tx(struct store *db, int64_t after, int limit, json_t **out)
{
	int e;
	json_decref(*out);
	*out = NULL;
	struct dbstmt *s = store_exec(db, SQL_EVENT_PAGE, &e, "ii", after, (int64_t)limit);
	if (s == NULL)
		return store_err(db, e, "event page");
	json_t *data = json_array();
	int64_t last = after;
	int got = 0;
	while (data != NULL && (got = store_fetch(s)) == 1) {
		last = store_i64(s, 0);
		json_array_append_new(data, event_json(s));
	}
	if (data == NULL || got < 0) {
		json_decref(data);
		return CD_E_INTERNAL;
	}
	*out = json_pack("{s:o, s:I}", "data", data != NULL ? data : json_array(), "next_after", (json_int_t)last);
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_events(struct store *db, int64_t after, int limit, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, page_tx(db, after, limit, out));
	return t.rc;
}

/* ---- push ---- */

static const char SQL_DUE[] = "SELECT e.id, e.account, e.type, e.data, e.created_at, e.attempts FROM events e "
	"WHERE e.state = 'pending' AND e.next_attempt_at <= ? AND NOT EXISTS (SELECT 1 FROM events p "
	"WHERE p.account_id = e.account_id AND p.state = 'pending' AND p.id < e.id) ORDER BY e.id LIMIT ?";
static const char SQL_LEASE[] = "UPDATE events SET next_attempt_at = ? WHERE id = ? AND state = 'pending' "
	"AND next_attempt_at <= ?";
static const char SQL_DELIVERED[] = "UPDATE events SET state = 'delivered', delivered_at = ?, attempts = attempts + 1, "
	"last_error = NULL WHERE id = ?";
static const char SQL_FAILED[] = "UPDATE events SET state = IF(created_at + ? <= ?, 'failed', 'pending'), "
	"attempts = attempts + 1, next_attempt_at = ? + LEAST(POW(2, LEAST(attempts, 20)), ?), last_error = ? "
	"WHERE id = ? AND state = 'pending'";

/* Claims into out[0..*claimed) (bodies malloc'd), freeing what an
 * earlier attempt claimed first: its transaction was rolled back. */
static enum cd_err claim_tx(struct store *db, struct ledger_push *out, int max, int64_t lease, int *claimed)
{
	int64_t ids[LIMIT_NOTIFY_BATCH], attempts[LIMIT_NOTIFY_BATCH];
	char *bodies[LIMIT_NOTIFY_BATCH];
	int n = 0, e, got;
	for (int i = 0; i < *claimed; i++)
		free(out[i].body);
	*claimed = 0;
	struct dbstmt *s = store_exec(db, SQL_DUE, &e, "ii", db->now, (int64_t)max);
	if (s == NULL)
		return store_err(db, e, "events due");
	while (n < max && n < LIMIT_NOTIFY_BATCH && (got = store_fetch(s)) == 1) {
		json_t *ev = event_json(s);
		ids[n] = store_i64(s, 0);
		attempts[n] = store_i64(s, 5);
		bodies[n] = ev != NULL ? json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(ev);
		if (bodies[n] == NULL) {
			for (int i = 0; i < n; i++)
				free(bodies[i]);
			return CD_E_INTERNAL;
		}
		n++;
	}
	enum cd_err rc = CD_OK;
	for (int i = 0; i < n; i++) {
		struct dbstmt *l = rc == CD_OK ? store_exec(db, SQL_LEASE, &e, "iii", db->now + lease, ids[i], db->now)
					       : NULL;
		if (rc == CD_OK && l == NULL)
			rc = store_err(db, e, "event lease");
		if (rc == CD_OK && store_affected(l) == 1) {
			out[(*claimed)++] = (struct ledger_push){ids[i], attempts[i], bodies[i]};
			continue;
		}
		free(bodies[i]);	/* another process took it */
	}
	return rc;
}

enum cd_err ledger_events_claim(struct store *db, struct ledger_push *out, int max, int64_t lease_seconds, int *n)
{
	struct store_tx t;
	int claimed = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, claim_tx(db, out, max, lease_seconds, &claimed));
	if (t.rc != CD_OK) {
		for (int i = 0; i < claimed; i++)
			free(out[i].body);
		claimed = 0;
	}
	*n = claimed;
	return t.rc;
}

static enum cd_err pushed_tx(struct store *db, int64_t id, int ok, const char *error, int64_t retry_seconds)
{
	if (ok)
		return store_do(db, SQL_DELIVERED, "event delivered", "ii", db->now, id);
	return store_do(db, SQL_FAILED, "event failed", "iiiisi", retry_seconds, db->now, db->now,
		     (int64_t)LIMIT_NOTIFY_BACKOFF_MAX_SECONDS, error != NULL ? error : "", id);
}

enum cd_err ledger_event_pushed(struct store *db, int64_t id, int ok, const char *error, int64_t retry_seconds)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, pushed_tx(db, id, ok, error, retry_seconds));
	return t.rc;
}

/* ---- /metrics ---- */

/* The last count, for every thread: /metrics prints it without a round
 * trip of its own. */
static atomic_llong outbox_pending = -1;

/* An index range read of ix_due (state, next_attempt_at), stopped at
 * LIMIT_OUTBOX_COUNT_ROWS: never a scan of the table. */
static enum cd_err outbox_count_tx(struct store *db, int64_t *n)
{
	static const char sql[] = "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE state = 'pending' LIMIT ?) p";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "i", (int64_t)LIMIT_OUTBOX_COUNT_ROWS);
	if (s == NULL)
		return store_err(db, e, "outbox count");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	*n = store_i64(s, 0);
	return CD_OK;
}

enum cd_err ledger_outbox_count(struct store *db)
{
	struct store_tx t;
	int64_t n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, outbox_count_tx(db, &n));
	if (t.rc == CD_OK)
		atomic_store(&outbox_pending, (long long)n);
	return t.rc;
}

long long ledger_outbox_pending(void)
{
	return atomic_load(&outbox_pending);
}

/* ---- creditctl ---- */

#define SQL_EVENT_ROWS                                                                                        \
	"SELECT e.id, e.account, e.type, e.state, e.attempts, e.created_at, e.next_attempt_at, e.delivered_at, " \
	"e.last_error, m.state, m.attempts, m.next_at, m.delivered_at, m.last_error FROM events e "          \
	"LEFT JOIN event_mails m ON m.event_id = e.id "
/* either: the push's state or its mail's matches (GET /v1/mails). */
static enum cd_err list_tx(struct store *db, const char *state, int either, int64_t after,
			   struct ledger_event_row *rows, int cap, int *n)
{
	static const char sql[] = SQL_EVENT_ROWS "WHERE e.id > ? AND (? IS NULL OR e.state = ?) ORDER BY e.id LIMIT ?";
	static const char sql_either[] = SQL_EVENT_ROWS "WHERE e.id > ? AND (? IS NULL OR e.state = ? OR m.state = ?) "
					 "ORDER BY e.id LIMIT ?";
	int e;
	*n = 0;	/* a retried transaction starts the page again */
	struct dbstmt *s = either ? store_exec(db, sql_either, &e, "isssi", after, state, state, state, (int64_t)cap)
				  : store_exec(db, sql, &e, "issi", after, state, state, (int64_t)cap);
	if (s == NULL)
		return store_err(db, e, "event list");
	while (*n < cap && store_fetch(s) == 1) {
		struct ledger_event_row *r = &rows[*n];
		r->id = store_i64(s, 0);
		r->created_at = store_i64(s, 5);
		r->attempts = store_i64(s, 4);
		r->next_attempt_at = strcmp(store_str(s, 3), "pending") == 0 ? store_i64(s, 6) : -1;
		r->delivered_at = DB_I64_OR_NONE(s, 7);
		if (store_copy(s, 1, r->account, sizeof(r->account), "-") != 0 ||
		    store_copy(s, 2, r->type, sizeof(r->type), "") != 0 ||
		    store_copy(s, 3, r->state, sizeof(r->state), "") != 0 ||
		    store_copy(s, 8, r->last_error, sizeof(r->last_error), "") != 0 ||
		    store_copy(s, 9, r->mail_state, sizeof(r->mail_state), "") != 0 ||
		    store_copy(s, 13, r->mail_error, sizeof(r->mail_error), "") != 0)
			return CD_E_INTERNAL;
		/* Its mail (sql/050), when it has one. */
		r->mail_attempts = store_null(s, 10) ? 0 : store_i64(s, 10);
		r->mail_next_at = strcmp(r->mail_state, "pending") == 0 ? store_i64(s, 11) : -1;
		r->mail_delivered_at = DB_I64_OR_NONE(s, 12);
		(*n)++;
	}
	return CD_OK;
}

enum cd_err ledger_events_list(struct store *db, const char *state, int64_t after, struct ledger_event_row *rows,
			       int cap, int *n)
{
	struct store_tx t;
	*n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, list_tx(db, state, 0, after, rows, cap, n));
	if (t.rc != CD_OK)
		*n = 0;
	return t.rc;
}

enum cd_err ledger_events_deliveries(struct store *db, const char *state, int64_t after,
				     struct ledger_event_row *rows, int cap, int *n)
{
	struct store_tx t;
	*n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, list_tx(db, state, 1, after, rows, cap, n));
	if (t.rc != CD_OK)
		*n = 0;
	return t.rc;
}

static enum cd_err retry_tx(struct store *db, int64_t id, int *count)
{
	static const char one[] = "UPDATE events SET state = 'pending', next_attempt_at = ? "
				  "WHERE id = ? AND state <> 'delivered'";
	static const char all[] = "UPDATE events SET state = 'pending', next_attempt_at = ? WHERE state = 'failed'";
	/* Its mail too (alerts by email), when it was given up. */
	static const char mail_one[] = "UPDATE event_mails SET state = 'pending', next_at = ? WHERE event_id = ? "
				       "AND state = 'failed'";
	static const char mail_all[] = "UPDATE event_mails SET state = 'pending', next_at = ? WHERE state = 'failed'";
	int e;
	struct dbstmt *s = id > 0 ? store_exec(db, one, &e, "ii", db->now, id) : store_exec(db, all, &e, "i", db->now);
	if (s == NULL)
		return store_err(db, e, "event retry");
	count[0] = (int)store_affected(s);
	s = id > 0 ? store_exec(db, mail_one, &e, "ii", db->now, id) : store_exec(db, mail_all, &e, "i", db->now);
	if (s == NULL)
		return store_err(db, e, "mail retry");
	count[1] = (int)store_affected(s);
	return CD_OK;
}

enum cd_err ledger_events_retry(struct store *db, int64_t id, int count[2])
{
	struct store_tx t;
	count[0] = count[1] = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, retry_tx(db, id, count));
	return t.rc;
}
