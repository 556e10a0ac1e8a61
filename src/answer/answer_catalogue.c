/* answer_catalogue.c: the answers of the catalogue's writes: a plan put,
 * a promo code made, a promo code redeemed. A plan and a code are shown
 * as their lists show them (ledger_plans.c's and ledger_promo.c's reads,
 * which the ledger still makes): the shapes must stay alike. */
#include "answer.h"
#include <assert.h>

json_t *answer_catalogue_plan(const struct ledger_plan_done *p)
{
	assert(p->nprices >= 0);
	assert(p->nprices <= LIMIT_PLAN_STRIPE_PRICES);
	json_t *prices = json_array();
	for (int i = 0; prices != NULL && i < p->nprices; i++) {
		if (json_array_append_new(prices, json_string(p->stripe_price_ids[i])) != 0) {
			json_decref(prices);
			prices = NULL;
		}
	}
	if (prices == NULL)
		return NULL;
	return json_pack("{s:s, s:I, s:s, s:o, s:o, s:o}", "name", p->name, "credits_micros",
			 (json_int_t)p->credits_micros, "rollover", p->rollover, "rollover_cap_micros",
			 answer_fields_int(p->rollover_cap_micros), "member_cap_micros",
			 answer_fields_int(p->member_cap_micros), "stripe_price_ids", prices);
}

json_t *answer_catalogue_promo(const struct ledger_promo_done *p)
{
	assert(p->code[0] != '\0');
	assert(p->amount_micros > 0);
	return json_pack("{s:s, s:I, s:o, s:I, s:o, s:o, s:o}", "code", p->code, "amount_micros",
			 (json_int_t)p->amount_micros, "max_redemptions", answer_fields_int(p->max_redemptions),
			 "redeemed", (json_int_t)p->redeemed, "expires_at", answer_fields_time(p->expires_at),
			 "grant_ttl_days", answer_fields_int(p->grant_ttl_days), "created_at",
			 answer_fields_time(p->created_at));
}

json_t *answer_catalogue_redeem(const struct ledger_redeem_done *r)
{
	char gid[32];
	assert(r->grant_id > 0);
	assert(r->amount_micros > 0);
	ledger_ids_format(gid, sizeof(gid), "grant_", r->grant_id);
	return json_pack("{s:s, s:s, s:s, s:I, s:o, s:I, s:I}", "grant_id", gid, "account", r->account, "code",
			 r->code, "amount_micros", (json_int_t)r->amount_micros, "expires_at",
			 answer_fields_time(r->expires_at), "balance_micros", (json_int_t)r->balance_micros,
			 "available_micros", (json_int_t)r->available_micros);
}
