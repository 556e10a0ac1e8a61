/* mailaddr.c: an email address checked (see mailaddr.h). */
#include "mailaddr.h"
#include "limits.h"
#include <string.h>

/* RFC 5322 atext: letters, digits and these. */
static int atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A dot-atom of n bytes: atoms of atext joined by single dots. */
static int dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* A domain: labels of letters, digits and hyphens (not at a label's
 * ends), each at most 63 bytes, joined by dots. */
static int domain(const char *s, size_t n)
{
	size_t label = 0;
	if (!dot_atom(s, n))
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return 0;
			label = 0;
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
		label++;
	}
	return 1;
}

int mailaddr_ok(const char *s)
{
	if (s == NULL)
		return 0;
	size_t n = strlen(s);
	const char *at = strrchr(s, '@');
	if (n == 0 || n > LIMIT_EMAIL_BYTES || at == NULL)
		return 0;
	size_t local = (size_t)(at - s);
	if (local == 0 || local > 64)
		return 0;
	return dot_atom(s, local) && domain(at + 1, n - local - 1);
}

const char *mailaddr_domain(const char *s)
{
	const char *at = strrchr(s, '@');
	return at != NULL ? at + 1 : s;
}
