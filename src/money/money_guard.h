/* money_guard.h: the guard's money decisions (docs/api.md, docs/gateway.md),
 * in pure C over the figures of an account, its member, a hold and a
 * request: the checks of a charge in docs/api.md's order (403, 429, 402), the
 * money range, the rate windows, a hold's cost and its shrinking, a
 * settle's cost and what it moves, a release's. No I/O, no clock but the
 * one passed, no allocation, no row storage: the ledger's batch
 * (src/ledger/guard/ledger_decide.c) reads and locks the rows, hands their
 * figures here, and applies what comes back to its rows. Each function
 * asserts its inputs and its result. tests/unit/money/test_money_guard.c
 * tests them without a database. */
#ifndef CREDITD_MONEY_GUARD_H
#define CREDITD_MONEY_GUARD_H
#include "errors.h"
#include "pricing.h"
#include "refusal.h"
#include <stdint.h>

/* A rate limit's window (docs/api.md, "Rate limits"): per UTC minute, the requests and
 * tokens counted in `minute` (-1: none yet), against rpm and tpm (-1: no
 * limit). An account's and a member's row each carry one. */
struct rate {
	int64_t rpm, tpm, minute, requests, tokens;
};

/* What the guard's checks read of an account row. */
struct guard_account {
	int active;			/* status "active" */
	int64_t balance, reserved, overdraft;
	int64_t month_spent, monthly_limit;	/* -1: no limit */
	int64_t day_spent, daily_limit;		/* -1: no limit */
	int64_t plan_member_cap;	/* its plan's cap for a member, -1: none */
};
/* What they read of a member's row (none: NULL). */
struct guard_member {
	int64_t cap;			/* its own, -1: none (then the plan's) */
	int64_t month_spent, reserved;
};

/* ---- Rate windows ---- */

/* CD_OK when one more request of `tokens` tokens fits w in now's minute,
 * else a 429 in *why naming the limit, with its value and the seconds to
 * the next minute. Counts nothing. */
enum cd_err money_guard_rate_check(struct refusal *why, const struct rate *w, int64_t now, int64_t tokens);
/* Counts a granted request and its tokens in now's minute. */
void money_guard_rate_count(struct rate *w, int64_t now, int64_t tokens);
/* A settle's correction: the actual tokens for the `counted` ones, when
 * they were counted (in `minute`, -1: never) in the window's minute;
 * never below 0. */
void money_guard_rate_correct(struct rate *w, int64_t minute, int64_t counted, int64_t actual);

/* ---- The checks of a charge ---- */

/* Every check of a charge of amount on a and its member m (NULL: none),
 * in docs/api.md's order ("Checks in order"): the account active (403), its monthly and daily
 * limits and the member's cap (own, else the plan's) (429), what is
 * available (402). byok charges nothing, so only the first applies.
 * CD_OK, or the refusal's code with *why filled. */
enum cd_err money_guard_check(struct refusal *why, const struct guard_account *a, const struct guard_member *m,
			      int64_t amount, int byok);
/* docs/api.md, "Money stays in range": NULL when a move of the reserves by reserved_delta and a
 * spend of `spend` (negative: a refund) keeps a's and m's figures in the
 * money range, else the first figure it would pass ("balance", "reserve",
 * "spend", "member reserve", "member spend"). */
const char *money_guard_range(const struct guard_account *a, const struct guard_member *m, int64_t reserved_delta,
			      int64_t spend);

/* ---- Authorize ---- */

/* What an authorize asks, as its hold is priced: a model's input and
 * output tokens at price with the margin, or, the gateway's worst case,
 * at hold_price with its per-call fees (has_hold_price); an action's
 * amount alone. */
struct guard_ask {
	int64_t amount_micros;		/* the full hold, priced by the caller */
	int64_t input_tokens;
	int64_t max_output_tokens;
	int64_t min_output_tokens;	/* -1: no shrinking */
	int byok, action;
	int priced;			/* price holds: a model's (shrinking needs it) */
	const struct price *price;
	int64_t margin_bps;
	const struct price *hold_price;	/* NULL: price */
	int64_t hold_fees_raw;
};
/* What a hold of the ask's input and `output` tokens costs: the one
 * computation of a hold's amount (the guard's, the gateway's, a shrunk
 * one's). Input is priced uncached: a hold is a bound. r is priced. */
enum pricing_status money_guard_hold_cost(const struct guard_ask *r, int64_t output, int64_t *cost);
/* Shrink instead of refusing (docs/api.md, "Shrink instead of refusing"): the
 * most output tokens, from max_output_tokens - 1 down to min_output_tokens,
 * whose hold passes money_guard_check on a and m: 0 with *out and its
 * *amount, or -1 when not even min_output_tokens fits (*min_cost: what that
 * would hold). r is priced with min < max. */
int money_guard_shrink(const struct guard_ask *r, const struct guard_account *a, const struct guard_member *m,
		       int64_t *out, int64_t *amount, int64_t *min_cost);
/* A new hold of r on a and m: CD_OK with its *amount (0 for byok) and
 * *out (output tokens granted; -1: an action), shrunk when r allows it,
 * or the refusal's code with *why filled (a refused shrinkable ask names
 * the least hold the app would have taken). */
enum cd_err money_guard_authorize(const struct guard_ask *r, const struct guard_account *a,
				  const struct guard_member *m, struct refusal *why, int64_t *amount, int64_t *out);

/* ---- Settle and release ---- */

/* The prices a settle may charge at. */
struct guard_settle_prices {
	int byok;			/* nothing */
	int action;			/* the hold is an action's: its listed price */
	int has_action;
	int64_t action_micros;
	const struct price *pinned;	/* the hold's, pinned at authorize (NULL: none) */
	int64_t pinned_margin;
	int same_model;			/* the settle names the hold's model, or none */
	const struct price *asked;	/* the request's (NULL: none) */
	int64_t asked_margin;
	/* asked is a gateway call's: the price of the provider that answered
	 * it (docs/gateway.md, "Which price a call is charged"), charged
	 * over the pin, which the hold took at the dearest candidate's. */
	int asked_first;
	const struct price *listed;	/* the price list's (NULL: not listed) */
	int64_t listed_margin;
};
/* A settle's cost: byok 0, an action its listed price, a model its
 * tokens (and extra_raw, the gateway's dimensions before the margin) at
 * the answering provider's prices (asked_first), else the pinned prices
 * for the same model, else the request's, else the list's. CD_OK with *cost (0 to LIMIT_AMOUNT_MICROS_MAX), or a 400 in
 * *why: no price, a cost the formula cannot give, or above the cap
 * (docs/api.md, "Money stays in range", blaming the token field that makes it). */
enum cd_err money_guard_settle_cost(const struct guard_settle_prices *p, const struct pricing_tokens *used,
				    int64_t extra_raw, int64_t *cost, struct refusal *why);
/* The same settle's cost before creditd's margin (docs/api.md, "GET
 * /v1/overview", margin_micros): the tokens and extra_raw at the price
 * money_guard_settle_cost charges, with a margin of 10000 bps (none),
 * rounded up once as the charge is. -1 when it has none: byok, an
 * action (a listed price, no margin), no price, or out of range. */
int64_t money_guard_settle_base(const struct guard_settle_prices *p, const struct pricing_tokens *used,
				int64_t extra_raw);
/* A hold being settled or released, as its row stands. */
struct guard_hold {
	int pending, captured;		/* its state; neither: settled or released */
	int64_t amount;			/* what it holds (pending) or held */
	int64_t charged;		/* what a capture charged already */
};
/* What a settle at cost moves: the account's (and member's) reserve by
 * reserve_delta (a pending hold's amount back), the spends and balance
 * by delta (cost less what a capture charged; negative: a refund grant),
 * released: what the hold gives back unspent. */
struct guard_settle_effect {
	int64_t reserve_delta, delta, released;
};
void money_guard_settle(const struct guard_hold *h, int64_t cost, struct guard_settle_effect *e);
/* A release: a pending hold's amount back to the reserves (released),
 * nothing charged; 0 for a hold no longer pending. */
int64_t money_guard_release(const struct guard_hold *h);
#endif
