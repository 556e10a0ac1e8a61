/* money_referral.c: the rules of a referral's reward and of taking it
 * back (see money_referral.h). Pure: the asserts are the rules' own
 * checks. */
#include "money_referral.h"
#include "timefmt.h"
#include <assert.h>
#include <stddef.h>

/* The config caps expires_days and hold_days (LIMITs in ledger_config.c):
 * their seconds fit far inside int64. */
#define REFERRAL_DAYS_MAX 36500

void money_referral_reward(const struct referral_case *c, struct referral_effect *e)
{
	assert(c != NULL);
	assert(e != NULL);
	assert(c->referrer_micros >= 0);
	assert(c->referred_micros >= 0);
	assert(c->max_per_month >= 0);
	assert(c->referrer_month_count >= 0);
	assert(c->expires_days >= 0 && c->expires_days <= REFERRAL_DAYS_MAX);
	assert(c->hold_days >= 0 && c->hold_days <= REFERRAL_DAYS_MAX);
	assert(c->now >= 0);
	e->settle = 0;
	e->pending = 0;
	e->due_at = -1;
	e->referrer_micros = 0;
	e->referred_micros = 0;
	e->expires_at = -1;
	e->capped = 0;
	if (c->settled)
		return;
	if (c->hold_days > 0) {
		/* The top-up may still be refunded or disputed: nothing yet. */
		e->pending = 1;
		e->due_at = c->now + c->hold_days * TIMEFMT_SECONDS_PER_DAY;
		assert(e->due_at > c->now);
		return;
	}
	e->settle = 1;
	e->referred_micros = c->referred_micros;
	e->capped = c->referrer_micros > 0 && c->referrer_open && c->max_per_month > 0 &&
		    c->referrer_month_count >= c->max_per_month;
	e->referrer_micros = c->referrer_open && !e->capped ? c->referrer_micros : 0;
	if (e->referrer_micros > 0 || e->referred_micros > 0)
		e->expires_at = c->expires_days > 0 ? c->now + c->expires_days * TIMEFMT_SECONDS_PER_DAY : -1;
	/* Never more than the config says, the referrer never past its cap. */
	assert(e->referrer_micros == 0 || e->referrer_micros == c->referrer_micros);
	assert(e->referrer_micros == 0 || c->max_per_month == 0 || c->referrer_month_count < c->max_per_month);
	assert(e->expires_at == -1 || e->expires_at > c->now);
}

void money_referral_take(const struct referral_take_case *c, struct referral_take_effect *e)
{
	assert(c != NULL);
	assert(e != NULL);
	assert(!(c->rewarded_by_this && c->pending_by_this));	/* settled or waiting, not both */
	e->take = c->rewarded_by_this && !c->taken;
	e->cancel = c->pending_by_this && !c->taken;
	e->referrer = e->take && c->referrer_remaining > 0 ? c->referrer_remaining : 0;
	e->referred = e->take && c->referred_remaining > 0 ? c->referred_remaining : 0;
	/* Only what is left, once. */
	assert(e->referrer >= 0 && e->referred >= 0);
	assert(e->referrer <= (c->referrer_remaining > 0 ? c->referrer_remaining : 0));
	assert(e->referred <= (c->referred_remaining > 0 ? c->referred_remaining : 0));
	assert(e->take || (e->referrer == 0 && e->referred == 0));
	assert(!(e->take && e->cancel));
}
