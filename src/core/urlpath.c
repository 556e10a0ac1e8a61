/* urlpath.c: percent-decoding, route patterns and query strings.
 *
 * Everything here reads bytes the client chose, so every loop is bounded
 * by the span it was given and every write by the caller's capacity; a
 * result that would not fit is refused rather than cut. It must stay free
 * of allocation and of any other module but limits.h: the router, the
 * handlers and the webhook code lean on it, and it leans on nothing.
 * The hex-digit reader is inline in urlpath.h. */
#include "urlpath.h"
#include <string.h>
#include <strings.h>

int urlpath_decode(const char *s, size_t n, enum urlpath_plus plus, char *out, size_t cap)
{
	size_t j = 0;
	if (cap == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			/* Checked one at a time so a short tail never reads past n. */
			int hi = i + 1 < n ? urlpath_hex_value(s[i + 1]) : -1;
			int lo = i + 2 < n ? urlpath_hex_value(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus == URLPATH_PLUS_SPACE) {
			c = ' ';
		}
		if (j + 1 >= cap)
			return -1;
		out[j++] = c;
	}
	out[j] = '\0';
	return 0;
}

enum urlpath_result urlpath_match(const char *pattern, const char *path, char params[][URLPATH_PARAM_BYTES],
				  int max_params, int *nparams)
{
	const char *p = pattern, *s = path;
	*nparams = 0;
	while (*p != '\0' && *s != '\0') {
		if (*p != '*') {
			if (*p != *s)
				return URLPATH_NO_MATCH;
			p++;
			s++;
			continue;
		}
		size_t n = strcspn(s, "/");
		if (n == 0 || *nparams >= max_params)
			return URLPATH_NO_MATCH;
		if (urlpath_decode(s, n, URLPATH_PLUS_LITERAL, params[*nparams], URLPATH_PARAM_BYTES) != 0)
			return URLPATH_MALFORMED;
		(*nparams)++;
		s += n;
		p++;
	}
	return *p == '\0' && *s == '\0' ? URLPATH_MATCH : URLPATH_NO_MATCH;
}

int urlpath_query_get(const char *query, const char *name, char *out, size_t cap)
{
	size_t name_len = strlen(name);
	const char *p = query != NULL ? query : "";
	while (*p != '\0') {
		size_t len = strcspn(p, "&");
		if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
			const char *value = p + name_len + 1;
			return urlpath_decode(value, len - name_len - 1, URLPATH_PLUS_SPACE, out, cap) == 0 ? 1 : -1;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

int urlpath_https_or_loopback(const char *url)
{
	static const char *const loopback[] = {"127.0.0.1", "[::1]", "localhost"};
	if (url == NULL)
		return 0;
	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0' && url[8] != '/';
	if (strncasecmp(url, "http://", 7) != 0)
		return 0;
	const char *host = url + 7;
	/* No user info: http://127.0.0.1:x@elsewhere/ is elsewhere. */
	size_t authority = strcspn(host, "/?#");
	if (memchr(host, '@', authority) != NULL)
		return 0;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		size_t n = strlen(loopback[i]);
		if (strncasecmp(host, loopback[i], n) == 0 && (host[n] == '\0' || host[n] == ':' || host[n] == '/'))
			return 1;
	}
	return 0;
}

int urlpath_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '.' || *p == '_' || *p == '~';
		size_t need = plain ? 1 : 3;
		if (n + need >= cap)
			return -1;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (cap == 0)
		return -1;
	out[n] = '\0';
	return 0;
}
