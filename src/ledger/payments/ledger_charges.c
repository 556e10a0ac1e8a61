/* ledger_charges.c: the off-session charges' sender side (ledger.h):
 * auto-recharges (ledger_recharges.c) and pay-as-you-go collections
 * (ledger_payg.c) are rows of one table, claimed and leased here for the
 * sender (recharge.c), and what Stripe answered is recorded here, each
 * kind ended by its own module. A charge Stripe has not settled yet
 * ('sent') whose webhook has not come within LIMIT_PAYMENT_NEWS_SECONDS
 * is claimed again, for the sender to fetch its PaymentIntent, and what
 * that says is applied here exactly as the webhook would (once). */
#include "ledger_payg.h"
#include "ledger_recharges.h"
#include "ledger_events.h"
#include "ledger_hooks.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <string.h>

/* A collection due while its account has a dispute open waits
 * (docs/pay-as-you-go.md, "While a dispute is open"): looked at again an hour
 * later, sent once the dispute is won and the account active, never while it
 * stays open. */
static enum cd_err collection_waits(struct store *db, const struct ledger_recharge *r)
{
	static const char sql[] = "UPDATE recharges SET next_attempt_at = ?, decided_at = NULL, error = 'not sent: a "
				  "dispute is open on the account', updated_at = ? WHERE id = ? AND state = 'queued'";
	log_info("account %s: collection %" PRId64 " not sent: a dispute is open on the account", r->account, r->id);
	return store_do(db, sql, "collection waits", "iii", db->now + LIMIT_DISPUTED_CHARGE_WAIT_SECONDS, db->now, r->id);
}

/* Due: a charge queued to be sent, or one sent whose PaymentIntent is to
 * be fetched (next_attempt_at 0: left for good, see news_later). Each is
 * leased by pushing next_attempt_at, under the state it was read in; a
 * queued one's decided_at is the lease's time, when no dispute was open
 * on its account (verify holds it to that). An auto-recharge due on an
 * account with a dispute open goes to held[] instead, for
 * ledger_recharges_claim to end on its locked account. */
static enum cd_err claim_tx(struct store *db, struct ledger_recharge *out, int max, int64_t lease_seconds,
			    int *claimed, int64_t *held, int *nheld)
{
	static const char due[] = "SELECT r.id, r.amount_cents, r.attempts, a.ext_id, a.stripe_customer_id, "
				  "a.stripe_payment_method, IFNULL(r.period, 0), r.try_no, a.balance_micros, "
				  "IF(r.state = 'sent', IFNULL(r.payment_intent, ''), ''), "
				  "r.state = 'queued' AND " DISPUTE_OPEN_SQL ", r.attempts > 0 AND r.decided_at IS NULL, "
				  "r.decided_at IS NOT NULL FROM recharges r "
				  "JOIN accounts a ON a.id = r.account_id WHERE r.state IN ('queued', 'sent') "
				  "AND r.next_attempt_at BETWEEN 1 AND ? AND (r.state = 'queued' OR "
				  "r.payment_intent IS NOT NULL) ORDER BY r.id LIMIT ?";
	/* A charge tried before keys were salted keeps its key and no
	 * decided_at (recharge.c charge_key). */
	static const char lease[] = "UPDATE recharges SET next_attempt_at = ?, decided_at = IF(state = 'queued' AND "
				    "NOT (attempts > 0 AND decided_at IS NULL), ?, decided_at) WHERE id = ? AND state = ? "
				    "AND next_attempt_at BETWEEN 1 AND ?";
	struct ledger_recharge found[LIMIT_RECHARGE_BATCH];
	int64_t balance[LIMIT_RECHARGE_BATCH];
	int disputed[LIMIT_RECHARGE_BATCH];
	int n = 0, e;
	*claimed = *nheld = 0;
	struct dbstmt *s = store_exec(db, due, &e, "ii", db->now, (int64_t)max);
	if (s == NULL)
		return store_err(db, e, "recharges due");
	while (n < max && n < LIMIT_RECHARGE_BATCH && store_fetch(s) == 1) {
		struct ledger_recharge *r = &found[n++];
		memset(r, 0, sizeof(*r));
		r->id = store_i64(s, 0);
		r->amount_cents = store_i64(s, 1);
		r->attempts = store_i64(s, 2);
		ledger_rows_copy_text(r->account, sizeof(r->account), store_str(s, 3));
		ledger_rows_copy_text(r->customer, sizeof(r->customer), store_str(s, 4));
		ledger_rows_copy_text(r->payment_method, sizeof(r->payment_method), store_str(s, 5));
		r->period = store_i64(s, 6);
		r->try_no = store_i64(s, 7);
		balance[n - 1] = store_i64(s, 8);
		ledger_rows_copy_text(r->payment_intent, sizeof(r->payment_intent), store_str(s, 9));
		disputed[n - 1] = store_i64(s, 10) != 0;
		r->legacy_key = store_i64(s, 11) != 0;
		r->decided = store_i64(s, 12) != 0;
	}
	for (int i = 0; i < n; i++) {
		int send = 1, sent = found[i].payment_intent[0] != '\0';
		enum cd_err rc = found[i].period > 0 && !sent ? ledger_payg_before_send(db, &found[i], balance[i], &send) : CD_OK;
		if (rc == CD_OK && send && disputed[i]) {
			send = 0;
			if (found[i].period > 0)
				rc = collection_waits(db, &found[i]);
			else
				held[(*nheld)++] = found[i].id;
		}
		if (rc != CD_OK)
			return rc;
		if (!send)
			continue;
		struct dbstmt *l = store_exec(db, lease, &e, "iiisi", db->now + lease_seconds, db->now, found[i].id,
					   sent ? "sent" : "queued", db->now);
		if (l == NULL)
			return store_err(db, e, "recharge lease");
		if (store_affected(l) == 1)
			out[(*claimed)++] = found[i];
	}
	return CD_OK;
}

/* The last word before a claimed charge goes to Stripe, on its locked
 * account: no dispute open (else a collection waits and an auto-recharge
 * ends unsent: *go 0), and decided_at set in the same transaction, so a
 * dispute recorded after it is after the decision (verify). *go 0 too
 * when the charge is no longer queued. */
static enum cd_err decide_tx(struct store *db, const struct ledger_recharge *r, int *go)
{
	static const char owner[] = "SELECT account_id FROM recharges WHERE id = ?";
	static const char row[] = "SELECT state FROM recharges WHERE id = ? AND account_id = ? FOR UPDATE";
	static const char decided[] = "UPDATE recharges SET decided_at = ? WHERE id = ?";
	struct acct a;
	int e, open = 0;
	*go = 0;
	struct dbstmt *s = store_exec(db, owner, &e, "i", r->id);
	if (s == NULL)
		return store_err(db, e, "recharge owner");
	if (store_fetch(s) != 1)
		return CD_OK;
	enum cd_err rc = ledger_due_lock_id(db, store_i64(s, 0), &a);
	struct dbstmt *l = rc == CD_OK ? store_exec(db, row, &e, "ii", r->id, a.id) : NULL;
	if (rc == CD_OK && l == NULL)
		return store_err(db, e, "recharge decide");
	if (rc != CD_OK || store_fetch(l) != 1 || strcmp(store_str(l, 0), "queued") != 0)
		return rc;
	rc = ledger_disputes_open_on(db, &a, &open);
	if (rc == CD_OK && open && r->period > 0)
		rc = collection_waits(db, r);
	else if (rc == CD_OK && open)
		rc = ledger_recharges_hold_for_dispute(db, &a, r->id);
	else if (rc == CD_OK && !r->legacy_key)
		rc = store_do(db, decided, "recharge decided", "ii", db->now, r->id);
	*go = rc == CD_OK && !open;
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	return rc;
}

enum cd_err ledger_recharge_decide(struct store *db, const struct ledger_recharge *r, int *go)
{
	struct store_tx t;
	assert(r->id > 0);	/* a claimed charge's row */
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, decide_tx(db, r, go));
	if (t.rc != CD_OK)
		*go = 0;
	/* Sent only on a clear yes: never after an error. */
	assert(*go == 0 || *go == 1);
	assert(t.rc == CD_OK || *go == 0);
	return t.rc;
}

/* An auto-recharge held back by a dispute, ended on its locked account
 * (the account's lock first, as everywhere). */
static enum cd_err held_tx(struct store *db, int64_t id)
{
	static const char owner[] = "SELECT account_id FROM recharges WHERE id = ?";
	int e;
	struct dbstmt *s = store_exec(db, owner, &e, "i", id);
	if (s == NULL)
		return store_err(db, e, "recharge owner");
	if (store_fetch(s) != 1)
		return CD_OK;
	struct acct a;
	enum cd_err rc = ledger_due_lock_id(db, store_i64(s, 0), &a);
	if (rc == CD_OK)
		rc = ledger_recharges_hold_for_dispute(db, &a, id);
	if (rc == CD_OK && a.dirty)
		rc = ledger_events_acct_save(db, &a);
	return rc;
}

enum cd_err ledger_recharges_claim(struct store *db, struct ledger_recharge *out, int max, int64_t lease_seconds,
				   int *n)
{
	struct store_tx t;
	int claimed = 0, nheld = 0;
	int64_t held[LIMIT_RECHARGE_BATCH];
	assert(lease_seconds > 0);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, claim_tx(db, out, max, lease_seconds, &claimed, held, &nheld));
	*n = t.rc == CD_OK ? claimed : 0;
	assert(*n >= 0);
	assert(*n <= max);
	/* A held charge that cannot be ended now is ended at a later claim;
	 * the charges leased above are the sender's either way. */
	for (int i = 0; t.rc == CD_OK && i < nheld; i++) {
		struct store_tx h;
		for (store_tx_init(db, &h); store_tx_next(db, &h);)
			store_tx_end(db, &h, held_tx(db, held[i]));
		if (h.rc != CD_OK)
			log_warn("auto-recharge %" PRId64 " held back by a dispute: not ended now (%s)", held[i],
				 errors_strerror(h.rc));
	}
	return t.rc;
}

/* The charge's end on its locked account: paid (credited once) or
 * failed, each kind by its own rules. */
static enum cd_err charge_end(struct store *db, struct acct *a, int64_t id, int payg,
			      enum ledger_recharge_outcome outcome, const char *pi, int64_t cents, const char *error)
{
	int done;
	if (outcome == RECHARGE_PAID) {
		char key[JOURNAL_KEY_BYTES];
		const char *outer = ledger_rows_journal_key_push(db, key, payg ? "collection" : "recharge", pi, 1);
		enum cd_err rc = payg ? ledger_payg_credit(db, a, id, pi, cents, &done)
				      : ledger_recharges_credit(db, a, id, pi, cents, &done);
		db->journal_key = outer;
		return rc;
	}
	return payg ? ledger_payg_fail(db, a, id, NULL, error, &done) : ledger_recharges_fail(db, a, id, error, &done);
}

/* pi and error are never NULL ("" for none). */
static enum cd_err result_tx(struct store *db, int64_t id, enum ledger_recharge_outcome outcome, const char *pi,
			     int64_t cents, const char *error)
{
	/* Its news is fetched if no webhook brought it first; updated_at is
	 * when it was sent for as long as it stays so (news_later). */
	static const char sent[] = "UPDATE recharges SET state = 'sent', payment_intent = ?, attempts = attempts + 1, "
				   "updated_at = ?, next_attempt_at = ? WHERE id = ? AND state = 'queued'";
	static const char retry[] = "UPDATE recharges SET attempts = attempts + 1, error = ?, updated_at = ?, "
				    "next_attempt_at = ? + LEAST(POW(2, LEAST(attempts, 20)), ?) WHERE id = ? "
				    "AND state = 'queued'";
	static const char owner[] = "SELECT account_id, attempts, state, kind = 'payg' FROM recharges WHERE id = ?";
	char cut[LIMIT_RECHARGE_ERROR_BYTES + 1];
	int e;
	ledger_recharges_error_cut(cut, error);
	if (outcome == RECHARGE_SENT)
		return store_do(db, sent, "recharge sent", "siii", pi, db->now, db->now + LIMIT_PAYMENT_NEWS_SECONDS, id);
	struct dbstmt *s = store_exec(db, owner, &e, "i", id);
	if (s == NULL)
		return store_err(db, e, "recharge owner");
	if (store_fetch(s) != 1)
		return CD_E_NOT_FOUND;
	int64_t account = store_i64(s, 0), attempts = store_i64(s, 1);
	int payg = store_i64(s, 3) != 0;
	/* Only a charge still queued is this sender's to end: another
	 * process (after the lease) or the webhook may have moved it on. */
	if (strcmp(store_str(s, 2), "queued") != 0 && outcome != RECHARGE_PAID)
		return CD_OK;
	/* No answer is no decline: a collection is sent again with the same
	 * key however long Stripe is away (it may have charged the card); an
	 * auto-recharge counts as failed after LIMIT_RECHARGE_ATTEMPTS. */
	if (outcome == RECHARGE_RETRY && (payg || attempts + 1 < LIMIT_RECHARGE_ATTEMPTS))
		return store_do(db, retry, "recharge retry", "siiii", cut, db->now, db->now,
			     (int64_t)LIMIT_RECHARGE_BACKOFF_MAX_SECONDS, id);
	struct acct a;
	enum cd_err rc = ledger_due_lock_id(db, account, &a);
	if (rc == CD_OK)
		rc = charge_end(db, &a, id, payg, outcome, pi, cents, cut);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	return rc;
}

enum cd_err ledger_recharge_result(struct store *db, int64_t id, enum ledger_recharge_outcome outcome,
				   const char *payment_intent, int64_t cents, const char *error)
{
	struct store_tx t;
	const char *pi = payment_intent != NULL ? payment_intent : "";
	const char *why = error != NULL ? error : "";
	assert(id > 0);	/* a claimed charge's row */
	assert(outcome >= RECHARGE_PAID);
	assert(outcome <= RECHARGE_RETRY);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, result_tx(db, id, outcome, pi, cents, why));
	return t.rc;
}

/* ---- a payment left without news (docs/api.md, "without news") ---- */

/* A charge still sent after its news was applied (none yet, or a payment
 * that could not be credited) is fetched again when its age has doubled
 * (at most LIMIT_PAYMENT_NEWS_BACKOFF_MAX_SECONDS later), a last time at
 * LIMIT_PAYMENT_NEWS_GIVE_UP_SECONDS, and then left for its webhook:
 * next_attempt_at 0, which no claim takes. updated_at (when it was sent)
 * is not changed. */
static enum cd_err news_later(struct store *db, int64_t id, const char *pi, int64_t sent_at)
{
	static const char sql[] = "UPDATE recharges SET next_attempt_at = ? WHERE id = ? AND state = 'sent' "
				  "AND payment_intent = ?";
	int64_t age = db->now - sent_at, wait = age, last = sent_at + LIMIT_PAYMENT_NEWS_GIVE_UP_SECONDS;
	if (wait < LIMIT_PAYMENT_NEWS_SECONDS)
		wait = LIMIT_PAYMENT_NEWS_SECONDS;
	if (wait > LIMIT_PAYMENT_NEWS_BACKOFF_MAX_SECONDS)
		wait = LIMIT_PAYMENT_NEWS_BACKOFF_MAX_SECONDS;
	int64_t next = db->now >= last ? 0 : db->now + wait < last ? db->now + wait : last;
	if (next == 0)
		log_warn("charge %lld: its PaymentIntent %s has had no news for %lld s; not fetched any more, left "
			 "for its webhook", (long long)id, pi, (long long)age);
	return store_do(db, sql, "payment news later", "iis", next, id, pi);
}

static enum cd_err news_tx(struct store *db, int64_t id, const char *pi, enum ledger_payment_news news,
			   int64_t cents, const char *error)
{
	static const char owner[] = "SELECT account_id, kind = 'payg', updated_at FROM recharges WHERE id = ? AND "
				    "state = 'sent' AND payment_intent = ?";
	char cut[LIMIT_RECHARGE_ERROR_BYTES + 1];
	int e, done = 0;
	struct dbstmt *s = store_exec(db, owner, &e, "is", id, pi);
	if (s == NULL)
		return store_err(db, e, "payment news");
	/* Ended meanwhile (its webhook came first): nothing more to do. */
	if (store_fetch(s) != 1)
		return CD_OK;
	int64_t account = store_i64(s, 0), sent_at = store_i64(s, 2);
	int payg = store_i64(s, 1) != 0;
	struct acct a;
	enum cd_err rc = news == PAYMENT_NEWS_NONE ? CD_OK : ledger_due_lock_id(db, account, &a);
	/* The same effects as the webhook's, under the same locks and state
	 * checks: whichever comes second finds the charge ended. */
	ledger_recharges_error_cut(cut, error);
	if (rc == CD_OK && news == PAYMENT_NEWS_SUCCEEDED)
		rc = charge_end(db, &a, id, payg, RECHARGE_PAID, pi, cents, "");
	else if (rc == CD_OK && news == PAYMENT_NEWS_FAILED)
		rc = payg ? ledger_payg_fail(db, &a, id, pi, cut, &done) : ledger_recharges_fail(db, &a, id, cut, &done);
	if (rc == CD_OK && news != PAYMENT_NEWS_NONE)
		rc = ledger_events_acct_save(db, &a);
	if (rc == CD_OK)
		rc = news_later(db, id, pi, sent_at);
	return rc;
}

enum cd_err ledger_payment_news(struct store *db, int64_t id, const char *payment_intent,
				enum ledger_payment_news news, int64_t cents, const char *error)
{
	struct store_tx t;
	const char *why = error != NULL && error[0] != '\0' ? error : "payment failed";
	assert(id > 0);	/* a claimed charge's row, sent */
	assert(news >= PAYMENT_NEWS_SUCCEEDED);
	assert(news <= PAYMENT_NEWS_NONE);
	if (payment_intent == NULL || payment_intent[0] == '\0')
		return CD_E_NOT_FOUND;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, news_tx(db, id, payment_intent, news, cents, why));
	return t.rc;
}
