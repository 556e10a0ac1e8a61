/* ledger_rowcache.c: the guard's rows kept in memory (see
 * ledger_rowcache.h).
 *
 * Per database node: LIMIT_ROWCACHE_ACCOUNTS account slots taken by the
 * account's id, an index of external ids onto them, and
 * LIMIT_ROWCACHE_HOLDS hold slots taken by the hold's id. A kept hold
 * belongs to its account's epoch. A batch that began at the version kept
 * (it decided on the kept rows, whose write proved nothing else moved
 * them, or it read the account at that version under its lock) carries
 * the epoch on: only its own operations moved the account since (a
 * batch's read writes nothing; an expiry is brought due before it, in a
 * transaction of its own that moves the version). Any other batch starts
 * a new epoch, which lets go every hold kept before it, since nothing
 * says they are still pending. A kept account is never due
 * (ledger_due_writes): one that falls due is read, not filled. */
#include "ledger_rowcache.h"
#include "timefmt.h"
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACCT_MASK (LIMIT_ROWCACHE_ACCOUNTS - 1)
#define HOLD_MASK (LIMIT_ROWCACHE_HOLDS - 1)
/* A pending hold has no settle answer yet: kept without it (the answer
 * is the hold row's last field). */
#define HOLD_KEPT_BYTES offsetof(struct hold_row, response)
_Static_assert(sizeof(struct hold_row) - (offsetof(struct hold_row, response) + sizeof(((struct hold_row *)0)->response)) <
		       sizeof(int64_t),
	       "the settle answer is the hold row's last field (only padding after it)");

struct kept_acct {
	const struct batch *owner;	/* the batch deciding on it now; NULL: none */
	int64_t id;			/* 0: an empty slot */
	uint64_t epoch;
	struct acct a;			/* a.row_version: as the last write left it */
	int ngrants;			/* -1: its grants are not kept */
	int refusing;			/* the last batch that kept it refused an authorize on it */
	struct spend_grant g[LIMIT_ROWCACHE_GRANTS + 1];	/* and its debt row */
};
struct kept_hold {
	int64_t id, account_id;
	uint64_t epoch;
	unsigned char row[HOLD_KEPT_BYTES];
};
struct node_table {
	struct kept_acct *accts;
	int32_t *by_ext;		/* an external id's slot + 1; 0: none */
	struct kept_hold *holds;
};

static struct node_table tables[LIMIT_DB_NODES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t released = PTHREAD_COND_INITIALIZER;	/* claims let go */
static uint64_t epochs;
static struct ledger_kept_stats counts;

int ledger_rowcache_on(const struct batch *b)
{
	return b->node >= 0 && b->node < LIMIT_DB_NODES && !b->galera;
}

static size_t id_slot(int64_t id, size_t mask)
{
	return (size_t)(((uint64_t)id * 11400714819323198485ULL) >> 32) & mask;
}

static size_t ext_slot(const char *ext)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)ext; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h >> 20) & ACCT_MASK;
}

/* The node's table, made at its first use; NULL when memory runs out. */
static struct node_table *table_of(int node)
{
	struct node_table *t = &tables[node];
	if (t->accts == NULL) {
		t->accts = calloc(LIMIT_ROWCACHE_ACCOUNTS, sizeof(*t->accts));
		t->by_ext = calloc(LIMIT_ROWCACHE_ACCOUNTS, sizeof(*t->by_ext));
		t->holds = calloc(LIMIT_ROWCACHE_HOLDS, sizeof(*t->holds));
		if (t->accts == NULL || t->by_ext == NULL || t->holds == NULL) {
			free(t->accts);
			free(t->by_ext);
			free(t->holds);
			t->accts = NULL;
			t->by_ext = NULL;
			t->holds = NULL;
		}
	}
	return t->accts != NULL ? t : NULL;
}

static struct kept_acct *find_id(struct node_table *t, int64_t id)
{
	struct kept_acct *e = &t->accts[id_slot(id, ACCT_MASK)];
	return e->id == id && id != 0 ? e : NULL;
}

static struct kept_acct *find_ext(struct node_table *t, const char *ext)
{
	int32_t s = t->by_ext[ext_slot(ext)];
	if (s <= 0)
		return NULL;
	struct kept_acct *e = &t->accts[s - 1];
	return e->id != 0 && strcmp(e->a.ext_id, ext) == 0 ? e : NULL;
}

/* Kept, and with nothing due that only a read can apply. */
static int usable(const struct ledger_clock *clock, const struct kept_acct *e)
{
	return e != NULL && !ledger_due_writes(clock, &e->a);
}

/* Adds e to the list of distinct accounts; its place in it. */
static int add_once(struct kept_acct **list, int *n, struct kept_acct *e)
{
	for (int i = 0; i < *n; i++)
		if (list[i] == e)
			return i;
	list[*n] = e;
	return (*n)++;
}

enum gathered { GATHER_MISS, GATHER_OK, GATHER_CLAIMED };
_Static_assert(BATCH_MAX * (LIMIT_ROWCACHE_GRANTS + 1) <= BATCH_GRANTS, "kept grants fit a batch's first room");

/* Whether an authorize of w with a request_id names account ext. */
static int asks_reqs(const struct batch_want *w, int ext)
{
	for (int i = 0; i < w->nhold_reqs; i++)
		if (w->hold_reqs[i].ext == ext)
			return 1;
	return 0;
}

/* The accounts, holds and grants w needs: all kept and free (OK, with
 * them in list and spends, which of them may spend), all kept but some
 * claimed by another batch (CLAIMED), or not all kept (MISS). *refusing:
 * an authorize's account is kept as refusing (the last batch that kept it
 * refused an authorize on it, or its last 402 for funds is noted,
 * depleted_noted): its refusal must know whether its request_id is held,
 * which the rows kept do not say, so the load reads the request_ids
 * (else the decision would end the attempt to read them). */
static enum gathered gather(const struct ledger_clock *clock, struct node_table *t, const struct batch_want *w,
			    struct kept_acct **list, int *n, int *spends, int *refusing)
{
	*n = 0;
	*refusing = 0;
	for (int i = 0; i < w->nacct_ext; i++) {
		struct kept_acct *e = find_ext(t, w->acct_ext[i]);
		if (!usable(clock, e))
			return GATHER_MISS;
		*refusing |= (e->refusing || e->a.depleted_noted) && asks_reqs(w, i);
		spends[add_once(list, n, e)] = 0;
	}
	for (int i = 0; i < w->nacct_ids; i++) {
		struct kept_acct *e = find_id(t, w->acct_ids[i]);
		if (!usable(clock, e))
			return GATHER_MISS;
		spends[add_once(list, n, e)] = 1;	/* a settle may charge */
		const struct kept_hold *kh = &t->holds[id_slot(w->hold_ids[i], HOLD_MASK)];
		if (kh->id != w->hold_ids[i] || kh->account_id != e->id || kh->epoch != e->epoch)
			return GATHER_MISS;
	}
	for (int i = 0; i < w->nspend_ext; i++)
		spends[add_once(list, n, find_ext(t, w->acct_ext[w->spend_ext[i]]))] = 1;
	int claimed = 0;
	for (int i = 0; i < *n; i++) {
		if (spends[i] && list[i]->ngrants < 0)
			return GATHER_MISS;
		claimed |= list[i]->owner != NULL;
	}
	return claimed ? GATHER_CLAIMED : GATHER_OK;
}

static int acct_index(const struct batch *b, int64_t id)
{
	for (int i = 0; i < b->naccts; i++)
		if (b->accts[i].a.id == id)
			return i;
	return -1;
}

static int hold_index(const struct batch *b, int64_t id)
{
	for (int i = 0; i < b->nholds; i++)
		if (b->holds[i].h.id == id)
			return i;
	return -1;
}

static void fill_from(struct batch *b, struct node_table *t, const struct batch_want *w, struct kept_acct **list,
		      int n, const int *spends)
{
	for (int i = 0; i < n; i++) {
		struct batch_acct *ba = &b->accts[b->naccts++];
		memset(ba, 0, sizeof(*ba));
		ba->a = list[i]->a;
		ba->a.locked_tx = 0;	/* a guess: the write checks its version */
		ba->start_version = ba->a.row_version;
		/* Room: BATCH_MAX accounts of LIMIT_ROWCACHE_GRANTS and a debt row. */
		for (int k = 0; spends[i] && k < list[i]->ngrants; k++) {
			struct batch_grant *g = &b->grants[b->ngrants++];
			memset(g, 0, sizeof(*g));
			g->acct = i;
			g->g = list[i]->g[k];
			ba->grants_read += !g->g.debt;
		}
		list[i]->owner = b;
	}
	for (int i = 0; i < w->nhold_ids; i++) {
		if (hold_index(b, w->hold_ids[i]) >= 0)
			continue;
		struct batch_hold *bh = &b->holds[b->nholds++];
		memset(bh, 0, sizeof(*bh));
		memcpy(&bh->h, t->holds[id_slot(w->hold_ids[i], HOLD_MASK)].row, HOLD_KEPT_BYTES);
		bh->acct = acct_index(b, w->acct_ids[i]);
		assert(bh->acct >= 0);
	}
}

int ledger_rowcache_fill(struct batch *b, struct batch_want *w)
{
	struct kept_acct *list[BATCH_MAX];
	int spends[BATCH_MAX], n = 0, ok = 0, refusing = 0;
	assert(b->naccts == 0 && b->nholds == 0 && b->ngrants == 0);
	/* Replay rows (stored answers under Idempotency-Keys: a replay must
	 * be answered from them even when deciding it again would refuse it
	 * and store nothing) and member rows are always read. */
	int plain = ledger_rowcache_on(b) && !b->kept_off && !w->read_hold_reqs && w->nusages == 0 && w->nmembers == 0 &&
		    w->nkeys == 0 && timefmt_mono_ms() - b->conn_ok_ms < LIMIT_ROWCACHE_FRESH_MS;
	pthread_mutex_lock(&lock);
	struct node_table *t = plain ? table_of(b->node) : NULL;
	/* Rows another batch is deciding on are waited for (it writes
	 * within milliseconds): a read now would take their lock first and
	 * make that batch's write find them moved. */
	enum gathered g = t != NULL ? gather(&b->clock, t, w, list, &n, spends, &refusing) : GATHER_MISS;
	if (g == GATHER_CLAIMED) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LIMIT_ROWCACHE_CLAIM_WAIT_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (g == GATHER_CLAIMED && pthread_cond_timedwait(&released, &lock, &until) == 0)
			g = gather(&b->clock, t, w, list, &n, spends, &refusing);
	}
	if (g == GATHER_OK) {
		fill_from(b, t, w, list, n, spends);
		ok = 1;
	}
	w->read_hold_reqs |= ok && refusing;
	if (ok)
		counts.filled++;
	else
		counts.read++;
	pthread_mutex_unlock(&lock);
	b->kept = b->kept_check = ok;
	return ok;
}

/* Lets go of every claim of b's. */
static void unclaim(struct node_table *t, const struct batch *b)
{
	for (int i = 0; t != NULL && i < b->naccts; i++) {
		struct kept_acct *e = find_id(t, b->accts[i].a.id);
		if (e != NULL && e->owner == b)
			e->owner = NULL;
	}
}

/* Account i of b kept as written: its grants when they can be, else
 * those kept before when b did not touch them (same epoch), else none. */
static void keep_grants(struct kept_acct *e, const struct batch *b, int i, int same_epoch)
{
	const struct batch_acct *ba = &b->accts[i];
	if (!ba->spends) {
		if (!same_epoch)
			e->ngrants = -1;
		return;
	}
	int n = 0, positive = 0;
	int fits = !ba->grants_stale && !ba->grants_more;
	for (int k = 0; fits && k < b->ngrants; k++) {
		const struct batch_grant *g = &b->grants[k];
		if (g->acct != i || (!g->g.debt && g->g.remaining <= 0))
			continue;
		if (g->is_new || (g->g.debt ? n - positive > 0 : ++positive > LIMIT_ROWCACHE_GRANTS)) {
			fits = 0;
			break;
		}
		e->g[n] = g->g;
		e->g[n++].changed = 0;
	}
	e->ngrants = fits ? n : -1;
}

/* Keeps account i of b; its epoch, or 0 when another batch's claim or a
 * newer write is kept in its slot. */
static uint64_t keep_acct(struct node_table *t, const struct batch *b, int i)
{
	const struct batch_acct *ba = &b->accts[i];
	struct kept_acct *e = &t->accts[id_slot(ba->a.id, ACCT_MASK)];
	if (!ba->version_read || (e->owner != NULL && e->owner != b))
		return 0;
	if (ba->a.alert_count > 0) {
		/* Its alerts are read under its lock (ledger_alerts.h): an
		 * account with some is never kept, nor what was kept of it. */
		if (e->id == ba->a.id)
			e->id = 0, e->owner = NULL;
		return 0;
	}
	if (e->id == ba->a.id && e->owner != b && e->a.row_version >= ba->a.row_version)
		return 0;
	/* The holds kept before stay kept when nothing but this batch's
	 * operations moved the account since they were: it began at the
	 * version kept (decided on the rows kept, or read them at that
	 * version under their lock; the read writes nothing, and what fell
	 * due was brought due before it, which moved the version). */
	int same_epoch = e->id == ba->a.id && e->a.row_version == ba->start_version;
	if (!same_epoch) {
		if (e->id != 0 && e->id != ba->a.id && t->by_ext[ext_slot(e->a.ext_id)] == (int32_t)(e - t->accts) + 1)
			t->by_ext[ext_slot(e->a.ext_id)] = 0;
		e->id = ba->a.id;
		e->epoch = ++epochs;
	}
	e->owner = NULL;
	e->refusing = ba->refused;
	e->a = ba->a;
	e->a.dirty = 0;
	e->a.locked_tx = 0;
	keep_grants(e, b, i, same_epoch);
	t->by_ext[ext_slot(e->a.ext_id)] = (int32_t)(e - t->accts) + 1;
	return e->epoch;
}

/* After b's write committed: keeps its accounts as written (their
 * versions read back by the write) and releases its claims. */
static void keep_written(struct batch *b)
{
	uint64_t epoch[BATCH_MAX];
	pthread_mutex_lock(&lock);
	struct node_table *t = ledger_rowcache_on(b) ? table_of(b->node) : NULL;
	for (int i = 0; t != NULL && i < b->naccts; i++)
		epoch[i] = keep_acct(t, b, i);
	for (int k = 0; t != NULL && k < b->nholds; k++) {
		const struct batch_hold *bh = &b->holds[k];
		struct kept_hold *kh = &t->holds[id_slot(bh->h.id, HOLD_MASK)];
		int pending = strcmp(bh->h.state, "pending") == 0 && bh->h.id > 0 && !bh->h.has_member;
		if (pending && bh->acct >= 0 && epoch[bh->acct] != 0) {
			/* A hold this batch made has its account by index only. */
			struct hold_row h = bh->h;
			h.account_id = b->accts[bh->acct].a.id;
			kh->id = h.id;
			kh->account_id = h.account_id;
			kh->epoch = epoch[bh->acct];
			memcpy(kh->row, &h, HOLD_KEPT_BYTES);
		} else if (kh->id == bh->h.id) {
			kh->id = 0;
		}
	}
	unclaim(t, b);
	pthread_cond_broadcast(&released);
	pthread_mutex_unlock(&lock);
	b->kept = b->kept_check = 0;
}

/* After an attempt that did not commit: forgets b's accounts and
 * releases its claims (a kept write refused, b->kept_off, is counted). */
static void forget(struct batch *b)
{
	pthread_mutex_lock(&lock);
	if (b->kept && b->kept_off)
		counts.refused++;
	struct node_table *t = ledger_rowcache_on(b) && tables[b->node].accts != NULL ? &tables[b->node] : NULL;
	for (int i = 0; t != NULL && i < b->naccts; i++) {
		struct kept_acct *e = find_id(t, b->accts[i].a.id);
		if (e != NULL && (e->owner == NULL || e->owner == b)) {
			e->id = 0;
			e->owner = NULL;
		}
	}
	pthread_cond_broadcast(&released);
	pthread_mutex_unlock(&lock);
	b->kept = b->kept_check = 0;
}

void ledger_rowcache_end(struct batch *b, enum cd_err rc)
{
	if (rc == CD_OK)
		keep_written(b);
	else
		forget(b);
	assert(!b->kept && !b->kept_check);
}

void ledger_kept_stats(struct ledger_kept_stats *s)
{
	pthread_mutex_lock(&lock);
	*s = counts;
	pthread_mutex_unlock(&lock);
}
