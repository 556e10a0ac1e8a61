/* ledger_idcache.h: account id → external id, remembered process-wide
 * (see ledger_idcache.c). Thread-safe. */
#ifndef CREDITD_LEDGER_IDCACHE_H
#define CREDITD_LEDGER_IDCACHE_H
#include <stddef.h>
#include <stdint.h>

/* The external id of account `id` as remembered (1), or 0 when not known
 * here; and remembering one. */
int ledger_idcache_ext_of(int64_t id, char *out, size_t cap);
void ledger_idcache_remember(const char *ext, int64_t id);
#endif
