/* jsonio.c: strict JSON input. jansson does the parsing (it refuses invalid
 * UTF-8 and numbers that overflow int64); this file adds what jansson does
 * not know: field tables, ranges, depth, and naming the field to blame
 * even when the parser itself gave up (by walking the body up to the error
 * position: the path of the value it was reading, nested ones too). */
#include "jsonio.h"
#include <assert.h>
#include "limits.h"
#include "timefmt.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drops a UTF-8 sequence that a truncation cut in half at the end of s,
 * so that what is quoted back from the request stays valid UTF-8. */
static void utf8_cut(char *s)
{
	size_t n = strlen(s), start = n;
	while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
		start--;
	if (start == 0 || (unsigned char)s[start - 1] < 0xC0)
		return;		/* ends in ASCII or nothing to check */
	unsigned char lead = (unsigned char)s[start - 1];
	size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	if (n - (start - 1) < want)
		s[start - 1] = '\0';
}

__attribute__((format(printf, 3, 4)))
static int jfail(struct jerr *e, const char *param, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	utf8_cut(e->message);
	snprintf(e->param, sizeof(e->param), "%s", param != NULL ? param : "");
	utf8_cut(e->param);
	return -1;
}

/* One open object or array on the way to a parse error: the key being
 * read (its offset and length in the body) or the element's index. */
struct jpath_frame {
	int array;
	int want_key;
	size_t key_at, key_len;
	size_t index;
};

/* Writes the path of frames as the routes' own checks name a nested field
 * (alerts[2].pct, auto_recharge.amount_cents). 0, or -1 when a key is no
 * plain name (letters, digits, '_') or the path does not fit. */
static int jpath_write(const char *body, const struct jpath_frame *f, int n, char *param, size_t cap)
{
	size_t used = 0;
	for (int d = 0; d < n; d++) {
		int w;
		if (f[d].array) {
			w = snprintf(param + used, cap - used, "[%zu]", f[d].index);
		} else {
			if (f[d].want_key || f[d].key_len == 0)
				return -1;
			for (size_t k = 0; k < f[d].key_len; k++)
				if (!isalnum((unsigned char)body[f[d].key_at + k]) && body[f[d].key_at + k] != '_')
					return -1;
			w = snprintf(param + used, cap - used, "%s%.*s", d > 0 ? "." : "", (int)f[d].key_len,
				     body + f[d].key_at);
		}
		if (w < 0 || (size_t)w >= cap - used)
			return -1;
		used += (size_t)w;
	}
	return n > 0 ? 0 : -1;
}

/* Names the field a parse error at pos is in: the body before pos is JSON
 * as far as jansson read it, so a walk over it that follows strings, keys
 * and array indices knows the path of the value being read when the
 * parser gave up (a nested one too: alerts[0].micros, docs/api.md
 * "Threshold alerts"). Leaves param empty when the error is in a key or
 * no single field is to blame. */
static void guess_param(const char *body, size_t pos, char *param, size_t cap)
{
	struct jpath_frame f[LIMIT_JSON_DEPTH];
	int n = 0;
	param[0] = '\0';
	if (pos > LIMIT_BODY_MAX_BYTES)
		return;
	for (size_t i = 0; i < pos; i++) {
		char c = body[i];
		if (c == '"') {
			size_t at = ++i;
			while (i < pos && body[i] != '"')
				i += body[i] == '\\' ? 2 : 1;
			if (n > 0 && !f[n - 1].array && f[n - 1].want_key) {
				if (i >= pos)
					return;	/* the error is in a key */
				f[n - 1].key_at = at;
				f[n - 1].key_len = i - at;
				f[n - 1].want_key = 0;
			}
		} else if (c == '{' || c == '[') {
			if (n == LIMIT_JSON_DEPTH)
				return;
			f[n++] = (struct jpath_frame){.array = c == '[', .want_key = c == '{'};
		} else if ((c == '}' || c == ']') && n > 0) {
			n--;
		} else if (c == ',' && n > 0) {
			if (f[n - 1].array)
				f[n - 1].index++;
			else
				f[n - 1].want_key = 1;
		}
	}
	if (jpath_write(body, f, n, param, cap) != 0)
		param[0] = '\0';
}

/* The repeated key jansson names ("duplicate object key near '"k"'"),
 * when it is a plain field name; param is left empty otherwise. */
static void duplicate_key(const char *text, char *param, size_t cap)
{
	const char *near = strstr(text, "near '\"");
	param[0] = '\0';
	if (near == NULL)
		return;
	near += 7;
	size_t n = 0;
	while (near[n] != '\0' && near[n] != '"' && (isalnum((unsigned char)near[n]) || near[n] == '_'))
		n++;
	if (n == 0 || n >= cap || near[n] != '"')
		return;
	memcpy(param, near, n);
	param[n] = '\0';
}

/* 1 when jansson's message is about a value (a number beyond int64, a
 * byte that is not UTF-8, a lone surrogate or a bad escape in a string, a
 * raw control character, a bare word, "12x", "1.5.5", a repeated key)
 * rather than about the structure (a trailing comma, a missing brace, a
 * body cut short). */
static int bad_value(const char *text)
{
	const char *near = strstr(text, "near '");
	if (strstr(text, "end of file expected") != NULL)
		return 0;	/* something after the object: nobody's field */
	if (strstr(text, "too big integer") != NULL || strstr(text, "unable to decode byte") != NULL ||
	    strstr(text, "duplicate object key") != NULL || strstr(text, "invalid Unicode") != NULL ||
	    strstr(text, "invalid escape") != NULL || strstr(text, "control character") != NULL)
		return 1;
	if (near == NULL)
		return 0;
	unsigned char c = (unsigned char)near[6];
	return isalnum(c) || c == '.' || c == '-' || c == '+';
}

static int depth_of(const json_t *v, int depth)
{
	if (depth > LIMIT_JSON_DEPTH)
		return depth;
	int max = depth;
	if (json_is_object(v)) {
		const char *k;
		json_t *child;
		json_object_foreach((json_t *)v, k, child) {
			int d = depth_of(child, depth + 1);
			if (d > max)
				max = d;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *child;
		json_array_foreach(v, i, child) {
			int d = depth_of(child, depth + 1);
			if (d > max)
				max = d;
		}
	}
	return max;
}

json_t *jsonio_parse_object(const char *body, size_t len, struct jerr *e)
{
	json_error_t err;
	if (len == 0) {
		jfail(e, NULL, "request body is empty; a JSON object is required");
		return NULL;
	}
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (root == NULL) {
		char param[80];
		/* A bad value (an integer beyond int64, a byte that is not
		 * UTF-8, a bare word or a broken number) is the nearest key's
		 * fault; broken syntax or a body cut short is nobody's field. */
		param[0] = '\0';
		if (strstr(err.text, "duplicate object key") != NULL)
			duplicate_key(err.text, param, sizeof(param));
		else if (bad_value(err.text))
			guess_param(body, (size_t)err.position, param, sizeof(param));
		jfail(e, param[0] ? param : NULL, "malformed JSON%s%s: %s", param[0] ? " in field " : "",
		      param, err.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		jfail(e, NULL, "request body must be a JSON object");
		return NULL;
	}
	if (depth_of(root, 1) > LIMIT_JSON_DEPTH) {
		json_decref(root);
		jfail(e, NULL, "JSON nested deeper than %d levels", LIMIT_JSON_DEPTH);
		return NULL;
	}
	return root;
}

int jsonio_check_text(const char *s, size_t len, size_t min, size_t max)
{
	if (len < min || len > max || strlen(s) != len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return -1;
	}
	return 0;
}

json_t *jsonio_text(const char *s)
{
	json_t *v = json_string(s);
	if (v != NULL)
		return v;
	char *copy = strdup(s);
	if (copy == NULL)
		return NULL;
	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

int jsonio_choice(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = choices; p != NULL && *p != '\0';) {
		const char *bar = strchr(p, '|');
		size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (len == n && memcmp(p, v, n) == 0)
			return 1;
		p = bar != NULL ? bar + 1 : NULL;
	}
	return 0;
}

size_t jsonio_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	assert(n <= len);
	return n;
}

static int check_field(const struct jfield *f, json_t *v, struct jerr *e)
{
	int64_t t;
	switch (f->type) {
	case J_INT:
		if (!json_is_integer(v))
			return jfail(e, f->name, "%s must be a JSON integer", f->name);
		if (json_integer_value(v) < f->min || json_integer_value(v) > f->max)
			return jfail(e, f->name, "%s must be between %lld and %lld", f->name,
				     (long long)f->min, (long long)f->max);
		return 0;
	case J_BOOL:
		if (!json_is_boolean(v))
			return jfail(e, f->name, "%s must be true or false", f->name);
		return 0;
	case J_OBJECT:
		if (!json_is_object(v))
			return jfail(e, f->name, "%s must be a JSON object", f->name);
		return 0;
	case J_ARRAY:
		if (!json_is_array(v) || json_array_size(v) > (size_t)f->max)
			return jfail(e, f->name, "%s must be an array of at most %lld items", f->name, (long long)f->max);
		return 0;
	case J_STR:
	case J_TEXT:
	case J_TIME:
	case J_ENUM:
		break;
	}
	if (!json_is_string(v))
		return jfail(e, f->name, "%s must be a string", f->name);
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (strlen(s) != len)
		return jfail(e, f->name, "%s must not contain NUL characters", f->name);
	if (f->type == J_TIME)
		return timefmt_parse(s, &t) == 0 ? 0 : jfail(e, f->name, "%s must be an RFC 3339 timestamp", f->name);
	if (f->type == J_ENUM)
		return jsonio_choice(f->choices, s) ? 0 : jfail(e, f->name, "%s must be one of %s", f->name, f->choices);
	size_t n = f->type == J_TEXT ? jsonio_chars(s, len) : len;
	if (n < (size_t)f->min || n > (size_t)f->max)
		return jfail(e, f->name, "%s must be %lld to %lld %s long", f->name, (long long)f->min,
			     (long long)f->max, f->type == J_TEXT ? "characters" : "bytes");
	if (jsonio_check_text(s, len, 0, len) != 0)
		return jfail(e, f->name, "%s must not contain control characters", f->name);
	return 0;
}

int jsonio_validate(json_t *obj, const struct jfield *fields, struct jerr *e)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		const struct jfield *f = fields;
		while (f->name != NULL && strcmp(f->name, key) != 0)
			f++;
		if (f->name == NULL)
			return jfail(e, key, "unknown field '%.60s'", key);
		if (json_is_null(v)) {
			if (!f->nullable)
				return jfail(e, f->name, "%s must not be null", f->name);
			continue;
		}
		if (check_field(f, v, e) != 0)
			return -1;
	}
	for (const struct jfield *f = fields; f->name != NULL; f++)
		if (f->required && json_object_get(obj, f->name) == NULL)
			return jfail(e, f->name, "missing required field %s", f->name);
	return 0;
}

int64_t jsonio_int(json_t *obj, const char *name, int64_t def)
{
	json_t *v = json_object_get(obj, name);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

int jsonio_has(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return v != NULL && !json_is_null(v);
}

const char *jsonio_str(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int jsonio_bool(json_t *obj, const char *name, int def)
{
	json_t *v = json_object_get(obj, name);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

char *jsonio_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

int jsonio_number_text(const json_t *v, char *buf, size_t cap)
{
	if (json_is_integer(v))
		return snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < (int)cap ? 0 : -1;
	if (!json_is_real(v))
		return -1;
	double d = json_real_value(v);
	for (int precision = 1; precision <= 17; precision++) {
		if (snprintf(buf, cap, "%.*g", precision, d) >= (int)cap)
			return -1;
		if (strtod(buf, NULL) == d)
			return 0;
	}
	return 0;
}
