/* ledger_payg_tries.c: the PaymentIntents of a pay-as-you-go collection's
 * tries (payg_tries, migration 031; see ledger_payg.h and ledger.h).
 *
 * A collection is tried up to PAYG_TRIES times, each try a PaymentIntent
 * of its own (a new Idempotency-Key). A declined one stays open at Stripe:
 * its customer may still authenticate it and pay, days later. So each is
 * recorded as soon as Stripe's answer names it, and whichever try's
 * payment succeeds credits the collection once (ledger_payg_credit); every other
 * try still open is then marked to be cancelled, and the recharge sender
 * (recharge.c) cancels it at Stripe (POST /v1/payment_intents/{id}/cancel)
 * through the claim and the result here, as it sends charges: leased by
 * next_attempt_at, tried again later while Stripe is away. Never calls
 * Stripe itself. Locks: the account (when a caller holds it), then the
 * collection's recharges row, then its tries. */
#include "ledger_payg_tries.h"
#include "ledger_recharges.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <string.h>

enum cd_err ledger_payg_tries_lock(struct store *db, int64_t id, const char *pi, struct payg_try *t)
{
	static const char sql[] = "SELECT try_no, amount_cents, state FROM payg_tries WHERE payment_intent = ? "
				  "AND recharge_id = ? FOR UPDATE";
	int e, got;
	assert(id > 0);
	assert(pi != NULL);
	memset(t, 0, sizeof(*t));
	struct dbstmt *s = store_exec(db, sql, &e, "si", pi, id);
	if (s == NULL)
		return store_err(db, e, "collection try");
	if ((got = store_fetch(s)) < 0)
		return CD_E_INTERNAL;
	if (got == 1) {
		t->found = 1;
		t->try_no = store_i64(s, 0);
		t->cents = store_i64(s, 1);
		ledger_rows_copy_text(t->state, sizeof(t->state), store_str(s, 2));
	}
	return CD_OK;
}

/* A try already recorded keeps its number and amount (the first record
 * is the sender's, who knows them); its state moves only open → cancel
 * and anything → paid (a payment Stripe reports is a fact, whatever was
 * asked of it before). */
#define PAYG_TRY_MOVES "(VALUES(state) = 'paid' OR (state = 'open' AND VALUES(state) = 'cancel'))"

enum cd_err ledger_payg_tries_put(struct store *db, int64_t id, int64_t try_no, int64_t cents, const char *pi,
			 const char *state)
{
	/* The assignments run in order: state changes last, once the others
	 * have read the state before. */
	static const char sql[] = "INSERT INTO payg_tries (payment_intent, recharge_id, try_no, amount_cents, state, "
				  "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
				  "ON DUPLICATE KEY UPDATE next_attempt_at = IF(" PAYG_TRY_MOVES ", VALUES(next_attempt_at), "
				  "next_attempt_at), updated_at = IF(" PAYG_TRY_MOVES ", VALUES(updated_at), updated_at), "
				  "state = IF(" PAYG_TRY_MOVES ", VALUES(state), state)";
	assert(id > 0);
	assert(pi != NULL);
	assert(strcmp(state, "open") == 0 || strcmp(state, "paid") == 0 || strcmp(state, "cancel") == 0);
	int64_t due = strcmp(state, "cancel") == 0 ? db->now : 0;
	return store_do(db, sql, "collection try record", "siiisiii", pi, id, try_no, cents, state, due, db->now, db->now);
}

enum cd_err ledger_payg_tries_cancel_others(struct store *db, const char *account, int64_t id, const char *pi, int *n)
{
	static const char sql[] = "UPDATE payg_tries SET state = 'cancel', next_attempt_at = ?, updated_at = ? "
				  "WHERE recharge_id = ? AND state = 'open' AND payment_intent <> ?";
	int e;
	assert(id > 0);
	assert(pi != NULL);
	*n = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "iiis", db->now, db->now, id, pi);
	if (s == NULL)
		return store_err(db, e, "collection tries cancel");
	*n = (int)store_affected(s);
	assert(*n >= 0);
	if (*n > 0)
		log_info("account %s: collection %" PRId64 " paid by %s: %d other try(s) to be cancelled at Stripe",
			 account, id, pi, *n);
	return CD_OK;
}

/* ---- the sender's side (ledger.h) ---- */

/* The try r made pi: recorded open (paid when Stripe answered it paid),
 * or to be cancelled at once when another try paid the collection
 * meanwhile (a webhook while this one was with Stripe). */
static enum cd_err made_tx(struct store *db, const struct ledger_recharge *r, const char *pi, int paid)
{
	static const char sql[] = "SELECT state, IFNULL(payment_intent, '') FROM recharges WHERE id = ? "
				  "AND kind = 'payg' FOR UPDATE";
	/* Locks no account first: marked on Galera before its lock (sql/085). */
	enum cd_err mc = store_mark_all(db);
	if (mc != CD_OK)
		return mc;
	int e, got;
	struct dbstmt *s = store_exec(db, sql, &e, "i", r->id);
	if (s == NULL)
		return store_err(db, e, "collection of a try");
	if ((got = store_fetch(s)) < 0)
		return CD_E_INTERNAL;
	if (got == 0)
		return CD_OK;
	int other = strcmp(store_str(s, 0), "succeeded") == 0 && strcmp(store_str(s, 1), pi) != 0;
	const char *state = paid ? "paid" : other ? "cancel" : "open";
	if (other && !paid)
		log_warn("account %s: collection %" PRId64 " was paid by %s meanwhile: try %" PRId64 "'s %s to be "
			 "cancelled at Stripe", r->account, r->id, store_str(s, 1), r->try_no, pi);
	return ledger_payg_tries_put(db, r->id, r->try_no, r->amount_cents, pi, state);
}

enum cd_err ledger_payg_try_made(struct store *db, const struct ledger_recharge *r, const char *payment_intent,
				 int paid)
{
	struct store_tx t;
	assert(r->id > 0);	/* a claimed charge's row */
	assert(paid == 0 || paid == 1);
	if (r->period <= 0 || payment_intent == NULL || payment_intent[0] == '\0')
		return CD_OK;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, made_tx(db, r, payment_intent, paid));
	return t.rc;
}

/* Due: tries marked to be cancelled whose time has come; each leased by
 * pushing next_attempt_at, under the state it was read in. */
static enum cd_err cancels_tx(struct store *db, struct ledger_cancel *out, int max, int64_t lease_seconds,
			      int *claimed)
{
	static const char due[] = "SELECT t.payment_intent, t.recharge_id, t.try_no, t.attempts, a.ext_id "
				  "FROM payg_tries t JOIN recharges r ON r.id = t.recharge_id "
				  "JOIN accounts a ON a.id = r.account_id WHERE t.state = 'cancel' "
				  "AND t.next_attempt_at BETWEEN 1 AND ? ORDER BY t.next_attempt_at LIMIT ?";
	static const char lease[] = "UPDATE payg_tries SET next_attempt_at = ? WHERE payment_intent = ? "
				    "AND state = 'cancel' AND next_attempt_at BETWEEN 1 AND ?";
	struct ledger_cancel found[LIMIT_RECHARGE_BATCH];
	int n = 0, e;
	*claimed = 0;
	struct dbstmt *s = store_exec(db, due, &e, "ii", db->now, (int64_t)max);
	if (s == NULL)
		return store_err(db, e, "cancels due");
	while (n < max && n < LIMIT_RECHARGE_BATCH && store_fetch(s) == 1) {
		struct ledger_cancel *x = &found[n++];
		memset(x, 0, sizeof(*x));
		ledger_rows_copy_text(x->payment_intent, sizeof(x->payment_intent), store_str(s, 0));
		x->recharge_id = store_i64(s, 1);
		x->try_no = store_i64(s, 2);
		x->attempts = store_i64(s, 3);
		ledger_rows_copy_text(x->account, sizeof(x->account), store_str(s, 4));
	}
	for (int i = 0; i < n; i++) {
		struct dbstmt *l = store_exec(db, lease, &e, "isi", db->now + lease_seconds, found[i].payment_intent,
					   db->now);
		if (l == NULL)
			return store_err(db, e, "cancel lease");
		if (store_affected(l) == 1)
			out[(*claimed)++] = found[i];
	}
	return CD_OK;
}

enum cd_err ledger_payg_cancels_claim(struct store *db, struct ledger_cancel *out, int max, int64_t lease_seconds,
				      int *n)
{
	struct store_tx t;
	int claimed = 0;
	assert(lease_seconds > 0);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, cancels_tx(db, out, max, lease_seconds, &claimed));
	*n = t.rc == CD_OK ? claimed : 0;
	assert(*n >= 0);
	assert(*n <= max);
	return t.rc;
}

/* Only a try still to be cancelled is ended here: a payment reported
 * meanwhile (paid) stays so. One Stripe says succeeded first is paid (a
 * second payment of the collection, kept with Stripe's message for the
 * operator, who refunds it: creditctl verify warns). Stripe away: cancelled again later, the wait
 * doubling up to LIMIT_RECHARGE_BACKOFF_MAX_SECONDS, for as long as it
 * takes (an open PaymentIntent may still charge the card). */
static enum cd_err cancel_result_tx(struct store *db, const char *pi, enum ledger_cancel_outcome outcome,
				    const char *error)
{
	static const char sql_end[] = "UPDATE payg_tries SET state = ?, error = ?, updated_at = ? "
				      "WHERE payment_intent = ? AND state = 'cancel'";
	static const char sql_later[] = "UPDATE payg_tries SET attempts = attempts + 1, error = ?, updated_at = ?, "
					"next_attempt_at = ? + LEAST(POW(2, LEAST(attempts, 20)), ?) "
					"WHERE payment_intent = ? AND state = 'cancel'";
	char cut[LIMIT_RECHARGE_ERROR_BYTES + 1];
	ledger_recharges_error_cut(cut, error);
	if (outcome == CANCEL_RETRY)
		return store_do(db, sql_later, "cancel later", "siiis", cut, db->now, db->now,
			     (int64_t)LIMIT_RECHARGE_BACKOFF_MAX_SECONDS, pi);
	const char *state = outcome == CANCEL_DONE ? "canceled" : outcome == CANCEL_PAID ? "paid" : "not_canceled";
	return store_do(db, sql_end, "cancel result", "ssis", state, outcome == CANCEL_DONE ? NULL : cut, db->now, pi);
}

enum cd_err ledger_payg_cancel_result(struct store *db, const char *payment_intent,
				      enum ledger_cancel_outcome outcome, const char *error)
{
	struct store_tx t;
	const char *why = error != NULL ? error : "";
	assert(payment_intent != NULL);	/* a claimed cancel's PaymentIntent */
	assert(outcome >= CANCEL_DONE);
	assert(outcome <= CANCEL_RETRY);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, cancel_result_tx(db, payment_intent, outcome, why));
	return t.rc;
}
