/* notify_config.h: the [notify] keys (docs/api.md, "Events"): where
 * and how the outbox's events are pushed (notify.c), and for how long.
 * The CONFIG_MODULE_NOTIFY block. */
#ifndef CREDITD_NOTIFY_CONFIG_H
#define CREDITD_NOTIFY_CONFIG_H
#include <stdint.h>
#include "config.h"

struct notify_config {
	char *url;			/* "" : no push (the pull route still works) */
	char *secret;
	int64_t connect_timeout_ms;
	int64_t timeout_ms;
	int64_t retry_hours;		/* how long an event is retried before it stays undelivered */
};

extern const struct config_module notify_config_module;
/* The module's block of c (its slot). */
static inline const struct notify_config *notify_config_of(const struct cfg *c)
{
	return c->module[CONFIG_MODULE_NOTIFY];
}
#endif
