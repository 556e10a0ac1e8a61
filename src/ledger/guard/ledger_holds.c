/* ledger_holds.c: authorize, settle, release and direct usage, the
 * guard's operations as ledger.h declares them, run in group-commit
 * batches (the usage report they record is ledger_usage_report.c's).
 *
 * Each operation is queued (ledger_combine.h) on the combiner of its
 * account's database node (a settle's or release's hold routed to its
 * account by the hold's id), and its thread runs batches, its own or
 * others', until it is answered: a waiting worker takes up to
 * LIMIT_BATCH_OPS of them and runs them as one transaction on its own
 * connection (ledger_holds_run.c: the read, the decisions, the write,
 * the retries, the answers). Here too: what a settle or usage records,
 * checked as the API checks it at its edge, and the batches' figures.
 * It decides nothing. */
#include "ledger_holds_run.h"
#include "ledger_decide.h"
#include "store_noderoute.h"
#include "log.h"
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* One combiner per database node: a batch's accounts are all served by
 * its node, whose row locks then hold (Galera's do not across nodes). */
static struct combiner guard_queue[LIMIT_DB_NODES];
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void guard_init(void)
{
	for (int i = 0; i < LIMIT_DB_NODES; i++)
		ledger_combine_init(&guard_queue[i], LIMIT_BATCH_COMBINERS, LIMIT_BATCH_OPS);
}

static enum cd_err hold_route_tx(struct store *db, int64_t account_id, char *out, size_t cap)
{
	static const char sql[] = "SELECT ext_id FROM accounts WHERE id = ?";
	int e;
	/* On the node of no account, which waits for other nodes' commits
	 * (causal_reads): an account made a moment ago elsewhere is found. */
	struct dbstmt *s = store_exec(db, sql, &e, "i", account_id);
	if (s == NULL)
		return store_err(db, e, "hold route");
	snprintf(out, cap, "%s", store_fetch(s) == 1 && store_str(s, 0) != NULL ? store_str(s, 0) : "");
	return CD_OK;
}

/* The account of a settle's or release's hold, into op->route ("" when
 * the hold id names none: the batch answers that). A hold's id carries its
 * account's id; its external id is remembered from the batches, else read
 * once on the node of no account. Only with several nodes. */
static void hold_route(struct store *db, struct guard_op *op, const char *hold_id)
{
	struct store_tx t;
	int64_t account_id, hold;
	op->route[0] = '\0';
	if (store_noderoute_count() < 2)
		return;
	store_holdid_ensure(db);
	if (ledger_rows_hold_id_parse(hold_id, &account_id, &hold) != 0 || ledger_idcache_ext_of(account_id, op->route, sizeof(op->route)))
		return;
	for (store_tx_init_on(db, &t, NULL); store_tx_next(db, &t);)
		store_tx_end(db, &t, hold_route_tx(db, account_id, op->route, sizeof(op->route)));
	if (t.rc != CD_OK)
		op->route[0] = '\0';
	else if (op->route[0] != '\0')
		ledger_idcache_remember(op->route, account_id);
}

/* The account an authorize or a usage names, into op->route. Only with
 * several nodes. */
static void account_route(struct guard_op *op, const char *account)
{
	op->route[0] = '\0';
	if (store_noderoute_count() > 1)
		snprintf(op->route, sizeof(op->route), "%s", account);
}

static enum cd_err guard_submit(struct store *db, struct guard_op *op, const struct ledger_call *call,
				struct ledger_result *res)
{
	int node = 0;
	op->call = call != NULL && call->idem_key != NULL ? call : NULL;
	op->render = call != NULL ? call->render : NULL;
	op->actor = db->actor;
	/* An answer stored under a key, and a settle's, are rendered when
	 * decided: by the caller's renderer. */
	assert(op->call == NULL || op->render != NULL);
	assert(op->kind != GUARD_SETTLE || op->render != NULL);
	op->res = res;
	op->rc = CD_E_INTERNAL;
	pthread_once(&guard_once, guard_init);
	/* The operation's entry named its account's node (op->route). */
	if (store_noderoute_count() > 1) {
		node = store_noderoute_pick(op->route[0] != '\0' ? op->route : NULL);
		if (node < 0)
			node = 0;	/* none is up: the batch answers 503 */
	}
	/* Queued; this thread runs batches (its own operation's, or others')
	 * until its operation is done. */
	struct combine_op *links[COMBINE_MAX_BATCH];
	int n;
	ledger_combine_enter(&guard_queue[node], &op->link);
	while ((n = ledger_combine_next(&guard_queue[node], &op->link, links)) > 0) {
		ledger_holds_run(db, links, n);
		ledger_combine_done(&guard_queue[node], links, n);
	}
	return op->rc;
}

enum cd_err ledger_authorize(struct store *db, const struct ledger_call *call, const struct guard_authorize *r,
			     struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_AUTHORIZE, .in.authorize = r};
	assert(r->amount_micros <= LIMIT_AMOUNT_MICROS_MAX);	/* priced and capped by the caller */
	account_route(&op, r->account);
	enum cd_err rc = guard_submit(db, &op, call, res);
	assert(rc != CD_OK || res->body != NULL || res->done.kind != LEDGER_DONE_NONE);	/* an answer whenever CD_OK */
	return rc;
}

/* ---- Settle reasons ---- */

#define REASON_NAME(n) #n,
static const char *const settle_reasons[LEDGER_SETTLE_REASON_COUNT] = {LEDGER_SETTLE_REASONS(REASON_NAME)};
#undef REASON_NAME

const char *ledger_settle_reason(int i)
{
	assert(i >= 0);
	assert(i < LEDGER_SETTLE_REASON_COUNT);
	return settle_reasons[i];
}

int ledger_settle_reason_ok(const char *reason)
{
	if (reason == NULL)
		return 1;
	for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
		if (strcmp(reason, settle_reasons[i]) == 0)
			return 1;
	return 0;
}

/* What a settle or usage records, as the API checks it at its edge; the
 * gateway's calls come here without that edge, and one that fails is
 * its bug: refused before anything is queued. */
static int record_ok(const char *what, int64_t in, int64_t cached, int64_t cache_write, int64_t out,
		     const char *reason)
{
	if (in < 0 || cached < 0 || cache_write < 0 || out < 0 || cached > in || cache_write > in - cached) {
		log_error("%s: token counts that do not add up (input %lld, cached %lld, cache write %lld, output %lld)",
			  what, (long long)in, (long long)cached, (long long)cache_write, (long long)out);
		return 0;
	}
	if (!ledger_settle_reason_ok(reason)) {
		log_error("%s: unknown settle_reason '%.*s'", what, LIMIT_SETTLE_REASON_BYTES, reason);
		return 0;
	}
	return 1;
}

enum cd_err ledger_settle(struct store *db, const struct ledger_call *call, const struct guard_settle *r,
			  struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_SETTLE, .in.settle = r};
	assert(r->hold_id != NULL);
	if (!record_ok("settle", r->input_tokens, r->cached_input_tokens, r->cache_write_input_tokens,
		       r->output_tokens, r->settle_reason))
		return CD_E_INTERNAL;
	hold_route(db, &op, r->hold_id);
	enum cd_err rc = guard_submit(db, &op, call, res);
	assert(rc != CD_OK || res->body != NULL || res->done.kind != LEDGER_DONE_NONE);
	return rc;
}

enum cd_err ledger_release(struct store *db, const struct ledger_call *call, const struct guard_release *r,
			   struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_RELEASE, .in.release = r};
	assert(r->hold_id != NULL);
	hold_route(db, &op, r->hold_id);
	enum cd_err rc = guard_submit(db, &op, call, res);
	assert(rc != CD_OK || res->body != NULL || res->done.kind != LEDGER_DONE_NONE);
	return rc;
}

enum cd_err ledger_usage(struct store *db, const struct ledger_call *call, const struct guard_usage *r,
			 struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_USAGE, .in.usage = r};
	assert(r->cost_micros <= LIMIT_AMOUNT_MICROS_MAX);	/* priced and capped by the caller */
	if (!record_ok("usage", r->input_tokens, r->cached_input_tokens, r->cache_write_input_tokens,
		       r->output_tokens, r->settle_reason))
		return CD_E_INTERNAL;
	account_route(&op, r->account);
	enum cd_err rc = guard_submit(db, &op, call, res);
	assert(rc != CD_OK || res->body != NULL || res->done.kind != LEDGER_DONE_NONE);
	return rc;
}

_Static_assert(LEDGER_BATCH_BUCKETS == COMBINE_BUCKETS, "one histogram");

void ledger_batch_stats(struct ledger_batch_stats *s)
{
	struct ledger_combine_stats c;
	pthread_once(&guard_once, guard_init);
	memset(s, 0, sizeof(*s));
	s->brought_due = ledger_load_due_found();
	for (int q = 0; q < store_noderoute_count(); q++) {
		ledger_combine_stats(&guard_queue[q], &c);
		s->batches += c.batches;
		s->ops += c.ops;
		for (int i = 0; i < LEDGER_BATCH_BUCKETS; i++) {
			s->count[i] += c.buckets[i];
			s->le[i] = c.bucket_le[i];
		}
	}
}
