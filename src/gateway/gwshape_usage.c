/* gwshape_usage.c: the usage a provider reports (see gwshape.h, DESIGN
 * §12), in a whole answer or in the server-sent events of a stream, and
 * the estimate of a stream that ended without it.
 *
 * Owns: reading each provider's usage members into creditd's counts,
 * finding the events of a stream in bytes split anywhere, counting the
 * text they carry, and keeping OpenAI's usage-only chunk from a client
 * that did not ask for it.
 *
 * Never: does I/O or reads the clock; keeps more of a stream than the
 * event being assembled (bytes reach the client as they come); changes an
 * event's bytes; lets a count wrap or pass LIMIT_TOKENS_MAX.
 *
 * Why: every figure read here becomes money. Each is read from the shape
 * the provider's API reference gives, and one that is not a count is
 * reported as no usage, so the stream is estimated by the documented rule
 * instead of charged a figure nobody stated. */
#include "gwshape.h"
#include "gwshape_int.h"
#include "urlpath.h"
#include "limits.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* An event buffer's first size, and the size past which it is freed once
 * its event is passed on (an idle stream keeps little). */
#define GW_EVENT_FIRST_BYTES 4096
#define GW_EVENT_KEEP_BYTES (64 * 1024)

_Static_assert(LIMIT_GATEWAY_EVENT_BYTES >= GW_EVENT_KEEP_BYTES, "a kept buffer is within the limit");

/* ---- usage --------------------------------------------------------------- */

/* OpenAI's usage: input (cached included), its cached part, output (NULL
 * for embeddings, 0). -1 when a figure is missing or not a count. */
static int openai_usage(const json_t *usage, const char *in, const char *details, const char *out,
			struct gw_usage *u)
{
	int64_t input = 0, cached = 0, output = 0;

	if (gwshape_count_of(json_object_get(usage, in), &input) != 1)
		return -1;
	if (out != NULL && gwshape_count_of(json_object_get(usage, out), &output) != 1)
		return -1;
	if (gwshape_count_of(json_object_get(json_object_get(usage, details), "cached_tokens"), &cached) < 0 ||
	    cached > input)
		return -1;
	memset(u, 0, sizeof(*u));
	u->have = 1;
	u->input_tokens = input;
	u->cached_input_tokens = cached;
	u->output_tokens = output;
	return 0;
}

/* Anthropic's usage members, in this order in part[]. */
enum { A_INPUT, A_CACHE_WRITE, A_CACHE_READ, A_OUTPUT, A_PARTS };
static const char *const anthropic_keys[A_PARTS] = {
	"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"
};

/* Each member present replaces its figure in part (message_delta repeats
 * them, and the latest stands); *seen gets a bit for each. -1 when one
 * is not a count. */
static int anthropic_parts(const json_t *usage, int64_t part[A_PARTS], unsigned *seen)
{
	int i, rc;

	*seen = 0;
	for (i = 0; i < A_PARTS; i++) {
		rc = gwshape_count_of(json_object_get(usage, anthropic_keys[i]), &part[i]);
		if (rc < 0)
			return -1;
		if (rc == 1)
			*seen |= 1u << i;
	}
	return 0;
}

/* The parts as creditd charges them (have left 0); -1 when the input's sum
 * passes LIMIT_TOKENS_MAX (each part is at most that: no wrap). */
static int anthropic_fill(const int64_t part[A_PARTS], struct gw_usage *u)
{
	int64_t input = part[A_INPUT] + part[A_CACHE_WRITE] + part[A_CACHE_READ];

	if (input > LIMIT_TOKENS_MAX)
		return -1;
	memset(u, 0, sizeof(*u));
	u->input_tokens = input;
	u->cached_input_tokens = part[A_CACHE_READ];
	u->cache_write_tokens = part[A_CACHE_WRITE];
	u->output_tokens = part[A_OUTPUT];
	return 0;
}

/* The parts a usage was made of (anthropic_fill's inverse). */
static void anthropic_unfill(const struct gw_usage *u, int64_t part[A_PARTS])
{
	part[A_INPUT] = u->input_tokens - u->cached_input_tokens - u->cache_write_tokens;
	part[A_CACHE_WRITE] = u->cache_write_tokens;
	part[A_CACHE_READ] = u->cached_input_tokens;
	part[A_OUTPUT] = u->output_tokens;
}

/* The usage object of a route's answer, read into *u (have 0 when it
 * holds no usage creditd can charge). */
static void read_usage(enum gw_route r, const json_t *usage, struct gw_usage *u)
{
	int64_t part[A_PARTS] = { 0, 0, 0, 0 };
	unsigned seen;
	int rc = -1;

	switch (r) {
	case GW_OPENAI_CHAT:
		rc = openai_usage(usage, "prompt_tokens", "prompt_tokens_details", "completion_tokens", u);
		break;
	case GW_OPENAI_RESPONSES:
		rc = openai_usage(usage, "input_tokens", "input_tokens_details", "output_tokens", u);
		break;
	case GW_OPENAI_EMBEDDINGS:
		rc = openai_usage(usage, "prompt_tokens", "prompt_tokens_details", NULL, u);
		break;
	case GW_ANTHROPIC_MESSAGES:
		if (anthropic_parts(usage, part, &seen) == 0 && (seen & 1u << A_INPUT) &&
		    (seen & 1u << A_OUTPUT) && anthropic_fill(part, u) == 0) {
			u->have = 1;
			rc = 0;
		}
		break;
	case GW_ROUTES:
		break;
	}
	if (rc != 0)
		memset(u, 0, sizeof(*u));
}

/* A Responses answer's id, kept when it fits (gw_usage.response_id). */
static void keep_id(struct gw_usage *u, const json_t *id)
{
	if (json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) < sizeof(u->response_id))
		memcpy(u->response_id, json_string_value(id), json_string_length(id) + 1);
}

int gwshape_usage(enum gw_route r, const char *body, size_t len, struct gw_usage *u)
{
	json_error_t jerr;
	json_t *root, *usage;

	memset(u, 0, sizeof(*u));
	root = body != NULL ? json_loadb(body, len, JSON_ALLOW_NUL, &jerr) : NULL;
	if (root == NULL)
		return -1;
	usage = json_object_get(root, "usage");
	if (json_is_object(usage))
		read_usage(r, usage, u);
	if (u->have)
		gwshape_read_dims(r, root, usage, u);
	if (r == GW_OPENAI_RESPONSES)
		keep_id(u, json_object_get(root, "id"));
	json_decref(root);
	return 0;
}

/* ---- streams: one event's meaning ---------------------------------------- */

void gwshape_stream_init(struct gw_stream *s, enum gw_route r, int usage_asked)
{
	memset(s, 0, sizeof(*s));
	s->route = r;
	s->usage_asked = usage_asked;
	s->input_seen = -1;
}

void gwshape_stream_free(struct gw_stream *s)
{
	free(s->line);
	s->line = NULL;
	s->line_len = 0;
	s->line_cap = 0;
}

static void count_text(struct gw_stream *s, const json_t *v)
{
	if (json_is_string(v))
		s->text_bytes = gwshape_add_held(s->text_bytes, (int64_t)json_string_length(v));
}

/* A usage that is not one makes have 0: a figure nobody stated is never
 * charged, the stream is estimated instead. */
static void take_usage(struct gw_stream *s, const json_t *usage)
{
	struct gw_usage u;

	memset(&u, 0, sizeof(u));
	read_usage(s->route, usage, &u);
	gwshape_keep_extras(&u, &s->usage);	/* seen before the usage */
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

		count_text(s, json_object_get(delta, "content"));
		count_text(s, json_object_get(delta, "refusal"));
		count_text(s, json_object_get(json_object_get(delta, "function_call"), "arguments"));
		json_array_foreach(json_object_get(delta, "tool_calls"), j, call)
			count_text(s, json_object_get(json_object_get(call, "function"), "arguments"));
	}
	gwshape_read_dims(s->route, root, NULL, &s->usage);	/* the tier, said in every chunk */
	if (!json_is_object(usage))
		return 1;
	take_usage(s, usage);
	gwshape_read_dims(s->route, root, usage, &s->usage);
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
		keep_id(&s->usage, json_object_get(json_object_get(root, "response"), "id"));
	if (strcmp(type, "error") == 0) {
		s->error = 1;
	} else if (is_one_of(type, ends, sizeof(ends) / sizeof(ends[0]))) {
		s->done = 1;
		usage = json_object_get(json_object_get(root, "response"), "usage");
		if (json_is_object(usage)) {
			take_usage(s, usage);
			gwshape_read_dims(s->route, json_object_get(root, "response"), usage, &s->usage);
		}
	} else if (is_one_of(type, text, sizeof(text) / sizeof(text[0]))) {
		count_text(s, json_object_get(root, "delta"));
	}
}

/* message_start: the input, with its cache reads and writes. Its output
 * (1, or a few) is not the answer's, so the usage is not had yet. */
static void anthropic_start(struct gw_stream *s, const json_t *usage)
{
	int64_t part[A_PARTS] = { 0, 0, 0, 0 };
	struct gw_usage u;
	unsigned seen;

	if (anthropic_parts(usage, part, &seen) != 0 || !(seen & 1u << A_INPUT) || anthropic_fill(part, &u) != 0)
		return;	/* input unknown: an ending without usage holds the hold's bound */
	gwshape_keep_extras(&u, &s->usage);
	s->usage = u;
	gwshape_read_dims(s->route, NULL, usage, &s->usage);
	s->input_seen = u.input_tokens;
}

/* message_delta: the output so far (cumulative: the last one stands,
 * never added), and the input members when it repeats them. */
static void anthropic_delta(struct gw_stream *s, const json_t *usage)
{
	int64_t part[A_PARTS];
	struct gw_usage u;
	unsigned seen;
	int had = s->usage.have;

	anthropic_unfill(&s->usage, part);
	if (anthropic_parts(usage, part, &seen) != 0 || anthropic_fill(part, &u) != 0) {
		s->usage.have = 0;
		return;
	}
	u.have = (had || (seen & 1u << A_OUTPUT)) && (s->input_seen >= 0 || (seen & 1u << A_INPUT));
	gwshape_keep_extras(&u, &s->usage);
	s->usage = u;
	gwshape_read_dims(s->route, NULL, usage, &s->usage);
}

static void anthropic_event(struct gw_stream *s, const char *type, const json_t *root)
{
	const json_t *delta = json_object_get(root, "delta"), *kind = json_object_get(delta, "type");

	if (strcmp(type, "message_start") == 0)
		anthropic_start(s, json_object_get(json_object_get(root, "message"), "usage"));
	else if (strcmp(type, "message_delta") == 0)
		anthropic_delta(s, json_object_get(root, "usage"));
	else if (strcmp(type, "message_stop") == 0)
		s->done = 1;
	else if (strcmp(type, "error") == 0)
		s->error = 1;
	else if (strcmp(type, "content_block_delta") != 0)
		return;
	else if (gwshape_str_is(kind, "text_delta"))
		count_text(s, json_object_get(delta, "text"));
	else if (gwshape_str_is(kind, "input_json_delta"))
		count_text(s, json_object_get(delta, "partial_json"));
	else if (gwshape_str_is(kind, "thinking_delta"))
		count_text(s, json_object_get(delta, "thinking"));
}

/* ---- streams: server-sent events ----------------------------------------- */

/* One event's fields: its name ("event:") and its data ("data:" lines
 * joined by "\n", as the SSE standard reads them). */
struct sse {
	const char *name;
	size_t name_len;
	const char *data;
	size_t data_len;
	int data_lines;
	char *joined;		/* malloc'ed once a second data line comes */
};

/* cap is the event's length, which the joined data never exceeds. */
static int sse_data(struct sse *e, const char *v, size_t n, size_t cap)
{
	if (e->data_lines++ == 0) {
		e->data = v;
		e->data_len = n;
		return 0;
	}
	if (e->joined == NULL) {
		e->joined = malloc(cap);
		if (e->joined == NULL)
			return -1;
		memcpy(e->joined, e->data, e->data_len);
		e->data = e->joined;
	}
	e->joined[e->data_len++] = '\n';
	memcpy(e->joined + e->data_len, v, n);
	e->data_len += n;
	return 0;
}

/* One line without its end: "field: value" (one space after the colon is
 * not part of the value); a line that starts with ':' is a comment. */
static int sse_line(struct sse *e, const char *line, size_t n, size_t cap)
{
	const char *colon = memchr(line, ':', n);
	size_t flen = colon != NULL ? (size_t)(colon - line) : n;
	const char *v = colon != NULL ? colon + 1 : line + n;
	size_t vlen = n - (size_t)(v - line);

	if (vlen > 0 && v[0] == ' ') {
		v++;
		vlen--;
	}
	if (flen == 4 && memcmp(line, "data", 4) == 0)
		return sse_data(e, v, vlen, cap);
	if (flen == 5 && memcmp(line, "event", 5) == 0) {
		e->name = v;
		e->name_len = vlen;
	}
	return 0;
}

static int sse_parse(const char *ev, size_t len, struct sse *e)
{
	const char *p = ev, *end = ev + len;

	memset(e, 0, sizeof(*e));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && p[0] != ':' && sse_line(e, p, n, len) != 0)
			return -1;
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}

/* The event's type: the data's "type" (Anthropic and Responses write it
 * in both places), else its "event:" name. */
static const char *event_type(const struct sse *e, const json_t *root, char *buf, size_t cap)
{
	const char *type = json_string_value(json_object_get(root, "type"));

	if (type != NULL)
		return type;
	buf[0] = '\0';
	if (e->name != NULL && e->name_len < cap) {
		memcpy(buf, e->name, e->name_len);
		buf[e->name_len] = '\0';
	}
	return buf;
}

static int data_is(const struct sse *e, const char *s)
{
	return e->data_len == strlen(s) && memcmp(e->data, s, e->data_len) == 0;
}

/* ---- OpenAI chat's chunks without a parse ----
 * A stream is mostly chunks of a few characters of content each: parsing
 * every one with jansson was a third of creditd's CPU at 1,000 streams
 * (./dev bench --gateway). A chunk that names no usage object, no error,
 * no tool call, no refusal and one content at most is read by this scan:
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
	int other;			/* "error", "tool_calls", "function_call" or "refusal" */
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

/* The decoded UTF-8 bytes of the string at p (its opening quote), or -1. */
static int64_t string_bytes(const char *p, const char *end)
{
	int64_t n = 0;
	for (p++; p < end; p++) {
		if (*p == '"')
			return n;
		if ((unsigned char)*p < 0x20)
			return -1;
		if (*p != '\\') {
			n++;
			continue;
		}
		if (++p == end)
			return -1;
		if (*p == 'u') {
			int b = escape_bytes(p, end);
			if (b < 0)
				return -1;
			n += b;
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
	 * see: such a chunk is parsed (DESIGN §14). */
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
	int64_t n = *v == '"' ? string_bytes(v, end) : -1;
	if (n < 0)
		return 0;
	s->text_bytes = gwshape_add_held(s->text_bytes, n);
	return 1;
}

/* Reads one complete event. 1 when it is passed on, 0 when it is kept
 * from the client, -1 when memory ran out. Data that is not a JSON
 * object (a comment, a keep-alive) is passed on unread. */
static int read_event(struct gw_stream *s, const char *ev, size_t len)
{
	struct sse e;
	json_error_t jerr;
	json_t *root = NULL;
	char name[64];
	int pass = 1;

	if (s->route == GW_OPENAI_EMBEDDINGS || s->route == GW_ROUTES)
		return 1;
	if (sse_parse(ev, len, &e) != 0) {
		free(e.joined);
		return -1;
	}
	if (e.data_lines > 0 && s->route == GW_OPENAI_CHAT && data_is(&e, "[DONE]"))
		s->done = 1;
	else if (e.data_lines > 0 && s->route == GW_OPENAI_CHAT && chat_scan(s, e.data, e.data_len))
		;
	else if (e.data_lines > 0)
		root = json_loadb(e.data, e.data_len, JSON_ALLOW_NUL, &jerr);
	if (json_is_object(root)) {
		const char *type = event_type(&e, root, name, sizeof(name));

		if (s->route == GW_OPENAI_CHAT)
			pass = chat_event(s, root);
		else if (s->route == GW_OPENAI_RESPONSES)
			responses_event(s, type, root);
		else
			anthropic_event(s, type, root);
	}
	json_decref(root);
	free(e.joined);
	return pass;
}

/* 1 when the event in b (n bytes, the last one '\n') just ended with a
 * blank line: "\n\n", "\n\r\n", or a blank line alone. */
static int ends_event(const char *b, size_t n)
{
	if (n == 1 || b[n - 2] == '\n')
		return 1;
	return b[n - 2] == '\r' && (n == 2 || b[n - 3] == '\n');
}

static int event_append(struct gw_stream *s, const char *b, size_t n)
{
	size_t cap;
	char *p;

	if (n > LIMIT_GATEWAY_EVENT_BYTES - s->line_len)
		return -1;
	if (s->line_len + n > s->line_cap) {
		cap = s->line_cap > 0 ? s->line_cap : GW_EVENT_FIRST_BYTES;
		while (cap < s->line_len + n)
			cap *= 2;
		if (cap > LIMIT_GATEWAY_EVENT_BYTES)
			cap = LIMIT_GATEWAY_EVENT_BYTES;
		p = realloc(s->line, cap);
		if (p == NULL)
			return -1;
		s->line = p;
		s->line_cap = cap;
	}
	memcpy(s->line + s->line_len, b, n);
	s->line_len += n;
	return 0;
}

/* Reads the event assembled, hands it to out, and starts the next. */
static int pass_event(struct gw_stream *s, gw_event_out *out, void *arg)
{
	int pass = read_event(s, s->line, s->line_len);
	size_t len = s->line_len;
	int rc;

	if (pass < 0)
		return -1;
	s->line_len = 0;
	rc = out(arg, s->line, len, pass);
	if (s->line_cap > GW_EVENT_KEEP_BYTES) {
		free(s->line);
		s->line = NULL;
		s->line_cap = 0;
	}
	return rc;
}

int gwshape_stream_feed(struct gw_stream *s, const char *bytes, size_t n, gw_event_out *out, void *arg)
{
	while (n > 0) {
		const char *nl = memchr(bytes, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - bytes) + 1 : n;
		int rc;

		if (event_append(s, bytes, take) != 0)
			return -1;
		bytes += take;
		n -= take;
		if (nl == NULL || !ends_event(s->line, s->line_len))
			continue;
		rc = pass_event(s, out, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void gwshape_estimate(const struct gw_stream *s, int64_t hold_input, int64_t hold_output, struct gw_usage *u)
{
	int64_t text = s->text_bytes < 0 ? 0 : s->text_bytes;
	/* A token is 4 bytes of text on average; ceil, so any text is 1. */
	int64_t output = text / 4 + (text % 4 != 0);

	memset(u, 0, sizeof(*u));
	u->have = 1;
	u->output_tokens = output < hold_output ? output : hold_output;
	u->output_tokens = gwshape_clamp_tokens(u->output_tokens);
	if (s->input_seen < 0) {
		u->input_tokens = gwshape_clamp_tokens(hold_input);
		return;
	}
	u->input_tokens = gwshape_clamp_tokens(s->input_seen);
	/* message_start's cache figures, when they are part of that input. */
	if (s->usage.cached_input_tokens >= 0 && s->usage.cache_write_tokens >= 0 &&
	    s->usage.cached_input_tokens + s->usage.cache_write_tokens <= u->input_tokens) {
		u->cached_input_tokens = s->usage.cached_input_tokens;
		u->cache_write_tokens = s->usage.cache_write_tokens;
	}
}
