/* gwwebhook.h: a provider's signed webhook checked (docs/gateway.md,
 * "Background responses"): OpenAI signs its webhooks by the Standard
 * Webhooks scheme, as its official SDKs verify them (openai-node's
 * webhooks.verifySignature): the headers webhook-id, webhook-timestamp
 * and webhook-signature; the MAC is HMAC-SHA256 over
 * "{webhook-id}.{webhook-timestamp}.{body}" keyed by the secret (after
 * "whsec_", base64-decoded; without that prefix, its bytes as they are);
 * the signature header holds one or more "v1,<base64 MAC>" separated by
 * spaces, any of which may match; the timestamp within
 * LIMIT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS of now either way.
 *
 * Pure: no clock (now is given), no I/O, no log; never keeps or copies
 * the secret beyond the call; MACs compared in constant time. */
#ifndef CREDITD_GWWEBHOOK_H
#define CREDITD_GWWEBHOOK_H
#include <stddef.h>
#include <stdint.h>

enum gwwebhook_verdict {
	GWWEBHOOK_OK = 0,	/* signed with the secret, in time */
	GWWEBHOOK_MISSING,	/* a header is missing or malformed */
	GWWEBHOOK_STALE,	/* the timestamp is too old or too far ahead */
	GWWEBHOOK_MISMATCH	/* no signature matches */
};
/* The secret's key bytes into key (cap bytes), *len of them. 0, or -1
 * when it is shorter than 16 bytes decoded (the SDK refuses such a key
 * too: below HMAC-SHA256's least effective key length) or is not valid
 * base64 after "whsec_", or does not fit. */
int gwwebhook_key(const char *secret, unsigned char *key, size_t cap, size_t *len);
/* The webhook's check: id, timestamp, signature the headers' values
 * (NULL when absent), body its len bytes as received. */
enum gwwebhook_verdict gwwebhook_verify(const char *secret, const char *id, const char *timestamp,
					const char *signature, const char *body, size_t len, int64_t now);
/* A sentence for the verdict (static). */
const char *gwwebhook_why(enum gwwebhook_verdict v);
#endif
