/* notify.h: the push of the outbox (DESIGN §9 "Notifications"): one
 * thread that POSTs each event to [notify] url, signed in Stripe's scheme
 * (Creditd-Signature: t=TS,v1=HEX(HMAC-SHA256(secret, "TS.body"))), in
 * order per account, at least once, with exponential backoff; a 2xx marks
 * it delivered. Uses its own database connection and HTTP client, so
 * delivery never holds up a request. */
#ifndef CREDITD_NOTIFY_H
#define CREDITD_NOTIFY_H
#include <stdatomic.h>
#include "config.h"

/* Runs until *stopping: claims due events, sends them, records what
 * happened; sleeps a second when nothing is due. */
void notify_run(const struct cfg *c, atomic_int *stopping);
#endif
