/* ledger_idcache.c: the external id of an account id, remembered
 * process-wide from the accounts batches read (an account's id and
 * external id never change), so a settle's hold id routes to its
 * account's database node without a round trip (noderoute.h). Bounded:
 * LIMIT_ACCOUNT_ID_CACHE entries, emptied whole when full. */
#include "ledger_idcache.h"
#include "limits.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static struct id_entry { char *ext; int64_t id; } id_table[2 * LIMIT_ACCOUNT_ID_CACHE];
static int nids;

static size_t id_slot(const char *ext)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)ext; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % (2 * LIMIT_ACCOUNT_ID_CACHE));
}

/* And id → external id, for routing a hold's settle to its account's
 * node (noderoute.h): direct-mapped, an entry pointing into id_table. */
static struct id_entry *by_id[LIMIT_ACCOUNT_ID_CACHE];

int ledger_idcache_ext_of(int64_t id, char *out, size_t cap)
{
	int found = 0;
	pthread_mutex_lock(&ids_lock);
	struct id_entry *e = by_id[(uint64_t)id % LIMIT_ACCOUNT_ID_CACHE];
	if (e != NULL && e->ext != NULL && e->id == id) {
		snprintf(out, cap, "%s", e->ext);
		found = 1;
	}
	pthread_mutex_unlock(&ids_lock);
	return found;
}

void ledger_idcache_remember(const char *ext, int64_t id)
{
	pthread_mutex_lock(&ids_lock);
	if (nids >= LIMIT_ACCOUNT_ID_CACHE) {
		for (size_t i = 0; i < 2 * LIMIT_ACCOUNT_ID_CACHE; i++) {
			free(id_table[i].ext);
			id_table[i].ext = NULL;
		}
		memset(by_id, 0, sizeof(by_id));
		nids = 0;
	}
	size_t i = id_slot(ext);
	while (id_table[i].ext != NULL && strcmp(id_table[i].ext, ext) != 0)
		i = (i + 1) % (2 * LIMIT_ACCOUNT_ID_CACHE);
	if (id_table[i].ext == NULL && (id_table[i].ext = strdup(ext)) != NULL)
		nids++;
	id_table[i].id = id;
	if (id_table[i].ext != NULL)
		by_id[(uint64_t)id % LIMIT_ACCOUNT_ID_CACHE] = &id_table[i];
	pthread_mutex_unlock(&ids_lock);
}
