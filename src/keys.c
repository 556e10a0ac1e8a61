/* keys.c: generating, recognising and hashing API keys. Uses libcrypto
 * (RAND_bytes, SHA256) and nothing else; never logs a key. */
#include "keys.h"
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char hexdigits[] = "0123456789abcdef";

int keys_random_hex(char *out, size_t n)
{
	unsigned char buf[64];
	if (n > sizeof(buf) || RAND_bytes(buf, (int)n) != 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[buf[i] >> 4];
		out[2 * i + 1] = hexdigits[buf[i] & 15];
	}
	out[2 * n] = '\0';
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

/* SHA256_Init/Update/Final keep their state in a SHA256_CTX on the stack,
 * so a hash cannot fail. OpenSSL 3 deprecates them for EVP, but an EVP
 * digest allocates its context (and OpenSSL 3's SHA256() one-shot goes
 * through EVP_Q_digest, which may fail and leave out unwritten): a hash
 * that can fail would need an answer for it everywhere one is taken. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void keys_sha256_parts(const struct keys_part *parts, size_t n, unsigned char out[KEYS_HASH_LEN])
{
	SHA256_CTX ctx;
	SHA256_Init(&ctx);
	for (size_t i = 0; i < n; i++)
		if (parts[i].len > 0)
			SHA256_Update(&ctx, parts[i].data, parts[i].len);
	SHA256_Final(out, &ctx);
	OPENSSL_cleanse(&ctx, sizeof(ctx));
}
#pragma GCC diagnostic pop

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

int keys_parse_scopes(const char *list)
{
	int mask = 0;
	const char *p = list;
	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 5 && strncmp(p, "guard", 5) == 0)
			mask |= KEY_SCOPE_GUARD;
		else if (len == 4 && strncmp(p, "read", 4) == 0)
			mask |= KEY_SCOPE_READ;
		else if (len == 5 && strncmp(p, "admin", 5) == 0)
			mask |= KEY_SCOPE_ADMIN;
		else
			return -1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return mask == 0 ? -1 : mask;
}

void keys_format_scopes(int mask, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s%s%s", mask & KEY_SCOPE_GUARD ? "guard" : "",
		 (mask & KEY_SCOPE_GUARD) && (mask & (KEY_SCOPE_READ | KEY_SCOPE_ADMIN)) ? "," : "",
		 mask & KEY_SCOPE_READ ? "read" : "",
		 (mask & KEY_SCOPE_READ) && (mask & KEY_SCOPE_ADMIN) ? "," : "",
		 mask & KEY_SCOPE_ADMIN ? "admin" : "");
}

int keys_allows(int mask, int need)
{
	if (need == 0)
		return 1;
	if (mask & KEY_SCOPE_ADMIN)
		return 1;
	return (mask & need) != 0;
}
