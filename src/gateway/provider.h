/* provider.h: the gateway's HTTP client to an LLM provider (docs/gateway.md),
 * over libcurl: one POST, GET or DELETE whose answer is handed to the caller as it
 * arrives, for streams to pass on without buffering.
 *
 * Every call of the gateway runs on one multi handle driven by one thread
 * (the gateway's loop) over epoll: curl's sockets are in the loop's epoll
 * set, the loop hands their events and curl's timer back here, and the
 * multi handle's connection cache keeps the providers' connections
 * between calls. Nothing here is called from two threads.
 * Every curl option is set explicitly: TLS verified (http only to a
 * loopback address, for local stand-ins), no redirects, no proxy from the
 * environment for loopback, a connect timeout, a first-byte and an idle
 * timeout, no compression asked (the stream is read as it comes), no
 * "Expect: 100-continue". */
#ifndef CREDITD_PROVIDER_H
#define CREDITD_PROVIDER_H
#include <stddef.h>
#include <stdint.h>

struct provider_multi;
struct spool;
struct provider_xfer;

/* 1 when url may be called: https://, or http:// to 127.0.0.1, [::1] or
 * localhost (a port allowed). */
int provider_url_allowed(const char *url);

/* One answer header, as received (name without the colon, value trimmed). */
struct provider_header {
	const char *name;
	const char *value;
};

struct provider_call {
	const char *url;
	int allow_http;			/* http:// off loopback too (a provider on a private network) */
	const char *const *headers;	/* "Name: value" lines, NULL-terminated */
	/* The body (docs/gateway.md, "Request bodies"): body_len bytes at
	 * body, in memory; or, when body_file is not NULL, the first body_len
	 * bytes of that file (a body kept on disk: spool.h), read from it as
	 * the connection takes them, never into memory whole, and from its
	 * start again when curl sends the request again. body NULL and
	 * body_file NULL: a GET. */
	const char *body;
	size_t body_len;
	const struct spool *body_file;
	long connect_timeout_ms;
	long first_byte_timeout_ms;	/* from the request sent to the answer's first byte */
	long idle_timeout_ms;		/* between two pieces of the answer */
	/* Called once the answer's headers are complete (the last status
	 * line's): nonzero stops the call (PROVIDER_STOPPED). */
	int (*on_head)(void *arg, int status, const struct provider_header *h, int n);
	/* Called with each piece of the body as it arrives: nonzero stops
	 * the call (PROVIDER_STOPPED). */
	int (*on_data)(void *arg, const char *bytes, size_t n);
	/* Called about once a second while waiting: nonzero stops the call
	 * (PROVIDER_STOPPED), e.g. a drain's deadline. May be NULL. */
	int (*on_tick)(void *arg);
	void *arg;
	/* Another method than the body implies (POST with one, GET
	 * without): "DELETE", sent without a body; NULL: the body's. */
	const char *method;
};

/* A call that ended before the answer's first byte is told apart by
 * whether its request went out in full: every byte of it written to the
 * connection, as libcurl counts them (CURLINFO_REQUEST_SIZE for its head,
 * CURLINFO_SIZE_UPLOAD_T for its body). That is all a client can know of
 * what the provider received; a request not sent in full cannot have been
 * started, one sent in full may have been (docs/gateway.md, "When a
 * provider may already be working"). A reused connection found dead
 * before any byte of the answer is sent again by libcurl itself on a new
 * one (its retry of a reused connection), so it ends here only when the
 * new one fails too. */
enum provider_result {
	PROVIDER_OK = 0,	/* the whole answer was read */
	PROVIDER_CONNECT,	/* not started: no connection (refused, DNS, TLS, connect timeout), or it
				 * ended (reset, closed, or no time left) before the request was sent in full */
	PROVIDER_TIMEOUT,	/* the request sent in full, no first byte in time; or an idle timeout mid-answer */
	PROVIDER_LOST,		/* the request sent in full, the connection ended before any answer */
	PROVIDER_BROKEN,	/* the connection ended mid-answer or the answer was malformed */
	PROVIDER_STOPPED,	/* a callback said stop */
	PROVIDER_FAILED		/* out of memory, or the URL refused: nothing sent */
};

/* The calls of one loop. curl's sockets are added to epfd with
 * epoll_data.u64 = tag | fd (tag's low 32 bits zero). NULL out of memory. */
struct provider_multi *provider_multi_new(int epfd, uint64_t tag);
void provider_multi_free(struct provider_multi *m);
/* Starts call (which must outlive it) for owner; NULL with err set when
 * it cannot start (the call has then ended, PROVIDER_FAILED). */
struct provider_xfer *provider_start(struct provider_multi *m, const struct provider_call *call, void *owner,
				     char *err, size_t errcap);
/* One call run to its end on the calling thread, with an easy handle of
 * its own, not the loop's (a batch job's poll and download, a batch's
 * create: docs/gateway.md, "Batches"); on_head and on_data as above,
 * on_tick not called. total_ms bounds the whole call, idle_timeout_ms
 * (rounded up to seconds) a stall. Its result, err a sentence ("" when
 * PROVIDER_OK). Any thread but the loop's. */
enum provider_result provider_wait(const struct provider_call *call, long total_ms, char *err, size_t errcap);
/* An event of epoll on one of curl's sockets. */
void provider_socket(struct provider_multi *m, int fd, uint32_t epoll_events);
/* Milliseconds until curl's timer is due (-1: none). */
long provider_timer_ms(const struct provider_multi *m);
/* Runs curl's timer when it is due, and every call's deadlines (first
 * byte, idle, on_tick) about each second. */
void provider_timers(struct provider_multi *m);
/* Holds back (1) or lets on (0) a call's answer: a paused call's idle
 * timeout does not run. */
void provider_pause(struct provider_xfer *x, int paused);
/* The next call that ended: its owner and result, err a sentence for the
 * log; the xfer is gone. 0, or -1 when none ended. */
int provider_next_done(struct provider_multi *m, void **owner, enum provider_result *r, char *err, size_t errcap);

#endif
