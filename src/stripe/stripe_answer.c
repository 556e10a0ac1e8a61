/* stripe_answer.c: Stripe's answer to one call read into a struct
 * stripe_result (stripe_answer.h): a success's id (and checkout url,
 * status, amount received, currency, payment error), an error's message,
 * type and the PaymentIntent it names; text copied whole-character and
 * without controls, ids held to Stripe's shape. Pure (no curl); apart
 * from stripe.c, which makes the call. */
#include "stripe_answer.h"
#include "stripe_check.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Copies src into dst (cap >= 1) without ever cutting a UTF-8 sequence in
 * half, and with control characters turned into spaces, so that the text
 * can go into a JSON answer and a log line as it is. */
static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src), i;

	if (n > cap - 1) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	dst[n] = '\0';
}

__attribute__((format(printf, 3, 4)))
enum stripe_status stripe_answer_fail(struct stripe_result *out, enum stripe_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
	return st;
}

void stripe_answer_init(struct stripe_result *out)
{
	memset(out, 0, sizeof(*out));
	out->amount_received = -1;
}

/* 1 when id looks like a Stripe object id ("cus_...", "cs_test_..."). */
int stripe_answer_id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n >= sizeof(((struct stripe_result *)0)->id))
		return 0;
	for (i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_'))
			return 0;
	}
	return 1;
}

static enum stripe_status take_success(json_t *root, long code, int want_url, struct stripe_result *out)
{
	const char *id, *url;

	if (!json_is_object(root))
		return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe answered HTTP %ld with a body that is not a JSON object",
			    code);
	id = json_string_value(json_object_get(root, "id"));
	if (id == NULL || !stripe_answer_id_ok(id))
		return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe answered HTTP %ld without a usable id", code);
	if (want_url) {
		url = json_string_value(json_object_get(root, "url"));
		if (url == NULL || strncmp(url, "https://", 8) != 0 || !stripe_check_visible(url) ||
		    strlen(url) >= sizeof(out->url))
			return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT,
				    "Stripe answered HTTP %ld without a usable checkout url", code);
		memcpy(out->url, url, strlen(url) + 1);
	}
	memcpy(out->id, id, strlen(id) + 1);
	const char *status = json_string_value(json_object_get(root, "status"));
	if (status != NULL && strlen(status) < sizeof(out->status) && stripe_check_visible(status))
		memcpy(out->status, status, strlen(status) + 1);
	json_t *received = json_object_get(root, "amount_received");
	out->amount_received = json_is_integer(received) ? (int64_t)json_integer_value(received) : -1;
	const char *currency = json_string_value(json_object_get(root, "currency"));
	if (currency != NULL && strlen(currency) < sizeof(out->currency) && stripe_check_visible(currency))
		memcpy(out->currency, currency, strlen(currency) + 1);
	const char *why = json_string_value(json_object_get(json_object_get(root, "last_payment_error"), "message"));
	if (why != NULL)
		copy_text(out->payment_error, sizeof(out->payment_error), why);
	return STRIPE_OK;
}

/* The PaymentIntent an error names (Stripe's error.payment_intent, on
 * errors of a request about one: a declined confirmation, a cancel of one
 * that succeeded): its id and status into out, when usable. A declined
 * off-session charge still made a PaymentIntent, open at Stripe, and the
 * caller must know it (docs/pay-as-you-go.md: it is cancelled once another try paid). */
static void take_error_intent(json_t *err, struct stripe_result *out)
{
	json_t *pi = json_object_get(err, "payment_intent");
	const char *id = json_string_value(json_object_get(pi, "id"));
	const char *status = json_string_value(json_object_get(pi, "status"));

	if (id == NULL || strncmp(id, "pi_", 3) != 0 || !stripe_answer_id_ok(id))
		return;
	memcpy(out->id, id, strlen(id) + 1);
	if (status != NULL && strlen(status) < sizeof(out->status) && stripe_check_visible(status))
		memcpy(out->status, status, strlen(status) + 1);
}

/* An idempotency_error is told apart: the caller may retry a key that is
 * in flight, and must not retry one used with other parameters. */
static enum stripe_status take_error(json_t *root, long code, struct stripe_result *out)
{
	json_t *err = json_object_get(root, "error");
	const char *msg, *type;
	enum stripe_status st;

	if (!json_is_object(err))
		return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe answered HTTP %ld without an error object", code);
	take_error_intent(err, out);
	msg = json_string_value(json_object_get(err, "message"));
	type = json_string_value(json_object_get(err, "type"));
	st = type != NULL && strcmp(type, "idempotency_error") == 0 ? STRIPE_ERR_IDEMPOTENCY : STRIPE_ERR_API;
	if (msg != NULL && msg[0] != '\0')
		copy_text(out->message, sizeof(out->message), msg);
	else if (type != NULL)
		stripe_answer_fail(out, st, "Stripe answered HTTP %ld with an error of type %.64s", code, type);
	else
		stripe_answer_fail(out, st, "Stripe answered HTTP %ld with an error", code);
	return st;
}

enum stripe_status stripe_answer_read(const char *body, size_t len, long code, int want_url,
				      struct stripe_result *out)
{
	json_error_t jerr;
	json_t *root;
	enum stripe_status st;

	root = json_loadb(body, len, 0, &jerr);
	if (root == NULL) {
		st = stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe answered HTTP %ld with a body that is not JSON", code);
		goto out;
	}
	if (code >= 200 && code <= 299)
		st = take_success(root, code, want_url, out);
	else
		st = take_error(root, code, out);
out:
	json_decref(root);
	return st;
}
