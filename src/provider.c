/* provider.c: the gateway's HTTP client to an LLM provider (see
 * provider.h). libcurl's easy interface, one handle per gateway thread:
 * the handle keeps its connection to the provider between calls. */
#include "provider.h"
#include "limits.h"
#include "urlpath.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct provider_conn {
	CURL *curl;
};

/* One call's state, seen by curl's callbacks. */
struct run {
	const struct provider_call *call;
	int status;			/* of the last status line */
	int head_done;			/* on_head ran */
	int stopped;			/* a callback said stop */
	int timed_out;
	int64_t started_ms, last_ms, tick_ms;
	curl_off_t seen;		/* body bytes so far */
	/* The headers of the answer being read, in arena. */
	struct provider_header h[LIMIT_PROVIDER_HEADERS];
	int nh;
	char arena[LIMIT_PROVIDER_HEADER_BYTES];
	size_t used;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int has_prefix_ci(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

int provider_url_allowed(const char *url)
{
	return urlpath_https_or_loopback(url);
}

struct provider_conn *provider_conn_new(void)
{
	struct provider_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void provider_conn_free(struct provider_conn *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

/* Keeps one "Name: value" header line in the run's arena; lines that do
 * not fit are dropped (the caller passes on only a few named ones). */
static void keep_header(struct run *r, const char *line, size_t n)
{
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	const char *colon = memchr(line, ':', n);
	if (colon == NULL || colon == line || r->nh == LIMIT_PROVIDER_HEADERS || r->used + n + 2 > sizeof(r->arena))
		return;
	size_t klen = (size_t)(colon - line);
	const char *v = colon + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	char *name = r->arena + r->used;
	memcpy(name, line, klen);
	name[klen] = '\0';
	char *value = name + klen + 1;
	memcpy(value, v, (size_t)(end - v));
	value[end - v] = '\0';
	r->used += klen + 1 + (size_t)(end - v) + 1;
	r->h[r->nh++] = (struct provider_header){name, value};
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
	struct run *r = arg;
	size_t n = size * nitems;
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', n);
		long st = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		r->status = st >= 100 && st <= 999 ? (int)st : 0;
		r->nh = 0;
		r->used = 0;
	} else if (n <= 2 && (n == 0 || line[0] == '\r' || line[0] == '\n')) {
		/* The end of a header block: an interim answer's (1xx) is
		 * not the answer. */
		if (r->status >= 200 && !r->head_done) {
			r->head_done = 1;
			r->last_ms = mono_ms();
			if (r->call->on_head != NULL && r->call->on_head(r->call->arg, r->status, r->h, r->nh) != 0) {
				r->stopped = 1;
				return 0;
			}
		}
	} else {
		keep_header(r, line, n);
	}
	return n;
}

static size_t on_body(char *bytes, size_t size, size_t nmemb, void *arg)
{
	struct run *r = arg;
	size_t n = size * nmemb;
	r->last_ms = mono_ms();
	if (n > 0 && r->call->on_data != NULL && r->call->on_data(r->call->arg, bytes, n) != 0) {
		r->stopped = 1;
		return 0;
	}
	return n;
}

/* The first-byte and idle deadlines, and the caller's tick. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct run *r = arg;
	(void)dltotal;
	(void)ultotal;
	(void)ulnow;
	int64_t now = mono_ms();
	if (dlnow != r->seen) {
		r->seen = dlnow;
		r->last_ms = now;
	}
	if (r->last_ms == 0 && now - r->started_ms > r->call->first_byte_timeout_ms) {
		r->timed_out = 1;
		return 1;
	}
	if (r->last_ms != 0 && now - r->last_ms > r->call->idle_timeout_ms) {
		r->timed_out = 1;
		return 1;
	}
	if (r->call->on_tick != NULL && now - r->tick_ms >= 1000) {
		r->tick_ms = now;
		if (r->call->on_tick(r->call->arg) != 0) {
			r->stopped = 1;
			return 1;
		}
	}
	return 0;
}

static CURLcode set_options(CURL *h, const struct provider_call *call, struct curl_slist *headers, struct run *r)
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
	if (rc == CURLE_OK && call->body != NULL)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	if (rc == CURLE_OK && call->body != NULL)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
	if (rc == CURLE_OK && call->body == NULL)
		rc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
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

static enum provider_result result_of(CURLcode rc, const struct run *r)
{
	if (rc == CURLE_OK)
		return r->head_done ? PROVIDER_OK : PROVIDER_BROKEN;
	if (r->timed_out || rc == CURLE_OPERATION_TIMEDOUT)
		return PROVIDER_TIMEOUT;
	if (r->stopped)
		return PROVIDER_STOPPED;
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_SSL_CONNECT_ERROR ||
	    rc == CURLE_PEER_FAILED_VERIFICATION || (rc == CURLE_SEND_ERROR && !r->head_done))
		return PROVIDER_CONNECT;
	if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
		return PROVIDER_FAILED;
	return PROVIDER_BROKEN;
}

enum provider_result provider_run(struct provider_conn *c, const struct provider_call *call, char *err, size_t errcap)
{
	struct run *r = calloc(1, sizeof(*r));
	struct curl_slist *headers = NULL;
	enum provider_result res = PROVIDER_FAILED;
	snprintf(err, errcap, "out of memory");
	if (r == NULL)
		return PROVIDER_FAILED;
	if (!provider_url_allowed(call->url)) {
		snprintf(err, errcap, "the provider's URL is not https (http only to a loopback address)");
		goto out;
	}
	headers = header_list(call);
	r->call = call;
	r->started_ms = r->tick_ms = mono_ms();
	if (headers == NULL || set_options(c->curl, call, headers, r) != CURLE_OK)
		goto out;
	CURLcode rc = curl_easy_perform(c->curl);
	res = result_of(rc, r);
	if (res == PROVIDER_TIMEOUT)
		snprintf(err, errcap, "%s", r->head_done || r->seen > 0 ? "the provider went silent mid-answer"
									: "the provider did not answer in time");
	else if (res != PROVIDER_OK)
		snprintf(err, errcap, "%s", curl_easy_strerror(rc));
	else
		err[0] = '\0';
out:
	/* The handle keeps pointers to this call's headers and body: drop
	 * them, keep the connection. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(headers);
	free(r);
	return res;
}

const char *provider_result_name(enum provider_result r)
{
	static const char *const names[] = {"ok", "connect", "timeout", "broken", "stopped", "failed"};
	return r >= PROVIDER_OK && r <= PROVIDER_FAILED ? names[r] : "?";
}
