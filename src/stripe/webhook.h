/* webhook.h: Stripe webhook signatures and event decoding.
 *
 * Owns: checking the Stripe-Signature header against the raw body (before
 * anything parses it) and turning a verified event's JSON into a flat
 * struct the ledger can act on. Never touches the database; never logs
 * secrets. */
#ifndef CREDITD_WEBHOOK_H
#define CREDITD_WEBHOOK_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "limits.h"

enum webhook_sig {
	WEBHOOK_SIG_OK = 0,
	WEBHOOK_SIG_MISSING,	/* no header, or empty */
	WEBHOOK_SIG_MALFORMED,	/* no t=, t not an integer, garbage */
	WEBHOOK_SIG_NO_V1,	/* no v1 signature (v0 and other schemes are ignored) */
	WEBHOOK_SIG_STALE,	/* |now - t| > tolerance */
	WEBHOOK_SIG_MISMATCH	/* no v1 matches any secret */
};

/* Verifies "t=...,v1=...[,v1=...]" : HMAC-SHA256 over "t.body" keyed by each
 * secret string as given; any v1 matching any secret passes; comparison in
 * constant time. */
enum webhook_sig webhook_verify(const char *header, const char *body, size_t body_len,
				const char *const *secrets, int nsecrets,
				time_t now, int64_t tolerance_seconds);
const char *webhook_sig_strerror(enum webhook_sig s);

/* Computes the v1 signature hex (64 chars + NUL) for tests and tools. */
void webhook_sign(const char *secret, int64_t t, const char *body, size_t body_len, char out_hex[65]);

enum webhook_kind {
	WEBHOOK_IGNORED = 0,
	WEBHOOK_CHECKOUT_COMPLETED,		/* checkout.session.completed */
	WEBHOOK_CHECKOUT_ASYNC_SUCCEEDED,	/* checkout.session.async_payment_succeeded */
	WEBHOOK_CHARGE_REFUNDED,		/* charge.refunded */
	WEBHOOK_INVOICE_PAID,			/* invoice.paid */
	WEBHOOK_SUBSCRIPTION_UPDATED,		/* customer.subscription.updated */
	WEBHOOK_SUBSCRIPTION_DELETED,		/* customer.subscription.deleted */
	WEBHOOK_PAYMENT_SUCCEEDED,		/* payment_intent.succeeded */
	WEBHOOK_PAYMENT_FAILED,			/* payment_intent.payment_failed */
	WEBHOOK_DISPUTE_CREATED,		/* charge.dispute.created */
	WEBHOOK_DISPUTE_CLOSED,			/* charge.dispute.closed */
	WEBHOOK_CHARGE_RECEIPT,			/* charge.succeeded, charge.updated */
	WEBHOOK_INVOICE_FINALIZED,		/* invoice.finalized (invoice.paid is WEBHOOK_INVOICE_PAID) */
	WEBHOOK_INVOICE_PAYMENT_PAID		/* invoice_payment.paid (API 2025-03-31 on) */
};

/* Each string field is sized by what it must match or is kept in: Stripe
 * ids by their VARCHAR(255) columns, the account id and the plan by the
 * API's limits (the accounts' columns), the type and the subscription
 * status by stripe_events.type and subscriptions.status. A value from
 * Stripe longer than its field is refused, never cut: the parse fails
 * naming the field and the webhook is answered 400 (a cut id could credit
 * or refund the wrong object, a cut account id name another account). */
#define WEBHOOK_ID_MAX LIMIT_STRIPE_ID_BYTES
struct webhook_event {
	enum webhook_kind kind;
	char id[WEBHOOK_ID_MAX + 1];		/* evt_... */
	int64_t created;			/* the event's "created" (unix seconds), 0 when absent */
	char type[128];
	/* checkout.session.* */
	char session_id[WEBHOOK_ID_MAX + 1];
	char payment_status[32];		/* "paid", "unpaid", "no_payment_required" */
	char currency[8];			/* lower-case */
	char metadata_type[64];			/* metadata.type */
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];	/* metadata.account (or client_reference_id) */
	int64_t amount_cents;			/* metadata.amount_cents, -1 when absent/invalid */
	int64_t amount_total_cents;		/* amount_total (what the buyer paid, tax included), -1 when absent */
	char mode[32];				/* "payment", "subscription", "setup"; "" when absent */
	char customer[WEBHOOK_ID_MAX + 1];
	char payment_intent[WEBHOOK_ID_MAX + 1];
	/* charge.refunded */
	char charge_id[WEBHOOK_ID_MAX + 1];
	int64_t amount_refunded_cents;		/* cumulative, -1 when absent */
	int64_t charge_amount_cents;		/* charge.amount (what was paid), -1 when absent */
	/* invoice.paid / customer.subscription.* */
	char subscription[WEBHOOK_ID_MAX + 1];
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
	char payment_method[WEBHOOK_ID_MAX + 1];
	char setup_future_usage[32];		/* "off_session" when the card was kept for later */
	int64_t recharge_id;			/* metadata.recharge, 0 when absent */
	char period[64];			/* metadata.period (a collection's YYYY-MM), "" when absent */
	char failure[256];			/* last_payment_error.message (or code) */
	/* charge.dispute.* (charge_id, payment_intent and currency as above) */
	char dispute_id[WEBHOOK_ID_MAX + 1];	/* du_... */
	int64_t dispute_amount_cents;		/* the disputed amount, -1 when absent */
	char dispute_status[32];		/* needs_response, ..., won, lost */
	/* Receipts (DESIGN §10): charge.succeeded / charge.updated (charge_id,
	 * payment_intent as above), invoice.paid / invoice.finalized, and the
	 * invoice a Checkout Session made. A URL is kept only when it is https
	 * and fits: another is left "" (not stored), and fails no parse. */
	char receipt_url[LIMIT_RECEIPT_URL_BYTES + 1];	/* charge.receipt_url */
	char invoice_id[WEBHOOK_ID_MAX + 1];		/* in_...: the invoice's id, or a session's invoice */
	char invoice_url[LIMIT_RECEIPT_URL_BYTES + 1];	/* invoice.hosted_invoice_url */
	char invoice_pdf[LIMIT_RECEIPT_URL_BYTES + 1];	/* invoice.invoice_pdf */
};

/* Parses a verified event body. Returns 0, or -1 with a sentence in errbuf
 * when the JSON is not an event (no id/type). Unknown types parse with
 * kind WEBHOOK_IGNORED. */
int webhook_parse_event(const char *body, size_t len, struct webhook_event *ev,
			char *errbuf, size_t errcap);
#endif
