/* ledger_unresolved.c: the holds of gateway calls whose provider may be
 * working on them and never answered (sql/058; docs/gateway.md, "When a
 * provider may already be working"; docs/decisions.md).
 *
 * Such a hold is neither released (the provider may have run the call
 * and bill it: free work) nor captured (it may not have: a charge for
 * nothing). It stays pending, its reserve kept, marked unresolved, until
 * the operator resolves it (creditctl hold resolve: charge or release) or
 * the sweep finds it due unresolved_days later and charges its input
 * bound (ledger_due.c). A batch's hold is marked at what its lines did
 * not charge, their usage records summed under a locking read in the
 * mark's own transaction (ledger_unresolved_mark_lines; docs/gateway.md,
 * "Batches"; money_rule_batch_unresolved decides): a count kept
 * elsewhere may be short. The mark moves no money: it is written beside
 * the writer, as a renewal of a hold is (docs/architecture.md). A resolution
 * is an operation of the usual shape: the account locked first
 * (ledger_due_lock_id), the hold under its lock, decided by
 * money_rule_hold_unresolved, written as the sweep writes an expiry.
 * creditctl hold resolve --from-usage lists them (ledger_unresolved_list)
 * and resolves each the same way, its figure from the provider's
 * per-minute usage (money_unresolved.h). */
#include "ledger_unresolved.h"
#include "ledger_due.h"
#include "ledger_events.h"
#include "ledger_rows.h"
#include "log.h"
#include "metrics.h"
#include "refusal.h"
#include "timefmt.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char SQL_MARK[] = "UPDATE holds SET unresolved_at = ?, unresolved_input_micros = LEAST(?, amount_micros), "
			       "expires_at = GREATEST(expires_at, ?) WHERE id = ? AND account_id = ? "
			       "AND state = 'pending' AND unresolved_at IS NULL";
static const char SQL_HOLD[] = "SELECT amount_micros, member, state, unresolved_at IS NOT NULL, "
			       "COALESCE(unresolved_input_micros, 0) FROM holds WHERE id = ? AND account_id = ? FOR UPDATE";
/* The unresolved holds of models made in [from, to): a range of
 * ix_unresolved (state, unresolved_at), a few rows. */
static const char SQL_LIST[] = "SELECT h.id, h.account_id, a.ext_id, h.model, h.amount_micros, h.created_at, "
			       "h.pin_input_micros_per_mtok, h.pin_cached_input_micros_per_mtok, "
			       "h.pin_output_micros_per_mtok, h.pin_cache_write_micros_per_mtok, h.pin_margin_bps "
			       "FROM holds h JOIN accounts a ON a.id = h.account_id WHERE h.state = 'pending' "
			       "AND h.unresolved_at IS NOT NULL AND h.byok = 0 AND h.model IS NOT NULL "
			       "AND h.created_at >= ? AND h.created_at < ? ORDER BY h.created_at, h.id LIMIT ?";
/* A range of ix_unresolved (state, unresolved_at), stopped at
 * LIMIT_OUTBOX_COUNT_ROWS: never a scan of the table. */
static const char SQL_COUNT[] = "SELECT COUNT(*) FROM (SELECT 1 FROM holds WHERE state = 'pending' "
				"AND unresolved_at IS NOT NULL LIMIT ?) p";

struct mark {
	int64_t account_id, hold, input_micros, days;
	int marked;
};

static enum cd_err mark_tx(struct store *db, void *arg)
{
	struct mark *m = arg;
	int e;
	/* Its one UPDATE's answer decides (0 rows: "pending no more", the
	 * hold then left to its expiry): marked on Galera first (sql/085),
	 * so an abort untold is not read as that answer. */
	enum cd_err mc = store_mark_all(db);
	if (mc != CD_OK)
		return mc;
	struct dbstmt *s = store_exec(db, SQL_MARK, &e, "iiiii", db->now, m->input_micros,
				      db->now + m->days * TIMEFMT_SECONDS_PER_DAY, m->hold, m->account_id);
	if (s == NULL)
		return store_err(db, e, "hold unresolved");
	m->marked = store_affected(s) == 1;
	return CD_OK;
}

enum cd_err ledger_unresolved_mark(struct store *db, const char *account, const char *hold_id, int64_t input_micros,
				  int64_t days)
{
	struct mark m = {0, 0, input_micros > 0 ? input_micros : 0, days, 0};
	assert(account != NULL);
	assert(days > 0);
	store_holdid_ensure(db);
	if (ledger_rows_hold_id_parse(hold_id, &m.account_id, &m.hold) != 0)
		return CD_E_NOT_FOUND;
	enum cd_err rc = store_tx_on(db, account, mark_tx, &m);
	return rc != CD_OK ? rc : m.marked ? CD_OK : CD_E_CONFLICT;
}

/* ---- A batch's hold, at what its lines did not charge ---- */

/* The account first, as the guard locks it (account, then hold, then its
 * usage rows): a line the guard is charging now either commits before
 * this read and is in the sum, or waits for the mark (READ COMMITTED
 * takes no gap locks: the range's lock below keeps no line out). */
static const char SQL_ACCOUNT_LOCK[] = "SELECT id FROM accounts WHERE id = ? FOR UPDATE";
static const char SQL_HOLD_PENDING[] = "SELECT amount_micros FROM holds WHERE id = ? AND account_id = ? "
				       "AND state = 'pending' AND unresolved_at IS NULL FOR UPDATE";
/* A range of uq_usage_key (account_id, usage_key): the job's lines'
 * records alone. */
static const char SQL_LINES_CHARGED[] = "SELECT COALESCE(SUM(cost_micros), 0) FROM usage_records "
					"WHERE account_id = ? AND usage_key >= ? AND usage_key < ? LOCK IN SHARE MODE";

struct mark_lines {
	struct mark m;
	const char *from;
	char to[LIMIT_REQUEST_ID_BYTES + 1];	/* the prefix with its last byte one up */
	int64_t charged, micros;
};

static enum cd_err mark_lines_tx(struct store *db, void *arg)
{
	/* Locks no account first: marked on Galera before it writes (sql/085). */
	enum cd_err mc = store_mark_all(db);
	if (mc != CD_OK)
		return mc;
	struct mark_lines *x = arg;
	int e;
	x->m.marked = 0;
	struct dbstmt *s = store_exec(db, SQL_ACCOUNT_LOCK, &e, "i", x->m.account_id);
	if (s == NULL)
		return store_err(db, e, "batch hold's account");
	if (store_fetch(s) != 1)
		return CD_OK;	/* no account: nothing to mark */
	s = store_exec(db, SQL_HOLD_PENDING, &e, "ii", x->m.hold, x->m.account_id);
	if (s == NULL)
		return store_err(db, e, "batch hold unresolved");
	int got = store_fetch(s);
	if (got <= 0)
		return got < 0 ? CD_E_INTERNAL : CD_OK;	/* pending no more: not marked */
	int64_t amount = store_i64(s, 0);
	s = store_exec(db, SQL_LINES_CHARGED, &e, "iss", x->m.account_id, x->from, x->to);
	if (s == NULL)
		return store_err(db, e, "batch lines charged");
	if (store_fetch(s) != 1 || amount < 0 || store_i64(s, 0) < 0)
		return CD_E_INTERNAL;
	x->charged = store_i64(s, 0);
	x->micros = money_rule_batch_unresolved(amount, x->charged);
	x->m.input_micros = x->micros;
	return mark_tx(db, &x->m);
}

enum cd_err ledger_unresolved_mark_lines(struct store *db, const char *account, const char *hold_id,
					 const char *key_prefix, int64_t days, int64_t *charged, int64_t *micros)
{
	struct mark_lines x = {{0, 0, 0, days, 0}, key_prefix, "", 0, 0};
	size_t n = strlen(key_prefix);
	assert(account != NULL);
	assert(days > 0);
	assert(n > 0 && n < sizeof(x.to));
	memcpy(x.to, key_prefix, n + 1);
	assert((unsigned char)x.to[n - 1] < 0xff);
	x.to[n - 1] = (char)((unsigned char)x.to[n - 1] + 1);
	store_holdid_ensure(db);
	if (ledger_rows_hold_id_parse(hold_id, &x.m.account_id, &x.m.hold) != 0)
		return CD_E_NOT_FOUND;
	enum cd_err rc = store_tx_on(db, account, mark_lines_tx, &x);
	*charged = x.charged;
	*micros = x.micros;
	return rc != CD_OK ? rc : x.m.marked ? CD_OK : CD_E_CONFLICT;
}

/* ---- A resolution ---- */

struct resolve {
	int64_t account_id, hold, micros;
	int charge;
	struct ledger_resolved *out;
	const char *note;		/* NULL: the operator's */
};

/* The hold under its lock, into h; CD_E_NOT_FOUND when there is none. */
static enum cd_err hold_read(struct store *db, const struct resolve *r, struct due_hold *h, char *state, size_t cap)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_HOLD, &e, "ii", r->hold, r->account_id);
	if (s == NULL)
		return store_err(db, e, "hold resolve");
	int got = store_fetch(s);
	if (got <= 0)
		return got < 0 ? CD_E_INTERNAL : CD_E_NOT_FOUND;
	memset(h, 0, sizeof(*h));
	h->id = r->hold;
	h->amount = store_i64(s, 0);
	h->has_member = !store_null(s, 1);
	snprintf(h->member, sizeof(h->member), "%s", h->has_member ? store_str(s, 1) : "");
	snprintf(state, cap, "%s", store_str(s, 2));
	h->unresolved = store_i64(s, 3) == 1;
	h->input_bound = store_i64(s, 4);
	return CD_OK;
}

static enum cd_err resolve_tx(struct store *db, struct resolve *r)
{
	struct acct a;
	struct due_hold h;
	struct hold_expiry x;
	struct ledger_resolved *out = r->out;
	memset(out, 0, sizeof(*out));
	enum cd_err rc = ledger_due_lock_id(db, r->account_id, &a);
	rc = rc == CD_OK ? hold_read(db, r, &h, out->status, sizeof(out->status)) : rc;
	if (rc != CD_OK)
		return rc;
	out->held_micros = h.amount;
	out->unresolved = h.unresolved && strcmp(out->status, "pending") == 0;
	if (!out->unresolved)
		return CD_E_CONFLICT;	/* nothing written: the caller says what it is */
	if (h.amount < 0 || h.amount > a.reserved || h.input_bound < 0) {
		log_error("account %s: hold %lld holds %lld, the account reserves %lld", a.ext_id, (long long)h.id,
			  (long long)h.amount, (long long)a.reserved);
		return CD_E_INTERNAL;	/* a row edited by hand: the rule asserts it */
	}
	int64_t charge = !r->charge ? 0 : r->micros >= 0 ? r->micros : h.input_bound;
	money_rule_hold_unresolved(h.amount, a.reserved, charge, &x);
	h.resolved = r->charge ? "charge" : "release";
	rc = ledger_due_hold_close(db, &a, &h, &x, r->note != NULL ? r->note : r->charge
				   ? "unresolved hold charged by the operator" : "unresolved hold released by the operator");
	a.dirty = 1;
	rc = rc == CD_OK ? ledger_events_acct_save(db, &a) : rc;
	snprintf(out->status, sizeof(out->status), "%s", x.captured ? "captured" : "released");
	out->charged_micros = x.charge;
	out->balance_micros = a.balance;
	return rc;
}

enum cd_err ledger_unresolved_resolve(struct store *db, const char *hold_id, int charge, int64_t micros,
				struct ledger_resolved *out)
{
	return ledger_unresolved_resolve_noted(db, hold_id, charge, micros, NULL, out);
}

enum cd_err ledger_unresolved_resolve_noted(struct store *db, const char *hold_id, int charge, int64_t micros,
					    const char *note, struct ledger_resolved *out)
{
	struct resolve r = {0, 0, micros, charge, out, note};
	struct store_tx t;
	assert(out != NULL);
	memset(out, 0, sizeof(*out));
	store_holdid_ensure(db);
	if (ledger_rows_hold_id_parse(hold_id, &r.account_id, &r.hold) != 0)
		return CD_E_NOT_FOUND;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, resolve_tx(db, &r));
	return t.rc;
}

/* ---- The list creditctl hold resolve --from-usage judges ---- */

static enum cd_err list_tx(struct store *db, int64_t from, int64_t to, struct ledger_unresolved_hold *rows, int cap,
			   int *n, int *more)
{
	int e, got;
	*n = 0;
	*more = 0;
	struct dbstmt *s = store_exec(db, SQL_LIST, &e, "iii", from, to, (int64_t)cap + 1);
	if (s == NULL)
		return store_err(db, e, "unresolved holds");
	while ((got = store_fetch(s)) == 1) {
		if (*n == cap) {
			*more = 1;
			break;
		}
		struct ledger_unresolved_hold *r = &rows[*n];
		memset(r, 0, sizeof(*r));
		ledger_rows_hold_id_format(r->hold_id, sizeof(r->hold_id), store_i64(s, 1), store_i64(s, 0));
		if (store_copy(s, 2, r->account, sizeof(r->account), "") != 0 ||
		    store_copy(s, 3, r->model, sizeof(r->model), "") != 0)
			return CD_E_INTERNAL;
		r->held_micros = store_i64(s, 4);
		r->created_at = store_i64(s, 5);
		r->has_pin = !store_null(s, 6) && !store_null(s, 7) && !store_null(s, 8) && !store_null(s, 10);
		r->pin.input_micros_per_mtok = store_i64(s, 6);
		r->pin.cached_input_micros_per_mtok = store_i64(s, 7);
		r->pin.output_micros_per_mtok = store_i64(s, 8);
		/* NULL beside the others: pinned before sql/034, its input price */
		r->pin.cache_write_micros_per_mtok = store_null(s, 9) ? r->pin.input_micros_per_mtok : store_i64(s, 9);
		r->pin_margin_bps = store_i64(s, 10);
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

/* The minutes of [from, to) in which a call began that is still running
 * (pending, not unresolved) or whose unresolved hold was resolved
 * already: a leftover read there could be that call's, or counted
 * twice (a review's finding), so their windows are left as they are. */
static enum cd_err unsafe_tx(struct store *db, int64_t from, int64_t to, struct ledger_usage_minute *minutes,
			     int cap, int *n)
{
	static const char sql[] = "SELECT DISTINCT created_at DIV 60, model FROM holds WHERE created_at >= ? AND "
		"created_at < ? AND byok = 0 AND model IS NOT NULL AND ((state = 'pending' AND unresolved_at IS NULL) OR "
		"resolved IS NOT NULL) ORDER BY 1, 2 LIMIT ?";
	int e, got;
	*n = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "iii", from, to, (int64_t)cap);
	if (s == NULL)
		return store_err(db, e, "unsafe minutes");
	while ((got = store_fetch(s)) == 1 && *n < cap) {
		struct ledger_usage_minute *m = &minutes[*n];
		memset(m, 0, sizeof(*m));
		m->minute = store_i64(s, 0) * 60;
		if (store_copy(s, 1, m->model, sizeof(m->model), "") != 0)
			return CD_E_INTERNAL;
		(*n)++;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_unresolved_unsafe_minutes(struct store *db, int64_t from, int64_t to,
					     struct ledger_usage_minute *minutes, int cap, int *n)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, unsafe_tx(db, from, to, minutes, cap, n));
	return t.rc;
}

enum cd_err ledger_unresolved_list(struct store *db, int64_t from, int64_t to, struct ledger_unresolved_hold *rows,
				   int cap, int *n, int *more)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, list_tx(db, from, to, rows, cap, n, more));
	return t.rc;
}

/* ---- /metrics ---- */

static enum cd_err count_tx(struct store *db, int64_t *n)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_COUNT, &e, "i", (int64_t)LIMIT_OUTBOX_COUNT_ROWS);
	if (s == NULL)
		return store_err(db, e, "unresolved holds count");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	*n = store_i64(s, 0);
	return CD_OK;
}

enum cd_err ledger_unresolved_count(struct store *db)
{
	struct store_tx t;
	int64_t n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, count_tx(db, &n));
	if (t.rc == CD_OK)
		metrics_gateway_unresolved((long long)n);
	return t.rc;
}
