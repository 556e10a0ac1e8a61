/* ledger_config.c: the ledger's table of keys (ledger_config.h says
 * which, and why [stripe] is shared with stripe_config.c), and the checks
 * and values derived from them. */
#include "ledger_config.h"
#include "money_alert.h"
#include "timefmt.h"
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct ledger_config, f)

static const struct config_key keys[] = {
	{"ledger", "low_balance_default_micros", CONFIG_INT, OFF(low_balance_default_micros), 0, INT64_MAX / 4, "0", NULL, NULL, NULL},
	{"stripe", "connect_timeout_ms", CONFIG_INT, OFF(stripe_connect_timeout_ms), 100, 60000, "5000", NULL, NULL, NULL},
	{"stripe", "timeout_ms", CONFIG_INT, OFF(stripe_timeout_ms), 100, 120000, "20000", NULL, NULL, NULL},
	{"stripe", "topup_rate", CONFIG_INT, OFF(topup_rate), 1, 1000000000, "10000", NULL, NULL, NULL},
	/* Empty: ledger.currency in lower case, in finish(). */
	{"stripe", "currency", CONFIG_STR, OFF(stripe_currency), 0, 0, "", NULL, NULL, NULL},
	{"stripe", "auto_recharge_max_per_day", CONFIG_INT, OFF(auto_recharge_max_per_day), 1, 100, "3", NULL, NULL, NULL},
	{"stripe", "topups_per_hour", CONFIG_INT, OFF(topups_per_hour), 1, LIMIT_TOPUPS_PER_HOUR_MAX, "10", NULL, NULL, NULL},
	{"stripe", "suspend_on_dispute", CONFIG_ENUM, OFF(suspend_on_dispute_text), 0, 0, "true", "true|false", NULL, NULL},
	{"stripe", "suspend_when_unpaid", CONFIG_ENUM, OFF(suspend_when_unpaid_text), 0, 0, "false", "true|false", NULL, NULL},
	/* 0 keeps every row; stripe_events_days 1 to 29 is refused in finish(). */
	{"retention", "stripe_events_days", CONFIG_INT, OFF(retention_stripe_events_days), 0, LIMIT_RETENTION_MAX_DAYS, "90", NULL, NULL, NULL},
	{"referral", "referrer_micros", CONFIG_INT, OFF(referral_referrer_micros), 0, LIMIT_AMOUNT_MICROS_MAX, "0", NULL, NULL, NULL},
	{"referral", "referred_micros", CONFIG_INT, OFF(referral_referred_micros), 0, LIMIT_AMOUNT_MICROS_MAX, "0", NULL, NULL, NULL},
	{"referral", "expires_days", CONFIG_INT, OFF(referral_expires_days), 0, LIMIT_REFERRAL_EXPIRES_DAYS_MAX, "0", NULL, NULL, NULL},
	{"referral", "hold_days", CONFIG_INT, OFF(referral_hold_days), 0, LIMIT_REFERRAL_HOLD_DAYS_MAX, "0", NULL, NULL, NULL},
	{"referral", "max_per_referrer_per_month", CONFIG_INT, OFF(referral_max_per_month), 0, LIMIT_REFERRALS_PER_MONTH_MAX, "10", NULL, NULL, NULL},
	{"retention", "holds_days", CONFIG_INT, OFF(retention_holds_days), 0, LIMIT_RETENTION_MAX_DAYS, "30", NULL, NULL, NULL},
};

static int finish(const struct cfg *c, void *block, char *err, size_t errcap)
{
	struct ledger_config *l = block;
	if (l->stripe_currency[0] == '\0' && strcmp(c->currency, "credits") != 0) {
		free(l->stripe_currency);
		l->stripe_currency = strdup(c->currency);
		if (l->stripe_currency == NULL)
			return config_fail(err, errcap, "stripe.currency: out of memory");
		for (char *p = l->stripe_currency; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	l->suspend_on_dispute = strcmp(l->suspend_on_dispute_text, "true") == 0;
	l->suspend_when_unpaid = strcmp(l->suspend_when_unpaid_text, "true") == 0;
	if (l->retention_stripe_events_days > 0 && l->retention_stripe_events_days < LIMIT_STRIPE_EVENTS_MIN_DAYS)
		return config_fail(err, errcap, "retention.stripe_events_days must be 0 (never purge) or at least %d: "
				   "Stripe may deliver an event again for %d days", LIMIT_STRIPE_EVENTS_MIN_DAYS,
				   LIMIT_STRIPE_EVENTS_MIN_DAYS);
	/* An authorize replayed from its Idempotency-Key names its hold: a
	 * finished hold is kept at least as long as its key, and a margin
	 * more (LIMIT_HOLD_AFTER_KEY_SECONDS), whatever holds_days says. */
	l->retention_holds_seconds = -1;
	if (l->retention_holds_days > 0) {
		int64_t by_days = l->retention_holds_days * TIMEFMT_SECONDS_PER_DAY;
		int64_t by_key = c->idempotency_ttl_hours * 3600 + LIMIT_HOLD_AFTER_KEY_SECONDS;
		l->retention_holds_seconds = by_days > by_key ? by_days : by_key;
	}
	return 0;
}

const struct config_module ledger_config_module = {
	"ledger", CONFIG_MODULE_LEDGER, keys, sizeof(keys) / sizeof(keys[0]), sizeof(struct ledger_config), finish, NULL, NULL,
};

int64_t ledger_config_low_threshold(const struct ledger_config *c, int64_t own)
{
	return money_alert_low_threshold(own, c->low_balance_default_micros);
}
