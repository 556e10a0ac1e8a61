/* metrics.c: per-route request counters and the Prometheus text of them.
 *
 * It owns the counters and nothing else: route names come from whoever
 * calls metrics_init (the worker, with the router's list), so neither the
 * router nor the handlers depend on this module's text, and it depends on
 * neither. Counters are atomics in a static array of LIMIT_METRICS_ROUTES
 * slots; the text is built in a buffer that grows up to
 * LIMIT_METRICS_TEXT_BYTES and is refused whole past it, never cut. */
#include "metrics.h"
#include "dynbuf.h"
#include "limits.h"
#include "log.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statuses counted one by one, in the order they are printed. */
#define STATUS_SLOTS 7
static const int slot_status[STATUS_SLOTS] = {200, 201, 400, 401, 403, 404, 409};
/* First size of the text buffer: the whole text today is about 16 KiB. */

struct route_stats {
	atomic_ullong count[STATUS_SLOTS];
	atomic_ullong refused;		/* 402 and 429 */
	atomic_ullong other;		/* 413, 5xx and the rest */
	atomic_ullong micros_total;	/* handling time */
	atomic_ullong round_trips;
};

static const char *const *route_names;
static size_t route_count;
static struct route_stats stats[LIMIT_METRICS_ROUTES + 1];	/* after the last route: unmatched */

int metrics_init(const char *const *names, size_t n)
{
	if (n > LIMIT_METRICS_ROUTES) {
		log_error("metrics: %zu routes, at most %d are counted", n, LIMIT_METRICS_ROUTES);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = names[i] != NULL ? strlen(names[i]) : 0;
		if (len == 0 || len > LIMIT_METRICS_ROUTE_NAME_BYTES) {
			log_error("metrics: route %zu needs a name of 1 to %d bytes", i, LIMIT_METRICS_ROUTE_NAME_BYTES);
			return -1;
		}
	}
	route_names = names;
	route_count = n;
	return 0;
}

static size_t route_index(const char *name)
{
	for (size_t i = 0; name != NULL && i < route_count; i++)
		if (strcmp(route_names[i], name) == 0)
			return i;
	return route_count;
}

static const char *route_label(size_t r)
{
	return r < route_count ? route_names[r] : "unmatched";
}

void metrics_count(const char *route, int status, double duration_ms, unsigned long long round_trips)
{
	struct route_stats *s = &stats[route_index(route)];
	int slot = -1;
	for (int i = 0; i < STATUS_SLOTS; i++)
		if (slot_status[i] == status)
			slot = i;
	if (slot >= 0)
		atomic_fetch_add(&s->count[slot], 1);
	else if (status == 402 || status == 429)
		atomic_fetch_add(&s->refused, 1);
	else
		atomic_fetch_add(&s->other, 1);
	atomic_fetch_add(&s->micros_total, (unsigned long long)(duration_ms * 1000.0));
	atomic_fetch_add(&s->round_trips, round_trips);
}

/* ---- Text ---- */

/* The text grows in a dynbuf capped at LIMIT_METRICS_TEXT_BYTES; a line
 * that does not fit fails the whole text (a 500), never a cut. */

static void emit_requests(struct dynbuf *b)
{
	dynbuf_printf(b, "# HELP creditd_requests_total Requests answered, by route and status.\n"
		"# TYPE creditd_requests_total counter\n");
	for (size_t r = 0; r <= route_count; r++) {
		const char *name = route_label(r);
		for (int i = 0; i < STATUS_SLOTS; i++)
			dynbuf_printf(b, "creditd_requests_total{route=\"%s\",status=\"%d\"} %llu\n", name, slot_status[i],
			     (unsigned long long)atomic_load(&stats[r].count[i]));
		dynbuf_printf(b, "creditd_requests_total{route=\"%s\",status=\"refused\"} %llu\n", name,
		     (unsigned long long)atomic_load(&stats[r].refused));
		dynbuf_printf(b, "creditd_requests_total{route=\"%s\",status=\"other\"} %llu\n", name,
		     (unsigned long long)atomic_load(&stats[r].other));
	}
}

static void emit_totals(struct dynbuf *b)
{
	dynbuf_printf(b, "# HELP creditd_request_seconds_total Time spent answering, by route.\n"
		"# TYPE creditd_request_seconds_total counter\n");
	for (size_t r = 0; r <= route_count; r++)
		dynbuf_printf(b, "creditd_request_seconds_total{route=\"%s\"} %.6f\n", route_label(r),
		     (double)atomic_load(&stats[r].micros_total) / 1e6);
	dynbuf_printf(b, "# HELP creditd_db_round_trips_total Database round trips (statements, commits, rollbacks), by route.\n"
		"# TYPE creditd_db_round_trips_total counter\n");
	for (size_t r = 0; r <= route_count; r++)
		dynbuf_printf(b, "creditd_db_round_trips_total{route=\"%s\"} %llu\n", route_label(r),
		     (unsigned long long)atomic_load(&stats[r].round_trips));
}

/* Prometheus' histogram: cumulative buckets, then +Inf, sum and count. */
static void emit_histogram(struct dynbuf *b, const struct metrics_histogram *h)
{
	unsigned long long below = 0;
	dynbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
	for (int i = 0; i < h->n; i++) {
		below += h->counts[i];
		dynbuf_printf(b, "%s_bucket{le=\"%d\"} %llu\n", h->name, h->le[i], below);
	}
	dynbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %llu\n%s_count %llu\n", h->name, h->count, h->name,
		      h->sum, h->name, h->count);
}

char *metrics_text(const struct metrics_histogram *h)
{
	struct dynbuf b;
	dynbuf_init(&b, LIMIT_METRICS_TEXT_BYTES);
	emit_requests(&b);
	emit_totals(&b);
	if (h != NULL)
		emit_histogram(&b, h);
	if (b.failed)
		log_error("metrics: the text passes its cap of %d bytes, or memory ran out", LIMIT_METRICS_TEXT_BYTES);
	return dynbuf_take(&b);
}
