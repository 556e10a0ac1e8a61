/* store_sqlsplit.c: the statements of a migration script, found by a small
 * lexer and, inside stored programs, a stack of the blocks open (see
 * sqlsplit.h for the rules). It never changes or copies the script: a
 * statement is a slice of it, sent to the server as the file has it. */
#include "store_sqlsplit.h"
#include <string.h>
#include <strings.h>

enum tok_kind {
	TOK_END,		/* the end of the script */
	TOK_SPACE,		/* whitespace or a comment that is not run */
	TOK_WORD,		/* a keyword, a name or a number */
	TOK_OTHER,		/* a string, a quoted name, a variable, a sign */
	TOK_SEMI,
	TOK_OPEN_QUOTE,		/* a string or quoted name that never closes */
	TOK_OPEN_COMMENT,	/* a comment that never closes */
};

struct tok {
	enum tok_kind kind;
	size_t start, end;
};

enum block {
	BLOCK_NONE,
	BLOCK_BEGIN,
	BLOCK_CASE_EXPR,	/* CASE ... END inside an expression */
	BLOCK_CASE,		/* the CASE statement: CASE ... END CASE */
	BLOCK_IF,
	BLOCK_LOOP,
	BLOCK_WHILE,
	BLOCK_REPEAT,
	BLOCK_FOR,
};

/* What one statement's scan knows so far. */
struct scan {
	int started;		/* a byte of content was seen */
	int compound;		/* a stored program: ';' inside its blocks goes on */
	size_t start, end;	/* its content, first byte to one past the last */
	unsigned line;
	int at_start;		/* the next word may begin a statement of a body */
	int after_dot;		/* the next word is a qualified name (NEW.end) */
	int parens;		/* '(' not closed yet */
	int depth;
	unsigned char blocks[LIMIT_SQL_BLOCK_DEPTH];
};

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Bytes of unquoted names and keywords; bytes past ASCII are UTF-8 names. */
static int is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
	       c >= 0x80;
}

/* One past the quote that closes the one at pos, or 0 when none does.
 * A doubled quote stands for itself; in strings a backslash escapes. */
static size_t quote_end(const char *t, size_t len, size_t pos)
{
	char q = t[pos];
	for (size_t i = pos + 1; i < len; i++) {
		if (t[i] == '\\' && q != '`') {
			i++;
			continue;
		}
		if (t[i] != q)
			continue;
		if (i + 1 < len && t[i + 1] == q) {
			i++;
			continue;
		}
		return i + 1;
	}
	return 0;
}

/* One past the end of the C-style comment at pos, or 0 when it never ends. */
static size_t comment_end(const char *t, size_t len, size_t pos)
{
	for (size_t i = pos + 2; i + 1 < len; i++)
		if (t[i] == '*' && t[i + 1] == '/')
			return i + 2;
	return 0;
}

/* '#', or "--" before whitespace, a control byte or the end: MariaDB's
 * line comments ("1--1" is arithmetic). */
static int line_comment(const char *t, size_t len, size_t pos)
{
	if (t[pos] == '#')
		return 1;
	return t[pos] == '-' && pos + 1 < len && t[pos + 1] == '-' &&
	       (pos + 2 == len || (unsigned char)t[pos + 2] <= ' ');
}

/* One past a variable (@name, @@name, @'name'), or 0 for an open quote. */
static size_t variable_end(const char *t, size_t len, size_t pos)
{
	size_t i = pos + 1;
	if (i < len && t[i] == '@')
		i++;
	if (i < len && (t[i] == '\'' || t[i] == '"' || t[i] == '`'))
		return quote_end(t, len, i);
	while (i < len && is_word_byte((unsigned char)t[i]))
		i++;
	return i;
}

static struct tok lex(const char *t, size_t len, size_t pos)
{
	struct tok k = {TOK_OTHER, pos, pos + 1};
	if (pos >= len)
		return (struct tok){TOK_END, pos, pos};
	unsigned char c = (unsigned char)t[pos];
	if (is_space(c)) {
		k.kind = TOK_SPACE;
		while (k.end < len && is_space((unsigned char)t[k.end]))
			k.end++;
	} else if (line_comment(t, len, pos)) {
		k.kind = TOK_SPACE;
		while (k.end < len && t[k.end] != '\n')
			k.end++;
	} else if (c == '/' && pos + 1 < len && t[pos + 1] == '*') {
		k.end = comment_end(t, len, pos);
		int run = pos + 2 < len && (t[pos + 2] == '!' || (t[pos + 2] == 'M' && pos + 3 < len && t[pos + 3] == '!'));
		k.kind = k.end == 0 ? TOK_OPEN_COMMENT : run ? TOK_OTHER : TOK_SPACE;
	} else if (c == '\'' || c == '"' || c == '`' || c == '@') {
		k.end = c == '@' ? variable_end(t, len, pos) : quote_end(t, len, pos);
		if (k.end == 0)
			k.kind = TOK_OPEN_QUOTE;
	} else if (is_word_byte(c)) {
		k.kind = TOK_WORD;
		while (k.end < len && is_word_byte((unsigned char)t[k.end]))
			k.end++;
	} else if (c == ';') {
		k.kind = TOK_SEMI;
	} else if (c == ':' && pos + 1 < len && t[pos + 1] == '=') {
		k.end = pos + 2;	/* ":=" is no label's ':' */
	}
	if (k.kind == TOK_OPEN_QUOTE || k.kind == TOK_OPEN_COMMENT)
		k.end = len;
	return k;
}

/* The next token at *pos that is not whitespace or a comment; *pos moves
 * past it. */
static struct tok next_content(const char *t, size_t len, size_t *pos)
{
	struct tok k = lex(t, len, *pos);
	while (k.kind == TOK_SPACE)
		k = lex(t, len, k.end);
	*pos = k.end;
	return k;
}

static int word_is(const char *t, struct tok k, const char *keyword)
{
	size_t n = strlen(keyword);
	return k.kind == TOK_WORD && k.end - k.start == n && strncasecmp(t + k.start, keyword, n) == 0;
}

static int sign_is(const char *t, struct tok k, char c)
{
	return k.kind == TOK_OTHER && k.end - k.start == 1 && t[k.start] == c;
}

/* After DEFINER: "= user[@host]" (names quoted or not) or
 * "= CURRENT_USER[()]"; the token after it. */
static struct tok skip_definer(const char *t, size_t len, size_t *pos)
{
	struct tok k = next_content(t, len, pos);
	if (!sign_is(t, k, '='))
		return k;
	next_content(t, len, pos);	/* the user */
	k = next_content(t, len, pos);
	if (sign_is(t, k, '(')) {
		next_content(t, len, pos);
		k = next_content(t, len, pos);
	}
	if (k.kind == TOK_OTHER && t[k.start] == '@') {
		int bare = k.end - k.start == 1;	/* "user @ host" */
		k = next_content(t, len, pos);
		if (bare)
			k = next_content(t, len, pos);
	}
	return k;
}

/* Does the statement whose first word is at pos make a stored program? */
static int opens_program(const char *t, size_t len, size_t pos)
{
	struct tok w = next_content(t, len, &pos);
	if (word_is(t, w, "BEGIN"))
		return word_is(t, next_content(t, len, &pos), "NOT");
	if (!word_is(t, w, "CREATE"))
		return 0;
	w = next_content(t, len, &pos);
	if (word_is(t, w, "OR")) {
		if (!word_is(t, next_content(t, len, &pos), "REPLACE"))
			return 0;
		w = next_content(t, len, &pos);
	}
	if (word_is(t, w, "DEFINER"))
		w = skip_definer(t, len, &pos);
	if (word_is(t, w, "AGGREGATE"))
		w = next_content(t, len, &pos);
	return word_is(t, w, "PROCEDURE") || word_is(t, w, "FUNCTION") || word_is(t, w, "TRIGGER") ||
	       word_is(t, w, "EVENT");
}

/* The block word k opens, if any. BEGIN, LOOP and WHILE are reserved for
 * that; IF, REPEAT, FOR and a CASE statement must begin a statement. */
static enum block opener(const char *t, struct tok k, int at_start, int parens)
{
	if (word_is(t, k, "CASE"))
		return at_start && parens == 0 ? BLOCK_CASE : BLOCK_CASE_EXPR;
	if (parens > 0)
		return BLOCK_NONE;
	if (word_is(t, k, "BEGIN"))
		return BLOCK_BEGIN;
	if (word_is(t, k, "LOOP"))
		return BLOCK_LOOP;
	if (word_is(t, k, "WHILE"))
		return BLOCK_WHILE;
	if (!at_start)
		return BLOCK_NONE;
	if (word_is(t, k, "IF"))
		return BLOCK_IF;
	if (word_is(t, k, "REPEAT"))
		return BLOCK_REPEAT;
	if (word_is(t, k, "FOR"))
		return BLOCK_FOR;
	return BLOCK_NONE;
}

/* The block "END <k>" closes: BLOCK_NONE when k is not one of those words
 * (a label, or the next statement), which makes it a plain END. */
static enum block closer(const char *t, struct tok k)
{
	static const struct {
		const char *word;
		enum block block;
	} words[] = {{"IF", BLOCK_IF}, {"CASE", BLOCK_CASE}, {"LOOP", BLOCK_LOOP}, {"WHILE", BLOCK_WHILE},
		     {"REPEAT", BLOCK_REPEAT}, {"FOR", BLOCK_FOR}};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (word_is(t, k, words[i].word))
			return words[i].block;
	return BLOCK_NONE;
}

/* Words after which a statement of a body may begin, when the innermost
 * block is not a CASE expression (whose THEN and ELSE take expressions). */
static int starts_body(const char *t, struct tok k)
{
	static const char *const words[] = {"BEGIN", "THEN", "ELSE", "DO", "LOOP", "REPEAT", "ROW", "ATOMIC"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (word_is(t, k, words[i]))
			return 1;
	return 0;
}

/* An END at *end: closes the innermost block, which must be the one it
 * names; *end moves past the word that names it. An END inside
 * parentheses that closes no CASE expression is a name. */
static enum sqlsplit_err close_block(const struct sqlsplit *sp, struct scan *s, size_t *end)
{
	enum block top = s->depth > 0 ? (enum block)s->blocks[s->depth - 1] : BLOCK_NONE;
	enum block named = BLOCK_BEGIN;
	if (s->parens > 0 && top != BLOCK_CASE_EXPR)
		return SQLSPLIT_OK;
	if (top == BLOCK_CASE_EXPR) {
		named = BLOCK_CASE_EXPR;
	} else {
		size_t p = *end;
		struct tok w = next_content(sp->text, sp->len, &p);
		enum block b = closer(sp->text, w);
		if (b != BLOCK_NONE) {
			named = b;
			*end = w.end;
		}
	}
	if (top != named)
		return SQLSPLIT_E_END;
	s->depth--;
	return SQLSPLIT_OK;
}

/* Follows a stored program's blocks through one token of content; *end
 * is where the token ends, moved past the word after an END. */
static enum sqlsplit_err program_token(const struct sqlsplit *sp, struct scan *s, struct tok k, size_t *end)
{
	const char *t = sp->text;
	int at_start = s->at_start, after_dot = s->after_dot;
	s->at_start = 0;
	s->after_dot = sign_is(t, k, '.');
	if (k.kind == TOK_SEMI || sign_is(t, k, ':')) {
		s->at_start = s->parens == 0;
		return SQLSPLIT_OK;
	}
	if (sign_is(t, k, '(')) {
		s->parens++;
		return SQLSPLIT_OK;
	}
	if (sign_is(t, k, ')')) {
		if (s->parens > 0)
			s->parens--;
		return SQLSPLIT_OK;
	}
	if (k.kind != TOK_WORD || after_dot)
		return SQLSPLIT_OK;
	if (word_is(t, k, "END"))
		return close_block(sp, s, end);
	enum block b = opener(t, k, at_start, s->parens);
	if (b != BLOCK_NONE) {
		if (s->depth == LIMIT_SQL_BLOCK_DEPTH)
			return SQLSPLIT_E_DEPTH;
		s->blocks[s->depth++] = (unsigned char)b;
	}
	s->at_start = s->parens == 0 && starts_body(t, k) &&
		      (s->depth == 0 || s->blocks[s->depth - 1] != BLOCK_CASE_EXPR);
	return SQLSPLIT_OK;
}

/* Moves sp to pos, counting the lines passed. */
static void advance(struct sqlsplit *sp, size_t pos)
{
	for (size_t i = sp->pos; i < pos; i++)
		if (sp->text[i] == '\n')
			sp->line++;
	sp->pos = pos;
}

/* Takes one token of content (and, after an END, the word it names). */
static enum sqlsplit_err take(struct sqlsplit *sp, struct scan *s, struct tok k)
{
	enum sqlsplit_err e = SQLSPLIT_OK;
	size_t end = k.end;
	if (!s->started) {
		s->started = 1;
		s->start = k.start;
		s->line = sp->line;
		if (word_is(sp->text, k, "DELIMITER"))
			return SQLSPLIT_E_DELIMITER;
		s->compound = k.kind == TOK_WORD && opens_program(sp->text, sp->len, k.start);
	}
	if (s->compound)
		e = program_token(sp, s, k, &end);
	if (e != SQLSPLIT_OK)
		return e;
	s->end = end;
	advance(sp, end);
	return SQLSPLIT_OK;
}

static int fail(struct sqlsplit *sp, enum sqlsplit_err e, unsigned line)
{
	sp->err = e;
	sp->err_line = line;
	return -1;
}

static int emit(const struct sqlsplit *sp, const struct scan *s, struct sqlsplit_stmt *out)
{
	out->text = sp->text + s->start;
	out->len = s->end - s->start;
	out->line = s->line;
	return 1;
}

void store_sqlsplit_init(struct sqlsplit *sp, const char *text, size_t len)
{
	memset(sp, 0, sizeof(*sp));
	sp->text = text;
	sp->len = len;
	sp->line = 1;
}

int store_sqlsplit_next(struct sqlsplit *sp, struct sqlsplit_stmt *out)
{
	struct scan s;
	memset(&s, 0, sizeof(s));
	if (sp->err != SQLSPLIT_OK)
		return -1;
	for (;;) {
		struct tok k = lex(sp->text, sp->len, sp->pos);
		if (k.kind == TOK_OPEN_QUOTE || k.kind == TOK_OPEN_COMMENT)
			return fail(sp, k.kind == TOK_OPEN_QUOTE ? SQLSPLIT_E_QUOTE : SQLSPLIT_E_COMMENT, sp->line);
		if (k.kind == TOK_END) {
			if (s.started && s.depth > 0)
				return fail(sp, SQLSPLIT_E_OPEN, s.line);
			return s.started ? emit(sp, &s, out) : 0;
		}
		if (k.kind == TOK_SPACE || (k.kind == TOK_SEMI && (!s.compound || s.depth == 0))) {
			advance(sp, k.end);
			if (k.kind == TOK_SEMI && s.started)
				return emit(sp, &s, out);
			continue;
		}
		enum sqlsplit_err e = take(sp, &s, k);
		if (e != SQLSPLIT_OK)
			return fail(sp, e, sp->line);
	}
}

const char *store_sqlsplit_strerror(enum sqlsplit_err err)
{
	switch (err) {
	case SQLSPLIT_OK:
		return "no error";
	case SQLSPLIT_E_QUOTE:
		return "a string or quoted name is not closed";
	case SQLSPLIT_E_COMMENT:
		return "a comment is not closed";
	case SQLSPLIT_E_OPEN:
		return "a block of this stored program has no END";
	case SQLSPLIT_E_END:
		return "this END does not close the innermost block";
	case SQLSPLIT_E_DEPTH:
		return "blocks are nested too deep";
	case SQLSPLIT_E_DELIMITER:
		return "DELIMITER is a command of the mysql client, not SQL";
	}
	return "unknown error";
}
