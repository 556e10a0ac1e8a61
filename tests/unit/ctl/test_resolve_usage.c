/* test_resolve_usage.c: creditctl hold resolve --from-usage's pure parts
 * (docs/reconciliation.md, "Unresolved holds"): the rule that judges an
 * unresolved hold from the provider's per-minute usage
 * (money_unresolved.c: its window, the minute after, the coverage, the
 * leftover, the split, never above a hold) and the usage reports read by
 * minutes (ctl_reconcile_read.c: 1-minute buckets read, a day's or an
 * hour's refused, the daily path unchanged). */
#include "../../tap.h"
#include "ctl_reconcile_read.h"
#include "money_unresolved.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define M0 1795780800LL		/* 2026-11-27T12:00:00Z */

/* 1 micro an input token, 2 an output token, no margin. */
static const struct price PRICE = {1000000, 1000000, 2000000, 4096, 1000000, PRICING_NO_DIMS};

static const int64_t *cov;
static size_t ncov;

static int covered(const void *ctx, int64_t minute)
{
	(void)ctx;
	for (size_t i = 0; i < ncov; i++)
		if (cov[i] == minute)
			return 1;
	return 0;
}

static struct unres_hold hold(const char *model, int64_t at, int64_t held)
{
	struct unres_hold h;
	memset(&h, 0, sizeof(h));
	h.model = model;
	h.created_at = at;
	h.held = held;
	h.price = PRICE;
	h.margin_bps = 10000;
	return h;
}

static struct unres_usage use(const char *model, int64_t minute, int64_t in, int64_t out)
{
	return (struct unres_usage){model, minute, {in, 0, 0, out}};
}

static void test_window_and_split(void)
{
	static const int64_t c[] = {M0, M0 + 60};
	/* Two calls in 12:00, one at 12:03 (its minutes not in the report). */
	struct unres_hold h[] = {hold("m", M0 + 5, 300), hold("m", M0 + 59, 100), hold("m", M0 + 180, 500)};
	struct unres_usage prov[] = {use("m", M0, 100, 50), use("m", M0 + 60, 20, 0)};
	struct unres_usage mine[] = {use("m", M0, 30, 10)};
	cov = c;
	ncov = 2;
	is_int(money_unresolved_minute(M0 + 59), M0, "12:00:59 is in 12:00");
	money_unresolved_plan(h, 3, prov, 2, mine, 1, covered, NULL);
	is_int(h[0].from, M0, "the window starts at the call's minute");
	is_int(h[0].to, M0 + 120, "and takes the next minute");
	is_int(h[0].leftover.input_tokens, 90, "leftover input: 100 + 20 - 30");
	is_int(h[0].leftover.output_tokens, 40, "leftover output: 50 - 10");
	is_int(h[0].cost, 170, "the leftover at the pinned prices");
	is_int(h[0].window_held, 400, "the window's holds held 400");
	is_int(h[0].verdict, UNRES_CHARGE, "charged");
	is_int(h[0].charge, 128, "its share: ceil(170 x 300 / 400)");
	is_int(h[1].charge, 43, "its share: ceil(170 x 100 / 400)");
	ok(h[0].charge + h[1].charge >= 170, "the shares never add up to less than the leftover's cost");
	is_int(h[2].verdict, UNRES_UNCOVERED, "a hold whose minutes the report does not cover is left");
	is_int(h[2].charge, 0, "and charged nothing");
}

static void test_more_than_held_and_none(void)
{
	static const int64_t c[] = {M0, M0 + 60};
	struct unres_hold h[] = {hold("m", M0, 50), hold("m", M0 + 1, 70), hold("z", M0 + 30, 90)};
	struct unres_usage prov[] = {use("m", M0, 1000, 1000), use("z", M0, 5, 0)};
	struct unres_usage mine[] = {use("z", M0, 5, 0), use("z", M0 + 60, 1, 0)};
	cov = c;
	ncov = 2;
	money_unresolved_plan(h, 3, prov, 2, mine, 2, covered, NULL);
	is_int(h[0].charge, 50, "a leftover dearer than every hold: each charged its whole hold");
	is_int(h[1].charge, 70, "each, never more");
	is_int(h[2].verdict, UNRES_RELEASE, "creditd recorded all the provider's usage: released");
	is_int(h[2].charge, 0, "nothing charged");
}

static void test_next_minute_joined_and_unreported(void)
{
	static const int64_t c[] = {M0, M0 + 60, M0 + 120};
	/* Sent at 12:00:59, billed at 12:01; another at 12:01:10 joins the
	 * window, which then ends after 12:02. */
	struct unres_hold h[] = {hold("m", M0 + 59, 100), hold("m", M0 + 70, 100), hold("other", M0, 100)};
	struct unres_usage prov[] = {use("m", M0 + 60, 10, 0)};
	cov = c;
	ncov = 3;
	money_unresolved_plan(h, 3, prov, 1, NULL, 0, covered, NULL);
	is_int(h[0].to, M0 + 180, "overlapping windows of one model are one");
	is_int(h[1].from, M0, "both holds in it");
	is_int(h[0].charge, 5, "the next minute's usage charged: half of 10 each");
	is_int(h[1].charge, 5, "half each");
	is_int(h[2].verdict, UNRES_UNREPORTED, "a model the report never names is left (another provider's)");
	ncov = 2;
	money_unresolved_plan(h, 2, prov, 1, NULL, 0, covered, NULL);
	is_int(h[0].verdict, UNRES_UNCOVERED, "a joined window's last minute not covered: all of it left");
}

static void test_cached_kept_within_input(void)
{
	static const int64_t c[] = {M0, M0 + 60};
	struct unres_hold h[] = {hold("m", M0, 1000)};
	struct unres_usage prov[] = {{"m", M0, {100, 100, 0, 0}}};
	struct unres_usage mine[] = {{"m", M0, {90, 0, 0, 0}}};
	cov = c;
	ncov = 2;
	money_unresolved_plan(h, 1, prov, 1, mine, 1, covered, NULL);
	is_int(h[0].leftover.input_tokens, 10, "10 input tokens left");
	is_int(h[0].leftover.cached_input_tokens, 10, "cached cut to the input left, never above it");
}

static struct recon_buckets read_text(const char *text, int minutes, int *rc)
{
	char path[] = "/tmp/test_resolve_usage_XXXXXX";
	int fd = mkstemp(path);
	struct recon_buckets b;
	memset(&b, 0, sizeof(b));
	b.minutes = minutes;
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		*rc = -2;
		return b;
	}
	close(fd);
	*rc = ctl_reconcile_read_read_file(path, RECON_GUESS, &b);
	if (*rc == 0)
		*rc = ctl_reconcile_read_check_duplicates(&b);
	unlink(path);
	return b;
}

static void test_reader(void)
{
	int rc;
	static const char openai[] =
		"{\"data\": [{\"start_time\": 1795780800, \"end_time\": 1795780860, \"results\": [{\"model\": \"m\", "
		"\"input_tokens\": 7, \"input_cached_tokens\": 0, \"output_tokens\": 3, \"num_model_requests\": 1}]},"
		" {\"start_time\": 1795780860, \"end_time\": 1795780920, \"results\": []}]}";
	struct recon_buckets b = read_text(openai, 1, &rc);
	is_int(rc, 0, "OpenAI 1-minute buckets read by minutes");
	is_int(b.n, 1, "one minute x model");
	is_int(b.n ? b.v[0].day : 0, M0, "at its minute");
	ok(ctl_reconcile_read_covered(&b, M0 + 60), "an empty bucket covers its minute");
	ok(!ctl_reconcile_read_covered(&b, M0 + 120), "a minute with no bucket is not covered");
	ctl_reconcile_read_buckets_free(&b);
	fprintf(stderr, "# an error is expected next\n");
	b = read_text(openai, 0, &rc);
	is_int(rc, -1, "the daily path refuses a minute bucket, as before");
	ctl_reconcile_read_buckets_free(&b);
	static const char hour[] = "{\"data\": [{\"starting_at\": \"2026-11-27T12:00:00Z\", \"ending_at\": "
				   "\"2026-11-27T13:00:00Z\", \"results\": []}]}";
	b = read_text(hour, 1, &rc);
	is_int(rc, -1, "an hour's bucket is refused by minutes");
	ctl_reconcile_read_buckets_free(&b);
	static const char anthropic[] = "{\"data\": [{\"starting_at\": \"2026-11-27T12:00:00Z\", \"ending_at\": "
		"\"2026-11-27T12:01:00Z\", \"results\": [{\"model\": \"claude-x\", \"uncached_input_tokens\": 4, "
		"\"cache_read_input_tokens\": 1, \"output_tokens\": 2}]}]}";
	b = read_text(anthropic, 1, &rc);
	is_int(rc, 0, "Anthropic 1-minute buckets read by minutes");
	is_int(b.n ? b.v[0].input_tokens : 0, 5, "its input counts the cache read");
	ctl_reconcile_read_buckets_free(&b);
	b = read_text("date,model,input_tokens,cached_input_tokens,output_tokens\n2026-11-27T12:01:00Z,m,5,0,1\n", 1, &rc);
	is_int(rc, 0, "a CSV of minutes");
	is_int(b.n ? b.v[0].day : 0, M0 + 60, "its row at its minute");
	ctl_reconcile_read_buckets_free(&b);
	b = read_text("2026-11-27T12:01:30Z,m,5,0,1\n", 1, &rc);
	is_int(rc, -1, "a CSV time inside a minute is refused");
	ctl_reconcile_read_buckets_free(&b);
	b = read_text("2026-11-27,m,5,0,1\n", 0, &rc);
	is_int(rc, 0, "the daily CSV as before");
	ctl_reconcile_read_buckets_free(&b);
}

int main(void)
{
	test_window_and_split();
	test_more_than_held_and_none();
	test_next_minute_joined_and_unreported();
	test_cached_kept_within_input();
	test_reader();
	return done_testing();
}
