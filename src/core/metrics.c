/* metrics.c: per-route request counters, latency histograms and the
 * Prometheus text of them.
 *
 * It owns the counters and nothing else: route names come from whoever
 * calls metrics_init (the worker, with the router's list) and the gauges
 * from whoever asks for the text (the /metrics handler), so neither the
 * router, the ledger nor the handlers depend on this module, and it
 * depends on none of them. Counters are relaxed atomics in a static array
 * of LIMIT_METRICS_ROUTES slots, one route's apart from another's: a
 * request adds to three of its route's counters and to no shared one. The
 * text is built in a buffer that grows up to LIMIT_METRICS_TEXT_BYTES and
 * is refused whole past it, never cut. */
#include "metrics.h"
#include "dynbuf.h"
#include "limits.h"
#include "log.h"
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every status creditd answers (the error table's and the handlers'
 * successes), each counted under its own code, in the order printed. A
 * code outside it would be a new answer nobody listed here: it is counted
 * as status="other" so that it still shows, and the unit tests keep the
 * error table inside this one. */
static const int slot_status[] = {200, 201, 204, 304, 400, 401, 402, 403, 404, 405,
				  408, 409, 413, 415, 429, 500, 502, 503};
#define STATUS_SLOTS ((int)(sizeof(slot_status) / sizeof(slot_status[0])))
_Static_assert(STATUS_SLOTS == METRICS_STATUS_SLOTS, "limits.h sizes the text by the statuses counted");

/* The duration histogram's upper bounds, in microseconds and as printed
 * (Prometheus' seconds). An answer takes 0.1 to 3 ms when all is well
 * (README "Performance"); the upper buckets catch the database's stalls up
 * to the health timeout and the body deadline. */
static const unsigned long long bucket_micros[] = {250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
						   100000, 250000, 500000, 1000000, 2500000, 10000000};
static const char *const bucket_le[] = {"0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
					"0.1", "0.25", "0.5", "1", "2.5", "10"};
#define BUCKETS ((int)(sizeof(bucket_micros) / sizeof(bucket_micros[0])))
_Static_assert(BUCKETS == (int)(sizeof(bucket_le) / sizeof(bucket_le[0])), "one printed bound per bucket");
_Static_assert(BUCKETS == METRICS_DURATION_BUCKETS, "limits.h sizes the text by the buckets printed");

struct route_stats {
	atomic_ullong count[STATUS_SLOTS + 1];	/* the last: status="other" */
	atomic_ullong bucket[BUCKETS + 1];	/* each on its own; the last: above every bound */
	atomic_ullong micros_total;		/* handling time */
	atomic_ullong round_trips;
};

static const char *const *route_names;
static size_t route_count;
static struct route_stats stats[LIMIT_METRICS_ROUTES + 1];	/* after the last route: unmatched */

/* The gateway's own counters (docs/gateway.md, "Capacity and operations"):
 * its routes by provider (as registered, metrics_gateway_route), the settles
 * by reason, the time creditd adds before a call goes upstream. */
static struct {
	const char *route, *provider, *label;
} gw_routes[LIMIT_METRICS_ROUTES];
static int gw_routes_counted;
static const char *const gw_reasons[] = {"provider_usage", "client_gone", "estimated", "provider_error"};
#define GW_REASONS ((int)(sizeof(gw_reasons) / sizeof(gw_reasons[0])))
/* Overhead: a hold is a millisecond or two when all is well. */
static const unsigned long long gw_bucket_micros[] = {500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000};
static const char *const gw_bucket_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.1", "1"};
#define GW_BUCKETS ((int)(sizeof(gw_bucket_micros) / sizeof(gw_bucket_micros[0])))
_Static_assert(GW_BUCKETS == (int)(sizeof(gw_bucket_le) / sizeof(gw_bucket_le[0])), "one printed bound per bucket");
static atomic_ullong gw_count[LIMIT_METRICS_ROUTES][STATUS_SLOTS + 1];
static atomic_ullong gw_held_back;
static atomic_ullong gw_over_hold;
static atomic_ullong gw_usage_unknown;
/* Each registered route's gw_routes index, -1 when it is not the
 * gateway's: found once at init, not by name on every request. */
static int gw_of_route[LIMIT_METRICS_ROUTES + 1];
static atomic_ullong gw_settles[GW_REASONS];
/* Calls ended unresolved (docs/gateway.md), and the holds still so as the
 * background thread last counted them (-1: not counted yet). */
static atomic_ullong gw_unresolved_calls;
static atomic_llong gw_unresolved_holds = -1;
/* The providers' tries (docs/gateway.md, "What the answer says"), by provider as registered and by
 * outcome (enum metrics_try's order). */
static const char *const gw_outcomes[] = {"ok", "client_error", "rate_limited", "server_error", "unreachable",
					  "timeout"};
#define GW_OUTCOMES ((int)(sizeof(gw_outcomes) / sizeof(gw_outcomes[0])))
_Static_assert(GW_OUTCOMES == METRICS_TRY_TIMEOUT + 1, "one name per outcome");
static char gw_providers[LIMIT_METRICS_PROVIDERS][LIMIT_CONFIG_NAME_BYTES];
static size_t gw_nproviders;
static atomic_ullong gw_tries[LIMIT_METRICS_PROVIDERS][GW_OUTCOMES];
static atomic_ullong gw_overhead[GW_BUCKETS + 1], gw_overhead_micros;

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
	for (size_t r = 0; r <= LIMIT_METRICS_ROUTES; r++)
		gw_of_route[r] = -1;
	gw_routes_counted = 0;
	return 0;
}

int metrics_gateway_route(const char *route, const char *provider, const char *label)
{
	for (size_t r = 0; r < route_count; r++) {
		if (strcmp(route_names[r], route) != 0)
			continue;
		if (gw_of_route[r] < 0) {
			gw_of_route[r] = gw_routes_counted++;
			gw_routes[gw_of_route[r]].route = route;
		}
		gw_routes[gw_of_route[r]].provider = provider;
		gw_routes[gw_of_route[r]].label = label;
		return 0;
	}
	log_error("metrics: gateway route %s is not a registered route", route);
	return -1;
}

int metrics_gateway_provider(size_t index, const char *name)
{
	if (index != gw_nproviders || index >= LIMIT_METRICS_PROVIDERS) {
		log_error("metrics: provider %s registered out of order or past %d", name, LIMIT_METRICS_PROVIDERS);
		return -1;
	}
	snprintf(gw_providers[gw_nproviders++], LIMIT_CONFIG_NAME_BYTES, "%s", name);
	return 0;
}

void metrics_gateway_try(size_t provider, enum metrics_try outcome)
{
	if (provider < gw_nproviders && (int)outcome >= 0 && (int)outcome < GW_OUTCOMES)
		atomic_fetch_add_explicit(&gw_tries[provider][outcome], 1, memory_order_relaxed);
}

int metrics_gateway_provider_tries(size_t index, const char **name, unsigned long long tries[METRICS_TRY_OUTCOMES])
{
	_Static_assert(METRICS_TRY_OUTCOMES == GW_OUTCOMES, "one count per outcome");
	if (index >= gw_nproviders)
		return 0;
	*name = gw_providers[index];
	for (int o = 0; o < GW_OUTCOMES; o++)
		tries[o] = atomic_load_explicit(&gw_tries[index][o], memory_order_relaxed);
	return 1;
}

const char *metrics_try_name(int o)
{
	return o >= 0 && o < GW_OUTCOMES ? gw_outcomes[o] : "?";
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

static int status_slot(int status)
{
	for (int i = 0; i < STATUS_SLOTS; i++)
		if (slot_status[i] == status)
			return i;
	return STATUS_SLOTS;
}

int metrics_status_known(int status)
{
	return status_slot(status) < STATUS_SLOTS;
}

void metrics_count(const char *route, int status, double duration_ms, unsigned long long round_trips)
{
	size_t r = route_index(route);
	struct route_stats *s = &stats[r];
	unsigned long long micros = duration_ms > 0 ? (unsigned long long)(duration_ms * 1000.0) : 0;
	int b = 0;
	while (b < BUCKETS && micros > bucket_micros[b])
		b++;
	/* The request's cost lands before the request is counted, the count
	 * with release; the text loads counts with acquire and before the
	 * rest (emit_requests comes first). So a scrape that counts a request
	 * also holds its time and round trips: a reader that takes the
	 * difference of round trips between two requests gets one request's
	 * cost, never one short. */
	atomic_fetch_add_explicit(&s->round_trips, round_trips, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->micros_total, micros, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count[status_slot(status)], 1, memory_order_release);
	if (gw_of_route[r] >= 0)
		atomic_fetch_add_explicit(&gw_count[gw_of_route[r]][status_slot(status)], 1, memory_order_relaxed);
}

void metrics_gateway_settle(const char *reason)
{
	for (int i = 0; reason != NULL && i < GW_REASONS; i++)
		if (strcmp(reason, gw_reasons[i]) == 0)
			atomic_fetch_add_explicit(&gw_settles[i], 1, memory_order_relaxed);
}

void metrics_gateway_unresolved(long long n)
{
	atomic_store_explicit(&gw_unresolved_holds, n, memory_order_relaxed);
}

void metrics_gateway_unresolved_call(void)
{
	atomic_fetch_add_explicit(&gw_unresolved_calls, 1, memory_order_relaxed);
}

void metrics_gateway_over_hold(void)
{
	atomic_fetch_add_explicit(&gw_over_hold, 1, memory_order_relaxed);
}

void metrics_gateway_usage_unknown(void)
{
	atomic_fetch_add_explicit(&gw_usage_unknown, 1, memory_order_relaxed);
}

void metrics_gateway_held_back(void)
{
	atomic_fetch_add_explicit(&gw_held_back, 1, memory_order_relaxed);
}

void metrics_gateway_overhead(double ms)
{
	unsigned long long micros = ms > 0 ? (unsigned long long)(ms * 1000.0) : 0;
	int b = 0;
	while (b < GW_BUCKETS && micros > gw_bucket_micros[b])
		b++;
	atomic_fetch_add_explicit(&gw_overhead_micros, micros, memory_order_relaxed);
	atomic_fetch_add_explicit(&gw_overhead[b], 1, memory_order_relaxed);
}

/* ---- The operator's figures (docs/operations.md, "Monitoring") ---- */

static atomic_int workers_alive, workers_busy;
/* Stripe's endpoints as labelled; the last takes any other path. */
static const char *const stripe_endpoints[] = {"customers", "checkout_sessions", "payment_intents", "other"};
#define STRIPE_ENDPOINTS (sizeof(stripe_endpoints) / sizeof(stripe_endpoints[0]))
static atomic_ullong stripe_failures[STRIPE_ENDPOINTS][2];	/* [endpoint][transport] */
static atomic_ullong push_failures, webhook_signature_failures;
/* Alerts by email: mails sent, attempts failed, mails pending as last counted. */
static atomic_ullong mails_sent, mail_failures;
static atomic_llong mails_pending;

void metrics_workers(int alive_delta, int busy_delta)
{
	atomic_fetch_add_explicit(&workers_alive, alive_delta, memory_order_relaxed);
	atomic_fetch_add_explicit(&workers_busy, busy_delta, memory_order_relaxed);
}

void metrics_stripe_failure(const char *path, int transport)
{
	static const char *const prefixes[] = {"/v1/customers", "/v1/checkout/sessions", "/v1/payment_intents"};
	size_t e = STRIPE_ENDPOINTS - 1;
	for (size_t i = 0; path != NULL && i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
			e = i;
	atomic_fetch_add_explicit(&stripe_failures[e][transport != 0], 1, memory_order_relaxed);
}

void metrics_push_failure(void)
{
	atomic_fetch_add_explicit(&push_failures, 1, memory_order_relaxed);
}

void metrics_mail_sent(void)
{
	atomic_fetch_add_explicit(&mails_sent, 1, memory_order_relaxed);
}

void metrics_mail_failure(void)
{
	atomic_fetch_add_explicit(&mail_failures, 1, memory_order_relaxed);
}

void metrics_mail_pending(long long n)
{
	atomic_store_explicit(&mails_pending, n, memory_order_relaxed);
}

void metrics_webhook_signature_failure(void)
{
	atomic_fetch_add_explicit(&webhook_signature_failures, 1, memory_order_relaxed);
}

/* ---- Text ---- */

/* The text grows in a dynbuf capped at LIMIT_METRICS_TEXT_BYTES; a line
 * that does not fit fails the whole text (a 500), never a cut. */

static unsigned long long load(atomic_ullong *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* A label value from configuration (a node's name, the version): its
 * backslashes, quotes and newlines escaped as the format asks. */
static void emit_label_value(struct dynbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			dynbuf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			dynbuf_printf(b, "\\n");
		else
			dynbuf_add(b, v, 1);
	}
}

/* Each route's codes with a count: a code never answered has no line
 * (Prometheus reads a missing series as none yet). */
static void emit_requests(struct dynbuf *b)
{
	dynbuf_printf(b, "# HELP creditd_requests_total Requests answered, by route and status.\n"
		"# TYPE creditd_requests_total counter\n");
	for (size_t r = 0; r <= route_count; r++) {
		for (int i = 0; i <= STATUS_SLOTS; i++) {
			unsigned long long n = atomic_load_explicit(&stats[r].count[i], memory_order_acquire);
			if (n == 0)
				continue;
			if (i < STATUS_SLOTS)
				dynbuf_printf(b, "creditd_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
					      route_label(r), slot_status[i], n);
			else
				dynbuf_printf(b, "creditd_requests_total{route=\"%s\",status=\"other\"} %llu\n",
					      route_label(r), n);
		}
	}
}

/* Prometheus' histogram of each route that answered: cumulative buckets,
 * then +Inf, sum and count; the count is the buckets' own total, so it
 * equals the route's requests once no request is half counted. */
static void emit_durations(struct dynbuf *b)
{
	dynbuf_printf(b, "# HELP creditd_request_duration_seconds Time from a request's start to its answer written, by route.\n"
		"# TYPE creditd_request_duration_seconds histogram\n");
	for (size_t r = 0; r <= route_count; r++) {
		unsigned long long below = 0, each[BUCKETS + 1];
		for (int i = 0; i <= BUCKETS; i++) {
			each[i] = load(&stats[r].bucket[i]);
			below += each[i];
		}
		if (below == 0)
			continue;
		const char *name = route_label(r);
		below = 0;
		for (int i = 0; i < BUCKETS; i++) {
			below += each[i];
			dynbuf_printf(b, "creditd_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n", name,
				      bucket_le[i], below);
		}
		below += each[BUCKETS];
		dynbuf_printf(b, "creditd_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
			      "creditd_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
			      "creditd_request_duration_seconds_count{route=\"%s\"} %llu\n",
			      name, below, name, (double)load(&stats[r].micros_total) / 1e6, name, below);
	}
}

static void emit_totals(struct dynbuf *b)
{
	dynbuf_printf(b, "# HELP creditd_request_seconds_total Time spent answering, by route.\n"
		"# TYPE creditd_request_seconds_total counter\n");
	for (size_t r = 0; r <= route_count; r++)
		dynbuf_printf(b, "creditd_request_seconds_total{route=\"%s\"} %.6f\n", route_label(r),
		     (double)load(&stats[r].micros_total) / 1e6);
	dynbuf_printf(b, "# HELP creditd_db_round_trips_total Database round trips (statements, commits, rollbacks), by route.\n"
		"# TYPE creditd_db_round_trips_total counter\n");
	for (size_t r = 0; r <= route_count; r++)
		dynbuf_printf(b, "creditd_db_round_trips_total{route=\"%s\"} %llu\n", route_label(r),
		     load(&stats[r].round_trips));
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

/* creditd_tx_retries_total: the one transaction loop's attempts run
 * again, a line per reason, 0 included (a reason that never came shows). */
static void emit_tx_retries(struct dynbuf *b, const struct metrics_gauges *g)
{
	assert(g->tx_reason_count <= LIMIT_METRICS_TX_REASONS);
	if (g->tx_reason_count <= 0)
		return;
	dynbuf_printf(b, "# HELP creditd_tx_retries_total Transaction attempts run again by the one transaction loop, by the reason the attempt before ended on (deadlock, moved, due, rollback, node, route, race, schema, triggers, load).\n"
		      "# TYPE creditd_tx_retries_total counter\n");
	for (int i = 0; i < g->tx_reason_count && i < LIMIT_METRICS_TX_REASONS; i++) {
		dynbuf_printf(b, "creditd_tx_retries_total{reason=\"");
		emit_label_value(b, g->tx_reason[i]);
		dynbuf_printf(b, "\"} %llu\n", g->tx_retries[i]);
	}
}

static void emit_purged(struct dynbuf *b, const struct metrics_gauges *g)
{
	if (g->purged == NULL || g->purged_count <= 0)
		return;
	dynbuf_printf(b, "# HELP creditd_purged_rows_total Rows the sweeper deleted by retention since start, per table.\n"
		      "# TYPE creditd_purged_rows_total counter\n");
	for (int i = 0; i < g->purged_count && i < LIMIT_METRICS_PURGE_TABLES; i++) {
		dynbuf_printf(b, "creditd_purged_rows_total{table=\"");
		emit_label_value(b, g->purged[i].table);
		dynbuf_printf(b, "\"} %llu\n", g->purged[i].rows);
	}
}

static void emit_auth(struct dynbuf *b, const struct metrics_auth *a)
{
	if (a == NULL)
		return;
	dynbuf_printf(b, "# HELP creditd_auth_failures_total Authentications refused (an API key unknown, malformed or missing) since start.\n"
		      "# TYPE creditd_auth_failures_total counter\ncreditd_auth_failures_total %llu\n"
		      "# HELP creditd_auth_lookups_total API keys looked up in the database since start.\n"
		      "# TYPE creditd_auth_lookups_total counter\ncreditd_auth_lookups_total %llu\n"
		      "# HELP creditd_auth_throttled_total Requests answered 429 because their address failed authentication too often.\n"
		      "# TYPE creditd_auth_throttled_total counter\ncreditd_auth_throttled_total %llu\n",
		      a->failures, a->lookups, a->throttled);
}

static void emit_gateway(struct dynbuf *b, long long in_flight)
{
	dynbuf_printf(b, "# HELP creditd_gateway_requests_total Gateway calls answered, by provider, route and status.\n"
		      "# TYPE creditd_gateway_requests_total counter\n");
	for (int r = 0; r < gw_routes_counted; r++)
		for (int i = 0; i <= STATUS_SLOTS; i++) {
			unsigned long long n = load(&gw_count[r][i]);
			if (n == 0)
				continue;
			char st[8];
			snprintf(st, sizeof(st), i < STATUS_SLOTS ? "%d" : "other", i < STATUS_SLOTS ? slot_status[i] : 0);
			dynbuf_printf(b, "creditd_gateway_requests_total{provider=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
				      gw_routes[r].provider, gw_routes[r].label, st, n);
		}
	dynbuf_printf(b, "# HELP creditd_gateway_provider_tries_total Tries of a provider by the gateway's calls, by "
		      "provider and outcome (a failure before the first byte falls back to the next provider).\n"
		      "# TYPE creditd_gateway_provider_tries_total counter\n");
	for (size_t p = 0; p < gw_nproviders; p++)
		for (int o = 0; o < GW_OUTCOMES; o++)
			dynbuf_printf(b, "creditd_gateway_provider_tries_total{provider=\"%s\",outcome=\"%s\"} %llu\n",
				      gw_providers[p], gw_outcomes[o], load(&gw_tries[p][o]));
	dynbuf_printf(b, "# HELP creditd_gateway_in_flight Gateway calls in flight.\n"
		      "# TYPE creditd_gateway_in_flight gauge\ncreditd_gateway_in_flight %lld\n", in_flight);
	dynbuf_printf(b, "# HELP creditd_gateway_settles_total Gateway calls ended, by settle reason.\n"
		      "# TYPE creditd_gateway_settles_total counter\n");
	for (int i = 0; i < GW_REASONS; i++)
		dynbuf_printf(b, "creditd_gateway_settles_total{reason=\"%s\"} %llu\n", gw_reasons[i], load(&gw_settles[i]));
	dynbuf_printf(b, "# HELP creditd_gateway_over_hold_total Gateway calls whose usage went beyond what was asked "
		      "(charged as reported, flagged on the usage record).\n# TYPE creditd_gateway_over_hold_total counter\n"
		      "creditd_gateway_over_hold_total %llu\n", load(&gw_over_hold));
	dynbuf_printf(b, "# HELP creditd_gateway_unresolved_total Gateway calls ended with their provider perhaps still "
		      "working (no first byte in time, or the connection lost after the request was sent): 504, their "
		      "hold kept unresolved.\n# TYPE creditd_gateway_unresolved_total counter\n"
		      "creditd_gateway_unresolved_total %llu\n", load(&gw_unresolved_calls));
	long long unresolved = atomic_load_explicit(&gw_unresolved_holds, memory_order_relaxed);
	if (unresolved >= 0)
		dynbuf_printf(b, "# HELP creditd_gateway_unresolved_holds Holds of gateway calls left unresolved "
			      "(creditctl hold resolve), as the background thread last counted them.\n"
			      "# TYPE creditd_gateway_unresolved_holds gauge\ncreditd_gateway_unresolved_holds %lld\n",
			      unresolved);
	dynbuf_printf(b, "# HELP creditd_gateway_usage_unknown_total Gateway calls whose usage named tokens creditd does "
		      "not know (charged at the dearest token price, flagged usage_unknown).\n"
		      "# TYPE creditd_gateway_usage_unknown_total counter\ncreditd_gateway_usage_unknown_total %llu\n",
		      load(&gw_usage_unknown));
	dynbuf_printf(b, "# HELP creditd_gateway_held_back_total Times a call's answer was held back because its client "
		      "took less than was sent.\n# TYPE creditd_gateway_held_back_total counter\n"
		      "creditd_gateway_held_back_total %llu\n", load(&gw_held_back));
	dynbuf_printf(b, "# HELP creditd_gateway_overhead_seconds Time creditd adds to a gateway call before it goes upstream.\n"
		      "# TYPE creditd_gateway_overhead_seconds histogram\n");
	unsigned long long below = 0;
	for (int i = 0; i <= GW_BUCKETS; i++) {
		below += load(&gw_overhead[i]);
		dynbuf_printf(b, "creditd_gateway_overhead_seconds_bucket{le=\"%s\"} %llu\n",
			      i < GW_BUCKETS ? gw_bucket_le[i] : "+Inf", below);
	}
	dynbuf_printf(b, "creditd_gateway_overhead_seconds_sum %.6f\ncreditd_gateway_overhead_seconds_count %llu\n",
		      (double)load(&gw_overhead_micros) / 1e6, below);
}

static void emit_gauges(struct dynbuf *b, const struct metrics_gauges *g)
{
	if (g->gateway_in_flight >= 0)
		emit_gateway(b, g->gateway_in_flight);
	if (g->nodes != NULL) {
		dynbuf_printf(b, "# HELP creditd_db_up Whether the health watchdog's last probe of the database node answered (1) or not (0).\n"
			      "# TYPE creditd_db_up gauge\n");
		for (int i = 0; i < g->node_count && i < LIMIT_DB_NODES; i++) {
			if (g->nodes[i].up < 0)
				continue;
			dynbuf_printf(b, "creditd_db_up{node=\"");
			emit_label_value(b, g->nodes[i].name);
			dynbuf_printf(b, "\"} %d\n", g->nodes[i].up ? 1 : 0);
		}
	}
	if (g->outbox_pending >= 0)
		dynbuf_printf(b, "# HELP creditd_outbox_pending Events not delivered yet (state pending), as the background thread last counted them.\n"
			      "# TYPE creditd_outbox_pending gauge\ncreditd_outbox_pending %lld\n", g->outbox_pending);
	emit_purged(b, g);
	emit_auth(b, g->auth);
	if (g->kept != NULL)
		dynbuf_printf(b, "# HELP creditd_guard_rows_kept_total Guard batches by how their rows came: kept in memory from the last write (filled), read (read), or kept but refused at the write because a row had moved (moved).\n"
			      "# TYPE creditd_guard_rows_kept_total counter\n"
			      "creditd_guard_rows_kept_total{outcome=\"filled\"} %llu\n"
			      "creditd_guard_rows_kept_total{outcome=\"read\"} %llu\n"
			      "creditd_guard_rows_kept_total{outcome=\"moved\"} %llu\n",
			      g->kept->filled, g->kept->read, g->kept->refused);
	if (g->guard_brought_due != NULL)
		dynbuf_printf(b, "# HELP creditd_guard_brought_due_total Accounts a guard batch's read found with an expiry or a plan's credit due, brought due each in a transaction of its own before the batch read them again.\n"
			      "# TYPE creditd_guard_brought_due_total counter\ncreditd_guard_brought_due_total %llu\n",
			      *g->guard_brought_due);
	if (g->price_miss_reloads != NULL)
		dynbuf_printf(b, "# HELP creditd_price_miss_reloads_total Price reloads asked for by a request that named a model or action the price cache did not know, since start.\n"
			      "# TYPE creditd_price_miss_reloads_total counter\ncreditd_price_miss_reloads_total %llu\n",
			      *g->price_miss_reloads);
	emit_tx_retries(b, g);
	if (g->version != NULL) {
		dynbuf_printf(b, "# HELP creditd_build_info The running creditd's version.\n"
			      "# TYPE creditd_build_info gauge\ncreditd_build_info{version=\"");
		emit_label_value(b, g->version);
		dynbuf_printf(b, "\"} 1\n");
	}
}

static void emit_operator(struct dynbuf *b)
{
	dynbuf_printf(b, "# HELP creditd_workers Worker threads answering requests (a full pool queues the next ones).\n"
		      "# TYPE creditd_workers gauge\ncreditd_workers %d\n"
		      "# HELP creditd_workers_busy Worker threads answering a request now, other than the scrape's.\n"
		      "# TYPE creditd_workers_busy gauge\ncreditd_workers_busy %d\n",
		      atomic_load_explicit(&workers_alive, memory_order_relaxed),
		      atomic_load_explicit(&workers_busy, memory_order_relaxed));
	dynbuf_printf(b, "# HELP creditd_stripe_failures_total Calls to Stripe's API that failed, by endpoint and kind: "
		      "no answer (transport) or an error answer (api).\n# TYPE creditd_stripe_failures_total counter\n");
	for (size_t e = 0; e < STRIPE_ENDPOINTS; e++)
		for (int t = 1; t >= 0; t--)
			dynbuf_printf(b, "creditd_stripe_failures_total{endpoint=\"%s\",kind=\"%s\"} %llu\n",
				      stripe_endpoints[e], t ? "transport" : "api", load(&stripe_failures[e][t]));
	dynbuf_printf(b, "# HELP creditd_event_push_failures_total Event pushes to [notify] url that failed (no answer, "
		      "or not 2xx); each is tried again.\n# TYPE creditd_event_push_failures_total counter\n"
		      "creditd_event_push_failures_total %llu\n"
		      "# HELP creditd_webhook_signature_failures_total Stripe webhooks refused for their signature.\n"
		      "# TYPE creditd_webhook_signature_failures_total counter\n"
		      "creditd_webhook_signature_failures_total %llu\n",
		      load(&push_failures), load(&webhook_signature_failures));
	dynbuf_printf(b, "# HELP creditd_mail_sent_total Alert mails the SMTP server of [email] took.\n"
		      "# TYPE creditd_mail_sent_total counter\ncreditd_mail_sent_total %llu\n"
		      "# HELP creditd_mail_failures_total Alert mails the SMTP server did not take (no answer, "
		      "or refused); each is tried again.\n# TYPE creditd_mail_failures_total counter\n"
		      "creditd_mail_failures_total %llu\n"
		      "# HELP creditd_mail_pending Alert mails not sent yet, as the background thread last counted them.\n"
		      "# TYPE creditd_mail_pending gauge\ncreditd_mail_pending %lld\n",
		      load(&mails_sent), load(&mail_failures),
		      (long long)atomic_load_explicit(&mails_pending, memory_order_relaxed));
}

char *metrics_text(const struct metrics_gauges *g)
{
	struct dynbuf b;
	dynbuf_init(&b, LIMIT_METRICS_TEXT_BYTES);
	emit_requests(&b);
	emit_durations(&b);
	emit_totals(&b);
	emit_operator(&b);
	if (g != NULL && g->batch != NULL)
		emit_histogram(&b, g->batch);
	if (g != NULL)
		emit_gauges(&b, g);
	if (b.failed)
		log_error("metrics: the text passes its cap of %d bytes, or memory ran out", LIMIT_METRICS_TEXT_BYTES);
	return dynbuf_take(&b);
}
