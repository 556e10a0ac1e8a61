/* ctl_sweep.h: creditctl sweep: the daemon's background work, once
 * through, for a host where no creditd stays up between requests (shared
 * hosting under mod_fcgid: docs/shared-hosting.md) and cron runs it: the
 * ledger's passes (holds and grants come due, retention, pay-as-you-go
 * collections queued, stale top-ups expired), then the off-session charges
 * due (when Stripe is configured), then the events due (when [notify] url
 * is set), each until nothing is due or LIMIT_SWEEP_RUN_SECONDS have
 * passed. The same code as creditd's threads (src/jobs/), so a creditd
 * running at the same time does no harm: each takes what it sends under a
 * lease. One run at a time on a database: a run that finds another still
 * going leaves the work to it. */
#ifndef CREDITD_CTL_SWEEP_H
#define CREDITD_CTL_SWEEP_H
#include "config.h"
struct store;
/* "sweep" with argv as creditctl got it (argv[1] is "sweep"). Prints one
 * line on stdout (what it did, ending "done", "unfinished" when time ran
 * out with work left, or "failed"; or that another run holds the lock and
 * nothing was done); warnings and failures go to stderr. The command's
 * exit status: 0 every pass ran (an event or charge refused is tried again
 * later, said on stderr), or another run had the work; 1 a pass could not
 * run, or the database failed on a charge (the database, memory); 2 usage. */
int ctl_sweep(struct store *db, const struct cfg *cfg, int argc, char **argv);
#endif
