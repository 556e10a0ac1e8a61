/* api_gwbatch_read.c: the Batch API's reads (docs/gateway.md, "Batches"):
 * a batch retrieved and the lists of batches, from creditd's records.
 *
 * Each provider kind's routes see their own kind's batches alone (the
 * job's route names its kind): an OpenAI batch's id on an Anthropic route,
 * or the reverse, is the same 404 as an id nobody made, in that route's
 * shape (api_gwbatch_shape.c, which also makes a results_url creditd's
 * own). A list's query is checked as its reference names it (limit in
 * the reference's range, its cursor; anything else 400 naming it), never
 * read loosely. Never SQL, never curl. */
#include "api.h"
#include "api_gwbatch.h"
#include "gwobject.h"
#include "ledger.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /openai/v1/batches/{id} and /anthropic/v1/messages/batches/{id}:
 * the batch as its job last saw it (its create's answer, then each
 * poll's), of the route's own kind. */
void api_gw_batch_get(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	json_t *answer = NULL;
	int found = 0, anthropic = api_gwbatch_anthropic(rq);
	struct gw_job *job = api_gwbatch_payer(ctx, rq, rs);
	if (job == NULL)
		return;
	enum cd_err rc = gwobject_id_ok(params[0]) ? ledger_gw_job_answer(ctx->db, job->account, "batch",
									  anthropic ? "/anthropic/" : "/openai/",
									  params[0], &answer, &found) : CD_OK;
	if (rc != CD_OK) {
		api_fail(rs, rc, "batch lookup");
	} else if (!found || answer == NULL) {
		api_gwbatch_no_batch(rq, rs, params[0]);
	} else {
		api_gwbatch_own_results(ctx, rq, answer);
		api_json(rs, 200, json_incref(answer));
	}
	json_decref(answer);
	free(job);
}

/* The page size of a list: the query's limit (1..100, default 20). */
int api_gwbatch_list_limit(const char *query)
{
	const char *at = query != NULL ? strstr(query, "limit=") : NULL;
	long n = at != NULL && (at == query || at[-1] == '&') ? strtol(at + 6, NULL, 10) : 20;
	return n >= 1 && n <= 100 ? (int)n : 20;
}

/* The after (OpenAI) or after_id (Anthropic) cursor of the query into
 * out; "" when none. */
void api_gwbatch_list_after(const char *query, const char *name, char *out, size_t cap)
{
	char key[32];
	out[0] = '\0';
	snprintf(key, sizeof(key), "%s=", name);
	for (const char *p = query != NULL ? query : ""; *p != '\0';) {
		size_t len = strcspn(p, "&");
		if (strncmp(p, key, strlen(key)) == 0 && len - strlen(key) < cap)
			snprintf(out, cap, "%.*s", (int)(len - strlen(key)), p + strlen(key));
		p += len + (p[len] == '&');
	}
}

/* A batch list's query as its reference names it: OpenAI's after and
 * limit (1..100), Anthropic's after_id and limit (1..1000); before_id
 * refused (creditd pages forward only: the SDKs' iteration follows
 * after_id), anything else refused by name. 0 with *limit and the cursor
 * in after (cap bytes, "" when none), or -1 with rs 400. */
static int list_query(const struct request *rq, int anthropic, int *limit, char *after, size_t cap,
		      struct response *rs)
{
	const char *cursor = anthropic ? "after_id" : "after";
	long most = anthropic ? LIMIT_GATEWAY_BATCH_LIST_ANTHROPIC_MAX : LIMIT_GATEWAY_BATCH_LIST_OPENAI_MAX;
	*limit = LIMIT_GATEWAY_BATCH_LIST_DEFAULT;
	after[0] = '\0';
	for (const char *p = rq->query != NULL ? rq->query : ""; *p != '\0';) {
		size_t len = strcspn(p, "&"), name = strcspn(p, "=&");
		const char *value = p + name + (name < len), *next = p + len + (p[len] == '&');
		size_t vlen = len - (size_t)(value - p);
		char *end = NULL;
		if (len == 0) {
			p = next;
			continue;
		}
		if (name == 5 && strncmp(p, "limit", 5) == 0) {
			long n = vlen > 0 && vlen < 8 && strspn(value, "0123456789") >= vlen ? strtol(value, &end, 10) : 0;
			if (n < 1 || n > most) {
				api_error(rs, CD_E_INVALID, "limit", "limit must be an integer from 1 to %ld", most);
				return -1;
			}
			*limit = (int)n;
		} else if (name == strlen(cursor) && strncmp(p, cursor, name) == 0) {
			if (vlen == 0 || vlen >= cap) {	/* no id creditd keeps: never read as "from the newest" */
				api_error(rs, CD_E_INVALID, cursor, "%s must be the id of a batch of this list", cursor);
				return -1;
			}
			snprintf(after, cap, "%.*s", (int)vlen, value);
		} else if (anthropic && name == 9 && strncmp(p, "before_id", 9) == 0) {
			api_error(rs, CD_E_INVALID, "before_id", "creditd pages message batches forward only: "
				  "use after_id (docs/gateway.md, \"Batches\")");
			return -1;
		} else {
			char what[64];
			snprintf(what, sizeof(what), "%.*s", (int)(name < sizeof(what) ? name : sizeof(what) - 1), p);
			api_error(rs, CD_E_INVALID, what, "'%s' is no parameter of this list (it takes %s and limit)", what,
				  cursor);
			return -1;
		}
		p = next;
	}
	return 0;
}

/* GET /openai/v1/batches and /anthropic/v1/messages/batches: the
 * account's batches of the route's kind from creditd's records, newest
 * first, in the provider's list shape. */
void api_gw_batch_list(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char after[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	json_t *data = NULL, *v;
	int more = 0, limit = 0, anthropic = api_gwbatch_anthropic(rq);
	size_t i;
	(void)params;
	if (list_query(rq, anthropic, &limit, after, sizeof(after), rs) != 0)
		return;
	struct gw_job *job = api_gwbatch_payer(ctx, rq, rs);
	if (job == NULL)
		return;
	enum cd_err rc = ledger_gw_job_list(ctx->db, job->account, "batch", anthropic ? "/anthropic/" : "/openai/",
					    after[0] != '\0' ? after : NULL, limit, &data, &more);
	free(job);
	if (rc != CD_OK) {
		api_fail(rs, rc, "batch list");
		return;
	}
	json_array_foreach(data, i, v)
		api_gwbatch_own_results(ctx, rq, v);
	size_t n = json_array_size(data);
	json_t *first = n > 0 ? json_object_get(json_array_get(data, 0), "id") : NULL;
	json_t *last = n > 0 ? json_object_get(json_array_get(data, n - 1), "id") : NULL;
	json_t *out = json_pack("{s:o, s:O?, s:O?, s:b}", "data", data, "first_id", first, "last_id", last, "has_more",
				more);
	if (out != NULL && !anthropic)
		json_object_set_new(out, "object", json_string("list"));
	api_json(rs, 200, out);
}
