/* store_tx.c: the transaction loop (see store_db.h "The transaction
 * loop", docs/architecture.md "One retry loop"): its caller drives it, so
 * the layers above call down into this one and are never called back.
 * Attempts, the one list of reasons an attempt is run again (each bounded
 * and counted here, and nowhere else), the accounts met due brought due
 * by attempts of the same loop, failover to the next database node, and
 * the commit. */
#include "store_db.h"
#include "holdid.h"
#include "log.h"
#include "store_noderoute.h"
#include "timefmt.h"
#include <assert.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

void store_tx_init(struct store *db, struct store_tx *t)
{
	memset(t, 0, sizeof(*t));
	t->rc = CD_E_RETRY;
	t->started_ms = timefmt_mono_ms();
	t->why = RETRY_NONE;
	db->tx_wide = 0;
	db->retry_why = RETRY_NONE;
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

/* With several Galera nodes, what belongs to no account (webhooks, the
 * outbox, keys) runs on one node, and reads what other nodes committed:
 * it waits for their commits to be applied (wsrep_sync_wait), so a
 * webhook finds the top-up its account's node wrote a moment ago, and the
 * outbox never shows a later event before an earlier one. An account's
 * own transactions run on the node that wrote its rows and need not wait. */
static enum cd_err causal_reads(struct store *db)
{
	int want = store_node_count(db) > 1 && (!db->routed || db->rerouted || db->causal) && db->c->galera;
	if (want == db->c->sync_wait)
		return CD_OK;
	db->round_trips++;
	if (mysql_query(db->c->db, want ? "SET SESSION wsrep_sync_wait = 1" : "SET SESSION wsrep_sync_wait = 0") != 0)
		return store_err(db, (int)mysql_errno(db->c->db), "wsrep_sync_wait");
	db->c->sync_wait = want;
	return CD_OK;
}

void store_route(struct store *db, const char *account)
{
	db->routed = account != NULL;
	db->causal = 0;
	snprintf(db->route, sizeof(db->route), "%s", account != NULL ? account : "");
}

void store_route_causal(struct store *db, const char *account)
{
	store_route(db, account);
	db->causal = 1;
}

static int tx_next(struct store *db, struct store_tx *t);

/* The hold ids' key (src/core/holdid.h, sql/044), read by the first
 * transaction of the process that finds a database. A database before
 * 044 leaves the ids in their old form, said once. */
static atomic_int holdid_read;
static _Atomic int64_t holdid_missing_ms;	/* when the key was last found missing, 0: never */

/* The key is to be read: not read yet, and not found missing in the last
 * LIMIT_HOLDID_RECHECK_MS. */
static int holdid_due(void)
{
	int64_t missing = atomic_load(&holdid_missing_ms);
	return !atomic_load(&holdid_read) && (missing == 0 || timefmt_mono_ms() - missing > LIMIT_HOLDID_RECHECK_MS);
}

static enum cd_err holdid_load(struct store *db)
{
	static const char sql[] = "SELECT name, value FROM settings WHERE name IN ('hold_id_key_1', "
				  "'hold_id_key_2', 'hold_id_key_3', 'hold_id_opaque_from')";
	int64_t v[4] = {0, 0, 0, 0};
	int found = 0, e;
	struct dbstmt *s = store_exec(db, sql, &e, "");
	if (s == NULL)
		return store_err(db, e, "hold id key");
	int got;
	while ((got = store_fetch(s)) == 1) {
		const char *name = store_str(s, 0);
		int i = strcmp(name, "hold_id_opaque_from") == 0 ? 3 : name[strlen(name) - 1] - '1';
		if (i >= 0 && i < 4 && !(found & 1 << i)) {
			v[i] = store_i64(s, 1);
			found |= 1 << i;
		}
	}
	if (got < 0)
		return CD_E_INTERNAL;
	if (found != 15) {
		/* A database before 044: looked at again a minute on, so a
		 * migration made while this process runs takes hold. */
		int64_t now = timefmt_mono_ms(), was = atomic_exchange(&holdid_missing_ms, now);
		if (was == 0)
			log_warn("hold ids keep their old form (hold_<account>_<n>): run creditctl migrate (044)");
		return CD_OK;
	}
	uint8_t key[HOLDID_KEY_BYTES];
	for (int i = 0; i < HOLDID_KEY_BYTES; i++)	/* 7 bytes of each setting, low first */
		key[i] = (uint8_t)((uint64_t)v[i / 7] >> (8 * (i % 7)));
	holdid_set_key(key, v[3]);
	atomic_store(&holdid_read, 1);
	return CD_OK;
}

/* An attempt that brings t->due[0] due: the layer above's body for it
 * (db->due_bring), with no key of the operation's on what it writes
 * (expiries record their own), not wide, its refusals none of the
 * operation's; ended here. Brought: the next account, or the body's next
 * attempt, at once (nothing conflicted). */
static void bring(struct store *db, struct store_tx *t)
{
	const char *idem_key = db->idem_key, *journal_key = db->journal_key;
	int wide = db->tx_wide;
	assert(t->bringing && t->ndue > 0);
	assert(db->due_bring != NULL);
	db->idem_key = db->journal_key = NULL;
	db->tx_wide = 0;
	store_tx_end(db, t, db->due_bring(db, t->due[0]));
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
	return 0;
}

enum cd_err store_tx_reroute(struct store *db, const char *ext_id)
{
	if (db->routed || store_node_count(db) < 2 || !db->c->galera || ext_id == NULL)
		return CD_OK;
	int node = store_noderoute_pick(ext_id);
	if (node < 0)
		return CD_OK;
	/* The first account met pins the loop to its node, also when this
	 * is its node already: a second account met later (a referral's
	 * referrer, locked last) is locked from here, not made a reason to
	 * run the whole transaction again on that account's node. */
	store_route(db, ext_id);
	db->rerouted = 1;
	if (node == db->node)
		return CD_OK;
	db->reroute_now = 1;
	return store_retry(db, RETRY_ROUTE);
}

void store_holdid_ensure(struct store *db)
{
	struct store_tx t;
	for (store_tx_init(db, &t); holdid_due() && store_tx_next(db, &t);)
		store_tx_end(db, &t, CD_OK);
}

/* The attempts of what the next attempt runs (a bring's own, else the
 * body's) may go on: under their bound, and within their read timeout. */
static int tx_bounded(struct store *db, struct store_tx *t, int tries, int64_t started)
{
	int most = db->tx_wide && !t->bringing ? LIMIT_TX_RETRIES_WIDE : LIMIT_TX_RETRIES;
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

/* Connected to the node the attempt runs on (t->rc), its reads causal
 * when they must be; 1 when an unreachable node of several is left for
 * the next (the attempt to be opened again). */
static int tx_connect(struct store *db, struct store_tx *t, int tries)
{
	if (store_node_count(db) > 1) {
		int node = store_noderoute_pick(db->routed ? db->route : NULL);
		if (node < 0) {
			t->rc = CD_E_UNAVAILABLE;
			return 0;
		}
		store_use_node(db, node);
	}
	db->commit_sent = 0;
	db->connect_errno = 0;
	t->rc = store_ensure(db);
	/* Unreachable: refused, timed out or not answering (a server with no
	 * connection to spare is alive, and stays in the routing). */
	int unreachable = t->rc != CD_OK && db->connect_errno != ER_CON_COUNT_ERROR;
	if (t->rc == CD_OK)
		t->rc = causal_reads(db);
	if (t->rc == CD_E_UNAVAILABLE && store_node_count(db) > 1) {
		/* A node that cannot be reached leaves the routing, and the
		 * next attempt goes to the next node; a connection found dead
		 * is made again. Bounded by the attempts and the deadline. */
		if (unreachable && store_noderoute_set(db->node, 0))
			log_warn("database node %s: down (%s)", db->cfg->db_node[db->node].name, db->errmsg);
		if (store_noderoute_live() > 0 && tries < LIMIT_TX_RETRIES) {
			t->rc = CD_E_RETRY;
			t->why = RETRY_NODE;
			return 1;
		}
	}
	return 0;
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
	if (*tries > 0 && !db->reroute_now)
		store_backoff(*tries);
	db->reroute_now = 0;
	(*tries)++;
	/* Counted as it is run again, by the reason the last attempt ended on. */
	if (t->why != RETRY_NONE)
		store_retry_count(t->why);
	t->why = RETRY_NONE;
	db->retry_why = RETRY_NONE;
	if (tx_connect(db, t, *tries))
		return tx_next(db, t);
	if (t->rc != CD_OK) {
		t->done = 1;
		return 0;
	}
	if (holdid_due()) {
		/* The key is read before anything makes or reads a hold id: a
		 * failed read fails this attempt, never lets it go on without. */
		enum cd_err rc = holdid_load(db);
		if (rc != CD_OK) {
			store_tx_end(db, t, rc);
			return tx_next(db, t);
		}
	}
	store_clock(db);
	db->committed = 0;
	db->ndue = 0;		/* what this attempt meets due, named afresh */
	return 1;
}

/* The commit of an attempt that ended well; one refused by a conflict
 * (Galera certification) was rolled back and is run again, one whose
 * answer was lost may have happened and never is. */
static void tx_commit(struct store *db, struct store_tx *t)
{
	int e = store_end_tx(db, 1);
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
 * they will be. */
static int tx_due(struct store *db, struct store_tx *t)
{
	if (!t->bringing && db->ndue > 0 && t->due_passes < LIMIT_TX_DUE_PASSES) {
		memcpy(t->due, db->due_ids, sizeof(t->due[0]) * (size_t)db->ndue);
		t->ndue = db->ndue;
		db->ndue = 0;
		t->due_passes++;
		t->bring_attempt = 0;
		t->bring_started_ms = timefmt_mono_ms();
		t->why = RETRY_DUE;
		return 1;
	}
	log_error("account %lld still due after %d passes that brought it due",
		  (long long)(db->ndue > 0 ? db->due_ids[0] : 0), t->due_passes);
	db->ndue = 0;
	return 0;
}

void store_tx_end(struct store *db, struct store_tx *t, enum cd_err rc)
{
	t->rc = rc;
	t->done = 1;
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
	if (rc != CD_E_RETRY && rc != CD_E_DUE && rc != CD_E_UNAVAILABLE && store_mark_lost(db)) {
		t->rc = rc = CD_E_RETRY;
		why = RETRY_ROLLBACK;
	}
	int tries = t->bringing ? t->bring_attempt : t->attempt;
	int64_t started = t->bringing ? t->bring_started_ms : t->started_ms;
	if (db->c->connected) {
		int e = store_end_tx(db, 0);
		if (e != 0)
			store_err(db, e, "rollback");
	} else if (rc == CD_E_UNAVAILABLE && tries == 1 && timefmt_mono_ms() - started < LIMIT_RECONNECT_RETRY_MS) {
		/* The connection died at once, before the commit (the server
		 * was restarted since this thread last used it): nothing was
		 * applied, so reconnect and run it once more. */
		t->done = 0;
		t->why = RETRY_NODE;
		return;
	} else if (rc == CD_E_UNAVAILABLE && store_node_count(db) > 1 && !db->commit_sent && store_noderoute_live() > 0) {
		/* Its node died under it before any COMMIT was sent: nothing
		 * was applied, and the node is out of the routing, so the
		 * next attempt runs on the next node (failover). */
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
