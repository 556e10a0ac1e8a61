/* router.c: the route table, authentication and per-route counters.
 *
 * A route is a method, a path pattern ('*' matches one segment, handed to
 * the handler percent-decoded) and the key scope it needs. Keys are checked
 * for shape before any lookup, then by hash; a worker remembers a key's
 * scopes for KEY_CACHE_SECONDS so the hot guard routes do not pay a
 * database round trip each time (a revoked key stops working within that
 * time). */
#include "router.h"
#include "config.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "timefmt.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_CACHE_SECONDS 1
#define KEY_CACHE_SLOTS 8

struct route {
	const char *method;
	const char *pattern;
	int scope;			/* 0: no key; -1: Stripe signature */
	api_handler *handler;
	const char *name;
};

static const struct route routes[] = {
	{"GET", "/healthz", 0, api_healthz, "healthz"},
	{"GET", "/metrics", 0, api_metrics, "metrics"},
	{"GET", "/v1/models", KEY_SCOPE_READ, api_models, "models"},
	{"POST", "/v1/accounts", KEY_SCOPE_ADMIN, api_account_create, "account_create"},
	{"GET", "/v1/accounts/*", KEY_SCOPE_READ, api_account_get, "account_get"},
	{"PATCH", "/v1/accounts/*", KEY_SCOPE_ADMIN, api_account_patch, "account_patch"},
	{"GET", "/v1/accounts/*/transactions", KEY_SCOPE_READ, api_transactions, "transactions"},
	{"GET", "/v1/accounts/*/usage", KEY_SCOPE_READ, api_usage_report, "usage_report"},
	{"POST", "/v1/accounts/*/grants", KEY_SCOPE_ADMIN, api_grant, "grant"},
	{"POST", "/v1/accounts/*/debits", KEY_SCOPE_ADMIN, api_debit, "debit"},
	{"POST", "/v1/accounts/*/topup", KEY_SCOPE_READ, api_topup, "topup"},
	{"POST", "/v1/accounts/*/members", KEY_SCOPE_ADMIN, api_member_put, "member_put"},
	{"DELETE", "/v1/accounts/*/members/*", KEY_SCOPE_ADMIN, api_member_delete, "member_delete"},
	{"POST", "/v1/guard/authorize", KEY_SCOPE_GUARD, api_authorize, "authorize"},
	{"POST", "/v1/guard/settle", KEY_SCOPE_GUARD, api_settle, "settle"},
	{"POST", "/v1/guard/release", KEY_SCOPE_GUARD, api_release, "release"},
	{"POST", "/v1/usage", KEY_SCOPE_GUARD, api_usage, "usage"},
	{"POST", "/v1/webhooks/stripe", -1, api_webhook, "webhook"},
};
#define ROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- Counters ---- */

#define STATUS_SLOTS 8	/* 200 201 4xx... indexed by status_slot() */
static const int slot_status[STATUS_SLOTS] = {200, 201, 400, 401, 403, 404, 409, 0};
struct route_stats {
	atomic_ullong count[STATUS_SLOTS];
	atomic_ullong refused;		/* 402 and 429 */
	atomic_ullong other;		/* 413, 5xx and the rest */
	atomic_ullong micros_total;	/* handling time */
	atomic_ullong round_trips;
};
static struct route_stats stats[ROUTES + 1];	/* last: unmatched */

static int route_index(const char *name)
{
	for (size_t i = 0; i < ROUTES; i++)
		if (name != NULL && strcmp(routes[i].name, name) == 0)
			return (int)i;
	return (int)ROUTES;
}

void router_count(const char *route, int status, double duration_ms, unsigned long long round_trips)
{
	struct route_stats *s = &stats[route_index(route)];
	int slot = -1;
	for (int i = 0; i < STATUS_SLOTS - 1; i++)
		if (slot_status[i] == status)
			slot = i;
	if (slot >= 0)
		atomic_fetch_add(&s->count[slot], 1);
	else if (status == 402 || status == 429)
		atomic_fetch_add(&s->refused, 1);
	else
		atomic_fetch_add(&s->other, 1);
	atomic_fetch_add(&s->micros_total, (unsigned long long)(duration_ms * 1000.0));
	atomic_fetch_add(&s->round_trips, round_trips);
}

char *router_metrics_text(void)
{
	size_t cap = 64 * 1024, len = 0;
	char *out = malloc(cap);
	if (out == NULL)
		return NULL;
#define EMIT(...) do { int n_ = snprintf(out + len, cap - len, __VA_ARGS__); \
		if (n_ > 0 && (size_t)n_ < cap - len) len += (size_t)n_; } while (0)
	EMIT("# HELP creditd_requests_total Requests answered, by route and status.\n"
	     "# TYPE creditd_requests_total counter\n");
	for (size_t r = 0; r <= ROUTES; r++) {
		const char *name = r < ROUTES ? routes[r].name : "unmatched";
		for (int i = 0; i < STATUS_SLOTS - 1; i++)
			EMIT("creditd_requests_total{route=\"%s\",status=\"%d\"} %llu\n", name, slot_status[i],
			     (unsigned long long)atomic_load(&stats[r].count[i]));
		EMIT("creditd_requests_total{route=\"%s\",status=\"refused\"} %llu\n", name,
		     (unsigned long long)atomic_load(&stats[r].refused));
		EMIT("creditd_requests_total{route=\"%s\",status=\"other\"} %llu\n", name,
		     (unsigned long long)atomic_load(&stats[r].other));
	}
	EMIT("# HELP creditd_request_seconds_total Time spent answering, by route.\n"
	     "# TYPE creditd_request_seconds_total counter\n");
	for (size_t r = 0; r <= ROUTES; r++)
		EMIT("creditd_request_seconds_total{route=\"%s\"} %.6f\n", r < ROUTES ? routes[r].name : "unmatched",
		     (double)atomic_load(&stats[r].micros_total) / 1e6);
	EMIT("# HELP creditd_db_round_trips_total Database round trips (statements, commits, rollbacks), by route.\n"
	     "# TYPE creditd_db_round_trips_total counter\n");
	for (size_t r = 0; r <= ROUTES; r++)
		EMIT("creditd_db_round_trips_total{route=\"%s\"} %llu\n", r < ROUTES ? routes[r].name : "unmatched",
		     (unsigned long long)atomic_load(&stats[r].round_trips));
#undef EMIT
	out[len] = '\0';
	return out;
}

/* ---- Matching ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes [s, s+n) into a new string; NULL when malformed. */
static char *decode_segment(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t j = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n)
				goto bad;
			int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
			if (a < 0 || b < 0 || (a == 0 && b == 0))
				goto bad;
			out[j++] = (char)(a * 16 + b);
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* 1 when path matches pattern; params get the decoded '*' segments. */
static int match(const char *pattern, const char *path, char **params, int *nparams, int *bad)
{
	const char *p = pattern, *s = path;
	*nparams = 0;
	while (*p != '\0' && *s != '\0') {
		if (*p == '*') {
			const char *end = strchr(s, '/');
			size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
			if (n == 0 || *nparams == API_PARAMS_MAX)
				return 0;
			params[*nparams] = decode_segment(s, n);
			if (params[*nparams] == NULL) {
				*bad = 1;
				return 0;
			}
			(*nparams)++;
			s += n;
			p++;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static void free_params(char **params, int n)
{
	for (int i = 0; i < n; i++) {
		free(params[i]);
		params[i] = NULL;
	}
}

/* ---- Content type ---- */

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

/* Writes carry a body, even an empty one; so does any request that sent bytes. */
static int has_body(const struct request *rq)
{
	return rq->body_len > 0 || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
	       strcmp(rq->method, "PATCH") == 0;
}

/* ---- Authentication ---- */

/* The cache keeps the key itself (this thread's memory only, like the
 * request that carried it) so a hit costs a constant-time compare, not a
 * hash; a miss hashes it and asks the database. */
struct key_slot { char key[KEYS_LEN + 1]; int scopes; int64_t until; };
static __thread struct key_slot key_cache[KEY_CACHE_SLOTS];
static __thread unsigned int key_cache_next;

static enum cd_err authenticate(struct api_ctx *ctx, const struct request *rq, int *scopes)
{
	const char *key = keys_bearer(rq->authorization);
	unsigned char hash[KEYS_HASH_LEN];
	if (key == NULL || !keys_wellformed(key))
		return CD_E_UNAUTHORIZED;
	int64_t now = timefmt_now();
	for (int i = 0; i < KEY_CACHE_SLOTS; i++) {
		if (key_cache[i].until > now && keys_equal(key_cache[i].key, key)) {
			*scopes = key_cache[i].scopes;
			return CD_OK;
		}
	}
	keys_sha256(key, strlen(key), hash);
	enum cd_err rc = ledger_key_auth(ctx->lg, hash, scopes);
	if (rc != CD_OK)
		return rc;
	struct key_slot *slot = &key_cache[key_cache_next++ % KEY_CACHE_SLOTS];
	memcpy(slot->key, key, KEYS_LEN + 1);
	slot->scopes = *scopes;
	slot->until = now + KEY_CACHE_SECONDS;
	return CD_OK;
}

static int authorize_route(struct api_ctx *ctx, const struct request *rq, const struct route *r,
			   struct response *rs)
{
	if (r->scope <= 0)
		return 0;
	enum cd_err rc = authenticate(ctx, rq, &ctx->scopes);
	if (rc == CD_E_UNAUTHORIZED) {
		api_error(rs, rc, NULL, rq->authorization == NULL ? "missing API key: send Authorization: Bearer <key>"
								  : "invalid API key");
		return -1;
	}
	if (rc != CD_OK) {
		api_fail(rs, rc, "key lookup");
		return -1;
	}
	if (!keys_allows(ctx->scopes, r->scope)) {
		api_error(rs, CD_E_FORBIDDEN, NULL, "this API key lacks the '%s' scope",
			  r->scope == KEY_SCOPE_GUARD ? "guard" : r->scope == KEY_SCOPE_READ ? "read" : "admin");
		return -1;
	}
	return 0;
}

void router_dispatch(struct api_ctx *ctx, const struct request *rq, struct response *rs, const char **route)
{
	char *params[API_PARAMS_MAX] = {NULL, NULL};
	int nparams = 0, path_known = 0, bad = 0;
	*route = NULL;
	for (size_t i = 0; i < ROUTES; i++) {
		const struct route *r = &routes[i];
		if (!match(r->pattern, rq->path, params, &nparams, &bad)) {
			free_params(params, nparams);
			continue;
		}
		if (strcmp(r->method, rq->method) != 0) {
			path_known = 1;
			free_params(params, nparams);
			continue;
		}
		*route = r->name;
		if (rq->body_too_large)
			api_error(rs, CD_E_TOO_LARGE, NULL, "request body is larger than %lld bytes",
				  (long long)ctx->cfg->max_body_bytes);
		else if (r->scope >= 0 && has_body(rq) && !json_content_type(rq->content_type))
			api_error(rs, CD_E_MEDIA_TYPE, NULL, "send the body as Content-Type: application/json");
		else if (authorize_route(ctx, rq, r, rs) == 0)
			r->handler(ctx, rq, params, rs);
		if (rs->idem_store && rs->json != NULL && rs->status >= 400 && rs->status < 500) {
			unsigned char hash[32];
			api_request_hash(rq, hash);
			ledger_idem_store_error(ctx->lg, rs->idem_key, hash, rs->status, rs->json);
		}
		free_params(params, nparams);
		return;
	}
	if (bad)
		api_error(rs, CD_E_INVALID, NULL, "malformed percent-encoding in the path");
	else if (path_known)
		api_error(rs, CD_E_METHOD, NULL, "method %s is not allowed on %s", rq->method, rq->path);
	else
		api_error(rs, CD_E_NOT_FOUND, NULL, "no route for %s %s", rq->method, rq->path);
}
