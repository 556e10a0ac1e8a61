/* test_columns.c: the columns the ledger reads (ledger_columns.h) are the
 * columns the batch procedures send, in the same order: the view
 * cd_account_rows and every list of cd_batch_read's "holds", "hold_reqs"
 * and "members" sets, as the newest migration defining each has them.
 * And the rows the batch writes (ledger_columns.h's *_TABLE lists) are read
 * by cd_write as those columns, position by position: every
 * statement of the procedure that takes a position of a list (by
 * JSON_VALUE of a lone row, or through a JSON_TABLE's PATH) puts it in
 * the column the list names there. A column added to a table of
 * ledger_columns.h without a migration that sends it (or the other way
 * round) fails here, not in production. */
#include "ledger_columns.h"
#include "tap.h"
#include "unit/srcfile.h"
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



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
		char *text = src_slurp(path, NULL);
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

/* ---- cd_write's reading of the rows ---- */

#define MAXCOLS 32
struct bw_list {
	const char *param;		/* the procedure's parameter */
	const char *names[MAXCOLS];	/* the C list's columns, by position */
	int n;				/* (counted from names) */
	int seen[MAXCOLS];		/* statements that took each position */
	int bad;
};

static int ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* The identifier ending just before p (spaces skipped), without a table
 * alias ("h.state" -> "state"); "v_id" is the row's id. */
static void ident_before(const char *start, const char *p, char *out, size_t cap)
{
	while (p > start && isspace((unsigned char)p[-1]))
		p--;
	const char *e = p;
	while (p > start && ident_char(p[-1]))
		p--;
	snprintf(out, cap, "%.*s", (int)(e - p), p);
	if (strcmp(out, "v_id") == 0)
		snprintf(out, cap, "id");
}

/* The column a value at `at` is set to or compared with ("col = at",
 * "x.col = UNHEX(at"): back over calls' names and '(' to an '='; 0 when
 * a ',', ';' or ')' comes first (an item of a list, not an assignment). */
static int assigned_col(const char *start, const char *at, char *col, size_t cap)
{
	const char *p = at;
	while (p > start && (ident_char(p[-1]) || p[-1] == '(' || isspace((unsigned char)p[-1])))
		p--;
	if (p == start || p[-1] != '=')
		return 0;
	ident_before(start, p - 1, col, cap);
	return col[0] != '\0';
}

static void take(struct bw_list *l, int k, const char *col, const char *how)
{
	if (k < 0 || k >= l->n) {
		ok(0, "%s: position %d (%s) is past the C list's %d", l->param, k, col, l->n);
		l->bad++;
		return;
	}
	l->seen[k]++;
	if (strcmp(l->names[k], col) != 0) {
		ok(0, "%s: position %d is read as %s (%s), the C list writes %s there", l->param, k, col, how,
		   l->names[k]);
		l->bad++;
	}
}

/* The top-level items of the parenthesised list at p (at '('), each
 * [start, end); the end of the list. */
static const char *split_items(const char *p, const char **starts, const char **ends, int *n, int cap)
{
	int depth = 0, quote = 0;
	*n = 0;
	const char *item = p + 1;
	for (; *p; p++) {
		if (*p == '\'')
			quote = !quote;
		if (quote)
			continue;
		if (*p == '(' && depth++ == 0) {
			item = p + 1;
		} else if (*p == ')' && --depth == 0) {
			if (*n < cap) {
				starts[*n] = item;
				ends[(*n)++] = p;
			}
			return p + 1;
		} else if (*p == ',' && depth == 1 && *n < cap) {
			starts[*n] = item;
			ends[(*n)++] = p;
			item = p + 1;
		}
	}
	return p;
}

/* The position k of the first "'$[k]'" (or "'$[0][k]'", a lone row read
 * from the list itself) inside [p, e); -1 when none. */
static int path_in(const char *p, const char *e)
{
	const char *q = NULL;
	for (const char *x = p; q == NULL && x + 3 < e; x++)
		if (strncmp(x, "'$[", 3) == 0)
			q = x + 3;
	if (q != NULL && strncmp(q, "0][", 3) == 0)
		q += 3;
	return q != NULL && *q >= '0' && *q <= '9' ? atoi(q) : -1;
}

/* A lone row: from each JSON_EXTRACT (or JSON_VALUE) of the list to the
 * block's END, the INSERT's columns paired with its VALUES, and every
 * "col = ...'$[k]'" of an UPDATE. */
static void lone_rows(const char *proc, struct bw_list *l)
{
	char head[128], col[128];
	for (int h = 0; h < 2; h++) {
		snprintf(head, sizeof(head), h == 0 ? "JSON_EXTRACT(%s, " : "JSON_VALUE(%s, '$[0][", l->param);
		for (const char *p = strstr(proc, head); p != NULL; p = strstr(p + 1, head)) {
			const char *end = strstr(p, "END ");
			const char *ins = strstr(p, "INSERT INTO");
			if (ins != NULL && ins < end) {
				const char *cs[MAXCOLS], *ce[MAXCOLS], *vs[MAXCOLS], *ve[MAXCOLS];
				int nc, nv;
				const char *after = split_items(strchr(ins, '('), cs, ce, &nc, MAXCOLS);
				split_items(strchr(strstr(after, "VALUES"), '('), vs, ve, &nv, MAXCOLS);
				ok(nc == nv, "%s: the lone row's INSERT has as many values as columns (%d, %d)", l->param,
				   nc, nv);
				for (int i = 0; i < nc && i < nv; i++) {
					int k = path_in(vs[i], ve[i]);
					ident_before(cs[i], ce[i], col, sizeof(col));
					if (k >= 0)
						take(l, k, col, "a lone row's INSERT");
				}
			}
			const char *stop = h == 0 ? end : strchr(p, ';');
			for (const char *q = strstr(p, "JSON_VALUE("); q != NULL && q < stop; q = strstr(q + 1, "JSON_VALUE(")) {
				const char *arg = q + 11;
				if ((strncmp(arg, "v_row,", 6) == 0 || (strncmp(arg, l->param, strlen(l->param)) == 0 &&
				     arg[strlen(l->param)] == ',')) && assigned_col(proc, q, col, sizeof(col)))
					take(l, path_in(q, strchr(q, ')')), col, "a lone row's SET");
			}
		}
	}
}

/* The items of [p, e) split at top-level commas. */
static int split_range(const char *p, const char *e, const char **starts, const char **ends, int cap)
{
	int depth = 0, n = 0;
	const char *item = p;
	for (; p < e; p++) {
		depth += *p == '(';
		depth -= *p == ')';
		if (*p == ',' && depth == 0 && n < cap) {
			starts[n] = item;
			ends[n++] = p;
			item = p + 1;
		}
	}
	if (n < cap) {
		starts[n] = item;
		ends[n++] = e;
	}
	return n;
}

/* The position of alias a (of length len) in a JSON_TABLE's COLUMNS. */
static int alias_pos(char aliases[][64], const int *pos, int n, const char *a, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(aliases[i]) == len && strncmp(aliases[i], a, len) == 0)
			return pos[i];
	return -1;
}

/* Rows through a JSON_TABLE of the list: its COLUMNS give each alias a
 * position; in the statement around it, "x.col = t.alias" (a SET or an
 * ON) and an INSERT's columns paired with its SELECT's items read that
 * position as that column. */
static void table_rows(const char *proc, struct bw_list *l)
{
	char head[128], col[128], aliases[MAXCOLS][64], t[16];
	int pos[MAXCOLS];
	snprintf(head, sizeof(head), "JSON_TABLE(%s, '$[*]' COLUMNS (", l->param);
	for (const char *p = strstr(proc, head); p != NULL; p = strstr(p + 1, head)) {
		const char *is[MAXCOLS], *ie[MAXCOLS];
		int ni, na = 0;
		const char *after = split_items(p + strlen(head) - 1, is, ie, &ni, MAXCOLS);
		for (int i = 0; i < ni; i++) {
			int k = path_in(is[i], ie[i]);
			const char *a = is[i];
			while (isspace((unsigned char)*a))
				a++;
			if (k < 0 || strstr(a, " PATH ") == NULL || strstr(a, " PATH ") > ie[i])
				continue;
			snprintf(aliases[na], sizeof(aliases[na]), "%.*s", (int)strcspn(a, " "), a);
			pos[na++] = k;
		}
		while (*after == ')' || isspace((unsigned char)*after))
			after++;
		snprintf(t, sizeof(t), "%.*s", (int)strcspn(after, " ;\n"), after);
		const char *start = p, *end = strchr(p, ';');
		while (start > proc && start[-1] != ';')
			start--;
		char pat[32];
		int pl = snprintf(pat, sizeof(pat), "%s.", t);
		for (const char *q = strstr(start, pat); q != NULL && q < end; q = strstr(q + 1, pat)) {
			const char *a = q + pl;
			int k = alias_pos(aliases, pos, na, a, strspn(a, "abcdefghijklmnopqrstuvwxyz_0123456789"));
			if (k >= 0 && !ident_char(q[-1]) && assigned_col(start, q, col, sizeof(col)))
				take(l, k, col, "a JSON_TABLE's SET or ON");
		}
		const char *ins = strstr(start, "INSERT INTO"), *sel = ins != NULL ? strstr(ins, "SELECT ") : NULL;
		const char *from = sel != NULL ? strstr(sel, "FROM JSON_TABLE") : NULL;
		const char *nested = sel != NULL ? strstr(sel + 1, "(SELECT") : NULL;
		if (ins == NULL || ins > p || sel == NULL || from == NULL || from + 5 != p || (nested != NULL && nested < p))
			continue;
		const char *cs[MAXCOLS], *ce[MAXCOLS], *vs[MAXCOLS], *ve[MAXCOLS];
		int nc, nv;
		split_items(strchr(ins, '('), cs, ce, &nc, MAXCOLS);
		nv = split_range(sel + 7, from, vs, ve, MAXCOLS);
		ok(nc == nv, "%s: the INSERT ... SELECT has as many items as columns (%d, %d)", l->param, nc, nv);
		pl = snprintf(pat, sizeof(pat), "%s.", t);
		for (int i = 0; i < nc && i < nv; i++) {
			const char *a = strstr(vs[i], pat);
			if (a == NULL || a > ve[i] || (a > vs[i] && ident_char(a[-1])))
				continue;
			int k = alias_pos(aliases, pos, na, a + pl, strspn(a + pl, "abcdefghijklmnopqrstuvwxyz_0123456789"));
			ident_before(cs[i], ce[i], col, sizeof(col));
			if (k >= 0)
				take(l, k, col, "an INSERT ... SELECT");
		}
	}
}

#define NAMES(table, ...) {table(COL_NAME, __VA_ARGS__)}, 0, {0}, 0

static void batch_write(void)
{
	char name[256];
	/* The one writer creditd calls is cd_write2 (sql/059 on; cd_write,
	 * sql/039 to 058, is kept for a creditd before it and calls it). */
	const char *what = "PROCEDURE cd_write2(";
	char *text = newest_with(what, name, sizeof(name));
	ok(text != NULL, "a migration defines cd_write2 (%s)", text != NULL ? name : "none");
	if (text == NULL)
		return;
	char *proc = strstr(text, what);
	char *end = strstr(proc, "\nEND;");
	if (end != NULL)
		*end = '\0';	/* the procedure alone: the file defines others after it */
	struct bw_list lists[] = {
		{"p_holds_new", NAMES(HOLDS_NEW_TABLE, acct, h)},
		{"p_usages_new", NAMES(USAGES_TABLE, acct, key, u, hash)},
		{"p_usages", NAMES(USAGES_TABLE, acct, key, u, hash)},
		{"p_holds_set", NAMES(HOLDS_SET_TABLE, h)},
		{"p_grants_set", NAMES(GRANTS_SET_TABLE, g)},
		{"p_debts", NAMES(DEBTS_TABLE, acct, g)},
		{"p_grants_new", NAMES(GRANTS_NEW_TABLE, acct, g)},
		{"p_journal", NAMES(JOURNAL_TABLE, acct, jl, after, key, actor)},
		{"p_members", NAMES(MEMBERS_TABLE, acct, m)},
		{"p_accounts", NAMES(ACCT_TABLE, a)},
		{"p_events", NAMES(EVENTS_TABLE, acct, ext, type, data)},
		{"p_recharges", NAMES(RECHARGES_TABLE, acct, cents)},
		{"p_alerts_set", NAMES(ALERTS_SET_TABLE, id, key)},
		{"p_alert_members_set", NAMES(ALERT_MEMBERS_SET_TABLE, alert, member, key)},
		{"p_alert_members_del", NAMES(ALERT_MEMBERS_DEL_TABLE, alert, member)},
	};
	for (unsigned int i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct bw_list *l = &lists[i];
		while (l->n < MAXCOLS && l->names[l->n] != NULL)
			l->n++;
		lone_rows(proc, l);
		table_rows(proc, l);
		int unread = -1, reads = 0;
		for (int k = l->n - 1; k >= 0; k--) {
			reads += l->seen[k];
			if (l->seen[k] == 0)
				unread = k;
		}
		ok(l->bad == 0 && unread < 0, "%s: the writer (%s) reads each of its %d positions as the C list's "
		   "column (%d reads)%s%s", l->param, name, l->n, reads, unread >= 0 ? "; never reads " : "",
		   unread >= 0 ? l->names[unread] : "");
	}
	free(text);
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
	batch_write();
	return done_testing();
}
