/* ledger_columns.h: the columns the ledger reads of its money rows, each
 * named once. A table per row kind, one line a column in the order every
 * SELECT of the ledger and of the batch procedures lists them: from it
 * come the SQL column lists (with a table prefix), the column indexes the
 * readers use by name (never by a number), and the column counts.
 * tests/unit/ledger/test_columns.c holds the procedures' own lists (the newest
 * migration defining each) to these tables. */
#ifndef CREDITD_LEDGER_COLUMNS_H
#define CREDITD_LEDGER_COLUMNS_H

/* The first column of each table is written apart (a list without a
 * trailing comma); X(NAME, "sql") for the rest. */
#define LEDGER_COL_ENUM(prefix, name, sql) prefix##name,
#define LEDGER_COL_SQL(prefix, name, sql) ", " sql

/* accounts (the view cd_account_rows, sql/020; row_version, sql/037, then
 * alert_count, sql/051, last):
 * after "id". */
#define ACCT_COLUMNS(X, t) \
	X(ACCT_, EXT_ID, t "ext_id") X(ACCT_, KIND, t "kind") X(ACCT_, STATUS, t "status") \
	X(ACCT_, BALANCE, t "balance_micros") X(ACCT_, RESERVED, t "reserved_micros") \
	X(ACCT_, OVERDRAFT, t "overdraft_limit_micros") X(ACCT_, MONTHLY_LIMIT, t "monthly_limit_micros") \
	X(ACCT_, LOW_BALANCE, t "low_balance_micros") X(ACCT_, PLAN, t "plan") X(ACCT_, MONTH_KEY, t "month_key") \
	X(ACCT_, MONTH_SPENT, t "month_spent_micros") X(ACCT_, SWEEP_DUE_AT, t "sweep_due_at") \
	X(ACCT_, CREATED_AT, t "created_at") X(ACCT_, STRIPE_CUSTOMER, t "stripe_customer_id") \
	X(ACCT_, DAILY_LIMIT, t "daily_limit_micros") X(ACCT_, DAY_KEY, t "day_key") \
	X(ACCT_, DAY_SPENT, t "day_spent_micros") X(ACCT_, PLAN_PERIOD, t "plan_period") \
	X(ACCT_, LOW_NOTED, t "low_noted") X(ACCT_, DEPLETED_NOTED, t "depleted_noted") \
	X(ACCT_, LIMIT_MONTH_NOTED, t "limit_month_noted") X(ACCT_, LIMIT_DAY_NOTED, t "limit_day_noted") \
	X(ACCT_, RECHARGE_THRESHOLD, t "recharge_threshold_micros") \
	X(ACCT_, RECHARGE_AMOUNT_CENTS, t "recharge_amount_cents") \
	X(ACCT_, HAS_CARD, t "stripe_payment_method IS NOT NULL") X(ACCT_, RECHARGE_PENDING, t "recharge_pending") \
	X(ACCT_, RECHARGE_FAILURES, t "recharge_failures") X(ACCT_, RECHARGE_DAY_KEY, t "recharge_day_key") \
	X(ACCT_, RECHARGE_DAY_COUNT, t "recharge_day_count") X(ACCT_, RPM, t "requests_per_minute") \
	X(ACCT_, TPM, t "tokens_per_minute") X(ACCT_, RATE_MINUTE, t "rate_minute") \
	X(ACCT_, RATE_REQUESTS, t "rate_requests") X(ACCT_, RATE_TOKENS, t "rate_tokens") \
	X(ACCT_, STATUS_REASON, t "status_reason") X(ACCT_, ROW_VERSION, t "row_version") \
	X(ACCT_, ALERT_COUNT, t "alert_count")
enum acct_column { ACCT_ID, ACCT_COLUMNS(LEDGER_COL_ENUM, "") ACCT_NCOLS };
#define ACCT_COLS_OF(t) t "id" ACCT_COLUMNS(LEDGER_COL_SQL, t)

/* holds (cd_batch_read's "holds" and "hold_reqs" sets): after "id". */
#define HOLD_COLUMNS(X, t) \
	X(HOLD_, ACCOUNT_ID, t "account_id") X(HOLD_, STATE, t "state") X(HOLD_, AMOUNT, t "amount_micros") \
	X(HOLD_, BYOK, t "byok") X(HOLD_, MODEL, t "model") X(HOLD_, ACTION, t "action") \
	X(HOLD_, MEMBER, t "member") X(HOLD_, CONVERSATION, t "conversation_id") \
	X(HOLD_, EXPIRES_AT, t "expires_at") X(HOLD_, CHARGED, t "charged_micros") \
	X(HOLD_, SETTLE_HASH, t "settle_hash") X(HOLD_, SETTLE_RESPONSE, t "settle_response") \
	X(HOLD_, REQUEST_ID, t "request_id") X(HOLD_, MAX_OUTPUT, t "max_output_tokens") \
	X(HOLD_, PIN_INPUT, t "pin_input_micros_per_mtok") X(HOLD_, PIN_CACHED, t "pin_cached_input_micros_per_mtok") \
	X(HOLD_, PIN_OUTPUT, t "pin_output_micros_per_mtok") X(HOLD_, PIN_MARGIN, t "pin_margin_bps") \
	X(HOLD_, RATE_MINUTE, t "rate_minute") X(HOLD_, RATE_TOKENS, t "rate_tokens")
enum hold_column { HOLD_ID, HOLD_COLUMNS(LEDGER_COL_ENUM, "") HOLD_NCOLS };
#define HOLD_COLS_OF(t) t "id" HOLD_COLUMNS(LEDGER_COL_SQL, t)

/* workspace members (after a hold in "holds", and in "members"): after
 * "account_id". */
#define MEMBER_COLUMNS(X, t) \
	X(MEMBER_, NAME, t "member") X(MEMBER_, CAP, t "monthly_cap_micros") X(MEMBER_, MONTH_KEY, t "month_key") \
	X(MEMBER_, MONTH_SPENT, t "month_spent_micros") X(MEMBER_, RESERVED, t "reserved_micros") \
	X(MEMBER_, CAP_MONTH_NOTED, t "cap_month_noted") X(MEMBER_, RPM, t "requests_per_minute") \
	X(MEMBER_, TPM, t "tokens_per_minute") X(MEMBER_, RATE_MINUTE, t "rate_minute") \
	X(MEMBER_, RATE_REQUESTS, t "rate_requests") X(MEMBER_, RATE_TOKENS, t "rate_tokens")
enum member_column { MEMBER_ACCOUNT_ID, MEMBER_COLUMNS(LEDGER_COL_ENUM, "") MEMBER_NCOLS };
#define MEMBER_COLS_OF(t) t "account_id" MEMBER_COLUMNS(LEDGER_COL_SQL, t)

/* Column k of the row r read from column c on, by its name above (a
 * reader has r, a const struct db_row *, and c, an unsigned int, in scope). */
#define COL_I64(k) store_row_i64(r, c + (k))
#define COL_I64_OR(k, none) (store_row_null(r, c + (k)) ? (none) : store_row_i64(r, c + (k)))
#define COL_NULL(k) store_row_null(r, c + (k))
#define COL_TEXT(dst, k) ledger_rows_copy_text((dst), sizeof(dst), store_row_str(r, c + (k)))

_Static_assert(ACCT_NCOLS == 38 && HOLD_NCOLS == 21 && MEMBER_NCOLS == 12,
	       "a column added here is added to the procedures (a new migration) and to the readers");

/* ---- The rows the writer writes ----
 * A row of each list of the one writer (cd_write, sql/039, called by
 * ledger_write.c) is a JSON array. Each table is declared once here, one
 * X a column, in the list's order: X(column, format, value), format i
 * (an int64), I (an int64 or NULL, through a pointer), s (a string or
 * NULL) or x (32 bytes as hex, or NULL). The writers expand the jsonw
 * calls (COL_WRITE, a jsonw writer w in scope); test_columns.c
 * expands the names (COL_NAME) and holds them to the procedure's
 * text, position by position, so neither side names a column by its
 * number. */
/* A column's jsonw call, by its format. */
#define COL_JW_i(w, v) jsonw_i64(w, v)
#define COL_JW_s(w, v) jsonw_str(w, v)
#define COL_JW_I(w, p) jsonw_i64_or_null(w, (p) != NULL, (p) != NULL ? *(p) : 0)
#define COL_JW_x(w, p) jsonw_hex(w, p, 32)
#define COL_WRITE(col, fmt, value) COL_JW_##fmt(w, value);
#define COL_NAME(col, fmt, value) col,

/* holds_new: a new hold h of account id acct. */
#define HOLDS_NEW_TABLE(X, acct, h) \
	X("account_id", i, acct) X("request_id", s, (h)->request_id) \
	X("member", s, (h)->has_member ? (h)->member : NULL) \
	X("model", s, (h)->model[0] ? (h)->model : NULL) \
	X("action", s, (h)->action[0] ? (h)->action : NULL) \
	X("conversation_id", s, (h)->has_conversation ? (h)->conversation : NULL) \
	X("amount_micros", i, (h)->amount) \
	X("max_output_tokens", I, (h)->max_output >= 0 ? &(h)->max_output : NULL) \
	X("pin_input_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.input_micros_per_mtok : NULL) \
	X("pin_cached_input_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.cached_input_micros_per_mtok : NULL) \
	X("pin_output_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.output_micros_per_mtok : NULL) \
	X("pin_margin_bps", I, (h)->has_pin ? &(h)->pin_margin : NULL) \
	X("rate_minute", I, (h)->rate_minute >= 0 ? &(h)->rate_minute : NULL) \
	X("rate_tokens", I, (h)->rate_minute >= 0 ? &(h)->rate_tokens : NULL) \
	X("byok", i, (h)->byok) X("expires_at", i, (h)->expires_at) \
	X("pin_cache_write_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.cache_write_micros_per_mtok : NULL)

/* usages_new and usages: usage u of account id acct, under key (NULL:
 * none) and request hash (NULL: none). */
#define USAGES_TABLE(X, acct, key, u, hash) \
	X("account_id", i, acct) X("hold_id", I, (u)->hold_id > 0 ? &(u)->hold_id : NULL) \
	X("usage_key", s, key) X("member", s, (u)->member) X("model", s, (u)->model) \
	X("action", s, (u)->action) X("input_tokens", i, (u)->input) \
	X("cached_input_tokens", i, (u)->cached) X("output_tokens", i, (u)->output) \
	X("cost_micros", i, (u)->cost) X("byok", i, (u)->byok) \
	X("request_id", s, (u)->request_id) X("conversation_id", s, (u)->conversation) \
	X("request_hash", x, hash) X("cache_write_input_tokens", i, (u)->cache_write) \
	X("settle_reason", s, (u)->settle_reason) \
	X("base_cost_micros", I, (u)->base_cost >= 0 ? &(u)->base_cost : NULL)

/* holds_set: a settled or released hold h. */
#define HOLDS_SET_TABLE(X, h) \
	X("id", i, (h)->id) X("state", s, (h)->state) X("charged_micros", i, (h)->charged) \
	X("settle_hash", x, (h)->has_hash ? (h)->settle_hash : NULL) \
	X("settle_response", s, (h)->has_hash ? (h)->response : NULL)

/* grants_set: a burnt grant g; debts: a new debt row g of account id acct. */
#define GRANTS_SET_TABLE(X, g) X("id", i, (g)->id) X("remaining_micros", i, (g)->remaining)
#define DEBTS_TABLE(X, acct, g) X("account_id", i, acct) X("remaining_micros", i, (g)->remaining)

/* grants_new: a new grant g (struct grant_row, ledger_rows.h) of account
 * id acct; its id comes back. */
#define GRANTS_NEW_TABLE(X, acct, g) \
	X("account_id", i, acct) X("source", s, (g)->source) X("amount_micros", i, (g)->amount) \
	X("remaining_micros", i, (g)->remaining) X("priority", i, (g)->priority) \
	X("expires_at", I, (g)->expires_at >= 0 ? &(g)->expires_at : NULL) \
	X("reference", s, (g)->reference) X("description", s, (g)->description)

/* members: member m of account id acct. */
#define MEMBERS_TABLE(X, acct, m) \
	X("account_id", i, acct) X("member", s, (m)->member) X("month_key", i, (m)->month_key) \
	X("month_spent_micros", i, (m)->month_spent) X("reserved_micros", i, (m)->reserved) \
	X("cap_month_noted", i, (m)->cap_month_noted) X("rate_minute", i, (m)->rate.minute) \
	X("rate_requests", i, (m)->rate.requests) X("rate_tokens", i, (m)->rate.tokens)

/* journal: line jl of account id acct, the balance after it, under
 * idempotency key key (NULL: none), written by actor (NULL: creditd
 * itself, "system"; sql/074); at the write's clock (db->now). Its
 * grant_id -1 - k names the k-th grant of the same write's grants_new. */
#define JOURNAL_TABLE(X, acct, jl, after, key, actor) \
	X("account_id", i, acct) X("amount_micros", i, (jl)->amount) \
	X("balance_after_micros", i, after) X("cause", s, (jl)->cause) \
	X("source", s, (jl)->source) X("hold_id", I, (jl)->hold_id > 0 ? &(jl)->hold_id : NULL) \
	X("reference", s, (jl)->reference) X("idempotency_key", s, key) \
	X("grant_id", I, (jl)->grant_id != 0 ? &(jl)->grant_id : NULL) \
	X("description", s, (jl)->description) X("actor", s, (actor) != NULL ? (actor) : "system")

/* accounts: account a, by its id. */
#define ACCT_TABLE(X, a) \
	X("id", i, (a)->id) X("balance_micros", i, (a)->balance) \
	X("reserved_micros", i, (a)->reserved) X("month_key", i, (a)->month_key) \
	X("month_spent_micros", i, (a)->month_spent) \
	X("sweep_due_at", I, (a)->sweep_due_at >= 0 ? &(a)->sweep_due_at : NULL) \
	X("day_key", i, (a)->day_key) X("day_spent_micros", i, (a)->day_spent) \
	X("low_noted", i, (int64_t)(a)->low_noted) X("depleted_noted", i, (int64_t)(a)->depleted_noted) \
	X("limit_month_noted", i, (a)->limit_month_noted) X("limit_day_noted", i, (a)->limit_day_noted) \
	X("recharge_pending", i, (int64_t)(a)->recharge_pending) \
	X("recharge_day_key", i, (a)->recharge_day_key) X("recharge_day_count", i, (a)->recharge_day_count) \
	X("rate_minute", i, (a)->rate.minute) X("rate_requests", i, (a)->rate.requests) \
	X("rate_tokens", i, (a)->rate.tokens) \
	X("recharge_threshold_micros", I, (a)->recharge_threshold >= 0 ? &(a)->recharge_threshold : NULL) \
	X("recharge_amount_cents", I, (a)->recharge_amount_cents >= 0 ? &(a)->recharge_amount_cents : NULL) \
	X("recharge_failures", i, (a)->recharge_failures)

/* events: an outbox row of account id acct (a pointer, NULL: none) and
 * external id ext, its type and its data (compact JSON text); its id is
 * the next of the one sequence. recharges: an auto-recharge of account id
 * acct queued for cents. */
/* A row that names a grant of the same write (sql/083;
 * ledger_events_out_write) has data NULL here, then two elements more:
 * the grant's place in grants_new and the data, whose "grant_id" the
 * writer sets to that grant's. */
#define EVENTS_TABLE(X, acct, ext, type, data) \
	X("account_id", I, acct) X("account", s, ext) X("type", s, type) X("data", s, data)
#define RECHARGES_TABLE(X, acct, cents) X("account_id", i, acct) X("amount_cents", i, cents)

/* alerts_set: alert id's state (fired_key); alert_members_set: its
 * state for member (fired); alert_members_del: that state dropped (armed
 * again). A guard batch's (sql/059, ledger_alerts_batch.c). */
#define ALERTS_SET_TABLE(X, id, key) X("id", i, id) X("fired_key", i, key)
#define ALERT_MEMBERS_SET_TABLE(X, alert, member, key) \
	X("alert_id", i, alert) X("member", s, member) X("fired_key", i, key)
#define ALERT_MEMBERS_DEL_TABLE(X, alert, member) X("alert_id", i, alert) X("member", s, member)

#define COL_COUNT(col, fmt, value) +1
_Static_assert(0 HOLDS_NEW_TABLE(COL_COUNT, _, _) == 17 && 0 USAGES_TABLE(COL_COUNT, _, _, _, _) == 17 &&
		       0 HOLDS_SET_TABLE(COL_COUNT, _) == 5 && 0 GRANTS_SET_TABLE(COL_COUNT, _) == 2 &&
		       0 DEBTS_TABLE(COL_COUNT, _, _) == 2 && 0 MEMBERS_TABLE(COL_COUNT, _, _) == 9 &&
		       0 GRANTS_NEW_TABLE(COL_COUNT, _, _) == 8 && 0 EVENTS_TABLE(COL_COUNT, _, _, _, _) == 4 &&
		       0 RECHARGES_TABLE(COL_COUNT, _, _) == 2 &&
		       0 JOURNAL_TABLE(COL_COUNT, _, _, _, _, _) == 11 && 0 ACCT_TABLE(COL_COUNT, _) == 21 &&
		       0 ALERTS_SET_TABLE(COL_COUNT, _, _) == 2 && 0 ALERT_MEMBERS_SET_TABLE(COL_COUNT, _, _, _) == 3 &&
		       0 ALERT_MEMBERS_DEL_TABLE(COL_COUNT, _, _) == 2,
	       "the rows have the positions cd_write reads (sql/039; test_columns holds each to its column by name)");

#endif
