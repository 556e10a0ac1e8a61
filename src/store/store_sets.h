/* store_sets.h: every result set of one prepared CALL, held as text.
 *
 * Part of the connection layer (it knows no table): the guard's batch
 * procedures (sql/020_batch_calls.sql) answer one CALL with several result
 * sets, each named by its first column. store_sets_call runs the CALL and
 * copies every row of every set into one buffer, each value exactly as
 * long as it is (no per-column buffers sized for the widest value), so the
 * connection is free again when it returns and the rows stay readable
 * until the next call. Bounded: LIMIT_BATCH_READ_BYTES of values and
 * LIMIT_BATCH_READ_CELLS values; a read past either fails whole. */
#ifndef CREDITD_LEDGER_DBSETS_H
#define CREDITD_LEDGER_DBSETS_H
#include "store_db.h"

struct dbsets_set {
	char name[32];			/* its first column's name */
	unsigned int ncols;
	size_t nrows;
	size_t first;			/* its first value's index in cells */
};
struct dbsets_cell {
	size_t off;			/* in data: NUL-terminated */
	unsigned long len;
	int null;
};
struct db_sets {
	struct dbsets_set set[LIMIT_DB_RESULT_SETS];
	int n;
	struct dbsets_cell *cells;
	size_t ncells, capcells;
	struct dynbuf data;
};

void store_sets_init(struct db_sets *s);
void store_sets_free(struct db_sets *s);
/* Runs the prepared CALL sql with p and reads all it returns into s
 * (emptied first). CD_OK, or the mapped error (store_err) with the MariaDB
 * error number in *dberr; a duplicate key is CD_E_CONFLICT, not logged. */
enum cd_err store_sets_call(struct store *db, const char *sql, const struct db_params *p, struct db_sets *s,
			const char *what, int *dberr);
/* Binds the array written under key (jsonw.h slices) as the next text
 * parameter, or SQL NULL when it is absent or empty. */
struct jw;
void store_sets_bind_list(struct db_params *p, const struct jw *j, const char *key);
/* store_sets_call with its parameters made here: the nhead integers of
 * head, then the arrays of j written under lists (store_sets_bind_list). */
enum cd_err store_sets_call_lists(struct store *db, const char *sql, const int64_t *head, int nhead,
				  const struct jw *j, const char *const *lists, int nlists, struct db_sets *s,
				  const char *what, int *dberr);
/* The set named name, or NULL when the CALL returned none. */
const struct dbsets_set *store_sets_find(const struct db_sets *s, const char *name);
/* 0 when set `name` of what procedure `what` answered is absent or has
 * its `want` columns (with its name's); else -1, logged (a creditd on
 * procedures older or newer than it: run creditctl migrate). */
int store_sets_width_ok(const struct db_sets *s, const char *what, const char *name, unsigned int want);
static inline const struct dbsets_cell *dbsets_cell(const struct db_sets *s, size_t i)
{
	return &s->cells[i];
}
/* Row r of set t as a db_row (ledger_int.h) for the dbrow_* readers. */
struct db_row store_sets_row(const struct db_sets *s, const struct dbsets_set *t, size_t r);
#endif
