/* gwshape_dims.c: what a provider's usage bills beyond its token counts
 * (DESIGN §14): the service tier served, Anthropic's 1-hour cache writes
 * and web searches, OpenAI's audio tokens and Responses' web search
 * calls, read into struct gw_usage beside the counts gwshape_usage.c
 * reads. Never: charges, prices or changes what it reads. */
#include "gwshape.h"
#include "gwshape_int.h"

/* The tier a service_tier says was served: OpenAI's "priority" and
 * "scale", Anthropic's "priority"; "flex"; anything else standard. */
static int tier_served(const json_t *v)
{
	if (gwshape_str_is(v, "priority") || gwshape_str_is(v, "scale"))
		return GW_TIER_PRIORITY;
	return gwshape_str_is(v, "flex") ? GW_TIER_FLEX : GW_TIER_STANDARD;
}

/* Sets *out to the count at v when v is one (a part is kept within its
 * total: at most `most`). */
static void part_of(const json_t *v, int64_t most, int64_t *out)
{
	int64_t n;
	if (gwshape_count_of(v, &n) == 1)
		*out = n < most ? n : most;
}

/* Reads what answer (the answer object, NULL when the event has none)
 * and its usage say beyond tokens into u; a member absent leaves its
 * figure as it was (Anthropic's stream says them in two events). */
void gwshape_read_dims(enum gw_route r, const json_t *answer, const json_t *usage, struct gw_usage *u)
{
	if (r == GW_ANTHROPIC_MESSAGES) {
		if (json_object_get(usage, "service_tier") != NULL)
			u->tier = tier_served(json_object_get(usage, "service_tier"));
		part_of(json_object_get(json_object_get(usage, "cache_creation"), "ephemeral_1h_input_tokens"),
			u->cache_write_tokens, &u->cache_write_1h_tokens);
		part_of(json_object_get(json_object_get(usage, "server_tool_use"), "web_search_requests"), LIMIT_TOKENS_MAX,
			&u->web_searches);
		return;
	}
	if (answer != NULL && json_object_get(answer, "service_tier") != NULL)
		u->tier = tier_served(json_object_get(answer, "service_tier"));
	if (r == GW_OPENAI_CHAT) {
		part_of(json_object_get(json_object_get(usage, "prompt_tokens_details"), "audio_tokens"),
			u->input_tokens - u->cached_input_tokens, &u->audio_input_tokens);
		part_of(json_object_get(json_object_get(usage, "completion_tokens_details"), "audio_tokens"),
			u->output_tokens, &u->audio_output_tokens);
	} else if (r == GW_OPENAI_RESPONSES && answer != NULL) {
		const json_t *item;
		size_t i;
		int64_t n = 0;
		json_array_foreach(json_object_get(answer, "output"), i, item)
			n += gwshape_str_is(json_object_get(item, "type"), "web_search_call");
		u->web_searches = n;
	}
}

/* Carries what a stream's usage had beyond its counts (the response id,
 * the dimensions seen in earlier events) onto the usage replacing it. */
void gwshape_keep_extras(struct gw_usage *to, const struct gw_usage *from)
{
	memcpy(to->response_id, from->response_id, sizeof(to->response_id));
	to->tier = from->tier;
	to->cache_write_1h_tokens = from->cache_write_1h_tokens;
	to->audio_input_tokens = from->audio_input_tokens;
	to->audio_output_tokens = from->audio_output_tokens;
	to->web_searches = from->web_searches;
}

