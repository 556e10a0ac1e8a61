/* gwcall_io.c: a gateway call's bytes (gwcall_int.h; docs/gateway.md):
 * the request sent upstream (its URL, headers and body, the first byte's
 * wait), the provider's answer read as it comes (curl's callbacks, on
 * the loop), and what is written to the client (the CGI head, the
 * provider's headers passed on, creditd's own errors in the provider's
 * shape). Apart from gwcall.c, which decides how a call ends and what it
 * costs, so each reads on a screen or two; it calls nothing there. */
#include "gwcall.h"
#include "gwcall_int.h"
#include "timefmt.h"
#include "config.h"
#include "gwconfig.h"
#include "dynbuf.h"
#include "errors.h"
#include "jsonio.h"
#include "gwbuffer.h"
#include "provider.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct gwconfig *gw;	/* the [gateway] keys */

void gwcall_io_init(const struct cfg *cfg)
{
	gw = gwconfig_of(cfg);
}

static int streamed(const struct gwcall *c)
{
	return c->job->ask.stream && c->status >= 200 && c->status < 300;
}

void gwcall_client_gone(struct gwcall *c)
{
	if (!c->gone) {
		c->gone = 1;
		c->gone_ms = timefmt_mono_ms();
	}
}

void gwcall_client_write(struct gwcall *c, const char *bytes, size_t n)
{
	if (!c->gone && n > 0 && c->edge.write(c->edge.req, bytes, n) != 0)
		gwcall_client_gone(c);
}

/* Sends what was written: later, by the loop (gwcall_send), once curl
 * has handed over all it read (events that arrived together go in one
 * send). On the loop only (on_wake asserts it): an ending thread's
 * writes are sent by take_ended when the call comes back to the loop
 * (docs/architecture.md, the gateway's step 5). */
void gwcall_client_flush(struct gwcall *c)
{
	if (c->gone || c->waking)
		return;
	c->waking = 1;
	c->wake(c->wake_arg);
}

/* The provider's headers a client may see (docs/gateway.md, "What is forwarded"): the common ones,
 * and those every kind names (gwkind.passed_back) on any route. */
static int passed_on(const char *name)
{
	static const char *const exact[] = {"content-type", "x-request-id", "request-id", "retry-after"};
	const struct gwkind *k;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcasecmp(name, exact[i]) == 0)
			return 1;
	for (size_t i = 0; (k = gwkind_at(i)) != NULL; i++)
		for (const char *const *p = k->passed_back; *p != NULL; p++)
			if (strncasecmp(name, *p, strlen(*p)) == 0)
				return 1;
	return 0;
}

/* Writes the answer's CGI head: status, the provider's headers passed
 * on, creditd's own (extra, "" or lines ending in \r\n). */
void gwcall_head_write(struct gwcall *c, int status, const char *extra)
{
	char line[256 + 2 * LIMIT_HOLD_ID_BYTES];
	int n = snprintf(line, sizeof(line), "Status: %d %s\r\n", status, errors_http_reason(status));
	gwcall_client_write(c, line, (size_t)n);
	if (c->head.len > 0)
		gwcall_client_write(c, c->head.data, c->head.len);
	if (c->job->hold_id[0] != '\0') {
		n = snprintf(line, sizeof(line), "Creditd-Hold-Id: %s\r\n", c->job->hold_id);
		gwcall_client_write(c, line, (size_t)n);
	}
	n = snprintf(line, sizeof(line), "Creditd-Provider: %s\r\n", gwcall_provider(c)->name);
	gwcall_client_write(c, line, (size_t)n);
	if (c->job->shrunk) {
		n = snprintf(line, sizeof(line), "Creditd-Output-Cap: %lld\r\n", (long long)c->job->cap);
		gwcall_client_write(c, line, (size_t)n);
	}
	gwcall_client_write(c, extra, strlen(extra));
	gwcall_client_write(c, "\r\n", 2);
	c->answered = status;
}

/* creditd's own error in the provider's shape: status, e's type and code,
 * the message; extra, header lines ending in \r\n ("" none). */
void gwcall_error_write_with(struct gwcall *c, int status, enum cd_err e, const char *message, const char *extra)
{
	json_t *err = json_pack("{s:{s:s, s:s, s:s, s:n}}", "error", "type", errors_type(e), "code", errors_code(e),
				"message", message, "param");
	char *text = err != NULL ? jsonio_dump(err) : NULL;
	char *shaped = text != NULL ? gwshape_error(c->kind, status, text, strlen(text)) : NULL;
	char lines[256];
	snprintf(lines, sizeof(lines), "Content-Type: application/json\r\n%s", extra);
	c->head.len = 0;
	gwcall_head_write(c, status, lines);
	if (shaped != NULL)
		gwcall_client_write(c, shaped, strlen(shaped));
	gwcall_client_write(c, "\n", 1);
	free(shaped);
	free(text);
	json_decref(err);
}

void gwcall_error_write(struct gwcall *c, int status, enum cd_err e, const char *message)
{
	gwcall_error_write_with(c, status, e, message, "");
}

/* ---- The provider's answer, as it comes ---- */

static int on_head(void *arg, int status, const struct provider_header *h, int n)
{
	struct gwcall *c = arg;
	c->status = status;
	dynbuf_reset(&c->head);
	for (int i = 0; i < n; i++)
		if (passed_on(h[i].name) && strpbrk(h[i].value, "\r\n") == NULL && strpbrk(h[i].name, "\r\n") == NULL)
			dynbuf_printf(&c->head, "%s: %s\r\n", h[i].name, h[i].value);
	if (streamed(c)) {
		gwcall_head_write(c, status, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
		gwcall_client_flush(c);
	}
	return c->gone && !gw->drain;
}

static int on_event(void *arg, const char *event, size_t len, int pass)
{
	struct gwcall *c = arg;
	if (!c->id_listed && c->stream.usage.response_id[0] != '\0') {
		gwcall_ledger_id_list(c->job, c->stream.usage.response_id, gwcall_provider(c)->name);
		c->id_listed = 1;
	}
	if (pass && !c->gone) {
		gwcall_client_write(c, event, len);
		gwcall_client_flush(c);
	}
	return c->gone && !gw->drain;
}

static int on_data(void *arg, const char *bytes, size_t n)
{
	struct gwcall *c = arg;
	if (streamed(c))
		return gwshape_stream_feed(&c->stream, bytes, n, on_event, c) != 0;
	if (!c->over_budget && gwbuffer_take(c->job->place, (int64_t)n) != 0) {
		/* No room left (docs/gateway.md, "Fair share"): counted, not kept; answered 503. */
		c->over_budget = 1;
		gwshape_count_raw(&c->stream, c->whole.data, c->whole.len);
		gwshape_tail_keep(c->tail, &c->tail_len, c->whole.data, c->whole.len);
		dynbuf_free(&c->whole);
		gwbuffer_give(c->job->place, c->buffered);
		c->buffered = 0;
	}
	if (c->over_budget) {
		gwshape_count_raw(&c->stream, bytes, n);
		gwshape_tail_keep(c->tail, &c->tail_len, bytes, n);
		return 0;
	}
	c->buffered += (int64_t)n;
	dynbuf_add(&c->whole, bytes, n);
	return c->whole.failed;
}

/* A client that left is read on for drain_seconds at most. */
static int on_tick(void *arg)
{
	struct gwcall *c = arg;
	return c->gone && timefmt_mono_ms() - c->gone_ms > gw->drain_seconds * 1000;
}

/* ---- The request sent ---- */

/* The provider's URL for the job's route: its base and the route's path
 * (an object route's with its id and query, checked by its handler to
 * fit: gwobject.h). */
static void url_of(const struct gwcall *c, char *url, size_t cap)
{
	const char *base = gwcall_provider(c)->base_url;
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	const char *path = c->job->route->object ? c->job->object_path : c->job->route->upstream;
	if (snprintf(url, cap, "%.*s%s", (int)n, base, path) < 0)
		url[0] = '\0';
}

/* One header line into the dynbuf arg, NUL-ended. */
static int add_line(void *arg, const char *line)
{
	struct dynbuf *lines = arg;
	dynbuf_printf(lines, "%s", line);
	dynbuf_add(lines, "", 1);
	return lines->failed ? -1 : 0;
}

/* The headers sent upstream: the provider's credential, the few the
 * client's SDK sets that change the answer (the kind's), nothing else of
 * the client; then the provider's own configured lines, with the
 * deployment's key only (a BYOK key is of another organization). At most
 * cap - 1 lines. */
static int headers_of(const struct gwcall *c, struct dynbuf *lines, const char **out, size_t cap)
{
	const struct gw_job *job = c->job;
	const struct gwconfig_provider *p = gwcall_provider(c);
	const char *forwarded[LIMIT_GATEWAY_KIND_FORWARDED];
	for (size_t i = 0; i < LIMIT_GATEWAY_KIND_FORWARDED; i++)
		forwarded[i] = job->forwarded[i];
	struct gwkind_upstream up = {job->byok ? job->provider_key : p->api_key, forwarded};
	char type[LIMIT_GATEWAY_CONTENT_TYPE_BYTES + 64];
	if (gwkind_form(job->route))	/* the form's own, its body unchanged; quoted where RFC 2045's tspecials need it */
		snprintf(type, sizeof(type), strpbrk(job->ask.form_boundary, "()<>@,;:\\\"/[]?= ") != NULL ?
			 "Content-Type: multipart/form-data; boundary=\"%s\"" : "Content-Type: multipart/form-data; boundary=%s",
			 job->ask.form_boundary);
	else	/* a transcription's form as the client sent it (job->content_type), else JSON */
		snprintf(type, sizeof(type), "Content-Type: %s",
			 job->content_type[0] != '\0' ? job->content_type : "application/json");
	dynbuf_reset(lines);
	if (add_line(lines, type) != 0 || job->route->kind->headers(&up, add_line, lines) != 0)
		return -1;
	for (const char *at = p->headers; !job->byok && *at != '\0';) {
		size_t n = strcspn(at, "\n");
		dynbuf_add(lines, at, n);
		dynbuf_add(lines, "", 1);
		at += n + (at[n] == '\n');
	}
	if (lines->failed)
		return -1;
	size_t n = 0;
	for (const char *at = lines->data; at < lines->data + lines->len && n + 1 < cap; at += strlen(at) + 1)
		out[n++] = at;
	out[n] = NULL;
	return (int)n;
}

/* The first byte's wait (docs/gateway.md, "When a provider may already
 * be working"): a whole answer comes at once when it is all written, so
 * it is waited for first_byte_timeout_seconds plus its output cap (a
 * choice's: choices are written side by side) at slowest_tokens_per_second;
 * a stream's first event comes early, and keeps the first. */
static long first_byte_ms(const struct gwcall *c)
{
	const struct gw_job *job = c->job;
	int64_t ms = gw->first_byte_timeout_seconds * 1000;
	if (job->ask.stream || job->route->input_only)
		return (long)ms;
	int64_t cap = job->cap >= 0 ? job->cap : job->ask.output_cap >= 0 ? job->ask.output_cap : job->hold_output;
	_Static_assert(LIMIT_TOKENS_MAX <= INT64_MAX / 1000 / 2, "a cap's wait in ms fits");
	return (long)(ms + (cap > 0 ? cap : 0) * 1000 / gw->slowest_tokens_per_second);
}

/* The provider's call of c's try, in c: 0, or -1 out of memory. */
int gwcall_prepare(struct gwcall *c)
{
	struct gw_job *job = c->job;
	const struct gwconfig_provider *p = gwcall_provider(c);
	const char *model = gwconfig_upstream_model(p, job->ask.model);
	size_t len = c->upstream_len;
	/* A try after the first builds the body again only when its provider
	 * names the model otherwise (the loop parses no body it can spare).
	 * An object route sends none. */
	if (!job->route->object && (c->body_model == NULL || strcmp(c->body_model, model) != 0)) {
		free(c->upstream_body);
		c->upstream_body = gwshape_upstream_body(job->route, job->body, job->body_len, &job->ask, job->cap, model,
							 &len);
		if (c->upstream_body == NULL && len == (size_t)-1) {
			c->body_model = NULL;
			return -1;
		}
		c->body_model = model;
		c->upstream_len = len;
	}
	url_of(c, c->url, sizeof(c->url));
	if (headers_of(c, &c->lines, c->headers, sizeof(c->headers) / sizeof(c->headers[0])) < 0)
		return -1;
	/* The body sent: the one built for this provider, else the
	 * client's as it came, from memory or from its file on disk
	 * (gwjob.h: a body kept on disk is sent from the file). */
	int built = c->upstream_body != NULL;
	c->pc = (struct provider_call){
		.url = c->url,
		.allow_http = p->allow_http,
		.headers = c->headers,
		.body = built ? c->upstream_body : job->body_spool != NULL ? NULL : job->body,
		.body_len = built ? len : job->body_len,
		.body_file = built ? NULL : job->body_spool,
		.connect_timeout_ms = (long)gw->connect_timeout_ms,
		.first_byte_timeout_ms = first_byte_ms(c),
		.idle_timeout_ms = (long)gw->idle_timeout_seconds * 1000,
		.on_head = on_head,
		.on_data = on_data,
		.on_tick = on_tick,
		.arg = c,
	};
	if (job->route->object) {
		c->pc.body = NULL;
		c->pc.body_file = NULL;
		c->pc.body_len = 0;
		c->pc.method = strcmp(job->route->method, "GET") != 0 ? job->route->method : NULL;
	}
	return 0;
}
