/* test_fcgiout.c: a handed-over request's answer is framed as FastCGI
 * 1.0 records (FCGI_STDOUT, padded, split at 65,535 bytes, ended by the
 * empty FCGI_STDOUT and FCGI_END_REQUEST), sent without waiting when the
 * socket is full (the rest kept, in order) or with a deadline, and a
 * peer that left is told apart from a socket that is only full. */
#include "fcgiout.h"
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what the peer has now (non-blocking) into buf at *len. */
static void drain(int fd, unsigned char *buf, size_t cap, size_t *len)
{
	for (;;) {
		ssize_t n = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);
		if (n <= 0)
			return;
		*len += (size_t)n;
	}
}

/* Parses the records in buf: the STDOUT content joined in out, the
 * records' types in order in types. The record count, or -1 when a
 * record is malformed (version, request id, padding). */
static int parse(const unsigned char *buf, size_t len, int request_id, unsigned char *out, size_t *out_len,
		 int *types, int cap)
{
	size_t at = 0;
	int n = 0;
	*out_len = 0;
	while (at < len && n < cap) {
		if (len - at < 8 || buf[at] != 1 || ((buf[at + 2] << 8) | buf[at + 3]) != request_id)
			return -1;
		size_t clen = (size_t)((buf[at + 4] << 8) | buf[at + 5]), pad = buf[at + 6];
		if ((clen + pad) % 8 != 0 || at + 8 + clen + pad > len)
			return -1;
		types[n++] = buf[at + 1];
		if (buf[at + 1] == 6) {
			memcpy(out + *out_len, buf + at + 8, clen);
			*out_len += clen;
		} else if (buf[at + 1] == 3 && (clen != 8 || buf[at + 8 + 4] != 0)) {
			return -1;
		}
		at += 8 + clen + pad;
	}
	return at == len ? n : -1;
}

int main(void)
{
	int sv[2];
	struct fcgiout o;
	size_t big = 200000, got = 0, out_len = 0;
	unsigned char *text = malloc(big), *buf = malloc(2 * big), *out = malloc(2 * big);
	int types[64], bufsize = 4096;
	ok(text != NULL && buf != NULL && out != NULL, "memory");
	for (size_t i = 0; i < big; i++)
		text[i] = (unsigned char)('a' + i % 26);
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "a socket pair");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));

	fcgiout_init(&o, sv[0], 0x1234);
	ok(fcgiout_write(&o, "Status: 200 OK\r\n\r\n", 18) == 0, "a head framed");
	ok(fcgiout_send(&o, 0) == 0 && !fcgiout_pending(&o), "a small answer goes at once");
	drain(sv[1], buf, 2 * big, &got);
	int n = parse(buf, got, 0x1234, out, &out_len, types, 64);
	ok(n == 1 && types[0] == 6 && out_len == 18 && memcmp(out, "Status: 200 OK\r\n\r\n", 18) == 0,
	   "one FCGI_STDOUT record, padded, with the request's id (%d records, %zu bytes)", n, out_len);
	is_int(got % 8, 0, "records are padded to 8 bytes");

	got = 0;
	ok(fcgiout_write(&o, (const char *)text, big) == 0, "200,000 bytes framed");
	int r = fcgiout_send(&o, 0);
	is_int(r, 1, "a full socket takes part, and the rest is kept (no wait)");
	ok(fcgiout_pending(&o), "pending");
	/* More framed while some waits: it goes after, in order. */
	ok(fcgiout_write(&o, "tail", 4) == 0 && fcgiout_end(&o) == 0, "more framed, then the end");
	int64_t t0 = mono_ms();
	int rounds = 0;
	while ((r = fcgiout_send(&o, 0)) == 1 && rounds++ < 100000)
		drain(sv[1], buf, 2 * big, &got);
	drain(sv[1], buf, 2 * big, &got);
	is_int(r, 0, "sent whole as the peer reads");
	ok(mono_ms() - t0 < 5000, "without waiting on the way");
	n = parse(buf, got, 0x1234, out, &out_len, types, 64);
	ok(n >= 6, "records parse (%d)", n);
	ok(out_len == big + 4 && memcmp(out, text, big) == 0 && memcmp(out + big, "tail", 4) == 0,
	   "the content is the bytes written, in order (%zu)", out_len);
	ok(n >= 2 && types[n - 2] == 6 && types[n - 1] == 3, "it ends with the empty FCGI_STDOUT and FCGI_END_REQUEST");
	int split = 1;
	for (size_t at = 0, i = 0; at < got && i < 3; i++) {
		size_t clen = (size_t)((buf[at + 4] << 8) | buf[at + 5]);
		if (i < 2 && clen != 65535)
			split = 0;
		at += 8 + clen + buf[at + 6];
	}
	ok(split, "a long write is split into records of 65,535 bytes");

	/* A deadline: a peer that does not read makes send give up. */
	ok(fcgiout_write(&o, (const char *)text, big) == 0, "framed again");
	t0 = mono_ms();
	r = fcgiout_send(&o, mono_ms() + 200);
	int64_t waited = mono_ms() - t0;
	is_int(r, 1, "a peer that does not read: some left at the deadline");
	ok(waited >= 150 && waited < 2000, "after waiting up to the deadline (%lld ms)", (long long)waited);

	/* A peer that left is gone, not full. */
	close(sv[1]);
	r = fcgiout_send(&o, 0);
	is_int(r, -1, "a closed peer is -1");
	fcgiout_free(&o);
	close(sv[0]);
	free(text);
	free(buf);
	free(out);
	return done_testing();
}
