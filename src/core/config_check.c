/* config_check.c: what every table's module shares to check its keys
 * (config.h): a failure's sentence, a secret long enough, a URL https
 * (plain http to a loopback address only), an origin in a list. Apart from
 * config.c so the loader's files (config_nodes.c, config_file.c) call down
 * to it and never back into the loader; it calls nothing of theirs. */
#include "config.h"
#include "urlpath.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *config_long_secret(const char *v)
{
	size_t n = strlen(v);
	return n == 0 || n >= LIMIT_SECRET_MIN_BYTES ? NULL : "must be at least 32 bytes long";
}
_Static_assert(LIMIT_SECRET_MIN_BYTES == 32, "the message above says 32");

int config_fail(char *err, size_t errcap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
	return -1;
}

int config_url_ok(const char *url, const char *key, char *err, size_t errcap)
{
	if (url[0] != '\0' && !urlpath_https_or_loopback(url))
		return config_fail(err, errcap, "%s must be https:// (http:// only to 127.0.0.1, [::1] or localhost): %s",
				   key, url);
	return 0;
}

int config_origin_listed(const char *list, const char *origin)
{
	size_t n = strlen(origin);
	const char *p = list;
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end != '\0' && *end != ',' && *end != ' ')
			end++;
		size_t len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == '/')
			len--;
		if (len == n && strncasecmp(p, origin, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}
