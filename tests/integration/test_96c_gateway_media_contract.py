"""test_96c_gateway_media_contract.py: more of the gateway's media
contract checked from outside, as test_96 does (docs/gateway.md,
"Request bodies", "Images", "Audio and speech", "Refusals, in the
provider's shape"):
- a body too large for a gateway route is refused in that route's
  provider's shape (OpenAI's under /openai/, Anthropic's under
  /anthropic/) whoever refuses it: nginx's shipped snippets, Apache's,
  creditd itself;
- a media call that lacks a member the reference requires, or gives one
  outside its type, enum or range, is refused 400 in OpenAI's shape
  naming the member, before anything is held, forwarded or recorded;
- a form sent without its boundary is told so (400), not 415."""
import http.client
import json
import socket
import urllib.parse

import stack
import test_91_gateway_images as images
import test_92_gateway_audio as audio
from lib import ENV, check, eq, new_account, verify
from test_61_bodies import _fcgi_read, _pair, _record, _status
from test_80_gateway import call, forwarded, reset, state
from test_96_gateway_contract import holds_of, openai_shape, usage_report

MIB = 1024 * 1024


def _declared(base, path, size, ctype):
    """POSTs to base+path a Content-Length of size, and sends none of the
    body: a limit checked on the declared length answers at once. Returns
    (status, content type, body)."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    c.putrequest("POST", u.path.rstrip("/") + path)
    c.putheader("Content-Type", ctype)
    c.putheader("Content-Length", str(size))
    c.putheader("Connection", "close")
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("content-type") or "", body


def _too_large_shape(kind, status, ctype, body, what):
    """A 413 in kind's shape (docs/gateway.md, "Refusals, in the
    provider's shape")."""
    eq(status, 413, "%s: 413: %r" % (what, body[:200]))
    check(ctype.startswith("application/json"), "%s: JSON, not %r: %r" % (what, ctype, body[:200]))
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    check(isinstance(doc, dict), "%s: a JSON object: %r" % (what, body[:200]))
    if kind == "anthropic":
        eq(doc.get("type"), "error", "%s: Anthropic's shape: %r" % (what, doc))
        eq(doc["error"]["type"], "request_too_large", "%s: Anthropic's type for a 413: %r" % (what, doc))
    else:
        check("type" not in doc and isinstance(doc.get("error"), dict), "%s: OpenAI's shape: %r" % (what, doc))
        eq(sorted(doc["error"]), ["code", "message", "param", "type"], "%s: OpenAI's error members" % what)
        eq(doc["error"]["code"], "payload_too_large", "%s: the code" % what)
    check(doc["error"]["message"], "%s: a message" % what)


TOO_LARGE = [
    ("openai", "/openai/v1/images/generations", 9 * MIB, "application/json"),
    ("openai", "/openai/v1/chat/completions", 9 * MIB, "application/json"),
    ("anthropic", "/anthropic/v1/messages", 9 * MIB, "application/json"),
    ("anthropic", "/anthropic/v1/messages/batches", 26 * MIB, "application/json"),
    ("openai", "/openai/v1/audio/transcriptions", 26 * MIB, "multipart/form-data; boundary=x"),
    ("openai", "/openai/v1/images/edits", 26 * MIB, "multipart/form-data; boundary=x"),
    ("openai", "/openai/v1/files", 200000001, "multipart/form-data; boundary=x"),
]


def test_a_body_too_large_is_refused_in_the_provider_s_shape_through_nginx_and_by_creditd():
    """nginx's shipped snippets (creditd-gateway.conf's error_page 413),
    then creditd's own 413 straight on its socket, as a web server that
    lets the body through gets it."""
    for kind, path, size, ctype in TOO_LARGE:
        status, got_type, body = _declared(ENV["CREDITD_URL"], path, size, ctype)
        _too_large_shape(kind, status, got_type, body, "nginx, %d bytes to %s" % (size, path))
    for kind, path, size, _ in TOO_LARGE:
        status, ctype, body = _fcgi(path, size)
        _too_large_shape(kind, status, ctype, body, "creditd, %d bytes to %s" % (size, path))


def test_a_body_too_large_is_refused_in_the_provider_s_shape_through_apache():
    for kind, path, size, ctype in TOO_LARGE:
        status, got_type, body = _declared(ENV["CREDITD_APACHE_URL"], path, size, ctype)
        _too_large_shape(kind, status, got_type, body, "Apache, %d bytes to %s" % (size, path))


def _fcgi(uri, content_length):
    """creditd's own answer, straight on its socket, to a POST declaring
    content_length bytes and sending a few."""
    pairs = [("REQUEST_METHOD", "POST"), ("REQUEST_URI", uri), ("DOCUMENT_URI", uri), ("QUERY_STRING", ""),
             ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", str(content_length)),
             ("SERVER_PROTOCOL", "HTTP/1.1"), ("GATEWAY_INTERFACE", "CGI/1.1")]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.path("creditd.sock"))
    s.sendall(_record(1, b"\x00\x01\x00\x00\x00\x00\x00\x00") + _record(4, b"".join(_pair(k, v) for k, v in pairs))
              + _record(4, b"") + _record(5, b"a" * 1000) + _record(5, b""))
    out, ended = _fcgi_read(s, 10)
    s.close()
    check(ended, "an answer: %r" % out[:300])
    head, _, body = out.partition(b"\r\n\r\n")
    ctype = [x.split(b":", 1)[1].strip().decode() for x in head.split(b"\r\n") if x.lower().startswith(b"content-type:")]
    return _status(out), ctype[0] if ctype else "", body




# ---- required members, enums and ranges ----

def _price():
    images._price()
    audio._price()


def _transcribe(acct, fields, filename="a.mp3"):
    b = "----ct96caudio"
    out = b"".join(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (b, n, v)).encode()
                   for n, v in fields)
    out += ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: audio/mpeg\r\n\r\n'
            % (b, filename)).encode() + b"\xff\xf3" + b"\x07" * 15998 + b"\r\n" + ("--%s--\r\n" % b).encode()
    return call("/openai/v1/audio/transcriptions", None, raw=out, headers={
        "Creditd-Account": acct, "Content-Type": "multipart/form-data; boundary=" + b})


def _untouched(acct, before, what):
    eq([x["path"] for x in forwarded()], [], "%s: nothing forwarded" % what)
    eq(state(acct), before, "%s: nothing held or charged" % what)
    eq(holds_of(acct), [], "%s: no hold in flight" % what)
    eq(usage_report(acct)["requests"], 0, "%s: no usage record" % what)


def _refused(r, param, what):
    """Refused by creditd itself: 400 in OpenAI's shape naming param, no
    hold made and nothing forwarded (a provider's own 400 passed on has
    the same shape: the hold header and the provider's log tell them
    apart)."""
    e = openai_shape(r, 400, param, what)
    eq(e["type"], "invalid_request_error", "%s: OpenAI's type for a 400" % what)
    check("creditd-hold-id" not in r.headers, "%s: no hold made: %r" % (what, r.headers))
    eq([x["path"] for x in forwarded()], [], "%s: nothing forwarded" % what)


def test_a_media_call_without_a_member_the_reference_requires_is_refused_before_the_hold():
    """images/generations' prompt; images/edits' image and prompt;
    audio/speech's voice: missing, of the wrong type or empty. Before,
    each was held, forwarded, answered the provider's 400 and recorded
    at 0 (provider_error)."""
    _price()
    reset()
    acct = new_account("ct96creq")
    before = state(acct)
    gen, sp = "/openai/v1/images/generations", "/openai/v1/audio/speech"
    for path, body, param in [
            (gen, {"model": "dall-e-2", "size": "256x256"}, "prompt"),
            (gen, {"model": "dall-e-2", "prompt": 5}, "prompt"),
            (gen, {"model": "dall-e-2", "prompt": ""}, "prompt"),
            (gen, {"model": "dall-e-3", "quality": "hd"}, "prompt"),
            (sp, {"model": "tts-1", "input": "hi"}, "voice"),
            (sp, {"model": "tts-1", "input": "hi", "voice": 5}, "voice"),
            (sp, {"model": "tts-1", "input": "hi", "voice": ""}, "voice"),
            (sp, {"model": "tts-1", "input": "hi", "voice": {"name": "x"}}, "voice")]:
        _refused(call(path, body, headers={"Creditd-Account": acct}), param, "%s %r" % (path, body))
    img = [("image", "a.png")]
    for body, param in [
            (images.form([("model", "dall-e-2"), ("prompt", "x")]), "image"),
            (images.form([("model", "dall-e-2")], img), "prompt"),
            (images.form([("model", "dall-e-2"), ("prompt", "")], img), "prompt"),
            (images.form([("model", "dall-e-2"), ("prompt", "x"), ("image", "not a file")]), "image")]:
        _refused(images._edit(acct, body), param, "edit %r" % body[:160])
    _untouched(acct, before, "required members")
    # The same calls with the member given are held and forwarded.
    r = call(sp, {"model": "tts-1", "input": "hi", "voice": {"id": "voice_1234"}}, headers={"Creditd-Account": acct})
    eq(r.status, 200, "a custom voice by its id is taken: %r" % r.body[:200])
    r = images._edit(acct, images.form([("model", "dall-e-2"), ("prompt", "x")], [("image[]", "a.png")]))
    eq(r.status, 200, "an edit with image[] is taken: %r" % r.body[:200])
    verify()


def test_enums_and_ranges_of_the_audio_routes_are_refused_before_the_hold():
    """A transcription's response_format outside the SDK's
    AudioResponseFormat (json, text, srt, verbose_json, vtt,
    diarized_json), its temperature not a number from 0 to 1, speech's
    speed outside 0.25-4.0 or not a number. Before, each was forwarded
    (a gif transcription charged the bound held)."""
    _price()
    reset()
    acct = new_account("ct96cenum")
    before = state(acct)
    for fields, param in [([("model", "whisper-1"), ("response_format", "gif")], "response_format"),
                          ([("model", "whisper-1"), ("response_format", "")], "response_format"),
                          ([("model", "whisper-1"), ("temperature", "hot")], "temperature"),
                          ([("model", "whisper-1"), ("temperature", "")], "temperature"),
                          ([("model", "whisper-1"), ("temperature", "1.5")], "temperature"),
                          ([("model", "whisper-1"), ("temperature", "-0.1")], "temperature")]:
        _refused(_transcribe(acct, fields), param, "transcription %r" % fields)
    sp = "/openai/v1/audio/speech"
    for speed in (0.2, 4.5, "fast", "1.0", True, [1]):
        body = {"model": "tts-1", "voice": "alloy", "input": "hi", "speed": speed}
        _refused(call(sp, body, headers={"Creditd-Account": acct}), "speed", "speech %r" % body)
    _untouched(acct, before, "enums and ranges")
    # Their edges are taken.
    for fields in ([("model", "whisper-1"), ("response_format", "verbose_json"), ("temperature", "0")],
                   [("model", "whisper-1"), ("response_format", "srt"), ("temperature", "1")],
                   [("model", "whisper-1"), ("temperature", "0.2")]):
        r = _transcribe(acct, fields)
        eq(r.status, 200, "transcription %r is taken: %r" % (fields, r.body[:200]))
    for speed in (0.25, 4, 1.5):
        r = call(sp, {"model": "tts-1", "voice": "alloy", "input": "hi", "speed": speed},
                 headers={"Creditd-Account": acct})
        eq(r.status, 200, "speed %r is taken: %r" % (speed, r.body[:200]))
    verify()


def test_a_form_without_its_boundary_is_told_so():
    """multipart/form-data with no boundary on the form routes: 400 in
    OpenAI's shape saying the boundary is missing (before: 415, "send the
    body as Content-Type: application/json")."""
    _price()
    reset()
    acct = new_account("ct96cbnd")
    before = state(acct)
    body = images.form([("model", "dall-e-2"), ("prompt", "x")], [("image", "a.png")])
    for path in ("/openai/v1/images/edits", "/openai/v1/audio/transcriptions"):
        for ctype in ("multipart/form-data", "multipart/form-data;", "Multipart/Form-Data "):
            r = call(path, None, raw=body, headers={"Creditd-Account": acct, "Content-Type": ctype})
            e = openai_shape(r, 400, None, "%s %r" % (path, ctype))
            check("boundary" in e["message"], "%s %r: says the boundary is missing: %r" % (path, ctype, e["message"]))
    r = call("/openai/v1/chat/completions", None, raw=body,
             headers={"Creditd-Account": acct, "Content-Type": "multipart/form-data"})
    openai_shape(r, 415, None, "a form on a JSON route is still 415")
    _untouched(acct, before, "no boundary")
