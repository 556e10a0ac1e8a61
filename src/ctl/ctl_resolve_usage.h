/* ctl_resolve_usage.h: creditctl hold resolve --from-usage FILE...
 * (docs/reconciliation.md, "Unresolved holds"): the unresolved gateway
 * holds judged from the providers' per-minute usage reports and resolved
 * through the ledger's one resolve operation. */
#ifndef CREDITD_CTL_RESOLVE_USAGE_H
#define CREDITD_CTL_RESOLVE_USAGE_H
struct store;
/* "hold resolve --from-usage FILE... [--format openai|anthropic|csv]
 * [--dry-run] [--json]", argv as creditctl got it: 0 done (holds the
 * report does not cover left as they are), 1 the ledger failed or a
 * hold's resolution was refused (said), 2 bad input or usage (nothing
 * read from the ledger, nothing written). */
int ctl_resolve_usage(struct store *db, int argc, char **argv);
#endif
