/* answer_guard.c: the guard's answers
 * (docs/api.md, "POST /v1/guard/authorize"): a hold made, a settle, a
 * release, a usage. A settle's is also the text its hold keeps for a replay,
 * so it must read the same whenever it is made. */
#include "answer.h"
#include <assert.h>

json_t *answer_guard_hold(const struct ledger_hold_done *h)
{
	assert(h->hold_id[0] != '\0');
	assert(h->amount_micros >= 0);
	return json_pack("{s:s, s:I, s:I, s:o, s:o}", "hold_id", h->hold_id, "amount_micros",
			 (json_int_t)h->amount_micros, "available_micros", (json_int_t)h->available_micros,
			 "expires_at", answer_fields_time(h->expires_at), "max_output_tokens",
			 answer_fields_int(h->max_output_tokens));
}

json_t *answer_guard_settle(const struct ledger_settle_done *s)
{
	assert(s->hold_id[0] != '\0');
	assert(s->charged_micros >= 0);
	assert(s->released_micros >= 0);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "hold_id", s->hold_id, "account", s->account,
			 "charged_micros", (json_int_t)s->charged_micros, "released_micros",
			 (json_int_t)s->released_micros, "balance_micros", (json_int_t)s->balance_micros,
			 "available_micros", (json_int_t)s->available_micros, "late", s->late);
}

json_t *answer_guard_release(const struct ledger_release_done *r)
{
	assert(r->hold_id[0] != '\0');
	assert(r->released_micros >= 0);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "hold_id", r->hold_id, "account", r->account, "state",
			 r->state, "released_micros", (json_int_t)r->released_micros, "balance_micros",
			 (json_int_t)r->balance_micros, "available_micros", (json_int_t)r->available_micros);
}

/* A usage answered again from its request_id's first record says so,
 * and not whether it was forced. */
json_t *answer_guard_usage(const struct ledger_usage_done *u)
{
	/* A replay's charge is read back from its record: shown as it is. */
	assert(u->usage_id[0] != '\0');
	assert(u->account[0] != '\0');
	if (u->replayed)
		return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "usage_id", u->usage_id, "account", u->account,
				 "charged_micros", (json_int_t)u->charged_micros, "balance_micros",
				 (json_int_t)u->balance_micros, "available_micros", (json_int_t)u->available_micros,
				 "replayed", 1);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "usage_id", u->usage_id, "account", u->account,
			 "charged_micros", (json_int_t)u->charged_micros, "balance_micros", (json_int_t)u->balance_micros,
			 "available_micros", (json_int_t)u->available_micros, "forced", u->forced, "replayed", 0);
}
