/* gwobject.c: an object route's upstream path and query (see
 * gwobject.h; docs/gateway.md, "Provider objects"). A query is forwarded
 * only as the route's list of the provider's parameters knows it, each
 * value checked and encoded again: nothing of the client's URL reaches
 * the provider as it came. */
#include "gwobject.h"
#include "jsonio.h"
#include "limits.h"
#include "urlpath.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the n bytes at s are text: valid UTF-8 (jansson's check), no
 * control character. */
static int text_ok(const char *s, size_t n)
{
	json_t *v = jsonio_check_text(s, n, 1, n) == 0 ? json_stringn(s, n) : NULL;
	json_decref(v);
	return v != NULL;
}

int gwobject_id_ok(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n < LIMIT_GATEWAY_RESPONSE_ID_BYTES && text_ok(id, n);
}

static const struct gwkind_query *param_of(const struct gwkind_route *r, const char *name)
{
	for (const struct gwkind_query *q = r->query; q != NULL && q->name != NULL; q++)
		if (strcmp(q->name, name) == 0)
			return q;
	return NULL;
}

/* 0 when value is of q's type and not its refused value; else -1 with err. */
static int value_ok(const struct gwkind_query *q, const char *value, char *err, size_t errcap)
{
	char *end = NULL;
	long long v;
	if (q->refused != NULL && strcmp(value, q->refused) == 0) {
		snprintf(err, errcap, "\"%s=%s\" is not passed on by creditd: %s", q->name, value, q->why);
		return -1;
	}
	switch (q->type) {
	case GWKIND_Q_INT:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (value[0] != '\0' && *end == '\0' && errno == 0 && v >= q->min && v <= q->max)
			return 0;
		snprintf(err, errcap, "\"%s\" must be an integer from %lld to %lld", q->name, (long long)q->min,
			 (long long)q->max);
		return -1;
	case GWKIND_Q_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
			return 0;
		snprintf(err, errcap, "\"%s\" must be true or false", q->name);
		return -1;
	case GWKIND_Q_ENUM:
		if (jsonio_choice(q->values, value))
			return 0;
		snprintf(err, errcap, "\"%s\" must be one of %s", q->name, q->values);
		return -1;
	default:
		if (value[0] != '\0' && text_ok(value, strlen(value)))
			return 0;
		snprintf(err, errcap, "\"%s\" must be text of 1 to %d bytes", q->name, LIMIT_GATEWAY_QUERY_VALUE_BYTES - 1);
		return -1;
	}
}

/* One "name=value" pair (len bytes at p) checked and appended to out. */
static int pair(const struct gwkind_route *r, const char *p, size_t len, char *out, size_t cap, char *param, size_t pcap,
		char *err, size_t errcap)
{
	char name[64], value[LIMIT_GATEWAY_QUERY_VALUE_BYTES], ename[3 * sizeof(name)], evalue[3 * sizeof(value)];
	const char *eq = memchr(p, '=', len);
	size_t nlen = eq != NULL ? (size_t)(eq - p) : len;
	if (urlpath_decode(p, nlen, URLPATH_PLUS_SPACE, name, sizeof(name)) != 0) {
		snprintf(err, errcap, "a query parameter's name is malformed or longer than %zu bytes", sizeof(name) - 1);
		return -1;
	}
	snprintf(param, pcap, "%s", name);
	const struct gwkind_query *q = param_of(r, name);
	if (q == NULL) {
		snprintf(err, errcap, "\"%s\" is no query parameter of this route that creditd passes on", name);
		return -1;
	}
	if (eq == NULL || urlpath_decode(eq + 1, len - nlen - 1, URLPATH_PLUS_SPACE, value, sizeof(value)) != 0) {
		snprintf(err, errcap, "\"%s\" needs a value of at most %zu bytes", name, sizeof(value) - 1);
		return -1;
	}
	if (value_ok(q, value, err, errcap) != 0)
		return -1;
	size_t n = strlen(out);
	if (urlpath_encode(name, ename, sizeof(ename)) != 0 || urlpath_encode(value, evalue, sizeof(evalue)) != 0 ||
	    (size_t)snprintf(out + n, cap - n, "%s%s=%s", n > 0 ? "&" : "", ename, evalue) >= cap - n) {
		param[0] = '\0';
		snprintf(err, errcap, "the query is longer than creditd passes on (%d bytes)", LIMIT_GATEWAY_QUERY_BYTES);
		return -1;
	}
	return 0;
}

int gwobject_query(const struct gwkind_route *r, const char *raw, char *out, size_t cap, char *param, size_t pcap,
		   char *err, size_t errcap)
{
	out[0] = '\0';
	param[0] = '\0';
	for (const char *p = raw != NULL ? raw : ""; *p != '\0';) {
		size_t len = strcspn(p, "&");
		if (len > 0 && pair(r, p, len, out, cap, param, pcap, err, errcap) != 0)
			return -1;
		p += len + (p[len] == '&');
	}
	param[0] = '\0';
	return 0;
}

int gwobject_path(const struct gwkind_route *r, const char *id, const char *query, char *out, size_t cap)
{
	char encoded[3 * LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	const char *star = strchr(r->upstream, '*');
	if (star == NULL || urlpath_encode(id, encoded, sizeof(encoded)) != 0)
		return -1;
	int n = snprintf(out, cap, "%.*s%s%s%s%s", (int)(star - r->upstream), r->upstream, encoded, star + 1,
			 query[0] != '\0' ? "?" : "", query);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}
