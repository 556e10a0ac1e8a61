// headers.test.js: a header value goes on the wire only as printable ASCII.
// A CR or LF in a key would end the header and smuggle a request of its own;
// such a value is a TypeError before anything is sent, never a
// ConnectionFailed, never retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cd from '../index.js';

function counting() {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return new Response('{}', { status: 200 });
  };
  return { calls, fetch };
}

const BAD_KEYS = ['k\r\nX-Injected: 1', 'k\nX-Injected: 1', 'k\r', 'k\0', 'k\x7f', 'k\tk', 'k\u00e9', '',
  'k'.repeat(256)];

test('a bad Idempotency-Key is a TypeError before anything is sent, never retried', async () => {
  const { calls, fetch } = counting();
  const c = new cd.Creditd('http://creditd.test', 'k', { fetch, retryDelayMs: 0 });
  for (const key of BAD_KEYS) {
    const e = await c.grant('a', 5, 'promo', { idempotencyKey: key }).catch((x) => x);
    assert.ok(e instanceof TypeError && !(e instanceof cd.CreditdError), JSON.stringify(key));
    assert.match(e.message, /Idempotency-Key/);
    const s = await c.settle('h', { inputTokens: 1, outputTokens: 1, idempotencyKey: key }).catch((x) => x);
    assert.ok(s instanceof TypeError, `settle: ${JSON.stringify(key)}`);
  }
  assert.equal(calls.length, 0, 'nothing sent');
  await c.grant('a', 5, 'promo', { idempotencyKey: 'k'.repeat(255) });
  assert.equal(calls[0].init.headers['Idempotency-Key'], 'k'.repeat(255), '255 printable bytes do');
});

test('a bad API key or user agent is a TypeError when the client is made', () => {
  for (const [key, options] of [['sk\r\nX-Injected: 1', {}], ['sk\0', {}], ['sk', { userAgent: 'app\r\nX-Injected: 1' }],
    ['sk', { userAgent: 'app\x1b[1m' }]]) {
    assert.throws(() => new cd.Creditd('http://creditd.test', key, options), (e) => {
      assert.ok(e instanceof TypeError);
      assert.doesNotMatch(e.message, /sk/, 'the key is a secret: never echoed');
      return true;
    });
  }
});

test('a path with a control character or a space is a TypeError', async () => {
  const { calls, fetch } = counting();
  const c = new cd.Creditd('http://creditd.test', 'k', { fetch });
  for (const path of ['/v1/models HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /x', '/v1/a\nb', '/v1/a b']) {
    await assert.rejects(c.request('GET', path), TypeError);
  }
  assert.equal(calls.length, 0);
});
