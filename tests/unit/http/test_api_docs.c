/* test_api_docs.c: docs/api.md names the router's routes, all of them and
 * no other. A route is listed in api.md as a bold code span, **`METHOD
 * /path?query`**, followed by who may call it in parentheses; every route
 * of routes[] (router_describe) is listed at least once with its scope as
 * router.c has it, and every listed route is one of routes[] (or the HEAD
 * of a GET route, which the router answers too). Also docs/gateway.md's
 * table of the gateway's routes is the router's gateway routes. A route
 * added to the table without its documentation, or a documented route the
 * router lacks, fails here. And no shipped doc cites DESIGN: the design
 * document is not shipped, so what it decided is stated where it applies
 * (docs/decisions.md); a "DESIGN §N" in one fails here at its file:line. */
#include "router.h"
#include "tap.h"
#include "unit/srcfile.h"
#include <ctype.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define DOC_ROUTES 128

struct doc_route {
	char method[16];
	char pattern[160];	/* {param} segments as '*', no query */
	char scope[48];		/* the parenthesis after it, to ')' or ';'; "" when none */
	int used;		/* matched a route of the table */
};


/* Blanks every fenced code block (``` to ```) of text in place, so a
 * route in an example is not taken for a listing. */
static void blank_fences(char *text)
{
	char *at = text;
	while ((at = strstr(at, "```")) != NULL) {
		if (at != text && at[-1] != '\n') {
			at += 3;
			continue;
		}
		char *end = strstr(at + 3, "\n```");
		end = end != NULL ? end + 4 : at + strlen(at);
		memset(at, ' ', (size_t)(end - at));
		at = end;
	}
}

/* "METHOD /a/{x}/b?q" into method and pattern ("/a/ * /b" without the
 * spaces); 0, or -1 when span is not a method and a path. */
static int parse_route(const char *span, size_t len, struct doc_route *r)
{
	size_t m = 0;
	while (m < len && isupper((unsigned char)span[m]))
		m++;
	if (m == 0 || m >= sizeof(r->method) || m + 1 >= len || span[m] != ' ' || span[m + 1] != '/')
		return -1;
	memcpy(r->method, span, m);
	r->method[m] = '\0';
	size_t w = 0;
	for (size_t i = m + 1; i < len && span[i] != '?' && !isspace((unsigned char)span[i]); i++) {
		if (w + 2 >= sizeof(r->pattern))
			return -1;
		if (span[i] == '{') {
			while (i < len && span[i] != '}')
				i++;
			r->pattern[w++] = '*';
			continue;
		}
		r->pattern[w++] = span[i];
	}
	r->pattern[w] = '\0';
	return 0;
}

/* The scope in the parenthesis that follows a listing (spaces and line
 * breaks before it allowed), up to ')' or ';', each run of spaces and
 * line breaks in it one space (a paragraph wraps where it likes). */
static void parse_scope(const char *after, char *scope, size_t cap)
{
	size_t w = 0;
	while (isspace((unsigned char)*after))
		after++;
	if (*after == '(') {
		for (const char *c = after + 1; *c != '\0' && *c != ')' && *c != ';' && w + 1 < cap; c++) {
			if (!isspace((unsigned char)*c))
				scope[w++] = *c;
			else if (w > 0 && scope[w - 1] != ' ')
				scope[w++] = ' ';
		}
	}
	scope[w] = '\0';
}

/* Every **`METHOD /path`** of api.md, outside code blocks, into out. */
static int doc_routes(char *text, struct doc_route *out, int cap)
{
	int n = 0;
	blank_fences(text);
	for (const char *at = text; (at = strstr(at, "**`")) != NULL;) {
		const char *span = at + 3;
		const char *close = strstr(span, "`**");
		if (close == NULL)
			break;
		at = close + 3;
		struct doc_route r = {0};
		if (parse_route(span, (size_t)(close - span), &r) != 0)
			continue;
		parse_scope(at, r.scope, sizeof(r.scope));
		if (n < cap)
			out[n++] = r;
	}
	return n;
}

/* The `METHOD /path` of each row of gateway.md's routes table. */
static int gateway_rows(const char *text, struct doc_route *out, int cap)
{
	int n = 0;
	for (const char *line = text; line != NULL && *line != '\0'; line = strchr(line, '\n'), line += line != NULL) {
		if (strncmp(line, "| `", 3) != 0)
			continue;
		const char *close = strchr(line + 3, '`');
		struct doc_route r = {0};
		if (close != NULL && parse_route(line + 3, (size_t)(close - line - 3), &r) == 0 && n < cap)
			out[n++] = r;
	}
	return n;
}

static int is_gateway(const struct router_doc *d)
{
	return strcmp(d->scope, "guard or gateway key") == 0;
}

/* The route that takes method on pattern (HEAD: a GET route), in d;
 * 0 when the router has none. */
static int router_find(const char *method, const char *pattern, struct router_doc *d)
{
	size_t n = router_describe(0, d);
	for (size_t i = 0; i < n; i++) {
		router_describe(i, d);
		if (strcmp(d->pattern, pattern) != 0)
			continue;
		if (strcmp(d->method, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(d->method, "GET") == 0))
			return 1;
	}
	return 0;
}

/* The shipped docs read, and the citations of DESIGN found in them. */
static int design_files, design_cites;

/* Fails once for each "DESIGN §" of the file at path (absolute), at its
 * file:line; blanks, line breaks and comment leaders between the two
 * count, as a paragraph or a comment wraps where it likes. */
static void design_scan(const char *path)
{
	char *text = src_slurp(path, NULL);
	const char *name = path;
	if (strncmp(path, TOP_SRCDIR "/", strlen(TOP_SRCDIR) + 1) == 0)
		name = path + strlen(TOP_SRCDIR) + 1;
	if (text == NULL)
		return;
	design_files++;
	for (const char *at = text; (at = strstr(at, "DESIGN")) != NULL; at += 6) {
		const char *p = at + 6;
		while (*p != '\0' && strchr(" \t\r\n#;*", *p) != NULL)
			p++;
		if (strncmp(p, "\xc2\xa7", 2) != 0)	/* § in UTF-8 */
			continue;
		int line = 1;
		for (const char *c = text; c < at; c++)
			line += *c == '\n';
		design_cites++;
		ok(0, "%s:%d cites DESIGN, which is not shipped", name, line);
	}
	free(text);
}

static int design_walk(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F)
		design_scan(path);
	return 0;
}

/* README.md, CHANGELOG.md, docs/ (pages, man pages, OpenAPI), clients'
 * READMEs and every file of etc/, nginx/, apache/, systemd/ and debian/. */
static void design_check(void)
{
	static const char *const globs[] = { "README.md", "CHANGELOG.md", "docs/*.md", "docs/openapi.yaml",
					     "docs/*.5", "docs/*.8", "clients/*/README.md" };
	static const char *const dirs[] = { "etc", "nginx", "apache", "systemd", "debian" };
	char pat[4096];
	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
		glob_t g;
		snprintf(pat, sizeof(pat), "%s/%s", TOP_SRCDIR, globs[i]);
		if (glob(pat, 0, NULL, &g) == 0)
			for (size_t k = 0; k < g.gl_pathc; k++)
				design_scan(g.gl_pathv[k]);
		globfree(&g);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(pat, sizeof(pat), "%s/%s", TOP_SRCDIR, dirs[i]);
		nftw(pat, design_walk, 16, FTW_PHYS);
	}
	ok(design_files > 30, "the shipped docs read (%d files)", design_files);
	ok(design_cites == 0, "no shipped doc cites DESIGN (%d citations)", design_cites);
}

int main(void)
{
	static struct doc_route listed[DOC_ROUTES], gw[DOC_ROUTES];
	char *api = src_slurp("docs/api.md", NULL), *gateway = src_slurp("docs/gateway.md", NULL);
	ok(api != NULL, "docs/api.md read");
	ok(gateway != NULL, "docs/gateway.md read");
	if (api == NULL || gateway == NULL)
		return done_testing();
	int n = doc_routes(api, listed, DOC_ROUTES);
	int gn = gateway_rows(gateway, gw, DOC_ROUTES);
	struct router_doc d;
	size_t routes = router_describe(0, &d);
	ok(routes > 30, "the router's table read (%zu routes)", routes);
	ok(n >= (int)routes && n < DOC_ROUTES, "api.md's listings read (%d)", n);
	for (size_t i = 0; i < routes; i++) {
		router_describe(i, &d);
		int found = 0, scoped = 0;
		char other[48] = "";
		for (int k = 0; k < n; k++) {
			if (strcmp(listed[k].method, d.method) != 0 || strcmp(listed[k].pattern, d.pattern) != 0)
				continue;
			found = 1;
			listed[k].used = 1;
			if (strcmp(listed[k].scope, d.scope) == 0)
				scoped = 1;
			else if (listed[k].scope[0] != '\0')
				snprintf(other, sizeof(other), "%s", listed[k].scope);
		}
		ok(found, "api.md lists %s %s (%s)", d.method, d.pattern, d.name);
		ok(!found || scoped, "api.md says who calls %s %s: (%s)%s%s", d.method, d.pattern, d.scope,
		   other[0] ? ", not " : "", other);
		ok(other[0] == '\0', "no listing of %s %s names another scope%s%s", d.method, d.pattern,
		   other[0] ? ": " : "", other);
		if (!is_gateway(&d))
			continue;
		int in_table = 0;
		for (int k = 0; k < gn; k++)
			in_table |= strcmp(gw[k].method, d.method) == 0 && strcmp(gw[k].pattern, d.pattern) == 0;
		ok(in_table, "gateway.md's table has %s %s", d.method, d.pattern);
	}
	/* And everything api.md lists is a route (a HEAD: of a GET route). */
	for (int k = 0; k < n; k++)
		ok(listed[k].used || router_find(listed[k].method, listed[k].pattern, &d),
		   "api.md's %s %s is a route of the router", listed[k].method, listed[k].pattern);
	ok(gn >= 5, "gateway.md's table read (%d rows)", gn);
	for (int k = 0; k < gn; k++)
		ok(router_find(gw[k].method, gw[k].pattern, &d) && is_gateway(&d),
		   "gateway.md's %s %s is a gateway route of the router", gw[k].method, gw[k].pattern);
	free(api);
	free(gateway);
	design_check();
	return done_testing();
}
