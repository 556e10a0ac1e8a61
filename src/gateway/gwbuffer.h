/* gwbuffer.h: the bytes of whole answers the gateway holds in memory
 * (docs/gateway.md, "Memory, and one account's load on another"), bounded
 * in all ([gateway] max_buffered_mib) and per account ([gateway]
 * max_buffered_per_account_mib), so that one account's unread answers can
 * never make another account's calls fail or cost more.
 *
 * A call reserves room when it is admitted, at its place among
 * max_streams (gateway_admit), from its answer's bound (gwbuffer_bound),
 * at most its account's room: one that cannot get it, in its account's
 * room or in all, is refused before anything is forwarded (429), nothing
 * held or charged. Its answer's bytes are then counted as they come
 * (gwbuffer_take): within its reservation they always fit; past it (an
 * answer beyond the bound) they take what no reservation holds in all,
 * so no admitted call ever loses room to it. Only when nothing is left
 * in all is an answer not held: its caller is answered 503 and charged
 * the usage its end reports (read on, not kept: gwshape_usage_tail), else
 * the estimate of its bytes, never a hold it did not use. The room is given back when the call ends
 * (gateway_unadmit). Thread-safe: workers reserve, the loop takes. */
#ifndef CREDITD_GWBUFFER_H
#define CREDITD_GWBUFFER_H
#include <stdint.h>
#include "gwjob.h"

/* The table of places (max_streams of them), the budget in all and an
 * account's room, in bytes (an account's at most all's). 0 or -1. */
int gwbuffer_init(int64_t places, int64_t all_bytes, int64_t account_bytes);
/* The most bytes job's answer takes when held whole (pure): a stream's
 * and a free route's a fixed part (an error's body); a whole answer's the
 * fixed part, its request's bytes and LIMIT_GATEWAY_TOKEN_BYTES per output
 * token held (embeddings: per number of its vectors); at most
 * LIMIT_GATEWAY_ANSWER_BYTES and the fixed part. */
int64_t gwbuffer_bound(const struct gw_job *job);
enum gwbuffer_refusal {
	GWBUFFER_OK = 0,	/* reserved */
	GWBUFFER_ACCOUNT,	/* the account's room is held by its calls in flight */
	GWBUFFER_ALL,		/* the budget in all is held */
};
/* Reserves bytes (at most the account's room) for the call at place of
 * account (the hash of its id). The place is the caller's, unused here. */
enum gwbuffer_refusal gwbuffer_reserve(int place, uint64_t account, int64_t bytes);
/* n more bytes of place's answer held: 0, or -1 when they do not fit
 * (past its reservation, nothing left in all): then nothing is counted. */
int gwbuffer_take(int place, int64_t n);
/* n of place's bytes no longer held (a try's answer dropped). */
void gwbuffer_give(int place, int64_t n);
/* The call at place ended: its room and bytes given back. */
void gwbuffer_end(int place);
/* Bytes held or reserved in all, and by account's calls (metrics, tests). */
int64_t gwbuffer_held(uint64_t account);
int64_t gwbuffer_held_all(void);
#endif
