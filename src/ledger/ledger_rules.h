/* ledger_rules.h: the money rules of a credit and of a refund, decided
 * in pure C over the figures their rows hold (DESIGN §4, §13): no I/O, no
 * clock, no allocation. The operations (ledger_rows.c's grants,
 * ledger_refunds.c's charge.refunded) read and lock their rows, call
 * these, then write what they return. Each asserts its inputs and its
 * result: money conserved, nothing below zero that may not be, nothing
 * taken beyond what was credited. tests/unit/test_rules.c tests them
 * without a database, and applies random sequences of credits, spends
 * (ledger_spend_burn and ledger_spend_debt) and refunds to a ledger in
 * memory, checking DESIGN §4's invariants after each. */
#ifndef CREDITD_LEDGER_RULES_H
#define CREDITD_LEDGER_RULES_H
#include <stdint.h>

/* A credit of amount (> 0) to an account of balance whose debt row owes
 * debt (>= 0): the debt is repaid first, the rest is the new grant's. */
struct grant_effect {
	int64_t repay;			/* taken off the debt row */
	int64_t remaining;		/* the new grant's remaining */
	int64_t balance_after;
};
/* 0, or -1 when the balance would pass the money range (nothing moves). */
int ledger_rule_grant(int64_t balance, int64_t debt, int64_t amount, struct grant_effect *e);

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
 * hold, whose answer, moved, ledger_rule_refund_moved checks). */
void ledger_rule_refund(const struct refund_case *c, struct refund_effect *e);
/* Checks what the dispute gave (moved <= e->from_dispute) and that the
 * refund takes no more than the credit: take + moved + refunded <= credited. */
void ledger_rule_refund_moved(const struct refund_case *c, const struct refund_effect *e, int64_t moved);

#endif
