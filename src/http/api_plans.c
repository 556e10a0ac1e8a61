/* api_plans.c: the plan catalogue (docs/api.md, "PUT /v1/plans/{name}"): PUT /v1/plans/{name}
 * (admin) creates or replaces a plan, GET /v1/plans (read) lists them. */
#include "api.h"
#include "ledger.h"
#include <stdio.h>
#include <string.h>


static const struct jfield plan_fields[] = {
	{"credits_micros", J_INT, 1, 0, 0, LIMIT_AMOUNT_MICROS_MAX, NULL},
	{"rollover", J_ENUM, 1, 0, 0, 0, "none|full|capped"},
	{"rollover_cap_micros", J_INT, 0, 1, 0, LIMIT_AMOUNT_MICROS_MAX, NULL},
	{"member_cap_micros", J_INT, 0, 1, 0, LIMIT_AMOUNT_MICROS_MAX, NULL},
	{"stripe_price_ids", J_ARRAY, 0, 1, 0, LIMIT_PLAN_STRIPE_PRICES, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* stripe_price_ids: null, or an array of at most LIMIT_PLAN_STRIPE_PRICES
 * Stripe ids (1-LIMIT_STRIPE_ID_BYTES of [A-Za-z0-9_]). 0, or -1 with rs
 * answered 400. */
static int prices_of(json_t *body, const char **ids, int *n, struct response *rs)
{
	json_t *v = json_object_get(body, "stripe_price_ids");
	size_t i;
	json_t *e;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > LIMIT_PLAN_STRIPE_PRICES) {
		api_error(rs, CD_E_INVALID, "stripe_price_ids", "stripe_price_ids must be an array of at most %d ids",
			  LIMIT_PLAN_STRIPE_PRICES);
		return -1;
	}
	json_array_foreach(v, i, e) {
		const char *id = json_string_value(e);
		if (!ledger_name_ok(id, STRIPE_ID_CHARS, 1, LIMIT_STRIPE_ID_BYTES)) {
			api_error(rs, CD_E_INVALID, "stripe_price_ids", "stripe_price_ids[%zu] is not a Stripe price id", i);
			return -1;
		}
		ids[(*n)++] = id;
	}
	return 0;
}

void api_plan_put(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	const char *ids[LIMIT_PLAN_STRIPE_PRICES];
	struct plan_def p;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	if (!ledger_name_ok(params[0], PLAN_NAME_CHARS, 1, LIMIT_PLAN_NAME_BYTES)) {
		api_error(rs, CD_E_INVALID, "name", "a plan name is 1 to %d of A-Z, a-z, 0-9, _, . and -",
			  LIMIT_PLAN_NAME_BYTES);
		return;
	}
	json_t *body = api_body(rq, plan_fields, rs);
	if (body == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.name = params[0];
	p.credits_micros = jsonio_int(body, "credits_micros", 0);
	p.rollover = jsonio_str(body, "rollover");
	p.rollover_cap_micros = jsonio_int(body, "rollover_cap_micros", -1);
	p.member_cap_micros = jsonio_int(body, "member_cap_micros", -1);
	p.stripe_price_ids = ids;
	if (prices_of(body, ids, &p.nprices, rs) != 0)
		;
	else if (strcmp(p.rollover, "capped") == 0 && p.rollover_cap_micros < 0)
		api_error(rs, CD_E_INVALID, "rollover_cap_micros", "rollover capped needs rollover_cap_micros");
	else if (strcmp(p.rollover, "capped") != 0 && p.rollover_cap_micros >= 0)
		api_error(rs, CD_E_INVALID, "rollover_cap_micros", "rollover_cap_micros goes with rollover capped");
	else if (api_call_of(ctx, rq, body, &call, hash, rs) == 0)
		api_answer(rs, ledger_plan_put(ctx->db, &call, &p, &res), &res);
	json_decref(body);
}

void api_plans(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	json_t *out = NULL;
	(void)rq;
	(void)params;
	enum cd_err rc = ledger_plans(ctx->db, &out);
	if (rc != CD_OK)
		api_fail(rs, rc, NULL);
	else
		api_json(rs, 200, out);
}
