/* gwshape.c: the providers' wire formats on the way in and out (see
 * gwshape.h, DESIGN §12); the usage they report, in an answer or a
 * stream, is gwshape_usage.c's.
 *
 * Owns: what a gateway request asks (model, stream, output cap, an upper
 * bound of its input tokens), the two changes made to the body sent
 * upstream, and creditd's errors in each provider's shape.
 *
 * Never: does I/O, reads the clock or touches the ledger; changes a body
 * member other than the two DESIGN §12 names; lets a count wrap or pass
 * LIMIT_TOKENS_MAX.
 *
 * Why: the hold is made from what is read here before the provider says
 * anything, and the provider must get the request the client sent. A body
 * the provider would refuse is refused here first when creditd would
 * otherwise read it differently from the provider (a repeated key, a cap
 * or a stream flag of the wrong type), naming the member. */
#include "gwshape.h"
#include "gwshape_int.h"
#include "jsonio.h"
#include "limits.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenAI's chat "n": the most choices it answers in one call. */
#define GW_CHOICES_MAX 128
/* A number with a fraction or an exponent takes 3 bytes at least in a body
 * ("1e5", "0.5") and 24 at most as jansson writes it again
 * ("-2.2250738585072014e-308"): what its part's length may have grown. */
#define GW_REAL_SLACK_BYTES 21

_Static_assert(sizeof(((struct gw_ask *)0)->model) == LIMIT_NAME_BYTES + 1, "a model name fits with its NUL");

enum gw_provider gwshape_provider(enum gw_route r)
{
	return r == GW_ANTHROPIC_MESSAGES ? GW_ANTHROPIC : GW_OPENAI;
}

/* ---- what a request asks ------------------------------------------------- */

struct refusal {
	char *err;
	size_t errcap;
	const char **param;
};

__attribute__((format(printf, 3, 4)))
static int refuse(struct refusal *rf, const char *param, const char *fmt, ...)
{
	va_list ap;

	if (rf->err != NULL && rf->errcap > 0) {
		va_start(ap, fmt);
		vsnprintf(rf->err, rf->errcap, fmt, ap);
		va_end(ap);
	}
	if (rf->param != NULL)
		*rf->param = param;
	return -1;
}

/* A member as route r reads it: OpenAI's optional members are nullable
 * (null is the member left out); Anthropic's are not, and a null there is
 * a value its type check refuses. */
static json_t *member(enum gw_route r, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v != NULL && json_is_null(v) && gwshape_provider(r) == GW_OPENAI)
		return NULL;
	return v;
}

static int read_model(struct refusal *rf, const json_t *root, struct gw_ask *ask)
{
	json_t *m = json_object_get(root, "model");
	size_t n;

	if (!json_is_string(m))
		return refuse(rf, "model", "\"model\" must be a string naming the model");
	n = json_string_length(m);
	if (jsonio_check_text(json_string_value(m), n, 1, LIMIT_NAME_BYTES) != 0)
		return refuse(rf, "model", "\"model\" must be 1 to %d bytes without control characters",
			      LIMIT_NAME_BYTES);
	memcpy(ask->model, json_string_value(m), n);
	ask->model[n] = '\0';
	return 0;
}

static int read_stream(struct refusal *rf, enum gw_route r, const json_t *root, struct gw_ask *ask)
{
	json_t *v = member(r, root, "stream"), *opts, *usage;

	if (v != NULL && !json_is_boolean(v))
		return refuse(rf, "stream", "\"stream\" must be true or false");
	/* An embedding is answered whole whatever the body says (OpenAI
	 * has no such member there): it is never read as a stream. */
	ask->stream = r != GW_OPENAI_EMBEDDINGS && json_is_true(v);
	if (r != GW_OPENAI_CHAT)
		return 0;
	opts = member(r, root, "stream_options");
	if (opts == NULL)
		return 0;
	/* creditd writes include_usage into it: a value the provider would
	 * have refused must not be made into one it accepts. */
	if (!json_is_object(opts))
		return refuse(rf, "stream_options", "\"stream_options\" must be an object");
	usage = member(r, opts, "include_usage");
	if (usage != NULL && !json_is_boolean(usage))
		return refuse(rf, "stream_options.include_usage", "\"stream_options.include_usage\" must be true or false");
	ask->usage_asked = json_is_true(usage);
	return 0;
}

/* One integer member in least..most; *out is -1 when it is absent. */
static int read_int(struct refusal *rf, enum gw_route r, const json_t *root, const char *name, int64_t least,
		    int64_t most, int64_t *out)
{
	json_t *v = member(r, root, name);

	*out = -1;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < least || json_integer_value(v) > most)
		return refuse(rf, name, "\"%s\" must be an integer from %lld to %lld", name, (long long)least,
			      (long long)most);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int read_chat_caps(struct refusal *rf, const json_t *root, struct gw_ask *ask)
{
	int64_t completion, legacy, n;
	enum gw_route r = GW_OPENAI_CHAT;

	if (read_int(rf, r, root, "max_completion_tokens", 1, LIMIT_TOKENS_MAX, &completion) != 0 ||
	    read_int(rf, r, root, "max_tokens", 1, LIMIT_TOKENS_MAX, &legacy) != 0 ||
	    read_int(rf, r, root, "n", 1, GW_CHOICES_MAX, &n) != 0)
		return -1;
	/* OpenAI refuses both at once; a provider that takes both may stop
	 * at either, so the larger bounds what it writes. */
	ask->output_cap = completion > legacy ? completion : legacy;
	ask->cap_field = completion < 0 && legacy >= 0 ? "max_tokens" : "max_completion_tokens";
	ask->choices = n > 0 ? n : 1;
	return 0;
}

static int read_caps(struct refusal *rf, enum gw_route r, const json_t *root, struct gw_ask *ask)
{
	switch (r) {
	case GW_OPENAI_CHAT:
		return read_chat_caps(rf, root, ask);
	case GW_OPENAI_RESPONSES:
		ask->cap_field = "max_output_tokens";
		return read_int(rf, r, root, "max_output_tokens", 1, LIMIT_TOKENS_MAX, &ask->output_cap);
	case GW_ANTHROPIC_MESSAGES:
		ask->cap_field = "max_tokens";
		if (json_object_get(root, "max_tokens") == NULL)
			return refuse(rf, "max_tokens", "\"max_tokens\" is required");
		return read_int(rf, r, root, "max_tokens", 1, LIMIT_TOKENS_MAX, &ask->output_cap);
	case GW_OPENAI_EMBEDDINGS:
	case GW_ROUTES:
		break;
	}
	ask->output_cap = -1;
	ask->cap_field = NULL;
	return 0;
}

/* What a body's image parts weigh: how many, and at most how many of the
 * body's bytes they took. */
struct images {
	int64_t parts;
	int64_t part_bytes;
};

static int is_image_part(const json_t *v)
{
	const json_t *type = json_object_get(v, "type");

	return gwshape_str_is(type, "image_url") || gwshape_str_is(type, "input_image") || gwshape_str_is(type, "image");
}

static int64_t reals_in(json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;
	int64_t n = json_is_real(v) ? 1 : 0;

	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			n += reals_in(child);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			n += reals_in(child);
	}
	return n;
}

/* Walks the whole body (jansson's parse, dump and free walk it as deep),
 * not below an image part: a part inside one is part of its bytes. A
 * dump that fails counts 0 bytes, which only raises the bound. */
static void weigh_images(json_t *v, struct images *im)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_object(v) && is_image_part(v)) {
		int64_t dumped = (int64_t)json_dumpb(v, NULL, 0, JSON_COMPACT);
		int64_t slack = reals_in(v) * GW_REAL_SLACK_BYTES;

		im->parts++;
		if (dumped > slack)
			im->part_bytes = gwshape_add_held(im->part_bytes, dumped - slack);
		return;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			weigh_images(child, im);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			weigh_images(child, im);
	}
}

static int64_t input_bound(enum gw_route r, json_t *root, size_t len)
{
	struct images im = { 0, 0 };
	int64_t bytes = len > (size_t)INT64_MAX ? INT64_MAX : (int64_t)len;
	int64_t image_tokens, text;

	if (r != GW_OPENAI_EMBEDDINGS)
		weigh_images(root, &im);
	image_tokens = im.parts > LIMIT_TOKENS_MAX / LIMIT_GATEWAY_IMAGE_TOKENS ? LIMIT_TOKENS_MAX
										 : im.parts * LIMIT_GATEWAY_IMAGE_TOKENS;
	text = bytes > im.part_bytes ? bytes - im.part_bytes : 0;
	return gwshape_clamp_tokens(gwshape_add_held(text, image_tokens));
}

/* ---- input stored at the provider (DESIGN §14) ---- */

/* A part naming a stored object: a file by id or URL (OpenAI's
 * input_file and chat file parts), an Anthropic document whose source is
 * a URL or a file id; NULL when v is none. */
static const char *stored_part(const json_t *v)
{
	const json_t *source = json_object_get(v, "source");
	if (json_object_get(v, "file_id") != NULL && !json_is_null(json_object_get(v, "file_id")))
		return "file_id";
	if (json_object_get(v, "file_ids") != NULL && !json_is_null(json_object_get(v, "file_ids")))
		return "file_ids";
	if (gwshape_str_is(json_object_get(v, "type"), "item_reference"))
		return "item_reference";
	if (json_object_get(v, "file_url") != NULL && !json_is_null(json_object_get(v, "file_url")))
		return "file_url";
	if (gwshape_str_is(json_object_get(v, "type"), "document") && json_is_object(source) &&
	    (gwshape_str_is(json_object_get(source, "type"), "url") ||
	     gwshape_str_is(json_object_get(source, "type"), "file")))
		return "source";
	return NULL;
}

/* The first stored part anywhere in v (the walk is bounded by the depth
 * checked before it). */
static const char *stored_in(const json_t *v)
{
	const char *key, *found = json_is_object(v) ? stored_part(v) : NULL;
	json_t *child;
	size_t i;
	if (found != NULL)
		return found;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child)
			if ((found = stored_in(child)) != NULL)
				return found;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if ((found = stored_in(child)) != NULL)
				return found;
	}
	return NULL;
}

/* A tool that reads what the provider stores: file search over vector
 * stores, code run in a stored container. */
static int stored_tool(const json_t *tool)
{
	const json_t *type = json_object_get(tool, "type");
	const json_t *container = json_object_get(tool, "container");
	return gwshape_str_is(type, "file_search") ||
	       (gwshape_str_is(type, "code_interpreter") &&
		(json_is_string(container) || json_object_get(container, "file_ids") != NULL));
}

static int read_stored(struct refusal *rf, enum gw_route r, const json_t *root, struct gw_ask *ask)
{
	static const char *const top[] = {"previous_response_id", "conversation", "prompt", "container"};
	/* The members that carry input (metadata may hold any key). */
	static const char *const input[] = {"input", "messages", "system", "instructions"};
	const json_t *tools = member(r, root, "tools"), *tool;
	size_t i;
	if (r == GW_OPENAI_RESPONSES && json_is_true(member(r, root, "background")))
		return refuse(rf, "background", "\"background\": true is not taken: the provider bills a background "
			      "response after the call has returned, which creditd cannot charge");
	const json_t *prev = member(r, root, "previous_response_id");
	if (json_is_string(prev) && json_string_length(prev) > 0 && json_string_length(prev) < sizeof(ask->previous_response) &&
	    strlen(json_string_value(prev)) == json_string_length(prev))
		memcpy(ask->previous_response, json_string_value(prev), json_string_length(prev) + 1);
	else if (json_is_string(prev) && json_string_length(prev) > 0)
		return refuse(rf, "previous_response_id", "\"previous_response_id\" is no response id creditd keeps (too long, "
			      "or with a NUL)");
	else if (prev != NULL && !json_is_null(prev))
		return refuse(rf, "previous_response_id", "\"previous_response_id\" must be a response id (a string)");
	for (i = 1; i < sizeof(top) / sizeof(top[0]) && ask->stored == NULL; i++)
		if (member(r, root, top[i]) != NULL && !json_is_null(json_object_get(root, top[i])))
			ask->stored = top[i];
	json_array_foreach(tools, i, tool)
		if (ask->stored == NULL && stored_tool(tool))
			ask->stored = "tools";
	for (i = 0; i < sizeof(input) / sizeof(input[0]) && ask->stored == NULL && r != GW_OPENAI_EMBEDDINGS; i++)
		ask->stored = stored_in(json_object_get(root, input[i]));
	return 0;
}

/* The deepest nesting in v, counted no further than past the limit (the
 * walk's own recursion is bounded by it). */
static int depth_of(const json_t *v, int depth)
{
	int max = depth;
	if (depth > LIMIT_GATEWAY_JSON_DEPTH)
		return depth;
	const char *k;
	size_t i;
	json_t *child;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, child) {
			int d = depth_of(child, depth + 1);
			max = d > max ? d : max;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child) {
			int d = depth_of(child, depth + 1);
			max = d > max ? d : max;
		}
	}
	return max;
}

int gwshape_read(enum gw_route r, const char *body, size_t len, struct gw_ask *ask, char *err, size_t errcap,
		 const char **param)
{
	struct refusal rf = { err, errcap, param };
	json_error_t jerr;
	json_t *root = NULL;
	int rc = -1;

	memset(ask, 0, sizeof(*ask));
	ask->output_cap = -1;
	ask->choices = 1;
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	if (param != NULL)
		*param = NULL;
	/* A repeated key is refused: the provider might read the other one
	 * (a cap, a model) than creditd held for. */
	root = body != NULL ? json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr) : NULL;
	if (root == NULL) {
		refuse(&rf, NULL, "the body is not JSON: %s", body != NULL ? jerr.text : "no body");
		goto out;
	}
	if (!json_is_object(root)) {
		refuse(&rf, NULL, "the body must be a JSON object");
		goto out;
	}
	/* Deeper, and jansson's own recursion (the upstream body's dump)
	 * could pass a thread's stack. */
	if (depth_of(root, 1) > LIMIT_GATEWAY_JSON_DEPTH) {
		refuse(&rf, NULL, "the body is nested deeper than %d levels", LIMIT_GATEWAY_JSON_DEPTH);
		goto out;
	}
	if (read_model(&rf, root, ask) != 0 || read_stream(&rf, r, root, ask) != 0 || read_caps(&rf, r, root, ask) != 0 ||
	    read_stored(&rf, r, root, ask) != 0)
		goto out;
	gwshape_read_billed(r, root, ask);
	ask->input_bound = input_bound(r, root, len);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* ---- the body sent upstream ---------------------------------------------- */

static int set_include_usage(json_t *root)
{
	json_t *opts = json_object_get(root, "stream_options");

	if (!json_is_object(opts)) {
		/* Absent or null (gwshape_read refused any other value). */
		opts = json_object();
		if (json_object_set_new(root, "stream_options", opts) != 0)
			return -1;
	}
	return json_object_set_new(opts, "include_usage", json_true());
}

/* Writes cap to the member the body used; OpenAI chat's both when it had
 * both (the provider then answers as it would have). A member replaced
 * keeps its place. */
static int set_cap(enum gw_route r, json_t *root, const struct gw_ask *ask, int64_t cap)
{
	if (json_object_set_new(root, ask->cap_field, json_integer(cap)) != 0)
		return -1;
	if (r == GW_OPENAI_CHAT && json_object_get(root, "max_tokens") != NULL &&
	    json_object_set_new(root, "max_tokens", json_integer(cap)) != 0)
		return -1;
	return 0;
}

char *gwshape_upstream_body(enum gw_route r, const char *body, size_t len, const struct gw_ask *ask, int64_t cap,
			    size_t *outlen)
{
	int usage = r == GW_OPENAI_CHAT && ask->stream && !ask->usage_asked;
	int lower = cap >= 0 && ask->cap_field != NULL && (ask->output_cap < 0 || cap < ask->output_cap);
	json_error_t jerr;
	json_t *root;
	char *text = NULL;

	*outlen = len;
	if (!usage && !lower)
		return NULL;
	/* gwshape_read took this body: a failure now is memory. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(root))
		goto out;
	if (usage && set_include_usage(root) != 0)
		goto out;
	if (lower && set_cap(r, root, ask, gwshape_clamp_tokens(cap)) != 0)
		goto out;
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(root);
	/* jansson writes a NUL inside a string as \u0000: strlen is the length. */
	*outlen = text != NULL ? strlen(text) : (size_t)-1;
	return text;
}

/* ---- errors in the provider's shape -------------------------------------- */

static const char *anthropic_type(int status)
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

/* A new reference to v, or to JSON null when v is absent. */
static json_t *or_null(json_t *v)
{
	return v != NULL ? json_incref(v) : json_null();
}

/* The members every SDK reads, in the provider's order (one after the
 * other: the order they are set in is the order they are written). */
static int error_core(enum gw_provider p, int status, const json_t *src, json_t *err)
{
	json_t *m = json_object_get(src, "message");
	int rc = 0;

	if (p == GW_ANTHROPIC)
		rc |= json_object_set_new(err, "type", json_string(anthropic_type(status)));
	rc |= json_object_set_new(err, "message", json_is_string(m) ? json_incref(m) : json_string(""));
	if (p == GW_OPENAI) {
		rc |= json_object_set_new(err, "type", or_null(json_object_get(src, "type")));
		rc |= json_object_set_new(err, "param", or_null(json_object_get(src, "param")));
	}
	rc |= json_object_set_new(err, "code", or_null(json_object_get(src, "code")));
	return rc;
}

/* creditd's other members (a 402's figures, retry_after_seconds) beside
 * them; Anthropic's shape has no param, so one is kept only with a value. */
static int error_rest(enum gw_provider p, const json_t *src, json_t *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)src, key, v) {
		if (strcmp(key, "message") == 0 || strcmp(key, "type") == 0 || strcmp(key, "code") == 0)
			continue;
		if (strcmp(key, "param") == 0 && (p == GW_OPENAI || json_is_null(v)))
			continue;
		if (json_object_set(err, key, v) != 0)
			return -1;
	}
	return 0;
}

char *gwshape_error(enum gw_provider p, int status, const char *json, size_t len)
{
	json_error_t jerr;
	json_t *root = json != NULL ? json_loadb(json, len, JSON_ALLOW_NUL, &jerr) : NULL;
	json_t *src = json_object_get(root, "error"), *err = NULL, *top = NULL;
	char *text = NULL;

	if (!json_is_object(src))
		goto out;
	err = json_object();
	if (err == NULL || error_core(p, status, src, err) != 0 || error_rest(p, src, err) != 0)
		goto out;
	if (p == GW_ANTHROPIC)
		top = json_pack("{s:s, s:O}", "type", "error", "error", err);
	else
		top = json_pack("{s:O}", "error", err);
	if (top != NULL)
		text = json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(top);
	json_decref(err);
	json_decref(root);
	return text;
}
