/* webhook.c: Stripe webhook event decoding (see webhook.h; the signatures
 * are webhook_sig.c's).
 *
 * Owns: the flattening of the few event types creditd acts on into struct
 * news of a payment (ledger_news.h).
 *
 * Never: parses or trusts a body before its signature passed (the caller
 * verifies first); touches the database; logs or copies a secret; lets a
 * truncated id out (an id that does not fit its field fails the parse, so
 * the ledger can never credit or refund the wrong object).
 *
 * Why: the webhook endpoint is reachable from the internet and is the only
 * way money is credited. Anything that is not exactly what Stripe signs is
 * refused, and the reason is reported as an enum the API logs. */
#include "webhook.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <assert.h>
#include <string.h>

/* ---- event decoding -------------------------------------------------------- */

struct pctx {
	char *err;
	size_t errcap;
};

__attribute__((format(printf, 2, 3)))
static int perr(struct pctx *px, const char *fmt, ...)
{
	va_list ap;

	if (px->err != NULL && px->errcap > 0) {
		va_start(ap, fmt);
		vsnprintf(px->err, px->errcap, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#define TAKE_EXPANDABLE 1	/* an expanded object counts by its "id" */
#define TAKE_LOWER 2		/* ASCII lower-case the copy (currencies) */

/* Copies the string v (NULL or JSON null: absent, dst untouched) into dst.
 * A value that does not fit, or of another type, fails the whole parse. */
static int take_str(struct pctx *px, json_t *v, const char *name, char *dst, size_t cap, int flags)
{
	const char *s;
	size_t n, i;

	if (v == NULL || json_is_null(v))
		return 0;
	if ((flags & TAKE_EXPANDABLE) && json_is_object(v))
		v = json_object_get(v, "id");
	if (!json_is_string(v))
		return perr(px, "event field %s is not a string", name);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= cap)
		return perr(px, "event field %s is longer than %zu bytes", name, cap - 1);
	if (memchr(s, '\0', n) != NULL)
		return perr(px, "event field %s holds a NUL byte", name);
	for (i = 0; i < n; i++)
		dst[i] = (flags & TAKE_LOWER) ? (char)tolower((unsigned char)s[i]) : s[i];
	dst[n] = '\0';
	return 0;
}

/* Copies the URL v into dst (cap bytes) only when it is a string that
 * starts with https:// and fits, with no byte below 0x21 (no space,
 * control or NUL: it becomes a link); anything else leaves dst "". Never
 * fails the parse: a URL creditd will not keep is no reason for Stripe
 * to deliver the event again. */
static void take_url(json_t *v, char *dst, size_t cap)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i;

	if (s == NULL || n >= cap || n <= 8 || strncmp(s, "https://", 8) != 0)
		return;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
			return;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Takes an integer (absent or null: *dst untouched). */
static int take_int(struct pctx *px, json_t *v, const char *name, int64_t *dst)
{
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return perr(px, "event field %s is not an integer", name);
	*dst = (int64_t)json_integer_value(v);
	return 0;
}

/* metadata.amount_cents is a string of 1-18 digits; anything else is -1. */
static int64_t metadata_cents(json_t *metadata)
{
	const char *s = json_string_value(json_object_get(metadata, "amount_cents"));
	int64_t v = 0;
	size_t i, n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	assert(v >= 0 && v <= 999999999999999999LL);	/* 18 digits fit in int64 */
	return v;
}

/* obj[list].data[0], or NULL. */
static json_t *first_item(json_t *obj, const char *list)
{
	return json_array_get(json_object_get(json_object_get(obj, list), "data"), 0);
}

static json_t *get2(json_t *obj, const char *a, const char *b)
{
	return json_object_get(json_object_get(obj, a), b);
}

static int parse_checkout(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	json_t *md = json_object_get(o, "metadata");
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "id"), "data.object.id", ev->session_id, sizeof(ev->session_id), 0);
	rc |= take_str(px, json_object_get(o, "payment_status"), "payment_status", ev->payment_status,
		       sizeof(ev->payment_status), 0);
	rc |= take_str(px, json_object_get(o, "currency"), "currency", ev->currency, sizeof(ev->currency),
		       TAKE_LOWER);
	rc |= take_str(px, json_object_get(md, "type"), "metadata.type", ev->metadata_type,
		       sizeof(ev->metadata_type), 0);
	rc |= take_str(px, json_object_get(md, "account"), "metadata.account", ev->account, sizeof(ev->account), 0);
	if (rc == 0 && ev->account[0] == '\0')
		rc |= take_str(px, json_object_get(o, "client_reference_id"), "client_reference_id", ev->account,
			       sizeof(ev->account), 0);
	rc |= take_str(px, json_object_get(o, "customer"), "customer", ev->customer, sizeof(ev->customer),
		       TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "payment_intent"), "payment_intent", ev->payment_intent,
		       sizeof(ev->payment_intent), TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "mode"), "mode", ev->mode, sizeof(ev->mode), 0);
	rc |= take_int(px, json_object_get(o, "amount_total"), "amount_total", &ev->amount_total_cents);
	rc |= take_str(px, json_object_get(o, "invoice"), "invoice", ev->invoice_id, sizeof(ev->invoice_id),
		       TAKE_EXPANDABLE);
	if (rc != 0)
		return -1;
	if (ev->session_id[0] == '\0')
		return perr(px, "checkout session event has no data.object.id");
	ev->amount_cents = metadata_cents(md);
	/* A session event the ledger sees names its session; its amount is
	 * a count of cents or unknown (-1), never another negative. */
	assert(ev->session_id[0] != '\0' && ev->amount_cents >= -1);
	return 0;
}

static int parse_charge(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "id"), "data.object.id", ev->charge_id, sizeof(ev->charge_id), 0);
	rc |= take_int(px, json_object_get(o, "amount_refunded"), "amount_refunded", &ev->amount_refunded_cents);
	rc |= take_int(px, json_object_get(o, "amount"), "amount", &ev->charge_amount_cents);
	rc |= take_str(px, json_object_get(o, "payment_intent"), "payment_intent", ev->payment_intent,
		       sizeof(ev->payment_intent), TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "customer"), "customer", ev->customer, sizeof(ev->customer),
		       TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "currency"), "currency", ev->currency, sizeof(ev->currency),
		       TAKE_LOWER);
	rc |= take_str(px, get2(o, "metadata", "account"), "metadata.account", ev->account, sizeof(ev->account), 0);
	if (rc != 0)
		return -1;
	if (ev->charge_id[0] == '\0')
		return perr(px, "charge event has no data.object.id");
	take_url(json_object_get(o, "receipt_url"), ev->receipt_url, sizeof(ev->receipt_url));
	return 0;
}

/* charge.dispute.created / closed: the Dispute object (id, charge,
 * payment_intent, amount, currency, status). */
static int parse_dispute(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "id"), "data.object.id", ev->dispute_id, sizeof(ev->dispute_id), 0);
	rc |= take_str(px, json_object_get(o, "charge"), "charge", ev->charge_id, sizeof(ev->charge_id),
		       TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "payment_intent"), "payment_intent", ev->payment_intent,
		       sizeof(ev->payment_intent), TAKE_EXPANDABLE);
	rc |= take_int(px, json_object_get(o, "amount"), "amount", &ev->dispute_amount_cents);
	rc |= take_str(px, json_object_get(o, "currency"), "currency", ev->currency, sizeof(ev->currency),
		       TAKE_LOWER);
	rc |= take_str(px, json_object_get(o, "status"), "status", ev->dispute_status, sizeof(ev->dispute_status), 0);
	if (rc != 0)
		return -1;
	if (ev->dispute_id[0] == '\0')
		return perr(px, "dispute event has no data.object.id");
	return 0;
}

/* payment_intent.succeeded / payment_failed: a top-up's (whose card may
 * have been kept, setup_future_usage) or an auto-recharge's. The error's
 * message is kept cut: it is only quoted in an event. */
static int parse_payment_intent(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	char recharge[32] = "";
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "id"), "data.object.id", ev->payment_intent, sizeof(ev->payment_intent),
		       0);
	rc |= take_int(px, json_object_get(o, "amount_received"), "amount_received", &ev->amount_received_cents);
	rc |= take_str(px, json_object_get(o, "currency"), "currency", ev->currency, sizeof(ev->currency),
		       TAKE_LOWER);
	rc |= take_str(px, json_object_get(o, "customer"), "customer", ev->customer, sizeof(ev->customer),
		       TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "payment_method"), "payment_method", ev->payment_method,
		       sizeof(ev->payment_method), TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "setup_future_usage"), "setup_future_usage", ev->setup_future_usage,
		       sizeof(ev->setup_future_usage), 0);
	rc |= take_str(px, get2(o, "metadata", "type"), "metadata.type", ev->metadata_type,
		       sizeof(ev->metadata_type), 0);
	rc |= take_str(px, get2(o, "metadata", "account"), "metadata.account", ev->account, sizeof(ev->account), 0);
	rc |= take_str(px, get2(o, "metadata", "recharge"), "metadata.recharge", recharge, sizeof(recharge), 0);
	rc |= take_str(px, get2(o, "metadata", "period"), "metadata.period", ev->period, sizeof(ev->period), 0);
	if (rc != 0)
		return -1;
	if (ev->payment_intent[0] == '\0')
		return perr(px, "payment intent event has no data.object.id");
	if (recharge[0] != '\0') {
		char *end;
		long long v = strtoll(recharge, &end, 10);
		if (*end != '\0' || v <= 0)
			return perr(px, "metadata.recharge is not a recharge id");
		ev->recharge_id = v;
	}
	json_t *err = json_object_get(o, "last_payment_error");
	json_t *msg = json_object_get(err, "message");
	if (!json_is_string(msg))
		msg = json_object_get(err, "code");
	if (json_is_string(msg))
		snprintf(ev->failure, sizeof(ev->failure), "%s", json_string_value(msg));
	return 0;
}

/* Invoice fields that moved between API versions: the subscription id, the
 * account (invoice metadata, else the subscription's copied metadata, else
 * the first line's) and the plan (line price or plan, else metadata.plan). */
static int parse_invoice_refs(struct pctx *px, json_t *o, json_t *line, struct ledger_news *ev)
{
	json_t *subd = get2(o, "parent", "subscription_details");
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "subscription"), "subscription", ev->subscription,
		       sizeof(ev->subscription), TAKE_EXPANDABLE);
	if (rc == 0 && ev->subscription[0] == '\0')
		rc |= take_str(px, json_object_get(subd, "subscription"), "parent.subscription_details.subscription",
			       ev->subscription, sizeof(ev->subscription), TAKE_EXPANDABLE);
	rc |= take_str(px, get2(o, "metadata", "account"), "metadata.account", ev->account, sizeof(ev->account), 0);
	if (rc == 0 && ev->account[0] == '\0')
		rc |= take_str(px, get2(json_object_get(o, "subscription_details"), "metadata", "account"),
			       "subscription_details.metadata.account", ev->account, sizeof(ev->account), 0);
	if (rc == 0 && ev->account[0] == '\0')
		rc |= take_str(px, get2(subd, "metadata", "account"), "parent.subscription_details.metadata.account",
			       ev->account, sizeof(ev->account), 0);
	if (rc == 0 && ev->account[0] == '\0')
		rc |= take_str(px, get2(line, "metadata", "account"), "lines.data[0].metadata.account", ev->account,
			       sizeof(ev->account), 0);
	rc |= take_str(px, json_object_get(line, "price"), "lines.data[0].price", ev->plan, sizeof(ev->plan),
		       TAKE_EXPANDABLE);
	if (rc == 0 && ev->plan[0] == '\0')
		rc |= take_str(px, json_object_get(line, "plan"), "lines.data[0].plan", ev->plan, sizeof(ev->plan),
			       TAKE_EXPANDABLE);
	if (rc == 0 && ev->plan[0] == '\0')
		rc |= take_str(px, json_object_get(get2(line, "pricing", "price_details"), "price"),
			       "lines.data[0].pricing.price_details.price", ev->plan, sizeof(ev->plan), TAKE_EXPANDABLE);
	if (rc == 0 && ev->plan[0] == '\0')
		rc |= take_str(px, get2(o, "metadata", "plan"), "metadata.plan", ev->plan, sizeof(ev->plan), 0);
	return rc != 0 ? -1 : 0;
}

/* The payment that paid an invoice (docs/api.md, "POST /v1/webhooks/stripe":
 * its refunds and disputes take the credit back): payment_intent and charge
 * on the invoice (API versions before 2025-03-31), else on its first payment
 * (payments.data[0].payment); each may be an id or an expanded object. */
static int parse_invoice_payment(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	/* Only a payment that paid: a failed or canceled attempt may come
	 * first in the list. */
	json_t *first = first_item(o, "payments");
	const char *st = json_string_value(json_object_get(first, "status"));
	json_t *paid = st == NULL || strcmp(st, "paid") == 0 ? json_object_get(first, "payment") : NULL;
	int rc = 0;
	rc |= take_str(px, json_object_get(o, "payment_intent"), "payment_intent", ev->payment_intent,
		       sizeof(ev->payment_intent), TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "charge"), "charge", ev->charge_id, sizeof(ev->charge_id),
		       TAKE_EXPANDABLE);
	if (rc == 0 && ev->payment_intent[0] == '\0')
		rc |= take_str(px, json_object_get(paid, "payment_intent"), "payments.data[0].payment.payment_intent",
			       ev->payment_intent, sizeof(ev->payment_intent), TAKE_EXPANDABLE);
	if (rc == 0 && ev->charge_id[0] == '\0')
		rc |= take_str(px, json_object_get(paid, "charge"), "payments.data[0].payment.charge", ev->charge_id,
			       sizeof(ev->charge_id), TAKE_EXPANDABLE);
	return rc;
}

static int parse_invoice(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	json_t *line = first_item(o, "lines");
	json_t *period = json_object_get(line, "period");
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "customer"), "customer", ev->customer, sizeof(ev->customer),
		       TAKE_EXPANDABLE);
	rc |= take_int(px, json_object_get(o, "amount_paid"), "amount_paid", &ev->amount_paid_cents);
	rc |= take_str(px, json_object_get(o, "currency"), "currency", ev->currency, sizeof(ev->currency),
		       TAKE_LOWER);
	rc |= take_int(px, json_object_get(period, "start"), "lines.data[0].period.start", &ev->period_start);
	rc |= take_int(px, json_object_get(period, "end"), "lines.data[0].period.end", &ev->period_end);
	if (rc == 0 && ev->period_start == 0)
		rc |= take_int(px, json_object_get(o, "period_start"), "period_start", &ev->period_start);
	if (rc == 0 && ev->period_end == 0)
		rc |= take_int(px, json_object_get(o, "period_end"), "period_end", &ev->period_end);
	rc |= take_str(px, json_object_get(o, "id"), "data.object.id", ev->invoice_id, sizeof(ev->invoice_id), 0);
	rc |= take_str(px, json_object_get(o, "billing_reason"), "billing_reason", ev->billing_reason,
		       sizeof(ev->billing_reason), 0);
	if (rc != 0)
		return -1;
	if (ev->invoice_id[0] == '\0')
		return perr(px, "invoice event has no data.object.id");
	take_url(json_object_get(o, "hosted_invoice_url"), ev->invoice_url, sizeof(ev->invoice_url));
	take_url(json_object_get(o, "invoice_pdf"), ev->invoice_pdf, sizeof(ev->invoice_pdf));
	return parse_invoice_payment(px, o, ev) != 0 ? -1 : parse_invoice_refs(px, o, line, ev);
}

/* invoice_payment.paid: the payment of an invoice, which invoice.paid no
 * longer names from API 2025-03-31 on (payments are not expanded in
 * events). The payment intent or charge is in payment (payment.type
 * says which); Stripe's preview versions (2025-11-17.preview) show them
 * at the top level, read too. */
static int parse_invoice_payment_paid(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	json_t *paid = json_object_get(o, "payment");
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "invoice"), "invoice", ev->invoice_id, sizeof(ev->invoice_id),
		       TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "status"), "status", ev->payment_status, sizeof(ev->payment_status), 0);
	rc |= take_int(px, json_object_get(o, "amount_paid"), "amount_paid", &ev->amount_paid_cents);
	rc |= take_str(px, json_object_get(o, "currency"), "currency", ev->currency, sizeof(ev->currency),
		       TAKE_LOWER);
	rc |= take_str(px, json_object_get(paid, "payment_intent"), "payment.payment_intent", ev->payment_intent,
		       sizeof(ev->payment_intent), TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(paid, "charge"), "payment.charge", ev->charge_id, sizeof(ev->charge_id),
		       TAKE_EXPANDABLE);
	if (rc == 0 && ev->payment_intent[0] == '\0')
		rc |= take_str(px, json_object_get(o, "payment_intent"), "payment_intent", ev->payment_intent,
			       sizeof(ev->payment_intent), TAKE_EXPANDABLE);
	if (rc == 0 && ev->charge_id[0] == '\0')
		rc |= take_str(px, json_object_get(o, "charge"), "charge", ev->charge_id, sizeof(ev->charge_id),
			       TAKE_EXPANDABLE);
	if (rc != 0)
		return -1;
	if (ev->invoice_id[0] == '\0')
		return perr(px, "invoice_payment event names no invoice");
	return 0;
}

static int parse_subscription(struct pctx *px, json_t *o, struct ledger_news *ev)
{
	json_t *item = first_item(o, "items");
	int rc = 0;

	rc |= take_str(px, json_object_get(o, "id"), "data.object.id", ev->subscription, sizeof(ev->subscription),
		       0);
	rc |= take_str(px, json_object_get(o, "customer"), "customer", ev->customer, sizeof(ev->customer),
		       TAKE_EXPANDABLE);
	rc |= take_str(px, json_object_get(o, "status"), "status", ev->subscription_status,
		       sizeof(ev->subscription_status), 0);
	rc |= take_str(px, get2(o, "metadata", "account"), "metadata.account", ev->account, sizeof(ev->account), 0);
	rc |= take_str(px, get2(o, "metadata", "plan"), "metadata.plan", ev->plan, sizeof(ev->plan), 0);
	if (rc == 0 && ev->plan[0] == '\0')
		rc |= take_str(px, json_object_get(item, "price"), "items.data[0].price", ev->plan, sizeof(ev->plan),
			       TAKE_EXPANDABLE);
	if (rc == 0 && ev->plan[0] == '\0')
		rc |= take_str(px, json_object_get(item, "plan"), "items.data[0].plan", ev->plan, sizeof(ev->plan),
			       TAKE_EXPANDABLE);
	/* Top level before API 2025-03-31; on the items since. */
	rc |= take_int(px, json_object_get(o, "current_period_start"), "current_period_start", &ev->period_start);
	rc |= take_int(px, json_object_get(o, "current_period_end"), "current_period_end", &ev->period_end);
	if (rc == 0 && ev->period_start == 0)
		rc |= take_int(px, json_object_get(item, "current_period_start"), "items.data[0].current_period_start",
			       &ev->period_start);
	if (rc == 0 && ev->period_end == 0)
		rc |= take_int(px, json_object_get(item, "current_period_end"), "items.data[0].current_period_end",
			       &ev->period_end);
	if (rc != 0)
		return -1;
	if (ev->subscription[0] == '\0')
		return perr(px, "subscription event has no data.object.id");
	return 0;
}

static enum ledger_news_kind kind_of(const char *type)
{
	static const struct {
		const char *type;
		enum ledger_news_kind kind;
	} kinds[] = {
		{ "checkout.session.completed", LEDGER_NEWS_CHECKOUT_COMPLETED },
		{ "checkout.session.async_payment_succeeded", LEDGER_NEWS_CHECKOUT_ASYNC_SUCCEEDED },
		{ "charge.refunded", LEDGER_NEWS_CHARGE_REFUNDED },
		{ "invoice.paid", LEDGER_NEWS_INVOICE_PAID },
		/* A new subscription sets its plan as a change does. */
		{ "customer.subscription.created", LEDGER_NEWS_SUBSCRIPTION_UPDATED },
		{ "customer.subscription.updated", LEDGER_NEWS_SUBSCRIPTION_UPDATED },
		{ "customer.subscription.deleted", LEDGER_NEWS_SUBSCRIPTION_DELETED },
		{ "payment_intent.succeeded", LEDGER_NEWS_PAYMENT_SUCCEEDED },
		{ "payment_intent.payment_failed", LEDGER_NEWS_PAYMENT_FAILED },
		{ "charge.dispute.created", LEDGER_NEWS_DISPUTE_CREATED },
		{ "charge.dispute.closed", LEDGER_NEWS_DISPUTE_CLOSED },
		{ "charge.succeeded", LEDGER_NEWS_CHARGE_RECEIPT },
		{ "charge.updated", LEDGER_NEWS_CHARGE_RECEIPT },
		{ "invoice.finalized", LEDGER_NEWS_INVOICE_FINALIZED },
		{ "invoice_payment.paid", LEDGER_NEWS_INVOICE_PAYMENT_PAID },
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(type, kinds[i].type) == 0)
			return kinds[i].kind;
	}
	return LEDGER_NEWS_IGNORED;
}

static void event_init(struct ledger_news *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = LEDGER_NEWS_IGNORED;
	ev->amount_cents = -1;
	ev->amount_refunded_cents = -1;
	ev->charge_amount_cents = -1;
	ev->amount_paid_cents = -1;
	ev->amount_received_cents = -1;
	ev->amount_total_cents = -1;
	ev->dispute_amount_cents = -1;
	ev->period_start = 0;
	ev->period_end = 0;
}

/* After a failure nothing half-parsed reaches the caller: only the event
 * id and type stay, for the log line; kind is LEDGER_NEWS_IGNORED. */
static void reset_keep_ids(struct ledger_news *ev)
{
	char id[sizeof(ev->id)], type[sizeof(ev->type)];

	memcpy(id, ev->id, sizeof(id));
	memcpy(type, ev->type, sizeof(type));
	event_init(ev);
	memcpy(ev->id, id, sizeof(id));
	memcpy(ev->type, type, sizeof(type));
}

static int parse_object(struct pctx *px, json_t *root, struct ledger_news *ev)
{
	json_t *o = get2(root, "data", "object");

	if (!json_is_object(o))
		return perr(px, "event %s has no data.object", ev->type);
	switch (ev->kind) {
	case LEDGER_NEWS_CHECKOUT_COMPLETED:
	case LEDGER_NEWS_CHECKOUT_ASYNC_SUCCEEDED:
		return parse_checkout(px, o, ev);
	case LEDGER_NEWS_CHARGE_REFUNDED:
	case LEDGER_NEWS_CHARGE_RECEIPT:
		return parse_charge(px, o, ev);
	case LEDGER_NEWS_INVOICE_PAID:
	case LEDGER_NEWS_INVOICE_FINALIZED:
		return parse_invoice(px, o, ev);
	case LEDGER_NEWS_INVOICE_PAYMENT_PAID:
		return parse_invoice_payment_paid(px, o, ev);
	case LEDGER_NEWS_SUBSCRIPTION_UPDATED:
	case LEDGER_NEWS_SUBSCRIPTION_DELETED:
		return parse_subscription(px, o, ev);
	case LEDGER_NEWS_PAYMENT_SUCCEEDED:
	case LEDGER_NEWS_PAYMENT_FAILED:
		return parse_payment_intent(px, o, ev);
	case LEDGER_NEWS_DISPUTE_CREATED:
	case LEDGER_NEWS_DISPUTE_CLOSED:
		return parse_dispute(px, o, ev);
	case LEDGER_NEWS_IGNORED:
		break;
	}
	return 0;
}

int webhook_parse_event(const char *body, size_t len, struct ledger_news *ev,
			char *errbuf, size_t errcap)
{
	struct pctx px = { errbuf, errcap };
	json_error_t jerr;
	json_t *root = NULL;
	int rc = -1;

	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	event_init(ev);
	if (body == NULL) {
		perr(&px, "no event body");
		goto out;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		perr(&px, "event is not JSON: %s at byte %d", jerr.text, jerr.position);
		goto out;
	}
	if (!json_is_object(root)) {
		perr(&px, "event is not a JSON object");
		goto out;
	}
	if (take_str(&px, json_object_get(root, "id"), "id", ev->id, sizeof(ev->id), 0) != 0 ||
	    take_str(&px, json_object_get(root, "type"), "type", ev->type, sizeof(ev->type), 0) != 0)
		goto out;
	if (ev->id[0] == '\0' || ev->type[0] == '\0') {
		perr(&px, "JSON is not a Stripe event: no id or no type");
		goto out;
	}
	ev->kind = kind_of(ev->type);
	/* Stripe does not deliver in order; "created" lets the ledger tell an
	 * older event about a subscription from a newer one. */
	json_t *created = json_object_get(root, "created");
	ev->created = json_is_integer(created) && json_integer_value(created) > 0 ? json_integer_value(created) : 0;
	if (ev->kind != LEDGER_NEWS_IGNORED && parse_object(&px, root, ev) != 0)
		goto out;
	rc = 0;
	assert(ev->id[0] != '\0' && ev->type[0] != '\0' && ev->created >= 0);
out:
	json_decref(root);
	if (rc != 0)
		reset_keep_ids(ev);
	return rc;
}
