/* ledger_members.h: the rows of workspace members (DESIGN §4), above the
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
/* Locks a member row (CD_E_NOT_FOUND when none) and rolls its month over. */
enum cd_err member_lock(struct ledger *lg, const struct acct *a, const char *member, struct member_row *m);
/* Starts a new month on a member row read in an older one. */
void member_roll(const struct ledger *lg, struct member_row *m);
enum cd_err member_store(struct ledger *lg, const struct acct *a, const struct member_row *m);
/* Moves a member's reserve and month spend, when the member has a row. */
enum cd_err member_adjust(struct ledger *lg, const struct acct *a, const char *member, int64_t reserved_delta,
			  int64_t spent_delta);
#endif
