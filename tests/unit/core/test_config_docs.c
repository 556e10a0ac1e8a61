/* test_config_docs.c: creditd.conf(5), docs/configuration.md and
 * etc/creditd.conf.example say what the config tables say, key by key:
 * every key, core's and every module's (config_describe iterates them
 * all), is on the page under its section with its default, range or
 * choices and environment variable exactly, in configuration.md's table
 * among its section's rows, and in the example config under its section.
 * A key added to a table without its documentation fails here. */
#include "config.h"
#include "tap.h"
#include "unit/core/config_modules.h"
#include "unit/srcfile.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



/* The text from `start` to the next `next` marker (or the end), as a new string. */
static char *block(const char *text, const char *start, const char *next)
{
	const char *a = strstr(text, start);
	if (a == NULL)
		return NULL;
	a += strlen(start);
	const char *b = strstr(a, next);
	size_t n = b != NULL ? (size_t)(b - a) : strlen(a);
	char *s = malloc(n + 1);
	memcpy(s, a, n);
	s[n] = '\0';
	return s;
}

/* 1 when [section] key is a key of the config tables. */
static int known_key(const char *section, const char *key)
{
	struct cfg_doc d;
	size_t n = config_describe(test_modules, 0, &d);
	for (size_t i = 0; i < n; i++) {
		config_describe(test_modules, i, &d);
		if (strcmp(d.section, section) == 0 && strcmp(d.key, key) == 0)
			return 1;
	}
	return 0;
}

/* The keys configuration.md's table names, each "section key" (a row's
 * first cell: "`[section] key`" opens a section, "`key`" or "`a` / `b`"
 * its next rows), in names[0..*n). */
#define GUIDE_KEYS 256
static void guide_keys(const char *guide, char names[GUIDE_KEYS][96], int *n)
{
	char section[32] = "", name[64];
	*n = 0;
	for (const char *line = guide; line != NULL && *line != '\0'; line = strchr(line, '\n'), line += line != NULL) {
		if (strncmp(line, "| `", 3) != 0)
			continue;
		const char *end = strstr(line + 2, " |");
		for (const char *q = line + 2; end != NULL && q < end && (q = strchr(q, '`')) != NULL && q < end;) {
			const char *close = strchr(q + 1, '`');
			if (close == NULL || close > end)
				break;
			snprintf(name, sizeof(name), "%.*s", (int)(close - q - 1), q + 1);
			const char *key = name;
			if (name[0] == '[' && strchr(name, ']') != NULL) {
				snprintf(section, sizeof(section), "%.*s", (int)(strchr(name, ']') - name - 1), name + 1);
				key = strchr(name, ']') + 1;
				key += *key == ' ';
			}
			if (*n < GUIDE_KEYS)
				snprintf(names[(*n)++], 96, "%s %s", section, key);
			q = close + 1;
		}
	}
}

static int guide_has(char names[GUIDE_KEYS][96], int n, const char *section, const char *key)
{
	char want[96];
	snprintf(want, sizeof(want), "%s %s", section, key);
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], want) == 0)
			return 1;
	return 0;
}

int main(void)
{
	char *page = src_slurp("docs/creditd.conf.5", NULL), *example = src_slurp("etc/creditd.conf.example", NULL);
	char *guide = src_slurp("docs/configuration.md", NULL), *creditd8 = src_slurp("docs/creditd.8", NULL);
	static char gnames[GUIDE_KEYS][96];
	int gn = 0;
	ok(guide != NULL, "docs/configuration.md read");
	if (guide != NULL)
		guide_keys(guide, gnames, &gn);
	ok(gn > 50 && gn < GUIDE_KEYS, "configuration.md's table read (%d keys)", gn);
	struct cfg_doc d;
	ok(page != NULL, "docs/creditd.conf.5 read");
	ok(example != NULL, "etc/creditd.conf.example read");
	if (page == NULL || example == NULL)
		return done_testing();
	/* Every module's keys are among those checked below: a module's
	 * table config_describe missed would go undocumented unseen. */
	for (size_t m = 0; m < CONFIG_MODULES; m++) {
		size_t found = 0;
		for (size_t k = 0; k < test_modules[m]->nkeys; k++)
			found += known_key(test_modules[m]->keys[k].section, test_modules[m]->keys[k].key);
		ok(test_modules[m]->nkeys > 0 && found == test_modules[m]->nkeys, "the %s module's %zu keys are described",
		   test_modules[m]->name, test_modules[m]->nkeys);
	}
	size_t n = config_describe(test_modules, 0, &d);
	for (size_t i = 0; i < n; i++) {
		char head[64], want[512], key_line[128], ex_key[128];
		config_describe(test_modules, i, &d);
		snprintf(head, sizeof(head), ".SS [%s]\n", d.section);
		char *sec = block(page, head, ".SS ");
		/* The line after ".B key": default, range or choices, env. */
		int w = snprintf(want, sizeof(want), "Default %s", d.def[0] ? d.def : "empty");
		if (d.is_int)
			w += snprintf(want + w, sizeof(want) - (size_t)w, ", %" PRId64 " to %" PRId64, d.min, d.max);
		if (d.choices != NULL) {
			w += snprintf(want + w, sizeof(want) - (size_t)w, ", one of ");
			for (const char *c = d.choices; *c != '\0' && (size_t)w < sizeof(want) - 3; c++) {
				if (*c == '|') {
					want[w++] = ',';
					want[w++] = ' ';
				} else {
					want[w++] = *c;
				}
			}
			want[w] = '\0';
		}
		if (d.env != NULL)
			w += snprintf(want + w, sizeof(want) - (size_t)w, ". Env %s", d.env);
		snprintf(want + w, sizeof(want) - (size_t)w, ".\n");
		snprintf(key_line, sizeof(key_line), "\n.B %s\n", d.key);
		const char *at = sec != NULL ? strstr(sec, key_line) : NULL;
		ok(at != NULL, "creditd.conf(5) has [%s] %s", d.section, d.key);
		if (at != NULL)
			ok(strncmp(at + strlen(key_line), want, strlen(want)) == 0, "[%s] %s says: %.*s", d.section, d.key,
			   (int)strlen(want) - 1, want);
		free(sec);
		/* A named section ("provider NAME") is shown commented out under
		 * one of its kind ("# [provider deepseek]"): the installed
		 * config must not call a provider the operator did not ask for. */
		const char *space = strchr(d.section, ' ');
		if (space != NULL)
			snprintf(head, sizeof(head), "# [%.*s ", (int)(space - d.section), d.section);
		else
			snprintf(head, sizeof(head), "[%s]", d.section);	/* the block starts at its newline */
		char *exsec = block(example, head, space != NULL ? "\n\n" : "\n[");
		snprintf(ex_key, sizeof(ex_key), space != NULL ? "\n# %s =" : "\n%s =", d.key);
		ok(exsec != NULL && strstr(exsec, ex_key) != NULL, "the example config has [%s] %s", d.section, d.key);
		free(exsec);
		/* creditd(8)'s ENVIRONMENT names every variable a key takes. */
		if (d.env != NULL) {
			char *env = creditd8 != NULL ? block(creditd8, ".SH ENVIRONMENT\n", ".SH ") : NULL;
			ok(env != NULL && strstr(env, d.env) != NULL, "creditd(8)'s ENVIRONMENT names %s", d.env);
			free(env);
		}
		/* configuration.md: a row of its table names the key, in its section. */
		ok(guide_has(gnames, gn, d.section, d.key), "configuration.md lists [%s] %s", d.section, d.key);
	}
	/* And every key it names is one of the table's, under its section. */
	for (int i = 0; i < gn; i++) {
		char section[32];
		const char *key = strrchr(gnames[i], ' ') + 1;	/* "provider NAME kind": the last word */
		snprintf(section, sizeof(section), "%.*s", (int)(key - 1 - gnames[i]) & 31, gnames[i]);
		ok(known_key(section, key), "configuration.md's [%s] %s is a key of the config tables", section, key);
	}
	free(guide);
	free(creditd8);
	/* The man page's example loads as it is written. */
	char *ex = block(page, ".SH EXAMPLES\n", ".RE\n");
	char *cfgtext = ex != NULL ? strstr(ex, ".RS\n") : NULL;
	ok(cfgtext != NULL, "creditd.conf(5) has EXAMPLES with a config");
	if (cfgtext != NULL) {
		static struct cfg c;
		char err[256] = "";
		int rc = config_load_string(cfgtext + 4, test_modules, &c, err, sizeof(err));
		ok(rc == 0, "its example loads: %s", err);
		config_free(&c);
	}
	free(ex);
	free(page);
	free(example);
	return done_testing();
}
