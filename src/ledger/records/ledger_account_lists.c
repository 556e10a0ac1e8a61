/* ledger_account_lists.c: an account's holds in flight, top-ups and
 * referrals, a page at a time (see ledger_account_lists.h). Each page is
 * one statement over one index range of the account's rows (holds'
 * ix_pending, topups' ix_account, referrals' ix_referrer_month), LIMIT
 * one more than asked to say whether another follows. Never a secret: a
 * hold's id is the one the API gives out, never its row id. */
#include "ledger_account_lists.h"
#include "ledger_int.h"
#include "ledger_rows.h"
#include "timefmt.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_HOLDS[] = "SELECT id, member, model, action, amount_micros, created_at, expires_at, "
				"unresolved_at, byok FROM holds WHERE account_id = ? AND state = 'pending' AND id > ? "
				"ORDER BY id LIMIT ?";
static const char SQL_TOPUPS[] = "SELECT t.id, t.session_id, t.amount_cents, t.currency, t.status, t.credited_micros, "
				 "t.refunded_cents, t.refunded_micros, t.created_at, t.credited_at, "
				 "(SELECT JSON_ARRAYAGG(JSON_OBJECT('dispute_id', d.dispute_id, 'amount_cents', d.amount_cents, "
				 "'taken_micros', d.taken_micros, 'returned_micros', d.returned_micros, 'state', d.state, "
				 "'created_at', d.created_at, 'closed_at', d.closed_at)) FROM disputes d WHERE d.topup_id = t.id) "
				 "FROM topups t WHERE t.account_id = ? AND t.id < ? ORDER BY t.id DESC LIMIT ?";
static const char SQL_REFERRALS[] = "SELECT r.referred_id, a.ext_id, r.created_at, r.settled_at, r.referrer_grant_id, "
				    "r.taken_back_at, g.amount_micros FROM referrals r JOIN accounts a ON a.id = r.referred_id "
				    "LEFT JOIN grants g ON g.id = r.referrer_grant_id "
				    "WHERE r.referrer_id = ? AND r.referred_id < ? ORDER BY r.referred_id DESC LIMIT ?";
static const char SQL_REFERRED_BY[] = "SELECT a.ext_id FROM referrals r JOIN accounts a ON a.id = r.referrer_id "
				      "WHERE r.referred_id = ?";

static json_t *text_or_null(const struct dbstmt *s, unsigned int col)
{
	return store_null(s, col) ? json_null() : json_string(store_str(s, col));
}

static json_t *hold_json(const struct dbstmt *s, int64_t account)
{
	char id[64], created[TIMEFMT_LEN], expires[TIMEFMT_LEN];
	ledger_rows_hold_id_format(id, sizeof(id), account, store_i64(s, 0));
	timefmt_rfc3339(store_i64(s, 5), created);
	timefmt_rfc3339(store_i64(s, 6), expires);
	return json_pack("{s:s, s:o, s:o, s:o, s:I, s:s, s:s, s:b, s:b}", "hold_id", id, "member", text_or_null(s, 1),
			 "model", text_or_null(s, 2), "action", text_or_null(s, 3), "held_micros",
			 (json_int_t)store_i64(s, 4), "created_at", created, "expires_at", expires, "unresolved",
			 !store_null(s, 7), "byok", store_i64(s, 8) != 0);
}

/* A dispute's times as the API shows times (the JSON from MariaDB has
 * unix seconds). */
static json_t *disputes_json(const struct dbstmt *s, unsigned int col)
{
	json_error_t je;
	json_t *list = store_null(s, col) ? json_array() : json_loads(store_str(s, col), 0, &je);
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d) {
		json_t *c = json_object_get(d, "created_at"), *x = json_object_get(d, "closed_at");
		json_object_set_new(d, "created_at", ledger_rows_json_time(json_is_integer(c) ? json_integer_value(c) : -1));
		json_object_set_new(d, "closed_at", ledger_rows_json_time(json_is_integer(x) ? json_integer_value(x) : -1));
	}
	return list;
}

static json_t *topup_json(const struct dbstmt *s)
{
	char id[32];
	ledger_ids_format(id, sizeof(id), "topup_", store_i64(s, 0));
	return json_pack("{s:s, s:o, s:I, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "id", id, "session_id",
			 text_or_null(s, 1), "amount_cents", (json_int_t)store_i64(s, 2), "currency", store_str(s, 3), "status", store_str(s, 4),
			 "credited_micros", (json_int_t)store_i64(s, 5), "refunded_cents", (json_int_t)store_i64(s, 6),
			 "refunded_micros", (json_int_t)store_i64(s, 7), "created_at",
			 ledger_rows_json_time(store_i64(s, 8)), "credited_at",
			 ledger_rows_json_time(DB_I64_OR_NONE(s, 9)), "disputes", disputes_json(s, 10));
}

static json_t *referral_json(const struct dbstmt *s)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "account", store_str(s, 1), "created_at",
			 ledger_rows_json_time(store_i64(s, 2)), "rewarded_at", ledger_rows_json_time(DB_I64_OR_NONE(s, 3)),
			 "reward_micros", store_null(s, 4) || store_null(s, 6) ? json_null() : json_integer(store_i64(s, 6)),
			 "taken_back_at", ledger_rows_json_time(DB_I64_OR_NONE(s, 5)));
}

static enum cd_err referred_by(struct store *db, int64_t account, json_t *out)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_REFERRED_BY, &e, "i", account);
	if (s == NULL)
		return store_err(db, e, "referrals");
	json_object_set_new(out, "referred_by", store_fetch(s) == 1 ? json_string(store_str(s, 0)) : json_null());
	return CD_OK;
}

/* A page's cursor into the row id it stands for: a hold's id as the API
 * gives it out (of this account), else the number. 0, or -1. */
static int cursor_row(enum ledger_account_list which, int64_t account, const char *cursor, int64_t *row)
{
	int64_t owner;
	char *end;
	if (which == LEDGER_LIST_HOLDS)
		return ledger_rows_hold_id_parse(cursor, &owner, row) == 0 && owner == account ? 0 : -1;
	*row = strtoll(cursor, &end, 10);
	return end != cursor && *end == '\0' && *row > 0 ? 0 : -1;
}

static enum cd_err list_tx(struct store *db, enum ledger_account_list which, const char *account, const char *cursor,
			   int limit, json_t **out)
{
	static const char *const sql[] = {SQL_HOLDS, SQL_TOPUPS, SQL_REFERRALS};
	struct acct a;
	int e, n = 0, more = 0;
	int64_t last = 0, from = which == LEDGER_LIST_HOLDS ? 0 : INT64_MAX;
	char next[64];
	json_decref(*out);
	*out = NULL;
	enum cd_err rc = ledger_rows_acct_read(db, account, &a);
	if (rc != CD_OK)
		return rc;
	/* Holds go oldest first (ids up), the others newest first (down). */
	if (cursor != NULL && cursor[0] != '\0' && cursor_row(which, a.id, cursor, &from) != 0)
		return CD_E_INVALID;
	struct dbstmt *s = store_exec(db, sql[which], &e, "iii", a.id, from, (int64_t)limit + 1);
	if (s == NULL)
		return store_err(db, e, "account list");
	json_t *data = json_array();
	while (data != NULL && store_fetch(s) == 1) {
		if (n == limit) {
			more = 1;
			break;
		}
		json_t *row = which == LEDGER_LIST_HOLDS ? hold_json(s, a.id) :
			      which == LEDGER_LIST_TOPUPS ? topup_json(s) : referral_json(s);
		if (row == NULL || json_array_append_new(data, row) != 0) {
			json_decref(data);
			return CD_E_INTERNAL;
		}
		last = store_i64(s, 0);
		n++;
	}
	if (which == LEDGER_LIST_HOLDS)
		ledger_rows_hold_id_format(next, sizeof(next), a.id, last);
	else
		snprintf(next, sizeof(next), "%" PRId64, last);
	*out = json_pack("{s:o, s:o, s:b}", "data", data, "next_cursor", more ? json_string(next) : json_null(),
			 "has_more", more);
	if (*out == NULL)
		return CD_E_INTERNAL;
	return which == LEDGER_LIST_REFERRALS ? referred_by(db, a.id, *out) : CD_OK;
}

enum cd_err ledger_account_lists_read(struct store *db, enum ledger_account_list which, const char *account,
				const char *cursor, int limit, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, list_tx(db, which, account, cursor, limit, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return t.rc;
}
