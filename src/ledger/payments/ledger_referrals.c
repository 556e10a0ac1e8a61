/* ledger_referrals.c: referral credits (ledger_referrals.h; docs/growth.md,
 * "Referrals"). Owns the referral_codes and referrals rows. A reward and
 * its taking back are money operations of the ledger's one shape: the
 * referral's row read under the referred account's lock, the decision
 * made by money_referral.c, the grants and journal rows written by the
 * one writer. The referred account's share is written where the top-up,
 * its refund or its dispute is; the referrer's at ledger_referrals_save,
 * the operation's last step, with the referrer locked then: on Galera the
 * referrer's row is another node's, and the less time it is held from
 * here, the rarer a commit there takes it at certification. Never writes
 * a grant but through ledger_rows.h, never rewards twice: the row is
 * settled in the transaction of its grants. */
#include "ledger_referrals.h"
#include "ledger_config.h"
#include "ledger_events.h"
#include "money_referral.h"
#include "keys.h"
#include "log.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Locks the referrer (found unlocked in k->referrer_id) into k. A referrer
 * gone (no row) leaves k->referrer_locked 0: it is rewarded nothing. */
static enum cd_err lock_referrer(struct store *db, struct referral_lock *k)
{
	db->tx_wide = 1;	/* two accounts: more tries on Galera (store_tx) */
	enum cd_err rc = ledger_due_lock_id(db, k->referrer_id, &k->referrer);
	if (rc == CD_E_NOT_FOUND)
		return CD_OK;
	k->referrer_locked = rc == CD_OK;
	return rc;
}

/* The referral's row, read under both accounts' locks. */
static enum cd_err row_read(struct store *db, int64_t referred_id, struct referral_lock *k)
{
	static const char sql[] = "SELECT settled_at IS NOT NULL, COALESCE(topup_id, 0), COALESCE(referrer_grant_id, 0), "
				  "COALESCE(referred_grant_id, 0), taken_back_at IS NOT NULL, COALESCE(due_at, 0), "
				  "referrer_id FROM referrals WHERE referred_id = ? FOR UPDATE";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "i", referred_id);
	if (s == NULL)
		return store_err(db, e, "referral row");
	int got = store_fetch(s);
	if (got < 0)
		log_error("referral of account %lld: its row could not be read", (long long)referred_id);
	if (got != 1)
		return got < 0 ? CD_E_INTERNAL : store_retry(db, RETRY_RACE);	/* a referral is never deleted */
	k->settled = (int)store_i64(s, 0);
	k->topup_id = store_i64(s, 1);
	k->referrer_grant_id = store_i64(s, 2);
	k->referred_grant_id = store_i64(s, 3);
	k->taken = (int)store_i64(s, 4);
	k->due_at = store_i64(s, 5);
	k->pending = !k->settled && k->due_at > 0;
	k->referrer_id = store_i64(s, 6);	/* never changes: as found before the lock */
	return CD_OK;
}

enum cd_err ledger_referrals_lock(struct store *db, int64_t account_id, int64_t topup_id, struct acct *a,
				  struct referral_lock *k)
{
	static const char sql_open[] = "SELECT referrer_id FROM referrals WHERE referred_id = ? AND settled_at IS NULL "
				       "AND due_at IS NULL";
	static const char sql_topup[] = "SELECT referrer_id FROM referrals WHERE referred_id = ? AND topup_id = ? "
					"AND taken_back_at IS NULL";
	int e;
	memset(k, 0, sizeof(*k));
	if (topup_id < 0)
		return ledger_due_lock_id(db, account_id, a);
	/* Read without a lock: a referral's referrer never changes, and its
	 * state is read again under both locks (row_read). */
	struct dbstmt *s = topup_id > 0 ? store_exec(db, sql_topup, &e, "ii", account_id, topup_id)
					: store_exec(db, sql_open, &e, "i", account_id);
	if (s == NULL)
		return store_err(db, e, "referral lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	k->found = got == 1;
	k->referrer_id = k->found ? store_i64(s, 0) : 0;
	assert(!k->found || k->referrer_id != account_id);	/* no account refers itself */
	/* The referrer is locked last (ledger_referrals_save), after the
	 * referred account: a referrer is always the older account (its code
	 * existed when the referred one was made), so referrals' writes lock
	 * their accounts newer first and never wait on one another in a
	 * circle. A guard batch holding both (it locks by ascending id) can
	 * meet one in a circle: InnoDB finds the deadlock at once, and the
	 * loser runs again. */
	enum cd_err rc = ledger_due_lock_id(db, account_id, a);
	if (rc == CD_OK && k->found)
		rc = row_read(db, account_id, k);
	assert(rc != CD_OK || a->locked_tx == db->tx_serial);
	return rc;
}

/* The referrer's rewards in this UTC month, under its lock. */
static enum cd_err month_count(struct store *db, int64_t referrer_id, int64_t *count)
{
	static const char sql[] = "SELECT COUNT(*) FROM referrals WHERE referrer_id = ? AND reward_month = ?";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", referrer_id, db->now_month);
	if (s == NULL)
		return store_err(db, e, "referral count");
	if (store_fetch(s) != 1) {
		log_error("referrer %lld: its rewards this month could not be counted", (long long)referrer_id);
		return CD_E_INTERNAL;
	}
	*count = store_i64(s, 0);
	return CD_OK;
}

/* A grant of source referral of micros (cut to what the balance can take:
 * a reward never fails the top-up's credit) to a; *grant_id 0: none.
 * A reward's grant names no other account: the journal reaches the
 * end user (/v1/me/transactions), who must not learn the other side's
 * id; the referrals row ties the two. */
static enum cd_err give(struct store *db, struct acct *a, int64_t micros, int64_t expires_at, int64_t *grant_id)
{
	*grant_id = 0;
	int64_t amount = micros > 0 ? money_rule_fit(a->balance, micros, LIMIT_BALANCE_MICROS_MAX) : 0;
	if (amount <= 0)
		return CD_OK;
	return ledger_rows_add_grant(db, a, "referral", amount, GRANT_PRIORITY_DEFAULT, expires_at, NULL,
				     "referral reward", grant_id, NULL);
}

/* The amount of grant id as written (for the event). */
static enum cd_err granted(struct store *db, int64_t id, int64_t *micros)
{
	int e;
	*micros = 0;
	if (id == 0)
		return CD_OK;
	struct dbstmt *s = store_exec(db, "SELECT amount_micros FROM grants WHERE id = ?", &e, "i", id);
	if (s == NULL)
		return store_err(db, e, "referral grant");
	if (store_fetch(s) != 1) {
		/* Written in this transaction: gone only if it was rolled back
		 * untold (store_tx_end then runs it again). */
		log_error("referral grant %lld not found", (long long)id);
		return CD_E_INTERNAL;
	}
	*micros = store_i64(s, 0);
	return CD_OK;
}

static enum cd_err reward_event(struct store *db, struct acct *a, struct referral_lock *k, int capped)
{
	int64_t referrer_micros, referred_micros;
	enum cd_err rc = granted(db, k->referrer_grant_id, &referrer_micros);
	if (rc == CD_OK)
		rc = granted(db, k->referred_grant_id, &referred_micros);
	if (rc != CD_OK || (referrer_micros == 0 && referred_micros == 0))
		return rc;
	/* The referrer's event; of the referred account when the referrer is gone. */
	const struct acct *owner = k->referrer_locked ? &k->referrer : a;
	return ledger_events_add(db, owner, EVENT_REFERRAL_REWARDED, json_pack("{s:s?, s:s, s:I, s:I, s:b}", "referrer",
			k->referrer_locked ? k->referrer.ext_id : NULL, "referred", a->ext_id, "referrer_micros",
			(json_int_t)referrer_micros, "referred_micros", (json_int_t)referred_micros, "capped", capped));
}

/* The case of k's reward now (the referrer's state as k has it). */
static void reward_case(struct store *db, const struct referral_lock *k, struct referral_case *in)
{
	const struct ledger_config *c = ledger_config_of(db->cfg);
	*in = (struct referral_case){.settled = 0, .referrer_open = k->referrer_locked &&
				     strcmp(k->referrer.status, "closed") != 0, .referrer_micros = c->referral_referrer_micros,
				     .referred_micros = c->referral_referred_micros, .max_per_month = c->referral_max_per_month,
				     .expires_days = c->referral_expires_days,
				     .hold_days = k->waited ? 0 : c->referral_hold_days, .now = db->now};
}

/* The reward held [referral] hold_days (money_referral.h): the row names
 * its top-up and when it is due, nothing granted; only the referred
 * account's row is written (the referrer is not locked). */
static enum cd_err reward_pending(struct store *db, struct acct *a, struct referral_lock *k, int64_t topup_id,
				  int64_t due_at)
{
	static const char sql[] = "UPDATE referrals SET topup_id = ?, due_at = ? WHERE referred_id = ?";
	enum cd_err rc = store_do(db, sql, "referral pending", "iii", topup_id, due_at, a->id);
	if (rc != CD_OK)
		return rc;
	/* k as the row will stand: a dispute that waited for this credit
	 * cancels the reward in the same transaction. */
	k->pending = 1;
	k->topup_id = topup_id;
	k->due_at = due_at;
	log_info("referral of account %s: its reward waits until %lld ([referral] hold_days)", a->ext_id,
		 (long long)due_at);
	return CD_OK;
}

int ledger_referrals_reward_due(const struct referral_lock *k)
{
	return k->found && !k->settled && !(k->pending && !k->waited);
}

enum cd_err ledger_referrals_reward(struct store *db, struct acct *a, struct referral_lock *k, int64_t topup_id)
{
	if (!ledger_referrals_reward_due(k))
		return CD_OK;
	/* The referred account's share: the referrer's state decides only
	 * the referrer's (money_referral_reward), which waits for its lock. */
	struct referral_case in;
	struct referral_effect eff;
	reward_case(db, k, &in);
	money_referral_reward(&in, &eff);
	if (eff.pending)
		return reward_pending(db, a, k, topup_id, eff.due_at);
	assert(eff.settle);
	int64_t referred_grant = 0;
	enum cd_err rc = give(db, a, eff.referred_micros, eff.expires_at, &referred_grant);
	/* k as the row will stand: a dispute that waited for this credit
	 * takes the reward back in the same transaction. */
	if (rc == CD_OK) {
		k->settled = 1;
		k->topup_id = topup_id;
		k->referred_grant_id = referred_grant;
		k->reward_due = 1;
	}
	return rc;
}

/* The referrer's share of the reward k->reward_due says is decided (k's
 * referrer locked, or gone), the referral settled, its event. */
static enum cd_err reward_referrer(struct store *db, struct acct *a, struct referral_lock *k)
{
	static const char sql[] = "UPDATE referrals SET settled_at = ?, topup_id = ?, reward_month = ?, "
				  "referrer_grant_id = ?, referred_grant_id = ? WHERE referred_id = ?";
	struct referral_case in;
	struct referral_effect eff;
	reward_case(db, k, &in);
	enum cd_err rc = in.referrer_open ? month_count(db, k->referrer_id, &in.referrer_month_count) : CD_OK;
	if (rc != CD_OK)
		return rc;
	money_referral_reward(&in, &eff);
	assert(eff.settle);
	int64_t referrer_grant = 0;
	if (eff.referrer_micros > 0)
		rc = give(db, &k->referrer, eff.referrer_micros, eff.expires_at, &referrer_grant);
	k->referrer_grant_id = referrer_grant;
	k->changed = k->changed || referrer_grant > 0;
	const int64_t *month = referrer_grant > 0 ? &db->now_month : NULL;
	const int64_t *g1 = referrer_grant > 0 ? &referrer_grant : NULL;
	const int64_t *g2 = k->referred_grant_id > 0 ? &k->referred_grant_id : NULL;
	if (rc == CD_OK)
		rc = store_do(db, sql, "referral settle", "iiIIIi", db->now, k->topup_id, month, g1, g2, a->id);
	if (rc == CD_OK)
		rc = reward_event(db, a, k, eff.capped);
	if (rc == CD_OK)
		log_info("referral of account %s settled by its first top-up: %lld to the referrer, %lld to it%s",
			 a->ext_id, (long long)eff.referrer_micros, (long long)eff.referred_micros,
			 eff.capped ? " (the referrer's monthly cap reached)" : "");
	return rc;
}

/* The grant's remaining, read under its account's lock; -1: no grant. */
static enum cd_err remaining(struct store *db, int64_t id, int64_t *left)
{
	int e;
	*left = -1;
	if (id == 0)
		return CD_OK;
	struct dbstmt *s = store_exec(db, "SELECT remaining_micros FROM grants WHERE id = ? FOR UPDATE", &e, "i", id);
	if (s == NULL)
		return store_err(db, e, "referral grant remaining");
	int got = store_fetch(s);
	if (got < 0) {
		log_error("referral grant %lld: its remaining could not be read", (long long)id);
		return CD_E_INTERNAL;
	}
	*left = got == 1 ? store_i64(s, 0) : -1;
	return CD_OK;
}

/* Writes off micros (> 0) left on grant id of account a. */
static enum cd_err write_off(struct store *db, struct acct *a, int64_t id, int64_t micros, const char *cause,
			     const char *reference)
{
	const struct spend_grant gone = {id, 0, 0, 1};
	const struct journal_line j = {.amount = -micros, .cause = cause, .source = "referral", .grant_id = id,
				       .reference = reference, .description = "referral reward taken back"};
	return ledger_rows_grants_journal(db, a, &gone, 1, &j, NULL);
}

/* A reward pending on the top-up refunded or disputed, cancelled: the
 * referral settled and taken back, with no grant (nothing to take back),
 * so that no later top-up rewards it and the sweep passes it by. */
static enum cd_err cancel_pending(struct store *db, struct acct *a, struct referral_lock *k, const char *cause,
				  const char *reference)
{
	static const char sql[] = "UPDATE referrals SET settled_at = ?, taken_back_at = ? WHERE referred_id = ?";
	assert(k->referrer_grant_id == 0 && k->referred_grant_id == 0);
	enum cd_err rc = store_do(db, sql, "referral cancelled", "iii", db->now, db->now, a->id);
	if (rc != CD_OK)
		return rc;
	k->settled = k->taken = 1;
	k->pending = 0;
	log_info("referral of account %s: its pending reward cancelled (%s %s)", a->ext_id, cause, reference);
	return CD_OK;
}

enum cd_err ledger_referrals_take(struct store *db, struct acct *a, struct referral_lock *k, int64_t topup_id,
				  const char *cause, const char *reference)
{
	static const char sql[] = "UPDATE referrals SET taken_back_at = ? WHERE referred_id = ?";
	if (!k->found)
		return CD_OK;
	/* The referred account's share here; the referrer's (what is left
	 * of its grant) at ledger_referrals_save, under its lock. */
	struct referral_take_case c = {.rewarded_by_this = k->settled && k->topup_id > 0 && k->topup_id == topup_id,
				       .pending_by_this = k->pending && k->topup_id > 0 && k->topup_id == topup_id,
				       .taken = k->taken, .referrer_remaining = -1};
	enum cd_err rc = remaining(db, k->referred_grant_id, &c.referred_remaining);
	if (rc != CD_OK)
		return rc;
	struct referral_take_effect eff;
	money_referral_take(&c, &eff);
	if (eff.cancel)
		return cancel_pending(db, a, k, cause, reference);
	if (!eff.take)
		return CD_OK;
	if (eff.referred > 0)
		rc = write_off(db, a, k->referred_grant_id, eff.referred, cause, reference);
	if (rc == CD_OK)
		rc = store_do(db, sql, "referral taken back", "ii", db->now, a->id);
	if (rc == CD_OK)
		log_info("referral of account %s taken back (%s %s): %lld from it, the referrer's grant next", a->ext_id,
			 cause, reference, (long long)eff.referred);
	k->taken = rc == CD_OK;
	k->take_due = k->taken;
	k->take_cause = cause;
	return rc;
}

/* What is left of the referrer's grant, taken back (k->take_due). The
 * referrer's journal names no charge or dispute of the other account's
 * (its cause says why). */
static enum cd_err take_referrer(struct store *db, struct referral_lock *k)
{
	struct referral_take_case c = {.rewarded_by_this = 1, .taken = 0, .referred_remaining = -1};
	enum cd_err rc = remaining(db, k->referrer_grant_id, &c.referrer_remaining);
	if (rc != CD_OK)
		return rc;
	struct referral_take_effect eff;
	money_referral_take(&c, &eff);
	if (eff.referrer > 0)
		rc = write_off(db, &k->referrer, k->referrer_grant_id, eff.referrer, k->take_cause, NULL);
	k->changed = k->changed || eff.referrer > 0;
	return rc;
}

enum cd_err ledger_referrals_save(struct store *db, struct acct *a, struct referral_lock *k)
{
	enum cd_err rc = CD_OK;
	if (k->reward_due || (k->take_due && k->referrer_grant_id > 0))
		rc = lock_referrer(db, k);
	if (rc == CD_OK && k->reward_due)
		rc = reward_referrer(db, a, k);
	if (rc == CD_OK && k->take_due && k->referrer_locked && k->referrer_grant_id > 0)
		rc = take_referrer(db, k);
	k->reward_due = k->take_due = 0;
	if (rc != CD_OK || !k->referrer_locked || (!k->changed && !k->referrer.dirty))
		return rc;
	assert(k->referrer.locked_tx == db->tx_serial);
	return ledger_events_acct_save(db, &k->referrer);
}

/* ---- rewards held (the sweep's: ledger_referrals_due) ---- */

/* Up to max referred accounts whose pending reward is due, into ids. */
static enum cd_err due_list(struct store *db, int max, int64_t *ids, int *n)
{
	static const char sql[] = "SELECT referred_id FROM referrals WHERE settled_at IS NULL AND due_at IS NOT NULL "
				  "AND due_at <= ? ORDER BY due_at LIMIT ?";
	int e, got = 0;
	*n = 0;
	struct dbstmt *s = store_exec(db, sql, &e, "ii", db->now, (int64_t)max);
	if (s == NULL)
		return store_err(db, e, "referrals due");
	while (*n < max && (got = store_fetch(s)) == 1)
		ids[(*n)++] = store_i64(s, 0);
	return *n < max && got < 0 ? CD_E_INTERNAL : CD_OK;
}

/* One pending reward granted, in the shape of the credit's: the referred
 * account locked first with the referral's row, its share written, the
 * referrer locked last (ledger_referrals_save). Read again under the
 * locks: a refund may have cancelled it, another sweep granted it. */
static enum cd_err due_tx(struct store *db, int64_t referred_id, int *granted)
{
	struct acct a;
	struct referral_lock k;
	memset(&k, 0, sizeof(k));
	*granted = 0;
	enum cd_err rc = ledger_due_lock_id(db, referred_id, &a);
	if (rc == CD_OK)
		rc = row_read(db, referred_id, &k);
	if (rc != CD_OK || !k.pending || k.due_at > db->now)
		return rc;
	k.found = k.waited = 1;
	rc = ledger_referrals_reward(db, &a, &k, k.topup_id);
	/* Settled now: money_referral_reward decided it with no hold left. */
	assert(rc != CD_OK || k.reward_due);
	if (rc == CD_OK)
		rc = ledger_events_acct_save(db, &a);
	if (rc == CD_OK)
		rc = ledger_referrals_save(db, &a, &k);
	*granted = rc == CD_OK;
	return rc;
}

enum cd_err ledger_referrals_due(struct store *db, int *granted)
{
	int64_t ids[LIMIT_REFERRAL_DUE_BATCH];
	int n = 0;
	struct store_tx t;
	*granted = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, due_list(db, LIMIT_REFERRAL_DUE_BATCH, ids, &n));
	for (int i = 0; t.rc == CD_OK && i < n; i++) {
		int one = 0;
		for (store_tx_init(db, &t); store_tx_next(db, &t);)
			store_tx_end(db, &t, due_tx(db, ids[i], &one));
		*granted += t.rc == CD_OK ? one : 0;
	}
	assert(*granted >= 0 && *granted <= LIMIT_REFERRAL_DUE_BATCH);
	return t.rc;
}

enum cd_err ledger_referrals_owner(struct store *db, const char *code, int64_t *id, char *ext, size_t cap)
{
	static const char sql[] = "SELECT c.account_id, a.ext_id FROM referral_codes c JOIN accounts a "
				  "ON a.id = c.account_id WHERE c.code = ?";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "s", code);
	if (s == NULL)
		return store_err(db, e, "referral code lookup");
	int got = store_fetch(s);
	if (got != 1)
		return got < 0 ? CD_E_INTERNAL : CD_E_NOT_FOUND;
	*id = store_i64(s, 0);
	store_copy(s, 1, ext, cap, "");
	return CD_OK;
}

enum cd_err ledger_referrals_record(struct store *db, int64_t referred_id, int64_t referrer_id)
{
	static const char sql[] = "INSERT INTO referrals (referred_id, referrer_id, created_at) VALUES (?, ?, ?)";
	assert(referred_id != referrer_id);
	return store_do(db, sql, "referral record", "iii", referred_id, referrer_id, db->now);
}

/* ---- the code (GET /v1/accounts/{id}/referral_code) ---- */

static enum cd_err code_tx(struct store *db, const char *account, char *code, size_t cap)
{
	static const char sql_get[] = "SELECT code FROM referral_codes WHERE account_id = ?";
	static const char sql_add[] = "INSERT IGNORE INTO referral_codes (account_id, code, created_at) VALUES (?, ?, ?)";
	struct acct a;
	int e;
	enum cd_err rc = ledger_rows_acct_read(db, account, &a);
	for (int i = 0; rc == CD_OK && i <= LIMIT_REFERRAL_CODE_TRIES; i++) {
		struct dbstmt *s = store_exec(db, sql_get, &e, "i", a.id);
		if (s == NULL)
			return store_err(db, e, "referral code");
		int got = store_fetch(s);
		if (got != 0)
			return got < 0 ? CD_E_INTERNAL : store_copy(s, 0, code, cap, "") == 0 ? CD_OK : CD_E_INTERNAL;
		/* None yet: a new one. Made twice at once, or meeting another
		 * account's (the unique code), the IGNORE keeps the first (it
		 * waits for one not yet committed), and the read above, of what
		 * is committed (READ COMMITTED), tells which. */
		char fresh[LIMIT_REFERRAL_CODE_BYTES + 1];
		if (keys_referral_code(fresh, sizeof(fresh)) != 0)
			return CD_E_INTERNAL;
		rc = store_do(db, sql_add, "referral code add", "isi", a.id, fresh, db->now);
	}
	return rc == CD_OK ? CD_E_INTERNAL : rc;
}

enum cd_err ledger_referral_code(struct store *db, const char *account, char *code, size_t cap)
{
	struct store_tx t;
	assert(cap > LIMIT_REFERRAL_CODE_CHARS);
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, code_tx(db, account, code, cap));
	assert(t.rc != CD_OK || strlen(code) == LIMIT_REFERRAL_CODE_CHARS);
	return t.rc;
}
