/* widget_config.c: the widget's table of keys (widget_config.h says why
 * it is in core). */
#include "widget_config.h"
#include <stddef.h>
#include <string.h>

#define OFF(f) offsetof(struct widget_config, f)

static const struct config_key keys[] = {
	{"widget", "token_secret", CONFIG_SECRET, OFF(token_secret), 0, 0, "", NULL, "CREDITD_WIDGET_TOKEN_SECRET", config_long_secret},
	{"widget", "origins", CONFIG_STR, OFF(origins), 0, 0, "", NULL, "CREDITD_WIDGET_ORIGINS", NULL},
};

const struct config_module widget_config_module = {
	"widget", CONFIG_MODULE_WIDGET, keys, sizeof(keys) / sizeof(keys[0]), sizeof(struct widget_config), NULL, NULL, NULL,
};

int widget_config_origin_allowed(const struct widget_config *w, const char *origin)
{
	return origin != NULL && origin[0] != '\0' && strlen(origin) < LIMIT_URL_BYTES &&
	       config_origin_listed(w->origins, origin);
}
