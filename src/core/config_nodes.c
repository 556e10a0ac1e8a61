/* config_nodes.c: [database] nodes read into struct cfg's db_node list
 * (docs/configuration.md): each "host:port" (an IPv6 host in brackets),
 * at most LIMIT_DB_NODES, none twice; without the key, the one node of
 * [database] host and port. Apart from config.c, whose finish calls it. */
#include "config.h"
#include "config_nodes.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* One "host:port" of database.nodes ("[::1]:3306" for IPv6). */
static int parse_node(const char *item, size_t len, struct cfg_node *n)
{
	const char *colon = NULL;
	if (len == 0 || len >= sizeof(n->name))
		return -1;
	memcpy(n->name, item, len);
	n->name[len] = '\0';
	for (size_t i = len; i-- > 0;)
		if (item[i] == ':') {
			colon = item + i;
			break;
		}
	if (colon == NULL || colon == item || colon[1] == '\0')
		return -1;
	const char *host = item, *host_end = colon;
	if (item[0] == '[') {
		if (colon[-1] != ']' || colon - item < 3)
			return -1;
		host = item + 1;
		host_end = colon - 1;
	}
	for (const char *p = host; p < host_end; p++)
		if (isspace((unsigned char)*p) || *p == '[' || *p == ']' || (*p == ':' && item[0] != '['))
			return -1;
	long port = 0;
	for (const char *p = colon + 1; p < item + len; p++) {
		if (!isdigit((unsigned char)*p) || port > 65535)
			return -1;
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return -1;
	memcpy(n->host, host, (size_t)(host_end - host));
	n->host[host_end - host] = '\0';
	n->port = (int)port;
	return 0;
}

int config_nodes_split(struct cfg *c, char *err, size_t errcap)
{
	c->db_node_count = 0;
	if (c->db_nodes[0] == '\0') {
		struct cfg_node *n = &c->db_node[0];
		n->port = (int)c->db_port;
		if (snprintf(n->host, sizeof(n->host), "%s", c->db_host) >= (int)sizeof(n->host) ||
		    snprintf(n->name, sizeof(n->name), "%s:%d", c->db_host, n->port) >= (int)sizeof(n->name))
			return config_fail(err, errcap, "database.host is longer than %d bytes",
					   LIMIT_DB_NODE_BYTES - 8);
		c->db_node_count = 1;
		return 0;
	}
	const char *p = c->db_nodes;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;		/* "a:1, b:2, ": the last comma ends the list */
		size_t len = strcspn(p, ",");
		size_t trimmed = len;
		while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
			trimmed--;
		if (c->db_node_count == LIMIT_DB_NODES)
			return config_fail(err, errcap, "database.nodes names more than %d nodes", LIMIT_DB_NODES);
		if (parse_node(p, trimmed, &c->db_node[c->db_node_count]) != 0)
			return config_fail(err, errcap, "database.nodes: '%.*s' is not host:port", (int)trimmed, p);
		for (int i = 0; i < c->db_node_count; i++)
			if (strcmp(c->db_node[i].name, c->db_node[c->db_node_count].name) == 0)
				return config_fail(err, errcap, "database.nodes names %s twice", c->db_node[i].name);
		c->db_node_count++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (c->db_node_count == 0)
		return config_fail(err, errcap, "database.nodes: no node named");
	return 0;
}
