/* gwshape_form.c: a form route's request (multipart/form-data: images/
 * edits; docs/gateway.md, "Images") read as the JSON routes' are. The
 * body is read by gwmultipart (which refuses a body two readers could
 * read two ways) and its fields made into a JSON object, text fields as
 * strings (n, output_compression and partial_images as integers, stream
 * as a boolean, when they spell one), files as "" (image[]'s as one
 * "image"), so the route's table, the model, n, size and quality are read
 * and refused exactly as on a JSON body. The body itself goes upstream
 * unchanged, with its own Content-Type.
 *
 * Never: does I/O, reads the clock or touches the ledger; copies a file's
 * bytes. */
#include "gwshape.h"
#include "gwkind_int.h"
#include "gwmultipart.h"
#include "limits.h"
#include "limits_gateway.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(((struct gw_ask *)0)->form_boundary) >= GWMULTIPART_BOUNDARY_BYTES, "a boundary fits");

/* The fields named as numbers and flags in the reference. */
static json_t *text_value(const char *name, const char *v)
{
	static const char *const ints[] = {"n", "output_compression", "partial_images"};
	size_t n = strlen(v);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (strcmp(name, ints[i]) == 0 && n > 0 && n <= 9 && strspn(v, "0123456789") == n)
			return json_integer(strtoll(v, NULL, 10));
	if (strcmp(name, "stream") == 0 && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
		return json_boolean(v[0] == 't');
	return json_string(v);
}

/* One file part (image, image[], mask) into root, as "" (the table's
 * rows name a file as the member; an array's elements, image[], are one
 * member: gwmultipart refuses "image" beside "image[]"). 0, or -1. */
static int add_file(json_t *root, const char *name, struct gwshape_form *f, struct gwkind_refusal *rf)
{
	size_t n = strlen(name);
	char key[LIMIT_GATEWAY_MULTIPART_NAME_BYTES + 1];
	snprintf(key, sizeof(key), "%.*s", (int)(n > 2 && strcmp(name + n - 2, "[]") == 0 ? n - 2 : n), name);
	if (++f->files > LIMIT_GATEWAY_IMAGE_EDIT_FILES)
		return gwkind_refuse(rf, "image", "more than %d files (16 images and a mask)", LIMIT_GATEWAY_IMAGE_EDIT_FILES);
	return json_object_set_new(root, key, json_string("")) == 0 ? 0 : gwkind_refuse(rf, NULL, "out of memory");
}

static int add_part(const struct gwmultipart *mp, const struct gwmultipart_part *p, json_t *root,
		    struct gwshape_form *f, struct gwkind_refusal *rf)
{
	char name[LIMIT_GATEWAY_MULTIPART_NAME_BYTES + 1];
	if (gwmultipart_copy(mp, p->name_offset, p->name_len, name, sizeof(name)) != 0)
		return gwkind_refuse(rf, NULL, "a form field's name could not be read");
	if (p->has_filename)
		return add_file(root, name, f, rf);
	/* An image or a mask is a file: a text field of that name would be
	 * read here as the file the edit requires. */
	if (strcmp(name, "image") == 0 || strcmp(name, "image[]") == 0 || strcmp(name, "mask") == 0)
		return gwkind_refuse(rf, strcmp(name, "mask") == 0 ? "mask" : "image", "\"%s\" must be sent as a file "
				     "(with its filename)", name);
	if (p->data_len > LIMIT_GATEWAY_MULTIPART_TEXT_BYTES)
		return gwkind_refuse(rf, name, "the form field \"%s\" is longer than %d bytes", name,
				     LIMIT_GATEWAY_MULTIPART_TEXT_BYTES);
	char *v = malloc(p->data_len + 1);
	if (v == NULL)
		return gwkind_refuse(rf, NULL, "out of memory");
	enum gwmultipart_text t = gwmultipart_text(mp, name, v, p->data_len + 1);
	json_t *value = t == GWMULTIPART_TEXT_OK ? text_value(name, v) : NULL;
	free(v);
	if (strcmp(name, "prompt") == 0)
		f->text_bytes = (int64_t)p->data_len;
	if (value != NULL && json_object_set_new(root, name, value) == 0)
		return 0;
	/* A field that is no text (a name the table does not know is named
	 * by the table's walk). */
	return gwkind_refuse(rf, NULL, "the form field \"%s\" is not text as the reference takes it", name);
}

json_t *gwshape_form_json(const char *content_type, const unsigned char *body, size_t len, struct gwshape_form *f,
			  char *err, size_t errcap, const char **param)
{
	struct gwkind_refusal rf = {err, errcap, param};
	struct gwmultipart_part parts[LIMIT_GATEWAY_MULTIPART_PARTS];
	struct gwmultipart mp;
	enum gwmultipart_err why = GWMULTIPART_OK;
	memset(f, 0, sizeof(*f));
	if (content_type == NULL ||
	    gwmultipart_boundary(content_type, f->boundary, sizeof(f->boundary), &why) < 0 ||
	    (why = gwmultipart_parse(&mp, body, len, f->boundary, parts, LIMIT_GATEWAY_MULTIPART_PARTS)) != GWMULTIPART_OK) {
		gwkind_refuse(&rf, NULL, "the body is not a multipart/form-data form creditd reads alike with the "
			      "provider: %s", gwmultipart_strerror(why));
		return NULL;
	}
	json_t *root = json_object();
	for (size_t i = 0; root != NULL && i < mp.n; i++)
		if (add_part(&mp, &parts[i], root, f, &rf) != 0) {
			json_decref(root);
			return NULL;
		}
	if (root == NULL)
		gwkind_refuse(&rf, NULL, "out of memory");
	return root;
}

int gwshape_read_form(const struct gwkind_route *r, const char *content_type, const unsigned char *body, size_t len,
		      struct gw_ask *ask, char *err, size_t errcap, const char **param)
{
	struct gwshape_form f;
	json_t *root = gwshape_form_json(content_type, body, len, &f, err, errcap, param);
	if (root == NULL) {
		memset(ask, 0, sizeof(*ask));
		return -1;
	}
	/* The input bound: the prompt's bytes (its text tokens are at most
	 * that); the files are images, held by their count. */
	int rc = gwshape_read_root(r, root, (size_t)f.text_bytes, ask, err, errcap, param);
	json_decref(root);
	if (rc == 0) {
		ask->img.input_images = f.files;
		memcpy(ask->form_boundary, f.boundary, sizeof(f.boundary));
	}
	return rc;
}
