/* worker.c: FastCGI worker threads: a request read, answered through the
 * router or handed to the gateway, written and logged; the threads beside
 * them (sweeper, price reloads, watchdog, senders) are background.c's,
 * started and stopped with the workers.
 *
 * libfcgi's own SIGTERM handling is not used: signals are blocked in every
 * thread and main() waits for them with sigwait. To stop, the listening
 * socket is shut down (which wakes threads blocked in accept) after
 * FCGX_ShutdownPending(); requests already accepted run to completion. */
#include "worker.h"
#include "api.h"
#include "background.h"
#include "config.h"
#include "fcgiout.h"
#include "gateway.h"
#include "gwkind.h"
#include "gwbody.h"
#include "gwconfig.h"
#include "gwcall.h"
#include "keys.h"
#include "ledger.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "spool.h"
#include "stripe.h"
#include "stripe_config.h"
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const struct cfg *pool_cfg;
static int pool_fd = -1;
static atomic_int stopping;
static atomic_int in_flight;
static atomic_int alive;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* How a request's body was read. */
struct body_state {
	int too_large;		/* more than its limit was sent (or declared) */
	int timed_out;		/* it did not arrive before its deadline */
	int unread;		/* reading stopped before the end of the body */
	int timeout_set;	/* the connection has a receive timeout to clear */
};

/* What a request's body may be (docs/gateway.md, "Request bodies"): up
 * to common bytes in memory; a gateway route's own limit (gwbody.h) may
 * be larger, and a body past common then goes to a file in spool_dir. */
struct body_plan {
	size_t common, limit;
	int64_t declared;	/* its Content-Length; -1: none (a chunked body) */
	const char *spool_dir;
};

/* A request's body as the worker holds it: in memory, or on disk. */
struct body_in {
	char *mem;		/* in memory, NUL-ended: the worker's buffer, or malloc'ed (owned) */
	int owned;
	struct spool *spool;	/* on disk instead (spool.h); NULL: in memory */
	size_t len;
	enum { BODY_KEPT, BODY_NO_MEMORY, BODY_NO_DISK } kept;
};

static const char *param(FCGX_Request *req, const char *name)
{
	const char *v = FCGX_GetParam(name, req->envp);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The receive timeout of the request's connection: a read waits at most
 * ms (at least 1 ms); 0 clears it (an idle pooled connection waits for
 * its next request as long as the web server keeps it). */
static void recv_timeout(int fd, double ms)
{
	struct timeval tv = {0, 0};
	if (ms > 0) {
		long long whole = ms < 1 ? 1 : (long long)ms;
		tv.tv_sec = (time_t)(whole / 1000);
		tv.tv_usec = (suseconds_t)(whole % 1000) * 1000;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		log_warn("cannot set a receive timeout on a request's connection: %s", strerror(errno));
}

/* Reads the next piece of stdin into dst (at most cap bytes): what libfcgi
 * holds already, else one fill from the socket, whose reads wait no longer
 * than the time left before deadline_ms. Returns the bytes read, 0 at the
 * end of the body, -1 on an error or when the deadline passed (then
 * st->timed_out is set). */
static int read_piece(FCGX_Request *req, char *dst, int cap, double deadline_ms, struct body_state *st)
{
	FCGX_Stream *in = req->in;
	int held = (int)(in->stop - in->rdNext);
	if (held <= 0) {
		double left = deadline_ms - now_ms();
		if (left <= 0) {
			st->timed_out = 1;
			return -1;
		}
		recv_timeout(req->ipcFd, left);
		st->timeout_set = 1;
		held = 1;	/* FCGX_GetStr fills the buffer for the first byte */
	}
	int n = FCGX_GetStr(dst, held < cap ? held : cap, in);
	if (n > 0)
		return n;
	int e = FCGX_GetError(in);
	if (e == EAGAIN || e == EWOULDBLOCK || (e != 0 && now_ms() >= deadline_ms))
		st->timed_out = 1;
	return e != 0 ? -1 : 0;
}

/* Reads the body into buf, at most max bytes, until deadline_ms. One byte
 * past max makes it too large and reading stops there: the rest is never
 * taken in (body_end decides what becomes of it). */
static size_t read_body(FCGX_Request *req, char *buf, size_t max, double deadline_ms, struct body_state *st)
{
	size_t len = 0;
	char probe;
	for (;;) {
		int n = len < max ? read_piece(req, buf + len, (int)(max - len), deadline_ms, st)
				  : read_piece(req, &probe, 1, deadline_ms, st);
		if (n < 0)
			st->unread = 1;		/* an error or the deadline: the rest is unknown */
		if (n <= 0)
			break;
		if (len == max) {
			st->too_large = 1;
			st->unread = 1;
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* Reads the body into s, at most limit bytes: pieces gathered into
 * chunk, written a chunk at a time. One byte past limit makes it too
 * large, as read_body. 0, or -1 when the disk refused a write (logged). */
static int read_to_spool(FCGX_Request *req, struct spool *s, size_t limit, double deadline_ms, struct body_state *st,
		      char *chunk)
{
	size_t fill = 0;
	for (;;) {
		size_t have = spool_len(s) + fill;
		size_t room = have < limit ? limit - have : 1;
		size_t cap = LIMIT_GATEWAY_SPOOL_CHUNK_BYTES - fill;
		int n = read_piece(req, chunk + fill, (int)(room < cap ? room : cap), deadline_ms, st);
		if (n < 0)
			st->unread = 1;
		if (n > 0 && have == limit) {
			st->too_large = 1;
			st->unread = 1;
		}
		if (n > 0 && !st->too_large)
			fill += (size_t)n;
		if ((n <= 0 || st->too_large || fill == LIMIT_GATEWAY_SPOOL_CHUNK_BYTES) && fill > 0) {
			if (spool_write(s, chunk, fill) != 0) {
				log_error("a request body could not be written to disk: %s", strerror(errno));
				st->unread = 1;
				return -1;
			}
			fill = 0;
		}
		if (n <= 0 || st->too_large)
			return 0;
	}
}

/* Keeps the body on disk (docs/gateway.md, "Request bodies"), from its
 * first byte. */
static void body_to_disk(FCGX_Request *req, const struct body_plan *plan, struct body_in *b, struct body_state *st,
			 double deadline_ms)
{
	char err[256] = "out of memory";
	char *chunk = malloc(LIMIT_GATEWAY_SPOOL_CHUNK_BYTES);
	b->spool = chunk != NULL ? spool_open(plan->spool_dir, err, sizeof(err)) : NULL;
	int rc = b->spool != NULL ? 0 : -1;
	if (rc != 0)
		log_error("a request body cannot be kept on disk ([gateway] spool_dir): %s", err);
	else
		rc = read_to_spool(req, b->spool, plan->limit, deadline_ms, st, chunk);
	if (rc != 0) {
		b->kept = chunk == NULL ? BODY_NO_MEMORY : BODY_NO_DISK;
		st->unread = 1;
	}
	b->len = b->spool != NULL ? spool_len(b->spool) : 0;
	free(chunk);
}

/* Reads the body as plan says: a declared length over its limit is too
 * large before a byte is read; on a route that takes more than the
 * common limit, a declared length past it, or none (a chunked body, of
 * any size), goes to disk from its first byte; any other is read into
 * memory (buf, or a buffer of the common limit's size when buf is NULL). */
static void body_read(FCGX_Request *req, const struct body_plan *plan, char *buf, struct body_in *b,
		      struct body_state *st, double deadline_ms)
{
	static char empty[1];
	b->mem = buf != NULL ? buf : empty;
	if (plan->declared >= 0 && (uint64_t)plan->declared > plan->limit) {
		st->too_large = 1;
		st->unread = 1;		/* body_end drains a little of it, or closes the connection */
		if (buf != NULL)
			buf[0] = '\0';
		return;
	}
	if (plan->limit > plan->common && (plan->declared < 0 || (uint64_t)plan->declared > plan->common)) {
		body_to_disk(req, plan, b, st, deadline_ms);
		return;
	}
	if (buf == NULL) {
		b->mem = malloc(plan->common + 1);
		b->owned = b->mem != NULL;
		if (b->mem == NULL) {
			b->mem = empty;
			b->kept = BODY_NO_MEMORY;
			return;
		}
	}
	b->len = read_body(req, b->mem, plan->common, deadline_ms, st);
}

/* The body's bytes for the route, *len of them: b's memory, or its file
 * mapped read-only (NUL-ended too); "" when a body on disk is empty or
 * not whole (too large, late, or the disk failed: the answer says so). */
static const char *body_bytes(struct body_in *b, const struct body_state *st, size_t *len)
{
	*len = b->len;
	if (b->spool == NULL)
		return b->mem;
	const unsigned char *m = NULL;
	if (!st->too_large && !st->timed_out && b->kept == BODY_KEPT && b->len > 0) {
		m = spool_map(b->spool);
		if (m == NULL) {
			log_error("a request body kept on disk cannot be mapped: %s", strerror(errno));
			b->kept = BODY_NO_DISK;
		}
	}
	if (m == NULL)
		*len = 0;
	return m != NULL ? (const char *)m : "";
}

/* The body's declared length (CONTENT_LENGTH); -1: none, or not a length. */
static int64_t declared_length(FCGX_Request *req)
{
	const char *v = param(req, "CONTENT_LENGTH");
	char *end = NULL;
	errno = 0;
	long long n = v != NULL ? strtoll(v, &end, 10) : -1;
	return v == NULL || errno != 0 || end == v || *end != '\0' || n < 0 ? -1 : (int64_t)n;
}

/* Once the answer to a body that was not read to its end is written (it
 * is still in libfcgi's buffer, sent by FCGX_Finish_r): what is
 * already in flight is read and dropped, up to LIMIT_BODY_DRAIN_BYTES and
 * the body's deadline, so that the web server can send its next request
 * on this connection (Apache's mod_proxy_fcgi with enablereuse fails
 * requests on a connection whose stdin was not read to the end). A longer
 * or slower body, or one that failed, has its connection closed instead:
 * libfcgi closes it in FCGX_Finish_r when keepConnection is off. */
static void body_end(FCGX_Request *req, struct body_state *st, double deadline_ms)
{
	char sink[4096];
	size_t dropped = 0;
	int n = 1;
	if (st->unread) {
		/* The answer stays in libfcgi's buffer until the drain is
		 * over: nginx stops sending a body once an answer begins,
		 * and the drain would then wait for the deadline. */
		while (st->too_large && !st->timed_out && dropped <= LIMIT_BODY_DRAIN_BYTES) {
			n = read_piece(req, sink, (int)sizeof(sink), deadline_ms, st);
			if (n <= 0)
				break;
			dropped += (size_t)n;
		}
		/* libfcgi's own close would read on until the peer stops
		 * sending for 2 s, however long that takes: detached, it just
		 * closes. The web server sees the connection end and opens a
		 * new one for its next request. */
		if (n != 0 || st->timed_out) {
			req->keepConnection = 0;
			req->detached = 1;
		}
	}
	if (st->timeout_set)
		recv_timeout(req->ipcFd, 0);
}

/* The path below the base path, or NULL when the URI is outside it. */
static const char *strip_base(const char *uri, const char *base, char *path, size_t cap)
{
	size_t blen = strcmp(base, "/") == 0 ? 0 : strlen(base);
	size_t n = strcspn(uri, "?");
	if (n >= cap || strncmp(uri, base, blen) != 0 || (uri[blen] != '/' && blen < n))
		return NULL;
	if (blen == n) {
		snprintf(path, cap, "/");
		return path;
	}
	memcpy(path, uri + blen, n - blen);
	path[n - blen] = '\0';
	return path;
}

static int valid_request_id(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	if (n == 0 || n > LIMIT_X_REQUEST_ID_BYTES)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

/* RFC 6750 §3: a 401 names the scheme and realm, with
 * error="invalid_token" when a bearer credential was sent; without one
 * the client may not know a credential is needed, and gets no error
 * code. Browser tokens are bearer tokens too. */
static void write_challenge(FCGX_Request *req, const struct request *rq)
{
	const char *sent = keys_bearer(rq->authorization);
	if (sent != NULL && sent[0] != '\0')
		FCGX_PutS("WWW-Authenticate: Bearer realm=\"creditd\", error=\"invalid_token\"\r\n", req->out);
	else
		FCGX_PutS("WWW-Authenticate: Bearer realm=\"creditd\"\r\n", req->out);
}

/* The header block; typed and with its Content-Length when there is a
 * body (204 and 304 have none), whether or not it is then sent. */
static void write_headers(FCGX_Request *req, const struct request *rq, const struct response *rs, int has_body,
			  size_t body_len)
{
	const char *type = rs->content_type != NULL ? rs->content_type
			   : rs->text != NULL ? "text/plain; version=0.0.4" : "application/json";
	FCGX_FPrintF(req->out, "Status: %d %s\r\nCache-Control: %s\r\nX-Request-Id: %s\r\n", rs->status,
		     errors_http_reason(rs->status), rs->cache_control != NULL ? rs->cache_control : "no-store", rq->request_id);
	if (has_body)	/* libfcgi's own printf knows no %zu */
		FCGX_FPrintF(req->out, "Content-Type: %s\r\nContent-Length: %lu\r\n", type, (unsigned long)body_len);
	if (rs->retry_after > 0)
		FCGX_FPrintF(req->out, "Retry-After: %d\r\n", rs->retry_after);
	if (rs->no_retry)
		FCGX_PutS("x-should-retry: false\r\n", req->out);
	if (rs->etag != NULL)
		FCGX_FPrintF(req->out, "ETag: %s\r\n", rs->etag);
	if (rs->status == 405 && rs->allow[0] != '\0')
		FCGX_FPrintF(req->out, "Allow: %s\r\n", rs->allow);
	if (rs->status == 401)
		write_challenge(req, rq);
	if (rs->console)
		FCGX_PutS(API_CONSOLE_HEADERS, req->out);
	if (rs->set_cookie[0] != '\0')
		FCGX_FPrintF(req->out, "Set-Cookie: %s\r\n", rs->set_cookie);
	if (rs->allow_origin != NULL) {
		/* CORS for the widget's origins: never with credentials (a token
		 * travels in Authorization, no cookie is involved). */
		FCGX_FPrintF(req->out, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", rs->allow_origin);
		if (rs->preflight)
			FCGX_PutS("Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
				  "Access-Control-Allow-Headers: Authorization, Content-Type, Idempotency-Key\r\n"
				  "Access-Control-Max-Age: 600\r\n", req->out);
	}
	FCGX_PutS("\r\n", req->out);
}

/* The answer: the handler's text, its JSON (serialised here, with a final
 * newline) or its static bytes (on a 200). A HEAD gets the headers GET
 * would get, Content-Length included, and never a body (RFC 9110 §9.3.2). */
static void write_response(FCGX_Request *req, const struct request *rq, struct response *rs, int head)
{
	char *json = rs->text == NULL && rs->json != NULL ? jsonio_dump(rs->json) : NULL;
	const char *body = rs->text != NULL ? rs->text : json;
	const char *raw = rs->raw != NULL && rs->status == 200 ? rs->raw : NULL;
	size_t raw_len = raw != NULL ? rs->raw_len : 0;
	size_t body_len = body != NULL ? strlen(body) : 0;
	size_t newline = json != NULL ? 1 : 0;
	write_headers(req, rq, rs, raw != NULL || body != NULL, raw_len + body_len + newline);
	if (!head && raw != NULL)
		FCGX_PutStr(raw, (int)raw_len, req->out);
	if (!head && body != NULL)
		FCGX_PutStr(body, (int)body_len, req->out);
	if (!head && newline)
		FCGX_PutS("\n", req->out);
	free(json);
}

/* A request as the worker holds it: libfcgi's, and what its log line and
 * counters need once the gateway ends it (gw_finish). A handed-over
 * request's answer is framed by fcgiout, not libfcgi (fcgiout.h). */
struct wreq {
	FCGX_Request fcgx;
	struct fcgiout out;
	double t0;
	unsigned long long round_trips;	/* the worker's, for this request */
	char method[16];
	char path[LIMIT_PATH_BYTES + 1];
	char request_id[LIMIT_X_REQUEST_ID_BYTES + 1];
};

/* The gateway's edge (gwjob.h): the answer framed and sent without
 * libfcgi's blocking writes, the request ended, counted and logged by the
 * gateway's thread that ends it. */
static int gw_write(void *req, const char *bytes, size_t n)
{
	struct wreq *w = req;
	return fcgiout_write(&w->out, bytes, n);
}

static int gw_send(void *req, int64_t deadline_ms)
{
	struct wreq *w = req;
	return fcgiout_send(&w->out, deadline_ms);
}

static int gw_fd(void *req)
{
	struct wreq *w = req;
	return w->fcgx.ipcFd;
}

static int gw_end(void *req)
{
	struct wreq *w = req;
	return fcgiout_end(&w->out);
}

static void gw_finish(void *req, const char *route, int status, const char *account)
{
	struct wreq *w = req;
	fcgiout_free(&w->out);
	/* Closed, not read on for 2 s (libfcgi's close of a kept
	 * connection): the gateway's location keeps none. */
	w->fcgx.detached = 1;
	FCGX_Free(&w->fcgx, 1);
	double ms = now_ms() - w->t0;
	metrics_count(route, status, ms, w->round_trips);
	log_request(w->method, w->path, status, ms, account[0] ? account : "-", w->request_id);
	free(w);
}

static const struct gw_edge gw_edge_of = {NULL, gw_write, gw_send, gw_fd, gw_end, gw_finish};

/* A gateway path (docs/gateway.md, "Who pays"): its body may be larger, its key may come
 * as x-api-key. */
static int gateway_path(const char *path)
{
	const struct gwkind *k = gwkind_of_path(path);
	return k != NULL && strncmp(path + 1 + strlen(k->name), "/", 1) == 0;
}

static void request_headers(FCGX_Request *req, struct request *rq, int gateway, char *bearer, size_t cap)
{
	rq->method = param(req, "REQUEST_METHOD");
	rq->query = param(req, "QUERY_STRING");
	rq->authorization = param(req, "HTTP_AUTHORIZATION");
	rq->idempotency_key = param(req, "HTTP_IDEMPOTENCY_KEY");
	rq->stripe_signature = param(req, "HTTP_STRIPE_SIGNATURE");
	rq->webhook_id = param(req, "HTTP_WEBHOOK_ID");
	rq->webhook_timestamp = param(req, "HTTP_WEBHOOK_TIMESTAMP");
	rq->webhook_signature = param(req, "HTTP_WEBHOOK_SIGNATURE");
	rq->content_type = param(req, "CONTENT_TYPE");
	rq->request_id = param(req, "HTTP_X_REQUEST_ID");
	rq->origin = param(req, "HTTP_ORIGIN");
	rq->if_none_match = param(req, "HTTP_IF_NONE_MATCH");
	rq->remote_addr = param(req, "REMOTE_ADDR");
	rq->cookie = param(req, "HTTP_COOKIE");
	rq->csrf_token = param(req, "HTTP_X_CSRF_TOKEN");
	rq->sec_fetch_site = param(req, "HTTP_SEC_FETCH_SITE");
	rq->host = param(req, "HTTP_HOST");
	rq->server_port = param(req, "SERVER_PORT");
	rq->https = param(req, "HTTPS") != NULL && strcmp(param(req, "HTTPS"), "off") != 0;
	if (!gateway)
		return;
	const char *x_api_key = param(req, "HTTP_X_API_KEY");
	if (rq->authorization == NULL && x_api_key != NULL && (size_t)snprintf(bearer, cap, "Bearer %s", x_api_key) < cap)
		rq->authorization = bearer;
	rq->gw_account = param(req, "HTTP_CREDITD_ACCOUNT");
	rq->gw_member = param(req, "HTTP_CREDITD_MEMBER");
	rq->gw_provider_key = param(req, "HTTP_CREDITD_PROVIDER_KEY");
	rq->gw_stream_cost = param(req, "HTTP_CREDITD_STREAM_COST");
	/* The headers the provider kinds forward, as CGI names them
	 * ("anthropic-version": HTTP_ANTHROPIC_VERSION). */
	size_t n = gwkind_forwarded_count();
	assert(n <= LIMIT_GATEWAY_FORWARDED);
	for (size_t i = 0; i < n && i < LIMIT_GATEWAY_FORWARDED; i++) {
		const struct gwkind *k;
		size_t j, at = 5;
		char name[64] = "HTTP_";
		for (const char *c = gwkind_forwarded_at(i, &k, &j); *c != '\0' && at + 1 < sizeof(name); c++)
			name[at++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
		name[at] = '\0';
		rq->gw_forwarded[i] = param(req, name);
	}
}

/* Hands an admitted gateway call to the gateway: 0, and w is no
 * longer the worker's; -1 (out of memory), and the caller answers 503. */
static int hand_off(struct wreq *w, struct request *rq, struct response *rs, const char *route, struct body_in *b,
		    struct api_ctx *ctx)
{
	struct gw_job *job = rs->handoff;
	struct gw_edge edge = gw_edge_of;
	/* The job takes the body, in memory or on disk (gwjob.h). */
	job->body = rq->body;
	job->body_len = rq->body_len;
	job->body_memory = b->owned ? b->mem : NULL;
	job->body_spool = b->spool;
	job->route_name = route;
	job->received_ms = (int64_t)w->t0;
	w->round_trips = store_round_trips(ctx->db) - w->round_trips;
	snprintf(w->method, sizeof(w->method), "%s", rq->method);
	snprintf(w->path, sizeof(w->path), "%s", rq->path);
	snprintf(w->request_id, sizeof(w->request_id), "%s", rq->request_id != NULL ? rq->request_id : "-");
	edge.req = w;
	fcgiout_init(&w->out, w->fcgx.ipcFd, w->fcgx.requestId);
	if (gateway_run(job, &edge) == 0)
		return 0;
	/* The gateway could not take it: its hold goes now, not at its ttl. */
	(void)gwcall_release(ctx->db, job->hold_id);
	job->body = NULL;
	job->body_memory = NULL;	/* still the worker's to free (b) */
	job->body_spool = NULL;
	gateway_unadmit(job->place);
	free(job);
	rs->handoff = NULL;
	api_error(rs, CD_E_BUSY, NULL, "the gateway could not take the call (out of memory)");
	rs->retry_after = 1;
	return -1;
}

/* Answers one request; 1 when it was handed to the gateway (w is
 * then the gateway's). */
static int handle(struct wreq *w, struct api_ctx *ctx, char *buf)
{
	FCGX_Request *req = &w->fcgx;
	struct request rq;
	struct response rs;
	char path[LIMIT_PATH_BYTES + 1], rid[LIMIT_X_REQUEST_ID_BYTES + 1];
	char bearer[sizeof("Bearer ") + KEYS_LEN];
	const char *route = NULL;
	w->t0 = now_ms();
	w->round_trips = store_round_trips(ctx->db);
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	const char *uri = param(req, "REQUEST_URI");
	if (uri == NULL)
		uri = param(req, "DOCUMENT_URI");
	rq.path = uri != NULL ? strip_base(uri, ctx->cfg->base_path, path, sizeof(path)) : NULL;
	int gateway = gateway_path(rq.path);
	request_headers(req, &rq, gateway, bearer, sizeof(bearer));
	if (!valid_request_id(rq.request_id) && keys_random_id_hex(rid, LIMIT_X_REQUEST_ID_RANDOM_BYTES) == 0)
		rq.request_id = rid;
	if (rq.query == NULL)
		rq.query = "";
	unsigned serving = log_context_push("%s %s X-Request-Id %s", rq.method != NULL ? rq.method : "-",
					    rq.path != NULL ? rq.path : "-", rq.request_id != NULL ? rq.request_id : "-");
	const struct gwconfig *gw = ctx->gw;
	struct body_plan plan = {(size_t)(gateway ? gw->max_body_bytes : ctx->cfg->max_body_bytes), 0,
				 declared_length(req), gw->spool_dir};
	plan.limit = gateway ? (size_t)gwbody_limit(rq.path, (int64_t)plan.common) : plan.common;
	struct body_state body;
	struct body_in bin;
	memset(&body, 0, sizeof(body));
	memset(&bin, 0, sizeof(bin));
	double deadline_ms = w->t0 + LIMIT_BODY_READ_SECONDS * 1000.0;
	body_read(req, &plan, gateway ? NULL : buf, &bin, &body, deadline_ms);
	rq.body = body_bytes(&bin, &body, &rq.body_len);
	rq.body_too_large = body.too_large;
	rq.body_max_bytes = (int64_t)plan.limit;
	if (bin.kept == BODY_NO_MEMORY)
		api_error(&rs, CD_E_INTERNAL, NULL, "out of memory for the request body");
	else if (bin.kept == BODY_NO_DISK) {
		api_error(&rs, CD_E_BUSY, NULL, "the request body could not be kept on disk: try again later");
		rs.retry_after = 1;
	} else if (body.timed_out && !body.too_large)
		api_error(&rs, CD_E_BODY_TIMEOUT, NULL, "the request body did not arrive within %d seconds",
			  LIMIT_BODY_READ_SECONDS);
	else if (rq.method == NULL || rq.path == NULL)
		api_error(&rs, CD_E_NOT_FOUND, NULL, "no route for this path (base path is %s)", ctx->cfg->base_path);
	else
		router_dispatch(ctx, &rq, &rs, &route);
	store_end_request(ctx->db);
	log_context_pop(serving);
	if (rs.handoff != NULL) {
		body_end(req, &body, deadline_ms);
		if (hand_off(w, &rq, &rs, route, &bin, ctx) == 0)
			return 1;
	}
	write_response(req, &rq, &rs, rq.method != NULL && strcmp(rq.method, "HEAD") == 0);
	body_end(req, &body, deadline_ms);
	double ms = now_ms() - w->t0;
	metrics_count(route, rs.status, ms, store_round_trips(ctx->db) - w->round_trips);
	log_request(rq.method ? rq.method : "-", rq.path ? rq.path : "-", rs.status, ms, rs.account[0] ? rs.account : "-",
		    rq.request_id);
	json_decref(rs.json);
	free(rs.text);
	if (bin.owned)
		free(bin.mem);
	spool_free(bin.spool);	/* the file goes with its descriptor (spool.h) */
	return 0;
}

static struct stripe_client *stripe_for(const struct cfg *c)
{
	struct stripe_settings s = stripe_config_settings(c);
	return s.secret_key[0] != '\0' ? stripe_client_new(&s) : NULL;
}

/* An accept that failed: logged at most once a second, then a pause. */
static void accept_failed(int err)
{
	static atomic_llong last_ms;
	long long now = (long long)now_ms(), prev = atomic_load(&last_ms);
	if (now - prev >= 1000 && atomic_compare_exchange_strong(&last_ms, &prev, now))
		log_error("accepting a request failed (%s): the worker tries again", err > 0 ? strerror(err) : "libfcgi");
	struct timespec pause = {0, 100 * 1000 * 1000};
	nanosleep(&pause, NULL);
}

static struct wreq *wreq_new(void)
{
	struct wreq *w = calloc(1, sizeof(*w));
	if (w != NULL && FCGX_InitRequest(&w->fcgx, pool_fd, 0) != 0) {
		free(w);
		w = NULL;
	}
	return w;
}

static void *worker_main(void *arg)
{
	struct api_ctx ctx;
	struct wreq *w = NULL;
	(void)arg;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = pool_cfg;
	ctx.gw = gwconfig_of(pool_cfg);
	ctx.db = store_new(pool_cfg);
	ctx.stripe = stripe_for(pool_cfg);
	char *buf = malloc((size_t)pool_cfg->max_body_bytes + 1);
	if (ctx.db == NULL || buf == NULL || (w = wreq_new()) == NULL) {
		log_error("worker start failed: out of memory");
		goto out;
	}
	store_ping(ctx.db);
	while (!atomic_load(&stopping)) {
		int rc = FCGX_Accept_r(&w->fcgx);
		if (rc < 0 && atomic_load(&stopping))
			break;
		if (rc < 0) {
			/* Out of file descriptors (EMFILE) and the like: the
			 * thread waits and accepts again rather than leaving
			 * the pool for good. */
			accept_failed(-rc);
			continue;
		}
		atomic_fetch_add(&in_flight, 1);
		metrics_workers(0, 1);
		int handed = handle(w, &ctx, buf);
		if (!handed) {
			FCGX_Finish_r(&w->fcgx);
			w->fcgx.detached = 0;
		}
		atomic_fetch_sub(&in_flight, 1);
		metrics_workers(0, -1);
		/* A request handed to the gateway is its thread's now: this
		 * worker takes its next on a new one. */
		if (handed && (w = wreq_new()) == NULL) {
			log_error("worker stopped: out of memory");
			break;
		}
	}
	if (w != NULL)
		FCGX_Free(&w->fcgx, 1);
	free(w);
out:
	free(buf);
	stripe_client_free(ctx.stripe);
	store_free(ctx.db);
	atomic_fetch_sub(&alive, 1);
	metrics_workers(-1, 0);
	return NULL;
}

/* The counters /metrics prints, one per route, set before any thread
 * answers. */
static int metrics_start(const struct cfg *cfg)
{
	static const char *names[LIMIT_METRICS_ROUTES];
	size_t n = router_route_names(names, LIMIT_METRICS_ROUTES);
	/* More routes than names were filled in is refused there, unread. */
	if (metrics_init(names, n) != 0)
		return -1;
	/* A provider kind's routes are the gateway's, by provider and route. */
	for (size_t i = 0; i < n; i++) {
		const struct gwkind_route *r = gwkind_route_named(names[i]);
		if (r != NULL && metrics_gateway_route(names[i], r->kind->name, r->label) != 0)
			return -1;
	}
	/* The providers' tries, by provider (docs/gateway.md, "What the answer says"). */
	const struct gwconfig *gw = gwconfig_of(cfg);
	for (size_t i = 0; i < gw->nproviders; i++)
		if (metrics_gateway_provider(gw->providers[i].index, gw->providers[i].name) != 0)
			return -1;
	return 0;
}

int worker_start(const struct cfg *cfg, int listen_fd)
{
	pthread_attr_t attr;
	pthread_t t;
	if (metrics_start(cfg) != 0)
		return -1;
	pool_cfg = cfg;
	pool_fd = listen_fd;
	if (gateway_init(cfg) != 0) {
		log_error("cannot start the gateway: out of memory");
		return -1;
	}
	/* The upload routes' larger bodies go there (docs/gateway.md, "Request
	 * bodies"): said now rather than at the first upload. */
	char err[256];
	struct spool *probe = spool_open(gwconfig_of(cfg)->spool_dir, err, sizeof(err));
	if (probe == NULL)
		log_warn("[gateway] spool_dir: %s: uploads past max_body_bytes will be answered 503", err);
	spool_free(probe);
	if (background_start(cfg) != 0)
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, LIMIT_THREAD_STACK_BYTES);
	for (int64_t i = 0; i < cfg->threads; i++) {
		atomic_fetch_add(&alive, 1);
		metrics_workers(1, 0);
		if (pthread_create(&t, &attr, worker_main, NULL) != 0) {
			atomic_fetch_sub(&alive, 1);
			metrics_workers(-1, 0);
			log_error("cannot start worker %lld: %s", (long long)i, strerror(errno));
			return -1;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

int worker_stop(int listen_fd, int timeout_ms)
{
	atomic_store(&stopping, 1);
	background_stop();
	FCGX_ShutdownPending();
	shutdown(listen_fd, SHUT_RDWR);
	/* Gateway calls in flight finish and are settled first (docs/gateway.md, "On SIGTERM":
	 * up to [gateway] drain_seconds); the database is still there. */
	int64_t left = gateway_drain();
	if (left > 0)
		log_warn("%lld gateway calls still running after %lld s: their holds expire at their ttl",
			 (long long)left, (long long)gwconfig_of(pool_cfg)->drain_seconds);
	double deadline = now_ms() + timeout_ms;
	while (now_ms() < deadline) {
		/* Reloads stop once no request may wait for one. */
		if (atomic_load(&in_flight) == 0)
			ledger_prices_stop();
		if (atomic_load(&in_flight) == 0 && atomic_load(&alive) == 0 && !background_running())
			return 0;
		/* Threads stuck in accept do not matter once nothing is in flight. */
		if (atomic_load(&in_flight) == 0 && now_ms() > deadline - timeout_ms + 1000)
			return -1;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return atomic_load(&in_flight);
}

void worker_reload(void)
{
	background_reload();
}
