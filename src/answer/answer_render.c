/* answer_render.c: a write's answer rendered whole: which shape (the
 * other answer_*.c files) and which status. The ledger calls
 * answer_render through its caller's struct ledger_call when it stores an
 * answer under an Idempotency-Key; the API and creditctl call it for the
 * rest. It must answer exactly what the ledger made before it was split
 * off: the same keys in the same order, the same status. */
#include "answer.h"
#include <assert.h>

/* The body of d, and its status: 201 for what a write made, 200 for
 * what it changed or found made already. */
static json_t *render_body(const struct ledger_done *d, int *status)
{
	switch (d->kind) {
	case LEDGER_DONE_ACCOUNT_CREATE:
		*status = d->u.account.created ? 201 : 200;
		return answer_accounts_view(&d->u.account.account);
	case LEDGER_DONE_ACCOUNT_PATCH:
		*status = 200;
		return answer_accounts_view(&d->u.account.account);
	case LEDGER_DONE_GRANT:
		*status = 201;
		return answer_entries_grant(&d->u.grant);
	case LEDGER_DONE_DEBIT:
		*status = 201;
		return answer_entries_entry(&d->u.debit);
	case LEDGER_DONE_PLAN_PUT:
		*status = 200;
		return answer_catalogue_plan(&d->u.plan);
	case LEDGER_DONE_PROMO_CREATE:
		*status = 201;
		return answer_catalogue_promo(&d->u.promo);
	case LEDGER_DONE_PROMO_REDEEM:
		*status = 201;
		return answer_catalogue_redeem(&d->u.redeem);
	case LEDGER_DONE_MEMBER_PUT:
		*status = d->u.member.created ? 201 : 200;
		return answer_members_member(&d->u.member);
	case LEDGER_DONE_MEMBER_DELETE:
		*status = 200;
		return answer_members_gone(&d->u.member_gone);
	case LEDGER_DONE_HOLD:
		*status = 200;
		return answer_guard_hold(&d->u.hold);
	case LEDGER_DONE_SETTLE:
		*status = 200;
		return answer_guard_settle(&d->u.settle);
	case LEDGER_DONE_RELEASE:
		*status = 200;
		return answer_guard_release(&d->u.release);
	case LEDGER_DONE_USAGE:
		*status = 200;
		return answer_guard_usage(&d->u.usage);
	case LEDGER_DONE_NONE:
		break;
	}
	return NULL;
}

enum cd_err answer_render(const struct ledger_done *d, int *status, json_t **body)
{
	assert(d != NULL);
	assert(d->kind != LEDGER_DONE_NONE);	/* a replay or a refusal is res->body already */
	*status = 500;
	*body = render_body(d, status);
	if (*body == NULL) {
		*status = 500;
		return CD_E_INTERNAL;
	}
	assert(*status == 200 || *status == 201);
	return CD_OK;
}
