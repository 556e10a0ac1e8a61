// hardening.test.js: an answer is read up to 16 MiB, never more; Retry-After
// is read the same way as the Python and PHP clients read it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cd from '../index.js';

const MAX = 16 * 1024 * 1024;

test('an answer over 16 MiB is a ConnectionFailed, with or without a Content-Length', async () => {
  let cancelled = 0;
  const big = (withLength) => async () => {
    const body = new ReadableStream({     // without end: only the cap stops the reading
      pull(controller) {
        controller.enqueue(new Uint8Array(1024 * 1024).fill(120));
      },
      cancel() { cancelled += 1; },
    });
    return new Response(body, { status: 200, headers: withLength ? { 'Content-Length': String(MAX + 1) } : {} });
  };
  for (const withLength of [true, false]) {
    const c = new cd.Creditd('http://creditd.test', 'k', { fetch: big(withLength), maxRetries: 0 });
    const e = await c.models().catch((x) => x);
    assert.ok(e instanceof cd.ConnectionFailed, String(e));
    assert.match(e.message, /16777216/);
  }
  assert.equal(cancelled, 2, 'the rest of the body is not read');
  const fetch = async () => new Response(JSON.stringify({ n: 'é'.repeat(10) }), { status: 200 });
  assert.deepEqual(await new cd.Creditd('http://creditd.test', 'k', { fetch }).models(), { n: 'é'.repeat(10) });
});

test('retryAfter, on every error: Retry-After seconds, else the body\'s retry_after_seconds', () => {
  const cases = [[{ 'retry-after': '3' }, {}, 3], [{}, { retry_after_seconds: 4 }, 4],
    [{ 'retry-after': '5' }, { retry_after_seconds: 9 }, 5],
    [{ 'retry-after': 'Wed, 21 Oct 2037 07:28:00 GMT' }, { retry_after_seconds: 6 }, 6],
    [{ 'retry-after': 'Wed, 21 Oct 2037 07:28:00 GMT' }, {}, null], [{ 'retry-after': '2.5' }, {}, null],
    [{ 'retry-after': '+2' }, {}, null], [{ 'retry-after': '-1' }, {}, null],
    [{}, { retry_after_seconds: -1 }, null], [{}, { retry_after_seconds: '7' }, null]];
  for (const [headers, extra, want] of cases) {
    for (const [status, code] of [[429, 'rate_limit_exceeded'], [503, 'unavailable'], [409, 'conflict'], [500, 'internal_error']]) {
      const e = cd.errorFor(status, { error: { code, ...extra } }, headers);
      assert.equal(e.retryAfter, want, `${status} ${JSON.stringify([headers, extra])}`);
    }
  }
  assert.equal(new cd.ConnectionFailed('reset').retryAfter, null);
});
