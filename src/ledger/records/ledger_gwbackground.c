/* ledger_gwbackground.c: the record of the Responses API's background runs
 * made through the gateway (sql/072, gateway_background; docs/gateway.md,
 * "Background responses"): one row a run, which account it is of, the
 * hold that waits for its end, the provider that runs it, and when
 * creditd's poll looks at it next. It is the poll's durable list: a
 * creditd restarted mid-run reads its runs here again.
 *
 * Never: reads or writes money. The run's hold is settled by the ledger's
 * own settle (ledger_settle), once, whoever learns first that the run
 * ended; this file only says which runs still wait. One small transaction
 * an operation, on the account's node when it is known. */
#include "ledger_int.h"
#include "ledger_rows.h"
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_COLUMNS "g.response_id, a.ext_id, g.hold_id, g.provider, g.model, g.output_cap, g.hold_input, " \
		    "g.searches_held, g.state, g.status, g.polls, g.next_poll_at, g.created_at, g.price, g.margin_bps, " \
		    "g.attempt, g.price_own, g.tier, g.web_search, g.web_search_max, g.web_search_size, g.long_context_off"
enum { C_ID, C_ACCOUNT, C_HOLD, C_PROVIDER, C_MODEL, C_CAP, C_INPUT, C_SEARCHES, C_STATE, C_STATUS, C_POLLS, C_NEXT,
       C_CREATED, C_PRICE, C_MARGIN, C_ATTEMPT, C_OWN, C_TIER, C_SEARCH, C_SEARCH_MAX, C_SEARCH_SIZE, C_LC_OFF,
       C_COUNT };

/* The price column's text: the token prices, max_output_tokens, the
 * media flags, the dimensions' set and every dimension's value, in this
 * order, separated by spaces (sql/072). */
#define PRICE_TEXT_BYTES 2048
#define PRICE_HEAD 8

static const char SQL_START[] = "INSERT IGNORE INTO gateway_background (response_id, account_id, hold_id, hold_row, "
				"provider, model, output_cap, hold_input, searches_held, next_poll_at, created_at, price, margin_bps, "
				"attempt, price_own, tier, web_search, web_search_max, web_search_size, long_context_off) "
				"SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM accounts WHERE ext_id = ?";
static const char SQL_FIND[] = "SELECT " RUN_COLUMNS " FROM gateway_background g STRAIGHT_JOIN accounts a "
			       "ON a.id = g.account_id WHERE g.response_id = ?";
static const char SQL_DUE[] = "SELECT " RUN_COLUMNS " FROM gateway_background g STRAIGHT_JOIN accounts a "
			      "ON a.id = g.account_id WHERE g.state = 'running' AND g.next_poll_at <= ? "
			      "ORDER BY g.next_poll_at LIMIT ?";
/* Where the poller's claim still stands (next_poll_at as it left it): a
 * webhook that moved the run's look to now while the poll waited for its
 * answer (the answer made before the run ended) keeps it there. */
static const char SQL_NEXT[] = "UPDATE gateway_background SET status = ?, polls = ?, next_poll_at = ? "
			       "WHERE response_id = ? AND state = 'running' AND next_poll_at = ?";
static const char SQL_END[] = "UPDATE gateway_background SET state = 'ended', status = ?, ended_at = ? "
			      "WHERE response_id = ? AND state = 'running'";
static const char SQL_WAKE[] = "UPDATE gateway_background SET next_poll_at = ? WHERE response_id = ? AND state = 'running'";
static const char SQL_WAKE_ALL[] = "UPDATE gateway_background SET next_poll_at = ? WHERE state = 'running' "
				   "AND next_poll_at > ?";
/* Expired or not: the sweep never takes a running run's hold (sql/084),
 * so one that expired while creditd was away is renewed too. */
static const char SQL_RENEW_ALL[] = "UPDATE holds h JOIN gateway_background g ON g.hold_row = h.id "
				    "AND g.account_id = h.account_id SET h.expires_at = GREATEST(h.expires_at, ?) "
				    "WHERE g.state = 'running' AND h.state = 'pending'";
static const char SQL_CLAIM[] = "UPDATE gateway_background SET next_poll_at = ? WHERE response_id = ? "
				"AND state = 'running' AND next_poll_at = ?";

enum op { OP_START, OP_FIND, OP_DUE, OP_NEXT, OP_END, OP_WAKE, OP_WAKE_ALL, OP_RENEW_ALL, OP_CLAIM };

struct run_tx {
	enum op op;
	const struct ledger_gw_run *in;	/* OP_START */
	const char *id, *status;	/* OP_FIND, OP_NEXT, OP_END, OP_WAKE */
	int64_t polls, next_at;		/* OP_NEXT; OP_CLAIM: the read next_at, until in polls */
	int64_t claimed;		/* OP_NEXT: next_poll_at as the poller's claim left it */
	struct ledger_gw_run *out;	/* OP_FIND (one), OP_DUE (cap) */
	size_t cap, n;
	int found;
};

/* p as the price column's text into out (PRICE_TEXT_BYTES). */
static void price_text(const struct price *p, char *out)
{
	int n = snprintf(out, PRICE_TEXT_BYTES, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %d %d %" PRIu64,
			 p->input_micros_per_mtok, p->cached_input_micros_per_mtok, p->output_micros_per_mtok,
			 p->cache_write_micros_per_mtok, p->max_output_tokens, p->dims.no_tokens, p->dims.text_input,
			 p->dims.set);
	for (int d = 0; d < PRICE_DIM_COUNT && n > 0 && n < PRICE_TEXT_BYTES; d++)
		n += snprintf(out + n, (size_t)(PRICE_TEXT_BYTES - n), " %" PRId64, p->dims.v[d]);
	assert(n > 0 && n < PRICE_TEXT_BYTES);
}

/* The price column's text into p: 1, or 0 when it is empty (a row kept
 * without one) or not the text price_text writes. */
static int price_read(const char *text, struct price *p)
{
	int64_t v[PRICE_HEAD + PRICE_DIM_COUNT];
	char *end;
	const char *at = text;
	for (int i = 0; i < PRICE_HEAD + PRICE_DIM_COUNT; i++) {
		v[i] = (int64_t)strtoll(at, &end, 10);
		if (end == at || (i > 0 && i != 7 && v[i] < 0))
			return 0;
		at = end;
	}
	if (*at != '\0')
		return 0;
	memset(p, 0, sizeof(*p));
	p->input_micros_per_mtok = v[0];
	p->cached_input_micros_per_mtok = v[1];
	p->output_micros_per_mtok = v[2];
	p->cache_write_micros_per_mtok = v[3];
	p->max_output_tokens = v[4];
	p->dims.no_tokens = v[5] != 0;
	p->dims.text_input = v[6] != 0;
	p->dims.set = (uint64_t)v[7];
	for (int d = 0; d < PRICE_DIM_COUNT; d++)
		p->dims.v[d] = v[PRICE_HEAD + d];
	return v[0] >= 0;
}

/* One row of RUN_COLUMNS into r. 0, or -1 when a value does not fit (logged by store_copy). */
static int row_of(const struct dbstmt *s, struct ledger_gw_run *r)
{
	char state[16], price[PRICE_TEXT_BYTES];
	memset(r, 0, sizeof(*r));
	if (store_copy(s, C_ID, r->response_id, sizeof(r->response_id), "") != 0 ||
	    store_copy(s, C_ACCOUNT, r->account, sizeof(r->account), "") != 0 ||
	    store_copy(s, C_HOLD, r->hold_id, sizeof(r->hold_id), "") != 0 ||
	    store_copy(s, C_PROVIDER, r->provider, sizeof(r->provider), "") != 0 ||
	    store_copy(s, C_MODEL, r->model, sizeof(r->model), "") != 0 ||
	    store_copy(s, C_STATE, state, sizeof(state), "") != 0 ||
	    store_copy(s, C_STATUS, r->status, sizeof(r->status), "") != 0 ||
	    store_copy(s, C_PRICE, price, sizeof(price), "") != 0)
		return -1;
	r->has_price = price_read(price, &r->price);
	r->margin_bps = store_i64(s, C_MARGIN);
	r->attempt = store_i64(s, C_ATTEMPT);
	r->price_own = store_i64(s, C_OWN) != 0;
	r->tier = (int)store_i64(s, C_TIER);
	r->web_search = (int)store_i64(s, C_SEARCH);
	r->web_search_max = store_i64(s, C_SEARCH_MAX);
	r->web_search_size = (int)store_i64(s, C_SEARCH_SIZE);
	r->long_context_off = store_i64(s, C_LC_OFF) != 0;
	r->output_cap = store_i64(s, C_CAP);
	r->hold_input = store_i64(s, C_INPUT);
	r->searches_held = store_i64(s, C_SEARCHES);
	r->running = strcmp(state, "running") == 0;
	r->polls = store_i64(s, C_POLLS);
	r->next_poll_at = store_i64(s, C_NEXT);
	r->created_at = store_i64(s, C_CREATED);
	return 0;
}

static enum cd_err rows(struct store *db, struct run_tx *x)
{
	int e, got;
	struct dbstmt *s = x->op == OP_FIND ? store_exec(db, SQL_FIND, &e, "s", x->id)
					    : store_exec(db, SQL_DUE, &e, "ii", db->now, (int64_t)x->cap);
	if (s == NULL)
		return store_err(db, e, "background runs read");
	x->n = 0;
	while (x->n < x->cap) {
		got = store_fetch(s);
		if (got < 0)
			return CD_E_INTERNAL;
		if (got == 0)
			break;
		if (row_of(s, &x->out[x->n]) != 0)
			return CD_E_INTERNAL;
		x->n++;
	}
	x->found = x->n > 0;
	return CD_OK;
}

static enum cd_err start(struct store *db, const struct ledger_gw_run *r)
{
	char price[PRICE_TEXT_BYTES] = "";
	int64_t account_id, hold;
	if (ledger_rows_hold_id_parse(r->hold_id, &account_id, &hold) != 0)
		return CD_E_INVALID;
	if (r->has_price)
		price_text(&r->price, price);
	return store_do(db, SQL_START, "background run kept", "ssissiiiiisiiiiiiiis", r->response_id, r->hold_id,
			hold, r->provider, r->model, r->output_cap, r->hold_input, r->searches_held, r->next_poll_at, db->now,
			price, r->margin_bps, r->attempt, (int64_t)r->price_own, (int64_t)r->tier, (int64_t)r->web_search,
			r->web_search_max, (int64_t)r->web_search_size, (int64_t)r->long_context_off, r->account);
}

/* An UPDATE whose rows touched say *found. */
static enum cd_err touched(struct store *db, struct dbstmt *s, int e, const char *what, int *found)
{
	if (s == NULL)
		return store_err(db, e, what);
	*found = store_affected(s) > 0;
	return CD_OK;
}

static enum cd_err run_tx(struct store *db, void *arg)
{
	struct run_tx *x = arg;
	struct dbstmt *s;
	int e = 0;
	switch (x->op) {
	case OP_START:
		return start(db, x->in);
	case OP_NEXT:
		return store_do(db, SQL_NEXT, "background run's next poll", "siisi", x->status, x->polls, x->next_at, x->id,
				x->claimed);
	case OP_END:
		return store_do(db, SQL_END, "background run ended", "sis", x->status, db->now, x->id);
	case OP_WAKE_ALL:
		return store_do(db, SQL_WAKE_ALL, "background runs woken", "ii", db->now, db->now);
	case OP_RENEW_ALL:
		return store_do(db, SQL_RENEW_ALL, "background runs' holds renewed", "i", db->now + x->polls);
	case OP_CLAIM:
		/* The statement first, then its error: an argument's order of
		 * evaluation is unspecified. */
		s = store_exec(db, SQL_CLAIM, &e, "isi", x->polls, x->id, x->next_at);
		return touched(db, s, e, "background run claimed", &x->found);
	case OP_WAKE:
		s = store_exec(db, SQL_WAKE, &e, "is", db->now, x->id);
		return touched(db, s, e, "background run woken", &x->found);
	default:
		return rows(db, x);
	}
}

enum cd_err ledger_gw_run_start(struct store *db, const struct ledger_gw_run *run)
{
	struct run_tx x = {.op = OP_START, .in = run};
	assert(run->response_id[0] != '\0');
	assert(run->hold_id[0] != '\0');
	store_holdid_ensure(db);
	return store_tx_on(db, run->account, run_tx, &x);
}

enum cd_err ledger_gw_run_find(struct store *db, const char *response_id, struct ledger_gw_run *out, int *found)
{
	struct run_tx x = {.op = OP_FIND, .id = response_id, .out = out, .cap = 1};
	enum cd_err rc = store_tx_on(db, NULL, run_tx, &x);
	*found = rc == CD_OK && x.found;
	return rc;
}

enum cd_err ledger_gw_run_due(struct store *db, struct ledger_gw_run *out, size_t cap, size_t *n)
{
	struct run_tx x = {.op = OP_DUE, .out = out, .cap = cap};
	enum cd_err rc = store_tx_on(db, NULL, run_tx, &x);
	*n = rc == CD_OK ? x.n : 0;
	return rc;
}

enum cd_err ledger_gw_run_next(struct store *db, const char *response_id, int64_t claimed, const char *status,
			       int64_t polls, int64_t next_poll_at)
{
	struct run_tx x = {.op = OP_NEXT, .id = response_id, .status = status, .polls = polls, .next_at = next_poll_at,
			   .claimed = claimed};
	return store_tx_on(db, NULL, run_tx, &x);
}

enum cd_err ledger_gw_run_end(struct store *db, const char *response_id, const char *status)
{
	struct run_tx x = {.op = OP_END, .id = response_id, .status = status};
	return store_tx_on(db, NULL, run_tx, &x);
}

enum cd_err ledger_gw_run_wake(struct store *db, const char *response_id, int *found)
{
	struct run_tx x = {.op = OP_WAKE, .id = response_id};
	enum cd_err rc = store_tx_on(db, NULL, run_tx, &x);
	*found = rc == CD_OK && x.found;
	return rc;
}

enum cd_err ledger_gw_run_wake_all(struct store *db)
{
	struct run_tx x = {.op = OP_WAKE_ALL};
	return store_tx_on(db, NULL, run_tx, &x);
}

enum cd_err ledger_gw_run_renew_all(struct store *db, int64_t ttl_seconds)
{
	struct run_tx x = {.op = OP_RENEW_ALL, .polls = ttl_seconds};
	return store_tx_on(db, NULL, run_tx, &x);
}

enum cd_err ledger_gw_run_claim(struct store *db, const char *response_id, int64_t next_poll_at, int64_t until,
				int *claimed)
{
	struct run_tx x = {.op = OP_CLAIM, .id = response_id, .next_at = next_poll_at, .polls = until};
	enum cd_err rc = store_tx_on(db, NULL, run_tx, &x);
	*claimed = rc == CD_OK && x.found;
	return rc;
}
