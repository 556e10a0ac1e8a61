/* jsonw.c: JSON text into a dynbuf (see jsonw.h). */
#include "jsonw.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void jsonw_init(struct jw *w, struct dynbuf *b)
{
	w->b = b;
	w->depth = 0;
	w->items[0] = 0;
	w->nslices = 0;
	w->open_slice = -1;
}

/* A comma before every value but a level's first (a key's value has had
 * its comma before the key). */
static void sep(struct jw *w)
{
	if (w->items[w->depth]++ > 0)
		dynbuf_add(w->b, ",", 1);
}

void jsonw_open(struct jw *w, char c)
{
	sep(w);
	dynbuf_add(w->b, &c, 1);
	if (w->depth + 1 >= JW_DEPTH) {
		w->b->failed = 1;
		return;
	}
	w->items[++w->depth] = 0;
}

void jsonw_close(struct jw *w, char c)
{
	dynbuf_add(w->b, &c, 1);
	if (w->open_slice >= 0 && w->depth == 2) {
		struct jsonw_slice *s = &w->slice[w->open_slice];
		s->len = w->b->len - s->off;
		s->items = w->items[w->depth];
		w->open_slice = -1;
	}
	if (w->depth > 0)
		w->depth--;
}

void jsonw_key(struct jw *w, const char *key)
{
	jsonw_str(w, key);
	dynbuf_add(w->b, ":", 1);
	w->items[w->depth] = 0;	/* the value follows without a comma */
}

void jsonw_array(struct jw *w, const char *key)
{
	jsonw_key(w, key);
	if (w->depth == 1 && w->nslices < JW_SLICES) {
		w->open_slice = w->nslices;
		w->slice[w->nslices++] = (struct jsonw_slice){key, w->b->len, 0, 0};
	}
	jsonw_open(w, '[');
}

const struct jsonw_slice *jsonw_slice(const struct jw *w, const char *key)
{
	for (int i = 0; i < w->nslices; i++)
		if (w->slice[i].key == key || strcmp(w->slice[i].key, key) == 0)
			return &w->slice[i];
	return NULL;
}

void jsonw_i64(struct jw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);
	sep(w);
	dynbuf_add(w->b, num, (size_t)n);
}

void jsonw_null(struct jw *w)
{
	sep(w);
	dynbuf_add(w->b, "null", 4);
}

void jsonw_i64_or_null(struct jw *w, int has, int64_t v)
{
	if (has)
		jsonw_i64(w, v);
	else
		jsonw_null(w);
}

void jsonw_strn(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	sep(w);
	char *out = dynbuf_room(w->b, 6 * n + 2);	/* every byte as \u00XX at worst */
	if (out == NULL)
		return;
	size_t k = 0;
	out[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[k++] = '\\';
			out[k++] = (char)c;
		} else if (c < 0x20) {
			memcpy(out + k, "\\u00", 4);
			out[k + 4] = hex[c >> 4];
			out[k + 5] = hex[c & 15];
			k += 6;
		} else {
			out[k++] = (char)c;
		}
	}
	out[k++] = '"';
	dynbuf_grew(w->b, k);
}

void jsonw_str(struct jw *w, const char *s)
{
	if (s == NULL)
		jsonw_null(w);
	else
		jsonw_strn(w, s, strlen(s));
}

void jsonw_hex(struct jw *w, const unsigned char *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (data == NULL) {
		jsonw_null(w);
		return;
	}
	sep(w);
	char *out = dynbuf_room(w->b, 2 * n + 2);
	if (out == NULL)
		return;
	out[0] = '"';
	for (size_t i = 0; i < n; i++) {
		out[1 + 2 * i] = hex[data[i] >> 4];
		out[2 + 2 * i] = hex[data[i] & 15];
	}
	out[2 * n + 1] = '"';
	dynbuf_grew(w->b, 2 * n + 2);
}

void jsonw_raw(struct jw *w, const char *text, size_t n)
{
	if (n == 0)
		return;
	sep(w);
	dynbuf_add(w->b, text, n);
}
