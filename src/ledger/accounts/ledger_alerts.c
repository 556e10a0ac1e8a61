/* ledger_alerts.c: threshold alerts (see ledger_alerts.h and ledger.h's
 * "Threshold alerts"): read under the account's lock, decided by
 * money_alert.h, their states written by the one writer with the
 * change (sql/059's lists), set whole and read back for the API. */
#include "ledger_alerts.h"
#include "jsonw.h"
#include "store_write.h"
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
/* The plan period's grants (the credit, a rollover, an upgrade's
 * difference: ledger_periods.c), as the rows stand. */
static const char SQL_PLAN_GRANTS[] = "SELECT id, amount_micros, remaining_micros FROM grants "
				      "WHERE account_id = ? AND period_key = ? AND source = 'plan' FOR UPDATE";
static const char SQL_MEMBER_STATES[] = "SELECT am.alert_id, am.fired_key FROM alert_members am "
					"JOIN alerts al ON al.id = am.alert_id WHERE al.account_id = ? AND am.member = ? "
					"FOR UPDATE";

enum cd_err ledger_alerts_read(struct store *db, int64_t account_id, int lock, struct alert_set *set)
{
	int e, got;
	set->n = 0;
	struct dbstmt *s = store_exec(db, lock ? SQL_ALERTS_LOCKED : SQL_ALERTS, &e, "i", account_id);
	if (s == NULL)
		return store_err(db, e, "alerts read");
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

enum cd_err ledger_alerts_plan(struct store *db, const struct acct *a, const struct spend_grant *g, int ng,
			       int64_t *granted, int64_t *left)
{
	int e, got;
	*granted = *left = 0;
	if (a->plan_period <= 0)
		return CD_OK;
	struct dbstmt *s = store_exec(db, SQL_PLAN_GRANTS, &e, "ii", a->id, a->plan_period);
	if (s == NULL)
		return store_err(db, e, "plan grants read");
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

/* Whether member_cap_pct alert r applies to member name. */
static int member_applies(const struct alert_row *r, const char *member)
{
	return r->kind == ALERT_MEMBER_CAP_PCT && (!r->has_member || strcmp(r->member, member) == 0);
}

/* Member m's states (locked) of set's member_cap_pct alerts that apply
 * to it, into keys[k * set->n + i] (0: armed, no row); nothing read
 * when none applies. */
static enum cd_err member_states(struct store *db, const struct acct *a, const struct alert_set *set,
				 const struct member_row *m, int k, int64_t *keys)
{
	int e, got, any = 0;
	for (int i = 0; i < set->n; i++)
		any |= member_applies(&set->r[i], m->member);
	if (!any)
		return CD_OK;
	struct dbstmt *s = store_exec(db, SQL_MEMBER_STATES, &e, "is", a->id, m->member);
	if (s == NULL)
		return store_err(db, e, "alert member states");
	while ((got = store_fetch(s)) == 1)
		for (int i = 0; i < set->n; i++)
			if (set->r[i].id == store_i64(s, 0))
				keys[k * set->n + i] = store_i64(s, 1);
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

/* The states that moved, as the one writer's lists (sql/059's) in lw. */
static void add_states(struct store_write *lw, const struct alert_set *set, const struct member_row *const *m,
		       const struct money_alert_change *c, int n)
{
	static const char *const lists[] = {"alerts_set", "alert_members_set", "alert_members_del"};
	for (int l = 0; l < 3; l++) {
		struct jw *w = store_write_list(lw, lists[l]);
		for (int i = 0; i < n; i++) {
			const struct alert_row *r = &set->r[c[i].alert];
			if (l == 0 && c[i].member < 0) {
				jsonw_open(w, '[');
				ALERTS_SET_TABLE(COL_WRITE, r->id, c[i].key)
				jsonw_close(w, ']');
			} else if (l == 1 && c[i].member >= 0 && c[i].step == ALERT_STEP_FIRE) {
				jsonw_open(w, '[');
				ALERT_MEMBERS_SET_TABLE(COL_WRITE, r->id, m[c[i].member]->member, c[i].key)
				jsonw_close(w, ']');
			} else if (l == 2 && c[i].member >= 0 && c[i].step == ALERT_STEP_REARM) {
				jsonw_open(w, '[');
				ALERT_MEMBERS_DEL_TABLE(COL_WRITE, r->id, m[c[i].member]->member)
				jsonw_close(w, ']');
			}
		}
		jsonw_close(w, ']');
	}
}

/* The states that moved: added to into (a write its caller runs), else
 * written by a write of their own. */
static enum cd_err write_states(struct store *db, struct store_write *into, const struct alert_set *set,
				const struct member_row *const *m, const struct money_alert_change *c, int n)
{
	struct store_write lw;
	if (into != NULL) {
		add_states(into, set, m, c, n);
		return CD_OK;
	}
	store_write_begin(&lw);
	add_states(&lw, set, m, c, n);
	return store_write_run(db, &lw, "alert states", NULL, NULL);
}

/* Set's alerts decided (money_alert_changes): on the figures acc, or
 * (acc NULL) the member_cap_pct alerts alone; for member m (a found row,
 * its plan's member cap plan_cap; NULL: none). The states that moved
 * are written (added to into when it is not NULL), the data of each
 * that fired appended to fired. */
static enum cd_err decide(struct store *db, struct store_write *into, const struct acct *a, struct alert_set *set,
			  const struct money_alert_account *acc, const struct member_row *m, int64_t plan_cap,
			  json_t *fired)
{
	struct money_alert_rule rules[LIMIT_ALERTS];
	struct money_alert_change changes[2 * LIMIT_ALERTS];
	int64_t keys[LIMIT_ALERTS] = {0};
	int at[LIMIT_ALERTS], n = 0;
	for (int i = 0; i < set->n; i++) {
		const struct alert_row *r = &set->r[i];
		if (acc == NULL && r->kind != ALERT_MEMBER_CAP_PCT)
			continue;
		rules[n] = (struct money_alert_rule){r->kind, r->threshold, r->fired_key, r->has_member ? r->member : NULL};
		at[n++] = i;
	}
	struct alert_set mine = {.n = n};
	for (int j = 0; j < n; j++)
		mine.r[j] = set->r[at[j]];
	enum cd_err rc = m != NULL ? member_states(db, a, &mine, m, 0, keys) : CD_OK;
	const struct money_alert_member member = {m != NULL ? m->member : "", m != NULL ? m->month_spent : 0,
						  m != NULL ? m->cap : -1, m != NULL ? m->month_key : 0};
	struct money_alert_input in = {.alerts = rules, .nalerts = n, .members = &member, .nmembers = m != NULL,
				       .member_keys = keys, .plan_cap = plan_cap};
	if (acc != NULL)
		in.figures = *acc;
	int got = rc == CD_OK ? money_alert_changes(&in, changes, 2 * LIMIT_ALERTS) : 0;
	rc = rc == CD_OK && got < 0 ? CD_E_INTERNAL : rc;
	rc = rc == CD_OK && got > 0 ? write_states(db, into, &mine, &m, changes, got) : rc;
	for (int i = 0; rc == CD_OK && i < got; i++) {
		struct alert_row *r = &set->r[at[changes[i].alert]];
		if (changes[i].member < 0)
			r->fired_key = changes[i].key;
		if (changes[i].step != ALERT_STEP_FIRE)
			continue;
		json_t *data = ledger_alerts_event_data(r, changes[i].member >= 0 ? m->member : NULL, &changes[i].figure);
		if (data == NULL || json_array_append_new(fired, data) != 0)
			rc = CD_E_INTERNAL;
	}
	return rc;
}

enum cd_err ledger_alerts_load(struct store *db, const struct acct *a, struct alert_load *l)
{
	int plan = 0;
	l->set.n = 0;
	l->granted = l->left = 0;
	if (a->alert_count == 0)
		return CD_OK;
	enum cd_err rc = ledger_rows_acct_check_locked(db, a, "an alert's read");
	rc = rc == CD_OK ? ledger_alerts_read(db, a->id, 1, &l->set) : rc;
	for (int i = 0; rc == CD_OK && i < l->set.n; i++)
		plan |= l->set.r[i].kind == ALERT_PLAN_CREDITS_USED_PCT;
	if (rc == CD_OK && plan)
		rc = ledger_alerts_plan(db, a, NULL, 0, &l->granted, &l->left);
	assert(rc != CD_OK || l->set.n <= LIMIT_ALERTS);
	return rc;
}

enum cd_err ledger_alerts_notice(struct store *db, struct acct *a, json_t *fired)
{
	struct alert_load l;
	struct money_alert_account acc;
	assert(a->alert_count > 0);
	enum cd_err rc = ledger_alerts_load(db, a, &l);
	ledger_alerts_figures(a, l.granted, l.left, &acc);
	return rc == CD_OK ? decide(db, NULL, a, &l.set, &acc, NULL, -1, fired) : rc;
}

enum cd_err ledger_alerts_notice_add(struct store *db, struct store_write *lw, const struct acct *a,
				     struct alert_load *l, json_t *fired)
{
	struct money_alert_account acc;
	assert(lw != NULL);
	if (a->alert_count == 0 || l->set.n == 0)
		return CD_OK;
	ledger_alerts_figures(a, l->granted, l->left, &acc);
	return decide(db, lw, a, &l->set, &acc, NULL, -1, fired);
}

enum cd_err ledger_alerts_member(struct store *db, struct acct *a, const struct member_row *m, int64_t plan_cap,
				 json_t *fired)
{
	struct alert_set set;
	assert(a->alert_count > 0);
	enum cd_err rc = ledger_rows_acct_check_locked(db, a, "an alert's read");
	rc = rc == CD_OK ? ledger_alerts_read(db, a->id, 1, &set) : rc;
	return rc == CD_OK && m->found ? decide(db, NULL, a, &set, NULL, m, plan_cap, fired) : rc;
}

enum cd_err ledger_alerts_member_rearm(struct store *db, const struct acct *a, const char *member)
{
	static const char sql_named[] = "UPDATE alerts SET fired_key = 0 WHERE account_id = ? AND member = ? "
					 "AND kind = 'member_cap_pct'";
	static const char sql_every[] = "DELETE m FROM alert_members m JOIN alerts l ON l.id = m.alert_id "
					 "WHERE l.account_id = ? AND m.member = ?";
	assert(a->locked_tx == db->tx_serial);
	if (a->alert_count <= 0)
		return CD_OK;
	enum cd_err rc = store_do(db, sql_named, "alerts re-armed", "is", a->id, member);
	return rc == CD_OK ? store_do(db, sql_every, "member alerts re-armed", "is", a->id, member) : rc;
}
