/* gwkind_read.c: the helpers every provider kind reads its shape with
 * (gwkind_int.h), and the shared reading (gwshape*.c) with them: a
 * refusal naming its member, a member as the kind's nullability reads
 * it, an integer member in its range, an event's type and data, the text
 * and ids a stream carries. Pure: no I/O, no clock. */
#include "gwkind.h"
#include "gwkind_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gwkind_refuse(struct gwkind_refusal *rf, const char *param, const char *fmt, ...)
{
	va_list ap;

	if (rf->err != NULL && rf->errcap > 0) {
		va_start(ap, fmt);
		vsnprintf(rf->err, rf->errcap, fmt, ap);
		va_end(ap);
	}
	if (rf->param != NULL)
		*rf->param = param;
	return -1;
}

json_t *gwkind_member(const struct gwkind_route *r, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v != NULL && json_is_null(v) && r->kind->nullable)
		return NULL;
	return v;
}

int gwkind_read_int(struct gwkind_refusal *rf, const struct gwkind_route *r, const json_t *root, const char *name, int64_t least,
		    int64_t most, int64_t *out)
{
	json_t *v = gwkind_member(r, root, name);

	*out = -1;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < least || json_integer_value(v) > most)
		return gwkind_refuse(rf, name, "\"%s\" must be an integer from %lld to %lld", name, (long long)least,
			      (long long)most);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

void gwkind_keep_id(struct gw_usage *u, const json_t *id)
{
	if (json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) < sizeof(u->response_id))
		memcpy(u->response_id, json_string_value(id), json_string_length(id) + 1);
}

void gwkind_count_text(struct gw_stream *s, const json_t *v)
{
	if (!json_is_string(v))
		return;
	const unsigned char *p = (const unsigned char *)json_string_value(v);
	size_t n = json_string_length(v), other = 0;
	for (size_t i = 0; i < n; i++)
		other += p[i] >= 0x80;
	s->text_bytes = gwkind_add_held(s->text_bytes, (int64_t)n);
	s->nonascii_bytes = gwkind_add_held(s->nonascii_bytes, (int64_t)other);
}

void gwkind_count_audio(struct gw_stream *s, const json_t *v)
{
	if (json_is_string(v))
		s->audio_bytes = gwkind_add_held(s->audio_bytes, (int64_t)json_string_length(v));
}

static int listed(const char *const *names, const char *key)
{
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		if (strcmp(names[i], key) == 0)
			return 1;
	return 0;
}

static int tokens_member(const char *key)
{
	size_t n = strlen(key);
	return n > 7 && strcmp(key + n - 7, "_tokens") == 0;
}

/* The unknown "*_tokens" members of o (known: names), summed, the first's
 * name kept in u. */
static int64_t unknown_in(const json_t *o, const char *const *names, const char *where, struct gw_usage *u)
{
	const char *key;
	json_t *v;
	int64_t sum = 0, n;
	json_object_foreach((json_t *)o, key, v) {
		if (!tokens_member(key) || listed(names, key) || json_is_null(v))
			continue;
		n = gwkind_count_of(v, &n) == 1 ? n : LIMIT_TOKENS_MAX;
		sum = gwkind_clamp_tokens(gwkind_add_held(sum, n));
		if (u->unknown_member[0] == '\0')
			snprintf(u->unknown_member, sizeof(u->unknown_member), "%s%s%.32s", where, where[0] ? "." : "", key);
	}
	return sum;
}

void gwkind_usage_unknown(const json_t *usage, const struct gwkind_usage_names *n, struct gw_usage *u)
{
	int64_t top, in, out;
	if (!json_is_object(usage))
		return;
	top = unknown_in(usage, n->top, "", u);
	in = n->in_details != NULL ? unknown_in(json_object_get(usage, n->in_details), n->in_known, n->in_details, u) : 0;
	out = n->out_details != NULL ? unknown_in(json_object_get(usage, n->out_details), n->out_known, n->out_details, u)
				     : 0;
	u->unknown_tokens = top > u->unknown_tokens ? top : u->unknown_tokens;
	u->unknown_input_part = in > u->unknown_input_part ? in : u->unknown_input_part;
	u->unknown_output_part = out > u->unknown_output_part ? out : u->unknown_output_part;
}

void gwkind_keep_extras(struct gw_usage *to, const struct gw_usage *from)
{
	memcpy(to->response_id, from->response_id, sizeof(to->response_id));
	to->tier = from->tier;
	to->cache_write_1h_tokens = from->cache_write_1h_tokens;
	to->audio_input_tokens = from->audio_input_tokens;
	to->audio_output_tokens = from->audio_output_tokens;
	to->web_searches = from->web_searches;
	/* A stream's unknown figures are cumulative: the larger stands. */
	to->unknown_tokens = from->unknown_tokens > to->unknown_tokens ? from->unknown_tokens : to->unknown_tokens;
	to->unknown_input_part = from->unknown_input_part > to->unknown_input_part ? from->unknown_input_part
										  : to->unknown_input_part;
	to->unknown_output_part = from->unknown_output_part > to->unknown_output_part ? from->unknown_output_part
										     : to->unknown_output_part;
	if (to->unknown_member[0] == '\0')
		memcpy(to->unknown_member, from->unknown_member, sizeof(to->unknown_member));
}

const char *gwkind_event_type(const struct gwkind_sse *e, const json_t *root, char *buf, size_t cap)
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

json_t *gwkind_event_json(const struct gwkind_sse *e)
{
	json_error_t jerr;

	return e->data_lines > 0 ? json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, &jerr) : NULL;
}

