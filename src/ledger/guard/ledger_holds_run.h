/* ledger_holds_run.h: one batch of the guard's operations run as one
 * transaction (ledger_holds_run.c), the work ledger_holds.c's combiners
 * hand a waiting worker. */
#ifndef CREDITD_LEDGER_HOLDS_RUN_H
#define CREDITD_LEDGER_HOLDS_RUN_H

struct store;
struct combine_op;

/* Runs links[0..n) (each a struct guard_op's link, queued on one node)
 * as one batch on db's connection, retried whole, and answers each
 * operation (its op->rc and op->res); an error of one operation's own
 * runs that one apart and the others again as batches. db's route is
 * as it was on return. */
void ledger_holds_run(struct store *db, struct combine_op **links, int n);

#endif
