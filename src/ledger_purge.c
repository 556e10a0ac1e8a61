/* ledger_purge.c: retention (DESIGN §10 "Growth and retention"): the
 * sweeper deletes rows whose use is over, so the tables the request path
 * reads stay the size of their recent past. Idempotency keys past [ledger]
 * idempotency_ttl_hours, receipts kept for a top-up past
 * LIMIT_RECEIPT_WAIT_DAYS, Stripe event ids past [retention]
 * stripe_events_days, and finished holds (settled, released, expired)
 * past [retention] holds_days. It must never delete a journal or usage
 * row, a pending hold or a captured one: the journal and the usage are
 * the ledger itself (creditctl export is their archive), a pending hold
 * still reserves, and verify reads captured holds for members' spend.
 *
 * Each DELETE takes at most LIMIT_PURGE_BATCH rows, found through an
 * index on its cutoff column (no plan reads a whole table), in a
 * transaction of its own, so its row locks last one batch; a table is
 * purged batch after batch while the last one was full, at most
 * LIMIT_PURGE_BATCHES a sweep. What was purged is logged and counted for
 * /metrics (ledger_purged_rows). */
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
 * that is none. The NOT EXISTS reads usage_records.ix_hold; the range is
 * holds.ix_state_expires (state, expires_at) of the three finished
 * states. finished_at NULL (never the case of a finished hold) keeps it. */
static const char SQL_HOLDS[] =
	"DELETE FROM holds WHERE state IN ('settled', 'released', 'expired') AND expires_at < ? "
	"AND finished_at < ? AND NOT EXISTS (SELECT 1 FROM usage_records u WHERE u.hold_id = holds.id "
	"AND (u.cost_micros > holds.amount_micros OR u.created_at >= holds.expires_at))" PURGE_LIMIT(LIMIT_PURGE_BATCH);

static const struct purge_table {
	const char *name;		/* the table, as logged and in /metrics */
	const char *sql;		/* its DELETE; each ? is the cutoff */
	const char *params;		/* db_exec's format: one 'i' per ? */
} tables[LEDGER_PURGE_TABLES] = {
	{"idempotency_keys", "DELETE FROM idempotency_keys WHERE created_at < ?" PURGE_LIMIT(LIMIT_PURGE_BATCH), "i"},
	{"receipts_waiting", "DELETE FROM receipts_waiting WHERE created_at < ?" PURGE_LIMIT(LIMIT_PURGE_BATCH), "i"},
	{"stripe_events", "DELETE FROM stripe_events WHERE received_at < ?" PURGE_LIMIT(LIMIT_PURGE_BATCH), "i"},
	{"holds", SQL_HOLDS, "ii"},
};

/* Rows purged since the process started, per table (any thread reads). */
static atomic_ullong purged[LEDGER_PURGE_TABLES];

/* The time before which table i's rows go, or -1 when it is kept whole. */
static int64_t purge_cutoff(const struct ledger *lg, int i)
{
	const struct cfg *c = lg->cfg;
	int64_t days;
	switch (i) {
	case 0:
		return lg->now - c->idempotency_ttl_hours * 3600;
	case 1:
		return lg->now - (int64_t)LIMIT_RECEIPT_WAIT_DAYS * TIMEFMT_SECONDS_PER_DAY;
	case 2:
		days = c->retention_stripe_events_days;
		break;
	default:
		days = c->retention_holds_days;
		break;
	}
	return days > 0 ? lg->now - days * TIMEFMT_SECONDS_PER_DAY : -1;
}

/* One batch of table i: *rows is how many went (0 when it is kept). */
static enum cd_err purge_batch(struct ledger *lg, int i, uint64_t *rows)
{
	int64_t cutoff = purge_cutoff(lg, i);
	int e;
	*rows = 0;
	if (cutoff < 0)
		return CD_OK;
	struct dbstmt *s = tables[i].params[1] == 'i' ? db_exec(lg, tables[i].sql, &e, "ii", cutoff, cutoff)
						      : db_exec(lg, tables[i].sql, &e, "i", cutoff);
	if (s == NULL)
		return db_err(lg, e, "purge");
	*rows = db_affected(s);
	return CD_OK;
}

/* Table i, batch after batch while the last one was full. */
static enum cd_err purge_table(struct ledger *lg, int i)
{
	uint64_t rows = LIMIT_PURGE_BATCH, total = 0;
	int batches = 0;
	struct ledger_tx t = {.rc = CD_OK};
	while (t.rc == CD_OK && rows == LIMIT_PURGE_BATCH && batches < LIMIT_PURGE_BATCHES) {
		for (ledger_tx_init(lg, &t); ledger_tx_next(lg, &t);)
			ledger_tx_end(lg, &t, purge_batch(lg, i, &rows));
		if (t.rc != CD_OK)
			break;
		total += rows;
		batches++;
	}
	if (total > 0) {
		atomic_fetch_add(&purged[i], (unsigned long long)total);
		log_info("purged %llu rows of %s in %d batches", (unsigned long long)total, tables[i].name, batches);
	}
	return t.rc;
}

enum cd_err purge_run(struct ledger *lg)
{
	enum cd_err rc = CD_OK;
	for (int i = 0; rc == CD_OK && i < LEDGER_PURGE_TABLES; i++)
		rc = purge_table(lg, i);
	return rc;
}

unsigned long long ledger_purged_rows(int i, const char **table)
{
	*table = tables[i].name;
	return atomic_load(&purged[i]);
}
_Static_assert(LEDGER_PURGE_TABLES <= LIMIT_METRICS_PURGE_TABLES, "/metrics shows every table purged");
