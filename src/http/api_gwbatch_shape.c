/* api_gwbatch_shape.c: what every answer of the Batch API shares
 * (docs/gateway.md, "Batches"): the 404 of a batch or file the account
 * does not have, in the route's provider's shape, and a message batch's
 * results_url.
 *
 * A 404 is the provider's own for an id it does not know, the same for
 * another account's object, another kind's and none. A results_url is
 * never the provider's: the SDKs fetch it as it is, which would send
 * creditd's key (or the caller's) and Creditd-Account to the provider
 * around creditd; it is creditd's own results route on the request's own
 * origin. It calls nothing of the other batch files. Never SQL, never
 * curl. */
#include "api.h"
#include "api_gwbatch.h"
#include "gwobject.h"
#include "urlpath.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int api_gwbatch_anthropic(const struct request *rq)
{
	return strncmp(rq->path, "/anthropic/", 11) == 0;
}

void api_gwbatch_not_found(const struct request *rq, struct response *rs, const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (api_gwbatch_anthropic(rq)) {	/* shaped as Anthropic's: error.type not_found_error */
		api_error(rs, CD_E_NOT_FOUND, param, "%s", msg);
		return;
	}
	/* OpenAI's own 404 for an id it does not know: invalid_request_error, code null. */
	api_json(rs, 404, json_pack("{s:{s:s, s:s, s:s?, s:n}}", "error", "message", msg, "type", "invalid_request_error",
				    "param", param, "code"));
}

/* The Host a URL may be made of: a name, an IPv4 or a bracketed IPv6
 * address, perhaps a port; anything else (a client's own text) is not. */
static int host_ok(const char *host)
{
	size_t n = host != NULL ? strlen(host) : 0;
	return n > 0 && n < LIMIT_GATEWAY_HOST_BYTES &&
	       strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

/* The request's own origin ("https://host:port", no slash after), into
 * out (cap bytes): the scheme the web server said, Host as it passed it,
 * and its port (SERVER_PORT) when Host names none and it is not the
 * scheme's own (nginx's fastcgi_params pass Host without its port).
 * "" when Host is missing or not a host. */
static void own_origin(const struct request *rq, char *out, size_t cap)
{
	const char *scheme = rq->https ? "https" : "http", *port = rq->server_port;
	out[0] = '\0';
	if (!host_ok(rq->host))
		return;
	const char *close = rq->host[0] == '[' ? strchr(rq->host, ']') : NULL;
	int has_port = rq->host[0] == '[' ? close != NULL && close[1] == ':' : strchr(rq->host, ':') != NULL;
	int default_port = port == NULL || strspn(port, "0123456789") != strlen(port) || port[0] == '\0' ||
			   strcmp(port, rq->https ? "443" : "80") == 0;
	if ((size_t)snprintf(out, cap, "%s://%s%s%s", scheme, rq->host, has_port || default_port ? "" : ":",
			     has_port || default_port ? "" : port) >= cap)
		out[0] = '\0';
}

void api_gwbatch_own_results(struct api_ctx *ctx, const struct request *rq, json_t *batch)
{
	char origin[LIMIT_GATEWAY_HOST_BYTES + 16], id[3 * LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	const char *bid = json_string_value(json_object_get(batch, "id"));
	const char *base = strcmp(ctx->cfg->base_path, "/") == 0 ? "" : ctx->cfg->base_path;
	if (!api_gwbatch_anthropic(rq) || !json_is_object(batch) || json_object_get(batch, "results_url") == NULL ||
	    json_is_null(json_object_get(batch, "results_url")))
		return;	/* none yet (the batch has not ended), or no message batch */
	if (bid == NULL || !gwobject_id_ok(bid) || urlpath_encode(bid, id, sizeof(id)) != 0) {
		json_object_set_new(batch, "results_url", json_null());	/* never the provider's */
		return;
	}
	own_origin(rq, origin, sizeof(origin));
	json_t *url = json_sprintf("%s%s/anthropic/v1/messages/batches/%s/results", origin, base, id);
	json_object_set_new(batch, "results_url", url != NULL ? url : json_null());
}

void api_gwbatch_no_batch(const struct request *rq, struct response *rs, const char *id)
{
	api_gwbatch_not_found(rq, rs, NULL, "No batch found with id '%s'.", gwobject_id_ok(id) ? id : "?");
}
