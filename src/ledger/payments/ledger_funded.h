/* ledger_funded.h: a Stripe-funded credit (docs/api.md, "POST /v1/webhooks/stripe"): a Checkout
 * top-up (a topups row), an auto-recharge (a recharges row) or a paid
 * subscription invoice (an invoice_credits row), each credited once from
 * one payment intent. Refunds (ledger_news_apply.c) and disputes
 * (ledger_disputes.c) take back and give back the credit of either
 * through this, the same way: found by payment intent or charge, locked
 * after its account, its refunded and disputed figures changed in place.
 * Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_FUNDED_H
#define CREDITD_LEDGER_FUNDED_H
#include "ledger_due.h"

enum funded_kind {
	FUNDED_TOPUP,		/* topups: a Checkout session creditd made */
	FUNDED_RECHARGE,	/* recharges: an off-session auto-recharge */
	FUNDED_INVOICE		/* invoice_credits: a paid subscription invoice */
};
#define FUNDED_KINDS 3

struct funded {
	enum funded_kind kind;
	int64_t id, account_id;
	/* Read by ledger_funded_lock: */
	int64_t credited, refunded, disputed;	/* micros */
	int64_t refunded_cents;			/* Stripe's cumulative amount_refunded seen */
	int64_t amount_cents, paid_cents;	/* paid_cents -1 when unknown */
	char currency[16];
	char charge_id[256];			/* the charge id kept on the row; "": none yet */
	uint64_t locked_tx;			/* the transaction that locked the row (store's tx_serial) */
};

/* &f->id when f is of kind, else NULL: the one of a dispute row's
 * topup_id, recharge_id and invoice_credit_id that names f. */
static inline const int64_t *funded_id_as(const struct funded *f, enum funded_kind kind)
{
	return f->kind == kind ? &f->id : NULL;
}
/* Finds the credited top-up or succeeded recharge of a payment intent,
 * else of a charge id ("" matches nothing): kind, id and account_id, read
 * without a lock. CD_E_NOT_FOUND: no credit of creditd's. */
enum cd_err ledger_funded_find(struct store *db, const char *payment_intent, const char *charge, struct funded *f);
/* Locks f's row (the caller holds its account's lock) and reads its
 * figures into f. */
enum cd_err ledger_funded_lock(struct store *db, struct funded *f);
/* On f's row, locked by ledger_funded_lock in this transaction:
 * refunded_cents raised to at least refunded_cents, refunded_micros and
 * disputed_micros moved by the (signed) amounts, and the charge id kept
 * when none was known (charge NULL or "": none), decided in C on the
 * figures read and written as they are. The figures in f follow. */
enum cd_err ledger_funded_change(struct store *db, struct funded *f, int64_t refunded_cents, int64_t refunded_micros,
			  int64_t disputed_micros, const char *charge);
/* Writes the payment intent's row of payments_met (sql/054): a credit
 * before it reads the disputes and refunds kept for its payment, a keep
 * before it reads whether the payment is credited now. On Galera two
 * such transactions at once then conflict at certification instead of
 * missing each other. */
enum cd_err ledger_funded_meet(struct store *db, const char *payment_intent);
/* *found: 1 when a credit of the payment intent exists now, read with
 * locks (it waits for a credit being written), so that a dispute kept
 * for later cannot miss a credit committed meanwhile. */
enum cd_err ledger_funded_credited_now(struct store *db, const char *payment_intent, int *found);
#endif
