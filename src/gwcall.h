/* gwcall.h: one gateway call on its thread (DESIGN §12), from the body
 * sent to the provider to the hold settled or released; gateway.c runs
 * the threads. */
#ifndef CREDITD_GWCALL_H
#define CREDITD_GWCALL_H
#include "gwjob.h"

struct cfg;
struct gwcall_thread;

/* The ledger connections the calls settle on (made as needed). 0 or -1. */
int gwcall_init(const struct cfg *cfg);
/* A thread's own state: its provider connection. NULL out of memory
 * (the thread's calls then answer 503). */
struct gwcall_thread *gwcall_thread_new(void);
void gwcall_thread_free(struct gwcall_thread *t);
/* Releases a call's hold on lg (nothing held when hold_id is ""); a
 * failure is logged: the hold then expires at its ttl. */
struct ledger;
void gwcall_release(struct ledger *lg, const char *hold_id);
/* Runs job to its end: the answer written and the request finished
 * through edge, the hold settled or released. */
void gwcall_run(struct gwcall_thread *t, struct gw_job *job, const struct gw_edge *edge);

/* The settle reasons DESIGN §12 names. */
#define GW_REASON_PROVIDER_USAGE "provider_usage"
#define GW_REASON_CLIENT_GONE "client_gone"
#define GW_REASON_ESTIMATED "estimated"
#define GW_REASON_PROVIDER_ERROR "provider_error"

#endif
