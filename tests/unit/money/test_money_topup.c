/* test_money_topup.c: a Checkout top-up's credit (money_topup.h),
 * without a database: credited once (a record credited already repeats
 * nothing), the quote kept over today's rate, an old row at today's rate,
 * a quote past the largest grant a mismatch, each field the event may
 * disagree on, a completed unpaid session waiting (and its other fields
 * still checked), a late payment of an expired record, the debt repaid
 * first, the balance's range refused. Then random records and events,
 * the decision checked against a model of the rule kept apart. */
#include "money_topup.h"
#include "limits.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

static struct money_topup_case base(void)
{
	struct money_topup_case c = {.credited = 0, .expired = 0, .account = "acct_1", .amount_cents = 1000,
				     .currency = "usd", .quoted_micros = 10000000, .rate = 10000, .balance = 0,
				     .debt = 0, .completed = 1, .ev_account = "acct_1",
				     .ev_metadata_type = "credit_topup", .ev_mode = "payment", .ev_currency = "USD",
				     .ev_payment_status = "paid", .ev_amount_cents = 1000};
	return c;
}

static void credits(void)
{
	struct money_topup_effect e;
	struct money_topup_case c = base();
	money_topup_credit(&c, &e);
	is_int(e.outcome, MONEY_TOPUP_CREDIT, "an agreeing paid event credits");
	is_int(e.micros, 10000000, "the quote (currency compared without case)");
	is_int(e.grant.remaining, 10000000, "no debt: the grant is the credit whole");
	is_int(e.grant.balance_after, 10000000, "the balance after");
	ok(!e.late, "not late");

	c.credited = 1;
	money_topup_credit(&c, &e);
	is_int(e.outcome, MONEY_TOPUP_DUPLICATE, "credited already: a duplicate, nothing moves");
	is_int(e.micros, 0, "... and nothing is credited");
	c.ev_amount_cents = 5;
	money_topup_credit(&c, &e);
	is_int(e.outcome, MONEY_TOPUP_DUPLICATE, "credited already: a duplicate even when the event disagrees");

	c = base();
	c.rate = 20000;
	money_topup_credit(&c, &e);
	is_int(e.micros, 10000000, "the quote, whatever the rate is now");
	c.quoted_micros = -1;
	money_topup_credit(&c, &e);
	is_int(e.micros, 20000000, "a row made before quotes: amount_cents at today's rate");
	c.rate = LIMIT_AMOUNT_MICROS_MAX / 100;
	money_topup_credit(&c, &e);
	is_int(e.outcome, MONEY_TOPUP_MISMATCH, "an old row past the largest grant at today's rate: a mismatch");
	is_int(e.fields, MONEY_TOPUP_AMOUNT_CENTS, "... of amount_cents");

	c = base();
	c.expired = 1;
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_CREDIT && e.late, "an expired record paid late credits, late");

	c = base();
	c.balance = -3000000;
	c.debt = 3000000;
	money_topup_credit(&c, &e);
	is_int(e.grant.repay, 3000000, "the debt repaid first");
	is_int(e.grant.remaining, 7000000, "the rest is the grant's");
	is_int(e.grant.balance_after, 7000000, "the balance after");
	c.balance = -30000000;
	c.debt = 30000000;
	money_topup_credit(&c, &e);
	ok(e.grant.repay == 10000000 && e.grant.remaining == 0, "a debt larger than the credit takes it all");

	c = base();
	c.balance = LIMIT_BALANCE_MICROS_MAX - 5;
	money_topup_credit(&c, &e);
	is_int(e.outcome, MONEY_TOPUP_BALANCE_CAP, "a balance that would leave the range: refused");
}

static void disagreements(void)
{
	struct money_topup_effect e;
	struct money_topup_case c;
	c = base();
	c.ev_metadata_type = "other";
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_METADATA_TYPE, "metadata.type");
	c.ev_metadata_type = "";
	money_topup_credit(&c, &e);
	is_int(e.outcome, MONEY_TOPUP_CREDIT, "no metadata.type: not a disagreement");
	c.ev_mode = "subscription";
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_MODE, "mode");
	c = base();
	c.ev_account = "acct_2";
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_ACCOUNT, "another account");
	c = base();
	c.ev_amount_cents = -1;
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_AMOUNT_CENTS, "no amount_cents");
	c = base();
	c.ev_currency = "eur";
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_CURRENCY, "another currency");
	c = base();
	c.ev_payment_status = "no_payment_required";
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_PAYMENT_STATUS, "not paid");
	c.ev_account = "x";
	c.ev_currency = "eur";
	money_topup_credit(&c, &e);
	is_int(e.fields, MONEY_TOPUP_ACCOUNT | MONEY_TOPUP_CURRENCY | MONEY_TOPUP_PAYMENT_STATUS,
	       "every field that disagrees is named");
	is_int(e.micros, 0, "a mismatch credits nothing");
}

static void awaiting(void)
{
	struct money_topup_effect e;
	struct money_topup_case c = base();
	c.ev_payment_status = "unpaid";
	money_topup_credit(&c, &e);
	is_int(e.outcome, MONEY_TOPUP_AWAITING, "a completed unpaid session waits for its async payment");
	is_int(e.micros, 0, "... crediting nothing");
	c.ev_amount_cents = 1;
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_AMOUNT_CENTS,
	   "unpaid but disagreeing: a mismatch (payment_status not named)");
	c = base();
	c.completed = 0;
	c.ev_payment_status = "unpaid";
	money_topup_credit(&c, &e);
	ok(e.outcome == MONEY_TOPUP_MISMATCH && e.fields == MONEY_TOPUP_PAYMENT_STATUS,
	   "async_payment_succeeded unpaid: a mismatch of payment_status");
	is_int(money_topup_micros(0, 5), -1, "no cents: -1");
	is_int(money_topup_micros(7, 3), 21, "cents x rate");
	is_int(money_topup_micros(LIMIT_AMOUNT_MICROS_MAX, 2), LIMIT_AMOUNT_MICROS_MAX + 1, "past the largest grant");
}

/* The rule, written apart from money_topup.c's. */
static void model(const struct money_topup_case *c, struct money_topup_effect *m)
{
	memset(m, 0, sizeof(*m));
	int unpaid = c->completed && strcmp(c->ev_payment_status, "unpaid") == 0;
	if (c->credited) {
		m->outcome = MONEY_TOPUP_DUPLICATE;
		return;
	}
	if (c->ev_metadata_type[0] && strcmp(c->ev_metadata_type, "credit_topup"))
		m->fields |= MONEY_TOPUP_METADATA_TYPE;
	if (c->ev_mode[0] && strcmp(c->ev_mode, "payment"))
		m->fields |= MONEY_TOPUP_MODE;
	if (strcmp(c->ev_account, c->account))
		m->fields |= MONEY_TOPUP_ACCOUNT;
	if (c->ev_amount_cents != c->amount_cents)
		m->fields |= MONEY_TOPUP_AMOUNT_CENTS;
	if (strcasecmp(c->ev_currency, c->currency))
		m->fields |= MONEY_TOPUP_CURRENCY;
	if (!unpaid && strcmp(c->ev_payment_status, "paid"))
		m->fields |= MONEY_TOPUP_PAYMENT_STATUS;
	m->outcome = m->fields ? MONEY_TOPUP_MISMATCH : unpaid ? MONEY_TOPUP_AWAITING : MONEY_TOPUP_CREDIT;
	if (m->outcome != MONEY_TOPUP_CREDIT)
		return;
	__int128 micros = c->quoted_micros >= 0 ? c->quoted_micros : (__int128)c->amount_cents * c->rate;
	if (micros > LIMIT_AMOUNT_MICROS_MAX) {
		m->outcome = MONEY_TOPUP_MISMATCH;
		m->fields = MONEY_TOPUP_AMOUNT_CENTS;
		return;
	}
	if ((__int128)c->balance + micros > LIMIT_BALANCE_MICROS_MAX) {
		m->outcome = MONEY_TOPUP_BALANCE_CAP;
		return;
	}
	m->micros = (int64_t)micros;
	m->grant.repay = c->debt < m->micros ? c->debt : m->micros;
	m->grant.remaining = m->micros - m->grant.repay;
	m->grant.balance_after = c->balance + m->micros;
	m->late = c->expired;
}

static void random_cases(void)
{
	static const char *const statuses[] = {"paid", "unpaid", "no_payment_required"};
	static const char *const types[] = {"credit_topup", "", "other"};
	static const char *const modes[] = {"payment", "", "setup"};
	static const char *const currencies[] = {"usd", "USD", "eur"};
	static const char *const accounts[] = {"acct_1", "acct_2"};
	int bad = 0;
	srand(64);
	for (int i = 0; i < 20000; i++) {
		struct money_topup_case c = base();
		struct money_topup_effect e, m;
		c.credited = rand() % 5 == 0;
		c.expired = rand() % 4 == 0;
		c.amount_cents = 1 + rand() % 3;
		c.ev_amount_cents = rand() % 6 == 0 ? -1 : 1 + rand() % 3;
		c.quoted_micros = rand() % 3 == 0 ? -1 : (int64_t)(rand() % 4) * LIMIT_AMOUNT_MICROS_MAX / 3 + 1;
		c.rate = rand() % 2 ? 10000 : LIMIT_AMOUNT_MICROS_MAX / 2;
		c.debt = rand() % 3 == 0 ? rand() % 50000000 : 0;
		c.balance = c.debt > 0 ? -c.debt : rand() % 3 == 0 ? LIMIT_BALANCE_MICROS_MAX - rand() % 1000 : rand() % 50000000;
		c.completed = rand() % 2;
		c.ev_payment_status = statuses[rand() % 3];
		c.ev_metadata_type = types[rand() % 3];
		c.ev_mode = modes[rand() % 3];
		c.ev_currency = currencies[rand() % 3];
		c.ev_account = accounts[rand() % 2];
		money_topup_credit(&c, &e);
		model(&c, &m);
		if (e.outcome != m.outcome || e.fields != m.fields || e.micros != m.micros ||
		    e.grant.repay != m.grant.repay || e.grant.remaining != m.grant.remaining ||
		    (m.outcome == MONEY_TOPUP_CREDIT && e.grant.balance_after != m.grant.balance_after) ||
		    e.late != m.late) {
			if (bad++ < 3)
				printf("# case %d: outcome %d (model %d), fields %u (%u), micros %lld (%lld)\n", i, e.outcome,
				     m.outcome, e.fields, m.fields, (long long)e.micros, (long long)m.micros);
		}
	}
	is_int(bad, 0, "20,000 random records and events decided as the model decides them");
}

int main(void)
{
	credits();
	disagreements();
	awaiting();
	random_cases();
	return done_testing();
}
