/* router.c: the route table and authentication.
 *
 * A route is a method, a path pattern ('*' matches one segment, handed to
 * the handler percent-decoded; urlpath.c does the matching) and the key
 * scope it needs. The router counts nothing itself: the worker counts each
 * answer under the route name the router reports. Keys are checked
 * for shape before any lookup, then by hash; keycache.h remembers what the
 * database said (a known key per thread for a second, an unknown one for
 * the process for half a minute), so neither the hot guard routes nor a
 * client repeating a bogus key pay a round trip each time. A key bound to
 * an account may name that account only: a route naming another in its
 * path is answered here, 404 as for an account that does not exist; the
 * guard routes check the account of their body or hold (api_key_reaches).
 * A gateway key (an end user's: docs/api.md) is always bound, and opens
 * the gateway's routes only: every other route answers it 403 here.
 * A client address that failed authentication [security]
 * auth_failures_per_minute times is answered 429 with Retry-After for the
 * rest of its minute (authlimit.h) before any key look-up, except with a
 * key the database knew in the last ten minutes (still looked up: an
 * app's good key keeps working while a stale key on the same host is
 * throttled).
 * A browser token (keys.h) opens the /v1/me routes only, for the account
 * it names (and the member, when it names one); those routes answer CORS
 * for [widget] origins.
 *
 * The operator's console's calls, {base}/console/api/v1/PATH, are the
 * routes of /v1/PATH, authenticated by the console's session cookie
 * (api_console_session.c) as the session's key, never by Authorization;
 * /v1 itself never reads a cookie (docs/api.md, "Console sessions").
 *
 * HTTP's own conventions are kept here, not left to the web server in
 * front: every GET route answers HEAD too (its handler runs; the worker
 * writes the headers and drops the body), and a path whose routes take
 * other methods answers 405 with Allow naming them (RFC 9110 §15.5.6). */
#include "router.h"
#include "authlimit.h"
#include "config.h"
#include "gwbody.h"
#include "gwshape.h"
#include "gwkind.h"
#include "jsonio.h"
#include "keycache.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "timefmt.h"
#include "urlpath.h"
#include "widget_config.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROUTE_STRIPE (-1)	/* the Stripe signature, checked by the handler */
#define ROUTE_BROWSER (-2)	/* a browser token; CORS for the widget's origins */
#define ROUTE_PREFLIGHT (-3)	/* no key; CORS for the widget's origins */
#define ROUTE_CONSOLE (-4)	/* the console's session cookie, checked by the handler */
#define ROUTE_PROVIDER_SIGNED (-5)	/* a provider's webhook signature, checked by the handler */
/* The gateway's routes (docs/gateway.md, "Routes"): a guard key, or an end user's
 * gateway key, which opens these routes only (keys_allows). */
#define ROUTE_GATEWAY (KEY_SCOPE_GUARD | KEY_SCOPE_GATEWAY)
/* GET /v1/holds/{hold_id} (docs/api.md): the guard that made it, a reader,
 * the app, or an end user's gateway key for its own calls. */
#define ROUTE_HOLD (KEY_SCOPE_GUARD | KEY_SCOPE_READ | KEY_SCOPE_APP | KEY_SCOPE_GATEWAY)
/* The operator's reads (docs/api.md, "The operator's reads"): a read or an
 * admin key, not an app key (an app reads its own users' accounts, not
 * the operator's keys and sums), and not a key bound to an account. */
#define ROUTE_OPERATOR (KEY_SCOPE_READ | KEY_SCOPE_ADMIN)

/* How a route answers a bound key naming another account in its path:
 * as the route answers an account that does not exist. */
enum foreign {
	FOREIGN_LOOKUP,			/* "account not found" (a read, a top-up) */
	FOREIGN_REFUSAL,		/* the ledger's "account 'x' not found" (a write) */
};

struct route {
	const char *method;
	const char *pattern;
	int scope;			/* a key scope; 0: no key; ROUTE_STRIPE, ROUTE_BROWSER */
	api_handler *handler;
	const char *name;
	enum foreign foreign;		/* /v1/accounts/{id}/... routes only */
};

static const struct route routes[] = {
	{"GET", "/healthz", 0, api_healthz, "healthz", FOREIGN_LOOKUP},
	{"GET", "/metrics", 0, api_metrics, "metrics", FOREIGN_LOOKUP},
	{"GET", "/v1/models", KEY_SCOPE_READ, api_models, "models", FOREIGN_LOOKUP},
	{"PUT", "/v1/models/*", KEY_SCOPE_ADMIN, api_price_put, "price_put", FOREIGN_LOOKUP},
	{"POST", "/v1/models/import", KEY_SCOPE_ADMIN, api_price_import, "price_import", FOREIGN_LOOKUP},
	{"GET", "/v1/models/*/history", ROUTE_OPERATOR, api_price_history, "price_history", FOREIGN_LOOKUP},
	{"POST", "/v1/accounts", KEY_SCOPE_ADMIN, api_account_create, "account_create", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts", ROUTE_OPERATOR, api_account_search, "account_search", FOREIGN_LOOKUP},
	{"GET", "/v1/health", ROUTE_OPERATOR, api_health, "health", FOREIGN_LOOKUP},
	{"GET", "/v1/overview", ROUTE_OPERATOR, api_overview, "overview", FOREIGN_LOOKUP},
	{"GET", "/v1/keys", ROUTE_OPERATOR, api_keys_list, "keys", FOREIGN_LOOKUP},
	{"POST", "/v1/keys", KEY_SCOPE_ADMIN, api_key_create, "key_create", FOREIGN_LOOKUP},
	{"DELETE", "/v1/keys/*", KEY_SCOPE_ADMIN, api_key_revoke, "key_revoke", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts/*", KEY_SCOPE_READ, api_account_get, "account_get", FOREIGN_LOOKUP},
	{"PATCH", "/v1/accounts/*", KEY_SCOPE_ADMIN, api_account_patch, "account_patch", FOREIGN_REFUSAL},
	{"GET", "/v1/accounts/*/transactions", KEY_SCOPE_READ, api_transactions, "transactions", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts/*/usage", KEY_SCOPE_READ, api_usage_report, "usage_report", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts/*/holds", KEY_SCOPE_READ, api_account_holds, "account_holds", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts/*/topups", KEY_SCOPE_READ, api_account_topups, "account_topups", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts/*/referrals", KEY_SCOPE_READ, api_account_referrals, "account_referrals", FOREIGN_LOOKUP},
	{"POST", "/v1/accounts/*/grants", KEY_SCOPE_ADMIN, api_grant, "grant", FOREIGN_REFUSAL},
	{"POST", "/v1/accounts/*/debits", KEY_SCOPE_ADMIN, api_debit, "debit", FOREIGN_REFUSAL},
	{"POST", "/v1/accounts/*/topup", KEY_SCOPE_APP, api_topup, "topup", FOREIGN_LOOKUP},
	{"POST", "/v1/accounts/*/members", KEY_SCOPE_ADMIN, api_member_put, "member_put", FOREIGN_REFUSAL},
	{"DELETE", "/v1/accounts/*/members/*", KEY_SCOPE_ADMIN, api_member_delete, "member_delete", FOREIGN_REFUSAL},
	{"PUT", "/v1/accounts/*/alerts", KEY_SCOPE_APP, api_alerts_put, "alerts_put", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts/*/alerts", KEY_SCOPE_READ, api_alerts_get, "alerts", FOREIGN_LOOKUP},
	{"POST", "/v1/accounts/*/gateway_keys", KEY_SCOPE_APP, api_gwkey_create, "gateway_key_create", FOREIGN_LOOKUP},
	{"GET", "/v1/accounts/*/gateway_keys", KEY_SCOPE_APP, api_gwkey_list, "gateway_keys", FOREIGN_LOOKUP},
	{"DELETE", "/v1/accounts/*/gateway_keys/*", KEY_SCOPE_APP, api_gwkey_revoke, "gateway_key_revoke", FOREIGN_LOOKUP},
	{"POST", "/v1/accounts/*/redeem", KEY_SCOPE_APP, api_redeem, "redeem", FOREIGN_REFUSAL},
	{"GET", "/v1/accounts/*/referral_code", KEY_SCOPE_APP, api_referral_code, "referral_code", FOREIGN_LOOKUP},
	{"POST", "/v1/accounts/*/browser_tokens", KEY_SCOPE_APP, api_browser_token, "browser_token", FOREIGN_LOOKUP},
	{"GET", "/v1/me", ROUTE_BROWSER, api_me, "me", FOREIGN_LOOKUP},
	{"GET", "/v1/me/transactions", ROUTE_BROWSER, api_me_transactions, "me_transactions", FOREIGN_LOOKUP},
	{"GET", "/v1/me/usage", ROUTE_BROWSER, api_me_usage, "me_usage", FOREIGN_LOOKUP},
	{"POST", "/v1/me/topup", ROUTE_BROWSER, api_me_topup, "me_topup", FOREIGN_LOOKUP},
	{"OPTIONS", "/v1/me", ROUTE_PREFLIGHT, api_me_preflight, "me_preflight", FOREIGN_LOOKUP},
	{"OPTIONS", "/v1/me/transactions", ROUTE_PREFLIGHT, api_me_preflight, "me_transactions_preflight", FOREIGN_LOOKUP},
	{"OPTIONS", "/v1/me/usage", ROUTE_PREFLIGHT, api_me_preflight, "me_usage_preflight", FOREIGN_LOOKUP},
	{"OPTIONS", "/v1/me/topup", ROUTE_PREFLIGHT, api_me_preflight, "me_topup_preflight", FOREIGN_LOOKUP},
	{"GET", "/widget/creditd-widget.js", 0, api_widget_js, "widget_js", FOREIGN_LOOKUP},
	{"POST", "/v1/promo_codes", KEY_SCOPE_ADMIN, api_promo_create, "promo_create", FOREIGN_LOOKUP},
	{"GET", "/v1/plans", KEY_SCOPE_READ, api_plans, "plans", FOREIGN_LOOKUP},
	{"PUT", "/v1/plans/*", KEY_SCOPE_ADMIN, api_plan_put, "plan_put", FOREIGN_LOOKUP},
	{"GET", "/v1/events", KEY_SCOPE_ADMIN, api_events, "events", FOREIGN_LOOKUP},
	{"GET", "/v1/reconcile", ROUTE_OPERATOR, api_reconcile, "reconcile", FOREIGN_LOOKUP},
	{"GET", "/v1/mails", ROUTE_OPERATOR, api_mails, "mails", FOREIGN_LOOKUP},
	{"POST", "/v1/mails/*/retry", KEY_SCOPE_ADMIN, api_mail_retry, "mail_retry", FOREIGN_LOOKUP},
	{"POST", "/v1/guard/authorize", KEY_SCOPE_GUARD, api_authorize, "authorize", FOREIGN_LOOKUP},
	{"POST", "/v1/guard/settle", KEY_SCOPE_GUARD, api_settle, "settle", FOREIGN_LOOKUP},
	{"POST", "/v1/guard/release", KEY_SCOPE_GUARD, api_release, "release", FOREIGN_LOOKUP},
	{"POST", "/v1/usage", KEY_SCOPE_GUARD, api_usage, "usage", FOREIGN_LOOKUP},
	{"GET", "/v1/holds/*", ROUTE_HOLD, api_hold_get, "hold_get", FOREIGN_LOOKUP},
	{"POST", "/v1/webhooks/stripe", ROUTE_STRIPE, api_webhook, "webhook", FOREIGN_LOOKUP},
	/* OpenAI's webhooks (docs/gateway.md, "Background responses"). */
	{"POST", "/v1/webhooks/openai", ROUTE_PROVIDER_SIGNED, api_gw_hook, "webhook_openai", FOREIGN_LOOKUP},
	/* The operator's console (docs/api.md, "Console sessions"): its page,
	 * its sign-in (a key in the body) and its session. Its calls,
	 * /console/api/v1/..., are the /v1 routes below (console_path). */
	{"GET", "/console/", 0, api_console_page, "console_page", FOREIGN_LOOKUP},
	{"GET", "/console/console.js", 0, api_console_page, "console_js", FOREIGN_LOOKUP},
	{"GET", "/console/console_account.js", 0, api_console_page, "console_account_js", FOREIGN_LOOKUP},
	{"GET", "/console/console.css", 0, api_console_page, "console_css", FOREIGN_LOOKUP},
	{"POST", "/console/session", 0, api_console_session_create, "console_signin", FOREIGN_LOOKUP},
	{"GET", "/console/session", ROUTE_CONSOLE, api_console_session_get, "console_session", FOREIGN_LOOKUP},
	{"DELETE", "/console/session", ROUTE_CONSOLE, api_console_session_delete, "console_signout", FOREIGN_LOOKUP},
	/* The gateway (docs/gateway.md): answers in the provider's shape. */
	{"POST", "/openai/v1/chat/completions", ROUTE_GATEWAY, api_gw_call, "gw_openai_chat", FOREIGN_LOOKUP},
	{"POST", "/openai/v1/responses", ROUTE_GATEWAY, api_gw_call, "gw_openai_responses", FOREIGN_LOOKUP},
	{"POST", "/openai/v1/embeddings", ROUTE_GATEWAY, api_gw_call, "gw_openai_embeddings", FOREIGN_LOOKUP},
	{"POST", "/openai/v1/images/generations", ROUTE_GATEWAY, api_gw_call, "gw_openai_images_generations",
	 FOREIGN_LOOKUP},
	{"POST", "/openai/v1/images/edits", ROUTE_GATEWAY, api_gw_call, "gw_openai_images_edits", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/models", ROUTE_GATEWAY, api_gw_models, "gw_openai_models", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/models/*", ROUTE_GATEWAY, api_gw_model, "gw_openai_model", FOREIGN_LOOKUP},
	/* A response the key's account made through creditd: free, at its provider. */
	{"GET", "/openai/v1/responses/*", ROUTE_GATEWAY, api_gw_object, "gw_openai_response_get", FOREIGN_LOOKUP},
	{"DELETE", "/openai/v1/responses/*", ROUTE_GATEWAY, api_gw_object, "gw_openai_response_delete", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/responses/*/input_items", ROUTE_GATEWAY, api_gw_object, "gw_openai_response_input_items",
	 FOREIGN_LOOKUP},
	{"POST", "/openai/v1/responses/*/cancel", ROUTE_GATEWAY, api_gw_object, "gw_openai_response_cancel",
	 FOREIGN_LOOKUP},
	/* The audio routes (gwkind_openai_audio.c). */
	{"POST", "/openai/v1/audio/speech", ROUTE_GATEWAY, api_gw_call, "gw_openai_speech", FOREIGN_LOOKUP},
	{"POST", "/openai/v1/audio/transcriptions", ROUTE_GATEWAY, api_gw_call, "gw_openai_transcriptions",
	 FOREIGN_LOOKUP},
	{"POST", "/openai/v1/moderations", ROUTE_GATEWAY, api_gw_call, "gw_openai_moderations", FOREIGN_LOOKUP},
	{"POST", "/anthropic/v1/messages", ROUTE_GATEWAY, api_gw_call, "gw_anthropic_messages", FOREIGN_LOOKUP},
	{"POST", "/anthropic/v1/messages/count_tokens", ROUTE_GATEWAY, api_gw_call, "gw_anthropic_count_tokens",
	 FOREIGN_LOOKUP},
	/* The Batch API (api_gwbatch.c): held when made, settled by its job. */
	{"POST", "/openai/v1/files", ROUTE_GATEWAY, api_gw_file_create, "gw_openai_files_create", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/files", ROUTE_GATEWAY, api_gw_file_list, "gw_openai_files_list", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/files/*", ROUTE_GATEWAY, api_gw_file, "gw_openai_file_get", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/files/*/content", ROUTE_GATEWAY, api_gw_file, "gw_openai_file_content", FOREIGN_LOOKUP},
	{"DELETE", "/openai/v1/files/*", ROUTE_GATEWAY, api_gw_file, "gw_openai_file_delete", FOREIGN_LOOKUP},
	{"POST", "/openai/v1/batches", ROUTE_GATEWAY, api_gw_batch_create, "gw_openai_batches_create", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/batches", ROUTE_GATEWAY, api_gw_batch_list, "gw_openai_batches_list", FOREIGN_LOOKUP},
	{"GET", "/openai/v1/batches/*", ROUTE_GATEWAY, api_gw_batch_get, "gw_openai_batch_get", FOREIGN_LOOKUP},
	{"POST", "/openai/v1/batches/*/cancel", ROUTE_GATEWAY, api_gw_batch_cancel, "gw_openai_batch_cancel",
	 FOREIGN_LOOKUP},
	{"POST", "/anthropic/v1/messages/batches", ROUTE_GATEWAY, api_gw_message_batch_create,
	 "gw_anthropic_batches_create", FOREIGN_LOOKUP},
	{"GET", "/anthropic/v1/messages/batches", ROUTE_GATEWAY, api_gw_batch_list, "gw_anthropic_batches_list",
	 FOREIGN_LOOKUP},
	{"GET", "/anthropic/v1/messages/batches/*", ROUTE_GATEWAY, api_gw_batch_get, "gw_anthropic_batch_get",
	 FOREIGN_LOOKUP},
	{"POST", "/anthropic/v1/messages/batches/*/cancel", ROUTE_GATEWAY, api_gw_batch_cancel,
	 "gw_anthropic_batch_cancel", FOREIGN_LOOKUP},
	{"GET", "/anthropic/v1/messages/batches/*/results", ROUTE_GATEWAY, api_gw_message_batch_results,
	 "gw_anthropic_batch_results", FOREIGN_LOOKUP},
};
#define ROUTES (sizeof(routes) / sizeof(routes[0]))
_Static_assert(ROUTES <= LIMIT_METRICS_ROUTES, "every route needs its metrics counters");
_Static_assert(API_PARAMS_MAX <= LIMIT_PATH_PARAMS, "a handler's params must fit the matcher's buffers");

size_t router_route_names(const char **names, size_t cap)
{
	for (size_t i = 0; i < ROUTES && i < cap; i++)
		names[i] = routes[i].name;
	return ROUTES;
}

/* Who may call a route, as docs/api.md says it after the route. */
static const char *scope_doc(int scope)
{
	switch (scope) {
	case 0:
	case ROUTE_PREFLIGHT:
		return "no key";
	case KEY_SCOPE_READ:
		return "read";
	case KEY_SCOPE_APP:
		return "app";
	case KEY_SCOPE_ADMIN:
		return "admin";
	case KEY_SCOPE_GUARD:
		return "guard";
	case ROUTE_BROWSER:
		return "browser token";
	case ROUTE_STRIPE:
		return "Stripe signature";
	case ROUTE_PROVIDER_SIGNED:
		return "OpenAI webhook signature";
	case ROUTE_CONSOLE:
		return "console session";
	case ROUTE_GATEWAY:
		return "guard or gateway key";
	case ROUTE_HOLD:
		return "guard, read, app or gateway key";
	case ROUTE_OPERATOR:
		return "read or admin";
	default:
		return "?";
	}
}

size_t router_describe(size_t i, struct router_doc *d)
{
	if (i < ROUTES) {
		d->method = routes[i].method;
		d->pattern = routes[i].pattern;
		d->name = routes[i].name;
		d->scope = scope_doc(routes[i].scope);
	}
	return ROUTES;
}

/* ---- Content type ---- */

/* 1 when r is a gateway route whose body is a form (a transcription's:
 * docs/gateway.md, "Audio and speech") and ct says multipart/form-data;
 * the route reads the form itself. A browser may send a form cross-site
 * without a preflight, but never with a creditd key: the route needs one. */
/* 1 when a request may be read as JSON: no Content-Type (old clients), or
 * application/json with parameters. Anything else is refused before the
 * body is looked at: a browser sends text/plain or a form cross-site
 * without a CORS preflight, so such a body must never act. */
static int json_content_type(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;
	if (ct == NULL)
		return 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, json, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* 1 when the request is a multipart/form-data body on a gateway route
 * that takes one (gwkind_form: images/edits), which reads the form
 * itself (gwshape_form.c); only POST, only there. */
static int form_content_type(const struct request *rq)
{
	static const char form[] = "multipart/form-data";
	const struct gwkind_route *g = gwkind_route(rq->path);
	const char *ct = rq->content_type;
	/* The Batch API's input file (api_gwbatch.c) is a form too. */
	int files = strcmp(rq->path, "/openai/v1/files") == 0;
	if ((!files && (g == NULL || !(gwkind_form(g) || gwkind_media(g) == GW_MEDIA_TRANSCRIPTION))) || ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	/* A form without its boundary is the route's to refuse (400, saying
	 * so), not a body of another type. */
	return strncasecmp(ct, form, sizeof(form) - 1) == 0 &&
	       (ct[sizeof(form) - 1] == ';' || ct[sizeof(form) - 1] == ' ' || ct[sizeof(form) - 1] == '\0');
}

/* Writes carry a body, even an empty one; so does any request that sent bytes. */
static int has_body(const struct request *rq)
{
	return rq->body_len > 0 || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
	       strcmp(rq->method, "PATCH") == 0;
}

/* ---- Authentication ---- */

/* Known keys per thread (no lock on the hot path); refused keys for the
 * whole process, so a repeated bogus key is answered from memory
 * whichever thread takes it. */
static __thread struct keycache known_keys;
/* keycache_epoch() as this thread last saw it: when a key is revoked
 * through the API it moves, and the thread forgets its known keys, so the
 * revoked key is refused at once by this process (creditctl's revoke:
 * within LIMIT_KEY_CACHE_SECONDS). */
static __thread unsigned int keys_epoch_seen;
/* Known keys for the whole process too, for as long (LIMIT_KEY_CACHE_SECONDS),
 * looked at when the thread's own miss: a connection kept by the web server
 * stays on one thread, whose own table answers, but each gateway call comes
 * on a connection of its own and the workers take them in turn, so at one
 * client every thread's table had gone stale by its next call and most calls
 * paid a SELECT and a COMMIT before their hold (docs/architecture.md, the
 * path of one settle, step 2). Emptied, like the threads', when the epoch
 * moves. */
static struct keycache shared_keys;
static unsigned int shared_epoch;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

/* The process's known key into grant: 1, or 0 when it has none (epoch: the
 * caller's keycache_epoch(), read before its own look-up). */
static int key_shared_find(const char *key, int64_t now, unsigned int epoch, struct key_grant *grant)
{
	pthread_mutex_lock(&shared_lock);
	if (shared_epoch != epoch) {
		memset(&shared_keys, 0, sizeof(shared_keys));
		shared_epoch = epoch;
	}
	int hit = keycache_find(&shared_keys, key, now, grant);
	pthread_mutex_unlock(&shared_lock);
	return hit;
}

/* What the database granted key, remembered for the process unless a key
 * was revoked since the caller read epoch (its look-up may predate it). */
static void key_shared_remember(const char *key, const struct key_grant *grant, int64_t now, unsigned int epoch)
{
	pthread_mutex_lock(&shared_lock);
	if (epoch == keycache_epoch()) {
		if (shared_epoch != epoch) {
			memset(&shared_keys, 0, sizeof(shared_keys));
			shared_epoch = epoch;
		}
		keycache_remember(&shared_keys, key, grant, now);
	}
	pthread_mutex_unlock(&shared_lock);
}
static struct keycache_refused refused_keys;
static pthread_mutex_t refused_lock = PTHREAD_MUTEX_INITIALIZER;
static struct keycache_trusted trusted_keys;
static pthread_mutex_t trusted_lock = PTHREAD_MUTEX_INITIALIZER;

/* A key the database knew lately (remember 1: it knows it now). */
static int key_trusted(const char *key, int64_t now, int remember)
{
	int hit = 0;
	pthread_mutex_lock(&trusted_lock);
	if (remember)
		keycache_trust(&trusted_keys, key, now);
	else
		hit = keycache_trusted_find(&trusted_keys, key, now);
	pthread_mutex_unlock(&trusted_lock);
	return hit;
}

static int key_refused(const char *key, int64_t now, int remember)
{
	int hit = 0;
	pthread_mutex_lock(&refused_lock);
	if (remember)
		keycache_refuse(&refused_keys, key, now);
	else
		hit = keycache_refused_find(&refused_keys, key, now);
	pthread_mutex_unlock(&refused_lock);
	return hit;
}

/* An API key's grant into grant: from this thread's known keys, else,
 * unless the client's address has failed authentication too often
 * (authlimit.h: CD_E_RATE_LIMITED, *retry_after_seconds set, nothing
 * looked up), from the refused keys or the database. Every refusal of a
 * key counts against the address. */
static enum cd_err authenticate(struct api_ctx *ctx, const struct request *rq, struct key_grant *grant,
				int64_t *retry_after_seconds)
{
	const char *key = keys_bearer(rq->authorization);
	unsigned char hash[KEYS_HASH_LEN];
	int64_t now = timefmt_now(), limit = ctx->cfg->auth_failures_per_minute;
	unsigned int epoch = keycache_epoch();
	if (epoch != keys_epoch_seen) {
		memset(&known_keys, 0, sizeof(known_keys));
		keys_epoch_seen = epoch;
	}
	if (key != NULL && keys_wellformed(key) &&
	    (keycache_find(&known_keys, key, now, grant) || key_shared_find(key, now, epoch, grant)))
		return CD_OK;
	*retry_after_seconds = authlimit_wait(rq->remote_addr, limit, now);
	if (*retry_after_seconds > 0 && !(key != NULL && keys_wellformed(key) && key_trusted(key, now, 0)))
		return CD_E_RATE_LIMITED;
	enum cd_err rc = CD_E_UNAUTHORIZED;
	if (key != NULL && keys_wellformed(key) && !key_refused(key, now, 0)) {
		keys_sha256(key, strlen(key), hash);
		authlimit_looked_up();
		rc = ledger_key_auth(ctx->db, hash, grant);
		if (rc == CD_E_UNAUTHORIZED)
			key_refused(key, now, 1);
	}
	if (rc == CD_E_UNAUTHORIZED && authlimit_failed(rq->remote_addr, limit, now))
		log_warn("authentication: %lld failures from %s within %d s: its requests are answered 429 "
			 "until the window ends",
			 (long long)limit, rq->remote_addr != NULL ? rq->remote_addr : "(no address)",
			 LIMIT_AUTH_WINDOW_SECONDS);
	if (rc != CD_OK)
		return rc;
	keycache_remember(&known_keys, key, grant, now);
	key_shared_remember(key, grant, now, epoch);
	key_trusted(key, now, 1);
	return CD_OK;
}

/* A browser token: the account it names into ctx->me, and the member it
 * names, if any, into ctx->me_member. Every failure is the same 401 to the
 * browser (the log says which). */
static int browser_route(struct api_ctx *ctx, const struct request *rq, struct response *rs)
{
	_Static_assert(sizeof(ctx->me) == sizeof(ctx->me_member), "one cap for both ids of a token");
	_Static_assert(sizeof(ctx->me) >= KEYS_TOKEN_ID_MAX + 1, "a token's ids fit");
	const char *token = keys_bearer(rq->authorization), *secret = widget_config_of(ctx->cfg)->token_secret;
	enum keys_token_check got = keys_token_check(secret, token, timefmt_now(), ctx->me, ctx->me_member,
						     sizeof(ctx->me));
	if (got == KEYS_TOKEN_OK)
		return 0;
	api_error(rs, CD_E_UNAUTHORIZED, NULL, got == KEYS_TOKEN_EXPIRED ? "the browser token has expired"
					       : "missing or invalid browser token: send Authorization: Bearer <token>");
	return -1;
}

/* The request's key into ctx->key, from Authorization: 0; else -1 with
 * rs answered (401, 429, 500). */
static int key_of(struct api_ctx *ctx, const struct request *rq, struct response *rs)
{
	int64_t retry_after = 0;
	enum cd_err rc = authenticate(ctx, rq, &ctx->key, &retry_after);
	if (rc == CD_E_RATE_LIMITED) {
		api_error(rs, rc, NULL, "too many failed authentications from this address: retry after %lld s",
			  (long long)retry_after);
		json_object_set_new(json_object_get(rs->json, "error"), "retry_after_seconds",
				    json_integer((json_int_t)retry_after));
		rs->retry_after = (int)retry_after;
		return -1;
	}
	if (rc == CD_E_UNAUTHORIZED) {
		api_error(rs, rc, NULL, rq->authorization == NULL ? "missing API key: send Authorization: Bearer <key>"
								  : "invalid API key");
		return -1;
	}
	if (rc != CD_OK) {
		api_fail(rs, rc, "key lookup");
		return -1;
	}
	return 0;
}

/* A console call (ctx->console) reaches the routes a key opens, by its
 * session (api_console_authorize); every other call by its key. */
static int authorize_route(struct api_ctx *ctx, const struct request *rq, const struct route *r,
			   struct response *rs)
{
	if (ctx->console && r->scope <= 0) {
		api_error(rs, CD_E_NOT_FOUND, NULL, "no console route for %s %s", rq->method, rq->path);
		return -1;
	}
	if (r->scope == ROUTE_BROWSER)
		return browser_route(ctx, rq, rs);
	if (r->scope <= 0)
		return 0;
	if ((ctx->console ? api_console_authorize(ctx, rq, rs) : key_of(ctx, rq, rs)) != 0)
		return -1;
	if (!keys_allows(ctx->key.scopes, r->scope)) {
		if (r->scope == ROUTE_GATEWAY)
			api_error(rs, CD_E_FORBIDDEN, NULL, "this API key lacks the 'guard' or 'gateway' scope");
		else if (ctx->key.scopes == KEY_SCOPE_GATEWAY)
			api_error(rs, CD_E_FORBIDDEN, NULL, "a gateway key reaches the gateway's routes only (/openai/, "
				  "/anthropic/), not %s", r->pattern);
		else if (r->scope == ROUTE_OPERATOR)
			api_error(rs, CD_E_FORBIDDEN, NULL, "this API key lacks the 'read' or 'admin' scope");
		else
			api_error(rs, CD_E_FORBIDDEN, NULL, "this API key lacks the '%s' scope", keys_scope_name(r->scope));
		return -1;
	}
	if (r->scope == ROUTE_OPERATOR && ctx->key.account_id != 0) {
		api_error(rs, CD_E_FORBIDDEN, NULL, "a key bound to an account reaches that account's routes only, "
			  "not %s", r->pattern);
		return -1;
	}
	return 0;
}

/* A key bound to one account may name only that one in the path: another
 * (whether it exists or not) is answered 404 as the route answers an
 * account that does not exist, and nothing runs. A malformed id is the
 * handler's 400, as for any key. 0: the handler may run. */
static int path_reachable(const struct api_ctx *ctx, const struct route *r, char **params, struct response *rs)
{
	if (ctx->key.account_id == 0 || strncmp(r->pattern, "/v1/accounts/*", 14) != 0 || params[0] == NULL)
		return 0;
	if (!api_path_account_ok(params[0], rs))
		return -1;
	if (api_key_reaches(ctx, params[0]))
		return 0;
	snprintf(rs->account, sizeof(rs->account), "%s", params[0]);
	if (r->foreign == FOREIGN_REFUSAL)
		api_refuse(rs, REFUSE_ACCOUNT_UNKNOWN, params[0]);
	else
		api_fail(rs, CD_E_NOT_FOUND, "account");
	return -1;
}

/* Who acted, for the journal rows the route writes (docs/api.md,
 * "`actor` names who wrote the row"): the key's prefix, with "console:" before it
 * for a console call; "widget" for a browser token; none (creditd
 * itself, "system") for a route of no key (Stripe's webhook names its
 * own, "stripe"). */
static void actor_set(struct api_ctx *ctx, const struct route *r)
{
	if (r->scope == ROUTE_BROWSER)
		snprintf(ctx->actor, sizeof(ctx->actor), "widget");
	else if (r->scope > 0 && ctx->key.prefix[0] != '\0')
		snprintf(ctx->actor, sizeof(ctx->actor), "%s%s", ctx->console ? "console:" : "", ctx->key.prefix);
	else
		return;
	store_actor(ctx->db, ctx->actor);
}

static void run_route(struct api_ctx *ctx, const struct request *rq, const struct route *r, char **params,
		      struct response *rs)
{
	/* CORS is answered on the browser's routes, errors included, so the
	 * widget can read why it was refused. */
	if ((r->scope == ROUTE_BROWSER || r->scope == ROUTE_PREFLIGHT) &&
	    widget_config_origin_allowed(widget_config_of(ctx->cfg), rq->origin)) {
		rs->allow_origin = rq->origin;
		rs->preflight = r->scope == ROUTE_PREFLIGHT;
	}
	ctx->me[0] = '\0';
	ctx->me_member[0] = '\0';
	memset(&ctx->key, 0, sizeof(ctx->key));
	store_actor(ctx->db, NULL);
	if (rq->body_too_large)
		api_error(rs, CD_E_TOO_LARGE, NULL, "request body is larger than %lld bytes", (long long)rq->body_max_bytes);
	else if (r->scope != ROUTE_STRIPE && r->scope != ROUTE_PROVIDER_SIGNED && has_body(rq) &&
		 !json_content_type(rq->content_type) && !form_content_type(rq))
		api_error(rs, CD_E_MEDIA_TYPE, NULL, "send the body as Content-Type: application/json");
	else if (authorize_route(ctx, rq, r, rs) == 0 && path_reachable(ctx, r, params, rs) == 0) {
		/* With several database nodes, an account's requests run on the
		 * node that serves it (store_route); the guard's route by the
		 * account their body or hold names, in the ledger. */
		if (strncmp(r->pattern, "/v1/accounts/*", 14) == 0 && params[0] != NULL)
			store_route(ctx->db, params[0]);
		else if (r->scope == ROUTE_BROWSER && ctx->me[0] != '\0')
			store_route(ctx->db, ctx->me);
		actor_set(ctx, r);
		r->handler(ctx, rq, params, rs);
	}
}

/* HEAD is GET without the body: a GET route takes it. */
static int method_matches(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 || (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* Adds a route's method (and HEAD after GET) to the comma-separated list
 * in allow, once each. The list is bounded by LIMIT_ALLOW_BYTES, which
 * fits every method HTTP names. */
static void allow_add(char *allow, size_t cap, const char *method)
{
	size_t n = strlen(allow);
	const char *at = strstr(allow, method);
	size_t len = strlen(method);
	if (at != NULL && (at == allow || at[-1] == ' ') && (at[len] == '\0' || at[len] == ','))
		return;
	snprintf(allow + n, cap - n, "%s%s", n > 0 ? ", " : "", method);
	if (strcmp(method, "GET") == 0)
		allow_add(allow, cap, "HEAD");
}

/* An error answered on a gateway path, in its provider's shape (the SDKs
 * parse only their own). */
static void provider_shape(struct response *rs, const struct gwkind *p)
{
	char *text = rs->status >= 400 && rs->json != NULL ? jsonio_dump(rs->json) : NULL;
	char *shaped = text != NULL ? gwshape_error(p, rs->status, text, strlen(text)) : NULL;
	json_t *v = shaped != NULL ? json_loads(shaped, 0, NULL) : NULL;
	if (v != NULL) {
		json_decref(rs->json);
		rs->json = v;
	}
	free(shaped);
	free(text);
}

static void dispatch(struct api_ctx *ctx, const struct request *rq, struct response *rs, const char **route);

/* {base}/console/api/v1/PATH is the operation /v1/PATH, authenticated by
 * the console's session instead of Authorization (docs/api.md, "Console
 * sessions"): the same route table, the same handlers and answers. The
 * request is the same but for its path. */
static void console_path(struct api_ctx *ctx, const struct request *rq, struct response *rs, const char **route)
{
	static const char prefix[] = "/console/api";
	struct request crq = *rq;
	crq.path = rq->path + sizeof(prefix) - 1;
	ctx->console = 1;
	rs->console = 1;
	dispatch(ctx, &crq, rs, route);
	ctx->console = 0;
}

void router_dispatch(struct api_ctx *ctx, const struct request *rq, struct response *rs, const char **route)
{
	ctx->console = 0;
	if (strncmp(rq->path, "/console/api/v1/", 16) == 0) {
		console_path(ctx, rq, rs, route);
		return;
	}
	/* A path with a body limit of its own (gwbody.h) answers a body over
	 * it 413, whether or not its route is served yet; elsewhere a path
	 * is looked up first (an unknown one is 404 whatever its body). */
	if (rq->body_too_large && gwbody_limit(rq->path, -1) >= 0) {
		*route = NULL;
		api_error(rs, CD_E_TOO_LARGE, NULL, "request body is larger than %lld bytes", (long long)rq->body_max_bytes);
	} else {
		dispatch(ctx, rq, rs, route);
	}
	/* A path under /<kind>/ answers in that kind's shape (docs/gateway.md). */
	const struct gwkind *p = gwkind_of_path(rq->path);
	if (p != NULL && rs->handoff == NULL)
		provider_shape(rs, p);
}

static void dispatch(struct api_ctx *ctx, const struct request *rq, struct response *rs, const char **route)
{
	char decoded[LIMIT_PATH_PARAMS][URLPATH_PARAM_BYTES];
	char *params[API_PARAMS_MAX];
	int nparams = 0, path_known = 0, bad = 0;
	*route = NULL;
	for (size_t i = 0; i < ROUTES; i++) {
		const struct route *r = &routes[i];
		enum urlpath_result m = urlpath_match(r->pattern, rq->path, decoded, API_PARAMS_MAX, &nparams);
		if (m == URLPATH_MALFORMED)
			bad = 1;
		if (m != URLPATH_MATCH)
			continue;
		if (!method_matches(r->method, rq->method)) {
			path_known = 1;
			allow_add(rs->allow, sizeof(rs->allow), r->method);
			continue;
		}
		for (int k = 0; k < API_PARAMS_MAX; k++)
			params[k] = k < nparams ? decoded[k] : NULL;
		*route = r->name;
		run_route(ctx, rq, r, params, rs);
		return;
	}
	if (bad)
		api_error(rs, CD_E_INVALID, NULL, "malformed percent-encoding in the path");
	else if (path_known)
		api_error(rs, CD_E_METHOD, NULL, "method %s is not allowed on %s", rq->method, rq->path);
	else
		api_error(rs, CD_E_NOT_FOUND, NULL, "no route for %s %s", rq->method, rq->path);
}
