/* fuzz_gwpdf.c: libFuzzer target for the page count of a document
 * (gwpdf_pages, gwpdf_pages_base64, gwpdf_file_data): any bytes, as a
 * PDF in a buffer of their exact size, as base64 and as a part's file
 * data. A count is 1..LIMIT_GATEWAY_PDF_PAGES or uncountable with 0;
 * the same bytes read as a PDF and read from their base64 give the same
 * answer. A crash, a read past the buffer, a leak or undefined behaviour
 * is a bug at the edge. */
#include "gwpdf.h"
#include "limits.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(enum gwpdf_kind kind, int64_t pages)
{
	if (kind == GWPDF_COUNTED && (pages < 1 || pages > LIMIT_GATEWAY_PDF_PAGES))
		abort();
	if (kind != GWPDF_COUNTED && pages != 0)
		abort();
}

static char *base64_of(const uint8_t *s, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(n / 3 * 4 + 5);
	size_t o = 0;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size > 0 ? size : 1);
	int64_t pages, again;
	enum gwpdf_kind kind;
	char *b64;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	kind = gwpdf_pages(copy, size, &pages);
	check(kind, pages);
	b64 = base64_of(copy, size);
	if (gwpdf_pages_base64(b64, strlen(b64), &again) != kind || again != pages)
		abort();
	free(b64);
	/* The same bytes as a part's file data (a data URL or not). */
	kind = gwpdf_file_data((const char *)copy, size, &again);
	check(kind, again);
	free(copy);
	return 0;
}
