/* urlpath.h: percent-decoding, route pattern matching and query-string
 * lookup: the one place a URL's bytes are turned into strings.
 *
 * Pure functions over caller buffers: no allocation, no I/O, nothing of
 * FastCGI, JSON or the ledger, so the router, the handlers and the unit
 * tests share one set of rules. Those rules: '%' must be followed by two
 * hex digits (either case); "%00" is refused, because a decoded NUL would
 * cut a C string short and let two different URLs name the same thing;
 * '+' is a space only in query strings; a result that does not fit the
 * caller's buffer is refused, never truncated. */
#ifndef CREDITD_URLPATH_H
#define CREDITD_URLPATH_H
#include <stddef.h>
#include "limits.h"

/* Bytes of a decoded '*' segment with its NUL: decoding never lengthens a
 * segment, and a segment is never longer than the path it comes from. */
#define URLPATH_PARAM_BYTES (LIMIT_PATH_BYTES + 1)

enum urlpath_plus {
	URLPATH_PLUS_LITERAL,	/* path segments: '+' stays '+' */
	URLPATH_PLUS_SPACE,	/* query strings (form encoding): '+' is ' ' */
};

/* Results of urlpath_match. */
enum urlpath_result {
	URLPATH_MALFORMED = -1,	/* a segment a '*' reached is badly encoded */
	URLPATH_NO_MATCH = 0,
	URLPATH_MATCH = 1,
};

/* The value 0-15 of a hex digit of either case, or -1. The one hex-digit
 * reader of creditd (webhook signatures use it too); inline so a file
 * built alone, like the webhook fuzz target, need not link urlpath.c. */
static inline int urlpath_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes the n bytes at s into out, NUL-terminated (cap counts
 * the NUL). Returns 0, or -1 when a '%' is not followed by two hex digits,
 * when it decodes to NUL, or when the result does not fit; out is then
 * unspecified. s needs no NUL; out belongs to the caller. */
int urlpath_decode(const char *s, size_t n, enum urlpath_plus plus, char *out, size_t cap);

/* Matches a percent-encoded path against a route pattern, byte for byte,
 * where each '*' matches one non-empty run of bytes up to the next '/' or
 * the end. The runs are decoded (URLPATH_PLUS_LITERAL) into params[0],
 * params[1], ... in order; at most max_params of them, a pattern needing
 * more does not match. *nparams says how many were filled, whatever the
 * result. A segment is decoded as soon as the matcher reaches it, so a
 * malformed one gives URLPATH_MALFORMED even if the rest of the path would
 * not have matched: a badly encoded id is a 400, not a 404. params are the
 * caller's, each URLPATH_PARAM_BYTES long; a decoded segment too long for
 * them (a path over LIMIT_PATH_BYTES) counts as malformed. */
enum urlpath_result urlpath_match(const char *pattern, const char *path, char params[][URLPATH_PARAM_BYTES],
				  int max_params, int *nparams);

/* Finds the first "name=value" in a raw query string ("a=1&b=2", without
 * '?'; NULL is taken as "") and decodes its value (URLPATH_PLUS_SPACE) into
 * out, cap bytes with the NUL. The name is compared as sent, undecoded; a
 * "name" without '=' does not count. Returns 1 found (the value may be
 * ""), 0 absent, -1 when that first value is malformed or does not fit. */
int urlpath_query_get(const char *query, const char *name, char *out, size_t cap);
/* Percent-encodes s (NUL-terminated) into out, cap bytes with the NUL:
 * every byte but RFC 3986's unreserved ones (letters, digits, "-._~")
 * as %XX, so the result is one path segment or one query name or value
 * whatever s holds. 0, or -1 when it does not fit (never cut short). */
int urlpath_encode(const char *s, char *out, size_t cap);
/* 1 when url is https:// with a host, or http:// to 127.0.0.1, [::1] or
 * localhost (a port allowed): what creditd calls outbound (the LLM
 * providers; loopback http for local stand-ins). */
int urlpath_https_or_loopback(const char *url);

#endif
