/* test_gwusage_whole.c: usage read whole (docs/gateway.md, "Usage read
 * whole"): Anthropic's usage.iterations passes outside the top-level
 * figures (a compaction's summary), whole and streamed; OpenAI's cache
 * writes in the details; a "*_tokens" member no reading places, at the
 * top level or in a details object, counted, and charged at the row's
 * dearest token price (gwmoney_dims), flagged usage_unknown. Samples are
 * the providers' documented shapes, written with ' for " (J). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwmoney.h"
#include "gwshape.h"
#include "unit/gateway/gwroutes.h"
#include "limits.h"
#include "tap.h"
#include "unit/gateway/jsample.h"

static struct gw_usage usage_j(const struct gwkind_route *r, const char *body_j)
{
	char *body = J(body_j);
	struct gw_usage u;
	memset(&u, 0, sizeof(u));
	gwshape_usage(r, body, strlen(body), &u);
	free(body);
	return u;
}

static int pass(void *arg, const char *event, size_t len, int p)
{
	(void)arg;
	(void)event;
	(void)len;
	(void)p;
	return 0;
}

static struct gw_usage stream_j(const struct gwkind_route *r, const char *text_j)
{
	struct gw_stream s;
	char *text = J(text_j);
	gwshape_stream_init(&s, r, 1);
	gwshape_stream_feed(&s, text, strlen(text), pass, NULL);
	struct gw_usage u = s.usage;
	gwshape_stream_free(&s);
	free(text);
	return u;
}

static void is_counts(struct gw_usage u, int64_t in, int64_t cached, int64_t write, int64_t out, const char *what)
{
	ok(u.have && u.input_tokens == in && u.cached_input_tokens == cached && u.cache_write_tokens == write &&
		   u.output_tokens == out,
	   "%s: have %d in %lld cached %lld write %lld out %lld", what, u.have, (long long)u.input_tokens,
	   (long long)u.cached_input_tokens, (long long)u.cache_write_tokens, (long long)u.output_tokens);
}

#define START "event: message_start\ndata: {'type':'message_start','message':{'id':'msg_1','type':'message'," \
	      "'role':'assistant','content':[],'model':'claude-sonnet-4-5','usage':{'input_tokens':472," \
	      "'cache_creation_input_tokens':100,'cache_read_input_tokens':2000,'output_tokens':2}}}\n\n"

static void iterations(void)
{
	/* Compaction (a reviewer's case): the summarising pass is billed
	 * under usage.iterations, outside the top-level figures, which are
	 * the message passes' own. */
	struct gw_usage u = usage_j(R_MESSAGES, "{'type':'message','stop_reason':'end_turn','usage':{'input_tokens':"
				    "23000,'cache_creation_input_tokens':0,'cache_read_input_tokens':0,'output_tokens':1000,"
				    "'iterations':[{'type':'compaction','input_tokens':180000,'cache_creation_input_tokens':0,"
				    "'cache_read_input_tokens':0,'output_tokens':3500},{'type':'message','input_tokens':23000,"
				    "'cache_creation_input_tokens':0,'cache_read_input_tokens':0,'output_tokens':1000}]}}");
	is_counts(u, 203000, 0, 0, 4500, "a compaction pass in iterations is charged too");
	u = usage_j(R_MESSAGES, "{'type':'message','usage':{'input_tokens':5,'output_tokens':1,'iterations':["
		    "{'type':'compaction','input_tokens':-3,'output_tokens':1}]}}");
	ok(u.have == 0, "an iteration whose figure is no count: no usage (estimated, never a wrong figure)");
	/* Streamed: the final message_delta carries the iterations; a later
	 * delta repeating them replaces, never adds. */
	u = stream_j(R_MESSAGES, START "event: message_delta\ndata: {'type':'message_delta','usage':{'output_tokens':30,"
		     "'iterations':[{'type':'compaction','input_tokens':90000,'cache_read_input_tokens':0,"
		     "'cache_creation_input_tokens':0,'output_tokens':2000},{'type':'message','input_tokens':472,"
		     "'output_tokens':30}]}}\n\nevent: message_delta\ndata: {'type':'message_delta','usage':"
		     "{'output_tokens':31,'iterations':[{'type':'compaction','input_tokens':90000,'output_tokens':2000}]}}"
		     "\n\n");
	is_counts(u, 472 + 100 + 2000 + 90000, 2000, 100, 31 + 2000, "a streamed compaction pass, once, the last figures");
}

/* An advisor tool's runs (docs/gateway.md, "A tool's own model"):
 * usage.iterations of type "advisor_message" (the SDK's
 * BetaAdvisorMessageIterationUsage) kept apart from the call's own
 * figures, with the model each named, whole and streamed. */
static void advisor(void)
{
	struct gw_usage u = usage_j(R_MESSAGES, "{'type':'message','usage':{'input_tokens':23000,"
				    "'cache_creation_input_tokens':0,'cache_read_input_tokens':0,'output_tokens':1000,"
				    "'iterations':[{'type':'message','input_tokens':12000,'output_tokens':400},"
				    "{'type':'advisor_message','model':'claude-opus-4-1','input_tokens':20000,"
				    "'cache_creation_input_tokens':500,'cache_read_input_tokens':3000,'output_tokens':800,"
				    "'cache_creation':{'ephemeral_5m_input_tokens':300,'ephemeral_1h_input_tokens':200}},"
				    "{'type':'message','input_tokens':11000,'output_tokens':600}]}}");
	is_counts(u, 23000, 0, 0, 1000, "an advisor run is not the call's own tokens");
	ok(u.tool.runs == 1 && u.tool.tokens[GW_TOOL_INPUT] == 20000 && u.tool.tokens[GW_TOOL_CACHE_WRITE] == 500 &&
		   u.tool.tokens[GW_TOOL_CACHE_READ] == 3000 && u.tool.tokens[GW_TOOL_OUTPUT] == 800 &&
		   u.tool.tokens[GW_TOOL_CACHE_1H] == 200 && !u.tool.models,
	   "the advisor's run kept apart: runs %lld in %lld out %lld", (long long)u.tool.runs,
	   (long long)u.tool.tokens[GW_TOOL_INPUT], (long long)u.tool.tokens[GW_TOOL_OUTPUT]);
	is_str(u.tool.model, "claude-opus-4-1", "with the model it ran");
	u = usage_j(R_MESSAGES, "{'type':'message','usage':{'input_tokens':5,'output_tokens':1,'iterations':["
		    "{'type':'advisor_message','model':'a','input_tokens':1,'output_tokens':1},"
		    "{'type':'advisor_message','model':'b','input_tokens':2,'output_tokens':3}]}}");
	ok(u.tool.runs == 2 && u.tool.models && u.tool.tokens[GW_TOOL_OUTPUT] == 4, "two runs naming two models: flagged");
	u = usage_j(R_MESSAGES, "{'type':'message','usage':{'input_tokens':5,'output_tokens':1,'iterations':["
		    "{'type':'advisor_message','model':'a','input_tokens':'x','output_tokens':1}]}}");
	ok(u.have == 0, "an advisor figure that is no count: no usage");
	/* Streamed: the last delta's iterations stand. */
	u = stream_j(R_MESSAGES, START "event: message_delta\ndata: {'type':'message_delta','usage':{'output_tokens':30,"
		     "'iterations':[{'type':'advisor_message','model':'claude-opus-4-1','input_tokens':9000,"
		     "'output_tokens':700}]}}\n\nevent: message_delta\ndata: {'type':'message_delta','usage':"
		     "{'output_tokens':31,'iterations':[{'type':'advisor_message','model':'claude-opus-4-1',"
		     "'input_tokens':9000,'output_tokens':700}]}}\n\n");
	is_counts(u, 472 + 100 + 2000, 2000, 100, 31, "streamed: the call's own figures alone");
	ok(u.tool.runs == 1 && u.tool.tokens[GW_TOOL_INPUT] == 9000 && u.tool.tokens[GW_TOOL_OUTPUT] == 700,
	   "streamed: the advisor's run once, the last figures (runs %lld, in %lld)", (long long)u.tool.runs,
	   (long long)u.tool.tokens[GW_TOOL_INPUT]);
}

static void details_and_unknown(void)
{
	struct gw_usage u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':100,'completion_tokens':20,'total_tokens':120,"
				    "'prompt_tokens_details':{'cached_tokens':10,'cache_write_tokens':30,'audio_tokens':0}}}");
	is_counts(u, 100, 10, 30, 20, "OpenAI's cache writes read from the details (charged at their price)");
	ok(u.unknown_tokens == 0 && u.unknown_input_part == 0 && u.unknown_member[0] == '\0', "nothing unknown");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':100,'completion_tokens':20,'total_tokens':120,"
		    "'prompt_tokens_details':{'cached_tokens':0,'cache_write_tokens':101}}}");
	ok(u.have == 0, "cache writes above the uncached input: no usage");
	u = usage_j(R_CHAT, "{'usage':{'prompt_tokens':100,'completion_tokens':20,'total_tokens':170,"
		    "'tool_tokens':50}}");
	is_counts(u, 100, 0, 0, 20, "a top-level member no reading places leaves the known figures");
	is_int(u.unknown_tokens, 50, "and is counted unknown");
	is_str(u.unknown_member, "tool_tokens", "named");
	u = usage_j(R_RESPONSES, "{'id':'resp_1','usage':{'input_tokens':100,'output_tokens':20,'total_tokens':120,"
		    "'input_tokens_details':{'cached_tokens':0,'image_tokens':40},'output_tokens_details':"
		    "{'reasoning_tokens':5,'tool_call_tokens':7}}}");
	ok(u.unknown_input_part == 40 && u.unknown_output_part == 7 && u.unknown_tokens == 0,
	   "unknown parts of the details: input %lld output %lld", (long long)u.unknown_input_part,
	   (long long)u.unknown_output_part);
	is_str(u.unknown_member, "input_tokens_details.image_tokens", "the first named with its object");
	u = usage_j(R_MESSAGES, "{'type':'message','usage':{'input_tokens':10,'output_tokens':5,"
		    "'cache_creation':{'ephemeral_5m_input_tokens':0,'ephemeral_1h_input_tokens':0},"
		    "'output_tokens_details':{'thinking_tokens':3},'server_tool_use':{'web_search_requests':0},"
		    "'advisor_tokens':'many'}}");
	is_int(u.unknown_tokens, LIMIT_TOKENS_MAX, "a member that is no count: never charged less than it may say");
	u = stream_j(R_MESSAGES, START "event: message_delta\ndata: {'type':'message_delta','usage':{'output_tokens':9,"
		     "'vision_tokens':12}}\n\n");
	is_int(u.unknown_tokens, 12, "streamed, read from the delta");
}

static void charged(void)
{
	struct price p = {3000000, 300000, 15000000, 64000, 3750000, PRICING_NO_DIMS};
	struct gw_ask ask;
	memset(&ask, 0, sizeof(ask));
	struct gw_asked a = {R_MESSAGES, 100, 1, 1000};
	struct gw_usage u;
	memset(&u, 0, sizeof(u));
	u.have = 1;
	u.input_tokens = 800;
	u.output_tokens = 50;
	u.unknown_tokens = 12;
	u.unknown_input_part = 40;
	u.unknown_output_part = 7;
	snprintf(u.unknown_member, sizeof(u.unknown_member), "vision_tokens");
	struct gw_charge c;
	int64_t extra = 0;
	gwmoney_charge(&a, &u, &c);
	is_int(gwmoney_dims(&ask, &p, 5, &u, &extra, &c), PRICING_OK, "priced");
	/* dearest 15 (output): 12 × 15 + 40 × (15 - 3) + 7 × 0, per million */
	is_int(extra, 12LL * 15000000 + 40LL * 12000000, "unknown tokens at the dearest price, parts at the difference");
	ok(c.usage_unknown && strstr(c.why, "usage_unknown") && strstr(c.why, "vision_tokens"), "flagged: %s", c.why);
	memset(&u, 0, sizeof(u));
	u.have = 1;
	u.input_tokens = 800;
	gwmoney_charge(&a, &u, &c);
	extra = 0;
	gwmoney_dims(&ask, &p, 5, &u, &extra, &c);
	ok(!c.usage_unknown && extra == 0, "nothing unknown: nothing more, no flag");
}

int main(void)
{
	iterations();
	advisor();
	details_and_unknown();
	charged();
	return done_testing();
}
