/* gwshape.h: the gateway's reading of the providers' wire formats, as
 * pure functions (docs/gateway.md): what a request asks (its model, whether it
 * streams, its output cap, an upper bound of its input tokens), the body
 * sent upstream (the stream usage option asked for, the output cap
 * lowered), the usage a provider reports (in a whole answer or in the
 * events of a stream), the estimate of a stream that ended without usage,
 * and creditd's errors in each provider's shape.
 *
 * Never does I/O, never touches the ledger or FastCGI; every count is an
 * int64 checked against LIMIT_TOKENS_MAX. The shared part is here
 * (gwshape.c: requests, the upstream body, errors; gwshape_usage.c: SSE
 * framing, usage, the estimate; gwshape_bill.c: what is billed beyond
 * tokens); what is one kind's own is its gwkind_*.c file's, reached
 * through the route's struct gwkind (gwkind.h). Tested without a network
 * in tests/unit/gateway/test_gwshape.c and test_gwshape_usage.c. */
#ifndef CREDITD_GWSHAPE_H
#define CREDITD_GWSHAPE_H
#include "gwkind.h"
#include "limits.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Reads body (len bytes, JSON) for route r into *ask. 0, or -1 with a
 * sentence naming the field in err (a body that is not a JSON object, no
 * "model" string, a model name over 64 bytes or with a control character,
 * "stream" not a boolean, an output cap that is not an integer in
 * 1..LIMIT_TOKENS_MAX, Anthropic's missing max_tokens; OpenAI chat's
 * "stream_options" not an object, its include_usage not a boolean, "n"
 * not in 1..128) and *param set to the field's name (static), or NULL
 * when the body as a whole is at fault (not JSON, a repeated key, not an
 * object).
 *
 * OpenAI's reference makes its optional members nullable: on its routes
 * a null member is one left out. Anthropic's are not: null is refused
 * where a type is required (max_tokens, stream). OpenAI chat's cap is
 * max_completion_tokens, else max_tokens (the larger when a body has both,
 * which OpenAI refuses); cap_field names the one the body used,
 * "max_completion_tokens" when it used neither. Embeddings never stream
 * (ask->stream 0) and have no cap (output_cap -1, cap_field NULL).
 *
 * The input bound: the body's byte length, less the bytes of each image
 * part's JSON (an object whose "type" is "image_url", "input_image" or
 * "image"), plus LIMIT_GATEWAY_IMAGE_TOKENS for each image part. Text
 * never has more tokens than UTF-8 bytes, and the JSON around it (roles,
 * keys, punctuation) is more bytes than the tokens a provider adds per
 * message; a text document (Anthropic's base64 source of a text/ media
 * type, a data URL of one) counts its bytes. A document part with a PDF
 * (Anthropic's document with a base64 source, OpenAI chat's file part and
 * Responses' input_file with file_data) counts its pages instead of its
 * data's bytes: LIMIT_GATEWAY_PAGE_TOKENS a page, the pages read by
 * gwpdf.h (ask->doc_pages, ask->doc_tokens); one whose pages cannot be
 * counted keeps its bytes and is named in ask->doc_uncounted (the caller
 * holds it at the model's max_input_tokens).
 * A part's bytes are those jansson writes for it compactly, which are
 * never more than it took in the body (whitespace and escapes only
 * shrink), except numbers with a fraction or an exponent: each of those
 * takes 21 bytes off what is subtracted (3 bytes at least in the body,
 * 24 at most as written), so no body can lower its bound by a number no
 * image part has. The bound is never below the image parts' tokens and
 * never above LIMIT_TOKENS_MAX. Embeddings: the body's byte length.
 *
 * Not a bound where the input is not in the body: Responses'
 * previous_response_id, conversation and prompt, a part naming a file
 * (file_id, file_url), Anthropic's documents by URL or file id, tools that
 * search stored files (file_search) or run in a stored container
 * (code_interpreter with a container id, Anthropic's container) add input
 * the body does not show: ask->stored names the first such member.
 * Responses' "background": true is read into ask->background (the
 * provider answers "queued" and bills the run when it ends: its hold
 * waits for that, docs/gateway.md "Background responses"); with
 * "stream": true it is refused (param "stream"). */
int gwshape_read(const struct gwkind_route *r, const char *body, size_t len, struct gw_ask *ask, char *err, size_t errcap,
		 const char **param);

/* gwshape_read of a request already read into root (a form's fields as
 * a JSON object: gwkind_images_form), len the bytes its input bound is
 * (the text it carries). */
int gwshape_read_root(const struct gwkind_route *r, const json_t *root, size_t len, struct gw_ask *ask, char *err,
		      size_t errcap, const char **param);

/* A form route's body (multipart/form-data; gwshape_form.c): its
 * boundary, the files it carries (image, image[], mask), its prompt's
 * bytes. */
struct gwshape_form {
	char boundary[72];
	int64_t files;
	int64_t text_bytes;
};
/* The form's fields as a JSON object (a new reference): text fields as
 * strings (n, output_compression, partial_images as integers, stream as a
 * boolean, when they spell one), each file as "" (image[]'s as one "image").
 * NULL with a sentence in err (param: NULL, the body as a whole) when
 * content_type is no multipart/form-data with a boundary or the body is
 * refused by gwmultipart, or a text field is not text. */
json_t *gwshape_form_json(const char *content_type, const unsigned char *body, size_t len, struct gwshape_form *f,
			  char *err, size_t errcap, const char **param);
/* gwshape_read of a form route's body: the form's JSON read as a body
 * of the route, the input bound its prompt's bytes, ask->img.input_images
 * its files, ask->form_boundary its boundary. */
int gwshape_read_form(const struct gwkind_route *r, const char *content_type, const unsigned char *body, size_t len,
		      struct gw_ask *ask, char *err, size_t errcap, const char **param);

/* What the route's table found in the body (gwtable_walk's dimensions)
 * kept in ask: a search tool below the top level becomes a search of no
 * known max or size (the dearest fee). */
void gwshape_table_seen(struct gw_ask *ask, unsigned dims);

/* The body to send upstream: body as received, changed only where docs/gateway.md
 * ("What is forwarded") says: OpenAI chat streamed gets stream_options.include_usage true
 * (other stream_options kept); a cap below the asked one (cap >= 0 and
 * cap < ask->output_cap, or cap >= 0 and no cap was asked) is written to
 * ask->cap_field (for OpenAI chat the member the client sent: OpenAI
 * refuses max_tokens and max_completion_tokens together, and its newer
 * models refuse max_tokens; a body with both has both set). ask is what
 * gwshape_read read from this body. The rest of the body is kept member
 * for member, in its order (jansson writes it again compactly: numbers
 * with a fraction as 17 significant digits, the same double). Returns a
 * malloc'ed string (*outlen bytes, the caller frees it) or NULL when
 * nothing needs changing (send body as is; *outlen is len) — or on out
 * of memory, with *outlen set to (size_t)-1. model, when not NULL and
 * not the body's, is written to its "model" (a provider's rename). */
char *gwshape_upstream_body(const struct gwkind_route *r, const char *body, size_t len, const struct gw_ask *ask, int64_t cap,
			    const char *model, size_t *outlen);

/* Usage from a whole (not streamed) answer body. 0 with *u filled (have 1
 * when the answer held usage), -1 when the body is not JSON. OpenAI
 * chat: usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens,
 * usage.completion_tokens; Responses: usage.input_tokens,
 * usage.input_tokens_details.cached_tokens, usage.output_tokens;
 * embeddings: usage.prompt_tokens, output 0; Anthropic:
 * usage.input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens as input, cache reads as cached, cache creation
 * as cache writes, usage.output_tokens. Counts that are negative, not
 * integers or above LIMIT_TOKENS_MAX make have 0. */
int gwshape_usage(const struct gwkind_route *r, const char *body, size_t len, struct gw_usage *u);

void gwshape_stream_init(struct gw_stream *s, const struct gwkind_route *r, int usage_asked);
void gwshape_stream_free(struct gw_stream *s);

/* Called for each complete event (its bytes up to and including the blank
 * line that ends it) in order: pass 1 to send it on, 0 to keep it from the
 * client (OpenAI chat's usage-only chunk when the client did not ask). */
typedef int gw_event_out(void *arg, const char *event, size_t len, int pass);

/* Feeds n bytes; calls out for each event completed, with bytes that live
 * until out returns. Returns 0, or the first nonzero value out returned
 * (the feed stops there: the rest of these bytes is not read), or -1 when
 * an event grows past LIMIT_GATEWAY_EVENT_BYTES or memory runs out (the
 * stream cannot be read on; its reader is only freed). An event's usage
 * and text are taken before out is called. Anthropic's usage is "have"
 * once message_delta gave its output after message_start gave its input
 * (message_start alone is not the usage: its output is 1). A count that
 * is not one (negative, not an integer, above LIMIT_TOKENS_MAX) makes
 * have 0: the stream is then estimated, never charged a wrong figure. */
int gwshape_stream_feed(struct gw_stream *s, const char *bytes, size_t n, gw_event_out *out, void *arg);

/* A whole answer not kept (no room, gwbuffer.h): its last GW_TAIL_BYTES
 * are, in tail (*len of them), where each provider writes its usage. */
#define GW_TAIL_BYTES 4096
void gwshape_tail_keep(char *tail, size_t *len, const char *bytes, size_t n);
/* The usage of a whole answer read from its tail: the last "usage"
 * member's object, read as the kind reads a whole answer's (its counts
 * only). 0 with u->have, or -1 when the tail holds none. */
int gwshape_usage_tail(const struct gwkind_route *r, const char *tail, size_t len, struct gw_usage *u);

/* What an ended stream is charged when it reported no usage (settle
 * reason "estimated", docs/gateway.md, "The estimate", never under): output =
 * gwshape_estimate_output, never above hold_output; input = input_seen when
 * Anthropic's message_start gave it (with its cache reads and writes),
 * else hold_input. u->have is 1. Counts are clamped to 0..LIMIT_TOKENS_MAX. */
void gwshape_estimate(const struct gw_stream *s, int64_t hold_input, int64_t hold_output, struct gw_usage *u);
/* The output tokens s's text and audio are at least: a token a non-ASCII
 * byte of text, one per four ASCII bytes (rounded up), the audio by its
 * duration (a token per 3,200 base64 bytes, rounded up); held at
 * INT64_MAX. */
int64_t gwshape_estimate_output(const struct gw_stream *s);
/* Adds n raw bytes of a whole answer creditd could not read (or keep) to
 * s's text: each byte past ASCII a non-ASCII one, each "\uXXXX" escape
 * three (the most UTF-8 bytes one spells), the rest ASCII. */
void gwshape_count_raw(struct gw_stream *s, const char *bytes, size_t n);

/* creditd's error answer (its JSON text: {"error": {"type", "code",
 * "message", "param", ...}}) in the provider's shape, malloc'ed: OpenAI
 * {"error": {"message", "type", "param", "code"}} (type as creditd's);
 * Anthropic {"type": "error", "error": {"type", "message", "code"}} with
 * type by status: 400 invalid_request_error, 401 authentication_error,
 * 402 billing_error, 403 permission_error, 404 not_found_error, 413
 * request_too_large, 429 rate_limit_error, 5xx api_error (529
 * overloaded_error), other 4xx invalid_request_error. Other members of
 * creditd's error object (figures of a 402, retry_after_seconds, and on
 * Anthropic's a param that is not null) are kept beside them. The caller
 * frees the text. NULL on out of memory or when json is not an error. */
char *gwshape_error(const struct gwkind *k, int status, const char *json, size_t len);

#endif
