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

/* ---- The batch write's rows ----
 * A row of each list of cd_batch_write (sql/020, 034) is a JSON array:
 * one X a position, X(column, writer), the column the procedure writes
 * it to and the jsonw call that writes it (j the writer; the row's
 * source named by each macro's own parameters). The writers
 * (ledger_batch.c, ledger_batch_write.c) expand the calls; test_columns.c
 * expands the names and holds them to the procedure's text, position by
 * position, so neither side names a column by its number. */
#define BW_WRITE(col, call) call;
#define BW_NAME(col, call) col,

/* holds_new: a new hold h of account id acct. */
#define BW_HOLDS_NEW(X, j, acct, h) \
	X("account_id", jw_i64(j, acct)) X("request_id", jw_str(j, (h)->request_id)) \
	X("member", jw_str(j, (h)->has_member ? (h)->member : NULL)) \
	X("model", jw_str(j, (h)->model[0] ? (h)->model : NULL)) \
	X("action", jw_str(j, (h)->action[0] ? (h)->action : NULL)) \
	X("conversation_id", jw_str(j, (h)->has_conversation ? (h)->conversation : NULL)) \
	X("amount_micros", jw_i64(j, (h)->amount)) \
	X("max_output_tokens", jw_i64_or_null(j, (h)->max_output >= 0, (h)->max_output)) \
	X("pin_input_micros_per_mtok", jw_i64_or_null(j, (h)->has_pin, (h)->pin.input_micros_per_mtok)) \
	X("pin_cached_input_micros_per_mtok", jw_i64_or_null(j, (h)->has_pin, (h)->pin.cached_input_micros_per_mtok)) \
	X("pin_output_micros_per_mtok", jw_i64_or_null(j, (h)->has_pin, (h)->pin.output_micros_per_mtok)) \
	X("pin_margin_bps", jw_i64_or_null(j, (h)->has_pin, (h)->pin_margin)) \
	X("rate_minute", jw_i64_or_null(j, (h)->rate_minute >= 0, (h)->rate_minute)) \
	X("rate_tokens", jw_i64_or_null(j, (h)->rate_minute >= 0, (h)->rate_tokens)) \
	X("byok", jw_i64(j, (h)->byok)) X("expires_at", jw_i64(j, (h)->expires_at)) \
	X("pin_cache_write_micros_per_mtok", jw_i64_or_null(j, (h)->has_pin, (h)->pin.cache_write_micros_per_mtok))

/* usages_new and usages: usage u of account id acct, under key (NULL:
 * none) and request hash (NULL: none). */
#define BW_USAGES(X, j, acct, key, u, hash) \
	X("account_id", jw_i64(j, acct)) X("hold_id", jw_i64_or_null(j, (u)->hold_id > 0, (u)->hold_id)) \
	X("usage_key", jw_str(j, key)) X("member", jw_str(j, (u)->member)) X("model", jw_str(j, (u)->model)) \
	X("action", jw_str(j, (u)->action)) X("input_tokens", jw_i64(j, (u)->input)) \
	X("cached_input_tokens", jw_i64(j, (u)->cached)) X("output_tokens", jw_i64(j, (u)->output)) \
	X("cost_micros", jw_i64(j, (u)->cost)) X("byok", jw_i64(j, (u)->byok)) \
	X("request_id", jw_str(j, (u)->request_id)) X("conversation_id", jw_str(j, (u)->conversation)) \
	X("request_hash", jw_hex(j, hash, 32)) X("cache_write_input_tokens", jw_i64(j, (u)->cache_write)) \
	X("settle_reason", jw_str(j, (u)->settle_reason))

/* holds_set: a settled or released hold h. */
#define BW_HOLDS_SET(X, j, h) \
	X("id", jw_i64(j, (h)->id)) X("state", jw_str(j, (h)->state)) X("charged_micros", jw_i64(j, (h)->charged)) \
	X("settle_hash", jw_hex(j, (h)->has_hash ? (h)->settle_hash : NULL, 32)) \
	X("settle_response", jw_str(j, (h)->has_hash ? (h)->response : NULL))

/* grants_set: a burnt grant g; debts: a new debt row g of account id acct. */
#define BW_GRANTS_SET(X, j, g) X("id", jw_i64(j, (g)->id)) X("remaining_micros", jw_i64(j, (g)->remaining))
#define BW_DEBTS(X, j, acct, g) X("account_id", jw_i64(j, acct)) X("remaining_micros", jw_i64(j, (g)->remaining))

/* journal: a spend of amount from account id acct, the balance after it. */
#define BW_JOURNAL(X, j, acct, amount, after, cause, source, hold_id, reference, key) \
	X("account_id", jw_i64(j, acct)) X("amount_micros", jw_i64(j, -(amount))) \
	X("balance_after_micros", jw_i64(j, after)) X("cause", jw_str(j, cause)) X("source", jw_str(j, source)) \
	X("hold_id", jw_i64_or_null(j, (hold_id) > 0, hold_id)) X("reference", jw_str(j, reference)) \
	X("idempotency_key", jw_str(j, key))

/* members: member m of account id acct. */
#define BW_MEMBERS(X, j, acct, m) \
	X("account_id", jw_i64(j, acct)) X("member", jw_str(j, (m)->member)) X("month_key", jw_i64(j, (m)->month_key)) \
	X("month_spent_micros", jw_i64(j, (m)->month_spent)) X("reserved_micros", jw_i64(j, (m)->reserved)) \
	X("cap_month_noted", jw_i64(j, (m)->cap_month_noted)) X("rate_minute", jw_i64(j, (m)->rate.minute)) \
	X("rate_requests", jw_i64(j, (m)->rate.requests)) X("rate_tokens", jw_i64(j, (m)->rate.tokens))

/* accounts: account a. */
#define BW_ACCOUNTS(X, j, a) \
	X("id", jw_i64(j, (a)->id)) X("balance_micros", jw_i64(j, (a)->balance)) \
	X("reserved_micros", jw_i64(j, (a)->reserved)) X("month_key", jw_i64(j, (a)->month_key)) \
	X("month_spent_micros", jw_i64(j, (a)->month_spent)) \
	X("sweep_due_at", jw_i64_or_null(j, (a)->sweep_due_at >= 0, (a)->sweep_due_at)) \
	X("day_key", jw_i64(j, (a)->day_key)) X("day_spent_micros", jw_i64(j, (a)->day_spent)) \
	X("low_noted", jw_i64(j, (a)->low_noted)) X("depleted_noted", jw_i64(j, (a)->depleted_noted)) \
	X("limit_month_noted", jw_i64(j, (a)->limit_month_noted)) X("limit_day_noted", jw_i64(j, (a)->limit_day_noted)) \
	X("recharge_pending", jw_i64(j, (a)->recharge_pending)) X("recharge_day_key", jw_i64(j, (a)->recharge_day_key)) \
	X("recharge_day_count", jw_i64(j, (a)->recharge_day_count)) X("rate_minute", jw_i64(j, (a)->rate.minute)) \
	X("rate_requests", jw_i64(j, (a)->rate.requests)) X("rate_tokens", jw_i64(j, (a)->rate.tokens))

#endif
