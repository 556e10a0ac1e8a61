/* test_metrics.c: route names are registered from outside and checked,
 * each answer lands in the counter its status belongs to, and the text
 * keeps the exact lines Prometheus and the integration tests read. */
#include "metrics.h"
#include "limits.h"
#include "tap.h"
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

static void test_text(void)
{
	static const char *const names[] = {"healthz", "grant"};
	is_int(metrics_init(names, 2), 0, "two routes registered");
	metrics_count("healthz", 200, 1.5, 0);
	metrics_count("healthz", 200, 0.5, 0);
	metrics_count("grant", 201, 2.0, 3);
	metrics_count("grant", 402, 1.0, 2);
	metrics_count("grant", 429, 1.0, 0);
	metrics_count("grant", 503, 1.0, 1);
	metrics_count("grant", 409, 1.0, 1);
	metrics_count(NULL, 404, 0.25, 0);
	metrics_count("no_such_route", 405, 0.25, 0);
	static const int le[] = {1, 2, 4};
	static const unsigned long long counts[] = {5, 0, 2};
	struct metrics_histogram h = {"creditd_guard_batch_size", "Ops per batch.", 3, le, counts, 7, 12};
	char *text = metrics_text(&h);
	if (!ok(text != NULL, "text built"))
		return;
	static const char head[] = "# HELP creditd_requests_total Requests answered, by route and status.\n"
				   "# TYPE creditd_requests_total counter\n";
	ok(strncmp(text, head, sizeof(head) - 1) == 0, "text opens with the requests HELP and TYPE");
	ok(has_line(text, "creditd_requests_total{route=\"healthz\",status=\"200\"} 2"), "healthz 200 counted twice");
	ok(has_line(text, "creditd_requests_total{route=\"healthz\",status=\"201\"} 0"), "healthz 201 zero");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"201\"} 1"), "grant 201 counted");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"409\"} 1"), "grant 409 counted");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"refused\"} 2"), "402 and 429 are refused");
	ok(has_line(text, "creditd_requests_total{route=\"grant\",status=\"other\"} 1"), "503 is other");
	ok(has_line(text, "creditd_requests_total{route=\"unmatched\",status=\"404\"} 1"), "no route: unmatched");
	ok(has_line(text, "# TYPE creditd_guard_batch_size histogram"), "the histogram says its type");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"1\"} 5"), "bucket 1 counts its own");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"2\"} 5"), "buckets are cumulative (empty one)");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"4\"} 7"), "buckets are cumulative");
	ok(has_line(text, "creditd_guard_batch_size_bucket{le=\"+Inf\"} 7"), "+Inf is the count");
	ok(has_line(text, "creditd_guard_batch_size_sum 12"), "sum of sizes");
	ok(has_line(text, "creditd_guard_batch_size_count 7"), "count of batches");
	ok(has_line(text, "creditd_requests_total{route=\"unmatched\",status=\"other\"} 1"),
	   "an unknown route name: unmatched, 405 is other");
	ok(has_line(text, "# TYPE creditd_request_seconds_total counter"), "seconds TYPE line");
	ok(has_line(text, "creditd_request_seconds_total{route=\"healthz\"} 0.002000"), "healthz seconds summed");
	ok(has_line(text, "creditd_request_seconds_total{route=\"unmatched\"} 0.000500"), "unmatched seconds summed");
	ok(has_line(text, "# TYPE creditd_db_round_trips_total counter"), "round trips TYPE line");
	ok(has_line(text, "creditd_db_round_trips_total{route=\"grant\"} 7"), "grant round trips summed");
	ok(has_line(text, "creditd_db_round_trips_total{route=\"healthz\"} 0"), "healthz round trips zero");
	/* 2 routes + unmatched: 9 request lines, 1 seconds line and 1 round
	 * trips line each, and 6 HELP/TYPE lines; the histogram's HELP, TYPE,
	 * 3 buckets, +Inf, sum and count. */
	int lines = 0;
	for (const char *p = text; *p != '\0'; p++)
		lines += *p == '\n';
	is_int(lines, 3 * 11 + 6 + 8, "every line there, none more");
	is_int(text[strlen(text) - 1], '\n', "text ends with a newline");
	free(text);
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
	char *text = metrics_text(NULL);
	ok(text != NULL, "the largest text fits its cap");
	if (text != NULL)
		ok(strlen(text) > 16 * 1024, "and it grew past the first buffer (%zu bytes)", strlen(text));
	else
		ok(0, "no text to measure");
	free(text);
}

int main(void)
{
	test_init();
	test_text();
	test_many_routes();
	return done_testing();
}
