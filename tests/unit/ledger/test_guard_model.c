/* test_guard_model.c: the guard's decisions (ledger_decide.h) under
 * random sequences of operations on one account's rows in memory, with
 * the invariants (docs/decisions.md, "Invariants") checked after every step, the TigerBeetle way.
 *
 * Each run makes an account (prepaid or with an overdraft, a monthly
 * limit or none), a member with a cap or none, a few grants in the batch
 * and, in some runs, more grants "in the database" that the batch did not
 * read. Then 48 steps, each one of: authorize (request ids reused, so
 * replays happen; some with min_output_tokens), settle (of any hold, with
 * a hash reused or not: replays and conflicts), release, POST /v1/usage
 * (some forced, some byok) and a hold's expiry (released or captured, as
 * the account-open step does with money_rule_hold_expiry). What a
 * decision asks its caller for is done here as ledger_holds.c does it, on
 * rows in memory: a refund grant (op->refund, ledger_batch_refund: the
 * debt repaid first, the grants read stale after it); a charge past the
 * grants read (op->spend_more) ends the attempt, nothing it decided
 * happened, and the next reads every grant and decides again
 * (more_grants). A capture at expiry burns the unread grants a page at a
 * time, as the transaction that brings it due does (ledger_rows.c).
 *
 * Checked after each step, against a model kept apart from the rows:
 * the balance is what the model charged and refunded (a replay charges
 * nothing, a refusal changes nothing at all); the balance moves only with
 * journal rows; the balance is the sum of the grants' remaining (read or
 * not); reserved is the sum of the pending holds (the member's too); and
 * unless a settle charged beyond its hold, came late, or a usage was
 * forced: available never below zero and the month's spend within the
 * monthly limit and the member's cap.
 *
 * Then two writers on one account (docs/architecture.md, "Which rows a write
 * decides on"): the committed rows carry a
 * version; at each step a second writer (a grant, a usage, a settle, a
 * release, an expiry) may commit between the batch's read and its write,
 * and the batch decides on a guess: the rows of an earlier version, or
 * the account as it is now beside the holds of an earlier version (what
 * rows kept in memory may be). A decision on a guess never aborts; it
 * decides, refuses, or says the rows disagree (CD_E_RETRY); its write
 * names the version it decided on and is refused when the rows moved,
 * and the operation is then decided again on the rows as committed. The
 * same invariants hold on the committed rows after every step. */
#include "ledger_decide.h"
#include "answer.h"
#include "money_rule.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

#ifdef NDEBUG
#error "the unit tests run with assertions on: NDEBUG must not be defined"
#endif

#define NOW (60 * 1000000LL + 30)
#define RUNS 400
#define STEPS 48
#define POOL 12			/* request ids and hashes reused from a small pool */

/* 1 micro an input token, 2 an output token, no margin. */
static const struct price PRICE = {1000000, 500000, 2000000, 1000, 1000000, PRICING_NO_DIMS};

struct model {
	int64_t balance;		/* what the operations left it at */
	int64_t unread;			/* positive grants the batch did not read */
	int64_t unread_page;		/* read a page at a time, this much each */
	int beyond;			/* a charge the checks did not bound happened */
	int failures;
	char why[200];
	/* What the runs went through, so the test shows it covered it. */
	int refunds, spends_more, replays, refusals, debts, wide, looked;
	int second, refused, disagreed;	/* the two writers' runs */
	unsigned seed;
	int asked_load;			/* a decision asked for rows not loaded (load_more) */
	struct batch *spare;		/* the rows as a step found them */
};

static unsigned rnd(struct model *m, unsigned n)
{
	return (unsigned)rand_r(&m->seed) % n;
}

static void fail(struct model *m, const char *what)
{
	if (m->failures++ == 0)
		snprintf(m->why, sizeof(m->why), "%s", what);
}

static struct batch *made(struct model *m)
{
	struct batch *b = ledger_batch_take();
	if (b == NULL)
		return NULL;
	ledger_batch_reset(b);
	b->clock = (struct ledger_clock){NOW, 0, 0};	/* the time the decisions read */
	b->naccts = 1;
	memset(&b->accts[0], 0, sizeof(b->accts[0]));
	struct acct *a = &b->accts[0].a;
	a->id = 7;
	snprintf(a->ext_id, sizeof(a->ext_id), "acme");
	snprintf(a->status, sizeof(a->status), "active");
	snprintf(a->kind, sizeof(a->kind), "workspace");
	a->overdraft = rnd(m, 2) ? 0 : 3000;
	a->monthly_limit = rnd(m, 3) == 0 ? 20000 : -1;
	a->daily_limit = a->plan_member_cap = a->low_balance = a->sweep_due_at = -1;
	a->rate = (struct rate){-1, -1, -1, 0, 0};
	b->accts[0].spends = 1;
	b->nmembers = 1;
	memset(&b->members[0], 0, sizeof(b->members[0]));
	b->members[0].m.found = 1;
	snprintf(b->members[0].m.member, sizeof(b->members[0].m.member), "alice");
	b->members[0].m.cap = rnd(m, 2) ? 6000 : -1;
	b->members[0].m.rate = (struct rate){-1, -1, -1, 0, 0};
	int n = 1 + (int)rnd(m, 3);
	for (int i = 0; i < n; i++) {
		struct batch_grant *g = &b->grants[b->ngrants++];
		memset(g, 0, sizeof(*g));
		g->g.id = 100 + i;
		g->g.remaining = 500 + rnd(m, 4000);
		a->balance += g->g.remaining;
	}
	m->unread = m->unread_page = 0;
	if (rnd(m, 2)) {		/* more grants than the page read */
		b->accts[0].grants_more = 1;
		m->unread_page = 1000 + rnd(m, 2000);
		m->unread = m->unread_page * (1 + rnd(m, 3));
		a->balance += m->unread;
	}
	m->balance = a->balance;
	m->beyond = 0;
	b->hold_reqs_read = (int)rnd(m, 2);	/* read, or asked for at a refusal */
	ledger_batch_balances_mark(b);
	return b;
}

static void op_init(struct guard_op *op, enum guard_kind kind)
{
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->acct = op->hold = op->usage = op->same_key_as = -1;
	op->render = answer_render;	/* a settle's answer is kept with its hold */
}

/* As the write does, and the next batch's read: new holds and grants
 * have their ids, and no journal row is pending. */
static void written(struct batch *b)
{
	for (int i = 0; i < b->nholds; i++) {
		if (b->holds[i].is_new) {
			b->holds[i].h.id = 11 + i;
			b->holds[i].is_new = 0;
		}
	}
	for (int i = 0; i < b->ngrants; i++) {
		if (b->grants[i].is_new) {
			b->grants[i].g.id = 400 + i;
			b->grants[i].is_new = 0;
		}
	}
	b->accts[0].grants_stale = 0;
	/* Nothing pending is left: the next batch's balance moves from here. */
	b->njournal = 0;
	dynbuf_reset(&b->journal_rows);
	ledger_batch_balances_mark(b);
}

/* An unread page of grants into the batch, as a read brings it. */
static void read_page(struct model *m, struct batch *b)
{
	int64_t page = m->unread < m->unread_page ? m->unread : m->unread_page;
	struct batch_grant *g = &b->grants[b->ngrants++];
	memset(g, 0, sizeof(*g));
	g->g.id = 200 + b->ngrants;
	g->g.remaining = page;
	m->unread -= page;
	b->accts[0].grants_more = m->unread > 0;
}

/* A capture's charge past the grants read, as the transaction bringing
 * the hold due spends it (ledger_rows.c): the unread grants read a page at
 * a time and burnt, the rest onto the debt row (a spend of no charge of
 * its own: the capture's journal row is written already). */
static void capture_more(struct model *m, struct batch *b, int64_t left)
{
	m->spends_more++;
	while (left > 0 && b->accts[0].grants_more) {
		read_page(m, b);
		struct spend_grant *g = &b->grants[b->ngrants - 1].g;
		int64_t burnt = left < g->remaining ? left : g->remaining;
		g->remaining -= burnt;
		g->changed = 1;
		left -= burnt;
	}
	if (left > 0 && ledger_batch_debt(b, 0, left) != CD_OK)
		fail(m, "the debt row");
	m->debts += left > 0;
}

static int64_t pending_sum(const struct batch *b, int member_only)
{
	int64_t sum = 0;
	for (int i = 0; i < b->nholds; i++) {
		const struct hold_row *h = &b->holds[i].h;
		if (strcmp(h->state, "pending") == 0 && (!member_only || h->has_member))
			sum += h->amount;
	}
	return sum;
}

static void invariants(struct model *m, const struct batch *b, const char *step)
{
	char what[160];
	const struct batch_acct *ba = &b->accts[0];
	const struct acct *a = &ba->a;
	const struct member_row *mr = &b->members[0].m;
	int64_t grants = m->unread;
	for (int i = 0; i < b->ngrants; i++)
		grants += b->grants[i].g.remaining;
#define HOLDS(cond, text) do { if (!(cond)) { snprintf(what, sizeof(what), "%s: %s", step, text); fail(m, what); } } while (0)
	HOLDS(a->balance == m->balance, "the balance is what was charged and refunded");
	HOLDS(a->balance - ba->balance_marked == ba->journal_micros, "the balance moves with journal rows only");
	HOLDS(a->balance == grants, "the balance is the sum of the grants (invariant 1)");
	HOLDS(a->reserved == pending_sum(b, 0), "reserved is the pending holds (invariant 2)");
	HOLDS(mr->reserved == pending_sum(b, 1), "the member's reserve is its pending holds");
	HOLDS(a->reserved >= 0 && mr->reserved >= 0, "no reserve below zero");
	if (!m->beyond) {
		HOLDS(a->balance - a->reserved + a->overdraft >= 0, "available never below zero (invariant 3)");
		HOLDS(a->monthly_limit < 0 || a->month_spent <= a->monthly_limit, "the monthly limit (invariant 5)");
		HOLDS(mr->cap < 0 || mr->month_spent <= mr->cap, "the member's cap");
	}
#undef HOLDS
}

/* What a refusal must leave as it was. */
struct snap {
	struct acct a;
	struct member_row mr;
	int nholds, nusages, njournal, ngrants;
	int64_t grants[BATCH_GRANTS];
};

static void snap_take(const struct batch *b, struct snap *s)
{
	s->a = b->accts[0].a;
	s->mr = b->members[0].m;
	s->nholds = b->nholds;
	s->nusages = b->nusages;
	s->njournal = b->njournal;
	s->ngrants = b->ngrants;
	for (int i = 0; i < b->ngrants; i++)
		s->grants[i] = b->grants[i].g.remaining;
}

static int snap_same(const struct batch *b, const struct snap *s)
{
	if (memcmp(&s->a, &b->accts[0].a, sizeof(s->a)) != 0 || memcmp(&s->mr, &b->members[0].m, sizeof(s->mr)) != 0 ||
	    s->nholds != b->nholds || s->nusages != b->nusages || s->njournal != b->njournal || s->ngrants != b->ngrants)
		return 0;
	for (int i = 0; i < b->ngrants; i++)
		if (s->grants[i] != b->grants[i].g.remaining)
			return 0;
	return 1;
}

/* An operation decided as a batch of one decides it (ledger_holds.c
 * decide_op): ledger_decide_op, then what it needs beyond the rows
 * loaded (ledger_decide_needs), which ends the attempt (load_more). */
static enum cd_err decided(struct model *m, struct batch *b, struct guard_op *op)
{
	enum cd_err rc = ledger_decide_needs(b, op, ledger_decide_op(b, op), 0, 1);
	m->asked_load |= b->load_more;
	return rc;
}

static char reqs[POOL][16];
static unsigned char hashes[POOL][32];

static enum cd_err step_authorize(struct model *m, struct batch *b, struct guard_op *op, struct guard_authorize *r)
{
	memset(r, 0, sizeof(*r));
	r->account = "acme";
	r->member = rnd(m, 2) ? "alice" : NULL;
	r->model = "m";
	r->request_id = reqs[rnd(m, POOL)];
	r->input_tokens = rnd(m, 300);
	r->max_output_tokens = 1 + rnd(m, 2500);
	r->min_output_tokens = rnd(m, 3) == 0 ? (int64_t)rnd(m, (unsigned)r->max_output_tokens) : -1;
	r->ttl_seconds = 600;
	r->amount_micros = r->input_tokens + 2 * r->max_output_tokens;
	r->price = PRICE;
	r->margin_bps = 10000;
	r->priced = 1;
	op_init(op, GUARD_AUTHORIZE);
	op->in.authorize = r;
	enum cd_err rc = decided(m, b, op);
	m->replays += rc == CD_OK && op->hold >= 0 && op->hold < b->nholds - 1;
	return rc;
}

/* A hold of the batch, by its index, as a settle or a release names it. */
static int pick_hold(struct model *m, const struct batch *b, char *id, size_t cap, struct guard_op *op)
{
	if (b->nholds == 0)
		return -1;
	int i = (int)rnd(m, (unsigned)b->nholds);
	op->account_id = 7;
	op->hold_id = b->holds[i].h.id;
	ledger_rows_hold_id_format(id, cap, 7, op->hold_id);
	return i;
}

static enum cd_err step_settle(struct model *m, struct batch *b, struct guard_op *op,
			       struct guard_settle *r, char *id)
{
	op_init(op, GUARD_SETTLE);
	int i = pick_hold(m, b, id, LIMIT_HOLD_ID_BYTES, op);
	if (i < 0)
		return CD_OK;
	const struct hold_row *h = &b->holds[i].h;
	memset(r, 0, sizeof(*r));
	r->hold_id = id;
	r->input_tokens = rnd(m, 300);
	r->output_tokens = rnd(m, 3000);
	r->request_hash = hashes[rnd(m, 3)];
	op->in.settle = r;
	int was_pending = strcmp(h->state, "pending") == 0, was_captured = strcmp(h->state, "captured") == 0;
	int was_settled = strcmp(h->state, "settled") == 0;
	int64_t held = h->amount, charged = h->charged, cost = r->input_tokens + 2 * r->output_tokens;
	enum cd_err rc = decided(m, b, op);
	if (rc == CD_OK && op->refunded > 0) {
		if (!was_captured || op->refunded != charged - cost)
			fail(m, "a refund made for a settle that owes none");
		m->balance += op->refunded;
		m->refunds++;
	}
	if (rc != CD_OK)
		return rc;
	if (was_settled) {
		m->replays++;
		return rc;
	}
	if (strcmp(b->holds[i].h.state, "settled") != 0 || b->holds[i].h.charged != cost)
		fail(m, "a settle settles the hold at its cost");
	if (was_captured && cost > charged)
		m->balance -= cost - charged;
	else if (!was_captured)
		m->balance -= cost;
	if (cost > held || !was_pending)
		m->beyond = 1;		/* beyond its hold, or late: allowed */
	return rc;
}

static enum cd_err step_release(struct model *m, struct batch *b, struct guard_op *op, struct guard_release *r,
				char *id)
{
	op_init(op, GUARD_RELEASE);
	if (pick_hold(m, b, id, LIMIT_HOLD_ID_BYTES, op) < 0)
		return CD_OK;
	r->hold_id = id;
	op->in.release = r;
	return decided(m, b, op);
}

static enum cd_err step_usage(struct model *m, struct batch *b, struct guard_op *op,
			      struct guard_usage *u)
{
	int k = (int)rnd(m, POOL);
	memset(u, 0, sizeof(*u));
	u->account = "acme";
	u->member = rnd(m, 2) ? "alice" : NULL;
	u->model = "m";
	u->request_id = reqs[k];
	u->input_tokens = 10;
	u->output_tokens = 20;
	u->cost_micros = rnd(m, 3000);
	u->force = rnd(m, 6) == 0;
	u->byok = rnd(m, 8) == 0;
	u->request_hash = hashes[k % 2];
	op_init(op, GUARD_USAGE);
	op->in.usage = u;
	int nusages = b->nusages;
	enum cd_err rc = decided(m, b, op);
	m->replays += rc == CD_OK && op->replayed;
	if (rc != CD_OK || op->replayed)
		return rc;
	if (b->nusages != nusages + 1)
		fail(m, "a usage recorded once");
	int64_t cost = u->byok ? 0 : u->cost_micros;
	if (op->charged != cost)
		fail(m, "a usage charges its cost");
	m->balance -= cost;
	m->beyond |= u->force;
	return rc;
}

/* A pending hold at its expiry, as the account-open step does it. */
static void step_expiry(struct model *m, struct batch *b)
{
	for (int i = 0; i < b->nholds; i++) {
		struct hold_row *h = &b->holds[i].h;
		if (strcmp(h->state, "pending") != 0)
			continue;
		struct acct *a = &b->accts[0].a;
		struct hold_expiry e;
		int64_t more = 0;
		money_rule_hold_expiry(h->amount, a->reserved, (int)rnd(m, 2), &e);
		a->reserved -= e.release;
		ledger_decide_member_move(b, 0, h->has_member ? h->member : NULL, -e.release, e.charge);
		if (e.charge > 0) {
			if (ledger_batch_spend(b, 0, e.charge, "usage", NULL, h->id, NULL, &more) != CD_OK ||
			    ledger_rows_acct_spent(a, e.charge) != 0)
				fail(m, "a capture's charge");
			if (more > 0)
				capture_more(m, b, more);
			m->balance -= e.charge;
		}
		snprintf(h->state, sizeof(h->state), "%s", e.captured ? "captured" : "expired");
		h->charged = e.charge;
		return;
	}
}

/* ---- Two writers ---- */

/* The rows of src into dst (its pending appends dropped); the holds too
 * unless holds_too is 0 (dst keeps its own). */
static void rows_copy(struct batch *dst, const struct batch *src, int holds_too)
{
	int nholds = dst->nholds;
	ledger_batch_reset(dst);
	dst->clock = src->clock;
	dst->naccts = src->naccts;
	memcpy(dst->accts, src->accts, sizeof(src->accts[0]) * (size_t)src->naccts);
	dst->nmembers = src->nmembers;
	memcpy(dst->members, src->members, sizeof(src->members[0]) * (size_t)src->nmembers);
	dst->ngrants = src->ngrants;
	memcpy(dst->grants, src->grants, sizeof(src->grants[0]) * (size_t)src->ngrants);
	dst->nusages = src->nusages;
	memcpy(dst->usages, src->usages, sizeof(src->usages[0]) * (size_t)src->nusages);
	dst->nholds = holds_too ? src->nholds : nholds;
	if (holds_too)
		memcpy(dst->holds, src->holds, sizeof(src->holds[0]) * (size_t)src->nholds);
	dst->hold_reqs_read = src->hold_reqs_read;
	dst->kept = dst->kept_off = 0;
	ledger_batch_balances_mark(dst);
}

/* An admin grant committed by the second writer: a new grant and its
 * journal row, written apart from any batch. */
static void step_grant(struct model *m, struct batch *b)
{
	struct batch_grant *g = &b->grants[b->ngrants++];
	int64_t amount = 1 + rnd(m, 3000);
	memset(g, 0, sizeof(*g));
	g->g.id = 500 + b->ngrants;
	g->g.remaining = amount;
	b->accts[0].a.balance += amount;
	m->balance += amount;
	ledger_batch_balances_mark(b);
}

/* One operation of kind on b (the step's draws). */
static enum cd_err op_of(struct model *m, struct batch *b, unsigned kind)
{
	struct guard_op op;
	struct guard_authorize ra;
	struct guard_settle rs;
	struct guard_release rr;
	struct guard_usage ru;
	char id[LIMIT_HOLD_ID_BYTES];
	b->journal_key = NULL;
	if (kind == 0)
		return step_authorize(m, b, &op, &ra);
	if (kind == 1)
		return step_settle(m, b, &op, &rs, id);
	if (kind == 2)
		return step_release(m, b, &op, &rr, id);
	return step_usage(m, b, &op, &ru);
}

/* One operation of kind on b as a batch of one runs it (ledger_holds.c):
 * what it asks beyond the rows loaded ends the attempt, nothing it decided
 * happened (the model and the rows as the step found them), and the next
 * attempt's load brings it: the authorizes' request_ids (all the
 * account's holds are in b: read, nothing new comes) or every grant
 * (grants_wide), and decides again. That batch's next ones read no
 * request_ids again. */
static enum cd_err first_op(struct model *m, struct batch *b, unsigned kind)
{
	struct model saved = *m;
	int reqs_read = b->hold_reqs_read;
	rows_copy(m->spare, b, 1);
	b->hold_reqs_needed = b->grants_wide = b->load_more = 0;
	enum cd_err rc = op_of(m, b, kind);
	if (m->asked_load) {
		int wide = b->grants_wide, looked = b->hold_reqs_needed;
		if (rc != CD_E_RETRY || wide == looked)
			fail(m, "a decision asked one load, and ended its attempt");
		saved.failures = m->failures;
		memcpy(saved.why, m->why, sizeof(saved.why));
		*m = saved;
		rows_copy(b, m->spare, 1);
		b->grants_wide = wide;
		b->load_more = 0;
		b->hold_reqs_read |= looked;
		while (wide && b->accts[0].grants_more)
			read_page(m, b);
		m->wide += wide;
		m->looked += looked;
		rc = op_of(m, b, kind);
		if (m->asked_load)
			fail(m, "a decision asked again what its load brought");
	}
	b->hold_reqs_read = reqs_read;
	b->grants_wide = 0;
	return rc;
}

static void run(struct model *m)
{
	struct batch *b = made(m);
	m->spare = ledger_batch_take();
	if (b == NULL || m->spare == NULL) {
		fail(m, "a batch in memory");
		return;
	}
	invariants(m, b, "made");
	for (int s = 0; s < STEPS && m->failures == 0; s++) {
		struct snap before;
		static const char *const names[] = {"authorize", "settle", "release", "usage", "expiry"};
		unsigned kind = rnd(m, 9);
		enum cd_err rc = CD_OK;
		kind = kind < 3 ? 0 : kind < 5 ? 1 : kind < 6 ? 2 : kind < 8 ? 3 : 4;
		snap_take(b, &before);
		if (kind < 4)
			rc = first_op(m, b, kind);
		else
			step_expiry(m, b);
		if (rc == CD_E_INTERNAL || rc == CD_E_RETRY || rc == CD_E_UNAVAILABLE)
			fail(m, "a decision failed");
		if (rc != CD_OK) {
			m->refusals++;
			if (!snap_same(b, &before))
				fail(m, "a refusal changed the rows");
		}
		written(b);
		invariants(m, b, names[kind]);
	}
	ledger_batch_free(b);
	ledger_batch_free(m->spare);
}

/* The second writer's commit on the rows db (a decision under the lock). */
static void second_op(struct model *m, struct batch *db)
{
	unsigned kind = rnd(m, 5);
	m->second++;
	if (kind == 4) {
		step_grant(m, db);
	} else if (kind == 0) {
		step_expiry(m, db);
	} else {
		struct snap before;
		snap_take(db, &before);
		enum cd_err rc = first_op(m, db, kind);
		if (rc == CD_E_INTERNAL || rc == CD_E_RETRY || rc == CD_E_UNAVAILABLE)
			fail(m, "a second writer's decision on rows read under their lock failed");
		if (rc != CD_OK && !snap_same(db, &before))
			fail(m, "a second writer's refusal changed the rows");
	}
	written(db);
}

/* The first writer decides on a guess of version `seen` (kept) while the
 * rows are at `version`; refused at the write when they moved (or when
 * the guess's rows disagree), then decided again on the rows read. */
static void first_write(struct model *m, struct batch **db, struct batch **guess, int moved,
			unsigned kind)
{
	struct model saved = *m;
	(*guess)->kept = 1;
	struct snap before;
	snap_take(*guess, &before);
	enum cd_err rc = first_op(m, *guess, kind);
	if (rc == CD_E_INTERNAL || rc == CD_E_UNAVAILABLE)
		fail(m, "a decision on rows kept in memory failed the batch");
	if (rc == CD_E_RETRY && !(*guess)->kept_off)
		fail(m, "rows that disagree send the next attempt to read them");
	if (rc != CD_OK && rc != CD_E_RETRY && !snap_same(*guess, &before))
		fail(m, "a refusal on kept rows changed them");
	m->disagreed += rc == CD_E_RETRY;
	if (!moved && rc != CD_E_RETRY) {
		written(*guess);
		struct batch *t = *db;	/* committed: the guess was the rows */
		*db = *guess;
		*guess = t;
		return;
	}
	/* Refused: nothing it decided happened; read, decide again. */
	m->refused++;
	m->balance = saved.balance;
	m->unread = saved.unread;
	m->unread_page = saved.unread_page;
	m->beyond = saved.beyond;
	m->seed = saved.seed;
	rows_copy(*guess, *db, 1);
	snap_take(*guess, &before);
	rc = first_op(m, *guess, kind);
	if (rc == CD_E_INTERNAL || rc == CD_E_RETRY || rc == CD_E_UNAVAILABLE)
		fail(m, "a decision on rows read under their lock failed");
	if (rc != CD_OK && !snap_same(*guess, &before))
		fail(m, "a refusal changed the rows");
	written(*guess);
	struct batch *t = *db;
	*db = *guess;
	*guess = t;
}

static void run_two(struct model *m)
{
	struct batch *db = made(m), *old = ledger_batch_take(), *guess = ledger_batch_take();
	m->spare = ledger_batch_take();
	if (db == NULL || old == NULL || guess == NULL || m->spare == NULL) {
		fail(m, "batches in memory");
	} else {
		ledger_batch_reset(old);
		ledger_batch_reset(guess);
	}
	for (int s = 0; s < STEPS && m->failures == 0; s++) {
		/* The batch's guess is taken at version seen... */
		rows_copy(old, db, 1);
		unsigned seconds = rnd(m, 3);
		/* ...the second writer commits in between... */
		for (unsigned k = 0; k < seconds; k++)
			second_op(m, db);
		invariants(m, db, "the second writer");
		/* ...and the guess is the rows seen, or the account as it is now
		 * beside the holds seen. */
		rows_copy(guess, rnd(m, 2) ? old : db, 1);
		if (seconds > 0 && rnd(m, 2))
			rows_copy(guess, db, 0), memcpy(guess->holds, old->holds, sizeof(old->holds[0]) * (size_t)old->nholds),
				guess->nholds = old->nholds;
		unsigned kind = rnd(m, 4);
		first_write(m, &db, &guess, seconds > 0, kind);
		invariants(m, db, "the first writer");
	}
	if (db != NULL)
		ledger_batch_free(db);
	if (old != NULL)
		ledger_batch_free(old);
	if (guess != NULL)
		ledger_batch_free(guess);
	if (m->spare != NULL)
		ledger_batch_free(m->spare);
}

/* RUNS runs of fn, one a seed: how many failed (the first's why in
 * first), and what they went through, summed into *sum. */
static int runs(void (*fn)(struct model *), struct model *sum, char *first, size_t cap)
{
	int failed = 0;
	memset(sum, 0, sizeof(*sum));
	for (unsigned seed = 1; seed <= RUNS; seed++) {
		struct model m = {.seed = seed};
		fn(&m);
		if (m.failures > 0 && failed++ == 0)
			snprintf(first, cap, "seed %u: %s", seed, m.why);
		sum->refunds += m.refunds;
		sum->spends_more += m.spends_more;
		sum->replays += m.replays;
		sum->refusals += m.refusals;
		sum->debts += m.debts;
		sum->wide += m.wide;
		sum->looked += m.looked;
		sum->second += m.second;
		sum->refused += m.refused;
		sum->disagreed += m.disagreed;
	}
	return failed;
}

int main(void)
{
	/* No store: the decisions read the batch's clock (b->clock) and
	 * journal key (b->journal_key). Nothing here connects. */
	for (int i = 0; i < POOL; i++) {
		snprintf(reqs[i], sizeof(reqs[i]), "req-%d", i);
		memset(hashes[i], i + 1, 32);
	}
	struct model sum;
	char first[240] = "";
	int failed_runs = runs(run, &sum, first, sizeof(first));
	ok(failed_runs == 0, "%d random runs of %d steps keep DESIGN §4's invariants%s%s", RUNS, STEPS,
	   failed_runs ? "; first failure: " : "", first);
	ok(sum.refunds > 0 && sum.spends_more > 0 && sum.replays > 0 && sum.refusals > 0 && sum.debts > 0 &&
	   sum.wide > 0 && sum.looked > 0,
	   "the runs went through refunds (%d), captures past the grants read (%d), charges decided again on "
	   "every grant (%d), refusals decided again on their request_ids (%d), replays (%d), refusals (%d) and "
	   "debts (%d)", sum.refunds, sum.spends_more, sum.wide, sum.looked, sum.replays, sum.refusals, sum.debts);
	failed_runs = runs(run_two, &sum, first, sizeof(first));
	ok(failed_runs == 0, "%d runs of two writers on one account keep DESIGN §4's invariants on the rows committed%s%s",
	   RUNS, failed_runs ? "; first failure: " : "", first);
	ok(sum.second > 0 && sum.refused > 0 && sum.disagreed > 0,
	   "the second writer committed between read and write (%d), writes of moved rows were refused and decided "
	   "again (%d), and decisions met kept rows that disagree (%d)", sum.second, sum.refused, sum.disagreed);
	return done_testing();
}
