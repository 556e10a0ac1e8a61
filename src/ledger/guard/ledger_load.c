/* ledger_load.c: a batch's read CALL (see ledger_batch.h).
 *
 * cd_batch_read (sql/020_batch_calls.sql, redefined by sql/034) locks
 * the accounts by id, ascending, then the holds settled or released, then
 * the member rows, and reads the replay rows (holds by request_id, usages by request_id,
 * stored Idempotency-Key answers) and the grants of the accounts that may
 * spend, in spending order. Its JSON parameter is written here; its
 * result sets, each named by its first column, are read into the batch.
 * Accounts are named by external id in requests: the procedure resolves
 * them. Each account read is opened in memory only (its month and day
 * rolled): the read writes no expiry and no plan credit. When one has
 * such a thing due, the attempt ends on it (CD_E_DUE) and the guard
 * brings it due in a transaction of its own before reading again
 * (ledger_holds.c). A member named with no row where its plan caps
 * members gets one from the read itself (sql/086, under its account's
 * lock), read back with the others; members_missing holds that it did.
 * For the accounts with threshold alerts the read answers their alert
 * rows too (sql/059), loaded by ledger_alerts_load.c. */
#include "ledger_alerts_load.h"
#include "ledger_rowcache.h"
#include "jsonw.h"
#include "timefmt.h"
#include "log.h"
#include "store_noderoute.h"
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The hold's cache-write pin (sql/034) comes last in every set with a
 * hold, after what a creditd before 034 reads: one still running against
 * the migrated procedures reads its columns where they were. Its place in
 * each set (after the set's name), and the sets' widths, checked before
 * they are read: a creditd on procedures older than it says so, and
 * never reads a column past a row. */
#define HOLDS_SET_COLS (1 + HOLD_NCOLS + MEMBER_NCOLS + 1)
#define HOLD_REQS_SET_COLS (1 + HOLD_NCOLS + 1)

static const char SQL_READ[] = "CALL cd_batch_read(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* On Galera the accounts are locked by writing them first (sql/043). */
static const char SQL_READ_GALERA[] = "CALL cd_batch_lock_read(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* The same, writing the transaction's mark (sql/053, store_tx.c). */
static const char SQL_READ_MARK[] = "CALL cd_batch_mark_read(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* cd_batch_read's lists, in its parameters' order. */
static const char *const READ_LISTS[] = {"ids", "ext", "holds", "reqs", "members", "usages", "spend_ids",
					 "spend_ext", "keys"};

/* A hold from columns c.. (HOLD_COLS order). */
static void hold_from_row(const struct db_row *r, unsigned int c, struct hold_row *h)
{
	memset(h, 0, sizeof(*h));
	h->id = COL_I64(HOLD_ID);
	h->account_id = COL_I64(HOLD_ACCOUNT_ID);
	COL_TEXT(h->state, HOLD_STATE);
	h->amount = COL_I64(HOLD_AMOUNT);
	h->byok = COL_I64(HOLD_BYOK) != 0;
	COL_TEXT(h->model, HOLD_MODEL);
	COL_TEXT(h->action, HOLD_ACTION);
	h->has_member = !COL_NULL(HOLD_MEMBER);
	COL_TEXT(h->member, HOLD_MEMBER);
	h->has_conversation = !COL_NULL(HOLD_CONVERSATION);
	COL_TEXT(h->conversation, HOLD_CONVERSATION);
	h->expires_at = COL_I64(HOLD_EXPIRES_AT);
	h->charged = COL_I64(HOLD_CHARGED);
	h->has_hash = store_row_len(r, c + HOLD_SETTLE_HASH) == 32;
	if (h->has_hash)
		memcpy(h->settle_hash, store_row_str(r, c + HOLD_SETTLE_HASH), 32);
	COL_TEXT(h->response, HOLD_SETTLE_RESPONSE);
	COL_TEXT(h->request_id, HOLD_REQUEST_ID);
	h->max_output = COL_I64_OR(HOLD_MAX_OUTPUT, -1);
	h->has_pin = !COL_NULL(HOLD_PIN_INPUT) && !COL_NULL(HOLD_PIN_CACHED) && !COL_NULL(HOLD_PIN_OUTPUT) && !COL_NULL(HOLD_PIN_MARGIN);
	if (h->has_pin) {
		h->pin.input_micros_per_mtok = COL_I64(HOLD_PIN_INPUT);
		h->pin.cached_input_micros_per_mtok = COL_I64(HOLD_PIN_CACHED);
		h->pin.output_micros_per_mtok = COL_I64(HOLD_PIN_OUTPUT);
		h->pin.max_output_tokens = h->max_output;
		h->pin_margin = COL_I64(HOLD_PIN_MARGIN);
	}
	h->rate_minute = COL_I64_OR(HOLD_RATE_MINUTE, -1);
	h->rate_tokens = COL_I64_OR(HOLD_RATE_TOKENS, 0);
}

/* The hold's cache-write pin from column c: NULL (pinned before sql/034,
 * or by a creditd before it) is its pinned input price, the default
 * (docs/api.md, "Prices pinned at authorize"). */
static void hold_pin_cache_write(const struct db_row *r, unsigned int c, struct hold_row *h)
{
	if (h->has_pin)
		h->pin.cache_write_micros_per_mtok = store_row_null(r, c) ? h->pin.input_micros_per_mtok : store_row_i64(r, c);
}


/* Adds a hold read from the database (once); its index, or -1 when it is
 * not of an account this batch locked or there is no room. */
static int hold_keep(struct batch *b, const struct hold_row *h)
{
	int acct = ledger_batch_acct_by_id(b, h->account_id);
	int i = ledger_batch_hold_by_id(b, h->id);
	if (acct < 0 || i >= 0 || b->nholds == 2 * BATCH_MAX)
		return i;
	memset(&b->holds[b->nholds], 0, sizeof(b->holds[0]));
	b->holds[b->nholds].h = *h;
	b->holds[b->nholds].acct = acct;
	return b->nholds++;
}

/* A member row from columns c.. (the procedure's member column order),
 * once. */
static enum cd_err member_add(struct batch *b, const struct db_row *r, unsigned int c)
{
	int acct = ledger_batch_acct_by_id(b, COL_I64(MEMBER_ACCOUNT_ID));
	if (acct < 0 || ledger_batch_member(b, acct, store_row_str(r, c + MEMBER_NAME)) >= 0)
		return CD_OK;
	if (b->nmembers == 2 * BATCH_MAX)
		return CD_E_INTERNAL;
	struct ledger_batch_member *m = &b->members[b->nmembers++];
	memset(m, 0, sizeof(*m));
	m->acct = acct;
	ledger_members_from_row_at(b->clock.month, r, c, &m->m);
	/* A member's reserve is a sum of its pending holds, as an account's
	 * (read_accounts): one below 0 was edited by hand. */
	if (m->m.reserved < 0)
		return ledger_batch_rows_disagree(b, acct, "a member's reserve below 0");
	return CD_OK;
}


static enum cd_err read_accounts(struct batch *b)
{
	struct db_row r;
	BATCH_EACH_ROW(b, "accounts", r) {
		if (b->naccts == BATCH_MAX)
			return CD_E_INTERNAL;
		memset(&b->accts[b->naccts], 0, sizeof(b->accts[0]));
		ledger_rows_acct_from_row_at(&r, 1, &b->accts[b->naccts].a);
		ledger_rows_acct_mark_locked_in(b->tx_serial, &b->accts[b->naccts].a);	/* cd_batch_read locks them */
		b->accts[b->naccts].start_version = b->accts[b->naccts].a.row_version;
		ledger_idcache_remember(b->accts[b->naccts].a.ext_id, b->accts[b->naccts].a.id);
		b->naccts++;
		/* A reserve is a sum of pending holds: one below 0 was edited by
		 * hand, and the decisions assert it never is (the batch fails,
		 * its operations then run one at a time: only this one fails). */
		if (b->accts[b->naccts - 1].a.reserved < 0)
			return ledger_batch_rows_disagree(b, b->naccts - 1, "a reserve below 0");
	}
	BATCH_EACH_ROW(b, "plan_caps", r) {
		int acct = ledger_batch_acct_by_id(b, store_row_i64(&r, 1));
		if (acct >= 0)
			b->accts[acct].a.plan_member_cap = store_row_i64(&r, 2);
	}
	return CD_OK;
}

static enum cd_err read_holds(struct batch *b)
{
	struct db_row r;
	struct hold_row h;
	if (store_sets_width_ok(&b->sets, "cd_batch_read", "holds", HOLDS_SET_COLS) != 0 ||
	    store_sets_width_ok(&b->sets, "cd_batch_read", "hold_reqs", HOLD_REQS_SET_COLS) != 0)
		return CD_E_INTERNAL;
	BATCH_EACH_ROW(b, "holds", r) {
		hold_from_row(&r, 1, &h);
		hold_pin_cache_write(&r, HOLDS_SET_COLS - 1, &h);
		if (ledger_batch_acct_by_id(b, h.account_id) < 0)
			continue;	/* not of an account this batch locked */
		enum cd_err rc = store_row_null(&r, 1 + HOLD_NCOLS) ? CD_OK : member_add(b, &r, 1 + HOLD_NCOLS);
		if (rc != CD_OK)
			return rc;
		if (ledger_batch_hold_by_id(b, h.id) < 0 && hold_keep(b, &h) < 0)
			return CD_E_INTERNAL;
	}
	BATCH_EACH_ROW(b, "hold_reqs", r) {
		hold_from_row(&r, 1, &h);
		hold_pin_cache_write(&r, HOLD_REQS_SET_COLS - 1, &h);
		if (ledger_batch_acct_by_id(b, h.account_id) >= 0 && ledger_batch_hold_by_id(b, h.id) < 0 && hold_keep(b, &h) < 0)
			return CD_E_INTERNAL;
	}
	BATCH_EACH_ROW(b, "members", r) {
		enum cd_err rc = member_add(b, &r, 1);
		if (rc != CD_OK)
			return rc;
	}
	return CD_OK;
}

static enum cd_err read_usages(struct batch *b)
{
	struct db_row r;
	BATCH_EACH_ROW(b, "usages", r) {
		int acct = ledger_batch_acct_by_id(b, store_row_i64(&r, 2));
		if (acct < 0 || b->nusages == 2 * BATCH_MAX)
			return CD_E_INTERNAL;
		struct batch_usage *u = &b->usages[b->nusages++];
		memset(u, 0, sizeof(*u));
		u->acct = acct;
		u->id = store_row_i64(&r, 1);
		u->has_key = 1;
		ledger_rows_copy_text(u->key, sizeof(u->key), store_row_str(&r, 3));
		u->cost = store_row_i64(&r, 4);
		u->has_hash = store_row_len(&r, 5) == 32;
		if (u->has_hash)
			memcpy(u->hash, store_row_str(&r, 5), 32);
	}
	return CD_OK;
}

/* Stored answers under the operations' keys (the key string kept is the
 * operation's own: the row's dies with the next CALL). */
static enum cd_err read_keys(struct batch *b, const struct batch_want *w)
{
	struct db_row r;
	BATCH_EACH_ROW(b, "idem_keys", r) {
		const char *key = NULL;
		for (int i = 0; i < w->nkeys; i++)
			if (strlen(w->keys[i]) == store_row_len(&r, 1) && memcmp(w->keys[i], store_row_str(&r, 1), store_row_len(&r, 1)) == 0)
				key = w->keys[i];
		if (key == NULL)
			continue;
		if (b->nkeys == BATCH_MAX)
			return CD_E_INTERNAL;
		struct ledger_batch_key *k = &b->keys[b->nkeys];
		memset(k, 0, sizeof(*k));
		k->key = key;
		k->response_len = store_row_len(&r, 4);
		k->response = malloc(k->response_len + 1);
		if (k->response == NULL)
			return CD_E_INTERNAL;
		memcpy(k->response, store_row_str(&r, 4), k->response_len + 1);
		if (store_row_len(&r, 2) == 32)
			memcpy(k->hash, store_row_str(&r, 2), 32);
		k->status = (int)store_row_i64(&r, 3);
		b->nkeys++;
	}
	return CD_OK;
}

/* Positive grants read per account: a page, or for a batch of one whose
 * charge went past it, all a batch holds (b->grants_wide). */
static int grants_page(const struct batch *b)
{
	return b->grants_wide ? LIMIT_SPEND_GRANTS_WIDE : LIMIT_SPEND_GRANTS;
}

/* The grants of the accounts that may spend, a page per account; past
 * it, the account is marked as having more. */
static enum cd_err read_grants(struct batch *b)
{
	struct db_row r;
	BATCH_EACH_ROW(b, "grants", r) {
		int acct = ledger_batch_acct_by_id(b, store_row_i64(&r, 2));
		int debt = store_row_i64(&r, 4) != 0;
		if (acct < 0)
			continue;
		if (!debt && b->accts[acct].grants_read == grants_page(b)) {
			b->accts[acct].grants_more = 1;
			continue;
		}
		if (ledger_batch_grant_room(b) != 0)
			return CD_E_INTERNAL;
		struct batch_grant *g = &b->grants[b->ngrants++];
		memset(g, 0, sizeof(*g));
		g->acct = acct;
		g->g.id = store_row_i64(&r, 1);
		g->g.remaining = store_row_i64(&r, 3);
		g->g.debt = debt;
		b->accts[acct].grants_read += !debt;
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

static void ids_array(struct jw *j, const char *key, const int64_t *v, int n)
{
	jsonw_array(j, key);
	for (int i = 0; i < n; i++)
		jsonw_i64(j, v[i]);
	jsonw_close(j, ']');
}

/* [[ext, value], ...] of rows named by account external id. */
static void ext_pairs(struct jw *j, const char *key, const struct batch_want *w, const int *ext,
		      const char *const *vals, int n)
{
	jsonw_array(j, key);
	for (int i = 0; i < n; i++) {
		jsonw_open(j, '[');
		jsonw_str(j, w->acct_ext[ext[i]]);
		jsonw_str(j, vals[i]);
		jsonw_close(j, ']');
	}
	jsonw_close(j, ']');
}

/* The members the operations name, each with its account and the
 * batch's clock (its second, month, and the month's end): the read makes
 * the row of one with none where its plan caps members (sql/086). */
static void members_array(struct jw *j, const struct batch *b, const struct batch_want *w)
{
	int64_t start = 0, end = 0;
	if (w->nmembers > 0)	/* worked out only for a read that names members */
		timefmt_month_bounds(b->clock.now, &start, &end);
	jsonw_array(j, "members");
	for (int i = 0; i < w->nmembers; i++) {
		jsonw_open(j, '[');
		jsonw_str(j, w->acct_ext[w->members[i].ext]);
		jsonw_str(j, w->members[i].member);
		jsonw_i64(j, b->clock.now);
		jsonw_i64(j, b->clock.month);
		jsonw_i64(j, end);
		jsonw_close(j, ']');
	}
	jsonw_close(j, ']');
}

/* The holds named by settles and releases, ascending by id (their lock
 * order), each with its account. */
static void holds_array(struct jw *j, const struct batch_want *w)
{
	int64_t pairs[BATCH_MAX][2];
	int n = 0;
	for (int i = 0; i < w->nhold_ids; i++) {
		pairs[n][0] = w->hold_ids[i];
		pairs[n++][1] = w->acct_ids[i];
	}
	qsort(pairs, (size_t)n, sizeof(pairs[0]), cmp_i64);
	jsonw_array(j, "holds");
	for (int i = 0; i < n; i++) {
		jsonw_open(j, '[');
		jsonw_i64(j, pairs[i][0]);
		jsonw_i64(j, pairs[i][1]);
		jsonw_close(j, ']');
	}
	jsonw_close(j, ']');
}

/* The authorizes' request_ids of w (read_hold_reqs: all of them, else
 * none) as the read CALL's "reqs". */
static void reqs_pairs(struct jw *j, const struct batch_want *w)
{
	int ext[BATCH_MAX], n;
	const char *vals[BATCH_MAX];
	for (n = 0; w->read_hold_reqs && n < w->nhold_reqs; n++) {
		ext[n] = w->hold_reqs[n].ext;
		vals[n] = w->hold_reqs[n].request_id;
	}
	ext_pairs(j, "reqs", w, ext, vals, n);
}

/* The read CALL's parameter for w; reqs_only: the request_ids alone (rows
 * kept, ledger_load_batch). */
static void read_doc(struct batch *b, const struct batch_want *w, int reqs_only, struct jw *jp)
{
	int64_t ids[BATCH_MAX];
	int ext[BATCH_MAX];
	const char *vals[BATCH_MAX];
	struct jw j;
	int n;
	dynbuf_reset(&b->doc);
	jsonw_init(&j, &b->doc);
	jsonw_open(&j, '{');
	if (reqs_only) {
		reqs_pairs(&j, w);
		jsonw_close(&j, '}');
		*jp = j;
		return;
	}
	memcpy(ids, w->acct_ids, sizeof(ids[0]) * (size_t)w->nacct_ids);
	n = sort_unique(ids, w->nacct_ids);
	ids_array(&j, "ids", ids, n);
	ids_array(&j, "spend_ids", ids, n);	/* settles may charge */
	jsonw_array(&j, "ext");
	for (int i = 0; i < w->nacct_ext; i++)
		jsonw_str(&j, w->acct_ext[i]);
	jsonw_close(&j, ']');
	holds_array(&j, w);
	reqs_pairs(&j, w);
	members_array(&j, b, w);
	for (n = 0; n < w->nusages; n++) {
		ext[n] = w->usages[n].ext;
		vals[n] = w->usages[n].key;
	}
	ext_pairs(&j, "usages", w, ext, vals, n);
	jsonw_array(&j, "spend_ext");
	for (int i = 0; i < w->nspend_ext; i++)
		jsonw_str(&j, w->acct_ext[w->spend_ext[i]]);
	jsonw_close(&j, ']');
	jsonw_array(&j, "keys");
	for (int i = 0; i < w->nkeys; i++)
		jsonw_str(&j, w->keys[i]);
	jsonw_close(&j, ']');
	jsonw_close(&j, '}');
	*jp = j;
}

/* The load's one read CALL, of the lists written in j, and the rows it
 * returned: every row w asks for, the accounts locked (lock), or beside
 * rows kept the request_ids alone. */
static enum cd_err read_call(struct store *db, struct batch *b, const struct batch_want *w, int lock,
			     const struct jw *j)
{
	if (b->doc.failed) {
		log_error("batch read: the request does not fit %d bytes", LIMIT_BATCH_JSON_BYTES);
		return CD_E_INTERNAL;
	}
	const struct store_read r = {SQL_READ, SQL_READ_GALERA, SQL_READ_MARK, lock,
				     grants_page(b) + 1,	/* one more: there are more */
				     j, READ_LISTS, (int)(sizeof(READ_LISTS) / sizeof(READ_LISTS[0])), &b->sets,
				     "accounts", 1 + ACCT_ID, "batch read"};
	enum cd_err rc = store_read_call(db, &r);
	if (rc == CD_OK && lock)
		rc = read_accounts(b);
	if (rc == CD_OK)
		rc = read_holds(b);
	if (rc == CD_OK)
		rc = read_usages(b);
	if (rc == CD_OK)
		rc = read_keys(b, w);
	if (rc == CD_OK)
		rc = read_grants(b);
	return rc;
}

/* The accounts that may spend: settles' and those w names. */
static void mark_spenders(struct batch *b, const struct batch_want *w)
{
	int e;
	for (int i = 0; i < w->nacct_ids; i++)
		if ((e = ledger_batch_acct_by_id(b, w->acct_ids[i])) >= 0)
			b->accts[e].spends = 1;
	for (int i = 0; i < w->nspend_ext; i++)
		if ((e = ledger_batch_acct_by_ext(b, w->acct_ext[w->spend_ext[i]])) >= 0)
			b->accts[e].spends = 1;
}

/* A member the operations name with no row gets one from the read where
 * ledger_members_row_due says so (a workspace whose plan has a member
 * cap), so that the cap binds it like a row with no cap of its own: made
 * by cd_batch_read under its account's lock (sql/086), read back with
 * the others. A member with a row, or none named, costs nothing. One due
 * and not read is never decided as if the member had no cap: the read
 * looks at the plan twice (its cap, then the INSERT's), so a cap set
 * between the two asks for one read more (1: RETRY_MOVED); one still
 * missing then is a database not migrated to 086 (-1: the batch fails,
 * logged once). 0: every such member has its row. */
static atomic_int member_rows_missing;

static int members_missing(struct batch *b, const struct batch_want *w)
{
	for (int i = 0; i < w->nmembers; i++) {
		int acct = ledger_batch_acct_by_ext(b, w->acct_ext[w->members[i].ext]);
		if (acct < 0 || !ledger_members_row_due(&b->accts[acct].a) ||
		    ledger_batch_member(b, acct, w->members[i].member) >= 0)
			continue;
		if (!b->member_missed) {
			b->member_missed = 1;
			return 1;
		}
		if (!atomic_exchange(&member_rows_missing, 1))
			log_error("batch read: member %s of account %s has no row where its plan caps members: the read "
				  "makes it from sql/086: run creditctl migrate", w->members[i].member, b->accts[acct].a.ext_id);
		return -1;
	}
	return 0;
}

/* Accounts a batch's read found due, since start. */
static atomic_ullong due_read;

unsigned long long ledger_load_due_found(void)
{
	return atomic_load(&due_read);
}

/* The accounts read with something due that writes other rows (a plan's
 * credit, an expiry), listed in b->due for the transaction loop's due
 * pass (it reads them as the attempt ends: store_tx's due_list); how many. On
 * rows kept there are none: the row cache keeps no account due. */
static int due_found(struct batch *b, int kept)
{
	b->ndue = 0;
	for (int i = 0; i < b->naccts; i++) {
		if (!ledger_due_writes(&b->clock, &b->accts[i].a))
			continue;
		assert(!kept);
		assert(b->ndue < BATCH_MAX);
		b->due[b->ndue++] = b->accts[i].a.id;
	}
	atomic_fetch_add(&due_read, (unsigned long long)b->ndue);
	assert(b->ndue <= b->naccts);
	return b->ndue;
}

/* Opens each account as every request does, in memory: its month and
 * day rolled to the batch's clock (written with the row at the flush).
 * Nothing is due on it (due_found), so the opening changes nothing else;
 * it takes no store, so it sends no statement. */
static void open_accounts(struct batch *b)
{
	for (int i = 0; i < b->naccts; i++) {
		struct acct *a = &b->accts[i].a;
		const struct acct before = *a;
		/* Nothing due but the month and the day (the caller brought the
		 * rest due in a transaction of its own). */
		assert(!ledger_due_writes(&b->clock, a));
		ledger_due_roll_at(&b->clock, a);
		b->accts[i].changed = a->dirty;
		/* Only the month and the day moved: no credit, no expiry. */
		assert(a->balance == before.balance);
		assert(a->reserved == before.reserved);
		assert(a->sweep_due_at == before.sweep_due_at);
		assert(a->plan_period == before.plan_period);
	}
}

enum cd_err ledger_load_batch(struct store *db, struct batch *b, struct batch_want *w)
{
	struct jw j;
	enum cd_err rc = CD_OK;
	assert(w->nacct_ext <= BATCH_MAX);
	assert(w->nacct_ids <= BATCH_MAX);
	assert(b->tx_serial == db->tx_serial);	/* the rows read are marked locked under it */
	/* Rows kept from the last writes: no read CALL (nothing is due on
	 * them, so their opening writes nothing either). */
	int kept = ledger_rowcache_fill(b, w);
	b->hold_reqs_read = w->read_hold_reqs;	/* as the cache may have asked */
	b->hold_reqs_needed |= w->read_hold_reqs;	/* and so do the next attempts */
	if (!kept && ledger_rowcache_on(b)) {
		/* A read whose rows will be kept reads every account's grants
		 * too, so that a settle after this batch's authorizes finds them
		 * kept (spending is still only what the operations do). */
		w->nspend_ext = w->nacct_ext;
		for (int i = 0; i < w->nacct_ext; i++)
			w->spend_ext[i] = i;
	}
	/* Beside rows kept, an account refusing for its funds has its
	 * authorizes' request_ids read (ledger_rowcache_fill asked them). */
	if (!kept || w->read_hold_reqs) {
		read_doc(b, w, kept, &j);
		rc = read_call(db, b, w, !kept, &j);
	}
	if (rc != CD_OK)
		return rc;
	/* Expiries and a plan's credit are written by a transaction of their
	 * own, never in the middle of this read: the attempt ends on them. */
	if (due_found(b, kept) > 0)
		return CD_E_DUE;
	mark_spenders(b, w);
	/* Every account opened: nothing due on it, its month and day the
	 * batch's clock's (open_accounts and ledger_due_roll assert both). */
	open_accounts(b);
	int missing = members_missing(b, w);
	rc = missing == 0 ? CD_OK : missing > 0 ? store_retry(db, RETRY_MOVED) : CD_E_INTERNAL;
	/* The alert rows came with the read (none with rows kept: an account
	 * with alerts is never kept). */
	return rc == CD_OK && !kept ? ledger_alerts_load_batch(b) : rc;
}

/* ---- A settle's or release's route: its hold's account ---- */

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

void ledger_load_hold_route(struct store *db, const char *hold_id, char *route, size_t cap)
{
	struct store_tx t;
	int64_t account_id, hold;
	route[0] = '\0';
	if (store_noderoute_count() < 2)
		return;
	store_holdid_ensure(db);
	if (ledger_rows_hold_id_parse(hold_id, &account_id, &hold) != 0 || ledger_idcache_ext_of(account_id, route, cap))
		return;
	for (store_tx_init_on(db, &t, NULL); store_tx_next(db, &t);)
		store_tx_end(db, &t, hold_route_tx(db, account_id, route, cap));
	if (t.rc != CD_OK)
		route[0] = '\0';
	else if (route[0] != '\0')
		ledger_idcache_remember(route, account_id);
}
