/* gwconfig.h: the [gateway] keys (DESIGN §12): the providers'
 * endpoints and keys, what a call may bring and ask, and the limits of
 * the calls in flight. The CONFIG_MODULE_GATEWAY block. A gw* file as
 * gwcall's and gwshape's are: one named gateway_* would be of gateway.h's
 * module, and gwcall.c, which gateway.c includes, reads these keys. */
#ifndef CREDITD_GWCONFIG_H
#define CREDITD_GWCONFIG_H
#include <stdint.h>
#include "config.h"

/* A provider the gateway calls (DESIGN §14 "Many providers behind one
 * base URL"): today the two §12's keys name, each of the kind of its
 * name. The strings are the config's (they live as long as it). */
struct gwconfig_provider {
	const char *name;		/* its kind's name (gwkind.h): "openai" */
	const char *base_url;
	const char *api_key;		/* "" : only BYOK calls */
	/* Headers sent with the deployment's key only (a BYOK key is of
	 * another organization): a value "" is not sent. */
	struct {
		const char *name, *value;
	} headers[2];
};

struct gwconfig {
	char *openai_base_url;		/* no trailing slash needed: paths are appended after one */
	char *anthropic_base_url;
	char *openai_api_key;		/* "" : only BYOK calls */
	char *anthropic_api_key;
	char *openai_organization;	/* OpenAI-Organization, when set */
	char *openai_project;		/* OpenAI-Project, when set */
	char *shrink_text;		/* on|off */
	char *byok_text;		/* on|off */
	char *provider_objects_text;	/* on|off */
	int64_t min_output_tokens;	/* the least output a shrunk call keeps */
	char *on_client_gone;		/* drain|cancel */
	int64_t drain_seconds;		/* reading on after the client left, and SIGTERM's wait */
	int64_t max_streams;		/* calls in flight; beyond them 503 */
	int64_t max_streams_per_key;	/* of them, one gateway key's; beyond 429 */
	int64_t max_tool_calls_held;	/* web searches a call's hold covers when it names no max (DESIGN §14) */
	int64_t max_buffered_mib;	/* whole answers held in all; beyond 503 */
	int64_t max_streams_per_account;	/* of them, one account's; beyond 429 */
	int64_t max_body_bytes;		/* a gateway route's request body */
	int64_t connect_timeout_ms;
	int64_t first_byte_timeout_seconds;	/* the provider's first byte */
	int64_t idle_timeout_seconds;	/* between two bytes of an answer */

	/* Derived at load time. */
	int shrink;			/* gateway.shrink == on */
	int byok;			/* gateway.byok == on: calls may bring their own provider key */
	int provider_objects;		/* gateway.provider_objects == on: input stored at the provider is taken */
	int drain;			/* gateway.on_client_gone == drain */
	struct gwconfig_provider providers[2];
};

extern const struct config_module gwconfig_module;
const struct gwconfig *gwconfig_of(const struct cfg *c);
/* The provider named name (a kind's name), NULL when none is configured. */
const struct gwconfig_provider *gwconfig_provider(const struct gwconfig *g, const char *name);
#endif
