/* test_columns.c: the columns the ledger reads (ledger_columns.h) are the
 * columns the batch procedures send, in the same order: the view
 * cd_account_rows and every list of cd_batch_read's "holds", "hold_reqs"
 * and "members" sets, as the newest migration defining each has them.
 * A column added to a table of ledger_columns.h without a migration that
 * sends it (or the other way round) fails here, not in production. */
#include "ledger_columns.h"
#include "tap.h"
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TOP_SRCDIR
#error "TOP_SRCDIR must be set by Makefile.am"
#endif

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s != NULL)
		s[n] = '\0';
	fclose(f);
	return s;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The text of the newest migration (sql/NNN_*.sql, by name) holding what. */
static char *newest_with(const char *what, char *name, size_t cap)
{
	char dir[1024], path[2048], *files[512];
	int n = 0;
	snprintf(dir, sizeof(dir), "%s/sql", TOP_SRCDIR);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL && n < 512)
		if (strstr(e->d_name, ".sql") != NULL)
			files[n++] = strdup(e->d_name);
	if (d != NULL)
		closedir(d);
	qsort(files, (size_t)n, sizeof(files[0]), by_name);
	char *found = NULL;
	for (int i = n - 1; i >= 0 && found == NULL; i--) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		char *text = slurp(path);
		if (text != NULL && strstr(text, what) != NULL) {
			found = text;
			snprintf(name, cap, "%s", files[i]);
		} else {
			free(text);
		}
	}
	for (int i = 0; i < n; i++)
		free(files[i]);
	return found;
}

/* The column list from p up to the first of end, spaces collapsed. */
static void list_at(const char *p, const char *end, char *out, size_t cap)
{
	const char *stop = strstr(p, end);
	size_t o = 0;
	int space = 0;
	for (; p != NULL && stop != NULL && p < stop && o + 2 < cap; p++) {
		if (isspace((unsigned char)*p)) {
			space = 1;
			continue;
		}
		if (space && o > 0 && out[o - 1] != ',')
			out[o++] = ' ';
		else if (space && o > 0)
			out[o++] = ' ';
		space = 0;
		out[o++] = *p;
	}
	out[o] = '\0';
}

/* Every list after each occurrence of head in text equals want. */
static void lists_equal(const char *text, const char *head, const char *end, const char *want, const char *file)
{
	char got[8192];
	int seen = 0;
	for (const char *p = strstr(text, head); p != NULL; p = strstr(p + 1, head)) {
		list_at(p + strlen(head), end, got, sizeof(got));
		is_str(got, want, "%s: the list after \"%s\" (number %d) is the ledger's", file, head, ++seen);
	}
	ok(seen > 0, "%s lists \"%s\" (%d)", file, head, seen);
}

int main(void)
{
	char name[256];
	char *view = newest_with("VIEW cd_account_rows", name, sizeof(name));
	ok(view != NULL, "a migration defines cd_account_rows (%s)", view != NULL ? name : "none");
	if (view != NULL) {
		char *as = strstr(view, "VIEW cd_account_rows AS");
		char got[8192];
		list_at(as != NULL ? strstr(as, "SELECT") + 6 : view, "FROM accounts", got, sizeof(got));
		/* the view names its one expression */
		char *alias = strstr(got, " AS has_card");
		if (alias != NULL)
			memmove(alias, alias + strlen(" AS has_card"), strlen(alias + strlen(" AS has_card")) + 1);
		is_str(got, ACCT_COLS_OF(""), "%s: cd_account_rows' columns are ACCT_COLUMNS' (%d)", name, ACCT_NCOLS);
	}
	char *proc = newest_with("PROCEDURE cd_batch_read", name, sizeof(name));
	ok(proc != NULL, "a migration defines cd_batch_read (%s)", proc != NULL ? name : "none");
	if (proc != NULL) {
		lists_equal(proc, "SELECT 0 AS holds, ", " FROM",
			    HOLD_COLS_OF("h.") ", " MEMBER_COLS_OF("m.") ", h.pin_cache_write_micros_per_mtok", name);
		lists_equal(proc, "SELECT 0 AS hold_reqs, ", " FROM", HOLD_COLS_OF("h.") ", h.pin_cache_write_micros_per_mtok",
			    name);
		lists_equal(proc, "SELECT 0 AS members, ", " FROM", MEMBER_COLS_OF("m."), name);
		ok(strstr(proc, "SELECT 0 AS accounts, a.*") != NULL, "%s: accounts are the view's rows", name);
	}
	free(view);
	free(proc);
	return done_testing();
}
