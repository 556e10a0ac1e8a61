/* api_prices.c: a model's prices through the API beside GET /v1/models
 * (docs/api.md, "Prices"): PUT /v1/models/{name}[?provider=NAME] (admin)
 * sets its price as creditctl price set does (ledger_price_set_row: the
 * same fields, checks and history); GET /v1/models/{name}/history (read
 * or admin), every price the model had, oldest first, as creditctl price
 * history prints it, paged. The rows are shown as GET /v1/models shows a
 * price (its token fields and its dimensions). A PUT sets a state: the
 * same body again sets the same price and adds no history, so it needs
 * no Idempotency-Key (one sent is accepted and not stored). POST
 * /v1/models/import (admin) imports a price list or LiteLLM's catalogue
 * as creditctl price import does (ledger_price_list.h: the same reader,
 * the same rise bound), all or nothing; a state too, so its
 * Idempotency-Key is accepted and not stored either. */
#include "api.h"
#include "config.h"
#include "gwconfig.h"
#include "ledger.h"
#include "ledger_price_list.h"
#include "ledger_price_set.h"
#include <string.h>
#include "timefmt.h"
#include "urlpath.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static json_t *change_json(const struct ledger_price_change *c)
{
	char at[TIMEFMT_LEN];
	timefmt_rfc3339(c->effective_at, at);
	json_t *o = json_pack("{s:s, s:o}", "effective_at", at, "provider",
			      c->provider[0] != '\0' ? json_string(c->provider) : json_null());
	ledger_price_tokens_json(&c->price, o);
	ledger_price_dims_json(&c->price, o);
	return o;
}

/* A page's cursor: "<effective_at>.<seq>" of its last row. 0, or -1. */
static int cursor_parse(const char *s, struct ledger_price_change *after)
{
	char *end;
	long long at = strtoll(s, &end, 10);
	if (end == s || *end != '.' || at < 0)
		return -1;
	const char *seq_text = end + 1;
	long long seq = strtoll(seq_text, &end, 10);
	if (end == seq_text || *end != '\0' || seq < 0)
		return -1;
	after->effective_at = at;
	after->seq = seq;
	return 0;
}

void api_price_history(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t limit = LIMIT_PAGE_DEFAULT;
	struct ledger_price_change after = {0};
	char cur[48];
	int n = 0, from_cursor = 0;
	if (api_query_int(rq->query, "limit", 1, LIMIT_LIST_PAGE, &limit, rs) < 0)
		return;
	int got = urlpath_query_get(rq->query, "cursor", cur, sizeof(cur));
	if (got != 0 && (got < 0 || cursor_parse(cur, &after) != 0)) {
		api_error(rs, CD_E_INVALID, "cursor", "cursor must be a next_cursor value from a previous page");
		return;
	}
	from_cursor = got > 0;
	/* One more than the page says whether another follows. */
	struct ledger_price_change *rows = calloc((size_t)limit + 1, sizeof(*rows));
	enum cd_err rc = rows == NULL ? CD_E_INTERNAL :
			 ledger_price_history(ctx->db, params[0], from_cursor ? &after : NULL, rows, (int)limit + 1, &n);
	if (rc != CD_OK) {
		free(rows);
		api_fail(rs, rc, "model");
		return;
	}
	int more = n > limit;
	json_t *data = json_array();
	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(data, change_json(&rows[i]));
	char next[48];
	if (more)
		snprintf(next, sizeof(next), "%" PRId64 ".%" PRId64, rows[limit - 1].effective_at, rows[limit - 1].seq);
	free(rows);
	api_json(rs, 200, json_pack("{s:s, s:o, s:o, s:b}", "model", params[0], "data", data, "next_cursor",
				    more ? json_string(next) : json_null(), "has_more", more));
}

/* One member of a PUT's body into w: a token field (a non-negative
 * integer) or a dimension (its value, or null: no longer priced). 0, or
 * -1 with rs answered 400 naming it. */
static int wanted_member(const char *name, json_t *v, struct ledger_price_wanted *w, struct response *rs)
{
	int64_t n = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
	for (int f = 0; f < LEDGER_PRICE_TOKEN_FIELDS; f++)
		if (strcmp(name, ledger_price_set_field(f)) == 0) {
			if (n < 0 || n > LIMIT_AMOUNT_MICROS_MAX) {
				api_error(rs, CD_E_INVALID, name, "%s must be an integer from 0 to %lld", name,
					  (long long)LIMIT_AMOUNT_MICROS_MAX);
				return -1;
			}
			w->tokens[f] = n;
			return 0;
		}
	int d = pricing_dim_by_name(name);
	if (d < 0) {
		api_error(rs, CD_E_INVALID, name, "%s is no price field (see GET /v1/models)", name);
		return -1;
	}
	if (!json_is_null(v) && (!json_is_integer(v) || !pricing_dim_valid(d, n))) {
		api_error(rs, CD_E_INVALID, name, "%s must be %s, or null (no longer priced)", name,
			  d == PRICE_DIM_REASONING ? "0 or 1" : d == PRICE_DIM_TIER_THRESHOLD ? "an integer of at least 1"
			  : "a non-negative integer");
		return -1;
	}
	w->dims[d] = json_is_null(v) ? -2 : n;
	return 0;
}

/* The body's fields into w: at least one. 0, or -1 with rs answered. */
static int wanted_of(const struct request *rq, struct ledger_price_wanted *w, struct response *rs)
{
	struct jerr e;
	const char *name;
	json_t *v, *body = jsonio_parse_object(rq->body, rq->body_len, &e);
	int rc = 0, named = 0;
	if (body == NULL) {
		api_error(rs, CD_E_INVALID, e.param, "%s", e.message);
		return -1;
	}
	ledger_price_set_init(w);
	json_object_foreach(body, name, v) {
		if (strcmp(name, "idempotency_key") == 0)
			continue;
		rc = wanted_member(name, v, w, rs);
		if (rc != 0)
			break;
		named++;
	}
	json_decref(body);
	if (rc == 0 && named == 0) {
		api_error(rs, CD_E_INVALID, NULL, "name at least one price field (as GET /v1/models names them)");
		rc = -1;
	}
	return rc;
}

/* A provider's name from ?provider=, one of the config's gateway: 0
 * (provider "" when none asked), or -1 with rs answered. */
static int provider_of(const struct api_ctx *ctx, const struct request *rq, char *provider, size_t cap,
		       struct response *rs)
{
	const struct gwconfig *gw = ctx->gw;
	int got = urlpath_query_get(rq->query, "provider", provider, cap);
	if (got == 0) {
		provider[0] = '\0';
		return 0;
	}
	for (size_t i = 0; got > 0 && i < gw->nproviders; i++)
		if (strcmp(gw->providers[i].name, provider) == 0)
			return 0;
	api_error(rs, CD_E_INVALID, "provider", "provider must name a [provider NAME] of the gateway's config "
		  "(openai, anthropic or one of its own)");
	return -1;
}

void api_price_put(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_price_wanted w;
	struct price_row row;
	char provider[PRICING_PROVIDER_MAX + 1], err[256];
	if (provider_of(ctx, rq, provider, sizeof(provider), rs) != 0 || wanted_of(rq, &w, rs) != 0)
		return;
	/* The price as the database has it now, not as the cache last read it:
	 * the fields not named keep that one. */
	ledger_prices_sync();
	if (ledger_price_set_row(params[0], provider, &w, &row, err, sizeof(err)) != 0) {
		api_error(rs, CD_E_INVALID, NULL, "%s", err);
		return;
	}
	enum cd_err rc = ledger_prices_import(ctx->db, &row, 1);
	if (rc != CD_OK) {
		api_fail(rs, rc, NULL);
		return;
	}
	ledger_prices_sync();
	json_t *out = json_pack("{s:s, s:o}", "model", params[0], "provider",
				provider[0] != '\0' ? json_string(provider) : json_null());
	ledger_price_tokens_json(&row.price, out);
	ledger_price_dims_json(&row.price, out);
	api_json(rs, 200, out);
}

/* ---- POST /v1/models/import ---- */

static int provider_in_config(void *arg, const char *name)
{
	const struct gwconfig *gw = gwconfig_of(arg);
	for (size_t i = 0; i < gw->nproviders; i++)
		if (strcmp(gw->providers[i].name, name) == 0)
			return 1;
	return 0;
}

/* The import's body, {prices, max_increase_pct?, force?, dry_run?,
 * idempotency_key?}, into its options; prices borrowed from body. 0, or
 * -1 with rs answered 400 naming the member. */
static int import_options(json_t *body, json_t **prices, int64_t *max_pct, int *force, int *dry, struct response *rs)
{
	const char *name;
	json_t *v;
	json_object_foreach(body, name, v) {
		if (strcmp(name, "prices") == 0 && (json_is_array(v) || json_is_object(v)))
			*prices = v;
		else if (strcmp(name, "max_increase_pct") == 0 && json_is_integer(v) && json_integer_value(v) >= 0 &&
			 json_integer_value(v) <= LIMIT_PRICE_RISE_PCT_MAX)
			*max_pct = (int64_t)json_integer_value(v);
		else if ((strcmp(name, "force") == 0 || strcmp(name, "dry_run") == 0) && json_is_boolean(v))
			*(name[0] == 'f' ? force : dry) = json_is_true(v);
		else if (strcmp(name, "prices") == 0) {
			api_error(rs, CD_E_INVALID, name, "prices must be a price list (a JSON list) or LiteLLM's catalogue "
				  "(an object of models)");
			return -1;
		} else if (strcmp(name, "max_increase_pct") == 0) {
			api_error(rs, CD_E_INVALID, name, "max_increase_pct must be an integer from 0 to %d",
				  LIMIT_PRICE_RISE_PCT_MAX);
			return -1;
		} else if (strcmp(name, "idempotency_key") != 0 || !json_is_string(v)) {
			api_error(rs, CD_E_INVALID, name, "%s is no member of an import (prices, max_increase_pct, force, "
				  "dry_run)", name);
			return -1;
		}
	}
	if (*prices == NULL) {
		api_error(rs, CD_E_INVALID, "prices", "prices is required: a price list or LiteLLM's catalogue");
		return -1;
	}
	return 0;
}

/* The answer: each model row as GET /v1/models shows a price, with
 * whether it is new or changes what the cache has; the catalogue's
 * skipped entries and billing keys not applied. */
static json_t *import_answer(const struct ledger_price_list *l, int dry)
{
	json_t *data = json_array(), *skipped = json_array(), *v;
	size_t i;
	for (i = 0; i < l->n; i++) {
		const struct price_row *row = &l->v[i];
		struct price was;
		int64_t margin;
		int own = 0;
		if (row->kind != PRICE_ROW_MODEL)
			continue;
		int known = ledger_price_model_at(row->name, row->provider, &was, &margin, &own) &&
			    own == (row->provider[0] != '\0');
		json_t *o = json_pack("{s:s, s:o}", "model", row->name, "provider",
				      row->provider[0] != '\0' ? json_string(row->provider) : json_null());
		ledger_price_tokens_json(&row->price, o);
		ledger_price_dims_json(&row->price, o);
		json_object_set_new(o, "new", json_boolean(!known));
		json_object_set_new(o, "changed", json_boolean(!known || !pricing_same(&was, &row->price)));
		json_array_append_new(data, o);
	}
	json_array_foreach(l->skipped, i, v)
		json_array_append_new(skipped, json_pack("{s:O, s:O}", "model", json_array_get(v, 0), "why",
							 json_array_get(v, 1)));
	return json_pack("{s:b, s:I, s:o, s:o, s:O}", "dry_run", dry, "imported", (json_int_t)(dry ? 0 : l->n), "data",
			 data, "skipped", skipped, "unapplied", l->unapplied);
}

void api_price_import(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct jerr e;
	json_t *prices = NULL, *body = jsonio_parse_object(rq->body, rq->body_len, &e);
	int64_t max_pct = LIMIT_PRICE_RISE_PCT_DEFAULT;
	int force = 0, dry = 0;
	char err[512];
	struct ledger_price_list l;
	(void)params;
	if (body == NULL) {
		api_error(rs, CD_E_INVALID, e.param, "%s", e.message);
		return;
	}
	if (ledger_price_list_init(&l) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if (import_options(body, &prices, &max_pct, &force, &dry, rs) != 0)
		goto out;
	if (ledger_price_list_json(prices, provider_in_config, (void *)ctx->cfg, &l, err, sizeof(err)) != 0) {
		api_error(rs, CD_E_INVALID, "prices", "%s; nothing imported", err);
		goto out;
	}
	/* The prices as the database has them now, not as the cache last
	 * read them: the rises are judged from those. */
	ledger_prices_sync();
	if (!force && ledger_price_list_rise(&l, max_pct, err, sizeof(err))) {
		api_error(rs, CD_E_CONFLICT, "prices", "%s (max_increase_pct %" PRId64 "); nothing imported "
			  "(force: true imports it)", err, max_pct);
		goto out;
	}
	json_t *answer = import_answer(&l, dry);
	enum cd_err rc = dry ? CD_OK : ledger_prices_import(ctx->db, l.v, l.n);
	if (rc == CD_E_INVALID)
		api_error(rs, rc, "prices", "%s", store_errmsg(ctx->db));
	else if (rc != CD_OK)
		api_fail(rs, rc, NULL);
	else
		api_json(rs, 200, json_incref(answer));
	json_decref(answer);
	if (rc == CD_OK && !dry)
		ledger_prices_sync();
out:
	ledger_price_list_free(&l);
	json_decref(body);
}
