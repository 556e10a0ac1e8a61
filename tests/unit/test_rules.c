/* test_rules.c: the money rules of a credit and of a refund
 * (ledger_rules.h), without a database: cases by hand, then random
 * sequences of credits, spends and refunds (with disputes) applied to a
 * ledger in memory the way the operations apply them, DESIGN §4's
 * invariants checked after every step: the balance is the sum of the
 * grants' remaining, one debt row at most and never above zero, no grant
 * below zero, no credit left on a grant while the debt row owes, no refund taking back more than its payment credited, and
 * the money moved equal to the money decided. */
#include "ledger_rules.h"
#include "ledger_rows.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

#define GRANTS 400
#define PAYMENTS 40

struct model {
	struct spend_grant g[GRANTS];
	int n;
	int64_t balance;
	struct {
		int64_t credited, refunded, refunded_cents, paid_cents, disputed;
	} pay[PAYMENTS];
	int npay;
};

static uint64_t rng = 88172645463325252ULL;
static int64_t rnd(int64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n > 0 ? (int64_t)(rng % (uint64_t)n) : 0;
}

static int debt_row(const struct model *m)
{
	for (int i = 0; i < m->n; i++)
		if (m->g[i].debt)
			return i;
	return -1;
}

/* As ledger_rows.c's add_grant does, with the rule. */
static int credit(struct model *m, int64_t amount)
{
	int d = debt_row(m);
	int64_t debt = d >= 0 && m->g[d].remaining < 0 ? -m->g[d].remaining : 0;
	struct grant_effect e;
	if (m->n == GRANTS || ledger_rule_grant(m->balance, debt, amount, &e) != 0)
		return -1;
	if (e.repay > 0)
		m->g[d].remaining += e.repay;
	m->g[m->n++] = (struct spend_grant){m->n + 1, e.remaining, 0, 0};
	m->balance = e.balance_after;
	return 0;
}

/* As ledger_spend_as does: burn in order, the rest onto the debt row. */
static int spend(struct model *m, int64_t amount)
{
	if (amount <= 0 || m->n == GRANTS)
		return amount == 0 ? 0 : -1;
	int64_t left = ledger_spend_burn(m->g, m->n, amount);
	if (left > 0 && !ledger_spend_debt(m->g, m->n, left))
		m->g[m->n++] = (struct spend_grant){m->n + 1, -left, 1, 1};
	m->balance -= amount;
	return 0;
}

static const char *broken(const struct model *m)
{
	int64_t sum = 0;
	int debts = 0;
	for (int i = 0; i < m->n; i++) {
		sum += m->g[i].remaining;
		if (m->g[i].debt && (debts++ || m->g[i].remaining > 0))
			return "a second debt row, or one above zero";
		if (!m->g[i].debt && m->g[i].remaining < 0)
			return "a grant below zero";
	}
	if (sum != m->balance)
		return "the balance is not the sum of the grants";
	int d = debt_row(m);
	for (int i = 0; d >= 0 && m->g[d].remaining < 0 && i < m->n; i++)
		if (!m->g[i].debt && m->g[i].remaining > 0)
			return "credit left on a grant while the debt row owes (a credit repays debt first)";
	for (int i = 0; i < m->npay; i++)
		if (m->pay[i].refunded + m->pay[i].disputed > m->pay[i].credited || m->pay[i].refunded < 0 ||
		    m->pay[i].disputed < 0)
			return "a payment taken back beyond its credit";
	return NULL;
}

static void by_hand(void)
{
	struct grant_effect e;
	ok(ledger_rule_grant(0, 0, 500, &e) == 0 && e.repay == 0 && e.remaining == 500 && e.balance_after == 500,
	   "a credit without debt is all the new grant's");
	ok(ledger_rule_grant(-300, 300, 500, &e) == 0 && e.repay == 300 && e.remaining == 200 && e.balance_after == 200,
	   "a credit repays the debt first");
	ok(ledger_rule_grant(-800, 800, 500, &e) == 0 && e.repay == 500 && e.remaining == 0 && e.balance_after == -300,
	   "a credit below the debt goes all to it");
	ok(ledger_rule_grant(INT64_MAX - 10, 0, 11, &e) == -1, "a credit past the money range is refused");

	struct refund_effect r;
	struct refund_case c = {.refunded_cents = 500, .charge_cents = 1000, .credited = 10000000, .rate_micros = -1};
	ledger_rule_refund(&c, &r);
	ok(!r.duplicate && r.target == 5000000 && r.take == 5000000 && r.from_dispute == 0,
	   "half the charge refunded takes back half the credit");
	c.refunded = 5000000;
	c.refunded_cents_before = 500;
	ledger_rule_refund(&c, &r);
	ok(r.duplicate && r.take == 0, "the same cumulative amount again is a duplicate");
	c.refunded_cents = 1000;
	ledger_rule_refund(&c, &r);
	ok(r.target == 10000000 && r.take == 5000000, "then the whole: the rest of the credit");
	c = (struct refund_case){.refunded_cents = 333, .charge_cents = 1000, .credited = 1000};
	ledger_rule_refund(&c, &r);
	is_int(r.target, 333, "rounded down: the customer never loses more than they got back");
	c = (struct refund_case){.refunded_cents = 700, .charge_cents = -1, .paid_cents = 0, .credited = 10000000,
				 .rate_micros = 7000000};
	ledger_rule_refund(&c, &r);
	is_int(r.take, 7000000, "no charge amount and no record of it: the cents at the top-up rate");
	c.rate_micros = 70000000;
	ledger_rule_refund(&c, &r);
	is_int(r.take, 10000000, "never more than was credited");
	c = (struct refund_case){.refunded_cents = 1000, .charge_cents = 1000, .credited = 10000000,
				 .disputed = 6000000};
	ledger_rule_refund(&c, &r);
	ok(r.take == 4000000 && r.from_dispute == 6000000,
	   "a full refund while a dispute holds 6 of 10: 4 from the balance, 6 asked of the dispute");
}

static void random_sequences(void)
{
	int runs = 0, steps = 0, refunds = 0, disputes = 0, debts = 0;
	const char *why = NULL;
	for (int run = 0; run < 300 && why == NULL; run++, runs++) {
		struct model m;
		memset(&m, 0, sizeof(m));
		for (int step = 0; step < 120 && why == NULL; step++, steps++) {
			int64_t before = m.balance;
			int op = (int)rnd(4);
			if (op == 0 && m.npay < PAYMENTS) {
				/* a top-up: cents paid, micros credited */
				int64_t cents = 1 + rnd(5000), micros = cents * 10000;
				if (credit(&m, micros) == 0)
					m.pay[m.npay++] = (typeof(m.pay[0])){micros, 0, 0, rnd(2) ? cents : 0, 0};
				if (m.balance != before + micros)
					why = "a credit moved another amount";
			} else if (op == 1) {
				int64_t amount = 1 + rnd(40000000);
				spend(&m, amount);
				debts += m.balance < 0;
				if (m.balance != before - amount)
					why = "a spend moved another amount";
			} else if (op == 2 && m.npay > 0) {
				/* a dispute opens on a payment: it takes what is left of it */
				int p = (int)rnd(m.npay);
				int64_t left = m.pay[p].credited - m.pay[p].refunded - m.pay[p].disputed;
				int64_t take = left > 0 ? rnd(left + 1) : 0;
				if (take > 0) {
					spend(&m, take);
					m.pay[p].disputed += take;
					disputes++;
				}
			} else if (op == 3 && m.npay > 0) {
				int p = (int)rnd(m.npay);
				int64_t paid = m.pay[p].credited / 10000;
				struct refund_case c = {.refunded_cents = m.pay[p].refunded_cents + rnd(paid / 2 + 1),
							.charge_cents = rnd(3) ? paid : -1, .paid_cents = m.pay[p].paid_cents,
							.credited = m.pay[p].credited, .refunded = m.pay[p].refunded,
							.refunded_cents_before = m.pay[p].refunded_cents,
							.disputed = m.pay[p].disputed, .rate_micros = 0};
				if (c.refunded_cents > paid)
					c.refunded_cents = paid;
				c.rate_micros = c.refunded_cents * 10000;
				struct refund_effect e;
				ledger_rule_refund(&c, &e);
				if (e.duplicate)
					continue;
				/* the dispute gives what it holds of what was asked */
				int64_t moved = e.from_dispute < m.pay[p].disputed ? e.from_dispute : m.pay[p].disputed;
				ledger_rule_refund_moved(&c, &e, moved);
				spend(&m, e.take);
				m.pay[p].refunded += e.take + moved;
				m.pay[p].disputed -= moved;
				m.pay[p].refunded_cents = c.refunded_cents;
				refunds++;
				if (m.balance != before - e.take)
					why = "a refund moved another amount than it took";
			}
			if (why == NULL)
				why = broken(&m);
		}
	}
	ok(why == NULL, "%d random sequences, %d steps (%d refunds, %d disputes, %d spends into debt): %s", runs, steps,
	   refunds, disputes, debts, why != NULL ? why : "every invariant held after every step");
	ok(refunds > 1000 && disputes > 500 && debts > 100, "the sequences reach refunds, disputes and debt");
}

int main(void)
{
	by_hand();
	random_sequences();
	return done_testing();
}
