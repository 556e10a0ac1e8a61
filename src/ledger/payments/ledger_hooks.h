/* ledger_hooks.h: what the Stripe webhook's effects share
 * (docs/api.md, "POST /v1/webhooks/stripe"). ledger_news_apply.c claims an
 * event id and dispatches the event to one of these, in the same transaction;
 * ledger_topups.c owns Checkout top-ups, ledger_disputes.c disputes and
 * suspensions. Each effect sets outcome (a sentence for the log and the
 * answer) and the account it changed. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_HOOKS_H
#define CREDITD_LEDGER_HOOKS_H
#include "ledger_funded.h"
#include "ledger_due.h"

struct ledger_news;

struct hook_run {
	const struct ledger_news *ev;
	const char *outcome;
	int64_t account_id;		/* the account the event changed, kept on its stripe_events row; 0: none */
};

/* cents × stripe.topup_rate; -1 when cents is not positive; above
 * LIMIT_AMOUNT_MICROS_MAX (that plus one) when the product is: no single
 * grant may be (docs/api.md, "Money stays in range"), and the caller credits nothing then. */
int64_t ledger_topups_cents_to_micros(const struct store *db, int64_t cents);

/* checkout.session.completed / async_payment_succeeded (ledger_topups.c). */
enum cd_err ledger_topups_checkout_paid(struct store *db, struct hook_run *h);
/* charge.succeeded / charge.updated: the receipt_url of a top-up's charge;
 * invoice.paid / invoice.finalized of no subscription: the invoice URLs of
 * a top-up's invoice (ledger_topups.c). Unknown ones change nothing. */
enum cd_err ledger_topups_receipt(struct store *db, struct hook_run *h);
enum cd_err ledger_topups_invoice(struct store *db, struct hook_run *h);

/* charge.dispute.created / closed (ledger_disputes.c). */
enum cd_err ledger_disputes_created(struct store *db, struct hook_run *h);
enum cd_err ledger_disputes_closed(struct store *db, struct hook_run *h);
/* A refund of f (its account and row locked) that found the credit taken
 * back by open disputes already: up to micros of what they hold becomes
 * the refund's (their taken_micros lowered, oldest first), so that a
 * dispute won later gives back only what it still holds. *moved: how
 * much; the caller moves it from f's disputed to its refunded micros. No
 * journal row: the credit was taken already. */
enum cd_err ledger_disputes_yield(struct store *db, const struct funded *f, int64_t micros, int64_t *moved);
/* The credit f of payment_intent was just made on locked account a: the
 * disputes that came before it and waited (ledger_disputes.c) are
 * applied now, an open or lost one taking its share back as its event
 * would have, a won or closed one only attached. f's figures are read
 * again (its row locked) when one waited. */
enum cd_err ledger_disputes_apply_waiting(struct store *db, struct acct *a, struct funded *f, const char *payment_intent);
/* The same in two steps, for a credit that loads its rows before it
 * writes (a top-up's, ledger_topups.c): the disputes of payment_intent
 * that waited (locked, the payment met first: ledger_funded_meet; none
 * read without a payment intent), then, once the credit f is written,
 * those applied. */
struct dispute_waiting {
	char id[LIMIT_STRIPE_ID_BYTES + 1], charge[LIMIT_STRIPE_ID_BYTES + 1], currency[16];	/* Stripe ids */
	int64_t cents;
	int take;		/* open or lost: the credit is taken back */
};
struct disputes_waiting {
	int n;
	struct dispute_waiting w[LIMIT_DISPUTES_PER_PAYMENT];
};
enum cd_err ledger_disputes_waiting(struct store *db, const char *payment_intent, struct disputes_waiting *w);
enum cd_err ledger_disputes_apply_read(struct store *db, struct acct *a, struct funded *f, const char *payment_intent,
				       const struct disputes_waiting *w);
/* A subscription's change from previous_status (NULL: new to creditd) to
 * the event's status: payment.failed on entering past_due or unpaid, and
 * the suspension stripe.suspend_when_unpaid asks for. a is locked. */
enum cd_err ledger_disputes_subscription_unpaid(struct store *db, struct acct *a, const struct ledger_news *ev,
				     const char *previous_status);
/* Suspends the locked account for reason (dispute, payment_failed). An
 * active account becomes suspended with that reason; a suspended one keeps
 * an admin's reason (manual), else takes this one; a closed one stays
 * closed. */
enum cd_err ledger_disputes_suspend_for(struct store *db, struct acct *a, const char *reason);
/* docs/api.md, "POST /v1/webhooks/stripe": no collection or auto-recharge is
 * sent while the account is suspended for a dispute or has one open (whatever
 * suspend_on_dispute says, and under an admin's suspension too: the card is
 * disputed). The SQL condition on an account row aliased `a`, for a
 * statement's WHERE or select list; and the same for a locked account in
 * *open. */
#define DISPUTE_OPEN_SQL "(a.status_reason <=> 'dispute' OR EXISTS (SELECT 1 FROM disputes d " \
	"WHERE d.account_id = a.id AND d.state = 'open'))"
enum cd_err ledger_disputes_open_on(struct store *db, const struct acct *a, int *open);

/* charge.refunded (ledger_news_apply.c). */
enum cd_err ledger_refunds_charge_refunded(struct store *db, struct hook_run *h);
/* The payment of a subscription invoice, when invoice.paid names none (API
 * 2025-03-31 on; ledger_invoice_pay.c, migration 033). invoice_payment.paid: */
enum cd_err ledger_invoice_pay_paid(struct store *db, struct hook_run *h);
/* For invoice.paid: the payment its invoice_payment.paid named, under the
 * lock of the invoice's payment row (made empty when there is none), if
 * it paid this invoice (its currency and amount the invoice's); pi and
 * charge "" otherwise. */
enum cd_err ledger_invoice_pay_payment_of(struct store *db, const struct ledger_news *ev, char *pi, char *charge,
				    size_t cap);
/* charge.refunded of a payment no credit knows yet: kept (refunds_waiting)
 * for the credit its payment may still name. */
enum cd_err ledger_refunds_keep(struct store *db, struct hook_run *h);
/* The refunds kept for the payment invoice's credit now names, applied as
 * their events would have been (each locks and saves the account). */
enum cd_err ledger_refunds_waiting_apply(struct store *db, struct hook_run *h, const char *invoice);
/* The same for the payment intent payment_intent, which a top-up's or an
 * auto-recharge's credit has just named. */
enum cd_err ledger_refunds_waiting_apply_pi(struct store *db, struct hook_run *h, const char *payment_intent);
#endif
