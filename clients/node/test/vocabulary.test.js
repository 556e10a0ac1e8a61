// vocabulary.test.js: the client against the three clients' one vocabulary
// (clients/vocabulary.json) and creditd's version (configure.ac): a drift
// between them fails here. The Python (tests/test_vocabulary.py) and PHP
// (tests/VocabularyTest.php) suites read the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as cd from '../index.js';

const here = (p) => new URL(p, import.meta.url);
const vocabularyFile = here('../../vocabulary.json');
const configureAc = here('../../../configure.ac');
const inTree = { skip: !existsSync(vocabularyFile) && 'clients/vocabulary.json is in creditd\'s source tree only' };
const vocabulary = () => JSON.parse(readFileSync(vocabularyFile, 'utf8'));
const base = () => cd[vocabulary().base.node];

const errorOf = (status, code) => cd.errorFor(status, code ? { error: { type: 't', code, message: 'm', param: null } } : null, {});

test('every class with its parent, and whether it is retried', inTree, () => {
  for (const [name, spec] of Object.entries(vocabulary().classes)) {
    const cls = cd[name];
    assert.equal(typeof cls, 'function', `${name} is exported`);
    assert.equal(cls.name, name, `${name} is its own class`);
    const parent = spec.parent ? cd[spec.parent] : base();
    assert.equal(Object.getPrototypeOf(cls), parent, `${name} extends ${parent.name}`);
    assert.equal(cls.retried, spec.retried, `${name}.retried`);
  }
  for (const [old, current] of Object.entries(vocabulary().deprecated_classes.node)) {
    assert.equal(cd[old], cd[current], `the former ${old} is ${current}`);
  }
});

test('every code of creditd has its class', inTree, () => {
  for (const row of vocabulary().codes) {
    const e = errorOf(row.status, row.code);
    assert.equal(e.constructor.name, row.class, `${row.status} ${row.code}`);
    assert.deepEqual([e.status, e.code], [row.status, row.code]);
  }
});

test('a code unknown or with another status goes by the status', inTree, () => {
  const { about, ...statuses } = vocabulary().statuses;
  assert.ok(about);
  const withoutCode = vocabulary().without_code;
  for (const [key, name] of Object.entries(statuses)) {
    const status = { '4xx': 418, '5xx': 504 }[key] ?? Number(key);
    const codes = ['no_such_code', status >= 500 ? 'forbidden' : 'unavailable'];
    if (!Object.hasOwn(withoutCode, String(status))) codes.push(null);
    for (const code of codes) {
      assert.equal(errorOf(status, code).constructor.name, name, `${status} ${code}`);
    }
  }
  assert.equal(errorOf(302, null).constructor, base());
});

test('an answer without a code goes by without_code', inTree, () => {
  const { about, ...withoutCode } = vocabulary().without_code;
  assert.ok(about);
  assert.deepEqual(withoutCode, { 429: 'RateLimited', 502: 'Unavailable', 503: 'Unavailable', 504: 'Unavailable' });
  for (const [key, name] of Object.entries(withoutCode)) {
    const status = Number(key);
    for (const body of [null, { error: 'Bad Gateway' }, { error: { message: 'no code' } }, ['x']]) {
      const e = cd.errorFor(status, body, { 'retry-after': '4' }, `<html>${status}</html>`);
      assert.equal(e.constructor.name, name, `${status} ${JSON.stringify(body)}`);
      assert.deepEqual([e.status, e.code, e.retryAfter], [status, null, 4]);
    }
  }
  assert.ok(!(errorOf(429, null) instanceof cd.LimitReached));
});

test('a code of any_5xx is its class with every 5xx', inTree, () => {
  const { about, ...any5xx } = vocabulary().any_5xx;
  assert.ok(about);
  assert.deepEqual(any5xx, { unavailable: 'Unavailable' });
  for (const [code, name] of Object.entries(any5xx)) {
    for (const status of [500, 502, 503, 504, 599]) {
      const e = errorOf(status, code);
      assert.equal(e.constructor.name, name, `${status} ${code}`);
      assert.deepEqual([e.status, e.code], [status, code]);
    }
    for (const status of [400, 429]) assert.notEqual(errorOf(status, code).constructor.name, name, `${status} ${code}`);
  }
});

test('only the classes marked retried are sent again', inTree, async () => {
  const v = vocabulary();
  for (const row of v.codes) {
    let tries = 0;
    const fetch = async () => {
      tries += 1;
      const body = tries === 1 ? { error: { type: 't', code: row.code, message: 'm', param: null } } : { ok: true };
      return new Response(JSON.stringify(body), { status: tries === 1 ? row.status : 200 });
    };
    const c = new cd.Creditd('http://127.0.0.1:9', 'k', { fetch, maxRetries: 1, retryDelayMs: 0 });
    await c.models().catch(() => null);
    assert.equal(tries, v.classes[row.class].retried ? 2 : 1, `${row.status} ${row.code}`);
  }
});

test('an answer without a code, or with a code of any_5xx, is retried as its class', inTree, async () => {
  const v = vocabulary();
  const cases = Object.entries(v.without_code).filter(([k]) => k !== 'about').map(([k, name]) => [Number(k), null, name]);
  for (const [code, name] of Object.entries(v.any_5xx)) {
    if (code !== 'about') for (const status of [500, 502, 503, 504]) cases.push([status, code, name]);
  }
  for (const [status, code, name] of cases) {
    let tries = 0;
    const fetch = async () => {
      tries += 1;
      if (tries > 1) return new Response(JSON.stringify({ ok: true }), { status: 200 });
      return code === null ? new Response(`<html><body>${status}</body></html>`, { status, headers: { 'content-type': 'text/html' } })
        : new Response(JSON.stringify({ error: { type: 't', code, message: 'm', param: null } }), { status });
    };
    const c = new cd.Creditd('http://127.0.0.1:9', 'k', { fetch, maxRetries: 1, retryDelayMs: 0 });
    await c.models().catch(() => null);
    assert.equal(tries, v.classes[name].retried ? 2 : 1, `${status} ${code}`);
  }
});

test('the options, their names and defaults', inTree, () => {
  const c = new cd.Creditd('http://127.0.0.1:9', 'k');
  for (const opt of vocabulary().options) {
    const want = typeof opt.default === 'string'
      ? opt.default.replace('{language}', 'node').replace('{version}', cd.VERSION) : opt.default;
    assert.equal(c[opt.node], want, opt.node);
    const set = new cd.Creditd('http://127.0.0.1:9', 'k', { [opt.node]: typeof want === 'string' ? 'x' : 7 });
    assert.equal(set[opt.node], typeof want === 'string' ? 'x' : 7, `${opt.node} is taken`);
  }
  assert.deepEqual(vocabulary().deprecated_options.node, {});
});

test('a number option is a whole number within its range; null or undefined takes the default', inTree, () => {
  for (const opt of vocabulary().options) {
    if (opt.min === undefined) continue;
    const make = (value) => new cd.Creditd('http://127.0.0.1:9', 'k', { [opt.node]: value });
    for (const good of [opt.min, opt.max]) assert.equal(make(good)[opt.node], good, opt.node);
    assert.equal(make(undefined)[opt.node], opt.default, `${opt.node}: undefined takes the default`);
    assert.equal(make(null)[opt.node], opt.default, `${opt.node}: null takes the default`);
    for (const bad of [opt.min - 1, opt.max + 1]) assert.throws(() => make(bad), RangeError, `${opt.node}: ${bad}`);
    for (const bad of [2.5, Infinity, NaN, '5', true, {}]) assert.throws(() => make(bad), TypeError, `${opt.node}: ${bad}`);
  }
});

test('an unknown option name is a TypeError', () => {
  for (const name of ['timeout', 'timeout_ms', 'maxRetry', 'retries']) {
    assert.throws(() => new cd.Creditd('http://127.0.0.1:9', 'k', { [name]: 1 }), TypeError, name);
  }
  assert.throws(() => new cd.Creditd('http://127.0.0.1:9', 'k', { fetch: 'no' }), TypeError);
});

test('one version: package.json, VERSION, and creditd\'s own', () => {
  const pkg = JSON.parse(readFileSync(here('../package.json'), 'utf8'));
  assert.equal(cd.VERSION, pkg.version);
  if (existsSync(configureAc)) {
    const found = readFileSync(configureAc, 'utf8').match(/AC_INIT\(\[creditd\],\s*\[([^\]]+)\]/);
    assert.ok(found, 'AC_INIT in configure.ac');
    assert.equal(cd.VERSION, found[1]);
  }
});
