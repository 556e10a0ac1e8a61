/* ledger_payg.h: pay-as-you-go collection (docs/pay-as-you-go.md),
 * the ledger's side: which accounts owe for a month, the collection's
 * row, and its end on the locked account (credited once, or failed with
 * the account suspended and a later try). Used by the sender's record of
 * what Stripe answered (ledger_charges.c) and by the Stripe webhook
 * (ledger_news_apply.c). Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_PAYG_H
#define CREDITD_LEDGER_PAYG_H
#include "ledger_due.h"
#include "ledger_payg_tries.h"

/* Tries of one period's collection: the first, then a day after a
 * decline, then two days after that (docs/pay-as-you-go.md, "When the card is refused"). */
#define PAYG_TRIES 3

/* The month before the one `now` falls in (UTC), as YYYYMM: the period a
 * collection made at `now` collects. */
int64_t ledger_payg_period_before(int64_t now);
/* A period YYYYMM as "YYYY-MM", into PAYG_PERIOD_BYTES (room for any
 * int64_t, so a compiler never sees it cut). */
#define PAYG_PERIOD_BYTES 48
void ledger_payg_period_text(int64_t period, char *out, size_t size);
/* "YYYY-MM" back to YYYYMM; -1 when it is not one. */
int64_t ledger_payg_period_parse(const char *text);
/* What a collection of a balance asks for now: the debt in whole cents
 * at the top-up rate, rounded up; 0 when that is less than Stripe
 * charges (LIMIT_PAYG_MIN_CENTS) or nothing is owed. */
int64_t ledger_payg_debt_cents(const struct store *db, int64_t balance);
/* A collection about to be sent (r, claimed by the sender, its account's
 * balance now) is ended instead when nothing is owed any more (*send 0).
 * Its amount never changes once queued: a try may be sent again with its
 * Idempotency-Key, which Stripe accepts only with the same parameters. */
enum cd_err ledger_payg_before_send(struct store *db, struct ledger_recharge *r, int64_t balance, int *send);
/* The id of a's collection for period (0: none). */
enum cd_err ledger_payg_find(struct store *db, const struct acct *a, int64_t period, int64_t *id);
/* Credits collection id of a (cents paid, payment intent pi) unless it was
 * credited already (*credited 0): a grant of source 'payment', which repays
 * the debt first, and payg.collected (*credited 1). Whichever try pi is (an
 * earlier one's late success included) credits it, once; the collection's
 * other tries still open are then marked to be cancelled at Stripe, and no
 * further try is sent (docs/pay-as-you-go.md, "When the card is refused"). A
 * payment that is none of the collection's tries, or not the amount its try
 * asked for, credits nothing (*credited -1, logged). */
enum cd_err ledger_payg_credit(struct store *db, struct acct *a, int64_t id, const char *pi, int64_t cents,
			int *credited);
/* Fails the current try of collection id of a with error, unless it
 * ended already or pi names another try's payment (*failed 0): the
 * account suspended for payment_failed, payg.failed, and the next try
 * queued (none after PAYG_TRIES). */
enum cd_err ledger_payg_fail(struct store *db, struct acct *a, int64_t id, const char *pi, const char *error,
		      int *failed);

#endif
