/* api_gwbatch.c: the Batch API's routes (docs/gateway.md, "Batches"):
 * OpenAI's batch input files and batches, Anthropic's Message Batches.
 *
 * A batch is checked whole before anything is held or forwarded: each
 * line passes its route's table and the key's models as a call would
 * (api_gw_batch_line), custom_ids are unique, and the sum of the lines'
 * worst cases at the rows' batch prices is what the batch holds. An
 * OpenAI input file is read when it is uploaded (the upload is where its
 * lines are): a file with a line refused is never forwarded, and a
 * batch can be made only from a file read so (gateway_batch_inputs).
 * Then the hold, the provider's create, and the job that settles the
 * batch when it ends (gwbatch_job.h) are made in that order; a create the
 * provider refuses releases the hold.
 *
 * Objects belong to the account that made them: a batch or file another
 * account made, another provider kind's batch, or none, is answered 404
 * as the provider answers an id it does not know (api_gwbatch_shape.c,
 * which also makes a message batch's results_url creditd's own: the
 * provider's would take creditd's key around it); GET and the lists
 * (api_gwbatch_read.c) come from creditd's records, never the
 * provider's. The provider is the kind's own (§12's: [gateway]
 * openai_api_key, anthropic_api_key), called on the worker's thread
 * (gwbatch_io.h) for these short requests; a batch's files are read,
 * listed and deleted by api_gwbatch_files.c. Never SQL, never curl. */
#include "api.h"
#include "api_gwbatch.h"
#include "api_gwhold.h"
#include "gwbatch.h"
#include "gwbatch_io.h"
#include "gwbatch_job.h"
#include "gwconfig.h"
#include "gwjob.h"
#include "gwkind.h"
#include "gwmultipart.h"
#include "gwobject.h"
#include "keys.h"
#include "ledger.h"
#include "answer.h"
#include "log.h"
#include "timefmt.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a batch's lines came to. */
struct lines_read {
	int64_t hold, lines, dearest;
	char model[65];
	char endpoint[64];
	json_t *ids;			/* the custom_ids seen, each to the model its line asked for */
	json_t *models;			/* the models the lines name (an object of them) */
	json_t *line_models;		/* a batch's input file's: gwbatch_line_models' object (NULL: none kept) */
	json_t *keys;			/* each line's key (gwbatch_line_key): no two the same */
};

/* The model each line asked for where not the dearest, as a JSON
 * object's text (gwbatch_line_models; the caller frees it): from the
 * lines read (ids), else as the input file kept them. NULL when out of
 * memory, or when the file kept none (its lines charged at the dearest). */
static char *line_models_text(const struct lines_read *b)
{
	if (b->ids == NULL)
		return b->line_models != NULL ? json_dumps(b->line_models, JSON_COMPACT) : NULL;
	json_t *m = gwbatch_line_models(b->ids, b->model);
	char *text = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	return text;
}

/* The route a line's url names on kind k ("/v1/chat/completions" on
 * openai): a call's route that is held and charged by tokens, else NULL. */
static const struct gwkind_route *line_route(const struct gwkind *k, const char *url)
{
	char path[96];
	if ((size_t)snprintf(path, sizeof(path), "/%s%s", k->name, url) >= sizeof(path))
		return NULL;
	for (size_t i = 0; i < k->nroutes; i++) {
		const struct gwkind_route *r = &k->routes[i];
		if (!r->object && !r->free && !r->media && r->upstream != NULL && r->table != NULL &&
		    strcmp(r->path, path) == 0)
			return r;
	}
	return NULL;
}

/* A refusal of line n: its message says which line. */
static void line_said(struct response *rs, int64_t n, const char *custom_id)
{
	json_t *err = json_object_get(rs->json, "error");
	const char *msg = json_string_value(json_object_get(err, "message"));
	json_t *said = msg != NULL ? json_sprintf("line %lld (custom_id '%s'): %s", (long long)n, custom_id, msg) : NULL;
	if (said != NULL)
		json_object_set_new(err, "message", said);
}

/* One line read, checked and added to b. 0, or -1 with rs filled. */
static int line_add(struct api_ctx *ctx, const struct request *rq, const struct gwkind *k, struct gwbatch_input *in,
		    struct lines_read *b, struct response *rs)
{
	int64_t amount = 0;
	char model[65];
	const struct gwkind_route *route = line_route(k, in->url);
	if (b->endpoint[0] == '\0')
		snprintf(b->endpoint, sizeof(b->endpoint), "%s", in->url);
	if (route == NULL || strcmp(b->endpoint, in->url) != 0) {
		api_error(rs, CD_E_INVALID, "url", route == NULL ? "'%s' is no route creditd holds and charges a batch on"
			  : "every line of a batch names the same url (the first named '%s')", route == NULL ? in->url
			  : b->endpoint);
		return -1;
	}
	if (json_object_get(b->ids, in->custom_id) != NULL) {
		api_error(rs, CD_E_INVALID, "custom_id", "custom_id '%s' is given twice: each line's is its own",
			  in->custom_id);
		return -1;
	}
	/* A line's model is kept by its key (a 96-bit hash of its custom_id):
	 * two custom_ids of one batch with the same key could have one line
	 * charged at the other's model. */
	char key[GWBATCH_LINE_KEY_BYTES];
	gwbatch_line_key(in->custom_id, key);
	if (json_object_get(b->keys, key) != NULL) {
		api_error(rs, CD_E_INVALID, "custom_id", "custom_id '%s' cannot be told from another line's: rename it",
			  in->custom_id);
		return -1;
	}
	json_object_set_new(b->keys, key, json_true());
	json_object_set_new(b->ids, in->custom_id, json_true());
	char *text = json_dumps(in->body, JSON_COMPACT);
	int rc = text != NULL ? api_gw_batch_line(ctx, rq, route, text, strlen(text), &amount, model, sizeof(model), rs)
			      : (api_error(rs, CD_E_INTERNAL, NULL, "out of memory"), -1);
	free(text);
	if (rc != 0)
		return -1;
	if (amount > LIMIT_AMOUNT_MICROS_MAX - b->hold) {
		api_error(rs, CD_E_INVALID, NULL, "the batch's worst case is above the %lld micros one hold may move: "
			  "split it", (long long)LIMIT_AMOUNT_MICROS_MAX);
		return -1;
	}
	b->hold += amount;
	if (json_object_set_new(b->models, model, json_true()) != 0 ||
	    json_object_set_new(b->ids, in->custom_id, json_string(model)) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
		return -1;
	}
	if (amount >= b->dearest) {
		b->dearest = amount;
		snprintf(b->model, sizeof(b->model), "%s", model);
	}
	return 0;
}

/* Every line of an OpenAI input file (len bytes at data). 0, or -1 with
 * rs filled. */
static int file_lines(struct api_ctx *ctx, const struct request *rq, const char *data, size_t len,
		      struct lines_read *b, struct response *rs)
{
	char param[LIMIT_GATEWAY_PARAM_BYTES], err[256];
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(data + at, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - (data + at)) : len - at;
		const char *start = data + at;
		at += n + (nl != NULL);
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		struct gwbatch_input in;
		if (++b->lines > LIMIT_GATEWAY_BATCH_LINES) {
			api_error(rs, CD_E_INVALID, "file", "a batch holds at most %d lines", LIMIT_GATEWAY_BATCH_LINES);
			return -1;
		}
		if (gwbatch_input_line(start, n, &in, param, sizeof(param), err, sizeof(err)) != 0) {
			api_error(rs, CD_E_INVALID, param[0] != '\0' ? param : "file", "line %lld: %s", (long long)b->lines,
				  err);
			return -1;
		}
		int rc = line_add(ctx, rq, &gwkind_openai, &in, b, rs);
		if (rc != 0)
			line_said(rs, b->lines, in.custom_id);
		json_decref(in.body);
		if (rc != 0)
			return -1;
	}
	if (b->lines == 0) {
		api_error(rs, CD_E_INVALID, "file", "the file holds no line");
		return -1;
	}
	return 0;
}

/* The kind's own provider (§12's), with its key. NULL with rs filled. */
static const struct gwconfig_provider *kind_provider(struct api_ctx *ctx, const struct gwkind *k, struct response *rs)
{
	const struct gwconfig_provider *p = gwconfig_provider_of(ctx->gw, k, "");
	if (p == NULL || p->api_key[0] == '\0') {
		api_error(rs, CD_E_PROVIDER_OFF, NULL, "the %s provider has no key configured: creditd forwards no batch",
			  k->name);
		return NULL;
	}
	return p;
}

/* Sends r to p and answers its answer as it came (its status, its JSON);
 * *out the answer when 2xx (the caller's), else NULL. 0 when 2xx. */
int api_gwbatch_forward(struct api_ctx *ctx, const struct gwconfig_provider *p, struct gwbatch_request *r,
			json_t **out, struct response *rs)
{
	char err[256];
	struct dynbuf answer;
	int status = 0;
	*out = NULL;
	r->connect_ms = (long)ctx->gw->connect_timeout_ms;
	r->total_ms = LIMIT_GATEWAY_BATCH_FETCH_SECONDS * 1000L;
	dynbuf_init(&answer, LIMIT_GATEWAY_BATCH_ANSWER_BYTES);
	int rc = gwbatch_io_call(p, r, &status, &answer, err, sizeof(err));
	json_t *root = rc == 0 && answer.data != NULL ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
	dynbuf_free(&answer);
	if (root == NULL) {
		api_error(rs, CD_E_UPSTREAM, NULL, "the provider gave no answer creditd can read%s%s",
			  rc != 0 ? ": " : "", rc != 0 ? err : "");
		return -1;
	}
	if (status < 200 || status >= 300) {
		api_json(rs, status, root);
		return -1;
	}
	*out = root;
	return 0;
}

/* Who pays, into the account and member of a job made for the purpose
 * (the caller frees it). NULL with rs filled. */
struct gw_job *api_gwbatch_payer(struct api_ctx *ctx, const struct request *rq, struct response *rs)
{
	struct gw_job *job = calloc(1, sizeof(*job));
	if (job == NULL) {
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	job->gw = ctx->gw;
	job->place = -1;
	if (api_gw_payer(ctx, rq, job, rs) != 0) {
		free(job);
		return NULL;
	}
	return job;
}

/* The upload's form: purpose "batch" and one file. 0 with the file's
 * bytes in *data and *len, or -1 with rs filled. */
static int upload_form(const struct request *rq, struct gwmultipart *mp, struct gwmultipart_part *parts, size_t cap,
		       const char **data, size_t *len, struct response *rs)
{
	char boundary[GWMULTIPART_BOUNDARY_BYTES], purpose[32];
	enum gwmultipart_err why = GWMULTIPART_OK;
	if (rq->content_type == NULL || gwmultipart_boundary(rq->content_type, boundary, sizeof(boundary), &why) < 0 ||
	    (why = gwmultipart_parse(mp, (const unsigned char *)rq->body, rq->body_len, boundary, parts, cap)) !=
		    GWMULTIPART_OK) {
		api_error(rs, CD_E_INVALID, NULL, "the body must be multipart/form-data: %s", gwmultipart_strerror(why));
		return -1;
	}
	const struct gwmultipart_part *file = gwmultipart_find(mp, "file");
	if (gwmultipart_text(mp, "purpose", purpose, sizeof(purpose)) != GWMULTIPART_TEXT_OK ||
	    strcmp(purpose, "batch") != 0) {
		api_error(rs, CD_E_INVALID, "purpose", "creditd passes on files of purpose \"batch\" alone (docs/gateway.md, "
			  "\"Batches\"): a file of another purpose is no call it holds");
		return -1;
	}
	for (size_t i = 0; i < mp->n; i++)
		if (!gwmultipart_is(mp, &parts[i], "file") && !gwmultipart_is(mp, &parts[i], "purpose")) {
			api_error(rs, CD_E_INVALID, NULL, "an upload carries file and purpose alone");
			return -1;
		}
	if (file == NULL || !file->has_filename) {
		api_error(rs, CD_E_INVALID, "file", "the upload has no file");
		return -1;
	}
	*data = rq->body + file->data_offset;
	*len = file->data_len;
	return 0;
}

/* The file the provider made, kept for the account with what its lines
 * came to. 0, or -1 with rs filled. */
static int file_keep(struct api_ctx *ctx, const struct gw_job *payer_job, const struct gwconfig_provider *p,
		     const json_t *file, const struct lines_read *b, struct response *rs)
{
	const char *id = json_string_value(json_object_get(file, "id"));
	if (id == NULL || !gwobject_id_ok(id)) {
		api_error(rs, CD_E_UPSTREAM, NULL, "the provider's file has no id creditd can keep");
		return -1;
	}
	char *answer = json_dumps(file, JSON_COMPACT), *models = NULL, *line_models = line_models_text(b);
	json_t *names = json_array(), *v;
	const char *name;	/* the models, as an array */
	json_object_foreach(b->models, name, v)
		json_array_append_new(names, json_string(name));
	models = names != NULL ? json_dumps(names, JSON_COMPACT) : NULL;
	json_decref(names);
	enum cd_err rc = answer != NULL && models != NULL && line_models != NULL
		? ledger_gw_object_keep(ctx->db, payer_job->account, LEDGER_GW_FILE, id, p->name) : CD_E_INTERNAL;
	if (rc == CD_OK)
		rc = ledger_gw_batch_input_keep(ctx->db, payer_job->account, id, b->endpoint, b->model, b->lines, b->hold,
						answer, models, line_models);
	free(answer);
	free(models);
	free(line_models);
	if (rc != CD_OK) {
		api_fail(rs, rc, "batch file record");
		return -1;
	}
	return 0;
}

/* POST /openai/v1/files: a batch input file, read line by line before it
 * is forwarded. */
void api_gw_file_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	struct gwmultipart mp;
	struct gwmultipart_part parts[4];
	struct lines_read b = {0, 0, -1, "", "", json_object(), json_object(), NULL, json_object()};
	const char *data = NULL;
	size_t len = 0;
	json_t *file = NULL;
	(void)params;
	struct gw_job *job = b.ids != NULL && b.keys != NULL ? api_gwbatch_payer(ctx, rq, rs) : NULL;
	const struct gwconfig_provider *p = job != NULL ? kind_provider(ctx, &gwkind_openai, rs) : NULL;
	if (p != NULL && upload_form(rq, &mp, parts, sizeof(parts) / sizeof(parts[0]), &data, &len, rs) == 0 &&
	    file_lines(ctx, rq, data, len, &b, rs) == 0) {
		struct gwbatch_request r = {"POST", "/files", rq->content_type, rq->body, rq->body_len, NULL, 0, 0};
		if (api_gwbatch_forward(ctx, p, &r, &file, rs) == 0 && file_keep(ctx, job, p, file, &b, rs) == 0)
			api_json(rs, 200, json_incref(file));
	}
	if (b.ids == NULL || b.keys == NULL)
		api_error(rs, CD_E_INTERNAL, NULL, "out of memory");
	json_decref(file);
	json_decref(b.ids);
	json_decref(b.models);
	json_decref(b.keys);
	free(job);
}

/* The batch's hold: the sum of its lines' worst cases, for as long as its
 * job renews it. 0 with hold_id (LIMIT_HOLD_ID_BYTES), or -1 with the
 * refusal in rs (402 when the account cannot cover it). */
static int batch_hold(struct api_ctx *ctx, const struct gw_job *job, const char *model, int64_t hold, char *hold_id,
		      struct response *rs)
{
	char request_id[LIMIT_REQUEST_ID_BYTES + 1];
	struct ledger_result res;
	struct guard_authorize r;
	memset(&r, 0, sizeof(r));
	r.model = model;
	r.min_output_tokens = -1;
	r.ttl_seconds = LIMIT_GATEWAY_BATCH_HOLD_SECONDS;
	r.amount_micros = hold;
	if (api_gw_authorize(ctx, job, "batch", &r, request_id, sizeof(request_id), &res, rs) != 0)
		return -1;
	snprintf(hold_id, LIMIT_HOLD_ID_BYTES, "%s", res.done.u.hold.hold_id);
	json_decref(res.body);
	return 0;
}

/* A hold whose batch the provider did not make, released. */
static void hold_back(struct api_ctx *ctx, const char *hold_id)
{
	unsigned char hash[KEYS_HASH_LEN];
	struct ledger_result res = {0};
	keys_sha256(hold_id, strlen(hold_id), hash);
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash};
	struct guard_release r = {hold_id, 1};
	if (ledger_release(ctx->db, &call, &r, &res) != CD_OK || res.refusal.why != REFUSE_NONE)
		log_error("gateway: the hold %s of a batch its provider refused was not released: it expires at its ttl",
			  hold_id);
	json_decref(res.body);
}

/* The batch made: its object kept for the account and its job begun,
 * with the model each of its lines asked for (b). A record that cannot
 * be kept is logged (the batch runs; its hold is captured at its ttl
 * rather than let it run free). */
static void batch_keep(struct api_ctx *ctx, const struct gw_job *job, const struct gwconfig_provider *p,
		       const char *route, const struct lines_read *b, const char *hold_id, const json_t *batch)
{
	struct ledger_gw_job j;
	const char *id = json_string_value(json_object_get(batch, "id")), *model = b->model;
	char *answer = json_dumps(batch, JSON_COMPACT), *line_models = line_models_text(b);
	memset(&j, 0, sizeof(j));
	snprintf(j.kind, sizeof(j.kind), "batch");
	snprintf(j.account, sizeof(j.account), "%s", job->account);
	snprintf(j.member, sizeof(j.member), "%s", job->member);
	snprintf(j.object_id, sizeof(j.object_id), "%s", id != NULL ? id : "");
	snprintf(j.route, sizeof(j.route), "%s", route);
	snprintf(j.model, sizeof(j.model), "%s", model);
	snprintf(j.provider, sizeof(j.provider), "%s", p->name);
	snprintf(j.hold_id, sizeof(j.hold_id), "%s", hold_id);
	j.next_poll_at = timefmt_now() + ctx->gw->batch_poll_seconds;
	enum cd_err rc = id != NULL && gwobject_id_ok(id) && answer != NULL ? ledger_gw_object_keep(ctx->db, job->account,
							 LEDGER_GW_BATCH, id, p->name) : CD_E_INTERNAL;
	/* A file kept with no line's model (before sql/080): none. */
	if (rc == CD_OK && line_models == NULL && (b->ids != NULL || b->line_models != NULL))
		rc = CD_E_INTERNAL;
	if (rc == CD_OK)
		rc = ledger_gw_job_add(ctx->db, &j, answer, line_models);
	if (rc != CD_OK)
		log_error("gateway: batch %s of %s is running but its job was not kept (%s): its hold %s is captured "
			  "at its ttl", id != NULL ? id : "?", job->account, errors_strerror(rc), hold_id);
	free(answer);
	free(line_models);
}

/* OpenAI's create body: input_file_id the account's batch file, endpoint
 * its lines', nothing else but what the reference lists. 0 with the
 * file's figures in b, or -1 with rs filled. */
static int create_body(struct api_ctx *ctx, const struct request *rq, const struct gw_job *job, const json_t *body,
		       struct lines_read *b, struct response *rs)
{
	/* No output_expires_after: results outlive a settle (gateway.md). */
	static const char *const known[] = {"input_file_id", "endpoint", "completion_window", "metadata"};
	const char *key, *file = json_string_value(json_object_get(body, "input_file_id"));
	const char *endpoint = json_string_value(json_object_get(body, "endpoint"));
	json_t *v;
	int found = 0;
	json_object_foreach((json_t *)body, key, v) {
		size_t i = 0;
		while (i < sizeof(known) / sizeof(known[0]) && strcmp(known[i], key) != 0)
			i++;
		if (i == sizeof(known) / sizeof(known[0])) {
			api_error(rs, CD_E_INVALID, key, "\"%s\" is no member of a batch creditd passes on", key);
			return -1;
		}
	}
	const json_t *window = json_object_get(body, "completion_window");
	if (!json_is_string(json_object_get(body, "input_file_id"))) {
		api_error(rs, CD_E_INVALID, "input_file_id", "input_file_id must be the id (text) of a file of purpose "
			  "batch");
		return -1;
	}
	if (!json_is_string(window) || strcmp(json_string_value(window), "24h") != 0) {
		api_error(rs, CD_E_INVALID, "completion_window", "completion_window must be \"24h\" (the only "
			  "window the reference has)");
		return -1;
	}
	enum cd_err rc = file != NULL && gwobject_id_ok(file)
		? ledger_gw_batch_input_find(ctx->db, job->account, file, b->endpoint, sizeof(b->endpoint), b->model,
					     &b->lines, &b->hold, &found, &b->models, &b->line_models) : CD_OK;
	if (rc != CD_OK) {
		api_fail(rs, rc, "batch file lookup");
		return -1;
	}
	if (!found) {
		api_gwbatch_not_found(rq, rs, "input_file_id", "No such File object: %s (a batch is made from a file of "
				      "purpose batch this account uploaded through creditd)", gwobject_id_ok(file) ? file : "?");
		return -1;
	}
	if (endpoint == NULL || strcmp(endpoint, b->endpoint) != 0) {
		api_error(rs, CD_E_INVALID, "endpoint", "the file's lines call %s", b->endpoint);
		return -1;
	}
	/* The file was checked under the key that uploaded it: its models
	 * again under the key that makes the batch (a file kept without its
	 * models: its dearest). */
	size_t i;
	json_t *m;
	json_array_foreach(b->models, i, m)
		if (api_gw_model_allowed(ctx, json_string_value(m), "input_file_id", rs) != 0)
			return -1;
	return json_array_size(b->models) > 0 ? 0 : api_gw_model_allowed(ctx, b->model, "input_file_id", rs);
}

/* POST /openai/v1/batches: held, made, and its job begun. */
void api_gw_batch_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char hold_id[LIMIT_HOLD_ID_BYTES], route[64];
	struct lines_read b = {0, 0, 0, "", "", NULL, NULL, NULL, NULL};
	json_t *batch = NULL, *body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
	(void)params;
	struct gw_job *job = json_is_object(body) ? api_gwbatch_payer(ctx, rq, rs)
			   : (api_error(rs, CD_E_INVALID, NULL, "the body must be a JSON object"), NULL);
	const struct gwconfig_provider *p = job != NULL ? kind_provider(ctx, &gwkind_openai, rs) : NULL;
	if (p != NULL && create_body(ctx, rq, job, body, &b, rs) == 0 &&
	    batch_hold(ctx, job, b.model, b.hold, hold_id, rs) == 0) {
		char *text = json_dumps(body, JSON_COMPACT);
		struct gwbatch_request r = {"POST", "/batches", "application/json", text, text != NULL ? strlen(text) : 0,
					    NULL, 0, 0};
		if (text != NULL && api_gwbatch_forward(ctx, p, &r, &batch, rs) == 0) {
			snprintf(route, sizeof(route), "/openai%.50s", b.endpoint);
			batch_keep(ctx, job, p, route, &b, hold_id, batch);
			api_json(rs, 200, json_incref(batch));
		} else {
			hold_back(ctx, hold_id);
		}
		free(text);
	}
	json_decref(batch);
	json_decref(body);
	json_decref(b.models);
	json_decref(b.line_models);
	free(job);
}

/* The cancel's answer kept on the batch's job, woken unless a pass holds it. */
static void cancel_kept(struct api_ctx *ctx, const char *account, const char *id, const json_t *batch)
{
	char *text = json_dumps(batch, JSON_COMPACT);
	int64_t poll = ctx->gw->batch_poll_seconds;
	const char *st = json_string_value(json_object_get(batch, json_object_get(batch, "status") != NULL ? "status"
							   : "processing_status"));
	enum cd_err rc = text != NULL ? ledger_gw_job_cancelled(ctx->db, account, "batch", id, text, st, poll) : CD_E_INTERNAL;
	free(text);
	if (rc != CD_OK)	/* its next poll keeps it */
		log_warn("gateway: batch %s of %s: its cancel's answer was not kept (%s)", id, account, errors_strerror(rc));
	gwbatch_job_wake();
}

/* *owned 1 with its provider (cap bytes) when id is account's batch of
 * rq's provider kind (its job's route names the kind: an OpenAI batch is
 * no message batch, nor the reverse); 0 otherwise. */
static enum cd_err batch_owned(struct api_ctx *ctx, const struct request *rq, const char *account, const char *id,
			       int *owned, char *provider, size_t cap)
{
	json_t *answer = NULL;
	int found = 0;
	*owned = 0;
	if (!gwobject_id_ok(id))
		return CD_OK;
	enum cd_err rc = ledger_gw_job_answer(ctx->db, account, "batch", api_gwbatch_anthropic(rq) ? "/anthropic/"
					      : "/openai/", id, &answer, &found);
	json_decref(answer);
	if (rc == CD_OK && found)
		rc = ledger_gw_object_find(ctx->db, account, LEDGER_GW_BATCH, id, owned, provider, cap);
	return rc;
}

/* POST /openai/v1/batches/{id}/cancel and Anthropic's: forwarded to the
 * provider that runs it, the batch's answer kept, its job polled at once
 * (a cancel mid-run is charged what ran, when the provider ends it). */
void api_gw_batch_cancel(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char provider[LIMIT_CONFIG_NAME_BYTES] = "", path[LIMIT_GATEWAY_URL_BYTES];
	int owned = 0, anthropic = api_gwbatch_anthropic(rq);
	json_t *batch = NULL;
	struct gw_job *job = api_gwbatch_payer(ctx, rq, rs);
	const struct gwkind *k = anthropic ? &gwkind_anthropic : &gwkind_openai;
	if (job == NULL)
		return;
	enum cd_err rc = batch_owned(ctx, rq, job->account, params[0], &owned, provider, sizeof(provider));
	const struct gwconfig_provider *p = owned ? gwconfig_provider_of(ctx->gw, k, provider) : NULL;
	if (rc != CD_OK)
		api_fail(rs, rc, "batch lookup");
	else if (!owned)
		api_gwbatch_no_batch(rq, rs, params[0]);
	else if (p == NULL)
		api_error(rs, CD_E_PROVIDER_OFF, NULL, "the provider that runs this batch ('%s') is no longer configured",
			  provider);
	else if (gwbatch_job_path(anthropic ? "/anthropic/" : "/openai/", params[0], "cancel", path, sizeof(path)) == 0) {
		struct gwbatch_request r = {"POST", path, NULL, NULL, 0, NULL, 0, 0};
		if (api_gwbatch_forward(ctx, p, &r, &batch, rs) == 0) {
			cancel_kept(ctx, job->account, params[0], batch);
			api_gwbatch_own_results(ctx, rq, batch);
			api_json(rs, 200, json_incref(batch));
		}
	}
	json_decref(batch);
	free(job);
}

/* Anthropic's create body's requests, each checked as a Messages call.
 * 0, or -1 with rs filled. */
static int request_lines(struct api_ctx *ctx, const struct request *rq, const json_t *body, struct lines_read *b,
			 struct response *rs)
{
	char param[LIMIT_GATEWAY_PARAM_BYTES], err[256];
	const char *key;
	json_t *v, *reqs = json_object_get(body, "requests");
	size_t i;
	json_object_foreach((json_t *)body, key, v)
		if (strcmp(key, "requests") != 0) {
			api_error(rs, CD_E_INVALID, key, "a batch's create carries requests alone");
			return -1;
		}
	if (!json_is_array(reqs) || json_array_size(reqs) == 0 || json_array_size(reqs) > LIMIT_GATEWAY_BATCH_LINES) {
		api_error(rs, CD_E_INVALID, "requests", "requests must be 1 to %d Messages requests",
			  LIMIT_GATEWAY_BATCH_LINES);
		return -1;
	}
	json_array_foreach(reqs, i, v) {
		struct gwbatch_input in;
		b->lines++;
		if (gwbatch_input_request(v, &in, param, sizeof(param), err, sizeof(err)) != 0) {
			api_error(rs, CD_E_INVALID, param, "requests[%zu]: %s", i, err);
			return -1;
		}
		int rc = line_add(ctx, rq, &gwkind_anthropic, &in, b, rs);
		if (rc != 0)
			line_said(rs, b->lines, in.custom_id);
		json_decref(in.body);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* POST /anthropic/v1/messages/batches: every request checked, the batch
 * held, made, and its job begun. */
void api_gw_message_batch_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char hold_id[LIMIT_HOLD_ID_BYTES];
	struct lines_read b = {0, 0, -1, "", "", json_object(), json_object(), NULL, json_object()};
	json_t *batch = NULL, *body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
	(void)params;
	struct gw_job *job = json_is_object(body) && b.ids != NULL && b.keys != NULL ? api_gwbatch_payer(ctx, rq, rs)
			   : (api_error(rs, CD_E_INVALID, NULL, "the body must be a JSON object"), NULL);
	const struct gwconfig_provider *p = job != NULL ? kind_provider(ctx, &gwkind_anthropic, rs) : NULL;
	if (p != NULL && request_lines(ctx, rq, body, &b, rs) == 0 &&
	    batch_hold(ctx, job, b.model, b.hold, hold_id, rs) == 0) {
		struct gwbatch_request r = {"POST", "/v1/messages/batches", "application/json", rq->body, rq->body_len, NULL,
					    0, 0};
		if (api_gwbatch_forward(ctx, p, &r, &batch, rs) == 0) {
			batch_keep(ctx, job, p, "/anthropic/v1/messages", &b, hold_id, batch);
			api_gwbatch_own_results(ctx, rq, batch);
			api_json(rs, 200, json_incref(batch));
		} else {
			hold_back(ctx, hold_id);
		}
	}
	json_decref(batch);
	json_decref(body);
	json_decref(b.ids);
	json_decref(b.models);
	json_decref(b.keys);
	free(job);
}

/* GET /anthropic/v1/messages/batches/{id}/results: the provider's
 * results of the account's batch, passed on as they come (JSONL). */
void api_gw_message_batch_results(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	char provider[LIMIT_CONFIG_NAME_BYTES] = "", path[LIMIT_GATEWAY_URL_BYTES], err[256];
	int owned = 0, status = 0;
	struct dynbuf answer;
	struct gw_job *job = api_gwbatch_payer(ctx, rq, rs);
	if (job == NULL)
		return;
	enum cd_err rc = batch_owned(ctx, rq, job->account, params[0], &owned, provider, sizeof(provider));
	free(job);
	const struct gwconfig_provider *p = owned ? gwconfig_provider_of(ctx->gw, &gwkind_anthropic,
									  provider) : NULL;
	if (rc != CD_OK || !owned || p == NULL ||
	    gwbatch_job_path("/anthropic/", params[0], "results", path, sizeof(path)) != 0) {
		if (rc != CD_OK)
			api_fail(rs, rc, "batch lookup");
		else
			api_gwbatch_no_batch(rq, rs, params[0]);
		return;
	}
	dynbuf_init(&answer, LIMIT_GATEWAY_BATCH_RESULTS_ANSWER_BYTES);
	struct gwbatch_request r = {"GET", path, NULL, NULL, 0, NULL, (long)ctx->gw->connect_timeout_ms,
				    LIMIT_GATEWAY_BATCH_FETCH_SECONDS * 1000L};
	if (gwbatch_io_call(p, &r, &status, &answer, err, sizeof(err)) != 0 || status != 200 || answer.data == NULL) {
		json_t *e = answer.data != NULL ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
		if (e != NULL && status >= 400)
			api_json(rs, status, e);
		else
			api_error(rs, CD_E_UPSTREAM, NULL, "the provider gave no results creditd can pass on");
		json_decref(e);
		dynbuf_free(&answer);
		return;
	}
	rs->status = 200;
	rs->text = answer.data;	/* the answer's, freed with it */
	rs->content_type = "application/binary";
}
