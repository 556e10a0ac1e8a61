/* gwbatch.c: a batch's lines read (see gwbatch.h; docs/gateway.md,
 * "Batches"). An input line is refused whole when it carries anything
 * its provider's type does not (a batch's line is a call, and a call
 * forwards only what creditd read); a result line is read as the
 * provider wrote it, and one that is not a result is the caller's to
 * skip and log, never charged. */
#include "gwbatch.h"
#include "keys.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *param, size_t pcap, const char *member, char *err, size_t errcap, const char *why)
{
	snprintf(param, pcap, "%s", member);
	snprintf(err, errcap, "%s", why);
	return -1;
}

/* custom_id: text of 1 to LIMIT_GATEWAY_BATCH_CUSTOM_ID_BYTES - 1 bytes. */
static int custom_id_of(const json_t *v, char *out)
{
	const char *s = json_string_value(v);
	size_t n = s != NULL ? json_string_length(v) : 0;
	if (s == NULL || n == 0 || n >= LIMIT_GATEWAY_BATCH_CUSTOM_ID_BYTES || strlen(s) != n)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

/* Anthropic's custom_id: ^[a-zA-Z0-9_-]{1,64}$, as its reference says. */
static int anthropic_custom_id_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= LIMIT_GATEWAY_ANTHROPIC_CUSTOM_ID_CHARS &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int gwbatch_input_line(const char *line, size_t n, struct gwbatch_input *in, char *param, size_t pcap, char *err,
		       size_t errcap)
{
	json_error_t jerr;
	const char *key;
	json_t *v;
	memset(in, 0, sizeof(*in));
	json_t *root = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
	int rc = -1;
	if (!json_is_object(root))
		fail(param, pcap, "", err, errcap, "a line of a batch input file must be one JSON object");
	else if (custom_id_of(json_object_get(root, "custom_id"), in->custom_id) != 0)
		fail(param, pcap, "custom_id", err, errcap, "custom_id must be text of 1 to 511 bytes");
	else if (!json_is_string(json_object_get(root, "method")) ||
		 strcmp(json_string_value(json_object_get(root, "method")), "POST") != 0)
		fail(param, pcap, "method", err, errcap, "method must be \"POST\"");
	else if (!json_is_string(json_object_get(root, "url")) ||
		 json_string_length(json_object_get(root, "url")) >= sizeof(in->url))
		fail(param, pcap, "url", err, errcap, "url must name the route of the line's call");
	else if (!json_is_object(json_object_get(root, "body")))
		fail(param, pcap, "body", err, errcap, "body must be the call's JSON object");
	else
		rc = 0;
	json_object_foreach(rc == 0 ? root : NULL, key, v)
		if (strcmp(key, "custom_id") != 0 && strcmp(key, "method") != 0 && strcmp(key, "url") != 0 &&
		    strcmp(key, "body") != 0)
			rc = fail(param, pcap, key, err, errcap, "a batch line carries custom_id, method, url and body alone");
	if (rc == 0) {
		snprintf(in->url, sizeof(in->url), "%s", json_string_value(json_object_get(root, "url")));
		in->body = json_incref(json_object_get(root, "body"));
	}
	json_decref(root);
	return rc;
}

int gwbatch_input_request(const json_t *req, struct gwbatch_input *in, char *param, size_t pcap, char *err,
			  size_t errcap)
{
	const char *key;
	json_t *v;
	memset(in, 0, sizeof(*in));
	if (!json_is_object(req))
		return fail(param, pcap, "requests", err, errcap, "each of requests must be an object");
	if (custom_id_of(json_object_get(req, "custom_id"), in->custom_id) != 0 ||
	    !anthropic_custom_id_ok(in->custom_id))
		return fail(param, pcap, "custom_id", err, errcap, "custom_id must be 1 to 64 letters, digits, '_' or "
			    "'-' (^[a-zA-Z0-9_-]{1,64}$)");
	if (!json_is_object(json_object_get(req, "params")))
		return fail(param, pcap, "params", err, errcap, "params must be the Messages call's JSON object");
	json_object_foreach((json_t *)req, key, v)
		if (strcmp(key, "custom_id") != 0 && strcmp(key, "params") != 0)
			return fail(param, pcap, key, err, errcap, "a batch's request carries custom_id and params alone");
	snprintf(in->url, sizeof(in->url), "/v1/messages");
	in->body = json_incref(json_object_get(req, "params"));
	return 0;
}

/* OpenAI's: the response's status and body, else the error's code. */
static void openai_result(struct gwbatch_result *out)
{
	const json_t *resp = json_object_get(out->root, "response");
	const json_t *error = json_object_get(out->root, "error");
	json_int_t status = json_integer_value(json_object_get(resp, "status_code"));
	const json_t *body = json_object_get(resp, "body");
	const char *code = json_string_value(json_object_get(error, "code"));
	out->outcome = GWBATCH_ERRORED;
	if (status >= 200 && status < 300 && json_is_object(body) && !json_is_object(error)) {
		out->outcome = GWBATCH_SUCCEEDED;
		out->body = body;
	} else if (code != NULL && strcmp(code, "batch_expired") == 0) {
		out->outcome = GWBATCH_EXPIRED;
	} else if (code != NULL && strcmp(code, "batch_cancelled") == 0) {
		out->outcome = GWBATCH_CANCELLED;
	}
}

/* Anthropic's: result.type, the message of a succeeded one. */
static void anthropic_result(struct gwbatch_result *out)
{
	const json_t *result = json_object_get(out->root, "result");
	const char *type = json_string_value(json_object_get(result, "type"));
	const json_t *message = json_object_get(result, "message");
	out->outcome = GWBATCH_ERRORED;
	if (type == NULL)
		return;
	if (strcmp(type, "succeeded") == 0 && json_is_object(message)) {
		out->outcome = GWBATCH_SUCCEEDED;
		out->body = message;
	} else if (strcmp(type, "expired") == 0) {
		out->outcome = GWBATCH_EXPIRED;
	} else if (strcmp(type, "canceled") == 0) {
		out->outcome = GWBATCH_CANCELLED;
	}
}

int gwbatch_result_line(enum gwbatch_shape shape, const char *line, size_t n, struct gwbatch_result *out)
{
	memset(out, 0, sizeof(*out));
	out->root = json_loadb(line, n, 0, NULL);
	if (!json_is_object(out->root) || custom_id_of(json_object_get(out->root, "custom_id"), out->custom_id) != 0) {
		json_decref(out->root);
		out->root = NULL;
		return -1;
	}
	if (shape == GWBATCH_OPENAI)
		openai_result(out);
	else
		anthropic_result(out);
	return 0;
}

int gwbatch_ended(enum gwbatch_shape shape, const json_t *batch)
{
	static const char *const ended[] = {"completed", "failed", "expired", "cancelled"};
	const char *s = json_string_value(json_object_get(batch, shape == GWBATCH_OPENAI ? "status" : "processing_status"));
	if (s == NULL)
		return 0;
	if (shape == GWBATCH_ANTHROPIC)
		return strcmp(s, "ended") == 0;
	for (size_t i = 0; i < sizeof(ended) / sizeof(ended[0]); i++)
		if (strcmp(s, ended[i]) == 0)
			return 1;
	return 0;
}

const char *gwbatch_output_file(enum gwbatch_shape shape, const json_t *batch)
{
	return json_string_value(json_object_get(batch, shape == GWBATCH_OPENAI ? "output_file_id" : "results_url"));
}

const char *gwbatch_error_file(enum gwbatch_shape shape, const json_t *batch)
{
	return shape == GWBATCH_OPENAI ? json_string_value(json_object_get(batch, "error_file_id")) : NULL;
}

const char *gwbatch_outcome_name(enum gwbatch_outcome o)
{
	static const char *const names[] = {"succeeded", "errored", "expired", "cancelled"};
	return o >= GWBATCH_SUCCEEDED && o <= GWBATCH_CANCELLED ? names[o] : "?";
}

int gwbatch_succeeded_count(enum gwbatch_shape shape, const json_t *batch, int64_t *n)
{
	const json_t *counts = json_object_get(batch, "request_counts");
	const json_t *v = json_object_get(counts, shape == GWBATCH_OPENAI ? "completed" : "succeeded");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*n = (int64_t)json_integer_value(v);
	return 0;
}

/* The slot of hash in a table of cap slots (a power of two): its own, or
 * the first free one after its start. cap > n, so one is found. */
static size_t seen_slot(unsigned char (*slots)[32], const unsigned char *used, size_t cap, const unsigned char *hash)
{
	uint64_t h;
	memcpy(&h, hash, sizeof(h));	/* a SHA-256: its bytes are spread already */
	size_t i = (size_t)h & (cap - 1);
	while (used[i] && memcmp(slots[i], hash, 32) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

/* The table at twice its slots (its first 1,024), every hash moved. */
static int seen_grow(struct gwbatch_seen *s)
{
	size_t cap = s->cap == 0 ? 1024 : s->cap * 2;
	if (cap > (size_t)LIMIT_GATEWAY_BATCH_SEEN_SLOTS)
		return -1;
	unsigned char (*slots)[32] = calloc(cap, 32);
	unsigned char *used = calloc(cap, 1);
	if (slots == NULL || used == NULL) {
		free(slots);
		free(used);
		return -1;
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->used[i]) {
			size_t j = seen_slot(slots, used, cap, s->slots[i]);
			memcpy(slots[j], s->slots[i], 32);
			used[j] = 1;
		}
	free(s->slots);
	free(s->used);
	s->slots = slots;
	s->used = used;
	s->cap = cap;
	return 0;
}

int gwbatch_seen_add(struct gwbatch_seen *s, const unsigned char hash[32])
{
	if (s->cap > 0) {
		size_t i = seen_slot(s->slots, s->used, s->cap, hash);
		if (s->used[i])
			return 0;
	}
	if ((s->n + 1) * 2 > s->cap && seen_grow(s) != 0)	/* at most half full */
		return -1;
	size_t i = seen_slot(s->slots, s->used, s->cap, hash);
	memcpy(s->slots[i], hash, 32);
	s->used[i] = 1;
	s->n++;
	return 1;
}

void gwbatch_seen_free(struct gwbatch_seen *s)
{
	free(s->slots);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

void gwbatch_line_key(const char *custom_id, char out[GWBATCH_LINE_KEY_BYTES])
{
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1];
	keys_sha256(custom_id, strlen(custom_id), hash);
	keys_hex(hash, hex);
	memcpy(out, hex, GWBATCH_LINE_KEY_BYTES - 1);
	out[GWBATCH_LINE_KEY_BYTES - 1] = '\0';
}

json_t *gwbatch_line_models(const json_t *ids, const char *dearest)
{
	json_t *out = json_object(), *v;
	const char *id;
	char key[GWBATCH_LINE_KEY_BYTES];
	json_object_foreach((json_t *)ids, id, v) {
		const char *model = json_string_value(v);
		if (out == NULL || model == NULL || strcmp(model, dearest) == 0)
			continue;
		gwbatch_line_key(id, key);
		if (json_object_set_new(out, key, json_string(model)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

const char *gwbatch_line_model(const json_t *line_models, const char *custom_id, const char *dearest)
{
	char key[GWBATCH_LINE_KEY_BYTES];
	if (line_models == NULL)
		return dearest;
	gwbatch_line_key(custom_id, key);
	const char *model = json_string_value(json_object_get(line_models, key));
	return model != NULL ? model : dearest;
}
