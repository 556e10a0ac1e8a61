/* ledger_guard.c: the chat guard's holds, settles, releases and usage, the
 * process-wide price cache, and the sweep of due holds and grants.
 *
 * The hold is placed in the same transaction as the balance check, with
 * the account row locked, so no number of concurrent requests can reserve
 * credit that is not there. A hold id names its account
 * ("hold_<account>_<hold>") so that settle and release lock the account
 * first, in the same order as authorize, without an extra lookup. */
#include "ledger_int.h"
#include "keys.h"
#include "log.h"
#include "timefmt.h"
#include <inttypes.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Price cache ---- */

#define PRICES_MAX 512
struct price_entry {
	char name[LEDGER_NAME_MAX + 1];
	struct price p;
	int64_t action_micros;		/* -1 for models */
};
static struct {
	pthread_rwlock_t lock;
	struct price_entry e[PRICES_MAX];
	int n;
	int64_t margin_bps;
} prices = {PTHREAD_RWLOCK_INITIALIZER, {{"", {0, 0, 0, 0}, 0}}, 0, 10000};

struct price_load { struct price_entry e[PRICES_MAX]; int n; int64_t margin; };

static enum cd_err prices_tx(struct ledger *lg, void *arg)
{
	static const char sql_models[] = "SELECT name, input_micros_per_mtok, cached_input_micros_per_mtok, "
					 "output_micros_per_mtok, max_output_tokens FROM models ORDER BY name";
	static const char sql_actions[] = "SELECT name, price_micros FROM actions ORDER BY name";
	static const char sql_margin[] = "SELECT value FROM settings WHERE name = 'margin_bps'";
	struct price_load *l = arg;
	int e;
	l->n = 0;
	struct dbstmt *s = db_exec(lg, sql_models, &e, "");
	if (s == NULL)
		return db_err(lg, e, "price load");
	while (l->n < PRICES_MAX && db_fetch(s) == 1) {
		struct price_entry *p = &l->e[l->n++];
		snprintf(p->name, sizeof(p->name), "%s", db_str(s, 0));
		p->p.input_micros_per_mtok = db_i64(s, 1);
		p->p.cached_input_micros_per_mtok = db_i64(s, 2);
		p->p.output_micros_per_mtok = db_i64(s, 3);
		p->p.max_output_tokens = db_i64(s, 4);
		p->action_micros = -1;
	}
	s = db_exec(lg, sql_actions, &e, "");
	if (s == NULL)
		return db_err(lg, e, "price load");
	while (l->n < PRICES_MAX && db_fetch(s) == 1) {
		struct price_entry *p = &l->e[l->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", db_str(s, 0));
		p->action_micros = db_i64(s, 1);
	}
	s = db_exec(lg, sql_margin, &e, "");
	if (s == NULL)
		return db_err(lg, e, "price load");
	l->margin = db_fetch(s) == 1 ? db_i64(s, 0) : 10000;
	return CD_OK;
}

enum cd_err ledger_prices_reload(struct ledger *lg)
{
	struct price_load *l = malloc(sizeof(*l));
	if (l == NULL)
		return CD_E_INTERNAL;
	enum cd_err rc = ledger_run(lg, prices_tx, l);
	if (rc == CD_OK) {
		pthread_rwlock_wrlock(&prices.lock);
		memcpy(prices.e, l->e, sizeof(l->e[0]) * (size_t)l->n);
		prices.n = l->n;
		prices.margin_bps = l->margin;
		pthread_rwlock_unlock(&prices.lock);
	}
	free(l);
	return rc;
}

static int price_find(const char *name, int want_action, struct price_entry *out, int64_t *margin)
{
	int found = 0;
	pthread_rwlock_rdlock(&prices.lock);
	for (int i = 0; i < prices.n && !found; i++) {
		const struct price_entry *p = &prices.e[i];
		if ((p->action_micros >= 0) == want_action && strcmp(p->name, name) == 0) {
			*out = *p;
			found = 1;
		}
	}
	if (margin != NULL)
		*margin = prices.margin_bps;
	pthread_rwlock_unlock(&prices.lock);
	return found;
}

int ledger_price_model(const char *name, struct price *p, int64_t *margin_bps)
{
	struct price_entry e;
	if (!price_find(name, 0, &e, margin_bps))
		return 0;
	*p = e.p;
	return 1;
}

int ledger_price_action(const char *name, int64_t *price_micros)
{
	struct price_entry e;
	if (!price_find(name, 1, &e, NULL))
		return 0;
	*price_micros = e.action_micros;
	return 1;
}

json_t *ledger_prices_json(const char *currency)
{
	json_t *models = json_array(), *actions = json_array();
	pthread_rwlock_rdlock(&prices.lock);
	for (int i = 0; i < prices.n; i++) {
		const struct price_entry *p = &prices.e[i];
		if (p->action_micros >= 0)
			json_array_append_new(actions, json_pack("{s:s, s:I}", "action", p->name, "price_micros",
								 (json_int_t)p->action_micros));
		else
			json_array_append_new(models, json_pack("{s:s, s:I, s:I, s:I, s:I}", "model", p->name,
				"input_micros_per_mtok", (json_int_t)p->p.input_micros_per_mtok,
				"cached_input_micros_per_mtok", (json_int_t)p->p.cached_input_micros_per_mtok,
				"output_micros_per_mtok", (json_int_t)p->p.output_micros_per_mtok,
				"max_output_tokens", (json_int_t)p->p.max_output_tokens));
	}
	int64_t margin = prices.margin_bps;
	pthread_rwlock_unlock(&prices.lock);
	return json_pack("{s:I, s:s, s:o, s:o}", "margin_bps", (json_int_t)margin, "currency", currency,
			 "data", models, "actions", actions);
}

struct import_run { const struct price_row *rows; size_t n; };

static enum cd_err import_tx(struct ledger *lg, void *arg)
{
	static const char sql_model[] = "INSERT INTO models (name, input_micros_per_mtok, cached_input_micros_per_mtok, "
		"output_micros_per_mtok, max_output_tokens, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
		"ON DUPLICATE KEY UPDATE input_micros_per_mtok = VALUES(input_micros_per_mtok), "
		"cached_input_micros_per_mtok = VALUES(cached_input_micros_per_mtok), "
		"output_micros_per_mtok = VALUES(output_micros_per_mtok), "
		"max_output_tokens = VALUES(max_output_tokens), updated_at = VALUES(updated_at)";
	static const char sql_action[] = "INSERT INTO actions (name, price_micros, updated_at) VALUES (?, ?, ?) "
		"ON DUPLICATE KEY UPDATE price_micros = VALUES(price_micros), updated_at = VALUES(updated_at)";
	static const char sql_margin[] = "INSERT INTO settings (name, value) VALUES ('margin_bps', ?) "
		"ON DUPLICATE KEY UPDATE value = VALUES(value)";
	const struct import_run *r = arg;
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < r->n && rc == CD_OK; i++) {
		const struct price_row *p = &r->rows[i];
		if (p->kind == PRICE_ROW_MODEL)
			rc = db_do(lg, sql_model, "price import", "siiiii", p->name, p->price.input_micros_per_mtok,
				   p->price.cached_input_micros_per_mtok, p->price.output_micros_per_mtok,
				   p->price.max_output_tokens, lg->now);
		else if (p->kind == PRICE_ROW_ACTION)
			rc = db_do(lg, sql_action, "price import", "sii", p->name, p->price_micros, lg->now);
		else if (p->kind == PRICE_ROW_MARGIN)
			rc = db_do(lg, sql_margin, "price import", "i", p->margin_bps);
	}
	return rc;
}

enum cd_err ledger_prices_import(struct ledger *lg, const struct price_row *rows, size_t n)
{
	struct import_run r = {rows, n};
	return ledger_run(lg, import_tx, &r);
}

/* ---- Hold ids ---- */

void hold_id_format(char *out, size_t cap, int64_t account_id, int64_t hold_id)
{
	snprintf(out, cap, "hold_%" PRId64 "_%" PRId64, account_id, hold_id);
}

/* Parses one positive decimal of at most 18 digits ending at `stop`. */
static const char *parse_pos(const char *s, char stop, int64_t *out)
{
	int64_t v = 0;
	int n = 0;
	if (*s < '1' || *s > '9')
		return NULL;
	while (*s >= '0' && *s <= '9' && n < 19) {
		v = v * 10 + (*s - '0');
		s++;
		n++;
	}
	if (n > 18 || *s != stop)
		return NULL;
	*out = v;
	return s;
}

int hold_id_parse(const char *s, int64_t *account_id, int64_t *hold_id)
{
	if (s == NULL || strncmp(s, "hold_", 5) != 0)
		return -1;
	const char *p = parse_pos(s + 5, '_', account_id);
	if (p == NULL || parse_pos(p + 1, '\0', hold_id) == NULL)
		return -1;
	return 0;
}

/* ---- Sweep ---- */

static const char SQL_HOLDS_DUE[] = "SELECT id, amount_micros, member FROM holds WHERE account_id = ? "
				    "AND state = 'pending' AND expires_at <= ? FOR UPDATE";
static const char SQL_HOLD_FINISH[] = "UPDATE holds SET state = ?, charged_micros = ?, finished_at = ? WHERE id = ?";
static const char SQL_GRANTS_DUE[] = "SELECT id, remaining_micros, source FROM grants WHERE account_id = ? "
				     "AND remaining_micros > 0 AND expires_at <= ? FOR UPDATE";
static const char SQL_NEXT_DUE[] = "SELECT (SELECT MIN(expires_at) FROM holds WHERE account_id = ? AND state = 'pending'), "
				   "(SELECT MIN(expires_at) FROM grants WHERE account_id = ? AND remaining_micros > 0)";

#define SWEEP_BATCH 64

/* Expires up to SWEEP_BATCH due holds; *done is how many. */
static enum cd_err expire_hold_batch(struct ledger *lg, struct acct *a, int *done)
{
	int64_t ids[SWEEP_BATCH], amounts[SWEEP_BATCH];
	char members[SWEEP_BATCH][LEDGER_ID_MAX + 1];
	int has_member[SWEEP_BATCH];
	int n = 0, e;
	struct dbstmt *s = db_exec(lg, SQL_HOLDS_DUE, &e, "ii", a->id, lg->now);
	if (s == NULL)
		return db_err(lg, e, "hold sweep");
	while (n < SWEEP_BATCH && db_fetch(s) == 1) {
		ids[n] = db_i64(s, 0);
		amounts[n] = db_i64(s, 1);
		has_member[n] = !db_null(s, 2);
		snprintf(members[n], sizeof(members[n]), "%s", has_member[n] ? db_str(s, 2) : "");
		n++;
	}
	*done = n;
	for (int i = 0; i < n; i++) {
		char ref[48];
		int capture = lg->cfg->capture_expired && amounts[i] > 0;
		enum cd_err rc;
		hold_id_format(ref, sizeof(ref), a->id, ids[i]);
		a->reserved -= amounts[i];
		if (capture) {
			rc = ledger_spend(lg, a, amounts[i], "usage", ids[i], ref, "expired hold captured", NULL);
			a->month_spent += amounts[i];
		} else {
			rc = journal_append(lg, a, 0, "expiry", NULL, 0, ids[i], ref, "expired hold released", NULL);
		}
		if (rc == CD_OK)
			rc = member_adjust(lg, a, has_member[i] ? members[i] : NULL, -amounts[i],
					   capture ? amounts[i] : 0);
		if (rc == CD_OK)
			rc = db_do(lg, SQL_HOLD_FINISH, "hold expiry", "siii", capture ? "captured" : "expired",
				   capture ? amounts[i] : (int64_t)0, lg->now, ids[i]);
		if (rc != CD_OK)
			return rc;
	}
	return CD_OK;
}

/* Every due hold goes, not just one batch: a hold stops counting as
 * reserved at its expires_at (DESIGN §5), however many fall due at once.
 * Each batch expires at least one hold, so the loop ends. */
static enum cd_err expire_holds(struct ledger *lg, struct acct *a)
{
	int done = SWEEP_BATCH;
	enum cd_err rc = CD_OK;
	while (rc == CD_OK && done == SWEEP_BATCH)
		rc = expire_hold_batch(lg, a, &done);
	return rc;
}

/* Writes off up to SWEEP_BATCH expired grants; *done is how many. */
static enum cd_err expire_grant_batch(struct ledger *lg, struct acct *a, int *done)
{
	int64_t ids[SWEEP_BATCH], left[SWEEP_BATCH];
	char sources[SWEEP_BATCH][16];
	int n = 0, e;
	struct dbstmt *s = db_exec(lg, SQL_GRANTS_DUE, &e, "ii", a->id, lg->now);
	if (s == NULL)
		return db_err(lg, e, "grant sweep");
	while (n < SWEEP_BATCH && db_fetch(s) == 1) {
		ids[n] = db_i64(s, 0);
		left[n] = db_i64(s, 1);
		snprintf(sources[n], sizeof(sources[n]), "%s", db_str(s, 2));
		n++;
	}
	*done = n;
	for (int i = 0; i < n; i++) {
		char ref[32];
		ledger_id_format(ref, sizeof(ref), "grant_", ids[i]);
		enum cd_err rc = db_do(lg, "UPDATE grants SET remaining_micros = 0 WHERE id = ?", "grant expiry",
				       "i", ids[i]);
		if (rc == CD_OK)
			rc = journal_append(lg, a, -left[i], "expiry", sources[i], ids[i], 0, ref,
					    "expired grant written off", NULL);
		if (rc != CD_OK)
			return rc;
	}
	return CD_OK;
}

/* All of them, for the same reason as expire_holds: an expired grant left
 * standing would still be spent. */
static enum cd_err expire_grants(struct ledger *lg, struct acct *a)
{
	int done = SWEEP_BATCH;
	enum cd_err rc = CD_OK;
	while (rc == CD_OK && done == SWEEP_BATCH)
		rc = expire_grant_batch(lg, a, &done);
	return rc;
}

enum cd_err acct_sweep(struct ledger *lg, struct acct *a)
{
	int e;
	enum cd_err rc = expire_holds(lg, a);
	if (rc == CD_OK)
		rc = expire_grants(lg, a);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = db_exec(lg, SQL_NEXT_DUE, &e, "ii", a->id, a->id);
	if (s == NULL)
		return db_err(lg, e, "sweep due");
	a->sweep_due_at = -1;
	if (db_fetch(s) == 1) {
		for (unsigned int c = 0; c < 2; c++)
			if (!db_null(s, c) && (a->sweep_due_at < 0 || db_i64(s, c) < a->sweep_due_at))
				a->sweep_due_at = db_i64(s, c);
	}
	return CD_OK;
}

struct sweep_run { int max; int swept; };

static enum cd_err sweep_one(struct ledger *lg, void *arg)
{
	struct acct a;
	enum cd_err rc = acct_lock_id(lg, *(int64_t *)arg, &a);
	if (rc == CD_OK && a.dirty)
		rc = acct_store(lg, &a);
	return rc == CD_E_NOT_FOUND ? CD_OK : rc;
}

struct due_list { int64_t ids[256]; int n; int max; };

static enum cd_err due_tx(struct ledger *lg, void *arg)
{
	static const char sql[] = "SELECT id FROM accounts WHERE sweep_due_at <= ? ORDER BY sweep_due_at LIMIT ?";
	struct due_list *d = arg;
	int e;
	d->n = 0;
	struct dbstmt *s = db_exec(lg, sql, &e, "ii", lg->now, (int64_t)d->max);
	if (s == NULL)
		return db_err(lg, e, "sweep scan");
	while (d->n < d->max && db_fetch(s) == 1)
		d->ids[d->n++] = db_i64(s, 0);
	return CD_OK;
}

static enum cd_err purge_tx(struct ledger *lg, void *arg)
{
	static const char sql[] = "DELETE FROM idempotency_keys WHERE created_at < ? LIMIT 1000";
	(void)arg;
	return db_do(lg, sql, "idempotency purge", "i", lg->now - lg->cfg->idempotency_ttl_hours * 3600);
}

enum cd_err ledger_sweep(struct ledger *lg, int max, int *swept)
{
	struct due_list d;
	d.max = max > 256 ? 256 : max;
	*swept = 0;
	enum cd_err rc = ledger_run(lg, due_tx, &d);
	for (int i = 0; rc == CD_OK && i < d.n; i++) {
		rc = ledger_run(lg, sweep_one, &d.ids[i]);
		if (rc == CD_OK)
			(*swept)++;
	}
	if (rc == CD_OK)
		rc = ledger_run(lg, purge_tx, NULL);
	return rc;
}
