/* keycache.c: the memory of API keys (keycache.h). It never hashes, logs
 * or looks anything up: the router asks the database on a miss and tells
 * the cache what it said. */
#include "keycache.h"
#include <stdatomic.h>
#include <string.h>

static atomic_uint epoch;

unsigned int keycache_epoch(void)
{
	return atomic_load_explicit(&epoch, memory_order_acquire);
}

void keycache_revoked(void)
{
	atomic_fetch_add_explicit(&epoch, 1, memory_order_release);
}

int keycache_find(const struct keycache *c, const char *key, int64_t now, struct key_grant *grant)
{
	for (int i = 0; i < LIMIT_KEY_CACHE_SLOTS; i++) {
		if (c->slots[i].until > now && keys_equal(c->slots[i].key, key)) {
			int64_t expires = c->slots[i].grant.expires_at;
			if (expires != 0 && expires <= now)
				return 0;
			*grant = c->slots[i].grant;
			return 1;
		}
	}
	return 0;
}

void keycache_remember(struct keycache *c, const char *key, const struct key_grant *grant, int64_t now)
{
	unsigned int i = c->next++ % LIMIT_KEY_CACHE_SLOTS;
	memcpy(c->slots[i].key, key, KEYS_LEN);
	c->slots[i].key[KEYS_LEN] = '\0';
	c->slots[i].grant = *grant;
	c->slots[i].until = now + LIMIT_KEY_CACHE_SECONDS;
}

int keycache_refused_find(const struct keycache_refused *c, const char *key, int64_t now)
{
	for (int i = 0; i < LIMIT_KEY_UNKNOWN_SLOTS; i++)
		if (c->slots[i].until > now && keys_equal(c->slots[i].key, key))
			return 1;
	return 0;
}

int keycache_trusted_find(const struct keycache_trusted *c, const char *key, int64_t now)
{
	for (int i = 0; i < LIMIT_KEY_TRUSTED_SLOTS; i++)
		if (c->slots[i].until > now && keys_equal(c->slots[i].key, key))
			return 1;
	return 0;
}

void keycache_trust(struct keycache_trusted *c, const char *key, int64_t now)
{
	unsigned int i;
	for (i = 0; i < LIMIT_KEY_TRUSTED_SLOTS; i++)
		if (c->slots[i].until > 0 && keys_equal(c->slots[i].key, key))
			break;
	if (i == LIMIT_KEY_TRUSTED_SLOTS)
		i = c->next++ % LIMIT_KEY_TRUSTED_SLOTS;
	memcpy(c->slots[i].key, key, KEYS_LEN);
	c->slots[i].key[KEYS_LEN] = '\0';
	c->slots[i].until = now + LIMIT_KEY_TRUSTED_SECONDS;
}

void keycache_refuse(struct keycache_refused *c, const char *key, int64_t now)
{
	unsigned int i = c->next++ % LIMIT_KEY_UNKNOWN_SLOTS;
	memcpy(c->slots[i].key, key, KEYS_LEN);
	c->slots[i].key[KEYS_LEN] = '\0';
	c->slots[i].until = now + LIMIT_KEY_UNKNOWN_SECONDS;
}
