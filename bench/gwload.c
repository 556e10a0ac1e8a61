/* gwload.c: the gateway bench's load generator (`./dev bench --gateway`).
 *
 * N keep-alive HTTP/1.1 connections on one thread (epoll), each sending
 * one POST after another (a closed loop), for a warm-up and then a
 * measured window. It times what wrk cannot: for each call the first byte
 * of the answer (TTFB) and, for streams, the first byte of the first
 * server-sent event's `data:` line, every gap between two events, and
 * whether the stream ended with `data: [DONE]`. Calls that start in the
 * window are the samples; calls/s counts the good ones that end in it.
 * While it runs it counts the streams open (headers received, end not yet)
 * and, with --rss-pid, samples that process's VmRSS, so "RSS with N
 * streams held" is read at the moment they are held.
 *
 * Every wait is bounded: a call not done in --timeout-ms is a timeout
 * (its connection closed and opened again), and the run ends at most
 * --grace s after the window, whatever the server does.
 *
 * usage: gwload --url http://127.0.0.1:PORT/PATH --body FILE [options]
 *   --clients N        connections (1)
 *   --warmup S, --duration S   seconds (1, 5)
 *   --stream           the answers are SSE streams (TTFB = first data: byte)
 *   -H 'Name: value'   a header on every call (repeatable)
 *   --conn-header 'Name: text{n}'  a header per connection: {n} becomes
 *                      the connection's number modulo --conn-mod, 5 digits
 *   --conn-mod N       (100000)
 *   --spread-ms MS     start the connections evenly over MS (0)
 *   --timeout-ms MS    a call's limit (10000)
 *   --stall-ms MS      a stream gap above this is a stall (100)
 *   --min-events N     a stream with fewer events failed (0)
 *   --grace S          after the window, wait this long for calls under way (timeout)
 *   --rss-pid PID      sample /proc/PID/status VmRSS (and Threads) every 250 ms
 * Prints one JSON object. Exit 0 unless it could not run at all. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS_MAX 20000
#define HEAD_MAX (32 * 1024)		/* an answer's status line and headers */
#define SAMPLES_MAX (8 * 1024 * 1024)	/* per series */
#define HEADERS_MAX 16
#define BODY_MAX (1024 * 1024)
#define RSS_SAMPLES_MAX 4096

enum state { IDLE, CONNECTING, SENDING, READING };
enum body_kind { BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct conn {
	int fd, idx;
	enum state state;
	char *req;
	size_t req_len, req_off;
	int64_t next_start_us;
	int64_t t_start, t_first_byte, t_first_data, t_last_event, max_gap_us;
	int64_t max_gap_at;		/* the event the longest gap came before */
	int in_window;
	/* the answer */
	char head[HEAD_MAX];
	size_t head_len;
	int head_done, status, close_after;
	enum body_kind kind;
	long long left;			/* BODY_LENGTH: bytes; BODY_CHUNKED: of this chunk */
	enum chunk_state cs;
	char size_line[40];
	int size_len;
	/* its events */
	char line[16];
	int line_pos, events, done_seen;
};

struct series {
	int64_t *v;
	size_t n;
};

static struct conn *conns;
static int nconn = 1, epfd;
static struct sockaddr_in addr;
static char host[64], path[1024];
static int stream_mode, min_events;
static int64_t timeout_us = 10000000, stall_us = 100000;
static int64_t t0, warm_end, meas_end, hard_end;
static int stopping;
/* connections whose last call went well: the next starts at once */
static int *ready;
static int nready;

/* what the window saw */
static struct series ttfb, total, gaps_max;
static long long ok_started, ok_done_in_window, errors_connect, errors_timeout, errors_closed, errors_status,
	errors_stream, errors_parse, stalls, events_total;
static long long status_counts[600];
static int64_t worst_gap_us;
/* Where stalls came: before the 2nd event, the 3rd-10th, the 11th-60th, later. */
static long long stall_at[4];
/* streams open, sampled */
static long long open_samples, open_sum, open_min = -1, open_max;
static int rss_pid;
static long rss_kib[RSS_SAMPLES_MAX], rss_open[RSS_SAMPLES_MAX], rss_threads_max;
static int rss_n;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void series_add(struct series *s, int64_t v)
{
	if (s->n >= SAMPLES_MAX)
		return;
	if ((s->n & (s->n - 1)) == 0) {	/* 0, 1, 2, 4, ...: grow */
		int64_t *p = realloc(s->v, (s->n ? s->n * 2 : 1024) * sizeof(*p));
		if (p == NULL)
			return;
		s->v = p;
	}
	s->v[s->n++] = v;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- connections ---- */

static void conn_drop(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

static void arm(struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)c->idx};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* The call's end: counted when it started in the window; the
 * connection kept for the next one unless told or failed. */
static void call_end(struct conn *c, int failed_kind)
{
	int64_t now = now_us();
	int ok = failed_kind == 0 && c->status == 200;
	if (ok && stream_mode && (!c->done_seen || c->events < min_events)) {
		ok = 0;
		failed_kind = 5;
	}
	if (c->in_window) {
		if (c->status > 0 && c->status < 600)
			status_counts[c->status]++;
		if (ok) {
			ok_started++;
			series_add(&ttfb, (stream_mode ? c->t_first_data : c->t_first_byte) - c->t_start);
			series_add(&total, now - c->t_start);
			if (stream_mode) {
				series_add(&gaps_max, c->max_gap_us);
				if (c->max_gap_us > stall_us) {
					stalls++;
					stall_at[c->max_gap_at < 2 ? 0 : c->max_gap_at < 10 ? 1 : c->max_gap_at < 60 ? 2 : 3]++;
				}
				if (c->max_gap_us > worst_gap_us)
					worst_gap_us = c->max_gap_us;
				events_total += c->events;
			}
		} else if (failed_kind == 1)
			errors_connect++;
		else if (failed_kind == 2)
			errors_timeout++;
		else if (failed_kind == 3)
			errors_closed++;
		else if (failed_kind == 4)
			errors_parse++;
		else if (failed_kind == 5)
			errors_stream++;
		else
			errors_status++;
	}
	if (ok && now >= warm_end && now < meas_end)
		ok_done_in_window++;
	if (!ok || c->close_after)
		conn_drop(c);
	else
		arm(c, EPOLLIN);
	c->state = IDLE;
	if (ok) {
		c->next_start_us = now;
		ready[nready++] = c->idx;
	} else {
		/* a failed call: the next one after a short pause (tick) */
		c->next_start_us = now + 10000;
	}
}

static void call_start(struct conn *c, int64_t now)
{
	c->t_start = now;
	c->t_first_byte = c->t_first_data = c->t_last_event = 0;
	c->max_gap_us = 0;
	c->max_gap_at = 0;
	c->in_window = now >= warm_end && now < meas_end;
	c->head_len = 0;
	c->head_done = c->status = c->close_after = 0;
	c->line_pos = c->events = c->done_seen = 0;
	c->req_off = 0;
	if (c->fd < 0) {
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1;
		if (c->fd < 0) {
			c->state = IDLE;
			call_end(c, 1);
			return;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)c->idx};
		epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
		if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
			call_end(c, 1);
			return;
		}
		c->state = CONNECTING;
		return;
	}
	c->state = SENDING;
	arm(c, EPOLLOUT);
}

static void on_writable(struct conn *c)
{
	if (c->state == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			call_end(c, 1);
			return;
		}
		c->state = SENDING;
	}
	while (c->req_off < c->req_len) {
		ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			call_end(c, 3);
			return;
		}
		c->req_off += (size_t)n;
	}
	c->state = READING;
	arm(c, EPOLLIN);
}

/* ---- the answer ---- */

/* The answer's body, decoded: its SSE lines and events. */
static void body_bytes(struct conn *c, const char *p, size_t n, int64_t now)
{
	if (!stream_mode)
		return;
	for (size_t i = 0; i < n; i++) {
		char b = p[i];
		if (b == '\n') {
			if (c->line_pos == 0 && c->t_first_data != 0) {
				/* a blank line: an event ends */
				if (c->t_last_event != 0 && now - c->t_last_event > c->max_gap_us) {
					c->max_gap_us = now - c->t_last_event;
					c->max_gap_at = c->events;
				}
				c->t_last_event = now;
				c->events++;
			}
			if (c->line_pos >= 12 && memcmp(c->line, "data: [DONE]", 12) == 0)
				c->done_seen = 1;
			c->line_pos = 0;
			continue;
		}
		if (b == '\r')
			continue;
		if (c->line_pos < (int)sizeof(c->line))
			c->line[c->line_pos] = b;
		c->line_pos++;
		if (c->line_pos == 5 && memcmp(c->line, "data:", 5) == 0 && c->t_first_data == 0)
			c->t_first_data = now;
	}
}

/* Parses the status line and the headers in c->head (NUL-ended). */
static int head_parse(struct conn *c)
{
	if (strncmp(c->head, "HTTP/1.", 7) != 0 || strlen(c->head) < 12)
		return -1;
	c->status = (int)strtol(c->head + 9, NULL, 10);
	c->kind = BODY_CLOSE;
	c->left = -1;
	c->close_after = c->head[7] == '0';
	for (char *line = strstr(c->head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
		char *h = line + 2;
		if (strncasecmp(h, "content-length:", 15) == 0) {
			c->kind = BODY_LENGTH;
			c->left = strtoll(h + 15, NULL, 10);
		} else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strstr(h, "chunked") != NULL) {
			c->kind = BODY_CHUNKED;
			c->cs = CH_SIZE;
			c->size_len = 0;
		} else if (strncasecmp(h, "connection:", 11) == 0) {
			char *v = h + 11;
			while (*v == ' ')
				v++;
			if (strncasecmp(v, "close", 5) == 0)
				c->close_after = 1;
		}
	}
	if (c->status == 204 || c->status == 304 || (c->status >= 100 && c->status < 200)) {
		c->kind = BODY_LENGTH;
		c->left = 0;
	}
	if (c->kind == BODY_CLOSE)
		c->close_after = 1;
	return c->status >= 100 && c->status < 600 ? 0 : -1;
}

/* Feeds the chunked body; 1 at its end, -1 malformed, 0 more to come. */
static int chunked_feed(struct conn *c, const char *p, size_t n, int64_t now)
{
	size_t i = 0;
	while (i < n) {
		switch (c->cs) {
		case CH_SIZE:
		case CH_TRAILER:
			if (p[i] == '\n') {
				c->size_line[c->size_len] = '\0';
				if (c->cs == CH_TRAILER) {
					if (c->size_len == 0 || (c->size_len == 1 && c->size_line[0] == '\r'))
						return 1;
				} else {
					char *end;
					c->left = strtoll(c->size_line, &end, 16);
					if (end == c->size_line || c->left < 0)
						return -1;
					c->cs = c->left == 0 ? CH_TRAILER : CH_DATA;
				}
				c->size_len = 0;
			} else if (c->size_len + 1 < (int)sizeof(c->size_line)) {
				c->size_line[c->size_len++] = p[i];
			}
			i++;
			break;
		case CH_DATA: {
			size_t take = n - i < (size_t)c->left ? n - i : (size_t)c->left;
			body_bytes(c, p + i, take, now);
			c->left -= (long long)take;
			i += take;
			if (c->left == 0)
				c->cs = CH_DATA_END;
			break;
		}
		case CH_DATA_END:
			if (p[i] == '\n')
				c->cs = CH_SIZE;
			i++;
			break;
		}
	}
	return 0;
}

static void on_readable(struct conn *c)
{
	char buf[65536];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		int64_t now = now_us();
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (c->state == IDLE) {
			/* bytes or an end between calls: the server closed */
			conn_drop(c);
			return;
		}
		if (c->state != READING) {
			call_end(c, 3);
			return;
		}
		if (n <= 0) {
			if (c->head_done && c->kind == BODY_CLOSE)
				call_end(c, 0);
			else
				call_end(c, 3);
			return;
		}
		if (c->t_first_byte == 0)
			c->t_first_byte = now;
		const char *p = buf;
		size_t len = (size_t)n;
		if (!c->head_done) {
			size_t take = len < HEAD_MAX - 1 - c->head_len ? len : HEAD_MAX - 1 - c->head_len;
			memcpy(c->head + c->head_len, p, take);
			c->head_len += take;
			c->head[c->head_len] = '\0';
			char *end = strstr(c->head, "\r\n\r\n");
			if (end == NULL) {
				if (c->head_len == HEAD_MAX - 1) {
					call_end(c, 4);
					return;
				}
				continue;
			}
			size_t head_bytes = (size_t)(end - c->head) + 4;
			size_t rest = c->head_len - head_bytes;
			*end = '\0';
			c->head_done = 1;
			if (head_parse(c) != 0) {
				call_end(c, 4);
				return;
			}
			p = buf + (len - rest);
			len = rest;
		}
		if (c->kind == BODY_CHUNKED) {
			int r = chunked_feed(c, p, len, now);
			if (r != 0) {
				call_end(c, r < 0 ? 4 : 0);
				return;
			}
		} else if (c->kind == BODY_LENGTH) {
			size_t take = (long long)len < c->left ? len : (size_t)c->left;
			body_bytes(c, p, take, now);
			c->left -= (long long)take;
			if (c->left == 0) {
				call_end(c, 0);
				return;
			}
		} else {
			body_bytes(c, p, len, now);
		}
	}
}

/* ---- the run ---- */

static void sample(int64_t now)
{
	long long open = 0;
	for (int i = 0; i < nconn; i++)
		open += conns[i].state == READING && conns[i].head_done;
	if (now < warm_end || now >= meas_end)
		return;
	open_samples++;
	open_sum += open;
	if (open_min < 0 || open < open_min)
		open_min = open;
	if (open > open_max)
		open_max = open;
	static int64_t next_rss;
	if (rss_pid <= 0 || now < next_rss || rss_n == RSS_SAMPLES_MAX)
		return;
	next_rss = now + 250000;
	char fn[64], line[256];
	snprintf(fn, sizeof(fn), "/proc/%d/status", rss_pid);
	FILE *f = fopen(fn, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			rss_kib[rss_n] = strtol(line + 6, NULL, 10);
			rss_open[rss_n++] = (long)open;
		} else if (strncmp(line, "Threads:", 8) == 0 && strtol(line + 8, NULL, 10) > rss_threads_max) {
			rss_threads_max = strtol(line + 8, NULL, 10);
		}
	}
	fclose(f);
}

static void tick(int64_t now)
{
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &conns[i];
		if (c->state == IDLE) {
			if (!stopping && now >= c->next_start_us)
				call_start(c, now);
		} else if (now - c->t_start > timeout_us) {
			call_end(c, 2);
		}
	}
}

static int active(void)
{
	for (int i = 0; i < nconn; i++)
		if (conns[i].state != IDLE)
			return 1;
	return 0;
}

static void print_series(const char *name, struct series *s, int last)
{
	if (s->n == 0) {
		printf("  \"%s\": {\"n\": 0}%s\n", name, last ? "" : ",");
		return;
	}
	qsort(s->v, s->n, sizeof(s->v[0]), cmp64);
	long double sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
#define PCT(p) (s->v[(size_t)((p) * (double)(s->n - 1) + 0.5)] / 1000.0)
	printf("  \"%s\": {\"n\": %zu, \"mean_ms\": %.3f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, "
	       "\"max_ms\": %.3f}%s\n", name, s->n, (double)(sum / s->n) / 1000.0, PCT(0.50), PCT(0.90), PCT(0.99),
	       s->v[s->n - 1] / 1000.0, last ? "" : ",");
#undef PCT
}

static int cmplong(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

static void report(double duration_s)
{
	printf("{\n  \"clients\": %d, \"stream\": %s, \"duration_s\": %.3f,\n", nconn, stream_mode ? "true" : "false",
	       duration_s);
	printf("  \"ok\": %lld, \"ok_done_in_window\": %lld, \"calls_per_s\": %.1f,\n", ok_started, ok_done_in_window,
	       ok_done_in_window / duration_s);
	printf("  \"errors\": {\"connect\": %lld, \"timeout\": %lld, \"closed\": %lld, \"parse\": %lld, \"status\": %lld, "
	       "\"stream_incomplete\": %lld},\n", errors_connect, errors_timeout, errors_closed, errors_parse, errors_status,
	       errors_stream);
	printf("  \"failed\": %lld,\n", errors_connect + errors_timeout + errors_closed + errors_parse + errors_status +
	       errors_stream);
	printf("  \"statuses\": {");
	int first = 1;
	for (int s = 0; s < 600; s++) {
		if (status_counts[s] > 0) {
			printf("%s\"%d\": %lld", first ? "" : ", ", s, status_counts[s]);
			first = 0;
		}
	}
	printf("},\n");
	printf("  \"stalls\": %lld, \"stall_ms\": %.1f, \"worst_gap_ms\": %.3f, \"events\": %lld,\n", stalls,
	       stall_us / 1000.0, worst_gap_us / 1000.0, events_total);
	printf("  \"stall_at\": {\"event_2\": %lld, \"events_3_10\": %lld, \"events_11_60\": %lld, \"later\": %lld},\n",
	       stall_at[0], stall_at[1], stall_at[2], stall_at[3]);
	printf("  \"open_streams\": {\"min\": %lld, \"mean\": %.1f, \"max\": %lld},\n", open_min < 0 ? 0 : open_min,
	       open_samples ? (double)open_sum / (double)open_samples : 0.0, open_max);
	if (rss_n > 0) {
		long sorted[RSS_SAMPLES_MAX];
		double open_mean = 0;
		memcpy(sorted, rss_kib, sizeof(long) * (size_t)rss_n);
		qsort(sorted, (size_t)rss_n, sizeof(long), cmplong);
		for (int i = 0; i < rss_n; i++)
			open_mean += (double)rss_open[i];
		printf("  \"rss\": {\"samples\": %d, \"median_kib\": %ld, \"max_kib\": %ld, \"min_kib\": %ld, "
		       "\"open_streams_mean\": %.1f, \"threads_max\": %ld},\n", rss_n, sorted[rss_n / 2], sorted[rss_n - 1],
		       sorted[0], open_mean / rss_n, rss_threads_max);
	}
	print_series("ttfb", &ttfb, 0);
	print_series("total", &total, 0);
	print_series("max_gap", &gaps_max, 1);
	printf("}\n");
}

/* Reads the whole file (the request body); NULL on failure. */
static char *slurp(const char *fn, size_t *len)
{
	FILE *f = fopen(fn, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(BODY_MAX);
	size_t n = buf != NULL ? fread(buf, 1, BODY_MAX, f) : 0;
	fclose(f);
	if (buf == NULL || n == BODY_MAX) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static int parse_url(const char *url)
{
	const char *p = url, *slash, *colon;
	if (strncmp(p, "http://", 7) != 0)
		return -1;
	p += 7;
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (slash == NULL || colon == NULL || colon > slash || (size_t)(colon - p) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - p), p);
	long port = strtol(colon + 1, NULL, 10);
	snprintf(path, sizeof(path), "%s", slash);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	return port > 0 && port < 65536 && inet_pton(AF_INET, host, &addr.sin_addr) == 1 ? 0 : -1;
}

/* The request connection i sends, each time. */
static char *request_for(int i, const char *hdrs[], int nh, const char *conn_header, long conn_mod,
			 const char *body, size_t body_len, size_t *out_len)
{
	size_t cap = body_len + 8192;
	char *r = malloc(cap);
	if (r == NULL)
		return NULL;
	int n = snprintf(r, cap, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n", path, host, ntohs(addr.sin_port), body_len);
	for (int h = 0; h < nh; h++)
		n += snprintf(r + n, cap - (size_t)n, "%s\r\n", hdrs[h]);
	if (conn_header != NULL) {
		const char *at = strstr(conn_header, "{n}");
		if (at == NULL)
			n += snprintf(r + n, cap - (size_t)n, "%s\r\n", conn_header);
		else
			n += snprintf(r + n, cap - (size_t)n, "%.*s%05ld%s\r\n", (int)(at - conn_header), conn_header,
				      (long)i % conn_mod, at + 3);
	}
	n += snprintf(r + n, cap - (size_t)n, "\r\n");
	if ((size_t)n + body_len >= cap) {
		free(r);
		return NULL;
	}
	memcpy(r + n, body, body_len);
	*out_len = (size_t)n + body_len;
	return r;
}

static void usage(void)
{
	fprintf(stderr, "usage: gwload --url http://127.0.0.1:PORT/PATH --body FILE [--clients N] [--warmup S] "
		"[--duration S] [--stream] [-H 'Name: value']... [--conn-header 'Name: x{n}'] [--conn-mod N] "
		"[--spread-ms MS] [--timeout-ms MS] [--stall-ms MS] [--min-events N] [--grace S] [--rss-pid PID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *url = NULL, *body_file = NULL, *conn_header = NULL, *hdrs[HEADERS_MAX];
	double warmup = 1, duration = 5, grace = -1;
	long conn_mod = 100000, spread_ms = 0;
	int nh = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--stream") == 0) {
			stream_mode = 1;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--url") == 0)
			url = v;
		else if (strcmp(a, "--body") == 0)
			body_file = v;
		else if (strcmp(a, "--clients") == 0)
			nconn = (int)strtol(v, NULL, 10);
		else if (strcmp(a, "--warmup") == 0)
			warmup = strtod(v, NULL);
		else if (strcmp(a, "--duration") == 0)
			duration = strtod(v, NULL);
		else if (strcmp(a, "-H") == 0 && nh < HEADERS_MAX)
			hdrs[nh++] = v;
		else if (strcmp(a, "--conn-header") == 0)
			conn_header = v;
		else if (strcmp(a, "--conn-mod") == 0)
			conn_mod = strtol(v, NULL, 10);
		else if (strcmp(a, "--spread-ms") == 0)
			spread_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--timeout-ms") == 0)
			timeout_us = strtoll(v, NULL, 10) * 1000;
		else if (strcmp(a, "--stall-ms") == 0)
			stall_us = strtoll(v, NULL, 10) * 1000;
		else if (strcmp(a, "--min-events") == 0)
			min_events = (int)strtol(v, NULL, 10);
		else if (strcmp(a, "--grace") == 0)
			grace = strtod(v, NULL);
		else if (strcmp(a, "--rss-pid") == 0)
			rss_pid = (int)strtol(v, NULL, 10);
		else
			usage();
	}
	if (url == NULL || body_file == NULL || nconn < 1 || nconn > CLIENTS_MAX || duration <= 0 || warmup < 0 ||
	    conn_mod < 1 || timeout_us <= 0 || parse_url(url) != 0)
		usage();
	size_t body_len;
	char *body = slurp(body_file, &body_len);
	if (body == NULL) {
		fprintf(stderr, "gwload: cannot read %s\n", body_file);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc((size_t)nconn, sizeof(*conns));
	ready = calloc((size_t)nconn, sizeof(*ready));
	if (epfd < 0 || conns == NULL || ready == NULL)
		return 1;
	t0 = now_us();
	warm_end = t0 + (int64_t)(warmup * 1e6);
	meas_end = warm_end + (int64_t)(duration * 1e6);
	hard_end = meas_end + (int64_t)((grace >= 0 ? grace : (double)timeout_us / 1e6) * 1e6);
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &conns[i];
		c->idx = i;
		c->fd = -1;
		c->req = request_for(i, hdrs, nh, conn_header, conn_mod, body, body_len, &c->req_len);
		if (c->req == NULL)
			return 1;
		c->next_start_us = t0 + (int64_t)spread_ms * 1000 * i / nconn;
	}
	struct epoll_event evs[512];
	int64_t next_tick = 0, next_sample = 0;
	for (;;) {
		int64_t now = now_us();
		if (now >= meas_end)
			stopping = 1;
		if (now >= next_tick) {
			tick(now);
			next_tick = now + 2000;
		}
		if (now >= next_sample) {
			sample(now);
			next_sample = now + 100000;
		}
		if ((stopping && !active()) || now >= hard_end)
			break;
		int n = epoll_wait(epfd, evs, 512, 2);
		for (int i = 0; i < n; i++) {
			struct conn *c = &conns[evs[i].data.u32];
			if (c->fd < 0)
				continue;
			if (evs[i].events & EPOLLOUT && (c->state == CONNECTING || c->state == SENDING))
				on_writable(c);
			else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
		}
		if (nready > 0) {
			int64_t at = now_us();
			if (at >= meas_end)
				stopping = 1;
			for (int i = 0; i < nready; i++)
				if (!stopping && conns[ready[i]].state == IDLE)
					call_start(&conns[ready[i]], at);
			nready = 0;
		}
	}
	/* Calls still under way at the hard end: timeouts. */
	for (int i = 0; i < nconn; i++)
		if (conns[i].state != IDLE)
			call_end(&conns[i], 2);
	report(duration);
	return 0;
}
