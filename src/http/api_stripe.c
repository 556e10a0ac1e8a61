/* api_stripe.c: top-ups through Stripe Checkout and the Stripe webhook.
 *
 * The webhook's signature is checked over the raw body before anything
 * parses it; the effect is committed before the 2xx goes out, so a failed
 * commit makes Stripe retry. A top-up validates its body before it looks at
 * whether Stripe is configured, is recorded (and counted toward
 * stripe.topups_per_hour) before anything is sent to Stripe, and is marked
 * failed, never left pending nor forgotten, when Stripe fails. */
#include "api.h"
#include "config.h"
#include "keys.h"
#include "ledger.h"
#include "ledger_config.h"
#include "log.h"
#include "metrics.h"
#include "stripe.h"
#include "stripe_config.h"
#include "timefmt.h"
#include "webhook.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct jfield topup_fields[] = {
	{"amount_cents", J_INT, 1, 0, 0, INT64_MAX / 2, NULL},
	{"success_url", J_STR, 0, 1, 1, LIMIT_URL_BYTES, NULL},
	{"cancel_url", J_STR, 0, 1, 1, LIMIT_URL_BYTES, NULL},
	{"save_card", J_BOOL, 0, 0, 0, 0, NULL},
	{"idempotency_key", J_STR, 0, 0, 1, LIMIT_IDEMPOTENCY_KEY_BYTES, NULL},
	{NULL, J_INT, 0, 0, 0, 0, NULL},
};

static int topup_check(const struct stripe_config *s, json_t *body, struct response *rs)
{
	int64_t cents = jsonio_int(body, "amount_cents", 0);
	const char *urls[2] = {jsonio_str(body, "success_url"), jsonio_str(body, "cancel_url")};
	const char *names[2] = {"success_url", "cancel_url"};
	if (cents < s->topup_min_cents || cents > s->topup_max_cents) {
		api_error(rs, CD_E_INVALID, "amount_cents", "amount_cents must be between %lld and %lld",
			  (long long)s->topup_min_cents, (long long)s->topup_max_cents);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (urls[i] != NULL && !stripe_config_redirect_allowed(s, urls[i])) {
			api_error(rs, CD_E_INVALID, names[i], "%s must be an http(s) URL on an allowed origin "
				  "(stripe.allowed_redirect_origins)", names[i]);
			return -1;
		}
	}
	return 0;
}

static int stripe_failed(struct response *rs, enum stripe_status st, const struct stripe_result *res)
{
	if (st == STRIPE_OK)
		return 0;
	log_warn("stripe call failed (%d, HTTP %d): %s", (int)st, res->http_status, res->message);
	api_error(rs, CD_E_UPSTREAM, NULL, "Stripe: %s", res->message[0] ? res->message : "request failed");
	return 1;
}

/* A session's idempotency key comes from the client's Idempotency-Key, so
 * Stripe's idempotency_error is the client's conflict, not Stripe failing. */
static int session_failed(struct response *rs, enum stripe_status st, const struct stripe_result *res)
{
	if (st != STRIPE_ERR_IDEMPOTENCY)
		return stripe_failed(rs, st, res);
	if (res->http_status == 409)
		api_error(rs, CD_E_CONFLICT, "idempotency_key", "a top-up with this Idempotency-Key is in progress");
	else
		api_error(rs, CD_E_CONFLICT, "idempotency_key", "this Idempotency-Key was used with another request");
	return 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Creates the account's customer. Concurrent top-ups of a new account
 * send the same key: Stripe answers 409 while the first is in flight and
 * replays its customer after, so a 409 is waited out (bounded). */
static enum stripe_status create_customer(struct api_ctx *ctx, const struct topup_begin *t,
					  struct stripe_result *res)
{
	unsigned char hash[32];
	char hex[65], key[96 + LIMIT_KEY_SALT_BYTES];
	enum stripe_status st;
	/* The account's row id alone repeats across databases that share one
	 * Stripe account (staging, a re-created database) within Stripe's
	 * 24 h key memory; with the external id a repeat is the same customer. */
	keys_sha256(t->account, strlen(t->account), hash);
	keys_hex(hash, hex);
	snprintf(key, sizeof(key), "creditd-customer-%s-%" PRId64 "-%.16s", stripe_config_of(ctx->cfg)->key_salt,
		 t->account_internal_id, hex);
	for (int attempt = 0;; attempt++) {
		memset(res, 0, sizeof(*res));
		st = stripe_create_customer(ctx->stripe, t->account, key, res);
		if (st != STRIPE_ERR_IDEMPOTENCY || res->http_status != 409 || attempt == LIMIT_STRIPE_BUSY_RETRIES)
			return st;
		sleep_ms((long)LIMIT_STRIPE_BUSY_WAIT_MS * (attempt + 1));
	}
}

/* Makes sure the account has a Stripe customer; 0 or -1 with rs filled. */
static int ensure_customer(struct api_ctx *ctx, struct topup_begin *t, struct response *rs)
{
	struct stripe_result res;
	if (t->customer[0] != '\0')
		return 0;
	if (stripe_failed(rs, create_customer(ctx, t, &res), &res))
		return -1;
	if (ledger_topup_set_customer(ctx->db, t->account, res.id, t->customer, sizeof(t->customer)) != CD_OK) {
		api_error(rs, CD_E_UNAVAILABLE, NULL, "could not record the Stripe customer");
		return -1;
	}
	return 0;
}

/* The key Stripe dedupes the session by. With the client's key (its
 * SHA-256, key_hash): the same key gives the same session, so a retry
 * after a failure creditd could not record is Stripe's replay, never a
 * second session; a key reused with another body never reaches Stripe
 * (ledger_topup_begin answers 409 first). Without one every top-up is
 * new; the random part keeps databases that share a Stripe account (and
 * so reuse top-up ids) from ever getting each other's sessions. */
static int idem_for_session(const struct stripe_config *s, const struct topup_begin *t, char *out, size_t cap)
{
	char hex[65];
	if (t->key_hash == NULL) {
		if (keys_random_hex(hex, 8) != 0)
			return -1;
		snprintf(out, cap, "creditd-topup-%s-%" PRId64 "-%s", s->key_salt, t->topup_id, hex);
		return 0;
	}
	keys_hex(t->key_hash, hex);
	snprintf(out, cap, "creditd-topup-%s-%" PRId64 "-%.40s", s->key_salt, t->account_internal_id, hex);
	return 0;
}

/* The answer of a ledger_topup_begin that refused (rc not CD_OK). */
static void begin_refused(const struct cfg *c, const struct topup_begin *t, enum cd_err rc, struct response *rs)
{
	if (rc == CD_E_RATE_LIMITED) {
		api_error(rs, rc, NULL, "stripe.topups_per_hour (%lld) top-ups started in the last hour: retry after %lld s",
			  (long long)ledger_config_of(c)->topups_per_hour, (long long)t->retry_after_seconds);
		json_object_set_new(json_object_get(rs->json, "error"), "retry_after_seconds",
				    json_integer((json_int_t)t->retry_after_seconds));
		rs->retry_after = (int)t->retry_after_seconds;
	} else if (rc == CD_E_CONFLICT && t->busy) {
		api_error(rs, rc, "idempotency_key", "a top-up with this Idempotency-Key is in progress");
	} else if (rc == CD_E_CONFLICT) {
		api_error(rs, rc, "idempotency_key", "this Idempotency-Key was used with another request");
	} else {
		api_fail(rs, rc, "account");
	}
}

/* 200 with the session: a new one, or (replayed) the key's. */
static void topup_answer(const struct cfg *c, const struct topup_begin *t, const char *session_id, const char *url,
			 struct response *rs)
{
	api_json(rs, 200, json_pack("{s:s, s:s, s:I, s:s, s:I}", "checkout_url", url, "session_id", session_id,
				     "amount_cents", (json_int_t)t->amount_cents, "currency",
				     ledger_config_of(c)->stripe_currency, "credits_micros", (json_int_t)t->quoted_micros));
}

/* Opens the Checkout Session of the recorded top-up t: 0 with the answer
 * in rs, or -1 with the error in rs (the caller marks t failed). */
static int open_session(struct api_ctx *ctx, json_t *body, struct topup_begin *t, struct response *rs)
{
	const struct cfg *c = ctx->cfg;
	const struct stripe_config *s = stripe_config_of(c);
	struct stripe_result res;
	char key[96 + LIMIT_KEY_SALT_BYTES];
	if (ensure_customer(ctx, t, rs) != 0)
		return -1;
	struct stripe_checkout co = {t->customer, t->account, t->amount_cents, ledger_config_of(c)->stripe_currency,
				     s->product_name, jsonio_str(body, "success_url"), jsonio_str(body, "cancel_url"),
				     jsonio_bool(body, "save_card", 0), s->invoice_topups};
	if (co.success_url == NULL)
		co.success_url = s->success_url;
	if (co.cancel_url == NULL)
		co.cancel_url = s->cancel_url;
	if (idem_for_session(s, t, key, sizeof(key)) != 0) {
		api_error(rs, CD_E_INTERNAL, NULL, "no randomness for the Stripe idempotency key");
		return -1;
	}
	memset(&res, 0, sizeof(res));
	if (session_failed(rs, stripe_create_checkout(ctx->stripe, &co, key, &res), &res))
		return -1;
	if (ledger_topup_opened(ctx->db, t->topup_id, res.id, res.url) != CD_OK) {
		api_error(rs, CD_E_UNAVAILABLE, NULL, "could not record the checkout session");
		return -1;
	}
	topup_answer(c, t, res.id, res.url, rs);
	return 0;
}

void api_topup(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	if (api_check_account_id(params[0], "id", rs) == 0)
		api_topup_of(ctx, rq, params[0], rs);
}

/* Every attempt that may reach Stripe is recorded (and counted) first;
 * one that opens no session stays recorded, failed (docs/decisions.md, "Top-ups per hour"). */
void api_topup_of(struct api_ctx *ctx, const struct request *rq, const char *account, struct response *rs)
{
	const struct cfg *c = ctx->cfg;
	struct topup_begin t;
	const char *client_key;
	unsigned char key_hash[KEYS_HASH_LEN], request_hash[KEYS_HASH_LEN];
	json_t *body = api_body(rq, topup_fields, rs);
	if (body == NULL)
		return;
	if (topup_check(stripe_config_of(c), body, rs) != 0 || api_idem_key(rq, body, &client_key, rs) != 0)
		goto out;
	if (stripe_config_of(c)->secret_key[0] == '\0' || ctx->stripe == NULL) {
		api_error(rs, CD_E_STRIPE_OFF, NULL, "top-ups need stripe.secret_key (or CREDITD_STRIPE_SECRET_KEY)");
		goto out;
	}
	memset(&t, 0, sizeof(t));
	t.account = account;
	t.amount_cents = jsonio_int(body, "amount_cents", 0);
	if (client_key != NULL) {
		keys_sha256(client_key, strlen(client_key), key_hash);
		t.key_hash = key_hash;
	}
	api_request_hash(rq, request_hash);
	t.request_hash = request_hash;
	snprintf(rs->account, sizeof(rs->account), "%s", account);
	enum cd_err rc = ledger_topup_begin(ctx->db, &t);
	if (rc != CD_OK)
		begin_refused(c, &t, rc, rs);
	else if (t.replayed)
		topup_answer(c, &t, t.session_id, t.checkout_url, rs);
	else if (open_session(ctx, body, &t, rs) != 0)
		ledger_topup_opened(ctx->db, t.topup_id, NULL, NULL);
out:
	json_decref(body);
}

void api_webhook(struct api_ctx *ctx, const struct request *rq, char **params, struct response *rs)
{
	const struct stripe_config *s = stripe_config_of(ctx->cfg);
	struct ledger_news ev;
	char err[256];
	const char *outcome = "ignored";
	if (s->webhook_secret_count == 0) {
		api_error(rs, CD_E_STRIPE_OFF, NULL, "webhooks need stripe.webhook_secrets");
		return;
	}
	enum webhook_sig sig = webhook_verify(rq->stripe_signature, rq->body, rq->body_len,
					      (const char *const *)s->webhook_secrets, s->webhook_secret_count,
					      (time_t)timefmt_now(), s->webhook_tolerance_seconds);
	if (sig != WEBHOOK_SIG_OK) {
		metrics_webhook_signature_failure();
		api_error(rs, CD_E_INVALID, "Stripe-Signature", "bad Stripe-Signature: %s", webhook_sig_strerror(sig));
		return;
	}
	if (webhook_parse_event(rq->body, rq->body_len, &ev, err, sizeof(err)) != 0) {
		api_error(rs, CD_E_INVALID, NULL, "not a Stripe event: %s", err);
		return;
	}
	enum cd_err rc = ledger_news_apply(ctx->db, &ev, &outcome);
	if (rc != CD_OK) {
		api_fail(rs, rc, "event");
		return;
	}
	snprintf(rs->account, sizeof(rs->account), "%s", ev.account);
	log_info("stripe event %s (%s): %s", ev.id, ev.type, outcome);
	api_json(rs, 200, json_pack("{s:b, s:s, s:s}", "received", 1, "id", ev.id, "outcome", outcome));
}
