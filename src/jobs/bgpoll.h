/* bgpoll.h: the poll of the gateway's background runs (docs/gateway.md,
 * "Background responses"): one thread of creditd that takes the running
 * runs due from the ledger's durable list (sql/072), renews the hold of
 * every running run first (one statement a round), claims each due one
 * (of pollers sharing the database, one looks at it), has it looked at
 * by the gateway (its provider asked how it goes, the run settled when
 * it ended), and schedules its next look with a back-off. The list is
 * the database's: a creditd restarted mid-run finds its runs there (and
 * a settle is once per hold whoever makes it).
 *
 * The provider's HTTP and the settle are the gateway's, a layer above
 * this one: they come in as hooks (as qsort is handed a comparator). */
#ifndef CREDITD_BGPOLL_H
#define CREDITD_BGPOLL_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

struct store;
struct ledger_gw_run;

struct bgpoll_hooks {
	/* Looks at run on db: 1 ended, 0 still running (its status written
	 * into status, cap bytes), -1 not learnt (tried again later). */
	int (*poll)(struct store *db, const struct ledger_gw_run *run, char *status, size_t cap);
	/* When a run polled polls times is looked at next, from now. */
	int64_t (*next_at)(int64_t polls, int64_t now);
};

/* One round on db: the running runs due (at most
 * LIMIT_GATEWAY_BACKGROUND_BATCH) each looked at, none once *stopping,
 * and none before the price list is loaded (they stay due).
 * The runs looked at, or -1 when the database failed. creditctl sweep
 * runs rounds too (a shared host may have no creditd alive between
 * requests). */
int bgpoll_round(struct store *db, const struct bgpoll_hooks *h, atomic_int *stopping);
/* Runs rounds until *stopping: creditd's background-run poll thread. It
 * first brings every running run's poll to now (a webhook may have come
 * while no creditd ran), then a round each second, or at once when woken
 * (bgpoll_wake). */
void bgpoll_run(const struct cfg *c, atomic_int *stopping, const struct bgpoll_hooks *h);
/* Wakes the poll for a round now (a webhook said a run ended). */
void bgpoll_wake(void);
/* Wakes it to see *stopping. */
void bgpoll_stop(void);
#endif
