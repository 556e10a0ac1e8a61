/* api_gwbatch.h: what the Batch API's handlers share (docs/gateway.md,
 * "Batches"): api_gwbatch_files.c (a batch's files) takes from
 * api_gwbatch.c (the batches) who pays, the provider's answer passed on,
 * and a list's page. */
#ifndef CREDITD_API_GWBATCH_H
#define CREDITD_API_GWBATCH_H
#include "api.h"
#include "gwbatch_io.h"
#include "gwconfig.h"
#include "gwjob.h"
#include <jansson.h>

/* Who pays, into the account and member of a job made for the purpose
 * (the caller frees it). NULL with rs filled. */
struct gw_job *api_gwbatch_payer(struct api_ctx *ctx, const struct request *rq, struct response *rs);
/* Sends r to p and answers its answer as it came (its status, its JSON);
 * *out the answer when 2xx (the caller's), else NULL. 0 when 2xx. */
int api_gwbatch_forward(struct api_ctx *ctx, const struct gwconfig_provider *p, struct gwbatch_request *r,
			json_t **out, struct response *rs);
/* The page size of a list: the query's limit (1..100, default 20). */
int api_gwbatch_list_limit(const char *query);
/* The after (OpenAI) or after_id / before_id (Anthropic) cursor of the
 * query, decoded, into out (cap bytes); "" when none. */
void api_gwbatch_list_after(const char *query, const char *name, char *out, size_t cap);
#endif
