/* gwconfig.h: the [gateway] keys (docs/configuration.md) and the [provider NAME]
 * sections (§14, "Many providers behind one base URL"): the providers'
 * endpoints, keys and models, what a call may bring and ask, and the
 * limits of the calls in flight. The CONFIG_MODULE_GATEWAY block. A gw*
 * file as gwcall's and gwshape's are: one named gateway_* would be of
 * gateway.h's module, and gwcall.c, which gateway.c includes, reads
 * these keys. */
#ifndef CREDITD_GWCONFIG_H
#define CREDITD_GWCONFIG_H
#include "gwtable.h"
#include <stddef.h>
#include <stdint.h>
#include "config.h"

struct gwkind;

/* One model a provider serves: the name an app sends (priced under it)
 * and the one sent upstream (the same when not renamed). */
struct gwconfig_model {
	char *name, *upstream;
};

/* A provider the gateway calls: a [provider NAME] section, or one of
 * §12's (the [gateway] openai_* and anthropic_* keys, named "openai" and
 * "anthropic", unless a section of that name replaces it). */
struct gwconfig_provider {
	char name[LIMIT_CONFIG_NAME_BYTES];
	const struct gwkind *kind;
	const char *base_url;		/* no trailing slash needed: paths are appended after one */
	const char *api_key;		/* "" : only BYOK calls */
	/* "Name: value\n" lines sent with the deployment's key only (a BYOK
	 * key is of another organization); "" : none. */
	const char *headers;
	int allow_http;			/* a plain-http base URL off loopback may be called */
	/* It takes a caller's own key (Creditd-Provider-Key;
	 * docs/gateway.md, "Bring your own key"): openai and anthropic by
	 * [gateway] byok, a section only by its byok = on (a provider that
	 * ignores keys would serve such calls free). */
	int byok;
	/* What it serves: every priced model (models = *), the models no
	 * section names (§12's providers), or its list. */
	int every, rest;
	struct gwconfig_model *models;
	size_t nmodels;
	size_t index;			/* its place in the list (metrics) */
	/* What its calls forward as free beyond the route's table (gwtable.h),
	 * the operator's word: [provider NAME] free_fields. */
	struct gwtable_extra free_fields;
	/* The tier its project serves a call that names none, or "auto"
	 * (GW_TIER_*; OpenAI's default_service_tier). */
	int default_tier;
};

/* A [provider NAME] section as read (its keys' strings the loader's). */
struct gwconfig_section {
	char *kind;			/* openai|anthropic */
	char *base_url;
	char *api_key;
	char *headers;			/* "Name: value" lines */
	char *allow_http;		/* true|false */
	char *byok;			/* on|off: serves calls that bring their own key */
	char *models;			/* "a, b=upstream-b" or "*" */
	char *free_fields;		/* "NAME, type:NAME, beta:NAME" */
	char *default_service_tier;	/* default|priority|flex */
};

struct gwconfig {
	char *openai_base_url;
	char *anthropic_base_url;
	char *openai_api_key;		/* "" : only BYOK calls */
	char *anthropic_api_key;
	char *openai_organization;	/* OpenAI-Organization, when set */
	char *openai_project;		/* OpenAI-Project, when set */
	char *shrink_text;		/* on|off */
	char *byok_text;		/* on|off */
	char *provider_objects_text;	/* on|off */
	char *free_fields_text;		/* [gateway] free_fields, as written */
	char *default_service_tier;	/* the built-in providers': default|priority|flex */
	struct gwtable_extra free_fields;	/* it read: every call's */
	int64_t min_output_tokens;	/* the least output a shrunk call keeps */
	char *on_client_gone;		/* drain|cancel */
	int64_t drain_seconds;		/* reading on after the client left, and SIGTERM's wait */
	int64_t max_streams;		/* calls in flight; beyond them 503 */
	int64_t max_streams_per_key;	/* of them, one gateway key's; beyond 429 */
	int64_t max_tool_calls_held;	/* web searches a call's hold covers when it names no max (docs/gateway.md) */
	int64_t max_buffered_mib;	/* whole answers held in all (docs/gateway.md: a call's room reserved at admission) */
	int64_t max_buffered_per_account_mib;	/* of them, one account's (at most max_buffered_mib); beyond 429 */
	int64_t max_streams_per_account;	/* of them, one account's; beyond 429 */
	int64_t max_body_bytes;		/* a gateway route's request body in memory (gwbody.h: some routes take more) */
	char *spool_dir;		/* where a larger body is kept ("": $TMPDIR, else /tmp) */
	int64_t connect_timeout_ms;
	int64_t first_byte_timeout_seconds;	/* the provider's first byte */
	int64_t slowest_tokens_per_second;	/* a whole answer's wait grows by its cap at this rate */
	int64_t unresolved_days;	/* an unresolved hold's wait for the operator */
	int64_t batch_poll_seconds;	/* a running batch's poll (docs/gateway.md, "Batches") */
	int64_t idle_timeout_seconds;	/* between two bytes of an answer */
	int64_t max_attempts;		/* providers tried for one call, the first included */
	/* Background runs (docs/gateway.md, "Background responses"): OpenAI's
	 * webhook secret ("" : POST /openai/webhooks answers 404), and the
	 * poll's first wait and longest wait (doubled each poll up to it). */
	char *openai_webhook_secret;
	int64_t background_poll_seconds;
	int64_t background_poll_max_seconds;

	/* Derived at load time. */
	int shrink;			/* gateway.shrink == on */
	int byok;			/* gateway.byok == on: §12's two providers serve calls that bring their own key */
	int provider_objects;		/* gateway.provider_objects == on: input stored at the provider is taken */
	int drain;			/* gateway.on_client_gone == drain */
	/* Every provider, in the order calls try them: §12's first (the
	 * [gateway] section's), then the sections in file order. */
	struct gwconfig_provider *providers;
	size_t nproviders;
	char *openai_headers;		/* §12's openai's header lines (organization, project) */
};

extern const struct config_module gwconfig_module;
/* The module's block of c (its slot). */
static inline const struct gwconfig *gwconfig_of(const struct cfg *c)
{
	return c->module[CONFIG_MODULE_GATEWAY];
}
/* The providers of kind that serve model, in the order they are tried,
 * into out[0..cap): how many. */
size_t gwconfig_candidates(const struct gwconfig *g, const struct gwkind *kind, const char *model,
			   const struct gwconfig_provider **out, size_t cap);
/* The provider of kind named name (docs/gateway.md, "Provider objects":
 * the one that made an object); name "" (an object kept before sql/061
 * named none): the first of kind with a key or that takes a caller's.
 * NULL when none. */
const struct gwconfig_provider *gwconfig_provider_of(const struct gwconfig *g, const struct gwkind *kind,
						     const char *name);
/* The name p is sent model under (its rename, else model itself). */
const char *gwconfig_upstream_model(const struct gwconfig_provider *p, const char *model);
#endif
