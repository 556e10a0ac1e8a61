/* ledger_holds.c: authorize, settle, release and direct usage, decided in
 * group-commit batches.
 *
 * Guard writes queue (ledger_combine.h); a waiting worker takes up to
 * LIMIT_BATCH_OPS of them and runs them as one transaction on its own
 * connection: every row they need is read and locked in one round trip
 * (ledger_batch.h), each operation is decided in memory in arrival order
 * by the rules below (DESIGN §5's checks in its order: 404, 403, 429,
 * 402), every row is written back and committed in one more round trip,
 * and each operation gets its own answer. A refusal changes nothing, so
 * it never touches the other operations of its batch; a failure of the
 * transaction (deadlock, lock wait, lost connection, certification) runs
 * the whole batch again, at most LIMIT_TX_RETRIES times, then answers
 * every operation with it. Replays are answered from what was stored: a
 * request_id maps to one hold or one usage, a settled hold keeps its
 * settle's hash and answer, an Idempotency-Key its answer. */
#include "ledger_batch.h"
#include "ledger_combine.h"
#include "noderoute.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum guard_kind { GUARD_AUTHORIZE, GUARD_SETTLE, GUARD_RELEASE, GUARD_USAGE };

/* One queued guard operation: its request, then what one attempt of its
 * batch decided, then its answer. */
struct guard_op {
	struct combine_op link;		/* first: the queue's */
	enum guard_kind kind;
	const struct ledger_call *call;	/* NULL: no Idempotency-Key */
	union {
		const struct guard_authorize *authorize;
		const struct guard_settle *settle;
		const struct guard_release *release;
		const struct guard_usage *usage;
	} in;
	struct ledger_result *res;
	enum cd_err rc;			/* CD_OK: res holds the answer */
	/* The attempt's decision. */
	int ext;			/* the account's index in batch_want.acct_ext, or -1 */
	int64_t account_id, hold_id;	/* a settle's or release's hold, parsed (0: unparsable) */
	enum cd_err decided;		/* CD_OK, or the refusal's code */
	struct refusal refusal;
	int acct, hold, usage;		/* rows in the batch, or -1 */
	const struct batch_key *stored;	/* answered from an earlier request's key */
	int same_key_as;		/* answered like this earlier operation of the batch, or -1 */
	int store;			/* its answer is stored under its key */
	int64_t amount, expires_at, balance, available, charged, released;
	int64_t max_output;		/* an authorize's granted output tokens, -1: none */
	int replayed;
	char state[16];
	/* The answer. */
	json_t *out;
	int status;
	int answer_replayed;
	/* The account it routes by (several database nodes): the request's,
	 * or a settle's or release's hold's; "" when unknown. */
	char route[LIMIT_ACCOUNT_ID_BYTES + 1];
};

/* ---- The rules ---- */

static struct member_row *op_member(struct batch *b, int acct, const char *member, int *index)
{
	int i = batch_member(b, acct, member);
	if (index != NULL)
		*index = i;
	return i >= 0 ? &b->members[i].m : NULL;
}

/* Moves a member's reserve and month spend, when it has a row. */
static void member_move(struct batch *b, int acct, const char *member, int64_t reserved_delta, int64_t spent_delta)
{
	int i;
	struct member_row *m = op_member(b, acct, member, &i);
	if (m == NULL || (reserved_delta == 0 && spent_delta == 0))
		return;
	m->reserved += reserved_delta;
	m->month_spent += spent_delta;
	b->members[i].changed = 1;
}

static void op_note(struct guard_op *op, const struct acct *a)
{
	op->balance = a->balance;
	op->available = acct_available(a);
}

/* ---- Rate limits ---- */

/* Requests and tokens per minute (DESIGN §9), counted on the account's
 * (and the member's) row the batch holds locked, per UTC minute: exact
 * across every instance. A request over a limit is refused 429 with the
 * seconds to the next minute, and counts nothing. */
static enum cd_err rate_check(struct refusal *why, const struct rate *w, int64_t now, int64_t tokens)
{
	int64_t minute = now / 60;
	int64_t requests = w->minute == minute ? w->requests : 0;
	int64_t counted = w->minute == minute ? w->tokens : 0;
	const char *which = NULL;
	int64_t limit = 0;
	if (w->rpm >= 0 && requests + 1 > w->rpm) {
		which = "requests_per_minute";
		limit = w->rpm;
	} else if (w->tpm >= 0 && counted + tokens > w->tpm) {
		which = "tokens_per_minute";
		limit = w->tpm;
	}
	if (which == NULL)
		return CD_OK;
	enum cd_err rc = refusal_set(why, REFUSE_RATE_LIMIT, which, NULL);
	why->amount_micros = limit;
	why->retry_after = 60 - now % 60;
	return rc;
}

/* Counts a granted request and its tokens in the current minute. */
static void rate_count(struct rate *w, int64_t now, int64_t tokens)
{
	int64_t minute = now / 60;
	if (w->minute != minute) {
		w->minute = minute;
		w->requests = 0;
		w->tokens = 0;
	}
	w->requests++;
	w->tokens += tokens;
}

/* A settle's correction: the actual tokens for those counted, when the
 * hold was counted in the window's current minute. */
static void rate_correct(struct rate *w, int64_t minute, int64_t counted, int64_t actual)
{
	if (minute < 0 || minute != w->minute)
		return;
	w->tokens += actual - counted;
	if (w->tokens < 0)
		w->tokens = 0;
}

/* The account's window, then the member's (when it has a row): both must
 * pass before either counts. */
static enum cd_err rates_take(struct batch *b, struct guard_op *op, const char *member, int64_t now, int64_t tokens)
{
	int mi;
	struct acct *a = &b->accts[op->acct].a;
	struct member_row *m = op_member(b, op->acct, member, &mi);
	enum cd_err rc = rate_check(&op->refusal, &a->rate, now, tokens);
	if (rc == CD_OK && m != NULL)
		rc = rate_check(&op->refusal, &m->rate, now, tokens);
	if (rc != CD_OK)
		return rc;
	rate_count(&a->rate, now, tokens);
	if (m != NULL) {
		rate_count(&m->rate, now, tokens);
		b->members[mi].changed = 1;
	}
	return CD_OK;
}

/* ---- Authorize ---- */

/* Shrink instead of refusing (DESIGN §9): the most output tokens, from
 * max_output_tokens - 1 down to min_output_tokens, whose hold passes every
 * check (guard_check: balance and overdraft, monthly and daily limits, the
 * member's cap), priced exactly as the full hold was (the cost formula's
 * rounding). A check that passes for an amount passes for any smaller one,
 * so the largest is found by bisection. 0 and *out set, or -1: not even
 * min_output_tokens is affordable (*min_cost is what it would hold). */
static int shrink(const struct guard_authorize *r, const struct acct *a, const struct member_row *m,
		  int64_t *out, int64_t *amount, int64_t *min_cost)
{
	struct refusal scratch;
	int64_t lo = r->min_output_tokens, hi = r->max_output_tokens - 1, cost;
	if (pricing_token_cost(&r->price, r->margin_bps, r->input_tokens, 0, lo, min_cost) != PRICING_OK)
		return -1;
	if (member_guard_check(&scratch, a, m, *min_cost, 0) != CD_OK)
		return -1;
	while (lo < hi) {		/* lo is affordable; is anything up to hi? */
		int64_t mid = lo + (hi - lo + 1) / 2;
		if (pricing_token_cost(&r->price, r->margin_bps, r->input_tokens, 0, mid, &cost) == PRICING_OK &&
		    member_guard_check(&scratch, a, m, cost, 0) == CD_OK)
			lo = mid;
		else
			hi = mid - 1;
	}
	*out = lo;
	return pricing_token_cost(&r->price, r->margin_bps, r->input_tokens, 0, lo, amount) == PRICING_OK ? 0 : -1;
}

static enum cd_err authorize_decide(struct ledger *lg, struct batch *b, struct guard_op *op)
{
	const struct guard_authorize *r = op->in.authorize;
	op->acct = batch_acct_by_ext(b, r->account);
	if (op->acct < 0)
		return refusal_set(&op->refusal, REFUSE_ACCOUNT_UNKNOWN, r->account, NULL);
	struct batch_acct *ba = &b->accts[op->acct];
	struct acct *a = &ba->a;
	struct member_row *m = r->byok ? NULL : op_member(b, op->acct, r->member, NULL);
	int64_t amount = r->byok ? 0 : r->amount_micros, out = r->action != NULL ? -1 : r->max_output_tokens;
	enum cd_err rc = member_guard_check(&op->refusal, a, m, r->amount_micros, r->byok);
	if (rc != CD_OK && rc != CD_E_SUSPENDED && r->min_output_tokens >= 0 && r->priced &&
	    r->min_output_tokens < r->max_output_tokens) {
		int64_t min_cost;
		if (shrink(r, a, m, &out, &amount, &min_cost) == 0) {
			memset(&op->refusal, 0, sizeof(op->refusal));
			rc = CD_OK;
		} else {
			/* Refused: what it says is needed is the least hold the
			 * app would have taken. */
			rc = member_guard_check(&op->refusal, a, m, min_cost, 0);
		}
	}
	/* A replayed request_id gets its hold, even when a new one would be
	 * refused (but not on an account that is not active): a refusal is
	 * decided knowing whether the request_id is held already. */
	op->hold = batch_hold_by_request(b, op->acct, r->request_id);
	if (rc != CD_OK && rc != CD_E_SUSPENDED && op->hold < 0 && !b->hold_reqs_read) {
		enum cd_err lr = batch_hold_lookup(lg, b, op->acct, r->request_id, &op->hold);
		if (lr != CD_OK)
			return lr;
	}
	if (op->hold >= 0 && rc != CD_E_SUSPENDED) {
		const struct hold_row *h = &b->holds[op->hold].h;
		memset(&op->refusal, 0, sizeof(op->refusal));
		op->amount = h->amount;
		op->max_output = h->max_output;
		op->expires_at = h->expires_at;
		op_note(op, a);
		return CD_OK;
	}
	if (rc != CD_OK)
		return rc;
	const char *over = member_range_check(a, m, amount, 0);
	if (over != NULL)	/* DESIGN §10: the reserve stays in range */
		return refusal_set_range(&op->refusal, REFUSE_OUT_OF_RANGE, over, amount, "max_output_tokens");
	int64_t tokens = r->input_tokens + (out > 0 ? out : 0);	/* its input and the output granted */
	rc = rates_take(b, op, r->member, lg->now, tokens);
	if (rc != CD_OK)
		return rc;
	struct hold_row h;
	memset(&h, 0, sizeof(h));
	h.rate_minute = a->rate.minute;
	h.rate_tokens = tokens;
	ledger_copy_text(h.request_id, sizeof(h.request_id), r->request_id);
	h.has_member = r->member != NULL;
	ledger_copy_text(h.member, sizeof(h.member), r->member);
	ledger_copy_text(h.model, sizeof(h.model), r->model);
	ledger_copy_text(h.action, sizeof(h.action), r->action);
	h.has_conversation = r->conversation_id != NULL;
	ledger_copy_text(h.conversation, sizeof(h.conversation), r->conversation_id);
	h.amount = amount;
	h.max_output = out;
	h.has_pin = r->priced && !r->byok;
	if (h.has_pin) {
		h.pin = r->price;
		h.pin_margin = r->margin_bps;
	}
	h.byok = r->byok;
	h.expires_at = lg->now + r->ttl_seconds;
	snprintf(h.state, sizeof(h.state), "pending");
	op->hold = batch_hold_add(b, op->acct, &h);
	if (op->hold < 0)
		return CD_E_INTERNAL;
	a->reserved += h.amount;
	if (a->sweep_due_at < 0 || h.expires_at < a->sweep_due_at)
		a->sweep_due_at = h.expires_at;
	ba->changed = 1;
	if (m != NULL)
		member_move(b, op->acct, r->member, h.amount, 0);
	op->amount = h.amount;
	op->max_output = h.max_output;
	op->expires_at = h.expires_at;
	op_note(op, a);
	return CD_OK;
}

/* ---- Settle and release ---- */

/* The hold of a settle or release, with its account: both in the batch. */
static enum cd_err hold_find(struct batch *b, struct guard_op *op, const char *hold_id)
{
	op->acct = op->hold_id > 0 ? batch_acct_by_id(b, op->account_id) : -1;
	op->hold = op->acct >= 0 ? batch_hold_by_id(b, op->hold_id) : -1;
	if (op->hold < 0 || b->holds[op->hold].acct != op->acct)
		return refusal_set(&op->refusal, REFUSE_HOLD_UNKNOWN, hold_id, NULL);
	return CD_OK;
}

/* Cost of a settle: byok 0, an action its price, a model its tokens; a
 * cost above LIMIT_AMOUNT_MICROS_MAX is refused (DESIGN §10). */
static enum cd_err settle_cost(const struct hold_row *h, const struct guard_settle *r, int64_t *cost,
			       struct refusal *why)
{
	struct price p;
	int64_t margin;
	*cost = 0;
	if (h->byok)
		return CD_OK;
	if (h->action[0] != '\0')
		return ledger_price_action(h->action, cost) ? CD_OK : refusal_set(why, REFUSE_HOLD_UNPRICED, NULL, NULL);
	if (h->has_pin && (r->model == NULL || strcmp(r->model, h->model) == 0)) {
		/* Pinned at authorize: a price change since does not touch it. */
		p = h->pin;
		margin = h->pin_margin;
	} else if (r->price != NULL) {
		p = *r->price;
		margin = r->margin_bps;
	} else if (!ledger_price_model(r->model != NULL ? r->model : h->model, &p, &margin)) {
		return refusal_set(why, REFUSE_HOLD_UNPRICED, NULL, NULL);
	}
	if (pricing_token_cost(&p, margin, r->input_tokens, r->cached_input_tokens, r->output_tokens, cost) != PRICING_OK)
		return refusal_set(why, REFUSE_HOLD_UNPRICED, NULL, NULL);
	if (*cost <= LIMIT_AMOUNT_MICROS_MAX)
		return CD_OK;
	return refusal_set_range(why, REFUSE_CHARGE_CAP, NULL, *cost,
				 pricing_blame(&p, r->input_tokens, r->cached_input_tokens, r->output_tokens, "output_tokens"));
}

/* A late settle below a captured hold gives the difference back as a
 * refund grant, written at once (after what the batch wrote before it,
 * so the journal keeps the operations' order). */
static enum cd_err settle_refund(struct ledger *lg, struct batch *b, struct guard_op *op, int64_t amount)
{
	char ref[LIMIT_HOLD_ID_BYTES];
	int64_t grant_id, journal_id;
	struct acct *a = &b->accts[op->acct].a;
	enum cd_err rc = batch_flush(lg, b, 0, NULL, 0);
	if (rc != CD_OK)
		return rc;
	hold_id_format(ref, sizeof(ref), a->id, b->holds[op->hold].h.id);
	rc = ledger_add_grant(lg, a, "refund", amount, 0, -1, ref, "late settle below captured hold", &grant_id,
			      &journal_id);
	b->accts[op->acct].changed = 1;
	b->accts[op->acct].grants_stale = 1;
	return rc;
}

static enum cd_err settle_decide(struct ledger *lg, struct batch *b, struct guard_op *op)
{
	const struct guard_settle *r = op->in.settle;
	int64_t cost;
	char id[LIMIT_HOLD_ID_BYTES];
	enum cd_err rc = hold_find(b, op, r->hold_id);
	if (rc != CD_OK)
		return rc;
	struct batch_hold *bh = &b->holds[op->hold];
	struct hold_row *h = &bh->h;
	struct acct *a = &b->accts[op->acct].a;
	if (strcmp(h->state, "settled") == 0) {
		/* Answered from its stored settle, never charged again. */
		if (!h->has_hash || memcmp(h->settle_hash, r->request_hash, 32) != 0)
			return refusal_set(&op->refusal, REFUSE_HOLD_SETTLE_CONFLICT, r->hold_id, NULL);
		return CD_OK;
	}
	if (strcmp(h->state, "released") == 0)
		return refusal_set(&op->refusal, REFUSE_HOLD_SETTLE_CONFLICT, r->hold_id, NULL);
	rc = settle_cost(h, r, &cost, &op->refusal);
	if (rc != CD_OK)
		return rc;
	int pending = strcmp(h->state, "pending") == 0;
	int64_t delta = cost - (strcmp(h->state, "captured") == 0 ? h->charged : 0);
	const char *over = member_range_check(a, h->has_member ? op_member(b, op->acct, h->member, NULL) : NULL,
					      pending ? -h->amount : 0, delta);
	if (over != NULL)	/* DESIGN §10, before anything moves */
		return refusal_set_range(&op->refusal, REFUSE_OUT_OF_RANGE, over, delta, "output_tokens");
	/* Decided: from here on the settle happens. Its minute's token count
	 * takes the actual tokens for the ones the hold counted. */
	if (h->rate_minute >= 0) {
		int64_t actual = r->input_tokens + r->output_tokens;
		int mi = -1;
		struct member_row *hm = h->has_member ? op_member(b, op->acct, h->member, &mi) : NULL;
		rate_correct(&a->rate, h->rate_minute, h->rate_tokens, actual);
		if (hm != NULL) {
			rate_correct(&hm->rate, h->rate_minute, h->rate_tokens, actual);
			b->members[mi].changed = 1;
		}
		h->rate_tokens = actual;
	}
	int64_t released = 0;
	if (pending) {
		assert(h->amount <= a->reserved);
		a->reserved -= h->amount;
		released = h->amount > cost ? h->amount - cost : 0;
	}
	if (acct_spent(a, delta) != 0)
		return CD_E_INTERNAL;	/* checked above */
	b->accts[op->acct].changed = 1;
	member_move(b, op->acct, h->has_member ? h->member : NULL, pending ? -h->amount : 0, delta);
	hold_id_format(id, sizeof(id), a->id, h->id);
	if (delta < 0) {
		rc = settle_refund(lg, b, op, -delta);
		if (rc != CD_OK)
			return rc;
	} else if (delta > 0) {
		rc = batch_spend(lg, b, op->acct, delta, "usage", NULL, h->id, id);
		if (rc != CD_OK)
			return rc;
	}
	const char *model = r->model != NULL ? r->model : h->model[0] ? h->model : NULL;
	const char *conv = r->conversation_id != NULL ? r->conversation_id : h->has_conversation ? h->conversation : NULL;
	batch_settle_usage(lg, b, op->acct, h->id, h->has_member ? h->member : NULL, model,
			   h->action[0] ? h->action : NULL, r->input_tokens, r->cached_input_tokens, r->output_tokens,
			   cost, h->byok, h->request_id, conv);
	/* The answer is stored with the hold, for a replay. Its fields are
	 * bounded, so it always fits the column (limits.h). */
	json_t *out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "hold_id", id, "account", a->ext_id,
				"charged_micros", (json_int_t)cost, "released_micros", (json_int_t)released,
				"balance_micros", (json_int_t)a->balance, "available_micros",
				(json_int_t)acct_available(a), "late", !pending);
	char *text = out != NULL ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(out);
	if (text == NULL || strlen(text) > LIMIT_SETTLE_RESPONSE_BYTES) {
		free(text);
		return CD_E_INTERNAL;
	}
	ledger_copy_text(h->response, sizeof(h->response), text);
	free(text);
	memcpy(h->settle_hash, r->request_hash, 32);
	h->has_hash = 1;
	h->charged = cost;
	snprintf(h->state, sizeof(h->state), "settled");
	bh->changed = 1;
	return CD_OK;
}

static enum cd_err release_decide(struct batch *b, struct guard_op *op)
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
	if (strcmp(h->state, "pending") == 0) {
		op->released = h->amount;
		assert(h->amount <= a->reserved);
		a->reserved -= h->amount;
		b->accts[op->acct].changed = 1;
		member_move(b, op->acct, h->has_member ? h->member : NULL, -h->amount, 0);
		snprintf(h->state, sizeof(h->state), "released");
		bh->changed = 1;
	}
	snprintf(op->state, sizeof(op->state), "%s", h->state);
	op_note(op, a);
	return CD_OK;
}

/* ---- Direct usage ----
 * Usage reported after the fact is checked like authorize (404, 403, 429,
 * 402), and a refusal charges nothing; with force it is charged whatever
 * the checks say, and its journal row says so (source "forced"). A
 * request_id already recorded answers its first result, even when a new
 * charge would now be refused. */

static enum cd_err usage_decide(struct ledger *lg, struct batch *b, struct guard_op *op)
{
	const struct guard_usage *r = op->in.usage;
	op->acct = batch_acct_by_ext(b, r->account);
	if (op->acct < 0)
		return refusal_set(&op->refusal, REFUSE_ACCOUNT_UNKNOWN, r->account, NULL);
	struct acct *a = &b->accts[op->acct].a;
	int64_t cost = r->byok ? 0 : r->cost_micros;
	op->usage = batch_usage_by_key(b, op->acct, r->request_id);
	int same = op->usage >= 0 && b->usages[op->usage].has_hash &&
		   memcmp(b->usages[op->usage].hash, r->request_hash, 32) == 0;
	if (!r->force) {
		struct member_row *m = r->byok ? NULL : op_member(b, op->acct, r->member, NULL);
		enum cd_err rc = member_guard_check(&op->refusal, a, m, cost, r->byok);
		if (rc != CD_OK && (rc == CD_E_SUSPENDED || !same))
			return rc;
		memset(&op->refusal, 0, sizeof(op->refusal));
	}
	if (op->usage >= 0) {
		if (!same)
			return refusal_set(&op->refusal, REFUSE_USAGE_CONFLICT, r->request_id, NULL);
		op->replayed = 1;
		op->charged = b->usages[op->usage].cost;
		op_note(op, a);
		return CD_OK;
	}
	const char *over = member_range_check(a, op_member(b, op->acct, r->member, NULL), 0, cost);
	if (over != NULL)	/* DESIGN §10: forced charges included */
		return refusal_set_range(&op->refusal, REFUSE_OUT_OF_RANGE, over, cost, r->model ? "output_tokens" : "action");
	int64_t tokens = r->input_tokens + r->output_tokens;
	if (!r->force) {
		enum cd_err rc = rates_take(b, op, r->member, lg->now, tokens);
		if (rc != CD_OK)
			return rc;
	} else {
		rate_count(&a->rate, lg->now, tokens);
	}
	op->usage = batch_usage_add(lg, b, op->acct, 0, r->member, r->model, r->action, r->input_tokens,
				    r->cached_input_tokens, r->output_tokens, cost, r->byok, r->request_id,
				    r->conversation_id, r->request_hash);
	if (op->usage < 0)
		return CD_E_INTERNAL;
	if (cost > 0) {	/* in range: checked before anything moved */
		enum cd_err rc = batch_spend(lg, b, op->acct, cost, "usage", r->force ? "forced" : NULL, 0, r->request_id);
		if (rc != CD_OK)
			return rc;
		if (acct_spent(a, cost) != 0)
			return CD_E_INTERNAL;
		member_move(b, op->acct, r->member, 0, cost);
	}
	b->accts[op->acct].changed = 1;
	op->charged = cost;
	op_note(op, a);
	return CD_OK;
}

/* ---- One batch ---- */

static json_t *hold_json(const struct batch *b, const struct guard_op *op)
{
	char id[LIMIT_HOLD_ID_BYTES], exp[TIMEFMT_LEN];
	hold_id_format(id, sizeof(id), b->accts[op->acct].a.id, b->holds[op->hold].h.id);
	timefmt_rfc3339(op->expires_at, exp);
	return json_pack("{s:s, s:I, s:I, s:s, s:o}", "hold_id", id, "amount_micros", (json_int_t)op->amount,
			 "available_micros", (json_int_t)op->available, "expires_at", exp, "max_output_tokens",
			 op->max_output >= 0 ? json_integer((json_int_t)op->max_output) : json_null());
}

/* The answer of an operation that was decided (not refused). */
static json_t *op_answer(const struct batch *b, const struct guard_op *op)
{
	char id[LIMIT_HOLD_ID_BYTES];
	json_error_t jerr;
	const struct acct *a = &b->accts[op->acct].a;
	switch (op->kind) {
	case GUARD_AUTHORIZE:
		return hold_json(b, op);
	case GUARD_SETTLE:
		return json_loads(b->holds[op->hold].h.response, 0, &jerr);
	case GUARD_RELEASE:
		hold_id_format(id, sizeof(id), a->id, b->holds[op->hold].h.id);
		return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "hold_id", id, "account", a->ext_id, "state",
				 op->state, "released_micros", (json_int_t)op->released, "balance_micros",
				 (json_int_t)op->balance, "available_micros", (json_int_t)op->available);
	case GUARD_USAGE:
		ledger_id_format(id, sizeof(id), "usage_", b->usages[op->usage].id);
		if (op->replayed)
			return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "usage_id", id, "account", a->ext_id,
					 "charged_micros", (json_int_t)op->charged, "balance_micros",
					 (json_int_t)op->balance, "available_micros", (json_int_t)op->available,
					 "replayed", 1);
		return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "usage_id", id, "account", a->ext_id,
				 "charged_micros", (json_int_t)op->charged, "balance_micros", (json_int_t)op->balance,
				 "available_micros", (json_int_t)op->available, "forced", op->in.usage->force,
				 "replayed", 0);
	}
	return NULL;
}

static const char *op_key(const struct guard_op *op)
{
	return op->call != NULL ? op->call->idem_key : NULL;
}

/* Each operation's answer, once the rows it names have their ids. */
static void answer_all(struct batch *b, struct guard_op **ops, int n)
{
	for (int i = 0; i < n; i++) {
		struct guard_op *op = ops[i];
		json_decref(op->out);
		op->out = NULL;
		op->status = 200;
		op->answer_replayed = 0;
		if (op->stored != NULL) {
			json_error_t jerr;
			op->out = json_loadb(op->stored->response, op->stored->response_len, 0, &jerr);
			op->status = op->stored->status;
			op->answer_replayed = 1;
		} else if (op->same_key_as >= 0) {
			const struct guard_op *first = ops[op->same_key_as];
			op->out = first->out != NULL ? json_deep_copy(first->out) : NULL;
			op->status = first->status;
			op->answer_replayed = 1;
		} else if (op->decided != CD_OK) {
			op->out = refusal_json(&op->refusal);
			op->status = cd_err_status(op->decided);
		} else {
			op->out = op_answer(b, op);
		}
	}
}

/* An Idempotency-Key seen before this batch, or earlier in it, answers
 * like its first request; with another request it is refused. 1 when the
 * operation is answered so and must not run. */
static int key_answered(struct batch *b, struct guard_op **ops, int i)
{
	struct guard_op *op = ops[i];
	const char *key = op_key(op);
	const unsigned char *hash = key != NULL ? op->call->request_hash : NULL;
	if (key == NULL)
		return 0;
	const struct batch_key *k = batch_key(b, key);
	int same = -1;
	for (int j = 0; k == NULL && j < i; j++)
		if (ops[j]->store && strcmp(op_key(ops[j]), key) == 0)
			same = j;
	if (k == NULL && same < 0)
		return 0;
	if (memcmp(k != NULL ? k->hash : ops[same]->call->request_hash, hash, 32) != 0) {
		op->decided = refusal_set(&op->refusal, REFUSE_KEY_REUSED, NULL, NULL);
		return 1;
	}
	op->stored = k;
	op->same_key_as = k == NULL ? same : -1;
	return 1;
}

static void want_ext(struct batch_want *w, struct guard_op *op, const char *ext)
{
	for (int i = 0; i < w->nacct_ext; i++) {
		if (strcmp(w->acct_ext[i], ext) == 0) {
			op->ext = i;
			return;
		}
	}
	op->ext = w->nacct_ext;
	w->acct_ext[w->nacct_ext++] = ext;
}

/* What the operations need read, and each one's account. */
static void want_of(struct batch_want *w, struct guard_op **ops, int n)
{
	memset(w, 0, offsetof(struct batch_want, hold_ids));
	w->nhold_ids = w->nhold_reqs = w->nmembers = w->nusages = w->nkeys = w->nspend_ext = 0;
	for (int i = 0; i < n; i++) {
		struct guard_op *op = ops[i];
		const char *hold = NULL;
		op->ext = -1;
		if (op_key(op) != NULL)
			w->keys[w->nkeys++] = op_key(op);
		switch (op->kind) {
		case GUARD_AUTHORIZE:
			want_ext(w, op, op->in.authorize->account);
			w->hold_reqs[w->nhold_reqs].ext = op->ext;
			w->hold_reqs[w->nhold_reqs++].request_id = op->in.authorize->request_id;
			if (op->in.authorize->member != NULL) {
				w->members[w->nmembers].ext = op->ext;
				w->members[w->nmembers++].member = op->in.authorize->member;
			}
			break;
		case GUARD_USAGE:
			want_ext(w, op, op->in.usage->account);
			if (op->in.usage->request_id != NULL) {
				w->usages[w->nusages].ext = op->ext;
				w->usages[w->nusages++].key = op->in.usage->request_id;
			}
			if (op->in.usage->member != NULL) {
				w->members[w->nmembers].ext = op->ext;
				w->members[w->nmembers++].member = op->in.usage->member;
			}
			w->spend_ext[w->nspend_ext++] = op->ext;
			break;
		case GUARD_SETTLE:
			hold = op->in.settle->hold_id;
			break;
		case GUARD_RELEASE:
			hold = op->in.release->hold_id;
			break;
		}
		if (hold == NULL)
			continue;
		if (hold_id_parse(hold, &op->account_id, &op->hold_id) != 0) {
			op->account_id = op->hold_id = 0;
			continue;
		}
		w->acct_ids[w->nacct_ids++] = op->account_id;
		w->hold_ids[w->nhold_ids++] = op->hold_id;
	}
}

/* Decides one operation; its journal rows record its key (DESIGN §4). */
static enum cd_err decide(struct ledger *lg, struct batch *b, struct guard_op *op)
{
	char key[JOURNAL_KEY_BYTES];
	const char *outer;
	enum cd_err rc;
	lg->journal_key = op_key(op);
	switch (op->kind) {
	case GUARD_AUTHORIZE:
		rc = authorize_decide(lg, b, op);
		break;
	case GUARD_SETTLE:
		outer = journal_key_push(lg, key, "settle", op->in.settle->hold_id, 0);
		rc = settle_decide(lg, b, op);
		lg->journal_key = outer;
		break;
	case GUARD_RELEASE:
		rc = release_decide(b, op);
		break;
	default:
		outer = journal_key_push(lg, key, "usage", op->in.usage->request_id, 0);
		rc = usage_decide(lg, b, op);
		lg->journal_key = outer;
		break;
	}
	lg->journal_key = NULL;
	return rc;
}

/* A refusal that is news (the first 402 since credit came in, the first
 * 429 of a period) is written to the outbox with the batch. */
static void op_notice(struct ledger *lg, struct batch *b, struct guard_op *op)
{
	const char *member = op->kind == GUARD_AUTHORIZE ? op->in.authorize->member
			     : op->kind == GUARD_USAGE ? op->in.usage->member : NULL;
	int m = -1;
	if (op->acct < 0)
		return;
	if (member != NULL)
		op_member(b, op->acct, member, &m);
	batch_notice_refusal(lg, b, op->acct, m, op->refusal.why, op->refusal.available_micros,
			     op->refusal.required_micros);
}

/* Decides every operation of the batch in order; CD_OK, or what fails
 * the attempt. *nstore: how many answers go under their keys. */
static enum cd_err decide_all(struct ledger *lg, struct batch *b, struct guard_op **ops, int n, int *nstore)
{
	enum cd_err rc = CD_OK;
	*nstore = 0;
	for (int i = 0; rc == CD_OK && i < n; i++) {
		struct guard_op *op = ops[i];
		op->acct = op->hold = op->usage = op->same_key_as = -1;
		op->stored = NULL;
		op->store = op->replayed = 0;
		memset(&op->refusal, 0, sizeof(op->refusal));
		if (key_answered(b, ops, i))
			continue;
		op->decided = decide(lg, b, op);
		if (op->decided == CD_E_RETRY || op->decided == CD_E_UNAVAILABLE || op->decided == CD_E_INTERNAL)
			rc = op->decided;	/* no answer: the transaction fails */
		else if (op->decided != CD_OK && refusal_err(op->refusal.why) != op->decided) {
			log_error("the ledger refused (%s) without saying why", cd_strerror(op->decided));
			rc = CD_E_INTERNAL;
		}
		op->store = op_key(op) != NULL && (op->decided == CD_OK || refusal_kept(op->refusal.why));
		*nstore += op->store;
		if (rc == CD_OK && op->decided != CD_OK)
			op_notice(lg, b, op);
	}
	return rc;
}

/* One attempt at the whole batch: CD_OK when every operation is decided
 * and committed; anything else fails the attempt (ledger_tx retries).
 * Two CALLs: batch_load's read and batch_flush's write, which stores the
 * answers under their keys too. Those answers are made before the write,
 * when a new hold or usage has no id yet: the write puts it in. */
static enum cd_err batch_attempt(struct ledger *lg, struct batch *b, struct guard_op **ops, int n)
{
	struct batch_want w;
	struct batch_answer keys[BATCH_MAX];
	char *texts[BATCH_MAX];
	int nstore = 0;
	batch_reset(b);
	want_of(&w, ops, n);
	w.read_hold_reqs = b->hold_reqs_needed;
	enum cd_err rc = batch_load(lg, b, &w);
	if (rc == CD_OK)
		rc = decide_all(lg, b, ops, n, &nstore);
	if (rc != CD_OK)
		return rc;
	batch_notice_balances(lg, b);
	if (nstore > 0)
		answer_all(b, ops, n);
	nstore = 0;
	for (int i = 0; i < n; i++) {
		struct guard_op *op = ops[i];
		if (!op->store)
			continue;
		texts[nstore] = op->out != NULL ? json_dumps(op->out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (texts[nstore] == NULL) {
			rc = CD_E_INTERNAL;
			break;
		}
		keys[nstore] = (struct batch_answer){op_key(op), op->call->request_hash, op->status, texts[nstore],
						     op->kind == GUARD_AUTHORIZE && op->decided == CD_OK ? op->hold : -1,
						     op->kind == GUARD_USAGE && op->decided == CD_OK ? op->usage : -1};
		nstore++;
	}
	if (rc == CD_OK)
		rc = batch_flush(lg, b, 1, keys, nstore);
	for (int i = 0; i < nstore; i++)
		free(texts[i]);
	if (rc == CD_OK)
		answer_all(b, ops, n);
	return rc;
}

/* The combiner's work: the batch as one transaction, retried whole, on
 * the node of its operations' accounts (they were queued by node). */
static void guard_run(void *self, struct combine_op **links, int n)
{
	struct ledger *lg = self;
	struct guard_op *ops[BATCH_MAX];
	struct ledger_tx t;
	char route[sizeof(lg->route)];
	int routed = lg->routed;
	memcpy(route, lg->route, sizeof(route));
	for (int i = 0; i < n; i++) {
		ops[i] = (struct guard_op *)links[i];
		ops[i]->out = NULL;
	}
	ledger_route(lg, ops[0]->route[0] != '\0' ? ops[0]->route : NULL);
	struct batch *b = batch_take();
	ledger_tx_init(lg, &t);
	if (b == NULL) {
		t.rc = CD_E_INTERNAL;
	} else {
		b->hold_reqs_needed = 0;
		while (ledger_tx_next(lg, &t))
			ledger_tx_end(lg, &t, batch_attempt(lg, b, ops, n));
	}
	batch_give(b);
	lg->routed = routed;
	memcpy(lg->route, route, sizeof(route));
	if (t.rc == CD_E_INTERNAL && n > 1 && !lg->committed) {
		/* Something about one operation (logged) failed the batch, which
		 * was rolled back: run each alone, so only that one fails. */
		for (int i = 0; i < n; i++) {
			json_decref(ops[i]->out);
			guard_run(self, &links[i], 1);
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		struct guard_op *op = ops[i];
		struct ledger_result *res = op->res;
		memset(res, 0, sizeof(*res));
		op->rc = t.rc;
		if (op->rc == CD_OK && op->out == NULL) {
			log_error("a guard answer could not be made");
			op->rc = CD_E_INTERNAL;
		}
		if (op->rc != CD_OK) {
			json_decref(op->out);
			continue;
		}
		res->body = op->out;
		res->status = op->status;
		res->replayed = op->answer_replayed;
		if (op->stored == NULL && op->same_key_as < 0 && op->decided != CD_OK)
			res->refusal = op->refusal;
	}
}

/* One combiner per database node: a batch's accounts are all served by
 * its node, whose row locks then hold (Galera's do not across nodes). */
static struct combiner guard_queue[LIMIT_DB_NODES];
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void guard_init(void)
{
	for (int i = 0; i < LIMIT_DB_NODES; i++)
		combine_init(&guard_queue[i], LIMIT_BATCH_COMBINERS, LIMIT_BATCH_OPS, guard_run);
}

struct hold_route { int64_t account_id; char *out; size_t cap; };

static enum cd_err hold_route_tx(struct ledger *lg, void *arg)
{
	static const char sql[] = "SELECT ext_id FROM accounts WHERE id = ?";
	struct hold_route *h = arg;
	int e;
	/* On the node of no account, which waits for other nodes' commits
	 * (causal_reads): an account made a moment ago elsewhere is found. */
	struct dbstmt *s = db_exec(lg, sql, &e, "i", h->account_id);
	if (s == NULL)
		return db_err(lg, e, "hold route");
	snprintf(h->out, h->cap, "%s", db_fetch(s) == 1 && db_str(s, 0) != NULL ? db_str(s, 0) : "");
	return CD_OK;
}

/* The account of a settle's or release's hold, into op->route ("" when
 * the hold id names none: the batch answers that). A hold's id carries its
 * account's id; its external id is remembered from the batches, else read
 * once on the node of no account. Only with several nodes. */
static void hold_route(struct ledger *lg, struct guard_op *op, const char *hold_id)
{
	struct hold_route h = {0, op->route, sizeof(op->route)};
	int64_t hold;
	op->route[0] = '\0';
	if (hold_id_parse(hold_id, &h.account_id, &hold) != 0 || batch_ext_of(h.account_id, op->route, sizeof(op->route)))
		return;
	int routed = lg->routed;
	lg->routed = 0;
	if (ledger_run(lg, hold_route_tx, &h) != CD_OK)
		op->route[0] = '\0';
	else if (op->route[0] != '\0')
		batch_ext_remember(op->route, h.account_id);
	lg->routed = routed;
}

static enum cd_err guard_submit(struct ledger *lg, struct guard_op *op, const struct ledger_call *call,
				struct ledger_result *res)
{
	int node = 0;
	op->call = call != NULL && call->idem_key != NULL ? call : NULL;
	op->res = res;
	op->rc = CD_E_INTERNAL;
	op->route[0] = '\0';
	pthread_once(&guard_once, guard_init);
	if (noderoute_count() > 1) {
		if (op->kind == GUARD_AUTHORIZE || op->kind == GUARD_USAGE)
			snprintf(op->route, sizeof(op->route), "%s", op->kind == GUARD_AUTHORIZE
				 ? op->in.authorize->account : op->in.usage->account);
		else
			hold_route(lg, op, op->kind == GUARD_SETTLE ? op->in.settle->hold_id : op->in.release->hold_id);
		node = noderoute_pick(op->route[0] != '\0' ? op->route : NULL);
		if (node < 0)
			node = 0;	/* none is up: the batch answers 503 */
	}
	combine_submit(&guard_queue[node], &op->link, lg);
	return op->rc;
}

enum cd_err ledger_authorize(struct ledger *lg, const struct ledger_call *call, const struct guard_authorize *r,
			     struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_AUTHORIZE, .in.authorize = r};
	return guard_submit(lg, &op, call, res);
}

enum cd_err ledger_settle(struct ledger *lg, const struct ledger_call *call, const struct guard_settle *r,
			  struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_SETTLE, .in.settle = r};
	return guard_submit(lg, &op, call, res);
}

enum cd_err ledger_release(struct ledger *lg, const struct ledger_call *call, const struct guard_release *r,
			   struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_RELEASE, .in.release = r};
	return guard_submit(lg, &op, call, res);
}

enum cd_err ledger_usage(struct ledger *lg, const struct ledger_call *call, const struct guard_usage *r,
			 struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_USAGE, .in.usage = r};
	return guard_submit(lg, &op, call, res);
}

_Static_assert(LEDGER_BATCH_BUCKETS == COMBINE_BUCKETS, "one histogram");

void ledger_batch_stats(struct ledger_batch_stats *s)
{
	struct combine_stats c;
	pthread_once(&guard_once, guard_init);
	memset(s, 0, sizeof(*s));
	for (int q = 0; q < noderoute_count(); q++) {
		combine_stats(&guard_queue[q], &c);
		s->batches += c.batches;
		s->ops += c.ops;
		for (int i = 0; i < LEDGER_BATCH_BUCKETS; i++) {
			s->count[i] += c.buckets[i];
			s->le[i] = c.bucket_le[i];
		}
	}
}

/* ---- Usage report ---- */

static const char SQL_USAGE_BY_MODEL[] = "SELECT COALESCE(model, action, ''), COUNT(*), SUM(input_tokens), "
	"SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros) FROM usage_records "
	"WHERE account_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 1";
static const char SQL_USAGE_BY_DAY[] = "SELECT created_at DIV " TIMEFMT_DAY_SQL ", COUNT(*), SUM(input_tokens), "
	"SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros) FROM usage_records "
	"WHERE account_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 1";
static const char SQL_USAGE_BY_MEMBER[] = "SELECT member, COUNT(*), SUM(input_tokens), "
	"SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros) FROM usage_records "
	"WHERE account_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 1";

struct report_run { const struct usage_query *q; json_t *out; };

static json_t *report_row(const struct dbstmt *s, const char *group_by, int64_t sums[5])
{
	char key[TIMEFMT_LEN];
	if (strcmp(group_by, "day") == 0) {
		timefmt_rfc3339(db_i64(s, 0) * TIMEFMT_SECONDS_PER_DAY, key);
		key[10] = '\0';
	} else {
		snprintf(key, sizeof(key), "%s", "");
	}
	for (unsigned int i = 0; i < 5; i++)
		sums[i] += db_i64(s, i + 1);
	json_t *row = json_pack("{s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)db_i64(s, 1),
				"input_tokens", (json_int_t)db_i64(s, 2), "cached_input_tokens", (json_int_t)db_i64(s, 3),
				"output_tokens", (json_int_t)db_i64(s, 4), "cost_micros", (json_int_t)db_i64(s, 5));
	/* Usage with no member is its own group, named null as in the request. */
	json_t *name = key[0] ? json_string(key) : db_null(s, 0) ? json_null() : json_string(db_str(s, 0));
	json_object_set_new(row, group_by, name);
	return row;
}

static enum cd_err report_tx(struct ledger *lg, void *arg)
{
	struct report_run *r = arg;
	const struct usage_query *q = r->q;
	struct acct a;
	int e;
	json_decref(r->out);
	r->out = NULL;
	enum cd_err rc = acct_read(lg, q->account, &a);
	if (rc != CD_OK)
		return rc;
	const char *sql = strcmp(q->group_by, "day") == 0 ? SQL_USAGE_BY_DAY
			  : strcmp(q->group_by, "member") == 0 ? SQL_USAGE_BY_MEMBER : SQL_USAGE_BY_MODEL;
	struct dbstmt *s = db_exec(lg, sql, &e, "iii", a.id, q->from, q->to);
	if (s == NULL)
		return db_err(lg, e, "usage report");
	json_t *data = json_array();
	int64_t sums[5] = {0, 0, 0, 0, 0};
	while (db_fetch(s) == 1)
		json_array_append_new(data, report_row(s, q->group_by, sums));
	char from[TIMEFMT_LEN], to[TIMEFMT_LEN];
	timefmt_rfc3339(q->from, from);
	timefmt_rfc3339(q->to, to);
	r->out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "account", a.ext_id,
			   "currency", lg->cfg->currency, "from", from, "to", to, "group_by", q->group_by, "data", data,
			   "total", "requests", (json_int_t)sums[0], "input_tokens", (json_int_t)sums[1],
			   "cached_input_tokens", (json_int_t)sums[2], "output_tokens", (json_int_t)sums[3],
			   "cost_micros", (json_int_t)sums[4]);
	return r->out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_usage_report(struct ledger *lg, const struct usage_query *q, json_t **out)
{
	struct report_run r = {q, NULL};
	enum cd_err rc = ledger_run(lg, report_tx, &r);
	*out = r.out;
	return rc;
}
