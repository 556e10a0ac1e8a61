/* gwshape_bill.c: what a request asks for that the provider bills beyond
 * its tokens at the model's standard price (DESIGN §14, "The gateway
 * charges what the provider bills"): a service tier, 1-hour cache
 * writes, audio, a server-side tool. See gwshape.h's gw_ask.unpriced.
 *
 * Never: does I/O or changes the body. Why: creditd's price rows price
 * none of these yet, and a request creditd cannot price is refused before
 * it is forwarded, never charged at a flat token price. */
#include "gwshape.h"
#include "gwshape_int.h"
#include "limits.h"

#include <jansson.h>
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

/* A tool the provider runs and bills apart: web search or fetch, file
 * search, code interpreter or execution, image generation, computer use,
 * MCP. */
static int server_tool(const json_t *tool)
{
	static const char *const kinds[] = {"web_search", "web_fetch", "file_search", "code_interpreter",
					    "code_execution", "image_generation", "computer_use", "computer_", "mcp"};
	const json_t *type = json_object_get(tool, "type");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (starts(type, kinds[i]))
			return 1;
	return 0;
}

/* The first part anywhere in v asking what is priced apart: an audio
 * input part, or (Anthropic) a cache_control with a 1-hour ttl. The walk
 * is bounded by the depth gwshape_read checked before it. */
static const char *billed_part(const json_t *v)
{
	const char *key, *found = NULL;
	json_t *child;
	size_t i;
	if (json_is_object(v)) {
		if (gwshape_str_is(json_object_get(v, "type"), "input_audio"))
			return "input_audio";
		if (gwshape_str_is(json_object_get(json_object_get(v, "cache_control"), "ttl"), "1h"))
			return "cache_control";
		json_object_foreach((json_t *)v, key, child)
			if ((found = billed_part(child)) != NULL)
				return found;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if ((found = billed_part(child)) != NULL)
				return found;
	}
	return NULL;
}

/* A service tier other than the standard one ("auto" and OpenAI's
 * "default", Anthropic's "standard_only", are the standard price on a
 * model that prices no tier). */
static int dearer_tier(const json_t *tier)
{
	return tier != NULL && !gwshape_str_is(tier, "auto") && !gwshape_str_is(tier, "default") &&
	       !gwshape_str_is(tier, "standard_only");
}

static int audio_asked(const json_t *root)
{
	const json_t *m, *modalities = set(root, "modalities");
	size_t i;
	json_array_foreach(modalities, i, m)
		if (gwshape_str_is(m, "audio"))
			return 1;
	return 0;
}

void gwshape_read_billed(enum gw_route r, const json_t *root, struct gw_ask *ask)
{
	const json_t *tools = set(root, "tools"), *tool;
	size_t i;
	ask->unpriced = NULL;
	if (r == GW_OPENAI_EMBEDDINGS)
		return;
	if (dearer_tier(set(root, "service_tier")))
		ask->unpriced = "service_tier";
	else if (audio_asked(root))
		ask->unpriced = "modalities";
	else if (set(root, "audio") != NULL)
		ask->unpriced = "audio";
	else if (set(root, "web_search_options") != NULL)
		ask->unpriced = "web_search_options";
	else if (set(root, "mcp_servers") != NULL)
		ask->unpriced = "mcp_servers";
	json_array_foreach(tools, i, tool)
		if (ask->unpriced == NULL && server_tool(tool))
			ask->unpriced = "tools";
	if (ask->unpriced == NULL)
		ask->unpriced = billed_part(root);
}
