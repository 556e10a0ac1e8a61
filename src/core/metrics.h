/* metrics.h: per-route request counters, latency histograms and the
 * Prometheus text of them and of the gauges handed in
 * (docs/operations.md, "Monitoring").
 *
 * The route names are registered from outside (the worker passes the
 * router's list once at start-up), and the gauges (database nodes, the
 * outbox, the batch histogram, the version) are handed in by whoever makes
 * the text, so this module knows nothing of the router, the ledger or the
 * handlers and any of them may call it. Counting is lock-free and safe
 * from every worker thread. */
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
 * registered: "unmatched"): its exact status, its duration in the route's
 * histogram, its database round trips. Any thread, any time. */
void metrics_count(const char *route, int status, double duration_ms, unsigned long long round_trips);
/* The gateway (docs/gateway.md, "settle reason"): a call ended with this settle reason
 * (provider_usage, client_gone, estimated, provider_error); the time
 * creditd added before a call went upstream. A gateway route's answers
 * are counted by metrics_count under its route name, and also as
 * creditd_gateway_requests_total. */
void metrics_gateway_settle(const char *reason);
/* Registers route (a name metrics_init registered) as a gateway route,
 * counted as creditd_gateway_requests_total{provider, route=label} too,
 * in the order registered. Call after metrics_init, before any thread
 * counts; the strings must live as long as the process. 0, or -1
 * (logged) when route was not registered. */
int metrics_gateway_route(const char *route, const char *provider, const char *label);
/* The providers a gateway call tries
 * (docs/gateway.md, "What the answer says"): registered at start, index by
 * index from 0 in the order the gateway lists them (name copied); 0, or -1
 * (logged) out of order or past LIMIT_METRICS_PROVIDERS. */
int metrics_gateway_provider(size_t index, const char *name);
/* One try of provider (its index) ended so: 2xx; another status below
 * 500 but 429 (passed on); 429; 500 or above; no connection or one
 * broken before any status; no first byte in time. */
enum metrics_try { METRICS_TRY_OK, METRICS_TRY_CLIENT_ERROR, METRICS_TRY_RATE_LIMITED, METRICS_TRY_SERVER_ERROR,
		   METRICS_TRY_UNREACHABLE, METRICS_TRY_TIMEOUT };
void metrics_gateway_try(size_t provider, enum metrics_try outcome);
/* The tries of the provider at index since start into tries (one count
 * per enum metrics_try, in its order) and its name into *name (lives as
 * long as the process): 1, or 0 past the last provider registered. GET
 * /v1/health shows them (docs/api.md). */
#define METRICS_TRY_OUTCOMES (METRICS_TRY_TIMEOUT + 1)
int metrics_gateway_provider_tries(size_t index, const char **name, unsigned long long tries[METRICS_TRY_OUTCOMES]);
/* The name of outcome o (enum metrics_try) as /metrics labels it. */
const char *metrics_try_name(int o);
/* A gateway call's usage beyond what was asked (gwmoney.h), charged. */
void metrics_gateway_over_hold(void);
/* A gateway call ended unresolved (docs/gateway.md); the unresolved holds
 * as last counted (ledger_holds_unresolved_count). */
void metrics_gateway_unresolved_call(void);
void metrics_gateway_unresolved(long long n);
/* A gateway call whose usage named tokens no reading places (usage_unknown). */
void metrics_gateway_usage_unknown(void);
void metrics_gateway_overhead(double ms);
/* A stream's answer held back: its client took less than was sent. */
void metrics_gateway_held_back(void);
/* The operator's figures (docs/operations.md, "Monitoring"), any thread: the worker pool's
 * threads alive and answering a request (deltas); a Stripe API call that
 * failed, by its path (customers, checkout/sessions, payment_intents,
 * else "other"), with no answer (transport 1) or an error answer; an
 * event push that failed; a Stripe webhook refused for its signature. */
void metrics_workers(int alive_delta, int busy_delta);
void metrics_stripe_failure(const char *path, int transport);
void metrics_push_failure(void);
/* Alerts by email (jobs/mail.c): a mail the SMTP server took, an attempt
 * that failed; the mails pending as the background thread last counted
 * them (ledger_mails_count). */
void metrics_mail_sent(void);
void metrics_mail_failure(void);
void metrics_mail_pending(long long n);
void metrics_webhook_signature_failure(void);
/* 1 when metrics_count counts status under its own code, 0 when it would
 * fall under status="other" (a code creditd never answers). */
int metrics_status_known(int status);
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
/* A database node as the config names it, and what the health watchdog
 * last saw: 1 up, 0 down, -1 not probed yet (then no line is printed). */
struct metrics_node {
	const char *name;
	int up;
};
/* Rows the sweeper purged from one table since the process started
 * (docs/operations.md, "Data retention"). */
struct metrics_purged {
	const char *table;
	unsigned long long rows;
};
/* Authentication's counters since the process started. */
struct metrics_auth {
	unsigned long long failures, lookups, throttled;
};
/* The guard's batches since start by how their rows came: decided on rows
 * kept in memory, read, or kept but refused at the write (a row had moved). */
struct metrics_kept {
	unsigned long long filled, read, refused;
};
/* Everything the text shows beside the request counters; any pointer may
 * be NULL (nothing of it printed). The caller keeps it alive for the call. */
struct metrics_gauges {
	const struct metrics_histogram *batch;
	const struct metrics_node *nodes;
	int node_count;			/* at most LIMIT_DB_NODES */
	long long outbox_pending;	/* -1: not counted yet (no line) */
	const char *version;		/* creditd_build_info's label */
	const struct metrics_purged *purged;	/* creditd_purged_rows_total, one per table */
	int purged_count;		/* at most LIMIT_METRICS_PURGE_TABLES */
	/* Authentication since start
	 * (docs/operations.md, "Failed authentication"): API keys refused,
	 * key look-ups in the database, requests throttled; NULL: no lines. */
	const struct metrics_auth *auth;
	const struct metrics_kept *kept;	/* NULL: no lines */
	/* The gateway's calls in flight
	 * (docs/gateway.md, "Capacity and operations"); -1: no gateway lines.
	 */
	long long gateway_in_flight;
	/* Accounts guard batches found with an expiry or a plan's credit due
	 * and brought due, each in a transaction of its own, before reading
	 * them again, since start; NULL: no line. */
	const unsigned long long *guard_brought_due;
	/* Price reloads lookups' misses asked the reload thread for, since
	 * start; NULL: no line. */
	const unsigned long long *price_miss_reloads;
	/* Transaction attempts run again since start, by the reason the one
	 * before ended on (docs/architecture.md, "One retry loop"): a count
	 * per name, tx_reason_count of them (at most
	 * LIMIT_METRICS_TX_REASONS); 0: no lines. */
	const char *const *tx_reason;
	const unsigned long long *tx_retries;
	int tx_reason_count;
};
/* The Prometheus text (exposition format 0.0.4) of every counter and of
 * g, NUL-terminated, in a buffer the caller frees with free(). NULL
 * (logged) when memory runs out or the text would pass
 * LIMIT_METRICS_TEXT_BYTES. */
char *metrics_text(const struct metrics_gauges *g);
#endif
