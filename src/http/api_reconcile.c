/* api_reconcile.c: GET /v1/reconcile?from=DAY&to=DAY (read or admin;
 * docs/api.md, "Reconciliation, creditd's side"): creditd's side of a
 * reconciliation, per UTC day and model, every dimension creditctl
 * reconcile lines up against the provider's report, and the holds that
 * expired unsettled, and beside it the drift creditctl reconcile stored
 * when it last compared each day with the provider's report
 * (docs/reconciliation.md, "What is stored"; sql/077). Reads only,
 * through the ledger functions creditctl reconcile calls
 * (ledger_reconcile.h). */
#include "api.h"
#include "ledger.h"
#include "ledger_reconcile.h"
#include "timefmt.h"
#include "urlpath.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ?name=YYYY-MM-DD into *day (its first second): 1, 0 absent, or -1
 * with rs answered 400. */
static int day_of(const struct request *rq, const char *name, int64_t *day, struct response *rs)
{
	char v[16], stamp[32];
	int got = urlpath_query_get(rq->query, name, v, sizeof(v));
	if (got == 0)
		return 0;
	snprintf(stamp, sizeof(stamp), "%sT00:00:00Z", got > 0 ? v : "");
	if (got < 0 || strlen(v) != 10 || timefmt_parse(stamp, day) != 0) {
		api_error(rs, CD_E_INVALID, name, "%s must be a UTC day: YYYY-MM-DD", name);
		return -1;
	}
	return 1;
}

static json_t *usage_day_json(const struct ledger_usage_day *d)
{
	char day[TIMEFMT_LEN];
	timefmt_rfc3339(d->day, day);
	day[10] = '\0';
	json_t *reasons = json_object();
	for (int i = 0; i < LEDGER_SETTLE_REASON_COUNT; i++)
		json_object_set_new(reasons, ledger_settle_reason(i), json_integer(d->by_settle_reason[i]));
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "day", day, "model", d->model,
			      "requests", (json_int_t)d->requests, "input_tokens", (json_int_t)d->input_tokens,
			      "cached_input_tokens", (json_int_t)d->cached_input_tokens, "cache_write_input_tokens",
			      (json_int_t)d->cache_write_input_tokens, "output_tokens", (json_int_t)d->output_tokens,
			      "charged_micros", (json_int_t)d->charged_micros, "by_settle_reason", reasons);
	json_t *more = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cache_write_1h_tokens",
				 (json_int_t)d->cache_write_1h_tokens, "audio_input_tokens",
				 (json_int_t)d->audio_input_tokens, "audio_output_tokens", (json_int_t)d->audio_output_tokens,
				 "web_search_calls", (json_int_t)d->web_search_calls, "priority_tokens",
				 (json_int_t)d->priority_tokens, "flex_tokens", (json_int_t)d->flex_tokens,
				 "long_context_tokens", (json_int_t)d->long_context_tokens);
	json_object_update(o, more);
	json_decref(more);
	return o;
}

/* The range [from, to): both days given, to at or after from, at most
 * LIMIT_RECONCILE_API_DAYS days (to included); neither given, the last
 * seven UTC days, today included. 0, or -1 with rs. */
static int range_of(const struct request *rq, int64_t *from, int64_t *to, struct response *rs)
{
	int f = day_of(rq, "from", from, rs), t = f < 0 ? -1 : day_of(rq, "to", to, rs);
	if (f < 0 || t < 0)
		return -1;
	if (f == 0 && t == 0) {
		int64_t now = timefmt_now();
		*to = now - now % TIMEFMT_SECONDS_PER_DAY;
		*from = *to - 6 * TIMEFMT_SECONDS_PER_DAY;
		f = t = 1;
	}
	if (f == 0 || t == 0) {
		api_error(rs, CD_E_INVALID, f == 0 ? "from" : "to", "give from and to, UTC days (YYYY-MM-DD), to included");
		return -1;
	}
	*to += TIMEFMT_SECONDS_PER_DAY;
	if (*to <= *from || *to - *from > (int64_t)LIMIT_RECONCILE_API_DAYS * TIMEFMT_SECONDS_PER_DAY) {
		api_error(rs, CD_E_INVALID, "to", "to must be from or a later day, at most %d days in all",
			  LIMIT_RECONCILE_API_DAYS);
		return -1;
	}
	return 0;
}

void api_reconcile(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t from, to;
	int n = 0, more = 0, nh = 0, more_holds = 0, more_drift = 0;
	json_t *drift = NULL;
	(void)params;
	if (range_of(rq, &from, &to, rs) != 0)
		return;
	struct ledger_usage_day *rows = calloc(LIMIT_RECONCILE_API_ROWS, sizeof(*rows));
	struct ledger_expired_hold *holds = calloc(LIMIT_RECONCILE_API_HOLDS, sizeof(*holds));
	enum cd_err rc = rows == NULL || holds == NULL ? CD_E_INTERNAL :
			 ledger_usage_by_day(ctx->db, from, to, rows, LIMIT_RECONCILE_API_ROWS, &n, &more);
	if (rc == CD_OK)
		rc = ledger_expired_holds(ctx->db, from, to, holds, LIMIT_RECONCILE_API_HOLDS, &nh, &more_holds);
	if (rc == CD_OK)
		rc = ledger_drift_read(ctx->db, from, to, LIMIT_RECONCILE_API_DRIFT_ROWS, &drift, &more_drift);
	if (rc != CD_OK)
		api_fail(rs, rc, NULL);
	else if (more || more_drift)
		api_error(rs, CD_E_INVALID, "to", "more than %d day × model rows (or %d stored drift rows) in the range: "
			  "ask fewer days", LIMIT_RECONCILE_API_ROWS, LIMIT_RECONCILE_API_DRIFT_ROWS);
	if (rc != CD_OK || more || more_drift) {
		free(rows);
		free(holds);
		json_decref(drift);
		return;
	}
	json_t *data = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(data, usage_day_json(&rows[i]));
	json_t *expired = json_array();
	for (int i = 0; i < nh; i++)
		json_array_append_new(expired, json_pack("{s:s, s:s, s:o}", "hold_id", holds[i].hold_id, "account",
							 holds[i].account, "model", holds[i].model[0] != '\0' ?
							 json_string(holds[i].model) : json_null()));
	free(rows);
	free(holds);
	if (json_array_size(drift) == 0) {	/* never compared in the range: null, as before sql/077 */
		json_decref(drift);
		drift = json_null();
	}
	char f[TIMEFMT_LEN], t[TIMEFMT_LEN];
	timefmt_rfc3339(from, f);
	timefmt_rfc3339(to, t);
	api_json(rs, 200, json_pack("{s:s, s:s, s:o, s:o, s:b, s:o}", "from", f, "to", t, "data", data,
				    "expired_holds", expired, "expired_holds_more", more_holds, "drift", drift));
}
