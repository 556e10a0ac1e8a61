/* refusal.h: the ledger's "no", kept structured until it is worded.
 *
 * When the ledger refuses an operation (an unknown account, a hold in the
 * wrong state, not enough credit, a limit) it says why with one value of
 * enum refusal_why and the figures that explain it, not with a sentence.
 * refusal_json() words it, once, from one table: the error code and HTTP
 * status come from errors.c, the field to blame and the message from the
 * row of its cause. The ledger words it to store the answer under an
 * Idempotency-Key in the transaction that decided it; the API words the
 * same struct to answer it. Nothing here knows HTTP, SQL or FastCGI. */
#ifndef CREDITD_REFUSAL_H
#define CREDITD_REFUSAL_H
#include <jansson.h>
#include <stdint.h>
#include "errors.h"
#include "limits.h"

enum refusal_why {
	REFUSE_NONE = 0,
	REFUSE_ACCOUNT_UNKNOWN,		/* 404: no account with that id */
	REFUSE_ACCOUNT_INACTIVE,	/* 403: suspended or closed (guard charges) */
	REFUSE_ACCOUNT_EXISTS,		/* 409: the id exists with other settings */
	REFUSE_INSUFFICIENT,		/* 402: the charge exceeds what is available */
	REFUSE_MONTHLY_LIMIT,		/* 429: month spend + holds + charge > limit */
	REFUSE_MEMBER_CAP,		/* 429: the member's monthly cap */
	REFUSE_DAILY_LIMIT,		/* 429: day spend + holds + charge > daily limit */
	REFUSE_DEBIT_INSUFFICIENT,	/* 402: a debit exceeds what is available */
	REFUSE_HOLD_UNKNOWN,		/* 404: no such hold */
	REFUSE_HOLD_SETTLE_CONFLICT,	/* 409: released, or settled with other figures */
	REFUSE_HOLD_RELEASE_CONFLICT,	/* 409: release of a settled or captured hold */
	REFUSE_HOLD_GATEWAYS,		/* 409: a settle or release of a gateway call's hold by anyone but its call */
	REFUSE_HOLD_UNPRICED,		/* 400: the hold's model or action has no price now */
	REFUSE_USAGE_CONFLICT,		/* 409: request_id recorded with other figures */
	REFUSE_GRANT_EXPIRED,		/* 400: expires_at is not in the future */
	REFUSE_BALANCE_CAP,		/* 400: the grant would pass LIMIT_BALANCE_MICROS_MAX */
	REFUSE_CHARGE_CAP,		/* 400: one charge above LIMIT_AMOUNT_MICROS_MAX (amount: the charge) */
	REFUSE_OUT_OF_RANGE,		/* 400: a counter would leave ±LIMIT_BALANCE_MICROS_MAX (subject: which) */
	REFUSE_OVERDRAFT_BELOW_DEBT,	/* 400: overdraft limit below the current debt */
	REFUSE_NOT_WORKSPACE,		/* 400: members need a workspace account */
	REFUSE_MEMBER_UNKNOWN,		/* 404: no such member */
	REFUSE_KEY_REUSED,		/* 409: Idempotency-Key used with another request */
	REFUSE_PROMO_UNKNOWN,		/* 404: no such promo code */
	REFUSE_PROMO_EXISTS,		/* 409: the promo code exists (any case) */
	REFUSE_PROMO_REDEEMED,		/* 409: the account redeemed it already */
	REFUSE_PROMO_EXHAUSTED,		/* 409: its max_redemptions are used */
	REFUSE_PROMO_EXPIRED,		/* 409: past its expires_at */
	REFUSE_PLAN_UNKNOWN,		/* 400: an account's plan is not in the catalogue */
	REFUSE_PRICE_IN_PLAN,		/* 409: a Stripe price id belongs to another plan */
	REFUSE_NO_CARD,			/* 400: auto-recharge without a saved card */
	REFUSE_RATE_LIMIT,		/* 429: requests or tokens per minute (subject: which, amount: the limit) */
	REFUSE_REFERRAL_UNKNOWN,	/* 400: no account has that referral code, or it is the new account's own */
	REFUSE__COUNT
};

/* Subjects are ids quoted in the message: an account, a hold, a member. */
#define REFUSAL_SUBJECT_BYTES (LIMIT_ACCOUNT_ID_BYTES + 1)
_Static_assert(LIMIT_ACCOUNT_ID_BYTES >= LIMIT_REQUEST_ID_BYTES, "a subject holds any id an app sends");

struct refusal {
	enum refusal_why why;
	int64_t available_micros;	/* 402/429: what the check found available */
	int64_t required_micros;	/* 402/429: what the charge needed */
	int64_t amount_micros;		/* a figure the message quotes (the debt) */
	char subject[REFUSAL_SUBJECT_BYTES];	/* the id the message names ("" none) */
	char subject2[REFUSAL_SUBJECT_BYTES];	/* a second id (the member) */
	int64_t retry_after;		/* 429 rate limits: seconds until the window ends */
	/* A spending limit's 429 that holds with nothing reserved: only the
	 * period's end (or the operator) passes it, no settle of a pending
	 * hold will (x-should-retry: false, docs/api.md). */
	int lasting;
	const char *param;		/* the field to blame when not the row's (a static string) */
};

/* Fills r (cleared first) and returns its error code. subject and
 * subject2 may be NULL; longer ids are cut (they are only quoted). */
enum cd_err refusal_set(struct refusal *r, enum refusal_why why, const char *subject, const char *subject2);
/* The same, with the figures of a 402/429. */
enum cd_err refusal_set_amounts(struct refusal *r, enum refusal_why why, int64_t available_micros,
				int64_t required_micros);
/* A charge or move refused by the money range
 * (docs/api.md, "Money stays in range"): REFUSE_CHARGE_CAP with the charge,
 * or REFUSE_OUT_OF_RANGE naming the counter (a static string, as money leaves
 * it); param is the request's field to blame. */
enum cd_err refusal_set_range(struct refusal *r, enum refusal_why why, const char *counter, int64_t charge_micros,
			      const char *param);
/* The error code of a cause (CD_OK for REFUSE_NONE). */
enum cd_err refusal_err(enum refusal_why why);
/* 1 when a refusal is an answer about the ledger's state (402, 403, 404,
 * 409, 429), which an Idempotency-Key replays; 0 for a 400, which the
 * client fixes and sends again under the same key. */
int refusal_kept(enum refusal_why why);
/* The error object (docs/api.md, "Errors"), {"error": {type, code, message, param, ...}}:
 * a new reference, NULL on allocation failure. */
json_t *refusal_json(const struct refusal *r);
#endif
