/* api_console_session.c: the operator's console's sign-in and session
 * (docs/api.md, "Console sessions"; docs/operations.md, "Console").
 *
 * POST {base}/console/session exchanges an admin or read key for a
 * session: a random id (RAND_bytes) in an HttpOnly, SameSite=Strict
 * cookie whose Path is {base}/console/, stored only as its SHA-256
 * (ledger_console.h), with a CSRF token the page reads from GET
 * {base}/console/session. A failed sign-in counts against the client's
 * address as a failed key does (authlimit.h) and is refused 429 once the
 * address is throttled. The cookie is Secure unless the request came
 * over plain http (no HTTPS param from the web server) from a loopback
 * address: the dev stack. Behind a proxy that ends TLS, the web server
 * must pass HTTPS=on (docs/operations.md, "Console").
 *
 * {base}/console/api/v1/PATH is /v1/PATH (router.c) authenticated here
 * by the session, never by Authorization; /v1 never reads a cookie. A
 * write (any method but GET and HEAD), and sign-out, need the session's
 * X-CSRF-Token (compared in constant time) and a request that says it
 * comes from the console's own origin: an Origin that is not the
 * request's own, or a Sec-Fetch-Site other than same-origin or none, is
 * refused 403 and nothing runs. */
#include "api.h"
#include "authlimit.h"
#include "config.h"
#include "keys.h"
#include "ledger_console.h"
#include "log.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COOKIE_NAME "creditd_console"
#define ID_HEX (2 * LIMIT_CONSOLE_RANDOM_BYTES)
_Static_assert(LIMIT_CONSOLE_SIGNIN_KEY_BYTES >= KEYS_LEN, "every key fits");

/* ---- The request's own origin ---- */

/* 1 when addr is a loopback address (127.0.0.0/8, ::1, or IPv4 mapped
 * into IPv6): the text REMOTE_ADDR gives. */
static int loopback(const char *addr)
{
	if (addr == NULL)
		return 0;
	if (strncmp(addr, "::ffff:", 7) == 0)
		addr += 7;
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

/* 1 when an Origin's authority (host[:port], n bytes at o) names the
 * request's own host and port: its host is Host's (either case); its
 * port, when it names one, is Host's, or, when Host names none (nginx's
 * fastcgi_params pass $host, without the port), the port the web server
 * took the request on (SERVER_PORT). An Origin without a port names the
 * scheme's own, as a Host without one does. */
static int own_authority(const struct request *rq, const char *o, size_t n)
{
	const char *host = rq->host;
	if (host == NULL)
		return 0;
	size_t hlen = strcspn(host, ":"), olen = 0;
	while (olen < n && o[olen] != ':')
		olen++;
	if (hlen != olen || strncasecmp(o, host, hlen) != 0 || (host[0] == '[' && strcmp(o, host) != 0))
		return 0;
	const char *oport = olen < n ? o + olen + 1 : NULL, *hport = host[hlen] == ':' ? host + hlen + 1 : NULL;
	if (oport == NULL)
		return hport == NULL;
	if (hport == NULL)
		hport = rq->server_port;
	return hport != NULL && strlen(hport) == (size_t)(n - olen - 1) && strncmp(oport, hport, strlen(hport)) == 0;
}

/* 1 when the browser says the request comes from the console's own
 * origin, or says nothing (a client that is no browser): Sec-Fetch-Site
 * same-origin or none, and an Origin of the request's own host and port
 * (own_authority), its scheme https when the web server said HTTPS,
 * either when it did not (behind a proxy that ends TLS without saying
 * so). The CSRF token is the first line; this one refuses a page of
 * another site whatever it got hold of. */
static int same_origin(const struct request *rq)
{
	const char *o = rq->origin;
	if (rq->sec_fetch_site != NULL && strcmp(rq->sec_fetch_site, "same-origin") != 0 &&
	    strcmp(rq->sec_fetch_site, "none") != 0)
		return 0;
	if (o == NULL)
		return 1;
	if (strncmp(o, "https://", 8) == 0)
		o += 8;
	else if (!rq->https && strncmp(o, "http://", 7) == 0)
		o += 7;
	else
		return 0;
	size_t n = strlen(o);
	return n > 0 && strchr(o, '/') == NULL && own_authority(rq, o, n);
}

/* 1 when a and b (NUL-ended) are the same token, in time that depends on
 * neither: their hashes compared byte by byte, every byte. */
static int same_token(const char *a, const char *b)
{
	unsigned char ha[KEYS_HASH_LEN], hb[KEYS_HASH_LEN];
	unsigned char diff = 0;
	keys_sha256(a, strlen(a), ha);
	keys_sha256(b, strlen(b), hb);
	for (size_t i = 0; i < KEYS_HASH_LEN; i++)
		diff |= (unsigned char)(ha[i] ^ hb[i]);
	return diff == 0 && b[0] != '\0';
}

/* ---- The cookie ---- */

/* The SHA-256 of the console cookie's id into hash: 1; 0 when the
 * request carries no such cookie of the right shape. */
static int cookie_id_hash(const struct request *rq, unsigned char hash[KEYS_HASH_LEN])
{
	static const char name[] = COOKIE_NAME "=";
	const char *c = rq->cookie;
	while (c != NULL && *c != '\0') {
		while (*c == ' ' || *c == ';')
			c++;
		size_t len = strcspn(c, ";");
		if (len == sizeof(name) - 1 + ID_HEX && strncmp(c, name, sizeof(name) - 1) == 0 &&
		    strspn(c + sizeof(name) - 1, "0123456789abcdef") == ID_HEX) {
			keys_sha256(c + sizeof(name) - 1, ID_HEX, hash);
			return 1;
		}
		c += len;
	}
	return 0;
}

/* The Set-Cookie value for id (NULL: cleared, Max-Age=0). 0, or -1 when
 * it does not fit (a base path past every limit). */
static int cookie_set(const struct api_ctx *ctx, const struct request *rq, const char *id, struct response *rs)
{
	const char *base = strcmp(ctx->cfg->base_path, "/") == 0 ? "" : ctx->cfg->base_path;
	int secure = rq->https || !loopback(rq->remote_addr);
	int n = snprintf(rs->set_cookie, sizeof(rs->set_cookie), COOKIE_NAME "=%s; Path=%s/console/; HttpOnly; "
			 "SameSite=Strict%s; Max-Age=%d", id != NULL ? id : "", base, secure ? "; Secure" : "",
			 id != NULL ? LIMIT_CONSOLE_SESSION_SECONDS : 0);
	if (n < 0 || (size_t)n >= sizeof(rs->set_cookie)) {
		rs->set_cookie[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- Sign-in ---- */

/* Any text is a key to check (a wrong one is 401, whatever its length
 * up to this); only a missing or non-string key is 400. */
static const struct jfield signin_fields[] = {
	{"key", J_STR, 1, 0, 0, LIMIT_CONSOLE_SIGNIN_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

/* The key's grant when it is live and may sign in (admin or read): 0;
 * else counted as a failed authentication of the address, -1 with rs
 * answered 401. */
static int signin_key(struct api_ctx *ctx, const struct request *rq, const char *key, unsigned char hash[KEYS_HASH_LEN],
		      struct response *rs)
{
	struct key_grant grant;
	enum cd_err rc = CD_E_UNAUTHORIZED;
	int64_t now = timefmt_now(), limit = ctx->cfg->auth_failures_per_minute;
	if (keys_wellformed(key)) {
		keys_sha256(key, strlen(key), hash);
		authlimit_looked_up();
		rc = ledger_key_auth(ctx->db, hash, &grant);
		if (rc == CD_OK && !(grant.scopes & (KEY_SCOPE_ADMIN | KEY_SCOPE_READ)))
			rc = CD_E_UNAUTHORIZED;
	}
	if (rc == CD_OK)
		return 0;
	if (rc != CD_E_UNAUTHORIZED) {
		api_fail(rs, rc, "key lookup");
		return -1;
	}
	if (authlimit_failed(rq->remote_addr, limit, now))
		log_warn("console sign-in: %lld failures from %s within %d s: its requests are answered 429 "
			 "until the window ends", (long long)limit, rq->remote_addr != NULL ? rq->remote_addr : "(no address)",
			 LIMIT_AUTH_WINDOW_SECONDS);
	api_error(rs, CD_E_UNAUTHORIZED, NULL, "invalid key: the console takes a live key with the admin or read scope");
	return -1;
}

/* 0 when the address may try a key; else -1 with rs answered 429. */
static int signin_throttled(struct api_ctx *ctx, const struct request *rq, struct response *rs)
{
	int64_t wait = authlimit_wait(rq->remote_addr, ctx->cfg->auth_failures_per_minute, timefmt_now());
	if (wait <= 0)
		return 0;
	api_error(rs, CD_E_RATE_LIMITED, NULL, "too many failed authentications from this address: retry after %lld s",
		  (long long)wait);
	json_object_set_new(json_object_get(rs->json, "error"), "retry_after_seconds", json_integer((json_int_t)wait));
	rs->retry_after = (int)wait;
	return -1;
}

void api_console_session_create(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	unsigned char key_hash[KEYS_HASH_LEN], id_hash[KEYS_HASH_LEN];
	char id[ID_HEX + 1], csrf[ID_HEX + 1];
	(void)params;
	rs->console = 1;
	if (!same_origin(rq)) {
		api_error(rs, CD_E_FORBIDDEN, NULL, "a sign-in from another site is refused");
		return;
	}
	json_t *body = api_body(rq, signin_fields, rs);
	if (body == NULL || signin_throttled(ctx, rq, rs) != 0 || signin_key(ctx, rq, jsonio_str(body, "key"), key_hash, rs) != 0)
		goto out;
	if (keys_random_hex(id, LIMIT_CONSOLE_RANDOM_BYTES) != 0 || keys_random_hex(csrf, LIMIT_CONSOLE_RANDOM_BYTES) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "no randomness for a session");
		goto out;
	}
	keys_sha256(id, ID_HEX, id_hash);
	enum cd_err rc = ledger_console_open(ctx->db, id_hash, key_hash, csrf);
	if (rc == CD_E_UNAUTHORIZED)
		api_error(rs, rc, NULL, "invalid key: the console takes a live key with the admin or read scope");
	else if (rc != CD_OK)
		api_fail(rs, rc, "console session");
	else if (cookie_set(ctx, rq, id, rs) != 0)
		api_error(rs, CD_E_INTERNAL, NULL, "the session cookie does not fit (base path too long)");
	else
		rs->status = 204;
out:
	json_decref(body);
}

/* ---- The session ---- */

/* The request's session into *s: 0; else -1 with rs answered 401 (or
 * 500 when the database failed). */
static int session_of(struct api_ctx *ctx, const struct request *rq, unsigned char id_hash[KEYS_HASH_LEN],
		      struct ledger_console_session *s, struct response *rs)
{
	enum cd_err rc = cookie_id_hash(rq, id_hash) ? ledger_console_find(ctx->db, id_hash, s) : CD_E_UNAUTHORIZED;
	if (rc == CD_OK)
		return 0;
	if (rc == CD_E_UNAUTHORIZED)
		api_error(rs, rc, NULL, "no console session, or it has ended: sign in again");
	else
		api_fail(rs, rc, "console session");
	return -1;
}

/* A write's checks: the session's CSRF token and the request's own
 * origin. 0, or -1 with rs answered 403. */
static int write_allowed(const struct request *rq, const struct ledger_console_session *s, struct response *rs)
{
	if (rq->csrf_token == NULL || !same_token(s->csrf, rq->csrf_token)) {
		api_error(rs, CD_E_FORBIDDEN, NULL, "a console write needs the session's X-CSRF-Token");
		return -1;
	}
	if (!same_origin(rq)) {
		api_error(rs, CD_E_FORBIDDEN, NULL, "a console write from another site is refused");
		return -1;
	}
	return 0;
}

void api_console_session_get(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	unsigned char id_hash[KEYS_HASH_LEN];
	struct ledger_console_session s;
	(void)params;
	rs->console = 1;
	if (session_of(ctx, rq, id_hash, &s, rs) != 0)
		return;
	json_t *scopes = json_array();
	json_array_append_new(scopes, json_string(s.grant.scopes & KEY_SCOPE_ADMIN ? "admin" : "read"));
	api_json(rs, 200, json_pack("{s:o, s:s, s:s, s:I, s:I}", "scopes", scopes, "key_prefix", s.key_prefix, "csrf",
				    s.csrf, "expires_at", (json_int_t)(s.created_at + LIMIT_CONSOLE_SESSION_SECONDS),
				    "idle_expires_at", (json_int_t)(s.last_seen_at + LIMIT_CONSOLE_IDLE_SECONDS)));
}

void api_console_session_delete(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	unsigned char id_hash[KEYS_HASH_LEN];
	struct ledger_console_session s;
	(void)params;
	rs->console = 1;
	if (session_of(ctx, rq, id_hash, &s, rs) != 0 || write_allowed(rq, &s, rs) != 0)
		return;
	enum cd_err rc = ledger_console_close(ctx->db, id_hash);
	if (rc != CD_OK)
		api_fail(rs, rc, "console session");
	else if (cookie_set(ctx, rq, NULL, rs) == 0)
		rs->status = 204;
	else
		api_error(rs, CD_E_INTERNAL, NULL, "the session cookie does not fit (base path too long)");
}

int api_console_authorize(struct api_ctx *ctx, const struct request *rq, struct response *rs)
{
	unsigned char id_hash[KEYS_HASH_LEN];
	struct ledger_console_session s;
	rs->console = 1;
	if (session_of(ctx, rq, id_hash, &s, rs) != 0)
		return -1;
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0 && write_allowed(rq, &s, rs) != 0)
		return -1;
	ctx->key = s.grant;
	return 0;
}
