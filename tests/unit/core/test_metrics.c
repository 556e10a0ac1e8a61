/* test_metrics.c: route names are registered from outside and checked,
 * each answer lands in the counter of its exact status and in its route's
 * duration histogram, the gauges handed in are printed (escaped), and the
 * text keeps the exact lines Prometheus and the integration tests read. */
#include "metrics.h"
#include "errors.h"
#include "limits.h"
#include "tap.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, line, n) == 0 && p[n] == '\n')
			return 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

static void test_init(void)
{
	static const char *too_many[LIMIT_METRICS_ROUTES + 1];
	for (size_t i = 0; i <= LIMIT_METRICS_ROUTES; i++)
		too_many[i] = "r";
	is_int(metrics_init(too_many, LIMIT_METRICS_ROUTES + 1), -1, "more routes than the limit refused");
	is_int(metrics_init(too_many, LIMIT_METRICS_ROUTES), 0, "as many routes as the limit accepted");
	static const char *empty[] = {"a", ""};
	is_int(metrics_init(empty, 2), -1, "an empty name refused");
	static const char *null_name[] = {NULL};
	is_int(metrics_init(null_name, 1), -1, "a NULL name refused");
	char long_name[LIMIT_METRICS_ROUTE_NAME_BYTES + 2];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const char *too_long[] = {long_name};
	is_int(metrics_init(too_long, 1), -1, "a name over the limit refused");
	long_name[LIMIT_METRICS_ROUTE_NAME_BYTES] = '\0';
	is_int(metrics_init(too_long, 1), 0, "a name at the limit accepted");
}

static unsigned long long line_value(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return ~0ULL;
}

static int grant_cumulative(const char *text)
{
	unsigned long long prev = 0;
	static const char *const les[] = {"0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
					  "0.1", "0.25", "0.5", "1", "2.5", "10", "+Inf"};
	int cumulative = 1;
	for (size_t i = 0; i < sizeof(les) / sizeof(les[0]); i++) {
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "creditd_request_duration_seconds_bucket{route=\"grant\",le=\"%s\"}", les[i]);
		unsigned long long v = line_value(text, prefix);
		cumulative = cumulative && v != ~0ULL && v >= prev;
		prev = v;
	}
	return cumulative;
}

static void check_gauges(const char *text)
{
	ok(has_line(text, "# TYPE creditd_db_up gauge"), "db_up's type");
	ok(has_line(text, "creditd_db_up{node=\"db1:3306\"} 1"), "a node up");
	ok(has_line(text, "creditd_db_up{node=\"db\\\"2:3306\"} 0"), "a node down, its name escaped");
	ok(strstr(text, "db3:3306") == NULL, "a node not probed yet: no line");
	ok(has_line(text, "# TYPE creditd_outbox_pending gauge"), "outbox's type");
	ok(has_line(text, "creditd_outbox_pending 42"), "outbox pending");
	ok(has_line(text, "creditd_build_info{version=\"1.2.3\"} 1"), "build info");
}

static void check_batch_and_totals(const char *text)
{
	ok(has_line(text, "# TYPE creditd_guard_batch_size histogram"), "the histogram says its type");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"1\"} 5"), "bucket 1 counts its own");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"2\"} 5"), "buckets are cumulative (empty one)");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"4\"} 7"), "buckets are cumulative");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"+Inf\"} 7"), "+Inf is the count");
	ok(has_line(text, "creditd_guard_batch_size_sum 12"), "sum of sizes");
	ok(has_line(text, "creditd_guard_batch_size_count 7"), "count of batches");
	ok(has_line(text, "# TYPE creditd_request_seconds_total counter"), "seconds TYPE line");
	ok(has_line(text, "creditd_request_seconds_total{route=\"healthz\"} 0.002000"), "healthz seconds summed");
	ok(has_line(text, "creditd_request_seconds_total{route=\"unmatched\"} 0.000750"), "unmatched seconds summed");
	ok(has_line(text, "# TYPE creditd_db_round_trips_total counter"), "round trips TYPE line");
	ok(has_line(text, "creditd_db_round_trips_total{route=\"grant\"} 7"), "grant round trips summed");
	ok(has_line(text, "creditd_db_round_trips_total{route=\"healthz\"} 0"), "healthz round trips zero");
}

static void test_text(void)
{
	/* A gateway route is counted as the gateway's too once registered. */
	static const char *const names[] = {"healthz", "grant", "gw_openai_chat"};
	is_int(metrics_init(names, 3), 0, "three routes registered");
	is_int(metrics_gateway_route("gw_openai_chat", "openai", "chat_completions"), 0, "a gateway route registered");
	is_int(metrics_gateway_route("gw_nowhere", "openai", "x"), -1, "a gateway route must be a registered route");
	metrics_count("healthz", 200, 1.5, 0);
	metrics_count("healthz", 200, 0.5, 0);
	metrics_count("gw_openai_chat", 402, 0, 1);
	metrics_count("grant", 201, 2.0, 3);
	metrics_count("grant", 402, 1.0, 2);
	metrics_count("grant", 429, 1.0, 0);
	metrics_count("grant", 503, 1.0, 1);
	metrics_count("grant", 413, 30000.0, 0);
	metrics_count("grant", 415, 0.1, 0);
	metrics_count("grant", 409, 1.0, 1);
	metrics_count(NULL, 404, 0.25, 0);
	metrics_count("no_such_route", 405, 0.25, 0);
	metrics_count("no_such_route", 299, 0.25, 0);
	static const int le[] = {1, 2, 4};
	static const unsigned long long counts[] = {5, 0, 2};
	struct metrics_histogram h = {"creditd_guard_batch_size", "Ops per batch.", 3, le, counts, 7, 12};
	struct metrics_node nodes[] = {{"db1:3306", 1}, {"db\"2:3306", 0}, {"db3:3306", -1}};
	struct metrics_purged purged[] = {{"idempotency_keys", 7}, {"holds", 2500}};
	struct metrics_auth auth = {31, 30, 170};
	struct metrics_kept kept = {900, 41, 3};
	unsigned long long brought_due = 12;
	unsigned long long miss_reloads = 5;
	static const char *const reasons[] = {"deadlock", "moved", "due", "rollback"};
	static const unsigned long long retried[] = {5, 0, 2, 1};
	struct metrics_gauges g = {&h, nodes, 3, 42, "1.2.3", purged, 2, &auth, &kept, 3, &brought_due, &miss_reloads, reasons, retried, 4};
	metrics_gateway_settle("client_gone");
	metrics_gateway_settle("no_such_reason");
	metrics_gateway_overhead(1.2);
	char *text = metrics_text(&g);
	if (!ok(text != NULL, "text built"))
		return;
	static const char head[] = "# HELP creditd_requests_total Requests answered, by route and status.\n"
				   "# TYPE creditd_requests_total counter\n";
	ok(strncmp(text, head, sizeof(head) - 1) == 0, "text opens with the requests HELP and TYPE");
	ok(has_line(text, "creditd_requests_total{route=\"healthz\",status=\"200\"} 2"), "healthz 200 counted twice");
	ok(strstr(text, "route=\"healthz\",status=\"201\"") == NULL, "a code never answered has no line");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"201\"} 1"), "grant 201 counted");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"409\"} 1"), "grant 409 counted");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"402\"} 1"), "402 on its own");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"429\"} 1"), "429 on its own");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"503\"} 1"), "503 on its own");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"413\"} 1"), "413 on its own");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"415\"} 1"), "415 on its own");
	ok(strstr(text, "route=\"grant\",status=\"other\"") == NULL, "nothing of grant's is other");
	ok(strstr(text, "\"refused\"") == NULL, "no status is lumped as refused");
	ok(has_line(text, "creditd_requests_total{route=\"unmatched\",status=\"404\"} 1"), "no route: unmatched");
	ok(has_line(text, "creditd_gateway_in_flight 3"), "the gateway's calls in flight");
	ok(has_line(text, "creditd_gateway_requests_total{provider=\"openai\",route=\"chat_completions\",status=\"402\"} 1"),
	   "a gateway route's answer counted by provider and route");
	ok(has_line(text, "creditd_gateway_settles_total{reason=\"client_gone\"} 1"), "a settle counted by reason");
	ok(has_line(text, "creditd_gateway_settles_total{reason=\"estimated\"} 0"), "every reason shown");
	ok(has_line(text, "creditd_gateway_overhead_seconds_bucket{le=\"0.001\"} 0") &&
	   has_line(text, "creditd_gateway_overhead_seconds_bucket{le=\"0.0025\"} 1") &&
	   has_line(text, "creditd_gateway_overhead_seconds_count 1"), "the overhead in its bucket");
	ok(has_line(text, "creditd_requests_total{route=\"unmatched\",status=\"405\"} 1"), "an unknown name: unmatched");
	ok(has_line(text, "creditd_requests_total{route=\"unmatched\",status=\"other\"} 1"),
	   "a code creditd never answers still shows, as other");
	ok(has_line(text, "# TYPE creditd_request_duration_seconds histogram"), "the duration histogram's type");
	ok(has_line(text, "creditd_request_duration_seconds_bucket{route=\"healthz\",le=\"0.001\"} 1"),
	   "0.5 ms is within 1 ms");
	ok(has_line(text, "creditd_request_duration_seconds_bucket{route=\"healthz\",le=\"0.0025\"} 2"),
	   "buckets are cumulative");
	ok(has_line(text, "creditd_request_duration_seconds_bucket{route=\"healthz\",le=\"+Inf\"} 2"), "+Inf: all");
	ok(has_line(text, "creditd_request_duration_seconds_sum{route=\"healthz\"} 0.002000"), "sum in seconds");
	ok(has_line(text, "creditd_request_duration_seconds_count{route=\"healthz\"} 2"), "count: the route's requests");
	ok(has_line(text, "creditd_request_duration_seconds_bucket{route=\"grant\",le=\"10\"} 6"), "30 s is above the last bound");
	ok(has_line(text, "creditd_request_duration_seconds_bucket{route=\"grant\",le=\"+Inf\"} 7"), "grant's +Inf");
	ok(has_line(text, "creditd_request_duration_seconds_count{route=\"grant\"} 7"), "grant's count");
	ok(has_line(text, "creditd_request_duration_seconds_bucket{route=\"grant\",le=\"0.00025\"} 1"),
	   "0.1 ms in the first bucket");
	ok(grant_cumulative(text), "every bucket there, none below the one before");
	ok(strstr(text, "creditd_request_duration_seconds_bucket{route=\"no_such") == NULL, "names never counted: none");
	check_batch_and_totals(text);
	check_gauges(text);
	ok(has_line(text, "# TYPE creditd_purged_rows_total counter"), "the purge counter's type");
	ok(has_line(text, "creditd_purged_rows_total{table=\"idempotency_keys\"} 7"), "rows purged, per table");
	ok(has_line(text, "creditd_purged_rows_total{table=\"holds\"} 2500"), "each table its line");
	ok(has_line(text, "# TYPE creditd_auth_failures_total counter"), "the auth counters' types");
	ok(has_line(text, "creditd_auth_failures_total 31"), "failed authentications");
	ok(has_line(text, "creditd_auth_lookups_total 30"), "key look-ups");
	ok(has_line(text, "creditd_auth_throttled_total 170"), "throttled requests");
	ok(has_line(text, "# TYPE creditd_guard_rows_kept_total counter"), "the kept rows' counter type");
	ok(has_line(text, "creditd_guard_rows_kept_total{outcome=\"filled\"} 900") &&
		   has_line(text, "creditd_guard_rows_kept_total{outcome=\"read\"} 41") &&
		   has_line(text, "creditd_guard_rows_kept_total{outcome=\"moved\"} 3"),
	   "guard batches by how their rows came");
	ok(has_line(text, "# TYPE creditd_guard_brought_due_total counter") &&
		   has_line(text, "creditd_guard_brought_due_total 12"),
	   "accounts brought due before a guard batch read them again");
	ok(has_line(text, "# TYPE creditd_price_miss_reloads_total counter") &&
		   has_line(text, "creditd_price_miss_reloads_total 5"),
	   "price reloads lookups' misses asked for");
	ok(has_line(text, "# TYPE creditd_tx_retries_total counter") &&
		   has_line(text, "creditd_tx_retries_total{reason=\"deadlock\"} 5") &&
		   has_line(text, "creditd_tx_retries_total{reason=\"moved\"} 0") &&
		   has_line(text, "creditd_tx_retries_total{reason=\"due\"} 2") &&
		   has_line(text, "creditd_tx_retries_total{reason=\"rollback\"} 1"),
	   "transaction attempts run again, a line per reason, 0 included");
	is_int(text[strlen(text) - 1], '\n', "text ends with a newline");
	free(text);
	struct metrics_gauges none = {NULL, NULL, 0, -1, NULL, NULL, 0, NULL, NULL, -1, NULL, NULL, NULL, NULL, 0};
	text = metrics_text(&none);
	ok(text != NULL && strstr(text, "creditd_outbox_pending") == NULL && strstr(text, "creditd_build_info") == NULL &&
	   strstr(text, "creditd_db_up") == NULL && strstr(text, "creditd_purged_rows_total") == NULL &&
	   strstr(text, "creditd_auth_") == NULL && strstr(text, "creditd_guard_brought_due") == NULL &&
	   strstr(text, "creditd_price_miss_reloads") == NULL &&
	   strstr(text, "creditd_tx_retries_total") == NULL,
	   "nothing counted yet: no gauge lines");
	free(text);
}

static void test_every_error_status_is_its_own(void)
{
	/* Every status the error table answers is counted under its code. */
	int all = 1;
	for (int e = 0; e < CD_E__COUNT; e++)
		all = all && metrics_status_known(errors_status((enum cd_err)e));
	ok(all, "the error table's statuses all have their own counter");
	static const int successes[] = {200, 201, 204, 304};
	for (size_t i = 0; i < sizeof(successes) / sizeof(successes[0]); i++)
		ok(metrics_status_known(successes[i]), "%d has its own counter", successes[i]);
	ok(!metrics_status_known(299), "a code creditd never answers is other");
}

static void test_many_routes(void)
{
	/* The most routes with the longest names must fit the text's cap. */
	static char names_buf[LIMIT_METRICS_ROUTES][LIMIT_METRICS_ROUTE_NAME_BYTES + 1];
	static const char *names[LIMIT_METRICS_ROUTES];
	for (size_t i = 0; i < LIMIT_METRICS_ROUTES; i++) {
		memset(names_buf[i], 'a' + (int)(i % 26), LIMIT_METRICS_ROUTE_NAME_BYTES);
		names[i] = names_buf[i];
	}
	is_int(metrics_init(names, LIMIT_METRICS_ROUTES), 0, "the most routes registered");
	for (size_t i = 0; i < LIMIT_METRICS_ROUTES; i++)
		metrics_count(names[i], 402, 1e12, ~0ULL / 2);
	/* And every status and bucket of every route, and the most nodes
	 * with the longest names, each of them to be escaped. */
	static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 429, 500,
				       502, 503, 299};
	static const double ms[] = {0.1, 0.3, 0.7, 2, 4, 8, 20, 40, 80, 200, 400, 800, 2000, 9000, 60000};
	for (size_t i = 0; i <= LIMIT_METRICS_ROUTES; i++) {
		const char *name = i < LIMIT_METRICS_ROUTES ? names[i] : NULL;
		for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++)
			metrics_count(name, statuses[s], 1e12, ~0ULL / 2);
		for (size_t d = 0; d < sizeof(ms) / sizeof(ms[0]); d++)
			metrics_count(name, 200, ms[d] * 1e6, 0);
	}
	static char node_names[LIMIT_DB_NODES][LIMIT_DB_NODE_BYTES];
	struct metrics_node nodes[LIMIT_DB_NODES];
	for (int i = 0; i < LIMIT_DB_NODES; i++) {
		memset(node_names[i], '"', LIMIT_DB_NODE_BYTES - 1);
		nodes[i].name = node_names[i];
		nodes[i].up = 1;
	}
	static char table_names[LIMIT_METRICS_PURGE_TABLES][32];
	struct metrics_purged purged[LIMIT_METRICS_PURGE_TABLES];
	for (int i = 0; i < LIMIT_METRICS_PURGE_TABLES; i++) {
		memset(table_names[i], '"', sizeof(table_names[i]) - 1);
		purged[i].table = table_names[i];
		purged[i].rows = ~0ULL;
	}
	struct metrics_auth auth = {~0ULL, ~0ULL, ~0ULL};
	/* Every gateway route with every status too. */
	static const char *const gw[] = {"gw_openai_chat", "gw_openai_responses", "gw_openai_embeddings",
					 "gw_openai_models", "gw_openai_model", "gw_anthropic_messages"};
	for (size_t i = 0; i < sizeof(gw) / sizeof(gw[0]); i++)
		for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++)
			metrics_count(gw[i], statuses[s], 1e12, ~0ULL / 2);
	struct metrics_kept kept = {~0ULL, ~0ULL, ~0ULL};
	unsigned long long brought_due = ~0ULL, miss_reloads = ~0ULL;
	const char *reasons[LIMIT_METRICS_TX_REASONS];
	unsigned long long retried[LIMIT_METRICS_TX_REASONS];
	for (int i = 0; i < LIMIT_METRICS_TX_REASONS; i++) {
		reasons[i] = "unreported_rollback_x";
		retried[i] = ~0ULL;
	}
	struct metrics_gauges g = {NULL, nodes, LIMIT_DB_NODES, 1LL << 62, "0.0.0-longest", purged,
				   LIMIT_METRICS_PURGE_TABLES, &auth, &kept, 1LL << 62, &brought_due, &miss_reloads,
				   reasons, retried, LIMIT_METRICS_TX_REASONS};
	char *text = metrics_text(&g);
	ok(text != NULL, "the largest text fits its cap");
	if (text != NULL)
		ok(strlen(text) > 16 * 1024, "and it grew past the first buffer (%zu bytes)", strlen(text));
	else
		ok(0, "no text to measure");
	free(text);
}

/* A request's round trips are visible to any scrape that counts the
 * request: the integration tests read requests_total, then round trips,
 * and take their difference between two requests as one request's cost.
 * One writer counts requests of 3 round trips each on the first CPU,
 * where a spinning thread preempts it at any point of metrics_count; this
 * thread scrapes from the other CPU for a second. No scrape may show a
 * request counted without its round trips. */
static atomic_int stop;

static void on_first_cpu(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *count_threes(void *arg)
{
	(void)arg;
	on_first_cpu();
	while (!atomic_load(&stop))
		metrics_count("grant", 200, 0.1, 3);
	return NULL;
}

static void *spin(void *arg)
{
	(void)arg;
	on_first_cpu();
	while (!atomic_load(&stop))
		;
	return NULL;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_round_trips_never_lag_the_count(void)
{
	static const char *const names[] = {"grant"};
	is_int(metrics_init(names, 1), 0, "one route registered");
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	/* Earlier tests counted on this slot: what they left is the base. */
	char *text = metrics_text(NULL);
	const char *count_line = "creditd_requests_total{route=\"grant\",status=\"200\"}";
	const char *trips_line = "creditd_db_round_trips_total{route=\"grant\"}";
	unsigned long long n0 = text != NULL ? line_value(text, count_line) : 0, rt0 = text != NULL ? line_value(text, trips_line) : 0;
	free(text);
	if (n0 == ~0ULL)
		n0 = 0;
	pthread_t w, p;
	atomic_store(&stop, 0);
	int started = pthread_create(&w, NULL, count_threes, NULL) == 0;
	started += pthread_create(&p, NULL, spin, NULL) == 0;
	is_int(started, 2, "writer and spinner started");
	unsigned long long worst = 0, last = 0;
	int lagged = 0;
	for (double end = seconds() + 1.0; seconds() < end && started == 2;) {
		text = metrics_text(NULL);
		if (text == NULL)
			break;
		unsigned long long n = line_value(text, count_line) - n0, rt = line_value(text, trips_line) - rt0;
		if (rt < 3 * n) {
			lagged++;
			worst = 3 * n - rt;
		}
		last = n;
		free(text);
	}
	atomic_store(&stop, 1);
	if (started == 2) {
		pthread_join(w, NULL);
		pthread_join(p, NULL);
	}
	ok(last > 0, "requests were counted while scraping");
	ok(lagged == 0, "no scrape shows a counted request without its round trips (%d lagged, the last by %llu)",
	   lagged, worst);
}

int main(void)
{
	test_init();
	test_text();
	test_every_error_status_is_its_own();
	test_many_routes();
	test_round_trips_never_lag_the_count();
	return done_testing();
}
