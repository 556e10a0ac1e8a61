/* provider.h: the gateway's HTTP client to an LLM provider (DESIGN §12),
 * over libcurl: one POST or GET whose answer is handed to the caller as it
 * arrives, for streams to pass on without buffering.
 *
 * One connection per gateway thread (an easy handle kept between calls,
 * so the provider's connection is reused); never shared between threads.
 * Every curl option is set explicitly: TLS verified (http only to a
 * loopback address, for local stand-ins), no redirects, no proxy from the
 * environment for loopback, a connect timeout, a first-byte and an idle
 * timeout, no compression asked (the stream is read as it comes), no
 * "Expect: 100-continue". */
#ifndef CREDITD_PROVIDER_H
#define CREDITD_PROVIDER_H
#include <stddef.h>
#include <stdint.h>

struct provider_conn;

/* 1 when url may be called: https://, or http:// to 127.0.0.1, [::1] or
 * localhost (a port allowed). */
int provider_url_allowed(const char *url);

struct provider_conn *provider_conn_new(void);
void provider_conn_free(struct provider_conn *c);

/* One answer header, as received (name without the colon, value trimmed). */
struct provider_header {
	const char *name;
	const char *value;
};

struct provider_call {
	const char *url;
	const char *const *headers;	/* "Name: value" lines, NULL-terminated */
	const char *body;		/* NULL: a GET */
	size_t body_len;
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
};

enum provider_result {
	PROVIDER_OK = 0,	/* the whole answer was read */
	PROVIDER_CONNECT,	/* no connection (refused, DNS, TLS) */
	PROVIDER_TIMEOUT,	/* connect, first-byte or idle timeout */
	PROVIDER_BROKEN,	/* the connection ended mid-answer or the answer was malformed */
	PROVIDER_STOPPED,	/* a callback said stop */
	PROVIDER_FAILED		/* out of memory, or the URL refused */
};

/* Runs one call; err gets a sentence for the log. A result other than OK
 * after on_head ran means the answer was cut. */
enum provider_result provider_run(struct provider_conn *c, const struct provider_call *call, char *err, size_t errcap);

const char *provider_result_name(enum provider_result r);

#endif
