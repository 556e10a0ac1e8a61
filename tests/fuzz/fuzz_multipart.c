/* fuzz_multipart.c: libFuzzer target for the multipart/form-data reader
 * (gwmultipart.h). An input is a Content-Type line, a LF, and a body
 * (the seeds in tests/fuzz/seeds/multipart/ are bodies the official SDKs
 * and curl sent, captured so, and one written by hand as .NET writes
 * them); an input whose Content-Type gives no
 * boundary is read with the boundary "XyZ". The body is read from a
 * buffer of its exact size (ASan: never past len). On success every
 * part's offsets lie inside the body in order, every name is one the
 * header allows and none is given twice, and the same parts written out
 * again as a plain form read back the same: a reading that differs is a
 * bug, as is a crash, a leak or undefined behaviour. */
#include "gwmultipart.h"
#include "limits.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Appends n bytes to a buffer sized by the caller. */
static void put(unsigned char *out, size_t *o, const void *s, size_t n)
{
	memcpy(out + *o, s, n);
	*o += n;
}

static void check_boundary(const char *ct)
{
	char b[GWMULTIPART_BOUNDARY_BYTES], again[GWMULTIPART_BOUNDARY_BYTES], quoted[128];
	enum gwmultipart_err why;
	int n = gwmultipart_boundary(ct, b, sizeof b, &why);

	if (n < 0) {
		if (why != GWMULTIPART_E_TYPE && why != GWMULTIPART_E_BOUNDARY)
			abort();
		if (b[0] != '\0')
			abort();
		return;
	}
	if (why != GWMULTIPART_OK || n < 1 || n > GWMULTIPART_BOUNDARY_MAX || strlen(b) != (size_t)n)
		abort();
	memcpy(quoted, "multipart/form-data; boundary=\"", 31);
	memcpy(quoted + 31, b, (size_t)n);
	memcpy(quoted + 31 + n, "\"", 2);
	if (gwmultipart_boundary(quoted, again, sizeof again, NULL) != n || strcmp(b, again) != 0)
		abort();
}

/* The parts of mp written as a plain form with the same boundary. */
static unsigned char *rewrite(const struct gwmultipart *mp, const char *boundary, size_t *len)
{
	size_t blen = strlen(boundary), cap = 64 + blen, o = 0;
	unsigned char *out;

	for (size_t i = 0; i < mp->n; i++)
		cap += 128 + blen + mp->parts[i].name_len + mp->parts[i].filename_len + mp->parts[i].type_len +
		       mp->parts[i].data_len;
	out = malloc(cap);
	if (out == NULL)
		abort();
	for (size_t i = 0; i < mp->n; i++) {
		const struct gwmultipart_part *p = &mp->parts[i];

		put(out, &o, "--", 2);
		put(out, &o, boundary, blen);
		put(out, &o, "\r\nContent-Disposition: form-data; name=\"", 40);
		put(out, &o, mp->body + p->name_offset, p->name_len);
		put(out, &o, "\"", 1);
		if (p->has_filename) {
			put(out, &o, "; filename=\"", 12);
			put(out, &o, mp->body + p->filename_offset, p->filename_len);
			put(out, &o, "\"", 1);
		}
		put(out, &o, "\r\n", 2);
		if (p->has_type) {
			put(out, &o, "Content-Type: ", 14);
			put(out, &o, mp->body + p->type_offset, p->type_len);
			put(out, &o, "\r\n", 2);
		}
		put(out, &o, "\r\n", 2);
		put(out, &o, mp->body + p->data_offset, p->data_len);
		put(out, &o, "\r\n", 2);
	}
	put(out, &o, "--", 2);
	put(out, &o, boundary, blen);
	put(out, &o, "--\r\n", 4);
	*len = o;
	return out;
}

static int same_bytes(const struct gwmultipart *a, size_t ao, size_t an, const struct gwmultipart *b, size_t bo, size_t bn)
{
	return an == bn && memcmp(a->body + ao, b->body + bo, an) == 0;
}

/* Every part of a good parse, and the same parts read again. */
static void check_parts(const struct gwmultipart *mp, const char *boundary)
{
	struct gwmultipart_part again_parts[LIMIT_GATEWAY_MULTIPART_PARTS];
	struct gwmultipart again;
	size_t end = 0, len;
	unsigned char *out;
	char name[LIMIT_GATEWAY_MULTIPART_NAME_BYTES + 1], text[64];

	if (mp->n < 1 || mp->n > LIMIT_GATEWAY_MULTIPART_PARTS)
		abort();
	for (size_t i = 0; i < mp->n; i++) {
		const struct gwmultipart_part *p = &mp->parts[i];

		if (p->data_offset < end || p->data_offset > mp->len || p->data_len > mp->len - p->data_offset)
			abort();
		end = p->data_offset + p->data_len;
		if (p->name_len < 1 || p->name_len > LIMIT_GATEWAY_MULTIPART_NAME_BYTES || p->name_offset + p->name_len > mp->len)
			abort();
		if (gwmultipart_copy(mp, p->name_offset, p->name_len, name, sizeof name) != 0)
			abort();
		if (gwmultipart_find(mp, name) == NULL || !gwmultipart_is(mp, gwmultipart_find(mp, name), name))
			abort();
		/* A name not an array's ("x[]") is given once. */
		if (gwmultipart_count(mp, name) < 1 ||
		    (gwmultipart_count(mp, name) != 1 && !(p->name_len > 2 && name[p->name_len - 1] == ']' && name[p->name_len - 2] == '[')))
			abort();
		(void)gwmultipart_text(mp, name, text, sizeof text);
	}
	out = rewrite(mp, boundary, &len);
	if (gwmultipart_parse(&again, out, len, boundary, again_parts, LIMIT_GATEWAY_MULTIPART_PARTS) != GWMULTIPART_OK ||
	    again.n != mp->n)
		abort();
	for (size_t i = 0; i < mp->n; i++) {
		const struct gwmultipart_part *p = &mp->parts[i], *q = &again_parts[i];

		if (!same_bytes(mp, p->name_offset, p->name_len, &again, q->name_offset, q->name_len) ||
		    p->has_filename != q->has_filename || p->has_type != q->has_type ||
		    !same_bytes(mp, p->filename_offset, p->filename_len, &again, q->filename_offset, q->filename_len) ||
		    !same_bytes(mp, p->type_offset, p->type_len, &again, q->type_offset, q->type_len) ||
		    !same_bytes(mp, p->data_offset, p->data_len, &again, q->data_offset, q->data_len))
			abort();
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gwmultipart_part parts[LIMIT_GATEWAY_MULTIPART_PARTS];
	struct gwmultipart mp;
	const uint8_t *lf = memchr(data, '\n', size);
	size_t ctn = lf != NULL ? (size_t)(lf - data) : size;
	char *ct = malloc(ctn + 1), boundary[GWMULTIPART_BOUNDARY_BYTES];
	size_t blen = lf != NULL ? size - ctn - 1 : 0;
	unsigned char *body = malloc(blen > 0 ? blen : 1);
	enum gwmultipart_err err;

	if (ct == NULL || body == NULL)
		abort();
	memcpy(ct, data, ctn);
	ct[ctn] = '\0';
	memcpy(body, data + ctn + (lf != NULL), blen);
	check_boundary(ct);
	if (gwmultipart_boundary(ct, boundary, sizeof boundary, NULL) < 0)
		memcpy(boundary, "XyZ", 4);
	err = gwmultipart_parse(&mp, body, blen, boundary, parts, LIMIT_GATEWAY_MULTIPART_PARTS);
	if (gwmultipart_strerror(err) == NULL)
		abort();
	if (err == GWMULTIPART_OK)
		check_parts(&mp, boundary);
	else if (mp.err_offset > blen || mp.n > LIMIT_GATEWAY_MULTIPART_PARTS)
		abort();
	free(body);
	free(ct);
	return 0;
}
