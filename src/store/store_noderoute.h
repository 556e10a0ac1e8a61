/* store_noderoute.h: which database node serves an account (docs/scale-out.md,
 * "Scale-out"); the routing is store.c's, beside the connections it picks.
 *
 * With `[database] nodes` naming several nodes of one Galera cluster, each
 * account's writes go to one node, so `SELECT … FOR UPDATE` keeps its
 * meaning (Galera does not lock a row across nodes: two nodes writing one
 * row turn every conflict into a failed commit). The node is chosen by
 * rendezvous hashing: every live node scores hash(account, node) and the
 * highest wins. Every creditd with the same node list picks the same node
 * for an account, and when a node goes down only its accounts move (each
 * to its second-best node), and back when it returns.
 *
 * The live set is process-wide: a lost connection marks a node down at
 * once, and the health watchdog marks it up again once it answers and
 * Galera says it is ready. Nothing here speaks SQL. */
#ifndef CREDITD_NODEROUTE_H
#define CREDITD_NODEROUTE_H
#include <stddef.h>
#include "limits.h"

#define NODEROUTE_MAX LIMIT_DB_NODES

/* Sets the nodes (names such as "10.0.0.5:3306", the same on every
 * instance: a node's score depends on its name, not its place in the
 * list). All start up. Called once, before any thread routes. */
void store_noderoute_init(int n, const char *const names[]);
int store_noderoute_count(void);
/* The live node that serves key (an account's id as the API names it), or
 * for key NULL the one that serves what belongs to no account (API keys,
 * plans, events): the same node on every instance. -1: none is up. */
int store_noderoute_pick(const char *key);
/* Marks a node up (1) or down (0); returns what it was. */
int store_noderoute_set(int node, int up);
int store_noderoute_is_up(int node);
/* Nodes up now. */
int store_noderoute_live(void);
/* How many times the node went down: a connection made before the last
 * time is dead (the node restarted) and is dropped before use, not found
 * dead by a request. */
unsigned store_noderoute_epoch(int node);
#endif
