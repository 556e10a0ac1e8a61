/* gwcall_int.h: what gwcall.c takes from gwcall_io.c (a call's bytes:
 * the request sent, the answer read, the client written) and from
 * gwcall_ledger.c (the ledger's side of a call), and the call they
 * share; not for the rest of the gateway. */
#ifndef CREDITD_GWCALL_INT_H
#define CREDITD_GWCALL_INT_H
#include "gwjob.h"
#include "dynbuf.h"
#include "errors.h"
#include "limits_gateway.h"
#include "provider.h"

struct cfg;
struct store;

/* ---- One call (gwcall.h) ---- */

struct gwcall {
	struct gw_job *job;
	struct gw_edge edge;		/* the worker's */
	void (*wake)(void *arg);	/* the loop's: c has bytes to send */
	void *wake_arg;
	int waking;			/* wake called, gwcall_send not yet */
	int prepared;			/* pc is ready (else out of memory) */
	const struct gwkind *kind;	/* the shape its answers and errors take */
	int status;			/* the provider's; 0 before its head */
	int answered;			/* the status written to the client; 0 before */
	int gone;			/* the client left */
	int64_t gone_ms;
	struct gw_stream stream;
	struct dynbuf whole;		/* a whole answer, or an error's body */
	int64_t buffered;		/* its bytes counted in its place's room (gwbuffer.h), until the call finishes */
	int over_budget;		/* a whole answer past its room with none left in all: read on, not kept */
	char tail[GW_TAIL_BYTES];	/* then its last bytes, where its usage is */
	size_t tail_len;
	int id_listed;			/* its stream's response id is in ids[] */
	struct dynbuf head;		/* the provider's headers passed on, as CGI lines */
	/* The provider's call: its URL, header lines and body. */
	struct provider_call pc;
	char url[LIMIT_GATEWAY_URL_BYTES];
	struct dynbuf lines;		/* header lines, each NUL-ended */
	const char *headers[8 + LIMIT_GATEWAY_PROVIDER_HEADERS];
	char *upstream_body;		/* NULL: the client's body as it came */
	int attempt;			/* the try: job->providers' index */
	const char *body_model;		/* the model upstream_body names (the config's string), NULL: none built */
	size_t upstream_len;
};

/* The provider this try calls. */
static inline const struct gwconfig_provider *gwcall_provider(const struct gwcall *c)
{
	return c->job->providers[c->attempt];
}

/* ---- Its bytes (gwcall_io.c) ---- */

/* The [gateway] keys of cfg, for what follows. */
void gwcall_io_init(const struct cfg *cfg);
/* The provider's call of c's try, in c->pc: 0, or -1 out of memory. */
int gwcall_prepare(struct gwcall *c);
/* n bytes for c's client (the client marked gone when they cannot go). */
void gwcall_client_write(struct gwcall *c, const char *bytes, size_t n);
/* Sends what was written: later, by the loop (gwcall_send), once curl
 * has handed over all it read. On the loop only. */
void gwcall_client_flush(struct gwcall *c);
/* Writes the answer's CGI head: status, the provider's headers passed
 * on, creditd's own (extra, "" or lines ending in \r\n). */
void gwcall_head_write(struct gwcall *c, int status, const char *extra);
/* creditd's own error in the provider's shape: status, e's type and code,
 * the message; extra, header lines ending in \r\n ("" none). */
void gwcall_error_write_with(struct gwcall *c, int status, enum cd_err e, const char *message, const char *extra);
void gwcall_error_write(struct gwcall *c, int status, enum cd_err e, const char *message);

/* ---- Its ledger side (gwcall_ledger.c) ---- */


/* The ledger connections and the ids in flight, for cfg. 0 or -1. */
int gwcall_ledger_init(const struct cfg *cfg);
/* A ledger connection, made when fewer than LIMIT_GATEWAY_LEDGERS exist,
 * else the next one given back (waited for). NULL out of memory. */
struct store *gwcall_ledger_borrow(void);
void gwcall_ledger_giveback(struct store *db);
/* Lists (id "" : unlists) the response id of job's stream in flight,
 * answered by provider (a name the config keeps). */
void gwcall_ledger_id_list(const struct gw_job *job, const char *id, const char *provider);
/* Keeps u's Responses id for job's account, made by provider (logged
 * when it cannot). */
void gwcall_ledger_keep_response(const struct gw_job *job, const char *provider, const struct gw_usage *u);
/* An object route's answer (status, body): an object the provider said it
 * deleted (DELETE, 2xx, "deleted": true) is forgotten from job's
 * account's record (docs/gateway.md, "Provider objects"); logged when it
 * cannot be. Nothing for another route or answer. */
void gwcall_ledger_forget(const struct gw_job *job, int status, const char *body, size_t len);
/* The row of the model a tool's runs named, when not the one the tool
 * asked (docs/gateway.md, "A tool's own model"): 1 with *named, 0 when
 * the one asked, several, or a model not priced per token (none, or a
 * media row: docs/decisions.md). */
int gwcall_tool_named(const struct gw_job *job, const struct gw_usage *u, struct price *named);
/* Settles job's hold with u under reason at the price of the provider
 * of try try_of (docs/gateway.md, "Which price a call is charged"; provider:
 * its name, whose Responses id is kept), waiting out a database away for a
 * moment (LIMIT_GATEWAY_SETTLE_TRIES); *charged and *balance from the
 * answer (-1 when unknown). CD_OK, or why not (logged). */
enum cd_err gwcall_ledger_charge(const struct gw_job *job, int try_of, const char *provider, const struct gw_usage *u,
				 int64_t extra_raw, const char *reason, int64_t *charged, int64_t *balance);
/* Keeps job's hold unresolved (docs/gateway.md, "When a provider may
 * already be working"): its input bound's cost at the price of try
 * try_of's provider its charge, due in
 * [gateway] unresolved_days; one that cannot be is logged (it then
 * expires at its ttl and is captured in full). Nothing for a BYOK call. */
void gwcall_ledger_unresolve(const struct gw_job *job, int try_of);
#endif
