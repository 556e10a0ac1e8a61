/* widget_config.h: the [widget] keys (docs/api.md, "Widget":
 * browser tokens and the widget): the secret browser tokens are signed with (keys.c's
 * keys_token_*) and the origins CORS lets read /v1/me*. Read by http's
 * routes, but here in core: creditctl must know the keys of the config
 * it shares with creditd, and no layer below both http and ctl but core
 * holds the widget's code. The CONFIG_MODULE_WIDGET block. */
#ifndef CREDITD_WIDGET_CONFIG_H
#define CREDITD_WIDGET_CONFIG_H
#include "config.h"

struct widget_config {
	char *token_secret;		/* signs browser tokens; "" : none can be minted */
	char *origins;			/* comma-separated origins CORS allows on /v1/me* */
};

extern const struct config_module widget_config_module;
/* The module's block of c (its slot). */
static inline const struct widget_config *widget_config_of(const struct cfg *c)
{
	return c->module[CONFIG_MODULE_WIDGET];
}
/* 1 when origin ("https://app.example" as a browser sends it) is one of
 * [widget] origins (exactly, case-insensitively). */
int widget_config_origin_allowed(const struct widget_config *w, const char *origin);
#endif
