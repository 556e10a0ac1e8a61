/* holdid.c: hold ids that cannot be guessed (holdid.h). libcrypto's
 * AES-128 on one block, through EVP. */
#include "holdid.h"
#include "limits.h"
#include <openssl/evp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof("hold_") - 1 + HOLDID_HEX < LIMIT_HOLD_ID_BYTES, "an enciphered hold id, with its NUL, must fit");

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t key[HOLDID_KEY_BYTES];
static int64_t opaque_from = INT64_MAX;
static atomic_int ready;

int holdid_set_key(const uint8_t k[HOLDID_KEY_BYTES], int64_t from)
{
	pthread_mutex_lock(&key_lock);
	memcpy(key, k, sizeof(key));
	opaque_from = from;
	atomic_store(&ready, 1);
	pthread_mutex_unlock(&key_lock);
	return 0;
}

int holdid_ready(void)
{
	return atomic_load(&ready);
}

/* One block through AES-128-ECB (a single block: no chaining, no
 * padding), enciphered or deciphered. 0, or -1. */
static int block(int encipher, const uint8_t in[16], uint8_t out[16])
{
	uint8_t k[HOLDID_KEY_BYTES];
	pthread_mutex_lock(&key_lock);
	memcpy(k, key, sizeof(k));
	pthread_mutex_unlock(&key_lock);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	int ok = ctx != NULL && EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), NULL, k, NULL, encipher) == 1 &&
		 EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 && EVP_CipherUpdate(ctx, out, &n, in, 16) == 1 &&
		 EVP_CipherFinal_ex(ctx, out + n, &fin) == 1 && n + fin == 16;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void holdid_format(char *out, size_t cap, int64_t account, int64_t hold)
{
	uint8_t in[16], ct[16];
	put64(in, (uint64_t)account);
	put64(in + 8, (uint64_t)hold);
	if (!holdid_ready() || block(1, in, ct) != 0) {
		snprintf(out, cap, "hold_%" PRId64 "_%" PRId64, account, hold);
		return;
	}
	char hex[2 * sizeof(ct) + 1];
	for (size_t i = 0; i < sizeof(ct); i++)
		snprintf(hex + 2 * i, 3, "%02x", ct[i]);
	snprintf(out, cap, "hold_%s", hex);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A number of 1 to 19 digits, no sign, no leading zero, below 2^63. */
static const char *number(const char *s, int64_t *v)
{
	uint64_t n = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9' && p - s < 19; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	if (p == s || (p - s > 1 && *s == '0') || n > INT64_MAX)
		return NULL;
	*v = (int64_t)n;
	return p;
}

int holdid_parse_plain(const char *s, int64_t *account, int64_t *hold)
{
	if (s == NULL || strncmp(s, "hold_", 5) != 0)
		return -1;
	const char *p = number(s + 5, account);
	if (p == NULL || *p != '_' || (p = number(p + 1, hold)) == NULL || *p != '\0')
		return -1;
	return *account > 0 && *hold > 0 ? 0 : -1;
}

int holdid_parse(const char *s, int64_t *account, int64_t *hold)
{
	if (!holdid_ready())
		return holdid_parse_plain(s, account, hold);
	if (s == NULL || strncmp(s, "hold_", 5) != 0 || strlen(s) != 5 + HOLDID_HEX) {
		int64_t from;
		pthread_mutex_lock(&key_lock);
		from = opaque_from;
		pthread_mutex_unlock(&key_lock);
		/* The old form: only a hold made before the key was. */
		return holdid_parse_plain(s, account, hold) == 0 && *hold < from ? 0 : -1;
	}
	uint8_t ct[16], pt[16];
	for (int i = 0; i < 16; i++) {
		int hi = hexval(s[5 + 2 * i]), lo = hexval(s[6 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		ct[i] = (uint8_t)(hi << 4 | lo);
	}
	if (block(0, ct, pt) != 0)
		return -1;
	uint64_t a = get64(pt), h = get64(pt + 8);
	if (a == 0 || h == 0 || a > INT64_MAX || h > INT64_MAX)
		return -1;
	*account = (int64_t)a;
	*hold = (int64_t)h;
	return 0;
}
