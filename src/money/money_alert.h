/* money_alert.h: threshold alerts decided (docs/api.md, "Threshold
 * alerts"): whether a figure is past an alert's threshold, and what the
 * alert does about it, from the state its row keeps and the figures as
 * the change left them. Pure: no I/O, no clock, no allocation. The ledger
 * reads the alerts under the account's lock (ledger_alerts.c; a guard
 * batch's read, ledger_alerts_batch.h), hands in the figures, writes the
 * states and events these return, in the transaction of the change. tests/unit/money/test_money_alert.c tests
 * every kind without a database. */
#ifndef CREDITD_MONEY_ALERT_H
#define CREDITD_MONEY_ALERT_H
#include "refusal.h"
#include <stdint.h>

enum money_alert_kind {
	ALERT_BALANCE_BELOW,		/* available below `micros` */
	ALERT_MONTHLY_SPEND_PCT,	/* the month's spend at pct of monthly_limit_micros */
	ALERT_DAILY_SPEND_PCT,		/* the day's spend at pct of daily_limit_micros */
	ALERT_MEMBER_CAP_PCT,		/* a member's month spend at pct of its cap */
	ALERT_PLAN_CREDITS_USED_PCT,	/* the plan period's grants used at pct of them */
	ALERT_KINDS
};
/* The kind's name as the API spells it, and back (-1: no such kind). */
const char *money_alert_kind_name(enum money_alert_kind k);
int money_alert_kind_parse(const char *name);
/* Whether the kind's threshold is a percentage (else micros). */
int money_alert_kind_pct(enum money_alert_kind k);

/* A figure as the change left it: value (available for balance_below,
 * else what was spent or used), limit (the figure pct is of; -1: none,
 * and such an alert is never past), and the period it counts in (a
 * month key, a day, a plan period; 1 for balance_below, which has
 * none). */
struct money_alert_figure {
	int64_t value, limit, period;
};
/* An account's figures as a change left them, the alerts' sources. */
struct money_alert_account {
	int64_t available;			/* balance − reserved + overdraft */
	int64_t month_spent, monthly_limit, month_key;	/* monthly_limit -1: none */
	int64_t day_spent, daily_limit, day_key;	/* daily_limit -1: none */
	int64_t plan_granted, plan_left, plan_period;	/* the period's plan grants; plan_period 0: no plan */
};
/* The figure an alert of kind k (not member_cap_pct) reads of a. */
void money_alert_account_figure(enum money_alert_kind k, const struct money_alert_account *a,
				struct money_alert_figure *f);
/* A member's figure (member_cap_pct): its month spend of its own cap, or
 * (own_cap -1) of its plan's member cap (-1: none, never past). */
void money_alert_member_figure(int64_t month_spent, int64_t own_cap, int64_t plan_cap, int64_t month_key,
			       struct money_alert_figure *f);
/* Whether the figure is past the threshold: available below micros, or
 * value at pct % of a limit above 0 or more (value·100 ≥ pct·limit, in
 * 128 bits). */
int money_alert_past(enum money_alert_kind k, int64_t threshold, const struct money_alert_figure *f);

/* What an alert does about a change. Its state is fired_key: 0 armed,
 * else the period it fired in (armed again in any other). */
enum money_alert_step {
	ALERT_STEP_KEEP,		/* nothing to write */
	ALERT_STEP_FIRE,		/* crossed: tell it (alert.threshold) and keep it fired */
	ALERT_STEP_REARM		/* back under: armed for the next crossing */
};
/* The step, and *key the state to keep (the state as it was for KEEP):
 * FIRE when the figure is past and the alert is not fired in this
 * period, REARM when the figure is not past and it is; KEEP otherwise. An
 * alert fires once per crossing: fired, it fires again only after a
 * REARM or in another period. */
enum money_alert_step money_alert_decide(enum money_alert_kind k, int64_t threshold, int64_t fired_key,
					 const struct money_alert_figure *f, int64_t *key);
/* The state an alert is set in (PUT …/alerts): fired for this period when
 * its figure is past already (that crossing happened before it was set,
 * and tells nothing), else armed. */
int64_t money_alert_initial(enum money_alert_kind k, int64_t threshold, const struct money_alert_figure *f);
/* Whether an alert of fired_key is fired in the figure's period. */
int money_alert_fired(int64_t fired_key, const struct money_alert_figure *f);

/* An account's alerts after a change, decided at once (a guard batch's
 * account: ledger_alerts_batch.c hands in the rows its read loaded and
 * writes what comes back with the batch's write). */
struct money_alert_rule {
	enum money_alert_kind kind;
	int64_t threshold;
	int64_t fired_key;		/* its own state (not member_cap_pct's: per member) */
	const char *member;		/* member_cap_pct's member; NULL: every member */
};
/* A member whose row the change touched. */
struct money_alert_member {
	const char *name;
	int64_t month_spent, own_cap, month_key;	/* own_cap -1: none (the plan's) */
};
struct money_alert_input {
	struct money_alert_account figures;		/* as the change left them */
	const struct money_alert_rule *alerts;		/* in their order */
	int nalerts;
	const struct money_alert_member *members;	/* in the batch's order */
	int nmembers;
	/* Member k's state of alert i at [k * nalerts + i] (0: armed or no
	 * row), read for member_cap_pct alerts only. */
	const int64_t *member_keys;
	int64_t plan_cap;				/* the plan's member cap; -1: none */
};
/* A state that moves: alert `alert`'s own (member -1), or its state for
 * member `member`; FIRE (tell alert.threshold with figure's value and
 * limit) or REARM; key the state to keep. */
struct money_alert_change {
	int alert, member;
	enum money_alert_step step;
	int64_t key;
	struct money_alert_figure figure;
};
/* The changes of in's alerts into out[0..cap), in the order they are told:
 * the account's alerts (not member_cap_pct) in their order, then each
 * member in its order with the member_cap_pct alerts that apply to it (an
 * alert of every member, or of that one) in theirs; how many, or -1 when
 * they do not fit (cap nalerts · (1 + nmembers) always does). */
int money_alert_changes(const struct money_alert_input *in, struct money_alert_change *out, int cap);
/* A plan period's grants as a change left them (amounts and what
 * remains, n of each): *granted and *left summed; -1 on an overflow. */
int money_alert_plan(const int64_t *amounts, const int64_t *remaining, int n, int64_t *granted, int64_t *left);

/* balance.low (docs/api.md, "Events"): judged on the balance after
 * settles — the balance and its overdraft, holds excluded — so a hold, its
 * release, and a call refused or charged nothing tell nothing: the figure
 * moves only when money is spent or comes in. Below threshold (> 0; 0:
 * none) and not noted: FIRE, noted from then on; at the threshold or above
 * and noted: REARM (a top-up or a grant raised it, or the threshold or the
 * overdraft changed); else KEEP. *noted_after is the note to keep. */
enum money_alert_step money_alert_low(int64_t balance, int64_t overdraft, int64_t threshold, int noted,
				      int *noted_after);
/* The balance.low threshold of an account whose own low_balance_micros is
 * `own` (-1: none): its own, else `fallback` (the configured default,
 * [ledger] low_balance_default_micros); 0 or less: the account is never
 * low. The one copy of the rule: a guard batch's notices, every other
 * operation's and the widget's low state read it. */
int64_t money_alert_low_threshold(int64_t own, int64_t fallback);

/* A refusal's notice (docs/api.md, "Events"): balance.depleted for an
 * insufficient balance, once until a credit arms it again; limit.reached
 * for the monthly limit or a member's cap once a month, for the daily
 * limit once a day. The states as the rows keep them (member: the member
 * row's, when the refusal names one). */
struct money_refusal_noted {
	int depleted;
	int64_t limit_month, limit_day, member_month;
};
enum money_refusal_notice {
	REFUSAL_NOTICE_NONE,		/* nothing to tell */
	REFUSAL_NOTICE_DEPLETED,	/* balance.depleted */
	REFUSAL_NOTICE_LIMIT		/* limit.reached */
};
/* What refusal why (in month and day; has_member: it names a member row)
 * tells, and *noted as it is to be kept. */
enum money_refusal_notice money_alert_refusal(enum refusal_why why, int has_member, int64_t month, int64_t day,
					      struct money_refusal_noted *noted);
#endif
