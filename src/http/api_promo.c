/* api_promo.c: the growth routes. Promo codes (docs/api.md, "POST /v1/promo_codes"): POST
 * /v1/promo_codes (admin) makes one; POST /v1/accounts/{id}/redeem (app)
 * turns one into a promo grant on the account. Codes are 4-64 of
 * [A-Za-z0-9_-], matched in any case by the ledger. Referrals
 * (docs/growth.md): GET /v1/accounts/{id}/referral_code (app) answers the
 * account's code, made the first time it is asked for. */
#include "api.h"
#include "ledger.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

static const struct jfield create_fields[] = {
	{"code", J_STR, 1, 0, LIMIT_PROMO_CODE_MIN_BYTES, LIMIT_PROMO_CODE_BYTES, NULL},
	{"amount_micros", J_INT, 1, 0, 1, LIMIT_AMOUNT_MICROS_MAX, NULL},
	{"max_redemptions", J_INT, 0, 1, 1, LIMIT_PROMO_REDEMPTIONS_MAX, NULL},
	{"expires_at", J_TIME, 0, 1, 0, 0, NULL},
	{"grant_ttl_days", J_INT, 0, 1, 1, LIMIT_PROMO_GRANT_TTL_DAYS_MAX, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* 4-64 of [A-Za-z0-9_-]: 1, or 0 with rs answered 400. */
static int code_ok(const char *code, struct response *rs)
{
	if (ledger_name_ok(code, PROMO_CODE_CHARS, LIMIT_PROMO_CODE_MIN_BYTES, LIMIT_PROMO_CODE_BYTES))
		return 1;
	api_error(rs, CD_E_INVALID, "code", "code must be %d to %d of A-Z, a-z, 0-9, _ and -",
		  LIMIT_PROMO_CODE_MIN_BYTES, LIMIT_PROMO_CODE_BYTES);
	return 0;
}

void api_promo_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct promo_new p;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	(void)params;
	json_t *body = api_body(rq, create_fields, rs);
	if (body == NULL)
		return;
	p.code = jsonio_str(body, "code");
	p.amount_micros = jsonio_int(body, "amount_micros", 0);
	p.max_redemptions = jsonio_int(body, "max_redemptions", -1);
	p.grant_ttl_days = jsonio_int(body, "grant_ttl_days", -1);
	p.expires_at = -1;
	const char *exp = jsonio_str(body, "expires_at");
	if (exp != NULL)
		timefmt_parse(exp, &p.expires_at);
	if (!code_ok(p.code, rs))
		;
	else if (p.expires_at >= 0 && p.expires_at <= timefmt_now())
		api_error(rs, CD_E_INVALID, "expires_at", "expires_at must be in the future");
	else if (api_call_of(ctx, rq, body, &call, hash, rs) == 0)
		api_answer(rs, ledger_promo_create(ctx->db, &call, &p, &res), &res);
	json_decref(body);
}

static const struct jfield redeem_fields[] = {
	{"code", J_STR, 1, 0, 1, LIMIT_PROMO_CODE_BYTES, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

void api_redeem(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	if (!api_path_account_ok(params[0], rs))
		return;
	json_t *body = api_body(rq, redeem_fields, rs);
	if (body == NULL)
		return;
	const char *code = jsonio_str(body, "code");
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	/* The code is written on the node of no account: read causally
	 * (docs/scale-out.md). */
	store_route_causal(ctx->db, params[0]);
	if (code_ok(code, rs) && api_call_of(ctx, rq, body, &call, hash, rs) == 0)
		api_answer(rs, ledger_promo_redeem(ctx->db, &call, params[0], code, &res), &res);
	json_decref(body);
}

void api_referral_code(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char code[LIMIT_REFERRAL_CODE_BYTES + 1];
	(void)rq;
	if (!api_path_account_ok(params[0], rs))
		return;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	enum cd_err rc = ledger_referral_code(ctx->db, params[0], code, sizeof(code));
	if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_json(rs, 200, json_pack("{s:s}", "code", code));
}
