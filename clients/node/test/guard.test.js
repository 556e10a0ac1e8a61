// guard.test.js: the guard's settle-or-release decision, with fake provider
// streams (OpenAI and Anthropic shapes) cut off midway, and a fake client
// that records what would have been sent to creditd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Creditd, Guard, CHARS_PER_TOKEN, Unavailable, InsufficientCredits, anthropicUsage } from '../index.js';

/** A stand-in for Creditd's guard routes. */
function fakeClient({ maxOutputTokens = 100, settleFails = null, authorizeFails = null } = {}) {
  const calls = [];
  const client = {
    calls,
    async authorize(params) {
      calls.push(['authorize', params]);
      if (authorizeFails) throw authorizeFails;
      return { hold_id: 'hold_1_1', amount_micros: 1000, available_micros: 5000, expires_at: 'x',
        max_output_tokens: params.minOutputTokens ? Math.min(maxOutputTokens, params.maxOutputTokens) : maxOutputTokens };
    },
    async settle(holdId, usage) {
      calls.push(['settle', holdId, usage]);
      if (settleFails) throw settleFails;
      return { hold_id: holdId, charged_micros: 1 };
    },
    async release(holdId) {
      calls.push(['release', holdId]);
      return { hold_id: holdId, state: 'released' };
    },
  };
  // guard() and startGuard() are Creditd's; borrow them.
  client.guard = Creditd.prototype.guard;
  client.startGuard = Creditd.prototype.startGuard;
  return client;
}

const PARAMS = { account: 'alice', requestId: 'r1', model: 'gpt-4o', inputTokens: 50, maxOutputTokens: 100 };
const ends = (client) => client.calls.filter((c) => c[0] !== 'authorize');

async function* openaiChunks(texts, { usage = null, failAfter = Infinity } = {}) {
  yield { choices: [{ index: 0, delta: { role: 'assistant', content: '' } }], usage: null };
  let i = 0;
  for (const text of texts) {
    if (i++ >= failAfter) throw new Error('socket hang up');
    yield { choices: [{ index: 0, delta: { content: text } }], usage: null };
  }
  if (failAfter < Infinity) throw new Error('socket hang up');
  yield { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null };
  if (usage) yield { choices: [], usage };
}

async function* anthropicEvents(texts, { failAfter = Infinity, outputTokens = 0, start = {}, delta = {} } = {}) {
  yield { type: 'message_start', message: { usage: { input_tokens: 40, cache_read_input_tokens: 8,
    cache_creation_input_tokens: 2, output_tokens: 1, ...start } } };
  yield { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
  let i = 0;
  for (const text of texts) {
    if (i++ >= failAfter) throw new Error('overloaded_error');
    yield { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } };
  }
  if (failAfter < Infinity) throw new Error('overloaded_error');
  yield { type: 'content_block_stop', index: 0 };
  yield { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { ...delta, output_tokens: outputTokens } };
  yield { type: 'message_stop' };
}

test('OpenAI stream: settles with the include_usage chunk', async () => {
  const client = fakeClient();
  const text = await client.guard(PARAMS, async (hold) => {
    let out = '';
    const usage = { prompt_tokens: 52, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 32 } };
    for await (const chunk of hold.openaiStream(openaiChunks(['Hel', 'lo', ' world'], { usage }))) {
      out += chunk.choices[0]?.delta?.content ?? '';
    }
    return out;
  });
  assert.equal(text, 'Hello world');
  assert.deepEqual(ends(client), [['settle', 'hold_1_1', { inputTokens: 52, outputTokens: 7, cachedInputTokens: 32, cacheWriteInputTokens: undefined }]]);
});

test('OpenAI stream cut midway: settles the streamed text, rethrows, never releases', async () => {
  const client = fakeClient();
  const pieces = ['The answer ', 'is forty', '-two, and ', 'here is why'];
  let hold;
  await assert.rejects(client.guard(PARAMS, async (h) => {
    hold = h;
    for await (const chunk of h.openaiStream(openaiChunks(pieces, { failAfter: 3 }))) void chunk;
  }), /socket hang up/);
  const chars = 'The answer is forty-two, and '.length;
  assert.deepEqual(ends(client), [['settle', 'hold_1_1',
    { inputTokens: 50, outputTokens: Math.ceil(chars / CHARS_PER_TOKEN), cachedInputTokens: undefined,
      cacheWriteInputTokens: undefined }]]);
  assert.equal(hold.partial, true);
});

test('a stream that failed before any output is released', async () => {
  const client = fakeClient();
  await assert.rejects(client.guard(PARAMS, async (h) => {
    for await (const chunk of h.openaiStream(openaiChunks(['never'], { failAfter: 0 }))) void chunk;
  }), /socket hang up/);
  assert.deepEqual(ends(client), [['release', 'hold_1_1']]);
});

test('an estimate never settles beyond the hold', async () => {
  const client = fakeClient({ maxOutputTokens: 5 });
  await assert.rejects(client.guard(PARAMS, async (h) => {
    for await (const chunk of h.openaiStream(openaiChunks(['x'.repeat(400), 'y'.repeat(400)], { failAfter: 2 }))) void chunk;
  }));
  assert.equal(ends(client)[0][2].outputTokens, 5);
});

test('reported usage past the cap is settled as it is (real tokens)', async () => {
  const client = fakeClient({ maxOutputTokens: 5 });
  await client.guard(PARAMS, async (h) => {
    for await (const c of h.openaiStream(openaiChunks(['a', 'b'], { usage: { prompt_tokens: 50, completion_tokens: 9 } }))) void c;
  });
  assert.equal(ends(client)[0][2].outputTokens, 9);
});

test('never fewer output tokens than non-empty chunks', async () => {
  const client = fakeClient();
  const hold = await client.startGuard(PARAMS);
  for (const t of ['a', 'b', 'c', '', 'd']) hold.chunk(t);
  assert.equal(hold.produced().outputTokens, 4);
  hold.usage({ outputTokens: 2 }); // an early usage that lags behind
  assert.equal(hold.produced().outputTokens, 4);
});

test('Anthropic stream: message_start input (with cache) + message_delta output', async () => {
  const client = fakeClient();
  await client.guard(PARAMS, async (h) => {
    for await (const ev of h.anthropicStream(anthropicEvents(['Bonjour', ' à tous'], { outputTokens: 6 }))) void ev;
  });
  // 40 + 8 read + 2 written; the 2 go as cache writes, charged at the cache-write price.
  assert.deepEqual(ends(client), [['settle', 'hold_1_1',
    { inputTokens: 50, outputTokens: 6, cachedInputTokens: 8, cacheWriteInputTokens: 2 }]]);
});

test('Anthropic stream: cache writes are sent as cache writes', async () => {
  const client = fakeClient();
  const start = { input_tokens: 700, cache_read_input_tokens: 300, cache_creation_input_tokens: 2000 };
  await client.guard(PARAMS, async (h) => {
    for await (const ev of h.anthropicStream(anthropicEvents(['Hi'], { outputTokens: 25, start }))) void ev;
  });
  assert.deepEqual(ends(client), [['settle', 'hold_1_1',
    { inputTokens: 3000, outputTokens: 25, cachedInputTokens: 300, cacheWriteInputTokens: 2000 }]]);
});

test('Anthropic stream: message_delta replaces each member it repeats, the others stand', async () => {
  const client = fakeClient();
  const start = { input_tokens: 10, cache_read_input_tokens: 50, cache_creation_input_tokens: 100 };
  await client.guard(PARAMS, async (h) => {
    for await (const ev of h.anthropicStream(anthropicEvents(['Hi'], { outputTokens: 7, start, delta: { input_tokens: 12 } }))) void ev;
  });
  const all = { input_tokens: 10, cache_read_input_tokens: 60, cache_creation_input_tokens: 90 };
  await client.guard(PARAMS, async (h) => {
    for await (const ev of h.anthropicStream(anthropicEvents(['Hi'], { outputTokens: 7, start, delta: all }))) void ev;
  });
  assert.deepEqual(ends(client).map((c) => c[2]), [
    { inputTokens: 162, outputTokens: 7, cachedInputTokens: 50, cacheWriteInputTokens: 100 },
    { inputTokens: 160, outputTokens: 7, cachedInputTokens: 60, cacheWriteInputTokens: 90 },
  ]);
});

test("Anthropic stream cut midway: message_start's input, output estimated (not its placeholder 1)", async () => {
  const client = fakeClient();
  await assert.rejects(client.guard(PARAMS, async (h) => {
    for await (const ev of h.anthropicStream(anthropicEvents(['a'.repeat(30), 'b'.repeat(30), 'c'], { failAfter: 2 }))) void ev;
  }), /overloaded_error/);
  assert.deepEqual(ends(client), [['settle', 'hold_1_1',
    { inputTokens: 50, outputTokens: 15, cachedInputTokens: 8, cacheWriteInputTokens: 2 }]]);
});

test('the consumer stops reading (the browser went away): finish settles what was read', async () => {
  const client = fakeClient();
  const hold = await client.startGuard(PARAMS);
  for await (const chunk of hold.openaiStream(openaiChunks(['abcd', 'efgh', 'ijkl', 'mnop']))) {
    if (chunk.choices[0]?.delta?.content === 'efgh') break;
  }
  await hold.finish(new Error('client disconnected'));
  assert.deepEqual(ends(client), [['settle', 'hold_1_1',
    { inputTokens: 50, outputTokens: 2, cachedInputTokens: undefined, cacheWriteInputTokens: undefined }]]);
  assert.equal(await hold.finish(), hold.settled, 'a second finish does nothing');
  assert.equal(ends(client).length, 1);
});

test('a failed settle on the way out of a failed call: kept in settleError, the call error wins, no release', async () => {
  const down = new Unavailable(503, { error: { code: 'unavailable', message: 'db down' } }, {});
  const client = fakeClient({ settleFails: down });
  let hold;
  await assert.rejects(client.guard(PARAMS, async (h) => {
    hold = h;
    h.chunk('some output');
    throw new Error('provider 500');
  }), /provider 500/);
  assert.equal(hold.settleError, down);
  assert.deepEqual(ends(client).map((c) => c[0]), ['settle']);
});

test('a failed settle after a call that succeeded is thrown', async () => {
  const down = new Unavailable(503, { error: { code: 'unavailable' } }, {});
  const client = fakeClient({ settleFails: down });
  await assert.rejects(client.guard(PARAMS, async (h) => { h.chunk('x'); }), (e) => e === down);
});

test('a refusal at authorize runs nothing', async () => {
  const refused = new InsufficientCredits(402, { error: { code: 'insufficient_credits', available_micros: 3, required_micros: 9 } }, {});
  const client = fakeClient({ authorizeFails: refused });
  let ran = false;
  await assert.rejects(client.guard(PARAMS, () => { ran = true; }), InsufficientCredits);
  assert.equal(ran, false);
});

test('a block that settles itself is not settled again', async () => {
  const client = fakeClient();
  await client.guard(PARAMS, async (h) => {
    h.chunk('x');
    await h.settle({ inputTokens: 50, outputTokens: 3 });
  });
  assert.deepEqual(ends(client).map((c) => c[0]), ['settle']);
});

test('non-streamed answers: OpenAI and Anthropic usage', async () => {
  const client = fakeClient();
  await client.guard(PARAMS, (h) => h.openaiResponse({
    choices: [{ message: { content: 'hi' } }],
    usage: { prompt_tokens: 51, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 0 } },
  }));
  await client.guard(PARAMS, (h) => h.anthropicResponse({
    content: [{ type: 'text', text: 'hi' }],
    usage: { input_tokens: 30, cache_read_input_tokens: 100, output_tokens: 4 },
  }));
  assert.deepEqual(ends(client).map((c) => c[2]), [
    { inputTokens: 51, outputTokens: 2, cachedInputTokens: 0, cacheWriteInputTokens: undefined },
    { inputTokens: 130, outputTokens: 4, cachedInputTokens: 100, cacheWriteInputTokens: undefined },
  ]);
});

test('a whole Anthropic message: cache_creation_input_tokens are the cache writes, its 5m/1h split is not added', async () => {
  const client = fakeClient();
  await client.guard(PARAMS, (h) => h.anthropicResponse({
    type: 'message', content: [],
    usage: { input_tokens: 8, cache_read_input_tokens: 2, cache_creation_input_tokens: 30, output_tokens: 4,
      cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 } },
  }));
  assert.deepEqual(ends(client)[0][2], { inputTokens: 40, outputTokens: 4, cachedInputTokens: 2, cacheWriteInputTokens: 30 });
});

test('anthropicUsage: the input figures only with input_tokens', () => {
  assert.deepEqual(anthropicUsage({ input_tokens: 5, cache_creation_input_tokens: 7, output_tokens: 3 }),
    { inputTokens: 12, cachedInputTokens: 0, cacheWriteInputTokens: 7, outputTokens: 3 });
  assert.deepEqual(anthropicUsage({ cache_creation_input_tokens: 7, output_tokens: 3 }), { outputTokens: 3 });
});

test('OpenAI Responses API events', async () => {
  const client = fakeClient();
  async function* events() {
    yield { type: 'response.created', response: {} };
    yield { type: 'response.output_text.delta', delta: 'Hi there' };
    yield { type: 'response.completed', response: { usage: { input_tokens: 20, output_tokens: 3,
      input_tokens_details: { cached_tokens: 4 } } } };
  }
  await client.guard(PARAMS, async (h) => { for await (const e of h.openaiStream(events())) void e; });
  assert.deepEqual(ends(client)[0][2], { inputTokens: 20, outputTokens: 3, cachedInputTokens: 4, cacheWriteInputTokens: undefined });
});

test('characters are code points; bytes are decoded as UTF-8', async () => {
  const client = fakeClient();
  const hold = await client.startGuard(PARAMS);
  hold.chunk('😀😀😀😀😀'); // 5 code points, 10 UTF-16 units
  assert.equal(hold.produced().outputTokens, 2);
  const bytesHold = await client.startGuard(PARAMS);
  bytesHold.chunk(new TextEncoder().encode('ééééé')); // 10 bytes, 5 characters
  assert.equal(bytesHold.produced().outputTokens, 2);
});

test('negative or fractional reported figures are ignored; cached is cut to input', async () => {
  const client = fakeClient();
  const hold = await client.startGuard(PARAMS);
  hold.chunk('abcdefgh');
  hold.usage({ inputTokens: 10, outputTokens: -1, cachedInputTokens: 30 });
  hold.usage({ outputTokens: 1.5 });
  assert.deepEqual(hold.produced(), { inputTokens: 10, outputTokens: 2, cachedInputTokens: 10, cacheWriteInputTokens: undefined });
});

test('reported cache writes are cut to the uncached input; an explicit settle passes them', async () => {
  const client = fakeClient();
  const hold = await client.startGuard(PARAMS);
  hold.usage({ inputTokens: 100, outputTokens: 5, cachedInputTokens: 30, cacheWriteInputTokens: 90 });
  hold.usage({ cacheWriteInputTokens: -1 });
  assert.deepEqual(hold.produced(), { inputTokens: 100, outputTokens: 5, cachedInputTokens: 30, cacheWriteInputTokens: 70 });
  await hold.finish();
  await client.guard(PARAMS, (h) => h.settle({ inputTokens: 100, outputTokens: 5, cacheWriteInputTokens: 40 }));
  assert.deepEqual(ends(client).map((c) => c[2].cacheWriteInputTokens), [70, 40]);
});

test('counted tokens win over the estimate; the shrunk cap is the hold answer', async () => {
  const client = fakeClient({ maxOutputTokens: 20 });
  const hold = new Guard(client, { ...PARAMS, minOutputTokens: 10 });
  await hold.authorize();
  assert.equal(hold.maxOutputTokens, 20);
  hold.chunk('x'.repeat(400));
  assert.equal(hold.produced().outputTokens, 20);
  hold.addOutputTokens(33);
  assert.equal(hold.produced().outputTokens, 33);
});

// The provider's final usage with 0 output tokens (a refusal, an empty
// answer, a stop at once): the input was billed, so finish() settles it, as
// the Python and PHP clients do.
test('final usage with no output settles the input', async () => {
  const client = fakeClient();
  await client.guard(PARAMS, async (h) => {
    for await (const c of h.openaiStream([{ choices: [], usage: { prompt_tokens: 52, completion_tokens: 0 } }])) void c;
  });
  await client.guard(PARAMS, async (h) => { for await (const e of h.anthropicStream(anthropicEvents([]))) void e; });
  await client.guard(PARAMS, (h) => h.openaiResponse({ choices: [{ message: { content: '' } }],
    usage: { prompt_tokens: 51, completion_tokens: 0 } }));
  await client.guard(PARAMS, (h) => h.anthropicResponse({ content: [], usage: { input_tokens: 30, output_tokens: 0 } }));
  await client.guard(PARAMS, (h) => h.usage({ inputTokens: 60, outputTokens: 0, final: true }));
  await client.guard(PARAMS, async (h) => {
    for await (const e of h.stream(['x'], { text: () => '', usage: () => ({ inputTokens: 61, outputTokens: 0, final: true }) })) void e;
  });
  assert.deepEqual(ends(client).map((c) => [c[0], c[2]?.inputTokens, c[2]?.outputTokens]), [
    ['settle', 52, 0], ['settle', 50, 0], ['settle', 51, 0], ['settle', 30, 0], ['settle', 60, 0], ['settle', 61, 0],
  ]);
  assert.deepEqual(Object.keys(ends(client)[4][2]).sort(),
    ['cacheWriteInputTokens', 'cachedInputTokens', 'inputTokens', 'outputTokens']);
});

test('figures that are not final, with no output, are released', async () => {
  const client = fakeClient();
  await client.guard(PARAMS, (h) => h.usage({ inputTokens: 60, outputTokens: 0 }));
  await assert.rejects(client.guard(PARAMS, async (h) => {
    for await (const e of h.anthropicStream(anthropicEvents(['a'], { failAfter: 0 }))) void e;
  }), /overloaded_error/);
  assert.deepEqual(ends(client).map((c) => c[0]), ['release', 'release']);
});
