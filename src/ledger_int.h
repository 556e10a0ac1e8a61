/* ledger_int.h: what the ledger's own files share and nobody else sees.
 *
 * The ledger is the only module that includes <mysql.h>. A struct ledger
 * is one worker's connection with its cache of prepared statements; it is
 * never shared between threads. Statements are prepared on first use and
 * re-prepared after a reconnect. Every result column is fetched as text
 * into a buffer sized from the column's metadata (capped), which keeps
 * the binding code in one place; integers are converted with strtoll. */
#ifndef CREDITD_LEDGER_INT_H
#define CREDITD_LEDGER_INT_H
#include <mysql.h>
#include <jansson.h>
#include "ledger.h"
#include "config.h"
#include "errors.h"

#define DB_STMTS_MAX 96
#define DB_PARAMS_MAX 24
#define DB_COL_MAX_BYTES (64 * 1024)

struct dbstmt {
	const char *sql;		/* identity: the static SQL string */
	MYSQL_STMT *st;
	unsigned int ncols;
	int is_call;			/* a CALL: results are read by db_call */
	MYSQL_BIND *res;
	char **buf;
	unsigned long *len;
	my_bool *isnull;
	my_bool *error;
};

struct ledger {
	MYSQL *db;
	const struct cfg *cfg;
	int connected;
	int probe;			/* the health watchdog's: short timeouts */
	int in_tx;			/* a statement ran since the last commit/rollback */
	int committed;			/* a *_commit procedure ended the transaction */
	/* The Idempotency-Key of the write running (NULL: none): recorded on
	 * the journal rows it appends, and its stored answer must commit with
	 * the write, so procedures leave the commit to ledger_run. */
	const char *idem_key;
	int64_t now;			/* the request's clock, fixed per transaction */
	struct dbstmt stmts[DB_STMTS_MAX];
	int nstmts;
	unsigned long long round_trips;	/* every execute, commit and rollback */
	char errmsg[256];
};

/* Connects if needed. CD_OK or CD_E_UNAVAILABLE (logged once per outage). */
enum cd_err db_ensure(struct ledger *lg);
/* Runs a cached prepared statement. Parameter formats: 'i' int64_t,
 * 'I' const int64_t * (NULL → SQL NULL), 's' const char * (NULL → NULL),
 * 'b' const void *, size_t. The whole result set is stored, so other
 * statements may run before fetching. Returns the statement or NULL with
 * *dberr set to the MariaDB error number (2000+ for client errors). */
struct dbstmt *db_exec(struct ledger *lg, const char *sql, int *dberr, const char *fmt, ...);
/* Runs a CALL of a stored procedure (params as db_exec). Reads every
 * result set it returns; the first row of the first one is left in the
 * statement's buffers (*got_row = 1) for db_i64/db_str. */
struct dbstmt *db_call(struct ledger *lg, const char *sql, int *dberr, int *got_row, const char *fmt, ...);
/* What a *_commit procedure is told: commit itself (1), or leave that to
 * ledger_run because more writes follow (an idempotency answer). */
int db_may_commit(const struct ledger *lg);
/* Records that a procedure ended the transaction. */
void db_committed(struct ledger *lg);
/* 1 when a row was fetched, 0 at the end, -1 on error. */
int db_fetch(struct dbstmt *s);
int db_null(const struct dbstmt *s, unsigned int col);
int64_t db_i64(const struct dbstmt *s, unsigned int col);
/* NUL-terminated text of the column (NULL when SQL NULL); lives until the
 * statement runs again. */
const char *db_str(const struct dbstmt *s, unsigned int col);
unsigned long db_len(const struct dbstmt *s, unsigned int col);
/* Rows changed by the last execute of s. */
uint64_t db_affected(const struct dbstmt *s);
uint64_t db_insert_id(const struct dbstmt *s);
/* Maps a MariaDB error number to the API's answer: retryable conflicts to
 * CD_E_RETRY, lost connections to CD_E_UNAVAILABLE, the rest to
 * CD_E_INTERNAL (logged with the message). */
enum cd_err db_err(struct ledger *lg, int dberr, const char *what);
/* Runs a statement for its effect only; CD_OK or the mapped error. */
enum cd_err db_do(struct ledger *lg, const char *sql, const char *what, const char *fmt, ...);

/* Runs fn inside one transaction, retrying it whole on transient
 * conflicts up to LIMIT_TX_RETRIES times. fn must be re-runnable: it
 * starts from its inputs each time. Commits on CD_OK, rolls back otherwise. */
enum cd_err ledger_run(struct ledger *lg, enum cd_err (*fn)(struct ledger *, void *), void *arg);

/* Shared pieces used by several ledger files. */
struct acct {
	int64_t id;
	char ext_id[LEDGER_ID_MAX + 1];
	char kind[16];
	char status[16];
	int64_t balance, reserved, overdraft, month_spent, month_key;
	int64_t monthly_limit;		/* -1 when none */
	int64_t low_balance;		/* -1 when none */
	char plan[LEDGER_NAME_MAX + 1];	/* "" when none */
	int64_t sweep_due_at;		/* -1 when none */
	int64_t created_at;
	char stripe_customer[256];
	int dirty;			/* month rolled over or a sweep ran: store it */
};
/* The account columns acct_from_row_at reads, with a table prefix. */
#define ACCT_COLS_OF(t) t "id, " t "ext_id, " t "kind, " t "status, " t "balance_micros, " t "reserved_micros, " \
	t "overdraft_limit_micros, " t "monthly_limit_micros, " t "low_balance_micros, " t "plan, " t "month_key, " \
	t "month_spent_micros, " t "sweep_due_at, " t "created_at, " t "stripe_customer_id"
#define ACCT_NCOLS 15
/* Reads an account from columns c.. of the current row. */
void acct_from_row_at(const struct dbstmt *s, unsigned int c, struct acct *a);
/* Rolls the month over and applies what is due, on a row locked by the
 * caller (sets a->dirty when it changed anything). */
enum cd_err acct_touch(struct ledger *lg, struct acct *a);
/* Locks the account row (FOR UPDATE), rolls the month over and applies
 * due expiries. CD_E_NOT_FOUND when no such account. */
enum cd_err acct_lock(struct ledger *lg, const char *ext_id, struct acct *a);
enum cd_err acct_lock_id(struct ledger *lg, int64_t id, struct acct *a);
/* Reads without locking (for GET). */
enum cd_err acct_read(struct ledger *lg, const char *ext_id, struct acct *a);
/* Writes balance, reserved, month and sweep fields back. */
enum cd_err acct_store(struct ledger *lg, const struct acct *a);
/* Spends amount (> 0) from the account's grants in spending order; what
 * the grants cannot cover becomes debt. Appends one journal row. The
 * caller has locked the account and stores it afterwards. */
enum cd_err ledger_spend(struct ledger *lg, struct acct *a, int64_t amount, const char *cause,
			 int64_t hold_id, const char *reference, const char *description,
			 int64_t *journal_id);
/* ledger_spend with the journal row's source set (NULL: none); "forced"
 * marks a usage charged past the limits on the caller's word. */
enum cd_err ledger_spend_as(struct ledger *lg, struct acct *a, int64_t amount, const char *cause,
			    const char *source, int64_t hold_id, const char *reference, const char *description,
			    int64_t *journal_id);
/* Adds a grant (amount > 0), repaying debt first; one journal row. */
enum cd_err ledger_add_grant(struct ledger *lg, struct acct *a, const char *source, int64_t amount,
			     int64_t priority, int64_t expires_at, const char *reference,
			     const char *description, int64_t *grant_id, int64_t *journal_id);
/* Appends one journal row and sets a->balance to balance_after. */
enum cd_err journal_append(struct ledger *lg, struct acct *a, int64_t amount, const char *cause,
			   const char *source, int64_t grant_id, int64_t hold_id,
			   const char *reference, const char *description, int64_t *journal_id);
/* The account as the API shows it (with live grants). */
json_t *acct_json(struct ledger *lg, const struct acct *a);
/* Holds that expired are released or captured; grants that expired are
 * written off. Recomputes sweep_due_at. */
enum cd_err acct_sweep(struct ledger *lg, struct acct *a);
/* A workspace member's row, locked after its account. */
struct member_row {
	int found;
	char member[LEDGER_ID_MAX + 1];
	int64_t cap;			/* -1: no cap */
	int64_t month_key, month_spent, reserved;
};
/* Locks a member row (CD_E_NOT_FOUND when none) and rolls its month over. */
enum cd_err member_lock(struct ledger *lg, const struct acct *a, const char *member, struct member_row *m);
enum cd_err member_store(struct ledger *lg, const struct acct *a, const struct member_row *m);
/* Moves a member's reserve and month spend, when the member has a row. */
enum cd_err member_adjust(struct ledger *lg, const struct acct *a, const char *member, int64_t reserved_delta,
			  int64_t spent_delta);
/* "hold_<account>_<hold>" ids: the account is locked first from the id. */
void hold_id_format(char *out, size_t cap, int64_t account_id, int64_t hold_id);
int hold_id_parse(const char *s, int64_t *account_id, int64_t *hold_id);
void ledger_id_format(char *out, size_t cap, const char *prefix, int64_t id);
#endif
