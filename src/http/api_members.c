/* api_members.c: members of workspace accounts (docs/decisions.md, "Workspaces"):
 * POST /v1/accounts/{id}/members adds or updates one with an optional
 * monthly cap; DELETE /v1/accounts/{id}/members/{member} removes it. */
#include "api.h"
#include "ledger.h"
#include <stdio.h>
#include <string.h>

static const struct jfield member_fields[] = {
	{"member", J_STR, 1, 0, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"monthly_cap_micros", J_INT, 0, 1, 0, LIMIT_AMOUNT_MICROS_MAX, NULL},
	{"requests_per_minute", J_INT, 0, 1, 1, LIMIT_RATE_MAX, NULL},
	{"tokens_per_minute", J_INT, 0, 1, 1, LIMIT_RATE_MAX, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

void api_member_put(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct member_put p;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	if (api_check_account_id(params[0], "id", rs) != 0)
		return;
	json_t *body = api_body(rq, member_fields, rs);
	if (body == NULL)
		return;
	p.account = params[0];
	p.member = jsonio_str(body, "member");
	p.monthly_cap_micros = jsonio_int(body, "monthly_cap_micros", -1);
	/* Absent: a new member has no cap and an existing one keeps its own;
	 * null removes it. */
	p.set_cap = json_object_get(body, "monthly_cap_micros") != NULL;
	p.set_rpm = json_object_get(body, "requests_per_minute") != NULL;
	p.requests_per_minute = jsonio_int(body, "requests_per_minute", -1);
	p.set_tpm = json_object_get(body, "tokens_per_minute") != NULL;
	p.tokens_per_minute = jsonio_int(body, "tokens_per_minute", -1);
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	if (api_call_of(ctx, rq, body, &call, hash, rs) == 0)
		api_answer(rs, ledger_member_put(ctx->db, &call, &p, &res), &res);
	json_decref(body);
}

void api_member_delete(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct member_put p = {params[0], params[1], -1, 0, -1, -1, 0, 0};
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	if (api_check_account_id(params[0], "id", rs) != 0 || api_check_account_id(params[1], "member", rs) != 0)
		return;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	if (api_call_of(ctx, rq, NULL, &call, hash, rs) == 0)
		api_answer(rs, ledger_member_delete(ctx->db, &call, &p, &res), &res);
}
