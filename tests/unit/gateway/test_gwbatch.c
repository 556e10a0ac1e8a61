/* test_gwbatch.c: unit tests for src/gateway/gwbatch.c (docs/gateway.md,
 * "Batches"): an OpenAI input line and an Anthropic request read into a
 * custom_id, a url and a body, anything else refused by name; a result
 * line of either read into its outcome (succeeded with its answer,
 * errored, expired, cancelled), one that is no result skipped; a batch's
 * end and its files told; the provider's count of its succeeded lines
 * read; the lines a pass meets counted once each; the model each line
 * asked for kept by line. No network, no clock. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gwbatch.h"
#include "tap.h"

static int input(const char *line, struct gwbatch_input *in, char *param)
{
	char err[256];
	return gwbatch_input_line(line, strlen(line), in, param, 64, err, sizeof(err));
}

static void test_input_lines(void)
{
	struct gwbatch_input in;
	char param[64];
	is_int(input("{\"custom_id\":\"a1\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\"}}",
		     &in, param), 0, "a line read");
	ok(strcmp(in.custom_id, "a1") == 0 && strcmp(in.url, "/v1/chat/completions") == 0, "its custom_id and url");
	ok(json_is_object(in.body) && strcmp(json_string_value(json_object_get(in.body, "model")), "m") == 0, "its body");
	json_decref(in.body);
	is_int(input("{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":{},\"extra\":1}", &in, param), -1,
	       "a member beside the four: refused");
	ok(strcmp(param, "extra") == 0, "named");
	is_int(input("{\"custom_id\":\"a\",\"method\":\"GET\",\"url\":\"/v1/x\",\"body\":{}}", &in, param), -1, "GET refused");
	ok(strcmp(param, "method") == 0, "method named");
	is_int(input("{\"custom_id\":\"\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":{}}", &in, param), -1,
	       "an empty custom_id refused");
	is_int(input("{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":[]}", &in, param), -1,
	       "a body not an object refused");
	ok(strcmp(param, "body") == 0, "body named");
	is_int(input("{\"custom_id\":\"a\",\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":{}}", &in,
		     param), -1, "a member given twice refused");
	is_int(input("not json", &in, param), -1, "not JSON refused");
	char err[256];
	json_t *req = json_loads("{\"custom_id\":\"r1\",\"params\":{\"model\":\"claude\"}}", 0, NULL);
	is_int(gwbatch_input_request(req, &in, param, sizeof(param), err, sizeof(err)), 0, "an Anthropic request read");
	ok(strcmp(in.url, "/v1/messages") == 0 && strcmp(in.custom_id, "r1") == 0, "as a Messages call");
	json_decref(in.body);
	json_decref(req);
	req = json_loads("{\"custom_id\":\"r1\",\"params\":{},\"x\":1}", 0, NULL);
	is_int(gwbatch_input_request(req, &in, param, sizeof(param), err, sizeof(err)), -1, "a member beside refused");
	json_decref(req);
	/* Anthropic's reference: ^[a-zA-Z0-9_-]{1,64}$ (OpenAI's lines take any text). */
	static const char *const bad[] = {"has space", "dot.ted", "sl/ash", "\u00e9t\u00e9",
		"a0123456789012345678901234567890123456789012345678901234567891234"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "{\"custom_id\":\"%s\",\"params\":{}}", bad[i]);
		req = json_loads(text, 0, NULL);
		param[0] = '\0';
		ok(gwbatch_input_request(req, &in, param, sizeof(param), err, sizeof(err)) == -1 &&
		   strcmp(param, "custom_id") == 0, "an Anthropic custom_id outside the reference's pattern refused, named");
		json_decref(req);
	}
	req = json_loads("{\"custom_id\":\"A-z_012345678901234567890123456789012345678901234567890123456789\","
			 "\"params\":{}}", 0, NULL);
	is_int(gwbatch_input_request(req, &in, param, sizeof(param), err, sizeof(err)), 0, "64 of its characters taken");
	json_decref(in.body);
	json_decref(req);
	is_int(input("{\"custom_id\":\"has space.x\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":{}}", &in, param),
	       0, "an OpenAI line's custom_id is any text");
	json_decref(in.body);
}

static enum gwbatch_outcome outcome(enum gwbatch_shape shape, const char *line, int *have_body)
{
	struct gwbatch_result r;
	if (gwbatch_result_line(shape, line, strlen(line), &r) != 0)
		return (enum gwbatch_outcome)-1;
	*have_body = r.body != NULL;
	json_decref(r.root);
	return r.outcome;
}

static void test_result_lines(void)
{
	int body = 0;
	is_int(outcome(GWBATCH_OPENAI, "{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{\"usage\":{}}},"
		       "\"error\":null}", &body), GWBATCH_SUCCEEDED, "OpenAI: a 200 with a body succeeded");
	ok(body, "its answer kept");
	is_int(outcome(GWBATCH_OPENAI, "{\"custom_id\":\"a\",\"response\":{\"status_code\":400,\"body\":{}},\"error\":null}",
		       &body), GWBATCH_ERRORED, "a 400: errored");
	ok(!body, "no answer to charge");
	is_int(outcome(GWBATCH_OPENAI, "{\"custom_id\":\"a\",\"response\":null,\"error\":{\"code\":\"batch_expired\"}}",
		       &body), GWBATCH_EXPIRED, "batch_expired: expired");
	is_int(outcome(GWBATCH_OPENAI, "{\"custom_id\":\"a\",\"response\":null,\"error\":{\"code\":\"batch_cancelled\"}}",
		       &body), GWBATCH_CANCELLED, "batch_cancelled: cancelled");
	is_int(outcome(GWBATCH_OPENAI, "{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{}},"
		       "\"error\":{\"code\":\"x\"}}", &body), GWBATCH_ERRORED, "a 200 with an error: never charged");
	is_int(outcome(GWBATCH_ANTHROPIC, "{\"custom_id\":\"a\",\"result\":{\"type\":\"succeeded\",\"message\":{}}}", &body),
	       GWBATCH_SUCCEEDED, "Anthropic: succeeded");
	is_int(outcome(GWBATCH_ANTHROPIC, "{\"custom_id\":\"a\",\"result\":{\"type\":\"canceled\"}}", &body),
	       GWBATCH_CANCELLED, "canceled");
	is_int(outcome(GWBATCH_ANTHROPIC, "{\"custom_id\":\"a\",\"result\":{\"type\":\"expired\"}}", &body),
	       GWBATCH_EXPIRED, "expired");
	is_int(outcome(GWBATCH_ANTHROPIC, "{\"custom_id\":\"a\",\"result\":{\"type\":\"errored\"}}", &body),
	       GWBATCH_ERRORED, "errored");
	is_int(outcome(GWBATCH_ANTHROPIC, "{\"custom_id\":\"a\",\"result\":{\"type\":\"succeeded\"}}", &body),
	       GWBATCH_ERRORED, "succeeded without a message: never charged");
	is_int((int)outcome(GWBATCH_OPENAI, "{\"response\":{}}", &body), -1, "no custom_id: no result");
	is_int((int)outcome(GWBATCH_OPENAI, "garbage", &body), -1, "not JSON: no result");
}

static void test_ends(void)
{
	const char *ended[] = {"completed", "failed", "expired", "cancelled"}, *running[] = {"validating", "in_progress",
		"finalizing", "cancelling"};
	for (int i = 0; i < 4; i++) {
		json_t *b = json_pack("{s:s, s:s}", "status", ended[i], "output_file_id", "file-out");
		ok(gwbatch_ended(GWBATCH_OPENAI, b), "%s has ended", ended[i]);
		json_decref(b);
		b = json_pack("{s:s}", "status", running[i]);
		ok(!gwbatch_ended(GWBATCH_OPENAI, b), "%s runs", running[i]);
		json_decref(b);
	}
	json_t *b = json_pack("{s:s, s:s, s:s}", "processing_status", "ended", "output_file_id", "o", "error_file_id", "e");
	ok(gwbatch_ended(GWBATCH_ANTHROPIC, b) && !gwbatch_ended(GWBATCH_OPENAI, b), "Anthropic's ended");
	ok(strcmp(gwbatch_output_file(GWBATCH_OPENAI, b), "o") == 0 && strcmp(gwbatch_error_file(GWBATCH_OPENAI, b), "e") == 0,
	   "OpenAI's files");
	ok(gwbatch_error_file(GWBATCH_ANTHROPIC, b) == NULL, "Anthropic has one results file");
	json_decref(b);
}

static void test_counts(void)
{
	int64_t n = -1;
	json_t *b = json_loads("{\"request_counts\": {\"total\": 5, \"completed\": 3, \"failed\": 2}}", 0, NULL);
	ok(gwbatch_succeeded_count(GWBATCH_OPENAI, b, &n) == 0 && n == 3, "OpenAI's completed: %lld", (long long)n);
	ok(gwbatch_succeeded_count(GWBATCH_ANTHROPIC, b, &n) == -1, "no succeeded count in an OpenAI object");
	json_decref(b);
	b = json_loads("{\"request_counts\": {\"processing\": 0, \"succeeded\": 4, \"errored\": 1, "
		       "\"canceled\": 0, \"expired\": 0}}", 0, NULL);
	ok(gwbatch_succeeded_count(GWBATCH_ANTHROPIC, b, &n) == 0 && n == 4, "Anthropic's succeeded");
	json_decref(b);
	b = json_loads("{\"status\": \"completed\"}", 0, NULL);
	ok(gwbatch_succeeded_count(GWBATCH_OPENAI, b, &n) == -1, "none given");
	json_decref(b);
	b = json_loads("{\"request_counts\": {\"completed\": -1}}", 0, NULL);
	ok(gwbatch_succeeded_count(GWBATCH_OPENAI, b, &n) == -1, "a negative count is none");
	json_decref(b);
}

static void test_seen(void)
{
	struct gwbatch_seen s;
	unsigned char h[32];
	int fresh = 0, again = 0;
	memset(&s, 0, sizeof(s));
	/* 100,000 distinct hashes (the table grows past its first 1,024),
	 * each met twice: the second meeting is never counted. */
	for (int round = 0; round < 2; round++)
		for (uint32_t i = 0; i < 100000; i++) {
			memset(h, 0, sizeof(h));
			memcpy(h, &i, sizeof(i));
			memcpy(h + 20, &i, sizeof(i));
			int rc = gwbatch_seen_add(&s, h);
			fresh += rc == 1;
			again += rc == 0;
		}
	ok(fresh == 100000 && again == 100000, "each line counted once: %d fresh, %d again", fresh, again);
	ok(s.n == 100000, "kept %zu", s.n);
	/* Hashes alike in their first 8 bytes (one slot) told apart. */
	memset(h, 7, sizeof(h));
	int a = gwbatch_seen_add(&s, h);
	h[31] = 8;
	ok(a == 1 && gwbatch_seen_add(&s, h) == 1 && gwbatch_seen_add(&s, h) == 0, "told apart by every byte");
	gwbatch_seen_free(&s);
	ok(s.cap == 0 && s.slots == NULL, "freed");
	/* Past its most slots: refused, never counted uncounted. The hashes
	 * differ in their first bytes, where a slot is taken from, as a
	 * SHA-256's do (hashes alike there all probe from one slot). */
	int full = 0;
	for (uint32_t i = 0; i <= LIMIT_GATEWAY_BATCH_SEEN_SLOTS / 2 && !full; i++) {
		memset(h, 0, sizeof(h));
		memcpy(h, &i, sizeof(i));
		full = gwbatch_seen_add(&s, h) < 0;
	}
	ok(full && s.n == LIMIT_GATEWAY_BATCH_SEEN_SLOTS / 2, "full at half its most slots (%zu)", s.n);
	gwbatch_seen_free(&s);
}

static void test_line_models(void)
{
	char k1[GWBATCH_LINE_KEY_BYTES], k2[GWBATCH_LINE_KEY_BYTES];
	gwbatch_line_key("a", k1);
	gwbatch_line_key("b", k2);
	/* SHA-256("a") = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb */
	ok(strcmp(k1, "ca978112ca1bbdcafac231b3") == 0, "a line's key: 24 hex of its custom_id's SHA-256 (%s)", k1);
	ok(strcmp(k1, k2) != 0, "each its own");
	json_t *ids = json_pack("{s:s, s:s, s:s, s:b}", "a", "cheap", "b", "dear", "c", "cheap", "d", 1);
	json_t *m = gwbatch_line_models(ids, "dear");
	ok(m != NULL && json_object_size(m) == 2, "the lines not at the dearest kept, by key: %zu",
	   json_object_size(m));
	ok(strcmp(gwbatch_line_model(m, "a", "dear"), "cheap") == 0 && strcmp(gwbatch_line_model(m, "c", "dear"),
	   "cheap") == 0, "a line's own model");
	ok(strcmp(gwbatch_line_model(m, "b", "dear"), "dear") == 0, "the dearest's lines: the dearest");
	ok(strcmp(gwbatch_line_model(m, "zz", "dear"), "dear") == 0, "a line not kept: the dearest");
	ok(strcmp(gwbatch_line_model(NULL, "a", "dear"), "dear") == 0, "a job that kept none: the dearest");
	json_decref(m);
	m = gwbatch_line_models(json_object_get(ids, "nothing"), "dear");
	ok(m != NULL && json_object_size(m) == 0, "no lines: an empty object");
	json_decref(m);
	json_decref(ids);
}

int main(void)
{
	test_input_lines();
	test_result_lines();
	test_ends();
	test_counts();
	test_seen();
	test_line_models();
	return done_testing();
}
