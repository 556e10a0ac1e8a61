/* ledger_disputes.c: disputes of Stripe-funded credits (Checkout top-ups
 * and auto-recharges, ledger_funded.h) and the suspensions Stripe's news
 * calls for (docs/decisions.md, "Disputes").
 *
 * A dispute takes back the credit its charge bought (journal cause
 * dispute; the balance may go negative) and, when won, gives it back
 * (cause dispute_won). Each dispute has one row, keyed by Stripe's dispute
 * id and written under the account's row lock, which says what it took and
 * gave back: however many events (duplicates, retries, other event ids,
 * out of order) tell of one dispute, each outcome has effect once. Never
 * takes back more than the credit less what was refunded; a refund made
 * while a dispute holds the credit takes over what the dispute held, so a
 * win gives back only the rest. A dispute that comes before its credit
 * waits in its row, by payment intent, and is applied with the credit.
 * Never lifts a suspension (an operator does). Locks: the account, then
 * the credit's row, then dispute rows. */
#include "ledger_config.h"
#include "ledger_hooks.h"
#include "ledger_referrals.h"
#include "ledger_events.h"
#include "ledger_funded.h"
#include "money_rule.h"
#include "log.h"
#include "ledger_news.h"
#include <assert.h>
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

enum cd_err ledger_disputes_suspend_for(struct store *db, struct acct *a, const char *reason)
{
	static const char sql[] = "UPDATE accounts SET status = 'suspended', status_reason = ? WHERE id = ?";
	assert(reason != NULL);
	assert(a->id > 0);
	if (strcmp(a->status, "closed") == 0)
		return CD_OK;
	if (strcmp(a->status, "suspended") == 0 && reason_rank(a->status_reason) >= reason_rank(reason))
		return CD_OK;
	ledger_rows_copy_text(a->status, sizeof(a->status), "suspended");
	ledger_rows_copy_text(a->status_reason, sizeof(a->status_reason), reason);
	log_warn("account '%s' suspended: %s", a->ext_id, reason);
	enum cd_err rc = store_do(db, sql, "suspend", "si", reason, a->id);
	assert(rc != CD_OK || strcmp(a->status_reason, reason) == 0);
	return rc;
}

enum cd_err ledger_disputes_open_on(struct store *db, const struct acct *a, int *open)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM disputes d WHERE d.account_id = ? AND d.state = 'open')";
	int e;
	assert(a->id > 0);
	*open = strcmp(a->status_reason, "dispute") == 0;
	if (*open)
		return CD_OK;
	struct dbstmt *s = store_exec(db, sql, &e, "i", a->id);
	if (s == NULL)
		return store_err(db, e, "open disputes");
	*open = store_fetch(s) == 1 && store_i64(s, 0) != 0;
	assert(*open == 0 || *open == 1);
	return CD_OK;
}

static int unpaid(const char *status)
{
	return status != NULL && (strcmp(status, "past_due") == 0 || strcmp(status, "unpaid") == 0);
}

enum cd_err ledger_disputes_subscription_unpaid(struct store *db, struct acct *a, const struct ledger_news *ev,
				     const char *previous_status)
{
	assert(ev->subscription[0] != '\0');	/* the caller's subscription event names one */
	assert(a->locked_tx == db->tx_serial);
	if (!unpaid(ev->subscription_status) || unpaid(previous_status))
		return CD_OK;
	enum cd_err rc = ledger_events_add(db, a, EVENT_PAYMENT_FAILED, json_pack("{s:s, s:s, s:o}", "subscription",
				   ev->subscription, "status", ev->subscription_status, "previous_status",
				   previous_status != NULL ? json_string(previous_status) : json_null()));
	if (rc == CD_OK && ledger_config_of(db->cfg)->suspend_when_unpaid)
		rc = ledger_disputes_suspend_for(db, a, "payment_failed");
	return rc;
}

/* ---- disputes ---- */

/* What Stripe says of one dispute: its event's, or that of a dispute's
 * row kept before its credit came. */
struct dispute_news {
	const char *id, *charge, *payment_intent, *currency;
	int64_t cents;		/* the disputed amount; -1 unknown */
};

/* The disputed credit and the dispute's row, read under the account's lock. */
struct disputed {
	struct funded f;
	int found;		/* the dispute's row exists */
	char state[16];
	int64_t taken, returned;	/* the row's micros */
};

static void news_of(const struct ledger_news *ev, struct dispute_news *n)
{
	n->id = ev->dispute_id;
	n->charge = ev->charge_id;
	n->payment_intent = ev->payment_intent;
	n->currency = ev->currency;
	n->cents = ev->dispute_amount_cents;
}

static const char *or_null(const char *text)
{
	return text != NULL && text[0] != '\0' ? text : NULL;
}

/* Finds the credit of the dispute's charge (by payment intent, else by
 * charge id) and locks its account, the credit's row and the dispute's
 * row, in that order; with k, the referral the disputed top-up rewarded
 * (ledger_referrals_lock). CD_E_NOT_FOUND:
 * no credit of creditd's. */
static enum cd_err dispute_lock(struct store *db, const struct ledger_news *ev, struct acct *a, struct disputed *d,
				struct referral_lock *k)
{
	static const char sql_row[] = "SELECT state, taken_micros, returned_micros FROM disputes WHERE dispute_id = ? "
		"FOR UPDATE";
	int e;
	enum cd_err rc = ledger_funded_find(db, ev->payment_intent, ev->charge_id, &d->f);
	if (rc == CD_OK && k != NULL)
		rc = ledger_referrals_lock(db, d->f.account_id, d->f.kind == FUNDED_TOPUP ? d->f.id : -1, a, k);
	else if (rc == CD_OK)
		rc = ledger_due_lock_id(db, d->f.account_id, a);
	if (rc == CD_OK)
		rc = ledger_funded_lock(db, &d->f);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, sql_row, &e, "s", ev->dispute_id);
	if (s == NULL)
		return store_err(db, e, "dispute row");
	d->found = store_fetch(s) == 1;
	ledger_rows_copy_text(d->state, sizeof(d->state), d->found ? store_str(s, 0) : "");
	d->taken = d->found ? store_i64(s, 1) : 0;
	d->returned = d->found ? store_i64(s, 2) : 0;
	return CD_OK;
}

/* The credit a dispute of n->cents takes back (money_rule_dispute_take). */
static int64_t dispute_micros(const struct dispute_news *n, const struct funded *f)
{
	struct dispute_case c = {.credited = f->credited, .refunded = f->refunded, .disputed = f->disputed,
				 .paid_cents = f->paid_cents > 0 ? f->paid_cents : f->amount_cents, .cents = n->cents,
				 .same_currency = strcasecmp(n->currency, f->currency) == 0};
	return money_rule_dispute_take(&c);
}

/* Takes back the dispute's share of f's credit (f's row locked, its
 * figures follow) and writes the dispute's row as open, or keeps the
 * state of a row that waited. */
static enum cd_err dispute_take(struct store *db, struct acct *a, struct funded *f, const struct dispute_news *n)
{
	static const char sql_row[] = "INSERT INTO disputes (dispute_id, topup_id, recharge_id, invoice_credit_id, "
		"account_id, payment_intent, charge_id, currency, amount_cents, taken_micros, state, created_at) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) ON DUPLICATE KEY UPDATE topup_id = VALUES(topup_id), "
		"recharge_id = VALUES(recharge_id), invoice_credit_id = VALUES(invoice_credit_id), "
		"account_id = VALUES(account_id), taken_micros = VALUES(taken_micros)";
	int64_t micros = dispute_micros(n, f);
	int64_t cents = n->cents > 0 ? n->cents : 0;
	enum cd_err rc = store_do(db, sql_row, "dispute record", "sIIIisssiii", n->id, funded_id_as(f, FUNDED_TOPUP),
			       funded_id_as(f, FUNDED_RECHARGE), funded_id_as(f, FUNDED_INVOICE), a->id,
			       or_null(n->payment_intent), or_null(n->charge), n->currency, cents, micros, db->now);
	if (rc == CD_OK && micros > 0)
		rc = ledger_rows_spend(db, a, micros, "dispute", 0, n->id, "Stripe dispute", NULL);
	if (rc == CD_OK)
		rc = ledger_funded_change(db, f, 0, 0, micros, n->charge);
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_TOPUP_DISPUTED, json_pack("{s:s, s:s, s:s, s:I, s:I}", "dispute", n->id,
			       "charge", n->charge, "payment_intent", n->payment_intent, "amount_cents",
			       (json_int_t)cents, "amount_micros", (json_int_t)micros));
	if (rc == CD_OK && ledger_config_of(db->cfg)->suspend_on_dispute)
		rc = ledger_disputes_suspend_for(db, a, "dispute");
	return rc;
}

/* A dispute of a payment creditd has not credited: its row waits, by
 * payment intent, with no credit and no account, in state (open, or how
 * it closed), and ledger_disputes_apply_waiting applies it with the credit. A
 * credit committed after ledger_funded_find looked is seen by the locking read
 * at the end (it waits for a credit being written): the transaction then
 * starts again and finds it. A dispute of a payment that is not creditd's
 * waits for ever and changes nothing. */
static enum cd_err dispute_keep(struct store *db, struct hook_run *h, const char *state)
{
	static const char sql_row[] = "SELECT state, account_id IS NULL FROM disputes WHERE dispute_id = ? FOR UPDATE";
	static const char sql_new[] = "INSERT INTO disputes (dispute_id, payment_intent, charge_id, currency, "
		"amount_cents, state, created_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	static const char sql_close[] = "UPDATE disputes SET state = ?, closed_at = ? WHERE dispute_id = ?";
	const struct ledger_news *ev = h->ev;
	int closing = strcmp(state, "open") != 0, e, credited;
	if (ev->payment_intent[0] == '\0') {
		h->outcome = "ignored: no credit for this charge";
		return CD_OK;
	}
	struct dbstmt *s = store_exec(db, sql_row, &e, "s", ev->dispute_id);
	if (s == NULL)
		return store_err(db, e, "dispute kept");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	enum cd_err rc = CD_OK;
	h->outcome = "duplicate: dispute kept already";
	if (got == 0) {
		int64_t cents = ev->dispute_amount_cents > 0 ? ev->dispute_amount_cents : 0;
		rc = store_do(db, sql_new, "dispute keep", "ssssisiI", ev->dispute_id, ev->payment_intent,
			   or_null(ev->charge_id), ev->currency, cents, state, db->now, closing ? &db->now : NULL);
		h->outcome = "kept: no credit for this payment yet, applied when it comes";
	} else if (closing && strcmp(store_str(s, 0), "open") == 0 && store_i64(s, 1) != 0) {
		rc = store_do(db, sql_close, "dispute keep closed", "sis", state, db->now, ev->dispute_id);
		h->outcome = "kept: closed before its payment was credited";
	}
	if (rc == CD_OK)
		rc = ledger_funded_meet(db, ev->payment_intent);
	if (rc == CD_OK)
		rc = ledger_funded_credited_now(db, ev->payment_intent, &credited);
	return rc == CD_OK && credited ? store_retry(db, RETRY_RACE) : rc;
}

enum cd_err ledger_disputes_created(struct store *db, struct hook_run *h)
{
	struct acct a;
	struct disputed d;
	struct dispute_news n;
	struct referral_lock k;
	assert(h->ev->dispute_id[0] != '\0');	/* a dispute event without its id is refused when parsed */
	enum cd_err rc = dispute_lock(db, h->ev, &a, &d, &k);
	if (rc == CD_E_NOT_FOUND)
		return dispute_keep(db, h, "open");
	if (rc != CD_OK)
		return rc;
	assert(a.locked_tx == db->tx_serial);
	const int64_t before = a.balance;
	h->account_id = a.id;
	/* Taken once; and a dispute closed before this event came (Stripe
	 * does not deliver in order) is taken only if it was lost. */
	news_of(h->ev, &n);
	if (money_rule_dispute_opens(d.found, strcmp(d.state, "lost") == 0, d.taken)) {
		/* A dispute of the top-up that rewarded a referral takes the
		 * reward back first (never given back, even if the dispute is
		 * won): the dispute's own take is of the top-up's credit, which
		 * the referral's grants (spent first) must not pay. */
		rc = ledger_referrals_take(db, &a, &k, d.f.kind == FUNDED_TOPUP ? d.f.id : -1, "dispute", n.id);
		if (rc == CD_OK)
			rc = dispute_take(db, &a, &d.f, &n);
		h->outcome = "disputed: credit taken back";
	} else {
		h->outcome = "duplicate: dispute applied already";
	}
	rc = rc == CD_OK ? ledger_events_acct_save(db, &a) : rc;
	rc = rc == CD_OK ? ledger_referrals_save(db, &a, &k) : rc;
	assert(rc != CD_OK || a.balance <= before);	/* a dispute only takes back */
	return rc;
}

/* Gives back micros, what the won dispute holds (money_rule_dispute_close). */
static enum cd_err dispute_give(struct store *db, struct hook_run *h, struct acct *a, struct disputed *d,
				int64_t micros)
{
	const struct ledger_news *ev = h->ev;
	int64_t grant_id;
	enum cd_err rc = CD_OK;
	if (micros > 0)
		rc = ledger_rows_add_grant_as(db, a, "dispute_won", "topup", micros, ev->dispute_id, "Stripe dispute won",
					 &grant_id);
	if (rc == CD_OK && micros > 0)
		rc = ledger_funded_change(db, &d->f, 0, 0, -micros, NULL);
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_TOPUP_DISPUTE_WON, json_pack("{s:s, s:s, s:s, s:I}", "dispute",
			       ev->dispute_id, "charge", ev->charge_id, "payment_intent", ev->payment_intent,
			       "amount_micros", (json_int_t)(micros > 0 ? micros : 0)));
	h->outcome = "dispute won: credit given back";
	return rc;
}

enum cd_err ledger_disputes_closed(struct store *db, struct hook_run *h)
{
	static const char sql_close[] = "INSERT INTO disputes (dispute_id, topup_id, recharge_id, invoice_credit_id, "
		"account_id, payment_intent, charge_id, currency, amount_cents, state, created_at, closed_at) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
		"state = VALUES(state), returned_micros = ?, closed_at = VALUES(closed_at)";
	const struct ledger_news *ev = h->ev;
	/* An inquiry closed without becoming a chargeback (warning_closed)
	 * never took the funds: its credit comes back as for a dispute won. */
	int won = strcmp(ev->dispute_status, "won") == 0 || strcmp(ev->dispute_status, "warning_closed") == 0;
	const char *state = won ? "won" : strcmp(ev->dispute_status, "lost") == 0 ? "lost" : "closed";
	struct acct a;
	struct disputed d;
	assert(ev->dispute_id[0] != '\0');
	enum cd_err rc = dispute_lock(db, ev, &a, &d, NULL);
	if (rc == CD_E_NOT_FOUND)
		return dispute_keep(db, h, state);
	if (rc != CD_OK)
		return rc;
	assert(a.locked_tx == db->tx_serial);
	const int64_t before = a.balance;
	h->account_id = a.id;
	if (d.found && strcmp(d.state, "open") != 0) {
		h->outcome = "duplicate: dispute closed already";
		return a.dirty ? ledger_events_acct_save(db, &a) : CD_OK;
	}
	h->outcome = won ? "dispute won before it was applied" : "dispute closed: the credit stays taken";
	int64_t returned;
	int64_t give = money_rule_dispute_close(won, d.taken, d.returned, &returned);
	if (won && d.found)
		rc = dispute_give(db, h, &a, &d, give);
	int64_t cents = ev->dispute_amount_cents > 0 ? ev->dispute_amount_cents : 0;
	if (rc == CD_OK)
		rc = store_do(db, sql_close, "dispute close", "sIIIisssisiii", ev->dispute_id, funded_id_as(&d.f, FUNDED_TOPUP),
			   funded_id_as(&d.f, FUNDED_RECHARGE), funded_id_as(&d.f, FUNDED_INVOICE), a.id,
			   or_null(ev->payment_intent), or_null(ev->charge_id), ev->currency, cents, state, db->now,
			   db->now, returned);
	rc = rc == CD_OK ? ledger_events_acct_save(db, &a) : rc;
	/* A close gives back (won) or leaves the balance: it never takes. */
	assert(rc != CD_OK || a.balance >= before);
	assert(rc != CD_OK || won || a.balance == before);
	return rc;
}

/* ---- what refunds and credits ask of disputes (ledger_hooks.h) ---- */

enum cd_err ledger_disputes_yield(struct store *db, const struct funded *f, int64_t micros, int64_t *moved)
{
	static const char sql_topup[] = "SELECT dispute_id, taken_micros FROM disputes WHERE topup_id = ? "
		"AND state = 'open' AND taken_micros > 0 ORDER BY created_at, dispute_id LIMIT ? FOR UPDATE";
	static const char sql_recharge[] = "SELECT dispute_id, taken_micros FROM disputes WHERE recharge_id = ? "
		"AND state = 'open' AND taken_micros > 0 ORDER BY created_at, dispute_id LIMIT ? FOR UPDATE";
	static const char sql_invoice[] = "SELECT dispute_id, taken_micros FROM disputes WHERE invoice_credit_id = ? "
		"AND state = 'open' AND taken_micros > 0 ORDER BY created_at, dispute_id LIMIT ? FOR UPDATE";
	static const char sql_set[] = "UPDATE disputes SET taken_micros = taken_micros - ? WHERE dispute_id = ?";
	char ids[LIMIT_DISPUTES_PER_PAYMENT][LEDGER_NEWS_ID_MAX + 1];
	int64_t held[LIMIT_DISPUTES_PER_PAYMENT];
	int n = 0, e;
	assert(micros > 0);	/* asked for only when a dispute holds some of the refund */
	assert(f->id > 0);
	*moved = 0;
	const char *sql = f->kind == FUNDED_RECHARGE ? sql_recharge : f->kind == FUNDED_INVOICE ? sql_invoice : sql_topup;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", f->id,
				   (int64_t)LIMIT_DISPUTES_PER_PAYMENT);
	if (s == NULL)
		return store_err(db, e, "dispute yield");
	while (n < LIMIT_DISPUTES_PER_PAYMENT && store_fetch(s) == 1) {
		ledger_rows_copy_text(ids[n], sizeof(ids[n]), store_str(s, 0));
		held[n++] = store_i64(s, 1);
	}
	int64_t parts[LIMIT_DISPUTES_PER_PAYMENT];
	money_rule_dispute_yield(held, n, micros, parts);
	enum cd_err rc = CD_OK;
	for (int i = 0; i < n && rc == CD_OK; i++) {
		if (parts[i] > 0)
			rc = store_do(db, sql_set, "dispute yield", "is", parts[i], ids[i]);
		if (rc == CD_OK)
			*moved += parts[i];
	}
	assert(*moved >= 0);
	assert(*moved <= micros);
	return rc;
}

enum cd_err ledger_disputes_waiting(struct store *db, const char *payment_intent, struct disputes_waiting *w)
{
	static const char sql[] = "SELECT dispute_id, COALESCE(charge_id, ''), COALESCE(currency, ''), amount_cents, "
		"state IN ('open', 'lost') FROM disputes WHERE payment_intent = ? AND account_id IS NULL "
		"ORDER BY created_at, dispute_id LIMIT ? FOR UPDATE";
	int e;
	w->n = 0;
	if (payment_intent == NULL || payment_intent[0] == '\0')
		return CD_OK;
	enum cd_err rc = ledger_funded_meet(db, payment_intent);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, sql, &e, "si", payment_intent, (int64_t)LIMIT_DISPUTES_PER_PAYMENT);
	if (s == NULL)
		return store_err(db, e, "disputes waiting");
	while (w->n < LIMIT_DISPUTES_PER_PAYMENT && store_fetch(s) == 1) {
		struct dispute_waiting *x = &w->w[w->n++];
		ledger_rows_copy_text(x->id, sizeof(x->id), store_str(s, 0));
		ledger_rows_copy_text(x->charge, sizeof(x->charge), store_str(s, 1));
		ledger_rows_copy_text(x->currency, sizeof(x->currency), store_str(s, 2));
		x->cents = store_i64(s, 3);
		x->take = store_i64(s, 4) != 0;
	}
	assert(w->n >= 0 && w->n <= LIMIT_DISPUTES_PER_PAYMENT);
	return CD_OK;
}

enum cd_err ledger_disputes_apply_read(struct store *db, struct acct *a, struct funded *f, const char *payment_intent,
				       const struct disputes_waiting *w)
{
	static const char sql_attach[] = "UPDATE disputes SET topup_id = ?, recharge_id = ?, invoice_credit_id = ?, "
		"account_id = ? WHERE dispute_id = ?";
	/* Just credited, on its account locked in this transaction. */
	assert(f->account_id == a->id);
	assert(a->locked_tx == db->tx_serial);
	const int64_t before = a->balance;
	enum cd_err rc = w->n > 0 ? ledger_funded_lock(db, f) : CD_OK;
	for (int i = 0; i < w->n && rc == CD_OK; i++) {
		const struct dispute_waiting *x = &w->w[i];
		struct dispute_news news = {x->id, x->charge, payment_intent, x->currency, x->cents > 0 ? x->cents : -1};
		if (x->take)
			rc = dispute_take(db, a, f, &news);
		else
			rc = store_do(db, sql_attach, "dispute attach", "IIIis", funded_id_as(f, FUNDED_TOPUP),
				   funded_id_as(f, FUNDED_RECHARGE), funded_id_as(f, FUNDED_INVOICE), a->id, x->id);
	}
	assert(rc != CD_OK || a->balance <= before);	/* a dispute that waited only takes back */
	return rc;
}

enum cd_err ledger_disputes_apply_waiting(struct store *db, struct acct *a, struct funded *f, const char *payment_intent)
{
	struct disputes_waiting w;
	enum cd_err rc = ledger_disputes_waiting(db, payment_intent, &w);
	return rc == CD_OK ? ledger_disputes_apply_read(db, a, f, payment_intent, &w) : rc;
}
