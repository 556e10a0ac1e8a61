/* sweep.h: the background work's ledger pass: holds and grants come due
 * applied (docs/decisions.md, "Expired holds"), retention ("Retention"), the month's pay-as-you-go
 * collections queued (docs/pay-as-you-go.md) and top-ups left pending a day marked expired.
 * One code path for creditd's background thread, which runs a pass every
 * [server] sweep_interval_seconds, and creditctl sweep, which runs passes
 * until nothing is left (shared hosting's cron job, where no creditd stays
 * up between requests). The pushes and charges that follow are
 * notify.h's and recharge.h's. */
#ifndef CREDITD_SWEEP_H
#define CREDITD_SWEEP_H
#include <stdint.h>
#include "errors.h"

struct store;

/* What passes did, added up by the caller. */
struct sweep_counts {
	int64_t accounts;	/* accounts whose due holds or grants were applied */
	int64_t collections;	/* pay-as-you-go collections queued */
	int64_t topups_expired;	/* top-ups pending a day marked expired */
};
/* One pass over db. Each step runs whatever the one before did (one that
 * fails must not stop the others); what they did is added to *counts and
 * logged at info level. *more: 1 when a step took all one pass takes
 * (more of it may be due now). Returns CD_OK, or the first failure (the
 * ledger logged it). */
enum cd_err sweep_pass(struct store *db, struct sweep_counts *counts, int *more);
#endif
