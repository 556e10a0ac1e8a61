/* test_gwobject.c: unit tests for src/gateway/gwobject.c (docs/gateway.md,
 * "Provider objects"): an object's id checked, an object route's query
 * passed on only as its list of the provider's parameters names it (each
 * value of its type, a refused value refused, the rest refused by name,
 * all encoded again), and the provider's path built from the id and the
 * query. On OpenAI's response routes as gwkind_openai.c defines them. No
 * network, no clock. */
#include <stdio.h>
#include <string.h>

#include "gwkind.h"
#include "gwobject.h"
#include "limits.h"
#include "tap.h"

static const struct gwkind_route *get, *items;

/* The query route r passes on for raw: 0 with out, or -1 with the param
 * named in param. */
static int query(const struct gwkind_route *r, const char *raw, char *out, size_t cap, char *param)
{
	char err[256];
	return gwobject_query(r, raw, out, cap, param, 64, err, sizeof(err));
}

static void test_id(void)
{
	char long_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES + 1];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	ok(gwobject_id_ok("resp_0123abcdef"), "a response id");
	ok(!gwobject_id_ok(""), "an empty id is none");
	ok(!gwobject_id_ok(long_id), "an id longer than creditd keeps is none");
	long_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES - 1] = '\0';
	ok(gwobject_id_ok(long_id), "the longest id creditd keeps");
	ok(!gwobject_id_ok("resp_\x01"), "a control character is no id");
	ok(!gwobject_id_ok("resp_\xff"), "bytes that are not UTF-8 are no id");
}

static void test_retrieve_query(void)
{
	char out[LIMIT_GATEWAY_QUERY_BYTES], param[64];
	is_int(query(get, "", out, sizeof(out), param), 0, "no query");
	is_str(out, "", "none sent");
	is_int(query(get, NULL, out, sizeof(out), param), 0, "NULL is none");
	is_int(query(get, "include%5B%5D=message.output_text.logprobs&include_obfuscation=false", out, sizeof(out),
		     param), 0, "the SDK's query");
	is_str(out, "include%5B%5D=message.output_text.logprobs&include_obfuscation=false", "passed on as encoded");
	is_int(query(get, "include[]=a+b&&include=c", out, sizeof(out), param), 0, "raw brackets, a '+', an empty pair");
	is_str(out, "include%5B%5D=a%20b&include=c", "encoded again");
	is_int(query(get, "stream=false&starting_after=3", out, sizeof(out), param), 0, "stream=false is a whole retrieve");
	is_str(out, "stream=false&starting_after=3", "passed on");
	is_int(query(get, "stream=true", out, sizeof(out), param), -1, "a resumed stream refused");
	is_str(param, "stream", "naming stream");
	is_int(query(get, "stream=yes", out, sizeof(out), param), -1, "a boolean must be true or false");
	is_int(query(get, "starting_after=-1", out, sizeof(out), param), -1, "an integer below its range");
	is_str(param, "starting_after", "naming it");
	is_int(query(get, "starting_after=1x", out, sizeof(out), param), -1, "not an integer");
	is_int(query(get, "after=msg_1", out, sizeof(out), param), -1, "input_items' parameter is not retrieve's");
	is_str(param, "after", "naming it");
	is_int(query(get, "include", out, sizeof(out), param), -1, "a parameter without a value");
	is_str(param, "include", "naming it");
	is_int(query(get, "include=%zz", out, sizeof(out), param), -1, "a malformed value");
	is_int(query(get, "include=%01", out, sizeof(out), param), -1, "a control character in a value");
	is_int(query(get, "%zz=1", out, sizeof(out), param), -1, "a malformed name");
	is_int(query(get, "include=abcdefghij", out, 16, param), -1, "a query past the room: refused, never cut");
	is_str(param, "", "naming the query as a whole");
}

static void test_items_query(void)
{
	char out[LIMIT_GATEWAY_QUERY_BYTES], param[64];
	is_int(query(items, "after=msg_1&limit=1&order=asc", out, sizeof(out), param), 0, "a page's query");
	is_str(out, "after=msg_1&limit=1&order=asc", "passed on");
	is_int(query(items, "limit=100", out, sizeof(out), param), 0, "the largest limit");
	is_int(query(items, "limit=0", out, sizeof(out), param), -1, "limit below 1");
	is_str(param, "limit", "naming it");
	is_int(query(items, "limit=101", out, sizeof(out), param), -1, "limit above 100");
	is_int(query(items, "order=desc", out, sizeof(out), param), 0, "desc");
	is_int(query(items, "order=up", out, sizeof(out), param), -1, "an order the reference does not name");
	is_str(param, "order", "naming it");
	is_int(query(items, "stream=false", out, sizeof(out), param), -1, "retrieve's parameter is not input_items'");
}

static void test_path(void)
{
	char out[128];
	is_int(gwobject_path(get, "resp_1", "", out, sizeof(out)), 0, "retrieve's path");
	is_str(out, "/responses/resp_1", "the id in place of '*'");
	is_int(gwobject_path(items, "resp_1", "limit=1", out, sizeof(out)), 0, "input_items' path");
	is_str(out, "/responses/resp_1/input_items?limit=1", "with its query");
	is_int(gwobject_path(get, "a/b?c", "", out, sizeof(out)), 0, "an id of any bytes");
	is_str(out, "/responses/a%2Fb%3Fc", "one segment, encoded");
	is_int(gwobject_path(items, "resp_1", "limit=1", out, 20), -1, "a path past the room: refused");
}

int main(void)
{
	get = gwkind_route_named("gw_openai_response_get");
	items = gwkind_route_named("gw_openai_response_input_items");
	ok(get != NULL && items != NULL && get->object && items->object, "the response routes are object routes");
	if (get == NULL || items == NULL)
		return done_testing();
	test_id();
	test_retrieve_query();
	test_items_query();
	test_path();
	return done_testing();
}
