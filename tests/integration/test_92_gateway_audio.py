"""test_92_gateway_audio.py: OpenAI's audio and moderation routes through
nginx, creditd and the fake provider (docs/gateway.md, "Audio and speech"):
speech held and charged by its characters (tts-1) or by its text and audio
tokens (gpt-4o-mini-tts, streamed with its usage event or whole without
one), transcriptions by the audio's seconds (whisper-1) or its tokens
(gpt-4o-transcribe), moderations forwarded free. Each charge is worked out
from what the fake provider billed (its record, tests/fake_provider.md),
never from creditd's records; each hold from the request by hand; a
refusal forwards nothing; creditctl verify finds nothing."""
import json
import uuid

from gateway_bill import MARGIN_BPS, charge, expected, last_reported
from lib import api, check, creditctl, eq, new_account, verify, wait_until
from test_80_gateway import call, ensure_prices, forwarded, mode, openai_error, reasons, received, reset, state

# The rows, in micros (tts-1: 15 USD per million characters; whisper-1:
# 0.006 USD a minute, 100,000 micros per 1,000 s; gpt-4o-mini-tts: 0.60
# USD per million text tokens in, 12 per million audio tokens out;
# gpt-4o-transcribe: 2.50 text in, 6 audio in, 10 out), written again
# below as the charges' literals.
ROWS = {
    "tts-1": ["input=0", "output=0", "max_output_tokens=1", "input_micros_per_mchar=15000000"],
    "gpt-4o-mini-tts": ["input=600000", "output=10000000", "max_output_tokens=2000",
                        "output_audio_micros_per_mtok=12000000"],
    "whisper-1": ["input=0", "output=0", "max_output_tokens=1", "input_micros_per_ksec=100000"],
    "gpt-4o-transcribe": ["input=2500000", "output=10000000", "max_output_tokens=2000",
                          "input_audio_micros_per_mtok=6000000", "max_input_tokens=16000"],
    # priced by audio tokens but with no max_input_tokens: no bound
    "gpt-4o-mini-transcribe": ["input=1250000", "output=5000000", "max_output_tokens=2000",
                               "input_audio_micros_per_mtok=3000000"],
}
MINI_TTS = {"input": 600000, "cached": 600000, "output": 10000000, "audio_output": 12000000}
TRANSCRIBE = {"input": 2500000, "cached": 2500000, "output": 10000000, "audio_input": 6000000}


def _price():
    ensure_prices()
    # Every time: another file of the stack (test_23c's catalogue) may
    # have priced these names since.
    for model, fields in ROWS.items():
        creditctl("price", "set", model, *fields)


def speech(acct, body, **kw):
    return call("/openai/v1/audio/speech", body, headers=dict({"Creditd-Account": acct}, **kw.pop("headers", {})),
                **kw)


def moderation(acct, body, **kw):
    return call("/openai/v1/moderations", body, headers=dict({"Creditd-Account": acct}, **kw.pop("headers", {})),
                **kw)


def held(r):
    return api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["held_micros"]


def settled(acct, n):
    check(wait_until(lambda: len(reasons(acct)) == n, timeout=10), "%d calls settled: %r" % (n, reasons(acct)))
    return reasons(acct)[-1]


def test_tts_1_is_held_and_charged_by_the_characters_of_its_input():
    _price()
    reset()
    acct = new_account("gwtts")
    text = "Héllo, 世界! " * 20     # 220 code points, 300 UTF-8 bytes
    eq(len(text), 220, "the characters")
    r = speech(acct, {"model": "tts-1", "input": text, "voice": "alloy"})
    eq(r.status, 200, "%r" % r.body[:200])
    eq(r.headers["content-type"], "audio/mpeg", "the provider's audio, its type passed on")
    eq(r.body[:2], b"\xff\xf3", "the audio bytes as the provider sent them")
    said = last_reported()
    eq(said["characters"], 220, "the provider billed code points, as creditd counts them")
    # Held: 220 characters × 15,000,000 micros per million, at the margin.
    eq(held(r), -(-220 * 15000000 * MARGIN_BPS // 10 ** 10), "held: the characters at their price")
    want = charge(said["characters"] * 15000000)
    eq(int(r.headers["creditd-charged-micros"]), want, "charged the characters the provider billed")
    eq(settled(acct, 1), "provider_usage", "the characters are what the provider bills")
    eq(state(acct)[1], 0, "nothing left reserved")
    verify()


def test_speech_refusals_forward_nothing():
    _price()
    reset()
    acct = new_account("gwttsref")
    before = state(acct)
    openai_error(speech(acct, {"model": "tts-1", "input": "a" * 4097, "voice": "alloy"}), 400, "invalid_request",
                 "input")
    openai_error(speech(acct, {"model": "tts-1", "input": "hi", "voice": "alloy", "instructions": "softly"}), 400,
                 "invalid_request", "instructions")
    openai_error(speech(acct, {"model": "tts-1", "input": "hi", "voice": "alloy", "stream_format": "sse"}), 400,
                 "invalid_request", "stream_format")
    openai_error(speech(acct, {"model": "gpt-4o-mini", "input": "hi", "voice": "alloy"}), 400, "invalid_request",
                 "model")
    openai_error(speech(acct, {"model": "tts-1", "input": "hi", "voice": "alloy", "loudness": 3}), 400,
                 "invalid_request", "loudness")
    openai_error(speech(acct, {"model": "tts-1", "input": 5, "voice": "alloy"}), 400, "invalid_request", "input")
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


def test_gpt_4o_mini_tts_streamed_is_charged_its_usage_event():
    _price()
    reset()
    acct = new_account("gwttss")
    body = {"model": "gpt-4o-mini-tts", "input": "three little words", "voice": "alloy",
            "instructions": "calm and slow", "stream_format": "sse"}
    r = speech(acct, body)
    eq(r.status, 200, "%r" % r.body[:200])
    types = [json.loads(e)["type"] for e in r.events()]
    eq(types, ["speech.audio.delta", "speech.audio.delta", "speech.audio.done"], "the provider's events passed on")
    said = last_reported()
    eq(said["audio_output_tokens"], said["output_tokens"], "speech writes audio alone")
    # Held: the body's bytes as text tokens, 18 characters × 20 audio tokens.
    raw = len(json.dumps(body)) * 600000 + 18 * 20 * 12000000
    eq(held(r), -(-raw * MARGIN_BPS // 10 ** 10), "held: its text and its audio's worst rate")
    eq(settled(acct, 1), "provider_usage", "its usage event read")
    cost = api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["charged_micros"]
    eq(cost, expected(MINI_TTS, said), "text in, audio out at the audio price")
    verify()


def test_speech_audio_then_an_error_event_is_charged_not_freed():
    """The audio delivered before an error event is the provider's work:
    charged (the hold, as no usage came), never settled at 0 as an error
    before any output is (a review's finding)."""
    _price()
    reset()
    acct = new_account("gwttserr")
    mode(mode="error_event")
    body = {"model": "gpt-4o-mini-tts", "input": "three little words", "voice": "alloy", "stream_format": "sse"}
    r = speech(acct, body)
    eq(r.status, 200, "%r" % r.body[:200])
    types = [json.loads(e)["type"] for e in r.events()]
    eq(types, ["speech.audio.delta", "speech.audio.delta", "error"], "the audio, then the error, passed on")
    raw = len(json.dumps(body)) * 600000 + 18 * 20 * 12000000
    charged = api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["charged_micros"]
    eq(charged, -(-raw * MARGIN_BPS // 10 ** 10), "the audio delivered is charged: its hold, no usage came")
    verify()


def test_whisper_answering_a_token_usage_of_zeros_is_charged_its_bound():
    """A row priced by seconds takes a duration alone: a token usage of
    zeros is no length, and the call is charged the bound it held, never 0
    (a review's finding)."""
    _price()
    reset()
    acct = new_account("gwwzero")
    mode(mode="zero_usage")
    r = transcribe(acct, [("model", "whisper-1"), ("response_format", "json")])
    eq(r.status, 200, "%r" % r.body[:200])
    bound = charge(48000 * 100000)
    eq(held(r), bound, "held at the file's bound")
    eq(int(r.headers["creditd-charged-micros"]), bound, "charged the bound, not 0")
    eq(settled(acct, 1), "estimated", "said so")
    verify()


def test_gpt_4o_mini_tts_whole_is_charged_its_hold():
    _price()
    reset()
    acct = new_account("gwttsw")
    body = {"model": "gpt-4o-mini-tts", "input": "no usage here", "voice": "alloy", "response_format": "wav"}
    r = speech(acct, body)
    eq(r.status, 200, "%r" % r.body[:200])
    eq(r.headers["content-type"], "audio/wav", "the format asked")
    eq(last_reported(), None, "audio bytes state no usage")
    eq(int(r.headers["creditd-charged-micros"]), held(r), "charged what was held")
    eq(settled(acct, 1), "estimated", "said so")
    verify()


def test_moderations_are_forwarded_free():
    _price()
    reset()
    acct = new_account("gwmod")
    before = state(acct)
    r = moderation(acct, {"input": ["one", "two"]})
    eq(r.status, 200, "%r" % r.body[:200])
    eq(len(r.json["results"]), 2, "the provider's answer passed on")
    eq(r.json["model"], "omni-moderation-latest", "its default model")
    got = received()
    eq([g["path"] for g in got], ["/v1/moderations"], "forwarded")
    eq(got[0]["json"], {"input": ["one", "two"]}, "the body unchanged")
    eq(moderation(acct, {"input": "x", "model": "text-moderation-latest"}).status, 200, "a model named")
    check("creditd-hold-id" not in r.headers, "nothing held")
    eq(state(acct), before, "nothing charged")
    eq(reasons(acct), [], "no usage record: the provider bills none")
    reset()
    openai_error(moderation("no-such-" + uuid.uuid4().hex[:8], {"input": "x"}), 404, "not_found")
    eq(api("PATCH", "/v1/accounts/" + acct, {"status": "suspended"}).status, 200, "suspended")
    r = moderation(acct, {"input": "x"})
    check(r.status in (402, 403), "a suspended account's call refused: %d %r" % (r.status, r.body[:200]))
    eq(api("PATCH", "/v1/accounts/" + acct, {"status": "active"}).status, 200, "active again")
    openai_error(moderation(acct, {"input": "x", "extra": 1}), 400, "invalid_request", "extra")
    eq(forwarded(), [], "a refusal forwards nothing")
    verify()


def test_a_key_limited_to_some_models_moderates_with_those_alone():
    _price()
    reset()
    acct = new_account("gwmodk")
    k = api("POST", "/v1/accounts/%s/gateway_keys" % acct, {"name": "mod", "models": ["text-moderation-latest"]},
            auth="app").json["key"]
    openai_error(call("/openai/v1/moderations", {"input": "x"}, auth=k), 403, "model_not_allowed", "model")
    eq(forwarded(), [], "the default model is not the key's: nothing forwarded")
    eq(call("/openai/v1/moderations", {"input": "x", "model": "text-moderation-latest"}, auth=k).status, 200,
       "the key's model")


# ---- transcriptions: a multipart/form-data body ----

def form(fields, filename="speech.mp3", data=b"\xff\xf3" + b"\x00" * 47998):
    """A form as the SDKs write one: (body, Content-Type)."""
    b = "----creditd" + uuid.uuid4().hex
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, name, value)).encode()
    if filename is not None:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (b, filename)).encode() + data + b"\r\n"
    return out + ("--%s--\r\n" % b).encode(), "multipart/form-data; boundary=" + b


def transcribe(acct, fields, **kw):
    body, ctype = form(fields, **kw)
    return call("/openai/v1/audio/transcriptions", None, raw=body,
                headers={"Creditd-Account": acct, "Content-Type": ctype})


def test_whisper_is_held_at_its_file_s_lowest_bitrate_and_charged_the_seconds_it_reports():
    _price()
    reset()
    acct = new_account("gwwhisper")
    # 48,000 bytes of mp3 at 8 kbit/s, its lowest: at most 48 s, 48,000 ms
    # at 100,000 micros per 1,000 s: 4,800 micros before the margin.
    bound = charge(48000 * 100000)
    for n, fmt in enumerate(("verbose_json", "json", "text"), 1):
        r = transcribe(acct, [("model", "whisper-1"), ("response_format", fmt)])
        eq(r.status, 200, "%s: %r" % (fmt, r.body[:200]))
        eq(held(r), bound, "%s: held at the file's bound" % fmt)
        said = last_reported()
        got = received()[-1]
        eq(got["json"]["file"], {"filename": "speech.mp3", "bytes": 48000}, "the file forwarded whole")
        eq(got["json"]["response_format"], fmt, "the form unchanged")
        if fmt == "text":
            eq(said, None, "text states no duration")
            eq(r.body, b"w0 w1 w2 w3 w4\n", "the provider's text passed on")
            eq(int(r.headers["creditd-charged-micros"]), bound, "charged the bound held")
            eq(settled(acct, n), "estimated", "said so")
        else:
            eq(said["seconds"], 3, "48,000 bytes at 16 kB/s: 3 s billed")
            eq(int(r.headers["creditd-charged-micros"]), charge(said["seconds"] * 1000 * 100000),
               "%s: charged the seconds the answer reports" % fmt)
            eq(settled(acct, n), "provider_usage", "its usage read")
    verify()


def test_a_container_carrying_flac_is_held_at_flac_s_floor():
    """Ogg may carry FLAC, whose floor is far below Ogg's own codecs': the
    file held at FLAC's (140 bit/s), not Ogg's (a review's finding)."""
    _price()
    reset()
    acct = new_account("gwoggflac")
    data = b"OggS" + b"\x00" * 24 + b"\x7fFLAC" + b"\x00" * (48000 - 33)
    r = transcribe(acct, [("model", "whisper-1"), ("response_format", "json")], filename="speech.ogg", data=data)
    eq(r.status, 200, "%r" % r.body[:200])
    ms = -(-48000 * 8 * 1000 // 140)	# 48,000 bytes at 140 bit/s, in ms, rounded up
    eq(held(r), charge(ms * 100000), "held at FLAC's floor")
    verify()


def test_gpt_4o_transcribe_is_held_at_max_input_tokens_and_charged_its_usage():
    _price()
    reset()
    acct = new_account("gwtrans")
    r = transcribe(acct, [("model", "gpt-4o-transcribe"), ("prompt", "two words"), ("stream", "false"),
                          ("include[]", "logprobs"), ("timestamp_granularities[]", "segment"),
                          ("chunking_strategy[type]", "server_vad")], filename="a.wav")
    eq(r.status, 200, "%r" % r.body[:200])
    # 16,000 tokens of audio at 6 per million, 2,000 out at 10.
    eq(held(r), charge(16000 * 6000000 + 2000 * 10000000), "held: max_input_tokens of audio and its output cap")
    said = last_reported()
    eq((said["audio_input_tokens"], said["input_tokens"]), (30, 32), "30 audio tokens and the prompt's 2")
    eq(int(r.headers["creditd-charged-micros"]), expected(TRANSCRIBE, said), "audio at its price, the prompt at text's")
    eq(settled(acct, 1), "provider_usage", "its usage read")
    verify()


def test_transcription_refusals_forward_nothing():
    _price()
    reset()
    acct = new_account("gwtransref")
    before = state(acct)
    openai_error(transcribe(acct, [("model", "whisper-1")], filename="a.aiff"), 400, "invalid_request", "file")
    openai_error(transcribe(acct, [("model", "whisper-1")], filename="noextension"), 400, "invalid_request", "file")
    openai_error(transcribe(acct, [("model", "whisper-1")], filename=None), 400, "invalid_request", "file")
    # The name's format held to the file's first bytes: a FLAC file named
    # .mp3 would be held at MP3's floor, a fiftieth of its length.
    openai_error(transcribe(acct, [("model", "whisper-1")], data=b"fLaC" + b"\x00" * 47996), 400,
                 "invalid_request", "file")
    openai_error(transcribe(acct, [("model", "whisper-1")], data=b"\x00" * 48000), 400, "invalid_request", "file")
    openai_error(transcribe(acct, []), 400, "invalid_request", "model")
    openai_error(transcribe(acct, [("model", "gpt-4o-mini")]), 400, "invalid_request", "model")
    openai_error(transcribe(acct, [("model", "gpt-4o-mini-transcribe")]), 400, "invalid_request", "model")
    openai_error(transcribe(acct, [("model", "gpt-4o-transcribe"), ("stream", "true")]), 400, "invalid_request",
                 "stream")
    openai_error(transcribe(acct, [("model", "gpt-4o-transcribe"), ("stream", "1")]), 400, "invalid_request",
                 "stream")
    openai_error(transcribe(acct, [("model", "whisper-1"), ("diarize", "yes")]), 400, "invalid_request", "diarize")
    openai_error(transcribe(acct, [("model", "whisper-1"), ("model", "gpt-4o-transcribe")]), 400, "invalid_request")
    # A plain name after its bracketed form would hide the bracketed one
    # from the table while both are forwarded (a review's finding).
    openai_error(transcribe(acct, [("model", "whisper-1"), ("chunking_strategy[type]", "mystery"),
                                   ("chunking_strategy", "auto")]), 400, "invalid_request")
    body, ctype = form([("model", "whisper-1")])
    openai_error(call("/openai/v1/audio/transcriptions", None, raw=body.replace(b"\r\n", b"\n"),
                      headers={"Creditd-Account": acct, "Content-Type": ctype}), 400, "invalid_request")
    openai_error(call("/openai/v1/audio/transcriptions", None, raw=body,
                      headers={"Creditd-Account": acct, "Content-Type": "text/plain"}), 415, "unsupported_media_type")
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")
