/* gwshape_usage.c: the usage a provider reports (see gwshape.h;
 * docs/gateway.md), in a whole answer or in the server-sent events of a stream, and
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

int gwshape_usage(const struct gwkind_route *r, const char *body, size_t len, struct gw_usage *u)
{
	json_error_t jerr;
	json_t *root;

	memset(u, 0, sizeof(*u));
	root = body != NULL ? json_loadb(body, len, JSON_ALLOW_NUL, &jerr) : NULL;
	if (root == NULL)
		return -1;
	r->kind->usage(r, root, u);
	json_decref(root);
	return 0;
}

void gwshape_tail_keep(char *tail, size_t *len, const char *bytes, size_t n)
{
	if (n >= GW_TAIL_BYTES) {
		memcpy(tail, bytes + n - GW_TAIL_BYTES, GW_TAIL_BYTES);
		*len = GW_TAIL_BYTES;
		return;
	}
	if (*len + n > GW_TAIL_BYTES) {
		size_t drop = *len + n - GW_TAIL_BYTES;
		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
	}
	memcpy(tail + *len, bytes, n);
	*len += n;
}

int gwshape_usage_tail(const struct gwkind_route *r, const char *tail, size_t len, struct gw_usage *u)
{
	static const char key[] = "\"usage\"";
	const char *at = NULL;
	json_error_t jerr;
	memset(u, 0, sizeof(*u));
	for (const char *p = tail; p + sizeof(key) - 1 <= tail + len; p++)
		if (memcmp(p, key, sizeof(key) - 1) == 0)
			at = p + sizeof(key) - 1;	/* the last: the answer's own, after its content */
	while (at != NULL && at < tail + len && (*at == ' ' || *at == ':' || *at == '\n' || *at == '\r' || *at == '\t'))
		at++;
	json_t *usage = at != NULL ? json_loadb(at, (size_t)(tail + len - at), JSON_DISABLE_EOF_CHECK, &jerr) : NULL;
	json_t *root = json_is_object(usage) ? json_pack("{s:O}", "usage", usage) : NULL;
	json_decref(usage);
	if (root == NULL)
		return -1;
	r->kind->usage(r, root, u);
	json_decref(root);
	return u->have ? 0 : -1;
}

/* ---- streams: one event's meaning ---------------------------------------- */

void gwshape_stream_init(struct gw_stream *s, const struct gwkind_route *r, int usage_asked)
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

/* ---- streams: server-sent events ----------------------------------------- */

/* cap is the event's length, which the joined data never exceeds. */
static int sse_data(struct gwkind_sse *e, const char *v, size_t n, size_t cap)
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
static int sse_line(struct gwkind_sse *e, const char *line, size_t n, size_t cap)
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

static int sse_parse(const char *ev, size_t len, struct gwkind_sse *e)
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

/* Reads one complete event. 1 when it is passed on, 0 when it is kept
 * from the client, -1 when memory ran out. Data that is not a JSON
 * object (a comment, a keep-alive) is passed on unread. */
static int read_event(struct gw_stream *s, const char *ev, size_t len)
{
	struct gwkind_sse e;
	int pass;

	if (s->route->input_only)
		return 1;
	if (sse_parse(ev, len, &e) != 0) {
		free(e.joined);
		return -1;
	}
	pass = s->route->kind->event(s, &e);
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

/* Streamed audio output (OpenAI chat's delta.audio.data): base64 of
 * pcm16, 24 kHz mono, the one format a stream carries (its lowest
 * bitrate and its only one: 48,000 bytes a second), so 64,000 base64
 * bytes a second; OpenAI bills audio output at 20 tokens a second (a
 * token per 50 ms: $0.24 a minute at $200 a million). A token per
 * GW_AUDIO_BASE64_BYTES_PER_TOKEN bytes, rounded up, is never under. */
#define GW_AUDIO_BASE64_BYTES_PER_TOKEN 3200
_Static_assert(GW_AUDIO_BASE64_BYTES_PER_TOKEN * 20 == 64000, "20 tokens a second of 48,000 bytes in base64");

/* The output an ended stream's text and audio are at least (docs/gateway.md, "The estimate"):
 * a token a non-ASCII byte (CJK, emoji: a token is rarely more than one
 * such character, often less), a token per four ASCII bytes, rounded up,
 * the audio by its duration. */
int64_t gwshape_estimate_output(const struct gw_stream *s)
{
	int64_t text = s->text_bytes < 0 ? 0 : s->text_bytes;
	int64_t other = s->nonascii_bytes < 0 ? 0 : s->nonascii_bytes > text ? text : s->nonascii_bytes;
	int64_t ascii = text - other, audio = s->audio_bytes < 0 ? 0 : s->audio_bytes;
	int64_t output = gwkind_add_held(other, ascii / 4 + (ascii % 4 != 0));
	return gwkind_add_held(output, audio / GW_AUDIO_BASE64_BYTES_PER_TOKEN +
			       (audio % GW_AUDIO_BASE64_BYTES_PER_TOKEN != 0));
}

void gwshape_count_raw(struct gw_stream *s, const char *bytes, size_t n)
{
	int64_t high = 0, escapes = 0;
	for (size_t i = 0; i < n; i++) {
		high += (unsigned char)bytes[i] >= 0x80;
		if (bytes[i] == '\\' && i + 5 < n && bytes[i + 1] == 'u') {
			escapes++;	/* "\uXXXX": six ASCII bytes that spell up to three */
			i += 5;
		} else if (bytes[i] == '\\') {
			i++;		/* another escape: its second byte is not a "\\u"'s start */
		}
	}
	s->text_bytes = gwkind_add_held(s->text_bytes, (int64_t)n - 3 * escapes);
	s->nonascii_bytes = gwkind_add_held(s->nonascii_bytes, high + 3 * escapes);
}

void gwshape_estimate(const struct gw_stream *s, int64_t hold_input, int64_t hold_output, struct gw_usage *u)
{
	int64_t output = gwshape_estimate_output(s);

	memset(u, 0, sizeof(*u));
	u->have = 1;
	u->output_tokens = output < hold_output ? output : hold_output;
	u->output_tokens = gwkind_clamp_tokens(u->output_tokens);
	if (s->input_seen < 0) {
		u->input_tokens = gwkind_clamp_tokens(hold_input);
		return;
	}
	u->input_tokens = gwkind_clamp_tokens(s->input_seen);
	/* message_start's cache figures, when they are part of that input. */
	if (s->usage.cached_input_tokens >= 0 && s->usage.cache_write_tokens >= 0 &&
	    s->usage.cached_input_tokens + s->usage.cache_write_tokens <= u->input_tokens) {
		u->cached_input_tokens = s->usage.cached_input_tokens;
		u->cache_write_tokens = s->usage.cache_write_tokens;
	}
}
