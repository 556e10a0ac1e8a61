/* ledger_invoice_pay.c: the payment of a subscription invoice when its
 * invoice.paid names none (Stripe API 2025-03-31 on: an invoice's
 * payments are not expanded in events), and refunds that come before a
 * credit knows their payment (docs/decisions.md, "Refunds"; migration 033).
 *
 * invoice_payment.paid names the invoice and its payment intent or
 * charge, before or after invoice.paid. Both take the lock of the
 * invoice's invoice_payments row first (made empty by whichever comes
 * first), so the second sees the first: invoice.paid takes the payment
 * for the credit it records, invoice_payment.paid names it on a credit
 * made already. A payment is taken only if it paid this invoice: its
 * currency and amount the invoice's (one PaymentIntent may pay several
 * invoices, an invoice take several payments); the first paid one is
 * kept. A dispute of the payment that came first is applied then
 * (ledger_disputes_apply_waiting), and so is a refund (refunds_waiting): a
 * charge.refunded that found no credit is kept, not dropped, and its
 * transaction starts again if a credit naming its payment is being
 * written (the locking read at the end), as a waiting dispute's does. */
#include "ledger_events.h"
#include "ledger_hooks.h"
#include "log.h"
#include "ledger_news.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A payment as invoice_payment.paid named it. */
struct pay {
	char pi[LEDGER_NEWS_ID_MAX + 1], charge[LEDGER_NEWS_ID_MAX + 1];
	int64_t cents;			/* -1: not said */
	char currency[8];
};

/* The invoice's payment row, locked (made empty when there is none). */
static enum cd_err payment_row_lock(struct store *db, const char *invoice, struct pay *p)
{
	static const char sql_row[] = "INSERT INTO invoice_payments (invoice_id, received_at) VALUES (?, ?) "
				      "ON DUPLICATE KEY UPDATE invoice_id = invoice_id";
	static const char sql_read[] = "SELECT payment_intent, charge_id, COALESCE(amount_paid_cents, -1), currency "
				       "FROM invoice_payments WHERE invoice_id = ? FOR UPDATE";
	int e;
	memset(p, 0, sizeof(*p));
	enum cd_err rc = store_do(db, sql_row, "invoice payment row", "si", invoice, db->now);
	struct dbstmt *s = rc == CD_OK ? store_exec(db, sql_read, &e, "s", invoice) : NULL;
	if (rc != CD_OK || s == NULL)
		return rc != CD_OK ? rc : store_err(db, e, "invoice payment read");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	store_copy(s, 0, p->pi, sizeof(p->pi), "");
	store_copy(s, 1, p->charge, sizeof(p->charge), "");
	p->cents = store_i64(s, 2);
	store_copy(s, 3, p->currency, sizeof(p->currency), "");
	return CD_OK;
}

/* 1 when p may be the payment of an invoice of paid_cents in currency
 * (-1 and "": not known, not held against it). */
static int pay_fits(const struct pay *p, int64_t paid_cents, const char *currency)
{
	if (p->currency[0] != '\0' && currency[0] != '\0' && strcasecmp(p->currency, currency) != 0)
		return 0;
	return p->cents < 0 || paid_cents < 0 || p->cents == paid_cents;
}

enum cd_err ledger_invoice_pay_payment_of(struct store *db, const struct ledger_news *ev, char *pi, char *charge,
				    size_t cap)
{
	struct pay p;
	assert(ev->invoice_id[0] != '\0');	/* an invoice event without its id is refused when parsed */
	assert(cap >= sizeof(p.pi));	/* a payment's ids fit whole, never cut */
	enum cd_err rc = payment_row_lock(db, ev->invoice_id, &p);
	pi[0] = charge[0] = '\0';
	if (rc != CD_OK || (p.pi[0] == '\0' && p.charge[0] == '\0'))
		return rc;
	if (!pay_fits(&p, ev->amount_paid_cents, ev->currency)) {
		log_warn("stripe event %s: invoice %s (%" PRId64 " %s) names no payment, and the one its "
			 "invoice_payment.paid named (%" PRId64 " %s) is not its amount: not taken", ev->id,
			 ev->invoice_id, ev->amount_paid_cents, ev->currency, p.cents, p.currency);
		return CD_OK;
	}
	snprintf(pi, cap, "%s", p.pi);
	snprintf(charge, cap, "%s", p.charge);
	return CD_OK;
}

/* The invoice's credit row, if invoice.paid made it: what it names. */
struct credit {
	int found;
	struct funded f;
	struct pay named;		/* its payment intent and charge ("" none), paid cents, currency */
};

static enum cd_err credit_of(struct store *db, const char *invoice, struct credit *c)
{
	static const char sql[] = "SELECT id, account_id, payment_intent, charge_id, COALESCE(paid_cents, -1), "
				  "COALESCE(currency, '') FROM invoice_credits WHERE invoice_id = ?";
	int e;
	memset(c, 0, sizeof(*c));
	struct dbstmt *s = store_exec(db, sql, &e, "s", invoice);
	if (s == NULL)
		return store_err(db, e, "invoice credit of a payment");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	c->found = got == 1;
	if (!c->found)
		return CD_OK;
	c->f = (struct funded){.kind = FUNDED_INVOICE, .id = store_i64(s, 0), .account_id = store_i64(s, 1)};
	store_copy(s, 2, c->named.pi, sizeof(c->named.pi), "");
	store_copy(s, 3, c->named.charge, sizeof(c->named.charge), "");
	c->named.cents = store_i64(s, 4);
	store_copy(s, 5, c->named.currency, sizeof(c->named.currency), "");
	return CD_OK;
}

/* Names ev's payment on the credit c (its account locked first). */
static enum cd_err credit_name(struct store *db, struct hook_run *h, struct credit *c)
{
	static const char sql[] = "UPDATE invoice_credits SET payment_intent = COALESCE(payment_intent, ?), "
				  "charge_id = COALESCE(charge_id, ?) WHERE id = ?";
	const struct ledger_news *ev = h->ev;
	const char *pi = ev->payment_intent[0] != '\0' ? ev->payment_intent : NULL;
	struct acct a;
	enum cd_err rc = ledger_due_lock_id(db, c->f.account_id, &a);
	if (rc != CD_OK)
		return rc;
	rc = store_do(db, sql, "invoice credit payment", "ssi", pi, ev->charge_id[0] != '\0' ? ev->charge_id : NULL,
		   c->f.id);
	if (rc == CD_OK)
		rc = ledger_disputes_apply_waiting(db, &a, &c->f, pi != NULL ? pi : c->named.pi);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	h->account_id = a.id;
	h->outcome = "invoice payment recorded";
	return rc == CD_OK ? ledger_refunds_waiting_apply(db, h, ev->invoice_id) : rc;
}

/* Why ev's payment is not the credit's, or NULL when it may be. */
static const char *credit_refuses(const struct credit *c, const struct ledger_news *ev)
{
	if ((c->named.pi[0] != '\0' && ev->payment_intent[0] != '\0' && strcmp(c->named.pi, ev->payment_intent) != 0) ||
	    (c->named.charge[0] != '\0' && ev->charge_id[0] != '\0' && strcmp(c->named.charge, ev->charge_id) != 0))
		return "ignored: the invoice's credit names another payment";
	struct pay p = {.cents = ev->amount_paid_cents};
	snprintf(p.currency, sizeof(p.currency), "%s", ev->currency);
	if (!pay_fits(&p, c->named.cents, c->named.currency))
		return "ignored: the payment's amount or currency is not its invoice's";
	return NULL;
}

enum cd_err ledger_invoice_pay_paid(struct store *db, struct hook_run *h)
{
	static const char sql_fill[] = "UPDATE invoice_payments SET payment_intent = ?, charge_id = ?, "
				       "amount_paid_cents = ?, currency = ? WHERE invoice_id = ?";
	const struct ledger_news *ev = h->ev;
	struct pay p;
	struct credit c;
	assert(ev->kind == LEDGER_NEWS_INVOICE_PAYMENT_PAID);
	assert(ev->invoice_id[0] != '\0');	/* refused when parsed without it */
	if (strcmp(ev->payment_status, "paid") != 0 || (ev->payment_intent[0] == '\0' && ev->charge_id[0] == '\0')) {
		h->outcome = "ignored: no paid payment";
		return CD_OK;
	}
	enum cd_err rc = payment_row_lock(db, ev->invoice_id, &p);
	if (rc == CD_OK && (p.pi[0] != '\0' || p.charge[0] != '\0')) {
		if (strcmp(p.pi, ev->payment_intent) != 0 || strcmp(p.charge, ev->charge_id) != 0)
			log_warn("stripe event %s: invoice %s has a second paid payment (%s%s): only its first is matched "
				 "to refunds and disputes", ev->id, ev->invoice_id, ev->payment_intent, ev->charge_id);
		h->outcome = "duplicate: the invoice's payment is known already";
		return CD_OK;
	}
	const int64_t *cents = ev->amount_paid_cents >= 0 ? &ev->amount_paid_cents : NULL;
	if (rc == CD_OK)
		rc = store_do(db, sql_fill, "invoice payment", "ssIss", ev->payment_intent[0] ? ev->payment_intent : NULL,
			   ev->charge_id[0] ? ev->charge_id : NULL, cents, ev->currency[0] ? ev->currency : NULL,
			   ev->invoice_id);
	if (rc == CD_OK)
		rc = credit_of(db, ev->invoice_id, &c);
	if (rc != CD_OK)
		return rc;
	h->outcome = "kept: named on the invoice's credit when invoice.paid comes";
	if (!c.found)
		return CD_OK;
	const char *why = credit_refuses(&c, ev);
	if (why != NULL) {
		log_warn("stripe event %s: invoice %s: %s", ev->id, ev->invoice_id, why + strlen("ignored: "));
		h->outcome = why;
		return CD_OK;
	}
	return credit_name(db, h, &c);
}
