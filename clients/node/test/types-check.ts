// types-check.ts: compiled by tsc (not run) to check index.d.ts against
// how an app uses the client. The lines under @ts-expect-error must fail.
// tsc is not a dependency: see README ("Types") for the command.
import {
  Creditd, Guard, CreditdError, InsufficientCredits, RateLimited, Unavailable, ConnectionFailed, InvalidRequest,
  PayloadTooLarge, ServerError, errorClass, verifyEvent, signEvent, BadSignature, type Hold, type Settlement, type CreditdEvent, type Transaction,
} from '../index.js';

async function usage(): Promise<void> {
  const credits = new Creditd('https://billing.example.com/credits', 'key', { timeoutMs: 5000, maxRetries: 3 });
  const hold: Hold = await credits.authorize({
    account: 'alice', requestId: 'r1', model: 'gpt-4o', inputTokens: 1200, maxOutputTokens: 800, minOutputTokens: 100n,
  });
  const cap: number = hold.max_output_tokens;
  const settled: Settlement = await credits.settle(hold.hold_id, { inputTokens: 1100, outputTokens: cap, cachedInputTokens: 0 });
  const charged: number = settled.charged_micros;
  await credits.release(hold.hold_id, { idempotencyKey: 'k' });
  await credits.recordUsage({ account: 'alice', model: 'gpt-4o', inputTokens: 1, outputTokens: 2, force: true });
  await credits.settle(hold.hold_id, { inputTokens: 1100, outputTokens: 1, cachedInputTokens: 100, cacheWriteInputTokens: 900 });
  await credits.recordUsage({ account: 'alice', model: 'claude', inputTokens: 1000, outputTokens: 2, cacheWriteInputTokens: 900 });
  const account = await credits.getAccount('alice');
  const available: number = account.available_micros;
  for await (const t of credits.iterTransactions('alice', { pageSize: 50 })) {
    const row: Transaction = t;
    void row.usage?.model;
  }
  for await (const e of credits.iterEvents({ after: 0 })) {
    const ev: CreditdEvent = e;
    void ev.type;
  }
  await credits.usageReport('alice', { from: '2026-11-01', groupBy: 'day' });
  const checkout = await credits.topup('alice', 2000, { successUrl: 'https://x', saveCard: true });
  const url: string = checkout.checkout_url;
  await credits.redeem('alice', 'WELCOME');
  const set = await credits.setAlerts('alice', [{ kind: 'monthly_spend_pct', pct: 80 }, { kind: 'balance_below', micros: 2000000 }]);
  const alertState: 'armed' | 'fired' | undefined = (await credits.getAlerts('alice')).alerts[0]?.state;
  void [set.alerts.length, alertState];
  await credits.plans();
  const token: string = (await credits.browserToken('alice', { ttlSeconds: 600 })).token;
  const code: string = (await credits.referralCode('alice')).code;
  await credits.createAccount('bob', { referralCode: code });
  await credits.patchAccount('alice', { monthlyLimitMicros: null, autoRecharge: { thresholdMicros: 1, amountCents: 500 } });
  const mailed = await credits.patchAccount('alice', { email: 'ops@example.com' });
  const mail: string | null | undefined = mailed.email;
  void mail;
  await credits.createAccount('bob', { email: null });

  const text: string = await credits.guard({ account: 'alice', requestId: 'r2', model: 'gpt-4o', inputTokens: 10 },
    async (h: Guard) => {
      async function* chunks() { yield { choices: [{ delta: { content: 'hi' } }], usage: null }; }
      let out = '';
      for await (const c of h.openaiStream(chunks())) out += c.choices[0]?.delta?.content ?? '';
      h.usage({ inputTokens: 10, outputTokens: 1, cacheWriteInputTokens: 4 });
      const written: number | undefined = h.produced().cacheWriteInputTokens;
      await h.settle({ inputTokens: 10, outputTokens: 1, cacheWriteInputTokens: written });
      return out;
    });
  const g = await credits.startGuard({ account: 'alice', requestId: 'r3', model: 'claude', inputTokens: 10 });
  const models = await credits.models();
  const writePrice: number | undefined = models.data[0]?.cache_write_micros_per_mtok;
  void writePrice;
  const done = await g.finish(new Error('cut'));
  void [charged, available, url, token, text, done, g.partial, g.settleError];

  try {
    await credits.models();
  } catch (e) {
    if (e instanceof InsufficientCredits) { const n: number | null = e.requiredMicros; void n; }
    if (e instanceof RateLimited || e instanceof Unavailable) { const s: number | null = e.retryAfter; void s; }
    if (e instanceof ConnectionFailed) { const r: string = e.reason; void r; }
    if (e instanceof CreditdError) { const c: string | null = e.code; void c; }
  }
  const tooLarge: InvalidRequest = new PayloadTooLarge(413);
  const retried: boolean = errorClass(500, 'internal_error').retried && ServerError.retried;
  void [tooLarge, retried];
  const ev: CreditdEvent = verifyEvent('{}', signEvent('{}', 's'), 's', { tolerance: 60 });
  void ev;
  void new BadSignature('x');

  // @ts-expect-error: requestId is required
  await credits.authorize({ account: 'alice', model: 'gpt-4o', inputTokens: 1 });
  // @ts-expect-error: outputTokens is required
  await credits.settle('h', { inputTokens: 1 });
  // @ts-expect-error: amounts are integers, not strings
  await credits.grant('alice', '1000', 'promo');
  // @ts-expect-error: no such group
  await credits.usageReport('alice', { groupBy: 'week' });
  // @ts-expect-error: no such option (the options are camelCase)
  void new Creditd('https://billing.example.com/credits', 'key', { timeout_ms: 5000 });
}
void usage;
