/* test_stripe.c: unit tests for src/stripe/stripe.c, the Stripe HTTP client.
 *
 * Owns the checks of the form encoder (nested brackets, reserved bytes,
 * UTF-8, the 64 KiB cap and its stickiness), of the api-base policy (https
 * anywhere, http only on loopback, anything else STRIPE_ERR_CONFIG before
 * any network use), and of the client against a tiny HTTP/1.1 responder
 * running in a thread on 127.0.0.1 (stripe_responder.h): the exact request
 * bytes creditd sends, 2xx/4xx/5xx answers, garbage, hang-ups, redirects
 * not followed, the 256 KiB answer cap, timeouts, refused connections and
 * connection reuse.
 *
 * Never reaches beyond loopback. It also runs the calls against
 * tests/fake_stripe.py, so the fake's validation and this client are
 * checked against each other: the fake CREDITD_FAKE_STRIPE_URL names when
 * it is set, else one it starts itself on a free port (fake_stripe_proc.h);
 * a fake that cannot start is a failure, never a skip. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_stripe_proc.h"
#include "stripe.h"
#include "stripe_responder.h"
#include "tap.h"

/* ---- form encoding ------------------------------------------------------ */

static void form_is(const char *key, const char *value, const char *want, const char *desc)
{
	struct stripe_form f;

	stripe_form_init(&f);
	is_int(stripe_form_add(&f, key, value), 0, "%s: added", desc);
	is_str(f.buf.data, want, "%s", desc);
	is_int(f.buf.len, strlen(want), "%s: len", desc);
	stripe_form_free(&f);
}

static void test_form_encoding(void)
{
	struct stripe_form f;

	form_is("mode", "payment", "mode=payment", "plain pair");
	form_is("line_items[0][price_data][currency]", "eur",
		"line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=eur", "nested brackets escaped");
	form_is("metadata[account]", "acct 1", "metadata%5Baccount%5D=acct%201", "space as %20");
	form_is("k", "a&b=c+d", "k=a%26b%3Dc%2Bd", "& = + escaped");
	form_is("k", "-._~AZaz09", "k=-._~AZaz09", "unreserved kept");
	form_is("k", "/?#%:@!$'()*,;", "k=%2F%3F%23%25%3A%40%21%24%27%28%29%2A%2C%3B", "reserved escaped");
	form_is("k", "Café €", "k=Caf%C3%A9%20%E2%82%AC", "UTF-8 bytes escaped one by one");
	form_is("k", "\x01\x7f\xff", "k=%01%7F%FF", "control and high bytes");
	form_is("success_url", "https://x.example/ok?session_id={CHECKOUT_SESSION_ID}",
		"success_url=https%3A%2F%2Fx.example%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D", "URL value");
	form_is("empty", "", "empty=", "empty value");

	stripe_form_init(&f);
	stripe_form_add(&f, "a", "1");
	stripe_form_add(&f, "b[c]", "2");
	stripe_form_add(&f, "d", "x y");
	is_str(f.buf.data, "a=1&b%5Bc%5D=2&d=x%20y", "pairs joined with &");
	is_int(stripe_form_add(&f, NULL, "v"), -1, "NULL key refused");
	is_int(stripe_form_add(&f, "k", NULL), -1, "NULL value refused");
	is_int(stripe_form_add(&f, "", "v"), -1, "empty key refused");
	is_str(f.buf.data, "a=1&b%5Bc%5D=2&d=x%20y", "refused adds leave the body alone");
	stripe_form_free(&f);
	ok(f.buf.data == NULL && f.buf.len == 0, "free resets the form");
	stripe_form_free(&f);
	ok(1, "double free is harmless");
}

static void test_form_cap(void)
{
	struct stripe_form f;
	char *big = malloc(STRIPE_FORM_MAX + 2);

	/* "k=" + (MAX - 2) bytes is exactly MAX. */
	memset(big, 'a', STRIPE_FORM_MAX - 2);
	big[STRIPE_FORM_MAX - 2] = '\0';
	stripe_form_init(&f);
	is_int(stripe_form_add(&f, "k", big), 0, "a body of exactly STRIPE_FORM_MAX bytes fits");
	is_int(f.buf.len, STRIPE_FORM_MAX, "len is the cap");
	is_int(f.buf.failed, 0, "no overflow yet");
	is_int(stripe_form_add(&f, "x", ""), -1, "one more pair passes the cap");
	is_int(f.buf.failed, 1, "overflow set");
	is_int(f.buf.len, STRIPE_FORM_MAX, "body unchanged by the refused add");
	stripe_form_free(&f);

	/* Escaping triples the size: MAX/3 '&' bytes cannot fit. */
	memset(big, '&', STRIPE_FORM_MAX / 3);
	big[STRIPE_FORM_MAX / 3] = '\0';
	stripe_form_init(&f);
	is_int(stripe_form_add(&f, "a", "1"), 0, "small pair first");
	is_int(stripe_form_add(&f, "k", big), -1, "escaped size counts against the cap");
	is_int(stripe_form_add(&f, "b", "2"), -1, "overflow is sticky: later adds fail");
	is_str(f.buf.data, "a=1", "the body still holds only what fitted");
	stripe_form_free(&f);

	memset(big, 'a', STRIPE_FORM_MAX + 1);
	big[STRIPE_FORM_MAX + 1] = '\0';
	stripe_form_init(&f);
	is_int(stripe_form_add(&f, "k", big), -1, "a raw value over the cap is refused");
	is_int(f.buf.failed, 1, "overflow set");
	stripe_form_free(&f);
	free(big);
}

/* ---- client tests -------------------------------------------------------- */

static struct stripe_client *client_for(const char *base, const char *key, long timeout_ms)
{
	struct stripe_settings s = { base, key, 2000, timeout_ms };

	return stripe_client_new(&s);
}

static struct stripe_client *local_client(long timeout_ms)
{
	char base[64];

	snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv.port);
	return client_for(base, "sk_test_123", timeout_ms);
}

static enum stripe_status customer_on(const char *base, const char *key, struct stripe_result *r)
{
	struct stripe_client *c = client_for(base, key, 2000);
	enum stripe_status st = stripe_create_customer(c, "acct_1", "idem-1", r);

	stripe_client_free(c);
	return st;
}

static void test_base_policy(void)
{
	static const char *const refused[] = {
		"http://api.stripe.com", "http://example.com:80", "http://127.0.0.2:1",
		"http://127.0.0.1.nip.io", "http://localhost.example.com", "http://localhost@example.com",
		"http://user@127.0.0.1", "http://evil.example/127.0.0.1", "http://127.0.0.1:abc",
		"http://127.0.0.1:1234567", "http://[::2]:80", "ftp://127.0.0.1", "file:///etc/passwd",
		"https://", "https:///v1", "https://user@api.stripe.com", "https://api.stripe.com?x=1",
		"https://api stripe.com", "api.stripe.com", "", NULL,
	};
	struct stripe_result r;
	size_t i;
	int before = stat_of(&srv.requests);

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		memset(&r, 0x55, sizeof(r));
		is_int(customer_on(refused[i], "sk_test_123", &r), STRIPE_ERR_CONFIG, "base '%s' refused",
		       refused[i] != NULL ? refused[i] : "(null)");
		is_int(r.http_status, 0, "no HTTP answer");
		ok(r.message[0] != '\0' && strlen(r.message) < sizeof(r.message), "a sentence: %s", r.message);
		is_str(r.id, "", "no id");
	}
	is_int(customer_on("https://api.stripe.com", "", &r), STRIPE_ERR_CONFIG, "empty secret key refused");
	is_int(customer_on("https://api.stripe.com", NULL, &r), STRIPE_ERR_CONFIG, "NULL secret key refused");
	is_int(customer_on("https://api.stripe.com", "pk_test_123", &r), STRIPE_ERR_CONFIG,
	       "a publishable key is refused");
	is_int(customer_on("https://api.stripe.com", "sk_test_1\r\nX-Evil: 1", &r), STRIPE_ERR_CONFIG,
	       "a key with CR LF is refused");
	ok(strstr(r.message, "sk_") == NULL, "the message never shows the key");
	ok(customer_on("http://[::1]:1", "sk_test_1", &r) != STRIPE_ERR_CONFIG, "http://[::1] is loopback");
	ok(customer_on("HTTP://LOCALHOST:1/", "sk_test_1", &r) != STRIPE_ERR_CONFIG, "case does not matter");
	ok(customer_on("https://127.0.0.1:1", "rk_test_1", &r) != STRIPE_ERR_CONFIG,
	   "https anywhere and restricted keys are allowed");
	is_int(stat_of(&srv.requests), before, "no request reached the local server");
}

static void test_call_checks(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_checkout req = { "cus_1", "acct_1", 0, "eur", "Credits", "https://a.example/ok", NULL, 0, 0 };
	struct stripe_result r;
	char key[300];
	int before = stat_of(&srv.requests);

	is_int(stripe_create_customer(c, "acct_1", "", &r), STRIPE_ERR_CONFIG, "empty idempotency key");
	is_int(stripe_create_customer(c, "acct_1", NULL, &r), STRIPE_ERR_CONFIG, "NULL idempotency key");
	is_int(stripe_create_customer(c, "acct_1", "a\r\nb", &r), STRIPE_ERR_CONFIG,
	       "idempotency key with CR LF");
	memset(key, 'k', 256);
	key[256] = '\0';
	is_int(stripe_create_customer(c, "acct_1", key, &r), STRIPE_ERR_CONFIG, "256-byte idempotency key");
	is_int(stripe_create_customer(c, "", "k1", &r), STRIPE_ERR_CONFIG, "empty account id");
	is_int(stripe_create_customer(NULL, "acct_1", "k1", &r), STRIPE_ERR_CONFIG, "NULL client");
	is_int(stripe_create_customer(c, "acct_1", "k1", NULL), STRIPE_ERR_CONFIG, "NULL result");
	is_int(stripe_create_checkout(c, &req, "k1", &r), STRIPE_ERR_CONFIG, "zero amount");
	req.amount_cents = 500;
	req.customer = NULL;
	is_int(stripe_create_checkout(c, &req, "k1", &r), STRIPE_ERR_CONFIG, "no customer");
	is_int(stripe_create_checkout(c, NULL, "k1", &r), STRIPE_ERR_CONFIG, "NULL request");
	is_int(stat_of(&srv.requests), before, "none of these reached the server");
	stripe_client_free(c);

	c = client_for("http://127.0.0.1:1", "sk_test_1", 0);
	is_int(stripe_create_customer(c, "acct_1", "k1", &r), STRIPE_ERR_CONFIG, "a zero timeout is refused");
	stripe_client_free(c);
}

static void test_customer_ok(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_result r;
	char body[4096];

	serve(&(struct canned){ 200, "{\"id\":\"cus_QpZ1a2B3c4D5e6\",\"object\":\"customer\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "idem-cus-1", &r), STRIPE_OK, "customer created");
	is_int(r.http_status, 200, "http 200");
	is_str(r.id, "cus_QpZ1a2B3c4D5e6", "customer id");
	is_str(r.message, "", "no message");
	ok(last_has("POST /v1/customers HTTP/1.1\r\n"), "POST /v1/customers");
	ok(last_has("\r\nAuthorization: Bearer sk_test_123\r\n"), "bearer auth");
	ok(last_has("\r\nIdempotency-Key: idem-cus-1\r\n"), "Idempotency-Key header");
	ok(last_has("\r\nContent-Type: application/x-www-form-urlencoded\r\n"), "form content type");
	ok(last_has("\r\nUser-Agent: creditd/" PACKAGE_VERSION "\r\n"), "User-Agent creditd/" PACKAGE_VERSION);
	ok(!last_has("Expect:"), "no Expect: 100-continue");
	is_str(last_body(body, sizeof(body)), "description=creditd%20account%20acct_1&metadata%5Baccount%5D=acct_1",
	       "customer body");
	stripe_client_free(c);

	/* Trailing slashes on the base do not double the path's slash. */
	snprintf(body, sizeof(body), "http://localhost:%d//", srv.port);
	c = client_for(body, "sk_test_123", 2000);
	is_int(stripe_create_customer(c, "acct_1", "idem-cus-2", &r), STRIPE_OK, "localhost base with slashes");
	ok(last_has("POST /v1/customers HTTP/1.1\r\n"), "one slash before v1");
	stripe_client_free(c);
}

static const char checkout_body[] =
	"mode=payment&customer=cus_1&client_reference_id=acct%20%C3%A9&line_items%5B0%5D%5Bquantity%5D=1"
	"&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=eur"
	"&line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=2500"
	"&line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=Credits%20%26%20more"
	"&metadata%5Btype%5D=credit_topup&metadata%5Baccount%5D=acct%20%C3%A9&metadata%5Bamount_cents%5D=2500"
	"&payment_intent_data%5Bmetadata%5D%5Btype%5D=credit_topup"
	"&payment_intent_data%5Bmetadata%5D%5Baccount%5D=acct%20%C3%A9"
	"&success_url=https%3A%2F%2Fapp.example%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D"
	"&cancel_url=https%3A%2F%2Fapp.example%2Fcancel";

static void test_checkout_ok(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_checkout req = { "cus_1", "acct é", 2500, "eur", "Credits & more",
				       "https://app.example/ok?s={CHECKOUT_SESSION_ID}", "https://app.example/cancel", 0, 0 };
	struct stripe_result r;
	char body[4096];

	serve(&(struct canned){ 200, "{\"id\":\"cs_test_a1\",\"object\":\"checkout.session\","
				"\"url\":\"https://checkout.stripe.com/c/pay/cs_test_a1#fidkdWxOYHwnPyd1blpxYHZxWjA0\"}",
				0, 0, 0, 0, NULL });
	is_int(stripe_create_checkout(c, &req, "idem-cs-1", &r), STRIPE_OK, "checkout created");
	is_str(r.id, "cs_test_a1", "session id");
	is_str(r.url, "https://checkout.stripe.com/c/pay/cs_test_a1#fidkdWxOYHwnPyd1blpxYHZxWjA0", "session url");
	ok(last_has("POST /v1/checkout/sessions HTTP/1.1\r\n"), "POST /v1/checkout/sessions");
	ok(last_has("\r\nIdempotency-Key: idem-cs-1\r\n"), "Idempotency-Key header");
	is_str(last_body(body, sizeof(body)), checkout_body, "checkout body, every parameter");

	req.cancel_url = NULL;
	is_int(stripe_create_checkout(c, &req, "idem-cs-2", &r), STRIPE_OK, "checkout without cancel_url");
	ok(!last_has("cancel_url"), "cancel_url left out");

	serve(&(struct canned){ 200, "{\"id\":\"cs_test_a1\",\"object\":\"checkout.session\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_checkout(c, &req, "idem-cs-3", &r), STRIPE_ERR_TRANSPORT, "2xx without url");
	serve(&(struct canned){ 200, "{\"id\":\"cs_1\",\"url\":\"javascript:alert(1)\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_checkout(c, &req, "idem-cs-4", &r), STRIPE_ERR_TRANSPORT, "non-https url refused");
	serve(&(struct canned){ 200, "{\"id\":42}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "idem-5", &r), STRIPE_ERR_TRANSPORT, "numeric id");
	serve(&(struct canned){ 200, "{\"id\":\"cus_1'; DROP\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "idem-6", &r), STRIPE_ERR_TRANSPORT, "id with odd bytes");
	ok(strstr(r.message, "id") != NULL, "message: %s", r.message);
	stripe_client_free(c);
}

static void test_save_card_and_payment_intent(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_checkout req = { "cus_1", "acct_1", 1000, "eur", "Credits", "https://app.example/ok", NULL, 1, 0 };
	struct stripe_payment pay = { "cus_1", "pm_1", "acct 1", 42, 2000, "eur", NULL };
	struct stripe_payment payg = { "cus_1", "pm_1", "acct 1", 7, 4501, "eur", "2026-11" };
	struct stripe_result r;
	char body[4096];

	serve(&(struct canned){ 200, "{\"id\":\"cs_test_a1\",\"object\":\"checkout.session\","
				"\"url\":\"https://checkout.stripe.com/c/pay/cs_test_a1\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_checkout(c, &req, "idem-sc-1", &r), STRIPE_OK, "checkout keeping the card");
	ok(strstr(last_body(body, sizeof(body)), "&payment_intent_data%5Bsetup_future_usage%5D=off_session") != NULL,
	   "asks Checkout to keep the card off-session: %s", body);
	ok(strstr(body, "invoice_creation") == NULL, "no invoice unless asked: %s", body);
	req.invoice = 1;
	serve(&(struct canned){ 200, "{\"id\":\"cs_test_a2\",\"object\":\"checkout.session\","
				"\"url\":\"https://checkout.stripe.com/c/pay/cs_test_a2\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_checkout(c, &req, "idem-sc-2", &r), STRIPE_OK, "checkout with an invoice");
	ok(strstr(last_body(body, sizeof(body)), "&invoice_creation%5Benabled%5D=true&") != NULL,
	   "asks Checkout for an invoice (stripe.invoice_topups): %s", body);
	req.invoice = 0;

	serve(&(struct canned){ 200, "{\"id\":\"pi_123\",\"object\":\"payment_intent\",\"status\":\"succeeded\"}",
				0, 0, 0, 0, NULL });
	is_int(stripe_create_payment_intent(c, &pay, "recharge_42", &r), STRIPE_OK, "payment intent created");
	is_str(r.id, "pi_123", "its id");
	ok(last_has("POST /v1/payment_intents HTTP/1.1\r\n"), "POST /v1/payment_intents");
	ok(last_has("\r\nIdempotency-Key: recharge_42\r\n"), "the recharge's id as Idempotency-Key");
	is_str(last_body(body, sizeof(body)), "amount=2000&currency=eur&customer=cus_1&payment_method=pm_1"
	       "&off_session=true&confirm=true&metadata%5Btype%5D=auto_recharge&metadata%5Baccount%5D=acct%201"
	       "&metadata%5Brecharge%5D=42", "every parameter");
	serve(&(struct canned){ 200, "{\"id\":\"pi_124\",\"object\":\"payment_intent\",\"status\":\"succeeded\"}",
				0, 0, 0, 0, NULL });
	is_int(stripe_create_payment_intent(c, &payg, "payg-acct%201-2026-11-1", &r), STRIPE_OK, "a collection");
	is_str(last_body(body, sizeof(body)), "amount=4501&currency=eur&customer=cus_1&payment_method=pm_1"
	       "&off_session=true&confirm=true&metadata%5Btype%5D=payg_collection&metadata%5Baccount%5D=acct%201"
	       "&metadata%5Bperiod%5D=2026-11", "a collection's parameters: its month, no recharge id");
	serve(&(struct canned){ 402, "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
				"\"message\":\"Your card was declined.\"}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_payment_intent(c, &pay, "recharge_43", &r), STRIPE_ERR_API, "a decline");
	is_int(r.http_status, 402, "as a 402");
	is_str(r.message, "Your card was declined.", "with Stripe's message");
	is_str(r.id, "", "no PaymentIntent named, none known");
	serve(&(struct canned){ 402, "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
				"\"message\":\"Your card was declined.\",\"payment_intent\":{\"id\":\"pi_125\","
				"\"object\":\"payment_intent\",\"status\":\"requires_payment_method\"}}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_payment_intent(c, &payg, "payg-acct%201-2026-11-2", &r), STRIPE_ERR_API, "a decline "
	       "naming its PaymentIntent");
	is_str(r.id, "pi_125", "the declined PaymentIntent's id, open at Stripe");
	is_str(r.status, "requires_payment_method", "and its status");
	serve(&(struct canned){ 402, "{\"error\":{\"type\":\"card_error\",\"message\":\"No.\","
				"\"payment_intent\":{\"id\":\"cus_1\"}}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_payment_intent(c, &payg, "payg-acct%201-2026-11-3", &r), STRIPE_ERR_API, "a decline "
	       "naming something else");
	is_str(r.id, "", "no id taken but a pi_ one");
	pay.payment_method = NULL;
	is_int(stripe_create_payment_intent(c, &pay, "recharge_44", &r), STRIPE_ERR_CONFIG, "no card: not sent");

	serve(&(struct canned){ 204, "", 0, 0, 0, 0, NULL });
	is_int(stripe_push(c, "http://127.0.0.1:1/x", "{}", "Creditd-Signature: t=1,v1=ab", &r), STRIPE_ERR_TRANSPORT,
	       "push to a closed port: no answer");
	is_int(stripe_push(c, "http://example.com/x", "{}", "X: y", &r), STRIPE_ERR_CONFIG,
	       "push over plain http off loopback refused");
	stripe_client_free(c);
}

static void test_get_payment_intent(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_result r;
	char body[256];
	static const char *const bad[] = { "", "cus_1", "pi_1/../../v1/customers", "pi_1?expand=x", "pi_1 x", "PI_1" };
	size_t i;
	int before;

	serve(&(struct canned){ 200, "{\"id\":\"pi_9\",\"object\":\"payment_intent\",\"amount\":2000,"
				"\"amount_received\":0,\"currency\":\"eur\",\"status\":\"requires_payment_method\","
				"\"last_payment_error\":{\"code\":\"card_declined\",\"message\":\"Your card was\\ndeclined.\","
				"\"type\":\"card_error\"}}", 0, 0, 0, 0, NULL });
	is_int(stripe_get_payment_intent(c, "pi_9", &r), STRIPE_OK, "a PaymentIntent fetched");
	ok(last_has("GET /v1/payment_intents/pi_9 HTTP/1.1\r\n"), "GET /v1/payment_intents/{id}");
	ok(last_has("\r\nAuthorization: Bearer sk_test_123\r\n"), "with the key");
	ok(!last_has("Idempotency-Key:"), "no Idempotency-Key on a GET");
	ok(!last_has("Content-Type:") && !last_has("Content-Length:"), "no body, so no Content-Type or -Length");
	is_str(last_body(body, sizeof(body)), "", "no body");
	is_str(r.id, "pi_9", "its id");
	is_str(r.status, "requires_payment_method", "its status");
	is_int((int)r.amount_received, 0, "nothing received");
	is_str(r.currency, "eur", "its currency");
	is_str(r.payment_error, "Your card was declined.", "last_payment_error.message, control characters as spaces");

	serve(&(struct canned){ 200, "{\"id\":\"pi_9\",\"object\":\"payment_intent\",\"amount\":2000,"
				"\"amount_received\":2000,\"currency\":\"eur\",\"status\":\"succeeded\","
				"\"last_payment_error\":null}", 0, 0, 0, 0, NULL });
	is_int(stripe_get_payment_intent(c, "pi_9", &r), STRIPE_OK, "succeeded");
	is_str(r.status, "succeeded", "status succeeded");
	is_int((int)r.amount_received, 2000, "amount_received");
	is_str(r.payment_error, "", "no payment error");

	serve(&(struct canned){ 404, "{\"error\":{\"code\":\"resource_missing\",\"message\":\"No such "
				"payment_intent: 'pi_gone'\",\"param\":\"intent\",\"type\":\"invalid_request_error\"}}",
				0, 0, 0, 0, NULL });
	is_int(stripe_get_payment_intent(c, "pi_gone", &r), STRIPE_ERR_API, "an unknown PaymentIntent");
	is_int(r.http_status, 404, "is a 404");
	is_str(r.message, "No such payment_intent: 'pi_gone'", "with Stripe's message");
	is_str(r.status, "", "and no status");

	serve(&(struct canned){ 200, "{\"id\":\"pi_other\",\"object\":\"payment_intent\",\"status\":\"succeeded\"}",
				0, 0, 0, 0, NULL });
	is_int(stripe_get_payment_intent(c, "pi_9", &r), STRIPE_ERR_TRANSPORT, "another PaymentIntent is no answer");
	serve(&(struct canned){ 500, "{\"error\":{\"type\":\"api_error\",\"message\":\"An unknown error occurred\"}}",
				0, 0, 0, 0, NULL });
	is_int(stripe_get_payment_intent(c, "pi_9", &r), STRIPE_ERR_API, "Stripe failing");
	is_int(r.http_status, 500, "a 500");

	before = stat_of(&srv.requests);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(stripe_get_payment_intent(c, bad[i], &r), STRIPE_ERR_CONFIG, "not a pi_ id: '%s'", bad[i]);
	is_int(stripe_get_payment_intent(c, NULL, &r), STRIPE_ERR_CONFIG, "NULL id");
	is_int(stat_of(&srv.requests), before, "none of these reached the server");
	stripe_client_free(c);
}

static void test_cancel_payment_intent(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_result r;
	char body[256];
	int before;

	serve(&(struct canned){ 200, "{\"id\":\"pi_7\",\"object\":\"payment_intent\",\"status\":\"canceled\","
				"\"cancellation_reason\":\"duplicate\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_cancel_payment_intent(c, "pi_7", "payg-cancel-pi_7", &r), STRIPE_OK, "a PaymentIntent cancelled");
	ok(last_has("POST /v1/payment_intents/pi_7/cancel HTTP/1.1\r\n"), "POST /v1/payment_intents/{id}/cancel");
	ok(last_has("\r\nIdempotency-Key: payg-cancel-pi_7\r\n"), "with its Idempotency-Key");
	is_str(last_body(body, sizeof(body)), "cancellation_reason=duplicate", "the one parameter: why");
	is_str(r.status, "canceled", "status canceled");
	serve(&(struct canned){ 400, "{\"error\":{\"code\":\"payment_intent_unexpected_state\",\"message\":\"You "
				"cannot cancel this PaymentIntent because it has a status of succeeded.\",\"type\":"
				"\"invalid_request_error\",\"payment_intent\":{\"id\":\"pi_7\",\"status\":\"succeeded\"}}}",
				0, 0, 0, 0, NULL });
	is_int(stripe_cancel_payment_intent(c, "pi_7", "payg-cancel-pi_7b", &r), STRIPE_ERR_API, "one that succeeded");
	is_int(r.http_status, 400, "is a 400");
	is_str(r.status, "succeeded", "its status, from Stripe's error");
	serve(&(struct canned){ 200, "{\"id\":\"pi_8\",\"status\":\"canceled\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_cancel_payment_intent(c, "pi_7", "payg-cancel-pi_7c", &r), STRIPE_ERR_TRANSPORT,
	       "another PaymentIntent is no answer");
	before = stat_of(&srv.requests);
	is_int(stripe_cancel_payment_intent(c, "pi_7/../x", "k", &r), STRIPE_ERR_CONFIG, "not a pi_ id");
	is_int(stripe_cancel_payment_intent(c, "pi_7", "", &r), STRIPE_ERR_CONFIG, "no Idempotency-Key");
	is_int(stat_of(&srv.requests), before, "neither reached the server");
	stripe_client_free(c);
}

static void test_errors(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_result r;
	char *json = malloc(4200);
	size_t i, n;

	serve(&(struct canned){ 400, "{\"error\":{\"code\":\"parameter_unknown\",\"message\":\"Received unknown "
				"parameter: foo\",\"param\":\"foo\",\"type\":\"invalid_request_error\"}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e1", &r), STRIPE_ERR_API, "400 with Stripe's error shape");
	is_int(r.http_status, 400, "http 400");
	is_str(r.message, "Received unknown parameter: foo", "Stripe's message copied");
	is_str(r.id, "", "no id");

	/* A newline then 600 two-byte characters: 1201 bytes into 511. */
	n = (size_t)snprintf(json, 4200, "{\"error\":{\"type\":\"card_error\",\"message\":\"\\n");
	for (i = 0; i < 600; i++)
		n += (size_t)snprintf(json + n, 4200 - n, "\xc3\xa9");
	snprintf(json + n, 4200 - n, "\"}}");
	serve(&(struct canned){ 402, json, 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e2", &r), STRIPE_ERR_API, "402 card error");
	n = strlen(r.message);
	is_int(n, sizeof(r.message) - 1, "long message truncated to the field");
	is_int(r.message[0], ' ', "control characters replaced by spaces");
	ok(memcmp(r.message + n - 2, "\xc3\xa9", 2) == 0, "ends on a whole character");
	r.message[0] = 'x';
	ok(strchr(r.message, '\n') == NULL, "no newline left");

	serve(&(struct canned){ 404, "{\"error\":{\"type\":\"invalid_request_error\"}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e3", &r), STRIPE_ERR_API, "error without message");
	ok(strstr(r.message, "invalid_request_error") != NULL, "type named: %s", r.message);

	serve(&(struct canned){ 409, "{\"error\":{\"message\":\"There is currently another in-progress request "
				"using this Idempotent Key\",\"type\":\"idempotency_error\"}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e9", &r), STRIPE_ERR_IDEMPOTENCY, "409 key in flight");
	is_int(r.http_status, 409, "http 409 tells a key in flight");
	ok(strstr(r.message, "in-progress") != NULL, "Stripe's message kept: %s", r.message);
	serve(&(struct canned){ 400, "{\"error\":{\"type\":\"idempotency_error\"}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e10", &r), STRIPE_ERR_IDEMPOTENCY, "400 key reused");
	ok(strstr(r.message, "idempotency_error") != NULL, "type named: %s", r.message);

	serve(&(struct canned){ 500, "<html>oops</html>", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e4", &r), STRIPE_ERR_TRANSPORT, "500 HTML");
	is_int(r.http_status, 500, "http 500");
	serve(&(struct canned){ 503, "{\"message\":\"no\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e5", &r), STRIPE_ERR_TRANSPORT, "503 JSON without error");
	serve(&(struct canned){ 200, "garbage{", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e6", &r), STRIPE_ERR_TRANSPORT, "200 garbage");
	ok(strstr(r.message, "not JSON") != NULL, "message: %s", r.message);
	serve(&(struct canned){ 200, "", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e7", &r), STRIPE_ERR_TRANSPORT, "200 empty body");
	serve(&(struct canned){ 200, "[\"cus_1\"]", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "e8", &r), STRIPE_ERR_TRANSPORT, "200 JSON array");
	stripe_client_free(c);
	free(json);
}

static void test_transport(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_result r;
	struct timespec t0, t1;
	char base[64];
	int before, port, fd;

	serve(&(struct canned){ 200, NULL, 0, 0, 1, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "t1", &r), STRIPE_ERR_TRANSPORT, "closed without an answer");
	is_int(r.http_status, 0, "no HTTP status");
	ok(strstr(r.message, "Stripe request failed: ") == r.message, "curl sentence: %s", r.message);

	before = stat_of(&srv.requests);
	serve(&(struct canned){ 302, "", 0, 0, 0, 0, "http://127.0.0.1:1/elsewhere" });
	is_int(stripe_create_customer(c, "acct_1", "t2", &r), STRIPE_ERR_TRANSPORT, "redirect not followed");
	is_int(r.http_status, 302, "http 302 reported");
	is_int(stat_of(&srv.requests) - before, 1, "one request only");

	serve(&(struct canned){ 200, NULL, 300 * 1024, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "t3", &r), STRIPE_ERR_TRANSPORT, "300 KiB answer refused");
	ok(strstr(r.message, "256 KiB") != NULL, "message: %s", r.message);
	serve(&(struct canned){ 200, NULL, 300 * 1024, 1, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "t4", &r), STRIPE_ERR_TRANSPORT,
	       "300 KiB answer without Content-Length refused");
	ok(strstr(r.message, "256 KiB") != NULL, "message: %s", r.message);
	serve(&(struct canned){ 200, NULL, 200 * 1024, 1, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "t5", &r), STRIPE_OK, "200 KiB answer accepted");
	is_str(r.id, "cus_big", "its id");
	stripe_client_free(c);

	c = local_client(300);
	serve(&(struct canned){ 200, "{\"id\":\"cus_slow\"}", 0, 0, 0, 1500, NULL });
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(stripe_create_customer(c, "acct_1", "t6", &r), STRIPE_ERR_TRANSPORT, "timeout");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1200, "gave up after ~300 ms");
	ok(strstr(r.message, "Timeout") != NULL || strstr(r.message, "timed out") != NULL, "message: %s",
	   r.message);
	stripe_client_free(c);

	fd = bind_loopback(&port);
	close(fd);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	c = client_for(base, "sk_test_1", 2000);
	is_int(stripe_create_customer(c, "acct_1", "t7", &r), STRIPE_ERR_TRANSPORT, "connection refused");
	ok(strstr(r.message, "Stripe request failed: ") == r.message, "message: %s", r.message);
	stripe_client_free(c);
}

static void test_reuse(void)
{
	struct stripe_client *c = local_client(2000);
	struct stripe_result r;
	int before = stat_of(&srv.accepts);

	serve(&(struct canned){ 200, "{\"id\":\"cus_r\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "r1", &r), STRIPE_OK, "first call");
	is_int(stripe_create_customer(c, "acct_1", "r2", &r), STRIPE_OK, "second call");
	serve(&(struct canned){ 400, "{\"error\":{\"message\":\"bad\"}}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "r3", &r), STRIPE_ERR_API, "an error answer");
	serve(&(struct canned){ 200, "{\"id\":\"cus_r\"}", 0, 0, 0, 0, NULL });
	is_int(stripe_create_customer(c, "acct_1", "r4", &r), STRIPE_OK, "fourth call");
	is_int(stat_of(&srv.accepts) - before, 1, "four calls, one connection");
	stripe_client_free(c);
}

/* A card kept by a paid Checkout (the fake's /_sessions/ID/complete), then
 * charged off-session, read back and not cancellable once it succeeded:
 * the PaymentIntent calls held to the fake's validation too. */
static void test_fake_off_session(struct stripe_client *c, const char *base, const char *customer, const char *idem)
{
	struct stripe_checkout req = { customer, "acct_fake", 2500, "eur", "Credits", "http://localhost/billing/success",
				       NULL, 1, 0 };
	struct stripe_payment pay = { customer, "pm_card_visa", "acct_fake", 42, 2500, "eur", NULL };
	struct stripe_result r;
	char key[96], url[640];
	char pi[sizeof(r.id)];

	snprintf(key, sizeof(key), "%s-keep", idem);
	is_int(stripe_create_checkout(c, &req, key, &r), STRIPE_OK, "fake: checkout keeping the card (%s)", r.message);
	snprintf(url, sizeof(url), "%s/_sessions/%s/complete", base, r.id);
	is_int(stripe_push(c, url, "{\"payment_status\": \"paid\", \"payment_method\": \"pm_card_visa\"}",
			   "X-Test: 1", &r), STRIPE_OK, "fake: the session paid, its card kept");
	is_int(r.http_status, 200, "fake: as a 200");
	snprintf(key, sizeof(key), "%s-recharge", idem);
	is_int(stripe_create_payment_intent(c, &pay, key, &r), STRIPE_OK, "fake: off-session charge (%s)", r.message);
	is_str(r.status, "succeeded", "fake: it succeeded");
	snprintf(pi, sizeof(pi), "%s", r.id);
	is_int(stripe_get_payment_intent(c, pi, &r), STRIPE_OK, "fake: read back (%s)", r.message);
	is_int(r.amount_received, 2500, "fake: amount received");
	is_str(r.currency, "eur", "fake: its currency");
	snprintf(key, sizeof(key), "%s-cancel", idem);
	is_int(stripe_cancel_payment_intent(c, pi, key, &r), STRIPE_ERR_API, "fake: a succeeded one is not cancelled");
	is_int(r.http_status, 400, "fake: as a 400");
	is_str(r.status, "succeeded", "fake: the status Stripe's error names");
	pay.period = "2026-11";
	pay.payment_method = "pm_card_notkept";
	snprintf(key, sizeof(key), "%s-payg", idem);
	is_int(stripe_create_payment_intent(c, &pay, key, &r), STRIPE_ERR_API,
	       "fake: a card the customer did not keep is Stripe's error (%s)", r.message);
}

/* The calls against tests/fake_stripe.py: the running one
 * CREDITD_FAKE_STRIPE_URL names, else one started here. */
static void test_against_fake(void)
{
	const char *base = getenv("CREDITD_FAKE_STRIPE_URL");
	char why[640] = "";
	int started;
	struct stripe_client *c;
	struct stripe_checkout req = { NULL, "acct_fake", 1500, "eur", "Credits", "http://localhost/billing/success",
				       "http://localhost/billing/cancel", 0, 0 };
	struct stripe_result r, r2;
	char idem[64], idem_cs[80];

	if (base == NULL || base[0] == '\0') {
		started = fake_start(TOP_SRCDIR, why, sizeof(why)) == 0;
		if (!ok(started, "fake: tests/fake_stripe.py started: %s", started ? fake.base : why))
			return;
		base = fake.base;
	}
	c = client_for(base, "sk_test_unit", 5000);
	snprintf(idem, sizeof(idem), "unit-%ld-%d", (long)time(NULL), (int)getpid());
	is_int(stripe_create_customer(c, "acct_fake", idem, &r), STRIPE_OK, "fake: customer (%s)", r.message);
	ok(strncmp(r.id, "cus_", 4) == 0, "fake: cus_ id");
	req.customer = r.id;
	snprintf(idem_cs, sizeof(idem_cs), "%s-cs", idem);
	is_int(stripe_create_checkout(c, &req, idem_cs, &r2), STRIPE_OK, "fake: checkout (%s)", r2.message);
	ok(strncmp(r2.id, "cs_test_", 8) == 0, "fake: cs_test_ id");
	ok(strncmp(r2.url, "https://checkout.stripe.com/", 28) == 0, "fake: checkout url");
	req.invoice = 1;
	snprintf(idem_cs, sizeof(idem_cs), "%s-cs-invoice", idem);
	is_int(stripe_create_checkout(c, &req, idem_cs, &r2), STRIPE_OK, "fake: checkout with invoice_creation (%s)",
	       r2.message);
	req.invoice = 0;
	req.customer = "cus_doesnotexist";
	is_int(stripe_create_checkout(c, &req, "unit-missing-customer", &r2), STRIPE_ERR_API,
	       "fake: unknown customer is Stripe's error");
	ok(strstr(r2.message, "No such customer") != NULL, "fake: message %s", r2.message);
	is_int(stripe_get_payment_intent(c, "pi_unitdoesnotexist", &r2), STRIPE_ERR_API,
	       "fake: an unknown PaymentIntent is Stripe's error");
	is_int(r2.http_status, 404, "fake: as a 404");
	ok(strstr(r2.message, "No such payment_intent") != NULL, "fake: message %s", r2.message);
	test_fake_off_session(c, base, r.id, idem);
	stripe_client_free(c);
	fake_stop();
}

int main(void)
{
	/* main's job in creditd too (see stripe.c). */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_form_encoding();
	test_form_cap();
	if (!ok(server_start() == 0, "local responder started")) {
		curl_global_cleanup();
		return done_testing();
	}
	test_base_policy();
	test_call_checks();
	test_customer_ok();
	test_checkout_ok();
	test_save_card_and_payment_intent();
	test_get_payment_intent();
	test_cancel_payment_intent();
	test_errors();
	test_transport();
	test_reuse();
	test_against_fake();
	server_stop();
	curl_global_cleanup();
	return done_testing();
}
