/* stripe_config.c: the Stripe module's table of [stripe] keys
 * (stripe_config.h says which; the ledger's table holds the rest of the
 * section), the checks across them, and the values derived from them. */
#include "stripe_config.h"
#include "keys.h"
#include "ledger_config.h"
#include "timefmt.h"
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each secret of a comma-separated list, trimmed, as config_long_secret. */
static const char *long_secrets(const char *v)
{
	while (*v != '\0') {
		size_t len = strcspn(v, ",");
		const char *p = v;
		size_t n = len;
		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n > 0 && n < LIMIT_SECRET_MIN_BYTES)
			return "must list secrets of at least 32 bytes each";
		v += len;
		if (*v == ',')
			v++;
	}
	return NULL;
}
_Static_assert(LIMIT_SECRET_MIN_BYTES == 32, "the message above says 32");

#define OFF(f) offsetof(struct stripe_config, f)

static const struct config_key keys[] = {
	{"stripe", "secret_key", CONFIG_SECRET, OFF(secret_key), 0, 0, "", NULL, "CREDITD_STRIPE_SECRET_KEY", NULL},
	{"stripe", "webhook_secrets", CONFIG_SECRET, OFF(webhook_secrets_text), 0, 0, "", NULL, "CREDITD_STRIPE_WEBHOOK_SECRETS", long_secrets},
	{"stripe", "api_base", CONFIG_STR, OFF(api_base), 0, 0, "https://api.stripe.com", NULL, "CREDITD_STRIPE_API_BASE", NULL},
	{"stripe", "topup_min_cents", CONFIG_INT, OFF(topup_min_cents), 1, 100000000, "500", NULL, NULL, NULL},
	{"stripe", "topup_max_cents", CONFIG_INT, OFF(topup_max_cents), 1, 100000000, "100000", NULL, NULL, NULL},
	{"stripe", "product_name", CONFIG_STR, OFF(product_name), 0, 0, "Credits", NULL, NULL, NULL},
	{"stripe", "success_url", CONFIG_STR, OFF(success_url), 0, 0, "http://localhost/billing/success", NULL, NULL, NULL},
	{"stripe", "cancel_url", CONFIG_STR, OFF(cancel_url), 0, 0, "http://localhost/billing/cancel", NULL, NULL, NULL},
	{"stripe", "allowed_redirect_origins", CONFIG_STR, OFF(allowed_redirect_origins), 0, 0, "", NULL, NULL, NULL},
	{"stripe", "webhook_tolerance_seconds", CONFIG_INT, OFF(webhook_tolerance_seconds), 1, TIMEFMT_SECONDS_PER_DAY, "300", NULL, NULL, NULL},
	{"stripe", "invoice_topups", CONFIG_ENUM, OFF(invoice_topups_text), 0, 0, "false", "true|false", NULL, NULL},
	/* Empty: derived from the first webhook secret in finish(). */
	{"stripe", "key_salt", CONFIG_STR, OFF(key_salt_text), 0, 0, "", NULL, "CREDITD_STRIPE_KEY_SALT", NULL},
};

static int split_secrets(struct stripe_config *s, char *err, size_t errcap)
{
	const char *p = s->webhook_secrets_text;
	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len > 0) {
			if (s->webhook_secret_count == LIMIT_WEBHOOK_SECRETS)
				return config_fail(err, errcap, "stripe.webhook_secrets: more than %d secrets",
						   LIMIT_WEBHOOK_SECRETS);
			char *secret = strndup(p, len);
			if (secret == NULL)
				return config_fail(err, errcap, "stripe.webhook_secrets: out of memory");
			s->webhook_secrets[s->webhook_secret_count++] = secret;
		}
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

/* The deployment's salt of every Idempotency-Key sent to Stripe
 * (docs/configuration.md, "key_salt"): stripe.key_salt as set, else the first
 * LIMIT_KEY_SALT_DERIVED_HEX hex digits of SHA-256 over the first webhook
 * secret (each Stripe webhook endpoint, so each deployment, has its own),
 * else over the secret key. Never from the database: a copy of it must not
 * carry production's keys. 0, or -1 when the configured salt is not of the
 * allowed form. */
static int key_salt(struct stripe_config *s)
{
	const char *set = s->key_salt_text, *from = s->webhook_secret_count > 0 ? s->webhook_secrets[0] : s->secret_key;
	size_t n = strlen(set);
	if (n > 0) {
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)set[i]) && set[i] != '_')
				return -1;
		if (n > LIMIT_KEY_SALT_BYTES)
			return -1;
		snprintf(s->key_salt, sizeof(s->key_salt), "%s", set);
		return 0;
	}
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1];
	struct keys_part parts[] = {{"creditd stripe key salt\n", 24}, {from, strlen(from)}};
	keys_sha256_parts(parts, sizeof(parts) / sizeof(parts[0]), hash);
	keys_hex(hash, hex);
	snprintf(s->key_salt, sizeof(s->key_salt), "%.*s", LIMIT_KEY_SALT_DERIVED_HEX, hex);
	return 0;
}

/* The bounds of a top-up, here with the bounds' keys; the largest, at
 * the ledger's topup_rate (a lower slot's block, final by now), is one
 * grant (docs/configuration.md, "topup_rate"). */
static int finish(const struct cfg *c, void *block, char *err, size_t errcap)
{
	struct stripe_config *s = block;
	int64_t rate = ledger_config_of(c)->topup_rate;
	if (s->topup_min_cents > s->topup_max_cents)
		return config_fail(err, errcap, "stripe.topup_min_cents is above stripe.topup_max_cents");
	if ((__int128)s->topup_max_cents * rate > LIMIT_AMOUNT_MICROS_MAX)
		return config_fail(err, errcap, "stripe.topup_max_cents (%lld) times stripe.topup_rate (%lld) is above "
				   "%lld micros, the largest single grant", (long long)s->topup_max_cents,
				   (long long)rate, (long long)LIMIT_AMOUNT_MICROS_MAX);
	s->invoice_topups = strcmp(s->invoice_topups_text, "true") == 0;
	if (config_url_ok(s->api_base, "stripe.api_base", err, errcap) != 0 || split_secrets(s, err, errcap) != 0)
		return -1;
	if (key_salt(s) != 0)
		return config_fail(err, errcap, "stripe.key_salt must be 1 to %d letters, digits or '_'",
				   LIMIT_KEY_SALT_BYTES);
	return 0;
}

static void release(void *block)
{
	struct stripe_config *s = block;
	for (int i = 0; i < s->webhook_secret_count; i++)
		free(s->webhook_secrets[i]);
	s->webhook_secret_count = 0;
}

const struct config_module stripe_config_module = {
	"stripe", CONFIG_MODULE_STRIPE, keys, sizeof(keys) / sizeof(keys[0]), sizeof(struct stripe_config), finish,
	release, NULL,
};

struct stripe_settings stripe_config_settings(const struct cfg *c)
{
	const struct stripe_config *s = stripe_config_of(c);
	const struct ledger_config *l = ledger_config_of(c);
	return (struct stripe_settings){s->api_base, s->secret_key, (long)l->stripe_connect_timeout_ms,
					(long)l->stripe_timeout_ms};
}

/* Writes the origin of url (scheme://authority) into out; 0 or -1. */
static int origin_of(const char *url, char *out, size_t cap)
{
	const char *sep = strstr(url, "://");
	if (sep == NULL || sep == url)
		return -1;
	const char *end = sep + 3;
	while (*end != '\0' && *end != '/' && *end != '?' && *end != '#')
		end++;
	size_t n = (size_t)(end - url);
	if (n == (size_t)(sep + 3 - url) || n >= cap)
		return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

int stripe_config_redirect_allowed(const struct stripe_config *s, const char *url)
{
	char origin[LIMIT_URL_BYTES], other[LIMIT_URL_BYTES];
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return 0;
	if (origin_of(url, origin, sizeof(origin)) != 0)
		return 0;
	if (config_origin_listed(s->allowed_redirect_origins, origin))
		return 1;
	if (origin_of(s->success_url, other, sizeof(other)) == 0 && strcasecmp(other, origin) == 0)
		return 1;
	return origin_of(s->cancel_url, other, sizeof(other)) == 0 && strcasecmp(other, origin) == 0;
}
