/* gateway.c: the gateway's calls in flight (see gateway.h).
 *
 * A call's path: a worker admits and holds it, makes its gwcall (the body
 * to send built there) and hands it to a loop's inbox (the loops take
 * calls in turn, one loop a core). The loop, one thread on its own epoll,
 * starts it on the provider's multi handle (provider.c)
 * and passes the answer on as it comes: the events curl read in one
 * turn of the loop written to the client's FastCGI socket in one send,
 * without waiting (fcgiout.h); when the socket takes less, the call's
 * answer is held back (curl paused) until it is writable again, so one
 * slow client holds up no other call. When the
 * provider's answer has ended, the call goes to an ending thread, which
 * settles or releases the hold on a ledger connection (blocking work the
 * loop never does), sends the rest and finishes the request.
 *
 * Never: forwards creditd's key, the client's cookies or Creditd-*
 * headers; buffers a stream; charges a call the provider refused before
 * any output; charges usage that disagrees with what was asked (see
 * gwcall.c). */
#include "gateway.h"
#include "gwkind.h"
#include "gwtable.h"
#include "timefmt.h"
#include "config.h"
#include "gwconfig.h"
#include "gwbuffer.h"
#include "gwcall.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* epoll_data.u64: the kind in the high half, the fd or slot below. */
#define TAG_INBOX 0ULL
#define TAG_CURL (1ULL << 32)
#define TAG_CLIENT (2ULL << 32)

/* The [gateway] keys (gateway_init), read-only. */
static const struct gwconfig *gw_cfg;
static atomic_llong in_flight;
static atomic_int closing;		/* SIGTERM: no call admitted any more */

/* ---- The loops ---- */

struct loop;

/* A call on a loop. */
struct slot {
	struct loop *lp;		/* the loop it is on */
	struct gwcall *c;
	struct gw_edge edge;
	struct provider_xfer *x;
	int idx;
	int listed;			/* on the list of calls with bytes to send */
	int watching;			/* its socket in epoll, waiting to be writable */
	int ended;			/* settled: the rest of its answer being sent */
	int64_t blocked_ms;
	struct slot *next_listed;
};

/* Calls for a loop: new ones from the workers, ended ones (settled,
 * their answer's rest to send) from the ending threads. */
struct inbound {
	struct gwcall *c;
	int ended;
};

/* One loop: a thread on its own epoll and curl multi handle, with the
 * calls given to it (docs/gateway.md, "Capacity and operations"). Its
 * slots and its list of calls to send are its thread's alone; its inbox
 * is shared, under its lock: a ring of max_streams (a call in flight is
 * in one inbox at most once). */
struct loop {
	int epfd, efd, ok;
	struct provider_multi *m;
	struct slot *slots;		/* max_streams of them */
	int *free_slots, nfree;
	struct slot *to_send;		/* the loop's alone: no lock */
	pthread_t thread;
	int64_t slow_checked_ms;
	pthread_mutex_t inbox_lock;
	struct inbound *inbox;
	int64_t in_head, in_len;
};

static pthread_once_t loop_once = PTHREAD_ONCE_INIT;
static int loop_ok;			/* every loop runs */
static struct loop *loops;
static int nloops;
static atomic_uint next_loop;

/* ---- The ending threads ---- */

struct ending {
	struct loop *lp;		/* the loop the call comes back to */
	struct gwcall *c;
	enum provider_result r;
	char err[256];
};
static pthread_mutex_t end_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t end_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t drained_cond = PTHREAD_COND_INITIALIZER;
static struct ending *endq;		/* a ring of max_streams */
static int64_t end_head, end_len, end_idle, end_threads;

/* The places of the calls in flight: whose key and account each is, to
 * count a key's and an account's share. Under their own lock: taken and
 * given back by workers and the loop alike. */
struct place {
	uint64_t key, account;
	int used;
	/* Its hold, renewed while the call lives (renew_main): "" for BYOK. */
	char hold_id[LIMIT_HOLD_ID_BYTES];
	char account_id[LIMIT_ACCOUNT_ID_BYTES + 1];
	int64_t ttl, renew_at;		/* seconds; renew_at on creditd's clock */
};
static struct place *places;
static int *free_places;
static int64_t nfree_places;
static pthread_mutex_t place_lock = PTHREAD_MUTEX_INITIALIZER;

/* The loops' memory: one loop a core, LIMIT_GATEWAY_LOOPS at most
 * (limits_gateway.h says why), each with room for every call. */
static int loops_make(size_t n)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	nloops = cores < 1 ? 1 : cores > LIMIT_GATEWAY_LOOPS ? LIMIT_GATEWAY_LOOPS : (int)cores;
	loops = calloc((size_t)nloops, sizeof(*loops));
	if (loops == NULL)
		return -1;
	for (int k = 0; k < nloops; k++) {
		struct loop *lp = &loops[k];
		lp->epfd = lp->efd = -1;
		pthread_mutex_init(&lp->inbox_lock, NULL);
		lp->inbox = calloc(n, sizeof(*lp->inbox));
		lp->slots = calloc(n, sizeof(*lp->slots));
		lp->free_slots = calloc(n, sizeof(*lp->free_slots));
		if (lp->inbox == NULL || lp->slots == NULL || lp->free_slots == NULL)
			return -1;
		for (int i = (int)n - 1; i >= 0; i--) {
			lp->slots[i].idx = i;
			lp->slots[i].lp = lp;
			lp->free_slots[lp->nfree++] = i;
		}
	}
	return 0;
}

int gateway_init(const struct cfg *cfg)
{
	char err[256];
	gw_cfg = gwconfig_of(cfg);
	if (gwtable_init(err, sizeof(err)) != 0) {
		log_msg(LOG_LVL_ERROR, "the gateway's tables: %s", err);
		return -1;
	}
	/* A route that names a table the build lacks would forward its
	 * bodies unwalked: a build's bug, and creditd does not start. */
	for (size_t k = 0; gwkind_at(k) != NULL; k++)
		for (size_t i = 0; i < gwkind_at(k)->nroutes; i++)
			if (gwkind_at(k)->routes[i].table != NULL && gwtable_of(&gwkind_at(k)->routes[i]) == NULL) {
				log_msg(LOG_LVL_ERROR, "the gateway's route %s names the table %s, which the build "
					"does not hold", gwkind_at(k)->routes[i].path, gwkind_at(k)->routes[i].table);
				return -1;
			}
	size_t n = (size_t)gw_cfg->max_streams;
	places = calloc(n, sizeof(*places));
	free_places = calloc(n, sizeof(*free_places));
	if (places == NULL || free_places == NULL)
		return -1;
	for (int i = (int)n - 1; i >= 0; i--)
		free_places[nfree_places++] = i;
	if (gwbuffer_init((int64_t)n, gw_cfg->max_buffered_mib * 1024 * 1024,
			  gw_cfg->max_buffered_per_account_mib * 1024 * 1024) != 0)
		return -1;
	endq = calloc(n, sizeof(*endq));
	if (endq == NULL || loops_make(n) != 0)
		return -1;
	return gwcall_init(cfg);
}

/* GW_ADMITTED, or which share key or account has used up (max_streams
 * entries scanned: a few microseconds at the largest, under place_lock). */
static enum gw_admit share_left(uint64_t key, uint64_t account)
{
	int64_t keys = 0, accounts = 0;
	for (int64_t i = 0; i < gw_cfg->max_streams; i++) {
		keys += places[i].used && key != 0 && places[i].key == key;
		accounts += places[i].used && places[i].account == account;
	}
	if (key != 0 && keys >= gw_cfg->max_streams_per_key)
		return GW_KEY_SHARE;
	return accounts >= gw_cfg->max_streams_per_account ? GW_ACCOUNT_SHARE : GW_ADMITTED;
}

enum gw_admit gateway_admit(uint64_t key, uint64_t account, int64_t bytes, int *place)
{
	enum gw_admit rc = GW_FULL;
	*place = -1;
	pthread_mutex_lock(&place_lock);
	if (nfree_places > 0 && !atomic_load(&closing))
		rc = share_left(key, account);
	if (rc == GW_ADMITTED) {
		enum gwbuffer_refusal b = gwbuffer_reserve(free_places[nfree_places - 1], account, bytes);
		rc = b == GWBUFFER_ACCOUNT ? GW_BUFFER_ACCOUNT : b == GWBUFFER_ALL ? GW_BUFFER_ALL : GW_ADMITTED;
	}
	if (rc == GW_ADMITTED) {
		*place = free_places[--nfree_places];
		places[*place] = (struct place){.key = key, .account = account, .used = 1};
		atomic_fetch_add(&in_flight, 1);
	}
	pthread_mutex_unlock(&place_lock);
	return rc;
}

void gateway_unadmit(int place)
{
	if (place < 0 || place >= gw_cfg->max_streams)
		return;
	pthread_mutex_lock(&place_lock);
	assert(places[place].used);
	gwbuffer_end(place);
	places[place].used = 0;
	places[place].hold_id[0] = '\0';
	free_places[nfree_places++] = place;
	pthread_mutex_unlock(&place_lock);
	long long was = atomic_fetch_sub(&in_flight, 1);
	if (was == 1) {
		pthread_mutex_lock(&end_lock);
		pthread_cond_broadcast(&drained_cond);
		pthread_mutex_unlock(&end_lock);
	}
}

int gateway_response_in_flight(const char *account, const char *id, char *provider, size_t cap)
{
	return gwcall_response_in_flight(account, id, provider, cap);
}

int64_t gateway_in_flight(void)
{
	return atomic_load(&in_flight);
}

/* Hands c to its loop lp (ended: settled, its answer's rest to send). */
static void inbox_push(struct loop *lp, struct gwcall *c, int ended)
{
	pthread_mutex_lock(&lp->inbox_lock);
	lp->inbox[(lp->in_head + lp->in_len) % gw_cfg->max_streams] = (struct inbound){c, ended};
	lp->in_len++;
	pthread_mutex_unlock(&lp->inbox_lock);
	uint64_t one = 1;
	if (write(lp->efd, &one, sizeof(one)) < 0)
		log_warn("gateway: waking a loop: %s", strerror(errno));
}

static void *ender_main(void *arg)
{
	(void)arg;
	/* Settles are bulk work: when the CPU is short, the loop's bytes
	 * go first (Linux: the calling thread's nice). */
	pthread_setname_np(pthread_self(), "gw-end");
	if (setpriority(PRIO_PROCESS, 0, LIMIT_GATEWAY_ENDER_NICE) != 0)
		log_warn("gateway: an ending thread's nice: %s", strerror(errno));
	pthread_mutex_lock(&end_lock);
	for (;;) {
		int timed_out = 0;
		while (end_len == 0 && !timed_out) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += LIMIT_GATEWAY_IDLE_SECONDS;
			end_idle++;
			timed_out = pthread_cond_timedwait(&end_cond, &end_lock, &until) == ETIMEDOUT;
			end_idle--;
		}
		if (end_len == 0 && end_threads > 1)
			break;	/* idle for a while: the thread goes (one stays) */
		if (end_len == 0)
			continue;
		struct ending e = endq[end_head];
		end_head = (end_head + 1) % gw_cfg->max_streams;
		end_len--;
		pthread_mutex_unlock(&end_lock);
		gwcall_end(e.c, e.r, e.err);
		inbox_push(e.lp, e.c, 1);
		pthread_mutex_lock(&end_lock);
	}
	end_threads--;
	pthread_mutex_unlock(&end_lock);
	return NULL;
}

/* A detached gateway thread running fn(arg), its id in *t when t is not
 * NULL: 0, or the error (logged). */
static int start_thread(void *(*fn)(void *), void *arg, pthread_t *t)
{
	pthread_attr_t attr;
	pthread_t own;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, LIMIT_GATEWAY_STACK_BYTES);
	int rc = pthread_create(t != NULL ? t : &own, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		log_error("gateway: cannot start a thread: %s", strerror(rc));
	return rc;
}

/* Queues the ending of c, a call of the loop lp; an ending thread is
 * made when none is idle. */
static void ending_push(struct loop *lp, struct gwcall *c, enum provider_result r, const char *err)
{
	pthread_mutex_lock(&end_lock);
	struct ending *e = &endq[(end_head + end_len) % gw_cfg->max_streams];
	e->lp = lp;
	e->c = c;
	e->r = r;
	snprintf(e->err, sizeof(e->err), "%s", err);
	end_len++;
	if (end_idle < end_len && end_threads < LIMIT_GATEWAY_ENDERS && start_thread(ender_main, NULL, NULL) == 0)
		end_threads++;
	pthread_cond_signal(&end_cond);
	pthread_mutex_unlock(&end_lock);
}

static void on_wake(void *arg)
{
	struct slot *s = arg;
	assert(pthread_equal(pthread_self(), s->lp->thread));	/* the list is the loop's, unlocked */
	if (!s->listed) {
		s->listed = 1;
		s->next_listed = s->lp->to_send;
		s->lp->to_send = s;
	}
}

static void unwatch(struct slot *s)
{
	if (s->watching) {
		epoll_ctl(s->lp->epfd, EPOLL_CTL_DEL, s->edge.fd(s->edge.req), NULL);
		s->watching = 0;
	}
}

/* A client's socket took less than was sent: the call's answer held
 * back, the socket watched until it is writable. */
static void watch(struct slot *s)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.u64 = TAG_CLIENT | (uint32_t)s->idx;
	if (epoll_ctl(s->lp->epfd, EPOLL_CTL_ADD, s->edge.fd(s->edge.req), &ev) != 0) {
		gwcall_client_gone(s->c);
		return;
	}
	s->watching = 1;
	s->blocked_ms = timefmt_mono_ms();
	if (s->x != NULL) {
		provider_pause(s->x, 1);
		metrics_gateway_held_back();
	}
}

/* The calls with bytes for their client, each sent once per turn. */
static void send_listed(struct loop *lp)
{
	while (lp->to_send != NULL) {
		struct slot *s = lp->to_send;
		lp->to_send = s->next_listed;
		s->listed = 0;
		if (s->c != NULL && !s->watching && gwcall_send(s->c) == 1)
			watch(s);
	}
}

/* An ended call's answer sent (or its client gone): the request ended,
 * its place given back. */
static void finish_slot(struct slot *s)
{
	int place = gwcall_place(s->c);
	unwatch(s);
	gwcall_finish(s->c);
	s->c = NULL;
	s->ended = 0;
	s->lp->free_slots[s->lp->nfree++] = s->idx;
	gateway_unadmit(place);
}

/* The client's socket is writable (or it took nothing for too long):
 * the rest sent, the answer let on, or the ended call finished. */
static void client_ready(struct slot *s, int too_long)
{
	if (!s->watching || s->c == NULL)
		return;
	int r = gwcall_send(s->c);
	if (r == 1 && !too_long) {
		s->blocked_ms = timefmt_mono_ms();	/* writable: it took some */
		return;
	}
	if (s->ended) {
		finish_slot(s);
		return;
	}
	if (r == 1)
		gwcall_client_gone(s->c);
	unwatch(s);
	provider_pause(s->x, 0);
}

/* An ended call back from its ending thread: what its answer has left
 * sent without waiting, the rest when the client's socket takes it. */
static void take_ended(struct loop *lp, struct gwcall *c)
{
	struct slot *s = &lp->slots[lp->free_slots[--lp->nfree]];
	s->c = c;
	s->edge = *gwcall_edge(c);
	s->x = NULL;
	s->ended = 1;
	if (gwcall_send(c) == 1)
		watch(s);
	if (!s->watching)
		finish_slot(s);
}

static void take_inbox(struct loop *lp)
{
	uint64_t n;
	if (read(lp->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("gateway: reading a loop's eventfd: %s", strerror(errno));
	pthread_mutex_lock(&lp->inbox_lock);
	while (lp->in_len > 0) {
		struct inbound in = lp->inbox[lp->in_head];
		struct gwcall *c = in.c;
		lp->in_head = (lp->in_head + 1) % gw_cfg->max_streams;
		lp->in_len--;
		pthread_mutex_unlock(&lp->inbox_lock);
		if (in.ended) {
			take_ended(lp, c);
			pthread_mutex_lock(&lp->inbox_lock);
			continue;
		}
		char err[256] = "out of memory";
		/* Admitted calls are at most max_streams: a slot is free. */
		assert(lp->nfree > 0);
		struct slot *s = &lp->slots[lp->free_slots[--lp->nfree]];
		s->c = c;
		s->edge = *gwcall_edge(c);
		const struct provider_call *pc = gwcall_start(c, on_wake, s);
		s->x = pc != NULL ? provider_start(lp->m, pc, s, err, sizeof(err)) : NULL;
		/* A provider refused at once (its URL) falls back as a failed one does. */
		while (s->x == NULL && pc != NULL && (pc = gwcall_retry(c, PROVIDER_FAILED, err)) != NULL)
			s->x = provider_start(lp->m, pc, s, err, sizeof(err));
		if (s->x == NULL) {
			s->c = NULL;
			lp->free_slots[lp->nfree++] = s->idx;
			ending_push(lp, c, PROVIDER_FAILED, err);
		}
		pthread_mutex_lock(&lp->inbox_lock);
	}
	pthread_mutex_unlock(&lp->inbox_lock);
}

/* Calls whose answer has ended, to the ending threads. */
static void hand_done(struct loop *lp)
{
	void *owner;
	enum provider_result r;
	char err[256];
	while (provider_next_done(lp->m, &owner, &r, err, sizeof(err)) == 0) {
		struct slot *s = owner;
		struct gwcall *c = s->c;
		/* A failure before the first byte: the next provider serving the
		 * model, on the same slot and hold (docs/gateway.md, "Fallback"). */
		const struct provider_call *pc;
		s->x = NULL;
		while (s->x == NULL && (pc = gwcall_retry(c, r, err)) != NULL) {
			s->x = provider_start(lp->m, pc, s, err, sizeof(err));
			r = PROVIDER_FAILED;
		}
		if (s->x != NULL)
			continue;
		unwatch(s);
		s->c = NULL;
		lp->free_slots[lp->nfree++] = s->idx;
		ending_push(lp, c, r, err);
	}
}

/* Clients that took nothing for idle_timeout_seconds: gone. */
static void slow_clients(struct loop *lp)
{
	int64_t now = timefmt_mono_ms();
	if (now - lp->slow_checked_ms < 200)
		return;
	lp->slow_checked_ms = now;
	for (int64_t i = 0; i < gw_cfg->max_streams; i++)
		if (lp->slots[i].watching && now - lp->slots[i].blocked_ms > gw_cfg->idle_timeout_seconds * 1000)
			client_ready(&lp->slots[i], 1);
}

static void *loop_main(void *arg)
{
	struct epoll_event evs[LIMIT_GATEWAY_EVENTS];
	struct loop *lp = arg;
	char name[16];	/* as top -H and /proc show it */
	snprintf(name, sizeof(name), "gw-loop-%d", (int)(lp - loops));
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		long t = provider_timer_ms(lp->m);
		int n = epoll_wait(lp->epfd, evs, LIMIT_GATEWAY_EVENTS, t >= 0 && t < 100 ? (int)t : 100);
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64 & ~0xffffffffULL;
			uint32_t low = (uint32_t)evs[i].data.u64;
			if (tag == TAG_INBOX)
				take_inbox(lp);
			else if (tag == TAG_CURL)
				provider_socket(lp->m, (int)low, evs[i].events);
			else if (low < (uint32_t)gw_cfg->max_streams)
				client_ready(&lp->slots[low], 0);
		}
		provider_timers(lp->m);
		send_listed(lp);
		hand_done(lp);
		slow_clients(lp);
	}
	return NULL;
}

static void *renew_main(void *arg);

/* A loop's epoll, eventfd and multi handle, and its thread: 0, or -1
 * logged. */
static int loop_open(struct loop *lp)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	lp->epfd = epoll_create1(EPOLL_CLOEXEC);
	lp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.events = EPOLLIN;
	ev.data.u64 = TAG_INBOX;
	if (lp->epfd < 0 || lp->efd < 0 || epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->efd, &ev) != 0 ||
	    (lp->m = provider_multi_new(lp->epfd, TAG_CURL)) == NULL) {
		log_error("gateway: cannot make its loop: %s", strerror(errno));
		return -1;
	}
	return start_thread(loop_main, lp, &lp->thread) == 0 ? 0 : -1;
}

static void loop_start(void)
{
	int ok = 1;
	for (int k = 0; k < nloops && ok; k++)
		ok = loop_open(&loops[k]) == 0;
	loop_ok = ok;
	if (loop_ok && start_thread(renew_main, NULL, NULL) != 0)
		log_error("gateway: no thread renews holds: a call longer than its hold is captured in full");
}

/* ---- Holds renewed while their calls live (docs/gateway.md, "The hold and the charge") ---- */

/* The place's hold, to be renewed from half its ttl on. */
static void place_hold(const struct gw_job *job)
{
	if (job->place < 0 || job->place >= gw_cfg->max_streams || job->hold_id[0] == '\0' || job->hold_ttl <= 0)
		return;
	pthread_mutex_lock(&place_lock);
	struct place *p = &places[job->place];
	snprintf(p->hold_id, sizeof(p->hold_id), "%s", job->hold_id);
	snprintf(p->account_id, sizeof(p->account_id), "%s", job->account);
	p->ttl = job->hold_ttl;
	p->renew_at = timefmt_now() + job->hold_ttl / 2;
	pthread_mutex_unlock(&place_lock);
}

/* Every LIMIT_GATEWAY_RENEW_CHECK_SECONDS: the holds of calls in flight
 * past half their ttl live a ttl more (gwcall_renew), however long a
 * stream lasts or a slow reader pauses it. Renewed outside the lock. */
static void *renew_main(void *arg)
{
	(void)arg;
	struct place *due = calloc((size_t)gw_cfg->max_streams, sizeof(*due));
	for (; due != NULL;) {
		sleep(LIMIT_GATEWAY_RENEW_CHECK_SECONDS);
		int64_t now = timefmt_now(), n = 0;
		pthread_mutex_lock(&place_lock);
		for (int64_t i = 0; i < gw_cfg->max_streams; i++) {
			struct place *p = &places[i];
			if (p->used && p->hold_id[0] != '\0' && p->renew_at <= now) {
				due[n++] = *p;
				p->renew_at = now + p->ttl / 2;
			}
		}
		pthread_mutex_unlock(&place_lock);
		for (int64_t i = 0; i < n; i++) {
			if (gwcall_renew(due[i].account_id, due[i].hold_id, due[i].ttl) == 0)
				continue;
			/* Not renewed (the database away): looked at again next round. */
			pthread_mutex_lock(&place_lock);
			for (int64_t k = 0; k < gw_cfg->max_streams; k++)
				if (places[k].used && strcmp(places[k].hold_id, due[i].hold_id) == 0)
					places[k].renew_at = now;
			pthread_mutex_unlock(&place_lock);
		}
	}
	log_error("gateway: no memory for the renewal of holds: a call longer than its hold is captured in full");
	return NULL;
}

int gateway_run(struct gw_job *job, const struct gw_edge *edge)
{
	pthread_once(&loop_once, loop_start);
	place_hold(job);
	struct gwcall *c = loop_ok ? gwcall_new(job, edge) : NULL;
	if (c == NULL)
		return -1;
	/* Calls go to the loops in turn, each staying on its loop to its end. */
	/* Admitted calls are at most max_streams: the ring never overflows. */
	inbox_push(&loops[atomic_fetch_add(&next_loop, 1) % (unsigned)nloops], c, 0);
	return 0;
}

int64_t gateway_drain(void)
{
	struct timespec until;
	atomic_store(&closing, 1);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)gw_cfg->drain_seconds;
	pthread_mutex_lock(&end_lock);
	while (atomic_load(&in_flight) > 0 && pthread_cond_timedwait(&drained_cond, &end_lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&end_lock);
	return atomic_load(&in_flight);
}
