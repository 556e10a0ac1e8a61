/* provider.c: the gateway's HTTP client to an LLM provider (see
 * provider.h). libcurl's multi interface driven by the gateway's loop:
 * every call a handle on one multi handle, whose connection cache keeps
 * the providers' connections between calls. */
#include "provider.h"
#include "timefmt.h"
#include "dynbuf.h"
#include "limits.h"
#include "spool.h"
#include "urlpath.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>

/* Deadlines are checked this often (and on_tick run about each second). */
#define SWEEP_MS 200

/* One call: its handle, and its state as curl's callbacks see it. */
struct provider_xfer {
	struct provider_multi *m;
	CURL *curl;
	struct curl_slist *headers;
	const struct provider_call *call;
	void *owner;
	struct provider_xfer *prev, *next;	/* active, or done */
	int status;			/* of the last status line */
	int head_done;			/* on_head ran */
	int stopped;			/* a callback said stop */
	int paused;
	int64_t started_ms, last_ms, tick_ms;
	int64_t seen;			/* body bytes so far */
	size_t body_at;			/* a body_file's next byte to send */
	enum provider_result result;	/* once done */
	char err[256];
	/* The headers of the answer being read: "name\0value\0" pairs. */
	int nh;
	struct dynbuf lines;
};

struct provider_multi {
	CURLM *multi;
	int epfd;
	uint64_t tag;
	int64_t timer_at;		/* curl's timer, CLOCK_MONOTONIC ms; -1: none */
	int64_t swept_ms;
	struct provider_xfer *active, *done, *done_tail;
	CURL *spare[LIMIT_PROVIDER_SPARE_HANDLES];
	int nspare;
};

static int has_prefix_ci(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

int provider_url_allowed(const char *url)
{
	return urlpath_https_or_loopback(url);
}

/* Keeps one "Name: value" header line; lines past the limits are dropped
 * (the caller passes on only a few named ones). */
static void keep_header(struct provider_xfer *r, const char *line, size_t n)
{
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	const char *colon = memchr(line, ':', n);
	if (colon == NULL || colon == line || r->nh == LIMIT_PROVIDER_HEADERS ||
	    r->lines.len + n + 2 > LIMIT_PROVIDER_HEADER_BYTES)
		return;
	size_t klen = (size_t)(colon - line);
	const char *v = colon + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	char *p = dynbuf_room(&r->lines, n + 2);
	if (p == NULL) {
		r->lines.failed = 0;	/* dropped: the next line may fit */
		return;
	}
	memcpy(p, line, klen);
	p[klen] = '\0';
	memcpy(p + klen + 1, v, (size_t)(end - v));
	p[klen + 1 + (end - v)] = '\0';
	dynbuf_grew(&r->lines, klen + 1 + (size_t)(end - v) + 1);
	r->nh++;
}

/* The kept headers as the caller sees them. */
static int headers_seen(struct provider_xfer *r, struct provider_header *h)
{
	const char *p = r->lines.data;
	for (int i = 0; i < r->nh; i++) {
		h[i].name = p;
		p += strlen(p) + 1;
		h[i].value = p;
		p += strlen(p) + 1;
	}
	return r->nh;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
	struct provider_xfer *r = arg;
	size_t n = size * nitems;
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', n);
		long st = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		r->status = st >= 100 && st <= 999 ? (int)st : 0;
		r->nh = 0;
		dynbuf_reset(&r->lines);
	} else if (n <= 2 && (n == 0 || line[0] == '\r' || line[0] == '\n')) {
		/* The end of a header block: an interim answer's (1xx) is
		 * not the answer. */
		if (r->status >= 200 && !r->head_done) {
			struct provider_header h[LIMIT_PROVIDER_HEADERS];
			r->head_done = 1;
			r->last_ms = timefmt_mono_ms();
			int nh = headers_seen(r, h);
			int stop = r->call->on_head != NULL && r->call->on_head(r->call->arg, r->status, h, nh) != 0;
			dynbuf_free(&r->lines);
			r->nh = 0;
			if (stop) {
				r->stopped = 1;
				return 0;
			}
		}
	} else if (!r->head_done) {
		keep_header(r, line, n);
	}
	return n;
}

static size_t on_body(char *bytes, size_t size, size_t nmemb, void *arg)
{
	struct provider_xfer *r = arg;
	size_t n = size * nmemb;
	r->last_ms = timefmt_mono_ms();
	r->seen += (int64_t)n;
	if (n > 0 && r->call->on_data != NULL && r->call->on_data(r->call->arg, bytes, n) != 0) {
		r->stopped = 1;
		return 0;
	}
	return n;
}

/* A body kept on disk, as curl sends it: read from its file at the
 * offset reached, a buffer at a time (curl's upload buffer). */
static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct provider_xfer *r = arg;
	ssize_t n = spool_read_at(r->call->body_file, buf, size * nitems, r->body_at);
	if (n < 0)
		return CURL_READFUNC_ABORT;	/* the call fails as a request not sent in full */
	r->body_at += (size_t)n;
	return (size_t)n;
}

/* curl sends the request again (a reused connection found closed): from
 * the offset it names, its start. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct provider_xfer *r = arg;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->call->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->body_at = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* The body's options: in memory (POSTFIELDS, sent from the caller's
 * bytes, not copied), from a file (the read and seek callbacks), or none
 * (a GET). */
static CURLcode body_options(CURL *h, const struct provider_call *call, struct provider_xfer *r)
{
	CURLcode rc = CURLE_OK;
	if (call->body == NULL && call->body_file == NULL)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (call->body_file != NULL) {
		rc = curl_easy_setopt(h, CURLOPT_POST, 1L);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_READDATA, r);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
	}
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	if (rc == CURLE_OK && call->body_file == NULL)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
	return rc;
}

static CURLcode set_options(CURL *h, const struct provider_call *call, struct curl_slist *headers,
			    struct provider_xfer *r)
{
	int loopback = has_prefix_ci(call->url, "http://");
	CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, call->url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, loopback ? "http" : "https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, call->connect_timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rc == CURLE_OK && loopback)
		rc = curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (rc == CURLE_OK)
		rc = body_options(h, call, r);
	if (rc == CURLE_OK && call->method != NULL)
		rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	/* One connection a call: over HTTP/2 a call held back (its client
	 * slow) would hold back every call multiplexed with it (curl
	 * 7.88 pauses the connection, not the stream). */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* A name still resolving when its call ends is not waited for
	 * (curl's threaded resolver would hold the loop until getaddrinfo
	 * gives up); curl before 7.87 has no such option. */
#if LIBCURL_VERSION_NUM >= 0x075700
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L);
#endif
	return rc;
}

static struct curl_slist *header_list(const struct provider_call *call)
{
	struct curl_slist *h = NULL, *next;
	/* No 100-continue round trip, and the answer as the provider
	 * sends it (no Accept-Encoding: curl then asks for none). */
	static const char *const fixed[] = {"Expect:", "Accept:", NULL};
	for (int pass = 0; pass < 2; pass++) {
		const char *const *lines = pass == 0 ? fixed : call->headers;
		for (int i = 0; lines != NULL && lines[i] != NULL; i++) {
			next = curl_slist_append(h, lines[i]);
			if (next == NULL) {
				curl_slist_free_all(h);
				return NULL;
			}
			h = next;
		}
	}
	return h;
}

/* 1 when x's request went out in full (provider.h): its head written
 * (CURLINFO_REQUEST_SIZE counts it once sent) and every byte of its body
 * (CURLINFO_SIZE_UPLOAD_T counts what the connection took). Measured:
 * curl 7.88 on a connection closed or reset before it read a 20 MB body
 * says CURLE_SEND_ERROR or CURLE_RECV_ERROR with the upload short of it;
 * a small body the kernel took whole counts as sent, whatever the peer
 * did with it (a client cannot tell more). */
static int request_sent(const struct provider_xfer *x, CURL *h)
{
	curl_off_t up = 0;
	long head = 0;
	if (curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &head) != CURLE_OK ||
	    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up) != CURLE_OK)
		return 1;	/* not known: as if sent (never a second provider on a guess) */
	return head > 0 && ((x->call->body == NULL && x->call->body_file == NULL) || up >= (curl_off_t)x->call->body_len);
}

static enum provider_result result_of(CURLcode rc, const struct provider_xfer *r, int sent)
{
	if (rc == CURLE_OK)
		return r->head_done ? PROVIDER_OK : PROVIDER_BROKEN;
	if (r->stopped)
		return PROVIDER_STOPPED;
	if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
		return PROVIDER_FAILED;
	/* Refused, unresolved, TLS refused, a connect timeout, reset or
	 * closed while the request was going out: not started. */
	if (!r->head_done && (!sent || rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
			      rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION))
		return PROVIDER_CONNECT;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return PROVIDER_TIMEOUT;
	/* Sent in full, then nothing (CURLE_GOT_NOTHING, CURLE_RECV_ERROR):
	 * the provider may be working. */
	return r->head_done || r->seen > 0 ? PROVIDER_BROKEN : PROVIDER_LOST;
}

/* ---- The multi handle, driven by the loop's epoll ---- */

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct provider_multi *m = userp;
	(void)e;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.u64 = m->tag | (uint32_t)s;
	if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
		epoll_ctl(m->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct provider_multi *m = userp;
	(void)multi;
	m->timer_at = timeout_ms < 0 ? -1 : timefmt_mono_ms() + timeout_ms;
	return 0;
}

struct provider_multi *provider_multi_new(int epfd, uint64_t tag)
{
	struct provider_multi *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->epfd = epfd;
	m->tag = tag;
	m->timer_at = -1;
	m->multi = curl_multi_init();
	if (m->multi == NULL || curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)LIMIT_PROVIDER_IDLE_CONNECTIONS) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m) != CURLM_OK) {
		provider_multi_free(m);
		return NULL;
	}
	return m;
}

static void unlink_xfer(struct provider_xfer **head, struct provider_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		*head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

/* Ends x with r: its handle out of the multi (kept for the next call),
 * x on the done list. */
static void finish(struct provider_xfer *x, enum provider_result r, const char *err)
{
	struct provider_multi *m = x->m;
	curl_multi_remove_handle(m->multi, x->curl);
	if (m->nspare < LIMIT_PROVIDER_SPARE_HANDLES) {
		curl_easy_reset(x->curl);
		m->spare[m->nspare++] = x->curl;
	} else {
		curl_easy_cleanup(x->curl);
	}
	x->curl = NULL;
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	dynbuf_free(&x->lines);
	unlink_xfer(&m->active, x);
	x->result = r;
	snprintf(x->err, sizeof(x->err), "%s", err);
	if (m->done_tail != NULL)
		m->done_tail->next = x;
	else
		m->done = x;
	x->prev = m->done_tail;
	m->done_tail = x;
}

static void take_done(struct provider_multi *m)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct provider_xfer *x = NULL;
		CURLcode rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL)
			continue;
		enum provider_result r = result_of(rc, x, request_sent(x, msg->easy_handle));
		finish(x, r, r == PROVIDER_OK ? "" : r == PROVIDER_TIMEOUT ? "the provider did not answer in time"
									 : curl_easy_strerror(rc));
	}
}

struct provider_xfer *provider_start(struct provider_multi *m, const struct provider_call *call, void *owner,
				     char *err, size_t errcap)
{
	struct provider_xfer *x = calloc(1, sizeof(*x));
	snprintf(err, errcap, "out of memory");
	if (x == NULL)
		return NULL;
	if (!provider_url_allowed(call->url) && !(call->allow_http && has_prefix_ci(call->url, "http://"))) {
		snprintf(err, errcap, "the provider's URL is not https (http only to a loopback address, or with "
			 "allow_http = true)");
		free(x);
		return NULL;
	}
	x->m = m;
	x->call = call;
	x->owner = owner;
	x->started_ms = x->tick_ms = timefmt_mono_ms();
	dynbuf_init(&x->lines, LIMIT_PROVIDER_HEADER_BYTES);
	x->curl = m->nspare > 0 ? m->spare[--m->nspare] : curl_easy_init();
	x->headers = header_list(call);
	if (x->curl == NULL || x->headers == NULL || set_options(x->curl, call, x->headers, x) != CURLE_OK ||
	    curl_multi_add_handle(m->multi, x->curl) != CURLM_OK) {
		if (x->curl != NULL)
			curl_easy_cleanup(x->curl);
		curl_slist_free_all(x->headers);
		free(x);
		return NULL;
	}
	x->next = m->active;
	if (m->active != NULL)
		m->active->prev = x;
	m->active = x;
	err[0] = '\0';
	return x;
}

enum provider_result provider_wait(const struct provider_call *call, long total_ms, char *err, size_t errcap)
{
	struct provider_xfer x;
	memset(&x, 0, sizeof(x));
	x.call = call;
	snprintf(err, errcap, "out of memory");
	if (!provider_url_allowed(call->url) && !(call->allow_http && has_prefix_ci(call->url, "http://"))) {
		snprintf(err, errcap, "the provider's URL is not https (http only to a loopback address, or with "
			 "allow_http = true)");
		return PROVIDER_FAILED;
	}
	dynbuf_init(&x.lines, LIMIT_PROVIDER_HEADER_BYTES);
	x.curl = curl_easy_init();
	x.headers = header_list(call);
	enum provider_result r = PROVIDER_FAILED;
	if (x.curl != NULL && x.headers != NULL && set_options(x.curl, call, x.headers, &x) == CURLE_OK &&
	    curl_easy_setopt(x.curl, CURLOPT_TIMEOUT_MS, total_ms) == CURLE_OK &&
	    curl_easy_setopt(x.curl, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK &&
	    curl_easy_setopt(x.curl, CURLOPT_LOW_SPEED_TIME, (call->idle_timeout_ms + 999) / 1000) == CURLE_OK) {
		CURLcode rc = curl_easy_perform(x.curl);
		r = result_of(rc, &x, request_sent(&x, x.curl));
		snprintf(err, errcap, "%s", rc == CURLE_OK ? "" : curl_easy_strerror(rc));
	}
	if (x.curl != NULL)
		curl_easy_cleanup(x.curl);
	curl_slist_free_all(x.headers);
	dynbuf_free(&x.lines);
	return r;
}

void provider_socket(struct provider_multi *m, int fd, uint32_t epoll_events)
{
	int running = 0;
	int flags = ((epoll_events & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((epoll_events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
		    ((epoll_events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
	curl_multi_socket_action(m->multi, fd, flags, &running);
	take_done(m);
}

long provider_timer_ms(const struct provider_multi *m)
{
	if (m->timer_at < 0)
		return -1;
	int64_t left = m->timer_at - timefmt_mono_ms();
	return left > 0 ? (long)left : 0;
}

/* One call's deadlines: first byte, idle (not while paused), on_tick. */
static void deadlines(struct provider_xfer *x, int64_t now)
{
	const struct provider_call *c = x->call;
	if (x->last_ms == 0 && now - x->started_ms > c->first_byte_timeout_ms && !request_sent(x, x->curl))
		finish(x, PROVIDER_CONNECT, "the request could not be sent in time");
	else if (x->last_ms == 0 && now - x->started_ms > c->first_byte_timeout_ms)
		finish(x, PROVIDER_TIMEOUT, "the provider did not answer in time");
	else if (x->last_ms != 0 && !x->paused && now - x->last_ms > c->idle_timeout_ms)
		finish(x, PROVIDER_TIMEOUT, x->head_done || x->seen > 0 ? "the provider went silent mid-answer"
									: "the provider did not answer in time");
	else if (c->on_tick != NULL && now - x->tick_ms >= 1000 && (x->tick_ms = now, c->on_tick(c->arg) != 0))
		finish(x, PROVIDER_STOPPED, "stopped");
}

void provider_timers(struct provider_multi *m)
{
	int64_t now = timefmt_mono_ms();
	if (m->timer_at >= 0 && now >= m->timer_at) {
		int running = 0;
		m->timer_at = -1;
		curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		take_done(m);
	}
	if (now - m->swept_ms < SWEEP_MS)
		return;
	m->swept_ms = now;
	for (struct provider_xfer *x = m->active, *next; x != NULL; x = next) {
		next = x->next;
		deadlines(x, now);
	}
}

void provider_pause(struct provider_xfer *x, int paused)
{
	if (x->paused == paused || x->curl == NULL)
		return;
	x->paused = paused;
	if (!paused)
		x->last_ms = timefmt_mono_ms();	/* the idle timeout counts from now */
	/* Letting on may hand over what curl kept at once (on_data): a
	 * callback that says stop makes it fail, and the call ends here. */
	CURLcode rc = curl_easy_pause(x->curl, paused ? CURLPAUSE_RECV : CURLPAUSE_CONT);
	if (rc != CURLE_OK)
		finish(x, x->stopped ? PROVIDER_STOPPED : PROVIDER_BROKEN, curl_easy_strerror(rc));
}

int provider_next_done(struct provider_multi *m, void **owner, enum provider_result *r, char *err, size_t errcap)
{
	take_done(m);	/* a call let on (provider_pause) may have ended */
	struct provider_xfer *x = m->done;
	if (x == NULL)
		return -1;
	m->done = x->next;
	if (m->done == NULL)
		m->done_tail = NULL;
	else
		m->done->prev = NULL;
	*owner = x->owner;
	*r = x->result;
	snprintf(err, errcap, "%s", x->err);
	free(x);
	return 0;
}


void provider_multi_free(struct provider_multi *m)
{
	if (m == NULL)
		return;
	while (m->active != NULL)
		finish(m->active, PROVIDER_FAILED, "stopped");
	while (m->done != NULL) {
		struct provider_xfer *x = m->done;
		m->done = x->next;
		free(x);
	}
	for (int i = 0; i < m->nspare; i++)
		curl_easy_cleanup(m->spare[i]);
	if (m->multi != NULL)
		curl_multi_cleanup(m->multi);
	free(m);
}

