// client.js: one API key against one creditd, over Node's global fetch.
// It owns the transport (JSON in and out, errors by code, bounded retries of
// Unavailable (503, a proxy's 502 and 504) and lost connections with one
// Idempotency-Key for every attempt) and maps each route an app backend
// calls to one method. It never reads the environment and never logs: keys
// are the caller's secrets.
import { randomUUID } from 'node:crypto';
import { CreditdError, ConnectionFailed, errorFor } from './errors.js';
import { Guard } from './guard.js';

// creditd's own version (configure.ac), which the client is released with.
export const VERSION = '0.2.0';

const DEFAULTS = {
  timeoutMs: 10_000,
  maxRetries: 2,
  retryDelayMs: 250,
  maxRetryDelayMs: 10_000,
};

// The range of each number option (clients/vocabulary.json): a value beyond
// it is a mistake of unit or a runaway (an hour for one try or one wait).
const RANGES = {
  timeoutMs: [1, 3_600_000],
  maxRetries: [0, 100],
  retryDelayMs: [0, 3_600_000],
  maxRetryDelayMs: [0, 3_600_000],
};

const OPTION_NAMES = new Set([...Object.keys(DEFAULTS), 'userAgent', 'fetch']);

/**
 * The options in force: undefined or null takes the default; an unknown
 * name, a number option that is not a safe integer (TypeError) or is out of
 * its range (RangeError), a userAgent that is not a string and a fetch that
 * is not a function are refused.
 */
function checkedOptions(options) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const unknown = Object.keys(options).filter((name) => !OPTION_NAMES.has(name));
  if (unknown.length) throw new TypeError(`unknown option(s): ${unknown.join(', ')}`);
  const o = {};
  for (const [name, [low, high]] of Object.entries(RANGES)) {
    const value = options[name] ?? DEFAULTS[name];
    if (!Number.isSafeInteger(value)) throw new TypeError(`${name} must be a whole number, not ${String(value)}`);
    if (value < low || value > high) throw new RangeError(`${name} must be from ${low} to ${high}, not ${value}`);
    o[name] = value;
  }
  if (options.userAgent != null && typeof options.userAgent !== 'string') throw new TypeError('userAgent must be a string');
  if (options.fetch != null && typeof options.fetch !== 'function') throw new TypeError('fetch must be a function');
  o.userAgent = options.userAgent ?? `creditd-client-node/${VERSION}`;
  o.fetch = options.fetch ?? globalThis.fetch;
  return o;
}

/** creditd takes an Idempotency-Key of 1 to 255 printable bytes (src/limits.h). */
const MAX_IDEMPOTENCY_KEY_BYTES = 255;

/**
 * value, checked to go on the wire as the header `name`: printable ASCII
 * only (space to tilde). A CR or LF would end the header and start another
 * one, or a request of its own on a kept-alive connection; NUL, the other
 * control characters and non-ASCII (which fetch sends as Latin-1 or refuses)
 * are refused too. A TypeError naming the header, never its value (it may
 * be a secret), thrown before anything is sent: never retried.
 */
function headerValue(name, value, min = 0, max = Infinity) {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, not ${typeof value}`);
  if (!/^[\x20-\x7e]*$/.test(value)) {
    throw new TypeError(`${name} must be printable ASCII: no CR, LF, NUL or other control or non-ASCII character`);
  }
  if (value.length < min || value.length > max) {
    throw new TypeError(`${name} must be ${min} to ${max} characters long, not ${value.length}`);
  }
  return value;
}

/** "maxOutputTokens" -> "max_output_tokens"; snake_case names pass unchanged. */
function snake(name) {
  return name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The JSON body of a call: camelCase keys in snake_case, undefined dropped,
 * null kept (null clears a limit or a plan). Nested plain objects too
 * (auto_recharge).
 */
export function apiFields(fields) {
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[snake(key)] = isPlainObject(value) ? apiFields(value) : value;
  }
  return out;
}

/**
 * JSON.stringify for request bodies: bigint is sent as a JSON integer, and
 * a number that is not an integer is refused here (creditd takes only
 * integers: micros, tokens, cents, seconds) rather than sent and refused.
 */
export function toJson(value, path = 'body') {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new TypeError(`${path}: ${value} is not an integer creditd can take (use a bigint past 2^53)`);
      }
      return String(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) return '[' + value.map((v, i) => toJson(v ?? null, `${path}[${i}]`)).join(',') + ']';
      return '{' + Object.entries(value).filter(([, v]) => v !== undefined)
        .map(([k, v]) => JSON.stringify(k) + ':' + toJson(v, `${path}.${k}`)).join(',') + '}';
    default:
      throw new TypeError(`${path}: a ${typeof value} cannot be sent as JSON`);
  }
}

/** One URL path segment: every reserved character escaped. */
function seg(value) {
  return encodeURIComponent(String(value));
}

function splitKey(options = {}) {
  const { idempotencyKey, ...fields } = options;
  return { idempotencyKey, fields };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The largest answer body read (16 MiB): a page of 200 journal rows is well
 * under 1 MiB, and a broken or hostile peer must not make the client hold
 * unbounded memory. A longer answer is a ConnectionFailed.
 */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The answer's body as text (UTF-8), at most MAX_ANSWER_BYTES; the rest is not read. */
async function readCapped(response) {
  const tooLarge = () => new Error(`an answer over ${MAX_ANSWER_BYTES} bytes`);
  const length = response.headers.get('content-length');
  if (length !== null && /^\d+$/.test(length.trim()) && Number(length) > MAX_ANSWER_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder('utf-8').decode(bytes);
}

/** Whether an attempt's failure is worth the same request again: its class says (clients/vocabulary.json). */
function retryable(error) {
  return error instanceof CreditdError && error.constructor.retried === true;
}

/** At most this many tries after a top-up "in progress" answer, whatever the waits add up to. */
const IN_PROGRESS_RETRIES = 8;

/**
 * A 409 of a top-up whose Idempotency-Key is still calling Stripe for an
 * earlier try (src/http/api_stripe.c): the answer is coming, not refused.
 * creditd names it by param idempotency_key and its message, with code
 * conflict, which is also the code of a key used with another request.
 */
function isInProgress(error) {
  return error instanceof CreditdError && error.status === 409 && error.code === 'conflict'
    && error.param === 'idempotency_key' && String(error.errorMessage).includes('in progress');
}

export class Creditd {
  #apiKey;
  #fetch;

  /**
   * baseUrl: where creditd is mounted ("https://billing.example.com/credits").
   * apiKey: a guard, read, app or admin key (admin may call every route).
   * options: timeoutMs, maxRetries, retryDelayMs, maxRetryDelayMs, userAgent
   * (clients/vocabulary.json) and fetch; see checkedOptions for what is refused.
   */
  constructor(baseUrl, apiKey, options = {}) {
    if (!baseUrl) throw new TypeError('baseUrl is required');
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    this.#apiKey = headerValue('the API key', apiKey == null ? '' : String(apiKey));
    const o = checkedOptions(options ?? {});
    this.timeoutMs = o.timeoutMs;
    this.maxRetries = o.maxRetries;
    this.retryDelayMs = o.retryDelayMs;
    this.maxRetryDelayMs = o.maxRetryDelayMs;
    this.userAgent = headerValue('userAgent', o.userAgent);
    this.#fetch = o.fetch;
    if (typeof this.#fetch !== 'function') throw new TypeError('no fetch: Node 18 or later, or pass options.fetch');
  }

  // -- transport --

  /**
   * One API call: the decoded JSON answer, or a CreditdError subclass.
   * query: undefined/null values dropped. A write (not GET) carries an
   * Idempotency-Key, the caller's or (autoKey, when maxRetries is above 0) a
   * random one, so its retries are answered once. An Unavailable (503
   * `unavailable`, `gateway_busy`, or without a code this client knows;
   * `unavailable` with any 5xx; a 502 or 504 without creditd's JSON error, a
   * web server's) and lost connections are retried up to
   * maxRetries times, after Retry-After when creditd sends one (a wait longer
   * than maxRetryDelayMs is not made: the error is thrown). A top-up "in
   * progress" (409, isInProgress()) is waited out within maxRetryDelayMs,
   * apart from maxRetries. A path,
   * user agent or Idempotency-Key that cannot go on the wire as it is (a
   * control or non-ASCII character, a key not 1 to 255 characters long) is
   * a TypeError before anything is sent.
   */
  async request(method, path, { body, query, idempotencyKey, auth = true, autoKey = true } = {}) {
    if (!/^[\x21-\x7e]*$/.test(path)) {
      throw new TypeError('the path must be visible ASCII (URL-encoded): no space, CR, LF or other control character');
    }
    let url = this.baseUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.append(k, String(v));
      const qs = params.toString();
      if (qs) url += '?' + qs;
    }
    const headers = { Accept: 'application/json', 'User-Agent': headerValue('userAgent', this.userAgent) };
    let data;
    if (body !== undefined) {
      data = toJson(body);
      headers['Content-Type'] = 'application/json';
    }
    if (auth) headers.Authorization = 'Bearer ' + this.#apiKey;
    if (idempotencyKey != null) {
      headers['Idempotency-Key'] = headerValue('Idempotency-Key', idempotencyKey, 1, MAX_IDEMPOTENCY_KEY_BYTES);
    }
    // A key of the client's own makes its retries safe; without retries it would only be stored.
    else if (autoKey && this.maxRetries > 0 && method !== 'GET' && method !== 'HEAD') headers['Idempotency-Key'] = randomUUID();
    let attempt = 0;
    const inProgress = { waits: 0, waitedMs: 0 };
    for (;;) {
      try {
        return await this.#once(method, url, headers, data);
      } catch (error) {
        const waitMs = isInProgress(error) ? this.#inProgressWait(error, inProgress) : this.#retryWait(error, attempt++);
        if (waitMs === null) throw error;
        await sleep(waitMs);
      }
    }
  }

  /** retryDelayMs doubled for each try before, with jitter (half to all of it). */
  #backoffMs(attempt) {
    return this.retryDelayMs * 2 ** attempt * (0.5 + Math.random() / 2);
  }

  /**
   * Milliseconds to wait before try attempt + 1, or null: throw. Retried: the
   * classes whose static retried is set, at most maxRetries times, after
   * Retry-After, else the backoff; a wait above maxRetryDelayMs is not made.
   */
  #retryWait(error, attempt) {
    if (!retryable(error) || attempt >= this.maxRetries) return null;
    const waitMs = error.retryAfter != null ? error.retryAfter * 1000 : this.#backoffMs(attempt);
    return waitMs > this.maxRetryDelayMs ? null : waitMs;
  }

  /**
   * Milliseconds to wait before sending a top-up "in progress" again, or
   * null: throw. The waits start at retryDelayMs, doubled each time with
   * jitter, and add up to maxRetryDelayMs at most (IN_PROGRESS_RETRIES tries
   * at most); they do not count against maxRetries, but maxRetries 0 turns
   * them off too. state: this call's waits so far, updated.
   */
  #inProgressWait(error, state) {
    if (this.maxRetries === 0 || state.waits >= IN_PROGRESS_RETRIES) return null;
    const waitMs = error.retryAfter != null ? error.retryAfter * 1000 : this.#backoffMs(state.waits);
    if (state.waitedMs + waitMs > this.maxRetryDelayMs) return null;
    state.waits += 1;
    state.waitedMs += waitMs;
    return waitMs;
  }

  async #once(method, url, headers, data) {
    let response;
    let raw;
    try {
      response = await this.#fetch(url, {
        method, headers, body: data, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs),
      });
      raw = await readCapped(response);
    } catch (error) {
      const reason = error?.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms`
        : (error?.cause?.code || error?.cause?.message || error?.message || String(error));
      throw new ConnectionFailed(reason, error);
    }
    const lower = {};
    response.headers.forEach((value, name) => { lower[name.toLowerCase()] = value; });
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = null;
    }
    if (response.status >= 200 && response.status < 300) {
      if (body === null && raw) throw new CreditdError(response.status, null, lower, `answer is not JSON: ${raw.slice(0, 200)}`);
      return body;
    }
    throw errorFor(response.status, body, lower, body === null ? raw.slice(0, 200) || null : null);
  }

  // -- service --

  /** GET /healthz (no key): {status: "ok"}. */
  healthz() {
    return this.request('GET', '/healthz', { auth: false });
  }

  /** GET /v1/models (read): margin_bps, currency, data[] (prices), actions[]. */
  models() {
    return this.request('GET', '/v1/models');
  }

  // -- accounts --

  /**
   * POST /v1/accounts (admin). fields: kind (default "user"), overdraftLimitMicros, monthlyLimitMicros, email, ...,
   * referralCode (another account's code: the new account is referred by it; unknown: InvalidRequest, nothing
   * created).
   */
  createAccount(id, options = {}) {
    const { idempotencyKey, fields } = splitKey(options);
    return this.request('POST', '/v1/accounts', { body: apiFields({ id, kind: 'user', ...fields }), idempotencyKey });
  }

  /** GET /v1/accounts/{id} (read): balance, reserved, available, limits, grants[]. */
  getAccount(id) {
    return this.request('GET', '/v1/accounts/' + seg(id));
  }

  /** PATCH /v1/accounts/{id} (admin): status, limits, plan, autoRecharge, email; null clears one. */
  patchAccount(id, options = {}) {
    const { idempotencyKey, fields } = splitKey(options);
    return this.request('PATCH', '/v1/accounts/' + seg(id), { body: apiFields(fields), idempotencyKey });
  }

  /** GET /v1/accounts/{id}/transactions (read): one page, newest first: {data, next_cursor}. */
  transactions(id, { limit, cursor } = {}) {
    return this.request('GET', `/v1/accounts/${seg(id)}/transactions`, { query: { limit, cursor } });
  }

  /** Every journal entry, newest first, page after page (follows next_cursor). */
  async *iterTransactions(id, { pageSize } = {}) {
    let cursor;
    for (;;) {
      const page = await this.transactions(id, { limit: pageSize, cursor });
      for (const entry of page.data ?? []) yield entry;
      cursor = page.next_cursor;
      if (!cursor) return;
    }
  }

  /** GET /v1/accounts/{id}/usage (read): requests, tokens and cost in [from, to); groupBy model|day|member. */
  usageReport(id, { from, to, groupBy } = {}) {
    return this.request('GET', `/v1/accounts/${seg(id)}/usage`, { query: { from, to, group_by: groupBy } });
  }

  /** POST /v1/accounts/{id}/grants (admin). source: promo|adjustment|signup_bonus. */
  grant(id, amountMicros, source, options = {}) {
    const { idempotencyKey, fields } = splitKey(options);
    return this.request('POST', `/v1/accounts/${seg(id)}/grants`,
      { body: apiFields({ amountMicros, source, ...fields }), idempotencyKey });
  }

  /** POST /v1/accounts/{id}/debits (admin): a negative adjustment. */
  debit(id, amountMicros, reason, { idempotencyKey } = {}) {
    return this.request('POST', `/v1/accounts/${seg(id)}/debits`,
      { body: apiFields({ amountMicros, reason }), idempotencyKey });
  }

  /** POST /v1/accounts/{id}/members (admin); monthlyCapMicros: null removes the cap, undefined keeps it. */
  addMember(id, member, { monthlyCapMicros, idempotencyKey } = {}) {
    return this.request('POST', `/v1/accounts/${seg(id)}/members`,
      { body: apiFields({ member, monthlyCapMicros }), idempotencyKey });
  }

  /** DELETE /v1/accounts/{id}/members/{member} (admin). */
  removeMember(id, member, { idempotencyKey } = {}) {
    return this.request('DELETE', `/v1/accounts/${seg(id)}/members/${seg(member)}`, { idempotencyKey });
  }

  /** POST /v1/accounts/{id}/topup (app): a Stripe Checkout Session; send the user to checkout_url. */
  topup(id, amountCents, { successUrl, cancelUrl, saveCard, idempotencyKey } = {}) {
    return this.request('POST', `/v1/accounts/${seg(id)}/topup`,
      { body: apiFields({ amountCents, successUrl, cancelUrl, saveCard }), idempotencyKey });
  }

  /** POST /v1/accounts/{id}/redeem (app): a promo code as a promo grant. */
  redeem(id, code, { idempotencyKey } = {}) {
    return this.request('POST', `/v1/accounts/${seg(id)}/redeem`, { body: { code }, idempotencyKey });
  }

  /**
   * PUT /v1/accounts/{id}/alerts (app): the account's threshold alerts,
   * replaced whole: [{kind, pct | micros, member?}] (at most 16; [] for
   * none). Answers {alerts} as getAlerts does.
   */
  setAlerts(id, alerts) {
    if (!Array.isArray(alerts)) return Promise.reject(new TypeError('alerts must be an array of {kind, pct | micros, member?}'));
    return this.request('PUT', `/v1/accounts/${seg(id)}/alerts`,
      { body: { alerts: alerts.map((a) => apiFields(a)) } });
  }

  /** GET /v1/accounts/{id}/alerts (read): {alerts: [{kind, pct | micros, member?, state, members_fired?}]}. */
  getAlerts(id) {
    return this.request('GET', `/v1/accounts/${seg(id)}/alerts`);
  }

  /**
   * GET /v1/accounts/{id}/referral_code (app): {code}, the account's referral code, made the first time it is
   * asked for and the same ever after. An account created with it (createAccount(id, { referralCode })) is
   * referred by this one.
   */
  referralCode(id) {
    return this.request('GET', `/v1/accounts/${seg(id)}/referral_code`);
  }

  /** POST /v1/accounts/{id}/browser_tokens (app): {token, expires_at} for the widget. */
  browserToken(id, { ttlSeconds, member } = {}) {
    return this.request('POST', `/v1/accounts/${seg(id)}/browser_tokens`, { body: apiFields({ ttlSeconds, member }) });
  }

  // -- promo codes and plans --

  /** POST /v1/promo_codes (admin). fields: maxRedemptions, expiresAt, grantTtlDays. */
  createPromoCode(code, amountMicros, options = {}) {
    const { idempotencyKey, fields } = splitKey(options);
    return this.request('POST', '/v1/promo_codes', { body: apiFields({ code, amountMicros, ...fields }), idempotencyKey });
  }

  /** GET /v1/plans (read): {data: [plans]}. */
  plans() {
    return this.request('GET', '/v1/plans');
  }

  /** PUT /v1/plans/{name} (admin): creates or replaces a plan. */
  putPlan(name, options) {
    const { idempotencyKey, fields } = splitKey(options);
    return this.request('PUT', '/v1/plans/' + seg(name), { body: apiFields(fields), idempotencyKey });
  }

  // -- events --

  /** GET /v1/events (admin): {data, next_after}, oldest first, after an event id. */
  events({ after, limit } = {}) {
    return this.request('GET', '/v1/events', { query: { after, limit } });
  }

  /** Every event after `after`, oldest first; keep the last id you handled and start from it next time. */
  async *iterEvents({ after = 0, pageSize } = {}) {
    for (;;) {
      const page = await this.events({ after, limit: pageSize });
      const data = page.data ?? [];
      for (const event of data) yield event;
      if (data.length === 0 || page.next_after == null) return;
      after = page.next_after;
    }
  }

  // -- the guard --

  /**
   * POST /v1/guard/authorize (guard): holds the worst-case cost of a model
   * call. Pass the answer's max_output_tokens to the model as its cap. With
   * minOutputTokens a hold the account cannot cover is shrunk, down to that
   * many, instead of refused. The same requestId again answers the same hold.
   */
  authorize(params) {
    const { idempotencyKey, fields } = splitKey(params);
    // request_id makes it idempotent already: no key to store per call.
    return this.request('POST', '/v1/guard/authorize', { body: apiFields(fields), idempotencyKey, autoKey: false });
  }

  /** POST /v1/guard/settle (guard): charges the tokens used (inputTokens counts cached ones too). */
  settle(holdId, usage) {
    const { idempotencyKey, fields } = splitKey(usage);
    // The same settle again answers the first result: no key needed.
    return this.request('POST', '/v1/guard/settle',
      { body: apiFields({ holdId, ...fields }), idempotencyKey, autoKey: false });
  }

  /** POST /v1/guard/release (guard): voids a hold; Conflict when it was settled. */
  release(holdId, { idempotencyKey } = {}) {
    return this.request('POST', '/v1/guard/release', { body: { hold_id: holdId }, idempotencyKey, autoKey: false });
  }

  /** POST /v1/usage (guard): usage with no hold; force: true charges it past limits (the tokens were spent). */
  recordUsage(params) {
    const { idempotencyKey, fields } = splitKey(params);
    const body = apiFields(fields);
    return this.request('POST', '/v1/usage', { body, idempotencyKey, autoKey: body.request_id == null });
  }

  /** A Guard for one model call, authorized: report what it produces, then finish(). */
  async startGuard(params) {
    const hold = new Guard(this, params);
    await hold.authorize();
    return hold;
  }

  /**
   * Authorizes, runs fn(hold), then settles what was produced (the usage
   * the provider reported, else what was counted or estimated) or, when
   * nothing was, releases; fn's error is thrown again after that.
   */
  async guard(params, fn) {
    const hold = await this.startGuard(params);
    let result;
    try {
      result = await fn(hold);
    } catch (error) {
      await hold.finish(error);
      throw error;
    }
    await hold.finish();
    return result;
  }
}
