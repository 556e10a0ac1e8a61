/* gwbatch.h: the lines of a batch as the providers write them
 * (docs/gateway.md, "Batches"): an OpenAI input file's lines and an
 * Anthropic batch's requests read into a route and a body to check, and
 * each result line of either read into its custom_id, its outcome and, for
 * a line that succeeded, the answer whose usage is charged. Pure: no I/O,
 * no ledger, no clock; the checks and the money are the callers'.
 *
 * Followed: OpenAI's Batch API reference (openai-openapi, BatchRequestInput
 * and BatchRequestOutput; the error file's lines carry error.code
 * "batch_expired" and "batch_cancelled" for the lines a batch never ran)
 * and Anthropic's Message Batches (MessageBatchIndividualResponse:
 * result.type succeeded, errored, canceled, expired). */
#ifndef CREDITD_GWBATCH_H
#define CREDITD_GWBATCH_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "limits.h"

enum gwbatch_shape { GWBATCH_OPENAI = 0, GWBATCH_ANTHROPIC };
/* What became of one line: only a succeeded line is charged. */
enum gwbatch_outcome { GWBATCH_SUCCEEDED = 0, GWBATCH_ERRORED, GWBATCH_EXPIRED, GWBATCH_CANCELLED };

/* One request of a batch. body is a reference the caller releases
 * (json_decref). */
struct gwbatch_input {
	char custom_id[LIMIT_GATEWAY_BATCH_CUSTOM_ID_BYTES];
	char url[64];			/* the provider's path: "/v1/chat/completions", "/v1/messages" */
	json_t *body;
};
/* An OpenAI input line (n bytes at line, no newline): an object of
 * custom_id (text), method "POST", url and body (an object), nothing
 * else. 0, or -1 with the member to name in param (pcap bytes) and a
 * sentence in err. */
int gwbatch_input_line(const char *line, size_t n, struct gwbatch_input *in, char *param, size_t pcap, char *err,
		       size_t errcap);
/* One of an Anthropic create body's requests[]: {custom_id, params};
 * url is "/v1/messages". As gwbatch_input_line. */
int gwbatch_input_request(const json_t *req, struct gwbatch_input *in, char *param, size_t pcap, char *err,
			  size_t errcap);

/* One result line. body is a reference into root, live while root is;
 * the caller releases root (json_decref). */
struct gwbatch_result {
	char custom_id[LIMIT_GATEWAY_BATCH_CUSTOM_ID_BYTES];
	enum gwbatch_outcome outcome;
	json_t *root;
	const json_t *body;		/* a succeeded line's answer; NULL otherwise */
};
/* A line of an OpenAI output or error file, or of Anthropic's results
 * (n bytes at line). OpenAI: response.status_code 2xx with a body:
 * succeeded; error.code "batch_expired": expired; "batch_cancelled":
 * cancelled; anything else errored. 0, or -1 when the line is not one
 * (no custom_id, not JSON): the caller skips it and says so. */
int gwbatch_result_line(enum gwbatch_shape shape, const char *line, size_t n, struct gwbatch_result *out);
/* 1 when a batch object of shape has ended (its results are final):
 * OpenAI's status completed, failed, expired or cancelled; Anthropic's
 * processing_status ended. */
int gwbatch_ended(enum gwbatch_shape shape, const json_t *batch);
/* The output and error files of an ended OpenAI batch (NULL: none), or
 * Anthropic's results_url; static strings of batch. */
const char *gwbatch_output_file(enum gwbatch_shape shape, const json_t *batch);
const char *gwbatch_error_file(enum gwbatch_shape shape, const json_t *batch);
/* How many of an ended batch's lines its provider says succeeded, into
 * *n: OpenAI's request_counts.completed, Anthropic's
 * request_counts.succeeded. 0, or -1 when batch gives no such count. */
int gwbatch_succeeded_count(enum gwbatch_shape shape, const json_t *batch, int64_t *n);

/* The lines a settling pass has met, each by the 32-byte hash of its
 * request id: a custom_id its provider wrote twice counted once. Open
 * addressing over a table grown by doubling up to
 * LIMIT_GATEWAY_BATCH_SEEN_SLOTS; zeroed to start, gwbatch_seen_free
 * to end. */
struct gwbatch_seen {
	unsigned char (*slots)[32];
	unsigned char *used;
	size_t cap, n;
};
/* 1 when hash is met for the first time (kept), 0 when met before, -1
 * when the table is full or could not grow (the caller counts the line
 * unresolved: never settled uncounted). */
int gwbatch_seen_add(struct gwbatch_seen *s, const unsigned char hash[32]);
void gwbatch_seen_free(struct gwbatch_seen *s);

/* The models a batch's lines asked for, kept by line (docs/gateway.md,
 * "Batches": a line is charged at the model it asked for): an object of
 * each line's key (the first 24 hex digits of its custom_id's SHA-256: a
 * fixed size whatever the custom_id's, 96 bits apart) to its model, for
 * the lines whose model is not the batch's dearest (most batches name
 * one model: an empty object). */
#define GWBATCH_LINE_KEY_BYTES 25
void gwbatch_line_key(const char *custom_id, char out[GWBATCH_LINE_KEY_BYTES]);
/* That object from ids (each custom_id to the model its line asked for,
 * a string; any other value is left out) and the batch's dearest model;
 * a new reference, NULL when out of memory. */
json_t *gwbatch_line_models(const json_t *ids, const char *dearest);
/* The model line custom_id asked for, as line_models keeps it (a string
 * of line_models, live while it is), or dearest when it keeps none. */
const char *gwbatch_line_model(const json_t *line_models, const char *custom_id, const char *dearest);

/* The outcome's name, as logs and tests say it. */
const char *gwbatch_outcome_name(enum gwbatch_outcome o);
#endif
