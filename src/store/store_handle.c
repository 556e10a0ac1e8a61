/* store_handle.c: the store's handle made and freed (store.h): its
 * connections, one per database node configured, the routing told of
 * the nodes once a process, the number of nodes kept on the handle (the
 * transaction loop reads it on every attempt), the clock set as a
 * transaction's would be; and the health watchdog's handle. Apart from
 * the loop (store_tx.c) and the connection (store.c), which a request's
 * transactions walk through: nothing here is on the guard's way
 * (docs/architecture.md, "Counting a request's walk"). Here too, the
 * handle's settings a request or a transaction makes once: who acts, a
 * causal route, a transaction pinned to its first account's node
 * (store_tx_reroute). */
#include "store_db.h"
#include "store_noderoute.h"
#include <pthread.h>
#include <stdlib.h>

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
	db->nodes = cfg->db_node_count > 1 ? cfg->db_node_count : 1;
	db->tx_serial = 1;
	db->c = &db->conns[0];
	store_clock(db);
	return db;
}


/* The watchdog's handle: its connects and reads bounded by the health
 * timeout (store_health.c probes through it). */
struct store *store_new_probe(const struct cfg *cfg)
{
	struct store *db = store_new(cfg);
	if (db != NULL)
		db->probe = 1;
	return db;
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

/* ---- The handle's settings ---- */

void store_actor(struct store *db, const char *actor)
{
	db->actor = actor;
}

void store_route_causal(struct store *db, const char *account)
{
	store_route(db, account);
	db->causal = 1;
}

enum cd_err store_tx_reroute(struct store *db, const char *ext_id)
{
	if (db->routed || db->nodes < 2 || !db->c->galera || ext_id == NULL)
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
