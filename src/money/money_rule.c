/* money_rule.c: the money rules of a credit, a refund, a dispute, a
 * plan's period, a promo code, an auto-recharge, a hold's expiry and a
 * pay-as-you-go collection (see money_rule.h). Pure: the asserts are
 * the rules' own checks. */
#include "money_rule.h"
#include "money.h"
#include "timefmt.h"
#include <assert.h>
#include <stddef.h>

int money_rule_grant(int64_t balance, int64_t debt, int64_t amount, struct grant_effect *e)
{
	int64_t after;
	assert(e != NULL);
	assert(amount > 0);
	assert(debt >= 0);
	/* The debt row carries what the grants could not: a balance below
	 * zero is that debt, never more. */
	assert(balance >= 0 || debt >= -balance);
	if (money_add(balance, amount, &after) != 0)
		return -1;
	e->repay = debt < amount ? debt : amount;
	e->remaining = amount - e->repay;
	e->balance_after = after;
	assert(e->repay >= 0);
	assert(e->remaining >= 0);
	assert(e->repay + e->remaining == amount);
	return 0;
}

void money_rule_roll(int64_t key, int64_t spent, int64_t now_key, struct roll_effect *e)
{
	assert(e != NULL);
	assert(now_key >= 0);
	e->rolled = key != now_key;
	e->key = now_key;
	e->spent = e->rolled ? 0 : spent;
	assert(!e->rolled || e->spent == 0);
	assert(e->rolled || e->spent == spent);
}

void money_rule_debit(int64_t balance, int64_t available, int64_t amount, struct debit_effect *e)
{
	assert(e != NULL);
	assert(amount > 0);
	e->refused = amount > available;
	e->out_of_range = 0;
	e->balance_after = balance;
	if (!e->refused && money_sub(balance, amount, &e->balance_after) != 0) {
		e->out_of_range = 1;
		e->balance_after = balance;
	}
	assert(e->refused || e->out_of_range || e->balance_after == balance - amount);
	assert(!(e->refused || e->out_of_range) || e->balance_after == balance);
	assert(!e->refused || !e->out_of_range);
}

/* What all refunds so far take back of the credit. */
static int64_t refund_target(const struct refund_case *c)
{
	assert(c->credited >= 0);
	assert(c->refunded_cents >= 0);
	int64_t target, paid = c->charge_cents > 0 ? c->charge_cents : c->paid_cents;
	if (paid > 0 && c->refunded_cents >= paid)
		target = c->credited;
	else if (paid > 0)
		target = (int64_t)((__int128)c->credited * c->refunded_cents / paid);
	else
		target = c->rate_micros < 0 || c->rate_micros > c->credited ? c->credited : c->rate_micros;
	assert(target >= 0);
	assert(target <= c->credited);
	return target;
}

void money_rule_refund(const struct refund_case *c, struct refund_effect *e)
{
	assert(c != NULL);
	assert(e != NULL);
	assert(c->credited >= 0);
	assert(c->refunded >= 0);
	assert(c->refunded <= c->credited);
	assert(c->disputed >= 0);
	assert(c->refunded_cents >= 0);
	e->duplicate = c->refunded_cents <= c->refunded_cents_before;
	e->target = e->take = e->from_dispute = 0;
	if (e->duplicate)
		return;
	e->target = refund_target(c);
	assert(e->target >= 0);
	assert(e->target <= c->credited);
	int64_t micros = e->target - c->refunded;
	int64_t left = c->credited - c->refunded - c->disputed;
	if (micros > left && c->disputed > 0)
		e->from_dispute = micros - (left > 0 ? left : 0);
	if (micros > left)
		micros = left;
	e->take = micros > 0 ? micros : 0;
	assert(e->take >= 0);
	assert(e->from_dispute >= 0);
	assert(e->take + e->from_dispute <= c->credited - c->refunded);
}

void money_rule_refund_moved(const struct refund_case *c, const struct refund_effect *e, int64_t moved)
{
	assert(c != NULL);
	assert(e != NULL);
	assert(moved >= 0);
	assert(moved <= e->from_dispute);
	assert(c->refunded + e->take + moved <= c->credited);
	(void)c;
	(void)e;
	(void)moved;
}

int64_t money_rule_dispute_take(const struct dispute_case *c)
{
	assert(c != NULL);
	assert(c->credited >= 0);
	assert(c->refunded >= 0);
	assert(c->disputed >= 0);
	assert(c->refunded + c->disputed <= c->credited);
	int64_t micros = c->credited;
	if (c->cents >= 0 && c->cents < c->paid_cents && c->same_currency)
		micros = (int64_t)((__int128)c->credited * c->cents / c->paid_cents);
	int64_t left = c->credited - c->refunded - c->disputed;
	if (micros > left)
		micros = left;
	assert(micros >= 0);
	assert(c->refunded + c->disputed + micros <= c->credited);
	return micros;
}

int money_rule_dispute_opens(int found, int lost, int64_t taken)
{
	assert(taken >= 0);
	int opens = !found || (lost && taken == 0);
	assert(found || opens);			/* a dispute's first news always takes */
	assert(!opens || !found || taken == 0);	/* one that took already never takes again */
	return opens;
}

int64_t money_rule_dispute_close(int won, int64_t taken, int64_t returned, int64_t *returned_after)
{
	assert(returned_after != NULL);
	assert(taken >= 0);
	assert(returned >= 0);
	int64_t give = won && taken > returned ? taken - returned : 0;
	*returned_after = won ? taken : returned;
	assert(give >= 0);
	assert(give <= taken);
	assert(*returned_after >= returned);
	return give;
}

int64_t money_rule_dispute_yield(const int64_t *held, int n, int64_t micros, int64_t *parts)
{
	int64_t moved = 0;
	assert(n == 0 || held != NULL);
	assert(n == 0 || parts != NULL);
	assert(micros >= 0);
	assert(n >= 0);
	for (int i = 0; i < n; i++) {
		assert(held[i] >= 0);
		int64_t want = micros - moved;
		parts[i] = held[i] < want ? held[i] : want;
		assert(parts[i] >= 0);	/* never more than it holds, never below 0 */
		moved += parts[i];
	}
	assert(moved >= 0);
	assert(moved <= micros);
	return moved;
}

void money_rule_period(const struct period_case *c, struct period_effect *e)
{
	assert(c != NULL);
	assert(e != NULL);
	assert(c->credits >= 0);
	assert(c->left >= 0);
	assert(c->row_credits >= 0);
	*e = (struct period_effect){0, 0, 0, 0};
	if (!c->has_row) {
		e->open = 1;
		e->credit = c->credits;
		if (c->rollover == ROLLOVER_FULL)
			e->carried = c->left;
		else if (c->rollover == ROLLOVER_CAPPED)
			e->carried = c->cap >= 0 && c->left > c->cap ? c->cap : c->left;
	} else if (!c->same_plan && c->row_credits < c->credits) {
		e->raise = 1;
		e->credit = c->credits - c->row_credits;
	}
	assert(e->credit >= 0);
	assert(e->carried >= 0);
	assert(e->carried <= c->left);
	assert(!e->open || !e->raise);
	assert(!c->has_row || e->credit == 0 || c->row_credits + e->credit == c->credits);
}

int64_t money_rule_fit(int64_t balance, int64_t amount, int64_t max)
{
	assert(amount >= 0);
	assert(max >= 0);
	int64_t fits = amount;
	if (balance > 0 && amount > max - balance)
		fits = max > balance ? max - balance : 0;
	assert(fits >= 0);
	assert(fits <= amount);
	assert(balance <= 0 || fits == 0 || balance + fits <= max);
	return fits;
}

enum promo_verdict money_rule_promo(const struct promo_case *c, int64_t *grant_expires)
{
	assert(c != NULL);
	assert(grant_expires != NULL);
	assert(c->redeemed >= 0);
	assert(c->now >= 0);
	*grant_expires = -1;
	if (c->redeemed_by_account)
		return PROMO_REDEEMED;
	if (c->expires_at >= 0 && c->expires_at <= c->now)
		return PROMO_EXPIRED;
	if (c->max >= 0 && c->redeemed >= c->max)
		return PROMO_EXHAUSTED;
	/* grant_ttl_days is an INT column: its seconds fit far inside int64. */
	assert(c->ttl_days <= INT32_MAX);
	*grant_expires = c->ttl_days >= 0 ? c->now + c->ttl_days * TIMEFMT_SECONDS_PER_DAY : -1;
	assert(c->max < 0 || c->redeemed + 1 <= c->max);
	return PROMO_GRANT;
}

int money_rule_recharge(const struct recharge_case *c, int64_t *day_key, int64_t *day_count)
{
	assert(day_key != NULL);
	assert(day_count != NULL);
	assert(c->max_per_day >= 0);	/* config (checked) */
	assert(c->today >= 0);		/* clock */
	*day_key = c->day_key;
	*day_count = c->day_count;
	if (c->threshold < 0 || c->amount_cents <= 0 || !c->has_card || c->pending || c->available >= c->threshold)
		return 0;
	/* Never a disputed card (docs/api.md, "POST /v1/webhooks/stripe"); a dispute open without a
	 * suspension is caught when the recharge would be sent. */
	if (c->disputed)
		return 0;
	if (c->day_key != c->today) {
		*day_key = c->today;
		*day_count = 0;
	}
	if (*day_count >= c->max_per_day)
		return 0;
	(*day_count)++;
	assert(*day_key == c->today);
	assert(*day_count <= c->max_per_day);
	return 1;
}

void money_rule_hold_expiry(int64_t amount, int64_t reserved, int capture, struct hold_expiry *e)
{
	assert(e != NULL);
	assert(amount >= 0);
	assert(amount <= reserved);
	e->release = amount;
	e->captured = capture && amount > 0;
	e->charge = e->captured ? amount : 0;
	assert(e->charge <= e->release);
	assert(reserved - e->release >= 0);
}

void money_rule_hold_unresolved(int64_t amount, int64_t reserved, int64_t charge, struct hold_expiry *e)
{
	assert(e != NULL);
	assert(amount >= 0);
	assert(amount <= reserved);
	assert(charge >= 0);
	e->release = amount;
	e->charge = charge < amount ? charge : amount;
	e->captured = e->charge > 0;
	assert(e->charge <= e->release);
	assert(reserved - e->release >= 0);
}

int64_t money_rule_batch_unresolved(int64_t amount, int64_t charged)
{
	assert(amount >= 0);
	assert(charged >= 0);
	int64_t rest = charged < amount ? amount - charged : 0;
	assert(rest >= 0 && rest <= amount);
	return rest;
}

int64_t money_rule_payg_cents(int64_t balance, int64_t rate, int64_t min_cents)
{
	assert(rate > 0);
	assert(min_cents >= 0);
	if (balance >= 0)
		return 0;
	/* -balance: a balance is above INT64_MIN (money.h's range) */
	assert(balance > INT64_MIN);
	int64_t debt = -balance;
	int64_t cents = debt / rate + (debt % rate != 0);
	assert((__int128)cents * rate >= debt);
	assert((__int128)(cents - 1) * rate < debt);
	return cents >= min_cents ? cents : 0;
}

enum payg_send money_rule_payg_send(int64_t owed, int64_t amount_cents, int64_t attempts, int decided)
{
	assert(owed >= 0);
	assert(attempts >= 0);
	enum payg_send d = PAYG_SEND;
	if (owed == 0)
		d = PAYG_END;
	else if (attempts == 0 && !decided && owed < amount_cents)
		d = PAYG_LOWER;
	/* Lowered only to less, and only a try never sent nor decided. */
	assert(d != PAYG_LOWER || owed < amount_cents);
	assert(d != PAYG_LOWER || attempts == 0);
	return d;
}

/* ---- Spending (docs/decisions.md, "Grant priority") ---- */

int64_t money_rule_spend_burn(struct spend_grant *g, int n, int64_t amount)
{
	const int64_t asked = amount;
	assert(n >= 0);
	assert(amount >= 0);
	for (int i = 0; i < n && amount > 0; i++) {
		if (g[i].debt || g[i].remaining <= 0)
			continue;
		int64_t take = g[i].remaining < amount ? g[i].remaining : amount;
		g[i].remaining -= take;
		g[i].changed = 1;
		amount -= take;
	}
	/* What the grants could not cover: none of it more than was asked. */
	assert(amount >= 0);
	assert(amount <= asked);
	return amount;
}

int money_rule_spend_debt(struct spend_grant *g, int n, int64_t left)
{
	assert(n >= 0);
	assert(left > 0);
	for (int i = 0; i < n; i++) {
		if (g[i].debt) {
			int64_t before = g[i].remaining;
			g[i].remaining -= left;
			g[i].changed = 1;
			/* The debt grew by exactly what was left. */
			assert(g[i].remaining == before - left);
			return 1;
		}
	}
	return 0;
}
