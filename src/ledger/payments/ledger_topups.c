/* ledger_topups.c: Checkout top-ups, from the request to the credit
 * (docs/api.md, "POST /v1/webhooks/stripe"; docs/decisions.md, "Sessions made elsewhere").
 *
 * Owns the topups rows: one is written, under the account's row lock,
 * before Stripe is asked for anything, and stays whatever Stripe answers
 * (status 'failed' when no session came of it), so that top-ups per hour
 * count every attempt that reached Stripe exactly; it gets its session id
 * when Stripe answers, and is credited once when a signed event for that
 * session agrees with it. An Idempotency-Key is decided on its rows before
 * anything is counted or sent: another body is 409, an open session is
 * answered again, and Stripe never hears a key reused. The record is the
 * truth: the credit goes to its account, for the credit it quoted when it
 * started (amount_cents at the rate of that moment); the event only
 * confirms. Never credits a session it has no record of, nor one whose
 * event disagrees: those write topup.mismatch and change no balance.
 * The credit is one load (credit_load), one decision (money_topup_credit,
 * src/money) and the writes of what it decided (docs/architecture.md,
 * "How far each operation is from one shape"). */
#include "ledger_alerts.h"
#include "ledger_config.h"
#include "ledger_hooks.h"
#include "ledger_events.h"
#include "ledger_referrals.h"
#include "log.h"
#include "ledger_news.h"
#include "money_topup.h"
#include "store_write.h"
#include <assert.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int64_t ledger_topups_cents_to_micros(const struct store *db, int64_t cents)
{
	return money_topup_micros(cents, ledger_config_of(db->cfg)->topup_rate);
}

/* stripe.topups_per_hour, counted on the account's locked row over
 * every attempt of the window (ix_account_created), failed ones included:
 * CD_OK, or CD_E_RATE_LIMITED with the seconds until the oldest attempt
 * of the window leaves it. */
static enum cd_err topup_rate(struct store *db, const struct acct *a, struct topup_begin *t)
{
	static const char sql[] = "SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM topups "
				  "WHERE account_id = ? AND created_at > ?";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", a->id, db->now - LIMIT_TOPUP_WINDOW_SECONDS);
	if (s == NULL)
		return store_err(db, e, "topup count");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	if (store_i64(s, 0) < ledger_config_of(db->cfg)->topups_per_hour)
		return CD_OK;
	int64_t wait = store_i64(s, 1) + LIMIT_TOPUP_WINDOW_SECONDS - db->now;
	t->retry_after_seconds = wait > 0 ? wait : 1;
	return CD_E_RATE_LIMITED;
}

/* The longest a top-up request may spend calling Stripe: its customer
 * call tried LIMIT_STRIPE_BUSY_RETRIES more times (with the waits
 * between), its session call once, each within the configured timeouts;
 * plus a margin for the database around them. */
static int64_t inflight_seconds(const struct ledger_config *c)
{
	int64_t waits_ms = 0;
	for (int i = 1; i <= LIMIT_STRIPE_BUSY_RETRIES; i++)
		waits_ms += (int64_t)LIMIT_STRIPE_BUSY_WAIT_MS * i;
	int64_t calls_ms = (LIMIT_STRIPE_BUSY_RETRIES + 2) * (c->stripe_connect_timeout_ms + c->stripe_timeout_ms);
	return (calls_ms + waits_ms) / 1000 + 1 + LIMIT_TOPUP_INFLIGHT_MARGIN_SECONDS;
}

/* What the key's latest top-up (the row read by topup_by_key) says of
 * this request; CD_E_NOT_FOUND: nothing, a new attempt is due. */
static enum cd_err key_decides(struct store *db, struct dbstmt *s, struct topup_begin *t)
{
	if (store_len(s, 0) != 32 || memcmp(store_str(s, 0), t->request_hash, 32) != 0) {
		t->busy = 0;
		return CD_E_CONFLICT;
	}
	if (!store_null(s, 2) && !store_null(s, 3) && store_copy(s, 2, t->session_id, sizeof(t->session_id), "") == 0 &&
	    store_copy(s, 3, t->checkout_url, sizeof(t->checkout_url), "") == 0) {
		t->replayed = 1;
		t->amount_cents = store_i64(s, 4);
		t->quoted_micros = store_i64(s, 5);
		return CD_OK;
	}
	/* A failed attempt answered 502 and stored no answer: the key may
	 * be tried again, and that attempt counts like any other. So may one
	 * that still has no session past the longest a request may call
	 * Stripe: its process died mid-call. */
	const char *status = store_str(s, 1);
	int64_t inflight = inflight_seconds(ledger_config_of(db->cfg));
	if (status != NULL && strcmp(status, "pending") == 0 && store_i64(s, 6) > db->now - inflight) {
		t->busy = 1;
		return CD_E_CONFLICT;
	}
	return CD_E_NOT_FOUND;
}

/* The client's Idempotency-Key, decided on its latest top-up before anything
 * is counted or sent to Stripe
 * (docs/decisions.md, "A top-up's Idempotency-Key"): CD_E_NOT_FOUND when a
 * new attempt is due, CD_E_CONFLICT (busy or not), or CD_OK with t->replayed.
 * One read of ix_account_idem. */
static enum cd_err topup_by_key(struct store *db, const struct acct *a, struct topup_begin *t)
{
	static const char sql[] = "SELECT request_hash, status, session_id, checkout_url, amount_cents, "
				  "COALESCE(quoted_micros, -1), created_at FROM topups "
				  "WHERE account_id = ? AND idem_hash = ? ORDER BY id DESC LIMIT 1";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "ib", a->id, (const char *)t->key_hash, (size_t)32);
	if (s == NULL)
		return store_err(db, e, "topup key lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	return got == 0 ? CD_E_NOT_FOUND : key_decides(db, s, t);
}

static enum cd_err topup_begin_tx(struct store *db, struct topup_begin *t)
{
	static const char sql[] = "INSERT INTO topups (account_id, amount_cents, currency, quoted_micros, idem_hash, "
				  "request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
	struct acct a;
	int e;
	t->replayed = 0;
	enum cd_err rc = ledger_due_lock(db, t->account, &a);
	if (rc != CD_OK)
		return rc;
	if (strcmp(a.status, "closed") == 0)
		return CD_E_SUSPENDED;
	snprintf(t->customer, sizeof(t->customer), "%s", a.stripe_customer);
	t->account_internal_id = a.id;
	rc = t->key_hash != NULL ? topup_by_key(db, &a, t) : CD_E_NOT_FOUND;
	if (rc == CD_E_NOT_FOUND)
		rc = topup_rate(db, &a, t);
	else if (rc == CD_OK)
		return a.dirty ? ledger_events_acct_save(db, &a) : CD_OK;	/* replayed */
	if (rc != CD_OK)
		return rc;
	/* The quote: the config keeps topup_max_cents x topup_rate within
	 * the largest grant, and amount_cents was checked against it. */
	t->quoted_micros = ledger_topups_cents_to_micros(db, t->amount_cents);
	if (t->quoted_micros < 0 || t->quoted_micros > LIMIT_AMOUNT_MICROS_MAX)
		return CD_E_INTERNAL;
	size_t key_len = t->key_hash != NULL ? 32 : 0;
	struct dbstmt *s = store_exec(db, sql, &e, "iisibbi", a.id, t->amount_cents,
				   ledger_config_of(db->cfg)->stripe_currency, t->quoted_micros,
				   (const char *)t->key_hash, key_len, (const char *)t->request_hash, (size_t)32, db->now);
	if (s == NULL)
		return store_err(db, e, "topup insert");
	t->topup_id = (int64_t)store_insert_id(s);
	return a.dirty ? ledger_events_acct_save(db, &a) : CD_OK;
}

enum cd_err ledger_topup_begin(struct store *db, struct topup_begin *t)
{
	struct store_tx tx;
	assert(t->request_hash != NULL);
	assert(t->amount_cents > 0);	/* the API's stripe.topup_min_cents, 1 at least */
	t->retry_after_seconds = 0;
	for (store_tx_init(db, &tx); store_tx_next(db, &tx);)
		store_tx_end(db, &tx, topup_begin_tx(db, t));
	/* Recorded (unless replayed) with its id and a credit no single grant passes. */
	assert(tx.rc != CD_OK || t->replayed || t->topup_id > 0);
	assert(tx.rc != CD_OK || t->replayed || t->quoted_micros <= LIMIT_AMOUNT_MICROS_MAX);
	return tx.rc;
}

static enum cd_err set_customer_tx(struct store *db, const char *account, const char *customer, char *stored,
				   size_t cap)
{
	static const char sql[] = "UPDATE accounts SET stripe_customer_id = ? WHERE id = ?";
	struct acct a;
	enum cd_err rc = ledger_due_lock(db, account, &a);
	if (rc != CD_OK)
		return rc;
	/* The first customer kept, decided on the locked row: a request that
	 * made another at Stripe meanwhile uses the one stored. */
	if (a.stripe_customer[0] == '\0')
		rc = store_do(db, sql, "customer store", "si", customer, a.id);
	snprintf(stored, cap, "%s", a.stripe_customer[0] ? a.stripe_customer : customer);
	return rc;
}

enum cd_err ledger_topup_set_customer(struct store *db, const char *account, const char *customer,
				      char *stored, size_t cap)
{
	struct store_tx t;
	assert(customer != NULL);
	assert(cap > 0);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, set_customer_tx(db, account, customer, stored, cap));
	return t.rc;
}

/* A top-up that opened no session of its own stays, failed: it reached
 * Stripe (or would have), and counts toward stripe.topups_per_hour. */
static const char SQL_TOPUP_FAILED[] = "UPDATE topups SET status = 'failed' WHERE id = ? AND status = 'pending' "
				       "AND session_id IS NULL";

static enum cd_err opened_tx(struct store *db, int64_t topup_id, const char *session_id, const char *url)
{
	if (session_id == NULL)
		return store_do(db, SQL_TOPUP_FAILED, "topup failed", "i", topup_id);
	int e;
	struct dbstmt *s = store_exec(db, "UPDATE topups SET session_id = ?, checkout_url = ? WHERE id = ?", &e, "ssi",
				   session_id, url, topup_id);
	/* Stripe gave back a session another row holds (a replay of its
	 * key that this row's lookup could not see: a row made before keys
	 * were kept on top-ups): that row stays the session's record. */
	if (s == NULL && e == ER_DUP_ENTRY)
		return store_do(db, SQL_TOPUP_FAILED, "topup dedupe", "i", topup_id);
	return s != NULL ? CD_OK : store_err(db, e, "topup open");
}

enum cd_err ledger_topup_opened(struct store *db, int64_t topup_id, const char *session_id,
				const char *checkout_url)
{
	struct store_tx t;
	assert(topup_id > 0);	/* ledger_topup_begin's, recorded */
	assert(session_id == NULL || checkout_url != NULL);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, opened_tx(db, topup_id, session_id, checkout_url));
	return t.rc;
}

static enum cd_err expire_tx(struct store *db, int *expired)
{
	static const char sql[] = "UPDATE topups SET status = 'expired' WHERE status = 'pending' AND created_at <= ? "
				  "ORDER BY status, created_at LIMIT ?";
	int e;
	*expired = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", db->now - LIMIT_TOPUP_PENDING_SECONDS,
				   (int64_t)LIMIT_TOPUP_EXPIRE_BATCH);
	if (s == NULL)
		return store_err(db, e, "topup expiry");
	*expired = (int)store_affected(s);
	return CD_OK;
}

enum cd_err ledger_topups_expire(struct store *db, int *expired)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, expire_tx(db, expired));
	assert(t.rc != CD_OK || *expired >= 0);
	assert(t.rc != CD_OK || *expired <= LIMIT_TOPUP_EXPIRE_BATCH);
	return t.rc;
}

/* ---- the credit ---- */

/* creditd's record of a session. */
struct topup_rec {
	int64_t id, account_id, amount_cents;
	int64_t quoted_micros;		/* the credit quoted when it started; -1: a row made before 028 */
	char status[16];
	char currency[16];
};

/* The record of the session (locked when lock is set): CD_OK, or
 * CD_E_NOT_FOUND when creditd made no such session. */
static enum cd_err topup_find(struct store *db, const char *session, int lock, struct topup_rec *r)
{
	static const char sql_read[] = "SELECT id, account_id, amount_cents, status, currency, "
				       "COALESCE(quoted_micros, -1) FROM topups WHERE session_id = ?";
	static const char sql_lock[] = "SELECT id, account_id, amount_cents, status, currency, "
				       "COALESCE(quoted_micros, -1) FROM topups WHERE session_id = ? FOR UPDATE";
	int e;
	struct dbstmt *s = store_exec(db, lock ? sql_lock : sql_read, &e, "s", session);
	if (s == NULL)
		return store_err(db, e, "topup lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	if (got == 0)
		return CD_E_NOT_FOUND;
	r->id = store_i64(s, 0);
	r->account_id = store_i64(s, 1);
	r->amount_cents = store_i64(s, 2);
	ledger_rows_copy_text(r->status, sizeof(r->status), store_str(s, 3));
	ledger_rows_copy_text(r->currency, sizeof(r->currency), store_str(s, 4));
	r->quoted_micros = store_i64(s, 5);
	return CD_OK;
}

/* The names topup.mismatch gives the fields of money_topup_field, in
 * its bits' order. */
static json_t *disagreed(unsigned fields)
{
	static const char *const names[MONEY_TOPUP_FIELDS] = {"metadata_type", "mode", "account", "amount_cents",
							       "currency", "payment_status"};
	json_t *what = json_array();
	for (int i = 0; what != NULL && i < MONEY_TOPUP_FIELDS; i++)
		if (fields & (1u << i))
			json_array_append_new(what, json_string(names[i]));
	return what;
}

/* Writes topup.mismatch (a NULL: no record, no account) naming what
 * disagreed (a reference this takes) and what the event said. */
static enum cd_err mismatch(struct store *db, struct hook_run *h, const struct acct *a, json_t *what)
{
	const struct ledger_news *ev = h->ev;
	if (what == NULL)
		return CD_E_INTERNAL;
	char *list = json_dumps(what, JSON_COMPACT);
	log_warn("stripe event %s: session %s not credited, it disagrees with creditd's record: %s", ev->id,
		 ev->session_id, list != NULL ? list : "?");
	free(list);
	json_t *got = json_pack("{s:s, s:o, s:s, s:s}", "account", ev->account, "amount_cents",
				ev->amount_cents >= 0 ? json_integer((json_int_t)ev->amount_cents) : json_null(),
				"currency", ev->currency, "payment_status", ev->payment_status);
	h->outcome = a != NULL ? "not credited: the event disagrees with creditd's record"
			       : "not credited: creditd did not create this session";
	return ledger_events_add(db, a, EVENT_TOPUP_MISMATCH, json_pack("{s:s, s:s, s:s, s:o, s:o}", "session",
			 ev->session_id, "stripe_event", ev->id, "stripe_event_type", ev->type, "disagreed", what,
			 "received", got));
}

/* A session creditd has no record of: not a top-up at all (another
 * metadata.type, a subscription's Checkout) is only acknowledged; one
 * that claims to be a top-up is a mismatch of no account. */
static enum cd_err not_ours(struct store *db, struct hook_run *h)
{
	const struct ledger_news *ev = h->ev;
	if ((ev->metadata_type[0] != '\0' && strcmp(ev->metadata_type, "credit_topup") != 0) ||
	    (ev->mode[0] != '\0' && strcmp(ev->mode, "payment") != 0)) {
		h->outcome = "ignored: not a credit top-up";
		return CD_OK;
	}
	return mismatch(db, h, NULL, json_pack("[s]", "unknown_session"));
}

/* Every row the credit's decision and write need, loaded under the
 * account's lock (docs/architecture.md, "How far each operation is from
 * one shape"): the account and the referral that waits for this credit
 * (ledger_referrals_lock: the account first, ledger_due_lock), the
 * record, its debt row, and a receipt that came before the credit; then,
 * once money_topup_credit decided a credit (credit_load_more), the
 * disputes of its payment that waited for it and, when the credit is
 * written in one write, the account's alerts. */
struct credit_load {
	struct topup_rec r;
	struct acct a;
	struct referral_lock k;
	struct debt_row debt;
	int receipt;			/* a receipt waits for this payment intent */
	char receipt_url[LIMIT_RECEIPT_URL_BYTES + 1];
	int64_t receipt_event_at;
	struct disputes_waiting disputes;
	/* No dispute waited and no referral is rewarded: the credit, its
	 * event, the account's notices and the account in one write. */
	int one_write;
	struct alert_load alerts;	/* one_write: the account's (none read without) */
};

/* The receipt kept by payment intent until a credit (receipt_wait), locked. */
static enum cd_err receipt_waiting(struct store *db, const char *payment_intent, struct credit_load *l)
{
	static const char sql[] = "SELECT receipt_url, event_at FROM receipts_waiting WHERE payment_intent = ? FOR UPDATE";
	int e;
	l->receipt = 0;
	if (payment_intent[0] == '\0')
		return CD_OK;
	struct dbstmt *s = store_exec(db, sql, &e, "s", payment_intent);
	if (s == NULL)
		return store_err(db, e, "receipt waiting");
	int got = store_fetch(s);
	if (got <= 0)
		return got < 0 ? CD_E_INTERNAL : CD_OK;
	l->receipt = store_copy(s, 0, l->receipt_url, sizeof(l->receipt_url), "") == 0;
	l->receipt_event_at = store_i64(s, 1);
	return l->receipt ? CD_OK : CD_E_INTERNAL;
}

/* CD_E_NOT_FOUND: creditd made no such session. */
static enum cd_err credit_load(struct store *db, const struct ledger_news *ev, struct credit_load *l)
{
	l->disputes.n = 0;
	l->one_write = 0;
	l->alerts.set.n = 0;
	enum cd_err rc = topup_find(db, ev->session_id, 0, &l->r);
	if (rc == CD_OK)
		rc = ledger_referrals_lock(db, l->r.account_id, 0, &l->a, &l->k);
	if (rc == CD_OK)
		rc = topup_find(db, ev->session_id, 1, &l->r);
	/* A record credited already is a delivery again (Stripe's, or
	 * completed then async_payment_succeeded), decided on the record
	 * alone (money_topup_credit's first case): neither the debt nor a
	 * waiting receipt is read for it. */
	int again = rc == CD_OK && strcmp(l->r.status, "credited") == 0;
	if (rc == CD_OK && !again)
		rc = ledger_rows_debt_read(db, &l->a, &l->debt);
	if (rc == CD_OK && !again)
		rc = receipt_waiting(db, ev->payment_intent, l);
	/* The record's account, locked in this transaction. */
	assert(rc != CD_OK || l->r.account_id == l->a.id);
	assert(rc != CD_OK || l->a.locked_tx == db->tx_serial);
	return rc;
}

/* What a credit needs beyond the decision's rows, read before anything
 * is written: the disputes of its payment that waited for it (the
 * payment met first, as every writer of that payment meets it:
 * ledger_funded_meet) and, when neither one of them nor a referral's
 * reward follows the credit, the account's alerts, which the notices
 * written with the credit are decided on. */
static enum cd_err credit_load_more(struct store *db, const struct ledger_news *ev, struct credit_load *l)
{
	enum cd_err rc = ledger_disputes_waiting(db, ev->payment_intent, &l->disputes);
	l->one_write = rc == CD_OK && l->disputes.n == 0 && !ledger_referrals_reward_due(&l->k);
	if (rc == CD_OK && l->one_write)
		rc = ledger_alerts_load(db, &l->a, &l->alerts);
	assert(rc != CD_OK || l->one_write || l->disputes.n > 0 || ledger_referrals_reward_due(&l->k));
	return rc;
}

static void credit_case(const struct store *db, const struct ledger_news *ev, const struct credit_load *l,
			struct money_topup_case *c)
{
	*c = (struct money_topup_case){
		.credited = strcmp(l->r.status, "credited") == 0, .expired = strcmp(l->r.status, "expired") == 0,
		.account = l->a.ext_id, .amount_cents = l->r.amount_cents, .currency = l->r.currency,
		.quoted_micros = l->r.quoted_micros, .rate = ledger_config_of(db->cfg)->topup_rate,
		.balance = l->a.balance, .debt = l->debt.owed, .completed = ev->kind == LEDGER_NEWS_CHECKOUT_COMPLETED,
		.ev_account = ev->account, .ev_metadata_type = ev->metadata_type, .ev_mode = ev->mode,
		.ev_currency = ev->currency, .ev_payment_status = ev->payment_status,
		.ev_amount_cents = ev->amount_cents};
}

/* The record's new state, beside the writer: credited, with the grant
 * the write made (and the receipt that waited for it, then dropped). */
static enum cd_err credit_record(struct store *db, const struct ledger_news *ev, const struct credit_load *l,
				 const struct money_topup_effect *d, int64_t grant_id)
{
	static const char sql_done[] = "UPDATE topups SET status = 'credited', credited_micros = ?, payment_intent = ?, "
				       "grant_id = ?, credited_at = ?, paid_cents = ?, invoice_id = ? WHERE id = ?";
	static const char sql_receipt[] = "UPDATE topups SET status = 'credited', credited_micros = ?, payment_intent = ?, "
					  "grant_id = ?, credited_at = ?, paid_cents = ?, invoice_id = ?, receipt_url = ?, "
					  "receipt_event_at = ? WHERE id = ?";
	static const char sql_receipt_done[] = "DELETE FROM receipts_waiting WHERE payment_intent = ?";
	const int64_t *paid = ev->amount_total_cents >= 0 ? &ev->amount_total_cents : NULL;
	const char *pi = ev->payment_intent[0] ? ev->payment_intent : NULL;
	const char *invoice = ev->invoice_id[0] ? ev->invoice_id : NULL;
	enum cd_err rc;
	assert(grant_id > 0);
	if (!l->receipt)
		return store_do(db, sql_done, "topup credit", "isiiIsi", d->micros, pi, grant_id, db->now, paid, invoice,
				l->r.id);
	rc = store_do(db, sql_receipt, "topup credit", "isiiIssii", d->micros, pi, grant_id, db->now, paid, invoice,
		      l->receipt_url, l->receipt_event_at, l->r.id);
	return rc == CD_OK ? store_do(db, sql_receipt_done, "receipt applied", "s", ev->payment_intent) : rc;
}

/* The journal row and topup.succeeded both name the first grant of the
 * write (LEDGER_NEW_GRANT; place 0 of the events' grant, sql/083). */
_Static_assert(LEDGER_NEW_GRANT == -1 - 0, "the credit's journal row and event name the write's first grant");

/* The record credited, as decided, in one write of the one writer: the
 * debt repaid, the grant, its journal row and topup.succeeded (whose
 * grant_id the writer fills in, sql/083); with one_write also the
 * account's notices (ledger_events_acct_add: balance.low, a debt paid,
 * its alerts, decided in memory) and the account. Then the record. */
static enum cd_err credit_write(struct store *db, struct hook_run *h, struct credit_load *l,
				const struct money_topup_effect *d)
{
	const struct ledger_news *ev = h->ev;
	const struct grant_row n = {"topup", d->micros, d->grant.remaining, GRANT_PRIORITY_DEFAULT, -1, ev->session_id,
				    "Stripe top-up"};
	const int64_t before = l->a.balance;
	struct store_write lw;
	struct ledger_events_out out = {.n = 0};
	int64_t grant_id = 0, journal_id = 0;
	store_write_begin(&lw);
	enum cd_err rc = ledger_rows_grant_add(db, &lw, &l->a, "grant", &n, &l->debt, &d->grant);
	/* grant_id named in its sorted place, null: the writer puts the id in. */
	json_t *data = json_pack("{s:I, s:I, s:s, s:n}", "amount_micros", (json_int_t)d->micros, "amount_cents",
				 (json_int_t)l->r.amount_cents, "session", ev->session_id, "grant_id");
	if (ledger_events_out_add(&out, EVENT_TOPUP_SUCCEEDED, data, 0) != 0)
		rc = rc == CD_OK ? CD_E_INTERNAL : rc;
	if (rc == CD_OK && l->one_write)
		rc = ledger_events_acct_add(db, &lw, &l->a, &l->alerts, &out);
	if (rc == CD_OK)
		rc = ledger_events_out_write(&lw, &l->a, &out);
	ledger_events_out_free(&out);
	if (rc != CD_OK) {
		store_write_drop(&lw);
		return rc;
	}
	rc = store_write_run(db, &lw, "topup credit", &grant_id, &journal_id);
	/* Moved by exactly the credit; the grant and its journal row made. */
	assert(rc != CD_OK || l->a.balance == before + d->micros);
	assert(rc != CD_OK || (grant_id > 0 && journal_id > 0));
	return rc == CD_OK ? credit_record(db, ev, l, d, grant_id) : rc;
}

/* What follows a credit on the same locks when one_write is not set: a
 * dispute of this payment that came first and waited for it, and the
 * referral the referred account's first credited top-up rewards (the
 * referrer's share at ledger_referrals_save); a dispute that waited
 * takes the reward back whole, as one coming after would (after the
 * dispute's own take, which the reward's grants, spent first, must not
 * pay). The account's notices and the account follow
 * (ledger_events_acct_save). */
static enum cd_err credit_after(struct store *db, struct hook_run *h, struct credit_load *l)
{
	const struct ledger_news *ev = h->ev;
	struct funded f = {.kind = FUNDED_TOPUP, .id = l->r.id, .account_id = l->a.id};
	enum cd_err rc = ledger_disputes_apply_read(db, &l->a, &f, ev->payment_intent, &l->disputes);
	if (rc == CD_OK)
		rc = ledger_referrals_reward(db, &l->a, &l->k, l->r.id);
	if (rc == CD_OK && f.disputed > 0)
		rc = ledger_referrals_take(db, &l->a, &l->k, l->r.id, "dispute", ev->payment_intent);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &l->a);
	return rc;
}

/* Writes what money_topup_credit decided. */
static enum cd_err credit_apply(struct store *db, struct hook_run *h, struct credit_load *l,
				const struct money_topup_effect *d)
{
	const struct ledger_news *ev = h->ev;
	enum cd_err rc = CD_OK;
	switch (d->outcome) {
	case MONEY_TOPUP_DUPLICATE:
		h->outcome = "duplicate: session already credited";
		return CD_OK;
	case MONEY_TOPUP_MISMATCH:
		return mismatch(db, h, &l->a, disagreed(d->fields));
	case MONEY_TOPUP_AWAITING:
		h->outcome = "pending: not paid yet (an async payment may follow)";
		return CD_OK;
	case MONEY_TOPUP_BALANCE_CAP:
		/* docs/api.md, "Money stays in range": refused before anything moves, never wrapped. */
		return refusal_set(&db->refusal, REFUSE_BALANCE_CAP, l->a.ext_id, NULL);
	case MONEY_TOPUP_CREDIT:
		/* A late async payment of a session the sweeper marked
		 * expired is still creditd's own, paid: it credits. */
		if (d->late)
			log_info("stripe event %s: top-up of session %s paid after it expired, credited", ev->id,
				 ev->session_id);
		rc = credit_load_more(db, ev, l);
		rc = rc == CD_OK ? credit_write(db, h, l, d) : rc;
		if (rc == CD_OK && !l->one_write)
			rc = credit_after(db, h, l);
		h->outcome = "credited";
		return rc;
	}
	return CD_E_INTERNAL;
}

/* Credits the record's amount to the record's account once, when the event
 * agrees with it: loaded, decided by money_topup_credit, written.
 * checkout.session.completed with payment_status unpaid is Stripe's way
 * of saying an async payment (a bank debit) is under way: it waits for
 * async_payment_succeeded and is no mismatch. */
enum cd_err ledger_topups_checkout_paid(struct store *db, struct hook_run *h)
{
	const struct ledger_news *ev = h->ev;
	struct credit_load l;
	struct money_topup_case c;
	struct money_topup_effect d;
	assert(ev->session_id[0] != '\0');	/* a session event without its id is refused when parsed */
	enum cd_err rc = credit_load(db, ev, &l);
	if (rc == CD_E_NOT_FOUND)
		return not_ours(db, h);
	if (rc != CD_OK)
		return rc;
	const int64_t before = l.a.balance;
	h->account_id = l.a.id;
	credit_case(db, ev, &l, &c);
	money_topup_credit(&c, &d);
	rc = credit_apply(db, h, &l, &d);
	/* A credit stored its account (in its one write, or after what
	 * followed it); anything else stores it when its month rolled. */
	if (rc == CD_OK && l.a.dirty && d.outcome != MONEY_TOPUP_CREDIT)
		rc = ledger_events_acct_save(db, &l.a);
	if (rc == CD_OK)
		rc = ledger_referrals_save(db, &l.a, &l.k);
	/* Only a credit moves money: a duplicate, a mismatch or a wait does
	 * not; a credit in one write moves it by exactly the credit. */
	assert(rc != CD_OK || d.outcome == MONEY_TOPUP_CREDIT || l.a.balance == before);
	assert(rc != CD_OK || d.outcome != MONEY_TOPUP_CREDIT || !l.one_write || l.a.balance == before + d.micros);
	return rc;
}

/* ---- receipts (docs/api.md, "receipt_url") ---- */

/* The top-up whose column (payment_intent or invoice_id) is key: its row
 * id and account, or CD_E_NOT_FOUND. No lock: a receipt changes no
 * balance, and the one UPDATE that stores it locks the row alone. */
static enum cd_err receipt_topup(struct store *db, int by_invoice, const char *key, int64_t *id, int64_t *account_id)
{
	static const char sql_pi[] = "SELECT id, account_id FROM topups WHERE payment_intent = ? AND status = 'credited'";
	static const char sql_invoice[] = "SELECT id, account_id FROM topups WHERE invoice_id = ? AND status = 'credited'";
	int e;
	struct dbstmt *s = store_exec(db, by_invoice ? sql_invoice : sql_pi, &e, "s", key);
	if (s == NULL)
		return store_err(db, e, "receipt topup lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	if (got == 0)
		return CD_E_NOT_FOUND;
	*id = store_i64(s, 0);
	*account_id = store_i64(s, 1);
	return CD_OK;
}

/* The outcome of the UPDATE s (NULL: failed with error e) that stores a
 * URL: no row matched (the connection counts found rows) is an event
 * created before the one whose URL is kept. */
static enum cd_err receipt_store(struct store *db, struct hook_run *h, struct dbstmt *s, int e, const char *stored)
{
	if (s == NULL)
		return store_err(db, e, "receipt store");
	h->outcome = store_affected(s) > 0 ? stored : "unchanged: the URL kept is from a later event";
	return CD_OK;
}

/* A receipt whose top-up is not credited yet (its charge event came
 * first, as Stripe's usually does): kept by payment intent, the latest
 * event's, until the credit writes it on the top-up (receipt_apply). */
static enum cd_err receipt_wait(struct store *db, struct hook_run *h)
{
	static const char sql[] = "INSERT INTO receipts_waiting (payment_intent, receipt_url, event_at, created_at) "
				  "VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE receipt_url = IF(event_at <= VALUES(event_at), "
				  "VALUES(receipt_url), receipt_url), event_at = GREATEST(event_at, VALUES(event_at))";
	const struct ledger_news *ev = h->ev;
	enum cd_err rc = store_do(db, sql, "receipt wait", "ssii", ev->payment_intent, ev->receipt_url, ev->created, db->now);
	h->outcome = "kept: no top-up credited for this payment intent yet";
	return rc;
}

/* charge.succeeded / charge.updated: the charge's receipt_url on the
 * top-up paid by its payment intent, unless an event created later set
 * one already (Stripe does not deliver in order). Only a top-up creditd
 * credited has a payment intent on its row: a charge of anything else
 * changes nothing. */
enum cd_err ledger_topups_receipt(struct store *db, struct hook_run *h)
{
	static const char sql[] = "UPDATE topups SET receipt_url = ?, receipt_event_at = ? WHERE id = ? "
				  "AND (receipt_event_at IS NULL OR receipt_event_at <= ?)";
	const struct ledger_news *ev = h->ev;
	int64_t id, account_id;
	assert(ev->kind == LEDGER_NEWS_CHARGE_RECEIPT);
	assert(ev->charge_id[0] != '\0');	/* a charge event without its id is refused when parsed */
	if (ev->payment_intent[0] == '\0' || ev->receipt_url[0] == '\0') {
		h->outcome = "ignored: no payment intent or no https receipt_url";
		return CD_OK;
	}
	enum cd_err rc = receipt_topup(db, 0, ev->payment_intent, &id, &account_id);
	if (rc == CD_E_NOT_FOUND)
		return receipt_wait(db, h);
	if (rc != CD_OK)
		return rc;
	h->account_id = account_id;
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "siii", ev->receipt_url, ev->created, id, ev->created);
	return receipt_store(db, h, s, e, "receipt stored");
}

/* invoice.paid / invoice.finalized of an invoice a top-up's Checkout
 * Session made (stripe.invoice_topups): its hosted_invoice_url and
 * invoice_pdf, each kept as it was when the event does not carry it. */
enum cd_err ledger_topups_invoice(struct store *db, struct hook_run *h)
{
	static const char sql[] = "UPDATE topups SET invoice_url = IFNULL(?, invoice_url), invoice_pdf = "
				  "IFNULL(?, invoice_pdf), invoice_event_at = ? WHERE id = ? "
				  "AND (invoice_event_at IS NULL OR invoice_event_at <= ?)";
	const struct ledger_news *ev = h->ev;
	int64_t id, account_id;
	assert(ev->kind == LEDGER_NEWS_INVOICE_PAID || ev->kind == LEDGER_NEWS_INVOICE_FINALIZED);
	assert(ev->invoice_id[0] != '\0');	/* an invoice event without its id is refused when parsed */
	if (ev->invoice_url[0] == '\0' && ev->invoice_pdf[0] == '\0') {
		h->outcome = "ignored: no https invoice url";
		return CD_OK;
	}
	enum cd_err rc = receipt_topup(db, 1, ev->invoice_id, &id, &account_id);
	if (rc == CD_E_NOT_FOUND) {
		h->outcome = "ignored: no top-up for this invoice";
		return CD_OK;
	}
	if (rc != CD_OK)
		return rc;
	h->account_id = account_id;
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "ssiii", ev->invoice_url[0] ? ev->invoice_url : NULL,
				   ev->invoice_pdf[0] ? ev->invoice_pdf : NULL, ev->created, id, ev->created);
	return receipt_store(db, h, s, e, "invoice stored");
}
