/* test_gwshape_estimate.c: unit tests for the estimate of a stream that
 * ended without usage, and of the usage figures that add to it
 * (src/gateway/gwshape_usage.c, gwkind_openai.c; docs/gateway.md, "The estimate"): an estimate
 * never undercounts: a token a non-ASCII byte of text, one per four ASCII
 * bytes, streamed audio by its duration; an OpenAI-shape total_tokens
 * above its parts counted as output; an unread whole answer counted raw.
 * No network, no clock. Samples are written with ' for " (J). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwshape.h"
#include "unit/gateway/gwroutes.h"
#include "limits.h"
#include "tap.h"
#include "unit/gateway/jsample.h"

static int collect(void *arg, const char *ev, size_t len, int pass)
{
	(void)arg;
	(void)ev;
	(void)len;
	(void)pass;
	return 0;
}

static struct gw_usage usage_j(const struct gwkind_route *r, const char *body_j, int *rc)
{
	char *body = J(body_j);
	struct gw_usage u;

	*rc = gwshape_usage(r, body, strlen(body), &u);
	free(body);
	return u;
}

static void is_usage(struct gw_usage u, int have, int64_t in, int64_t cached, int64_t write, int64_t out,
		     const char *what)
{
	ok(u.have == have && u.input_tokens == in && u.cached_input_tokens == cached && u.cache_write_tokens == write &&
	   u.output_tokens == out, "%s: have %d in %lld cached %lld write %lld out %lld", what, u.have,
	   (long long)u.input_tokens, (long long)u.cached_input_tokens, (long long)u.cache_write_tokens,
	   (long long)u.output_tokens);
}

/* The output an ended stream of these events is estimated at (-1: the
 * stream could not be read). */
static int64_t est_stream(const struct gwkind_route *r, const char *text_j)
{
	char *text = J(text_j);
	struct gw_stream s;
	struct gw_usage u;
	gwshape_stream_init(&s, r, 0);
	int rc = gwshape_stream_feed(&s, text, strlen(text), collect, NULL);
	gwshape_estimate(&s, 10, 100000, &u);
	gwshape_stream_free(&s);
	free(text);
	return rc == 0 && u.have ? u.output_tokens : -1;
}

/* A CJK stream and an emoji stream, through the scan and through the
 * parse, are a token a non-ASCII byte (old: bytes / 4); streamed audio by
 * its duration; a total_tokens above its parts counted as output. */
static void test_estimate_never_under(void)
{
	/* "你好世界" (4 characters, 12 bytes) then "ok": 12 + 1. */
	is_int(est_stream(R_CHAT, "data: {'choices':[{'delta':{'content':'\xe4\xbd\xa0\xe5\xa5\xbd'}}]}\n\n"
			  "data: {'choices':[{'delta':{'content':'\xe4\xb8\x96\xe7\x95\x8cok'}}]}\n\n"),
	       13, "a CJK chat stream (the scan): a token a non-ASCII byte, ASCII by four");
	is_int(est_stream(R_CHAT, "data: {'choices':[{'delta':{'content':'\\u4f60\\u597d'}}]}\n\n"),
	       6, "CJK as \\u escapes (the scan decodes them): 6 bytes, 6 tokens");
	/* Three emoji, 4 bytes each, one as a surrogate pair (the parse). */
	is_int(est_stream(R_CHAT, "data: {'choices':[{'delta':{'content':'\xf0\x9f\x98\x80\xf0\x9f\x8e\x89'}}]}\n\n"
			  "data: {'choices':[{'delta':{'content':'\\ud83d\\ude00'}}]}\n\n"),
	       12, "an emoji stream: 12 bytes, 12 tokens");
	is_int(est_stream(R_MESSAGES, "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
			  "'delta':{'type':'text_delta','text':'\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81"
			  "\xaf'}}\n\n"), 15, "an Anthropic CJK stream: 15 bytes, 15 tokens");
	is_int(est_stream(R_RESPONSES, "event: response.output_text.delta\ndata: {'type':'response.output_text.delta',"
			  "'delta':'\xf0\x9f\x98\x80 hi'}\n\n"), 5, "a Responses emoji and ASCII: 4 + ceil(3 / 4)");
	/* Audio: 64,000 base64 bytes (a second of pcm16 at 24 kHz) are 20
	 * tokens; its transcript is text. A chunk naming audio is parsed. */
	char *audio = malloc(64000 + 256);
	int n = snprintf(audio, 256, "data: {'choices':[{'delta':{'audio':{'id':'audio_1','transcript':'Hi','data':'");
	memset(audio + n, 'A', 64000);
	snprintf(audio + n + 64000, 256, "'}}}]}\n\n");
	is_int(est_stream(R_CHAT, audio), 20 + 1, "a second of streamed audio: 20 tokens, and its transcript's 1");
	free(audio);
	/* A total_tokens above prompt + completion: the rest is output. */
	int rc;
	struct gw_usage u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':100,'completion_tokens':20,'total_tokens':"
				    "5120}}", &rc);
	is_usage(u, 1, 100, 0, 0, 5020, "chat: total_tokens above the sum counted as output");
	u = usage_j(R_RESPONSES, "{'usage':{'input_tokens':10,'output_tokens':5,'total_tokens':45}}", &rc);
	is_usage(u, 1, 10, 0, 0, 35, "Responses: the same");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':100,'completion_tokens':20,'total_tokens':120}}", &rc);
	is_usage(u, 1, 100, 0, 0, 20, "a total equal to the sum changes nothing");
	u = usage_j(R_EMBEDDINGS, "{'usage':{'prompt_tokens':8,'total_tokens':30}}", &rc);
	is_usage(u, 1, 30, 0, 0, 0, "embeddings (no output): the total is the input");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':1,'completion_tokens':2,'total_tokens':'9'}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "a total that is no count: no usage (estimated)");
	/* A whole answer creditd could not read, counted raw. */
	struct gw_stream st;
	gwshape_stream_init(&st, R_CHAT, 0);
	const char *raw = "{\"t\":\"\xe4\xbd\xa0\\u597d\"";
	gwshape_count_raw(&st, raw, strlen(raw));
	is_int(gwshape_estimate_output(&st), 3 + 3 + 2, "raw bytes: 3 non-ASCII, an escape as 3, 7 ASCII as 2");
}

/* A whole answer not kept (no room): its usage read from its last bytes,
 * kept as they come in pieces. */
static void test_usage_from_the_tail(void)
{
	char tail[GW_TAIL_BYTES];
	size_t len = 0;
	struct gw_usage u;
	char *pad = malloc(10000);
	memset(pad, 'x', 10000);
	char *end = J("x'}}],'usage':{'prompt_tokens':12,'completion_tokens':34000,'total_tokens':34012},"
		      "'service_tier':'default'}");
	gwshape_tail_keep(tail, &len, "{'choices':[{'message':{'content':'", 36);
	for (int i = 0; i < 5; i++)
		gwshape_tail_keep(tail, &len, pad, 1000 + (size_t)i * 997);
	gwshape_tail_keep(tail, &len, end, strlen(end));
	is_int((int64_t)len, GW_TAIL_BYTES, "the tail keeps its last bytes only");
	ok(gwshape_usage_tail(R_CHAT, tail, len, &u) == 0, "its usage found in the tail");
	is_usage(u, 1, 12, 0, 0, 34000, "chat: the provider's figures");
	gwshape_tail_keep(tail, &len, pad, 10000);
	ok(gwshape_usage_tail(R_CHAT, tail, len, &u) != 0 && !u.have, "no usage in the tail: -1");
	free(end);
	end = J("'stop_reason':'end_turn','usage':{'input_tokens':7,'cache_read_input_tokens':3,'output_tokens':9}}");
	len = 0;
	gwshape_tail_keep(tail, &len, end, strlen(end));
	ok(gwshape_usage_tail(R_MESSAGES, tail, len, &u) == 0, "Anthropic's too");
	is_usage(u, 1, 10, 3, 0, 9, "with its cache reads");
	free(end);
	end = J("'usage':{'prompt_tokens':-1,'completion_tokens':3}}");
	len = 0;
	gwshape_tail_keep(tail, &len, end, strlen(end));
	ok(gwshape_usage_tail(R_CHAT, tail, len, &u) != 0, "a usage that is no count: -1 (estimated)");
	free(end);
	free(pad);
}

int main(void)
{
	test_estimate_never_under();
	test_usage_from_the_tail();
	printf("# %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
	return done_testing();
}
