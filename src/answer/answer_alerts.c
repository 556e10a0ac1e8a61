/* answer_alerts.c: an account's threshold alerts as PUT and GET
 * /v1/accounts/{id}/alerts answer them: {"alerts": [{kind, pct|micros,
 * member (member_cap_pct only; null: every member), state ("armed" or
 * "fired"), members_fired (member_cap_pct only)}]}, in the order set. */
#include "answer.h"
#include "money_alert.h"

static json_t *alert_json(const struct ledger_alert_view *v)
{
	const enum money_alert_kind k = (enum money_alert_kind)v->kind;
	json_t *a = json_pack("{s:s, s:I}", "kind", money_alert_kind_name(k), money_alert_kind_pct(k) ? "pct" : "micros",
			      (json_int_t)v->threshold);
	if (a != NULL && k == ALERT_MEMBER_CAP_PCT &&
	    (json_object_set_new(a, "member", answer_fields_text(v->member, v->has_member)) != 0 ||
	     json_object_set_new(a, "members_fired", json_integer(v->members_fired)) != 0)) {
		json_decref(a);
		return NULL;
	}
	if (a != NULL && json_object_set_new(a, "state", json_string(v->fired ? "fired" : "armed")) != 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

json_t *answer_alerts_view(const struct ledger_alerts_view *v)
{
	json_t *list = json_array();
	for (int i = 0; list != NULL && i < v->n; i++)
		if (json_array_append_new(list, alert_json(&v->alerts[i])) != 0) {
			json_decref(list);
			list = NULL;
		}
	return list != NULL ? json_pack("{s:o}", "alerts", list) : NULL;
}
