/* jsonio.h: the edge where untrusted JSON enters creditd.
 *
 * Parses a request body (already size-capped) into a jansson object and
 * checks it against a per-route table of fields: unknown fields, wrong
 * types, floats or strings where integers belong, out-of-range numbers,
 * over-long or NUL-carrying strings are all rejected with a sentence and
 * the name of the offending field. Nothing past this edge re-checks types. */
#ifndef CREDITD_JSONIO_H
#define CREDITD_JSONIO_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum jtype {
	J_INT,		/* JSON integer within [min, max] */
	J_STR,		/* string, byte length within [min, max], no NUL, no control chars */
	J_TEXT,		/* J_STR counted in characters: a text column's (VARCHAR counts characters) */
	J_BOOL,
	J_TIME,		/* RFC 3339 string */
	J_ENUM,		/* string, one of `choices` ("a|b|c") */
	J_ARRAY,	/* array of at most `max` items; the caller checks the items */
	J_OBJECT	/* a JSON object; the caller checks its members (jsonio_validate) */
};

struct jfield {
	const char *name;
	enum jtype type;
	int required;
	int nullable;		/* JSON null accepted (means "unset") */
	int64_t min, max;
	const char *choices;
};

struct jerr {
	char message[256];
	char param[80];		/* "" when no single field is to blame */
};

/* Parses `body` as one JSON object. Returns a new reference (caller
 * json_decref's it) or NULL with e filled. */
json_t *jsonio_parse_object(const char *body, size_t len, struct jerr *e);
/* Checks obj against the NULL-name-terminated table. 0 or -1 with e. */
int jsonio_validate(json_t *obj, const struct jfield *fields, struct jerr *e);
/* A JSON string of s for a message that may quote what a client sent:
 * when s is not valid UTF-8 its bytes above 0x7f become '?'. New
 * reference, NULL only when memory runs out. */
json_t *jsonio_text(const char *s);
/* 1 when v is one of choices ("a|b|c"), for J_ENUM and the config's enums. */
int jsonio_choice(const char *choices, const char *v);
/* The characters of s, len bytes of valid UTF-8 (as jansson keeps every
 * string it parsed): the bytes that begin one. J_TEXT counts them. */
size_t jsonio_chars(const char *s, size_t len);
/* Checks a string the way J_STR does (used for path segments). 0 or -1. */
int jsonio_check_text(const char *s, size_t len, size_t min, size_t max);

/* Typed getters for validated objects. Borrowed pointers live as long as obj. */
int64_t jsonio_int(json_t *obj, const char *name, int64_t def);
/* 1 when the field is present and not null. */
int jsonio_has(json_t *obj, const char *name);
const char *jsonio_str(json_t *obj, const char *name);	/* NULL when absent or null */
int jsonio_bool(json_t *obj, const char *name, int def);
/* A JSON number as decimal text: an integer as written, a real as the
 * shortest text that reads back as the same double (what a catalogue
 * wrote: 2.5e-06, not 2.5000000000000002e-06). 0, or -1 when v is no
 * number or cap is too small. */
int jsonio_number_text(const json_t *v, char *buf, size_t cap);

/* Serialises compactly; caller frees. NULL on allocation failure. */
char *jsonio_dump(const json_t *v);
#endif
