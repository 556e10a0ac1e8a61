/* gwbuffer.c: the room of whole answers held in memory (see gwbuffer.h,
 * docs/gateway.md, "Fair share"). One table, a row per place among max_streams, under one
 * lock: a row's held bytes are the larger of its reservation and the
 * bytes its answer holds; all's held is their sum, kept as rows change;
 * an account's is summed over the rows when a call asks to be admitted
 * (max_streams rows: microseconds, as gateway.c's share count). */
#include "gwbuffer.h"
#include "limits.h"
#include "limits_gateway.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

struct room {
	uint64_t account;
	int64_t reserved, used;
	int live;
};

static struct room *rooms;
static int64_t nrooms, all_room, account_room, held_all;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int gwbuffer_init(int64_t places, int64_t all_bytes, int64_t account_bytes)
{
	assert(places > 0);
	assert(all_bytes > 0);
	free(rooms);
	rooms = calloc((size_t)places, sizeof(*rooms));
	if (rooms == NULL)
		return -1;
	nrooms = places;
	all_room = all_bytes;
	account_room = account_bytes > 0 && account_bytes < all_bytes ? account_bytes : all_bytes;
	held_all = 0;
	return 0;
}

static int64_t add_held(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

int64_t gwbuffer_bound(const struct gw_job *job)
{
	int64_t fixed = LIMIT_GATEWAY_ANSWER_OVERHEAD_BYTES, most = LIMIT_GATEWAY_ANSWER_BYTES;
	if (job->ask.stream || job->route->free)
		return fixed;
	int64_t body = job->body_len > (size_t)most ? most : (int64_t)job->body_len;
	int64_t output = job->hold_output > 0 ? job->hold_output : 0;
	int64_t per = LIMIT_GATEWAY_TOKEN_BYTES;
	if (job->ask.vectors > 0) {	/* embeddings: numbers, not tokens */
		output = job->ask.vectors > most ? most : job->ask.vectors;
		per = job->ask.dimensions * LIMIT_GATEWAY_EMBEDDING_NUMBER_BYTES;
	}
	if (job->route->images) {	/* images: n of them, base64 or a URL each */
		output = job->ask.img.n;
		per = LIMIT_GATEWAY_IMAGE_ANSWER_BYTES;
	}
	int64_t answer = output > most / (per > 0 ? per : 1) ? most : output * per;
	answer = add_held(answer, body);
	return add_held(fixed, answer < most ? answer : most);
}

static int64_t held(const struct room *r)
{
	return r->used > r->reserved ? r->used : r->reserved;
}

static int64_t account_held(uint64_t account)
{
	int64_t n = 0;
	for (int64_t i = 0; i < nrooms; i++)
		if (rooms[i].live && rooms[i].account == account)
			n = add_held(n, held(&rooms[i]));
	return n;
}

enum gwbuffer_refusal gwbuffer_reserve(int place, uint64_t account, int64_t bytes)
{
	enum gwbuffer_refusal rc = GWBUFFER_OK;
	assert(place >= 0 && place < nrooms);
	assert(bytes >= 0);
	if (bytes > account_room)
		bytes = account_room;	/* a call its account makes alone is always held */
	pthread_mutex_lock(&lock);
	assert(!rooms[place].live);
	if (account_held(account) > account_room - bytes)
		rc = GWBUFFER_ACCOUNT;
	else if (held_all > all_room - bytes)
		rc = GWBUFFER_ALL;
	else {
		rooms[place] = (struct room){account, bytes, 0, 1};
		held_all += bytes;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int gwbuffer_take(int place, int64_t n)
{
	int rc = 0;
	assert(place >= 0 && place < nrooms);
	assert(n >= 0);
	pthread_mutex_lock(&lock);
	struct room *r = &rooms[place];
	assert(r->live);
	int64_t before = held(r), used = add_held(r->used, n);
	int64_t grown = (used > r->reserved ? used : r->reserved) - before;
	/* Past its reservation: from what no reservation holds in all. */
	if (grown > 0 && held_all > all_room - grown)
		rc = -1;
	else {
		r->used = used;
		held_all += grown;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

void gwbuffer_give(int place, int64_t n)
{
	assert(place >= 0 && place < nrooms);
	pthread_mutex_lock(&lock);
	struct room *r = &rooms[place];
	int64_t before = held(r);
	r->used = n < r->used ? r->used - n : 0;
	held_all -= before - held(r);
	assert(held_all >= 0);
	pthread_mutex_unlock(&lock);
}

void gwbuffer_end(int place)
{
	if (place < 0 || place >= nrooms)
		return;
	pthread_mutex_lock(&lock);
	struct room *r = &rooms[place];
	if (r->live) {
		held_all -= held(r);
		*r = (struct room){0, 0, 0, 0};
	}
	assert(held_all >= 0);
	pthread_mutex_unlock(&lock);
}

int64_t gwbuffer_held(uint64_t account)
{
	pthread_mutex_lock(&lock);
	int64_t n = account_held(account);
	pthread_mutex_unlock(&lock);
	return n;
}

int64_t gwbuffer_held_all(void)
{
	pthread_mutex_lock(&lock);
	int64_t n = held_all;
	pthread_mutex_unlock(&lock);
	return n;
}
