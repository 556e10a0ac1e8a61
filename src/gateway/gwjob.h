/* gwjob.h: one gateway call as it passes from the worker that admitted
 * it (api_gateway.c, worker.c) to the gateway's loop and ending threads
 * that run it (gateway.c, gwcall.c): types only. */
#ifndef CREDITD_GWJOB_H
#define CREDITD_GWJOB_H
#include <stddef.h>
#include <stdint.h>
#include "gwshape.h"
#include "gwkind.h"
#include "gwmoney.h"
#include "pricing.h"
#include "limits.h"

struct gwconfig;
struct gwconfig_provider;
struct spool;

/* The settle reasons (docs/gateway.md, "settle reason"). */
#define GW_REASON_PROVIDER_USAGE "provider_usage"
#define GW_REASON_CLIENT_GONE "client_gone"
#define GW_REASON_ESTIMATED "estimated"
#define GW_REASON_PROVIDER_ERROR "provider_error"

/* The client's side of a call, provided by the worker (which owns
 * FastCGI): the gateway writes the answer through it. */
struct gw_edge {
	void *req;
	/* Adds n bytes to the answer (CGI headers first), not yet sent. 0,
	 * or -1 (out of memory: the answer is broken). */
	int (*write)(void *req, const char *bytes, size_t n);
	/* Sends what was added: deadline_ms 0 takes what the socket takes
	 * now, else waits until deadline_ms (CLOCK_MONOTONIC ms). 0 all
	 * sent, 1 some left, -1 the client is gone. */
	int (*send)(void *req, int64_t deadline_ms);
	/* The socket to the web server, to wait for it to take more. */
	int (*fd)(void *req);
	/* Adds the answer's end (what send sends last). 0 or -1. */
	int (*end)(void *req);
	/* Ends the request without waiting (what was not sent is dropped):
	 * counted under route with status, logged, its connection closed,
	 * req freed. */
	void (*finish)(void *req, const char *route, int status, const char *account);
};

/* One call, as the handler admitted and held it. Strings are copies
 * owned by the job, and so is its body.
 *
 * The body (docs/gateway.md, "Request bodies") is the client's, as
 * received: body_len bytes at body, then a NUL (not part of it), never
 * written to. A body within [gateway] max_body_bytes is in memory
 * (body_memory, malloc'ed); a larger one, which only a route with a
 * larger limit of its own takes (gwbody.h), was kept on disk by the
 * worker: body is then the read-only mapping of body_spool's file
 * (spool.h), and the forward sends it from that file (provider_call's
 * body_file) when it sends it unchanged. Either is released with the
 * job (gwcall_finish, or the worker when the hand-over fails): the file
 * has no name, so nothing is left on disk on any path, a crash
 * included. */
struct gw_job {
	const struct gwkind_route *route;	/* its kind and its route (static) */
	const char *route_name;		/* the route's metrics name (static) */
	/* The gateway's configuration ([gateway] and its providers), found
	 * once as the job is made (gwconfig_of): what admits, routes and
	 * holds the call reads it here. */
	const struct gwconfig *gw;
	const char *body;		/* as received: in memory or mapped */
	size_t body_len;
	char *body_memory;		/* the body when in memory (freed with the job), else NULL */
	struct spool *body_spool;	/* the body's file when kept on disk (closed with the job), else NULL */
	struct gw_ask ask;
	int64_t cap;			/* the output cap to send; -1: the body's own */
	int shrunk;			/* cap was lowered (Creditd-Output-Cap) */
	int byok;
	/* A line of a batch (docs/gateway.md, "Batches"): held at the row's
	 * batch prices (pricing_batch), refused where the row has none. */
	int batch;
	int stream_cost;		/* Creditd-Stream-Cost: 1: a stream ends with its cost line (docs/gateway.md) */
	char hold_id[LIMIT_HOLD_ID_BYTES];	/* "" with BYOK: nothing held */
	char account[LIMIT_ACCOUNT_ID_BYTES + 1];
	char member[LIMIT_ACCOUNT_ID_BYTES + 1];	/* "" : none */
	int64_t hold_input, hold_output;	/* what the hold covers */
	int64_t hold_ttl;		/* its ttl (seconds): renewed by that much while the call lives */
	/* The model's price and margin as the hold pinned them (its first
	 * provider's), and the web searches the hold covers. */
	struct price price;
	int64_t margin;
	int64_t hold_fees_raw;		/* the hold's fees (raw units): what a media call's units held cost */
	int64_t searches_held;
	/* A tool's own model (ask.tool_model, docs/gateway.md "A tool's own
	 * model"): its row as pinned when the call was admitted, and what
	 * the hold covers of its runs. */
	struct price tool_price;
	struct gw_tool_held tool_held;
	/* The providers that serve its model, in the order they are tried
	 * on a failure before the first byte (docs/gateway.md, "Fallback"): at most [gateway]
	 * max_attempts, each with a key; a BYOK call's first alone (its key
	 * is one provider's). */
	const struct gwconfig_provider *providers[LIMIT_GATEWAY_ATTEMPTS_MAX];
	int nproviders;
	/* The price a try of providers[i] is charged at, with the dimensions
	 * beyond tokens the settle prices the usage's at (docs/gateway.md,
	 * "Which price a call is charged", "What is billed"): its own row
	 * for the model (price_own[i] 1), else the model's general row; the
	 * hold covers the dearest. */
	struct price prices[LIMIT_GATEWAY_ATTEMPTS_MAX];
	unsigned char price_own[LIMIT_GATEWAY_ATTEMPTS_MAX];
	char provider_key[LIMIT_PROVIDER_KEY_BYTES + 1];	/* a BYOK call's key, sent upstream */
	/* The client's headers its kind forwards (gwkind.forwarded, in
	 * that order): "" : not sent by the client. */
	char forwarded[LIMIT_GATEWAY_KIND_FORWARDED][LIMIT_GATEWAY_HEADER_BYTES + 1];
	char request_id[LIMIT_REQUEST_ID_BYTES + 1];	/* the hold's request_id */
	int64_t received_ms;		/* when the worker took the request (overhead metric) */
	int place;			/* its place among max_streams (gateway_admit) */
	int reasoning;			/* its model reasons (price row): an estimate charges the hold's output */
	/* An object route's call (docs/gateway.md, "Provider objects"): the
	 * object's id, and the provider's path for it with the query checked
	 * (gwobject.h), sent to providers[0] alone, the one that made it;
	 * "" for a call's own route. */
	char object_id[LIMIT_GATEWAY_RESPONSE_ID_BYTES];
	char object_path[LIMIT_GATEWAY_URL_BYTES];
	/* A form route's Content-Type as the client sent it (its boundary is
	 * the body's), sent upstream; "" : application/json. */
	char content_type[LIMIT_GATEWAY_CONTENT_TYPE_BYTES];
};

#endif
