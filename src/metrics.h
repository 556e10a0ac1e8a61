/* metrics.h: per-route request counters and their Prometheus text.
 *
 * The route names are registered from outside (the worker passes the
 * router's list once at start-up), so this module knows nothing of the
 * router or the handlers and any of them may call it. Counting is
 * lock-free and safe from every worker thread. */
#ifndef CREDITD_METRICS_H
#define CREDITD_METRICS_H
#include <stddef.h>

/* Registers the routes to count, in the order /metrics prints them; a
 * request of no route is counted as "unmatched". Call once, before any
 * thread counts. The names are not copied: they must live as long as the
 * process (string literals). Returns 0, or -1 (logged) when there are
 * more than LIMIT_METRICS_ROUTES names or one is empty or longer than
 * LIMIT_METRICS_ROUTE_NAME_BYTES; nothing is registered then. */
int metrics_init(const char *const *route_names, size_t n);
/* Adds one answered request to route's counters (NULL or a name not
 * registered: "unmatched"). Any thread, any time. */
void metrics_count(const char *route, int status, double duration_ms, unsigned long long round_trips);
/* A histogram kept elsewhere (group commit's batch sizes), handed in
 * when the text is made: counts[i] observations up to le[i] (each bucket
 * on its own, not cumulative), total observations `count`, their sum. */
struct metrics_histogram {
	const char *name, *help;
	int n;
	const int *le;
	const unsigned long long *counts;
	unsigned long long count, sum;
};
/* The Prometheus text of every counter, and of h when not NULL,
 * NUL-terminated, in a buffer the caller frees with free(). NULL (logged)
 * when memory runs out or the text would pass LIMIT_METRICS_TEXT_BYTES. */
char *metrics_text(const struct metrics_histogram *h);
#endif
