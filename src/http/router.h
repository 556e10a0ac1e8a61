/* router.h: maps a request to its route, checks the key's scope and runs
 * the handler. Counting answers is the worker's business (metrics.h); the
 * router only names the route and lists the names. */
#ifndef CREDITD_ROUTER_H
#define CREDITD_ROUTER_H
#include <stddef.h>
#include "api.h"

/* Answers rq into rs. Route name (static) for the log line via *route,
 * NULL when no route took the request. */
void router_dispatch(struct api_ctx *ctx, const struct request *rq, struct response *rs, const char **route);
/* Puts the first cap route names, in table order, into names and returns
 * how many routes there are. The names are static strings. */
size_t router_route_names(const char **names, size_t cap);

/* One route as the docs name it: method, pattern ('*' for a segment the
 * handler takes), name, and who may call it in the docs' words ("no key",
 * "read", "app", "admin", "guard", "browser token", "Stripe signature",
 * "guard or gateway key"). Static strings. */
struct router_doc {
	const char *method, *pattern, *name, *scope;
};
/* The number of routes; fills d for route i, in table order, when i is
 * below it. */
size_t router_describe(size_t i, struct router_doc *d);
#endif
