/* store.h: the ledger's storage in MariaDB, as the layers above see it:
 * a handle per thread (one connection per database node with its
 * prepared statements; create one per thread, never share it), the
 * database's health, the migrations and the sweep's lock. What the
 * ledger's own files use of it (statements, result sets, transactions,
 * the one writer) is store_db.h, store_sets.h and store_write.h. */
#ifndef CREDITD_STORE_H
#define CREDITD_STORE_H
#include <stdint.h>
#include "errors.h"
#include "limits.h"

struct cfg;
struct store;

/* Initialises the MariaDB client library once, before any thread. 0 or -1. */
int store_global_init(void);
/* Allocates a ledger bound to cfg (which must outlive it). Does not
 * connect yet. NULL on allocation failure. */
struct store *store_new(const struct cfg *cfg);
void store_free(struct store *db);
/* Connects (or checks the connection): CD_OK or CD_E_UNAVAILABLE. */
enum cd_err store_ping(struct store *db);

/* Why an attempt of the transaction loop (store_db.h) is run again
 * (docs/architecture.md, "One retry loop"). */
enum store_retry {
	RETRY_NONE,
	/* A deadlock, a lock wait timeout, a Galera certification failure or
	 * brute-force abort (1213, 1205, 1020, 1180, 1047, and 1317 before a
	 * COMMIT): store_err. With backoff, LIMIT_TX_RETRIES attempts
	 * (LIMIT_TX_RETRIES_WIDE for a transaction of two accounts, and any
	 * on Galera) within
	 * the read timeout; the same bound holds for each reason below but
	 * DUE's and NODE's own. */
	RETRY_DEADLOCK,
	/* A row kept in memory (ledger_rowcache.h) moved since it was kept:
	 * the next attempt reads it under its lock. */
	RETRY_MOVED,
	/* An account met had something due (an expiry, a plan's credit):
	 * rolled back, brought due, then run again; at most
	 * LIMIT_TX_DUE_PASSES passes, no backoff. */
	RETRY_DUE,
	/* Galera rolled the transaction back without telling it (its lock
	 * mark gone: store_tx.c). */
	RETRY_ROLLBACK,
	/* The connection or its node was lost before any COMMIT was sent:
	 * nothing applied. Once at the first attempt when it died at once
	 * (LIMIT_RECONNECT_RETRY_MS), or on the next live node of several.
	 * A COMMIT that may have happened is never run again. */
	RETRY_NODE,
	/* Moved to the node of the account it met (store_tx_reroute), at once;
	 * or a row not found on its account's node, read there without
	 * waiting for the cluster, looked for once more with causal reads
	 * (store_tx.c, stale_miss). */
	RETRY_ROUTE,
	/* Another transaction made, claimed or committed meanwhile a row this
	 * one looked for (a duplicate key, a claim rolled back, a credit
	 * committed): the next attempt reads what it left. */
	RETRY_RACE,
	/* A procedure this database lacks (a migration not run yet): read
	 * again the old way. */
	RETRY_SCHEMA,
	/* MariaDB refused the write with a copy of a table it keeps whose
	 * triggers it could not parse (a statement interrupted, a Galera
	 * abort, while it opened the table): that copy dropped
	 * (store_tx.c triggers_repair), run again. */
	RETRY_TRIGGERS,
	/* A decision needed rows the attempt's load did not bring (a refused
	 * authorize's request_id held already, a charge past the page of its
	 * account's grants): the next attempt's load brings them. */
	RETRY_LOAD,
	STORE_RETRY_REASONS
};
/* The reason's name as the metric's label ("deadlock", ...). */
const char *store_retry_name(enum store_retry why);
/* Attempts run again since start, by reason (STORE_RETRY_REASONS slots,
 * RETRY_NONE's 0). */
void store_tx_retries(unsigned long long *counts);

/* The database's health as the watchdog last saw it (process-wide).
 * UNKNOWN until a first probe, and for ever in creditctl. While DOWN,
 * every transaction is refused at once with CD_E_UNAVAILABLE. */
enum store_health { STORE_HEALTH_UNKNOWN, STORE_HEALTH_UP, STORE_HEALTH_DOWN };
enum store_health store_health(void);
/* The same for one database node (its index in the config's list, as
 * cfg->db_node names it): UNKNOWN until the watchdog first probed it. */
enum store_health store_node_health(int node);
/* A ledger for the watchdog: connect, read and write time out after
 * database.health_timeout_seconds. NULL on allocation failure. */
struct store *store_new_probe(const struct cfg *cfg);
/* Pings (connecting first when needed) and publishes the result. */
enum store_health store_health_probe(struct store *db);
/* Ends a transaction a failed request may have left open, and forgets
 * the request's route. */
void store_end_request(struct store *db);
/* With several database nodes (docs/scale-out.md): the transactions
 * that follow, until store_end_request, run on the node that serves this
 * account (its id as the API names it), so one account's row locks are
 * taken on one node; NULL: the node of what belongs to no account. With
 * one node, nothing changes. */
void store_route(struct store *db, const char *account);
/* store_route, its reads causal all the same (wsrep_sync_wait, as the
 * node of no account's), until the next store_route: the transactions
 * read what another account's node may have written a moment ago (an
 * account made with a referral code reads the referrer's code). */
void store_route_causal(struct store *db, const char *account);
/* body(db, arg) run as one transaction loop on account's node (NULL: as
 * routed now), the routing the caller had put back after it: a record's
 * small write beside a request's own (a gateway call's row, its objects,
 * a background run, a batch job). Its outcome. */
enum cd_err store_tx_on(struct store *db, const char *account, enum cd_err (*body)(struct store *db, void *arg),
			void *arg);
/* Who acts in the writes that follow, as their journal rows name it
 * (docs/api.md, "`actor` names who wrote the row"; at most 64 bytes), until the next
 * call; NULL: creditd itself ("system"). actor must outlive its use: the
 * request's. */
void store_actor(struct store *db, const char *actor);
/* Statements, commits and rollbacks sent so far (for the bench). */
unsigned long long store_round_trips(const struct store *db);
/* The last error sentence (for creditctl). */
const char *store_errmsg(const struct store *db);

/* The migrations one run committed, in order. */
struct store_migrated {
	int n;
	char name[LIMIT_MIGRATIONS_MAX][LIMIT_MIGRATION_NAME_BYTES + 1];
};
/* Applies the sql/NNN_*.sql files of sqldir not applied yet, in order,
 * and records each one in applied once it is committed (also when a later
 * one fails: applied then lists those that went in before it). A file
 * changed since it was applied, more than LIMIT_MIGRATIONS_MAX of them or
 * a name longer than LIMIT_MIGRATION_NAME_BYTES stops the run with a
 * message on stderr. With check_only, nothing is created or applied:
 * applied lists the files a run would apply. */
enum cd_err store_migrate(struct store *db, const char *sqldir, int check_only, struct store_migrated *applied);
/* One creditctl sweep at a time on a database: takes a named lock of the
 * database's on this ledger's connection, without waiting. CD_OK: taken,
 * held until the connection closes (store_free; a connection lost and
 * made again mid-run has lost it); CD_E_CONFLICT: another session holds
 * it; CD_E_UNAVAILABLE: the database cannot be reached; CD_E_INTERNAL:
 * the server takes no named locks (Galera) or failed to answer, with
 * store_errmsg saying why. Nothing is logged: creditctl says what it
 * does about it. */
enum cd_err store_sweep_lock(struct store *db);
#endif
