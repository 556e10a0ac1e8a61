/* ledger_columns.h: the columns the ledger reads of its money rows, each
 * named once. A table per row kind, one line a column in the order every
 * SELECT of the ledger and of the batch procedures lists them: from it
 * come the SQL column lists (with a table prefix), the column indexes the
 * readers use by name (never by a number), and the column counts.
 * tests/unit/test_columns.c holds the procedures' own lists (the newest
 * migration defining each) to these tables. */
#ifndef CREDITD_LEDGER_COLUMNS_H
#define CREDITD_LEDGER_COLUMNS_H

/* The first column of each table is written apart (a list without a
 * trailing comma); X(NAME, "sql") for the rest. */
#define LEDGER_COL_ENUM(prefix, name, sql) prefix##name,
#define LEDGER_COL_SQL(prefix, name, sql) ", " sql

/* accounts (the view cd_account_rows, sql/020; row_version, sql/037, last):
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
	X(ACCT_, STATUS_REASON, t "status_reason") X(ACCT_, ROW_VERSION, t "row_version")
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
#define COL_I64(k) ledger_dbrow_i64(r, c + (k))
#define COL_I64_OR(k, none) (ledger_dbrow_null(r, c + (k)) ? (none) : ledger_dbrow_i64(r, c + (k)))
#define COL_NULL(k) ledger_dbrow_null(r, c + (k))
#define COL_TEXT(dst, k) ledger_copy_text((dst), sizeof(dst), ledger_dbrow_str(r, c + (k)))

_Static_assert(ACCT_NCOLS == 37 && HOLD_NCOLS == 21 && MEMBER_NCOLS == 12,
	       "a column added here is added to the procedures (a new migration) and to the readers");

/* ---- The rows the writers write ----
 * A row of each list of the guard's write (cd_guard_write, sql/038) is a
 * JSON array, and the journal and the accounts are also written by the
 * other operations' row statements (ledger_rows.c). Each table is
 * declared once here, one X a column: X(column, format, value, row,
 * batch), format i (an int64), I (an int64 or NULL, through a pointer),
 * s (a string or NULL) or x (32 bytes as hex, or NULL), row 1 when the
 * row statement writes it (2: its first column), batch 1 when the batch's
 * list carries it, in the list's order. The writers expand the jsonw
 * calls (a jsonw writer w in scope) or the statement's text, formats and
 * values; test_columns.c expands the names and holds them to the
 * procedure's text, position by position, so neither side names a
 * column by its number. */
#define COL_KEEP_0(...)
#define COL_KEEP_1(...) __VA_ARGS__
#define COL_KEEP_2(...) __VA_ARGS__
/* A column's jsonw call, by its format. */
#define COL_JW_i(w, v) jw_i64(w, v)
#define COL_JW_s(w, v) jw_str(w, v)
#define COL_JW_I(w, p) jw_i64_or_null(w, (p) != NULL, (p) != NULL ? *(p) : 0)
#define COL_JW_x(w, p) jw_hex(w, p, 32)
/* The batch's list: a jsonw call for each column it carries (w the
 * writer), its names (test_columns). */
#define COL_BATCH_WRITE(col, fmt, value, row, batch) COL_KEEP_##batch(COL_JW_##fmt(w, value);)
#define COL_BATCH_NAME(col, fmt, value, row, batch) COL_KEEP_##batch(col,)
/* The row statement: its columns, its bind format and its values. */
#define COL_SEP_0(x)
#define COL_SEP_1(x) ", " x
#define COL_SEP_2(x) x
#define COL_ROW_NAME(col, fmt, value, row, batch) COL_SEP_##row(col)
#define COL_ROW_MARK(col, fmt, value, row, batch) COL_SEP_##row("?")
#define COL_ROW_SET(col, fmt, value, row, batch) COL_SEP_##row(col " = ?")
#define COL_ROW_FMT(col, fmt, value, row, batch) COL_KEEP_##row(#fmt)
#define COL_ROW_ARG(col, fmt, value, row, batch) COL_KEEP_##row(, value)

/* holds_new: a new hold h of account id acct. */
#define HOLDS_NEW_TABLE(X, acct, h) \
	X("account_id", i, acct, 0, 1) X("request_id", s, (h)->request_id, 0, 1) \
	X("member", s, (h)->has_member ? (h)->member : NULL, 0, 1) \
	X("model", s, (h)->model[0] ? (h)->model : NULL, 0, 1) \
	X("action", s, (h)->action[0] ? (h)->action : NULL, 0, 1) \
	X("conversation_id", s, (h)->has_conversation ? (h)->conversation : NULL, 0, 1) \
	X("amount_micros", i, (h)->amount, 0, 1) \
	X("max_output_tokens", I, (h)->max_output >= 0 ? &(h)->max_output : NULL, 0, 1) \
	X("pin_input_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.input_micros_per_mtok : NULL, 0, 1) \
	X("pin_cached_input_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.cached_input_micros_per_mtok : NULL, 0, 1) \
	X("pin_output_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.output_micros_per_mtok : NULL, 0, 1) \
	X("pin_margin_bps", I, (h)->has_pin ? &(h)->pin_margin : NULL, 0, 1) \
	X("rate_minute", I, (h)->rate_minute >= 0 ? &(h)->rate_minute : NULL, 0, 1) \
	X("rate_tokens", I, (h)->rate_minute >= 0 ? &(h)->rate_tokens : NULL, 0, 1) \
	X("byok", i, (h)->byok, 0, 1) X("expires_at", i, (h)->expires_at, 0, 1) \
	X("pin_cache_write_micros_per_mtok", I, (h)->has_pin ? &(h)->pin.cache_write_micros_per_mtok : NULL, 0, 1)

/* usages_new and usages: usage u of account id acct, under key (NULL:
 * none) and request hash (NULL: none). */
#define USAGES_TABLE(X, acct, key, u, hash) \
	X("account_id", i, acct, 0, 1) X("hold_id", I, (u)->hold_id > 0 ? &(u)->hold_id : NULL, 0, 1) \
	X("usage_key", s, key, 0, 1) X("member", s, (u)->member, 0, 1) X("model", s, (u)->model, 0, 1) \
	X("action", s, (u)->action, 0, 1) X("input_tokens", i, (u)->input, 0, 1) \
	X("cached_input_tokens", i, (u)->cached, 0, 1) X("output_tokens", i, (u)->output, 0, 1) \
	X("cost_micros", i, (u)->cost, 0, 1) X("byok", i, (u)->byok, 0, 1) \
	X("request_id", s, (u)->request_id, 0, 1) X("conversation_id", s, (u)->conversation, 0, 1) \
	X("request_hash", x, hash, 0, 1) X("cache_write_input_tokens", i, (u)->cache_write, 0, 1) \
	X("settle_reason", s, (u)->settle_reason, 0, 1)

/* holds_set: a settled or released hold h. */
#define HOLDS_SET_TABLE(X, h) \
	X("id", i, (h)->id, 0, 1) X("state", s, (h)->state, 0, 1) X("charged_micros", i, (h)->charged, 0, 1) \
	X("settle_hash", x, (h)->has_hash ? (h)->settle_hash : NULL, 0, 1) \
	X("settle_response", s, (h)->has_hash ? (h)->response : NULL, 0, 1)

/* grants_set: a burnt grant g; debts: a new debt row g of account id acct. */
#define GRANTS_SET_TABLE(X, g) X("id", i, (g)->id, 0, 1) X("remaining_micros", i, (g)->remaining, 0, 1)
#define DEBTS_TABLE(X, acct, g) X("account_id", i, acct, 0, 1) X("remaining_micros", i, (g)->remaining, 0, 1)

/* members: member m of account id acct. */
#define MEMBERS_TABLE(X, acct, m) \
	X("account_id", i, acct, 0, 1) X("member", s, (m)->member, 0, 1) X("month_key", i, (m)->month_key, 0, 1) \
	X("month_spent_micros", i, (m)->month_spent, 0, 1) X("reserved_micros", i, (m)->reserved, 0, 1) \
	X("cap_month_noted", i, (m)->cap_month_noted, 0, 1) X("rate_minute", i, (m)->rate.minute, 0, 1) \
	X("rate_requests", i, (m)->rate.requests, 0, 1) X("rate_tokens", i, (m)->rate.tokens, 0, 1)

/* journal: line jl of account id acct, the balance after it, under
 * idempotency key key (NULL: none), at now. The batch's rows carry no
 * grant, no description, and the procedure's clock. */
#define JOURNAL_TABLE(X, acct, jl, after, key, now) \
	X("account_id", i, acct, 2, 1) X("amount_micros", i, (jl)->amount, 1, 1) \
	X("balance_after_micros", i, after, 1, 1) X("cause", s, (jl)->cause, 1, 1) \
	X("source", s, (jl)->source, 1, 1) X("hold_id", I, (jl)->hold_id > 0 ? &(jl)->hold_id : NULL, 1, 1) \
	X("reference", s, (jl)->reference, 1, 1) X("idempotency_key", s, key, 1, 1) \
	X("grant_id", I, (jl)->grant_id > 0 ? &(jl)->grant_id : NULL, 1, 0) \
	X("description", s, (jl)->description, 1, 0) X("created_at", i, now, 1, 0)

/* accounts: account a. The row statement sets the columns after id
 * (WHERE id = ?); the batch's list starts with it. Only the guard moves
 * rate windows; only the other operations change recharge settings and
 * failures. */
#define ACCT_TABLE(X, a) \
	X("id", i, (a)->id, 0, 1) X("balance_micros", i, (a)->balance, 2, 1) \
	X("reserved_micros", i, (a)->reserved, 1, 1) X("month_key", i, (a)->month_key, 1, 1) \
	X("month_spent_micros", i, (a)->month_spent, 1, 1) \
	X("sweep_due_at", I, (a)->sweep_due_at >= 0 ? &(a)->sweep_due_at : NULL, 1, 1) \
	X("day_key", i, (a)->day_key, 1, 1) X("day_spent_micros", i, (a)->day_spent, 1, 1) \
	X("low_noted", i, (int64_t)(a)->low_noted, 1, 1) X("depleted_noted", i, (int64_t)(a)->depleted_noted, 1, 1) \
	X("limit_month_noted", i, (a)->limit_month_noted, 1, 1) X("limit_day_noted", i, (a)->limit_day_noted, 1, 1) \
	X("recharge_pending", i, (int64_t)(a)->recharge_pending, 1, 1) \
	X("recharge_day_key", i, (a)->recharge_day_key, 1, 1) X("recharge_day_count", i, (a)->recharge_day_count, 1, 1) \
	X("rate_minute", i, (a)->rate.minute, 0, 1) X("rate_requests", i, (a)->rate.requests, 0, 1) \
	X("rate_tokens", i, (a)->rate.tokens, 0, 1) \
	X("recharge_threshold_micros", I, (a)->recharge_threshold >= 0 ? &(a)->recharge_threshold : NULL, 1, 0) \
	X("recharge_amount_cents", I, (a)->recharge_amount_cents >= 0 ? &(a)->recharge_amount_cents : NULL, 1, 0) \
	X("recharge_failures", i, (a)->recharge_failures, 1, 0)

#define COL_COUNT_BATCH(col, fmt, value, row, batch) +batch
_Static_assert(0 HOLDS_NEW_TABLE(COL_COUNT_BATCH, _, _) == 17 && 0 USAGES_TABLE(COL_COUNT_BATCH, _, _, _, _) == 16 &&
		       0 HOLDS_SET_TABLE(COL_COUNT_BATCH, _) == 5 && 0 GRANTS_SET_TABLE(COL_COUNT_BATCH, _) == 2 &&
		       0 DEBTS_TABLE(COL_COUNT_BATCH, _, _) == 2 && 0 MEMBERS_TABLE(COL_COUNT_BATCH, _, _) == 9 &&
		       0 JOURNAL_TABLE(COL_COUNT_BATCH, _, _, _, _, _) == 8 && 0 ACCT_TABLE(COL_COUNT_BATCH, _) == 18,
	       "the batch's rows have the positions cd_guard_write reads (sql/038; test_columns holds each to its "
	       "column by name)");

#endif
