/* test_gwshape_kinds.c: unit tests of what a gateway body's top-level
 * members may be before anything is forwarded (src/gateway/gwtable_walk.c
 * through gwshape_read): a member of a JSON kind its row does not allow,
 * or a required member missing, refused naming it; what the pinned SDKs'
 * types allow passes, null for a member the route does not require
 * (docs/gateway.md, "What is checked before anything is forwarded").
 * No network, no clock. Samples are written with ' for " (J). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwshape.h"
#include "gwtable.h"
#include "tap.h"
#include "unit/gateway/jsample.h"

/* ---- a top-level member's JSON kind, a required member (gwtable.h) ---- */

/* test_98e's cases: refused by the route's table before anything is
 * forwarded (api_gateway answers 400 naming param), or passed (NULL). */
static const struct {
	const char *route, *body_j, *param, *words;
} kind_cases[] = {
	{"/openai/v1/chat/completions", "{'model':'m','messages':'hi'}", "messages",
	 "\"messages\" must be an array, not a string: not forwarded"},
	{"/openai/v1/chat/completions", "{'model':'m','max_tokens':5}", "messages", "\"messages\" is required: not forwarded"},
	{"/openai/v1/chat/completions", "{'model':'m','messages':null}", "messages", "must be an array, not null"},
	{"/openai/v1/chat/completions", "{'model':'m','messages':[],'temperature':'hot'}", "temperature",
	 "must be a number or null, not a string"},
	{"/openai/v1/chat/completions", "{'model':'m','messages':[],'tools':'f'}", "tools", "must be an array, not a string"},
	{"/openai/v1/chat/completions", "{'model':'m','messages':[],'stop':5}", "stop",
	 "must be a string, an array or null, not a number"},
	{"/openai/v1/responses", "{'model':'m','input':5}", "input", "must be a string or an array, not a number"},
	{"/openai/v1/responses", "{'model':'m','input':'x','instructions':5}", "instructions",
	 "must be a string or null, not a number"},
	{"/openai/v1/responses", "{'model':'m','input':'x','background':'yes'}", "background",
	 "must be a boolean or null, not a string"},
	{"/openai/v1/embeddings", "{'model':'m'}", "input", "\"input\" is required"},
	{"/openai/v1/embeddings", "{'model':'m','input':5}", "input", "must be a string or an array, not a number"},
	{"/openai/v1/moderations", "{'model':'omni-moderation-latest'}", "input", "\"input\" is required"},
	{"/openai/v1/images/generations", "{'prompt':'a fox','user':5}", "user", "must be a string, not a number"},
	{"/anthropic/v1/messages", "{'model':'m','max_tokens':5,'messages':'hi'}", "messages",
	 "must be an array, not a string"},
	{"/anthropic/v1/messages", "{'model':'m','max_tokens':5}", "messages", "\"messages\" is required"},
	{"/anthropic/v1/messages", "{'model':'m','max_tokens':5,'messages':[],'system':5}", "system",
	 "must be a string or an array, not a number"},
	{"/anthropic/v1/messages", "{'model':'m','max_tokens':5,'messages':[],'tools':'f'}", "tools",
	 "must be an array, not a string"},
	{"/anthropic/v1/messages/count_tokens", "{'model':'m'}", "messages", "\"messages\" is required"},
	/* What the types allow passes: null where they say so, each kind of a union. */
	{"/openai/v1/chat/completions", "{'model':'m','messages':[],'temperature':null,'stop':['a'],'tools':[],"
	 "'metadata':null,'n':null,'tool_choice':'auto'}", NULL, NULL},
	{"/openai/v1/chat/completions", "{'model':'m','messages':[],'stop':'END','tool_choice':{'type':'function',"
	 "'function':{'name':'f'}}}", NULL, NULL},
	{"/openai/v1/responses", "{'model':'m','input':[{'role':'user','content':'x'}],'instructions':null,"
	 "'background':false}", NULL, NULL},
	{"/openai/v1/embeddings", "{'model':'m','input':[[1,2]]}", NULL, NULL},
	{"/openai/v1/moderations", "{'input':['a','b']}", NULL, NULL},
	{"/openai/v1/audio/speech", "{'model':'tts-1','input':'hi','voice':{'id':'v1'},'speed':1.5}", NULL, NULL},
	{"/anthropic/v1/messages", "{'model':'m','max_tokens':5,'messages':[],'system':[{'type':'text','text':'s'}]}",
	 NULL, NULL},
	/* null passes for a member the route does not require, whatever the
	 * type says (a hand-written client's "not set"); a required one is refused. */
	{"/openai/v1/chat/completions", "{'model':'m','messages':[],'tools':null,'tool_choice':null,'user':null,"
	 "'response_format':null,'parallel_tool_calls':null}", NULL, NULL},
	{"/openai/v1/responses", "{'model':'m','input':null,'tools':null,'text':null}", NULL, NULL},
	{"/anthropic/v1/messages", "{'model':'m','max_tokens':5,'messages':[],'system':null,'tools':null,"
	 "'metadata':null,'stop_sequences':null}", NULL, NULL},
	{"/anthropic/v1/messages", "{'model':'m','max_tokens':5,'messages':null}", "messages",
	 "must be an array, not null"},
	/* count_tokens shares Messages' table, which does not require max_tokens. */
	{"/anthropic/v1/messages/count_tokens", "{'model':'m','messages':[]}", NULL, NULL},
};

static void test_read_kinds(void)
{
	for (size_t i = 0; i < sizeof(kind_cases) / sizeof(kind_cases[0]); i++) {
		struct gw_ask ask;
		char err[256] = "";
		const char *param = NULL, *body = kind_cases[i].body_j;
		int rc = read_j(gwkind_route(kind_cases[i].route), body, &ask, err, sizeof(err), &param);
		if (kind_cases[i].param == NULL) {
			ok(rc == 0 && !ask.table_refused, "passes: %s (%s%s)", body, err, ask.table_err);
			continue;
		}
		ok(rc == 0 && ask.table_refused, "refused before anything is forwarded: %s (%s)", body, err);
		is_str(ask.table_param, kind_cases[i].param, "... naming the member");
		ok(strstr(ask.table_err, kind_cases[i].words) != NULL, "... saying so: %s", ask.table_err);
	}
}

int main(void)
{
	char e[256] = "";
	is_int(gwtable_init(e, sizeof(e)), 0, "the gateway's tables read: %s", e);
	test_read_kinds();
	printf("# %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
	return done_testing();
}
