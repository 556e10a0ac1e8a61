/* store_sqlsplit.h: splits a migration script (sql/NNN_name.sql) into its
 * statements, so that each is sent alone and no connection has to accept
 * multi-statement text.
 *
 * Pure: no allocation, no I/O, nothing of MariaDB; the statements point
 * into the caller's text. It knows as much of MariaDB's lexical rules as
 * finding the ';' that ends a statement takes: whitespace, "-- " and '#'
 * line comments, C-style comments (those whose text starts with '!' or
 * 'M!' are run by the server, so they count as content), '...' and "..."
 * strings (doubled quotes and backslash escapes), `...` names (doubled
 * backquotes), and stored programs, whose bodies hold ';' that do not end
 * them. A statement that is CREATE [OR REPLACE] [DEFINER = ...]
 * [AGGREGATE] PROCEDURE, FUNCTION, TRIGGER or EVENT, or BEGIN NOT ATOMIC,
 * ends at the first ';' outside its blocks: BEGIN ... END, IF ... END IF,
 * CASE ... END CASE, LOOP, WHILE, REPEAT and FOR ... END LOOP, WHILE,
 * REPEAT or FOR, and CASE expressions, which end with a plain END.
 *
 * IF, REPEAT, FOR and a CASE statement open a block only where a statement
 * of the body can begin (after ';', BEGIN, THEN, ELSE, DO, LOOP, REPEAT,
 * a label's ':' or a trigger's FOR EACH ROW): that tells them from the
 * IF() and REPEAT() functions, IF [NOT] EXISTS, FOR UPDATE and CASE
 * expressions. So a handler, or a trigger with FOLLOWS, whose whole body
 * is one IF must wrap it in BEGIN ... END. Every END must close the
 * innermost block; a script where one does not is refused, as is one that
 * ends inside a string, a comment or a block, or that uses the mysql
 * client's DELIMITER command (not SQL). Splitting a script whole before
 * running any of it keeps a refused one from being applied in part. */
#ifndef CREDITD_SQLSPLIT_H
#define CREDITD_SQLSPLIT_H
#include <stddef.h>
#include "limits.h"

/* Why a script cannot be split (store_sqlsplit_strerror words each). */
enum sqlsplit_err {
	SQLSPLIT_OK = 0,
	SQLSPLIT_E_QUOTE,	/* a string or quoted name is still open at the end */
	SQLSPLIT_E_COMMENT,	/* a C-style comment is still open at the end */
	SQLSPLIT_E_OPEN,	/* a stored program's block has no END by the end */
	SQLSPLIT_E_END,		/* an END that does not close the innermost block */
	SQLSPLIT_E_DEPTH,	/* blocks nested deeper than LIMIT_SQL_BLOCK_DEPTH */
	SQLSPLIT_E_DELIMITER,	/* the mysql client's DELIMITER command */
};

/* A split in progress. The fields are sqlsplit.c's; they are here so
 * that a caller can keep one on its stack. */
struct sqlsplit {
	const char *text;	/* the script, not owned */
	size_t len;
	size_t pos;		/* where the next statement is looked for */
	unsigned line;		/* the line (from 1) pos is on */
	enum sqlsplit_err err;	/* once set, every later call fails */
	unsigned err_line;	/* where the error was found */
};

/* One statement: from its first byte that is not whitespace or a comment
 * to its last, without the ';' that ends it. Points into the script (not
 * NUL-terminated) and lives as long as the script does. */
struct sqlsplit_stmt {
	const char *text;
	size_t len;
	unsigned line;		/* the line (from 1) it begins on */
};

/* Starts splitting len bytes of text (which must outlive the split). */
void store_sqlsplit_init(struct sqlsplit *sp, const char *text, size_t len);
/* The next statement into *out: 1; 0 when there are no more (statements
 * of only whitespace and comments are skipped); -1 when the script cannot
 * be split (sp->err, sp->err_line say why and where). */
int store_sqlsplit_next(struct sqlsplit *sp, struct sqlsplit_stmt *out);
/* A sentence for err; static. */
const char *store_sqlsplit_strerror(enum sqlsplit_err err);
#endif
