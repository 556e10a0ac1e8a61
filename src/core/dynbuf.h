/* dynbuf.h: the one growable buffer of creditd (after curl's dynbuf).
 *
 * Bytes that double as they grow, always NUL-terminated, up to a hard
 * maximum set when the buffer is made: nothing in creditd grows without a
 * bound. Once an append fails (past the maximum, or out of memory) the
 * buffer stays failed and every later append fails too, so a caller that
 * checks only at the end can never use a partial result. Not thread-safe:
 * one owner at a time. */
#ifndef CREDITD_DYNBUF_H
#define CREDITD_DYNBUF_H
#include <stddef.h>

struct dynbuf {
	char *data;		/* NULL until the first append; then NUL-terminated */
	size_t len;		/* bytes held, the NUL not counted */
	size_t cap;		/* bytes allocated */
	size_t max;		/* most bytes it may hold, the NUL not counted */
	int failed;		/* an append failed: the content is incomplete */
};

/* An empty buffer that will hold at most max bytes. */
void dynbuf_init(struct dynbuf *b, size_t max);
/* Room for n more bytes (and the NUL) at data + len: the caller writes
 * them, then calls dynbuf_grew(b, n) (or fewer). NULL (and failed) when
 * len + n would pass the maximum or memory runs out. */
char *dynbuf_room(struct dynbuf *b, size_t n);
void dynbuf_grew(struct dynbuf *b, size_t n);
/* Appends n bytes. 0, or -1 (failed). */
int dynbuf_add(struct dynbuf *b, const void *data, size_t n);
/* Appends formatted text. 0, or -1 (failed). */
__attribute__((format(printf, 2, 3)))
int dynbuf_printf(struct dynbuf *b, const char *fmt, ...);
/* Hands the text to the caller (who frees it) and leaves b empty; NULL
 * when b failed or holds nothing. */
char *dynbuf_take(struct dynbuf *b);
/* Empties b for reuse, keeping its memory; clears failed. */
void dynbuf_reset(struct dynbuf *b);
/* Frees what b holds and makes it empty (same maximum). */
void dynbuf_free(struct dynbuf *b);
#endif
