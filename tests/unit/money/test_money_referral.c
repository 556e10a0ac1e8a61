/* test_money_referral.c: a referral's reward and its taking back
 * (money_referral.h), without a database: rewarded or not, once ever,
 * the referrer's monthly cap (the referred account rewarded all the
 * same), a closed referrer, the grants' expiry, and what a refund or a
 * dispute takes back, once; a reward held hold_days and granted by the
 * sweep, or cancelled by a refund or dispute meanwhile. Then a month of referrals settled one after
 * the other, the cap counted as the ledger counts it. */
#include "money_referral.h"
#include "timefmt.h"
#include "tap.h"

#define NOW 1790000000

static struct referral_case base(void)
{
	struct referral_case c = {.settled = 0, .referrer_open = 1, .referrer_micros = 5000000,
				  .referred_micros = 2000000, .referrer_month_count = 0, .max_per_month = 10,
				  .expires_days = 0, .now = NOW};
	return c;
}

static void rewards(void)
{
	struct referral_effect e;
	struct referral_case c = base();
	money_referral_reward(&c, &e);
	ok(e.settle, "the first credited top-up settles the referral");
	is_int(e.referrer_micros, 5000000, "the referrer gets referrer_micros");
	is_int(e.referred_micros, 2000000, "the referred account gets referred_micros");
	is_int(e.expires_at, -1, "expires_days 0: the grants never expire");
	ok(!e.capped, "under the cap");

	c.settled = 1;
	money_referral_reward(&c, &e);
	ok(!e.settle, "settled already: a second top-up settles nothing (once ever)");
	is_int(e.referrer_micros + e.referred_micros, 0, "... and grants nothing");

	c = base();
	c.expires_days = 30;
	money_referral_reward(&c, &e);
	is_int(e.expires_at, NOW + 30 * TIMEFMT_SECONDS_PER_DAY, "expires_days 30: both grants expire 30 days on");

	c = base();
	c.referrer_micros = 0;
	c.referred_micros = 0;
	c.expires_days = 30;
	money_referral_reward(&c, &e);
	ok(e.settle, "rewards off: the referral is settled all the same");
	is_int(e.referrer_micros + e.referred_micros, 0, "rewards off: nothing granted");
	is_int(e.expires_at, -1, "nothing granted: no expiry");
	ok(!e.capped, "rewards off: not capped");

	c = base();
	c.referrer_micros = 0;
	money_referral_reward(&c, &e);
	is_int(e.referrer_micros, 0, "referrer_micros 0: the referrer gets nothing");
	is_int(e.referred_micros, 2000000, "... the referred account its own");
}

static void caps(void)
{
	struct referral_effect e;
	struct referral_case c = base();
	c.referrer_month_count = 9;
	money_referral_reward(&c, &e);
	is_int(e.referrer_micros, 5000000, "the 10th reward of the month is given");
	ok(!e.capped, "the 10th is not capped");
	c.referrer_month_count = 10;
	money_referral_reward(&c, &e);
	ok(e.settle, "past the cap: settled");
	ok(e.capped, "past the cap: capped");
	is_int(e.referrer_micros, 0, "past the cap: the referrer gets nothing");
	is_int(e.referred_micros, 2000000, "past the cap: the referred account gets its own");
	c.max_per_month = 0;
	money_referral_reward(&c, &e);
	is_int(e.referrer_micros, 5000000, "max_per_referrer_per_month 0: no cap");

	c = base();
	c.referrer_open = 0;
	money_referral_reward(&c, &e);
	is_int(e.referrer_micros, 0, "a closed referrer gets nothing");
	ok(!e.capped, "... not for its cap");
	is_int(e.referred_micros, 2000000, "... the referred account gets its own");

	/* A month of 25 referrals of one referrer, counted as the ledger
	 * counts (rewards given to the referrer this month). */
	int64_t count = 0, referred = 0;
	for (int i = 0; i < 25; i++) {
		c = base();
		c.referrer_month_count = count;
		money_referral_reward(&c, &e);
		count += e.referrer_micros > 0;
		referred += e.referred_micros;
	}
	is_int(count, 10, "25 referrals in a month: 10 reward the referrer");
	is_int(referred, 25 * 2000000, "... and all 25 referred accounts");
}

static void takes(void)
{
	struct referral_take_effect e;
	struct referral_take_case c = {.rewarded_by_this = 1, .taken = 0, .referrer_remaining = 5000000,
				       .referred_remaining = 1500000};
	money_referral_take(&c, &e);
	ok(e.take, "a refund of the rewarding top-up takes the reward back");
	is_int(e.referrer, 5000000, "the referrer's grant's remainder");
	is_int(e.referred, 1500000, "the referred grant's remainder (part spent: only what is left)");
	c.taken = 1;
	money_referral_take(&c, &e);
	ok(!e.take, "taken back already: once");
	is_int(e.referrer + e.referred, 0, "... nothing more");
	c = (struct referral_take_case){.rewarded_by_this = 0, .referrer_remaining = 5000000, .referred_remaining = 2000000};
	money_referral_take(&c, &e);
	ok(!e.take, "a refund of another top-up takes nothing");
	is_int(e.referrer + e.referred, 0, "... nothing at all");
	c = (struct referral_take_case){.rewarded_by_this = 1, .referrer_remaining = -1, .referred_remaining = 0};
	money_referral_take(&c, &e);
	ok(e.take, "no referrer grant (capped), the referred grant spent: marked taken");
	is_int(e.referrer, 0, "no grant: nothing taken from the referrer");
	is_int(e.referred, 0, "a grant spent: nothing left to take");
}

/* [referral] hold_days: the reward waits out refunds and disputes. */
static void holds(void)
{
	struct referral_effect e;
	struct referral_case c = base();
	c.hold_days = 14;
	c.expires_days = 30;
	money_referral_reward(&c, &e);
	ok(e.pending && !e.settle, "hold_days 14: the credit settles nothing yet, the reward waits");
	is_int(e.due_at, NOW + 14 * TIMEFMT_SECONDS_PER_DAY, "due 14 days after the credit");
	is_int(e.referrer_micros + e.referred_micros, 0, "nothing granted at the credit");
	/* The sweep, 14 days on: decided again, its hold waited out. */
	c.hold_days = 0;
	c.now = NOW + 14 * TIMEFMT_SECONDS_PER_DAY;
	money_referral_reward(&c, &e);
	ok(e.settle && !e.pending, "the sweep settles it when due");
	ok(e.referrer_micros == 5000000 && e.referred_micros == 2000000, "both grants then");
	is_int(e.expires_at, c.now + 30 * TIMEFMT_SECONDS_PER_DAY, "expiring expires_days after the grant");
	c = base();
	money_referral_reward(&c, &e);
	ok(e.settle && !e.pending && e.due_at == -1, "hold_days 0: at once, as before");

	struct referral_take_effect t;
	struct referral_take_case k = {.pending_by_this = 1, .referrer_remaining = -1, .referred_remaining = -1};
	money_referral_take(&k, &t);
	ok(t.cancel && !t.take, "a refund or dispute in the window cancels the waiting reward");
	is_int(t.referrer + t.referred, 0, "nothing to take back: nothing was granted");
	k.taken = 1;
	money_referral_take(&k, &t);
	ok(!t.cancel && !t.take, "cancelled once");
	k = (struct referral_take_case){.pending_by_this = 0, .referrer_remaining = -1, .referred_remaining = -1};
	money_referral_take(&k, &t);
	ok(!t.cancel && !t.take, "a refund of another top-up cancels nothing");
}

int main(void)
{
	rewards();
	caps();
	takes();
	holds();
	return done_testing();
}
