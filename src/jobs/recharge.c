/* recharge.c: the off-session charge sender (see recharge.h). Which recharges
 * are due, their leases, retries and ends are the ledger's; the charge, the
 * fetch of a PaymentIntent left without news and the cancel of a
 * collection's try made needless are the Stripe client's. It drives both:
 * the ledger never calls Stripe. */
#include "recharge.h"
#include "ledger.h"
#include "ledger_config.h"
#include "log.h"
#include "stripe.h"
#include "stripe_config.h"
#include <stdio.h>
#include <stdlib.h>
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
 * collection's account, month and try
 * (docs/pay-as-you-go.md, "The 1st of the month"), the account's bytes
 * outside visible ASCII (and '%') percent-encoded, as a header needs; an
 * account id too long for that is replaced by the collection's row id (unique
 * per account and month too). */
static void charge_key(const struct cfg *c, const struct ledger_recharge *r, char *key, size_t size, char *period,
		       size_t psize)
{
	char acct[LIMIT_IDEMPOTENCY_KEY_BYTES + 1], salt[LIMIT_KEY_SALT_BYTES + 2];
	size_t n = 0;
	/* The deployment's salt (docs/configuration.md, "key_salt"), but for a charge tried before
	 * keys were salted: a retry must send the key Stripe saw. */
	snprintf(salt, sizeof(salt), "%s%s", r->legacy_key ? "" : stripe_config_of(c)->key_salt,
		 r->legacy_key ? "" : "-");
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

/* Charge r not sent: the account's last word was to wait (rc CD_OK: a
 * dispute open, or the charge moved on), or the database failed before
 * the decision was made (a failure: nothing changed, and the charge is
 * claimed and sent again once its lease has passed). */
static void not_sent(struct store *db, const struct ledger_recharge *r, enum cd_err rc, struct recharge_sent *out)
{
	out->outcome = RECHARGE_RETRY;
	out->payment_intent[0] = '\0';
	out->recorded = rc == CD_OK;
	out->held = rc == CD_OK;
	out->db_failed = rc != CD_OK;
	if (rc == CD_OK) {
		snprintf(out->message, sizeof(out->message), "not sent: a dispute is open on the account, or the "
			 "charge moved on");
		return;
	}
	snprintf(out->message, sizeof(out->message), "not sent: the database failed deciding whether to send it (%s); "
		 "sent again later", rc == CD_E_INTERNAL && store_errmsg(db)[0] ? store_errmsg(db) : errors_strerror(rc));
	log_warn("%s %lld of account %s: %s", r->period > 0 ? "collection" : "auto-recharge", (long long)r->id,
		 r->account, out->message);
}

void recharge_send(const struct cfg *c, struct stripe_client *stripe, struct store *db,
		   const struct ledger_recharge *r, struct recharge_sent *out)
{
	char key[LIMIT_IDEMPOTENCY_KEY_BYTES + 96], period[48];
	int go = 0;
	/* The account's last word, under its lock: no disputed card is charged
	 * (docs/api.md, "POST /v1/webhooks/stripe"). A database that failed to say is no dispute. */
	enum cd_err rc = ledger_recharge_decide(db, r, &go);
	if (rc != CD_OK || !go) {
		not_sent(db, r, rc, out);
		return;
	}
	out->held = 0;
	out->db_failed = 0;
	charge_key(c, r, key, sizeof(key), period, sizeof(period));
	struct stripe_payment p = {r->customer, r->payment_method, r->account, r->id, r->amount_cents,
				   ledger_config_of(c)->stripe_currency, period[0] ? period : NULL};
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
	/* A collection's try is recorded with its PaymentIntent first (a
	 * declined one too: it stays open at Stripe). Not recorded, nothing
	 * is: the try is sent again with its key, and Stripe's replay names
	 * the same PaymentIntent. */
	out->recorded = out->outcome == RECHARGE_RETRY ||
			ledger_payg_try_made(db, r, res.id, out->outcome == RECHARGE_PAID) == CD_OK;
	if (out->recorded)
		out->recorded = ledger_recharge_result(db, r->id, out->outcome, res.id, res.amount_received,
						       res.message) == CD_OK;
	if (!out->recorded)
		log_warn("charge %lld: the outcome was not recorded (%s); it is sent again later", (long long)r->id,
			 store_errmsg(db));
}

/* What the PaymentIntent's status says, as its webhook would: succeeded
 * (in the configured currency: one in another is not credited, as its
 * event would not be), failed for good (requires_payment_method: the
 * card was refused; canceled), or nothing yet (processing,
 * requires_action, ...). */
static enum ledger_payment_news news_of(const struct cfg *c, const struct stripe_result *res)
{
	const char *currency = ledger_config_of(c)->stripe_currency;
	if (strcmp(res->status, "succeeded") == 0 && strcasecmp(res->currency, currency) == 0)
		return PAYMENT_NEWS_SUCCEEDED;
	if (strcmp(res->status, "requires_payment_method") == 0 || strcmp(res->status, "canceled") == 0)
		return PAYMENT_NEWS_FAILED;
	return PAYMENT_NEWS_NONE;
}

void recharge_fetch(const struct cfg *c, struct stripe_client *stripe, struct store *db,
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
	if (ledger_payment_news(db, r->id, r->payment_intent, news, res.amount_received, why) != CD_OK)
		log_warn("%s %lld: its payment's news was not recorded (%s); fetched again later", what,
			 (long long)r->id, store_errmsg(db));
}

/* A cancel's Stripe Idempotency-Key: one cancel per PaymentIntent, so its
 * id (Stripe's ids are unique) makes it; c is there for what the
 * deployment adds to every key it sends (docs/configuration.md, "key_salt"). */
static void cancel_key(const struct cfg *c, const struct ledger_cancel *x, char *key, size_t size)
{
	snprintf(key, size, "payg-cancel-%s-%s", stripe_config_of(c)->key_salt, x->payment_intent);
}

void recharge_cancel(const struct cfg *c, struct stripe_client *stripe, struct store *db,
		     const struct ledger_cancel *x)
{
	char key[LIMIT_STRIPE_ID_BYTES + LIMIT_KEY_SALT_BYTES + 96];
	struct stripe_result res;
	cancel_key(c, x, key, sizeof(key));
	enum stripe_status st = stripe_cancel_payment_intent(stripe, x->payment_intent, key, &res);
	/* Cancelled already is what was wanted. A 400 or 404 is Stripe's
	 * last word (it succeeded first: the customer paid twice, for the
	 * operator to refund; or it is gone); anything else is Stripe away or
	 * a key to fix, and the cancel is tried again. */
	int done = st == STRIPE_OK || strcmp(res.status, "canceled") == 0;
	int refused = !done && st == STRIPE_ERR_API && (res.http_status == 400 || res.http_status == 404);
	int paid = refused && strcmp(res.status, "succeeded") == 0;
	enum ledger_cancel_outcome o = done ? CANCEL_DONE : paid ? CANCEL_PAID : refused ? CANCEL_REFUSED
							 : CANCEL_RETRY;
	if (done)
		log_info("collection %lld of account %s: try %lld's %s cancelled at Stripe", (long long)x->recharge_id,
			 x->account, (long long)x->try_no, x->payment_intent);
	else
		log_warn("collection %lld of account %s: cancelling try %lld's %s: %s (HTTP %d, status %s)%s",
			 (long long)x->recharge_id, x->account, (long long)x->try_no, x->payment_intent, res.message,
			 res.http_status, res.status[0] ? res.status : "unknown",
			 paid ? ": it paid too, a second payment of the collection to refund"
			 : refused ? ": left for the operator" : ": tried again later");
	if (ledger_payg_cancel_result(db, x->payment_intent, o, res.message) != CD_OK)
		log_warn("cancel of %s: the result was not recorded (%s); cancelled again later", x->payment_intent,
			 store_errmsg(db));
}

/* The lease covers every call of a round, one after the other. */
int64_t recharge_lease_seconds(const struct cfg *c)
{
	const struct ledger_config *l = ledger_config_of(c);
	return LIMIT_RECHARGE_BATCH * ((l->stripe_connect_timeout_ms + l->stripe_timeout_ms) / 1000 + 1) +
	       RECHARGE_LEASE_MARGIN_SECONDS;
}

struct recharge_sender {
	const struct cfg *cfg;
	struct stripe_client *stripe;
	struct store *db;
	int64_t lease_seconds;
};

struct recharge_sender *recharge_sender_new(const struct cfg *c)
{
	struct stripe_settings s = stripe_config_settings(c);
	struct recharge_sender *r = calloc(1, sizeof(*r));
	if (r != NULL) {
		r->cfg = c;
		r->stripe = stripe_client_new(&s);
		r->db = store_new(c);
		r->lease_seconds = recharge_lease_seconds(c);
	}
	if (r == NULL || r->stripe == NULL || r->db == NULL) {
		log_error("auto-recharge sender not started: out of memory");
		recharge_sender_free(r);
		return NULL;
	}
	return r;
}

void recharge_sender_free(struct recharge_sender *r)
{
	if (r == NULL)
		return;
	store_free(r->db);
	stripe_client_free(r->stripe);
	free(r);
}

/* Sends or fetches each claimed charge of due[0..n), adding to *counts. */
static void charges_round(struct recharge_sender *r, const struct ledger_recharge *due, int n, atomic_int *stopping,
			  struct recharge_counts *counts)
{
	for (int i = 0; i < n && !atomic_load(stopping); i++) {
		struct recharge_sent sent;
		if (due[i].payment_intent[0] != '\0') {
			recharge_fetch(r->cfg, r->stripe, r->db, &due[i]);
			counts->fetched++;
			continue;
		}
		recharge_send(r->cfg, r->stripe, r->db, &due[i], &sent);
		if (sent.held)
			counts->held++;
		else if (sent.recorded && (sent.outcome == RECHARGE_PAID || sent.outcome == RECHARGE_SENT))
			counts->sent++;
		else
			counts->failed++;
		counts->db_failed += sent.db_failed;
	}
}

int recharge_round(struct recharge_sender *r, atomic_int *stopping, struct recharge_counts *counts)
{
	struct ledger_recharge due[LIMIT_RECHARGE_BATCH];
	struct ledger_cancel cancels[LIMIT_RECHARGE_BATCH];
	int n = 0, m = 0;
	enum cd_err rc = ledger_recharges_claim(r->db, due, LIMIT_RECHARGE_BATCH, r->lease_seconds, &n);
	charges_round(r, due, n, stopping, counts);
	/* Then the tries another try's payment made needless: an open
	 * PaymentIntent may still charge the card. */
	if (rc == CD_OK)
		rc = ledger_payg_cancels_claim(r->db, cancels, LIMIT_RECHARGE_BATCH, r->lease_seconds, &m);
	for (int i = 0; i < m && !atomic_load(stopping); i++) {
		recharge_cancel(r->cfg, r->stripe, r->db, &cancels[i]);
		counts->cancelled++;
	}
	return rc != CD_OK ? -1 : n + m;
}

const char *recharge_sender_error(const struct recharge_sender *r)
{
	return store_errmsg(r->db);
}

void recharge_run(const struct cfg *c, atomic_int *stopping)
{
	struct recharge_sender *r = recharge_sender_new(c);
	struct recharge_counts counts = {0, 0, 0, 0, 0, 0};
	if (r == NULL)
		return;
	while (!atomic_load(stopping)) {
		int n = recharge_round(r, stopping, &counts);
		if (n <= 0)
			sleep_ms(n < 0 ? 1000 : 250);
	}
	recharge_sender_free(r);
}
