/* ctl_reconcile.h: creditctl reconcile (DESIGN §10): the provider's usage
 * report beside creditd's usage records, per UTC day × model. Reads files
 * and the ledger, prints; never writes. */
#ifndef CREDITD_CTL_RECONCILE_H
#define CREDITD_CTL_RECONCILE_H
struct store;
/* "reconcile FILE... [options]" with argv as creditctl got it: 0 every
 * row within the tolerance, 1 a row outside it (or the ledger failed), 2
 * bad input or usage (said on stderr, nothing printed on stdout). */
int ctl_reconcile(struct store *lg, int argc, char **argv);
/* "price alias PROVIDER_NAME MODEL": 0, 1 failure, 2 usage. */
int ctl_reconcile_price_alias(struct store *lg, int argc, char **argv);
#endif
