/* api_gwhold.c: a gateway call admitted (api_gwhold.h; docs/gateway.md),
 * on the worker's thread: priced, given a place among max_streams
 * (api_gw_admit), held (every hold the gateway takes authorizes through
 * api_gw_authorize). The pricing: the model's row and its
 * multiples (speed, inference_geo), input stored at the provider
 * (previous_response_id), documents by their pages, a long context, the
 * fees a hold adds (web searches, a tool's own model); each provider the
 * call may try priced at its own row for the model, else the general row,
 * and held at the dearest (docs/gateway.md, "Which price a call is
 * charged"); then the hold authorized exactly as /v1/guard/authorize is,
 * shrunk by lowering the output cap. The call's bounds (the output cap
 * the body leaves out, max_input_tokens) are the general row's: the
 * model's own limits. Apart from api_gateway.c, which reads the call, finds who
 * pays and hands it on; it calls nothing there. Never SQL, never FastCGI,
 * never curl. */
#include "api.h"
#include "api_gwhold.h"
#include "api_gwaudio.h"
#include "answer.h"
#include "config.h"
#include "gateway.h"
#include "gwbuffer.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "gwmoney.h"
#include "keys.h"
#include "ledger.h"
#include "pricing.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * creditd (sql/061, gateway_objects), held at the model's max_input_tokens like any
 * stored input (docs/gateway.md, "previous_response_id"). 0, or -1 with rs filled. */
static int previous_response(struct api_ctx *ctx, struct gw_job *job, const struct price *p, struct response *rs)
{
	const char *field = "previous_response_id";
	int64_t most;
	int owned = 0;
	if (job->ask.previous_response[0] == '\0' || job->byok)
		return 0;
	char provider[LIMIT_CONFIG_NAME_BYTES];
	enum cd_err rc = gateway_response_in_flight(job->account, job->ask.previous_response, NULL, 0) ? (owned = 1, CD_OK)
		       : ledger_gw_object_find(ctx->db, job->account, LEDGER_GW_RESPONSE, job->ask.previous_response, &owned,
					       provider, sizeof(provider));
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
	if (!job->gw->provider_objects)
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
static void long_context_off(struct gw_job *job)
{
	const char *forwarded[LIMIT_GATEWAY_KIND_FORWARDED];
	for (size_t i = 0; i < LIMIT_GATEWAY_KIND_FORWARDED; i++)
		forwarded[i] = job->forwarded[i];
	if (job->route->kind->long_context_off != NULL && job->route->kind->long_context_off(forwarded))
		job->ask.long_context_off = 1;
}

/* The call's ask as held at the row p (one provider's): with
 * long_context naming the input member when its input may pass p's
 * threshold. */
static struct gw_ask ask_at(const struct gw_job *job, const struct price *p)
{
	struct gw_ask ask = job->ask;
	ask.long_context = NULL;
	if (!job->byok && !ask.long_context_off && pricing_long_context(p, ask.input_bound))
		ask.long_context = job->route->input_member;
	return ask;
}

/* The hold's worst case (gwmoney.h): each provider the call may try at
 * its own price, the hold at the dearest of them (gwmoney_hold_max), with
 * the web searches' fees and a tool's own model's runs (its pinned
 * row's). 0, or -1 past int64. */
static int fees_held(const struct gwconfig *gw, struct gw_job *job, struct guard_authorize *r)
{
	for (int i = 0; i < job->nproviders; i++) {
		const struct gw_ask ask = ask_at(job, &job->prices[i]);
		struct price held;
		int64_t fees;
		if (gwmoney_hold(&ask, &job->prices[i], gw->max_tool_calls_held, &held, &fees, &job->searches_held) != 0)
			return -1;
		if (i == 0) {
			r->hold_price = held;
			r->hold_fees_raw = fees;
		} else {
			gwmoney_hold_max(&r->hold_price, &r->hold_fees_raw, &held, fees);
		}
	}
	if (gwmoney_tool_hold(&job->ask, &job->tool_price, gw->max_tool_calls_held, job->hold_input, job->hold_output,
			      &job->tool_held) != 0 || job->tool_held.raw > INT64_MAX - r->hold_fees_raw)
		return -1;
	r->hold_fees_raw += job->tool_held.raw;
	return 0;
}

/* The hold's figures: the input bound, the output asked (the body's cap,
 * else the model's), its price. 0, or -1 with rs filled. */
static int billed(const struct gw_job *job, const struct gw_ask *ask, const struct price *p, const char *at,
		  struct response *rs);

/* A batch line's row at its batch prices (pricing_batch): refused, 400
 * naming the model and the dimension to set, where it has none. */
static int batch_priced(struct gw_job *job, struct price *p, int i, struct response *rs)
{
	struct price b;
	const char *missing = NULL;
	int rc = pricing_batch(p, &b, &missing);
	if (rc == 0) {
		*p = b;
		return 0;
	}
	if (rc == -1)
		api_error(rs, CD_E_INVALID, "model", "'%s' at %s has no batch price: its row needs %s (or both batch token "
			  "prices): not held, not forwarded", job->ask.model, job->providers[i]->name, missing);
	else
		api_error(rs, CD_E_INVALID, "model", "'%s' at %s: its batch prices pass what creditd can hold",
			  job->ask.model, job->providers[i]->name);
	return -1;
}

/* Each provider the call may try priced (docs/gateway.md, "Which price a
 * call is charged"): its own row for the model, else the general row,
 * each multiplied as the call asks and checked to price all it asks
 * (refused 400 naming the member and the provider otherwise). 0, or -1
 * with rs filled. */
static int priced_each(struct gw_job *job, struct response *rs)
{
	for (int i = 0; i < job->nproviders; i++) {
		int64_t margin;
		int own = 0;
		struct price *p = &job->prices[i];
		if (!ledger_price_model_at(job->ask.model, job->providers[i]->name, p, &margin, &own)) {
			api_error(rs, CD_E_INVALID, "model", "unknown model '%s': creditd holds and charges only priced "
				  "models", job->ask.model);
			return -1;
		}
		if (!pricing_prices_tokens(p) && !job->route->media) {
			api_error(rs, CD_E_INVALID, "model", "'%s' at %s is an image, audio or moderation model: its price "
				  "row prices no tokens, and %s bills tokens: not forwarded", job->ask.model,
				  job->providers[i]->name, job->route->path);
			return -1;
		}
		job->price_own[i] = (unsigned char)own;
		if (job->batch && batch_priced(job, p, i, rs) != 0)
			return -1;
		const struct gw_ask ask = ask_at(job, p);
		if (multiplied(job, p, rs) != 0 || billed(job, &ask, p, own ? job->providers[i]->name : NULL, rs) != 0)
			return -1;
	}
	return 0;
}

int api_gw_hold_of(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	struct price p;
	int64_t margin;
	if (job->route->images)
		return api_gw_images_hold_of(job, r, rs);
	int priced = ledger_price_model_wait(job->ask.model, &p, &margin);
	if (!priced && !job->byok) {
		api_error(rs, CD_E_INVALID, "model", "unknown model '%s': creditd holds and charges only priced models",
			  job->ask.model);
		return -1;
	}
	/* A media row on a token route, BYOK or not: its tokens are priced
	 * by nothing (docs/decisions.md, "A media row prices no token"). */
	if (priced && !pricing_prices_tokens(&p) && !job->route->media) {
		api_error(rs, CD_E_INVALID, "model", "'%s' is an image, audio or moderation model: its price row prices "
			  "no tokens, and %s bills tokens: not forwarded", job->ask.model, job->route->path);
		return -1;
	}
	if (documents(job, &p, priced, rs) != 0 || stored_input(ctx, job, &p, rs) != 0)
		return -1;
	long_context_off(job);
	if (!job->byok && priced_each(job, rs) != 0)
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
	const struct gwconfig *gw = job->gw;
	int64_t least = output < gw->min_output_tokens ? output : gw->min_output_tokens;
	job->hold_input = job->ask.input_bound;
	job->hold_output = output * n;
	r->input_tokens = job->hold_input;
	r->max_output_tokens = output * n;
	r->min_output_tokens = gw->shrink && output > 0 ? least * n : -1;
	if (job->byok)
		return 0;
	/* Held at the worst case of what was asked (docs/gateway.md, "What is billed"): each token
	 * at its dearest price at the dearest provider, the searches' fees on
	 * top; pinned: the first provider's price. */
	struct pricing_tokens held = {r->input_tokens, 0, 0, r->max_output_tokens};
	r->price = job->price = job->prices[0];
	r->margin_bps = job->margin = margin;
	r->priced = r->has_hold_price = 1;
	if (fees_held(gw, job, r) != 0 || ledger_decide_hold_cost(r, r->max_output_tokens, &r->amount_micros) != PRICING_OK ||
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
static int billed(const struct gw_job *job, const struct gw_ask *ask, const struct price *p, const char *at,
		  struct response *rs)
{
	const char *field = job->byok ? NULL : gwmoney_unpriced(ask, p);
	if (field == NULL)
		return 0;
	if (field == ask->long_context)
		api_error(rs, CD_E_INVALID, field, "the call's input may pass %s's long-context threshold, priced higher "
			  "by the provider, and its price row%s%s gives no tier_input_micros_per_mtok: not forwarded",
			  job->ask.model, at != NULL ? " for the provider " : "", at != NULL ? at : "");
	else
		api_error(rs, CD_E_INVALID, field, "\"%s\" asks for what the provider bills beyond tokens, which %s's "
			  "price row%s%s does not price: not forwarded", field, job->ask.model,
			  at != NULL ? " for the provider " : "", at != NULL ? at : "");
	return -1;
}

/* A member's call is never shown the pool's funds (docs/gateway.md, "A member's refusals"): a
 * refusal on the account's figures (402, a suspended account's 403, its daily or monthly limit's
 * 429) loses them and says so without them; the member's own cap (429 member_cap_reached) keeps
 * its figures, which are the member's. */
void api_gw_member_refusal(const struct gw_job *job, struct ledger_result *res)
{
	static const struct { const char *code, *message; } said[] = {
		{"insufficient_credits", "the account cannot cover this call"},
		{"daily_limit_reached", "the account's daily spending limit would be exceeded"},
		{"billing_hard_limit_reached", "the account's monthly spending limit would be exceeded"},
	};
	if (job->member[0] == '\0' || res->status < 400)
		return;
	json_t *err = json_object_get(res->body, "error");
	const char *code = json_string_value(json_object_get(err, "code"));
	if (err == NULL || code == NULL || strcmp(code, "member_cap_reached") == 0)
		return;
	json_object_del(err, "available_micros");
	json_object_del(err, "required_micros");
	for (size_t i = 0; i < sizeof(said) / sizeof(said[0]); i++)
		if (strcmp(code, said[i].code) == 0)
			json_object_set_new(err, "message", json_string(said[i].message));
}

/* The hold r authorized for job's payer (the account and member it
 * names, r->model and the figures set by the caller) under a request id
 * of the gateway's, gw_<tag>_<random> (into request_id, idcap bytes):
 * every hold the gateway takes, a call's, a free call's count and a
 * batch's, goes through it. 0 with *res held (its body the caller's to
 * free), or -1 with the refusal in rs (api_gw_member_refusal's shape for
 * a member). */
int api_gw_authorize(struct api_ctx *ctx, const struct gw_job *job, const char *tag, struct guard_authorize *r,
		     char *request_id, size_t idcap, struct ledger_result *res, struct response *rs)
{
	unsigned char hash[KEYS_HASH_LEN];
	char rid[2 * LIMIT_GATEWAY_REQUEST_RANDOM_BYTES + 1];
	if (keys_random_hex(rid, LIMIT_GATEWAY_REQUEST_RANDOM_BYTES) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "no randomness for the call's id");
		return -1;
	}
	snprintf(request_id, idcap, LEDGER_GATEWAY_REQUEST_PREFIX "%s_%s", tag, rid);
	keys_sha256(request_id, strlen(request_id), hash);
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash, .render = answer_render};
	r->account = job->account;
	r->member = job->member[0] != '\0' ? job->member : NULL;
	r->request_id = request_id;
	enum cd_err rc = ledger_authorize(ctx->db, &call, r, res);
	if (rc != CD_OK || res->done.kind != LEDGER_DONE_HOLD) {
		/* Refused (its request_id is new: never a replay). */
		if (rc == CD_OK)
			api_gw_member_refusal(job, res);
		api_answer(rs, rc, res);
		return -1;
	}
	return 0;
}

/* Authorizes the hold; the granted output (a shrunk hold's) becomes the
 * cap sent. 0, or -1 with the refusal in rs. */
int api_gw_hold(struct api_ctx *ctx, struct gw_job *job, struct guard_authorize *r, struct response *rs)
{
	struct ledger_result res;
	job->hold_fees_raw = r->hold_fees_raw;	/* a media call's charge when its units cannot be priced */
	r->model = job->ask.model;
	/* The hold outlives the call's own deadlines (a first byte, an idle
	 * gap, a drain), so its reserve counts until the settle. */
	const struct gwconfig *gw = job->gw;
	int64_t ttl = gw->first_byte_timeout_seconds + gw->idle_timeout_seconds + gw->drain_seconds;
	r->ttl_seconds = ttl > ctx->cfg->hold_ttl_seconds ? ttl : ctx->cfg->hold_ttl_seconds;
	if (r->ttl_seconds > LIMIT_HOLD_TTL_MAX_SECONDS)
		r->ttl_seconds = LIMIT_HOLD_TTL_MAX_SECONDS;
	r->byok = job->byok;
	job->hold_ttl = r->ttl_seconds;
	/* gw_<provider>_<random>: the prefix marks it the gateway's, the
	 * provider tried first is what GET /v1/holds/{hold_id} shows (one
	 * that fell back names the last on its usage record). */
	if (api_gw_authorize(ctx, job, job->providers[0]->name, r, job->request_id, sizeof(job->request_id), &res,
			     rs) != 0)
		return -1;
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

/* A free route's call (count_tokens;
 * docs/gateway.md, "Free routes and BYOK inside the rate limits"): nothing is
 * held, but the account named must exist and be active, as a held call's must
 * (a guard key bound to none names it), and the call counts against its
 * account's and member's requests_per_minute like any call: a count-only
 * authorize. 0, or -1 with rs filled (404, 403, 429 with Retry-After). */
int api_gw_count(struct api_ctx *ctx, struct gw_job *job, struct response *rs)
{
	struct ledger_result res;
	struct guard_authorize r;
	memset(&r, 0, sizeof(r));
	r.model = job->ask.model;
	r.min_output_tokens = -1;
	r.ttl_seconds = 1;
	r.byok = r.count_only = 1;
	if (api_gw_authorize(ctx, job, "free", &r, job->request_id, sizeof(job->request_id), &res, rs) != 0)
		return -1;
	json_decref(res.body);
	return 0;
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
int api_gw_admit(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs)
{
	/* The key as authenticated: "Bearer K" however spelt is one key. */
	const char *secret = rq->authorization != NULL ? keys_bearer(rq->authorization) : NULL;
	uint64_t key = ctx->key.scopes == KEY_SCOPE_GATEWAY && secret != NULL ? share_id(secret) : 0;
	enum gw_admit a = gateway_admit(key, share_id(job->account), gwbuffer_bound(job), &job->place);
	const struct gwconfig *gw = job->gw;
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

/* The call read and checked, admitted to the ledger and the loop: its
 * hold figured (a paid route's: a transcription's or speech's by
 * api_gwaudio.c, any other's here), a place among max_streams, then the
 * hold authorized, or a free route's call counted; a place taken is
 * given back when the ledger refuses. 0 (job ready to hand to the loop),
 * or -1 with rs filled. */
int api_gw_admission(struct api_ctx *ctx, const struct request *rq, struct gw_job *job, struct response *rs)
{
	struct guard_authorize r;
	memset(&r, 0, sizeof(r));
	if (!job->route->free && (gwkind_media(job->route) != GW_MEDIA_NONE ? api_gwaudio_hold_of(job, &r, rs)
									 : api_gw_hold_of(ctx, job, &r, rs)) != 0)
		return -1;
	if (api_gw_admit(ctx, rq, job, rs) != 0)
		return -1;
	if ((job->route->free ? api_gw_count(ctx, job, rs) : api_gw_hold(ctx, job, &r, rs)) == 0)
		return 0;
	gateway_unadmit(job->place);
	return -1;
}
