/* sweep.c: the background work's ledger pass (see sweep.h). It only
 * drives the ledger's own sweeps, in the order the background thread has
 * always run them, and says what they did: the work and its limits are
 * the ledger's. */
#include "sweep.h"
#include "ledger.h"
#include "limits.h"
#include "log.h"

enum cd_err sweep_pass(struct store *db, struct sweep_counts *counts, int *more)
{
	int swept = 0, queued = 0, looked = 0, expired = 0, rewarded = 0;
	enum cd_err rc = ledger_sweep(db, LIMIT_SWEEP_ACCOUNTS, &swept);
	if (swept > 0)
		log_info("swept %d accounts with due holds or grants", swept);
	enum cd_err next = ledger_payg_sweep(db, LIMIT_PAYG_SCAN, &queued, &looked);
	if (queued > 0)
		log_info("%d pay-as-you-go collections queued", queued);
	rc = rc != CD_OK ? rc : next;
	next = ledger_topups_expire(db, &expired);
	if (expired > 0)
		log_info("%d top-ups pending for a day marked expired", expired);
	rc = rc != CD_OK ? rc : next;
	next = ledger_referrals_due(db, &rewarded);
	if (rewarded > 0)
		log_info("%d referral rewards granted after their hold", rewarded);
	rc = rc != CD_OK ? rc : next;
	counts->accounts += swept;
	counts->collections += queued;
	counts->topups_expired += expired;
	*more = swept >= LIMIT_SWEEP_ACCOUNTS || looked >= LIMIT_PAYG_SCAN || expired >= LIMIT_TOPUP_EXPIRE_BATCH ||
		rewarded >= LIMIT_REFERRAL_DUE_BATCH;
	return rc;
}
