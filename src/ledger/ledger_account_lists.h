/* ledger_account_lists.h: an account's lists the operator's console
 * shows on its page and the API answers (docs/api.md, "An account's
 * holds, top-ups and referrals"): its holds in flight, its Stripe
 * top-ups with their refunds and disputes, the accounts it referred.
 * Reads only; each one transaction, a page of one index range. */
#ifndef CREDITD_LEDGER_ACCOUNT_LISTS_H
#define CREDITD_LEDGER_ACCOUNT_LISTS_H
#include "ledger.h"

/* The lists, each read by its account's external id. */
enum ledger_account_list {
	LEDGER_LIST_HOLDS,	/* pending holds (unresolved ones too), oldest first */
	LEDGER_LIST_TOPUPS,	/* top-ups, newest first, with their disputes */
	LEDGER_LIST_REFERRALS	/* the accounts it referred, newest first */
};

/* A page of list `which` of the account `account` after cursor (NULL or
 * "": from the start; else a previous page's next_cursor: a hold's id
 * for the holds, a number for the others), at most limit rows: *out
 * {"data": [...], "has_more", "next_cursor"} (the caller owns it; the
 * referrals' page also "referred_by"). CD_E_NOT_FOUND for an unknown
 * account, CD_E_INVALID for a cursor that is none of its. */
enum cd_err ledger_account_lists_read(struct store *db, enum ledger_account_list which, const char *account,
				const char *cursor, int limit, json_t **out);
#endif
