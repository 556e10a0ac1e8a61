/* ledger_batch.c: a batch's rows in memory (see ledger_batch.h; the read
 * CALL is ledger_load.c's, the write CALL ledger_batch_write.c's).
 *
 * Changes are kept as the rows they make: journal rows and usage rows as
 * JSON rows of the write CALL, appended in the order the operations made
 * them; holds, grants, members and accounts as the batch's own rows,
 * marked changed. ledger_batch_write_flush (ledger_batch_write.c) writes them
 * all in one CALL of
 * cd_guard_write (sql/037: cd_batch_write of sql/020 and 034, with the
 * versions of rows kept checked first and returned after), which
 * inserts the new holds and reads their ids back by request_id (unique
 * per account: no reliance on how AUTO_INCREMENT hands out ids), inserts
 * the usages, updates the settled and released holds and the burnt
 * grants, inserts the journal rows in order, updates members and
 * accounts, writes the outbox and the answers under Idempotency-Keys,
 * and commits. */
#include "ledger_batch.h"
#include "keys.h"
#include "ledger_events.h"
#include "ledger_config.h"
#include "money_rule.h"
#include "jsonw.h"
#include "log.h"
#include "money.h"
#include <assert.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- The batch ---- */

/* Batches kept for the next combiner: at most LIMIT_BATCH_COMBINERS run at
 * once on each node's queue, so that many are ever made, whichever of the
 * worker threads happens to combine (a batch per thread would grow the
 * process by a batch each time a thread combines for the first time). */
#define BATCH_POOL (LIMIT_DB_NODES * LIMIT_BATCH_COMBINERS)
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct batch *pool[BATCH_POOL];
static int npool;

static struct batch *batch_new(void);
static int grants_resize(struct batch *b, int cap);

struct batch *ledger_batch_take(void)
{
	struct batch *b = NULL;
	pthread_mutex_lock(&pool_lock);
	if (npool > 0)
		b = pool[--npool];
	pthread_mutex_unlock(&pool_lock);
	return b != NULL ? b : batch_new();
}

/* A pooled batch keeps buffers of a usual batch's size; one a big batch
 * grew is given back to malloc, not kept for every later batch. */
static void batch_trim(struct batch *b)
{
	struct dynbuf *bufs[] = {&b->journal_rows, &b->settle_usage, &b->usage_rows, &b->doc};
	for (unsigned int i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		if (bufs[i]->cap > LIMIT_BATCH_KEEP_BYTES)
			dynbuf_free(bufs[i]);
	if (b->sets.data.cap > LIMIT_BATCH_KEEP_BYTES || b->sets.capcells * sizeof(b->sets.cells[0]) > LIMIT_BATCH_KEEP_BYTES) {
		store_sets_free(&b->sets);
		store_sets_init(&b->sets);
	}
	if (b->grants_cap > BATCH_GRANTS)
		(void)grants_resize(b, BATCH_GRANTS);	/* a shrink: kept as it is if it fails */
}

void ledger_batch_give(struct batch *b)
{
	if (b == NULL)
		return;
	ledger_batch_reset(b);
	batch_trim(b);
	pthread_mutex_lock(&pool_lock);
	if (npool < BATCH_POOL) {
		pool[npool++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	ledger_batch_free(b);
}

/* The grant rows and the burn's scratch at room for cap rows (which holds
 * b->ngrants): 0, or -1 (out of memory). Each array holds grants_cap rows
 * at least, whichever realloc failed: a shrink lowers it first, a growth
 * raises it once all three grew. */
static int grants_resize(struct batch *b, int cap)
{
	assert(cap >= b->ngrants && cap <= BATCH_GRANTS_MAX);
	if (cap < b->grants_cap)
		b->grants_cap = cap;
	struct batch_grant *g = realloc(b->grants, sizeof(*g) * (size_t)cap);
	if (g != NULL)
		b->grants = g;
	struct spend_grant *burn = realloc(b->burn, sizeof(*burn) * (size_t)cap);
	if (burn != NULL)
		b->burn = burn;
	int *at = realloc(b->burn_at, sizeof(*at) * (size_t)cap);
	if (at != NULL)
		b->burn_at = at;
	if (g == NULL || burn == NULL || at == NULL)
		return -1;
	b->grants_cap = cap;
	return 0;
}

int ledger_batch_grant_room(struct batch *b)
{
	if (b->ngrants < b->grants_cap)
		return 0;
	if (b->grants_cap == BATCH_GRANTS_MAX)
		return -1;
	int cap = b->grants_cap > BATCH_GRANTS_MAX / 2 ? BATCH_GRANTS_MAX : 2 * b->grants_cap;
	return grants_resize(b, cap);
}

static struct batch *batch_new(void)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	if (grants_resize(b, BATCH_GRANTS) != 0) {
		ledger_batch_free(b);
		return NULL;
	}
	dynbuf_init(&b->journal_rows, LIMIT_BATCH_JSON_BYTES);
	dynbuf_init(&b->settle_usage, LIMIT_BATCH_JSON_BYTES);
	dynbuf_init(&b->usage_rows, LIMIT_BATCH_JSON_BYTES);
	dynbuf_init(&b->doc, LIMIT_BATCH_JSON_BYTES);
	store_sets_init(&b->sets);
	return b;
}

void ledger_batch_events_clear(struct batch *b)
{
	for (int i = 0; i < b->nevents; i++)
		json_decref(b->events[i].data);
	b->nevents = 0;
}

static void event_push(struct batch *b, int acct, const char *type, json_t *data)
{
	if (b->nevents == (int)(sizeof(b->events) / sizeof(b->events[0])) || data == NULL) {
		json_decref(data);
		b->failed = 1;	/* never commit a change without its event */
		return;
	}
	b->events[b->nevents++] = (struct batch_event){acct, type, data};
	b->accts[acct].changed = 1;
}

void ledger_batch_notice_refusal(struct batch *b, int acct, int member, enum refusal_why why, int64_t available,
				 int64_t required)
{
	json_t *data;
	assert(acct >= 0);
	assert(acct < b->naccts);
	assert(member < b->nmembers);
	struct member_row *m = member >= 0 ? &b->members[member].m : NULL;
	const char *type =
		ledger_events_notice_refusal(&b->clock, &b->accts[acct].a, m, why, available, required, &data);
	if (type == NULL)
		return;
	if (m != NULL && why == REFUSE_MEMBER_CAP)
		b->members[member].changed = 1;
	event_push(b, acct, type, data);
}

/* Auto-recharge (docs/api.md, "Auto-recharge"): 1 when a charge (the
 * guard's batches, the only ones to queue one: holds and charges) left
 * available below the account's threshold, a card is saved, no recharge
 * is in flight and fewer than [stripe] auto_recharge_max_per_day ran this
 * UTC day: the recharge is then counted and marked in flight on a, and
 * its row is written with the batch. A failure or a credit queues none by
 * itself: the next charge does. The day is the batch's clock's, the
 * day's most its config's. */
static int notice_recharge(const struct batch *b, struct acct *a)
{
	const int in_flight = a->recharge_pending;
	struct recharge_case c = {.threshold = a->recharge_threshold, .amount_cents = a->recharge_amount_cents,
				  .has_card = a->recharge_card, .pending = a->recharge_pending,
				  .disputed = strcmp(a->status_reason, "dispute") == 0,
				  .available = ledger_rows_acct_available(a), .day_key = a->recharge_day_key,
				  .day_count = a->recharge_day_count, .today = b->clock.day,
				  .max_per_day = b->config.recharges_per_day};
	int queue = money_rule_recharge(&c, &a->recharge_day_key, &a->recharge_day_count);
	if (queue)
		a->recharge_pending = 1;
	/* One recharge in flight at a time, marked when queued. */
	assert(!queue || !in_flight);
	assert(!queue || a->recharge_pending);
	return queue;
}

void ledger_batch_notice_balances(struct batch *b)
{
	for (int i = 0; i < b->naccts; i++) {
		if (!b->accts[i].changed)
			continue;
		json_t *data = ledger_events_notice_balance(b->config.low_balance_default, &b->accts[i].a);
		if (data != NULL)
			event_push(b, i, EVENT_BALANCE_LOW, data);
		if (notice_recharge(b, &b->accts[i].a))
			b->accts[i].recharge = 1;
		/* A recharge queued is one in flight on its account's row. */
		assert(!b->accts[i].recharge || b->accts[i].a.recharge_pending);
	}
	assert(b->naccts <= BATCH_MAX);
}

static void keys_clear(struct batch *b)
{
	for (int i = 0; i < b->nkeys; i++)
		free(b->keys[i].response);
	b->nkeys = 0;
}

/* Nothing loaded of the accounts' alerts, nothing pending. */
static void alerts_reset(struct batch_alerts *ba)
{
	if (ba == NULL)
		return;
	for (int i = 0; i < ba->npending; i++)
		json_decref(ba->pending[i].data);
	ba->npending = ba->nalerts = ba->nstates = ba->ngrants = 0;
	memset(ba->read, 0, sizeof(ba->read));
}

void ledger_batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	keys_clear(b);
	ledger_batch_events_clear(b);
	dynbuf_free(&b->journal_rows);
	dynbuf_free(&b->settle_usage);
	dynbuf_free(&b->usage_rows);
	dynbuf_free(&b->doc);
	store_sets_free(&b->sets);
	alerts_reset(b->alerts);
	free(b->alerts);
	free(b->grants);
	free(b->burn);
	free(b->burn_at);
	free(b);
}

void ledger_batch_reset(struct batch *b)
{
	b->naccts = b->nholds = b->nmembers = b->nusages = b->ngrants = b->nrefunds = 0;
	keys_clear(b);
	ledger_batch_events_clear(b);
	dynbuf_reset(&b->journal_rows);
	dynbuf_reset(&b->settle_usage);
	dynbuf_reset(&b->usage_rows);
	b->njournal = b->nsettle_usage = b->nnew_usage = 0;
	b->ndue = 0;
	b->failed = 0;
	alerts_reset(b->alerts);
	assert(b->nevents == 0);
	assert(b->nkeys == 0);
}

enum cd_err ledger_batch_rows_disagree(struct batch *b, int acct, const char *what)
{
	assert(acct >= 0);
	assert(acct < b->naccts);
	if (b->kept) {
		/* Kept rows are a guess: read them under their locks. */
		b->kept_off = 1;
		return CD_E_RETRY;
	}
	log_error("account %" PRId64 ": %s in rows read under their locks; creditctl verify tells more", b->accts[acct].a.id,
		  what);
	b->failed_acct = acct;	/* its operations' error, not the others' */
	return CD_E_INTERNAL;
}

void ledger_batch_balances_mark(struct batch *b)
{
	assert(b->naccts >= 0);
	assert(b->naccts <= BATCH_MAX);
	for (int i = 0; i < b->naccts; i++) {
		b->accts[i].balance_marked = b->accts[i].a.balance;
		b->accts[i].journal_micros = 0;
	}
}

int ledger_batch_acct_by_ext(const struct batch *b, const char *ext)
{
	assert(ext != NULL);
	assert(b->naccts <= BATCH_MAX);
	for (int i = 0; i < b->naccts; i++)
		if (strcmp(b->accts[i].a.ext_id, ext) == 0)
			return i;
	return -1;
}

int ledger_batch_acct_by_id(const struct batch *b, int64_t id)
{
	assert(b->naccts <= BATCH_MAX);
	for (int i = 0; i < b->naccts; i++)
		if (b->accts[i].a.id == id)
			return i;
	return -1;
}

int ledger_batch_hold_by_id(const struct batch *b, int64_t id)
{
	assert(b->nholds <= 2 * BATCH_MAX);
	for (int i = 0; i < b->nholds; i++)
		if (!b->holds[i].is_new && b->holds[i].h.id == id)
			return i;
	return -1;
}

int ledger_batch_hold_by_request(const struct batch *b, int acct, const char *request_id)
{
	assert(request_id != NULL);
	assert(b->nholds <= 2 * BATCH_MAX);
	for (int i = 0; i < b->nholds; i++)
		if (b->holds[i].acct == acct && strcmp(b->holds[i].h.request_id, request_id) == 0)
			return i;
	return -1;
}

int ledger_batch_member(const struct batch *b, int acct, const char *member)
{
	assert(b->nmembers <= 2 * BATCH_MAX);
	for (int i = 0; member != NULL && i < b->nmembers; i++)
		if (b->members[i].acct == acct && strcmp(b->members[i].m.member, member) == 0)
			return i;
	return -1;
}

int ledger_batch_usage_by_key(const struct batch *b, int acct, const char *key)
{
	assert(b->nusages <= 2 * BATCH_MAX);
	for (int i = 0; key != NULL && i < b->nusages; i++)
		if (b->usages[i].acct == acct && b->usages[i].has_key && strcmp(b->usages[i].key, key) == 0)
			return i;
	return -1;
}

const struct ledger_batch_key *ledger_batch_key(const struct batch *b, const char *key)
{
	assert(b->nkeys <= BATCH_MAX);
	for (int i = 0; key != NULL && i < b->nkeys; i++)
		if (strcmp(b->keys[i].key, key) == 0)
			return &b->keys[i];
	return NULL;
}

/* ---- Changing ---- */

int ledger_batch_hold_add(struct batch *b, int acct, const struct hold_row *h)
{
	assert(acct >= 0);
	assert(acct < b->naccts);
	assert(h->amount >= 0);
	if (b->nholds == 2 * BATCH_MAX)
		return -1;
	struct batch_hold *n = &b->holds[b->nholds];
	memset(n, 0, sizeof(*n));
	n->h = *h;
	n->h.id = 0;
	n->acct = acct;
	n->is_new = 1;
	return b->nholds++;
}


/* One usage_records row of the write CALL (ledger_columns.h's USAGES_TABLE). */
static void usage_row(struct dynbuf *to, int64_t account, const char *key, const struct usage_fields *u,
		      const unsigned char *hash)
{
	struct jw j, *w = &j;
	jsonw_init(w, to);
	w->items[0] = to->len > 0;	/* a comma after the rows before */
	jsonw_open(w, '[');
	USAGES_TABLE(COL_WRITE, account, key, u, hash)
	jsonw_close(w, ']');
}

int ledger_batch_usage_add(struct batch *b, int acct, const struct usage_fields *u, const char *key,
			   const unsigned char *hash)
{
	assert(acct >= 0);
	assert(acct < b->naccts);
	assert(u->cost >= 0);
	if (b->nusages == 2 * BATCH_MAX)
		return -1;
	int i = b->nusages++;
	struct batch_usage *bu = &b->usages[i];
	memset(bu, 0, sizeof(*bu));
	bu->acct = acct;
	bu->cost = u->cost;
	bu->has_key = u->request_id != NULL;
	ledger_rows_copy_text(bu->key, sizeof(bu->key), u->request_id);
	bu->has_hash = hash != NULL;
	if (hash != NULL)
		memcpy(bu->hash, hash, 32);
	bu->is_new = 1;
	/* Written in the order made, each with its id read back. */
	b->new_usage[b->nnew_usage++] = i;
	assert(u->request_id == NULL || (key != NULL && strcmp(key, u->request_id) == 0));
	usage_row(&b->usage_rows, b->accts[acct].a.id, key, u, hash);
	return i;
}

int ledger_batch_own_usage_key(char *out, size_t cap)
{
	char hex[33];
	assert(cap == LEDGER_OWN_USAGE_KEY_BYTES);
	if (keys_random_id_hex(hex, 16) != 0)
		return -1;
	return snprintf(out, cap, "%s%s", LEDGER_OWN_USAGE_PREFIX, hex) == (int)cap - 1 ? 0 : -1;
}

void ledger_batch_settle_usage(struct batch *b, int acct, const struct usage_fields *u)
{
	assert(acct >= 0);
	assert(acct < b->naccts);
	assert(u->cost >= 0);
	b->nsettle_usage++;
	usage_row(&b->settle_usage, b->accts[acct].a.id, NULL, u, NULL);
}

/* Burns from the account's grants as read (a copy in spending order). */
static int64_t burn(struct batch *b, int acct, int64_t amount, int debt)
{
	struct spend_grant *g = b->burn;
	int *at = b->burn_at, n = 0;
	int64_t before = 0, after = 0;
	for (int i = 0; i < b->ngrants; i++) {
		if (b->grants[i].acct == acct) {
			at[n] = i;
			before += b->grants[i].g.remaining;
			g[n++] = b->grants[i].g;
		}
	}
	int64_t left = debt ? (money_rule_spend_debt(g, n, amount) ? 0 : amount) : money_rule_spend_burn(g, n, amount);
	for (int i = 0; i < n; i++) {
		b->grants[at[i]].g = g[i];
		after += g[i].remaining;
	}
	/* What left the grants is what was asked less what they could not cover. */
	assert(left >= 0);
	assert(left <= amount);
	assert(before - after == amount - left);
	return left;
}

/* The journal row of a spend (ledger_columns.h's JOURNAL_TABLE, the
 * columns the batch carries). */
static void journal_row(struct batch *b, int64_t account, int64_t amount, int64_t after,
			const char *cause, const char *source, int64_t hold_id, const char *reference)
{
	struct journal_line line = {.amount = -amount, .cause = cause, .source = source, .hold_id = hold_id,
				    .reference = reference};
	struct jw j, *w = &j;
	jsonw_init(w, &b->journal_rows);
	w->items[0] = b->njournal++ > 0;
	jsonw_open(w, '[');
	JOURNAL_TABLE(COL_WRITE, account, &line, after, b->journal_key, b->actor)
	jsonw_close(w, ']');
}

int ledger_batch_spend_check(const struct batch *b, int acct, int64_t amount)
{
	const struct batch_acct *ba = &b->accts[acct];
	int64_t after;
	assert(amount > 0);
	assert(acct >= 0);
	assert(acct < b->naccts);
	if (!ba->spends || money_sub(ba->a.balance, amount, &after) != 0) {	/* operations check the range first */
		log_error("batch spend on an account whose grants were not read, or beyond the range");
		return -1;
	}
	return 0;
}

/* What the grants cannot cover onto the account's debt row (a new one
 * when it has none among those read). */
enum cd_err ledger_batch_debt(struct batch *b, int acct, int64_t left)
{
	assert(left > 0);
	assert(acct >= 0);
	assert(acct < b->naccts);
	if (burn(b, acct, left, 1) == 0)
		return CD_OK;
	if (ledger_batch_grant_room(b) != 0)
		return CD_E_INTERNAL;
	struct batch_grant *g = &b->grants[b->ngrants++];
	memset(g, 0, sizeof(*g));
	g->acct = acct;
	g->g.remaining = -left;
	g->g.debt = 1;
	g->is_new = 1;
	return CD_OK;
}

/* The account's debt row among its grants read (-1: none), and what it
 * owes: only while the balance is below 0, as ledger_rows_debt_read. */
static int debt_of(const struct batch *b, int acct, int64_t *owed)
{
	*owed = 0;
	for (int i = 0; i < b->ngrants; i++) {
		const struct batch_grant *g = &b->grants[i];
		if (g->acct == acct && g->g.debt && g->g.remaining < 0 && b->accts[acct].a.balance < 0) {
			*owed = -g->g.remaining;
			return i;
		}
	}
	return -1;
}

/* The refund grant's journal row (cause grant, its grant the k-th new). */
static void refund_row(struct batch *b, const struct acct *a, const struct batch_refund *r, int k, int64_t after)
{
	struct journal_line line = {.amount = r->amount, .cause = "grant", .source = "refund",
				    .grant_id = -1 - k, .reference = r->reference,
				    .description = "late settle below captured hold"};
	struct jw j, *w = &j;
	jsonw_init(w, &b->journal_rows);
	w->items[0] = b->njournal++ > 0;
	jsonw_open(w, '[');
	JOURNAL_TABLE(COL_WRITE, a->id, &line, after, b->journal_key, b->actor)
	jsonw_close(w, ']');
}

enum cd_err ledger_batch_load_more(struct batch *b)
{
	b->load_more = 1;
	/* Named load by the attempt (ledger_holds.c batch_attempt). */
	return CD_E_RETRY;
}

/* Whether account acct's refund can be made on the batch's rows: it owes
 * nothing (balance 0 or more), or its debt row is among them, read or new
 * in the write. */
static int refund_ready(const struct batch *b, int acct)
{
	int64_t owed;
	assert(acct >= 0);
	assert(acct < b->naccts);
	int debt = debt_of(b, acct, &owed);
	if (b->accts[acct].a.balance >= 0)
		return 1;
	/* A debt row read (its id known) or made by this write. */
	return debt >= 0 && (b->grants[debt].g.id > 0 || b->grants[debt].is_new);
}

enum cd_err ledger_batch_refund(struct batch *b, int acct, int64_t amount, const char *reference)
{
	struct batch_acct *ba = &b->accts[acct];
	struct grant_effect e;
	int64_t owed;
	assert(amount > 0);
	assert(acct >= 0);
	assert(acct < b->naccts);
	const int64_t before = ba->a.balance, journal_before = ba->journal_micros;
	int debt = debt_of(b, acct, &owed);
	if (!ba->spends || !refund_ready(b, acct) || ledger_batch_grant_room(b) != 0 || b->nrefunds == BATCH_MAX ||
	    money_rule_grant(ba->a.balance, owed, amount, &e) != 0) {
		log_error("account %" PRId64 ": a late settle's refund of %" PRId64 " on grants not read, or beyond the range",
			  ba->a.id, amount);
		return CD_E_INTERNAL;
	}
	if (debt >= 0 && e.repay > 0) {
		b->grants[debt].g.remaining += e.repay;
		b->grants[debt].g.changed = 1;
	}
	struct batch_refund *r = &b->refunds[b->nrefunds];
	struct batch_grant *g = &b->grants[b->ngrants++];
	memset(g, 0, sizeof(*g));
	g->acct = acct;
	g->g.remaining = e.remaining;
	g->is_new = 1;
	r->grant = (int)(g - b->grants);
	r->amount = amount;
	snprintf(r->reference, sizeof(r->reference), "%s", reference);
	refund_row(b, &ba->a, r, b->nrefunds++, e.balance_after);
	ba->a.balance = e.balance_after;
	ba->a.depleted_noted = 0;	/* credit came in: the next 402 is news again */
	ba->journal_micros += amount;
	ba->changed = 1;
	ba->grants_stale = 1;
	/* Invariant 1: the balance moved by the grant's journal row, the debt
	 * repaid and the grant's remaining making up the amount. */
	assert(ba->a.balance == before + amount);
	assert(ba->journal_micros == journal_before + amount);
	assert(e.repay + e.remaining == amount);
	return CD_OK;
}

enum cd_err ledger_batch_spend(struct batch *b, int acct, int64_t amount, const char *cause,
			       const char *source, int64_t hold_id, const char *reference, int64_t *more)
{
	struct batch_acct *ba = &b->accts[acct];
	struct acct *a = &ba->a;
	int64_t after, left = amount;
	const int64_t before = a->balance, journal_before = ba->journal_micros;
	*more = 0;
	if (ledger_batch_spend_check(b, acct, amount) != 0 || money_sub(a->balance, amount, &after) != 0)
		return CD_E_INTERNAL;
	/* Grants a refund of this batch changed (a grant not written yet)
	 * burn nothing here: the charge is left whole for the caller, whose
	 * operation runs apart (ledger_holds.c, more_grants). */
	if (!ba->grants_stale)
		left = burn(b, acct, amount, 0);
	if (left > 0 && (ba->grants_stale || ba->grants_more)) {
		*more = left;
	} else if (left > 0) {
		enum cd_err rc = ledger_batch_debt(b, acct, left);
		if (rc != CD_OK)
			return rc;
	}
	journal_row(b, a->id, amount, after, cause, source, hold_id, reference);
	ba->journal_micros -= amount;
	a->balance = after;
	ba->changed = 1;
	/* What is left for the caller is at most the charge. */
	assert(*more >= 0);
	assert(*more <= amount);
	/* Invariant 1: the balance moved by its journal row's amount. */
	assert(a->balance == before - amount);
	assert(ba->journal_micros == journal_before - amount);
	return CD_OK;
}
