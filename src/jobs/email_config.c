/* email_config.c: the mailer's table of [email] keys, and their checks. */
#include "email_config.h"
#include "mailaddr.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OFF(f) offsetof(struct email_config, f)
#define EMAIL_DEFAULT_EVENTS "balance.low, alert.threshold, autorecharge.failed, payg.failed"

static const struct config_key keys[] = {
	{"email", "smtp_url", CONFIG_STR, OFF(smtp_url), 0, 0, "", NULL, "CREDITD_SMTP_URL", NULL},
	{"email", "from", CONFIG_STR, OFF(from), 0, 0, "", NULL, NULL, NULL},
	{"email", "username", CONFIG_STR, OFF(username), 0, 0, "", NULL, NULL, NULL},
	{"email", "password", CONFIG_SECRET, OFF(password), 0, 0, "", NULL, NULL, NULL},
	{"email", "events", CONFIG_STR, OFF(events), 0, 0, EMAIL_DEFAULT_EVENTS, NULL, NULL, NULL},
	{"email", "locale", CONFIG_ENUM, OFF(locale), 0, 0, "en", "en|fr", NULL, NULL},
	{"email", "topup_url", CONFIG_STR, OFF(topup_url), 0, 0, "", NULL, NULL, NULL},
	{"email", "tls", CONFIG_ENUM, OFF(tls), 0, 0, "auto", "auto|none", NULL, NULL},
	{"email", "retry_hours", CONFIG_INT, OFF(retry_hours), 1, 24 * 7, "24", NULL, NULL, NULL},
};

/* 1 when the URL's host (after its scheme, of n bytes) is 127.0.0.1,
 * [::1] or localhost. */
static int loopback_host(const char *host)
{
	static const char *const names[] = {"127.0.0.1", "[::1]", "localhost"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		if (strncasecmp(host, names[i], n) == 0 && (host[n] == '\0' || host[n] == ':' || host[n] == '/'))
			return 1;
	}
	return 0;
}

static int url_check(struct email_config *m, char *err, size_t errcap)
{
	const char *u = m->smtp_url, *host;
	int implicit = strncasecmp(u, "smtps://", 8) == 0;
	if (!implicit && strncasecmp(u, "smtp://", 7) != 0)
		return config_fail(err, errcap, "email.smtp_url must be smtps://HOST[:PORT] or smtp://HOST[:PORT]");
	host = u + (implicit ? 8 : 7);
	size_t authority = strcspn(host, "/?#");
	if (authority == 0 || memchr(host, '@', authority) != NULL || strpbrk(u, " \t\r\n") != NULL)
		return config_fail(err, errcap, "email.smtp_url must name a host, without user info (email.username "
				   "and email.password hold the login)");
	int loopback = loopback_host(host);
	if (strcmp(m->tls, "none") == 0) {
		if (implicit || !loopback)
			return config_fail(err, errcap, "email.tls = none (plain SMTP) is only for smtp:// to 127.0.0.1, "
					   "[::1] or localhost: %s", u);
		m->tls_mode = EMAIL_TLS_NONE;
	} else {
		m->tls_mode = implicit ? EMAIL_TLS_IMPLICIT : loopback ? EMAIL_TLS_IF_OFFERED : EMAIL_TLS_STARTTLS;
	}
	return 0;
}

/* The events list into "a,b,c": each a type of 1 to 32 bytes of
 * [a-z0-9._]. */
static int types_of(struct email_config *m, char *err, size_t errcap)
{
	size_t n = strlen(m->events);
	char *out = malloc(n + 1), *o = out;
	if (out == NULL)
		return config_fail(err, errcap, "out of memory");
	for (const char *s = m->events; *s != '\0';) {
		size_t len = strcspn(s, ", \t");
		if (len == 0) {
			s++;
			continue;
		}
		if (len > 32 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._") < len) {
			free(out);
			return config_fail(err, errcap, "email.events must be event types (such as balance.low) "
					   "separated by commas: %.*s", (int)len, s);
		}
		if (o != out)
			*o++ = ',';
		memcpy(o, s, len);
		o += len;
		s += len;
	}
	*o = '\0';
	m->types = out;
	return 0;
}

static int finish(const struct cfg *c, void *block, char *err, size_t errcap)
{
	struct email_config *m = block;
	(void)c;
	if (types_of(m, err, errcap) != 0)
		return -1;
	if (config_url_ok(m->topup_url, "email.topup_url", err, errcap) != 0)
		return -1;
	if (m->smtp_url[0] == '\0')
		return 0;
	if (url_check(m, err, errcap) != 0)
		return -1;
	if (!mailaddr_ok(m->from))
		return config_fail(err, errcap, "email.from must be an address such as alerts@example.com "
				   "(email.smtp_url is set)");
	if (m->types[0] == '\0')
		return config_fail(err, errcap, "email.events names no event type (email.smtp_url is set)");
	if ((m->username[0] == '\0') != (m->password[0] == '\0'))
		return config_fail(err, errcap, "email.username and email.password are set together or not at all");
	return 0;
}

static void release(void *block)
{
	struct email_config *m = block;
	free(m->types);
	m->types = NULL;
}

const struct config_module email_config_module = {
	"email", CONFIG_MODULE_EMAIL, keys, sizeof(keys) / sizeof(keys[0]), sizeof(struct email_config), finish, release,
	NULL,
};

int email_config_on(const struct cfg *c)
{
	return email_config_of(c)->smtp_url[0] != '\0';
}
