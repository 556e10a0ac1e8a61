/* authlimit.h: the failed-authentication throttle (docs/operations.md, "Failed authentication").
 *
 * Failed authentications (an API key unknown, malformed or missing;
 * browser tokens are checked by signature, with no look-up, and are not
 * counted) are counted per client address (an IPv6 address by its /64), as the web server passes it
 * (REMOTE_ADDR, text: IPv4 or IPv6), in a window of
 * LIMIT_AUTH_WINDOW_SECONDS that starts at the address's first failure.
 * Once an address has failed `limit` times in its window, the router
 * answers its requests that would need a key look-up 429 until the window
 * ends, without asking the database. One table for the process, of
 * LIMIT_AUTH_ADDRESS_SLOTS fixed slots under one mutex: nothing is
 * allocated, a new address takes an empty or expired slot, else the
 * oldest not throttled. The caller passes the limit and the time; this module calls
 * nothing but the C library and logs nothing (the router does). */
#ifndef CREDITD_AUTHLIMIT_H
#define CREDITD_AUTHLIMIT_H
#include <stdint.h>
#include "limits.h"

/* Seconds from now to the end of addr's window (at least 1) when addr has
 * failed `limit` times or more in it; 0 when addr may be authenticated
 * (limit 0: never throttled, and nothing is looked at). Each answer above
 * 0 is counted (authlimit_throttled_total). addr NULL is the address ""
 * (a request the web server passed no REMOTE_ADDR for); only the first
 * LIMIT_AUTH_ADDRESS_BYTES - 1 bytes of a longer text count. Any thread. */
int64_t authlimit_wait(const char *addr, int64_t limit, int64_t now);
/* Counts one failed authentication of addr at time now (unix seconds;
 * a clock that went back starts a new window). Returns 1 when this one
 * reached the limit (the address is throttled from now on: worth a log
 * line), else 0. limit 0 keeps no address (the totals still count the
 * failure). Any thread. */
int authlimit_failed(const char *addr, int64_t limit, int64_t now);
/* Counts one key look-up in the database (the router, just before it). */
void authlimit_looked_up(void);
/* Since the process started (/metrics): requests authlimit_wait refused,
 * failed authentications counted, key look-ups in the database. */
struct authlimit_totals {
	unsigned long long throttled, failures, lookups;
};
void authlimit_totals(struct authlimit_totals *out);
/* Forgets every address and the count of refusals: a process starts
 * with none (for tests). */
void authlimit_reset(void);
#endif
