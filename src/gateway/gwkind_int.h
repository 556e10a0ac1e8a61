/* gwkind_int.h: what the kinds' files (gwkind_*.c) use, and the shared
 * reading of the wire formats (gwshape*.c) with them: counts that are
 * held rather than wrapped, a string compared with its length, a refusal
 * naming its member, an event's fields. Implemented in gwkind.c; only
 * gateway/gwkind*.c and gwshape*.c include it. */
#ifndef CREDITD_GWKIND_INT_H
#define CREDITD_GWKIND_INT_H
#include "gwkind.h"
#include "limits.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

/* a + b for a, b >= 0, held at INT64_MAX rather than wrapped. */
static inline int64_t gwkind_add_held(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static inline int64_t gwkind_clamp_tokens(int64_t n)
{
	return n < 0 ? 0 : n > LIMIT_TOKENS_MAX ? LIMIT_TOKENS_MAX : n;
}

/* 1 when v is the string s exactly (a NUL inside v does not shorten it). */
static inline int gwkind_str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && json_string_length(v) == strlen(s) && strcmp(json_string_value(v), s) == 0;
}
/* A count at v: 1 and *out when v is an integer 0..LIMIT_TOKENS_MAX, 0
 * when v is absent or null, -1 when it is anything else. */
static inline int gwkind_count_of(const json_t *v, int64_t *out)
{
	json_int_t n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return -1;
	n = json_integer_value(v);
	if (n < 0 || n > LIMIT_TOKENS_MAX)
		return -1;
	*out = (int64_t)n;
	return 1;
}

/* The tier a service_tier says was served: OpenAI's "priority" and
 * "scale", Anthropic's "priority"; "flex"; anything else standard. */
static inline int gwkind_tier_served(const json_t *v)
{
	if (gwkind_str_is(v, "priority") || gwkind_str_is(v, "scale"))
		return GW_TIER_PRIORITY;
	return gwkind_str_is(v, "flex") ? GW_TIER_FLEX : GW_TIER_STANDARD;
}

/* Sets *out to the count at v when v is one (a part is kept within its
 * total: at most `most`). */
static inline void gwkind_part_of(const json_t *v, int64_t most, int64_t *out)
{
	int64_t n;
	if (gwkind_count_of(v, &n) == 1)
		*out = n < most ? n : most;
}

/* ---- reading a request ---- */

/* Where a refusal goes: a sentence naming the member into err, the
 * member's name (static) into *param. */
struct gwkind_refusal {
	char *err;
	size_t errcap;
	const char **param;
};
/* Fills rf (param: the member at fault, NULL for the body as a whole)
 * and returns -1. */
__attribute__((format(printf, 3, 4)))
int gwkind_refuse(struct gwkind_refusal *rf, const char *param, const char *fmt, ...);
/* A member of o as route r reads it: on a kind whose optional members
 * are nullable a null member is NULL (left out). */
json_t *gwkind_member(const struct gwkind_route *r, const json_t *o, const char *key);
/* One integer member in least..most; *out is -1 when it is absent. 0,
 * or -1 through gwkind_refuse. */
int gwkind_read_int(struct gwkind_refusal *rf, const struct gwkind_route *r, const json_t *root, const char *name,
		     int64_t least, int64_t most, int64_t *out);


/* ---- usage and streams ---- */

/* One event's fields: its name ("event:") and its data ("data:" lines
 * joined by "\n", as the SSE standard reads them). */
struct gwkind_sse {
	const char *name;
	size_t name_len;
	const char *data;
	size_t data_len;
	int data_lines;
	char *joined;		/* malloc'ed once a second data line comes */
};
/* The event's type: the data's "type" (Anthropic and Responses write it
 * in both places), else its "event:" name (cut to cap). */
const char *gwkind_event_type(const struct gwkind_sse *e, const json_t *root, char *buf, size_t cap);
/* The event's data parsed, when it is any (a new reference, NULL when
 * there is no data or it is not JSON). */
json_t *gwkind_event_json(const struct gwkind_sse *e);
/* Adds v's length, when it is a string, to the stream's text (its
 * non-ASCII bytes counted apart too: gwshape_estimate). */
void gwkind_count_text(struct gw_stream *s, const json_t *v);
/* Adds v's length, when it is a string of base64 audio, to the stream's
 * audio (gwshape_estimate). */
void gwkind_count_audio(struct gw_stream *s, const json_t *v);
/* A Responses answer's id, kept when it fits (gw_usage.response_id). */
void gwkind_keep_id(struct gw_usage *u, const json_t *id);
/* What a kind knows of a usage object: its top-level members (each a
 * count it reads, or an object), the details objects of its input and
 * output, and the members it knows in them; each list NULL-ended. */
struct gwkind_usage_names {
	const char *const *top;
	const char *in_details, *out_details;
	const char *const *in_known;
	const char *const *out_known;
};
/* Counts into u the "*_tokens" members of usage that n does not name
 * (gw_usage.unknown_*): a stream's later usage replaces a figure only
 * upward (its counts are cumulative). A member that is not a count is
 * counted LIMIT_TOKENS_MAX: never charged less than it may say. */
void gwkind_usage_unknown(const json_t *usage, const struct gwkind_usage_names *n, struct gw_usage *u);
/* Carries what a stream's usage had beyond its counts (the response id,
 * the dimensions seen in earlier events) onto the usage replacing it. */
void gwkind_keep_extras(struct gw_usage *to, const struct gw_usage *from);

/* ---- the audio routes (gwkind_openai_audio.c), as gwkind_openai.c calls them ---- */

/* What an audio route's JSON request asks (speech's characters, its
 * instructions, its stream format): 0, or -1 through gwkind_refuse. */
int gwkind_audio_read(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask, struct gwkind_refusal *rf);
/* The usage of an audio route's JSON answer (a transcription's usage or
 * duration) into *u (zeroed by the caller; have 0 when none). */
void gwkind_audio_usage(const struct gwkind_route *r, const json_t *root, struct gw_usage *u);
/* One event of an audio route's stream (speech.audio.*, transcript.text.*). */
void gwkind_audio_event(struct gw_stream *s, const char *type, const json_t *root);

#endif
