/* ledger_due.c: opening an account for a request, and the background
 * sweep.
 *
 * ledger_due_lock locks the account row, rolls its month over and applies
 * what fell due: a hold stops counting as reserved at its expires_at
 * (docs/decisions.md, "Expired holds") and an expired grant must never be
 * spent, so both are applied by whichever comes first, a request touching the
 * account or the background thread's sweep. Expired holds are released, or
 * captured in full with expired_holds = capture; expired grants are written
 * off, each with a journal row. Uses the rows and the members below it; every
 * operation opens its account through here. The background sweep ends with
 * the purge of what retention lets go (ledger_purge.c). */
#include "ledger_due.h"
#include "ledger_alerts.h"
#include "money_rule.h"
#include "ledger_periods.h"
#include "ledger_events.h"
#include "ledger_purge.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A plan's credit for this month is due (its account names a plan the
 * month has not credited yet). */
/* The transaction's clock as the store fixed it for the attempt running
 * (store_clock): what a guard batch copies into its own (b->clock). */
static struct ledger_clock clock_of(const struct store *db)
{
	return (struct ledger_clock){db->now, db->now_month, db->now_day};
}

static int period_due(const struct ledger_clock *clock, const struct acct *a)
{
	return a->plan[0] != '\0' && a->plan_period != clock->month;
}

void ledger_due_roll_at(const struct ledger_clock *clock, struct acct *a)
{
	struct roll_effect month, day;
	assert(a->id > 0);
	money_rule_roll(a->month_key, a->month_spent, clock->month, &month);
	money_rule_roll(a->day_key, a->day_spent, clock->day, &day);
	a->month_key = month.key;
	a->month_spent = month.spent;
	a->day_key = day.key;
	a->day_spent = day.spent;
	a->dirty = month.rolled || day.rolled;
	/* Its month and day are the clock's now, decided in memory. */
	assert(a->month_key == clock->month);
	assert(a->day_key == clock->day);
}

void ledger_due_roll(const struct store *db, struct acct *a)
{
	const struct ledger_clock clock = clock_of(db);
	ledger_due_roll_at(&clock, a);
}

enum cd_err ledger_due_apply(struct store *db, struct acct *a)
{
	const struct ledger_clock clock = clock_of(db);
	ledger_due_roll_at(&clock, a);
	/* The plan's credit for a new period comes first: its rollover reads
	 * what the last period left, before the sweep writes that off. */
	if (period_due(&clock, a)) {
		enum cd_err rc = ledger_periods_credit(db, a, a->plan, db->now, PERIOD_RENEWAL, NULL);
		if (rc != CD_OK)
			return rc;
		a->dirty = 1;
	}
	if (a->sweep_due_at >= 0 && a->sweep_due_at <= db->now) {
		a->dirty = 1;
		enum cd_err rc = ledger_due_sweep_acct(db, a);
		assert(rc != CD_OK || a->month_key == db->now_month);
		return rc;
	}
	/* Opened: its month and day are the clock's. */
	assert(a->month_key == db->now_month);
	assert(a->day_key == db->now_day);
	return CD_OK;
}

int ledger_due_writes(const struct ledger_clock *clock, const struct acct *a)
{
	return period_due(clock, a) || (a->sweep_due_at >= 0 && a->sweep_due_at <= clock->now);
}

/* An account locked by the running attempt: its month and day rolled, or,
 * with something else due on it, the attempt ended on it (store_tx brings
 * it due by attempts of ledger_due_bring_tx and runs the attempt again). */
static enum cd_err opened(struct store *db, struct acct *a)
{
	const struct ledger_clock clock = clock_of(db);
	if (ledger_due_writes(&clock, a)) {
		store_due_add(db, a->id, ledger_due_bring_tx);
		return CD_E_DUE;
	}
	ledger_due_roll_at(&clock, a);
	/* Opened under its lock, in this transaction, nothing due on it:
	 * money may be written from it. */
	assert(a->locked_tx == db->tx_serial);
	assert(!ledger_due_writes(&clock, a));
	return CD_OK;
}

enum cd_err ledger_due_lock(struct store *db, const char *ext_id, struct acct *a)
{
	assert(ext_id != NULL);
	enum cd_err rc = ledger_rows_acct_load_locked(db, ext_id, a);
	rc = rc == CD_OK ? opened(db, a) : rc;
	assert(rc != CD_OK || a->month_key == timefmt_month_key(db->now));
	return rc;
}

enum cd_err ledger_due_lock_id(struct store *db, int64_t id, struct acct *a)
{
	enum cd_err rc = ledger_rows_acct_load_locked_id(db, id, a);
	rc = rc == CD_OK ? opened(db, a) : rc;
	assert(rc != CD_OK || a->id == id);
	return rc;
}

enum cd_err ledger_due_open_id(struct store *db, int64_t id, struct acct *a)
{
	enum cd_err rc = ledger_rows_acct_load_locked_id(db, id, a);
	rc = rc == CD_OK ? ledger_due_apply(db, a) : rc;
	assert(rc != CD_OK || a->id == id);
	assert(rc != CD_OK || a->locked_tx == db->tx_serial);
	return rc;
}

/* ---- Sweep ---- */

/* A gateway call's hold (its request_id LEDGER_GATEWAY_REQUEST_PREFIX) is
 * captured at its expiry whatever expired_holds says: the provider was called
 * (docs/gateway.md, "A hold that expires under its call"). An unresolved one
 * (sql/058: its provider may have run it and never answered) is due
 * unresolved_days after its call, and is then charged its input bound, not
 * captured in full (docs/gateway.md). The due rows are locked through the
 * account's own index: by (state, expires_at), which MariaDB may prefer, the
 * read would lock its way through every account's due holds (on Galera, each
 * one a conflict with the node that writes that account). */
/* A batch's hold is never captured while its job is not done (sql/079;
 * docs/gateway.md, "Batches"): its job renews it each pass and settles
 * it line by line, and releases it once every line is charged. Nor is a
 * background run's while the run lives (sql/084; "Background
 * responses"): its end settles it at its usage, however long creditd was
 * away; a run given up after its days is ended, its hold kept unresolved
 * first. (No FORCE INDEX on the run's ix_hold: a creditd started before
 * migration 084 still sweeps, scanning the runs.) */
#define NOT_A_BATCH_HOLD "NOT EXISTS (SELECT 1 FROM gateway_jobs j FORCE INDEX (ix_hold) WHERE " \
	"j.account_id = holds.account_id AND j.hold_row = holds.id AND j.state <> 'done') AND NOT EXISTS " \
	"(SELECT 1 FROM gateway_background g WHERE g.account_id = holds.account_id AND g.hold_row = holds.id " \
	"AND g.state = 'running')"
static const char SQL_HOLDS_DUE[] = "SELECT id, amount_micros, member, LEFT(request_id, 3) = '"
				    LEDGER_GATEWAY_REQUEST_PREFIX "', unresolved_at IS NOT NULL, "
				    "COALESCE(unresolved_input_micros, 0) FROM holds FORCE INDEX (ix_pending) "
				    "WHERE account_id = ? AND state = 'pending' AND expires_at <= ? AND " NOT_A_BATCH_HOLD
				    " FOR UPDATE";
_Static_assert(sizeof(LEDGER_GATEWAY_REQUEST_PREFIX) == 4, "SQL_HOLDS_DUE compares the prefix's 3 bytes");
static const char SQL_RESOLVED[] = "UPDATE holds SET resolved = ? WHERE id = ? AND account_id = ?";
static const char SQL_GRANTS_DUE[] = "SELECT id, remaining_micros, source FROM grants FORCE INDEX (ix_account) WHERE account_id = ? "
				     "AND remaining_micros > 0 AND expires_at <= ? FOR UPDATE";
/* A hold skipped above keeps its account due no sooner than
 * LIMIT_SWEEP_SKIPPED_SECONDS from now: when its job or run ends (a run
 * given up leaves it unresolved, due unresolved_days on), that later
 * sweep finds it; until then each such sweep only puts the time off. */
static const char SQL_NEXT_DUE[] = "SELECT (SELECT MIN(IF(" NOT_A_BATCH_HOLD ", expires_at, GREATEST(expires_at, ?))) "
				   "FROM holds WHERE account_id = ? AND state = 'pending'), "
				   "(SELECT MIN(expires_at) FROM grants WHERE account_id = ? AND remaining_micros > 0)";

#define SWEEP_BATCH LIMIT_SWEEP_BATCH

/* A member's spend moved by an expired hold's capture: its member_cap_pct
 * alerts (ledger_alerts.h), the account's own at its save. */
static enum cd_err member_alerts(struct store *db, struct acct *a, const char *member)
{
	struct member_row m;
	int64_t plan_cap;
	if (a->alert_count == 0)
		return CD_OK;
	enum cd_err rc = ledger_members_read(db, a, member, &m, &plan_cap);
	if (rc == CD_E_NOT_FOUND)
		return CD_OK;
	json_t *fired = rc == CD_OK ? json_array() : NULL;
	if (rc == CD_OK && fired == NULL)
		rc = CD_E_INTERNAL;
	rc = rc == CD_OK ? ledger_alerts_member(db, a, &m, plan_cap, fired) : rc;
	rc = rc == CD_OK ? ledger_events_alerts(db, a, fired) : rc;
	json_decref(fired);
	return rc;
}

enum cd_err ledger_due_hold_close(struct store *db, struct acct *a, const struct due_hold *h,
				  const struct hold_expiry *x, const char *why)
{
	char ref[48];
	char key[JOURNAL_KEY_BYTES];
	enum cd_err rc;
	assert(x->release == h->amount);
	ledger_rows_hold_id_format(ref, sizeof(ref), a->id, h->id);
	const char *outer = ledger_rows_journal_key_push(db, key, "expire", ref, 1), *actor = db->actor;
	db->actor = NULL;	/* an expiry is creditd's, whichever request ran it: "system" */
	a->reserved -= x->release;
	if (x->captured) {
		rc = ledger_rows_spend(db, a, x->charge, "usage", h->id, ref, why, NULL);
		if (rc == CD_OK && ledger_rows_acct_spent(a, x->charge) != 0)
			rc = refusal_set_range(&db->refusal, REFUSE_OUT_OF_RANGE, "spend", x->charge, NULL);
	} else {
		rc = ledger_rows_journal_append(db, a, &(struct journal_line){.cause = "expiry", .hold_id = h->id,
				.reference = ref, .description = why}, NULL);
	}
	db->journal_key = outer;
	db->actor = actor;
	if (rc == CD_OK)
		rc = ledger_members_adjust(db, a, h->has_member ? h->member : NULL, -x->release, x->charge);
	if (rc == CD_OK && h->has_member && x->charge > 0)
		rc = member_alerts(db, a, h->member);
	if (rc == CD_OK)
		rc = ledger_rows_hold_end(db, &(struct hold_end){.id = h->id, .state = x->captured ? "captured"
								 : h->unresolved ? "released" : "expired", .charged = x->charge});
	if (rc == CD_OK && h->resolved != NULL)
		rc = store_do(db, SQL_RESOLVED, "hold resolved", "sii", h->resolved, h->id, a->id);
	return rc;
}

/* Expires up to SWEEP_BATCH due holds; *done is how many. */
static enum cd_err expire_hold_batch(struct store *db, struct acct *a, int *done)
{
	struct due_hold holds[SWEEP_BATCH];
	int gateways[SWEEP_BATCH];
	int n = 0, e;
	struct dbstmt *s = store_exec(db, SQL_HOLDS_DUE, &e, "ii", a->id, db->now);
	if (s == NULL)
		return store_err(db, e, "hold sweep");
	while (n < SWEEP_BATCH && store_fetch(s) == 1) {
		struct due_hold *h = &holds[n];
		h->id = store_i64(s, 0);
		h->amount = store_i64(s, 1);
		h->has_member = !store_null(s, 2);
		snprintf(h->member, sizeof(h->member), "%s", h->has_member ? store_str(s, 2) : "");
		gateways[n] = store_i64(s, 3) == 1;
		h->unresolved = store_i64(s, 4) == 1;
		h->input_bound = store_i64(s, 5);
		h->resolved = h->unresolved ? "expiry" : NULL;
		n++;
	}
	*done = n;
	for (int i = 0; i < n; i++) {
		struct hold_expiry x;
		const struct due_hold *h = &holds[i];
		if (h->amount < 0 || h->amount > a->reserved || h->input_bound < 0) {
			log_error("account %s: hold %" PRId64 " holds %" PRId64 ", the account reserves %" PRId64,
				  a->ext_id, h->id, h->amount, a->reserved);
			return CD_E_INTERNAL;	/* a row edited by hand: the rule asserts it */
		}
		if (h->unresolved)
			money_rule_hold_unresolved(h->amount, a->reserved, h->input_bound, &x);
		else
			money_rule_hold_expiry(h->amount, a->reserved, db->cfg->capture_expired || gateways[i], &x);
		enum cd_err rc = ledger_due_hold_close(db, a, h, &x, h->unresolved ? "unresolved hold charged its input bound"
						       : x.captured ? "expired hold captured" : "expired hold released");
		if (rc != CD_OK)
			return rc;
	}
	return CD_OK;
}

/* Every due hold goes, not just one batch: a hold stops counting as
 * reserved at its expires_at (docs/decisions.md, "Expired holds"), however many fall due at once.
 * Each batch expires at least one hold, so the loop ends. */
static enum cd_err expire_holds(struct store *db, struct acct *a)
{
	int done = SWEEP_BATCH;
	enum cd_err rc = CD_OK;
	while (rc == CD_OK && done == SWEEP_BATCH)
		rc = expire_hold_batch(db, a, &done);
	return rc;
}

/* Writes off up to SWEEP_BATCH expired grants; *done is how many. */
static enum cd_err expire_grant_batch(struct store *db, struct acct *a, int *done)
{
	int64_t ids[SWEEP_BATCH], left[SWEEP_BATCH];
	char sources[SWEEP_BATCH][16];
	int n = 0, e;
	struct dbstmt *s = store_exec(db, SQL_GRANTS_DUE, &e, "ii", a->id, db->now);
	if (s == NULL)
		return store_err(db, e, "grant sweep");
	while (n < SWEEP_BATCH && store_fetch(s) == 1) {
		ids[n] = store_i64(s, 0);
		left[n] = store_i64(s, 1);
		snprintf(sources[n], sizeof(sources[n]), "%s", store_str(s, 2));
		n++;
	}
	*done = n;
	for (int i = 0; i < n; i++) {
		char ref[32];
		char key[JOURNAL_KEY_BYTES];
		ledger_ids_format(ref, sizeof(ref), "grant_", ids[i]);
		const struct spend_grant gone = {ids[i], 0, 0, 1};
		const char *outer = ledger_rows_journal_key_push(db, key, "expire", ref, 1), *actor = db->actor;
		db->actor = NULL;	/* creditd's, whichever request ran it: "system" */
		enum cd_err rc = ledger_rows_grants_journal(db, a, &gone, 1, &(struct journal_line){.amount = -left[i],
				.cause = "expiry", .source = sources[i], .grant_id = ids[i], .reference = ref,
				.description = "expired grant written off"}, NULL);
		db->journal_key = outer;
		db->actor = actor;
		if (rc != CD_OK)
			return rc;
	}
	return CD_OK;
}

/* All of them, for the same reason as expire_holds: an expired grant left
 * standing would still be spent. */
static enum cd_err expire_grants(struct store *db, struct acct *a)
{
	int done = SWEEP_BATCH;
	enum cd_err rc = CD_OK;
	while (rc == CD_OK && done == SWEEP_BATCH)
		rc = expire_grant_batch(db, a, &done);
	return rc;
}

enum cd_err ledger_due_sweep_acct(struct store *db, struct acct *a)
{
	int e;
	assert(a->id > 0);
	enum cd_err rc = expire_holds(db, a);
	if (rc == CD_OK)
		rc = expire_grants(db, a);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, SQL_NEXT_DUE, &e, "iii", db->now + LIMIT_SWEEP_SKIPPED_SECONDS, a->id, a->id);
	if (s == NULL)
		return store_err(db, e, "sweep due");
	a->sweep_due_at = -1;
	if (store_fetch(s) == 1) {
		for (unsigned int c = 0; c < 2; c++)
			if (!store_null(s, c) && (a->sweep_due_at < 0 || store_i64(s, c) < a->sweep_due_at))
				a->sweep_due_at = store_i64(s, c);
	}
	/* A run that ended between the two reads leaves its expired hold
	 * pending and no longer skipped: due at the next pass, not in the past. */
	if (a->sweep_due_at >= 0 && a->sweep_due_at <= db->now)
		a->sweep_due_at = db->now + 1;
	ledger_periods_sweep_due(db, a);
	/* Every due hold and grant went: what is due next is later. */
	assert(a->sweep_due_at < 0 || a->sweep_due_at > db->now);
	return CD_OK;
}

enum cd_err ledger_due_bring_tx(struct store *db, int64_t id)
{
	struct acct a;
	enum cd_err rc = ledger_due_open_id(db, id, &a);
	if (rc == CD_E_NOT_FOUND)
		return CD_OK;
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	/* Brought due at this transaction's clock: nothing more is due. */
	const struct ledger_clock clock = clock_of(db);
	assert(rc != CD_OK || !ledger_due_writes(&clock, &a));
	return rc;
}

/* ledger_due_bring_tx in a transaction loop of its own: the background
 * sweep's step for each account. */
static enum cd_err bring_id(struct store *db, int64_t id)
{
	struct store_tx t;
	assert(id > 0);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, ledger_due_bring_tx(db, id));
	return t.rc;
}

/* The accounts whose sweep is due, up to max (at most
 * LIMIT_SWEEP_ACCOUNTS), into ids[0..*n). */
static enum cd_err due_tx(struct store *db, int max, int64_t *ids, int *n)
{
	static const char sql[] = "SELECT id FROM accounts WHERE sweep_due_at <= ? ORDER BY sweep_due_at LIMIT ?";
	int e;
	*n = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", db->now, (int64_t)max);
	if (s == NULL)
		return store_err(db, e, "sweep scan");
	while (*n < max && store_fetch(s) == 1)
		ids[(*n)++] = store_i64(s, 0);
	return CD_OK;
}

/* A receipt kept while its top-up's credit was committing at the same
 * moment (neither saw the other) is written on it here, within a sweep
 * (ledger_topups.c receipt_wait); the kept row then goes. Those left
 * unmatched are purged by age with the rest (ledger_purge.c). */
static enum cd_err receipts_tx(struct store *db)
{
	static const char sql_late[] = "UPDATE topups t JOIN receipts_waiting w ON w.payment_intent = t.payment_intent "
				       "SET t.receipt_url = w.receipt_url, t.receipt_event_at = w.event_at "
				       "WHERE t.status = 'credited' AND (t.receipt_event_at IS NULL OR "
				       "t.receipt_event_at <= w.event_at)";
	static const char sql_applied[] = "DELETE w FROM receipts_waiting w JOIN topups t ON "
					  "t.payment_intent = w.payment_intent WHERE t.status = 'credited'";
	enum cd_err rc = store_do(db, sql_late, "late receipts", "");
	return rc == CD_OK ? store_do(db, sql_applied, "late receipts applied", "") : rc;
}

/* Each account due is swept in a transaction of its own
 * (bring_id): one account's conflict retries only that
 * account. */
enum cd_err ledger_sweep(struct store *db, int max, int *swept)
{
	int64_t ids[LIMIT_SWEEP_ACCOUNTS];
	int n = 0;
	struct store_tx t;
	if (max > LIMIT_SWEEP_ACCOUNTS)
		max = LIMIT_SWEEP_ACCOUNTS;
	*swept = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, due_tx(db, max, ids, &n));
	enum cd_err rc = t.rc;
	for (int i = 0; rc == CD_OK && i < n; i++) {
		rc = bring_id(db, ids[i]);
		if (rc == CD_OK)
			(*swept)++;
	}
	/* Retention runs whatever the accounts' sweeps did: one account that
	 * keeps failing must not stop every purge. */
	assert(*swept >= 0);
	assert(*swept <= max);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, receipts_tx(db));
	enum cd_err prc = t.rc == CD_OK ? ledger_purge_run(db) : t.rc;
	return rc != CD_OK ? rc : prc;
}
