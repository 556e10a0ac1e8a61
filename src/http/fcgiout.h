/* fcgiout.h: FastCGI answer records written by creditd itself, for the
 * gateway's calls once a worker hands them over (docs/gateway.md, "Capacity and operations").
 *
 * libfcgi writes a request's answer with blocking writes of its own
 * buffer: right for a worker, wrong for the gateway's one thread that
 * passes on every stream's events (a client that stops reading would
 * stop them all). So a handed-over request's answer is framed here into
 * FCGI_STDOUT records (the FastCGI 1.0 specification, section 8) in a
 * buffer its owner keeps, sent without waiting (what the socket takes
 * now; the rest when it is writable) or with a deadline, and ended with
 * the empty FCGI_STDOUT record and FCGI_END_REQUEST. */
#ifndef CREDITD_FCGIOUT_H
#define CREDITD_FCGIOUT_H
#include <stddef.h>
#include <stdint.h>
#include "dynbuf.h"

/* Bytes framed, not yet sent: the record stream and how much of it went. */
struct fcgiout {
	int fd;
	int request_id;
	struct dynbuf buf;
	size_t sent;		/* bytes of buf already written to fd */
};

/* An empty writer for request_id on fd. */
void fcgiout_init(struct fcgiout *o, int fd, int request_id);
void fcgiout_free(struct fcgiout *o);
/* Frames n bytes of the answer (CGI head first, then the body) as
 * FCGI_STDOUT records. 0, or -1 (out of memory: the answer is broken). */
int fcgiout_write(struct fcgiout *o, const char *bytes, size_t n);
/* Frames the answer's end: the empty FCGI_STDOUT record and
 * FCGI_END_REQUEST (request complete, app status 0). 0 or -1. */
int fcgiout_end(struct fcgiout *o);
/* Sends what is framed. deadline_ms 0: what the socket takes now, no
 * wait; else waits for the socket until deadline_ms (CLOCK_MONOTONIC
 * ms). 0 when all went, 1 when some is left, -1 when the peer is gone
 * (or the buffer broke). */
int fcgiout_send(struct fcgiout *o, int64_t deadline_ms);
/* 1 when framed bytes wait to be sent. */
int fcgiout_pending(const struct fcgiout *o);

#endif
