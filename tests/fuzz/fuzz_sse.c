/* fuzz_sse.c: libFuzzer target for the server-sent-event reader
 * (gwshape_stream_feed) on every route: any bytes, fed whole and then cut
 * at a point the first byte chooses. Both feeds must pass on the same
 * bytes and find the same usage and text: a stream read in pieces is the
 * stream read at once. A crash, a leak or undefined behaviour is a bug. */
#include "gwshape.h"
#include "unit/gateway/gwroutes.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	size_t passed, kept;
	uint64_t hash;
};

static int collect(void *arg, const char *ev, size_t len, int pass)
{
	struct sink *k = arg;
	for (size_t i = 0; i < len; i++)
		k->hash = (k->hash ^ (unsigned char)ev[i]) * 1099511628211ULL;
	if (pass)
		k->passed += len;
	else
		k->kept += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	size_t at = (size_t)data[0] * (size - 1) / 255 + 1;
	const struct gwkind_route *routes[] = {R_CHAT, R_RESPONSES, R_EMBEDDINGS, R_MESSAGES};
	for (int r = 0; r < 4; r++) {
		struct gw_stream a, b;
		struct sink ka = {0, 0, 1469598103934665603ULL}, kb = ka;
		gwshape_stream_init(&a, routes[r], r & 1);
		gwshape_stream_init(&b, routes[r], r & 1);
		int ra = gwshape_stream_feed(&a, (const char *)data + 1, size - 1, collect, &ka);
		int rb = gwshape_stream_feed(&b, (const char *)data + 1, at - 1, collect, &kb);
		if (rb == 0)
			rb = gwshape_stream_feed(&b, (const char *)data + at, size - at, collect, &kb);
		if (ra == 0 && rb == 0 && (ka.passed != kb.passed || ka.kept != kb.kept || ka.hash != kb.hash ||
					   a.text_bytes != b.text_bytes || a.usage.have != b.usage.have ||
					   a.usage.output_tokens != b.usage.output_tokens))
			abort();
		gwshape_stream_free(&a);
		gwshape_stream_free(&b);
	}
	return 0;
}
