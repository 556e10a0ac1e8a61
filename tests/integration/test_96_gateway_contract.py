"""test_96_gateway_contract.py: the gateway's media, batch and background
routes checked from outside, as a client app's developer sees them: plain
HTTP through nginx and the official SDKs (npm openai, @anthropic-ai/sdk)
pointed at creditd, against what docs/gateway.md ("Routes", "Images",
"Audio and speech", "Batches", "Background responses", "Refusals, in the
provider's shape") and the providers' API references promise. Each
success is held, then charged: the hold (GET /v1/holds/{id}), the
balance and the usage report (GET /v1/accounts/{id}/usage) agree with
the figures the fake provider billed. Each refusal is in the provider's
error shape with a sensible status, nothing held, forwarded or recorded.
Batches are charged their succeeded lines at batch prices; another
account's objects are 404; a background run retrieved twice is charged
once. creditctl verify finds nothing."""
import json
import os
import subprocess

import test_88b_gateway_batches as batches
import test_91_gateway_images as images
import test_92_gateway_audio as audio
from gateway_bill import MARGIN_BPS
from lib import ENV, api, check, creditctl, eq, key, new_account, verify, wait_until
from test_80_gateway import call, cost, provider, received, reset, state
from test_81_gateway_sdks import sdk_dir
from test_83_gateway_keys import gw_key

OPENAI_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                      404: "not_found_error", 402: "insufficient_quota"}
ANTHROPIC_TYPES = {400: "invalid_request_error", 403: "permission_error", 404: "not_found_error"}


def price_media():
    images._price()
    audio._price()


def openai_shape(r, status, param="-", what=""):
    """An error in OpenAI's shape, exactly its four members."""
    eq(r.status, status, "%s: status: %r" % (what, r.body[:300]))
    check(r.headers.get("content-type", "").startswith("application/json"), "%s: JSON: %r" % (what, r.headers))
    e = r.json["error"]
    extra = ["available_micros", "required_micros"] if status == 402 else []	# a 402's figures, docs/gateway.md
    eq(sorted(e), sorted(["code", "message", "param", "type"] + extra), "%s: OpenAI's error members: %r" % (what, r.json))
    check(isinstance(e["message"], str) and e["message"], "%s: a message" % what)
    if param != "-":
        eq(e["param"], param, "%s: the member named" % what)
    return e


def anthropic_shape(r, status, what=""):
    eq(r.status, status, "%s: status: %r" % (what, r.body[:300]))
    eq(r.json["type"], "error", "%s: Anthropic's error shape: %r" % (what, r.json))
    eq(r.json["error"]["type"], ANTHROPIC_TYPES[status], "%s: its type for %d" % (what, status))
    check(r.json["error"]["message"], "%s: a message" % what)
    return r.json["error"]


def posted():
    """What the provider was sent but creditd's own polls of running jobs
    (GETs another file's batches may leave behind)."""
    return [x for x in received() if x["method"] != "GET"]


def usage_report(acct):
    return api("GET", "/v1/accounts/%s/usage" % acct, auth="read").json["total"]


def holds_of(acct):
    return api("GET", "/v1/accounts/%s/holds" % acct, auth="read").json["data"]


def hold(r):
    return api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json


def untouched(acct, before, what):
    """Nothing held, charged or recorded for acct since before."""
    eq(state(acct), before, "%s: nothing held or charged" % what)
    eq(holds_of(acct), [], "%s: no hold in flight" % what)
    eq(usage_report(acct)["requests"], 0, "%s: no usage record (a call held and settled leaves one)" % what)


def ceil(a, b):
    return -(-a // b)


# ---- the SDKs, as an app drives them ----

SDK_JS = r"""
import OpenAI, { toFile } from "openai";
import Anthropic from "@anthropic-ai/sdk";
const base = process.env.BASE, arg = process.env.ARG || "";
const headers = { "Creditd-Account": process.env.ACCOUNT };
const openai = new OpenAI({ baseURL: base + "/openai/v1", apiKey: process.env.KEY, defaultHeaders: headers, maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base + "/anthropic", apiKey: process.env.KEY, defaultHeaders: headers, maxRetries: 0 });
const user = [{ role: "user", content: "hello from the sdk" }];
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
  + "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082", "hex");
const mp3 = () => toFile(Buffer.concat([Buffer.from([0xff, 0xf3]), Buffer.alloc(31998, 7)]), "speech.mp3", { type: "audio/mpeg" });
async function caught(fn) {
  try { await fn(); return { thrown: false }; } catch (e) {
    return { thrown: true, status: e.status ?? null, name: e.constructor.name, type: e.type ?? null,
             param: e.param ?? null, code: e.code ?? null };
  }
}
const cases = {
  async media_refused() {
    return {
      generate: await caught(() => openai.images.generate({ model: "dall-e-3", prompt: "x", n: 2 })),
      size: await caught(() => openai.images.generate({ model: "dall-e-2", prompt: "x", size: "1792x1024" })),
      edit: await caught(async () => openai.images.edit({ model: "dall-e-3", prompt: "x",
                                                           image: await toFile(PNG, "a.png", { type: "image/png" }) })),
      speech: await caught(() => openai.audio.speech.create({ model: "tts-1", voice: "alloy", input: "hi", instructions: "softly" })),
      unknown: await caught(() => openai.audio.speech.create({ model: "tts-9", voice: "alloy", input: "hi" })),
      transcription: await caught(async () => openai.audio.transcriptions.create({ model: "whisper-1", file: await mp3(), stream: true })),
    };
  },
  async media_not_allowed() {
    return {
      generate: await caught(() => openai.images.generate({ model: "dall-e-2", prompt: "x" })),
      edit: await caught(async () => openai.images.edit({ model: "dall-e-2", prompt: "x",
                                                           image: await toFile(PNG, "a.png", { type: "image/png" }) })),
      speech: await caught(() => openai.audio.speech.create({ model: "tts-1", voice: "alloy", input: "hi" })),
      transcription: await caught(async () => openai.audio.transcriptions.create({ model: "whisper-1", file: await mp3() })),
      moderation: await caught(() => openai.moderations.create({ input: "hi" })),
    };
  },
  async transcribe_json() {
    const { data, response } = await openai.audio.transcriptions
      .create({ model: "whisper-1", file: await mp3(), response_format: "json" }).withResponse();
    return { text: data.text, usage: data.usage, hold: response.headers.get("creditd-hold-id"),
             charged: response.headers.get("creditd-charged-micros") };
  },
  async oa_batch() {
    const lines = ["ok1", "ok2", "err1", "exp1"].map((id) => JSON.stringify({ custom_id: id, method: "POST",
      url: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: user, max_tokens: 20 } })).join("\n");
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines + "\n"), "batch.jsonl"), purpose: "batch" });
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h",
                                                metadata: { job: "nightly" } });
    return { file: file.id, purpose: file.purpose, batch: batch.id, status: batch.status, metadata: batch.metadata };
  },
  async oa_batch_after() {
    const b = await openai.batches.retrieve(arg);
    const listed = [];
    for await (const x of openai.batches.list({ limit: 10 })) listed.push(x.id);
    const files = [];
    for await (const f of openai.files.list()) files.push(f.id);
    const out = await (await openai.files.content(b.output_file_id)).text();
    return { status: b.status, counts: b.request_counts, listed, files, lines: out.trim().split("\n").length };
  },
  async oa_batch_foreign() {
    return { retrieve: await caught(() => openai.batches.retrieve(arg)), cancel: await caught(() => openai.batches.cancel(arg)),
             file: await caught(() => openai.files.retrieve(process.env.FILE)),
             content: await caught(() => openai.files.content(process.env.FILE)) };
  },
  async an_batch() {
    const b = await anthropic.messages.batches.create({ requests: ["s1", "s2", "err1"].map((id) => ({ custom_id: id,
      params: { model: "claude-sonnet-4-5", max_tokens: 20, messages: user } })) });
    return { id: b.id, type: b.type, status: b.processing_status };
  },
  async an_batch_after() {
    const b = await anthropic.messages.batches.retrieve(arg);
    const listed = [];
    for await (const x of anthropic.messages.batches.list({ limit: 10 })) listed.push(x.id);
    return { status: b.processing_status, counts: b.request_counts, listed };
  },
  async an_batch_foreign() {
    return { retrieve: await caught(() => anthropic.messages.batches.retrieve(arg)),
             cancel: await caught(() => anthropic.messages.batches.cancel(arg)) };
  },
  async bg_create() {
    const r = await openai.responses.create({ model: "gpt-4o-mini", input: "a long job", max_output_tokens: 40, background: true });
    return { id: r.id, status: r.status, usage: r.usage ?? null };
  },
  async bg_retrieve() {
    const r = await openai.responses.retrieve(arg);
    return { id: r.id, status: r.status, usage: r.usage ?? null };
  },
  async bg_cancel() {
    const r = await openai.responses.cancel(arg);
    return { status: r.status, usage: r.usage ?? null };
  },
  async bg_refused() {
    return { stream: await caught(() => openai.responses.create({ model: "gpt-4o-mini", input: "x", background: true, stream: true })),
             retrieve: await caught(() => openai.responses.retrieve(arg)),
             cancel: await caught(() => openai.responses.cancel(arg)) };
  },
};
cases[process.argv[2]]().then((r) => console.log(JSON.stringify(r)),
  (e) => { console.log(JSON.stringify({ failed: String(e), status: e.status ?? null })); process.exit(1); });
"""


def js(case, acct, arg="", secret=None, **env):
    d = sdk_dir()
    path = os.path.join(d, "contract_96.mjs")
    with open(path, "w") as f:
        f.write(SDK_JS)
    e = dict(os.environ, BASE=ENV["CREDITD_URL"], KEY=secret or key("guard"), ACCOUNT=acct, ARG=arg, **env)
    p = subprocess.run(["node", path, case], capture_output=True, text=True, timeout=120, env=e, cwd=d)
    check(p.stdout.strip(), "%s printed nothing: %s" % (case, p.stderr[-1500:]))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    check("failed" not in out, "%s failed: %r %s" % (case, out, p.stderr[-1500:]))
    return out


# ---- issue 65: images, speech, transcriptions, moderations ----

def test_an_image_generation_is_held_then_charged_and_the_api_agrees():
    """dall-e-2, two 256x256 images: held at LiteLLM's per-pixel row
    (256-x-256/dall-e-2), charged the images the provider made; the
    answer's header, the hold, the balance and the usage report agree."""
    price_media()
    reset()
    acct = new_account("ctimg")
    before = state(acct)[0]
    r = call("/openai/v1/images/generations", {"model": "dall-e-2", "prompt": "two boats", "n": 2, "size": "256x256"},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    eq(len(r.json["data"]), 2, "two images, as OpenAI's ImagesResponse")
    check("creditd-hold-id" in r.headers and "creditd-charged-micros" in r.headers, "held and charged: %r" % r.headers)
    one = ceil(256 * 256 * images.PX["256-x-256/dall-e-2"], 1000)
    want = ceil(2 * one * MARGIN_BPS, 10 ** 10)
    h = hold(r)
    eq((h["status"], h["held_micros"], h["charged_micros"], h["model"]), ("settled", want, want, "dall-e-2"),
       "the hold: two 256x256 images held and charged")
    eq(int(r.headers["creditd-charged-micros"]), want, "the answer's charge")
    eq(state(acct), (before - want, 0), "the balance lost it, nothing left reserved")
    u = usage_report(acct)
    eq((u["requests"], u["cost_micros"]), (1, want), "the usage report: one call at that cost")
    eq([x["path"] for x in posted()], ["/v1/images/generations"], "forwarded once")
    verify()


def test_speech_transcription_and_moderation_through_the_sdk():
    """tts-1 by its characters, whisper-1 by the seconds its json answer
    reports, a moderation free (no hold, no usage record)."""
    price_media()
    reset()
    acct = new_account("ctaudio")
    before = state(acct)[0]
    text = "Hello from the SDK, spoken."
    r = call("/openai/v1/audio/speech", {"model": "tts-1", "voice": "alloy", "input": text},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "spoken: %r" % r.body[:200])
    chars = ceil(len(text) * 15000000 * MARGIN_BPS, 10 ** 10)
    eq((hold(r)["held_micros"], hold(r)["charged_micros"]), (chars, chars), "held and charged its characters")
    t = js("transcribe_json", acct)
    eq(t["usage"]["type"], "duration", "OpenAI's duration usage")
    secs = t["usage"]["seconds"]
    want = ceil(secs * 100000 * MARGIN_BPS, 1000 * 10 ** 4)	# 100,000 micros per 1,000 s
    eq(int(t["charged"]), want, "charged the seconds the answer reports at whisper-1's price per second")
    h = api("GET", "/v1/holds/" + t["hold"], auth="read").json
    check(h["held_micros"] >= want, "held at least that (the file's bytes at mp3's lowest bitrate): %r" % h)
    m = call("/openai/v1/moderations", {"input": ["one", "two"]}, headers={"Creditd-Account": acct})
    eq((m.status, len(m.json["results"])), (200, 2), "moderated: %r" % m.body[:200])
    check("creditd-hold-id" not in m.headers, "a moderation is not held: %r" % m.headers)
    check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "settled")
    eq(state(acct)[0], before - chars - want, "the balance lost the two charges")
    eq(usage_report(acct)["requests"], 2, "two usage records; none for the moderation")
    verify()


def _form(fields, files):
    return images.form(fields, files)


def _edit(acct, body):
    return call("/openai/v1/images/edits", None, raw=body, headers={
        "Creditd-Account": acct, "Content-Type": "multipart/form-data; boundary=" + images.BOUNDARY})


def _transcribe(acct, fields, filename="a.mp3"):
    b = "----ct96audio"
    out = b"".join(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (b, n, v)).encode()
                   for n, v in fields)
    out += ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: audio/mpeg\r\n\r\n'
            % (b, filename)).encode() + b"\xff\xf3" + b"\x07" * 15998 + b"\r\n" + ("--%s--\r\n" % b).encode()
    return call("/openai/v1/audio/transcriptions", None, raw=out, headers={
        "Creditd-Account": acct, "Content-Type": "multipart/form-data; boundary=" + b})


def test_media_refusals_are_in_openai_s_shape_and_touch_nothing():
    """Wrong types, an unknown or unpriced model, n too large, a size or
    quality the model does not offer, a member no table names, a stream
    creditd cannot price: 400 in OpenAI's shape naming the member, nothing
    held, forwarded or recorded."""
    price_media()
    reset()
    acct = new_account("ctmref")
    before = state(acct)
    gen, sp, mod = "/openai/v1/images/generations", "/openai/v1/audio/speech", "/openai/v1/moderations"
    img = [("image", "a.png")]
    cases = [
        (gen, {"model": 5, "prompt": "x"}, "model"),
        (gen, {"model": "dall-e-9", "prompt": "x"}, "model"),
        (gen, {"model": "dall-e-2", "prompt": "x", "n": "2"}, "n"),
        (gen, {"model": "dall-e-2", "prompt": "x", "n": 0}, "n"),
        (gen, {"model": "dall-e-2", "prompt": "x", "n": 11}, "n"),
        (gen, {"model": "dall-e-3", "prompt": "x", "n": 2}, "n"),
        (gen, {"model": "dall-e-2", "prompt": "x", "size": 1024}, "size"),
        (gen, {"model": "dall-e-3", "prompt": "x", "size": "512x512"}, "size"),
        (gen, {"model": "dall-e-2", "prompt": "x", "quality": "hd"}, "quality"),
        (gen, {"model": "dall-e-2", "prompt": "x", "style": "vivid"}, "style"),
        (gen, {"model": "dall-e-2", "prompt": "x", "response_format": "gif"}, "response_format"),
        (gen, {"model": "gpt-image-1", "prompt": "x", "stream": True}, "stream"),
        (gen, {"model": "dall-e-2", "prompt": "x", "mystery": 1}, "mystery"),
        (sp, {"voice": "alloy", "input": "hi"}, "model"),
        (sp, {"model": "tts-9", "voice": "alloy", "input": "hi"}, "model"),
        (sp, {"model": "whisper-1", "voice": "alloy", "input": "hi"}, "model"),
        (sp, {"model": "tts-1", "voice": "alloy"}, "input"),
        (sp, {"model": "tts-1", "voice": "alloy", "input": 5}, "input"),
        (sp, {"model": "tts-1", "voice": "alloy", "input": "a" * 4097}, "input"),
        (sp, {"model": "tts-1", "voice": "alloy", "input": "hi", "response_format": "gif"}, "response_format"),
        (mod, {"input": "hi", "mystery": 1}, "mystery"),
    ]
    for path, body, param in cases:
        e = openai_shape(call(path, body, headers={"Creditd-Account": acct}), 400, param, "%s %r" % (path, body))
        eq(e["type"], "invalid_request_error", "OpenAI's type for a 400")
    forms = [
        (_form([("prompt", "x")], img), "model"),
        (_form([("model", "dall-e-9"), ("prompt", "x")], img), "model"),
        (_form([("model", "dall-e-3"), ("prompt", "x")], img), "model"),
        (_form([("model", "dall-e-2"), ("prompt", "x"), ("n", "11")], img), "n"),
        (_form([("model", "dall-e-2"), ("prompt", "x"), ("size", "999x999")], img), "size"),
        (_form([("model", "dall-e-2"), ("prompt", "x"), ("mystery", "1")], img), "mystery"),
    ]
    for body, param in forms:
        openai_shape(_edit(acct, body), 400, param, "edit %r" % body[:120])
    for fields, name, param in [([("model", "whisper-9")], "a.mp3", "model"), ([("model", "tts-1")], "a.mp3", "model"),
                                ([("model", "whisper-1"), ("stream", "true")], "a.mp3", "stream"),
                                ([("model", "whisper-1")], "audio", "file"), ([], "a.mp3", "model"),
                                ([("model", "gpt-4o-mini-transcribe")], "a.mp3", "model")]:
        openai_shape(_transcribe(acct, fields, name), 400, param, "transcription %r" % fields)
    r = call("/openai/v1/images/edits", {"model": "dall-e-2", "prompt": "x"}, headers={"Creditd-Account": acct})
    openai_shape(r, 400, None, "a JSON body on a form route")
    r = call("/openai/v1/images/generations", None, raw=b'{"model": "dall-e-2", "prompt": ',
             headers={"Creditd-Account": acct})
    openai_shape(r, 400, None, "a body that is not JSON")
    r = call("/openai/v1/images/generations", None, raw=b"[1, 2]", headers={"Creditd-Account": acct})
    openai_shape(r, 400, None, "a body that is not an object")
    eq(posted(), [], "nothing forwarded")
    untouched(acct, before, "media refusals")
    verify()


def test_who_may_call_is_checked_before_anything_on_every_media_route():
    """No key, a wrong key, no account, an account that does not exist, a
    key limited to another model (through the SDK: its own error
    classes)."""
    price_media()
    reset()
    acct = new_account("ctmwho")
    before = state(acct)
    body = {"model": "dall-e-2", "prompt": "x"}
    path = "/openai/v1/images/generations"
    e = openai_shape(call(path, body, auth=None, headers={"Creditd-Account": acct}), 401, None, "no key")
    eq(e["type"], "authentication_error", "401's type")
    openai_shape(call(path, body, auth="crd_" + "0" * 64, headers={"Creditd-Account": acct}), 401, None, "a bad key")
    openai_shape(call(path, body), 400, "Creditd-Account", "no account named")
    e = openai_shape(call(path, body, headers={"Creditd-Account": "ct-no-such-account"}), 404, None, "no such account")
    eq(e["type"], "not_found_error", "404's type")
    limited = gw_key(acct, models=["gpt-4o-mini"])
    got = js("media_not_allowed", acct, secret=limited["key"])
    for route, seen in got.items():
        eq((seen["thrown"], seen["status"], seen["name"], seen["type"], seen["code"], seen["param"]),
           (True, 403, "PermissionDeniedError", "permission_error", "model_not_allowed", "model"),
           "%s: a model the key may not call, as the SDK sees it" % route)
    got = js("media_refused", acct)
    want = {"generate": "n", "size": "size", "edit": "model", "speech": "instructions", "unknown": "model",
            "transcription": "stream"}
    for route, seen in got.items():
        eq((seen["status"], seen["name"], seen["type"], seen["param"]),
           (400, "BadRequestError", "invalid_request_error", want[route]), "%s refused, as the SDK sees it" % route)
    eq(posted(), [], "nothing forwarded")
    untouched(acct, before, "who may call")
    verify()


def test_a_media_call_the_account_cannot_cover_is_402_and_forwards_nothing():
    price_media()
    reset()
    acct = new_account("ctmpoor")
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": state(acct)[0], "reason": "empty it"})
    before = state(acct)
    eq(before[0], 0, "an empty account")
    r = call("/openai/v1/images/generations", {"model": "dall-e-3", "prompt": "x", "quality": "hd"},
             headers={"Creditd-Account": acct})
    e = openai_shape(r, 402, None, "no credit")
    eq(e["type"], "insufficient_quota", "OpenAI's type for no quota")
    r = call("/openai/v1/audio/speech", {"model": "tts-1", "voice": "alloy", "input": "hi"},
             headers={"Creditd-Account": acct})
    openai_shape(r, 402, None, "no credit for speech")
    eq(posted(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held")
    verify()


# ---- issue 67: the Batch API ----

def test_an_openai_batch_through_the_sdk_is_charged_its_succeeded_lines_at_batch_prices():
    """files.create + batches.create through the SDK: held at the lines'
    worst cases, then (errored and expired lines released) charged the
    succeeded lines at batch prices to the micro, one usage record a line;
    retrieve, list and files.content through creditd; another account's
    batch and file are 404 to its SDK."""
    batches.batch_prices()
    reset()
    batches.control(reset=True, complete=True)
    acct, other = new_account("ctbatch"), new_account("ctbatcho")
    before = state(acct)[0]
    made = js("oa_batch", acct)
    eq((made["purpose"], made["metadata"]), ("batch", {"job": "nightly"}), "made as asked: %r" % made)
    batches.done(made["batch"])
    charge, b = batches.expected_charge(made["batch"])
    eq(sorted(x["outcome"] for x in b["lines"]), ["errored", "expired", "succeeded", "succeeded"], "the lines' ends")
    eq(state(acct), (before - charge, 0), "the succeeded lines charged at batch prices, the rest released")
    check(charge > 0, "something charged")
    eq(usage_report(acct)["requests"], 2, "one usage record a succeeded line")
    eq(usage_report(acct)["cost_micros"], charge, "the usage report's cost")
    after = js("oa_batch_after", acct, made["batch"])
    eq((after["status"], after["listed"], after["files"]), ("completed", [made["batch"]], [made["file"]]),
       "retrieved and listed from creditd's records: %r" % after)
    eq(after["counts"]["completed"], 2, "the provider's count of succeeded lines")
    eq(after["lines"], 2, "the output file read through creditd")
    foreign = js("oa_batch_foreign", other, made["batch"], FILE=made["file"])
    for what, seen in foreign.items():
        eq((seen["thrown"], seen["status"], seen["name"]), (True, 404, "NotFoundError"), "%s of another's: 404" % what)
    eq(state(acct), (before - charge, 0), "another account's calls changed nothing")
    verify()


def _upload(acct, lines):
    r = batches.upload(acct, lines)
    eq(r.status, 200, "uploaded: %r" % r.body[:300])
    return r.json["id"]


def _create(acct, body):
    return call("/openai/v1/batches", body, headers={"Creditd-Account": acct})


def test_batch_refusals_hold_and_forward_nothing():
    """A line naming an unpriced model, a member no table names, a
    custom_id twice, another purpose; a create from another account's
    file or one nobody uploaded (404, naming input_file_id), a create
    member creditd does not pass on; Anthropic's create with no requests,
    a line that streams, a model without batch prices."""
    batches.batch_prices()
    reset()
    batches.control(reset=True, complete=False)
    acct, other = new_account("ctbref"), new_account("ctbrefo")
    fid = _upload(other, [batches.line("x1")])
    before = state(acct)
    for lines, param in [([batches.line("a", model="no-such-model")], "model"),
                         ([batches.line("a", mystery=1)], "mystery"),
                         ([batches.line("a"), batches.line("a")], "custom_id")]:
        openai_shape(batches.upload(acct, lines), 400, param, "upload %r" % lines)
    openai_shape(batches.upload(acct, [batches.line("a")], purpose="fine-tune"), 400, "purpose", "purpose")
    ok = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}
    for file_id in (fid, "file-nobody-made"):
        openai_shape(_create(acct, dict(ok, input_file_id=file_id)), 404, "input_file_id", "file %s" % file_id)
    mine = _upload(acct, [batches.line("y1")])
    openai_shape(_create(acct, dict(ok, input_file_id=mine, endpoint="/v1/embeddings")), 400, "endpoint",
                 "another endpoint than the file's lines")
    openai_shape(_create(acct, dict(ok, input_file_id=mine, output_expires_after={"anchor": "created_at",
                                                                                   "seconds": 3600})),
                 400, "output_expires_after", "output_expires_after")
    openai_shape(_create(acct, dict(ok, input_file_id=mine, mystery=1)), 400, "mystery", "an unknown member")
    # A model of this file's own without batch prices (another file of the
    # stack may give any catalogue model a batch discount).
    creditctl("price", "set", "claude-nobatch-96", "input_micros_per_mtok=1000000", "output_micros_per_mtok=5000000",
              "max_output_tokens=8192")
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        check(wait_until(lambda: any(m["model"] == "claude-nobatch-96" for m in
                                     api("GET", "/v1/models", auth="read", base=base).json["data"]), timeout=30),
              "the model's price reaches %s" % base)
    req = {"custom_id": "a", "params": {"model": "claude-sonnet-4-5", "max_tokens": 20,
                                        "messages": [{"role": "user", "content": "hi"}]}}
    head = {"Creditd-Account": acct, "anthropic-version": "2023-06-01"}
    path = "/anthropic/v1/messages/batches"
    for body, what in [({"requests": []}, "no requests"), ({}, "requests missing"),
                       ({"requests": [req, req]}, "a custom_id twice"),
                       ({"requests": [dict(req, params=dict(req["params"], stream=True))]}, "a line that streams"),
                       ({"requests": [dict(req, params=dict(req["params"], model="claude-nobatch-96"))]},
                        "a model without batch prices"),
                       ({"requests": [dict(req, params=dict(req["params"], model="claude-9"))]}, "an unknown model"),
                       ({"requests": [req], "mystery": 1}, "an unknown member")]:
        anthropic_shape(call(path, body, headers=head), 400, what)
    eq([x["path"] for x in posted() if "batches" in x["path"]], [], "no batch forwarded")
    eq(state(acct), before, "nothing held or charged")
    eq(holds_of(acct), [], "no hold in flight")
    verify()


def test_an_openai_batch_cancelled_midway_is_charged_what_ran():
    batches.batch_prices()
    reset()
    batches.control(reset=True, complete=False)
    acct = new_account("ctbcancel")
    before = state(acct)[0]
    fid = _upload(acct, [batches.line("c%d" % i) for i in range(6)])
    r = _create(acct, {"input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h"})
    eq(r.status, 200, "made: %r" % r.body[:200])
    bid = r.json["id"]
    check(state(acct)[1] > 0, "held while it runs")
    other = new_account("ctbcancelo")
    openai_shape(call("/openai/v1/batches/%s/cancel" % bid, {}, headers={"Creditd-Account": other}), 404, None,
                 "another account's cancel")
    r = call("/openai/v1/batches/%s/cancel" % bid, {}, headers={"Creditd-Account": acct})
    eq((r.status, r.json["status"]), (200, "cancelling"), "the cancel forwarded: %r" % r.body[:200])
    batches.done(bid)
    charge, b = batches.expected_charge(bid)
    eq(sum(1 for x in b["lines"] if x["outcome"] == "succeeded"), 3, "half the lines ran")
    eq(state(acct), (before - charge, 0), "charged what ran to the micro, the rest released")
    eq(usage_report(acct)["requests"], 3, "one usage record a line that ran")
    eq(call("/openai/v1/batches/" + bid, None, headers={"Creditd-Account": acct}).json["status"], "cancelled",
       "retrieved as the provider ended it")
    verify()


def test_an_anthropic_message_batch_through_the_sdk_is_charged_its_succeeded_lines():
    """messages.batches.create: held at the row's batch discount, the
    succeeded lines charged at it, an errored line released; retrieve and
    list through the SDK; another account's batch is Anthropic's 404 to its
    SDK; the results read through creditd's own route."""
    batches.batch_prices()
    reset()
    batches.control(reset=True, complete=True)
    acct, other = new_account("ctmsgb"), new_account("ctmsgbo")
    before = state(acct)[0]
    made = js("an_batch", acct)
    eq(made["type"], "message_batch", "Anthropic's MessageBatch: %r" % made)
    batches.done(made["id"])
    b = [x for x in provider("GET", "/_batches") if x["id"] == made["id"]][0]
    charge = sum(batches.discounted_cost(x["usage"]) for x in b["lines"] if x["outcome"] == "succeeded")
    eq(sorted(x["outcome"] for x in b["lines"]), ["errored", "succeeded", "succeeded"], "the lines' ends")
    eq(state(acct), (before - charge, 0), "the succeeded lines at half price, the errored one released")
    eq(usage_report(acct)["requests"], 2, "one usage record a succeeded line")
    after = js("an_batch_after", acct, made["id"])
    eq((after["status"], after["listed"], after["counts"]["succeeded"], after["counts"]["errored"]),
       ("ended", [made["id"]], 2, 1), "retrieved and listed: %r" % after)
    head = {"Creditd-Account": acct, "anthropic-version": "2023-06-01"}
    r = call("/anthropic/v1/messages/batches/%s/results" % made["id"], None, headers=head)
    got = sorted((json.loads(x)["custom_id"], json.loads(x)["result"]["type"]) for x in r.body.decode().splitlines())
    eq(got, [("err1", "errored"), ("s1", "succeeded"), ("s2", "succeeded")], "the results through creditd")
    for what, seen in js("an_batch_foreign", other, made["id"]).items():
        eq((seen["thrown"], seen["status"], seen["name"], seen["type"]), (True, 404, "NotFoundError", "not_found_error"),
           "%s of another's batch: Anthropic's 404" % what)
    r = call("/anthropic/v1/messages/batches/%s/results" % made["id"], None,
             headers={"Creditd-Account": other, "anthropic-version": "2023-06-01"})
    anthropic_shape(r, 404, "another's results")
    eq(state(acct), (before - charge, 0), "unchanged by another account's calls")
    verify()


def test_the_lists_page_as_the_references_say():
    """OpenAI's list (limit, after, has_more, first_id, last_id) and
    Anthropic's (limit, after_id), newest first, each account's own."""
    batches.batch_prices()
    reset()
    batches.control(reset=True, complete=True)
    acct, anth = new_account("ctlist"), new_account("ctlista")
    made = []
    for i in range(2):
        r = _create(acct, {"input_file_id": _upload(acct, [batches.line("l%d" % i)]),
                           "endpoint": "/v1/chat/completions", "completion_window": "24h"})
        made.append(r.json["id"])
    head = {"Creditd-Account": anth, "anthropic-version": "2023-06-01"}
    req = {"custom_id": "a", "params": {"model": "claude-sonnet-4-5", "max_tokens": 20,
                                        "messages": [{"role": "user", "content": "hi"}]}}
    msg = [call("/anthropic/v1/messages/batches", {"requests": [req]}, headers=head).json["id"] for _ in range(2)]
    for bid in made + msg:
        batches.done(bid)
    page = call("/openai/v1/batches?limit=1", None, headers={"Creditd-Account": acct}).json
    eq(([x["id"] for x in page["data"]], page["has_more"], page["first_id"], page["last_id"], page["object"]),
       ([made[1]], True, made[1], made[1], "list"), "OpenAI's first page, newest first")
    page = call("/openai/v1/batches?limit=1&after=" + made[1], None, headers={"Creditd-Account": acct}).json
    eq(([x["id"] for x in page["data"]], page["has_more"]), ([made[0]], False), "and the next")
    page = call("/anthropic/v1/messages/batches?limit=1", None, headers=head).json
    eq(([x["id"] for x in page["data"]], page["has_more"], page["last_id"]), ([msg[1]], True, msg[1]),
       "Anthropic's first page, newest first")
    page = call("/anthropic/v1/messages/batches?limit=1&after_id=" + msg[1], None, headers=head).json
    eq([x["id"] for x in page["data"]], [msg[0]], "and the next")
    other = new_account("ctlisto")
    eq(call("/openai/v1/batches", None, headers={"Creditd-Account": other}).json["data"], [], "none of another's")
    eq(call("/anthropic/v1/messages/batches", None, headers=dict(head, **{"Creditd-Account": other})).json["data"], [],
       "none of another's message batches")
    verify()


# ---- issue 67: Responses "background": true ----

def _run_usage(rid):
    return provider("GET", "/_background/" + rid)["usage"]


def test_a_background_run_retrieved_twice_through_the_sdk_is_charged_once():
    """responses.create({background: true}) is held and answered queued;
    another account cannot retrieve or cancel it (404); with stream it is
    refused; once it ends, the SDK's retrieve through creditd finds it
    settled at its usage, and a second retrieve charges nothing more. A
    cancelled run is charged its usage so far."""
    reset()
    acct, other = new_account("ctbg"), new_account("ctbgo")
    before = state(acct)[0]
    made = js("bg_create", acct)
    eq((made["status"], made["usage"]), ("queued", None), "answered at once: %r" % made)
    eq(state(acct)[0], before, "nothing charged while it runs")
    check(state(acct)[1] > 0, "held while it runs")
    refused = js("bg_refused", other, made["id"])
    eq((refused["stream"]["status"], refused["stream"]["param"]), (400, "stream"), "background with stream: refused")
    for what in ("retrieve", "cancel"):
        eq((refused[what]["status"], refused[what]["name"]), (404, "NotFoundError"), "another account's %s" % what)
    provider("POST", "/_background", {"id": made["id"], "status": "in_progress"})
    provider("POST", "/_background", {"id": made["id"], "status": "completed"})
    first = js("bg_retrieve", acct, made["id"])
    eq(first["status"], "completed", "ended: %r" % first)
    u = _run_usage(made["id"])
    want = cost("gpt-4o-mini", u["input_tokens"], u["input_tokens_details"]["cached_tokens"], u["output_tokens"])
    eq(state(acct), (before - want, 0), "settled by the time the retrieve answered, at its usage")
    second = js("bg_retrieve", acct, made["id"])
    eq(second["usage"], first["usage"], "the same run")
    eq(state(acct), (before - want, 0), "a second retrieve charges nothing (a retrieve settles before it answers)")
    eq(usage_report(acct)["requests"], 1, "one usage record")
    run = js("bg_create", acct)
    provider("POST", "/_background", {"id": run["id"], "status": "in_progress"})
    mid = state(acct)[0]
    c = js("bg_cancel", acct, run["id"])
    eq(c["status"], "cancelled", "cancelled: %r" % c)
    u = _run_usage(run["id"])
    want = cost("gpt-4o-mini", u["input_tokens"], u["input_tokens_details"]["cached_tokens"], u["output_tokens"])
    eq(state(acct), (mid - want, 0), "a cancelled run charged its usage so far")
    eq(usage_report(acct)["requests"], 2, "one usage record a run")
    verify()
