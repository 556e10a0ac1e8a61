/* api_gateway.c: the gateway's routes (docs/gateway.md) on the worker's
 * thread: the call read (gwshape), who pays (the key's account and a
 * gateway key's member, or Creditd-Account for an unbound guard key;
 * Creditd-Member), the model priced, the hold's worst case (the input
 * bound, the body's output cap or the model's) authorized exactly as
 * /v1/guard/authorize is, shrunk by lowering the output cap; then the
 * call is handed on (rs->handoff) to the gateway's loop, which forwards
 * it, and an ending thread settles it (gateway.h); the call's admission
 * (its pricing, a place among max_streams, the hold) is api_gwhold.c's. A refusal is answered here; the router puts
 * every answer of these routes in the provider's shape. Never SQL, never
 * FastCGI, never curl. */
#include "api.h"
#include "api_gwhold.h"
#include "answer.h"
#include "config.h"
#include "gateway.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "gwmoney.h"
#include "gwtable.h"
#include "gwshape.h"
#include "keys.h"
#include "ledger.h"
#include "pricing.h"
#include "timefmt.h"
#include "urlpath.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A header naming the account or member that pays, beside a key bound
 * to one (docs/decisions.md, "Gateway keys"): the same is fine; another account is 404 as
 * an account that does not exist; another member is 403. An end user's
 * gateway key decides who pays by its binding alone: without a member it
 * charges the whole account, and Creditd-Member may name none (another
 * member's cap is not the key holder's to spend). 0, or -1 with rs
 * filled. */
static int payer_headers(const struct api_ctx *ctx, const struct request *rq, struct response *rs)
{
	const char *account = rq->gw_account, *member = rq->gw_member;
	if (account != NULL && account[0] != '\0' && ctx->key.account_id != 0) {
		if (api_check_account_id(account, "Creditd-Account", rs) != 0)
			return -1;
		if (strcmp(account, ctx->key.account) != 0) {
			snprintf(rs->account, sizeof(rs->account), "%s", account);
			api_fail(rs, CD_E_NOT_FOUND, "account");
			return -1;
		}
	}
	if (member != NULL && member[0] != '\0') {
		if (api_check_account_id(member, "Creditd-Member", rs) != 0)
			return -1;
		int gateway = ctx->key.scopes == KEY_SCOPE_GATEWAY;
		if ((gateway || ctx->key.member[0] != '\0') && strcmp(member, ctx->key.member) != 0) {
			api_error(rs, CD_E_FORBIDDEN, "Creditd-Member", ctx->key.member[0] != '\0' ?
				  "this key is bound to one member of the account: Creditd-Member may name that member only" :
				  "this gateway key charges the whole account: Creditd-Member may name no member");
			return -1;
		}
	}
	return 0;
}

/* Who pays: a bound key's account (and a gateway key's member); else
 * Creditd-Account (and Creditd-Member). 0, or -1 with rs filled. */
int api_gw_payer(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs)
{
	const char *account = ctx->key.account_id != 0 ? ctx->key.account : rq->gw_account;
	const char *member = ctx->key.member[0] != '\0' ? ctx->key.member : rq->gw_member;
	if (account == NULL || account[0] == '\0') {
		api_error(rs, CD_E_INVALID, "Creditd-Account", "this key is bound to no account: name the account "
			  "that pays in the header Creditd-Account");
		return -1;
	}
	if (api_check_account_id(account, "Creditd-Account", rs) != 0 || payer_headers(ctx, rq, rs) != 0)
		return -1;
	snprintf(job->account, sizeof(job->account), "%s", account);
	snprintf(job->member, sizeof(job->member), "%s", member != NULL ? member : "");
	snprintf(rs->account, sizeof(rs->account), "%s", account);
	return 0;
}

/* A call that brings its own key where no provider serving its model
 * takes one (docs/gateway.md, "Bring your own key"): 403 when [gateway] byok = off turned it off
 * for openai and anthropic (as before), else 400 naming the header, nothing
 * forwarded. Always -1 with rs filled. */
static int byok_refused(const struct gwconfig *gw, const struct gwconfig_provider *const *all, size_t n,
			const struct gw_job *job, struct response *rs)
{
	int legacy_off = !gw->byok && n == 0;
	for (size_t i = 0; i < n; i++)
		legacy_off |= all[i]->rest && !gw->byok;
	if (legacy_off) {
		api_error(rs, CD_E_FORBIDDEN, "Creditd-Provider-Key", "calls that bring their own provider key are off on "
			  "this deployment ([gateway] byok = off)");
		return -1;
	}
	api_error(rs, CD_E_INVALID, "Creditd-Provider-Key", "no provider serving '%s' takes a caller's own key "
		  "(Creditd-Provider-Key): [provider %s] byok is off, as it is unless the operator turns it on; send the "
		  "call without the header", job->ask.model, all[0]->name);
	return -1;
}

/* The providers the call may try (docs/gateway.md, "Fallback"): those of its route's kind
 * serving its model, in order, each with a key of the deployment's, at
 * most [gateway] max_attempts; a call that brings its own key
 * (Creditd-Provider-Key, BYOK) goes to the first that takes one alone
 * (a provider's byok: docs/gateway.md, "Bring your own key"). 0, or -1 with rs filled: 400 (param
 * model) when none serves the model, 400 or 403 (param
 * Creditd-Provider-Key) when none takes the call's key, 503
 * provider_not_configured when none has a key and the call brought none. */
static int providers(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs)
{
	const struct gwconfig *gw = job->gw;
	const struct gwconfig_provider *all[LIMIT_METRICS_PROVIDERS];
	const char *own = rq->gw_provider_key;
	const struct gwkind *kind = job->route->kind;
	job->byok = own != NULL && own[0] != '\0';
	job->stream_cost = rq->gw_stream_cost != NULL && strcmp(rq->gw_stream_cost, "1") == 0;
	size_t n = gwconfig_candidates(gw, kind, job->ask.model, all, LIMIT_METRICS_PROVIDERS);
	if (n == 0 && job->byok && !gw->byok)
		return byok_refused(gw, all, n, job, rs);	/* as before: off before the model is looked at */
	if (n == 0) {
		api_error(rs, CD_E_INVALID, "model", "no %s provider serves the model '%s' ([provider NAME] models)",
			  kind->title, job->ask.model);
		return -1;
	}
	job->nproviders = 0;
	for (size_t i = 0; i < n && job->nproviders < gw->max_attempts; i++)
		if (job->byok ? job->nproviders == 0 && all[i]->byok : all[i]->api_key[0] != '\0')
			job->providers[job->nproviders++] = all[i];
	if (job->nproviders == 0 && job->byok)
		return byok_refused(gw, all, n, job, rs);
	if (job->nproviders == 0) {
		api_error(rs, CD_E_PROVIDER_OFF, NULL, "no %s provider serving '%s' has a key configured (%s) and the call "
			  "brought none (Creditd-Provider-Key)", kind->title, job->ask.model,
			  all[0]->rest ? "[gateway] *_api_key" : "[provider NAME] api_key");
		return -1;
	}
	if (job->byok && (strlen(own) > LIMIT_PROVIDER_KEY_BYTES || strpbrk(own, "\r\n") != NULL)) {
		api_error(rs, CD_E_INVALID, "Creditd-Provider-Key", "the provider key is malformed or longer than %d "
			  "bytes", LIMIT_PROVIDER_KEY_BYTES);
		return -1;
	}
	snprintf(job->provider_key, sizeof(job->provider_key), "%s", job->byok ? own : "");
	return 0;
}

/* The forwarded client headers (every kind's, rq->gw_forwarded in
 * gwkind_forwarded_at's order), each at most LIMIT_GATEWAY_HEADER_BYTES;
 * the call's kind's kept in job->forwarded. Checked on every route, the
 * last kind's first (the order refusals have always named them in). */
int api_gw_forwarded(const struct request *rq, struct gw_job *job, struct response *rs)
{
	size_t n = gwkind_forwarded_count();
	for (size_t i = n; i-- > 0;) {
		const struct gwkind *k;
		size_t j;
		const char *name = gwkind_forwarded_at(i, &k, &j), *value = rq->gw_forwarded[i];
		if (value == NULL)
			continue;
		if (strlen(value) > LIMIT_GATEWAY_HEADER_BYTES || strpbrk(value, "\r\n") != NULL) {
			api_error(rs, CD_E_INVALID, name, "the header %s is longer than %d bytes", name,
				  LIMIT_GATEWAY_HEADER_BYTES);
			return -1;
		}
		if (k == job->route->kind)
			snprintf(job->forwarded[j], LIMIT_GATEWAY_HEADER_BYTES + 1, "%s", value);
	}
	return 0;
}

/* ---- what the route's table says (gwtable.h) ---- */

/* The body walked again with the operator's free_fields: [gateway]'s and
 * each provider's the call may reach, every one of which must take it. */
static int table_again(const struct gwconfig *gw, const struct request *rq, struct gw_job *job, struct response *rs)
{
	json_error_t jerr;
	struct gwshape_form form;
	char param[LIMIT_GATEWAY_PARAM_BYTES], err[256];
	const char *unused;
	/* A form route's fields, as gwshape_read_form read them. */
	json_t *root = gwkind_form(job->route) ? gwshape_form_json(rq->content_type, (const unsigned char *)rq->body,
								    rq->body_len, &form, err, sizeof(err), &unused)
		       : job->content_type[0] != '\0' ? gwkind_audio_form_json(rq->content_type, rq->body, rq->body_len)
		       : json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	struct gwtable_seen seen;
	int rc = 0, fields = gwkind_form(job->route) || job->content_type[0] != '\0';
	for (int i = 0; i < job->nproviders && rc == 0 && root != NULL; i++) {
		struct gwtable_extra x[2] = {gw->free_fields, job->providers[i]->free_fields};
		rc = (fields ? gwtable_walk_form : gwtable_walk)(gwtable_of(job->route), root, x, 2, &seen, param,
							       sizeof(param), err, sizeof(err));
		if (rc == 0)
			gwshape_table_seen(&job->ask, seen.dims);
	}
	json_decref(root);
	if (root == NULL)
		api_error(rs, CD_E_INTERNAL, NULL, "the body read before could not be read again");
	else if (rc != 0)
		api_error(rs, CD_E_INVALID, param, "%s", err);
	return root == NULL || rc != 0 ? -1 : 0;
}

/* The beta header's names, each the table's or every provider's
 * free_fields' "beta:NAME". */
static int table_betas(const struct gwconfig *gw, struct gw_job *job, struct response *rs)
{
	const struct gwkind *k = job->route->kind;
	struct gwtable_seen seen = {0};
	char err[256];
	if (k->beta_forwarded < 0 || job->forwarded[k->beta_forwarded][0] == '\0')
		return 0;
	for (int i = 0; i < job->nproviders; i++) {
		struct gwtable_extra x[2] = {gw->free_fields, job->providers[i]->free_fields};
		if (gwtable_betas(gwtable_of(job->route), job->forwarded[k->beta_forwarded], x, 2, &seen, err,
				  sizeof(err)) != 0) {
			api_error(rs, CD_E_INVALID, k->forwarded[k->beta_forwarded], "%s", err);
			return -1;
		}
		job->ask.table_dims |= seen.dims;
	}
	return 0;
}

static int model_allowed(const struct api_ctx *ctx, const char *model, const char *param, struct response *rs);

/* A tool that runs a model of its own (docs/gateway.md, "A tool's own
 * model"): its model held to the key's model list as the call's own is
 * (403 model_not_allowed, param tools) and, on a charged call, priced:
 * its row pinned on the job for the hold and the settle; else 400 naming
 * tools. Nothing is forwarded or held. */
static int tool_model(struct api_ctx *ctx, struct gw_job *job, struct response *rs)
{
	const char *m = job->ask.tool_model;
	int64_t margin;
	if (m[0] == '\0' && !job->ask.tool_model_bad && !(job->ask.table_dims & 1u << GWTABLE_DIM_TOOL_MODEL))
		return 0;
	if (m[0] == '\0') {
		api_error(rs, CD_E_INVALID, "tools", "a tool that runs a model of its own names no model creditd can "
			  "read (\"model\", a model name): not forwarded");
		return -1;
	}
	if (model_allowed(ctx, m, "tools", rs) != 0)
		return -1;
	if (job->byok || job->route->free)
		return 0;
	if (!ledger_price_model_wait(m, &job->tool_price, &margin) || !pricing_prices_tokens(&job->tool_price))
		api_error(rs, CD_E_INVALID, "tools", "the advisor tool runs the model '%s', which creditd does not "
			  "price per token: not forwarded", m);
	else if (job->ask.tool_model_cache_1h && !pricing_dim_get(&job->tool_price, PRICE_DIM_CACHE_WRITE_1H, NULL))
		api_error(rs, CD_E_INVALID, "tools", "the advisor tool's caching asks 1-hour cache writes, which %s's "
			  "price row does not price: not forwarded", m);
	else
		return 0;
	return -1;
}

/* A tier left out or "auto" where that is the project's default
 * (OpenAI): held at the dearest default of the providers the call may
 * reach (priority above standard above flex); charged as the answer
 * says it served. */
static void default_tier(struct gw_job *job)
{
	static const int rank[] = {[GW_TIER_STANDARD] = 1, [GW_TIER_PRIORITY] = 2, [GW_TIER_FLEX] = 0, [GW_TIER_AUTO] = 3};
	if (!job->ask.tier_defaulted)
		return;
	job->ask.tier = GW_TIER_FLEX;
	for (int i = 0; i < job->nproviders; i++)
		if (rank[job->providers[i]->default_tier] > rank[job->ask.tier])
			job->ask.tier = job->providers[i]->default_tier;
}

static int table_check(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs)
{
	const struct gwconfig *gw = job->gw;
	default_tier(job);
	if (job->ask.table_refused && table_again(gw, rq, job, rs) != 0)
		return -1;
	return table_betas(gw, job, rs) != 0 || tool_model(ctx, job, rs) != 0 ? -1 : 0;
}

/* A key limited to some models (docs/gateway.md, "What a key holder can and cannot do") calling
 * another (the call's own, or a tool's: param): 403 model_not_allowed, in the provider's shape
 * (the router shapes it); nothing held or forwarded. 0 when it may. */
int api_gw_model_allowed(const struct api_ctx *ctx, const char *model, const char *param, struct response *rs)
{
	return model_allowed(ctx, model, param, rs);
}

static int model_allowed(const struct api_ctx *ctx, const char *model, const char *param, struct response *rs)
{
	if (keys_model_allowed(ctx->key.models, model != NULL ? model : ""))
		return 0;
	json_t *msg = json_sprintf("this key may not call the model '%s' (it lists the models it may)", model);
	api_json(rs, 403, json_pack("{s:{s:s, s:s, s:o, s:s}}", "error", "type", "permission_error", "code",
				    "model_not_allowed", "message", msg != NULL ? msg : json_string("this key may not call "
				    "this model"), "param", param));
	return -1;
}

/* The body read for its route: JSON (gwshape_read), or a transcription's
 * form (gwkind_audio_read_form), its Content-Type kept to send upstream
 * with the body unchanged (docs/gateway.md, "Audio and speech"). */
static int read_body(const struct gwkind_route *route, const struct request *rq, struct gw_job *job, char *err,
		     size_t errcap, const char **param)
{
	if (gwkind_media(route) != GW_MEDIA_TRANSCRIPTION)
		return gwshape_read(route, rq->body, rq->body_len, &job->ask, err, errcap, param);
	if (rq->content_type == NULL || strlen(rq->content_type) >= sizeof(job->content_type) ||
	    strpbrk(rq->content_type, "\r\n") != NULL) {
		*param = NULL;
		snprintf(err, errcap, "the body must be multipart/form-data, its Content-Type at most %d bytes",
			 LIMIT_GATEWAY_CONTENT_TYPE_BYTES - 1);
		return -1;
	}
	snprintf(job->content_type, sizeof(job->content_type), "%s", rq->content_type);
	if (gwkind_audio_read_form(route, rq->content_type, rq->body, rq->body_len, &job->ask, err, errcap, param) != 0)
		return -1;
	/* The form's fields against the route's table, as gwshape_read walks
	 * a JSON body's: a refusal taken again with free_fields (table_check). */
	struct gwtable_seen seen;
	struct gw_ask *ask = &job->ask;
	json_t *o = gwkind_audio_form_json(rq->content_type, rq->body, rq->body_len);
	ask->table_refused = o == NULL || gwtable_walk_form(gwtable_of(route), o, NULL, 0, &seen, ask->table_param,
							    sizeof(ask->table_param), ask->table_err,
							    sizeof(ask->table_err)) != 0;
	ask->table_dims = ask->table_refused ? 0 : seen.dims;
	json_decref(o);
	return 0;
}

/* A background run brought with the caller's own key (docs/gateway.md,
 * "Background responses"): refused, nothing forwarded. Its end is learnt
 * by creditd's poll with the deployment's key, which cannot see another
 * organization's run, and creditd keeps no caller's key. 0 when taken. */
static int background_byok(const struct gw_job *job, struct response *rs)
{
	if (!job->ask.background || !job->byok)
		return 0;
	api_error(rs, CD_E_INVALID, "background", "\"background\": true is not taken with Creditd-Provider-Key: creditd "
		  "follows a background run with the deployment's key and keeps no caller's key");
	return -1;
}

static void gw_call(struct api_ctx *ctx, const struct request *rq, struct response *rs,
		    const struct gwkind_route *route)
{
	char err[256];
	const char *param = NULL;
	struct gw_job *job = calloc(1, sizeof(*job));
	if (job == NULL) {
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
		return;
	}
	job->route = route;
	job->gw = ctx->gw;
	job->place = -1;
	if ((gwkind_form(route) ? gwshape_read_form(route, rq->content_type, (const unsigned char *)rq->body, rq->body_len,
						    &job->ask, err, sizeof(err), &param)
	     : read_body(route, rq, job, err, sizeof(err), &param)) != 0)
		api_error(rs, CD_E_INVALID, param, "%s", err);
	else if (model_allowed(ctx, job->ask.model, "model", rs) != 0 || api_gw_payer(ctx, rq, job, rs) != 0 ||
		 providers(ctx, rq, job, rs) != 0 || background_byok(job, rs) != 0 || api_gw_forwarded(rq, job, rs) != 0 ||
		 table_check(ctx, rq, job, rs) != 0)
		;
	else if (api_gw_admission(ctx, rq, job, rs) == 0) {
		rs->handoff = job;
		return;
	}
	free(job);
}

int api_gw_batch_line(struct api_ctx *ctx, const struct request *rq, const struct gwkind_route *route,
		      const char *body, size_t len, int64_t *amount, char *model, size_t mcap, struct response *rs)
{
	char err[256];
	const char *param = NULL;
	struct guard_authorize r;
	struct request line = *rq;
	struct gw_job *job = calloc(1, sizeof(*job));
	int rc = -1;
	if (job == NULL) {
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
		return -1;
	}
	line.body = body;
	line.body_len = len;
	line.content_type = "application/json";
	memset(&r, 0, sizeof(r));
	job->route = route;
	job->gw = ctx->gw;
	job->place = -1;
	job->batch = 1;
	if (gwshape_read(route, body, len, &job->ask, err, sizeof(err), &param) != 0)
		api_error(rs, CD_E_INVALID, param, "%s", err);
	else if (model_allowed(ctx, job->ask.model, "model", rs) != 0 || api_gw_payer(ctx, &line, job, rs) != 0 ||
		 providers(ctx, &line, job, rs) != 0 || table_check(ctx, &line, job, rs) != 0)
		;
	else if (job->byok)
		api_error(rs, CD_E_INVALID, "Creditd-Provider-Key", "a batch is held and charged by creditd: send it "
			  "without the caller's own key");
	else if (job->ask.stream)
		api_error(rs, CD_E_INVALID, "stream", "a batch's line does not stream");
	else if (api_gw_hold_of(ctx, job, &r, rs) == 0) {
		*amount = r.amount_micros;
		snprintf(model, mcap, "%s", job->ask.model);
		rc = 0;
	}
	free(job);
	return rc;
}

/* POST on a route a provider kind serves (gwkind.h): the route is the
 * request's path. */
void api_gw_call(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char decoded[1][URLPATH_PARAM_BYTES];
	const struct gwkind *k = gwkind_of_path(rq->path);
	const struct gwkind_route *route = NULL;
	int n;
	(void)params;
	/* Matched as the router matched it (its segments decoded). */
	for (size_t i = 0; k != NULL && route == NULL && i < k->nroutes; i++)
		if (k->routes[i].upstream != NULL && !k->routes[i].object &&
		    urlpath_match(k->routes[i].path, rq->path, decoded, 0, &n) == URLPATH_MATCH)
			route = &k->routes[i];
	if (route == NULL) {
		api_error(rs, CD_E_NOT_FOUND, NULL, "no such gateway route");
		return;
	}
	gw_call(ctx, rq, rs, route);
}

/* GET /openai/v1/models: the priced models the key may call (all, or
 * those it lists), in OpenAI's list shape (created 0: creditd does not
 * know when a model came out). */
void api_gw_models(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	(void)rq;
	(void)params;
	json_t *prices = ledger_prices_json(ctx->cfg->currency), *data = json_array(), *m;
	size_t i;
	json_array_foreach(json_object_get(prices, "data"), i, m) {
		const char *id = json_string_value(json_object_get(m, "model"));
		json_t *provider = json_object_get(m, "provider");
		if (provider != NULL && !json_is_null(provider))
			continue;	/* a provider's own price: its model is listed once, by its general row */
		if (id != NULL && keys_model_allowed(ctx->key.models, id))	/* what the key may call */
			json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", id, "object", "model",
							      "created", 0, "owned_by", "creditd"));
	}
	json_decref(prices);
	api_json(rs, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

/* GET /openai/v1/models/{model}: one priced model in OpenAI's shape, as
 * the list shows it; a model creditd does not price, or the key may not
 * call, is OpenAI's own 404 (code model_not_found, param null): nothing
 * is forwarded. */
void api_gw_model(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct price p;
	int64_t margin;
	const char *model = params[0];
	(void)rq;
	int named = jsonio_check_text(model, strlen(model), 1, LIMIT_NAME_BYTES) == 0;
	if (named && keys_model_allowed(ctx->key.models, model) && ledger_price_model_wait(model, &p, &margin)) {
		api_json(rs, 200, json_pack("{s:s, s:s, s:i, s:s}", "id", model, "object", "model", "created", 0,
					    "owned_by", "creditd"));
		return;
	}
	json_t *msg = named ? json_sprintf("The model `%s` does not exist or you do not have access to it.", model) : NULL;
	if (msg == NULL)	/* not a name (too long, not UTF-8): not echoed */
		msg = json_string("The model does not exist or you do not have access to it.");
	api_json(rs, 404, json_pack("{s:{s:s, s:s, s:n, s:o}}", "error", "type", "invalid_request_error", "code",
				    "model_not_found", "param", "message", msg));
}
