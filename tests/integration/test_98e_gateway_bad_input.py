"""test_98e_gateway_bad_input.py: bad input on every gateway route, checked
from outside as a client app's developer meets it (plain HTTP through
nginx, and the official SDKs): wrong JSON types at the depths the
providers' types have, values out of range, required members missing,
unknown models, bodies that are not a JSON object, the wrong
Content-Type, a body over its route's limit, malformed forms, and batch
input files with a bad line. Each is answered by creditd itself in the
route's provider's shape (docs/gateway.md "Refusals, in the provider's
shape"; "What the gateway forwards": 400, `param` naming the path;
"The hold and the charge": an unpriced model 400 `param: model`, an
output cap out of range 400 naming the field; "Request bodies": 413;
"Multipart bodies"; "Batches"; docs/api.md's 415; "What is checked
before anything is forwarded": a top-level member of a JSON kind its
type does not allow, a required member missing), and nothing is
forwarded to the provider, held or charged; the SDKs raise their own
error classes with the status and the param, and do not send again.
What the docs leave to the provider (below the top level, a value of a
kind its reference does not take, an array's element of the wrong kind;
a value of the right kind out of its range) is forwarded once, the
provider's 400 passed on and the hold released, nothing charged."""
import json
import os
import re
import subprocess
import uuid

import stack
import test_88b_gateway_batches as batches
import test_91_gateway_images as images
import test_92_gateway_audio as audio
from lib import ENV, Fail, check, eq, key, new_account, verify
from test_80_gateway import call, forwarded, import_prices, mode, reset, state
from test_81_gateway_sdks import sdk_dir
from test_96_gateway_contract import holds_of, openai_shape, usage_report

MIB = 1024 * 1024
USER = [{"role": "user", "content": "hello there"}]
AHEAD = {"anthropic-version": "2023-06-01"}
# docs/gateway.md "Refusals, in the provider's shape": Anthropic's type by status.
ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                   403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                   415: "invalid_request_error", 429: "rate_limit_error"}
OPENAI_TYPES = {400: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error"}

fresh = {}


class Cases:
    """Runs every case of a table and fails once, listing each case that
    failed (a defect seldom comes alone)."""
    def __init__(self):
        self.failed = []

    def run(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except Fail as e:
            self.failed.append(str(e)[:400])
            reset()     # a case that was forwarded must not fail the next one's check

    def done(self, what):
        check(not self.failed, "%s: %d cases failed:\n  %s" % (what, len(self.failed), "\n  ".join(self.failed)))


def account(prefix):
    reset()
    a = new_account(prefix)
    fresh[a] = state(a)
    return a


def post(acct, path, body=None, raw=None, ctype=None, headers=None):
    h = dict({"Creditd-Account": acct}, **(AHEAD if path.startswith("/anthropic/") else {}))
    if ctype is not None:
        h["Content-Type"] = ctype
    h.update(headers or {})
    if raw is None and body is None:
        raw = b""
    return call(path, body, raw=raw, headers=h)


def anthropic_shape(r, status, what):
    """{"type": "error", "error": {"type", "message", "code"}}: its type by
    status, creditd's code kept (docs/gateway.md)."""
    eq(r.status, status, "%s: status: %r" % (what, r.body[:300]))
    check(r.headers.get("content-type", "").startswith("application/json"), "%s: JSON: %r" % (what, r.headers))
    check(isinstance(r.json, dict), "%s: a JSON object: %r" % (what, r.body[:300]))
    eq(r.json.get("type"), "error", "%s: Anthropic's shape: %r" % (what, r.json))
    e = r.json["error"]
    eq(e.get("type"), ANTHROPIC_TYPES[status], "%s: Anthropic's type for %d: %r" % (what, status, e))
    check(isinstance(e.get("message"), str) and e["message"], "%s: a message" % what)
    check(isinstance(e.get("code"), str) and e["code"], "%s: creditd's code: %r" % (what, e))
    return e


def refused(acct, r, status, param, what, kind="openai"):
    """Refused in kind's shape (param "-": not looked at; an Anthropic
    error names it in its message), nothing forwarded, no hold made."""
    under = isinstance(param, str) and param.endswith("*")
    if kind == "openai":
        e = openai_shape(r, status, "-" if under else param, what)
        if under:
            check(re.match(re.escape(param[:-1]) + r"($|[.\[])", e["param"] or ""), "%s: a path under %s: %r"
                  % (what, param[:-1], e["param"]))
        eq(e["type"], OPENAI_TYPES.get(status, e["type"]), "%s: OpenAI's type" % what)
    else:
        e = anthropic_shape(r, status, what)
        if param not in ("-", None):
            named = e.get("param") or e["message"]
            check(param.rstrip("*") in named, "%s: names %s: %r" % (what, param, e))
    check("creditd-hold-id" not in r.headers, "%s: no hold made: %r" % (what, r.headers))
    eq([x["path"] for x in forwarded()], [], "%s: nothing forwarded" % what)
    return e


def untouched(acct, what):
    eq(state(acct), fresh[acct], "%s: balance and reserve unchanged" % what)
    eq(holds_of(acct), [], "%s: no hold in flight" % what)
    eq(usage_report(acct)["requests"], 0, "%s: no usage record" % what)


def table(c, acct, path, base, cases, kind="openai"):
    """Each (change, param): base with change applied (a dict merged, or
    a function of a copy), refused 400 naming param."""
    for change, param in cases:
        body = json.loads(json.dumps(base))
        if callable(change):
            change(body)
        else:
            body.update(change)
        c.run(lambda: refused(acct, post(acct, path, body), 400, param,
                              "%s %s" % (path, (change.desc if callable(change) else json.dumps(change))[:120]), kind))


def drop(name):
    def f(body):
        body.pop(name, None)
    f.desc = "without " + name
    return f


def at(path, value):
    """Set body[path...] = value, path a tuple of keys and indexes."""
    def f(body):
        o = body
        for k in path[:-1]:
            o = o[k]
        o[path[-1]] = value
    f.desc = "%s = %s" % (".".join(map(str, path)), json.dumps(value))
    return f


# ---- JSON bodies: types, ranges, required members, models ----
# What creditd itself refuses (docs/gateway.md): a member, variant or enum
# value no row of the route's table names ("What the gateway forwards":
# param its path; a union's element without its discriminator is named
# by a path under it, "x*"); a top-level member of a JSON kind its type
# does not allow, or a required member missing ("What is checked before
# anything is forwarded"); the model, missing or unpriced ("The hold and
# the charge"); the output caps and Chat's n, which the hold is made of;
# the media routes' required members and ranges ("Images", "Audio and
# speech").

CHAT = {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 10}
OUTPUT_CAPS = [-1, 0, 2 ** 63, -2 ** 63 - 1, 1e30, "10", 10.5, True]


def test_chat_completions_bad_members_are_refused_naming_their_path():
    acct = account("e98chat")
    c = Cases()
    cases = [({"messages": {"role": "user"}}, "messages*"),
             (at(("messages", 0, "content"), [{"text": "x"}]), "messages[0].content[0]*"),
             (at(("messages", 0, "role"), "wizard"), "messages[0].role"),
             (at(("messages", 0, "role"), 7), "messages[0].role"),
             ({"n": 1.5}, "n"), ({"n": 0}, "n"), ({"n": 1000}, "n"), ({"n": "2"}, "n"), ({"stream": "yes"}, "stream"),
             ({"tools": {"type": "function"}}, "tools*"), ({"tools": [{"function": {"name": "f"}}]}, "tools[0]*"),
             ({"tools": [{"type": "shell"}]}, "tools[0].type"),
             ({"response_format": {"type": "xml"}}, "response_format.type"),
             ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
             ({"messages": "hi"}, "messages"), (drop("messages"), "messages"), ({"messages": None}, "messages"),
             ({"temperature": "hot"}, "temperature"), ({"top_p": "x"}, "top_p"), ({"tools": "f"}, "tools"),
             ({"response_format": "json"}, "response_format"),
             (drop("model"), "model"), ({"model": "no-such-model-98e"}, "model"), ({"model": 5}, "model"),
             ({"model": ""}, "model")]
    cases += [({"max_tokens": v}, "max_tokens") for v in OUTPUT_CAPS]
    cases += [({"max_completion_tokens": v}, "max_completion_tokens") for v in (-1, 0, 2 ** 63, "10")]
    cases.append(({"logit_bias": {"50256": 2 ** 64}}, "logit_bias.50256"))	# a number past 64 bits anywhere
    table(c, acct, "/openai/v1/chat/completions", CHAT, cases)
    c.run(untouched, acct, "chat")
    c.done("chat")


RESP = {"model": "gpt-4o-mini", "input": "say words", "max_output_tokens": 20}


def test_responses_bad_members_are_refused_naming_their_path():
    acct = account("e98resp")
    c = Cases()
    cases = [({"tools": [{"name": "f"}]}, "tools[0]*"), ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
             (drop("model"), "model"), ({"model": "no-such-model-98e"}, "model"),
             ({"input": 5}, "input"), ({"instructions": 5}, "instructions"), ({"temperature": "hot"}, "temperature"),
             ({"tools": "f"}, "tools"), ({"background": "yes"}, "background")]
    cases += [({"max_output_tokens": v}, "max_output_tokens") for v in (-1, 0, 2 ** 63, 1e30, "10")]
    table(c, acct, "/openai/v1/responses", RESP, cases)
    # A response nobody made through creditd: OpenAI's 404 (docs/gateway.md "Provider objects").
    for method_path in ("/openai/v1/responses/resp_nope98e", "/openai/v1/responses/resp_nope98e/input_items"):
        e = c.run(refused, acct, call(method_path, None, headers={"Creditd-Account": acct}), 404, None, method_path)
        c.run(eq, e and (e["type"], e["code"], e["message"]),
              ("invalid_request_error", None, "No response found with id 'resp_nope98e'."), "OpenAI's own 404: %r" % e)
    c.run(refused, acct, post(acct, "/openai/v1/responses/resp_nope98e/cancel", {}), 404, None, "cancel of nothing")
    c.run(untouched, acct, "responses")
    c.done("responses")


def test_embeddings_moderations_and_speech_bad_members():
    audio._price()
    acct = account("e98emb")
    c = Cases()
    emb = {"model": "text-embedding-3-small", "input": "one two"}
    table(c, acct, "/openai/v1/embeddings", emb, [
        ({"input": {"text": "x"}}, "input*"), ({"encoding_format": "hex"}, "encoding_format"),
        (drop("model"), "model"), ({"model": "no-such-model-98e"}, "model"),
        (drop("input"), "input"), ({"input": 5}, "input"), ({"dimensions": "8"}, "dimensions")])
    mod = {"model": "omni-moderation-latest", "input": "x"}
    table(c, acct, "/openai/v1/moderations", mod, [
        ({"input": [{"type": "video", "video": "x"}]}, "input[0].type"), ({"model": 5}, "model"),
        (drop("input"), "input"), ({"input": 5}, "input")])
    sp = {"model": "tts-1", "voice": "alloy", "input": "hi"}
    table(c, acct, "/openai/v1/audio/speech", sp, [
        (drop("input"), "input"), ({"input": 5}, "input"), ({"input": "x" * 4097}, "input"),
        ({"response_format": "gif"}, "response_format"), (drop("model"), "model"),
        ({"model": "no-such-model-98e"}, "model"), ({"stream_format": "ogg"}, "stream_format")])
    c.run(untouched, acct, "embeddings, moderations, speech")
    c.done("embeddings, moderations, speech")


def test_image_generations_bad_members():
    """A model with no price row at all is refused naming model; one
    priced at some sizes, asked another, naming the size (docs/gateway.md
    "Images": a size without a row, the size the call named)."""
    images._price()
    import_prices([images._row("512-x-512/img-px-98e", input_pixel_micros_per_gpx=68660000)], "--force")
    acct = account("e98img")
    c = Cases()
    gen = {"model": "dall-e-2", "prompt": "a red fox", "size": "256x256"}
    table(c, acct, "/openai/v1/images/generations", gen, [
        ({"n": 0}, "n"), ({"n": 1000}, "n"), ({"n": 1.5}, "n"), ({"n": "2"}, "n"),
        ({"size": "99x99"}, "size"), ({"size": 256}, "size"),
        ({"response_format": "gif"}, "response_format"), ({"quality": "ultra"}, "quality"),
        (drop("prompt"), "prompt"), ({"model": "no-such-model-98e"}, "model"),
        ({"model": "no-such-model-98e", "size": "1024x1024"}, "model"), ({"model": 5}, "model"),
        ({"model": "img-px-98e", "size": "256x256"}, "size")])
    c.run(untouched, acct, "images/generations")
    c.done("images/generations")


MSG = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER}


def test_anthropic_messages_and_count_tokens_bad_members():
    acct = account("e98msg")
    c = Cases()
    cases = [(at(("messages", 0, "content"), [{"text": "x"}]), "messages[0].content[0]*"),
             ({"stream": "yes"}, "stream"), ({"temperature": "hot"}, "temperature"), ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
             (drop("model"), "model"), (drop("max_tokens"), "max_tokens"),
             ({"model": "no-such-model-98e"}, "model"), ({"model": 5}, "model"),
             ({"messages": "hi"}, "messages"), (drop("messages"), "messages"), ({"system": 5}, "system"),
             ({"tools": "f"}, "tools"), ({"stop_sequences": "END"}, "stop_sequences")]
    cases += [({"max_tokens": v}, "max_tokens") for v in OUTPUT_CAPS]
    table(c, acct, "/anthropic/v1/messages", MSG, cases, kind="anthropic")
    count = {"model": "claude-haiku-4-5", "messages": USER}
    table(c, acct, "/anthropic/v1/messages/count_tokens", count, [
        (drop("model"), "model"), ({"model": 5}, "model"), ({"no_such_member": 1}, "no_such_member"),
        (drop("messages"), "messages"), ({"messages": "hi"}, "messages")], kind="anthropic")
    c.run(untouched, acct, "messages")
    c.done("messages")


# What the docs leave to the provider: below the top level, a member the
# table names (free) of a kind the provider's reference does not take, or
# an array's element of the wrong kind; a value of the right kind out of
# its range. creditd forwards the body as received ("What is forwarded");
# the provider's 400 is passed on and the hold released, nothing charged
# (DESIGN's provider_error, docs/gateway.md "Streams, and every way one
# ends"). A top-level member of the wrong kind, or a required one missing,
# is creditd's own refusal now (the tables above).
LEFT = [
    ("/openai/v1/chat/completions", CHAT, [{"messages": [5]}, at(("messages", 0, "content"), 5),
                                          at(("messages", 0, "content"), [{"type": "text", "text": 5}]),
                                          {"temperature": 7}, {"tools": [5]}]),
    ("/openai/v1/responses", RESP, [{"input": [5]}, {"input": [{"role": "user", "content": 5}]}]),
    ("/openai/v1/embeddings", {"model": "text-embedding-3-small", "input": "one two"},
     [{"input": [5.5]}, {"input": [[1, "x"]]}, {"dimensions": -1}]),
    ("/anthropic/v1/messages", MSG, [{"messages": [5]}, at(("messages", 0, "content"), 5),
                                     at(("messages", 0, "role"), "system"),
                                     {"tools": [{"description": "no name"}]}]),
]


def test_what_the_docs_leave_to_the_provider_is_its_400_and_charged_nothing():
    acct = account("e98left")
    c = Cases()
    for path, base, changes in LEFT:
        for change in changes:
            body = json.loads(json.dumps(base))
            change(body) if callable(change) else body.update(change)
            what = "%s %s" % (path, (change.desc if callable(change) else json.dumps(change))[:100])

            def one():
                reset()
                mode(mode="error", status=400)
                r = post(acct, path, body)
                eq(r.status, 400, "%s: the provider's 400 passed on: %r" % (what, r.body[:200]))
                eq(len(forwarded()), 1, "%s: forwarded once" % what)
                eq((state(acct), holds_of(acct)), (fresh[acct], []), "%s: released, nothing charged" % what)
            c.run(one)
    reset()
    c.done("left to the provider")
    verify()

# ---- bodies that are not a JSON object, the wrong type, too large ----

JSON_ROUTES = [("/openai/v1/chat/completions", "openai"), ("/openai/v1/responses", "openai"),
               ("/openai/v1/embeddings", "openai"), ("/openai/v1/images/generations", "openai"),
               ("/openai/v1/audio/speech", "openai"), ("/openai/v1/moderations", "openai"),
               ("/openai/v1/batches", "openai"), ("/anthropic/v1/messages", "anthropic"),
               ("/anthropic/v1/messages/count_tokens", "anthropic"), ("/anthropic/v1/messages/batches", "anthropic")]
NOT_OBJECTS = [b"{nope", b"", b"[]", b'[{"model":"gpt-4o-mini"}]', b'"text"', b"null", b"42",
               b'{"model":"gpt-4o-mini"} {"x":1}', b'{"model":"gpt-4o-mini",}', b"\xff\xfe{}",
               b'{"model":"gpt-4o-mini","model":"claude-haiku-4-5"}']


def test_bodies_that_are_not_one_json_object_are_400_and_the_wrong_type_415():
    """docs/api.md: a body that is not JSON is 400, one sent as another
    Content-Type 415; on the gateway's routes, in the provider's shape."""
    acct = account("e98body")
    c = Cases()
    for path, kind in JSON_ROUTES:
        for raw in NOT_OBJECTS:
            c.run(refused, acct, post(acct, path, raw=raw), 400, "-", "%s %r" % (path, raw[:40]), kind)
        good = json.dumps(MSG if kind == "anthropic" else CHAT).encode()
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            c.run(refused, acct, post(acct, path, raw=good, ctype=ctype), 415, "-", "%s as %s" % (path, ctype), kind)
    c.run(untouched, acct, "bodies")
    c.done("bodies")


def test_a_body_over_its_route_s_limit_is_413_in_the_provider_s_shape():
    """docs/gateway.md "Request bodies": every JSON route 8 MiB, the
    Anthropic batch create 25 MiB; sent in full (test_96c declares the
    length alone)."""
    acct = account("e98big")
    c = Cases()
    pad = "x" * (8 * MIB + 16)
    for path, body, kind in [("/openai/v1/chat/completions", dict(CHAT, user=pad), "openai"),
                             ("/openai/v1/embeddings", {"model": "text-embedding-3-small", "input": pad}, "openai"),
                             ("/anthropic/v1/messages", dict(MSG, system=pad), "anthropic")]:
        e = c.run(refused, acct, post(acct, path, raw=json.dumps(body).encode()), 413, "-", path, kind)
        if e and kind == "openai":
            c.run(eq, e["code"], "payload_too_large", "%s: the code" % path)
    c.run(untouched, acct, "too large")
    c.done("too large")


# ---- multipart forms ----

B = "----e98form" + "0" * 8


def part(name, value, filename=None, ctype=None, extra=b""):
    disp = "form-data" + ('; name="%s"' % name if name is not None else "")
    if filename:
        disp += '; filename="%s"' % filename
    head = "--%s\r\nContent-Disposition: %s\r\n" % (B, disp)
    if ctype:
        head += "Content-Type: %s\r\n" % ctype
    v = value if isinstance(value, bytes) else value.encode()
    return head.encode() + extra + b"\r\n" + v + b"\r\n"


def closed(*parts):
    return b"".join(parts) + ("--%s--\r\n" % B).encode()


PNG = images.PNG_BYTES
MP3 = b"\xff\xf3" + b"\x07" * 15998


def form_cases(route_fields, file_name, file_part):
    """The malformed forms every form route refuses (docs/gateway.md
    "Multipart bodies"), each (body, param or "-")."""
    ok = b"".join(part(n, v) for n, v in route_fields)
    return [
        (ok + file_part, "-"),                                           # cut before its close
        (ok[:len(ok) // 2], "-"),                                        # cut mid-part
        (closed(ok, part(None, "x"), file_part), "-"),                   # a part without a name
        (closed(ok), file_name),                                         # the file missing
        (closed(ok, file_part, file_part), "-"),                         # the file given twice
        (closed(ok, part("pad", "x", extra=b"X-Pad: " + b"a" * 9000 + b"\r\n"), file_part), "-"),  # headers > 8 KiB
        (closed(ok, file_part).replace(b"\r\n", b"\n"), "-"),            # LF line ends
        (closed(ok, part('a"b', "x"), file_part), "-"),                  # a name outside the set
        (closed(*[part("f%d" % i, "x") for i in range(70)], ok, file_part), "-"),  # more than 64 parts
        (b"", "-"), (b"not a form at all", "-"),
    ]


def test_malformed_forms_are_refused_before_anything_is_held():
    images._price()
    audio._price()
    acct = account("e98form")
    c = Cases()
    img = part("image", PNG, "a.png", "image/png")
    mp3 = part("file", MP3, "a.mp3", "audio/mpeg")
    routes = [("/openai/v1/images/edits", [("model", "dall-e-2"), ("prompt", "x")], "image", img),
              ("/openai/v1/audio/transcriptions", [("model", "whisper-1")], "file", mp3)]
    for path, fields, fname, fpart in routes:
        for body, param in form_cases(fields, fname, fpart):
            c.run(refused, acct, post(acct, path, raw=body, ctype="multipart/form-data; boundary=" + B), 400, param,
                    "%s %r" % (path, body[-60:]))
        good = closed(*[part(n, v) for n, v in fields], fpart)
        c.run(refused, acct, post(acct, path, raw=good, ctype="multipart/form-data; boundary=other"), 400, "-",
                "%s: another boundary" % path)
        c.run(refused, acct, post(acct, path, raw=good, ctype="multipart/form-data"), 400, None, "%s: no boundary" % path)
        c.run(refused, acct, post(acct, path, raw=good, ctype="application/json"), 400, "-", "%s: sent as JSON" % path)
        c.run(refused, acct, post(acct, path, raw=closed(part("model", "no-such-model-98e"), *[part(n, v) for n, v in fields
                                                                                       if n != "model"], fpart),
                           ctype="multipart/form-data; boundary=" + B), 400, "model", "%s: unknown model" % path)
        c.run(refused, acct, post(acct, path, raw=closed(*[part(n, v) for n, v in fields if n != "model"], fpart),
                           ctype="multipart/form-data; boundary=" + B), 400, "model", "%s: no model" % path)
    edit = [part("model", "dall-e-2"), part("prompt", "x"), img]
    for extra, param in [(part("n", "0"), "n"), (part("n", "1000"), "n"), (part("n", "1.5"), "n"),
                         (part("size", "99x99"), "size"), (part("response_format", "gif"), "response_format")]:
        c.run(refused, acct, post(acct, "/openai/v1/images/edits", raw=closed(*edit, extra),
                           ctype="multipart/form-data; boundary=" + B), 400, param, "edit %r" % extra[-20:])
    c.run(untouched, acct, "forms")
    c.done("forms")


# ---- batch input files and batch creates ----

def upload(acct, data, purpose="batch", ctype=None):
    raw = closed(part("purpose", purpose), part("file", data, "in.jsonl", "application/jsonl"))
    return post(acct, "/openai/v1/files", raw=raw, ctype=ctype or "multipart/form-data; boundary=" + B)


def jl(*lines):
    return b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)


def test_a_batch_file_with_a_bad_line_is_refused_and_nothing_is_forwarded():
    """docs/gateway.md "Batches": each line an object of custom_id,
    method POST, url and body, one url for all, its body passing the
    route's table and price, custom_ids unique, purpose batch alone."""
    batches.batch_prices()
    acct = account("e98file")
    c = Cases()
    ok = batches.line("a")
    bad_lines = [
        jl(ok, b"{nope"), jl(ok, b"[1,2]"), jl(ok, b'"a line"'),
        jl(ok, batches.line("b", model="no-such-model-98e")),
        jl(ok, batches.line("a")),
        jl(ok, dict(batches.line("b"), method="GET")),
        jl(ok, dict(batches.line("b"), url="/v1/images/generations")),
        jl(ok, batches.line("b", url="/v1/responses")),
        jl(ok, dict(batches.line("b"), extra=1)),
        jl(ok, {k: v for k, v in batches.line("b").items() if k != "custom_id"}),
        jl(ok, dict(batches.line("b"), custom_id=5)), jl(ok, dict(batches.line("b"), custom_id="")),
        jl(ok, dict(batches.line("b"), body="x")),
        jl(ok, batches.line("b", max_tokens="10")), jl(ok, batches.line("b", max_tokens=-1)),
        jl(ok, batches.line("b", n=1.5)), jl(ok, batches.line("b", no_such_member=1)),
        jl(ok, batches.line("b", max_tokens=2 ** 63)), jl(ok, dict(batches.line("b"), custom_id="x" * 512)),
    ]
    for data in bad_lines:
        e = c.run(refused, acct, upload(acct, data), 400, "-", "a file %r" % data[-80:])
        c.run(check, e is None or re.search(r"\bline 2\b", e["message"]), "names line 2: %r" % (e,))
    for data in (b"", b"\n\n"):
        c.run(refused, acct, upload(acct, data), 400, "-", "a file %r" % data)
    good = jl(ok, batches.line("b"))
    c.run(refused, acct, upload(acct, good, purpose="assistants"), 400, "purpose", "purpose assistants")
    c.run(refused, acct, post(acct, "/openai/v1/files", raw=closed(part("file", good, "in.jsonl")),
                       ctype="multipart/form-data; boundary=" + B), 400, "purpose", "no purpose")
    c.run(refused, acct, post(acct, "/openai/v1/files", raw=closed(part("purpose", "batch")),
                       ctype="multipart/form-data; boundary=" + B), 400, "file", "no file")
    for body, param in form_cases([("purpose", "batch")], "file", part("file", good, "in.jsonl")):
        c.run(refused, acct, post(acct, "/openai/v1/files", raw=body, ctype="multipart/form-data; boundary=" + B), 400,
                param, "files %r" % body[-60:])
    c.run(untouched, acct, "batch files")
    c.done("batch files")


def test_a_batch_create_with_bad_members_is_refused():
    batches.batch_prices()
    batches.control(reset=True, complete=False)
    acct = account("e98batch")
    c = Cases()
    fid = batches.upload(acct, [batches.line("v1")]).json["id"]
    reset()
    ok = {"input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    table(c, acct, "/openai/v1/batches", ok, [
        ({"endpoint": "/v1/images/generations"}, "endpoint"), ({"endpoint": 5}, "endpoint"),
        (drop("endpoint"), "endpoint"), (drop("input_file_id"), "input_file_id"),
({"no_such_member": 1}, "no_such_member")])
    c.run(refused, acct, post(acct, "/openai/v1/batches", dict(ok, input_file_id="file-nope98e")), 404, "-",
            "a file nobody uploaded")
    c.run(refused, acct, call("/openai/v1/batches/batch_nope98e", None, headers={"Creditd-Account": acct}), 404, "-",
            "a batch nobody made")
    c.run(refused, acct, post(acct, "/openai/v1/batches/batch_nope98e/cancel", {}), 404, "-", "cancel of nothing")
    req = {"custom_id": "a", "params": dict(MSG, model="claude-sonnet-4-5")}

    def with_params(**p):
        return {"requests": [{"custom_id": "a", "params": dict(req["params"], **p)}]}
    mb = "/anthropic/v1/messages/batches"
    for body, param in [({"requests": "x"}, "requests"), ({"requests": [5]}, "requests*"), ({}, "requests"),
                        ({"requests": []}, "requests"), ({"requests": [req, req]}, "custom_id"),
                        ({"requests": [{"params": req["params"]}]}, "custom_id"),
                        ({"requests": [{"custom_id": "a"}]}, "params"),
                        (with_params(model="no-such-model-98e"), "model"), (with_params(max_tokens="10"), "max_tokens"),
                        (with_params(max_tokens=-1), "max_tokens"), (with_params(stream=True), "stream"), (with_params(no_such_member=1), "no_such_member")]:
        c.run(refused, acct, post(acct, mb, body), 400, param, "message batch %r" % json.dumps(body)[:120], "anthropic")
    for path in (mb + "/msgbatch_nope98e", mb + "/msgbatch_nope98e/results"):
        c.run(refused, acct, call(path, None, headers=dict(AHEAD, **{"Creditd-Account": acct})), 404, "-", path,
                "anthropic")
    c.run(refused, acct, post(acct, mb + "/msgbatch_nope98e/cancel", {}), 404, "-", "cancel of nothing", "anthropic")
    c.run(untouched, acct, "batch creates")
    c.done("batch creates")
    verify()


# ---- the official SDKs: their own classes, the param, no retry ----

SDK_JS = r"""
import OpenAI, { toFile } from "openai";
import Anthropic from "@anthropic-ai/sdk";
let sent = 0;
// the SDKs' own probes (openai's fetch of a data: URL to learn FormData) are no request
const counted = (url, init) => { if (String(url).startsWith(process.env.BASE)) sent++; return fetch(url, init); };
const base = process.env.BASE;
const headers = { "Creditd-Account": process.env.ACCOUNT };
// maxRetries left at the SDKs' default (2): a refusal they retried would be seen
const openai = new OpenAI({ baseURL: base + "/openai/v1", apiKey: process.env.KEY, defaultHeaders: headers, fetch: counted });
const anthropic = new Anthropic({ baseURL: base + "/anthropic", apiKey: process.env.KEY, defaultHeaders: headers, fetch: counted });
const user = [{ role: "user", content: "hello from the sdk" }];
async function caught(fn) {
  const before = sent;
  try { await fn(); return { thrown: false, sent: sent - before }; } catch (e) {
    return { thrown: true, sent: sent - before, status: e.status ?? null, name: e.constructor.name,
             api: e instanceof OpenAI.APIError || e instanceof Anthropic.APIError,
             type: e.type ?? e.error?.error?.type ?? null, param: e.param ?? null, code: e.code ?? null,
             message: String(e.message).slice(0, 200) };
  }
}
const cases = {
  chat_n: () => openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, n: 1.5 }),
  chat_cap: () => openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, max_tokens: -1 }),
  chat_model: () => openai.chat.completions.create({ model: "no-such-model-98e", messages: user }),
  chat_role: () => openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "wizard", content: "x" }] }),
  chat_kind: () => openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, temperature: "hot" }),
  responses_kind: () => openai.responses.create({ model: "gpt-4o-mini", input: 5 }),
  embeddings_format: () => openai.embeddings.create({ model: "text-embedding-3-small", input: "x", encoding_format: "hex" }),
  images_size: () => openai.images.generate({ model: "dall-e-2", prompt: "a fox", size: "99x99" }),
  file_line: async () => openai.files.create({ purpose: "batch",
    file: await toFile(Buffer.from("{nope\n"), "in.jsonl", { type: "application/jsonl" }) }),
  messages_cap: () => anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: -1, messages: user }),
  messages_model: () => anthropic.messages.create({ model: "no-such-model-98e", max_tokens: 5, messages: user }),
  messages_missing: () => anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 5 }),
  messages_part: () => anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 5,
    messages: [{ role: "user", content: [{ type: "bogus", text: "x" }] }] }),
  count_member: () => anthropic.messages.countTokens({ model: "claude-haiku-4-5", messages: user, no_such_member: 1 }),
};
const out = {};
for (const k of Object.keys(cases)) out[k] = await caught(cases[k]);
console.log(JSON.stringify(out));
"""

SDK_WANT = {"chat_n": (400, "n"), "chat_cap": (400, "max_tokens"), "chat_model": (400, "model"),
            "chat_role": (400, "messages[0].role"), "chat_kind": (400, "temperature"),
            "responses_kind": (400, "input"), "messages_missing": (400, None),
            "embeddings_format": (400, "encoding_format"),
            "images_size": (400, "size"), "file_line": (400, None),
            "messages_cap": (400, None), "messages_model": (400, None), "messages_part": (400, None),
            "count_member": (400, None)}


def gateway_requests():
    """The gateway calls creditd has logged (one line a request,
    docs/tests.md): POSTs under /openai/ and /anthropic/."""
    with open(stack.path("creditd.log"), errors="replace") as f:
        return sum(1 for line in f if re.search(r" info: POST /(openai|anthropic)/v1/", line))


def test_the_sdks_raise_their_api_errors_with_the_param_and_send_once():
    images._price()
    acct = account("e98sdk")
    c = Cases()
    d = sdk_dir()
    path = os.path.join(d, "bad_input_98e_%s.mjs" % uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        f.write(SDK_JS)
    seen = gateway_requests()
    try:
        p = subprocess.run(["node", path], capture_output=True, text=True, timeout=120, cwd=d,
                           env=dict(os.environ, BASE=ENV["CREDITD_URL"], KEY=key("guard"), ACCOUNT=acct))
    finally:
        os.unlink(path)
    check(p.stdout.strip(), "the script printed nothing: %s" % p.stderr[-1500:])
    out = json.loads(p.stdout.strip().splitlines()[-1])
    for case, (status, param) in SDK_WANT.items():
        o = out[case]
        got = (o["thrown"], o.get("api"), o.get("status"), o.get("name"), o.get("type"), o.get("param"), o["sent"])
        c.run(eq, got, (True, True, status, "BadRequestError", "invalid_request_error",
                        param if param is not None else o.get("param"), 1),
              "%s: (thrown, APIError, status, class, type, param, requests sent): %r" % (case, o))
    c.run(eq, gateway_requests() - seen, len(SDK_WANT), "creditd saw one request a call")
    c.run(eq, forwarded(), [], "nothing forwarded")
    c.run(untouched, acct, "SDK refusals")
    c.done("SDK refusals")
    verify()
