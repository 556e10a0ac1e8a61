/* ledger_events.h: the outbox (DESIGN §9 "Notifications"). An event is a
 * row written in the transaction of the change that causes it, so a
 * change that rolls back leaves none; its id is taken from event_seq,
 * whose row stays locked to the commit, so ids increase in commit order.
 * Above the rows; below every operation that emits. Internal to the
 * ledger's files. */
#ifndef CREDITD_LEDGER_EVENTS_H
#define CREDITD_LEDGER_EVENTS_H
#include "ledger_rows.h"

/* Event types (DESIGN §9). */
#define EVENT_BALANCE_LOW "balance.low"
#define EVENT_BALANCE_DEPLETED "balance.depleted"
#define EVENT_LIMIT_REACHED "limit.reached"
#define EVENT_TOPUP_SUCCEEDED "topup.succeeded"
#define EVENT_TOPUP_REFUNDED "topup.refunded"
#define EVENT_PLAN_RENEWED "plan.renewed"
#define EVENT_PROMO_REDEEMED "promo.redeemed"

/* Appends an event of the account's, with data (a JSON object, whose
 * reference this takes; NULL: {}), in the running transaction. */
enum cd_err event_add(struct ledger *lg, const struct acct *a, const char *type, json_t *data);
#endif
