/* answer_accounts.c: an account as the API shows it: GET
 * /v1/accounts/{id} (and /v1/me's view of it), and the answers of its
 * creation and its patch. */
#include "answer.h"
#include "timefmt.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

static json_t *grants_json(const struct ledger_account_view *a)
{
	json_t *arr = json_array();
	for (int i = 0; arr != NULL && i < a->ngrants; i++) {
		const struct ledger_grant_line *g = &a->grants[i];
		char id[32];
		ledger_ids_format(id, sizeof(id), "grant_", g->grant_id);
		json_t *one = json_pack("{s:s, s:s, s:I, s:I, s:o}", "id", id, "source", g->source, "remaining_micros",
					(json_int_t)g->remaining_micros, "priority", (json_int_t)g->priority,
					"expires_at", answer_fields_time(g->expires_at));
		if (json_array_append_new(arr, one) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

/* The latest pay-as-you-go collection, or null (period 0: none). */
static json_t *collection_json(const struct ledger_collection_view *c)
{
	char period[48];
	if (c->period == 0)
		return json_null();
	snprintf(period, sizeof(period), "%04" PRId64 "-%02" PRId64, c->period / 100, c->period % 100);
	return json_pack("{s:s, s:I, s:s, s:I, s:o}", "period", period, "amount_micros", (json_int_t)c->amount_micros,
			 "state", c->state, "tries", (json_int_t)c->tries, "next_try_at",
			 answer_fields_time(c->next_try_at));
}

json_t *answer_accounts_view(const struct ledger_account_view *a)
{
	char created[TIMEFMT_LEN];
	assert(a->id[0] != '\0');
	assert(a->ngrants >= 0);
	assert(a->ngrants <= LIMIT_GRANTS_LISTED);
	json_t *grants = grants_json(a);
	json_t *collection = collection_json(&a->collection);
	json_t *recharge = a->recharge_threshold_micros < 0 ? json_null()
			   : json_pack("{s:I, s:I}", "threshold_micros", (json_int_t)a->recharge_threshold_micros,
				       "amount_cents", (json_int_t)a->recharge_amount_cents);
	timefmt_rfc3339(a->created_at, created);
	/* json_pack takes (and drops, when it fails) every "o". */
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, "
			 "s:o, s:b, s:o, s:o, s:o, s:o, s:s}",
			 "id", a->id, "kind", a->kind, "status", a->status, "status_reason",
			 answer_fields_text(a->status_reason, a->status_reason[0] != '\0'), "currency", a->currency,
			 "balance_micros", (json_int_t)a->balance_micros, "reserved_micros", (json_int_t)a->reserved_micros,
			 "available_micros", (json_int_t)a->available_micros, "month_spent_micros",
			 (json_int_t)a->month_spent_micros, "monthly_limit_micros", answer_fields_int(a->monthly_limit_micros),
			 "day_spent_micros", (json_int_t)a->day_spent_micros, "daily_limit_micros",
			 answer_fields_int(a->daily_limit_micros), "overdraft_limit_micros",
			 (json_int_t)a->overdraft_limit_micros, "low_balance_micros", answer_fields_int(a->low_balance_micros),
			 "plan", answer_fields_text(a->plan, a->plan[0] != '\0'), "period_start",
			 answer_fields_time(a->period_start), "period_end", answer_fields_time(a->period_end), "grants",
			 grants, "auto_recharge", recharge, "card_saved", a->card_saved, "requests_per_minute",
			 answer_fields_int(a->requests_per_minute), "tokens_per_minute",
			 answer_fields_int(a->tokens_per_minute), "email", answer_fields_text(a->email, a->email[0] != '\0'),
			 "collection", collection, "created_at", created);
}
