/* stripe_check.c: the Stripe client's settings and a call's arguments
 * checked before anything is sent (stripe_check.h): the API base (https,
 * or plain http to a loopback address only: the test stand-in), the
 * secret key's shape, an Idempotency-Key's. Pure; apart from stripe.c,
 * the client, so the rules read on their own (why they fail closed:
 * stripe.c's opening comment). */
#include "stripe_check.h"
#include "limits.h"
#include <string.h>
#include <strings.h>

static int has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* 1 when every byte is visible ASCII (no space, no control, no 8-bit). */
int stripe_check_visible(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	}
	return 1;
}

/* a points after "http://". 1 when the authority is exactly 127.0.0.1,
 * localhost or [::1], with an optional numeric port and no user info. */
static int is_loopback_authority(const char *a)
{
	static const char *const hosts[] = { "127.0.0.1", "localhost", "[::1]" };
	size_t alen = strcspn(a, "/?#");
	size_t hlen = 0, i;

	if (memchr(a, '@', alen) != NULL)
		return 0;
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);

		if (n <= alen && strncasecmp(a, hosts[i], n) == 0 && (n == alen || a[n] == ':')) {
			hlen = n;
			break;
		}
	}
	if (hlen == 0)
		return 0;
	if (hlen == alen)
		return 1;
	/* ":" then 1-5 digits, to the end of the authority. */
	if (alen - hlen < 2 || alen - hlen > 6)
		return 0;
	for (i = hlen + 1; i < alen; i++) {
		if (a[i] < '0' || a[i] > '9')
			return 0;
	}
	return 1;
}

enum stripe_base_kind stripe_check_base(const char *base)
{
	const char *authority;

	if (strlen(base) > STRIPE_BASE_MAX || !stripe_check_visible(base) || strpbrk(base, "?#") != NULL)
		return STRIPE_BASE_BAD;
	if (has_prefix_ci(base, "https://")) {
		authority = base + strlen("https://");
		if (authority[0] == '\0' || authority[0] == '/' ||
		    memchr(authority, '@', strcspn(authority, "/")) != NULL)
			return STRIPE_BASE_BAD;
		return STRIPE_BASE_HTTPS;
	}
	if (has_prefix_ci(base, "http://") && is_loopback_authority(base + strlen("http://")))
		return STRIPE_BASE_LOOPBACK_HTTP;
	return STRIPE_BASE_BAD;
}

/* 1 when k is a key Stripe could have issued: sk_ or rk_, visible ASCII. */
int stripe_check_key(const char *k)
{
	if (k == NULL || strnlen(k, STRIPE_KEY_MAX + 1) > STRIPE_KEY_MAX || strlen(k) < 4)
		return 0;
	if (strncmp(k, "sk_", 3) != 0 && strncmp(k, "rk_", 3) != 0)
		return 0;
	return stripe_check_visible(k);
}

int stripe_check_idempotency_key(const char *k)
{
	size_t n;

	if (k == NULL)
		return 0;
	n = strnlen(k, LIMIT_IDEMPOTENCY_KEY_BYTES + 1);
	return n > 0 && n <= LIMIT_IDEMPOTENCY_KEY_BYTES && stripe_check_visible(k);
}
