/* api_guard.c: the chat guard routes. The edge work happens here: field
 * tables, model and action lookups in the price cache, the hold's cost by
 * the pricing module, and a bound key's reach (the account its body or
 * hold names must be its own: another is answered as one that does not
 * exist, before the ledger is asked); the ledger then checks and holds in
 * one locked transaction. A model unknown to the cache triggers one reload before
 * the request is refused, so a fresh `creditctl price import` is seen. */
#include "api.h"
#include "config.h"
#include "ledger.h"
#include "pricing.h"
#include <stdio.h>
#include <string.h>

#define TOKENS_MAX LIMIT_TOKENS_MAX

static const struct jfield authorize_fields[] = {
	{"account", J_STR, 1, 0, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"member", J_STR, 0, 1, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"model", J_STR, 0, 0, 1, LIMIT_NAME_BYTES, NULL},
	{"action", J_STR, 0, 0, 1, LIMIT_NAME_BYTES, NULL},
	{"input_tokens", J_INT, 0, 0, 0, TOKENS_MAX, NULL},
	{"max_output_tokens", J_INT, 0, 1, 1, TOKENS_MAX, NULL},
	{"min_output_tokens", J_INT, 0, 1, 1, TOKENS_MAX, NULL},
	{"request_id", J_STR, 1, 0, 1, LIMIT_REQUEST_ID_BYTES, NULL},
	{"ttl_seconds", J_INT, 0, 1, 1, LIMIT_HOLD_TTL_MAX_SECONDS, NULL},
	{"byok", J_BOOL, 0, 1, 0, 0, NULL},
	{"conversation_id", J_STR, 0, 1, 1, LIMIT_REQUEST_ID_BYTES, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* docs/api.md, "Money stays in range": one charge moves at most LIMIT_AMOUNT_MICROS_MAX; a larger
 * computed cost is refused naming the field that drives it. */
static void charge_refuse(struct response *rs, int64_t cost_micros, const char *param)
{
	api_error(rs, CD_E_INVALID, param, "the charge of %lld micros is above the %lld micros one operation may move",
		  (long long)cost_micros, (long long)LIMIT_AMOUNT_MICROS_MAX);
}

/* min_output_tokens, when given, is at most max_output_tokens. */
/* The model a guard call counts tokens of, priced per token: 0 with *p
 * and *margin, or -1 with the refusal in rs: an unknown model, or a
 * media row (docs/decisions.md, "A media row prices no token": its
 * tokens would be charged 0), both 400 naming "model". */
static int token_model(const char *model, struct price *p, int64_t *margin, struct response *rs)
{
	if (!ledger_price_model_wait(model, p, margin)) {
		api_error(rs, CD_E_INVALID, "model", "unknown model '%s'", model);
		return -1;
	}
	if (!pricing_prices_tokens(p)) {
		api_error(rs, CD_E_INVALID, "model", "'%s' is an image, audio or moderation model: its price row prices "
			  "no tokens", model);
		return -1;
	}
	return 0;
}

static int min_output_check(const struct guard_authorize *r, struct response *rs)
{
	if (r->min_output_tokens >= 0 && r->max_output_tokens >= 0 && r->min_output_tokens > r->max_output_tokens) {
		api_error(rs, CD_E_INVALID, "min_output_tokens", "min_output_tokens (%lld) is above max_output_tokens (%lld)",
			  (long long)r->min_output_tokens, (long long)r->max_output_tokens);
		return -1;
	}
	return 0;
}

/* Works out the hold amount of an authorize body; -1 with rs filled. */
static int hold_amount(struct api_ctx *ctx, json_t *body, struct guard_authorize *r, struct response *rs)
{
	struct price p;
	int64_t margin;
	if ((r->model == NULL) == (r->action == NULL)) {
		api_error(rs, CD_E_INVALID, r->model ? "action" : "model", "give exactly one of model or action");
		return -1;
	}
	if (r->action != NULL && r->min_output_tokens >= 0) {
		api_error(rs, CD_E_INVALID, "min_output_tokens", "min_output_tokens applies to a model's output, not to an action");
		return -1;
	}
	if (r->action != NULL) {
		if (!ledger_price_action_wait(r->action, &r->amount_micros)) {
			api_error(rs, CD_E_INVALID, "action", "unknown action '%s'", r->action);
			return -1;
		}
		if (r->amount_micros > LIMIT_AMOUNT_MICROS_MAX) {
			charge_refuse(rs, r->amount_micros, "action");
			return -1;
		}
		return 0;
	}
	if (!jsonio_has(body, "input_tokens")) {
		api_error(rs, CD_E_INVALID, "input_tokens", "missing required field input_tokens");
		return -1;
	}
	if (r->byok) {
		if (r->max_output_tokens < 0 && ledger_price_model_wait(r->model, &p, &margin))
			r->max_output_tokens = p.max_output_tokens;
		return min_output_check(r, rs);
	}
	if (token_model(r->model, &p, &margin, rs) != 0)
		return -1;
	if (r->max_output_tokens < 0)
		r->max_output_tokens = p.max_output_tokens;
	if (r->max_output_tokens > p.max_output_tokens) {
		api_error(rs, CD_E_INVALID, "max_output_tokens", "max_output_tokens exceeds %s's limit of %lld",
			  r->model, (long long)p.max_output_tokens);
		return -1;
	}
	if (min_output_check(r, rs) != 0)
		return -1;
	r->price = p;
	r->margin_bps = margin;
	r->priced = 1;
	const struct pricing_tokens held = {r->input_tokens, 0, 0, r->max_output_tokens};
	if (ledger_decide_hold_cost(r, r->max_output_tokens, &r->amount_micros) != PRICING_OK) {
		api_error(rs, CD_E_INVALID, "input_tokens", "the token counts are too large to price");
		return -1;
	}
	if (r->amount_micros > LIMIT_AMOUNT_MICROS_MAX) {
		charge_refuse(rs, r->amount_micros, pricing_blame(&p, &held, "max_output_tokens"));
		return -1;
	}
	return 0;
}

/* 1, with a 400 in rs, when request_id is of the gateway's own kind (its
 * calls', a batch's lines'): a client's would share their keys. */
static int gateway_request_id(const char *request_id, struct response *rs)
{
	if (request_id == NULL ||
	    strncmp(request_id, LEDGER_GATEWAY_REQUEST_PREFIX, sizeof(LEDGER_GATEWAY_REQUEST_PREFIX) - 1) != 0)
		return 0;
	api_error(rs, CD_E_INVALID, "request_id", "request_ids starting '%s' are the gateway's calls'",
		  LEDGER_GATEWAY_REQUEST_PREFIX);
	return 1;
}

void api_authorize(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct guard_authorize r;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	json_t *body = api_body(rq, authorize_fields, rs);
	if (body == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.account = jsonio_str(body, "account");
	r.member = jsonio_str(body, "member");
	r.model = jsonio_str(body, "model");
	r.action = jsonio_str(body, "action");
	r.request_id = jsonio_str(body, "request_id");
	r.conversation_id = jsonio_str(body, "conversation_id");
	r.input_tokens = jsonio_int(body, "input_tokens", 0);
	r.max_output_tokens = jsonio_int(body, "max_output_tokens", -1);
	r.min_output_tokens = jsonio_int(body, "min_output_tokens", -1);
	r.ttl_seconds = jsonio_int(body, "ttl_seconds", 0);	/* 0: the configured default, where the hold is made */
	r.byok = jsonio_bool(body, "byok", 0);
	snprintf(rs->account, sizeof(rs->account), "%s", r.account);
	if (gateway_request_id(r.request_id, rs))
		;
	else if (api_check_account_id(r.account, "account", rs) != 0 || hold_amount(ctx, body, &r, rs) != 0 ||
		 api_guard_call(ctx, rq, body, r.account, &call, hash, rs) != 0)
		;
	else {
		enum cd_err rc = ledger_authorize(ctx->db, &call, &r, &res);
		api_answer(rs, rc, &res);
	}
	json_decref(body);
}

/* The parts of input_tokens (docs/api.md, "Costs"): cached and cache-write tokens
 * are both counted in it, so together they are at most it. 0, or -1
 * with a 400 naming the field at fault. */
static int input_parts_check(int64_t input, int64_t cached, int64_t cache_write, struct response *rs)
{
	if (cached > input) {
		api_error(rs, CD_E_INVALID, "cached_input_tokens", "cached_input_tokens may not exceed input_tokens");
		return -1;
	}
	if (cache_write > input - cached) {
		api_error(rs, CD_E_INVALID, "cache_write_input_tokens",
			  "cache_write_input_tokens (%lld) may not exceed input_tokens less cached_input_tokens (%lld): "
			  "input_tokens counts both", (long long)cache_write, (long long)(input - cached));
		return -1;
	}
	return 0;
}

static const struct jfield settle_fields[] = {
	{"hold_id", J_STR, 1, 0, 1, LIMIT_HOLD_ID_BYTES, NULL},
	{"input_tokens", J_INT, 1, 0, 0, TOKENS_MAX, NULL},
	{"output_tokens", J_INT, 1, 0, 0, TOKENS_MAX, NULL},
	{"cached_input_tokens", J_INT, 0, 0, 0, TOKENS_MAX, NULL},
	{"cache_write_input_tokens", J_INT, 0, 0, 0, TOKENS_MAX, NULL},
	{"model", J_STR, 0, 1, 1, LIMIT_NAME_BYTES, NULL},
	{"conversation_id", J_STR, 0, 1, 1, LIMIT_REQUEST_ID_BYTES, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

void api_settle(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct guard_settle r;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	struct price p;
	int64_t margin;
	json_t *body = api_body(rq, settle_fields, rs);
	if (body == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.hold_id = jsonio_str(body, "hold_id");
	r.model = jsonio_str(body, "model");
	r.conversation_id = jsonio_str(body, "conversation_id");
	r.input_tokens = jsonio_int(body, "input_tokens", 0);
	r.output_tokens = jsonio_int(body, "output_tokens", 0);
	r.cached_input_tokens = jsonio_int(body, "cached_input_tokens", 0);
	r.cache_write_input_tokens = jsonio_int(body, "cache_write_input_tokens", 0);
	/* The ledger prices the hold's own model from the cache, in the
	 * batch's transaction: a settle that comes before the cache's first
	 * load (just after start) waits for the reload thread's. */
	if (api_prices_ready(ctx, rs) != 0)
		;
	else if (input_parts_check(r.input_tokens, r.cached_input_tokens, r.cache_write_input_tokens, rs) != 0)
		;
	else if (r.model != NULL && token_model(r.model, &p, &margin, rs) != 0)
		;
	else if (api_guard_call_hold(ctx, rq, body, r.hold_id, &call, hash, rs) != 0)
		;
	else {
		/* A model named here is priced here, once; otherwise the ledger
		 * prices the hold's own model. */
		r.price = r.model != NULL ? &p : NULL;
		r.margin_bps = r.model != NULL ? margin : 0;
		r.request_hash = hash;
		enum cd_err rc = ledger_settle(ctx->db, &call, &r, &res);
		api_answer(rs, rc, &res);
	}
	json_decref(body);
}

static const struct jfield release_fields[] = {
	{"hold_id", J_STR, 1, 0, 1, LIMIT_HOLD_ID_BYTES, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

void api_release(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	json_t *body = api_body(rq, release_fields, rs);
	if (body == NULL)
		return;
	struct guard_release r = {jsonio_str(body, "hold_id"), 0};
	if (api_guard_call_hold(ctx, rq, body, r.hold_id, &call, hash, rs) == 0) {
		enum cd_err rc = ledger_release(ctx->db, &call, &r, &res);
		api_answer(rs, rc, &res);
	}
	json_decref(body);
}

/* GET /v1/holds/{hold_id}: what one call held, was charged and used
 * (docs/api.md, "GET /v1/holds/{hold_id}"). A key bound to an account sees its own holds only,
 * one bound to a member its member's. */
void api_hold_get(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	json_t *out = NULL;
	(void)rq;
	if (params[0] == NULL || strlen(params[0]) >= LIMIT_HOLD_ID_BYTES || !api_key_reaches_hold(ctx, params[0])) {
		api_refuse(rs, REFUSE_HOLD_UNKNOWN, params[0] != NULL ? params[0] : "");
		return;
	}
	enum cd_err rc = ledger_hold_get(ctx->db, params[0], &out);
	/* A member's key sees its member's calls alone (docs/api.md): another
	 * member's hold, or the account's own, is the 404 of an unknown one. */
	const char *member = rc == CD_OK ? jsonio_str(out, "member") : NULL;
	if (rc == CD_OK && ctx->key.member[0] != '\0' && (member == NULL || strcmp(member, ctx->key.member) != 0)) {
		json_decref(out);
		rc = CD_E_NOT_FOUND;
	}
	if (rc == CD_E_NOT_FOUND)
		api_refuse(rs, REFUSE_HOLD_UNKNOWN, params[0]);
	else if (rc != CD_OK)
		api_fail(rs, rc, "hold");
	else {
		snprintf(rs->account, sizeof(rs->account), "%s", jsonio_str(out, "account"));
		api_json(rs, 200, out);
	}
}

static const struct jfield usage_fields[] = {
	{"account", J_STR, 1, 0, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"member", J_STR, 0, 1, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"model", J_STR, 0, 0, 1, LIMIT_NAME_BYTES, NULL},
	{"action", J_STR, 0, 0, 1, LIMIT_NAME_BYTES, NULL},
	{"input_tokens", J_INT, 0, 0, 0, TOKENS_MAX, NULL},
	{"output_tokens", J_INT, 0, 0, 0, TOKENS_MAX, NULL},
	{"cached_input_tokens", J_INT, 0, 0, 0, TOKENS_MAX, NULL},
	{"cache_write_input_tokens", J_INT, 0, 0, 0, TOKENS_MAX, NULL},
	{"request_id", J_STR, 0, 1, 1, LIMIT_REQUEST_ID_BYTES, NULL},
	{"conversation_id", J_STR, 0, 1, 1, LIMIT_REQUEST_ID_BYTES, NULL},
	{"byok", J_BOOL, 0, 1, 0, 0, NULL},
	{"force", J_BOOL, 0, 1, 0, 0, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* Checks a usage body and prices it (the one price lookup of the request:
 * the ledger charges what is computed here). */
static int usage_check(struct api_ctx *ctx, json_t *body, struct guard_usage *u, struct response *rs)
{
	struct price p = {0, 0, 0, 0, 0, PRICING_NO_DIMS};
	int64_t margin;
	const struct pricing_tokens used = {u->input_tokens, u->cached_input_tokens, u->cache_write_input_tokens,
					    u->output_tokens};
	if ((u->model == NULL) == (u->action == NULL))
		api_error(rs, CD_E_INVALID, u->model ? "action" : "model", "give exactly one of model or action");
	else if (u->model != NULL && (!jsonio_has(body, "input_tokens") || !jsonio_has(body, "output_tokens")))
		api_error(rs, CD_E_INVALID, jsonio_has(body, "input_tokens") ? "output_tokens" : "input_tokens",
			  "input_tokens and output_tokens are required with a model");
	else if (input_parts_check(u->input_tokens, u->cached_input_tokens, u->cache_write_input_tokens, rs) != 0)
		;
	else if (!u->byok && u->model != NULL && token_model(u->model, &p, &margin, rs) != 0)
		;
	else if (!u->byok && u->action != NULL && !ledger_price_action_wait(u->action, &u->cost_micros))
		api_error(rs, CD_E_INVALID, "action", "unknown action '%s'", u->action);
	else if (!u->byok && u->model != NULL && pricing_token_cost(&p, margin, &used, &u->cost_micros) != PRICING_OK)
		api_error(rs, CD_E_INVALID, "input_tokens", "the token counts are too large to price");
	else if (!u->byok && u->cost_micros > LIMIT_AMOUNT_MICROS_MAX)
		charge_refuse(rs, u->cost_micros, u->model == NULL ? "action" : pricing_blame(&p, &used, "output_tokens"));
	else
		return api_check_account_id(u->account, "account", rs);
	return -1;
}

void api_usage(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct guard_usage u;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	json_t *body = api_body(rq, usage_fields, rs);
	if (body == NULL)
		return;
	memset(&u, 0, sizeof(u));
	u.account = jsonio_str(body, "account");
	u.member = jsonio_str(body, "member");
	u.model = jsonio_str(body, "model");
	u.action = jsonio_str(body, "action");
	u.request_id = jsonio_str(body, "request_id");
	u.conversation_id = jsonio_str(body, "conversation_id");
	u.input_tokens = jsonio_int(body, "input_tokens", 0);
	u.output_tokens = jsonio_int(body, "output_tokens", 0);
	u.cached_input_tokens = jsonio_int(body, "cached_input_tokens", 0);
	u.cache_write_input_tokens = jsonio_int(body, "cache_write_input_tokens", 0);
	u.byok = jsonio_bool(body, "byok", 0);
	u.force = jsonio_bool(body, "force", 0);
	snprintf(rs->account, sizeof(rs->account), "%s", u.account);
	if (gateway_request_id(u.request_id, rs) || usage_check(ctx, body, &u, rs) != 0 ||
	    api_guard_call(ctx, rq, body, u.account, &call, hash, rs) != 0)
		;
	else {
		u.request_hash = hash;
		enum cd_err rc = ledger_usage(ctx->db, &call, &u, &res);
		api_answer(rs, rc, &res);
	}
	json_decref(body);
}
