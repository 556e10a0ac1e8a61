/* ledger_purge.h: retention (docs/operations.md, "Data retention"): the
 * sweeper's purge of rows whose use is over, in small batches. Journal and
 * usage rows are never purged. Internal to the ledger's files:
 * ledger_sweep runs it once a sweep. */
#ifndef CREDITD_LEDGER_PURGE_H
#define CREDITD_LEDGER_PURGE_H
#include "ledger_int.h"

/* Purges idempotency keys past [ledger] idempotency_ttl_hours, receipts
 * kept past LIMIT_RECEIPT_WAIT_DAYS, Stripe event ids past [retention]
 * stripe_events_days and finished holds past [retention] holds_days (a
 * key set to 0 purges nothing). Each batch is a transaction of its own,
 * driven here: call it outside a transaction. Returns the first error;
 * the tables after it wait for the next sweep. */
enum cd_err ledger_purge_run(struct store *db);
#endif
