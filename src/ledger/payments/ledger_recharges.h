/* ledger_recharges.h: an auto-recharge's end, on its locked account
 * (docs/api.md, "Auto-recharge"): credited once when its payment succeeded,
 * or failed (counted; two failures in a row switch auto-recharge off).
 * Used by the Stripe webhook (ledger_news_apply.c) and by the sender's record
 * of what Stripe answered (ledger_recharge_result). Internal to the
 * ledger's files. */
#ifndef CREDITD_LEDGER_RECHARGES_H
#define CREDITD_LEDGER_RECHARGES_H
#include "ledger_due.h"

/* Failures in a row that switch auto-recharge off. */
#define RECHARGE_FAILURES_OFF 2

/* Credits recharge id of a (cents paid, payment intent pi) unless it was
 * credited already (*credited 0); a top-up grant, the recharge succeeded,
 * none in flight, the failure count cleared, autorecharge.succeeded
 * (*credited 1). Cents at the top-up rate above LIMIT_AMOUNT_MICROS_MAX
 * credit nothing and leave the recharge as it was (*credited -1, logged). */
enum cd_err ledger_recharges_credit(struct store *db, struct acct *a, int64_t id, const char *pi, int64_t cents,
			    int *credited);
/* Fails recharge id of a with error, unless it ended already (*failed 0):
 * the failure counted, none in flight, auto-recharge switched off at
 * RECHARGE_FAILURES_OFF in a row, autorecharge.failed (saying so). */
enum cd_err ledger_recharges_fail(struct store *db, struct acct *a, int64_t id, const char *error, int *failed);
/* Ends queued auto-recharge id of locked account a unsent when a dispute is
 * open on the account (docs/api.md, "POST /v1/webhooks/stripe"): failed with
 * that reason, none in flight, autorecharge.failed; not counted as a card
 * failure. Nothing when it was sent or the dispute closed meanwhile. */
enum cd_err ledger_recharges_hold_for_dispute(struct store *db, struct acct *a, int64_t id);
/* error cut to fit recharges.error (never half a UTF-8 character). */
void ledger_recharges_error_cut(char out[LIMIT_RECHARGE_ERROR_BYTES + 1], const char *error);
/* Auto-recharge turned off or set again on locked account a: recharges
 * still queued are not sent (failed, without counting), and a->
 * recharge_pending says whether one is still with Stripe. */
enum cd_err ledger_recharges_switch_off(struct store *db, struct acct *a);
#endif
