/* test_decide.c: the guard's rules (ledger_decide.h) without a database:
 * rate windows across minute boundaries, shrinking a hold, the cost of a
 * settle, and whole authorizes, settles, releases and usages decided on a
 * batch built here by hand (no read, no write, no connection). Built
 * with assertions on, so the rules' own checks run under it too. */
#include "ledger_decide.h"
#include "answer.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

#ifdef NDEBUG
#error "the unit tests run with assertions on: NDEBUG must not be defined"
#endif

#define NOW (60 * 1000000LL + 30)	/* 30 s into minute 1000000 */

/* 1 micro per input token, 2 per output token, no margin: a hold of 100
 * input and k output tokens costs 100 + 2k. Cache writes at the input
 * price, the default. */
static const struct price PRICE = {1000000, 500000, 2000000, 1000, 1000000, PRICING_NO_DIMS};

static void acct_init(struct acct *a, int64_t id, const char *ext, int64_t balance)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	snprintf(a->ext_id, sizeof(a->ext_id), "%s", ext);
	snprintf(a->status, sizeof(a->status), "active");
	a->balance = balance;
	a->monthly_limit = a->daily_limit = a->plan_member_cap = a->low_balance = -1;
	a->sweep_due_at = -1;
	a->rate = (struct rate){-1, -1, -1, 0, 0};
}

static struct guard_authorize ask(const char *request_id, int64_t out, int64_t min_out)
{
	struct guard_authorize r;
	memset(&r, 0, sizeof(r));
	r.account = "acme";
	r.member = "alice";
	r.model = "m";
	r.request_id = request_id;
	r.input_tokens = 100;
	r.max_output_tokens = out;
	r.min_output_tokens = min_out;
	r.ttl_seconds = 600;
	r.amount_micros = 100 + 2 * out;
	r.price = PRICE;
	r.margin_bps = 10000;
	r.priced = 1;
	return r;
}

/* A batch as the read CALL would leave it: account "acme" (id 7) with
 * 10000 micros on one grant, member alice with a cap of 3000. */
static struct batch *batch_made(void)
{
	struct batch *b = ledger_batch_take();
	if (b == NULL)
		return NULL;
	ledger_batch_reset(b);
	b->clock = (struct ledger_clock){NOW, 0, 0};	/* the time the decisions read */
	b->naccts = 1;
	memset(&b->accts[0], 0, sizeof(b->accts[0]));
	acct_init(&b->accts[0].a, 7, "acme", 10000);
	b->accts[0].spends = 1;
	b->nmembers = 1;
	memset(&b->members[0], 0, sizeof(b->members[0]));
	b->members[0].m.found = 1;
	snprintf(b->members[0].m.member, sizeof(b->members[0].m.member), "alice");
	b->members[0].m.cap = 3000;
	b->members[0].m.rate = (struct rate){-1, -1, -1, 0, 0};
	b->ngrants = 1;
	memset(&b->grants[0], 0, sizeof(b->grants[0]));
	b->grants[0].g.id = 1;
	b->grants[0].g.remaining = 10000;
	b->hold_reqs_read = 1;		/* every request_id was read: no lookup */
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

/* As the write would: the new holds get ids (11, 12, ...). */
static void holds_written(struct batch *b)
{
	for (int i = 0; i < b->nholds; i++) {
		if (b->holds[i].is_new) {
			b->holds[i].h.id = 11 + i;
			b->holds[i].is_new = 0;
		}
	}
}

/* A request that names no ttl_seconds (0) gets the configured default,
 * which the batch carries (docs/configuration.md, [ledger]
 * hold_ttl_seconds); one that names it, its own. */
static void test_ttl_default(void)
{
	struct batch *b = batch_made();
	if (b == NULL)
		return;
	b->config.hold_ttl = 321;
	struct guard_op op;
	struct guard_authorize r1 = ask("ttl-1", 10, -1), r2 = ask("ttl-2", 10, -1);
	r1.ttl_seconds = 0;
	r2.ttl_seconds = 5;
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r1;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "ttl default: granted");
	is_int(b->holds[0].h.expires_at, NOW + 321, "no ttl_seconds: the configured default");
	is_int(op.expires_at, NOW + 321, "and the answer says so");
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r2;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "ttl given: granted");
	is_int(b->holds[1].h.expires_at, NOW + 5, "ttl_seconds given: its own");
	ledger_batch_free(b);
}

static void test_authorize(struct batch *b)
{
	struct guard_op op;
	struct acct *a = &b->accts[0].a;
	struct member_row *m = &b->members[0].m;
	struct guard_authorize r1 = ask("req-1", 1000, -1), r2 = ask("req-2", 1000, -1), r3 = ask("req-2", 1000, 100);
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r1;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "authorize: granted");
	ok(b->nholds == 1 && b->holds[0].h.amount == 2100 && strcmp(b->holds[0].h.state, "pending") == 0,
	   "a pending hold of 2100 (100 + 2*1000)");
	ok(a->reserved == 2100 && m->reserved == 2100, "reserved on the account and the member");
	ok(op.amount == 2100 && op.available == 7900 && op.max_output == 1000, "the answer's figures");
	is_int(b->holds[0].h.expires_at, NOW + 600, "it expires after its ttl");
	is_int(a->sweep_due_at, NOW + 600, "and the account's sweep is due then");
	ok(a->rate.requests == 1 && a->rate.tokens == 1100, "its tokens counted in the minute (100 + 1000)");
	is_int(a->balance, 10000, "a hold moves no balance");
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r2;
	is_int(ledger_decide_authorize(b, &op), CD_E_MEMBER_CAP, "a second full hold passes alice's cap");
	ok(op.refusal.why == REFUSE_MEMBER_CAP && op.refusal.available_micros == 900, "with 900 left under it");
	ok(b->nholds == 1 && a->reserved == 2100 && m->reserved == 2100, "a refusal changes nothing");
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r3;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "with min_output_tokens it shrinks instead");
	ok(op.max_output == 400 && op.amount == 900, "to 400 output tokens, 900 micros");
	ok(a->reserved == 3000 && m->reserved == 3000, "the cap is now full");
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r1;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "req-1 again: a replay, though a new hold would be refused");
	ok(op.hold == 0 && op.amount == 2100 && b->nholds == 2 && a->reserved == 3000, "answered with its hold");
	struct guard_authorize nobody = ask("req-9", 10, -1);
	nobody.account = "nobody";
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &nobody;
	is_int(ledger_decide_authorize(b, &op), CD_E_NOT_FOUND, "an unknown account: 404");
	is_int(op.refusal.why, REFUSE_ACCOUNT_UNKNOWN, "said so");
	/* A refusal whose request_id the batch did not read asks its caller
	 * to read it first (the next attempt's load), changing nothing; read
	 * (not held), it stands. */
	struct guard_authorize r4 = ask("req-4", 1000, -1);
	int nholds = b->nholds;
	int64_t reserved = a->reserved;
	b->hold_reqs_read = 0;
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r4;
	is_int(ledger_decide_authorize(b, &op), CD_E_MEMBER_CAP, "refused at alice's cap");
	ok(op.lookup == 1 && b->nholds == nholds && a->reserved == reserved,
	   "its request_id not read: the caller is asked to read it, nothing changed");
	b->hold_reqs_read = 1;
	is_int(ledger_decide_authorize(b, &op), CD_E_MEMBER_CAP, "read, not held: the refusal stands");
	ok(op.lookup == 0 && op.hold < 0 && b->nholds == nholds, "and asks nothing more");
	b->hold_reqs_read = 0;
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r1;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "a request_id in the batch needs no look-up: replayed");
	ok(op.lookup == 0 && op.hold == 0, "with its hold");
	/* The next attempt's read finds a hold (the load puts it in the
	 * batch): decided again, the refused request is its replay. */
	struct guard_authorize r5 = ask("req-5", 1000, -1);
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r5;
	is_int(ledger_decide_authorize(b, &op), CD_E_MEMBER_CAP, "req-5 refused, its request_id not read");
	ok(op.lookup == 1, "a look-up asked");
	struct hold_row found = b->holds[0].h;
	snprintf(found.request_id, sizeof(found.request_id), "req-5");
	found.id = 99;
	int at = ledger_batch_hold_add(b, 0, &found);
	ok(at >= 0, "the hold the read found, in the batch");
	b->hold_reqs_read = 1;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "found: answered as the replay of its hold");
	ok(op.lookup == 0 && op.hold == at && a->reserved == reserved, "with that hold, nothing reserved again");
	b->hold_reqs_read = 1;
}

/* A free gateway call (count_tokens;
 * docs/gateway.md, "Free routes and BYOK inside the rate limits"): counted in
 * the rate windows as a request of no tokens, past the member's cap too, no
 * hold made and no money moved; refused 429 past requests_per_minute. */
static void test_count_only(void)
{
	struct batch *b = batch_made();
	struct guard_op op;
	struct acct *a = &b->accts[0].a;
	struct guard_authorize r = ask("gw_free_1", 0, -1);
	r.byok = r.count_only = 1;
	r.amount_micros = r.input_tokens = 0;
	r.priced = 0;
	a->rate.rpm = 2;
	b->members[0].m.reserved = 3000;	/* alice's cap full: a free call still passes */
	for (int i = 0; i < 2; i++) {
		op_init(&op, GUARD_AUTHORIZE);
		op.in.authorize = &r;
		is_int(ledger_decide_authorize(b, &op), CD_OK, "count_tokens %d: counted", i + 1);
	}
	ok(b->nholds == 0 && a->reserved == 0 && a->balance == 10000 && op.hold < 0, "no hold made, no money moved");
	ok(a->rate.requests == 2 && a->rate.tokens == 0 && b->members[0].m.rate.requests == 2,
	   "two requests of no tokens, on the account and its member");
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r;
	is_int(ledger_decide_authorize(b, &op), CD_E_RATE_LIMITED, "the third in the minute: 429");
	is_int(op.refusal.why, REFUSE_RATE_LIMIT, "said so");
	ok(a->rate.requests == 2, "a refusal counts nothing");
	snprintf(a->status, sizeof(a->status), "suspended");
	a->rate.rpm = -1;
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r;
	is_int(ledger_decide_authorize(b, &op), CD_E_SUSPENDED, "a suspended account: 403");
	ledger_batch_free(b);
}

/* 1 when the rows written so far end with tail. */
static int ends_with(const struct dynbuf *d, const char *tail)
{
	size_t n = strlen(tail);
	return d->data != NULL && d->len >= n && memcmp(d->data + d->len - n, tail, n) == 0;
}

/* A journal row of the batch records key (JOURNAL_TABLE's idempotency_key,
 * ledger_columns.h); each test's keys are its own. */
static int journal_key_is(const struct batch *b, const char *key)
{
	char want[128];
	snprintf(want, sizeof(want), ",\"%s\",", key);
	return b->journal_rows.len > 0 && strstr(b->journal_rows.data, want) != NULL;
}

static void test_settle(struct batch *b)
{
	static const unsigned char hash[32] = {1}, other[32] = {2};
	struct guard_op op;
	struct acct *a = &b->accts[0].a;
	struct member_row *m = &b->members[0].m;
	struct guard_settle r = {.hold_id = "hold_7_11", .input_tokens = 100, .output_tokens = 300, .request_hash = hash,
				 .settle_reason = "estimated"};	/* the gateway's (docs/api.md) */
	holds_written(b);
	op_init(&op, GUARD_SETTLE);
	op.in.settle = &r;
	op.account_id = 7;
	op.hold_id = 11;
	b->journal_key = "settle:hold_7_11";	/* the batch's run sets it per operation */
	b->actor = NULL;	/* an operation of no key: creditd's own */
	is_int(ledger_decide_settle(b, &op), CD_OK, "settle: charged");
	ok(journal_key_is(b, "settle:hold_7_11"), "its journal row records the key the batch gives: %s",
	   b->journal_rows.data);
	ok(ends_with(&b->journal_rows, ",\"system\"]"), "its journal row names creditd as the actor: %s",
	   b->journal_rows.data);
	ok(a->balance == 9300 && b->grants[0].g.remaining == 9300, "700 (100 + 2*300) spent from the grant");
	ok(a->reserved == 900 && m->reserved == 900, "the hold's 2100 released from both reserves");
	ok(a->month_spent == 700 && a->day_spent == 700 && m->month_spent == 700, "counted in the spends");
	ok(b->njournal == 1 && b->accts[0].journal_micros == -700, "one journal row of -700");
	is_int(a->balance - b->accts[0].balance_marked, b->accts[0].journal_micros, "the balance moved by the journal");
	ok(strcmp(b->holds[0].h.state, "settled") == 0 && b->holds[0].h.charged == 700, "the hold settled at 700");
	ok(strstr(b->holds[0].h.response, "\"released_micros\":1400") != NULL, "its stored answer: 1400 released");
	ok(b->nsettle_usage == 1 && b->settle_usage.len > 0 &&
	   strstr(b->settle_usage.data, ",100,0,300,700,") != NULL &&
	   ends_with(&b->settle_usage, ",0,\"estimated\",700]"),
	   "its usage row for the write CALL: tokens, cost, then no cache writes, its settle_reason and its cost "
	   "before the margin (sql/078; this test's margin is none): %s",
	   b->settle_usage.data);
	is_int(a->rate.tokens, 1600 - 1100 + 400, "the minute's tokens corrected to the actual 400");
	is_int(ledger_decide_settle(b, &op), CD_OK, "the same settle again: answered from the stored one");
	ok(a->balance == 9300 && b->njournal == 1, "never charged twice");
	r.request_hash = other;
	is_int(ledger_decide_settle(b, &op), CD_E_CONFLICT, "another settle of a settled hold: 409");
	is_int(op.refusal.why, REFUSE_HOLD_SETTLE_CONFLICT, "said so");
	op.hold_id = 99;
	is_int(ledger_decide_settle(b, &op), CD_E_NOT_FOUND, "an unknown hold: 404");
}

static void test_release_usage(struct batch *b)
{
	static const unsigned char hash[32] = {3};
	struct guard_op op;
	struct acct *a = &b->accts[0].a;
	struct guard_release rel = {"hold_7_12", 0};
	op_init(&op, GUARD_RELEASE);
	op.in.release = &rel;
	op.account_id = 7;
	op.hold_id = 12;
	is_int(ledger_decide_release(b, &op), CD_OK, "release: the shrunk hold");
	ok(op.released == 900 && a->reserved == 0 && b->members[0].m.reserved == 0, "its 900 back on both");
	is_str(op.state, "released", "now released");
	is_int(a->balance, 9300, "no balance moved");
	op.hold_id = 11;
	is_int(ledger_decide_release(b, &op), CD_E_CONFLICT, "a settled hold cannot be released");
	struct guard_usage u = {.account = "acme", .model = "m", .request_id = "use-1", .input_tokens = 10,
				.output_tokens = 20, .cost_micros = 500, .request_hash = hash,
				.settle_reason = "client_gone", .cache_write_input_tokens = 4};
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	b->journal_key = "idem-usage-1";
	b->actor = "crd_ab12cd34";	/* the batch's run sets it per operation: its request's key */
	is_int(ledger_decide_usage(b, &op), CD_OK, "usage: charged");
	ok(journal_key_is(b, "idem-usage-1"), "its journal row records the key the batch gives: %s", b->journal_rows.data);
	ok(ends_with(&b->journal_rows, ",\"crd_ab12cd34\"]"), "its journal row names the key that acted: %s",
	   b->journal_rows.data);
	b->journal_key = NULL;
	b->actor = NULL;
	ok(op.charged == 500 && a->balance == 8800 && b->nusages == 1, "500 spent, one usage row");
	ok(a->rate.minute == NOW / 60, "counted in the batch's clock's minute (%lld)", (long long)a->rate.minute);
	ok(b->usage_rows.len > 0 && strstr(b->usage_rows.data, ",10,0,20,500,") != NULL &&
	   ends_with(&b->usage_rows, ",4,\"client_gone\",null]"),
	   "its row for the write CALL ends with its cache writes, settle_reason and no cost before the margin "
	   "(priced by its caller): %s", b->usage_rows.data);
	is_int(a->balance - b->accts[0].balance_marked, b->accts[0].journal_micros, "with its journal row");
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	is_int(ledger_decide_usage(b, &op), CD_OK, "the same request_id again");
	ok(op.replayed && op.charged == 500 && a->balance == 8800, "answered as first, not charged");
	u.cost_micros = 9000;
	u.request_id = "use-2";
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	is_int(ledger_decide_usage(b, &op), CD_E_INSUFFICIENT, "more than is available: 402");
	is_int(a->balance, 8800, "nothing charged");
	u.force = 1;
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	is_int(ledger_decide_usage(b, &op), CD_OK, "forced: charged past the check");
	ok(a->balance == -200 && b->ngrants == 2 && b->grants[1].g.remaining == -200, "200 onto a new debt row");
}

/* A member the guard names with no row: which accounts make it one
 * (ledger_members_row_due), and that row, as ledger_members_create leaves it (no cap of
 * its own, its reserve the holds it had already), capped by the plan. */
static void test_new_member_row(void)
{
	struct acct a;
	acct_init(&a, 8, "team", 10000);
	snprintf(a.kind, sizeof(a.kind), "workspace");
	is_int(ledger_members_row_due(&a), 0, "a workspace whose plan has no member cap: no row made");
	a.plan_member_cap = 0;
	is_int(ledger_members_row_due(&a), 1, "a plan member cap (even 0): a row made");
	a.plan_member_cap = 3000;
	is_int(ledger_members_row_due(&a), 1, "a plan member cap of 3000: a row made");
	snprintf(a.kind, sizeof(a.kind), "user");
	is_int(ledger_members_row_due(&a), 0, "not a workspace: never");
	struct batch *b = batch_made();
	if (b == NULL) {
		ok(0, "a batch in memory");
		return;
	}
	struct acct *ba = &b->accts[0].a;
	struct member_row *m = &b->members[0].m;
	snprintf(ba->kind, sizeof(ba->kind), "workspace");
	ba->plan_member_cap = 3000;
	ba->reserved = 2000;		/* a hold of alice's made before her row */
	m->cap = -1;
	m->reserved = 2000;
	struct guard_authorize full = ask("new-1", 1000, -1), small = ask("new-2", 400, -1);
	struct guard_op op;
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &full;
	is_int(ledger_decide_authorize(b, &op), CD_E_MEMBER_CAP, "the new row is capped at the plan's 3000");
	ok(op.refusal.available_micros == 1000 && op.refusal.required_micros == 2100,
	   "its earlier holds count: 1000 left for 2100");
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &small;
	is_int(ledger_decide_authorize(b, &op), CD_OK, "900 fits under it");
	ok(m->reserved == 2900 && ba->reserved == 2900 && b->members[0].changed, "reserved on the row, to be written");
	static const unsigned char hash[32] = {4};
	struct guard_usage u = {.account = "acme", .member = "alice", .model = "m", .request_id = "new-3",
				.input_tokens = 10, .output_tokens = 20, .cost_micros = 101, .request_hash = hash};
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	is_int(ledger_decide_usage(b, &op), CD_E_MEMBER_CAP, "usage past the plan's cap: 429");
	u.cost_micros = 100;
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	is_int(ledger_decide_usage(b, &op), CD_OK, "usage up to it: charged");
	ok(m->month_spent == 100 && m->reserved == 2900, "counted in the row's month");
	ledger_batch_free(b);
}

/* A late settle below its captured hold asks for its refund with
 * nothing changed; once written (the balance moved by it), it is decided
 * on the balance as it was, not charged the refund's range twice: here
 * the balance is 1000 below the top of the range and the refund 600. */
static void test_late_refund(void)
{
	static const unsigned char hash[32] = {5};
	struct batch *b = batch_made();
	if (b == NULL) {
		ok(0, "a batch in memory");
		return;
	}
	struct acct *a = &b->accts[0].a;
	a->balance = LIMIT_BALANCE_MICROS_MAX - 1000;
	b->grants[0].g.remaining = a->balance;
	ledger_batch_balances_mark(b);
	struct batch_hold *bh = &b->holds[b->nholds++];
	memset(bh, 0, sizeof(*bh));
	bh->h.id = 21;
	bh->h.account_id = 7;
	bh->h.amount = bh->h.charged = 1000;
	bh->h.has_pin = 1;
	bh->h.pin = PRICE;
	bh->h.pin_margin = 10000;
	bh->h.rate_minute = -1;
	snprintf(bh->h.state, sizeof(bh->h.state), "captured");
	snprintf(bh->h.model, sizeof(bh->h.model), "m");
	struct guard_settle r = {.hold_id = "hold_7_21", .input_tokens = 100, .output_tokens = 150, .request_hash = hash};
	struct guard_op op;
	op_init(&op, GUARD_SETTLE);
	op.in.settle = &r;
	op.account_id = 7;
	op.hold_id = 21;
	int64_t before = a->balance;
	is_int(ledger_decide_settle(b, &op), CD_OK, "a late settle below its capture");
	ok(op.refund == 600 && a->balance == before && strcmp(bh->h.state, "captured") == 0 && b->njournal == 0,
	   "asks for its 600 refund with nothing changed");
	is_int(ledger_batch_refund(b, 0, op.refund, "hold_7_21"), CD_OK, "its refund grant made in the batch");
	op.refunded = op.refund;
	is_int(ledger_decide_settle(b, &op), CD_OK, "decided again on it, in range as it was");
	ok(op.refund == 0 && strcmp(bh->h.state, "settled") == 0 && bh->h.charged == 400, "settled at 400");
	ok(a->balance == before + 600 && b->njournal == 1, "the balance moved by the refund alone: its row, no charge row");
	ledger_batch_free(b);
}

/* A late settle's refund is the batch's, written with its one write: the
 * debt row read repaid first, the rest a new grant of source refund whose
 * journal row names it as the write's first new grant (-1), at the
 * batch's journal key; a second refund is the second (-2). The balance
 * moves with the journal rows the write will carry, and the grants read
 * are stale after it. Beyond the money range nothing moves. */
static void test_refund_in_write(void)
{
	struct batch *b = batch_made();
	if (b == NULL) {
		ok(0, "a batch in memory");
		return;
	}
	struct batch_acct *ba = &b->accts[0];
	struct acct *a = &ba->a;
	a->balance = -250;			/* a debt of 250, no grant left */
	b->grants[0].g.remaining = -250;
	b->grants[0].g.debt = 1;
	ledger_batch_balances_mark(b);
	b->journal_key = "settle:hold_7_21";
	is_int(ledger_batch_refund(b, 0, 600, "hold_7_21"), CD_OK, "a refund of 600 over a debt of 250");
	ok(b->grants[0].g.remaining == 0 && b->grants[0].g.changed, "the debt row repaid first, to be written");
	ok(b->ngrants == 2 && b->grants[1].is_new && !b->grants[1].g.debt && b->grants[1].g.remaining == 350,
	   "the rest a new grant of 350");
	ok(b->nrefunds == 1 && b->refunds[0].grant == 1 && b->refunds[0].amount == 600 &&
	   strcmp(b->refunds[0].reference, "hold_7_21") == 0, "pending for the write's grants_new");
	ok(a->balance == 350 && ba->journal_micros == 600 && ba->changed && ba->grants_stale,
	   "the balance up by its journal row; grants stale");
	is_str(b->journal_rows.data,
	       "[7,600,350,\"grant\",\"refund\",null,\"hold_7_21\",\"settle:hold_7_21\",-1,"
	       "\"late settle below captured hold\",\"system\"]",
	       "its journal row names the write's first new grant, at the batch's key, and no key acted");
	is_int(ledger_batch_refund(b, 0, 100, "hold_7_22"), CD_OK, "a second refund");
	ok(b->nrefunds == 2 && a->balance == 450 && strstr(b->journal_rows.data, ",-2,") != NULL,
	   "the write's second new grant");
	a->balance = LIMIT_BALANCE_MICROS_MAX - 10;
	ledger_batch_balances_mark(b);
	is_int(ledger_batch_refund(b, 0, 600, "hold_7_23"), CD_E_INTERNAL, "past the money range: refused");
	ok(b->nrefunds == 2 && a->balance == LIMIT_BALANCE_MICROS_MAX - 10, "nothing moved");
	/* An account that owes with no debt row among the batch's (neither
	 * read, its id known, nor new in this write) is refused a refund; one
	 * new in this write repays it. */
	a->balance = -100;
	b->grants[0].g.remaining = -100;
	b->grants[0].g.id = 0;
	b->grants[0].is_new = 0;
	ledger_batch_balances_mark(b);
	is_int(ledger_batch_refund(b, 0, 50, "hold_7_24"), CD_E_INTERNAL, "a refund on a debt row not known is refused");
	ok(b->nrefunds == 2 && a->balance == -100 && b->grants[0].g.remaining == -100, "nothing moved");
	b->grants[0].is_new = 1;
	is_int(ledger_batch_refund(b, 0, 50, "hold_7_25"), CD_OK, "the debt row new in this write: refunded");
	ok(a->balance == -50 && b->grants[0].g.remaining == -50, "the debt repaid first");
	ledger_batch_free(b);
}

/* A pending hold of account 7 (no member) pinned at PRICE, its amount in
 * the account's reserve. */
static struct batch_hold *pinned_hold(struct batch *b, int64_t id, const char *request_id)
{
	struct batch_hold *bh = &b->holds[b->nholds++];
	memset(bh, 0, sizeof(*bh));
	bh->h.id = id;
	bh->h.account_id = 7;
	bh->h.amount = 1000;
	bh->h.has_pin = 1;
	bh->h.pin = PRICE;
	bh->h.pin_margin = 10000;
	bh->h.rate_minute = -1;
	bh->h.expires_at = NOW + 600;
	snprintf(bh->h.state, sizeof(bh->h.state), "pending");
	snprintf(bh->h.model, sizeof(bh->h.model), "m");
	snprintf(bh->h.request_id, sizeof(bh->h.request_id), "%s", request_id);
	b->accts[0].a.reserved += bh->h.amount;
	return bh;
}

/* A gateway call answered by a provider with its own price
 * (docs/gateway.md, "Which price a call is charged"): its settle names
 * that price and is charged it, not the hold's pin (the first
 * provider's); a guard settle naming a price keeps the pin. */
static void test_answering_price(void)
{
	static const unsigned char hash[32] = {6}, hash2[32] = {7};
	static const struct price dear = {2090000, 1045000, 4180000, 1000, 2090000, PRICING_NO_DIMS};
	struct batch *b = batch_made();
	if (b == NULL) {
		ok(0, "a batch in memory");
		return;
	}
	struct batch_hold *gw = pinned_hold(b, 31, "gw_pa_0123abcd");
	struct batch_hold *guard = pinned_hold(b, 32, "guard-req");
	ledger_batch_balances_mark(b);
	struct guard_settle r = {.hold_id = "hold_7_31", .input_tokens = 100, .output_tokens = 150, .request_hash = hash,
				 .settle_reason = "provider_usage", .price = &dear, .margin_bps = 10000};
	struct guard_op op;
	op_init(&op, GUARD_SETTLE);
	op.in.settle = &r;
	op.account_id = 7;
	op.hold_id = 31;
	is_int(ledger_decide_settle(b, &op), CD_OK, "a gateway settle at the answering provider's price");
	is_int(gw->h.charged, 836, "charged 100 × 2.09 + 150 × 4.18, not the pin's 400");
	struct guard_settle g = {.hold_id = "hold_7_32", .input_tokens = 100, .output_tokens = 150, .request_hash = hash2,
				 .price = &dear, .margin_bps = 10000};
	op_init(&op, GUARD_SETTLE);
	op.in.settle = &g;
	op.account_id = 7;
	op.hold_id = 32;
	is_int(ledger_decide_settle(b, &op), CD_OK, "a guard settle naming a price");
	is_int(guard->h.charged, 400, "charged at its pin (100 + 2 × 150), as before");
	ledger_batch_free(b);
}

/* docs/architecture.md, "Which rows a write decides on": money is written
 * only from rows locked in the transaction writing. Each refusal here happens
 * before anything is sent (lg has no connection: a write that went on would
 * crash the test). */
static void test_written_only_when_locked(struct store *lg)
{
	struct acct a;
	const struct journal_line j = {.amount = 1000, .cause = "grant", .source = "adjustment"};
	memset(&a, 0, sizeof(a));
	a.id = 9;
	lg->tx_serial = 5;
	is_int(ledger_rows_acct_store(lg, &a), CD_E_INTERNAL, "an account row never locked is not written");
	is_int(ledger_rows_journal_append(lg, &a, &j, NULL), CD_E_INTERNAL, "nor is a journal row from it");
	ok(a.balance == 0, "the balance did not move");
	ledger_rows_acct_mark_locked_in(lg->tx_serial, &a);
	is_int(ledger_rows_acct_check_locked(lg, &a, "a test"), CD_OK, "locked in this transaction: written");
	store_committed(lg);	/* the transaction ends: the lock with it */
	is_int(ledger_rows_acct_check_locked(lg, &a, "a test"), CD_E_INTERNAL, "a row locked in an earlier transaction is not");
	is_int(ledger_rows_journal_append(lg, &a, &j, NULL), CD_E_INTERNAL, "its journal row is not written");
	struct batch *b = ledger_batch_take();
	ok(b != NULL, "a batch");
	if (b == NULL)
		return;
	ledger_batch_reset(b);
	b->naccts = 1;
	memset(&b->accts[0], 0, sizeof(b->accts[0]));
	b->accts[0].a = a;
	b->accts[0].changed = 1;
	b->kept_check = 0;
	is_int(ledger_batch_write_flush(lg, b, NULL, 0), CD_E_INTERNAL,
	       "a guard batch does not write an account neither locked nor checked by the write");
	b->tx_serial = lg->tx_serial;
	is_int(ledger_batch_write_flush(lg, b, NULL, 0), CD_E_INTERNAL,
	       "nor, in the batch's own transaction, one locked in an earlier transaction");
	ledger_batch_free(b);
}

/* A failed batch names the operation its failure belongs to (run apart,
 * ledger_holds.c): the one whose error it was, else the first on the
 * account whose rows disagree (kept rows that disagree are a retry,
 * moved, naming none); none when the failure is nobody's. */
static void test_failed_op(void)
{
	struct batch *b = batch_made();
	struct guard_op auth, settle, other;
	struct guard_settle s;
	struct guard_authorize r = ask("rq-f", 10, 0);
	struct guard_op *ops[] = {&other, &auth, &settle};
	if (b == NULL) {
		ok(0, "a batch in memory");
		return;
	}
	b->naccts = 2;
	memset(&b->accts[1], 0, sizeof(b->accts[1]));
	acct_init(&b->accts[1].a, 9, "zeta", 0);
	struct guard_authorize ro = ask("rq-o", 10, 0);
	ro.account = "other";
	op_init(&other, GUARD_AUTHORIZE);
	other.in.authorize = &ro;
	op_init(&auth, GUARD_AUTHORIZE);
	auth.in.authorize = &r;
	memset(&s, 0, sizeof(s));
	op_init(&settle, GUARD_SETTLE);
	settle.in.settle = &s;
	settle.account_id = 9;
	b->failed_op = b->failed_acct = -1;
	is_int(ledger_decide_failed_op(b, ops, 3), -1, "a failure that names nothing names no operation");
	b->failed_op = 2;
	b->failed_acct = 0;
	is_int(ledger_decide_failed_op(b, ops, 3), 2, "an operation's own error names it");
	b->failed_op = -1;
	is_int(ledger_decide_failed_op(b, ops, 3), 1, "rows that disagree name the first operation on their account");
	b->failed_acct = 1;
	is_int(ledger_decide_failed_op(b, ops, 3), 2, "by its hold's account id for a settle");
	b->kept = 1;
	b->failed_acct = -1;
	is_int(ledger_batch_rows_disagree(b, 0, "test"), CD_E_RETRY, "kept rows that disagree: read again");
	is_int(ledger_decide_failed_op(b, ops, 3), -1, "and no operation named");
	b->kept = 0;
	is_int(ledger_batch_rows_disagree(b, 0, "test (expected)"), CD_E_INTERNAL, "rows read that disagree: an error");
	is_int(ledger_decide_failed_op(b, ops, 3), 1, "named for the operations of their account");
	ledger_batch_free(b);
}

/* What a decision needs beyond the rows loaded ends its attempt
 * (ledger_decide_needs): a usage past the grants read, with more in the
 * database, runs apart in a batch of several, reads wide alone, and
 * alone and wide fails; a refused authorize whose request_id was not
 * read asks for it; a usage on grants a refund of the batch made runs
 * apart, its charge left whole. */
static void test_needs(void)
{
	static const unsigned char hash[32] = {5};
	struct batch *b = batch_made();
	struct guard_op op;
	if (b == NULL)
		return;
	b->accts[0].grants_more = 1;	/* more grants in the database than the one read */
	struct guard_usage u = {.account = "acme", .model = "m", .request_id = "need-1", .input_tokens = 1,
				.output_tokens = 1, .cost_micros = 10500, .request_hash = hash, .force = 1};
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	is_int(ledger_decide_op(b, &op), CD_OK, "a usage past its grants read: decided");
	is_int(op.spend_more, 500, "500 past the grant read");
	is_int(ledger_decide_needs(b, &op, CD_OK, 2, 3), CD_E_INTERNAL, "third of a batch of three: the batch ends");
	ok(b->failed_op == 2 && !b->load_more && !b->grants_wide, "named to run apart, no load asked");
	b->failed_op = -1;
	is_int(ledger_decide_needs(b, &op, CD_OK, 0, 1), CD_E_RETRY, "alone: the attempt ends");
	ok(b->load_more && b->grants_wide && b->failed_op == 0, "its next load reads the grants wide");
	b->load_more = 0;
	is_int(ledger_decide_needs(b, &op, CD_OK, 0, 1), CD_E_INTERNAL, "alone and wide already: it fails");
	ok(!b->load_more, "asking no load again");
	is_int(ledger_decide_needs(b, &op, CD_E_INSUFFICIENT, 0, 1), CD_E_INSUFFICIENT, "a refusal passes as it is");
	ledger_batch_free(b);
	/* A refused authorize whose request_id was not read. */
	b = batch_made();
	if (b == NULL)
		return;
	b->hold_reqs_read = 0;
	b->failed_op = -1;
	struct guard_authorize r = ask("need-2", 100000, -1);
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &r;
	enum cd_err rc = ledger_decide_op(b, &op);
	ok(rc != CD_OK && op.lookup, "refused, its request_id not read");
	is_int(ledger_decide_needs(b, &op, rc, 0, 4), CD_E_RETRY, "the attempt ends");
	ok(b->hold_reqs_needed && b->load_more && b->failed_op < 0, "the next load reads the request_ids, nothing named");
	/* Refused at its rate, not for its money: the same. */
	b->accts[0].a.rate = (struct rate){1, -1, NOW / 60, 1, 0};	/* one request a minute, made */
	struct guard_authorize rr = ask("need-4", 10, -1);
	int nholds = b->nholds;
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &rr;
	is_int(ledger_decide_op(b, &op), CD_E_RATE_LIMITED, "over its rate: 429");
	ok(op.lookup && b->nholds == nholds && b->accts[0].a.rate.requests == 1,
	   "its request_id not read: asked for, nothing counted");
	b->hold_reqs_read = 1;
	op_init(&op, GUARD_AUTHORIZE);
	op.in.authorize = &rr;
	is_int(ledger_decide_op(b, &op), CD_E_RATE_LIMITED, "read, not held: the 429 stands");
	ok(!op.lookup, "asking nothing more");
	ledger_batch_free(b);
	/* Grants a refund of this batch made: the charge is left whole. */
	b = batch_made();
	if (b == NULL)
		return;
	b->accts[0].grants_stale = 1;
	u.request_id = "need-3";
	u.cost_micros = 100;
	op_init(&op, GUARD_USAGE);
	op.in.usage = &u;
	is_int(ledger_decide_op(b, &op), CD_OK, "a usage after the batch's refund: decided");
	ok(op.spend_more == 100 && b->grants[0].g.remaining == 10000, "its charge left whole, no grant burnt");
	is_int(ledger_decide_needs(b, &op, CD_OK, 1, 2), CD_E_INTERNAL, "in a batch of two: the batch ends");
	is_int(b->failed_op, 1, "and it runs apart");
	ledger_batch_free(b);
}

int main(void)
{
	/* The decisions take no store: the batch carries their clock
	 * (b->clock) and journal key (b->journal_key). Only the locking
	 * checks take one, which never connects. */
	static struct store lg;
	struct batch *b = batch_made();
	ok(b != NULL, "a batch in memory");
	if (b != NULL) {
		test_authorize(b);
		test_settle(b);
		test_release_usage(b);
		ledger_batch_free(b);
		test_new_member_row();
		test_late_refund();
		test_refund_in_write();
		test_answering_price();
		test_count_only();
		test_ttl_default();
		test_needs();
	}
	test_written_only_when_locked(&lg);
	test_failed_op();
	return done_testing();
}
