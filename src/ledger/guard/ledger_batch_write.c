/* ledger_batch_write.c: a batch's write, one CALL of the one writer
 * (ledger_write.h: cd_write, sql/039) with the batch's changed rows as
 * JSON lists (see ledger_batch.c for what it writes and in which order). */
#include "ledger_alerts_batch.h"
#include "ledger_batch.h"
#include "store_write.h"
#include "jsonw.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

/* ---- Writing ---- */

static void write_new_holds(struct batch *b, struct jw *w)
{
	jsonw_array(w, "holds_new");
	for (int i = 0; i < b->nholds; i++) {
		const struct batch_hold *bh = &b->holds[i];
		if (!bh->is_new)
			continue;
		jsonw_open(w, '[');
		HOLDS_NEW_TABLE(COL_WRITE, b->accts[bh->acct].a.id, &bh->h)
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
}

static void write_changed_holds(struct batch *b, struct jw *w)
{
	jsonw_array(w, "holds_set");
	for (int i = 0; i < b->nholds; i++) {
		if (!b->holds[i].changed || b->holds[i].is_new)
			continue;
		jsonw_open(w, '[');
		HOLDS_SET_TABLE(COL_WRITE, &b->holds[i].h)
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
}

/* The refund grants a settle made (ledger_batch_refund), in their order:
 * the k-th is the one its journal row names by -1 - k. */
static void write_refunds(struct batch *b, struct jw *w)
{
	jsonw_array(w, "grants_new");
	for (int k = 0; k < b->nrefunds; k++) {
		const struct batch_refund *r = &b->refunds[k];
		const struct batch_grant *g = &b->grants[r->grant];
		const struct grant_row n = {"refund", r->amount, g->g.remaining, 0, -1, r->reference,
					    "late settle below captured hold"};
		assert(g->is_new && !g->g.debt);
		jsonw_open(w, '[');
		GRANTS_NEW_TABLE(COL_WRITE, b->accts[g->acct].a.id, &n)
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
}

/* The burnt grants, new debt rows and refund grants. */
static void write_grants(struct batch *b, struct jw *w)
{
	jsonw_array(w, "grants_set");
	for (int i = 0; i < b->ngrants; i++) {
		const struct batch_grant *g = &b->grants[i];
		if (!g->g.changed || g->is_new)
			continue;
		jsonw_open(w, '[');
		GRANTS_SET_TABLE(COL_WRITE, &g->g)
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
	jsonw_array(w, "debts");
	for (int i = 0; i < b->ngrants; i++) {
		const struct batch_grant *g = &b->grants[i];
		if (!g->is_new || !g->g.debt)
			continue;
		/* Below 0 when made; 0 when a refund of the same batch repaid it
		 * (written so, as a debt row written before the refund was). */
		assert(g->g.remaining <= 0);
		jsonw_open(w, '[');
		DEBTS_TABLE(COL_WRITE, b->accts[g->acct].a.id, &g->g)
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
	write_refunds(b, w);
}

static void write_members(struct batch *b, struct jw *w)
{
	jsonw_array(w, "members");
	for (int i = 0; i < b->nmembers; i++) {
		const struct member_row *m = &b->members[i].m;
		if (!b->members[i].changed)
			continue;
		assert(m->reserved >= 0);
		jsonw_open(w, '[');
		MEMBERS_TABLE(COL_WRITE, b->accts[b->members[i].acct].a.id, m)
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
}

static void write_accounts(struct batch *b, struct jw *w)
{
	jsonw_array(w, "accounts");
	for (int i = 0; i < b->naccts; i++) {
		const struct acct *a = &b->accts[i].a;
		if (!b->accts[i].changed)
			continue;
		jsonw_open(w, '[');
		ACCT_TABLE(COL_WRITE, a)
		jsonw_close(w, ']');
	}
	jsonw_close(w, ']');
}

static int cmp_acct_id(const void *x, const void *y)
{
	int64_t a = (*(const struct batch_acct *const *)x)->a.id, b = (*(const struct batch_acct *const *)y)->a.id;
	return a < b ? -1 : a > b;
}

/* Every account of the batch, ascending by id (the lock order), with the
 * version decided on when check (a write of rows kept: refused when one
 * moved), for the versions the write leaves to come back; none without
 * versions wanted (sql/037's cd_guard_write). */
static void write_accounts_at(struct batch *b, struct jw *j, int want, int check)
{
	const struct batch_acct *at[BATCH_MAX];
	jsonw_array(j, "accounts_at");
	for (int i = 0; want && i < b->naccts; i++)
		at[i] = &b->accts[i];
	if (want)
		qsort(at, (size_t)b->naccts, sizeof(at[0]), cmp_acct_id);
	for (int i = 0; want && i < b->naccts; i++) {
		jsonw_open(j, '[');
		jsonw_i64(j, at[i]->a.id);
		jsonw_i64_or_null(j, check, at[i]->a.row_version);
		jsonw_close(j, ']');
	}
	jsonw_close(j, ']');
}

/* The outbox rows (their data as sorted compact JSON), the alerts'
 * first (sql/059), and the queued auto-recharges; -1 when an event's
 * data cannot be written. */
static int write_outbox(struct batch *b, struct jw *j)
{
	jsonw_array(j, "events");
	int rc = ledger_alerts_batch_events(b, j);
	for (int i = 0; i < b->nevents; i++) {
		const struct acct *a = &b->accts[b->events[i].acct].a;
		char *text = json_dumps(b->events[i].data, JSON_COMPACT | JSON_SORT_KEYS);
		if (text == NULL) {
			rc = -1;
			continue;
		}
		struct jw *w = j;
		jsonw_open(w, '[');
		EVENTS_TABLE(COL_WRITE, &a->id, a->ext_id, b->events[i].type, text)
		jsonw_close(w, ']');
		free(text);
	}
	jsonw_close(j, ']');
	jsonw_array(j, "recharges");
	for (int i = 0; i < b->naccts; i++) {
		if (!b->accts[i].recharge)
			continue;
		struct jw *w = j;
		jsonw_open(w, '[');
		RECHARGES_TABLE(COL_WRITE, b->accts[i].a.id, b->accts[i].a.recharge_amount_cents)
		jsonw_close(w, ']');
	}
	jsonw_close(j, ']');
	return rc;
}

/* The answers to store, each naming (by its place among this write's new
 * rows) the hold or usage whose id it lacks. */
static void write_answers(struct batch *b, struct jw *j, const struct batch_answer *answers, int n)
{
	jsonw_array(j, "keys");
	for (int i = 0; i < n; i++) {
		const struct batch_answer *k = &answers[i];
		int hold = -1, usage = -1;
		if (k->hold >= 0 && b->holds[k->hold].is_new) {
			hold = 0;
			for (int h = 0; h < k->hold; h++)
				hold += b->holds[h].is_new;
		}
		for (int u = 0; k->usage >= 0 && u < b->nnew_usage; u++)
			if (b->new_usage[u] == k->usage && b->usages[k->usage].is_new)
				usage = u;
		jsonw_open(j, '[');
		jsonw_str(j, k->key);
		jsonw_hex(j, k->hash, 32);
		jsonw_i64(j, k->status);
		jsonw_str(j, k->text);
		jsonw_i64_or_null(j, hold >= 0, hold);
		jsonw_i64_or_null(j, usage >= 0, usage);
		jsonw_close(j, ']');
	}
	jsonw_close(j, ']');
}

/* The write CALL's lists: every pending change. */
static int write_doc(struct batch *b, int versions, const struct batch_answer *answers, int n, struct jw *jp)
{
	struct jw j;
	dynbuf_reset(&b->doc);
	jsonw_init(&j, &b->doc);
	jsonw_open(&j, '{');
	write_new_holds(b, &j);
	jsonw_array(&j, "usages_new");
	jsonw_raw(&j, b->usage_rows.data, b->usage_rows.len);
	jsonw_close(&j, ']');
	jsonw_array(&j, "usages");
	jsonw_raw(&j, b->settle_usage.data, b->settle_usage.len);
	jsonw_close(&j, ']');
	write_changed_holds(b, &j);
	write_grants(b, &j);
	jsonw_array(&j, "journal");
	jsonw_raw(&j, b->journal_rows.data, b->journal_rows.len);
	jsonw_close(&j, ']');
	write_members(b, &j);
	write_accounts(b, &j);
	write_accounts_at(b, &j, versions || b->kept_check, b->kept_check);
	int rc = write_outbox(b, &j);
	write_answers(b, &j, answers, n);
	ledger_alerts_batch_lists(b, &j);
	jsonw_close(&j, '}');
	*jp = j;
	if (b->failed || b->usage_rows.failed || b->settle_usage.failed || b->journal_rows.failed || b->doc.failed) {
		log_error("batch write: the rows do not fit %d bytes", LIMIT_BATCH_JSON_BYTES);
		return -1;
	}
	return rc;
}

/* The ids the write CALL gave the new holds and usages. */
static enum cd_err read_ids(struct batch *b)
{
	int at[2 * BATCH_MAX], n = 0;
	for (int i = 0; i < b->nholds; i++)
		if (b->holds[i].is_new)
			at[n++] = i;
	const struct dbsets_set *t = store_sets_find(&b->sets, "new_holds");
	for (size_t r = 0; t != NULL && r < t->nrows; r++) {
		struct db_row row = store_sets_row(&b->sets, t, r);
		int64_t k = store_row_i64(&row, 1);
		if (k >= 0 && k < n)
			b->holds[at[k]].h.id = store_row_i64(&row, 2);
	}
	t = store_sets_find(&b->sets, "new_usages");
	for (size_t r = 0; t != NULL && r < t->nrows; r++) {
		struct db_row row = store_sets_row(&b->sets, t, r);
		int64_t k = store_row_i64(&row, 1);
		if (k >= 0 && k < b->nnew_usage)
			b->usages[b->new_usage[k]].id = store_row_i64(&row, 2);
	}
	for (int i = 0; i < n; i++) {
		if (b->holds[at[i]].h.id == 0) {
			log_error("batch write: a new hold's id was not read back");
			return CD_E_INTERNAL;
		}
	}
	for (int i = 0; i < b->nnew_usage; i++) {
		if (b->usages[b->new_usage[i]].id == 0) {
			log_error("batch write: a new usage's id was not read back");
			return CD_E_INTERNAL;
		}
	}
	return CD_OK;
}

/* The versions the write left on the accounts it wrote (sql/037). */
static void read_versions(struct batch *b)
{
	const struct dbsets_set *t = store_sets_find(&b->sets, "versions");
	for (size_t r = 0; t != NULL && r < t->nrows; r++) {
		struct db_row row = store_sets_row(&b->sets, t, r);
		int acct = ledger_batch_acct_by_id(b, store_row_i64(&row, 1));
		if (acct >= 0) {
			b->accts[acct].a.row_version = store_row_i64(&row, 2);
			b->accts[acct].version_read = 1;
		}
	}
	b->kept_check = 0;	/* checked: the rows are locked from here */
}

/* After a write: nothing is pending, and what was written is marked. */
static void written(struct batch *b)
{
	ledger_alerts_batch_written(b);	/* before the grants' marks go */
	for (int i = 0; i < b->nholds; i++)
		b->holds[i].is_new = b->holds[i].changed = 0;
	for (int i = 0; i < b->nusages; i++)
		b->usages[i].is_new = 0;
	for (int i = 0; i < b->nmembers; i++)
		b->members[i].changed = 0;
	ledger_batch_balances_mark(b);
	for (int i = 0; i < b->naccts; i++) {
		b->accts[i].changed = 0;
		b->accts[i].recharge = 0;
	}
	for (int i = 0; i < b->ngrants; i++) {
		/* A debt row just inserted has no id here: read its account again. */
		if (b->grants[i].is_new)
			b->accts[b->grants[i].acct].grants_stale = 1;
		b->grants[i].g.changed = b->grants[i].is_new = 0;
	}
	b->nrefunds = 0;
	ledger_batch_events_clear(b);
	dynbuf_reset(&b->settle_usage);
	dynbuf_reset(&b->journal_rows);
	dynbuf_reset(&b->usage_rows);
	b->nsettle_usage = b->njournal = b->nnew_usage = 0;
}

enum cd_err ledger_batch_write_flush(struct store *db, struct batch *b, const struct batch_answer *answers, int n)
{
	struct jw j;
	int e = 0;
	/* The transaction the batch read and locked its rows in (its serial,
	 * copied with the clock) is the one writing, or nothing is written;
	 * then each row changed was locked in it (or is checked by the write). */
	if (b->tx_serial != db->tx_serial) {
		log_error("a guard batch's write in transaction %" PRIu64 ", its rows read in %" PRIu64 ": not written",
			  db->tx_serial, b->tx_serial);
		return CD_E_INTERNAL;
	}
	for (int i = 0; i < b->naccts; i++) {
		/* docs/architecture.md, "Which rows a write decides on": written from rows
		 * locked in this transaction, or by a write that checks their versions first (kept_check). */
		if (b->accts[i].changed && !b->kept_check &&
		    ledger_rows_acct_check_locked_in(b->tx_serial, &b->accts[i].a, "a guard batch's write") != CD_OK)
			return CD_E_INTERNAL;
		/* Invariant 1: what the journal rows say moved is what moved. */
		assert(b->accts[i].a.balance - b->accts[i].balance_marked == b->accts[i].journal_micros);
		/* Invariant 2: reserved is the sum of pending holds, never below 0. */
		if (b->accts[i].changed && b->accts[i].a.reserved < 0) {
			log_error("account %" PRId64 " would store a negative reserve", b->accts[i].a.id);
			return CD_E_INTERNAL;
		}
	}
	/* The commit asks for every account's version, to be kept
	 * (ledger_rowcache.h; not on Galera, which keeps nothing). */
	if (write_doc(b, !b->galera, answers, n, &j) != 0)
		return CD_E_INTERNAL;
	/* The COMMIT goes in the CALL, one round trip for the whole write,
	 * except on Galera (b->galera), where it is a command of its own. */
	int in_call = !b->galera;
	enum cd_err rc = store_write_call(db, &j, in_call, &b->sets, "batch write", &e);
	if (rc == CD_E_UNAVAILABLE && in_call)
		return rc;	/* the commit may have happened: this batch never runs again */
	if (e == ER_SIGNAL_EXCEPTION && b->kept_check) {
		/* A kept row moved since it was written (sql/037): the next
		 * attempt reads them all. */
		b->kept_off = 1;
		return store_retry(db, RETRY_MOVED);
	}
	if (e == ER_SIGNAL_EXCEPTION) {
		log_error("batch write: MariaDB error %d: %s", e, "a row version signalled where none was named");
		return CD_E_INTERNAL;
	}
	if (e == ER_DUP_ENTRY) {
		/* A request_id held already, or a key claimed meanwhile: the
		 * next attempt reads them and replays. */
		b->hold_reqs_needed = 1;
		return store_retry(db, RETRY_RACE);
	}
	if (rc != CD_OK)
		return rc;
	for (int i = 0; !in_call && i < b->naccts; i++)
		ledger_rows_acct_mark_locked_in(b->tx_serial, &b->accts[i].a);	/* by the read, or by the write's check */
	rc = read_ids(b);
	if (rc == CD_OK) {
		read_versions(b);
		written(b);
	}
	/* Written: nothing pending is left to be written twice. */
	assert(rc != CD_OK || b->njournal == 0);
	assert(rc != CD_OK || b->nevents == 0);
	return rc;
}
