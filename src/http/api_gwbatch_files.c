/* api_gwbatch_files.c: a batch's files through creditd (docs/gateway.md,
 * "Batches"): OpenAI's batch input files an account uploaded, and the
 * output and error files of its batches, read, listed and deleted as the
 * account's own. A file another account made, or none, is answered 404
 * as OpenAI answers an id it does not know (invalid_request_error, code
 * null); the list comes from creditd's records, a file deleted through
 * creditd forgotten there too; a batch's results are not deleted while its job
 * still settles them (409). The upload, which reads the file's lines, is
 * api_gwbatch.c's. Never SQL, never curl. */
#include "api.h"
#include "api_gwbatch.h"
#include "gwbatch_io.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "gwobject.h"
#include "ledger.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The provider of account's file id (an input file it uploaded, or a
 * batch's output or error file), NULL with rs filled (404 when not its). */
static const struct gwconfig_provider *file_provider(struct api_ctx *ctx, const struct request *rq,
						     const char *account, const char *id, struct response *rs)
{
	char provider[LIMIT_CONFIG_NAME_BYTES] = "";
	int owned = 0;
	enum cd_err rc = CD_OK;
	if (gwobject_id_ok(id))
		rc = ledger_gw_object_find(ctx->db, account, LEDGER_GW_FILE, id, &owned, provider, sizeof(provider));
	if (rc == CD_OK && !owned && gwobject_id_ok(id))
		rc = ledger_gw_object_find(ctx->db, account, LEDGER_GW_BATCH_OUTPUT, id, &owned, provider,
					   sizeof(provider));
	const struct gwconfig_provider *p = owned ? gwconfig_provider_of(ctx->gw, &gwkind_openai, provider)
						  : NULL;
	if (rc != CD_OK)
		api_fail(rs, rc, "file lookup");
	else if (p == NULL)
		api_gwbatch_not_found(rq, rs, "id", "No such File object: %s", gwobject_id_ok(id) ? id : "?");
	return rc == CD_OK ? p : NULL;
}

/* 1 with rs 409 when file id is a batch's results not yet settled (docs/gateway.md, "Batches"). */
static int file_busy(struct api_ctx *ctx, const char *account, const char *id, struct response *rs)
{
	int busy = 0;
	enum cd_err rc = ledger_gw_file_busy(ctx->db, account, id, &busy);
	if (rc != CD_OK)
		api_fail(rs, rc, "file lookup");
	else if (busy)
		api_error(rs, CD_E_CONFLICT, "id", "File %s is a batch's results still being settled", id);
	return rc != CD_OK || busy;
}

/* GET /openai/v1/files/{id} (as kept when uploaded, else the provider's),
 * /content (the provider's bytes) and DELETE (then forgotten). */
void api_gw_file(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char path[LIMIT_GATEWAY_URL_BYTES], err[256];
	int content = strstr(rq->path, "/content") != NULL, del = strcmp(rq->method, "DELETE") == 0, found = 0, status = 0;
	json_t *kept = NULL, *out = NULL;
	struct gw_job *job = api_gwbatch_payer(ctx, rq, rs);
	const struct gwconfig_provider *p = job != NULL ? file_provider(ctx, rq, job->account, params[0], rs) : NULL;
	if (p != NULL && del && file_busy(ctx, job->account, params[0], rs))
		p = NULL;
	if (p != NULL && !content && !del && ledger_gw_file_answer(ctx->db, job->account, params[0], &kept, &found) ==
	    CD_OK && kept != NULL) {
		api_json(rs, 200, kept);
	} else if (p != NULL && !content) {
		snprintf(path, sizeof(path), "/files/%s", params[0]);
		struct gwbatch_request r = {del ? "DELETE" : "GET", path, NULL, NULL, 0, NULL, 0, 0};
		if (api_gwbatch_forward(ctx, p, &r, &out, rs) == 0) {
			if (del && json_is_true(json_object_get(out, "deleted"))) {	/* forgotten, whichever it was */
				(void)ledger_gw_object_forget(ctx->db, job->account, LEDGER_GW_FILE, params[0]);
				(void)ledger_gw_object_forget(ctx->db, job->account, LEDGER_GW_BATCH_OUTPUT, params[0]);
			}
			api_json(rs, 200, json_incref(out));
		}
	} else if (p != NULL) {
		struct dynbuf answer;
		snprintf(path, sizeof(path), "/files/%s/content", params[0]);
		dynbuf_init(&answer, LIMIT_GATEWAY_BATCH_RESULTS_ANSWER_BYTES);
		struct gwbatch_request r = {"GET", path, NULL, NULL, 0, NULL, (long)ctx->gw->connect_timeout_ms,
					    LIMIT_GATEWAY_BATCH_FETCH_SECONDS * 1000L};
		if (gwbatch_io_call(p, &r, &status, &answer, err, sizeof(err)) == 0 && status == 200) {
			rs->status = 200;
			rs->text = answer.data != NULL ? answer.data : strdup("");
			rs->content_type = "application/octet-stream";
		} else {
			api_error(rs, CD_E_UPSTREAM, NULL, "the provider gave no content creditd can pass on (%d)", status);
			dynbuf_free(&answer);
		}
	}
	json_decref(out);
	free(job);
}

/* GET /openai/v1/files: the account's batch input files, newest first,
 * from creditd's records. */
void api_gw_file_list(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char after[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	json_t *data = NULL;
	int more = 0;
	(void)params;
	struct gw_job *job = api_gwbatch_payer(ctx, rq, rs);
	if (job == NULL)
		return;
	api_gwbatch_list_after(rq->query, "after", after, sizeof(after));
	enum cd_err rc = ledger_gw_file_list(ctx->db, job->account, after[0] != '\0' ? after : NULL,
					     api_gwbatch_list_limit(rq->query), &data, &more);
	free(job);
	if (rc != CD_OK) {
		api_fail(rs, rc, "file list");
		return;
	}
	size_t n = json_array_size(data);
	json_t *first = n > 0 ? json_object_get(json_array_get(data, 0), "id") : NULL;
	json_t *last = n > 0 ? json_object_get(json_array_get(data, n - 1), "id") : NULL;
	api_json(rs, 200, json_pack("{s:s, s:o, s:O?, s:O?, s:b}", "object", "list", "data", data, "first_id", first,
				    "last_id", last, "has_more", more));
}
