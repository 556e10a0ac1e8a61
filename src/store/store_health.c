/* store_health.c: the database's health (store.h): what the watchdog's
 * probe saw last, in all and per node, for /healthz, creditd_db_up and
 * the transactions refused at once while it says down (a node of
 * several up when it answers and, under Galera, is ready); a connection
 * pinged back (store_ping). Apart from store.c, whose connections it
 * probes; nothing there calls it. */
#include "store_db.h"
#include "log.h"
#include "store_noderoute.h"
#include <mysqld_error.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* What the watchdog saw last, for every thread: /healthz answers from it,
 * and while it says down, transactions are refused at once instead of
 * each waiting out a timeout on a stalled server. */
static atomic_int health_state = STORE_HEALTH_UNKNOWN;

/* And per node (the config's order), for creditd_db_up. */
static atomic_int node_health[LIMIT_DB_NODES];

enum store_health store_health(void)
{
	return (enum store_health)atomic_load(&health_state);
}

enum store_health store_node_health(int node)
{
	if (node < 0 || node >= LIMIT_DB_NODES)
		return STORE_HEALTH_UNKNOWN;
	return (enum store_health)atomic_load(&node_health[node]);
}

/* One node: answering (and, of several, ready)? */
static int probe_node(struct store *db, int several)
{
	db->connect_errno = 0;
	db->errmsg[0] = '\0';
	if (store_ensure(db) != CD_OK && db->connect_errno == ER_CON_COUNT_ERROR) {
		/* The server answered, with no connection to spare for the
		 * watchdog: the workers' own connections still work. */
		return 1;
	}
	if (!db->c->connected)
		return 0;
	if (several && db->c->galera)
		return store_node_ready(db);
	db->round_trips++;
	if (mysql_ping(db->c->db) == 0)
		return 1;
	snprintf(db->errmsg, sizeof(db->errmsg), "ping: %s", mysql_error(db->c->db));
	store_disconnect(db);
	return 0;
}

enum store_health store_health_probe(struct store *db)
{
	int n = store_node_count(db), live = 0;
	for (int i = 0; i < n; i++) {
		store_use_node(db, i);
		int up = probe_node(db, n > 1);
		live += up;
		if (i < LIMIT_DB_NODES)
			atomic_store(&node_health[i], up ? STORE_HEALTH_UP : STORE_HEALTH_DOWN);
		if (n > 1 && store_noderoute_set(i, up) != up) {
			if (up)
				log_info("database node %s: up", db->cfg->db_node[i].name);
			else
				log_warn("database node %s: down (%s)", db->cfg->db_node[i].name,
					 db->errmsg[0] ? db->errmsg : "no answer");
		}
	}
	enum store_health h = live > 0 ? STORE_HEALTH_UP : STORE_HEALTH_DOWN;
	int before = atomic_exchange(&health_state, (int)h);
	if (before != (int)h && h == STORE_HEALTH_DOWN)
		log_warn("database health: down (%s)", db->errmsg[0] ? db->errmsg : "ping failed");
	else if (before != (int)h)
		log_info("database health: up");
	return h;
}

enum cd_err store_ping(struct store *db)
{
	/* Of several nodes, the first that is up and answers. */
	for (int i = 0; store_node_count(db) > 1 && i < store_node_count(db); i++) {
		if (!store_noderoute_is_up(i))
			continue;
		store_use_node(db, i);
		if (store_ensure(db) == CD_OK)
			return CD_OK;
	}
	enum cd_err rc = store_ensure(db);
	if (rc != CD_OK)
		return rc;
	db->round_trips++;
	if (mysql_ping(db->c->db) != 0) {
		store_disconnect(db);
		rc = store_ensure(db);
	}
	return rc;
}
