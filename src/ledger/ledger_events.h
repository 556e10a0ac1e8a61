/* ledger_events.h: the outbox (docs/api.md, "Events"). An event is a
 * row written in the transaction of the change that causes it, so a
 * change that rolls back leaves none; its id is taken from event_seq,
 * whose row stays locked to the commit, so ids increase in commit order.
 * Above the rows; below every operation that emits. Internal to the
 * ledger's files. */
#ifndef CREDITD_LEDGER_EVENTS_H
#define CREDITD_LEDGER_EVENTS_H
#include "ledger_clock.h"
#include "ledger_members.h"

/* Event types (docs/api.md, "Events"). */
#define EVENT_BALANCE_LOW "balance.low"
#define EVENT_BALANCE_DEPLETED "balance.depleted"
#define EVENT_LIMIT_REACHED "limit.reached"
#define EVENT_TOPUP_SUCCEEDED "topup.succeeded"
#define EVENT_TOPUP_REFUNDED "topup.refunded"
#define EVENT_PLAN_RENEWED "plan.renewed"
#define EVENT_PROMO_REDEEMED "promo.redeemed"
#define EVENT_AUTORECHARGE_SUCCEEDED "autorecharge.succeeded"
#define EVENT_AUTORECHARGE_FAILED "autorecharge.failed"
/* docs/decisions.md, "Sessions made elsewhere": a Checkout event creditd did
 * not credit (a session it never made, or one that disagrees with its
 * record), a dispute taking credit back and a won one giving it back, a
 * subscription Stripe reports unpaid. */
#define EVENT_TOPUP_MISMATCH "topup.mismatch"
#define EVENT_TOPUP_DISPUTED "topup.disputed"
#define EVENT_TOPUP_DISPUTE_WON "topup.dispute_won"
#define EVENT_PAYMENT_FAILED "payment.failed"
/* docs/pay-as-you-go.md: a month's debt collected from the card, a
 * try of it failed (the account suspended), and the suspension lifted
 * once the debt is paid. */
#define EVENT_PAYG_COLLECTED "payg.collected"
#define EVENT_PAYG_FAILED "payg.failed"
#define EVENT_PAYG_RECOVERED "payg.recovered"
/* docs/api.md, "Threshold alerts": an alert of the account's crossed
 * (ledger_alerts.h), once per crossing. */
#define EVENT_ALERT_THRESHOLD "alert.threshold"
/* A referred account's first credited top-up rewarded it and its referrer
 * (ledger_referrals.c): the referrer's event. */
#define EVENT_REFERRAL_REWARDED "referral.rewarded"

/* Appends an event of the account's (a NULL: of no account, shown with
 * "account": null), with data (a JSON object, whose reference this takes;
 * NULL: {}), in the running transaction. */
enum cd_err ledger_events_add(struct store *db, const struct acct *a, const char *type, json_t *data);

/* What a change of the account calls for: balance.low when its balance
 * after settles (holds excluded: money_alert_low) fell below the
 * account's low_balance_micros (else low_default, the configured
 * default: money_alert_low_threshold) and was not told for this
 * crossing; rising to the threshold again (money coming in) re-arms it.
 * Sets a->low_noted; returns the event's data or NULL. No I/O. */
json_t *ledger_events_notice_balance(int64_t low_default, struct acct *a);
/* What a refusal calls for: balance.depleted at the first 402 since
 * credit last came in; limit.reached at the first 429 of a month (monthly,
 * member_cap) or a day (daily). m: the member's row (member_cap), or NULL.
 * The month and the day are the clock's. Sets the account's (or
 * member's) note; returns the type and *data, or NULL when there is
 * nothing to tell. */
const char *ledger_events_notice_refusal(const struct ledger_clock *clock, struct acct *a, struct member_row *m,
					 enum refusal_why why, int64_t available, int64_t required, json_t **data);
/* Writes an alert.threshold of the account's for each data in fired (a
 * JSON array, ledger_alerts.h), in the running transaction (an
 * operation outside the guard's batches: theirs go with the batch's
 * write, ledger_alerts_batch.h). */
enum cd_err ledger_events_alerts(struct store *db, const struct acct *a, const json_t *fired);
/* Events written with an operation's change in one write (cd_write's
 * list "events": ledger_events_out_write), in their order: each its
 * type, its data (a reference held) and the place of a grant of the
 * same write whose id its data names as grant_id (sql/083; -1: none). */
#define LEDGER_EVENTS_OUT_MAX (4 + LIMIT_ALERTS)
struct ledger_events_out {
	int n;
	struct ledger_event_out {
		const char *type;
		json_t *data;
		int grant;
	} e[LEDGER_EVENTS_OUT_MAX];
};
/* Appends an event, taking data's reference; -1 (data freed) when data
 * is NULL (out of memory) or out is full. */
int ledger_events_out_add(struct ledger_events_out *out, const char *type, json_t *data, int grant);
/* Frees every data held; out empty again. */
void ledger_events_out_free(struct ledger_events_out *out);
/* out's events, of account a, as lw's list "events" (their data sorted
 * compact JSON, as ledger_events_add writes it): CD_E_INTERNAL when one
 * could not be made (the caller drops lw). */
struct store_write;
struct alert_load;
enum cd_err ledger_events_out_write(struct store_write *lw, const struct acct *a, const struct ledger_events_out *out);
/* ledger_events_acct_save for an operation that writes its change, the
 * notices and the account in one write its caller runs (a top-up's
 * credit, ledger_topups.c): balance.low, a debt paid (its suspension's
 * end and its collection's later try beside the writer, now) and the
 * threshold alerts (decided on al, ledger_alerts_load's before the
 * write), decided on a as the change left it, appended to out in
 * ledger_events_acct_save's order; the alerts' states and the account
 * added to lw. */
enum cd_err ledger_events_acct_add(struct store *db, struct store_write *lw, struct acct *a, struct alert_load *al,
				   struct ledger_events_out *out);
/* Stores the account (ledger_rows_acct_store) after writing what its change calls
 * for (ledger_events_notice_balance, its threshold alerts: ledger_alerts.h): how
 * every operation outside the guard's batches stores an account. */
enum cd_err ledger_events_acct_save(struct store *db, struct acct *a);
#endif
