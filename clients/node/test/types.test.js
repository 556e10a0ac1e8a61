// types.test.js: index.d.ts declares every export of index.js and nothing
// else, and package.json points at both. A text check; the type check is
// tsc on test/types-check.ts, which ./dev check runs with npm's typescript
// as test tooling (the package itself has no dependencies; README, Types).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as runtime from '../index.js';

const here = (p) => new URL(p, import.meta.url);
const dts = readFileSync(here('../index.d.ts'), 'utf8');

test('index.d.ts declares exactly the runtime exports', () => {
  const values = new Set();
  const re = /^export (?:declare )?(?:const|function|class) (\w+)/gm;
  for (const m of dts.matchAll(re)) values.add(m[1]);
  assert.deepEqual([...values].sort(), Object.keys(runtime).sort());
});

test('every exported class is a class at run time, every function a function', () => {
  for (const m of dts.matchAll(/^export (?:declare )?(class|function|const) (\w+)/gm)) {
    const value = runtime[m[2]];
    if (m[1] === 'const') assert.notEqual(typeof value, 'function', m[2]);
    else assert.equal(typeof value, 'function', m[2]);
  }
});

test('every Creditd and Guard method is declared', () => {
  for (const [cls, name] of [[runtime.Creditd, 'Creditd'], [runtime.Guard, 'Guard']]) {
    const body = dts.slice(dts.indexOf(`export declare class ${name} {`));
    const block = body.slice(0, body.indexOf('\n}\n'));
    for (const method of Object.getOwnPropertyNames(cls.prototype)) {
      if (method === 'constructor') continue;
      assert.match(block, new RegExp(`\\n  (readonly )?${method}[<(:]`), `${name}.${method}`);
    }
  }
});

test('package.json: ESM, exports with types, Node >= 18, no dependencies', () => {
  const pkg = JSON.parse(readFileSync(here('../package.json'), 'utf8'));
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.types, './index.d.ts');
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', default: './index.js' });
  assert.equal(pkg.engines.node, '>=18');
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    assert.equal(pkg[field], undefined, field);
  }
});
