/* api_operator.c: the operator's reads the console's pages use
 * (docs/api.md, "The operator's reads"): GET /v1/accounts?q= (accounts
 * found by the start of their id or email, paged), GET /v1/health (the
 * database, its schema, the version, the providers' tries) and GET
 * /v1/overview (money held and owed, spend, failures). A read or admin
 * key that is not bound to an account may call them (the router's
 * ROUTE_OPERATOR); they never show a secret: no key, no hash, no
 * password, no provider key. An account's lists for its console page,
 * its holds in flight, top-ups (with refunds and disputes) and referrals
 * (GET /v1/accounts/{id}/holds|topups|referrals), are read routes as
 * its journal is: a key bound to the account reads its own. */
#include "api.h"
#include "config.h"
#include "ledger.h"
#include "ledger_account_lists.h"
#include "ledger_operator.h"
#include "ledger_reconcile.h"
#include "metrics.h"
#include "timefmt.h"
#include "urlpath.h"
#include <stdio.h>
#include <string.h>

/* 1 when s is UTF-8: a search's q and cursor are the start of an id or an
 * email, or an id, and the database refuses to compare other bytes with
 * them (it was a 500). */
static int utf8_text(const char *s)
{
	json_t *probe = json_string(s);
	json_decref(probe);
	return probe != NULL;
}

void api_account_search(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char q[LIMIT_ACCOUNT_ID_BYTES + 1] = "", cursor[LIMIT_ACCOUNT_ID_BYTES + 1] = "";
	int64_t limit = LIMIT_ACCOUNT_SEARCH_PAGE_DEFAULT;
	json_t *out = NULL;
	(void)params;
	if (api_query_int(rq->query, "limit", 1, LIMIT_ACCOUNT_SEARCH_PAGE_MAX, &limit, rs) < 0)
		return;
	if (urlpath_query_get(rq->query, "q", q, sizeof(q)) < 0 || !utf8_text(q)) {
		api_error(rs, CD_E_INVALID, "q", "q is at most %d bytes of UTF-8 text without NUL", LIMIT_ACCOUNT_ID_BYTES);
		return;
	}
	if (urlpath_query_get(rq->query, "cursor", cursor, sizeof(cursor)) < 0 || !utf8_text(cursor)) {
		api_error(rs, CD_E_INVALID, "cursor", "cursor must be a next_cursor value from a previous page");
		return;
	}
	enum cd_err rc = ledger_operator_search(ctx->db, q, cursor, (int)limit, &out);
	if (rc != CD_OK)
		api_fail(rs, rc, "account search");
	else
		api_json(rs, 200, out);
}

/* The gateway's providers with their tries since start, by outcome. */
static json_t *providers_json(void)
{
	json_t *list = json_array();
	unsigned long long tries[METRICS_TRY_OUTCOMES];
	const char *name;
	for (size_t i = 0; list != NULL && metrics_gateway_provider_tries(i, &name, tries); i++) {
		json_t *t = json_object();
		unsigned long long failed = 0;
		for (int o = 0; o < METRICS_TRY_OUTCOMES; o++) {
			json_object_set_new(t, metrics_try_name(o), json_integer((json_int_t)tries[o]));
			if (o >= METRICS_TRY_SERVER_ERROR)
				failed += tries[o];
		}
		json_array_append_new(list, json_pack("{s:s, s:o, s:I}", "name", name, "tries", t, "failed",
						      (json_int_t)failed));
	}
	return list;
}

void api_health(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct ledger_operator_db_state st;
	(void)rq;
	(void)params;
	enum cd_err rc = ledger_operator_db_state(ctx->db, &st);
	json_t *db = rc == CD_OK ?
		json_pack("{s:b, s:o}", "reachable", 1, "galera", st.galera[0] != '\0' ? json_string(st.galera) : json_null()) :
		json_pack("{s:b, s:s}", "reachable", 0, "error", errors_strerror(rc));
	json_t *mig = rc == CD_OK ?
		json_pack("{s:s, s:s, s:I, s:b}", "expected", LEDGER_SCHEMA_LATEST, "applied_latest", st.latest,
			  "applied", (json_int_t)st.applied, "current", strcmp(st.latest, LEDGER_SCHEMA_LATEST) == 0) :
		json_null();
	const char *status = rc != CD_OK ? "down" : strcmp(st.latest, LEDGER_SCHEMA_LATEST) != 0 ? "degraded" : "ok";
	api_json(rs, 200, json_pack("{s:s, s:s, s:o, s:o, s:o}", "status", status, "version", PACKAGE_VERSION,
				    "database", db, "migrations", mig, "providers", providers_json()));
}

void api_overview(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	json_t *out = NULL;
	(void)rq;
	(void)params;
	enum cd_err rc = ledger_operator_overview(ctx->db, &out);
	if (rc != CD_OK) {
		api_fail(rs, rc, NULL);
		return;
	}
	/* The providers' failed tries since start: the ledger keeps no row
	 * of a failed try, /metrics' counters do. */
	json_t *failing = json_array();
	unsigned long long tries[METRICS_TRY_OUTCOMES];
	const char *name;
	for (size_t i = 0; failing != NULL && metrics_gateway_provider_tries(i, &name, tries); i++) {
		unsigned long long failed = tries[METRICS_TRY_SERVER_ERROR] + tries[METRICS_TRY_UNREACHABLE] +
					    tries[METRICS_TRY_TIMEOUT];
		if (failed > 0)
			json_array_append_new(failing, json_pack("{s:s, s:I}", "name", name, "failed", (json_int_t)failed));
	}
	json_object_set_new(out, "failing_providers", failing);
	json_object_set_new(out, "currency", json_string(ctx->cfg->currency));
	/* The reconcile drift stored over the last seven UTC days, today
	 * included (docs/api.md): null when none was compared. */
	json_t *drift = NULL;
	int64_t now = timefmt_now();
	rc = ledger_drift_recent(ctx->db, now - now % TIMEFMT_SECONDS_PER_DAY - 6 * TIMEFMT_SECONDS_PER_DAY, &drift);
	if (rc != CD_OK) {
		json_decref(out);
		api_fail(rs, rc, NULL);
		return;
	}
	json_object_set_new(out, "drift", drift);
	api_json(rs, 200, out);
}

/* ---- An account's lists (docs/api.md, "An account's holds, top-ups and referrals") ---- */

static void account_list(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs,
			 enum ledger_account_list which)
{
	int64_t limit = LIMIT_PAGE_DEFAULT;
	char cur[LIMIT_HOLD_ID_BYTES + 1] = "";
	json_t *out = NULL;
	if (!api_path_account_ok(params[0], rs) || api_query_int(rq->query, "limit", 1, LIMIT_LIST_PAGE, &limit, rs) < 0)
		return;
	if (urlpath_query_get(rq->query, "cursor", cur, sizeof(cur)) < 0) {
		api_error(rs, CD_E_INVALID, "cursor", "cursor must be a next_cursor value from a previous page");
		return;
	}
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	enum cd_err rc = ledger_account_lists_read(ctx->db, which, params[0], cur, (int)limit, &out);
	if (rc == CD_E_INVALID)
		api_error(rs, rc, "cursor", "cursor must be a next_cursor value from a previous page");
	else if (rc != CD_OK)
		api_fail(rs, rc, "account");
	else
		api_json(rs, 200, out);
}

void api_account_holds(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	account_list(ctx, rq, params, rs, LEDGER_LIST_HOLDS);
}

void api_account_topups(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	account_list(ctx, rq, params, rs, LEDGER_LIST_TOPUPS);
}

void api_account_referrals(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	account_list(ctx, rq, params, rs, LEDGER_LIST_REFERRALS);
}
