/* config_nodes.h: what config.c takes from config_nodes.c. */
#ifndef CREDITD_CONFIG_NODES_H
#define CREDITD_CONFIG_NODES_H
#include <stddef.h>

struct cfg;

/* c's db_node list (and db_node_count) from database.nodes, or from host
 * and port when it is empty. 0, or -1 with the reason in err. */
int config_nodes_split(struct cfg *c, char *err, size_t errcap);
#endif
