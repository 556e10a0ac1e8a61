/* fuzz_fcgiout.c: libFuzzer target for creditd's own FastCGI framing
 * (fcgiout): any bytes, written in pieces whose sizes the input chooses,
 * then ended. The framed buffer must be FastCGI 1.0 records (version 1,
 * the request's id, FCGI_STDOUT with at most 65,535 content bytes and
 * padding under 256) whose content, joined, is the input byte for byte,
 * then the empty FCGI_STDOUT record and one FCGI_END_REQUEST. */
#include "fcgiout.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks the records in b (n bytes) against the answer want (wlen). */
static void check(const unsigned char *b, size_t n, const uint8_t *want, size_t wlen, int id)
{
	size_t at = 0, got = 0;
	int ended_stdout = 0, end_request = 0;
	while (at < n) {
		if (n - at < 8 || b[at] != 1 || ((b[at + 2] << 8) | b[at + 3]) != id || end_request)
			abort();
		size_t clen = (size_t)(b[at + 4] << 8 | b[at + 5]), pad = b[at + 6];
		if (n - at - 8 < clen + pad)
			abort();
		if (b[at + 1] == 6) {		/* FCGI_STDOUT */
			if (ended_stdout || got + clen > wlen || memcmp(b + at + 8, want + got, clen) != 0)
				abort();
			got += clen;
			ended_stdout = clen == 0;
		} else if (b[at + 1] == 3) {	/* FCGI_END_REQUEST */
			if (!ended_stdout || clen != 8)
				abort();
			end_request = 1;
		} else {
			abort();
		}
		at += 8 + clen + pad;
	}
	if (got != wlen || !end_request)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 300000)
		return 0;
	struct fcgiout o;
	int id = 1 + data[0];
	size_t step = 1 + (size_t)data[1] * 517;	/* pieces of 1 to 131,836 bytes */
	const uint8_t *body = data + 2;
	size_t len = size - 2;
	fcgiout_init(&o, -1, id);
	for (size_t off = 0; off < len; off += step)
		if (fcgiout_write(&o, (const char *)body + off, len - off < step ? len - off : step) != 0)
			abort();
	if (fcgiout_end(&o) != 0)
		abort();
	check((const unsigned char *)o.buf.data, o.buf.len, body, len, id);
	fcgiout_free(&o);
	return 0;
}
