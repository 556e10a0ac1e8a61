// guard.js: one LLM call between an authorize and its settle. The guard
// learns what the call produces (the provider's usage, counted tokens, or
// the streamed text) and, at finish, settles exactly that or releases the
// hold when nothing came. A call that produced output, or whose final usage
// the provider reported (even with 0 output tokens: the input was billed),
// is never released. An estimate never settles beyond the hold.
import { CreditdError } from './errors.js';

/** Fallback estimate when the provider sent no usage: ~4 characters a token. */
export const CHARS_PER_TOKEN = 4;

const decoder = new TextDecoder('utf-8');

function codePoints(text) {
  let n = 0;
  // eslint-disable-next-line no-unused-vars
  for (const _ of text) n++;
  return n;
}

const isCount = (v) => Number.isSafeInteger(v) && v >= 0;

// ---- provider shapes ----

/** creditd usage fields from an OpenAI usage object (Chat Completions or Responses); null when none. */
export function openaiUsage(usage) {
  if (!usage || typeof usage !== 'object') return null;
  return {
    inputTokens: usage.prompt_tokens ?? usage.input_tokens,
    outputTokens: usage.completion_tokens ?? usage.output_tokens,
    cachedInputTokens: usage.prompt_tokens_details?.cached_tokens ?? usage.input_tokens_details?.cached_tokens,
  };
}

/** Anthropic's input members: its input_tokens leaves out the cache reads and writes, counted apart. */
const ANTHROPIC_INPUT = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'];

/** The members of an Anthropic usage object that are counts, by name (output_tokens too). */
function anthropicParts(usage) {
  const parts = {};
  if (!usage || typeof usage !== 'object') return parts;
  for (const name of [...ANTHROPIC_INPUT, 'output_tokens']) if (isCount(usage[name])) parts[name] = usage[name];
  return parts;
}

/** creditd usage fields from Anthropic's members: the input figures only when its input_tokens is known. */
function anthropicFields(parts) {
  const fields = {};
  if (parts.input_tokens !== undefined) {
    const read = parts.cache_read_input_tokens ?? 0;
    const written = parts.cache_creation_input_tokens ?? 0;
    fields.inputTokens = parts.input_tokens + read + written;
    fields.cachedInputTokens = read;
    fields.cacheWriteInputTokens = written;
  }
  if (parts.output_tokens !== undefined) fields.outputTokens = parts.output_tokens;
  return fields;
}

/**
 * creditd usage fields from an Anthropic usage object. Anthropic's
 * input_tokens leaves out cache reads and writes; creditd's input counts
 * every input token, with the cache reads as cachedInputTokens and the
 * cache writes (cache_creation_input_tokens, charged at the model's
 * cache-write price) as cacheWriteInputTokens. cache_creation, the 5-minute
 * and 1-hour split of those writes, is not read: creditd's gateway does not
 * read it either. The input figures only come with Anthropic's input_tokens.
 * withOutput false: message_start's output_tokens (a placeholder) is ignored.
 */
export function anthropicUsage(usage, { withOutput = true } = {}) {
  if (!usage || typeof usage !== 'object') return null;
  const parts = anthropicParts(usage);
  if (!withOutput) delete parts.output_tokens;
  return anthropicFields(parts);
}

/** The output text in one OpenAI stream chunk (Chat Completions chunk or Responses event). */
export function openaiChunkText(chunk) {
  if (!chunk || typeof chunk !== 'object') return '';
  if (typeof chunk.type === 'string' && chunk.type.startsWith('response.')) {
    const textual = chunk.type.endsWith('.delta') && typeof chunk.delta === 'string';
    return textual ? chunk.delta : '';
  }
  let text = '';
  for (const choice of chunk.choices ?? []) {
    const delta = choice?.delta ?? {};
    if (typeof delta.content === 'string') text += delta.content;
    if (typeof delta.refusal === 'string') text += delta.refusal;
    for (const call of delta.tool_calls ?? []) {
      if (typeof call?.function?.arguments === 'string') text += call.function.arguments;
    }
  }
  return text;
}

/** The usage one OpenAI stream chunk reports (the final include_usage chunk, or response.completed). */
export function openaiChunkUsage(chunk) {
  if (!chunk || typeof chunk !== 'object') return null;
  if (chunk.type === 'response.completed' || chunk.type === 'response.incomplete') {
    return openaiUsage(chunk.response?.usage);
  }
  return openaiUsage(chunk.usage);
}

/** The output text in one Anthropic stream event. */
export function anthropicEventText(event) {
  if (event?.type !== 'content_block_delta') return '';
  const d = event.delta ?? {};
  if (typeof d.text === 'string') return d.text;
  if (typeof d.partial_json === 'string') return d.partial_json;
  if (typeof d.thinking === 'string') return d.thinking;
  return '';
}

/** The usage one Anthropic stream event reports: message_start's input, message_delta's output. */
export function anthropicEventUsage(event) {
  if (event?.type === 'message_start') return anthropicUsage(event.message?.usage, { withOutput: false });
  if (event?.type === 'message_delta') return anthropicUsage(event.usage);
  return null;
}

function openaiResponseText(completion) {
  if (typeof completion?.output_text === 'string') return completion.output_text;
  let text = '';
  for (const choice of completion?.choices ?? []) {
    const m = choice?.message ?? {};
    if (typeof m.content === 'string') text += m.content;
    for (const call of m.tool_calls ?? []) if (typeof call?.function?.arguments === 'string') text += call.function.arguments;
  }
  return text;
}

function anthropicMessageText(message) {
  let text = '';
  for (const block of message?.content ?? []) {
    if (typeof block?.text === 'string') text += block.text;
    else if (block?.type === 'tool_use' && block.input !== undefined) text += JSON.stringify(block.input);
  }
  return text;
}

/** Reported usage marked final, when it has a figure (an empty usage object is none). */
function asFinal(reported) {
  if (!reported || (reported.inputTokens === undefined && reported.outputTokens === undefined)) return reported;
  return { ...reported, final: true };
}

// ---- the guard ----

export class Guard {
  #reported = {};
  #counted = 0;
  #chunks = 0;
  #chars = 0;
  #settleAttempted = false;
  #final = false;

  /** params: as Creditd.authorize (account, requestId, model, inputTokens, maxOutputTokens, minOutputTokens, ...). */
  constructor(client, params) {
    this.client = client;
    this.params = { ...params };
    this.hold = null;
    this.holdId = null;
    this.settled = null;
    this.released = null;
    this.settleError = null;
    this.partial = false;
  }

  /** The output cap the hold covers: pass it to the model (shrunk when minOutputTokens applied). */
  get maxOutputTokens() {
    return this.hold?.max_output_tokens ?? this.params.maxOutputTokens ?? this.params.max_output_tokens ?? null;
  }

  async authorize() {
    this.hold = await this.client.authorize(this.params);
    this.holdId = this.hold.hold_id;
    return this.hold;
  }

  // -- what the call produced --

  /**
   * The provider's reported usage, totals so far (inputTokens counts the
   * cached ones and the cache writes too); missing or negative figures are
   * ignored. final: these are the call's final figures, settled even when
   * they count no output (the input was billed).
   */
  usage({ inputTokens, outputTokens, cachedInputTokens, cacheWriteInputTokens, final = false } = {}) {
    for (const [name, value] of [['inputTokens', inputTokens], ['outputTokens', outputTokens],
      ['cachedInputTokens', cachedInputTokens], ['cacheWriteInputTokens', cacheWriteInputTokens]]) {
      if (isCount(value)) this.#reported[name] = value;
    }
    if (final) this.#final = true;
  }

  /** Output tokens counted by the caller (added up). */
  addOutputTokens(n) {
    if (isCount(n)) this.#counted += n;
  }

  /** One streamed piece of output (string or bytes); an empty one is not counted. */
  chunk(text) {
    if (text == null) return;
    const s = typeof text === 'string' ? text : decoder.decode(text);
    if (s.length === 0) return;
    this.#chunks += 1;
    this.#chars += codePoints(s);
  }

  /**
   * Yields every item of `source` (an iterable or async iterable), telling
   * the guard about it first. text(item): its output text (default: the
   * item itself); usage(item): creditd usage fields, or null.
   */
  async *stream(source, { text, usage } = {}) {
    for await (const item of source) {
      if (usage) {
        const reported = usage(item);
        if (reported) this.usage(reported);
      }
      this.chunk(text ? text(item) : item);
      yield item;
    }
  }

  /**
   * Wraps an OpenAI stream (ask for stream_options: {include_usage: true});
   * yields its chunks. The usage chunk (response.completed) is final.
   */
  openaiStream(source) {
    return this.stream(source, { text: openaiChunkText, usage: (chunk) => asFinal(openaiChunkUsage(chunk)) });
  }

  /**
   * Wraps an Anthropic stream of events; yields them. message_start gives the
   * input with its cache reads and writes; each input member a message_delta
   * repeats replaces its figure (the latest stands), as creditd's gateway
   * reads a stream; message_delta's output_tokens is final.
   */
  anthropicStream(source) {
    const input = {}; // the input members seen so far
    const usage = (event) => {
      const start = event?.type === 'message_start';
      if (!start && event?.type !== 'message_delta') return null;
      const parts = anthropicParts(start ? event.message?.usage : event.usage);
      if (start && parts.input_tokens === undefined) return null; // the input unknown: not read
      for (const name of ANTHROPIC_INPUT) if (parts[name] !== undefined) input[name] = parts[name];
      const seen = { ...input };
      if (!start && parts.output_tokens !== undefined) seen.output_tokens = parts.output_tokens;
      const reported = anthropicFields(seen);
      return { ...reported, final: isCount(reported.outputTokens) };
    };
    return this.stream(source, { text: anthropicEventText, usage });
  }

  /** Reports a whole (non-streamed) OpenAI answer, its usage final; returns it. */
  openaiResponse(completion) {
    const reported = asFinal(openaiUsage(completion?.usage));
    if (reported) this.usage(reported);
    this.chunk(openaiResponseText(completion));
    return completion;
  }

  /** Reports a whole (non-streamed) Anthropic message, its usage final; returns it. */
  anthropicResponse(message) {
    const reported = asFinal(anthropicUsage(message?.usage));
    if (reported) this.usage(reported);
    this.chunk(anthropicMessageText(message));
    return message;
  }

  /** {inputTokens, outputTokens, cachedInputTokens, cacheWriteInputTokens}: what finish() would settle now. */
  produced() {
    const cap = this.maxOutputTokens;
    // Every non-empty chunk carried a token at least (an early usage may lag
    // behind); the model was told to stop at the cap, so neither the chunks
    // nor an estimate go past it: the settle stays within the hold.
    const floor = cap ? Math.min(this.#chunks, cap) : this.#chunks;
    let out = this.#reported.outputTokens;
    if (out === undefined && this.#counted > 0) out = this.#counted;
    if (out === undefined) {
      out = Math.max(this.#chunks, Math.ceil(this.#chars / CHARS_PER_TOKEN));
      if (cap) out = Math.min(out, cap);
    }
    // Reported or counted figures are real tokens: settled as they are, past the cap if so.
    out = Math.max(out, floor);
    const input = this.#reported.inputTokens ?? this.params.inputTokens ?? this.params.input_tokens ?? 0;
    let cached = this.#reported.cachedInputTokens;
    if (cached !== undefined && cached > input) cached = input; // creditd refuses more cached than input
    let written = this.#reported.cacheWriteInputTokens;
    if (written !== undefined && written > input - (cached ?? 0)) written = input - (cached ?? 0); // and writes past the rest
    return { inputTokens: input, outputTokens: out, cachedInputTokens: cached, cacheWriteInputTokens: written };
  }

  // -- the end --

  /** Charges the tokens the call used (default: produced()); the rest of the hold is released. */
  async settle(usage = this.produced()) {
    if (this.holdId === null) throw new Error('settle() before authorize()');
    this.#settleAttempted = true;
    // No cache writes is not sent: a creditd that predates them still settles.
    if (usage && !usage.cacheWriteInputTokens) usage = { ...usage, cacheWriteInputTokens: undefined };
    this.settled = await this.client.settle(this.holdId, usage);
    return this.settled;
  }

  /**
   * Ends the call: settles what was produced when output was seen (also
   * after an error: the call was cut off midway; partial says so) or the
   * provider's final usage came (even with 0 output tokens), else releases
   * the hold. Pass the error the call raised, if any: then a
   * failed settle is kept in settleError instead of thrown (the settle is
   * left pending, safe to retry with the same figures). Does nothing after
   * a settle() or a previous finish().
   */
  async finish(...failure) {
    const failed = failure.length > 0;
    if (this.holdId === null || this.#settleAttempted || this.released) return this.settled ?? this.released;
    const made = this.produced();
    try {
      if (made.outputTokens > 0 || this.#final) {
        this.partial = failed;
        await this.settle(made);
      } else {
        this.released = await this.client.release(this.holdId);
      }
    } catch (error) {
      if (!failed || !(error instanceof CreditdError)) throw error;
      if (this.#settleAttempted) this.settleError = error;
    }
    return this.settled ?? this.released;
  }
}
