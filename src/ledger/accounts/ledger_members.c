/* ledger_members.c: members of workspace accounts and their monthly caps.
 *
 * A workspace is one shared pool; a member is an external user id with an
 * optional monthly cap. The member row keeps its own month spend and its
 * pending holds so the guard can refuse with member_cap_reached while the
 * pool itself still has credit. Rows are locked after their account row,
 * in the same order everywhere, and made under it (ledger_members_create), by
 * POST …/members or by the guard for a member it names with none where
 * the plan caps members (ledger_members_row_due; docs/decisions.md, "Workspaces"). */
#include "ledger_members.h"
#include "store_write.h"
#include "log.h"
#include "money_rule.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char SQL_MEMBER_LOCK[] = "SELECT " MEMBER_COLS_OF("") " FROM members WHERE account_id = ? AND member = ? "
	"FOR UPDATE";
/* Without a lock, with the cap of the account's plan (plans are shared). */
static const char SQL_MEMBER_READ[] = "SELECT m.monthly_cap_micros, m.month_key, m.month_spent_micros, "
	"m.reserved_micros, pl.member_cap_micros FROM members m JOIN accounts a ON a.id = m.account_id "
	"LEFT JOIN plans pl ON pl.name = a.plan WHERE m.account_id = ? AND m.member = ?";
/* A member's new row (docs/decisions.md, "Workspaces"): no cap of its own, its reserve the
 * member's pending holds on the account (holds made before the row: a
 * settle, release or expiry of each takes its amount back off), and a
 * month spend that agrees with creditctl verify's "member month spend vs
 * usage" (ledger_verify.c), which counts, in the row's month from its
 * created_at on (to the second), usage, captures and a late settle's
 * capture made earlier: what this second charged the member already,
 * before the row was made (a row deleted and made again; a hold captured
 * by the sweep of the request that makes the row). Run under the
 * account's lock, which every writer of these holds and usage rows takes
 * first: the sums are exact, and no other transaction makes the row
 * meanwhile. Its sources are read without locks (READ COMMITTED). The
 * row comes back from the INSERT (RETURNING, the procedures' member
 * column order): made by this transaction, it is locked until it ends.
 * The guard's read CALL runs the same INSERT … SELECT for the members
 * a batch names (sql/086, cd_batch_read): a change here is made there
 * too. */
static const char SQL_MEMBER_CREATE[] = "INSERT INTO members (account_id, member, month_key, month_spent_micros, "
	"reserved_micros, created_at) SELECT p.a, p.n, p.mk, "
	"(SELECT COALESCE(SUM(u.cost_micros), 0) FROM usage_records u WHERE u.account_id = p.a "
	"AND u.created_at >= p.t AND u.created_at < p.e AND u.member = p.n) + "
	"(SELECT COALESCE(SUM(h.charged_micros), 0) FROM holds h WHERE h.account_id = p.a AND h.state = 'captured' "
	"AND h.member = p.n AND h.finished_at >= p.t AND h.finished_at < p.e) + "
	"(SELECT COALESCE(SUM(j.amount_micros), 0) FROM usage_records u STRAIGHT_JOIN holds h ON h.id = u.hold_id "
	"STRAIGHT_JOIN journal j ON j.account_id = u.account_id AND j.hold_id = u.hold_id AND j.cause = 'usage' "
	"WHERE u.account_id = p.a AND u.created_at >= p.t AND u.created_at < p.e AND u.member = p.n "
	"AND u.created_at >= h.expires_at AND j.created_at < p.t), "
	"(SELECT COALESCE(SUM(h.amount_micros), 0) FROM holds h WHERE h.account_id = p.a AND h.state = 'pending' "
	"AND h.member = p.n), p.t FROM (SELECT ? a, ? n, ? mk, ? t, ? e) p RETURNING " MEMBER_COLS_OF("");

/* The columns ledger_members_lock and ledger_members_read share (cap, month, spend,
 * reserve: their first four). */
static void member_from(const struct dbstmt *s, struct member_row *m)
{
	m->found = 1;
	m->cap = store_null(s, 0) ? -1 : store_i64(s, 0);
	m->month_key = store_i64(s, 1);
	m->month_spent = store_i64(s, 2);
	m->reserved = store_i64(s, 3);
}

enum cd_err ledger_members_lock(struct store *db, const struct acct *a, const char *member, struct member_row *m)
{
	int e;
	memset(m, 0, sizeof(*m));
	assert(a->id > 0);
	if (member == NULL)
		return CD_E_NOT_FOUND;
	struct dbstmt *s = store_exec(db, SQL_MEMBER_LOCK, &e, "is", a->id, member);
	if (s == NULL)
		return store_err(db, e, "member lookup");
	if (store_fetch(s) != 1)
		return CD_E_NOT_FOUND;
	struct db_row row = {s, NULL, 0};
	ledger_members_from_row_at(db->now_month, &row, 0, m);
	assert(m->found);
	return CD_OK;
}

/* Starts a new month on a member row read in an older one (now_month:
 * the transaction's, timefmt_month_key). */
static void roll(int64_t now_month, struct member_row *m)
{
	struct roll_effect month;
	money_rule_roll(m->month_key, m->month_spent, now_month, &month);
	m->month_key = month.key;
	m->month_spent = month.spent;
	assert(m->month_key == now_month);
	assert(!month.rolled || m->month_spent == 0);	/* a new month spends from 0 */
}

/* A member row from columns c.. (the procedures' member column order),
 * as stored. */
static void row_read(const struct db_row *r, unsigned int c, struct member_row *m)
{
	m->found = 1;
	COL_TEXT(m->member, MEMBER_NAME);
	m->cap = COL_I64_OR(MEMBER_CAP, -1);
	m->month_key = COL_I64(MEMBER_MONTH_KEY);
	m->month_spent = COL_I64(MEMBER_MONTH_SPENT);
	m->reserved = COL_I64(MEMBER_RESERVED);
	m->cap_month_noted = COL_I64(MEMBER_CAP_MONTH_NOTED);
	m->rate.rpm = COL_I64_OR(MEMBER_RPM, -1);
	m->rate.tpm = COL_I64_OR(MEMBER_TPM, -1);
	m->rate.minute = COL_I64(MEMBER_RATE_MINUTE);
	m->rate.requests = COL_I64(MEMBER_RATE_REQUESTS);
	m->rate.tokens = COL_I64(MEMBER_RATE_TOKENS);
}

void ledger_members_from_row_at(int64_t now_month, const struct db_row *r, unsigned int c, struct member_row *m)
{
	row_read(r, c, m);
	roll(now_month, m);
	assert(m->found);
	assert(m->month_key == now_month);	/* rolled to this month */
}

enum cd_err ledger_members_create(struct store *db, const struct acct *a, const char *member, struct member_row *m)
{
	assert(member != NULL);
	assert(a->id > 0);
	int e;
	enum cd_err rc = CD_OK;
	memset(m, 0, sizeof(*m));
	/* The month's end, as the transaction's clock worked it out with now.
	 * The new row comes back from its INSERT, locked by it: this
	 * transaction made it. */
	struct dbstmt *s = store_exec(db, SQL_MEMBER_CREATE, &e, "isiii", a->id, member, db->now_month, db->now,
				      db->now_month_end);
	if (s == NULL) {
		rc = store_err(db, e, "member create");
	} else if (store_fetch(s) != 1) {
		log_error("member create: the new row was not read back");
		rc = CD_E_INTERNAL;
	} else {
		/* Made in this month (its month_key the clock's): nothing to roll. */
		struct db_row row = {s, NULL, 0};
		row_read(&row, 0, m);
	}
	/* A reserve is a sum of holds (the spend may be below 0: a late
	 * settle below its capture, as verify counts it); a hold edited by
	 * hand below 0 is refused, as ledger_members_store refuses it. */
	if (rc == CD_OK && m->reserved < 0) {
		log_error("account %" PRId64 " member %s: its pending holds sum below 0", a->id, member);
		rc = CD_E_INTERNAL;
	}
	assert(rc != CD_OK || m->found);
	assert(rc != CD_OK || m->month_key == db->now_month);
	return rc;
}

int ledger_members_row_due(const struct acct *a)
{
	return strcmp(a->kind, "workspace") == 0 && a->plan_member_cap >= 0;
}

static enum cd_err member_read(struct store *db, const struct acct *a, const char *member, struct member_row *m,
			       int64_t *plan_cap)
{
	int e;
	memset(m, 0, sizeof(*m));
	*plan_cap = -1;
	struct dbstmt *s = store_exec(db, SQL_MEMBER_READ, &e, "is", a->id, member);
	if (s == NULL)
		return store_err(db, e, "member read");
	if (store_fetch(s) != 1)
		return CD_E_NOT_FOUND;
	member_from(s, m);
	*plan_cap = store_null(s, 4) ? -1 : store_i64(s, 4);
	m->rate.rpm = m->rate.tpm = -1;
	snprintf(m->member, sizeof(m->member), "%s", member);
	roll(db->now_month, m);
	return CD_OK;
}

enum cd_err ledger_members_read(struct store *db, const struct acct *a, const char *member, struct member_row *m,
			int64_t *plan_cap)
{
	assert(member != NULL);
	enum cd_err rc = member_read(db, a, member, m, plan_cap);
	/* Found, or nothing: no row, and no plan cap read. */
	assert(rc != CD_OK || m->found);
	assert(rc == CD_OK || *plan_cap == -1);
	return rc;
}

enum cd_err ledger_members_store(struct store *db, const struct acct *a, const struct member_row *m)
{
	struct store_write lw;
	assert(a->id > 0);
	if (!m->found)
		return CD_OK;
	if (m->reserved < 0) {	/* a row edited by hand: refused, never written */
		log_error("account %" PRId64 " member %s would store a negative reserve", a->id, m->member);
		return CD_E_INTERNAL;
	}
	assert(m->month_key == db->now_month);	/* read locked, its month rolled */
	store_write_begin(&lw);
	LEDGER_WRITE_ONE(&lw, "members", MEMBERS_TABLE(COL_WRITE, a->id, m));
	return store_write_run(db, &lw, "member update", NULL, NULL);
}

/* Applies a change of reserve and spend to a member, if it has a row. */
enum cd_err ledger_members_adjust(struct store *db, const struct acct *a, const char *member, int64_t reserved_delta,
			  int64_t spent_delta)
{
	struct member_row m;
	if (member == NULL || (reserved_delta == 0 && spent_delta == 0))
		return CD_OK;
	enum cd_err rc = ledger_members_lock(db, a, member, &m);
	if (rc == CD_E_NOT_FOUND)
		return CD_OK;
	if (rc != CD_OK)
		return rc;
	if (money_add(m.reserved, reserved_delta, &m.reserved) != 0 ||
	    money_add(m.month_spent, spent_delta, &m.month_spent) != 0)
		return refusal_set_range(&db->refusal, REFUSE_OUT_OF_RANGE, "member spend", spent_delta, NULL);
	assert(money_in_range(m.reserved));
	assert(money_in_range(m.month_spent));
	return ledger_members_store(db, a, &m);
}

const struct guard_member *ledger_members_figures(const struct acct *a, const struct member_row *m,
						  struct guard_account *ga, struct guard_member *gm)
{
	assert(a->reserved >= 0);
	ga->active = strcmp(a->status, "active") == 0;
	ga->balance = a->balance;
	ga->reserved = a->reserved;
	ga->overdraft = a->overdraft;
	ga->month_spent = a->month_spent;
	ga->monthly_limit = a->monthly_limit;
	ga->day_spent = a->day_spent;
	ga->daily_limit = a->daily_limit;
	ga->plan_member_cap = a->plan_member_cap;
	if (m == NULL)
		return NULL;
	gm->cap = m->cap;
	gm->month_spent = m->month_spent;
	gm->reserved = m->reserved;
	assert(gm->reserved == m->reserved);
	return gm;
}
