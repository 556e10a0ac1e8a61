/* ctl_reconcile_store.c: creditctl reconcile's figures stored (see
 * ctl_reconcile_store.h). Every figure the report gives (those it does
 * not give are neither compared nor stored), and the money: creditd's
 * charge beside what it should have charged for the provider's figures
 * (dimension charged_micros, where reconcile could price them). A figure
 * both sides have as 0 is no drift and is not stored. The ledger replaces
 * the period's rows of the provider in one transaction
 * (ledger_drift_store). */
#include "ctl_reconcile_store.h"
#include "ctl_common.h"
#include "ctl_reconcile_rows.h"
#include <stdlib.h>
#include <string.h>

int ctl_reconcile_store_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n >= 1 && n <= 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

const char *ctl_reconcile_store_provider(const struct recon *r, unsigned int formats)
{
	if (r->provider != NULL)
		return r->provider;
	if (formats == 1u << RECON_OPENAI)
		return "openai";
	if (formats == 1u << RECON_ANTHROPIC)
		return "anthropic";
	return formats == 1u << RECON_CSV || formats == 0 ? "csv" : "mixed";
}

static void add(struct ledger_drift_row *out, size_t *n, const struct recon_row *w, const char *dim, int64_t p,
		int64_t c)
{
	if (p == 0 && c == 0)
		return;
	out[*n] = (struct ledger_drift_row){w->day, w->model, dim, p, c};
	(*n)++;
}

int ctl_reconcile_store(struct store *db, const struct recon *r, unsigned int formats)
{
	struct ledger_drift_row *rows = calloc(r->n * (F_COUNT + 1) + 1, sizeof(*rows));
	size_t n = 0;
	if (rows == NULL)
		return ctl_common_fail(db, CD_E_INTERNAL, "reconcile: store");
	for (size_t i = 0; i < r->n; i++) {
		const struct recon_row *w = &r->rows[i];
		for (int f = 0; f < F_COUNT; f++)
			if (ctl_reconcile_rows_reported(w, f))
				add(rows, &n, w, ctl_reconcile_rows_fields[f], w->provider[f], w->creditd[f]);
		if (w->expected_micros >= 0)
			add(rows, &n, w, "charged_micros", w->expected_micros, w->charged_micros);
	}
	enum cd_err rc = ledger_drift_store(db, ctl_reconcile_store_provider(r, formats), r->from, r->to, rows, n);
	free(rows);
	return rc == CD_OK ? 0 : ctl_common_fail(db, rc, "reconcile: store");
}
