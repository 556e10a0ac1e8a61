/* stripe.c: the Stripe HTTP client declared in stripe.h, and the only code
 * in creditd that uses libcurl.
 *
 * Owns (form encoding is stripe_form.c's, the settings' checks
 * stripe_check.c's, an answer read into a result stripe_answer.c's): one CURL handle per
 * client (one client per worker thread), reused with curl_easy_reset so
 * that connections to Stripe stay open; setting every curl option
 * explicitly on every request; turning Stripe's JSON answer (or the lack
 * of one) into a struct stripe_result.
 *
 * Never: shares a client between threads; follows redirects; speaks plain
 * http to anything but a loopback address (the test stand-in); buffers more
 * than STRIPE_RESPONSE_MAX of an answer; logs, copies into a result or
 * leaves in freed memory the secret key; truncates an id.
 *
 * Why: a top-up moves money and carries the secret key. A mistyped base
 * URL, a redirect, a proxy in the middle or a runaway answer must fail
 * closed with a sentence the API can pass on in a 502, never leak the key
 * or grow memory without bound.
 *
 * curl_global_init() and curl_global_cleanup() are not thread-safe, so
 * they run only through stripe_global_init() and stripe_global_cleanup():
 * the daemon's main() calls the first once before any worker thread (or
 * client) exists, and the second at exit once every thread is gone. Unit
 * tests call curl's pair themselves the same way. */
#include "stripe.h"
#include "stripe_answer.h"
#include "stripe_check.h"
#include "metrics.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <assert.h>
#include <string.h>
#include <strings.h>

#include "limits.h"

/* Stripe's answers to our calls are a few KiB; anything past this is
 * not Stripe and is refused as a transport error. */
#define STRIPE_RESPONSE_MAX (256 * 1024)
#define STRIPE_USER_AGENT "creditd/" PACKAGE_VERSION	/* the build's version (configure.ac) */

struct stripe_client {
	CURL *curl;
	char *api_base;		/* copied, trailing slashes removed */
	char *secret_key;	/* copied; wiped on free */
	long connect_timeout_ms;
	long timeout_ms;
	enum stripe_base_kind base_kind;
	struct dynbuf resp;		/* the answer, capped at STRIPE_RESPONSE_MAX */
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- client ------------------------------------------------------------- */

struct stripe_client *stripe_client_new(const struct stripe_settings *s)
{
	struct stripe_client *c = NULL;
	int ok = 0;
	size_t n;

	if (s == NULL)
		goto out;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto out;
	dynbuf_init(&c->resp, STRIPE_RESPONSE_MAX);
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		goto out;
	c->api_base = strdup(s->api_base != NULL ? s->api_base : "");
	c->secret_key = strdup(s->secret_key != NULL ? s->secret_key : "");
	if (c->api_base == NULL || c->secret_key == NULL)
		goto out;
	n = strlen(c->api_base);
	while (n > 0 && c->api_base[n - 1] == '/')
		c->api_base[--n] = '\0';
	c->connect_timeout_ms = s->connect_timeout_ms;
	c->timeout_ms = s->timeout_ms;
	c->base_kind = stripe_check_base(c->api_base);
	ok = 1;
out:
	if (!ok) {
		stripe_client_free(c);
		c = NULL;
	}
	return c;
}

void stripe_client_free(struct stripe_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->secret_key != NULL) {
		explicit_bzero(c->secret_key, strlen(c->secret_key));
		free(c->secret_key);
	}
	free(c->api_base);
	dynbuf_free(&c->resp);
	free(c);
}

/* ---- one request -------------------------------------------------------- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct dynbuf *b = userdata;
	size_t n = size * nmemb;
	return dynbuf_add(b, ptr, n) == 0 ? n : 0;
}

/* Wipes the header lines (one of them holds the key) before freeing them. */
static void free_headers(struct curl_slist *h)
{
	struct curl_slist *p;

	for (p = h; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/* A POST's headers (idempotency_key set), or a GET's (NULL: no body, so
 * neither a Content-Type nor an Idempotency-Key, which Stripe ignores on
 * a GET). */
static struct curl_slist *build_headers(const struct stripe_client *c, const char *idempotency_key)
{
	static const char *const fixed[] = {
		"Accept: application/json",
		"Expect:",	/* no 100-continue round trip */
		"Content-Type: application/x-www-form-urlencoded",
	};
	struct curl_slist *h = NULL, *next;
	char line[STRIPE_KEY_MAX + LIMIT_IDEMPOTENCY_KEY_BYTES + 64];
	size_t i, nfixed = sizeof(fixed) / sizeof(fixed[0]) - (idempotency_key == NULL);
	int ok = 0;

	snprintf(line, sizeof(line), "Authorization: Bearer %s", c->secret_key);
	next = curl_slist_append(h, line);
	explicit_bzero(line, sizeof(line));
	if (next == NULL)
		goto out;
	h = next;
	if (idempotency_key != NULL) {
		snprintf(line, sizeof(line), "Idempotency-Key: %s", idempotency_key);
		next = curl_slist_append(h, line);
		if (next == NULL)
			goto out;
		h = next;
	}
	for (i = 0; i < nfixed; i++) {
		next = curl_slist_append(h, fixed[i]);
		if (next == NULL)
			goto out;
		h = next;
	}
	ok = 1;
out:
	if (!ok) {
		free_headers(h);
		h = NULL;
	}
	return h;
}

/* Timeouts, TLS, protocols, redirects, proxies, identity. */
static CURLcode set_transport_options(struct stripe_client *c)
{
	CURL *h = c->curl;
	const char *protos = c->base_kind == STRIPE_BASE_LOOPBACK_HTTP ? "http,https" : "https";
	CURLcode rc;

	rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protos);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_MAXREDIRS, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_USERAGENT, STRIPE_USER_AGENT);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_FAILONERROR, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)STRIPE_RESPONSE_MAX);
	/* The loopback stand-in is never reached through an http_proxy from
	 * the environment; Stripe itself may be (egress proxies), over TLS. */
	if (rc == CURLE_OK && c->base_kind == STRIPE_BASE_LOOPBACK_HTTP)
		rc = curl_easy_setopt(h, CURLOPT_PROXY, "");
	return rc;
}

/* form NULL: a GET. */
static CURLcode set_request_options(struct stripe_client *c, const char *url, const struct stripe_form *form,
				    struct curl_slist *headers)
{
	CURL *h = c->curl;
	CURLcode rc;

	rc = curl_easy_setopt(h, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	if (rc == CURLE_OK && form == NULL)
		rc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (rc == CURLE_OK && form != NULL)
		rc = curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (rc == CURLE_OK && form != NULL)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, form->buf.data != NULL ? form->buf.data : "");
	if (rc == CURLE_OK && form != NULL)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form->buf.len);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->resp);
	return rc;
}

/* A POST needs its idempotency_key; a GET (post 0) has none. */
static enum stripe_status check_call(const struct stripe_client *c, int post, const char *idempotency_key,
				     struct stripe_result *out)
{
	if (c->base_kind == STRIPE_BASE_BAD)
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG,
			    "the Stripe api base must be an https URL (or http on a loopback address)");
	if (!stripe_check_key(c->secret_key))
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG, "no usable Stripe secret key is configured");
	if (c->connect_timeout_ms <= 0 || c->timeout_ms <= 0)
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the Stripe timeouts must be positive");
	if (post && !stripe_check_idempotency_key(idempotency_key))
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the idempotency key is empty, too long or not printable");
	return STRIPE_OK;
}

static enum stripe_status transport_failure(struct stripe_client *c, CURLcode rc, struct stripe_result *out)
{
	if (c->resp.failed || rc == CURLE_FILESIZE_EXCEEDED)
		return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe's answer is larger than %d KiB (or memory ran out)",
			    STRIPE_RESPONSE_MAX / 1024);
	if (c->errbuf[0] != '\0')
		return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe request failed: %s (%s)", curl_easy_strerror(rc),
			    c->errbuf);
	return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe request failed: %s", curl_easy_strerror(rc));
}

/* POSTs form to base + path with idempotency_key, or GETs it (form and
 * idempotency_key NULL), and fills out. want_url: the answer must carry
 * a checkout url. */
static enum stripe_status stripe_call(struct stripe_client *c, const char *path, const struct stripe_form *form,
				      const char *idempotency_key, int want_url, struct stripe_result *out)
{
	struct curl_slist *headers = NULL;
	char url[STRIPE_BASE_MAX + 64];
	enum stripe_status st;
	CURLcode rc;
	long code = 0;

	st = check_call(c, form != NULL, idempotency_key, out);
	if (st != STRIPE_OK)
		goto out;
	snprintf(url, sizeof(url), "%s%s", c->api_base, path);
	headers = build_headers(c, form != NULL ? idempotency_key : NULL);
	if (headers == NULL) {
		st = stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "out of memory building the Stripe request");
		goto out;
	}
	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	dynbuf_reset(&c->resp);
	rc = set_transport_options(c);
	if (rc == CURLE_OK)
		rc = set_request_options(c, url, form, headers);
	if (rc != CURLE_OK) {
		st = stripe_answer_fail(out, STRIPE_ERR_CONFIG, "libcurl refused an option: %s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(c->curl);
	if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
		out->http_status = (int)code;
	if (rc != CURLE_OK)
		st = transport_failure(c, rc, out);
	else
		st = stripe_answer_read(c->resp.data != NULL ? c->resp.data : "", c->resp.len, code, want_url, out);
	if (st == STRIPE_ERR_TRANSPORT || st == STRIPE_ERR_API || st == STRIPE_ERR_IDEMPOTENCY)
		metrics_stripe_failure(path, st == STRIPE_ERR_TRANSPORT);
out:
	if (c->curl != NULL)
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	free_headers(headers);
	return st;
}

/* ---- the auto-recharge charge --------------------------------------------- */

enum stripe_status stripe_create_payment_intent(struct stripe_client *c, const struct stripe_payment *req,
						const char *idempotency_key, struct stripe_result *out)
{
	struct stripe_form f;
	char amount[32], recharge[32];
	enum stripe_status st;
	int rc = 0;

	stripe_answer_init(out);
	if (c == NULL || req == NULL || req->customer == NULL || req->customer[0] == '\0' ||
	    req->payment_method == NULL || req->payment_method[0] == '\0' || req->amount_cents <= 0 ||
	    req->currency == NULL || req->currency[0] == '\0' || req->account_id == NULL)
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG, "no customer, saved card, amount or currency for the charge");
	stripe_form_init(&f);
	snprintf(amount, sizeof(amount), "%" PRId64, req->amount_cents);
	snprintf(recharge, sizeof(recharge), "%" PRId64, req->recharge_id);
	rc |= stripe_form_add(&f, "amount", amount);
	rc |= stripe_form_add(&f, "currency", req->currency);
	rc |= stripe_form_add(&f, "customer", req->customer);
	rc |= stripe_form_add(&f, "payment_method", req->payment_method);
	rc |= stripe_form_add(&f, "off_session", "true");
	rc |= stripe_form_add(&f, "confirm", "true");
	rc |= stripe_form_add(&f, "metadata[type]", req->period != NULL ? "payg_collection" : "auto_recharge");
	rc |= stripe_form_add(&f, "metadata[account]", req->account_id);
	if (req->period != NULL)
		rc |= stripe_form_add(&f, "metadata[period]", req->period);
	else
		rc |= stripe_form_add(&f, "metadata[recharge]", recharge);
	if (rc != 0)
		st = stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the payment parameters do not fit in a request");
	else
		st = stripe_call(c, "/v1/payment_intents", &f, idempotency_key, 0, out);
	stripe_form_free(&f);
	return st;
}

enum stripe_status stripe_get_payment_intent(struct stripe_client *c, const char *id, struct stripe_result *out)
{
	char path[LIMIT_STRIPE_ID_BYTES + 32];
	enum stripe_status st;

	stripe_answer_init(out);
	if (c == NULL || id == NULL || strncmp(id, "pi_", 3) != 0 || !stripe_answer_id_ok(id))
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG, "not a PaymentIntent id");
	snprintf(path, sizeof(path), "/v1/payment_intents/%s", id);
	st = stripe_call(c, path, NULL, NULL, 0, out);
	/* What is applied must be the PaymentIntent asked for. */
	if (st == STRIPE_OK && strcmp(out->id, id) != 0)
		st = stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe answered with another object than %s", id);
	return st;
}

enum stripe_status stripe_cancel_payment_intent(struct stripe_client *c, const char *id, const char *idempotency_key,
						struct stripe_result *out)
{
	char path[LIMIT_STRIPE_ID_BYTES + 32];
	struct stripe_form f;
	enum stripe_status st;

	stripe_answer_init(out);
	if (c == NULL || id == NULL || strncmp(id, "pi_", 3) != 0 || !stripe_answer_id_ok(id))
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG, "not a PaymentIntent id");
	snprintf(path, sizeof(path), "/v1/payment_intents/%s/cancel", id);
	stripe_form_init(&f);
	/* Another try of the same collection paid it: this one would be a
	 * second payment of the same debt. */
	if (stripe_form_add(&f, "cancellation_reason", "duplicate") != 0)
		st = stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the cancel parameters do not fit in a request");
	else
		st = stripe_call(c, path, &f, idempotency_key, 0, out);
	stripe_form_free(&f);
	if (st == STRIPE_OK && strcmp(out->id, id) != 0)
		st = stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "Stripe answered with another object than %s", id);
	return st;
}

/* ---- the event push ----------------------------------------------------- */

enum stripe_status stripe_push(struct stripe_client *c, const char *url, const char *body, const char *header,
			       struct stripe_result *out)
{
	struct curl_slist *headers = NULL, *next;
	struct stripe_form form;
	enum stripe_status st = STRIPE_OK;
	CURLcode rc;
	long code = 0;

	stripe_answer_init(out);
	if (stripe_check_base(url) == STRIPE_BASE_BAD)
		return stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the notify url must be https (or http on a loopback address)");
	headers = curl_slist_append(NULL, "Content-Type: application/json");
	next = headers != NULL ? curl_slist_append(headers, header) : NULL;
	if (next == NULL) {
		free_headers(headers);
		return stripe_answer_fail(out, STRIPE_ERR_TRANSPORT, "out of memory building the event push");
	}
	headers = next;
	stripe_form_init(&form);
	dynbuf_add(&form.buf, body, strlen(body));
	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	dynbuf_reset(&c->resp);
	rc = form.buf.failed ? CURLE_OUT_OF_MEMORY : set_transport_options(c);
	if (rc == CURLE_OK)
		rc = set_request_options(c, url, &form, headers);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(c->curl);
	if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
		out->http_status = (int)code;
	/* The answer's body is not read for meaning: a body past the cap is
	 * still an answer. */
	if (rc != CURLE_OK && !(rc == CURLE_FILESIZE_EXCEEDED && code > 0) && !(c->resp.failed && code > 0))
		st = transport_failure(c, rc, out);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	free_headers(headers);
	stripe_form_free(&form);
	return st;
}

/* ---- the two calls ------------------------------------------------------ */

enum stripe_status stripe_create_customer(struct stripe_client *c, const char *account_id,
					  const char *idempotency_key, struct stripe_result *out)
{
	struct stripe_form f;
	char description[LIMIT_ACCOUNT_ID_BYTES + 32];
	enum stripe_status st;
	int rc = 0;

	stripe_form_init(&f);
	if (out == NULL) {
		st = STRIPE_ERR_CONFIG;
		goto out;
	}
	stripe_answer_init(out);
	if (c == NULL || account_id == NULL || account_id[0] == '\0' ||
	    strlen(account_id) > LIMIT_ACCOUNT_ID_BYTES) {
		st = stripe_answer_fail(out, STRIPE_ERR_CONFIG, "no client or no usable account id");
		goto out;
	}
	snprintf(description, sizeof(description), "creditd account %s", account_id);
	rc |= stripe_form_add(&f, "description", description);
	rc |= stripe_form_add(&f, "metadata[account]", account_id);
	if (rc != 0) {
		st = stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the customer parameters do not fit in a request");
		goto out;
	}
	st = stripe_call(c, "/v1/customers", &f, idempotency_key, 0, out);
out:
	stripe_form_free(&f);
	return st;
}

static int checkout_request_ok(const struct stripe_checkout *r)
{
	return r != NULL && r->customer != NULL && r->customer[0] != '\0' && r->account_id != NULL &&
	       r->account_id[0] != '\0' && r->amount_cents > 0 && r->currency != NULL && r->currency[0] != '\0' &&
	       r->product_name != NULL && r->product_name[0] != '\0' && r->success_url != NULL &&
	       r->success_url[0] != '\0';
}

static int checkout_form(struct stripe_form *f, const struct stripe_checkout *r)
{
	char amount[32];
	int rc = 0;

	snprintf(amount, sizeof(amount), "%" PRId64, r->amount_cents);
	rc |= stripe_form_add(f, "mode", "payment");
	rc |= stripe_form_add(f, "customer", r->customer);
	rc |= stripe_form_add(f, "client_reference_id", r->account_id);
	rc |= stripe_form_add(f, "line_items[0][quantity]", "1");
	rc |= stripe_form_add(f, "line_items[0][price_data][currency]", r->currency);
	rc |= stripe_form_add(f, "line_items[0][price_data][unit_amount]", amount);
	rc |= stripe_form_add(f, "line_items[0][price_data][product_data][name]", r->product_name);
	rc |= stripe_form_add(f, "metadata[type]", "credit_topup");
	rc |= stripe_form_add(f, "metadata[account]", r->account_id);
	rc |= stripe_form_add(f, "metadata[amount_cents]", amount);
	rc |= stripe_form_add(f, "payment_intent_data[metadata][type]", "credit_topup");
	rc |= stripe_form_add(f, "payment_intent_data[metadata][account]", r->account_id);
	if (r->save_card)
		rc |= stripe_form_add(f, "payment_intent_data[setup_future_usage]", "off_session");
	if (r->invoice)
		rc |= stripe_form_add(f, "invoice_creation[enabled]", "true");
	rc |= stripe_form_add(f, "success_url", r->success_url);
	if (r->cancel_url != NULL && r->cancel_url[0] != '\0')
		rc |= stripe_form_add(f, "cancel_url", r->cancel_url);
	return rc;
}

enum stripe_status stripe_create_checkout(struct stripe_client *c, const struct stripe_checkout *req,
					  const char *idempotency_key, struct stripe_result *out)
{
	struct stripe_form f;
	enum stripe_status st;

	stripe_form_init(&f);
	if (out == NULL) {
		st = STRIPE_ERR_CONFIG;
		goto out;
	}
	stripe_answer_init(out);
	if (c == NULL || !checkout_request_ok(req)) {
		st = stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the checkout request is incomplete");
		goto out;
	}
	/* Checked whole above: what Stripe is asked to charge is a positive
	 * amount for a named account (docs/api.md, "An account's holds, top-ups and referrals"). */
	assert(req->amount_cents > 0 && req->account_id[0] != '\0');
	if (checkout_form(&f, req) != 0) {
		st = stripe_answer_fail(out, STRIPE_ERR_CONFIG, "the checkout parameters do not fit in a request");
		goto out;
	}
	st = stripe_call(c, "/v1/checkout/sessions", &f, idempotency_key, 1, out);
out:
	stripe_form_free(&f);
	return st;
}

int stripe_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void stripe_global_cleanup(void)
{
	curl_global_cleanup();
}
