/* gwwebhook.c: a provider's signed webhook checked by the Standard
 * Webhooks scheme, as OpenAI signs them (gwwebhook.h; docs/gateway.md,
 * "Background responses"). Pure: the caller gives the time.
 *
 * Never: logs, keeps or copies the secret past the call (its key is
 * wiped before returning); compares MACs but in constant time; takes a
 * timestamp outside the tolerance, or a signature of another version. */
#include "gwwebhook.h"
#include "limits.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_BYTES 32

/* Base64 text src (n bytes, standard alphabet, padded) decoded into out
 * (cap bytes), *len bytes. 0, or -1 when it is not base64 or does not fit. */
static int b64_decode(const char *src, size_t n, unsigned char *out, size_t cap, size_t *len)
{
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap || n > (size_t)INT32_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", src[i]) == NULL ||
		    src[i] == '\0' || (src[i] == '=' && i < n - 2))
			return -1;
	int got = EVP_DecodeBlock(out, (const unsigned char *)src, (int)n);
	if (got < 0)
		return -1;
	size_t pad = (src[n - 1] == '=') + (src[n - 2] == '=');
	*len = (size_t)got - pad;
	return 0;
}

int gwwebhook_key(const char *secret, unsigned char *key, size_t cap, size_t *len)
{
	size_t n = strlen(secret);
	*len = 0;
	if (strncmp(secret, "whsec_", 6) == 0) {
		if (b64_decode(secret + 6, n - 6, key, cap, len) != 0)
			return -1;
	} else {
		if (n > cap)
			return -1;
		memcpy(key, secret, n);
		*len = n;
	}
	return *len >= 16 ? 0 : -1;
}

/* The timestamp's seconds: digits only. 0, or -1. */
static int seconds_of(const char *text, int64_t *out)
{
	char *end;
	if (text == NULL || text[0] < '0' || text[0] > '9' || strlen(text) > 18)
		return -1;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* 1 when some "v1,<base64>" among the space-separated signatures is mac. */
static int any_matches(const char *signatures, const unsigned char *mac)
{
	int matched = 0;
	for (const char *at = signatures; *at != '\0';) {
		size_t n = strcspn(at, " ");
		unsigned char got[MAC_BYTES + 3];
		size_t len = 0;
		if (n > 3 && strncmp(at, "v1,", 3) == 0 && b64_decode(at + 3, n - 3, got, sizeof(got), &len) == 0 &&
		    len == MAC_BYTES)
			matched |= CRYPTO_memcmp(got, mac, MAC_BYTES) == 0;
		at += n;
		while (*at == ' ')
			at++;
	}
	return matched;
}

enum gwwebhook_verdict gwwebhook_verify(const char *secret, const char *id, const char *timestamp,
					const char *signature, const char *body, size_t len, int64_t now)
{
	unsigned char key[LIMIT_GATEWAY_WEBHOOK_KEY_BYTES], mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t key_len;
	int64_t at;
	if (id == NULL || id[0] == '\0' || signature == NULL || signature[0] == '\0' || seconds_of(timestamp, &at) != 0 ||
	    strlen(id) > 256)
		return GWWEBHOOK_MISSING;
	if (now - at > LIMIT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS || at - now > LIMIT_GATEWAY_WEBHOOK_TOLERANCE_SECONDS)
		return GWWEBHOOK_STALE;
	if (gwwebhook_key(secret, key, sizeof(key), &key_len) != 0)
		return GWWEBHOOK_MISMATCH;	/* refused at start (gwconfig): no key, no match */
	/* "{id}.{timestamp}.{body}", signed whole (HMAC's one call). */
	size_t id_len = strlen(id), ts_len = strlen(timestamp), n = id_len + 1 + ts_len + 1 + len;
	unsigned char *msg = len <= LIMIT_GATEWAY_WEBHOOK_BODY_BYTES ? malloc(n) : NULL;
	int ok = msg != NULL;
	if (ok) {
		memcpy(msg, id, id_len);
		msg[id_len] = '.';
		memcpy(msg + id_len + 1, timestamp, ts_len);
		msg[id_len + 1 + ts_len] = '.';
		memcpy(msg + id_len + 2 + ts_len, body, len);
		ok = HMAC(EVP_sha256(), key, (int)key_len, msg, n, mac, &mac_len) != NULL && mac_len == MAC_BYTES;
	}
	free(msg);
	OPENSSL_cleanse(key, sizeof(key));
	return ok && any_matches(signature, mac) ? GWWEBHOOK_OK : GWWEBHOOK_MISMATCH;
}

const char *gwwebhook_why(enum gwwebhook_verdict v)
{
	switch (v) {
	case GWWEBHOOK_OK:
		return "signed";
	case GWWEBHOOK_MISSING:
		return "webhook-id, webhook-timestamp or webhook-signature missing or malformed";
	case GWWEBHOOK_STALE:
		return "webhook-timestamp is more than 5 minutes from now";
	default:
		return "no signature matches the webhook secret";
	}
}
