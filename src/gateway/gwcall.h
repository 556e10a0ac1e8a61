/* gwcall.h: one gateway call (docs/gateway.md), from the body sent to the
 * provider to the hold settled or released; gateway.c runs the loop and
 * the ending threads it passes through.
 *
 * The body sent (docs/gateway.md, "Request bodies"): the client's as it
 * came, from memory, or from its file when the worker kept it on disk
 * (gwjob.h: body_spool, sent through provider_call's body_file, never
 * read into memory); or one rebuilt for the provider (a model renamed,
 * a stream's usage asked for), from memory. The job's body, memory or
 * file, is released with the call (gwcall_finish). */
#ifndef CREDITD_GWCALL_H
#define CREDITD_GWCALL_H
#include "gwjob.h"
#include "provider.h"

struct cfg;

/* The ledger connections the calls settle on (made as needed). 0 or -1. */
int gwcall_init(const struct cfg *cfg);
/* Releases a call's hold on db (nothing held when hold_id is ""). 0, or
 * -1 when it was not (logged): a call's hold then expires at its ttl; a
 * batch's job tries again at its next pass. */
struct store;
int gwcall_release(struct store *db, const char *hold_id);

/* One call, from the worker that admitted it to the thread that ends it:
 * made on the worker (the body to send built there), started and read on
 * the gateway's loop, ended on an ending thread. */
struct gwcall;
/* A call of job (taken) through edge (copied). NULL out of memory (job
 * still the caller's). */
struct gwcall *gwcall_new(struct gw_job *job, const struct gw_edge *edge);
/* On the loop, as it starts: the provider's call to run (NULL out of
 * memory: end the call at once with PROVIDER_FAILED). wake(arg) is
 * called when c has bytes for its client; the loop then calls
 * gwcall_send once curl has handed over what it read, so events that
 * arrived together leave in one send. */
const struct provider_call *gwcall_start(struct gwcall *c, void (*wake)(void *arg), void *arg);
/* On the loop, when c's try ended with r (err: why) before its client
 * saw a byte: the next provider's call, to start in its place, when the
 * provider cannot have started the work (no connection, the request not
 * sent in full, 429, 500, 502, 503, 529: docs/gateway.md) and one is
 * left; else NULL, and c ends (gwcall_end). The hold is the same. */
const struct provider_call *gwcall_retry(struct gwcall *c, enum provider_result r, const char *err);
/* Sends what c has for its client without waiting: 0 all sent, 1 some
 * left (the loop holds the provider's answer back until the client's
 * socket is writable, then sends again), -1 the client is gone. */
int gwcall_send(struct gwcall *c);
/* The client took nothing for too long: it is gone. */
void gwcall_client_gone(struct gwcall *c);
/* The edge c answers through. */
const struct gw_edge *gwcall_edge(const struct gwcall *c);
/* Ends c with the provider's result, on an ending thread: the hold
 * settled or released on a ledger connection, the rest of the answer and
 * its end added for the loop to send (gwcall_send; an ending thread
 * never waits on a client). */
void gwcall_end(struct gwcall *c, enum provider_result r, const char *err);
/* Ends the request through the edge without waiting (what was not sent
 * is dropped); c and its job freed. */
void gwcall_finish(struct gwcall *c);
/* The call's place among max_streams (gateway_admit), for its ending. */
int gwcall_place(const struct gwcall *c);

/* The settle reasons, GW_REASON_*: gwjob.h (a background run's settle names them too). */

/* Renews the hold of a call in flight by ttl seconds (ledger_hold_renew),
 * on a ledger connection of the gateway's: 0, or -1 when it could not
 * (logged; to be tried again). */
int gwcall_renew(const char *account, const char *hold_id, int64_t ttl);

/* 1 when a stream in flight of account answered response id `id` (its
 * events seen, its settle not yet kept it: ledger_gw_response_owned). */
int gwcall_response_in_flight(const char *account, const char *id, char *provider, size_t cap);

#endif
