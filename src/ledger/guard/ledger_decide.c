/* ledger_decide.c: the guard's rules over a batch's rows (see
 * ledger_decide.h): authorize, settle, release and direct usage, with
 * shrinking, rate windows and the settle's cost.
 *
 * It owns the decisions, not the rows' storage (ledger_batch.h) nor the
 * batch's queue, retries or answers (ledger_holds.c). It never
 * reaches the database: what a decision needs that the batch does not
 * hold (a hold looked up, a refund grant written, grants past the page
 * read) it asks its caller for, as ledger_decide.h says, and
 * test_layering holds this file's calls to the in-memory ones. Money is
 * decided here, so each function asserts what it must keep: reserves
 * never negative, a hold never above what its request priced, a balance
 * moving by exactly its charge. */
#include "ledger_decide.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Rows ---- */

static struct member_row *op_member(struct batch *b, int acct, const char *member, int *index)
{
	int i = ledger_batch_member(b, acct, member);
	if (index != NULL)
		*index = i;
	return i >= 0 ? &b->members[i].m : NULL;
}

/* A hold's figures as money_guard decides on them. */
static struct guard_hold hold_figures(const struct hold_row *h)
{
	struct guard_hold g = {strcmp(h->state, "pending") == 0, strcmp(h->state, "captured") == 0, h->amount,
			       h->charged};
	return g;
}

/* The range (docs/api.md, "Money stays in range") of a move on a and m (NULL:
 * none): money_guard_range on their figures. */
static const char *range_check(const struct acct *a, const struct member_row *m, int64_t reserved_delta,
			       int64_t spend)
{
	struct guard_account ga;
	struct guard_member gm;
	const struct guard_member *pm = ledger_members_figures(a, m, &ga, &gm);
	return money_guard_range(&ga, pm, reserved_delta, spend);
}

void ledger_decide_member_move(struct batch *b, int acct, const char *member, int64_t reserved_delta, int64_t spent_delta)
{
	int i;
	assert(acct >= 0);
	assert(acct < b->naccts);
	struct member_row *m = op_member(b, acct, member, &i);
	if (m == NULL || (reserved_delta == 0 && spent_delta == 0))
		return;
	m->reserved += reserved_delta;
	m->month_spent += spent_delta;
	b->members[i].changed = 1;
	/* A member's reserve is the sum of its pending holds. */
	assert(m->reserved >= 0);
}

void ledger_decide_note(struct guard_op *op, const struct acct *a)
{
	/* Noted for an operation on its own account, with a reserve in range. */
	assert(op->acct >= 0);
	assert(a->reserved >= 0);
	op->balance = a->balance;
	op->available = ledger_rows_acct_available(a);
}

void ledger_decide_done_put(struct ledger_done *d, const struct ledger_guard_done *g)
{
	assert(g->kind >= LEDGER_DONE_HOLD);
	assert(g->kind <= LEDGER_DONE_USAGE);
	d->kind = g->kind;
	if (g->kind == LEDGER_DONE_HOLD)
		d->u.hold = g->u.hold;
	else if (g->kind == LEDGER_DONE_SETTLE)
		d->u.settle = g->u.settle;
	else if (g->kind == LEDGER_DONE_RELEASE)
		d->u.release = g->u.release;
	else
		d->u.usage = g->u.usage;
}

/* ---- Rate limits ----
 * Requests and tokens per minute (docs/api.md, "Rate limits"), counted on the account's
 * (and the member's) row the batch holds locked, per UTC minute: exact
 * across every instance (money_guard_rate_*). */

enum cd_err ledger_decide_rates_take(struct batch *b, int acct, const char *member, int64_t tokens,
				     struct refusal *why)
{
	const int64_t now = b->clock.now;
	int mi;
	assert(acct >= 0);
	assert(acct < b->naccts);
	struct acct *a = &b->accts[acct].a;
	struct member_row *m = op_member(b, acct, member, &mi);
	int64_t requests = a->rate.minute == now / 60 ? a->rate.requests : 0;
	enum cd_err rc = money_guard_rate_check(why, &a->rate, now, tokens);
	if (rc == CD_OK && m != NULL)
		rc = money_guard_rate_check(why, &m->rate, now, tokens);
	if (rc != CD_OK)
		return rc;
	money_guard_rate_count(&a->rate, now, tokens);
	if (m != NULL) {
		money_guard_rate_count(&m->rate, now, tokens);
		b->members[mi].changed = 1;
	}
	/* Granted: counted once, within its limit. */
	assert(a->rate.requests == requests + 1);
	assert(a->rate.rpm < 0 || a->rate.requests <= a->rate.rpm);
	return CD_OK;
}

/* ---- Authorize ---- */

/* The ask of r, as money_guard prices and checks it. */
static void ask_of(const struct guard_authorize *r, struct guard_ask *q)
{
	memset(q, 0, sizeof(*q));
	q->amount_micros = r->amount_micros;
	q->input_tokens = r->input_tokens;
	q->max_output_tokens = r->max_output_tokens;
	q->min_output_tokens = r->min_output_tokens;
	q->byok = r->byok;
	q->action = r->action != NULL;
	q->priced = r->priced;
	q->price = &r->price;
	q->margin_bps = r->margin_bps;
	q->hold_price = r->has_hold_price ? &r->hold_price : NULL;
	q->hold_fees_raw = r->hold_fees_raw;
}

enum pricing_status ledger_decide_hold_cost(const struct guard_authorize *r, int64_t output, int64_t *cost)
{
	struct guard_ask q;
	assert(r->priced);
	assert(output >= 0);
	ask_of(r, &q);
	return money_guard_hold_cost(&q, output, cost);
}

/* The checks (docs/api.md, "Checks in order") of a new hold of r on a and m, shrunk when the
 * request allows it (money_guard_authorize). */
static enum cd_err authorize_check(const struct guard_authorize *r, const struct acct *a, const struct member_row *m,
				   struct refusal *why, int64_t *amount, int64_t *out)
{
	struct guard_ask q;
	struct guard_account ga;
	struct guard_member gm;
	ask_of(r, &q);
	const struct guard_member *pm = ledger_members_figures(a, m, &ga, &gm);
	enum cd_err rc = money_guard_authorize(&q, &ga, pm, why, amount, out);
	assert(rc != CD_OK || *amount <= r->amount_micros);
	assert(rc != CD_OK || why->why == REFUSE_NONE);
	return rc;
}

/* A replayed request_id: answered with its hold, whatever a new one
 * would be told. */
static enum cd_err authorize_replay(struct batch *b, struct guard_op *op, const struct acct *a)
{
	assert(op->hold >= 0);
	assert(op->hold < b->nholds);
	assert(b->holds[op->hold].acct == op->acct);
	const struct hold_row *h = &b->holds[op->hold].h;
	memset(&op->refusal, 0, sizeof(op->refusal));
	op->amount = h->amount;
	op->max_output = h->max_output;
	op->expires_at = h->expires_at;
	ledger_decide_note(op, a);
	return CD_OK;
}

/* The row of a new hold of r, counted in the rate window's minute. */
static void hold_of(struct hold_row *h, const struct guard_authorize *r, const struct batch *b, int64_t amount,
		    int64_t out, int64_t minute, int64_t tokens)
{
	/* ttl_seconds 0: the client named none, the configured default
	 * ([ledger] hold_ttl_seconds, copied with the clock). */
	const int64_t ttl = r->ttl_seconds > 0 ? r->ttl_seconds : b->config.hold_ttl;
	assert(ttl > 0 && ttl <= LIMIT_HOLD_TTL_MAX_SECONDS);
	memset(h, 0, sizeof(*h));
	h->rate_minute = minute;
	h->rate_tokens = tokens;
	ledger_rows_copy_text(h->request_id, sizeof(h->request_id), r->request_id);
	h->has_member = r->member != NULL;
	ledger_rows_copy_text(h->member, sizeof(h->member), r->member);
	ledger_rows_copy_text(h->model, sizeof(h->model), r->model);
	ledger_rows_copy_text(h->action, sizeof(h->action), r->action);
	h->has_conversation = r->conversation_id != NULL;
	ledger_rows_copy_text(h->conversation, sizeof(h->conversation), r->conversation_id);
	h->amount = amount;
	h->max_output = out;
	h->has_pin = r->priced && !r->byok;
	if (h->has_pin) {
		h->pin = r->price;
		h->pin_margin = r->margin_bps;
	}
	h->byok = r->byok;
	h->expires_at = b->clock.now + ttl;
	snprintf(h->state, sizeof(h->state), "pending");
}

/* A new hold that passed the checks: its reserve in range (docs/api.md, "Money stays in range"),
 * its rate windows counted, then its reserve taken on the account and
 * the member. */
static enum cd_err authorize_hold(struct batch *b, struct guard_op *op, int64_t amount, int64_t out)
{
	const struct guard_authorize *r = op->in.authorize;
	struct batch_acct *ba = &b->accts[op->acct];
	struct acct *a = &ba->a;
	struct member_row *m = r->byok ? NULL : op_member(b, op->acct, r->member, NULL);
	struct hold_row h;
	const char *over = range_check(a, m, amount, 0);
	if (over != NULL)
		return refusal_set_range(&op->refusal, REFUSE_OUT_OF_RANGE, over, amount, "max_output_tokens");
	int64_t tokens = r->input_tokens + (out > 0 ? out : 0);	/* its input and the output granted */
	enum cd_err rc = ledger_decide_rates_take(b, op->acct, r->member, tokens, &op->refusal);
	if (rc != CD_OK)
		return rc;
	hold_of(&h, r, b, amount, out, a->rate.minute, tokens);
	op->hold = ledger_batch_hold_add(b, op->acct, &h);
	if (op->hold < 0)
		return CD_E_INTERNAL;
	int64_t reserved = a->reserved;
	a->reserved += h.amount;
	if (a->sweep_due_at < 0 || h.expires_at < a->sweep_due_at)
		a->sweep_due_at = h.expires_at;
	ba->changed = 1;
	if (m != NULL)
		ledger_decide_member_move(b, op->acct, r->member, h.amount, 0);
	/* The reserve grew by the hold, which is what the request priced or
	 * less (shrunk, byok). */
	assert(a->reserved - reserved == h.amount);
	assert(h.amount >= 0);
	assert(h.amount <= r->amount_micros);
	op->amount = h.amount;
	op->max_output = h.max_output;
	op->expires_at = h.expires_at;
	ledger_decide_note(op, a);
	return CD_OK;
}

/* A free call that passed the checks (guard_authorize.count_only):
 * counted in the rate windows, no hold made, no money moved. */
static enum cd_err authorize_count(struct batch *b, struct guard_op *op, int64_t now)
{
	const struct guard_authorize *r = op->in.authorize;
	struct acct *a = &b->accts[op->acct].a;
	int64_t reserved = a->reserved, balance = a->balance;
	assert(r->byok);
	op->hold = -1;
	enum cd_err rc = ledger_decide_rates_take(b, op->acct, r->member, 0, &op->refusal);
	if (rc != CD_OK)
		return rc;
	b->accts[op->acct].changed = 1;
	op->amount = 0;
	op->max_output = -1;
	op->expires_at = now;
	ledger_decide_note(op, a);
	/* Counted, and nothing else moved. */
	assert(a->reserved == reserved);
	assert(a->balance == balance);
	return CD_OK;
}

enum cd_err ledger_decide_authorize(struct batch *b, struct guard_op *op)
{
	const int64_t now = b->clock.now;
	const struct guard_authorize *r = op->in.authorize;
	int64_t amount, out;
	op->lookup = 0;
	op->acct = ledger_batch_acct_by_ext(b, r->account);
	if (op->acct < 0)
		return refusal_set(&op->refusal, REFUSE_ACCOUNT_UNKNOWN, r->account, NULL);
	const struct acct *a = &b->accts[op->acct].a;
	const struct member_row *m = r->byok ? NULL : op_member(b, op->acct, r->member, NULL);
	enum cd_err rc = authorize_check(r, a, m, &op->refusal, &amount, &out);
	if (r->count_only)
		return rc == CD_OK ? authorize_count(b, op, now) : rc;
	/* A replayed request_id gets its hold, even when a new one would be
	 * refused (but not on an account that is not active): a refusal is
	 * decided knowing whether the request_id is held already, which the
	 * batch may not have read: its caller's next attempt reads it. */
	op->hold = ledger_batch_hold_by_request(b, op->acct, r->request_id);
	op->lookup = rc != CD_OK && rc != CD_E_SUSPENDED && op->hold < 0 && !b->hold_reqs_read;
	if (op->lookup)
		return rc;	/* nothing changed: a refusal changes nothing */
	if (op->hold >= 0 && rc != CD_E_SUSPENDED) {
		rc = authorize_replay(b, op, a);
	} else if (rc == CD_OK) {
		/* Refused at its rate or range (nothing changed): a replay must
		 * know its request_id there too. */
		rc = authorize_hold(b, op, amount, out);
		op->lookup = rc != CD_OK && op->refusal.why != REFUSE_NONE && !b->hold_reqs_read;
	}
	/* Granted: a hold answers it; refused: its refusal says why. */
	assert(rc != CD_OK || op->hold >= 0);
	assert(rc != CD_OK || op->refusal.why == REFUSE_NONE);
	return rc;
}

/* ---- Settle and release ---- */

/* A pending hold's reserve is part of its account's (and its member's):
 * rows that say otherwise were not read together under their locks (rows
 * kept in memory, ledger_rowcache.h: the attempt reads them and decides
 * again) or disagree in the database itself (logged, the batch fails and
 * the process serves on). Never an assertion: rows are data. */
static enum cd_err hold_fits(struct batch *b, int acct, const struct hold_row *h)
{
	const struct acct *a = &b->accts[acct].a;
	const struct member_row *m = h->has_member ? op_member(b, acct, h->member, NULL) : NULL;
	if (strcmp(h->state, "pending") != 0)
		return CD_OK;
	if (h->amount > a->reserved)
		return ledger_batch_rows_disagree(b, acct, "a pending hold above the account's reserve");
	if (m != NULL && h->amount > m->reserved)
		return ledger_batch_rows_disagree(b, acct, "a pending hold above its member's reserve");
	return CD_OK;
}

/* The hold of a settle or release, with its account: both in the batch. */
static enum cd_err hold_find(struct batch *b, struct guard_op *op, const char *hold_id)
{
	op->acct = op->hold_id > 0 ? ledger_batch_acct_by_id(b, op->account_id) : -1;
	op->hold = op->acct >= 0 ? ledger_batch_hold_by_id(b, op->hold_id) : -1;
	if (op->hold < 0 || b->holds[op->hold].acct != op->acct)
		return refusal_set(&op->refusal, REFUSE_HOLD_UNKNOWN, hold_id, NULL);
	int gateways = strncmp(b->holds[op->hold].h.request_id, LEDGER_GATEWAY_REQUEST_PREFIX,
			       sizeof(LEDGER_GATEWAY_REQUEST_PREFIX) - 1) == 0;
	int by_gateway = op->kind == GUARD_SETTLE ? op->in.settle->settle_reason != NULL : op->in.release->gateway;
	if (gateways && !by_gateway)
		return refusal_set(&op->refusal, REFUSE_HOLD_GATEWAYS, hold_id, NULL);
	assert(op->acct < b->naccts);
	assert(b->holds[op->hold].h.amount >= 0);
	return CD_OK;
}

/* The prices a settle of h with r may charge at: the hold's pin, the
 * request's, and the listed ones from the price cache (ledger.h), looked
 * up by the names they would be used with. */
static void settle_prices(const struct hold_row *h, const struct guard_settle *r, struct guard_settle_prices *p,
			  struct price *listed)
{
	memset(p, 0, sizeof(*p));
	p->byok = h->byok;
	p->action = h->action[0] != '\0';
	if (h->byok)
		return;
	if (p->action) {
		p->has_action = ledger_price_action(h->action, &p->action_micros);
		return;
	}
	p->same_model = r->model == NULL || strcmp(r->model, h->model) == 0;
	p->pinned = h->has_pin ? &h->pin : NULL;
	p->pinned_margin = h->pin_margin;
	p->asked = r->price;
	p->asked_margin = r->margin_bps;
	p->asked_first = r->price != NULL && r->settle_reason != NULL;	/* the gateway's answering provider's */
	if ((p->pinned != NULL && p->same_model) || p->asked != NULL)
		return;
	/* A media row prices no token: as no row (docs/decisions.md). */
	if (ledger_price_model(r->model != NULL ? r->model : h->model, listed, &p->listed_margin) &&
	    pricing_prices_tokens(listed))
		p->listed = listed;
}

/* A settle's checks, before anything moves: its hold, the hold's state,
 * its cost and the money range (docs/api.md). CD_OK with *cost and *delta (what the
 * balance is charged: the cost less what a captured hold charged), or
 * with *replay set when a settled hold answers it from its stored settle. */
static enum cd_err settle_check(struct batch *b, struct guard_op *op, int64_t *cost, int64_t *delta, int *replay)
{
	const struct guard_settle *r = op->in.settle;
	struct guard_settle_prices p;
	struct price listed;
	*replay = 0;
	op->settle_base = -1;
	enum cd_err rc = hold_find(b, op, r->hold_id);
	if (rc != CD_OK)
		return rc;
	const struct hold_row *h = &b->holds[op->hold].h;
	const struct acct *a = &b->accts[op->acct].a;
	if (strcmp(h->state, "settled") == 0) {
		/* Answered from its stored settle, never charged again. */
		if (!h->has_hash || memcmp(h->settle_hash, r->request_hash, 32) != 0)
			return refusal_set(&op->refusal, REFUSE_HOLD_SETTLE_CONFLICT, r->hold_id, NULL);
		*replay = 1;
		return CD_OK;
	}
	if (strcmp(h->state, "released") == 0)
		return refusal_set(&op->refusal, REFUSE_HOLD_SETTLE_CONFLICT, r->hold_id, NULL);
	const struct pricing_tokens used = {r->input_tokens, r->cached_input_tokens, r->cache_write_input_tokens,
					    r->output_tokens};
	settle_prices(h, r, &p, &listed);
	rc = money_guard_settle_cost(&p, &used, r->extra_raw, cost, &op->refusal);
	if (rc != CD_OK)
		return rc;
	op->settle_base = money_guard_settle_base(&p, &used, r->extra_raw);	/* the same price, before the margin */
	struct guard_settle_effect e;
	const struct guard_hold gh = hold_figures(h);
	money_guard_settle(&gh, *cost, &e);
	*delta = e.delta;
	/* A refund written for it (op->refunded) moved the balance already:
	 * the range is checked from the balance before it, as the first time. */
	struct acct before;
	if (op->refunded > 0) {
		before = *a;
		before.balance -= op->refunded;
		a = &before;
	}
	const char *over = range_check(a, h->has_member ? op_member(b, op->acct, h->member, NULL) : NULL,
				       e.reserve_delta, *delta);
	if (over != NULL)	/* the money range (docs/api.md), before anything moves */
		return refusal_set_range(&op->refusal, REFUSE_OUT_OF_RANGE, over, *delta, "output_tokens");
	/* A captured hold was charged already: only the difference moves. */
	assert(h->charged >= 0);
	assert(*delta <= *cost);
	return CD_OK;
}

/* A decided settle's moves on account acct, hold h (of that account) and
 * its member (money_guard_settle): the rate window corrected to the
 * actual tokens, a pending hold's reserve released, delta counted in the
 * spends. The balance moves later, with its journal row. CD_E_INTERNAL
 * when a spend leaves the range it was checked against. */
static enum cd_err settle_move(struct batch *b, int acct, struct hold_row *h, const struct guard_settle *r,
			       int64_t cost, int64_t delta, int64_t *released)
{
	struct acct *a = &b->accts[acct].a;
	struct guard_settle_effect e;
	const struct guard_hold gh = hold_figures(h);
	assert(cost >= 0);
	assert(h->amount >= 0);
	money_guard_settle(&gh, cost, &e);
	assert(e.delta == delta);	/* settle_check's */
	/* Its minute's token count takes the actual tokens for the ones the
	 * hold counted. */
	if (h->rate_minute >= 0) {
		int64_t actual = r->input_tokens + r->output_tokens;
		int mi = -1;
		struct member_row *hm = h->has_member ? op_member(b, acct, h->member, &mi) : NULL;
		money_guard_rate_correct(&a->rate, h->rate_minute, h->rate_tokens, actual);
		if (hm != NULL) {
			money_guard_rate_correct(&hm->rate, h->rate_minute, h->rate_tokens, actual);
			b->members[mi].changed = 1;
		}
		h->rate_tokens = actual;
	}
	assert(-e.reserve_delta <= a->reserved);	/* the caller's hold_fits */
	a->reserved += e.reserve_delta;
	*released = e.released;
	if (ledger_rows_acct_spent(a, delta) != 0)
		return CD_E_INTERNAL;	/* checked above */
	b->accts[acct].changed = 1;
	ledger_decide_member_move(b, acct, h->has_member ? h->member : NULL, e.reserve_delta, delta);
	/* Reserve never negative; a hold gives back at most what it held. */
	assert(a->reserved >= 0);
	assert(*released <= h->amount);
	return CD_OK;
}

/* The settle's balance move with its journal row: a charge spends from
 * the grants read (what they cannot cover left in op->spend_more for the
 * caller), a refund was written by the caller before this decision
 * (op->refunded) and moved the balance already. */
static enum cd_err settle_charge(struct batch *b, struct guard_op *op, int64_t delta,
				 const char *id)
{
	const struct acct *a = &b->accts[op->acct].a;
	int64_t before = a->balance;
	enum cd_err rc = CD_OK;
	assert(delta >= 0 || op->refunded == -delta);
	if (delta > 0)
		rc = ledger_batch_spend(b, op->acct, delta, "usage", NULL, b->holds[op->hold].h.id, id,
					&op->spend_more);
	/* The balance moved by the charge, no more, no less. */
	assert(rc != CD_OK || a->balance == before - (delta > 0 ? delta : 0));
	assert(b->accts[op->acct].changed);
	return rc;
}

/* A settle's usage row, and its answer stored with its hold for a replay:
 * the hold is settled. */
static enum cd_err settle_finish(struct batch *b, struct guard_op *op, int64_t cost,
				 int64_t released, int pending, const char *id)
{
	const struct guard_settle *r = op->in.settle;
	struct batch_hold *bh = &b->holds[op->hold];
	struct hold_row *h = &bh->h;
	const struct acct *a = &b->accts[op->acct].a;
	const char *model = r->model != NULL ? r->model : h->model[0] ? h->model : NULL;
	const char *conv = r->conversation_id != NULL ? r->conversation_id : h->has_conversation ? h->conversation : NULL;
	assert(cost >= 0);
	assert(released >= 0);
	assert(released <= h->amount);
	/* The cost before the margin, decided with the charge (settle_check,
	 * sql/078). */
	const struct usage_fields u = {h->id, h->has_member ? h->member : NULL, model, h->action[0] ? h->action : NULL,
				       r->input_tokens, r->cached_input_tokens, r->cache_write_input_tokens,
				       r->output_tokens, cost, h->byok, h->request_id, conv, r->settle_reason,
				       op->settle_base};
	ledger_batch_settle_usage(b, op->acct, &u);
	/* Its answer, kept with the hold for a replay, rendered by the
	 * caller's renderer; its fields are bounded, so it always fits the
	 * column (limits.h). */
	ledger_decide_note(op, a);
	op->settled = (struct ledger_settle_done){.charged_micros = cost, .released_micros = released,
		.balance_micros = op->balance, .available_micros = op->available, .late = !pending};
	ledger_rows_copy_text(op->settled.hold_id, sizeof(op->settled.hold_id), id);
	ledger_rows_copy_text(op->settled.account, sizeof(op->settled.account), a->ext_id);
	struct ledger_done *d = &b->answer;
	d->kind = LEDGER_DONE_SETTLE;
	d->u.settle = op->settled;
	json_t *out = NULL;
	int status;
	char *text = op->render(d, &status, &out) == CD_OK ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(out);
	if (text == NULL || strlen(text) > LIMIT_SETTLE_RESPONSE_BYTES) {
		free(text);
		return CD_E_INTERNAL;
	}
	ledger_rows_copy_text(h->response, sizeof(h->response), text);
	free(text);
	memcpy(h->settle_hash, r->request_hash, 32);
	h->has_hash = 1;
	h->charged = cost;
	snprintf(h->state, sizeof(h->state), "settled");
	bh->changed = 1;
	return CD_OK;
}

enum cd_err ledger_decide_settle(struct batch *b, struct guard_op *op)
{
	char id[LIMIT_HOLD_ID_BYTES];
	int64_t cost = 0, delta = 0, released = 0;
	int replay;
	op->refund = op->spend_more = 0;
	enum cd_err rc = settle_check(b, op, &cost, &delta, &replay);
	op->replayed = replay;	/* answered with the text its hold keeps */
	if (rc != CD_OK || replay)
		return rc;
	if (delta < 0 && op->refunded != -delta) {
		/* A late settle below its captured hold: the difference comes back
		 * as a refund grant the caller writes first; nothing moved yet. */
		op->refund = -delta;
		return CD_OK;
	}
	/* Decided: from here on the settle happens. */
	struct hold_row *h = &b->holds[op->hold].h;
	const struct acct *a = &b->accts[op->acct].a;
	int pending = strcmp(h->state, "pending") == 0;
	rc = hold_fits(b, op->acct, h);
	if (rc != CD_OK)
		return rc;
	rc = settle_move(b, op->acct, h, op->in.settle, cost, delta, &released);
	ledger_rows_hold_id_format(id, sizeof(id), a->id, h->id);
	if (rc == CD_OK)
		rc = settle_charge(b, op, delta, id);
	if (rc == CD_OK)
		rc = settle_finish(b, op, cost, released, pending, id);
	/* Settled at what it cost, with the account's reserve in range. */
	assert(rc != CD_OK || strcmp(h->state, "settled") == 0);
	assert(rc != CD_OK || h->charged == cost);
	assert(a->reserved >= 0);
	return rc;
}

enum cd_err ledger_decide_release(struct batch *b, struct guard_op *op)
{
	const struct guard_release *r = op->in.release;
	enum cd_err rc = hold_find(b, op, r->hold_id);
	if (rc != CD_OK)
		return rc;
	struct batch_hold *bh = &b->holds[op->hold];
	struct hold_row *h = &bh->h;
	struct acct *a = &b->accts[op->acct].a;
	if (strcmp(h->state, "settled") == 0 || strcmp(h->state, "captured") == 0)
		return refusal_set(&op->refusal, REFUSE_HOLD_RELEASE_CONFLICT, r->hold_id, NULL);
	op->released = 0;
	rc = hold_fits(b, op->acct, h);
	if (rc != CD_OK)
		return rc;
	const struct guard_hold gh = hold_figures(h);
	op->released = money_guard_release(&gh);
	if (gh.pending) {
		assert(op->released <= a->reserved);	/* hold_fits */
		a->reserved -= op->released;
		b->accts[op->acct].changed = 1;
		ledger_decide_member_move(b, op->acct, h->has_member ? h->member : NULL, -op->released, 0);
		snprintf(h->state, sizeof(h->state), "released");
		bh->changed = 1;
	}
	/* Nothing charged: only a pending hold's reserve goes back. */
	assert(op->released == 0 || strcmp(h->state, "released") == 0);
	assert(op->released >= 0);
	assert(a->reserved >= 0);
	snprintf(op->state, sizeof(op->state), "%s", h->state);
	ledger_decide_note(op, a);
	return CD_OK;
}

/* ---- Direct usage ----
 * Usage reported after the fact is checked like authorize (404, 403, 429,
 * 402), and a refusal charges nothing; with force it is charged whatever
 * the checks say, and its journal row says so (source "forced"). A
 * request_id already recorded answers its first result, even when a new
 * charge would now be refused. */

/* Usage's checks, and its replay (force skips the checks, never the
 * replay): CD_OK with *done set when answered from the recorded usage. */
static enum cd_err usage_check(struct batch *b, struct guard_op *op, int64_t cost, int *done)
{
	const struct guard_usage *r = op->in.usage;
	const struct acct *a = &b->accts[op->acct].a;
	assert(op->acct >= 0);
	assert(cost >= 0);
	*done = 0;
	op->usage = ledger_batch_usage_by_key(b, op->acct, r->request_id);
	int same = op->usage >= 0 && b->usages[op->usage].has_hash &&
		   memcmp(b->usages[op->usage].hash, r->request_hash, 32) == 0;
	if (!r->force) {
		struct member_row *m = r->byok ? NULL : op_member(b, op->acct, r->member, NULL);
		struct guard_account ga;
		struct guard_member gm;
		const struct guard_member *pm = ledger_members_figures(a, m, &ga, &gm);
		enum cd_err rc = money_guard_check(&op->refusal, &ga, pm, cost, r->byok);
		if (rc != CD_OK && (rc == CD_E_SUSPENDED || !same))
			return rc;
		memset(&op->refusal, 0, sizeof(op->refusal));
	}
	if (op->usage >= 0) {
		if (!same)
			return refusal_set(&op->refusal, REFUSE_USAGE_CONFLICT, r->request_id, NULL);
		op->replayed = 1;
		op->charged = b->usages[op->usage].cost;
		ledger_decide_note(op, a);
		*done = 1;
		return CD_OK;
	}
	const char *over = range_check(a, op_member(b, op->acct, r->member, NULL), 0, cost);
	if (over != NULL)	/* the money range (docs/api.md): forced charges included */
		return refusal_set_range(&op->refusal, REFUSE_OUT_OF_RANGE, over, cost, r->model ? "output_tokens" : "action");
	return CD_OK;
}

/* A usage that passed its checks: counted in the rate windows, recorded,
 * and charged (in range: checked before anything moved). */
static enum cd_err usage_record(struct batch *b, struct guard_op *op, int64_t cost)
{
	const struct guard_usage *r = op->in.usage;
	struct acct *a = &b->accts[op->acct].a;
	int64_t tokens = r->input_tokens + r->output_tokens;
	assert(cost >= 0);
	if (!r->force) {
		enum cd_err rc = ledger_decide_rates_take(b, op->acct, r->member, tokens, &op->refusal);
		if (rc != CD_OK)
			return rc;
	} else {
		money_guard_rate_count(&a->rate, b->clock.now, tokens);
	}
	const struct usage_fields u = {0, r->member, r->model, r->action, r->input_tokens, r->cached_input_tokens,
				       r->cache_write_input_tokens, r->output_tokens, cost, r->byok, r->request_id,
				       r->conversation_id, r->settle_reason, -1};
	/* Its record's key and its journal row's reference: the request_id,
	 * else creditd's own (ledger_usage made it), so the row shows it. */
	const char *key = r->request_id != NULL ? r->request_id : op->usage_key;
	assert(key[0] != '\0');
	op->usage = ledger_batch_usage_add(b, op->acct, &u, key, r->request_hash);
	if (op->usage < 0)
		return CD_E_INTERNAL;
	if (cost > 0) {
		enum cd_err rc = ledger_batch_spend(b, op->acct, cost, "usage", r->force ? "forced" : NULL, 0,
						    key, &op->spend_more);
		if (rc != CD_OK)
			return rc;
		if (ledger_rows_acct_spent(a, cost) != 0)
			return CD_E_INTERNAL;
		ledger_decide_member_move(b, op->acct, r->member, 0, cost);
	}
	b->accts[op->acct].changed = 1;
	op->charged = cost;
	/* Recorded at what it charged, for a replay to answer. */
	assert(b->usages[op->usage].cost == cost);
	ledger_decide_note(op, a);
	return CD_OK;
}

enum cd_err ledger_decide_usage(struct batch *b, struct guard_op *op)
{
	const struct guard_usage *r = op->in.usage;
	int done;
	op->acct = ledger_batch_acct_by_ext(b, r->account);
	if (op->acct < 0)
		return refusal_set(&op->refusal, REFUSE_ACCOUNT_UNKNOWN, r->account, NULL);
	const struct acct *a = &b->accts[op->acct].a;
	int64_t cost = r->byok ? 0 : r->cost_micros;
	assert(cost >= 0);
	op->spend_more = 0;
	enum cd_err rc = usage_check(b, op, cost, &done);
	if (rc != CD_OK || done)
		return rc;
	int64_t before = a->balance, reserved = a->reserved;
	rc = usage_record(b, op, cost);
	/* The balance moved by the charge alone; no reserve moved. */
	assert(rc != CD_OK || a->balance == before - cost);
	assert(rc != CD_OK || op->charged == cost);
	assert(a->reserved == reserved);
	return rc;
}

int ledger_decide_failed_op(const struct batch *b, struct guard_op *const *ops, int n)
{
	if (b->failed_op >= 0 || b->failed_acct < 0 || b->failed_acct >= b->naccts)
		return b->failed_op;
	const struct acct *a = &b->accts[b->failed_acct].a;
	for (int i = 0; i < n; i++) {
		const struct guard_op *op = ops[i];
		const char *ext = op->kind == GUARD_AUTHORIZE ? op->in.authorize->account
				  : op->kind == GUARD_USAGE ? op->in.usage->account : NULL;
		if (ext != NULL ? strcmp(ext, a->ext_id) == 0 : op->account_id == a->id)
			return i;
	}
	return -1;
}

/* A settle: decided; a late one below its captured hold gets the
 * difference back as a refund grant in the batch's rows, its journal row
 * in the operations' order (ledger_batch_refund), and is decided again. */
static enum cd_err decide_settle(struct batch *b, struct guard_op *op)
{
	char ref[LIMIT_HOLD_ID_BYTES];
	op->refunded = 0;
	enum cd_err rc = ledger_decide_settle(b, op);
	if (rc == CD_OK && op->refund > 0) {
		ledger_rows_hold_id_format(ref, sizeof(ref), b->accts[op->acct].a.id, b->holds[op->hold].h.id);
		rc = ledger_batch_refund(b, op->acct, op->refund, ref);
		op->refunded = rc == CD_OK ? op->refund : 0;
		if (rc == CD_OK)
			rc = ledger_decide_settle(b, op);
		assert(rc != CD_OK || op->refund == 0);
	}
	return rc;
}

enum cd_err ledger_decide_op(struct batch *b, struct guard_op *op)
{
	switch (op->kind) {
	case GUARD_AUTHORIZE:
		return ledger_decide_authorize(b, op);
	case GUARD_SETTLE:
		return decide_settle(b, op);
	case GUARD_RELEASE:
		return ledger_decide_release(b, op);
	default:
		return ledger_decide_usage(b, op);
	}
}

/* A charge the grants loaded do not cover (op->spend_more) while its
 * account has more than were read, or has a grant a refund of this batch
 * made (not written yet, grants_stale). */
static enum cd_err more_grants(struct batch *b, const struct guard_op *op, int i, int n)
{
	const struct batch_acct *ba = &b->accts[op->acct];
	assert(op->spend_more > 0);
	b->failed_op = i;
	if (n > 1)
		return CD_E_INTERNAL;	/* run apart: named, no error logged */
	if (!b->grants_wide && !ba->grants_stale) {
		b->grants_wide = 1;
		return ledger_batch_load_more(b);
	}
	log_error("account %" PRId64 ": a charge of %" PRId64 " micros past the %d grants one transaction reads "
		  "(LIMIT_SPEND_GRANTS_WIDE): not charged", ba->a.id, op->spend_more, LIMIT_SPEND_GRANTS_WIDE);
	return CD_E_INTERNAL;
}

enum cd_err ledger_decide_needs(struct batch *b, const struct guard_op *op, enum cd_err rc, int i, int n)
{
	assert(i >= 0 && i < n);
	if (op->kind == GUARD_AUTHORIZE && op->lookup) {
		assert(!b->hold_reqs_read);
		b->hold_reqs_needed = 1;
		return ledger_batch_load_more(b);
	}
	if (rc == CD_OK && (op->kind == GUARD_SETTLE || op->kind == GUARD_USAGE) && op->spend_more > 0)
		return more_grants(b, op, i, n);
	return rc;
}
