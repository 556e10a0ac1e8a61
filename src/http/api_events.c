/* api_events.c: the outbox's pull route (docs/api.md, "Events"), for
 * apps that cannot receive webhooks: GET /v1/events?after=ID&limit=N
 * (admin), oldest first, whether or not push is configured. */
#include "api.h"
#include "ledger.h"
#include <stdint.h>

void api_events(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t after = 0, limit = LIMIT_PAGE_DEFAULT;
	json_t *out = NULL;
	(void)params;
	if (api_query_int(rq->query, "after", 0, INT64_MAX, &after, rs) < 0 ||
	    api_query_int(rq->query, "limit", 1, LIMIT_PAGE_MAX, &limit, rs) < 0)
		return;
	enum cd_err rc = ledger_events(ctx->db, after, (int)limit, &out);
	if (rc != CD_OK)
		api_fail(rs, rc, "events");
	else
		api_json(rs, 200, out);
}
