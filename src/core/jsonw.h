/* jsonw.h: JSON text written straight into a dynbuf.
 *
 * For documents creditd sends rather than answers: the guard's batches
 * hand MariaDB their rows as one JSON parameter (sql/020_batch_calls.sql),
 * built here without a jansson tree. Commas are placed by the writer;
 * strings are escaped (", \ and control characters); the caller's text is
 * valid UTF-8 already (it came from parsed JSON or from creditd itself).
 * Nesting deeper than JW_DEPTH fails the buffer, as any append past its
 * maximum does (dynbuf.h): check b->failed once at the end. */
#ifndef CREDITD_JSONW_H
#define CREDITD_JSONW_H
#include <stddef.h>
#include <stdint.h>
#include "dynbuf.h"

#define JW_DEPTH 8	/* an object of arrays of arrays is as deep as a batch goes */

#define JW_SLICES 16	/* a write CALL's lists: cd_write has 14 */

/* Where the array of one key of the top object lies in the text, and how
 * many elements it has: each is a parameter of its own (a CALL binds its
 * lists one by one, so an empty one costs the server no parsing). */
struct jsonw_slice {
	const char *key;
	size_t off, len;
	int items;
};

struct jw {
	struct dynbuf *b;
	int depth;
	unsigned char items[JW_DEPTH];	/* values written at each level */
	struct jsonw_slice slice[JW_SLICES];
	int nslices;
	int open_slice;			/* the array being written at depth 1, or -1 */
};

void jsonw_init(struct jw *w, struct dynbuf *b);
/* '{' or '[' opens, '}' or ']' closes. */
void jsonw_open(struct jw *w, char c);
void jsonw_close(struct jw *w, char c);
/* An object's key: the value written next is its. */
void jsonw_key(struct jw *w, const char *key);
void jsonw_i64(struct jw *w, int64_t v);
void jsonw_null(struct jw *w);
/* v when has, else null. */
void jsonw_i64_or_null(struct jw *w, int has, int64_t v);
void jsonw_str(struct jw *w, const char *s);	/* NULL: null */
void jsonw_strn(struct jw *w, const char *s, size_t n);
void jsonw_hex(struct jw *w, const unsigned char *data, size_t n);	/* NULL: null */
/* Values written elsewhere, already JSON and comma-separated: the
 * elements of an array, added as they are. */
void jsonw_raw(struct jw *w, const char *text, size_t n);
/* A key whose value is an array: opened, and closed by jsonw_close(w, ']').
 * Arrays of the top object are remembered as slices. */
void jsonw_array(struct jw *w, const char *key);
/* The slice of the top object's key (NULL: none written). */
const struct jsonw_slice *jsonw_slice(const struct jw *w, const char *key);
#endif
