/* gwbackground.c: the Responses API's background runs (gwbackground.h;
 * docs/gateway.md, "Background responses"): a run recorded when its
 * create call is answered "queued", its provider asked how it goes
 * (creditd's poll), the provider's webhook taken, and the run's hold
 * settled once from whichever says first that it ended.
 *
 * The settle reads the run's usage from the response object (the same
 * reading as a whole answer's, gwshape_usage), decides its charge with
 * gwmoney as a whole call's (the cap and input bound the hold was asked
 * for, kept with the run, and the request's fields that decide it, kept
 * too), and settles through the ledger's settle at the answering try's
 * price, kept with the run (docs/gateway.md, "Which price a call is
 * charged"), under one request hash per hold, so that the
 * webhook, the poll and a client's GET racing to the same end settle it
 * once: the second answers as the first.
 *
 * Never: settles a run still running; keeps a provider's key or a
 * caller's; writes money but through ledger_settle; logs a webhook's
 * secret or body. */
#include "gwbackground.h"
#include "gwconfig.h"
#include "gwjob.h"
#include "gwkind.h"
#include "gwmoney.h"
#include "gwobject.h"
#include "gwshape.h"
#include "gwwebhook.h"
#include "provider.h"
#include "answer.h"
#include "config.h"
#include "dynbuf.h"
#include "jsonio.h"
#include "keys.h"
#include "ledger.h"
#include "ledger_unresolved.h"
#include "log.h"
#include "metrics.h"
#include "pricing.h"
#include "timefmt.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static const struct gwconfig *gw;

void gwbackground_init(const struct cfg *cfg)
{
	gw = gwconfig_of(cfg);
}

/* ---- A response's status ---- */

static int running(const char *status)
{
	return strcmp(status, "queued") == 0 || strcmp(status, "in_progress") == 0;
}

static int ended(const char *status)
{
	return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0 ||
	       strcmp(status, "incomplete") == 0;
}

/* The response object's id and status in body into id and status (ids
 * LIMIT_GATEWAY_RESPONSE_ID_BYTES, status cap bytes). 0, or -1 when it
 * is no response object. */
static int response_of(const char *body, size_t len, char *id, char *status, size_t cap)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *i = json_string_value(json_object_get(root, "id"));
	const char *s = json_string_value(json_object_get(root, "status"));
	const char *o = json_string_value(json_object_get(root, "object"));
	int ok = i != NULL && s != NULL && o != NULL && strcmp(o, "response") == 0 &&
		 strlen(i) < LIMIT_GATEWAY_RESPONSE_ID_BYTES && strlen(s) < cap;
	if (ok) {
		snprintf(id, LIMIT_GATEWAY_RESPONSE_ID_BYTES, "%s", i);
		snprintf(status, cap, "%s", s);
	}
	json_decref(root);
	return ok ? 0 : -1;
}

/* ---- The settle ---- */

/* What it was charged for beyond its tokens kept on its usage record
 * (sql/047), when there is anything (as a whole call's). */
static void keep_billed(struct store *db, const struct ledger_gw_run *run, const struct gw_charge *d, int own)
{
	const struct pricing_dims_usage *x = &d->dims;
	struct ledger_usage_billed b = {d->over_hold, x->tier == PRICING_TIER_PRIORITY ? "priority"
						      : x->tier == PRICING_TIER_FLEX ? "flex" : NULL,
					x->long_context, x->cache_write_1h_tokens, x->audio_input_tokens,
					x->audio_output_tokens, x->web_search_calls,
					run->attempt > 1 ? run->provider : NULL, run->attempt > 1 ? run->attempt : 1,
					d->usage_unknown, own ? run->provider : NULL, NULL, 0, 0, 0};
	if (d->over_hold)
		log_warn("gateway: background %s: its usage went beyond what was asked, charged as reported: %s",
			 run->response_id, d->why);
	if (!b.over_hold && !b.usage_unknown && b.service_tier == NULL && !b.long_context && b.cache_write_1h_tokens == 0 &&
	    b.web_search_calls == 0 && b.attempts == 1 && b.price_provider == NULL)
		return;
	enum cd_err rc = ledger_usage_billed(db, run->account, run->hold_id, &b);
	if (rc != CD_OK)
		log_warn("gateway: background %s: what it was charged for beyond tokens not kept (%s)", run->response_id,
			 errors_strerror(rc));
}

/* The run's price into p and *margin: the answering try's, kept with it;
 * a row kept without one, the price list's row now. 1, or 0 when none. */
static int run_price(const struct ledger_gw_run *run, struct price *p, int64_t *margin, int *own)
{
	if (run->has_price) {
		*p = run->price;
		*margin = run->margin_bps;
		*own = run->price_own;
		return 1;
	}
	return ledger_price_model_at(run->model, run->provider, p, margin, own);
}

/* The request's fields its charge is decided with, as the run's row keeps them. */
static void run_ask(const struct ledger_gw_run *run, struct gw_ask *ask)
{
	memset(ask, 0, sizeof(*ask));
	snprintf(ask->model, sizeof(ask->model), "%s", run->model);
	ask->output_cap = run->output_cap;
	ask->choices = 1;
	ask->tier = run->tier;
	ask->web_search = run->web_search == 1 ? "tools" : run->web_search == 2 ? "web_search_options" : NULL;
	ask->web_search_max = run->web_search_max;
	ask->web_search_size = run->web_search_size;
	ask->long_context_off = run->long_context_off;
}

/* The run's charge from the response body: its usage as a whole answer's;
 * without usage, a failed run nothing and any other end its input bound
 * (what the provider surely read; docs/gateway.md). *own: the provider's
 * own price row priced its dimensions. */
static const char *decide(const struct ledger_gw_run *run, const char *status, const struct gw_usage *read,
			  struct gw_charge *d, int *own)
{
	const struct gwkind_route *route = gwkind_route_named("gw_openai_responses");
	struct gw_usage u;
	const char *reason = GW_REASON_PROVIDER_USAGE;
	if (read != NULL)
		u = *read;
	if (route == NULL || read == NULL || !u.have) {
		memset(&u, 0, sizeof(u));
		reason = strcmp(status, "failed") == 0 ? GW_REASON_PROVIDER_ERROR : GW_REASON_ESTIMATED;
		u.input_tokens = strcmp(status, "failed") == 0 ? 0 : run->hold_input;
	}
	struct gw_asked a = {route, run->output_cap, 1, run->hold_input};
	gwmoney_charge(&a, &u, d);
	struct gw_ask ask;
	struct price p;
	int64_t margin;
	run_ask(run, &ask);
	*own = 0;
	if (!run_price(run, &p, &margin, own) ||
	    gwmoney_dims(&ask, &p, run->searches_held, &u, &d->extra_raw, d) != PRICING_OK) {
		log_error("gateway: background %s: the usage's dimensions beyond tokens could not be priced: charged its "
			  "tokens", run->response_id);
		d->extra_raw = 0;
		d->over_hold = 1;
	}
	return reason;
}

/* The usage of a response body into u: u, or NULL when it says none. */
static const struct gw_usage *usage_of(const char *body, size_t len, struct gw_usage *u)
{
	const struct gwkind_route *route = gwkind_route_named("gw_openai_responses");
	return route != NULL && gwshape_usage(route, body, len, u) == 0 && u->have ? u : NULL;
}

/* Settles run's hold from the ended response's usage u (status; NULL:
 * none said): 0 settled (now, or before: the same hash answers as
 * itself; or its hold was no longer pending: logged), -1 when the
 * database failed. */
static int settle(struct store *db, const struct ledger_gw_run *run, const char *status, const struct gw_usage *u)
{
	struct gw_charge d;
	int own;
	const char *reason = decide(run, status, u, &d, &own);
	unsigned char hash[KEYS_HASH_LEN];
	struct keys_part parts[] = {{"gateway-background\n", 19}, {run->hold_id, strlen(run->hold_id)}};
	keys_sha256_parts(parts, 2, hash);
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash, .render = answer_render};
	/* At the answering try's price, kept with the run (docs/gateway.md,
	 * "Which price a call is charged"); a row kept without one, the pin. */
	struct guard_settle s = {.hold_id = run->hold_id, .input_tokens = d.usage.input_tokens,
				 .cached_input_tokens = d.usage.cached_input_tokens, .output_tokens = d.usage.output_tokens,
				 .cache_write_input_tokens = d.usage.cache_write_tokens, .request_hash = hash,
				 .settle_reason = reason, .extra_raw = d.extra_raw,
				 .price = run->has_price ? &run->price : NULL, .margin_bps = run->margin_bps};
	struct ledger_result res = {0};
	enum cd_err rc = ledger_settle(db, &call, &s, &res);
	if (rc == CD_OK && res.done.kind == LEDGER_DONE_SETTLE) {
		metrics_gateway_settle(reason);
		log_info("gateway: background %s %s: settled, %lld micros", run->response_id, status,
			 (long long)res.done.u.settle.charged_micros);
		keep_billed(db, run, &d, own);
	} else if (rc == CD_OK && (res.status < 200 || res.status >= 300)) {
		char *text = res.body != NULL ? jsonio_dump(res.body) : NULL;
		log_error("gateway: background %s: the settle of %s was refused (%d): %s", run->response_id, run->hold_id,
			  res.status, text != NULL ? text : "-");
		free(text);
	}
	json_decref(res.body);
	if (rc != CD_OK) {
		log_warn("gateway: background %s: its settle failed (%s): tried again at its next poll", run->response_id,
			 errors_strerror(rc));
		return -1;
	}
	rc = ledger_gw_run_end(db, run->response_id, status);
	if (rc != CD_OK)
		log_warn("gateway: background %s: settled, still listed as running (%s): its next poll ends it",
			 run->response_id, errors_strerror(rc));
	return 0;
}

int gwbackground_started(struct store *db, const struct gw_job *job, int try_of, const char *body, size_t len)
{
	char id[LIMIT_GATEWAY_RESPONSE_ID_BYTES], status[16];
	if (!job->ask.background || job->hold_id[0] == '\0' ||
	    response_of(body, len, id, status, sizeof(status)) != 0 || !running(status))
		return 0;
	struct ledger_gw_run run;
	memset(&run, 0, sizeof(run));
	snprintf(run.response_id, sizeof(run.response_id), "%s", id);
	snprintf(run.account, sizeof(run.account), "%s", job->account);
	snprintf(run.hold_id, sizeof(run.hold_id), "%s", job->hold_id);
	snprintf(run.provider, sizeof(run.provider), "%s", job->providers[try_of]->name);
	snprintf(run.model, sizeof(run.model), "%s", job->ask.model);
	run.output_cap = job->cap >= 0 ? job->cap : job->ask.output_cap;
	run.hold_input = job->hold_input;
	run.searches_held = job->searches_held;
	run.has_price = !job->byok;
	run.price = job->prices[try_of];
	run.margin_bps = job->margin;
	run.attempt = try_of + 1;
	run.price_own = job->price_own[try_of];
	run.tier = job->ask.tier;
	run.web_search = job->ask.web_search == NULL ? 0 : strcmp(job->ask.web_search, "web_search_options") == 0 ? 2 : 1;
	run.web_search_max = job->ask.web_search_max;
	run.web_search_size = job->ask.web_search_size;
	run.long_context_off = job->ask.long_context_off;
	run.next_poll_at = timefmt_now() + gw->background_poll_seconds;
	enum cd_err rc = db == NULL ? CD_E_UNAVAILABLE : !gwobject_id_ok(id) ? CD_E_INVALID : CD_OK;
	if (rc == CD_OK)
		rc = ledger_gw_object_keep(db, job->account, LEDGER_GW_RESPONSE, id, run.provider);
	if (rc == CD_OK)
		rc = ledger_gw_run_start(db, &run);
	if (rc == CD_OK)
		rc = ledger_hold_renew(db, job->account, job->hold_id, LIMIT_GATEWAY_BACKGROUND_HOLD_SECONDS);
	if (rc != CD_OK) {
		log_error("gateway: background %s of %s could not be recorded (%s): its hold is kept unresolved",
			  id, job->account, errors_strerror(rc));
		return -1;
	}
	log_info("gateway: background %s of %s: %s, its hold %s waits for its end", id, job->account, status,
		 job->hold_id);
	return 1;
}

void gwbackground_seen(struct store *db, const struct gw_job *job, const char *body, size_t len)
{
	char id[LIMIT_GATEWAY_RESPONSE_ID_BYTES], status[16];
	struct ledger_gw_run run;
	int found = 0;
	if (db == NULL || response_of(body, len, id, status, sizeof(status)) != 0 || !ended(status) ||
	    strcmp(id, job->object_id) != 0)
		return;
	if (ledger_gw_run_find(db, id, &run, &found) != CD_OK || !found || !run.running ||
	    strcmp(run.account, job->account) != 0)
		return;
	struct gw_usage u;
	(void)settle(db, &run, status, usage_of(body, len, &u));
}

/* ---- The poll ---- */

int64_t gwbackground_next_at(int64_t polls, int64_t now)
{
	int64_t wait = gw->background_poll_seconds;
	for (int64_t i = 0; i < polls && wait < gw->background_poll_max_seconds; i++)
		wait *= 2;
	return now + (wait < gw->background_poll_max_seconds ? wait : gw->background_poll_max_seconds);
}

struct fetched {
	int status;
	struct dynbuf body;
	char tail[GW_TAIL_BYTES];	/* the answer's last bytes: its usage when it is too large to keep */
	size_t tail_len;
};

static int on_head(void *arg, int status, const struct provider_header *h, int n)
{
	struct fetched *f = arg;
	(void)h;
	(void)n;
	f->status = status;
	return 0;
}

static int on_data(void *arg, const char *bytes, size_t n)
{
	struct fetched *f = arg;
	gwshape_tail_keep(f->tail, &f->tail_len, bytes, n);
	if (!f->body.failed)
		(void)dynbuf_add(&f->body, bytes, n);	/* past its budget: read on, its tail kept */
	return 0;
}

/* Runs call to its end on a multi handle of its own (the poll's thread
 * waits for it; the gateway's loop is never asked). */
static enum provider_result fetch(const struct provider_call *call, char *err, size_t errcap)
{
	enum provider_result r = PROVIDER_FAILED;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct provider_multi *m = ep >= 0 ? provider_multi_new(ep, 1ULL << 32) : NULL;
	void *owner;
	snprintf(err, errcap, "out of memory");
	if (m != NULL && provider_start(m, call, NULL, err, errcap) != NULL) {
		while (provider_next_done(m, &owner, &r, err, errcap) != 0) {
			struct epoll_event evs[8];
			long t = provider_timer_ms(m);
			int n = epoll_wait(ep, evs, 8, t >= 0 && t < 100 ? (int)t : 100);
			for (int i = 0; i < n; i++)
				provider_socket(m, (int)(evs[i].data.u64 & 0xffffffffULL), evs[i].events);
			provider_timers(m);
		}
	}
	provider_multi_free(m);
	if (ep >= 0)
		close(ep);
	return r;
}

static int add_line(void *arg, const char *line)
{
	struct dynbuf *lines = arg;
	dynbuf_add(lines, line, strlen(line) + 1);
	return lines->failed ? -1 : 0;
}

/* GET /responses/{id} at the run's provider, with the deployment's key:
 * the answer's status and body into f. 0, or -1 (logged). */
static int ask_provider(const struct ledger_gw_run *run, struct fetched *f)
{
	const struct gwkind_route *get = gwkind_route_named("gw_openai_response_get");
	const struct gwconfig_provider *p = get != NULL ? gwconfig_provider_of(gw, get->kind, run->provider) : NULL;
	char path[LIMIT_GATEWAY_URL_BYTES], url[LIMIT_GATEWAY_URL_BYTES], err[256];
	const char *headers[8 + LIMIT_GATEWAY_PROVIDER_HEADERS], *forwarded[LIMIT_GATEWAY_KIND_FORWARDED];
	struct dynbuf lines;
	if (p == NULL || p->api_key[0] == '\0' || gwobject_path(get, run->response_id, "", path, sizeof(path)) != 0) {
		log_error("gateway: background %s: its provider '%s' is no longer configured with a key: not polled",
			  run->response_id, run->provider);
		return -1;
	}
	size_t n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		n--;
	if (n + strlen(path) >= sizeof(url)) {
		log_error("gateway: background %s: its provider's URL is too long: not polled", run->response_id);
		return -1;
	}
	memcpy(url, p->base_url, n);
	memcpy(url + n, path, strlen(path) + 1);
	for (size_t i = 0; i < LIMIT_GATEWAY_KIND_FORWARDED; i++)
		forwarded[i] = "";
	struct gwkind_upstream up = {p->api_key, forwarded};
	dynbuf_init(&lines, LIMIT_GATEWAY_HEADER_BYTES * (8 + LIMIT_GATEWAY_PROVIDER_HEADERS));
	int rc = p->kind->headers(&up, add_line, &lines);
	for (const char *at = p->headers; rc == 0 && *at != '\0';) {
		size_t k = strcspn(at, "\n");
		dynbuf_add(&lines, at, k);
		dynbuf_add(&lines, "", 1);
		at += k + (at[k] == '\n');
	}
	size_t h = 0;
	for (const char *at = lines.data; rc == 0 && !lines.failed && at < lines.data + lines.len &&
	     h + 1 < sizeof(headers) / sizeof(headers[0]); at += strlen(at) + 1)
		headers[h++] = at;
	headers[h] = NULL;
	struct provider_call call = {.url = url, .allow_http = p->allow_http, .headers = headers,
				     .connect_timeout_ms = (long)gw->connect_timeout_ms,
				     .first_byte_timeout_ms = LIMIT_GATEWAY_BACKGROUND_POLL_TIMEOUT_SECONDS * 1000L,
				     .idle_timeout_ms = LIMIT_GATEWAY_BACKGROUND_POLL_TIMEOUT_SECONDS * 1000L, .on_head = on_head,
				     .on_data = on_data, .arg = f};
	enum provider_result r = rc == 0 && !lines.failed ? fetch(&call, err, sizeof(err)) : PROVIDER_FAILED;
	dynbuf_free(&lines);
	if (r != PROVIDER_OK) {
		log_warn("gateway: background %s: its provider did not answer the poll (%s): polled again later",
			 run->response_id, err);
		return -1;
	}
	return 0;
}

/* A run past LIMIT_GATEWAY_BACKGROUND_DAYS: its hold kept unresolved at
 * its input bound (what the provider surely read), for the operator
 * (docs/gateway.md, "When a provider may already be working"); one its
 * provider no longer knows (a 404 at two polls: deleted, or forgotten,
 * with no usage to read), at its hold: all it may have cost. A hold
 * pending no more (settled, expired) or gone has nothing to mark: the
 * run ends all the same (never polled forever). */
static int give_up(struct store *db, const struct ledger_gw_run *run, int whole_hold)
{
	struct price p;
	int64_t margin, micros = INT64_MAX;
	int own;
	struct pricing_tokens bound = {run->hold_input, 0, 0, 0};
	if (!whole_hold && (!run_price(run, &p, &margin, &own) ||
			    pricing_cost_with_extra(&p, margin, &bound, 0, &micros) != PRICING_OK))
		micros = 0;
	enum cd_err rc = ledger_unresolved_mark(db, run->account, run->hold_id, micros, gw->unresolved_days);
	int marked = rc == CD_OK;
	if (rc == CD_E_CONFLICT || rc == CD_E_NOT_FOUND) {
		log_warn("gateway: background %s: its hold %s is pending no more (%s): nothing kept unresolved",
			 run->response_id, run->hold_id, errors_strerror(rc));
		rc = CD_OK;
	}
	if (rc == CD_OK)
		rc = ledger_gw_run_end(db, run->response_id, whole_hold ? "gone" : run->status);
	if (rc != CD_OK)
		return -1;
	if (marked)
		metrics_gateway_unresolved_call();
	log_warn("gateway: background %s %s: its hold %s is kept unresolved (creditctl hold resolve)", run->response_id,
		 whole_hold ? "is no longer known to its provider" : "ran past its days without an end", run->hold_id);
	return 1;
}

/* An answer too large to keep whole: its usage read from its tail (as a
 * whole answer's, gwshape_usage_tail). A response has usage once it
 * ended: then settled ("completed" on record), else still running. */
static int poll_tail(struct store *db, const struct ledger_gw_run *run, const struct fetched *f, char *status,
		     size_t cap)
{
	const struct gwkind_route *route = gwkind_route_named("gw_openai_responses");
	struct gw_usage u;
	if (route == NULL || gwshape_usage_tail(route, f->tail, f->tail_len, &u) != 0 || !u.have) {
		snprintf(status, cap, "%s", "in_progress");
		return 0;
	}
	return settle(db, run, "completed", &u) == 0 ? 1 : -1;
}

/* The poll's answer f read: 1 ended (settled, or given up), 0 running, -1 not learnt. */
static int poll_read(struct store *db, const struct ledger_gw_run *run, const struct fetched *f, char *status,
		     size_t cap)
{
	char id[LIMIT_GATEWAY_RESPONSE_ID_BYTES], seen[16];
	struct gw_usage u;
	if (f->status == 404 && strcmp(run->status, "gone") == 0)
		return give_up(db, run, 1);
	if (f->status == 404) {
		log_warn("gateway: background %s: its provider answered the poll 404: given up at the next if again",
			 run->response_id);
		snprintf(status, cap, "%s", "gone");
		return 0;
	}
	if (f->status >= 200 && f->status < 300 && f->body.failed)
		return poll_tail(db, run, f, status, cap);
	if (f->status < 200 || f->status >= 300 || response_of(f->body.data, f->body.len, id, seen, sizeof(seen)) != 0 ||
	    strcmp(id, run->response_id) != 0) {
		log_warn("gateway: background %s: its provider answered the poll %d, not the response: polled again later",
			 run->response_id, f->status);
		return -1;
	}
	if (ended(seen))
		return settle(db, run, seen, usage_of(f->body.data, f->body.len, &u)) == 0 ? 1 : -1;
	snprintf(status, cap, "%s", seen);
	return 0;
}

int gwbackground_poll(struct store *db, const struct ledger_gw_run *run, char *status, size_t cap)
{
	struct fetched f;
	snprintf(status, cap, "%s", run->status);
	if (!ledger_prices_loaded()) {
		log_warn("gateway: background %s: the prices are not loaded yet: polled again later", run->response_id);
		return -1;
	}
	if (timefmt_now() - run->created_at > (int64_t)LIMIT_GATEWAY_BACKGROUND_DAYS * TIMEFMT_SECONDS_PER_DAY)
		return give_up(db, run, 0);
	f.status = 0;
	f.tail_len = 0;
	dynbuf_init(&f.body, LIMIT_GATEWAY_BACKGROUND_ANSWER_BYTES);
	int rc = ask_provider(run, &f);
	if (rc == 0)
		rc = poll_read(db, run, &f, status, cap);
	dynbuf_free(&f.body);
	return rc;
}

int gwbackground_deletable(struct store *db, const char *account, const char *id)
{
	struct ledger_gw_run run;
	char status[sizeof(run.status)];
	int found = 0;
	if (ledger_gw_run_find(db, id, &run, &found) != CD_OK)
		return -1;
	if (!found || !run.running || strcmp(run.account, account) != 0)
		return 1;
	int r = gwbackground_poll(db, &run, status, sizeof(status));
	if (r == 0 && ledger_gw_run_next(db, run.response_id, run.next_poll_at, status, run.polls, run.next_poll_at) !=
			      CD_OK)
		log_warn("gateway: background %s: its status not kept", run.response_id);
	return r == 1 ? 1 : r == 0 ? 0 : -1;
}

/* ---- OpenAI's webhook ---- */

int gwbackground_hook(struct store *db, const char *id, const char *timestamp, const char *signature, const char *body,
		      size_t len, int *wake, const char **why)
{
	*wake = 0;
	*why = NULL;
	if (gw->openai_webhook_secret[0] == '\0')
		return 404;
	enum gwwebhook_verdict v = gwwebhook_verify(gw->openai_webhook_secret, id, timestamp, signature, body, len,
						    timefmt_now());
	if (v != GWWEBHOOK_OK) {
		*why = gwwebhook_why(v);
		log_warn("gateway: an OpenAI webhook refused: %s", *why);
		return 400;
	}
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *type = json_string_value(json_object_get(root, "type"));
	const char *rid = json_string_value(json_object_get(json_object_get(root, "data"), "id"));
	int status = 200, found = 0;
	if (type != NULL && rid != NULL && strncmp(type, "response.", 9) == 0 && ended(type + 9) && gwobject_id_ok(rid)) {
		enum cd_err rc = ledger_gw_run_wake(db, rid, &found);
		status = rc == CD_OK ? 200 : 503;
		*wake = found;
	}
	json_decref(root);
	return status;
}
