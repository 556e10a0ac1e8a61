// signature.js: checks a pushed event's Creditd-Signature before the app
// trusts a byte of it. The scheme is Stripe's: t=TS,v1=HEX where HEX is
// HMAC-SHA256(secret, "TS.body") over the raw body exactly as it came in.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BadSignature } from './errors.js';

export const DEFAULT_TOLERANCE_SECONDS = 300;

function rawBytes(payload) {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload instanceof ArrayBuffer) return Buffer.from(payload);
  throw new TypeError('payload: the raw request body (string, Buffer, Uint8Array or ArrayBuffer)');
}

/** The header value creditd would send for `payload` at `timestamp` (unix seconds); for tests. */
export function signEvent(payload, secret, timestamp = Math.floor(Date.now() / 1000)) {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBytes(payload)).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * Checks a pushed event and returns it decoded. payload: the raw body (read
 * it with `await request.text()` or as a Buffer, never re-serialized JSON);
 * header: the Creditd-Signature header; secret: creditd's [notify] secret.
 * Throws BadSignature when no v1 matches or the timestamp is more than
 * `tolerance` seconds away from now (either way). Events come at least
 * once: skip an id you have handled already.
 */
export function verifyEvent(payload, header, secret, { tolerance = DEFAULT_TOLERANCE_SECONDS, now } = {}) {
  if (!secret) throw new TypeError('secret: the [notify] secret is required');
  const body = rawBytes(payload);
  let timestamp = null;
  const signatures = [];
  for (const part of String(header ?? '').split(',')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1') signatures.push(value);
  }
  if (timestamp === null || signatures.length === 0) {
    throw new BadSignature('no t= and v1= in the Creditd-Signature header');
  }
  const nowSeconds = now ?? Date.now() / 1000;
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    throw new BadSignature("the signature's timestamp is outside the tolerance");
  }
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
  const matches = signatures.some((hex) => {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) return false;
    return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
  });
  if (!matches) throw new BadSignature('no signature matches the secret');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadSignature('the signed body is not JSON');
  }
}
