/* ledger_accounts.c: accounts, grants, the journal and the spending order.
 *
 * Owns the invariants of DESIGN §4 for balances: every balance change is
 * one journal row written in the same transaction as the grant rows it
 * moves, with the account row locked first. balance = sum of remaining
 * grants at every commit: what the grants cannot cover is carried by the
 * account's one debt row (negative remaining), which the next grant repays
 * first. Never updates or deletes a journal row. */
#include "ledger_int.h"
#include "log.h"
#include "timefmt.h"
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT_COLS ACCT_COLS_OF("")
static const char SQL_ACCT_LOCK[] = "SELECT " ACCT_COLS " FROM accounts WHERE ext_id = ? FOR UPDATE";
static const char SQL_ACCT_LOCK_ID[] = "SELECT " ACCT_COLS " FROM accounts WHERE id = ? FOR UPDATE";
static const char SQL_ACCT_READ[] = "SELECT " ACCT_COLS " FROM accounts WHERE ext_id = ?";
static const char SQL_ACCT_STORE[] = "UPDATE accounts SET balance_micros = ?, reserved_micros = ?, month_key = ?, "
				     "month_spent_micros = ?, sweep_due_at = ? WHERE id = ?";
static const char SQL_JOURNAL_ADD[] = "INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, "
				      "source, grant_id, hold_id, reference, description, idempotency_key, created_at) "
				      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_GRANT_SET[] = "UPDATE grants SET remaining_micros = ? WHERE id = ?";
static const char SQL_DEBT_GET[] = "SELECT id, remaining_micros FROM grants WHERE account_id = ? "
				   "AND source = 'debt' FOR UPDATE";
static const char SQL_GRANT_ADD[] = "INSERT INTO grants (account_id, source, amount_micros, remaining_micros, "
				    "priority, expires_at, reference, description, created_at) "
				    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

void acct_from_row_at(const struct dbstmt *s, unsigned int c, struct acct *a)
{
	a->id = db_i64(s, c + 0);
	copy_text(a->ext_id, sizeof(a->ext_id), db_str(s, c + 1));
	copy_text(a->kind, sizeof(a->kind), db_str(s, c + 2));
	copy_text(a->status, sizeof(a->status), db_str(s, c + 3));
	a->balance = db_i64(s, c + 4);
	a->reserved = db_i64(s, c + 5);
	a->overdraft = db_i64(s, c + 6);
	a->monthly_limit = db_null(s, c + 7) ? -1 : db_i64(s, c + 7);
	a->low_balance = db_null(s, c + 8) ? -1 : db_i64(s, c + 8);
	copy_text(a->plan, sizeof(a->plan), db_str(s, c + 9));
	a->month_key = db_i64(s, c + 10);
	a->month_spent = db_i64(s, c + 11);
	a->sweep_due_at = db_null(s, c + 12) ? -1 : db_i64(s, c + 12);
	a->created_at = db_i64(s, c + 13);
	copy_text(a->stripe_customer, sizeof(a->stripe_customer), db_str(s, c + 14));
}

static enum cd_err acct_load(struct ledger *lg, const char *sql, const char *fmt, const char *ext_id,
			     int64_t id, struct acct *a)
{
	int e;
	struct dbstmt *s = fmt[0] == 's' ? db_exec(lg, sql, &e, fmt, ext_id) : db_exec(lg, sql, &e, fmt, id);
	if (s == NULL)
		return db_err(lg, e, "account lookup");
	int got = db_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	if (got == 0)
		return CD_E_NOT_FOUND;
	acct_from_row_at(s, 0, a);
	return CD_OK;
}

/* Rolls the month over and applies what is due: called with the row locked. */
enum cd_err acct_touch(struct ledger *lg, struct acct *a)
{
	int64_t month = timefmt_month_key(lg->now);
	a->dirty = 0;
	if (a->month_key != month) {
		a->month_key = month;
		a->month_spent = 0;
		a->dirty = 1;
	}
	if (a->sweep_due_at >= 0 && a->sweep_due_at <= lg->now) {
		a->dirty = 1;
		return acct_sweep(lg, a);
	}
	return CD_OK;
}

enum cd_err acct_lock(struct ledger *lg, const char *ext_id, struct acct *a)
{
	enum cd_err rc = acct_load(lg, SQL_ACCT_LOCK, "s", ext_id, 0, a);
	return rc == CD_OK ? acct_touch(lg, a) : rc;
}

enum cd_err acct_lock_id(struct ledger *lg, int64_t id, struct acct *a)
{
	enum cd_err rc = acct_load(lg, SQL_ACCT_LOCK_ID, "i", NULL, id, a);
	return rc == CD_OK ? acct_touch(lg, a) : rc;
}

enum cd_err acct_read(struct ledger *lg, const char *ext_id, struct acct *a)
{
	return acct_load(lg, SQL_ACCT_READ, "s", ext_id, 0, a);
}

enum cd_err acct_store(struct ledger *lg, const struct acct *a)
{
	const int64_t *due = a->sweep_due_at >= 0 ? &a->sweep_due_at : NULL;
	return db_do(lg, SQL_ACCT_STORE, "account update", "iiiiIi", a->balance, a->reserved, a->month_key,
		     a->month_spent, due, a->id);
}

enum cd_err journal_append(struct ledger *lg, struct acct *a, int64_t amount, const char *cause,
			   const char *source, int64_t grant_id, int64_t hold_id,
			   const char *reference, const char *description, int64_t *journal_id)
{
	int e;
	int64_t after = a->balance + amount;
	const int64_t *g = grant_id > 0 ? &grant_id : NULL;
	const int64_t *h = hold_id > 0 ? &hold_id : NULL;
	struct dbstmt *s = db_exec(lg, SQL_JOURNAL_ADD, &e, "iiissIIsssi", a->id, amount, after, cause, source,
				   g, h, reference, description, lg->idem_key, lg->now);
	if (s == NULL)
		return db_err(lg, e, "journal append");
	a->balance = after;
	if (journal_id != NULL)
		*journal_id = (int64_t)db_insert_id(s);
	return CD_OK;
}

enum cd_err ledger_spend(struct ledger *lg, struct acct *a, int64_t amount, const char *cause,
			 int64_t hold_id, const char *reference, const char *description,
			 int64_t *journal_id)
{
	return ledger_spend_as(lg, a, amount, cause, NULL, hold_id, reference, description, journal_id);
}

enum cd_err ledger_spend_as(struct ledger *lg, struct acct *a, int64_t amount, const char *cause,
			    const char *source, int64_t hold_id, const char *reference, const char *description,
			    int64_t *journal_id)
{
	/* The spending order (priority, soonest expiry, oldest; every positive
	 * grant before any debt) lives in one place, the creditd_spend
	 * procedure, which the settle procedure calls too. */
	static const char sql[] = "CALL creditd_spend_select(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	int e, got;
	if (amount <= 0)
		return amount == 0 ? CD_OK : CD_E_INTERNAL;
	const int64_t *h = hold_id > 0 ? &hold_id : NULL;
	struct dbstmt *s = db_call(lg, sql, &e, &got, "iiissIsssi", a->id, amount, a->balance - amount, cause, source,
				   h, reference, description, lg->idem_key, lg->now);
	if (s == NULL)
		return db_err(lg, e, "spend");
	a->balance -= amount;
	if (journal_id != NULL)
		*journal_id = got ? db_i64(s, 0) : 0;
	return CD_OK;
}

enum cd_err ledger_add_grant(struct ledger *lg, struct acct *a, const char *source, int64_t amount,
			     int64_t priority, int64_t expires_at, const char *reference,
			     const char *description, int64_t *grant_id, int64_t *journal_id)
{
	int64_t remaining = amount;
	int e;
	/* Refusing here keeps every later sum inside int64. With a positive
	 * balance the subtraction cannot overflow; from a debt, the new balance
	 * is at most the amount, which callers bound. */
	if (a->balance > 0 && amount > LIMIT_BALANCE_MICROS_MAX - a->balance)
		return CD_E_INVALID;
	if (a->balance < 0) {
		struct dbstmt *s = db_exec(lg, SQL_DEBT_GET, &e, "i", a->id);
		if (s == NULL)
			return db_err(lg, e, "debt lookup");
		if (db_fetch(s) == 1 && db_i64(s, 1) < 0) {
			int64_t id = db_i64(s, 0), debt = -db_i64(s, 1);
			int64_t repay = debt < amount ? debt : amount;
			enum cd_err rc = db_do(lg, SQL_GRANT_SET, "debt repay", "ii", repay - debt, id);
			if (rc != CD_OK)
				return rc;
			remaining -= repay;
		}
	}
	const int64_t *exp = expires_at >= 0 ? &expires_at : NULL;
	struct dbstmt *s = db_exec(lg, SQL_GRANT_ADD, &e, "isiiiIssi", a->id, source, amount, remaining,
				   priority, exp, reference, description, lg->now);
	if (s == NULL)
		return db_err(lg, e, "grant insert");
	*grant_id = (int64_t)db_insert_id(s);
	if (expires_at >= 0 && remaining > 0 && (a->sweep_due_at < 0 || expires_at < a->sweep_due_at))
		a->sweep_due_at = expires_at;
	return journal_append(lg, a, amount, "grant", source, *grant_id, 0, reference, description, journal_id);
}

/* ---- JSON views ---- */

static json_t *json_time_or_null(const struct dbstmt *s, unsigned int col)
{
	char t[TIMEFMT_LEN];
	if (db_null(s, col))
		return json_null();
	timefmt_rfc3339(db_i64(s, col), t);
	return json_string(t);
}

static json_t *grants_json(struct ledger *lg, int64_t account_id)
{
	static const char sql[] = "SELECT id, source, remaining_micros, priority, expires_at FROM grants "
				  "WHERE account_id = ? AND remaining_micros <> 0 ORDER BY priority, "
				  "expires_at IS NULL, expires_at, id LIMIT ?";
	int e;
	json_t *arr = json_array();
	struct dbstmt *s = db_exec(lg, sql, &e, "ii", account_id, (int64_t)LIMIT_GRANTS_LISTED);
	if (s == NULL) {
		db_err(lg, e, "grant list");
		json_decref(arr);
		return NULL;
	}
	while (db_fetch(s) == 1) {
		char id[32];
		ledger_id_format(id, sizeof(id), "grant_", db_i64(s, 0));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:o}", "id", id, "source", db_str(s, 1),
						     "remaining_micros", (json_int_t)db_i64(s, 2), "priority",
						     (json_int_t)db_i64(s, 3), "expires_at", json_time_or_null(s, 4)));
	}
	return arr;
}

static json_t *int_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

json_t *acct_json(struct ledger *lg, const struct acct *a)
{
	char created[TIMEFMT_LEN];
	json_t *grants = grants_json(lg, a->id);
	if (grants == NULL)
		return NULL;
	timefmt_rfc3339(a->created_at, created);
	int64_t available = a->balance - a->reserved + a->overdraft;
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:o, s:o, s:s}",
			 "id", a->ext_id, "kind", a->kind, "status", a->status, "currency", lg->cfg->currency,
			 "balance_micros", (json_int_t)a->balance, "reserved_micros", (json_int_t)a->reserved,
			 "available_micros", (json_int_t)available, "month_spent_micros", (json_int_t)a->month_spent,
			 "monthly_limit_micros", int_or_null(a->monthly_limit),
			 "overdraft_limit_micros", (json_int_t)a->overdraft,
			 "low_balance_micros", int_or_null(a->low_balance),
			 "plan", a->plan[0] ? json_string(a->plan) : json_null(), "grants", grants,
			 "created_at", created);
}

/* ---- Routes ---- */

static const char SQL_ACCT_ADD[] = "INSERT INTO accounts (ext_id, kind, overdraft_limit_micros, monthly_limit_micros, "
				   "low_balance_micros, plan, month_key, create_hash, created_at) "
				   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ACCT_HASH[] = "SELECT create_hash FROM accounts WHERE ext_id = ? FOR UPDATE";

static enum cd_err account_exists(struct ledger *lg, struct account_new *n, json_t **out, int *status)
{
	int e;
	struct dbstmt *s = db_exec(lg, SQL_ACCT_HASH, &e, "s", n->id);
	if (s == NULL)
		return db_err(lg, e, "account lookup");
	if (db_fetch(s) != 1)
		return CD_E_RETRY;
	if (db_len(s, 0) != 32 || memcmp(db_str(s, 0), n->create_hash, 32) != 0) {
		n->id_conflict = 1;
		return CD_E_CONFLICT;
	}
	struct acct a;
	enum cd_err rc = acct_lock(lg, n->id, &a);
	if (rc == CD_OK)
		rc = acct_store(lg, &a);
	if (rc != CD_OK)
		return rc;
	*out = acct_json(lg, &a);
	*status = 200;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_account_create(struct ledger *lg, void *arg, json_t **out, int *status)
{
	struct account_new *n = arg;
	int e;
	n->id_conflict = 0;
	const int64_t *monthly = n->monthly_limit_micros >= 0 ? &n->monthly_limit_micros : NULL;
	const int64_t *low = n->low_balance_micros >= 0 ? &n->low_balance_micros : NULL;
	struct dbstmt *s = db_exec(lg, SQL_ACCT_ADD, &e, "ssiIIsibi", n->id, n->kind, n->overdraft_limit_micros,
				   monthly, low, n->plan, timefmt_month_key(lg->now),
				   (const char *)n->create_hash, (size_t)32, lg->now);
	if (s == NULL && e == ER_DUP_ENTRY)
		return account_exists(lg, n, out, status);
	if (s == NULL)
		return db_err(lg, e, "account create");
	struct acct a;
	enum cd_err rc = acct_lock_id(lg, (int64_t)db_insert_id(s), &a);
	if (rc == CD_OK && lg->cfg->signup_bonus_micros > 0) {
		int64_t grant_id, journal_id;
		rc = ledger_add_grant(lg, &a, "signup_bonus", lg->cfg->signup_bonus_micros, 50, -1, "signup",
				      "signup bonus", &grant_id, &journal_id);
	}
	if (rc == CD_OK)
		rc = acct_store(lg, &a);
	if (rc != CD_OK)
		return rc;
	*out = acct_json(lg, &a);
	*status = 201;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

struct get_run { const char *id; json_t *out; };

static enum cd_err account_get_tx(struct ledger *lg, void *arg)
{
	struct get_run *g = arg;
	struct acct a;
	json_decref(g->out);
	g->out = NULL;
	enum cd_err rc = acct_lock(lg, g->id, &a);
	if (rc == CD_OK && a.dirty)
		rc = acct_store(lg, &a);
	if (rc != CD_OK)
		return rc;
	g->out = acct_json(lg, &a);
	return g->out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_account_get(struct ledger *lg, const char *id, json_t **out)
{
	struct get_run g = {id, NULL};
	enum cd_err rc = ledger_run(lg, account_get_tx, &g);
	*out = g.out;
	return rc;
}

enum cd_err ledger_account_patch(struct ledger *lg, void *arg, json_t **out, int *status)
{
	static const char sql[] = "UPDATE accounts SET status = ?, overdraft_limit_micros = ?, "
				  "monthly_limit_micros = ?, low_balance_micros = ?, plan = ? WHERE id = ?";
	struct account_patch *p = arg;
	struct acct a;
	enum cd_err rc = acct_lock(lg, p->id, &a);
	if (rc == CD_OK)
		rc = acct_store(lg, &a);
	if (rc != CD_OK)
		return rc;
	/* A debt already drawn on the credit line must stay within it
	 * (invariant 3): cutting the line below it is refused, not clamped. */
	p->out_balance = a.balance;
	if (p->set_overdraft && a.balance < -p->overdraft_limit_micros)
		return CD_E_INVALID;
	if (p->status != NULL)
		copy_text(a.status, sizeof(a.status), p->status);
	if (p->set_overdraft)
		a.overdraft = p->overdraft_limit_micros;
	if (p->set_monthly)
		a.monthly_limit = p->monthly_limit_micros;
	if (p->set_low)
		a.low_balance = p->low_balance_micros;
	if (p->set_plan)
		copy_text(a.plan, sizeof(a.plan), p->plan);
	const int64_t *monthly = a.monthly_limit >= 0 ? &a.monthly_limit : NULL;
	const int64_t *low = a.low_balance >= 0 ? &a.low_balance : NULL;
	rc = db_do(lg, sql, "account patch", "siIIsi", a.status, a.overdraft, monthly, low,
		   a.plan[0] ? a.plan : NULL, a.id);
	if (rc != CD_OK)
		return rc;
	*out = acct_json(lg, &a);
	*status = 200;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

static json_t *journal_row_json(const struct dbstmt *s)
{
	char id[32], created[TIMEFMT_LEN];
	ledger_id_format(id, sizeof(id), "txn_", db_i64(s, 0));
	timefmt_rfc3339(db_i64(s, 7), created);
	const char *src = db_str(s, 4), *ref = db_str(s, 5), *desc = db_str(s, 6);
	return json_pack("{s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:s}", "id", id,
			 "amount_micros", (json_int_t)db_i64(s, 1), "balance_after_micros", (json_int_t)db_i64(s, 2),
			 "cause", db_str(s, 3), "source", src ? json_string(src) : json_null(),
			 "reference", ref ? json_string(ref) : json_null(),
			 "description", desc ? json_string(desc) : json_null(), "created_at", created);
}

struct page_run { const char *id; int limit; int64_t cursor; json_t *out; };

static enum cd_err transactions_tx(struct ledger *lg, void *arg)
{
	static const char sql[] = "SELECT id, amount_micros, balance_after_micros, cause, source, reference, "
				  "description, created_at FROM journal WHERE account_id = ? AND id < ? "
				  "ORDER BY id DESC LIMIT ?";
	struct page_run *p = arg;
	struct acct a;
	int e;
	json_decref(p->out);
	p->out = NULL;
	enum cd_err rc = acct_read(lg, p->id, &a);
	if (rc != CD_OK)
		return rc;
	int64_t cursor = p->cursor > 0 ? p->cursor : INT64_MAX;
	struct dbstmt *s = db_exec(lg, sql, &e, "iii", a.id, cursor, (int64_t)p->limit + 1);
	if (s == NULL)
		return db_err(lg, e, "journal page");
	json_t *data = json_array();
	int n = 0, more = 0;
	int64_t last = 0;
	while (db_fetch(s) == 1) {
		if (n == p->limit) {
			more = 1;
			break;
		}
		json_array_append_new(data, journal_row_json(s));
		last = db_i64(s, 0);
		n++;
	}
	char next[32];
	ledger_id_format(next, sizeof(next), "txn_", last);
	p->out = json_pack("{s:o, s:o, s:b}", "data", data, "next_cursor", more ? json_string(next) : json_null(),
			   "has_more", more);
	return CD_OK;
}

enum cd_err ledger_transactions(struct ledger *lg, const char *id, int limit, int64_t cursor, json_t **out)
{
	struct page_run p = {id, limit, cursor, NULL};
	enum cd_err rc = ledger_run(lg, transactions_tx, &p);
	*out = p.out;
	return rc;
}

static json_t *entry_json(struct ledger *lg, const struct acct *a, int64_t journal_id, int64_t amount,
			  const char *cause, const char *source, const char *description)
{
	char id[32], created[TIMEFMT_LEN];
	ledger_id_format(id, sizeof(id), "txn_", journal_id);
	timefmt_rfc3339(lg->now, created);
	return json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:s, s:I, s:I}", "id", id, "account", a->ext_id,
			 "amount_micros", (json_int_t)amount, "balance_after_micros", (json_int_t)a->balance,
			 "cause", cause, "source", source ? json_string(source) : json_null(), "reference", json_null(),
			 "description", description ? json_string(description) : json_null(), "created_at", created,
			 "balance_micros", (json_int_t)a->balance,
			 "available_micros", (json_int_t)(a->balance - a->reserved + a->overdraft));
}

enum cd_err ledger_grant(struct ledger *lg, void *arg, json_t **out, int *status)
{
	struct grant_new *g = arg;
	struct acct a;
	int64_t grant_id, journal_id;
	g->invalid_param = NULL;
	enum cd_err rc = acct_lock(lg, g->account, &a);
	if (rc == CD_OK && g->expires_at >= 0 && g->expires_at <= lg->now) {
		g->invalid_param = "expires_at";
		return CD_E_INVALID;
	}
	if (rc == CD_OK)
		rc = ledger_add_grant(lg, &a, g->source, g->amount_micros, g->priority, g->expires_at, NULL,
				      g->description, &grant_id, &journal_id);
	if (rc == CD_E_INVALID)
		g->invalid_param = "amount_micros";
	if (rc == CD_OK)
		rc = acct_store(lg, &a);
	if (rc != CD_OK)
		return rc;
	char id[32], exp[TIMEFMT_LEN];
	ledger_id_format(id, sizeof(id), "grant_", grant_id);
	json_t *entry = entry_json(lg, &a, journal_id, g->amount_micros, "grant", g->source, g->description);
	if (g->expires_at >= 0)
		timefmt_rfc3339(g->expires_at, exp);
	*out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:o}", "id", id, "account", a.ext_id,
			 "source", g->source, "amount_micros", (json_int_t)g->amount_micros,
			 "remaining_micros", (json_int_t)g->amount_micros, "priority", (json_int_t)g->priority,
			 "expires_at", g->expires_at >= 0 ? json_string(exp) : json_null(),
			 "description", g->description ? json_string(g->description) : json_null(),
			 "balance_micros", (json_int_t)a.balance,
			 "available_micros", (json_int_t)(a.balance - a.reserved + a.overdraft), "transaction", entry);
	*status = 201;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_debit(struct ledger *lg, void *arg, json_t **out, int *status)
{
	const struct debit_new *d = arg;
	struct acct a;
	int64_t journal_id;
	enum cd_err rc = acct_lock(lg, d->account, &a);
	if (rc != CD_OK)
		return rc;
	if (d->amount_micros > a.balance - a.reserved + a.overdraft)
		return CD_E_INSUFFICIENT;
	rc = ledger_spend(lg, &a, d->amount_micros, "adjustment", 0, NULL, d->reason, &journal_id);
	if (rc == CD_OK)
		rc = acct_store(lg, &a);
	if (rc != CD_OK)
		return rc;
	*out = entry_json(lg, &a, journal_id, -d->amount_micros, "adjustment", NULL, d->reason);
	*status = 201;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}
