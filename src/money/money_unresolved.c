/* money_unresolved.c: the unresolved holds judged from the provider's
 * per-minute usage (the rule is in money_unresolved.h; the command is
 * docs/reconciliation.md's "Unresolved holds"). Counts are summed in 128
 * bits and capped, money in 128 bits before it is capped at the hold: a
 * figure too large charges the whole hold, never wraps to less. */
#include "money_unresolved.h"
#include <assert.h>
#include <string.h>

/* A leftover token count is at most this (a report's counts are at most
 * 10^15 a bucket): priced, it overflows to INT64_MAX, the whole hold. */
#define UNRES_COUNT_CAP ((__int128)1 << 62)

int64_t money_unresolved_minute(int64_t t)
{
	assert(t >= 0);
	return t - t % MONEY_UNRESOLVED_MINUTE;
}

/* The first entry of u at (model, minute) or after it. */
static size_t lower_bound(const struct unres_usage *u, size_t n, const char *model, int64_t minute)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(u[mid].model, model);
		if (c < 0 || (c == 0 && u[mid].minute < minute))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The tokens of model in [from, to) of u, summed into s[4]. */
static void sum_window(const struct unres_usage *u, size_t n, const char *model, int64_t from, int64_t to,
		       __int128 *s)
{
	for (size_t i = lower_bound(u, n, model, from); i < n && strcmp(u[i].model, model) == 0 && u[i].minute < to;
	     i++) {
		s[0] += u[i].t.input_tokens;
		s[1] += u[i].t.cached_input_tokens;
		s[2] += u[i].t.cache_write_input_tokens;
		s[3] += u[i].t.output_tokens;
	}
}

static int64_t clamp(__int128 v)
{
	return v < 0 ? 0 : v > UNRES_COUNT_CAP ? (int64_t)UNRES_COUNT_CAP : (int64_t)v;
}

/* The provider's tokens less creditd's in the window, each 0 at least,
 * the parts kept within the input (a part cut counts as uncached input:
 * dearer, never cheaper). */
static struct pricing_tokens leftover(const struct unres_usage *prov, size_t np, const struct unres_usage *mine,
				      size_t nm, const char *model, int64_t from, int64_t to)
{
	__int128 p[4] = {0, 0, 0, 0}, m[4] = {0, 0, 0, 0};
	struct pricing_tokens t;
	sum_window(prov, np, model, from, to, p);
	sum_window(mine, nm, model, from, to, m);
	t.input_tokens = clamp(p[0] - m[0]);
	t.cached_input_tokens = clamp(p[1] - m[1]);
	t.cache_write_input_tokens = clamp(p[2] - m[2]);
	t.output_tokens = clamp(p[3] - m[3]);
	if (t.cached_input_tokens > t.input_tokens)
		t.cached_input_tokens = t.input_tokens;
	if (t.cache_write_input_tokens > t.input_tokens - t.cached_input_tokens)
		t.cache_write_input_tokens = t.input_tokens - t.cached_input_tokens;
	return t;
}

/* Every minute of [from, to) is covered. */
static int all_covered(int64_t from, int64_t to, int (*covered)(const void *, int64_t), const void *ctx)
{
	for (int64_t m = from; m < to; m += MONEY_UNRESOLVED_MINUTE)
		if (!covered(ctx, m))
			return 0;
	return 1;
}

/* One hold's charge in its judged window. */
static void judge_hold(struct unres_hold *x)
{
	const struct pricing_tokens *t = &x->leftover;
	x->charge = 0;
	x->cost = 0;
	if (t->input_tokens == 0 && t->output_tokens == 0) {
		x->verdict = UNRES_RELEASE;
		return;
	}
	if (pricing_cost_with_extra(&x->price, x->margin_bps, t, 0, &x->cost) != PRICING_OK)
		x->cost = INT64_MAX;	/* past int64 (or a price a row cannot have): the whole hold */
	__int128 share = x->window_held > 0 ? ((__int128)x->cost * x->held + x->window_held - 1) / x->window_held : 0;
	x->charge = share > x->held ? x->held : (int64_t)share;
	x->verdict = x->charge > 0 ? UNRES_CHARGE : UNRES_RELEASE;
}

/* Holds [first, end) of one model in one window [from, to). */
static void judge_window(struct unres_hold *h, size_t first, size_t end, int64_t from, int64_t to,
			 const struct unres_usage *prov, size_t np, const struct unres_usage *mine, size_t nm,
			 int (*covered)(const void *, int64_t), const void *ctx)
{
	size_t at = lower_bound(prov, np, h[first].model, 0);
	int reported = at < np && strcmp(prov[at].model, h[first].model) == 0;
	int whole = reported && all_covered(from, to, covered, ctx);
	struct pricing_tokens t = {0, 0, 0, 0};
	__int128 held = 0;
	if (whole)
		t = leftover(prov, np, mine, nm, h[first].model, from, to);
	for (size_t i = first; i < end; i++)
		held += h[i].held;
	for (size_t i = first; i < end; i++) {
		struct unres_hold *x = &h[i];
		x->from = from;
		x->to = to;
		x->leftover = t;
		x->window_held = held > INT64_MAX ? INT64_MAX : (int64_t)held;
		x->charge = x->cost = 0;
		if (!whole)
			x->verdict = reported ? UNRES_UNCOVERED : UNRES_UNREPORTED;
		else
			judge_hold(x);
	}
}

void money_unresolved_plan(struct unres_hold *h, size_t nh, const struct unres_usage *prov, size_t np,
			   const struct unres_usage *mine, size_t nm, int (*covered)(const void *ctx, int64_t minute),
			   const void *ctx)
{
	size_t first = 0;
	while (first < nh) {
		int64_t from = money_unresolved_minute(h[first].created_at), to = from + 2 * MONEY_UNRESOLVED_MINUTE;
		size_t end = first + 1;
		assert(h[first].held >= 0);
		for (; end < nh && strcmp(h[end].model, h[first].model) == 0; end++) {
			int64_t m = money_unresolved_minute(h[end].created_at);
			assert(m >= money_unresolved_minute(h[end - 1].created_at));	/* sorted */
			assert(h[end].held >= 0);
			if (m >= to)
				break;		/* its window starts after this one ends */
			to = m + 2 * MONEY_UNRESOLVED_MINUTE;
		}
		judge_window(h, first, end, from, to, prov, np, mine, nm, covered, ctx);
		first = end;
	}
}
