/* holdid.c: hold ids that cannot be guessed (holdid.h). libcrypto's
 * AES-128 on one block, through EVP. Each thread keeps its two cipher
 * contexts (encipher, decipher) keyed: an authorize makes an id and a
 * settle reads one, and making a context and its key schedule for every
 * block was a twentieth of a guard request's CPU. A new key
 * (holdid_set_key) moves the generation, and each thread keys its
 * contexts again at its next block. */
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
static atomic_uint generation;	/* moved by every holdid_set_key */

/* A thread's contexts, freed when it ends. */
struct ciphers {
	EVP_CIPHER_CTX *ctx[2];	/* [0] decipher, [1] encipher */
	unsigned gen[2];	/* the generation each was keyed at; 0: never */
};
static pthread_key_t ciphers_key;
static pthread_once_t ciphers_once = PTHREAD_ONCE_INIT;

static void ciphers_free(void *p)
{
	struct ciphers *c = p;
	EVP_CIPHER_CTX_free(c->ctx[0]);
	EVP_CIPHER_CTX_free(c->ctx[1]);
	free(c);
}

static void ciphers_init(void)
{
	if (pthread_key_create(&ciphers_key, ciphers_free) != 0)
		abort();	/* at most PTHREAD_KEYS_MAX keys: none left is a broken build */
}

int holdid_set_key(const uint8_t k[HOLDID_KEY_BYTES], int64_t from)
{
	pthread_mutex_lock(&key_lock);
	memcpy(key, k, sizeof(key));
	opaque_from = from;
	/* 0 means never keyed: the generations start at 1. */
	if (atomic_fetch_add(&generation, 1) + 1 == 0)
		atomic_fetch_add(&generation, 1);
	atomic_store(&ready, 1);
	pthread_mutex_unlock(&key_lock);
	return 0;
}

int holdid_ready(void)
{
	return atomic_load(&ready);
}

/* The calling thread's context for one direction, keyed with the current
 * key; NULL when it cannot be made. */
static EVP_CIPHER_CTX *cipher(int encipher)
{
	pthread_once(&ciphers_once, ciphers_init);
	struct ciphers *c = pthread_getspecific(ciphers_key);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || pthread_setspecific(ciphers_key, c) != 0) {
			free(c);
			return NULL;
		}
	}
	/* Keyed at the current generation: no lock (holdid_set_key moves
	 * the generation after it wrote the key). */
	if (c->ctx[encipher] != NULL && c->gen[encipher] == atomic_load(&generation))
		return c->ctx[encipher];
	uint8_t k[HOLDID_KEY_BYTES];
	pthread_mutex_lock(&key_lock);
	unsigned gen = atomic_load(&generation);
	memcpy(k, key, sizeof(k));
	pthread_mutex_unlock(&key_lock);
	if (c->ctx[encipher] == NULL)
		c->ctx[encipher] = EVP_CIPHER_CTX_new();
	c->gen[encipher] = 0;
	if (c->ctx[encipher] == NULL ||
	    EVP_CipherInit_ex(c->ctx[encipher], EVP_aes_128_ecb(), NULL, k, NULL, encipher) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c->ctx[encipher], 0) != 1)
		return NULL;
	c->gen[encipher] = gen;
	return c->ctx[encipher];
}

/* One block through AES-128-ECB (a single block: no chaining, no
 * padding, so an update of one block gives it whole and leaves the
 * context ready for the next), enciphered or deciphered. 0, or -1. */
static int block(int encipher, const uint8_t in[16], uint8_t out[16])
{
	EVP_CIPHER_CTX *ctx = cipher(encipher);
	int n = 0;
	if (ctx == NULL || EVP_CipherUpdate(ctx, out, &n, in, 16) != 1 || n != 16) {
		if (ctx != NULL)	/* key it again next time */
			((struct ciphers *)pthread_getspecific(ciphers_key))->gen[encipher] = 0;
		return -1;
	}
	return 0;
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
	static const char digits[] = "0123456789abcdef";
	char hex[2 * sizeof(ct) + 1];
	for (size_t i = 0; i < sizeof(ct); i++) {
		hex[2 * i] = digits[ct[i] >> 4];
		hex[2 * i + 1] = digits[ct[i] & 15];
	}
	hex[2 * sizeof(ct)] = '\0';
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
