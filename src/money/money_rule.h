/* money_rule.h: the money rules of a credit, a refund, a dispute, a
 * plan's period, a promo code, an auto-recharge, a hold's expiry and a
 * pay-as-you-go collection and an operator's debit, decided in pure C over the figures their rows hold
 * (docs/decisions.md, docs/api.md, docs/pay-as-you-go.md): no I/O, no clock, no allocation. The
 * operations (ledger_rows.c's grants, ledger_refunds.c's
 * charge.refunded, ledger_disputes.c's charge.dispute.*,
 * ledger_periods.c's plan credits, ledger_promo.c's redemptions,
 * ledger_events.c's auto-recharge notice, ledger_due.c's sweep, ledger_accounts.c's debit,
 * ledger_payg.c's collections) read and lock their rows, call these,
 * then write what they return. Each asserts its inputs and its
 * result: money conserved, nothing below zero that may not be, nothing
 * taken beyond what was credited. tests/unit/money/test_money_rule.c tests them
 * without a database, and applies random sequences of credits, spends
 * (money_rule_spend_burn and money_rule_spend_debt), refunds and disputes opened
 * and closed to a ledger in memory, checking the invariants (docs/decisions.md) after each. */
#ifndef CREDITD_MONEY_RULE_H
#define CREDITD_MONEY_RULE_H
#include <stdint.h>

/* A credit of amount (> 0) to an account of balance whose debt row owes
 * debt (>= 0): the debt is repaid first, the rest is the new grant's. */
struct grant_effect {
	int64_t repay;			/* taken off the debt row */
	int64_t remaining;		/* the new grant's remaining */
	int64_t balance_after;
};
/* 0, or -1 when the balance would pass the money range (nothing moves). */
int money_rule_grant(int64_t balance, int64_t debt, int64_t amount, struct grant_effect *e);

/* A spend counter's period (a month's or a day's key, as timefmt makes
 * them) at the request's now_key: a counter of another period starts
 * again at 0 in this one (a clock set back too: the counter is the
 * period's it names). Decided in memory, written with its row. */
struct roll_effect {
	int rolled;			/* the key changed */
	int64_t key, spent;		/* the counter as it stands in now_key */
};
void money_rule_roll(int64_t key, int64_t spent, int64_t now_key, struct roll_effect *e);

/* A debit (an operator's adjustment, POST …/debit) of amount (> 0) from
 * an account of balance with available micros free to spend (clamped:
 * money_available): never past what is available (refused, nothing
 * moves), nor past the money range, else the balance it leaves. The spending order of the grants is ledger_rows_spend's. */
struct debit_effect {
	int refused;			/* amount > available */
	int out_of_range;		/* balance - amount would pass the money range (a row edited by hand) */
	int64_t balance_after;		/* balance - amount, when neither */
};
void money_rule_debit(int64_t balance, int64_t available, int64_t amount, struct debit_effect *e);

/* A Stripe refund of a credit (cumulative, as Stripe reports it). */
struct refund_case {
	int64_t refunded_cents;		/* the charge's amount refunded so far */
	int64_t charge_cents;		/* the charge's amount; <= 0: unknown */
	int64_t paid_cents;		/* what the credit's record says was paid; <= 0: unknown */
	int64_t credited;		/* micros the payment credited */
	int64_t refunded;		/* micros taken back by refunds before */
	int64_t refunded_cents_before;	/* refunded_cents as last applied */
	int64_t disputed;		/* micros an open dispute holds back */
	int64_t rate_micros;		/* refunded_cents at the top-up rate; < 0: out of range */
};
struct refund_effect {
	int duplicate;			/* nothing new: applied already */
	int64_t target;			/* micros all refunds so far take back */
	int64_t take;			/* micros to take from the balance now */
	int64_t from_dispute;		/* micros to ask of the open dispute's hold */
};
/* The refund's effect: the credit's share as of the charge (rounded
 * down), else as of what was paid, else the cents at the top-up rate;
 * never more than was credited; what an open dispute took already is not
 * taken again (the part beyond the credit left is asked of the dispute's
 * hold, whose answer, moved, money_rule_refund_moved checks). */
void money_rule_refund(const struct refund_case *c, struct refund_effect *e);
/* Checks what the dispute gave (moved <= e->from_dispute) and that the
 * refund takes no more than the credit: take + moved + refunded <= credited. */
void money_rule_refund_moved(const struct refund_case *c, const struct refund_effect *e, int64_t moved);

/* A dispute of a Stripe-funded credit (docs/decisions.md, "Disputes"). */
struct dispute_case {
	int64_t credited;		/* micros the payment credited */
	int64_t refunded;		/* micros refunds took back */
	int64_t disputed;		/* micros disputes hold (taken less given back) */
	int64_t paid_cents;		/* what the buyer paid; <= 0: unknown */
	int64_t cents;			/* the disputed amount; < 0: unknown */
	int same_currency;		/* the dispute's currency is the payment's */
};
/* Micros a dispute takes back when it opens: the credit's share as of
 * what was paid (tax and discounts bought no credit, so a dispute of the
 * whole charge takes the whole credit), rounded down; the whole credit
 * when the share cannot be told (another currency, no amount). Never
 * more than the credit left after refunds and other disputes. */
int64_t money_rule_dispute_take(const struct dispute_case *c);
/* Whether a dispute's "created" news takes the credit: when its row is
 * new, or it closed as lost before this news came and took nothing
 * (Stripe does not deliver in order); else the news is a duplicate. */
int money_rule_dispute_opens(int found, int lost, int64_t taken);
/* A dispute closing: a win gives back what it still holds (taken less
 * what was given back; a refund may have taken part of it over), once:
 * *returned_after is the row's returned_micros from now on. */
int64_t money_rule_dispute_close(int won, int64_t taken, int64_t returned, int64_t *returned_after);
/* A refund asks micros of the open disputes holding held[0..n), in their
 * order: parts[i] is what dispute i gives (never more than it holds);
 * returns their sum (at most micros). */
int64_t money_rule_dispute_yield(const int64_t *held, int n, int64_t micros, int64_t *parts);

/* A plan's credit for a period (docs/api.md, "Plan credits per period"), decided over the period's
 * row (plan_periods, locked) and the plan's terms. */
enum rollover_rule { ROLLOVER_NONE, ROLLOVER_FULL, ROLLOVER_CAPPED };
struct period_case {
	int64_t credits;		/* the plan's credits a period (>= 0) */
	enum rollover_rule rollover;
	int64_t cap;			/* ROLLOVER_CAPPED's cap; < 0: none */
	int has_row;			/* the period was credited already */
	int same_plan;			/* ... for this plan */
	int64_t row_credits;		/* ... with these credits */
	int64_t left;			/* what the period before's grants left (>= 0; read when !has_row) */
};
struct period_effect {
	int open;			/* the period's row is written, with credit and carried */
	int raise;			/* the row is raised to credits (a change to a bigger plan) */
	int64_t credit;			/* the plan credit (open), or the upgrade's difference (raise) */
	int64_t carried;		/* the rollover (open): what the rule carries of left */
};
/* A period is credited once: its first credit opens it (the plan's
 * credits and the rollover); later, only a change to a plan of more
 * credits gives the difference (a catalogue raised mid-period, or the
 * same plan set again, applies from the next period; a smaller plan
 * takes nothing back). */
void money_rule_period(const struct period_case *c, struct period_effect *e);
/* amount of a grant cut so that balance + amount stays within max (a
 * renewal is cut to fit rather than failing every request); 0 when none
 * fits. */
int64_t money_rule_fit(int64_t balance, int64_t amount, int64_t max);

/* A promo code's redemption by an account (docs/api.md, "POST /v1/promo_codes"), over the code's
 * row (locked: redemptions of one code queue on it) and whether this
 * account redeemed it. */
enum promo_verdict { PROMO_GRANT, PROMO_REDEEMED, PROMO_EXPIRED, PROMO_EXHAUSTED };
struct promo_case {
	int redeemed_by_account;	/* a redemption row of this account exists */
	int64_t expires_at;		/* the code's; < 0: never */
	int64_t max;			/* max_redemptions; < 0: no limit */
	int64_t redeemed;		/* redemptions so far */
	int64_t ttl_days;		/* the grant's life; < 0: it never expires */
	int64_t now;
};
/* The checks in the order an app would want them told: this account has
 * it already; it expired; it is used up. PROMO_GRANT: *grant_expires is
 * the grant's expiry (-1: none). */
enum promo_verdict money_rule_promo(const struct promo_case *c, int64_t *grant_expires);

/* Whether an account's auto-recharge is queued now (docs/api.md, "Auto-recharge"),
 * over its row as a batch leaves it: on, with a card, none pending, its
 * available credit below the threshold, no dispute on its card, and
 * fewer than max_per_day today (the day's count starts again on a new
 * UTC day). */
struct recharge_case {
	int64_t threshold;		/* recharge_threshold_micros; < 0: off */
	int64_t amount_cents;		/* recharge_amount_cents; <= 0: off */
	int has_card, pending, disputed;
	int64_t available;		/* balance - reserved + overdraft */
	int64_t day_key, day_count;	/* the row's recharge day and its count */
	int64_t today;			/* days since the epoch */
	int64_t max_per_day;		/* [stripe] auto_recharge_max_per_day (>= 0) */
};
/* 1 and the row's day and count as they become (*day_key, *day_count):
 * queue one; 0: none (the day and count as they become all the same). */
int money_rule_recharge(const struct recharge_case *c, int64_t *day_key, int64_t *day_count);

/* A pending hold at its expiry (docs/decisions.md, "Expired holds"), on an account reserving
 * reserved (>= amount): its reserve is released; with capture (the
 * config's capture_expired) and an amount, the amount is charged as
 * usage and the hold is captured, else it is expired. */
struct hold_expiry {
	int64_t release;		/* taken off the account's reserve */
	int64_t charge;			/* spent from the balance (0: none) */
	int captured;
};
void money_rule_hold_expiry(int64_t amount, int64_t reserved, int capture, struct hold_expiry *e);
/* An unresolved gateway hold resolved (docs/gateway.md, "When a provider
 * may already be working"): its whole amount leaves the reserve and
 * charge (>= 0: its input bound, or the operator's figure) is charged,
 * never more than the amount held; captured when anything is. */
void money_rule_hold_unresolved(int64_t amount, int64_t reserved, int64_t charge, struct hold_expiry *e);
/* What a batch's hold of amount is kept unresolved at when its lines
 * charged charged apart from it (docs/gateway.md, "Batches"): the
 * rest, amount - charged, all the lines not charged may still cost;
 * nothing when they charged the hold or more. Never below 0 nor above
 * the amount. */
int64_t money_rule_batch_unresolved(int64_t amount, int64_t charged);

/* Pay-as-you-go (docs/pay-as-you-go.md): the cents a card pays for a balance below
 * zero, at rate micros a cent (> 0): rounded up, so the card pays at
 * least what is owed; 0 when nothing is owed or less than min_cents
 * (Stripe's minimum: the debt waits). */
int64_t money_rule_payg_cents(int64_t balance, int64_t rate, int64_t min_cents);
/* A collection about to be sent, asking amount_cents, when owed (cents,
 * money_rule_payg_cents of the balance now) is owed: PAYG_END when
 * nothing is owed any more; PAYG_LOWER (to owed) when less is owed and
 * the try was never sent nor decided (a sent try's key must carry the
 * same amount again); else PAYG_SEND as it is. */
enum payg_send { PAYG_SEND, PAYG_LOWER, PAYG_END };
enum payg_send money_rule_payg_send(int64_t owed, int64_t amount_cents, int64_t attempts, int decided);


/* A grant as a spend sees it. */
struct spend_grant {
	int64_t id;
	int64_t remaining;
	int debt;			/* the account's debt row (remaining <= 0) */
	int changed;			/* remaining moved: write it back */
};
/* Burns up to amount from the positive grants of g[0..n-1], which are in
 * the spending order (docs/decisions.md, "Grant priority"; ledger_rows.h GRANTS_SPEND_ORDER);
 * returns what they could not cover. */
int64_t money_rule_spend_burn(struct spend_grant *g, int n, int64_t amount);
/* Puts `left` onto the debt row among g: 1, or 0 when there is none (the
 * caller adds one with -left remaining). */
int money_rule_spend_debt(struct spend_grant *g, int n, int64_t left);
#endif
