/* webhook_sig.c: Stripe webhook signatures (see webhook.h): parsing the
 * Stripe-Signature header, the HMAC-SHA256 check of "t.body" against every
 * configured secret in constant time, the timestamp window, and signing
 * (for the tests and the event push). webhook.c decodes the events.
 *
 * Never: logs or copies a secret; compares MACs with memcmp. */
#include "webhook.h"
#include "urlpath.h"

#include <assert.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stripe's header is ~150 bytes with one v1, a few hundred during secret
 * rotation; 4 KiB is far beyond any real one. */
#define WEBHOOK_HEADER_MAX 4096
/* v1 signatures kept from one header (4 KiB holds at most ~60). */
#define WEBHOOK_V1_MAX 64
#define WEBHOOK_MAC_LEN 32
/* Stripe's whsec_ secrets are ~40 bytes; this keeps HMAC's int key length
 * far from overflow. */
#define WEBHOOK_SECRET_MAX 4096

struct sig_header {
	int have_t;
	int64_t t;
	int nv1;
	unsigned char v1[WEBHOOK_V1_MAX][WEBHOOK_MAC_LEN];
};

/* ---- signature header ---------------------------------------------------- */

/* Decodes exactly 64 hex digits (either case) into 32 bytes. */
static int decode_v1(const char *s, size_t len, unsigned char out[WEBHOOK_MAC_LEN])
{
	size_t i;

	if (len != 2 * WEBHOOK_MAC_LEN)
		return -1;
	for (i = 0; i < WEBHOOK_MAC_LEN; i++) {
		int hi = urlpath_hex_value(s[2 * i]);
		int lo = urlpath_hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* A strict non-negative decimal integer: digits only, no sign, no space. */
static int parse_timestamp(const char *s, size_t len, int64_t *out)
{
	char buf[24];
	char *end = NULL;
	long long v;
	size_t i;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || end != buf + len)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* One "key=value" element, already trimmed. v0 and unknown schemes are
 * ignored, as Stripe's own libraries do. */
static enum webhook_sig parse_element(const char *e, size_t len, struct sig_header *h)
{
	const char *eq = memchr(e, '=', len);
	size_t klen, vlen;
	const char *v;

	if (eq == NULL || eq == e)
		return WEBHOOK_SIG_MALFORMED;
	klen = (size_t)(eq - e);
	v = eq + 1;
	vlen = len - klen - 1;
	if (klen == 1 && e[0] == 't') {
		if (h->have_t || parse_timestamp(v, vlen, &h->t) != 0)
			return WEBHOOK_SIG_MALFORMED;
		h->have_t = 1;
	} else if (klen == 2 && e[0] == 'v' && e[1] == '1') {
		if (h->nv1 == WEBHOOK_V1_MAX || decode_v1(v, vlen, h->v1[h->nv1]) != 0)
			return WEBHOOK_SIG_MALFORMED;
		h->nv1++;
	}
	return WEBHOOK_SIG_OK;
}

static enum webhook_sig parse_header(const char *header, struct sig_header *h)
{
	const char *p = header;
	enum webhook_sig st;

	memset(h, 0, sizeof(*h));
	if (strnlen(header, WEBHOOK_HEADER_MAX + 1) > WEBHOOK_HEADER_MAX)
		return WEBHOOK_SIG_MALFORMED;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma != NULL ? comma : p + strlen(p);
		const char *b = p, *e = end;

		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b) {
			st = parse_element(b, (size_t)(e - b), h);
			if (st != WEBHOOK_SIG_OK)
				return st;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (!h->have_t)
		return WEBHOOK_SIG_MALFORMED;
	if (h->nv1 == 0)
		return WEBHOOK_SIG_NO_V1;
	return WEBHOOK_SIG_OK;
}

/* ---- HMAC ---------------------------------------------------------------- */

/* Returns a malloc'd "t.body" and its length in *out_len, or NULL. */
static unsigned char *signed_payload(int64_t t, const char *body, size_t body_len, size_t *out_len)
{
	char prefix[32];
	unsigned char *p;
	int n;

	if (body == NULL && body_len > 0)
		return NULL;
	n = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", t);
	if (n < 0 || (size_t)n >= sizeof(prefix) || body_len > SIZE_MAX - (size_t)n)
		return NULL;
	p = malloc((size_t)n + body_len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, prefix, (size_t)n);
	if (body_len > 0)
		memcpy(p + n, body, body_len);
	*out_len = (size_t)n + body_len;
	return p;
}

static int hmac_sha256(const char *secret, const unsigned char *msg, size_t len,
		       unsigned char mac[WEBHOOK_MAC_LEN])
{
	unsigned int mac_len = 0;
	size_t klen = strlen(secret);

	if (klen > WEBHOOK_SECRET_MAX)
		return -1;
	if (HMAC(EVP_sha256(), secret, (int)klen, msg, len, mac, &mac_len) == NULL)
		return -1;
	return mac_len == WEBHOOK_MAC_LEN ? 0 : -1;
}

/* 1 when some v1 matches the HMAC of some non-empty secret. Every pair is
 * compared (no early exit) so timing says nothing about which. */
static int any_match(const struct sig_header *h, const unsigned char *msg, size_t len,
		     const char *const *secrets, int nsecrets)
{
	unsigned char mac[WEBHOOK_MAC_LEN];
	int matched = 0, i, j;

	if (secrets == NULL)
		return 0;
	assert(h->nv1 >= 1 && h->nv1 <= WEBHOOK_V1_MAX);	/* parse_header refuses a header without one */
	for (i = 0; i < nsecrets; i++) {
		/* An empty key is one anyone can sign with: never use it. */
		if (secrets[i] == NULL || secrets[i][0] == '\0')
			continue;
		if (hmac_sha256(secrets[i], msg, len, mac) != 0)
			continue;
		for (j = 0; j < h->nv1; j++)
			matched |= CRYPTO_memcmp(mac, h->v1[j], WEBHOOK_MAC_LEN) == 0;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	return matched;
}

/* |now - t| <= tolerance, without signed overflow; a negative tolerance
 * counts as 0 (the timestamp must be now). */
static int within_tolerance(time_t now, int64_t t, int64_t tolerance)
{
	int64_t n = (int64_t)now;
	uint64_t diff = n >= t ? (uint64_t)n - (uint64_t)t : (uint64_t)t - (uint64_t)n;

	if (tolerance < 0)
		tolerance = 0;
	return diff <= (uint64_t)tolerance;
}

/* The signature is checked before the window, as Stripe's libraries do, so
 * that STALE always means "genuine but old" (replay or clock skew). */
enum webhook_sig webhook_verify(const char *header, const char *body, size_t body_len,
				const char *const *secrets, int nsecrets,
				time_t now, int64_t tolerance_seconds)
{
	struct sig_header h;
	unsigned char *payload = NULL;
	size_t plen = 0;
	enum webhook_sig st;

	if (header == NULL || header[0] == '\0') {
		st = WEBHOOK_SIG_MISSING;
		goto out;
	}
	st = parse_header(header, &h);
	if (st != WEBHOOK_SIG_OK)
		goto out;
	payload = signed_payload(h.t, body, body_len, &plen);
	if (payload == NULL || !any_match(&h, payload, plen, secrets, nsecrets)) {
		st = WEBHOOK_SIG_MISMATCH;
		goto out;
	}
	if (!within_tolerance(now, h.t, tolerance_seconds))
		st = WEBHOOK_SIG_STALE;
	/* Genuine (a v1 matched the payload signed at h.t) before anything
	 * else is said of it. */
	assert(st != WEBHOOK_SIG_OK || (payload != NULL && plen >= body_len && h.nv1 >= 1));
out:
	free(payload);
	return st;
}

const char *webhook_sig_strerror(enum webhook_sig s)
{
	switch (s) {
	case WEBHOOK_SIG_OK:
		return "signature verified";
	case WEBHOOK_SIG_MISSING:
		return "no Stripe-Signature header";
	case WEBHOOK_SIG_MALFORMED:
		return "malformed Stripe-Signature header";
	case WEBHOOK_SIG_NO_V1:
		return "no v1 signature in the Stripe-Signature header";
	case WEBHOOK_SIG_STALE:
		return "webhook timestamp outside the tolerance window";
	case WEBHOOK_SIG_MISMATCH:
		return "no v1 signature matches a configured secret";
	}
	return "unknown signature status";
}

void webhook_sign(const char *secret, int64_t t, const char *body, size_t body_len, char out_hex[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[WEBHOOK_MAC_LEN];
	unsigned char *payload = NULL;
	size_t plen = 0, i;

	out_hex[0] = '\0';
	if (secret == NULL)
		goto out;
	payload = signed_payload(t, body, body_len, &plen);
	if (payload == NULL || hmac_sha256(secret, payload, plen, mac) != 0)
		goto out;
	for (i = 0; i < WEBHOOK_MAC_LEN; i++) {
		out_hex[2 * i] = hex[mac[i] >> 4];
		out_hex[2 * i + 1] = hex[mac[i] & 0x0f];
	}
	out_hex[2 * WEBHOOK_MAC_LEN] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
out:
	free(payload);
}
