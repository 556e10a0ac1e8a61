/* stripe_check.h: what stripe.c takes from stripe_check.c: the client's
 * settings and a call's arguments checked. */
#ifndef CREDITD_STRIPE_CHECK_H
#define CREDITD_STRIPE_CHECK_H

/* Stripe keys are ~110 characters; this only bounds the header buffer. */
#define STRIPE_KEY_MAX 512
#define STRIPE_BASE_MAX 1024

enum stripe_base_kind {
	STRIPE_BASE_BAD = 0,
	STRIPE_BASE_HTTPS,
	STRIPE_BASE_LOOPBACK_HTTP
};

/* 1 when every byte is visible ASCII (no space, no control, no 8-bit). */
int stripe_check_visible(const char *s);
/* The API base's kind: https, plain http to 127.0.0.1, localhost or
 * [::1] (an optional port, no user info), else bad. */
enum stripe_base_kind stripe_check_base(const char *base);
/* 1 when k is a key Stripe could have issued: sk_ or rk_, visible ASCII. */
int stripe_check_key(const char *k);
/* 1 when k is an Idempotency-Key: 1 to LIMIT_IDEMPOTENCY_KEY_BYTES
 * visible ASCII bytes. */
int stripe_check_idempotency_key(const char *k);
#endif
