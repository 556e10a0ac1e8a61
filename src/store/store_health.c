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

struct store *store_new_probe(const struct cfg *cfg)
{
	struct store *lg = store_new(cfg);
	if (lg != NULL)
		lg->probe = 1;
	return lg;
}

/* One node: answering (and, of several, ready)? */
static int probe_node(struct store *lg, int several)
{
	lg->connect_errno = 0;
	lg->errmsg[0] = '\0';
	if (store_ensure(lg) != CD_OK && lg->connect_errno == ER_CON_COUNT_ERROR) {
		/* The server answered, with no connection to spare for the
		 * watchdog: the workers' own connections still work. */
		return 1;
	}
	if (!lg->c->connected)
		return 0;
	if (several && lg->c->galera)
		return store_node_ready(lg);
	lg->round_trips++;
	if (mysql_ping(lg->c->db) == 0)
		return 1;
	snprintf(lg->errmsg, sizeof(lg->errmsg), "ping: %s", mysql_error(lg->c->db));
	store_disconnect(lg);
	return 0;
}

enum store_health store_health_probe(struct store *lg)
{
	int n = store_node_count(lg), live = 0;
	for (int i = 0; i < n; i++) {
		store_use_node(lg, i);
		int up = probe_node(lg, n > 1);
		live += up;
		if (i < LIMIT_DB_NODES)
			atomic_store(&node_health[i], up ? STORE_HEALTH_UP : STORE_HEALTH_DOWN);
		if (n > 1 && store_noderoute_set(i, up) != up) {
			if (up)
				log_info("database node %s: up", lg->cfg->db_node[i].name);
			else
				log_warn("database node %s: down (%s)", lg->cfg->db_node[i].name,
					 lg->errmsg[0] ? lg->errmsg : "no answer");
		}
	}
	enum store_health h = live > 0 ? STORE_HEALTH_UP : STORE_HEALTH_DOWN;
	int before = atomic_exchange(&health_state, (int)h);
	if (before != (int)h && h == STORE_HEALTH_DOWN)
		log_warn("database health: down (%s)", lg->errmsg[0] ? lg->errmsg : "ping failed");
	else if (before != (int)h)
		log_info("database health: up");
	return h;
}

enum cd_err store_ping(struct store *lg)
{
	/* Of several nodes, the first that is up and answers. */
	for (int i = 0; store_node_count(lg) > 1 && i < store_node_count(lg); i++) {
		if (!store_noderoute_is_up(i))
			continue;
		store_use_node(lg, i);
		if (store_ensure(lg) == CD_OK)
			return CD_OK;
	}
	enum cd_err rc = store_ensure(lg);
	if (rc != CD_OK)
		return rc;
	lg->round_trips++;
	if (mysql_ping(lg->c->db) != 0) {
		store_disconnect(lg);
		rc = store_ensure(lg);
	}
	return rc;
}
