/* store_tx.c: a transaction, from its attempt's start to its end (see store_db.h "The transaction loop",
 * docs/architecture.md "One retry loop"): its caller drives the loop, so the layers above call down into this one
 * and are never called back. Attempts, each bounded and counted by the one list of reasons an attempt is run again
 * (store_retry, below), the accounts met due brought due by attempts of the same loop, failover to the next
 * database node; and the end: the commit or rollback, and on Galera the marks that catch an abort not told (below);
 * the attempt's clock; and the one writer's CALL (store_write.h), the write a transaction ends on. What an attempt
 * runs is here, in one file, so a request's transaction is read in one place (docs/architecture.md, "Counting a
 * request's walk"); the attempt's connection is store.c's, its statements store_sets.c's. */
#include "store_db.h"
#include "store_sets.h"
#include "store_write.h"
#include "log.h"
#include "store_noderoute.h"
#include "timefmt.h"
#include <assert.h>
#include <errmsg.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* The transaction's clock, fixed for each attempt (and for a handle
 * made, store_handle.c): now, its UTC month, the month's bounds and its
 * day. */
void store_clock(struct store *db)
{
	/* One reading of the time, the rest worked out from it. */
	const int64_t now = timefmt_now();
	int64_t month_start, month_end;
	timefmt_month_bounds(now, &month_start, &month_end);
	db->now = now;
	db->now_month = timefmt_month_key(now);
	db->now_month_start = month_start;
	db->now_month_end = month_end;
	db->now_day = now / TIMEFMT_SECONDS_PER_DAY;
}


/* A loop begun: its read timeout counts from here. */
static void tx_begin(struct store *db, struct store_tx *t)
{
	t->rc = CD_E_RETRY;
	t->started_ms = timefmt_mono_ms();
	t->why = RETRY_NONE;
	db->tx_wide = 0;
	db->retry_why = RETRY_NONE;
}

/* The loop on account's node, the caller's routing kept to put back. */
static void tx_route_on(struct store *db, struct store_tx *t, const char *account)
{
	t->on = 1;
	t->saved_routed = db->routed;
	t->saved_causal = db->causal;
	memcpy(t->saved_route, db->route, sizeof(t->saved_route));
	store_route(db, account);
}

void store_tx_init(struct store *db, struct store_tx *t)
{
	memset(t, 0, sizeof(*t));
	tx_begin(db, t);
}

void store_due_add(struct store *db, int64_t id, enum cd_err (*bring)(struct store *db, int64_t account_id))
{
	assert(id > 0);
	assert(bring != NULL);
	db->due_bring = bring;
	for (int i = 0; i < db->ndue; i++)
		if (db->due_ids[i] == id)
			return;
	assert(db->ndue < LIMIT_BATCH_OPS);
	if (db->ndue < LIMIT_BATCH_OPS)
		db->due_ids[db->ndue++] = id;
}


void store_route(struct store *db, const char *account)
{
	db->routed = account != NULL;
	db->causal = 0;
	snprintf(db->route, sizeof(db->route), "%s", account != NULL ? account : "");
}

void store_tx_init_on(struct store *db, struct store_tx *t, const char *account)
{
	store_tx_init(db, t);
	tx_route_on(db, t, account);
}

enum cd_err store_tx_on(struct store *db, const char *account, enum cd_err (*body)(struct store *db, void *arg),
			void *arg)
{
	struct store_tx t;
	assert(body != NULL);
	if (account != NULL)
		store_tx_init_on(db, &t, account);
	else
		store_tx_init(db, &t);	/* on the caller's routing */
	while (store_tx_next(db, &t))
		store_tx_end(db, &t, body(db, arg));
	return t.rc;
}

static int tx_next(struct store *db, struct store_tx *t);
static int end_tx(struct store *db, int commit);
static int mark_lost(struct store *db);

/* An attempt that brings t->due[0] due: the layer above's body for it
 * (t->due_bring), with no key of the operation's on what it writes
 * (expiries record their own), not wide, its refusals none of the
 * operation's; ended here. Brought: the next account, or the body's next
 * attempt, at once (nothing conflicted). */
static void bring(struct store *db, struct store_tx *t)
{
	const char *idem_key = db->idem_key, *journal_key = db->journal_key;
	int wide = db->tx_wide;
	assert(t->bringing && t->ndue > 0);
	assert(t->due_bring != NULL);
	db->idem_key = db->journal_key = NULL;
	db->tx_wide = 0;
	store_tx_end(db, t, t->due_bring(db, t->due[0]));
	memset(&db->refusal, 0, sizeof(db->refusal));
	db->idem_key = idem_key;
	db->journal_key = journal_key;
	db->tx_wide = wide;
	if (!t->done || t->rc != CD_OK)
		return;
	t->ndue--;
	memmove(t->due, t->due + 1, sizeof(t->due[0]) * (size_t)t->ndue);
	t->bringing = t->bring_attempt = 0;
	t->bring_started_ms = timefmt_mono_ms();
	t->done = 0;
	t->rc = CD_E_RETRY;
	db->reroute_now = 1;
}

/* The loop's next attempt: accounts met due brought due first (by
 * attempts of this loop), then the body's. When none follows, a
 * transaction moved to its account's node (store_tx_reroute) is back on
 * the node of no account. */
int store_tx_next(struct store *db, struct store_tx *t)
{
	if (t->begin_on) {
		/* Made as a value (STORE_TX_ON): begun here, as store_tx_init_on begins it. */
		t->begin_on = 0;
		tx_begin(db, t);
		tx_route_on(db, t, t->begin_route);
	}
	while (tx_next(db, t)) {
		if (!t->bringing)
			return 1;
		bring(db, t);
	}
	if (t->bringing && t->rc != CD_OK && t->rc != CD_E_UNAVAILABLE) {
		/* A bring that failed is the operation's failure, never its
		 * answer (a refusal it met is not the operation's to give). */
		log_error("bringing account %lld due failed (%s): its operation fails", (long long)t->due[0],
			  errors_strerror(t->rc));
		t->rc = CD_E_INTERNAL;
	}
	t->ndue = t->bringing = 0;
	if (db->rerouted) {
		db->rerouted = db->reroute_now = 0;
		store_route(db, NULL);
	}
	if (t->on) {
		t->on = 0;
		memcpy(db->route, t->saved_route, sizeof(t->saved_route));
		db->routed = t->saved_routed;
		db->causal = t->saved_causal;
	}
	return 0;
}

void store_holdid_ensure(struct store *db)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_holdid_due() && store_tx_next(db, &t);)
		store_tx_end(db, &t, CD_OK);
}

/* The attempts of what the next attempt runs (a bring's own, else the
 * body's) may go on: under their bound, and within their read timeout. */
static int tx_bounded(struct store *db, struct store_tx *t, int tries, int64_t started)
{
	int most = (db->tx_wide || db->c->galera) && !t->bringing ? LIMIT_TX_RETRIES_WIDE : LIMIT_TX_RETRIES;
	if (tries >= most) {
		log_warn("transaction still conflicting after %d attempts", most);
		return 0;
	}
	int64_t now = timefmt_mono_ms();
	if (store_health() == STORE_HEALTH_DOWN || (tries > 0 && now > started + 1000 * db->cfg->db_read_timeout_seconds)) {
		if (tries > 0)
			log_warn("transaction given up after %lld ms", (long long)(now - started));
		return 0;
	}
	return 1;
}


static int tx_next(struct store *db, struct store_tx *t)
{
	if (t->done)
		return 0;
	t->bringing = t->ndue > 0;
	int *tries = t->bringing ? &t->bring_attempt : &t->attempt;
	if (!tx_bounded(db, t, *tries, t->bringing ? t->bring_started_ms : t->started_ms)) {
		t->rc = CD_E_UNAVAILABLE;
		t->done = 1;
		return 0;
	}
	/* A load that asked for more conflicts with nothing: no backoff. */
	if (*tries > 0 && !db->reroute_now && t->why != RETRY_LOAD)
		store_backoff(*tries);
	db->reroute_now = 0;
	(*tries)++;
	/* Counted as it is run again, by the reason the last attempt ended on. */
	if (t->why != RETRY_NONE)
		store_retry_count(t->why);
	t->why = RETRY_NONE;
	db->retry_why = RETRY_NONE;
	db->triggers_unparsed = 0;
	int next_node;
	enum cd_err key_rc;
	t->rc = store_connect(db, *tries, &next_node, &key_rc);
	if (next_node) {
		t->rc = CD_E_RETRY;
		t->why = RETRY_NODE;
		return tx_next(db, t);
	}
	if (t->rc != CD_OK) {
		t->done = 1;
		return 0;
	}
	db->committed = 0;	/* of this attempt: nothing it ran committed yet */
	if (key_rc != CD_OK) {
		/* The hold ids' key is read before anything makes or reads a
		 * hold id (store_connect): a failed read fails this attempt,
		 * never lets it go on without. */
		store_tx_end(db, t, key_rc);
		return tx_next(db, t);
	}
	store_clock(db);
	db->ndue = 0;		/* what this attempt meets due, named afresh */
	return 1;
}

/* The commit of an attempt that ended well; one refused by a conflict
 * (Galera certification) was rolled back and is run again, one whose
 * answer was lost may have happened and never is. */
static void tx_commit(struct store *db, struct store_tx *t)
{
	int e = end_tx(db, 1);
	if (e == 0)
		db->c->ok_ms = timefmt_mono_ms();
	if (e != 0)
		/* Galera's "commit failed" and "not ready" at COMMIT may hide a
		 * write-set the cluster received: answered 503, not run again
		 * (a deadlock at COMMIT, 1213, is a refused certification). */
		t->rc = e == 1180 || e == 1047 || e == ER_QUERY_INTERRUPTED ? store_err(db, CR_SERVER_LOST, "commit")
									     : store_err(db, e, "commit");
	t->done = t->rc != CD_E_RETRY;
	if (!t->done)
		t->why = db->retry_why != RETRY_NONE ? db->retry_why : RETRY_DEADLOCK;
}

/* An attempt of the body that met accounts due (CD_E_DUE, rolled back,
 * nothing written): they are brought due before its next attempt (a clock
 * that moves on may make one due again, a few times at most). 1 when
 * they will be. Named by store_due_add, or listed by the caller's record
 * (t->due_list). */
static int tx_due(struct store *db, struct store_tx *t)
{
	int listed = db->ndue == 0 && t->due_count != NULL;
	const int64_t *ids = listed ? t->due_list : db->due_ids;
	int n = listed ? *t->due_count : db->ndue;
	assert(n >= 0 && n <= LIMIT_BATCH_OPS);
	db->ndue = 0;
	if (!t->bringing && n > 0 && t->due_passes < LIMIT_TX_DUE_PASSES) {
		memcpy(t->due, ids, sizeof(t->due[0]) * (size_t)n);
		t->ndue = n;
		if (!listed)
			t->due_bring = db->due_bring;
		t->due_passes++;
		t->bring_attempt = 0;
		t->bring_started_ms = timefmt_mono_ms();
		t->why = RETRY_DUE;
		return 1;
	}
	log_error("account %lld still due after %d passes that brought it due", (long long)(n > 0 ? ids[0] : 0),
		  t->due_passes);
	return 0;
}

/* After a write refused for a cached table copy whose triggers MariaDB could not parse (store_err), rolled back:
 * drops that server's copies (docs/scale-out.md) by REPAIR LOCAL TABLE, which the runtime user may run, changes no
 * InnoDB row and, LOCAL, is not replicated (the copy is this server's own). It waits for the transactions using each
 * table at most the limit, statements on it queued behind it: one a node at a time, and none within twice the limit
 * of one that failed (a long reader holds the tables); an attempt that finds one running or failed is run again. */
static void triggers_repair(struct store *db)
{
	static _Atomic int running[LIMIT_DB_NODES];
	static _Atomic int64_t failed_at[LIMIT_DB_NODES];
	const int64_t pause = 2 * LIMIT_TRIGGER_REPAIR_WAIT_SECONDS * 1000;	/* two tables */
	int64_t now = timefmt_mono_ms(), last = atomic_load(&failed_at[db->node]);
	int idle = 0;
	if ((last != 0 && now - last < pause) || !atomic_compare_exchange_strong(&running[db->node], &idle, 1))
		return;
	char sql[128];
	int n = snprintf(sql, sizeof(sql), "SET STATEMENT lock_wait_timeout = %d FOR REPAIR LOCAL TABLE accounts, journal",
			 LIMIT_TRIGGER_REPAIR_WAIT_SECONDS);
	assert(n > 0 && (size_t)n < sizeof(sql));
	(void)n;
	db->round_trips++;
	int rc = mysql_query(db->c->db, sql);
	int failed = 0;	/* its rows read, each (table, op, Msg_type, Msg_text): "error" a lock wait timed out */
	do {
		MYSQL_RES *res = rc == 0 ? mysql_store_result(db->c->db) : NULL;
		MYSQL_ROW row;
		while (res != NULL && (row = mysql_fetch_row(res)) != NULL)
			if (mysql_num_fields(res) >= 4 && row[2] != NULL && strcasecmp(row[2], "error") == 0 && !failed++)
				log_warn("%s: %s: %s", sql, row[0] != NULL ? row[0] : "?", row[3] != NULL ? row[3] : "?");
		if (res != NULL)
			mysql_free_result(res);
	} while (rc == 0 && mysql_next_result(db->c->db) == 0);
	if (rc != 0) {
		unsigned e = mysql_errno(db->c->db);
		log_error("%s: MariaDB error %u: %s", sql, e, mysql_error(db->c->db));
		if (store_conn_lost((int)e))
			store_disconnect(db);
	}
	atomic_store(&failed_at[db->node], rc != 0 || failed ? timefmt_mono_ms() : 0);
	atomic_store(&running[db->node], 0);
}

/* A row not found by an attempt routed to its account's node, whose reads
 * did not wait for the cluster: two instances agree on an account's node
 * only while their watchdogs agree on which nodes are up, and while a
 * node comes back one may route the account to it a moment before the
 * other does, so a row written through the other a moment ago may not be
 * applied on this node yet (docs/scale-out.md, "Routing"). Looked for
 * once more, causally, before "not found" is an answer. 1 when it will be. */
static int stale_miss(struct store *db, struct store_tx *t)
{
	if (t->looked_causal || t->bringing || !db->routed || db->causal || db->rerouted || db->nodes < 2 ||
	    !db->c->galera)
		return 0;
	t->looked_causal = 1;
	db->causal = 1;
	return 1;
}

void store_tx_end(struct store *db, struct store_tx *t, enum cd_err rc)
{
	t->rc = rc;
	t->done = 1;
	int repair = db->triggers_unparsed;	/* the attempt's own: consumed on every way out */
	db->triggers_unparsed = 0;
	if (db->committed) {
		/* A procedure committed: nothing after it may fail. */
		if (rc != CD_OK)
			log_error("a transaction failed after its commit: %s", errors_strerror(rc));
		else
			db->c->ok_ms = timefmt_mono_ms();
		return;
	}
	if (rc == CD_OK) {
		tx_commit(db, t);
		return;
	}
	enum store_retry why = db->retry_why;
	/* A failure met after an abort Galera did not tell (a row this
	 * transaction wrote read back as missing, a refusal decided on rows
	 * the abort took back) is the abort's: run again. */
	if (rc != CD_E_RETRY && rc != CD_E_DUE && rc != CD_E_UNAVAILABLE && mark_lost(db)) {
		t->rc = rc = CD_E_RETRY;
		why = RETRY_ROLLBACK;
	} else if (rc == CD_E_NOT_FOUND && stale_miss(db, t)) {
		t->rc = rc = CD_E_RETRY;
		why = RETRY_ROUTE;
	}
	int tries = t->bringing ? t->bring_attempt : t->attempt;
	int64_t started = t->bringing ? t->bring_started_ms : t->started_ms;
	if (db->c->connected) {
		int e = end_tx(db, 0);
		if (e != 0)
			store_err(db, e, "rollback");
		else if (repair)
			triggers_repair(db);	/* whatever the attempt's reason: the copy must go */
	} else if (rc == CD_E_UNAVAILABLE && tries == 1 && timefmt_mono_ms() - started < LIMIT_RECONNECT_RETRY_MS) {
		/* The connection died at once, before the commit (the server was restarted since this thread last
		 * used it): nothing was applied, so reconnect and run it once more. */
		t->done = 0;
		t->why = RETRY_NODE;
		return;
	} else if (rc == CD_E_UNAVAILABLE && db->nodes > 1 && !db->commit_sent && store_noderoute_live() > 0) {
		/* Its node died under it before any COMMIT was sent: nothing was applied, and the node is out of the
		 * routing, so the next attempt runs on the next node (failover). */
		t->done = 0;
		t->why = RETRY_NODE;
		return;
	}
	if (rc == CD_E_DUE) {
		if (tx_due(db, t)) {
			t->done = 0;
			return;
		}
		t->rc = CD_E_INTERNAL;
	}
	t->done = rc != CD_E_RETRY;
	if (rc == CD_E_RETRY)
		t->why = why != RETRY_NONE ? why : RETRY_DEADLOCK;
}

/* ---- The reasons an attempt is run again (store.h enum store_retry,
 * docs/architecture.md "One retry loop"): the running attempt's reason
 * named (the first named holds; a statement's deadlock is named by
 * store.c's store_err the same way), and each counted
 * (creditd_tx_retries_total) by the loop above as it runs the attempt
 * again. ---- */

/* The reasons' labels, in enum store_retry's order. */
static const char *const retry_names[STORE_RETRY_REASONS] = {"none", "deadlock", "moved", "due", "rollback",
							      "node", "route", "race", "schema",
							      "triggers", "load"};
static atomic_ullong retries[STORE_RETRY_REASONS];

enum cd_err store_retry(struct store *db, enum store_retry why)
{
	assert(why > RETRY_NONE);
	assert(why < STORE_RETRY_REASONS);
	if (db->retry_why == RETRY_NONE)
		db->retry_why = why;
	return CD_E_RETRY;
}

const char *store_retry_name(enum store_retry why)
{
	assert(why >= RETRY_NONE);
	assert(why < STORE_RETRY_REASONS);
	return retry_names[why];
}

void store_retry_count(enum store_retry why)
{
	assert(why > RETRY_NONE);
	assert(why < STORE_RETRY_REASONS);
	atomic_fetch_add_explicit(&retries[why], 1, memory_order_relaxed);
}

void store_tx_retries(unsigned long long *counts)
{
	for (int i = 0; i < STORE_RETRY_REASONS; i++)
		counts[i] = atomic_load_explicit(&retries[i], memory_order_relaxed);
}

/* ---- A transaction's end, its commit or rollback, and on
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
 * money, and what it decides after is decided again under the lock. ---- */

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

/* 0 when what the transaction marked first (its own row, when it marked
 * one before any account: store_mark_row; else the first account) still
 * bears its mark; else MariaDB's error, ER_LOCK_DEADLOCK when the mark is
 * gone. */
static int mark_check(struct store *db, const char *when)
{
	int e = 0;
	int64_t mark = 0;
	char id[24];
	snprintf(id, sizeof(id), "%" PRId64, db->mark_first);
	int got = store_exec_i64(db, db->mark_row != NULL ? db->mark_row : SQL_MARK_READ,
				 db->mark_row != NULL ? db->mark_row_key : id, &mark, &e);
	if (got < 0)
		return e;
	if (got == 1 && mark == db->tx_mark)
		return 0;
	if (db->mark_row != NULL)
		log_warn("row %s: this transaction's mark on it is gone, taken back by another node's commit, untold "
			 "(a Galera brute-force abort), seen %s: rolled back and run again", db->mark_row_key, when);
	else
		log_warn("account %" PRId64 ": its lock was taken back by another node's commit, untold (a Galera "
			 "brute-force abort), seen %s: rolled back and run again", db->mark_first, when);
	(void)store_retry(db, RETRY_ROLLBACK);	/* its reason, before store_err names a deadlock */
	return ER_LOCK_DEADLOCK;
}

int64_t store_mark_value(struct store *db)
{
	if (!db->c->galera)
		return 0;
	if (db->mark_first == 0 && db->mark_row == NULL)
		db->tx_mark = mark_draw();
	return db->tx_mark;
}

void store_mark_row(struct store *db, const char *sql_read, const char *key)
{
	assert(sql_read != NULL && key != NULL);
	if (!db->c->galera || db->mark_first != 0 || db->mark_row != NULL ||
	    strlen(key) >= sizeof(db->mark_row_key))
		return;
	memcpy(db->mark_row_key, key, strlen(key) + 1);
	db->mark_row = sql_read;
	assert(db->tx_mark != 0);	/* drawn by store_mark_value for the row written */
}

static const char SQL_TXMARK_SET[] = "INSERT INTO tx_marks (id, tx_mark, marked_at) VALUES (?, ?, ?) "
				     "ON DUPLICATE KEY UPDATE tx_mark = VALUES(tx_mark), marked_at = VALUES(marked_at)";
static const char SQL_TXMARK_READ[] = "SELECT tx_mark FROM tx_marks WHERE id = ?";
static atomic_int txmarks_absent;	/* tx_marks missing: 085 not applied, said once */

enum cd_err store_mark_all(struct store *db)
{
	if (!db->c->galera || db->mark_first != 0 || db->mark_row != NULL || atomic_load(&txmarks_absent))
		return CD_OK;
	char key[24];
	if (db->mark_id == 0)
		db->mark_id = mark_draw();
	snprintf(key, sizeof(key), "%" PRId64, db->mark_id);
	int e = 0;
	if (store_exec(db, SQL_TXMARK_SET, &e, "sii", key, store_mark_value(db), db->now) != NULL) {
		store_mark_row(db, SQL_TXMARK_READ, key);
		assert(db->mark_row == SQL_TXMARK_READ);
		return CD_OK;
	}
	if (e != ER_NO_SUCH_TABLE)
		return store_err(db, e, "transaction mark");
	if (!atomic_exchange(&txmarks_absent, 1))
		log_warn("tx_marks is missing (migration 085 not applied): until a restart after it, a Galera abort not "
			 "told to a transaction that locks no account first is not caught before the commit");
	return CD_OK;
}

enum cd_err store_mark_next(struct store *db, int64_t id, int64_t *mark)
{
	assert(id >= 0);
	if (db->mark_first == 0 && db->mark_row == NULL) {
		db->tx_mark = mark_draw();
	} else if (db->mark_first != 0 && (id == 0 || id == db->mark_first)) {
		int e = mark_check(db, "before a lock");
		if (e != 0)
			return store_err(db, e, "account lock mark");
	}
	*mark = db->tx_mark;
	return CD_OK;
}

/* The transaction marked an account whose mark is gone: rolled back
 * untold (logged), so what it decided since is the rollback's doing. */
static int mark_lost(struct store *db)
{
	return (db->mark_first != 0 || db->mark_row != NULL) && db->c->galera && db->c->connected &&
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

static atomic_int lock_read_missing;	/* a database before 043: said once, then the plain read */

/* The first account a marked read locked, recorded (store_read). */
static void read_marked(struct store *db, const struct store_read *r)
{
	const struct dbsets_set *t = store_sets_find(r->sets, r->mark_set);
	if (t == NULL || t->nrows == 0 || r->mark_col >= t->ncols)
		return;
	struct db_row row = store_sets_row(r->sets, t, 0);
	if (!store_row_null(&row, r->mark_col) && store_row_i64(&row, r->mark_col) > 0)
		store_mark_locked(db, store_row_i64(&row, r->mark_col));
}

enum cd_err store_read_call(struct store *db, const struct store_read *r)
{
	int e = 0;
	int galera = r->lock && db->c->galera && !atomic_load(&lock_read_missing);
	int marked = galera && !atomic_load(&mark_absent);
	int64_t head[3], mark = r->lock;
	int n = 0;
	enum cd_err rc = marked ? store_mark_next(db, 0, &mark) : CD_OK;
	if (rc != CD_OK)
		return rc;
	head[n++] = mark;
	if (marked)
		head[n++] = db->mark_first;	/* locked already: not marked again */
	head[n++] = r->page;
	rc = store_sets_call_lists(db, marked ? r->sql_mark : galera ? r->sql_galera : r->sql, head, n,
				   r->j, r->lists, r->nlists, r->sets, r->what, &e);
	if (rc == CD_OK && marked)
		read_marked(db, r);
	if (galera && e == ER_SP_DOES_NOT_EXIST)
		rc = store_retry(db, RETRY_SCHEMA);	/* read again the old way */
	if (marked && e == ER_SP_DOES_NOT_EXIST)
		store_mark_missing(r->what);
	else if (galera && e == ER_SP_DOES_NOT_EXIST && !atomic_exchange(&lock_read_missing, 1))
		log_error("cd_batch_lock_read is missing: run creditctl migrate (043); until then accounts are "
			  "locked by SELECT ... FOR UPDATE alone, which Galera may take back unseen");
	return rc;
}

/* Ends the transaction, its commit (looking at the first account's mark
 * first, on Galera) or its rollback: 0, or MariaDB's error. */
static int end_tx(struct store *db, int commit)
{
	if (!db->c->connected)
		return CR_SERVER_GONE_ERROR;
	int check = commit && (db->mark_first != 0 || db->mark_row != NULL) && db->c->galera
			    ? mark_check(db, "before the commit")
			    : 0;
	db->round_trips++;
	db->in_tx = 0;
	db->tx_serial++;
	store_marks_clear(db);
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
		int e = end_tx(db, 0);
		if (e != 0)
			store_err(db, e, "rollback");
	}
}

/* ---- The one writer of the ledger's money rows (store_write.h): CALL
 * cd_write with a JSON list per kind of row, inside the transaction the
 * loop above runs (a guard batch's commits in the CALL); in the
 * test-clock build, the untold rollback a test may have follow a write
 * CALL (store_fault.c: Galera's abort eaten inside the procedure, sql/053). ---- */

static const char SQL_WRITE[] = "CALL cd_write2(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* cd_write's lists (sql/039; the alerts' states last, sql/059), in its
 * parameters' order. */
static const char *const WRITE_LISTS[] = {"holds_new", "usages_new", "usages", "holds_set", "grants_set", "debts",
					  "grants_new", "journal", "members", "accounts", "events", "recharges",
					  "keys", "accounts_at", "alerts_set", "alert_members_set",
					  "alert_members_del"};

void store_committed(struct store *db)
{
	db->committed = 1;
	db->in_tx = 0;
	db->tx_serial++;
	store_marks_clear(db);
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
		store_fault_call(db, what);
#endif
	/* It ended the transaction when it answered, and may have when its
	 * answer was lost: ended either way, never run again. */
	if (commit && (rc == CD_OK || rc == CD_E_UNAVAILABLE))
		store_committed(db);
	return rc;
}
