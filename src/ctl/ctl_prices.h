/* ctl_prices.h: creditctl's price commands (list, import of a CSV or JSON
 * catalogue with its rise guard and dry run, history). Reads files and
 * prints; the ledger does the writing. */
#ifndef CREDITD_CTL_PRICES_H
#define CREDITD_CTL_PRICES_H
struct store;
struct cfg;
/* "price ..." with argv as creditctl got it (argv[1] is "price"): the
 * command's exit status (0, 1 failure, 2 usage). cfg names the gateway's
 * providers a provider's price may be for. */
int ctl_prices_command(struct store *db, const struct cfg *cfg, int argc, char **argv);
/* "price set MODEL [--provider NAME] FIELD=VALUE..." (ctl_price_set.c),
 * as ctl_prices_command. */
int ctl_price_set(struct store *db, const struct cfg *cfg, int argc, char **argv);
/* 1 when name is a provider of cfg's gateway ([provider NAME], openai,
 * anthropic); else 0, said on stderr with the names it knows. */
int ctl_price_set_provider_known(const struct cfg *cfg, const char *name);
#endif
