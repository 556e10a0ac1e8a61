/* ctl_collect.h: creditctl collect (docs/pay-as-you-go.md, "creditctl collect"): the
 * month's collection now, for every account that owes or for one, or what
 * it would charge (--dry-run). The ledger queues each collection; this
 * sends it at once through the same sender as the daemon's and prints what
 * Stripe answered. */
#ifndef CREDITD_CTL_COLLECT_H
#define CREDITD_CTL_COLLECT_H
#include "config.h"
struct store;
/* "collect ..." with argv as creditctl got it (argv[1] is "collect"): the
 * command's exit status (0; 1 a charge declined or failed, or an unknown
 * account; 2 usage). */
int ctl_collect(struct store *db, const struct cfg *cfg, int argc, char **argv);
#endif
