/* refusal.c: the one table that words every refusal of the ledger.
 * A row per cause: its error (status, type and code come from errors.c),
 * the field to blame, and a message whose arguments are the refusal's own
 * figures, in the order the row's `args` says. */
#include "refusal.h"
#include "jsonio.h"
#include <stdio.h>
#include <string.h>

enum refusal_args {
	ARGS_NONE,		/* the message has no argument */
	ARGS_SUBJECT,		/* %s: subject */
	ARGS_SUBJECTS,		/* %s %s: subject, subject2 */
	ARGS_AMOUNTS,		/* %lld %lld: available, required */
	ARGS_AMOUNT,		/* %lld: amount */
	ARGS_BALANCE_CAP,	/* %lld: LIMIT_BALANCE_MICROS_MAX */
	ARGS_CHARGE_CAP,	/* %lld %lld: amount, LIMIT_AMOUNT_MICROS_MAX */
	ARGS_RANGE,		/* %s %lld: subject, LIMIT_BALANCE_MICROS_MAX */
	ARGS_RATE		/* %s %lld %lld: subject, amount, retry_after */
};

struct refusal_row {
	enum cd_err err;
	const char *param;	/* NULL: no single field is to blame */
	enum refusal_args args;
	int with_amounts;	/* available_micros and required_micros in the body */
	const char *format;
};

static const struct refusal_row table[REFUSE__COUNT] = {
	[REFUSE_NONE] = {CD_OK, NULL, ARGS_NONE, 0, ""},
	[REFUSE_ACCOUNT_UNKNOWN] = {CD_E_NOT_FOUND, NULL, ARGS_SUBJECT, 0, "account '%s' not found"},
	[REFUSE_ACCOUNT_INACTIVE] = {CD_E_SUSPENDED, "account", ARGS_NONE, 1, "the account is not active"},
	[REFUSE_ACCOUNT_EXISTS] = {CD_E_CONFLICT, "id", ARGS_SUBJECT, 0,
				   "account '%s' already exists with other settings"},
	[REFUSE_INSUFFICIENT] = {CD_E_INSUFFICIENT, NULL, ARGS_AMOUNTS, 1,
				 "insufficient credits: %lld micros available, %lld required"},
	[REFUSE_MONTHLY_LIMIT] = {CD_E_HARD_LIMIT, NULL, ARGS_AMOUNTS, 1,
				  "the monthly spending limit would be exceeded: %lld micros left this month, "
				  "%lld required"},
	[REFUSE_DAILY_LIMIT] = {CD_E_DAILY_LIMIT, NULL, ARGS_AMOUNTS, 1,
				"the daily spending limit would be exceeded: %lld micros left today, %lld required"},
	[REFUSE_MEMBER_CAP] = {CD_E_MEMBER_CAP, "member", ARGS_AMOUNTS, 1,
			       "the member's monthly cap would be exceeded: %lld micros left, %lld required"},
	[REFUSE_DEBIT_INSUFFICIENT] = {CD_E_INSUFFICIENT, "amount_micros", ARGS_AMOUNTS, 1,
				       "the debit exceeds the available balance: %lld micros available, "
				       "%lld required"},
	[REFUSE_HOLD_UNKNOWN] = {CD_E_NOT_FOUND, "hold_id", ARGS_SUBJECT, 0, "no hold '%s'"},
	[REFUSE_HOLD_SETTLE_CONFLICT] = {CD_E_CONFLICT, "hold_id", ARGS_NONE, 0,
					 "the hold was released, or settled with other figures"},
	[REFUSE_HOLD_RELEASE_CONFLICT] = {CD_E_CONFLICT, "hold_id", ARGS_NONE, 0, "the hold was already settled"},
	[REFUSE_HOLD_GATEWAYS] = {CD_E_CONFLICT, "hold_id", ARGS_NONE, 0,
				  "the hold is a gateway call's: the gateway settles its own calls"},
	[REFUSE_HOLD_UNPRICED] = {CD_E_INVALID, "model", ARGS_NONE, 0,
				  "the hold's model or action has no price, or the tokens are too large to price"},
	[REFUSE_USAGE_CONFLICT] = {CD_E_CONFLICT, "request_id", ARGS_NONE, 0,
				   "this request_id was recorded with other figures"},
	[REFUSE_GRANT_EXPIRED] = {CD_E_INVALID, "expires_at", ARGS_NONE, 0, "expires_at must be in the future"},
	[REFUSE_BALANCE_CAP] = {CD_E_INVALID, "amount_micros", ARGS_BALANCE_CAP, 0,
				"the grant would raise the balance above %lld micros"},
	[REFUSE_CHARGE_CAP] = {CD_E_INVALID, NULL, ARGS_CHARGE_CAP, 0,
			       "the charge of %lld micros is above the %lld micros one operation may move"},
	[REFUSE_OUT_OF_RANGE] = {CD_E_INVALID, NULL, ARGS_RANGE, 0,
				 "the charge would take the account's %s beyond +/-%lld micros; nothing was changed"},
	[REFUSE_OVERDRAFT_BELOW_DEBT] = {CD_E_INVALID, "overdraft_limit_micros", ARGS_AMOUNT, 0,
					 "overdraft_limit_micros cannot be below the account's current debt of "
					 "%lld micros"},
	[REFUSE_NOT_WORKSPACE] = {CD_E_INVALID, "id", ARGS_SUBJECT, 0,
				  "members belong to workspace accounts; '%s' is not one"},
	[REFUSE_MEMBER_UNKNOWN] = {CD_E_NOT_FOUND, "member", ARGS_SUBJECTS, 0, "no account '%s' with member '%s'"},
	[REFUSE_KEY_REUSED] = {CD_E_CONFLICT, "idempotency_key", ARGS_NONE, 0,
			       "this Idempotency-Key was used with another request"},
	[REFUSE_PROMO_UNKNOWN] = {CD_E_NOT_FOUND, "code", ARGS_SUBJECT, 0, "no promo code '%s'"},
	[REFUSE_PROMO_EXISTS] = {CD_E_CONFLICT, "code", ARGS_SUBJECT, 0, "promo code '%s' exists already"},
	[REFUSE_PROMO_REDEEMED] = {CD_E_ALREADY_REDEEMED, "code", ARGS_SUBJECT, 0,
				   "this account redeemed promo code '%s' already"},
	[REFUSE_PROMO_EXHAUSTED] = {CD_E_PROMO_EXHAUSTED, "code", ARGS_SUBJECT, 0,
				    "every redemption of promo code '%s' is used"},
	[REFUSE_PROMO_EXPIRED] = {CD_E_PROMO_EXPIRED, "code", ARGS_SUBJECT, 0, "promo code '%s' has expired"},
	[REFUSE_PLAN_UNKNOWN] = {CD_E_INVALID, "plan", ARGS_SUBJECT, 0,
				 "no plan '%s' in the catalogue (PUT /v1/plans/{name} makes one)"},
	[REFUSE_PRICE_IN_PLAN] = {CD_E_CONFLICT, "stripe_price_ids", ARGS_SUBJECTS, 0,
				  "Stripe price '%s' belongs to plan '%s' already (a price names one plan)"},
	[REFUSE_RATE_LIMIT] = {CD_E_RATE_LIMITED, NULL, ARGS_RATE, 0,
			       "%s (%lld) reached for this minute: retry after %lld s"},
	[REFUSE_NO_CARD] = {CD_E_INVALID, "auto_recharge", ARGS_SUBJECT, 0,
			    "auto_recharge needs a saved card and account '%s' has none: a top-up with "
			    "\"save_card\": true keeps one"},
	[REFUSE_REFERRAL_UNKNOWN] = {CD_E_INVALID, "referral_code", ARGS_SUBJECT, 0,
				     "no other account has referral code '%s'"},
};

static const struct refusal_row *row_of(enum refusal_why why)
{
	return why > REFUSE_NONE && why < REFUSE__COUNT ? &table[why] : &table[REFUSE_NONE];
}

enum cd_err refusal_set(struct refusal *r, enum refusal_why why, const char *subject, const char *subject2)
{
	memset(r, 0, sizeof(*r));
	r->why = why;
	snprintf(r->subject, sizeof(r->subject), "%s", subject != NULL ? subject : "");
	snprintf(r->subject2, sizeof(r->subject2), "%s", subject2 != NULL ? subject2 : "");
	return row_of(why)->err;
}

enum cd_err refusal_set_amounts(struct refusal *r, enum refusal_why why, int64_t available_micros,
				int64_t required_micros)
{
	enum cd_err e = refusal_set(r, why, NULL, NULL);
	r->available_micros = available_micros;
	r->required_micros = required_micros;
	return e;
}

enum cd_err refusal_set_range(struct refusal *r, enum refusal_why why, const char *counter, int64_t charge_micros,
			      const char *param)
{
	enum cd_err e = refusal_set(r, why, counter, NULL);
	r->amount_micros = charge_micros;
	r->param = param;
	return e;
}

enum cd_err refusal_err(enum refusal_why why)
{
	return row_of(why)->err;
}

int refusal_kept(enum refusal_why why)
{
	int status = errors_status(refusal_err(why));
	/* A rate limit says "again in a few seconds": the same request (and
	 * Idempotency-Key) sent then is decided anew, not answered 429 again. */
	return (status == 402 || status == 403 || status == 404 || status == 409 || status == 429) &&
	       why != REFUSE_RATE_LIMIT;
}

/* The row's format is a constant of the table above, its arguments chosen
 * by the row's `args`: the one place a format is not a literal. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void word(const struct refusal_row *row, const struct refusal *r, char *msg, size_t cap)
{
	switch (row->args) {
	case ARGS_SUBJECT:
		snprintf(msg, cap, row->format, r->subject);
		break;
	case ARGS_SUBJECTS:
		snprintf(msg, cap, row->format, r->subject, r->subject2);
		break;
	case ARGS_AMOUNTS:
		snprintf(msg, cap, row->format, (long long)r->available_micros, (long long)r->required_micros);
		break;
	case ARGS_AMOUNT:
		snprintf(msg, cap, row->format, (long long)r->amount_micros);
		break;
	case ARGS_BALANCE_CAP:
		snprintf(msg, cap, row->format, (long long)LIMIT_BALANCE_MICROS_MAX);
		break;
	case ARGS_CHARGE_CAP:
		snprintf(msg, cap, row->format, (long long)r->amount_micros, (long long)LIMIT_AMOUNT_MICROS_MAX);
		break;
	case ARGS_RANGE:
		snprintf(msg, cap, row->format, r->subject, (long long)LIMIT_BALANCE_MICROS_MAX);
		break;
	case ARGS_RATE:
		snprintf(msg, cap, row->format, r->subject, (long long)r->amount_micros, (long long)r->retry_after);
		break;
	case ARGS_NONE:
	default:
		snprintf(msg, cap, "%s", row->format);
		break;
	}
}
#pragma GCC diagnostic pop

json_t *refusal_json(const struct refusal *r)
{
	const struct refusal_row *row = row_of(r->why);
	const char *param = r->param != NULL ? r->param : row->param;
	char msg[2 * REFUSAL_SUBJECT_BYTES + 256];
	word(row, r, msg, sizeof(msg));
	/* Subjects are ids the ledger stored or checked, valid UTF-8 unless
	 * one was cut short. */
	json_t *message = jsonio_text(msg);
	json_t *err = json_pack("{s:s, s:s, s:o, s:o}", "type", errors_type(row->err), "code", errors_code(row->err),
				"message", message != NULL ? message : json_string("refused"),
				"param", param != NULL ? json_string(param) : json_null());
	if (err != NULL && row->args == ARGS_RATE)
		json_object_set_new(err, "retry_after_seconds", json_integer((json_int_t)r->retry_after));
	if (err != NULL && row->with_amounts) {
		json_object_set_new(err, "available_micros", json_integer((json_int_t)r->available_micros));
		json_object_set_new(err, "required_micros", json_integer((json_int_t)r->required_micros));
	}
	return err != NULL ? json_pack("{s:o}", "error", err) : NULL;
}
