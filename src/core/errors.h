/* errors.h: the one error enum of creditd and its HTTP mapping.
 *
 * Every failure an API call can answer with is one value here; a single
 * table (errors.c) maps it to the HTTP status, the error type and code of
 * docs/api.md ("Errors"). "Not found" is an answer, not a failure. */
#ifndef CREDITD_ERRORS_H
#define CREDITD_ERRORS_H
#include <assert.h>

enum cd_err {
	CD_OK = 0,
	CD_E_INVALID,		/* 400 malformed JSON, missing/invalid field, unknown model */
	CD_E_UNAUTHORIZED,	/* 401 no or wrong API key */
	CD_E_FORBIDDEN,		/* 403 the key lacks the scope */
	CD_E_SUSPENDED,		/* 403 the account is not active */
	CD_E_NOT_FOUND,		/* 404 unknown account, hold, route */
	CD_E_METHOD,		/* 405 known path, other method */
	CD_E_CONFLICT,		/* 409 idempotency key reuse, hold state */
	CD_E_ALREADY_REDEEMED,	/* 409 the account redeemed this promo code already */
	CD_E_PROMO_EXHAUSTED,	/* 409 every redemption of the promo code is used */
	CD_E_PROMO_EXPIRED,	/* 409 the promo code is past its expires_at */
	CD_E_INSUFFICIENT,	/* 402 not enough available credit */
	CD_E_HARD_LIMIT,	/* 429 monthly limit would be exceeded */
	CD_E_MEMBER_CAP,	/* 429 member's monthly cap would be exceeded */
	CD_E_DAILY_LIMIT,	/* 429 the account's daily limit would be exceeded */
	CD_E_RATE_LIMITED,	/* 429 requests or tokens per minute, with Retry-After */
	CD_E_TOO_LARGE,		/* 413 body over the limit */
	CD_E_MEDIA_TYPE,	/* 415 a Content-Type other than application/json */
	CD_E_BODY_TIMEOUT,	/* 408 the body did not arrive before its deadline */
	CD_E_UPSTREAM,		/* 502 Stripe failed or timed out */
	CD_E_UNAVAILABLE,	/* 503 database unreachable */
	CD_E_STRIPE_OFF,	/* 503 top-up without Stripe configured */
	CD_E_PROVIDER_OFF,	/* 503 a gateway call with no provider key configured and none brought */
	CD_E_BUSY,		/* 503 [gateway] max_streams calls in flight, with Retry-After */
	CD_E_RETRY,		/* internal: transient DB conflict, retry the transaction */
	CD_E_DUE,		/* internal: an attempt met an account with something due: ended, nothing
				 * written, it is brought due first (store_tx, ledger_holds.c); never answered */
	CD_E_INTERNAL,		/* 500 a bug or an unexpected database answer */
	CD_E__COUNT
};

/* An error's answer, its one row of the table: the HTTP status, error
 * type and code (docs/api.md, "Errors") and a sentence naming it, for
 * logs. An answer made of several of them asks for the row once. */
struct errors_row {
	int status;
	const char *type;
	const char *code;
	const char *text;
};
/* The table (errors.c), read through the accessors below: a row of a
 * constant table, a header's inline lookup as a module's configuration
 * block is (docs/architecture.md, "Counting a request's walk"). */
extern const struct errors_row errors_table[CD_E__COUNT];
/* The row of e, static storage. */
static inline const struct errors_row *errors_row(enum cd_err e)
{
	assert(e >= 0);
	assert(e < CD_E__COUNT);
	return &errors_table[e];
}
/* A sentence naming the error, for logs. Static storage. */
static inline const char *errors_strerror(enum cd_err e) { return errors_row(e)->text; }
/* HTTP status, error type and error code (docs/api.md, "Errors"). Static storage. */
static inline int errors_status(enum cd_err e) { return errors_row(e)->status; }
static inline const char *errors_type(enum cd_err e) { return errors_row(e)->type; }
static inline const char *errors_code(enum cd_err e) { return errors_row(e)->code; }
/* The reason phrase of an HTTP status (RFC 9110), for the status line; a
 * status it does not know gets its class's ("Client Error", "Server
 * Error", ...): the gateway passes on whatever the provider answered. */
const char *errors_http_reason(int status);
#endif
