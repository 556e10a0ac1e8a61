/* api_alerts.c: threshold alerts (docs/api.md, "Threshold alerts"):
 * PUT /v1/accounts/{id}/alerts sets the account's alerts whole (admin,
 * app), GET the same path reads them (admin, app, read); both answer
 * {"alerts": [...]}, each as set with its state. PUT is idempotent by
 * itself (the same body sets the same alerts, their states kept): no
 * Idempotency-Key is read. */
#include "answer.h"
#include "api.h"
#include "jsonio.h"
#include "ledger.h"
#include "money_alert.h"
#include <stdio.h>
#include <string.h>

#define ALERT_MICROS_MAX LIMIT_SETTING_MICROS_MAX

static const struct jfield alerts_fields[] = {
	{"alerts", J_ARRAY, 1, 0, 0, LIMIT_ALERTS, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};
static const struct jfield alert_fields[] = {
	{"kind", J_ENUM, 1, 0, 0, 0, "balance_below|monthly_spend_pct|daily_spend_pct|member_cap_pct|plan_credits_used_pct"},
	{"pct", J_INT, 0, 0, 1, 100, NULL},
	{"micros", J_INT, 0, 0, 0, ALERT_MICROS_MAX, NULL},
	{"member", J_STR, 0, 1, 1, LIMIT_ACCOUNT_ID_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* Alert i of the body into *sp: 0, or -1 with rs answered 400 naming
 * the field (alerts[i].name). */
static int alert_of(json_t *v, size_t i, struct ledger_alert_spec *sp, struct response *rs)
{
	struct jerr e;
	char param[96];
	if (!json_is_object(v)) {
		snprintf(param, sizeof(param), "alerts[%zu]", i);
		api_error(rs, CD_E_INVALID, param, "alerts[%zu] must be a JSON object", i);
		return -1;
	}
	if (jsonio_validate(v, alert_fields, &e) != 0) {
		snprintf(param, sizeof(param), "alerts[%zu]%s%.60s", i, e.param[0] ? "." : "", e.param);
		api_error(rs, CD_E_INVALID, param, "alerts[%zu].%s", i, e.message);
		return -1;
	}
	sp->kind = money_alert_kind_parse(jsonio_str(v, "kind"));
	const int pct = money_alert_kind_pct((enum money_alert_kind)sp->kind);
	const char *want = pct ? "pct" : "micros", *other = pct ? "micros" : "pct";
	sp->member = json_is_string(json_object_get(v, "member")) ? jsonio_str(v, "member") : NULL;
	if (!jsonio_has(v, want) || jsonio_has(v, other)) {
		snprintf(param, sizeof(param), "alerts[%zu].%s", i, jsonio_has(v, other) ? other : want);
		api_error(rs, CD_E_INVALID, param, "alerts[%zu] of kind %s takes %s (and not %s)", i,
			  jsonio_str(v, "kind"), want, other);
		return -1;
	}
	if (sp->member != NULL && sp->kind != ALERT_MEMBER_CAP_PCT) {
		snprintf(param, sizeof(param), "alerts[%zu].member", i);
		api_error(rs, CD_E_INVALID, param, "alerts[%zu].member is for member_cap_pct alerts only", i);
		return -1;
	}
	if (sp->member != NULL) {
		snprintf(param, sizeof(param), "alerts[%zu].member", i);
		if (api_check_account_id(sp->member, param, rs) != 0)
			return -1;
	}
	sp->threshold = jsonio_int(v, want, 0);
	return 0;
}

/* No two alerts alike: each would tell the same crossing. */
static int alerts_distinct(const struct ledger_alert_spec *sp, int n, struct response *rs)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++) {
			int same_member = (sp[i].member == NULL) == (sp[j].member == NULL) &&
					  (sp[i].member == NULL || strcmp(sp[i].member, sp[j].member) == 0);
			if (sp[i].kind == sp[j].kind && sp[i].threshold == sp[j].threshold && same_member) {
				char param[32];
				snprintf(param, sizeof(param), "alerts[%d]", i);
				api_error(rs, CD_E_INVALID, param, "alerts[%d] is alerts[%d] again", i, j);
				return -1;
			}
		}
	return 0;
}

void api_alerts_put(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_alert_spec specs[LIMIT_ALERTS];
	struct ledger_alerts_view view;
	if (!api_path_account_ok(params[0], rs))
		return;
	json_t *body = api_body(rq, alerts_fields, rs);
	if (body == NULL)
		return;
	json_t *list = json_object_get(body, "alerts"), *v;
	size_t i;
	int n = 0, bad = 0;
	json_array_foreach(list, i, v) {
		if (bad || n >= LIMIT_ALERTS || alert_of(v, i, &specs[n++], rs) != 0)
			bad = 1;
	}
	if (!bad && alerts_distinct(specs, n, rs) == 0) {
		snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
		enum cd_err rc = ledger_alerts_set(ctx->db, params[0], specs, n, &view);
		if (rc != CD_OK)
			api_fail(rs, rc, "account");
		else
			api_json(rs, 200, answer_alerts_view(&view));
	}
	json_decref(body);
}

void api_alerts_get(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_alerts_view view;
	(void)rq;
	if (!api_path_account_ok(params[0], rs))
		return;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	enum cd_err rc = ledger_alerts_get(ctx->db, params[0], &view);
	if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_json(rs, 200, answer_alerts_view(&view));
}
