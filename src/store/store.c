/* store.c: the handle's connection, what a transaction's attempt meets
 * first: the connection per database node (made with its
 * TLS options, store_ensure), the node an account's writes go to (the
 * routing, store_noderoute.h), the attempt connected and its reads made
 * causal (store_connect), and a MariaDB error mapped to the API's answer
 * (store_err). A statement run is store_sets.c's; the transaction's
 * loop, the one list of reasons an attempt is run again (store_retry),
 * its clock, its end, its marks and its write are store_tx.c's;
 * the handle made and freed store_handle.c's; the database's health
 * store_health.c's. This file calls none of them: they call down here.
 *
 * The connection runs with autocommit off and READ COMMITTED: a
 * transaction starts with the first statement (no BEGIN round trip), and
 * every read that a write depends on is a locking read. */
#include "store_db.h"
#include "holdid.h"
#include "keys.h"
#include "log.h"
#include "store_noderoute.h"
#include "refusal.h"
#include "timefmt.h"
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void stmts_clear(struct store *db)
{
	for (int i = 0; i < db->c->nstmts; i++) {
		struct dbstmt *s = &db->c->stmts[i];
		for (unsigned int c = 0; c < s->ncols; c++)
			free(s->buf[c]);
		free(s->buf);
		free(s->res);
		free(s->len);
		free(s->isnull);
		free(s->error);
		if (s->st != NULL)
			mysql_stmt_close(s->st);
		memset(s, 0, sizeof(*s));
	}
	db->c->nstmts = 0;
}

void store_disconnect(struct store *db)
{
	stmts_clear(db);
	if (db->c->db != NULL)
		mysql_close(db->c->db);
	db->c->db = NULL;
	db->c->connected = 0;
	db->in_tx = 0;
	db->tx_serial++;
	store_marks_clear(db);
}

/* TLS to MariaDB through Connector/C's options
 * (docs/configuration.md, "TLS to MariaDB").
 *
 * off asks for no TLS; required insists on it (MYSQL_OPT_SSL_ENFORCE: a
 * server without TLS is refused) and checks no certificate, or only its
 * chain when ca_file is given; verify adds MYSQL_OPT_SSL_VERIFY_SERVER_CERT:
 * the chain to ca_file (empty: OpenSSL's default store, the system's CAs)
 * and the host name or address in the certificate. Verification is set
 * both ways, never left to the library's default, which changed in
 * Connector/C 3.4 (it verifies unless told not to). A client certificate
 * goes with any mode but off. */

/* Sets my's TLS options from c (c->db_tls, ca_file, cert_file,
 * key_file): the same on every node's connection. 0, or -1 when the
 * library refused one (out of memory). */
static int tls_options(MYSQL *db, const struct cfg *c)
{
	my_bool enforce = c->db_tls != CFG_TLS_OFF, verify = c->db_tls == CFG_TLS_VERIFY;
	int rc = 0;
	rc |= mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	if (c->db_tls == CFG_TLS_OFF)
		return rc != 0 ? -1 : 0;
	rc |= mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &enforce);
	if (c->db_ca_file[0] != '\0')
		rc |= mysql_optionsv(db, MYSQL_OPT_SSL_CA, c->db_ca_file);
	if (c->db_cert_file[0] != '\0') {
		rc |= mysql_optionsv(db, MYSQL_OPT_SSL_CERT, c->db_cert_file);
		rc |= mysql_optionsv(db, MYSQL_OPT_SSL_KEY, c->db_key_file);
	}
	return rc != 0 ? -1 : 0;
}

/* 1 when the connection to host goes through a unix socket (secure
 * transport to the server whatever tls says). */
static int over_socket(const struct cfg *c, const char *host)
{
	return (c->db_nodes[0] == '\0' && c->db_socket[0] != '\0') || host[0] == '\0' || strcmp(host, "localhost") == 0;
}

/* A sentence for a connect that failed with MariaDB's error dberr and
 * message msg, when TLS (or its absence) is the likely cause, naming
 * database.tls and its files (written into buf of cap bytes); "" when
 * none applies. host is the node's. Returns buf. */
static const char *tls_hint(const struct cfg *c, const char *host, unsigned dberr, const char *msg, char *buf,
			    size_t cap)
{
	buf[0] = '\0';
	int tls_said = strstr(msg, "SSL") != NULL || strstr(msg, "TLS") != NULL || strstr(msg, "certificate") != NULL;
	/* MariaDB 10.11 refuses a plain connection to a server with
	 * require_secure_transport, or as a user REQUIRE SSL or X509, as
	 * it refuses a wrong password: 1045, access denied. */
	if (c->db_tls == CFG_TLS_OFF) {
		if (dberr == ER_ACCESS_DENIED_ERROR && !over_socket(c, host))
			snprintf(buf, cap, " (database.tls = off: a server that requires TLS (require_secure_transport, "
				 "or the user's REQUIRE SSL or X509) refuses a plain connection so; set database.tls = "
				 "verify with database.ca_file)");
		return buf;
	}
	if (dberr != CR_SSL_CONNECTION_ERROR && !tls_said)
		return buf;
	if (c->db_tls == CFG_TLS_REQUIRED)
		snprintf(buf, cap, " (database.tls = required%s%s)", c->db_ca_file[0] ? ": database.ca_file " : "",
			 c->db_ca_file);
	else
		snprintf(buf, cap, " (database.tls = verify: the server's certificate must be signed by %s%s and "
			 "name %s)", c->db_ca_file[0] ? "database.ca_file " : "the system's CAs (database.ca_file is empty)",
			 c->db_ca_file, host[0] ? host : "localhost");
	return buf;
}

static const char *nonempty(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* Nodes already warned of a single applier thread, once a process. */
static atomic_int single_applier_warned[LIMIT_DB_NODES];

/* One applier thread (wsrep_slave_threads = 1, MariaDB's default) can
 * stall a node's writes of a row for as long as both instances write it
 * through two nodes: the applier waits for a row lock that a local
 * transaction holds while that transaction waits, in its certification,
 * for a write set queued behind the applier. Seen here for 50 s at a
 * time; with 4 appliers none (docs/scale-out.md). Worth a warning, once. */
static void warn_single_applier(const struct store *db, const char *threads)
{
	if (threads == NULL || strcmp(threads, "1") != 0 || db->node < 0 || db->node >= LIMIT_DB_NODES)
		return;
	if (atomic_exchange(&single_applier_warned[db->node], 1) == 0)
		log_warn("database node %s: wsrep_slave_threads = 1: a row written through two nodes can stall "
			 "its writes for the lock wait; set it to 4 or more (docs/scale-out.md)",
			 db->cfg->db_node[db->node].name);
}

/* Is the server a Galera node (wsrep_on)? Asked once per connection:
 * 1, 0, or -1 when the question failed (the connection is not used). A
 * node's applier threads are looked at in the same round trip. */
static int wsrep_on(const struct store *db, MYSQL *my)
{
	int on = 0;
	if (mysql_query(my, "SELECT @@wsrep_on, @@wsrep_slave_threads") != 0)
		return mysql_errno(my) == ER_UNKNOWN_SYSTEM_VARIABLE ? 0 : -1;	/* 0: built without Galera */
	MYSQL_RES *res = mysql_store_result(my);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	on = row != NULL && row[0] != NULL && strcmp(row[0], "1") == 0;
	if (on)
		warn_single_applier(db, row[1]);
	mysql_free_result(res);
	return on;
}

enum cd_err store_ensure(struct store *db)
{
	const struct cfg *c = db->cfg;
	char init[192];
	if (db->c->connected)
		return CD_OK;
	store_disconnect(db);
	db->c->db = mysql_init(NULL);
	if (db->c->db == NULL)
		return CD_E_UNAVAILABLE;
	unsigned int timeout = (unsigned int)(db->probe ? c->db_health_timeout_seconds : c->db_connect_timeout_seconds);
	unsigned int read_timeout = (unsigned int)(db->probe ? c->db_health_timeout_seconds : c->db_read_timeout_seconds);
	unsigned int write_timeout = (unsigned int)(db->probe ? c->db_health_timeout_seconds : c->db_write_timeout_seconds);
	/* A lock wait must end (1205, retried) before the read timeout cuts
	 * the connection, which would turn a busy row into a 503. */
	unsigned int lock_wait = read_timeout > LIMIT_DB_LOCK_WAIT_SECONDS + 1 ? LIMIT_DB_LOCK_WAIT_SECONDS
		: read_timeout > 1 ? read_timeout - 1 : 1;
	/* join_cache_level = 0: a join reaches each row by its key, never by
	 * a locking scan of every account's rows (docs/architecture.md, "On
	 * Galera"). */
	snprintf(init, sizeof(init), "SET SESSION tx_isolation = 'READ-COMMITTED', time_zone = '+00:00', "
		 "lc_messages = 'en_US', innodb_lock_wait_timeout = %u, autocommit = 0, join_cache_level = 0", lock_wait);
	my_bool off = 0;
	mysql_options(db->c->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->c->db, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
	mysql_options(db->c->db, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
	mysql_options(db->c->db, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db->c->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	const struct cfg_node *n = &c->db_node[db->node];
	if (tls_options(db->c->db, c) != 0) {
		snprintf(db->errmsg, sizeof(db->errmsg), "database.tls: the client library refused its options");
		store_disconnect(db);
		return CD_E_UNAVAILABLE;
	}
	/* One statement per query, always: no SQL text carries several. */
	if (mysql_real_connect(db->c->db, n->host, c->db_user, nonempty(c->db_password), c->db_name,
			       (unsigned int)n->port, c->db_nodes[0] == '\0' ? nonempty(c->db_socket) : NULL,
			       CLIENT_FOUND_ROWS) == NULL) {
		char hint[LIMIT_DB_NODE_BYTES + 320];
		snprintf(db->errmsg, sizeof(db->errmsg), "cannot connect to MariaDB%s%s: %s%s",
			 c->db_node_count > 1 ? " node " : "", c->db_node_count > 1 ? n->name : "", mysql_error(db->c->db),
			 tls_hint(c, n->host, mysql_errno(db->c->db), mysql_error(db->c->db), hint, sizeof(hint)));
		db->connect_errno = (int)mysql_errno(db->c->db);
		store_disconnect(db);
		return CD_E_UNAVAILABLE;
	}
	if (mysql_query(db->c->db, init) != 0) {
		snprintf(db->errmsg, sizeof(db->errmsg), "session setup failed: %s", mysql_error(db->c->db));
		store_disconnect(db);
		return CD_E_UNAVAILABLE;
	}
	db->c->galera = wsrep_on(db, db->c->db);
	if (db->c->galera < 0) {
		snprintf(db->errmsg, sizeof(db->errmsg), "session setup failed: %s", mysql_error(db->c->db));
		store_disconnect(db);
		return CD_E_UNAVAILABLE;
	}
	db->c->sync_wait = 0;
	db->c->connected = 1;
	db->c->epoch = store_noderoute_epoch(db->node);
	return CD_OK;
}

int store_galera(const struct store *db)
{
	return db->c->galera;
}

int store_node_count(const struct store *db)
{
	return db->nodes > 1 ? db->nodes : 1;
}

/* Makes node the connection in use, dropping a connection made before
 * the node last went down (its server is gone). Between transactions. */
void store_use_node(struct store *db, int node)
{
	if (node != db->node && db->in_tx && db->c->connected) {
		/* Never leave a transaction open behind (store_tx.c's
		 * rollback, which this file, below store_tx.c, does not call). */
		db->round_trips++;
		db->in_tx = 0;
		db->tx_serial++;
		store_marks_clear(db);
		if (mysql_rollback(db->c->db) != 0)
			store_disconnect(db);
	}
	db->node = node;
	db->c = &db->conns[node];
	if (db->c->connected && db->c->epoch != store_noderoute_epoch(node))
		store_disconnect(db);
}

static int retryable(int e)
{
	return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT || e == ER_CHECKREAD ||
	       e == 1180 /* commit failed (Galera) */ || e == 1047 /* WSREP not ready */;
}

int store_conn_lost(int e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
	       e == CR_CONN_HOST_ERROR || e == CR_COMMANDS_OUT_OF_SYNC || e == 1927 /* connection killed */ ||
	       e == ER_SERVER_SHUTDOWN;
}

/* A statement's reason to run the attempt again (a deadlock, a table copy
 * whose triggers did not parse), the attempt's unless one was named first
 * (the first named holds: store_tx.c's store_retry, the loop's list of
 * reasons, above this file). */
static enum cd_err retry_named(struct store *db, enum store_retry why)
{
	if (db->retry_why == RETRY_NONE)
		db->retry_why = why;
	return CD_E_RETRY;
}

/* 1 when MariaDB refused a statement for a trigger it could not parse:
 * a copy of the table it keeps (its table cache) opened by a statement
 * interrupted during the parse, on Galera a brute-force abort. Every
 * write through that copy fails so until it leaves the cache
 * (docs/scale-out.md). creditd's own statements parse: a 1064 of theirs
 * says "You have an error in your SQL syntax". The text is the
 * connection's, or the statement's as store_sets.c saw it before the
 * statement's reset cleared it (db->triggers_unparsed). */
static int trigger_unparsed(struct store *db, int dberr)
{
	return dberr == ER_PARSE_ERROR &&
	       (db->triggers_unparsed || (db->c->db != NULL && store_triggers_text(mysql_error(db->c->db))));
}

int store_triggers_text(const char *msg)
{
	return msg != NULL && strstr(msg, "has an error in its body") != NULL;
}

enum cd_err store_err(struct store *db, int dberr, const char *what)
{
	if (retryable(dberr))
		return retry_named(db, RETRY_DEADLOCK);
	if (trigger_unparsed(db, dberr)) {
		/* Each told: the repair ends it, so it is told seldom. */
		snprintf(db->errmsg, sizeof(db->errmsg), "%s: MariaDB error %d: a cached copy of a table whose "
			 "triggers MariaDB could not parse", what, dberr);
		log_warn("%s: that copy is dropped (REPAIR LOCAL TABLE) and the transaction run again "
			 "(docs/scale-out.md)", db->errmsg);
		db->triggers_unparsed = 1;
		return retry_named(db, RETRY_TRIGGERS);
	}
	/* Interrupted (1317: some Galera brute-force aborts, MariaDB PR #962): run
	 * again, unless a COMMIT went with it (it may have happened: lost). */
	if (dberr == ER_QUERY_INTERRUPTED && !db->commit_sent)
		return retry_named(db, RETRY_DEADLOCK);
	if (store_conn_lost(dberr) || dberr == ER_QUERY_INTERRUPTED) {
		log_warn("database connection lost during %s (%d)", what, dberr);
		/* Of several nodes, one lost connection (an idle one cut by a
		 * timeout, say) says nothing of the node: the next attempt
		 * connects again, and only a node that cannot be reached then
		 * leaves the routing (store_tx_next). */
		store_disconnect(db);
		return CD_E_UNAVAILABLE;
	}
	snprintf(db->errmsg, sizeof(db->errmsg), "%s: MariaDB error %d: %s", what, dberr,
		 db->c->db != NULL ? mysql_error(db->c->db) : "no connection");
	log_error("%s", db->errmsg);
	return CD_E_INTERNAL;
}

int store_may_commit(const struct store *db)
{
	return db->idem_key == NULL;
}

void store_backoff(int attempt)
{
	struct timespec ts = {0, 0};
	unsigned int r = (unsigned int)rand();
	long max_us = 1000L << (attempt < 6 ? attempt : 6);
	ts.tv_nsec = (long)(r % (unsigned long)max_us) * 1000L;
	nanosleep(&ts, NULL);
}

/* Galera's word on whether the node takes queries (wsrep_ready, false
 * while it has left the primary component or is joining); a server
 * without Galera has no such status and is ready. Here, with the other
 * text queries (held to store.c, store_tx.c and store_migrate.c);
 * store_health.c asks it. */
int store_node_ready(struct store *db)
{
	int ready = 1;
	if (!db->c->galera)
		return 1;
	db->round_trips++;
	/* Ready (in the primary component) and Synced (4): a donor, or a
	 * node still applying what it missed, is left out until it is. */
	if (mysql_query(db->c->db, "SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state')") != 0) {
		snprintf(db->errmsg, sizeof(db->errmsg), "status: %s", mysql_error(db->c->db));
		store_disconnect(db);
		return 0;
	}
	MYSQL_RES *res = mysql_store_result(db->c->db);
	MYSQL_ROW row;
	while (res != NULL && (row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL)
			continue;
		if ((strcmp(row[0], "wsrep_ready") == 0 && strcmp(row[1], "ON") != 0) ||
		    (strcmp(row[0], "wsrep_local_state") == 0 && strcmp(row[1], "4") != 0)) {
			snprintf(db->errmsg, sizeof(db->errmsg), "%s is %s", row[0], row[1]);
			ready = 0;
		}
	}
	if (res != NULL)
		mysql_free_result(res);
	else if (mysql_errno(db->c->db) != 0)
		ready = 0;
	return ready;
}

unsigned long long store_round_trips(const struct store *db) { return db->round_trips; }
const char *store_errmsg(const struct store *db) { return db->errmsg; }

/* Runs a statement without parameters or results, counted as a round trip. */
enum cd_err store_text(struct store *db, const char *sql, const char *what)
{
	if (!db->c->connected)
		return CD_E_UNAVAILABLE;
	db->round_trips++;
	db->in_tx = 1;
	if (mysql_real_query(db->c->db, sql, (unsigned long)strlen(sql)) != 0)
		return store_err(db, (int)mysql_errno(db->c->db), what);
	return CD_OK;
}

/* ---- The attempt connected ---- */

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

/* The hold ids' key (src/core/holdid.h, sql/044), read by the first
 * attempt of the process that finds a database, as its connection is
 * made ready (store_connect), with the session's own set-up: once a
 * process, not a statement on every request's way. A database before
 * 044 leaves the ids in their old form, said once, and is looked at
 * again a minute on (a migration made while creditd runs takes hold).
 * Read by an attempt, rather than as a worker starts: the database may
 * be down then (the attempt that finds it up reads the key before
 * anything makes or parses a hold id); nothing rotates the key (044
 * writes it once). */
static atomic_int holdid_read;
static _Atomic int64_t holdid_missing_ms;	/* when the key was last found missing, 0: never */

int store_holdid_due(void)
{
	int64_t missing = atomic_load(&holdid_missing_ms);
	return !atomic_load(&holdid_read) && (missing == 0 || timefmt_mono_ms() - missing > LIMIT_HOLDID_RECHECK_MS);
}

/* The key's four settings into v (found: a bit each); 0, or MariaDB's
 * error. A text query of constant text, as the session's set-up. */
static int holdid_settings(struct store *db, int64_t v[4], int *found)
{
	static const char sql[] = "SELECT name, value FROM settings WHERE name IN ('hold_id_key_1', "
				  "'hold_id_key_2', 'hold_id_key_3', 'hold_id_opaque_from')";
	MYSQL *my = db->c->db;
	db->round_trips++;
	db->in_tx = 1;		/* autocommit off: the read opens the attempt's transaction */
	if (mysql_query(my, sql) != 0)
		return (int)mysql_errno(my);
	MYSQL_RES *res = mysql_store_result(my);
	if (res == NULL)
		return mysql_errno(my) != 0 ? (int)mysql_errno(my) : CR_UNKNOWN_ERROR;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		const char *name = row[0];
		if (name == NULL || row[1] == NULL || name[0] == '\0')
			continue;
		int i = strcmp(name, "hold_id_opaque_from") == 0 ? 3 : name[strlen(name) - 1] - '1';
		if (i >= 0 && i < 4 && !(*found & 1 << i)) {
			v[i] = strtoll(row[1], NULL, 10);
			*found |= 1 << i;
		}
	}
	mysql_free_result(res);
	return 0;
}

static enum cd_err holdid_load(struct store *db)
{
	int64_t v[4] = {0, 0, 0, 0};
	int found = 0;
	int e = holdid_settings(db, v, &found);
	if (e != 0)
		return store_err(db, e, "hold id key");
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

enum cd_err store_connect(struct store *db, int tries, int *next_node, enum cd_err *key_rc)
{
	enum cd_err rc;
	*next_node = 0;
	*key_rc = CD_OK;
	if (store_node_count(db) > 1) {
		int node = store_noderoute_pick(db->routed ? db->route : NULL);
		if (node < 0)
			return CD_E_UNAVAILABLE;
		store_use_node(db, node);
	}
	db->commit_sent = 0;
	db->connect_errno = 0;
	rc = store_ensure(db);
	/* Unreachable: refused, timed out or not answering (a server with no
	 * connection to spare is alive, and stays in the routing). */
	int unreachable = rc != CD_OK && db->connect_errno != ER_CON_COUNT_ERROR;
	if (rc == CD_OK)
		rc = causal_reads(db);
	if (rc == CD_OK && store_holdid_due())
		*key_rc = holdid_load(db);
	if (rc == CD_E_UNAVAILABLE && store_node_count(db) > 1) {
		/* A node that cannot be reached leaves the routing, and the
		 * next attempt goes to the next node; a connection found dead
		 * is made again. Bounded by the attempts and the deadline. */
		if (unreachable && store_noderoute_set(db->node, 0))
			log_warn("database node %s: down (%s)", db->cfg->db_node[db->node].name, db->errmsg);
		if (store_noderoute_live() > 0 && tries < LIMIT_TX_RETRIES)
			*next_node = 1;
	}
	return rc;
}

/* ---- The node an account's writes go to (store_noderoute.h) ---- */

static int route_count = 1;
static uint64_t route_seeds[NODEROUTE_MAX];
static atomic_int route_up[NODEROUTE_MAX] = {1};
static atomic_uint route_epochs[NODEROUTE_MAX];

/* FNV-1a: a stable hash of text, the same on every build and machine. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* splitmix64's finaliser: spreads the combined hash over all 64 bits, so
 * the highest score is a fair draw among the nodes. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void store_noderoute_init(int n, const char *const names[])
{
	route_count = n < 1 ? 1 : n > NODEROUTE_MAX ? NODEROUTE_MAX : n;
	for (int i = 0; i < route_count; i++) {
		route_seeds[i] = names != NULL && names[i] != NULL ? fnv1a(names[i]) : (uint64_t)i;
		atomic_store(&route_up[i], 1);
	}
}

int store_noderoute_count(void)
{
	return route_count;
}

int store_noderoute_pick(const char *key)
{
	uint64_t h = fnv1a(key != NULL ? key : "");
	int best = -1;
	uint64_t best_score = 0;
	if (key == NULL)
		h = mix(h ^ 0x9e3779b97f4a7c15ULL);	/* apart from an account named "" */
	for (int i = 0; i < route_count; i++) {
		if (!atomic_load(&route_up[i]))
			continue;
		uint64_t score = mix(h ^ route_seeds[i]);
		if (best < 0 || score > best_score) {
			best = i;
			best_score = score;
		}
	}
	return best;
}

int store_noderoute_set(int node, int is_up)
{
	if (node < 0 || node >= route_count)
		return 0;
	int was = atomic_exchange(&route_up[node], is_up ? 1 : 0);
	if (was && !is_up)
		atomic_fetch_add(&route_epochs[node], 1);
	return was;
}

unsigned store_noderoute_epoch(int node)
{
	return node >= 0 && node < route_count ? atomic_load(&route_epochs[node]) : 0;
}

int store_noderoute_is_up(int node)
{
	return node >= 0 && node < route_count && atomic_load(&route_up[node]);
}

int store_noderoute_live(void)
{
	int n = 0;
	for (int i = 0; i < route_count; i++)
		n += atomic_load(&route_up[i]);
	return n;
}
