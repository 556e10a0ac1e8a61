/* api.h: what every route handler sees: the request as parsed at the edge,
 * the response it fills, and the per-thread context (ledger connection,
 * Stripe client, config). Handlers never see FastCGI or SQL: the worker
 * owns the first, the ledger the second. */
#ifndef CREDITD_API_H
#define CREDITD_API_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "errors.h"
#include "jsonio.h"
#include "keys.h"
#include "ledger.h"
#include "limits.h"
#include "refusal.h"

struct gw_job;

struct cfg;
struct gwconfig;
struct store;
struct stripe_client;

struct request {
	const char *method;
	const char *path;		/* below the base path, percent-encoded, starts with '/' */
	const char *query;		/* raw query string, "" when none */
	const char *authorization;
	const char *idempotency_key;
	const char *stripe_signature;
	/* A Standard Webhooks signature's headers (OpenAI's webhooks:
	 * docs/gateway.md, "Background responses"); NULL when absent. */
	const char *webhook_id, *webhook_timestamp, *webhook_signature;
	const char *content_type;
	const char *request_id;
	const char *origin;		/* a browser's Origin header, NULL when none */
	const char *if_none_match;
	const char *remote_addr;	/* the client's address (REMOTE_ADDR) as text, NULL when none */
	/* The console's (docs/api.md, "Console sessions"); NULL when absent. */
	const char *cookie;		/* Cookie */
	const char *csrf_token;		/* X-CSRF-Token */
	const char *sec_fetch_site;	/* Sec-Fetch-Site */
	const char *host;		/* Host (nginx's fastcgi_params: without its port) */
	const char *server_port;	/* SERVER_PORT: the port the web server took the request on */
	int https;			/* the web server said HTTPS (the FastCGI param HTTPS "on") */
	/* The gateway's headers (docs/gateway.md, "Who pays"); NULL when absent. */
	const char *gw_account;		/* Creditd-Account */
	const char *gw_member;		/* Creditd-Member */
	const char *gw_provider_key;	/* Creditd-Provider-Key (BYOK) */
	const char *gw_stream_cost;	/* Creditd-Stream-Cost ("1": the cost line at a stream's end) */
	/* The client's headers a provider kind forwards (every kind's, in
	 * gwkind_forwarded_at's order), NULL when absent. */
	const char *gw_forwarded[LIMIT_GATEWAY_FORWARDED];
	/* The body (docs/gateway.md, "Request bodies"): body_len bytes, then
	 * a NUL (not part of it), read-only. In memory, or, on a gateway
	 * route whose own limit passes [gateway] max_body_bytes (gwbody.h),
	 * a file on disk mapped read-only: a route reads it alike either way
	 * (as const unsigned char * for bytes that are not text), and never
	 * assumes no NUL before body_len. */
	const char *body;
	size_t body_len;
	int body_too_large;
	int64_t body_max_bytes;		/* the limit body_too_large is over */
};

struct response {
	int status;
	json_t *json;			/* owned; serialised by the worker */
	char *text;			/* owned; text/plain body (metrics) */
	int retry_after;		/* seconds; 0: no header */
	/* A refusal no retry within seconds can pass (a day's or a month's
	 * limit, a member's month cap): x-should-retry: false, which the
	 * official SDKs obey instead of retrying a 429 (docs/gateway.md,
	 * "Errors"). */
	int no_retry;
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];	/* for the log line */
	/* A static body (the widget's script): not freed; with its type,
	 * caching and validator. */
	const char *raw;
	size_t raw_len;
	const char *content_type;	/* NULL: the JSON or text default */
	const char *cache_control;	/* NULL: no-store */
	const char *etag;
	/* CORS (the /v1/me routes): the allowed Origin to echo, NULL: none;
	 * preflight: also the methods and headers a browser may use. */
	const char *allow_origin;
	int preflight;
	/* The console's answers (api_console*.c): its security headers
	 * (API_CONSOLE_HEADERS), and a Set-Cookie when not "". */
	int console;
	char set_cookie[LIMIT_CONSOLE_COOKIE_BYTES];
	/* A 405's Allow header (the path's methods), "" otherwise; filled
	 * by the router. */
	char allow[LIMIT_ALLOW_BYTES];
	/* A gateway call admitted and held (api_gateway.c): the worker hands
	 * it and the request to a gateway thread instead of answering. */
	struct gw_job *handoff;
};

struct api_ctx {
	const struct cfg *cfg;
	/* The gateway's part of cfg, found once as the worker starts (the
	 * configuration does not change while the daemon runs). */
	const struct gwconfig *gw;
	struct store *db;
	struct stripe_client *stripe;
	struct key_grant key;		/* of the authenticated key: scopes, binding */
	char me[LIMIT_ACCOUNT_ID_BYTES + 1];	/* the account of a browser token (/v1/me) */
	char me_member[LIMIT_ACCOUNT_ID_BYTES + 1];	/* the member it names; "" for the whole account */
	/* The stored form of a bound key's Idempotency-Key (api_call_of);
	 * lives until the next request. */
	char idem_key[LIMIT_IDEMPOTENCY_KEY_BYTES + 1];
	/* 1 while a {base}/console/api/v1/ call runs: the router
	 * authenticates it by its session (api_console_session.c), never by
	 * Authorization. */
	int console;
	/* Who acted, as the journal rows this request writes name it
	 * (docs/api.md, "`actor` names who wrote the row"; ctx->db->actor points here):
	 * the key's prefix, "console:" and it for a console call, "widget"
	 * for a browser token's. */
	char actor[sizeof("console:") + sizeof(((struct key_grant *)0)->prefix)];
};

/* What every console answer carries (docs/api.md, "Console sessions";
 * written by the worker when rs->console is set): a policy that runs no
 * inline script and lets no page frame the console. */
#define API_CONSOLE_HEADERS                                                                                      \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"     \
	"X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"

/* A handler gets the decoded path segments matched by '*' in its route. */
#define API_PARAMS_MAX 2
typedef void api_handler(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs);

/* Fills rs with the error object (docs/api.md, "Errors"); param may be NULL. */
__attribute__((format(printf, 4, 5)))
void api_error(struct response *rs, enum cd_err e, const char *param, const char *fmt, ...);
/* The generic answer for a ledger result that is not CD_OK; what names
 * its subject ("account"), or NULL: the error's own words. */
void api_fail(struct response *rs, enum cd_err e, const char *what);
/* Sets a JSON answer (steals body). */
void api_json(struct response *rs, int status, json_t *body);
/* 0 when the price cache is loaded (a request before the background
 * thread's first load loads it here, or waits for it); else -1 with rs set
 * to 503 unavailable, Retry-After 1. */
int api_prices_ready(struct api_ctx *ctx, struct response *rs);
/* Parses and validates the body against fields; NULL with rs filled. */
json_t *api_body(const struct request *rq, const struct jfield *fields, struct response *rs);
/* SHA-256 of method, path and body: what idempotency compares. */
void api_request_hash(const struct request *rq, unsigned char out[32]);
/* The Idempotency-Key header or the idempotency_key field; NULL when
 * neither. Sets rs and returns -1 when it is malformed. */
int api_idem_key(const struct request *rq, json_t *body, const char **key, struct response *rs);
/* What a ledger write takes from the request: its Idempotency-Key and the
 * hash that key protects (hash must outlive call). A key bound to an
 * account stores its Idempotency-Keys in a namespace of its own (see
 * api_answers.c), so two tenants choosing the same one never meet; the
 * stored form lives in ctx until the next request. -1 with rs filled
 * when the key is malformed. */
int api_call_of(struct api_ctx *ctx, const struct request *rq, json_t *body, struct ledger_call *call,
		unsigned char hash[32], struct response *rs);
/* 1 when the authenticated key may name this account (external id): it
 * is not bound, or bound to that one. */
int api_key_reaches(const struct api_ctx *ctx, const char *account);
/* The same for the account a hold id carries; a hold id of no shape is
 * left to the ledger (it answers an unknown hold). */
int api_key_reaches_hold(const struct api_ctx *ctx, const char *hold_id);
/* A guard route's call (api_call_of) once its key reaches the account
 * named (api_guard_call) or the hold's (api_guard_call_hold): 0, or -1
 * with rs filled (an unknown account's or hold's refusal, for one the
 * key does not reach). */
int api_guard_call(struct api_ctx *ctx, const struct request *rq, json_t *body, const char *account,
		   struct ledger_call *call, unsigned char hash[32], struct response *rs);
int api_guard_call_hold(struct api_ctx *ctx, const struct request *rq, json_t *body, const char *hold_id,
			struct ledger_call *call, unsigned char hash[32], struct response *rs);
/* Answers the ledger's refusal `why` about subject, worded as the ledger
 * words it (refusal.c). */
void api_refuse(struct response *rs, enum refusal_why why, const char *subject);
/* Answers a ledger write as the ledger worded it: a success, a replayed
 * answer or a refusal; or, when rc is not CD_OK, the failure. Takes res's
 * body. */
void api_answer(struct response *rs, enum cd_err rc, struct ledger_result *res);
/* An account id from the path (api_check_account_id, and valid UTF-8):
 * 1, or 0 with rs answered 400. */
int api_path_account_ok(const char *id, struct response *rs);
/* Checks an account id from the path or a body. 0 or -1 with rs filled. */
int api_check_account_id(const char *id, const char *param, struct response *rs);

/* Reads the query's integer `name` into *v when present: 1; 0 when absent;
 * -1 with rs answered 400 when it is not an integer from min to max. */
int api_query_int(const char *query, const char *name, int64_t min, int64_t max, int64_t *v,
		  struct response *rs);

/* Routes (api_*.c). */
api_handler api_healthz, api_metrics, api_models;
api_handler api_account_create, api_account_get, api_account_patch, api_transactions, api_grant, api_debit,
	api_usage_report;
api_handler api_authorize, api_settle, api_release, api_usage, api_hold_get;
/* The gateway (api_gateway.c; docs/gateway.md). */
api_handler api_gw_call, api_gw_models, api_gw_model;
/* The object routes (api_gwobjects.c; docs/gateway.md, "Provider objects"). */
api_handler api_gw_object, api_gw_hook;
/* The Batch API (api_gwbatch.c; docs/gateway.md, "Batches"). */
api_handler api_gw_file_create, api_gw_batch_create, api_gw_batch_get, api_gw_batch_list, api_gw_batch_cancel;
api_handler api_gw_message_batch_create, api_gw_message_batch_results, api_gw_file, api_gw_file_list;
api_handler api_topup, api_webhook;
api_handler api_member_put, api_member_delete;
/* Threshold alerts (api_alerts.c; docs/api.md, "Threshold alerts"). */
api_handler api_alerts_put, api_alerts_get;
/* Gateway keys for end users (api_gwkeys.c; docs/gateway.md, "Who pays"). */
api_handler api_gwkey_create, api_gwkey_list, api_gwkey_revoke;
api_handler api_promo_create, api_redeem, api_referral_code;
api_handler api_plan_put, api_plans;
api_handler api_events;
/* The operator's console (docs/api.md, "Console sessions"): its page
 * and assets (api_console.c), sign-in, its session and sign-out
 * (api_console_session.c). */
api_handler api_console_page;
api_handler api_console_session_create, api_console_session_get, api_console_session_delete;
/* A {base}/console/api/v1/ call (ctx->console set): the session of its
 * cookie into ctx->key (its key's scopes, narrowed to admin and read),
 * and, for a write, its X-CSRF-Token and its Origin / Sec-Fetch-Site
 * checked. 0, or -1 with rs answered (401, 403, 500) and nothing done. */
int api_console_authorize(struct api_ctx *ctx, const struct request *rq, struct response *rs);
/* The operator's reads and keys (api_operator.c, api_keys.c; docs/api.md,
 * "The operator's reads"). */
api_handler api_account_search, api_health, api_overview, api_keys_list, api_key_create, api_key_revoke;
/* A model's prices (api_prices.c; docs/api.md, "Prices"). */
api_handler api_price_history, api_price_put, api_price_import;
api_handler api_account_holds, api_account_topups, api_account_referrals;
/* Deliveries (api_mails.c; docs/api.md, "Deliveries"). */
api_handler api_mails, api_mail_retry;
/* creditd's side of a reconciliation (api_reconcile.c). */
api_handler api_reconcile;
api_handler api_browser_token, api_me, api_me_transactions, api_me_usage, api_me_topup, api_me_preflight, api_widget_js;
/* A journal page of account (GET .../transactions and /v1/me/transactions);
 * member: NULL for every row, else that member's usage rows only. */
void api_transactions_of(struct api_ctx *ctx, const struct request *rq, const char *account, const char *member,
			 struct response *rs);
/* The usage report of account (GET .../usage and /v1/me/usage); member:
 * NULL for every member's usage, else that member's only (group_by=member
 * is then a 400). */
void api_usage_report_of(struct api_ctx *ctx, const struct request *rq, const char *account, const char *member,
			 struct response *rs);
/* A top-up of account (POST .../topup and /v1/me/topup). */
void api_topup_of(struct api_ctx *ctx, const struct request *rq, const char *account, struct response *rs);
#endif
