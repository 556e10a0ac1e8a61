/* stripe_config.h: the [stripe] keys of the Stripe module (its client's
 * endpoint and key, the webhook's secrets, Checkout's bounds and pages),
 * read by the layers above it. What the ledger reads of [stripe] is in
 * the ledger's table (ledger_config.h): the ledger is below this module.
 * The CONFIG_MODULE_STRIPE block. */
#ifndef CREDITD_STRIPE_CONFIG_H
#define CREDITD_STRIPE_CONFIG_H
#include <stdint.h>
#include "config.h"
#include "stripe.h"

struct stripe_config {
	char *secret_key;
	char *webhook_secrets_text;	/* comma-separated */
	char *api_base;
	int64_t topup_min_cents;
	int64_t topup_max_cents;
	char *product_name;
	char *success_url;
	char *cancel_url;
	char *allowed_redirect_origins;	/* comma-separated origins */
	int64_t webhook_tolerance_seconds;
	char *invoice_topups_text;	/* true|false */
	char *key_salt_text;		/* as configured; "" : derived */

	/* Derived at load time. */
	char *webhook_secrets[LIMIT_WEBHOOK_SECRETS];
	int webhook_secret_count;
	/* In every Idempotency-Key sent to Stripe
	 * (docs/configuration.md, "key_salt"): stripe.key_salt, or derived
	 * from the first webhook secret (stripe_config.c key_salt). */
	char key_salt[LIMIT_KEY_SALT_BYTES + 1];
	int invoice_topups;		/* Checkout top-ups ask Stripe for an invoice (invoice_creation) */
};

extern const struct config_module stripe_config_module;
/* The module's block of c (its slot). */
static inline const struct stripe_config *stripe_config_of(const struct cfg *c)
{
	return c->module[CONFIG_MODULE_STRIPE];
}
/* The Stripe client's settings: this module's endpoint and key, the
 * ledger's timeouts (it bounds a top-up's call by them). */
struct stripe_settings stripe_config_settings(const struct cfg *c);
/* 1 when url's origin (scheme://host[:port]) is in allowed_redirect_origins,
 * or equals the origin of success_url/cancel_url. */
int stripe_config_redirect_allowed(const struct stripe_config *s, const char *url);
#endif
