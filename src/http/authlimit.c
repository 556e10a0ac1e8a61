/* authlimit.c: failed authentications per client address (authlimit.h).
 *
 * A fixed table of LIMIT_AUTH_ADDRESS_SLOTS slots, each an address's text,
 * when its window started and its failures in it, under one mutex. A
 * look-up walks the whole table (a few microseconds): it runs only for a
 * request whose key this worker does not know already, where the
 * alternative is a database round trip. It must never allocate, block on
 * anything but its mutex, or call another module: the router calls it
 * before every key look-up, and the database is what it protects. */
#include "authlimit.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>

struct slot {
	char addr[LIMIT_AUTH_ADDRESS_BYTES];
	int64_t start;			/* unix seconds: the window's first failure */
	int64_t failures;		/* in the window; 0: the slot is empty */
};

static struct slot table[LIMIT_AUTH_ADDRESS_SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ullong throttled_total, failures_total, lookups_total;

/* addr as a slot keeps it: "" for none, cut to the slot's size; an IPv6
 * address by its /64 (one host is given a whole /64: counting each of its
 * addresses apart would let it guess without end). */
static void address_text(const char *addr, char out[LIMIT_AUTH_ADDRESS_BYTES])
{
	struct in6_addr a6;
	size_t n = addr != NULL ? strnlen(addr, LIMIT_AUTH_ADDRESS_BYTES - 1) : 0;
	if (n > 0)
		memcpy(out, addr, n);
	out[n] = '\0';
	if (n > 0 && strchr(out, ':') != NULL && inet_pton(AF_INET6, out, &a6) == 1) {
		memset(a6.s6_addr + 8, 0, 8);
		char text[INET6_ADDRSTRLEN];
		if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL)
			snprintf(out, LIMIT_AUTH_ADDRESS_BYTES, "%s/64", text);
	}
}

/* 1 when the slot holds failures of a window that includes now. A clock
 * that went back (now before the start) ends the window too. */
static int live(const struct slot *s, int64_t now)
{
	return s->failures > 0 && now >= s->start && now - s->start < LIMIT_AUTH_WINDOW_SECONDS;
}

/* The slot of addr, or NULL. Called with the lock held. */
static struct slot *slot_find(const char *addr)
{
	for (int i = 0; i < LIMIT_AUTH_ADDRESS_SLOTS; i++)
		if (table[i].failures > 0 && strcmp(table[i].addr, addr) == 0)
			return &table[i];
	return NULL;
}

/* A slot for a new address: an empty or expired one, else the one not
 * throttled whose window started first (a flood of new addresses must not
 * free the throttled ones), else the oldest. Called with the lock held. */
static struct slot *slot_spare(int64_t now, int64_t limit)
{
	struct slot *oldest = &table[0], *open = NULL;
	for (int i = 0; i < LIMIT_AUTH_ADDRESS_SLOTS; i++) {
		struct slot *s = &table[i];
		if (!live(s, now))
			return s;
		if (s->start < oldest->start)
			oldest = s;
		if (s->failures < limit && (open == NULL || s->start < open->start))
			open = s;
	}
	return open != NULL ? open : oldest;
}

int64_t authlimit_wait(const char *addr, int64_t limit, int64_t now)
{
	char key[LIMIT_AUTH_ADDRESS_BYTES];
	int64_t wait = 0;
	if (limit <= 0)
		return 0;
	address_text(addr, key);
	pthread_mutex_lock(&table_lock);
	const struct slot *s = slot_find(key);
	if (s != NULL && live(s, now) && s->failures >= limit)
		wait = s->start + LIMIT_AUTH_WINDOW_SECONDS - now;
	pthread_mutex_unlock(&table_lock);
	if (wait > 0)
		atomic_fetch_add_explicit(&throttled_total, 1, memory_order_relaxed);
	return wait;
}

int authlimit_failed(const char *addr, int64_t limit, int64_t now)
{
	char key[LIMIT_AUTH_ADDRESS_BYTES];
	atomic_fetch_add_explicit(&failures_total, 1, memory_order_relaxed);
	if (limit <= 0)
		return 0;
	address_text(addr, key);
	pthread_mutex_lock(&table_lock);
	struct slot *s = slot_find(key);
	if (s == NULL) {
		s = slot_spare(now, limit);
		memcpy(s->addr, key, sizeof(key));
		s->failures = 0;
	}
	if (!live(s, now)) {
		s->start = now;
		s->failures = 0;
	}
	/* Requests already past the check when the limit was reached may
	 * still fail (one per worker thread at most): counted, never wrapped. */
	if (s->failures < INT64_MAX)
		s->failures++;
	int reached = s->failures == limit;
	pthread_mutex_unlock(&table_lock);
	return reached;
}

void authlimit_looked_up(void)
{
	atomic_fetch_add_explicit(&lookups_total, 1, memory_order_relaxed);
}

void authlimit_totals(struct authlimit_totals *out)
{
	out->throttled = atomic_load_explicit(&throttled_total, memory_order_relaxed);
	out->failures = atomic_load_explicit(&failures_total, memory_order_relaxed);
	out->lookups = atomic_load_explicit(&lookups_total, memory_order_relaxed);
}

void authlimit_reset(void)
{
	pthread_mutex_lock(&table_lock);
	memset(table, 0, sizeof(table));
	pthread_mutex_unlock(&table_lock);
	atomic_store_explicit(&throttled_total, 0, memory_order_relaxed);
	atomic_store_explicit(&failures_total, 0, memory_order_relaxed);
	atomic_store_explicit(&lookups_total, 0, memory_order_relaxed);
}
