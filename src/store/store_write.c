/* store_write.c: the one writer's document, written by an operation
 * outside the guard (a top-up's credit, a grant, a debit: store_write.h),
 * and its run: the writer's CALL (store_tx.c store_write_call, which the
 * guard's batch calls itself) and the ids of the rows it made. */
#include "store_write.h"
#include "store_sets.h"
#include "log.h"
#include <string.h>

void store_write_begin(struct store_write *lw)
{
	dynbuf_init(&lw->buf, LIMIT_BATCH_JSON_BYTES);
	store_sets_init(&lw->sets);
	jsonw_init(&lw->w, &lw->buf);
	jsonw_open(&lw->w, '{');
}

struct jw *store_write_list(struct store_write *lw, const char *name)
{
	jsonw_array(&lw->w, name);
	return &lw->w;
}

void store_write_drop(struct store_write *lw)
{
	store_sets_free(&lw->sets);
	dynbuf_free(&lw->buf);
}

/* The id in column 2 of the first row of set name (0: none). */
static int64_t first_id(const struct db_sets *s, const char *name)
{
	const struct dbsets_set *t = store_sets_find(s, name);
	if (t == NULL || t->nrows == 0)
		return 0;
	struct db_row row = store_sets_row(s, t, 0);
	return store_row_i64(&row, 2);
}

enum cd_err store_write_run(struct store *db, struct store_write *lw, const char *what, int64_t *grant_id,
			     int64_t *journal_id)
{
	int e = 0;
	enum cd_err rc;
	jsonw_close(&lw->w, '}');
	if (lw->buf.failed) {
		log_error("%s: the rows do not fit %d bytes", what, LIMIT_BATCH_JSON_BYTES);
		rc = CD_E_INTERNAL;
	} else {
		rc = store_write_call(db, &lw->w, 0, &lw->sets, what, &e);
	}
	if (rc == CD_E_CONFLICT) {
		/* No step of an operation writes a row twice: a duplicate key
		 * here is a fault, not a caller's conflict. */
		log_error("%s: MariaDB error %d (a duplicate key)", what, e);
		rc = CD_E_INTERNAL;
	}
	if (rc == CD_OK && grant_id != NULL)
		*grant_id = first_id(&lw->sets, "new_grants");
	if (rc == CD_OK && journal_id != NULL)
		*journal_id = first_id(&lw->sets, "new_journal");
	if (rc == CD_OK && ((grant_id != NULL && *grant_id == 0) || (journal_id != NULL && *journal_id == 0))) {
		log_error("%s: a new row's id was not read back", what);
		rc = CD_E_INTERNAL;
	}
	store_write_drop(lw);
	return rc;
}
