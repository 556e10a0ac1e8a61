/* rawdb.h: what the files of bench/rawdb share (see rawdb.c for what
 * the program measures): its limits, the statements it names, the
 * options, one connection with its prepared statements, and the
 * transactions each SQL version runs. */
#ifndef RAWDB_H
#define RAWDB_H
#include <errno.h>
#include <inttypes.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Limits: each with its reason. */
#define THREADS_MAX 512			/* mariadbd's max_connections is 600 in the bench stack */
#define TX_RETRIES 8			/* creditd's LIMIT_TX_RETRIES */
#define PARAMS_MAX 24			/* the widest statement (usage insert) has 15 */
#define COL_MAX_BYTES (64 * 1024)	/* creditd's DB_COL_MAX_BYTES */
#define GRANTS_PER_SPEND 64		/* creditd's LIMIT_SPEND_GRANTS */
#define SAMPLES_MAX (1u << 22)		/* latency samples per thread: 4M x 4 bytes */
#define ERRORS_MAX 1000			/* give up on a thread after this many failed transactions */
#define TEXT_MAX 128			/* ids, names, request ids */
#define BATCH_MAX 64			/* creditd's histogram ends at 64 */
#define SCRIPT_MAX (1024 * 1024)	/* a script or a CALL's lists: creditd's LIMIT_BATCH_JSON_BYTES */
#define CALL_COLS_MAX 4			/* the floor procedures answer 2 or 3 integers */

/* ---- The statements, verbatim from creditd ---- */

#define ACCT_COLS "id, ext_id, kind, status, balance_micros, reserved_micros, overdraft_limit_micros, " \
		  "monthly_limit_micros, low_balance_micros, plan, month_key, month_spent_micros, " \
		  "sweep_due_at, created_at, stripe_customer_id"
#define HOLD_COLS "id, state, amount_micros, byok, model, action, member, conversation_id, expires_at, " \
		  "charged_micros, settle_hash, settle_response, request_id"

enum stmt_id {
	ST_ACCT_LOCK, ST_ACCT_LOCK_ID, ST_HOLD_LOCK,	/* both versions */
	ST_HOLD_ADD, ST_ACCT_STORE, ST_GRANTS_SPENDABLE, ST_GRANT_SET, ST_JOURNAL_ADD, ST_USAGE_ADD,
	ST_HOLD_SETTLED,
	ST_FLOOR_AUTHORIZE, ST_FLOOR_SETTLE,		/* the call version */
	ST_BATCH_READ, ST_BATCH_WRITE,			/* the batch version */
	ST_COUNT
};

#define ACCT_NCOLS 15

enum sql_version {
	SQL_STATEMENTS,			/* one round trip per statement, then COMMIT */
	SQL_SCRIPTS,			/* a text of reads, then one of writes ending in COMMIT */
	SQL_CALL,			/* one CALL that commits: the database floor */
	SQL_BATCH,			/* creditd's two CALLs: read, then write and commit */
};

/* Errors of our own, beside MariaDB's numbers (all below 1000). */
enum { E_NOT_FOUND = 1, E_REFUSED = 2, E_STATE = 3, E_DEBT = 4, E_CLIENT = 5 };

/* ---- Options ---- */

struct options {
	const char *socket, *user, *password, *database;
	long threads, warmup_s, duration_s, accounts, ttl_s;
	int hot;
	enum sql_version sql;		/* --sql */
	long batch;			/* --batch: operations per transaction (scripts, batch) */
	const char *prefix, *hot_account, *model, *tag;
	int64_t hold_micros, cost_micros, input_tokens, output_tokens;
	int64_t max_output_tokens;	/* the hold's output tokens (batch), -1: none */
};
extern struct options opt;

/* ---- One connection and its statements ---- */

struct stmt {
	MYSQL_STMT *st;
	unsigned int ncols;
	MYSQL_BIND *res;
	char **buf;
	unsigned long *len;
	my_bool *isnull;
	my_bool *error;
};

struct conn {
	MYSQL *db;
	struct stmt s[ST_COUNT];
	unsigned long long round_trips;	/* executes, commits and rollbacks, as creditd counts them */
	char stmt_error[256];		/* why the last transaction failed, for the report */
	int priced;			/* batch: the model has a price, pinned on each hold */
	int64_t pin[4];			/* batch: its input, cached input and output micros per Mtok, margin bps */
};


/* rawdb_conn.c: a connection, its statements prepared for opt.sql, and
 * running them as creditd's db_exec does ('i' int64_t, 'I' const int64_t *,
 * 's' const char *, 'b' const void *, size_t). 0 or an error number. */
int conn_open(struct conn *c);
void conn_close(struct conn *c);
int stmt_errno(struct conn *c, MYSQL_STMT *st);
int exec(struct conn *c, enum stmt_id id, const char *fmt, ...);
int call_rows(struct conn *c, MYSQL_STMT *st, int64_t *out, unsigned int nout, int *got);
int call_run(struct conn *c, enum stmt_id id, int64_t *out, unsigned int nout, const char *fmt, ...);
int fetch(struct stmt *s);
const char *col_str(const struct stmt *s, unsigned int col);
int64_t col_i64(const struct stmt *s, unsigned int col, int64_t if_null);


struct acct {
	int64_t id, balance, reserved, overdraft, monthly_limit, month_key, month_spent, sweep_due_at;
	char status[16];
};

struct pair {
	char account[TEXT_MAX];
	char request_id[TEXT_MAX];
	int64_t account_id, hold_id;
};

struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

/* A grant as a spend burns it (scripts and batch). */
struct sgrant { int64_t id, account, remaining; int debt, changed; };

__attribute__((format(printf, 2, 3)))
void sb(struct sbuf *b, const char *fmt, ...);
int64_t month_key_of(int64_t now);

/* The transactions, by version (rawdb_tx.c: statements, call, scripts;
 * rawdb_batch.c: batch): 0 or an error number; the caller commits the
 * statements version's. */
int authorize_tx(struct conn *c, struct pair *p, int64_t now);
int settle_tx(struct conn *c, const struct pair *p, int64_t now);
int authorize_call(struct conn *c, struct pair *p, int64_t now);
int settle_call(struct conn *c, const struct pair *p, int64_t now);
int authorize_script(struct conn *c, struct pair *p, int n, int64_t now);
int settle_script(struct conn *c, struct pair *p, int n, int64_t now);
int authorize_batch(struct conn *c, struct pair *p, int n, int64_t now);
int settle_batch(struct conn *c, struct pair *p, int n, int64_t now);
#endif
