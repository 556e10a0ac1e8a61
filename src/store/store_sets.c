/* store_sets.c: the result sets of one CALL as text (see store_sets.h). */
#include "store_sets.h"
#include "jsonw.h"
#include "log.h"
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

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
			store_stmt_failed(db, d, *dberr);
			return store_err(db, *dberr, what);
		}
		status = mysql_stmt_next_result(d->st);
	} while (status == 0);
	if (status > 0) {
		*dberr = (int)mysql_stmt_errno(d->st);
		if (*dberr == 0)
			*dberr = (int)mysql_errno(db->c->db);
		store_stmt_failed(db, d, *dberr);
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
