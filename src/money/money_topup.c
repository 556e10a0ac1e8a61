/* money_topup.c: the rule of a Checkout top-up's credit (see
 * money_topup.h). Pure: the asserts are the rule's own checks. */
#include "money_topup.h"
#include "limits.h"
#include <assert.h>
#include <stddef.h>
#include <string.h>

int64_t money_topup_micros(int64_t cents, int64_t rate)
{
	assert(rate > 0);	/* config: 1 at least */
	int64_t micros = cents <= 0 ? -1 : cents > LIMIT_AMOUNT_MICROS_MAX / rate ? LIMIT_AMOUNT_MICROS_MAX + 1 : cents * rate;
	assert(micros == -1 || micros > 0);
	assert(micros <= LIMIT_AMOUNT_MICROS_MAX + 1);
	return micros;
}

/* a and b the same but for ASCII case (currency codes): the C library's
 * strcasecmp follows the locale. */
static int same_ascii(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
		char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
		if (x != y)
			return 0;
	}
	return *a == *b;
}

/* The fields the event disagrees on; payment_status only when checked. */
static unsigned disagreements(const struct money_topup_case *c, int check_paid)
{
	unsigned f = 0;
	if (c->ev_metadata_type[0] != '\0' && strcmp(c->ev_metadata_type, "credit_topup") != 0)
		f |= MONEY_TOPUP_METADATA_TYPE;
	if (c->ev_mode[0] != '\0' && strcmp(c->ev_mode, "payment") != 0)
		f |= MONEY_TOPUP_MODE;
	if (strcmp(c->ev_account, c->account) != 0)
		f |= MONEY_TOPUP_ACCOUNT;
	if (c->ev_amount_cents != c->amount_cents)
		f |= MONEY_TOPUP_AMOUNT_CENTS;
	if (!same_ascii(c->ev_currency, c->currency))
		f |= MONEY_TOPUP_CURRENCY;
	if (check_paid && strcmp(c->ev_payment_status, "paid") != 0)
		f |= MONEY_TOPUP_PAYMENT_STATUS;
	return f;
}

void money_topup_credit(const struct money_topup_case *c, struct money_topup_effect *e)
{
	assert(c != NULL && e != NULL);
	assert(c->account != NULL && c->currency != NULL);
	assert(c->ev_account != NULL && c->ev_metadata_type != NULL && c->ev_mode != NULL);
	assert(c->ev_currency != NULL && c->ev_payment_status != NULL);
	assert(c->rate > 0);
	assert(c->debt >= 0);
	assert(c->debt == 0 || c->balance < 0);	/* a debt row owes only while the balance is below 0 */
	memset(e, 0, sizeof(*e));
	int awaiting = c->completed && strcmp(c->ev_payment_status, "unpaid") == 0;
	if (c->credited) {
		e->outcome = MONEY_TOPUP_DUPLICATE;
		return;
	}
	e->fields = disagreements(c, !awaiting);
	if (e->fields != 0) {
		e->outcome = MONEY_TOPUP_MISMATCH;
		return;
	}
	if (awaiting) {
		e->outcome = MONEY_TOPUP_AWAITING;
		return;
	}
	/* The credit quoted when the top-up started, whatever the rate is
	 * now (docs/decisions.md, "A top-up credits its quote"); a row made
	 * before the quote was kept (028) gets amount_cents at today's rate. Only a rate raised since such an old row began
	 * takes it past the largest grant: the record no longer fits, a
	 * mismatch like any other. */
	e->micros = c->quoted_micros >= 0 ? c->quoted_micros : money_topup_micros(c->amount_cents, c->rate);
	if (e->micros <= 0 || e->micros > LIMIT_AMOUNT_MICROS_MAX) {
		e->micros = 0;
		e->outcome = MONEY_TOPUP_MISMATCH;
		e->fields = MONEY_TOPUP_AMOUNT_CENTS;
		return;
	}
	if (money_rule_grant(c->balance, c->debt, e->micros, &e->grant) != 0) {
		e->micros = 0;
		e->outcome = MONEY_TOPUP_BALANCE_CAP;
		return;
	}
	e->outcome = MONEY_TOPUP_CREDIT;
	e->late = c->expired;
	/* The credit is whole: what the debt did not take is the grant's. */
	assert(e->grant.repay + e->grant.remaining == e->micros);
	assert(e->grant.repay <= c->debt);
	assert(e->grant.balance_after == c->balance + e->micros);
}
