/* errors.c: the table that maps every creditd error to its HTTP answer.
 * Keep it the only place where statuses, types and codes are spelled;
 * its rows are read through errors.h's accessors. */
#include "errors.h"
#include <stddef.h>

const struct errors_row errors_table[CD_E__COUNT] = {
	[CD_OK] = {200, NULL, NULL, "success"},
	[CD_E_INVALID] = {400, "invalid_request_error", "invalid_request", "invalid request"},
	[CD_E_UNAUTHORIZED] = {401, "authentication_error", "unauthorized", "missing or wrong API key"},
	[CD_E_FORBIDDEN] = {403, "permission_error", "forbidden", "API key lacks the scope"},
	[CD_E_SUSPENDED] = {403, "permission_error", "account_suspended", "account is not active"},
	[CD_E_NOT_FOUND] = {404, "not_found_error", "not_found", "not found"},
	[CD_E_METHOD] = {405, "invalid_request_error", "method_not_allowed", "method not allowed"},
	[CD_E_CONFLICT] = {409, "conflict_error", "conflict", "conflict"},
	[CD_E_ALREADY_REDEEMED] = {409, "conflict_error", "already_redeemed", "promo code already redeemed"},
	[CD_E_PROMO_EXHAUSTED] = {409, "conflict_error", "promo_exhausted", "promo code used up"},
	[CD_E_PROMO_EXPIRED] = {409, "conflict_error", "promo_expired", "promo code expired"},
	[CD_E_INSUFFICIENT] = {402, "insufficient_quota", "insufficient_credits", "not enough credit"},
	[CD_E_HARD_LIMIT] = {429, "insufficient_quota", "billing_hard_limit_reached", "monthly limit reached"},
	[CD_E_MEMBER_CAP] = {429, "insufficient_quota", "member_cap_reached", "member cap reached"},
	[CD_E_DAILY_LIMIT] = {429, "insufficient_quota", "daily_limit_reached", "daily limit reached"},
	[CD_E_RATE_LIMITED] = {429, "rate_limit_error", "rate_limit_exceeded", "rate limit exceeded"},
	[CD_E_TOO_LARGE] = {413, "invalid_request_error", "payload_too_large", "request body too large"},
	[CD_E_MEDIA_TYPE] = {415, "invalid_request_error", "unsupported_media_type", "unsupported media type"},
	[CD_E_BODY_TIMEOUT] = {408, "invalid_request_error", "request_timeout", "request body too slow"},
	[CD_E_UPSTREAM] = {502, "api_error", "upstream_error", "Stripe failed"},
	[CD_E_UNAVAILABLE] = {503, "api_error", "unavailable", "database unavailable"},
	[CD_E_STRIPE_OFF] = {503, "api_error", "stripe_not_configured", "Stripe is not configured"},
	[CD_E_PROVIDER_OFF] = {503, "api_error", "provider_not_configured", "no provider key is configured"},
	[CD_E_BUSY] = {503, "api_error", "gateway_busy", "too many gateway calls in flight"},
	[CD_E_RETRY] = {503, "api_error", "unavailable", "transient conflict, retry"},
	[CD_E_DUE] = {500, "api_error", "internal_error", "accounts due before the operation"},
	[CD_E_INTERNAL] = {500, "api_error", "internal_error", "internal error"},
};

const char *errors_http_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} known[] = {
		{200, "OK"}, {201, "Created"}, {204, "No Content"}, {304, "Not Modified"}, {400, "Bad Request"},
		{401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
		{405, "Method Not Allowed"}, {408, "Request Timeout"}, {409, "Conflict"}, {413, "Content Too Large"},
		{415, "Unsupported Media Type"}, {422, "Unprocessable Content"}, {429, "Too Many Requests"},
		{500, "Internal Server Error"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
		{504, "Gateway Timeout"},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].status == status)
			return known[i].reason;
	return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : status >= 300 ? "Redirection"
		: "Success";
}
