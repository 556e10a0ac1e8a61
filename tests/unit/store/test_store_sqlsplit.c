/* test_sqlsplit.c: migration scripts split where MariaDB ends their
 * statements: not at ';' in strings, names, comments or the blocks of a
 * stored program; malformed scripts are refused with the line at fault;
 * and every migration in sql/ splits into the statements it has
 * (the files cannot change once applied, so these counts never should). */
#include "store_sqlsplit.h"
#include "tap.h"
#include "unit/srcfile.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#define MAX_STMTS 64
#define STMT_BYTES 2048

/* The statements of text as NUL-terminated copies in out[]; their count,
 * or -1 when the script is refused (*err, *line say why and where). */
static int split(const char *text, char out[][STMT_BYTES], enum sqlsplit_err *err, unsigned *line)
{
	struct sqlsplit sp;
	struct sqlsplit_stmt st;
	int n = 0;
	store_sqlsplit_init(&sp, text, strlen(text));
	for (;;) {
		int r = store_sqlsplit_next(&sp, &st);
		if (r == 0)
			return n;
		if (r < 0) {
			*err = sp.err;
			*line = sp.err_line;
			return -1;
		}
		if (n < MAX_STMTS)
			snprintf(out[n], STMT_BYTES, "%.*s", (int)st.len, st.text);
		n++;
	}
}

static char got[MAX_STMTS][STMT_BYTES];

static int count(const char *text)
{
	enum sqlsplit_err err = SQLSPLIT_OK;
	unsigned line = 0;
	return split(text, got, &err, &line);
}

static void test_plain(void)
{
	is_int(count(""), 0, "an empty script has no statements");
	is_int(count("  \n-- only a comment\n/* and another */ ;;\n# and a hash one\n"), 0,
	       "statements of only whitespace and comments are skipped");
	is_int(count("SELECT 1;SELECT 2"), 2, "the last statement needs no ';'");
	is_str(got[1], "SELECT 2", "the last statement");
	is_int(count("\n\n  -- why\n  SELECT 1 -- trailing\n  ;\n"), 1, "one statement among comments");
	is_str(got[0], "SELECT 1", "leading and trailing comments and space are not part of it");
	is_int(count("SELECT 'a;b', \"c;d\", `e;f`; SELECT 2"), 2, "';' inside strings and quoted names");
	is_str(got[0], "SELECT 'a;b', \"c;d\", `e;f`", "quotes kept as they are");
	is_int(count("SELECT 'it''s;', 'a\\';b', \"x\"\";\", `n``;`; SELECT 2"), 2,
	       "doubled quotes and backslash escapes");
	is_int(count("SELECT '\\\\'; SELECT 2"), 2, "an escaped backslash ends before the quote");
	is_int(count("SELECT 1 /* a; b */ + 2; SELECT 3"), 2, "';' inside a C-style comment");
	is_int(count("SELECT 1 -- a; b\n; SELECT 3 # c; d\n; SELECT 4"), 3, "';' inside line comments");
	is_int(count("SELECT 1--1;SELECT 2"), 2, "\"--\" before a digit is no comment");
	is_str(got[0], "SELECT 1--1", "\"1--1\" is arithmetic");
	is_int(count("/*!40101 SET NAMES utf8mb4 */;"), 1, "a comment the server runs is a statement");
	is_int(count("SET @a := 'x;y', @`b;c` = 1, @'d;e' = 2; SELECT @a"), 2, "variables with quoted names");
	is_int(count("SELECT 1;\n\nSELECT\n2;"), 2, "two statements");
	is_str(got[1], "SELECT\n2", "a statement over two lines");
}

static void test_lines(void)
{
	struct sqlsplit sp;
	struct sqlsplit_stmt st;
	const char *text = "-- one\nSELECT 1;\n\n/* four\nfive */ SELECT 'six\nseven';\nSELECT 8";
	store_sqlsplit_init(&sp, text, strlen(text));
	unsigned want[] = {2, 5, 7};
	for (int i = 0; i < 3; i++) {
		is_int(store_sqlsplit_next(&sp, &st), 1, "statement %d", i + 1);
		is_int(st.line, want[i], "statement %d begins on line %u", i + 1, want[i]);
	}
	is_int(store_sqlsplit_next(&sp, &st), 0, "then no more");
	is_int(store_sqlsplit_next(&sp, &st), 0, "and still no more");
}

static const char proc[] = "CREATE PROCEDURE p(IN a INT)\n"
			   "  MODIFIES SQL DATA\n"
			   "BEGIN\n"
			   "  DECLARE v INT DEFAULT a;\n"
			   "  DECLARE EXIT HANDLER FOR 1062\n"
			   "  BEGIN\n"
			   "    IF a THEN ROLLBACK; END IF;\n"
			   "  END;\n"
			   "  burn: LOOP\n"
			   "    IF v <= 0 THEN LEAVE burn; END IF;\n"
			   "    SET v = v - IF(v > 1, 2, 1), @s = REPEAT('x;', 2);\n"
			   "  END LOOP burn;\n"
			   "  WHILE v < 3 DO SET v = v + 1; END WHILE;\n"
			   "  REPEAT SET v = v - 1; UNTIL v = 0 END REPEAT;\n"
			   "  CASE a WHEN 1 THEN SELECT 1; ELSE BEGIN END; END CASE;\n"
			   "  SET v = CASE WHEN a THEN IF(a, 1, 2) ELSE 0 END;\n"
			   "  SELECT (CASE a WHEN 1 THEN 'one;' END) FROM t WHERE x = 1 FOR UPDATE;\n"
			   "  IF NOT EXISTS (SELECT 1 FROM t) THEN\n"
			   "    DROP TABLE IF EXISTS u;\n"
			   "  ELSE IF a THEN SELECT 2; END IF;\n"
			   "  END IF;\n"
			   "  /* END; */ -- END;\n"
			   "END";

static void test_programs(void)
{
	char text[2048];
	snprintf(text, sizeof(text), "%s;\nSELECT 3;", proc);
	is_int(count(text), 2, "a procedure with nested blocks is one statement");
	is_str(got[0], proc, "the whole procedure, to its END");
	is_str(got[1], "SELECT 3", "the statement after it");
	static const char *const heads[] = {
		"CREATE OR REPLACE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END; SELECT 3",
		"CREATE DEFINER=`root`@`localhost` PROCEDURE p() BEGIN SELECT 1; END; SELECT 3",
		"create or replace definer = 'u'@'%' procedure p() begin select 1; end; select 3",
		"CREATE DEFINER=CURRENT_USER() FUNCTION f() RETURNS INT BEGIN RETURN 1; END; SELECT 3",
		"CREATE DEFINER = u@h AGGREGATE FUNCTION f(x INT) RETURNS INT BEGIN RETURN x; END; SELECT 3",
		"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; DELETE FROM u; END; SELECT 3",
		"CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.end = 2; END; SELECT 3",
		"CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW IF NEW.a THEN SET NEW.b = 1; END IF; SELECT 3",
		"BEGIN NOT ATOMIC DECLARE v INT; SET v = 1; END; SELECT 3",
		"CREATE FUNCTION f() RETURNS INT RETURN (SELECT end FROM t); SELECT 3",
		"CREATE PROCEDURE p() BEGIN lbl: FOR i IN 1..3 DO SELECT i; END FOR lbl; END; SELECT 3",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		ok(count(heads[i]) == 2 && strcasecmp(got[1], "SELECT 3") == 0, "split after the program: %.60s",
		   heads[i]);
	is_int(count("CREATE TRIGGER t BEFORE UPDATE ON j FOR EACH ROW\n"
		     "  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'append-only; really';\n"
		     "CREATE TRIGGER u BEFORE DELETE ON j FOR EACH ROW\n"
		     "  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'append-only';"),
	       2, "triggers without BEGIN end at their ';'");
	is_int(count("BEGIN; INSERT INTO t VALUES (1); COMMIT;"), 3, "BEGIN alone starts a transaction, not a block");
	is_int(count("CREATE TABLE event (begin INT, end INT); SELECT case when 1 then 2 end; DROP TABLE event;"), 3,
	       "keywords of blocks mean nothing outside stored programs");
}

static void refused(const char *text, enum sqlsplit_err want, unsigned want_line, const char *what)
{
	enum sqlsplit_err err = SQLSPLIT_OK;
	unsigned line = 0;
	is_int(split(text, got, &err, &line), -1, "refused: %s", what);
	is_int(err, want, "%s: %s", what, store_sqlsplit_strerror(err));
	is_int(line, want_line, "%s: on line %u", what, want_line);
}

static void test_refused(void)
{
	refused("SELECT 1;\nSELECT 'open;\n", SQLSPLIT_E_QUOTE, 2, "an open string");
	refused("SELECT `open;", SQLSPLIT_E_QUOTE, 1, "an open quoted name");
	refused("SELECT 'a\\'", SQLSPLIT_E_QUOTE, 1, "a string whose last quote is escaped");
	refused("SELECT 1;\n\n/* open; \n", SQLSPLIT_E_COMMENT, 3, "an open comment");
	refused("SELECT 1;\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n", SQLSPLIT_E_OPEN, 2, "a BEGIN without END");
	refused("CREATE PROCEDURE p()\nBEGIN\n  IF 1 THEN SELECT 1;\n  END;\nEND;", SQLSPLIT_E_END, 4,
		"END where END IF belongs");
	refused("CREATE PROCEDURE p() BEGIN\nLOOP SELECT 1; END WHILE;\nEND", SQLSPLIT_E_END, 2,
		"END WHILE closing a LOOP");
	refused("DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\n", SQLSPLIT_E_DELIMITER, 1, "DELIMITER");
	char deep[4096];
	size_t n = (size_t)snprintf(deep, sizeof(deep), "CREATE PROCEDURE p()\n");
	for (int i = 0; i <= LIMIT_SQL_BLOCK_DEPTH && n < sizeof(deep); i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "BEGIN ");
	refused(deep, SQLSPLIT_E_DEPTH, 2, "blocks past the limit");
}


/* Statements per file, counted by hand. A file not listed here (a newer
 * migration) is still checked for the rest. */
static const struct {
	const char *file;
	int statements;
} counted[] = {
	{"001_init.sql", 18}, {"002_procedures.sql", 4}, {"003_subscription_events.sql", 1},
	{"004_journal_keys.sql", 6}, {"005_drop_counters.sql", 1}, {"006_group_commit.sql", 4},
	{"007_promo_codes.sql", 2}, {"008_plans.sql", 1}, {"009_daily_limit.sql", 1}, {"010_plan_periods.sql", 4},
	{"011_events.sql", 5}, {"012_auto_recharge.sql", 2}, {"013_hold_output.sql", 1},
	{"014_pinned_prices.sql", 3}, {"015_rate_limits.sql", 3}, {"016_key_binding.sql", 1},
	{"017_stripe_trust.sql", 5}, {"018_limit_set_at.sql", 1}, {"019_dispute_recharges.sql", 2},
	{"024_retention.sql", 1}, {"025_usage_cover.sql", 1}, {"028_topup_attempts.sql", 1}, {"029_recharge_decided.sql", 2}, {"030_invoice_payments.sql", 3}, {"031_payg_tries.sql", 2}, {"033_invoice_payment_news.sql", 2},
	{"034_cache_writes_and_reasons.sql", 7},
	{"036_gateway_keys.sql", 1},
};

static int begins_with(const struct sqlsplit_stmt *st, const char *word)
{
	size_t n = strlen(word);
	return st->len > n && strncasecmp(st->text, word, n) == 0 && (st->text[n] == ' ' || st->text[n] == '\n');
}

/* Past whitespace and comments from p: an independent reading (no
 * quotes can occur between two statements). */
static const char *skip_blank(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*' && strstr(p + 2, "*/") != NULL) {
			p = strstr(p + 2, "*/") + 2;
		} else {
			return p;
		}
	}
}

/* Each statement begins with a verb, ends on content and is followed in
 * the file by its ';' (after at most whitespace and comments) or by the
 * end; a procedure ends with its END. Returns the count, or -1. */
static int check_file(const char *name, const char *text, size_t len)
{
	static const char *const verbs[] = {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "REPLACE",
					    "SET", "CALL", "RENAME", "TRUNCATE"};
	struct sqlsplit sp;
	struct sqlsplit_stmt st;
	int n = 0, bad = 0;
	store_sqlsplit_init(&sp, text, len);
	for (;;) {
		int r = store_sqlsplit_next(&sp, &st);
		if (r <= 0) {
			ok(r == 0, "%s splits (%s at line %u)", name, store_sqlsplit_strerror(sp.err), sp.err_line);
			return r == 0 && bad == 0 ? n : -1;
		}
		n++;
		int verb = 0;
		for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
			verb |= begins_with(&st, verbs[i]);
		const char *after = skip_blank(st.text + st.len);
		int ends = st.len > 0 && (unsigned char)st.text[st.len - 1] > ' ' && (*after == ';' || *after == '\0');
		int procedure = begins_with(&st, "CREATE") && (strncmp(skip_blank(st.text + 6), "PROCEDURE", 9) == 0 ||
							      strncmp(skip_blank(st.text + 6), "OR REPLACE PROCEDURE", 20) == 0);
		if (procedure)
			ends = ends && st.len >= 3 && strncmp(st.text + st.len - 3, "END", 3) == 0;
		if (!verb || !ends) {
			bad++;
			ok(0, "%s, statement %d (line %u) begins with a verb and ends at its ';': %.60s", name, n, st.line,
			   st.text);
		}
	}
}

static void test_files(void)
{
	char dir[1024], path[2048];
	snprintf(dir, sizeof(dir), "%s/sql", TOP_SRCDIR);
	DIR *d = opendir(dir);
	int files = 0, listed = 0;
	ok(d != NULL, "%s opened", dir);
	if (d == NULL)
		return;
	for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
		size_t nl = strlen(de->d_name), len = 0;
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".sql") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *text = src_slurp(path, &len);
		files++;
		ok(text != NULL && memchr(text, '\0', len) == NULL, "%s read", de->d_name);
		int n = text != NULL ? check_file(de->d_name, text, len) : -1;
		ok(n > 0, "%s has %d statements, each as it should be", de->d_name, n);
		for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
			if (strcmp(counted[i].file, de->d_name) != 0)
				continue;
			listed++;
			is_int(n, counted[i].statements, "%s: statements counted by hand", de->d_name);
		}
		free(text);
	}
	closedir(d);
	is_int(listed, (int)(sizeof(counted) / sizeof(counted[0])), "every file counted by hand was found");
	ok(files >= listed, "%d migrations checked", files);
}

int main(void)
{
	test_plain();
	test_lines();
	test_programs();
	test_refused();
	test_files();
	return done_testing();
}
