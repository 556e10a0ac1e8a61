/* ledger_purge.c: retention (docs/decisions.md, "Retention"): the
 * sweeper deletes rows whose use is over, so the tables the request path
 * reads stay the size of their recent past. Idempotency keys past [ledger]
 * idempotency_ttl_hours, receipts kept for a top-up past
 * LIMIT_RECEIPT_WAIT_DAYS, Stripe event ids past [retention]
 * stripe_events_days, and finished holds (settled, released: docs/decisions.md)
 * past [retention] holds_days, and the console's sessions idle past
 * LIMIT_CONSOLE_IDLE_SECONDS. It must never delete a journal or usage
 * row, a pending, expired or captured hold: the journal and the usage are
 * the ledger itself (creditctl export is their archive), a pending hold
 * still reserves, an expired one may still be settled late (docs/decisions.md, "Expired holds":
 * it charges) and creditctl reconcile lists it, and verify reads captured
 * holds for members' spend.
 *
 * Each DELETE takes at most LIMIT_PURGE_BATCH rows, found through an
 * index on its cutoff column (no plan reads a whole table), in a
 * transaction of its own, so its row locks last one batch; a table is
 * purged batch after batch while the last one was full, at most
 * LIMIT_PURGE_BATCHES a sweep (of holds, that many of each finished
 * state), and a sweep purges for LIMIT_PURGE_SWEEP_MS at most: a backlog
 * is worked off over many sweeps, at a small share of the database's
 * time (the guard's p99 during a purge: docs/growth.md). What was purged is logged and counted for
 * /metrics (ledger_purged_rows). */
#include "ledger_config.h"
#include "ledger_purge.h"
#include "log.h"
#include "timefmt.h"
#include <stdatomic.h>

/* LIMIT_PURGE_BATCH spelt into the statements' text: a constant, so
 * every statement stays one prepared text. */
#define PURGE_TEXT(n) #n
#define PURGE_LIMIT(n) " LIMIT " PURGE_TEXT(n)

/* A hold that justifies a late charge is kept however old. creditctl
 * verify's "below the overdraft limit without a late charge" and "month
 * spend vs monthly limit" accept a balance or a month's spend past its
 * limit when a usage row of the account cost more than its hold (a settle
 * beyond the hold) or came at or after the hold's expires_at (a late
 * settle), found by joining usage_records to holds: with the hold gone
 * the charge would look unjustified, and verify would report a violation
 * that is none. The NOT EXISTS reads usage_records.ix_hold. finished_at
 * NULL (never the case of a finished hold) keeps a hold too.
 *
 * One state a statement, in the order of holds.ix_state_expires (state,
 * expires_at): the ORDER BY with its LIMIT is what makes the optimizer
 * read that index's range, also when most of the table is due (a backlog
 * after an upgrade): with the three states in one IN list and no order it
 * chose to scan the whole table, locking every row it read. The same
 * ORDER BY on the other tables' cutoff indexes, for the same reason. */
static const char SQL_HOLDS[] =
	"DELETE FROM holds WHERE state = ? AND expires_at >= ? AND expires_at < ? AND finished_at < ? AND NOT EXISTS (SELECT 1 "
	"FROM usage_records u WHERE u.hold_id = holds.id AND (u.cost_micros > holds.amount_micros "
	"OR u.created_at >= holds.expires_at)) ORDER BY expires_at" PURGE_LIMIT(LIMIT_PURGE_BATCH);

enum { PURGE_IDEMPOTENCY, PURGE_RECEIPTS, PURGE_STRIPE_EVENTS, PURGE_HOLDS, PURGE_GW_RESPONSES, PURGE_CONSOLE };

/* The tables as logged and in /metrics, by the enum above. */
static const char *const table_names[LEDGER_PURGE_TABLES] = {"idempotency_keys", "receipts_waiting",
							     "stripe_events", "holds", "gateway_responses",
							     "console_sessions"};

/* Each DELETE the sweep runs, batch after batch: the table it purges,
 * its text (? the cutoff, after the hold's state when there is one). */
static const struct purge_stmt {
	int table;
	const char *sql;
	const char *state;		/* a finished hold's state, else NULL */
} stmts[] = {
	{PURGE_IDEMPOTENCY, "DELETE FROM idempotency_keys WHERE created_at < ? ORDER BY created_at"
			    PURGE_LIMIT(LIMIT_PURGE_BATCH), NULL},
	{PURGE_RECEIPTS, "DELETE FROM receipts_waiting WHERE created_at < ? ORDER BY created_at"
			 PURGE_LIMIT(LIMIT_PURGE_BATCH), NULL},
	{PURGE_STRIPE_EVENTS, "DELETE FROM stripe_events WHERE received_at < ? ORDER BY received_at"
			      PURGE_LIMIT(LIMIT_PURGE_BATCH), NULL},
	{PURGE_HOLDS, SQL_HOLDS, "settled"},
	{PURGE_HOLDS, SQL_HOLDS, "released"},
	/* The responses of gateway_objects (sql/061), through its index of
	 * kind and time: no other kind's row is read. Counted and logged
	 * under the name their table had (sql/045), as before. */
	{PURGE_GW_RESPONSES, "DELETE FROM gateway_objects WHERE kind = 'response' AND created_at < ? ORDER BY created_at"
			     PURGE_LIMIT(LIMIT_PURGE_BATCH), NULL},
	/* The console's sessions idle past their limit (sql/064): they open
	 * nothing any more. One used past its 12 hours stops being seen and
	 * goes LIMIT_CONSOLE_IDLE_SECONDS after its last call. */
	{PURGE_CONSOLE, "DELETE FROM console_sessions WHERE last_seen_at < ? ORDER BY last_seen_at"
			PURGE_LIMIT(LIMIT_PURGE_BATCH), NULL},
};
#define PURGE_STMTS (sizeof(stmts) / sizeof(stmts[0]))

/* Rows purged since the process started, per table (any thread reads). */
static atomic_ullong purged[LEDGER_PURGE_TABLES];

/* The time before which table i's rows go, or -1 when it is kept whole. */
static int64_t purge_cutoff(const struct store *db, int i)
{
	const struct ledger_config *c = ledger_config_of(db->cfg);
	int64_t days;
	switch (i) {
	case PURGE_IDEMPOTENCY:
		return db->now - db->cfg->idempotency_ttl_hours * 3600;
	case PURGE_RECEIPTS:
		return db->now - (int64_t)LIMIT_RECEIPT_WAIT_DAYS * TIMEFMT_SECONDS_PER_DAY;
	case PURGE_STRIPE_EVENTS:
		days = c->retention_stripe_events_days;
		return days > 0 ? db->now - days * TIMEFMT_SECONDS_PER_DAY : -1;
	case PURGE_GW_RESPONSES:
		return db->now - (int64_t)LIMIT_GATEWAY_RESPONSE_DAYS * TIMEFMT_SECONDS_PER_DAY;
	case PURGE_CONSOLE:
		return db->now - LIMIT_CONSOLE_IDLE_SECONDS;
	default:
		return c->retention_holds_seconds > 0 ? db->now - c->retention_holds_seconds : -1;
	}
}

/* Where each holds statement's range starts (expires_at), only the
 * background thread reading and writing it. A hold kept for its late
 * charge is kept for ever: once a batch comes back short, every hold left
 * below the cutoff is such a hold, or one that ended within the last
 * retention period (a release after its expiry), and the next sweeps
 * start one retention period (ledger_config.h retention_holds_seconds) below the
 * cutoff instead of reading past all of them again.
 * 0 (a full range) after a restart, and when the clock was set back
 * below the cutoff the bound was moved at (purge_at): rows the bound
 * passed over are due again. */
static int64_t purge_from[PURGE_STMTS];
static int64_t purge_at[PURGE_STMTS];

/* One batch of statement k: *rows is how many went (0 when its table is
 * kept whole). */
static enum cd_err purge_batch(struct store *db, size_t k, uint64_t *rows)
{
	const struct purge_stmt *p = &stmts[k];
	int64_t cutoff = purge_cutoff(db, p->table);
	int e;
	*rows = 0;
	if (cutoff < 0)
		return CD_OK;
	if (cutoff < purge_at[k])
		purge_from[k] = purge_at[k] = 0;	/* the clock went back */
	struct dbstmt *s = p->state != NULL ? store_exec(db, p->sql, &e, "siii", p->state, purge_from[k], cutoff, cutoff)
					    : store_exec(db, p->sql, &e, "i", cutoff);
	if (s == NULL)
		return store_err(db, e, "purge");
	*rows = store_affected(s);
	return CD_OK;
}

/* After a holds batch of statement k committed short: the bound moves up
 * (never on a batch rolled back, whose rows are still there). */
static void purge_bound(const struct store *db, size_t k)
{
	int64_t cutoff = purge_cutoff(db, stmts[k].table);
	int64_t from = cutoff - (db->now - cutoff);
	if (stmts[k].state != NULL && cutoff >= 0 && from > purge_from[k]) {
		purge_from[k] = from;
		purge_at[k] = cutoff;
	}
}

/* Statement k, batch after batch while the last one was full, the
 * sweep's purge time is not spent (deadline, monotonic ms) and fewer than
 * LIMIT_PURGE_BATCHES ran. */
static enum cd_err purge_stmt_run(struct store *db, size_t k, int64_t deadline)
{
	uint64_t rows = LIMIT_PURGE_BATCH, total = 0;
	int batches = 0;
	struct store_tx t = {.rc = CD_OK};
	while (rows == LIMIT_PURGE_BATCH && batches < LIMIT_PURGE_BATCHES && timefmt_mono_ms() < deadline) {
		for (store_tx_init(db, &t); store_tx_next(db, &t);)
			store_tx_end(db, &t, purge_batch(db, k, &rows));
		if (t.rc != CD_OK)
			break;
		if (rows < LIMIT_PURGE_BATCH)
			purge_bound(db, k);
		total += rows;
		batches++;
	}
	if (total > 0) {
		const struct purge_stmt *p = &stmts[k];
		atomic_fetch_add(&purged[p->table], (unsigned long long)total);
		log_info("purged %llu rows of %s in %d batches%s%s%s", (unsigned long long)total,
			 table_names[p->table], batches, p->state != NULL ? " (" : "", p->state != NULL ? p->state : "",
			 p->state != NULL ? ")" : "");
	}
	return t.rc;
}

/* The statement a sweep starts with, one further each sweep: when one
 * table's backlog takes a sweep's whole time, the others still come first
 * in turn. Only the background thread purges. */
static size_t purge_first;

enum cd_err ledger_purge_run(struct store *db)
{
	enum cd_err rc = CD_OK;
	int64_t deadline = timefmt_mono_ms() + LIMIT_PURGE_SWEEP_MS;
	size_t first = purge_first;
	purge_first = (first + 1) % PURGE_STMTS;
	for (size_t i = 0; rc == CD_OK && i < PURGE_STMTS; i++)
		rc = purge_stmt_run(db, (first + i) % PURGE_STMTS, deadline);
	return rc;
}

unsigned long long ledger_purged_rows(int i, const char **table)
{
	*table = table_names[i];
	return atomic_load(&purged[i]);
}
_Static_assert(LEDGER_PURGE_TABLES <= LIMIT_METRICS_PURGE_TABLES, "/metrics shows every table purged");
