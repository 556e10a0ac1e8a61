/* gwshape.c: the providers' wire formats on the way in and out, the part
 * every kind shares (see gwshape.h; docs/gateway.md); what is one kind's own
 * (its output cap, its stream options, the body's change it makes, its
 * error shape) is its gwkind_*.c file's, called through struct gwkind;
 * the usage they report, in an answer or a stream, is gwshape_usage.c's.
 *
 * Owns: what a gateway request asks (model, stream, an upper bound of
 * its input tokens, input stored at the provider), the body sent upstream
 * as its kind changes it, and creditd's errors as its kind words them.
 *
 * Never: does I/O, reads the clock or touches the ledger; changes a body
 * member other than the two of docs/gateway.md, "What is forwarded"; lets a
 * count wrap or pass LIMIT_TOKENS_MAX.
 *
 * Why: the hold is made from what is read here before the provider says
 * anything, and the provider must get the request the client sent. A body
 * the provider would refuse is refused here first when creditd would
 * otherwise read it differently from the provider (a repeated key, a cap
 * or a stream flag of the wrong type), naming the member. */
#include "gwshape.h"
#include "gwshape_int.h"
#include "gwpdf.h"
#include "gwtable.h"
#include "jsonio.h"
#include "limits.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A number with a fraction or an exponent takes 3 bytes at least in a body
 * ("1e5", "0.5") and 24 at most as jansson writes it again
 * ("-2.2250738585072014e-308"): what its part's length may have grown. */
#define GW_REAL_SLACK_BYTES 21

_Static_assert(sizeof(((struct gw_ask *)0)->model) == LIMIT_NAME_BYTES + 1, "a model name fits with its NUL");

/* ---- what a request asks ------------------------------------------------- */

static int read_model(struct gwkind_refusal *rf, const struct gwkind_route *r, const json_t *root, struct gw_ask *ask)
{
	json_t *m = json_object_get(root, "model");
	size_t n;

	/* A route whose model is optional (OpenAI's moderations) is for the
	 * provider's default when the body names none. */
	if (gwkind_default_model(r) != NULL && gwkind_member(r, root, "model") == NULL) {
		snprintf(ask->model, sizeof(ask->model), "%s", gwkind_default_model(r));
		return 0;
	}
	if (!json_is_string(m))
		return gwkind_refuse(rf, "model", "\"model\" must be a string naming the model");
	n = json_string_length(m);
	if (jsonio_check_text(json_string_value(m), n, 1, LIMIT_NAME_BYTES) != 0)
		return gwkind_refuse(rf, "model", "\"model\" must be 1 to %d bytes without control characters",
			      LIMIT_NAME_BYTES);
	memcpy(ask->model, json_string_value(m), n);
	ask->model[n] = '\0';
	return 0;
}

static int read_stream(struct gwkind_refusal *rf, const struct gwkind_route *r, const json_t *root, struct gw_ask *ask)
{
	json_t *v = gwkind_member(r, root, "stream");

	if (v != NULL && !json_is_boolean(v))
		return gwkind_refuse(rf, "stream", "\"stream\" must be true or false");
	/* An embedding is answered whole whatever the body says (OpenAI
	 * has no such member there): it is never read as a stream. */
	ask->stream = !r->input_only && !r->free && json_is_true(v);
	return 0;
}

/* What a body's image and document parts weigh: how many images, the
 * pages of the documents counted, and at most how many of the body's
 * bytes they took; the first document whose pages cannot be counted. */
struct images {
	int64_t parts;
	int64_t part_bytes;
	int64_t pages;
	const char *uncounted;
};

static int is_image_part(const json_t *v)
{
	const json_t *type = json_object_get(v, "type");

	return gwkind_str_is(type, "image_url") || gwkind_str_is(type, "input_image") || gwkind_str_is(type, "image");
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

/* A document part's data (docs/gateway.md, "Documents are held by their
 * pages"): Anthropic's document with a base64 source, OpenAI chat's file
 * part and Responses' input_file with file_data. NULL when v is none (a
 * text or content source, a file by id: stored_part's). *member names the
 * data's member; *text is 1 for Anthropic's base64 text source (its
 * bytes bound it). */
static const json_t *document_data(const json_t *v, const char **member, int *text)
{
	const json_t *type = json_object_get(v, "type"), *source = json_object_get(v, "source");
	const json_t *file = json_object_get(v, "file"), *media;

	*text = 0;
	if (gwkind_str_is(type, "document") && gwkind_str_is(json_object_get(source, "type"), "base64")) {
		media = json_object_get(source, "media_type");
		*text = json_is_string(media) && strncasecmp(json_string_value(media), "text/", 5) == 0;
		*member = "source";
		return json_is_string(json_object_get(source, "data")) ? json_object_get(source, "data") : NULL;
	}
	if (gwkind_str_is(type, "file") && json_is_string(json_object_get(file, "file_data"))) {
		*member = "file_data";
		return json_object_get(file, "file_data");
	}
	if (gwkind_str_is(type, "input_file") && json_is_string(json_object_get(v, "file_data"))) {
		*member = "file_data";
		return json_object_get(v, "file_data");
	}
	return NULL;
}

/* A document part: its pages counted, its data's bytes taken off (the
 * rest of the part, a title or a filename, keeps its bytes; a string's
 * length is never more than it took in the body); a text document keeps
 * its bytes, an uncountable one too, and is named. */
static void weigh_document(const json_t *data, const char *member, int text, struct images *im)
{
	int64_t pages = 0;
	enum gwpdf_kind kind = text ? GWPDF_TEXT
				    : gwpdf_file_data(json_string_value(data), json_string_length(data), &pages);

	if (kind == GWPDF_UNCOUNTABLE && im->uncounted == NULL)
		im->uncounted = member;
	if (kind != GWPDF_COUNTED)
		return;
	im->pages = gwkind_add_held(im->pages, pages);
	im->part_bytes = gwkind_add_held(im->part_bytes, (int64_t)json_string_length(data));
}

/* Walks the whole body (jansson's parse, dump and free walk it as deep),
 * not below an image or document part: a part inside one is part of its
 * bytes. A dump that fails counts 0 bytes, which only raises the bound. */
static void weigh_images(json_t *v, struct images *im)
{
	const char *key, *member;
	const json_t *data;
	json_t *child;
	size_t i;
	int text;

	if (json_is_object(v) && (data = document_data(v, &member, &text)) != NULL) {
		weigh_document(data, member, text, im);
		return;
	}
	if (json_is_object(v) && is_image_part(v)) {
		int64_t dumped = (int64_t)json_dumpb(v, NULL, 0, JSON_COMPACT);
		int64_t slack = reals_in(v) * GW_REAL_SLACK_BYTES;

		im->parts++;
		if (dumped > slack)
			im->part_bytes = gwkind_add_held(im->part_bytes, dumped - slack);
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

/* The input bound into ask (gwshape.h): the documents' pages' tokens
 * apart in doc_tokens, so that api_gateway can cap them by the model's
 * max_input_tokens. */
static void input_bound(const struct gwkind_route *r, json_t *root, size_t len, struct gw_ask *ask)
{
	struct images im = { 0, 0, 0, NULL };
	int64_t bytes = len > (size_t)INT64_MAX ? INT64_MAX : (int64_t)len;
	int64_t image_tokens, page_tokens, text, rest;

	if (!r->input_only)
		weigh_images(root, &im);
	image_tokens = im.parts > LIMIT_TOKENS_MAX / LIMIT_GATEWAY_IMAGE_TOKENS ? LIMIT_TOKENS_MAX
										 : im.parts * LIMIT_GATEWAY_IMAGE_TOKENS;
	page_tokens = im.pages > LIMIT_TOKENS_MAX / LIMIT_GATEWAY_PAGE_TOKENS ? LIMIT_TOKENS_MAX
									      : im.pages * LIMIT_GATEWAY_PAGE_TOKENS;
	text = bytes > im.part_bytes ? bytes - im.part_bytes : 0;
	rest = gwkind_clamp_tokens(gwkind_add_held(text, image_tokens));
	ask->input_bound = gwkind_clamp_tokens(gwkind_add_held(rest, page_tokens));
	ask->doc_pages = im.pages;
	ask->doc_tokens = ask->input_bound - rest;
	ask->doc_uncounted = im.uncounted;
}

/* ---- input stored at the provider (docs/gateway.md, "Input the body does not carry") ---- */

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
	if (gwkind_str_is(json_object_get(v, "type"), "item_reference"))
		return "item_reference";
	if (json_object_get(v, "file_url") != NULL && !json_is_null(json_object_get(v, "file_url")))
		return "file_url";
	if (gwkind_str_is(json_object_get(v, "type"), "document") && json_is_object(source) &&
	    (gwkind_str_is(json_object_get(source, "type"), "url") ||
	     gwkind_str_is(json_object_get(source, "type"), "file")))
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
	return gwkind_str_is(type, "file_search") ||
	       (gwkind_str_is(type, "code_interpreter") &&
		(json_is_string(container) || json_object_get(container, "file_ids") != NULL));
}

static int read_stored(struct gwkind_refusal *rf, const struct gwkind_route *r, const json_t *root, struct gw_ask *ask)
{
	static const char *const top[] = {"previous_response_id", "conversation", "prompt", "container"};
	/* The members that carry input (metadata may hold any key). */
	static const char *const input[] = {"input", "messages", "system", "instructions"};
	const json_t *tools = gwkind_member(r, root, "tools"), *tool;
	size_t i;
	const json_t *prev = gwkind_member(r, root, "previous_response_id");
	if (json_is_string(prev) && json_string_length(prev) > 0 && json_string_length(prev) < sizeof(ask->previous_response) &&
	    strlen(json_string_value(prev)) == json_string_length(prev))
		memcpy(ask->previous_response, json_string_value(prev), json_string_length(prev) + 1);
	else if (json_is_string(prev) && json_string_length(prev) > 0)
		return gwkind_refuse(rf, "previous_response_id", "\"previous_response_id\" is no response id creditd keeps (too long, "
			      "or with a NUL)");
	else if (prev != NULL && !json_is_null(prev))
		return gwkind_refuse(rf, "previous_response_id", "\"previous_response_id\" must be a response id (a string)");
	for (i = 1; i < sizeof(top) / sizeof(top[0]) && ask->stored == NULL; i++)
		if (gwkind_member(r, root, top[i]) != NULL && !json_is_null(json_object_get(root, top[i])))
			ask->stored = top[i];
	json_array_foreach(tools, i, tool)
		if (ask->stored == NULL && stored_tool(tool))
			ask->stored = "tools";
	for (i = 0; i < sizeof(input) / sizeof(input[0]) && ask->stored == NULL && !r->input_only; i++)
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

/* The body walked against its route's table, without the operator's
 * free_fields (api_gateway takes a refusal again with them). */
static void read_table(const struct gwkind_route *r, const json_t *root, struct gw_ask *ask)
{
	const struct gwtable *t = gwtable_of(r);
	struct gwtable_seen seen;
	const json_t *geo = json_object_get(root, "inference_geo");
	if (json_is_string(geo))
		snprintf(ask->geo, sizeof(ask->geo), "%s", json_string_value(geo));
	ask->fast = gwkind_str_is(json_object_get(root, "speed"), "fast");
	if (t == NULL)
		return;
	/* A form's fields (images/edits) are text: their kinds are not the
	 * JSON body's (gwtable.h). */
	ask->table_refused = (gwkind_form(r) ? gwtable_walk_form : gwtable_walk)(t, root, NULL, 0, &seen, ask->table_param,
										 sizeof(ask->table_param), ask->table_err,
										 sizeof(ask->table_err)) != 0;
	if (!ask->table_refused)
		gwshape_table_seen(ask, seen.dims);
}

void gwshape_table_seen(struct gw_ask *ask, unsigned dims)
{
	ask->table_dims = dims;
	/* A search tool the table found below the top-level tools (one added
	 * mid-conversation): a search of no known max or size, held at
	 * max_tool_calls_held searches at the dearest fee, refused where the
	 * row prices none (a review's finding: forwarded unheld before). */
	if ((dims & 1u << GWTABLE_DIM_WEB_SEARCH) && ask->web_search == NULL) {
		ask->web_search = "tools";
		ask->web_search_max = -1;
		ask->web_search_size = 0;
	}
}

/* ask and the refusal's outputs made ready for a read. */
static void read_start(struct gw_ask *ask, char *err, size_t errcap, const char **param)
{
	memset(ask, 0, sizeof(*ask));
	ask->output_cap = -1;
	ask->choices = 1;
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	if (param != NULL)
		*param = NULL;
}

/* What root (the request, a JSON value) asks, len its bytes' bound. */
static int read_root(const struct gwkind_route *r, const json_t *root, size_t len, struct gw_ask *ask,
		     struct gwkind_refusal *rf)
{
	if (!json_is_object(root))
		return gwkind_refuse(rf, NULL, "the body must be a JSON object");
	/* Deeper, and jansson's own recursion (the upstream body's dump)
	 * could pass a thread's stack. */
	if (depth_of(root, 1) > LIMIT_GATEWAY_JSON_DEPTH)
		return gwkind_refuse(rf, NULL, "the body is nested deeper than %d levels", LIMIT_GATEWAY_JSON_DEPTH);
	/* An image generation that names no model is the reference's
	 * default's (gwkind_images_default), written into the body sent. */
	const char *image_default = r->images == GW_IMAGES_GENERATE && gwkind_member(r, root, "model") == NULL ?
				    gwkind_images_default(root) : NULL;
	if (image_default != NULL) {
		snprintf(ask->model, sizeof(ask->model), "%s", image_default);
		ask->img.model_defaulted = 1;
	} else if (read_model(rf, r, root, ask) != 0) {
		return -1;
	}
	if (read_stream(rf, r, root, ask) != 0 || r->kind->read(r, root, ask, rf) != 0 ||
	    read_stored(rf, r, root, ask) != 0)
		return -1;
	gwshape_read_billed(r, root, ask);
	read_table(r, root, ask);
	input_bound(r, (json_t *)root, len, ask);
	return 0;
}

int gwshape_read_root(const struct gwkind_route *r, const json_t *root, size_t len, struct gw_ask *ask, char *err,
		      size_t errcap, const char **param)
{
	struct gwkind_refusal rf = { err, errcap, param };
	read_start(ask, err, errcap, param);
	return read_root(r, root, len, ask, &rf);
}

/* The path (into path[len..cap)) of the first number of v read as want;
 * 1 found, 0 not (a path that does not fit is not named). */
static int number_path(const json_t *v, double want, char *path, size_t cap, size_t len, int depth)
{
	const char *key;
	json_t *child;
	size_t i;
	int n;
	if (depth > LIMIT_GATEWAY_JSON_DEPTH)
		return 0;
	if (json_is_real(v))
		return json_real_value(v) == want;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child) {
			n = snprintf(path + len, cap - len, len == 0 ? "%s" : ".%s", key);
			if (n > 0 && (size_t)n < cap - len && number_path(child, want, path, cap, len + (size_t)n, depth + 1))
				return 1;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child) {
			n = snprintf(path + len, cap - len, "[%zu]", i);
			if (n > 0 && (size_t)n < cap - len && number_path(child, want, path, cap, len + (size_t)n, depth + 1))
				return 1;
		}
	}
	path[len] = '\0';
	return 0;
}

/* jansson refuses an integer past 64 bits ("too big integer near
 * '…'"), but the body is JSON all the same: read again with every
 * integer as a real, the member is named as a cap out of range is
 * (docs/gateway.md, "The hold and the charge"). -1 through gwkind_refuse;
 * 0 when jerr is another error. */
static int refuse_huge(const char *body, size_t len, const json_error_t *jerr, struct gw_ask *ask,
		       struct gwkind_refusal *rf)
{
	const char *near = strstr(jerr->text, "near '");
	json_error_t again;
	if (strncmp(jerr->text, "too big ", 8) != 0 || near == NULL)
		return 0;
	double want = strtod(near + 6, NULL);
	json_t *root = json_loadb(body, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &again);
	int found = root != NULL && number_path(root, want, ask->table_param, sizeof(ask->table_param), 0, 1);
	json_decref(root);
	return gwkind_refuse(rf, found ? ask->table_param : NULL, "\"%s\": %.40s is an integer past 64 bits, more "
			     "than any member takes: not forwarded", found ? ask->table_param : "a number", near + 5);
}

int gwshape_read(const struct gwkind_route *r, const char *body, size_t len, struct gw_ask *ask, char *err, size_t errcap,
		 const char **param)
{
	struct gwkind_refusal rf = { err, errcap, param };
	json_error_t jerr;
	read_start(ask, err, errcap, param);
	/* A repeated key is refused: the provider might read the other one
	 * (a cap, a model) than creditd held for. */
	json_t *root = body != NULL ? json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr) : NULL;
	if (root == NULL && body != NULL && refuse_huge(body, len, &jerr, ask, &rf) != 0)
		return -1;
	if (root == NULL)
		return gwkind_refuse(&rf, NULL, "the body is not JSON: %s", body != NULL ? jerr.text : "no body");
	int rc = read_root(r, root, len, ask, &rf);
	json_decref(root);
	return rc;
}

/* ---- the body sent upstream ---------------------------------------------- */

char *gwshape_upstream_body(const struct gwkind_route *r, const char *body, size_t len, const struct gw_ask *ask, int64_t cap,
			    const char *model, size_t *outlen)
{
	int usage = r->kind->rewrites(r, ask);
	int renamed = (model != NULL && strcmp(model, ask->model) != 0) || ask->img.model_defaulted;
	int quality = ask->img.quality_defaulted;	/* dall-e-3's held quality, written (gwkind_images.c) */
	if (model == NULL)
		model = ask->model;
	int lower = cap >= 0 && ask->cap_field != NULL && (ask->output_cap < 0 || cap < ask->output_cap);
	json_error_t jerr;
	json_t *root;
	char *text = NULL;

	*outlen = len;
	/* A form's body goes as it came (docs/gateway.md, "Images": a
	 * provider's rename is not written into a form). */
	if ((!usage && !lower && !renamed && !quality) || gwkind_form(r))
		return NULL;
	/* gwshape_read took this body: a failure now is memory. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(root))
		goto out;
	if (r->kind->rewrite(r, root, ask, lower, gwkind_clamp_tokens(cap)) != 0)
		goto out;
	/* Every kind names its model in the body's top-level "model". */
	if (renamed && json_object_set_new(root, "model", json_string(model)) != 0)
		goto out;
	if (quality && json_object_set_new(root, "quality", json_string("standard")) != 0)
		goto out;
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(root);
	/* jansson writes a NUL inside a string as \u0000: strlen is the length. */
	*outlen = text != NULL ? strlen(text) : (size_t)-1;
	return text;
}

/* ---- errors in the provider's shape -------------------------------------- */

char *gwshape_error(const struct gwkind *k, int status, const char *json, size_t len)
{
	json_error_t jerr;
	json_t *root = json != NULL ? json_loadb(json, len, JSON_ALLOW_NUL, &jerr) : NULL;
	json_t *src = json_object_get(root, "error"), *top = NULL;
	char *text = NULL;

	if (json_is_object(src))
		top = k->error(status, src);
	if (top != NULL)
		text = json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(top);
	json_decref(root);
	return text;
}
