/* ledger_plans.c: the plan catalogue (docs/api.md, "PUT /v1/plans/{name}"): what a plan name
 * means, which an account's plan must name. Plans are replaced whole by
 * their name; none is ever deleted, so an account's plan stays valid. */
#include "ledger_plans.h"
#include "timefmt.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_COLS "name, credits_micros, rollover, rollover_cap_micros, member_cap_micros, stripe_price_ids"
static const char SQL_PLAN_PUT[] = "INSERT INTO plans (" PLAN_COLS ", created_at, updated_at) "
	"VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE credits_micros = VALUES(credits_micros), "
	"rollover = VALUES(rollover), rollover_cap_micros = VALUES(rollover_cap_micros), "
	"member_cap_micros = VALUES(member_cap_micros), stripe_price_ids = VALUES(stripe_price_ids), "
	"updated_at = VALUES(updated_at)";
static const char SQL_PLAN_GET[] = "SELECT " PLAN_COLS " FROM plans WHERE name = ?";
static const char SQL_PLAN_LIST[] = "SELECT " PLAN_COLS " FROM plans ORDER BY name";

/* A plan as the API shows it, from a PLAN_COLS row. */
static json_t *plan_json(const struct dbstmt *s)
{
	json_error_t jerr;
	json_t *prices = json_loads(store_str(s, 5), 0, &jerr);
	if (prices == NULL || !json_is_array(prices)) {
		json_decref(prices);
		prices = json_array();
	}
	return json_pack("{s:s, s:I, s:s, s:o, s:o, s:o}", "name", store_str(s, 0), "credits_micros",
			 (json_int_t)store_i64(s, 1), "rollover", store_str(s, 2), "rollover_cap_micros", ledger_rows_json_int(DB_I64_OR_NONE(s, 3)),
			 "member_cap_micros", ledger_rows_json_int(DB_I64_OR_NONE(s, 4)), "stripe_price_ids", prices);
}

static const char SQL_PRICE_OWNER[] = "SELECT name FROM plans WHERE name <> ? AND "
	"JSON_CONTAINS(stripe_price_ids, JSON_QUOTE(?)) LIMIT 1";

/* A Stripe price puts an account on one plan: it may not be in two. */
static enum cd_err prices_free(struct store *db, const struct plan_def *p)
{
	int e;
	for (int i = 0; i < p->nprices; i++) {
		struct dbstmt *s = store_exec(db, SQL_PRICE_OWNER, &e, "ss", p->name, p->stripe_price_ids[i]);
		if (s == NULL)
			return store_err(db, e, "price owner");
		if (store_fetch(s) == 1)
			return refusal_set(&db->refusal, REFUSE_PRICE_IN_PLAN, p->stripe_price_ids[i], store_str(s, 0));
	}
	return CD_OK;
}

/* A plan as it was stored, from a PLAN_COLS row: its Stripe prices are
 * the JSON array put_op wrote. */
static enum cd_err plan_done(const struct dbstmt *s, struct ledger_plan_done *d)
{
	json_error_t jerr;
	ledger_rows_copy_text(d->name, sizeof(d->name), store_str(s, 0));
	d->credits_micros = store_i64(s, 1);
	ledger_rows_copy_text(d->rollover, sizeof(d->rollover), store_str(s, 2));
	d->rollover_cap_micros = DB_I64_OR_NONE(s, 3);
	d->member_cap_micros = DB_I64_OR_NONE(s, 4);
	d->nprices = 0;
	json_t *prices = json_loads(store_str(s, 5), 0, &jerr);
	size_t i;
	json_t *v;
	json_array_foreach(prices, i, v) {
		if (!json_is_string(v) || d->nprices == LIMIT_PLAN_STRIPE_PRICES ||
		    json_string_length(v) > LIMIT_STRIPE_ID_BYTES) {
			json_decref(prices);
			return CD_E_INTERNAL;	/* not what put_op wrote */
		}
		ledger_rows_copy_text(d->stripe_price_ids[d->nprices++], sizeof(d->stripe_price_ids[0]), json_string_value(v));
	}
	json_decref(prices);
	return CD_OK;
}

static enum cd_err put_op(struct store *db, const struct plan_def *p, struct ledger_done *done)
{
	int e;
	enum cd_err pc = prices_free(db, p);
	if (pc != CD_OK)
		return pc;
	json_t *prices = json_array();
	for (int i = 0; prices != NULL && i < p->nprices; i++)
		json_array_append_new(prices, json_string(p->stripe_price_ids[i]));
	char *text = prices != NULL ? json_dumps(prices, JSON_COMPACT) : NULL;
	json_decref(prices);
	if (text == NULL)
		return CD_E_INTERNAL;
	const int64_t *cap = p->rollover_cap_micros >= 0 ? &p->rollover_cap_micros : NULL;
	const int64_t *member = p->member_cap_micros >= 0 ? &p->member_cap_micros : NULL;
	enum cd_err rc = store_do(db, SQL_PLAN_PUT, "plan put", "sisIIsii", p->name, p->credits_micros, p->rollover, cap,
			       member, text, db->now, db->now);
	free(text);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, SQL_PLAN_GET, &e, "s", p->name);
	if (s == NULL)
		return store_err(db, e, "plan read");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	done->kind = LEDGER_DONE_PLAN_PUT;
	return plan_done(s, &done->u.plan);
}

enum cd_err ledger_plan_put(struct store *db, const struct ledger_call *call, const struct plan_def *p,
			    struct ledger_result *res)
{
	struct ledger_idem w;
	/* The API's and creditctl's checks: credits a single grant may give. */
	assert(p->credits_micros >= 0);
	assert(p->credits_micros <= LIMIT_AMOUNT_MICROS_MAX);
	assert(p->nprices >= 0);
	assert(p->nprices <= LIMIT_PLAN_STRIPE_PRICES);
	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
		ledger_idem_step(db, &w, put_op(db, p, w.done));
	enum cd_err rc = ledger_idem_end(db, &w, res);
	/* The plan stored has the prices put. */
	assert(res->done.kind != LEDGER_DONE_PLAN_PUT || res->done.u.plan.nprices == p->nprices);
	return rc;
}

static enum cd_err list_tx(struct store *db, json_t **out)
{
	int e;
	json_decref(*out);
	*out = NULL;
	struct dbstmt *s = store_exec(db, SQL_PLAN_LIST, &e, "");
	if (s == NULL)
		return store_err(db, e, "plan list");
	json_t *data = json_array();
	while (data != NULL && store_fetch(s) == 1)
		json_array_append_new(data, plan_json(s));
	*out = data != NULL ? json_pack("{s:o}", "data", data) : NULL;
	return *out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_plans(struct store *db, json_t **out)
{
	struct store_tx t;
	*out = NULL;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, list_tx(db, out));
	if (t.rc != CD_OK) {
		json_decref(*out);
		*out = NULL;
	}
	assert(t.rc != CD_OK || *out != NULL);
	return t.rc;
}

int ledger_name_ok(const char *s, const char *chars, size_t min, size_t max)
{
	size_t n = s != NULL ? strspn(s, chars) : 0;
	int ok = s != NULL && s[n] == '\0' && n >= min && n <= max;
	assert(!ok || strlen(s) <= max);
	assert(!ok || strlen(s) >= min);
	return ok;
}

enum cd_err ledger_plans_check(struct store *db, const char *name)
{
	int e;
	if (name == NULL)
		return CD_OK;
	struct dbstmt *s = store_exec(db, SQL_PLAN_GET, &e, "s", name);
	if (s == NULL)
		return store_err(db, e, "plan lookup");
	return store_fetch(s) == 1 ? CD_OK : refusal_set(&db->refusal, REFUSE_PLAN_UNKNOWN, name, NULL);
}
