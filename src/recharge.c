/* recharge.c: the off-session charge sender (see recharge.h). Which recharges
 * are due, their leases, retries and ends are the ledger's; the charge, and
 * the fetch of a PaymentIntent left without news, are the Stripe client's.
 * It drives both: the ledger never calls Stripe. */
#include "recharge.h"
#include "ledger.h"
#include "log.h"
#include "stripe.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A claimed recharge is leased for its Stripe call's longest time and a
 * margin: another creditd sends it only once this has passed (and would
 * send it with the same Idempotency-Key). */
#define RECHARGE_LEASE_MARGIN_SECONDS 5

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The charge's Stripe Idempotency-Key: an auto-recharge's id, or a
 * collection's account, month and try (DESIGN §10), the account's bytes
 * outside visible ASCII (and '%') percent-encoded, as a header needs; an
 * account id too long for that is replaced by the collection's row id
 * (unique per account and month too). */
static void charge_key(const struct cfg *c, const struct ledger_recharge *r, char *key, size_t size, char *period,
		       size_t psize)
{
	char acct[LIMIT_IDEMPOTENCY_KEY_BYTES + 1], salt[LIMIT_KEY_SALT_BYTES + 2];
	size_t n = 0;
	/* The deployment's salt (DESIGN §13), but for a charge tried before
	 * keys were salted: a retry must send the key Stripe saw. */
	snprintf(salt, sizeof(salt), "%s%s", r->legacy_key ? "" : c->stripe_key_salt, r->legacy_key ? "" : "-");
	period[0] = '\0';
	if (r->period <= 0) {
		snprintf(key, size, "recharge_%s%lld", salt, (long long)r->id);
		return;
	}
	snprintf(period, psize, "%04lld-%02lld", (long long)(r->period / 100), (long long)(r->period % 100));
	for (const unsigned char *p = (const unsigned char *)r->account; *p != '\0' && n + 4 < sizeof(acct); p++)
		n += (size_t)snprintf(acct + n, sizeof(acct) - n, *p > 0x20 && *p < 0x7f && *p != '%' ? "%c" : "%%%02X",
				      *p);
	if (n + strlen("payg---1") + strlen(salt) + strlen(period) > LIMIT_IDEMPOTENCY_KEY_BYTES || n + 4 >= sizeof(acct))
		snprintf(acct, sizeof(acct), "#%lld", (long long)r->id);
	snprintf(key, size, "payg-%s%s-%s-%lld", salt, acct, period, (long long)r->try_no);
}

void recharge_send(const struct cfg *c, struct stripe_client *stripe, struct ledger *lg,
		   const struct ledger_recharge *r, struct recharge_sent *out)
{
	char key[LIMIT_IDEMPOTENCY_KEY_BYTES + 96], period[48];
	int go = 0;
	/* The account's last word, under its lock: no disputed card is
	 * charged (DESIGN §13). */
	if (ledger_recharge_decide(lg, r, &go) != CD_OK || !go) {
		out->outcome = RECHARGE_RETRY;
		out->payment_intent[0] = '\0';
		snprintf(out->message, sizeof(out->message), "not sent: a dispute is open on the account, or the "
			 "charge moved on");
		out->recorded = 1;
		return;
	}
	charge_key(c, r, key, sizeof(key), period, sizeof(period));
	struct stripe_payment p = {r->customer, r->payment_method, r->account, r->id, r->amount_cents,
				   c->stripe_currency, period[0] ? period : NULL};
	struct stripe_result res;
	enum stripe_status st = stripe_create_payment_intent(stripe, &p, key, &res);
	out->outcome = st == STRIPE_OK && strcmp(res.status, "succeeded") == 0 ? RECHARGE_PAID
		       : st == STRIPE_OK ? RECHARGE_SENT
		       : st == STRIPE_ERR_API && res.http_status == 402 ? RECHARGE_DECLINED
		       : RECHARGE_RETRY;
	snprintf(out->payment_intent, sizeof(out->payment_intent), "%s", res.id);
	snprintf(out->message, sizeof(out->message), "%s", st == STRIPE_OK ? "" : res.message);
	if (st != STRIPE_OK)
		log_warn("%s %lld of account %s: %s (HTTP %d)", r->period > 0 ? "collection" : "auto-recharge",
			 (long long)r->id, r->account, res.message, res.http_status);
	out->recorded = ledger_recharge_result(lg, r->id, out->outcome, res.id, res.amount_received, res.message) ==
			CD_OK;
	if (!out->recorded)
		log_warn("charge %lld: the outcome was not recorded (%s); it is sent again later", (long long)r->id,
			 ledger_errmsg(lg));
}

/* What the PaymentIntent's status says, as its webhook would: succeeded
 * (in the configured currency: one in another is not credited, as its
 * event would not be), failed for good (requires_payment_method: the
 * card was refused; canceled), or nothing yet (processing,
 * requires_action, ...). */
static enum ledger_payment_news news_of(const struct cfg *c, const struct stripe_result *res)
{
	if (strcmp(res->status, "succeeded") == 0 && strcasecmp(res->currency, c->stripe_currency) == 0)
		return PAYMENT_NEWS_SUCCEEDED;
	if (strcmp(res->status, "requires_payment_method") == 0 || strcmp(res->status, "canceled") == 0)
		return PAYMENT_NEWS_FAILED;
	return PAYMENT_NEWS_NONE;
}

void recharge_fetch(const struct cfg *c, struct stripe_client *stripe, struct ledger *lg,
		    const struct ledger_recharge *r)
{
	struct stripe_result res;
	const char *what = r->period > 0 ? "collection" : "auto-recharge";
	enum stripe_status st = stripe_get_payment_intent(stripe, r->payment_intent, &res);
	/* Not reached, or an error (a 5xx, a 404 for a key changed since):
	 * nothing is known, so nothing changes; fetched again later. */
	enum ledger_payment_news news = st == STRIPE_OK ? news_of(c, &res) : PAYMENT_NEWS_NONE;
	if (st != STRIPE_OK)
		log_warn("%s %lld of account %s: fetching %s: %s (HTTP %d)", what, (long long)r->id, r->account,
			 r->payment_intent, res.message, res.http_status);
	else if (strcmp(res.status, "succeeded") == 0 && news != PAYMENT_NEWS_SUCCEEDED)
		log_warn("%s %lld of account %s: %s succeeded in %s, not the configured currency: not credited",
			 what, (long long)r->id, r->account, r->payment_intent, res.currency);
	else
		log_info("%s %lld of account %s: no webhook yet, %s is %s", what, (long long)r->id, r->account,
			 r->payment_intent, res.status);
	const char *why = res.payment_error[0] ? res.payment_error
			  : strcmp(res.status, "canceled") == 0 ? "payment canceled" : "payment failed";
	if (ledger_payment_news(lg, r->id, r->payment_intent, news, res.amount_received, why) != CD_OK)
		log_warn("%s %lld: its payment's news was not recorded (%s); fetched again later", what,
			 (long long)r->id, ledger_errmsg(lg));
}

/* The lease covers every call of a round, one after the other. */
int64_t recharge_lease_seconds(const struct cfg *c)
{
	return LIMIT_RECHARGE_BATCH * ((c->stripe_connect_timeout_ms + c->stripe_timeout_ms) / 1000 + 1) +
	       RECHARGE_LEASE_MARGIN_SECONDS;
}

void recharge_run(const struct cfg *c, atomic_int *stopping)
{
	struct stripe_settings s = {c->stripe_api_base, c->stripe_secret_key, (long)c->stripe_connect_timeout_ms,
				    (long)c->stripe_timeout_ms};
	struct stripe_client *stripe = stripe_client_new(&s);
	struct ledger *lg = ledger_new(c);
	struct ledger_recharge due[LIMIT_RECHARGE_BATCH];
	int64_t lease = recharge_lease_seconds(c);
	if (stripe == NULL || lg == NULL) {
		log_error("auto-recharge sender not started: out of memory");
		goto out;
	}
	while (!atomic_load(stopping)) {
		int n = 0;
		if (ledger_recharges_claim(lg, due, LIMIT_RECHARGE_BATCH, lease, &n) != CD_OK || n == 0) {
			sleep_ms(n == 0 ? 250 : 1000);
			continue;
		}
		for (int i = 0; i < n && !atomic_load(stopping); i++) {
			struct recharge_sent sent;
			if (due[i].payment_intent[0] != '\0')
				recharge_fetch(c, stripe, lg, &due[i]);
			else
				recharge_send(c, stripe, lg, &due[i], &sent);
		}
	}
out:
	ledger_free(lg);
	stripe_client_free(stripe);
}
