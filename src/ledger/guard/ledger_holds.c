/* ledger_holds.c: authorize, settle, release and direct usage, the
 * guard's operations as ledger.h declares them, queued and run in
 * group-commit batches (the usage report they record is
 * ledger_usage_report.c's), from their entry to their answer in one file
 * (docs/architecture.md, "Counting a request's walk").
 *
 * Each operation is queued (ledger_combine.h) on the combiner of its
 * account's database node (a settle's or release's hold routed to its
 * account by the hold's id, ledger_load_hold_route), and its thread runs
 * batches, its own or others', until it is answered: a waiting worker
 * takes up to LIMIT_BATCH_OPS of them and runs them as one transaction
 * on its own connection (holds_run, below).
 *
 * Every row the batch needs is read and locked in one round trip
 * (ledger_batch.h), each operation is decided in memory in arrival order
 * by the guard's rules (ledger_decide.h: docs/api.md's "Checks in order",
 * 404, 403, 429, 402), every row is written back and committed in one
 * more round trip, and each operation gets its own answer. The read
 * writes nothing: an account it finds with an expiry or a plan's credit
 * due ends the attempt, is brought due in a transaction of its own
 * (ledger_due_bring_tx), and the batch reads again (batch_run). A refusal
 * changes nothing, so it never touches the other operations of its
 * batch; a failure of the transaction (deadlock, lock wait, lost
 * connection, certification, a kept row moved, something due, Galera's
 * untold rollback) runs the whole batch again through its one loop
 * (store_tx), at most LIMIT_TX_RETRIES times (_WIDE on Galera), then answers every
 * operation with it; only an error of one operation's own runs that
 * operation apart (guard_apart). Replays are answered from what was
 * stored: a request_id maps to one hold or one usage, a settled hold
 * keeps its settle's hash and answer, an Idempotency-Key its answer.
 * Here too: what a settle or usage records, checked as the API checks it
 * at its edge, and the batches' figures. This file is the glue above the
 * rules: the queue, what to read, the transaction and its retries, the
 * answers; it decides nothing. */
#include "ledger_alerts_batch.h"
#include "ledger_combine.h"
#include "ledger_decide.h"
#include "ledger_config.h"
#include "ledger_events.h"
#include "ledger_rowcache.h"
#include "store_noderoute.h"
#include "log.h"
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- One batch ---- */

/* The typed answer of an operation that was decided (not refused), but
 * a settle's replay (its hold keeps its answer's text). */
static void op_done(const struct batch *b, const struct guard_op *op, struct ledger_guard_done *d)
{
	const struct acct *a = &b->accts[op->acct].a;
	memset(d, 0, sizeof(*d));
	switch (op->kind) {
	case GUARD_AUTHORIZE:
		d->kind = LEDGER_DONE_HOLD;
		if (op->hold >= 0)	/* else a free call counted, no hold made (count_only) */
			ledger_rows_hold_id_format(d->u.hold.hold_id, sizeof(d->u.hold.hold_id), a->id,
						   b->holds[op->hold].h.id);
		d->u.hold.amount_micros = op->amount;
		d->u.hold.available_micros = op->available;
		d->u.hold.expires_at = op->expires_at;
		d->u.hold.max_output_tokens = op->max_output;
		break;
	case GUARD_SETTLE:
		d->kind = LEDGER_DONE_SETTLE;
		d->u.settle = op->settled;	/* made when it was decided */
		break;
	case GUARD_RELEASE:
		d->kind = LEDGER_DONE_RELEASE;
		ledger_rows_hold_id_format(d->u.release.hold_id, sizeof(d->u.release.hold_id), a->id,
					   b->holds[op->hold].h.id);
		ledger_rows_copy_text(d->u.release.account, sizeof(d->u.release.account), a->ext_id);
		ledger_rows_copy_text(d->u.release.state, sizeof(d->u.release.state), op->state);
		d->u.release.released_micros = op->released;
		d->u.release.balance_micros = op->balance;
		d->u.release.available_micros = op->available;
		break;
	case GUARD_USAGE:
		d->kind = LEDGER_DONE_USAGE;
		ledger_ids_format(d->u.usage.usage_id, sizeof(d->u.usage.usage_id), "usage_", b->usages[op->usage].id);
		ledger_rows_copy_text(d->u.usage.account, sizeof(d->u.usage.account), a->ext_id);
		d->u.usage.charged_micros = op->charged;
		d->u.usage.balance_micros = op->balance;
		d->u.usage.available_micros = op->available;
		d->u.usage.forced = op->in.usage->force;
		d->u.usage.replayed = op->replayed;
		break;
	}
	assert(d->kind != LEDGER_DONE_NONE);
}

/* The answer of a decided operation: its text kept with a settled hold
 * (a settle's replay), else typed, rendered too when it goes under its
 * Idempotency-Key. */
static void op_answer(struct batch *b, struct guard_op *op)
{
	json_error_t jerr;
	int status;
	if (op->kind == GUARD_SETTLE && op->replayed) {
		op->out = json_loads(b->holds[op->hold].h.response, 0, &jerr);
		return;
	}
	op_done(b, op, &op->done);
	if (op->call == NULL)
		return;
	ledger_decide_done_put(&b->answer, &op->done);
	if (op->render(&b->answer, &status, &op->out) == CD_OK)
		assert(status == 200);
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
		memset(&op->done, 0, sizeof(op->done));
		op->status = 200;
		op->answer_replayed = 0;
		if (op->stored != NULL) {
			json_error_t jerr;
			op->out = json_loadb(op->stored->response, op->stored->response_len, 0, &jerr);
			ledger_rows_hold_id_public(op->out);
			op->status = op->stored->status;
			op->answer_replayed = 1;
		} else if (op->same_key_as >= 0) {
			const struct guard_op *first = ops[op->same_key_as];
			op->out = first->out != NULL ? json_deep_copy(first->out) : NULL;
			op->status = first->status;
			op->answer_replayed = 1;
		} else if (op->decided != CD_OK) {
			op->out = refusal_json(&op->refusal);
			op->status = errors_status(op->decided);
		} else {
			op_answer(b, op);
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
	const struct ledger_batch_key *k = ledger_batch_key(b, key);
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
		if (ledger_rows_hold_id_parse(hold, &op->account_id, &op->hold_id) != 0) {
			op->account_id = op->hold_id = 0;
			continue;
		}
		w->acct_ids[w->nacct_ids++] = op->account_id;
		w->hold_ids[w->nhold_ids++] = op->hold_id;
	}
}

/* The key a settle's or a usage's journal rows record (docs/decisions.md,
 * "Journal keys"): its Idempotency-Key, else "settle:" its hold's id or
 * "usage:" its request_id (in buf); NULL for the others, which append none. */
static const char *journal_key_of(const struct guard_op *op, char buf[JOURNAL_KEY_BYTES])
{
	const char *id = op->kind == GUARD_SETTLE ? op->in.settle->hold_id
			 : op->kind == GUARD_USAGE ? op->in.usage->request_id : NULL;
	if (op->kind != GUARD_SETTLE && op->kind != GUARD_USAGE)
		return NULL;
	if (op_key(op) != NULL || id == NULL)
		return op_key(op);
	snprintf(buf, JOURNAL_KEY_BYTES, "%s:%s", op->kind == GUARD_SETTLE ? "settle" : "usage", id);
	return buf;
}

/* Operation i of n decided on the rows loaded, and nothing else: what it
 * needs beyond them ends the attempt (ledger_decide_needs). */
static enum cd_err decide_op(struct batch *b, struct guard_op *op, int i, int n)
{
	char key[JOURNAL_KEY_BYTES];
	b->actor = op->actor;
	b->journal_key = journal_key_of(op, key);
	enum cd_err rc = ledger_decide_op(b, op);
	b->journal_key = NULL;
	b->actor = NULL;
	return ledger_decide_needs(b, op, rc, i, n);
}

/* A refusal that is news (the first 402 since credit came in, the first
 * 429 of a period) is written to the outbox with the batch. */
static void op_notice(struct batch *b, struct guard_op *op)
{
	const char *member = op->kind == GUARD_AUTHORIZE ? op->in.authorize->member
			     : op->kind == GUARD_USAGE ? op->in.usage->member : NULL;
	int m = -1;
	if (op->acct < 0)
		return;
	b->accts[op->acct].refused |= op->kind == GUARD_AUTHORIZE;	/* kept as refusing (ledger_rowcache.c) */
	if (member != NULL)
		m = ledger_batch_member(b, op->acct, member);
	ledger_batch_notice_refusal(b, op->acct, m, op->refusal.why, op->refusal.available_micros,
				    op->refusal.required_micros);
}

/* The batch's money, which a refusal must leave as it was: the sums of
 * its accounts' balances and reserves, and its pending journal rows. */
struct batch_sums {
	int64_t balance, reserved;
	int journal;
};

static void batch_sums(const struct batch *b, struct batch_sums *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < b->naccts; i++) {
		s->balance += b->accts[i].a.balance;
		s->reserved += b->accts[i].a.reserved;
	}
	s->journal = b->njournal;
}

/* Decides every operation of the batch in order; CD_OK, or what fails
 * the attempt. *nstore: how many answers go under their keys. */
static enum cd_err decide_all(struct batch *b, struct guard_op **ops, int n, int *nstore)
{
	struct batch_sums before, after;
	enum cd_err rc = CD_OK;
	assert(n >= 1);
	assert(n <= BATCH_MAX);
	*nstore = 0;
	for (int i = 0; rc == CD_OK && i < n; i++) {
		struct guard_op *op = ops[i];
		op->acct = op->hold = op->usage = op->same_key_as = -1;
		op->stored = NULL;
		op->store = op->replayed = 0;
		memset(&op->refusal, 0, sizeof(op->refusal));
		if (key_answered(b, ops, i))
			continue;
		batch_sums(b, &before);
		op->decided = decide_op(b, op, i, n);
		if (op->decided == CD_E_RETRY || op->decided == CD_E_UNAVAILABLE || op->decided == CD_E_INTERNAL)
			rc = op->decided;	/* no answer: the transaction fails */
		else if (op->decided != CD_OK && refusal_err(op->refusal.why) != op->decided) {
			log_error("the ledger refused (%s) without saying why", errors_strerror(op->decided));
			rc = CD_E_INTERNAL;
		}
		if (rc == CD_E_INTERNAL)
			b->failed_op = i;	/* an error of this operation's own */
		batch_sums(b, &after);
		/* A refusal changes nothing: no balance, reserve or journal row. */
		assert(rc != CD_OK || op->decided == CD_OK || after.balance == before.balance);
		assert(rc != CD_OK || op->decided == CD_OK || after.reserved == before.reserved);
		assert(rc != CD_OK || op->decided == CD_OK || after.journal == before.journal);
		op->store = op_key(op) != NULL && (op->decided == CD_OK || refusal_kept(op->refusal.why));
		*nstore += op->store;
		if (rc == CD_OK && op->decided != CD_OK)
			op_notice(b, op);
	}
	assert(*nstore <= n);
	return rc;
}

/* The threshold alerts of the accounts the batch changed, decided on the
 * rows its read loaded; their states and events go with its write
 * (ledger_alerts_batch.h). */
static enum cd_err batch_alerts(struct batch *b)
{
	enum cd_err rc = CD_OK;
	for (int i = 0; rc == CD_OK && i < b->naccts; i++)
		rc = ledger_alerts_batch_notice(b, i);
	return rc;
}

/* An attempt's batch emptied, with what it copies of the transaction's:
 * the attempt's clock, as store_tx_next fixed it for this attempt (the
 * decisions and notices made in memory, and the read's members' month
 * roll, read this copy; the statements, the store's: the same values;
 * docs/architecture.md, "Where money is decided"), its node and serial. */
static void batch_start(struct store *db, struct batch *b)
{
	ledger_batch_reset(b);
	b->clock = (struct ledger_clock){db->now, db->now_month, db->now_day};
	b->galera = db->c->galera;
	b->node = db->node;
	b->conn_ok_ms = db->c->ok_ms;
	b->config = (struct batch_config){ledger_config_of(db->cfg)->low_balance_default_micros,
					   ledger_config_of(db->cfg)->auto_recharge_max_per_day, db->cfg->hold_ttl_seconds};
	b->tx_serial = db->tx_serial;
	b->failed_op = b->failed_acct = -1;
	b->load_more = 0;
}

/* One attempt at the whole batch: CD_OK when every operation is decided
 * and committed; anything else fails the attempt (ledger_tx retries).
 * Two CALLs: ledger_load_batch's read and ledger_batch_write_flush's write, which stores the
 * answers under their keys too. Those answers are made before the write,
 * when a new hold or usage has no id yet: the write puts it in. */
static enum cd_err batch_try(struct store *db, struct batch *b, struct guard_op **ops, int n)
{
	struct batch_want w;
	struct batch_answer keys[BATCH_MAX];
	char *texts[BATCH_MAX];
	int nstore = 0, decided_store;
	assert(n >= 1);
	assert(n <= BATCH_MAX);
	batch_start(db, b);
	assert(!b->grants_wide || n == 1);
	want_of(&w, ops, n);
	w.read_hold_reqs = b->hold_reqs_needed;
	enum cd_err rc = ledger_load_batch(db, b, &w);
	if (rc == CD_OK) {
		ledger_batch_balances_mark(b);	/* as read: from here balances move with journal rows */
		rc = decide_all(b, ops, n, &nstore);
	}
	if (rc != CD_OK)
		return rc;
	/* The notices and alerts are decided on the rows loaded: they take no
	 * store, so no statement runs between them and the write
	 * (docs/architecture.md, "One writer"). */
	ledger_batch_notice_balances(b);
	rc = batch_alerts(b);
	if (rc != CD_OK)
		return rc;
	if (nstore > 0)
		answer_all(b, ops, n);
	decided_store = nstore;
	nstore = 0;
	for (int i = 0; i < n; i++) {
		struct guard_op *op = ops[i];
		if (!op->store)
			continue;
		texts[nstore] = op->out != NULL ? json_dumps(op->out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (texts[nstore] == NULL) {
			b->failed_op = i;
			rc = CD_E_INTERNAL;
			break;
		}
		keys[nstore] = (struct batch_answer){op_key(op), op->call->request_hash, op->status, texts[nstore],
						     op->kind == GUARD_AUTHORIZE && op->decided == CD_OK ? op->hold : -1,
						     op->kind == GUARD_USAGE && op->decided == CD_OK ? op->usage : -1};
		nstore++;
	}
	/* Every answer decide_all said goes under its key is stored. */
	assert(rc != CD_OK || nstore == decided_store);
	if (rc == CD_OK)
		rc = ledger_batch_write_flush(db, b, keys, nstore);
	for (int i = 0; i < nstore; i++)
		free(texts[i]);
	if (rc != CD_OK)
		return rc;
	/* Written: every hold and usage the batch made has its id. */
	for (int i = 0; i < b->nholds; i++)
		assert(b->holds[i].h.id > 0);
	for (int i = 0; i < b->nusages; i++)
		assert(b->usages[i].id > 0);
	answer_all(b, ops, n);
	return rc;
}

/* An attempt, and its rows kept for the next batches when it committed
 * (ledger_rowcache.h), else forgotten. */
static enum cd_err batch_attempt(struct store *db, struct batch *b, struct guard_op **ops, int n)
{
	int kept_off = b->kept_off;
	enum cd_err rc = batch_try(db, b, ops, n);
	/* Kept rows that disagree (ledger_batch_rows_disagree) are rows that
	 * moved: the next attempt reads them under their locks. */
	if (rc == CD_E_RETRY && b->kept_off && !kept_off)
		rc = store_retry(db, RETRY_MOVED);
	if (rc == CD_E_RETRY && b->load_more)
		rc = store_retry(db, RETRY_LOAD);
	ledger_rowcache_end(b, rc);
	return rc;
}

/* The batch as one transaction, run again whole by its one loop
 * (store_tx) for every reason it names (docs/architecture.md, "One retry
 * loop"), on accounts with nothing due: an attempt whose read finds
 * expiries or a plan's credit due ends on them (CD_E_DUE, rolled back,
 * nothing written); the loop brings each due in a transaction of its own
 * and the batch runs again, reading them as those transactions left them
 * (at most LIMIT_TX_DUE_PASSES passes, then the batch fails, logged). */
static enum cd_err batch_run(struct store *db, struct batch *b, struct guard_op **ops, int n)
{
	/* On its accounts' node (they were queued by node). Accounts an
	 * attempt's read found due (b->due): the loop brings each due in a
	 * transaction of its own before the next attempt. */
	struct store_tx t = STORE_TX_ON(ops[0]->route[0] != '\0' ? ops[0]->route : NULL);
	t.due_list = b->due;
	t.due_count = &b->ndue;
	t.due_bring = ledger_due_bring_tx;
	b->hold_reqs_needed = b->kept_off = b->grants_wide = b->member_missed = 0;
	b->failed_op = b->failed_acct = -1;	/* none named before an attempt names one */
	while (store_tx_next(db, &t))
		store_tx_end(db, &t, batch_attempt(db, b, ops, n));
	assert(t.rc != CD_E_DUE);	/* brought due, or failed */
	return t.rc;
}

/* The batch's operations, named for an assertion failure's line (the
 * combining thread runs other requests' operations too). */
static unsigned guard_context(struct guard_op **ops, int n)
{
	static const char *const kinds[] = {"authorize", "settle", "release", "usage"};
	unsigned mark = log_context_push("guard batch of %d", n);
	for (int i = 0; i < n; i++) {
		const struct guard_op *op = ops[i];
		const char *of = op->kind == GUARD_AUTHORIZE ? op->in.authorize->account
				 : op->kind == GUARD_SETTLE ? op->in.settle->hold_id
				 : op->kind == GUARD_RELEASE ? op->in.release->hold_id : op->in.usage->account;
		log_context_push("%s %s", kinds[op->kind], of != NULL ? of : "-");
	}
	return mark;
}

/* An error of one operation's own (logged: named, failed_op) failed the
 * batch, which was rolled back: that one runs alone, so only it fails,
 * and those before and after it run again as batches, in their order.
 * An internal error that names no operation (a due bring that failed, an
 * account's rows out of range, a statement MariaDB refused: each logged)
 * may still be one account's: named -1, and each operation runs alone
 * (the batch was rolled back: an answer that may have committed is
 * 503, not internal, and sets db->committed), so one account's lasting
 * fault fails its own operations and not the others' that shared its
 * batches. */
static void holds_run(struct store *db, struct combine_op **links, int n);

static void guard_apart(struct store *db, struct combine_op **links, struct guard_op **ops, int n, int named)
{
	assert(named >= -1);
	assert(named < n);
	for (int i = 0; i < n; i++) {
		json_decref(ops[i]->out);
		ops[i]->out = NULL;
	}
	if (named < 0) {
		for (int i = 0; i < n; i++)
			holds_run(db, &links[i], 1);
		return;
	}
	if (named > 0)
		holds_run(db, links, named);
	holds_run(db, &links[named], 1);
	if (named + 1 < n)
		holds_run(db, &links[named + 1], n - named - 1);
}

/* The combiner's work: the batch as one transaction, retried whole, on
 * the node of its operations' accounts (they were queued by node), and
 * each operation answered (its op->rc and op->res); an error of one
 * operation's own runs that one apart and the others again as batches.
 * db's route is as it was on return. */
static void holds_run(struct store *db, struct combine_op **links, int n)
{
	struct guard_op *ops[BATCH_MAX];
	enum cd_err rc = CD_E_INTERNAL;
	assert(n >= 1);
	assert(n <= BATCH_MAX);
	for (int i = 0; i < n; i++) {
		ops[i] = (struct guard_op *)links[i];
		ops[i]->out = NULL;
	}
	unsigned serving = guard_context(ops, n);
	struct batch *b = ledger_batch_take();
	int named = -1;
	if (b != NULL) {
		rc = batch_run(db, b, ops, n);
		named = rc == CD_E_INTERNAL ? ledger_decide_failed_op(b, ops, n) : -1;
	}
	ledger_batch_give(b);
	log_context_pop(serving);
	if (rc == CD_E_INTERNAL && n > 1 && !db->committed) {
		guard_apart(db, links, ops, n, named);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct guard_op *op = ops[i];
		struct ledger_result *res = op->res;
		/* Cleared field by field: its done is large, and only its kind
		 * and one member are ever read. */
		res->status = 0;
		res->body = NULL;
		res->replayed = 0;
		memset(&res->refusal, 0, sizeof(res->refusal));
		res->done.kind = LEDGER_DONE_NONE;
		op->rc = rc;
		if (op->rc == CD_OK && op->out == NULL && op->done.kind == LEDGER_DONE_NONE) {
			log_error("a guard answer could not be made");
			op->rc = CD_E_INTERNAL;
		}
		if (op->rc != CD_OK) {
			json_decref(op->out);
			continue;
		}
		/* Typed when it can be; text when it was stored or refused. */
		if (op->done.kind != LEDGER_DONE_NONE && op->answer_replayed == 0 && op->decided == CD_OK) {
			ledger_decide_done_put(&res->done, &op->done);
			json_decref(op->out);
			op->out = NULL;
		}
		res->body = op->out;
		res->status = op->status;
		res->replayed = op->answer_replayed;
		if (op->stored == NULL && op->same_key_as < 0 && op->decided != CD_OK) {
			/* A refusal of its own is answered with its code's status. */
			assert(op->status == errors_status(op->decided));
			assert(op->refusal.why != REFUSE_NONE);
			res->refusal = op->refusal;
		}
	}
}

/* ---- The operations' entry, and their queue ---- */

/* One combiner per database node: a batch's accounts are all served by
 * its node, whose row locks then hold (Galera's do not across nodes). */
static struct combiner guard_queue[LIMIT_DB_NODES];
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void guard_init(void)
{
	for (int i = 0; i < LIMIT_DB_NODES; i++)
		ledger_combine_init(&guard_queue[i], LIMIT_BATCH_COMBINERS, LIMIT_BATCH_OPS);
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
		holds_run(db, links, n);
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
	ledger_load_hold_route(db, r->hold_id, op.route, sizeof(op.route));
	enum cd_err rc = guard_submit(db, &op, call, res);
	assert(rc != CD_OK || res->body != NULL || res->done.kind != LEDGER_DONE_NONE);
	return rc;
}

enum cd_err ledger_release(struct store *db, const struct ledger_call *call, const struct guard_release *r,
			   struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_RELEASE, .in.release = r};
	assert(r->hold_id != NULL);
	ledger_load_hold_route(db, r->hold_id, op.route, sizeof(op.route));
	enum cd_err rc = guard_submit(db, &op, call, res);
	assert(rc != CD_OK || res->body != NULL || res->done.kind != LEDGER_DONE_NONE);
	return rc;
}

enum cd_err ledger_usage(struct store *db, const struct ledger_call *call, const struct guard_usage *r,
			 struct ledger_result *res)
{
	struct guard_op op = {.kind = GUARD_USAGE, .in.usage = r};
	assert(r->cost_micros <= LIMIT_AMOUNT_MICROS_MAX);	/* priced and capped by the caller */
	if (r->request_id == NULL && ledger_batch_own_usage_key(op.usage_key, sizeof(op.usage_key)) != 0)
		return CD_E_INTERNAL;
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
