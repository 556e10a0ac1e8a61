/* ledger_events.c: the outbox's rows (see ledger_events.h) and the pull
 * route's page of them. */
#include "ledger_events.h"
#include "timefmt.h"
#include <stdlib.h>
#include <string.h>

static const char SQL_SEQ_NEXT[] = "UPDATE event_seq SET last_id = LAST_INSERT_ID(last_id + 1) WHERE id = 1";
static const char SQL_EVENT_ADD[] = "INSERT INTO events (id, account_id, account, type, data, created_at, "
				    "next_attempt_at) VALUES (LAST_INSERT_ID(), ?, ?, ?, ?, ?, ?)";
static const char SQL_EVENT_PAGE[] = "SELECT id, account, type, data, created_at FROM events WHERE id > ? "
				     "ORDER BY id LIMIT ?";

enum cd_err event_add(struct ledger *lg, const struct acct *a, const char *type, json_t *data)
{
	char *text = json_dumps(data != NULL ? data : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(data);
	if (text == NULL)
		return CD_E_INTERNAL;
	enum cd_err rc = db_do(lg, SQL_SEQ_NEXT, "event id", "");
	if (rc == CD_OK)
		rc = db_do(lg, SQL_EVENT_ADD, "event insert", "isssii", a->id, a->ext_id, type, text, lg->now, lg->now);
	free(text);
	return rc;
}

/* An event as the pull route and the push body show it. */
static json_t *event_json(const struct dbstmt *s)
{
	json_error_t jerr;
	json_t *data = json_loads(db_str(s, 3), 0, &jerr);
	if (data == NULL)
		data = json_object();
	return json_pack("{s:I, s:s, s:o, s:s, s:o}", "id", (json_int_t)db_i64(s, 0), "type", db_str(s, 2),
			 "created_at", ledger_json_time(db_i64(s, 4)), "account", db_str(s, 1), "data", data);
}

struct page_run { int64_t after; int limit; json_t *out; };

static enum cd_err page_tx(struct ledger *lg, void *arg)
{
	struct page_run *p = arg;
	int e;
	json_decref(p->out);
	p->out = NULL;
	struct dbstmt *s = db_exec(lg, SQL_EVENT_PAGE, &e, "ii", p->after, (int64_t)p->limit);
	if (s == NULL)
		return db_err(lg, e, "event page");
	json_t *data = json_array();
	int64_t last = p->after;
	int got = 0;
	while (data != NULL && (got = db_fetch(s)) == 1) {
		last = db_i64(s, 0);
		json_array_append_new(data, event_json(s));
	}
	if (data == NULL || got < 0) {
		json_decref(data);
		return CD_E_INTERNAL;
	}
	p->out = json_pack("{s:o, s:I}", "data", data != NULL ? data : json_array(), "next_after", (json_int_t)last);
	return p->out != NULL ? CD_OK : CD_E_INTERNAL;
}

enum cd_err ledger_events(struct ledger *lg, int64_t after, int limit, json_t **out)
{
	struct page_run p = {after, limit, NULL};
	enum cd_err rc = ledger_run(lg, page_tx, &p);
	*out = p.out;
	return rc;
}
