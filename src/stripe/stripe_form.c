/* stripe_form.c: the form encoding of the Stripe client's requests
 * (stripe.h): Stripe's nested parameters as application/x-www-form-
 * urlencoded pairs, in a buffer capped at STRIPE_FORM_MAX. It never
 * talks to the network (stripe.c does) and never grows past its cap: an
 * add that would pass it fails, and so does every add after it.
 *
 * Why apart from stripe.c: it is pure text work, tested on its own, and
 * the client's file stays readable. */
#include "stripe.h"

#include <assert.h>
#include <string.h>

static const char stripe_hex[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Length of s once escaped; s is at most STRIPE_FORM_MAX bytes long. */
static size_t escaped_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += is_unreserved((unsigned char)*s) ? 1 : 3;
	return n;
}

/* Writes s escaped at dst (room checked by the caller); returns the end. */
static char *escape_into(char *dst, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (is_unreserved(ch)) {
			*dst++ = (char)ch;
		} else {
			*dst++ = '%';
			*dst++ = stripe_hex[ch >> 4];
			*dst++ = stripe_hex[ch & 0x0f];
		}
	}
	return dst;
}

void stripe_form_init(struct stripe_form *f)
{
	dynbuf_init(&f->buf, STRIPE_FORM_MAX);
}

/* Once the buffer failed the body is incomplete, so every later add fails
 * too: a caller that checks only the last add still never sends it. */
int stripe_form_add(struct stripe_form *f, const char *key, const char *value)
{
	if (f == NULL || key == NULL || value == NULL || key[0] == '\0')
		return -1;
	if (strnlen(key, STRIPE_FORM_MAX + 1) > STRIPE_FORM_MAX ||
	    strnlen(value, STRIPE_FORM_MAX + 1) > STRIPE_FORM_MAX) {
		f->buf.failed = 1;
		return -1;
	}
	size_t need = (f->buf.len > 0 ? 1 : 0) + escaped_len(key) + 1 + escaped_len(value);
	char *start = dynbuf_room(&f->buf, need);
	if (start == NULL)
		return -1;
	char *p = start;
	if (f->buf.len > 0)
		*p++ = '&';
	p = escape_into(p, key);
	*p++ = '=';
	p = escape_into(p, value);
	/* What was written is what was measured: the room asked for. */
	assert((size_t)(p - start) == need);
	dynbuf_grew(&f->buf, (size_t)(p - start));
	return 0;
}

void stripe_form_free(struct stripe_form *f)
{
	if (f == NULL)
		return;
	dynbuf_free(&f->buf);
}
