/* ledger_news.h: the news of a payment the ledger acts on (a Checkout
 * paid, a refund, a dispute, an invoice, a subscription's change, a
 * PaymentIntent's outcome, a receipt), in the ledger's own terms: the
 * payment provider's layer above (src/stripe: its webhooks, verified and
 * parsed) fills one and hands it to ledger_news_apply (ledger.h). The
 * ledger includes nothing of Stripe's. */
#ifndef CREDITD_LEDGER_NEWS_H
#define CREDITD_LEDGER_NEWS_H
#include <stdint.h>
#include "limits.h"

enum ledger_news_kind {
	LEDGER_NEWS_IGNORED = 0,
	LEDGER_NEWS_CHECKOUT_COMPLETED,		/* checkout.session.completed */
	LEDGER_NEWS_CHECKOUT_ASYNC_SUCCEEDED,	/* checkout.session.async_payment_succeeded */
	LEDGER_NEWS_CHARGE_REFUNDED,		/* charge.refunded */
	LEDGER_NEWS_INVOICE_PAID,			/* invoice.paid */
	LEDGER_NEWS_SUBSCRIPTION_UPDATED,		/* customer.subscription.updated */
	LEDGER_NEWS_SUBSCRIPTION_DELETED,		/* customer.subscription.deleted */
	LEDGER_NEWS_PAYMENT_SUCCEEDED,		/* payment_intent.succeeded */
	LEDGER_NEWS_PAYMENT_FAILED,			/* payment_intent.payment_failed */
	LEDGER_NEWS_DISPUTE_CREATED,		/* charge.dispute.created */
	LEDGER_NEWS_DISPUTE_CLOSED,			/* charge.dispute.closed */
	LEDGER_NEWS_CHARGE_RECEIPT,			/* charge.succeeded, charge.updated */
	LEDGER_NEWS_INVOICE_FINALIZED,		/* invoice.finalized (invoice.paid is LEDGER_NEWS_INVOICE_PAID) */
	LEDGER_NEWS_INVOICE_PAYMENT_PAID		/* invoice_payment.paid (API 2025-03-31 on) */
};

/* Each string field is sized by what it must match or is kept in: Stripe
 * ids by their VARCHAR(255) columns, the account id and the plan by the
 * API's limits (the accounts' columns), the type and the subscription
 * status by stripe_events.type and subscriptions.status. A value from
 * Stripe longer than its field is refused, never cut: the parse fails
 * naming the field and the webhook is answered 400 (a cut id could credit
 * or refund the wrong object, a cut account id name another account). */
#define LEDGER_NEWS_ID_MAX LIMIT_STRIPE_ID_BYTES
struct ledger_news {
	enum ledger_news_kind kind;
	char id[LEDGER_NEWS_ID_MAX + 1];		/* evt_... */
	int64_t created;			/* the event's "created" (unix seconds), 0 when absent */
	char type[128];
	/* checkout.session.* */
	char session_id[LEDGER_NEWS_ID_MAX + 1];
	char payment_status[32];		/* "paid", "unpaid", "no_payment_required" */
	char currency[8];			/* lower-case */
	char metadata_type[64];			/* metadata.type */
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];	/* metadata.account (or client_reference_id) */
	int64_t amount_cents;			/* metadata.amount_cents, -1 when absent/invalid */
	int64_t amount_total_cents;		/* amount_total (what the buyer paid, tax included), -1 when absent */
	char mode[32];				/* "payment", "subscription", "setup"; "" when absent */
	char customer[LEDGER_NEWS_ID_MAX + 1];
	char payment_intent[LEDGER_NEWS_ID_MAX + 1];
	/* charge.refunded */
	char charge_id[LEDGER_NEWS_ID_MAX + 1];
	int64_t amount_refunded_cents;		/* cumulative, -1 when absent */
	int64_t charge_amount_cents;		/* charge.amount (what was paid), -1 when absent */
	/* invoice.paid / customer.subscription.* */
	char subscription[LEDGER_NEWS_ID_MAX + 1];
	char plan[LIMIT_NAME_BYTES + 1];	/* price/plan id or metadata.plan */
	char subscription_status[32];
	int64_t period_start;			/* unix seconds, 0 when absent */
	int64_t period_end;
	int64_t amount_paid_cents;
	/* invoice.*: billing_reason ("subscription_update": a proration, as
	 * after an upgrade), "" when absent */
	char billing_reason[32];
	/* payment_intent.* (payment_intent holds its id, customer, currency,
	 * metadata_type and account as above) */
	int64_t amount_received_cents;		/* -1 when absent */
	char payment_method[LEDGER_NEWS_ID_MAX + 1];
	char setup_future_usage[32];		/* "off_session" when the card was kept for later */
	int64_t recharge_id;			/* metadata.recharge, 0 when absent */
	char period[64];			/* metadata.period (a collection's YYYY-MM), "" when absent */
	char failure[256];			/* last_payment_error.message (or code) */
	/* charge.dispute.* (charge_id, payment_intent and currency as above) */
	char dispute_id[LEDGER_NEWS_ID_MAX + 1];	/* du_... */
	int64_t dispute_amount_cents;		/* the disputed amount, -1 when absent */
	char dispute_status[32];		/* needs_response, ..., won, lost */
	/* Receipts (docs/api.md, "receipt_url"): charge.succeeded / charge.updated (charge_id,
	 * payment_intent as above), invoice.paid / invoice.finalized, and the
	 * invoice a Checkout Session made. A URL is kept only when it is https
	 * and fits: another is left "" (not stored), and fails no parse. */
	char receipt_url[LIMIT_RECEIPT_URL_BYTES + 1];	/* charge.receipt_url */
	char invoice_id[LEDGER_NEWS_ID_MAX + 1];		/* in_...: the invoice's id, or a session's invoice */
	char invoice_url[LIMIT_RECEIPT_URL_BYTES + 1];	/* invoice.hosted_invoice_url */
	char invoice_pdf[LIMIT_RECEIPT_URL_BYTES + 1];	/* invoice.invoice_pdf */
};

#endif
