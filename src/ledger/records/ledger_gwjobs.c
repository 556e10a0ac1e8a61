/* ledger_gwjobs.c: where each long job of the gateway stands (sql/076,
 * gateway_jobs and gateway_batch_inputs; docs/gateway.md, "Batches"). A
 * job's row is what survives a restart: the provider's object, the hold
 * that covers it, the lines settled so far. No money is read or written
 * here (a job's lines are charged by ledger_usage, its hold released by
 * ledger_release); one small transaction an operation, on the account's
 * node. */
#include "ledger_int.h"
#include "ledger_rows.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_INPUT_KEEP[] =
	"INSERT IGNORE INTO gateway_batch_inputs (account_id, file_id, endpoint, model, line_count, hold_micros, "
	"answer, created_at, models, line_models) SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM accounts WHERE ext_id = ?";
/* A batch input file is the account's while its record says so
 * (gateway_objects, kind file): a file deleted through creditd is
 * forgotten there, and so in every read of its lines below (docs/gateway.md,
 * "Routes": "then forgotten by creditd"). */
#define FILE_KEPT "EXISTS (SELECT 1 FROM gateway_objects o WHERE o.object_id = i.file_id AND o.kind = 'file' " \
	"AND o.account_id = a.id)"
static const char SQL_FILE_ANSWER[] =
	"SELECT i.answer FROM accounts a STRAIGHT_JOIN gateway_batch_inputs i ON i.account_id = a.id "
	"WHERE a.ext_id = ? AND i.file_id = ? AND " FILE_KEPT;
static const char SQL_FILE_LIST[] =
	"SELECT i.answer FROM accounts a STRAIGHT_JOIN gateway_batch_inputs i ON i.account_id = a.id "
	"LEFT JOIN gateway_batch_inputs k ON k.account_id = a.id AND k.file_id = ? "
	"WHERE a.ext_id = ? AND (k.file_id IS NULL OR i.created_at < k.created_at OR "
	"(i.created_at = k.created_at AND i.file_id < k.file_id)) AND " FILE_KEPT " ORDER BY i.created_at DESC, i.file_id DESC LIMIT ?";
static const char SQL_INPUT_FIND[] =
	"SELECT i.endpoint, i.line_count, i.hold_micros, i.model, i.models, i.line_models FROM accounts a "
	"STRAIGHT_JOIN gateway_batch_inputs i "
	"ON i.account_id = a.id WHERE a.ext_id = ? AND i.file_id = ? AND " FILE_KEPT;
static const char SQL_JOB_ADD[] =
	"INSERT IGNORE INTO gateway_jobs (kind, account_id, member, object_id, route, model, provider, hold_id, status, "
	"next_poll_at, answer, created_at, updated_at, hold_row, line_models, charged_micros, line_keys) "
	"SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1 FROM accounts WHERE ext_id = ?";
static const char SQL_JOB_LINE_MODELS[] =
	"SELECT j.line_models FROM accounts a STRAIGHT_JOIN gateway_jobs j ON j.account_id = a.id "
	"WHERE a.ext_id = ? AND j.id = ?";
#define JOB_COLS "j.id, j.kind, a.ext_id, j.member, j.object_id, j.route, j.provider, j.hold_id, j.state, " \
	"j.status, j.output_file_id, j.error_file_id, j.line_cursor, j.lines_charged, j.lines_released, " \
	"j.next_poll_at, j.polls, j.created_at, j.model, COALESCE(j.charged_micros, -1), COALESCE(j.line_keys, 0)"
static const char SQL_JOBS_DUE[] = "SELECT " JOB_COLS " FROM gateway_jobs j JOIN accounts a ON a.id = j.account_id "
				   "WHERE j.state IN ('running', 'settling') AND j.next_poll_at <= ? "
				   "ORDER BY j.next_poll_at LIMIT ?";
static const char SQL_JOB_CLAIM[] = "UPDATE gateway_jobs SET next_poll_at = ? WHERE id = ? AND next_poll_at = ? "
				    "AND state <> 'done'";
static const char SQL_JOB_SAVE[] =
	"UPDATE gateway_jobs SET state = ?, status = ?, output_file_id = ?, error_file_id = ?, line_cursor = ?, "
	"lines_charged = ?, lines_released = ?, charged_micros = ?, next_poll_at = ?, polls = ?, updated_at = ?, "
	"hold_row = ? WHERE id = ? AND next_poll_at = ?";
static const char SQL_JOB_SAVE_ANSWER[] =
	"UPDATE gateway_jobs SET state = ?, status = ?, output_file_id = ?, error_file_id = ?, line_cursor = ?, "
	"lines_charged = ?, lines_released = ?, charged_micros = ?, next_poll_at = ?, polls = ?, updated_at = ?, "
	"hold_row = ?, answer = ? WHERE id = ? AND next_poll_at = ?";
/* A job's route names its provider kind ("/openai/v1/...",
 * "/anthropic/v1/messages"): a route of one kind reads its own kind's
 * jobs alone (the prefix given, "/": any). */
static const char SQL_JOB_ANSWER[] =
	"SELECT j.answer FROM accounts a STRAIGHT_JOIN gateway_jobs j ON j.account_id = a.id "
	"WHERE a.ext_id = ? AND j.kind = ? AND j.object_id = ? AND LEFT(j.route, CHAR_LENGTH(?)) = ?";
static const char SQL_JOB_LIST[] =
	"SELECT j.answer FROM accounts a STRAIGHT_JOIN gateway_jobs j ON j.account_id = a.id "
	"WHERE a.ext_id = ? AND j.kind = ? AND LEFT(j.route, CHAR_LENGTH(?)) = ? AND j.id < COALESCE((SELECT k.id "
	"FROM gateway_jobs k WHERE k.account_id = a.id AND k.kind = ? AND k.object_id = ? AND "
	"LEFT(k.route, CHAR_LENGTH(?)) = ?), 18446744073709551615) ORDER BY j.id DESC LIMIT ?";
/* A cancel's answer kept on a running job, which is then polled at once
 * unless a pass holds it (its claim is its next_poll_at: left as it is). */
static const char SQL_JOB_CANCELLED[] =
	"UPDATE gateway_jobs SET answer = ?, status = ?, updated_at = ? "
	"WHERE account_id = (SELECT id FROM accounts WHERE ext_id = ?) AND kind = ? AND object_id = ? "
	"AND state = 'running'";
static const char SQL_JOB_WOKEN[] =
	"UPDATE gateway_jobs SET next_poll_at = ? "
	"WHERE account_id = (SELECT id FROM accounts WHERE ext_id = ?) AND kind = ? AND object_id = ? "
	"AND state = 'running' AND next_poll_at <= ?";
/* A batch's output or error file while its job is not done: its lines
 * are still to be read (docs/gateway.md, "Batches"). */
static const char SQL_FILE_BUSY[] =
	"SELECT 1 FROM accounts a WHERE a.ext_id = ? AND (EXISTS (SELECT 1 FROM gateway_jobs j WHERE "
	"j.account_id = a.id AND j.state <> 'done' AND (j.output_file_id = ? OR j.error_file_id = ?)) OR "
	"(EXISTS (SELECT 1 FROM gateway_objects o WHERE o.account_id = a.id AND o.object_id = ? AND "
	"o.kind = 'batch_output') AND NOT EXISTS (SELECT 1 FROM gateway_jobs j WHERE j.account_id = a.id AND "
	"j.state = 'done' AND (j.output_file_id = ? OR j.error_file_id = ?))))";

struct input_tx {
	const char *account, *file_id, *endpoint, *model, *answer;
	int64_t lines, hold;
	char *found_endpoint, *found_model;
	size_t cap;
	int found;
	const char *models;	/* kept: a JSON array's text */
	json_t *found_models;	/* found: the array, NULL when none was kept */
	const char *line_models;	/* kept: a JSON object's text */
	json_t *found_line_models;	/* found: the object, NULL when none was kept */
};

/* Column i of the row s is on, as JSON (NULL: none or not JSON). */
static json_t *json_of(const struct dbstmt *s, int i)
{
	return store_null(s, i) ? NULL : json_loadb(store_str(s, i), store_len(s, i), 0, NULL);
}

static enum cd_err input_keep(struct store *db, void *arg)
{
	struct input_tx *x = arg;
	return store_do(db, SQL_INPUT_KEEP, "batch input kept", "sssiisisss", x->file_id, x->endpoint, x->model, x->lines,
			x->hold, x->answer, db->now, x->models, x->line_models, x->account);
}

static enum cd_err input_find(struct store *db, void *arg)
{
	struct input_tx *x = arg;
	int e;
	struct dbstmt *s = store_exec(db, SQL_INPUT_FIND, &e, "ss", x->account, x->file_id);
	if (s == NULL)
		return store_err(db, e, "batch input lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	x->found = got == 1;
	if (x->found && (store_copy(s, 0, x->found_endpoint, x->cap, "") != 0 ||
			 store_copy(s, 3, x->found_model, 65, "") != 0))
		return CD_E_INTERNAL;
	x->lines = x->found ? store_i64(s, 1) : 0;
	x->hold = x->found ? store_i64(s, 2) : 0;
	json_decref(x->found_models);
	json_decref(x->found_line_models);
	x->found_models = x->found ? json_of(s, 4) : NULL;
	x->found_line_models = x->found ? json_of(s, 5) : NULL;
	return CD_OK;
}

enum cd_err ledger_gw_batch_input_keep(struct store *db, const char *account, const char *file_id,
				       const char *endpoint, const char *model, int64_t lines, int64_t hold_micros,
				       const char *answer, const char *models, const char *line_models)
{
	struct input_tx x = {account, file_id, endpoint, model, answer, lines, hold_micros, NULL, NULL, 0, 0, models,
			     NULL, line_models, NULL};
	assert(lines >= 0);
	assert(hold_micros >= 0);
	return store_tx_on(db, account, input_keep, &x);
}

enum cd_err ledger_gw_batch_input_find(struct store *db, const char *account, const char *file_id, char *endpoint,
				       size_t cap, char model[65], int64_t *lines, int64_t *hold_micros, int *found,
				       json_t **models, json_t **line_models)
{
	struct input_tx x = {account, file_id, NULL, NULL, NULL, 0, 0, endpoint, model, cap, 0, NULL, NULL, NULL, NULL};
	model[0] = '\0';
	enum cd_err rc = store_tx_on(db, account, input_find, &x);
	*found = rc == CD_OK && x.found;
	*models = rc == CD_OK ? x.found_models : NULL;
	*line_models = rc == CD_OK ? x.found_line_models : NULL;
	if (rc != CD_OK) {
		json_decref(x.found_models);
		json_decref(x.found_line_models);
	}
	*lines = x.lines;
	*hold_micros = x.hold;
	return rc;
}

struct job_tx {
	const struct ledger_gw_job *j;
	const char *answer;
	const char *line_models;	/* added with the job */
	struct ledger_gw_job *rows;
	int cap, n;
	int64_t now;
};

static const char *or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* The row id of a job's hold (sql/079: the sweep skips it while the job
 * is not done); 0 when its id is not one. */
static int64_t hold_row(struct store *db, const char *hold_id)
{
	int64_t account, hold;
	store_holdid_ensure(db);
	return ledger_rows_hold_id_parse(hold_id, &account, &hold) == 0 ? hold : 0;
}

static enum cd_err job_add(struct store *db, void *arg)
{
	struct job_tx *x = arg;
	const struct ledger_gw_job *j = x->j;
	return store_do(db, SQL_JOB_ADD, "job kept", "ssssssssisiiiss", j->kind, or_null(j->member), j->object_id,
			j->route, or_null(j->model), or_null(j->provider), j->hold_id, or_null(j->status), j->next_poll_at,
			x->answer, db->now, db->now, hold_row(db, j->hold_id), x->line_models, j->account);
}

enum cd_err ledger_gw_job_add(struct store *db, const struct ledger_gw_job *j, const char *answer,
			      const char *line_models)
{
	struct job_tx x = {j, answer, line_models, NULL, 0, 0, 0};
	return store_tx_on(db, j->account, job_add, &x);
}

struct line_models_tx {
	const char *account;
	int64_t id;
	json_t *out;
};

static enum cd_err job_line_models(struct store *db, void *arg)
{
	struct line_models_tx *x = arg;
	int e;
	struct dbstmt *s = store_exec(db, SQL_JOB_LINE_MODELS, &e, "si", x->account, x->id);
	if (s == NULL)
		return store_err(db, e, "job line models");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	json_decref(x->out);
	x->out = got == 1 ? json_of(s, 0) : NULL;
	/* Kept but not read as an object: never read as "none kept". */
	return got == 1 && !store_null(s, 0) && !json_is_object(x->out) ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_gw_job_line_models(struct store *db, const char *account, int64_t job_id, json_t **out)
{
	struct line_models_tx x = {account, job_id, NULL};
	enum cd_err rc = store_tx_on(db, account, job_line_models, &x);
	*out = rc == CD_OK ? x.out : NULL;
	if (rc != CD_OK)
		json_decref(x.out);
	return rc;
}

/* One row of JOB_COLS into r. 0, or -1 when a column does not fit. */
static int job_read(const struct dbstmt *s, struct ledger_gw_job *r)
{
	r->id = store_i64(s, 0);
	r->line_cursor = store_i64(s, 12);
	r->lines_charged = store_i64(s, 13);
	r->lines_released = store_i64(s, 14);
	r->next_poll_at = store_i64(s, 15);
	r->polls = store_i64(s, 16);
	r->created_at = store_i64(s, 17);
	r->charged_micros = store_i64(s, 19);
	r->line_keys = store_i64(s, 20) == 1;
	r->claim = 0;
	return store_copy(s, 1, r->kind, sizeof(r->kind), "") | store_copy(s, 2, r->account, sizeof(r->account), "") |
	       store_copy(s, 3, r->member, sizeof(r->member), "") |
	       store_copy(s, 4, r->object_id, sizeof(r->object_id), "") | store_copy(s, 5, r->route, sizeof(r->route), "") |
	       store_copy(s, 6, r->provider, sizeof(r->provider), "") |
	       store_copy(s, 7, r->hold_id, sizeof(r->hold_id), "") | store_copy(s, 8, r->state, sizeof(r->state), "") |
	       store_copy(s, 9, r->status, sizeof(r->status), "") |
	       store_copy(s, 10, r->output_file_id, sizeof(r->output_file_id), "") |
	       store_copy(s, 11, r->error_file_id, sizeof(r->error_file_id), "") |
	       store_copy(s, 18, r->model, sizeof(r->model), "");
}

static enum cd_err jobs_due(struct store *db, void *arg)
{
	struct job_tx *x = arg;
	int e, got;
	struct dbstmt *s = store_exec(db, SQL_JOBS_DUE, &e, "ii", x->now, (int64_t)x->cap);
	if (s == NULL)
		return store_err(db, e, "jobs due");
	x->n = 0;
	while (x->n < x->cap && (got = store_fetch(s)) == 1)
		if (job_read(s, &x->rows[x->n++]) != 0)
			return CD_E_INTERNAL;
	return CD_OK;
}

enum cd_err ledger_gw_jobs_due(struct store *db, int64_t now, struct ledger_gw_job *rows, int cap, int *n)
{
	struct job_tx x = {NULL, NULL, NULL, rows, cap, 0, now};
	assert(cap > 0);
	enum cd_err rc = store_tx_on(db, NULL, jobs_due, &x);
	*n = rc == CD_OK ? x.n : 0;
	return rc;
}

static enum cd_err job_save(struct store *db, void *arg)
{
	struct job_tx *x = arg;
	const struct ledger_gw_job *j = x->j;
	const int64_t *charged = j->charged_micros >= 0 ? &j->charged_micros : NULL;	/* -1: unknown, NULL */
	int e;
	struct dbstmt *s = x->answer == NULL	/* the provider's object as kept before */
		? store_exec(db, SQL_JOB_SAVE, &e, "ssssiiiIiiiiii", j->state, or_null(j->status),
			     or_null(j->output_file_id), or_null(j->error_file_id), j->line_cursor, j->lines_charged,
			     j->lines_released, charged, j->next_poll_at, j->polls, db->now, hold_row(db, j->hold_id), j->id, j->claim)
		: store_exec(db, SQL_JOB_SAVE_ANSWER, &e, "ssssiiiIiiiisii", j->state, or_null(j->status),
			     or_null(j->output_file_id), or_null(j->error_file_id), j->line_cursor, j->lines_charged,
			     j->lines_released, charged, j->next_poll_at, j->polls, db->now, hold_row(db, j->hold_id), x->answer,
			     j->id, j->claim);
	if (s == NULL)
		return store_err(db, e, "job saved");
	x->n = (int)store_affected(s);	/* CLIENT_FOUND_ROWS: the row matched */
	return CD_OK;
}

struct claim_tx {
	const struct ledger_gw_job *j;
	int64_t until;
	int claimed;
};

static enum cd_err job_claim(struct store *db, void *arg)
{
	struct claim_tx *x = arg;
	int e;
	struct dbstmt *s = store_exec(db, SQL_JOB_CLAIM, &e, "iii", x->until, x->j->id, x->j->next_poll_at);
	if (s == NULL)
		return store_err(db, e, "job claimed");
	x->claimed = store_affected(s) == 1;
	return CD_OK;
}

enum cd_err ledger_gw_job_claim(struct store *db, struct ledger_gw_job *j, int64_t until, int *claimed)
{
	struct claim_tx x = {j, until, 0};
	enum cd_err rc = store_tx_on(db, j->account, job_claim, &x);
	*claimed = rc == CD_OK && x.claimed;
	if (*claimed)
		j->next_poll_at = j->claim = until;
	return rc;
}

enum cd_err ledger_gw_job_save(struct store *db, struct ledger_gw_job *j, const char *answer)
{
	struct job_tx x = {j, answer, NULL, NULL, 0, 0, 0};
	assert(j->id > 0);
	enum cd_err rc = store_tx_on(db, j->account, job_save, &x);
	if (rc != CD_OK)
		return rc;
	if (x.n != 1)
		return CD_E_CONFLICT;	/* no longer this pass's */
	j->claim = j->next_poll_at;
	return CD_OK;
}

struct answer_tx {
	const char *account, *kind, *id, *route;
	int limit;
	json_t *out;
	int found, more;
};

/* The answer column of the row s is on, as JSON (NULL: none or not JSON). */
static json_t *answer_of(const struct dbstmt *s)
{
	const char *text = store_null(s, 0) ? NULL : store_str(s, 0);
	return text != NULL ? json_loadb(text, store_len(s, 0), 0, NULL) : NULL;
}

static enum cd_err job_answer(struct store *db, void *arg)
{
	struct answer_tx *x = arg;
	int e;
	struct dbstmt *s = store_exec(db, SQL_JOB_ANSWER, &e, "sssss", x->account, x->kind, x->id, x->route, x->route);
	if (s == NULL)
		return store_err(db, e, "job lookup");
	int got = store_fetch(s);
	if (got < 0)
		return CD_E_INTERNAL;
	x->found = got == 1;
	json_decref(x->out);
	x->out = x->found ? answer_of(s) : NULL;
	return CD_OK;
}

enum cd_err ledger_gw_job_answer(struct store *db, const char *account, const char *kind, const char *route,
				 const char *object_id, json_t **answer, int *found)
{
	struct answer_tx x = {account, kind, object_id, route, 0, NULL, 0, 0};
	enum cd_err rc = store_tx_on(db, account, job_answer, &x);
	*found = rc == CD_OK && x.found;
	*answer = rc == CD_OK ? x.out : NULL;
	if (rc != CD_OK)
		json_decref(x.out);
	return rc;
}

static enum cd_err job_list(struct store *db, void *arg)
{
	struct answer_tx *x = arg;
	int e, got;
	struct dbstmt *s = store_exec(db, SQL_JOB_LIST, &e, "ssssssssi", x->account, x->kind, x->route, x->route, x->kind,
				      x->id != NULL ? x->id : "", x->route, x->route, (int64_t)x->limit + 1);
	if (s == NULL)
		return store_err(db, e, "job list");
	json_decref(x->out);
	x->out = json_array();
	x->more = 0;
	while ((got = store_fetch(s)) == 1) {
		if ((int)json_array_size(x->out) == x->limit) {
			x->more = 1;
			break;
		}
		json_t *a = answer_of(s);
		if (a != NULL)
			json_array_append_new(x->out, a);
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_gw_job_list(struct store *db, const char *account, const char *kind, const char *route,
			       const char *after_id, int limit, json_t **data, int *has_more)
{
	struct answer_tx x = {account, kind, after_id, route, limit, NULL, 0, 0};
	assert(limit > 0);
	enum cd_err rc = store_tx_on(db, account, job_list, &x);
	*data = rc == CD_OK ? x.out : NULL;
	*has_more = x.more;
	if (rc != CD_OK)
		json_decref(x.out);
	return rc;
}

/* The answers of statement sql (one column) for (account, id), into an
 * array (list: at most limit, *more when there were more) or the one. */
struct file_tx {
	const char *account, *id;
	int limit, list, found, more;
	json_t *out;
};

static enum cd_err file_read(struct store *db, void *arg)
{
	struct file_tx *x = arg;
	int e, got;
	struct dbstmt *s = x->list ? store_exec(db, SQL_FILE_LIST, &e, "ssi", x->id, x->account, (int64_t)x->limit + 1)
				   : store_exec(db, SQL_FILE_ANSWER, &e, "ss", x->account, x->id);
	if (s == NULL)
		return store_err(db, e, "batch file read");
	json_decref(x->out);
	x->out = x->list ? json_array() : NULL;
	x->found = x->more = 0;
	while ((got = store_fetch(s)) == 1) {
		json_t *a = answer_of(s);
		x->found = 1;
		if (!x->list) {
			x->out = a;
			break;
		}
		if ((int)json_array_size(x->out) == x->limit) {
			json_decref(a);
			x->more = 1;
			break;
		}
		if (a != NULL)
			json_array_append_new(x->out, a);
	}
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_gw_file_answer(struct store *db, const char *account, const char *file_id, json_t **answer,
				  int *found)
{
	struct file_tx x = {account, file_id, 0, 0, 0, 0, NULL};
	enum cd_err rc = store_tx_on(db, account, file_read, &x);
	*found = rc == CD_OK && x.found;
	*answer = rc == CD_OK ? x.out : NULL;
	if (rc != CD_OK)
		json_decref(x.out);
	return rc;
}

enum cd_err ledger_gw_file_list(struct store *db, const char *account, const char *after_id, int limit, json_t **data,
				int *has_more)
{
	struct file_tx x = {account, after_id != NULL ? after_id : "", limit, 1, 0, 0, NULL};
	assert(limit > 0);
	enum cd_err rc = store_tx_on(db, account, file_read, &x);
	*data = rc == CD_OK ? x.out : NULL;
	*has_more = x.more;
	if (rc != CD_OK)
		json_decref(x.out);
	return rc;
}

struct busy_tx {
	const char *account, *file_id;
	int busy;
};

static enum cd_err file_busy(struct store *db, void *arg)
{
	struct busy_tx *x = arg;
	int e;
	struct dbstmt *s = store_exec(db, SQL_FILE_BUSY, &e, "ssssss", x->account, x->file_id, x->file_id, x->file_id,
				      x->file_id, x->file_id);
	if (s == NULL)
		return store_err(db, e, "batch file in use");
	int got = store_fetch(s);
	x->busy = got == 1;
	return got < 0 ? CD_E_INTERNAL : CD_OK;
}

enum cd_err ledger_gw_file_busy(struct store *db, const char *account, const char *file_id, int *busy)
{
	struct busy_tx x = {account, file_id, 0};
	enum cd_err rc = store_tx_on(db, account, file_busy, &x);
	*busy = rc == CD_OK && x.busy;
	return rc;
}

struct cancel_tx {
	const char *account, *kind, *id, *answer, *status;
	int64_t poll_seconds;
};

static enum cd_err job_cancelled(struct store *db, void *arg)
{
	struct cancel_tx *x = arg;
	enum cd_err rc = store_do(db, SQL_JOB_CANCELLED, "job cancelled", "ssisss", x->answer, or_null(x->status),
				  db->now, x->account, x->kind, x->id);
	if (rc == CD_OK)
		rc = store_do(db, SQL_JOB_WOKEN, "job woken", "isssi", db->now, x->account, x->kind, x->id,
			      db->now + x->poll_seconds);
	return rc;
}

enum cd_err ledger_gw_job_cancelled(struct store *db, const char *account, const char *kind, const char *object_id,
				    const char *answer, const char *status, int64_t poll_seconds)
{
	struct cancel_tx x = {account, kind, object_id, answer, status, poll_seconds};
	return store_tx_on(db, account, job_cancelled, &x);
}
