/* router.h: maps a request to its route, checks the key's scope and runs
 * the handler. Also keeps the per-route counters /metrics prints. */
#ifndef CREDITD_ROUTER_H
#define CREDITD_ROUTER_H
#include "api.h"

/* Answers rq into rs. Route name (static) for the log line via *route. */
void router_dispatch(struct api_ctx *ctx, const struct request *rq, struct response *rs, const char **route);
/* Adds one request's figures to its route's counters. */
void router_count(const char *route, int status, double duration_ms, unsigned long long round_trips);
/* Prometheus text for /metrics; caller frees. */
char *router_metrics_text(void);
#endif
