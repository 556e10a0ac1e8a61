/* gwconfig.c: the gateway's table of [gateway] keys, and their
 * checks and derived values: among them the providers the gateway calls.
 * §12's keys name their providers (openai_*, anthropic_*): this table and
 * finish() are where those names become providers of the kinds of those
 * names; the rest of the gateway reaches a provider by its kind's name
 * (gwconfig_provider). */
#include "gwconfig.h"
#include <stddef.h>
#include <string.h>

#define OFF(f) offsetof(struct gwconfig, f)

static const struct config_key keys[] = {
	{"gateway", "openai_base_url", CONFIG_STR, OFF(openai_base_url), 0, 0, "https://api.openai.com/v1", NULL, "CREDITD_OPENAI_BASE_URL", NULL},
	{"gateway", "anthropic_base_url", CONFIG_STR, OFF(anthropic_base_url), 0, 0, "https://api.anthropic.com", NULL, "CREDITD_ANTHROPIC_BASE_URL", NULL},
	{"gateway", "openai_api_key", CONFIG_SECRET, OFF(openai_api_key), 0, 0, "", NULL, "CREDITD_OPENAI_API_KEY", NULL},
	{"gateway", "anthropic_api_key", CONFIG_SECRET, OFF(anthropic_api_key), 0, 0, "", NULL, "CREDITD_ANTHROPIC_API_KEY", NULL},
	{"gateway", "openai_organization", CONFIG_STR, OFF(openai_organization), 0, 0, "", NULL, NULL, NULL},
	{"gateway", "openai_project", CONFIG_STR, OFF(openai_project), 0, 0, "", NULL, NULL, NULL},
	{"gateway", "shrink", CONFIG_ENUM, OFF(shrink_text), 0, 0, "on", "on|off", NULL, NULL},
	{"gateway", "byok", CONFIG_ENUM, OFF(byok_text), 0, 0, "on", "on|off", NULL, NULL},
	{"gateway", "provider_objects", CONFIG_ENUM, OFF(provider_objects_text), 0, 0, "off", "on|off", NULL, NULL},
	{"gateway", "min_output_tokens", CONFIG_INT, OFF(min_output_tokens), 1, LIMIT_TOKENS_MAX, "256", NULL, NULL, NULL},
	{"gateway", "on_client_gone", CONFIG_ENUM, OFF(on_client_gone), 0, 0, "drain", "drain|cancel", NULL, NULL},
	{"gateway", "drain_seconds", CONFIG_INT, OFF(drain_seconds), 0, 3600, "60", NULL, NULL, NULL},
	{"gateway", "max_body_bytes", CONFIG_INT, OFF(max_body_bytes), 1024, LIMIT_GATEWAY_BODY_MAX_BYTES, "8388608", NULL, NULL, NULL},
	{"gateway", "max_streams", CONFIG_INT, OFF(max_streams), 1, LIMIT_GATEWAY_STREAMS_MAX, "512", NULL, NULL, NULL},
	{"gateway", "max_buffered_mib", CONFIG_INT, OFF(max_buffered_mib), 1, LIMIT_GATEWAY_BUFFERED_MIB_MAX, "256", NULL, NULL, NULL},
	{"gateway", "max_streams_per_key", CONFIG_INT, OFF(max_streams_per_key), 1, LIMIT_GATEWAY_STREAMS_MAX, "16", NULL, NULL, NULL},
	{"gateway", "max_tool_calls_held", CONFIG_INT, OFF(max_tool_calls_held), 0, LIMIT_GATEWAY_TOOL_CALLS_MAX, "5", NULL, NULL, NULL},
	{"gateway", "max_streams_per_account", CONFIG_INT, OFF(max_streams_per_account), 1, LIMIT_GATEWAY_STREAMS_MAX, "64", NULL, NULL, NULL},
	{"gateway", "connect_timeout_ms", CONFIG_INT, OFF(connect_timeout_ms), 100, 60000, "5000", NULL, NULL, NULL},
	{"gateway", "first_byte_timeout_seconds", CONFIG_INT, OFF(first_byte_timeout_seconds), 1, 3600, "600", NULL, NULL, NULL},
	{"gateway", "idle_timeout_seconds", CONFIG_INT, OFF(idle_timeout_seconds), 1, 3600, "300", NULL, NULL, NULL},
};

static int finish(const struct cfg *c, void *block, char *err, size_t errcap)
{
	struct gwconfig *g = block;
	(void)c;
	g->shrink = strcmp(g->shrink_text, "on") == 0;
	g->byok = strcmp(g->byok_text, "on") == 0;
	g->provider_objects = strcmp(g->provider_objects_text, "on") == 0;
	g->drain = strcmp(g->on_client_gone, "drain") == 0;
	g->providers[0] = (struct gwconfig_provider){"openai", g->openai_base_url, g->openai_api_key,
						     {{"OpenAI-Organization", g->openai_organization},
						      {"OpenAI-Project", g->openai_project}}};
	g->providers[1] = (struct gwconfig_provider){"anthropic", g->anthropic_base_url, g->anthropic_api_key,
						     {{NULL, ""}, {NULL, ""}}};
	if (config_url_ok(g->openai_base_url, "gateway.openai_base_url", err, errcap) != 0 ||
	    config_url_ok(g->anthropic_base_url, "gateway.anthropic_base_url", err, errcap) != 0)
		return -1;
	return 0;
}

const struct config_module gwconfig_module = {
	"gateway", CONFIG_MODULE_GATEWAY, keys, sizeof(keys) / sizeof(keys[0]), sizeof(struct gwconfig), finish,
	NULL,
};

const struct gwconfig *gwconfig_of(const struct cfg *c)
{
	return c->module[CONFIG_MODULE_GATEWAY];
}

const struct gwconfig_provider *gwconfig_provider(const struct gwconfig *g, const char *name)
{
	for (size_t i = 0; i < sizeof(g->providers) / sizeof(g->providers[0]); i++)
		if (g->providers[i].name != NULL && strcmp(g->providers[i].name, name) == 0)
			return &g->providers[i];
	return NULL;
}
