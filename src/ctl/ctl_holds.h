/* ctl_holds.h: creditctl hold resolve: the operator's word on a gateway
 * call's hold left unresolved (its provider may have run the call and
 * never answered: docs/gateway.md, "When a provider may already be
 * working"; docs/creditctl.md). */
#ifndef CREDITD_CTL_HOLDS_H
#define CREDITD_CTL_HOLDS_H
struct store;
/* "hold" with argv as creditctl got it (argv[1] is "hold"):
 *   hold resolve HOLD_ID charge [--micros N] | release
 * Prints the hold's end as JSON. Exit status: 0 resolved; 1 no such hold,
 * a hold that is not unresolved (nothing changed, its status said on
 * stderr), or a failure; 2 usage. */
int ctl_holds(struct store *db, int argc, char **argv);
#endif
