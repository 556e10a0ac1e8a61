/* test_answer.c: unit tests for src/answer: each write's typed answer
 * rendered, compared with the text the ledger stored and answered before
 * the answers were rendered above it (the same keys in the same order,
 * the same status), as an Idempotency-Key stores it (compact, in order).
 * No database. */
#include "answer.h"
#include "ledger_rows.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

#define T0 1600000000		/* 2020-09-13T12:26:40Z */
#define T0_TEXT "2020-09-13T12:26:40Z"
#define T1 1700000000		/* 2023-11-14T22:13:20Z */
#define T1_TEXT "2023-11-14T22:13:20Z"

/* d rendered as a key stores it: its status and its text. */
static void renders(const struct ledger_done *d, int want_status, const char *want, const char *what)
{
	json_t *body = NULL;
	int status = 0;
	enum cd_err rc = answer_render(d, &status, &body);
	is_int(rc, CD_OK, "%s: rendered", what);
	is_int(status, want_status, "%s: status", what);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	is_str(text, want, "%s: text", what);
	free(text);
	json_decref(body);
}

static struct ledger_done *done_new(enum ledger_done_kind kind)
{
	struct ledger_done *d = calloc(1, sizeof(*d));
	if (d == NULL)
		abort();
	d->kind = kind;
	return d;
}

static void entry_fill(struct ledger_entry_done *e, int64_t id, int64_t amount, const char *cause, const char *source,
		       const char *description)
{
	e->journal_id = id;
	e->amount_micros = amount;
	e->balance_micros = 7500000;
	e->available_micros = 17500000;
	e->created_at = T0;
	snprintf(e->account, sizeof(e->account), "acme");
	snprintf(e->cause, sizeof(e->cause), "%s", cause);
	e->has_source = source != NULL;
	snprintf(e->source, sizeof(e->source), "%s", source != NULL ? source : "");
	e->has_description = description != NULL;
	snprintf(e->description, sizeof(e->description), "%s", description != NULL ? description : "");
}

static void test_debit(void)
{
	struct ledger_done *d = done_new(LEDGER_DONE_DEBIT);
	entry_fill(&d->u.debit, 42, -2500000, "adjustment", NULL, "refund \"x\" é");
	renders(d, 201,
		"{\"id\":\"txn_42\",\"amount_micros\":-2500000,\"balance_after_micros\":7500000,\"cause\":\"adjustment\","
		"\"source\":null,\"reference\":null,\"description\":\"refund \\\"x\\\" é\",\"created_at\":\"" T0_TEXT "\","
		"\"account\":\"acme\",\"balance_micros\":7500000,\"available_micros\":17500000}",
		"a debit");
	free(d);
}

/* A write's journal row is the row GET …/transactions shows (the
 * ledger's read still makes that one): the same keys, in the same order,
 * with the same values, before where it left the account. */
static void test_entry_is_the_journal_row(void)
{
	struct ledger_entry_done e;
	memset(&e, 0, sizeof(e));
	entry_fill(&e, 45, 300, "grant", "signup_bonus", "signup bonus");
	struct journal_entry j = {45, 300, 7500000, T0, "grant", "signup_bonus", NULL, "signup bonus"};
	json_t *read = ledger_rows_journal_entry_json(&j);
	json_t *written = answer_entries_entry(&e);
	json_object_del(written, "account");
	json_object_del(written, "balance_micros");
	json_object_del(written, "available_micros");
	char *a = json_dumps(read, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *b = json_dumps(written, JSON_COMPACT | JSON_PRESERVE_ORDER);
	is_str(b, a, "a write's journal row is the journal's");
	free(a);
	free(b);
	json_decref(read);
	json_decref(written);
}

static void test_grant(void)
{
	struct ledger_done *d = done_new(LEDGER_DONE_GRANT);
	d->u.grant.grant_id = 7;
	d->u.grant.priority = 100;
	d->u.grant.expires_at = -1;
	entry_fill(&d->u.grant.entry, 43, 5000000, "grant", "promo", NULL);
	renders(d, 201,
		"{\"id\":\"grant_7\",\"account\":\"acme\",\"source\":\"promo\",\"amount_micros\":5000000,"
		"\"remaining_micros\":5000000,\"priority\":100,\"expires_at\":null,\"description\":null,"
		"\"balance_micros\":7500000,\"available_micros\":17500000,\"transaction\":{\"id\":\"txn_43\","
		"\"amount_micros\":5000000,\"balance_after_micros\":7500000,\"cause\":\"grant\",\"source\":\"promo\","
		"\"reference\":null,\"description\":null,\"created_at\":\"" T0_TEXT "\",\"account\":\"acme\","
		"\"balance_micros\":7500000,\"available_micros\":17500000}}",
		"a grant without expiry or description");
	d->u.grant.expires_at = T1;
	entry_fill(&d->u.grant.entry, 44, 1, "grant", "adjustment", "");
	renders(d, 201,
		"{\"id\":\"grant_7\",\"account\":\"acme\",\"source\":\"adjustment\",\"amount_micros\":1,"
		"\"remaining_micros\":1,\"priority\":100,\"expires_at\":\"" T1_TEXT "\",\"description\":\"\","
		"\"balance_micros\":7500000,\"available_micros\":17500000,\"transaction\":{\"id\":\"txn_44\","
		"\"amount_micros\":1,\"balance_after_micros\":7500000,\"cause\":\"grant\",\"source\":\"adjustment\","
		"\"reference\":null,\"description\":\"\",\"created_at\":\"" T0_TEXT "\",\"account\":\"acme\","
		"\"balance_micros\":7500000,\"available_micros\":17500000}}",
		"a grant with an expiry and an empty description");
	free(d);
}

static void test_plan(void)
{
	struct ledger_done *d = done_new(LEDGER_DONE_PLAN_PUT);
	struct ledger_plan_done *p = &d->u.plan;
	snprintf(p->name, sizeof(p->name), "pro.2");
	snprintf(p->rollover, sizeof(p->rollover), "capped");
	p->credits_micros = 10000000;
	p->rollover_cap_micros = 5000000;
	p->member_cap_micros = -1;
	p->nprices = 2;
	snprintf(p->stripe_price_ids[0], sizeof(p->stripe_price_ids[0]), "price_a");
	snprintf(p->stripe_price_ids[1], sizeof(p->stripe_price_ids[1]), "price_b");
	renders(d, 200,
		"{\"name\":\"pro.2\",\"credits_micros\":10000000,\"rollover\":\"capped\",\"rollover_cap_micros\":5000000,"
		"\"member_cap_micros\":null,\"stripe_price_ids\":[\"price_a\",\"price_b\"]}",
		"a plan");
	snprintf(p->rollover, sizeof(p->rollover), "none");
	p->credits_micros = 0;
	p->rollover_cap_micros = -1;
	p->member_cap_micros = 0;
	p->nprices = 0;
	renders(d, 200,
		"{\"name\":\"pro.2\",\"credits_micros\":0,\"rollover\":\"none\",\"rollover_cap_micros\":null,"
		"\"member_cap_micros\":0,\"stripe_price_ids\":[]}",
		"a plan without prices or caps");
	free(d);
}

static void test_promo(void)
{
	struct ledger_done *d = done_new(LEDGER_DONE_PROMO_CREATE);
	struct ledger_promo_done *p = &d->u.promo;
	snprintf(p->code, sizeof(p->code), "SPRING-24");
	p->amount_micros = 1000000;
	p->max_redemptions = -1;
	p->redeemed = 0;
	p->expires_at = T1;
	p->grant_ttl_days = 30;
	p->created_at = T0;
	renders(d, 201,
		"{\"code\":\"SPRING-24\",\"amount_micros\":1000000,\"max_redemptions\":null,\"redeemed\":0,"
		"\"expires_at\":\"" T1_TEXT "\",\"grant_ttl_days\":30,\"created_at\":\"" T0_TEXT "\"}",
		"a promo code");
	p->max_redemptions = 5;
	p->expires_at = -1;
	p->grant_ttl_days = -1;
	renders(d, 201,
		"{\"code\":\"SPRING-24\",\"amount_micros\":1000000,\"max_redemptions\":5,\"redeemed\":0,"
		"\"expires_at\":null,\"grant_ttl_days\":null,\"created_at\":\"" T0_TEXT "\"}",
		"a promo code that never expires");
	free(d);

	d = done_new(LEDGER_DONE_PROMO_REDEEM);
	struct ledger_redeem_done *r = &d->u.redeem;
	r->grant_id = 9;
	snprintf(r->account, sizeof(r->account), "acme");
	snprintf(r->code, sizeof(r->code), "SPRING-24");
	r->amount_micros = 1000000;
	r->expires_at = -1;
	r->balance_micros = -3;
	r->available_micros = 999997;
	renders(d, 201,
		"{\"grant_id\":\"grant_9\",\"account\":\"acme\",\"code\":\"SPRING-24\",\"amount_micros\":1000000,"
		"\"expires_at\":null,\"balance_micros\":-3,\"available_micros\":999997}",
		"a redemption");
	r->expires_at = T1;
	renders(d, 201,
		"{\"grant_id\":\"grant_9\",\"account\":\"acme\",\"code\":\"SPRING-24\",\"amount_micros\":1000000,"
		"\"expires_at\":\"" T1_TEXT "\",\"balance_micros\":-3,\"available_micros\":999997}",
		"a redemption whose grant expires");
	free(d);
}

static void test_members(void)
{
	struct ledger_done *d = done_new(LEDGER_DONE_MEMBER_PUT);
	struct ledger_member_done *m = &d->u.member;
	m->created = 1;
	snprintf(m->account, sizeof(m->account), "ws");
	snprintf(m->member, sizeof(m->member), "alice");
	m->monthly_cap_micros = -1;
	m->requests_per_minute = 60;
	m->tokens_per_minute = -1;
	renders(d, 201,
		"{\"account\":\"ws\",\"member\":\"alice\",\"monthly_cap_micros\":null,\"month_spent_micros\":0,"
		"\"reserved_micros\":0,\"requests_per_minute\":60,\"tokens_per_minute\":null}",
		"a member added");
	m->created = 0;
	m->monthly_cap_micros = 0;
	m->month_spent_micros = 12;
	m->reserved_micros = 3;
	m->requests_per_minute = -1;
	m->tokens_per_minute = 1000;
	renders(d, 200,
		"{\"account\":\"ws\",\"member\":\"alice\",\"monthly_cap_micros\":0,\"month_spent_micros\":12,"
		"\"reserved_micros\":3,\"requests_per_minute\":null,\"tokens_per_minute\":1000}",
		"a member changed");
	free(d);

	d = done_new(LEDGER_DONE_MEMBER_DELETE);
	snprintf(d->u.member_gone.account, sizeof(d->u.member_gone.account), "ws");
	snprintf(d->u.member_gone.member, sizeof(d->u.member_gone.member), "alice");
	renders(d, 200, "{\"account\":\"ws\",\"member\":\"alice\",\"deleted\":true}", "a member removed");
	free(d);
}

/* A new account with nothing set: every optional field null. */
static void account_plain(struct ledger_account_view *a)
{
	snprintf(a->id, sizeof(a->id), "acme");
	snprintf(a->kind, sizeof(a->kind), "user");
	snprintf(a->status, sizeof(a->status), "active");
	snprintf(a->currency, sizeof(a->currency), "EUR");
	a->monthly_limit_micros = a->daily_limit_micros = a->low_balance_micros = -1;
	a->period_start = a->period_end = -1;
	a->recharge_threshold_micros = -1;
	a->recharge_amount_cents = -1;
	a->requests_per_minute = a->tokens_per_minute = -1;
	a->collection.next_try_at = -1;
	a->created_at = T0;
}

#define ACCOUNT_PLAIN                                                                                                \
	"{\"id\":\"acme\",\"kind\":\"user\",\"status\":\"active\",\"status_reason\":null,\"currency\":\"EUR\","  \
	"\"balance_micros\":0,\"reserved_micros\":0,\"available_micros\":0,\"month_spent_micros\":0,"            \
	"\"monthly_limit_micros\":null,\"day_spent_micros\":0,\"daily_limit_micros\":null,"                      \
	"\"overdraft_limit_micros\":0,\"low_balance_micros\":null,\"plan\":null,\"period_start\":null,"          \
	"\"period_end\":null,\"grants\":[],\"auto_recharge\":null,\"card_saved\":false,"                         \
	"\"requests_per_minute\":null,\"tokens_per_minute\":null,\"email\":null,\"collection\":null,"                \
	"\"created_at\":\"" T0_TEXT "\"}"

/* A workspace with every field set: a plan, two grants (one a debt), a
 * collection that failed once, an auto-recharge, limits. */
static void account_full(struct ledger_account_view *a)
{
	account_plain(a);
	snprintf(a->kind, sizeof(a->kind), "workspace");
	snprintf(a->status, sizeof(a->status), "suspended");
	snprintf(a->status_reason, sizeof(a->status_reason), "manual");
	snprintf(a->currency, sizeof(a->currency), "credits");
	snprintf(a->plan, sizeof(a->plan), "pro");
	a->balance_micros = -500;
	a->reserved_micros = 100;
	a->available_micros = 9400;
	a->month_spent_micros = 77;
	a->monthly_limit_micros = 1000000;
	a->day_spent_micros = 5;
	a->daily_limit_micros = 0;
	a->overdraft_limit_micros = 10000;
	a->low_balance_micros = 2000;
	a->period_start = T0;
	a->period_end = T1;
	a->recharge_threshold_micros = 0;
	a->recharge_amount_cents = 500;
	a->card_saved = 1;
	a->requests_per_minute = 60;
	a->tokens_per_minute = 0;
	snprintf(a->email, sizeof(a->email), "ops@acme.example");
	a->collection.period = 202401;
	a->collection.amount_micros = 5000000;
	snprintf(a->collection.state, sizeof(a->collection.state), "failed");
	a->collection.tries = 1;
	a->collection.next_try_at = T1;
	a->ngrants = 2;
	a->grants[0] = (struct ledger_grant_line){.grant_id = 3, .remaining_micros = 250, .priority = 10, .expires_at = T1};
	snprintf(a->grants[0].source, sizeof(a->grants[0].source), "promo");
	a->grants[1] = (struct ledger_grant_line){.grant_id = 4, .remaining_micros = -750, .priority = 100, .expires_at = -1};
	snprintf(a->grants[1].source, sizeof(a->grants[1].source), "debt");
}

#define ACCOUNT_FULL                                                                                                     \
	"{\"id\":\"acme\",\"kind\":\"workspace\",\"status\":\"suspended\",\"status_reason\":\"manual\","             \
	"\"currency\":\"credits\",\"balance_micros\":-500,\"reserved_micros\":100,\"available_micros\":9400,"        \
	"\"month_spent_micros\":77,\"monthly_limit_micros\":1000000,\"day_spent_micros\":5,\"daily_limit_micros\":0," \
	"\"overdraft_limit_micros\":10000,\"low_balance_micros\":2000,\"plan\":\"pro\",\"period_start\":\"" T0_TEXT  \
	"\",\"period_end\":\"" T1_TEXT "\",\"grants\":[{\"id\":\"grant_3\",\"source\":\"promo\","                    \
	"\"remaining_micros\":250,\"priority\":10,\"expires_at\":\"" T1_TEXT "\"},{\"id\":\"grant_4\","               \
	"\"source\":\"debt\",\"remaining_micros\":-750,\"priority\":100,\"expires_at\":null}],"                       \
	"\"auto_recharge\":{\"threshold_micros\":0,\"amount_cents\":500},\"card_saved\":true,"                       \
	"\"requests_per_minute\":60,\"tokens_per_minute\":0,\"email\":\"ops@acme.example\",\"collection\":{\"period\":\"2024-01\","                 \
	"\"amount_micros\":5000000,\"state\":\"failed\",\"tries\":1,\"next_try_at\":\"" T1_TEXT "\"},"               \
	"\"created_at\":\"" T0_TEXT "\"}"

static void test_accounts(void)
{
	struct ledger_done *d = done_new(LEDGER_DONE_ACCOUNT_CREATE);
	account_plain(&d->u.account.account);
	d->u.account.created = 1;
	renders(d, 201, ACCOUNT_PLAIN, "an account created");
	d->u.account.created = 0;
	renders(d, 200, ACCOUNT_PLAIN, "an account created before, with the same settings");
	d->kind = LEDGER_DONE_ACCOUNT_PATCH;
	account_full(&d->u.account.account);
	renders(d, 200, ACCOUNT_FULL, "an account patched, every field set");
	/* GET's view is the same shape. */
	json_t *view = answer_accounts_view(&d->u.account.account);
	char *text = view != NULL ? json_dumps(view, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	is_str(text, ACCOUNT_FULL, "an account as GET shows it");
	free(text);
	json_decref(view);
	/* A collection of period 0 is none; a pending one has no next try. */
	d->u.account.account.collection.period = 0;
	view = answer_accounts_view(&d->u.account.account);
	ok(view != NULL && json_is_null(json_object_get(view, "collection")), "no collection is null");
	json_decref(view);
	free(d);
}

/* The guard's four, as the ledger answered them before they were typed
 * (a settle's is also the text its hold keeps for a replay). */
static void test_guard(void)
{
	struct ledger_done *d = done_new(LEDGER_DONE_HOLD);
	snprintf(d->u.hold.hold_id, sizeof(d->u.hold.hold_id), "hold_abc");
	d->u.hold.amount_micros = 2100;
	d->u.hold.available_micros = 7900;
	d->u.hold.expires_at = T0;
	d->u.hold.max_output_tokens = 1000;
	renders(d, 200, "{\"hold_id\":\"hold_abc\",\"amount_micros\":2100,\"available_micros\":7900,\"expires_at\":\""
		T0_TEXT "\",\"max_output_tokens\":1000}", "a hold");
	d->u.hold.max_output_tokens = -1;
	renders(d, 200, "{\"hold_id\":\"hold_abc\",\"amount_micros\":2100,\"available_micros\":7900,\"expires_at\":\""
		T0_TEXT "\",\"max_output_tokens\":null}", "an action's hold: no output tokens");
	free(d);
	d = done_new(LEDGER_DONE_SETTLE);
	snprintf(d->u.settle.hold_id, sizeof(d->u.settle.hold_id), "hold_abc");
	snprintf(d->u.settle.account, sizeof(d->u.settle.account), "acme");
	d->u.settle = (struct ledger_settle_done){.charged_micros = 300, .released_micros = 1800, .balance_micros = 9700,
						  .available_micros = 9700, .late = 1};
	snprintf(d->u.settle.hold_id, sizeof(d->u.settle.hold_id), "hold_abc");
	snprintf(d->u.settle.account, sizeof(d->u.settle.account), "acme");
	renders(d, 200, "{\"hold_id\":\"hold_abc\",\"account\":\"acme\",\"charged_micros\":300,\"released_micros\":1800,"
		"\"balance_micros\":9700,\"available_micros\":9700,\"late\":true}", "a settle");
	free(d);
	d = done_new(LEDGER_DONE_RELEASE);
	snprintf(d->u.release.hold_id, sizeof(d->u.release.hold_id), "hold_abc");
	snprintf(d->u.release.account, sizeof(d->u.release.account), "acme");
	snprintf(d->u.release.state, sizeof(d->u.release.state), "released");
	d->u.release.released_micros = 2100;
	d->u.release.balance_micros = 10000;
	d->u.release.available_micros = 10000;
	renders(d, 200, "{\"hold_id\":\"hold_abc\",\"account\":\"acme\",\"state\":\"released\",\"released_micros\":2100,"
		"\"balance_micros\":10000,\"available_micros\":10000}", "a release");
	free(d);
	d = done_new(LEDGER_DONE_USAGE);
	snprintf(d->u.usage.usage_id, sizeof(d->u.usage.usage_id), "usage_9");
	snprintf(d->u.usage.account, sizeof(d->u.usage.account), "acme");
	d->u.usage.charged_micros = 40;
	d->u.usage.balance_micros = 60;
	d->u.usage.available_micros = 50;
	d->u.usage.forced = 1;
	renders(d, 200, "{\"usage_id\":\"usage_9\",\"account\":\"acme\",\"charged_micros\":40,\"balance_micros\":60,"
		"\"available_micros\":50,\"forced\":true,\"replayed\":false}", "a usage");
	d->u.usage.replayed = 1;
	renders(d, 200, "{\"usage_id\":\"usage_9\",\"account\":\"acme\",\"charged_micros\":40,\"balance_micros\":60,"
		"\"available_micros\":50,\"replayed\":true}", "a usage answered again: no forced");
	free(d);
}

int main(void)
{
	test_debit();
	test_entry_is_the_journal_row();
	test_grant();
	test_plan();
	test_promo();
	test_members();
	test_accounts();
	test_guard();
	return done_testing();
}
