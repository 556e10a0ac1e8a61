/* ledger_members.h: the rows of workspace members (docs/decisions.md, "Workspaces"), above the
 * account rows: a member's cap, month spend and pending holds, each row
 * locked after its account's. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_MEMBERS_H
#define CREDITD_LEDGER_MEMBERS_H
#include "ledger_rows.h"

/* A workspace member's row, locked after its account. */
struct member_row {
	int found;
	char member[LEDGER_ID_MAX + 1];
	int64_t cap;			/* -1: no cap */
	int64_t month_key, month_spent, reserved;
	int64_t cap_month_noted;	/* the month whose limit.reached (member_cap) went out */
	struct rate rate;		/* the member's requests and tokens per minute */
};
/* A member row read from column c on (MEMBER_COLUMNS' order), its month
 * rolled over to now_month (the transaction's: a guard batch's clock,
 * or the store's). No statement: the row was read by the caller. */
void ledger_members_from_row_at(int64_t now_month, const struct db_row *r, unsigned int c, struct member_row *m);
/* Locks a member row (CD_E_NOT_FOUND when none), every column read, and
 * rolls its month over. */
enum cd_err ledger_members_lock(struct store *db, const struct acct *a, const char *member, struct member_row *m);
/* Makes a member's row (none must exist), locked, under its account's lock:
 * no cap of its own, its reserve the member's pending holds on the
 * account, its month spend what verify counts from now (see the SQL).
 * One statement (INSERT … RETURNING). Used by POST …/members; the guard's
 * read CALL makes the row of a member it names with none by the same
 * statement (sql/086; ledger_members_row_due says where). */
enum cd_err ledger_members_create(struct store *db, const struct acct *a, const char *member, struct member_row *m);
/* Whether a guard call naming a member with no row on account a makes
 * its row (docs/decisions.md, "Workspaces"): on a workspace whose plan has a member cap,
 * which then caps the member like a row with no cap of its own. Elsewhere
 * such a member is recorded on holds and usage only. Pure: a's kind and
 * plan_member_cap as the guard read them. */
int ledger_members_row_due(const struct acct *a);
/* Reads a member row without a lock (CD_E_NOT_FOUND when none), its
 * month rolled over, and the member cap of the account's plan (-1: none),
 * which is the member's when it has none of its own. Its rate fields are
 * not read (-1). */
enum cd_err ledger_members_read(struct store *db, const struct acct *a, const char *member, struct member_row *m,
			int64_t *plan_cap);
enum cd_err ledger_members_store(struct store *db, const struct acct *a, const struct member_row *m);
/* The figures of account a and member m (NULL: none) that the guard's
 * money decisions read (money_guard.h), into *ga and *gm: returns gm, or
 * NULL when m is NULL. */
const struct guard_member *ledger_members_figures(const struct acct *a, const struct member_row *m,
						  struct guard_account *ga, struct guard_member *gm);
/* Moves a member's reserve and month spend, when the member has a row. */
enum cd_err ledger_members_adjust(struct store *db, const struct acct *a, const char *member, int64_t reserved_delta,
			  int64_t spent_delta);
#endif
