/* api_mails.c: deliveries through the API (docs/api.md, "Deliveries"):
 * GET /v1/mails?status=failed (read or admin) lists the outbox's events
 * with their push to the app and their alert mail, those whose push or
 * mail is in that state, as creditctl events list shows them; POST
 * /v1/mails/{id}/retry (admin) sends the event's push and mail again as
 * creditctl events retry ID does (ledger_events_retry). A retry sets a
 * state (pending, due now): sent twice, the second only moves the time
 * it is due, so it needs no Idempotency-Key (one sent is accepted, not
 * stored). */
#include "api.h"
#include "ledger.h"
#include "ledger_operator.h"
#include "timefmt.h"
#include "urlpath.h"
#include <stdlib.h>
#include <string.h>

static json_t *time_or_null(int64_t t)
{
	char at[TIMEFMT_LEN];
	if (t < 0)
		return json_null();
	timefmt_rfc3339(t, at);
	return json_string(at);
}

static json_t *delivery_json(const struct ledger_event_row *r)
{
	char created[TIMEFMT_LEN];
	timefmt_rfc3339(r->created_at, created);
	json_t *push = json_pack("{s:s, s:I, s:o, s:o, s:o}", "state", r->state, "attempts", (json_int_t)r->attempts,
				 "next_attempt_at", time_or_null(r->next_attempt_at), "delivered_at",
				 time_or_null(r->delivered_at), "last_error",
				 r->last_error[0] != '\0' ? json_string(r->last_error) : json_null());
	json_t *mail = r->mail_state[0] == '\0' ? json_null() :
		json_pack("{s:s, s:I, s:o, s:o, s:o}", "state", r->mail_state, "attempts", (json_int_t)r->mail_attempts,
			  "next_attempt_at", time_or_null(r->mail_next_at), "delivered_at",
			  time_or_null(r->mail_delivered_at), "last_error",
			  r->mail_error[0] != '\0' ? json_string(r->mail_error) : json_null());
	return json_pack("{s:I, s:s, s:o, s:s, s:o, s:o}", "id", (json_int_t)r->id, "type", r->type, "account",
			 strcmp(r->account, "-") != 0 ? json_string(r->account) : json_null(), "created_at", created,
			 "push", push, "mail", mail);
}

void api_mails(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t limit = LIMIT_PAGE_DEFAULT, after = 0;
	char status[16];
	int n = 0;
	(void)params;
	if (api_query_int(rq->query, "limit", 1, LIMIT_LIST_PAGE, &limit, rs) < 0 ||
	    api_query_int(rq->query, "cursor", 0, INT64_MAX, &after, rs) < 0)
		return;
	int got = urlpath_query_get(rq->query, "status", status, sizeof(status));
	if (got != 0 && (got < 0 || (strcmp(status, "failed") != 0 && strcmp(status, "pending") != 0))) {
		api_error(rs, CD_E_INVALID, "status", "status is failed or pending (absent: every delivery)");
		return;
	}
	/* One more than the page says whether another follows. */
	struct ledger_event_row *rows = calloc((size_t)limit + 1, sizeof(*rows));
	enum cd_err rc = rows == NULL ? CD_E_INTERNAL :
			 ledger_events_deliveries(ctx->db, got > 0 ? status : NULL, after, rows, (int)limit + 1, &n);
	if (rc != CD_OK) {
		free(rows);
		api_fail(rs, rc, NULL);
		return;
	}
	int more = n > limit;
	json_t *data = json_array();
	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(data, delivery_json(&rows[i]));
	json_t *next = more ? json_integer((json_int_t)rows[limit - 1].id) : json_null();
	free(rows);
	api_json(rs, 200, json_pack("{s:o, s:o, s:b}", "data", data, "next_cursor", next, "has_more", more));
}

void api_mail_retry(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	int64_t id = 0;
	int count[2] = {0, 0};
	char *end = NULL;
	(void)rq;
	if (params[0][0] >= '0' && params[0][0] <= '9')
		id = strtoll(params[0], &end, 10);
	if (end == NULL || *end != '\0' || id <= 0) {
		api_error(rs, CD_E_NOT_FOUND, NULL, "no delivery to send again with that id");
		return;
	}
	enum cd_err rc = ledger_events_retry(ctx->db, id, count);
	if (rc != CD_OK)
		api_fail(rs, rc, NULL);
	else if (count[0] + count[1] == 0)
		api_error(rs, CD_E_NOT_FOUND, NULL, "no delivery to send again with id %lld: no such event, or its push "
			  "was delivered and its mail was not given up", (long long)id);
	else
		api_json(rs, 200, json_pack("{s:I, s:b, s:b}", "id", (json_int_t)id, "push_retried", count[0] > 0,
					    "mail_retried", count[1] > 0));
}
