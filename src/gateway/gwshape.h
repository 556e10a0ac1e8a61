/* gwshape.h: the gateway's knowledge of the providers' wire formats, as
 * pure functions (DESIGN §12): what a request asks (its model, whether it
 * streams, its output cap, an upper bound of its input tokens), the body
 * sent upstream (the stream usage option asked for, the output cap
 * lowered), the usage a provider reports (in a whole answer or in the
 * events of a stream), the estimate of a stream that ended without usage,
 * and creditd's errors in each provider's shape.
 *
 * Never does I/O, never touches the ledger or FastCGI; every count is an
 * int64 checked against LIMIT_TOKENS_MAX. Implemented in gwshape.c
 * (requests, the upstream body, errors) and gwshape_usage.c (usage,
 * streams, the estimate). Tested without a network in
 * tests/unit/gateway/test_gwshape.c and test_gwshape_usage.c. */
#ifndef CREDITD_GWSHAPE_H
#define CREDITD_GWSHAPE_H
#include "limits.h"
#include <stddef.h>
#include <stdint.h>

enum gw_route {
	GW_OPENAI_CHAT = 0,	/* POST /openai/v1/chat/completions */
	GW_OPENAI_RESPONSES,	/* POST /openai/v1/responses */
	GW_OPENAI_EMBEDDINGS,	/* POST /openai/v1/embeddings */
	GW_ANTHROPIC_MESSAGES,	/* POST /anthropic/v1/messages */
	GW_ROUTES
};

enum gw_provider { GW_OPENAI = 0, GW_ANTHROPIC };
/* The service tier a request asks (gw_ask.tier). */
enum gw_tier { GW_TIER_STANDARD = 0, GW_TIER_PRIORITY, GW_TIER_FLEX, GW_TIER_AUTO };

enum gw_provider gwshape_provider(enum gw_route r);

/* What one request body asks. */
struct gw_ask {
	char model[65];			/* the body's "model" */
	int stream;			/* "stream": true */
	int usage_asked;		/* OpenAI chat: stream_options.include_usage was true in the client's body */
	int64_t output_cap;		/* max_tokens / max_completion_tokens / max_output_tokens; -1 when absent */
	const char *cap_field;		/* the field that held it (static), or the one a lowered cap is written to */
	int64_t input_bound;		/* an upper bound of the input tokens (the documented rule) */
	int64_t choices;		/* OpenAI chat's "n" (1..128), else 1: each choice may write output_cap
					 * tokens, so the hold's output is output_cap × choices */
	/* The first member naming input stored at the provider (static:
	 * "previous_response_id", "conversation", "prompt", "file_id",
	 * "file_ids", "file_url", "item_reference", "source", "tools",
	 * "container"), NULL when the body
	 * carries all its input: the input bound is no bound then. */
	const char *stored;
	/* Responses' "previous_response_id" (not in stored: creditd lets it
	 * through when the account received that response through creditd,
	 * DESIGN §14), "" when absent; an id too long to have been kept is
	 * cut, and so never found. */
	char previous_response[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	/* What the request asks that the provider bills beyond its tokens
	 * (DESIGN §14), each with the member that asked it: api_gateway
	 * refuses one the model's price row does not price, and holds the
	 * rest at its worst case. tier: GW_TIER_* asked (standard: none,
	 * "default", "standard_only"); cache_1h: a cache_control with a
	 * 1-hour ttl; audio: audio in or out; web_search: a web search tool
	 * or web_search_options, at most web_search_max searches (the
	 * request's max_tool_calls or the tool's max_uses; -1: unsaid). */
	int tier;
	int cache_1h;
	const char *audio;		/* "modalities", "audio" or "input_audio"; NULL: none */
	const char *web_search;		/* "tools" or "web_search_options"; NULL: none */
	int64_t web_search_max;
	/* A member asking for what no price field prices (a server-side tool
	 * other than web search: file search, code execution, image
	 * generation, computer use, web fetch, MCP): refused (static). */
	const char *unpriced;
	/* Set by api_gateway, not read from the body: the input bound passes
	 * the model's long-context threshold (Anthropic's only with its
	 * 1M-context beta, without which the provider refuses such an
	 * input): held at the tier's prices (DESIGN §14). The input's
	 * member ("messages", "input"), NULL: not so. */
	const char *long_context;
	/* Set by api_gateway: an Anthropic call without the 1M-context beta,
	 * whose input the provider never serves past the threshold: never
	 * charged the tier (an estimate from its bound included). */
	int long_context_off;
};

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
 * message; a file or document part counts its bytes (base64 included).
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
 * Responses' "background": true is refused (param "background"): the
 * provider answers "queued" and bills the run after the call returned,
 * which no settle at the call's end can know. */
int gwshape_read(enum gw_route r, const char *body, size_t len, struct gw_ask *ask, char *err, size_t errcap,
		 const char **param);

/* The body to send upstream: body as received, changed only where DESIGN
 * §12 says: OpenAI chat streamed gets stream_options.include_usage true
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
 * of memory, with *outlen set to (size_t)-1. */
char *gwshape_upstream_body(enum gw_route r, const char *body, size_t len, const struct gw_ask *ask, int64_t cap,
			    size_t *outlen);

/* The usage a provider reported, as creditd charges it (DESIGN §12):
 * input counts cached and cache-write tokens too. */
struct gw_usage {
	int have;			/* 1 once usage was seen */
	/* Responses: the answer's own id (whole: its "id"; streamed: the
	 * response.created or final event's response.id), "" when unseen. */
	char response_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	int64_t input_tokens;
	int64_t cached_input_tokens;	/* cache reads */
	int64_t cache_write_tokens;	/* Anthropic's cache_creation_input_tokens */
	int64_t output_tokens;
	/* Beyond tokens (DESIGN §14): the tier the answer says it served
	 * (GW_TIER_*; standard when it says none), Anthropic's 1-hour cache
	 * writes (usage.cache_creation.ephemeral_1h_input_tokens, part of
	 * cache_write_tokens), OpenAI's audio tokens (prompt_ and
	 * completion_tokens_details.audio_tokens, parts of input and output),
	 * web searches run (Anthropic's usage.server_tool_use.
	 * web_search_requests; Responses' web_search_call output items). */
	int tier;
	int64_t cache_write_1h_tokens;
	int64_t audio_input_tokens, audio_output_tokens;
	int64_t web_searches;
};

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
int gwshape_usage(enum gw_route r, const char *body, size_t len, struct gw_usage *u);

/* A stream's reader: fed the bytes of a server-sent-event stream as they
 * come (any split), it finds each event, keeps the usage and counts the
 * text, and says whether each event is passed on to the client. */
struct gw_stream {
	enum gw_route route;
	int usage_asked;		/* from gw_ask: pass OpenAI's usage-only chunk on */
	struct gw_usage usage;
	int64_t text_bytes;		/* UTF-8 bytes of output text and tool arguments seen */
	int64_t input_seen;		/* Anthropic message_start's input (with cache tokens), -1 until seen */
	int done;			/* the stream's own end was seen ([DONE], message_stop, response.completed ...) */
	int error;			/* an error event was seen */
	char *line;			/* the event being assembled (malloc'ed) */
	size_t line_len, line_cap;
};
/* Lines end in "\n" or "\r\n" (a lone "\r" is not read as an end), and
 * an event ends with a blank line. When a stream ends, line holds the
 * line_len bytes of an event never completed (a stream cut in the middle
 * of one); they were neither read nor passed on. */

void gwshape_stream_init(struct gw_stream *s, enum gw_route r, int usage_asked);
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

/* What an ended stream is charged when it reported no usage (settle
 * reason "estimated"): output = ceil(text_bytes / 4) but at least 1 when
 * any text came, never above hold_output; input = input_seen when
 * Anthropic's message_start gave it (with its cache reads and writes),
 * else hold_input. u->have is 1. Counts are clamped to 0..LIMIT_TOKENS_MAX. */
void gwshape_estimate(const struct gw_stream *s, int64_t hold_input, int64_t hold_output, struct gw_usage *u);

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
char *gwshape_error(enum gw_provider p, int status, const char *json, size_t len);

#endif
