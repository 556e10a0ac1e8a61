// client.test.js: the transport against a local node:http server that plays
// creditd: retries of 503 and dropped connections with one Idempotency-Key,
// Retry-After, typed errors by code, request bodies, paging.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import * as cd from '../index.js';

const { Creditd } = cd;

/**
 * A server whose answers come from `script`, one function per request in
 * order (the last one repeats): (req, body) => [status, json, headers] (a
 * string json is sent as it is, text/html: a proxy's page) or
 * 'drop' (the connection is destroyed without an answer). It records every
 * request.
 */
async function serve(script) {
  const seen = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      seen.push({ method: req.method, url: req.url, headers: req.headers, body, at: Date.now() });
      const step = script[Math.min(seen.length - 1, script.length - 1)];
      const answer = typeof step === 'function' ? step(req, body) : step;
      if (answer === 'drop') { req.socket.destroy(); return; }
      if (answer === 'hang') return;
      const [status, json, headers = {}] = answer;
      const page = typeof json === 'string'; // a web server's own page, sent as it is
      const text = json === undefined ? '' : page ? json : JSON.stringify(json);
      res.writeHead(status, { 'Content-Type': page ? 'text/html' : 'application/json', ...headers });
      res.end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${server.address().port}/credits`, seen };
}
const servers = [];
after(() => { for (const s of servers) { s.closeAllConnections?.(); s.close(); } });

const err = (status, code, extra = {}, headers = {}) => () =>
  [status, { error: { type: 't', code, message: `m ${code}`, param: null, ...extra } }, headers];
const ok = (json) => () => [200, json];
const fast = { retryDelayMs: 5 };

test('503 unavailable is retried with the same Idempotency-Key, after Retry-After', async () => {
  const s = await serve([err(503, 'unavailable', {}, { 'Retry-After': '1' }), err(503, 'unavailable'), ok({ id: 'grant_1' })]);
  const c = new Creditd(s.url, 'k', fast);
  const started = Date.now();
  const grant = await c.grant('a', 5000, 'promo');
  assert.equal(grant.id, 'grant_1');
  assert.equal(s.seen.length, 3);
  const keys = s.seen.map((r) => r.headers['idempotency-key']);
  assert.ok(keys[0] && keys[0].length > 0, 'a grant carries a key of its own');
  assert.deepEqual(new Set(keys).size, 1, 'one key for every attempt');
  assert.ok(s.seen[1].at - s.seen[0].at >= 950, 'waited for Retry-After: 1');
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual(s.seen.map((r) => r.body), Array(3).fill({ amount_micros: 5000, source: 'promo' }));
});

test('guard routes are idempotent by their bodies: retried as they are, no key stored per call', async () => {
  const s = await serve([err(503, 'unavailable'), ok({ hold_id: 'h' })]);
  const c = new Creditd(s.url, 'k', fast);
  await c.authorize({ account: 'a', requestId: 'r', model: 'm', inputTokens: 1 });
  await c.settle('h', { inputTokens: 1, outputTokens: 2 });
  await c.release('h');
  await c.recordUsage({ account: 'a', model: 'm', inputTokens: 1, outputTokens: 2, requestId: 'u1' });
  await c.recordUsage({ account: 'a', model: 'm', inputTokens: 1, outputTokens: 2 });
  const keys = s.seen.map((r) => r.headers['idempotency-key']);
  assert.equal(s.seen.length, 6, 'the first authorize was retried');
  assert.deepEqual(s.seen[0].body, s.seen[1].body, 'the same request_id again');
  assert.deepEqual(keys.slice(0, 5), Array(5).fill(undefined));
  assert.ok(keys[5], 'usage without a request_id gets a key');
});

test("the caller's Idempotency-Key is the one sent and retried", async () => {
  const s = await serve([err(503, 'unavailable'), ok({})]);
  await new Creditd(s.url, 'k', fast).settle('hold_1_2', { inputTokens: 3, outputTokens: 4, idempotencyKey: 'mine' });
  assert.deepEqual(s.seen.map((r) => r.headers['idempotency-key']), ['mine', 'mine']);
  assert.deepEqual(s.seen[0].body, { hold_id: 'hold_1_2', input_tokens: 3, output_tokens: 4 });
});

test('settle and recordUsage send cache writes', async () => {
  const s = await serve([ok({})]);
  const c = new Creditd(s.url, 'k', fast);
  await c.settle('hold_1_2', { inputTokens: 100, outputTokens: 5, cachedInputTokens: 20, cacheWriteInputTokens: 40 });
  await c.recordUsage({ account: 'a', model: 'm', inputTokens: 100, outputTokens: 5, cacheWriteInputTokens: 40, requestId: 'u' });
  assert.deepEqual(s.seen.map((r) => r.body), [
    { hold_id: 'hold_1_2', input_tokens: 100, output_tokens: 5, cached_input_tokens: 20, cache_write_input_tokens: 40 },
    { account: 'a', model: 'm', input_tokens: 100, output_tokens: 5, cache_write_input_tokens: 40, request_id: 'u' },
  ]);
});

test('retries are bounded: Unavailable with retryAfter after maxRetries + 1 attempts', async () => {
  const s = await serve([err(503, 'unavailable', {}, { 'Retry-After': '0' })]);
  const e = await new Creditd(s.url, 'k', { ...fast, maxRetries: 3 }).models().catch((x) => x);
  assert.ok(e instanceof cd.Unavailable);
  assert.equal(e.retryAfter, 0);
  assert.equal(s.seen.length, 4);
});

test('a Retry-After longer than maxRetryDelayMs is not waited for', async () => {
  const s = await serve([err(503, 'unavailable', {}, { 'Retry-After': '30' })]);
  const started = Date.now();
  const e = await new Creditd(s.url, 'k').models().catch((x) => x);
  assert.ok(e instanceof cd.Unavailable);
  assert.equal(e.retryAfter, 30);
  assert.equal(s.seen.length, 1);
  assert.ok(Date.now() - started < 1000);
});

test('stripe_not_configured is not retried', async () => {
  const s = await serve([err(503, 'stripe_not_configured')]);
  const e = await new Creditd(s.url, 'k', fast).topup('a', 2000).catch((x) => x);
  assert.ok(e instanceof cd.StripeNotConfigured && e instanceof cd.Unavailable);
  assert.equal(s.seen.length, 1);
});

test('a dropped connection is retried with the same key', async () => {
  const s = await serve(['drop', ok({ hold_id: 'h', state: 'released' })]);
  const r = await new Creditd(s.url, 'k', fast).release('h');
  assert.equal(r.state, 'released');
  assert.equal(s.seen.length, 2);
  assert.equal(s.seen[0].headers['idempotency-key'], s.seen[1].headers['idempotency-key']);
});

test('no answer at all: ConnectionFailed, status null, after the retries', async () => {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));
  const e = await new Creditd(`http://127.0.0.1:${port}`, 'k', fast).healthz().catch((x) => x);
  assert.ok(e instanceof cd.ConnectionFailed);
  assert.equal(e.status, null);
  assert.match(e.message, /ECONNREFUSED/);
});

test('a timeout is a ConnectionFailed', async () => {
  const s = await serve(['hang']);
  const e = await new Creditd(s.url, 'k', { timeoutMs: 200, maxRetries: 1, retryDelayMs: 1 }).models().catch((x) => x);
  assert.ok(e instanceof cd.ConnectionFailed);
  assert.match(e.message, /no answer within 200 ms/);
  assert.equal(s.seen.length, 2);
});

test('typed errors by code, not retried', async () => {
  const cases = [
    [400, 'invalid_request', cd.InvalidRequest],
    [401, 'unauthorized', cd.Unauthorized],
    [402, 'insufficient_credits', cd.InsufficientCredits],
    [403, 'forbidden', cd.Forbidden],
    [403, 'account_suspended', cd.AccountSuspended],
    [404, 'not_found', cd.NotFound],
    [409, 'conflict', cd.Conflict],
    [409, 'already_redeemed', cd.AlreadyRedeemed],
    [409, 'promo_exhausted', cd.PromoExhausted],
    [409, 'promo_expired', cd.PromoExpired],
    [413, 'payload_too_large', cd.PayloadTooLarge],
    [429, 'billing_hard_limit_reached', cd.BillingHardLimitReached],
    [429, 'daily_limit_reached', cd.DailyLimitReached],
    [429, 'member_cap_reached', cd.MemberCapReached],
    [429, 'rate_limit_exceeded', cd.RateLimited],
    [502, 'upstream_error', cd.UpstreamError],
    [405, 'method_not_allowed', cd.InvalidRequest],
    [500, 'internal_error', cd.ServerError],
    [429, 'some_new_code', cd.LimitReached],
  ];
  for (const [status, code, cls] of cases) {
    const s = await serve([err(status, code, { param: 'x', available_micros: 5, required_micros: 9 })]);
    const e = await new Creditd(s.url, 'k', fast).createAccount('a').catch((x) => x);
    assert.equal(e.constructor, cls, code);
    assert.ok(e instanceof cd.CreditdError);
    assert.equal(e.name, cls.name);
    assert.deepEqual([e.status, e.code, e.param, e.errorMessage], [status, code, 'x', `m ${code}`]);
    assert.deepEqual([e.availableMicros, e.requiredMicros], [5, 9]);
    assert.equal(s.seen.length, 1, `${code} is not retried`);
  }
  assert.ok(new cd.BillingHardLimitReached(429, {}) instanceof cd.LimitReached);
  assert.ok(!(new cd.RateLimited(429, {}) instanceof cd.LimitReached), 'a rate limit is not a spending limit');
});

test('RateLimited.retryAfter: Retry-After, else retry_after_seconds', async () => {
  let s = await serve([err(429, 'rate_limit_exceeded', { retry_after_seconds: 12 }, { 'Retry-After': '12' })]);
  let e = await new Creditd(s.url, 'k').authorize({ account: 'a', requestId: 'r' }).catch((x) => x);
  assert.equal(e.retryAfter, 12);
  s = await serve([err(429, 'rate_limit_exceeded', { retry_after_seconds: 7 })]);
  e = await new Creditd(s.url, 'k').authorize({ account: 'a', requestId: 'r' }).catch((x) => x);
  assert.equal(e.retryAfter, 7);
});

test('an answer that is not JSON', async () => {
  const s = await serve([() => [500, '<html>Internal Server Error</html>'], () => [200, undefined]]);
  const c = new Creditd(s.url, 'k', fast);
  const e = await c.models().catch((x) => x);
  assert.ok(e instanceof cd.ServerError);
  assert.equal(e.body, null);
  assert.equal(e.errorMessage, '<html>Internal Server Error</html>');
  assert.equal(s.seen.length, 1);
});

test('a proxy\'s 502 page is Unavailable, not Stripe\'s UpstreamError', async () => {
  for (const body of ['<html>Bad Gateway</html>', undefined]) {
    const s = await serve([() => [502, body]]);
    const e = await new Creditd(s.url, 'k', { ...fast, maxRetries: 0 }).models().catch((x) => x);
    assert.equal(e.constructor, cd.Unavailable);
    assert.deepEqual([e.status, e.code, e.body], [502, null, null]);
  }
});

test('a proxy\'s 429 page (nginx limit_req) is RateLimited, not a spending limit, with its Retry-After', async () => {
  const page = '<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>';
  let s = await serve([() => [429, page, { 'Retry-After': '7' }], ok({})]);
  let e = await new Creditd(s.url, 'k', fast).authorize({ account: 'a', requestId: 'r' }).catch((x) => x);
  assert.equal(e.constructor, cd.RateLimited);
  assert.ok(!(e instanceof cd.LimitReached));
  assert.deepEqual([e.status, e.code, e.retryAfter], [429, null, 7]);
  assert.equal(s.seen.length, 1, 'a rate limit is not retried');
  s = await serve([() => [429, undefined]]);
  e = await new Creditd(s.url, 'k', fast).models().catch((x) => x);
  assert.equal(e.constructor, cd.RateLimited);
  assert.equal(e.retryAfter, null);
});

test('bodies: camelCase to snake_case, undefined dropped, null sent, integers only, bigint exact', async () => {
  const s = await serve([ok({})]);
  const c = new Creditd(s.url, 'secret-key', fast);
  await c.patchAccount('a/b c', { monthlyLimitMicros: null, plan: undefined, autoRecharge: { thresholdMicros: 10n ** 17n, amountCents: 2000 } });
  const sent = s.seen[0];
  assert.equal(sent.method, 'PATCH');
  assert.equal(sent.url, '/credits/v1/accounts/a%2Fb%20c');
  assert.equal(sent.headers.authorization, 'Bearer secret-key');
  assert.equal(sent.headers['content-type'], 'application/json');
  assert.match(sent.headers['user-agent'], /^creditd-client-node\//);
  assert.deepEqual(Object.keys(sent.body), ['monthly_limit_micros', 'auto_recharge']);
  assert.equal(sent.body.monthly_limit_micros, null);
  await assert.rejects(c.grant('a', 1.5, 'promo'), TypeError);
  await assert.rejects(c.grant('a', Number.MAX_SAFE_INTEGER + 2, 'promo'), TypeError);
  assert.equal(cd.toJson({ a: 10n ** 17n }), '{"a":100000000000000000}');
  assert.equal(s.seen.length, 1, 'refused bodies are not sent');
});

test('the account email goes out as email, null clears it', async () => {
  const s = await serve([ok({ email: 'ops@example.com' }), ok({ email: null })]);
  const c = new Creditd(s.url, 'k', fast);
  assert.equal((await c.createAccount('a', { email: 'ops@example.com' })).email, 'ops@example.com');
  assert.equal((await c.patchAccount('a', { email: null })).email, null);
  assert.deepEqual(s.seen[0].body, { id: 'a', kind: 'user', email: 'ops@example.com' });
  assert.deepEqual(s.seen[1].body, { email: null });
});

test('every app route: method, path, query and body', async () => {
  const s = await serve([ok({ data: [] })]);
  const c = new Creditd(s.url + '/', 'k', fast);
  await c.authorize({ account: 'a', requestId: 'r', model: 'm', inputTokens: 10, maxOutputTokens: 800, minOutputTokens: 100 });
  await c.recordUsage({ account: 'a', model: 'm', inputTokens: 1, outputTokens: 2, force: true });
  await c.getAccount('a');
  await c.transactions('a', { limit: 2, cursor: 'txn_9' });
  await c.usageReport('a', { from: '2026-11-01', groupBy: 'day' });
  await c.topup('a', 2000, { successUrl: 'https://x/ok', saveCard: true });
  await c.redeem('a', 'WELCOME');
  await c.plans();
  await c.browserToken('a', { ttlSeconds: 600, member: 'bob' });
  await c.setAlerts('a', [{ kind: 'monthly_spend_pct', pct: 80 }, { kind: 'member_cap_pct', pct: 90, member: 'bob' }]);
  await c.getAlerts('a');
  await c.referralCode('a/b');
  await c.createAccount('n', { referralCode: 'k3m9x2p7qa' });
  await c.events({ after: 5, limit: 10 });
  await c.healthz();
  const seen = s.seen.map((r) => [r.method, r.url, r.body ?? null]);
  assert.deepEqual(seen, [
    ['POST', '/credits/v1/guard/authorize', { account: 'a', request_id: 'r', model: 'm', input_tokens: 10, max_output_tokens: 800, min_output_tokens: 100 }],
    ['POST', '/credits/v1/usage', { account: 'a', model: 'm', input_tokens: 1, output_tokens: 2, force: true }],
    ['GET', '/credits/v1/accounts/a', null],
    ['GET', '/credits/v1/accounts/a/transactions?limit=2&cursor=txn_9', null],
    ['GET', '/credits/v1/accounts/a/usage?from=2026-11-01&group_by=day', null],
    ['POST', '/credits/v1/accounts/a/topup', { amount_cents: 2000, success_url: 'https://x/ok', save_card: true }],
    ['POST', '/credits/v1/accounts/a/redeem', { code: 'WELCOME' }],
    ['GET', '/credits/v1/plans', null],
    ['POST', '/credits/v1/accounts/a/browser_tokens', { ttl_seconds: 600, member: 'bob' }],
    ['PUT', '/credits/v1/accounts/a/alerts',
      { alerts: [{ kind: 'monthly_spend_pct', pct: 80 }, { kind: 'member_cap_pct', pct: 90, member: 'bob' }] }],
    ['GET', '/credits/v1/accounts/a/alerts', null],
    ['GET', '/credits/v1/accounts/a%2Fb/referral_code', null],
    ['POST', '/credits/v1/accounts', { id: 'n', kind: 'user', referral_code: 'k3m9x2p7qa' }],
    ['GET', '/credits/v1/events?after=5&limit=10', null],
    ['GET', '/credits/healthz', null],
  ]);
  assert.equal(s.seen[2].headers['idempotency-key'], undefined, 'no key on a GET');
  assert.equal(s.seen.at(-1).headers.authorization, undefined, 'healthz sends no key');
  await assert.rejects(c.setAlerts('a', { kind: 'balance_below', micros: 1 }), TypeError, 'alerts are a list');
});

test('iterTransactions follows next_cursor; iterEvents follows next_after', async () => {
  const pages = {
    '': { data: [{ id: 'txn_5' }, { id: 'txn_4' }], next_cursor: 'txn_4' },
    txn_4: { data: [{ id: 'txn_3' }, { id: 'txn_2' }], next_cursor: 'txn_2' },
    txn_2: { data: [{ id: 'txn_1' }], next_cursor: null },
  };
  const s = await serve([(req) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname.endsWith('/events')) {
      const afterId = Number(u.searchParams.get('after'));
      const data = [afterId + 1, afterId + 2].filter((id) => id <= 5).map((id) => ({ id }));
      return [200, { data, next_after: data.length ? data.at(-1).id : afterId }];
    }
    return [200, pages[u.searchParams.get('cursor') ?? '']];
  }]);
  const c = new Creditd(s.url, 'k');
  const ids = [];
  for await (const t of c.iterTransactions('a', { pageSize: 2 })) ids.push(t.id);
  assert.deepEqual(ids, ['txn_5', 'txn_4', 'txn_3', 'txn_2', 'txn_1']);
  assert.ok(s.seen.every((r) => r.url.includes('limit=2')));
  const events = [];
  for await (const e of c.iterEvents({ after: 1, pageSize: 2 })) events.push(e.id);
  assert.deepEqual(events, [2, 3, 4, 5]);
});

test('an option given as undefined takes its default: bounded retries, a working timeout', async () => {
  let tries = 0;
  const fetch = async (url, init) => {
    tries += 1;
    assert.ok(init.signal instanceof AbortSignal);
    return new Response(JSON.stringify({ error: { type: 't', code: 'unavailable', message: 'm', param: null } }),
      { status: 503 });
  };
  const c = new Creditd('http://creditd.test', 'k', {
    fetch, maxRetries: undefined, timeoutMs: undefined, retryDelayMs: 1, maxRetryDelayMs: undefined,
  });
  assert.deepEqual([c.maxRetries, c.timeoutMs, c.maxRetryDelayMs], [2, 10000, 10000]);
  const e = await c.models().catch((x) => x);
  assert.ok(e instanceof cd.Unavailable, String(e));
  assert.equal(tries, 3, 'the first try and maxRetries (2) more, not forever');
});

const inProgress = err(409, 'conflict', { param: 'idempotency_key',
  message: 'a top-up with this Idempotency-Key is in progress' });

test('a top-up in progress (409) is waited out with the same key, apart from maxRetries', async () => {
  const s = await serve([inProgress, inProgress, inProgress, ok({ session_id: 'cs_1' })]);
  const c = new Creditd(s.url, 'k', { maxRetries: 1, retryDelayMs: 5 });
  const session = await c.topup('a', 2000, { idempotencyKey: 'topup-7' });
  assert.equal(session.session_id, 'cs_1');
  assert.deepEqual(s.seen.map((r) => r.headers['idempotency-key']), Array(4).fill('topup-7'));
});

test('top-up in progress: the waits add up to maxRetryDelayMs at most, then Conflict', async () => {
  const s = await serve([inProgress]);
  const started = Date.now();
  const e = await new Creditd(s.url, 'k', { retryDelayMs: 100, maxRetryDelayMs: 400 }).topup('a', 2000).catch((x) => x);
  const took = Date.now() - started;
  assert.ok(e instanceof cd.Conflict && e.param === 'idempotency_key', String(e));
  assert.ok(s.seen.length >= 3, `retried: ${s.seen.length}`);
  assert.ok(took < 1000, `within maxRetryDelayMs (and the round trips): ${took} ms`);
});

test('a key used with another request, or maxRetries 0: a 409 is not retried', async () => {
  const s = await serve([err(409, 'conflict', { param: 'idempotency_key',
    message: 'this Idempotency-Key was used with another request' })]);
  const e = await new Creditd(s.url, 'k', fast).topup('a', 2000, { idempotencyKey: 'k' }).catch((x) => x);
  assert.ok(e instanceof cd.Conflict);
  assert.equal(s.seen.length, 1);
  const t = await serve([inProgress]);
  const f = await new Creditd(t.url, 'k', { ...fast, maxRetries: 0 }).topup('a', 2000, { idempotencyKey: 'k' })
    .catch((x) => x);
  assert.ok(f instanceof cd.Conflict);
  assert.equal(t.seen.length, 1);
});

test('maxRetries 0: no retry, and no Idempotency-Key of the client\'s own', async () => {
  const s = await serve([err(503, 'unavailable'), ok({})]);
  const c = new Creditd(s.url, 'k', { ...fast, maxRetries: 0 });
  await assert.rejects(c.grant('a', 5, 'promo'), cd.Unavailable);
  await c.grant('a', 5, 'promo', { idempotencyKey: 'mine' });
  assert.deepEqual(s.seen.map((r) => r.headers['idempotency-key']), [undefined, 'mine']);
});

test('a 503 without a code (a proxy\'s) is Unavailable and retried', async () => {
  const s = await serve([() => [503, undefined], ok({ ok: true })]);
  assert.deepEqual(await new Creditd(s.url, 'k', fast).models(), { ok: true });
  assert.equal(s.seen.length, 2);
});

test('unavailable with a 502 or 504 (Apache\'s error pages) is retried like a 503, after Retry-After', async () => {
  for (const status of [502, 504, 500]) {
    const s = await serve([err(status, 'unavailable', {}, { 'Retry-After': '1' }), err(status, 'unavailable'),
      ok({ hold_id: 'h', charged_micros: 5 })]);
    const c = new Creditd(s.url, 'k', fast);
    assert.equal((await c.settle('h', { inputTokens: 10, outputTokens: 5, idempotencyKey: 'set-1' })).charged_micros, 5);
    assert.equal(s.seen.length, 3, `${status}`);
    assert.deepEqual(s.seen.map((r) => r.headers['idempotency-key']), Array(3).fill('set-1'));
    assert.ok(s.seen[1].at - s.seen[0].at >= 950, 'waited for Retry-After: 1');
  }
});

test('a proxy\'s 502 or 504 page is Unavailable and retried, with one key, up to maxRetries', async () => {
  for (const status of [502, 504]) {
    const page = `<html><body>${status}</body></html>`;
    let s = await serve([() => [status, page], () => [status, page], ok({ id: 'grant_1' })]);
    assert.equal((await new Creditd(s.url, 'k', fast).grant('a', 5, 'promo')).id, 'grant_1');
    assert.equal(s.seen.length, 3, `${status}`);
    assert.equal(new Set(s.seen.map((r) => r.headers['idempotency-key'])).size, 1, 'one key');
    s = await serve([() => [status, page]]);
    const e = await new Creditd(s.url, 'k', { ...fast, maxRetries: 3 }).models().catch((x) => x);
    assert.equal(e.constructor, cd.Unavailable);
    assert.deepEqual([e.status, s.seen.length], [status, 4]);
  }
});

test('upstream_error and the other 5xx codes are not retried', async () => {
  for (const [status, code, cls] of [[502, 'upstream_error', cd.UpstreamError], [504, 'internal_error', cd.ServerError],
    [502, 'no_such_code', cd.UpstreamError], [503, 'stripe_not_configured', cd.StripeNotConfigured]]) {
    const s = await serve([err(status, code, {}, { 'Retry-After': '0' }), ok({})]);
    const e = await new Creditd(s.url, 'k', fast).topup('a', 500).catch((x) => x);
    assert.equal(e.constructor, cls, `${status} ${code}`);
    assert.equal(s.seen.length, 1, `${status} ${code} is not retried`);
  }
});
