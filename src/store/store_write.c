/* store_write.c: the one writer of the ledger's money rows (see
 * store_write.h): CALL cd_write with a JSON list per kind of row; in the
 * test-clock build, the untold rollback a test may have follow a write
 * CALL (mark_fault: Galera's abort eaten inside the procedure, sql/053). */
#include "store_write.h"
#include "log.h"
#include <inttypes.h>
#include <string.h>
#ifdef CREDITD_TEST_CLOCK
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#endif

static const char SQL_WRITE[] = "CALL cd_write2(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* cd_write's lists (sql/039; the alerts' states last, sql/059), in its
 * parameters' order. */
static const char *const WRITE_LISTS[] = {"holds_new", "usages_new", "usages", "holds_set", "grants_set", "debts",
					  "grants_new", "journal", "members", "accounts", "events", "recharges",
					  "keys", "accounts_at", "alerts_set", "alert_members_set",
					  "alert_members_del"};

#ifdef CREDITD_TEST_CLOCK
/* Tells in PATH.used which transaction a write CALL the fault passed
 * over or fired on belongs to, a line each: "skipped|fired ACCOUNT KEY
 * WHAT" (the first account it marked, its journal key or "-", the write),
 * so that a test sees the fault took the transaction it meant. */
static void fault_used(const char *path, const struct store *db, const char *how, const char *what)
{
	char name[4096];
	int n = snprintf(name, sizeof(name), "%s.used", path);
	if (n < 0 || (size_t)n >= sizeof(name))
		return;
	FILE *f = fopen(name, "a");
	if (f == NULL)
		return;
	fprintf(f, "%s %" PRId64 " %s %s\n", how, db->mark_first, db->journal_key != NULL ? db->journal_key : "-", what);
	fclose(f);
}

/* Tests only (the test-clock build): CREDITD_TEST_UNTOLD_ROLLBACK_FILE
 * holds a count and, optionally, a number to skip ("1 3"): while the
 * count is above 0, a write CALL of a transaction that marked an account
 * (after the skipped ones) is followed by a ROLLBACK creditd is not told
 * of, as an abort eaten inside the procedure leaves it
 * (tests/galera/test_72); each CALL skipped or rolled back is told in
 * the file's .used twin (fault_used). */
static void mark_fault(struct store *db, const char *what)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	const char *path = getenv("CREDITD_TEST_UNTOLD_ROLLBACK_FILE");
	if (path == NULL || db->mark_first == 0)
		return;
	pthread_mutex_lock(&mu);
	long n = 0, skip = 0;
	FILE *f = fopen(path, "r");
	if (f != NULL && fscanf(f, "%ld %ld", &n, &skip) < 1)
		n = 0;
	if (f != NULL)
		fclose(f);
	if (n > 0 && (f = fopen(path, "w")) != NULL) {
		fprintf(f, "%ld %ld\n", skip > 0 ? n : n - 1, skip > 0 ? skip - 1 : 0);
		fclose(f);
		fault_used(path, db, skip > 0 ? "skipped" : "fired", what);
		if (skip <= 0) {
			log_warn("test: the write's transaction rolled back untold (%ld more): %s, account %" PRId64
				 ", key %s", n - 1, what, db->mark_first, db->journal_key != NULL ? db->journal_key : "-");
			(void)mysql_rollback(db->c->db);
		}
	}
	pthread_mutex_unlock(&mu);
}
#endif

void store_committed(struct store *db)
{
	db->committed = 1;
	db->in_tx = 0;
	db->tx_serial++;
	db->mark_first = 0;
}

enum cd_err store_write_call(struct store *db, const struct jw *doc, int commit, struct db_sets *sets,
			      const char *what, int *dberr)
{
	const int64_t head[2] = {db->now, commit};
	/* A CALL that commits: if its connection dies, the change may have
	 * happened, so it is never run again on another node. */
	if (commit)
		db->commit_sent = 1;
	enum cd_err rc = store_sets_call_lists(db, SQL_WRITE, head, 2, doc, WRITE_LISTS,
					       (int)(sizeof(WRITE_LISTS) / sizeof(WRITE_LISTS[0])), sets, what, dberr);
#ifdef CREDITD_TEST_CLOCK
	if (rc == CD_OK && !commit)
		mark_fault(db, what);
#endif
	/* It ended the transaction when it answered, and may have when its
	 * answer was lost: ended either way, never run again. */
	if (commit && (rc == CD_OK || rc == CD_E_UNAVAILABLE))
		store_committed(db);
	return rc;
}

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
