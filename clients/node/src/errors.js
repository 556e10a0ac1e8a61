// errors.js: one class per creditd error code, so an app can catch what it
// handles (out of credit, a limit, a rate limit) and let the rest through.
// The classes only describe an answer; nothing here talks to the network.

/**
 * An error answer of creditd: {"error": {"type", "code", "message", "param", ...}}.
 * status is null when no answer came (ConnectionFailed).
 */
export class CreditdError extends Error {
  /** Whether the client sends the request again after an error of this class (up to maxRetries). */
  static retried = false;

  constructor(status, body = null, headers = {}, message = null) {
    const err = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : {};
    const text = err.message || message || `HTTP ${status}`;
    const where = status == null ? 'no answer' : String(status);
    const param = err.param ? ` (param ${err.param})` : '';
    super(`${where} ${err.code || 'error'}: ${text}${param}`);
    this.name = new.target.name;
    this.status = status;
    this.body = body;
    this.headers = headers || {};
    this.type = err.type ?? null;
    this.code = err.code ?? null;
    this.param = err.param ?? null;
    this.errorMessage = text;
    this.availableMicros = err.available_micros ?? null;
    this.requiredMicros = err.required_micros ?? null;
    this.requestId = this.headers['x-request-id'] ?? null;
    this.retryAfter = retryAfterOf(this.headers, err);
  }
}

/**
 * Seconds to wait, the same in the three clients: the Retry-After header when
 * it is delta-seconds (digits only: creditd sends no HTTP date, and a proxy's
 * is not read), else the error object's retry_after_seconds when it is a
 * non-negative integer; null when neither.
 */
function retryAfterOf(headers, err) {
  const header = headers['retry-after'];
  if (typeof header === 'string' && /^[ \t]*\d{1,15}[ \t]*$/.test(header)) return Number(header);
  const fromBody = err.retry_after_seconds;
  return Number.isSafeInteger(fromBody) && fromBody >= 0 ? fromBody : null;
}

/**
 * 400 invalid_request (param names the field), and the other answers of type
 * invalid_request_error: 405 method_not_allowed, 408 request_timeout, 415
 * unsupported_media_type. The request itself is wrong: sending it again will not help.
 */
export class InvalidRequest extends CreditdError {}
/** 413 payload_too_large: the body is over creditd's limit. */
export class PayloadTooLarge extends InvalidRequest {}
/** 401: no or wrong API key (or browser token). */
export class Unauthorized extends CreditdError {}
/** 402 insufficient_credits: not enough available credit (availableMicros, requiredMicros). */
export class InsufficientCredits extends CreditdError {}
/** 403 forbidden: the key lacks the scope. */
export class Forbidden extends CreditdError {}
/** 403 account_suspended: the account is not active. */
export class AccountSuspended extends Forbidden {}
/** 404: unknown account, hold, member, promo code or route (or an account a bound key may not reach). */
export class NotFound extends CreditdError {}
/** 409: Idempotency-Key reused with another body, hold already settled/released, ... */
export class Conflict extends CreditdError {}
/** 409 already_redeemed: this account redeemed the code before. */
export class AlreadyRedeemed extends Conflict {}
/** 409 promo_exhausted: every redemption of the code is used. */
export class PromoExhausted extends Conflict {}
/** 409 promo_expired: the code is past its expires_at. */
export class PromoExpired extends Conflict {}
/** 429 for a spending limit (availableMicros, requiredMicros): the base of the three below. */
export class LimitReached extends CreditdError {}
/** 429 billing_hard_limit_reached: the monthly limit. */
export class BillingHardLimitReached extends LimitReached {}
/** 429 daily_limit_reached: the daily limit. */
export class DailyLimitReached extends LimitReached {}
/** 429 member_cap_reached: the workspace member's monthly cap. */
export class MemberCapReached extends LimitReached {}
/**
 * 429 rate_limit_exceeded: requests or tokens per minute, top-ups per hour,
 * failed authentications; and a 429 without creditd's JSON error (a web
 * server's own rate limit, nginx's limit_req). retryAfter in seconds. Not retried.
 */
export class RateLimited extends CreditdError {}
/** 500 internal_error (creditd logged its cause; nothing changed), and any other 5xx without a class of its own. */
export class ServerError extends CreditdError {}
/**
 * 502 upstream_error: Stripe failed (message carries Stripe's); also a 502
 * with a code this client does not know. Not retried (a 502 without a code is Unavailable).
 */
export class UpstreamError extends CreditdError {}
/**
 * 503 unavailable: the database is unreachable (retryAfter seconds, from
 * Retry-After); also 503 gateway_busy, any other 503 without a code this
 * client knows (a proxy's), code unavailable with any 5xx status (Apache's
 * 502 and 504 error pages), and a 502 or 504 without creditd's JSON error
 * (the web server could not reach creditd). Retried, with the call's one
 * Idempotency-Key.
 */
export class Unavailable extends CreditdError {
  static retried = true;
}
/** 503 stripe_not_configured: a top-up on a creditd without Stripe settings (not retried). */
export class StripeNotConfigured extends Unavailable {
  static retried = false;
}
/** 503 provider_not_configured: the gateway has no key for the provider (not retried). */
export class ProviderNotConfigured extends Unavailable {
  static retried = false;
}

/**
 * No answer: connection refused, DNS failure, timeout. status is null; cause
 * is the underlying error. For a settle the outcome is unknown: settling
 * again with the same figures is safe (creditd answers the first result).
 */
export class ConnectionFailed extends CreditdError {
  static retried = true;

  constructor(reason, cause) {
    super(null, null, {}, `cannot reach creditd: ${reason}`);
    this.reason = reason;
    if (cause !== undefined) this.cause = cause;
  }
}

/** A pushed event whose Creditd-Signature does not check out. */
export class BadSignature extends Error {
  constructor(message) {
    super(message);
    this.name = 'BadSignature';
  }
}

// Every code of creditd's error table with the status it comes with
// (src/core/errors.c; clients/vocabulary.json holds the three clients to it).
const BY_CODE = {
  invalid_request: [400, InvalidRequest],
  unauthorized: [401, Unauthorized],
  insufficient_credits: [402, InsufficientCredits],
  forbidden: [403, Forbidden],
  account_suspended: [403, AccountSuspended],
  not_found: [404, NotFound],
  method_not_allowed: [405, InvalidRequest],
  request_timeout: [408, InvalidRequest],
  conflict: [409, Conflict],
  already_redeemed: [409, AlreadyRedeemed],
  promo_exhausted: [409, PromoExhausted],
  promo_expired: [409, PromoExpired],
  payload_too_large: [413, PayloadTooLarge],
  unsupported_media_type: [415, InvalidRequest],
  billing_hard_limit_reached: [429, BillingHardLimitReached],
  daily_limit_reached: [429, DailyLimitReached],
  member_cap_reached: [429, MemberCapReached],
  rate_limit_exceeded: [429, RateLimited],
  internal_error: [500, ServerError],
  upstream_error: [502, UpstreamError],
  unavailable: [503, Unavailable],
  gateway_busy: [503, Unavailable],
  stripe_not_configured: [503, StripeNotConfigured],
  provider_not_configured: [503, ProviderNotConfigured],
};

// A code that is its class with any 5xx status: a web server's error page
// naming it (Apache's ErrorDocument answers 502 and 504 with unavailable).
const ANY_5XX = { unavailable: Unavailable };

// An answer without a code, not creditd's JSON error (a web server's own
// page): nginx's limit_req 429 is a rate limit, not a spending limit; a 502,
// 503 or 504 is the web server not reaching creditd, as good as no answer.
const WITHOUT_CODE = { 429: RateLimited, 502: Unavailable, 503: Unavailable, 504: Unavailable };

// When the code is unknown or comes with another status (or is missing and
// the status is not above), the status picks the class.
const BY_STATUS = {
  400: InvalidRequest, 401: Unauthorized, 402: InsufficientCredits, 403: Forbidden, 404: NotFound,
  405: InvalidRequest, 408: InvalidRequest, 409: Conflict, 413: PayloadTooLarge, 415: InvalidRequest,
  429: LimitReached, 500: ServerError, 502: UpstreamError, 503: Unavailable,
};

/**
 * The class of an error answer: its code's when creditd names a code with
 * that status, or the code is `unavailable` and the status any 5xx; without
 * a code (not a string: not creditd's JSON error, a web server's page), a 429
 * is RateLimited and a 502, 503 or 504 Unavailable; else its status's (any
 * other 4xx InvalidRequest, 5xx ServerError), else CreditdError.
 */
export function errorClass(status, code) {
  const hasCode = typeof code === 'string';
  const known = hasCode && Object.hasOwn(BY_CODE, code) ? BY_CODE[code] : null;
  if (known && known[0] === status) return known[1];
  if (hasCode && Object.hasOwn(ANY_5XX, code) && status >= 500 && status < 600) return ANY_5XX[code];
  if (!hasCode && Object.hasOwn(WITHOUT_CODE, status)) return WITHOUT_CODE[status];
  if (Object.hasOwn(BY_STATUS, status)) return BY_STATUS[status];
  if (status >= 400 && status < 500) return InvalidRequest;
  return status >= 500 && status < 600 ? ServerError : CreditdError;
}

/** The error for one non-2xx answer. headers: lower-case names. */
export function errorFor(status, body, headers, message) {
  const cls = errorClass(status, body?.error?.code);
  return new cls(status, body, headers, message);
}
