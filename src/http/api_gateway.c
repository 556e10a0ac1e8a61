/* api_gateway.c: the gateway's routes (docs/gateway.md) on the worker's
 * thread: the call read (gwshape), who pays (the key's account and a
 * gateway key's member, or Creditd-Account for an unbound guard key;
 * Creditd-Member), the model priced, the hold's worst case (the input
 * bound, the body's output cap or the model's) authorized exactly as
 * /v1/guard/authorize is, shrunk by lowering the output cap; then the
 * call is handed on (rs->handoff) to the gateway's loop, which forwards
 * it, and an ending thread settles it (gateway.h). A refusal is answered here; the router puts
 * every answer of these routes in the provider's shape. Never SQL, never
 * FastCGI, never curl. */
#include "api.h"
#include "answer.h"
#include "config.h"
#include "gateway.h"
#include "gwbuffer.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "gwmoney.h"
#include "gwtable.h"
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
static int payer(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs)
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
	const struct gwconfig *gw = gwconfig_of(ctx->cfg);
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
static int forwarded(const struct request *rq, struct gw_job *job, struct response *rs)
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
	json_t *root = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	char param[LIMIT_GATEWAY_PARAM_BYTES], err[256];
	struct gwtable_seen seen;
	int rc = 0;
	for (int i = 0; i < job->nproviders && rc == 0 && root != NULL; i++) {
		struct gwtable_extra x[2] = {gw->free_fields, job->providers[i]->free_fields};
		rc = gwtable_walk(gwtable_of(job->route), root, x, 2, &seen, param, sizeof(param), err, sizeof(err));
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
	struct gwtable_seen seen;
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
	if (!ledger_price_model_wait(m, &job->tool_price, &margin))
		api_error(rs, CD_E_INVALID, "tools", "the advisor tool runs the model '%s', which creditd does not "
			  "price: not forwarded", m);
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
	const struct gwconfig *gw = gwconfig_of(ctx->cfg);
	default_tier(job);
	if (job->ask.table_refused && table_again(gw, rq, job, rs) != 0)
		return -1;
	return table_betas(gw, job, rs) != 0 || tool_model(ctx, job, rs) != 0 ? -1 : 0;
}

/* Anthropic's speed "fast" and an inference_geo other than "global" bill
 * every token at a multiple of the model's price (docs/gateway.md): p
 * scaled by the row's fast_multiplier_bps, geo_us_multiplier_bps (both
 * when both are asked), so the hold, the settle and the pinned price
 * agree; refused 400 naming the member when the row gives no multiple. */
static int multiplied(const struct gw_job *job, struct price *p, struct response *rs)
{
	int64_t fast = 10000, geo = 10000;
	int geo_asked = job->ask.geo[0] != '\0' && strcmp(job->ask.geo, "global") != 0;
	if (job->byok || (!job->ask.fast && !geo_asked))
		return 0;
	if (job->ask.fast && !pricing_dim_get(p, PRICE_DIM_FAST_MULTIPLIER, &fast)) {
		api_error(rs, CD_E_INVALID, "speed", "\"speed\": \"fast\" is billed at a multiple of %s's price, which "
			  "its price row does not give (fast_multiplier_bps): not forwarded", job->ask.model);
		return -1;
	}
	if (geo_asked && (strcmp(job->ask.geo, "us") != 0 || !pricing_dim_get(p, PRICE_DIM_GEO_US_MULTIPLIER, &geo))) {
		api_error(rs, CD_E_INVALID, "inference_geo", "\"inference_geo\": \"%s\" is billed at a multiple of %s's "
			  "price, which its price row does not give: not forwarded", job->ask.geo, job->ask.model);
		return -1;
	}
	/* Each in 1..LIMIT_PRICE_MULTIPLIER_BPS (a row's value outside it is
	 * none): the product fits, rounded up. */
	if (fast < 1 || geo < 1 || pricing_scaled(p, (fast * geo + 9999) / 10000, p) != 0) {
		api_error(rs, CD_E_INVALID, "speed", "%s's prices times their multiple pass what creditd can charge",
			  job->ask.model);
		return -1;
	}
	return 0;
}

/* Input stored at the provider
 * (docs/gateway.md, "Input the body does not carry"): a BYOK call's is its
 * own; else previous_response_id is refused (creditd keeps no record of the
 * account's own responses yet), and the other objects are taken only with
 * [gateway] provider_objects = on (one tenant to the provider's org), held at
 * the model's max_input_tokens, refused when its row has none. */
/* previous_response_id: only a response this account received through
 * creditd (sql/045), held at the model's max_input_tokens like any
 * stored input (docs/gateway.md, "previous_response_id"). 0, or -1 with rs filled. */
static int previous_response(struct api_ctx *ctx, struct gw_job *job, const struct price *p, struct response *rs)
{
	const char *field = "previous_response_id";
	int64_t most;
	int owned = 0;
	if (job->ask.previous_response[0] == '\0' || job->byok)
		return 0;
	enum cd_err rc = gateway_response_in_flight(job->account, job->ask.previous_response) ? (owned = 1, CD_OK)
		       : ledger_gw_response_owned(ctx->lg, job->account, job->ask.previous_response, &owned);
	if (rc != CD_OK)
		api_error(rs, rc, NULL, "%s", errors_strerror(rc));
	else if (!owned)
		api_error(rs, CD_E_INVALID, field, "\"previous_response_id\" names no response account '%s' received through "
			  "creditd in the last %d days: the provider would bill a context creditd cannot bound; not forwarded",
			  job->account, LIMIT_GATEWAY_RESPONSE_DAYS);
	else if (!pricing_dim_get(p, PRICE_DIM_MAX_INPUT_TOKENS, &most))
		api_error(rs, CD_E_INVALID, field, "\"previous_response_id\" brings back a stored context: it is held at "
			  "the model's max_input_tokens, which %s's price row does not give: not forwarded", job->ask.model);
	else {
		job->ask.input_bound = most > job->ask.input_bound ? most : job->ask.input_bound;
		return 0;
	}
	return -1;
}

static int stored_input(struct api_ctx *ctx, struct gw_job *job, const struct price *p, struct response *rs)
{
	const char *field = job->ask.stored;
	int64_t most;
	if (previous_response(ctx, job, p, rs) != 0)
		return -1;
	if (field == NULL || job->byok)
		return 0;
	if (!gwconfig_of(ctx->cfg)->provider_objects)
		api_error(rs, CD_E_INVALID, field, "\"%s\" names input stored at the provider, which the body does not "
			  "carry: not forwarded ([gateway] provider_objects = off)", field);
	else if (!pricing_dim_get(p, PRICE_DIM_MAX_INPUT_TOKENS, &most))
		api_error(rs, CD_E_INVALID, field, "\"%s\" names input stored at the provider: it is held at the model's "
			  "max_input_tokens, which %s's price row does not give: not forwarded", field, job->ask.model);
	else {
		job->ask.input_bound = most > job->ask.input_bound ? most : job->ask.input_bound;
		return 0;
	}
	return -1;
}

/* Documents held by their pages (docs/gateway.md, "Documents are held by
 * their pages"): what the pages add to the input bound is at most the
 * model's max_input_tokens (the most context the provider reads); a
 * document whose pages could not be counted is held at max_input_tokens,
 * and refused when the row gives none, as stored input is. A BYOK call's
 * are its own. 0, or -1 with rs filled. */
static int documents(struct gw_job *job, const struct price *p, int priced, struct response *rs)
{
	int64_t most = 0, rest = job->ask.input_bound - job->ask.doc_tokens;
	int has_most = priced && pricing_dim_get(p, PRICE_DIM_MAX_INPUT_TOKENS, &most);
	if (job->byok)
		return 0;
	if (job->ask.doc_uncounted != NULL && !has_most) {
		api_error(rs, CD_E_INVALID, job->ask.doc_uncounted, "a document whose pages creditd cannot count (not a "
			  "PDF it reads, encrypted, cut short, or its page tree compressed) is held at the model's "
			  "max_input_tokens, which %s's price row does not give: not forwarded", job->ask.model);
		return -1;
	}
	if (job->ask.doc_uncounted != NULL)
		job->ask.input_bound = most > job->ask.input_bound ? most : job->ask.input_bound;
	else if (has_most && job->ask.doc_tokens > 0 && job->ask.input_bound > (most > rest ? most : rest))
		job->ask.input_bound = most > rest ? most : rest;
	return 0;
}

/* A call whose input may pass its model's long-context threshold is held at
 * the tier's prices, every token (docs/gateway.md, "The long-context tier"):
 * the input bound is an upper bound, so a call under the threshold is never
 * held so. Anthropic's tier needs its 1M-context beta, without which the
 * provider refuses such an input itself: held at the standard prices. */
static void long_context(struct gw_job *job, const struct price *p)
{
	const char *forwarded[LIMIT_GATEWAY_KIND_FORWARDED];
	for (size_t i = 0; i < LIMIT_GATEWAY_KIND_FORWARDED; i++)
		forwarded[i] = job->forwarded[i];
	if (job->route->kind->long_context_off != NULL && job->route->kind->long_context_off(forwarded)) {
		job->ask.long_context_off = 1;
		return;
	}
	if (job->byok || !pricing_long_context(p, job->ask.input_bound))
		return;
	job->ask.long_context = job->route->input_member;
}

/* What the hold adds to its tokens (gwmoney.h): the web searches' fees
 * and a tool's own model's runs (its pinned row's). 0, or -1 past int64. */
static int fees_held(const struct gwconfig *gw, struct gw_job *job, const struct price *p, struct guard_authorize *r)
{
	if (gwmoney_hold(&job->ask, p, gw->max_tool_calls_held, &r->hold_price, &r->hold_fees_raw,
			 &job->searches_held) != 0 ||
	    gwmoney_tool_hold(&job->ask, &job->tool_price, gw->max_tool_calls_held, job->hold_input, job->hold_output,
			      &job->tool_held) != 0 || job->tool_held.raw > INT64_MAX - r->hold_fees_raw)
		return -1;
	r->hold_fees_raw += job->tool_held.raw;
	return 0;
}

/* The hold's figures: the input bound, the output asked (the body's cap,
 * else the model's), its price. 0, or -1 with rs filled. */
static int billed(const struct gw_job *job, const struct price *p, struct response *rs);

static int hold_of(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	struct price p;
	int64_t margin;
	int priced = ledger_price_model_wait(job->ask.model, &p, &margin);
	if (!priced && !job->byok) {
		api_error(rs, CD_E_INVALID, "model", "unknown model '%s': creditd holds and charges only priced models",
			  job->ask.model);
		return -1;
	}
	if (documents(job, &p, priced, rs) != 0 || stored_input(ctx, job, &p, rs) != 0 || multiplied(job, &p, rs) != 0)
		return -1;
	long_context(job, &p);
	if (billed(job, &p, rs) != 0)
		return -1;
	int64_t reasons = 0;
	job->reasoning = priced && pricing_dim_get(&p, PRICE_DIM_REASONING, &reasons) && reasons == 1;
	int64_t output = job->route->input_only ? 0 : job->ask.output_cap >= 0 ? job->ask.output_cap
							      : priced ? p.max_output_tokens : 0;
	if (priced && output > p.max_output_tokens) {
		api_error(rs, CD_E_INVALID, job->ask.cap_field, "%s (%lld) exceeds %s's limit of %lld",
			  job->ask.cap_field, (long long)output, job->ask.model, (long long)p.max_output_tokens);
		return -1;
	}
	/* Chat's n: each choice may write the cap. */
	int64_t n = job->ask.choices > 0 ? job->ask.choices : 1;
	if (output > LIMIT_TOKENS_MAX / n) {
		api_error(rs, CD_E_INVALID, "n", "%lld choices of %lld output tokens are more than one call may hold",
			  (long long)n, (long long)output);
		return -1;
	}
	const struct gwconfig *gw = gwconfig_of(ctx->cfg);
	int64_t least = output < gw->min_output_tokens ? output : gw->min_output_tokens;
	job->hold_input = job->ask.input_bound;
	job->hold_output = output * n;
	r->input_tokens = job->hold_input;
	r->max_output_tokens = output * n;
	r->min_output_tokens = gw->shrink && output > 0 ? least * n : -1;
	if (job->byok)
		return 0;
	/* Held at the worst case of what was asked (docs/gateway.md, "What is billed"): each token
	 * at its dearest price, the searches' fees on top; pinned: p. */
	struct pricing_tokens held = {r->input_tokens, 0, 0, r->max_output_tokens};
	r->price = job->price = p;
	r->margin_bps = job->margin = margin;
	r->priced = r->has_hold_price = 1;
	if (fees_held(gw, job, &p, r) != 0 || ledger_decide_hold_cost(r, r->max_output_tokens, &r->amount_micros) != PRICING_OK ||
	    r->amount_micros > LIMIT_AMOUNT_MICROS_MAX) {
		api_error(rs, CD_E_INVALID, pricing_blame(&p, &held, job->ask.cap_field != NULL ? job->ask.cap_field : "input"),
			  "the call's worst case is above the %lld micros one operation may move",
			  (long long)LIMIT_AMOUNT_MICROS_MAX);
		return -1;
	}
	return 0;
}

/* What the call asks that the model's row does not price (a service tier,
 * 1-hour cache writes, audio, web search): refused before anything is
 * forwarded (docs/gateway.md, "Anything no row names is refused"). 0, or -1 with rs filled. */
static int billed(const struct gw_job *job, const struct price *p, struct response *rs)
{
	const char *field = job->byok ? NULL : gwmoney_unpriced(&job->ask, p);
	if (field == NULL)
		return 0;
	if (field == job->ask.long_context)
		api_error(rs, CD_E_INVALID, field, "the call's input may pass %s's long-context threshold, priced higher "
			  "by the provider, and its price row gives no tier_input_micros_per_mtok: not forwarded",
			  job->ask.model);
	else
		api_error(rs, CD_E_INVALID, field, "\"%s\" asks for what the provider bills beyond tokens, which %s's "
			  "price row does not price: not forwarded", field, job->ask.model);
	return -1;
}

/* A member's call is never shown the pool's funds (docs/gateway.md, "A member's refusals"): a 402
 * (the account's available, not the member's cap) loses its figures. */
static void member_refusal(struct ledger_result *res)
{
	json_t *err = json_object_get(res->body, "error");
	json_object_del(err, "available_micros");
	json_object_del(err, "required_micros");
	json_object_set_new(err, "message", json_string("the account cannot cover this call"));
}

/* Authorizes the hold; the granted output (a shrunk hold's) becomes the
 * cap sent. 0, or -1 with the refusal in rs. */
static int hold(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	unsigned char hash[KEYS_HASH_LEN];
	char rid[2 * LIMIT_GATEWAY_REQUEST_RANDOM_BYTES + 1];
	struct ledger_result res;
	if (keys_random_hex(rid, LIMIT_GATEWAY_REQUEST_RANDOM_BYTES) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "no randomness for the call's id");
		return -1;
	}
	/* gw_<provider>_<random>: the prefix marks it the gateway's, the
	 * provider tried first is what GET /v1/holds/{hold_id} shows (one
	 * that fell back names the last on its usage record). */
	snprintf(job->request_id, sizeof(job->request_id), LEDGER_GATEWAY_REQUEST_PREFIX "%s_%s",
		 job->providers[0]->name, rid);
	keys_sha256(job->request_id, strlen(job->request_id), hash);
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash, .render = answer_render};
	r->account = job->account;
	r->member = job->member[0] != '\0' ? job->member : NULL;
	r->model = job->ask.model;
	r->request_id = job->request_id;
	/* The hold outlives the call's own deadlines (a first byte, an idle
	 * gap, a drain), so its reserve counts until the settle. */
	const struct gwconfig *gw = gwconfig_of(ctx->cfg);
	int64_t ttl = gw->first_byte_timeout_seconds + gw->idle_timeout_seconds + gw->drain_seconds;
	r->ttl_seconds = ttl > ctx->cfg->hold_ttl_seconds ? ttl : ctx->cfg->hold_ttl_seconds;
	if (r->ttl_seconds > LIMIT_HOLD_TTL_MAX_SECONDS)
		r->ttl_seconds = LIMIT_HOLD_TTL_MAX_SECONDS;
	r->byok = job->byok;
	job->hold_ttl = r->ttl_seconds;
	enum cd_err rc = ledger_authorize(ctx->lg, &call, r, &res);
	if (rc != CD_OK || res.done.kind != LEDGER_DONE_HOLD) {
		/* Refused (its request_id is new: never a replay). */
		if (rc == CD_OK && job->member[0] != '\0' && res.status == 402)
			member_refusal(&res);
		api_answer(rs, rc, &res);
		return -1;
	}
	snprintf(job->hold_id, sizeof(job->hold_id), "%s", res.done.u.hold.hold_id);
	int64_t granted = res.done.u.hold.max_output_tokens;
	int64_t n = job->ask.choices > 0 ? job->ask.choices : 1;
	job->cap = -1;
	if (!job->route->input_only && job->hold_output > 0) {
		/* The cap sent is the hold's, per choice: a shrunk hold's
		 * share, and the model's when the body asked none (the
		 * provider's own default could pass the hold). */
		int64_t held = granted >= 0 && granted < job->hold_output ? granted : job->hold_output;
		job->shrunk = held < job->hold_output;
		job->cap = held / n;
		job->hold_output = job->cap * n;
		if (job->ask.output_cap >= 0 && job->cap >= job->ask.output_cap)
			job->cap = -1;	/* the body's own, unchanged */
	}
	json_decref(res.body);
	return job->hold_id[0] != '\0' ? 0 : -1;
}

/* FNV-1a of s, never 0 (0 is "no key"). */
static uint64_t share_id(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/* A place among max_streams, within the key's share (a gateway key's:
 * an app's guard key serves all its users and is bound by the accounts'
 * shares alone) and the account's. 0, or -1 with rs filled. */
static int admit(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs)
{
	/* The key as authenticated: "Bearer K" however spelt is one key. */
	const char *secret = rq->authorization != NULL ? keys_bearer(rq->authorization) : NULL;
	uint64_t key = ctx->key.scopes == KEY_SCOPE_GATEWAY && secret != NULL ? share_id(secret) : 0;
	enum gw_admit a = gateway_admit(key, share_id(job->account), gwbuffer_bound(job), &job->place);
	const struct gwconfig *gw = gwconfig_of(ctx->cfg);
	if (a == GW_ADMITTED)
		return 0;
	rs->retry_after = 1;
	if (a == GW_BUFFER_ACCOUNT || a == GW_BUFFER_ALL)
		api_error(rs, CD_E_RATE_LIMITED, NULL, "the whole answers in flight %s hold the %lld MiB [gateway] %s "
			  "allows, and this call's answer needs room: nothing was forwarded; retry when one ends",
			  a == GW_BUFFER_ACCOUNT ? "of this account" : "of every account",
			  (long long)(a == GW_BUFFER_ACCOUNT ? gw->max_buffered_per_account_mib : gw->max_buffered_mib),
			  a == GW_BUFFER_ACCOUNT ? "max_buffered_per_account_mib" : "max_buffered_mib");
	else if (a == GW_FULL)
		api_error(rs, CD_E_BUSY, NULL, "%lld gateway calls are in flight, the most [gateway] max_streams allows",
			  (long long)gw->max_streams);
	else
		api_error(rs, CD_E_RATE_LIMITED, NULL, "%lld calls of this %s are in flight, the most [gateway] %s allows",
			  (long long)(a == GW_KEY_SHARE ? gw->max_streams_per_key : gw->max_streams_per_account),
			  a == GW_KEY_SHARE ? "key" : "account",
			  a == GW_KEY_SHARE ? "max_streams_per_key" : "max_streams_per_account");
	return -1;
}

/* A key limited to some models (docs/gateway.md, "What a key holder can and cannot do") calling
 * another (the call's own, or a tool's: param): 403 model_not_allowed, in the provider's shape
 * (the router shapes it); nothing held or forwarded. 0 when it may. */
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

/* A free route's call (count_tokens;
 * docs/gateway.md, "Free routes and BYOK inside the rate limits"): nothing is
 * held, but the account named must exist and be active, as a held call's must
 * (a guard key bound to none names it), and the call counts against its
 * account's and member's requests_per_minute like any call. 0, or -1 with rs
 * filled (404, 403, 429 with Retry-After). */
static int free_count(struct api_ctx *ctx, struct gw_job *job, struct response *rs)
{
	char rid[2 * LIMIT_GATEWAY_REQUEST_RANDOM_BYTES + 1];
	struct ledger_result res;
	struct guard_authorize r;
	unsigned char hash[KEYS_HASH_LEN];
	if (keys_random_hex(rid, LIMIT_GATEWAY_REQUEST_RANDOM_BYTES) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "no randomness for the call's id");
		return -1;
	}
	snprintf(job->request_id, sizeof(job->request_id), LEDGER_GATEWAY_REQUEST_PREFIX "free_%s", rid);
	keys_sha256(job->request_id, strlen(job->request_id), hash);
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash, .render = answer_render};
	memset(&r, 0, sizeof(r));
	r.account = job->account;
	r.member = job->member[0] != '\0' ? job->member : NULL;
	r.model = job->ask.model;
	r.request_id = job->request_id;
	r.min_output_tokens = -1;
	r.ttl_seconds = 1;
	r.byok = r.count_only = 1;
	enum cd_err rc = ledger_authorize(ctx->lg, &call, &r, &res);
	if (rc != CD_OK || res.done.kind != LEDGER_DONE_HOLD) {
		api_answer(rs, rc, &res);
		return -1;
	}
	json_decref(res.body);
	return 0;
}

static void gw_call(struct api_ctx *ctx, const struct request *rq, struct response *rs,
		    const struct gwkind_route *route)
{
	char err[256];
	const char *param = NULL;
	struct guard_authorize r;
	struct gw_job *job = calloc(1, sizeof(*job));
	if (job == NULL) {
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
		return;
	}
	memset(&r, 0, sizeof(r));
	job->route = route;
	job->place = -1;
	if (gwshape_read(route, rq->body, rq->body_len, &job->ask, err, sizeof(err), &param) != 0)
		api_error(rs, CD_E_INVALID, param, "%s", err);
	else if (model_allowed(ctx, job->ask.model, "model", rs) != 0 || payer(ctx, rq, job, rs) != 0 ||
		 providers(ctx, rq, job, rs) != 0 || forwarded(rq, job, rs) != 0 || table_check(ctx, rq, job, rs) != 0 ||
		 (!route->free && hold_of(ctx, job, &r, rs) != 0))
		;
	else if (admit(ctx, rq, job, rs) != 0)
		;
	else if (route->free ? free_count(ctx, job, rs) != 0 : hold(ctx, job, &r, rs) != 0) {
		gateway_unadmit(job->place);
	} else {
		rs->handoff = job;
		return;
	}
	free(job);
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
		if (k->routes[i].upstream != NULL && urlpath_match(k->routes[i].path, rq->path, decoded, 0, &n) == URLPATH_MATCH)
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
