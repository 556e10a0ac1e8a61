/* ledger_disputes.c: disputes of top-ups and the suspensions Stripe's news
 * calls for (DESIGN §10).
 *
 * A dispute takes back the credit its charge bought (journal cause
 * dispute; the balance may go negative) and, when won, gives it back
 * (cause dispute_won). Each dispute has one row, keyed by Stripe's dispute
 * id and written under the account's row lock, which says what it took and
 * gave back: however many events (duplicates, retries, other event ids,
 * out of order) tell of one dispute, each outcome has effect once. Never
 * takes back more than the top-up credited less what was refunded; never
 * lifts a suspension (an operator does). */
#include "ledger_hooks.h"
#include "ledger_events.h"
#include "log.h"
#include "webhook.h"
#include <string.h>
#include <strings.h>

/* Stronger reasons are kept over weaker ones: an admin's word over a
 * dispute's, a dispute's over an unpaid subscription's (the last may be
 * lifted by itself once paid). A suspension from before reasons were kept
 * counts as an admin's. */
static int reason_rank(const char *reason)
{
	if (strcmp(reason, "payment_failed") == 0)
		return 1;
	if (strcmp(reason, "dispute") == 0)
		return 2;
	return 3;
}

enum cd_err acct_suspend_for(struct ledger *lg, struct acct *a, const char *reason)
{
	static const char sql[] = "UPDATE accounts SET status = 'suspended', status_reason = ? WHERE id = ?";
	if (strcmp(a->status, "closed") == 0)
		return CD_OK;
	if (strcmp(a->status, "suspended") == 0 && reason_rank(a->status_reason) >= reason_rank(reason))
		return CD_OK;
	ledger_copy_text(a->status, sizeof(a->status), "suspended");
	ledger_copy_text(a->status_reason, sizeof(a->status_reason), reason);
	log_warn("account '%s' suspended: %s", a->ext_id, reason);
	return db_do(lg, sql, "suspend", "si", reason, a->id);
}

static int unpaid(const char *status)
{
	return status != NULL && (strcmp(status, "past_due") == 0 || strcmp(status, "unpaid") == 0);
}

enum cd_err hook_subscription_unpaid(struct ledger *lg, struct acct *a, const struct webhook_event *ev,
				     const char *previous_status)
{
	if (!unpaid(ev->subscription_status) || unpaid(previous_status))
		return CD_OK;
	enum cd_err rc = event_add(lg, a, EVENT_PAYMENT_FAILED, json_pack("{s:s, s:s, s:o}", "subscription",
				   ev->subscription, "status", ev->subscription_status, "previous_status",
				   previous_status != NULL ? json_string(previous_status) : json_null()));
	if (rc == CD_OK && lg->cfg->suspend_when_unpaid)
		rc = acct_suspend_for(lg, a, "payment_failed");
	return rc;
}

/* ---- disputes ---- */

/* The disputed top-up, its figures read under the account's lock. */
struct disputed {
	int64_t topup_id, account_id;
	int64_t credited, refunded, disputed;	/* micros */
	int64_t amount_cents, paid_cents;	/* paid_cents -1 when unknown */
	char currency[16];
	int found;				/* the dispute's row exists */
	char state[16];
	int64_t taken, returned;		/* the row's micros */
};

/* Finds the credited top-up of the dispute's charge (by payment intent,
 * else by charge id) and locks its account, the top-up and the dispute's
 * row, in that order. CD_E_NOT_FOUND: no top-up of creditd's. */
static enum cd_err dispute_lock(struct ledger *lg, const struct webhook_event *ev, struct acct *a, struct disputed *d)
{
	static const char sql_find[] = "SELECT id, account_id FROM topups WHERE status = 'credited' AND "
		"((? <> '' AND payment_intent = ?) OR (? <> '' AND charge_id = ?)) ORDER BY id LIMIT 1";
	static const char sql_topup[] = "SELECT credited_micros, refunded_micros, disputed_micros, amount_cents, "
		"COALESCE(paid_cents, -1), currency FROM topups WHERE id = ? FOR UPDATE";
	static const char sql_row[] = "SELECT state, taken_micros, returned_micros FROM disputes WHERE dispute_id = ? "
		"FOR UPDATE";
	int e;
	struct dbstmt *s = db_exec(lg, sql_find, &e, "ssss", ev->payment_intent, ev->payment_intent, ev->charge_id,
				   ev->charge_id);
	if (s == NULL)
		return db_err(lg, e, "dispute lookup");
	if (db_fetch(s) != 1)
		return CD_E_NOT_FOUND;
	d->topup_id = db_i64(s, 0);
	d->account_id = db_i64(s, 1);
	enum cd_err rc = acct_lock_id(lg, d->account_id, a);
	if (rc != CD_OK)
		return rc;
	s = db_exec(lg, sql_topup, &e, "i", d->topup_id);
	if (s == NULL || db_fetch(s) != 1)
		return s == NULL ? db_err(lg, e, "dispute top-up") : CD_E_INTERNAL;
	d->credited = db_i64(s, 0);
	d->refunded = db_i64(s, 1);
	d->disputed = db_i64(s, 2);
	d->amount_cents = db_i64(s, 3);
	d->paid_cents = db_i64(s, 4);
	ledger_copy_text(d->currency, sizeof(d->currency), db_str(s, 5));
	s = db_exec(lg, sql_row, &e, "s", ev->dispute_id);
	if (s == NULL)
		return db_err(lg, e, "dispute row");
	d->found = db_fetch(s) == 1;
	ledger_copy_text(d->state, sizeof(d->state), d->found ? db_str(s, 0) : "");
	d->taken = d->found ? db_i64(s, 1) : 0;
	d->returned = d->found ? db_i64(s, 2) : 0;
	return CD_OK;
}

/* The credit a dispute of `cents` takes back: the same share of the credit
 * as of what the buyer paid (tax and discounts bought no credit, so a
 * dispute of the whole charge takes the whole credit), rounded down; the
 * whole credit when the share cannot be told (another currency, no
 * amount). Never more than the credit left after refunds and other
 * disputes. */
static int64_t dispute_micros(const struct webhook_event *ev, const struct disputed *d)
{
	int64_t paid = d->paid_cents > 0 ? d->paid_cents : d->amount_cents;
	int64_t cents = ev->dispute_amount_cents, micros = d->credited;
	if (cents >= 0 && cents < paid && strcasecmp(ev->currency, d->currency) == 0)
		micros = (int64_t)((__int128)d->credited * cents / paid);
	int64_t left = d->credited - d->refunded - d->disputed;
	if (micros > left)
		micros = left;
	return micros > 0 ? micros : 0;
}

static enum cd_err dispute_take(struct ledger *lg, struct hook_run *h, struct acct *a, const struct disputed *d)
{
	static const char sql_row[] = "INSERT INTO disputes (dispute_id, topup_id, account_id, amount_cents, "
		"taken_micros, state, created_at) VALUES (?, ?, ?, ?, ?, 'open', ?) "
		"ON DUPLICATE KEY UPDATE taken_micros = VALUES(taken_micros)";
	static const char sql_topup[] = "UPDATE topups SET disputed_micros = disputed_micros + ?, "
		"charge_id = COALESCE(charge_id, ?) WHERE id = ?";
	const struct webhook_event *ev = h->ev;
	int64_t micros = dispute_micros(ev, d);
	int64_t cents = ev->dispute_amount_cents > 0 ? ev->dispute_amount_cents : 0;
	enum cd_err rc = db_do(lg, sql_row, "dispute record", "siiiii", ev->dispute_id, d->topup_id, a->id, cents,
			       micros, lg->now);
	if (rc == CD_OK && micros > 0)
		rc = ledger_spend(lg, a, micros, "dispute", 0, ev->dispute_id, "Stripe dispute", NULL);
	if (rc == CD_OK)
		rc = db_do(lg, sql_topup, "dispute top-up", "isi", micros, ev->charge_id[0] ? ev->charge_id : NULL,
			   d->topup_id);
	if (rc == CD_OK)
		rc = event_add(lg, a, EVENT_TOPUP_DISPUTED, json_pack("{s:s, s:s, s:s, s:I, s:I}", "dispute",
			       ev->dispute_id, "charge", ev->charge_id, "payment_intent", ev->payment_intent,
			       "amount_cents", (json_int_t)cents, "amount_micros", (json_int_t)micros));
	if (rc == CD_OK && lg->cfg->suspend_on_dispute)
		rc = acct_suspend_for(lg, a, "dispute");
	h->outcome = "disputed: credit taken back";
	return rc;
}

enum cd_err hook_dispute_created(struct ledger *lg, struct hook_run *h)
{
	struct acct a;
	struct disputed d;
	enum cd_err rc = dispute_lock(lg, h->ev, &a, &d);
	if (rc == CD_E_NOT_FOUND) {
		h->outcome = "ignored: no credited top-up for this charge";
		return CD_OK;
	}
	if (rc != CD_OK)
		return rc;
	h->account_id = a.id;
	/* Taken once; and a dispute closed before this event came (Stripe
	 * does not deliver in order) is taken only if it was lost. */
	if (!d.found || (strcmp(d.state, "lost") == 0 && d.taken == 0))
		rc = dispute_take(lg, h, &a, &d);
	else
		h->outcome = "duplicate: dispute applied already";
	return rc == CD_OK ? acct_save(lg, &a) : rc;
}

/* Gives back what the dispute took, once. */
static enum cd_err dispute_give(struct ledger *lg, struct hook_run *h, struct acct *a, const struct disputed *d)
{
	static const char sql_topup[] = "UPDATE topups SET disputed_micros = disputed_micros - ? WHERE id = ?";
	const struct webhook_event *ev = h->ev;
	int64_t micros = d->taken - d->returned, grant_id;
	enum cd_err rc = CD_OK;
	if (micros > 0)
		rc = ledger_add_grant_as(lg, a, "dispute_won", "topup", micros, ev->dispute_id, "Stripe dispute won",
					 &grant_id);
	if (rc == CD_OK && micros > 0)
		rc = db_do(lg, sql_topup, "dispute won top-up", "ii", micros, d->topup_id);
	if (rc == CD_OK)
		rc = event_add(lg, a, EVENT_TOPUP_DISPUTE_WON, json_pack("{s:s, s:s, s:s, s:I}", "dispute",
			       ev->dispute_id, "charge", ev->charge_id, "payment_intent", ev->payment_intent,
			       "amount_micros", (json_int_t)(micros > 0 ? micros : 0)));
	h->outcome = "dispute won: credit given back";
	return rc;
}

enum cd_err hook_dispute_closed(struct ledger *lg, struct hook_run *h)
{
	static const char sql_close[] = "INSERT INTO disputes (dispute_id, topup_id, account_id, amount_cents, "
		"state, created_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
		"state = VALUES(state), returned_micros = ?, closed_at = VALUES(closed_at)";
	const struct webhook_event *ev = h->ev;
	struct acct a;
	struct disputed d;
	enum cd_err rc = dispute_lock(lg, ev, &a, &d);
	if (rc == CD_E_NOT_FOUND) {
		h->outcome = "ignored: no credited top-up for this charge";
		return CD_OK;
	}
	if (rc != CD_OK)
		return rc;
	h->account_id = a.id;
	if (d.found && strcmp(d.state, "open") != 0) {
		h->outcome = "duplicate: dispute closed already";
		return a.dirty ? acct_save(lg, &a) : CD_OK;
	}
	/* An inquiry closed without becoming a chargeback (warning_closed)
	 * never took the funds: its credit comes back as for a dispute won. */
	int won = strcmp(ev->dispute_status, "won") == 0 || strcmp(ev->dispute_status, "warning_closed") == 0;
	const char *state = won ? "won" : strcmp(ev->dispute_status, "lost") == 0 ? "lost" : "closed";
	h->outcome = won ? "dispute won before it was applied" : "dispute closed: the credit stays taken";
	if (won && d.found)
		rc = dispute_give(lg, h, &a, &d);
	int64_t cents = ev->dispute_amount_cents > 0 ? ev->dispute_amount_cents : 0;
	if (rc == CD_OK)
		rc = db_do(lg, sql_close, "dispute close", "siiisiii", ev->dispute_id, d.topup_id, a.id, cents, state,
			   lg->now, lg->now, won ? d.taken : d.returned);
	return rc == CD_OK ? acct_save(lg, &a) : rc;
}
