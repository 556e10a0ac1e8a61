/* ledger_periods.c: a plan's credits per period (docs/api.md, "Plan credits per period").
 *
 * Every path runs on a locked account row, so they already take turns;
 * the primary key of plan_periods (account, period) is what makes "once"
 * hold even so: a second credit for a period could only be an INSERT of
 * a row that exists, which fails the transaction instead of granting.
 *
 * A period's grants (the credit, the rollover, an upgrade's difference)
 * carry its key, are of source plan at priority 10 (spent before
 * top-ups), and expire when the period ends. Renewal runs before the
 * account's expired grants are written off (ledger_due_apply), so the rollover
 * reads what the last period left. */
#include "ledger_periods.h"
#include "ledger_events.h"
#include "money_rule.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char SQL_TERMS[] = "SELECT credits_micros, rollover, rollover_cap_micros FROM plans WHERE name = ?";
static const char SQL_PERIOD_GET[] = "SELECT credits_micros, plan FROM plan_periods WHERE account_id = ? "
				     "AND period_key = ? FOR UPDATE";
static const char SQL_PERIOD_ADD[] = "INSERT INTO plan_periods (account_id, period_key, plan, credits_micros, "
				     "rollover_micros, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_PERIOD_RAISE_BY[] = "UPDATE plan_periods SET plan = ?, credits_micros = credits_micros + ?, "
					  "updated_at = ? WHERE account_id = ? AND period_key = ?";
static const char SQL_LEFTOVER[] = "SELECT COALESCE(SUM(remaining_micros), 0) FROM grants "
				   "WHERE account_id = ? AND period_key = ? AND remaining_micros > 0";
static const char SQL_GRANT_PERIOD[] = "UPDATE grants SET period_key = ? WHERE id = ?";
static const char SQL_ACCT_PERIOD[] = "UPDATE accounts SET plan_period = ? WHERE id = ?";
static const char SQL_PLAN_OF[] = "SELECT name, 0 AS by_name FROM plans "
				  "WHERE JSON_CONTAINS(stripe_price_ids, JSON_QUOTE(?)) UNION ALL "
				  "SELECT name, 1 FROM plans WHERE name = ? ORDER BY by_name, name LIMIT 1";

struct terms {
	int64_t credits;
	enum rollover_rule rollover;	/* plans.rollover: none|full|capped */
	int64_t cap;			/* -1: none */
};

/* 1 and the terms when the plan is catalogued, 0 when not. */
static enum cd_err terms_read(struct store *db, const char *plan, struct terms *t, int *found)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_TERMS, &e, "s", plan);
	if (s == NULL)
		return store_err(db, e, "plan terms");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	*found = got == 1;
	if (*found) {
		const char *rule = store_str(s, 1);
		t->credits = store_i64(s, 0);
		t->rollover = strcmp(rule, "full") == 0 ? ROLLOVER_FULL
			      : strcmp(rule, "capped") == 0 ? ROLLOVER_CAPPED : ROLLOVER_NONE;
		t->cap = DB_I64_OR_NONE(s, 2);
		if (t->credits < 0) {
			log_error("plan '%s': credits_micros %" PRId64 " out of range", plan, t->credits);
			return CD_E_INTERNAL;
		}
	}
	return CD_OK;
}

void ledger_periods_sweep_due(const struct store *db, struct acct *a)
{
	int64_t start, end;
	if (a->plan[0] == '\0')
		return;
	timefmt_month_bounds(db->now, &start, &end);
	if (a->sweep_due_at < 0 || end < a->sweep_due_at)
		a->sweep_due_at = end;
	/* On a plan: swept by its period's end at the latest. */
	assert(a->sweep_due_at >= 0);
	assert(a->sweep_due_at <= end);
}

/* One grant of the period: source plan, its key, expiring at its end. An
 * amount past the balance cap is cut to fit (logged): a renewal must not
 * fail every request of the account. */
static enum cd_err period_grant(struct store *db, struct acct *a, int64_t amount, int64_t key, int64_t end,
				const char *reference, const char *description)
{
	int64_t grant_id, journal_id, fits = money_rule_fit(a->balance, amount, LIMIT_BALANCE_MICROS_MAX);
	if (fits < amount)
		log_warn("account %s: plan credit cut to the balance cap", a->ext_id);
	amount = fits;
	if (amount <= 0)
		return CD_OK;
	enum cd_err rc = ledger_rows_add_grant(db, a, "plan", amount, GRANT_PRIORITY_PLAN, end, reference, description,
					  &grant_id, &journal_id);
	if (rc == CD_OK)
		rc = store_do(db, SQL_GRANT_PERIOD, "plan grant period", "ii", key, grant_id);
	return rc;
}

/* The period's row (locked) and, for a period not credited yet, what
 * the period before's grants left: the rows money_rule_period decides
 * over. */
static enum cd_err period_read(struct store *db, const struct acct *a, const char *plan, int64_t key,
			       int64_t before, struct period_case *c)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_PERIOD_GET, &e, "ii", a->id, key);
	if (s == NULL)
		return store_err(db, e, "plan period");
	int row = store_fetch(s);
	if (row < 0)
		return CD_E_INTERNAL;
	c->has_row = row == 1;
	if (c->has_row) {
		c->row_credits = store_i64(s, 0);
		c->same_plan = strcmp(store_str(s, 1), plan) == 0;
		if (c->row_credits < 0) {
			log_error("account %s: period %" PRId64 " credited %" PRId64 ": out of range", a->ext_id, key,
				  c->row_credits);
			return CD_E_INTERNAL;
		}
		return CD_OK;
	}
	if ((s = store_exec(db, SQL_LEFTOVER, &e, "ii", a->id, before)) == NULL)
		return store_err(db, e, "plan leftover");
	if ((row = store_fetch(s)) < 0)
		return CD_E_INTERNAL;
	c->left = row == 1 ? store_i64(s, 0) : 0;
	if (c->left < 0) {
		log_error("account %s: period %" PRId64 " left %" PRId64 ": out of range", a->ext_id, before, c->left);
		return CD_E_INTERNAL;
	}
	return CD_OK;
}

/* Writes what money_rule_period decided for the period key of at. */
static enum cd_err period_write(struct store *db, struct acct *a, const char *plan, const struct period_effect *d,
				int64_t at)
{
	int64_t start, end, key = timefmt_month_key(at);
	char ref[LEDGER_NAME_MAX + 32];
	enum cd_err rc;
	timefmt_month_bounds(at, &start, &end);
	if (d->raise) {
		/* the row's credits raised by the difference */
		snprintf(ref, sizeof(ref), "%s:%" PRId64 ":upgrade", plan, key);
		rc = store_do(db, SQL_PERIOD_RAISE_BY, "plan period raise", "siiii", plan, d->credit, db->now, a->id,
				  key);
		return rc == CD_OK ? period_grant(db, a, d->credit, key, end, ref, "plan upgrade for the rest of the period")
				   : rc;
	}
	rc = store_do(db, SQL_PERIOD_ADD, "plan period", "iisiiii", a->id, key, plan, d->credit, d->carried, db->now,
			  db->now);
	snprintf(ref, sizeof(ref), "%s:%" PRId64, plan, key);
	if (rc == CD_OK)
		rc = period_grant(db, a, d->credit, key, end, ref, "plan credit for the period");
	snprintf(ref, sizeof(ref), PERIOD_ROLLOVER_REF "%" PRId64, timefmt_month_key(start - 1));
	if (rc == CD_OK)
		rc = period_grant(db, a, d->carried, key, end, ref, "plan credit rolled over");
	if (rc == CD_OK)
		rc = ledger_events_add(db, a, EVENT_PLAN_RENEWED, json_pack("{s:s, s:o, s:o, s:I, s:I}", "plan", plan,
			       "period_start", ledger_rows_json_time(start), "period_end", ledger_rows_json_time(end),
			       "credits_micros", (json_int_t)d->credit, "rollover_micros", (json_int_t)d->carried));
	return rc;
}

enum cd_err ledger_periods_credit(struct store *db, struct acct *a, const char *plan, int64_t at, enum period_why why,
			  int64_t *granted)
{
	struct terms t;
	struct period_effect d = {0, 0, 0, 0};
	int found = 0;
	int64_t start, end, key = timefmt_month_key(at);
	int64_t this_month = db->now_month;
	char jkey[JOURNAL_KEY_BYTES], keytext[24];
	assert(plan != NULL);
	/* Credited only on an account row locked in this transaction. */
	assert(a->locked_tx == db->tx_serial);
	enum cd_err rc = terms_read(db, plan, &t, &found);
	if (granted != NULL)
		*granted = 0;
	if (rc != CD_OK)
		return rc;
	timefmt_month_bounds(at, &start, &end);
	snprintf(keytext, sizeof(keytext), "%" PRId64, key);
	const char *outer = ledger_rows_journal_key_push(db, jkey, "period", keytext, why == PERIOD_RENEWAL);
	const char *actor = db->actor;
	if (why == PERIOD_RENEWAL)
		db->actor = NULL;	/* a month's renewal is creditd's, whichever request ran it */
	if (found) {
		struct period_case c = {.credits = t.credits, .rollover = t.rollover, .cap = t.cap};
		rc = period_read(db, a, plan, key, timefmt_month_key(start - 1), &c);
		if (rc == CD_OK)
			money_rule_period(&c, &d);
		if (rc == CD_OK && (d.open || d.raise))
			rc = period_write(db, a, plan, &d, at);
	}
	db->journal_key = outer;
	db->actor = actor;
	/* Settled for this month, with or without a credit: an uncatalogued
	 * name (a Stripe price in no plan) is not looked up again. */
	if (rc == CD_OK && key == this_month && a->plan_period != key) {
		rc = store_do(db, SQL_ACCT_PERIOD, "account period", "ii", key, a->id);
		if (rc == CD_OK)
			a->plan_period = key;
		ledger_periods_sweep_due(db, a);
	}
	if (rc == CD_OK && granted != NULL)
		*granted = d.credit + d.carried;
	/* This month's credit is settled, once; what it granted is no debit. */
	assert(rc != CD_OK || key != this_month || a->plan_period == key);
	assert(rc != CD_OK || granted == NULL || *granted >= 0);
	return rc;
}

enum cd_err ledger_periods_plan_of(struct store *db, const char *label, char *name)
{
	int e, got;
	assert(name != NULL);
	name[0] = '\0';
	if (label == NULL || label[0] == '\0')
		return CD_OK;
	struct dbstmt *s = store_exec(db, SQL_PLAN_OF, &e, "ss", label, label);
	if (s == NULL)
		return store_err(db, e, "plan of label");
	if ((got = store_fetch(s)) < 0)
		return CD_E_INTERNAL;
	if (got == 1)
		ledger_rows_copy_text(name, LEDGER_NAME_MAX + 1, store_str(s, 0));
	assert(strlen(name) <= LEDGER_NAME_MAX);
	return CD_OK;
}
