/* answer_members.c: the answers of a workspace's member writes: a member
 * added or changed, a member removed. (A member as its own browser token
 * sees it, with what is left of its cap, is a read: ledger_member_get.) */
#include "answer.h"
#include <assert.h>

json_t *answer_members_member(const struct ledger_member_done *m)
{
	assert(m->account[0] != '\0');
	assert(m->member[0] != '\0');
	return json_pack("{s:s, s:s, s:o, s:I, s:I, s:o, s:o}", "account", m->account, "member", m->member,
			 "monthly_cap_micros", answer_fields_int(m->monthly_cap_micros), "month_spent_micros",
			 (json_int_t)m->month_spent_micros, "reserved_micros", (json_int_t)m->reserved_micros,
			 "requests_per_minute", answer_fields_int(m->requests_per_minute), "tokens_per_minute",
			 answer_fields_int(m->tokens_per_minute));
}

json_t *answer_members_gone(const struct ledger_member_gone *m)
{
	assert(m->account[0] != '\0');
	assert(m->member[0] != '\0');
	return json_pack("{s:s, s:s, s:b}", "account", m->account, "member", m->member, "deleted", 1);
}
