/* ctl_reconcile_store.h: creditctl reconcile's one write (docs/reconciliation.md,
 * "What is stored"): the figures it compared, replacing its period's
 * rows of its provider (sql/077), for GET /v1/reconcile and the console. */
#ifndef CREDITD_CTL_RECONCILE_STORE_H
#define CREDITD_CTL_RECONCILE_STORE_H
struct store;
struct recon;
/* 1 when name may name a provider (--provider): 1 to 64 of a-z, 0-9, '.', '_', '-'. */
int ctl_reconcile_store_name_ok(const char *name);
/* The provider a run is stored under: --provider, else the reports'
 * format (formats: 1 << each enum recon_format read): openai, anthropic,
 * csv, or mixed. */
const char *ctl_reconcile_store_provider(const struct recon *r, unsigned int formats);
/* Stores what r compared: 0, or 1 after saying what failed. */
int ctl_reconcile_store(struct store *db, const struct recon *r, unsigned int formats);
#endif
