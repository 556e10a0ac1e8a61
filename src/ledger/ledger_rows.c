/* ledger_rows.c: account rows, the journal and the grants.
 *
 * Owns the invariants for balances (docs/decisions.md, "Invariants"): every balance change is
 * one journal row written in the same transaction as the grant rows it
 * moves, with the account row locked first. balance = sum of remaining
 * grants at every commit: what the grants cannot cover is carried by the
 * account's one debt row (negative remaining), which the next grant repays
 * first. Never updates or deletes a journal row. Calls nothing above it. */
#include "holdid.h"
#include "ledger_config.h"
#include "ledger_rows.h"
#include "money_rule.h"
#include "store_write.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT_COLS ACCT_COLS_OF("")
static const char SQL_ACCT_LOCK[] = "SELECT " ACCT_COLS " FROM accounts WHERE ext_id = ? FOR UPDATE";
static const char SQL_ACCT_LOCK_ID[] = "SELECT " ACCT_COLS " FROM accounts WHERE id = ? FOR UPDATE";
static const char SQL_ACCT_READ[] = "SELECT " ACCT_COLS " FROM accounts WHERE ext_id = ?";
/* On Galera an account is locked by writing it before it is read
 * (sql/043_galera_locks.sql says why): its version, which the trigger of
 * sql/037 moves. By its primary key alone, as cd_batch_lock_read locks it
 * first: a lock on the external id's index entry taken first, or the
 * shared one a subquery of the UPDATE would take there, would deadlock
 * with it. The external id's row id is read first without a lock (it
 * never changes). */
static const char SQL_ACCT_ID[] = "SELECT id, ext_id FROM accounts WHERE ext_id = ?";
static const char SQL_ACCT_EXT[] = "SELECT id, ext_id FROM accounts WHERE id = ?";
static const char SQL_ACCT_WRITE_LOCK_ID[] = "UPDATE accounts SET row_version = row_version WHERE id = ?";
/* The same, writing the transaction's mark (sql/053, store_tx.c). */
static const char SQL_ACCT_MARK_LOCK_ID[] = "UPDATE accounts SET tx_mark = ? WHERE id = ?";
static const char SQL_DEBT_GET[] = "SELECT id, remaining_micros FROM grants WHERE account_id = ? "
				   "AND source = 'debt' FOR UPDATE";

const char *ledger_rows_journal_key_push(struct store *db, char buf[JOURNAL_KEY_BYTES], const char *prefix, const char *id,
			     int force)
{
	const char *outer = db->journal_key;
	if (id != NULL && (force || outer == NULL)) {
		snprintf(buf, JOURNAL_KEY_BYTES, "%s:%s", prefix, id);
		db->journal_key = buf;
	}
	return outer;
}

void ledger_rows_copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

void ledger_rows_acct_from_row_at(const struct db_row *r, unsigned int c, struct acct *a)
{
	a->id = COL_I64(ACCT_ID);
	COL_TEXT(a->ext_id, ACCT_EXT_ID);
	COL_TEXT(a->kind, ACCT_KIND);
	COL_TEXT(a->status, ACCT_STATUS);
	a->balance = COL_I64(ACCT_BALANCE);
	a->balance_read = a->balance;
	a->reserved = COL_I64(ACCT_RESERVED);
	a->overdraft = COL_I64(ACCT_OVERDRAFT);
	a->monthly_limit = COL_I64_OR(ACCT_MONTHLY_LIMIT, -1);
	a->low_balance = COL_I64_OR(ACCT_LOW_BALANCE, -1);
	COL_TEXT(a->plan, ACCT_PLAN);
	a->month_key = COL_I64(ACCT_MONTH_KEY);
	a->month_spent = COL_I64(ACCT_MONTH_SPENT);
	a->sweep_due_at = COL_I64_OR(ACCT_SWEEP_DUE_AT, -1);
	a->created_at = COL_I64(ACCT_CREATED_AT);
	COL_TEXT(a->stripe_customer, ACCT_STRIPE_CUSTOMER);
	a->daily_limit = COL_I64_OR(ACCT_DAILY_LIMIT, -1);
	a->day_key = COL_I64(ACCT_DAY_KEY);
	a->day_spent = COL_I64(ACCT_DAY_SPENT);
	a->plan_period = COL_I64(ACCT_PLAN_PERIOD);
	a->low_noted = COL_I64(ACCT_LOW_NOTED) != 0;
	a->depleted_noted = COL_I64(ACCT_DEPLETED_NOTED) != 0;
	a->limit_month_noted = COL_I64(ACCT_LIMIT_MONTH_NOTED);
	a->limit_day_noted = COL_I64(ACCT_LIMIT_DAY_NOTED);
	a->recharge_threshold = COL_I64_OR(ACCT_RECHARGE_THRESHOLD, -1);
	a->recharge_amount_cents = COL_I64_OR(ACCT_RECHARGE_AMOUNT_CENTS, -1);
	a->recharge_card = COL_I64(ACCT_HAS_CARD) != 0;
	a->recharge_pending = COL_I64(ACCT_RECHARGE_PENDING) != 0;
	a->recharge_failures = COL_I64(ACCT_RECHARGE_FAILURES);
	a->recharge_day_key = COL_I64(ACCT_RECHARGE_DAY_KEY);
	a->recharge_day_count = COL_I64(ACCT_RECHARGE_DAY_COUNT);
	a->rate.rpm = COL_I64_OR(ACCT_RPM, -1);
	a->rate.tpm = COL_I64_OR(ACCT_TPM, -1);
	a->rate.minute = COL_I64(ACCT_RATE_MINUTE);
	a->rate.requests = COL_I64(ACCT_RATE_REQUESTS);
	a->rate.tokens = COL_I64(ACCT_RATE_TOKENS);
	COL_TEXT(a->status_reason, ACCT_STATUS_REASON);
	a->row_version = COL_I64(ACCT_ROW_VERSION);
	a->alert_count = (int)COL_I64(ACCT_ALERT_COUNT);
	a->plan_member_cap = -1;
}

int ledger_rows_acct_spent(struct acct *a, int64_t delta)
{
	int64_t month, day;
	if (money_add(a->month_spent, delta, &month) != 0 || money_add(a->day_spent, delta, &day) != 0)
		return -1;
	a->month_spent = month;
	a->day_spent = day;
	/* money_add leaves both within the money range (docs/api.md). */
	assert(money_in_range(a->month_spent));
	assert(money_in_range(a->day_spent));
	return 0;
}

/* On Galera: the account (by ext_id, else by *id) locked by writing it,
 * *id its row id; a transaction of no account moves to the node of the
 * first account it meets (store_tx_reroute), before it locks anything. */
/* The first row of sql run by ext_id (fmt "s") or id (fmt "i"): the
 * statement at it, or NULL with *rc (REFUSE_ACCOUNT_UNKNOWN when none). */
static struct dbstmt *acct_row(struct store *db, const char *sql, const char *fmt, const char *ext_id, int64_t id,
			       enum cd_err *rc)
{
	int e;
	struct dbstmt *s = fmt[0] == 's' ? store_exec(db, sql, &e, fmt, ext_id) : store_exec(db, sql, &e, fmt, id);
	int got = s != NULL ? store_fetch(s) : 0;
	if (s == NULL)
		*rc = store_err(db, e, "account lookup");
	else if (got < 0)
		*rc = CD_E_INTERNAL;
	else if (got == 0)
		*rc = refusal_set(&db->refusal, REFUSE_ACCOUNT_UNKNOWN, ext_id, NULL);
	return got == 1 ? s : NULL;
}

/* Locks account id by writing its mark (before 053: its version). */
static enum cd_err write_lock(struct store *db, int64_t id)
{
	int64_t mark;
	int e;
	if (!store_mark_absent()) {
		enum cd_err rc = store_mark_next(db, id, &mark);
		if (rc != CD_OK)
			return rc;
		if (store_exec(db, SQL_ACCT_MARK_LOCK_ID, &e, "ii", mark, id) != NULL) {
			store_mark_locked(db, id);
			return CD_OK;
		}
		if (e != ER_BAD_FIELD_ERROR)
			return store_err(db, e, "account lock");
		store_mark_missing("account lock");
	}
	return store_do(db, SQL_ACCT_WRITE_LOCK_ID, "account lock", "i", id);
}

static enum cd_err galera_lock(struct store *db, const char *ext_id, int64_t *id)
{
	enum cd_err rc;
	struct dbstmt *s = ext_id != NULL ? acct_row(db, SQL_ACCT_ID, "s", ext_id, 0, &rc)
					  : acct_row(db, SQL_ACCT_EXT, "i", NULL, *id, &rc);
	if (s == NULL)
		return rc;
	*id = store_i64(s, 0);
	rc = store_tx_reroute(db, store_str(s, 1));
	return rc != CD_OK ? rc : write_lock(db, *id);
}

static enum cd_err acct_load(struct store *db, const char *sql, const char *fmt, const char *ext_id,
			     int64_t id, struct acct *a)
{
	enum cd_err rc;
	if (sql != SQL_ACCT_READ && store_galera(db)) {
		rc = galera_lock(db, ext_id, &id);
		if (rc != CD_OK)
			return rc;
		sql = SQL_ACCT_LOCK_ID;
		fmt = "i";
	}
	struct dbstmt *s = acct_row(db, sql, fmt, ext_id, id, &rc);
	if (s == NULL)
		return rc;
	struct db_row row = {s, NULL, 0};
	ledger_rows_acct_from_row_at(&row, 0, a);
	a->locked_tx = sql != SQL_ACCT_READ ? db->tx_serial : 0;
	return CD_OK;
}

void ledger_rows_acct_mark_locked_in(uint64_t tx_serial, struct acct *a)
{
	assert(tx_serial != 0);	/* numbered from 1 (store_new): 0 is "not locked" */
	a->locked_tx = tx_serial;
}

enum cd_err ledger_rows_acct_check_locked_in(uint64_t tx_serial, const struct acct *a, const char *what)
{
	assert(what != NULL);
	assert(tx_serial != 0);	/* numbered from 1 (store_new): 0 is "not locked" */
	if (a->locked_tx == tx_serial && a->locked_tx != 0)
		return CD_OK;
	log_error("%s of account %" PRId64 " from a row not locked in this transaction (locked in %" PRIu64
		  ", now %" PRIu64 "): not written", what, a->id, a->locked_tx, tx_serial);
	return CD_E_INTERNAL;
}

enum cd_err ledger_rows_acct_check_locked(const struct store *db, const struct acct *a, const char *what)
{
	return ledger_rows_acct_check_locked_in(db->tx_serial, a, what);
}

enum cd_err ledger_rows_acct_load_locked(struct store *db, const char *ext_id, struct acct *a)
{
	assert(ext_id != NULL);
	enum cd_err rc = acct_load(db, SQL_ACCT_LOCK, "s", ext_id, 0, a);
	/* Read under its lock in this transaction: money may be written from it. */
	assert(rc != CD_OK || a->locked_tx == db->tx_serial);
	assert(rc != CD_OK || a->locked_tx != 0);
	return rc;
}

enum cd_err ledger_rows_acct_load_locked_id(struct store *db, int64_t id, struct acct *a)
{
	enum cd_err rc = acct_load(db, SQL_ACCT_LOCK_ID, "i", NULL, id, a);
	assert(rc != CD_OK || a->id == id);
	assert(rc != CD_OK || a->locked_tx == db->tx_serial);
	assert(rc != CD_OK || a->locked_tx != 0);
	return rc;
}

enum cd_err ledger_rows_acct_read(struct store *db, const char *ext_id, struct acct *a)
{
	assert(ext_id != NULL);
	enum cd_err rc = acct_load(db, SQL_ACCT_READ, "s", ext_id, 0, a);
	assert(rc != CD_OK || a->locked_tx == 0);	/* a GET's read: never written from */
	return rc;
}

json_t *ledger_rows_journal_entry_json(const struct journal_entry *e)
{
	char id[32], created[TIMEFMT_LEN];
	ledger_ids_format(id, sizeof(id), "txn_", e->id);
	timefmt_rfc3339(e->created_at, created);
	return json_pack("{s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:s}", "id", id, "amount_micros",
			 (json_int_t)e->amount_micros, "balance_after_micros", (json_int_t)e->balance_after_micros,
			 "cause", e->cause, "source", e->source ? json_string(e->source) : json_null(),
			 "reference", e->reference ? json_string(e->reference) : json_null(),
			 "description", e->description ? json_string(e->description) : json_null(), "created_at", created);
}

int64_t ledger_rows_acct_available(const struct acct *a)
{
	return money_available(a->balance, a->reserved, a->overdraft);
}

/* The rows below are written by the one writer (ledger_write.h), each
 * from its column table in ledger_columns.h. */

/* The grants among g[0..n) whose remaining changed, and a new debt row
 * of remaining debt (< 0; 0: none). */
static void write_grants(struct store_write *lw, const struct acct *a, const struct spend_grant *g, int n,
			 int64_t debt)
{
	if (debt < 0) {
		const struct spend_grant d = {0, debt, 1, 1};
		LEDGER_WRITE_ONE(lw, "debts", DEBTS_TABLE(COL_WRITE, a->id, &d));
	}
	struct jw *w = store_write_list(lw, "grants_set");
	for (int i = 0; i < n; i++) {
		if (!g[i].changed)
			continue;
		jsonw_open(w, '[');
		GRANTS_SET_TABLE(COL_WRITE, &g[i])
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
}

/* j as a journal row of a (with db's journal key and time), the balance
 * after it in *after; a refusal when it would leave the range. */
static enum cd_err write_journal(struct store *db, struct store_write *lw, const struct acct *a,
				 const struct journal_line *j, int64_t *after)
{
	enum cd_err rc = ledger_rows_acct_check_locked(db, a, "a journal row");
	if (rc != CD_OK)
		return rc;
	/* Callers check the range first (a refusal); this is the backstop
	 * that keeps a wrapped balance out of the journal whatever they do. */
	if (money_add(a->balance, j->amount, after) != 0)
		return refusal_set_range(&db->refusal, REFUSE_OUT_OF_RANGE, "balance", j->amount, NULL);
	LEDGER_WRITE_ONE(lw, "journal", JOURNAL_TABLE(COL_WRITE, a->id, j, *after, db->journal_key, db->actor));
	return CD_OK;
}

enum cd_err ledger_rows_acct_add(const struct store *db, struct store_write *lw, const struct acct *a)
{
	assert(a->id > 0);
	/* Invariant 2: reserved is the sum of pending holds, never below 0.
	 * A row edited by hand below it is refused, never written (as a
	 * member's is), not asserted: the daemon serves every other account. */
	if (a->reserved < 0) {
		log_error("account %" PRId64 " would store a negative reserve", a->id);
		return CD_E_INTERNAL;
	}
	enum cd_err rc = ledger_rows_acct_check_locked(db, a, "an account update");
	if (rc != CD_OK)
		return rc;
	LEDGER_WRITE_ONE(lw, "accounts", ACCT_TABLE(COL_WRITE, a));
	return CD_OK;
}

enum cd_err ledger_rows_acct_store(struct store *db, const struct acct *a)
{
	struct store_write lw;
	store_write_begin(&lw);
	enum cd_err rc = ledger_rows_acct_add(db, &lw, a);
	if (rc != CD_OK) {
		store_write_drop(&lw);
		return rc;
	}
	rc = store_write_run(db, &lw, "account update", NULL, NULL);
	/* The write commits nothing: the row stays locked in this transaction. */
	assert(rc != CD_OK || a->locked_tx == db->tx_serial);
	return rc;
}

/* The changed grants among g[0..n), a new debt row (debt < 0; 0: none)
 * and, when j is not NULL, its journal row, in one write. */
static enum cd_err grants_journal(struct store *db, struct acct *a, const struct spend_grant *g, int n, int64_t debt,
				  const struct journal_line *j, int64_t *journal_id)
{
	struct store_write lw;
	int64_t after = a->balance;
	enum cd_err rc = CD_OK;
	store_write_begin(&lw);
	write_grants(&lw, a, g, n, debt);
	if (j != NULL)
		rc = write_journal(db, &lw, a, j, &after);
	if (rc != CD_OK) {
		store_write_drop(&lw);
		return rc;
	}
	rc = store_write_run(db, &lw, j != NULL ? "journal append" : "grants update", NULL,
			      j != NULL ? journal_id : NULL);
	if (rc == CD_OK)
		a->balance = after;
	return rc;
}

enum cd_err ledger_rows_grants_journal(struct store *db, struct acct *a, const struct spend_grant *g, int n,
				  const struct journal_line *j, int64_t *journal_id)
{
	const int64_t before = a->balance;
	assert(n >= 0);
	assert(n == 0 || g != NULL);
	enum cd_err rc = grants_journal(db, a, g, n, 0, j, journal_id);
	/* Invariant 1: the balance moved by exactly the journal row's amount. */
	assert(rc != CD_OK || j == NULL || a->balance == before + j->amount);
	assert(rc != CD_OK || j != NULL || a->balance == before);
	assert(rc != CD_OK || j == NULL || journal_id == NULL || *journal_id > 0);
	return rc;
}

enum cd_err ledger_rows_journal_append(struct store *db, struct acct *a, const struct journal_line *j,
				  int64_t *journal_id)
{
	const int64_t before = a->balance;
	assert(j != NULL);
	assert(j->cause != NULL);
	enum cd_err rc = ledger_rows_grants_journal(db, a, NULL, 0, j, journal_id);
	assert(rc != CD_OK || a->balance == before + j->amount);
	assert(rc != CD_OK || money_in_range(a->balance));
	return rc;
}

enum cd_err ledger_rows_hold_end(struct store *db, const struct hold_end *h)
{
	struct store_write lw;
	assert(h->id > 0);
	assert(h->state != NULL);
	assert(h->charged >= 0);
	store_write_begin(&lw);
	LEDGER_WRITE_ONE(&lw, "holds_set", HOLDS_SET_TABLE(COL_WRITE, h));
	return store_write_run(db, &lw, "hold end", NULL, NULL);
}

enum cd_err ledger_rows_spend(struct store *db, struct acct *a, int64_t amount, const char *cause,
			 int64_t hold_id, const char *reference, const char *description,
			 int64_t *journal_id)
{
	const int64_t before = a->balance;
	assert(cause != NULL);
	enum cd_err rc = ledger_rows_spend_as(db, a, amount, cause, NULL, hold_id, reference, description, journal_id);
	assert(rc != CD_OK || a->balance == before - amount);
	return rc;
}

enum cd_err ledger_rows_spend_as(struct store *db, struct acct *a, int64_t amount, const char *cause,
			    const char *source, int64_t hold_id, const char *reference, const char *description,
			    int64_t *journal_id)
{
	static const char sql[] = "SELECT id, remaining_micros, source = 'debt' FROM grants WHERE account_id = ? "
				  "AND (remaining_micros > 0 OR source = 'debt') ORDER BY " GRANTS_SPEND_ORDER
				  " LIMIT ? FOR UPDATE";
	struct spend_grant g[LIMIT_SPEND_GRANTS + 1];
	int64_t left = amount;
	int n, e, full;
	enum cd_err rc = CD_OK;
	if (amount <= 0)
		return amount == 0 ? CD_OK : CD_E_INTERNAL;
	if (money_sub(a->balance, amount, &left) != 0)	/* the money range (docs/api.md), before anything moves */
		return refusal_set_range(&db->refusal, REFUSE_OUT_OF_RANGE, "balance", amount, "amount_micros");
	left = amount;
	const struct journal_line j = {.amount = -amount, .cause = cause, .source = source, .hold_id = hold_id,
				       .reference = reference, .description = description};
	do {
		/* A page of grants; the ones it burns drop out of the next. The
		 * last page's write carries the journal row. */
		struct dbstmt *s = store_exec(db, sql, &e, "ii", a->id, (int64_t)LIMIT_SPEND_GRANTS + 1);
		if (s == NULL)
			return store_err(db, e, "grant lookup");
		for (n = 0; n < LIMIT_SPEND_GRANTS + 1 && store_fetch(s) == 1; n++)
			g[n] = (struct spend_grant){store_i64(s, 0), store_i64(s, 1), store_i64(s, 2) != 0, 0};
		full = n == LIMIT_SPEND_GRANTS + 1;
		left = money_rule_spend_burn(g, n, left);
		int last = left == 0 || !full;
		int64_t debt = last && left > 0 && !money_rule_spend_debt(g, n, left) ? -left : 0;
		rc = grants_journal(db, a, g, n, debt, last ? &j : NULL, journal_id);
		if (last)
			break;
	} while (rc == CD_OK);
	/* Spent: the balance stays in range, its journal row has its id. */
	assert(rc != CD_OK || money_in_range(a->balance));
	assert(rc != CD_OK || journal_id == NULL || *journal_id > 0);
	return rc;
}

enum cd_err ledger_rows_debt_read(struct store *db, const struct acct *a, struct debt_row *d)
{
	int e;
	d->id = 0;
	d->owed = 0;
	if (a->balance >= 0)
		return CD_OK;
	struct dbstmt *s = store_exec(db, SQL_DEBT_GET, &e, "i", a->id);
	if (s == NULL)
		return store_err(db, e, "debt lookup");
	if (store_fetch(s) == 1 && store_i64(s, 1) < 0) {
		d->id = store_i64(s, 0);
		d->owed = -store_i64(s, 1);
	}
	assert(d->owed >= 0);
	return CD_OK;
}

enum cd_err ledger_rows_grant_add(struct store *db, struct store_write *lw, struct acct *a, const char *cause,
				  const struct grant_row *n, const struct debt_row *d, const struct grant_effect *g)
{
	/* The debt row repaid, the grant and its journal row naming it (the
	 * first grant of the write), added to one write. */
	const struct spend_grant repaid = {d->id, g->repay - d->owed, 1, g->repay > 0};
	const struct journal_line j = {.amount = n->amount, .cause = cause, .source = n->source,
				       .grant_id = LEDGER_NEW_GRANT, .reference = n->reference,
				       .description = n->description};
	int64_t after;
	assert(n->amount > 0 && n->remaining == g->remaining);
	assert(g->repay <= d->owed);
	write_grants(lw, a, &repaid, 1, 0);
	LEDGER_WRITE_ONE(lw, "grants_new", GRANTS_NEW_TABLE(COL_WRITE, a->id, n));
	enum cd_err rc = write_journal(db, lw, a, &j, &after);
	if (rc != CD_OK)
		return rc;
	/* The balance money_rule_grant decided, moved by the journal row alone. */
	assert(after == g->balance_after);
	assert(after - a->balance == n->amount);
	a->balance = after;
	a->depleted_noted = 0;	/* credit came in: the next 402 is news again */
	if (n->expires_at >= 0 && g->remaining > 0 && (a->sweep_due_at < 0 || n->expires_at < a->sweep_due_at))
		a->sweep_due_at = n->expires_at;
	return CD_OK;
}

enum cd_err ledger_rows_grant_write(struct store *db, struct acct *a, const char *cause, const struct grant_row *n,
				    const struct debt_row *d, const struct grant_effect *g, int64_t *grant_id,
				    int64_t *journal_id)
{
	const struct acct before = *a;
	struct store_write lw;
	store_write_begin(&lw);
	enum cd_err rc = ledger_rows_grant_add(db, &lw, a, cause, n, d, g);
	if (rc != CD_OK) {
		store_write_drop(&lw);
		return rc;
	}
	rc = store_write_run(db, &lw, "grant insert", grant_id, journal_id);
	if (rc != CD_OK)
		*a = before;	/* nothing written: the row as it was read */
	return rc;
}

static enum cd_err add_grant(struct store *db, struct acct *a, const char *cause, const char *source,
			     int64_t amount, int64_t priority, int64_t expires_at, const char *reference,
			     const char *description, int64_t *grant_id, int64_t *journal_id)
{
	struct debt_row d;
	struct grant_effect g;
	enum cd_err rc = ledger_rows_debt_read(db, a, &d);
	if (rc != CD_OK)
		return rc;
	/* docs/api.md, "Money stays in range": refused before anything moves, never wrapped; the
	 * debt repaid first (money_rule.h). */
	if (money_rule_grant(a->balance, d.owed, amount, &g) != 0)
		return refusal_set(&db->refusal, REFUSE_BALANCE_CAP, a->ext_id, NULL);
	const struct grant_row n = {source, amount, g.remaining, priority, expires_at, reference, description};
	return ledger_rows_grant_write(db, a, cause, &n, &d, &g, grant_id, journal_id);
}

enum cd_err ledger_rows_add_grant(struct store *db, struct acct *a, const char *source, int64_t amount,
			     int64_t priority, int64_t expires_at, const char *reference,
			     const char *description, int64_t *grant_id, int64_t *journal_id)
{
	const int64_t before = a->balance;
	assert(amount > 0);
	assert(source != NULL);
	enum cd_err rc = add_grant(db, a, "grant", source, amount, priority, expires_at, reference, description,
				   grant_id, journal_id);
	/* Invariant 1: the balance moved by the grant's journal row, which has its id. */
	assert(rc != CD_OK || a->balance == before + amount);
	assert(rc != CD_OK || grant_id == NULL || *grant_id > 0);
	assert(rc != CD_OK || journal_id == NULL || *journal_id > 0);
	return rc;
}

enum cd_err ledger_rows_add_grant_as(struct store *db, struct acct *a, const char *cause, const char *source,
				int64_t amount, const char *reference, const char *description, int64_t *grant_id)
{
	int64_t journal_id = 0;
	const int64_t before = a->balance;
	assert(amount > 0);
	assert(cause != NULL);
	enum cd_err rc = add_grant(db, a, cause, source, amount, GRANT_PRIORITY_DEFAULT, -1, reference, description,
				   grant_id, &journal_id);
	assert(rc != CD_OK || a->balance == before + amount);
	assert(rc != CD_OK || journal_id > 0);
	return rc;
}

/* ---- JSON views ---- */

json_t *ledger_rows_json_time(int64_t t)
{
	char s[TIMEFMT_LEN];
	if (t < 0)
		return json_null();
	timefmt_rfc3339(t, s);
	return json_string(s);
}

json_t *ledger_rows_json_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/* The account's live grants, in spending order, the first
 * LIMIT_GRANTS_LISTED. */
static enum cd_err grants_view(struct store *db, int64_t account_id, struct ledger_account_view *v)
{
	static const char sql[] = "SELECT id, source, remaining_micros, priority, expires_at FROM grants "
				  "WHERE account_id = ? AND remaining_micros <> 0 ORDER BY " GRANTS_SPEND_ORDER " LIMIT ?";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", account_id, (int64_t)LIMIT_GRANTS_LISTED);
	if (s == NULL)
		return store_err(db, e, "grant list");
	v->ngrants = 0;
	while (v->ngrants < LIMIT_GRANTS_LISTED && store_fetch(s) == 1) {
		struct ledger_grant_line *g = &v->grants[v->ngrants++];
		g->grant_id = store_i64(s, 0);
		ledger_rows_copy_text(g->source, sizeof(g->source), store_str(s, 1));
		g->remaining_micros = store_i64(s, 2);
		g->priority = store_i64(s, 3);
		g->expires_at = DB_I64_OR_NONE(s, 4);
	}
	return CD_OK;
}

/* The account's latest pay-as-you-go collection (docs/pay-as-you-go.md), or none
 * (one dropped before its first try, nothing owed any more, is none). A
 * collection queued again after a declined try is "failed", with the
 * tries made and when the card is tried next. */
static enum cd_err collection_view(struct store *db, int64_t account_id, struct ledger_collection_view *c)
{
	static const char sql[] = "SELECT period, amount_cents, state, try_no, next_attempt_at FROM recharges "
				  "WHERE account_id = ? AND period IS NOT NULL AND try_no > 0 "
				  "ORDER BY period DESC LIMIT 1";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "i", account_id);
	memset(c, 0, sizeof(*c));
	c->next_try_at = -1;
	if (s == NULL)
		return store_err(db, e, "collection");
	if (store_fetch(s) != 1)
		return CD_OK;
	int64_t tries = store_i64(s, 3), next = -1;
	const char *state = store_str(s, 2);
	if (strcmp(state, "queued") == 0) {
		tries--;
		next = store_i64(s, 4);
		state = tries > 0 ? "failed" : "pending";
	} else if (strcmp(state, "sent") == 0) {
		state = "pending";
	}
	c->period = store_i64(s, 0);
	c->amount_micros = store_i64(s, 1) * ledger_config_of(db->cfg)->topup_rate;
	ledger_rows_copy_text(c->state, sizeof(c->state), state);
	c->tries = tries;
	c->next_try_at = next;
	return CD_OK;
}

/* The account's email (sql/050), kept out of the money rows: read
 * where the account is shown. */
static enum cd_err email_view(struct store *db, int64_t id, struct ledger_account_view *v)
{
	int e;
	v->email[0] = '\0';
	struct dbstmt *s = store_exec(db, "SELECT email FROM accounts WHERE id = ?", &e, "i", id);
	if (s == NULL)
		return store_err(db, e, "account email");
	if (store_fetch(s) == 1 && store_copy(s, 0, v->email, sizeof(v->email), "") != 0)
		return CD_E_INTERNAL;
	return CD_OK;
}

enum cd_err ledger_rows_acct_view(struct store *db, const struct acct *a, struct ledger_account_view *v)
{
	enum cd_err rc = collection_view(db, a->id, &v->collection);
	if (rc == CD_OK)
		rc = grants_view(db, a->id, v);
	if (rc == CD_OK)
		rc = email_view(db, a->id, v);
	if (rc != CD_OK)
		return rc;
	ledger_rows_copy_text(v->id, sizeof(v->id), a->ext_id);
	ledger_rows_copy_text(v->kind, sizeof(v->kind), a->kind);
	ledger_rows_copy_text(v->status, sizeof(v->status), a->status);
	ledger_rows_copy_text(v->status_reason, sizeof(v->status_reason), a->status_reason);
	ledger_rows_copy_text(v->currency, sizeof(v->currency), db->cfg->currency);
	ledger_rows_copy_text(v->plan, sizeof(v->plan), a->plan);
	v->balance_micros = a->balance;
	v->reserved_micros = a->reserved;
	v->available_micros = ledger_rows_acct_available(a);
	v->month_spent_micros = a->month_spent;
	v->day_spent_micros = a->day_spent;
	v->monthly_limit_micros = a->monthly_limit;
	v->daily_limit_micros = a->daily_limit;
	v->low_balance_micros = a->low_balance;
	v->overdraft_limit_micros = a->overdraft;
	/* A plan's period is the calendar month, UTC (docs/decisions.md, "Plan periods"). */
	v->period_start = v->period_end = -1;
	if (a->plan[0])
		timefmt_month_bounds(db->now, &v->period_start, &v->period_end);
	v->recharge_threshold_micros = a->recharge_threshold < 0 ? -1 : a->recharge_threshold;
	v->recharge_amount_cents = a->recharge_amount_cents;
	v->card_saved = a->recharge_card != 0;
	v->requests_per_minute = a->rate.rpm;
	v->tokens_per_minute = a->rate.tpm;
	v->created_at = a->created_at;
	assert(strcmp(v->id, a->ext_id) == 0);
	assert(v->ngrants <= LIMIT_GRANTS_LISTED);
	return CD_OK;
}

/* ---- Hold ids ---- */

void ledger_rows_hold_id_format(char *out, size_t cap, int64_t account_id, int64_t hold_id)
{
	holdid_format(out, cap, account_id, hold_id);
}

int ledger_rows_hold_id_parse(const char *s, int64_t *account_id, int64_t *hold_id)
{
	return holdid_parse(s, account_id, hold_id);
}

void ledger_rows_hold_id_public(json_t *answer)
{
	json_t *v = json_object_get(answer, "hold_id");
	int64_t account, hold;
	char id[LIMIT_HOLD_ID_BYTES];
	if (!json_is_string(v) || holdid_parse_plain(json_string_value(v), &account, &hold) != 0 ||
	    holdid_parse(json_string_value(v), &account, &hold) == 0)
		return;
	holdid_format(id, sizeof(id), account, hold);
	json_object_set_new(answer, "hold_id", json_string(id));
}

int ledger_hold_account(struct store *db, const char *hold_id, int64_t *account_id)
{
	int64_t hold;
	store_holdid_ensure(db);
	return ledger_rows_hold_id_parse(hold_id, account_id, &hold);
}
