/* test_money_alert.c: threshold alerts decided (money_alert.h): each
 * kind's figure and threshold, once per crossing, armed again below it
 * and in a new period, two thresholds crossed by one change, members
 * each with their own state, no limit never past; balance.low on the
 * balance after settles, holds excluded. */
#include "money_alert.h"
#include "tap.h"
#include <stdint.h>

/* Walks an alert along values (limit and period fixed), counting fires
 * and re-arms; the state carried as the ledger keeps it. */
static int walk(enum money_alert_kind k, int64_t threshold, const int64_t *values, int n, int64_t limit,
		int64_t period, int64_t *key, int *rearms)
{
	int fires = 0;
	*rearms = 0;
	for (int i = 0; i < n; i++) {
		struct money_alert_figure f = {values[i], limit, period};
		enum money_alert_step s = money_alert_decide(k, threshold, *key, &f, key);
		fires += s == ALERT_STEP_FIRE;
		*rearms += s == ALERT_STEP_REARM;
	}
	return fires;
}

static void kinds(void)
{
	for (int k = 0; k < ALERT_KINDS; k++)
		is_int(money_alert_kind_parse(money_alert_kind_name(k)), k, "%s parses back", money_alert_kind_name(k));
	is_int(money_alert_kind_parse("balance_above"), -1, "an unknown kind does not parse");
	is_int(money_alert_kind_parse(NULL), -1, "nor does none");
	ok(!money_alert_kind_pct(ALERT_BALANCE_BELOW) && money_alert_kind_pct(ALERT_MEMBER_CAP_PCT),
	   "balance_below is in micros, the others in percent");
}

static void balance_below(void)
{
	int64_t key = 0;
	int rearms;
	/* 10 → 6 → 4 (crossed) → 3 → 5 (back at it: armed) → 2 (crossed again). */
	const int64_t v[] = {10, 6, 4, 3, 5, 2, 1};
	is_int(walk(ALERT_BALANCE_BELOW, 5, v, 7, -1, 1, &key, &rearms), 2, "balance_below 5: two crossings, two fires");
	is_int(rearms, 1, "re-armed once, when available came back to 5");
	is_int(key, 1, "fired at the end");
	struct money_alert_figure f = {-1, -1, 1};
	ok(money_alert_past(ALERT_BALANCE_BELOW, 0, &f), "balance_below 0: a debt is below it");
	f.value = 0;
	ok(!money_alert_past(ALERT_BALANCE_BELOW, 0, &f), "but 0 is not");
}

static void percents(void)
{
	int64_t key = 0;
	int rearms;
	const int64_t v[] = {0, 400, 799, 800, 900, 1000, 1200};
	is_int(walk(ALERT_MONTHLY_SPEND_PCT, 80, v, 7, 1000, 202611, &key, &rearms), 1, "80 %% of 1000: fires at 800, once");
	is_int(key, 202611, "fired in its month");
	is_int(rearms, 0, "spend never fell back: never re-armed");
	/* A new month: spend starts again at 0, the alert is armed. */
	struct money_alert_figure f = {0, 1000, 202612};
	ok(!money_alert_fired(key, &f), "a new month: armed again without a write");
	is_int(money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 80, key, &f, &key), ALERT_STEP_KEEP,
	       "a new month under the threshold writes nothing");
	f.value = 850;
	is_int(money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 80, key, &f, &key), ALERT_STEP_FIRE, "and fires again in it");
	/* A refund bringing spend back under re-arms it. */
	f.value = 700;
	is_int(money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 80, key, &f, &key), ALERT_STEP_REARM, "spend refunded under it: re-armed");
	is_int(key, 0, "armed");
	/* Daily, exact at the threshold and one under it, big figures in 128 bits. */
	int64_t big = 4000000000000000000;
	struct money_alert_figure d = {big / 2 - 1, big, 20000};
	ok(!money_alert_past(ALERT_DAILY_SPEND_PCT, 50, &d), "one micro under 50 %% of 4e18 is not past");
	d.value++;
	ok(money_alert_past(ALERT_DAILY_SPEND_PCT, 50, &d), "50 %% of 4e18 exactly is");
	d.limit = -1;
	ok(!money_alert_past(ALERT_DAILY_SPEND_PCT, 1, &d), "no daily limit: never past");
	d.limit = 0;
	ok(!money_alert_past(ALERT_DAILY_SPEND_PCT, 1, &d), "a limit of 0: never past");
}

static void two_at_once(void)
{
	/* 50 and 80 % of 1000, both crossed by one change from 100 to 900. */
	int64_t k50 = 0, k80 = 0, k100 = 0;
	struct money_alert_figure f = {100, 1000, 7};
	money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 50, k50, &f, &k50);
	money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 80, k80, &f, &k80);
	f.value = 900;
	int fires = (money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 50, k50, &f, &k50) == ALERT_STEP_FIRE) +
		    (money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 80, k80, &f, &k80) == ALERT_STEP_FIRE) +
		    (money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 100, k100, &f, &k100) == ALERT_STEP_FIRE);
	is_int(fires, 2, "one change past 50 and 80 %% fires both, not 100 %%");
	fires = (money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 50, k50, &f, &k50) == ALERT_STEP_FIRE) +
		(money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 80, k80, &f, &k80) == ALERT_STEP_FIRE);
	is_int(fires, 0, "the next change past them fires neither again");
}

static void members(void)
{
	struct money_alert_figure f;
	money_alert_member_figure(600, 1000, 5000, 3, &f);
	is_int(f.limit, 1000, "a member's own cap is its limit");
	money_alert_member_figure(600, -1, 5000, 3, &f);
	is_int(f.limit, 5000, "else its plan's member cap");
	money_alert_member_figure(600, -1, -1, 3, &f);
	ok(!money_alert_past(ALERT_MEMBER_CAP_PCT, 1, &f), "no cap at all: never past");
	/* Two members, each with its own state, one alert. */
	int64_t ka = 0, kb = 0;
	struct money_alert_figure a, b;
	money_alert_member_figure(900, 1000, -1, 3, &a);
	money_alert_member_figure(100, 1000, -1, 3, &b);
	is_int(money_alert_decide(ALERT_MEMBER_CAP_PCT, 80, ka, &a, &ka), ALERT_STEP_FIRE, "member a past 80 %%: fires");
	is_int(money_alert_decide(ALERT_MEMBER_CAP_PCT, 80, kb, &b, &kb), ALERT_STEP_KEEP, "member b under it: nothing");
	money_alert_member_figure(850, 1000, -1, 3, &b);
	is_int(money_alert_decide(ALERT_MEMBER_CAP_PCT, 80, kb, &b, &kb), ALERT_STEP_FIRE, "b crossing later fires for b");
	is_int(money_alert_decide(ALERT_MEMBER_CAP_PCT, 80, ka, &a, &ka), ALERT_STEP_KEEP, "a's state is a's: not again");
}

static void plan_and_initial(void)
{
	struct money_alert_account acc = {.available = 50, .month_spent = 10, .monthly_limit = 100, .month_key = 5,
					  .day_spent = 10, .daily_limit = -1, .day_key = 9, .plan_granted = 1000,
					  .plan_left = 400, .plan_period = 202611};
	struct money_alert_figure f;
	money_alert_account_figure(ALERT_PLAN_CREDITS_USED_PCT, &acc, &f);
	ok(f.value == 600 && f.limit == 1000 && f.period == 202611, "plan credits used: granted less left, of granted");
	ok(money_alert_past(ALERT_PLAN_CREDITS_USED_PCT, 60, &f) && !money_alert_past(ALERT_PLAN_CREDITS_USED_PCT, 61, &f),
	   "600 of 1000 is 60 %%, not 61 %%");
	acc.plan_period = 0;
	money_alert_account_figure(ALERT_PLAN_CREDITS_USED_PCT, &acc, &f);
	ok(f.period == 1 && !money_alert_past(ALERT_PLAN_CREDITS_USED_PCT, 1, &f), "no plan: never past");
	money_alert_account_figure(ALERT_BALANCE_BELOW, &acc, &f);
	ok(f.value == 50 && f.period == 1, "balance_below reads available");
	money_alert_account_figure(ALERT_DAILY_SPEND_PCT, &acc, &f);
	ok(f.limit == -1 && f.period == 9, "daily_spend_pct reads the day's spend and limit");
	money_alert_account_figure(ALERT_MONTHLY_SPEND_PCT, &acc, &f);
	is_int(money_alert_initial(ALERT_MONTHLY_SPEND_PCT, 10, &f), 5, "set while past already: fired in its month");
	is_int(money_alert_initial(ALERT_MONTHLY_SPEND_PCT, 11, &f), 0, "set under it: armed");
	int64_t key = money_alert_initial(ALERT_MONTHLY_SPEND_PCT, 10, &f);
	is_int(money_alert_decide(ALERT_MONTHLY_SPEND_PCT, 10, key, &f, &key), ALERT_STEP_KEEP,
	       "set while past: the next change past it tells nothing");
}

/* balance.low (money_alert_low): the reviewer's flood of docs/api.md's
 * "Events" — an account at 1.0 with a threshold of 0.9 makes 30 calls
 * each held at 0.2 and released (refused by the provider) or settled at 0:
 * its balance never moves, so nothing is told; a settle that takes it
 * under tells once; a top-up above re-arms it; under again tells once
 * more. */
static void balance_low(void)
{
	const int64_t threshold = 900000;
	int noted = 0, fires = 0, rearms = 0;
	int64_t balance = 1000000;
	for (int call = 0; call < 30; call++) {
		/* The hold (reserved 200000), then its release: the balance
		 * after settles is the same at both. */
		for (int step = 0; step < 2; step++) {
			enum money_alert_step s = money_alert_low(balance, 0, threshold, noted, &noted);
			fires += s == ALERT_STEP_FIRE;
			rearms += s == ALERT_STEP_REARM;
		}
	}
	is_int(fires, 0, "30 calls held and released: no balance.low");
	is_int(rearms, 0, "nor any re-arming");
	balance -= 150000;	/* a settle: 0.85 */
	is_int(money_alert_low(balance, 0, threshold, noted, &noted), ALERT_STEP_FIRE, "a settle under 0.9 tells it");
	is_int(noted, 1, "noted");
	balance -= 10000;
	is_int(money_alert_low(balance, 0, threshold, noted, &noted), ALERT_STEP_KEEP, "another spend under it: nothing");
	balance += 500000;	/* a top-up: 1.34 */
	is_int(money_alert_low(balance, 0, threshold, noted, &noted), ALERT_STEP_REARM, "a top-up above re-arms it");
	is_int(noted, 0, "armed");
	balance -= 440000;	/* 0.9: at the threshold, not below */
	is_int(money_alert_low(balance, 0, threshold, noted, &noted), ALERT_STEP_KEEP, "at the threshold: not low");
	balance -= 1;
	is_int(money_alert_low(balance, 0, threshold, noted, &noted), ALERT_STEP_FIRE, "under again: told once more");
	is_int(money_alert_low(balance, 0, 0, noted, &noted), ALERT_STEP_REARM, "no threshold: never low, armed");
	is_int(money_alert_low(-50, 100, 60, 0, &noted), ALERT_STEP_FIRE, "the overdraft counts: -50 + 100 is under 60");
	is_int(money_alert_low(-50, 200, 60, 1, &noted), ALERT_STEP_REARM, "and a larger one re-arms it");
	is_int(money_alert_low(INT64_MAX - 1, INT64_MAX - 1, 5, 0, &noted), ALERT_STEP_KEEP,
	       "figures at the money range's edge do not turn over");
}

/* balance.low's threshold (money_alert_low_threshold): the account's own
 * wins, 0 included (never low), else the configured default; with
 * money_alert_low, a guard batch's notice decided from its rows and its
 * config alone. */
static void low_threshold(void)
{
	int noted = 0;
	is_int(money_alert_low_threshold(-1, 2000000), 2000000, "no own threshold: the default");
	is_int(money_alert_low_threshold(500000, 2000000), 500000, "its own, below the default");
	is_int(money_alert_low_threshold(5000000, 2000000), 5000000, "its own, above the default");
	is_int(money_alert_low_threshold(0, 2000000), 0, "its own 0: never low, whatever the default");
	is_int(money_alert_low_threshold(-1, 0), 0, "neither: never low");
	int64_t t = money_alert_low_threshold(-1, 1000000);
	is_int(money_alert_low(900000, 0, t, 0, &noted), ALERT_STEP_FIRE, "under the default: told");
	t = money_alert_low_threshold(0, 1000000);
	is_int(money_alert_low(900000, 0, t, noted, &noted), ALERT_STEP_REARM, "own 0: never low, armed again");
	is_int(noted, 0, "armed");
}

/* One account's alerts after a change, decided at once (a guard batch's):
 * its own alerts in order, then each member with the member_cap_pct
 * alerts of every member or of that one, from the states loaded. */
static void changes(void)
{
	const struct money_alert_rule rules[] = {
		{ALERT_BALANCE_BELOW, 5000000, 0, NULL},		/* armed */
		{ALERT_MONTHLY_SPEND_PCT, 80, 202611, NULL},		/* fired this month */
		{ALERT_MEMBER_CAP_PCT, 50, 0, NULL},			/* every member */
		{ALERT_MEMBER_CAP_PCT, 90, 0, "carol"},			/* carol's */
		{ALERT_PLAN_CREDITS_USED_PCT, 75, 0, NULL},		/* armed */
	};
	const struct money_alert_member members[] = {
		{"bob", 600000, 1000000, 202611},	/* 60 % of his own cap */
		{"carol", 950000, -1, 202611},		/* 95 % of the plan's 1,000,000 */
		{"dan", 100000, -1, 202611},		/* 10 % */
	};
	/* bob fired at 50 % this month already; dan fired last month (armed
	 * again by the new period only if past: he is not, and his state is
	 * of another period, so nothing moves). carol is new to both. */
	int64_t keys[3 * 5] = {0};
	keys[0 * 5 + 2] = 202611;
	keys[2 * 5 + 2] = 202610;
	struct money_alert_input in = {
		.figures = {.available = 4999999, .month_spent = 7000000, .monthly_limit = 10000000, .month_key = 202611,
			    .day_spent = 0, .daily_limit = -1, .day_key = 20261127, .plan_granted = 8000000,
			    .plan_left = 2000000, .plan_period = 7},
		.alerts = rules, .nalerts = 5, .members = members, .nmembers = 3, .member_keys = keys, .plan_cap = 1000000};
	struct money_alert_change out[5 * 4];
	int n = money_alert_changes(&in, out, 20);
	is_int(n, 5, "five states move");
	/* balance_below: 4,999,999 < 5,000,000 → fired (key 1, no period). */
	ok(out[0].alert == 0 && out[0].member == -1 && out[0].step == ALERT_STEP_FIRE && out[0].key == 1,
	   "balance_below fires on the account");
	is_int(out[0].figure.value, 4999999, "told with the available balance");
	/* monthly 70 % < 80 %, fired this month → armed again. */
	ok(out[1].alert == 1 && out[1].member == -1 && out[1].step == ALERT_STEP_REARM && out[1].key == 0,
	   "monthly_spend_pct back under 80 %%: armed again");
	/* plan used 6,000,000 of 8,000,000 = 75 % → fires in period 7. */
	ok(out[2].alert == 4 && out[2].step == ALERT_STEP_FIRE && out[2].key == 7, "plan credits 75 %% used: fired");
	ok(out[2].figure.value == 6000000 && out[2].figure.limit == 8000000, "told used of granted");
	/* bob: fired already this month → nothing. carol: 95 % of the plan's
	 * cap: every member's 50 % and her own 90 %, in the alerts' order. */
	ok(out[3].alert == 2 && out[3].member == 1 && out[3].step == ALERT_STEP_FIRE && out[3].key == 202611,
	   "carol's 50 %% (every member's)");
	ok(out[4].alert == 3 && out[4].member == 1 && out[4].step == ALERT_STEP_FIRE && out[4].key == 202611,
	   "carol's 90 %% (hers)");
	is_int(out[4].figure.limit, 1000000, "of the plan's member cap");
	/* The same change again, with the states written: nothing moves. */
	const struct money_alert_rule after[] = {
		{ALERT_BALANCE_BELOW, 5000000, 1, NULL}, {ALERT_MONTHLY_SPEND_PCT, 80, 0, NULL},
		{ALERT_MEMBER_CAP_PCT, 50, 0, NULL}, {ALERT_MEMBER_CAP_PCT, 90, 0, "carol"},
		{ALERT_PLAN_CREDITS_USED_PCT, 75, 7, NULL},
	};
	keys[1 * 5 + 2] = keys[1 * 5 + 3] = 202611;
	in.alerts = after;
	is_int(money_alert_changes(&in, out, 20), 0, "once per crossing: the same figures again move nothing");
	/* bob back under 50 % (a refund of his spend): his state is armed again. */
	const struct money_alert_member bob_under[] = {{"bob", 400000, 1000000, 202611}};
	int64_t bob_keys[5] = {0, 0, 202611, 0, 0};
	in = (struct money_alert_input){.figures = in.figures, .alerts = after, .nalerts = 5, .members = bob_under,
					.nmembers = 1, .member_keys = bob_keys, .plan_cap = -1};
	n = money_alert_changes(&in, out, 20);
	ok(n == 1 && out[0].alert == 2 && out[0].member == 0 && out[0].step == ALERT_STEP_REARM && out[0].key == 0,
	   "bob under 50 %%: armed again");
	is_int(money_alert_changes(&(struct money_alert_input){.figures = in.figures, .alerts = rules, .nalerts = 5,
							     .members = members, .nmembers = 3, .member_keys = keys,
							     .plan_cap = 1000000},
				   out, 2),
	       -1, "changes that do not fit: -1");
	/* A plan period's grants summed: 5,000,000 + 3,000,000 granted,
	 * 1,500,000 + 500,000 left; an overflow is -1. */
	const int64_t amounts[] = {5000000, 3000000}, remaining[] = {1500000, 500000};
	int64_t granted, left;
	ok(money_alert_plan(amounts, remaining, 2, &granted, &left) == 0 && granted == 8000000 && left == 2000000,
	   "plan grants summed");
	const int64_t huge[] = {INT64_MAX, 1};
	is_int(money_alert_plan(huge, remaining, 2, &granted, &left), -1, "an overflow is refused");
}

/* A refusal's notice: balance.depleted once until armed again,
 * limit.reached once a month (monthly, a member's cap) or a day. */
static void refusals(void)
{
	struct money_refusal_noted n = {0, 202610, 20261126, 0};
	is_int(money_alert_refusal(REFUSE_INSUFFICIENT, 0, 202611, 20261127, &n), REFUSAL_NOTICE_DEPLETED,
	       "402: balance.depleted");
	is_int(money_alert_refusal(REFUSE_INSUFFICIENT, 0, 202611, 20261127, &n), REFUSAL_NOTICE_NONE, "once");
	is_int(n.depleted, 1, "noted");
	is_int(money_alert_refusal(REFUSE_MONTHLY_LIMIT, 0, 202611, 20261127, &n), REFUSAL_NOTICE_LIMIT,
	       "the monthly limit, first this month");
	is_int(money_alert_refusal(REFUSE_MONTHLY_LIMIT, 0, 202611, 20261128, &n), REFUSAL_NOTICE_NONE,
	       "not again the next day of the month");
	ok(n.limit_month == 202611 && n.limit_day == 20261126, "the month noted, the day left");
	is_int(money_alert_refusal(REFUSE_DAILY_LIMIT, 0, 202611, 20261127, &n), REFUSAL_NOTICE_LIMIT, "the daily limit");
	is_int(money_alert_refusal(REFUSE_DAILY_LIMIT, 0, 202611, 20261127, &n), REFUSAL_NOTICE_NONE, "once a day");
	is_int(money_alert_refusal(REFUSE_DAILY_LIMIT, 0, 202611, 20261128, &n), REFUSAL_NOTICE_LIMIT, "again the next");
	is_int(money_alert_refusal(REFUSE_MEMBER_CAP, 0, 202611, 20261128, &n), REFUSAL_NOTICE_NONE,
	       "a member's cap with no member row: nothing");
	is_int(money_alert_refusal(REFUSE_MEMBER_CAP, 1, 202611, 20261128, &n), REFUSAL_NOTICE_LIMIT, "with one: told");
	is_int(money_alert_refusal(REFUSE_MEMBER_CAP, 1, 202612, 20261201, &n), REFUSAL_NOTICE_LIMIT,
	       "and again in a new month");
	is_int(money_alert_refusal(REFUSE_ACCOUNT_INACTIVE, 1, 202612, 20261201, &n), REFUSAL_NOTICE_NONE,
	       "a 403 tells nothing");
}

int main(void)
{
	kinds();
	balance_below();
	percents();
	two_at_once();
	members();
	plan_and_initial();
	balance_low();
	low_threshold();
	changes();
	refusals();
	return done_testing();
}
