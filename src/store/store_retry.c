/* store_retry.c: the one list of reasons a transaction's attempt is run
 * again (store.h enum store_retry, docs/architecture.md "One retry
 * loop"): naming the running attempt's reason, and the count of each
 * (creditd_tx_retries_total). The loop that bounds them is store_tx.c's;
 * this file calls nothing, so the files that name a reason (store.c's
 * error mapping, store_end.c's lost mark, the ledger's) and the loop
 * need no path to one another. */
#include "store_db.h"
#include <assert.h>
#include <stdatomic.h>

/* The reasons' labels, in enum store_retry's order. */
static const char *const retry_names[STORE_RETRY_REASONS] = {"none", "deadlock", "moved", "due", "rollback",
							      "node", "route", "race", "schema"};
static atomic_ullong retries[STORE_RETRY_REASONS];

enum cd_err store_retry(struct store *db, enum store_retry why)
{
	assert(why > RETRY_NONE);
	assert(why < STORE_RETRY_REASONS);
	if (db->retry_why == RETRY_NONE)
		db->retry_why = why;
	return CD_E_RETRY;
}

const char *store_retry_name(enum store_retry why)
{
	assert(why >= RETRY_NONE);
	assert(why < STORE_RETRY_REASONS);
	return retry_names[why];
}

void store_retry_count(enum store_retry why)
{
	assert(why > RETRY_NONE);
	assert(why < STORE_RETRY_REASONS);
	atomic_fetch_add_explicit(&retries[why], 1, memory_order_relaxed);
}

void store_tx_retries(unsigned long long *counts)
{
	for (int i = 0; i < STORE_RETRY_REASONS; i++)
		counts[i] = atomic_load_explicit(&retries[i], memory_order_relaxed);
}
