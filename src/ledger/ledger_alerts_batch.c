/* ledger_alerts_batch.c: a guard batch's accounts' threshold alerts
 * (see ledger_alerts_batch.h). */
#include "ledger_alerts_batch.h"
#include "ledger_alerts.h"
#include <assert.h>
#include <stdlib.h>

enum cd_err ledger_alerts_batch_notice(struct store *lg, struct batch *b, int acct, json_t *fired)
{
	const struct member_row *m[2 * BATCH_MAX];
	struct batch_acct *ba = &b->accts[acct];
	int nm = 0, ng = 0;
	if (ba->a.alert_count == 0 || (!ba->changed && !ba->touched))
		return CD_OK;
	/* An account with alerts is never kept (ledger_rowcache.c): its
	 * batch read it under its lock. */
	assert(!b->kept);
	for (int k = 0; k < b->nmembers; k++)
		if (b->members[k].acct == acct)
			m[nm++] = &b->members[k].m;
	struct spend_grant *g = malloc(((size_t)b->ngrants + 1) * sizeof(*g));
	if (g == NULL)
		return CD_E_INTERNAL;
	for (int k = 0; k < b->ngrants; k++)
		if (b->grants[k].acct == acct && !b->grants[k].is_new)
			g[ng++] = b->grants[k].g;
	enum cd_err rc = ledger_alerts_notice(lg, &ba->a, m, nm, g, ng, fired);
	free(g);
	return rc;
}
