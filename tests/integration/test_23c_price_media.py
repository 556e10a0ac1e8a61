"""test_23c_price_media.py: LiteLLM's image, audio, speech and moderation
rows imported into the media price dimensions (sql/060), and kept off the
token routes (docs/decisions.md, "A media row prices no token").

litellm_catalogue.json holds, beside test_23b's token models, real entries
of LiteLLM's model_prices_and_context_window.json copied as it has them:
dall-e-2 and dall-e-3 (their per-image rows and each size's and quality's
per-pixel row), gpt-image-1 (image tokens) and its quality/size rows
(pixels and an image made), whisper-1, gpt-4o-transcribe,
gpt-4o-mini-transcribe, tts-1, tts-1-hd, gpt-4o-mini-tts,
omni-moderation-latest, text-moderation-latest, and other providers' media
rows (Bedrock's and AI/ML API's per-image rows, Deepgram's, Groq's, IBM
watsonx's and Vertex AI's per-second rows, Groq's, MiniMax's and Vertex's
per-character rows), with refused ones (a Stability image edit, a speech
and an image model with token prices but no max_output_tokens, a chat
model priced per character). The test imports them under a private prefix
and checks, for every entry, whether it is priced or refused and why; each
price to the micro against the catalogue's own decimal text (worked out
here with Python's decimal, never copied); the token prices of a media row
null in GET /v1/models and `creditctl price list`; and every token route
(OpenAI chat, responses, embeddings, Anthropic messages) and the guard's
authorize refusing a media row with 400 naming `model`, nothing held or
forwarded."""
import json
import os
import re
import uuid
from decimal import Decimal

import stack
from lib import api, check, creditctl, eq, new_account, verify, wait_until
from test_80_gateway import anthropic_error, call, forwarded, messages, openai_error, reset, state

HERE = os.path.dirname(os.path.abspath(__file__))
MEDIA_MODES = ("image_generation", "audio_transcription", "audio_speech", "moderation")
# LiteLLM's media keys: creditd's column and the power of ten from a price
# in currency units to the column's unit (docs/creditctl.md).
MEDIA_KEYS = {
    "input_cost_per_pixel": ("input_pixel_micros_per_gpx", 15),
    "output_cost_per_pixel": ("output_pixel_micros_per_gpx", 15),
    "input_cost_per_image_token": ("input_image_micros_per_mtok", 12),
    "output_cost_per_image_token": ("output_image_micros_per_mtok", 12),
    "output_cost_per_image": ("output_micros_per_image", 6),
    "input_cost_per_image": ("output_micros_per_image", 6),  # image_generation: an image made
    "input_cost_per_second": ("input_micros_per_ksec", 9),
    "output_cost_per_second": ("output_micros_per_ksec", 9),
    "input_cost_per_character": ("input_micros_per_mchar", 12),
    "input_cost_per_audio_token": ("input_audio_micros_per_mtok", 12),
    "output_cost_per_audio_token": ("output_audio_micros_per_mtok", 12),
}
TOKENS = ("input_micros_per_mtok", "cached_input_micros_per_mtok", "cache_write_micros_per_mtok",
          "output_micros_per_mtok", "max_output_tokens")
MEDIA_DIMS = sorted({c for c, _ in MEDIA_KEYS.values()})
# What the catalogue's media-mode entries become: a media row (no token
# price), a row with token prices, or refused with the reason said.
MEDIA_ROWS = {
    "1024-x-1024/50-steps/bedrock/amazon.nova-canvas-v1:0", "1024-x-1024/dall-e-2", "256-x-256/dall-e-2",
    "512-x-512/dall-e-2", "aiml/dall-e-3", "dall-e-2", "dall-e-3", "deepgram/base", "deepgram/nova-2",
    "gpt-image-1", "groq/playai-tts", "groq/whisper-large-v3", "hd/1024-x-1024/dall-e-3", "hd/1024-x-1792/dall-e-3",
    "hd/1792-x-1024/dall-e-3", "high/1024-x-1024/gpt-image-1", "high/1024-x-1536/gpt-image-1",
    "high/1536-x-1024/gpt-image-1", "low/1024-x-1024/gpt-image-1", "low/1024-x-1536/gpt-image-1",
    "low/1536-x-1024/gpt-image-1", "max-x-max/50-steps/stability.stable-diffusion-xl-v0",
    "medium/1024-x-1024/gpt-image-1", "medium/1024-x-1536/gpt-image-1", "medium/1536-x-1024/gpt-image-1",
    "minimax/speech-02-hd", "omni-moderation-latest", "standard/1024-x-1024/dall-e-3",
    "standard/1024-x-1792/dall-e-3", "standard/1792-x-1024/dall-e-3", "text-moderation-latest", "tts-1",
    "tts-1-hd", "vertex_ai/chirp", "vertex_ai/chirp_3", "watsonx/whisper-large-v3-turbo", "whisper-1"}
TOKEN_ROWS = {"gpt-4o-mini-transcribe", "gpt-4o-transcribe"}
REFUSED = {
    "gpt-4o-mini-tts": "max_output_tokens (or max_tokens) is not an integer of at least 1",
    "gpt-image-1.5": "max_output_tokens (or max_tokens) is not an integer of at least 1",
    "stability/inpaint": "input_cost_per_token is missing: not priced per token",  # mode image_edit
    "medlm-large": "input_cost_per_token is missing: not priced per token",  # mode chat, per character
}
# gpt-image-1's prompt text: priced on its media row (input, cache read,
# cache write the input price), no output token price.
TEXT = {"gpt-image-1": {"input_micros_per_mtok": 5000000, "cached_input_micros_per_mtok": 1250000,
                        "cache_write_micros_per_mtok": 5000000, "output_micros_per_mtok": None,
                        "max_output_tokens": None}}


def catalogue():
    """The catalogue's entries of the media modes and the refused ones,
    numbers as decimal text (Decimal), in its order."""
    with open(os.path.join(HERE, "litellm_catalogue.json")) as f:
        entries = json.load(f, parse_float=Decimal)
    return {k: v for k, v in entries.items() if v.get("mode") in MEDIA_MODES or k in REFUSED}


def scaled(v, power):
    """A catalogue price (decimal text) in its column's unit: whole, or the
    test is wrong."""
    x = Decimal(v).scaleb(power)
    check(x == x.to_integral_value(), "%s x 10^%d is whole" % (v, power))
    return int(x)


def want(name, e):
    """The row creditd should make of entry e: (token fields, dimensions)."""
    dims = {c: None for c in MEDIA_DIMS}
    for key, (column, power) in MEDIA_KEYS.items():
        if key in e and not (key == "input_cost_per_image" and e["mode"] != "image_generation"):
            dims[column] = scaled(e[key], power)
    dims["max_input_tokens"] = e.get("max_input_tokens")
    if name in MEDIA_ROWS and e.get("mode") != "moderation" and "input_cost_per_token" in e:
        inp = scaled(e["input_cost_per_token"], 12)
        cached = scaled(e.get("cache_read_input_token_cost", e["input_cost_per_token"]), 12)
        return {"input_micros_per_mtok": inp, "cached_input_micros_per_mtok": cached,
                "cache_write_micros_per_mtok": inp, "output_micros_per_mtok": None, "max_output_tokens": None}, dims
    if name in MEDIA_ROWS:
        return {t: None for t in TOKENS}, dims
    inp = scaled(e["input_cost_per_token"], 12)
    return {"input_micros_per_mtok": inp, "cached_input_micros_per_mtok": inp, "cache_write_micros_per_mtok": inp,
            "output_micros_per_mtok": scaled(e["output_cost_per_token"], 12),
            "max_output_tokens": e["max_output_tokens"]}, dims


def private_catalogue():
    """The entries renamed PREFIX/name, written where creditctl reads it:
    (path, prefix). A short prefix: the longest name (52) stays within
    creditd's 64."""
    prefix = "m" + uuid.uuid4().hex[:8]
    with open(os.path.join(HERE, "litellm_catalogue.json")) as f:
        entries = json.load(f)
    mine = {"%s/%s" % (prefix, k): v for k, v in entries.items() if k in catalogue()}
    path = stack.path("%s-media.json" % prefix)
    with open(path, "w") as f:
        json.dump(mine, f)
    return path, prefix


def listed():
    return {m["model"]: m for m in api("GET", "/v1/models", auth="read").json["data"]}


def report(stdout, prefix):
    """{key: models} of the import's "billing keys" lines and {name: why}
    of its "skipped" lines, the prefix taken off."""
    keys, skipped = {}, {}
    for line in stdout.splitlines():
        m = re.match(r"^  (\S+) \((\d+) models?\): (.*)$", line)
        if m:
            keys[m.group(1)] = {n.split("/", 1)[1] for n in m.group(3).split(", ") if n.startswith(prefix + "/")}
            continue
        m = re.match(r"^  (%s/\S+): (.*)$" % prefix, line)
        if m:
            skipped[m.group(1).split("/", 1)[1]] = m.group(2)
    return {k: v for k, v in keys.items() if v}, skipped


_imported = {}


def imported():
    """The catalogue imported once a run: (prefix, the import's stdout)."""
    if not _imported:
        path, prefix = private_catalogue()
        p = creditctl("price", "import", path, check_rc=False)
        eq(p.returncode, 0, "imported: %s%s" % (p.stdout, p.stderr))
        names = ["%s/%s" % (prefix, n) for n in MEDIA_ROWS | TOKEN_ROWS]
        check(wait_until(lambda: all(n in listed() for n in names), timeout=15), "creditd lists them")
        _imported.update(prefix=prefix, stdout=p.stdout)
    return _imported["prefix"], _imported["stdout"]


def test_the_catalogue_s_media_rows_are_priced_or_refused_each_as_it_says():
    entries = catalogue()
    eq(set(entries), MEDIA_ROWS | TOKEN_ROWS | set(REFUSED), "every entry of the test data is accounted for")
    prefix, out = imported()
    check("imported %d price rows" % len(MEDIA_ROWS | TOKEN_ROWS) in out, "each priced entry imported: %r" % out)
    keys, skipped = report(out, prefix)
    eq(skipped, REFUSED, "each refused entry named, with why")
    eq(keys, {}, "every billing key of these entries applied")
    rows = listed()
    for name in sorted(MEDIA_ROWS | TOKEN_ROWS):
        tokens, dims = want(name, entries[name])
        got = rows["%s/%s" % (prefix, name)]
        eq({t: got[t] for t in TOKENS}, tokens, "%s: token prices (null on a media row)" % name)
        eq({d: got[d] for d in dims}, dims, "%s: each media price to the micro, null where none" % name)
    for name in REFUSED:
        check("%s/%s" % (prefix, name) not in rows, "%s refused, not priced" % name)
    # A few by hand, as docs/gateway.md states the units.
    eq(rows[prefix + "/hd/1024-x-1792/dall-e-3"]["input_pixel_micros_per_gpx"], 65390000, "6.539e-08 a pixel")
    eq(rows[prefix + "/whisper-1"]["input_micros_per_ksec"], 100000, "0.0001 a second")
    eq(rows[prefix + "/tts-1"]["input_micros_per_mchar"], 15000000, "1.5e-05 a character")
    eq(rows[prefix + "/high/1024-x-1024/gpt-image-1"]["output_micros_per_image"], 167000, "0.167 an image")
    for name, tokens in TEXT.items():
        eq({t: rows["%s/%s" % (prefix, name)][t] for t in TOKENS}, tokens, "%s: its prompt's text priced" % name)
    omni = rows[prefix + "/omni-moderation-latest"]
    eq([omni[d] for d in MEDIA_DIMS + list(TOKENS)], [None] * (len(MEDIA_DIMS) + len(TOKENS)),
       "a moderation model: a row pricing nothing (free)")


def test_price_list_and_history_show_a_media_row():
    prefix, _ = imported()
    rows = listed()
    ctl = {m["model"]: m for m in json.loads(creditctl("price", "list").stdout)["data"]}
    for name in ("hd/1024-x-1792/dall-e-3", "whisper-1", "tts-1", "omni-moderation-latest", "gpt-image-1"):
        eq(ctl["%s/%s" % (prefix, name)], rows["%s/%s" % (prefix, name)], "price list: %s as the API has it" % name)
    h = creditctl("price", "history", prefix + "/tts-1").stdout.strip().splitlines()
    eq(len(h), 1, "one price so far")
    check("input none" in h[0] and "output none" in h[0] and "input_micros_per_mchar 15000000" in h[0],
          "history: no token price, the character price: %r" % h[0])


def test_a_media_row_is_refused_by_every_token_route_nothing_held_or_forwarded():
    prefix, _ = imported()
    reset()
    acct = new_account("gwmedia")
    before = state(acct)
    head = {"Creditd-Account": acct}
    for name in ("tts-1", "hd/1024-x-1792/dall-e-3", "gpt-image-1", "omni-moderation-latest"):
        model = "%s/%s" % (prefix, name)
        openai_error(call("/openai/v1/chat/completions", {"model": model, "messages": [
            {"role": "user", "content": "hi"}]}, headers=head), 400, "invalid_request", "model")
        openai_error(call("/openai/v1/responses", {"model": model, "input": "hi"}, headers=head), 400,
                     "invalid_request", "model")
        openai_error(call("/openai/v1/embeddings", {"model": model, "input": "hi"}, headers=head), 400,
                     "invalid_request", "model")
        r = messages(acct, {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        anthropic_error(r, 400, "invalid_request_error")
        check(model in r.json["error"]["message"], "Anthropic's refusal names the model: %r" % r.json)
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")
    # A model with token prices in a media mode stays one a token route takes.
    r = call("/openai/v1/chat/completions", {"model": prefix + "/gpt-4o-transcribe", "messages": [
        {"role": "user", "content": "hi"}], "max_completion_tokens": 5}, headers=head)
    check(r.status != 400 or r.json["error"]["param"] != "model", "a token row is no media row: %r" % r.body[:300])
    verify()


def test_the_guard_refuses_a_media_row_as_it_refuses_an_unknown_model():
    prefix, _ = imported()
    acct = new_account("guardmedia")
    for name in ("whisper-1", "standard/1024-x-1024/dall-e-3", "text-moderation-latest"):
        model = "%s/%s" % (prefix, name)
        r = api("POST", "/v1/guard/authorize", {"account": acct, "model": model, "input_tokens": 100,
                                                "max_output_tokens": 10, "request_id": "r-" + uuid.uuid4().hex},
                auth="guard")
        eq((r.status, r.err.get("code"), r.err.get("param")), (400, "invalid_request", "model"),
           "authorize: %s refused naming model: %r" % (name, r.err))
        r = api("POST", "/v1/usage", {"account": acct, "model": model, "input_tokens": 10, "output_tokens": 10,
                                      "request_id": "u-" + uuid.uuid4().hex}, auth="guard")
        eq((r.status, r.err.get("param")), (400, "model"), "usage: %s refused naming model: %r" % (name, r.err))
    a = api("GET", "/v1/accounts/" + acct, auth="read").json
    eq(a["reserved_micros"], 0, "nothing held")


def test_a_json_list_and_price_set_keep_a_media_row_one():
    m = "m" + uuid.uuid4().hex[:8] + "/tts-1"
    path = stack.path("%s-list.json" % m.replace("/", "-"))
    with open(path, "w") as f:
        json.dump([dict({t: None for t in TOKENS if t != "cache_write_micros_per_mtok"}, model=m,
                        input_micros_per_mchar=15000000)], f)
    p = creditctl("price", "import", path, check_rc=False)
    eq(p.returncode, 0, "a media row in a JSON list: %s%s" % (p.stdout, p.stderr))
    check(wait_until(lambda: m in listed(), timeout=15), "listed")
    row = listed()[m]
    eq(([row[t] for t in TOKENS], row["input_micros_per_mchar"]), ([None] * 5, 15000000), "as the list gave it")
    p = creditctl("price", "set", m, "input_micros_per_mchar=30000000", check_rc=False)
    eq(p.returncode, 0, "price set on a media row: %s" % p.stderr)
    got = json.loads(p.stdout)
    eq(([got[t] for t in TOKENS], got["input_micros_per_mchar"]), ([None] * 5, 30000000), "still a media row")
    p = creditctl("price", "set", m, "input_micros_per_mtok=2500000", "output_micros_per_mtok=10000000",
                  "max_output_tokens=2000", check_rc=False)
    eq(p.returncode, 0, "its token prices given: %s" % p.stderr)
    got = json.loads(p.stdout)
    eq([got[t] for t in TOKENS], [2500000, 2500000, 2500000, 10000000, 2000], "now a row with token prices")
    eq(got["input_micros_per_mchar"], 30000000, "its media price kept")


def test_a_media_row_pricing_its_prompt_s_text_round_trips():
    """gpt-image-1's row as price list shows it imports back as it was, and
    price set on it keeps its text prices; a token route still refuses it."""
    prefix, _ = imported()
    row = listed()[prefix + "/gpt-image-1"]
    m = "m" + uuid.uuid4().hex[:8] + "/gpt-image-1"
    path = stack.path("%s-list.json" % m.replace("/", "-"))
    with open(path, "w") as f:
        json.dump([dict(row, model=m)], f)
    p = creditctl("price", "import", path, check_rc=False)
    eq(p.returncode, 0, "price list's row imported back: %s%s" % (p.stdout, p.stderr))
    check(wait_until(lambda: m in listed(), timeout=15), "listed")
    eq({k: v for k, v in listed()[m].items() if k != "model"}, {k: v for k, v in row.items() if k != "model"},
       "the same row")
    got = json.loads(creditctl("price", "set", m, "output_image_micros_per_mtok=32000000").stdout)
    eq(([got[t] for t in TOKENS], got["output_image_micros_per_mtok"]),
       ([5000000, 1250000, 5000000, None, None], 32000000), "price set keeps the text prices")
    reset()
    acct = new_account("gwtext")
    openai_error(call("/openai/v1/chat/completions", {"model": m, "messages": [{"role": "user", "content": "hi"}]},
                      headers={"Creditd-Account": acct}), 400, "invalid_request", "model")
    eq(forwarded(), [], "nothing forwarded")


def test_the_catalogue_s_media_rows_serve_the_media_routes():
    """tts-1 and omni-moderation-latest as the catalogue imports them (media
    rows) are taken by the speech and moderations routes: a speech call held
    and charged by its characters at the catalogue's 1.5e-05 a character
    (15,000,000 micros per million), a moderation free."""
    from gateway_bill import charge
    prefix, _ = imported()
    reset()
    acct = new_account("gwmediaok")
    text = "hello media row"
    r = call("/openai/v1/audio/speech", {"model": prefix + "/tts-1", "input": text, "voice": "alloy"},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "the speech route takes a media row: %r" % r.body[:300])
    eq(int(r.headers["creditd-charged-micros"]), charge(len(text) * 15000000),
       "charged the input's characters at the catalogue's price")
    before = state(acct)
    r = call("/openai/v1/moderations", {"model": prefix + "/omni-moderation-latest", "input": "x"},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "the moderations route takes a media row pricing nothing: %r" % r.body[:300])
    eq(state(acct), before, "free")
    verify()
