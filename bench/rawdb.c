/* rawdb.c: the bench's durability limit. N threads, each with its own
 * MariaDB connection (unix socket) and prepared statements, run creditd's
 * authorize and settle transactions back to back: the same statements in
 * the same order, with the same session settings, and nothing else (no
 * HTTP, no FastCGI, no JSON parsing, no key lookups). What this reaches is
 * what the database and the disk allow creditd at most.
 *
 * Four versions (--sql): three of creditd's SQL (batch is what it runs
 * now; statements and scripts are what it ran before), and the database
 * floor:
 *   batch       creditd's guard batches now (src/ledger/ledger_load.c,
 *               src/ledger/ledger_batch.c, sql/020_batch_calls.sql): CALL
 *               cd_batch_read(lock 1, page 65, then 9 lists naming the
 *               rows to lock and read), then CALL cd_batch_write(now,
 *               commit 1, then 12 lists of the rows to write), so the
 *               COMMIT happens inside it: 2 round trips per transaction.
 *               Each list is a JSON array bound as a string parameter of
 *               its own, or SQL NULL when empty, as creditd binds them;
 *               an authorize of one account locks it by its external id
 *               in one statement. The lists are the ones creditd writes
 *               for the same operations; the decisions in between (guard
 *               checks, rate window, grants burnt in spending order) are
 *               made here on the rows the read returned. Both CALLs are
 *               prepared once per connection. --batch N (default 1) as
 *               for scripts;
 *   statements  one round trip per statement, as creditd had them once:
 *               authorize 4 round trips (SELECT account FOR UPDATE, INSERT
 *               hold, UPDATE account, COMMIT), settle 9 (SELECT account FOR
 *               UPDATE, SELECT hold FOR UPDATE, SELECT grants FOR UPDATE,
 *               UPDATE grant, INSERT journal, INSERT usage, UPDATE account,
 *               UPDATE hold, COMMIT);
 *   scripts     creditd's group-commit batches as they were before the
 *               CALLs: one text of locking reads, then one text of
 *               multi-row writes ending in COMMIT, 2 round trips per
 *               transaction, on a connection of its own that allows
 *               several statements per text (creditd's no longer do).
 *               --batch N (default 1) puts N authorizes, then their N
 *               settles, in each transaction, as creditd's combiner does
 *               under load;
 *   call        the database floor: each transaction is one CALL of a
 *               procedure of the bench's own (bench/floor.sql:
 *               bench_floor_authorize, bench_floor_settle) that does the
 *               statements version's work inside MariaDB and commits, 1
 *               round trip per transaction. Not creditd's SQL: what the
 *               database can do when nothing else costs anything. The
 *               procedures must exist (bench/run.sh creates them).
 * The SQL of creditd's versions is copied from creditd (and src/ledger/ledger.c's
 * connection flags and session setup). When creditd's statements, its
 * procedures or their lists change, this file must change with them:
 * bench/run.sh compares the round trips per authorize and per settle
 * counted here with creditd's own counter (GET /metrics) and flags a
 * difference (a change inside a list it cannot see).
 *
 * It writes real ledger rows (holds, grant burns, journal, usage) that keep
 * the invariants `creditctl verify` checks; an account that would go into
 * debt is an error (the bench funds every account well beyond its load).
 *
 * usage: rawdb --socket PATH --user U --database D --threads N --warmup S
 *              --duration S --mode spread|hot [--accounts N] [--prefix P]
 *              [--hot-account ID] --hold-micros M --cost-micros M
 *              [--model NAME] [--input-tokens N] [--output-tokens N]
 *              [--tag TAG] [--ttl-seconds S] [--sql statements|scripts|call|batch] [--batch N]
 *              [--max-output-tokens N]
 * --max-output-tokens is the output the hold is for (the batch version
 * stores it with the hold and counts it in the rate window, as creditd).
 * The password is read from the environment (RAWDB_PASSWORD), never argv.
 * Prints one JSON object on stdout; exit status 0 when no error. */
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

static const char *const sql_text[ST_COUNT] = {
	[ST_ACCT_LOCK] = "SELECT " ACCT_COLS " FROM accounts WHERE ext_id = ? FOR UPDATE",
	[ST_HOLD_ADD] = "INSERT INTO holds (account_id, request_id, member, model, action, conversation_id, "
			"amount_micros, byok, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_ACCT_STORE] = "UPDATE accounts SET balance_micros = ?, reserved_micros = ?, month_key = ?, "
			  "month_spent_micros = ?, sweep_due_at = ? WHERE id = ?",
	[ST_ACCT_LOCK_ID] = "SELECT " ACCT_COLS " FROM accounts WHERE id = ? FOR UPDATE",
	[ST_HOLD_LOCK] = "SELECT " HOLD_COLS " FROM holds WHERE id = ? AND account_id = ? FOR UPDATE",
	[ST_GRANTS_SPENDABLE] = "SELECT id, remaining_micros FROM grants WHERE account_id = ? "
				"AND remaining_micros > 0 ORDER BY priority, expires_at IS NULL, "
				"expires_at, id LIMIT 64 FOR UPDATE",
	[ST_GRANT_SET] = "UPDATE grants SET remaining_micros = ? WHERE id = ?",
	[ST_JOURNAL_ADD] = "INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, "
			   "source, grant_id, hold_id, reference, description, created_at) "
			   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_USAGE_ADD] = "INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, "
			 "input_tokens, cached_input_tokens, output_tokens, cost_micros, byok, request_id, "
			 "conversation_id, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_HOLD_SETTLED] = "UPDATE holds SET state = 'settled', charged_micros = ?, settle_hash = ?, "
			    "settle_response = ?, finished_at = ? WHERE id = ?",
	/* bench/floor.sql: (account, request_id, model, amount, ttl, now) and
	 * (account id, hold id, cost, input tokens, output tokens, settle
	 * hash, now). */
	[ST_FLOOR_AUTHORIZE] = "CALL bench_floor_authorize(?, ?, ?, ?, ?, ?)",
	[ST_FLOOR_SETTLE] = "CALL bench_floor_settle(?, ?, ?, ?, ?, ?, ?)",
	/* sql/020_batch_calls.sql, as src/ledger/ledger_load.c (SQL_READ) and
	 * src/ledger/ledger_batch.c (SQL_WRITE) call them: (lock, page, then the 9
	 * lists of READ_LISTS) and (now, commit, then the 12 lists of
	 * WRITE_LISTS). */
	[ST_BATCH_READ] = "CALL cd_batch_read(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_BATCH_WRITE] = "CALL cd_batch_write(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
};
#define ACCT_NCOLS 15

enum sql_version {
	SQL_STATEMENTS,			/* one round trip per statement, then COMMIT */
	SQL_SCRIPTS,			/* a text of reads, then one of writes ending in COMMIT */
	SQL_CALL,			/* one CALL that commits: the database floor */
	SQL_BATCH,			/* creditd's two CALLs: read, then write and commit */
};

static const char *const sql_version_name[] = {"statements", "scripts", "call", "batch"};

/* Which statements a version prepares: the scripts version none. */
static int stmt_used(int id, enum sql_version sql)
{
	if (sql == SQL_CALL)
		return id == ST_FLOOR_AUTHORIZE || id == ST_FLOOR_SETTLE;
	if (sql == SQL_BATCH)
		return id == ST_BATCH_READ || id == ST_BATCH_WRITE;
	return sql == SQL_STATEMENTS && id < ST_FLOOR_AUTHORIZE;
}

static const char session_setup[] = "SET SESSION tx_isolation = 'READ-COMMITTED', "
				    "time_zone = '+00:00', innodb_lock_wait_timeout = 10, autocommit = 0";

/* Errors of our own, beside MariaDB's numbers (all below 1000). */
enum { E_NOT_FOUND = 1, E_REFUSED = 2, E_STATE = 3, E_DEBT = 4, E_CLIENT = 5 };

/* ---- Options ---- */

static struct {
	const char *socket, *user, *password, *database;
	long threads, warmup_s, duration_s, accounts, ttl_s;
	int hot;
	enum sql_version sql;		/* --sql */
	long batch;			/* --batch: operations per transaction (scripts, batch) */
	const char *prefix, *hot_account, *model, *tag;
	int64_t hold_micros, cost_micros, input_tokens, output_tokens;
	int64_t max_output_tokens;	/* the hold's output tokens (batch), -1: none */
} opt = {NULL, "creditd", NULL, "creditd", 1, 2, 10, 10000, 600, 0, 0, 1, "acct-", "hot", "gpt-4o", "raw",
	 -1, -1, 1000, 200, -1};

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

static int bind_results(struct stmt *s)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(s->st);
	if (meta == NULL)
		return 0;
	s->ncols = mysql_num_fields(meta);
	MYSQL_FIELD *fields = mysql_fetch_fields(meta);
	s->res = calloc(s->ncols, sizeof(MYSQL_BIND));
	s->buf = calloc(s->ncols, sizeof(char *));
	s->len = calloc(s->ncols, sizeof(unsigned long));
	s->isnull = calloc(s->ncols, sizeof(my_bool));
	s->error = calloc(s->ncols, sizeof(my_bool));
	int rc = s->res && s->buf && s->len && s->isnull && s->error ? 0 : -1;
	for (unsigned int i = 0; rc == 0 && i < s->ncols; i++) {
		unsigned long size = fields[i].length + 2;
		size = size < 32 ? 32 : size > COL_MAX_BYTES ? COL_MAX_BYTES : size;
		s->buf[i] = malloc(size);
		if (s->buf[i] == NULL) {
			rc = -1;
			break;
		}
		s->res[i].buffer_type = MYSQL_TYPE_STRING;
		s->res[i].buffer = s->buf[i];
		s->res[i].buffer_length = size - 1;
		s->res[i].length = &s->len[i];
		s->res[i].is_null = &s->isnull[i];
		s->res[i].error = &s->error[i];
	}
	mysql_free_result(meta);
	if (rc == 0 && mysql_stmt_bind_result(s->st, s->res) != 0)
		rc = -1;
	return rc;
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < ST_COUNT; i++) {
		struct stmt *s = &c->s[i];
		for (unsigned int k = 0; s->buf != NULL && k < s->ncols; k++)
			free(s->buf[k]);
		free(s->buf);
		free(s->res);
		free(s->len);
		free(s->isnull);
		free(s->error);
		if (s->st != NULL)
			mysql_stmt_close(s->st);
		memset(s, 0, sizeof(*s));
	}
	if (c->db != NULL)
		mysql_close(c->db);
	c->db = NULL;
}

/* The batch version pins the model's price on each hold, as creditd
 * does from its price cache (the models table and the margin setting):
 * read once per connection, before any measurement. An unknown model is
 * held unpriced (no pin). 0, or -1 with the reason printed once. */
static int price_pin(struct conn *c)
{
	char name[2 * TEXT_MAX + 1], sql[512];
	if (strlen(opt.model) >= TEXT_MAX)
		return -1;
	mysql_real_escape_string(c->db, name, opt.model, (unsigned long)strlen(opt.model));
	snprintf(sql, sizeof(sql), "SELECT input_micros_per_mtok, cached_input_micros_per_mtok, output_micros_per_mtok, "
		 "COALESCE((SELECT value FROM settings WHERE name = 'margin_bps'), 10000) FROM models WHERE name = '%s'",
		 name);
	MYSQL_RES *res = mysql_query(c->db, sql) == 0 ? mysql_store_result(c->db) : NULL;
	if (res == NULL) {
		fprintf(stderr, "rawdb: price lookup: %s\n", mysql_error(c->db));
		return -1;
	}
	MYSQL_ROW r = mysql_fetch_row(res);
	c->priced = r != NULL;
	for (int i = 0; r != NULL && i < 4; i++)
		c->pin[i] = r[i] != NULL ? (int64_t)strtoll(r[i], NULL, 10) : 0;
	mysql_free_result(res);
	return mysql_commit(c->db) == 0 ? 0 : -1;
}

/* Connects with creditd's options and session setup and prepares every
 * statement. 0, or -1 with the reason printed once. */
static int conn_open(struct conn *c)
{
	unsigned int timeout = 10, rw_timeout = 30;
	my_bool off = 0;
	memset(c, 0, sizeof(*c));
	c->db = mysql_init(NULL);
	if (c->db == NULL)
		return -1;
	mysql_options(c->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(c->db, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(c->db, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(c->db, MYSQL_OPT_RECONNECT, &off);
	mysql_options(c->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* creditd's flags; only the scripts version (a bench tool's own now)
	 * sends several statements in one text. */
	if (mysql_real_connect(c->db, NULL, opt.user, opt.password, opt.database, 0, opt.socket,
			       CLIENT_FOUND_ROWS | (opt.sql == SQL_SCRIPTS ? CLIENT_MULTI_STATEMENTS : 0)) == NULL ||
	    mysql_query(c->db, session_setup) != 0) {
		fprintf(stderr, "rawdb: connect: %s\n", mysql_error(c->db));
		return -1;
	}
	for (int i = 0; i < ST_COUNT; i++) {
		struct stmt *s = &c->s[i];
		if (!stmt_used(i, opt.sql))
			continue;
		s->st = mysql_stmt_init(c->db);
		if (s->st == NULL || mysql_stmt_prepare(s->st, sql_text[i], (unsigned long)strlen(sql_text[i])) != 0 ||
		    bind_results(s) != 0) {
			fprintf(stderr, "rawdb: prepare failed: %s: %.80s\n",
				s->st != NULL ? mysql_stmt_error(s->st) : "out of memory", sql_text[i]);
			return -1;
		}
	}
	return opt.sql == SQL_BATCH ? price_pin(c) : 0;
}

/* One statement's parameters, bound: they must live until it has run. */
struct params {
	MYSQL_BIND bind[PARAMS_MAX];
	long long ints[PARAMS_MAX];
	unsigned long lens[PARAMS_MAX];
	my_bool nulls[PARAMS_MAX];
};

/* Binds the parameters of statement id as creditd's db_exec formats them:
 * 'i' int64_t, 'I' const int64_t * (NULL: SQL NULL), 's' const char *
 * (NULL: SQL NULL), 'b' const void *, size_t. The strings are not copied:
 * they must live until the statement has run. 0 or E_CLIENT. */
static int params_bind(struct conn *c, enum stmt_id id, struct params *pr, const char *fmt, va_list ap)
{
	struct stmt *s = &c->s[id];
	int n = 0;
	memset(pr->bind, 0, sizeof(pr->bind));
	for (const char *f = fmt; *f != '\0' && n < PARAMS_MAX; f++, n++) {
		MYSQL_BIND *b = &pr->bind[n];
		pr->nulls[n] = 0;
		b->is_null = &pr->nulls[n];
		if (*f == 'i' || *f == 'I') {
			const int64_t *ptr = NULL;
			if (*f == 'i')
				pr->ints[n] = va_arg(ap, int64_t);
			else if ((ptr = va_arg(ap, const int64_t *)) != NULL)
				pr->ints[n] = *ptr;
			pr->nulls[n] = *f == 'I' && ptr == NULL;
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &pr->ints[n];
		} else {
			const char *str = va_arg(ap, const char *);
			pr->lens[n] = *f == 'b' ? (unsigned long)va_arg(ap, size_t) : str != NULL ? strlen(str) : 0;
			pr->nulls[n] = str == NULL;
			b->buffer_type = *f == 'b' ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
			b->buffer = (void *)str;
			b->buffer_length = pr->lens[n];
			b->length = &pr->lens[n];
		}
	}
	if ((unsigned long)n != mysql_stmt_param_count(s->st)) {
		fprintf(stderr, "rawdb: parameter mismatch for: %.80s\n", sql_text[id]);
		return E_CLIENT;
	}
	return n > 0 && mysql_stmt_bind_param(s->st, pr->bind) != 0 ? E_CLIENT : 0;
}

/* A prepared statement's error number; its message kept in stmt_error. */
static int stmt_errno(struct conn *c, MYSQL_STMT *st)
{
	int e = (int)mysql_stmt_errno(st);
	snprintf(c->stmt_error, sizeof(c->stmt_error), "%s", mysql_stmt_error(st));
	return e != 0 ? e : E_CLIENT;
}

/* Runs statement id with parameters (params_bind's format) and stores
 * its whole result. 0 or the MariaDB error number. */
static int exec(struct conn *c, enum stmt_id id, const char *fmt, ...)
{
	struct params pr;
	struct stmt *s = &c->s[id];
	va_list ap;
	va_start(ap, fmt);
	int e = params_bind(c, id, &pr, fmt, ap);
	va_end(ap);
	if (e != 0)
		return e;
	mysql_stmt_free_result(s->st);
	c->round_trips++;
	if (mysql_stmt_execute(s->st) != 0 || (s->ncols > 0 && mysql_stmt_store_result(s->st) != 0))
		return stmt_errno(c, s->st);
	return 0;
}

/* Reads one result set of a CALL as integers: the first row's first nout
 * columns into out (once: *got says whether it was filled), the rest read
 * and dropped. A set wider than CALL_COLS_MAX is read and dropped too, and
 * is an error. 0 or an error number; the set is consumed either way, so
 * the connection stays in step. */
static int call_rows(struct conn *c, MYSQL_STMT *st, int64_t *out, unsigned int nout, int *got)
{
	MYSQL_BIND bind[CALL_COLS_MAX];
	long long v[CALL_COLS_MAX];
	my_bool isnull[CALL_COLS_MAX];
	unsigned int ncols = mysql_stmt_field_count(st);
	int e = 0, rc;
	memset(bind, 0, sizeof(bind));
	for (unsigned int i = 0; i < ncols && i < CALL_COLS_MAX; i++) {
		bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
		bind[i].buffer = &v[i];
		bind[i].is_null = &isnull[i];
	}
	if (ncols > CALL_COLS_MAX || mysql_stmt_bind_result(st, bind) != 0)
		e = E_CLIENT;
	if (mysql_stmt_store_result(st) != 0) {
		e = stmt_errno(c, st);
	} else {
		while (e == 0 && (rc = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
			if (rc != 0) {
				e = rc == MYSQL_DATA_TRUNCATED ? E_CLIENT : stmt_errno(c, st);
				break;
			}
			for (unsigned int i = 0; !*got && i < nout && i < ncols; i++)
				out[i] = isnull[i] ? 0 : (int64_t)v[i];
			*got = 1;
		}
	}
	mysql_stmt_free_result(st);
	return e;
}

/* Runs a CALL of one of the floor procedures (params_bind's format) in one
 * round trip and drains everything it sends back: the procedure's result
 * set (its first row's first nout integers into out), then the CALL's own
 * status. 0 when a row came, or the MariaDB error number (a deadlock in
 * the procedure ends the CALL with it). */
static int call_run(struct conn *c, enum stmt_id id, int64_t *out, unsigned int nout, const char *fmt, ...)
{
	struct params pr;
	MYSQL_STMT *st = c->s[id].st;
	va_list ap;
	int got = 0, e, rc;
	va_start(ap, fmt);
	e = params_bind(c, id, &pr, fmt, ap);
	va_end(ap);
	if (e != 0)
		return e;
	c->round_trips++;
	if (mysql_stmt_execute(st) != 0)
		return stmt_errno(c, st);
	do {
		if (mysql_stmt_field_count(st) > 0) {
			int set_e = call_rows(c, st, out, nout, &got);
			e = e != 0 ? e : set_e;
		}
		rc = mysql_stmt_next_result(st);
	} while (rc == 0);
	if (rc > 0 && e == 0)
		e = stmt_errno(c, st);
	return e == 0 && !got ? E_CLIENT : e;
}

/* 1 when a row was fetched, 0 at the end, -1 on error. */
static int fetch(struct stmt *s)
{
	int rc = mysql_stmt_fetch(s->st);
	return rc == 0 ? 1 : rc == MYSQL_NO_DATA ? 0 : -1;
}

static const char *col_str(const struct stmt *s, unsigned int col)
{
	if (col >= s->ncols || s->isnull[col])
		return NULL;
	unsigned long n = s->len[col] < s->res[col].buffer_length ? s->len[col] : s->res[col].buffer_length;
	s->buf[col][n] = '\0';
	return s->buf[col];
}

static int64_t col_i64(const struct stmt *s, unsigned int col, int64_t if_null)
{
	const char *v = col_str(s, col);
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : if_null;
}

/* ---- The two transactions ---- */

struct acct {
	int64_t id, balance, reserved, overdraft, monthly_limit, month_key, month_spent, sweep_due_at;
	char status[16];
};

static int64_t month_key_of(int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	return (int64_t)(tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

/* Reads the locked account row of ST_ACCT_LOCK or ST_ACCT_LOCK_ID and
 * rolls the month over as creditd's acct_touch does. Expiry sweeps are not
 * run: the bench's holds (ttl 600 s) do not come due during a run. */
static int acct_load(struct conn *c, enum stmt_id id, struct acct *a, int64_t now)
{
	struct stmt *s = &c->s[id];
	int got = fetch(s);
	if (got != 1)
		return got == 0 ? E_NOT_FOUND : E_CLIENT;
	a->id = col_i64(s, 0, 0);
	snprintf(a->status, sizeof(a->status), "%s", col_str(s, 3) != NULL ? col_str(s, 3) : "");
	a->balance = col_i64(s, 4, 0);
	a->reserved = col_i64(s, 5, 0);
	a->overdraft = col_i64(s, 6, 0);
	a->monthly_limit = col_i64(s, 7, -1);
	a->month_key = col_i64(s, 10, 0);
	a->month_spent = col_i64(s, 11, 0);
	a->sweep_due_at = col_i64(s, 12, -1);
	if (a->month_key != month_key_of(now)) {
		a->month_key = month_key_of(now);
		a->month_spent = 0;
	}
	return 0;
}

static int acct_store(struct conn *c, const struct acct *a)
{
	const int64_t *due = a->sweep_due_at >= 0 ? &a->sweep_due_at : NULL;
	return exec(c, ST_ACCT_STORE, "iiiiIi", a->balance, a->reserved, a->month_key, a->month_spent, due, a->id);
}

struct pair {
	char account[TEXT_MAX];
	char request_id[TEXT_MAX];
	int64_t account_id, hold_id;
};

/* authorize = SELECT account FOR UPDATE, INSERT hold, UPDATE account (COMMIT by the caller). */
static int authorize_tx(struct conn *c, struct pair *p, int64_t now)
{
	struct acct a;
	int e = exec(c, ST_ACCT_LOCK, "s", p->account);
	if (e == 0)
		e = acct_load(c, ST_ACCT_LOCK, &a, now);
	if (e != 0)
		return e;
	if (strcmp(a.status, "active") != 0 || opt.hold_micros > a.balance - a.reserved + a.overdraft ||
	    (a.monthly_limit >= 0 && a.month_spent + a.reserved + opt.hold_micros > a.monthly_limit))
		return E_REFUSED;
	int64_t expires_at = now + opt.ttl_s;
	p->account_id = a.id;
	e = exec(c, ST_HOLD_ADD, "isssssiiii", a.id, p->request_id, (const char *)NULL, opt.model,
		 (const char *)NULL, (const char *)NULL, opt.hold_micros, (int64_t)0, expires_at, now);
	if (e != 0)
		return e;
	p->hold_id = (int64_t)mysql_stmt_insert_id(c->s[ST_HOLD_ADD].st);
	a.reserved += opt.hold_micros;
	if (a.sweep_due_at < 0 || expires_at < a.sweep_due_at)
		a.sweep_due_at = expires_at;
	return acct_store(c, &a);
}

/* Burns `amount` from the spendable grants in creditd's order. */
static int spend(struct conn *c, const struct acct *a, int64_t amount)
{
	int64_t ids[GRANTS_PER_SPEND], left[GRANTS_PER_SPEND];
	int n = 0;
	if (a->balance > 0) {
		int e = exec(c, ST_GRANTS_SPENDABLE, "i", a->id);
		if (e != 0)
			return e;
		while (n < GRANTS_PER_SPEND && fetch(&c->s[ST_GRANTS_SPENDABLE]) == 1) {
			ids[n] = col_i64(&c->s[ST_GRANTS_SPENDABLE], 0, 0);
			left[n] = col_i64(&c->s[ST_GRANTS_SPENDABLE], 1, 0);
			n++;
		}
	}
	for (int i = 0; i < n && amount > 0; i++) {
		int64_t take = left[i] < amount ? left[i] : amount;
		int e = exec(c, ST_GRANT_SET, "ii", left[i] - take, ids[i]);
		if (e != 0)
			return e;
		amount -= take;
	}
	return amount > 0 ? E_DEBT : 0;
}

/* settle = SELECT account FOR UPDATE (by id), SELECT hold FOR UPDATE, SELECT
 * spendable grants FOR UPDATE, UPDATE grant, INSERT journal, INSERT
 * usage_records, UPDATE account, UPDATE hold (COMMIT by the caller). */
static int settle_tx(struct conn *c, const struct pair *p, int64_t now)
{
	struct acct a;
	char ref[64], response[512], request_id[TEXT_MAX];
	unsigned char hash[32];
	int e, hc = 0;
	struct stmt *h;
	e = exec(c, ST_ACCT_LOCK_ID, "i", p->account_id);
	if (e == 0)
		e = acct_load(c, ST_ACCT_LOCK_ID, &a, now);
	if (e == 0)
		e = exec(c, ST_HOLD_LOCK, "ii", p->hold_id, p->account_id);
	h = &c->s[ST_HOLD_LOCK];
	if (e == 0 && fetch(h) != 1)
		e = E_NOT_FOUND;
	if (e != 0)
		return e;
	const char *state = col_str(h, hc + 1);
	if (state == NULL || strcmp(state, "pending") != 0)
		return E_STATE;
	int64_t amount = col_i64(h, hc + 2, 0), cost = opt.cost_micros;
	snprintf(request_id, sizeof(request_id), "%s", col_str(h, hc + 12) != NULL ? col_str(h, hc + 12) : "");
	a.reserved -= amount;
	int64_t released = amount > cost ? amount - cost : 0;
	a.month_spent += cost;
	snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, a.id, p->hold_id);
	for (size_t i = 0; i < sizeof(hash); i++)
		hash[i] = (unsigned char)(p->hold_id >> (8 * (i % 8)));
	if (cost > 0) {
		e = spend(c, &a, cost);
		if (e == 0)
			e = exec(c, ST_JOURNAL_ADD, "iiissIIssi", a.id, -cost, a.balance - cost, "usage",
				 (const char *)NULL, (const int64_t *)NULL, &p->hold_id, ref, (const char *)NULL, now);
		if (e != 0)
			return e;
		a.balance -= cost;
	}
	e = exec(c, ST_USAGE_ADD, "iIssssiiiiissbi", a.id, &p->hold_id, (const char *)NULL, (const char *)NULL,
		 opt.model, (const char *)NULL, opt.input_tokens, (int64_t)0, opt.output_tokens, cost, (int64_t)0,
		 request_id, (const char *)NULL, (const char *)NULL, (size_t)0, now);
	if (e == 0)
		e = acct_store(c, &a);
	if (e != 0)
		return e;
	snprintf(response, sizeof(response),
		 "{\"hold_id\":\"%s\",\"charged_micros\":%" PRId64 ",\"released_micros\":%" PRId64
		 ",\"balance_micros\":%" PRId64 ",\"available_micros\":%" PRId64 ",\"late\":false}",
		 ref, cost, released, a.balance, a.balance - a.reserved + a.overdraft);
	return exec(c, ST_HOLD_SETTLED, "ibsii", cost, (const char *)hash, sizeof(hash), response, now, p->hold_id);
}

/* ---- The call version: the database floor ---- */

/* A floor procedure's status: 0, or one of our own errors (it has rolled
 * back). */
static int floor_status(int64_t status)
{
	return status >= 0 && status <= E_DEBT ? (int)status : E_CLIENT;
}

/* authorize = CALL bench_floor_authorize: locks, checks, writes and commits. */
static int authorize_call(struct conn *c, struct pair *p, int64_t now)
{
	int64_t row[3] = {0, 0, 0};
	int e = call_run(c, ST_FLOOR_AUTHORIZE, row, 3, "sssiii", p->account, p->request_id, opt.model,
			 opt.hold_micros, (int64_t)opt.ttl_s, now);
	if (e == 0)
		e = floor_status(row[0]);
	if (e == 0 && row[1] <= 0)
		e = E_CLIENT;
	p->hold_id = row[1];
	p->account_id = row[2];
	return e;
}

/* settle = CALL bench_floor_settle, with the settle hash the statements
 * version stores. */
static int settle_call(struct conn *c, const struct pair *p, int64_t now)
{
	int64_t row[2] = {0, 0};
	unsigned char hash[32];
	for (size_t i = 0; i < sizeof(hash); i++)
		hash[i] = (unsigned char)(p->hold_id >> (8 * (i % 8)));
	int e = call_run(c, ST_FLOOR_SETTLE, row, 2, "iiiiibi", p->account_id, p->hold_id, opt.cost_micros,
			 opt.input_tokens, opt.output_tokens, (const char *)hash, sizeof(hash), now);
	return e == 0 ? floor_status(row[0]) : e;
}

/* ---- The scripts version: creditd's batches ---- */

/* creditd's src/ledger/ledger_batch.c HOLD_COLS, bare and for "h." */
#define SCRIPT_HOLD_COLS "id, account_id, state, amount_micros, byok, model, action, member, conversation_id, " \
	"expires_at, charged_micros, settle_hash, settle_response, request_id"
#define SCRIPT_HOLD_COLS_H "h.id, h.account_id, h.state, h.amount_micros, h.byok, h.model, h.action, h.member, " \
	"h.conversation_id, h.expires_at, h.charged_micros, h.settle_hash, h.settle_response, h.request_id"

struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

__attribute__((format(printf, 2, 3)))
static void sb(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->cap == 0 && (b->p = malloc(b->cap = 64 * 1024)) == NULL)
		b->cap = 0;
	if (b->p == NULL || b->failed)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || b->len + (size_t)n >= b->cap) {
		b->failed = b->len + (size_t)n >= SCRIPT_MAX || n < 0;
		char *q = b->failed ? NULL : realloc(b->p, b->cap * 2);
		if (q == NULL) {
			b->failed = 1;
			return;
		}
		b->p = q;
		b->cap *= 2;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* What the reads of a batch found: its accounts, holds and grants. */
struct sacct { struct acct a; char ext[TEXT_MAX]; int changed; };
struct sgrant { int64_t id, account, remaining; int debt, changed; };
struct sbatch {
	struct sacct acct[BATCH_MAX];
	int nacct;
	struct sgrant grant[BATCH_MAX * 4];
	int ngrant;
	struct pair *p;
	int n;
	int64_t hold_amount[BATCH_MAX];
	char hold_state[BATCH_MAX][16];
	int64_t now;
	int settling;			/* set 1 is the settled holds */
};

static struct sacct *sacct_by_id(struct sbatch *b, int64_t id)
{
	for (int i = 0; i < b->nacct; i++)
		if (b->acct[i].a.id == id)
			return &b->acct[i];
	return NULL;
}

static struct sacct *sacct_by_ext(struct sbatch *b, const char *ext)
{
	for (int i = 0; i < b->nacct; i++)
		if (strcmp(b->acct[i].ext, ext) == 0)
			return &b->acct[i];
	return NULL;
}

/* Runs a script in one round trip, handing each result set to rows. */
static int script_run(struct conn *c, struct sbuf *s, void (*rows)(struct sbatch *, int, MYSQL_RES *),
		      struct sbatch *b)
{
	int set = 0, st;
	if (s->failed)
		return E_CLIENT;
	c->round_trips++;
	st = mysql_real_query(c->db, s->p, (unsigned long)s->len);
	s->len = 0;
	if (st != 0)
		return (int)mysql_errno(c->db);
	do {
		MYSQL_RES *res = mysql_store_result(c->db);
		if (res != NULL) {
			rows(b, set++, res);
			mysql_free_result(res);
		} else if (mysql_field_count(c->db) != 0) {
			return (int)mysql_errno(c->db);
		}
		st = mysql_next_result(c->db);
	} while (st == 0);
	return st > 0 ? (int)mysql_errno(c->db) : 0;
}

static int64_t row_i64(MYSQL_ROW r, int col, int64_t if_null)
{
	return r[col] != NULL ? (int64_t)strtoll(r[col], NULL, 10) : if_null;
}

/* The account rows (set 0), then holds or grants. */
static void read_rows(struct sbatch *b, int set, MYSQL_RES *res)
{
	MYSQL_ROW r;
	while ((r = mysql_fetch_row(res)) != NULL) {
		if (set == 0 && b->nacct < BATCH_MAX) {
			struct sacct *s = &b->acct[b->nacct++];
			memset(s, 0, sizeof(*s));
			s->a.id = row_i64(r, 0, 0);
			snprintf(s->ext, sizeof(s->ext), "%s", r[1] != NULL ? r[1] : "");
			snprintf(s->a.status, sizeof(s->a.status), "%s", r[3] != NULL ? r[3] : "");
			s->a.balance = row_i64(r, 4, 0);
			s->a.reserved = row_i64(r, 5, 0);
			s->a.overdraft = row_i64(r, 6, 0);
			s->a.monthly_limit = row_i64(r, 7, -1);
			s->a.month_key = row_i64(r, 10, 0);
			s->a.month_spent = row_i64(r, 11, 0);
			s->a.sweep_due_at = row_i64(r, 12, -1);
			if (s->a.month_key != month_key_of(b->now)) {
				s->a.month_key = month_key_of(b->now);
				s->a.month_spent = 0;
			}
		} else if (set == 1 && b->settling) {		/* settle: the holds */
			for (int i = 0; i < b->n; i++) {
				if (b->p[i].hold_id == row_i64(r, 0, 0)) {
					snprintf(b->hold_state[i], sizeof(b->hold_state[i]), "%s", r[2] != NULL ? r[2] : "");
					b->hold_amount[i] = row_i64(r, 3, 0);
				}
			}
		} else if (set == 2 && b->ngrant < BATCH_MAX * 4) {	/* settle: the grants */
			struct sgrant *g = &b->grant[b->ngrant++];
			memset(g, 0, sizeof(*g));
			g->id = row_i64(r, 0, 0);
			g->account = row_i64(r, 1, 0);
			g->remaining = row_i64(r, 2, 0);
			g->debt = row_i64(r, 3, 0) != 0;
		}
	}
}

/* INSERT ... RETURNING: each new hold's id, by request_id. */
static void hold_ids(struct sbatch *b, int set, MYSQL_RES *res)
{
	MYSQL_ROW r;
	(void)set;
	while ((r = mysql_fetch_row(res)) != NULL)
		for (int i = 0; i < b->n; i++)
			if (r[2] != NULL && strcmp(b->p[i].request_id, r[2]) == 0) {
				b->p[i].hold_id = row_i64(r, 0, 0);
				b->p[i].account_id = row_i64(r, 1, 0);
			}
}

/* The accounts' UPDATE, CASE on the id, as creditd's write_accounts. */
static void accounts_update(struct sbuf *s, struct sbatch *b)
{
	static const char *const cols[] = {"balance_micros", "reserved_micros", "month_key", "month_spent_micros",
					   "sweep_due_at"};
	sb(s, "UPDATE accounts SET ");
	for (int c = 0; c < 5; c++) {
		sb(s, "%s%s = CASE id", c ? ", " : "", cols[c]);
		for (int i = 0; i < b->nacct; i++) {
			const struct acct *a = &b->acct[i].a;
			const int64_t v[] = {a->balance, a->reserved, a->month_key, a->month_spent, a->sweep_due_at};
			if (!b->acct[i].changed)
				continue;
			if (c == 4 && v[c] < 0)
				sb(s, " WHEN %" PRId64 " THEN NULL", a->id);
			else
				sb(s, " WHEN %" PRId64 " THEN %" PRId64, a->id, v[c]);
		}
		sb(s, " END");
	}
	sb(s, " WHERE id IN (");
	for (int i = 0, n = 0; i < b->nacct; i++)
		if (b->acct[i].changed)
			sb(s, "%s%" PRId64, n++ ? ", " : "", b->acct[i].a.id);
	sb(s, ");\nCOMMIT;\n");
}

/* n authorizes in one transaction: creditd's read script (accounts by
 * external id, replays by request_id), then its write script. */
static int authorize_script(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct sbuf ts;
	static __thread struct sbatch tb;
	struct sbatch *b = &tb;
	memset(b, 0, offsetof(struct sbatch, grant));
	b->p = p;
	b->n = n;
	b->now = now;
	sb(&ts, "SELECT " ACCT_COLS " FROM accounts WHERE ext_id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s'%s'", i ? ", " : "", p[i].account);
	sb(&ts, ") ORDER BY id FOR UPDATE;\nSELECT " SCRIPT_HOLD_COLS " FROM holds WHERE ");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s(account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND request_id = '%s')",
		   i ? " OR " : "", p[i].account, p[i].request_id);
	sb(&ts, ";\n");
	int e = script_run(c, &ts, read_rows, b);
	if (e != 0)
		return e;
	int64_t expires_at = now + opt.ttl_s;
	sb(&ts, "INSERT INTO holds (account_id, request_id, member, model, action, conversation_id, amount_micros, "
	   "byok, expires_at, created_at) VALUES ");
	for (int i = 0; i < n; i++) {
		struct sacct *sa = sacct_by_ext(b, p[i].account);
		if (sa == NULL)
			return E_NOT_FOUND;
		struct acct *a = &sa->a;
		if (strcmp(a->status, "active") != 0 || opt.hold_micros > a->balance - a->reserved + a->overdraft ||
		    (a->monthly_limit >= 0 && a->month_spent + a->reserved + opt.hold_micros > a->monthly_limit))
			return E_REFUSED;
		a->reserved += opt.hold_micros;
		if (a->sweep_due_at < 0 || expires_at < a->sweep_due_at)
			a->sweep_due_at = expires_at;
		sa->changed = 1;
		sb(&ts, "%s(%" PRId64 ", '%s', NULL, '%s', NULL, NULL, %" PRId64 ", 0, %" PRId64 ", %" PRId64 ")",
		   i ? ", " : "", a->id, p[i].request_id, opt.model, opt.hold_micros, expires_at, now);
	}
	sb(&ts, " RETURNING id, account_id, request_id;\n");
	accounts_update(&ts, b);
	e = script_run(c, &ts, hold_ids, b);
	for (int i = 0; e == 0 && i < n; i++)
		if (p[i].hold_id <= 0)
			e = E_CLIENT;
	return e;
}

/* n settles in one transaction: creditd's read script (accounts by id,
 * holds with their members, grants in spending order), then its writes. */
static int settle_script(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct sbuf ts;
	static __thread struct sbatch tb;
	struct sbatch *b = &tb;
	char ref[64];
	memset(b, 0, sizeof(*b));
	b->p = p;
	b->n = n;
	b->now = now;
	b->settling = 1;
	sb(&ts, "SELECT " ACCT_COLS " FROM accounts WHERE id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s%" PRId64, i ? ", " : "", p[i].account_id);
	sb(&ts, ") ORDER BY id FOR UPDATE;\nSELECT " SCRIPT_HOLD_COLS_H ", m.account_id, m.member, m.monthly_cap_micros, "
	   "m.month_key, m.month_spent_micros, m.reserved_micros FROM holds h LEFT JOIN members m ON m.account_id = "
	   "h.account_id AND m.member = h.member WHERE ");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s(h.id = %" PRId64 " AND h.account_id = %" PRId64 ")", i ? " OR " : "", p[i].hold_id,
		   p[i].account_id);
	sb(&ts, " ORDER BY h.id FOR UPDATE;\nSELECT id, account_id, remaining_micros, source = 'debt' FROM grants "
	   "WHERE account_id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s%" PRId64, i ? ", " : "", p[i].account_id);
	sb(&ts, ") AND (remaining_micros > 0 OR source = 'debt') ORDER BY account_id, source = 'debt', priority, "
	   "expires_at IS NULL, expires_at, id;\n");
	int e = script_run(c, &ts, read_rows, b);
	if (e != 0)
		return e;
	int64_t cost = opt.cost_micros;
	struct sbuf journal = {0};
	sb(&ts, "INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens, "
	   "cached_input_tokens, output_tokens, cost_micros, byok, request_id, conversation_id, request_hash, "
	   "created_at) VALUES ");
	for (int i = 0; i < n; i++) {
		struct sacct *sa = sacct_by_id(b, p[i].account_id);
		if (sa == NULL || strcmp(b->hold_state[i], "pending") != 0) {
			free(journal.p);
			return sa == NULL ? E_NOT_FOUND : E_STATE;
		}
		struct acct *a = &sa->a;
		a->reserved -= b->hold_amount[i];
		a->month_spent += cost;
		sa->changed = 1;
		int64_t left = cost;
		for (int g = 0; g < b->ngrant && left > 0; g++) {
			struct sgrant *gr = &b->grant[g];
			if (gr->account != a->id || gr->debt || gr->remaining <= 0)
				continue;
			int64_t take = gr->remaining < left ? gr->remaining : left;
			gr->remaining -= take;
			gr->changed = 1;
			left -= take;
		}
		if (left > 0) {
			free(journal.p);
			return E_DEBT;
		}
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, a->id, p[i].hold_id);
		sb(&journal, "%s(%" PRId64 ", %" PRId64 ", %" PRId64 ", 'usage', NULL, NULL, %" PRId64 ", '%s', "
		   "'settle:%s', NULL, %" PRId64 ")", i ? ", " : "", a->id, -cost, a->balance - cost, p[i].hold_id, ref,
		   ref, now);
		a->balance -= cost;
		sb(&ts, "%s(%" PRId64 ", %" PRId64 ", NULL, NULL, '%s', NULL, %" PRId64 ", 0, %" PRId64 ", %" PRId64
		   ", 0, '%s', NULL, NULL, %" PRId64 ")", i ? ", " : "", a->id, p[i].hold_id, opt.model,
		   opt.input_tokens, opt.output_tokens, cost, p[i].request_id, now);
	}
	/* The settled holds, their answers stored: one UPDATE, CASE on the id. */
	sb(&ts, ";\nUPDATE holds SET finished_at = %" PRId64 ", state = CASE id", now);
	for (int i = 0; i < n; i++)
		sb(&ts, " WHEN %" PRId64 " THEN 'settled'", p[i].hold_id);
	sb(&ts, " ELSE state END, charged_micros = CASE id");
	for (int i = 0; i < n; i++)
		sb(&ts, " WHEN %" PRId64 " THEN %" PRId64, p[i].hold_id, cost);
	sb(&ts, " ELSE charged_micros END, settle_hash = CASE id");
	for (int i = 0; i < n; i++) {
		sb(&ts, " WHEN %" PRId64 " THEN X'", p[i].hold_id);
		for (int k = 0; k < 32; k++)
			sb(&ts, "%02x", (unsigned int)(p[i].hold_id >> (8 * (k % 8))) & 0xff);
		sb(&ts, "'");
	}
	sb(&ts, " ELSE settle_hash END, settle_response = CASE id");
	for (int i = 0; i < n; i++) {
		struct sacct *sa = sacct_by_id(b, p[i].account_id);
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, sa->a.id, p[i].hold_id);
		sb(&ts, " WHEN %" PRId64 " THEN '{\\\"hold_id\\\":\\\"%s\\\",\\\"account\\\":\\\"%s\\\","
		   "\\\"charged_micros\\\":%" PRId64 ",\\\"released_micros\\\":%" PRId64 ",\\\"balance_micros\\\":%"
		   PRId64 ",\\\"available_micros\\\":%" PRId64 ",\\\"late\\\":false}'", p[i].hold_id, ref, sa->ext, cost,
		   b->hold_amount[i] > cost ? b->hold_amount[i] - cost : 0, sa->a.balance,
		   sa->a.balance - sa->a.reserved + sa->a.overdraft);
	}
	sb(&ts, " ELSE settle_response END WHERE id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s%" PRId64, i ? ", " : "", p[i].hold_id);
	sb(&ts, ");\nUPDATE grants SET remaining_micros = CASE id");
	for (int g = 0; g < b->ngrant; g++)
		if (b->grant[g].changed)
			sb(&ts, " WHEN %" PRId64 " THEN %" PRId64, b->grant[g].id, b->grant[g].remaining);
	sb(&ts, " END WHERE id IN (");
	for (int g = 0, k = 0; g < b->ngrant; g++)
		if (b->grant[g].changed)
			sb(&ts, "%s%" PRId64, k++ ? ", " : "", b->grant[g].id);
	sb(&ts, ");\nINSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, "
	   "hold_id, reference, idempotency_key, description, created_at) VALUES %s;\n", journal.p != NULL ? journal.p : "");
	free(journal.p);
	accounts_update(&ts, b);
	return script_run(c, &ts, read_rows, b);
}

/* ---- The batch version: creditd's two CALLs ----
 * Each transaction is CALL cd_batch_read(1, page, its lists), then CALL
 * cd_batch_write(now, 1, its lists), which commits: the lists are the
 * ones src/ledger/ledger_load.c (read_doc) and src/ledger/ledger_batch.c (write_doc)
 * write for the same operations, bound one parameter each as creditd
 * binds them (src/ledger/ledger_dbsets.c dbsets_bind_list: an empty list is SQL
 * NULL), with the guard's decisions (src/ledger/ledger_holds.c) made here on the
 * rows the first CALL returned. */

#define SET_COLS_MAX 40			/* the widest set (cd_batch_read's accounts) has 37 columns */
#define CELL_BYTES 160			/* values read: ids, numbers, states, external ids (128 bytes) */
#define BATCH_GRANTS (BATCH_MAX * 4)	/* the bench's accounts have 1 or 2 grants each */
#define LISTS_MAX 12			/* cd_batch_write has 12 lists, cd_batch_read 9 */
#define SPEND_GRANTS_PAGE (GRANTS_PER_SPEND + 1)	/* creditd's p_page: one more says there are more */
_Static_assert(2 + LISTS_MAX <= PARAMS_MAX, "a CALL's numbers and lists fit the binds");

/* cd_batch_read's accounts set: its name column, then src/ledger/ledger_rows.c
 * acct_from_row_at's columns in their order. */
enum {
	BA_ID = 1, BA_EXT, BA_KIND, BA_STATUS, BA_BALANCE, BA_RESERVED, BA_OVERDRAFT, BA_MONTHLY_LIMIT,
	BA_LOW_BALANCE, BA_PLAN, BA_MONTH_KEY, BA_MONTH_SPENT, BA_SWEEP_DUE, BA_CREATED, BA_STRIPE,
	BA_DAILY_LIMIT, BA_DAY_KEY, BA_DAY_SPENT, BA_PLAN_PERIOD, BA_LOW_NOTED, BA_DEPLETED_NOTED,
	BA_LIMIT_MONTH_NOTED, BA_LIMIT_DAY_NOTED, BA_RECHARGE_THRESHOLD, BA_RECHARGE_CENTS, BA_RECHARGE_CARD,
	BA_RECHARGE_PENDING, BA_RECHARGE_FAILURES, BA_RECHARGE_DAY_KEY, BA_RECHARGE_DAY_COUNT, BA_RPM, BA_TPM,
	BA_RATE_MINUTE, BA_RATE_REQUESTS, BA_RATE_TOKENS, BA_STATUS_REASON, BA_NCOLS
};
_Static_assert(BA_NCOLS <= SET_COLS_MAX, "the accounts set fits a row");

/* The columns cd_batch_write's "accounts" rows carry, in their order
 * (src/ledger/ledger_batch.c write_accounts). */
static const int acct_write_cols[] = {
	BA_ID, BA_BALANCE, BA_RESERVED, BA_MONTH_KEY, BA_MONTH_SPENT, BA_SWEEP_DUE, BA_DAY_KEY, BA_DAY_SPENT,
	BA_LOW_NOTED, BA_DEPLETED_NOTED, BA_LIMIT_MONTH_NOTED, BA_LIMIT_DAY_NOTED, BA_RECHARGE_PENDING,
	BA_RECHARGE_DAY_KEY, BA_RECHARGE_DAY_COUNT, BA_RATE_MINUTE, BA_RATE_REQUESTS, BA_RATE_TOKENS
};

/* One row of a result set, as text; a value longer than CELL_BYTES - 1
 * is cut, and reading it as a string is an error. */
struct brow {
	char cell[SET_COLS_MAX][CELL_BYTES];
	unsigned long len[SET_COLS_MAX];
	my_bool isnull[SET_COLS_MAX], cut[SET_COLS_MAX];
	unsigned int ncols;
	int bad;			/* a string read was cut or missing */
};

static const char *brow_str(struct brow *r, unsigned int col)
{
	if (col >= r->ncols || r->len[col] >= CELL_BYTES) {
		r->bad = 1;
		return "";
	}
	if (r->isnull[col])
		return NULL;
	r->cell[col][r->len[col]] = '\0';
	return r->cell[col];
}

static int64_t brow_i64(struct brow *r, unsigned int col, int64_t if_null)
{
	const char *v = brow_str(r, col);
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : if_null;
}

/* Copies a string value ("" for NULL) into dst of cap bytes; one that
 * does not fit is an error (r->bad). */
static void brow_copy(struct brow *r, unsigned int col, char *dst, size_t cap)
{
	const char *v = brow_str(r, col);
	size_t n = v != NULL ? strlen(v) : 0;
	if (n >= cap) {
		r->bad = 1;
		n = 0;
	}
	memcpy(dst, v != NULL ? v : "", n);
	dst[n] = '\0';
}

/* An account as read: its numeric columns (NULL as -1 where creditd
 * reads it so, otherwise 0) and the strings the guard looks at. */
struct bacct {
	int64_t v[BA_NCOLS];
	char ext[TEXT_MAX], status[16];
	int changed;
};

struct bhold {
	int64_t id, account, amount, rate_minute, rate_tokens;
	char state[16], model[TEXT_MAX], request_id[TEXT_MAX];
};

/* What one transaction's CALLs read, and what it decided. */
struct bbatch {
	struct bacct acct[BATCH_MAX];
	int nacct;
	struct bhold hold[BATCH_MAX];
	int nhold;
	struct sgrant grant[BATCH_GRANTS];
	int ngrant;
	int64_t new_hold[BATCH_MAX];	/* new_holds: each new hold's id, by its place */
	int64_t now;
	int over;			/* a set had more rows than the arrays hold */
};

static int acct_col_nullable(int col)
{
	return col == BA_MONTHLY_LIMIT || col == BA_LOW_BALANCE || col == BA_SWEEP_DUE || col == BA_DAILY_LIMIT ||
	       col == BA_RECHARGE_THRESHOLD || col == BA_RECHARGE_CENTS || col == BA_RPM || col == BA_TPM;
}

static void batch_account_row(struct bbatch *b, struct brow *r)
{
	if (b->nacct == BATCH_MAX) {
		b->over = 1;
		return;
	}
	struct bacct *a = &b->acct[b->nacct++];
	memset(a, 0, sizeof(*a));
	for (int col = BA_ID; col < BA_NCOLS; col++) {
		if (col == BA_EXT || col == BA_KIND || col == BA_STATUS || col == BA_PLAN || col == BA_STRIPE ||
		    col == BA_STATUS_REASON)
			continue;
		a->v[col] = r->isnull[col] && col < (int)r->ncols ? (acct_col_nullable(col) ? -1 : 0)
								    : brow_i64(r, (unsigned int)col, 0);
	}
	brow_copy(r, BA_EXT, a->ext, sizeof(a->ext));
	brow_copy(r, BA_STATUS, a->status, sizeof(a->status));
}

/* One row of a set, by the set's name (its first column): the accounts,
 * the holds (id, account, state, amount, ... model 6, ... request_id 14,
 * ... rate_minute 20, rate_tokens 21), the grants (id, account,
 * remaining, is debt) and new_holds (place, id). Other sets are read and
 * dropped. */
static int batch_row(struct bbatch *b, const char *set, struct brow *r)
{
	if (strcmp(set, "accounts") == 0) {
		batch_account_row(b, r);
	} else if (strcmp(set, "holds") == 0 && b->nhold < BATCH_MAX) {
		struct bhold *h = &b->hold[b->nhold++];
		h->id = brow_i64(r, 1, 0);
		h->account = brow_i64(r, 2, 0);
		h->amount = brow_i64(r, 4, 0);
		h->rate_minute = brow_i64(r, 20, -1);
		h->rate_tokens = brow_i64(r, 21, 0);
		brow_copy(r, 3, h->state, sizeof(h->state));
		brow_copy(r, 6, h->model, sizeof(h->model));
		brow_copy(r, 14, h->request_id, sizeof(h->request_id));
	} else if (strcmp(set, "grants") == 0 && b->ngrant < BATCH_GRANTS) {
		struct sgrant *g = &b->grant[b->ngrant++];
		memset(g, 0, sizeof(*g));
		g->id = brow_i64(r, 1, 0);
		g->account = brow_i64(r, 2, 0);
		g->remaining = brow_i64(r, 3, 0);
		g->debt = brow_i64(r, 4, 0) != 0;
	} else if (strcmp(set, "new_holds") == 0) {
		int64_t at = brow_i64(r, 1, -1);
		if (at >= 0 && at < BATCH_MAX)
			b->new_hold[at] = brow_i64(r, 2, 0);
	} else if (strcmp(set, "holds") == 0 || strcmp(set, "grants") == 0) {
		b->over = 1;
	}
	return r->bad ? E_CLIENT : 0;
}

/* Reads the result set the CALL is at, row by row into batch_row. The
 * set is consumed whatever happens, so the connection stays in step. */
static int batch_set(struct conn *c, MYSQL_STMT *st, struct bbatch *b)
{
	static __thread struct brow r;
	MYSQL_BIND bind[SET_COLS_MAX];
	char name[32] = "";
	int e = 0, rc;
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	r.ncols = 0;
	if (meta != NULL) {
		r.ncols = mysql_num_fields(meta);
		snprintf(name, sizeof(name), "%s", mysql_fetch_fields(meta)[0].name);
		mysql_free_result(meta);
	}
	if (r.ncols == 0 || r.ncols > SET_COLS_MAX)
		e = E_CLIENT;
	memset(bind, 0, sizeof(bind));
	for (unsigned int i = 0; e == 0 && i < r.ncols; i++) {
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = r.cell[i];
		bind[i].buffer_length = CELL_BYTES - 1;
		bind[i].length = &r.len[i];
		bind[i].is_null = &r.isnull[i];
		bind[i].error = &r.cut[i];
	}
	if (e == 0 && mysql_stmt_bind_result(st, bind) != 0)
		e = stmt_errno(c, st);
	if (mysql_stmt_store_result(st) != 0) {
		e = stmt_errno(c, st);
	} else {
		while (e == 0 && (rc = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
			if (rc == 1) {
				e = stmt_errno(c, st);
				break;
			}
			r.bad = 0;
			e = batch_row(b, name, &r);	/* MYSQL_DATA_TRUNCATED: brow_str tells */
		}
	}
	mysql_stmt_free_result(st);
	return e;
}

/* A CALL's lists, in its parameters' order: each a JSON array of rows
 * in one text (an offset, not a pointer: the text grows), bound as a
 * parameter of its own. */
struct blists {
	struct sbuf text;
	size_t off[LISTS_MAX], len[LISTS_MAX];
	int n;
};

static void lists_reset(struct blists *l)
{
	l->text.len = 0;
	l->text.failed = 0;
	l->n = 0;
}

/* Opens the next list; its rows follow, comma-separated, then
 * list_close. More than LISTS_MAX lists is an error (the text fails). */
static void list_open(struct blists *l)
{
	if (l->n == LISTS_MAX) {
		l->text.failed = 1;
		return;
	}
	l->off[l->n] = l->text.len;
	sb(&l->text, "[");
}

static void list_close(struct blists *l)
{
	if (l->n == LISTS_MAX)
		return;
	sb(&l->text, "]");
	l->len[l->n] = l->text.len - l->off[l->n];
	l->n++;
}

/* The next n lists, empty. */
static void lists_empty(struct blists *l, int n)
{
	for (int i = 0; i < n; i++) {
		list_open(l);
		list_close(l);
	}
}

/* Runs one of the two CALLs in one round trip, its two numbers (lock and
 * page, or now and commit) then its lists bound as creditd binds them:
 * an empty list ("[]") is SQL NULL, any other a string. Reads every
 * result set up to the CALL's own status. 0 or the MariaDB error number
 * (a deadlock in the procedure ends the CALL with it). */
static int batch_call(struct conn *c, enum stmt_id id, int64_t first, int64_t second, const struct blists *l,
		      struct bbatch *b)
{
	MYSQL_STMT *st = c->s[id].st;
	MYSQL_BIND bind[2 + LISTS_MAX];
	unsigned long len[LISTS_MAX];
	my_bool null[LISTS_MAX];
	long long ints[2] = {first, second};
	int e = 0, rc;
	if (l->text.failed || l->text.p == NULL || mysql_stmt_param_count(st) != 2 + (unsigned long)l->n)
		return E_CLIENT;
	memset(bind, 0, sizeof(bind));
	for (int i = 0; i < 2; i++) {
		bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
		bind[i].buffer = &ints[i];
	}
	for (int i = 0; i < l->n; i++) {
		MYSQL_BIND *p = &bind[2 + i];
		null[i] = l->len[i] == 2;	/* "[]" */
		len[i] = null[i] ? 0 : (unsigned long)l->len[i];
		p->buffer_type = MYSQL_TYPE_STRING;
		p->buffer = null[i] ? NULL : l->text.p + l->off[i];
		p->buffer_length = len[i];
		p->length = &len[i];
		p->is_null = &null[i];
	}
	if (mysql_stmt_bind_param(st, bind) != 0)
		return stmt_errno(c, st);
	c->round_trips++;
	if (mysql_stmt_execute(st) != 0)
		return stmt_errno(c, st);
	do {
		if (mysql_stmt_field_count(st) > 0) {
			int set_e = batch_set(c, st, b);
			e = e != 0 ? e : set_e;
		}
		rc = mysql_stmt_next_result(st);
	} while (rc == 0);
	if (rc > 0 && e == 0)
		e = stmt_errno(c, st);
	return e != 0 ? e : b->over ? E_CLIENT : 0;
}

/* A JSON string (null for NULL). The bench's texts are plain, but a
 * settle's stored answer is itself JSON, so quotes are escaped. */
static void jstr(struct sbuf *s, const char *v)
{
	if (v == NULL) {
		sb(s, "null");
		return;
	}
	sb(s, "\"");
	for (const char *q = v; *q != '\0'; q++) {
		if (*q == '"' || *q == '\\')
			sb(s, "\\%c", *q);
		else if ((unsigned char)*q < 0x20)
			sb(s, "\\u%04x", (unsigned int)(unsigned char)*q);
		else
			sb(s, "%c", *q);
	}
	sb(s, "\"");
}

/* An integer, or null when has is 0. */
static void jopt(struct sbuf *s, int has, int64_t v)
{
	if (has)
		sb(s, "%" PRId64, v);
	else
		sb(s, "null");
}

static struct bacct *bacct_by_ext(struct bbatch *b, const char *ext)
{
	for (int i = 0; i < b->nacct; i++)
		if (strcmp(b->acct[i].ext, ext) == 0)
			return &b->acct[i];
	return NULL;
}

static struct bacct *bacct_by_id(struct bbatch *b, int64_t id)
{
	for (int i = 0; i < b->nacct; i++)
		if (b->acct[i].v[BA_ID] == id)
			return &b->acct[i];
	return NULL;
}

static struct bhold *bhold_by_id(struct bbatch *b, int64_t id, int64_t account)
{
	for (int i = 0; i < b->nhold; i++)
		if (b->hold[i].id == id && b->hold[i].account == account)
			return &b->hold[i];
	return NULL;
}

/* After the read: each account opened as creditd's acct_touch does (the
 * month and the day rolled over). Plan renewals and expiry sweeps are
 * not run: the bench's accounts have no plan, and its holds (ttl 600 s)
 * do not come due during a run. */
static void batch_touch(struct bbatch *b)
{
	int64_t month = month_key_of(b->now), day = b->now / 86400;
	for (int i = 0; i < b->nacct; i++) {
		int64_t *v = b->acct[i].v;
		if (v[BA_MONTH_KEY] != month) {
			v[BA_MONTH_KEY] = month;
			v[BA_MONTH_SPENT] = 0;
			b->acct[i].changed = 1;
		}
		if (v[BA_DAY_KEY] != day) {
			v[BA_DAY_KEY] = day;
			v[BA_DAY_SPENT] = 0;
			b->acct[i].changed = 1;
		}
	}
}

/* The write CALL's accounts list: the changed accounts, in the order
 * read. */
static void accounts_list(struct blists *l, const struct bbatch *b)
{
	struct sbuf *s = &l->text;
	list_open(l);
	for (int i = 0, k = 0; i < b->nacct; i++) {
		if (!b->acct[i].changed)
			continue;
		sb(s, "%s[", k++ ? "," : "");
		for (size_t col = 0; col < sizeof(acct_write_cols) / sizeof(acct_write_cols[0]); col++) {
			int64_t v = b->acct[i].v[acct_write_cols[col]];
			sb(s, "%s", col ? "," : "");
			jopt(s, acct_write_cols[col] != BA_SWEEP_DUE || v >= 0, v);	/* sweep_due_at -1: none */
		}
		sb(s, "]");
	}
	list_close(l);
}

static void batch_begin(struct bbatch *b, int64_t now)
{
	b->nacct = b->nhold = b->ngrant = b->over = 0;
	memset(b->new_hold, 0, sizeof(b->new_hold));
	b->now = now;
}

/* creditd's guard check (src/ledger/ledger_members.c charge_check) and rate
 * windows (src/ledger/ledger_holds.c rates_take) for a hold of amount and tokens. */
static int authorize_check(struct bacct *ba, int64_t amount, int64_t tokens, int64_t now)
{
	int64_t *v = ba->v, minute = now / 60;
	int64_t available = v[BA_BALANCE] - v[BA_RESERVED] + v[BA_OVERDRAFT];
	if (strcmp(ba->status, "active") != 0 || amount > available ||
	    (v[BA_MONTHLY_LIMIT] >= 0 && v[BA_MONTH_SPENT] + v[BA_RESERVED] + amount > v[BA_MONTHLY_LIMIT]) ||
	    (v[BA_DAILY_LIMIT] >= 0 && v[BA_DAY_SPENT] + v[BA_RESERVED] + amount > v[BA_DAILY_LIMIT]))
		return E_REFUSED;
	if (v[BA_RATE_MINUTE] != minute) {
		v[BA_RATE_MINUTE] = minute;
		v[BA_RATE_REQUESTS] = 0;
		v[BA_RATE_TOKENS] = 0;
	}
	if ((v[BA_RPM] >= 0 && v[BA_RATE_REQUESTS] + 1 > v[BA_RPM]) ||
	    (v[BA_TPM] >= 0 && v[BA_RATE_TOKENS] + tokens > v[BA_TPM]))
		return E_REFUSED;
	v[BA_RATE_REQUESTS]++;
	v[BA_RATE_TOKENS] += tokens;
	return 0;
}

/* n authorizes in one transaction: the read CALL (the accounts by
 * external id, locked), then the write CALL (the new holds, the accounts)
 * that commits; the new holds' ids come back in new_holds. */
static int authorize_batch(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct blists l;
	static __thread struct bbatch tb;
	struct bbatch *b = &tb;
	struct sbuf *text = &l.text;
	int64_t expires_at = now + opt.ttl_s;
	int64_t tokens = opt.input_tokens + (opt.max_output_tokens > 0 ? opt.max_output_tokens : 0);
	batch_begin(b, now);
	lists_reset(&l);
	lists_empty(&l, 1);	/* ids */
	list_open(&l);		/* ext: one account locks by its external id */
	for (int i = 0, k = 0; i < n; i++) {
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= strcmp(p[j].account, p[i].account) == 0;
		if (seen)
			continue;
		sb(text, "%s", k++ ? "," : "");
		jstr(text, p[i].account);
	}
	list_close(&l);
	lists_empty(&l, 7);	/* holds, reqs, members, usages, spend_ids, spend_ext, keys */
	int e = batch_call(c, ST_BATCH_READ, 1, SPEND_GRANTS_PAGE, &l, b);
	if (e != 0)
		return e;
	batch_touch(b);
	lists_reset(&l);
	list_open(&l);		/* holds_new */
	for (int i = 0; i < n; i++) {
		struct bacct *ba = bacct_by_ext(b, p[i].account);
		if (ba == NULL)
			return E_NOT_FOUND;
		e = authorize_check(ba, opt.hold_micros, tokens, now);
		if (e != 0)
			return e;
		int64_t *v = ba->v;
		p[i].account_id = v[BA_ID];
		v[BA_RESERVED] += opt.hold_micros;
		if (v[BA_SWEEP_DUE] < 0 || expires_at < v[BA_SWEEP_DUE])
			v[BA_SWEEP_DUE] = expires_at;
		ba->changed = 1;
		/* write_new_holds' columns: account, request_id, member, model,
		 * action, conversation, amount, max_output, the four pins, the
		 * rate window's minute and tokens, byok, expires_at. */
		sb(text, "%s[%" PRId64 ",", i ? "," : "", v[BA_ID]);
		jstr(text, p[i].request_id);
		sb(text, ",null,");
		jstr(text, opt.model);
		sb(text, ",null,null,%" PRId64 ",", opt.hold_micros);
		jopt(text, opt.max_output_tokens >= 0, opt.max_output_tokens);
		for (int k = 0; k < 4; k++) {
			sb(text, ",");
			jopt(text, c->priced, c->pin[k]);
		}
		sb(text, ",%" PRId64 ",%" PRId64 ",0,%" PRId64 "]", v[BA_RATE_MINUTE], tokens, expires_at);
	}
	list_close(&l);
	lists_empty(&l, 7);	/* usages_new, usages, holds_set, grants_set, debts, journal, members */
	accounts_list(&l, b);
	lists_empty(&l, 3);	/* events, recharges, keys */
	e = batch_call(c, ST_BATCH_WRITE, now, 1, &l, b);
	for (int i = 0; e == 0 && i < n; i++) {
		p[i].hold_id = b->new_hold[i];
		if (p[i].hold_id <= 0)
			e = E_CLIENT;
	}
	return e;
}

/* What one settle decided, for its rows in the write document. */
struct settled {
	struct bacct *acct;
	struct bhold *hold;
	int64_t balance, available, released;	/* after it, for its journal row and stored answer */
};

/* One settle, decided as creditd's settle_decide on the rows read: the
 * hold's reserve let go, the rate window corrected, the cost burnt from
 * the grants in spending order. 0 or one of our own errors. */
static int settle_decide_batch(struct bbatch *b, const struct pair *p, struct settled *out)
{
	struct bacct *ba = bacct_by_id(b, p->account_id);
	struct bhold *h = bhold_by_id(b, p->hold_id, p->account_id);
	int64_t cost = opt.cost_micros, left = cost;
	if (ba == NULL || h == NULL)
		return E_NOT_FOUND;
	if (strcmp(h->state, "pending") != 0)
		return E_STATE;
	int64_t *v = ba->v;
	if (h->rate_minute >= 0 && h->rate_minute == v[BA_RATE_MINUTE]) {
		v[BA_RATE_TOKENS] += opt.input_tokens + opt.output_tokens - h->rate_tokens;
		if (v[BA_RATE_TOKENS] < 0)
			v[BA_RATE_TOKENS] = 0;
	}
	v[BA_RESERVED] -= h->amount;
	v[BA_MONTH_SPENT] += cost;
	v[BA_DAY_SPENT] += cost;
	ba->changed = 1;
	for (int g = 0; g < b->ngrant && left > 0; g++) {
		struct sgrant *gr = &b->grant[g];
		if (gr->account != v[BA_ID] || gr->debt || gr->remaining <= 0)
			continue;
		int64_t take = gr->remaining < left ? gr->remaining : left;
		gr->remaining -= take;
		gr->changed = 1;
		left -= take;
	}
	if (left > 0)
		return E_DEBT;
	v[BA_BALANCE] -= cost;
	snprintf(h->state, sizeof(h->state), "settled");
	out->acct = ba;
	out->hold = h;
	out->balance = v[BA_BALANCE];
	out->available = v[BA_BALANCE] - v[BA_RESERVED] + v[BA_OVERDRAFT];
	out->released = h->amount > cost ? h->amount - cost : 0;
	return 0;
}

/* The read CALL's lists for n settles: their accounts by id (ascending,
 * once each), the same as spenders, and their holds ascending by id. */
static void settle_read_lists(struct blists *l, const struct pair *p, int n)
{
	struct sbuf *text = &l->text;
	int64_t ids[BATCH_MAX], holds[BATCH_MAX][2];
	int nids = 0;
	for (int i = 0; i < n; i++) {
		int seen = 0;
		for (int j = 0; j < nids; j++)
			seen |= ids[j] == p[i].account_id;
		if (!seen)
			ids[nids++] = p[i].account_id;
		holds[i][0] = p[i].hold_id;
		holds[i][1] = p[i].account_id;
	}
	for (int i = 1; i < nids; i++)		/* a few: insertion sorts */
		for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			int64_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && holds[j - 1][0] > holds[j][0]; j--) {
			int64_t t0 = holds[j][0], t1 = holds[j][1];
			holds[j][0] = holds[j - 1][0];
			holds[j][1] = holds[j - 1][1];
			holds[j - 1][0] = t0;
			holds[j - 1][1] = t1;
		}
	lists_reset(l);
	list_open(l);		/* ids */
	for (int i = 0; i < nids; i++)
		sb(text, "%s%" PRId64, i ? "," : "", ids[i]);
	list_close(l);
	lists_empty(l, 1);	/* ext */
	list_open(l);		/* holds */
	for (int i = 0; i < n; i++)
		sb(text, "%s[%" PRId64 ",%" PRId64 "]", i ? "," : "", holds[i][0], holds[i][1]);
	list_close(l);
	lists_empty(l, 3);	/* reqs, members, usages */
	list_open(l);		/* spend_ids: settles may charge */
	for (int i = 0; i < nids; i++)
		sb(text, "%s%" PRId64, i ? "," : "", ids[i]);
	list_close(l);
	lists_empty(l, 2);	/* spend_ext, keys */
}

/* The settles' lists of the write CALL, usages to journal: each one's
 * usage, the holds settled with their stored answers, the grants burnt,
 * no debts, the journal. */
static void settle_lists(struct blists *l, const struct bbatch *b, const struct pair *p, const struct settled *s,
			 int n)
{
	struct sbuf *text = &l->text;
	char ref[64], answer[512];
	int64_t cost = opt.cost_micros;
	list_open(l);		/* usages */
	for (int i = 0; i < n; i++) {
		sb(text, "%s[%" PRId64 ",%" PRId64 ",null,null,", i ? "," : "", p[i].account_id, p[i].hold_id);
		jstr(text, s[i].hold->model[0] ? s[i].hold->model : NULL);
		sb(text, ",null,%" PRId64 ",0,%" PRId64 ",%" PRId64 ",0,", opt.input_tokens, opt.output_tokens, cost);
		jstr(text, s[i].hold->request_id);
		sb(text, ",null,null]");
	}
	list_close(l);
	list_open(l);		/* holds_set */
	for (int h = 0, k = 0; h < b->nhold; h++) {	/* in the order read, as write_changed_holds */
		int i = 0;
		while (i < n && s[i].hold != &b->hold[h])
			i++;
		if (i == n)
			continue;
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, p[i].account_id, p[i].hold_id);
		snprintf(answer, sizeof(answer), "{\"hold_id\":\"%s\",\"account\":\"%s\",\"charged_micros\":%" PRId64
			 ",\"released_micros\":%" PRId64 ",\"balance_micros\":%" PRId64 ",\"available_micros\":%" PRId64
			 ",\"late\":false}", ref, s[i].acct->ext, cost, s[i].released, s[i].balance, s[i].available);
		sb(text, "%s[%" PRId64 ",\"settled\",%" PRId64 ",\"", k++ ? "," : "", p[i].hold_id, cost);
		for (int byte = 0; byte < 32; byte++)	/* the settle hash the other versions store */
			sb(text, "%02x", (unsigned int)(p[i].hold_id >> (8 * (byte % 8))) & 0xff);
		sb(text, "\",");
		jstr(text, answer);
		sb(text, "]");
	}
	list_close(l);
	list_open(l);		/* grants_set */
	for (int g = 0, k = 0; g < b->ngrant; g++)
		if (b->grant[g].changed)
			sb(text, "%s[%" PRId64 ",%" PRId64 "]", k++ ? "," : "", b->grant[g].id, b->grant[g].remaining);
	list_close(l);
	lists_empty(l, 1);	/* debts */
	list_open(l);		/* journal */
	for (int i = 0, k = 0; cost > 0 && i < n; i++) {
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, p[i].account_id, p[i].hold_id);
		sb(text, "%s[%" PRId64 ",%" PRId64 ",%" PRId64 ",\"usage\",null,%" PRId64 ",\"%s\",\"settle:%s\"]",
		   k++ ? "," : "", p[i].account_id, -cost, s[i].balance, p[i].hold_id, ref, ref);
	}
	list_close(l);
}

/* n settles in one transaction: the read CALL (accounts by id, holds
 * with their members, grants in spending order, all locked), then the
 * write CALL that commits. */
static int settle_batch(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct blists l;
	static __thread struct bbatch tb;
	struct bbatch *b = &tb;
	struct settled s[BATCH_MAX];
	batch_begin(b, now);
	settle_read_lists(&l, p, n);
	int e = batch_call(c, ST_BATCH_READ, 1, SPEND_GRANTS_PAGE, &l, b);
	if (e != 0)
		return e;
	batch_touch(b);
	for (int i = 0; i < n; i++) {
		e = settle_decide_batch(b, &p[i], &s[i]);
		if (e != 0)
			return e;
	}
	lists_reset(&l);
	lists_empty(&l, 2);	/* holds_new, usages_new */
	settle_lists(&l, b, p, s, n);
	lists_empty(&l, 1);	/* members */
	accounts_list(&l, b);
	lists_empty(&l, 3);	/* events, recharges, keys */
	return batch_call(c, ST_BATCH_WRITE, now, 1, &l, b);
}

/* ---- Threads ---- */

static atomic_int phase;		/* 0 warm-up, 1 measuring, 2 stop */
static atomic_int ready;
static atomic_int failed;

struct worker {
	pthread_t thread;
	long index;
	uint32_t *samples;		/* latency of each measured transaction, µs */
	size_t nsamples;
	unsigned long long pairs, tx, errors, retries;
	unsigned long long rt_authorize, n_authorize, rt_settle, n_settle;
	uint64_t rng;
};

static int retryable(int e)
{
	return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT || e == ER_CHECKREAD;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void backoff(int attempt)
{
	long max_us = 1000L << (attempt < 6 ? attempt : 6);
	struct timespec ts = {0, (long)(rand() % max_us) * 1000L};
	nanosleep(&ts, NULL);
}

/* Runs one transaction with creditd's retry rule (whole transaction, on
 * deadlock, lock wait timeout and snapshot conflicts); commits on success,
 * rolls back on failure. Counts its round trips and latency while
 * measuring. 0 or the last error. */
static int run_tx(struct worker *w, struct conn *c, int settle, struct pair *p, int n)
{
	double t0 = now_us();
	unsigned long long rt0 = c->round_trips;
	int e = 0;
	for (int attempt = 0; attempt < TX_RETRIES; attempt++) {
		if (attempt > 0) {
			backoff(attempt);
			w->retries += atomic_load(&phase) == 1;
		}
		int64_t now = (int64_t)time(NULL);
		c->stmt_error[0] = '\0';
		if (opt.sql == SQL_SCRIPTS)
			e = settle ? settle_script(c, p, n, now) : authorize_script(c, p, n, now);
		else if (opt.sql == SQL_CALL)
			e = settle ? settle_call(c, p, now) : authorize_call(c, p, now);
		else if (opt.sql == SQL_BATCH)
			e = settle ? settle_batch(c, p, n, now) : authorize_batch(c, p, n, now);
		else
			e = settle ? settle_tx(c, p, now) : authorize_tx(c, p, now);
		if (e == 0 && opt.sql == SQL_STATEMENTS) {	/* a script or a (write) CALL commits itself */
			c->round_trips++;
			e = mysql_commit(c->db) != 0 ? (int)mysql_errno(c->db) : 0;
			if (e != 0)
				snprintf(c->stmt_error, sizeof(c->stmt_error), "%s", mysql_error(c->db));
		} else if (e != 0) {
			if (c->stmt_error[0] == '\0')	/* a script's error is the connection's */
				snprintf(c->stmt_error, sizeof(c->stmt_error), "%s", mysql_error(c->db));
			c->round_trips++;
			mysql_rollback(c->db);
		}
		if (!retryable(e))
			break;
	}
	if (atomic_load(&phase) == 1) {
		double us = now_us() - t0;
		if (w->nsamples < SAMPLES_MAX)
			w->samples[w->nsamples++] = us > 4e9 ? UINT32_MAX : (uint32_t)us;
		w->tx++;
		if (settle) {
			w->rt_settle += c->round_trips - rt0;
			w->n_settle += (unsigned long long)n;
		} else {
			w->rt_authorize += c->round_trips - rt0;
			w->n_authorize += (unsigned long long)n;
		}
		w->errors += e != 0;
	}
	return e;
}

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn c;
	struct pair p[BATCH_MAX];
	int n = opt.sql == SQL_SCRIPTS || opt.sql == SQL_BATCH ? (int)opt.batch : 1;
	unsigned long long counter = 0, failures = 0;
	mysql_thread_init();
	if (conn_open(&c) != 0) {
		atomic_store(&failed, 1);
		atomic_fetch_add(&ready, 1);
		goto out;
	}
	atomic_fetch_add(&ready, 1);
	while (atomic_load(&phase) != 2 && failures < ERRORS_MAX) {
		memset(p, 0, sizeof(p));
		for (int i = 0; i < n; i++) {
			if (opt.hot)
				snprintf(p[i].account, sizeof(p[i].account), "%s", opt.hot_account);
			else
				snprintf(p[i].account, sizeof(p[i].account), "%s%05" PRIu64, opt.prefix,
					 next_random(&w->rng) % (uint64_t)opt.accounts);
			snprintf(p[i].request_id, sizeof(p[i].request_id), "%s-%ld-%llu", opt.tag, w->index, ++counter);
		}
		int e = run_tx(w, &c, 0, p, n);
		if (e == 0)
			e = run_tx(w, &c, 1, p, n);
		if (e != 0) {
			if (failures++ == 0)
				fprintf(stderr, "rawdb: thread %ld: transaction failed: error %d%s%s\n", w->index, e,
					e > 1000 ? ": " : "", e > 1000 ? c.stmt_error : "");
			continue;
		}
		w->pairs += atomic_load(&phase) == 1 ? (unsigned long long)n : 0;
	}
	if (failures >= ERRORS_MAX)
		atomic_store(&failed, 1);
out:
	conn_close(&c);
	mysql_thread_end();
	return NULL;
}

/* ---- Main ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = (long)v;
	return 0;
}

static int parse_options(int argc, char **argv)
{
	long v;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *val = argv[i + 1];
		int bad = 0;
		if (strcmp(k, "--socket") == 0) opt.socket = val;
		else if (strcmp(k, "--user") == 0) opt.user = val;
		else if (strcmp(k, "--database") == 0) opt.database = val;
		else if (strcmp(k, "--prefix") == 0) opt.prefix = val;
		else if (strcmp(k, "--hot-account") == 0) opt.hot_account = val;
		else if (strcmp(k, "--model") == 0) opt.model = val;
		else if (strcmp(k, "--tag") == 0) opt.tag = val;
		else if (strcmp(k, "--sql") == 0) {
			bad = 1;
			for (int version = SQL_STATEMENTS; version <= SQL_BATCH; version++)
				if (strcmp(val, sql_version_name[version]) == 0) {
					opt.sql = (enum sql_version)version;
					bad = 0;
				}
		} else if (strcmp(k, "--batch") == 0) {
			bad = parse_long(val, 1, BATCH_MAX, &opt.batch);
		} else if (strcmp(k, "--mode") == 0) {
			opt.hot = strcmp(val, "hot") == 0;
			bad = !opt.hot && strcmp(val, "spread") != 0;
		} else if (strcmp(k, "--threads") == 0) bad = parse_long(val, 1, THREADS_MAX, &opt.threads);
		else if (strcmp(k, "--warmup") == 0) bad = parse_long(val, 0, 3600, &opt.warmup_s);
		else if (strcmp(k, "--duration") == 0) bad = parse_long(val, 1, 3600, &opt.duration_s);
		else if (strcmp(k, "--accounts") == 0) bad = parse_long(val, 1, 99999, &opt.accounts);
		else if (strcmp(k, "--ttl-seconds") == 0) bad = parse_long(val, 1, 86400, &opt.ttl_s);
		else if (strcmp(k, "--hold-micros") == 0) { bad = parse_long(val, 0, 1000000000000L, &v); opt.hold_micros = v; }
		else if (strcmp(k, "--cost-micros") == 0) { bad = parse_long(val, 0, 1000000000000L, &v); opt.cost_micros = v; }
		else if (strcmp(k, "--input-tokens") == 0) { bad = parse_long(val, 0, 1000000000L, &v); opt.input_tokens = v; }
		else if (strcmp(k, "--output-tokens") == 0) { bad = parse_long(val, 0, 1000000000L, &v); opt.output_tokens = v; }
		else if (strcmp(k, "--max-output-tokens") == 0) { bad = parse_long(val, 0, 1000000000L, &v); opt.max_output_tokens = v; }
		else bad = 1;
		if (bad) {
			fprintf(stderr, "rawdb: bad option %s %s\n", k, val);
			return -1;
		}
	}
	if (argc % 2 != 1 || opt.socket == NULL || opt.hold_micros < 0 || opt.cost_micros < 0 ||
	    opt.cost_micros > opt.hold_micros) {
		fprintf(stderr, "usage: rawdb --socket PATH --hold-micros M --cost-micros M (cost <= hold) "
				"[--threads N --warmup S --duration S --mode spread|hot ...]; see bench/rawdb.c\n");
		return -1;
	}
	opt.password = getenv("RAWDB_PASSWORD");
	return 0;
}

static void sleep_seconds(long s)
{
	struct timespec ts = {s, 0};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	if (parse_options(argc, argv) != 0)
		return 2;
	if (mysql_library_init(0, NULL, NULL) != 0)
		return 1;
	struct worker *w = calloc((size_t)opt.threads, sizeof(*w));
	if (w == NULL)
		return 1;
	srand((unsigned int)time(NULL));
	for (long i = 0; i < opt.threads; i++) {
		w[i].index = i;
		w[i].rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)(i + 1) * 0x100000001b3ULL) ^ (uint64_t)time(NULL);
		w[i].samples = malloc(SAMPLES_MAX * sizeof(uint32_t));
		if (w[i].samples == NULL || pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "rawdb: cannot start thread %ld\n", i);
			return 1;
		}
	}
	while (atomic_load(&ready) < opt.threads)
		usleep(1000);
	if (atomic_load(&failed)) {
		atomic_store(&phase, 2);
		for (long i = 0; i < opt.threads; i++)
			pthread_join(w[i].thread, NULL);
		return 1;
	}
	sleep_seconds(opt.warmup_s);
	double t0 = now_us();
	atomic_store(&phase, 1);
	sleep_seconds(opt.duration_s);
	atomic_store(&phase, 2);
	double t1 = now_us();
	struct worker sum;
	memset(&sum, 0, sizeof(sum));
	for (long i = 0; i < opt.threads; i++) {
		pthread_join(w[i].thread, NULL);
		sum.pairs += w[i].pairs;
		sum.tx += w[i].tx;
		sum.errors += w[i].errors;
		sum.retries += w[i].retries;
		sum.rt_authorize += w[i].rt_authorize;
		sum.n_authorize += w[i].n_authorize;
		sum.rt_settle += w[i].rt_settle;
		sum.n_settle += w[i].n_settle;
		sum.nsamples += w[i].nsamples;
	}
	uint32_t *all = malloc((sum.nsamples + 1) * sizeof(uint32_t));
	if (all == NULL)
		return 1;
	size_t k = 0;
	for (long i = 0; i < opt.threads; i++) {
		memcpy(all + k, w[i].samples, w[i].nsamples * sizeof(uint32_t));
		k += w[i].nsamples;
		free(w[i].samples);
	}
	qsort(all, k, sizeof(uint32_t), cmp_u32);
	uint32_t p50 = k > 0 ? all[(k - 1) * 50 / 100] : 0, p99 = k > 0 ? all[(k - 1) * 99 / 100] : 0;
	double seconds = (t1 - t0) / 1e6;
	printf("{\"threads\":%ld,\"batch\":%ld,\"sql\":\"%s\",\"mode\":\"%s\",\"duration_s\":%.3f,\"pairs\":%llu,\"pairs_per_s\":%.1f,"
	       "\"transactions\":%llu,\"p50_us\":%u,\"p99_us\":%u,\"errors\":%llu,\"retries\":%llu,"
	       "\"authorize_tx\":%llu,\"authorize_round_trips\":%llu,\"settle_tx\":%llu,\"settle_round_trips\":%llu}\n",
	       opt.threads, opt.sql == SQL_SCRIPTS || opt.sql == SQL_BATCH ? opt.batch : 1L, sql_version_name[opt.sql], opt.hot ? "hot" : "spread", seconds, sum.pairs, (double)sum.pairs / seconds, sum.tx, p50,
	       p99, sum.errors, sum.retries, sum.n_authorize, sum.rt_authorize, sum.n_settle, sum.rt_settle);
	free(all);
	free(w);
	mysql_library_end();
	return atomic_load(&failed) || sum.errors > 0 ? 1 : 0;
}
