/* gwconfig.c: the gateway's table of [gateway] keys and of a [provider
 * NAME] section's keys, their checks and derived values: among them the
 * providers the gateway calls, in the order it tries them. §12's keys
 * name their providers (openai_*, anthropic_*): this table and
 * legacy() are where those names become providers of the kinds of those
 * names; a section names its kind by the kind's name (gwkind_named), and
 * the rest of the gateway reaches a provider through this list. */
#include "gwconfig.h"
#include "gwwebhook.h"
#include "gwkind.h"
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct gwconfig, f)
#define SOFF(f) offsetof(struct gwconfig_section, f)

/* Where bodies past max_body_bytes are kept while their call runs
 * (docs/gateway.md, "Request bodies"): "" is $TMPDIR, else /tmp. */
static const char *spool_dir_valid(const char *v)
{
	return v[0] == '\0' || v[0] == '/' ? NULL : "must be an absolute path (or empty: $TMPDIR, else /tmp)";
}

/* OpenAI's webhook secret (docs/gateway.md, "Background responses"):
 * "whsec_" and base64, or the key's own text; at least 16 bytes of key,
 * as the official SDKs require. "" : no webhook route. */
static const char *webhook_secret_valid(const char *v)
{
	unsigned char key[LIMIT_GATEWAY_WEBHOOK_KEY_BYTES];
	size_t n;
	if (v[0] == '\0')
		return NULL;
	if (strlen(v) > LIMIT_GATEWAY_WEBHOOK_SECRET_BYTES || gwwebhook_key(v, key, sizeof(key), &n) != 0)
		return "must be OpenAI's webhook secret (whsec_ and base64 of at least 16 bytes)";
	return NULL;
}

static const struct config_key keys[] = {
	{"gateway", "openai_base_url", CONFIG_STR, OFF(openai_base_url), 0, 0, "https://api.openai.com/v1", NULL, "CREDITD_OPENAI_BASE_URL", NULL},
	{"gateway", "anthropic_base_url", CONFIG_STR, OFF(anthropic_base_url), 0, 0, "https://api.anthropic.com", NULL, "CREDITD_ANTHROPIC_BASE_URL", NULL},
	{"gateway", "openai_api_key", CONFIG_SECRET, OFF(openai_api_key), 0, 0, "", NULL, "CREDITD_OPENAI_API_KEY", NULL},
	{"gateway", "anthropic_api_key", CONFIG_SECRET, OFF(anthropic_api_key), 0, 0, "", NULL, "CREDITD_ANTHROPIC_API_KEY", NULL},
	{"gateway", "openai_organization", CONFIG_STR, OFF(openai_organization), 0, 0, "", NULL, NULL, NULL},
	{"gateway", "openai_project", CONFIG_STR, OFF(openai_project), 0, 0, "", NULL, NULL, NULL},
	{"gateway", "shrink", CONFIG_ENUM, OFF(shrink_text), 0, 0, "on", "on|off", NULL, NULL},
	{"gateway", "byok", CONFIG_ENUM, OFF(byok_text), 0, 0, "on", "on|off", NULL, NULL},
	{"gateway", "free_fields", CONFIG_STR, OFF(free_fields_text), 0, 0, "", NULL, NULL, NULL},
	{"gateway", "default_service_tier", CONFIG_ENUM, OFF(default_service_tier), 0, 0, "default", "default|priority|flex", NULL, NULL},
	{"gateway", "provider_objects", CONFIG_ENUM, OFF(provider_objects_text), 0, 0, "off", "on|off", NULL, NULL},
	{"gateway", "min_output_tokens", CONFIG_INT, OFF(min_output_tokens), 1, LIMIT_TOKENS_MAX, "256", NULL, NULL, NULL},
	{"gateway", "on_client_gone", CONFIG_ENUM, OFF(on_client_gone), 0, 0, "drain", "drain|cancel", NULL, NULL},
	{"gateway", "drain_seconds", CONFIG_INT, OFF(drain_seconds), 0, 3600, "60", NULL, NULL, NULL},
	{"gateway", "max_body_bytes", CONFIG_INT, OFF(max_body_bytes), 1024, LIMIT_GATEWAY_BODY_MAX_BYTES, "8388608", NULL, NULL, NULL},
	{"gateway", "spool_dir", CONFIG_STR, OFF(spool_dir), 0, 0, "", NULL, NULL, spool_dir_valid},
	{"gateway", "max_streams", CONFIG_INT, OFF(max_streams), 1, LIMIT_GATEWAY_STREAMS_MAX, "512", NULL, NULL, NULL},
	{"gateway", "max_buffered_mib", CONFIG_INT, OFF(max_buffered_mib), 1, LIMIT_GATEWAY_BUFFERED_MIB_MAX, "256", NULL, NULL, NULL},
	{"gateway", "max_buffered_per_account_mib", CONFIG_INT, OFF(max_buffered_per_account_mib), 1, LIMIT_GATEWAY_BUFFERED_MIB_MAX, "64", NULL, NULL, NULL},
	{"gateway", "max_streams_per_key", CONFIG_INT, OFF(max_streams_per_key), 1, LIMIT_GATEWAY_STREAMS_MAX, "16", NULL, NULL, NULL},
	{"gateway", "max_tool_calls_held", CONFIG_INT, OFF(max_tool_calls_held), 0, LIMIT_GATEWAY_TOOL_CALLS_MAX, "5", NULL, NULL, NULL},
	{"gateway", "max_streams_per_account", CONFIG_INT, OFF(max_streams_per_account), 1, LIMIT_GATEWAY_STREAMS_MAX, "64", NULL, NULL, NULL},
	{"gateway", "connect_timeout_ms", CONFIG_INT, OFF(connect_timeout_ms), 100, 60000, "5000", NULL, NULL, NULL},
	{"gateway", "first_byte_timeout_seconds", CONFIG_INT, OFF(first_byte_timeout_seconds), 1, 3600, "600", NULL, NULL, NULL},
	{"gateway", "idle_timeout_seconds", CONFIG_INT, OFF(idle_timeout_seconds), 1, 3600, "300", NULL, NULL, NULL},
	{"gateway", "slowest_tokens_per_second", CONFIG_INT, OFF(slowest_tokens_per_second), LIMIT_GATEWAY_SLOWEST_TPS_MIN, LIMIT_GATEWAY_SLOWEST_TPS_MAX, "30", NULL, NULL, NULL},
	{"gateway", "unresolved_days", CONFIG_INT, OFF(unresolved_days), 1, LIMIT_GATEWAY_UNRESOLVED_DAYS_MAX, "7", NULL, NULL, NULL},
	{"gateway", "batch_poll_seconds", CONFIG_INT, OFF(batch_poll_seconds), 1, LIMIT_GATEWAY_BATCH_POLL_SECONDS_MAX, "60",
	 NULL, NULL, NULL},
	{"gateway", "max_attempts", CONFIG_INT, OFF(max_attempts), 1, LIMIT_GATEWAY_ATTEMPTS_MAX, "3", NULL, NULL, NULL},
	{"gateway", "openai_webhook_secret", CONFIG_SECRET, OFF(openai_webhook_secret), 0, 0, "", NULL, "CREDITD_OPENAI_WEBHOOK_SECRET", webhook_secret_valid},
	{"gateway", "background_poll_seconds", CONFIG_INT, OFF(background_poll_seconds), 1, LIMIT_GATEWAY_BACKGROUND_POLL_MAX_SECONDS, "5", NULL, NULL, NULL},
	{"gateway", "background_poll_max_seconds", CONFIG_INT, OFF(background_poll_max_seconds), 1, LIMIT_GATEWAY_BACKGROUND_POLL_MAX_SECONDS, "300", NULL, NULL, NULL},
};

static const char *kind_valid(const char *v)
{
	return gwkind_named(v) != NULL ? NULL : "must be the name of a provider kind (docs/gateway.md)";
}

static const char *header_valid(const char *v)
{
	const char *colon = strchr(v, ':');
	if (v[0] == '\0')
		return NULL;
	if (colon == NULL || colon == v || strpbrk(v, "\r\n") != NULL || strlen(v) > LIMIT_GATEWAY_HEADER_BYTES)
		return "must be one header, \"Name: value\"";
	for (const char *p = v; p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return "must be one header, \"Name: value\" (a name of letters, digits, '-' and '_')";
	return NULL;
}

static const struct config_key section_keys[] = {
	{"provider", "kind", CONFIG_STR, SOFF(kind), 0, 0, "openai", NULL, NULL, kind_valid},
	{"provider", "base_url", CONFIG_STR, SOFF(base_url), 0, 0, "", NULL, NULL, NULL},
	{"provider", "api_key", CONFIG_SECRET, SOFF(api_key), 0, 0, "", NULL, NULL, NULL},
	{"provider", "headers", CONFIG_SECRET_LINES, SOFF(headers), 0, 0, "", NULL, NULL, header_valid},
	{"provider", "allow_http", CONFIG_ENUM, SOFF(allow_http), 0, 0, "false", "true|false", NULL, NULL},
	{"provider", "byok", CONFIG_ENUM, SOFF(byok), 0, 0, "off", "on|off", NULL, NULL},
	{"provider", "models", CONFIG_STR, SOFF(models), 0, 0, "", NULL, NULL, NULL},
	{"provider", "free_fields", CONFIG_STR, SOFF(free_fields), 0, 0, "", NULL, NULL, NULL},
	{"provider", "default_service_tier", CONFIG_ENUM, SOFF(default_service_tier), 0, 0, "default", "default|priority|flex", NULL, NULL},
};

static const struct config_named sections = {
	"provider", "provider NAME", section_keys, sizeof(section_keys) / sizeof(section_keys[0]),
	sizeof(struct gwconfig_section), NULL,
};

/* ---- the models a section serves ---- */

static int model_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > LIMIT_NAME_BYTES)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == ',' || s[i] == '=')
			return 0;
	return 1;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* One "NAME" or "NAME=UPSTREAM" of p's list (item, n bytes, trimmed). */
static int model_add(struct gwconfig_provider *p, const char *item, size_t n, char *err, size_t errcap)
{
	const char *eq = memchr(item, '=', n);
	size_t nl = eq != NULL ? (size_t)(eq - item) : n;
	while (nl > 0 && isspace((unsigned char)item[nl - 1]))
		nl--;
	const char *up = eq != NULL ? eq + 1 : item;
	while (eq != NULL && up < item + n && isspace((unsigned char)*up))
		up++;
	size_t ul = eq != NULL ? (size_t)(item + n - up) : nl;
	if (!model_name_ok(item, nl) || !model_name_ok(up, ul))
		return config_fail(err, errcap, "[provider %s] models: \"%.*s\" is not NAME or NAME=UPSTREAM_NAME (1 to "
				   "%d bytes each, no space, ',' or '=')", p->name, (int)n, item, LIMIT_NAME_BYTES);
	for (size_t i = 0; i < p->nmodels; i++)
		if (strlen(p->models[i].name) == nl && strncmp(p->models[i].name, item, nl) == 0)
			return config_fail(err, errcap, "[provider %s] models names %.*s twice", p->name, (int)nl, item);
	struct gwconfig_model *m = &p->models[p->nmodels];
	m->name = dup_n(item, nl);
	m->upstream = dup_n(up, ul);
	p->nmodels++;
	return m->name != NULL && m->upstream != NULL ? 0 : config_fail(err, errcap, "out of memory");
}

static int models_parse(struct gwconfig_provider *p, const char *list, char *err, size_t errcap)
{
	size_t items = 1;
	for (const char *c = list; *c != '\0'; c++)
		items += *c == ',';
	while (isspace((unsigned char)*list))
		list++;
	if (list[0] == '\0')
		return config_fail(err, errcap, "[provider %s] models is required: the models it serves (NAME or "
				   "NAME=UPSTREAM_NAME, comma-separated), or *", p->name);
	if (strcmp(list, "*") == 0) {
		p->every = 1;
		return 0;
	}
	if ((p->models = calloc(items, sizeof(*p->models))) == NULL)
		return config_fail(err, errcap, "out of memory");
	for (const char *at = list; *at != '\0';) {
		size_t n = strcspn(at, ",");
		const char *item = at;
		at += n + (at[n] == ',');
		while (n > 0 && isspace((unsigned char)*item)) {
			item++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)item[n - 1]))
			n--;
		if (n == 1 && item[0] == '*')
			return config_fail(err, errcap, "[provider %s] models: * is alone or not at all", p->name);
		if (n > 0 && model_add(p, item, n, err, errcap) != 0)
			return -1;
	}
	return p->nmodels > 0 ? 0 : config_fail(err, errcap, "[provider %s] models names no model", p->name);
}

/* ---- the providers ---- */

/* A default_service_tier's GW_TIER_* (the key's values are checked). */
static int tier_named(const char *s)
{
	return strcmp(s, "priority") == 0 ? GW_TIER_PRIORITY : strcmp(s, "flex") == 0 ? GW_TIER_FLEX : GW_TIER_STANDARD;
}

/* ---- free_fields: the operator's word that these cost nothing ---- */

static int free_field_ok(const char *s, size_t n)
{
	size_t at = n > 5 && (strncmp(s, "beta:", 5) == 0 || strncmp(s, "type:", 5) == 0) ? 5 : 0;
	if (n - at == 0 || n > LIMIT_NAME_BYTES)
		return 0;
	for (size_t i = at; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_-.", s[i]) == NULL)
			return 0;
	return 1;
}

/* list ("top_k, chat_template_kwargs, type:my_tool, beta:my-beta-1") into
 * *out (entries malloc'ed, freed by release); where names the key. */
static int free_fields_parse(const char *list, struct gwtable_extra *out, const char *where, char *err, size_t errcap)
{
	size_t items = 1, n = 0;
	char **e;
	for (const char *c = list; *c != '\0'; c++)
		items += *c == ',';
	if (items > LIMIT_GATEWAY_FREE_FIELDS)
		return config_fail(err, errcap, "%s: %zu entries, at most %d", where, items, LIMIT_GATEWAY_FREE_FIELDS);
	if ((e = calloc(items, sizeof(*e))) == NULL)
		return config_fail(err, errcap, "out of memory");
	out->entries = (const char *const *)e;
	for (const char *at = list; *at != '\0';) {
		size_t len = strcspn(at, ",");
		const char *s = at, *end = at + len;
		at += len + (at[len] == ',');
		while (s < end && isspace((unsigned char)*s))
			s++;
		while (end > s && isspace((unsigned char)end[-1]))
			end--;
		if (s == end)
			continue;
		if (!free_field_ok(s, (size_t)(end - s)))
			return config_fail(err, errcap, "%s: \"%.*s\" is not NAME, type:NAME or beta:NAME (letters, digits, "
					   "'_', '-' and '.', %d bytes at most)", where, (int)(end - s), s, LIMIT_NAME_BYTES);
		if ((e[n] = dup_n(s, (size_t)(end - s))) == NULL)
			return config_fail(err, errcap, "out of memory");
		out->n = ++n;
	}
	return 0;
}

static void free_fields_release(struct gwtable_extra *x)
{
	for (size_t i = 0; i < x->n; i++)
		free((char *)x->entries[i]);
	free((void *)x->entries);
	x->entries = NULL;
	x->n = 0;
}

static int base_url_ok(const struct gwconfig_provider *p, char *err, size_t errcap)
{
	char key[64 + LIMIT_CONFIG_NAME_BYTES];
	if (p->base_url[0] == '\0')
		return config_fail(err, errcap, "[provider %s] base_url is required", p->name);
	if (p->allow_http && strncmp(p->base_url, "http://", 7) == 0 && p->base_url[7] != '\0' && p->base_url[7] != '/')
		return 0;
	snprintf(key, sizeof(key), "[provider %s] base_url (or allow_http = true on a private network)", p->name);
	return config_url_ok(p->base_url, key, err, errcap);
}

static int section_add(struct gwconfig *g, const char *name, const struct gwconfig_section *s, char *err,
		       size_t errcap)
{
	struct gwconfig_provider *p = &g->providers[g->nproviders];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->kind = gwkind_named(s->kind);
	p->base_url = s->base_url;
	p->api_key = s->api_key;
	p->headers = s->headers;
	p->allow_http = strcmp(s->allow_http, "true") == 0;
	p->default_tier = tier_named(s->default_service_tier);
	p->byok = strcmp(s->byok, "on") == 0;
	p->index = g->nproviders++;
	size_t lines = 0;
	for (const char *c = p->headers; *c != '\0'; c++)
		lines += *c == '\n';
	if (lines > LIMIT_GATEWAY_PROVIDER_HEADERS)
		return config_fail(err, errcap, "[provider %s] headers: %zu lines, at most %d", name, lines,
				   LIMIT_GATEWAY_PROVIDER_HEADERS);
	char where[32 + LIMIT_CONFIG_NAME_BYTES];
	snprintf(where, sizeof(where), "[provider %s] free_fields", name);
	return base_url_ok(p, err, errcap) != 0 || models_parse(p, s->models, err, errcap) != 0 ||
			       free_fields_parse(s->free_fields, &p->free_fields, where, err, errcap) != 0
		       ? -1
		       : 0;
}

/* §12's provider of kind, unless a section of its name replaces it. */
static int legacy(struct gwconfig *g, const struct cfg *c, const char *kind, const char *base_url, const char *key,
		  const char *headers, char *err, size_t errcap)
{
	const char *name;
	for (size_t i = 0; config_named_at(c, CONFIG_MODULE_GATEWAY, i, &name) != NULL; i++)
		if (strcmp(name, kind) == 0)
			return 0;
	struct gwconfig_provider *p = &g->providers[g->nproviders];
	snprintf(p->name, sizeof(p->name), "%s", kind);
	p->kind = gwkind_named(kind);
	p->base_url = base_url;
	p->api_key = key;
	p->headers = headers;
	p->rest = 1;
	p->default_tier = tier_named(g->default_service_tier);
	p->byok = g->byok;
	p->index = g->nproviders++;
	char what[64];
	snprintf(what, sizeof(what), "gateway.%s_base_url", kind);
	return config_url_ok(base_url, what, err, errcap);
}

static int providers_make(const struct cfg *c, struct gwconfig *g, char *err, size_t errcap)
{
	const char *name;
	size_t n = 0;
	while (config_named_at(c, CONFIG_MODULE_GATEWAY, n, &name) != NULL)
		n++;
	if ((g->providers = calloc(n + 2, sizeof(*g->providers))) == NULL)
		return config_fail(err, errcap, "out of memory");
	g->openai_headers = malloc(2 * LIMIT_CONFIG_LINE_BYTES + 64);
	if (g->openai_headers == NULL)
		return config_fail(err, errcap, "out of memory");
	snprintf(g->openai_headers, 2 * LIMIT_CONFIG_LINE_BYTES + 64, "%s%s%s%s%s%s",
		 g->openai_organization[0] ? "OpenAI-Organization: " : "", g->openai_organization,
		 g->openai_organization[0] ? "\n" : "", g->openai_project[0] ? "OpenAI-Project: " : "",
		 g->openai_project, g->openai_project[0] ? "\n" : "");
	if (legacy(g, c, "openai", g->openai_base_url, g->openai_api_key, g->openai_headers, err, errcap) != 0 ||
	    legacy(g, c, "anthropic", g->anthropic_base_url, g->anthropic_api_key, "", err, errcap) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct gwconfig_section *s = config_named_at(c, CONFIG_MODULE_GATEWAY, i, &name);
		if (section_add(g, name, s, err, errcap) != 0)
			return -1;
	}
	return 0;
}

static int finish(const struct cfg *c, void *block, char *err, size_t errcap)
{
	struct gwconfig *g = block;
	g->shrink = strcmp(g->shrink_text, "on") == 0;
	g->byok = strcmp(g->byok_text, "on") == 0;
	g->provider_objects = strcmp(g->provider_objects_text, "on") == 0;
	g->drain = strcmp(g->on_client_gone, "drain") == 0;
	if (free_fields_parse(g->free_fields_text, &g->free_fields, "gateway.free_fields", err, errcap) != 0)
		return -1;
	return providers_make(c, g, err, errcap);
}

static void release(void *block)
{
	struct gwconfig *g = block;
	for (size_t i = 0; g->providers != NULL && i < g->nproviders; i++) {
		for (size_t j = 0; j < g->providers[i].nmodels; j++) {
			free(g->providers[i].models[j].name);
			free(g->providers[i].models[j].upstream);
		}
		free(g->providers[i].models);
		free_fields_release(&g->providers[i].free_fields);
	}
	free_fields_release(&g->free_fields);
	free(g->providers);
	free(g->openai_headers);
	g->providers = NULL;
	g->openai_headers = NULL;
	g->nproviders = 0;
}

const struct config_module gwconfig_module = {
	"gateway", CONFIG_MODULE_GATEWAY, keys, sizeof(keys) / sizeof(keys[0]), sizeof(struct gwconfig), finish,
	release, &sections,
};

/* p's entry for model, NULL when its list does not name it. */
static const struct gwconfig_model *listed(const struct gwconfig_provider *p, const char *model)
{
	for (size_t i = 0; i < p->nmodels; i++)
		if (strcmp(p->models[i].name, model) == 0)
			return &p->models[i];
	return NULL;
}

size_t gwconfig_candidates(const struct gwconfig *g, const struct gwkind *kind, const char *model,
			   const struct gwconfig_provider **out, size_t cap)
{
	int named = 0;
	size_t n = 0;
	/* §12's providers serve the models no section names, of any kind. */
	for (size_t i = 0; i < g->nproviders && !named; i++)
		named = listed(&g->providers[i], model) != NULL;
	for (size_t i = 0; i < g->nproviders && n < cap; i++) {
		const struct gwconfig_provider *p = &g->providers[i];
		if (p->kind == kind && (p->every || (p->rest && !named) || listed(p, model) != NULL))
			out[n++] = p;
	}
	return n;
}

const char *gwconfig_upstream_model(const struct gwconfig_provider *p, const char *model)
{
	const struct gwconfig_model *m = listed(p, model);
	return m != NULL ? m->upstream : model;
}

const struct gwconfig_provider *gwconfig_provider_of(const struct gwconfig *g, const struct gwkind *kind,
						     const char *name)
{
	for (size_t i = 0; i < g->nproviders; i++) {
		const struct gwconfig_provider *p = &g->providers[i];
		if (p->kind == kind && (name[0] != '\0' ? strcmp(p->name, name) == 0 : p->api_key[0] != '\0' || p->byok))
			return p;
	}
	return NULL;
}
