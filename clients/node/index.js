// creditd-client: the Node client of creditd (server to server; never ship
// an API key to a browser). Plain ESM, no dependencies, Node 18+.
export { Creditd, VERSION, apiFields, toJson } from './src/client.js';
export {
  Guard, CHARS_PER_TOKEN,
  openaiUsage, anthropicUsage, openaiChunkText, openaiChunkUsage, anthropicEventText, anthropicEventUsage,
} from './src/guard.js';
export { verifyEvent, signEvent, DEFAULT_TOLERANCE_SECONDS } from './src/signature.js';
export {
  CreditdError, InvalidRequest, PayloadTooLarge, Unauthorized, InsufficientCredits, Forbidden, AccountSuspended,
  NotFound, Conflict, AlreadyRedeemed, PromoExhausted, PromoExpired,
  LimitReached, BillingHardLimitReached, DailyLimitReached, MemberCapReached, RateLimited,
  ServerError, UpstreamError, Unavailable, StripeNotConfigured, ProviderNotConfigured,
  ConnectionFailed, BadSignature, errorClass, errorFor,
} from './src/errors.js';
