#!/usr/bin/python3
"""fake_provider.py: a local stand-in for OpenAI's and Anthropic's APIs, for
the gateway's tests and bench (there is no internet here).

It answers, in each provider's own shapes as their API references give
them, streamed (server-sent events, HTTP/1.1 chunked) and not:
  POST /v1/chat/completions   OpenAI Chat Completions
  POST /v1/responses          OpenAI Responses
  POST /v1/embeddings         OpenAI Embeddings
  GET  /v1/models             OpenAI's model list
  GET, DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items
                              OpenAI's stored responses (those it answered)
  POST /v1/responses/{id}/cancel  a background run cancelled (fake_provider_background.py)
  POST /v1/messages           Anthropic Messages
  POST /v1/messages/count_tokens  Anthropic's token count (not streamed)
  POST /v1/audio/speech, /v1/audio/transcriptions, /v1/moderations
                              OpenAI's audio and moderations (fake_provider_audio.py)
  POST /v1/images/generations, /v1/images/edits  OpenAI's images (fake_provider_images.py)
  POST /v1/files, GET /v1/files/{id}[/content], POST /v1/batches, GET /v1/batches/{id},
  POST /v1/batches/{id}/cancel, POST /v1/messages/batches, GET /v1/messages/batches/{id}[/results],
  POST /v1/messages/batches/{id}/cancel   the Batch APIs (fake_provider_batches.py)
so a gateway is configured with openai_base_url = http://HOST:PORT/v1 and
anthropic_base_url = http://HOST:PORT.

It checks what it is sent as the providers do, and refuses in their
shapes: the credential (OpenAI `Authorization: Bearer`, Anthropic
`x-api-key` with `anthropic-version`), the body's required fields and
types, `stream_options` only with `stream`. Beside what a provider would
refuse, it notes what no gateway should ever send (a creditd key, a
cookie, a `Creditd-*` header) in each recorded request's `violations`.

Text is deterministic: output word i is "w<i>", one token each; input
tokens are the words of the request's text (never more than its UTF-8
bytes). The output stops at the body's output cap (finish_reason
"length", stop_reason "max_tokens", status "incomplete").

Control endpoints (no auth; not the providers'): tests/fake_provider.md.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_provider_images as images  # noqa: E402
import fake_provider_shapes as shapes  # noqa: E402
import fake_provider_audio as audio  # noqa: E402
import fake_provider_background as background  # noqa: E402
import fake_provider_batches as batches  # noqa: E402

STATE = {"lock": threading.Lock(), "requests": [], "seq": 0, "mode": None, "keys": {}, "gate": threading.Event(),
         "responses": {}, "runs": {}}
DEFAULT_MODE = {"mode": "ok", "output_tokens": 16, "chunks": None, "chunk_interval_ms": 0, "delay_ms": 0,
                "cut_after": 2, "status": 500, "cached_tokens": 0, "cache_creation_tokens": 0,
                "reasoning_tokens": 0, "extra_output_tokens": 0, "service_tier": None, "cache_1h_tokens": 0,
                "audio_input_tokens": 0, "audio_output_tokens": 0, "web_searches": 0, "count": None,
                "compaction_input_tokens": 0, "compaction_output_tokens": 0, "unknown_tokens": 0,
                "advisor_input_tokens": 0, "advisor_output_tokens": 0, "advisor_model": None,
                "silent_seconds": 30, "word_bytes": 0, "end_gate": False, "get_delay_ms": 0,
                "images_made": None, "image_size": None, "image_quality": None, "image_output_tokens": None,
                "match": None}
MODES = ("ok", "error", "cut", "no_usage", "delay", "silent", "stall", "error_event", "zero_usage")


def take_mode(body=b""):
    """The mode for the next provider request (a counted mode runs out);
    a mode with `match` is for a request whose body holds that text
    alone, the others answered as in mode ok (and not counted)."""
    with STATE["lock"]:
        m = dict(STATE["mode"] or DEFAULT_MODE)
        if m.get("match") is not None and m["match"].encode() not in body:
            return dict(DEFAULT_MODE)
        if m.get("count") is not None:
            STATE["mode"]["count"] -= 1
            if STATE["mode"]["count"] <= 0:
                STATE["mode"] = None
        return m


def violations(headers):
    found = []
    for name, value in headers.items():
        low = name.lower()
        if low.startswith("creditd-"):
            found.append("header %s forwarded" % name)
        if low in ("cookie", "set-cookie"):
            found.append("header %s forwarded" % name)
        if "crd_" in value:
            found.append("a creditd key in header %s" % name)
    return found


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    # ---- plumbing ----
    def body_bytes(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self, extra=None):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self):
        """Drops the connection mid-stream, as a provider that failed."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def record(self, body, parsed, status, note=None, usage=None):
        with STATE["lock"]:
            STATE["seq"] += 1
            STATE["requests"].append({
                "seq": STATE["seq"], "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"), "json": parsed, "status": status,
                "violations": violations(self.headers), "note": note, "usage": usage, "at": time.time()})

    # ---- control ----
    def control(self, body):
        if self.command == "GET" and self.path == "/_requests":
            with STATE["lock"]:
                return self.send_json(200, STATE["requests"])
        if self.command == "POST" and self.path == "/_reset":
            with STATE["lock"]:
                STATE["requests"].clear()
                STATE["mode"] = None
                STATE["gate"] = threading.Event()
            return self.send_json(200, {"ok": True})
        if self.command == "POST" and self.path == "/_open_gate":
            STATE["gate"].set()
            return self.send_json(200, {"ok": True})
        if self.command == "POST" and self.path == "/_background":
            with STATE["lock"]:
                return self.send_json(*background.move(STATE, json.loads(body or b"{}")))
        if self.command == "GET" and self.path.startswith("/_background/"):
            with STATE["lock"]:
                run = STATE["runs"].get(self.path[len("/_background/"):])
                return self.send_json(200 if run else 404, {"status": run["status"], "usage": run["usage"]}
                                      if run else {"error": "no such run"})
        if self.path == "/_mode":
            if self.command == "POST":
                want = json.loads(body or b"{}")
                if want.get("mode", "ok") not in MODES or set(want) - set(DEFAULT_MODE):
                    return self.send_json(400, {"error": "mode one of %s; fields %s" % (MODES, sorted(DEFAULT_MODE))})
                with STATE["lock"]:
                    STATE["mode"] = dict(DEFAULT_MODE, **want)
            with STATE["lock"]:
                return self.send_json(200, STATE["mode"] or DEFAULT_MODE)
        return self.send_json(404, {"error": "no control endpoint %s %s" % (self.command, self.path)})

    # ---- the providers ----
    def do_GET(self):
        if batches.handles("GET", self.path):
            return batches.handle(self, "GET", b"")
        if self.path.startswith("/_"):
            return self.control(b"")
        if self.path == "/v1/models":
            err = shapes.openai_auth(self.headers, self.server.openai_key)
            self.record(b"", None, err[0] if err else 200)
            if err:
                return self.send_json(*err)
            return self.send_json(200, shapes.openai_models())
        if self.path.startswith("/v1/responses/"):
            return self.stored_response()
        self.record(b"", None, 404)
        return self.send_json(404, shapes.openai_error("Unknown request URL: GET %s" % self.path,
                                                       "invalid_request_error", None, "unknown_url"))

    def do_DELETE(self):
        if batches.handles("DELETE", self.path):
            return batches.handle(self, "DELETE", b"")
        if self.path.startswith("/v1/responses/"):
            return self.stored_response()
        self.record(b"", None, 404)
        return self.send_json(404, shapes.openai_error("Unknown request URL: DELETE %s" % self.path,
                                                       "invalid_request_error", None, "unknown_url"))

    def stored_response(self):
        """GET /v1/responses/{id}[/input_items], DELETE /v1/responses/{id}:
        the responses this stand-in answered (stored as OpenAI stores them),
        in the shapes of OpenAI's reference (shapes.stored)."""
        err = shapes.openai_auth(self.headers, self.server.openai_key)
        if err is None:
            with STATE["lock"]:
                status, obj = shapes.stored(self.command, self.path, STATE["responses"])
        else:
            status, obj = err
        self.record(b"", None, status)
        with STATE["lock"]:
            delay = (STATE["mode"] or DEFAULT_MODE).get("get_delay_ms", 0) if self.command == "GET" else 0
        time.sleep(delay / 1000.0)	# recorded on arrival, answered late
        return self.send_json(status, obj)

    def do_POST(self):
        body = self.body_bytes()
        if batches.handles("POST", self.path):
            return batches.handle(self, "POST", body)
        if self.path.startswith("/_"):
            return self.control(body)
        if self.path.startswith("/v1/responses/") and self.path.endswith("/cancel"):
            err = shapes.openai_auth(self.headers, self.server.openai_key)
            if err is None:
                with STATE["lock"]:
                    err = background.cancel(STATE, self.path[len("/v1/responses/"):-len("/cancel")])
            self.record(body, None, err[0], usage=err[1].get("usage") if err[0] == 200 else None)
            return self.send_json(*err)
        if self.path.split("?", 1)[0] in audio.ROUTES:
            return audio.handle(self, audio.ROUTES[self.path.split("?", 1)[0]], body,
                                shapes.openai_auth(self.headers, self.server.openai_key), lambda: take_mode(body))
        route = {"/v1/chat/completions": "chat", "/v1/responses": "responses", "/v1/embeddings": "embeddings",
                 "/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens",
                 "/v1/images/generations": "images_generations", "/v1/images/edits": "images_edits"}.get(
                     self.path.split("?", 1)[0])
        anthropic = route in shapes.ANTHROPIC_ROUTES
        if route is None:
            self.record(body, None, 404)
            return self.send_json(404, shapes.openai_error("Unknown request URL: POST %s" % self.path,
                                                           "invalid_request_error", None, "unknown_url"))
        err = (shapes.anthropic_auth(self.headers, self.server.anthropic_key) if anthropic
               else shapes.openai_auth(self.headers, self.server.openai_key))
        parsed = None
        if err is None and route.startswith("images_"):
            return self.images(route, body)
        if err is None:
            parsed, err = shapes.parse_body(route, body)
        if err is not None:
            self.record(body, parsed, err[0])
            return self.send_json(*err)
        mode = take_mode(body)
        plan = None if route == "count_tokens" else shapes.plan(route, parsed, mode)
        # what the answer's usage will say, so that a test's expected
        # charge comes from the provider's figures, not from creditd's
        self.record(body, parsed, 200, note=mode["mode"], usage=shapes.reported(route, parsed, plan, mode))
        self.answer(route, parsed, mode, plan)

    def images(self, route, raw):
        """OpenAI's image routes (fake_provider_images.py), answered whole."""
        parsed, err = images.parse(route, raw, self.headers.get("Content-Type"))
        if err is not None:
            self.record(raw, parsed, err[0])
            return self.send_json(*err)
        mode = take_mode(raw)
        plan = images.plan(route, parsed, mode)
        self.record(raw, parsed, 200, note=mode["mode"], usage=images.reported(plan, mode))
        if mode["mode"] in ("delay", "stall"):
            time.sleep(mode["delay_ms"] / 1000.0)
        if mode["mode"] in ("silent", "error"):
            return self.answer(route, parsed, mode, None)
        return self.send_json(200, images.whole(plan), {"x-request-id": "req_fake%d" % STATE["seq"]})

    def answer(self, route, req, mode, plan):
        if mode["mode"] in ("delay", "stall"):
            time.sleep(mode["delay_ms"] / 1000.0)
        if mode["mode"] == "silent":
            # Accepts and never answers (until the client leaves or time runs out).
            self.connection.settimeout(mode["silent_seconds"])
            try:
                self.connection.recv(1)
            except OSError:
                pass
            self.close_connection = True
            return
        if mode["mode"] == "error":
            status = mode["status"]
            return self.send_json(status, shapes.error_body(route, status), {"retry-after": "1"}
                                  if status == 429 else None)
        extra = {"x-request-id": "req_fake%d" % STATE["seq"]} if route not in shapes.ANTHROPIC_ROUTES else {
            "request-id": "req_fake%d" % STATE["seq"], "anthropic-ratelimit-requests-remaining": "999"}
        extra["x-ratelimit-remaining-requests"] = "9999"
        if route == "count_tokens":
            return self.send_json(200, shapes.count_tokens(req), extra)
        if route == "responses" and req.get("background") is True:
            with STATE["lock"]:
                return self.send_json(200, background.start(STATE, req, plan), extra)
        if route == "responses" and req.get("store", True) is not False:
            with STATE["lock"]:
                STATE["responses"][shapes.response_id(plan)] = shapes.store_entry(req, plan)
        if not req.get("stream") or route == "embeddings":
            return self.send_json(200, shapes.whole(route, req, plan), extra)
        self.start_stream(extra)
        events = shapes.stream_events(route, req, plan)
        interval = mode["chunk_interval_ms"] / 1000.0
        gate = STATE["gate"]
        for i, ev in enumerate(events):
            if mode["mode"] == "cut" and i >= plan["cut_at"]:
                return self.cut()
            if mode["end_gate"] and i == len(events) - 1:
                gate.wait(30)
            self.chunk(ev)
            if interval and i + 1 < len(events):
                time.sleep(interval)
        self.end_stream()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--openai-key", default="sk-fake-openai")
    ap.add_argument("--anthropic-key", default="sk-ant-fake")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.request_queue_size = 1024
    srv.openai_key, srv.anthropic_key = args.openai_key, args.anthropic_key
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.replace(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
