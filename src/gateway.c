/* gateway.c: the gateway's calls in flight (see gateway.h).
 *
 * A call's path on its thread: the body to send (gwshape), the provider's
 * URL and headers (only those DESIGN §12 lists), the call (provider.c),
 * the answer passed back as it comes (streams event by event, flushed;
 * a whole answer once settled), then the hold settled with the provider's
 * usage and a settle reason, or released when the provider answered an
 * error before any output. Settles and releases run on a few ledger
 * connections the threads share (LIMIT_GATEWAY_LEDGERS), through the
 * guard's own operations: the combiner batches them with the guard's.
 *
 * Never: forwards creditd's key, the client's cookies or Creditd-*
 * headers; buffers a stream; charges a call the provider refused before
 * any output; charges usage that disagrees with what was asked (an output
 * above the cap sent, cached above input: the hold is released and the
 * error logged, the ledger untouched). */
#include "gateway.h"
#include "config.h"
#include "dynbuf.h"
#include "gwcall.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct cfg *gw_cfg;
static atomic_llong in_flight;
static atomic_int closing;		/* SIGTERM: no call admitted any more */

/* Idle threads wait here for their next job. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t drained_cond = PTHREAD_COND_INITIALIZER;
struct queued {
	struct gw_job *job;
	struct gw_edge edge;
};
static struct queued *queue;		/* max_streams slots, a ring */
static int64_t q_head, q_len, idle;

int gateway_init(const struct cfg *cfg)
{
	gw_cfg = cfg;
	queue = calloc((size_t)cfg->gw_max_streams, sizeof(*queue));
	if (queue == NULL)
		return -1;
	return gwcall_init(cfg);
}

int gateway_admit(void)
{
	long long now = atomic_fetch_add(&in_flight, 1);
	if (now >= gw_cfg->gw_max_streams || atomic_load(&closing)) {
		atomic_fetch_sub(&in_flight, 1);
		return -1;
	}
	return 0;
}

void gateway_unadmit(void)
{
	long long was = atomic_fetch_sub(&in_flight, 1);
	if (was == 1) {
		pthread_mutex_lock(&pool_lock);
		pthread_cond_broadcast(&drained_cond);
		pthread_mutex_unlock(&pool_lock);
	}
}

int64_t gateway_in_flight(void)
{
	return atomic_load(&in_flight);
}

static void *thread_main(void *arg)
{
	struct gwcall_thread *t = gwcall_thread_new();
	(void)arg;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		int timed_out = 0;
		while (q_len == 0 && !timed_out) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += LIMIT_GATEWAY_IDLE_SECONDS;
			idle++;
			timed_out = pthread_cond_timedwait(&pool_cond, &pool_lock, &until) == ETIMEDOUT;
			idle--;
		}
		if (q_len == 0)
			break;	/* idle for a while: the thread and its connection go */
		struct queued q = queue[q_head];
		q_head = (q_head + 1) % gw_cfg->gw_max_streams;
		q_len--;
		pthread_mutex_unlock(&pool_lock);
		gwcall_run(t, q.job, &q.edge);
		free(q.job->body);
		free(q.job);
		gateway_unadmit();
		pthread_mutex_lock(&pool_lock);
	}
	pthread_mutex_unlock(&pool_lock);
	gwcall_thread_free(t);
	return NULL;
}

/* A thread for the job just queued, unless an idle one takes it. Called
 * with pool_lock held. */
static int thread_for_queued(void)
{
	if (idle > q_len - 1)
		return 0;
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, LIMIT_GATEWAY_STACK_BYTES);
	int rc = pthread_create(&t, &attr, thread_main, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		log_error("gateway: cannot start a thread: %s", strerror(rc));
	return rc == 0 ? 0 : -1;
}

int gateway_run(struct gw_job *job, const struct gw_edge *edge)
{
	pthread_mutex_lock(&pool_lock);
	/* Admitted calls are at most max_streams, so the ring never
	 * overflows. */
	int64_t at = (q_head + q_len) % gw_cfg->gw_max_streams;
	queue[at] = (struct queued){job, *edge};
	q_len++;
	if (thread_for_queued() != 0) {
		q_len--;
		pthread_mutex_unlock(&pool_lock);
		return -1;
	}
	pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	return 0;
}

int64_t gateway_drain(void)
{
	struct timespec until;
	atomic_store(&closing, 1);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)gw_cfg->gw_drain_seconds;
	pthread_mutex_lock(&pool_lock);
	while (atomic_load(&in_flight) > 0 && pthread_cond_timedwait(&drained_cond, &pool_lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&pool_lock);
	return atomic_load(&in_flight);
}
