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
#endif
