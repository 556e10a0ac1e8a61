/* ledger_referrals.h: referral credits (docs/growth.md, "Referrals"):
 * an account's code, the referral its creation records, the reward of
 * the referred account's first credited top-up and its taking back by a
 * refund or a dispute of that top-up. The reward and the taking back
 * write on two accounts: the referred account, locked first by
 * ledger_referrals_lock (the top-up's credit, its refunds and its
 * disputes lock their account through it), and the referrer, locked last
 * by ledger_referrals_save, just before its share is written. Internal
 * to the ledger's files. */
#ifndef CREDITD_LEDGER_REFERRALS_H
#define CREDITD_LEDGER_REFERRALS_H
#include "ledger_due.h"

/* A referred account's referral, and its referrer locked beside it. */
struct referral_lock {
	int found;			/* a referral to settle (or to take back) was found */
	int64_t referrer_id;
	int referrer_locked;		/* referrer was read under its lock in this transaction */
	struct acct referrer;
	int changed;			/* money moved on referrer: store it */
	/* The referrer's share, for ledger_referrals_save: the reward's
	 * (the referral settled by this transaction), the take-back's. */
	int reward_due, take_due;
	const char *take_cause;		/* "refund" or "dispute" */
	/* The row, read under the referred account's lock (found): */
	int settled, taken;
	int pending;			/* its reward waits [referral] hold_days (due_at) */
	int waited;			/* ... and the sweep found it due: granted now */
	int64_t due_at;			/* 0: none */
	int64_t topup_id;		/* the top-up that settled it; 0: none */
	int64_t referrer_grant_id, referred_grant_id;	/* 0: none */
};
/* Locks account_id into *a (ledger_due_lock_id) and reads its referral
 * (its referrer's id in k): with topup_id 0, a referral not yet settled
 * (a top-up's credit); > 0, the referral that top-up settled and nothing
 * took back yet (its refund or dispute); < 0, none (a credit of another
 * kind). k->found 0: no such referral. */
enum cd_err ledger_referrals_lock(struct store *db, int64_t account_id, int64_t topup_id, struct acct *a,
				  struct referral_lock *k);
/* At the credit of top-up topup_id to a (the referred account, locked
 * with k by ledger_referrals_lock): the reward, once (money_referral.h):
 * the referred account's grant, the referrer's at ledger_referrals_save;
 * with [referral] hold_days, the reward marked pending instead, for the
 * sweep (ledger_referrals_due). Nothing when k found no referral. */
enum cd_err ledger_referrals_reward(struct store *db, struct acct *a, struct referral_lock *k, int64_t topup_id);
/* Whether ledger_referrals_reward has anything to do for k (a reward to
 * give, or to mark pending): 0 when the credit rewards no referral. */
int ledger_referrals_reward_due(const struct referral_lock *k);
/* At a refund or a dispute (cause "refund" or "dispute", a static text;
 * reference the charge or the dispute) of top-up topup_id: both grants'
 * remainders, once, when that top-up is the one that settled k's
 * referral (another top-up of the account, credited at the same time,
 * may have); the referrer's at ledger_referrals_save. A reward pending on
 * that top-up is cancelled instead: nothing was granted. */
enum cd_err ledger_referrals_take(struct store *db, struct acct *a, struct referral_lock *k, int64_t topup_id,
				  const char *cause, const char *reference);
/* The operation's last step with k: locks the referrer when a reward or
 * a take-back is due to it, writes its share (the reward's cap decided
 * under its lock, the referral settled, the event referral.rewarded) and
 * stores it. a: the referred account. */
enum cd_err ledger_referrals_save(struct store *db, struct acct *a, struct referral_lock *k);
/* The internal id of the account whose referral code is code, into *id,
 * and its external id into ext (cap bytes); CD_E_NOT_FOUND: none. */
enum cd_err ledger_referrals_owner(struct store *db, const char *code, int64_t *id, char *ext, size_t cap);
/* Records that account referred_id was referred by referrer_id (its
 * creation's transaction). */
enum cd_err ledger_referrals_record(struct store *db, int64_t referred_id, int64_t referrer_id);
#endif
