/* gwcall_ledger.c: the ledger's side of the gateway's calls (gwcall.h):
 * the ledger connections the ending threads settle on, the response ids
 * of streams in flight, a hold's renewal and release, a Responses id
 * kept with the provider that made it (previous_response_id, the object
 * routes), and an object forgotten once its provider deleted it. */
#include "gwcall.h"
#include "gwcall_int.h"
#include "gwconfig.h"
#include "gwmoney_audio.h"
#include "config.h"
#include "errors.h"
#include "keys.h"
#include "ledger.h"
#include "ledger_unresolved.h"
#include "log.h"
#include "answer.h"
#include "jsonio.h"
#include "metrics.h"
#include "pricing.h"
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cfg *cc;
static const struct gwconfig *gw;	/* cc's [gateway] keys */

/* ---- The ledger connections calls settle on ---- */

static pthread_mutex_t lg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lg_cond = PTHREAD_COND_INITIALIZER;
static struct store *lg_free[LIMIT_GATEWAY_LEDGERS];
static int lg_nfree, lg_made;

/* The response ids of streams in flight, by their call's place
 * (docs/gateway.md, "previous_response_id"): a client chaining
 * previous_response_id right after a stream's last event comes before the
 * settle keeps the id in the database; until the call is finished its id is
 * here. */
struct inflight_id {
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];
	char id[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	char provider[LIMIT_CONFIG_NAME_BYTES];	/* the provider streaming it */
};
static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inflight_id *ids;

int gwcall_ledger_init(const struct cfg *cfg)
{
	cc = cfg;
	gw = gwconfig_of(cfg);
	ids = calloc((size_t)gw->max_streams, sizeof(*ids));
	return ids != NULL ? 0 : -1;
}

void gwcall_ledger_id_list(const struct gw_job *job, const char *id, const char *provider)
{
	if (job->place < 0 || job->place >= gw->max_streams)
		return;
	pthread_mutex_lock(&ids_lock);
	snprintf(ids[job->place].account, sizeof(ids[job->place].account), "%s", id[0] != '\0' ? job->account : "");
	snprintf(ids[job->place].id, sizeof(ids[job->place].id), "%s", id);
	snprintf(ids[job->place].provider, sizeof(ids[job->place].provider), "%s", provider);
	pthread_mutex_unlock(&ids_lock);
}

int gwcall_response_in_flight(const char *account, const char *id, char *provider, size_t cap)
{
	int found = 0;
	pthread_mutex_lock(&ids_lock);
	for (int64_t i = 0; ids != NULL && i < gw->max_streams && !found; i++) {
		found = ids[i].id[0] != '\0' && strcmp(ids[i].id, id) == 0 && strcmp(ids[i].account, account) == 0;
		if (found && provider != NULL)
			snprintf(provider, cap, "%s", ids[i].provider);
	}
	pthread_mutex_unlock(&ids_lock);
	return found;
}

/* A ledger connection, made when fewer than LIMIT_GATEWAY_LEDGERS exist,
 * else the next one given back. NULL out of memory. */
struct store *gwcall_ledger_borrow(void)
{
	struct store *db = NULL;
	pthread_mutex_lock(&lg_lock);
	while (lg_nfree == 0 && lg_made == LIMIT_GATEWAY_LEDGERS)
		pthread_cond_wait(&lg_cond, &lg_lock);
	if (lg_nfree > 0) {
		db = lg_free[--lg_nfree];
		pthread_mutex_unlock(&lg_lock);
		return db;
	}
	lg_made++;
	pthread_mutex_unlock(&lg_lock);
	db = store_new(cc);
	if (db == NULL) {
		pthread_mutex_lock(&lg_lock);
		lg_made--;
		pthread_cond_signal(&lg_cond);
		pthread_mutex_unlock(&lg_lock);
	}
	return db;
}

void gwcall_ledger_giveback(struct store *db)
{
	store_end_request(db);
	pthread_mutex_lock(&lg_lock);
	lg_free[lg_nfree++] = db;
	pthread_cond_signal(&lg_cond);
	pthread_mutex_unlock(&lg_lock);
}

int gwcall_renew(const char *account, const char *hold_id, int64_t ttl)
{
	struct store *db = gwcall_ledger_borrow();
	enum cd_err rc = db != NULL ? ledger_hold_renew(db, account, hold_id, ttl) : CD_E_UNAVAILABLE;
	if (db != NULL)
		gwcall_ledger_giveback(db);
	if (rc != CD_OK)
		log_warn("gateway: the hold %s of a call in flight was not renewed (%s): tried again in %d s", hold_id,
			 errors_strerror(rc), LIMIT_GATEWAY_RENEW_CHECK_SECONDS);
	return rc == CD_OK || rc == CD_E_NOT_FOUND ? 0 : -1;
}

/* A Responses answer's id, kept with its provider so that this account
 * may name it in previous_response_id and reach it through the object
 * routes (docs/gateway.md, "Provider objects"); one that cannot be kept
 * is only logged: the call is settled, and naming it later is refused. */
void gwcall_ledger_keep_response(const struct gw_job *job, const char *provider, const struct gw_usage *u)
{
	if (u->response_id[0] == '\0')
		return;
	struct store *db = gwcall_ledger_borrow();
	enum cd_err rc = db != NULL ? ledger_gw_object_keep(db, job->account, LEDGER_GW_RESPONSE, u->response_id, provider)
				    : CD_E_UNAVAILABLE;
	if (db != NULL)
		gwcall_ledger_giveback(db);
	if (rc != CD_OK)
		log_warn("gateway: response %s of %s not kept (%s): naming it in previous_response_id, or retrieving it, "
			 "will be refused", u->response_id, job->account, errors_strerror(rc));
}

void gwcall_ledger_forget(const struct gw_job *job, int status, const char *body, size_t len)
{
	if (!job->route->object || strcmp(job->route->method, "DELETE") != 0 || status < 200 || status >= 300)
		return;
	json_t *root = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
	int deleted = json_is_true(json_object_get(root, "deleted"));
	json_decref(root);
	if (!deleted)
		return;
	struct store *db = gwcall_ledger_borrow();
	enum cd_err rc = db != NULL ? ledger_gw_object_forget(db, job->account, LEDGER_GW_RESPONSE, job->object_id)
				    : CD_E_UNAVAILABLE;
	if (db != NULL)
		gwcall_ledger_giveback(db);
	if (rc != CD_OK)
		log_warn("gateway: response %s of %s, deleted by its provider, is still on record (%s): retrieving it is "
			 "forwarded, and the provider answers that it has none", job->object_id, job->account,
			 errors_strerror(rc));
}

/* Settles the job's hold with u under reason; *charged and *balance from the answer (-1 when unknown). */
enum cd_err gwcall_ledger_charge(const struct gw_job *job, int try_of, const char *provider, const struct gw_usage *u,
				 int64_t extra_raw, const char *reason, int64_t *charged, int64_t *balance)
{
	unsigned char hash[KEYS_HASH_LEN];
	struct ledger_result res = {0};
	enum cd_err rc = CD_E_UNAVAILABLE;
	*charged = *balance = -1;
	struct keys_part parts[] = {{"gateway\n", 8}, {job->hold_id, strlen(job->hold_id)}, {job->request_id,
		strlen(job->request_id)}};
	keys_sha256_parts(parts, 3, hash);
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash, .render = answer_render};
	/* A BYOK call's hold holds nothing: its settle records the usage,
	 * byok true, and charges nothing. */
	struct guard_settle s = {.hold_id = job->hold_id, .input_tokens = u->input_tokens,
				 .cached_input_tokens = u->cached_input_tokens, .output_tokens = u->output_tokens,
				 .cache_write_input_tokens = u->cache_write_tokens, .request_hash = hash,
				 .settle_reason = reason, .extra_raw = extra_raw};
	/* Charged at the price of the provider that answered, not the pin
	 * (the hold's first provider's): docs/gateway.md, "Which price a call
	 * is charged". */
	if (!job->byok) {
		s.price = &job->prices[try_of];
		s.margin_bps = job->margin;
	}
	/* The provider's work is done and billed: a database that is away
	 * for a moment is waited for (the same hash makes a settle that
	 * did commit answer as itself). */
	for (int attempt = 0; attempt < LIMIT_GATEWAY_SETTLE_TRIES; attempt++) {
		if (attempt > 0) {
			struct timespec pause = {attempt, 0};
			nanosleep(&pause, NULL);
		}
		struct store *db = gwcall_ledger_borrow();
		json_decref(res.body);
		res.body = NULL;
		rc = db != NULL ? ledger_settle(db, &call, &s, &res) : CD_E_UNAVAILABLE;
		if (db != NULL)
			gwcall_ledger_giveback(db);
		if (rc != CD_E_UNAVAILABLE)
			break;
	}
	metrics_gateway_settle(reason);
	if (rc == CD_OK && res.done.kind == LEDGER_DONE_SETTLE) {
		*charged = res.done.u.settle.charged_micros;
		*balance = res.done.u.settle.balance_micros;
		gwcall_ledger_keep_response(job, provider, u);
	} else if (rc == CD_OK && res.status >= 200 && res.status < 300) {
		/* Settled by an earlier try that committed: the answer its hold
		 * keeps. */
		*charged = jsonio_int(res.body, "charged_micros", -1);
		*balance = jsonio_int(res.body, "balance_micros", -1);
		gwcall_ledger_keep_response(job, provider, u);
	} else if (rc == CD_OK) {
		char *text = res.body != NULL ? jsonio_dump(res.body) : NULL;
		log_error("gateway: the settle of %s was refused (%d): %s", job->hold_id, res.status,
			  text != NULL ? text : "-");
		free(text);
		rc = CD_E_CONFLICT;
	}
	json_decref(res.body);
	return rc;
}

void gwcall_ledger_unresolve(const struct gw_job *job, int try_of)
{
	int64_t micros = 0;
	enum cd_err rc = CD_E_UNAVAILABLE;
	if (job->hold_id[0] == '\0')
		return;
	/* What the provider surely received: its input bound at that
	 * provider's price as held (audio input at the audio price; the
	 * ledger keeps it at most the hold), an audio
	 * call's characters or seconds held with it (docs/gateway.md, "Audio
	 * and speech": its input is the text or the file). */
	struct pricing_tokens bound = {job->hold_input, 0, 0, 0};
	struct price held;
	int64_t units = 0;
	if (gwmoney_audio_hold(&job->ask, &job->prices[try_of], &held, &units) != 0 ||
	    pricing_cost_with_extra(&held, job->margin, &bound, units, &micros) != PRICING_OK)
		micros = 0;
	for (int attempt = 0; attempt < LIMIT_GATEWAY_SETTLE_TRIES && rc == CD_E_UNAVAILABLE; attempt++) {
		if (attempt > 0) {
			struct timespec pause = {attempt, 0};
			nanosleep(&pause, NULL);
		}
		struct store *db = gwcall_ledger_borrow();
		rc = db != NULL ? ledger_unresolved_mark(db, job->account, job->hold_id, micros, gw->unresolved_days)
				: CD_E_UNAVAILABLE;
		if (db != NULL)
			gwcall_ledger_giveback(db);
	}
	if (rc != CD_OK)
		log_error("gateway: the hold %s could not be kept unresolved (%s): it expires at its ttl, captured in full",
			  job->hold_id, errors_strerror(rc));
}

/* Releases the job's hold (nothing was delivered, or the provider's
 * usage cannot be trusted). 0 released (or nothing held), -1 not. */
int gwcall_release(struct store *db, const char *hold_id)
{
	if (hold_id[0] == '\0')
		return 0;
	unsigned char hash[KEYS_HASH_LEN];
	struct ledger_result res = {0};
	keys_sha256(hold_id, strlen(hold_id), hash);
	struct ledger_call call = {.idem_key = NULL, .request_hash = hash};
	struct guard_release r = {hold_id, 1};
	enum cd_err rc = db != NULL ? ledger_release(db, &call, &r, &res) : CD_E_UNAVAILABLE;
	if (rc != CD_OK || res.refusal.why != REFUSE_NONE)
		log_error("gateway: the release of %s failed (%s): the hold expires at its ttl", hold_id,
			  rc != CD_OK ? errors_strerror(rc) : "refused");
	json_decref(res.body);
	return rc == CD_OK && res.refusal.why == REFUSE_NONE ? 0 : -1;
}


/* A tool's runs naming another model than the tool asked (gwmoney_tool):
 * that model's row, from the prices loaded (no I/O). 1 with *named, 0
 * when they name the one asked, several, or one not priced per token
 * (none, or a media row). */
int gwcall_tool_named(const struct gw_job *job, const struct gw_usage *u, struct price *named)
{
	int64_t margin;
	return u->tool.runs > 0 && !u->tool.models && strcmp(u->tool.model, job->ask.tool_model) != 0 &&
	       ledger_price_model(u->tool.model, named, &margin) && pricing_prices_tokens(named);
}
