/* api_gwbatch.h: what the Batch API's handlers share (docs/gateway.md,
 * "Batches"): api_gwbatch_files.c (a batch's files) takes from
 * api_gwbatch.c (the batches) who pays and the provider's answer passed
 * on, from api_gwbatch_read.c (the reads) the files list's page, and
 * from api_gwbatch_shape.c the 404 in the route's shape; api_gwbatch.c
 * and api_gwbatch_read.c take from api_gwbatch_shape.c that 404 and the
 * results_url made creditd's own (the shape file calls neither). */
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
/* api_gwbatch_read.c: the page size of the files' list: the query's limit (1..100, default 20). */
int api_gwbatch_list_limit(const char *query);
/* The cursor named name ("after") of the query, as given, into out (cap
 * bytes); "" when none. */
void api_gwbatch_list_after(const char *query, const char *name, char *out, size_t cap);
/* api_gwbatch_shape.c: 1 when rq is on an Anthropic route (its batches,
 * its shape). */
int api_gwbatch_anthropic(const struct request *rq);
/* 404 for an object the account does not have (another's, another
 * kind's, none), in rq's provider's shape: OpenAI's invalid_request_error
 * with code null, param as given (NULL: null); Anthropic's
 * not_found_error. The message is fmt's. */
void api_gwbatch_not_found(const struct request *rq, struct response *rs, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* That 404 for a batch id. */
void api_gwbatch_no_batch(const struct request *rq, struct response *rs, const char *id);
/* A message batch's results_url, when it has one, made creditd's own
 * results route for it on the request's own origin (the provider's
 * would take creditd's key around creditd); batch is changed in place. */
void api_gwbatch_own_results(struct api_ctx *ctx, const struct request *rq, json_t *batch);
#endif
