/* store_db.h: the store as the ledger's files use it: statements, results, transactions.
 *
 * The store is the only module that includes <mysql.h>. A struct store
 * is one worker's connection with its cache of prepared statements; it is
 * never shared between threads. Statements are prepared on first use and
 * re-prepared after a reconnect. Every result column is fetched as text
 * into a buffer sized from the column's metadata (capped), which keeps
 * the binding code in one place; integers are converted with strtoll. */
#ifndef CREDITD_STORE_DB_H
#define CREDITD_STORE_DB_H
#include <mysql.h>
#include <jansson.h>
#include "store.h"
#include "config.h"
#include "errors.h"
#include "refusal.h"
#include "dynbuf.h"
#include "limits.h"

#define DB_STMTS_MAX LIMIT_DB_STATEMENTS
#define DB_PARAMS_MAX LIMIT_DB_PARAMS
#define DB_COL_MAX_BYTES LIMIT_DB_COLUMN_BYTES

struct dbstmt {
	const char *sql;		/* identity: the static SQL string */
	MYSQL_STMT *st;
	unsigned int ncols;
	int is_call;			/* a CALL: results are read by store_call */
	MYSQL_BIND *res;
	char **buf;
	unsigned long *len;
	my_bool *isnull;
	my_bool *error;
};

/* One database node's connection with its prepared statements. */
struct db_conn {
	MYSQL *db;
	int connected;
	unsigned epoch;			/* store_noderoute_epoch when it connected */
	int galera;			/* the server is a Galera node (wsrep_on) */
	int sync_wait;			/* its session's wsrep_sync_wait is 1 */
	int64_t ok_ms;			/* timefmt_mono_ms of its last transaction that ended well */
	struct dbstmt stmts[DB_STMTS_MAX];
	int nstmts;
};

struct store {
	/* The connection in use, to node `node` (noderoute.h): one per node
	 * configured, made on first use; switched between transactions only. */
	struct db_conn *c;
	struct db_conn *conns;
	int node;
	/* The database nodes configured, 1 or more (store_node_count): set
	 * with the handle, read by the transaction loop on each attempt. */
	int nodes;
	/* Whose writes follow (store_route): the account the next
	 * transactions route by, NULL for the node of no account. */
	char route[LIMIT_ACCOUNT_ID_BYTES + 1];
	int routed;
	/* The transaction ran on the node of no account and met the account
	 * it writes: routed to that account's node for the rest of its
	 * transaction loop (store_tx_reroute), its reads still causal. */
	int rerouted;
	/* Routed, its reads causal all the same (store_route_causal): until
	 * the next store_route. */
	int causal;
	int reroute_now;		/* the next attempt moves there at once, no backoff */
	/* The transaction writes two accounts (a referral's reward: their
	 * homes may be two Galera nodes, each certifying against its own
	 * writes): tried up to LIMIT_TX_RETRIES_WIDE times, within the same
	 * deadline. Set by the ledger when it locks the second account;
	 * cleared by store_tx_init. */
	int tx_wide;
	/* A COMMIT, or a procedure that may commit, was sent in this
	 * transaction: if its connection dies, the change may have happened,
	 * so it is never run again on another node. */
	int commit_sent;
	const struct cfg *cfg;
	int connected;
	int probe;			/* the health watchdog's: short timeouts */
	int connect_errno;		/* MariaDB's error of the last failed connect */
	int in_tx;			/* a statement ran since the last commit/rollback */
	/* The transaction's number on this ledger: raised whenever one ends
	 * (commit, rollback, a CALL's COMMIT, a lost connection). A row read
	 * under its lock carries the number it was locked in (struct acct's
	 * locked_tx), and money is written only from rows locked in the
	 * transaction writing (ledger_rows_acct_check_locked). Starts at 1. */
	uint64_t tx_serial;
	int committed;			/* a *_commit procedure ended the transaction */
	/* On Galera, the mark the transaction writes on each account it
	 * locks, and the first account it marked (0: none yet), whose mark
	 * is looked at before the COMMIT (store_tx.c, sql/053); or, when the
	 * transaction marked a row of its own before any account (a Stripe
	 * event's, sql/085), that row's: mark_row the statement that reads its
	 * mark back by mark_row_key (NULL: none). */
	int64_t tx_mark;
	int64_t mark_first;
	const char *mark_row;
	char mark_row_key[LIMIT_IDEMPOTENCY_KEY_BYTES + 1];
	int64_t mark_id;		/* this handle's row of tx_marks (0: not drawn yet) */
	/* The Idempotency-Key of the write running (NULL: none): recorded on
	 * the journal rows it appends, and its stored answer must commit with
	 * the write, so procedures leave the commit to store_tx_end. */
	const char *idem_key;
	/* The idempotency key journal rows record
	 * (docs/decisions.md, "Journal keys"): the request's Idempotency-Key,
	 * else the one that makes the change happen once ("settle:hold_…",
	 * "usage:<request_id>", a Stripe event id, "signup:<account>");
	 * expiries record their own ("expire:hold_…", "expire:grant_…")
	 * whichever request ran them. NULL: none. */
	const char *journal_key;
	/* Who acted, as journal rows name it (docs/api.md, "`actor` names
	 * who wrote the row"): the request's key's prefix, "console:" and it for the
	 * console's calls, "stripe" while a Stripe event is applied; NULL is
	 * creditd itself ("system": the sweep, expiries, renewals). Set by
	 * the router for each request, by the guard for each operation of a
	 * batch; lives as long as the request. */
	const char *actor;
	/* Why the running operation refused, set where it decided (refusal_set
	 * returns the error code to return); read by ledger_write. */
	struct refusal refusal;
	int64_t now;			/* the request's clock, fixed per transaction */
	/* now's UTC month (202611, timefmt_month_key) and day (days since
	 * the epoch): the periods every spend counter of the transaction
	 * is counted in, worked out once with now. */
	int64_t now_month, now_day;
	/* now's UTC month's bounds (timefmt_month_bounds): its first second,
	 * and the next month's, worked out with it. */
	int64_t now_month_start, now_month_end;
	struct dbstmt stmts[DB_STMTS_MAX];
	int nstmts;
	unsigned long long round_trips;	/* every execute, commit and rollback */
	char errmsg[1024];	/* a connect's error with its TLS hint (store.c tls_hint) */
	/* An attempt that met accounts with something due (expiries, a
	 * plan's credit) ends with CD_E_DUE, naming them here
	 * (store_due_add); the loop then runs due_bring (one transaction's
	 * body, handed by the layer above as qsort is handed its comparator)
	 * for each, as attempts of its own, and runs the attempt again. */
	int64_t due_ids[LIMIT_BATCH_OPS];
	int ndue;
	enum cd_err (*due_bring)(struct store *db, int64_t account_id);
	enum store_retry retry_why;	/* the running attempt's reason to run again */
	int triggers_unparsed;		/* a write met a cached table copy whose triggers did not parse */
};

/* Fixes the transaction's clock: now, now_month, now_day (at each
 * attempt, and when the handle is made). */
void store_clock(struct store *db);
/* Connects if needed. CD_OK or CD_E_UNAVAILABLE (logged once per outage). */
enum cd_err store_ensure(struct store *db);
/* Runs a cached prepared statement. Parameter formats: 'i' int64_t,
 * 'I' const int64_t * (NULL → SQL NULL), 's' const char * (NULL → NULL),
 * 'b' const void *, size_t. The whole result set is stored, so other
 * statements may run before fetching. Returns the statement or NULL with
 * *dberr set to the MariaDB error number (2000+ for client errors). */
struct dbstmt *store_exec(struct store *db, const char *sql, int *dberr, const char *fmt, ...);
/* store_exec of sql with one parameter, key (a string: an integer key's
 * digits are looked up by the index as the integer), and its first row's
 * first column into *out: 1 (a row), 0 (none: *out 0), or -1 with
 * *dberr set (CR_UNKNOWN_ERROR when the row could not be fetched). */
int store_exec_i64(struct store *db, const char *sql, const char *key, int64_t *out, int *dberr);
/* A statement's parameters, bound in order one typed call at a time, so
 * the compiler checks each value (procedure calls take a dozen or more,
 * where a format string could not be checked). Values are not copied:
 * strings and blobs must outlive the execution. Past DB_PARAMS_MAX the
 * statement is refused, not run with some of them. */
struct db_params {
	MYSQL_BIND bind[DB_PARAMS_MAX];
	long long ints[DB_PARAMS_MAX];
	unsigned long lens[DB_PARAMS_MAX];
	my_bool nulls[DB_PARAMS_MAX];
	int n;
	int overflow;
};
void store_params_init(struct db_params *p);
void store_param_i64(struct db_params *p, int64_t v);
void store_param_i64_or_null(struct db_params *p, const int64_t *v);	/* NULL: SQL NULL */
void store_param_str(struct db_params *p, const char *s);		/* NULL: SQL NULL */
void store_param_text(struct db_params *p, const char *s, size_t len);	/* NULL: SQL NULL */
void store_param_blob(struct db_params *p, const void *data, size_t len);	/* NULL: SQL NULL */
/* Runs a cached prepared statement with p (a CALL's results are left
 * unread: store_sets.h reads them). NULL with *dberr as store_exec. */
struct dbstmt *store_exec_params(struct store *db, const char *sql, const struct db_params *p, int *dberr);
/* Runs a CALL of a stored procedure with p. Reads every result set it
 * returns; the first row of the first one is left in the statement's
 * buffers (*got_row = 1) for store_i64/store_str. */
struct dbstmt *store_call(struct store *db, const char *sql, const struct db_params *p, int *dberr, int *got_row);
/* What a *_commit procedure is told: commit itself (1), or leave that to
 * store_tx_end because more writes follow (an idempotency answer). */
int store_may_commit(const struct store *db);
/* The connection's server is a Galera node. There, a batch's write CALL
 * never carries its COMMIT: a transaction brute-force aborted by another
 * node is told at the next command, which must be the COMMIT (a
 * multi-statement script once ran on past such an abort in a new
 * transaction and committed half a batch). */
int store_galera(const struct store *db);
/* Records that a procedure ended the transaction (the writer's CALL with
 * its COMMIT, store_write.c). */
void store_committed(struct store *db);
/* 1 when a row was fetched, 0 at the end, -1 on error. */
int store_fetch(struct dbstmt *s);
int store_null(const struct dbstmt *s, unsigned int col);
int64_t store_i64(const struct dbstmt *s, unsigned int col);
/* NUL-terminated text of the column (NULL when SQL NULL); lives until the
 * statement runs again. */
const char *store_str(const struct dbstmt *s, unsigned int col);
unsigned long store_len(const struct dbstmt *s, unsigned int col);
/* Copies the column's text into dst (cap bytes with the NUL; SQL NULL:
 * null_text). 0, or -1 (logged, dst "") when it does not fit: the rows
 * that operators' lists copy out are sized to hold any value of their
 * columns, so that is a bug, never a value cut short. */
int store_copy(const struct dbstmt *s, unsigned int col, char *dst, size_t cap, const char *null_text);
/* Rows changed by the last execute of s. */
uint64_t store_affected(const struct dbstmt *s);
uint64_t store_insert_id(const struct dbstmt *s);
/* Maps a MariaDB error number to the API's answer: retryable conflicts to
 * CD_E_RETRY, lost connections to CD_E_UNAVAILABLE, the rest to
 * CD_E_INTERNAL (logged with the message). */
enum cd_err store_err(struct store *db, int dberr, const char *what);
/* A connection that cannot go on after MariaDB's error e: lost, killed,
 * or out of step with the server (2014, commands out of sync: a result
 * left unread by some path, seen once under Galera's load): dropped and
 * made again, so its state never outlives the statement that met it. */
int store_conn_lost(int e);
/* 1 when MariaDB's error text is that of a trigger it could not parse
 * (store_err's reason "triggers"). */
int store_triggers_text(const char *msg);
/* Runs a statement for its effect only; CD_OK or the mapped error. */
enum cd_err store_do(struct store *db, const char *sql, const char *what, const char *fmt, ...);

/* Runs a text statement without parameters or results (a savepoint: not
 * a prepared statement's business), counted as a round trip. */
enum cd_err store_text(struct store *db, const char *sql, const char *what);

/* A row of either kind of result (a prepared statement's, st, or one of
 * a CALL's result sets, sets and the index of its first value), for
 * readers shared by both (ledger_rows_acct_from_row_at). */
struct db_sets;
struct db_row {
	const struct dbstmt *st;
	const struct db_sets *sets;
	size_t cell;
};
int store_row_null(const struct db_row *r, unsigned int col);
int64_t store_row_i64(const struct db_row *r, unsigned int col);
const char *store_row_str(const struct db_row *r, unsigned int col);	/* NULL when SQL NULL */
unsigned long store_row_len(const struct db_row *r, unsigned int col);

/* The transaction loop, driven by its caller (so the layers above call
 * down into this one and are never called back):
 *	struct store_tx t;
 *	for (store_tx_init(db, &t); store_tx_next(db, &t);)
 *		store_tx_end(db, &t, body(db, ...));
 *	return t.rc;
 * next opens an attempt (connected, db->now set) or says the loop is over;
 * end commits on CD_OK or rolls back. It is the only loop that runs a
 * transaction again (docs/architecture.md, "One retry loop"): an attempt
 * that fails to be run again ends with one reason of enum store_retry
 * (store.h),
 * each bounded as its comment says and counted (store_tx_retries). An
 * account met due (RETRY_DUE) is brought due by attempts of this same
 * loop, each in a transaction of its own, before the body's next attempt.
 * Refused at once while the watchdog says the database is down. */
/* The attempt running fails to be run again, for why: CD_E_RETRY. The
 * first reason named in an attempt is its reason. */
enum cd_err store_retry(struct store *db, enum store_retry why);
/* An attempt run again for why: counted (store_tx.c, as it starts). */
void store_retry_count(enum store_retry why);
struct store_tx {
	int attempt;			/* attempts of the body started */
	int done;			/* no attempt follows */
	enum cd_err rc;			/* the outcome */
	int64_t started_ms;		/* its read timeout counts from here */
	enum store_retry why;		/* why the last attempt is run again */
	int due_passes;			/* times accounts were brought due between its attempts */
	int looked_causal;		/* a miss on its account's node looked for again causally */
	/* Accounts to bring due before the body's next attempt, the first
	 * one by the attempt open (bringing), each bring its own attempts and
	 * read timeout, as a transaction of its own would have. */
	int64_t due[LIMIT_BATCH_OPS];
	int ndue, bringing, bring_attempt;
	int64_t bring_started_ms;
	enum cd_err (*due_bring)(struct store *db, int64_t account_id);	/* the body that brings one due */
	/* A caller's own list of the accounts its attempt met due (a guard
	 * batch's), read when an attempt ends CD_E_DUE, each brought by
	 * due_bring: set by the caller after store_tx_init, as the handle's
	 * list (store_due_add) would be named, without a call per account.
	 * NULL: store_due_add's alone. */
	const int64_t *due_list;
	const int *due_count;
	/* Made as a value (STORE_TX_ON): begun by the first store_tx_next on
	 * begin_route's node, as store_tx_init_on would begin it there. */
	int begin_on;
	const char *begin_route;
	/* A loop begun on an account's node (store_tx_init_on): the caller's
	 * routing, put back when the loop ends. */
	int on, saved_routed, saved_causal;
	char saved_route[LIMIT_ACCOUNT_ID_BYTES + 1];
};
void store_tx_init(struct store *db, struct store_tx *t);
/* The same, the loop's transactions on account's node (NULL: the node of
 * no account), the caller's routing put back when store_tx_next ends it. */
void store_tx_init_on(struct store *db, struct store_tx *t, const char *account);
/* The same record made as a value, begun by its first store_tx_next (a
 * caller that hands the loop its own lists with it: a guard batch's,
 * whose loop is then one call a pass):
 *	struct store_tx t = STORE_TX_ON(account);
 *	while (store_tx_next(db, &t)) ... */
#define STORE_TX_ON(account) {.rc = CD_E_RETRY, .begin_on = 1, .begin_route = (account)}
/* The running attempt met account id with something due: named for the
 * loop, which runs bring(db, id) as the body of attempts of its own (a
 * transaction: committed, or run again on a conflict) once the attempt
 * has ended with CD_E_DUE (rolled back), before the body's next one (at
 * most LIMIT_TX_DUE_PASSES passes). An id named twice is brought once. */
void store_due_add(struct store *db, int64_t id, enum cd_err (*bring)(struct store *db, int64_t account_id));
int store_tx_next(struct store *db, struct store_tx *t);
/* An attempt's connection (store.c, for store_tx_next): connected to
 * the node the attempt runs on (its account's, routed), its reads causal
 * when they must be. CD_OK or the failure; *next_node = 1 when an
 * unreachable node of several was left for the next (the attempt to be
 * opened again there; tries: the attempts made, bounding it). While the
 * hold ids' key is due (store_holdid_due) it is read here, on the
 * connection made ready: *key_rc, CD_OK or the read's failure (the
 * attempt's, run again as any other). */
enum cd_err store_connect(struct store *db, int tries, int *next_node, enum cd_err *key_rc);
/* The hold ids' key is to be read: not read yet, and not found missing
 * in the last LIMIT_HOLDID_RECHECK_MS. */
int store_holdid_due(void);
void store_tx_end(struct store *db, struct store_tx *t, enum cd_err rc);
/* A transaction on the node of no account that is about to lock the row
 * of account ext_id, the first account it meets: its loop is pinned to
 * that account's node (with several Galera nodes), CD_E_RETRY when it must
 * run again there, else CD_OK; an account met after the first is locked
 * where the loop runs. Each account's money is written on one node, under
 * that node's row locks, like on one server (a referral's referrer, the
 * one second account, is locked from its referred account's node, last). */
enum cd_err store_tx_reroute(struct store *db, const char *ext_id);
/* The hold ids' key read (src/core/holdid.h) before a hold id is parsed
 * outside a transaction; each transaction's first attempt reads it too. */
void store_holdid_ensure(struct store *db);

/* What the store's files share: the
 * nodes configured (1 without [database] nodes), switching the
 * connection in use to a node (between transactions), a random pause
 * before a retry. */
int store_node_count(const struct store *db);
void store_use_node(struct store *db, int node);
void store_backoff(int attempt);
/* Closes the connection in use; its transaction is the server's to roll back. */
void store_disconnect(struct store *db);
/* 1 when the node in use takes queries (Galera's wsrep_ready and
 * Synced; always without Galera), else 0 (why in store_errmsg). */
int store_node_ready(struct store *db);

/* Galera's aborts it does not tell (store_tx.c, sql/053): a transaction
 * marks every account it locks, and its end (store_tx.c) looks at the first
 * account's mark before it commits. store_mark_next gives the mark to
 * write before locking account id (0: the accounts of a batch, not
 * known yet); when the lock may write the first account's mark again, it
 * looks at that mark first (CD_E_RETRY when it is gone, logged).
 * store_mark_locked records account id locked under the mark (the first
 * is kept). store_mark_missing says the column is not there yet (053 not
 * applied): logged once, and locks go on unmarked. */
enum cd_err store_mark_next(struct store *db, int64_t id, int64_t *mark);
void store_mark_locked(struct store *db, int64_t id);
/* A transaction that writes before it locks any account (a Stripe
 * event's row, which a webhook writes first; an Idempotency-Key's claim,
 * which a write under a key writes first) is marked by that row: the
 * abort Galera does not tell is not only a procedure's (sql/085 says
 * where it was seen). store_mark_value gives the mark to write on it (0
 * off Galera), store_mark_row records the row once written: before the
 * COMMIT its mark is read back by sql_read (one "s" parameter, key), as
 * the first account's is. Recorded only while nothing is marked yet. */
int64_t store_mark_value(struct store *db);
void store_mark_row(struct store *db, const char *sql_read, const char *key);
/* A transaction of money that locks no account first (a collection's
 * try, a price, a batch's unresolved lines, an account made) is marked on
 * Galera just before its first statement that writes or locks
 * (sql/085): by this handle's own row of tx_marks, written with the mark
 * here, read back before the COMMIT. Called by the transaction, not done
 * for all: a background pass's one statement (a purge, an expiry) has
 * nothing before it to lose, and its mark would be a replicated write
 * each pass. Nothing when the transaction is marked already, or off
 * Galera. */
enum cd_err store_mark_all(struct store *db);
#ifdef CREDITD_TEST_CLOCK
/* Tests only: the untold rollback CREDITD_TEST_UNTOLD_ROLLBACK_FILE may
 * have follow a write CALL (what) or a statement beginning as it says
 * (store_fault.c). */
void store_fault_call(struct store *db, const char *what);
void store_fault_after(struct store *db, const char *sql);
#endif
_Static_assert(LIMIT_STRIPE_ID_BYTES <= LIMIT_IDEMPOTENCY_KEY_BYTES, "a row marked first is keyed by an event id or a key");
/* No mark of the transaction ending (its commit, rollback or loss). */
static inline void store_marks_clear(struct store *db)
{
	db->mark_first = 0;
	db->mark_row = NULL;
}
void store_mark_missing(const char *what);
int store_mark_absent(void);

/* A guard batch's read CALL, its statements' work done in the store
 * (docs/architecture.md, "The guard's round trips"): on
 * Galera the procedure that locks the accounts by writing them, marked
 * once 053 is applied (a database before 043 or 053 read the older way,
 * said once); its parameters the mark, the first account marked, the
 * grants' page and the lists of j named in lists; its sets into sets.
 * Marked, the first account of the set named mark_set (its id the
 * column mark_col) is recorded as locked under the mark (store_mark_locked),
 * so the commit looks at its mark: every account read was marked (one
 * made between the procedure's UPDATE and its read would not be: a
 * retry, told as an abort). */
struct jw;
struct db_sets;
struct store_read {
	const char *sql, *sql_galera, *sql_mark;	/* the procedure, each way */
	int lock;				/* 1: the accounts locked */
	int64_t page;				/* the grants read per account, one more */
	const struct jw *j;
	const char *const *lists;
	int nlists;
	struct db_sets *sets;
	const char *mark_set;
	unsigned int mark_col;
	const char *what;
};
enum cd_err store_read_call(struct store *db, const struct store_read *r);

#endif
