/* rawdb_conn.c: one connection of rawdb (see rawdb.c), its statements,
 * verbatim from creditd, prepared for the SQL version run, and running
 * them as creditd's db_exec does. */
#include "rawdb.h"

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
	/* sql/020_batch_calls.sql, as src/ledger/guard/ledger_load.c (SQL_READ) and
	 * src/ledger/guard/ledger_batch.c (SQL_WRITE) call them: (lock, page, then the 9
	 * lists of READ_LISTS) and (now, commit, then the 12 lists of
	 * WRITE_LISTS). */
	[ST_BATCH_READ] = "CALL cd_batch_read(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_BATCH_WRITE] = "CALL cd_batch_write(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
};
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

void conn_close(struct conn *c)
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
int conn_open(struct conn *c)
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
int stmt_errno(struct conn *c, MYSQL_STMT *st)
{
	int e = (int)mysql_stmt_errno(st);
	snprintf(c->stmt_error, sizeof(c->stmt_error), "%s", mysql_stmt_error(st));
	return e != 0 ? e : E_CLIENT;
}

/* Runs statement id with parameters (params_bind's format) and stores
 * its whole result. 0 or the MariaDB error number. */
int exec(struct conn *c, enum stmt_id id, const char *fmt, ...)
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
int call_rows(struct conn *c, MYSQL_STMT *st, int64_t *out, unsigned int nout, int *got)
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
int call_run(struct conn *c, enum stmt_id id, int64_t *out, unsigned int nout, const char *fmt, ...)
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
int fetch(struct stmt *s)
{
	int rc = mysql_stmt_fetch(s->st);
	return rc == 0 ? 1 : rc == MYSQL_NO_DATA ? 0 : -1;
}

const char *col_str(const struct stmt *s, unsigned int col)
{
	if (col >= s->ncols || s->isnull[col])
		return NULL;
	unsigned long n = s->len[col] < s->res[col].buffer_length ? s->len[col] : s->res[col].buffer_length;
	s->buf[col][n] = '\0';
	return s->buf[col];
}

int64_t col_i64(const struct stmt *s, unsigned int col, int64_t if_null)
{
	const char *v = col_str(s, col);
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : if_null;
}

