// signature.test.js: verifyEvent against headers made the way creditd makes
// them (HMAC-SHA256 of "TS.body", hex), and against every way one can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { verifyEvent, signEvent, BadSignature } from '../index.js';

const SECRET = 'whsec_test_secret';
const BODY = '{"id":42,"type":"balance.low","created_at":"2026-11-21T10:00:00Z","account":"alice","data":{"available_micros":900}}';
const NOW = 1_790_000_000;

function header(body, secret = SECRET, t = NOW) {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

test('a valid signature answers the decoded event', () => {
  const ev = verifyEvent(BODY, header(BODY), SECRET, { now: NOW });
  assert.equal(ev.id, 42);
  assert.equal(ev.type, 'balance.low');
});

test('signEvent makes the header creditd sends', () => {
  assert.equal(signEvent(BODY, SECRET, NOW), header(BODY));
});

test('Buffer, Uint8Array and ArrayBuffer payloads check the same bytes', () => {
  const buf = Buffer.from(BODY);
  assert.equal(verifyEvent(buf, header(BODY), SECRET, { now: NOW }).id, 42);
  assert.equal(verifyEvent(new Uint8Array(buf), header(BODY), SECRET, { now: NOW }).id, 42);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  assert.equal(verifyEvent(ab, header(BODY), SECRET, { now: NOW }).id, 42);
});

test('non-ASCII bodies are signed as UTF-8 bytes', () => {
  const body = '{"id":1,"type":"promo.redeemed","data":{"code":"ÉTÉ-2026"}}';
  assert.equal(verifyEvent(body, header(body), SECRET, { now: NOW }).data.code, 'ÉTÉ-2026');
});

test('refusals', () => {
  const bad = (...args) => assert.throws(() => verifyEvent(...args), BadSignature);
  bad(BODY, header(BODY, 'another secret'), SECRET, { now: NOW });
  bad(BODY.replace('900', '9000'), header(BODY), SECRET, { now: NOW }); // tampered body
  bad(BODY, header(BODY, SECRET, NOW - 301), SECRET, { now: NOW }); // too old
  bad(BODY, header(BODY, SECRET, NOW + 301), SECRET, { now: NOW }); // from the future
  bad(BODY, header(BODY).replace(/t=\d+/, `t=${NOW + 1}`), SECRET, { now: NOW }); // timestamp changed
  bad(BODY, '', SECRET, { now: NOW });
  bad(BODY, null, SECRET, { now: NOW });
  bad(BODY, `t=${NOW}`, SECRET, { now: NOW });
  bad(BODY, `v1=${'0'.repeat(64)}`, SECRET, { now: NOW });
  bad(BODY, `t=${NOW},v1=abc`, SECRET, { now: NOW }); // short signature: no throw from timingSafeEqual
  bad(BODY, `t=${NOW},v1=${'z'.repeat(64)}`, SECRET, { now: NOW });
});

test('the tolerance is inclusive and configurable', () => {
  assert.equal(verifyEvent(BODY, header(BODY, SECRET, NOW - 300), SECRET, { now: NOW }).id, 42);
  assert.throws(() => verifyEvent(BODY, header(BODY, SECRET, NOW - 10), SECRET, { now: NOW, tolerance: 5 }), BadSignature);
});

test('one matching v1 among several (secret rotation) is enough', () => {
  const good = header(BODY).split(',')[1];
  const h = `t=${NOW},v1=${'a'.repeat(64)}, ${good}`;
  assert.equal(verifyEvent(BODY, h, SECRET, { now: NOW }).id, 42);
});

test('the default clock is the real one', () => {
  const t = Math.floor(Date.now() / 1000);
  assert.equal(verifyEvent(BODY, header(BODY, SECRET, t), SECRET).id, 42);
  assert.throws(() => verifyEvent(BODY, header(BODY, SECRET, t - 3600), SECRET), BadSignature);
});

test('a signed body that is not JSON is refused', () => {
  assert.throws(() => verifyEvent('not json', header('not json'), SECRET, { now: NOW }), BadSignature);
});
