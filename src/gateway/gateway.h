/* gateway.h: the gateway's calls in flight (docs/gateway.md). A gateway route's
 * handler (api_gateway.c) checks the call and holds its worst case on the
 * worker's thread; the worker then hands the client's request to this
 * module: one loop thread forwards every call to its provider and passes
 * the answers back as they come (never waiting on a client: a slow one's
 * answer is held back, not the loop), and a few ending threads settle
 * each hold with the provider's usage (or release it) on ledger
 * connections of their own. So a call that takes minutes never holds a
 * worker, and /v1/guard/…, the Stripe webhook and /healthz answer in
 * their usual time whatever the providers do.
 *
 * At most [gateway] max_streams calls are in flight (gateway_admit). */
#ifndef CREDITD_GATEWAY_H
#define CREDITD_GATEWAY_H
#include <stddef.h>
#include <stdint.h>
#include "gwjob.h"

struct cfg;

/* Starts the module (no thread yet). 0, or -1. */
int gateway_init(const struct cfg *cfg);

/* Takes one of max_streams places for a call of a key (the hash of its
 * secret; 0 for a key the per-key share does not bind: an app's guard key,
 * which serves every user) and an account (the hash of its id): GW_ADMITTED
 * with the place's number in *place, GW_FULL when all are in use (the caller
 * answers 503 with Retry-After: 1), GW_KEY_SHARE or GW_ACCOUNT_SHARE when the
 * key has [gateway] max_streams_per_key calls in flight already, or the
 * account max_streams_per_account (429 with Retry-After: 1): one key or one
 * account cannot take every place (docs/gateway.md, "Taking every place"). A
 * place taken is given back by gateway_run's call when it ends (job->place),
 * or by gateway_unadmit when the call goes no further. */
/* bytes: the room its whole answer reserves (gwbuffer_bound; docs/gateway.md, "Fair share"):
 * GW_BUFFER_ACCOUNT when the account's calls hold [gateway]
 * max_buffered_per_account_mib already, GW_BUFFER_ALL when all hold
 * max_buffered_mib (429 with Retry-After: 1, nothing held). */
enum gw_admit { GW_ADMITTED = 0, GW_FULL, GW_KEY_SHARE, GW_ACCOUNT_SHARE, GW_BUFFER_ACCOUNT, GW_BUFFER_ALL };
enum gw_admit gateway_admit(uint64_t key, uint64_t account, int64_t bytes, int *place);
void gateway_unadmit(int place);
/* 1 when a stream in flight of account answered Responses id `id`, not
 * kept in the database yet (docs/gateway.md, "previous_response_id"),
 * with the provider streaming it copied into provider (cap bytes) unless
 * provider is NULL. */
int gateway_response_in_flight(const char *account, const char *id, char *provider, size_t cap);

/* Runs job on the gateway's loop; takes job (malloc'ed) and the edge's
 * request. -1 when the loop could not start or out of memory: the caller
 * then answers and ends the request itself, the job still its own. */
int gateway_run(struct gw_job *job, const struct gw_edge *edge);

/* Calls in flight now. */
int64_t gateway_in_flight(void);

/* SIGTERM: waits up to [gateway] drain_seconds for the calls in flight
 * to end (each is settled as it ends). Returns the calls still running. */
int64_t gateway_drain(void);

#endif
