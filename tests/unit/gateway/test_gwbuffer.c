/* test_gwbuffer.c: unit tests for src/gateway/gwbuffer.c (docs/gateway.md,
 * "Fair share"): the room a call's whole answer
 * reserves at admission (its bound: a stream's and a free route's fixed
 * part; a whole answer's cap × choices × LIMIT_GATEWAY_TOKEN_BYTES with
 * its request's bytes; embeddings by their vectors), refused per account
 * and in all; an answer past its room taking only what no reservation
 * holds; rooms given back. No network, no clock. */
#include "gwbuffer.h"
#include "limits.h"
#include "tap.h"
#include "unit/gateway/gwroutes.h"
#include <stdio.h>
#include <string.h>

#define MIB (1024 * 1024)
#define FIXED LIMIT_GATEWAY_ANSWER_OVERHEAD_BYTES

static int64_t bound(const struct gwkind_route *r, int stream, int64_t output, size_t body, int64_t vectors,
		     int64_t dims)
{
	struct gw_job job;
	memset(&job, 0, sizeof(job));
	job.route = r;
	job.ask.stream = stream;
	job.hold_output = output;
	job.body_len = body;
	job.ask.vectors = vectors;
	job.ask.dimensions = dims;
	return gwbuffer_bound(&job);
}

static void test_bound(void)
{
	is_int(bound(R_CHAT, 1, 16384, 5000, 0, 0), FIXED, "a stream: the fixed part (an error's body)");
	is_int(bound(R_CHAT, 0, 1000, 5000, 0, 0), FIXED + 5000 + 1000 * LIMIT_GATEWAY_TOKEN_BYTES,
	       "a whole answer: the fixed part, its request's bytes, its output tokens at the bound");
	is_int(bound(R_CHAT, 0, 16384, 0, 0, 0), FIXED + MIB, "16,384 tokens are 1 MiB");
	is_int(bound(R_CHAT, 0, LIMIT_TOKENS_MAX, 0, 0, 0), FIXED + LIMIT_GATEWAY_ANSWER_BYTES,
	       "at most the largest answer creditd passes on whole");
	is_int(bound(R_EMBEDDINGS, 0, 0, 100, 3, 1536), FIXED + 100 + 3 * 1536 * LIMIT_GATEWAY_EMBEDDING_NUMBER_BYTES,
	       "embeddings: by their vectors and dimensions");
	struct gw_job job;
	memset(&job, 0, sizeof(job));
	job.route = gwkind_route("/anthropic/v1/messages/count_tokens");
	job.body_len = 1000000;
	ok(job.route != NULL && job.route->free && gwbuffer_bound(&job) == FIXED, "a free route: the fixed part");
}

static void test_rooms(void)
{
	uint64_t a = 11, b = 22;
	ok(gwbuffer_init(8, 10 * MIB, 4 * MIB) == 0, "8 places, 10 MiB in all, 4 per account");
	is_int(gwbuffer_reserve(0, a, 3 * MIB), GWBUFFER_OK, "a's first, 3 MiB");
	is_int(gwbuffer_reserve(1, a, 2 * MIB), GWBUFFER_ACCOUNT, "a's second, 2 MiB more: past a's room");
	is_int(gwbuffer_held(a), 3 * MIB, "... refused, nothing taken");
	is_int(gwbuffer_reserve(1, a, 1 * MIB), GWBUFFER_OK, "1 MiB fits a's room exactly");
	is_int(gwbuffer_reserve(2, b, 4 * MIB), GWBUFFER_OK, "b's room is its own: a's full room does not refuse b");
	is_int(gwbuffer_reserve(3, 33, 100 * MIB), GWBUFFER_ALL, "a third account: 4 MiB (its room) past 10 in all");
	is_int(gwbuffer_reserve(3, 33, 2 * MIB), GWBUFFER_OK, "2 MiB fits in all");
	is_int(gwbuffer_held_all(), 10 * MIB, "10 MiB held in all");
	/* Answers within their rooms always fit. */
	is_int(gwbuffer_take(0, 3 * MIB), 0, "a's answer within its reservation");
	is_int(gwbuffer_held_all(), 10 * MIB, "... takes nothing more");
	/* An answer past its room: only from what no reservation holds. */
	is_int(gwbuffer_take(0, 1), -1, "past a's room with nothing left in all: not held");
	gwbuffer_end(3);
	is_int(gwbuffer_take(0, MIB), 0, "with 2 MiB free in all, a's answer grows by 1");
	is_int(gwbuffer_held(a), 5 * MIB, "a holds past its room until it ends");
	is_int(gwbuffer_reserve(3, a, 1), GWBUFFER_ACCOUNT, "a's next call waits");
	is_int(gwbuffer_reserve(3, b, 1), GWBUFFER_ACCOUNT, "b's room is full too (4 MiB)");
	is_int(gwbuffer_reserve(3, 44, 2 * MIB), GWBUFFER_ALL, "another account: only 1 MiB left in all");
	gwbuffer_give(0, 2 * MIB);
	is_int(gwbuffer_held(a), 4 * MIB, "bytes given back (a try dropped): down to the reservations");
	gwbuffer_end(0);
	gwbuffer_end(1);
	gwbuffer_end(2);
	gwbuffer_end(2);
	is_int(gwbuffer_held_all(), 0, "every room given back once");
	ok(gwbuffer_init(4, 2 * MIB, 64 * MIB) == 0, "an account's room past all's");
	is_int(gwbuffer_reserve(0, a, 3 * MIB), GWBUFFER_OK, "is all's: a call past it reserves at most the room");
	is_int(gwbuffer_held(a), 2 * MIB, "... 2 MiB");
	gwbuffer_end(0);
}

int main(void)
{
	test_bound();
	test_rooms();
	printf("# %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
	return done_testing();
}
