/* store.c: the store's handle, its connection per database node, the
 * prepared-statement cache, statements run (the transaction loop is
 * store_tx.c's, result sets store_sets.c's, the one writer
 * store_write.c's, parameters store_params.c's, the database's health
 * store_health.c's).
 *
 * Every statement creditd sends goes through store_exec here, so the round
 * trip counter is exact. The connection runs with autocommit off and READ
 * COMMITTED: a transaction starts with the first statement (no BEGIN round
 * trip), and every read that a write depends on is a locking read. */
#include "store_db.h"
#include "keys.h"
#include "log.h"
#include "store_noderoute.h"
#include "store_params.h"
#include "store_tls.h"
#include "refusal.h"
#include "timefmt.h"
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

int store_global_init(void)
{
	return mysql_library_init(0, NULL, NULL) == 0 ? 0 : -1;
}

static pthread_once_t nodes_once = PTHREAD_ONCE_INIT;
static const struct cfg *nodes_cfg;

static void nodes_init(void)
{
	const char *names[LIMIT_DB_NODES] = {NULL};
	for (int i = 0; i < nodes_cfg->db_node_count && i < LIMIT_DB_NODES; i++)
		names[i] = nodes_cfg->db_node[i].name;
	store_noderoute_init(nodes_cfg->db_node_count, nodes_cfg->db_node_count > 0 ? names : NULL);
}

struct store *store_new(const struct cfg *cfg)
{
	/* The routing knows the nodes before the first ledger (every
	 * ledger of a process shares one config). */
	nodes_cfg = cfg;
	pthread_once(&nodes_once, nodes_init);
	struct store *db = calloc(1, sizeof(*db));
	int nodes = cfg->db_node_count > 0 ? cfg->db_node_count : 1;
	if (db == NULL)
		return NULL;
	db->conns = calloc((size_t)nodes, sizeof(*db->conns));
	if (db->conns == NULL) {
		free(db);
		return NULL;
	}
	db->cfg = cfg;
	db->tx_serial = 1;
	db->c = &db->conns[0];
	store_clock(db);
	return db;
}

void store_clock(struct store *db)
{
	db->now = timefmt_now();
	db->now_month = timefmt_month_key(db->now);
	db->now_day = db->now / TIMEFMT_SECONDS_PER_DAY;
}

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
	db->mark_first = 0;
}

void store_free(struct store *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < (db->cfg->db_node_count > 0 ? db->cfg->db_node_count : 1); i++) {
		db->c = &db->conns[i];
		store_disconnect(db);
	}
	free(db->conns);
	free(db);
	mysql_thread_end();
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
		 "innodb_lock_wait_timeout = %u, autocommit = 0, join_cache_level = 0", lock_wait);
	my_bool off = 0;
	mysql_options(db->c->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->c->db, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
	mysql_options(db->c->db, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
	mysql_options(db->c->db, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db->c->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	const struct cfg_node *n = &c->db_node[db->node];
	if (store_tls_options(db->c->db, c) != 0) {
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
			 store_tls_hint(c, n->host, mysql_errno(db->c->db), mysql_error(db->c->db), hint, sizeof(hint)));
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
	return db->cfg->db_node_count > 1 ? db->cfg->db_node_count : 1;
}

/* Makes node the connection in use, dropping a connection made before
 * the node last went down (its server is gone). Between transactions. */
void store_use_node(struct store *db, int node)
{
	if (node != db->node && db->in_tx && db->c->connected) {
		/* Never leave a transaction open behind (store_end_tx's
		 * rollback, which this file, below store_end.c, does not call). */
		db->round_trips++;
		db->in_tx = 0;
		db->tx_serial++;
		db->mark_first = 0;
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

/* A connection that cannot go on: lost, killed, or out of step with the
 * server (2014, commands out of sync: a result left unread by some path,
 * seen once under Galera's load): dropped and made again, so its state
 * never outlives the statement that met it. */
static int conn_lost(int e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
	       e == CR_CONN_HOST_ERROR || e == CR_COMMANDS_OUT_OF_SYNC || e == 1927 /* connection killed */ ||
	       e == ER_SERVER_SHUTDOWN;
}

enum cd_err store_err(struct store *db, int dberr, const char *what)
{
	if (retryable(dberr))
		return store_retry(db, RETRY_DEADLOCK);
	/* Interrupted (1317: some Galera brute-force aborts, MariaDB PR #962): run
	 * again, unless a COMMIT went with it (it may have happened: lost). */
	if (dberr == ER_QUERY_INTERRUPTED && !db->commit_sent)
		return store_retry(db, RETRY_DEADLOCK);
	if (conn_lost(dberr) || dberr == ER_QUERY_INTERRUPTED) {
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

static int bind_results(struct dbstmt *s)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(s->st);
	if (meta == NULL)
		return 0;
	s->ncols = mysql_num_fields(meta);
	MYSQL_FIELD *fields = mysql_fetch_fields(meta);
	s->res = calloc(s->ncols, sizeof(MYSQL_BIND));
	s->buf = calloc(s->ncols, sizeof(char *));
	s->len = calloc(s->ncols, sizeof(unsigned long));
	s->isnull = calloc(s->ncols, sizeof(my_bool));
	s->error = calloc(s->ncols, sizeof(my_bool));
	int rc = s->res && s->buf && s->len && s->isnull && s->error ? 0 : -1;
	for (unsigned int i = 0; rc == 0 && i < s->ncols; i++) {
		unsigned long size = fields[i].length + 2;
		if (size < 32)
			size = 32;
		if (size > DB_COL_MAX_BYTES)
			size = DB_COL_MAX_BYTES;
		s->buf[i] = malloc(size);
		if (s->buf[i] == NULL) {
			rc = -1;
			break;
		}
		s->res[i].buffer_type = MYSQL_TYPE_STRING;
		s->res[i].buffer = s->buf[i];
		s->res[i].buffer_length = size - 1;
		s->res[i].length = &s->len[i];
		s->res[i].is_null = &s->isnull[i];
		s->res[i].error = &s->error[i];
	}
	mysql_free_result(meta);
	if (rc == 0 && mysql_stmt_bind_result(s->st, s->res) != 0)
		rc = -1;
	return rc;
}

static struct dbstmt *stmt_get(struct store *db, const char *sql, int *dberr)
{
	for (int i = 0; i < db->c->nstmts; i++)
		if (db->c->stmts[i].sql == sql)
			return &db->c->stmts[i];
	if (db->c->nstmts == DB_STMTS_MAX) {
		log_error("prepared statement cache full");
		*dberr = CR_OUT_OF_MEMORY;
		return NULL;
	}
	struct dbstmt *s = &db->c->stmts[db->c->nstmts];
	memset(s, 0, sizeof(*s));
	s->st = mysql_stmt_init(db->c->db);
	if (s->st == NULL) {
		*dberr = CR_OUT_OF_MEMORY;
		return NULL;
	}
	db->round_trips++;
	if (mysql_stmt_prepare(s->st, sql, (unsigned long)strlen(sql)) != 0 || bind_results(s) != 0) {
		*dberr = (int)mysql_stmt_errno(s->st);
		if (*dberr == 0)
			*dberr = CR_OUT_OF_MEMORY;
		snprintf(db->errmsg, sizeof(db->errmsg), "prepare failed: %s: %.120s", mysql_stmt_error(s->st), sql);
		mysql_stmt_close(s->st);
		s->st = NULL;
		return NULL;
	}
	s->sql = sql;
	s->is_call = strncmp(sql, "CALL ", 5) == 0;
	db->c->nstmts++;
	return s;
}

struct dbstmt *store_exec_params(struct store *db, const char *sql, const struct db_params *p, int *dberr)
{
	*dberr = 0;
	if (!db->c->connected) {
		*dberr = CR_SERVER_GONE_ERROR;
		return NULL;
	}
	struct dbstmt *s = stmt_get(db, sql, dberr);
	if (s == NULL)
		return NULL;
	int n = p->overflow ? -1 : p->n;
	if (n < 0 || (unsigned long)n != mysql_stmt_param_count(s->st)) {
		log_error("parameter mismatch for: %.120s", sql);
		*dberr = CR_UNKNOWN_ERROR;
		return NULL;
	}
	mysql_stmt_free_result(s->st);
	db->in_tx = 1;
	db->round_trips++;
	if ((n > 0 && mysql_stmt_bind_param(s->st, (MYSQL_BIND *)p->bind) != 0) || mysql_stmt_execute(s->st) != 0) {
		/* An error answered to the execute leaves it prepared. */
		*dberr = (int)mysql_stmt_errno(s->st);
		return NULL;
	}
	if (s->ncols > 0 && !s->is_call && mysql_stmt_store_result(s->st) != 0) {
		*dberr = (int)mysql_stmt_errno(s->st);
		store_stmt_failed(db, s, *dberr);
		return NULL;
	}
	return s;
}

void store_stmt_failed(struct store *db, struct dbstmt *s, int dberr)
{
	if (conn_lost(dberr) || !db->c->connected)
		return;
	db->round_trips++;
	if (mysql_stmt_reset(s->st) != 0) {
		log_warn("statement reset failed (%u), connection dropped: %.120s", mysql_stmt_errno(s->st), s->sql);
		store_disconnect(db);
	}
}

static struct dbstmt *db_vexec(struct store *db, const char *sql, int *dberr, const char *fmt, va_list ap)
{
	struct db_params p;
	if (store_params_vformat(&p, fmt, ap) < 0) {
		log_error("bad parameter format for: %.120s", sql);
		*dberr = CR_UNKNOWN_ERROR;
		return NULL;
	}
	return store_exec_params(db, sql, &p, dberr);
}

struct dbstmt *store_exec(struct store *db, const char *sql, int *dberr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct dbstmt *s = db_vexec(db, sql, dberr, fmt, ap);
	va_end(ap);
	return s;
}

/* Binds the result of a CALL, whose shape is only known after execute. */
static int bind_call_results(struct dbstmt *s)
{
	if (s->ncols > 0)
		return mysql_stmt_bind_result(s->st, s->res) != 0 ? -1 : 0;
	return bind_results(s);
}

struct dbstmt *store_call(struct store *db, const char *sql, const struct db_params *p, int *dberr, int *got_row)
{
	*got_row = 0;
	struct dbstmt *s = store_exec_params(db, sql, p, dberr);
	if (s == NULL)
		return NULL;
	/* Every result set of the CALL is read here, the row (if any) into
	 * the statement's buffers, so the connection is free afterwards. */
	int status = 0;
	do {
		if (mysql_stmt_field_count(s->st) > 0) {
			if (bind_call_results(s) != 0 || mysql_stmt_store_result(s->st) != 0) {
				*dberr = (int)mysql_stmt_errno(s->st);
				store_stmt_failed(db, s, *dberr);
				return NULL;
			}
			if (!*got_row && mysql_stmt_fetch(s->st) == 0)
				*got_row = 1;
			mysql_stmt_free_result(s->st);
		}
		status = mysql_stmt_next_result(s->st);
	} while (status == 0);
	if (status > 0) {
		*dberr = (int)mysql_stmt_errno(s->st);
		store_stmt_failed(db, s, *dberr);
		return NULL;
	}
	return s;
}

int store_may_commit(const struct store *db)
{
	return db->idem_key == NULL;
}

void store_committed(struct store *db)
{
	db->committed = 1;
	db->in_tx = 0;
	db->tx_serial++;
	db->mark_first = 0;
}

int store_fetch(struct dbstmt *s)
{
	int rc = mysql_stmt_fetch(s->st);
	if (rc == 0)
		return 1;
	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc == MYSQL_DATA_TRUNCATED)
		log_error("column truncated in: %.120s", s->sql);
	return -1;
}

int store_null(const struct dbstmt *s, unsigned int col)
{
	return col >= s->ncols || s->isnull[col];
}

const char *store_str(const struct dbstmt *s, unsigned int col)
{
	if (store_null(s, col))
		return NULL;
	s->buf[col][s->len[col] < s->res[col].buffer_length ? s->len[col] : s->res[col].buffer_length] = '\0';
	return s->buf[col];
}

unsigned long store_len(const struct dbstmt *s, unsigned int col)
{
	return store_null(s, col) ? 0 : s->len[col];
}

int store_copy(const struct dbstmt *s, unsigned int col, char *dst, size_t cap, const char *null_text)
{
	const char *v = store_null(s, col) ? null_text : store_str(s, col);
	size_t len = strlen(v);
	if (len >= cap) {
		log_error("a value of %zu bytes (column %u) does not fit its row's %zu", len, col, cap);
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, v, len + 1);
	return 0;
}

int64_t store_i64(const struct dbstmt *s, unsigned int col)
{
	const char *v = store_str(s, col);
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : 0;
}

uint64_t store_affected(const struct dbstmt *s)
{
	return (uint64_t)mysql_stmt_affected_rows(s->st);
}

uint64_t store_insert_id(const struct dbstmt *s)
{
	return (uint64_t)mysql_stmt_insert_id(s->st);
}

enum cd_err store_do(struct store *db, const char *sql, const char *what, const char *fmt, ...)
{
	va_list ap;
	int dberr;
	va_start(ap, fmt);
	struct dbstmt *s = db_vexec(db, sql, &dberr, fmt, ap);
	va_end(ap);
	return s != NULL ? CD_OK : store_err(db, dberr, what);
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
