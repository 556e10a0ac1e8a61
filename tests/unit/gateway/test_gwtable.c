/* test_gwtable.c: unit tests for src/gateway/gwtable*.c, the tables of
 * what the gateway forwards, on the tables the build carries: a request
 * as the providers' references shape it passes; a member, a tool or part
 * type, an enum value or a beta no row names is refused with its path;
 * a refused row is refused with its reason; priced and bound rows are
 * told; an operator's free_fields let their entries through. No network,
 * no clock. Bodies are written with ' for " (J). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwtable.h"
#include "limits.h"
#include "tap.h"

static json_t *J(const char *s)
{
	size_t n = strlen(s);
	char *t = malloc(n + 1);
	for (size_t i = 0; i <= n; i++)
		t[i] = s[i] == '\'' ? '"' : s[i];
	json_error_t e;
	json_t *v = json_loads(t, 0, &e);
	if (v == NULL)
		fprintf(stderr, "bad test body %s: %s\n", t, e.text);
	free(t);
	return v;
}

static char param[LIMIT_GATEWAY_PARAM_BYTES], err[256];
static struct gwtable_seen seen;

static int walk_x(const char *table, const char *body, const struct gwtable_extra *x, size_t nx)
{
	json_t *v = J(body);
	param[0] = err[0] = '\0';
	int rc = gwtable_walk(gwtable_named(table), v, x, nx, &seen, param, sizeof(param), err, sizeof(err));
	json_decref(v);
	return rc;
}

static int walk(const char *table, const char *body)
{
	return walk_x(table, body, NULL, 0);
}

#define DIM(d) (1u << GWTABLE_DIM_##d)

static void openai_chat(void)
{
	is_int(walk("openai_chat", "{'model':'gpt-4o','messages':[{'role':'system','content':'be brief'},{'role':'user',"
			"'content':[{'type':'text','text':'hi'},{'type':'image_url','image_url':{'url':'data:x','detail':"
			"'low'}}]}],'temperature':0.2,'stream':true,'stream_options':{'include_usage':true},'metadata':"
			"{'any':'thing'},'tools':[{'type':'function','function':{'name':'f','parameters':{'type':'object',"
			"'properties':{'x':{'type':'string'}}}}}],'max_completion_tokens':50}"), 0,
	       "a chat body as the reference shapes it passes: %s %s", param, err);
	ok(seen.dims & DIM(OUTPUT_CAP), "its output cap is told");
	is_int(walk("openai_chat", "{'model':'m','messages':[],'my_own':1}"), -1, "a member no row names is refused");
	is_str(param, "my_own", "its path named");
	is_int(walk("openai_chat", "{'model':'m','messages':[{'role':'user','content':[{'type':'text','text':'x',"
			"'extra':1}]}]}"), -1, "a nested member no row names is refused");
	is_str(param, "messages[0].content[0].extra", "its path, with the indexes");
	is_int(walk("openai_chat", "{'model':'m','messages':[{'role':'user','content':[{'type':'video','x':1}]}]}"),
	       -1, "a part type no row names is refused");
	is_str(param, "messages[0].content[0].type", "the type member named");
	is_int(walk("openai_chat", "{'model':'m','messages':[{'role':'wizard','content':'x'}]}"), -1,
	       "a role no row names is refused");
	is_int(walk("openai_chat", "{'model':'m','messages':[],'reasoning_effort':'ultra'}"), -1,
	       "an enum value no row names is refused");
	is_str(param, "reasoning_effort", "the member named");
	is_int(walk("openai_chat", "{'model':'m','messages':[],'service_tier':'priority'}"), 0, "a priced tier passes");
	ok(seen.dims & DIM(TIER), "told as the tier");
	is_int(walk("openai_chat", "{'model':'m','messages':[],'moderation':{'model':'x'}}"), -1,
	       "a refused row is refused");
	ok(strstr(err, "moderation") != NULL && strstr(err, "not forwarded") != NULL, "with why: %s", err);
	is_int(walk("openai_chat", "{'model':'m','messages':[{'role':'user','content':[{'type':'file','file':"
			"{'file_id':'file-1'}}]}]}"), 0, "a stored file passes the table");
	ok(seen.dims & DIM(STORED), "told as stored input (api_gateway refuses it, or holds it at the context)");
	is_int(walk("openai_chat", "{'model':'m','messages':[{'role':'user','content':[{'type':'file','file':"
			"{'file_data':'data:application/pdf;base64,AAAA','filename':'a.pdf'}}]}]}"), 0,
	       "a document in the body passes");
	ok(seen.dims & DIM(DOCUMENT), "told as a document");
}

static void openai_responses(void)
{
	is_int(walk("openai_responses", "{'model':'m','input':'hi','tools':[{'type':'shell'}]}"), -1,
	       "the hosted shell tool is refused (a reviewer's finding)");
	is_str(param, "tools[0].type", "the tool's type named");
	is_int(walk("openai_responses", "{'model':'m','input':'hi','tools':[{'type':'code_interpreter','container':"
			"{'type':'auto'}}]}"), -1, "code_interpreter is refused");
	is_int(walk("openai_responses", "{'model':'m','input':[{'role':'user','content':'hi'}],'tools':[{'type':"
			"'web_search','search_context_size':'low'}]}"), 0, "web search passes: %s", err);
	ok(seen.dims & DIM(WEB_SEARCH), "told as web search");
	is_int(walk("openai_responses", "{'model':'m','input':'hi','background':true}"), 0,
	       "background passes the table (docs/gateway.md, \"Background responses\"): %s", err);
	is_int(walk("openai_responses", "{'model':'m','input':'hi','include':['reasoning.encrypted_content']}"), 0,
	       "an enum value with a dot passes: %s", err);
	is_int(walk("openai_responses", "{'model':'m','input':'hi','include':['anything.at.all']}"), -1,
	       "an enum value with a dot no row names is refused (a review's finding: let through before)");
	is_str(param, "include[0]", "its path");
	is_int(walk("openai_responses", "{'model':'m','input':'hi','service_tier=':1}"), -1,
	       "a member named with a table's punctuation is refused, never read as a path of the table");
	is_int(walk("openai_chat", "{'model':'m','messages':[],'messages[]{role=user}.content':1}"), -1,
	       "... nor as a nested path");
	is_int(walk("openai_responses", "{'model':'m','input':'hi','previous_response_id':'resp_1'}"), 0,
	       "previous_response_id passes the table (api_gateway decides)");
	ok(seen.dims & DIM(STORED), "told as stored input");
}

static void anthropic(void)
{
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'system':[{'type':'text','text':'s',"
			"'cache_control':{'type':'ephemeral'}}],'messages':[{'role':'user','content':[{'type':'text',"
			"'text':'hi'},{'type':'image','source':{'type':'base64','media_type':'image/png','data':'x'}}]},"
			"{'role':'assistant','content':[{'type':'tool_use','id':'t','name':'f','input':{'a':1}}]},"
			"{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':'ok'}]}],'tools':"
			"[{'name':'f','description':'d','input_schema':{'type':'object'}}],'thinking':{'type':'enabled',"
			"'budget_tokens':1024},'metadata':{'user_id':'u'}}"), 0,
	       "a Messages body as the reference shapes it passes: %s %s", param, err);
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'speed':'fast'}"), 0,
	       "speed fast passes the table");
	ok(seen.dims & DIM(SPEED), "told as priced (api_gateway refuses it where no price gives the multiple)");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'speed':'ludicrous'}"), -1,
	       "an unknown speed is refused");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'inference_geo':'us'}"), 0,
	       "inference_geo passes the table");
	ok(seen.dims & DIM(GEO), "told as priced");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'context_management':{'edits':"
			"[{'type':'compact_20260112'}]}}"), 0, "compaction passes: %s", err);
	ok(seen.dims & DIM(COMPACTION), "told as compaction (its usage read whole)");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'context_management':{'edits':"
			"[{'type':'compact_29990101'}]}}"), -1, "an edit type no row names is refused");
	is_str(param, "context_management.edits[0].type", "its path");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'tools':[{'type':"
			"'advisor_20260301','name':'advisor','model':'claude-opus-4-1'}]}"), 0, "the advisor tool passes");
	ok(seen.dims & DIM(TOOL_MODEL), "told as a tool with a model of its own");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'tools':[{'type':"
			"'web_fetch_20250910','name':'web_fetch'}]}"), -1, "web fetch is refused");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'mcp_servers':[]}"), -1,
	       "mcp_servers is refused");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[],'fallbacks':[]}"), -1,
	       "fallbacks to other models are refused");
	is_int(walk("anthropic_messages", "{'model':'m','max_tokens':10,'messages':[{'role':'user','content':[{'type':"
			"'document','source':{'type':'url','url':'https://x/a.pdf'}}]}]}"), 0,
	       "a document fetched by the provider passes the table");
	ok(seen.dims & DIM(STORED), "told as stored input: its bytes are not in the body");
}

static void betas_and_extras(void)
{
	const struct gwtable *t = gwtable_named("anthropic_messages");
	seen.dims = ~0u;	/* a caller's stack: the header's dimensions are its own, never what was there */
	is_int(gwtable_betas(t, "prompt-caching-2024-07-31, context-1m-2025-08-07", NULL, 0, &seen, err, sizeof(err)), 0,
	       "known free betas pass: %s", err);
	is_int(seen.dims, 0, "free betas ask no dimension (whatever the struct held before)");
	is_int(gwtable_betas(t, "prompt-caching-2024-07-31,my-beta-1", NULL, 0, &seen, err, sizeof(err)), -1,
	       "a beta no row names is refused");
	ok(strstr(err, "my-beta-1") != NULL, "named: %s", err);
	is_int(gwtable_betas(t, "fast-mode-2026-02-01", NULL, 0, &seen, err, sizeof(err)), 0,
	       "fast mode's beta passes (what is priced is \"speed\": \"fast\")");
	is_int(gwtable_betas(t, "mcp-client-2025-04-04", NULL, 0, &seen, err, sizeof(err)), -1, "a refused beta is refused");
	const char *entries[] = {"chat_template_kwargs", "type:my_tool", "beta:my-beta-1"};
	struct gwtable_extra x = {entries, 3};
	is_int(walk_x("openai_chat", "{'model':'m','messages':[],'chat_template_kwargs':{'a':{'b':1}}}", &x, 1), 0,
	       "an operator's free member passes, with all below it");
	is_int(walk_x("openai_chat", "{'model':'m','messages':[{'role':'user','content':'x','chat_template_kwargs':1}]}",
		      &x, 1), -1, "a free member is free at the top level only");
	is_int(walk_x("openai_responses", "{'model':'m','input':'x','tools':[{'type':'my_tool','x':1}]}", &x, 1), 0,
	       "an operator's free type passes");
	is_int(gwtable_betas(t, "my-beta-1", &x, 1, &seen, err, sizeof(err)), 0, "an operator's free beta passes");
	is_int(walk("openai_chat", "{'model':'m','messages':[],'temperature':'hot'}"), -1,
	       "a top-level member of a kind its type does not allow is refused");
	const char *hot[] = {"temperature"};
	struct gwtable_extra y = {hot, 1};
	is_int(walk_x("openai_chat", "{'model':'m','messages':[],'temperature':'hot'}", &y, 1), 0,
	       "... unless an operator's free_fields name it (their word): %s", err);
	json_t *form = J("{'model':'whisper-1','temperature':'0.5','file':''}");
	is_int(gwtable_walk(gwtable_named("openai_transcriptions"), form, NULL, 0, &seen, param, sizeof(param), err,
			    sizeof(err)), -1, "a JSON body's temperature is a number");
	is_int(gwtable_walk_form(gwtable_named("openai_transcriptions"), form, NULL, 0, &seen, param, sizeof(param),
				 err, sizeof(err)), 0, "a form's fields are text: their kinds are not checked: %s", err);
	json_object_del(form, "file");
	is_int(gwtable_walk_form(gwtable_named("openai_transcriptions"), form, NULL, 0, &seen, param, sizeof(param),
				 err, sizeof(err)), 0, "nor its required members (the route's reader checks them)");
	json_decref(form);
	is_int(gwtable_betas(gwtable_named("openai_chat"), "assistants=v2", NULL, 0, &seen, err, sizeof(err)), -1,
	       "OpenAI-Beta: no value is known (free_fields may name one)");
}

static void resolve(void)
{
	const struct gwtable *t = gwtable_named("anthropic_messages");
	is_int(gwtable_resolve(t, "messages[]{role=user}.content[]{type=text}.text", err, sizeof(err)), 0,
	       "a path of the SDKs' resolves through aliases: %s", err);
	is_int(gwtable_resolve(t, "messages[]{role=user}.content[]{type=text}.nope", err, sizeof(err)), -1,
	       "a member no row names does not");
	is_int(gwtable_resolve(t, "beta:fast-mode-2026-02-01", err, sizeof(err)), 0, "a beta resolves");
}

int main(void)
{
	char e[256];
	is_int(gwtable_init(e, sizeof(e)), 0, "the build's tables read: %s", e);
	ok(gwtable_named("openai_chat") != NULL && gwtable_named("openai_responses") != NULL &&
		   gwtable_named("openai_embeddings") != NULL && gwtable_named("anthropic_messages") != NULL,
	   "a table for each route");
	openai_chat();
	openai_responses();
	anthropic();
	betas_and_extras();
	resolve();
	return done_testing();
}
