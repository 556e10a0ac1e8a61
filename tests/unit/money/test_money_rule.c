/* test_rules.c: the money rules of a credit, a refund and a dispute
 * (money_rule.h), without a database: cases by hand, then random
 * sequences of credits, spends, refunds and disputes (opened, news
 * repeated, won, lost, yielding to refunds) applied to a ledger in
 * memory the way the operations apply them, the invariants of docs/decisions.md
 * checked after every step: the balance is the sum of the grants'
 * remaining, one debt row at most and never above zero, no grant below
 * zero, no credit left on a grant while the debt row owes, no payment
 * taken back (refunds and disputes together) beyond what it credited, a
 * payment's disputed figure the sum of what its disputes hold, and the
 * money moved equal to the money decided. */
#include "money_rule.h"
#include "ledger_rows.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

#define GRANTS 400
#define PAYMENTS 40
#define DISPUTES 4

enum { OPEN, WON, LOST };
struct dispute {
	int64_t taken, returned;
	int state;
};
struct payment {
	int64_t credited, refunded, refunded_cents, paid_cents, disputed;
	struct dispute d[DISPUTES];
	int nd;
};
struct model {
	struct spend_grant g[GRANTS];
	int n;
	int64_t balance;
	struct payment pay[PAYMENTS];
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
	if (m->n == GRANTS || money_rule_grant(m->balance, debt, amount, &e) != 0)
		return -1;
	if (e.repay > 0)
		m->g[d].remaining += e.repay;
	m->g[m->n++] = (struct spend_grant){m->n + 1, e.remaining, 0, 0};
	m->balance = e.balance_after;
	return 0;
}

/* As ledger_rows_spend_as does: burn in order, the rest onto the debt row. */
static int spend(struct model *m, int64_t amount)
{
	if (amount <= 0 || m->n == GRANTS)
		return amount == 0 ? 0 : -1;
	int64_t left = money_rule_spend_burn(m->g, m->n, amount);
	if (left > 0 && !money_rule_spend_debt(m->g, m->n, left))
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
	for (int i = 0; i < m->npay; i++) {
		const struct payment *p = &m->pay[i];
		if (p->refunded + p->disputed > p->credited || p->refunded < 0 || p->disputed < 0)
			return "a payment taken back beyond its credit";
		int64_t held = 0;
		for (int k = 0; k < p->nd; k++) {
			held += p->d[k].taken - p->d[k].returned;
			if (p->d[k].taken < 0 || p->d[k].returned != (p->d[k].state == WON ? p->d[k].taken : 0))
				return "a dispute's row out of its state (given back: all it held if won, else nothing)";
		}
		if (held != p->disputed)
			return "a payment's disputed figure is not what its disputes hold";
	}
	return NULL;
}

static void by_hand(void)
{
	struct grant_effect e;
	ok(money_rule_grant(0, 0, 500, &e) == 0 && e.repay == 0 && e.remaining == 500 && e.balance_after == 500,
	   "a credit without debt is all the new grant's");
	ok(money_rule_grant(-300, 300, 500, &e) == 0 && e.repay == 300 && e.remaining == 200 && e.balance_after == 200,
	   "a credit repays the debt first");
	ok(money_rule_grant(-800, 800, 500, &e) == 0 && e.repay == 500 && e.remaining == 0 && e.balance_after == -300,
	   "a credit below the debt goes all to it");
	ok(money_rule_grant(INT64_MAX - 10, 0, 11, &e) == -1, "a credit past the money range is refused");

	struct refund_effect r;
	struct refund_case c = {.refunded_cents = 500, .charge_cents = 1000, .credited = 10000000, .rate_micros = -1};
	money_rule_refund(&c, &r);
	ok(!r.duplicate && r.target == 5000000 && r.take == 5000000 && r.from_dispute == 0,
	   "half the charge refunded takes back half the credit");
	c.refunded = 5000000;
	c.refunded_cents_before = 500;
	money_rule_refund(&c, &r);
	ok(r.duplicate && r.take == 0, "the same cumulative amount again is a duplicate");
	c.refunded_cents = 1000;
	money_rule_refund(&c, &r);
	ok(r.target == 10000000 && r.take == 5000000, "then the whole: the rest of the credit");
	c = (struct refund_case){.refunded_cents = 333, .charge_cents = 1000, .credited = 1000};
	money_rule_refund(&c, &r);
	is_int(r.target, 333, "rounded down: the customer never loses more than they got back");
	c = (struct refund_case){.refunded_cents = 700, .charge_cents = -1, .paid_cents = 0, .credited = 10000000,
				 .rate_micros = 7000000};
	money_rule_refund(&c, &r);
	is_int(r.take, 7000000, "no charge amount and no record of it: the cents at the top-up rate");
	c.rate_micros = 70000000;
	money_rule_refund(&c, &r);
	is_int(r.take, 10000000, "never more than was credited");
	c = (struct refund_case){.refunded_cents = 1000, .charge_cents = 1000, .credited = 10000000,
				 .disputed = 6000000};
	money_rule_refund(&c, &r);
	ok(r.take == 4000000 && r.from_dispute == 6000000,
	   "a full refund while a dispute holds 6 of 10: 4 from the balance, 6 asked of the dispute");

	struct dispute_case d = {.credited = 10000000, .paid_cents = 1000, .cents = 1000, .same_currency = 1};
	is_int(money_rule_dispute_take(&d), 10000000, "a dispute of the whole charge takes the whole credit");
	d.paid_cents = 1100;	/* tax bought no credit */
	is_int(money_rule_dispute_take(&d), 9090909, "a dispute of part of what was paid takes that share, rounded down");
	d.same_currency = 0;
	is_int(money_rule_dispute_take(&d), 10000000, "in another currency the share cannot be told: the whole credit");
	d = (struct dispute_case){.credited = 10000000, .refunded = 3000000, .disputed = 2000000, .paid_cents = 1000,
				  .cents = -1, .same_currency = 1};
	is_int(money_rule_dispute_take(&d), 5000000, "never more than refunds and other disputes left");
	ok(money_rule_dispute_opens(0, 0, 0) && !money_rule_dispute_opens(1, 0, 500) &&
	   !money_rule_dispute_opens(1, 1, 500) && money_rule_dispute_opens(1, 1, 0),
	   "a dispute takes once: new, or lost before its news came having taken nothing");
	int64_t returned;
	ok(money_rule_dispute_close(1, 700, 0, &returned) == 700 && returned == 700,
	   "won: what it holds comes back, and is marked given");
	ok(money_rule_dispute_close(1, 700, 700, &returned) == 0 && returned == 700, "won again: nothing more");
	ok(money_rule_dispute_close(0, 700, 0, &returned) == 0 && returned == 0, "lost: the credit stays taken");
	int64_t held[3] = {300, 0, 500}, parts[3];
	ok(money_rule_dispute_yield(held, 3, 600, parts) == 600 && parts[0] == 300 && parts[1] == 0 && parts[2] == 300,
	   "a refund takes over the open disputes' holds in order, each no more than it holds");
	ok(money_rule_dispute_yield(held, 3, 5000, parts) == 800, "and no more than they hold in all");
}

struct tally {
	int opened, repeated, won, lost;
};
static int yields;

/* What a dispute's "created" news takes of p (ledger_disputes.c's
 * dispute_take): its share, written as the row's taken. */
static int64_t dispute_take(struct model *m, struct payment *p, struct dispute *d)
{
	struct dispute_case c = {.credited = p->credited, .refunded = p->refunded, .disputed = p->disputed,
				 .paid_cents = p->paid_cents > 0 ? p->paid_cents : p->credited / 10000,
				 .cents = rnd(4) ? rnd(p->credited / 10000 + 2) : -1, .same_currency = rnd(5) != 0};
	int64_t take = money_rule_dispute_take(&c);
	spend(m, take);
	d->taken = take;
	p->disputed += take;
	return take;
}

/* As ledger_disputes.c does with news of one of a payment's disputes:
 * "created" of a new one opens it and takes its share, of a known one
 * is a duplicate (unless it closed lost having taken nothing: Stripe
 * does not deliver in order); "closed" of an open one gives its hold back
 * as a credit when won and keeps it when lost, of a closed one changes
 * nothing. 0, or -1 when the balance moved by another amount than
 * decided. */
static int dispute_news(struct model *m, struct payment *p, struct tally *t)
{
	int64_t before = m->balance;
	int k = p->nd > 0 && rnd(3) ? (int)rnd(p->nd) : -1;
	if (k < 0 && p->nd < DISPUTES) {
		struct dispute *d = &p->d[p->nd++];
		*d = (struct dispute){0, 0, OPEN};
		if (!money_rule_dispute_opens(0, 0, 0))
			return -1;
		int64_t take = dispute_take(m, p, d);
		t->opened++;
		return m->balance == before - take ? 0 : -1;
	}
	if (k < 0)
		return 0;
	struct dispute *d = &p->d[k];
	if (rnd(3) == 0) {
		/* "created" again */
		t->repeated++;
		if (!money_rule_dispute_opens(1, d->state == LOST, d->taken))
			return 0;
		if (d->state != LOST || d->taken != 0)
			return -1;
		int64_t take = dispute_take(m, p, d);
		return m->balance == before - take ? 0 : -1;
	}
	if (d->state != OPEN) {
		t->repeated++;	/* closed again: a duplicate */
		return 0;
	}
	int won = (int)rnd(2);
	int64_t returned, give = money_rule_dispute_close(won, d->taken, d->returned, &returned);
	if (give > 0 && credit(m, give) != 0)
		return 0;	/* past the range: nothing moved, the row stays open */
	p->disputed -= give;
	d->returned = returned;
	d->state = won ? WON : LOST;
	won ? t->won++ : t->lost++;
	return m->balance == before + give ? 0 : -1;
}

/* As ledger_disputes_yield does: what a refund asks of the open disputes. */
static int64_t refund_yield(struct payment *p, int64_t micros)
{
	int64_t held[DISPUTES], parts[DISPUTES];
	int at[DISPUTES], n = 0;
	for (int k = 0; k < p->nd; k++)
		if (p->d[k].state == OPEN && p->d[k].taken > 0) {
			held[n] = p->d[k].taken;
			at[n++] = k;
		}
	int64_t moved = money_rule_dispute_yield(held, n, micros, parts);
	for (int i = 0; i < n; i++)
		p->d[at[i]].taken -= parts[i];
	p->disputed -= moved;
	yields += moved > 0;
	return moved;
}

static void random_sequences(void)
{
	int runs = 0, steps = 0, refunds = 0, debts = 0;
	struct tally opened = {0};
	const char *why = NULL;
	for (int run = 0; run < 300 && why == NULL; run++, runs++) {
		struct model m;
		memset(&m, 0, sizeof(m));
		for (int step = 0; step < 120 && why == NULL; step++, steps++) {
			int64_t before = m.balance;
			int op = (int)rnd(4 + (m.npay > 0));	/* disputes twice as often once paid */
			op = op == 4 ? 2 : op;
			if (op == 0 && m.npay < PAYMENTS) {
				/* a top-up: cents paid, micros credited */
				int64_t cents = 1 + rnd(5000), micros = cents * 10000;
				if (credit(&m, micros) == 0)
					m.pay[m.npay++] = (struct payment){.credited = micros, .paid_cents = rnd(2) ? cents : 0};
				if (m.balance != before + micros)
					why = "a credit moved another amount";
			} else if (op == 1) {
				int64_t amount = 1 + rnd(40000000);
				spend(&m, amount);
				debts += m.balance < 0;
				if (m.balance != before - amount)
					why = "a spend moved another amount";
			} else if (op == 2 && m.npay > 0) {
				int p = (int)rnd(m.npay);
				if (dispute_news(&m, &m.pay[p], &opened) != 0)
					why = "a dispute moved another amount than it took or gave";
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
				money_rule_refund(&c, &e);
				if (e.duplicate)
					continue;
				/* the open disputes give what they hold of what was asked */
				int64_t moved = refund_yield(&m.pay[p], e.from_dispute);
				money_rule_refund_moved(&c, &e, moved);
				spend(&m, e.take);
				m.pay[p].refunded += e.take + moved;
				m.pay[p].refunded_cents = c.refunded_cents;
				refunds++;
				if (m.balance != before - e.take)
					why = "a refund moved another amount than it took";
			}
			if (why == NULL)
				why = broken(&m);
		}
	}
	ok(why == NULL, "%d random sequences, %d steps (%d refunds, %d spends into debt; disputes: %d opened, %d news "
	   "repeated, %d won, %d lost, %d yielding to refunds): %s", runs, steps, refunds, debts, opened.opened,
	   opened.repeated, opened.won, opened.lost, yields, why != NULL ? why : "every invariant held after every step");
	ok(refunds > 1000 && opened.opened > 500 && opened.repeated > 100 && opened.won > 100 && opened.lost > 100 &&
	   yields > 50 && debts > 100, "the sequences reach refunds, every dispute outcome, yields and debt");
}

static void periods_by_hand(void)
{
	struct period_effect e;
	struct period_case c = {.credits = 5000, .rollover = ROLLOVER_CAPPED, .cap = 2000, .left = 3000};
	money_rule_period(&c, &e);
	ok(e.open && !e.raise && e.credit == 5000 && e.carried == 2000,
	   "a period's first credit: the plan's credits and the rollover, capped");
	c.rollover = ROLLOVER_FULL;
	money_rule_period(&c, &e);
	is_int(e.carried, 3000, "rollover full: all the period before left");
	c.rollover = ROLLOVER_NONE;
	money_rule_period(&c, &e);
	is_int(e.carried, 0, "rollover none: nothing carried");
	c = (struct period_case){.credits = 5000, .has_row = 1, .same_plan = 1, .row_credits = 5000};
	money_rule_period(&c, &e);
	ok(!e.open && !e.raise && e.credit == 0, "the same period again: nothing");
	c = (struct period_case){.credits = 8000, .has_row = 1, .same_plan = 1, .row_credits = 5000};
	money_rule_period(&c, &e);
	ok(!e.raise && e.credit == 0, "the same plan with its catalogue raised mid-period: from the next period");
	c.same_plan = 0;
	money_rule_period(&c, &e);
	ok(e.raise && e.credit == 3000, "a change to a bigger plan mid-period: the difference");
	c.credits = 2000;
	money_rule_period(&c, &e);
	ok(!e.raise && e.credit == 0, "a change to a smaller plan: nothing taken, nothing given");
	is_int(money_rule_fit(100, 50, 120), 20, "a credit past the balance cap is cut to fit");
	is_int(money_rule_fit(-100, 50, 120), 50, "a balance below zero: the whole credit");
	is_int(money_rule_fit(120, 50, 120), 0, "a balance at the cap: nothing fits");
}

/* Random months of a subscription: renewals (repeated), plan changes up
 * and down mid-period, catalogue changes and spends from the period's
 * grants, applied as ledger_periods.c applies them. A period's row says
 * what it was given; it is given no more than the biggest plan it was
 * credited under, an upgrade brings it to the new plan's credits, a
 * renewal again gives nothing, and a rollover is never above what the
 * period before left nor its plan's cap. */
static void period_sequences(void)
{
	static const int64_t credits[] = {0, 1000, 5000, 20000};
	int runs = 0, months = 0, raises = 0, carries = 0;
	const char *why = NULL;
	for (int run = 0; run < 300 && why == NULL; run++, runs++) {
		int plan = 1 + (int)rnd(3), have_row = 0, row_plan = 0;
		int64_t catalogue[4], row_credits = 0, left_before = 0, pool = 0, credited = 0, most = 0;
		memcpy(catalogue, credits, sizeof(catalogue));
		enum rollover_rule rule = (enum rollover_rule)rnd(3);
		int64_t cap = rnd(2) ? rnd(8000) : -1;
		for (int step = 0; step < 80 && why == NULL; step++) {
			int op = (int)rnd(5);
			if (op == 0) {
				/* a new month: what the period's grants left is read */
				left_before = pool;
				pool = 0;
				have_row = 0;
				credited = most = 0;
				months++;
			}
			if (op == 1) {
				plan = 1 + (int)rnd(3);	/* a plan change */
			} else if (op == 2) {
				catalogue[plan] = rnd(30000);	/* the catalogue changed */
			} else if (op == 3) {
				pool -= rnd(pool + 1);	/* spent */
				continue;
			}
			struct period_case c = {.credits = catalogue[plan], .rollover = rule, .cap = cap,
						.has_row = have_row, .same_plan = row_plan == plan,
						.row_credits = row_credits, .left = have_row ? 0 : left_before};
			struct period_effect e;
			money_rule_period(&c, &e);
			if (e.open) {
				row_credits = e.credit;
				have_row = 1;
				if (e.carried > left_before || (rule == ROLLOVER_CAPPED && cap >= 0 && e.carried > cap) ||
				    (rule == ROLLOVER_NONE && e.carried != 0))
					why = "a rollover above what was left, or above its cap";
				carries += e.carried > 0;
				pool += e.credit + e.carried;
				credited += e.credit;
			} else if (e.raise) {
				row_credits += e.credit;
				pool += e.credit;
				credited += e.credit;
				raises++;
			}
			/* Checked apart from the model's bookkeeping above. */
			if (op == 4 && c.has_row && (e.open || e.raise || e.credit != 0))
				why = "a renewal again in a credited period gave credit";
			if (c.has_row && row_plan == plan && (e.raise || e.credit != 0))
				why = "the period's own plan credited again (its catalogue applies from the next period)";
			if (c.has_row && (e.raise || e.credit != 0) && catalogue[plan] <= c.row_credits)
				why = "a change to a plan of no more credits gave credit";
			if (why == NULL && e.open && e.credit != catalogue[plan])
				why = "a period opened with other than its plan's credits";
			if (why == NULL && e.raise && c.row_credits + e.credit != catalogue[plan])
				why = "an upgrade that does not bring the period to the new plan's credits";
			row_plan = have_row && (e.open || e.raise) ? plan : row_plan;
			if (e.open || e.raise)
				most = catalogue[plan] > most ? catalogue[plan] : most;
			if (why == NULL && credited > most)
				why = "a period credited more than the biggest plan it was credited under";
		}
	}
	ok(why == NULL, "%d random subscriptions over %d months (%d upgrades, %d rollovers): %s", runs, months, raises,
	   carries, why != NULL ? why : "each period credited once, upgrades by the difference, rollovers within rule");
	ok(raises > 100 && carries > 100, "the sequences reach upgrades and rollovers");
}

static void promo_codes(void)
{
	int64_t until;
	struct promo_case c = {.expires_at = -1, .max = -1, .ttl_days = -1, .now = 1000};
	ok(money_rule_promo(&c, &until) == PROMO_GRANT && until == -1, "no limits: granted, never expiring");
	c.ttl_days = 2;
	ok(money_rule_promo(&c, &until) == PROMO_GRANT && until == 1000 + 2 * 86400, "a grant lives ttl_days");
	c.ttl_days = INT32_MAX;
	ok(money_rule_promo(&c, &until) == PROMO_GRANT && until == 1000 + (int64_t)INT32_MAX * 86400,
	   "the longest ttl the column holds stays inside the range");
	c = (struct promo_case){.redeemed_by_account = 1, .expires_at = 10, .max = 1, .redeemed = 1, .ttl_days = -1,
				.now = 1000};
	is_int(money_rule_promo(&c, &until), PROMO_REDEEMED, "told in order: redeemed by this account first");
	c.redeemed_by_account = 0;
	is_int(money_rule_promo(&c, &until), PROMO_EXPIRED, "then expired");
	c.expires_at = 1000;
	is_int(money_rule_promo(&c, &until), PROMO_EXPIRED, "expired at its expires_at");
	c.expires_at = 1001;
	is_int(money_rule_promo(&c, &until), PROMO_EXHAUSTED, "then used up");
	c.max = 2;
	is_int(money_rule_promo(&c, &until), PROMO_GRANT, "granted while redemptions remain");

	/* Random redemptions of codes by 30 accounts, in time order, as
	 * ledger_promo.c applies them on the code's locked row. */
	int grants = 0, refused = 0;
	const char *why = NULL;
	for (int run = 0; run < 300 && why == NULL; run++) {
		int64_t max = rnd(3) ? rnd(12) : -1, expires = rnd(2) ? 500 + rnd(1000) : -1, redeemed = 0, now = 0;
		int by[30] = {0};
		for (int step = 0; step < 60 && why == NULL; step++) {
			int acct = (int)rnd(30);
			now += rnd(40);
			struct promo_case p = {.redeemed_by_account = by[acct], .expires_at = expires, .max = max,
					       .redeemed = redeemed, .ttl_days = rnd(3) - 1, .now = now};
			enum promo_verdict v = money_rule_promo(&p, &until);
			if (v == PROMO_GRANT) {
				by[acct] = 1;
				redeemed++;
				grants++;
				if (until >= 0 && until < now)
					why = "a grant that expired before it was given";
			} else {
				refused++;
			}
			if (why == NULL && max >= 0 && redeemed > max)
				why = "redeemed past max_redemptions";
			if (why == NULL && v == PROMO_GRANT && expires >= 0 && now >= expires)
				why = "redeemed at or after the code expired";
			if (why == NULL && p.redeemed_by_account && v == PROMO_GRANT)
				why = "one account redeemed a code twice";
		}
	}
	ok(why == NULL, "300 random codes, %d redemptions granted and %d refused: %s", grants, refused,
	   why != NULL ? why : "never past max, never after expiry, once an account");
	ok(grants > 1000 && refused > 1000, "the sequences reach both");
}

static void recharges(void)
{
	int64_t dk, dc;
	struct recharge_case c = {.threshold = 5000, .amount_cents = 1000, .has_card = 1, .available = 4999,
				  .day_key = 7, .day_count = 1, .today = 7, .max_per_day = 3};
	ok(money_rule_recharge(&c, &dk, &dc) == 1 && dk == 7 && dc == 2, "below the threshold: queued, counted");
	c.available = 5000;
	ok(money_rule_recharge(&c, &dk, &dc) == 0 && dc == 1, "at the threshold: none");
	c.available = 0;
	c.pending = 1;
	ok(money_rule_recharge(&c, &dk, &dc) == 0, "one pending: none");
	c.pending = 0;
	c.disputed = 1;
	ok(money_rule_recharge(&c, &dk, &dc) == 0, "a disputed card: none");
	c.disputed = 0;
	c.day_count = 3;
	ok(money_rule_recharge(&c, &dk, &dc) == 0 && dc == 3, "the day's maximum reached: none");
	c.today = 8;
	ok(money_rule_recharge(&c, &dk, &dc) == 1 && dk == 8 && dc == 1, "a new UTC day counts again");
	c.has_card = 0;
	ok(money_rule_recharge(&c, &dk, &dc) == 0, "no card: none");

	/* Random days of spends, credits and recharges answered (paid or
	 * failed) on one account, as the batches and the charge thread
	 * apply them. */
	int queued = 0, missed = 0, days = 0;
	const char *why = NULL;
	for (int run = 0; run < 300 && why == NULL; run++) {
		struct recharge_case a = {.threshold = rnd(3) ? 1 + rnd(50000) : -1, .amount_cents = rnd(4) ? 1 + rnd(900) : 0,
					  .has_card = rnd(5) != 0, .available = rnd(60000), .max_per_day = 1 + rnd(3)};
		int64_t per_day[64] = {0};
		for (int step = 0; step < 120 && why == NULL; step++) {
			int op = (int)rnd(6);
			if (op == 0 && a.today < 63) {
				a.today++;
				days++;
			} else if (op == 1) {
				a.available -= rnd(20000);
			} else if (op == 2 && a.pending) {
				a.pending = 0;	/* answered: paid (credited) or failed */
				a.available += rnd(2) ? a.amount_cents * 50 : 0;	/* small: the account runs low again */
			} else if (op == 3) {
				a.disputed = rnd(8) == 0;
			}
			int should = a.threshold >= 0 && a.amount_cents > 0 && a.has_card && !a.pending && !a.disputed &&
				     a.available < a.threshold &&
				     (a.day_key != a.today ? 0 : a.day_count) < a.max_per_day;
			int q = money_rule_recharge(&a, &a.day_key, &a.day_count);
			if (q) {
				a.pending = 1;
				queued++;
				per_day[a.today]++;
			}
			missed += should && !q;
			if (q != should)
				why = q ? "queued when it should not be" : "a due recharge not queued";
			else if (per_day[a.today] > a.max_per_day)
				why = "more recharges in a day than its maximum";
			else if (a.day_key != a.today && q)
				why = "a recharge counted on another day";
		}
	}
	ok(why == NULL && missed == 0, "300 random accounts over %d days, %d recharges queued: %s", days, queued,
	   why != NULL ? why : "never pending twice, on a disputed card, above the threshold or past the day's maximum");
	ok(queued > 500, "the sequences queue recharges");
}

static void hold_expiries(void)
{
	struct hold_expiry x;
	money_rule_hold_expiry(700, 1000, 0, &x);
	ok(x.release == 700 && x.charge == 0 && !x.captured, "expired: its reserve released, nothing charged");
	money_rule_hold_expiry(700, 700, 1, &x);
	ok(x.release == 700 && x.charge == 700 && x.captured, "capture_expired: released and charged as usage");
	money_rule_hold_expiry(0, 700, 1, &x);
	ok(x.release == 0 && x.charge == 0 && !x.captured, "a hold of nothing is expired, not captured");
	money_rule_hold_unresolved(700, 1000, 120, &x);
	ok(x.release == 700 && x.charge == 120 && x.captured, "unresolved, charged: its reserve released, the bound charged");
	money_rule_hold_unresolved(700, 700, 900, &x);
	ok(x.release == 700 && x.charge == 700 && x.captured, "unresolved: never charged above what was held");
	money_rule_hold_unresolved(700, 700, 0, &x);
	ok(x.release == 700 && x.charge == 0 && !x.captured, "unresolved, released: nothing charged");
	ok(money_rule_batch_unresolved(10000000, 6000000) == 4000000, "a batch's hold kept at the rest of its lines' charges");
	ok(money_rule_batch_unresolved(10000000, 0) == 10000000, "no line charged: kept whole");
	ok(money_rule_batch_unresolved(10000000, 12000000) == 0, "its lines charged past it: kept at nothing more");
	ok(money_rule_batch_unresolved(0, 5) == 0, "a hold of nothing: nothing");

	/* Random holds on an account expiring in random order, as the sweep
	 * applies them: the reserve comes back to zero, and the balance moves
	 * by exactly what was captured. */
	const char *why = NULL;
	int holds = 0, captured = 0;
	for (int run = 0; run < 300 && why == NULL; run++) {
		int64_t amount[40], reserved = 0, balance = rnd(1000000), start = balance, charged = 0;
		int n = 1 + (int)rnd(40), capture = (int)rnd(2);
		for (int i = 0; i < n; i++)
			reserved += amount[i] = rnd(4) ? rnd(100000) : 0;
		for (int left = n; left > 0 && why == NULL; left--) {
			int i = (int)rnd(left);
			money_rule_hold_expiry(amount[i], reserved, capture, &x);
			reserved -= x.release;
			balance -= x.charge;
			charged += x.charge;
			captured += x.captured;
			holds++;
			if (x.release != amount[i] || x.charge != (capture ? amount[i] : 0))
				why = "an expiry released or charged another amount than its hold's";
			amount[i] = amount[left - 1];
		}
		if (why == NULL && reserved != 0)
			why = "the reserve did not come back to zero";
		if (why == NULL && start - balance != charged)
			why = "the balance moved by other than what was captured";
		if (why == NULL && !capture && charged != 0)
			why = "charged without capture_expired";
	}
	ok(why == NULL, "300 random accounts, %d holds expired (%d captured): %s", holds, captured,
	   why != NULL ? why : "reserves back to zero, the balance moved by exactly what was captured");
}

static void collections(void)
{
	is_int(money_rule_payg_cents(0, 10000, 50), 0, "nothing owed: nothing collected");
	is_int(money_rule_payg_cents(-490000, 10000, 50), 0, "less than Stripe's minimum: the debt waits");
	is_int(money_rule_payg_cents(-500001, 10000, 50), 51, "rounded up: the card pays at least what is owed");
	is_int(money_rule_payg_cents(-9000000000000000000LL, 10000, 50), 900000000000000LL,
	       "the deepest debt the money range holds");
	is_int(money_rule_payg_send(0, 700, 0, 0), PAYG_END, "nothing owed any more: not sent");
	is_int(money_rule_payg_send(500, 700, 0, 0), PAYG_LOWER, "less owed, never sent: lowered to it");
	is_int(money_rule_payg_send(500, 700, 1, 0), PAYG_SEND, "less owed, sent before: the same amount again");
	is_int(money_rule_payg_send(500, 700, 0, 1), PAYG_SEND, "decided (creditctl collect): kept");
	is_int(money_rule_payg_send(900, 700, 0, 0), PAYG_SEND, "more owed: the amount queued (the rest waits)");

	/* Random debts and tries as the sweep and the sender apply them: a
	 * try never sent never asks more than is owed, the card never pays
	 * less than the debt it was asked for, and an answered debt ends. */
	const char *why = NULL;
	int sends = 0, lowered = 0, ended = 0;
	for (int run = 0; run < 2000 && why == NULL; run++) {
		int64_t rate = 1 + rnd(20000), balance = -rnd(50000000), owed = money_rule_payg_cents(balance, rate, 50);
		if (owed == 0)
			continue;
		if ((owed - 1) * rate >= -balance || owed * rate < -balance)
			why = "a collection not the debt rounded up to the cent";
		int64_t amount = owed, attempts = 0;
		int decided = (int)rnd(4) == 0;
		for (int step = 0; step < 6 && why == NULL; step++) {
			balance += rnd(3) == 0 ? rnd(30000000) : 0;	/* a grant, a dispute won meanwhile */
			int64_t now_owed = money_rule_payg_cents(balance, rate, 50);
			enum payg_send d = money_rule_payg_send(now_owed, amount, attempts, decided);
			if (d == PAYG_END) {
				ended++;
				if (now_owed != 0)
					why = "a collection ended while a debt was owed";
				break;
			}
			if (d == PAYG_LOWER) {
				lowered++;
				amount = now_owed;
			}
			if (attempts == 0 && !decided && amount > now_owed)
				why = "a try never sent asks more than is owed";
			sends++;
			attempts += rnd(2);	/* sent, or its answer lost */
		}
	}
	ok(why == NULL, "2,000 random debts: %d sends, %d lowered, %d ended: %s", sends, lowered, ended,
	   why != NULL ? why : "each asks the debt rounded up, never more than owed before it is sent");
	ok(lowered > 50 && ended > 50, "the sequences lower and end collections");
}

/* An operator's debit: never past what is available, the balance moved by
 * exactly the amount otherwise; and over random accounts, the balance
 * after a debit never falls below what the overdraft allows. */
static void debits(void)
{
	struct debit_effect e;
	money_rule_debit(100, 100, 100, &e);
	ok(!e.refused && e.balance_after == 0, "a debit of all that is available leaves 0");
	money_rule_debit(100, 100, 101, &e);
	ok(e.refused && e.balance_after == 100, "a micro past what is available: refused, the balance unchanged");
	money_rule_debit(100, 40, 50, &e);
	ok(e.refused, "what is held (reserved) is not available to a debit");
	money_rule_debit(-20, 30, 30, &e);
	ok(!e.refused && e.balance_after == -50, "an overdraft's room is available: the balance goes below 0");
	money_rule_debit(0, -5, 1, &e);
	ok(e.refused, "an account past its overdraft (available < 0) takes no debit");
	money_rule_debit(-LIMIT_BALANCE_MICROS_MAX + 5, INT64_MAX, 10, &e);
	ok(!e.refused && e.out_of_range && e.balance_after == -LIMIT_BALANCE_MICROS_MAX + 5,
	   "a debit past the money range (available clamped): out of range, not refused for funds, nothing moves");
	money_rule_debit(LIMIT_BALANCE_MICROS_MAX, INT64_MAX, 1, &e);
	ok(!e.refused && !e.out_of_range && e.balance_after == LIMIT_BALANCE_MICROS_MAX - 1,
	   "an account at the top of the range with an available clamped to INT64_MAX is debited");
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		int64_t overdraft = rnd(1000), reserved = rnd(1000), balance = rnd(3000) - 1000 - overdraft;
		int64_t available = balance - reserved + overdraft, amount = 1 + rnd(3000);
		money_rule_debit(balance, available, amount, &e);
		if (e.refused != (amount > available) || e.out_of_range || (!e.refused && e.balance_after != balance - amount) ||
		    (!e.refused && e.balance_after - reserved < -overdraft))
			bad++;
	}
	ok(bad == 0, "20,000 random debits: refused exactly past what is available, never below the overdraft (%d wrong)", bad);
}

/* A month's and a day's counters: kept within their period, started
 * again at 0 in another (a clock set back too). */
static void rolls(void)
{
	struct roll_effect e;
	money_rule_roll(202611, 500, 202611, &e);
	ok(!e.rolled && e.key == 202611 && e.spent == 500, "the same month keeps its spend");
	money_rule_roll(202611, 500, 202612, &e);
	ok(e.rolled && e.key == 202612 && e.spent == 0, "a new month starts at 0");
	money_rule_roll(202612, 500, 202611, &e);
	ok(e.rolled && e.key == 202611 && e.spent == 0, "a clock set back: the counter is the period's it names");
	money_rule_roll(0, 0, 20418, &e);
	ok(e.rolled && e.key == 20418 && e.spent == 0, "a day never counted starts at 0");
}

int main(void)
{
	by_hand();
	debits();
	rolls();
	random_sequences();
	periods_by_hand();
	period_sequences();
	promo_codes();
	recharges();
	hold_expiries();
	collections();
	return done_testing();
}
