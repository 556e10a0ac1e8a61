/* gwbatch_job.c: a batch carried from its create to its settle (see
 * gwbatch_job.h; docs/gateway.md, "Batches"). One thread, one ledger
 * connection of its own, the provider called with an easy handle of its
 * own (gwbatch_io.h): a poll that waits on a provider never holds a
 * worker or the gateway's loop.
 *
 * Exactly once: each line is charged by ledger_usage under a request_id
 * made of the job's hold and the line's custom_id (after the job's own
 * id: sql/081, so that what its lines charged is one range of their
 * usage records, read whole when its hold is kept), so a line settled
 * again (after a crash, or a custom_id the provider wrote twice) replays
 * its first charge; the hold is released only after every line is
 * charged, and its release is idempotent. The job's row moves running →
 * settling (the provider ended it: committed before the first line is
 * charged) → done (the hold released), and the line cursor after each
 * chunk of LIMIT_GATEWAY_BATCH_CHUNK_LINES lines: a resumed settle runs
 * every line again (their order may differ), the cursor only counting. The money decisions are
 * src/money's (pricing_batch, pricing_token_cost); no SQL here. */
#include "gwbatch_job.h"
#include "gwbatch.h"
#include "gwbatch_io.h"
#include "gwcall.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "gwmoney.h"
#include "answer.h"
#include "config.h"
#include "keys.h"
#include "ledger.h"
#include "ledger_unresolved.h"
#include "log.h"
#include "metrics.h"
#include "pricing.h"
#include "spool.h"
#include "timefmt.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct cfg *cc;
static const struct gwconfig *gw;
static pthread_t thread;
static int started;
static atomic_int alive;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stopping;

/* One job's pass: its provider, its lines' route and shape. */
struct pass {
	struct store *db;
	struct ledger_gw_job *j;
	const struct gwconfig_provider *p;
	const struct gwkind_route *route;
	enum gwbatch_shape shape;
	int64_t now;
	int64_t held;		/* the hold's micros */
	/* This pass's succeeded lines, each once (a custom_id written twice
	 * counted once): how many (charged now, charged before, or refused)
	 * and what they charged (a replay's first charge). Once a pass has
	 * read every line, what the batch's lines charged, to the micro. */
	int64_t succeeded, charged;
	int past_hold;		/* the lines' charges passed the hold (logged once a pass) */
	int64_t unresolved;	/* this pass's lines not charged yet (or not read): nothing released */
	struct gwbatch_seen seen;	/* the succeeded lines met, by request id */
	json_t *line_models;	/* the model each line asked for where not j->model (NULL: none kept) */
	/* Until when (timefmt_mono_ms) this pass surely still holds its job:
	 * half its lease after the save that last renewed it (0: renewed by
	 * none yet). Past it, no line is charged before a save renews the
	 * lease: another creditd may take a job whose lease ran out and end
	 * it (abandoned, its hold kept at what its lines had charged), and a
	 * line this pass charged after that would be charged again. */
	int64_t held_until_ms;
};

static const struct gwkind_route *route_of(const char *path)
{
	const struct gwkind *k = gwkind_of_path(path);
	for (size_t i = 0; k != NULL && i < k->nroutes; i++)
		if (!k->routes[i].object && strcmp(k->routes[i].path, path) == 0)
			return &k->routes[i];
	return NULL;
}

int gwbatch_job_path(const char *route, const char *id, const char *action, char *out, unsigned long cap)
{
	int anthropic = strncmp(route, "/anthropic/", 11) == 0;
	int n = snprintf(out, cap, "%s/%s%s%s", anthropic ? "/v1/messages/batches" : "/batches", id, action[0] != '\0' ? "/" : "",
			 action);
	return n >= 0 && (unsigned long)n < cap ? 0 : -1;
}

/* How long a pass holds its job (LIMIT_GATEWAY_BATCH_LEASE_POLLS). */
static int64_t lease(void)
{
	return LIMIT_GATEWAY_BATCH_LEASE_POLLS * gw->batch_poll_seconds;
}

/* The job's lease renewed with its progress (a save that holds only
 * while this pass still holds the job). 0, or -1 when it is lost. */
static int hold_on(struct pass *x)
{
	x->j->next_poll_at = timefmt_now() + lease();
	if (ledger_gw_job_save(x->db, x->j, NULL) != CD_OK)
		return -1;
	x->held_until_ms = timefmt_mono_ms() + lease() * 1000 / 2;
	return 0;
}

/* A save of the job (what) that did not hold, logged: a warning when
 * another pass took the job (this one outlived its lease: slow, or the
 * clock moved; that pass polls or settles it, each line's charge
 * replaying), an error when the database did not keep it. */
static void not_kept(const struct pass *x, enum cd_err rc, const char *what)
{
	if (rc == CD_E_CONFLICT)
		log_warn("gateway: batch %s: %s not kept: another pass took the job (this one outlived its lease)",
			 x->j->object_id, what);
	else
		log_error("gateway: batch %s: %s could not be kept (%s)", x->j->object_id, what, errors_strerror(rc));
}

/* The job polled again at its next time (a provider away, an answer not read). */
static void later(struct pass *x, const char *why)
{
	log_warn("gateway: batch %s of %s: %s; polled again in %lld s", x->j->object_id, x->j->account, why,
		 (long long)gw->batch_poll_seconds);
	x->j->next_poll_at = x->now + gw->batch_poll_seconds;
	enum cd_err rc = ledger_gw_job_save(x->db, x->j, NULL);
	if (rc != CD_OK)
		not_kept(x, rc, "its next poll");
}

/* The batch price of model on the job's provider (its own row first),
 * into *bp and *margin. 0, or -1 when it has none. */
static int batch_price_of(const struct pass *x, const char *model, struct price *bp, int64_t *margin)
{
	struct price p;
	const char *missing;
	int own = 0;
	if (model == NULL || !ledger_price_model_at(model, x->p->name, &p, margin, &own))
		return -1;
	return pricing_batch(&p, bp, &missing) == 0 ? 0 : -1;
}

/* The price a line is charged at: the batch price of the model it asked
 * for (kept by line: sql/080; a job kept before it, the batch's model,
 * x->j->model, for every line). Never the model its answer names: a dated
 * snapshot may be dearer than what was asked and held (dearer_answer
 * flags it); nor, the asked model's row gone, the batch's model, which
 * may be cheaper by the token. 0, or -1 when it is not priced (the line
 * waits: charge_line). */
static int line_price(const struct pass *x, const char *custom_id, struct price *bp, int64_t *margin)
{
	return batch_price_of(x, gwbatch_line_model(x->line_models, custom_id, x->j->model), bp, margin);
}

/* 1 when the model a line's answer names has a batch price dearer for
 * its tokens t than what it is charged (cost, tokens alone at bp): the
 * provider answered with more than was asked (over_hold, as a whole
 * call's; the line charged at what it asked all the same). */
static int dearer_answer(const struct pass *x, const char *model, const struct price *bp, int64_t margin,
			 const struct pricing_tokens *t)
{
	struct price abp;
	int64_t amargin = 0, asked = 0, answered = 0;
	if (model == NULL || batch_price_of(x, model, &abp, &amargin) != 0)
		return 0;
	return pricing_cost_with_extra(bp, margin, t, 0, &asked) == PRICING_OK &&
	       pricing_cost_with_extra(&abp, amargin, t, 0, &answered) == PRICING_OK && answered > asked;
}

/* A line charged beyond what it asked (gwmoney's over_hold): kept on
 * its usage record, as a whole call's is (docs/gateway.md, "Usage beyond
 * what was asked"), on every pass (the record is written once; a pass
 * that died between the two writes left it unflagged), and counted and
 * logged by the pass whose charge first wrote the line's record (fresh),
 * whether or not its flag could be kept then, never again on a resumed
 * pass (which replays the charge). -1 when the flag could not be kept
 * (the line is then unresolved: the next pass keeps it). */
static int line_over_hold(struct pass *x, const char *custom_id, const char *rid, const struct gw_charge *c, int fresh)
{
	if (!c->over_hold)
		return 0;
	if (fresh) {
		metrics_gateway_over_hold();
		log_warn("gateway: batch %s line %s: its usage went beyond what was asked, charged as reported: %s",
			 x->j->object_id, custom_id, c->why);
	}
	if (ledger_usage_over_hold(x->db, x->j->account, rid) != CD_OK) {
		log_error("gateway: batch %s line %s: its over_hold could not be kept: tried again at the next pass",
			  x->j->object_id, custom_id);
		return -1;
	}
	return 0;
}

/* A succeeded line met by this pass, hash its request id: counted once
 * (its charge, micros, added to the pass's) however often its provider
 * wrote it; the lines' charges past the batch's hold logged once a pass
 * and counted when a fresh charge took them past it. -1 when it could not
 * be counted (kept unresolved: the hold is never released uncounted). */
static int line_counted(struct pass *x, const char *custom_id, const unsigned char *hash, int64_t micros, int fresh)
{
	int first = gwbatch_seen_add(&x->seen, hash);
	if (first < 0) {
		log_error("gateway: batch %s line %s: the pass could not count it: unresolved, its hold kept",
			  x->j->object_id, custom_id);
		return -1;
	}
	if (first == 0)
		return 0;
	x->succeeded++;
	if (__builtin_add_overflow(x->charged, micros, &x->charged))
		x->charged = INT64_MAX;
	if (x->charged > x->j->charged_micros)	/* kept with the job's next save */
		x->j->charged_micros = x->charged;
	if (!x->past_hold && x->held > 0 && x->charged > x->held) {
		x->past_hold = 1;
		if (fresh)
			metrics_gateway_over_hold();
		log_warn("gateway: batch %s of %s: its lines' charges (%lld micros so far) passed its hold of %lld",
			 x->j->object_id, x->j->account, (long long)x->charged, (long long)x->held);
	}
	return 0;
}

/* What the request ids of a job's lines start with (sql/081: the job's
 * id), into out (cap bytes): their usage records are one range of
 * usage_key, summed whole when its hold is kept unresolved. */
static void job_key_prefix(const struct ledger_gw_job *j, char *out, size_t cap)
{
	snprintf(out, cap, LEDGER_GATEWAY_REQUEST_PREFIX "bj_%lld_", (long long)j->id);
}

/* The request id a line is charged under (rid, cap bytes): its job's
 * hold and its custom_id, hashed into hash (KEYS_HASH_LEN bytes), after
 * its job's prefix; a job kept before sql/081, the hash alone (its lines
 * charged before must replay). */
static void line_key(const struct pass *x, const char *custom_id, unsigned char *hash, char *rid, size_t cap)
{
	char hex[2 * KEYS_HASH_LEN + 1];
	struct keys_part parts[] = {{x->j->hold_id, strlen(x->j->hold_id)}, {"\n", 1}, {custom_id, strlen(custom_id)}};
	keys_sha256_parts(parts, 3, hash);
	keys_hex(hash, hex);
	if (x->j->line_keys)	/* job_key_prefix's, then 128 bits of the hash */
		snprintf(rid, cap, LEDGER_GATEWAY_REQUEST_PREFIX "bj_%lld_%.32s", (long long)x->j->id, hex);
	else
		snprintf(rid, cap, LEDGER_GATEWAY_REQUEST_PREFIX "bl_%.40s", hex);
}

/* A succeeded line's cost (into *cost, its tokens into *t, its charge's
 * reading into *c, the model its record names into *model). 0, or -2
 * when it cannot be charged yet (logged): its usage not read, its model
 * not priced, its cost not computed. */
static int line_cost(const struct pass *x, const struct gwbatch_result *res, struct gw_charge *c,
		     struct pricing_tokens *t, int64_t *cost, const char **model)
{
	char *text = json_dumps(res->body, JSON_COMPACT);
	struct gw_usage u;
	memset(&u, 0, sizeof(u));
	int read = text != NULL && gwshape_usage(x->route, text, strlen(text), &u) == 0 && u.have;
	free(text);
	struct price bp;
	int64_t margin = 0;
	*model = json_string_value(json_object_get(res->body, "model"));
	if (!read || line_price(x, res->custom_id, &bp, &margin) != 0) {
		log_error("gateway: batch %s line %s: %s: not charged yet, tried again at the next pass", x->j->object_id,
			  res->custom_id, read ? "its model is not priced" : "its answer has no usage creditd can read");
		return -2;
	}
	const struct gw_asked asked = {x->route, -1, 1, u.input_tokens};
	gwmoney_charge(&asked, &u, c);
	/* The dimensions beyond tokens, as a whole call's (web search, the
	 * long-context tier, 1-hour cache writes, a service tier), at batch
	 * prices; the batch asked for no tier and held no search. */
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	snprintf(ask.model, sizeof(ask.model), "%s", x->j->model);
	ask.output_cap = -1;
	ask.choices = 1;
	if (gwmoney_dims(&ask, &bp, 0, &u, &c->extra_raw, c) != PRICING_OK) {
		log_error("gateway: batch %s line %s: its dimensions beyond tokens could not be priced: not charged yet",
			  x->j->object_id, res->custom_id);
		return -2;
	}
	*t = (struct pricing_tokens){c->usage.input_tokens, c->usage.cached_input_tokens, c->usage.cache_write_tokens,
				     c->usage.output_tokens};
	if (pricing_cost_with_extra(&bp, margin, t, c->extra_raw, cost) != PRICING_OK) {
		log_error("gateway: batch %s line %s: its cost could not be computed: not charged yet", x->j->object_id,
			  res->custom_id);
		return -2;
	}
	if (dearer_answer(x, *model, &bp, margin, t)) {
		size_t n = strlen(c->why);
		snprintf(c->why + n, sizeof(c->why) - n, "%sanswered by %.64s, dearer than the model asked: charged at "
			 "the model asked", n > 0 ? "; " : "", *model);
		c->over_hold = 1;
	}
	return 0;
}

/* One succeeded line charged (ledger_usage, forced: its money is the
 * batch's hold's, reserved when the batch was made), and counted once
 * (line_counted). 0 charged, 1 charged before (a replay), -1 released
 * (its charge refused: logged), -2 not charged yet: the ledger away, its
 * model not priced, its cost not computed, its usage not read; or
 * charged (then counted in the job's lines_charged here) but its count
 * or over_hold not kept (kept unresolved: the job stays settling, its
 * hold held, and tries the line again at its next pass; never released
 * for free). */
static int charge_line(struct pass *x, const struct gwbatch_result *res)
{
	struct gw_charge c;
	struct pricing_tokens t;
	int64_t cost = 0;
	const char *model = NULL;
	if (line_cost(x, res, &c, &t, &cost, &model) != 0)
		return -2;
	unsigned char hash[KEYS_HASH_LEN];
	char rid[64];
	line_key(x, res->custom_id, hash, rid, sizeof(rid));
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash, .render = answer_render};
	struct guard_usage r = {.account = x->j->account, .member = x->j->member[0] != '\0' ? x->j->member : NULL,
				.model = model != NULL && strlen(model) < 65 ? model : x->j->model, .request_id = rid,
				.input_tokens = t.input_tokens, .cached_input_tokens = t.cached_input_tokens,
				.output_tokens = t.output_tokens, .force = 1, .cost_micros = cost, .request_hash = hash,
				.settle_reason = "provider_usage", .cache_write_input_tokens = t.cache_write_input_tokens};
	struct ledger_result lr = {0};
	enum cd_err rc = ledger_usage(x->db, &call, &r, &lr);
	json_decref(lr.body);
	if (rc != CD_OK) {
		log_error("gateway: batch %s line %s not charged (%s): the job settles it again", x->j->object_id,
			  res->custom_id, errors_strerror(rc));
		return -2;
	}
	int refused = lr.refusal.why != REFUSE_NONE;
	/* Charged already (a custom_id the provider wrote twice, or a line
	 * settled before a restart): its first charge stands. */
	int replayed = !refused && lr.done.kind == LEDGER_DONE_USAGE && lr.done.u.usage.replayed;
	int64_t charged = refused ? 0 : lr.done.kind == LEDGER_DONE_USAGE ? lr.done.u.usage.charged_micros : cost;
	if (refused)
		log_error("gateway: batch %s line %s: its charge of %lld micros was refused (%d): released",
			  x->j->object_id, res->custom_id, (long long)cost, lr.status);
	int fresh = !refused && !replayed;
	int counted = line_counted(x, res->custom_id, hash, charged, fresh);
	int flagged = refused ? 0 : line_over_hold(x, res->custom_id, rid, &c, fresh);
	if (counted != 0 || flagged != 0) {
		/* Unresolved (tried again, a replay, at the next pass), but
		 * charged now: counted by this pass, the one that charged it. */
		x->j->lines_charged += fresh;
		return -2;
	}
	return refused ? -1 : replayed ? 1 : 0;
}

/* The lines of one result file, from the job's cursor on (*line counts
 * the lines of the files before, then this one's): each succeeded line
 * charged, the others released; the cursor kept after each chunk. A line
 * not charged yet, or not read as a result, is counted unresolved and
 * the lines after it go on (the hold is then not released: settle). 0,
 * or -1 when the pass must stop (its chunk's save lost: polled again). */
static int settle_lines(struct pass *x, const char *data, size_t len, int64_t *line)
{
	int64_t in_chunk = 0;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(data + at, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - (data + at)) : len - at;
		const char *start = data + at;
		at += n + (nl != NULL);
		if (n == 0 || (n == 1 && start[0] == '\r'))
			continue;
		/* A line before the cursor is settled again all the same: a
		 * download's lines may come in another order than the last
		 * pass's (Anthropic's results are not ordered), and each charge
		 * replays by its request id. Counted only when it was not. */
		if (timefmt_mono_ms() > x->held_until_ms && hold_on(x) != 0)
			return -1;
		int again = (*line)++ < x->j->line_cursor;
		struct gwbatch_result res;
		int rc = 0;
		if (gwbatch_result_line(x->shape, start, n, &res) != 0) {
			log_error("gateway: batch %s: line %lld of its results is not a result: unresolved, its hold kept",
				  x->j->object_id, (long long)*line);
			rc = -2;
		} else if (res.outcome == GWBATCH_SUCCEEDED)
			rc = charge_line(x, &res);
		else
			rc = -1;
		json_decref(res.root);
		x->unresolved += rc == -2;
		x->j->lines_charged += rc == 0;
		x->j->lines_released += rc == -1 && !again;
		x->j->line_cursor = *line > x->j->line_cursor ? *line : x->j->line_cursor;
		if (++in_chunk == LIMIT_GATEWAY_BATCH_CHUNK_LINES) {
			in_chunk = 0;
			if (hold_on(x) != 0)	/* the pass holds it on */
				return -1;
		}
	}
	return 0;
}

/* One result file fetched and settled. 0, or -1 (polled again). */
static int settle_file(struct pass *x, const char *file_id, int64_t *line)
{
	char path[LIMIT_GATEWAY_URL_BYTES], err[256];
	struct spool *s = NULL;
	int status = 0;
	if (x->shape == GWBATCH_OPENAI)
		snprintf(path, sizeof(path), "/files/%s/content", file_id);
	else if (gwbatch_job_path(x->j->route, x->j->object_id, "results", path, sizeof(path)) != 0)
		return -1;
	struct gwbatch_request r = {"GET", path, NULL, NULL, 0, NULL, (long)gw->connect_timeout_ms,
				    LIMIT_GATEWAY_BATCH_FETCH_SECONDS * 1000L};
	if (gwbatch_io_download(x->p, &r, gw->spool_dir, &status, &s, err, sizeof(err)) != 0 || status != 200) {
		snprintf(err + strlen(err), sizeof(err) - strlen(err), " (status %d)", status);
		later(x, status == 0 ? err : "its results were not given");
		spool_free(s);
		return -1;
	}
	const unsigned char *data = spool_len(s) > 0 ? spool_map(s) : (const unsigned char *)"";
	int rc = data != NULL ? settle_lines(x, (const char *)data, spool_len(s), line) : -1;
	spool_free(s);
	if (rc != 0)
		later(x, "its results could not all be settled");
	return rc;
}

/* 1 when the batch's hold is no longer reserved but charged (captured
 * by a sweep before its job kept it from capture: sql/079), 0 when it is
 * still held, -1 when it could not be read (the pass tries again later:
 * never read as "not taken"). Its worst case was charged then, so no
 * line is charged on top of it. */
static int hold_taken(struct pass *x)
{
	json_t *h = NULL;
	if (ledger_hold_get(x->db, x->j->hold_id, &h) != CD_OK)
		return -1;
	const char *st = json_string_value(json_object_get(h, "status"));
	x->held = json_integer_value(json_object_get(h, "held_micros"));
	int taken = st != NULL && (strcmp(st, "expired") == 0 || strcmp(st, "captured") == 0);
	json_decref(h);
	return taken;
}

/* An ended batch's output and error files kept as the account's, to
 * read through creditd, once its saved job names them (a DELETE of them
 * is refused until the job is done: ledger_gw_file_busy); kept again by
 * each settling pass (nothing new when kept). */
static void keep_files(struct pass *x)
{
	const char *files[2] = {x->j->output_file_id, x->j->error_file_id};
	for (int i = 0; i < 2; i++)
		if (files[i][0] != '\0')
			(void)ledger_gw_object_keep(x->db, x->j->account, LEDGER_GW_BATCH_OUTPUT, files[i], x->p->name);
}

/* What the hold of a job kept before sql/081 is kept unresolved at
 * (x->held read): the hold less what its lines charged, apart from it,
 * as its passes counted them; for a job kept before its lines' charges
 * were (sql/080: unknown, -1), nothing more when any line was charged
 * (the sweep charging more could charge them twice), the whole hold when
 * none was. A job of sql/081 on decides on its lines' usage records read
 * whole (keep_unresolved): a pass cut after its last save left the count
 * short. */
static int64_t unresolved_micros(const struct pass *x)
{
	if (x->j->charged_micros < 0)
		return x->j->lines_charged > 0 ? 0 : x->held;
	return x->held > x->j->charged_micros ? x->held - x->j->charged_micros : 0;
}

/* The job ended with its hold kept pending and unresolved for the
 * operator (creditctl hold resolve; docs/gateway.md, "Batches"), never
 * released, at the hold less what its lines charged: read from their
 * usage records in the mark's own transaction (sql/081), or for a job
 * kept before, unresolved_micros; its status says why (abandoned,
 * lines_missing). A hold pending no more (released, captured) has nothing
 * to mark: the job ends all the same. 0, or -1 not kept (polled again). */
static int keep_unresolved(struct pass *x, const char *why)
{
	int64_t micros = unresolved_micros(x), charged = 0;
	char prefix[48];
	enum cd_err rc;
	if (x->j->line_keys) {	/* what its lines charged read whole in the mark's transaction */
		job_key_prefix(x->j, prefix, sizeof(prefix));
		rc = ledger_unresolved_mark_lines(x->db, x->j->account, x->j->hold_id, prefix, gw->unresolved_days,
						  &charged, &micros);
		if (rc == CD_OK)
			x->j->charged_micros = charged;
	} else {
		rc = ledger_unresolved_mark(x->db, x->j->account, x->j->hold_id, micros, gw->unresolved_days);
	}
	int marked = rc == CD_OK;
	if (rc == CD_E_CONFLICT || rc == CD_E_NOT_FOUND)
		rc = CD_OK;
	if (rc != CD_OK) {
		later(x, "its hold could not be kept unresolved");
		return -1;
	}
	snprintf(x->j->state, sizeof(x->j->state), "done");
	snprintf(x->j->status, sizeof(x->j->status), "%s", why);
	rc = ledger_gw_job_save(x->db, x->j, NULL);
	if (rc != CD_OK) {
		char what[64];
		snprintf(what, sizeof(what), "its end (%s)", why);
		not_kept(x, rc, what);
		return -1;
	}
	if (marked)
		metrics_gateway_unresolved_call();
	log_error("gateway: batch %s of %s %s: its hold %s kept unresolved at %lld micros of %lld (creditctl hold "
		  "resolve); %lld lines charged (%lld micros), %lld released", x->j->object_id, x->j->account, why,
		  x->j->hold_id, (long long)micros, (long long)x->held, (long long)x->j->lines_charged,
		  (long long)x->j->charged_micros, (long long)x->j->lines_released);
	return 0;
}

/* Before the release, the lines this pass met set against its
 * provider's own count of its succeeded lines (the ended batch's
 * request_counts, kept by its final poll): more succeeded than the
 * results carried means lines ran, billed by the provider, that no file
 * named; releasing the hold would give them free. Its hold is kept
 * unresolved at what its lines did not charge instead, the job done as
 * lines_missing. A batch object with no such count is settled by its
 * lines alone (logged). 0 the release goes on, 1 it does not. */
static int lines_missing(struct pass *x)
{
	json_t *batch = NULL;
	int found = 0;
	int64_t said = 0;
	if (ledger_gw_job_answer(x->db, x->j->account, x->j->kind, "/", x->j->object_id, &batch, &found) != CD_OK) {
		later(x, "its provider's counts could not be read");
		return 1;
	}
	int counted = found && gwbatch_succeeded_count(x->shape, batch, &said) == 0;
	json_decref(batch);
	if (!counted) {
		log_warn("gateway: batch %s: its provider gave no count of its succeeded lines: settled by its lines",
			 x->j->object_id);
		return 0;
	}
	if (said <= x->succeeded)
		return 0;
	log_error("gateway: batch %s of %s: its provider says %lld lines succeeded, its results carried %lld: the "
		  "hold is not released", x->j->object_id, x->j->account, (long long)said, (long long)x->succeeded);
	(void)keep_unresolved(x, "lines_missing");
	return 1;
}

/* An ended batch settled: its files' lines, then its hold released and
 * the job done. Every pass reads its hold first. */
static void settle(struct pass *x)
{
	int64_t line = 0;
	keep_files(x);
	if (!ledger_prices_ready()) {	/* right after a start: no line is priced before the list is */
		later(x, "the prices are not loaded yet");
		return;
	}
	int taken = hold_taken(x);
	if (taken < 0) {
		later(x, "its hold could not be read");
		return;
	}
	if (taken) {
		log_error("gateway: batch %s of %s: its hold %s was captured before the batch was settled: its lines "
			  "are not charged on top of it", x->j->object_id, x->j->account, x->j->hold_id);
		snprintf(x->j->state, sizeof(x->j->state), "done");
		if (ledger_gw_job_save(x->db, x->j, NULL) != CD_OK)
			later(x, "its end could not be kept");
		return;
	}
	if (ledger_gw_job_line_models(x->db, x->j->account, x->j->id, &x->line_models) != CD_OK) {
		later(x, "the models its lines asked for could not be read");
		return;
	}
	const char *files[2] = {x->j->output_file_id, x->j->error_file_id};
	for (int i = 0; i < 2; i++) {
		if (x->shape == GWBATCH_ANTHROPIC && i > 0)
			break;
		if (x->shape == GWBATCH_OPENAI && files[i][0] == '\0')
			continue;
		if (settle_file(x, files[i], &line) != 0)
			return;
	}
	if (x->unresolved > 0) {	/* settling still: tried again at its next pass, nothing released */
		later(x, "some of its lines are not charged yet");
		return;
	}
	if (lines_missing(x) != 0)
		return;
	if (gwcall_release(x->db, x->j->hold_id) != 0) {
		later(x, "its hold could not be released");	/* settling still: released at its next pass */
		return;
	}
	snprintf(x->j->state, sizeof(x->j->state), "done");
	if (ledger_gw_job_save(x->db, x->j, NULL) != CD_OK) {
		later(x, "its end could not be kept");
		return;
	}
	log_info("gateway: batch %s of %s settled: %lld lines charged, %lld released", x->j->object_id, x->j->account,
		 (long long)x->j->lines_charged, (long long)x->j->lines_released);
}

/* A running job polled (its hold renewed by run_one); ended, its
 * files noted and the job settling (committed before any line is
 * charged), then settled. */
static void poll_one(struct pass *x)
{
	char path[LIMIT_GATEWAY_URL_BYTES], err[256];
	struct dynbuf answer;
	int status = 0;
	if (gwbatch_job_path(x->j->route, x->j->object_id, "", path, sizeof(path)) != 0)
		return;
	dynbuf_init(&answer, LIMIT_GATEWAY_BATCH_ANSWER_BYTES);
	struct gwbatch_request r = {"GET", path, NULL, NULL, 0, NULL, (long)gw->connect_timeout_ms,
				    LIMIT_GATEWAY_BATCH_FETCH_SECONDS * 1000L};
	int rc = gwbatch_io_call(x->p, &r, &status, &answer, err, sizeof(err));
	json_t *root = rc == 0 && status == 200 && answer.data != NULL ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
	if (!json_is_object(root)) {
		later(x, rc != 0 ? err : "its provider's answer to the poll was not the batch");
	} else {
		const char *st = json_string_value(json_object_get(root, x->shape == GWBATCH_OPENAI ? "status"
											  : "processing_status"));
		snprintf(x->j->status, sizeof(x->j->status), "%s", st != NULL ? st : "");
		x->j->polls++;
		x->j->next_poll_at = x->now + gw->batch_poll_seconds;
		if (gwbatch_ended(x->shape, root)) {
			const char *out = gwbatch_output_file(x->shape, root), *errf = gwbatch_error_file(x->shape, root);
			snprintf(x->j->output_file_id, sizeof(x->j->output_file_id), "%s", out != NULL ? out : "");
			snprintf(x->j->error_file_id, sizeof(x->j->error_file_id), "%s", errf != NULL ? errf : "");
			snprintf(x->j->state, sizeof(x->j->state), "settling");
			x->j->next_poll_at = x->now + lease();	/* this pass settles it */
		}
		enum cd_err saved = ledger_gw_job_save(x->db, x->j, answer.data);
		if (saved != CD_OK) {
			not_kept(x, saved, "its poll");
		} else if (strcmp(x->j->state, "settling") == 0) {
			settle(x);
		}
	}
	json_decref(root);
	dynbuf_free(&answer);
}

/* A job not done LIMIT_GATEWAY_BATCH_SETTLE_MAX_SECONDS after its create
 * ended as abandoned: its hold kept unresolved, never released, for the
 * operator (keep_unresolved): at the hold less what its lines charged
 * apart from it (all it may still have cost: the rest of its lines' usage
 * unread). 1 ended, 0 not yet due, -1 not kept (tried next pass). */
static int abandon(struct pass *x)
{
	if (x->now - x->j->created_at < LIMIT_GATEWAY_BATCH_SETTLE_MAX_SECONDS)
		return 0;
	if (hold_taken(x) < 0) {
		later(x, "its hold could not be read");
		return -1;
	}
	if (keep_unresolved(x, "abandoned") != 0)
		return -1;
	log_error("gateway: batch %s of %s not settled %lld s after its create: abandoned", x->j->object_id,
		  x->j->account, (long long)LIMIT_GATEWAY_BATCH_SETTLE_MAX_SECONDS);
	return 1;
}

static void run_pass(struct store *db, struct ledger_gw_job *j, struct pass *px)
{
	int claimed = 0;
	/* One creditd a pass: another serving the same database that read
	 * the job too finds it taken (its lines' charges would replay, but
	 * the job's counts are one pass's). */
	if (ledger_gw_job_claim(db, j, px->now + lease(), &claimed) != CD_OK || !claimed)
		return;
	if (abandon(px) != 0)
		return;
	/* Its hold renewed first, every pass whatever follows (a provider
	 * away, an answer not read, a settle): one not renewed, the pass
	 * ends and the job is tried again at its next poll. */
	if (ledger_hold_renew(db, j->account, j->hold_id, LIMIT_GATEWAY_BATCH_HOLD_SECONDS) != CD_OK) {
		later(px, "its hold could not be renewed");
		return;
	}
	if (px->route == NULL) {
		log_error("gateway: batch %s names a route creditd does not serve (%s)", j->object_id, j->route);
		return;
	}
	px->shape = px->route->kind == &gwkind_anthropic ? GWBATCH_ANTHROPIC : GWBATCH_OPENAI;
	px->p = gwconfig_provider_of(gw, px->route->kind, j->provider);
	if (px->p == NULL) {
		later(px, "the provider that runs it is no longer configured");
		return;
	}
	if (strcmp(j->state, "settling") == 0)
		settle(px);
	else
		poll_one(px);
}

/* One job's pass; what it counted freed after. */
static void run_one(struct store *db, struct ledger_gw_job *j, int64_t now)
{
	struct pass x = {db, j, NULL, route_of(j->route), GWBATCH_OPENAI, now, 0, 0, 0, 0, 0, {NULL, NULL, 0, 0}, NULL, 0};
	run_pass(db, j, &x);
	gwbatch_seen_free(&x.seen);
	json_decref(x.line_models);
}

static void *loop(void *arg)
{
	struct store *db = arg;
	struct ledger_gw_job *rows = calloc(LIMIT_GATEWAY_BATCH_JOBS_A_PASS, sizeof(*rows));
	pthread_mutex_lock(&lock);
	while (!stopping && rows != NULL) {
		pthread_mutex_unlock(&lock);
		int n = 0;
		int64_t now = timefmt_now();
		if (ledger_gw_jobs_due(db, now, rows, LIMIT_GATEWAY_BATCH_JOBS_A_PASS, &n) == CD_OK)
			for (int i = 0; i < n && !stopping; i++)
				run_one(db, &rows[i], now);
		store_end_request(db);
		pthread_mutex_lock(&lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += gw->batch_poll_seconds < LIMIT_GATEWAY_BATCH_TICK_SECONDS ? gw->batch_poll_seconds
											   : LIMIT_GATEWAY_BATCH_TICK_SECONDS;
		if (!stopping)
			pthread_cond_timedwait(&cond, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	free(rows);
	store_free(db);
	atomic_store(&alive, 0);
	return NULL;
}

int gwbatch_job_start(const struct cfg *cfg)
{
	cc = cfg;
	gw = gwconfig_of(cfg);
	struct store *db = store_new(cfg);
	if (db == NULL) {
		log_error("gateway: the batch jobs' ledger connection could not be made");
		return -1;
	}
	stopping = 0;
	atomic_store(&alive, 1);
	if (pthread_create(&thread, NULL, loop, db) != 0) {
		log_error("gateway: the batch jobs' thread could not start");
		atomic_store(&alive, 0);
		store_free(db);
		return -1;
	}
	pthread_detach(thread);
	started = 1;
	return 0;
}

void gwbatch_job_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

void gwbatch_job_wake(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

int gwbatch_job_running(void)
{
	return atomic_load(&alive) != 0;
}
