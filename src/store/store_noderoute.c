/* store_noderoute.c: rendezvous hashing over the live nodes (see store_noderoute.h). */
#include "store_noderoute.h"
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

static int count = 1;
static uint64_t seeds[NODEROUTE_MAX];
static atomic_int up[NODEROUTE_MAX] = {1};
static atomic_uint epochs[NODEROUTE_MAX];

/* FNV-1a: a stable hash of text, the same on every build and machine. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* splitmix64's finaliser: spreads the combined hash over all 64 bits, so
 * the highest score is a fair draw among the nodes. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void store_noderoute_init(int n, const char *const names[])
{
	count = n < 1 ? 1 : n > NODEROUTE_MAX ? NODEROUTE_MAX : n;
	for (int i = 0; i < count; i++) {
		seeds[i] = names != NULL && names[i] != NULL ? fnv1a(names[i]) : (uint64_t)i;
		atomic_store(&up[i], 1);
	}
}

int store_noderoute_count(void)
{
	return count;
}

int store_noderoute_pick(const char *key)
{
	uint64_t h = fnv1a(key != NULL ? key : "");
	int best = -1;
	uint64_t best_score = 0;
	if (key == NULL)
		h = mix(h ^ 0x9e3779b97f4a7c15ULL);	/* apart from an account named "" */
	for (int i = 0; i < count; i++) {
		if (!atomic_load(&up[i]))
			continue;
		uint64_t score = mix(h ^ seeds[i]);
		if (best < 0 || score > best_score) {
			best = i;
			best_score = score;
		}
	}
	return best;
}

int store_noderoute_set(int node, int is_up)
{
	if (node < 0 || node >= count)
		return 0;
	int was = atomic_exchange(&up[node], is_up ? 1 : 0);
	if (was && !is_up)
		atomic_fetch_add(&epochs[node], 1);
	return was;
}

unsigned store_noderoute_epoch(int node)
{
	return node >= 0 && node < count ? atomic_load(&epochs[node]) : 0;
}

int store_noderoute_is_up(int node)
{
	return node >= 0 && node < count && atomic_load(&up[node]);
}

int store_noderoute_live(void)
{
	int n = 0;
	for (int i = 0; i < count; i++)
		n += atomic_load(&up[i]);
	return n;
}
