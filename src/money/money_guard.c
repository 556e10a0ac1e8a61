/* money_guard.c: the guard's money decisions (see money_guard.h). Pure:
 * figures in, a decision out; each function asserts what it must keep
 * (reserves never negative, a hold never above what its request priced,
 * a charge within the cap). */
#include "money_guard.h"
#include "limits.h"
#include "money.h"
#include <assert.h>
#include <string.h>

/* ---- Rate windows ---- */

enum cd_err money_guard_rate_check(struct refusal *why, const struct rate *w, int64_t now, int64_t tokens)
{
	int64_t minute = now / 60;
	int64_t requests = w->minute == minute ? w->requests : 0;
	int64_t counted = w->minute == minute ? w->tokens : 0;
	const char *which = NULL;
	int64_t limit = 0;
	assert(now >= 0);
	assert(tokens >= 0);
	if (w->rpm >= 0 && requests + 1 > w->rpm) {
		which = "requests_per_minute";
		limit = w->rpm;
	} else if (w->tpm >= 0 && counted + tokens > w->tpm) {
		which = "tokens_per_minute";
		limit = w->tpm;
	}
	if (which == NULL)
		return CD_OK;
	enum cd_err rc = refusal_set(why, REFUSE_RATE_LIMIT, which, NULL);
	why->amount_micros = limit;
	why->retry_after = 60 - now % 60;
	assert(why->retry_after >= 1);
	assert(why->retry_after <= 60);
	return rc;
}

void money_guard_rate_count(struct rate *w, int64_t now, int64_t tokens)
{
	int64_t minute = now / 60;
	assert(now >= 0);
	assert(tokens >= 0);
	if (w->minute != minute) {
		w->minute = minute;
		w->requests = 0;
		w->tokens = 0;
	}
	w->requests++;
	w->tokens += tokens;
	assert(w->requests >= 1);
	assert(w->tokens >= tokens);
}

void money_guard_rate_correct(struct rate *w, int64_t minute, int64_t counted, int64_t actual)
{
	assert(counted >= 0);
	assert(actual >= 0);
	if (minute < 0 || minute != w->minute)
		return;
	w->tokens += actual - counted;
	if (w->tokens < 0)
		w->tokens = 0;
	assert(w->tokens >= 0);
	assert(w->minute == minute);
}

/* ---- The checks of a charge ---- */

static enum cd_err account_check(struct refusal *why, const struct guard_account *a, int64_t amount, int byok)
{
	int64_t available = money_available(a->balance, a->reserved, a->overdraft);
	if (!a->active)
		return refusal_set_amounts(why, REFUSE_ACCOUNT_INACTIVE, available, amount);
	if (byok)
		return CD_OK;
	if (a->monthly_limit >= 0 && money_exceeds(a->month_spent, a->reserved, amount, a->monthly_limit)) {
		int64_t left = money_left(a->monthly_limit, a->month_spent, a->reserved);
		enum cd_err rc = refusal_set_amounts(why, REFUSE_MONTHLY_LIMIT, left < available ? left : available, amount);
		why->lasting = money_exceeds(a->month_spent, 0, amount, a->monthly_limit);
		return rc;
	}
	if (a->daily_limit >= 0 && money_exceeds(a->day_spent, a->reserved, amount, a->daily_limit)) {
		int64_t left = money_left(a->daily_limit, a->day_spent, a->reserved);
		enum cd_err rc = refusal_set_amounts(why, REFUSE_DAILY_LIMIT, left < available ? left : available, amount);
		why->lasting = money_exceeds(a->day_spent, 0, amount, a->daily_limit);
		return rc;
	}
	if (amount > available)
		return refusal_set_amounts(why, REFUSE_INSUFFICIENT, available, amount);
	return CD_OK;
}

/* A cap is a 429 and so comes before a 402 (docs/api.md, "Checks in order"); a member
 * with no cap of its own has its plan's (docs/decisions.md, "Workspaces"). */
enum cd_err money_guard_check(struct refusal *why, const struct guard_account *a, const struct guard_member *m,
			      int64_t amount, int byok)
{
	assert(amount >= 0);
	assert(a->reserved >= 0);
	enum cd_err rc = account_check(why, a, amount, byok);
	int64_t cap = m == NULL ? -1 : m->cap >= 0 ? m->cap : a->plan_member_cap;
	if ((rc == CD_OK || rc == CD_E_INSUFFICIENT) && !byok && cap >= 0 &&
	    money_exceeds(m->month_spent, m->reserved, amount, cap)) {
		rc = refusal_set_amounts(why, REFUSE_MEMBER_CAP, money_left(cap, m->month_spent, m->reserved), amount);
		why->lasting = money_exceeds(m->month_spent, 0, amount, cap);
	}
	/* Only a spending limit's refusal is lasting (on CD_OK, why is left as it was). */
	assert(rc == CD_OK || !why->lasting || rc == CD_E_HARD_LIMIT || rc == CD_E_DAILY_LIMIT || rc == CD_E_MEMBER_CAP);
	/* Passed: the account is active and, unless byok, can cover amount. */
	assert(rc != CD_OK || a->active);
	assert(rc != CD_OK || byok || amount <= money_available(a->balance, a->reserved, a->overdraft));
	return rc;
}

static const char *range_first(const struct guard_account *a, const struct guard_member *m, int64_t reserved_delta,
			       int64_t spend)
{
	int64_t v;
	if (money_sub(a->balance, spend, &v) != 0)
		return "balance";
	if (money_add(a->reserved, reserved_delta, &v) != 0)
		return "reserve";
	if (money_add(a->month_spent, spend, &v) != 0 || money_add(a->day_spent, spend, &v) != 0)
		return "spend";
	if (m != NULL && money_add(m->reserved, reserved_delta, &v) != 0)
		return "member reserve";
	if (m != NULL && money_add(m->month_spent, spend, &v) != 0)
		return "member spend";
	return NULL;
}

const char *money_guard_range(const struct guard_account *a, const struct guard_member *m, int64_t reserved_delta,
			      int64_t spend)
{
	const char *over = range_first(a, m, reserved_delta, spend);
	/* In range (evaluated only then: no overflow): the balance and the
	 * reserve after it. */
	assert(over != NULL || money_in_range(a->balance - spend));
	assert(over != NULL || money_in_range(a->reserved + reserved_delta));
	return over;
}

/* ---- Authorize ---- */

enum pricing_status money_guard_hold_cost(const struct guard_ask *r, int64_t output, int64_t *cost)
{
	const struct pricing_tokens held = {r->input_tokens, 0, 0, output};
	assert(r->priced);
	assert(output >= 0);
	if (r->hold_price != NULL)
		return pricing_cost_with_extra(r->hold_price, r->margin_bps, &held, r->hold_fees_raw, cost);
	return pricing_token_cost(r->price, r->margin_bps, &held, cost);
}

/* A check that passes for an amount passes for any smaller one, so the
 * largest output is found by bisection, priced exactly as the full hold
 * was (the cost formula's rounding). */
int money_guard_shrink(const struct guard_ask *r, const struct guard_account *a, const struct guard_member *m,
		       int64_t *out, int64_t *amount, int64_t *min_cost)
{
	struct refusal scratch;
	int64_t lo = r->min_output_tokens, hi = r->max_output_tokens - 1, cost;
	assert(r->min_output_tokens >= 0);
	assert(r->min_output_tokens < r->max_output_tokens);
	if (money_guard_hold_cost(r, lo, min_cost) != PRICING_OK)
		return -1;
	if (money_guard_check(&scratch, a, m, *min_cost, 0) != CD_OK)
		return -1;
	while (lo < hi) {		/* lo is affordable; is anything up to hi? */
		int64_t mid = lo + (hi - lo + 1) / 2;
		if (money_guard_hold_cost(r, mid, &cost) == PRICING_OK &&
		    money_guard_check(&scratch, a, m, cost, 0) == CD_OK)
			lo = mid;
		else
			hi = mid - 1;
	}
	*out = lo;
	if (money_guard_hold_cost(r, lo, amount) != PRICING_OK)
		return -1;
	/* Fewer tokens than asked, never a larger hold than the full one. */
	assert(*out >= r->min_output_tokens);
	assert(*out < r->max_output_tokens);
	assert(*amount <= r->amount_micros);
	return 0;
}

enum cd_err money_guard_authorize(const struct guard_ask *r, const struct guard_account *a,
				  const struct guard_member *m, struct refusal *why, int64_t *amount, int64_t *out)
{
	int64_t min_cost;
	assert(r->amount_micros >= 0);
	assert(!r->action || r->min_output_tokens < 0);
	*amount = r->byok ? 0 : r->amount_micros;
	*out = r->action ? -1 : r->max_output_tokens;
	enum cd_err rc = money_guard_check(why, a, m, r->amount_micros, r->byok);
	if (rc == CD_OK || rc == CD_E_SUSPENDED || r->min_output_tokens < 0 || !r->priced ||
	    r->min_output_tokens >= r->max_output_tokens)
		return rc;
	if (money_guard_shrink(r, a, m, out, amount, &min_cost) == 0) {
		memset(why, 0, sizeof(*why));
		assert(*amount <= r->amount_micros);
		assert(*out >= r->min_output_tokens);
		return CD_OK;
	}
	/* Refused: what it says is needed is the least hold the app would
	 * have taken. */
	return money_guard_check(why, a, m, min_cost, 0);
}

/* ---- Settle and release ---- */

/* The price and margin a model's settle charges at: a gateway call's
 * answering provider's, else pinned at authorize (a price change since
 * does not touch it) for the same model, else the request's, else the
 * list's; 0 when none. */
static int settle_price(const struct guard_settle_prices *p, const struct price **price, int64_t *margin)
{
	if (p->asked != NULL && p->asked_first) {
		*price = p->asked;
		*margin = p->asked_margin;
	} else if (p->pinned != NULL && p->same_model) {
		*price = p->pinned;
		*margin = p->pinned_margin;
	} else if (p->asked != NULL) {
		*price = p->asked;
		*margin = p->asked_margin;
	} else if (p->listed != NULL) {
		*price = p->listed;
		*margin = p->listed_margin;
	} else {
		return 0;
	}
	return 1;
}

static enum cd_err settle_cost_of(const struct guard_settle_prices *p, const struct pricing_tokens *used,
				  int64_t extra_raw, int64_t *cost, struct refusal *why)
{
	const struct price *price;
	int64_t margin;
	*cost = 0;
	if (p->byok)
		return CD_OK;
	if (p->action) {
		if (!p->has_action)
			return refusal_set(why, REFUSE_HOLD_UNPRICED, NULL, NULL);
		*cost = p->action_micros;
		return CD_OK;
	}
	if (!settle_price(p, &price, &margin))
		return refusal_set(why, REFUSE_HOLD_UNPRICED, NULL, NULL);
	if (pricing_cost_with_extra(price, margin, used, extra_raw, cost) != PRICING_OK)
		return refusal_set(why, REFUSE_HOLD_UNPRICED, NULL, NULL);
	if (*cost <= LIMIT_AMOUNT_MICROS_MAX)
		return CD_OK;
	return refusal_set_range(why, REFUSE_CHARGE_CAP, NULL, *cost, pricing_blame(price, used, "output_tokens"));
}

enum cd_err money_guard_settle_cost(const struct guard_settle_prices *p, const struct pricing_tokens *used,
				    int64_t extra_raw, int64_t *cost, struct refusal *why)
{
	assert(used->input_tokens >= 0);
	assert(used->output_tokens >= 0);
	enum cd_err rc = settle_cost_of(p, used, extra_raw, cost, why);
	/* A charge is never negative, nor above the cap; a byok one is
	 * nothing. */
	assert(rc != CD_OK || *cost >= 0);
	assert(rc != CD_OK || *cost <= LIMIT_AMOUNT_MICROS_MAX || p->action);
	assert(rc != CD_OK || !p->byok || *cost == 0);
	return rc;
}

int64_t money_guard_settle_base(const struct guard_settle_prices *p, const struct pricing_tokens *used,
				int64_t extra_raw)
{
	const struct price *price;
	int64_t margin, base;
	if (p->byok || p->action || !settle_price(p, &price, &margin))
		return -1;
	if (pricing_cost_with_extra(price, PRICING_NO_MARGIN_BPS, used, extra_raw, &base) != PRICING_OK ||
	    base > LIMIT_AMOUNT_MICROS_MAX)
		return -1;
	assert(base >= 0);
	return base;
}

void money_guard_settle(const struct guard_hold *h, int64_t cost, struct guard_settle_effect *e)
{
	/* A pending hold's amount is checked against its reserves by the
	 * caller (rows that disagree are refused before): never below 0. */
	assert(cost >= 0);
	assert(!h->pending || h->amount >= 0);
	assert(!(h->pending && h->captured));
	e->reserve_delta = h->pending ? -h->amount : 0;
	e->released = h->pending && h->amount > cost ? h->amount - cost : 0;
	/* A captured hold was charged already: only the difference moves. */
	e->delta = cost - (h->captured ? h->charged : 0);
	assert(e->released >= 0);
	assert(!h->pending || e->released <= h->amount);
}

int64_t money_guard_release(const struct guard_hold *h)
{
	/* Only a pending hold's amount counts (checked by the caller
	 * against its reserves); one no longer pending gives nothing back. */
	assert(!h->pending || h->amount >= 0);
	assert(!(h->pending && h->captured));
	int64_t released = h->pending ? h->amount : 0;
	assert(released >= 0);
	return released;
}
