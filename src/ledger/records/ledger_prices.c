/* ledger_prices.c: the process-wide price cache and the price import.
 *
 * Models, actions and the margin are read from the database into one
 * cache shared by every thread (a read-write lock: lookups on every guard
 * request), sorted for a binary search. In creditd one thread reloads it
 * (ledger_prices_serve), asked by the background thread's sweeps, by
 * SIGHUP, and by a request that names a model the cache does not know
 * yet, which waits for that reload and never opens a transaction
 * itself. A model's price carries its optional dimensions (pricing.h
 * PRICE_DIMS: NULL columns are not priced), read and written from that
 * one table; a media row's token prices are NULL (no_tokens:
 * docs/decisions.md, "A media row prices no token"). A provider's own row for a model (sql/062, provider_prices;
 * docs/gateway.md, "Which price a call is charged") sits in the cache
 * beside the model's general row, found by (model, provider); the guard
 * and every lookup that names no provider get the general row. The import
 * (creditctl price import) writes every row in one transaction, and
 * refuses one that would leave more than the cache holds, or a
 * provider's row without its model's general row. Nothing here touches
 * an account. */
#include "ledger_int.h"
#include "ledger_reconcile.h"
#include "log.h"
#include "timefmt.h"
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Price cache ---- */

#define PRICES_MAX LIMIT_PRICES
struct price_entry {
	char name[LEDGER_NAME_MAX + 1];
	char provider[PRICING_PROVIDER_MAX + 1];	/* "": the model's general row (and every action) */
	struct price p;
	int64_t action_micros;		/* -1 for models */
};
static struct {
	pthread_rwlock_t lock;
	struct price_entry e[PRICES_MAX];
	int n;
	int64_t margin_bps;
	int loaded;			/* a reload succeeded once */
} prices = {PTHREAD_RWLOCK_INITIALIZER, {{"", "", {0, 0, 0, 0, 0, PRICING_NO_DIMS}, 0}}, 0, 10000, 0};

struct price_load { struct price_entry e[PRICES_MAX]; int n; int64_t margin; };

/* The optional dimensions' columns (pricing.h PRICE_DIMS), in the
 * table's order, each after a comma: read after a model's five prices,
 * written after them. */
#define DIM_COL(id, field) ", " #field
#define DIM_COLS PRICE_DIMS(DIM_COL)
#define DIM_PARAM(id, field) ", ?"
#define DIM_UPDATE(id, field) ", " #field " = VALUES(" #field ")"
_Static_assert(8 + PRICE_DIM_COUNT <= LIMIT_DB_PARAMS, "a model's upsert binds every column");
_Static_assert(PRICING_PROVIDER_MAX + 1 == LIMIT_CONFIG_NAME_BYTES, "a provider's row names a provider of the config");

/* The dimensions in columns col.. of the row s is on: NULL is not
 * priced. */
static void dims_read(const struct dbstmt *s, unsigned int col, struct price *p)
{
	p->dims = (struct price_dims)PRICING_NO_DIMS;
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		if (!store_null(s, col + (unsigned int)d))
			pricing_dim_put(p, d, store_i64(s, col + (unsigned int)d));
}

/* A row's output price NULL: a media row (written so by token_bind),
 * pricing its prompt's text when its input price is not NULL. The input
 * price is two columns before the output's in every read. */
static void tokens_read(const struct dbstmt *s, unsigned int output_col, struct price *p)
{
	assert(output_col >= 2);
	p->dims.no_tokens = store_null(s, output_col);
	p->dims.text_input = p->dims.no_tokens && !store_null(s, output_col - 2);
	assert(!p->dims.no_tokens || p->output_micros_per_mtok == 0);	/* store_i64 reads NULL as 0 */
}

/* A token price or max_output_tokens (text: an input, cached-input or
 * cache-write price): NULL on a media row, but for the text prices of one
 * that prices them. */
static void token_bind(struct db_params *dp, const struct price *p, const int64_t *v, int text)
{
	store_param_i64_or_null(dp, pricing_prices_tokens(p) || (text && pricing_prices_text_input(p)) ? v : NULL);
}

static void dims_bind(struct db_params *dp, const struct price *p)
{
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		store_param_i64_or_null(dp, pricing_dim_get(p, d, NULL) ? &p->dims.v[d] : NULL);
}

/* Models first, then actions, each by name (strcmp), a model's general
 * row ("") before its providers' rows: the order of the binary search. */
static int entry_order(const void *a, const void *b)
{
	const struct price_entry *x = a, *y = b;
	int kind = (x->action_micros >= 0) - (y->action_micros >= 0);
	int name = kind != 0 ? kind : strcmp(x->name, y->name);
	return name != 0 ? name : strcmp(x->provider, y->provider);
}

static enum cd_err too_many(void)
{
	log_error("more than %d models and actions: the price list is refused", PRICES_MAX);
	return CD_E_INTERNAL;
}

static enum cd_err prices_tx(struct store *db, struct price_load *l)
{
	/* A model with no cache-write price of its own (NULL) writes its
	 * cache at its input price (docs/api.md, "Costs"). */
	static const char sql_models[] = "SELECT name, '', input_micros_per_mtok, cached_input_micros_per_mtok, "
					 "output_micros_per_mtok, max_output_tokens, "
					 "COALESCE(cache_write_micros_per_mtok, input_micros_per_mtok)" DIM_COLS
					 " FROM models UNION ALL SELECT name, provider, input_micros_per_mtok, "
					 "cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens, "
					 "COALESCE(cache_write_micros_per_mtok, input_micros_per_mtok)" DIM_COLS
					 " FROM provider_prices";
	static const char sql_actions[] = "SELECT name, price_micros FROM actions ORDER BY name";
	static const char sql_margin[] = "SELECT value FROM settings WHERE name = 'margin_bps'";
	int e;
	l->n = 0;
	struct dbstmt *s = store_exec(db, sql_models, &e, "");
	if (s == NULL)
		return store_err(db, e, "price load");
	while (l->n < PRICES_MAX && store_fetch(s) == 1) {
		struct price_entry *p = &l->e[l->n++];
		snprintf(p->name, sizeof(p->name), "%s", store_str(s, 0));
		snprintf(p->provider, sizeof(p->provider), "%s", store_str(s, 1));
		p->p.input_micros_per_mtok = store_i64(s, 2);
		p->p.cached_input_micros_per_mtok = store_i64(s, 3);
		p->p.output_micros_per_mtok = store_i64(s, 4);
		p->p.max_output_tokens = store_i64(s, 5);
		p->p.cache_write_micros_per_mtok = store_i64(s, 6);
		dims_read(s, 7, &p->p);
		tokens_read(s, 4, &p->p);
		p->action_micros = -1;
	}
	if (l->n == PRICES_MAX && store_fetch(s) == 1)
		return too_many();
	s = store_exec(db, sql_actions, &e, "");
	if (s == NULL)
		return store_err(db, e, "price load");
	while (l->n < PRICES_MAX && store_fetch(s) == 1) {
		struct price_entry *p = &l->e[l->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", store_str(s, 0));
		p->action_micros = store_i64(s, 1);
	}
	if (l->n == PRICES_MAX && store_fetch(s) == 1)
		return too_many();
	s = store_exec(db, sql_margin, &e, "");
	if (s == NULL)
		return store_err(db, e, "price load");
	l->margin = store_fetch(s) == 1 ? store_i64(s, 0) : 10000;
	qsort(l->e, (size_t)l->n, sizeof(l->e[0]), entry_order);
	return CD_OK;
}

/* One reload on db's connection: the list read in one transaction, then
 * put in the cache whole. */
static enum cd_err reload_tx(struct store *db)
{
	struct price_load *l = malloc(sizeof(*l));
	enum cd_err rc = l == NULL ? CD_E_INTERNAL : CD_OK;
	struct store_tx t;
	for (store_tx_init(db, &t); rc == CD_OK && store_tx_next(db, &t);)
		store_tx_end(db, &t, prices_tx(db, l));
	rc = rc == CD_OK ? t.rc : rc;
	if (rc == CD_OK) {
		pthread_rwlock_wrlock(&prices.lock);
		memcpy(prices.e, l->e, sizeof(l->e[0]) * (size_t)l->n);
		prices.n = l->n;
		prices.margin_bps = l->margin;
		prices.loaded = 1;
		pthread_rwlock_unlock(&prices.lock);
	}
	free(l);
	return rc;
}

enum cd_err ledger_prices_reload(struct store *db)
{
	return reload_tx(db);
}

/* In creditd the reload thread alone reloads (ledger_prices_serve): a
 * request never opens a transaction for prices
 * (docs/architecture.md, "Price reloads"). Asks are numbered; a reload
 * serves every ask made before it started, so it reads what was
 * committed before those asks, and asks made while one runs are served
 * by the next, one reload for them all. The lock guards the numbers,
 * never a reload's work. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t asked_cv;	/* an ask, or the stop */
	pthread_cond_t ended;		/* a reload ended, or the thread stopped */
	uint64_t asked;			/* the last number given */
	uint64_t started;		/* the number of the last reload started */
	uint64_t done;			/* the number of the last reload ended */
	uint64_t listed;		/* the number whose list the cache holds */
	uint64_t miss_asks;		/* reloads misses asked for */
	int serving;			/* the reload thread runs */
	int stop;			/* it is to end */
} reloads = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0};

/* The last reload started: read without the lock (every lookup does),
 * written under it, atomically. */
static uint64_t reloads_started(void)
{
	return __atomic_load_n(&reloads.started, __ATOMIC_ACQUIRE);
}

/* A new number, handed to the thread (reloads.lock held). */
static void reload_ask(void)
{
	reloads.asked++;
	pthread_cond_signal(&reloads.asked_cv);
}

void ledger_prices_ask(void)
{
	pthread_mutex_lock(&reloads.lock);
	reload_ask();
	pthread_mutex_unlock(&reloads.lock);
}

void ledger_prices_start(void)
{
	pthread_mutex_lock(&reloads.lock);
	reloads.serving = 1;
	reload_ask();			/* the first load */
	pthread_mutex_unlock(&reloads.lock);
}

void ledger_prices_serve(struct store *db)
{
	pthread_mutex_lock(&reloads.lock);
	assert(reloads.serving);
	if (db == NULL) {
		log_error("price reloads stopped: out of memory");
		reloads.stop = 1;
	}
	for (;;) {
		while (!reloads.stop && reloads.asked == reloads.started)
			pthread_cond_wait(&reloads.asked_cv, &reloads.lock);
		if (reloads.stop)
			break;
		uint64_t number = reloads.asked;
		__atomic_store_n(&reloads.started, number, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&reloads.lock);
		enum cd_err rc = reload_tx(db);
		if (rc != CD_OK)
			log_warn("prices not reloaded: %s", store_errmsg(db));
		pthread_mutex_lock(&reloads.lock);
		assert(reloads.done < number);
		reloads.done = number;
		if (rc == CD_OK)
			reloads.listed = number;
		pthread_cond_broadcast(&reloads.ended);
	}
	reloads.serving = 0;
	pthread_cond_broadcast(&reloads.ended);
	pthread_mutex_unlock(&reloads.lock);
}

void ledger_prices_stop(void)
{
	pthread_mutex_lock(&reloads.lock);
	reloads.stop = 1;
	pthread_cond_broadcast(&reloads.asked_cv);
	pthread_mutex_unlock(&reloads.lock);
}

uint64_t ledger_prices_miss_asks(void)
{
	pthread_mutex_lock(&reloads.lock);
	uint64_t n = reloads.miss_asks;
	pthread_mutex_unlock(&reloads.lock);
	return n;
}

/* The reloads lookups' misses asked for in the current window. */
static struct {
	pthread_mutex_t lock;
	int64_t window_ms;		/* CLOCK_MONOTONIC ms it began */
	int reloads;
} misses = {PTHREAD_MUTEX_INITIALIZER, INT64_MIN / 2, 0};

/* Whether the window's quota lets a miss ask a reload; spends one if so. */
static int miss_quota(void)
{
	int64_t now = timefmt_mono_ms();
	int go;
	/* A few reloads a window, whoever asks: a stream of unknown names is
	 * not a stream of reloads (docs/decisions.md, "Price misses"). */
	pthread_mutex_lock(&misses.lock);
	if (now - misses.window_ms >= LIMIT_PRICE_MISS_RELOAD_MS) {
		misses.window_ms = now;
		misses.reloads = 0;
	}
	go = misses.reloads < LIMIT_PRICE_MISS_RELOADS;
	misses.reloads += go;
	pthread_mutex_unlock(&misses.lock);
	return go;
}

/* A lookup begun when reload `seen` was the last started missed: the
 * cache is made to hold a list read after it began, if it can be, by the
 * reload thread; this thread only waits. Reloads asked for and not ended
 * start after `seen` (one at a time, in order): they are waited for and
 * cost nothing; if none is, or none loaded, this lookup asks for one (a
 * miss: if the window's quota lets it) and waits for it to end. Without
 * quota, and with none to come, it waits for nothing (not for the one in
 * flight, started too early to tell); with no reload thread (creditctl),
 * for nothing either. The wait lasts as long as the reload, which its
 * transaction's deadline (the database timeouts) bounds, as a reload of
 * the request's own did. The caller looks again either way. */
static void reload_after(uint64_t seen, int miss)
{
	int own = 0;
	pthread_mutex_lock(&reloads.lock);
	for (;;) {
		uint64_t target = reloads.asked;
		while (reloads.serving && reloads.listed <= seen && target > seen && reloads.done < target)
			pthread_cond_wait(&reloads.ended, &reloads.lock);
		if (!reloads.serving || reloads.listed > seen || own || (miss && !miss_quota()))
			break;
		assert(reloads.asked >= seen);
		reload_ask();
		reloads.miss_asks += (uint64_t)miss;
		own = 1;
	}
	pthread_mutex_unlock(&reloads.lock);
}

int ledger_price_model_wait(const char *name, struct price *p, int64_t *margin_bps)
{
	uint64_t seen = reloads_started();
	if (ledger_price_model(name, p, margin_bps))
		return 1;
	reload_after(seen, 1);
	return ledger_price_model(name, p, margin_bps);
}

int ledger_price_action_wait(const char *name, int64_t *price_micros)
{
	uint64_t seen = reloads_started();
	if (ledger_price_action(name, price_micros))
		return 1;
	reload_after(seen, 1);
	return ledger_price_action(name, price_micros);
}

void ledger_prices_sync(void)
{
	reload_after(reloads_started(), 0);
}

int ledger_prices_ready(void)
{
	uint64_t seen = reloads_started();
	if (ledger_prices_loaded())
		return 1;
	reload_after(seen, 0);
	return ledger_prices_loaded();
}

/* The entry of name (a model's row for provider, "" its general row; an
 * action's), copied to *out, with the margin. 1 found, 0 not. */
static int price_find(const char *name, const char *provider, int want_action, struct price_entry *out,
		      int64_t *margin)
{
	struct price_entry key;
	const struct price_entry *hit = NULL;
	size_t len = strlen(name), plen = strlen(provider);
	int fits = len < sizeof(key.name) && plen < sizeof(key.provider);	/* a longer name is priced by none */
	if (fits) {
		memcpy(key.name, name, len + 1);
		memcpy(key.provider, provider, plen + 1);
		key.action_micros = want_action ? 0 : -1;
	}
	pthread_rwlock_rdlock(&prices.lock);
	if (fits)
		hit = bsearch(&key, prices.e, (size_t)prices.n, sizeof(prices.e[0]), entry_order);
	if (hit != NULL)
		*out = *hit;
	if (margin != NULL)
		*margin = prices.margin_bps;
	pthread_rwlock_unlock(&prices.lock);
	return hit != NULL;
}

int ledger_prices_loaded(void)
{
	pthread_rwlock_rdlock(&prices.lock);
	int loaded = prices.loaded;
	pthread_rwlock_unlock(&prices.lock);
	return loaded;
}

int ledger_price_model(const char *name, struct price *p, int64_t *margin_bps)
{
	struct price_entry e;
	if (!price_find(name, "", 0, &e, margin_bps))
		return 0;
	*p = e.p;
	return 1;
}

int ledger_price_model_at(const char *name, const char *provider, struct price *p, int64_t *margin_bps, int *own)
{
	struct price_entry e;
	*own = provider[0] != '\0' && price_find(name, provider, 0, &e, margin_bps);
	if (!*own && !price_find(name, "", 0, &e, margin_bps))
		return 0;
	*p = e.p;
	return 1;
}

int ledger_price_action(const char *name, int64_t *price_micros)
{
	struct price_entry e;
	if (!price_find(name, "", 1, &e, NULL))
		return 0;
	*price_micros = e.action_micros;
	return 1;
}

json_t *ledger_price_dims_json(const struct price *p, json_t *into)
{
	for (int d = 0; d < PRICE_DIM_COUNT; d++) {
		int64_t v;
		json_t *value = json_null();
		if (pricing_dim_get(p, d, &v))
			value = d == PRICE_DIM_REASONING ? json_boolean(v) : json_integer((json_int_t)v);
		json_object_set_new(into, pricing_dim_name(d), value);
	}
	return into;
}

json_t *ledger_price_tokens_json(const struct price *p, json_t *into)
{
	static const char *const names[] = {"input_micros_per_mtok", "cached_input_micros_per_mtok",
					    "cache_write_micros_per_mtok", "output_micros_per_mtok", "max_output_tokens"};
	const int64_t v[] = {p->input_micros_per_mtok, p->cached_input_micros_per_mtok, p->cache_write_micros_per_mtok,
			     p->output_micros_per_mtok, p->max_output_tokens};
	const int text[] = {1, 1, 1, 0, 0};
	_Static_assert(sizeof(v) / sizeof(v[0]) == sizeof(names) / sizeof(names[0]), "a name a field");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int priced = pricing_prices_tokens(p) || (text[i] && pricing_prices_text_input(p));
		json_object_set_new(into, names[i], priced ? json_integer((json_int_t)v[i]) : json_null());
	}
	return into;
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
			json_array_append_new(models, ledger_price_dims_json(&p->p,
				ledger_price_tokens_json(&p->p, json_pack("{s:s, s:o}", "model", p->name, "provider",
				p->provider[0] != '\0' ? json_string(p->provider) : json_null()))));
	}
	int64_t margin = prices.margin_bps;
	pthread_rwlock_unlock(&prices.lock);
	return json_pack("{s:I, s:s, s:o, s:o}", "margin_bps", (json_int_t)margin, "currency", currency,
			 "data", models, "actions", actions);
}

/* The statements of one model's write: its general row (models) or a
 * provider's (provider_prices, sql/062), each binding the name, then the
 * provider for a provider's row. The history entry is the row as just
 * written. Each written out whole (the tests read the SQL text). */
struct row_sql { const char *was, *upsert, *history; };
static const struct row_sql general_sql = {
	"SELECT input_micros_per_mtok, cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens, "
	"COALESCE(cache_write_micros_per_mtok, input_micros_per_mtok)" DIM_COLS " FROM models WHERE name = ? FOR UPDATE",
	"INSERT INTO models (name, input_micros_per_mtok, cached_input_micros_per_mtok, "
	"output_micros_per_mtok, max_output_tokens, cache_write_micros_per_mtok" DIM_COLS ", updated_at) "
	"VALUES (?, ?, ?, ?, ?, ?" PRICE_DIMS(DIM_PARAM) ", ?) "
	"ON DUPLICATE KEY UPDATE input_micros_per_mtok = VALUES(input_micros_per_mtok), "
	"cached_input_micros_per_mtok = VALUES(cached_input_micros_per_mtok), "
	"output_micros_per_mtok = VALUES(output_micros_per_mtok), "
	"max_output_tokens = VALUES(max_output_tokens), "
	"cache_write_micros_per_mtok = VALUES(cache_write_micros_per_mtok)" PRICE_DIMS(DIM_UPDATE)
	", updated_at = VALUES(updated_at)",
	"INSERT INTO price_history (model, input_micros_per_mtok, "
	"cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens, cache_write_micros_per_mtok"
	DIM_COLS ", effective_at) SELECT name, input_micros_per_mtok, cached_input_micros_per_mtok, "
	"output_micros_per_mtok, max_output_tokens, cache_write_micros_per_mtok" DIM_COLS ", ? "
	"FROM models WHERE name = ?",
};
static const struct row_sql provider_sql = {
	"SELECT input_micros_per_mtok, cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens, "
	"COALESCE(cache_write_micros_per_mtok, input_micros_per_mtok)" DIM_COLS " FROM provider_prices "
	"WHERE name = ? AND provider = ? FOR UPDATE",
	"INSERT INTO provider_prices (name, provider, input_micros_per_mtok, cached_input_micros_per_mtok, "
	"output_micros_per_mtok, max_output_tokens, cache_write_micros_per_mtok" DIM_COLS ", updated_at) "
	"VALUES (?, ?, ?, ?, ?, ?, ?" PRICE_DIMS(DIM_PARAM) ", ?) "
	"ON DUPLICATE KEY UPDATE input_micros_per_mtok = VALUES(input_micros_per_mtok), "
	"cached_input_micros_per_mtok = VALUES(cached_input_micros_per_mtok), "
	"output_micros_per_mtok = VALUES(output_micros_per_mtok), "
	"max_output_tokens = VALUES(max_output_tokens), "
	"cache_write_micros_per_mtok = VALUES(cache_write_micros_per_mtok)" PRICE_DIMS(DIM_UPDATE)
	", updated_at = VALUES(updated_at)",
	"INSERT INTO price_history (model, provider, input_micros_per_mtok, "
	"cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens, cache_write_micros_per_mtok"
	DIM_COLS ", effective_at) SELECT name, provider, input_micros_per_mtok, cached_input_micros_per_mtok, "
	"output_micros_per_mtok, max_output_tokens, cache_write_micros_per_mtok" DIM_COLS ", ? "
	"FROM provider_prices WHERE name = ? AND provider = ?",
};

/* One model's price written (its general row, or a provider's), and
 * entered in its history when it is new or changed (the same price
 * imported again is not; a NULL cache-write price is the input price, the
 * same as that price written out). Every price is written as the row has
 * it: a row without a cache-write price has its input price there
 * (pricing_parse_row), so only a model priced before sql/034 keeps NULL
 * (the input price). */
static enum cd_err import_model(struct store *db, const struct price_row *row)
{
	int own = row->provider[0] != '\0';
	const struct row_sql *sql = own ? &provider_sql : &general_sql;
	const struct price *q = &row->price;
	struct price was = {0, 0, 0, 0, 0, PRICING_NO_DIMS};
	struct db_params dp;
	int e, found;
	struct dbstmt *s = own ? store_exec(db, sql->was, &e, "ss", row->name, row->provider)
			       : store_exec(db, sql->was, &e, "s", row->name);
	if (s == NULL)
		return store_err(db, e, "price import");
	found = store_fetch(s) == 1;
	if (found) {
		was = (struct price){store_i64(s, 0), store_i64(s, 1), store_i64(s, 2), store_i64(s, 3),
				     store_i64(s, 4), PRICING_NO_DIMS};
		dims_read(s, 5, &was);
		tokens_read(s, 2, &was);
	}
	store_params_init(&dp);
	store_param_str(&dp, row->name);
	if (own)
		store_param_str(&dp, row->provider);
	token_bind(&dp, q, &q->input_micros_per_mtok, 1);
	token_bind(&dp, q, &q->cached_input_micros_per_mtok, 1);
	token_bind(&dp, q, &q->output_micros_per_mtok, 0);
	token_bind(&dp, q, &q->max_output_tokens, 0);
	token_bind(&dp, q, &q->cache_write_micros_per_mtok, 1);
	dims_bind(&dp, q);
	store_param_i64(&dp, db->now);
	if (store_exec_params(db, sql->upsert, &dp, &e) == NULL)
		return store_err(db, e, "price import");
	if (found && pricing_same(&was, q))
		return CD_OK;
	return own ? store_do(db, sql->history, "price history", "iss", db->now, row->name, row->provider)
		   : store_do(db, sql->history, "price history", "is", db->now, row->name);
}

/* A provider's row whose model has no general row: refused, the pair
 * named (docs/creditctl.md, "price set --provider"). */
static enum cd_err import_general_first(struct store *db)
{
	static const char sql[] = "SELECT p.name, p.provider FROM provider_prices p LEFT JOIN models m ON m.name = p.name "
				  "WHERE m.name IS NULL LIMIT 1";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "");
	if (s == NULL)
		return store_err(db, e, "price import");
	if (store_fetch(s) != 1)
		return CD_OK;
	snprintf(db->errmsg, sizeof(db->errmsg), "%s has a price for the provider %s but no general price: set the "
		 "model's own price first; nothing imported", store_str(s, 0), store_str(s, 1));
	return CD_E_INVALID;
}

/* The models and actions the list holds once written: more than the
 * cache takes would leave creditd unable to load its prices. */
static enum cd_err import_fits(struct store *db)
{
	static const char sql[] = "SELECT (SELECT COUNT(*) FROM models) + (SELECT COUNT(*) FROM provider_prices) + "
				  "(SELECT COUNT(*) FROM actions)";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "");
	if (s == NULL)
		return store_err(db, e, "price import");
	int64_t n = store_fetch(s) == 1 ? store_i64(s, 0) : 0;
	if (n <= LIMIT_PRICES)
		return CD_OK;
	snprintf(db->errmsg, sizeof(db->errmsg), "the price list would hold %" PRId64 " models and actions, more "
		 "than the %d creditd loads; nothing imported", n, LIMIT_PRICES);
	return CD_E_INVALID;
}

static enum cd_err import_tx(struct store *db, const struct price_row *rows, size_t n)
{
	static const char sql_action[] = "INSERT INTO actions (name, price_micros, updated_at) VALUES (?, ?, ?) "
		"ON DUPLICATE KEY UPDATE price_micros = VALUES(price_micros), updated_at = VALUES(updated_at)";
	static const char sql_margin[] = "INSERT INTO settings (name, value) VALUES ('margin_bps', ?) "
		"ON DUPLICATE KEY UPDATE value = VALUES(value)";
	/* Locks no account first: marked on Galera before it writes (sql/085). */
	enum cd_err mc = store_mark_all(db);
	if (mc != CD_OK)
		return mc;
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < n && rc == CD_OK; i++) {
		const struct price_row *p = &rows[i];
		if (p->kind == PRICE_ROW_MODEL)
			rc = import_model(db, p);
		else if (p->kind == PRICE_ROW_ACTION)
			rc = store_do(db, sql_action, "price import", "sii", p->name, p->price_micros, db->now);
		else if (p->kind == PRICE_ROW_MARGIN)
			rc = store_do(db, sql_margin, "price import", "i", p->margin_bps);
	}
	rc = rc == CD_OK ? import_general_first(db) : rc;
	return rc == CD_OK ? import_fits(db) : rc;
}

enum cd_err ledger_prices_import(struct store *db, const struct price_row *rows, size_t n)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, import_tx(db, rows, n));
	return t.rc;
}

/* ---- Price history ---- */

static enum cd_err history_tx(struct store *db, const char *model, const struct ledger_price_change *after,
			      struct ledger_price_change *rows, int cap, int *n)
{
	static const char sql[] = "SELECT id, input_micros_per_mtok, cached_input_micros_per_mtok, "
		"output_micros_per_mtok, max_output_tokens, effective_at, "
		"COALESCE(cache_write_micros_per_mtok, input_micros_per_mtok)" DIM_COLS ", provider "
		"FROM price_history WHERE model = ? "
		"AND (effective_at > ? OR (effective_at = ? AND id > ?)) ORDER BY effective_at, id LIMIT ?";
	/* From the first: before every row (effective_at is unix seconds). */
	int64_t at = after != NULL ? after->effective_at : INT64_MIN, seq = after != NULL ? after->seq : INT64_MIN;
	int e;
	*n = 0;	/* a retried transaction starts the page again */
	struct dbstmt *s = store_exec(db, sql, &e, "siiii", model, at, at, seq, (int64_t)cap);
	if (s == NULL)
		return store_err(db, e, "price history");
	while (*n < cap && store_fetch(s) == 1) {
		rows[*n] = (struct ledger_price_change){store_i64(s, 0), {store_i64(s, 1), store_i64(s, 2),
			store_i64(s, 3), store_i64(s, 4), store_i64(s, 6), PRICING_NO_DIMS}, store_i64(s, 5), ""};
		dims_read(s, 7, &rows[*n].price);
		tokens_read(s, 3, &rows[*n].price);
		snprintf(rows[*n].provider, sizeof(rows[*n].provider), "%s",
			 store_null(s, 7 + PRICE_DIM_COUNT) ? "" : store_str(s, 7 + PRICE_DIM_COUNT));
		(*n)++;
	}
	return CD_OK;
}

enum cd_err ledger_price_history(struct store *db, const char *model, const struct ledger_price_change *after,
				 struct ledger_price_change *rows, int cap, int *n)
{
	struct store_tx t;
	*n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, history_tx(db, model, after, rows, cap, n));
	if (t.rc != CD_OK)
		*n = 0;
	return t.rc == CD_OK && *n == 0 && after == NULL ? CD_E_NOT_FOUND : t.rc;
}

/* The price a model had on a day, for creditctl reconcile. */
static enum cd_err price_tx(struct store *db, const char *model, int64_t before, struct price *p, int *found)
{
	/* The last change before the moment; a model first priced later that
	 * day (or after) is reconciled at its first price. */
	static const char sql[] = "SELECT input_micros_per_mtok, cached_input_micros_per_mtok, output_micros_per_mtok, "
		"max_output_tokens, COALESCE(cache_write_micros_per_mtok, input_micros_per_mtok)" DIM_COLS " "
		"FROM price_history WHERE model = ? AND provider IS NULL "
		"ORDER BY effective_at < ? DESC, CASE WHEN effective_at < ? THEN -effective_at ELSE effective_at END, "
		"CASE WHEN effective_at < ? THEN -id ELSE id END LIMIT 1";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "siii", model, before, before, before);
	if (s == NULL)
		return store_err(db, e, "reconcile price");
	*found = store_fetch(s) == 1;
	if (*found) {
		*p = (struct price){store_i64(s, 0), store_i64(s, 1), store_i64(s, 2), store_i64(s, 3),
				    store_i64(s, 4), PRICING_NO_DIMS};
		dims_read(s, 5, p);	/* with its dimensions (docs/reconciliation.md: reconcile prices them) */
		tokens_read(s, 2, p);
	}
	return CD_OK;
}

enum cd_err ledger_price_in_effect(struct store *db, const char *model, int64_t before, struct price *p, int *found)
{
	struct store_tx t;
	*found = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, price_tx(db, model, before, p, found));
	return t.rc;
}
