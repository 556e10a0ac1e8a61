/* gwshape_bill.c: what a request asks for that the provider bills beyond
 * its tokens at the model's standard price (docs/gateway.md, "What is
 * billed and how creditd prices it"): a service tier, 1-hour cache
 * writes, audio, web search, a tool running a model of its own. See
 * gwkind.h's gw_ask (tier ... tool_model). What is refused outright (a
 * server-side tool billed apart, MCP) is the route's table's to say
 * (gwtable.h).
 *
 * Never: does I/O, prices or changes the body. api_gateway holds what a
 * model's row prices and refuses the rest before anything is forwarded:
 * never charged at a flat token price. */
#include "gwshape.h"
#include "gwshape_int.h"
#include "limits.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* A member present and not null (OpenAI's optional members are nullable;
 * a null one is one left out). */
static const json_t *set(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return v != NULL && !json_is_null(v) ? v : NULL;
}

static int starts(const json_t *v, const char *prefix)
{
	return json_is_string(v) && strncmp(json_string_value(v), prefix, strlen(prefix)) == 0;
}

/* A web search tool: OpenAI Responses' web_search and web_search_preview
 * (dated versions too), Anthropic's web_search_20250305. */
static int web_search_tool(const json_t *tool)
{
	return starts(json_object_get(tool, "type"), "web_search");
}

/* Marks in ask the parts anywhere in v asking what is priced apart: an
 * audio input part, or (Anthropic) a cache_control with a 1-hour ttl.
 * The walk is bounded by the depth gwshape_read checked before it. */
static void billed_parts(const json_t *v, struct gw_ask *ask)
{
	const char *key;
	json_t *child;
	size_t i;
	if (json_is_object(v)) {
		if (gwkind_str_is(json_object_get(v, "type"), "input_audio") && ask->audio == NULL)
			ask->audio = "input_audio";
		if (gwkind_str_is(json_object_get(json_object_get(v, "cache_control"), "ttl"), "1h"))
			ask->cache_1h = 1;
		json_object_foreach((json_t *)v, key, child)
			billed_parts(child, ask);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			billed_parts(child, ask);
	}
}

/* The tier asked: "auto" the dearest the row prices; OpenAI's "default"
 * and Anthropic's "standard_only" the standard one; "scale" (an OpenAI
 * commitment) is taken as priority, the dearest on-demand tier. */
static int tier_of(const json_t *tier)
{
	if (tier == NULL || gwkind_str_is(tier, "default") || gwkind_str_is(tier, "standard_only"))
		return GW_TIER_STANDARD;
	if (gwkind_str_is(tier, "auto"))
		return GW_TIER_AUTO;
	return gwkind_str_is(tier, "flex") ? GW_TIER_FLEX : GW_TIER_PRIORITY;
}

/* The most searches a web search tool may run: its max_uses (Anthropic),
 * else the request's max_tool_calls (Responses), else -1. */
static int64_t searches_max(const json_t *root, const json_t *tool)
{
	const json_t *n = json_object_get(tool, "max_uses");
	if (!json_is_integer(n))
		n = json_object_get(root, "max_tool_calls");
	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return -1;
	/* Held for at most LIMIT_GATEWAY_TOOL_CALLS_MAX: more, if the provider
	 * runs them, are charged and flagged over_hold (a fee each past the
	 * limit would otherwise overflow the hold). */
	return json_integer_value(n) > LIMIT_GATEWAY_TOOL_CALLS_MAX ? LIMIT_GATEWAY_TOOL_CALLS_MAX
								    : (int64_t)json_integer_value(n);
}

/* OpenAI's search_context_size (of a Responses web search tool, or of
 * Chat's web_search_options): low 1, medium 2, high 3; left out, the
 * provider's default, medium. The table refused any other value. */
static int search_size(const json_t *options)
{
	const json_t *size = set(options, "search_context_size");
	if (gwkind_str_is(size, "low"))
		return 1;
	return gwkind_str_is(size, "high") ? 3 : 2;
}

/* A tool that runs a model of its own (Anthropic's advisor_20260301):
 * its model, output cap, uses and cache ttl into ask (gwkind.h). A model
 * that is no model name (not a string, empty, over 64 bytes, a control
 * character) marks tool_model_bad; a max_tokens or max_uses that is no
 * count is left unsaid (the provider refuses it; were it taken, the hold
 * is the worst case anyway). */
static void tool_model(const json_t *tool, struct gw_ask *ask)
{
	const json_t *model = json_object_get(tool, "model"), *cap = set(tool, "max_tokens");
	const json_t *uses = set(tool, "max_uses");
	const char *name = json_string_value(model);
	size_t n = name != NULL ? strlen(name) : 0;
	int bad = name == NULL || n == 0 || n >= sizeof(ask->tool_model);
	for (size_t i = 0; !bad && i < n; i++)
		bad = (unsigned char)name[i] < 0x20 || name[i] == 0x7f;
	ask->tool_model_bad = bad;
	snprintf(ask->tool_model, sizeof(ask->tool_model), "%s", bad ? "" : name);
	if (json_is_integer(cap) && json_integer_value(cap) >= 1 && json_integer_value(cap) <= LIMIT_TOKENS_MAX)
		ask->tool_model_cap = json_integer_value(cap);
	if (json_is_integer(uses) && json_integer_value(uses) >= 0)
		ask->tool_model_uses = json_integer_value(uses) > LIMIT_GATEWAY_TOOL_CALLS_MAX
				       ? LIMIT_GATEWAY_TOOL_CALLS_MAX : json_integer_value(uses);
	ask->tool_model_cache_1h = gwkind_str_is(json_object_get(set(tool, "caching"), "ttl"), "1h");
}

static int audio_asked(const json_t *root)
{
	const json_t *m, *modalities = set(root, "modalities");
	size_t i;
	json_array_foreach(modalities, i, m)
		if (gwkind_str_is(m, "audio"))
			return 1;
	return 0;
}

void gwshape_read_billed(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask)
{
	const json_t *tools = set(root, "tools"), *tool;
	size_t i;
	ask->tier = GW_TIER_STANDARD;
	ask->tier_defaulted = 0;
	ask->cache_1h = 0;
	ask->audio = ask->web_search = NULL;
	ask->web_search_max = -1;
	ask->web_search_size = 0;
	ask->tool_model[0] = '\0';
	ask->tool_model_bad = ask->tool_model_cache_1h = 0;
	ask->tool_model_cap = ask->tool_model_uses = -1;
	if (r->input_only || gwkind_media(r) != GW_MEDIA_NONE)
		return;	/* embeddings, the audio routes: no tier, tools or audio members */
	ask->tier = tier_of(set(root, "service_tier"));
	ask->tier_defaulted = r->kind->tier_auto_is_default &&
			      (set(root, "service_tier") == NULL || gwkind_str_is(set(root, "service_tier"), "auto"));
	if (audio_asked(root))
		ask->audio = "modalities";
	else if (set(root, "audio") != NULL)
		ask->audio = "audio";
	if (set(root, "web_search_options") != NULL) {
		ask->web_search = "web_search_options";
		ask->web_search_max = 1;	/* Chat's search models: one search a call */
		ask->web_search_size = search_size(set(root, "web_search_options"));
	}
	/* Several search tools: held and charged at the dearest size any
	 * asks, for as many searches as all may run (-1: one names no max). */
	json_array_foreach(tools, i, tool) {
		if (starts(json_object_get(tool, "type"), "advisor_")) {
			if (ask->tool_model[0] == '\0' && !ask->tool_model_bad)
				tool_model(tool, ask);
			continue;
		}
		if (!web_search_tool(tool))
			continue;
		int64_t most = searches_max(root, tool);
		/* Anthropic's web search has no context size (0: the row's fee). */
		int size = r->kind->tier_auto_is_default ? search_size(tool) : 0;
		ask->web_search_max = ask->web_search == NULL ? most
				      : most < 0 || ask->web_search_max < 0 ? -1
				      : gwkind_add_held(ask->web_search_max, most);
		ask->web_search_size = ask->web_search == NULL || size > ask->web_search_size ? size
											 : ask->web_search_size;
		ask->web_search = "tools";
	}
	billed_parts(root, ask);
}
