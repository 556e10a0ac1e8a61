/* gwkind_anthropic.c: the Anthropic API shape (docs/gateway.md): its route
 * (Messages, and its count_tokens, forwarded free), the members it reads of a request (max_tokens, required),
 * the usage of its answers and of its streams' events (message_start's
 * input, message_delta's cumulative output), its error shape (type by
 * status) and its headers upstream (x-api-key, anthropic-version,
 * anthropic-beta). One struct gwkind (gwkind.h) is all it exports.
 *
 * Never: does I/O, reads the clock or touches the ledger; changes a body
 * member other than the output cap; lets a count wrap or pass
 * LIMIT_TOKENS_MAX. A figure that is not a count is no usage: the call is
 * estimated by the documented rule, never charged a figure nobody stated. */
#include "gwkind.h"
#include "gwkind_int.h"
#include "limits.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

enum { MESSAGES, COUNT_TOKENS };

static const struct gwkind_route routes[] = {
	{&gwkind_anthropic, MESSAGES, "/anthropic/v1/messages", "/v1/messages", "gw_anthropic_messages", "messages", 0,
	 "messages", 0, "anthropic_messages", 0, NULL, NULL, NULL, 0, 0},
	/* Counting a request's input tokens: forwarded, free (not billed). */
	{&gwkind_anthropic, COUNT_TOKENS, "/anthropic/v1/messages/count_tokens", "/v1/messages/count_tokens",
	 "gw_anthropic_count_tokens", "count_tokens", 0, "messages", 1,
	 /* Its members are the Messages route's (the SDKs' types say so). */
	 "anthropic_messages", 0, NULL, NULL, NULL, 0, 0},
};

/* ---- what a request asks, the body sent upstream ------------------------- */

/* max_tokens is required (but by count_tokens, which writes nothing); its
 * members are not nullable, so a null one is refused by the type check. */
static int anthropic_read(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask,
			  struct gwkind_refusal *rf)
{
	if (r->id == COUNT_TOKENS)
		return 0;
	ask->cap_field = "max_tokens";
	if (json_object_get(root, "max_tokens") == NULL)
		return gwkind_refuse(rf, "max_tokens", "\"max_tokens\" is required");
	return gwkind_read_int(rf, r, root, "max_tokens", 1, LIMIT_TOKENS_MAX, &ask->output_cap);
}

static int anthropic_rewrites(const struct gwkind_route *r, const struct gw_ask *ask)
{
	(void)r;
	(void)ask;
	return 0;
}

/* A lowered cap replaces max_tokens, in its place. */
static int anthropic_rewrite(const struct gwkind_route *r, json_t *root, const struct gw_ask *ask, int lower,
			     int64_t cap)
{
	(void)r;
	return lower ? json_object_set_new(root, ask->cap_field, json_integer(cap)) : 0;
}

/* ---- usage --------------------------------------------------------------- */

/* Anthropic's usage members, in this order in part[]. */
enum { A_INPUT, A_CACHE_WRITE, A_CACHE_READ, A_OUTPUT, A_PARTS };
static const char *const anthropic_keys[A_PARTS] = {
	"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"
};

/* Each member present replaces its figure in part (message_delta repeats
 * them, and the latest stands); *seen gets a bit for each. -1 when one
 * is not a count. */
static int anthropic_parts(const json_t *usage, int64_t part[A_PARTS], unsigned *seen)
{
	int i, rc;

	*seen = 0;
	for (i = 0; i < A_PARTS; i++) {
		rc = gwkind_count_of(json_object_get(usage, anthropic_keys[i]), &part[i]);
		if (rc < 0)
			return -1;
		if (rc == 1)
			*seen |= 1u << i;
	}
	return 0;
}

/* An advisor's run (an iteration of type "advisor_message"): its figures
 * added to t, apart from the call's own (charged at its own model's
 * price, docs/gateway.md "A tool's own model"), its model noted. -1 when
 * one is not a count or a sum passes LIMIT_TOKENS_MAX. */
static int advisor_run(const json_t *e, struct gw_tool_usage *t)
{
	int64_t p[A_PARTS] = { 0, 0, 0, 0 }, hour = 0;
	unsigned seen;
	const char *model = json_string_value(json_object_get(e, "model"));
	if (anthropic_parts(e, p, &seen) != 0)
		return -1;
	gwkind_part_of(json_object_get(json_object_get(e, "cache_creation"), "ephemeral_1h_input_tokens"),
		       p[A_CACHE_WRITE], &hour);
	const int64_t add[GW_TOOL_PARTS] = {p[A_INPUT], p[A_CACHE_WRITE], p[A_CACHE_READ], p[A_OUTPUT], hour};
	for (int k = 0; k < GW_TOOL_PARTS; k++) {
		if (add[k] > LIMIT_TOKENS_MAX - t->tokens[k])
			return -1;
		t->tokens[k] += add[k];
	}
	if (model == NULL || strlen(model) >= sizeof(t->model))
		model = "";	/* no model named: not the one asked */
	if (t->runs++ == 0)
		snprintf(t->model, sizeof(t->model), "%s", model);
	else if (strcmp(t->model, model) != 0)
		t->models = 1;
	return 0;
}

/* usage.iterations: each entry not of type "message" (a compaction's
 * summarising pass, an advisor's run) is a pass the top-level figures
 * leave out, billed all the same (docs/gateway.md, "Usage read whole"):
 * its parts are added to part, an advisor's to t instead. -1 when one is
 * not a count or a sum passes LIMIT_TOKENS_MAX. */
static int anthropic_iterations(const json_t *usage, int64_t part[A_PARTS], struct gw_tool_usage *t)
{
	const json_t *e;
	size_t i;
	memset(t, 0, sizeof(*t));
	json_array_foreach(json_object_get(usage, "iterations"), i, e) {
		int64_t p[A_PARTS] = { 0, 0, 0, 0 };
		unsigned seen;
		if (!json_is_object(e) || gwkind_str_is(json_object_get(e, "type"), "message"))
			continue;
		if (gwkind_str_is(json_object_get(e, "type"), "advisor_message")) {
			if (advisor_run(e, t) != 0)
				return -1;
			continue;
		}
		if (anthropic_parts(e, p, &seen) != 0)
			return -1;
		for (int k = 0; k < A_PARTS; k++) {
			if (p[k] > LIMIT_TOKENS_MAX - part[k])
				return -1;
			part[k] += p[k];
		}
	}
	return 0;
}

/* A stream's iterations: a delta that gives them replaces those kept
 * (an advisor's runs in *t too); the kept ones are added to part. -1 as
 * anthropic_iterations. */
static int anthropic_keep_iterations(struct gw_stream *s, const json_t *usage, int64_t part[A_PARTS],
				     struct gw_tool_usage *t)
{
	int64_t it[A_PARTS];
	_Static_assert(sizeof(s->iterations) == sizeof(it), "one figure a part");
	memcpy(it, s->iterations, sizeof(it));
	*t = s->usage.tool;
	if (json_object_get(usage, "iterations") != NULL) {
		memset(it, 0, sizeof(it));
		if (anthropic_iterations(usage, it, t) != 0)
			return -1;
	}
	for (int k = 0; k < A_PARTS; k++)
		if (it[k] > LIMIT_TOKENS_MAX - part[k])
			return -1;
	/* Kept only once the sum is known to fit: a later delta takes off
	 * what was added. */
	memcpy(s->iterations, it, sizeof(it));
	for (int k = 0; k < A_PARTS; k++)
		part[k] += it[k];
	return 0;
}

/* The parts as creditd charges them (have left 0); -1 when the input's sum
 * passes LIMIT_TOKENS_MAX (each part is at most that: no wrap). */
static int anthropic_fill(const int64_t part[A_PARTS], struct gw_usage *u)
{
	int64_t input = part[A_INPUT] + part[A_CACHE_WRITE] + part[A_CACHE_READ];

	if (input > LIMIT_TOKENS_MAX)
		return -1;
	memset(u, 0, sizeof(*u));
	u->input_tokens = input;
	u->cached_input_tokens = part[A_CACHE_READ];
	u->cache_write_tokens = part[A_CACHE_WRITE];
	u->output_tokens = part[A_OUTPUT];
	return 0;
}

/* The parts a usage was made of (anthropic_fill's inverse). */
static void anthropic_unfill(const struct gw_usage *u, int64_t part[A_PARTS])
{
	part[A_INPUT] = u->input_tokens - u->cached_input_tokens - u->cache_write_tokens;
	part[A_CACHE_WRITE] = u->cache_write_tokens;
	part[A_CACHE_READ] = u->cached_input_tokens;
	part[A_OUTPUT] = u->output_tokens;
}

/* The usage members read (docs/gateway.md, "Usage read whole"): any
 * other "*_tokens" member is usage_unknown. */
static const char *const usage_top[] = {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
					"output_tokens", NULL};
static const char *const usage_in[] = {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens", NULL};
static const char *const usage_out[] = {"thinking_tokens", NULL};
static const struct gwkind_usage_names usage_names = {usage_top, "cache_creation", "output_tokens_details", usage_in,
						      usage_out};

/* Unknown "*_tokens" members of usage.iterations' passes (each entry
 * read as a usage of its own): counted with the top level's, the larger
 * of the two standing (a stream's figures are cumulative). */
static void iterations_unknown(const json_t *usage, struct gw_usage *u)
{
	const json_t *e;
	size_t i;
	int64_t sum = 0;
	json_array_foreach(json_object_get(usage, "iterations"), i, e) {
		struct gw_usage t;
		memset(&t, 0, sizeof(t));
		gwkind_usage_unknown(e, &usage_names, &t);
		sum = gwkind_clamp_tokens(gwkind_add_held(sum, gwkind_add_held(t.unknown_tokens,
							     gwkind_add_held(t.unknown_input_part, t.unknown_output_part))));
		if (t.unknown_member[0] != '\0' && u->unknown_member[0] == '\0')
			snprintf(u->unknown_member, sizeof(u->unknown_member), "iterations.%.32s", t.unknown_member);
	}
	u->unknown_tokens = sum > u->unknown_tokens ? sum : u->unknown_tokens;
}

/* What a usage says beyond tokens (docs/gateway.md, "What is billed"): the tier served, 1-hour
 * cache writes, web searches; a member absent leaves its figure as it was
 * (a stream says them in two events). */
static void read_dims(const json_t *usage, struct gw_usage *u)
{
	if (json_object_get(usage, "service_tier") != NULL)
		u->tier = gwkind_tier_served(json_object_get(usage, "service_tier"));
	gwkind_part_of(json_object_get(json_object_get(usage, "cache_creation"), "ephemeral_1h_input_tokens"),
			u->cache_write_tokens, &u->cache_write_1h_tokens);
	gwkind_part_of(json_object_get(json_object_get(usage, "server_tool_use"), "web_search_requests"),
			LIMIT_TOKENS_MAX, &u->web_searches);
	gwkind_usage_unknown(usage, &usage_names, u);
	iterations_unknown(usage, u);
}

/* A whole answer's usage: input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens as input, cache reads as cached, cache creation
 * as cache writes, output_tokens; have only with both input and output. */
static void anthropic_usage_whole(const struct gwkind_route *r, const json_t *root, struct gw_usage *u)
{
	const json_t *usage = json_object_get(root, "usage");
	int64_t part[A_PARTS] = { 0, 0, 0, 0 };
	struct gw_tool_usage tool;
	unsigned seen;

	(void)r;
	if (!json_is_object(usage))
		return;
	if (anthropic_parts(usage, part, &seen) == 0 && (seen & 1u << A_INPUT) && (seen & 1u << A_OUTPUT) &&
	    anthropic_iterations(usage, part, &tool) == 0 && anthropic_fill(part, u) == 0)
		u->have = 1;
	else
		memset(u, 0, sizeof(*u));
	if (u->have) {
		u->tool = tool;
		read_dims(usage, u);
	}
}

/* ---- streams ------------------------------------------------------------- */

/* message_start: the input, with its cache reads and writes. Its output
 * (1, or a few) is not the answer's, so the usage is not had yet. */
static void anthropic_start(struct gw_stream *s, const json_t *usage)
{
	int64_t part[A_PARTS] = { 0, 0, 0, 0 };
	struct gw_usage u;
	unsigned seen;

	if (anthropic_parts(usage, part, &seen) != 0 || !(seen & 1u << A_INPUT) || anthropic_fill(part, &u) != 0)
		return;	/* input unknown: an ending without usage holds the hold's bound */
	gwkind_keep_extras(&u, &s->usage);
	s->usage = u;
	read_dims(usage, &s->usage);
	s->input_seen = u.input_tokens;
}

/* message_delta: the output so far (cumulative: the last one stands,
 * never added), and the input members when it repeats them. */
static void anthropic_delta(struct gw_stream *s, const json_t *usage)
{
	int64_t part[A_PARTS];
	struct gw_tool_usage tool;
	struct gw_usage u;
	unsigned seen;
	int had = s->usage.have;

	anthropic_unfill(&s->usage, part);
	/* The iterations' passes were added to the figures kept: taken off
	 * again, as the delta's iterations (cumulative) replace them. */
	for (int k = 0; k < A_PARTS; k++)
		part[k] -= s->iterations[k];
	if (anthropic_parts(usage, part, &seen) != 0 || anthropic_keep_iterations(s, usage, part, &tool) != 0 ||
	    anthropic_fill(part, &u) != 0) {
		s->usage.have = 0;
		return;
	}
	u.have = (had || (seen & 1u << A_OUTPUT)) && (s->input_seen >= 0 || (seen & 1u << A_INPUT));
	gwkind_keep_extras(&u, &s->usage);
	u.tool = tool;
	s->usage = u;
	read_dims(usage, &s->usage);
}

static void anthropic_event(struct gw_stream *s, const char *type, const json_t *root)
{
	const json_t *delta = json_object_get(root, "delta"), *kind = json_object_get(delta, "type");

	if (strcmp(type, "message_start") == 0)
		anthropic_start(s, json_object_get(json_object_get(root, "message"), "usage"));
	else if (strcmp(type, "message_delta") == 0)
		anthropic_delta(s, json_object_get(root, "usage"));
	else if (strcmp(type, "message_stop") == 0)
		s->done = 1;
	else if (strcmp(type, "error") == 0)
		s->error = 1;
	else if (strcmp(type, "content_block_delta") != 0)
		return;
	else if (gwkind_str_is(kind, "text_delta"))
		gwkind_count_text(s, json_object_get(delta, "text"));
	else if (gwkind_str_is(kind, "input_json_delta"))
		gwkind_count_text(s, json_object_get(delta, "partial_json"));
	else if (gwkind_str_is(kind, "thinking_delta"))
		gwkind_count_text(s, json_object_get(delta, "thinking"));
}

static int anthropic_stream_event(struct gw_stream *s, const struct gwkind_sse *e)
{
	json_t *root = gwkind_event_json(e);
	char name[64];

	if (json_is_object(root))
		anthropic_event(s, gwkind_event_type(e, root, name, sizeof(name)), root);
	json_decref(root);
	return 1;
}

/* ---- errors and headers -------------------------------------------------- */

static const char *error_type(int status)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 402: return "billing_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 529: return "overloaded_error";
	default: break;
	}
	return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

/* {"type": "error", "error": {"type", "message", "code", ...}}: type by
 * status; creditd's other members beside them (its shape has no param:
 * one is kept only with a value), in that order. */
static json_t *anthropic_error(int status, const json_t *src)
{
	json_t *m = json_object_get(src, "message"), *c = json_object_get(src, "code"), *err = json_object(), *v;
	json_t *top = NULL;
	const char *key;
	int rc = err == NULL;

	if (rc == 0) {
		rc |= json_object_set_new(err, "type", json_string(error_type(status)));
		rc |= json_object_set_new(err, "message", json_is_string(m) ? json_incref(m) : json_string(""));
		rc |= json_object_set_new(err, "code", c != NULL ? json_incref(c) : json_null());
	}
	json_object_foreach((json_t *)src, key, v) {
		if (rc != 0)
			break;
		if (strcmp(key, "message") == 0 || strcmp(key, "type") == 0 || strcmp(key, "code") == 0)
			continue;
		if (strcmp(key, "param") == 0 && json_is_null(v))
			continue;
		rc |= json_object_set(err, key, v);
	}
	if (rc == 0)
		top = json_pack("{s:s, s:O}", "type", "error", "error", err);
	json_decref(err);
	return top;
}

/* The credential, anthropic-version (the client's, else the one the
 * shapes here are read from) and anthropic-beta when the client sent it. */
static int anthropic_headers(const struct gwkind_upstream *up, int (*add)(void *arg, const char *line), void *arg)
{
	char line[LIMIT_PROVIDER_KEY_BYTES + LIMIT_GATEWAY_HEADER_BYTES + 64];

	snprintf(line, sizeof(line), "x-api-key: %s", up->key);
	if (add(arg, line) != 0)
		return -1;
	snprintf(line, sizeof(line), "anthropic-version: %s", up->forwarded[0][0] != '\0' ? up->forwarded[0] : "2023-06-01");
	if (add(arg, line) != 0)
		return -1;
	if (up->forwarded[1][0] != '\0') {
		snprintf(line, sizeof(line), "anthropic-beta: %s", up->forwarded[1]);
		if (add(arg, line) != 0)
			return -1;
	}
	return 0;
}

/* Input past the long-context threshold needs the 1M-context beta, without
 * which the provider refuses it itself. */
static int anthropic_long_context_off(const char *const *forwarded)
{
	return strstr(forwarded[1], "context-1m") == NULL;
}

static const char *const forwarded[] = {"anthropic-version", "anthropic-beta", NULL};
static const char *const passed_back[] = {"anthropic-ratelimit-", NULL};

const struct gwkind gwkind_anthropic = {
	"anthropic", "Anthropic", routes, sizeof(routes) / sizeof(routes[0]), 0, forwarded, passed_back,
	anthropic_read, anthropic_rewrites, anthropic_rewrite, anthropic_usage_whole, anthropic_stream_event,
	anthropic_error, anthropic_headers, anthropic_long_context_off,
	1,	/* anthropic-beta */
	0,	/* "auto" may use priority capacity: held at the dearest */
};
