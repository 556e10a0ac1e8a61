/* recharge.c: the auto-recharge sender (see recharge.h). Which recharges
 * are due, their leases, retries and ends are the ledger's; the charge is
 * the Stripe client's. */
#include "recharge.h"
#include "ledger.h"
#include "log.h"
#include "stripe.h"
#include <stdio.h>
#include <string.h>
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

static void send_one(const struct cfg *c, struct stripe_client *stripe, struct ledger *lg,
		     const struct ledger_recharge *r)
{
	struct stripe_payment p = {r->customer, r->payment_method, r->account, r->id, r->amount_cents,
				   c->stripe_currency};
	struct stripe_result out;
	char key[48];
	snprintf(key, sizeof(key), "recharge_%lld", (long long)r->id);
	enum stripe_status st = stripe_create_payment_intent(stripe, &p, key, &out);
	enum ledger_recharge_outcome o = st == STRIPE_OK && strcmp(out.status, "succeeded") == 0 ? RECHARGE_PAID
					 : st == STRIPE_OK ? RECHARGE_SENT
					 : st == STRIPE_ERR_API && out.http_status == 402 ? RECHARGE_DECLINED
					 : RECHARGE_RETRY;
	if (st != STRIPE_OK)
		log_warn("auto-recharge %lld of account %s: %s (HTTP %d)", (long long)r->id, r->account, out.message,
			 out.http_status);
	if (ledger_recharge_result(lg, r->id, o, out.id, out.amount_received, out.message) != CD_OK)
		log_warn("auto-recharge %lld: the outcome was not recorded (%s); it is sent again later",
			 (long long)r->id, ledger_errmsg(lg));
}

void recharge_run(const struct cfg *c, atomic_int *stopping)
{
	struct stripe_settings s = {c->stripe_api_base, c->stripe_secret_key, (long)c->stripe_connect_timeout_ms,
				    (long)c->stripe_timeout_ms};
	struct stripe_client *stripe = stripe_client_new(&s);
	struct ledger *lg = ledger_new(c);
	struct ledger_recharge due[LIMIT_RECHARGE_BATCH];
	/* The lease covers every call of a round, one after the other. */
	int64_t lease = LIMIT_RECHARGE_BATCH * ((c->stripe_connect_timeout_ms + c->stripe_timeout_ms) / 1000 + 1) +
			RECHARGE_LEASE_MARGIN_SECONDS;
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
		for (int i = 0; i < n && !atomic_load(stopping); i++)
			send_one(c, stripe, lg, &due[i]);
	}
out:
	ledger_free(lg);
	stripe_client_free(stripe);
}
