/* gwbatch_io.c: the Batch API's provider calls (see gwbatch_io.h). The
 * provider's credential and the kind's headers are written as a call's
 * are (gwkind.headers), with no client header forwarded: a batch's
 * create, poll and download are creditd's own requests for the account,
 * not a client's call passed on. */
#include "gwbatch_io.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "limits.h"
#include "provider.h"
#include "spool.h"
#include <stdio.h>
#include <string.h>

struct sink {
	int status;
	struct dynbuf *mem;
	struct spool *file;
	int64_t seen;
};

static int on_head(void *arg, int status, const struct provider_header *h, int n)
{
	struct sink *s = arg;
	(void)h;
	(void)n;
	s->status = status;
	return 0;
}

static int on_data(void *arg, const char *bytes, size_t n)
{
	struct sink *s = arg;
	s->seen += (int64_t)n;
	if (s->file != NULL)
		return s->seen > LIMIT_GATEWAY_BATCH_RESULT_BYTES || spool_write(s->file, bytes, n) != 0 ? 1 : 0;
	return dynbuf_add(s->mem, bytes, n) != 0 ? 1 : 0;
}

static int add_line(void *arg, const char *line)
{
	struct dynbuf *lines = arg;
	dynbuf_printf(lines, "%s", line);
	dynbuf_add(lines, "", 1);
	return lines->failed ? -1 : 0;
}

/* The header lines of r to p into lines, their pointers into out (cap). */
static int headers_of(const struct gwconfig_provider *p, const struct gwbatch_request *r, struct dynbuf *lines,
		      const char **out, size_t cap)
{
	const char *none[LIMIT_GATEWAY_KIND_FORWARDED];
	for (size_t i = 0; i < LIMIT_GATEWAY_KIND_FORWARDED; i++)
		none[i] = "";
	struct gwkind_upstream up = {p->api_key, none};
	if (r->content_type != NULL)
		dynbuf_printf(lines, "Content-Type: %s%c", r->content_type, '\0');
	if (p->kind->headers(&up, add_line, lines) != 0)
		return -1;
	for (const char *at = p->headers; *at != '\0';) {
		size_t n = strcspn(at, "\n");
		dynbuf_add(lines, at, n);
		dynbuf_add(lines, "", 1);
		at += n + (at[n] == '\n');
	}
	if (lines->failed)
		return -1;
	size_t n = 0;
	for (const char *at = lines->data; at != NULL && at < lines->data + lines->len && n + 1 < cap; at += strlen(at) + 1)
		out[n++] = at;
	out[n] = NULL;
	return 0;
}

static int run(const struct gwconfig_provider *p, const struct gwbatch_request *r, struct sink *s, char *err,
	       size_t errcap)
{
	char url[LIMIT_GATEWAY_URL_BYTES];
	const char *headers[LIMIT_PROVIDER_HEADERS];
	struct dynbuf lines;
	size_t n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		n--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s%s", (int)n, p->base_url, r->path) >= sizeof(url)) {
		snprintf(err, errcap, "the provider's URL is longer than creditd sends");
		return -1;
	}
	dynbuf_init(&lines, LIMIT_PROVIDER_HEADER_BYTES);
	if (headers_of(p, r, &lines, headers, sizeof(headers) / sizeof(headers[0])) != 0) {
		dynbuf_free(&lines);
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	struct provider_call call = {.url = url, .allow_http = p->allow_http, .headers = headers, .body = r->body,
				     .body_len = r->body_len, .body_file = r->body_file,
				     .connect_timeout_ms = r->connect_ms, .first_byte_timeout_ms = r->total_ms,
				     .idle_timeout_ms = r->total_ms, .on_head = on_head, .on_data = on_data, .arg = s,
				     .method = strcmp(r->method, "DELETE") == 0 ? "DELETE" : NULL};
	if (call.body == NULL && call.body_file == NULL && strcmp(r->method, "POST") == 0) {
		call.body = "";	/* a POST without a body (a cancel) */
		call.body_len = 0;
	}
	enum provider_result res = provider_wait(&call, r->total_ms, err, errcap);
	dynbuf_free(&lines);
	return res == PROVIDER_OK && s->status > 0 ? 0 : -1;
}

int gwbatch_io_call(const struct gwconfig_provider *p, const struct gwbatch_request *r, int *status,
		    struct dynbuf *answer, char *err, size_t errcap)
{
	struct sink s = {0, answer, NULL, 0};
	int rc = run(p, r, &s, err, errcap);
	*status = s.status;
	return rc;
}

int gwbatch_io_download(const struct gwconfig_provider *p, const struct gwbatch_request *r, const char *dir,
			int *status, struct spool **out, char *err, size_t errcap)
{
	struct sink s = {0, NULL, spool_open(dir, err, errcap), 0};
	*out = NULL;
	*status = 0;
	if (s.file == NULL)
		return -1;
	int rc = run(p, r, &s, err, errcap);
	*status = s.status;
	if (rc != 0) {
		spool_free(s.file);
		return -1;
	}
	*out = s.file;
	return 0;
}
