/* webhook.h: Stripe webhook signatures and event decoding.
 *
 * Owns: checking the Stripe-Signature header against the raw body (before
 * anything parses it) and turning a verified event's JSON into a flat
 * struct the ledger can act on. Never touches the database; never logs
 * secrets. */
#ifndef CREDITD_WEBHOOK_H
#define CREDITD_WEBHOOK_H
#include "ledger_news.h"
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "limits.h"

enum webhook_sig {
	WEBHOOK_SIG_OK = 0,
	WEBHOOK_SIG_MISSING,	/* no header, or empty */
	WEBHOOK_SIG_MALFORMED,	/* no t=, t not an integer, garbage */
	WEBHOOK_SIG_NO_V1,	/* no v1 signature (v0 and other schemes are ignored) */
	WEBHOOK_SIG_STALE,	/* |now - t| > tolerance */
	WEBHOOK_SIG_MISMATCH	/* no v1 matches any secret */
};

/* Verifies "t=...,v1=...[,v1=...]" : HMAC-SHA256 over "t.body" keyed by each
 * secret string as given; any v1 matching any secret passes; comparison in
 * constant time. */
enum webhook_sig webhook_verify(const char *header, const char *body, size_t body_len,
				const char *const *secrets, int nsecrets,
				time_t now, int64_t tolerance_seconds);
const char *webhook_sig_strerror(enum webhook_sig s);

/* Computes the v1 signature hex (64 chars + NUL) for tests and tools. */
void webhook_sign(const char *secret, int64_t t, const char *body, size_t body_len, char out_hex[65]);

/* Parses a verified event body. Returns 0, or -1 with a sentence in errbuf
 * when the JSON is not an event (no id/type). Unknown types parse with
 * kind LEDGER_NEWS_IGNORED. */
int webhook_parse_event(const char *body, size_t len, struct ledger_news *ev,
			char *errbuf, size_t errcap);
#endif
