/* money_topup.h: the money rule of a Checkout top-up's credit
 * (docs/api.md, "POST /v1/webhooks/stripe"; docs/architecture.md, "How
 * far each operation is from one shape"), decided in pure C over the rows the ledger loaded
 * under the account's lock (ledger_topups.c): the top-up's record, the
 * account's balance and its debt row, and what the signed event says.
 * Whether the event credits, waits, repeats a credit or disagrees with
 * the record; what it credits (the credit quoted when the top-up
 * started, or amount_cents at today's rate for a row made before quotes
 * were kept); and the grant it makes (the debt repaid first). No I/O, no
 * clock but the one passed in, no allocation;
 * tests/unit/money/test_money_topup.c tests it without a database. */
#ifndef CREDITD_MONEY_TOPUP_H
#define CREDITD_MONEY_TOPUP_H
#include "money_rule.h"
#include <stdint.h>

/* cents x rate (rate >= 1); -1 when cents is not positive; the largest
 * grant plus one (LIMIT_AMOUNT_MICROS_MAX + 1) when the product passes
 * it: no single grant may (docs/api.md, "Money stays in range"), and
 * nothing is credited. */
int64_t money_topup_micros(int64_t cents, int64_t rate);

/* What the event says that disagrees with the record, one bit a field,
 * in the order topup.mismatch names them. */
enum money_topup_field {
	MONEY_TOPUP_METADATA_TYPE = 1 << 0,
	MONEY_TOPUP_MODE = 1 << 1,
	MONEY_TOPUP_ACCOUNT = 1 << 2,
	MONEY_TOPUP_AMOUNT_CENTS = 1 << 3,
	MONEY_TOPUP_CURRENCY = 1 << 4,
	MONEY_TOPUP_PAYMENT_STATUS = 1 << 5,
};
#define MONEY_TOPUP_FIELDS 6

/* The record (its row locked) and its account (locked), beside the event. */
struct money_topup_case {
	int credited;			/* the record's status is 'credited' already */
	int expired;			/* the record's status is 'expired' (the sweeper's) */
	const char *account;		/* the record's account's external id */
	int64_t amount_cents;		/* the record's */
	const char *currency;		/* the record's */
	int64_t quoted_micros;		/* the credit quoted when it started; -1: a row made before 028 */
	int64_t rate;			/* stripe.topup_rate now (>= 1): for a row without a quote */
	int64_t balance;		/* the account's, locked */
	int64_t debt;			/* what its debt row owes (>= 0; 0: none or not read, balance >= 0) */
	/* The event: "" for a field it does not carry. */
	int completed;			/* checkout.session.completed (else async_payment_succeeded) */
	const char *ev_account, *ev_metadata_type, *ev_mode, *ev_currency, *ev_payment_status;
	int64_t ev_amount_cents;	/* -1: not carried */
};

enum money_topup_outcome {
	MONEY_TOPUP_DUPLICATE,		/* credited already: nothing moves */
	MONEY_TOPUP_MISMATCH,		/* disagrees (fields): topup.mismatch, nothing moves */
	MONEY_TOPUP_AWAITING,		/* completed, unpaid: an async payment may follow */
	MONEY_TOPUP_CREDIT,		/* credit micros: the grant below */
	MONEY_TOPUP_BALANCE_CAP,	/* would credit, but the balance would pass the range: refused */
};

struct money_topup_effect {
	enum money_topup_outcome outcome;
	unsigned fields;		/* MISMATCH: enum money_topup_field bits */
	int64_t micros;			/* CREDIT: the grant's amount */
	struct grant_effect grant;	/* CREDIT: the debt repaid, the grant's remaining, the balance after */
	int late;			/* CREDIT of a record the sweeper marked expired (paid after it) */
};

/* The event's effect on the record: a record credited already repeats
 * nothing; an event that disagrees with it (payment_status checked
 * unless the completed session is unpaid) credits nothing; a completed
 * unpaid session waits; else the record's credit (a quote past the
 * largest grant is a mismatch of amount_cents), repaying the debt first. */
void money_topup_credit(const struct money_topup_case *c, struct money_topup_effect *e);

#endif
