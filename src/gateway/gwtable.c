/* gwtable.c: the routes' tables of what the gateway forwards, and the
 * walk of a request against its table (see gwtable.h, docs/gateway.md
 * "What the gateway forwards").
 *
 * Owns: reading the tables built into the binary (gwtable_data.c, made
 * from src/gateway/tables/ (one .tsv file a route)), one hash of their nodes each, and the
 * walk. A node is a path of tokens: ".member", "[]" (an array's
 * elements), "{KEY=VALUE}" (a union's variant), "=VALUE" (an enum's
 * value), "*" (any member below: a free-form object such as metadata);
 * a row may say "-> @NAME": the node goes on as the named one (a subtree
 * the SDKs reuse, written once). A top-level member's row says its JSON
 * kinds, and "required" when the route requires it ("json:array
 * required"); no other row does.
 *
 * Never: forwards, refuses or prices by itself; it tells what a body
 * asks and what it may not ask. Why a walk and not a list of refusals: a
 * list of what to refuse misses what a provider adds next; a table of
 * what is known refuses it by default (docs/decisions.md). */
#include "gwtable.h"
#include "gwkind.h"
#include "limits.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tables' text, built from src/gateway/tables/ (gwtable_data.c). */
struct gwtable_text {
	const char *name;
	const char *text;
};
extern const struct gwtable_text gwtable_texts[];
extern const size_t gwtable_ntexts;

struct row {
	const char *node;		/* the key */
	const char *alias;		/* "@NAME" or NULL */
	const char *why;		/* a refused row's reason, "" when none */
	enum gwtable_class cls;
	enum gwtable_dim dim;
	int marker;			/* a key made by the loader: "NODE{" (value: the variant's key) or "NODE=" */
	const char *variant_key;
	int used;
	const char *json;		/* a top-level member's "KINDS[ required]" as written, else NULL */
	unsigned kinds;			/* its JSON kinds (enum gwtable_kind), 0 on other rows */
	int required;
};

struct gwtable {
	const char *name;
	char *text;			/* the rows' strings point into it */
	struct row *rows;		/* open addressing, cap slots */
	size_t cap, nrows;
	char *keys;			/* markers' keys, allocated */
	size_t keys_len, keys_cap;
	const char **required;		/* the top-level members the route requires, nrequired of them */
	size_t nrequired;
};

static struct gwtable *tables;
static size_t ntables;

/* ---- the hash ---- */

static uint64_t hash_of(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static struct row *slot_of(const struct gwtable *t, const char *key, size_t n)
{
	size_t i = (size_t)hash_of(key, n) & (t->cap - 1);
	for (;;) {
		struct row *r = &t->rows[i];
		if (r->node == NULL || (strlen(r->node) == n && memcmp(r->node, key, n) == 0))
			return r;
		i = (i + 1) & (t->cap - 1);
	}
}

static const struct row *get(const struct gwtable *t, const char *key)
{
	const struct row *r = slot_of(t, key, strlen(key));
	return r->node != NULL ? r : NULL;
}

/* ---- reading a table ---- */

static const char *const dim_names[GWTABLE_DIM_COUNT] = {
	"",
#define GWTABLE_DIM_NAME_(id, name) name,
	GWTABLE_DIMS(GWTABLE_DIM_NAME_)
#undef GWTABLE_DIM_NAME_
};

static int fail(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errcap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
	return -1;
}

static int class_of(const char *s, struct row *r)
{
	static const char *const names[] = {"free", "priced:", "bound:", "refused"};
	for (int c = 0; c < 4; c++) {
		size_t n = strlen(names[c]);
		if (strncmp(s, names[c], n) != 0)
			continue;
		r->cls = (enum gwtable_class)c;
		if (c == GWTABLE_FREE || c == GWTABLE_REFUSED)
			return s[n] == '\0' ? 0 : -1;
		for (int d = 1; d < GWTABLE_DIM_COUNT; d++)
			if (strcmp(s + n, dim_names[d]) == 0) {
				r->dim = (enum gwtable_dim)d;
				return 0;
			}
	}
	return -1;
}

/* A json: field's text ("array|null", "any", then " required" or not)
 * into r. 0, or -1 when it names no kind or one unknown. */
static int kinds_of(const char *s, struct row *r)
{
	static const char *const names[] = {"string", "number", "boolean", "array", "object", "null"};
	r->json = s;
	r->kinds = 0;
	for (const char *p = s; *p != '\0' && *p != ' ';) {
		size_t n = strcspn(p, "| "), k;
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (strlen(names[k]) == n && strncmp(p, names[k], n) == 0)
				break;
		if (k < sizeof(names) / sizeof(names[0]))
			r->kinds |= 1u << k;
		else if (n == 3 && strncmp(p, "any", 3) == 0)
			r->kinds |= GWTABLE_KIND_ANY;
		else
			return -1;
		p += n + (p[n] == '|');
	}
	const char *rest = s + strcspn(s, " ");
	r->required = strcmp(rest, " required") == 0;
	return r->kinds != 0 && (r->required || rest[0] == '\0') ? 0 : -1;
}

/* A top-level member's node: no token after its name. */
static int top_level(const char *node)
{
	return strncmp(node, "beta:", 5) != 0 && node[strcspn(node, ".[{=*")] == '\0';
}

/* The place of a node's last token: its "{" when the node ends with a
 * variant, or its first "=" outside braces (an enum's value runs to the
 * end, dots and brackets included); NULL when neither. */
static const char *last_token(const char *node, char want)
{
	const char *brace = NULL;
	int depth = 0;
	for (const char *p = node; *p != '\0'; p++) {
		if (*p == '=' && depth == 0)
			return want == '=' ? p : NULL;
		if (*p == '{' && depth++ == 0)
			brace = p;
		else if (*p == '}')
			depth--;
	}
	return want == '{' && brace != NULL && node[strlen(node) - 1] == '}' ? brace : NULL;
}

static int add_marker(struct gwtable *t, const char *node, size_t base, char tail, const char *value, char *err,
		      size_t errcap)
{
	size_t need = base + 2;
	if (t->keys_len + need > t->keys_cap)
		return fail(err, errcap, "table %s: markers past their room", t->name);
	char *k = t->keys + t->keys_len;
	memcpy(k, node, base);
	k[base] = tail;
	k[base + 1] = '\0';
	struct row *r = slot_of(t, k, base + 1);
	if (r->node == NULL) {
		t->keys_len += need;
		r->node = k;
		r->marker = 1;
		r->variant_key = value;
	} else if (tail == '{' && strcmp(r->variant_key, value) != 0) {
		return fail(err, errcap, "table %s: %s has variants by two keys", t->name, node);
	}
	return 0;
}

static int add_row(struct gwtable *t, char *line, char *err, size_t errcap)
{
	char *f[5] = {line, NULL, NULL, NULL, NULL};
	for (int i = 1; i < 5 && f[i - 1] != NULL; i++) {
		char *tab = strchr(f[i - 1], '\t');
		if (tab != NULL)
			*tab = '\0';
		f[i] = tab != NULL ? tab + 1 : NULL;
	}
	struct row r = {f[0], NULL, "", GWTABLE_FREE, GWTABLE_DIM_NONE, 0, NULL, 0, NULL, 0, 0};
	if (f[1] == NULL || class_of(f[1], &r) != 0)
		return fail(err, errcap, "table %s: row %s has no known class", t->name, f[0]);
	for (int i = 2; i < 5 && f[i] != NULL; i++) {
		if (strncmp(f[i], "-> @", 4) == 0)
			r.alias = f[i] + 3;
		else if (strncmp(f[i], "# ", 2) == 0)
			r.why = f[i] + 2;
		else if (strncmp(f[i], "json:", 5) == 0 && kinds_of(f[i] + 5, &r) != 0)
			return fail(err, errcap, "table %s: row %s: json:KIND|KIND…[ required], the kinds of "
				    "string number boolean array object null any", t->name, r.node);
	}
	/* Every top-level member says its kinds (test_81b holds them to the
	 * SDKs), and only they do. */
	if (top_level(r.node) != (r.json != NULL))
		return fail(err, errcap, "table %s: row %s: %s", t->name, r.node,
			    r.json == NULL ? "a top-level member says its JSON kinds (json:…)"
					   : "only a top-level member says its JSON kinds");
	struct row *s = slot_of(t, r.node, strlen(r.node));
	if (s->node != NULL && !s->marker)
		return fail(err, errcap, "table %s: row %s twice", t->name, r.node);
	if (s->node != NULL)
		return fail(err, errcap, "table %s: row %s after its own marker", t->name, r.node);
	*s = r;
	t->nrows++;
	if (r.required)		/* in the file's order: the first missing is named */
		t->required[t->nrequired++] = r.node;
	const char *brace = last_token(r.node, '{'), *eq = last_token(r.node, '=');
	if (brace != NULL) {
		static char keybuf[LIMIT_GATEWAY_TABLE_NODE_BYTES];
		const char *k = brace + 1, *e = strchr(k, '=');
		if (e == NULL || (size_t)(e - k) >= sizeof(keybuf))
			return fail(err, errcap, "table %s: row %s: a variant is {KEY=VALUE}", t->name, r.node);
		/* The key's text: the row's own, cut at its "=" in a copy kept
		 * with the markers. */
		char *kc = t->keys + t->keys_len;
		if (t->keys_len + (size_t)(e - k) + 1 > t->keys_cap)
			return fail(err, errcap, "table %s: markers past their room", t->name);
		memcpy(kc, k, (size_t)(e - k));
		kc[e - k] = '\0';
		t->keys_len += (size_t)(e - k) + 1;
		return add_marker(t, r.node, (size_t)(brace - r.node), '{', kc, err, errcap);
	}
	if (eq != NULL && strncmp(r.node, "beta:", 5) != 0)
		return add_marker(t, r.node, (size_t)(eq - r.node), '=', "", err, errcap);
	return 0;
}

static int check_aliases(const struct gwtable *t, char *err, size_t errcap)
{
	for (size_t i = 0; i < t->cap; i++) {
		const struct row *r = &t->rows[i];
		if (r->node == NULL || r->marker || r->alias == NULL)
			continue;
		/* An alias names a node that has rows below it: some row
		 * starts with it and a token. */
		int found = 0;
		size_t n = strlen(r->alias);
		for (size_t j = 0; j < t->cap && !found; j++)
			found = t->rows[j].node != NULL && strncmp(t->rows[j].node, r->alias, n) == 0 &&
				strchr(".[{=*", t->rows[j].node[n]) != NULL && t->rows[j].node[n] != '\0';
		if (!found)
			return fail(err, errcap, "table %s: row %s names %s, which has no rows", t->name, r->node, r->alias);
	}
	return 0;
}

static int load(struct gwtable *t, const struct gwtable_text *src, char *err, size_t errcap)
{
	size_t lines = 1;
	t->name = src->name;
	t->text = strdup(src->text);
	for (const char *p = src->text; *p != '\0'; p++)
		lines += *p == '\n';
	t->cap = 16;
	while (t->cap < lines * 4)
		t->cap *= 2;
	t->rows = calloc(t->cap, sizeof(*t->rows));
	t->keys_cap = strlen(src->text) + 1;
	t->keys = malloc(t->keys_cap);
	t->required = calloc(lines, sizeof(*t->required));
	if (t->text == NULL || t->rows == NULL || t->keys == NULL || t->required == NULL)
		return fail(err, errcap, "out of memory");
	for (char *line = t->text, *next; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (add_row(t, line, err, errcap) != 0)
			return -1;
	}
	return check_aliases(t, err, errcap);
}

int gwtable_init(char *err, size_t errcap)
{
	if (tables != NULL)
		return 0;
	tables = calloc(gwtable_ntexts, sizeof(*tables));
	if (tables == NULL)
		return fail(err, errcap, "out of memory");
	for (ntables = 0; ntables < gwtable_ntexts; ntables++)
		if (load(&tables[ntables], &gwtable_texts[ntables], err, errcap) != 0)
			return -1;
	return 0;
}

const struct gwtable *gwtable_named(const char *name)
{
	for (size_t i = 0; i < ntables; i++)
		if (strcmp(tables[i].name, name) == 0)
			return &tables[i];
	return NULL;
}

const struct gwtable *gwtable_of(const struct gwkind_route *r)
{
	return r->table != NULL ? gwtable_named(r->table) : NULL;
}

size_t gwtable_unused(const struct gwtable *t, const char **node)
{
	size_t n = 0;
	*node = NULL;
	for (size_t i = 0; i < t->cap; i++) {
		const struct row *r = &t->rows[i];
		if (r->node == NULL || r->marker || r->used)
			continue;
		if (n++ == 0)
			*node = r->node;
	}
	return n;
}

/* The walks are in gwtable_walk.c; they reach the rows through these. */
const char *gwtable_row_get(const struct gwtable *t, const char *key, enum gwtable_class *cls, enum gwtable_dim *dim,
			    const char **why, const char **alias, int mark);
const char *gwtable_row_get(const struct gwtable *t, const char *key, enum gwtable_class *cls, enum gwtable_dim *dim,
			    const char **why, const char **alias, int mark)
{
	const struct row *r = get(t, key);
	if (r == NULL || (r->marker && cls != NULL))
		return NULL;	/* a marker is no row */
	if (cls != NULL) {
		*cls = r->cls;
		*dim = r->dim;
		*why = r->why;
		*alias = r->alias;
	}
	if (mark && !r->marker)
		((struct row *)r)->used = 1;
	return r->marker ? (r->variant_key != NULL ? r->variant_key : "") : r->node;
}

/* A top-level member's kinds (0: no such row) and the route's required
 * members, for the walk. */
unsigned gwtable_row_kinds(const struct gwtable *t, const char *name);
unsigned gwtable_row_kinds(const struct gwtable *t, const char *name)
{
	const struct row *r = get(t, name);
	return r != NULL && !r->marker ? r->kinds : 0;
}

size_t gwtable_required(const struct gwtable *t, const char *const **names);
size_t gwtable_required(const struct gwtable *t, const char *const **names)
{
	*names = t->required;
	return t->nrequired;
}

const char *gwtable_member_json(const struct gwtable *t, const char *name)
{
	const struct row *r = top_level(name) ? get(t, name) : NULL;
	return r != NULL && !r->marker ? r->json : NULL;
}
