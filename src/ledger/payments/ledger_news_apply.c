/* ledger_news_apply.c: the effects of a payment's news (ledger_news.h, from Stripe's webhooks): the dispatch, refunds, invoices
 * and subscriptions (Checkout top-ups are ledger_topups.c's, disputes
 * ledger_disputes.c's).
 *
 * A webhook's effect and its event id are written in one transaction: the
 * event row is inserted first (a concurrent duplicate waits on its key and
 * then sees it), so an event has effect at most once and is only "seen"
 * once its effect is committed. A Checkout session credits at most once,
 * whatever events name it: the topups row keyed by session id says so. */
#include "ledger_config.h"
#include "ledger_hooks.h"
#include "ledger_periods.h"
#include "ledger_events.h"
#include "ledger_payg.h"
#include "ledger_recharges.h"
#include "log.h"
#include "timefmt.h"
#include "ledger_news.h"
#include <assert.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Webhooks ---- */

/* Finds the account of a subscription event: metadata.account, else the
 * account that owns the Stripe customer. */
static enum cd_err account_for(struct store *db, const struct ledger_news *ev, struct acct *a)
{
	if (ev->account[0] != '\0')
		return ledger_due_lock(db, ev->account, a);
	int e;
	struct dbstmt *s = store_exec(db, "SELECT id FROM accounts WHERE stripe_customer_id = ?", &e, "s", ev->customer);
	if (s == NULL)
		return store_err(db, e, "customer lookup");
	if (ev->customer[0] == '\0' || store_fetch(s) != 1)
		return CD_E_NOT_FOUND;
	return ledger_due_lock_id(db, store_i64(s, 0), a);
}

/* The catalogued plan an invoice pays for: that of its price (or
 * metadata.plan), else the plan its subscription put the account on;
 * "" when neither is catalogued (the amount paid is credited then). */
static enum cd_err invoice_plan(struct store *db, const struct ledger_news *ev, char *plan)
{
	static const char sql[] = "SELECT plan FROM subscriptions WHERE subscription_id = ?";
	int e;
	enum cd_err rc = ledger_periods_plan_of(db, ev->plan, plan);
	if (rc != CD_OK || plan[0] != '\0')
		return rc;
	struct dbstmt *s = store_exec(db, sql, &e, "s", ev->subscription);
	if (s == NULL)
		return store_err(db, e, "subscription plan");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	return got == 1 && !store_null(s, 0) ? ledger_periods_plan_of(db, store_str(s, 0), plan) : CD_OK;
}

/* Whether the invoice was credited already: invoice_credits (migration
 * 026) holds one row an invoice, written with its grant, whatever account
 * the event resolved to. Read under the account's lock; two events of one
 * invoice resolved to two accounts and both missing it here are told
 * apart by the row's key (the second answers an error, and Stripe's retry
 * then finds the row). */
static enum cd_err invoice_credited(struct store *db, const char *invoice, int *found)
{
	int e;
	struct dbstmt *s = store_exec(db, "SELECT 1 FROM invoice_credits WHERE invoice_id = ?", &e, "s", invoice);
	if (s == NULL)
		return store_err(db, e, "invoice credit lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	*found = got == 1;
	return CD_OK;
}

/* Records what invoice ev paid for on locked account a (migration 030): its
 * payment intent and charge, what was paid, and the credit it bought
 * (credited micros: the invoice's own grant, grant_id, or its period's plan
 * credit, period_key), so that charge.refunded and charge.dispute.* of that
 * payment take the credit back as of a top-up
 * (docs/api.md, "POST /v1/webhooks/stripe"); then applies a dispute of the
 * payment that came before this credit. An invoice that names no payment (API
 * 2025-03-31 on) takes the one its invoice_payment.paid named, or gets it
 * when that comes. */
static enum cd_err invoice_record(struct store *db, const struct ledger_news *ev, struct acct *a,
				  const int64_t *grant_id, const int64_t *period_key, int64_t credited, int proration)
{
	static const char sql[] = "INSERT INTO invoice_credits (invoice_id, account_id, grant_id, period_key, "
				  "payment_intent, charge_id, paid_cents, currency, credited_micros, proration, created_at) "
				  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	char pi_news[LEDGER_NEWS_ID_MAX + 1], charge_news[LEDGER_NEWS_ID_MAX + 1];
	int e;
	assert(credited >= 0);
	const char *pi = ev->payment_intent[0] != '\0' ? ev->payment_intent : NULL;
	const char *charge = ev->charge_id[0] != '\0' ? ev->charge_id : NULL;
	if (pi == NULL && charge == NULL) {
		enum cd_err rc = ledger_invoice_pay_payment_of(db, ev, pi_news, charge_news, sizeof(pi_news));
		if (rc != CD_OK)
			return rc;
		pi = pi_news[0] != '\0' ? pi_news : NULL;
		charge = charge_news[0] != '\0' ? charge_news : NULL;
	}
	struct dbstmt *s = store_exec(db, sql, &e, "siIIssisiii", ev->invoice_id, a->id, grant_id, period_key, pi, charge,
				   ev->amount_paid_cents, ev->currency, credited, (int64_t)proration, db->now);
	if (s == NULL)
		return store_err(db, e, "invoice credit");
	struct funded f = {.kind = FUNDED_INVOICE, .id = (int64_t)store_insert_id(s), .account_id = a->id};
	return ledger_disputes_apply_waiting(db, a, &f, pi);
}

/* Whether a's plan period of this month is open already (locked). */
static enum cd_err period_is_open(struct store *db, const struct acct *a, int *open)
{
	static const char sql[] = "SELECT 1 FROM plan_periods WHERE account_id = ? AND period_key = ? FOR UPDATE";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", a->id, db->now_month);
	if (s == NULL)
		return store_err(db, e, "plan period open");
	*open = store_fetch(s) == 1;
	return CD_OK;
}

/* A catalogued plan's invoice: what it bought of its period's plan
 * credit (made by the invoice, the sweep or the plan being set, once a
 * period); recorded once per invoice. A proration (billing_reason
 * subscription_update: an upgrade) bought the difference it granted to a
 * period already open, and nothing when it opened the period itself
 * (Stripe bills on the subscription's date, not the 1st: the period's own
 * invoice comes later and buys it); any other invoice (the first, a
 * renewal) the period's credit less what the period's prorations bought.
 * upgraded: what this invoice granted to a period already open. */
static enum cd_err invoice_plan_record(struct store *db, const struct ledger_news *ev, struct acct *a,
				       int64_t upgraded)
{
	static const char sql[] = "SELECT p.credits_micros - COALESCE((SELECT SUM(ic.credited_micros) FROM "
				  "invoice_credits ic WHERE ic.account_id = p.account_id AND ic.period_key = p.period_key "
				  "AND ic.proration = 1), 0) FROM plan_periods p WHERE p.account_id = ? AND p.period_key = ?";
	int e, credited = 0;
	int64_t key = db->now_month, micros = 0;
	int proration = strcmp(ev->billing_reason, "subscription_update") == 0;
	enum cd_err rc = invoice_credited(db, ev->invoice_id, &credited);
	if (rc != CD_OK || credited)
		return rc;
	if (proration) {
		micros = upgraded;
	} else if (ev->amount_paid_cents > 0) {
		struct dbstmt *s = store_exec(db, sql, &e, "ii", a->id, key);
		if (s == NULL)
			return store_err(db, e, "plan period credit");
		micros = store_fetch(s) == 1 ? store_i64(s, 0) : 0;
	}
	return invoice_record(db, ev, a, NULL, &key, micros > 0 ? micros : 0, proration);
}

/* A price in no plan: the amount paid (micros at the top-up rate), for the
 * invoice's period, once per invoice (the grant's reference is the
 * invoice's id: an invoice event without one is refused when parsed).
 * Above the largest single grant (docs/api.md, "Money stays in range") nothing is credited: the
 * event is logged and acknowledged, as an invoice in the wrong currency is
 * (a retry would change nothing), with no outbox event. */
static enum cd_err invoice_credit_paid(struct store *db, struct hook_run *h, struct acct *a, int64_t micros)
{
	const struct ledger_news *ev = h->ev;
	int64_t grant_id, journal_id;
	int64_t expires = ev->period_end > 0 ? ev->period_end : -1;
	int credited = 0;
	/* invoice_paid answers a negative amount and parse_invoice an event
	 * without its id before this. */
	assert(micros >= 0);
	assert(ev->invoice_id[0] != '\0');
	if (micros > LIMIT_AMOUNT_MICROS_MAX) {
		log_warn("stripe event %s: invoice of %" PRId64 " cents is above the largest single grant (%lld "
			 "micros), not credited", ev->id, ev->amount_paid_cents, (long long)LIMIT_AMOUNT_MICROS_MAX);
		h->outcome = "not credited: above the largest single grant";
		return CD_OK;
	}
	enum cd_err rc = invoice_credited(db, ev->invoice_id, &credited);
	if (rc != CD_OK)
		return rc;
	if (credited) {
		h->outcome = "duplicate: invoice credited already";
		return CD_OK;
	}
	rc = ledger_rows_add_grant(db, a, "plan", micros, GRANT_PRIORITY_PLAN, expires, ev->invoice_id,
			      "subscription period", &grant_id, &journal_id);
	return rc == CD_OK ? invoice_record(db, ev, a, &grant_id, NULL, micros, 0) : rc;
}

static enum cd_err invoice_paid(struct store *db, struct hook_run *h)
{
	const struct ledger_news *ev = h->ev;
	struct acct a;
	int64_t micros = ledger_topups_cents_to_micros(db, ev->amount_paid_cents);
	if (ev->subscription[0] == '\0' || micros < 0) {
		h->outcome = "ignored: not a paid subscription invoice";
		return CD_OK;
	}
	if (strcasecmp(ev->currency, ledger_config_of(db->cfg)->stripe_currency) != 0) {
		log_warn("stripe event %s: invoice currency '%s' is not the configured one, not credited", ev->id,
			 ev->currency);
		h->outcome = "ignored: wrong currency";
		return CD_OK;
	}
	/* Plan credit lives for its period only: an event delivered after the
	 * period ended (Stripe retries for days) must not become a grant that
	 * never expires. */
	if (ev->period_end > 0 && ev->period_end <= db->now) {
		log_warn("stripe event %s: the invoice's period ended, no plan credit", ev->id);
		h->outcome = "ignored: period already over";
		return CD_OK;
	}
	enum cd_err rc = account_for(db, ev, &a);
	if (rc == CD_E_NOT_FOUND) {
		log_warn("stripe event %s: no account for customer '%s'", ev->id, ev->customer);
		h->outcome = "ignored: unknown account";
		return CD_OK;
	}
	char plan[LEDGER_NAME_MAX + 1];
	if (rc == CD_OK)
		rc = invoice_plan(db, ev, plan);
	if (rc != CD_OK)
		return rc;
	h->account_id = a.id;
	h->outcome = "plan credited";
	if (plan[0] != '\0') {
		/* A catalogued plan: its credits for this period, under the
		 * one-credit-per-period rule (the sweeper or the plan being set
		 * may have made it already). Never a later period's: its credit
		 * would be spendable now and its rollover read too early. */
		int64_t granted;
		int open = 0;
		rc = period_is_open(db, &a, &open);
		if (rc == CD_OK)
			rc = ledger_periods_credit(db, &a, plan, db->now, PERIOD_INVOICE, &granted);
		if (granted == 0)
			h->outcome = "ignored: the plan's credit for the period was already made";
		if (rc == CD_OK)
			rc = invoice_plan_record(db, ev, &a, open ? granted : 0);
	} else {
		rc = invoice_credit_paid(db, h, &a, micros);
	}
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	/* A refund of its payment that came first (a payment known by its
	 * invoice_payment.paid before); after the save: it locks and saves
	 * the account itself. */
	if (rc == CD_OK)
		rc = ledger_refunds_waiting_apply(db, h, ev->invoice_id);
	return rc;
}

/* The plan the account is on now, from its live subscriptions: an
 * upgrade credits the difference now (a first plan its period's credit),
 * a downgrade waits for the next. */
static enum cd_err plan_now(struct store *db, struct acct *a, const char *subscription)
{
	static const char sql_plan[] = "UPDATE accounts SET plan = (SELECT plan FROM subscriptions "
		"WHERE account_id = ? AND plan IS NOT NULL AND status IN ('active', 'trialing', 'past_due') "
		"ORDER BY subscription_id = ? DESC, updated_at DESC LIMIT 1) WHERE id = ?";
	int e;
	enum cd_err rc = store_do(db, sql_plan, "plan change", "isi", a->id, subscription, a->id);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *p = store_exec(db, "SELECT plan FROM accounts WHERE id = ?", &e, "i", a->id);
	if (p == NULL)
		return store_err(db, e, "plan read");
	ledger_rows_copy_text(a->plan, sizeof(a->plan), store_fetch(p) == 1 ? store_str(p, 0) : NULL);
	if (a->plan[0] == '\0')
		return CD_OK;
	a->dirty = 1;
	return ledger_periods_credit(db, a, a->plan, db->now, PERIOD_PLAN_SET, NULL);
}

/* The account's plan is that of its live subscriptions (this one first,
 * then the latest changed): cancelling an old subscription after moving
 * to a new one keeps the new plan, and a subscription that lapsed
 * (unpaid, incomplete_expired) or never started gives none. */
static enum cd_err subscription_changed(struct store *db, struct hook_run *h)
{
	static const char sql_sub[] = "INSERT INTO subscriptions (subscription_id, account_id, plan, status, "
		"current_period_end, updated_at, event_created) VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
		"plan = VALUES(plan), status = VALUES(status), current_period_end = VALUES(current_period_end), "
		"updated_at = VALUES(updated_at), event_created = VALUES(event_created)";
	static const char sql_last[] = "SELECT event_created, status FROM subscriptions WHERE subscription_id = ? "
				       "FOR UPDATE";
	const struct ledger_news *ev = h->ev;
	struct acct a;
	char previous[32] = "";
	int deleted = ev->kind == LEDGER_NEWS_SUBSCRIPTION_DELETED;
	enum cd_err rc = account_for(db, ev, &a);
	if (rc == CD_E_NOT_FOUND) {
		log_warn("stripe event %s: no account for customer '%s'", ev->id, ev->customer);
		h->outcome = "ignored: unknown account";
		return CD_OK;
	}
	if (rc != CD_OK || ev->subscription[0] == '\0')
		return rc;
	int e;
	struct dbstmt *s = store_exec(db, sql_last, &e, "s", ev->subscription);
	if (s == NULL)
		return store_err(db, e, "subscription lookup");
	int known = store_fetch(s) == 1;
	if (known && ev->created > 0 && ev->created < store_i64(s, 0)) {
		h->outcome = "ignored: older than the subscription's last event";
		return a.dirty ? ledger_events_acct_save(db, &a) : CD_OK;
	}
	if (known)
		ledger_rows_copy_text(previous, sizeof(previous), store_str(s, 1));
	/* A price in a catalogued plan (or metadata.plan naming one) puts the
	 * account on that plan; another is kept as the plan's label, as before
	 * the catalogue. */
	char catalogued[LEDGER_NAME_MAX + 1];
	rc = ledger_periods_plan_of(db, ev->plan, catalogued);
	if (rc != CD_OK)
		return rc;
	const char *plan = catalogued[0] ? catalogued : ev->plan[0] ? ev->plan : NULL;
	h->account_id = a.id;
	const int64_t *end = ev->period_end > 0 ? &ev->period_end : NULL;
	rc = store_do(db, sql_sub, "subscription store", "sissIii", ev->subscription, a.id, plan,
		   deleted ? "canceled" : ev->subscription_status, end, db->now, ev->created);
	if (rc == CD_OK)
		rc = plan_now(db, &a, ev->subscription);
	if (rc == CD_OK && !deleted)
		rc = ledger_disputes_subscription_unpaid(db, &a, ev, known ? previous : NULL);
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	h->outcome = deleted ? "subscription ended" : "subscription changed";
	return rc;
}

/* The locked account of a payment_intent event; CD_E_NOT_FOUND (an
 * account nobody has) is acknowledged and ignored by the caller. */
static enum cd_err payment_account(struct store *db, struct hook_run *h, struct acct *a)
{
	enum cd_err rc = account_for(db, h->ev, a);
	if (rc == CD_E_NOT_FOUND)
		h->outcome = "ignored: unknown account";
	else if (rc == CD_OK)
		h->account_id = a->id;
	return rc;
}

/* A pay-as-you-go collection's payment event: its row (0 when the event
 * names none of this account's), found by the month it collects. */
static enum cd_err collection_of(struct store *db, struct hook_run *h, const struct acct *a, int64_t *id)
{
	int64_t period = ledger_payg_period_parse(h->ev->period);
	*id = 0;
	enum cd_err rc = period > 0 ? ledger_payg_find(db, a, period, id) : CD_OK;
	if (rc == CD_OK && *id == 0)
		h->outcome = "ignored: no such collection";
	return rc;
}

/* payment_intent.succeeded of a collection: credited once, whichever of its
 * tries paid, for the amount that try asked
 * (docs/pay-as-you-go.md, "When the card is refused"). */
static enum cd_err collection_paid(struct store *db, struct hook_run *h, struct acct *a)
{
	int64_t id;
	int credited;
	enum cd_err rc = collection_of(db, h, a, &id);
	if (rc != CD_OK || id == 0)
		return rc;
	rc = ledger_payg_credit(db, a, id, h->ev->payment_intent, h->ev->amount_received_cents, &credited);
	h->outcome = credited > 0    ? "collection credited"
		     : credited == 0 ? "duplicate: collection credited already"
				     : "not credited: none of its tries, or not the amount asked for";
	return rc;
}

/* payment_intent.succeeded: an auto-recharge's or a collection's is
 * credited once; a top-up's that kept its card for later
 * (setup_future_usage off_session) saves the card on the account, for
 * auto-recharge and collection. */
static enum cd_err payment_succeeded(struct store *db, struct hook_run *h)
{
	static const char sql_card[] = "UPDATE accounts SET stripe_payment_method = ? WHERE id = ?";
	const struct ledger_news *ev = h->ev;
	int recharge = strcmp(ev->metadata_type, "auto_recharge") == 0 && ev->recharge_id > 0;
	int collection = strcmp(ev->metadata_type, "payg_collection") == 0;
	int card = strcmp(ev->metadata_type, "credit_topup") == 0 && ev->payment_method[0] != '\0' &&
		   strcmp(ev->setup_future_usage, "off_session") == 0;
	struct acct a;
	if (!recharge && !collection && !card) {
		h->outcome = "ignored: neither an auto-recharge, a collection nor a card kept for later";
		return CD_OK;
	}
	if ((recharge || collection) && strcasecmp(ev->currency, ledger_config_of(db->cfg)->stripe_currency) != 0) {
		log_warn("stripe event %s: payment currency '%s' is not the configured one", ev->id, ev->currency);
		h->outcome = "ignored: wrong currency";
		return CD_OK;
	}
	enum cd_err rc = payment_account(db, h, &a);
	if (rc != CD_OK)
		return rc == CD_E_NOT_FOUND ? CD_OK : rc;
	if (card) {
		rc = store_do(db, sql_card, "card save", "si", ev->payment_method, a.id);
		a.recharge_card = 1;
		h->outcome = "card saved for auto-recharge";
	} else if (collection) {
		rc = collection_paid(db, h, &a);
	} else {
		int credited;
		rc = ledger_recharges_credit(db, &a, ev->recharge_id, ev->payment_intent, ev->amount_received_cents, &credited);
		h->outcome = credited > 0    ? "auto-recharge credited"
			     : credited == 0 ? "duplicate: auto-recharge credited already"
					     : "not credited: above the largest single grant";
		/* Its refunds that came first, after the save: each locks and
		 * saves the account itself. */
		rc = rc == CD_OK ? ledger_events_acct_save(db, &a) : rc;
		return rc == CD_OK && credited > 0 ? ledger_refunds_waiting_apply_pi(db, h, ev->payment_intent) : rc;
	}
	return rc == CD_OK ? ledger_events_acct_save(db, &a) : rc;
}

static enum cd_err payment_failed(struct store *db, struct hook_run *h)
{
	const struct ledger_news *ev = h->ev;
	const char *why = ev->failure[0] ? ev->failure : "payment failed";
	struct acct a;
	int failed;
	int64_t id = 0;
	int collection = strcmp(ev->metadata_type, "payg_collection") == 0;
	if (!collection && (strcmp(ev->metadata_type, "auto_recharge") != 0 || ev->recharge_id <= 0)) {
		h->outcome = "ignored: neither an auto-recharge nor a collection";
		return CD_OK;
	}
	enum cd_err rc = payment_account(db, h, &a);
	if (rc != CD_OK)
		return rc == CD_E_NOT_FOUND ? CD_OK : rc;
	if (collection) {
		rc = collection_of(db, h, &a, &id);
		if (rc != CD_OK || id == 0)
			return rc;
		rc = ledger_payg_fail(db, &a, id, ev->payment_intent, why, &failed);
		h->outcome = failed ? "collection try failed" : "ignored: not the collection's current try";
	} else {
		rc = ledger_recharges_fail(db, &a, ev->recharge_id, why, &failed);
		h->outcome = failed ? "auto-recharge failed" : "ignored: the recharge ended already";
	}
	return rc == CD_OK ? ledger_events_acct_save(db, &a) : rc;
}

/* A top-up's credit (Checkout), then the refunds of its payment that
 * came first (kept in refunds_waiting), applied in its transaction as
 * if they came after it. */
static enum cd_err checkout_paid(struct store *db, struct hook_run *h)
{
	enum cd_err rc = ledger_topups_checkout_paid(db, h);
	if (rc == CD_OK && strcmp(h->outcome, "credited") == 0)
		rc = ledger_refunds_waiting_apply_pi(db, h, h->ev->payment_intent);
	return rc;
}

static enum cd_err hook_effect(struct store *db, struct hook_run *h)
{
	switch (h->ev->kind) {
	case LEDGER_NEWS_CHECKOUT_COMPLETED:
	case LEDGER_NEWS_CHECKOUT_ASYNC_SUCCEEDED:
		return checkout_paid(db, h);
	case LEDGER_NEWS_CHARGE_REFUNDED:
		return ledger_refunds_charge_refunded(db, h);
	case LEDGER_NEWS_INVOICE_PAID:
		/* A top-up's invoice (stripe.invoice_topups) is of no
		 * subscription: its URLs only, no credit. */
		return h->ev->subscription[0] != '\0' ? invoice_paid(db, h) : ledger_topups_invoice(db, h);
	case LEDGER_NEWS_INVOICE_FINALIZED:
		return ledger_topups_invoice(db, h);
	case LEDGER_NEWS_INVOICE_PAYMENT_PAID:
		return ledger_invoice_pay_paid(db, h);
	case LEDGER_NEWS_CHARGE_RECEIPT:
		return ledger_topups_receipt(db, h);
	case LEDGER_NEWS_SUBSCRIPTION_UPDATED:
	case LEDGER_NEWS_SUBSCRIPTION_DELETED:
		return subscription_changed(db, h);
	case LEDGER_NEWS_PAYMENT_SUCCEEDED:
		return payment_succeeded(db, h);
	case LEDGER_NEWS_PAYMENT_FAILED:
		return payment_failed(db, h);
	case LEDGER_NEWS_DISPUTE_CREATED:
		return ledger_disputes_created(db, h);
	case LEDGER_NEWS_DISPUTE_CLOSED:
		return ledger_disputes_closed(db, h);
	case LEDGER_NEWS_IGNORED:
		break;
	}
	return CD_OK;
}

/* The row that claims the event id, written first, with the
 * transaction's mark on Galera (store_mark_row, sql/085: a webhook that
 * locks no account, a dispute or a refund kept for its credit, is told
 * of an abort Galera did not tell by it); NULL with *e when not written. */
static struct dbstmt *event_claim(struct store *db, const struct ledger_news *ev, int *e)
{
	static const char sql[] = "INSERT INTO stripe_events (event_id, type, received_at, tx_mark) VALUES (?, ?, ?, ?)";
	static const char sql_before_085[] = "INSERT INTO stripe_events (event_id, type, received_at) VALUES (?, ?, ?)";
	static const char sql_mark[] = "SELECT tx_mark FROM stripe_events WHERE event_id = ?";
	static atomic_int unmarked;	/* stripe_events.tx_mark missing: said once */
	struct dbstmt *s = NULL;
	if (!atomic_load(&unmarked)) {
		s = store_exec(db, sql, e, "ssii", ev->id, ev->type, db->now, store_mark_value(db));
		if (s != NULL)
			store_mark_row(db, sql_mark, ev->id);
		if (s != NULL || *e != ER_BAD_FIELD_ERROR)
			return s;
		if (!atomic_exchange(&unmarked, 1))
			log_error("event record: stripe_events.tx_mark is missing: run creditctl migrate (085), then "
				  "restart; until then a Galera abort not told to a webhook that locks no account is "
				  "not caught before the commit");
	}
	return store_exec(db, sql_before_085, e, "ssi", ev->id, ev->type, db->now);
}

static enum cd_err webhook_tx(struct store *db, struct hook_run *h)
{
	static const char sql_account[] = "UPDATE stripe_events SET account_id = ? WHERE event_id = ?";
	int e;
	h->outcome = "ignored";
	h->account_id = 0;
	struct dbstmt *s = event_claim(db, h->ev, &e);
	if (s == NULL && e == ER_DUP_ENTRY) {
		h->outcome = "duplicate: event already processed";
		return CD_OK;
	}
	if (s == NULL)
		return store_err(db, e, "event record");
	/* The effects' journal rows record the event id: each event has
	 * effect once. */
	db->journal_key = h->ev->id;
	/* Who acted (docs/api.md, "`actor` names who wrote the row"). */
	db->actor = "stripe";
	enum cd_err rc = hook_effect(db, h);
	db->journal_key = NULL;
	db->actor = NULL;
	/* Which account an event changed is known only once its effect is
	 * decided, after the row that claims the event id was written. */
	if (rc == CD_OK && h->account_id > 0)
		rc = store_do(db, sql_account, "event account", "is", h->account_id, h->ev->id);
	return rc;
}

enum cd_err ledger_news_apply(struct store *db, const struct ledger_news *ev, const char **outcome)
{
	struct hook_run h = {ev, "ignored", 0};
	struct store_tx t;
	assert(ev->id[0] != '\0');	/* the event id that makes it happen once (parsed, checked) */
	assert(outcome != NULL);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, webhook_tx(db, &h));
	*outcome = h.outcome;
	assert(*outcome != NULL);
	return t.rc;
}
