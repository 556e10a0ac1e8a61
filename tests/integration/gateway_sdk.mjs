// gateway_sdk.mjs: the providers' official SDKs (npm's openai and
// @anthropic-ai/sdk) pointed at creditd's gateway, as an app runs them:
// only the base URL and the key changed, the account in a default header.
// Usage: node gateway_sdk.mjs CASE; env BASE (creditd's URL), KEY (a
// creditd key), ACCOUNT. Prints one JSON line of what the case saw.
import OpenAI, { toFile } from "openai";
import Anthropic from "@anthropic-ai/sdk";

const base = process.env.BASE;
const headers = { "Creditd-Account": process.env.ACCOUNT };
const openai = new OpenAI({ baseURL: base + "/openai/v1", apiKey: process.env.KEY, defaultHeaders: headers, maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base + "/anthropic", apiKey: process.env.KEY, defaultHeaders: headers, maxRetries: 0 });
const user = [{ role: "user", content: "hello from the sdk" }];

async function error(fn, cls) {
  try {
    await fn();
    return { thrown: false };
  } catch (e) {
    return { thrown: true, isClass: e instanceof cls, status: e.status, name: e.constructor.name,
             type: e.type ?? e.error?.error?.type ?? e.error?.type, code: e.code ?? e.error?.error?.code ?? null,
             message: String(e.message) };
  }
}

const cases = {
  async openai_create() {
    const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, max_completion_tokens: 20 });
    return { text: r.choices[0].message.content, usage: r.usage };
  },
  async openai_create_raw() {
    const { data, response } = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: user, max_completion_tokens: 20 }).withResponse();
    return { text: data.choices[0].message.content, charged: response.headers.get("creditd-charged-micros"),
             hold: response.headers.get("creditd-hold-id") };
  },
  async openai_stream() {
    const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, stream: true, max_completion_tokens: 12 });
    let text = "", chunks = 0, usageChunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usageChunks++;
      text += chunk.choices[0]?.delta?.content ?? "";
    }
    return { text, chunks, usageChunks };
  },
  async openai_responses_stream() {
    const stream = openai.responses.stream({ model: "gpt-4o-mini", input: "say words", max_output_tokens: 20 });
    const types = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    return { types: [...new Set(types)], usage: final.usage, text: final.output_text };
  },
  async openai_embeddings() {
    const r = await openai.embeddings.create({ model: "text-embedding-3-small", input: ["one two three"] });
    return { n: r.data.length, dims: r.data[0].embedding.length, usage: r.usage };
  },
  async openai_models() {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    return { ids };
  },
  async openai_model_retrieve() {
    const m = await openai.models.retrieve("gpt-4o-mini");
    const missing = await error(() => openai.models.retrieve("no-such-model"), OpenAI.NotFoundError);
    return { id: m.id, object: m.object, missing };
  },
  async openai_not_allowed() {
    return error(() => openai.chat.completions.create({ model: "gpt-4o", messages: user }), OpenAI.PermissionDeniedError);
  },
  async anthropic_not_allowed() {
    return error(() => anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 20, messages: user }),
                 Anthropic.PermissionDeniedError);
  },
  async openai_402() {
    return error(() => openai.chat.completions.create({ model: "gpt-4o-mini", messages: user }), OpenAI.APIError);
  },
  async openai_bad_model() {
    return error(() => openai.chat.completions.create({ model: "no-such-model", messages: user }), OpenAI.BadRequestError);
  },
  async anthropic_create() {
    const r = await anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 20, messages: user });
    return { text: r.content[0].text, usage: r.usage };
  },
  // DESIGN §14, many providers: a call through a fallback, seen by each SDK.
  async openai_fallback() {
    const { data, response } = await openai.chat.completions
      .create({ model: "fast", messages: user, max_completion_tokens: 10 }).withResponse();
    const stream = await openai.chat.completions.create({ model: "fast", messages: user, stream: true, max_completion_tokens: 8 });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return { text: data.choices[0].message.content, provider: response.headers.get("creditd-provider"),
             hold: response.headers.get("creditd-hold-id"), streamed: text };
  },
  async anthropic_fallback() {
    const { data, response } = await anthropic.messages
      .create({ model: "claude-haiku-4-5", max_tokens: 10, messages: user }).withResponse();
    const stream = anthropic.messages.stream({ model: "claude-haiku-4-5", max_tokens: 8, messages: user });
    let text = "";
    stream.on("text", (t) => { text += t; });
    await stream.finalMessage();
    return { text: data.content[0].text, provider: response.headers.get("creditd-provider"), streamed: text };
  },
  async anthropic_count_tokens() {
    const r = await anthropic.messages.countTokens({ model: "claude-haiku-4-5", messages: user });
    return { input_tokens: r.input_tokens };
  },
  async openai_all_fail() {
    return error(() => openai.chat.completions.create({ model: "fast", messages: user, max_completion_tokens: 10 }),
                 OpenAI.InternalServerError);
  },
  // docs/gateway.md: a call whose provider may still be running it ends
  // 504 with x-should-retry: false; an SDK left to its default retries
  // (2) must not send it again.
  async openai_no_retry() {
    const retrying = new OpenAI({ baseURL: base + "/openai/v1", apiKey: process.env.KEY, defaultHeaders: headers,
                                  maxRetries: 2 });
    return error(() => retrying.chat.completions.create({ model: "fast", messages: user, stream: true,
                                                           max_completion_tokens: 10 }), OpenAI.APIError);
  },
  async anthropic_no_retry() {
    const retrying = new Anthropic({ baseURL: base + "/anthropic", apiKey: process.env.KEY, defaultHeaders: headers,
                                     maxRetries: 2 });
    return error(() => retrying.messages.create({ model: "claude-haiku-4-5", max_tokens: 10, stream: true,
                                                   messages: user }), Anthropic.APIError);
  },
  async anthropic_stream() {
    const stream = anthropic.messages.stream({ model: "claude-haiku-4-5", max_tokens: 15, messages: user });
    let text = "";
    stream.on("text", (t) => { text += t; });
    const final = await stream.finalMessage();
    return { text, usage: final.usage, stop: final.stop_reason };
  },
  // DESIGN §14: dimensions beyond tokens, the cost line, usage beyond the hold.
  async openai_priority() {
    const { data, response } = await openai.chat.completions
      .create({ model: "gpt-dims", messages: user, max_completion_tokens: 20, service_tier: "priority" }).withResponse();
    return { tier: data.service_tier, usage: data.usage, charged: response.headers.get("creditd-charged-micros") };
  },
  async openai_stream_cost() {
    const costed = new OpenAI({ baseURL: base + "/openai/v1", apiKey: process.env.KEY, maxRetries: 0,
                                defaultHeaders: { ...headers, "Creditd-Stream-Cost": "1" } });
    const stream = await costed.chat.completions.create({ model: "gpt-4o-mini", messages: user, stream: true, max_completion_tokens: 8 });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return { text };
  },
  async anthropic_web_search() {
    const r = await anthropic.messages.create({ model: "claude-dims", max_tokens: 20, messages: user,
      tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 2 }] });
    return { usage: r.usage };
  },
  async anthropic_over_hold() {
    const r = await anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 5, messages: user });
    return { usage: r.usage };
  },
  // docs/gateway.md, "Provider objects": a response the account made,
  // retrieved, its input items listed and deleted through the SDK's own
  // methods; then gone. OBJECT names another account's response.
  async openai_response_objects() {
    const made = await openai.responses.create({ model: "gpt-4o-mini", max_output_tokens: 16,
      input: [{ role: "user", content: "first words" }, { role: "user", content: "second words" }] });
    const got = await openai.responses.retrieve(made.id);
    const items = [];
    for await (const item of openai.responses.inputItems.list(made.id, { limit: 1, order: "asc" })) items.push(item.id);
    const deleted = await openai.responses.delete(made.id);
    const after = await error(() => openai.responses.retrieve(made.id), OpenAI.NotFoundError);
    return { id: made.id, retrieved: got.id, text: got.output_text, status: got.status, items,
             deleted: deleted ?? null, after };
  },
  async openai_response_foreign() {
    const id = process.env.OBJECT;
    return { retrieve: await error(() => openai.responses.retrieve(id), OpenAI.NotFoundError),
             items: await error(() => openai.responses.inputItems.list(id), OpenAI.NotFoundError),
             delete: await error(() => openai.responses.delete(id), OpenAI.NotFoundError) };
  },
  // docs/gateway.md, "Audio and speech": speech, a transcription, a moderation.
  async openai_speech() {
    const { data, response } = await openai.audio.speech
      .create({ model: "tts-1", voice: "alloy", input: "Hello from the SDK, spoken." }).withResponse();
    const audio = new Uint8Array(await data.arrayBuffer());
    return { bytes: audio.length, first: Array.from(audio.slice(0, 2)), type: response.headers.get("content-type"),
             charged: response.headers.get("creditd-charged-micros"), hold: response.headers.get("creditd-hold-id") };
  },
  async openai_transcription() {
    const file = await toFile(Buffer.concat([Buffer.from([0xff, 0xf3]), Buffer.alloc(47998, 7)]), "speech.mp3",
      { type: "audio/mpeg" });
    const { data, response } = await openai.audio.transcriptions
      .create({ model: "whisper-1", file, response_format: "verbose_json" }).withResponse();
    return { text: data.text, duration: data.duration, charged: response.headers.get("creditd-charged-micros"),
             hold: response.headers.get("creditd-hold-id") };
  },
  async openai_moderation() {
    const r = await openai.moderations.create({ input: ["one", "two"] });
    return { model: r.model, results: r.results.length, flagged: r.results[0].flagged };
  },
  async anthropic_402() {
    return error(() => anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 20, messages: user }), Anthropic.APIError);
  },
};

// The image routes (docs/gateway.md, "Images"): images.generate's JSON,
// images.edit's multipart form as the SDK writes it (image[] for a list).
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
  + "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082", "hex");
Object.assign(cases, {
  async openai_images_generate() {
    const { data, response } = await openai.images
      .generate({ model: "gpt-image-1", prompt: "a lighthouse from the sdk", n: 2, size: "1024x1024", quality: "low" })
      .withResponse();
    return { images: data.data.length, b64: data.data.every((d) => typeof d.b64_json === "string"), usage: data.usage,
             charged: response.headers.get("creditd-charged-micros"), hold: response.headers.get("creditd-hold-id") };
  },
  async openai_images_edit() {
    const image = [await toFile(PNG, "a.png", { type: "image/png" }), await toFile(PNG, "b.png", { type: "image/png" })];
    const { data, response } = await openai.images
      .edit({ model: "gpt-image-1", image, prompt: "make it night", size: "1024x1024", quality: "low" })
      .withResponse();
    return { images: data.data.length, usage: data.usage, charged: response.headers.get("creditd-charged-micros"),
             hold: response.headers.get("creditd-hold-id") };
  },
  async openai_images_refused() {
    return error(() => openai.images.generate({ model: "dall-e-3", prompt: "x", n: 2 }), OpenAI.BadRequestError);
  },
});

// Responses "background": true (docs/gateway.md, "Background responses"):
// made, then retrieved once the test moved the fake provider's run on.
Object.assign(cases, {
  async openai_background_create() {
    const r = await openai.responses.create({ model: "gpt-4o-mini", input: "a long job", max_output_tokens: 40,
                                              background: true });
    return { id: r.id, status: r.status, usage: r.usage ?? null };
  },
  async openai_background_retrieve() {
    const r = await openai.responses.retrieve(process.env.RESPONSE_ID);
    return { id: r.id, status: r.status, usage: r.usage, text: r.output_text };
  },
});

// The Batch API (docs/gateway.md, "Batches"): a batch input file uploaded
// with files.create, a batch made from it and retrieved; Anthropic's
// messages.batches.create.
Object.assign(cases, {
  async openai_batch() {
    const lines = ["s1", "s2", "s3"].map((id) => JSON.stringify({ custom_id: id, method: "POST",
      url: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: user, max_tokens: 20 } })).join("\n");
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines + "\n"), "batch.jsonl"),
                                             purpose: "batch" });
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions",
                                                completion_window: "24h" });
    const again = await openai.batches.retrieve(batch.id);
    return { file: file.id, purpose: file.purpose, batch: batch.id, status: batch.status, again: again.id };
  },
  async anthropic_batch() {
    const b = await anthropic.messages.batches.create({ requests: ["s1", "s2"].map((id) => ({ custom_id: id,
      params: { model: "claude-sonnet-4-5", max_tokens: 20, messages: user } })) });
    return { batch: b.id, type: b.type, status: b.processing_status };
  },
});

const name = process.argv[2];
if (!cases[name]) {
  console.error("no case " + name);
  process.exit(2);
}
cases[name]().then(
  (r) => { console.log(JSON.stringify(r)); },
  (e) => { console.log(JSON.stringify({ failed: String(e), status: e.status })); process.exit(1); },
);
