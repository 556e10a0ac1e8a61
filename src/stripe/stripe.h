/* stripe.h: outbound HTTP: the Stripe API client, and the push of
 * creditd's own events (stripe_push); the only code in creditd that uses
 * libcurl.
 *
 * One client per worker thread (it owns a CURL handle and a growable
 * buffer, both capped); never shared between threads. It form-encodes
 * Stripe's nested parameters (stripe_form.c), sends every POST with an
 * Idempotency-Key (a GET with none), sets every curl option explicitly
 * (timeouts, TLS verification, protocols) and turns Stripe's error JSON
 * into a message the API passes on in a 502. */
#ifndef CREDITD_STRIPE_H
#define CREDITD_STRIPE_H
#include <stddef.h>
#include <stdint.h>
#include "dynbuf.h"
#include "limits.h"

struct stripe_settings {
	const char *api_base;		/* e.g. "https://api.stripe.com" (no trailing slash needed) */
	const char *secret_key;		/* "sk_..." */
	long connect_timeout_ms;
	long timeout_ms;
};

enum stripe_status {
	STRIPE_OK = 0,
	STRIPE_ERR_API,		/* Stripe answered with an error; message holds Stripe's message */
	STRIPE_ERR_TRANSPORT,	/* connect/timeout/closed connection/bad JSON */
	STRIPE_ERR_CONFIG,	/* no secret key, or the api base is not allowed */
	STRIPE_ERR_IDEMPOTENCY	/* Stripe's idempotency_error: the key is in use by a request still in
				 * flight (http_status 409, retry later) or was used with other
				 * parameters (400); message holds Stripe's message */
};

/* An application/x-www-form-urlencoded body, capped at STRIPE_FORM_MAX
 * (buf.failed is set when an add would pass it). */
struct stripe_form {
	struct dynbuf buf;
};
#define STRIPE_FORM_MAX (64 * 1024)

void stripe_form_init(struct stripe_form *f);
/* Appends "key=value" (both percent-escaped except unreserved characters;
 * brackets in keys are escaped as Stripe's own clients do) with '&' between
 * pairs. Returns 0, or -1 when the cap would be exceeded. */
int stripe_form_add(struct stripe_form *f, const char *key, const char *value);
void stripe_form_free(struct stripe_form *f);

/* Initialises libcurl once, before any thread starts (not thread-safe).
 * 0 or -1. */
int stripe_global_init(void);
/* Releases what stripe_global_init took, once, after every client is
 * freed and every thread that could make one has ended (not thread-safe). */
void stripe_global_cleanup(void);

struct stripe_client;

/* Returns a new client or NULL on allocation failure. The settings strings
 * are copied. Free with stripe_client_free. */
struct stripe_client *stripe_client_new(const struct stripe_settings *s);
void stripe_client_free(struct stripe_client *c);

/* Result of a create call. */
struct stripe_result {
	int http_status;		/* 0 when no HTTP answer came */
	char id[LIMIT_STRIPE_ID_BYTES + 1];	/* "cus_..." or "cs_..." on success; on an error, the
						 * PaymentIntent Stripe's error names ("" none) */
	char url[LIMIT_CHECKOUT_URL_BYTES + 1];	/* checkout URL on success (sessions) */
	char message[512];		/* Stripe's error message or a transport error sentence */
	char status[32];		/* the object's "status" on success ("succeeded" for a paid
					 * PaymentIntent), or that of the PaymentIntent an error
					 * names; "" when it has none */
	int64_t amount_received;	/* a PaymentIntent's, -1 when absent */
	char currency[16];		/* the object's "currency", "" when it has none */
	char payment_error[256];	/* a PaymentIntent's last_payment_error.message, "" when none */
};

/* POST /v1/customers with metadata[account]=account_id. */
enum stripe_status stripe_create_customer(struct stripe_client *c, const char *account_id,
					  const char *idempotency_key, struct stripe_result *out);

struct stripe_checkout {
	const char *customer;		/* "cus_..." */
	const char *account_id;		/* metadata[account] and client_reference_id */
	int64_t amount_cents;		/* unit_amount, quantity 1; also metadata[amount_cents] */
	const char *currency;		/* lower-case ISO code, e.g. "eur" */
	const char *product_name;
	const char *success_url;
	const char *cancel_url;
	int save_card;			/* keep the card for off-session charges (auto-recharge) */
	int invoice;			/* invoice_creation[enabled]=true: Stripe makes an invoice of it */
};

/* POST /v1/checkout/sessions mode=payment with line_items[0][price_data]... */
enum stripe_status stripe_create_checkout(struct stripe_client *c, const struct stripe_checkout *req,
					  const char *idempotency_key, struct stripe_result *out);
/* An off-session charge of a saved card (auto-recharge). */
struct stripe_payment {
	const char *customer;		/* "cus_..." */
	const char *payment_method;	/* "pm_..." saved off-session */
	const char *account_id;		/* metadata[account] */
	int64_t recharge_id;		/* metadata[recharge] (an auto-recharge's) */
	int64_t amount_cents;
	const char *currency;		/* lower-case ISO code */
	const char *period;		/* NULL for an auto-recharge; a pay-as-you-go
					 * collection's month, "YYYY-MM": metadata[period] */
};
/* POST /v1/payment_intents confirm=true off_session=true with
 * metadata[type]=auto_recharge and metadata[recharge], or (period set)
 * metadata[type]=payg_collection and metadata[period]; out->id is the
 * PaymentIntent. A declined card is STRIPE_ERR_API with http_status 402
 * and Stripe's message, and out->id the PaymentIntent it made (open at
 * Stripe, requires_payment_method) when Stripe's error names it. */
enum stripe_status stripe_create_payment_intent(struct stripe_client *c, const struct stripe_payment *req,
						const char *idempotency_key, struct stripe_result *out);
/* GET /v1/payment_intents/{id} (no body, no Idempotency-Key): what became
 * of a PaymentIntent creditd made, in out->status ("succeeded",
 * "processing", "requires_payment_method", "canceled", ...),
 * amount_received, currency and payment_error. id must be a "pi_" id
 * (STRIPE_ERR_CONFIG, nothing sent, otherwise). One that Stripe does not
 * know (or another account's) is STRIPE_ERR_API with http_status 404. */
enum stripe_status stripe_get_payment_intent(struct stripe_client *c, const char *id, struct stripe_result *out);
/* POST /v1/payment_intents/{id}/cancel with cancellation_reason=duplicate and
 * idempotency_key: a collection's try that another try's payment made
 * needless (docs/pay-as-you-go.md, "When the card is refused"). STRIPE_OK:
 * out->status "canceled". One that cannot be cancelled (it succeeded, or was
 * cancelled already) is STRIPE_ERR_API with http_status 400, Stripe's
 * message, and the PaymentIntent's status in out->status when Stripe's error
 * names it. id must be a "pi_" id (STRIPE_ERR_CONFIG, nothing sent,
 * otherwise). */
enum stripe_status stripe_cancel_payment_intent(struct stripe_client *c, const char *id, const char *idempotency_key,
						struct stripe_result *out);
/* POSTs a JSON body to url (https, or http on a loopback address, as for
 * the api base) with one extra header line ("Name: value"), with the
 * client's timeouts; c's api base and key are not used. *http_status: the
 * answer's status (0: none). STRIPE_OK when an answer came, whatever its
 * status; STRIPE_ERR_TRANSPORT (message in out) when none did. */
enum stripe_status stripe_push(struct stripe_client *c, const char *url, const char *body, const char *header,
			       struct stripe_result *out);
#endif
