// errors.js: one class per creditd error code, so an app can catch what it
// handles (out of credit, a limit, a rate limit) and let the rest through.
// The classes only describe an answer; nothing here talks to the network.

/**
 * An error answer of creditd: {"error": {"type", "code", "message", "param", ...}}.
 * status is null when no answer came (ConnectionFailed).
 */
export class CreditdError extends Error {
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
  }
}

/** Reads Retry-After (seconds), else the body's retry_after_seconds; null when neither. */
function retryAfterOf(error) {
  const header = error.headers['retry-after'];
  if (header != null && /^\s*\d+\s*$/.test(header)) return Number(header);
  const fromBody = error.body?.error?.retry_after_seconds;
  return Number.isInteger(fromBody) ? fromBody : null;
}

/** 400: malformed request; param names the field. */
export class InvalidRequest extends CreditdError {}
/** 401: no or wrong API key (or browser token). */
export class Unauthorized extends CreditdError {}
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
/** 402 insufficient_credits: not enough available credit (availableMicros, requiredMicros). */
export class InsufficientCredits extends CreditdError {}
/** 429 for a spending limit (availableMicros, requiredMicros): the base of the three below. */
export class LimitReached extends CreditdError {}
/** 429 billing_hard_limit_reached: the monthly limit. */
export class BillingHardLimitReached extends LimitReached {}
/** 429 daily_limit_reached: the daily limit. */
export class DailyLimitReached extends LimitReached {}
/** 429 member_cap_reached: the workspace member's monthly cap. */
export class MemberCapReached extends LimitReached {}
/** 429 rate_limit_exceeded: requests or tokens per minute, or top-ups per hour; retryAfter in seconds. */
export class RateLimited extends CreditdError {
  constructor(status, body, headers, message) {
    super(status, body, headers, message);
    this.retryAfter = retryAfterOf(this);
  }
}
/** 413 payload_too_large. */
export class PayloadTooLarge extends CreditdError {}
/** 502 upstream_error: Stripe failed (message carries Stripe's). */
export class UpstreamError extends CreditdError {}
/** 503: the database is unreachable (retryAfter seconds, from Retry-After), or Stripe is not configured. */
export class Unavailable extends CreditdError {
  constructor(status, body, headers, message) {
    super(status, body, headers, message);
    this.retryAfter = retryAfterOf(this);
  }
}
/** 503 stripe_not_configured: a top-up on a creditd without Stripe settings (not retried). */
export class StripeNotConfigured extends Unavailable {}

/**
 * No answer: connection refused, DNS failure, timeout. status is null; cause
 * is the underlying error. For a settle the outcome is unknown: settling
 * again with the same figures is safe (creditd answers the first result).
 */
export class ConnectionFailed extends CreditdError {
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

const BY_CODE = {
  invalid_request: InvalidRequest,
  unauthorized: Unauthorized,
  forbidden: Forbidden,
  account_suspended: AccountSuspended,
  not_found: NotFound,
  conflict: Conflict,
  already_redeemed: AlreadyRedeemed,
  promo_exhausted: PromoExhausted,
  promo_expired: PromoExpired,
  insufficient_credits: InsufficientCredits,
  billing_hard_limit_reached: BillingHardLimitReached,
  daily_limit_reached: DailyLimitReached,
  member_cap_reached: MemberCapReached,
  rate_limit_exceeded: RateLimited,
  payload_too_large: PayloadTooLarge,
  upstream_error: UpstreamError,
  unavailable: Unavailable,
  stripe_not_configured: StripeNotConfigured,
};

// When the code is missing or new, the status still picks a class.
const BY_STATUS = {
  400: InvalidRequest, 401: Unauthorized, 402: InsufficientCredits, 403: Forbidden, 404: NotFound,
  409: Conflict, 413: PayloadTooLarge, 429: LimitReached, 502: UpstreamError, 503: Unavailable,
};

/** The error for one non-2xx answer. headers: lower-case names. */
export function errorFor(status, body, headers, message) {
  const code = body?.error?.code;
  const cls = (typeof code === 'string' && Object.hasOwn(BY_CODE, code)) ? BY_CODE[code] : BY_STATUS[status];
  return new (cls || CreditdError)(status, body, headers, message);
}
