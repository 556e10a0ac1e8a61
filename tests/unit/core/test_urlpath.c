/* test_urlpath.c: route patterns match exactly what they should, and the
 * one percent-decoder refuses every malformed, NUL-bearing or over-long
 * input in paths and query strings alike. */
#include "urlpath.h"
#include "tap.h"
#include <string.h>

static char params[LIMIT_PATH_PARAMS][URLPATH_PARAM_BYTES];

static int match(const char *pattern, const char *path, int *nparams)
{
	memset(params, 0, sizeof(params));
	return urlpath_match(pattern, path, params, LIMIT_PATH_PARAMS, nparams);
}

static void test_match(void)
{
	int n = -1;
	is_int(match("/healthz", "/healthz", &n), URLPATH_MATCH, "exact path matches");
	is_int(n, 0, "an exact pattern captures nothing");
	is_int(match("/healthz", "/healthy", &n), URLPATH_NO_MATCH, "one byte off does not match");
	is_int(match("/v1/accounts/*", "/v1/accounts/acme", &n), URLPATH_MATCH, "'*' takes a segment");
	is_int(n, 1, "one segment captured");
	is_str(params[0], "acme", "the segment is handed over");
	is_int(match("/v1/accounts/*/members/*", "/v1/accounts/a/members/b", &n), URLPATH_MATCH, "two '*' segments");
	is_int(n, 2, "two segments captured");
	is_str(params[0], "a", "first segment");
	is_str(params[1], "b", "second segment");
	is_int(match("/v1/accounts/*", "/v1/accounts/", &n), URLPATH_NO_MATCH, "empty last segment refused");
	is_int(match("/v1/accounts/*/usage", "/v1/accounts//usage", &n), URLPATH_NO_MATCH,
	       "empty middle segment refused");
	is_int(match("/v1/accounts/*", "/v1/accounts/a/", &n), URLPATH_NO_MATCH, "trailing slash does not match");
	is_int(match("/healthz", "/healthz/", &n), URLPATH_NO_MATCH, "trailing slash on an exact path");
	is_int(match("/v1/accounts/*", "/v1/accounts/a/usage", &n), URLPATH_NO_MATCH,
	       "'*' does not swallow further segments");
	is_int(match("/v1/accounts/*/usage", "/v1/accounts/a", &n), URLPATH_NO_MATCH, "path shorter than pattern");
	is_int(match("/v1/accounts", "/v1/accounts/a", &n), URLPATH_NO_MATCH, "a pattern that is a prefix");
	is_int(match("/v1/accounts/*", "/v1/accounts", &n), URLPATH_NO_MATCH, "a path that is a prefix");
	is_int(match("/v1/guard/settle", "/v1/guard/settle%00", &n), URLPATH_NO_MATCH,
	       "bytes after an exact pattern are not decoded, just not matched");
	is_int(match("/*/*/*", "/a/b/c", &n), URLPATH_NO_MATCH, "more '*' than params allowed");
	is_int(urlpath_match("/x/*", "/x/a", params, 0, &n), URLPATH_NO_MATCH, "no params allowed, no '*' match");
	is_int(match("/v1/accounts/*", "/v1/accounts/a%2Fb", &n), URLPATH_MATCH, "%%2F stays inside its segment");
	is_str(params[0], "a/b", "%%2F decodes to '/'");
	is_int(match("/v1/accounts/*", "/v1/accounts/a+b", &n), URLPATH_MATCH, "'+' in a path");
	is_str(params[0], "a+b", "'+' stays '+' in a path");
	is_int(match("/v1/accounts/*", "/v1/accounts/%zz", &n), URLPATH_MALFORMED, "bad escape is malformed");
	is_int(match("/v1/accounts/*", "/v1/accounts/a%00b", &n), URLPATH_MALFORMED, "%%00 is malformed");
	is_int(match("/v1/accounts/*", "/v1/accounts/%zz/nope", &n), URLPATH_MALFORMED,
	       "a malformed segment is reported even when the rest would not match");
}

static int decode(const char *s, enum urlpath_plus plus, char *out, size_t cap)
{
	memset(out, 'X', cap);
	return urlpath_decode(s, strlen(s), plus, out, cap);
}

static void refused(const char *s, const char *why)
{
	char out[64];
	is_int(decode(s, URLPATH_PLUS_LITERAL, out, sizeof(out)), -1, "%s refused in a path", why);
	is_int(decode(s, URLPATH_PLUS_SPACE, out, sizeof(out)), -1, "%s refused in a query", why);
}

static void test_decode(void)
{
	char out[64];
	is_int(decode("plain", URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "plain text decodes");
	is_str(out, "plain", "plain text unchanged");
	is_int(decode("a%2Fb", URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "%%2F decodes");
	is_str(out, "a/b", "%%2F is '/'");
	is_int(decode("%c3%a9", URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "lower-case hex decodes");
	is_str(out, "\xc3\xa9", "lower-case hex bytes");
	is_int(decode("%C3%A9", URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "upper-case hex decodes");
	is_str(out, "\xc3\xa9", "upper-case hex bytes");
	is_int(decode("%7e%7E", URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "mixed case decodes");
	is_str(out, "~~", "mixed case bytes");
	is_int(decode("a+b%2B", URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "'+' in a path decodes");
	is_str(out, "a+b+", "'+' is literal in a path");
	is_int(decode("a+b%2B", URLPATH_PLUS_SPACE, out, sizeof(out)), 0, "'+' in a query decodes");
	is_str(out, "a b+", "'+' is a space in a query, %%2B a plus");
	is_int(decode("", URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "empty input decodes");
	is_str(out, "", "empty input gives an empty string");
	is_int(urlpath_decode("abcdef", 3, URLPATH_PLUS_LITERAL, out, sizeof(out)), 0, "a span decodes");
	is_str(out, "abc", "only the span's bytes are read");
	is_int(urlpath_decode("a%41", 2, URLPATH_PLUS_LITERAL, out, sizeof(out)), -1,
	       "a '%%' at the span's end is refused");
	is_int(urlpath_decode("a%41", 3, URLPATH_PLUS_LITERAL, out, sizeof(out)), -1,
	       "an escape cut after one digit by the span's end is refused");
	refused("%zz", "%zz");
	refused("a%", "a lone % at the end");
	refused("%0", "% with one digit");
	refused("%0g", "% with a bad second digit");
	refused("%+5", "% with a sign");
	refused("%-1", "% with a minus");
	refused("a%00b", "%00");
	is_int(decode("abcd", URLPATH_PLUS_LITERAL, out, 5), 0, "a result that just fits");
	is_str(out, "abcd", "fitting result intact");
	is_int(decode("abcde", URLPATH_PLUS_LITERAL, out, 5), -1, "one byte over is refused");
	is_int(decode("%41%42%43%44", URLPATH_PLUS_LITERAL, out, 5), 0, "escapes count decoded bytes");
	is_str(out, "ABCD", "decoded escapes fit");
	is_int(decode("a", URLPATH_PLUS_LITERAL, out, 0), -1, "no room at all is refused");
	char longer[URLPATH_PARAM_BYTES + 20];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	memcpy(longer, "/x/", 3);
	int n = 0;
	is_int(urlpath_match("/x/*", longer, params, LIMIT_PATH_PARAMS, &n), URLPATH_MALFORMED,
	       "a segment longer than the param buffer is refused");
}

static int query(const char *q, const char *name, char *out, size_t cap)
{
	memset(out, 'X', cap);
	return urlpath_query_get(q, name, out, cap);
}

static void test_query(void)
{
	char out[16];
	const char *q = "limit=5&cursor=txn_9&to=2026-01-01";
	is_int(query(q, "limit", out, sizeof(out)), 1, "first parameter found");
	is_str(out, "5", "first parameter value");
	is_int(query(q, "cursor", out, sizeof(out)), 1, "middle parameter found");
	is_str(out, "txn_9", "middle parameter value");
	is_int(query(q, "to", out, sizeof(out)), 1, "last parameter found");
	is_str(out, "2026-01-01", "last parameter value");
	is_int(query(q, "from", out, sizeof(out)), 0, "missing parameter absent");
	is_int(query("", "limit", out, sizeof(out)), 0, "empty query: absent");
	is_int(query(NULL, "limit", out, sizeof(out)), 0, "no query: absent");
	is_int(query("limitx=1&limit=2", "limit", out, sizeof(out)), 1, "a longer name is skipped");
	is_str(out, "2", "the exact name's value");
	is_int(query("lim=1&limit=2", "limit", out, sizeof(out)), 1, "a shorter name is skipped");
	is_str(out, "2", "the exact name's value, not its prefix's");
	is_int(query("limit=3", "lim", out, sizeof(out)), 0, "a name that is a prefix of another is absent");
	is_int(query("limit=&to=1", "limit", out, sizeof(out)), 1, "empty value found");
	is_str(out, "", "empty value is empty");
	is_int(query("limit&to=1", "limit", out, sizeof(out)), 0, "a name without '=' is absent");
	is_int(query("a=1&&limit=7", "limit", out, sizeof(out)), 1, "an empty pair is skipped");
	is_str(out, "7", "value after an empty pair");
	is_int(query("limit=1&limit=2", "limit", out, sizeof(out)), 1, "repeated name found");
	is_str(out, "1", "the first of a repeated name wins");
	is_int(query("group_by=a+b%26c", "group_by", out, sizeof(out)), 1, "encoded value found");
	is_str(out, "a b&c", "'+' is a space and %%26 an '&' in a query value");
	is_int(query("limit=%zz", "limit", out, sizeof(out)), -1, "bad escape is malformed");
	is_int(query("limit=%00", "limit", out, sizeof(out)), -1, "%%00 is malformed");
	is_int(query("limit=5%", "limit", out, sizeof(out)), -1, "a lone %% is malformed");
	is_int(query("limit=%zz&limit=5", "limit", out, sizeof(out)), -1, "the first occurrence decides");
	is_int(query("limit=123456789012345", "limit", out, sizeof(out)), 1, "value that just fits");
	is_str(out, "123456789012345", "fitting value intact");
	is_int(query("limit=1234567890123456", "limit", out, sizeof(out)), -1, "over-long value refused");
}

static void test_hex(void)
{
	is_int(urlpath_hex_value('0'), 0, "hex 0");
	is_int(urlpath_hex_value('9'), 9, "hex 9");
	is_int(urlpath_hex_value('a'), 10, "hex a");
	is_int(urlpath_hex_value('F'), 15, "hex F");
	is_int(urlpath_hex_value('g'), -1, "g is not hex");
	is_int(urlpath_hex_value('/'), -1, "'/' (below '0') is not hex");
	is_int(urlpath_hex_value(':'), -1, "':' (above '9') is not hex");
	is_int(urlpath_hex_value('@'), -1, "'@' (below 'A') is not hex");
	is_int(urlpath_hex_value('`'), -1, "'`' (below 'a') is not hex");
	is_int(urlpath_hex_value('\0'), -1, "NUL is not hex");
}

/* urlpath_encode: unreserved bytes as they are, every other as %XX;
 * never cut short. */
static void test_encode(void)
{
	char out[16], back[16];
	is_int(urlpath_encode("resp_AZaz09-._~", out, sizeof(out)), 0, "unreserved bytes fit");
	is_str(out, "resp_AZaz09-._~", "unreserved bytes kept");
	is_int(urlpath_encode("include[]", out, sizeof(out)), 0, "brackets encoded");
	is_str(out, "include%5B%5D", "'[' and ']' as %%5B %%5D");
	is_int(urlpath_encode("a/b?c&d", out, sizeof(out)), 0, "delimiters encoded");
	is_str(out, "a%2Fb%3Fc%26d", "'/', '?', '&' never reach a URL as such");
	is_int(urlpath_encode("\xc3\xa9 +", out, sizeof(out)), 0, "UTF-8 and a space");
	is_str(out, "%C3%A9%20%2B", "each byte as %%XX, a space as %%20, '+' as %%2B");
	is_int(urlpath_decode(out, strlen(out), URLPATH_PLUS_SPACE, back, sizeof(back)), 0, "it decodes");
	is_str(back, "\xc3\xa9 +", "back to what was encoded");
	is_int(urlpath_encode("abcdefghijklmno", out, sizeof(out)), 0, "15 bytes and the NUL fit 16");
	is_int(urlpath_encode("abcdefghijklmnop", out, sizeof(out)), -1, "16 do not: refused, not cut");
	is_int(urlpath_encode("abcdefghijklm/", out, sizeof(out)), -1, "an escape that would not fit: refused");
	is_int(urlpath_encode("", out, sizeof(out)), 0, "empty is empty");
	is_str(out, "", "nothing written");
}

int main(void)
{
	test_match();
	test_decode();
	test_query();
	test_hex();
	test_encode();
	return done_testing();
}
