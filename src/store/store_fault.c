/* store_fault.c: the test-clock build's untold rollback, a Galera
 * brute-force abort creditd is not told of, made on purpose where a test
 * says (tests/galera/test_72): after a write CALL of a transaction that
 * marked an account (store_tx.c's writer), or after a statement that
 * begins as the test says (store_sets.c). The marks that catch it are
 * store_tx.c's. Nothing here in a production build. */
#include "store_db.h"
#include "log.h"
#include <inttypes.h>
#include <string.h>

#ifdef CREDITD_TEST_CLOCK
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>

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
 * the file's .used twin (fault_used). With a statement's first words
 * after the numbers ("1 0 SELECT id FROM invoice_credits"), it is the
 * statements that begin so that are rolled back after, of any
 * transaction (store_fault_after), as a brute-force abort of a plain
 * statement was seen to leave it (sql/085). */
static void untold_fault(struct store *db, const char *sql, const char *what)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static atomic_llong idle;	/* the file as last read with nothing to do (0: none) */
	const char *path = getenv("CREDITD_TEST_UNTOLD_ROLLBACK_FILE");
	struct stat st;
	if (path == NULL || (sql == NULL && db->mark_first == 0) || stat(path, &st) != 0)
		return;
	/* Checked at every statement of a Galera test stack: a file unchanged
	 * since it said nothing to do is not opened again, and nothing waits. */
	long long sig = (long long)((((uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec) *
				     0x9e3779b97f4a7c15u ^ (uint64_t)st.st_ino * 0xbf58476d1ce4e5b9u ^ (uint64_t)st.st_size) |
				    1u);	/* a test writes the file anew (a rename: another inode) */
	if (atomic_load(&idle) == sig)
		return;
	pthread_mutex_lock(&mu);
	long n = 0, skip = 0;
	char prefix[256] = "";
	FILE *f = fopen(path, "r");
	if (f != NULL && fscanf(f, "%ld %ld %255[^\n]", &n, &skip, prefix) < 1)
		n = 0;
	if (f != NULL)
		fclose(f);
	if (n <= 0)
		atomic_store(&idle, sig);
	/* A file that names a statement is for statements alone, one that
	 * names none for write CALLs alone. */
	if ((sql == NULL) != (prefix[0] == '\0') || (sql != NULL && strncmp(sql, prefix, strlen(prefix)) != 0))
		n = 0;
	if (n > 0 && (f = fopen(path, "w")) != NULL) {
		fprintf(f, "%ld %ld %s\n", skip > 0 ? n : n - 1, skip > 0 ? skip - 1 : 0, prefix);
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

void store_fault_call(struct store *db, const char *what)
{
	untold_fault(db, NULL, what);
}

void store_fault_after(struct store *db, const char *sql)
{
	untold_fault(db, sql, "statement");
}
#else
typedef int store_fault_none;	/* ISO C: a translation unit is never empty */
#endif
