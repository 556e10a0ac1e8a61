/* store_sets.c: a statement run, what a transaction does between its
 * attempt's start and its end: its parameters (struct db_params, each
 * bound by its type, in order, up to DB_PARAMS_MAX: one more marks the
 * set overflowed, refused when it runs; store_exec's format string bound
 * through the same builders), the connection's cache of prepared
 * statements, a statement's rows, and the result sets of one CALL as
 * text (store_sets.h). Every statement creditd sends goes through
 * store_exec_params here, so the round trip counter is exact. It calls
 * the connection (store.c) for the errors it maps, and nothing above. */
#include "store_sets.h"
#include <assert.h>
#include "jsonw.h"
#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

/* ---- A statement's parameters ---- */

void store_params_init(struct db_params *p)
{
	memset(p, 0, sizeof(*p));
}

static MYSQL_BIND *dbp_next(struct db_params *p)
{
	if (p->n == DB_PARAMS_MAX) {
		p->overflow = 1;
		return NULL;
	}
	MYSQL_BIND *b = &p->bind[p->n];
	memset(b, 0, sizeof(*b));
	p->nulls[p->n] = 0;
	b->is_null = &p->nulls[p->n];
	return b;
}

void store_param_i64_or_null(struct db_params *p, const int64_t *v)
{
	MYSQL_BIND *b = dbp_next(p);
	if (b == NULL)
		return;
	p->ints[p->n] = v != NULL ? *v : 0;
	p->nulls[p->n] = v == NULL;
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = &p->ints[p->n];
	p->n++;
}

void store_param_i64(struct db_params *p, int64_t v)
{
	store_param_i64_or_null(p, &v);
}

static void dbp_bytes(struct db_params *p, const void *data, size_t len, enum enum_field_types type)
{
	MYSQL_BIND *b = dbp_next(p);
	if (b == NULL)
		return;
	p->lens[p->n] = data != NULL ? (unsigned long)len : 0;
	p->nulls[p->n] = data == NULL;
	b->buffer_type = type;
	b->buffer = (void *)data;
	b->buffer_length = p->lens[p->n];
	b->length = &p->lens[p->n];
	p->n++;
}

void store_param_text(struct db_params *p, const char *s, size_t len)
{
	dbp_bytes(p, s, len, MYSQL_TYPE_STRING);
}

void store_param_str(struct db_params *p, const char *s)
{
	dbp_bytes(p, s, s != NULL ? strlen(s) : 0, MYSQL_TYPE_STRING);
}

void store_param_blob(struct db_params *p, const void *data, size_t len)
{
	dbp_bytes(p, data, len, MYSQL_TYPE_BLOB);
}

static int params_vformat(struct db_params *p, const char *fmt, va_list ap)
{
	store_params_init(p);
	for (const char *f = fmt; *f != '\0'; f++) {
		if (*f == 'i') {
			store_param_i64(p, va_arg(ap, int64_t));
		} else if (*f == 'I') {
			store_param_i64_or_null(p, va_arg(ap, const int64_t *));
		} else if (*f == 's') {
			store_param_str(p, va_arg(ap, const char *));
		} else if (*f == 'b') {
			const char *data = va_arg(ap, const char *);
			store_param_blob(p, data, va_arg(ap, size_t));
		} else {
			return -1;
		}
	}
	return p->overflow ? -1 : p->n;
}

/* ---- A prepared statement run, and its rows ---- */

static int bind_results(struct dbstmt *s)
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
		if (size < 32)
			size = 32;
		if (size > DB_COL_MAX_BYTES)
			size = DB_COL_MAX_BYTES;
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

static struct dbstmt *stmt_get(struct store *db, const char *sql, int *dberr)
{
	for (int i = 0; i < db->c->nstmts; i++)
		if (db->c->stmts[i].sql == sql)
			return &db->c->stmts[i];
	if (db->c->nstmts == DB_STMTS_MAX) {
		log_error("prepared statement cache full");
		*dberr = CR_OUT_OF_MEMORY;
		return NULL;
	}
	struct dbstmt *s = &db->c->stmts[db->c->nstmts];
	memset(s, 0, sizeof(*s));
	s->st = mysql_stmt_init(db->c->db);
	if (s->st == NULL) {
		*dberr = CR_OUT_OF_MEMORY;
		return NULL;
	}
	db->round_trips++;
	if (mysql_stmt_prepare(s->st, sql, (unsigned long)strlen(sql)) != 0 || bind_results(s) != 0) {
		*dberr = (int)mysql_stmt_errno(s->st);
		if (*dberr == 0)
			*dberr = CR_OUT_OF_MEMORY;
		snprintf(db->errmsg, sizeof(db->errmsg), "prepare failed: %s: %.120s", mysql_stmt_error(s->st), sql);
		mysql_stmt_close(s->st);
		s->st = NULL;
		return NULL;
	}
	s->sql = sql;
	s->is_call = strncmp(sql, "CALL ", 5) == 0;
	db->c->nstmts++;
	return s;
}

/* After s failed (dberr): Connector/C leaves a statement whose error came
 * while its rows were read (a deadlock or a lock wait timeout of a locking
 * read, after the result's metadata) expecting rows, and the next execute
 * of it on this connection would wait for them until the read timeout,
 * its transaction's locks held all the while: a wait no deadlock detector
 * sees. The statement is reset (COM_STMT_RESET); a connection lost, or a
 * reset that fails, is dropped instead. store_exec_params, store_call and
 * store_sets_call call it. */
static void stmt_failed(struct store *db, struct dbstmt *s, int dberr)
{
	if (store_conn_lost(dberr) || !db->c->connected)
		return;
	/* The reset clears the error's text, which store_err reads. */
	if (dberr == ER_PARSE_ERROR && store_triggers_text(mysql_stmt_error(s->st)))
		db->triggers_unparsed = 1;
	db->round_trips++;
	if (mysql_stmt_reset(s->st) != 0) {
		log_warn("statement reset failed (%u), connection dropped: %.120s", mysql_stmt_errno(s->st), s->sql);
		store_disconnect(db);
	}
}

struct dbstmt *store_exec_params(struct store *db, const char *sql, const struct db_params *p, int *dberr)
{
	*dberr = 0;
	if (!db->c->connected) {
		*dberr = CR_SERVER_GONE_ERROR;
		return NULL;
	}
	struct dbstmt *s = stmt_get(db, sql, dberr);
	if (s == NULL)
		return NULL;
	int n = p->overflow ? -1 : p->n;
	if (n < 0 || (unsigned long)n != mysql_stmt_param_count(s->st)) {
		log_error("parameter mismatch for: %.120s", sql);
		*dberr = CR_UNKNOWN_ERROR;
		return NULL;
	}
	mysql_stmt_free_result(s->st);
	db->in_tx = 1;
	db->round_trips++;
	if ((n > 0 && mysql_stmt_bind_param(s->st, (MYSQL_BIND *)p->bind) != 0) || mysql_stmt_execute(s->st) != 0) {
		/* An error answered to the execute leaves it prepared. */
		*dberr = (int)mysql_stmt_errno(s->st);
		return NULL;
	}
	/* A statement whose rows' shape is known only once it ran (an
	 * INSERT … RETURNING, as a CALL's): its results bound the first time. */
	if (s->ncols == 0 && !s->is_call && mysql_stmt_field_count(s->st) > 0 && bind_results(s) != 0) {
		*dberr = CR_OUT_OF_MEMORY;
		stmt_failed(db, s, *dberr);
		return NULL;
	}
	if (s->ncols > 0 && !s->is_call && mysql_stmt_store_result(s->st) != 0) {
		*dberr = (int)mysql_stmt_errno(s->st);
		stmt_failed(db, s, *dberr);
		return NULL;
	}
#ifdef CREDITD_TEST_CLOCK
	if (!s->is_call)
		store_fault_after(db, sql);	/* its rows stored: the connection is free */
#endif
	return s;
}

static struct dbstmt *db_vexec(struct store *db, const char *sql, int *dberr, const char *fmt, va_list ap)
{
	struct db_params p;
	if (params_vformat(&p, fmt, ap) < 0) {
		log_error("bad parameter format for: %.120s", sql);
		*dberr = CR_UNKNOWN_ERROR;
		return NULL;
	}
	return store_exec_params(db, sql, &p, dberr);
}

struct dbstmt *store_exec(struct store *db, const char *sql, int *dberr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct dbstmt *s = db_vexec(db, sql, dberr, fmt, ap);
	va_end(ap);
	return s;
}

/* Binds the result of a CALL, whose shape is only known after execute. */
static int bind_call_results(struct dbstmt *s)
{
	if (s->ncols > 0)
		return mysql_stmt_bind_result(s->st, s->res) != 0 ? -1 : 0;
	return bind_results(s);
}

struct dbstmt *store_call(struct store *db, const char *sql, const struct db_params *p, int *dberr, int *got_row)
{
	*got_row = 0;
	struct dbstmt *s = store_exec_params(db, sql, p, dberr);
	if (s == NULL)
		return NULL;
	/* Every result set of the CALL is read here, the row (if any) into
	 * the statement's buffers, so the connection is free afterwards. */
	int status = 0;
	do {
		if (mysql_stmt_field_count(s->st) > 0) {
			if (bind_call_results(s) != 0 || mysql_stmt_store_result(s->st) != 0) {
				*dberr = (int)mysql_stmt_errno(s->st);
				stmt_failed(db, s, *dberr);
				return NULL;
			}
			if (!*got_row && mysql_stmt_fetch(s->st) == 0)
				*got_row = 1;
			mysql_stmt_free_result(s->st);
		}
		status = mysql_stmt_next_result(s->st);
	} while (status == 0);
	if (status > 0) {
		*dberr = (int)mysql_stmt_errno(s->st);
		stmt_failed(db, s, *dberr);
		return NULL;
	}
	return s;
}

int store_fetch(struct dbstmt *s)
{
	int rc = mysql_stmt_fetch(s->st);
	if (rc == 0)
		return 1;
	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc == MYSQL_DATA_TRUNCATED)
		log_error("column truncated in: %.120s", s->sql);
	return -1;
}

int store_null(const struct dbstmt *s, unsigned int col)
{
	return col >= s->ncols || s->isnull[col];
}

const char *store_str(const struct dbstmt *s, unsigned int col)
{
	if (store_null(s, col))
		return NULL;
	s->buf[col][s->len[col] < s->res[col].buffer_length ? s->len[col] : s->res[col].buffer_length] = '\0';
	return s->buf[col];
}

unsigned long store_len(const struct dbstmt *s, unsigned int col)
{
	return store_null(s, col) ? 0 : s->len[col];
}

int store_copy(const struct dbstmt *s, unsigned int col, char *dst, size_t cap, const char *null_text)
{
	const char *v = store_null(s, col) ? null_text : store_str(s, col);
	size_t len = strlen(v);
	if (len >= cap) {
		log_error("a value of %zu bytes (column %u) does not fit its row's %zu", len, col, cap);
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, v, len + 1);
	return 0;
}

int64_t store_i64(const struct dbstmt *s, unsigned int col)
{
	const char *v = store_str(s, col);
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : 0;
}

uint64_t store_affected(const struct dbstmt *s)
{
	return (uint64_t)mysql_stmt_affected_rows(s->st);
}

uint64_t store_insert_id(const struct dbstmt *s)
{
	return (uint64_t)mysql_stmt_insert_id(s->st);
}

int store_exec_i64(struct store *db, const char *sql, const char *key, int64_t *out, int *dberr)
{
	struct dbstmt *s = store_exec(db, sql, dberr, "s", key);
	if (s == NULL) {
		if (*dberr == 0)
			*dberr = CR_UNKNOWN_ERROR;	/* a failure never reads as an answer */
		return -1;
	}
	int got = store_fetch(s);
	if (got < 0) {
		*dberr = CR_UNKNOWN_ERROR;
		return -1;
	}
	*out = got == 1 ? store_i64(s, 0) : 0;
	return got;
}

enum cd_err store_do(struct store *db, const char *sql, const char *what, const char *fmt, ...)
{
	va_list ap;
	int dberr;
	va_start(ap, fmt);
	struct dbstmt *s = db_vexec(db, sql, &dberr, fmt, ap);
	va_end(ap);
	return s != NULL ? CD_OK : store_err(db, dberr, what);
}

/* ---- A CALL's result sets ---- */

void store_sets_init(struct db_sets *s)
{
	memset(s, 0, sizeof(*s));
	dynbuf_init(&s->data, LIMIT_BATCH_READ_BYTES);
}

void store_sets_free(struct db_sets *s)
{
	free(s->cells);
	dynbuf_free(&s->data);
	memset(s, 0, sizeof(*s));
}

static void reset(struct db_sets *s)
{
	s->n = 0;
	s->ncells = 0;
	dynbuf_reset(&s->data);
}

static struct dbsets_cell *cell_next(struct db_sets *s)
{
	if (s->ncells == s->capcells) {
		size_t cap = s->capcells ? 2 * s->capcells : 256;
		if (cap > LIMIT_BATCH_READ_CELLS)
			return NULL;
		struct dbsets_cell *c = realloc(s->cells, cap * sizeof(*c));
		if (c == NULL)
			return NULL;
		s->cells = c;
		s->capcells = cap;
	}
	return &s->cells[s->ncells++];
}

/* Copies value col of the row just fetched (its length in len). */
static int cell_read(struct db_sets *s, MYSQL_STMT *st, unsigned int col, unsigned long len, my_bool null)
{
	struct dbsets_cell *c = cell_next(s);
	if (c == NULL)
		return -1;
	c->null = null != 0;
	c->len = null ? 0 : len;
	c->off = s->data.len;
	char *to = dynbuf_room(&s->data, c->len + 1);
	if (to == NULL)
		return -1;
	if (c->len > 0) {
		MYSQL_BIND b;
		unsigned long got = 0;
		memset(&b, 0, sizeof(b));
		b.buffer_type = MYSQL_TYPE_STRING;
		b.buffer = to;
		b.buffer_length = c->len + 1;
		b.length = &got;
		if (mysql_stmt_fetch_column(st, &b, col, 0) != 0)
			return -1;
	}
	to[c->len] = '\0';
	dynbuf_grew(&s->data, c->len + 1);
	return 0;
}

/* Reads the result set the statement is at: bound with empty buffers, so
 * each fetch tells every value's length, which is then copied whole. */
static int set_read(struct db_sets *s, MYSQL_STMT *st)
{
	MYSQL_BIND bind[LIMIT_DB_SET_COLUMNS];
	unsigned long len[LIMIT_DB_SET_COLUMNS];
	my_bool null[LIMIT_DB_SET_COLUMNS];
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	if (meta == NULL || s->n == LIMIT_DB_RESULT_SETS)
		goto fail;
	struct dbsets_set *t = &s->set[s->n];
	t->ncols = mysql_num_fields(meta);
	if (t->ncols == 0 || t->ncols > LIMIT_DB_SET_COLUMNS)
		goto fail;
	snprintf(t->name, sizeof(t->name), "%s", mysql_fetch_fields(meta)[0].name);
	t->nrows = 0;
	t->first = s->ncells;
	memset(bind, 0, sizeof(bind[0]) * t->ncols);
	for (unsigned int i = 0; i < t->ncols; i++) {
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].length = &len[i];
		bind[i].is_null = &null[i];
	}
	/* Unbuffered: each row is copied out of the connection's buffer as it
	 * is fetched. (mysql_stmt_store_result would keep every stored row of
	 * a CALL's sets in the statement until a set with rows comes last:
	 * Connector/C frees them only then, so a CALL whose last set is empty
	 * would grow the process by its rows on every call.) */
	if (mysql_stmt_bind_result(st, bind) != 0)
		goto fail;
	int rc;
	while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		for (unsigned int i = 0; i < t->ncols; i++)
			if (cell_read(s, st, i, len[i], null[i]) != 0)
				goto fail;
		t->nrows++;
	}
	if (rc != MYSQL_NO_DATA)
		goto fail;
	mysql_free_result(meta);
	mysql_stmt_free_result(st);
	s->n++;
	return 0;
fail:
	if (meta != NULL)
		mysql_free_result(meta);
	return -1;
}

enum cd_err store_sets_call(struct store *db, const char *sql, const struct db_params *p, struct db_sets *s,
			const char *what, int *dberr)
{
	reset(s);
	struct dbstmt *d = store_exec_params(db, sql, p, dberr);
	if (d == NULL)
		return *dberr == ER_DUP_ENTRY || *dberr == ER_SIGNAL_EXCEPTION ? CD_E_CONFLICT : store_err(db, *dberr, what);
	int status;
	do {
		if (mysql_stmt_field_count(d->st) > 0 && set_read(s, d->st) != 0) {
			/* A deadlock or lock wait timeout met while the rows are
			 * fetched is the connection's error (1213, 1205), not the
			 * statement's: retried like any other (it was a batch's 500). */
			*dberr = (int)mysql_stmt_errno(d->st);
			if (*dberr == 0)
				*dberr = (int)mysql_errno(db->c->db);
			if (*dberr == 0) {
				log_error("%s: the rows read pass %d bytes or %d values", what,
					  LIMIT_BATCH_READ_BYTES, LIMIT_BATCH_READ_CELLS);
				*dberr = CR_OUT_OF_MEMORY;
			}
			mysql_stmt_free_result(d->st);
			while (mysql_stmt_next_result(d->st) == 0)
				mysql_stmt_free_result(d->st);
			stmt_failed(db, d, *dberr);
			return store_err(db, *dberr, what);
		}
		status = mysql_stmt_next_result(d->st);
	} while (status == 0);
	if (status > 0) {
		*dberr = (int)mysql_stmt_errno(d->st);
		if (*dberr == 0)
			*dberr = (int)mysql_errno(db->c->db);
		stmt_failed(db, d, *dberr);
		return *dberr == ER_DUP_ENTRY || *dberr == ER_SIGNAL_EXCEPTION ? CD_E_CONFLICT : store_err(db, *dberr, what);
	}
	return CD_OK;
}

void store_sets_bind_list(struct db_params *p, const struct jw *j, const char *key)
{
	const struct jsonw_slice *s = jsonw_slice(j, key);
	if (s == NULL || s->items == 0)
		store_param_text(p, NULL, 0);
	else
		store_param_text(p, j->b->data + s->off, s->len);
}

enum cd_err store_sets_call_lists(struct store *db, const char *sql, const int64_t *head, int nhead,
				  const struct jw *j, const char *const *lists, int nlists, struct db_sets *s,
				  const char *what, int *dberr)
{
	struct db_params p;
	assert(nhead >= 0);
	assert(nlists >= 0);
	store_params_init(&p);
	for (int i = 0; i < nhead; i++)
		store_param_i64(&p, head[i]);
	for (int i = 0; i < nlists; i++)
		store_sets_bind_list(&p, j, lists[i]);
	return store_sets_call(db, sql, &p, s, what, dberr);
}

const struct dbsets_set *store_sets_find(const struct db_sets *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->set[i].name, name) == 0)
			return &s->set[i];
	return NULL;
}

struct db_row store_sets_row(const struct db_sets *s, const struct dbsets_set *t, size_t r)
{
	struct db_row row = {NULL, s, t->first + r * t->ncols};
	return row;
}

/* ---- Rows of either kind ---- */

int store_row_null(const struct db_row *r, unsigned int col)
{
	return r->st != NULL ? store_null(r->st, col) : dbsets_cell(r->sets, r->cell + col)->null;
}

const char *store_row_str(const struct db_row *r, unsigned int col)
{
	if (r->st != NULL)
		return store_str(r->st, col);
	const struct dbsets_cell *c = dbsets_cell(r->sets, r->cell + col);
	return c->null ? NULL : r->sets->data.data + c->off;
}

unsigned long store_row_len(const struct db_row *r, unsigned int col)
{
	return r->st != NULL ? store_len(r->st, col) : dbsets_cell(r->sets, r->cell + col)->len;
}

int64_t store_row_i64(const struct db_row *r, unsigned int col)
{
	const char *v = store_row_str(r, col);
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : 0;
}

int store_sets_width_ok(const struct db_sets *s, const char *what, const char *name, unsigned int want)
{
	const struct dbsets_set *t = store_sets_find(s, name);
	if (t == NULL || t->ncols == want)
		return 0;
	log_error("%s answered %u columns for %s where creditd reads %u: run creditctl migrate", what, t->ncols, name,
		  want);
	return -1;
}
