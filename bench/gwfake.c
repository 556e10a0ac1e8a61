/* gwfake.c: the gateway bench's provider (`./dev bench --gateway`).
 *
 * An OpenAI-shaped Chat Completions endpoint that answers at once, fast
 * enough that it is never what a row measures: one thread, epoll, every
 * socket TCP_NODELAY, each answer's head and first bytes in one write.
 *   POST /v1/chat/completions   a whole answer with usage, at once; with
 *                               "stream": true, server-sent events: the
 *                               role chunk at once, then --chunks text
 *                               chunks --interval-ms apart, the finish
 *                               chunk, the usage chunk when
 *                               stream_options.include_usage is set, and
 *                               `data: [DONE]` (HTTP/1.1 chunked)
 *   GET  /v1/models             a one-model list
 * Output word i is "w<i>", one token each; at most --chunks of them, or
 * the body's max_tokens / max_completion_tokens when lower. Keep-alive;
 * no credential is checked (tests/fake_provider.py is the one that checks
 * what a gateway sends; this one only has to keep up). The body is read
 * by plain string search, not parsed: it is the bench's own request.
 *
 * usage: gwfake [--port N] [--port-file FILE] [--chunks N] [--interval-ms N]
 * Never: blocks on a client (unsent bytes wait for EPOLLOUT, up to
 * OUT_MAX, then the connection is dropped), keeps a request it cannot
 * answer (a head over IN_MAX: 431 and closed). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_MAX (256 * 1024)		/* a request's head and body */
#define OUT_MAX (4 * 1024 * 1024)	/* unsent bytes before a slow client is dropped */
#define CONNS_MAX 65536			/* file descriptors served */
#define EVENT_MAX 512			/* one SSE event's text */

struct conn {
	int fd;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off, out_cap;
	int streaming;			/* a stream is under way: the next request waits */
	int next_chunk;			/* 1..chunks */
	int output;			/* words to send */
	int include_usage;
	int prompt_tokens;
	int64_t due_us;
	int heap_at;			/* -1 when not in the heap */
	int out_armed;			/* EPOLLOUT asked for */
	long id;
	char model[64];
};

static struct conn *conns[CONNS_MAX];
static struct conn **heap;		/* streams by due_us */
static int heap_len;
static int epfd;
static int chunks = 64;
static int64_t interval_us = 20000;
static long next_id;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the timer heap ---- */

static void heap_swap(int a, int b)
{
	struct conn *t = heap[a];
	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->heap_at = a;
	heap[b]->heap_at = b;
}

static void heap_up(int i)
{
	while (i > 0 && heap[(i - 1) / 2]->due_us > heap[i]->due_us) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < heap_len && heap[l]->due_us < heap[m]->due_us)
			m = l;
		if (r < heap_len && heap[r]->due_us < heap[m]->due_us)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void heap_push(struct conn *c)
{
	heap[heap_len] = c;
	c->heap_at = heap_len++;
	heap_up(c->heap_at);
}

static void heap_remove(struct conn *c)
{
	int i = c->heap_at;
	if (i < 0)
		return;
	c->heap_at = -1;
	heap_len--;
	if (i == heap_len)
		return;
	heap[i] = heap[heap_len];
	heap[i]->heap_at = i;
	heap_up(i);
	heap_down(heap[i]->heap_at);
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	heap_remove(c);
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns[c->fd] = NULL;
	free(c->in);
	free(c->out);
	free(c);
}

static void want_out(struct conn *c, int on)
{
	if (c->out_armed == on)
		return;
	c->out_armed = on;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = c->fd};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what is pending; -1 when the connection is gone. */
static int flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			want_out(c, 1);
			return 0;
		}
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	want_out(c, 0);
	c->out_off = c->out_len = 0;
	return 0;
}

/* Appends to the pending output; -1 past OUT_MAX or out of memory. */
static int out_add(struct conn *c, const char *bytes, size_t n)
{
	if (c->out_len + n > OUT_MAX)
		return -1;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (p == NULL)
			return -1;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, bytes, n);
	c->out_len += n;
	return 0;
}

static int out_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int out_printf(struct conn *c, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return out_add(c, buf, (size_t)n);
}

/* One SSE event as one HTTP chunk. */
static int out_event(struct conn *c, const char *text)
{
	size_t n = strlen(text);
	return out_printf(c, "%zx\r\n", n) || out_add(c, text, n) || out_add(c, "\r\n", 2);
}

/* ---- the request ---- */

/* The value after "key": in body (the bench's own JSON), or NULL. */
static const char *json_after(const char *body, size_t len, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = body; p + k <= body + len; p++) {
		p = memmem(p, (size_t)(body + len - p), key, k);
		if (p == NULL)
			return NULL;
		const char *v = p + k;
		while (v < body + len && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
			v++;
		if (v < body + len && *v == ':') {
			v++;
			while (v < body + len && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
				v++;
			return v;
		}
	}
	return NULL;
}

static int json_true(const char *body, size_t len, const char *key)
{
	const char *v = json_after(body, len, key);
	return v != NULL && (size_t)(body + len - v) >= 4 && memcmp(v, "true", 4) == 0;
}

static long json_long(const char *body, size_t len, const char *key, long otherwise)
{
	const char *v = json_after(body, len, key);
	if (v == NULL || v >= body + len || *v < '0' || *v > '9')
		return otherwise;
	long n = 0;
	while (v < body + len && *v >= '0' && *v <= '9' && n < 100000000)
		n = n * 10 + (*v++ - '0');
	return n;
}

static void words(int from, int to, char *into, size_t cap)
{
	size_t used = 0;
	into[0] = '\0';
	for (int i = from; i < to && used + 16 < cap; i++)
		used += (size_t)snprintf(into + used, cap - used, "w%d%s", i, i + 1 < to ? " " : "");
}

static int chunk_event(struct conn *c, const char *delta, const char *finish)
{
	char ev[EVENT_MAX + 256];
	snprintf(ev, sizeof(ev),
		 "data: {\"id\":\"chatcmpl-bench%ld\",\"object\":\"chat.completion.chunk\",\"created\":%ld,"
		 "\"model\":\"%s\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{\"index\":0,\"delta\":%s,"
		 "\"logprobs\":null,\"finish_reason\":%s}]%s}\n\n",
		 c->id, (long)time(NULL), c->model, delta, finish, c->include_usage ? ",\"usage\":null" : "");
	return out_event(c, ev);
}

/* The stream's next text chunk; the last one also ends the stream. */
static int stream_step(struct conn *c)
{
	char delta[128], ev[EVENT_MAX];
	int i = c->next_chunk - 1;
	snprintf(delta, sizeof(delta), "{\"content\":\"w%d%s\"}", i, i + 1 < c->output ? " " : "");
	if (chunk_event(c, delta, "null") != 0)
		return -1;
	if (++c->next_chunk <= c->output) {
		c->due_us += interval_us;
		heap_down(c->heap_at);
		return flush_out(c);
	}
	heap_remove(c);
	if (chunk_event(c, "{}", c->output < chunks ? "\"length\"" : "\"stop\"") != 0)
		return -1;
	if (c->include_usage) {
		snprintf(ev, sizeof(ev),
			 "data: {\"id\":\"chatcmpl-bench%ld\",\"object\":\"chat.completion.chunk\",\"created\":%ld,"
			 "\"model\":\"%s\",\"system_fingerprint\":\"fp_bench\",\"choices\":[],\"usage\":"
			 "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
			 c->id, (long)time(NULL), c->model, c->prompt_tokens, c->output, c->prompt_tokens + c->output);
		if (out_event(c, ev) != 0)
			return -1;
	}
	if (out_event(c, "data: [DONE]\n\n") != 0 || out_add(c, "0\r\n\r\n", 5) != 0)
		return -1;
	c->streaming = 0;
	return flush_out(c);
}

static int answer_json(struct conn *c, int status, const char *reason, const char *body)
{
	return out_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			  "x-request-id: req_bench%ld\r\n\r\n%s", status, reason, strlen(body), c->id, body);
}

static int chat(struct conn *c, const char *body, size_t len)
{
	const char *m = json_after(body, len, "\"model\"");
	size_t ml = 0;
	if (m != NULL && *m == '"') {
		m++;
		while (m + ml < body + len && m[ml] != '"' && ml + 1 < sizeof(c->model))
			ml++;
	}
	snprintf(c->model, sizeof(c->model), "%.*s", (int)ml, ml > 0 ? m : "gpt-4o");
	long cap = json_long(body, len, "\"max_completion_tokens\"", json_long(body, len, "\"max_tokens\"", chunks));
	c->output = cap < chunks ? (int)cap : chunks;
	if (c->output < 1)
		c->output = 1;	/* a stream sends at least one word */
	c->prompt_tokens = (int)(len / 8) + 1;
	c->include_usage = json_true(body, len, "\"include_usage\"");
	if (!json_true(body, len, "\"stream\"")) {
		char text[EVENT_MAX], out[EVENT_MAX + 1024];
		words(0, c->output, text, sizeof(text));
		snprintf(out, sizeof(out),
			 "{\"id\":\"chatcmpl-bench%ld\",\"object\":\"chat.completion\",\"created\":%ld,\"model\":\"%s\","
			 "\"system_fingerprint\":\"fp_bench\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
			 "\"content\":\"%s\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],\"usage\":"
			 "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}",
			 c->id, (long)time(NULL), c->model, text, c->output < chunks ? "length" : "stop", c->prompt_tokens,
			 c->output, c->prompt_tokens + c->output);
		return answer_json(c, 200, "OK", out);
	}
	if (out_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
		       "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nx-request-id: req_bench%ld\r\n\r\n",
		       c->id) != 0 ||
	    chunk_event(c, "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", "null") != 0)
		return -1;
	c->streaming = 1;
	c->next_chunk = 1;
	c->due_us = now_us() + interval_us;
	heap_push(c);
	return 0;
}

/* Answers every whole request in c->in (none while a stream runs). -1:
 * close the connection. */
static int serve(struct conn *c)
{
	while (!c->streaming) {
		char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		if (end == NULL) {
			if (c->in_len >= IN_MAX) {
				answer_json(c, 431, "Request Header Fields Too Large", "{\"error\":\"head too large\"}");
				flush_out(c);
				return -1;
			}
			return 0;
		}
		size_t head = (size_t)(end - c->in) + 4;
		long body_len = 0;
		for (char *p = c->in; p < end; p++) {
			if ((p == c->in || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
				body_len = strtol(p + 15, NULL, 10);
		}
		if (body_len < 0 || head + (size_t)body_len > IN_MAX)
			return -1;
		if (c->in_len < head + (size_t)body_len)
			return 0;
		const char *body = c->in + head;
		c->id = ++next_id;
		int rc;
		if (strncmp(c->in, "POST /v1/chat/completions ", 26) == 0)
			rc = chat(c, body, (size_t)body_len);
		else if (strncmp(c->in, "GET /v1/models ", 15) == 0)
			rc = answer_json(c, 200, "OK", "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\",\"object\":\"model\","
					 "\"created\":1700000000,\"owned_by\":\"system\"}]}");
		else
			rc = answer_json(c, 404, "Not Found", "{\"error\":{\"message\":\"unknown URL\","
					 "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"unknown_url\"}}");
		size_t used = head + (size_t)body_len;
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (rc != 0 || flush_out(c) != 0)
			return -1;
	}
	return 0;
}

/* Reads what came and answers it. A client that sends more than IN_MAX
 * ahead while its stream runs is dropped. */
static void on_readable(struct conn *c)
{
	while (c->in_len < IN_MAX) {
		ssize_t n = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			goto drop;
		c->in_len += (size_t)n;
	}
	if (serve(c) == 0 && c->in_len < IN_MAX)
		return;
drop:
	conn_close(c);
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (fd >= CONNS_MAX) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (c != NULL && (c->in = malloc(IN_MAX)) == NULL) {
			free(c);
			c = NULL;
		}
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->heap_at = -1;
		conns[fd] = c;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* The streams due now take their next step. */
static void on_timers(void)
{
	int64_t now = now_us();
	while (heap_len > 0 && heap[0]->due_us <= now) {
		struct conn *c = heap[0];
		if (stream_step(c) != 0) {
			conn_close(c);
			continue;
		}
		if (!c->streaming && c->in_len > 0 && serve(c) != 0)
			conn_close(c);
	}
}

static int listen_on(int port, const char *port_file)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		perror("gwfake: listen");
		return -1;
	}
	if (port_file != NULL) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (f == NULL || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
			perror("gwfake: port file");
			return -1;
		}
	}
	return fd;
}

int main(int argc, char **argv)
{
	int port = 0;
	const char *port_file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--chunks") == 0 && i + 1 < argc)
			chunks = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
			interval_us = strtol(argv[++i], NULL, 10) * 1000;
		else {
			fprintf(stderr, "usage: gwfake [--port N] [--port-file FILE] [--chunks N] [--interval-ms N]\n");
			return 2;
		}
	}
	if (chunks < 0 || chunks > 4096 || interval_us < 0) {
		fprintf(stderr, "gwfake: --chunks 0..4096, --interval-ms >= 0\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	heap = calloc(CONNS_MAX, sizeof(*heap));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	int lfd = listen_on(port, port_file);
	if (heap == NULL || epfd < 0 || lfd < 0)
		return 1;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	struct epoll_event evs[256];
	for (;;) {
		int timeout_ms = -1;
		if (heap_len > 0) {
			int64_t wait = heap[0]->due_us - now_us();
			timeout_ms = wait <= 0 ? 0 : (int)((wait + 999) / 1000);
		}
		int n = epoll_wait(epfd, evs, 256, timeout_ms);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				on_accept(lfd);
				continue;
			}
			struct conn *c = conns[fd];
			if (c == NULL)
				continue;
			if ((evs[i].events & EPOLLOUT) && flush_out(c) != 0) {
				conn_close(c);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
		}
		on_timers();
	}
}
