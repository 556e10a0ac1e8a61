/* api_accounts.c: the account routes (docs/api.md). Each handler checks its
 * input against a field table, builds the ledger's request and answers;
 * nothing here knows SQL or FastCGI. */
#include "api.h"
#include "answer.h"
#include "config.h"
#include "keys.h"
#include "mailaddr.h"
#include "ledger.h"
#include "stripe_config.h"
#include "timefmt.h"
#include "urlpath.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settings that bound spending; amounts that move money have the
 * smaller LIMIT_AMOUNT_MICROS_MAX (docs/api.md, "Money stays in range"). */
#define MICROS_MAX LIMIT_SETTING_MICROS_MAX

static const struct jfield account_fields[] = {
	{"id", J_STR, 1, 0, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{"kind", J_ENUM, 1, 0, 0, 0, "user|workspace"},
	{"overdraft_limit_micros", J_INT, 0, 0, 0, MICROS_MAX, NULL},
	{"monthly_limit_micros", J_INT, 0, 1, 0, MICROS_MAX, NULL},
	{"low_balance_micros", J_INT, 0, 1, 0, MICROS_MAX, NULL},
	{"plan", J_STR, 0, 1, 1, LIMIT_NAME_BYTES, NULL},
	{"daily_limit_micros", J_INT, 0, 1, 0, MICROS_MAX, NULL},
	{"requests_per_minute", J_INT, 0, 1, 1, LIMIT_RATE_MAX, NULL},
	{"tokens_per_minute", J_INT, 0, 1, 1, LIMIT_RATE_MAX, NULL},
	{"referral_code", J_STR, 0, 1, 1, LIMIT_REFERRAL_CODE_BYTES, NULL},
	{"email", J_STR, 0, 1, 1, LIMIT_EMAIL_BYTES, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* The body's email (alerts by email): absent or null, else a plain
 * address (mailaddr.h). 0, or -1 with rs answered 400 param email. */
static int email_of(json_t *body, const char **email, struct response *rs)
{
	*email = jsonio_str(body, "email");
	if (*email == NULL || mailaddr_ok(*email))
		return 0;
	api_error(rs, CD_E_INVALID, "email", "email must be a plain address such as name@example.com (at most %d bytes)",
		  LIMIT_EMAIL_BYTES);
	return -1;
}

/* An account id from the path: what api_check_account_id checks, and valid
 * UTF-8 too. Ids from bodies are UTF-8 already (jansson refuses anything
 * else); path segments are raw bytes after percent-decoding, and an id
 * that is not UTF-8 could never have been created nor be printed in JSON. */
int api_path_account_ok(const char *id, struct response *rs)
{
	return api_check_account_id(id, "id", rs) == 0;
}

void api_account_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct account_new n;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	json_t *body = api_body(rq, account_fields, rs);
	if (body == NULL)
		return;
	n.id = jsonio_str(body, "id");
	n.kind = jsonio_str(body, "kind");
	n.overdraft_limit_micros = jsonio_int(body, "overdraft_limit_micros", 0);
	n.monthly_limit_micros = jsonio_int(body, "monthly_limit_micros", -1);
	n.low_balance_micros = jsonio_int(body, "low_balance_micros", -1);
	n.plan = jsonio_str(body, "plan");
	n.daily_limit_micros = jsonio_int(body, "daily_limit_micros", -1);
	n.requests_per_minute = jsonio_int(body, "requests_per_minute", -1);
	n.tokens_per_minute = jsonio_int(body, "tokens_per_minute", -1);
	n.referral_code = jsonio_str(body, "referral_code");
	if (n.referral_code != NULL && !keys_referral_code_ok(n.referral_code)) {
		api_error(rs, CD_E_INVALID, "referral_code", "\"referral_code\" is not a referral code (%d letters and digits)",
			  LIMIT_REFERRAL_CODE_CHARS);
		json_decref(body);
		return;
	}
	if (api_check_account_id(n.id, "id", rs) == 0 && email_of(body, &n.email, rs) == 0 &&
	    api_call_of(ctx, rq, body, &call, hash, rs) == 0) {
		snprintf(rs->account, sizeof(rs->account), "%s", n.id);
		/* A referral code is the referrer's row, written through its
		 * node, and a plan is written on the node of no account: read
		 * causally (docs/scale-out.md). */
		if (n.referral_code != NULL || n.plan != NULL)
			store_route_causal(ctx->db, n.id);
		else
			store_route(ctx->db, n.id);
		api_answer(rs, ledger_account_create(ctx->db, &call, &n, &res), &res);
	}
	json_decref(body);
}

void api_account_get(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_account_view account;
	if (!api_path_account_ok(params[0], rs))
		return;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	enum cd_err rc = ledger_account_get(ctx->db, params[0], &account);
	if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_json(rs, 200, answer_accounts_view(&account));
}

static const struct jfield patch_fields[] = {
	{"status", J_ENUM, 0, 0, 0, 0, "active|suspended|closed"},
	{"overdraft_limit_micros", J_INT, 0, 0, 0, MICROS_MAX, NULL},
	{"monthly_limit_micros", J_INT, 0, 1, 0, MICROS_MAX, NULL},
	{"low_balance_micros", J_INT, 0, 1, 0, MICROS_MAX, NULL},
	{"plan", J_STR, 0, 1, 1, LIMIT_NAME_BYTES, NULL},
	{"daily_limit_micros", J_INT, 0, 1, 0, MICROS_MAX, NULL},
	{"auto_recharge", J_OBJECT, 0, 1, 0, 0, NULL},
	{"requests_per_minute", J_INT, 0, 1, 1, LIMIT_RATE_MAX, NULL},
	{"tokens_per_minute", J_INT, 0, 1, 1, LIMIT_RATE_MAX, NULL},
	{"email", J_STR, 0, 1, 1, LIMIT_EMAIL_BYTES, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* auto_recharge: {threshold_micros, amount_cents} (a top-up's bounds), or
 * null for off. 0, or -1 with rs answered 400 naming the member. */
static int recharge_of(const struct cfg *c, json_t *body, struct account_patch *p, struct response *rs)
{
	const struct stripe_config *s = stripe_config_of(c);
	const struct jfield fields[] = {
		{"threshold_micros", J_INT, 1, 0, 0, MICROS_MAX, NULL},
		{"amount_cents", J_INT, 1, 0, s->topup_min_cents, s->topup_max_cents, NULL},
		{NULL, J_INT, 0, 0, 0, 0, NULL},
	};
	json_t *v = json_object_get(body, "auto_recharge");
	struct jerr e;
	p->set_recharge = v != NULL;
	p->recharge_threshold_micros = p->recharge_amount_cents = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (jsonio_validate(v, fields, &e) != 0) {
		api_error(rs, CD_E_INVALID, "auto_recharge", "auto_recharge.%s", e.message);
		return -1;
	}
	p->recharge_threshold_micros = jsonio_int(v, "threshold_micros", 0);
	p->recharge_amount_cents = jsonio_int(v, "amount_cents", 0);
	return 0;
}

void api_account_patch(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct account_patch p;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	if (!api_path_account_ok(params[0], rs))
		return;
	json_t *body = api_body(rq, patch_fields, rs);
	if (body == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.id = params[0];
	p.status = jsonio_str(body, "status");
	p.set_overdraft = json_object_get(body, "overdraft_limit_micros") != NULL;
	p.overdraft_limit_micros = jsonio_int(body, "overdraft_limit_micros", 0);
	p.set_monthly = json_object_get(body, "monthly_limit_micros") != NULL;
	p.monthly_limit_micros = jsonio_int(body, "monthly_limit_micros", -1);
	p.set_low = json_object_get(body, "low_balance_micros") != NULL;
	p.low_balance_micros = jsonio_int(body, "low_balance_micros", -1);
	p.set_plan = json_object_get(body, "plan") != NULL;
	p.plan = jsonio_str(body, "plan");
	p.set_daily = json_object_get(body, "daily_limit_micros") != NULL;
	p.daily_limit_micros = jsonio_int(body, "daily_limit_micros", -1);
	p.set_rpm = json_object_get(body, "requests_per_minute") != NULL;
	p.requests_per_minute = jsonio_int(body, "requests_per_minute", -1);
	p.set_tpm = json_object_get(body, "tokens_per_minute") != NULL;
	p.tokens_per_minute = jsonio_int(body, "tokens_per_minute", -1);
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	p.set_email = json_object_get(body, "email") != NULL;
	if (p.set_plan)
		store_route_causal(ctx->db, params[0]);	/* the plan: as at creation */
	if (recharge_of(ctx->cfg, body, &p, rs) == 0 && email_of(body, &p.email, rs) == 0 &&
	    api_call_of(ctx, rq, body, &call, hash, rs) == 0)
		api_answer(rs, ledger_account_patch(ctx->db, &call, &p, &res), &res);
	json_decref(body);
}

void api_transactions(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	if (api_path_account_ok(params[0], rs))
		api_transactions_of(ctx, rq, params[0], NULL, rs);
}

void api_transactions_of(struct api_ctx *ctx, const struct request *rq, const char *account, const char *member,
			 struct response *rs)
{
	int64_t limit = LIMIT_PAGE_DEFAULT, cursor = 0;
	char cur[64];
	json_t *out = NULL;
	if (api_query_int(rq->query, "limit", 1, LIMIT_PAGE_MAX, &limit, rs) < 0)
		return;
	int got = urlpath_query_get(rq->query, "cursor", cur, sizeof(cur));
	if (got != 0 && (got < 0 || ledger_ids_parse(cur, "txn_", &cursor) != 0)) {
		api_error(rs, CD_E_INVALID, "cursor", "cursor must be a next_cursor value from a previous page");
		return;
	}
	snprintf(rs->account, sizeof(rs->account), "%s", account);
	enum cd_err rc = ledger_transactions(ctx->db, account, member, (int)limit, cursor, &out);
	if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_json(rs, 200, out);
}

static int query_time(const char *query, const char *name, int64_t *v, struct response *rs)
{
	char buf[64];
	int got = urlpath_query_get(query, name, buf, sizeof(buf));
	if (got == 0)
		return 0;
	if (got < 0 || timefmt_parse(buf, v) != 0) {
		api_error(rs, CD_E_INVALID, name, "%s must be an RFC 3339 timestamp or a date (YYYY-MM-DD)", name);
		return -1;
	}
	return 1;
}

/* A usage report without `from` covers the last 31 days (docs/api.md), from a
 * UTC midnight so that group_by=day starts with a whole day. */
#define API_USAGE_DEFAULT_DAYS 31

void api_usage_report(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	if (api_path_account_ok(params[0], rs))
		api_usage_report_of(ctx, rq, params[0], NULL, rs);
}

/* group_by from the query into group (cap bytes), or "model". 0, or -1
 * with rs answered 400. A member's report has no members to group by. */
static int query_group(const char *query, const char *member, char *group, size_t cap, struct response *rs)
{
	int got = urlpath_query_get(query, "group_by", group, cap);
	if (got == 0) {
		snprintf(group, cap, "%s", "model");
		return 0;
	}
	if (got > 0 && member != NULL && strcmp(group, "member") == 0) {
		api_error(rs, CD_E_INVALID, "group_by", "a member's browser token reports that member only: "
			  "group_by must be model or day");
		return -1;
	}
	if (got < 0 || (strcmp(group, "model") != 0 && strcmp(group, "day") != 0 && strcmp(group, "member") != 0)) {
		api_error(rs, CD_E_INVALID, "group_by", "group_by must be model, day or member");
		return -1;
	}
	return 0;
}

void api_usage_report_of(struct api_ctx *ctx, const struct request *rq, const char *account, const char *member,
			 struct response *rs)
{
	struct usage_query q;
	char group[16];
	json_t *out = NULL;
	int64_t now = timefmt_now();
	q.account = account;
	q.member = member;
	q.from = now - (now % TIMEFMT_SECONDS_PER_DAY) - API_USAGE_DEFAULT_DAYS * TIMEFMT_SECONDS_PER_DAY;
	q.to = now + 1;
	q.group_by = group;
	if (query_time(rq->query, "from", &q.from, rs) < 0 || query_time(rq->query, "to", &q.to, rs) < 0 ||
	    query_group(rq->query, member, group, sizeof(group), rs) < 0)
		return;
	if (q.from >= q.to) {
		api_error(rs, CD_E_INVALID, "from", "from must be before to");
		return;
	}
	snprintf(rs->account, sizeof(rs->account), "%s", account);
	enum cd_err rc = ledger_usage_report(ctx->db, &q, &out);
	if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_json(rs, 200, out);
}

static const struct jfield grant_fields[] = {
	{"amount_micros", J_INT, 1, 0, 1, LIMIT_AMOUNT_MICROS_MAX, NULL},
	{"source", J_ENUM, 1, 0, 0, 0, "promo|adjustment|signup_bonus"},
	{"expires_at", J_TIME, 0, 1, 0, 0, NULL},
	{"priority", J_INT, 0, 0, 0, GRANT_PRIORITY_MAX, NULL},
	{"description", J_TEXT, 0, 1, 0, LIMIT_DESCRIPTION_CHARS, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

void api_grant(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct grant_new g;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	if (!api_path_account_ok(params[0], rs))
		return;
	json_t *body = api_body(rq, grant_fields, rs);
	if (body == NULL)
		return;
	g.account = params[0];
	g.amount_micros = jsonio_int(body, "amount_micros", 0);
	g.source = jsonio_str(body, "source");
	g.expires_at = -1;
	if (jsonio_has(body, "expires_at"))
		timefmt_parse(jsonio_str(body, "expires_at"), &g.expires_at);
	g.priority = jsonio_int(body, "priority", GRANT_PRIORITY_DEFAULT);
	g.description = jsonio_str(body, "description");
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	if (g.expires_at >= 0 && g.expires_at <= timefmt_now())
		api_error(rs, CD_E_INVALID, "expires_at", "expires_at must be in the future");
	else if (api_call_of(ctx, rq, body, &call, hash, rs) == 0)
		api_answer(rs, ledger_grant(ctx->db, &call, &g, &res), &res);
	json_decref(body);
}

static const struct jfield debit_fields[] = {
	{"amount_micros", J_INT, 1, 0, 1, LIMIT_AMOUNT_MICROS_MAX, NULL},
	{"reason", J_TEXT, 1, 0, 1, LIMIT_DESCRIPTION_CHARS, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

void api_debit(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct debit_new d;
	struct ledger_call call;
	struct ledger_result res;
	unsigned char hash[32];
	if (!api_path_account_ok(params[0], rs))
		return;
	json_t *body = api_body(rq, debit_fields, rs);
	if (body == NULL)
		return;
	d.account = params[0];
	d.amount_micros = jsonio_int(body, "amount_micros", 0);
	d.reason = jsonio_str(body, "reason");
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	if (api_call_of(ctx, rq, body, &call, hash, rs) == 0)
		api_answer(rs, ledger_debit(ctx->db, &call, &d, &res), &res);
	json_decref(body);
}
