/* ledger_rows.h: the ledger's bottom layer above the connection: account
 * rows, the journal and the grants, and the one spending order.
 *
 * Everything here works on an account row its caller has locked and
 * changes money only by appending journal rows next to the grant rows it
 * moves (docs/decisions.md, "Invariants"). It knows nothing of members, expiry or requests: the
 * layers above (ledger_members.h, ledger_due.h, the operations) call it,
 * never the other way. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_ROWS_H
#define CREDITD_LEDGER_ROWS_H
#include "ledger_columns.h"
#include "ledger_int.h"
#include "money.h"
#include "money_guard.h"
#include "money_rule.h"

struct acct {
	int64_t id;
	char ext_id[LEDGER_ID_MAX + 1];
	char kind[16];
	char status[16];
	char status_reason[16];		/* why it is suspended: "" (none), manual, dispute, payment_failed */
	int64_t balance, reserved, overdraft, month_spent, month_key;
	int64_t balance_read;		/* the balance as the row was read (ledger_events.c: a debt paid) */
	int64_t monthly_limit;		/* -1 when none */
	int64_t daily_limit;		/* -1 when none */
	int64_t day_key, day_spent;	/* the UTC day (days since 1970) and its spend */
	int64_t plan_member_cap;	/* its plan's member_cap_micros, -1: none (read by the guard only) */
	int64_t low_balance;		/* -1 when none */
	char plan[LEDGER_NAME_MAX + 1];	/* "" when none */
	int64_t plan_period;		/* the last period (month key) whose plan credit is settled, 0: none */
	/* What the account was told already (ledger_events.h): balance.low
	 * for this crossing, balance.depleted since credit last came in, and
	 * the month and day whose limit.reached went out. */
	int low_noted, depleted_noted;
	int64_t limit_month_noted, limit_day_noted;
	/* Auto-recharge (ledger_events.h): the setting (-1: off), whether a
	 * card is saved, one in flight, the UTC day's count, failures in a row. */
	int64_t recharge_threshold, recharge_amount_cents;
	int recharge_card, recharge_pending;
	int64_t recharge_failures, recharge_day_key, recharge_day_count;
	int64_t sweep_due_at;		/* -1 when none */
	struct rate rate;		/* requests and tokens per minute */
	int64_t created_at;
	char stripe_customer[LIMIT_STRIPE_ID_BYTES + 1];
	int dirty;			/* month rolled over or a sweep ran: store it */
	/* The row's version as read (sql/037: every update of the row raises
	 * it); a guard write of rows kept in memory names it. */
	int64_t row_version;
	/* How many threshold alerts it has (sql/051; ledger_alerts.h): 0
	 * costs the operations that change its money no read more. */
	int alert_count;
	/* The transaction it was read under its lock in (db->tx_serial; 0:
	 * not locked, e.g. read for a GET or kept in memory). */
	uint64_t locked_tx;
};
/* The idempotency key journal rows record (db->journal_key, see
 * ledger_int.h) for a piece of work: "<prefix>:<id>", written into buf,
 * when force is set or no key is set yet (id NULL: unchanged). Returns the
 * key to put back with db->journal_key = ... when the work is done. */
#define JOURNAL_KEY_BYTES (LIMIT_IDEMPOTENCY_KEY_BYTES + 1)
_Static_assert(sizeof("signup:") + LIMIT_ACCOUNT_ID_BYTES <= JOURNAL_KEY_BYTES, "a derived key fits the column");
const char *ledger_rows_journal_key_push(struct store *db, char buf[JOURNAL_KEY_BYTES], const char *prefix, const char *id,
			     int force);
/* Copies src ("" for NULL) into dst of cap bytes. */
void ledger_rows_copy_text(char *dst, size_t cap, const char *src);
/* Reads an account from columns c.. of the current row. */
void ledger_rows_acct_from_row_at(const struct db_row *r, unsigned int c, struct acct *a);
/* Reads an account row and locks it (FOR UPDATE), without rolling its
 * month over or sweeping it (ledger_due.h does both).
 * CD_E_NOT_FOUND (refusal REFUSE_ACCOUNT_UNKNOWN) when there is none. */
enum cd_err ledger_rows_acct_load_locked(struct store *db, const char *ext_id, struct acct *a);
enum cd_err ledger_rows_acct_load_locked_id(struct store *db, int64_t id, struct acct *a);
/* Marks a as read under its lock in the transaction numbered tx_serial
 * (a read other than ledger_rows_acct_load_locked's: the guard's read
 * CALL; a guard batch's number, copied into its record when its attempt
 * began): no handle. */
void ledger_rows_acct_mark_locked_in(uint64_t tx_serial, struct acct *a);
/* docs/architecture.md, "Which rows a write decides on": money is written
 * only from an account row locked in the transaction writing. CD_OK, or
 * CD_E_INTERNAL, logged with what, when a was not (a row from an earlier
 * transaction, a GET's read, rows kept in memory): nothing is written. */
enum cd_err ledger_rows_acct_check_locked(const struct store *db, const struct acct *a, const char *what);
/* The same against the transaction numbered tx_serial (a guard batch's,
 * copied into its record when its attempt began): no handle. */
enum cd_err ledger_rows_acct_check_locked_in(uint64_t tx_serial, const struct acct *a, const char *what);
/* Reads without locking (for GET). */
enum cd_err ledger_rows_acct_read(struct store *db, const char *ext_id, struct acct *a);
/* available = balance − reserved + overdraft_limit (docs/decisions.md, "Invariants"): the one
 * copy of the formula. */
int64_t ledger_rows_acct_available(const struct acct *a);
/* Counts a charge (or, negative, a refund) in the month's and the day's
 * spend: the one place both move. 0, or -1 (nothing moved) when either
 * would leave the money range (docs/api.md). */
int ledger_rows_acct_spent(struct acct *a, int64_t delta);
/* Writes balance, reserved, month, day, sweep and notice fields back
 * (operations store through ledger_events_acct_save, ledger_events.h, which tells what
 * the change calls for first). */
enum cd_err ledger_rows_acct_store(struct store *db, const struct acct *a);
/* The same row added to lw, a write its caller runs (ledger_events_acct_add);
 * CD_E_INTERNAL (nothing added) when a was not locked in this
 * transaction or its reserve is below 0. */
struct store_write;
enum cd_err ledger_rows_acct_add(const struct store *db, struct store_write *lw, const struct acct *a);
/* The spending order (docs/decisions.md, "Grant priority"): priority (lower first), then the
 * soonest expiry (none last), then the oldest. Written here only: every
 * statement that spends or lists grants orders by it, and money_rule_spend_burn
 * burns in the order read. */
#define GRANTS_SPEND_ORDER "priority, expires_at IS NULL, expires_at, id"
/* Spends amount (> 0) from the account's grants in spending order; what
 * the grants cannot cover becomes debt. Appends one journal row. The
 * caller has locked the account and stores it afterwards. */
enum cd_err ledger_rows_spend(struct store *db, struct acct *a, int64_t amount, const char *cause,
			 int64_t hold_id, const char *reference, const char *description,
			 int64_t *journal_id);
/* ledger_rows_spend with the journal row's source set (NULL: none); "forced"
 * marks a usage charged past the limits on the caller's word. */
enum cd_err ledger_rows_spend_as(struct store *db, struct acct *a, int64_t amount, const char *cause,
			    const char *source, int64_t hold_id, const char *reference, const char *description,
			    int64_t *journal_id);
/* A new grant as the writer inserts it (ledger_columns.h's
 * GRANTS_NEW_TABLE): expires_at -1 none; reference and description NULL:
 * none. */
struct grant_row {
	const char *source;
	int64_t amount, remaining, priority, expires_at;
	const char *reference, *description;
};
/* The account's debt row (locked): its id and what it owes (> 0), or
 * both 0. Read only when the balance is below 0: a debt row owes then only. */
struct debt_row {
	int64_t id, owed;
};
enum cd_err ledger_rows_debt_read(struct store *db, const struct acct *a, struct debt_row *d);
/* Writes a grant decided by money_rule_grant (g, on a's locked balance
 * and the debt row d read in this transaction): the debt repaid, the
 * grant n (its remaining g's) and its journal row of cause, through the
 * writer in one write; moves a->balance to g's. */
enum cd_err ledger_rows_grant_write(struct store *db, struct acct *a, const char *cause, const struct grant_row *n,
				    const struct debt_row *d, const struct grant_effect *g, int64_t *grant_id,
				    int64_t *journal_id);
/* The same rows added to lw, a write its caller runs (with more rows of
 * the same operation: a top-up's credit, ledger_topups.c): the grant is
 * the first of lw's grants_new (the journal row names it so,
 * LEDGER_NEW_GRANT), and a->balance moves to g's now (the write that
 * fails is rolled back with its transaction). A refusal (the range) adds
 * nothing usable: the caller drops lw. */
struct store_write;
enum cd_err ledger_rows_grant_add(struct store *db, struct store_write *lw, struct acct *a, const char *cause,
				  const struct grant_row *n, const struct debt_row *d, const struct grant_effect *g);
/* Adds a grant (amount > 0), repaying debt first; one journal row. */
enum cd_err ledger_rows_add_grant(struct store *db, struct acct *a, const char *source, int64_t amount,
			     int64_t priority, int64_t expires_at, const char *reference,
			     const char *description, int64_t *grant_id, int64_t *journal_id);
/* ledger_rows_add_grant with the journal row's cause (ledger_rows_add_grant's is
 * "grant"): credit given back, e.g. a dispute won. */
enum cd_err ledger_rows_add_grant_as(struct store *db, struct acct *a, const char *cause, const char *source,
				int64_t amount, const char *reference, const char *description, int64_t *grant_id);
/* One journal row (docs/decisions.md, "Journal keys"): the amount (signed), its cause and
 * source, the grant or the hold it moved (0: none), a reference and a
 * description (NULL: none). Written with designated fields, never by
 * position. */
struct journal_line {
	int64_t amount;
	const char *cause, *source;
	int64_t grant_id, hold_id;
	const char *reference, *description;
};
/* A journal row's grant_id for the grant inserted by the same write
 * (ledger_columns.h's JOURNAL_TABLE: -1 - k, the k-th of grants_new). */
#define LEDGER_NEW_GRANT (-1)
/* Appends j to account a's journal (with db's journal key and time) and
 * moves a->balance by j->amount; *journal_id the row's id (NULL: not
 * wanted). */
enum cd_err ledger_rows_journal_append(struct store *db, struct acct *a, const struct journal_line *j,
				  int64_t *journal_id);
/* The grants among g[0..n) whose remaining changed (g[i].changed) and,
 * when j is not NULL, j as ledger_rows_journal_append writes it, in one
 * write. */
enum cd_err ledger_rows_grants_journal(struct store *db, struct acct *a, const struct spend_grant *g, int n,
				  const struct journal_line *j, int64_t *journal_id);
/* A hold's end as the writer writes it (ledger_columns.h's
 * HOLDS_SET_TABLE: the fields of the batch's hold_row it reads). */
struct hold_end {
	int64_t id;
	const char *state;
	int64_t charged;
	int has_hash;
	const unsigned char *settle_hash;
	const char *response;
};
/* Writes hold h's end (its state, charge and finished_at now). */
enum cd_err ledger_rows_hold_end(struct store *db, const struct hold_end *h);
/* An optional figure or time as answers show it: -1 (none) is JSON null,
 * else the integer, or the RFC 3339 time. A new reference. */
json_t *ledger_rows_json_int(int64_t v);
json_t *ledger_rows_json_time(int64_t t);
/* A nullable integer column, -1 when SQL NULL. */
#define DB_I64_OR_NONE(s, col) (store_null((s), (col)) ? -1 : store_i64((s), (col)))
/* A journal row as every answer shows it (transactions, grants, debits,
 * exports): the one place its JSON shape is written. */
struct journal_entry {
	int64_t id, amount_micros, balance_after_micros, created_at;
	const char *cause, *source, *reference, *description;	/* NULL: null */
};
json_t *ledger_rows_journal_entry_json(const struct journal_entry *e);
/* The account as the API shows it, into *v: its row, its live grants
 * and its latest collection read (db's clock and config for the rest). */
enum cd_err ledger_rows_acct_view(struct store *db, const struct acct *a, struct ledger_account_view *v);
/* "hold_<account>_<hold>" ids: the account is locked first from the id. */
void ledger_rows_hold_id_format(char *out, size_t cap, int64_t account_id, int64_t hold_id);
int ledger_rows_hold_id_parse(const char *s, int64_t *account_id, int64_t *hold_id);
/* An answer stored by cd_write names its new hold in the old form
 * (sql/040 makes it): given the id the API gives out, in place. */
void ledger_rows_hold_id_public(json_t *answer);
#endif
