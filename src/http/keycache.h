/* keycache.h: what creditd remembers of the API keys it has checked.
 *
 * Two small tables of fixed size. Keys the database knew, with what they
 * may do (struct key_grant), for LIMIT_KEY_CACHE_SECONDS: each worker
 * thread keeps its own (no lock on the hot guard routes), and a revoked
 * key stops working within that time. Well-formed keys the database did
 * not know, for LIMIT_KEY_UNKNOWN_SECONDS: one table for the process (the
 * router locks it), so a client repeating a bogus key costs no database
 * round trip whichever thread takes it, and a key created after it was
 * refused works within that time. The key itself is kept (this process's
 * memory only, like the request that carried it): a hit costs a
 * constant-time compare, not a hash. Pure: the caller passes the time and
 * does any locking; nothing here does I/O. */
#ifndef CREDITD_KEYCACHE_H
#define CREDITD_KEYCACHE_H
#include <stdint.h>
#include "keys.h"
#include "limits.h"

/* Zeroed (static or memset) is empty. Slots are reused oldest first. */
struct keycache {
	struct {
		char key[KEYS_LEN + 1];
		struct key_grant grant;
		int64_t until;		/* unix seconds; 0: empty */
	} slots[LIMIT_KEY_CACHE_SLOTS];
	unsigned int next;
};
struct keycache_refused {
	struct {
		char key[KEYS_LEN + 1];
		int64_t until;		/* unix seconds; 0: empty */
	} slots[LIMIT_KEY_UNKNOWN_SLOTS];
	unsigned int next;
};

/* Keys the database knew, for the whole process, for
 * LIMIT_KEY_TRUSTED_SECONDS (the router locks it): a client address
 * throttled for failed authentication (authlimit.h) still has such a key
 * looked up, so an app's good key keeps working beside a stale one on
 * the same host. */
struct keycache_trusted {
	struct {
		char key[KEYS_LEN + 1];
		int64_t until;		/* unix seconds; 0: empty */
	} slots[LIMIT_KEY_TRUSTED_SLOTS];
	unsigned int next;
};
/* 1 when key was known to the database less than LIMIT_KEY_TRUSTED_SECONDS
 * before now. */
int keycache_trusted_find(const struct keycache_trusted *c, const char *key, int64_t now);
/* Remembers that the database knew key at time now (its slot renewed
 * when it is there already). */
void keycache_trust(struct keycache_trusted *c, const char *key, int64_t now);
/* 1 with *grant filled when a well-formed key is known at time now and
 * has not expired by then (struct key_grant's expires_at): a key that
 * expires is refused from that second, cached or not. */
/* The one process-wide state here: an epoch that keycache_revoked moves
 * (a key revoked through the API); a thread whose last seen epoch
 * differs empties its struct keycache before its next look-up (the
 * router does). Safe from any thread. */
unsigned int keycache_epoch(void);
void keycache_revoked(void);
int keycache_find(const struct keycache *c, const char *key, int64_t now, struct key_grant *grant);
/* Remembers what the database granted key at time now (copies both). */
void keycache_remember(struct keycache *c, const char *key, const struct key_grant *grant, int64_t now);
/* 1 when a well-formed key was refused less than LIMIT_KEY_UNKNOWN_SECONDS
 * before now. */
int keycache_refused_find(const struct keycache_refused *c, const char *key, int64_t now);
/* Remembers that the database did not know key at time now. */
void keycache_refuse(struct keycache_refused *c, const char *key, int64_t now);
#endif
