/* ledger_members.c: members of workspace accounts and their monthly caps.
 *
 * A workspace is one shared pool; a member is an external user id with an
 * optional monthly cap. The member row keeps its own month spend and its
 * pending holds so the guard can refuse with member_cap_reached while the
 * pool itself still has credit. Rows are locked after their account row,
 * in the same order everywhere. */
#include "ledger_members.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

static const char SQL_MEMBER_LOCK[] = "SELECT monthly_cap_micros, month_key, month_spent_micros, reserved_micros, "
	"requests_per_minute, tokens_per_minute FROM members WHERE account_id = ? AND member = ? FOR UPDATE";
static const char SQL_MEMBER_STORE[] = "UPDATE members SET month_key = ?, month_spent_micros = ?, reserved_micros = ? "
	"WHERE account_id = ? AND member = ?";

enum cd_err member_lock(struct ledger *lg, const struct acct *a, const char *member, struct member_row *m)
{
	int e;
	memset(m, 0, sizeof(*m));
	if (member == NULL)
		return CD_E_NOT_FOUND;
	struct dbstmt *s = db_exec(lg, SQL_MEMBER_LOCK, &e, "is", a->id, member);
	if (s == NULL)
		return db_err(lg, e, "member lookup");
	if (db_fetch(s) != 1)
		return CD_E_NOT_FOUND;
	m->found = 1;
	m->cap = db_null(s, 0) ? -1 : db_i64(s, 0);
	m->month_key = db_i64(s, 1);
	m->month_spent = db_i64(s, 2);
	m->reserved = db_i64(s, 3);
	m->rate.rpm = db_null(s, 4) ? -1 : db_i64(s, 4);
	m->rate.tpm = db_null(s, 5) ? -1 : db_i64(s, 5);
	snprintf(m->member, sizeof(m->member), "%s", member);
	member_roll(lg, m);
	return CD_OK;
}

void member_roll(const struct ledger *lg, struct member_row *m)
{
	int64_t month = timefmt_month_key(lg->now);
	if (m->month_key != month) {
		m->month_key = month;
		m->month_spent = 0;
	}
}

enum cd_err member_store(struct ledger *lg, const struct acct *a, const struct member_row *m)
{
	if (!m->found)
		return CD_OK;
	return db_do(lg, SQL_MEMBER_STORE, "member update", "iiiis", m->month_key, m->month_spent, m->reserved,
		     a->id, m->member);
}

/* Applies a change of reserve and spend to a member, if it has a row. */
enum cd_err member_adjust(struct ledger *lg, const struct acct *a, const char *member, int64_t reserved_delta,
			  int64_t spent_delta)
{
	struct member_row m;
	if (member == NULL || (reserved_delta == 0 && spent_delta == 0))
		return CD_OK;
	enum cd_err rc = member_lock(lg, a, member, &m);
	if (rc == CD_E_NOT_FOUND)
		return CD_OK;
	if (rc != CD_OK)
		return rc;
	m.reserved += reserved_delta;
	m.month_spent += spent_delta;
	return member_store(lg, a, &m);
}
