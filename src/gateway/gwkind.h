/* gwkind.h: a provider kind, the API shape one family of providers
 * speaks (docs/gateway.md, "Many providers"), behind
 * one interface, as curl keeps each TLS backend behind its struct
 * Curl_ssl in lib/vtls/: one file a kind (gwkind_openai.c,
 * gwkind_anthropic.c), each filling one struct gwkind of its routes, how
 * it reads a request and shapes the body sent upstream, how it reads the
 * usage of a whole answer and of a stream's events, and how it words an
 * error. The shared code (gwshape*.c: the request's model, stream and
 * input bound, SSE framing, what is billed beyond tokens; gwmoney.c: the
 * pricing; gwcall.c, api_gateway.c: the call) reaches a kind only
 * through this struct, found by route path or by name (gwkind.c, the
 * list of kinds). A new API shape is one file and one line in gwkind.c.
 *
 * Every function of a kind is pure: no I/O, no clock, no ledger. */
#ifndef CREDITD_GWKIND_H
#define CREDITD_GWKIND_H
#include "limits.h"
#include "gwkind_images.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct gwkind;
struct gwkind_route;
struct gwkind_sse;
struct gwkind_refusal;

/* ---- what every kind reads into: a request's ask, a usage, a stream ---- */

/* The service tier a request asks (gw_ask.tier). */
enum gw_tier { GW_TIER_STANDARD = 0, GW_TIER_PRIORITY, GW_TIER_FLEX, GW_TIER_AUTO };

/* What one request body asks. */
struct gw_ask {
	char model[65];			/* the body's "model" */
	int stream;			/* "stream": true */
	int background;			/* Responses' "background": true (docs/gateway.md, "Background responses") */
	int usage_asked;		/* OpenAI chat: stream_options.include_usage was true in the client's body */
	int64_t output_cap;		/* max_tokens / max_completion_tokens / max_output_tokens; -1 when absent */
	const char *cap_field;		/* the field that held it (static), or the one a lowered cap is written to */
	int64_t input_bound;		/* an upper bound of the input tokens (the documented rule) */
	/* The documents (PDF) in it, held by their pages (docs/gateway.md,
	 * "Documents are held by their pages"): the pages counted, the
	 * tokens they add to input_bound (pages × LIMIT_GATEWAY_PAGE_TOKENS
	 * as far as the bound's ceiling lets them: api_gateway caps them at
	 * the model's max_input_tokens), and the member of the first document
	 * whose pages could not be counted ("source", "file_data"; static;
	 * NULL: none), which api_gateway holds at max_input_tokens. */
	int64_t doc_pages, doc_tokens;
	const char *doc_uncounted;
	int64_t choices;		/* OpenAI chat's "n" (1..128), else 1: each choice may write output_cap
					 * tokens, so the hold's output is output_cap × choices */
	/* Embeddings: the vectors the answer holds (the inputs), at most
	 * dimensions numbers each (the body's, else the largest model's);
	 * what bounds its bytes (gwbuffer_bound). 0: not embeddings. */
	int64_t vectors, dimensions;
	/* The first member naming input stored at the provider (static:
	 * "previous_response_id", "conversation", "prompt", "file_id",
	 * "file_ids", "file_url", "item_reference", "source", "tools",
	 * "container"), NULL when the body
	 * carries all its input: the input bound is no bound then. */
	const char *stored;
	/* Responses' "previous_response_id" (not in stored: creditd lets it
	 * through when the account received that response through creditd,
	 * docs/gateway.md, "previous_response_id"), "" when absent; an id too
	 * long to have been kept is cut, and so never found. */
	char previous_response[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	/* What the request asks that the provider bills beyond its tokens
	 * (docs/gateway.md, "What is billed"), each with the member that asked it: api_gateway
	 * refuses one the model's price row does not price, and holds the
	 * rest at its worst case. tier: GW_TIER_* asked (standard: none,
	 * "default", "standard_only"); cache_1h: a cache_control with a
	 * 1-hour ttl; audio: audio in or out; web_search: a web search tool
	 * or web_search_options, at most web_search_max searches (the
	 * request's max_tool_calls or the tool's max_uses; -1: unsaid). */
	int tier;
	int tier_defaulted;		/* tier left out or "auto" on a kind whose default is the project's */
	int cache_1h;
	const char *audio;		/* "modalities", "audio" or "input_audio"; NULL: none */
	const char *web_search;		/* "tools" or "web_search_options"; NULL: none */
	int64_t web_search_max;
	/* The context size its searches were asked at (enum
	 * pricing_search_size: 0 any, 1 low, 2 medium, 3 high): OpenAI's
	 * search_context_size, medium when left out (the provider's
	 * default); Anthropic's searches have no size (any: the row's fee). */
	int web_search_size;
	/* Set by api_gateway, not read from the body: the input bound passes
	 * the model's long-context threshold (Anthropic's only with its
	 * 1M-context beta, without which the provider refuses such an
	 * input): held at the tier's prices (docs/gateway.md, "The long-context tier"). The input's
	 * member ("messages", "input"), NULL: not so. */
	const char *long_context;
	/* Set by api_gateway: an Anthropic call without the 1M-context beta,
	 * whose input the provider never serves past the threshold: never
	 * charged the tier (an estimate from its bound included). */
	int long_context_off;
	/* What the route's table (gwtable.h) found: a bit for each priced or
	 * bound dimension a member asked (1u << GWTABLE_DIM_*), and the first
	 * member it refuses (table_refused 1: its path and why), which
	 * api_gateway takes again with the operator's free_fields once the
	 * call's providers are known. */
	unsigned table_dims;
	int table_refused;
	char table_param[LIMIT_GATEWAY_PARAM_BYTES];
	char table_err[256];
	/* Anthropic's "inference_geo" when given and not null ("" : none),
	 * and its "speed": "fast": each bills every token at a multiple. */
	char geo[32];
	int fast;
	/* A tool that runs a model of its own (Anthropic's advisor tool,
	 * docs/gateway.md "A tool's own model"): its "model" ("" : no such
	 * tool; tool_model_bad: one whose model is no model name), its
	 * "max_tokens" (-1: unsaid, the model's max_output_tokens), its
	 * "max_uses" (-1: unsaid, [gateway] max_tool_calls_held; held for at
	 * most LIMIT_GATEWAY_TOOL_CALLS_MAX), its "caching" asking a 1-hour
	 * ttl. Held to the key's model list and priced at that model's row. */
	char tool_model[65];
	int tool_model_bad;
	int64_t tool_model_cap, tool_model_uses;
	int tool_model_cache_1h;
	/* The audio routes' own (gwkind_openai_audio.c; docs/gateway.md,
	 * "Audio and speech"): speech's characters of "input" (Unicode code
	 * points, as OpenAI counts its 4,096), "instructions" given (static:
	 * "instructions"; NULL: none); a transcription's file (its bytes, its
	 * format's place in the bitrate table, -1: none the table knows) and
	 * response_format ("" : json, the default). media_priced is set by
	 * api_gwaudio once the price row is known (GW_AUDIO_BY_*), and
	 * media_bound the units held: characters, or milliseconds of audio. */
	int64_t speech_chars;
	const char *speech_instructions;
	int64_t audio_file_bytes;
	int audio_format;
	char response_format[16];
	int media_priced;
	int64_t media_bound;
	/* An image route's call (gwkind_images.h): n, size, quality, its hold. */
	struct gw_images_ask img;
	/* A form route's (gwkind_form) multipart boundary: the Content-Type
	 * sent upstream with the body unchanged. */
	char form_boundary[72];
};

/* How an audio route's call is priced (gw_ask.media_priced): not an audio
 * call; by characters (tts-1); by seconds (whisper-1); by tokens, text in
 * and audio out (gpt-4o-mini-tts) or audio in and text out
 * (gpt-4o-transcribe). */
enum { GW_AUDIO_NONE = 0, GW_AUDIO_BY_CHARS, GW_AUDIO_BY_SECONDS, GW_AUDIO_BY_TOKENS };
/* What an audio route is (gwkind_media). */
enum { GW_MEDIA_NONE = 0, GW_MEDIA_SPEECH, GW_MEDIA_TRANSCRIPTION, GW_MEDIA_MODERATION };

/* A tool's own model's runs as the usage reports them (Anthropic's
 * usage.iterations of type "advisor_message"), kept apart from the
 * call's own figures: charged at that model's price (gwmoney_dims). */
enum { GW_TOOL_INPUT, GW_TOOL_CACHE_WRITE, GW_TOOL_CACHE_READ, GW_TOOL_OUTPUT, GW_TOOL_CACHE_1H, GW_TOOL_PARTS };
struct gw_tool_usage {
	int64_t tokens[GW_TOOL_PARTS];	/* uncached input, cache writes (1-hour ones among them), cache reads, output */
	int64_t runs;
	char model[65];			/* the model the first run named ("" : none named) */
	int models;			/* runs named more than one model */
};

/* The usage a provider reported, as creditd charges it (docs/gateway.md, "The charge"):
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
	/* Beyond tokens (docs/gateway.md, "What is billed"): the tier the answer says it served
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
	/* Usage members no reading places (docs/gateway.md, "Usage read
	 * whole"): top-level "*_tokens" members a kind does not know (billed
	 * on their own), and unknown "*_tokens" parts of the input's and the
	 * output's details objects (already in input or output): charged at
	 * the row's dearest token price, the record flagged usage_unknown.
	 * unknown_member names the first ("" : none). */
	int64_t unknown_tokens, unknown_input_part, unknown_output_part;
	char unknown_member[48];
	/* OpenAI's total_tokens as reported (0: none): its part above input,
	 * output and unknown_tokens is counted (gwkind_openai.c). */
	int64_t total_tokens;
	struct gw_tool_usage tool;	/* a tool's own model's runs */
	/* The audio routes' units billed beyond tokens (docs/gateway.md,
	 * "Audio and speech"): characters of speech, milliseconds of audio
	 * transcribed; charged at the row's per-character and per-second
	 * prices (gwmoney_audio). */
	int64_t speech_chars, audio_ms;
	struct gw_images_usage img;	/* an image route's answer (gwkind_images.h) */
};

/* A stream's reader: fed the bytes of a server-sent-event stream as they
 * come (any split), it finds each event, keeps the usage and counts the
 * text, and says whether each event is passed on to the client. */
struct gw_stream {
	const struct gwkind_route *route;
	int usage_asked;		/* from gw_ask: pass OpenAI's usage-only chunk on */
	struct gw_usage usage;
	int64_t text_bytes;		/* UTF-8 bytes of output text and tool arguments seen */
	int64_t nonascii_bytes;		/* those of them that are not ASCII (a token each in an estimate) */
	int64_t audio_bytes;		/* base64 bytes of output audio seen (OpenAI chat's delta.audio.data) */
	int64_t input_seen;		/* Anthropic message_start's input (with cache tokens), -1 until seen */
	/* Anthropic: the tokens of usage.iterations' passes the top-level
	 * figures leave out (input, cache writes, cache reads, output), as
	 * last added to usage (a later message_delta replaces them). */
	int64_t iterations[4];
	int done;			/* the stream's own end was seen ([DONE], message_stop, response.completed ...) */
	int error;			/* an error event was seen */
	char *line;			/* the event being assembled (malloc'ed) */
	size_t line_len, line_cap;
};
/* Lines end in "\n" or "\r\n" (a lone "\r" is not read as an end), and
 * an event ends with a blank line. When a stream ends, line holds the
 * line_len bytes of an event never completed (a stream cut in the middle
 * of one); they were neither read nor passed on. */

/* ---- the interface ---- */


/* The objects a provider keeps that an object route names by their id
 * (docs/gateway.md, "Provider objects"): the path's '*'. */
enum gw_object { GW_OBJECT_NONE = 0, GW_OBJECT_RESPONSE };

/* A query parameter an object route takes (the provider's reference
 * names each): its name as decoded ("include[]"), what its value must
 * be, and a value refused (with why) where creditd does not pass one on.
 * Anything else in the query is refused, naming it. */
enum gwkind_qtype { GWKIND_Q_TEXT, GWKIND_Q_INT, GWKIND_Q_BOOL, GWKIND_Q_ENUM };
struct gwkind_query {
	const char *name;
	enum gwkind_qtype type;
	int64_t min, max;		/* an integer's range */
	const char *values;		/* an enum's, "|"-separated: "asc|desc" */
	const char *refused;		/* a value refused, NULL: none */
	const char *why;		/* why (a sentence), with refused */
};

/* A route a kind serves, under the base path. */
struct gwkind_route {
	const struct gwkind *kind;
	int id;				/* the kind's own number for it */
	const char *path;		/* "/openai/v1/chat/completions" (POST when forwarded) */
	/* Appended to the provider's base URL ("/chat/completions"); NULL for
	 * a route creditd answers itself (GET /openai/v1/models), which is
	 * never forwarded and only counted. */
	const char *upstream;
	const char *metrics_name;	/* the route's name in metrics and logs ("gw_openai_chat") */
	const char *label;		/* creditd_gateway_requests_total's route label ("chat_completions") */
	/* Bills input only (embeddings): never streams, has no output cap,
	 * its input is text (no image parts, no stored parts), its output
	 * reported is ignored. */
	int input_only;
	/* The member that carries the input, as a refusal names it
	 * ("messages", "input"). */
	const char *input_member;
	/* Forwarded free of charge (docs/gateway.md, "Routes": Anthropic's count_tokens,
	 * which the provider does not bill): never held, settled or
	 * streamed, and its model need not be priced. */
	int free;
	/* The table of what it forwards (gwtable.h: "openai_chat", a file of
	 * src/gateway/tables/ without .tsv); NULL for a route never forwarded. */
	const char *table;
	/* An object route (docs/gateway.md, "Provider objects"; free: held
	 * and charged nothing): the object its path's '*' names (0: a call's
	 * route, POST), its method ("GET", "DELETE"; upstream's '*' is the
	 * id), the query parameters it takes (NULL-name-ended; NULL: none),
	 * and why creditd refuses it, when it does (NULL: forwarded to the
	 * provider that made the object, once the object is the caller's
	 * account's). */
	int object;
	const char *method;
	const struct gwkind_query *query;
	const char *refusal;
	/* An image route (GW_IMAGES_GENERATE, GW_IMAGES_EDIT: gwkind_images.h;
	 * docs/gateway.md, "Images"): held and charged by its images. */
	int images;
	/* Bills by the media dimensions (images, transcription, speech,
	 * moderations: docs/gateway.md, "Images, audio and speech"): a media
	 * row (struct price no_tokens) may serve it. 0, every token route:
	 * such a row is refused (400 naming "model"), as a call there would
	 * be charged 0 (docs/decisions.md, "A media row prices no token"). */
	int media;
};

/* The upstream request's headers beyond Content-Type, as the kind writes
 * them: a line ("Name: value") each through add. */
struct gwkind_upstream {
	const char *key;		/* the provider credential sent */
	/* The client's headers the kind forwards
	 * (docs/gateway.md, "What is forwarded"), in the order of
	 * gwkind.forwarded; "" : not sent by the client. */
	const char *const *forwarded;
};

struct gwkind {
	const char *name;		/* "openai": its paths are under /<name>/, metrics' provider label */
	const char *title;		/* "OpenAI": its name in a sentence */
	const struct gwkind_route *routes;
	size_t nroutes;
	/* Optional members may be null, a null member being one left out
	 * (OpenAI's reference); else null is a value a type check refuses. */
	int nullable;
	/* The client's headers forwarded upstream (their names as sent), NULL-ended. */
	const char *const *forwarded;
	/* The provider's answer headers passed back beyond the common ones
	 * (gwcall.c), as name prefixes, NULL-ended. */
	const char *const *passed_back;

	/* What root (a request body of route r, a JSON object) asks that is
	 * the kind's own: its output cap (ask->output_cap, ask->cap_field,
	 * ask->choices), stream options (ask->usage_asked), members it
	 * refuses. 0, or -1 through gwkind_refuse. Called after the model
	 * and "stream" were read. */
	int (*read)(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask, struct gwkind_refusal *rf);
	/* 1 when the body sent upstream for ask differs from the client's
	 * beyond a lowered cap (OpenAI chat's stream usage option). */
	int (*rewrites)(const struct gwkind_route *r, const struct gw_ask *ask);
	/* Changes root (the client's body) into the one sent: the kind's own
	 * change when rewrites said so, and cap written to the cap's member
	 * when lower. 0, or -1 out of memory. */
	int (*rewrite)(const struct gwkind_route *r, json_t *root, const struct gw_ask *ask, int lower, int64_t cap);
	/* The usage of a whole answer (root: its JSON), into *u (zeroed by
	 * the caller; have 0 when it holds none creditd can charge). */
	void (*usage)(const struct gwkind_route *r, const json_t *root, struct gw_usage *u);
	/* One complete event of a stream (its fields parsed): the usage and
	 * text taken into s. 1 to pass it on, 0 to keep it from the client. */
	int (*event)(struct gw_stream *s, const struct gwkind_sse *e);
	/* creditd's error object src (its "type", "code", "message",
	 * "param" and the rest) answered with status, as the kind's SDKs
	 * parse an error: a new JSON value, NULL on out of memory. */
	json_t *(*error)(int status, const json_t *src);
	/* Writes the upstream headers of a call through add (a line each,
	 * "Name: value"); up is the credential and the forwarded headers. 0,
	 * or -1 when add failed. */
	int (*headers)(const struct gwkind_upstream *up, int (*add)(void *arg, const char *line), void *arg);
	/* 1 when the provider serves no input past a model's long-context
	 * threshold on a call with these forwarded headers (Anthropic
	 * without its 1M-context beta): such a call is never held or charged
	 * the tier. NULL: it serves any. */
	int (*long_context_off)(const char *const *forwarded);
	/* The place in forwarded of the header whose comma-separated values
	 * the route's table classifies ("beta:NAME" rows: Anthropic's
	 * anthropic-beta), -1 when none. */
	int beta_forwarded;
	/* A service tier left out or "auto" is the project's default tier
	 * (OpenAI: [provider NAME] default_service_tier), not the dearest. */
	int tier_auto_is_default;
};

/* 1 when route r takes a multipart/form-data body (images/edits), read
 * by gwshape_read_form and forwarded unchanged with its Content-Type. */
static inline int gwkind_form(const struct gwkind_route *r)
{
	return r->images == GW_IMAGES_EDIT;
}

/* The kinds (gwkind.c): the i-th, NULL past the last. */
const struct gwkind *gwkind_at(size_t i);
/* The kind named name ("openai"), NULL when none. */
const struct gwkind *gwkind_named(const char *name);
/* The kind whose paths path is under: "/<name>" or "/<name>/...", NULL
 * when none (a path of creditd's own API). */
const struct gwkind *gwkind_of_path(const char *path);
/* The call's route forwarded at path (POST), NULL when none. */
const struct gwkind_route *gwkind_route(const char *path);
/* The route named metrics_name ("gw_openai_chat"), NULL when none. */
const struct gwkind_route *gwkind_route_named(const char *metrics_name);

/* The client headers every kind forwards, numbered across the kinds in
 * order (a request keeps each, api.h gw_forwarded): how many, and the
 * i-th's name, with its kind (*k) and its place in the kind's list (*j);
 * NULL past the last. */
size_t gwkind_forwarded_count(void);
const char *gwkind_forwarded_at(size_t i, const struct gwkind **k, size_t *j);

/* The audio routes (gwkind_openai_audio.c; docs/gateway.md, "Audio and
 * speech"). What a whole answer of an audio route is charged, which may
 * be no JSON (speech's audio bytes, a transcription's text): its usage
 * where the answer reports one, else the request's own figures held (the
 * characters, the audio's bound), each with ask's media_priced. 0 with *u
 * (have 1) and *estimated (1: charged the hold, no usage read), -1 when
 * the route is no audio route. */
/* Which audio route r is (GW_MEDIA_*), GW_MEDIA_NONE for any other. */
int gwkind_media(const struct gwkind_route *r);
/* The model a body of route r that names none is for (OpenAI's
 * moderations: "omni-moderation-latest"); NULL: "model" is required. */
const char *gwkind_default_model(const struct gwkind_route *r);
/* A duration in seconds as an answer writes it (a JSON number, "3.52") in
 * milliseconds, rounded up: 0, or -1 when negative, not a number or past
 * PRICING_AUDIO_MS_MAX. */
int gwkind_audio_duration_ms(double seconds, int64_t *ms);
/* A transcription's multipart/form-data body (content_type: the
 * request's Content-Type, its boundary) read for route r into *ask, as
 * gwshape_read reads a JSON body (gwshape.h): the model (a text field),
 * the file's bytes and format (its name's extension, the bitrate table's;
 * -1: none), response_format, every field text the SDK writes (the
 * caller walks them against the route's table: gwkind_audio_form_json).
 * 0, or -1 with a
 * sentence in err and *param naming the field (NULL: the body as a whole,
 * no form two readers read alike). */
int gwkind_audio_read_form(const struct gwkind_route *r, const char *content_type, const char *body, size_t len,
			   struct gw_ask *ask, char *err, size_t errcap, const char **param);
/* The form's fields as that JSON object (a new reference), NULL when the
 * body is no form gwkind_audio_read_form reads. */
json_t *gwkind_audio_form_json(const char *content_type, const char *body, size_t len);
int gwkind_audio_whole(const struct gwkind_route *r, const struct gw_ask *ask, const char *body, size_t len,
		       struct gw_usage *u, int *estimated);

extern const struct gwkind gwkind_openai;
extern const struct gwkind gwkind_anthropic;

#endif
