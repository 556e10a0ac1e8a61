/* money_referral.h: the money rules of a referral (docs/growth.md,
 * "Referrals"), decided in pure C over the rows the ledger read under
 * both accounts' locks (ledger_referrals.c): whether the referred
 * account's first credited top-up rewards both accounts, with what and
 * until when, or waits [referral] hold_days first; and what a refund or a
 * dispute of that top-up takes back, or cancels while the reward waits.
 * No I/O, no clock, no allocation; tests/unit/money/test_money_referral.c
 * tests them without a database. */
#ifndef CREDITD_MONEY_REFERRAL_H
#define CREDITD_MONEY_REFERRAL_H
#include <stdint.h>

/* The referral as the top-up's credit finds it. */
struct referral_case {
	int settled;			/* its reward was decided already: once per referred account ever */
	int referrer_open;		/* the referrer's account exists and is not closed */
	int64_t referrer_micros;	/* [referral] referrer_micros (>= 0; 0: none) */
	int64_t referred_micros;	/* [referral] referred_micros (>= 0; 0: none) */
	int64_t referrer_month_count;	/* the referrer's rewards in now's UTC month, before this one */
	int64_t max_per_month;		/* [referral] max_per_referrer_per_month; 0: no cap */
	int64_t expires_days;		/* [referral] expires_days; 0: never */
	int64_t hold_days;		/* [referral] hold_days; 0: at once (a reward that waited out its hold: 0) */
	int64_t now;
};
struct referral_effect {
	int settle;			/* the referral is settled now (whatever it gives) */
	int64_t referrer_micros;	/* the referrer's grant; 0: none */
	int64_t referred_micros;	/* the referred account's grant; 0: none */
	int64_t expires_at;		/* both grants' expiry; -1: never */
	int capped;			/* the referrer's monthly cap left its grant out */
	int pending;			/* not settled yet: the reward waits until due_at */
	int64_t due_at;			/* when the sweep grants it (pending) */
};
/* The first credited top-up settles the referral, once — at once with
 * hold_days 0, else it marks the reward pending until hold_days after now,
 * when the sweep decides it again with hold_days 0 (a refund or a dispute
 * of that top-up meanwhile cancels it: money_referral_take). Settled, the
 * referred account gets referred_micros; the referrer gets referrer_micros unless
 * its account is closed or gone, or it has had max_per_month rewards this
 * UTC month already (the referred account still gets its own). A top-up
 * after the first settles nothing. */
void money_referral_reward(const struct referral_case *c, struct referral_effect *e);

/* A refund or a dispute of the top-up that settled the referral: both
 * grants' remainders, once. */
struct referral_take_case {
	int rewarded_by_this;		/* the referral was settled by the top-up refunded or disputed */
	int pending_by_this;		/* its reward waits for its hold on that top-up */
	int taken;			/* taken back already */
	int64_t referrer_remaining;	/* the referrer's grant's remaining; < 0: no grant */
	int64_t referred_remaining;	/* the referred account's grant's; < 0: no grant */
};
struct referral_take_effect {
	int take;			/* mark the referral taken back (even of nothing left) */
	int cancel;			/* a pending reward cancelled: nothing granted, nothing to take */
	int64_t referrer;		/* micros taken from the referrer's grant (>= 0) */
	int64_t referred;		/* micros taken from the referred account's grant (>= 0) */
};
/* Taken back once: both remainders when the top-up settled the referral;
 * cancelled (nothing taken: nothing was granted) when its reward waits on
 * that top-up's hold. */
void money_referral_take(const struct referral_take_case *c, struct referral_take_effect *e);
#endif
