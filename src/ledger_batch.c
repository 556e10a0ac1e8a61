/* ledger_batch.c: the rows of a group-commit batch (see ledger_batch.h).
 *
 * Reads: one script locks the accounts (by id, ascending), then the holds
 * settled or released (by id), then the member rows, and reads the
 * replay rows (holds by request_id, usages by request_id, stored
 * Idempotency-Key answers). Accounts are named by external id in
 * requests; the id each one has never changes, so a process-wide table
 * remembers it and only an unknown one costs a round trip first.
 *
 * The grants of the accounts that may spend are read with them, a page
 * per account in spending order; charges burn them in memory (spend_burn,
 * the one copy of the order's rule).
 *
 * Writes: one script inserts the new holds (and reads their ids back by
 * request_id, which is unique per account: no reliance on how
 * AUTO_INCREMENT hands out ids), inserts the usages, updates the settled
 * and released holds and the burnt grants, inserts the journal rows in
 * the order the operations made them, updates members and accounts, one
 * multi-row statement per table, and commits. */
#include "ledger_batch.h"
#include "ledger_events.h"
#include "log.h"

#include "timefmt.h"
#include <inttypes.h>
#include <pthread.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOLD_COLS_OF(t) t "id, " t "account_id, " t "state, " t "amount_micros, " t "byok, " t "model, " \
	t "action, " t "member, " t "conversation_id, " t "expires_at, " t "charged_micros, " t "settle_hash, " \
	t "settle_response, " t "request_id, " t "max_output_tokens, " t "pin_input_micros_per_mtok, " \
	t "pin_cached_input_micros_per_mtok, " t "pin_output_micros_per_mtok, " t "pin_margin_bps, " \
	t "rate_minute, " t "rate_tokens"
#define HOLD_COLS HOLD_COLS_OF("")
#define HOLD_NCOLS 21
#define MEMBER_COLS_OF(t) t "account_id, " t "member, " t "monthly_cap_micros, " t "month_key, " \
	t "month_spent_micros, " t "reserved_micros, " t "cap_month_noted, " t "requests_per_minute, " \
	t "tokens_per_minute, " t "rate_minute, " t "rate_requests, " t "rate_tokens"
#define MEMBER_COLS MEMBER_COLS_OF("")

/* What each result set of a script is. */
enum set_kind { SET_ACCTS, SET_PLAN_CAPS, SET_HOLDS, SET_HOLDS_MEMBERS, SET_MEMBERS, SET_USAGES, SET_KEYS, SET_GRANTS, SET_NEW_HOLD_IDS, SET_NEW_USAGE_ID };
#define SET_ARG_SHIFT 8	/* SET_NEW_USAGE_ID's usage index, above the kind */

/* ---- External id → id ---- */

static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static struct id_entry { char *ext; int64_t id; } id_table[2 * LIMIT_ACCOUNT_ID_CACHE];
static int nids;

static size_t id_slot(const char *ext)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)ext; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % (2 * LIMIT_ACCOUNT_ID_CACHE));
}

static int64_t id_find(const char *ext)
{
	int64_t id = 0;
	pthread_mutex_lock(&ids_lock);
	for (size_t i = id_slot(ext); id_table[i].ext != NULL; i = (i + 1) % (2 * LIMIT_ACCOUNT_ID_CACHE)) {
		if (strcmp(id_table[i].ext, ext) == 0) {
			id = id_table[i].id;
			break;
		}
	}
	pthread_mutex_unlock(&ids_lock);
	return id;
}

/* And id → external id, for routing a hold's settle to its account's
 * node (noderoute.h): direct-mapped, an entry pointing into id_table. */
static struct id_entry *by_id[LIMIT_ACCOUNT_ID_CACHE];

int batch_ext_of(int64_t id, char *out, size_t cap)
{
	int found = 0;
	pthread_mutex_lock(&ids_lock);
	struct id_entry *e = by_id[(uint64_t)id % LIMIT_ACCOUNT_ID_CACHE];
	if (e != NULL && e->ext != NULL && e->id == id) {
		snprintf(out, cap, "%s", e->ext);
		found = 1;
	}
	pthread_mutex_unlock(&ids_lock);
	return found;
}

void batch_ext_remember(const char *ext, int64_t id)
{
	pthread_mutex_lock(&ids_lock);
	if (nids >= LIMIT_ACCOUNT_ID_CACHE) {
		for (size_t i = 0; i < 2 * LIMIT_ACCOUNT_ID_CACHE; i++) {
			free(id_table[i].ext);
			id_table[i].ext = NULL;
		}
		memset(by_id, 0, sizeof(by_id));
		nids = 0;
	}
	size_t i = id_slot(ext);
	while (id_table[i].ext != NULL && strcmp(id_table[i].ext, ext) != 0)
		i = (i + 1) % (2 * LIMIT_ACCOUNT_ID_CACHE);
	if (id_table[i].ext == NULL && (id_table[i].ext = strdup(ext)) != NULL)
		nids++;
	id_table[i].id = id;
	if (id_table[i].ext != NULL)
		by_id[(uint64_t)id % LIMIT_ACCOUNT_ID_CACHE] = &id_table[i];
	pthread_mutex_unlock(&ids_lock);
}

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

struct batch *batch_take(void)
{
	struct batch *b = NULL;
	pthread_mutex_lock(&pool_lock);
	if (npool > 0)
		b = pool[--npool];
	pthread_mutex_unlock(&pool_lock);
	return b != NULL ? b : batch_new();
}

void batch_give(struct batch *b)
{
	if (b == NULL)
		return;
	batch_reset(b);
	pthread_mutex_lock(&pool_lock);
	if (npool < BATCH_POOL) {
		pool[npool++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	batch_free(b);
}

static struct batch *batch_new(void)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	dynbuf_init(&b->journal_rows, LIMIT_BATCH_SQL_BYTES);
	dynbuf_init(&b->settle_usage, LIMIT_BATCH_SQL_BYTES);
	dbs_init(&b->script);
	return b;
}

static void events_clear(struct batch *b)
{
	for (int i = 0; i < b->nevents; i++)
		json_decref(b->events[i].data);
	b->nevents = 0;
}

static void event_push(struct batch *b, int acct, const char *type, json_t *data)
{
	if (b->nevents == (int)(sizeof(b->events) / sizeof(b->events[0])) || data == NULL) {
		json_decref(data);
		b->script.sql.failed = 1;	/* never commit a change without its event */
		return;
	}
	b->events[b->nevents++] = (struct batch_event){acct, type, data};
	b->accts[acct].changed = 1;
}

void batch_notice_refusal(struct ledger *lg, struct batch *b, int acct, int member, enum refusal_why why,
			  int64_t available, int64_t required)
{
	json_t *data;
	struct member_row *m = member >= 0 ? &b->members[member].m : NULL;
	const char *type = notice_refusal(lg, &b->accts[acct].a, m, why, available, required, &data);
	if (type == NULL)
		return;
	if (m != NULL && why == REFUSE_MEMBER_CAP)
		b->members[member].changed = 1;
	event_push(b, acct, type, data);
}

void batch_notice_balances(struct ledger *lg, struct batch *b)
{
	for (int i = 0; i < b->naccts; i++) {
		if (!b->accts[i].changed && !b->accts[i].touched)
			continue;
		json_t *data = notice_balance(lg, &b->accts[i].a);
		if (data != NULL)
			event_push(b, i, EVENT_BALANCE_LOW, data);
		if (notice_recharge(lg, &b->accts[i].a))
			b->accts[i].recharge = 1;
	}
}

static void keys_clear(struct batch *b)
{
	for (int i = 0; i < b->nkeys; i++)
		free(b->keys[i].response);
	b->nkeys = 0;
}

void batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	keys_clear(b);
	events_clear(b);
	dynbuf_free(&b->journal_rows);
	dynbuf_free(&b->settle_usage);
	dbs_free(&b->script);
	free(b);
}

void batch_reset(struct batch *b)
{
	b->naccts = b->nholds = b->nmembers = b->nusages = b->ngrants = 0;
	keys_clear(b);
	events_clear(b);
	dynbuf_reset(&b->journal_rows);
	dynbuf_reset(&b->settle_usage);
	b->njournal = b->nsettle_usage = 0;
	dbs_reset(&b->script);
	b->nsets = 0;
}

int batch_acct_by_ext(const struct batch *b, const char *ext)
{
	for (int i = 0; i < b->naccts; i++)
		if (strcmp(b->accts[i].a.ext_id, ext) == 0)
			return i;
	return -1;
}

int batch_acct_by_id(const struct batch *b, int64_t id)
{
	for (int i = 0; i < b->naccts; i++)
		if (b->accts[i].a.id == id)
			return i;
	return -1;
}

int batch_hold_by_id(const struct batch *b, int64_t id)
{
	for (int i = 0; i < b->nholds; i++)
		if (!b->holds[i].is_new && b->holds[i].h.id == id)
			return i;
	return -1;
}

int batch_hold_by_request(const struct batch *b, int acct, const char *request_id)
{
	for (int i = 0; i < b->nholds; i++)
		if (b->holds[i].acct == acct && strcmp(b->holds[i].h.request_id, request_id) == 0)
			return i;
	return -1;
}

int batch_member(const struct batch *b, int acct, const char *member)
{
	for (int i = 0; member != NULL && i < b->nmembers; i++)
		if (b->members[i].acct == acct && strcmp(b->members[i].m.member, member) == 0)
			return i;
	return -1;
}

int batch_usage_by_key(const struct batch *b, int acct, const char *key)
{
	for (int i = 0; key != NULL && i < b->nusages; i++)
		if (b->usages[i].acct == acct && b->usages[i].has_key && strcmp(b->usages[i].key, key) == 0)
			return i;
	return -1;
}

const struct batch_key *batch_key(const struct batch *b, const char *key)
{
	for (int i = 0; key != NULL && i < b->nkeys; i++)
		if (strcmp(b->keys[i].key, key) == 0)
			return &b->keys[i];
	return NULL;
}

/* ---- Reading ---- */


static void set_next(struct batch *b, int kind)
{
	b->sets[b->nsets++] = kind;
}

static void hold_from_row(const struct db_row *r, struct hold_row *h)
{
	memset(h, 0, sizeof(*h));
	h->id = dbrow_i64(r, 0);
	h->account_id = dbrow_i64(r, 1);
	ledger_copy_text(h->state, sizeof(h->state), dbrow_str(r, 2));
	h->amount = dbrow_i64(r, 3);
	h->byok = dbrow_i64(r, 4) != 0;
	ledger_copy_text(h->model, sizeof(h->model), dbrow_str(r, 5));
	ledger_copy_text(h->action, sizeof(h->action), dbrow_str(r, 6));
	h->has_member = !dbrow_null(r, 7);
	ledger_copy_text(h->member, sizeof(h->member), dbrow_str(r, 7));
	h->has_conversation = !dbrow_null(r, 8);
	ledger_copy_text(h->conversation, sizeof(h->conversation), dbrow_str(r, 8));
	h->expires_at = dbrow_i64(r, 9);
	h->charged = dbrow_i64(r, 10);
	h->has_hash = dbrow_len(r, 11) == 32;
	if (h->has_hash)
		memcpy(h->settle_hash, dbrow_str(r, 11), 32);
	ledger_copy_text(h->response, sizeof(h->response), dbrow_str(r, 12));
	h->max_output = dbrow_null(r, 14) ? -1 : dbrow_i64(r, 14);
	h->has_pin = !dbrow_null(r, 15) && !dbrow_null(r, 16) && !dbrow_null(r, 17) && !dbrow_null(r, 18);
	if (h->has_pin) {
		h->pin.input_micros_per_mtok = dbrow_i64(r, 15);
		h->pin.cached_input_micros_per_mtok = dbrow_i64(r, 16);
		h->pin.output_micros_per_mtok = dbrow_i64(r, 17);
		h->pin.max_output_tokens = h->max_output;
		h->pin_margin = dbrow_i64(r, 18);
	}
	h->rate_minute = dbrow_null(r, 19) ? -1 : dbrow_i64(r, 19);
	h->rate_tokens = dbrow_null(r, 20) ? 0 : dbrow_i64(r, 20);
	ledger_copy_text(h->request_id, sizeof(h->request_id), dbrow_str(r, 13));
}

/* Adds a hold read from the database (once); its index, or -1 when it is
 * not of an account this batch locked. */
static int hold_keep(struct batch *b, const struct hold_row *h)
{
	int acct = batch_acct_by_id(b, h->account_id);
	int i = batch_hold_by_id(b, h->id);
	if (acct < 0 || i >= 0 || b->nholds == 2 * BATCH_MAX)
		return i;
	memset(&b->holds[b->nholds], 0, sizeof(b->holds[0]));
	b->holds[b->nholds].h = *h;
	b->holds[b->nholds].acct = acct;
	return b->nholds++;
}

struct load_ctx { struct ledger *lg; struct batch *b; struct batch_want *w; };

/* A member row from columns c.. (MEMBER_COLS order), once. */
static enum cd_err member_add(const struct ledger *lg, struct batch *b, const struct db_rows *r, unsigned int c)
{
	int acct = batch_acct_by_id(b, dbr_i64(r, c));
	if (acct < 0 || batch_member(b, acct, dbr_str(r, c + 1)) >= 0)
		return CD_OK;
	if (b->nmembers == 2 * BATCH_MAX)
		return CD_E_INTERNAL;
	struct batch_member *m = &b->members[b->nmembers++];
	memset(m, 0, sizeof(*m));
	m->acct = acct;
	m->m.found = 1;
	ledger_copy_text(m->m.member, sizeof(m->m.member), dbr_str(r, c + 1));
	m->m.cap = dbr_null(r, c + 2) ? -1 : dbr_i64(r, c + 2);
	m->m.month_key = dbr_i64(r, c + 3);
	m->m.month_spent = dbr_i64(r, c + 4);
	m->m.reserved = dbr_i64(r, c + 5);
	m->m.cap_month_noted = dbr_i64(r, c + 6);
	m->m.rate.rpm = dbr_null(r, c + 7) ? -1 : dbr_i64(r, c + 7);
	m->m.rate.tpm = dbr_null(r, c + 8) ? -1 : dbr_i64(r, c + 8);
	m->m.rate.minute = dbr_i64(r, c + 9);
	m->m.rate.requests = dbr_i64(r, c + 10);
	m->m.rate.tokens = dbr_i64(r, c + 11);
	member_roll(lg, &m->m);
	return CD_OK;
}

static enum cd_err load_rows(void *arg, int set, struct db_rows *r)
{
	struct load_ctx *c = arg;
	struct batch *b = c->b;
	struct db_row row = {NULL, r};
	while (dbr_next(r)) {
		switch (b->sets[set]) {
		case SET_ACCTS:
			if (b->naccts == BATCH_MAX)
				return CD_E_INTERNAL;
			memset(&b->accts[b->naccts], 0, sizeof(b->accts[0]));
			acct_from_row_at(&row, 0, &b->accts[b->naccts].a);
			if (c->w != NULL && c->w->lock_by_ext) {
				batch_ext_remember(b->accts[b->naccts].a.ext_id, b->accts[b->naccts].a.id);
				c->w->ext_ids[0] = b->accts[b->naccts].a.id;
			}
			b->naccts++;
			break;
		case SET_HOLDS:
		case SET_HOLDS_MEMBERS: {
			struct hold_row h;
			hold_from_row(&row, &h);
			if (batch_acct_by_id(b, h.account_id) < 0)
				break;	/* not of an account this batch locked */
			if (b->sets[set] == SET_HOLDS_MEMBERS && !dbr_null(r, HOLD_NCOLS))
				if (member_add(c->lg, b, r, HOLD_NCOLS) != CD_OK)
					return CD_E_INTERNAL;
			if (batch_hold_by_id(b, h.id) < 0 && hold_keep(b, &h) < 0)
				return CD_E_INTERNAL;
			break;
		}
		case SET_MEMBERS:
			if (member_add(c->lg, b, r, 0) != CD_OK)
				return CD_E_INTERNAL;
			break;
		case SET_USAGES: {
			int acct = batch_acct_by_id(b, dbr_i64(r, 1));
			if (acct < 0 || b->nusages == 2 * BATCH_MAX)
				return CD_E_INTERNAL;
			struct batch_usage *u = &b->usages[b->nusages++];
			memset(u, 0, sizeof(*u));
			u->acct = acct;
			u->id = dbr_i64(r, 0);
			u->has_key = 1;
			ledger_copy_text(u->key, sizeof(u->key), dbr_str(r, 2));
			u->cost = dbr_i64(r, 3);
			u->has_hash = dbr_len(r, 4) == 32;
			if (u->has_hash)
				memcpy(u->hash, dbr_str(r, 4), 32);
			break;
		}
		case SET_KEYS: {
			if (b->nkeys == BATCH_MAX)
				return CD_E_INTERNAL;
			struct batch_key *k = &b->keys[b->nkeys];
			memset(k, 0, sizeof(*k));
			k->response_len = dbr_len(r, 3);
			k->response = malloc(k->response_len + 1);
			if (k->response == NULL)
				return CD_E_INTERNAL;
			memcpy(k->response, dbr_str(r, 3), k->response_len);
			k->response[k->response_len] = '\0';
			/* The operation's own key string: the row's dies with it. */
			k->key = NULL;
			for (int i = 0; c->w != NULL && i < c->w->nkeys; i++)
				if (strlen(c->w->keys[i]) == dbr_len(r, 0) &&
				    memcmp(c->w->keys[i], dbr_str(r, 0), dbr_len(r, 0)) == 0)
					k->key = c->w->keys[i];
			if (k->key == NULL) {
				free(k->response);
				break;
			}
			if (dbr_len(r, 1) == 32)
				memcpy(k->hash, dbr_str(r, 1), 32);
			k->status = (int)dbr_i64(r, 2);
			b->nkeys++;
			break;
		}
		case SET_PLAN_CAPS: {
			int acct = batch_acct_by_id(b, dbr_i64(r, 0));
			if (acct >= 0)
				b->accts[acct].a.plan_member_cap = dbr_i64(r, 1);
			break;
		}
		case SET_GRANTS: {
			int acct = batch_acct_by_id(b, dbr_i64(r, 1));
			int debt = dbr_i64(r, 3) != 0;
			if (acct < 0)
				break;
			/* A page of positive grants per account; past it, more are there. */
			if (!debt && b->accts[acct].grants_read == LIMIT_SPEND_GRANTS) {
				b->accts[acct].grants_more = 1;
				break;
			}
			if (b->ngrants == BATCH_GRANTS)
				return CD_E_INTERNAL;
			struct batch_grant *g = &b->grants[b->ngrants++];
			memset(g, 0, sizeof(*g));
			g->acct = acct;
			g->g.id = dbr_i64(r, 0);
			g->g.remaining = dbr_i64(r, 2);
			g->g.debt = debt;
			b->accts[acct].grants_read += !debt;
			break;
		}
		default:
			log_error("batch read: result set %d is of no known kind", set);
			return CD_E_INTERNAL;
		}
	}
	return CD_OK;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

/* Sorts ids and drops repeats; the new count. */
static int sort_unique(int64_t *v, int n)
{
	int m = 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	for (int i = 0; i < n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}

static void id_list(struct db_script *s, const int64_t *v, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			dbs_sql(s, ", ");
		dbs_i64(s, v[i]);
	}
}

/* (id = H AND account_id = A) OR ... for the holds of settles and
 * releases (hold_ids[i] belongs to acct_ids[i]). */
static void hold_pairs(struct db_script *s, const char *t, const struct batch_want *w)
{
	for (int i = 0; i < w->nhold_ids; i++) {
		dbs_sql(s, i ? " OR (" : "(");
		dbs_sql(s, t);
		dbs_sql(s, "id = ");
		dbs_i64(s, w->hold_ids[i]);
		dbs_sql(s, " AND ");
		dbs_sql(s, t);
		dbs_sql(s, "account_id = ");
		dbs_i64(s, w->acct_ids[i]);
		dbs_sql(s, ")");
	}
}

/* The grants of accounts that may spend (ids[0..n-1], 0s skipped), in
 * spending order, each debt row last: the account rows are locked, so no
 * other transaction moves them. */
static void grants_read(struct batch *b, const int64_t *accts, int n)
{
	struct db_script *s = &b->script;
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (accts[i] == 0)
			continue;
		dbs_sql(s, k++ ? ", " : "SELECT id, account_id, remaining_micros, source = 'debt' FROM grants "
			"WHERE account_id IN (");
		dbs_i64(s, accts[i]);
	}
	if (k == 0)
		return;
	dbs_sql(s, ") AND (remaining_micros > 0 OR source = 'debt') ORDER BY account_id, source = 'debt', "
		GRANTS_SPEND_ORDER);
	dbs_end(s);
	set_next(b, SET_GRANTS);
}

/* An account named by external id, in a statement after the accounts'
 * lock: its id, or (a batch of one account never seen) a subquery. 0 when
 * the account is unknown (nothing to read for it). */
static int acct_ref(struct ledger *lg, struct db_script *s, const struct batch_want *w, int ext)
{
	if (w->ext_ids[ext] != 0) {
		dbs_i64(s, w->ext_ids[ext]);
		return 1;
	}
	if (!w->lock_by_ext)
		return 0;
	dbs_sql(s, "(SELECT id FROM accounts WHERE ext_id = ");
	dbs_str(lg, s, w->acct_ext[ext]);
	dbs_sql(s, ")");
	return 1;
}

/* "(account_id = A AND col = 'v') OR ..." for the rows of accounts named by
 * external id (unknown ones skipped); 0 when there is none. */
static int pairs_by_ext(struct ledger *lg, struct db_script *s, const struct batch_want *w, const char *head,
			const int *ext, const char *const *vals, int n, const char *col)
{
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (w->ext_ids[ext[i]] == 0 && !w->lock_by_ext)
			continue;
		dbs_sql(s, k++ ? " OR (account_id = " : head);
		acct_ref(lg, s, w, ext[i]);
		dbs_sql(s, " AND ");
		dbs_sql(s, col);
		dbs_sql(s, " = ");
		dbs_str(lg, s, vals[i]);
		dbs_sql(s, ")");
	}
	return k;
}

/* The locking reads, accounts first unless they are locked already: by
 * id, ascending (a primary-key range), so two batches lock in one order. */
static void read_script(struct ledger *lg, struct batch *b, const struct batch_want *w, const int64_t *accts,
			int naccts, int with_accounts)
{
	struct db_script *s = &b->script;
	int ext[BATCH_MAX];
	const char *vals[BATCH_MAX];
	int64_t spenders[2 * BATCH_MAX];
	int n;
	b->nsets = 0;
	if (with_accounts && w->lock_by_ext) {
		dbs_sql(s, "SELECT " ACCT_COLS_OF("") " FROM accounts WHERE ext_id = ");
		dbs_str(lg, s, w->acct_ext[0]);
		dbs_sql(s, " FOR UPDATE");
		dbs_end(s);
		set_next(b, SET_ACCTS);
	} else if (with_accounts && naccts > 0) {
		dbs_sql(s, "SELECT " ACCT_COLS_OF("") " FROM accounts WHERE id IN (");
		id_list(s, accts, naccts);
		dbs_sql(s, ") ORDER BY id FOR UPDATE");
		dbs_end(s);
		set_next(b, SET_ACCTS);
	}
	/* A member with no cap of its own is capped by its plan's
	 * member_cap_micros: read without a lock (plans are shared by many
	 * accounts; the account rows are locked already). */
	if (with_accounts && w->nmembers > 0 && (w->lock_by_ext || naccts > 0)) {
		dbs_sql(s, "SELECT a.id, p.member_cap_micros FROM accounts a JOIN plans p ON p.name = a.plan WHERE "
			"p.member_cap_micros IS NOT NULL AND ");
		if (w->lock_by_ext) {
			dbs_sql(s, "a.ext_id = ");
			dbs_str(lg, s, w->acct_ext[0]);
		} else {
			dbs_sql(s, "a.id IN (");
			id_list(s, accts, naccts);
			dbs_sql(s, ")");
		}
		dbs_end(s);
		set_next(b, SET_PLAN_CAPS);
	}
	/* The holds settled or released, named with their account (one of
	 * another account is not read), and their members' rows. */
	if (w->nhold_ids > 0) {
		dbs_sql(s, "SELECT " HOLD_COLS_OF("h.") ", " MEMBER_COLS_OF("m.") " FROM holds h LEFT JOIN members m "
			"ON m.account_id = h.account_id AND m.member = h.member WHERE ");
		hold_pairs(s, "h.", w);
		dbs_sql(s, " ORDER BY h.id FOR UPDATE");
		dbs_end(s);
		set_next(b, SET_HOLDS_MEMBERS);
	}
	/* An authorize's request_id is almost always new: its hold's insert
	 * finds a duplicate (and the batch runs again, reading them) rather
	 * than every batch reading them first. */
	for (n = 0; w->read_hold_reqs && n < w->nhold_reqs; n++) {
		ext[n] = w->hold_reqs[n].ext;
		vals[n] = w->hold_reqs[n].request_id;
	}
	if (n > 0 && pairs_by_ext(lg, s, w, "SELECT " HOLD_COLS " FROM holds WHERE (account_id = ", ext, vals, n,
				  "request_id") > 0) {
		dbs_end(s);
		set_next(b, SET_HOLDS);
	}
	for (n = 0; n < w->nmembers; n++) {
		ext[n] = w->members[n].ext;
		vals[n] = w->members[n].member;
	}
	if (n > 0 && pairs_by_ext(lg, s, w, "SELECT " MEMBER_COLS " FROM members WHERE (account_id = ", ext, vals, n,
				  "member") > 0) {
		dbs_sql(s, " ORDER BY account_id, member FOR UPDATE");
		dbs_end(s);
		set_next(b, SET_MEMBERS);
	}
	for (n = 0; n < w->nusages; n++) {
		ext[n] = w->usages[n].ext;
		vals[n] = w->usages[n].key;
	}
	if (n > 0 && pairs_by_ext(lg, s, w, "SELECT id, account_id, usage_key, cost_micros, request_hash FROM "
				  "usage_records WHERE (account_id = ", ext, vals, n, "usage_key") > 0) {
		dbs_end(s);
		set_next(b, SET_USAGES);
	}
	n = 0;
	for (int i = 0; i < w->nacct_ids; i++)
		spenders[n++] = w->acct_ids[i];
	for (int i = 0; i < w->nspend_ext; i++)
		spenders[n++] = w->ext_ids[w->spend_ext[i]];
	if (w->lock_by_ext && w->nspend_ext > 0) {
		/* The batch's one account, never seen: by subquery. */
		dbs_sql(s, "SELECT id, account_id, remaining_micros, source = 'debt' FROM grants WHERE account_id = ");
		acct_ref(lg, s, w, 0);
		dbs_sql(s, " AND (remaining_micros > 0 OR source = 'debt') ORDER BY account_id, source = 'debt', "
			GRANTS_SPEND_ORDER);
		dbs_end(s);
		set_next(b, SET_GRANTS);
	} else {
		grants_read(b, spenders, sort_unique(spenders, n));
	}
	if (with_accounts && w->nkeys > 0) {
		dbs_sql(s, "SELECT idem_key, request_hash, status, response FROM idempotency_keys WHERE idem_key IN (");
		for (int i = 0; i < w->nkeys; i++) {
			if (i)
				dbs_sql(s, ", ");
			dbs_str(lg, s, w->keys[i]);
		}
		dbs_sql(s, ")");
		dbs_end(s);
		set_next(b, SET_KEYS);
	}
}

static enum cd_err ids_rows(void *arg, int set, struct db_rows *r)
{
	struct batch_want *w = arg;
	(void)set;
	while (dbr_next(r)) {
		batch_ext_remember(dbr_str(r, 1), dbr_i64(r, 0));
		for (int i = 0; i < w->nacct_ext; i++)
			if (strcmp(w->acct_ext[i], dbr_str(r, 1)) == 0)
				w->ext_ids[i] = dbr_i64(r, 0);
	}
	return CD_OK;
}

/* The ids of the accounts named by external id: remembered (an account's
 * id never changes), or read unlocked for all of the batch's unknown ones
 * in one round trip. 0: no such account. */
static enum cd_err resolve_ids(struct ledger *lg, struct batch *b, struct batch_want *w)
{
	int missing = 0, e;
	w->lock_by_ext = 0;
	for (int i = 0; i < w->nacct_ext; i++) {
		w->ext_ids[i] = id_find(w->acct_ext[i]);
		if (w->ext_ids[i] != 0)
			continue;
		dbs_sql(&b->script, missing++ ? ", " : "SELECT id, ext_id FROM accounts WHERE ext_id IN (");
		dbs_str(lg, &b->script, w->acct_ext[i]);
	}
	if (missing == 0)
		return CD_OK;
	if (w->nacct_ext == 1 && w->nacct_ids == 0) {
		/* One account, never seen: locking one row has no order to keep,
		 * so it is locked by its external id at once. */
		dbs_reset(&b->script);
		w->lock_by_ext = 1;
		return CD_OK;
	}
	dbs_sql(&b->script, ")");
	dbs_end(&b->script);
	return db_script_run(lg, &b->script, "account ids", ids_rows, w, &e);
}

enum cd_err batch_load(struct ledger *lg, struct batch *b, struct batch_want *w)
{
	int64_t accts[2 * BATCH_MAX];
	int naccts = 0, e;
	b->hold_reqs_read = w->read_hold_reqs;
	enum cd_err rc = resolve_ids(lg, b, w);
	if (rc != CD_OK)
		return rc;
	for (int i = 0; i < w->nacct_ids; i++)
		accts[naccts++] = w->acct_ids[i];
	for (int i = 0; i < w->nacct_ext; i++)
		if (w->ext_ids[i] != 0)
			accts[naccts++] = w->ext_ids[i];
	naccts = sort_unique(accts, naccts);
	read_script(lg, b, w, accts, naccts, 1);
	struct load_ctx ctx = {lg, b, w};
	rc = db_script_run(lg, &b->script, "batch read", load_rows, &ctx, &e);
	b->nsets = 0;
	if (rc != CD_OK)
		return rc;
	for (int i = 0; i < w->nacct_ids; i++)
		if ((e = batch_acct_by_id(b, w->acct_ids[i])) >= 0)
			b->accts[e].spends = 1;
	for (int i = 0; i < w->nspend_ext; i++)
		if ((e = batch_acct_by_ext(b, w->acct_ext[w->spend_ext[i]])) >= 0)
			b->accts[e].spends = 1;
	/* Open each account as every request does: roll its month over, renew
	 * its plan's credit and apply what fell due. A renewal or a sweep may
	 * have changed holds, members and grants read above, which are then
	 * read again. */
	int swept = 0;
	for (int i = 0; i < b->naccts; i++) {
		struct acct *a = &b->accts[i].a;
		int due = acct_touch_writes(lg, a);
		rc = acct_touch(lg, a);
		if (rc != CD_OK)
			return rc;
		b->accts[i].changed = a->dirty;
		swept |= due;
	}
	if (swept) {
		b->nholds = b->nmembers = b->nusages = b->ngrants = 0;
		for (int i = 0; i < b->naccts; i++)
			b->accts[i].grants_read = b->accts[i].grants_more = 0;
		read_script(lg, b, w, accts, naccts, 0);
		rc = db_script_run(lg, &b->script, "batch read", load_rows, &ctx, &e);
		b->nsets = 0;
	}
	return rc;
}

enum cd_err batch_hold_lookup(struct ledger *lg, struct batch *b, int acct, const char *request_id, int *index)
{
	static const char sql[] = "SELECT " HOLD_COLS " FROM holds WHERE account_id = ? AND request_id = ?";
	struct hold_row h;
	int e;
	*index = batch_hold_by_request(b, acct, request_id);
	if (*index >= 0)
		return CD_OK;
	struct dbstmt *st = db_exec(lg, sql, &e, "is", b->accts[acct].a.id, request_id);
	if (st == NULL)
		return db_err(lg, e, "hold lookup");
	if (db_fetch(st) != 1)
		return CD_OK;
	struct db_row row = {st, NULL};
	hold_from_row(&row, &h);
	*index = hold_keep(b, &h);
	return *index >= 0 ? CD_OK : CD_E_INTERNAL;
}

/* ---- Changing ---- */

int batch_hold_add(struct batch *b, int acct, const struct hold_row *h)
{
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

/* The values of one usage_records row, in the column order of USAGE_INSERT. */
#define USAGE_INSERT "INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens, " \
	"cached_input_tokens, output_tokens, cost_micros, byok, request_id, conversation_id, request_hash, created_at) VALUES "

static void usage_values(struct ledger *lg, struct db_script *s, int64_t account, int64_t hold_id, const char *key,
			 const char *member, const char *model, const char *action, int64_t in, int64_t cached,
			 int64_t out, int64_t cost, int byok, const char *request_id, const char *conversation,
			 const unsigned char *hash)
{
	const int64_t *hid = hold_id > 0 ? &hold_id : NULL;
	dbs_sql(s, "(");
	dbs_i64(s, account);
	dbs_sql(s, ", ");
	dbs_i64_or_null(s, hid);
	dbs_sql(s, ", ");
	dbs_str(lg, s, key);
	dbs_sql(s, ", ");
	dbs_str(lg, s, member);
	dbs_sql(s, ", ");
	dbs_str(lg, s, model);
	dbs_sql(s, ", ");
	dbs_str(lg, s, action);
	dbs_sql(s, ", ");
	dbs_i64(s, in);
	dbs_sql(s, ", ");
	dbs_i64(s, cached);
	dbs_sql(s, ", ");
	dbs_i64(s, out);
	dbs_sql(s, ", ");
	dbs_i64(s, cost);
	dbs_sql(s, ", ");
	dbs_i64(s, byok);
	dbs_sql(s, ", ");
	dbs_str(lg, s, request_id);
	dbs_sql(s, ", ");
	dbs_str(lg, s, conversation);
	dbs_sql(s, ", ");
	dbs_blob(s, hash, 32);
	dbs_sql(s, ", ");
	dbs_i64(s, lg->now);
	dbs_sql(s, ")");
}

int batch_usage_add(struct ledger *lg, struct batch *b, int acct, int64_t hold_id, const char *member,
		    const char *model, const char *action, int64_t in, int64_t cached, int64_t out, int64_t cost,
		    int byok, const char *request_id, const char *conversation, const unsigned char *hash)
{
	if (b->nusages == 2 * BATCH_MAX)
		return -1;
	int i = b->nusages++;
	struct batch_usage *u = &b->usages[i];
	memset(u, 0, sizeof(*u));
	u->acct = acct;
	u->cost = cost;
	u->has_key = request_id != NULL;
	ledger_copy_text(u->key, sizeof(u->key), request_id);
	u->has_hash = hash != NULL;
	if (hash != NULL)
		memcpy(u->hash, hash, 32);
	u->is_new = 1;
	/* Written now, in the order made, each with its id read back. */
	dbs_sql(&b->script, USAGE_INSERT);
	usage_values(lg, &b->script, b->accts[acct].a.id, hold_id, request_id, member, model, action, in, cached,
		     out, cost, byok, request_id, conversation, hash);
	dbs_end(&b->script);
	dbs_sql(&b->script, "SELECT LAST_INSERT_ID()");
	dbs_end(&b->script);
	set_next(b, SET_NEW_USAGE_ID | i << SET_ARG_SHIFT);
	return i;
}

void batch_settle_usage(struct ledger *lg, struct batch *b, int acct, int64_t hold_id, const char *member,
			const char *model, const char *action, int64_t in, int64_t cached, int64_t out,
			int64_t cost, int byok, const char *request_id, const char *conversation)
{
	struct db_script s = {b->settle_usage, 0};
	if (b->nsettle_usage++)
		dbs_sql(&s, ", ");
	usage_values(lg, &s, b->accts[acct].a.id, hold_id, NULL, member, model, action, in, cached, out, cost, byok,
		     request_id, conversation, NULL);
	b->settle_usage = s.sql;
}

/* Reads an account's grants again: they changed under the batch (a
 * refund grant), or it burnt every positive grant of the page read. The
 * batch's own changes are written first. */
static enum cd_err grants_reload(struct ledger *lg, struct batch *b, int acct)
{
	int e, m = 0;
	enum cd_err rc = batch_flush(lg, b, 0);
	if (rc != CD_OK)
		return rc;
	for (int i = 0; i < b->ngrants; i++)
		if (b->grants[i].acct != acct)
			b->grants[m++] = b->grants[i];
	b->ngrants = m;
	b->accts[acct].grants_stale = 0;
	b->accts[acct].grants_more = 0;
	b->accts[acct].grants_read = 0;
	grants_read(b, &b->accts[acct].a.id, 1);
	struct load_ctx ctx = {lg, b, NULL};
	rc = db_script_run(lg, &b->script, "grant read", load_rows, &ctx, &e);
	b->nsets = 0;
	return rc;
}

/* Burns from the account's grants as read (a copy in spending order). */
static int64_t burn(struct batch *b, int acct, int64_t amount, int debt)
{
	struct spend_grant g[LIMIT_SPEND_GRANTS + 2];
	int at[LIMIT_SPEND_GRANTS + 2], n = 0;
	for (int i = 0; i < b->ngrants && n < LIMIT_SPEND_GRANTS + 2; i++) {
		if (b->grants[i].acct == acct) {
			at[n] = i;
			g[n++] = b->grants[i].g;
		}
	}
	int64_t left = debt ? (spend_debt(g, n, amount) ? 0 : amount) : spend_burn(g, n, amount);
	for (int i = 0; i < n; i++)
		b->grants[at[i]].g = g[i];
	return left;
}

enum cd_err batch_spend(struct ledger *lg, struct batch *b, int acct, int64_t amount, const char *cause,
			const char *source, int64_t hold_id, const char *reference)
{
	struct batch_acct *ba = &b->accts[acct];
	struct acct *a = &ba->a;
	int64_t left = amount, after;
	enum cd_err rc = CD_OK;
	if (!ba->spends || money_sub(a->balance, amount, &after) != 0) {	/* operations check the range first */
		log_error("batch spend on an account whose grants were not read, or beyond the range");
		return CD_E_INTERNAL;
	}
	if (ba->grants_stale)
		rc = grants_reload(lg, b, acct);
	while (rc == CD_OK && (left = burn(b, acct, left, 0)) > 0 && ba->grants_more)
		rc = grants_reload(lg, b, acct);
	if (rc != CD_OK)
		return rc;
	if (left > 0 && burn(b, acct, left, 1) > 0) {
		if (b->ngrants == BATCH_GRANTS)
			return CD_E_INTERNAL;
		struct batch_grant *g = &b->grants[b->ngrants++];
		memset(g, 0, sizeof(*g));
		g->acct = acct;
		g->g.remaining = -left;
		g->g.debt = 1;
		g->is_new = 1;
	}
	/* The journal row, balance after included. */
	struct db_script s = {b->journal_rows, 0};
	const int64_t *hid = hold_id > 0 ? &hold_id : NULL;
	dbs_sql(&s, b->njournal++ ? ", (" : "(");
	dbs_i64(&s, a->id);
	dbs_sql(&s, ", ");
	dbs_i64(&s, -amount);
	dbs_sql(&s, ", ");
	dbs_i64(&s, after);
	dbs_sql(&s, ", ");
	dbs_str(lg, &s, cause);
	dbs_sql(&s, ", ");
	dbs_str(lg, &s, source);
	dbs_sql(&s, ", NULL, ");
	dbs_i64_or_null(&s, hid);
	dbs_sql(&s, ", ");
	dbs_str(lg, &s, reference);
	dbs_sql(&s, ", ");
	dbs_str(lg, &s, lg->journal_key);
	dbs_sql(&s, ", NULL, ");
	dbs_i64(&s, lg->now);
	dbs_sql(&s, ")");
	b->journal_rows = s.sql;
	a->balance = after;
	ba->changed = 1;
	return CD_OK;
}

/* ---- Writing ---- */

static void write_new_holds(struct ledger *lg, struct batch *b)
{
	struct db_script *s = &b->script;
	int n = 0;
	for (int i = 0; i < b->nholds; i++) {
		const struct batch_hold *bh = &b->holds[i];
		const struct hold_row *h = &bh->h;
		if (!bh->is_new)
			continue;
		dbs_sql(s, n++ ? ", (" : "INSERT INTO holds (account_id, request_id, member, model, action, "
			"conversation_id, amount_micros, max_output_tokens, pin_input_micros_per_mtok, "
			"pin_cached_input_micros_per_mtok, pin_output_micros_per_mtok, pin_margin_bps, rate_minute, "
			"rate_tokens, byok, expires_at, created_at) VALUES (");
		dbs_i64(s, b->accts[bh->acct].a.id);
		dbs_sql(s, ", ");
		dbs_str(lg, s, h->request_id);
		dbs_sql(s, ", ");
		dbs_str(lg, s, h->has_member ? h->member : NULL);
		dbs_sql(s, ", ");
		dbs_str(lg, s, h->model[0] ? h->model : NULL);
		dbs_sql(s, ", ");
		dbs_str(lg, s, h->action[0] ? h->action : NULL);
		dbs_sql(s, ", ");
		dbs_str(lg, s, h->has_conversation ? h->conversation : NULL);
		dbs_sql(s, ", ");
		dbs_i64(s, h->amount);
		dbs_sql(s, ", ");
		dbs_i64_or_null(s, h->max_output >= 0 ? &h->max_output : NULL);
		dbs_sql(s, ", ");
		dbs_i64_or_null(s, h->has_pin ? &h->pin.input_micros_per_mtok : NULL);
		dbs_sql(s, ", ");
		dbs_i64_or_null(s, h->has_pin ? &h->pin.cached_input_micros_per_mtok : NULL);
		dbs_sql(s, ", ");
		dbs_i64_or_null(s, h->has_pin ? &h->pin.output_micros_per_mtok : NULL);
		dbs_sql(s, ", ");
		dbs_i64_or_null(s, h->has_pin ? &h->pin_margin : NULL);
		dbs_sql(s, ", ");
		dbs_i64_or_null(s, h->rate_minute >= 0 ? &h->rate_minute : NULL);
		dbs_sql(s, ", ");
		dbs_i64_or_null(s, h->rate_minute >= 0 ? &h->rate_tokens : NULL);
		dbs_sql(s, ", ");
		dbs_i64(s, h->byok);
		dbs_sql(s, ", ");
		dbs_i64(s, h->expires_at);
		dbs_sql(s, ", ");
		dbs_i64(s, lg->now);
		dbs_sql(s, ")");
	}
	if (n == 0)
		return;
	/* Their ids, by request_id (unique per account), whatever order
	 * AUTO_INCREMENT handed them out in. */
	dbs_sql(s, " RETURNING id, account_id, request_id");
	dbs_end(s);
	set_next(b, SET_NEW_HOLD_IDS);
}

/* One UPDATE for every settled or released hold: CASE on the id. */
static void write_changed_holds(struct ledger *lg, struct batch *b)
{
	static const char *const cols[] = {"state", "charged_micros", "settle_hash", "settle_response"};
	struct db_script *s = &b->script;
	int n = 0;
	for (int i = 0; i < b->nholds; i++)
		n += b->holds[i].changed && !b->holds[i].is_new;
	if (n == 0)
		return;
	dbs_sql(s, "UPDATE holds SET finished_at = ");
	dbs_i64(s, lg->now);
	for (unsigned int c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
		dbs_sql(s, ", ");
		dbs_sql(s, cols[c]);
		dbs_sql(s, " = CASE id");
		for (int i = 0; i < b->nholds; i++) {
			const struct hold_row *h = &b->holds[i].h;
			if (!b->holds[i].changed || b->holds[i].is_new)
				continue;
			dbs_sql(s, " WHEN ");
			dbs_i64(s, h->id);
			dbs_sql(s, " THEN ");
			if (c == 0)
				dbs_str(lg, s, h->state);
			else if (c == 1)
				dbs_i64(s, h->charged);
			else if (c == 2)
				dbs_blob(s, h->has_hash ? h->settle_hash : NULL, 32);
			else
				dbs_str(lg, s, h->has_hash ? h->response : NULL);
		}
		dbs_sql(s, " ELSE ");
		dbs_sql(s, cols[c]);
		dbs_sql(s, " END");
	}
	dbs_sql(s, " WHERE id IN (");
	n = 0;
	for (int i = 0; i < b->nholds; i++) {
		if (!b->holds[i].changed || b->holds[i].is_new)
			continue;
		if (n++)
			dbs_sql(s, ", ");
		dbs_i64(s, b->holds[i].h.id);
	}
	dbs_sql(s, ")");
	dbs_end(s);
}

static void write_members(struct ledger *lg, struct batch *b)
{
	struct db_script *s = &b->script;
	for (int i = 0; i < b->nmembers; i++) {
		const struct batch_member *m = &b->members[i];
		if (!m->changed)
			continue;
		dbs_sql(s, "UPDATE members SET month_key = ");
		dbs_i64(s, m->m.month_key);
		dbs_sql(s, ", month_spent_micros = ");
		dbs_i64(s, m->m.month_spent);
		dbs_sql(s, ", reserved_micros = ");
		dbs_i64(s, m->m.reserved);
		dbs_sql(s, ", cap_month_noted = ");
		dbs_i64(s, m->m.cap_month_noted);
		dbs_sql(s, ", rate_minute = ");
		dbs_i64(s, m->m.rate.minute);
		dbs_sql(s, ", rate_requests = ");
		dbs_i64(s, m->m.rate.requests);
		dbs_sql(s, ", rate_tokens = ");
		dbs_i64(s, m->m.rate.tokens);
		dbs_sql(s, " WHERE account_id = ");
		dbs_i64(s, b->accts[m->acct].a.id);
		dbs_sql(s, " AND member = ");
		dbs_str(lg, s, m->m.member);
		dbs_end(s);
	}
}

/* The burnt grants (one UPDATE, CASE on the id) and new debt rows. */
static void write_grants(struct batch *b, int64_t now)
{
	struct db_script *s = &b->script;
	int n = 0;
	for (int i = 0; i < b->ngrants; i++) {
		const struct batch_grant *g = &b->grants[i];
		if (!g->g.changed || g->is_new)
			continue;
		dbs_sql(s, n++ ? " WHEN " : "UPDATE grants SET remaining_micros = CASE id WHEN ");
		dbs_i64(s, g->g.id);
		dbs_sql(s, " THEN ");
		dbs_i64(s, g->g.remaining);
	}
	if (n > 0) {
		dbs_sql(s, " END WHERE id IN (");
		n = 0;
		for (int i = 0; i < b->ngrants; i++) {
			if (!b->grants[i].g.changed || b->grants[i].is_new)
				continue;
			dbs_sql(s, n++ ? ", " : "");
			dbs_i64(s, b->grants[i].g.id);
		}
		dbs_sql(s, ")");
		dbs_end(s);
	}
	n = 0;
	for (int i = 0; i < b->ngrants; i++) {
		const struct batch_grant *g = &b->grants[i];
		if (!g->is_new)
			continue;
		dbs_sql(s, n++ ? ", (" : "INSERT INTO grants (account_id, source, amount_micros, remaining_micros, "
			"priority, expires_at, reference, description, created_at) VALUES (");
		dbs_i64(s, b->accts[g->acct].a.id);
		dbs_sql(s, ", 'debt', 0, ");
		dbs_i64(s, g->g.remaining);
		dbs_sql(s, ", 0, NULL, NULL, '" DEBT_DESCRIPTION "', ");
		dbs_i64(s, now);
		dbs_sql(s, ")");
	}
	if (n > 0)
		dbs_end(s);
}

/* One UPDATE for every changed account: CASE on the id. */
static void write_accounts(struct batch *b)
{
	static const char *const cols[] = {"balance_micros", "reserved_micros", "month_key", "month_spent_micros",
					   "sweep_due_at", "day_key", "day_spent_micros", "low_noted", "depleted_noted",
					   "limit_month_noted", "limit_day_noted", "recharge_pending",
					   "recharge_day_key", "recharge_day_count", "rate_minute", "rate_requests",
					   "rate_tokens"};
	struct db_script *s = &b->script;
	int n = 0;
	for (int i = 0; i < b->naccts; i++)
		n += b->accts[i].changed;
	if (n == 0)
		return;
	dbs_sql(s, "UPDATE accounts SET ");
	for (unsigned int c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
		dbs_sql(s, c ? ", " : "");
		dbs_sql(s, cols[c]);
		dbs_sql(s, " = CASE id");
		for (int i = 0; i < b->naccts; i++) {
			const struct acct *a = &b->accts[i].a;
			const int64_t v[] = {a->balance, a->reserved, a->month_key, a->month_spent, a->sweep_due_at,
					     a->day_key, a->day_spent, a->low_noted, a->depleted_noted,
					     a->limit_month_noted, a->limit_day_noted, a->recharge_pending,
					     a->recharge_day_key, a->recharge_day_count, a->rate.minute, a->rate.requests,
					     a->rate.tokens};
			_Static_assert(sizeof(v) / sizeof(v[0]) == sizeof(cols) / sizeof(cols[0]), "a value per column");
			if (!b->accts[i].changed)
				continue;
			dbs_sql(s, " WHEN ");
			dbs_i64(s, a->id);
			dbs_sql(s, " THEN ");
			dbs_i64_or_null(s, c == 4 && v[c] < 0 ? NULL : &v[c]);
		}
		dbs_sql(s, " END");
	}
	dbs_sql(s, " WHERE id IN (");
	n = 0;
	for (int i = 0; i < b->naccts; i++) {
		if (!b->accts[i].changed)
			continue;
		if (n++)
			dbs_sql(s, ", ");
		dbs_i64(s, b->accts[i].a.id);
	}
	dbs_sql(s, ")");
	dbs_end(s);
}

static enum cd_err flush_rows(void *arg, int set, struct db_rows *r)
{
	struct batch *b = arg;
	int kind = b->sets[set] & ((1 << SET_ARG_SHIFT) - 1);
	if (kind == SET_NEW_USAGE_ID) {
		if (!dbr_next(r))
			return CD_E_INTERNAL;
		b->usages[b->sets[set] >> SET_ARG_SHIFT].id = dbr_i64(r, 0);
		return CD_OK;
	}
	if (kind != SET_NEW_HOLD_IDS) {
		log_error("batch write: result set %d is of no known kind", set);
		return CD_E_INTERNAL;
	}
	while (dbr_next(r)) {
		int acct = batch_acct_by_id(b, dbr_i64(r, 1));
		for (int i = 0; acct >= 0 && i < b->nholds; i++)
			if (b->holds[i].is_new && b->holds[i].acct == acct &&
			    strcmp(b->holds[i].h.request_id, dbr_str(r, 2)) == 0)
				b->holds[i].h.id = dbr_i64(r, 0);
	}
	return CD_OK;
}

/* Runs the script, and on success forgets what it wrote. The COMMIT goes
 * in the script, one round trip for the whole write, except on Galera
 * (db_galera), where it is a command of its own. */
static enum cd_err script_end(struct ledger *lg, struct batch *b, int commit, const char *what)
{
	int e;
	int in_script = commit && !db_galera(lg);
	if (in_script) {
		dbs_sql(&b->script, "COMMIT");
		dbs_end(&b->script);
		lg->commit_sent = 1;
	}
	enum cd_err rc = db_script_run(lg, &b->script, what, flush_rows, b, &e);
	b->nsets = 0;
	if (rc == CD_E_UNAVAILABLE && in_script) {
		/* The commit may have happened: this batch never runs again. */
		db_committed(lg);
		return rc;
	}
	if (e == ER_DUP_ENTRY) {
		/* A request_id held already, or a key claimed meanwhile: the
		 * next attempt reads them and replays. */
		b->hold_reqs_needed = 1;
		return CD_E_RETRY;
	}
	if (in_script && rc == CD_OK)
		db_committed(lg);	/* every statement ran, COMMIT too */
	/* Else, with commit on Galera, ledger_tx_end commits on CD_OK. */
	return rc;
}

enum cd_err batch_flush(struct ledger *lg, struct batch *b, int commit)
{
	struct db_script *s = &b->script;
	for (int i = 0; i < b->naccts; i++) {
		/* Invariant 2: reserved is the sum of pending holds, never below 0. */
		if (b->accts[i].changed && b->accts[i].a.reserved < 0) {
			log_error("account %" PRId64 " would store a negative reserve", b->accts[i].a.id);
			return CD_E_INTERNAL;
		}
	}
	write_new_holds(lg, b);
	if (b->nsettle_usage > 0) {
		dbs_sql(s, USAGE_INSERT);
		dynbuf_add(&s->sql, b->settle_usage.data, b->settle_usage.len);
		dbs_end(s);
	}
	write_changed_holds(lg, b);
	write_grants(b, lg->now);
	if (b->njournal > 0) {
		dbs_sql(s, "INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, "
			"hold_id, reference, idempotency_key, description, created_at) VALUES ");
		dynbuf_add(&s->sql, b->journal_rows.data, b->journal_rows.len);
		dbs_end(s);
	}
	write_members(lg, b);
	write_accounts(b);
	for (int i = 0; i < b->nevents; i++) {
		event_script(lg, s, &b->accts[b->events[i].acct].a, b->events[i].type, b->events[i].data);
		b->events[i].data = NULL;	/* event_script took it */
	}
	b->nevents = 0;
	for (int i = 0; i < b->naccts; i++) {
		if (b->accts[i].recharge)
			recharge_script(lg, s, &b->accts[i].a);
		b->accts[i].recharge = 0;
	}
	if (b->settle_usage.failed || b->journal_rows.failed)
		s->sql.failed = 1;
	enum cd_err rc = script_end(lg, b, commit, "batch write");
	if (rc != CD_OK)
		return rc;
	for (int i = 0; i < b->nholds; i++) {
		if (b->holds[i].is_new && b->holds[i].h.id == 0) {
			log_error("batch write: a new hold's id was not read back");
			return CD_E_INTERNAL;
		}
		b->holds[i].is_new = b->holds[i].changed = 0;
	}
	for (int i = 0; i < b->nusages; i++)
		b->usages[i].is_new = 0;
	for (int i = 0; i < b->nmembers; i++)
		b->members[i].changed = 0;
	for (int i = 0; i < b->naccts; i++) {
		/* A flush inside a batch (a grants reload, a refund) must not hide
		 * the change from the notices made at its end. */
		b->accts[i].touched |= b->accts[i].changed;
		b->accts[i].changed = 0;
	}
	for (int i = 0; i < b->ngrants; i++) {
		/* A debt row just inserted has no id here: read its account again. */
		if (b->grants[i].is_new)
			b->accts[b->grants[i].acct].grants_stale = 1;
		b->grants[i].g.changed = b->grants[i].is_new = 0;
	}
	dynbuf_reset(&b->settle_usage);
	dynbuf_reset(&b->journal_rows);
	b->nsettle_usage = b->njournal = 0;
	return CD_OK;
}

enum cd_err batch_commit_keys(struct ledger *lg, struct batch *b, const char *const *keys,
			      const unsigned char *const *hashes, const int *statuses, char *const *responses, int n)
{
	struct db_script *s = &b->script;
	for (int i = 0; i < n; i++) {
		dbs_sql(s, i ? ", (" : "INSERT INTO idempotency_keys (idem_key, request_hash, status, response, "
			"created_at) VALUES (");
		dbs_str(lg, s, keys[i]);
		dbs_sql(s, ", ");
		dbs_blob(s, hashes[i], 32);
		dbs_sql(s, ", ");
		dbs_i64(s, statuses[i]);
		dbs_sql(s, ", ");
		dbs_str(lg, s, responses[i]);
		dbs_sql(s, ", ");
		dbs_i64(s, lg->now);
		dbs_sql(s, ")");
	}
	if (n > 0)
		dbs_end(s);
	return script_end(lg, b, 1, "batch commit");
}
