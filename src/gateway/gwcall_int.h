/* gwcall_int.h: what gwcall.c takes from gwcall_ledger.c (the ledger's
 * side of a call); not for the rest of the gateway. */
#ifndef CREDITD_GWCALL_INT_H
#define CREDITD_GWCALL_INT_H
#include "gwjob.h"

struct cfg;
struct store;

/* The ledger connections and the ids in flight, for cfg. 0 or -1. */
int gwcall_ledger_init(const struct cfg *cfg);
/* A ledger connection, made when fewer than LIMIT_GATEWAY_LEDGERS exist,
 * else the next one given back (waited for). NULL out of memory. */
struct store *gwcall_ledger_borrow(void);
void gwcall_ledger_giveback(struct store *lg);
/* Lists (id "" : unlists) the response id of job's stream in flight. */
void gwcall_ledger_id_list(const struct gw_job *job, const char *id);
/* Keeps u's Responses id for job's account (logged when it cannot). */
void gwcall_ledger_keep_response(const struct gw_job *job, const struct gw_usage *u);
/* The row of the model a tool's runs named, when not the one the tool
 * asked (docs/gateway.md, "A tool's own model"): 1 with *named, 0 when
 * the one asked, several, or a model not priced. */
int gwcall_tool_named(const struct gw_job *job, const struct gw_usage *u, struct price *named);
/* Settles job's hold with u under reason, waiting out a database away
 * for a moment (LIMIT_GATEWAY_SETTLE_TRIES); *charged and *balance from
 * the answer (-1 when unknown). CD_OK, or why not (logged). */
enum cd_err gwcall_ledger_charge(const struct gw_job *job, const struct gw_usage *u, int64_t extra_raw,
				 const char *reason, int64_t *charged, int64_t *balance);
/* Keeps job's hold unresolved (docs/gateway.md, "When a provider may
 * already be working"): its input bound's cost its charge, due in
 * [gateway] unresolved_days; one that cannot be is logged (it then
 * expires at its ttl and is captured in full). Nothing for a BYOK call. */
void gwcall_ledger_unresolve(const struct gw_job *job);
#endif
