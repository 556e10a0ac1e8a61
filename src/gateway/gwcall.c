/* gwcall.c: one gateway call, on the loop and then an ending thread (see
 * gwcall.h; docs/gateway.md).
 *
 * The provider's answer decides the ending:
 * - no answer, the request not sent in full (refused, reset, no
 *   connection): the next provider tried; past the last, the hold is
 *   settled for nothing (settle reason provider_error), the client gets
 *   502 in the provider's shape;
 * - no answer, the request sent in full (no first byte in time, the
 *   connection lost): the provider may be working, so no other is tried;
 *   504 with x-should-retry: false, the hold kept unresolved
 *   (docs/gateway.md, "When a provider may already be working");
 * - an error status: settled for nothing (provider_error), the
 *   provider's status, headers and body passed on;
 * - a whole answer (not streamed): settled with its usage before it is
 *   sent (Creditd-Charged-Micros, Creditd-Balance-Micros); without usage
 *   estimated from its bytes;
 * - a stream: each event passed on as it comes and flushed; at its end
 *   settled with the usage seen (provider_usage), or client_gone when the
 *   client left (drained for drain_seconds, or cancelled), or estimated
 *   when it ended without usage (cut, or none sent).
 * Usage beyond what was asked (output above the cap sent, input above the
 * bound held, cached above input) is charged as the provider reported it
 * and flagged over_hold (gwmoney.h; docs/gateway.md); the answer passes on.
 * The call's bytes (the request sent, the answer read as it comes, what
 * the client is written) are gwcall_io.c's, its ledger's side
 * gwcall_ledger.c's. */
#include "gwcall.h"
#include "gwbackground.h"
#include "gwcall_int.h"
#include "answer.h"
#include "gwmoney.h"
#include "gwmoney_audio.h"
#include "gwmoney_images.h"
#include "timefmt.h"
#include "config.h"
#include "gwconfig.h"
#include "dynbuf.h"
#include "errors.h"
#include "jsonio.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "gwbuffer.h"
#include "provider.h"
#include "spool.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int gwcall_init(const struct cfg *cfg)
{
	gwcall_io_init(cfg);
	gwbackground_init(cfg);
	return gwcall_ledger_init(cfg);
}

/* ---- The ledger's side ---- */

static void release(struct gwcall *c)
{
	if (c->job->hold_id[0] == '\0')
		return;
	struct store *db = gwcall_ledger_borrow();
	(void)gwcall_release(db, c->job->hold_id);	/* logged: it expires at its ttl */
	if (db != NULL)
		gwcall_ledger_giveback(db);
}

/* The charge of u (gwmoney.h): the provider's usage as reported, what goes
 * beyond what was asked flagged, never dropped (docs/gateway.md, "Usage beyond what was asked"). */
static void decide(const struct gwcall *c, const struct gw_usage *u, struct gw_charge *d)
{
	const struct gw_job *job = c->job;
	struct gw_asked a = {job->route, job->cap >= 0 ? job->cap : job->ask.output_cap,
			     job->ask.choices > 0 ? job->ask.choices : 1, job->hold_input};
	struct price named;
	struct gw_usage au = *u;	/* an audio call's usage as charged (docs/gateway.md, "Audio and speech") */
	gwmoney_audio_usage(job->route, &job->ask, &au);
	u = &au;
	struct gw_usage images;
	int other = gwcall_tool_named(job, u, &named);
	if (job->route->images && !job->byok) {
		/* An image call's tokens, as its price bills them (gwmoney_images.h). */
		gwmoney_images_usage(&job->ask, c->attempt, job->hold_input, u, &images);
		u = &images;
	}
	gwmoney_charge(&a, u, d);
	const struct price *p = &job->prices[c->attempt];	/* the answering provider's (docs/gateway.md) */
	if (!job->byok && (gwmoney_dims(&job->ask, p, job->searches_held, u, &d->extra_raw, d) != PRICING_OK ||
			   gwmoney_tool(&job->ask, job->ask.tool_model[0] != '\0' ? &job->tool_price : p,
					other ? &named : NULL, &job->tool_held, u, &d->extra_raw, d) != PRICING_OK ||
			   gwmoney_audio_extra(&job->ask, p, u, &d->extra_raw, d) != PRICING_OK ||
			   (job->route->images && gwmoney_images(&job->ask, c->attempt, p, u, &d->extra_raw, d) != PRICING_OK))) {
		log_error("gateway: %s: the usage's dimensions beyond tokens could not be priced: charged its tokens",
			  job->hold_id);
		/* A media call's whole charge is its extra: the units held are
		 * charged (docs/gateway.md, "Images, audio and speech"), never 0. */
		int media = job->route->images || job->ask.media_priced != 0;
		d->extra_raw = media ? job->hold_fees_raw : 0;
		d->over_hold = 1;
		snprintf(d->why, sizeof(d->why), media ? "units beyond what creditd can price: the units held charged"
			 : "dimensions beyond tokens past what creditd can price: its tokens charged");
	}
}

/* A media call's route kind and its units as charged (sql/066;
 * docs/reconciliation.md, "Images, audio and speech"): characters of
 * speech (those sent, when its row bills tokens), milliseconds of audio
 * transcribed, images made (those asked when the answer was not read:
 * what was charged). A call settled for nothing has none. */
static void media_billed(const struct gw_job *job, const struct gw_charge *d, struct ledger_usage_billed *b)
{
	const struct gw_usage *u = &d->usage;
	int settled = u->have || d->extra_raw > 0;
	if (job->route->images) {
		b->media_kind = "images";
		b->media_images = u->img.answered ? u->img.made : settled ? job->ask.img.n : 0;
	} else if (gwkind_media(job->route) == GW_MEDIA_SPEECH) {
		b->media_kind = "speech";
		b->media_characters = u->speech_chars > 0 ? u->speech_chars : settled ? job->ask.speech_chars : 0;
	} else if (gwkind_media(job->route) == GW_MEDIA_TRANSCRIPTION) {
		b->media_kind = "transcription";
		b->media_audio_ms = u->audio_ms;
	}
}

/* The answering provider's own price was charged (docs/gateway.md,
 * "Which price a call is charged"): an image call's is the row of the
 * image it made (gwmoney_images_own), any other's its model's. */
static int own_price(const struct gwcall *c, const struct gw_charge *d)
{
	const struct gw_job *job = c->job;
	if (job->route->images && !job->byok)
		return gwmoney_images_own(&job->ask, c->attempt, &d->usage);
	return job->price_own[c->attempt];
}

/* What the call was charged for beyond its tokens kept on its usage
 * record (sql/047), when there is anything to keep; a call charged beyond
 * what it asked is counted, logged, and flagged over_hold there. */
static void keep_billed(const struct gwcall *c, const struct gw_charge *d)
{
	const struct pricing_dims_usage *x = &d->dims;
	struct ledger_usage_billed b = {d->over_hold, x->tier == PRICING_TIER_PRIORITY ? "priority"
						      : x->tier == PRICING_TIER_FLEX ? "flex" : NULL,
					x->long_context, x->cache_write_1h_tokens, x->audio_input_tokens,
					x->audio_output_tokens, x->web_search_calls,
					c->attempt > 0 ? gwcall_provider(c)->name : NULL, c->attempt + 1, d->usage_unknown,
					own_price(c, d) ? gwcall_provider(c)->name : NULL, NULL, 0, 0, 0};
	media_billed(c->job, d, &b);
	if (d->usage_unknown) {
		metrics_gateway_usage_unknown();
		log_warn("gateway: %s: the provider's usage named tokens creditd does not know: %s", c->job->hold_id,
			 d->why);
	}
	if (d->over_hold) {
		metrics_gateway_over_hold();
		log_warn("gateway: %s: the provider's usage went beyond what was asked, charged as reported: %s",
			 c->job->hold_id, d->why);
	}
	if (!b.over_hold && !b.usage_unknown && b.service_tier == NULL && !b.long_context && b.cache_write_1h_tokens == 0 &&
	    b.audio_input_tokens == 0 && b.audio_output_tokens == 0 && b.web_search_calls == 0 && b.attempts == 1 &&
	    b.price_provider == NULL && b.media_kind == NULL)
		return;
	struct store *db = gwcall_ledger_borrow();
	enum cd_err rc = db != NULL ? ledger_usage_billed(db, c->job->account, c->job->hold_id, &b) : CD_E_UNAVAILABLE;
	if (db != NULL)
		gwcall_ledger_giveback(db);
	if (rc != CD_OK)
		log_warn("gateway: %s: what it was charged for beyond tokens not kept on its usage record (%s)",
			 c->job->hold_id, errors_strerror(rc));
}

/* ---- Endings ---- */

/* The header lines of a settled answer that is not streamed (docs/api.md,
 * "Creditd-Charged-Micros"), into extra. A member's call is not shown the
 * pool's balance (docs/gateway.md, "The charge"): a member-bound key must
 * not learn what the workspace holds. */
static void charge_lines(const struct gwcall *c, int64_t charged, int64_t balance, char *extra, size_t cap)
{
	if (c->job->member[0] != '\0')
		snprintf(extra, cap, "Creditd-Charged-Micros: %lld\r\n", (long long)charged);
	else
		snprintf(extra, cap, "Creditd-Charged-Micros: %lld\r\nCreditd-Balance-Micros: %lld\r\n",
			 (long long)charged, (long long)balance);
}

/* The provider answered an error, or nothing, before any output: the hold
 * is settled for nothing with reason provider_error (a usage record of
 * cost 0: reports and reconcile count these calls), its charge's header
 * lines in extra, or released when that fails (extra ""). */
static void settle_nothing(struct gwcall *c, char *extra, size_t cap)
{
	struct gw_usage none = {0};
	struct gw_charge d = {0};
	int64_t charged, balance;
	extra[0] = '\0';
	if (gwcall_ledger_charge(c->job, c->attempt, gwcall_provider(c)->name, &none, 0, GW_REASON_PROVIDER_ERROR,
				 &charged, &balance) != CD_OK) {
		release(c);
		return;
	}
	charge_lines(c, charged, balance, extra, cap);
	keep_billed(c, &d);	/* the providers it tried, when more than one */
}

/* The provider may be working on it: its request went out in full, then
 * no first byte in time, or the connection was lost (provider.h). Never
 * free, never twice (docs/gateway.md): 504 with x-should-retry: false
 * (the official SDKs send a 504 again otherwise), tried nowhere else, its
 * hold neither released nor charged but kept unresolved. */
static void end_unresolved(struct gwcall *c, enum provider_result r, const char *err)
{
	char message[512];
	if (r == PROVIDER_TIMEOUT)
		snprintf(message, sizeof(message), "the provider did not answer within %ld s", c->pc.first_byte_timeout_ms / 1000);
	else
		snprintf(message, sizeof(message), "the provider %s (%s)", r == PROVIDER_LOST ? "closed the connection after "
			 "the request was sent" : "was left before it answered", err);
	snprintf(message + strlen(message), sizeof(message) - strlen(message), "; it may still be running the call, "
		 "which creditd does not send again");
	metrics_gateway_unresolved_call();
	log_warn("gateway: %s %s: its hold is kept unresolved (creditctl hold resolve)", c->job->hold_id, message);
	gwcall_ledger_unresolve(c->job, c->attempt);
	gwcall_error_write_with(c, 504, CD_E_UPSTREAM, message, "x-should-retry: false\r\n");
}

static void end_unanswered(struct gwcall *c, enum provider_result r, const char *err)
{
	if (r != PROVIDER_CONNECT && r != PROVIDER_FAILED) {
		end_unresolved(c, r, err);
		return;
	}
	char extra[160], message[512];
	settle_nothing(c, extra, sizeof(extra));
	snprintf(message, sizeof(message), "the provider could not be reached: %s", err);
	log_warn("gateway: %s %s", c->job->hold_id, message);
	gwcall_error_write_with(c, 502, CD_E_UPSTREAM, message, extra);
}

static void end_error(struct gwcall *c)
{
	char extra[160];
	settle_nothing(c, extra, sizeof(extra));
	if ((c->status == 401 || c->status == 403) && !c->job->byok) {
		/* The deployment's key was refused, not the caller's: an
		 * SDK would read a 401 as its own key's fault. */
		if (gwcall_provider(c)->rest)	/* §12's: its key is [gateway] NAME_api_key */
			log_error("gateway: the provider refused the deployment's key (%d): check [gateway] %s_api_key",
				  c->status, gwcall_provider(c)->name);
		else
			log_error("gateway: the provider refused the deployment's key (%d): check [provider %s] api_key",
				  c->status, gwcall_provider(c)->name);
		gwcall_error_write_with(c, 502, CD_E_UPSTREAM, "the provider refused creditd's provider key", extra);
		return;
	}
	gwcall_head_write(c, c->status, extra);
	gwcall_client_write(c, c->whole.data, c->whole.len);
}

/* The estimate of a call that ended without usage (gwshape_estimate);
 * on a reasoning model its output is the hold's: hidden reasoning was
 * billed, and the visible text says nothing of it (docs/gateway.md, "Hidden reasoning"). */
/* An estimate's dimensions beyond tokens (docs/gateway.md, "The estimate"): those
 * seen, else the worst case held: the tier asked, the searches, audio, a tool model's runs. */
static void estimated_dims(const struct gwcall *c, struct gw_usage *u)
{
	const struct gw_job *job = c->job;
	const struct gw_usage *seen = &c->stream.usage;
	u->tier = seen->tier != GW_TIER_STANDARD ? seen->tier : gwmoney_worst_tier(&job->ask, &job->prices[c->attempt]);
	u->web_searches = seen->web_searches > job->searches_held ? seen->web_searches : job->searches_held;
	u->cache_write_1h_tokens = seen->cache_write_1h_tokens;
	u->audio_output_tokens = job->ask.audio != NULL ? u->output_tokens : 0;
	struct gw_tool_usage t = u->tool.runs > 0 ? u->tool : seen->tool;	/* a tail's runs, else a stream's */
	gwmoney_tool_estimate(&job->ask, &job->tool_held, &t, &u->tool);
}

static void estimate(const struct gwcall *c, struct gw_usage *u)
{
	char id[sizeof(u->response_id)];
	memcpy(id, u->response_id, sizeof(id));
	gwshape_estimate(&c->stream, c->job->hold_input, c->job->hold_output, u);
	memcpy(u->response_id, id, sizeof(id));	/* a stream's id seen before it was cut is still its */
	estimated_dims(c, u);
	if (c->job->reasoning)
		u->output_tokens = c->job->hold_output;
}

/* A whole answer: settled first, then sent with what it cost. One that
 * was cut or passed LIMIT_GATEWAY_ANSWER_BYTES is charged as estimated
 * and answered 502. */
static void answer_whole(struct gwcall *c, int whole, int64_t charged, int64_t balance);

/* A background run answered "queued" (docs/gateway.md, "Background
 * responses"): recorded, its hold left to wait for the run's end, the
 * answer passed on as it came. 1 when it was one (answered), else 0. */
static int background_started(struct gwcall *c, int whole)
{
	if (!c->job->ask.background)
		return 0;
	if (!whole) {
		/* Its run's id not read (cut, or past the budget): the provider
		 * runs it and bills it, and creditd cannot poll it. Never an
		 * estimate settled and a retry asked for (a second run). */
		metrics_gateway_unresolved_call();
		log_warn("gateway: %s: a background run's answer was not received whole: its hold is kept unresolved "
			 "(creditctl hold resolve)", c->job->hold_id);
		gwcall_ledger_unresolve(c->job, c->attempt);
		gwcall_error_write_with(c, 504, CD_E_UPSTREAM, "the provider's answer to a background run was not "
					"received whole; the run may be running, which creditd does not send again",
					"x-should-retry: false\r\n");
		return 1;
	}
	struct store *db = gwcall_ledger_borrow();
	int rc = gwbackground_started(db, c->job, c->attempt, c->whole.data, c->whole.len);
	if (db != NULL)
		gwcall_ledger_giveback(db);
	if (rc == 0)
		return 0;
	if (rc < 0)	/* the provider runs it and will bill it: kept for the operator */
		gwcall_ledger_unresolve(c->job, c->attempt);
	gwcall_head_write(c, c->status, "");
	gwcall_client_write(c, c->whole.data, c->whole.len);
	return 1;
}

static void end_whole(struct gwcall *c, enum provider_result r)
{
	struct gw_usage u;
	struct gw_charge d;
	int64_t charged, balance;
	const char *reason = GW_REASON_PROVIDER_USAGE;
	int whole = r == PROVIDER_OK && !c->whole.failed && !c->over_budget;
	if (background_started(c, whole))
		return;
	if (gwkind_media(c->job->route) != GW_MEDIA_NONE) {
		/* Audio bytes or a transcription's text (docs/gateway.md, "Audio
		 * and speech"), whole, cut, too large or not kept (its tail): its
		 * usage, else the request's own figures held; by tokens without
		 * usage, the hold (job->reasoning). Never its bytes as text. */
		int held = 0;
		if (gwkind_audio_whole(c->job->route, &c->job->ask, c->over_budget ? c->tail : c->whole.data,
				       c->over_budget ? c->tail_len : c->whole.len, &u, &held) != 0) {
			estimate(c, &u);
			held = 1;
		}
		reason = held || !whole ? GW_REASON_ESTIMATED : reason;
	} else if (c->over_budget && r == PROVIDER_OK && gwshape_usage_tail(c->job->route, c->tail, c->tail_len, &u) == 0) {
		estimated_dims(c, &u);	/* its usage, read from its tail; beyond tokens the worst asked */
	} else if (c->over_budget) {
		estimate(c, &u);	/* every byte it sent counted (on_data), never the hold */
		reason = GW_REASON_ESTIMATED;
	} else if (!whole || gwshape_usage(c->job->route, c->whole.data, c->whole.len, &u) != 0 || !u.have) {
		/* Cut, too large, not JSON, or no usage: estimated from its
		 * bytes as a stream's text would be. */
		gwshape_count_raw(&c->stream, c->whole.data, c->whole.len);
		estimate(c, &u);
		reason = GW_REASON_ESTIMATED;
	}
	decide(c, &u, &d);
	if (gwcall_ledger_charge(c->job, c->attempt, gwcall_provider(c)->name, &d.usage, d.extra_raw, reason,
				 &charged, &balance) != CD_OK) {
		gwcall_error_write(c, 503, CD_E_UNAVAILABLE, "the call was answered but could not be settled: retry");
		return;
	}
	answer_whole(c, whole, charged, balance);
	keep_billed(c, &d);	/* after the answer: a record, not its money (settled above) */
}

/* A settled whole answer (charged, balance) passed on, or why not. */
static void answer_whole(struct gwcall *c, int whole, int64_t charged, int64_t balance)
{
	char extra[160];
	if (!whole && c->over_budget) {
		gwcall_error_write(c, 503, CD_E_BUSY, "the gateway holds as many whole answers as [gateway] max_buffered_mib "
			    "allows: retry");
		return;
	}
	if (!whole) {
		gwcall_error_write(c, 502, CD_E_UPSTREAM, c->whole.failed ? "the provider's answer is larger than creditd "
				    "passes on whole" : "the provider's answer was cut");
		return;
	}
	charge_lines(c, charged, balance, extra, sizeof(extra));
	gwcall_head_write(c, c->status, extra);
	gwcall_client_write(c, c->whole.data, c->whole.len);
	dynbuf_free(&c->whole);	/* framed now: one copy is kept, not two */
}

/* Creditd-Stream-Cost: 1 (docs/gateway.md, "The cost of one call"): after the provider's last event
 * and the settle, one SSE comment, which every SSE parser ignores, with
 * what the call cost. A member's call is not shown the pool's balance. */
static void cost_line(struct gwcall *c, int64_t charged, int64_t balance, const char *reason)
{
	json_t *v = json_pack("{s:s, s:I, s:o, s:s}", "hold_id", c->job->hold_id, "charged_micros", (json_int_t)charged,
			      "balance_micros", c->job->member[0] == '\0' && balance >= 0 ? json_integer((json_int_t)balance)
									 : json_null(),
			      "settle_reason", reason);
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (text == NULL)
		return;
	char line[LIMIT_HOLD_ID_BYTES + 192];
	int n = snprintf(line, sizeof(line), ": creditd %s\n\n", text);
	free(text);
	if (n > 0 && (size_t)n < sizeof(line))
		gwcall_client_write(c, line, (size_t)n);
}

static void end_stream(struct gwcall *c)
{
	struct gw_usage u = c->stream.usage;
	struct gw_charge d;
	int64_t charged, balance;
	const char *reason = c->gone ? GW_REASON_CLIENT_GONE : GW_REASON_PROVIDER_USAGE;
	/* An error event before any output (Anthropic's overloaded_error
	 * after message_start): an error before output, as a status is. */
	if (c->stream.error && c->stream.text_bytes == 0 && c->stream.audio_bytes == 0 && !u.have) {
		char extra[160];	/* a stream's head is sent: its charge is not a header */
		settle_nothing(c, extra, sizeof(extra));
		return;
	}
	if (!u.have) {
		estimate(c, &u);
		if (!c->gone)
			reason = GW_REASON_ESTIMATED;
	}
	decide(c, &u, &d);
	if (gwcall_ledger_charge(c->job, c->attempt, gwcall_provider(c)->name, &d.usage, d.extra_raw, reason,
				 &charged, &balance) != CD_OK) {
		log_error("gateway: %s: the stream's settle failed: the hold expires at its ttl", c->job->hold_id);
		return;
	}
	keep_billed(c, &d);
	if (c->job->stream_cost && !c->gone)
		cost_line(c, charged, balance, reason);
}

/* A free route's answer (count_tokens, an object route's; docs/gateway.md,
 * "Routes"): passed on as it came, nothing held or settled; an object the
 * provider said it deleted is forgotten (gwcall_ledger_forget). One
 * larger than the room left in all is answered 503, as a whole answer is. */
static void end_free(struct gwcall *c, enum provider_result r, const char *err)
{
	char message[512];
	if (c->status != 0 && r == PROVIDER_OK && c->over_budget) {
		gwcall_error_write(c, 503, CD_E_BUSY, "the gateway holds as many whole answers as [gateway] "
				   "max_buffered_mib allows: retry");
		return;
	}
	if (c->status != 0 && r == PROVIDER_OK && !c->whole.failed) {
		gwcall_ledger_forget(c->job, c->status, c->whole.data, c->whole.len);
		if (c->status >= 200 && c->status < 300 && c->job->route->object && !c->job->byok) {
			/* A background run's end seen by its client: settled before
			 * the client reads it (docs/gateway.md, "Background responses"). */
			struct store *db = gwcall_ledger_borrow();
			gwbackground_seen(db, c->job, c->whole.data, c->whole.len);
			if (db != NULL)
				gwcall_ledger_giveback(db);
		}
		gwcall_head_write(c, c->status, "");
		gwcall_client_write(c, c->whole.data, c->whole.len);
		return;
	}
	int late = c->status == 0 && (r == PROVIDER_TIMEOUT || r == PROVIDER_LOST);
	snprintf(message, sizeof(message), "the provider %s: %s", late ? "did not answer in time"
		 : c->status != 0 ? "sent an answer creditd could not pass on" : "could not be reached", err);
	log_warn("gateway: a free call's %s", message);
	gwcall_error_write(c, late ? 504 : 502, CD_E_UPSTREAM, message);
}

/* ---- Fallback (docs/gateway.md: only where it cannot have started) ---- */

/* A try's outcome as metrics count it; -1: none (the client left first). */
static int try_outcome(const struct gwcall *c, enum provider_result r)
{
	if (c->status == 0)
		return r == PROVIDER_TIMEOUT ? METRICS_TRY_TIMEOUT : r == PROVIDER_STOPPED ? -1 : METRICS_TRY_UNREACHABLE;
	if (c->status >= 200 && c->status < 300)
		return METRICS_TRY_OK;
	return c->status == 429 ? METRICS_TRY_RATE_LIMITED : c->status >= 500 ? METRICS_TRY_SERVER_ERROR
								 : METRICS_TRY_CLIENT_ERROR;
}

/* 1 when c's try failed where the provider cannot have started the work,
 * and a provider is left: no connection, or one that ended before the
 * request was sent in full (provider.h: PROVIDER_CONNECT; nothing sent:
 * PROVIDER_FAILED), or an answer that says it did not run it (429, 500,
 * 502, 503, 529). Never on a first-byte timeout or a connection lost
 * after the request was sent: that provider may be working, and another
 * would do the work again (docs/gateway.md, "When a provider may already
 * be working"). */
static int falls_back(const struct gwcall *c, enum provider_result r)
{
	if (c->gone || c->answered != 0 || c->attempt + 1 >= c->job->nproviders)
		return 0;
	if (c->status == 0)
		return r == PROVIDER_CONNECT || r == PROVIDER_FAILED;
	return c->status == 429 || c->status == 500 || c->status == 502 || c->status == 503 || c->status == 529;
}

const struct provider_call *gwcall_retry(struct gwcall *c, enum provider_result r, const char *err)
{
	int outcome = try_outcome(c, r);
	if (!falls_back(c, r))
		return NULL;
	metrics_gateway_try(gwcall_provider(c)->index, (enum metrics_try)outcome);
	/* Once in LIMIT_GATEWAY_FALLBACK_LOG_SECONDS a provider: one that is
	 * down would write a line a call; the metric counts every try.
	 * The loops share it: its slots atomic. */
	static _Atomic int64_t logged[LIMIT_METRICS_PROVIDERS];
	int64_t now = timefmt_mono_ms() / 1000, was = atomic_load(&logged[gwcall_provider(c)->index]);
	if ((now - was >= LIMIT_GATEWAY_FALLBACK_LOG_SECONDS || was == 0) &&
	    atomic_compare_exchange_strong(&logged[gwcall_provider(c)->index], &was, now)) {
		log_warn("gateway: %s: the provider %s failed before the first byte (%s): trying %s (its next failures "
			 "in %d s are counted in creditd_gateway_provider_tries_total, not logged)", c->job->hold_id,
			 gwcall_provider(c)->name, c->status != 0 ? errors_http_reason(c->status) : err,
			 c->job->providers[c->attempt + 1]->name, LIMIT_GATEWAY_FALLBACK_LOG_SECONDS);
	}
	/* What the failed try read is dropped: the next one starts afresh. */
	c->status = 0;
	c->over_budget = 0;
	c->tail_len = 0;
	dynbuf_reset(&c->head);
	dynbuf_reset(&c->whole);
	gwbuffer_give(c->job->place, c->buffered);
	c->buffered = 0;
	gwshape_stream_free(&c->stream);
	gwshape_stream_init(&c->stream, c->job->route, c->job->ask.usage_asked);
	c->attempt++;
	if (gwcall_prepare(c) != 0) {
		c->attempt--;	/* out of memory: the call ends as the last try did */
		return NULL;
	}
	return &c->pc;
}

struct gwcall *gwcall_new(struct gw_job *job, const struct gw_edge *edge)
{
	struct gwcall *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->job = job;
	c->edge = *edge;
	c->kind = job->route->kind;
	dynbuf_init(&c->whole, LIMIT_GATEWAY_ANSWER_BYTES);
	dynbuf_init(&c->head, LIMIT_PROVIDER_HEADER_BYTES);
	/* The kind's few lines (its credential, the forwarded headers) and
	 * the provider's configured ones, each at most a header's bytes. */
	dynbuf_init(&c->lines, (8 + LIMIT_GATEWAY_PROVIDER_HEADERS) * (LIMIT_GATEWAY_HEADER_BYTES + 64) +
		    LIMIT_PROVIDER_KEY_BYTES);
	gwshape_stream_init(&c->stream, job->route, job->ask.usage_asked);
	c->prepared = gwcall_prepare(c) == 0;
	return c;
}

const struct provider_call *gwcall_start(struct gwcall *c, void (*wake)(void *arg), void *arg)
{
	c->wake = wake;
	c->wake_arg = arg;
	metrics_gateway_overhead(timefmt_mono_ms() - c->job->received_ms);
	return c->prepared ? &c->pc : NULL;
}

int gwcall_send(struct gwcall *c)
{
	c->waking = 0;
	if (c->gone)
		return -1;
	int r = c->edge.send(c->edge.req, 0);
	if (r < 0)
		gwcall_client_gone(c);
	return r;
}

const struct gw_edge *gwcall_edge(const struct gwcall *c)
{
	return &c->edge;
}

void gwcall_end(struct gwcall *c, enum provider_result r, const char *err)
{
	struct gw_job *job = c->job;
	int outcome = try_outcome(c, r);
	if (outcome >= 0)
		metrics_gateway_try(gwcall_provider(c)->index, (enum metrics_try)outcome);
	if (job->route->free)
		end_free(c, r, err);
	else if (c->status == 0)
		end_unanswered(c, r, err);
	else if (c->status < 200 || c->status >= 300)
		end_error(c);
	else if (!job->ask.stream)
		end_whole(c, r);
	else
		end_stream(c);
	if (c->status >= 200 && c->status < 300 && job->ask.stream && r != PROVIDER_OK && !c->gone)
		log_warn("gateway: %s: the provider's stream ended early (%s)", job->hold_id, err);
	if (!c->gone && c->edge.end(c->edge.req) != 0)
		gwcall_client_gone(c);
}

int gwcall_place(const struct gwcall *c)
{
	return c->job->place;
}

void gwcall_finish(struct gwcall *c)
{
	struct gw_job *job = c->job;
	c->edge.finish(c->edge.req, job->route_name, c->answered, job->account);
	if (c->id_listed)
		gwcall_ledger_id_list(job, "", "");	/* kept in the database by its settle, or never */
	gwshape_stream_free(&c->stream);
	dynbuf_free(&c->whole);	/* its room given back with its place (gateway_unadmit) */
	dynbuf_free(&c->head);
	dynbuf_free(&c->lines);
	free(c->upstream_body);
	free(job->body_memory);
	spool_free(job->body_spool);	/* the file goes with its descriptor */
	free(job);
	free(c);
}
