/* ctl_reconcile.h: creditctl reconcile (docs/reconciliation.md): the provider's usage
 * report beside creditd's usage records, per UTC day × model. Reads files
 * and the ledger, prints; never writes. */
#ifndef CREDITD_CTL_RECONCILE_H
#define CREDITD_CTL_RECONCILE_H
struct store;
#include <stddef.h>
/* "reconcile FILE... [options]" with argv as creditctl got it: 0 every
 * row within the tolerance, 1 a row outside it (or the ledger failed), 2
 * bad input or usage (said on stderr, nothing printed on stdout). */
int ctl_reconcile(struct store *db, int argc, char **argv);
/* The creditd model a provider's model name stands for (the same name
 * priced, an alias, or an OpenAI dated snapshot "-YYYY-MM-DD" of a priced
 * name): 1 with out set, or 0. Needs the price cache loaded. */
struct ledger_price_alias;
int ctl_reconcile_map_model(const char *name, const struct ledger_price_alias *aliases, int naliases, char *out,
			    size_t cap);
/* "price alias PROVIDER_NAME MODEL": 0, 1 failure, 2 usage. */
int ctl_reconcile_price_alias(struct store *db, int argc, char **argv);
#endif
