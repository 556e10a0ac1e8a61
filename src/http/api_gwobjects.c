/* api_gwobjects.c: the object routes of the gateway (docs/gateway.md,
 * "Provider objects"): a provider object made through creditd (a
 * Responses answer today) retrieved, deleted or its items listed, on the
 * worker's thread up to the hand-off, as a call is (api_gateway.c).
 *
 * Who may reach an object is creditd's record alone (ledger_gw_object_*,
 * sql/061): an id the calling key's account did not make through
 * creditd is answered as OpenAI answers an object it does not have (404,
 * invalid_request_error), whether another account made it or nobody did,
 * and nothing is forwarded; the provider's own lists are never asked.
 * The record also names the provider that made the object, and the call
 * goes to that one alone (it lives nowhere else: no fallback). The
 * routes are free: nothing is held or charged, but the call counts
 * against its account's request rates and takes a place among
 * max_streams like any call. Never SQL, never FastCGI, never curl. */
#include "api.h"
#include "api_gwhold.h"
#include "gateway.h"
#include "gwbackground.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "gwobject.h"
#include "ledger.h"
#include "urlpath.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The object route of the request's method at its path (HEAD is GET's). */
static const struct gwkind_route *object_route(const struct request *rq)
{
	char decoded[1][URLPATH_PARAM_BYTES];
	const struct gwkind *k = gwkind_of_path(rq->path);
	const char *method = strcmp(rq->method, "HEAD") == 0 ? "GET" : rq->method;
	int n;
	for (size_t i = 0; k != NULL && i < k->nroutes; i++) {
		const struct gwkind_route *r = &k->routes[i];
		if (r->object && strcmp(r->method, method) == 0 && urlpath_match(r->path, rq->path, decoded, 1, &n) ==
		    URLPATH_MATCH)
			return r;
	}
	return NULL;
}

/* The answer to an object the account does not have, another account's
 * included: OpenAI's own 404 for an id it does not know (type
 * invalid_request_error, param and code null), the id echoed only when
 * it is text. */
static void not_found(struct response *rs, const char *id)
{
	json_t *msg = gwobject_id_ok(id) ? json_sprintf("No response found with id '%s'.", id) : NULL;
	if (msg == NULL)
		msg = json_string("No response found with that id.");
	api_json(rs, 404, json_pack("{s:{s:o, s:s, s:n, s:n}}", "error", "message", msg, "type", "invalid_request_error",
				    "param", "code"));
}

/* A DELETE of a response whose background run still runs is refused as
 * OpenAI refuses a request it will not take (409, invalid_request_error):
 * its usage, read at its end, would be gone with it (docs/gateway.md,
 * "Background responses"). A run that ended is settled first. 0 the
 * DELETE goes on, or -1 with rs filled. */
static int delete_checked(struct api_ctx *ctx, const struct gw_job *job, const char *id, struct response *rs)
{
	if (strcmp(job->route->method, "DELETE") != 0)
		return 0;
	int r = gwbackground_deletable(ctx->db, job->account, id);
	if (r == 1)
		return 0;
	if (r < 0) {
		api_error(rs, CD_E_UNAVAILABLE, NULL, "whether this response's background run still runs could not be "
			  "learnt: retry");
		return -1;
	}
	api_json(rs, 409, json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", "This response's background run "
				    "is still running: cancel it first (POST /openai/v1/responses/{id}/cancel).", "type",
				    "invalid_request_error", "param", "code"));
	return -1;
}

/* The provider that made the object (its record's, or the stream's in
 * flight), into job as its one provider, with the caller's own key when
 * it brought one (Creditd-Provider-Key: an object made with its key lives
 * in its organization). 0, or -1 with rs filled. */
static int provider_of(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, const char *name,
		       struct response *rs)
{
	const struct gwconfig *gw = ctx->gw;
	const struct gwconfig_provider *p = gwconfig_provider_of(gw, job->route->kind, name);
	const char *own = rq->gw_provider_key;
	job->byok = own != NULL && own[0] != '\0';
	if (p == NULL) {
		api_error(rs, CD_E_PROVIDER_OFF, NULL, "the provider that made this %s ('%s') is no longer configured",
			  "response", name[0] != '\0' ? name : job->route->kind->name);
		return -1;
	}
	if (job->byok && (!p->byok || strlen(own) > LIMIT_PROVIDER_KEY_BYTES || strpbrk(own, "\r\n") != NULL)) {
		api_error(rs, CD_E_INVALID, "Creditd-Provider-Key", "the provider '%s' takes no caller's own key here "
			  "(its byok is off, or the key is malformed): send the call without the header", p->name);
		return -1;
	}
	if (!job->byok && p->api_key[0] == '\0') {
		api_error(rs, CD_E_PROVIDER_OFF, NULL, "the provider '%s' has no key configured and the call brought none "
			  "(Creditd-Provider-Key)", p->name);
		return -1;
	}
	job->providers[0] = p;
	job->nproviders = 1;
	snprintf(job->provider_key, sizeof(job->provider_key), "%s", job->byok ? own : "");
	return 0;
}

/* The object checked: its id, the query, the caller's account's record
 * of it, the route's own refusal, where it goes. 0, or -1 with rs filled. */
static int object_checked(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, const char *id,
			  struct response *rs)
{
	char query[LIMIT_GATEWAY_QUERY_BYTES], param[64], err[512], provider[LIMIT_CONFIG_NAME_BYTES] = "";
	int owned = 0;
	if (!gwobject_id_ok(id)) {
		not_found(rs, id);
		return -1;
	}
	if (gwobject_query(job->route, rq->query, query, sizeof(query), param, sizeof(param), err, sizeof(err)) != 0) {
		api_error(rs, CD_E_INVALID, param[0] != '\0' ? param : NULL, "%s", err);
		return -1;
	}
	enum cd_err rc = gateway_response_in_flight(job->account, id, provider, sizeof(provider)) ? (owned = 1, CD_OK)
		       : ledger_gw_object_find(ctx->db, job->account, LEDGER_GW_RESPONSE, id, &owned, provider,
					       sizeof(provider));
	if (rc != CD_OK) {
		api_fail(rs, rc, "object lookup");
		return -1;
	}
	if (!owned) {
		not_found(rs, id);
		return -1;
	}
	if (job->route->refusal != NULL) {
		api_error(rs, CD_E_INVALID, NULL, "%s", job->route->refusal);
		return -1;
	}
	if (provider_of(ctx, rq, job, provider, rs) != 0)
		return -1;
	if (gwobject_path(job->route, id, query, job->object_path, sizeof(job->object_path)) != 0 ||
	    strlen(job->providers[0]->base_url) + strlen(job->object_path) >= LIMIT_GATEWAY_URL_BYTES) {
		api_error(rs, CD_E_INVALID, NULL, "the provider's URL for this call would be longer than creditd sends "
			  "(%d bytes)", LIMIT_GATEWAY_URL_BYTES);
		return -1;
	}
	snprintf(job->object_id, sizeof(job->object_id), "%s", id);
	return delete_checked(ctx, job, id, rs);
}

/* GET and DELETE /openai/v1/responses/{id}, GET .../input_items, POST
 * .../cancel (docs/gateway.md, "Provider objects"). */
void api_gw_object(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	const struct gwkind_route *route = object_route(rq);
	struct gw_job *job = route != NULL ? calloc(1, sizeof(*job)) : NULL;
	if (job == NULL) {
		api_error(rs, route != NULL ? CD_E_INTERNAL : CD_E_NOT_FOUND, NULL, route != NULL ? "out of memory"
			  : "no such gateway route");
		return;
	}
	job->route = route;
	job->gw = ctx->gw;
	job->place = -1;
	job->cap = -1;
	job->ask.output_cap = -1;
	job->ask.choices = 1;
	if (api_gw_payer(ctx, rq, job, rs) != 0 || object_checked(ctx, rq, job, params[0], rs) != 0 ||
	    api_gw_forwarded(rq, job, rs) != 0 || api_gw_admit(ctx, rq, job, rs) != 0) {
		free(job);
		return;
	}
	if (api_gw_count(ctx, job, rs) != 0) {
		gateway_unadmit(job->place);
		free(job);
		return;
	}
	rs->handoff = job;
}
