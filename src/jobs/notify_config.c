/* notify_config.c: the push's table of [notify] keys, and their checks. */
#include "notify_config.h"
#include <stddef.h>

#define OFF(f) offsetof(struct notify_config, f)

static const struct config_key keys[] = {
	{"notify", "url", CONFIG_STR, OFF(url), 0, 0, "", NULL, "CREDITD_NOTIFY_URL", NULL},
	{"notify", "secret", CONFIG_SECRET, OFF(secret), 0, 0, "", NULL, "CREDITD_NOTIFY_SECRET", config_long_secret},
	{"notify", "connect_timeout_ms", CONFIG_INT, OFF(connect_timeout_ms), 100, 60000, "2000", NULL, NULL, NULL},
	{"notify", "timeout_ms", CONFIG_INT, OFF(timeout_ms), 100, 60000, "5000", NULL, NULL, NULL},
	{"notify", "retry_hours", CONFIG_INT, OFF(retry_hours), 1, 24 * 7, "24", NULL, NULL, NULL},
};

static int finish(const struct cfg *c, void *block, char *err, size_t errcap)
{
	const struct notify_config *n = block;
	(void)c;
	if (config_url_ok(n->url, "notify.url", err, errcap) != 0)
		return -1;
	if (n->url[0] != '\0' && n->secret[0] == '\0')
		return config_fail(err, errcap, "notify.url is set without notify.secret (events are always signed)");
	return 0;
}

const struct config_module notify_config_module = {
	"notify", CONFIG_MODULE_NOTIFY, keys, sizeof(keys) / sizeof(keys[0]), sizeof(struct notify_config), finish, NULL, NULL,
};

