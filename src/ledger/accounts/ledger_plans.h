/* ledger_plans.h: the plan catalogue, as the account operations see it.
 * Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_PLANS_H
#define CREDITD_LEDGER_PLANS_H
#include "ledger_due.h"

/* CD_OK when name (NULL: no plan) is in the catalogue; otherwise the
 * refusal REFUSE_PLAN_UNKNOWN (400, param plan). */
enum cd_err ledger_plans_check(struct store *db, const char *name);
#endif
