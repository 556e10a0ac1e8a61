/* api_me.c: browser tokens and the /v1/me routes (docs/api.md,
 * "Widget": the balance, history and usage in the end user's hands). The app's
 * server mints a short-lived token for one account with its app key; the
 * page's widget then reads that account, its journal and usage, and starts
 * top-ups with the token alone, through the same ledger calls and handlers
 * as the key routes (no second copy). A token may name one member of a
 * workspace: it then sees the pool's available credit, its own cap and
 * spend, and its own usage only, and cannot pay for the pool. The router
 * has checked the token and put its account in ctx->me, its member (or "")
 * in ctx->me_member. */
#include "api.h"
#include "answer.h"
#include "config.h"
#include "keys.h"
#include "ledger.h"
#include "ledger_config.h"
#include "stripe_config.h"
#include "widget_config.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

static const struct jfield token_fields[] = {
	{"ttl_seconds", J_INT, 0, 0, LIMIT_BROWSER_TOKEN_TTL_MIN, LIMIT_BROWSER_TOKEN_TTL_MAX, NULL},
	{"member", J_STR, 0, 0, 1, KEYS_TOKEN_ID_MAX, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* A token names an account that exists, and a member of it that exists.
 * 0, or -1 with rs answered 404. */
static int token_names_ok(struct api_ctx *ctx, const char *account, const char *member, struct response *rs)
{
	json_t *found = NULL;
	struct ledger_account_view view;
	enum cd_err rc = ledger_account_get(ctx->db, account, &view);
	if (rc != CD_OK) {
		api_fail(rs, rc, "account");
		return -1;
	}
	if (member == NULL)
		return 0;
	rc = ledger_member_get(ctx->db, account, member, &found);
	json_decref(found);
	if (rc != CD_OK) {
		api_fail(rs, rc, "member");
		return -1;
	}
	return 0;
}

void api_browser_token(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char token[KEYS_TOKEN_MAX + 1], expires_at[TIMEFMT_LEN];
	if (!api_path_account_ok(params[0], rs))
		return;
	json_t *body = api_body(rq, token_fields, rs);
	if (body == NULL)
		return;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	int64_t expires = timefmt_now() + jsonio_int(body, "ttl_seconds", LIMIT_BROWSER_TOKEN_TTL_DEFAULT);
	const char *member = jsonio_str(body, "member");
	const char *secret = widget_config_of(ctx->cfg)->token_secret;
	if (secret[0] == '\0') {
		api_error(rs, CD_E_UNAVAILABLE, NULL, "browser tokens need [widget] token_secret "
			  "(or CREDITD_WIDGET_TOKEN_SECRET)");
		goto out;
	}
	if (token_names_ok(ctx, params[0], member, rs) != 0)
		goto out;
	if (keys_token_make(secret, params[0], member, expires, token, sizeof(token)) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "could not sign the token");
		goto out;
	}
	timefmt_rfc3339(expires, expires_at);
	api_json(rs, 201, json_pack("{s:s, s:s}", "token", token, "expires_at", expires_at));
out:
	json_decref(body);
}

/* The account as its own user sees it: money, the low threshold, the
 * plan's period, what a top-up may be, and why it is suspended and what it
 * owes (docs/pay-as-you-go.md, "What the app shows its user"), so that the widget can say so and
 * offer to pay; not the limits' internals (overdraft, grants, member and
 * recharge settings). */
static json_t *me_view(const struct cfg *c, json_t *a)
{
	static const char *const keep[] = {"id", "kind", "status", "status_reason", "currency", "balance_micros",
					   "reserved_micros", "available_micros", "low_balance_micros", "plan",
					   "period_start", "period_end", "collection", NULL};
	json_t *out = json_object();
	for (int i = 0; out != NULL && keep[i] != NULL; i++) {
		json_t *v = json_object_get(a, keep[i]);
		json_object_set(out, keep[i], v != NULL ? v : json_null());
	}
	json_t *own = json_object_get(a, "low_balance_micros");
	int64_t threshold = ledger_config_low_threshold(ledger_config_of(c), json_is_integer(own) ? (int64_t)json_integer_value(own) : -1);
	if (threshold > 0)
		json_object_set_new(out, "low_balance_micros", json_integer(threshold));
	json_object_set_new(out, "low", json_boolean(threshold > 0 &&
						    json_integer_value(json_object_get(a, "available_micros")) < threshold));
	/* The debt is what a negative balance owes. Balances stay within
	 * ±9·10¹⁸ (docs/api.md, "Money stays in range"), so negating one cannot
	 * overflow. */
	int64_t balance = (int64_t)json_integer_value(json_object_get(a, "balance_micros"));
	json_object_set_new(out, "owed_micros", json_integer(balance < 0 ? -(json_int_t)balance : 0));
	const struct stripe_config *s = stripe_config_of(c);
	const struct ledger_config *l = ledger_config_of(c);
	json_object_set_new(out, "topup", json_pack("{s:I, s:I, s:s, s:I}", "min_cents", (json_int_t)s->topup_min_cents,
						    "max_cents", (json_int_t)s->topup_max_cents, "currency",
						    l->stripe_currency != NULL ? l->stripe_currency : "",
						    "micros_per_cent", (json_int_t)l->topup_rate));
	json_decref(a);
	return out;
}

/* The member a token names, or NULL for the whole account. */
static const char *me_member(const struct api_ctx *ctx)
{
	return ctx->me_member[0] != '\0' ? ctx->me_member : NULL;
}

/* What the widget shows of referrals: the account's code and what a
 * referral earns, when the deployment rewards referrers and the token is
 * the whole account's (a member does not speak for the account); else
 * JSON null. A new reference, NULL when the code could not be read. */
static json_t *me_referral(const struct api_ctx *ctx)
{
	const struct ledger_config *l = ledger_config_of(ctx->cfg);
	char code[LIMIT_REFERRAL_CODE_BYTES + 1];
	if (l->referral_referrer_micros <= 0 || me_member(ctx) != NULL)
		return json_null();
	if (ledger_referral_code(ctx->db, ctx->me, code, sizeof(code)) != CD_OK)
		return NULL;
	return json_pack("{s:s, s:I, s:I, s:I}", "code", code, "referrer_micros", (json_int_t)l->referral_referrer_micros,
			 "referred_micros", (json_int_t)l->referral_referred_micros, "expires_days",
			 (json_int_t)l->referral_expires_days);
}

void api_me(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	json_t *out = NULL, *member = NULL;
	struct ledger_account_view account;
	(void)rq;
	(void)params;
	snprintf(rs->account, sizeof(rs->account), "%s", ctx->me);
	enum cd_err rc = ledger_account_get(ctx->db, ctx->me, &account);
	/* A member removed since its token was minted: 404 as for an account. */
	if (rc == CD_OK && me_member(ctx) != NULL)
		rc = ledger_member_get(ctx->db, ctx->me, ctx->me_member, &member);
	if (rc == CD_OK && (out = answer_accounts_view(&account)) == NULL)
		rc = CD_E_INTERNAL;
	if (rc != CD_OK) {
		json_decref(member);
		api_fail(rs, rc, me_member(ctx) != NULL ? "member" : "account");
		return;
	}
	json_t *view = me_view(ctx->cfg, out);
	json_t *referral = me_referral(ctx);
	if (referral == NULL || json_object_set_new(view, "referral", referral) != 0) {
		json_decref(member);
		json_decref(view);
		api_error(rs, CD_E_INTERNAL, NULL, "could not read the referral code");
		return;
	}
	if (member != NULL && json_object_set_new(view, "member", member) != 0) {
		json_decref(view);
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
		return;
	}
	api_json(rs, 200, view);
}

void api_me_transactions(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	(void)params;
	api_transactions_of(ctx, rq, ctx->me, me_member(ctx), rs);
}

void api_me_usage(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	(void)params;
	api_usage_report_of(ctx, rq, ctx->me, me_member(ctx), rs);
}

/* Members do not pay for the pool (docs/api.md, "Widget"): a member's token is 403. */
void api_me_topup(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	(void)params;
	snprintf(rs->account, sizeof(rs->account), "%s", ctx->me);
	if (me_member(ctx) != NULL)
		api_error(rs, CD_E_FORBIDDEN, NULL, "a member's browser token cannot top up the account");
	else
		api_topup_of(ctx, rq, ctx->me, rs);
}

void api_me_preflight(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	(void)ctx;
	(void)rq;
	(void)params;
	rs->status = 204;
}
