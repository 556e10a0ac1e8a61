/* test_gwshape_usage.c: unit tests for src/gateway/gwshape_usage.c.
 *
 * Owns the checks of the usage a provider reports, on answers and stream
 * events shaped as OpenAI's and Anthropic's API references give them:
 * whole answers of each route and counts that are no counts; streams fed
 * whole, one byte at a time and split in two at every byte (the same
 * events, bytes and usage), with "\n" and "\r\n" lines; OpenAI's
 * usage-only chunk kept from a client that did not ask; Anthropic's
 * cumulative output and cache tokens; Responses' endings; errors; the
 * event size limit; the estimate. No network, no clock. Samples are
 * written with ' for " (J). */
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

static char *cat(const char *const *parts, size_t n)
{
	size_t i, len = 0;
	char *out;

	for (i = 0; i < n; i++)
		len += strlen(parts[i]);
	out = malloc(len + 1);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		strcat(out, parts[i]);	/* test code: sizes counted above */
	return out;
}

/* The same text with every "\n" made "\r\n". */
static char *crlf(const char *s)
{
	size_t i, j = 0, n = strlen(s);
	char *out = malloc(2 * n + 1);

	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			out[j++] = '\r';
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}
/* ---- usage in a whole answer --------------------------------------------- */

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

static void test_usage_whole(void)
{
	struct gw_usage u;
	int rc;

	u = usage_j(R_CHAT, "{'id':'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG','object':'chat.completion',"
		    "'created':1741570283,'model':'gpt-4o-2024-08-06','choices':[{'index':0,'message':{'role':'assistant',"
		    "'content':'The image shows a wooden boardwalk.','refusal':null,'annotations':[]},'logprobs':null,"
		    "'finish_reason':'stop'}],'usage':{'prompt_tokens':1117,'completion_tokens':46,'total_tokens':1163,"
		    "'prompt_tokens_details':{'cached_tokens':1024,'audio_tokens':0},'completion_tokens_details':"
		    "{'reasoning_tokens':0,'audio_tokens':0,'accepted_prediction_tokens':0,'rejected_prediction_tokens':0}},"
		    "'service_tier':'default','system_fingerprint':'fp_fc9f1d7035'}", &rc);
	is_int(rc, 0, "chat answer read");
	is_usage(u, 1, 1117, 1024, 0, 46, "chat: prompt_tokens with cached, completion_tokens");

	u = usage_j(R_RESPONSES, "{'id':'resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41','object':'response',"
		    "'created_at':1741476777,'status':'completed','error':null,'incomplete_details':null,"
		    "'model':'gpt-4o-2024-08-06','output':[{'type':'message','id':'msg_67ccd3acc8d48190a77525dc6de64b4104becb25"
		    "c45c1d41','status':'completed','role':'assistant','content':[{'type':'output_text','text':'The image "
		    "depicts a scenic landscape.','annotations':[]}]}],'usage':{'input_tokens':328,'input_tokens_details':"
		    "{'cached_tokens':128},'output_tokens':52,'output_tokens_details':{'reasoning_tokens':20},"
		    "'total_tokens':380}}", &rc);
	is_usage(u, 1, 328, 128, 0, 52, "Responses: input_tokens, cached, output_tokens (reasoning included)");
	is_str(u.response_id, "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
	       "Responses: the answer's id, kept for previous_response_id");

	u = usage_j(R_EMBEDDINGS, "{'object':'list','data':[{'object':'embedding','embedding':[0.0023064255,"
		    "-0.009327292,-0.0028842222],'index':0}],'model':'text-embedding-3-small','usage':{'prompt_tokens':8,"
		    "'total_tokens':8}}", &rc);
	is_usage(u, 1, 8, 0, 0, 0, "embeddings: prompt_tokens, no output");

	u = usage_j(R_MESSAGES, "{'id':'msg_013Zva2CMHLNnXjNJJKqJ2EF','type':'message','role':'assistant',"
		    "'model':'claude-sonnet-4-5','content':[{'type':'text','text':'Hi! My name is Claude.'}],"
		    "'stop_reason':'end_turn','stop_sequence':null,'usage':{'input_tokens':2095,"
		    "'cache_creation_input_tokens':2051,'cache_read_input_tokens':300,'output_tokens':503,"
		    "'service_tier':'standard'}}", &rc);
	is_usage(u, 1, 2095 + 2051 + 300, 300, 2051, 503, "Anthropic: input with cache writes and reads");
	u = usage_j(R_MESSAGES, "{'type':'message','usage':{'input_tokens':25,'output_tokens':9}}", &rc);
	is_usage(u, 1, 25, 0, 0, 9, "Anthropic without cache members");
	u = usage_j(R_CHAT, "not json", &rc);
	is_int(rc, -1, "not JSON: -1");
	u = usage_j(R_CHAT, "{'id':'x','usage':null}", &rc);
	is_int(rc, 0, "usage null: read");
	is_usage(u, 0, 0, 0, 0, 0, "usage null: none");
	u = usage_j(R_CHAT, "[1]", &rc);
	ok(rc == 0 && u.have == 0, "an array: no usage");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':-1,'completion_tokens':4}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "a negative count");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':'12','completion_tokens':4}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "a count as a string");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':12,'completion_tokens':4.0}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "a count as a real");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':1000000001,'completion_tokens':4}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "a count past LIMIT_TOKENS_MAX");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':12,'completion_tokens':4,'prompt_tokens_details':"
		    "{'cached_tokens':13}}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "more cached than input");
	u = usage_j(R_RESPONSES, "{'usage':{'input_tokens':12}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "Responses without output_tokens");
	u = usage_j(R_MESSAGES, "{'usage':{'input_tokens':400000000,'cache_creation_input_tokens':400000000,"
		    "'cache_read_input_tokens':400000000,'output_tokens':1}}", &rc);
	is_usage(u, 0, 0, 0, 0, 0, "Anthropic's input sum past LIMIT_TOKENS_MAX");
	u = usage_j(R_MESSAGES, "{'usage':{'input_tokens':4,'cache_read_input_tokens':-1,'output_tokens':1}}",
		    &rc);
	is_usage(u, 0, 0, 0, 0, 0, "Anthropic's negative cache read");
}

/* ---- streams ------------------------------------------------------------- */

struct sink {
	char *passed, *kept;
	size_t passed_len, kept_len;
	char flags[64];
	int events;
	int stop_at;		/* out returns 7 at this event (1-based); 0 never */
};

static void append(char **buf, size_t *len, const char *b, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, b, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static int collect(void *arg, const char *ev, size_t len, int pass)
{
	struct sink *sk = arg;

	if (pass)
		append(&sk->passed, &sk->passed_len, ev, len);
	else
		append(&sk->kept, &sk->kept_len, ev, len);
	if (sk->events < (int)sizeof(sk->flags) - 1)
		sk->flags[sk->events] = pass ? 'P' : 'K';
	sk->events++;
	return sk->stop_at == sk->events ? 7 : 0;
}

struct run {
	struct sink sk;
	struct gw_stream s;
	int rc;
};

#define WHOLE 0
#define SPLIT ((size_t)-1)

/* Feeds text in pieces of step bytes (WHOLE: at once), or with SPLIT the
 * bytes before at, then the rest. */
static void run(struct run *rn, const struct gwkind_route *r, int asked, const char *text, size_t step, size_t at)
{
	size_t len = strlen(text), off = 0, n;

	memset(rn, 0, sizeof(*rn));
	gwshape_stream_init(&rn->s, r, asked);
	if (step == WHOLE) {
		rn->rc = gwshape_stream_feed(&rn->s, text, len, collect, &rn->sk);
		return;
	}
	if (step == SPLIT) {
		rn->rc = gwshape_stream_feed(&rn->s, text, at, collect, &rn->sk);
		if (rn->rc == 0)
			rn->rc = gwshape_stream_feed(&rn->s, text + at, len - at, collect, &rn->sk);
		return;
	}
	while (off < len && rn->rc == 0) {
		n = len - off < step ? len - off : step;
		rn->rc = gwshape_stream_feed(&rn->s, text + off, n, collect, &rn->sk);
		off += n;
	}
}

static void run_free(struct run *rn)
{
	gwshape_stream_free(&rn->s);
	free(rn->sk.passed);
	free(rn->sk.kept);
}

static int same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int same_run(const struct run *a, const struct run *b)
{
	const struct gw_usage *x = &a->s.usage, *y = &b->s.usage;

	return a->rc == b->rc && same_bytes(a->sk.passed, a->sk.passed_len, b->sk.passed, b->sk.passed_len) &&
	       same_bytes(a->sk.kept, a->sk.kept_len, b->sk.kept, b->sk.kept_len) &&
	       strcmp(a->sk.flags, b->sk.flags) == 0 && a->sk.events == b->sk.events && x->have == y->have &&
	       x->input_tokens == y->input_tokens && x->cached_input_tokens == y->cached_input_tokens &&
	       x->cache_write_tokens == y->cache_write_tokens && x->output_tokens == y->output_tokens &&
	       a->s.text_bytes == b->s.text_bytes && a->s.input_seen == b->s.input_seen && a->s.done == b->s.done &&
	       a->s.error == b->s.error && a->s.line_len == b->s.line_len;
}

/* Whole, one byte at a time, and split in two at every byte: the same. */
static void check_splits(const char *what, const struct gwkind_route *r, int asked, const char *text)
{
	struct run whole, piece;
	size_t at, len = strlen(text);
	int differ = 0;

	run(&whole, r, asked, text, WHOLE, 0);
	run(&piece, r, asked, text, 1, 0);
	ok(same_run(&whole, &piece), "%s: one byte at a time reads as the whole", what);
	run_free(&piece);
	for (at = 0; at <= len; at++) {
		run(&piece, r, asked, text, SPLIT, at);
		differ += !same_run(&whole, &piece);
		run_free(&piece);
	}
	is_int(differ, 0, "%s: split at each of %zu bytes reads as the whole", what, len + 1);
	run_free(&whole);
}

static const char *const chat_events[] = {
	"data: {'id':'chatcmpl-123','object':'chat.completion.chunk','created':1694268190,'model':'gpt-4o-mini',"
	"'system_fingerprint':'fp_44709d6fcb','choices':[{'index':0,'delta':{'role':'assistant','content':''},"
	"'logprobs':null,'finish_reason':null}],'usage':null}\n\n",
	"data: {'id':'chatcmpl-123','object':'chat.completion.chunk','created':1694268190,'model':'gpt-4o-mini',"
	"'system_fingerprint':'fp_44709d6fcb','choices':[{'index':0,'delta':{'content':'Hello'},'logprobs':null,"
	"'finish_reason':null}],'usage':null}\n\n",
	"data: {'id':'chatcmpl-123','object':'chat.completion.chunk','created':1694268190,'model':'gpt-4o-mini',"
	"'system_fingerprint':'fp_44709d6fcb','choices':[{'index':0,'delta':{'content':' w\\u00f6rld'},"
	"'logprobs':null,'finish_reason':null}],'usage':null}\n\n",
	"data: {'id':'chatcmpl-123','object':'chat.completion.chunk','created':1694268190,'model':'gpt-4o-mini',"
	"'system_fingerprint':'fp_44709d6fcb','choices':[{'index':0,'delta':{},'logprobs':null,"
	"'finish_reason':'stop'}],'usage':null}\n\n",
	"data: {'id':'chatcmpl-123','object':'chat.completion.chunk','created':1694268190,'model':'gpt-4o-mini',"
	"'system_fingerprint':'fp_44709d6fcb','choices':[],'usage':{'prompt_tokens':2006,'completion_tokens':300,"
	"'total_tokens':2306,'prompt_tokens_details':{'cached_tokens':1920,'audio_tokens':0},"
	"'completion_tokens_details':{'reasoning_tokens':0,'audio_tokens':0,'accepted_prediction_tokens':0,"
	"'rejected_prediction_tokens':0}}}\n\n",
	"data: [DONE]\n\n",
};
#define CHAT_EVENTS 6
#define CHAT_USAGE_EVENT 4

static char *chat_stream(int skip)
{
	char *parts[CHAT_EVENTS], *text;
	const char *list[CHAT_EVENTS];
	size_t i, n = 0;

	for (i = 0; i < CHAT_EVENTS; i++) {
		parts[i] = J(chat_events[i]);
		if ((int)i != skip)
			list[n++] = parts[i];
	}
	text = cat(list, n);
	for (i = 0; i < CHAT_EVENTS; i++)
		free(parts[i]);
	return text;
}

static void test_stream_chat(void)
{
	char *text = chat_stream(-1), *shown = chat_stream(CHAT_USAGE_EVENT), *usage_ev = J(chat_events[CHAT_USAGE_EVENT]);
	char *text_crlf = crlf(text), *shown_crlf = crlf(shown);
	struct run rn;

	run(&rn, R_CHAT, 0, text, WHOLE, 0);
	is_int(rn.rc, 0, "chat stream read");
	is_int(rn.sk.events, 6, "six events");
	is_str(rn.sk.flags, "PPPPKP", "the usage chunk alone is kept from a client that did not ask");
	ok(same_bytes(rn.sk.passed, rn.sk.passed_len, shown, strlen(shown)),
	   "the client gets OpenAI's bytes without the usage chunk, byte for byte");
	ok(same_bytes(rn.sk.kept, rn.sk.kept_len, usage_ev, strlen(usage_ev)), "the kept event is the usage chunk");
	is_usage(rn.s.usage, 1, 2006, 1920, 0, 300, "its usage is kept");
	is_int(rn.s.text_bytes, 5 + 7, "text bytes: Hello and ' wörld' (UTF-8, escape decoded)");
	is_int(rn.s.done, 1, "[DONE] seen");
	is_int(rn.s.error, 0, "no error");
	is_int((int64_t)rn.s.line_len, 0, "nothing left over");
	run_free(&rn);

	run(&rn, R_CHAT, 1, text, WHOLE, 0);
	is_str(rn.sk.flags, "PPPPPP", "a client that asked gets the usage chunk");
	ok(same_bytes(rn.sk.passed, rn.sk.passed_len, text, strlen(text)), "... and every byte");
	run_free(&rn);

	run(&rn, R_CHAT, 0, text_crlf, WHOLE, 0);
	is_str(rn.sk.flags, "PPPPKP", "CRLF lines: the same events");
	ok(same_bytes(rn.sk.passed, rn.sk.passed_len, shown_crlf, strlen(shown_crlf)) &&
	   rn.sk.kept_len == strlen(usage_ev) + 2, "CRLF: passed byte for byte, the CRLF usage chunk kept");
	is_usage(rn.s.usage, 1, 2006, 1920, 0, 300, "CRLF: the same usage");
	run_free(&rn);

	check_splits("chat, hidden usage", R_CHAT, 0, text);
	check_splits("chat, CRLF", R_CHAT, 1, text_crlf);
	free(text);
	free(shown);
	free(usage_ev);
	free(text_crlf);
	free(shown_crlf);
}

/* docs/gateway.md, "Usage reported with an escaped key": a key written with
 * an escape ("us\u0061ge") is the same key to the provider's JSON and to
 * jansson: the scan must not skip it. */
static void test_stream_escaped_keys(void)
{
	static const char *const streams[] = {
		"data: {\"choices\":[],\"us\\u0061ge\":{\"prompt_tokens\":11,\"completion_tokens\":7}}\n\n"
		"data: [DONE]\n\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"c\\u006fntent\":\"abcdefgh\"}}]}\n\n"
		"data: {\"choices\":[],\"usage\":null}\n\n",
	};
	struct run rn;
	run(&rn, R_CHAT, 1, streams[0], WHOLE, 0);
	is_int(rn.rc, 0, "read");
	is_usage(rn.s.usage, 1, 11, 0, 0, 7, "an escaped usage key is read as jansson reads it");
	run_free(&rn);
	run(&rn, R_CHAT, 1, streams[1], WHOLE, 0);
	is_int(rn.s.text_bytes, 8, "an escaped content key's text is counted");
	run_free(&rn);
}

static void test_stream_chat_more(void)
{
	static const char *const tools[] = {
		"data: {'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,"
		"'delta':{'role':'assistant','content':null,'tool_calls':[{'index':0,'id':'call_abc','type':'function',"
		"'function':{'name':'get_weather','arguments':''}}]},'finish_reason':null}]}\n\n",
		": keep-alive\n\n",
		"data: {'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,"
		"'delta':{'tool_calls':[{'index':0,'function':{'arguments':'{\\'loc'}}]},'finish_reason':null}]}\n\n",
		"data: {'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,"
		"'delta':{'tool_calls':[{'index':0,'function':{'arguments':'ation\\': \\'Paris\\'}'}}]},"
		"'finish_reason':null}]}\n\n",
		"data: {'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,"
		"'delta':{},'finish_reason':'tool_calls'}]}\n\n",
		"data: [DONE]\n\n",
	};
	char *parts[6], *text;
	struct run rn;
	size_t i;

	for (i = 0; i < 6; i++)
		parts[i] = J(tools[i]);
	text = cat((const char *const *)parts, 6);
	run(&rn, R_CHAT, 0, text, WHOLE, 0);
	is_str(rn.sk.flags, "PPPPPP", "tool-call stream: every event passed (a comment too)");
	is_int(rn.s.text_bytes, (int64_t)strlen("{\"location\": \"Paris\"}"), "tool arguments counted");
	ok(rn.s.usage.have == 0 && rn.s.done == 1, "no usage, done");
	run_free(&rn);
	check_splits("chat, tool calls", R_CHAT, 0, text);
	free(text);
	for (i = 0; i < 6; i++)
		free(parts[i]);

	/* A compatible provider sending usage with the last content chunk. */
	text = J("data: {'choices':[{'index':0,'delta':{'content':'Hi'}}],'usage':{'prompt_tokens':9,"
		 "'completion_tokens':1}}\n\ndata: [DONE]\n\n");
	run(&rn, R_CHAT, 0, text, WHOLE, 0);
	is_str(rn.sk.flags, "PP", "a chunk with content and usage is passed");
	is_usage(rn.s.usage, 1, 9, 0, 0, 1, "... and its usage kept");
	run_free(&rn);
	free(text);

	text = J("data: {'error':{'message':'The server had an error','type':'server_error','param':null,"
		 "'code':null}}\n\n");
	run(&rn, R_CHAT, 0, text, WHOLE, 0);
	ok(rn.s.error == 1 && strcmp(rn.sk.flags, "P") == 0, "a chunk with an error: error, passed");
	run_free(&rn);
	free(text);

	text = J("data: {'choices':[],'usage':{'prompt_tokens':-3,'completion_tokens':1}}\n\n");
	run(&rn, R_CHAT, 0, text, WHOLE, 0);
	ok(rn.s.usage.have == 0 && strcmp(rn.sk.flags, "K") == 0, "a usage chunk with a bad count: no usage, still kept");
	run_free(&rn);
	free(text);
}

static const char *const anthropic_events[] = {
	"event: message_start\ndata: {'type':'message_start','message':{'id':'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY',"
	"'type':'message','role':'assistant','content':[],'model':'claude-sonnet-4-5','stop_reason':null,"
	"'stop_sequence':null,'usage':{'input_tokens':472,'cache_creation_input_tokens':100,"
	"'cache_read_input_tokens':2000,'output_tokens':2}}}\n\n",
	"event: content_block_start\ndata: {'type':'content_block_start','index':0,'content_block':"
	"{'type':'thinking','thinking':''}}\n\n",
	"event: ping\ndata: {'type': 'ping'}\n\n",
	"event: content_block_delta\ndata: {'type':'content_block_delta','index':0,'delta':{'type':'thinking_delta',"
	"'thinking':'Let me think.'}}\n\n",
	"event: content_block_delta\ndata: {'type':'content_block_delta','index':0,'delta':{'type':'signature_delta',"
	"'signature':'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds'}}\n\n",
	"event: content_block_stop\ndata: {'type':'content_block_stop','index':0}\n\n",
	"event: content_block_delta\ndata: {'type':'content_block_delta','index':1,'delta':{'type':'text_delta',"
	"'text':'Hello'}}\n\n",
	"event: content_block_delta\ndata: {'type':'content_block_delta','index':1,'delta':{'type':'text_delta',"
	"'text':'!'}}\n\n",
	"event: content_block_start\ndata: {'type':'content_block_start','index':2,'content_block':{'type':'tool_use',"
	"'id':'toolu_01T1x1fJ34qAmk2tNTrN7Up6','name':'get_weather','input':{}}}\n\n",
	"event: content_block_delta\ndata: {'type':'content_block_delta','index':2,'delta':{'type':'input_json_delta',"
	"'partial_json':'{\\'location\\': \\'San Fra'}}\n\n",
	"event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':'tool_use','stop_sequence':null},"
	"'usage':{'output_tokens':40}}\n\n",
	"event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':'tool_use','stop_sequence':null},"
	"'usage':{'output_tokens':89}}\n\n",
	"event: message_stop\ndata: {'type':'message_stop'}\n\n",
};
#define ANTHROPIC_EVENTS 13

static char *anthropic_stream(int from, int to, const char *extra)
{
	char *parts[ANTHROPIC_EVENTS + 1], *text;
	int i, n = 0;

	for (i = from; i < to; i++)
		parts[n++] = J(anthropic_events[i]);
	if (extra != NULL)
		parts[n++] = J(extra);
	text = cat((const char *const *)parts, (size_t)n);
	for (i = 0; i < n; i++)
		free(parts[i]);
	return text;
}

static void test_stream_anthropic(void)
{
	char *text = anthropic_stream(0, ANTHROPIC_EVENTS, NULL), *text_crlf = crlf(text);
	int64_t want_text = (int64_t)strlen("Let me think.Hello!{\"location\": \"San Fra");
	struct gw_usage est;
	struct run rn;

	run(&rn, R_MESSAGES, 0, text, WHOLE, 0);
	is_int(rn.rc, 0, "Anthropic stream read");
	is_int(rn.sk.events, ANTHROPIC_EVENTS, "every event");
	ok(same_bytes(rn.sk.passed, rn.sk.passed_len, text, strlen(text)), "passed byte for byte");
	is_usage(rn.s.usage, 1, 472 + 100 + 2000, 2000, 100, 89,
		 "input with cache tokens; output the last message_delta's, not added");
	is_int(rn.s.input_seen, 2572, "input_seen from message_start");
	is_int(rn.s.text_bytes, want_text, "thinking, text and tool JSON counted; the signature not");
	ok(rn.s.done == 1 && rn.s.error == 0, "message_stop: done");
	run_free(&rn);
	check_splits("Anthropic", R_MESSAGES, 0, text);
	check_splits("Anthropic, CRLF", R_MESSAGES, 0, text_crlf);
	free(text);
	free(text_crlf);

	/* Cut before any message_delta: no usage, but the input is known. */
	text = anthropic_stream(0, 8, NULL);
	run(&rn, R_MESSAGES, 0, text, WHOLE, 0);
	ok(rn.s.usage.have == 0 && rn.s.done == 0, "cut before message_delta: no usage, not done");
	is_int(rn.s.input_seen, 2572, "... input_seen kept");
	gwshape_estimate(&rn.s, 90000, 4096, &est);
	is_usage(est, 1, 2572, 2000, 100, (int64_t)(strlen("Let me think.Hello!") + 3) / 4,
		 "estimate: message_start's input and cache figures, ceil(text / 4) output");
	run_free(&rn);
	free(text);

	/* A message_delta that repeats the input (newer API versions, server
	 * tools): the latest figures stand; nulls are missing ones. */
	text = anthropic_stream(0, 1, "event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':"
				"'end_turn'},'usage':{'input_tokens':480,'cache_creation_input_tokens':null,"
				"'cache_read_input_tokens':2000,'output_tokens':12,'server_tool_use':"
				"{'web_search_requests':1}}}\n\n");
	run(&rn, R_MESSAGES, 0, text, WHOLE, 0);
	is_usage(rn.s.usage, 1, 480 + 100 + 2000, 2000, 100, 12, "message_delta's input replaces, null keeps");
	run_free(&rn);
	free(text);

	text = anthropic_stream(0, 1, "event: message_delta\ndata: {'type':'message_delta','usage':"
				"{'output_tokens':-1}}\n\n");
	run(&rn, R_MESSAGES, 0, text, WHOLE, 0);
	ok(rn.s.usage.have == 0, "a negative output: no usage");
	run_free(&rn);
	free(text);

	text = J("event: message_delta\ndata: {'type':'message_delta','usage':{'output_tokens':7}}\n\n");
	run(&rn, R_MESSAGES, 0, text, WHOLE, 0);
	ok(rn.s.usage.have == 0 && rn.s.input_seen == -1, "output without any input: no usage");
	run_free(&rn);
	free(text);

	text = anthropic_stream(0, 2, "event: error\ndata: {'type':'error','error':{'type':'overloaded_error',"
				"'message':'Overloaded'}}\n\n");
	run(&rn, R_MESSAGES, 0, text, WHOLE, 0);
	ok(rn.s.error == 1 && rn.s.done == 0 && rn.sk.events == 3, "an error event: error, passed");
	run_free(&rn);
	free(text);
}

static const char *const responses_events[] = {
	"event: response.created\ndata: {'type':'response.created','sequence_number':0,'response':{'id':'resp_67c9fdcec"
	"f488190bdd9a0409de3a1ec07b8b0ad4e5eb654','object':'response','created_at':1741290958,'status':'in_progress',"
	"'error':null,'incomplete_details':null,'instructions':'You are a helpful assistant.','max_output_tokens':null,"
	"'model':'gpt-4.1-2025-04-14','output':[],'usage':null}}\n\n",
	"event: response.output_item.added\ndata: {'type':'response.output_item.added','sequence_number':2,"
	"'output_index':0,'item':{'id':'msg_67c9','type':'message','status':'in_progress','role':'assistant',"
	"'content':[]}}\n\n",
	"event: response.output_text.delta\ndata: {'type':'response.output_text.delta','sequence_number':4,"
	"'item_id':'msg_67c9','output_index':0,'content_index':0,'delta':'Hi'}\n\n",
	"event: response.output_text.delta\ndata: {'type':'response.output_text.delta','sequence_number':5,"
	"'item_id':'msg_67c9','output_index':0,'content_index':0,'delta':' there!'}\n\n",
	"event: response.function_call_arguments.delta\ndata: {'type':'response.function_call_arguments.delta',"
	"'sequence_number':7,'item_id':'fc_1','output_index':1,'delta':'{\\'a\\':1}'}\n\n",
	"event: response.output_text.done\ndata: {'type':'response.output_text.done','sequence_number':8,"
	"'item_id':'msg_67c9','output_index':0,'content_index':0,'text':'Hi there!'}\n\n",
	"event: response.completed\ndata: {'type':'response.completed','sequence_number':9,'response':{'id':'resp_67c9',"
	"'object':'response','created_at':1741290958,'status':'completed','error':null,'incomplete_details':null,"
	"'model':'gpt-4.1-2025-04-14','output':[{'id':'msg_67c9','type':'message','status':'completed',"
	"'role':'assistant','content':[{'type':'output_text','text':'Hi there!','annotations':[]}]}],"
	"'usage':{'input_tokens':37,'input_tokens_details':{'cached_tokens':0},'output_tokens':11,"
	"'output_tokens_details':{'reasoning_tokens':0},'total_tokens':48}}}\n\n",
};
#define RESPONSES_EVENTS 7

static void test_stream_responses(void)
{
	char *parts[RESPONSES_EVENTS], *text;
	struct run rn;
	size_t i;

	for (i = 0; i < RESPONSES_EVENTS; i++)
		parts[i] = J(responses_events[i]);
	text = cat((const char *const *)parts, RESPONSES_EVENTS);
	run(&rn, R_RESPONSES, 0, text, WHOLE, 0);
	is_str(rn.sk.flags, "PPPPPPP", "Responses: every event passed");
	is_usage(rn.s.usage, 1, 37, 0, 0, 11, "usage from response.completed");
	is_int(rn.s.text_bytes, 2 + 7 + 7, "text and argument deltas counted; output_text.done not");
	is_int(rn.s.done, 1, "response.completed: done");
	is_str(rn.s.usage.response_id, "resp_67c9", "the streamed response's id, from its events");
	run_free(&rn);
	check_splits("Responses", R_RESPONSES, 0, text);
	free(text);
	for (i = 0; i < RESPONSES_EVENTS; i++)
		free(parts[i]);

	text = J("event: response.incomplete\ndata: {'type':'response.incomplete','sequence_number':3,'response':"
		 "{'id':'resp_1','status':'incomplete','incomplete_details':{'reason':'max_output_tokens'},"
		 "'usage':{'input_tokens':1200,'input_tokens_details':{'cached_tokens':1024},'output_tokens':64}}}\n\n");
	run(&rn, R_RESPONSES, 0, text, WHOLE, 0);
	is_usage(rn.s.usage, 1, 1200, 1024, 0, 64, "response.incomplete: usage with cached tokens");
	is_int(rn.s.done, 1, "response.incomplete: done");
	run_free(&rn);
	free(text);

	text = J("event: response.failed\ndata: {'type':'response.failed','sequence_number':3,'response':{'id':'resp_1',"
		 "'status':'failed','error':{'code':'server_error','message':'The model failed.'},'usage':null}}\n\n");
	run(&rn, R_RESPONSES, 0, text, WHOLE, 0);
	ok(rn.s.done == 1 && rn.s.usage.have == 0, "response.failed without usage: done, no usage");
	run_free(&rn);
	free(text);

	text = J("event: error\ndata: {'type':'error','code':'ERR_SOMETHING','message':'Something went wrong',"
		 "'param':null,'sequence_number':1}\n\n");
	run(&rn, R_RESPONSES, 0, text, WHOLE, 0);
	ok(rn.s.error == 1 && rn.s.done == 0, "Responses error event: error");
	run_free(&rn);
	free(text);
}

static void test_stream_limits(void)
{
	size_t big = LIMIT_GATEWAY_EVENT_BYTES;
	char *buf = malloc(big + 16), *text;
	struct run rn;
	struct gw_stream s;
	struct sink sk;

	/* An event of exactly the limit is read. */
	memcpy(buf, "data: ", 6);
	memset(buf + 6, 'x', big - 8);
	memcpy(buf + big - 2, "\n\n", 3);
	memset(&sk, 0, sizeof(sk));
	gwshape_stream_init(&s, R_CHAT, 0);
	is_int(gwshape_stream_feed(&s, buf, big, collect, &sk), 0, "an event of LIMIT_GATEWAY_EVENT_BYTES is read");
	is_int((int64_t)sk.passed_len, (int64_t)big, "... and passed whole");
	ok(s.line == NULL && s.line_cap == 0, "its large buffer is freed once passed");
	free(sk.passed);
	memset(&sk, 0, sizeof(sk));
	/* One byte more, in two feeds. */
	memset(buf + 6, 'x', big - 6);
	buf[big] = '\n';
	is_int(gwshape_stream_feed(&s, buf, big - 100, collect, &sk), 0, "a large event's start is kept");
	is_int(gwshape_stream_feed(&s, buf + big - 100, 101, collect, &sk), -1, "one byte past the limit: -1");
	is_int(sk.events, 0, "nothing passed");
	gwshape_stream_free(&s);

	/* out's nonzero answer stops the feed there. */
	text = J("data: {'choices':[]}\n\ndata: {'choices':[]}\n\ndata: [DONE]\n\n");
	memset(&rn, 0, sizeof(rn));
	rn.sk.stop_at = 2;
	gwshape_stream_init(&rn.s, R_CHAT, 0);
	is_int(gwshape_stream_feed(&rn.s, text, strlen(text), collect, &rn.sk), 7, "out's 7 is returned");
	ok(rn.sk.events == 2 && rn.s.done == 0, "... and the feed stopped after its event");
	run_free(&rn);
	free(text);

	/* A stream cut inside an event: the part stays in line. */
	text = J("data: {'choices':[{'delta':{'content':'ab'}}]}\n\ndata: {'choices':[{'delta':{'cont");
	run(&rn, R_CHAT, 0, text, WHOLE, 0);
	is_int(rn.sk.events, 1, "cut stream: the complete event passed");
	is_int((int64_t)rn.s.line_len, (int64_t)strlen("data: {\"choices\":[{\"delta\":{\"cont"),
	       "... the cut one's bytes left in line");
	is_int(rn.s.text_bytes, 2, "... its text not counted");
	run_free(&rn);
	free(text);

	/* Embeddings never stream: events pass unread. */
	text = J("data: {'choices':[],'usage':{'prompt_tokens':1,'completion_tokens':1}}\n\n");
	run(&rn, R_EMBEDDINGS, 0, text, WHOLE, 0);
	ok(strcmp(rn.sk.flags, "P") == 0 && rn.s.usage.have == 0, "embeddings: passed, unread");
	run_free(&rn);
	free(text);
	free(buf);
}

/* ---- the estimate -------------------------------------------------------- */

static int64_t est_output(int64_t text_bytes, int64_t hold_output)
{
	struct gw_stream s;
	struct gw_usage u;

	gwshape_stream_init(&s, R_CHAT, 0);
	s.text_bytes = text_bytes;
	gwshape_estimate(&s, 100, hold_output, &u);
	return u.output_tokens;
}

static void test_estimate(void)
{
	struct gw_stream s;
	struct gw_usage u;
	struct sink sk;
	char *text;

	is_int(est_output(0, 4096), 0, "no text: no output");
	is_int(est_output(1, 4096), 1, "one byte: one token");
	is_int(est_output(4, 4096), 1, "four bytes: one token");
	is_int(est_output(5, 4096), 2, "five bytes: two (ceil)");
	is_int(est_output(4001, 4096), 1001, "4001 bytes: 1001");
	is_int(est_output(40000, 4096), 4096, "never above the hold's output");
	is_int(est_output(3, 0), 0, "a hold of 0 output stays 0");
	is_int(est_output(INT64_MAX, 2 * LIMIT_TOKENS_MAX), LIMIT_TOKENS_MAX, "held at LIMIT_TOKENS_MAX");

	gwshape_stream_init(&s, R_CHAT, 0);
	gwshape_estimate(&s, 1234, 10, &u);
	is_usage(u, 1, 1234, 0, 0, 0, "no input seen: the hold's input");
	gwshape_estimate(&s, 2 * LIMIT_TOKENS_MAX, 10, &u);
	is_int(u.input_tokens, LIMIT_TOKENS_MAX, "a hold's input past the limit is clamped");
	gwshape_estimate(&s, -5, -5, &u);
	ok(u.input_tokens == 0 && u.output_tokens == 0, "negative holds: 0");

	/* text_bytes saturates instead of wrapping. */
	text = J("data: {'choices':[{'delta':{'content':'Hello'}}]}\n\n");
	memset(&sk, 0, sizeof(sk));
	s.text_bytes = INT64_MAX - 2;
	gwshape_stream_feed(&s, text, strlen(text), collect, &sk);
	ok(s.text_bytes == INT64_MAX, "text bytes held at INT64_MAX");
	gwshape_estimate(&s, 1, LIMIT_TOKENS_MAX, &u);
	is_int(u.output_tokens, LIMIT_TOKENS_MAX, "... and the estimate stays in range");
	gwshape_stream_free(&s);
	free(sk.passed);
	free(text);
}

/* The scan that reads most chat chunks without a parse counts what the
 * parse counts: random content (every escape jansson writes, control
 * characters, non-ASCII of 2 to 4 bytes), compact and spaced, with and
 * without "usage": null, beside chunks it must leave to the parse. */
static void test_chat_scan_counts_as_the_parse(void)
{
	static const char *const pieces[] = {"a", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\xc3\xa9",
					     "\xe2\x82\xac", "\xf0\x9f\x98\x80", "w0 ", "\"content\"", "usage"};
	unsigned seed = 12345;
	int64_t want = 0;
	struct gw_stream st;
	gwshape_stream_init(&st, R_CHAT, 0);
	int ok_all = 1;
	for (int i = 0; i < 2000 && ok_all; i++) {
		char text[256] = "";
		int k = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 8;
		for (int j = 0; j < k; j++)
			strcat(text, pieces[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof(pieces) / sizeof(pieces[0]))]);
		json_t *chunk = json_pack("{s:s, s:[{s:i, s:{s:s}, s:n}]}", "object", "chat.completion.chunk", "choices",
					  "index", 0, "delta", "content", text, "finish_reason");
		if (i % 3 == 0)
			json_object_set_new(chunk, "usage", json_null());
		if (i % 7 == 0)
			json_object_set_new(json_object_get(json_array_get(json_object_get(chunk, "choices"), 0), "delta"),
					    "role", json_string("assistant"));
		want += (int64_t)strlen(text);
		char *data = json_dumps(chunk, i % 2 ? JSON_COMPACT : JSON_INDENT(0));
		char ev[4096];
		/* One data line: a spaced dump's newlines would split it. */
		for (char *c = data; *c; c++)
			if (*c == '\n')
				*c = ' ';
		int n = snprintf(ev, sizeof(ev), "data: %s\n\n", data);
		struct sink sk;
		memset(&sk, 0, sizeof(sk));
		if (gwshape_stream_feed(&st, ev, (size_t)n, collect, &sk) != 0 || st.text_bytes != want)
			ok_all = 0;
		free(sk.passed);
		free(sk.kept);
		free(data);
		json_decref(chunk);
	}
	ok(ok_all, "2,000 random chunks counted as the parse counts them (%lld bytes, want %lld)",
	   (long long)st.text_bytes, (long long)want);
	/* Left to the parse: a usage object (kept, the client did not ask),
	 * logprobs (a second content), a tool call. */
	const char *kept = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
			   "\"total_tokens\":5}}\n\n";
	struct sink sk;
	memset(&sk, 0, sizeof(sk));
	gwshape_stream_feed(&st, kept, strlen(kept), collect, &sk);
	ok(st.usage.have && st.usage.output_tokens == 2 && sk.kept_len > 0, "a usage chunk is still parsed and kept");
	int64_t before = st.text_bytes;
	const char *lp = "data: {\"choices\":[{\"delta\":{\"content\":\"ab\"},\"logprobs\":{\"content\":[]}}]}\n\n";
	gwshape_stream_feed(&st, lp, strlen(lp), collect, &sk);
	is_int(st.text_bytes - before, 2, "logprobs' content left to the parse, the delta's counted once");
	const char *tool = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n";
	gwshape_stream_feed(&st, tool, strlen(tool), collect, &sk);
	is_int(st.text_bytes - before, 4, "a tool call's arguments counted by the parse");
	const char *sur = "data: {\"choices\":[{\"delta\":{\"content\":\"\\ud83d\\ude00\"}}]}\n\n";
	gwshape_stream_feed(&st, sur, strlen(sur), collect, &sk);
	is_int(st.text_bytes - before, 8, "a surrogate pair left to the parse: 4 bytes");
	free(sk.passed);
	free(sk.kept);
	gwshape_stream_free(&st);
}

int main(void)
{
	test_usage_whole();
	test_stream_chat();
	test_stream_chat_more();
	test_stream_escaped_keys();
	test_stream_anthropic();
	test_stream_responses();
	test_stream_limits();
	test_estimate();
	test_chat_scan_counts_as_the_parse();
	printf("# %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
	return done_testing();
}
