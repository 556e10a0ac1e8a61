/* ledger_alerts_put.c: an account's threshold alerts set whole (PUT
 * …/alerts) and read (GET), ledger.h's "Threshold alerts": under the
 * account's lock, an alert set again as it was keeps its state, a new one
 * starts in the state its figure calls for now (ledger_alerts.h). */
#include "ledger_alerts.h"
#include "ledger_due.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_ALERT_POS[] = "UPDATE alerts SET pos = ? WHERE id = ?";
static const char SQL_ALERT_DROP[] = "DELETE FROM alerts WHERE id = ?";
static const char SQL_ALERT_ADD[] = "INSERT INTO alerts (account_id, pos, kind, threshold, member, fired_key, "
				    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ALERT_COUNT[] = "UPDATE accounts SET alert_count = ? WHERE id = ?";
static const char SQL_MEMBERS_FIRED[] = "SELECT COUNT(*) FROM alert_members WHERE alert_id = ? AND fired_key = ?";
static const char SQL_MEMBERS_ALL[] = "SELECT m.member, m.monthly_cap_micros, m.month_key, m.month_spent_micros, "
	"pl.member_cap_micros FROM members m JOIN accounts a ON a.id = m.account_id "
	"LEFT JOIN plans pl ON pl.name = a.plan WHERE m.account_id = ? ORDER BY m.member LIMIT ? LOCK IN SHARE MODE";
static const char SQL_MEMBER_FIRE[] = "INSERT INTO alert_members (alert_id, member, fired_key) VALUES (?, ?, ?) "
				      "ON DUPLICATE KEY UPDATE fired_key = VALUES(fired_key)";


static int same_alert(const struct alert_row *r, const struct ledger_alert_spec *sp)
{
	if ((int)r->kind != sp->kind || r->threshold != sp->threshold || r->has_member != (sp->member != NULL))
		return 0;
	return !r->has_member || strcmp(r->member, sp->member) == 0;
}

/* A member row's month as it stands now (read without rolling it). */
static void member_now(const struct store *db, int64_t month_key, int64_t *spent)
{
	struct roll_effect roll;
	money_rule_roll(month_key, *spent, db->now_month, &roll);
	*spent = roll.spent;
}

/* The members already past a new member_cap_pct alert's threshold, set
 * fired for this month (their crossing happened before it was set). */
static enum cd_err members_initial(struct store *db, const struct acct *a, int64_t alert_id,
				   const struct ledger_alert_spec *sp)
{
	int e, got, n = 0;
	struct dbstmt *s = store_exec(db, SQL_MEMBERS_ALL, &e, "ii", a->id, (int64_t)LIMIT_ALERT_MEMBERS_READ);
	if (s == NULL)
		return store_err(db, e, "alert members read");
	char (*past)[LEDGER_ID_MAX + 1] = malloc((size_t)LIMIT_ALERT_MEMBERS_READ * (LEDGER_ID_MAX + 1));
	if (past == NULL)
		return CD_E_INTERNAL;
	while ((got = store_fetch(s)) == 1) {
		struct money_alert_figure f;
		int64_t spent = store_i64(s, 3);
		if (sp->member != NULL && strcmp(store_str(s, 0), sp->member) != 0)
			continue;
		member_now(db, store_i64(s, 2), &spent);
		money_alert_member_figure(spent, DB_I64_OR_NONE(s, 1), DB_I64_OR_NONE(s, 4), db->now_month, &f);
		if (money_alert_initial(ALERT_MEMBER_CAP_PCT, sp->threshold, &f) != 0 && n < LIMIT_ALERT_MEMBERS_READ)
			ledger_rows_copy_text(past[n++], LEDGER_ID_MAX + 1, store_str(s, 0));
	}
	enum cd_err rc = got < 0 ? CD_E_INTERNAL : CD_OK;
	for (int i = 0; rc == CD_OK && i < n; i++)
		rc = store_do(db, SQL_MEMBER_FIRE, "alert member fired", "isi", alert_id, past[i], db->now_month);
	free(past);
	return rc;
}

/* A new alert's row, in the state its figure calls for now. */
static enum cd_err alert_add(struct store *db, const struct acct *a, int pos, const struct ledger_alert_spec *sp,
			     const struct money_alert_account *acc)
{
	int e;
	int64_t key = 0;
	if (sp->kind != ALERT_MEMBER_CAP_PCT) {
		struct money_alert_figure f;
		money_alert_account_figure((enum money_alert_kind)sp->kind, acc, &f);
		key = money_alert_initial((enum money_alert_kind)sp->kind, sp->threshold, &f);
	}
	struct dbstmt *s = store_exec(db, SQL_ALERT_ADD, &e, "iisisii", a->id, (int64_t)pos,
				      money_alert_kind_name((enum money_alert_kind)sp->kind), sp->threshold, sp->member,
				      key, db->now);
	if (s == NULL)
		return store_err(db, e, "alert insert");
	int64_t id = (int64_t)store_insert_id(s);
	return sp->kind == ALERT_MEMBER_CAP_PCT ? members_initial(db, a, id, sp) : CD_OK;
}

/* The alerts of a (its month and day rolled) as they stand, into *out. */
static enum cd_err view_of(struct store *db, const struct acct *a, struct ledger_alerts_view *out)
{
	struct alert_set set;
	struct money_alert_account acc;
	int e;
	ledger_alerts_figures(a, 0, 0, &acc);
	enum cd_err rc = ledger_alerts_read(db, a->id, 0, &set);
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
		struct dbstmt *s = store_exec(db, SQL_MEMBERS_FIRED, &e, "ii", r->id, db->now_month);
		if (s == NULL)
			return store_err(db, e, "alert members fired");
		if (store_fetch(s) != 1)
			return CD_E_INTERNAL;
		v->members_fired = store_i64(s, 0);
		v->fired = v->members_fired > 0;
	}
	return rc;
}

static enum cd_err set_tx(struct store *db, const char *account, const struct ledger_alert_spec *specs, int n,
			  struct ledger_alerts_view *out)
{
	struct acct a;
	struct alert_set old;
	struct money_alert_account acc;
	int kept[LIMIT_ALERTS], used[LIMIT_ALERTS] = {0};
	int64_t granted = 0, left = 0;
	enum cd_err rc = ledger_due_lock(db, account, &a);
	rc = rc == CD_OK ? ledger_alerts_read(db, a.id, 1, &old) : rc;
	rc = rc == CD_OK ? ledger_alerts_plan(db, &a, NULL, 0, &granted, &left) : rc;
	if (rc != CD_OK)
		return rc;
	ledger_alerts_figures(&a, granted, left, &acc);
	/* An alert set again as it was keeps its state (and its row). */
	for (int i = 0; i < n; i++) {
		kept[i] = -1;
		for (int j = 0; j < old.n && kept[i] < 0; j++)
			if (!used[j] && same_alert(&old.r[j], &specs[i]))
				used[j] = 1, kept[i] = j;
	}
	for (int j = 0; rc == CD_OK && j < old.n; j++)
		if (!used[j])
			rc = store_do(db, SQL_ALERT_DROP, "alert delete", "i", old.r[j].id);
	for (int i = 0; rc == CD_OK && i < n; i++)
		rc = kept[i] >= 0 ? store_do(db, SQL_ALERT_POS, "alert order", "ii", (int64_t)i, old.r[kept[i]].id)
				  : alert_add(db, &a, i, &specs[i], &acc);
	if (rc == CD_OK)
		rc = store_do(db, SQL_ALERT_COUNT, "alert count", "ii", (int64_t)n, a.id);
	return rc == CD_OK ? view_of(db, &a, out) : rc;
}

enum cd_err ledger_alerts_set(struct store *db, const char *account, const struct ledger_alert_spec *specs, int n,
			      struct ledger_alerts_view *out)
{
	struct store_tx t;
	assert(n >= 0 && n <= LIMIT_ALERTS);
	for (int i = 0; i < n; i++)
		assert(specs[i].kind >= 0 && specs[i].kind < ALERT_KINDS && specs[i].threshold >= 0);
	memset(out, 0, sizeof(*out));
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, set_tx(db, account, specs, n, out));
	/* Read back as set: as many, in the order given. */
	assert(t.rc != CD_OK || out->n == n);
	return t.rc;
}

static enum cd_err get_tx(struct store *db, const char *account, struct ledger_alerts_view *out)
{
	struct acct a;
	enum cd_err rc = ledger_rows_acct_read(db, account, &a);
	if (rc != CD_OK)
		return rc;
	ledger_due_roll(db, &a);	/* in memory: the periods as they are now */
	return view_of(db, &a, out);
}

enum cd_err ledger_alerts_get(struct store *db, const char *account, struct ledger_alerts_view *out)
{
	struct store_tx t;
	memset(out, 0, sizeof(*out));
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, get_tx(db, account, out));
	return t.rc;
}
