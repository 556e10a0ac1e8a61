/* ledger_config.h: the keys the ledger reads beyond core's [ledger]: the
 * default balance.low threshold (of [ledger], read by the ledger's
 * notices and the widget's view above it, core never); of
 * [stripe], those the ledger itself reads (pricing a top-up, limiting
 * them, the recharges' day, suspending an account, how long a call to
 * Stripe may take), which sit here rather than in stripe_config.c, as
 * the ledger is below the Stripe module; and [retention] (docs/operations.md, "Data retention"),
 * which the ledger's purge alone reads; and [referral] (docs/growth.md,
 * "Referrals"), which the top-up's credit reads. The CONFIG_MODULE_LEDGER
 * block. */
#ifndef CREDITD_LEDGER_CONFIG_H
#define CREDITD_LEDGER_CONFIG_H
#include <stdint.h>
#include "config.h"

struct ledger_config {
	/* [ledger] */
	int64_t low_balance_default_micros;	/* an account's balance.low threshold when it has none */
	/* [stripe] */
	int64_t stripe_connect_timeout_ms;
	int64_t stripe_timeout_ms;
	int64_t topup_rate;		/* micros per cent */
	char *stripe_currency;		/* lower-case ISO code sent to Stripe */
	int64_t auto_recharge_max_per_day;	/* recharges per account and UTC day */
	int64_t topups_per_hour;	/* top-ups an account may start in any hour */
	char *suspend_on_dispute_text;	/* true|false */
	char *suspend_when_unpaid_text;	/* true|false */
	/* [retention]: days a row is kept; 0 : never purged */
	int64_t retention_stripe_events_days;	/* Stripe event ids, by received_at */
	int64_t retention_holds_days;	/* finished holds, by expires_at and finished_at */
	/* [referral]: the grants of a referred account's first credited top-up */
	int64_t referral_referrer_micros;	/* to the code's owner; 0: none */
	int64_t referral_referred_micros;	/* to the referred account; 0: none */
	int64_t referral_expires_days;		/* both grants' life; 0: never expire */
	int64_t referral_max_per_month;		/* rewards a referrer a UTC month; 0: no cap */
	int64_t referral_hold_days;		/* a reward waits this long after its top-up's credit; 0: at once */

	/* Derived at load time. */
	int64_t retention_holds_seconds; /* finished holds kept: holds_days, at least key ttl + a day; -1 ever */
	int suspend_on_dispute;		/* a dispute suspends the account (status_reason dispute) */
	int suspend_when_unpaid;	/* a past_due/unpaid subscription suspends it (payment_failed) */
};

extern const struct config_module ledger_config_module;
/* The ledger's block of c (its module's slot). */
static inline const struct ledger_config *ledger_config_of(const struct cfg *c)
{
	return c->module[CONFIG_MODULE_LEDGER];
}
/* The balance.low threshold of an account whose own low_balance_micros is
 * `own` (-1: none) under this configuration (money_alert_low_threshold,
 * with ledger.low_balance_default_micros). */
int64_t ledger_config_low_threshold(const struct ledger_config *c, int64_t own);
#endif
