/* ledger_alerts.c: threshold alerts (see ledger_alerts.h and ledger.h's
 * "Threshold alerts"): read under the account's lock, decided by
 * money_alert.h, their states written beside the change (alerts are not
 * money), set whole and read back for the API. */
#include "ledger_alerts.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every read a decision rests on locks (reads the newest version): a plain
 * SELECT reads the transaction's snapshot, which may predate the account's
 * lock (a statement before it, e.g. the guard's read ordering its
 * accounts), and would miss the state the last holder of the lock wrote. */
#define ALERTS_SELECT "SELECT id, kind, threshold, member, fired_key FROM alerts WHERE account_id = ? ORDER BY pos, id"
static const char SQL_ALERTS[] = ALERTS_SELECT;
static const char SQL_ALERTS_LOCKED[] = ALERTS_SELECT " FOR UPDATE";
static const char SQL_ALERT_STATE[] = "UPDATE alerts SET fired_key = ? WHERE id = ?";
/* The plan period's grants (the credit, a rollover, an upgrade's
 * difference: ledger_periods.c), as the rows stand. */
static const char SQL_PLAN_GRANTS[] = "SELECT id, amount_micros, remaining_micros FROM grants "
				      "WHERE account_id = ? AND period_key = ? AND source = 'plan' FOR UPDATE";
static const char SQL_MEMBER_STATES[] = "SELECT am.alert_id, am.fired_key FROM alert_members am "
					"JOIN alerts al ON al.id = am.alert_id WHERE al.account_id = ? AND am.member = ? "
					"FOR UPDATE";
/* The member cap of the account's plan (the cap of a member with none of
 * its own): read here, as the guard's batch reads it only for some of
 * its operations. */
static const char SQL_PLAN_CAP[] = "SELECT pl.member_cap_micros FROM accounts a JOIN plans pl ON pl.name = a.plan "
				   "WHERE a.id = ?";
static const char SQL_MEMBER_FIRE[] = "INSERT INTO alert_members (alert_id, member, fired_key) VALUES (?, ?, ?) "
				      "ON DUPLICATE KEY UPDATE fired_key = VALUES(fired_key)";
static const char SQL_MEMBER_REARM[] = "DELETE FROM alert_members WHERE alert_id = ? AND member = ?";

enum cd_err ledger_alerts_read(struct store *lg, int64_t account_id, int lock, struct alert_set *set)
{
	int e, got;
	set->n = 0;
	struct dbstmt *s = store_exec(lg, lock ? SQL_ALERTS_LOCKED : SQL_ALERTS, &e, "i", account_id);
	if (s == NULL)
		return store_err(lg, e, "alerts read");
	while (set->n < LIMIT_ALERTS && (got = store_fetch(s)) == 1) {
		struct alert_row *r = &set->r[set->n];
		int kind = money_alert_kind_parse(store_str(s, 1));
		if (kind < 0)
			return CD_E_INTERNAL;
		r->id = store_i64(s, 0);
		r->kind = (enum money_alert_kind)kind;
		r->threshold = store_i64(s, 2);
		r->has_member = !store_null(s, 3);
		ledger_rows_copy_text(r->member, sizeof(r->member), store_str(s, 3));
		r->fired_key = store_i64(s, 4);
		set->n++;
	}
	return CD_OK;
}

enum cd_err ledger_alerts_plan(struct store *lg, const struct acct *a, const struct spend_grant *g, int ng,
			       int64_t *granted, int64_t *left)
{
	int e, got;
	*granted = *left = 0;
	if (a->plan_period <= 0)
		return CD_OK;
	struct dbstmt *s = store_exec(lg, SQL_PLAN_GRANTS, &e, "ii", a->id, a->plan_period);
	if (s == NULL)
		return store_err(lg, e, "plan grants read");
	while ((got = store_fetch(s)) == 1) {
		int64_t id = store_i64(s, 0), remaining = store_i64(s, 2);
		for (int k = 0; k < ng; k++)
			if (g[k].id == id)
				remaining = g[k].remaining;
		if (money_add(*granted, store_i64(s, 1), granted) != 0 || money_add(*left, remaining, left) != 0)
			return CD_E_INTERNAL;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

void ledger_alerts_figures(const struct acct *a, int64_t granted, int64_t left, struct money_alert_account *f)
{
	*f = (struct money_alert_account){.available = ledger_rows_acct_available(a), .month_spent = a->month_spent,
					  .monthly_limit = a->monthly_limit, .month_key = a->month_key,
					  .day_spent = a->day_spent, .daily_limit = a->daily_limit, .day_key = a->day_key,
					  .plan_granted = granted, .plan_left = left, .plan_period = a->plan_period};
}

json_t *ledger_alerts_event_data(const struct alert_row *r, const char *member, const struct money_alert_figure *f)
{
	return json_pack("{s:s, s:I, s:o, s:I, s:o}", "kind", money_alert_kind_name(r->kind),
			 money_alert_kind_pct(r->kind) ? "pct" : "micros", (json_int_t)r->threshold, "member",
			 member != NULL ? json_string(member) : json_null(), "value_micros", (json_int_t)f->value,
			 "limit_micros", f->limit >= 0 ? json_integer(f->limit) : json_null());
}

static enum cd_err tell(json_t *fired, const struct alert_row *r, const char *member, const struct money_alert_figure *f)
{
	json_t *data = ledger_alerts_event_data(r, member, f);
	return data != NULL && json_array_append_new(fired, data) == 0 ? CD_OK : CD_E_INTERNAL;
}

/* An account's alert (not member_cap_pct) after the change. */
static enum cd_err step_account(struct store *lg, struct alert_row *r, const struct money_alert_account *acc,
				json_t *fired)
{
	struct money_alert_figure f;
	int64_t key;
	money_alert_account_figure(r->kind, acc, &f);
	enum money_alert_step step = money_alert_decide(r->kind, r->threshold, r->fired_key, &f, &key);
	if (step == ALERT_STEP_KEEP)
		return CD_OK;
	enum cd_err rc = store_do(lg, SQL_ALERT_STATE, "alert state", "ii", key, r->id);
	if (rc != CD_OK)
		return rc;
	r->fired_key = key;
	return step == ALERT_STEP_FIRE ? tell(fired, r, NULL, &f) : CD_OK;
}

static int member_applies(const struct alert_row *r, const char *member)
{
	return r->kind == ALERT_MEMBER_CAP_PCT && (!r->has_member || strcmp(r->member, member) == 0);
}

/* A member's states of the account's member_cap_pct alerts, after the
 * change of its row m (plan_cap: its plan's member cap, -1: none). */
static enum cd_err step_member(struct store *lg, const struct acct *a, const struct alert_set *set,
			       const struct member_row *m, int64_t plan_cap, json_t *fired)
{
	int64_t keys[LIMIT_ALERTS] = {0};
	int e, got, any = 0;
	for (int i = 0; i < set->n; i++)
		any |= member_applies(&set->r[i], m->member);
	if (!any)
		return CD_OK;
	struct dbstmt *s = store_exec(lg, SQL_MEMBER_STATES, &e, "is", a->id, m->member);
	if (s == NULL)
		return store_err(lg, e, "alert member states");
	while ((got = store_fetch(s)) == 1)
		for (int i = 0; i < set->n; i++)
			if (set->r[i].id == store_i64(s, 0))
				keys[i] = store_i64(s, 1);
	if (got < 0)
		return CD_E_INTERNAL;
	struct money_alert_figure f;
	money_alert_member_figure(m->month_spent, m->cap, plan_cap, m->month_key, &f);
	for (int i = 0; i < set->n; i++) {
		int64_t key;
		if (!member_applies(&set->r[i], m->member))
			continue;
		enum money_alert_step step = money_alert_decide(ALERT_MEMBER_CAP_PCT, set->r[i].threshold, keys[i], &f, &key);
		enum cd_err rc = CD_OK;
		if (step == ALERT_STEP_FIRE)
			rc = store_do(lg, SQL_MEMBER_FIRE, "alert member fired", "isi", set->r[i].id, m->member, key);
		else if (step == ALERT_STEP_REARM)
			rc = store_do(lg, SQL_MEMBER_REARM, "alert member armed", "is", set->r[i].id, m->member);
		if (rc == CD_OK && step == ALERT_STEP_FIRE)
			rc = tell(fired, &set->r[i], m->member, &f);
		if (rc != CD_OK)
			return rc;
	}
	return CD_OK;
}

static enum cd_err plan_cap_read(struct store *lg, const struct acct *a, int64_t *cap)
{
	int e, got;
	*cap = -1;
	struct dbstmt *s = store_exec(lg, SQL_PLAN_CAP, &e, "i", a->id);
	if (s == NULL)
		return store_err(lg, e, "plan member cap");
	if ((got = store_fetch(s)) == 1)
		*cap = DB_I64_OR_NONE(s, 0);
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_alerts_notice(struct store *lg, struct acct *a, const struct member_row *const *m, int nm,
				 const struct spend_grant *g, int ng, json_t *fired)
{
	struct alert_set set;
	struct money_alert_account acc;
	int64_t granted = 0, left = 0, plan_cap = -1;
	int plan = 0, members = 0;
	assert(a->alert_count > 0);
	enum cd_err rc = ledger_rows_acct_check_locked(lg, a, "an alert's read");
	rc = rc == CD_OK ? ledger_alerts_read(lg, a->id, 1, &set) : rc;
	for (int i = 0; rc == CD_OK && i < set.n; i++) {
		plan |= set.r[i].kind == ALERT_PLAN_CREDITS_USED_PCT;
		members |= set.r[i].kind == ALERT_MEMBER_CAP_PCT && nm > 0;
	}
	if (rc == CD_OK && plan)
		rc = ledger_alerts_plan(lg, a, g, ng, &granted, &left);
	if (rc == CD_OK && members)
		rc = plan_cap_read(lg, a, &plan_cap);
	ledger_alerts_figures(a, granted, left, &acc);
	for (int i = 0; rc == CD_OK && i < set.n; i++)
		if (set.r[i].kind != ALERT_MEMBER_CAP_PCT)
			rc = step_account(lg, &set.r[i], &acc, fired);
	for (int k = 0; rc == CD_OK && k < nm; k++)
		if (m[k]->found)
			rc = step_member(lg, a, &set, m[k], plan_cap, fired);
	return rc;
}

enum cd_err ledger_alerts_member(struct store *lg, struct acct *a, const struct member_row *m, int64_t plan_cap,
				 json_t *fired)
{
	struct alert_set set;
	assert(a->alert_count > 0);
	enum cd_err rc = ledger_rows_acct_check_locked(lg, a, "an alert's read");
	rc = rc == CD_OK ? ledger_alerts_read(lg, a->id, 1, &set) : rc;
	return rc == CD_OK && m->found ? step_member(lg, a, &set, m, plan_cap, fired) : rc;
}

enum cd_err ledger_alerts_member_rearm(struct store *lg, const struct acct *a, const char *member)
{
	static const char sql_named[] = "UPDATE alerts SET fired_key = 0 WHERE account_id = ? AND member = ? "
					 "AND kind = 'member_cap_pct'";
	static const char sql_every[] = "DELETE m FROM alert_members m JOIN alerts l ON l.id = m.alert_id "
					 "WHERE l.account_id = ? AND m.member = ?";
	assert(a->locked_tx == lg->tx_serial);
	if (a->alert_count <= 0)
		return CD_OK;
	enum cd_err rc = store_do(lg, sql_named, "alerts re-armed", "is", a->id, member);
	return rc == CD_OK ? store_do(lg, sql_every, "member alerts re-armed", "is", a->id, member) : rc;
}
