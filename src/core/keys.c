/* keys.c: generating, recognising and hashing API keys. Uses libcrypto
 * (RAND_bytes, EVP's SHA-256, HMAC) and nothing else; never logs a key. */
#include "keys.h"
#include <assert.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(char *out, const unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[buf[i] >> 4];
		out[2 * i + 1] = hexdigits[buf[i] & 15];
	}
	out[2 * n] = '\0';
}

int keys_random_hex(char *out, size_t n)
{
	unsigned char buf[64];
	if (n > sizeof(buf) || RAND_bytes(buf, (int)n) != 1)
		return -1;
	to_hex(out, buf, n);
	return 0;
}

/* Each RAND_bytes call takes the DRBG's lock and keys its cipher again:
 * one per request was a twentieth of a guard request's CPU. A request id
 * needs to be unique, not secret, so the bytes are drawn in bulk per
 * thread and each used once. */
int keys_random_id_hex(char *out, size_t n)
{
	static __thread unsigned char pool[LIMIT_RANDOM_ID_POOL_BYTES];
	static __thread size_t left;
	if (n > sizeof(pool))
		return -1;
	if (left < n) {
		if (RAND_bytes(pool, (int)sizeof(pool)) != 1)
			return -1;
		left = sizeof(pool);
	}
	unsigned char *p = pool + sizeof(pool) - left;
	to_hex(out, p, n);
	memset(p, 0, n);
	left -= n;
	assert(left <= sizeof(pool));
	return 0;
}

static const char referral_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

int keys_referral_code_ok(const char *s)
{
	size_t n = strlen(s);
	if (n != LIMIT_REFERRAL_CODE_CHARS)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(referral_alphabet, tolower((unsigned char)s[i])) == NULL)
			return 0;
	return 1;
}

int keys_referral_code(char *out, size_t cap)
{
	const char *alphabet = referral_alphabet;
	unsigned char buf[LIMIT_REFERRAL_CODE_CHARS];
	_Static_assert(sizeof(referral_alphabet) == 33, "32 letters: a byte's low 5 bits pick one evenly");
	if (cap <= LIMIT_REFERRAL_CODE_CHARS || RAND_bytes(buf, (int)sizeof(buf)) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(buf); i++)
		out[i] = alphabet[buf[i] & 31];
	out[LIMIT_REFERRAL_CODE_CHARS] = '\0';
	return 0;
}

int keys_generate(char *out)
{
	memcpy(out, KEYS_PREFIX, 4);
	return keys_random_hex(out + 4, 32);
}

int keys_wellformed(const char *s)
{
	if (s == NULL || strlen(s) != KEYS_LEN || memcmp(s, KEYS_PREFIX, 4) != 0)
		return 0;
	for (size_t i = 4; i < KEYS_LEN; i++)
		if (strchr(hexdigits, s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

int keys_equal(const char *a, const char *b)
{
	return CRYPTO_memcmp(a, b, KEYS_LEN) == 0;
}

/* SHA-256 through OpenSSL's EVP interface: the digest fetched once from
 * the default provider, a context per hash. A hash that fails (no
 * provider, no memory for a context) leaves a process that cannot check
 * a key or a request: it says so on stderr and aborts rather than answer
 * with a digest it did not compute. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void sha256_failed(void)
{
	fputs("creditd: OpenSSL could not compute a SHA-256 digest\n", stderr);
	abort();
}

void keys_sha256_parts(const struct keys_part *parts, size_t n, unsigned char out[KEYS_HASH_LEN])
{
	unsigned int len = 0;
	pthread_once(&sha256_once, sha256_fetch);
	EVP_MD_CTX *ctx = sha256_md != NULL ? EVP_MD_CTX_new() : NULL;
	int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1;
	for (size_t i = 0; ok && i < n; i++)
		if (parts[i].len > 0)
			ok = EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == KEYS_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		sha256_failed();
}

void keys_sha256(const void *data, size_t len, unsigned char out[KEYS_HASH_LEN])
{
	const struct keys_part part = {data, len};
	keys_sha256_parts(&part, 1, out);
}

void keys_hex(const unsigned char hash[KEYS_HASH_LEN], char *out)
{
	for (size_t i = 0; i < KEYS_HASH_LEN; i++) {
		out[2 * i] = hexdigits[hash[i] >> 4];
		out[2 * i + 1] = hexdigits[hash[i] & 15];
	}
	out[2 * KEYS_HASH_LEN] = '\0';
}

const char *keys_bearer(const char *header)
{
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	return header;
}

static const struct {
	const char *name;
	int bit;
} scope_names[] = {
	{"guard", KEY_SCOPE_GUARD}, {"read", KEY_SCOPE_READ}, {"app", KEY_SCOPE_APP}, {"admin", KEY_SCOPE_ADMIN},
	{"gateway", KEY_SCOPE_GATEWAY},
};
#define SCOPE_NAMES (sizeof(scope_names) / sizeof(scope_names[0]))

int keys_parse_scopes(const char *list)
{
	int mask = 0;
	const char *p = list;
	while (p != NULL) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		int bit = 0;
		for (size_t i = 0; i < SCOPE_NAMES; i++)
			if (strlen(scope_names[i].name) == len && strncmp(p, scope_names[i].name, len) == 0)
				bit = scope_names[i].bit;
		if (bit == 0)
			return -1;
		mask |= bit;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return mask == 0 ? -1 : mask;
}

void keys_format_scopes(int mask, char *out, size_t cap)
{
	size_t used = 0;
	if (cap == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < SCOPE_NAMES; i++) {
		if (!(mask & scope_names[i].bit))
			continue;
		int n = snprintf(out + used, cap - used, "%s%s", used > 0 ? "," : "", scope_names[i].name);
		if (n < 0 || (size_t)n >= cap - used)
			return;
		used += (size_t)n;
	}
}

const char *keys_scope_name(int scope)
{
	for (size_t i = 0; i < SCOPE_NAMES; i++)
		if (scope_names[i].bit == scope)
			return scope_names[i].name;
	return "?";
}

int keys_allows(int mask, int need)
{
	if (need == 0)
		return 1;
	if (mask & KEY_SCOPE_ADMIN)
		return 1;
	/* An app key reads what a read key reads; a read key starts nothing. */
	if (need == KEY_SCOPE_READ && (mask & KEY_SCOPE_APP))
		return 1;
	return (mask & need) != 0;
}

/* ---- Browser tokens ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding of n bytes into out; returns its length, or 0
 * when it does not fit in cap (with its NUL). */
static size_t b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	if ((n + 2) / 3 * 4 + 1 > cap)
		return 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = b64url[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	return o;
}

/* Decodes n chars of base64url (no padding) into out; its length, or -1. */
static long b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	uint32_t v = 0;
	size_t o = 0;
	int bits = 0;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *p = in[i] != '\0' ? strchr(b64url, in[i]) : NULL;
		if (p == NULL)
			return -1;
		v = v << 6 | (uint32_t)(p - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(v >> bits & 0xff);
		}
	}
	/* Only the canonical text: the bits past the last byte must be 0,
	 * else two texts (a last character changed in those bits) would
	 * decode to one signature and a changed token would pass. */
	if (bits > 0 && (v & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

static int token_mac(const char *secret, const char *msg, size_t len, unsigned char mac[KEYS_HASH_LEN])
{
	unsigned int n = 0;
	return HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, len, mac, &n) != NULL &&
			       n == KEYS_HASH_LEN ? 0 : -1;
}

/* One id of a token, base64url into out (cap bytes); 0 or -1. */
static int token_id(const char *id, char *out, size_t cap)
{
	size_t len = id != NULL ? strlen(id) : 0;
	return len == 0 || len > KEYS_TOKEN_ID_MAX || b64_encode((const unsigned char *)id, len, out, cap) == 0 ? -1 : 0;
}

int keys_token_make(const char *secret, const char *account, const char *member, int64_t expires, char *out,
		    size_t cap)
{
	unsigned char mac[KEYS_HASH_LEN];
	char acct[(KEYS_TOKEN_ID_MAX + 2) / 3 * 4 + 1], who[sizeof(acct)], sig[64];
	int n;
	if (secret == NULL || secret[0] == '\0' || token_id(account, acct, sizeof(acct)) != 0 ||
	    (member != NULL && token_id(member, who, sizeof(who)) != 0))
		return -1;
	if (member != NULL)
		n = snprintf(out, cap, KEYS_TOKEN_MEMBER_PREFIX "%s.%s.%" PRId64, acct, who, expires);
	else
		n = snprintf(out, cap, KEYS_TOKEN_PREFIX "%s.%" PRId64, acct, expires);
	if (n < 0 || (size_t)n >= cap || token_mac(secret, out, (size_t)n, mac) != 0 ||
	    b64_encode(mac, sizeof(mac), sig, sizeof(sig)) == 0 || (size_t)n + 1 + strlen(sig) >= cap)
		return -1;
	snprintf(out + n, cap - (size_t)n, ".%s", sig);
	return 0;
}

/* Decodes the id of n chars at in into out (cap bytes, NUL-terminated): an
 * id is never empty and holds no NUL. 0 or -1. */
static int token_id_decode(const char *in, size_t n, char *out, size_t cap)
{
	long got = b64_decode(in, n, (unsigned char *)out, cap - 1);
	if (got <= 0 || memchr(out, '\0', (size_t)got) != NULL)
		return -1;
	out[got] = '\0';
	return 0;
}

/* The dots of a token past its prefix: dot[0..want) found, and no more. */
static int token_dots(const char *body, const char *dot[3], int want)
{
	const char *p = body;
	for (int i = 0; i < want; i++) {
		dot[i] = strchr(p, '.');
		if (dot[i] == NULL || dot[i] == p)
			return -1;
		p = dot[i] + 1;
	}
	return *p == '\0' || strchr(p, '.') != NULL ? -1 : 0;
}

enum keys_token_check keys_token_check(const char *secret, const char *token, int64_t now, char *account,
				       char *member, size_t cap)
{
	unsigned char mac[KEYS_HASH_LEN], got[KEYS_HASH_LEN + 2];
	const char *dot[3];
	size_t plen = strlen(KEYS_TOKEN_PREFIX);
	if (secret == NULL || secret[0] == '\0' || token == NULL || strlen(token) > KEYS_TOKEN_MAX)
		return KEYS_TOKEN_MALFORMED;
	int with_member = strncmp(token, KEYS_TOKEN_MEMBER_PREFIX, plen) == 0;
	if (!with_member && strncmp(token, KEYS_TOKEN_PREFIX, plen) != 0)
		return KEYS_TOKEN_MALFORMED;
	const char *acct = token + plen;
	int ndots = with_member ? 3 : 2;
	if (token_dots(acct, dot, ndots) != 0)
		return KEYS_TOKEN_MALFORMED;
	const char *last = dot[ndots - 1], *exp_dot = dot[ndots - 2];
	/* The signature first: nothing of a forged token is believed. */
	if (b64_decode(last + 1, strlen(last + 1), got, sizeof(got)) != KEYS_HASH_LEN ||
	    token_mac(secret, token, (size_t)(last - token), mac) != 0)
		return KEYS_TOKEN_FORGED;
	if (CRYPTO_memcmp(mac, got, KEYS_HASH_LEN) != 0)
		return KEYS_TOKEN_FORGED;
	char *end;
	long long expires = strtoll(exp_dot + 1, &end, 10);
	if (end != last || expires <= 0)
		return KEYS_TOKEN_MALFORMED;
	if (expires <= now)
		return KEYS_TOKEN_EXPIRED;
	member[0] = '\0';
	if (token_id_decode(acct, (size_t)(dot[0] - acct), account, cap) != 0 ||
	    (with_member && token_id_decode(dot[0] + 1, (size_t)(dot[1] - dot[0] - 1), member, cap) != 0))
		return KEYS_TOKEN_MALFORMED;
	return KEYS_TOKEN_OK;
}

int keys_model_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > LIMIT_NAME_BYTES)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (name[i] == ',' || name[i] == ' ' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

int keys_models_next(const char **at, const char **name, size_t *len)
{
	if (*at == NULL)
		return 0;
	const char *comma = strchr(*at, ',');
	*name = *at;
	*len = comma != NULL ? (size_t)(comma - *at) : strlen(*at);
	*at = comma != NULL ? comma + 1 : NULL;
	return 1;
}

const char *keys_models_check(const char *list)
{
	char one[LIMIT_NAME_BYTES + 1];
	const char *at = list, *name;
	size_t len;
	int n = 0;
	if (strlen(list) > LIMIT_KEY_MODELS_BYTES)
		return "too long a list of models";
	while (keys_models_next(&at, &name, &len)) {
		if (++n > LIMIT_KEY_MODELS)
			return "more models than a key may list (16)";
		if (len < 1 || len > LIMIT_NAME_BYTES)
			return "a model name must be 1 to 64 bytes";
		memcpy(one, name, len);
		one[len] = '\0';
		if (!keys_model_name_ok(one))
			return "a model name may hold no comma, space or control character";
	}
	return NULL;
}

int keys_model_allowed(const char *models, const char *model)
{
	const char *at = models, *name;
	size_t len, n = strlen(model);
	if (models[0] == '\0')
		return 1;
	while (keys_models_next(&at, &name, &len))
		if (len == n && memcmp(name, model, n) == 0)
			return 1;
	return 0;
}
