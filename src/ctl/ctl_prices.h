/* ctl_prices.h: creditctl's price commands (list, import of a CSV or JSON
 * catalogue with its rise guard and dry run, history). Reads files and
 * prints; the ledger does the writing. */
#ifndef CREDITD_CTL_PRICES_H
#define CREDITD_CTL_PRICES_H
struct store;
/* "price ..." with argv as creditctl got it (argv[1] is "price"): the
 * command's exit status (0, 1 failure, 2 usage). */
int ctl_prices_command(struct store *db, int argc, char **argv);
/* "price set MODEL FIELD=VALUE..." (ctl_price_set.c), as ctl_prices_command. */
int ctl_price_set(struct store *db, int argc, char **argv);
#endif
