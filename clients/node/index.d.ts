// index.d.ts: hand-written declarations of every export of index.js.
// Request options are camelCase (sent as snake_case); answers are the API's
// JSON as creditd sends it (snake_case). Amounts are integer micros
// (1,000,000 = one currency unit); top-ups are in cents.

export const VERSION: string;
export const CHARS_PER_TOKEN: number;
export const DEFAULT_TOLERANCE_SECONDS: number;

/** An integer creditd takes: a safe integer number, or a bigint past 2^53. */
export type Int = number | bigint;

/**
 * The client's options (clients/vocabulary.json). Another name is a TypeError; undefined or null
 * takes the default; a number option must be a whole number (else TypeError) within its range
 * (else RangeError).
 */
export interface ClientOptions {
  /** Milliseconds one attempt may take, 1 to 3600000; default 10000. */
  timeoutMs?: number | null;
  /** Retries of an Unavailable (503 `unavailable`, `gateway_busy`, or without a known code; `unavailable`
   * with any 5xx; a 502 or 504 without creditd's JSON error) and of lost connections,
   * 0 to 100; default 2 (3 attempts). */
  maxRetries?: number | null;
  /** First backoff when creditd sends no Retry-After, 0 to 3600000; default 250 (doubled each retry, with jitter). */
  retryDelayMs?: number | null;
  /** The longest wait before a retry, 0 to 3600000; default 10000; a longer Retry-After (or backoff) is not
   * waited for: the error is thrown. */
  maxRetryDelayMs?: number | null;
  /** The User-Agent header, printable ASCII (else a TypeError); default creditd-client-node/VERSION. */
  userAgent?: string | null;
  /** Another fetch (a test double, an instrumented fetch); default the global one. */
  fetch?: typeof fetch | null;
}

export interface WriteOptions {
  /** Sent as Idempotency-Key: the same key and body answers the first answer again. Default: a random key per
   * call when maxRetries is above 0, except on authorize, settle, release and recordUsage with a requestId
   * (idempotent by their bodies).
   * 1 to 255 printable ASCII characters: anything else is a TypeError before anything is sent. */
  idempotencyKey?: string;
}

export interface RequestOptions extends WriteOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  /** Send the API key (default true). */
  auth?: boolean;
  /** A write without idempotencyKey gets a random one when maxRetries is above 0 (default true). */
  autoKey?: boolean;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// ---- answers ----

export interface Grant {
  id: string;
  source: string;
  remaining_micros: number;
  priority: number;
  expires_at: string | null;
  [field: string]: unknown;
}

export interface Account {
  id: string;
  kind: 'user' | 'workspace' | string;
  status: string;
  currency: string;
  balance_micros: number;
  reserved_micros: number;
  available_micros: number;
  month_spent_micros: number;
  monthly_limit_micros: number | null;
  daily_limit_micros?: number | null;
  overdraft_limit_micros: number;
  low_balance_micros: number | null;
  plan: string | null;
  period_start?: string | null;
  period_end?: string | null;
  grants: Grant[];
  /** Where the account's alerts are mailed ([email] smtp_url); null when none. */
  email?: string | null;
  [field: string]: unknown;
}

export interface JournalUsage {
  model: string | null;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_input_tokens: number;
  output_tokens: number;
  member: string | null;
  byok: boolean;
  /** the gateway's flags of the record: usage beyond what was asked, tokens creditd does not know */
  over_hold?: boolean;
  usage_unknown?: boolean;
  [field: string]: unknown;
}

export interface Transaction {
  id: string;
  amount_micros: number;
  balance_after_micros: number;
  cause: string;
  source: string | null;
  reference: string | null;
  description: string | null;
  created_at: string;
  usage: JournalUsage | null;
  [field: string]: unknown;
}

export interface TransactionPage {
  data: Transaction[];
  next_cursor: string | null;
  has_more?: boolean;
}

export interface UsageReport {
  data: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

export interface Hold {
  hold_id: string;
  amount_micros: number;
  available_micros: number;
  expires_at: string;
  max_output_tokens: number;
  [field: string]: unknown;
}

export interface Settlement {
  hold_id: string;
  account: string;
  charged_micros: number;
  released_micros: number;
  balance_micros: number;
  available_micros: number;
  late: boolean;
}

export interface Release {
  hold_id: string;
  account: string;
  state: 'released' | 'expired';
  released_micros: number;
  balance_micros: number;
  available_micros: number;
}

export interface UsageCharge {
  usage_id: string;
  account: string;
  charged_micros: number;
  balance_micros: number;
  available_micros: number;
  forced?: boolean;
  replayed: boolean;
}

export interface Checkout {
  checkout_url: string;
  session_id: string;
  amount_cents: number;
  currency: string;
  credits_micros: number;
}

export interface Redemption {
  grant_id: string;
  account: string;
  code: string;
  amount_micros: number;
  expires_at: string | null;
  balance_micros: number;
  available_micros: number;
}

export type AlertKind = 'balance_below' | 'monthly_spend_pct' | 'daily_spend_pct' | 'member_cap_pct'
  | 'plan_credits_used_pct';

/** A threshold alert as set: pct (1 to 100) for the _pct kinds, micros for balance_below. */
export interface AlertSpec {
  kind: AlertKind;
  pct?: Int;
  micros?: Int;
  /** member_cap_pct only: one member; null or absent: every member. */
  member?: string | null;
}

export interface Alert {
  kind: AlertKind;
  pct?: number;
  micros?: number;
  member?: string | null;
  members_fired?: number;
  state: 'armed' | 'fired';
}

export interface Alerts {
  alerts: Alert[];
}

export interface PromoCode {
  code: string;
  amount_micros: number;
  max_redemptions: number | null;
  redeemed: number;
  expires_at: string | null;
  grant_ttl_days: number | null;
  created_at: string | null;
}

export interface Plan {
  name: string;
  credits_micros: number;
  rollover: 'none' | 'full' | 'capped';
  rollover_cap_micros: number | null;
  member_cap_micros: number | null;
  stripe_price_ids: string[];
}

export interface ReferralCode {
  code: string;
}

export interface BrowserToken {
  token: string;
  expires_at: string;
}

export interface CreditdEvent {
  id: number;
  type: string;
  created_at: string;
  account: string | null;
  data: Record<string, unknown>;
}

export interface EventPage {
  data: CreditdEvent[];
  next_after: number;
}

export interface Models {
  margin_bps: number;
  currency: string;
  data: Array<{
    model: string;
    input_micros_per_mtok: number;
    cached_input_micros_per_mtok: number;
    /** The price of input written to the provider's prompt cache (the input price when the list names none). */
    cache_write_micros_per_mtok: number;
    output_micros_per_mtok: number;
    max_output_tokens: number;
    /** What a provider bills beyond the token prices (docs/api.md): null when the price list does not give it (not priced). */
    max_input_tokens: number | null;
    reasoning: boolean | null;
    cache_write_1h_micros_per_mtok: number | null;
    tier_threshold_tokens: number | null;
    tier_input_micros_per_mtok: number | null;
    tier_output_micros_per_mtok: number | null;
    tier_cached_input_micros_per_mtok: number | null;
    tier_cache_write_micros_per_mtok: number | null;
    priority_input_micros_per_mtok: number | null;
    priority_output_micros_per_mtok: number | null;
    priority_cached_input_micros_per_mtok: number | null;
    flex_input_micros_per_mtok: number | null;
    flex_output_micros_per_mtok: number | null;
    flex_cached_input_micros_per_mtok: number | null;
    web_search_micros_per_call: number | null;
    input_audio_micros_per_mtok: number | null;
    output_audio_micros_per_mtok: number | null;
  }>;
  actions: Array<{ action: string; price_micros: number }>;
}

// ---- requests ----

export interface AccountFields extends WriteOptions {
  kind?: 'user' | 'workspace';
  overdraftLimitMicros?: Int;
  monthlyLimitMicros?: Int | null;
  dailyLimitMicros?: Int | null;
  lowBalanceMicros?: Int | null;
  requestsPerMinute?: Int | null;
  tokensPerMinute?: Int | null;
  plan?: string | null;
  /** Another account's referral code, at creation only: the new account is referred by it. */
  referralCode?: string | null;
  status?: 'active' | 'suspended' | 'closed';
  autoRecharge?: { thresholdMicros: Int; amountCents: Int } | null;
  /** Where the account's alerts are mailed; null removes it. */
  email?: string | null;
  [field: string]: unknown;
}

export interface AuthorizeParams extends WriteOptions {
  account: string;
  /** Unique per account: the same requestId answers the same hold. */
  requestId: string;
  model?: string;
  inputTokens?: Int;
  maxOutputTokens?: Int;
  /** Shrink the hold down to this many output tokens instead of refusing. */
  minOutputTokens?: Int;
  action?: string;
  member?: string;
  ttlSeconds?: Int;
  byok?: boolean;
  conversationId?: string;
}

export interface TokenUsage {
  /** Every input token: the cached ones and the cache writes too. */
  inputTokens: Int;
  outputTokens: Int;
  /** Read from the provider's prompt cache (part of inputTokens). */
  cachedInputTokens?: Int;
  /** Written to the provider's prompt cache (part of inputTokens; Anthropic's cache_creation_input_tokens), charged at the model's cache-write price. */
  cacheWriteInputTokens?: Int;
}

export interface SettleParams extends TokenUsage, WriteOptions {
  model?: string;
  conversationId?: string;
}

export interface RecordUsageParams extends WriteOptions {
  account: string;
  member?: string;
  model?: string;
  action?: string;
  inputTokens?: Int;
  outputTokens?: Int;
  cachedInputTokens?: Int;
  cacheWriteInputTokens?: Int;
  requestId?: string;
  conversationId?: string;
  byok?: boolean;
  /** Charge it whatever the checks say (the tokens were spent). */
  force?: boolean;
}

export interface PlanFields extends WriteOptions {
  creditsMicros: Int;
  rollover: 'none' | 'full' | 'capped';
  rolloverCapMicros?: Int | null;
  memberCapMicros?: Int | null;
  stripePriceIds?: string[] | null;
}

// ---- the client ----

export declare class Creditd {
  constructor(baseUrl: string, apiKey: string, options?: ClientOptions);
  readonly baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  userAgent: string;

  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<T>;

  healthz(): Promise<{ status: string }>;
  models(): Promise<Models>;

  createAccount(id: string, fields?: AccountFields): Promise<Account>;
  getAccount(id: string): Promise<Account>;
  patchAccount(id: string, fields: AccountFields): Promise<Account>;
  transactions(id: string, options?: { limit?: number; cursor?: string | null }): Promise<TransactionPage>;
  iterTransactions(id: string, options?: { pageSize?: number }): AsyncGenerator<Transaction, void, undefined>;
  usageReport(id: string, options?: { from?: string; to?: string; groupBy?: 'model' | 'day' | 'member' }): Promise<UsageReport>;
  grant(id: string, amountMicros: Int, source: 'promo' | 'adjustment' | 'signup_bonus',
    fields?: WriteOptions & { expiresAt?: string; priority?: Int; description?: string }): Promise<Grant & Record<string, unknown>>;
  debit(id: string, amountMicros: Int, reason: string, options?: WriteOptions): Promise<Record<string, unknown>>;
  addMember(id: string, member: string, options?: WriteOptions & { monthlyCapMicros?: Int | null }): Promise<Record<string, unknown>>;
  removeMember(id: string, member: string, options?: WriteOptions): Promise<Record<string, unknown>>;
  topup(id: string, amountCents: Int,
    options?: WriteOptions & { successUrl?: string; cancelUrl?: string; saveCard?: boolean }): Promise<Checkout>;
  redeem(id: string, code: string, options?: WriteOptions): Promise<Redemption>;
  referralCode(id: string): Promise<ReferralCode>;
  browserToken(id: string, options?: { ttlSeconds?: Int; member?: string }): Promise<BrowserToken>;
  setAlerts(id: string, alerts: AlertSpec[]): Promise<Alerts>;
  getAlerts(id: string): Promise<Alerts>;

  createPromoCode(code: string, amountMicros: Int,
    fields?: WriteOptions & { maxRedemptions?: Int | null; expiresAt?: string | null; grantTtlDays?: Int | null }): Promise<PromoCode>;
  plans(): Promise<{ data: Plan[] }>;
  putPlan(name: string, fields: PlanFields): Promise<Plan>;

  events(options?: { after?: number; limit?: number }): Promise<EventPage>;
  iterEvents(options?: { after?: number; pageSize?: number }): AsyncGenerator<CreditdEvent, void, undefined>;

  authorize(params: AuthorizeParams): Promise<Hold>;
  settle(holdId: string, usage: SettleParams): Promise<Settlement>;
  release(holdId: string, options?: WriteOptions): Promise<Release>;
  recordUsage(params: RecordUsageParams): Promise<UsageCharge>;

  /** A Guard, authorized (throws InsufficientCredits, LimitReached, RateLimited, ... as authorize does). */
  startGuard(params: AuthorizeParams): Promise<Guard>;
  /** Authorize, run fn(hold), settle what was produced or release; fn's error is thrown again. */
  guard<T>(params: AuthorizeParams, fn: (hold: Guard) => Promise<T> | T): Promise<T>;
}

/** Usage fields as the guard takes them (all optional: totals so far). */
export interface ReportedUsage {
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  cacheWriteInputTokens?: number;
  /** The call's final figures: finish() settles them even with 0 output tokens (the input was billed). */
  final?: boolean;
}

export interface Produced {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number | undefined;
  cacheWriteInputTokens: number | undefined;
}

export declare class Guard {
  constructor(client: Creditd, params: AuthorizeParams);
  readonly client: Creditd;
  readonly params: AuthorizeParams;
  /** The authorize answer. */
  hold: Hold | null;
  holdId: string | null;
  settled: Settlement | null;
  released: Release | null;
  /** A settle that failed during finish(error): the hold is pending, settle again with the same figures. */
  settleError: Error | null;
  /** finish() settled a call that failed midway. */
  partial: boolean;
  /** The output cap the hold covers: pass it to the model. */
  readonly maxOutputTokens: number | null;

  authorize(): Promise<Hold>;
  usage(usage: ReportedUsage): void;
  addOutputTokens(n: number): void;
  chunk(text: string | Uint8Array | null | undefined): void;
  stream<T>(source: Iterable<T> | AsyncIterable<T>, options?: {
    text?: (item: T) => string | Uint8Array | null | undefined;
    usage?: (item: T) => ReportedUsage | null | undefined;
  }): AsyncGenerator<T, void, undefined>;
  openaiStream<T>(source: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T, void, undefined>;
  anthropicStream<T>(source: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T, void, undefined>;
  openaiResponse<T>(completion: T): T;
  anthropicResponse<T>(message: T): T;
  produced(): Produced;
  settle(usage?: TokenUsage | Produced): Promise<Settlement>;
  /** Settle what was produced, or release when nothing was; pass the call's error when it failed. */
  finish(error?: unknown): Promise<Settlement | Release | null>;
}

export function openaiUsage(usage: unknown): ReportedUsage | null;
export function anthropicUsage(usage: unknown, options?: { withOutput?: boolean }): ReportedUsage | null;
export function openaiChunkText(chunk: unknown): string;
export function openaiChunkUsage(chunk: unknown): ReportedUsage | null;
export function anthropicEventText(event: unknown): string;
export function anthropicEventUsage(event: unknown): ReportedUsage | null;

/** camelCase keys to snake_case, undefined dropped, null kept (nested plain objects too). */
export function apiFields(fields: Record<string, unknown>): Record<string, unknown>;
/** JSON for a request body: bigint as an integer; a non-integer number throws TypeError. */
export function toJson(value: unknown, path?: string): string;

/** Checks a pushed event's Creditd-Signature and returns the event; throws BadSignature. */
export function verifyEvent(payload: string | Uint8Array | ArrayBuffer, header: string | null | undefined, secret: string,
  options?: { tolerance?: number; now?: number }): CreditdEvent;
/** The Creditd-Signature header creditd would send (for tests of a receiver). */
export function signEvent(payload: string | Uint8Array | ArrayBuffer, secret: string, timestamp?: number): string;

// ---- errors ----

// The names, codes and retries are the Python and PHP clients' too (clients/vocabulary.json).
export declare class CreditdError extends Error {
  constructor(status: number | null, body?: unknown, headers?: Record<string, string>, message?: string | null);
  /** Whether the client sends the request again after an error of this class (up to maxRetries). */
  static readonly retried: boolean;
  /** The HTTP status, null when no answer came. */
  status: number | null;
  /** The whole decoded answer (null when it was not JSON). */
  body: unknown;
  /** The answer's headers, lower-case names. */
  headers: Record<string, string>;
  type: string | null;
  code: string | null;
  param: string | null;
  /** The error object's message (message is a one-line summary). */
  errorMessage: string;
  /** On refusals for want of credit or limit (402, 429). */
  availableMicros: number | null;
  requiredMicros: number | null;
  requestId: string | null;
  /** Seconds to wait: the Retry-After header (delta-seconds), else the body's retry_after_seconds; null when neither. */
  retryAfter: number | null;
}
/** 400 invalid_request; 405, 408 and 415 too (type invalid_request_error). */
export declare class InvalidRequest extends CreditdError {}
/** 413 payload_too_large. */
export declare class PayloadTooLarge extends InvalidRequest {}
export declare class Unauthorized extends CreditdError {}
export declare class InsufficientCredits extends CreditdError {}
export declare class Forbidden extends CreditdError {}
export declare class AccountSuspended extends Forbidden {}
export declare class NotFound extends CreditdError {}
export declare class Conflict extends CreditdError {}
export declare class AlreadyRedeemed extends Conflict {}
export declare class PromoExhausted extends Conflict {}
export declare class PromoExpired extends Conflict {}
export declare class LimitReached extends CreditdError {}
export declare class BillingHardLimitReached extends LimitReached {}
export declare class DailyLimitReached extends LimitReached {}
export declare class MemberCapReached extends LimitReached {}
/** 429 rate_limit_exceeded, and a 429 without creditd's JSON error (nginx's limit_req): not retried. */
export declare class RateLimited extends CreditdError {}
/** 500 internal_error, and any other 5xx without a class of its own. */
export declare class ServerError extends CreditdError {}
/** 502 upstream_error (Stripe), or a 502 with a code this client does not know: not retried. */
export declare class UpstreamError extends CreditdError {}
/** 503 unavailable or gateway_busy, any other 503 without a code this client knows, unavailable with any
 * 5xx (Apache's 502 and 504 error pages), a 502 or 504 without creditd's JSON error: retried. */
export declare class Unavailable extends CreditdError {}
export declare class StripeNotConfigured extends Unavailable {}
export declare class ProviderNotConfigured extends Unavailable {}
export declare class ConnectionFailed extends CreditdError {
  constructor(reason: string, cause?: unknown);
  status: null;
  reason: string;
}
export declare class BadSignature extends Error {
  constructor(message: string);
}
/** The error class for a status and a code (clients/vocabulary.json). */
export function errorClass(status: number, code?: string | null): typeof CreditdError;
/** The error class instance for one non-2xx answer (headers: lower-case names). */
export function errorFor(status: number, body: unknown, headers: Record<string, string>, message?: string | null): CreditdError;
