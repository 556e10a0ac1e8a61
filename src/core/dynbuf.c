/* dynbuf.c: the capped growable buffer (see dynbuf.h). */
#include "dynbuf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DYNBUF_FIRST_BYTES 256

void dynbuf_init(struct dynbuf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->failed = 0;
}

char *dynbuf_room(struct dynbuf *b, size_t n)
{
	if (b->failed || n > b->max - b->len) {
		b->failed = 1;
		return NULL;
	}
	size_t need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : DYNBUF_FIRST_BYTES;
		while (cap < need)
			cap = cap <= (b->max + 1) / 2 ? cap * 2 : b->max + 1;
		char *p = realloc(b->data, cap);
		if (p == NULL) {
			b->failed = 1;
			return NULL;
		}
		b->data = p;
		b->cap = cap;
	}
	return b->data + b->len;
}

void dynbuf_grew(struct dynbuf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

int dynbuf_add(struct dynbuf *b, const void *data, size_t n)
{
	char *p = dynbuf_room(b, n);
	if (p == NULL)
		return -1;
	memcpy(p, data, n);
	dynbuf_grew(b, n);
	return 0;
}

int dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = n >= 0 ? dynbuf_room(b, (size_t)n) : NULL;
	if (p == NULL) {
		b->failed = 1;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	dynbuf_grew(b, (size_t)n);
	return 0;
}

char *dynbuf_take(struct dynbuf *b)
{
	char *out = b->failed ? NULL : b->data;
	if (out == NULL)
		free(b->data);
	dynbuf_init(b, b->max);
	return out;
}

void dynbuf_reset(struct dynbuf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void dynbuf_free(struct dynbuf *b)
{
	free(b->data);
	dynbuf_init(b, b->max);
}
