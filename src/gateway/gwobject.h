/* gwobject.h: what an object route (docs/gateway.md, "Provider objects")
 * sends upstream: the object's id checked, the query's parameters
 * checked against the route's list (gwkind_route.query) and encoded
 * again, and the provider's path built from them. Pure: no I/O, no
 * ledger, no clock; who may reach the object is the ledger's record,
 * asked by the handler (api_gwobjects.c). */
#ifndef CREDITD_GWOBJECT_H
#define CREDITD_GWOBJECT_H
#include <stddef.h>
#include "gwkind.h"

/* 1 when id may name an object creditd kept: valid UTF-8 text without
 * control characters, shorter than LIMIT_GATEWAY_RESPONSE_ID_BYTES. A
 * query's text values are held to the same. */
int gwobject_id_ok(const char *id);
/* The query sent upstream for route r from the client's raw query
 * string ("" or NULL: none), into out (cap bytes): each "name=value"
 * pair's decoded name one of r->query's and its value of that
 * parameter's type and not its refused one, each encoded again
 * (urlpath_encode), joined by "&"; "" when none. 0, or -1 with the
 * parameter to name in param (pcap bytes; "" when the query as a whole)
 * and a sentence in err. */
int gwobject_query(const struct gwkind_route *r, const char *raw, char *out, size_t cap, char *param, size_t pcap,
		   char *err, size_t errcap);
/* The provider's path of route r for object id with query (""): r's
 * upstream with its '*' the id percent-encoded, then "?query" when there
 * is one, into out (cap bytes). 0, or -1 when it does not fit. */
int gwobject_path(const struct gwkind_route *r, const char *id, const char *query, char *out, size_t cap);
#endif
