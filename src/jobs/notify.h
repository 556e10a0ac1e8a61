/* notify.h: the push of the outbox (docs/api.md, "Events"): one
 * thread of creditd (or creditctl sweep, where no creditd stays up) that
 * POSTs each event to [notify] url, signed in Stripe's scheme
 * (Creditd-Signature: t=TS,v1=HEX(HMAC-SHA256(secret, "TS.body"))), in
 * order per account, at least once, with exponential backoff; a 2xx marks
 * it delivered. Uses its own database connection and HTTP client, so
 * delivery never holds up a request. */
#ifndef CREDITD_NOTIFY_H
#define CREDITD_NOTIFY_H
#include <stdatomic.h>
#include <stdint.h>
#include "config.h"

/* The push's own HTTP client and database connection, for one thread;
 * NULL when out of memory (logged). Freed by notify_pusher_free (NULL
 * is nothing to free). */
struct notify_pusher;
struct notify_pusher *notify_pusher_new(const struct cfg *c);
void notify_pusher_free(struct notify_pusher *p);
/* What rounds did, added up by the caller. */
struct notify_counts {
	int64_t delivered;	/* events the receiver took (2xx) */
	int64_t failed;		/* attempts that failed, each retried after its backoff */
};
/* One round: claims up to LIMIT_NOTIFY_BATCH events due (leased to this
 * process), sends them one after the other (none once *stopping) and
 * records what happened, adding to *counts. Returns the events claimed
 * (0: none due), or -1 when the claim failed (the database:
 * notify_pusher_error says why). */
int notify_round(struct notify_pusher *p, atomic_int *stopping, struct notify_counts *counts);
/* What the last failure of p's database was ("" : none); lives as p. */
const char *notify_pusher_error(const struct notify_pusher *p);
/* Runs rounds until *stopping: creditd's event push thread. It waits
 * 250 ms after a round that found nothing due, a second after one that
 * failed. creditctl sweep runs the same rounds once through. */
void notify_run(const struct cfg *c, atomic_int *stopping);
#endif
