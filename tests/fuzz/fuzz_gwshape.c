/* fuzz_gwshape.c: libFuzzer target for the gateway's request shaper
 * (gwshape_read, gwshape_upstream_body): any bytes as a request body on
 * each route. What it reads must hold together (an input bound within
 * LIMIT_TOKENS_MAX, a cap in range, the documents' pages' tokens a part
 * of it), and the body sent upstream must be
 * JSON that reads back with the same model, stream flag and the cap
 * written. A crash, a leak or undefined behaviour is a bug at the edge. */
#include "gwshape.h"
#include "unit/gateway/gwroutes.h"
#include "limits.h"
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void upstream(const struct gwkind_route *r, const char *body, size_t len, const struct gw_ask *ask, int64_t cap)
{
	size_t out_len = 0;
	char *out = gwshape_upstream_body(r, body, len, ask, cap, NULL, &out_len);
	if (out == NULL) {
		if (out_len != len && out_len != (size_t)-1)
			abort();
		return;
	}
	struct gw_ask again;
	char err[256];
	const char *param;
	/* What creditd sends reads back as what it held. */
	if (gwshape_read(r, out, out_len, &again, err, sizeof(err), &param) != 0)
		abort();
	if (strcmp(again.model, ask->model) != 0 || again.stream != ask->stream)
		abort();
	if (cap >= 0 && (ask->output_cap < 0 || cap < ask->output_cap) && again.output_cap != cap)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > LIMIT_BODY_DEFAULT_BYTES)
		return 0;
	const struct gwkind_route *routes[] = {R_CHAT, R_RESPONSES, R_EMBEDDINGS, R_MESSAGES};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct gwkind_route *r = routes[i];
		struct gw_ask ask;
		char err[256];
		const char *param = NULL;
		if (gwshape_read(r, (const char *)data, size, &ask, err, sizeof(err), &param) != 0) {
			if (err[0] == '\0')
				abort();	/* a refusal always says why */
			continue;
		}
		if (ask.input_bound < 0 || ask.input_bound > LIMIT_TOKENS_MAX || ask.choices < 1)
			abort();
		if (ask.output_cap != -1 && (ask.output_cap < 1 || ask.output_cap > LIMIT_TOKENS_MAX))
			abort();
		/* The documents' pages are a part of the bound, none without pages. */
		if (ask.doc_pages < 0 || ask.doc_tokens < 0 || ask.doc_tokens > ask.input_bound ||
		    (ask.doc_pages == 0 && ask.doc_tokens != 0))
			abort();
		upstream(r, (const char *)data, size, &ask, -1);
		upstream(r, (const char *)data, size, &ask, 7);
	}
	return 0;
}
