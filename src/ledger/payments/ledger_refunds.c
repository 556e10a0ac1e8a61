/* ledger_refunds.c: Stripe refunds of a Stripe-funded credit (a top-up,
 * an auto-recharge or a subscription invoice's credit): charge.refunded
 * applied to its credit, or kept in refunds_waiting when no credit knows
 * its payment yet, and applied when one comes to name it (docs/decisions.md, "Refunds";
 * migration 033): an invoice's credit by its invoice, a top-up's or an
 * auto-recharge's by its payment intent. Called by the webhook dispatch
 * (ledger_news_apply.c) and by an invoice's payment news
 * (ledger_invoice_pay.c); calls neither. */
#include "ledger_events.h"
#include "ledger_hooks.h"
#include "ledger_referrals.h"
#include "money_rule.h"
#include "log.h"
#include "ledger_news.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A refund of a Stripe-funded credit (a top-up or an auto-recharge). What
 * a dispute took back already is not taken again: while the dispute is
 * open, what the refund would take beyond the credit left becomes the
 * refund's out of the dispute's hold (ledger_disputes_yield), so that a win gives
 * back only the rest. */
enum cd_err ledger_refunds_charge_refunded(struct store *db, struct hook_run *h)
{
	const struct ledger_news *ev = h->ev;
	struct acct a;
	struct funded f;
	struct referral_lock k;
	/* charge.refunded names its charge (parsed, or kept by it). */
	assert(ev->charge_id[0] != '\0');
	if ((ev->payment_intent[0] == '\0' && ev->charge_id[0] == '\0') || ev->amount_refunded_cents < 0) {
		h->outcome = "ignored: no payment intent";
		return CD_OK;
	}
	/* By payment intent, else by charge (an invoice's payment may be
	 * known by its charge alone). */
	enum cd_err rc = ledger_funded_find(db, ev->payment_intent, ev->charge_id, &f);
	if (rc == CD_E_NOT_FOUND)
		return ledger_refunds_keep(db, h);
	/* The account, and the referral this top-up rewarded. */
	if (rc == CD_OK)
		rc = ledger_referrals_lock(db, f.account_id, f.kind == FUNDED_TOPUP ? f.id : -1, &a, &k);
	if (rc == CD_OK)
		rc = ledger_funded_lock(db, &f);
	if (rc != CD_OK)
		return rc;
	assert(a.locked_tx == db->tx_serial);	/* taken back only from the account locked */
	assert(f.account_id == a.id);
	/* The rule (money_rule.h) decides over the rows read: the share
	 * of the credit all refunds so far take back, and what of it comes
	 * from the balance now or from an open dispute's hold. */
	struct refund_case rcase = {.refunded_cents = ev->amount_refunded_cents, .charge_cents = ev->charge_amount_cents,
				    .paid_cents = f.paid_cents, .credited = f.credited, .refunded = f.refunded,
				    .refunded_cents_before = f.refunded_cents, .disputed = f.disputed,
				    .rate_micros = ledger_topups_cents_to_micros(db, ev->amount_refunded_cents)};
	struct refund_effect eff;
	money_rule_refund(&rcase, &eff);
	if (eff.duplicate) {
		h->outcome = "duplicate: refund already applied";
		rc = a.dirty ? ledger_events_acct_save(db, &a) : CD_OK;
		return rc == CD_OK ? ledger_referrals_save(db, &a, &k) : rc;
	}
	h->account_id = a.id;
	/* A refund of the top-up that rewarded a referral takes the reward
	 * back first: the refund's own take is of the top-up's credit, which
	 * the referral's grants (spent first, expiring first) must not pay. */
	rc = ledger_referrals_take(db, &a, &k, f.kind == FUNDED_TOPUP ? f.id : -1, "refund", ev->charge_id);
	if (rc != CD_OK)
		return rc;
	int64_t micros = eff.take, moved = 0;
	const int64_t before = a.balance;
	if (eff.from_dispute > 0)
		rc = ledger_disputes_yield(db, &f, eff.from_dispute, &moved);
	if (rc == CD_OK)
		money_rule_refund_moved(&rcase, &eff, moved);
	if (rc == CD_OK && micros > 0)
		rc = ledger_rows_spend(db, &a, micros, "refund", 0, ev->charge_id, "Stripe refund", NULL);
	/* What the dispute held moved no balance: only the refund's take did. */
	assert(rc != CD_OK || a.balance == before - micros);
	if (rc == CD_OK)
		rc = ledger_funded_change(db, &f, ev->amount_refunded_cents, micros + moved, -moved, ev->charge_id);
	if (rc == CD_OK)
		rc = ledger_events_add(db, &a, EVENT_TOPUP_REFUNDED, json_pack("{s:I, s:I, s:s}", "amount_micros",
			       (json_int_t)micros, "amount_refunded_cents", (json_int_t)ev->amount_refunded_cents,
			       "charge", ev->charge_id));
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc == CD_OK)
		rc = ledger_referrals_save(db, &a, &k);
	h->outcome = "refunded";
	return rc;
}

/* ---- Refunds before their credit ---- */

enum cd_err ledger_refunds_keep(struct store *db, struct hook_run *h)
{
	static const char sql[] = "INSERT INTO refunds_waiting (charge_id, payment_intent, amount_refunded_cents, "
				  "charge_amount_cents, currency, received_at) VALUES (?, ?, ?, ?, ?, ?) "
				  "ON DUPLICATE KEY UPDATE amount_refunded_cents = GREATEST(amount_refunded_cents, "
				  "VALUES(amount_refunded_cents)), payment_intent = COALESCE(payment_intent, "
				  "VALUES(payment_intent)), charge_amount_cents = COALESCE(charge_amount_cents, "
				  "VALUES(charge_amount_cents))";
	static const char sql_credited[] = "SELECT id FROM invoice_credits WHERE charge_id = ? FOR UPDATE";
	const struct ledger_news *ev = h->ev;
	int e, credited = 0;
	/* Only after charge_refunded's checks: a refund of no negative amount. */
	assert(ev->amount_refunded_cents >= 0);
	h->outcome = "ignored: no credit for this charge";
	if (ev->charge_id[0] == '\0')
		return CD_OK;
	/* With several Galera nodes, kept on the node of the account the
	 * payment names (its metadata, set by creditd), where its credit is
	 * written: the keep's re-check below and the credit's read of the
	 * waiting refunds then meet on one node's locks, as on one server
	 * (a lock of one node is not another's). */
	enum cd_err rc = ev->account[0] != '\0' ? store_tx_reroute(db, ev->account) : CD_OK;
	if (rc != CD_OK)
		return rc;
	const int64_t *amount = ev->charge_amount_cents >= 0 ? &ev->charge_amount_cents : NULL;
	rc = store_do(db, sql, "refund keep", "ssiIsi", ev->charge_id,
			       ev->payment_intent[0] ? ev->payment_intent : NULL, ev->amount_refunded_cents, amount,
			       ev->currency[0] ? ev->currency : NULL, db->now);
	h->outcome = "kept: no credit for this charge yet, applied if a credit comes to name its payment";
	/* A credit naming the payment being written now: start again. */
	if (rc == CD_OK && ev->payment_intent[0] != '\0')
		rc = ledger_funded_meet(db, ev->payment_intent);
	if (rc == CD_OK && ev->payment_intent[0] != '\0')
		rc = ledger_funded_credited_now(db, ev->payment_intent, &credited);
	if (rc == CD_OK && !credited) {
		struct dbstmt *s = store_exec(db, sql_credited, &e, "s", ev->charge_id);
		if (s == NULL)
			return store_err(db, e, "refund keep recheck");
		credited = store_fetch(s) == 1;
	}
	rc = rc == CD_OK && credited ? store_retry(db, RETRY_RACE) : rc;
	assert(rc != CD_OK || !credited);	/* kept only while no credit names it */
	return rc;
}

/* One waiting refund applied as its charge.refunded would have been. */
static enum cd_err refund_apply(struct store *db, struct hook_run *h, struct dbstmt *s)
{
	struct ledger_news ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LEDGER_NEWS_CHARGE_REFUNDED;
	snprintf(ev.id, sizeof(ev.id), "%s", h->ev->id);
	store_copy(s, 0, ev.charge_id, sizeof(ev.charge_id), "");
	store_copy(s, 1, ev.payment_intent, sizeof(ev.payment_intent), "");
	ev.amount_refunded_cents = store_i64(s, 2);
	ev.charge_amount_cents = store_null(s, 3) ? -1 : store_i64(s, 3);
	store_copy(s, 4, ev.currency, sizeof(ev.currency), "");
	struct hook_run r = {&ev, "ignored", 0};
	return ledger_refunds_charge_refunded(db, &r);
}

/* The refunds waiting that sql (one row, locked, by key) finds, one at
 * a time, each applied and deleted. Write-then-read, as their keeping
 * (ledger_refunds_keep) is: a refund kept while the credit commits is
 * seen by the one or the other (on Galera when both run on the account's
 * node: a keep whose charge names no account may run on another). */
static enum cd_err waiting_apply(struct store *db, struct hook_run *h, const char *sql, const char *key)
{
	static const char sql_done[] = "DELETE FROM refunds_waiting WHERE charge_id = ?";
	char charge[LEDGER_NEWS_ID_MAX + 1];
	int e;
	assert(key != NULL);
	assert(key[0] != '\0');
	for (int i = 0; i < LIMIT_DISPUTES_PER_PAYMENT; i++) {
		struct dbstmt *s = store_exec(db, sql, &e, "s", key);
		if (s == NULL)
			return store_err(db, e, "refunds waiting");
		int got = store_fetch(s);
		if (got <= 0)
			return got < 0 ? CD_E_INTERNAL : CD_OK;
		store_copy(s, 0, charge, sizeof(charge), "");
		enum cd_err rc = refund_apply(db, h, s);
		if (rc == CD_OK)
			rc = store_do(db, sql_done, "refund applied", "s", charge);
		if (rc != CD_OK)
			return rc;
		log_info("stripe event %s: a refund of %s that came before its credit applied", h->ev->id, charge);
	}
	return CD_OK;
}

enum cd_err ledger_refunds_waiting_apply(struct store *db, struct hook_run *h, const char *invoice)
{
	static const char sql[] = "SELECT w.charge_id, w.payment_intent, w.amount_refunded_cents, w.charge_amount_cents, "
				  "w.currency FROM refunds_waiting w JOIN invoice_credits ic ON ic.invoice_id = ? AND "
				  "(w.charge_id = ic.charge_id OR w.payment_intent = ic.payment_intent) ORDER BY w.charge_id "
				  "LIMIT 1 FOR UPDATE";
	/* invoice events without their id are refused when parsed */
	return waiting_apply(db, h, sql, invoice);
}

enum cd_err ledger_refunds_waiting_apply_pi(struct store *db, struct hook_run *h, const char *payment_intent)
{
	static const char sql[] = "SELECT charge_id, payment_intent, amount_refunded_cents, charge_amount_cents, currency "
				  "FROM refunds_waiting FORCE INDEX (ix_payment_intent) WHERE payment_intent = ? "
				  "ORDER BY charge_id LIMIT 1 FOR UPDATE";
	return payment_intent[0] != '\0' ? waiting_apply(db, h, sql, payment_intent) : CD_OK;
}
