/* test_money_guard.c: the guard's money decisions (money_guard.h)
 * without a database: rate windows across minute boundaries, the checks
 * of a charge in docs/api.md's order, the money range, a hold's cost and its
 * shrinking, a settle's cost and moves, a release. Built with assertions
 * on, so the decisions' own checks run under it too. */
#include "money_guard.h"
#include "limits.h"
#include "tap.h"
#include <stdio.h>
#include <string.h>

#ifdef NDEBUG
#error "the unit tests run with assertions on: NDEBUG must not be defined"
#endif

#define NOW (60 * 1000000LL + 30)	/* 30 s into minute 1000000 */

/* 1 micro per input token, 2 per output token, no margin: a hold of 100
 * input and k output tokens costs 100 + 2k. Cache writes at the input
 * price, the default. */
static const struct price PRICE = {1000000, 500000, 2000000, 1000, 1000000, PRICING_NO_DIMS};

static struct guard_account account(int64_t balance)
{
	struct guard_account a = {1, balance, 0, 0, 0, -1, 0, -1, -1};
	return a;
}

static struct guard_ask ask(int64_t out, int64_t min_out)
{
	struct guard_ask r;
	memset(&r, 0, sizeof(r));
	r.input_tokens = 100;
	r.max_output_tokens = out;
	r.min_output_tokens = min_out;
	r.amount_micros = 100 + 2 * out;
	r.price = &PRICE;
	r.margin_bps = 10000;
	r.priced = 1;
	return r;
}

static void test_rates(void)
{
	struct refusal why;
	struct rate w = {2, 100, -1, 0, 0};	/* 2 requests, 100 tokens a minute */
	int64_t minute = NOW / 60;
	is_int(money_guard_rate_check(&why, &w, NOW, 50), CD_OK, "a first request fits");
	money_guard_rate_count(&w, NOW, 50);
	ok(w.minute == minute && w.requests == 1 && w.tokens == 50, "counted in its minute");
	memset(&why, 0, sizeof(why));
	is_int(money_guard_rate_check(&why, &w, NOW, 60), CD_E_RATE_LIMITED, "50 + 60 tokens pass 100");
	is_str(why.subject, "tokens_per_minute", "the token limit is named");
	is_int(why.amount_micros, 100, "with its value");
	is_int(why.retry_after, 30, "retry at the next minute");
	is_int(w.requests, 1, "a refused request counts nothing");
	is_int(money_guard_rate_check(&why, &w, NOW, 50), CD_OK, "exactly 100 tokens fit");
	money_guard_rate_count(&w, NOW, 50);
	is_int(money_guard_rate_check(&why, &w, NOW + 29, 0), CD_E_RATE_LIMITED, "a third request in the minute");
	is_str(why.subject, "requests_per_minute", "the request limit is named first");
	is_int(why.retry_after, 1, "one second before the boundary");
	is_int(money_guard_rate_check(&why, &w, NOW + 30, 100), CD_OK, "the next minute starts empty");
	money_guard_rate_count(&w, NOW + 30, 70);
	ok(w.minute == minute + 1 && w.requests == 1 && w.tokens == 70, "the window moved on and was reset");
	money_guard_rate_correct(&w, minute, 50, 10);
	is_int(w.tokens, 70, "a hold counted in an older minute corrects nothing");
	money_guard_rate_correct(&w, -1, 70, 10);
	is_int(w.tokens, 70, "nor one never counted");
	money_guard_rate_correct(&w, minute + 1, 70, 20);
	is_int(w.tokens, 20, "the actual tokens replace the counted ones in the same minute");
	money_guard_rate_correct(&w, minute + 1, 50, 0);
	is_int(w.tokens, 0, "never below zero");
	struct rate open = {-1, -1, -1, 0, 0};
	is_int(money_guard_rate_check(&why, &open, NOW, 1000000000), CD_OK, "no limit: anything fits");
}

/* docs/api.md's "Checks in order": 403 before 429 before 402; a member's cap (its
 * own, else its plan's) is a 429 and so comes before the 402. */
static void test_check_order(void)
{
	struct refusal why;
	struct guard_account a = account(1000);
	struct guard_member m = {-1, 0, 0};
	memset(&why, 0, sizeof(why));
	is_int(money_guard_check(&why, &a, NULL, 1000, 0), CD_OK, "exactly what is available");
	is_int(money_guard_check(&why, &a, NULL, 1001, 0), CD_E_INSUFFICIENT, "a micro more: 402");
	ok(why.available_micros == 1000 && why.required_micros == 1001, "saying what is available and needed");
	a.overdraft = 500;
	is_int(money_guard_check(&why, &a, NULL, 1500, 0), CD_OK, "the overdraft counts as available");
	a.reserved = 600;
	is_int(money_guard_check(&why, &a, NULL, 1000, 0), CD_E_INSUFFICIENT, "and the reserve does not");
	a.reserved = 0;
	a.monthly_limit = 300;
	a.month_spent = 100;
	is_int(money_guard_check(&why, &a, NULL, 5000, 0), CD_E_HARD_LIMIT, "the monthly limit before what is available");
	is_int(why.why, REFUSE_MONTHLY_LIMIT, "named as the monthly limit");
	is_int(why.available_micros, 200, "what the month has left");
	a.monthly_limit = -1;
	a.daily_limit = 50;
	is_int(money_guard_check(&why, &a, NULL, 51, 0), CD_E_DAILY_LIMIT, "the daily limit");
	is_int(why.why, REFUSE_DAILY_LIMIT, "named as the daily limit");
	a.daily_limit = -1;
	a.plan_member_cap = 70;
	is_int(money_guard_check(&why, &a, &m, 71, 0), CD_E_MEMBER_CAP, "a member with no cap has its plan's");
	is_int(why.why, REFUSE_MEMBER_CAP, "named as the member's cap");
	m.cap = 1000;
	m.month_spent = 900;
	m.reserved = 50;
	is_int(money_guard_check(&why, &a, &m, 51, 0), CD_E_MEMBER_CAP, "its own cap, spend and reserve counted");
	is_int(why.available_micros, 50, "what the cap has left");
	is_int(money_guard_check(&why, &a, &m, 5000, 0), CD_E_MEMBER_CAP, "a cap before a 402 too");
	is_int(money_guard_check(&why, &a, &m, 5000, 1), CD_OK, "byok: no limit, no balance");
	a.active = 0;
	is_int(money_guard_check(&why, &a, &m, 1, 1), CD_E_SUSPENDED, "but an account not active is refused first");
	is_int(why.why, REFUSE_ACCOUNT_INACTIVE, "named as not active");
}

/* A limit's 429 is lasting when it holds with nothing reserved: no
 * pending hold's settle passes it, only the period's end (docs/api.md,
 * x-should-retry). */
static void test_lasting(void)
{
	struct refusal why;
	struct guard_account a = account(100000);
	struct guard_member m = {1000, 0, 0};
	a.daily_limit = 1000;
	a.reserved = 900;
	is_int(money_guard_check(&why, &a, NULL, 200, 0), CD_E_DAILY_LIMIT, "a hold of 900 pending: 200 passes the day");
	ok(!why.lasting, "not lasting: the hold's settle may free the day");
	a.reserved = 0;
	a.day_spent = 900;
	is_int(money_guard_check(&why, &a, NULL, 200, 0), CD_E_DAILY_LIMIT, "900 spent: 200 passes the day");
	ok(why.lasting, "lasting: only the next day passes it");
	a.daily_limit = -1;
	a.monthly_limit = 1000;
	a.month_spent = 500;
	a.reserved = 400;
	is_int(money_guard_check(&why, &a, NULL, 200, 0), CD_E_HARD_LIMIT, "the month, with a hold pending");
	ok(!why.lasting, "not lasting");
	is_int(money_guard_check(&why, &a, NULL, 600, 0), CD_E_HARD_LIMIT, "the month, past it by what was spent");
	ok(why.lasting, "lasting");
	a.monthly_limit = -1;
	a.reserved = 0;
	m.reserved = 500;
	m.month_spent = 400;
	is_int(money_guard_check(&why, &a, &m, 200, 0), CD_E_MEMBER_CAP, "the member's cap, a hold pending");
	ok(!why.lasting, "not lasting");
	is_int(money_guard_check(&why, &a, &m, 700, 0), CD_E_MEMBER_CAP, "past it by what the member spent");
	ok(why.lasting, "lasting");
	is_int(money_guard_check(&why, &a, NULL, 200000, 0), CD_E_INSUFFICIENT, "a 402");
	ok(!why.lasting, "is never lasting (a top-up passes it)");
}

/* docs/api.md, "Money stays in range": each figure in the range, the first one past it named. */
static void test_range(void)
{
	struct guard_account a = account(0);
	struct guard_member m = {-1, 0, 0};
	ok(money_guard_range(&a, &m, 10, 10) == NULL, "small moves stay in range");
	a.balance = -LIMIT_BALANCE_MICROS_MAX + 5;
	is_str(money_guard_range(&a, &m, 0, 6), "balance", "a spend past the bottom names the balance");
	a.balance = 0;
	a.reserved = LIMIT_BALANCE_MICROS_MAX - 1;
	is_str(money_guard_range(&a, &m, 2, 0), "reserve", "a reserve past the top");
	a.reserved = 0;
	a.day_spent = LIMIT_BALANCE_MICROS_MAX;
	is_str(money_guard_range(&a, &m, 0, 1), "spend", "a day's spend past the top");
	a.day_spent = 0;
	m.reserved = LIMIT_BALANCE_MICROS_MAX;
	is_str(money_guard_range(&a, &m, 1, 0), "member reserve", "the member's reserve");
	ok(money_guard_range(&a, NULL, 1, 0) == NULL, "no member: only the account's figures");
	m.reserved = 0;
	m.month_spent = LIMIT_BALANCE_MICROS_MAX;
	is_str(money_guard_range(&a, &m, 0, 1), "member spend", "the member's spend");
	ok(money_guard_range(&a, &m, 0, -1) == NULL, "a refund takes it back into range");
}

/* A new hold: the full one, a shrunk one, or the least one named. */
static void test_authorize(void)
{
	struct refusal why;
	struct guard_account a = account(1000);
	struct guard_ask r = ask(1000, -1);
	int64_t amount = -1, out = -1;
	memset(&why, 0, sizeof(why));
	is_int(money_guard_authorize(&r, &a, NULL, &why, &amount, &out), CD_E_INSUFFICIENT, "2100 on 1000: refused");
	is_int(why.required_micros, 2100, "needing the full hold");
	r.min_output_tokens = 100;
	is_int(money_guard_authorize(&r, &a, NULL, &why, &amount, &out), CD_OK, "shrinkable: granted");
	ok(amount == 1000 && out == 450, "the most that fits (450 tokens, 1000)");
	is_int(why.why, REFUSE_NONE, "and no refusal left behind");
	a.balance = 250;
	is_int(money_guard_authorize(&r, &a, NULL, &why, &amount, &out), CD_E_INSUFFICIENT, "not even the least");
	is_int(why.required_micros, 300, "naming the least hold the app would take");
	r.byok = 1;
	is_int(money_guard_authorize(&r, &a, NULL, &why, &amount, &out), CD_OK, "byok holds nothing");
	ok(amount == 0 && out == 1000, "0 micros, every token asked");
	r = ask(1000, -1);
	r.action = 1;
	r.amount_micros = 200;
	is_int(money_guard_authorize(&r, &a, NULL, &why, &amount, &out), CD_OK, "an action at its price");
	ok(amount == 200 && out == -1, "no output tokens");
	a.active = 0;
	is_int(money_guard_authorize(&r, &a, NULL, &why, &amount, &out), CD_E_SUSPENDED, "never on an inactive account");
}

static void test_shrink(void)
{
	struct guard_account a = account(1000);
	int64_t out = -1, amount = -1, min_cost = -1;
	struct guard_ask r = ask(1000, 100);
	is_int(money_guard_shrink(&r, &a, NULL, &out, &amount, &min_cost), 0, "1000 available: a smaller hold fits");
	is_int(out, 450, "the most output that fits: 100 + 2*450 = 1000");
	is_int(amount, 1000, "priced as the full hold is");
	a.balance = 301;
	money_guard_shrink(&r, &a, NULL, &out, &amount, &min_cost);
	ok(out == 100 && amount == 300, "301 available: min_output_tokens exactly (300)");
	a.balance = 250;
	is_int(money_guard_shrink(&r, &a, NULL, &out, &amount, &min_cost), -1, "250 available: not even the minimum");
	is_int(min_cost, 300, "what the minimum would hold");
	a.balance = 100000;
	a.monthly_limit = 500;
	money_guard_shrink(&r, &a, NULL, &out, &amount, &min_cost);
	ok(out == 200 && amount == 500, "the monthly limit bounds it too (500)");
	struct guard_member m = {400, 0, 0};
	a.monthly_limit = -1;
	money_guard_shrink(&r, &a, &m, &out, &amount, &min_cost);
	ok(out == 150 && amount == 400, "and the member's cap (400)");
}

/* One hold computation for the guard, the gateway and a shrunk hold: the
 * token price alone, or the gateway's worst case with its fees. */
static void test_hold_cost(void)
{
	struct guard_ask r = ask(1000, -1);
	struct price dear = PRICE;
	int64_t cost = -1, want = -1;
	const struct pricing_tokens held = {100, 0, 0, 1000};
	is_int(money_guard_hold_cost(&r, 1000, &cost), PRICING_OK, "priced");
	pricing_token_cost(&PRICE, 10000, &held, &want);
	is_int(cost, want, "the guard's: the token price of its input and output");
	dear.output_micros_per_mtok *= 2;
	r.hold_price = &dear;
	r.hold_fees_raw = 5000000;	/* 5 micros before the margin */
	is_int(money_guard_hold_cost(&r, 1000, &cost), PRICING_OK, "the gateway's worst case");
	pricing_cost_with_extra(&dear, 10000, &held, 5000000, &want);
	is_int(cost, want, "at its hold price with its fees");
	ok(cost > 100 + 2 * 1000, "dearer than the token price (%lld)", (long long)cost);
}

static struct guard_settle_prices pinned_prices(const struct price *pin)
{
	struct guard_settle_prices p;
	memset(&p, 0, sizeof(p));
	p.pinned = pin;
	p.pinned_margin = 10000;
	p.same_model = 1;
	return p;
}

static void test_settle_cost(void)
{
	struct refusal why;
	struct price dear = {3000000, 0, 6000000, 1000, 3000000, PRICING_NO_DIMS},
		     huge = {0, 0, 40000000000000000LL, 1, 0, PRICING_NO_DIMS};
	struct guard_settle_prices p = pinned_prices(&PRICE);
	struct pricing_tokens used = {100, 0, 0, 50};
	int64_t cost = -1;
	memset(&why, 0, sizeof(why));
	is_int(money_guard_settle_cost(&p, &used, 0, &cost, &why), CD_OK, "a model's tokens at its pinned prices");
	is_int(cost, 200, "100 + 2*50");
	used.cached_input_tokens = 40;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 180, "cached input at its own price: 60 + 20 + 100");
	used.cached_input_tokens = 0;
	money_guard_settle_cost(&p, &used, 7000000, &cost, &why);
	is_int(cost, 207, "the gateway's dimensions added before the margin (7)");
	p.same_model = 0;
	p.asked = &dear;
	p.asked_margin = 10000;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 600, "another model: at the request's prices (300 + 300)");
	p.asked = NULL;
	is_int(money_guard_settle_cost(&p, &used, 0, &cost, &why), CD_E_INVALID, "another model, not listed: refused");
	is_int(why.why, REFUSE_HOLD_UNPRICED, "as unpriced");
	p.listed = &dear;
	p.listed_margin = 20000;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 1200, "listed: at the list's prices and margin");
	p.byok = 1;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 0, "byok costs nothing");
	p.byok = 0;
	p.action = 1;
	p.has_action = 1;
	p.action_micros = 5000;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 5000, "an action costs its price, whatever the tokens");
	p.has_action = 0;
	is_int(money_guard_settle_cost(&p, &used, 0, &cost, &why), CD_E_INVALID, "an action no longer listed: refused");
	p = pinned_prices(&huge);
	memset(&why, 0, sizeof(why));
	is_int(money_guard_settle_cost(&p, &used, 0, &cost, &why), CD_E_INVALID, "above the amount cap: refused");
	is_int(why.why, REFUSE_CHARGE_CAP, "as a charge over the cap");
	is_int(why.amount_micros, 2000000000000LL, "naming the charge (2 * 10^12)");
	is_str(why.param, "output_tokens", "blaming the output");
}

/* A settle's cost before the margin (sql/078; docs/api.md, margin_micros):
 * the price the charge is at, with no margin, rounded up once; none (-1)
 * for byok, an action or no price. */
static void test_settle_base(void)
{
	struct price dear = {3000000, 0, 6000000, 1000, 3000000, PRICING_NO_DIMS};
	struct guard_settle_prices p = pinned_prices(&dear);
	struct pricing_tokens used = {101, 0, 0, 51};
	struct refusal why;
	int64_t cost = -1;
	memset(&why, 0, sizeof(why));
	p.pinned_margin = 10500;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 640, "charged: (303 + 306) * 1.05 = 639.45, up");
	is_int(money_guard_settle_base(&p, &used, 0), 609, "before the margin: 303 + 306");
	is_int(money_guard_settle_base(&p, &used, 500000), 610, "the gateway's dimensions too, rounded up once");
	p.asked = &PRICE;
	p.asked_margin = 20000;
	p.asked_first = 1;
	is_int(money_guard_settle_base(&p, &used, 0), 203, "at the price the charge is: the answering provider's");
	p.byok = 1;
	is_int(money_guard_settle_base(&p, &used, 0), -1, "byok: none");
	p.byok = 0;
	p.action = 1;
	p.has_action = 1;
	p.action_micros = 5000;
	is_int(money_guard_settle_base(&p, &used, 0), -1, "an action: none (a listed price, no margin)");
	p = pinned_prices(&dear);
	p.same_model = 0;
	is_int(money_guard_settle_base(&p, &used, 0), -1, "no price: none");
}

/* A gateway call answered by a provider with its own price
 * (docs/gateway.md, "Which price a call is charged"): charged that price,
 * not the hold's pin (its first provider's), to the micro; a guard
 * settle naming a price keeps the pin (asked_first unset). */
static void test_settle_answering_provider(void)
{
	struct refusal why;
	/* The first provider's price pinned; the one that answered bills
	 * 109 % more (LiteLLM #39294's case). */
	struct price first = {1000000, 500000, 2000000, 1000, 1000000, PRICING_NO_DIMS},
		     answered = {2090000, 1045000, 4180000, 1000, 2090000, PRICING_NO_DIMS};
	struct guard_settle_prices p = pinned_prices(&first);
	struct pricing_tokens used = {1000, 0, 0, 500};
	int64_t cost = -1;
	memset(&why, 0, sizeof(why));
	p.asked = &answered;
	p.asked_margin = 10000;
	p.asked_first = 1;
	is_int(money_guard_settle_cost(&p, &used, 0, &cost, &why), CD_OK, "the answering provider's price");
	is_int(cost, 4180, "1000 × 2.09 + 500 × 4.18: its price, not the pin's 2000");
	money_guard_settle_cost(&p, &used, 1000000, &cost, &why);
	is_int(cost, 4181, "with the gateway's dimensions before the margin (1)");
	p.asked_first = 0;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 2000, "a price asked without asked_first: the pin holds (the guard's rule)");
	p.asked = NULL;
	p.asked_first = 1;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 2000, "asked_first without a price: the pin");
}

/* Cache writes at the cache-write price pinned with the others
 * (docs/api.md, "Prices pinned at authorize"): 3 micros a token here, where plain input is 1. */
static void test_settle_cost_cache_write(void)
{
	struct refusal why;
	struct price pin = PRICE;
	pin.cache_write_micros_per_mtok = 3000000;
	struct guard_settle_prices p = pinned_prices(&pin);
	struct pricing_tokens used = {100, 0, 40, 50};
	int64_t cost = -1;
	memset(&why, 0, sizeof(why));
	is_int(money_guard_settle_cost(&p, &used, 0, &cost, &why), CD_OK, "cache writes priced");
	is_int(cost, 280, "at the pinned cache-write price: 60 + 3*40 + 100");
	used.cached_input_tokens = 60;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 250, "the rest of the input cached: 30 + 120 + 100");
	used.cached_input_tokens = 61;
	is_int(money_guard_settle_cost(&p, &used, 0, &cost, &why), CD_E_INVALID, "cached + cache writes above the input");
	is_int(why.why, REFUSE_HOLD_UNPRICED, "refused, as a cost the formula cannot give");
	used.cached_input_tokens = 0;
	pin.cache_write_micros_per_mtok = pin.input_micros_per_mtok;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 200, "the default, the input price: as plain input");
	p.byok = 1;
	money_guard_settle_cost(&p, &used, 0, &cost, &why);
	is_int(cost, 0, "byok: nothing, cache writes or not");
}

/* What a settle and a release move, by the hold's state. */
static void test_settle_release(void)
{
	struct guard_settle_effect e;
	const struct guard_hold pending = {1, 0, 500, 0}, captured = {0, 1, 500, 500}, done = {0, 0, 500, 300};
	money_guard_settle(&pending, 200, &e);
	ok(e.reserve_delta == -500 && e.delta == 200 && e.released == 300, "pending: its reserve back, the cost charged, the rest released");
	money_guard_settle(&pending, 800, &e);
	ok(e.reserve_delta == -500 && e.delta == 800 && e.released == 0, "beyond its hold: charged whole, nothing released");
	money_guard_settle(&captured, 800, &e);
	ok(e.reserve_delta == 0 && e.delta == 300 && e.released == 0, "captured: only the difference charged");
	money_guard_settle(&captured, 200, &e);
	ok(e.delta == -300, "captured above its cost: the difference comes back (a refund)");
	is_int(money_guard_release(&pending), 500, "a release gives a pending hold back whole");
	is_int(money_guard_release(&done), 0, "and nothing of one no longer pending");
}

int main(void)
{
	test_rates();
	test_check_order();
	test_lasting();
	test_settle_base();
	test_range();
	test_shrink();
	test_hold_cost();
	test_authorize();
	test_settle_cost();
	test_settle_answering_provider();
	test_settle_cost_cache_write();
	test_settle_release();
	return done_testing();
}
