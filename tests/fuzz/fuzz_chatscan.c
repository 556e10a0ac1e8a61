/* fuzz_chatscan.c: libFuzzer target holding the chat-chunk scanner to
 * jansson's parse. Any bytes as one OpenAI chat stream event's data: the
 * stream reader (which reads most chunks by a one-pass scan) must count the
 * text and take the usage exactly as a full parse of the same data does
 * (docs/gateway.md, "Usage reported with an escaped key": an escaped key,
 * "us\u0061ge", falls back to the parse). A difference aborts. */
#include "gwshape.h"
#include "unit/gateway/gwroutes.h"
#include "limits.h"
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(void *arg, const char *ev, size_t len, int pass)
{
	(void)arg;
	(void)ev;
	(void)len;
	(void)pass;
	return 0;
}

static int64_t text_of(const json_t *v)
{
	return json_is_string(v) ? (int64_t)json_string_length(v) : 0;
}

/* The text bytes the parse counts in one chat chunk. */
static int64_t parsed_text(const json_t *root)
{
	const json_t *choice, *call;
	size_t i, j;
	int64_t n = 0;
	json_array_foreach(json_object_get(root, "choices"), i, choice) {
		const json_t *delta = json_object_get(choice, "delta");
		n += text_of(json_object_get(delta, "content")) + text_of(json_object_get(delta, "refusal")) +
		     text_of(json_object_get(json_object_get(delta, "function_call"), "arguments"));
		json_array_foreach(json_object_get(delta, "tool_calls"), j, call)
			n += text_of(json_object_get(json_object_get(call, "function"), "arguments"));
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384 || memchr(data, '\n', size) != NULL || memchr(data, '\r', size) != NULL)
		return 0;	/* one data line */
	char *ev = malloc(size + 9);
	if (ev == NULL)
		return 0;
	memcpy(ev, "data: ", 6);
	memcpy(ev + 6, data, size);
	memcpy(ev + 6 + size, "\n\n", 2);
	struct gw_stream s;
	gwshape_stream_init(&s, R_CHAT, 1);
	int rc = gwshape_stream_feed(&s, ev, size + 8, collect, NULL);
	json_error_t jerr;
	json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &jerr);
	if (rc == 0 && json_is_object(root)) {
		struct gw_usage u;
		int64_t want = parsed_text(root);
		if (want > LIMIT_TOKENS_MAX)
			want = LIMIT_TOKENS_MAX;
		if (s.text_bytes != want)
			abort();
		/* The usage, as a whole answer with the same usage reads it. */
		char *whole = json_dumps(root, JSON_COMPACT);
		if (whole != NULL && gwshape_usage(R_CHAT, whole, strlen(whole), &u) == 0 &&
		    json_is_object(json_object_get(root, "usage")) &&
		    (u.have != s.usage.have || (u.have && (u.input_tokens != s.usage.input_tokens ||
							  u.output_tokens != s.usage.output_tokens))))
			abort();
		free(whole);
	}
	json_decref(root);
	gwshape_stream_free(&s);
	free(ev);
	return 0;
}
