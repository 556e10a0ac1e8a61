/* gwkind_openai.c: the OpenAI API shape (docs/gateway.md), which DeepSeek,
 * Mistral, Groq, Together, Gemini's OpenAI endpoint, vLLM and Ollama also
 * speak: its routes (Chat Completions, Responses, Embeddings, and the
 * routes of the responses an account made, with their query parameters), the
 * members it reads of a request (the output cap, Chat's n and
 * stream_options, Responses' background), the stream usage option it
 * asks for, the usage of its answers and of its streams' events (Chat's
 * chunks, Responses' events), its error shape and its headers upstream.
 * One struct gwkind (gwkind.h) is all it exports.
 *
 * Never: does I/O, reads the clock or touches the ledger; changes a body
 * member other than the two of docs/gateway.md, "What is forwarded"; lets a
 * count wrap or pass LIMIT_TOKENS_MAX. A figure that is not a count is no
 * usage: the call is estimated by the documented rule, never charged a figure
 * nobody stated. */
#include "gwkind.h"
#include "gwkind_int.h"
#include "urlpath.h"
#include "limits.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chat's "n": the most choices it answers in one call. */
#define GW_CHOICES_MAX 128

enum { CHAT, RESPONSES, EMBEDDINGS, MODELS, MODEL, RESPONSE_GET, RESPONSE_DELETE, RESPONSE_ITEMS, RESPONSE_CANCEL };

/* The query parameters of the object routes, as OpenAI's API reference
 * names them (openapi.yaml's getResponse and listInputItems; the
 * official SDKs send an array as "include[]=…"). Each changes what the
 * provider answers, never what it bills: retrieving is free. */
static const struct gwkind_query retrieve_query[] = {
	{"include", GWKIND_Q_TEXT, 0, 0, NULL, NULL, NULL},
	{"include[]", GWKIND_Q_TEXT, 0, 0, NULL, NULL, NULL},
	/* A stream resumes a background response's events; creditd streams
	 * no background run (docs/gateway.md, "Background responses"). */
	{"stream", GWKIND_Q_BOOL, 0, 0, NULL, "true", "a response's stream is resumed only for a background response, "
	 "and creditd streams none (\"background\" is taken without \"stream\"): retrieve it whole"},
	{"starting_after", GWKIND_Q_INT, 0, LIMIT_TOKENS_MAX, NULL, NULL, NULL},
	{"include_obfuscation", GWKIND_Q_BOOL, 0, 0, NULL, NULL, NULL},
	{NULL, GWKIND_Q_TEXT, 0, 0, NULL, NULL, NULL},
};
static const struct gwkind_query items_query[] = {
	{"after", GWKIND_Q_TEXT, 0, 0, NULL, NULL, NULL},
	{"limit", GWKIND_Q_INT, 1, 100, NULL, NULL, NULL},
	{"order", GWKIND_Q_ENUM, 0, 0, "asc|desc", NULL, NULL},
	{"include", GWKIND_Q_TEXT, 0, 0, NULL, NULL, NULL},
	{"include[]", GWKIND_Q_TEXT, 0, 0, NULL, NULL, NULL},
	{NULL, GWKIND_Q_TEXT, 0, 0, NULL, NULL, NULL},
};
/* The audio routes (gwkind_openai_audio.c; docs/gateway.md, "Audio and speech"). */
enum { SPEECH = 16, MODERATIONS, TRANSCRIPTIONS };
/* The image routes (gwkind_images.c). */
enum { IMAGES_GENERATIONS = 32, IMAGES_EDITS };

static const struct gwkind_route routes[] = {
	{&gwkind_openai, CHAT, "/openai/v1/chat/completions", "/chat/completions", "gw_openai_chat", "chat_completions", 0,
	 "messages", 0, "openai_chat", 0, NULL, NULL, NULL, 0, 0},
	{&gwkind_openai, RESPONSES, "/openai/v1/responses", "/responses", "gw_openai_responses", "responses", 0, "input", 0,
	 "openai_responses", 0, NULL, NULL, NULL, 0, 0},
	{&gwkind_openai, EMBEDDINGS, "/openai/v1/embeddings", "/embeddings", "gw_openai_embeddings", "embeddings", 1,
	 "input", 0, "openai_embeddings", 0, NULL, NULL, NULL, 0, 0},
	/* GET: the priced models in OpenAI's list shape, answered by creditd
	 * (api_gw_models), never forwarded. */
	{&gwkind_openai, MODELS, "/openai/v1/models", NULL, "gw_openai_models", "models", 1, NULL, 0, NULL, 0, NULL, NULL, NULL,
	 0, 0},
	/* GET: one of them (api_gw_model), answered by creditd too. */
	{&gwkind_openai, MODEL, "/openai/v1/models/*", NULL, "gw_openai_model", "model", 1, NULL, 0, NULL, 0, NULL, NULL, NULL,
	 0, 0},
	/* A response the caller's account made through creditd (docs/gateway.md,
	 * "Provider objects"): retrieved, deleted, its input items listed,
	 * at the provider that made it; free. */
	{&gwkind_openai, RESPONSE_GET, "/openai/v1/responses/*", "/responses/*", "gw_openai_response_get", "response_get",
	 0, NULL, 1, NULL, GW_OBJECT_RESPONSE, "GET", retrieve_query, NULL, 0, 0},
	{&gwkind_openai, RESPONSE_DELETE, "/openai/v1/responses/*", "/responses/*", "gw_openai_response_delete",
	 "response_delete", 0, NULL, 1, NULL, GW_OBJECT_RESPONSE, "DELETE", NULL, NULL, 0, 0},
	{&gwkind_openai, RESPONSE_ITEMS, "/openai/v1/responses/*/input_items", "/responses/*/input_items",
	 "gw_openai_response_input_items", "response_input_items", 0, NULL, 1, NULL, GW_OBJECT_RESPONSE, "GET",
	 items_query, NULL, 0, 0},
	/* A background run cancelled (docs/gateway.md, "Background
	 * responses"): forwarded; the run's hold is settled with the usage
	 * its answer says ran so far. */
	{&gwkind_openai, RESPONSE_CANCEL, "/openai/v1/responses/*/cancel", "/responses/*/cancel",
	 "gw_openai_response_cancel", "response_cancel", 0, NULL, 1, NULL, GW_OBJECT_RESPONSE, "POST", NULL, NULL, 0, 0},
	/* Audio (gwkind_openai_audio.c): speech held by its characters or its
	 * audio tokens; a transcription by its file; moderations free, its
	 * model OpenAI's default when the body names none. */
	{&gwkind_openai, SPEECH, "/openai/v1/audio/speech", "/audio/speech", "gw_openai_speech", "audio_speech", 0, "input",
	 0, "openai_speech", 0, NULL, NULL, NULL, 0, 1},
	/* A multipart/form-data body (gwkind_audio_read_form), held by its
	 * file's seconds or its tokens; never streamed (its table refuses it). */
	{&gwkind_openai, TRANSCRIPTIONS, "/openai/v1/audio/transcriptions", "/audio/transcriptions",
	 "gw_openai_transcriptions", "audio_transcriptions", 0, "file", 0, "openai_transcriptions", 0,
	 NULL, NULL, NULL, 0, 1},
	{&gwkind_openai, MODERATIONS, "/openai/v1/moderations", "/moderations", "gw_openai_moderations", "moderations", 1,
	 "input", 1, "openai_moderations", 0, NULL, NULL, NULL, 0, 1},
	/* Images (docs/gateway.md, "Images"): held and charged by the images
	 * asked and made. */
	{&gwkind_openai, IMAGES_GENERATIONS, "/openai/v1/images/generations", "/images/generations",
	 "gw_openai_images_generations", "images_generations", 0, "prompt", 0, "openai_images_generations", 0, NULL,
	 NULL, NULL, GW_IMAGES_GENERATE, 1},
	{&gwkind_openai, IMAGES_EDITS, "/openai/v1/images/edits", "/images/edits", "gw_openai_images_edits", "images_edits",
	 0, "prompt", 0, "openai_images_edits", 0, NULL, NULL, NULL, GW_IMAGES_EDIT, 1},
};

/* ---- what a request asks ------------------------------------------------- */

/* creditd writes include_usage into stream_options: a value the provider
 * would have refused must not be made into one it accepts. */
static int read_stream_options(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask,
			       struct gwkind_refusal *rf)
{
	json_t *opts = gwkind_member(r, root, "stream_options"), *usage;

	if (opts == NULL)
		return 0;
	if (!json_is_object(opts))
		return gwkind_refuse(rf, "stream_options", "\"stream_options\" must be an object");
	usage = gwkind_member(r, opts, "include_usage");
	if (usage != NULL && !json_is_boolean(usage))
		return gwkind_refuse(rf, "stream_options.include_usage",
				      "\"stream_options.include_usage\" must be true or false");
	ask->usage_asked = json_is_true(usage);
	return 0;
}

static int read_chat_caps(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask,
			  struct gwkind_refusal *rf)
{
	int64_t completion, legacy, n;

	if (gwkind_read_int(rf, r, root, "max_completion_tokens", 1, LIMIT_TOKENS_MAX, &completion) != 0 ||
	    gwkind_read_int(rf, r, root, "max_tokens", 1, LIMIT_TOKENS_MAX, &legacy) != 0 ||
	    gwkind_read_int(rf, r, root, "n", 1, GW_CHOICES_MAX, &n) != 0)
		return -1;
	/* OpenAI refuses both at once; a provider that takes both may stop
	 * at either, so the larger bounds what it writes. */
	ask->output_cap = completion > legacy ? completion : legacy;
	ask->cap_field = completion < 0 && legacy >= 0 ? "max_tokens" : "max_completion_tokens";
	ask->choices = n > 0 ? n : 1;
	return 0;
}

/* Embeddings' answer size (gwbuffer_bound; docs/gateway.md, "Fair share"): a vector an
 * input (a string, or an array of token ids; a flat array of token ids is
 * one input), of the body's dimensions or OpenAI's largest model's. */
static int read_vectors(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask)
{
	const json_t *in = gwkind_member(r, root, "input"), *dims = gwkind_member(r, root, "dimensions");
	int flat = json_is_array(in) && json_array_size(in) > 0 && json_is_integer(json_array_get(in, 0));
	ask->vectors = json_is_array(in) && !flat ? (int64_t)json_array_size(in) : 1;
	ask->dimensions = json_is_integer(dims) && json_integer_value(dims) > 0 &&
			  json_integer_value(dims) <= LIMIT_GATEWAY_EMBEDDING_DIMENSIONS_MAX ? json_integer_value(dims)
			  : LIMIT_GATEWAY_EMBEDDING_DIMENSIONS;
	return 0;
}

static int openai_read(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask, struct gwkind_refusal *rf)
{
	if (gwkind_media(r) != GW_MEDIA_NONE)
		return gwkind_audio_read(r, root, ask, rf);
	if (r->images)
		return gwkind_images_read(r, root, ask, rf);
	switch (r->id) {
	case CHAT:
		return read_stream_options(r, root, ask, rf) != 0 ? -1 : read_chat_caps(r, root, ask, rf);
	case RESPONSES:
		ask->cap_field = "max_output_tokens";
		if (gwkind_read_int(rf, r, root, "max_output_tokens", 1, LIMIT_TOKENS_MAX, &ask->output_cap) != 0)
			return -1;
		/* A background run (docs/gateway.md, "Background responses"):
		 * held as a whole call, its hold settled when the run ends. Its
		 * events streamed are refused: a background stream is resumed
		 * from the provider by its sequence numbers, and its usage comes
		 * only with the run's end, which the poll learns anyway. */
		ask->background = json_is_true(gwkind_member(r, root, "background"));
		if (ask->background && ask->stream)
			return gwkind_refuse(rf, "stream", "\"background\": true is taken without \"stream\": creditd does "
					      "not stream a background run: retrieve it (GET /openai/v1/responses/{id}) until it ends");
		return 0;
	default:
		return read_vectors(r, root, ask);	/* embeddings: no cap */
	}
}

/* ---- the body sent upstream ---------------------------------------------- */

/* Chat streamed gets stream_options.include_usage (docs/gateway.md, "include_usage"): the
 * usage of a stream is its last chunk's, which OpenAI sends only when
 * asked. */
static int openai_rewrites(const struct gwkind_route *r, const struct gw_ask *ask)
{
	return r->id == CHAT && ask->stream && !ask->usage_asked;
}

static int set_include_usage(json_t *root)
{
	json_t *opts = json_object_get(root, "stream_options");

	if (!json_is_object(opts)) {
		/* Absent or null (the read refused any other value). */
		opts = json_object();
		if (json_object_set_new(root, "stream_options", opts) != 0)
			return -1;
	}
	return json_object_set_new(opts, "include_usage", json_true());
}

/* Writes cap to the member the body used; Chat's both when it had both
 * (OpenAI refuses max_tokens and max_completion_tokens together, and the
 * provider then answers as it would have). A member replaced keeps its
 * place. */
static int openai_rewrite(const struct gwkind_route *r, json_t *root, const struct gw_ask *ask, int lower, int64_t cap)
{
	if (openai_rewrites(r, ask) && set_include_usage(root) != 0)
		return -1;
	if (!lower)
		return 0;
	if (json_object_set_new(root, ask->cap_field, json_integer(cap)) != 0)
		return -1;
	if (r->id == CHAT && json_object_get(root, "max_tokens") != NULL &&
	    json_object_set_new(root, "max_tokens", json_integer(cap)) != 0)
		return -1;
	return 0;
}

/* ---- usage --------------------------------------------------------------- */

/* OpenAI's usage: input (cached included), its cached part, output (NULL
 * for embeddings, 0). -1 when a figure is missing or not a count. */
static int openai_usage(const json_t *usage, const char *in, const char *details, const char *out,
			struct gw_usage *u)
{
	int64_t input = 0, cached = 0, output = 0, writes = 0, total = 0;
	const json_t *d = json_object_get(usage, details);

	if (gwkind_count_of(json_object_get(usage, in), &input) != 1)
		return -1;
	if (out != NULL && gwkind_count_of(json_object_get(usage, out), &output) != 1)
		return -1;
	if (gwkind_count_of(json_object_get(d, "cached_tokens"), &cached) < 0 || cached > input)
		return -1;
	/* Input written to the prompt cache, of the input (the SDKs' types
	 * name it): charged at the cache-write price. */
	if (gwkind_count_of(json_object_get(d, "cache_write_tokens"), &writes) < 0 || writes > input - cached)
		return -1;
	if (gwkind_count_of(json_object_get(usage, "total_tokens"), &total) < 0)
		return -1;
	memset(u, 0, sizeof(*u));
	u->total_tokens = total;
	u->have = 1;
	u->input_tokens = input;
	u->cached_input_tokens = cached;
	u->cache_write_tokens = writes;
	u->output_tokens = output;
	return 0;
}

/* The usage members each route reads (docs/gateway.md, "Usage read
 * whole"): any other "*_tokens" member is usage_unknown. */
static const char *const chat_top[] = {"prompt_tokens", "completion_tokens", "total_tokens", NULL};
static const char *const chat_in[] = {"cached_tokens", "audio_tokens", "cache_write_tokens", NULL};
static const char *const chat_out[] = {"reasoning_tokens", "audio_tokens", "accepted_prediction_tokens",
				       "rejected_prediction_tokens", NULL};
static const char *const responses_top[] = {"input_tokens", "output_tokens", "total_tokens", NULL};
static const char *const responses_in[] = {"cached_tokens", "cache_write_tokens", NULL};
static const char *const responses_out[] = {"reasoning_tokens", NULL};
static const struct gwkind_usage_names chat_names = {chat_top, "prompt_tokens_details", "completion_tokens_details",
						     chat_in, chat_out};
static const struct gwkind_usage_names responses_names = {responses_top, "input_tokens_details",
							  "output_tokens_details", responses_in, responses_out};

/* A total_tokens above its parts (docs/gateway.md, "The estimate"):
 * what it bills beyond them and beyond the unknown members it may hold
 * (charged apart, at the dearest price) is counted, as output (as input
 * on a route without output). */
static void total_beyond(const struct gwkind_route *r, struct gw_usage *u)
{
	int64_t parts = u->input_tokens + u->output_tokens + u->unknown_tokens;	/* each ≤ LIMIT_TOKENS_MAX */
	if (u->total_tokens <= parts)
		return;
	if (r->input_only)
		u->input_tokens += u->total_tokens - parts;
	else
		u->output_tokens += u->total_tokens - parts;
	u->input_tokens = gwkind_clamp_tokens(u->input_tokens);
	u->output_tokens = gwkind_clamp_tokens(u->output_tokens);
}

/* The usage object of a route's answer, read into *u (have 0 when it
 * holds no usage creditd can charge). */
static void read_usage(const struct gwkind_route *r, const json_t *usage, struct gw_usage *u)
{
	int rc;

	if (r->id == CHAT)
		rc = openai_usage(usage, "prompt_tokens", "prompt_tokens_details", "completion_tokens", u);
	else if (r->id == RESPONSES)
		rc = openai_usage(usage, "input_tokens", "input_tokens_details", "output_tokens", u);
	else
		rc = openai_usage(usage, "prompt_tokens", "prompt_tokens_details", NULL, u);
	if (rc != 0) {
		memset(u, 0, sizeof(*u));
		return;
	}
	gwkind_usage_unknown(usage, r->id == RESPONSES ? &responses_names : &chat_names, u);
	total_beyond(r, u);
}

/* What answer (the answer object, NULL when the event has none) and its
 * usage say beyond tokens (docs/gateway.md, "What is billed"): the tier served, Chat's audio
 * tokens, Responses' web search calls; a member absent leaves its
 * figure as it was. */
static void read_dims(const struct gwkind_route *r, const json_t *answer, const json_t *usage, struct gw_usage *u)
{
	if (answer != NULL && json_object_get(answer, "service_tier") != NULL)
		u->tier = gwkind_tier_served(json_object_get(answer, "service_tier"));
	if (r->id == CHAT) {
		gwkind_part_of(json_object_get(json_object_get(usage, "prompt_tokens_details"), "audio_tokens"),
				u->input_tokens - u->cached_input_tokens, &u->audio_input_tokens);
		gwkind_part_of(json_object_get(json_object_get(usage, "completion_tokens_details"), "audio_tokens"),
				u->output_tokens, &u->audio_output_tokens);
	} else if (r->id == RESPONSES && answer != NULL) {
		const json_t *item;
		size_t i;
		int64_t n = 0;
		json_array_foreach(json_object_get(answer, "output"), i, item)
			n += gwkind_str_is(json_object_get(item, "type"), "web_search_call");
		u->web_searches = n;
	}
}

static void openai_usage_whole(const struct gwkind_route *r, const json_t *root, struct gw_usage *u)
{
	const json_t *usage = json_object_get(root, "usage");

	if (gwkind_media(r) != GW_MEDIA_NONE) {
		gwkind_audio_usage(r, root, u);
		return;
	}
	if (r->images) {
		gwkind_images_usage(r, root, u);
		return;
	}
	if (json_is_object(usage))
		read_usage(r, usage, u);
	if (u->have)
		read_dims(r, root, usage, u);
	if (r->id == RESPONSES)
		gwkind_keep_id(u, json_object_get(root, "id"));
}

/* ---- streams ------------------------------------------------------------- */

/* A usage that is not one makes have 0: a figure nobody stated is never
 * charged, the stream is estimated instead. */
static void take_usage(struct gw_stream *s, const json_t *usage)
{
	struct gw_usage u;

	memset(&u, 0, sizeof(u));
	read_usage(s->route, usage, &u);
	gwkind_keep_extras(&u, &s->usage);	/* seen before the usage */
	s->usage = u;
}

/* 1 when the chunk is passed on, 0 for the usage-only chunk creditd asked
 * for on a client's behalf that did not ask (OpenAI sends it with an empty
 * choices array, so the client sees what OpenAI would have sent it). */
static int chat_event(struct gw_stream *s, const json_t *root)
{
	const json_t *choices = json_object_get(root, "choices"), *usage = json_object_get(root, "usage");
	json_t *choice, *call;
	size_t i, j;

	if (json_object_get(root, "error") != NULL && !json_is_null(json_object_get(root, "error")))
		s->error = 1;
	json_array_foreach(choices, i, choice) {
		json_t *delta = json_object_get(choice, "delta");

		gwkind_count_text(s, json_object_get(delta, "content"));
		gwkind_count_text(s, json_object_get(delta, "refusal"));
		gwkind_count_text(s, json_object_get(json_object_get(delta, "function_call"), "arguments"));
		/* Audio output (docs/gateway.md, "The estimate"): its transcript is text, its base64
		 * data is counted by its duration (gwshape_estimate). */
		gwkind_count_text(s, json_object_get(json_object_get(delta, "audio"), "transcript"));
		gwkind_count_audio(s, json_object_get(json_object_get(delta, "audio"), "data"));
		json_array_foreach(json_object_get(delta, "tool_calls"), j, call)
			gwkind_count_text(s, json_object_get(json_object_get(call, "function"), "arguments"));
	}
	read_dims(s->route, root, NULL, &s->usage);	/* the tier, said in every chunk */
	if (!json_is_object(usage))
		return 1;
	take_usage(s, usage);
	read_dims(s->route, root, usage, &s->usage);
	return s->usage_asked || json_array_size(choices) > 0;
}

static int is_one_of(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, list[i]) == 0)
			return 1;
	}
	return 0;
}

static void responses_event(struct gw_stream *s, const char *type, const json_t *root)
{
	/* Output the model writes and Responses bills as output tokens. */
	static const char *const text[] = {
		"response.output_text.delta", "response.refusal.delta", "response.function_call_arguments.delta",
		"response.custom_tool_call_input.delta", "response.mcp_call_arguments.delta",
		"response.reasoning_text.delta", "response.reasoning_summary_text.delta",
	};
	static const char *const ends[] = { "response.completed", "response.incomplete", "response.failed" };
	const json_t *usage;

	if (strcmp(type, "response.created") == 0 || is_one_of(type, ends, sizeof(ends) / sizeof(ends[0])))
		gwkind_keep_id(&s->usage, json_object_get(json_object_get(root, "response"), "id"));
	if (strcmp(type, "error") == 0) {
		s->error = 1;
	} else if (is_one_of(type, ends, sizeof(ends) / sizeof(ends[0]))) {
		s->done = 1;
		usage = json_object_get(json_object_get(root, "response"), "usage");
		if (json_is_object(usage)) {
			take_usage(s, usage);
			read_dims(s->route, json_object_get(root, "response"), usage, &s->usage);
		}
	} else if (is_one_of(type, text, sizeof(text) / sizeof(text[0]))) {
		gwkind_count_text(s, json_object_get(root, "delta"));
	}
}

static int data_is(const struct gwkind_sse *e, const char *s)
{
	return e->data_len == strlen(s) && memcmp(e->data, s, e->data_len) == 0;
}

/* ---- OpenAI chat's chunks without a parse ----
 * A stream is mostly chunks of a few characters of content each: parsing
 * every one with jansson was a third of creditd's CPU at 1,000 streams
 * (./dev bench --gateway). A chunk that names no usage object, no error,
 * no tool call, no refusal, no audio and one content at most is read by this scan:
 * the UTF-8 bytes of its content string, decoded. Anything else, or
 * anything the scan does not expect, is parsed whole as before. */

/* After the key at p (its closing quote passed): the value's first byte,
 * past the colon and blanks, or NULL. */
static const char *value_of(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (p == end || *p != ':')
		return NULL;
	p++;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p < end ? p : NULL;
}

/* Where a chat chunk names the keys the scan looks for: each "key" with
 * its quotes, wherever it stands (a key, or inside a string: the scan
 * then finds no value after it and the chunk is parsed). One pass, each
 * quote looked at once. */
struct chat_keys {
	const char *usage, *content;	/* the first of each; NULL: none */
	int usage2, content2;		/* a second one after it */
	int other;			/* "error", "tool_calls", "function_call", "refusal" or "audio" */
};

static int key_at(const char *p, const char *end, const char *key, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, key, n) == 0;
}

static void first_or_second(const char **first, int *second, const char *p, size_t n)
{
	if (*first == NULL)
		*first = p;
	else if (p >= *first + n)
		*second = 1;
}

static void chat_keys(const char *p, const char *end, struct chat_keys *k)
{
	memset(k, 0, sizeof(*k));
	for (; p + 1 < end && (p = memchr(p, '"', (size_t)(end - p))) != NULL && p + 1 < end; p++) {
		switch (p[1]) {
		case 'u':
			if (key_at(p, end, "\"usage\"", 7))
				first_or_second(&k->usage, &k->usage2, p, 7);
			break;
		case 'c':
			if (key_at(p, end, "\"content\"", 9))
				first_or_second(&k->content, &k->content2, p, 9);
			break;
		case 'e':
			k->other |= key_at(p, end, "\"error\"", 7);
			break;
		case 't':
			k->other |= key_at(p, end, "\"tool_calls\"", 12);
			break;
		case 'f':
			k->other |= key_at(p, end, "\"function_call\"", 15);
			break;
		case 'r':
			k->other |= key_at(p, end, "\"refusal\"", 9);
			break;
		case 'a':
			k->other |= key_at(p, end, "\"audio\"", 7);
			break;
		default:
			break;
		}
	}
}

/* The UTF-8 length of a \uXXXX escape at p (p at the 'u'); -1 when it is
 * not one the scan takes (a surrogate: the parse decides). */
static int escape_bytes(const char *p, const char *end)
{
	unsigned v = 0;
	if (end - p < 5)
		return -1;
	for (int i = 1; i <= 4; i++) {
		int h = urlpath_hex_value(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + (unsigned)h;
	}
	if (v >= 0xD800 && v <= 0xDFFF)
		return -1;
	return v < 0x80 ? 1 : v < 0x800 ? 2 : 3;
}

/* The decoded UTF-8 bytes of the string at p (its opening quote), or -1;
 * *other: how many of them are not ASCII. */
static int64_t string_bytes(const char *p, const char *end, int64_t *other)
{
	int64_t n = 0;
	*other = 0;
	for (p++; p < end; p++) {
		if (*p == '"')
			return n;
		if ((unsigned char)*p < 0x20)
			return -1;
		if (*p != '\\') {
			n++;
			*other += (unsigned char)*p >= 0x80;
			continue;
		}
		if (++p == end)
			return -1;
		if (*p == 'u') {
			int b = escape_bytes(p, end);
			if (b < 0)
				return -1;
			n += b;
			*other += b > 1 ? b : 0;
			p += 4;
		} else if (strchr("\"\\/bfnrt", *p) != NULL) {
			n++;
		} else {
			return -1;
		}
	}
	return -1;
}

/* 1 when the "content" key at `at` stands where the parse reads it: a
 * member of choices[i].delta of the chunk's object (root { > "choices"
 * [ > { > "delta" { > "content"). One walk of the bytes before it: the
 * containers opened, and the key each was opened under (a chunk too odd
 * for the walk is parsed). */
static int content_in_delta(const char *d, const char *at)
{
	char open[6];			/* per depth: '{' or '[' */
	int under[6] = {0};		/* per depth: 1 "choices", 2 "delta", 0 another key */
	int depth = 0, key = 0;
	for (const char *p = d; p < at; p++) {
		if (*p == '"') {
			const char *e = p + 1;
			while (e < at && *e != '"')
				e += *e == '\\' ? 2 : 1;
			if (e >= at)
				return 0;
			/* A key: what its value opens is under it; a string value
			 * opens nothing. */
			key = value_of(e + 1, at) == NULL ? 0
			      : key_at(p, at, "\"choices\"", 9) && e == p + 8 ? 1
			      : key_at(p, at, "\"delta\"", 7) && e == p + 6 ? 2 : 0;
			p = e;
		} else if (*p == ',') {
			key = 0;	/* a number or a literal ended */
		} else if (*p == '{' || *p == '[') {
			if (depth == 5)
				return 0;
			open[depth] = *p;
			under[depth++] = key;
			key = 0;
		} else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return 0;
			depth--;
		}
	}
	return depth == 4 && open[0] == '{' && open[1] == '[' && under[1] == 1 && open[2] == '{' && open[3] == '{' &&
	       under[3] == 2;
}

/* 1 when the chunk was read by the scan (its content counted), 0 when it
 * must be parsed. */
static int chat_scan(struct gw_stream *s, const char *d, size_t len)
{
	const char *end = d + len, *v;
	struct chat_keys k;
	/* A \u escape may spell a key ("us\u0061ge") the scan would not
	 * see: such a chunk is parsed (docs/gateway.md, "Usage reported with an escaped key"). */
	if (memmem(d, len, "\\u", 2) != NULL)
		return 0;
	chat_keys(d, end, &k);
	if (k.other)
		return 0;
	if (k.usage != NULL && ((v = value_of(k.usage + 7, end)) == NULL || *v != 'n' || k.usage2))
		return 0;
	if (k.content == NULL)
		return 1;
	if (k.content2 || (v = value_of(k.content + 9, end)) == NULL || !content_in_delta(d, k.content))
		return 0;
	if (*v == 'n')
		return 1;
	int64_t other = 0;
	int64_t n = *v == '"' ? string_bytes(v, end, &other) : -1;
	if (n < 0)
		return 0;
	s->text_bytes = gwkind_add_held(s->text_bytes, n);
	s->nonascii_bytes = gwkind_add_held(s->nonascii_bytes, other);
	return 1;
}

static int openai_event(struct gw_stream *s, const struct gwkind_sse *e)
{
	json_t *root = NULL;
	char name[64];
	int pass = 1;

	if (e->data_lines > 0 && s->route->id == CHAT && data_is(e, "[DONE]"))
		s->done = 1;
	else if (e->data_lines > 0 && s->route->id == CHAT && chat_scan(s, e->data, e->data_len))
		;
	else
		root = gwkind_event_json(e);
	if (json_is_object(root)) {
		const char *type = gwkind_event_type(e, root, name, sizeof(name));

		if (gwkind_media(s->route) != GW_MEDIA_NONE)
			gwkind_audio_event(s, type, root);
		else if (s->route->id == CHAT)
			pass = chat_event(s, root);
		else
			responses_event(s, type, root);
	}
	json_decref(root);
	return pass;
}

/* ---- errors and headers -------------------------------------------------- */

/* A new reference to v, or to JSON null when v is absent. */
static json_t *or_null(json_t *v)
{
	return v != NULL ? json_incref(v) : json_null();
}

/* {"error": {"message", "type", "param", "code", ...}}: type as creditd's,
 * creditd's other members (a 402's figures, retry_after_seconds) beside
 * them, in that order (the order set is the order written). */
static json_t *openai_error(int status, const json_t *src)
{
	json_t *m = json_object_get(src, "message"), *err = json_object(), *v, *top = NULL;
	const char *key;
	int rc = err == NULL;

	(void)status;
	if (rc == 0) {
		rc |= json_object_set_new(err, "message", json_is_string(m) ? json_incref(m) : json_string(""));
		rc |= json_object_set_new(err, "type", or_null(json_object_get(src, "type")));
		rc |= json_object_set_new(err, "param", or_null(json_object_get(src, "param")));
		rc |= json_object_set_new(err, "code", or_null(json_object_get(src, "code")));
	}
	json_object_foreach((json_t *)src, key, v) {
		if (rc != 0)
			break;
		if (strcmp(key, "message") != 0 && strcmp(key, "type") != 0 && strcmp(key, "code") != 0 &&
		    strcmp(key, "param") != 0)
			rc |= json_object_set(err, key, v);
	}
	if (rc == 0)
		top = json_pack("{s:O}", "error", err);
	json_decref(err);
	return top;
}

/* The credential, and OpenAI-Beta when the client sent it. */
static int openai_headers(const struct gwkind_upstream *up, int (*add)(void *arg, const char *line), void *arg)
{
	char line[LIMIT_PROVIDER_KEY_BYTES + LIMIT_GATEWAY_HEADER_BYTES + 64];

	snprintf(line, sizeof(line), "Authorization: Bearer %s", up->key);
	if (add(arg, line) != 0)
		return -1;
	if (up->forwarded[0][0] != '\0') {
		snprintf(line, sizeof(line), "OpenAI-Beta: %s", up->forwarded[0]);
		if (add(arg, line) != 0)
			return -1;
	}
	return 0;
}

static const char *const forwarded[] = {"OpenAI-Beta", NULL};
static const char *const passed_back[] = {"x-ratelimit-", NULL};

const struct gwkind gwkind_openai = {
	"openai", "OpenAI", routes, sizeof(routes) / sizeof(routes[0]), 1, forwarded, passed_back,
	openai_read, openai_rewrites, openai_rewrite, openai_usage_whole, openai_event, openai_error, openai_headers, NULL,
	0,	/* OpenAI-Beta: the tables name none of its values (free_fields may) */
	1,
};
