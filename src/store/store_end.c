/* store_end.c: a transaction's end, its commit or rollback, and on
 * Galera the mark that says whether the transaction committing is still
 * the one that locked its accounts (sql/053 says why: a brute-force
 * abort inside a procedure can be eaten, the statements after it run on
 * in a new transaction, and the CALL answers success).
 *
 * Each transaction draws a mark of 63 random bits at its first lock; the
 * ledger writes it on every account it locks (ledger_rows.c, and
 * cd_batch_mark_read for a batch). Before the COMMIT, the first account
 * marked is read: its mark is this transaction's while nothing it did was
 * rolled back, since the lock it holds keeps every other writer off the
 * row; after an abort it was not told of, the row shows what is
 * committed, another transaction's mark. Then the new transaction is
 * rolled back and the attempt fails as a deadlock does (run again). A
 * lock that would write the first account's mark again looks at it first,
 * so a transaction rolled back unseen cannot mark it anew and pass.
 *
 * The mark covers a transaction from its first lock on. What one writes
 * before it locks an account (a webhook's record of its event) is not
 * money, and what it decides after is decided again under the lock. */
#include "store_db.h"
#include "log.h"
#include <assert.h>
#include <errmsg.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>
#ifdef CREDITD_TEST_CLOCK
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#endif

static const char SQL_MARK_READ[] = "SELECT tx_mark FROM accounts WHERE id = ?";

static atomic_int mark_absent;		/* accounts.tx_mark missing: 053 not applied */
static atomic_uint_fast64_t mark_draws;

/* A mark no other transaction draws (63 random bits, never 0). */
static int64_t mark_draw(void)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* Never seen; the clock and a count still differ per draw. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_sec ^ atomic_fetch_add(&mark_draws, 1) << 32;
	}
	r &= INT64_MAX;
	return r != 0 ? (int64_t)r : 1;
}

/* 0 when the first account marked still bears this transaction's mark;
 * else MariaDB's error, ER_LOCK_DEADLOCK when the mark is gone. */
static int mark_check(struct store *db, const char *when)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_MARK_READ, &e, "i", db->mark_first);
	if (s == NULL)
		return e;
	int got = store_fetch(s);
	if (got < 0)
		return CR_UNKNOWN_ERROR;
	if (got == 1 && store_i64(s, 0) == db->tx_mark)
		return 0;
	log_warn("account %" PRId64 ": its lock was taken back by another node's commit, untold (a Galera "
		 "brute-force abort inside a procedure), seen %s: rolled back and run again", db->mark_first, when);
	(void)store_retry(db, RETRY_ROLLBACK);	/* its reason, before store_err names a deadlock */
	return ER_LOCK_DEADLOCK;
}

enum cd_err store_mark_next(struct store *db, int64_t id, int64_t *mark)
{
	assert(id >= 0);
	if (db->mark_first == 0) {
		db->tx_mark = mark_draw();
	} else if (id == 0 || id == db->mark_first) {
		int e = mark_check(db, "before a lock");
		if (e != 0)
			return store_err(db, e, "account lock mark");
	}
	*mark = db->tx_mark;
	return CD_OK;
}

int store_mark_lost(struct store *db)
{
	return db->mark_first != 0 && db->c->galera && db->c->connected &&
	       mark_check(db, "after the operation failed") != 0;
}

void store_mark_locked(struct store *db, int64_t id)
{
	assert(id > 0);
	if (db->mark_first == 0)
		db->mark_first = id;
}

void store_mark_missing(const char *what)
{
	if (!atomic_exchange(&mark_absent, 1))
		log_error("%s: accounts.tx_mark is missing: run creditctl migrate (053), then restart; until then a "
			  "Galera abort not told inside a procedure is not caught before the commit", what);
}

int store_mark_absent(void)
{
	return atomic_load(&mark_absent);
}

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
void store_mark_fault(struct store *db, const char *what)
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

int store_end_tx(struct store *db, int commit)
{
	if (!db->c->connected)
		return CR_SERVER_GONE_ERROR;
	int check = commit && db->mark_first != 0 && db->c->galera ? mark_check(db, "before the commit") : 0;
	db->round_trips++;
	db->in_tx = 0;
	db->tx_serial++;
	db->mark_first = 0;
	if (check != 0) {
		/* What ran since the abort is a transaction of its own: gone.
		 * No COMMIT was sent, so whatever stopped the check (the mark
		 * gone, a lost connection, an interrupted read), nothing was
		 * committed: run again, as for a deadlock. */
		if (mysql_rollback(db->c->db) != 0)
			store_disconnect(db);
		return ER_LOCK_DEADLOCK;
	}
	db->commit_sent |= commit;
	if ((commit ? mysql_commit(db->c->db) : mysql_rollback(db->c->db)) != 0) {
		int e = (int)mysql_errno(db->c->db);
		/* A rollback that fails, or on Galera a commit that fails, may
		 * leave statements open in the session (Galera runs what follows
		 * a brute-force abort in a new transaction and reports the abort
		 * at the next command): the connection is dropped, and the
		 * server rolls back whatever it had. */
		if (!commit || db->c->galera)
			store_disconnect(db);
		return e;
	}
	return 0;
}

void store_end_request(struct store *db)
{
	db->routed = db->rerouted = db->causal = db->reroute_now = 0;
	if (db->c->connected && db->in_tx) {
		int e = store_end_tx(db, 0);
		if (e != 0)
			store_err(db, e, "rollback");
	}
}
