/* ledger_alerts.c: threshold alerts (see ledger_alerts.h and ledger.h's
 * "Threshold alerts"): read under the account's lock, decided by
 * money_alert.h, their states written beside the change (alerts are not
 * money), set whole and read back for the API. */
#include "ledger_alerts.h"
#include "money_alert.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_ALERTS[] = "SELECT id, kind, threshold, member, fired_key FROM alerts WHERE account_id = ? "
				 "ORDER BY pos, id";
static const char SQL_ALERT_STATE[] = "UPDATE alerts SET fired_key = ? WHERE id = ?";
static const char SQL_ALERT_POS[] = "UPDATE alerts SET pos = ? WHERE id = ?";
static const char SQL_ALERT_DROP[] = "DELETE FROM alerts WHERE id = ?";
static const char SQL_ALERT_ADD[] = "INSERT INTO alerts (account_id, pos, kind, threshold, member, fired_key, "
				    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ALERT_COUNT[] = "UPDATE accounts SET alert_count = ? WHERE id = ?";
/* The plan period's grants (the credit, a rollover, an upgrade's
 * difference: ledger_periods.c), as the rows stand. */
static const char SQL_PLAN_GRANTS[] = "SELECT id, amount_micros, remaining_micros FROM grants "
				      "WHERE account_id = ? AND period_key = ? AND source = 'plan'";
static const char SQL_MEMBER_STATES[] = "SELECT am.alert_id, am.fired_key FROM alert_members am "
					"JOIN alerts al ON al.id = am.alert_id WHERE al.account_id = ? AND am.member = ?";
static const char SQL_MEMBER_FIRE[] = "INSERT INTO alert_members (alert_id, member, fired_key) VALUES (?, ?, ?) "
				      "ON DUPLICATE KEY UPDATE fired_key = VALUES(fired_key)";
static const char SQL_MEMBER_REARM[] = "DELETE FROM alert_members WHERE alert_id = ? AND member = ?";
static const char SQL_MEMBERS_FIRED[] = "SELECT COUNT(*) FROM alert_members WHERE alert_id = ? AND fired_key = ?";
static const char SQL_MEMBERS_ALL[] = "SELECT m.member, m.monthly_cap_micros, m.month_key, m.month_spent_micros, "
	"pl.member_cap_micros FROM members m JOIN accounts a ON a.id = m.account_id "
	"LEFT JOIN plans pl ON pl.name = a.plan WHERE m.account_id = ? ORDER BY m.member LIMIT ?";

struct alert_row {
	int64_t id;
	enum money_alert_kind kind;
	int64_t threshold, fired_key;
	char member[LEDGER_ID_MAX + 1];
	int has_member;
};
struct alert_set {
	int n;
	struct alert_row r[LIMIT_ALERTS];
};

static enum cd_err alerts_read(struct store *lg, int64_t account_id, struct alert_set *set)
{
	int e, got;
	set->n = 0;
	struct dbstmt *s = store_exec(lg, SQL_ALERTS, &e, "i", account_id);
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

/* What is granted and left of the account's plan period, the grants the
 * batch b (NULL: none) holds in memory (changed, not written yet) as it
 * holds them. */
static enum cd_err plan_read(struct store *lg, const struct acct *a, const struct batch *b, int acct, int64_t *granted,
			     int64_t *left)
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
		for (int k = 0; b != NULL && k < b->ngrants; k++)
			if (b->grants[k].acct == acct && !b->grants[k].is_new && b->grants[k].g.id == id)
				remaining = b->grants[k].g.remaining;
		if (money_add(*granted, store_i64(s, 1), granted) != 0 || money_add(*left, remaining, left) != 0)
			return CD_E_INTERNAL;
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

static void account_figures(const struct acct *a, int64_t granted, int64_t left, struct money_alert_account *f)
{
	*f = (struct money_alert_account){.available = ledger_rows_acct_available(a), .month_spent = a->month_spent,
					  .monthly_limit = a->monthly_limit, .month_key = a->month_key,
					  .day_spent = a->day_spent, .daily_limit = a->daily_limit, .day_key = a->day_key,
					  .plan_granted = granted, .plan_left = left, .plan_period = a->plan_period};
}

/* An alert.threshold's data: {kind, pct|micros, member, value_micros,
 * limit_micros}; limit_micros null for balance_below. */
static json_t *fired_json(const struct alert_row *r, const char *member, const struct money_alert_figure *f)
{
	return json_pack("{s:s, s:I, s:o, s:I, s:o}", "kind", money_alert_kind_name(r->kind),
			 money_alert_kind_pct(r->kind) ? "pct" : "micros", (json_int_t)r->threshold, "member",
			 member != NULL ? json_string(member) : json_null(), "value_micros", (json_int_t)f->value,
			 "limit_micros", f->limit >= 0 ? json_integer(f->limit) : json_null());
}

static enum cd_err tell(json_t *fired, const struct alert_row *r, const char *member, const struct money_alert_figure *f)
{
	json_t *data = fired_json(r, member, f);
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
			       const struct member_row *m, json_t *fired)
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
	money_alert_member_figure(m->month_spent, m->cap, a->plan_member_cap, m->month_key, &f);
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

/* The account's alerts after the change: its own figures, then those of
 * the members of b's (NULL: none) for acct. */
static enum cd_err notice(struct store *lg, struct acct *a, const struct batch *b, int acct, json_t *fired)
{
	struct alert_set set;
	struct money_alert_account acc;
	int64_t granted = 0, left = 0;
	int plan = 0;
	enum cd_err rc = ledger_rows_acct_check_locked(lg, a, "an alert's read");
	rc = rc == CD_OK ? alerts_read(lg, a->id, &set) : rc;
	for (int i = 0; rc == CD_OK && i < set.n; i++)
		plan |= set.r[i].kind == ALERT_PLAN_CREDITS_USED_PCT;
	if (rc == CD_OK && plan)
		rc = plan_read(lg, a, b, acct, &granted, &left);
	account_figures(a, granted, left, &acc);
	for (int i = 0; rc == CD_OK && i < set.n; i++)
		if (set.r[i].kind != ALERT_MEMBER_CAP_PCT)
			rc = step_account(lg, &set.r[i], &acc, fired);
	for (int k = 0; rc == CD_OK && b != NULL && k < b->nmembers; k++)
		if (b->members[k].acct == acct && b->members[k].m.found)
			rc = step_member(lg, a, &set, &b->members[k].m, fired);
	return rc;
}

enum cd_err ledger_alerts_notice(struct store *lg, struct acct *a, json_t *fired)
{
	assert(a->alert_count > 0);
	return notice(lg, a, NULL, -1, fired);
}

enum cd_err ledger_alerts_batch(struct store *lg, struct batch *b, int acct, json_t *fired)
{
	struct batch_acct *ba = &b->accts[acct];
	if (ba->a.alert_count == 0 || (!ba->changed && !ba->touched))
		return CD_OK;
	/* An account with alerts is never kept (ledger_rowcache.c): its
	 * batch read it under its lock. */
	assert(!b->kept);
	return notice(lg, &ba->a, b, acct, fired);
}

/* ---- Set whole, read back ---- */

static int same_alert(const struct alert_row *r, const struct ledger_alert_spec *sp)
{
	if ((int)r->kind != sp->kind || r->threshold != sp->threshold || r->has_member != (sp->member != NULL))
		return 0;
	return !r->has_member || strcmp(r->member, sp->member) == 0;
}

/* A member row's month as it stands now (read without rolling it). */
static void member_now(const struct store *lg, int64_t month_key, int64_t *spent)
{
	struct roll_effect roll;
	money_rule_roll(month_key, *spent, lg->now_month, &roll);
	*spent = roll.spent;
}

/* The members already past a new member_cap_pct alert's threshold, set
 * fired for this month (their crossing happened before it was set). */
static enum cd_err members_initial(struct store *lg, const struct acct *a, int64_t alert_id,
				   const struct ledger_alert_spec *sp)
{
	int e, got, n = 0;
	struct dbstmt *s = store_exec(lg, SQL_MEMBERS_ALL, &e, "ii", a->id, (int64_t)LIMIT_ALERT_MEMBERS_READ);
	if (s == NULL)
		return store_err(lg, e, "alert members read");
	char (*past)[LEDGER_ID_MAX + 1] = malloc((size_t)LIMIT_ALERT_MEMBERS_READ * (LEDGER_ID_MAX + 1));
	if (past == NULL)
		return CD_E_INTERNAL;
	while ((got = store_fetch(s)) == 1) {
		struct money_alert_figure f;
		int64_t spent = store_i64(s, 3);
		if (sp->member != NULL && strcmp(store_str(s, 0), sp->member) != 0)
			continue;
		member_now(lg, store_i64(s, 2), &spent);
		money_alert_member_figure(spent, DB_I64_OR_NONE(s, 1), DB_I64_OR_NONE(s, 4), lg->now_month, &f);
		if (money_alert_initial(ALERT_MEMBER_CAP_PCT, sp->threshold, &f) != 0 && n < LIMIT_ALERT_MEMBERS_READ)
			ledger_rows_copy_text(past[n++], LEDGER_ID_MAX + 1, store_str(s, 0));
	}
	enum cd_err rc = got < 0 ? CD_E_INTERNAL : CD_OK;
	for (int i = 0; rc == CD_OK && i < n; i++)
		rc = store_do(lg, SQL_MEMBER_FIRE, "alert member fired", "isi", alert_id, past[i], lg->now_month);
	free(past);
	return rc;
}

/* A new alert's row, in the state its figure calls for now. */
static enum cd_err alert_add(struct store *lg, const struct acct *a, int pos, const struct ledger_alert_spec *sp,
			     const struct money_alert_account *acc)
{
	int e;
	int64_t key = 0;
	if (sp->kind != ALERT_MEMBER_CAP_PCT) {
		struct money_alert_figure f;
		money_alert_account_figure((enum money_alert_kind)sp->kind, acc, &f);
		key = money_alert_initial((enum money_alert_kind)sp->kind, sp->threshold, &f);
	}
	struct dbstmt *s = store_exec(lg, SQL_ALERT_ADD, &e, "iisisii", a->id, (int64_t)pos,
				      money_alert_kind_name((enum money_alert_kind)sp->kind), sp->threshold, sp->member,
				      key, lg->now);
	if (s == NULL)
		return store_err(lg, e, "alert insert");
	int64_t id = (int64_t)store_insert_id(s);
	return sp->kind == ALERT_MEMBER_CAP_PCT ? members_initial(lg, a, id, sp) : CD_OK;
}

/* The alerts of a (its month and day rolled) as they stand, into *out. */
static enum cd_err view_of(struct store *lg, const struct acct *a, struct ledger_alerts_view *out)
{
	struct alert_set set;
	struct money_alert_account acc;
	int e;
	account_figures(a, 0, 0, &acc);
	enum cd_err rc = alerts_read(lg, a->id, &set);
	out->n = 0;
	for (int i = 0; rc == CD_OK && i < set.n; i++) {
		const struct alert_row *r = &set.r[i];
		struct ledger_alert_view *v = &out->alerts[out->n++];
		struct money_alert_figure f;
		v->kind = (int)r->kind;
		v->threshold = r->threshold;
		v->has_member = r->has_member;
		ledger_rows_copy_text(v->member, sizeof(v->member), r->has_member ? r->member : NULL);
		v->members_fired = 0;
		if (r->kind != ALERT_MEMBER_CAP_PCT) {
			money_alert_account_figure(r->kind, &acc, &f);
			v->fired = money_alert_fired(r->fired_key, &f);
			continue;
		}
		struct dbstmt *s = store_exec(lg, SQL_MEMBERS_FIRED, &e, "ii", r->id, lg->now_month);
		if (s == NULL)
			return store_err(lg, e, "alert members fired");
		if (store_fetch(s) != 1)
			return CD_E_INTERNAL;
		v->members_fired = store_i64(s, 0);
		v->fired = v->members_fired > 0;
	}
	return rc;
}

static enum cd_err set_tx(struct store *lg, const char *account, const struct ledger_alert_spec *specs, int n,
			  struct ledger_alerts_view *out)
{
	struct acct a;
	struct alert_set old;
	struct money_alert_account acc;
	int kept[LIMIT_ALERTS], used[LIMIT_ALERTS] = {0};
	int64_t granted = 0, left = 0;
	enum cd_err rc = ledger_due_lock(lg, account, &a);
	rc = rc == CD_OK ? alerts_read(lg, a.id, &old) : rc;
	rc = rc == CD_OK ? plan_read(lg, &a, NULL, -1, &granted, &left) : rc;
	if (rc != CD_OK)
		return rc;
	account_figures(&a, granted, left, &acc);
	/* An alert set again as it was keeps its state (and its row). */
	for (int i = 0; i < n; i++) {
		kept[i] = -1;
		for (int j = 0; j < old.n && kept[i] < 0; j++)
			if (!used[j] && same_alert(&old.r[j], &specs[i]))
				used[j] = 1, kept[i] = j;
	}
	for (int j = 0; rc == CD_OK && j < old.n; j++)
		if (!used[j])
			rc = store_do(lg, SQL_ALERT_DROP, "alert delete", "i", old.r[j].id);
	for (int i = 0; rc == CD_OK && i < n; i++)
		rc = kept[i] >= 0 ? store_do(lg, SQL_ALERT_POS, "alert order", "ii", (int64_t)i, old.r[kept[i]].id)
				  : alert_add(lg, &a, i, &specs[i], &acc);
	if (rc == CD_OK)
		rc = store_do(lg, SQL_ALERT_COUNT, "alert count", "ii", (int64_t)n, a.id);
	return rc == CD_OK ? view_of(lg, &a, out) : rc;
}

enum cd_err ledger_alerts_set(struct store *lg, const char *account, const struct ledger_alert_spec *specs, int n,
			      struct ledger_alerts_view *out)
{
	struct store_tx t;
	assert(n >= 0 && n <= LIMIT_ALERTS);
	for (int i = 0; i < n; i++)
		assert(specs[i].kind >= 0 && specs[i].kind < ALERT_KINDS && specs[i].threshold >= 0);
	memset(out, 0, sizeof(*out));
	for (store_tx_init(lg, &t); store_tx_next(lg, &t);)
		store_tx_end(lg, &t, set_tx(lg, account, specs, n, out));
	/* Read back as set: as many, in the order given. */
	assert(t.rc != CD_OK || out->n == n);
	return t.rc;
}

static enum cd_err get_tx(struct store *lg, const char *account, struct ledger_alerts_view *out)
{
	struct acct a;
	enum cd_err rc = ledger_rows_acct_read(lg, account, &a);
	if (rc != CD_OK)
		return rc;
	ledger_due_roll(lg, &a);	/* in memory: the periods as they are now */
	return view_of(lg, &a, out);
}

enum cd_err ledger_alerts_get(struct store *lg, const char *account, struct ledger_alerts_view *out)
{
	struct store_tx t;
	memset(out, 0, sizeof(*out));
	for (store_tx_init(lg, &t); store_tx_next(lg, &t);)
		store_tx_end(lg, &t, get_tx(lg, account, out));
	return t.rc;
}
