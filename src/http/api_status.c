/* api_status.c: the small routes of creditd's own state: GET /healthz
 * (the watchdog's view), GET /metrics (Prometheus's text), GET /v1/models
 * (the price list). */
#include "api.h"
#include "authlimit.h"
#include "config.h"
#include "gateway.h"
#include "ledger.h"
#include "metrics.h"

void api_healthz(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	/* The watchdog's view, without a round trip; before its first probe
	 * (the first moments after start) this thread asks itself. */
	enum store_health h = store_health();
	if (h == STORE_HEALTH_DOWN || (h == STORE_HEALTH_UNKNOWN && store_ping(ctx->db) != CD_OK)) {
		api_error(rs, CD_E_UNAVAILABLE, NULL, "the database is unreachable");
		rs->retry_after = 2;
		return;
	}
	api_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

void api_metrics(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_batch_stats b;
	ledger_batch_stats(&b);
	struct metrics_histogram h = {"creditd_guard_batch_size",
		"Guard writes (authorize, settle, release, usage) per group-commit batch.",
		LEDGER_BATCH_BUCKETS, b.le, b.count, b.batches, b.ops};
	/* What the watchdog and the background thread last saw: a scrape
	 * costs no round trip. */
	struct metrics_node nodes[LIMIT_DB_NODES];
	int n = ctx->cfg->db_node_count < LIMIT_DB_NODES ? ctx->cfg->db_node_count : LIMIT_DB_NODES;
	for (int i = 0; i < n; i++) {
		enum store_health nh = store_node_health(i);
		nodes[i].name = ctx->cfg->db_node[i].name;
		nodes[i].up = nh == STORE_HEALTH_UNKNOWN ? -1 : nh == STORE_HEALTH_UP;
	}
	struct metrics_purged purged[LEDGER_PURGE_TABLES];
	for (int i = 0; i < LEDGER_PURGE_TABLES; i++)
		purged[i].rows = ledger_purged_rows(i, &purged[i].table);
	struct authlimit_totals at;
	authlimit_totals(&at);
	struct metrics_auth auth = {at.failures, at.lookups, at.throttled};
	struct ledger_kept_stats ks;
	ledger_kept_stats(&ks);
	struct metrics_kept kept = {ks.filled, ks.read, ks.refused};
	unsigned long long miss_reloads = ledger_prices_miss_asks();
	/* The transaction loop's reasons, but RETRY_NONE (never counted). */
	unsigned long long retries[STORE_RETRY_REASONS];
	const char *reasons[STORE_RETRY_REASONS];
	_Static_assert(STORE_RETRY_REASONS - 1 <= LIMIT_METRICS_TX_REASONS, "a line per reason fits the text");
	store_tx_retries(retries);
	for (int i = RETRY_NONE + 1; i < STORE_RETRY_REASONS; i++)
		reasons[i] = store_retry_name((enum store_retry)i);
	struct metrics_gauges g = {&h, nodes, n, ledger_outbox_pending(), PACKAGE_VERSION, purged, LEDGER_PURGE_TABLES,
				   &auth, &kept, (long long)gateway_in_flight(), &b.brought_due, &miss_reloads,
				   reasons + 1, retries + 1, STORE_RETRY_REASONS - 1};
	/* The scrape's own worker is not counted busy: creditd_workers_busy
	 * is the workers answering other requests. */
	metrics_workers(0, -1);
	rs->text = metrics_text(&g);
	metrics_workers(0, 1);
	rs->status = rs->text != NULL ? 200 : 500;
}

int api_prices_ready(struct api_ctx *ctx, struct response *rs)
{
	/* Before the first load the reload thread is asked, and waited for:
	 * the request itself opens no transaction for prices. */
	(void)ctx;
	if (ledger_prices_ready())
		return 0;
	api_error(rs, CD_E_UNAVAILABLE, NULL, "prices are not loaded yet");
	rs->retry_after = 1;
	return -1;
}

void api_models(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	/* The list is the cache's: never an empty one before its first load. */
	if (api_prices_ready(ctx, rs) == 0)
		api_json(rs, 200, ledger_prices_json(ctx->cfg->currency));
}
