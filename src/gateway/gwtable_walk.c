/* gwtable_walk.c: a request body walked against its route's table, a beta
 * header's names checked, and (for the test that holds the tables to the
 * SDKs) a path resolved (see gwtable.h).
 *
 * Owns: the walk's rules. At an object: its variant first (when the node
 * is a union, its key's value names the variant; the key itself is no
 * member then), then each member by its row, or the node's "*" row.
 * At an array: its elements at "NODE[]". At a string: its value's row
 * when the node is an enum. A JSON body's top-level members are checked
 * first against their rows' kinds and required flags (the pinned SDKs'
 * types say them: a client of the provider's own SDK never meets such a
 * refusal); below the top, numbers, booleans and null are the provider's
 * to check. A row's class decides: refused stops the walk, priced and
 * bound are told to the caller, free goes on below.
 *
 * Never: allocates (every name is built in a bounded buffer on the stack:
 * a name that does not fit is one no row has), or walks deeper than
 * LIMIT_GATEWAY_JSON_DEPTH (gwshape_read checked the body's depth). */
#include "gwtable.h"
#include "limits.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *gwtable_row_get(const struct gwtable *t, const char *key, enum gwtable_class *cls, enum gwtable_dim *dim,
			    const char **why, const char **alias, int mark);
unsigned gwtable_row_kinds(const struct gwtable *t, const char *name);
size_t gwtable_required(const struct gwtable *t, const char *const **names);

struct walk {
	const struct gwtable *t;
	const struct gwtable_extra *extras;
	size_t nextras;
	struct gwtable_seen *seen;
	char path[LIMIT_GATEWAY_PARAM_BYTES];	/* the member's path in the body, as a refusal names it */
	size_t path_len;
	char *err;
	size_t errcap;
	int typed;				/* a JSON body: its top-level members' kinds checked */
};

/* A row as the walk reads it. */
struct hit {
	enum gwtable_class cls;
	enum gwtable_dim dim;
	const char *why, *alias;
};

static int lookup(const struct walk *w, const char *key, struct hit *h)
{
	return gwtable_row_get(w->t, key, &h->cls, &h->dim, &h->why, &h->alias, 0) != NULL ? 0 : -1;
}

/* "prefix" + "tail" into buf: 0, or -1 when it does not fit. */
static int join(char *buf, size_t cap, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int join(char *buf, size_t cap, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(prefix);
	if (n >= cap)
		return -1;
	memmove(buf, prefix, n);
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
	return m >= 0 && (size_t)m < cap - n ? 0 : -1;
}

static int extra_has(const struct walk *w, const char *prefix, const char *name)
{
	size_t pn = strlen(prefix);
	for (size_t i = 0; i < w->nextras; i++)
		for (size_t j = 0; j < w->extras[i].n; j++) {
			const char *e = w->extras[i].entries[j];
			if (strncmp(e, prefix, pn) == 0 && strcmp(e + pn, name) == 0)
				return 1;
		}
	return 0;
}

/* Appends a member's name (after a "." unless it is the first) or an
 * element's index to the path; returns the length to pop back to. A path
 * past its room is cut: it only names the member. */
static size_t path_push(struct walk *w, const char *name, size_t index)
{
	size_t was = w->path_len;
	int n = name != NULL ? snprintf(w->path + was, sizeof(w->path) - was, "%s%s", was == 0 ? "" : ".", name)
			     : snprintf(w->path + was, sizeof(w->path) - was, "[%zu]", index);
	if (n > 0)
		w->path_len = was + (size_t)n < sizeof(w->path) ? was + (size_t)n : sizeof(w->path) - 1;
	return was;
}

static void path_pop(struct walk *w, size_t was)
{
	w->path_len = was;
	w->path[was] = '\0';
}

static int refuse(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct walk *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, w->errcap, fmt, ap);
	va_end(ap);
	return -1;
}

/* Applies a row found: -1 (refused, err filled) or 0. */
static int apply(struct walk *w, const struct hit *h)
{
	if (h->cls == GWTABLE_REFUSED)
		return refuse(w, "\"%s\" is not forwarded: %s", w->path, h->why[0] != '\0' ? h->why : "creditd does not price it");
	if (h->cls == GWTABLE_PRICED || h->cls == GWTABLE_BOUND)
		w->seen->dims |= 1u << h->dim;
	return 0;
}

/* The node a row leads on to: its alias, or itself. */
static const char *onward(const struct hit *h, const char *key)
{
	return h->alias != NULL ? h->alias : key;
}

static int walk_value(struct walk *w, const char *node, const json_t *v, int depth);

/* ---- a top-level member's kind, the required members (gwtable.h) ---- */

static unsigned kind_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return GWTABLE_KIND_STRING;
	case JSON_INTEGER:
	case JSON_REAL: return GWTABLE_KIND_NUMBER;
	case JSON_TRUE:
	case JSON_FALSE: return GWTABLE_KIND_BOOLEAN;
	case JSON_ARRAY: return GWTABLE_KIND_ARRAY;
	case JSON_OBJECT: return GWTABLE_KIND_OBJECT;
	default: return GWTABLE_KIND_NULL;
	}
}

/* The kinds in words: "a string, an array or null". */
static void kinds_words(unsigned kinds, char *out, size_t cap)
{
	static const char *const words[] = {"a string", "a number", "a boolean", "an array", "an object", "null"};
	size_t len = 0, left = 0;
	out[0] = '\0';
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		left += (kinds >> k) & 1u;
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
		if (!((kinds >> k) & 1u))
			continue;
		int n = snprintf(out + len, cap - len, "%s%s", len == 0 ? "" : left == 1 ? " or " : ", ", words[k]);
		if (n < 0 || (size_t)n >= cap - len)
			return;
		len += (size_t)n;
		left--;
	}
}

static int required(const struct walk *w, const char *name)
{
	const char *const *names;
	size_t n = gwtable_required(w->t, &names);
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* A top-level member of a kind its row allows: 0, or -1 refused. An
 * operator's free_fields naming it let any kind through (their word).
 * null passes for a member the route does not require, whatever its
 * SDK type says: hand-written clients send it for "not set", and the
 * providers take it so (docs/gateway.md, "What is checked before
 * anything is forwarded"). */
static int check_kind(struct walk *w, const char *name, const json_t *v)
{
	unsigned allowed = gwtable_row_kinds(w->t, name), is = kind_of(v);
	char want[96], got[16];
	if (allowed == 0 || (allowed & is) != 0 || extra_has(w, "", name) || (json_is_null(v) && !required(w, name)))
		return 0;
	kinds_words(allowed, want, sizeof(want));
	kinds_words(is, got, sizeof(got));
	return refuse(w, "\"%s\" must be %s, not %s: not forwarded", w->path, want, got);
}

/* Every member the route requires is present (null is present: its kind
 * is checked): 0, or -1 naming the first missing. */
static int check_required(struct walk *w, const json_t *body)
{
	const char *const *names;
	size_t n = gwtable_required(w->t, &names);
	for (size_t i = 0; i < n; i++)
		if (json_object_get(body, names[i]) == NULL) {
			path_push(w, names[i], 0);
			return refuse(w, "\"%s\" is required: not forwarded", names[i]);
		}
	return 0;
}

static int walk_member(struct walk *w, const char *node, const char *name, const json_t *v, int depth)
{
	char key[LIMIT_GATEWAY_TABLE_NODE_BYTES];
	struct hit h;
	size_t was = path_push(w, name, 0);
	int rc = 0;
	/* A name with a table's punctuation would be read as a path of it. */
	if (name[strcspn(name, ".[]{}=*@")] != '\0')
		return refuse(w, "\"%s\" is not a member creditd knows on this route: not forwarded", w->path);
	if (join(key, sizeof(key), node, node[0] == '\0' ? "%s" : ".%s", name) == 0 && lookup(w, key, &h) == 0)
		rc = apply(w, &h) != 0 || (w->typed && node[0] == '\0' && check_kind(w, name, v) != 0) ||
		     walk_value(w, onward(&h, key), v, depth + 1) != 0 ? -1 : 0;
	else if (join(key, sizeof(key), node, "*") == 0 && lookup(w, key, &h) == 0)
		rc = apply(w, &h);
	else if (!(w->path_len == strlen(name) && extra_has(w, "", name)))
		rc = refuse(w, "\"%s\" is not a member creditd knows on this route: not forwarded (an operator's free_fields "
			    "may name it)", w->path);
	if (rc == 0)
		path_pop(w, was);
	return rc;
}

static int walk_object(struct walk *w, const char *node, const json_t *v, int depth)
{
	char key[LIMIT_GATEWAY_TABLE_NODE_BYTES], variant[LIMIT_GATEWAY_TABLE_NODE_BYTES];
	const char *vkey = join(key, sizeof(key), node, "{") == 0 ? gwtable_row_get(w->t, key, NULL, NULL, NULL, NULL, 0)
								    : NULL;
	const json_t *d = vkey != NULL ? json_object_get(v, vkey) : NULL;
	const char *at = node, *name;
	json_t *child;
	struct hit h;
	if (d != NULL && json_is_string(d)) {
		if (join(variant, sizeof(variant), node, "{%s=%s}", vkey, json_string_value(d)) != 0 ||
		    lookup(w, variant, &h) != 0) {
			if (strcmp(vkey, "type") == 0 && extra_has(w, "type:", json_string_value(d)))
				return 0;
			path_push(w, vkey, 0);
			return refuse(w, "\"%s\": \"%.64s\" is not a %s creditd knows on this route: not forwarded (an "
				      "operator's free_fields may name it)", w->path, json_string_value(d), vkey);
		}
		size_t was = path_push(w, vkey, 0);
		if (h.cls == GWTABLE_REFUSED)
			return refuse(w, "\"%s\": \"%.64s\" is not forwarded: %s", w->path, json_string_value(d),
				      h.why[0] != '\0' ? h.why : "creditd does not price it");
		if (apply(w, &h) != 0)
			return -1;
		path_pop(w, was);
		at = onward(&h, variant);
	}
	json_object_foreach((json_t *)v, name, child) {
		if (at != node && strcmp(name, vkey) == 0)
			continue;
		if (walk_member(w, at, name, child, depth) != 0)
			return -1;
	}
	return 0;
}

static int walk_value(struct walk *w, const char *node, const json_t *v, int depth)
{
	char key[LIMIT_GATEWAY_TABLE_NODE_BYTES];
	struct hit h;
	size_t i;
	const json_t *el;
	if (depth > LIMIT_GATEWAY_JSON_DEPTH)
		return refuse(w, "the body is nested deeper than %d levels", LIMIT_GATEWAY_JSON_DEPTH);
	if (json_is_object(v))
		return walk_object(w, node, v, depth);
	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			return 0;
		if (join(key, sizeof(key), node, "[]") != 0 || lookup(w, key, &h) != 0)
			return refuse(w, "\"%s\" is not a list creditd knows on this route: not forwarded", w->path);
		if (apply(w, &h) != 0)
			return -1;
		json_array_foreach(v, i, el) {
			size_t was = path_push(w, NULL, i);
			if (walk_value(w, onward(&h, key), el, depth + 1) != 0)
				return -1;
			path_pop(w, was);
		}
		return 0;
	}
	if (!json_is_string(v) || join(key, sizeof(key), node, "=") != 0 ||
	    gwtable_row_get(w->t, key, NULL, NULL, NULL, NULL, 0) == NULL)
		return 0;
	/* An enum: its value's row. */
	if (join(key, sizeof(key), node, "=%s", json_string_value(v)) != 0 || lookup(w, key, &h) != 0)
		return refuse(w, "\"%s\": \"%.64s\" is not a value creditd knows on this route: not forwarded", w->path,
			      json_string_value(v));
	return apply(w, &h);
}

static int walk_body(const struct gwtable *t, const json_t *body, const struct gwtable_extra *extras, size_t nextras,
		     struct gwtable_seen *seen, char *param, size_t paramcap, char *err, size_t errcap, int typed)
{
	struct walk w = {t, extras, nextras, seen, "", 0, err, errcap, typed};
	seen->dims = 0;
	int rc = typed && json_is_object(body) ? check_required(&w, body) : 0;
	if (rc == 0)
		rc = walk_value(&w, "", body, 1);
	if (rc != 0)
		snprintf(param, paramcap, "%s", w.path);
	return rc;
}

int gwtable_walk(const struct gwtable *t, const json_t *body, const struct gwtable_extra *extras, size_t nextras,
		 struct gwtable_seen *seen, char *param, size_t paramcap, char *err, size_t errcap)
{
	return walk_body(t, body, extras, nextras, seen, param, paramcap, err, errcap, 1);
}

int gwtable_walk_form(const struct gwtable *t, const json_t *body, const struct gwtable_extra *extras,
		      size_t nextras, struct gwtable_seen *seen, char *param, size_t paramcap, char *err, size_t errcap)
{
	return walk_body(t, body, extras, nextras, seen, param, paramcap, err, errcap, 0);
}

int gwtable_betas(const struct gwtable *t, const char *header, const struct gwtable_extra *extras, size_t nextras,
		  struct gwtable_seen *seen, char *err, size_t errcap)
{
	struct walk w = {t, extras, nextras, seen, "anthropic-beta", 14, err, errcap, 0};
	char name[LIMIT_GATEWAY_HEADER_BYTES], key[LIMIT_GATEWAY_HEADER_BYTES + 8];
	struct hit h;
	seen->dims = 0;	/* the header's own, as gwtable_walk's are the body's */
	for (const char *p = header; *p != '\0';) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		p += n + (p[n] == ',');
		if (e == s)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(e - s), s);
		if (extra_has(&w, "beta:", name))
			continue;
		if (join(key, sizeof(key), "beta:", "%s", name) != 0 || lookup(&w, key, &h) != 0)
			return refuse(&w, "the beta \"%.64s\" is not one creditd knows: not forwarded (an operator's "
				      "free_fields may name it as beta:%.64s)", name, name);
		if (h.cls == GWTABLE_REFUSED)
			return refuse(&w, "the beta \"%.64s\" is not forwarded: %s", name, h.why[0] != '\0' ? h.why
													 : "creditd does not price it");
		if (apply(&w, &h) != 0)
			return -1;
	}
	return 0;
}

/* ---- a path as the SDKs' types spell it ---- */

/* The next token of path at *p: its text in tok (cap bytes). 0, or -1. */
static int token(const char **p, char *tok, size_t cap)
{
	const char *s = *p, *e = s;
	if (*s == '.' || (*s != '[' && *s != '{' && *s != '=' && *s != '*')) {
		e = s + (*s == '.');
		e += strcspn(e, ".[{=*");
	} else if (*s == '[') {
		e = s + 2;
	} else if (*s == '{') {
		e = strchr(s, '}');
		e = e != NULL ? e + 1 : s + strlen(s);
	} else {
		e = *s == '=' ? s + strlen(s) : s + 1;
	}
	if ((size_t)(e - s) >= cap)
		return -1;
	memcpy(tok, s, (size_t)(e - s));
	tok[e - s] = '\0';
	*p = e;
	return 0;
}

int gwtable_resolve(const struct gwtable *t, const char *path, char *err, size_t errcap)
{
	char node[LIMIT_GATEWAY_TABLE_NODE_BYTES] = "", key[LIMIT_GATEWAY_TABLE_NODE_BYTES], tok[LIMIT_GATEWAY_TABLE_NODE_BYTES];
	enum gwtable_class cls;
	enum gwtable_dim dim;
	const char *why, *alias, *p = path;
	if (strncmp(path, "beta:", 5) == 0)
		p = path + strlen(path), snprintf(node, sizeof(node), "%s", path);
	else if (strncmp(path, "beta:", 5) != 0 && token(&p, tok, sizeof(tok)) == 0)
		snprintf(node, sizeof(node), "%s", tok[0] == '.' ? tok + 1 : tok);
	if (gwtable_row_get(t, node, &cls, &dim, &why, &alias, 1) == NULL)
		return snprintf(err, errcap, "no row %s", node), -1;
	if (alias != NULL)
		snprintf(node, sizeof(node), "%s", alias);
	while (*p != '\0') {
		if (token(&p, tok, sizeof(tok)) != 0 || join(key, sizeof(key), node, "%s", tok) != 0)
			return snprintf(err, errcap, "a token past its room in %s", path), -1;
		if (gwtable_row_get(t, key, &cls, &dim, &why, &alias, 1) == NULL)
			return snprintf(err, errcap, "no row %s", key), -1;
		snprintf(node, sizeof(node), "%s", alias != NULL ? alias : key);
	}
	return 0;
}
