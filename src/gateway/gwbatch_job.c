/* gwbatch_job.c: a batch carried from its create to its settle (see
 * gwbatch_job.h; docs/gateway.md, "Batches"). One thread, one ledger
 * connection of its own, the provider called with an easy handle of its
 * own (gwbatch_io.h): a poll that waits on a provider never holds a
 * worker or the gateway's loop.
 *
 * Exactly once: each line is charged by ledger_usage under a request_id
 * made of the job's hold and the line's custom_id, so a line settled
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
	int64_t held, charged;	/* the hold's micros, and this pass's lines' charges so far */
	int past_hold;		/* the lines' charges passed the hold (logged once a pass) */
	int64_t unresolved;	/* this pass's lines not charged yet (or not read): nothing released */
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

/* The job polled again at its next time (a provider away, an answer not read). */
static void later(struct pass *x, const char *why)
{
	log_warn("gateway: batch %s of %s: %s; polled again in %lld s", x->j->object_id, x->j->account, why,
		 (long long)gw->batch_poll_seconds);
	x->j->next_poll_at = x->now + gw->batch_poll_seconds;
	if (ledger_gw_job_save(x->db, x->j, NULL) != CD_OK)
		log_error("gateway: batch %s: its next poll could not be kept", x->j->object_id);
}

/* The price a line's answer is charged at: the batch price of the model
 * its answer names (the answering provider's own row first) when that
 * row has one, else the batch price of the batch's model (the dearest its
 * lines asked for): a dated snapshot the answer names without a batch
 * price of its own is never charged the full list price. 0, or -1 when
 * neither is priced (the line waits: charge_line). */
static int line_price(const struct pass *x, const char *model, struct price *bp, int64_t *margin)
{
	struct price p;
	const char *missing;
	int own = 0;
	if (model != NULL && ledger_price_model_at(model, x->p->name, &p, margin, &own) &&
	    pricing_batch(&p, bp, &missing) == 0)
		return 0;
	if (!ledger_price_model_at(x->j->model, x->p->name, &p, margin, &own))
		return -1;
	return pricing_batch(&p, bp, &missing) == 0 ? 0 : -1;
}

/* A line charged beyond what it asked (gwmoney's over_hold), or the
 * lines' charges past the batch's hold: counted and logged as a whole
 * call's over_hold is (docs/gateway.md, "Usage beyond what was asked"). */
static void past_hold(struct pass *x, const char *custom_id, const struct gw_charge *c, int64_t cost)
{
	if (c->over_hold) {
		metrics_gateway_over_hold();
		log_warn("gateway: batch %s line %s: its usage went beyond what was asked, charged as reported: %s",
			 x->j->object_id, custom_id, c->why);
	}
	if (__builtin_add_overflow(x->charged, cost, &x->charged))
		x->charged = INT64_MAX;
	if (!x->past_hold && x->held > 0 && x->charged > x->held) {
		x->past_hold = 1;
		metrics_gateway_over_hold();
		log_warn("gateway: batch %s of %s: its lines' charges (%lld micros so far) passed its hold of %lld",
			 x->j->object_id, x->j->account, (long long)x->charged, (long long)x->held);
	}
}

/* One succeeded line charged (ledger_usage, forced: its money is the
 * batch's hold's, reserved when the batch was made). 0 charged, 1
 * charged before (a replay), -1 released (logged), -2 not charged yet:
 * the ledger away, its model not priced, its cost not computed, or its
 * usage not read (kept unresolved: the job stays settling, its hold held,
 * and tries the line again at its next pass; never released for free). */
static int charge_line(struct pass *x, const struct gwbatch_result *res)
{
	char *text = json_dumps(res->body, JSON_COMPACT);
	struct gw_usage u;
	struct gw_charge c;
	memset(&u, 0, sizeof(u));
	int read = text != NULL && gwshape_usage(x->route, text, strlen(text), &u) == 0 && u.have;
	free(text);
	struct price bp;
	int64_t margin = 0, cost = 0;
	const char *model = json_string_value(json_object_get(res->body, "model"));
	if (!read || line_price(x, model, &bp, &margin) != 0) {
		log_error("gateway: batch %s line %s: %s: not charged yet, tried again at the next pass", x->j->object_id,
			  res->custom_id, read ? "its model is not priced" : "its answer has no usage creditd can read");
		return -2;
	}
	const struct gw_asked asked = {x->route, -1, 1, u.input_tokens};
	gwmoney_charge(&asked, &u, &c);
	/* The dimensions beyond tokens, as a whole call's (web search, the
	 * long-context tier, 1-hour cache writes, a service tier), at batch
	 * prices; the batch asked for no tier and held no search. */
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	snprintf(ask.model, sizeof(ask.model), "%s", x->j->model);
	ask.output_cap = -1;
	ask.choices = 1;
	if (gwmoney_dims(&ask, &bp, 0, &u, &c.extra_raw, &c) != PRICING_OK) {
		log_error("gateway: batch %s line %s: its dimensions beyond tokens could not be priced: not charged yet",
			  x->j->object_id, res->custom_id);
		return -2;
	}
	const struct pricing_tokens t = {c.usage.input_tokens, c.usage.cached_input_tokens, c.usage.cache_write_tokens,
					 c.usage.output_tokens};
	if (pricing_cost_with_extra(&bp, margin, &t, c.extra_raw, &cost) != PRICING_OK) {
		log_error("gateway: batch %s line %s: its cost could not be computed: not charged yet", x->j->object_id,
			  res->custom_id);
		return -2;
	}
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1], rid[64];
	struct keys_part parts[] = {{x->j->hold_id, strlen(x->j->hold_id)}, {"\n", 1},
				    {res->custom_id, strlen(res->custom_id)}};
	keys_sha256_parts(parts, 3, hash);
	keys_hex(hash, hex);
	snprintf(rid, sizeof(rid), LEDGER_GATEWAY_REQUEST_PREFIX "bl_%.40s", hex);
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
	if (lr.refusal.why != REFUSE_NONE) {
		log_error("gateway: batch %s line %s: its charge of %lld micros was refused (%d): released",
			  x->j->object_id, res->custom_id, (long long)cost, lr.status);
		return -1;
	}
	past_hold(x, res->custom_id, &c, cost);
	/* Charged already (a custom_id the provider wrote twice, or a
	 * line settled before a restart): its first charge stands. */
	return lr.done.kind == LEDGER_DONE_USAGE && lr.done.u.usage.replayed ? 1 : 0;
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
			x->j->next_poll_at = timefmt_now() + lease();	/* the pass holds it on */
			if (ledger_gw_job_save(x->db, x->j, NULL) != CD_OK)
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
		if (ledger_gw_job_save(x->db, x->j, answer.data) != CD_OK) {
			log_error("gateway: batch %s: its poll could not be kept", x->j->object_id);
		} else if (strcmp(x->j->state, "settling") == 0) {
			settle(x);
		}
	}
	json_decref(root);
	dynbuf_free(&answer);
}

/* A job not done LIMIT_GATEWAY_BATCH_SETTLE_MAX_SECONDS after its create
 * ended as abandoned: its hold kept unresolved, never released, for the
 * operator (creditctl hold resolve; docs/gateway.md, "Batches"): at the
 * whole hold when no line was charged (all it may have cost: its lines'
 * usage unread), at nothing more when some were (they were charged apart
 * from the hold, whose reserve stays: the sweep charging it whole would
 * charge those lines twice; the rest is the operator's word). A hold
 * pending no more (released, captured) has nothing to mark: the job ends
 * all the same. 1 ended, 0 not yet due, -1 not kept (tried next pass). */
static int abandon(struct pass *x)
{
	if (x->now - x->j->created_at < LIMIT_GATEWAY_BATCH_SETTLE_MAX_SECONDS)
		return 0;
	enum cd_err rc = ledger_unresolved_mark(x->db, x->j->account, x->j->hold_id,
						 x->j->lines_charged > 0 ? 0 : INT64_MAX, gw->unresolved_days);
	int marked = rc == CD_OK;
	if (rc == CD_E_CONFLICT || rc == CD_E_NOT_FOUND)
		rc = CD_OK;
	if (rc != CD_OK) {
		later(x, "its hold could not be kept unresolved");
		return -1;
	}
	snprintf(x->j->state, sizeof(x->j->state), "done");
	snprintf(x->j->status, sizeof(x->j->status), "abandoned");
	if (ledger_gw_job_save(x->db, x->j, NULL) != CD_OK) {
		log_error("gateway: batch %s: its abandon could not be kept", x->j->object_id);
		return -1;
	}
	if (marked)
		metrics_gateway_unresolved_call();
	log_error("gateway: batch %s of %s not settled %lld s after its create: abandoned, its hold %s kept "
		  "unresolved (creditctl hold resolve); %lld lines charged, %lld released", x->j->object_id,
		  x->j->account, (long long)LIMIT_GATEWAY_BATCH_SETTLE_MAX_SECONDS, x->j->hold_id,
		  (long long)x->j->lines_charged, (long long)x->j->lines_released);
	return 1;
}

static void run_one(struct store *db, struct ledger_gw_job *j, int64_t now)
{
	struct pass x = {db, j, NULL, route_of(j->route), GWBATCH_OPENAI, now, 0, 0, 0, 0};
	int claimed = 0;
	/* One creditd a pass: another serving the same database that read
	 * the job too finds it taken (its lines' charges would replay, but
	 * the job's counts are one pass's). */
	if (ledger_gw_job_claim(db, j, now + lease(), &claimed) != CD_OK || !claimed)
		return;
	if (abandon(&x) != 0)
		return;
	/* Its hold renewed first, every pass whatever follows (a provider
	 * away, an answer not read, a settle): one not renewed, the pass
	 * ends and the job is tried again at its next poll. */
	if (ledger_hold_renew(db, j->account, j->hold_id, LIMIT_GATEWAY_BATCH_HOLD_SECONDS) != CD_OK) {
		later(&x, "its hold could not be renewed");
		return;
	}
	if (x.route == NULL) {
		log_error("gateway: batch %s names a route creditd does not serve (%s)", j->object_id, j->route);
		return;
	}
	x.shape = x.route->kind == &gwkind_anthropic ? GWBATCH_ANTHROPIC : GWBATCH_OPENAI;
	x.p = gwconfig_provider_of(gw, x.route->kind, j->provider);
	if (x.p == NULL) {
		later(&x, "the provider that runs it is no longer configured");
		return;
	}
	if (strcmp(j->state, "settling") == 0)
		settle(&x);
	else
		poll_one(&x);
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
