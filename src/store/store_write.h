/* store_write.h: the one writer of the ledger's money rows.
 *
 * Every change of an account's money columns, a grant's remaining, a
 * hold's state, a member's spend and reserve, and every journal row,
 * usage row and outbox row (and a guard batch's threshold alerts'
 * states, sql/059) is written by one procedure, cd_write (sql/039),
 * with a JSON list per kind of row, each row made from its
 * column table in ledger_columns.h. The guard's batches write many rows a
 * list and commit in the CALL (ledger_batch_write.c); the other
 * operations write the rows of one step inside their own transaction
 * (ledger_rows.c, ledger_due.c, ledger_members.c). This file is the
 * only caller of cd_write. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_WRITE_H
#define CREDITD_LEDGER_WRITE_H
#include "store_sets.h"
#include "jsonw.h"

/* CALL cd_write(db->now, commit, ...) with the lists written in doc (a
 * jsonw object: each list under its name, absent or empty: SQL NULL),
 * what it answers read into sets (what: the step, for the log). CD_OK,
 * or the mapped error with the MariaDB error number in *dberr. With
 * commit the CALL commits: the transaction is over when it answers, and
 * when its answer is lost (CD_E_UNAVAILABLE: it may have committed, so
 * it is never run again). */
enum cd_err store_write_call(struct store *db, const struct jw *doc, int commit, struct db_sets *sets,
			      const char *what, int *dberr);

/* One step's rows written inside the caller's transaction: begin, write
 * each list (store_write_list, then the rows with the column tables'
 * COL_WRITE and a jsonw w, then jsonw_close(w, ']')), run. */
struct store_write {
	struct dynbuf buf;
	struct jw w;
	struct db_sets sets;
};
void store_write_begin(struct store_write *lw);
/* Opens list name (one of cd_write's: holds_set, grants_set, debts,
 * grants_new, journal, members, accounts, events) and returns its writer. */
struct jw *store_write_list(struct store_write *lw, const char *name);
/* List name of one row: ROW, a column table expanded with COL_WRITE
 * (ledger_columns.h), which writes through the jsonw writer w made here. */
#define LEDGER_WRITE_ONE(lw, name, ROW)                                 \
	do {                                                            \
		struct jw *w = store_write_list((lw), (name));         \
		jsonw_open(w, '[');                                        \
		ROW                                                     \
		jsonw_close(w, ']');                                       \
		jsonw_close(w, ']');                                       \
	} while (0)
/* Writes the lists without committing: CD_OK with the id of the first
 * new grant in *grant_id and of the one journal row in *journal_id (each
 * NULL when not wanted); frees lw either way. */
enum cd_err store_write_run(struct store *db, struct store_write *lw, const char *what, int64_t *grant_id,
			     int64_t *journal_id);
/* Frees lw unwritten (a refusal found while writing its rows). */
void store_write_drop(struct store_write *lw);
#endif
