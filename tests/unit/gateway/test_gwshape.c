/* test_gwshape.c: unit tests for src/gateway/gwshape.c.
 *
 * Owns the checks of what a gateway request asks and of what is sent on,
 * on bodies shaped as OpenAI's and Anthropic's API references give them:
 * each route's model, stream and cap, and each refusal naming its member
 * (a top-level member's kind and a required one: test_gwshape_kinds.c);
 * the input bound with image parts (at any depth, compact lengths,
 * numbers that grow when written again), its floor and its ceiling; the
 * upstream body rewritten member for member and in order; creditd's
 * errors in each provider's shape and Anthropic's type for each status.
 * The usage and the streams are test_gwshape_usage.c's. No network, no
 * clock. Samples are written with ' for " (J). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwshape.h"
#include "gwtable.h"
#include "unit/gateway/gwroutes.h"
#include "limits.h"
#include "tap.h"
#include "unit/gateway/jsample.h"

/* ---- gwshape_read -------------------------------------------------------- */

static void refused(const struct gwkind_route *r, const char *body_j, const char *want_param, const char *what)
{
	struct gw_ask ask;
	char err[256] = "";
	const char *param = "unset";
	int rc = read_j(r, body_j, &ask, err, sizeof(err), &param);

	is_int(rc, -1, "%s: refused", what);
	is_str(param, want_param, "%s: param (%s)", what, err);
	ok(err[0] != '\0' && (want_param == NULL || strstr(err, want_param) != NULL), "%s: the sentence names it", what);
}

static void test_read_chat(void)
{
	static const char body_j[] =
		"{'model':'gpt-4o','messages':[{'role':'developer','content':'You are a helpful assistant.'},"
		"{'role':'user','content':'Hello!'}],'stream':true,'stream_options':{'include_usage':true},"
		"'max_completion_tokens':512,'temperature':0.7}";
	char *body = J(body_j);
	struct gw_ask ask;
	char err[256];
	const char *param = "unset";

	is_int(gwshape_read(R_CHAT, body, strlen(body), &ask, err, sizeof(err), &param), 0, "chat body read");
	is_str(ask.model, "gpt-4o", "model");
	is_int(ask.stream, 1, "stream");
	is_int(ask.usage_asked, 1, "include_usage asked by the client");
	is_int(ask.output_cap, 512, "max_completion_tokens is the cap");
	is_str(ask.cap_field, "max_completion_tokens", "cap_field");
	is_int(ask.choices, 1, "one choice");
	is_int(ask.input_bound, (int64_t)strlen(body), "no image: the bound is the body's bytes");
	ok(param == NULL, "no param on success");
	free(body);

	is_int(read_j(R_CHAT, "{'model':'gpt-4o','messages':[],'max_tokens':300}", &ask, err, sizeof(err), NULL),
	       0, "max_tokens alone");
	is_int(ask.output_cap, 300, "max_tokens is the cap");
	is_str(ask.cap_field, "max_tokens", "cap_field names the member the client used");
	is_int(ask.stream, 0, "not streamed");
	read_j(R_CHAT, "{'model':'gpt-4o','messages':[]}", &ask, err, sizeof(err), NULL);
	is_int(ask.output_cap, -1, "no cap: -1");
	is_str(ask.cap_field, "max_completion_tokens", "no cap: a lowered one goes to max_completion_tokens");
	read_j(R_CHAT, "{'model':'gpt-4o','max_tokens':900,'max_completion_tokens':100}", &ask, err, sizeof(err),
	       NULL);
	is_int(ask.output_cap, 900, "both caps: the larger bounds the output");
	is_str(ask.cap_field, "max_completion_tokens", "both caps: max_completion_tokens");
	is_int(read_j(R_CHAT, "{'model':'gpt-4o','stream':null,'max_tokens':null,'n':null,'stream_options':null}",
		      &ask, err, sizeof(err), NULL), 0, "OpenAI's nulls are members left out");
	ok(ask.stream == 0 && ask.output_cap == -1 && ask.choices == 1 && ask.usage_asked == 0, "nulls read as absent");
	read_j(R_CHAT, "{'model':'gpt-4o','n':4,'max_tokens':50,'stream':true,"
	       "'stream_options':{'include_usage':false}}", &ask, err, sizeof(err), NULL);
	is_int(ask.choices, 4, "n is the number of choices");
	is_int(ask.usage_asked, 0, "include_usage false is not asked");
}

static void test_read_routes(void)
{
	struct gw_ask ask;
	char err[256];
	const char *param;

	is_int(read_j(R_RESPONSES, "{'model':'gpt-4.1','input':'Tell me a story.','max_output_tokens':1024,"
		      "'stream':true}", &ask, err, sizeof(err), &param), 0, "Responses body read");
	is_int(ask.output_cap, 1024, "max_output_tokens");
	is_str(ask.cap_field, "max_output_tokens", "Responses cap_field");
	is_int(ask.usage_asked, 0, "Responses has no include_usage");
	read_j(R_RESPONSES, "{'model':'gpt-4.1','input':'x'}", &ask, err, sizeof(err), &param);
	is_int(ask.output_cap, -1, "Responses without a cap");
	is_str(ask.cap_field, "max_output_tokens", "... a lowered one goes to max_output_tokens");

	is_int(read_j(R_MESSAGES, "{'model':'claude-sonnet-4-5','max_tokens':1024,'stream':true,"
		      "'messages':[{'role':'user','content':'Hello, world'}]}", &ask, err, sizeof(err), &param), 0,
	       "Anthropic body read");
	is_int(ask.output_cap, 1024, "max_tokens");
	is_str(ask.cap_field, "max_tokens", "Anthropic cap_field");
	is_int(ask.stream, 1, "Anthropic streams");

	is_int(read_j(R_EMBEDDINGS, "{'input':'The food was delicious and the waiter...',"
		      "'model':'text-embedding-3-small','encoding_format':'float','stream':true}", &ask, err, sizeof(err),
		      &param), 0, "embeddings body read");
	is_int(ask.output_cap, -1, "embeddings: no cap");
	ok(ask.cap_field == NULL, "embeddings: no cap field");
	is_int(ask.stream, 0, "embeddings never stream");
	is_str(ask.model, "text-embedding-3-small", "embeddings model");
	ok(R_EMBEDDINGS->kind == &gwkind_openai && R_EMBEDDINGS->input_only, "embeddings are OpenAI's, input only");
	ok(R_RESPONSES->kind == &gwkind_openai && !R_RESPONSES->input_only, "Responses are OpenAI's");
	ok(R_MESSAGES->kind == &gwkind_anthropic, "Messages are Anthropic's");
	ok(gwkind_of_path("/anthropic") == &gwkind_anthropic && gwkind_of_path("/openai/v1/x") == &gwkind_openai &&
	   gwkind_of_path("/openaix/v1") == NULL && gwkind_of_path("/v1/accounts") == NULL, "a path's kind by its prefix");
	ok(gwkind_route("/openai/v1/models") == NULL && gwkind_named("anthropic") == &gwkind_anthropic &&
	   gwkind_route_named("gw_openai_chat") == R_CHAT, "routes by path and by name");

	/* 64 bytes is the longest model name. */
	is_int(read_j(R_CHAT, "{'model':'mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm'}",
		      &ask, err, sizeof(err), &param), 0, "a 64-byte model");
	is_int((int64_t)strlen(ask.model), 64, "kept whole");
	is_int(read_j(R_CHAT, "{'model':'m','max_completion_tokens':1000000000}", &ask, err, sizeof(err), &param),
	       0, "a cap of LIMIT_TOKENS_MAX");
}

static void test_read_refusals(void)
{
	struct gw_ask ask;
	char err[256] = "";
	const char *param = "unset";

	refused(R_CHAT, "not json", NULL, "not JSON");
	refused(R_CHAT, "[1,2]", NULL, "an array");
	refused(R_CHAT, "", NULL, "an empty body");
	is_int(read_j(R_CHAT, "{'model':'a','max_tokens':1,'max_tokens':100000}", &ask, err, sizeof(err), &param),
	       -1, "a repeated key is refused");
	ok(param == NULL && strstr(err, "duplicate") != NULL, "... the sentence says so: %s", err);
	refused(R_CHAT, "{'messages':[]}", "model", "no model");
	refused(R_CHAT, "{'model':5}", "model", "a model that is a number");
	refused(R_CHAT, "{'model':''}", "model", "an empty model");
	refused(R_CHAT, "{'model':'mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm'}", "model",
		"a 65-byte model");
	refused(R_CHAT, "{'model':'a\\u0000b'}", "model", "a model with a NUL");
	refused(R_CHAT, "{'model':'a\\nb'}", "model", "a model with a newline");
	refused(R_CHAT, "{'model':'m','stream':'yes'}", "stream", "stream as a string");
	refused(R_CHAT, "{'model':'m','stream':1}", "stream", "stream as a number");
	refused(R_MESSAGES, "{'model':'m','max_tokens':1,'stream':null}", "stream", "Anthropic's null stream");
	refused(R_CHAT, "{'model':'m','max_completion_tokens':0}", "max_completion_tokens", "a cap of 0");
	refused(R_CHAT, "{'model':'m','max_completion_tokens':-5}", "max_completion_tokens", "a negative cap");
	refused(R_CHAT, "{'model':'m','max_completion_tokens':1.5}", "max_completion_tokens", "a real cap");
	refused(R_CHAT, "{'model':'m','max_completion_tokens':'100'}", "max_completion_tokens", "a string cap");
	refused(R_CHAT, "{'model':'m','max_completion_tokens':true}", "max_completion_tokens", "a boolean cap");
	refused(R_CHAT, "{'model':'m','max_completion_tokens':1000000001}", "max_completion_tokens",
		"a cap past LIMIT_TOKENS_MAX");
	refused(R_CHAT, "{'model':'m','max_tokens':0}", "max_tokens", "chat max_tokens 0");
	refused(R_CHAT, "{'model':'m','n':0}", "n", "n 0");
	refused(R_CHAT, "{'model':'m','n':129}", "n", "n past 128");
	refused(R_CHAT, "{'model':'m','stream':true,'stream_options':'x'}", "stream_options",
		"stream_options not an object");
	refused(R_CHAT, "{'model':'m','stream':true,'stream_options':{'include_usage':'yes'}}",
		"stream_options.include_usage", "include_usage not a boolean");
	refused(R_RESPONSES, "{'model':'m','max_output_tokens':0}", "max_output_tokens", "Responses cap 0");
	refused(R_MESSAGES, "{'model':'claude-sonnet-4-5','messages':[]}", "max_tokens",
		"Anthropic without max_tokens");
	refused(R_MESSAGES, "{'model':'claude-sonnet-4-5','max_tokens':null}", "max_tokens",
		"Anthropic's null max_tokens");
	refused(R_MESSAGES, "{'model':'claude-sonnet-4-5','max_tokens':0}", "max_tokens",
		"Anthropic max_tokens 0");
	refused(R_EMBEDDINGS, "{'input':'x'}", "model", "embeddings without a model");
	is_int(gwshape_read(R_CHAT, NULL, 0, &ask, err, sizeof(err), &param), -1, "no body at all");
	/* JSON, but past what jansson reads: the member named all the same. */
	refused(R_CHAT, "{'model':'m','max_tokens':9223372036854775808}", "max_tokens", "a cap past 64 bits");
	refused(R_MESSAGES, "{'model':'m','max_tokens':-9223372036854775809}", "max_tokens", "a cap below -2^63");
	refused(R_CHAT, "{'model':'m','messages':[{'role':'user','content':'x'}],'logit_bias':{'50256':1e2,'7':"
		"18446744073709551616}}", "logit_bias.7", "a number past 64 bits below the top");
	refused(R_CHAT, "{'model':'m','tools':[{'type':'function','function':{'name':'f','strict':true}},"
		"{'x':[1,99999999999999999999]}]}", "tools[1].x[1]", "in an array");
}

/* ---- the input bound ----------------------------------------------------- */

static int64_t bound_of(const struct gwkind_route *r, const char *body)
{
	struct gw_ask ask;
	char err[256];

	if (gwshape_read(r, body, strlen(body), &ask, err, sizeof(err), NULL) != 0) {
		printf("# %s\n", err);
		return -1;
	}
	return ask.input_bound;
}

static void test_bound_images(void)
{
	/* A 1×1 PNG as OpenAI's reference sends it. */
	static const char img_chat[] =
		"{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAf"
		"FcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==','detail':'high'}}";
	static const char img_resp[] =
		"{'type':'input_image','image_url':'https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/"
		"Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg'}";
	static const char img_anth[] =
		"{'type':'image','source':{'type':'base64','media_type':'image/jpeg','data':'/9j/4AAQSkZJRgABAQAAAQABAAD'}}";
	char body[4096], *part;
	const int64_t I = LIMIT_GATEWAY_IMAGE_TOKENS;

	part = J(img_chat);
	snprintf(body, sizeof(body), "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		 "\"text\",\"text\":\"What is in this image?\"},%s]}],\"max_tokens\":300}", part);
	is_int(bound_of(R_CHAT, body), (int64_t)(strlen(body) - strlen(part)) + I,
	       "chat: the body less the image part, plus LIMIT_GATEWAY_IMAGE_TOKENS");
	free(part);

	part = J(img_resp);
	snprintf(body, sizeof(body), "{\"model\":\"gpt-4.1\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
		 "\"input_text\",\"text\":\"what is in this image?\"},%s,%s]}],\"max_output_tokens\":1024}", part, part);
	is_int(bound_of(R_RESPONSES, body), (int64_t)(strlen(body) - 2 * strlen(part)) + 2 * I,
	       "Responses: two input_image parts");
	free(part);

	/* Inside a tool_result: found at any depth, and an image part inside
	 * an image part is not counted twice. */
	part = J(img_anth);
	snprintf(body, sizeof(body), "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
		 "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":[%s]},%s,"
		 "{\"type\":\"text\",\"text\":\"Describe this image.\"}]}]}", part, part);
	is_int(bound_of(R_MESSAGES, body), (int64_t)(strlen(body) - 2 * strlen(part)) + 2 * I,
	       "Anthropic: images in a tool_result and in the message");
	free(part);

	snprintf(body, sizeof(body), "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"type\":\"image\",\"x\":"
		 "{\"type\":\"image\"}}]}");
	is_int(bound_of(R_MESSAGES, body),
	       (int64_t)(strlen(body) - strlen("{\"type\":\"image\",\"x\":{\"type\":\"image\"}}")) + I,
	       "a part inside an image part is part of its bytes");

	/* Whitespace in the body is not in jansson's compact text: the bound
	 * only grows by it. */
	snprintf(body, sizeof(body), "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[ { \"type\" : "
		 "\"image_url\" ,  \"image_url\" : { \"url\" : \"https://x/y.png\" } } ]}]}");
	is_int(bound_of(R_CHAT, body),
	       (int64_t)(strlen(body) - strlen("{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}")) + I,
	       "the part's compact length is subtracted");

	snprintf(body, sizeof(body), "{\"model\":\"text-embedding-3-small\",\"input\":[{\"type\":\"image\"}]}");
	is_int(bound_of(R_EMBEDDINGS, body), (int64_t)strlen(body), "embeddings: the body's bytes");
	snprintf(body, sizeof(body), "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"type\":\"image\\u0000x\"}]}");
	is_int(bound_of(R_MESSAGES, body), (int64_t)strlen(body), "a type with a NUL is no image");
}

/* Numbers with a fraction or an exponent grow when jansson writes them
 * again: a part full of them must not take more off the bound than it
 * took in the body, and the bound never goes below the images' tokens. */
static void test_bound_floor(void)
{
	size_t cap = 64 * 1024, k;
	char *body = malloc(cap), *part = malloc(cap);
	size_t plen;
	int64_t b;
	json_t *parsed;

	if (body == NULL || part == NULL)
		return;
	strcpy(part, "{\"type\":\"image\",\"x\":[");
	for (k = 0; k < 2000; k++)
		strcat(part, k == 0 ? "1e300" : ",1e300");
	strcat(part, "]}");
	plen = strlen(part);
	int n = snprintf(body, cap, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[%s]}", part);
	ok(n > 0 && (size_t)n < cap, "the body fits (%d bytes)", n);
	parsed = json_loads(part, 0, NULL);
	ok(json_dumpb(parsed, NULL, 0, JSON_COMPACT) > plen + 30000,
	   "jansson writes the part much longer than the body has it");
	json_decref(parsed);
	b = bound_of(R_MESSAGES, body);
	ok(b >= (int64_t)(strlen(body) - plen) + LIMIT_GATEWAY_IMAGE_TOKENS,
	   "the bound is at least the body less the part's own bytes plus the image (%lld)", (long long)b);
	ok(b >= LIMIT_GATEWAY_IMAGE_TOKENS, "and never below the image's tokens");

	snprintf(body, cap, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"type\":\"image\"},{\"type\":\"image\"}]}");
	is_int(bound_of(R_MESSAGES, body), (int64_t)strlen(body) - 32 + 2 * LIMIT_GATEWAY_IMAGE_TOKENS,
	       "bare image parts: the rest of the body plus two images");
	free(body);
	free(part);
}

/* The bound stops at LIMIT_TOKENS_MAX: 160,000 image parts would be
 * 1.024e9 tokens; 150,000 are 9.6e8 plus the rest of the body. */
static void test_bound_ceiling(void)
{
	static const char head[] = "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[";
	static const char img[] = "{\"type\":\"image\"}";
	size_t n, k, cap = sizeof(head) + 160000 * sizeof(img) + 8;
	char *body = malloc(cap), *p;
	struct gw_ask ask;
	char err[256];

	for (n = 150000; n <= 160000; n += 10000) {
		p = body;
		memcpy(p, head, sizeof(head) - 1);
		p += sizeof(head) - 1;
		for (k = 0; k < n; k++) {
			if (k > 0)
				*p++ = ',';
			memcpy(p, img, sizeof(img) - 1);
			p += sizeof(img) - 1;
		}
		memcpy(p, "]}", 3);
		is_int(gwshape_read(R_MESSAGES, body, strlen(body), &ask, err, sizeof(err), NULL), 0,
		       "%zu image parts read", n);
		if (n == 150000)
			is_int(ask.input_bound, (int64_t)(strlen(body) - n * 16) + (int64_t)n * LIMIT_GATEWAY_IMAGE_TOKENS,
			       "150,000 images: exact, below the ceiling");
		else
			is_int(ask.input_bound, LIMIT_TOKENS_MAX, "160,000 images: held at LIMIT_TOKENS_MAX");
	}
	free(body);
}

/* ---- the body sent upstream ---------------------------------------------- */

/* 1 when every member of a but skip is in b, equal, and b's members are
 * a's in a's order with any new ones (listed in added) at the end. */
static int same_but(const json_t *a, const json_t *b, const char *skip, const char *added)
{
	const char *key;
	json_t *v;
	void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);

	json_object_foreach((json_t *)a, key, v) {
		if ((skip == NULL || strcmp(key, skip) != 0) && !json_equal(v, json_object_get(b, key)))
			return 0;
	}
	for (; ia != NULL; ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
		if (ib == NULL || strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0)
			return 0;
	}
	for (; ib != NULL; ib = json_object_iter_next((json_t *)b, ib)) {
		if (added == NULL || strstr(added, json_object_iter_key(ib)) == NULL)
			return 0;
	}
	return 1;
}

/* Reads body_j for r, asks for the upstream body with cap; returns the
 * parsed result (NULL when unchanged) and the original in *orig. */
static json_t *upstream(const struct gwkind_route *r, const char *body_j, int64_t cap, json_t **orig, int *unchanged_len)
{
	char *body = J(body_j), err[256];
	struct gw_ask ask;
	size_t outlen = 0;
	char *text;
	json_t *out = NULL;

	*orig = json_loads(body, JSON_ALLOW_NUL, NULL);
	*unchanged_len = 0;
	if (gwshape_read(r, body, strlen(body), &ask, err, sizeof(err), NULL) != 0) {
		printf("# %s\n", err);
		free(body);
		return NULL;
	}
	text = gwshape_upstream_body(r, body, strlen(body), &ask, cap, NULL, &outlen);
	if (text == NULL) {
		*unchanged_len = outlen == strlen(body);
	} else {
		out = json_loadb(text, outlen, JSON_ALLOW_NUL, NULL);
		if (outlen != strlen(text))
			out = NULL;
	}
	free(text);
	free(body);
	return out;
}

static void test_upstream_usage(void)
{
	json_t *orig, *out;
	int same;

	out = upstream(R_CHAT, "{'model':'gpt-4o','stream':true,'messages':[{'role':'user','content':"
		       "'Hi \\u00e9\\u0000 \\ud83d\\ude00'}],'temperature':0.7,'max_completion_tokens':100,"
		       "'logit_bias':{'50256':-100},'seed':123456789012,'top_p':1e-3}", -1, &orig, &same);
	ok(out != NULL, "streamed chat without include_usage: rewritten");
	ok(same_but(orig, out, NULL, "stream_options"), "every member kept, in order, stream_options at the end");
	ok(json_is_true(json_object_get(json_object_get(out, "stream_options"), "include_usage")),
	   "stream_options.include_usage true");
	is_int(json_object_size(json_object_get(out, "stream_options")), 1, "nothing else in it");
	json_decref(orig);
	json_decref(out);

	out = upstream(R_CHAT, "{'model':'gpt-4o','stream':true,'stream_options':{'include_obfuscation':false},"
		       "'messages':[]}", -1, &orig, &same);
	ok(same_but(orig, out, "stream_options", NULL), "stream_options stays in its place");
	ok(json_is_false(json_object_get(json_object_get(out, "stream_options"), "include_obfuscation")) &&
	   json_is_true(json_object_get(json_object_get(out, "stream_options"), "include_usage")),
	   "other stream_options kept beside include_usage");
	json_decref(orig);
	json_decref(out);

	out = upstream(R_CHAT, "{'model':'gpt-4o','stream':true,'stream_options':{'include_usage':false}}", -1,
		       &orig, &same);
	ok(json_is_true(json_object_get(json_object_get(out, "stream_options"), "include_usage")),
	   "include_usage false becomes true");
	json_decref(orig);
	json_decref(out);

	out = upstream(R_CHAT, "{'model':'gpt-4o','stream':true,'stream_options':{'include_usage':true}}", -1,
		       &orig, &same);
	ok(out == NULL && same, "the client asked for usage: sent as is (NULL, outlen the body's)");
	json_decref(orig);
	out = upstream(R_CHAT, "{'model':'gpt-4o','messages':[]}", -1, &orig, &same);
	ok(out == NULL && same, "not streamed: sent as is");
	json_decref(orig);
	out = upstream(R_RESPONSES, "{'model':'gpt-4.1','stream':true,'input':'x'}", -1, &orig, &same);
	ok(out == NULL && same, "Responses streamed: sent as is");
	json_decref(orig);
	out = upstream(R_MESSAGES, "{'model':'claude-sonnet-4-5','stream':true,'max_tokens':10}", -1, &orig,
		       &same);
	ok(out == NULL && same, "Anthropic streamed: sent as is");
	json_decref(orig);
}

static void check_cap(const struct gwkind_route *r, const char *body_j, int64_t cap, const char *field, const char *added,
		      const char *what)
{
	json_t *orig, *out;
	int same;

	out = upstream(r, body_j, cap, &orig, &same);
	ok(out != NULL, "%s: rewritten", what);
	is_int(json_integer_value(json_object_get(out, field)), cap, "%s: %s is the lowered cap", what, field);
	ok(same_but(orig, out, field, added), "%s: the rest kept, in order", what);
	json_decref(orig);
	json_decref(out);
}

static void test_upstream_cap(void)
{
	json_t *orig, *out;
	int same;

	check_cap(R_CHAT, "{'model':'gpt-4o','max_completion_tokens':4096,'messages':[]}", 1000,
		  "max_completion_tokens", NULL, "chat max_completion_tokens");
	check_cap(R_CHAT, "{'model':'gpt-4o','max_tokens':4096,'messages':[]}", 200, "max_tokens", NULL,
		  "chat max_tokens alone");
	out = upstream(R_CHAT, "{'model':'gpt-4o','max_tokens':4096,'messages':[]}", 200, &orig, &same);
	ok(json_object_get(out, "max_completion_tokens") == NULL, "max_completion_tokens is not added beside max_tokens");
	json_decref(orig);
	json_decref(out);
	check_cap(R_CHAT, "{'model':'gpt-4o','messages':[]}", 300, "max_completion_tokens", "max_completion_tokens",
		  "chat without a cap");
	out = upstream(R_CHAT, "{'model':'gpt-4o','max_tokens':900,'max_completion_tokens':800}", 256, &orig,
		       &same);
	ok(json_integer_value(json_object_get(out, "max_tokens")) == 256 &&
	   json_integer_value(json_object_get(out, "max_completion_tokens")) == 256, "both members: both lowered");
	json_decref(orig);
	json_decref(out);
	out = upstream(R_CHAT, "{'model':'gpt-4o','stream':true,'messages':[]}", 512, &orig, &same);
	ok(json_integer_value(json_object_get(out, "max_completion_tokens")) == 512 &&
	   json_is_true(json_object_get(json_object_get(out, "stream_options"), "include_usage")) &&
	   same_but(orig, out, NULL, "stream_options max_completion_tokens"), "usage option and cap together");
	json_decref(orig);
	json_decref(out);

	check_cap(R_RESPONSES, "{'model':'gpt-4.1','input':'x'}", 256, "max_output_tokens", "max_output_tokens",
		  "Responses without a cap");
	check_cap(R_RESPONSES, "{'model':'gpt-4.1','max_output_tokens':9000,'input':'x'}", 256,
		  "max_output_tokens", NULL, "Responses max_output_tokens");
	check_cap(R_MESSAGES, "{'model':'claude-sonnet-4-5','max_tokens':8192,'stream':true,'messages':[]}", 1024,
		  "max_tokens", NULL, "Anthropic max_tokens");

	out = upstream(R_CHAT, "{'model':'gpt-4o','max_completion_tokens':4096}", 4096, &orig, &same);
	ok(out == NULL && same, "a cap equal to the asked one: unchanged");
	json_decref(orig);
	out = upstream(R_CHAT, "{'model':'gpt-4o','max_completion_tokens':4096}", 5000, &orig, &same);
	ok(out == NULL && same, "a cap above the asked one: unchanged");
	json_decref(orig);
	out = upstream(R_MESSAGES, "{'model':'c','max_tokens':10}", -1, &orig, &same);
	ok(out == NULL && same, "cap -1: unchanged");
	json_decref(orig);
	out = upstream(R_EMBEDDINGS, "{'model':'text-embedding-3-small','input':'x'}", 10, &orig, &same);
	ok(out == NULL && same, "embeddings: never a cap");
	json_decref(orig);
}

/* ---- errors -------------------------------------------------------------- */

static void is_error(const struct gwkind *p, int status, const char *creditd_j, const char *want_j, const char *what)
{
	char *in = J(creditd_j), *want = J(want_j);
	char *got = gwshape_error(p, status, in, strlen(in));

	is_str(got, want, "%s", what);
	free(got);
	free(in);
	free(want);
}

static void test_errors(void)
{
	static const char credit[] = "{'error':{'type':'insufficient_quota','code':'insufficient_credits','message':"
				     "'Not enough credit for this call','param':null,'balance_micros':5,"
				     "'required_micros':1200}}";
	static const struct {
		int status;
		const char *type;
	} types[] = {
		{ 400, "invalid_request_error" }, { 401, "authentication_error" }, { 402, "billing_error" },
		{ 403, "permission_error" }, { 404, "not_found_error" }, { 409, "invalid_request_error" },
		{ 413, "request_too_large" }, { 418, "invalid_request_error" }, { 429, "rate_limit_error" },
		{ 500, "api_error" }, { 502, "api_error" }, { 503, "api_error" }, { 529, "overloaded_error" },
	};
	size_t i;
	char *in = J(credit), *got;
	json_t *v;

	is_error(&gwkind_openai, 402, credit, "{'error':{'message':'Not enough credit for this call','type':'insufficient_quota',"
		 "'param':null,'code':'insufficient_credits','balance_micros':5,'required_micros':1200}}",
		 "OpenAI 402: message, type, param, code, then the figures");
	is_error(&gwkind_anthropic, 402, credit, "{'type':'error','error':{'type':'billing_error','message':"
		 "'Not enough credit for this call','code':'insufficient_credits','balance_micros':5,'required_micros':1200}}",
		 "Anthropic 402: billing_error, creditd's code and figures");
	is_error(&gwkind_anthropic, 400, "{'error':{'type':'invalid_request_error','code':'unknown_model','message':"
		 "'model has no price','param':'model'}}", "{'type':'error','error':{'type':'invalid_request_error',"
		 "'message':'model has no price','code':'unknown_model','param':'model'}}",
		 "Anthropic 400: a param with a value kept");
	is_error(&gwkind_openai, 429, "{'error':{'type':'rate_limit_error','code':'rate_limited','message':'Too many requests',"
		 "'param':null,'retry_after_seconds':12}}", "{'error':{'message':'Too many requests','type':"
		 "'rate_limit_error','param':null,'code':'rate_limited','retry_after_seconds':12}}",
		 "OpenAI 429: retry_after_seconds kept");
	is_error(&gwkind_openai, 503, "{'error':{'code':'provider_not_configured'}}", "{'error':{'message':'','type':null,"
		 "'param':null,'code':'provider_not_configured'}}", "missing members: empty message, nulls");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		got = gwshape_error(&gwkind_anthropic, types[i].status, in, strlen(in));
		v = got != NULL ? json_loads(got, 0, NULL) : NULL;
		is_str(json_string_value(json_object_get(json_object_get(v, "error"), "type")), types[i].type,
		       "Anthropic %d is %s", types[i].status, types[i].type);
		json_decref(v);
		free(got);
	}
	ok(gwshape_error(&gwkind_openai, 500, "not json", 8) == NULL, "not JSON: NULL");
	ok(gwshape_error(&gwkind_openai, 500, "{\"ok\":true}", 11) == NULL, "not an error: NULL");
	ok(gwshape_error(&gwkind_anthropic, 500, "{\"error\":\"x\"}", 13) == NULL, "an error that is no object: NULL");
	free(in);
}

/* docs/gateway.md, "Input the body does not carry": input stored at the
 * provider is named; background read apart. */
static void stored(const struct gwkind_route *r, const char *body_j, const char *want)
{
	struct gw_ask ask;
	char err[256] = "";
	const char *param = NULL;
	int rc = read_j(r, body_j, &ask, err, sizeof(err), &param);
	is_int(rc, 0, "read: %s (%s)", body_j, err);
	is_str(ask.stored, want, "stored input named: %s", body_j);
}

static void background(const struct gwkind_route *r, const char *body_j, int want)
{
	struct gw_ask ask;
	char err[256] = "";
	const char *param = NULL;
	int rc = read_j(r, body_j, &ask, err, sizeof(err), &param);
	is_int(rc, 0, "read: %s (%s)", body_j, err);
	is_int(ask.background, want, "background read: %s", body_j);
}

static void previous(const struct gwkind_route *r, const char *body_j, const char *want, int want_rc)
{
	struct gw_ask ask;
	char err[256] = "";
	const char *param = NULL;
	int rc = read_j(r, body_j, &ask, err, sizeof(err), &param);
	is_int(rc, want_rc, "read: %s (%s)", body_j, err);
	if (rc == 0)
		is_str(ask.previous_response, want, "previous_response_id read apart: %s", body_j);
	else
		is_str(param, "previous_response_id", "named: %s", err);
}

static void test_read_stored(void)
{
	const struct gwkind_route *R = R_RESPONSES, *C = R_CHAT, *A = R_MESSAGES;
	stored(R, "{'model':'m','input':'hi'}", NULL);
	/* previous_response_id is read apart: creditd lets it through for the
	 * account's own responses (api_gateway checks it), and the rest of
	 * the body is still searched. */
	stored(R, "{'model':'m','input':'hi','previous_response_id':'resp_1'}", NULL);
	previous(R, "{'model':'m','input':'hi','previous_response_id':'resp_1'}", "resp_1", 0);
	stored(R, "{'model':'m','input':'hi','previous_response_id':'resp_1','conversation':'c'}", "conversation");
	previous(R, "{'model':'m','input':'hi','previous_response_id':null}", "", 0);
	previous(R, "{'model':'m','input':'hi','previous_response_id':7}", "", -1);
	stored(R, "{'model':'m','input':'hi','previous_response_id':null}", NULL);
	stored(R, "{'model':'m','input':'hi','conversation':'conv_1'}", "conversation");
	stored(R, "{'model':'m','prompt':{'id':'pmpt_1'}}", "prompt");
	stored(R, "{'model':'m','input':[{'role':'user','content':[{'type':'input_file','file_id':'file-1'}]}]}",
	       "file_id");
	stored(R, "{'model':'m','input':[{'role':'user','content':[{'type':'input_file','file_url':'https://x/a.pdf'}]}]}",
	       "file_url");
	stored(R, "{'model':'m','input':'hi','tools':[{'type':'file_search','vector_store_ids':['vs_1']}]}", "tools");
	stored(R, "{'model':'m','input':'hi','tools':[{'type':'code_interpreter','container':'cntr_1'}]}", "tools");
	stored(R, "{'model':'m','input':'hi','tools':[{'type':'function','name':'f'}]}", NULL);
	stored(R, "{'model':'m','input':[{'type':'item_reference','id':'msg_1'}]}", "item_reference");
	stored(R, "{'model':'m','input':'hi','tools':[{'type':'code_interpreter','container':{'type':'auto',"
		  "'file_ids':['file-1']}}]}", "tools");
	stored(R, "{'model':'m','input':'hi','metadata':{'file_id':'not input'}}", NULL);
	stored(C, "{'model':'m','messages':[{'role':'user','content':[{'type':'file','file':{'file_id':'file-2'}}]}]}",
	       "file_id");
	stored(C, "{'model':'m','messages':[{'role':'user','content':'hi'}]}", NULL);
	stored(A, "{'model':'m','max_tokens':5,'messages':[{'role':'user','content':[{'type':'document','source':"
		  "{'type':'url','url':'https://x/a.pdf'}}]}]}", "source");
	stored(A, "{'model':'m','max_tokens':5,'messages':[{'role':'user','content':[{'type':'document','source':"
		  "{'type':'file','file_id':'file_3'}}]}]}", "source");
	stored(A, "{'model':'m','max_tokens':5,'messages':[{'role':'user','content':[{'type':'document','source':"
		  "{'type':'text','media_type':'text/plain','data':'inline'}}]}]}", NULL);
	stored(A, "{'model':'m','max_tokens':5,'container':'container_1','messages':[]}", "container");
	/* A background run is taken (docs/gateway.md, "Background
	 * responses"), read apart; streamed it is refused. */
	stored(R, "{'model':'m','input':'hi','background':true}", NULL);
	background(R, "{'model':'m','input':'hi','background':true}", 1);
	background(R, "{'model':'m','input':'hi','background':false}", 0);
	background(R, "{'model':'m','input':'hi'}", 0);
	refused(R, "{'model':'m','input':'hi','background':true,'stream':true}", "stream", "a background run streamed");
	stored(R, "{'model':'m','input':'hi','background':false}", NULL);
}

/* docs/gateway.md, "What is billed": what the provider bills beyond tokens is read, each with
 * the member that asked it: "tier 1h audio search max size" (size: the
 * searches' context size, 0 none or Anthropic's, 1 low, 2 medium, 3 high). */
static void asked(const struct gwkind_route *r, const char *body_j, const char *want)
{
	struct gw_ask ask;
	char err[256] = "", got[160];
	const char *param = NULL;
	int rc = read_j(r, body_j, &ask, err, sizeof(err), &param);
	is_int(rc, 0, "read: %s (%s)", body_j, err);
	snprintf(got, sizeof(got), "%d %d %s %s %lld %d", ask.tier, ask.cache_1h, ask.audio ? ask.audio : "-",
		 ask.web_search ? ask.web_search : "-", (long long)ask.web_search_max, ask.web_search_size);
	is_str(got, want, "billed beyond tokens: %s", body_j);
}

static void test_read_billed(void)
{
	const struct gwkind_route *R = R_RESPONSES, *C = R_CHAT, *A = R_MESSAGES, *E = R_EMBEDDINGS;
	asked(C, "{'model':'m','messages':[]}", "0 0 - - -1 0");
	asked(C, "{'model':'m','messages':[],'service_tier':'priority'}", "1 0 - - -1 0");
	asked(C, "{'model':'m','messages':[],'service_tier':'flex'}", "2 0 - - -1 0");
	asked(C, "{'model':'m','messages':[],'service_tier':'auto'}", "3 0 - - -1 0");
	asked(C, "{'model':'m','messages':[],'service_tier':'scale'}", "1 0 - - -1 0");
	asked(C, "{'model':'m','messages':[],'service_tier':'default'}", "0 0 - - -1 0");
	asked(C, "{'model':'m','messages':[],'service_tier':null}", "0 0 - - -1 0");
	asked(A, "{'model':'m','max_tokens':5,'messages':[],'service_tier':'standard_only'}", "0 0 - - -1 0");
	asked(A, "{'model':'m','max_tokens':5,'messages':[],'service_tier':'auto'}", "3 0 - - -1 0");
	asked(C, "{'model':'m','messages':[],'modalities':['text','audio'],'audio':{'voice':'alloy'}}", "0 0 modalities - -1 0");
	asked(C, "{'model':'m','messages':[],'modalities':['text']}", "0 0 - - -1 0");
	asked(C, "{'model':'m','messages':[{'role':'user','content':[{'type':'input_audio','input_audio':"
		 "{'data':'AAAA','format':'wav'}}]}]}", "0 0 input_audio - -1 0");
	asked(C, "{'model':'m','messages':[],'web_search_options':{}}", "0 0 - web_search_options 1 2");
	asked(R, "{'model':'m','input':'hi','tools':[{'type':'web_search_preview'}]}", "0 0 - tools -1 2");
	asked(R, "{'model':'m','input':'hi','max_tool_calls':3,'tools':[{'type':'web_search'}]}", "0 0 - tools 3 2");
	asked(R, "{'model':'m','input':'hi','tools':[{'type':'image_generation'}]}", "0 0 - - -1 0");
	asked(R, "{'model':'m','input':'hi','tools':[{'type':'mcp','server_url':'https://x'}]}", "0 0 - - -1 0");
	asked(R, "{'model':'m','input':'hi','tools':[{'type':'function','name':'web_search'}]}", "0 0 - - -1 0");
	asked(A, "{'model':'m','max_tokens':5,'messages':[],'tools':[{'type':'web_search_20250305','name':'web_search',"
		 "'max_uses':4}]}", "0 0 - tools 4 0");
	asked(A, "{'model':'m','max_tokens':5,'messages':[],'tools':[{'name':'get_weather','input_schema':{}}]}",
	      "0 0 - - -1 0");
	asked(A, "{'model':'m','max_tokens':5,'messages':[],'mcp_servers':[{'type':'url','url':'https://x'}]}",
	      "0 0 - - -1 0");
	asked(A, "{'model':'m','max_tokens':5,'system':[{'type':'text','text':'s','cache_control':{'type':'ephemeral',"
		 "'ttl':'1h'}}],'messages':[]}", "0 1 - - -1 0");
	asked(A, "{'model':'m','max_tokens':5,'system':[{'type':'text','text':'s','cache_control':{'type':'ephemeral',"
		 "'ttl':'5m'}}],'messages':[]}", "0 0 - - -1 0");
	asked(E, "{'model':'m','input':'hi','service_tier':'priority'}", "0 0 - - -1 0");
	/* Several search tools: the dearest size, the searches of all. */
	asked(R, "{'model':'m','input':'hi','tools':[{'type':'web_search','search_context_size':'low'},{'type':"
		 "'web_search_preview','search_context_size':'high'}]}", "0 0 - tools -1 3");
	asked(A, "{'model':'m','max_tokens':5,'messages':[],'tools':[{'type':'web_search_20250305','name':'web_search',"
		 "'max_uses':4},{'type':'web_search_20260209','name':'web_search_2','max_uses':2}]}", "0 0 - tools 6 0");
	/* A search tool added below the top level (a review's finding):
	 * taken as a search of no known max, at the dearest fee. */
	asked(A, "{'model':'m','max_tokens':5,'messages':[{'role':'user','content':[{'type':'tool_addition','tool':"
		 "{'type':'tool_definition','definition':{'type':'web_search_20250305','name':'web_search'}}},{'type':"
		 "'text','text':'go'}]}]}", "0 0 - tools -1 0");
	asked(R, "{'model':'m','input':[{'type':'additional_tools','tools':[{'type':'web_search',"
		 "'search_context_size':'low'}]}]}", "0 0 - tools -1 0");
}

int main(void)
{
	char e[256] = "";
	is_int(gwtable_init(e, sizeof(e)), 0, "the gateway's tables read: %s", e);
	test_read_billed();
	test_read_stored();
	test_read_chat();
	test_read_routes();
	test_read_refusals();
	test_bound_images();
	test_bound_floor();
	test_bound_ceiling();
	test_upstream_usage();
	test_upstream_cap();
	test_errors();
	printf("# %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
	return done_testing();
}
