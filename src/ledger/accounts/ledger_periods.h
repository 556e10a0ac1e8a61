/* ledger_periods.h: a plan's credits per period
 * (docs/api.md, "Plan credits per period"). The period is the calendar month,
 * UTC; an account on a plan holds one plan credit per period, made by
 * whichever comes first: the plan being set, the first opening of the account
 * in the period (a request or the background sweep), or the subscription's
 * invoice.paid. The row of plan_periods keyed by (account, period) makes it
 * once. Above the rows (it adds grants); below the account-open step, which
 * renews. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_PERIODS_H
#define CREDITD_LEDGER_PERIODS_H
#include "ledger_rows.h"

/* Why a period's credit is being settled: the journal key it records. */
enum period_why {
	PERIOD_RENEWAL,		/* a new month opened the account: "period:<key>" */
	PERIOD_PLAN_SET,	/* the plan was set or changed: the request's key */
	PERIOD_INVOICE,		/* a subscription invoice was paid: the event's key */
};

/* An account on a plan is due for the background sweep when its period
 * ends, so the thread renews it even if no request comes: lowers
 * a->sweep_due_at to the end of this month when it has a plan. */
void ledger_periods_sweep_due(const struct store *db, struct acct *a);
/* Settles the account's plan credit for the period holding `at`, under
 * plan `plan` (on a locked account): the first time, the plan's credits
 * plus what the rollover rule carries from the period before; later, the
 * difference when plan gives more than was credited (an upgrade), and
 * nothing otherwise (a downgrade waits for the next period). A name that
 * is not in the catalogue credits nothing. *granted (may be NULL): micros
 * credited now. */
enum cd_err ledger_periods_credit(struct store *db, struct acct *a, const char *plan, int64_t at, enum period_why why,
			  int64_t *granted);
/* The catalogued plan a Stripe label means, into name (LEDGER_NAME_MAX +
 * 1 bytes): the plan whose stripe_price_ids holds it (a price id), else
 * the plan of that name (metadata.plan); "" when none. */
enum cd_err ledger_periods_plan_of(struct store *db, const char *label, char *name);
/* The reference of a rollover grant: then the key of the period it came
 * from. A space, which no plan name has, keeps it apart from a credit's
 * "<plan>:<period>" (creditctl verify tells them apart by it). */
#define PERIOD_ROLLOVER_REF "rollover from "
#endif
