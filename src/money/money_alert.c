/* money_alert.c: threshold alerts decided (see money_alert.h). */
#include "money_alert.h"
#include "money.h"
#include <assert.h>
#include <stddef.h>
#include <string.h>

static const char *const kind_names[ALERT_KINDS] = {
	[ALERT_BALANCE_BELOW] = "balance_below",
	[ALERT_MONTHLY_SPEND_PCT] = "monthly_spend_pct",
	[ALERT_DAILY_SPEND_PCT] = "daily_spend_pct",
	[ALERT_MEMBER_CAP_PCT] = "member_cap_pct",
	[ALERT_PLAN_CREDITS_USED_PCT] = "plan_credits_used_pct",
};

const char *money_alert_kind_name(enum money_alert_kind k)
{
	assert(k >= 0 && k < ALERT_KINDS);
	return kind_names[k];
}

int money_alert_kind_parse(const char *name)
{
	for (int k = 0; name != NULL && k < ALERT_KINDS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

int money_alert_kind_pct(enum money_alert_kind k)
{
	assert(k >= 0 && k < ALERT_KINDS);
	return k != ALERT_BALANCE_BELOW;
}

void money_alert_account_figure(enum money_alert_kind k, const struct money_alert_account *a,
				struct money_alert_figure *f)
{
	assert(k != ALERT_MEMBER_CAP_PCT);
	*f = (struct money_alert_figure){a->available, -1, 1};
	switch (k) {
	case ALERT_MONTHLY_SPEND_PCT:
		*f = (struct money_alert_figure){a->month_spent, a->monthly_limit, a->month_key};
		break;
	case ALERT_DAILY_SPEND_PCT:
		*f = (struct money_alert_figure){a->day_spent, a->daily_limit, a->day_key};
		break;
	case ALERT_PLAN_CREDITS_USED_PCT:
		/* Used: what the period's plan grants were, less what is left
		 * of them; no plan, no grant: nothing to be past. */
		*f = (struct money_alert_figure){a->plan_granted - a->plan_left,
						 a->plan_period > 0 && a->plan_granted > 0 ? a->plan_granted : -1,
						 a->plan_period > 0 ? a->plan_period : 1};
		break;
	default:
		break;
	}
	assert(f->period != 0);
}

void money_alert_member_figure(int64_t month_spent, int64_t own_cap, int64_t plan_cap, int64_t month_key,
			       struct money_alert_figure *f)
{
	*f = (struct money_alert_figure){month_spent, own_cap >= 0 ? own_cap : plan_cap, month_key};
	assert(f->period != 0);
}

int money_alert_past(enum money_alert_kind k, int64_t threshold, const struct money_alert_figure *f)
{
	assert(k >= 0 && k < ALERT_KINDS);
	assert(threshold >= 0);
	if (k == ALERT_BALANCE_BELOW)
		return f->value < threshold;
	/* A percentage of no limit (or of 0) is never reached. */
	if (f->limit <= 0)
		return 0;
	return (__int128)f->value * 100 >= (__int128)threshold * f->limit;
}

int money_alert_fired(int64_t fired_key, const struct money_alert_figure *f)
{
	return fired_key != 0 && fired_key == f->period;
}

enum money_alert_step money_alert_decide(enum money_alert_kind k, int64_t threshold, int64_t fired_key,
					 const struct money_alert_figure *f, int64_t *key)
{
	assert(f->period != 0);
	const int past = money_alert_past(k, threshold, f), fired = money_alert_fired(fired_key, f);
	enum money_alert_step step = ALERT_STEP_KEEP;
	*key = fired_key;
	if (past && !fired) {
		step = ALERT_STEP_FIRE;
		*key = f->period;
	} else if (!past && fired) {
		step = ALERT_STEP_REARM;
		*key = 0;
	}
	/* Past: fired in this period from here; not past: armed. */
	assert(!past || money_alert_fired(*key, f));
	assert(past || !money_alert_fired(*key, f));
	return step;
}

int64_t money_alert_initial(enum money_alert_kind k, int64_t threshold, const struct money_alert_figure *f)
{
	assert(f->period != 0);
	return money_alert_past(k, threshold, f) ? f->period : 0;
}

/* Whether member_cap_pct alert r applies to member name. */
static int member_applies(const struct money_alert_rule *r, const char *name)
{
	return r->kind == ALERT_MEMBER_CAP_PCT && (r->member == NULL || strcmp(r->member, name) == 0);
}

/* Appends the change of one state (KEEP appends nothing); -1 when full. */
static int step_into(enum money_alert_kind k, int64_t threshold, int64_t state, const struct money_alert_figure *f,
		     int alert, int member, struct money_alert_change *out, int *n, int cap)
{
	int64_t key;
	enum money_alert_step step = money_alert_decide(k, threshold, state, f, &key);
	if (step == ALERT_STEP_KEEP)
		return 0;
	if (*n == cap)
		return -1;
	out[(*n)++] = (struct money_alert_change){alert, member, step, key, *f};
	return 0;
}

int money_alert_changes(const struct money_alert_input *in, struct money_alert_change *out, int cap)
{
	int n = 0;
	assert(in->nalerts >= 0);
	assert(in->nmembers >= 0);
	assert(in->nmembers == 0 || in->member_keys != NULL);
	for (int i = 0; i < in->nalerts; i++) {
		const struct money_alert_rule *r = &in->alerts[i];
		struct money_alert_figure f;
		if (r->kind == ALERT_MEMBER_CAP_PCT)
			continue;
		money_alert_account_figure(r->kind, &in->figures, &f);
		if (step_into(r->kind, r->threshold, r->fired_key, &f, i, -1, out, &n, cap) != 0)
			return -1;
	}
	for (int k = 0; k < in->nmembers; k++) {
		const struct money_alert_member *m = &in->members[k];
		struct money_alert_figure f;
		money_alert_member_figure(m->month_spent, m->own_cap, in->plan_cap, m->month_key, &f);
		for (int i = 0; i < in->nalerts; i++) {
			const struct money_alert_rule *r = &in->alerts[i];
			if (member_applies(r, m->name) &&
			    step_into(r->kind, r->threshold, in->member_keys[k * in->nalerts + i], &f, i, k, out, &n, cap) != 0)
				return -1;
		}
	}
	/* At most one change a state: an alert's own, or one a member. */
	assert(n <= in->nalerts * (1 + in->nmembers));
	return n;
}

int money_alert_plan(const int64_t *amounts, const int64_t *remaining, int n, int64_t *granted, int64_t *left)
{
	*granted = *left = 0;
	for (int i = 0; i < n; i++)
		if (money_add(*granted, amounts[i], granted) != 0 || money_add(*left, remaining[i], left) != 0)
			return -1;
	return 0;
}

enum money_refusal_notice money_alert_refusal(enum refusal_why why, int has_member, int64_t month, int64_t day,
					      struct money_refusal_noted *noted)
{
	int64_t *key = NULL, now = month;
	assert(noted->depleted == 0 || noted->depleted == 1);
	switch (why) {
	case REFUSE_INSUFFICIENT:
		if (noted->depleted)
			return REFUSAL_NOTICE_NONE;
		noted->depleted = 1;
		return REFUSAL_NOTICE_DEPLETED;
	case REFUSE_MONTHLY_LIMIT:
		key = &noted->limit_month;
		break;
	case REFUSE_DAILY_LIMIT:
		key = &noted->limit_day;
		now = day;
		break;
	case REFUSE_MEMBER_CAP:
		key = has_member ? &noted->member_month : NULL;
		break;
	default:
		break;
	}
	if (key == NULL || *key == now)
		return REFUSAL_NOTICE_NONE;
	*key = now;
	/* Told: noted for its month or day from here. */
	assert(*key == now);
	return REFUSAL_NOTICE_LIMIT;
}

enum money_alert_step money_alert_low(int64_t balance, int64_t overdraft, int64_t threshold, int noted,
				      int *noted_after)
{
	assert(threshold >= 0);
	assert(noted == 0 || noted == 1);
	/* Holds excluded: nothing reserved (money_available's 128 bits). */
	const int below = threshold > 0 && money_available(balance, 0, overdraft) < threshold;
	enum money_alert_step step = ALERT_STEP_KEEP;
	*noted_after = noted;
	if (below && !noted) {
		step = ALERT_STEP_FIRE;
		*noted_after = 1;
	} else if (!below && noted) {
		step = ALERT_STEP_REARM;
		*noted_after = 0;
	}
	/* Below: noted from here; not below: armed. */
	assert(*noted_after == below);
	return step;
}

int64_t money_alert_low_threshold(int64_t own, int64_t fallback)
{
	int64_t threshold = own >= 0 ? own : fallback;
	/* An account's own threshold, even 0 (never low), wins over the default. */
	assert(own < 0 || threshold == own);
	return threshold;
}
