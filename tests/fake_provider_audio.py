"""fake_provider_audio.py: OpenAI's audio and moderation routes for the
fake provider (fake_provider.py, tests/fake_provider.md), in the shapes
OpenAI's API reference gives (platform.openai.com/docs/api-reference/audio
and /moderations, as the openai npm SDK's types spell them:
resources/audio/speech.ts, transcriptions.ts, moderations.ts):

  POST /v1/audio/speech          audio bytes (Content-Type per
                                 response_format), or server-sent events
                                 speech.audio.delta / speech.audio.done with
                                 usage (stream_format "sse", not tts-1)
  POST /v1/audio/transcriptions  multipart/form-data; json, verbose_json
                                 (duration), text, srt, vtt
  POST /v1/moderations           one result an input

What it bills is recorded in /_requests' usage, beside the token figures:
"characters" (tts-1's), "seconds" (whisper-1's), or the tokens of the
token-priced models; None where the provider bills nothing (moderations) or
the answer states nothing (gpt-4o-mini-tts's audio bytes)."""
import base64
import email.parser
import email.policy
import json
import math

ROUTES = {"/v1/audio/speech": "speech", "/v1/audio/transcriptions": "transcriptions",
          "/v1/moderations": "moderations"}
SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                "wav": "audio/wav", "pcm": "audio/pcm"}
# The audio's bitrate the fake takes every file to have (its duration):
# 128 kbit/s, 16,000 bytes a second.
BYTES_PER_SECOND = 16000
CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
              "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
              "violence/graphic")


def _err(message, param):
    return 400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}


def _usage(**kw):
    u = {"input_tokens": 0, "cached_input_tokens": 0, "cache_write_input_tokens": 0, "cache_write_1h_tokens": 0,
         "output_tokens": 0, "audio_input_tokens": 0, "audio_output_tokens": 0, "web_searches": 0,
         "service_tier": None, "unknown_tokens": 0, "iterations": [], "characters": 0, "seconds": 0}
    u.update(kw)
    return u


def _words(s):
    return len(s.split()) if isinstance(s, str) else 0


def by_characters(model):
    """tts-1 and tts-1-hd bill the characters of input."""
    return model.startswith("tts-1")


def by_seconds(model):
    """whisper-1 bills the seconds of audio."""
    return model.startswith("whisper")


# ---- speech ----

def parse_speech(raw):
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None, _err("We could not parse the JSON body of your request.", None)
    if not isinstance(body, dict):
        return None, _err("The body must be a JSON object.", None)
    if not isinstance(body.get("model"), str):
        return body, _err("Missing required parameter: 'model'.", "model")
    if not isinstance(body.get("input"), str):
        return body, _err("Missing required parameter: 'input'.", "input")
    if len(body["input"]) > 4096:
        return body, _err("Input is longer than 4096 characters.", "input")
    if not isinstance(body.get("voice"), (str, dict)):
        return body, _err("Missing required parameter: 'voice'.", "voice")
    if body.get("stream_format") == "sse" and by_characters(body["model"]):
        return body, _err("stream_format 'sse' is not supported for %s." % body["model"], "stream_format")
    return body, None


def speech_plan(body, mode):
    chars = len(body["input"])
    out = mode["audio_output_tokens"] or 3 * chars + 5
    return {"chars": chars, "input": _words(body["input"]) + _words(body.get("instructions")), "output": out}


def speech_reported(body, p, mode):
    if mode["mode"] in ("error", "silent"):
        return None
    if by_characters(body["model"]):
        return _usage(characters=p["chars"])
    if body.get("stream_format") != "sse" or mode["mode"] in ("cut", "no_usage"):
        return None  # audio bytes state no usage
    return _usage(input_tokens=p["input"], output_tokens=p["output"], audio_output_tokens=p["output"])


def speech_audio(body, p):
    """The audio bytes: an MP3 frame header's first bytes, then filler."""
    n = 100 * max(p["chars"], 1)
    return (b"\xff\xf3" + b"\x55" * n)[:n], SPEECH_TYPES.get(body.get("response_format") or "mp3", "audio/mpeg")


def speech_events(body, p):
    b64 = base64.b64encode(b"\x00\x01" * 50 * max(p["chars"], 1)).decode()
    half = len(b64) // 2
    usage = {"input_tokens": p["input"], "output_tokens": p["output"], "total_tokens": p["input"] + p["output"]}
    return ["data: %s\n\n" % json.dumps({"type": "speech.audio.delta", "audio": b64[:half]}),
            "data: %s\n\n" % json.dumps({"type": "speech.audio.delta", "audio": b64[half:]}),
            "data: %s\n\n" % json.dumps({"type": "speech.audio.done", "usage": usage})]


# ---- transcriptions ----

def parse_form(headers, raw):
    """The multipart/form-data body's fields: {name: str or (filename, bytes)}."""
    ctype = headers.get("Content-Type") or ""
    if not ctype.startswith("multipart/form-data"):
        return None, _err("Expected multipart/form-data.", None)
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
    form = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        fname = part.get_filename()
        form[name] = (fname, data) if fname is not None else data.decode("utf-8", "replace")
    if not isinstance(form.get("file"), tuple):
        return form, _err("Missing required parameter: 'file'.", "file")
    if not isinstance(form.get("model"), str):
        return form, _err("Missing required parameter: 'model'.", "model")
    return form, None


def transcription_plan(form, mode):
    seconds = round(len(form["file"][1]) / BYTES_PER_SECOND, 2)
    words = mode["output_tokens"] if mode["output_tokens"] != 16 else 5
    audio = mode["audio_input_tokens"] or math.ceil(seconds * 10)
    return {"duration": seconds, "billed_seconds": math.ceil(seconds), "audio": audio,
            "text": _words(form.get("prompt")), "words": words}


def transcription_reported(form, p, mode):
    fmt = form.get("response_format") or "json"
    if mode["mode"] in ("error", "silent"):
        return None
    if mode["mode"] == "zero_usage":
        return None	# its answer states no length (below): a bill the provider sends apart
    if by_seconds(form["model"]):
        return _usage(seconds=p["billed_seconds"]) if fmt in ("json", "verbose_json") else None
    if fmt not in ("json", "verbose_json"):
        return None
    return _usage(input_tokens=p["audio"] + p["text"], audio_input_tokens=p["audio"], output_tokens=p["words"])


def transcription_answer(form, p):
    """(body bytes, content type) in response_format's shape."""
    text = " ".join("w%d" % i for i in range(p["words"]))
    fmt = form.get("response_format") or "json"
    if by_seconds(form["model"]):
        usage = {"type": "duration", "seconds": p["billed_seconds"]}
    else:
        usage = {"type": "tokens", "input_tokens": p["audio"] + p["text"],
                 "input_token_details": {"audio_tokens": p["audio"], "text_tokens": p["text"]},
                 "output_tokens": p["words"], "total_tokens": p["audio"] + p["text"] + p["words"]}
    if fmt == "json":
        return json.dumps({"text": text, "usage": usage}).encode(), "application/json"
    if fmt == "verbose_json":
        return json.dumps({"task": "transcribe", "language": "english", "duration": p["duration"], "text": text,
                           "segments": [], "usage": usage}).encode(), "application/json"
    if fmt in ("srt", "vtt"):
        head = "WEBVTT\n\n" if fmt == "vtt" else "1\n"
        return ("%s00:00:00.000 --> 00:00:%02d.000\n%s\n" % (head, int(p["duration"]) % 60, text)).encode(), \
            "text/plain; charset=utf-8"
    return (text + "\n").encode(), "text/plain; charset=utf-8"


# ---- moderations ----

def parse_moderation(raw):
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None, _err("We could not parse the JSON body of your request.", None)
    if not isinstance(body, dict) or "input" not in body:
        return body, _err("Missing required parameter: 'input'.", "input")
    if "model" in body and not isinstance(body["model"], str):
        return body, _err("Invalid type for 'model': expected a string.", "model")
    return body, None


def moderation_answer(body):
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    result = {"flagged": False, "categories": {c: False for c in CATEGORIES},
              "category_scores": {c: 0.0001 for c in CATEGORIES},
              "category_applied_input_types": {c: ["text"] for c in CATEGORIES}}
    return {"id": "modr-fake", "model": body.get("model") or "omni-moderation-latest",
            "results": [result for _ in inputs]}


# ---- the handler's part (fake_provider.py's Handler calls it) ----

def handle(h, route, body, auth_error, take_mode):
    """Answers one request of route through h (fake_provider.Handler)."""
    if auth_error is not None:
        h.record(body, None, auth_error[0])
        return h.send_json(*auth_error)
    if route == "transcriptions":
        parsed, err = parse_form(h.headers, body)
    elif route == "speech":
        parsed, err = parse_speech(body)
    else:
        parsed, err = parse_moderation(body)
    if err is not None:
        h.record(body, parsed if route != "transcriptions" else None, err[0])
        return h.send_json(*err)
    mode = take_mode()
    recorded = {k: (v if isinstance(v, str) else {"filename": v[0], "bytes": len(v[1])})
                for k, v in parsed.items()} if route == "transcriptions" else parsed
    if route == "speech":
        p = speech_plan(parsed, mode)
        h.record(body, recorded, 200, note=mode["mode"], usage=speech_reported(parsed, p, mode))
    elif route == "transcriptions":
        p = transcription_plan(parsed, mode)
        h.record(b"", recorded, 200, note=mode["mode"], usage=transcription_reported(parsed, p, mode))
    else:
        p = None
        h.record(body, recorded, 200, note=mode["mode"], usage=None)
    if mode["mode"] == "error":
        status = mode["status"]
        return h.send_json(status, {"error": {"message": "fake provider: status %d" % status,
                                              "type": "server_error", "param": None, "code": None}})
    extra = {"x-request-id": "req_fake_audio", "x-ratelimit-remaining-requests": "9999"}
    if route == "moderations":
        return h.send_json(200, moderation_answer(parsed), extra)
    if route == "speech" and parsed.get("stream_format") == "sse":
        h.start_stream(extra)
        for i, ev in enumerate(speech_events(parsed, p)):
            if mode["mode"] == "cut" and i >= 1:
                return h.cut()
            if mode["mode"] in ("no_usage", "error_event") and "speech.audio.done" in ev:
                if mode["mode"] == "error_event":	# the audio sent, then an error event
                    h.chunk("data: %s\n\n" % json.dumps({"type": "error", "error": {
                        "message": "fake provider: an error mid-stream", "type": "server_error"}}))
                break
            h.chunk(ev)
        return h.end_stream()
    data, ctype = speech_audio(parsed, p) if route == "speech" else transcription_answer(parsed, p)
    if route == "transcriptions" and mode["mode"] == "zero_usage":	# a token usage of zeros, no duration
        data = json.dumps({"text": "w0", "usage": {"type": "tokens", "input_tokens": 0, "output_tokens": 0,
                                                   "total_tokens": 0}}).encode()
    h.send_response(200)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(data)))
    for k, v in extra.items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)
