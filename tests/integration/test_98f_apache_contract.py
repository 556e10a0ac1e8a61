"""test_98f_apache_contract.py: creditd behind Apache meets the contract
it meets behind nginx, seen from outside (docs/install.md,
docs/shared-hosting.md, docs/gateway.md).

The stack's Apache (mod_proxy_fcgi, apache/creditd-proxy-fcgi.conf as
shipped, base /credits) and its nginx (base /) are asked the same things
side by side, on the same database:
* /healthz (GET and HEAD), /metrics (this host only through Apache, as the
  snippet restricts it), a /v1 write and read (account, grant, authorize,
  settle; a grant replayed under its Idempotency-Key; ids a path carries
  encoded) and the errors the API documents (400, 401, 402, 403, 404,
  405, 409, 413, 415, 429): the same status, body and error shape, and the
  same headers (Content-Type, Cache-Control, X-Request-Id,
  WWW-Authenticate, Allow, Retry-After, Vary), ETag and 304 on the
  widget's script, CORS on the widget's preflight (docs/api.md); Apache's
  own error pages carry no ETag.
* the gateway under /credits: a whole and a streamed chat (the stream's
  first event long before its last, as the fake provider paces them), an
  Anthropic message (its key as x-api-key), embeddings, the same headers
  back (Creditd-* among them, nginx's X-Accel-Buffering not), none
  upstream; creditd's own refusals on the gateway's paths alike; transcriptions of 1 MB and 20 MB accepted, 26 MiB refused 413
  in OpenAI's shape with nothing forwarded or held; a 30 MB batch input
  file accepted (the files route takes 200 MB); a JSON body past 8 MiB
  413 in the route's provider's shape, with a length or chunked; a client
  gone mid-stream charged the provider's usage (docs/gateway.md, "Streams,
  and every way one ends").
* the console page and its sign-in cookie under /credits (Path=
  /credits/console/, no Secure over plain http from loopback), a write
  from its own origin done and from another site refused, sign-out.
* mod_fcgid as apache/example-fcgid.conf ships it: a 30 MB batch input
  file accepted, a stream passed on event by event (FcgidOutputBufferSize
  0), no more creditd processes than FcgidMaxProcessesPerClass."""
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import stack
from lib import ENV, api, check, eq, free_port, key, new_account, sql, uid, verify, wait_until
from test_80_gateway import event_times as t80_event_times
from test_80_gateway import body_chat, cost, ensure_prices, forwarded, mode, reasons, reset, state
from test_88b_gateway_batches import batch_prices, line, multipart
from test_92_gateway_audio import _price as audio_prices
from test_92_gateway_audio import form
from test_61b_upload_bodies import _post

MIB = 1024 * 1024
CHAT = "/openai/v1/chat/completions"
TRANSCRIPTIONS = "/openai/v1/audio/transcriptions"
FILES = "/openai/v1/files"


def bases():
    return (("nginx", ENV["CREDITD_URL"]), ("Apache", ENV["CREDITD_APACHE_URL"]))


class Answer:
    def __init__(self, status, headers, body, cookies):
        self.status, self.headers, self.body, self.cookies = status, headers, body, cookies
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:300])


def req(base, method, path, body=None, auth=None, headers=None, raw=None, source=None, timeout=60):
    """One request on a connection of its own (Connection: close: the
    demo's Apache may drop a kept-alive one, PLATFORM-NOTES); every header
    kept, lower-cased, repeated ones joined by ", "."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    h = {"Connection": "close"}
    if body is not None or raw is not None:
        h["Content-Type"] = "application/json"
    if auth is not None:
        h["Authorization"] = "Bearer " + key(auth)
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    try:
        c.request(method, u.path.rstrip("/") + path, body=data, headers=h)
        r = c.getresponse()
        payload = r.read()
        hs = {}
        for k, v in r.getheaders():
            hs[k.lower()] = hs[k.lower()] + ", " + v if k.lower() in hs else v
        cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        return Answer(r.status, hs, payload, cookies)
    finally:
        c.close()


# The headers the contract sets, compared as they are (docs/api.md).
SAME = ("content-type", "cache-control", "www-authenticate", "allow", "etag", "access-control-allow-origin",
        "access-control-allow-methods", "access-control-allow-headers", "access-control-max-age",
        "content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def vary(r):
    return sorted(t.strip().lower() for t in r.headers.get("vary", "").split(",") if t.strip())


def normal(doc, base_path):
    """A JSON answer with what differs by call (ids, times, the base path
    in a message) made alike."""
    if isinstance(doc, dict):
        return {k: ("*" if k in ("id", "hold_id", "created_at", "expires_at") else normal(v, base_path))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [normal(x, base_path) for x in doc]
    if isinstance(doc, str):
        return re.sub(r"\b(p98f-[\w-]+|grant_\d+|hold_[0-9a-f]+)", "*", doc.replace(base_path, ""))
    return doc


def alike(n, a, what, body=True, request_id=True):
    """The Apache answer a is the nginx answer n: status, the contract's
    headers, Vary, X-Request-Id and Retry-After given alike, and the body
    (ids, times and the base path aside)."""
    eq(a.status, n.status, "%s: Apache's status is nginx's: %r / %r" % (what, a, n))
    for h in SAME:
        eq(a.headers.get(h), n.headers.get(h), "%s: %s through Apache as through nginx" % (what, h))
    eq(vary(a), vary(n), "%s: Vary through Apache as through nginx (%r / %r)" % (what, a.headers, n.headers))
    eq("retry-after" in a.headers, "retry-after" in n.headers, "%s: Retry-After given alike" % what)
    if request_id:
        for r in (n, a):
            check(re.fullmatch(r"[0-9a-f]{16}", r.headers.get("x-request-id", "")), "%s: X-Request-Id: %r"
                  % (what, r.headers))
    if body:
        path = urllib.parse.urlsplit(ENV["CREDITD_APACHE_URL"]).path.rstrip("/")
        eq(normal(a.json, path), normal(n.json, ""), "%s: the same body" % what)
        if a.json is None:
            eq(a.body, n.body, "%s: the same bytes" % what)


def both(method, path_of, body_of=None, **kw):
    """The same request through nginx and Apache; path_of, body_of (and
    headers, when a function) take the server's name ("nginx", "Apache")."""
    out = []
    for name, base in bases():
        b = body_of(name) if callable(body_of) else body_of
        one = dict(kw, headers=kw["headers"](name)) if callable(kw.get("headers")) else kw
        out.append(req(base, method, path_of(name) if callable(path_of) else path_of, b, **one))
    return out


# ---- the core API, side by side ----

def test_healthz_and_metrics_answer_alike():
    for method in ("GET", "HEAD"):
        n, a = both(method, "/healthz")
        alike(n, a, "%s /healthz" % method, body=method == "GET")
        eq(a.body if method == "HEAD" else a.json, b"" if method == "HEAD" else {"status": "ok"}, "healthz")
    n, a = both("GET", "/metrics")
    alike(n, a, "GET /metrics", body=False)
    check(b"creditd_requests_total" in a.body, "Prometheus text through Apache")
    # The snippet keeps /metrics to this host (docs/install.md); the API
    # stays open to another address.
    eq(req(ENV["CREDITD_APACHE_URL"], "GET", "/metrics", source="127.0.0.2").status, 403,
       "/metrics through Apache from another address")
    eq(req(ENV["CREDITD_APACHE_URL"], "GET", "/healthz", source="127.0.0.2").status, 200, "healthz from it")


def _acct(name):
    return "p98f-%s-%s" % (name.lower(), uuid.uuid4().hex[:8])


def test_a_v1_write_and_read_answer_alike():
    ids = {"nginx": _acct("nginx"), "Apache": _acct("Apache")}
    n, a = both("POST", "/v1/accounts", lambda s: {"id": ids[s], "kind": "user"}, auth="admin")
    alike(n, a, "account create")
    eq(n.status, 201, "created")
    alike(*both("POST", "/v1/accounts", lambda s: {"id": ids[s], "kind": "user"}, auth="admin"), "the same again")
    alike(*both("POST", "/v1/accounts", lambda s: {"id": ids[s], "kind": "org"}, auth="admin"), "another body: 409")
    alike(*both("GET", lambda s: "/v1/accounts/" + ids[s], auth="read"), "account read")
    alike(*both("HEAD", lambda s: "/v1/accounts/" + ids[s], auth="read"), "HEAD account", body=False)
    grant = {"amount_micros": 5000000, "source": "promo"}
    keys = {"nginx": uid("g98f"), "Apache": uid("g98f")}
    n, a = both("POST", lambda s: "/v1/accounts/%s/grants" % ids[s], grant, auth="admin",
                headers=lambda s: {"Idempotency-Key": keys[s]})
    alike(n, a, "grant")
    n2, a2 = both("POST", lambda s: "/v1/accounts/%s/grants" % ids[s], grant, auth="admin",
                  headers=lambda s: {"Idempotency-Key": keys[s]})
    alike(n2, a2, "the grant again under its Idempotency-Key")
    eq(a2.json, a.json, "the first result again through Apache")
    auth = {"model": "gpt-4o-mini", "input_tokens": 1000, "max_output_tokens": 100, "request_id": "r1"}
    ensure_prices()
    n, a = both("POST", "/v1/guard/authorize", lambda s: dict(auth, account=ids[s]), auth="guard")
    alike(n, a, "authorize")
    eq(n.status, 200, "held: %r" % n)
    holds = {"nginx": n.json["hold_id"], "Apache": a.json["hold_id"]}
    n2, a2 = both("POST", "/v1/guard/authorize", lambda s: dict(auth, account=ids[s]), auth="guard")
    alike(n2, a2, "authorize again")
    eq(a2.json["hold_id"], holds["Apache"], "the same hold")
    settle = lambda s: {"hold_id": holds[s], "input_tokens": 900, "output_tokens": 50}  # noqa: E731
    alike(*both("POST", "/v1/guard/settle", settle, auth="guard"), "settle")
    alike(*both("POST", "/v1/guard/settle", settle, auth="guard"), "settle again")
    alike(*both("POST", "/v1/guard/release", lambda s: {"hold_id": holds[s]}, auth="guard"), "release settled: 409")
    alike(*both("GET", lambda s: "/v1/accounts/%s/transactions" % ids[s], auth="read"), "the journal")
    # Ids a path must carry encoded (docs/api.md): '/' as %2F (the
    # snippet's AllowEncodedSlashes), a space, '%', '?', non-ASCII.
    for odd in ("a/b", "a b", "a%b", "a?b", "\u00e9"):
        n, a = both("POST", "/v1/accounts", lambda s: {"id": ids[s] + odd, "kind": "user"}, auth="admin")
        eq((n.status, a.status), (201, 201), "account %r created" % odd)
        alike(*both("GET", lambda s: "/v1/accounts/" + urllib.parse.quote(ids[s] + odd, safe=""), auth="read"),
              "account %r read by its encoded id" % odd)
    big = dict(auth, request_id="r2", input_tokens=10 ** 9, max_output_tokens=16000)
    n, a = both("POST", "/v1/guard/authorize", lambda s: dict(big, account=ids[s]), auth="guard")
    alike(n, a, "not enough credit")
    eq((a.status, a.json["error"]["code"]), (402, "insufficient_credits"), "402 through Apache")
    verify()


def test_the_errors_answer_alike():
    acct = new_account("p98f-err")
    alike(*both("GET", "/v1/accounts/" + acct), "no key: 401")
    alike(*both("GET", "/v1/accounts/" + acct, auth="crd_" + "0" * 64), "a wrong key: 401 invalid_token")
    alike(*both("POST", "/v1/accounts", {"id": uid("p98f"), "kind": "user"}, auth="guard"), "a guard key: 403")
    alike(*both("GET", "/v1/accounts/p98f-nobody", auth="read"), "unknown account: 404")
    alike(*both("DELETE", "/v1/accounts/" + acct, auth="admin"), "405 with Allow")
    alike(*both("POST", "/v1/accounts", raw=b'{"id":"x","kind":"user"}', auth="admin",
                headers={"Content-Type": "text/plain"}), "415")
    alike(*both("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1, "source": "promo",
                                                          "balance_micros": 5}, auth="admin"), "400 naming a field")
    alike(*both("GET", "/v1/no/such/route", auth="read"), "unknown route: 404")
    # Past the common limit (64 KiB): Apache's own 413 (the snippet's
    # check of Content-Length), nginx's creditd's; the same JSON.
    n, a = both("POST", "/v1/accounts", raw=b'{"id":"' + b"a" * 70000 + b'"}', auth="admin")
    eq((n.status, a.status), (413, 413), "413 past 64 KiB")
    eq(a.headers.get("content-type"), "application/json", "Apache's 413 in JSON")
    # The same shape and code; the sentence is each one's own (Apache's
    # from apache/errors/413.json, creditd's naming its limit).
    eq({k: v for k, v in a.json["error"].items() if k != "message"},
       {k: v for k, v in n.json["error"].items() if k != "message"}, "the same error but its message")
    check("etag" not in a.headers and "last-modified" not in a.headers,
          "an error page is no resource to revalidate: no ETag or Last-Modified: %r" % a.headers)
    # A rate limit: 429 with Retry-After both ways (docs/api.md).
    for _, base in bases():
        req(base, "PATCH", "/v1/accounts/" + acct, {"requests_per_minute": 1}, auth="admin")
    got = []
    for _, base in bases():
        for i in range(3):
            r = req(base, "POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o-mini", "input_tokens": 1,
                                                          "max_output_tokens": 1, "request_id": uid("rl")},
                    auth="guard")
            if r.status == 429:
                got.append(r)
                break
    eq(len(got), 2, "a 429 through each")
    alike(got[0], got[1], "429 rate limit", body=False)
    check(re.fullmatch(r"\d+", got[1].headers.get("retry-after", "")), "Retry-After: %r" % got[1].headers)
    eq(got[1].json["error"]["code"], "rate_limit_exceeded", "429's code")


def test_the_widget_s_etag_and_cors_answer_alike():
    n, a = both("GET", "/widget/creditd-widget.js")
    alike(n, a, "the widget's script", body=False, request_id=False)
    eq(a.body, n.body, "the same script")
    check(n.headers.get("etag"), "an ETag")
    alike(*both("GET", "/widget/creditd-widget.js", headers={"If-None-Match": n.headers["etag"]}),
          "revalidated: 304", body=False, request_id=False)
    eq(req(ENV["CREDITD_APACHE_URL"], "GET", "/widget/creditd-widget.js",
           headers={"If-None-Match": n.headers["etag"]}).status, 304, "304 through Apache")
    pre = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET",
           "Access-Control-Request-Headers": "authorization"}
    n, a = both("OPTIONS", "/v1/me", headers=pre)
    alike(n, a, "the widget's preflight", body=False)
    eq(a.status, 204, "preflight")
    eq(a.headers.get("access-control-allow-origin"), "https://app.example.com", "CORS through Apache")


# ---- the gateway under /credits ----

def gw(base, path, body=None, acct=None, raw=None, headers=None, auth="guard"):
    h = dict({"Creditd-Account": acct} if acct else {}, **(headers or {}))
    return req(base, "POST", path, body, auth=auth, raw=raw, headers=h, timeout=120)


def _prices_seen():
    """The test's prices reach both creditd of the stack."""
    ensure_prices()
    audio_prices()
    batch_prices()
    for _, base in bases():
        check(wait_until(lambda: any(m["model"] == "whisper-1" for m in
                                     api("GET", "/v1/models", auth="read", base=base).json["data"]), timeout=30),
              "whisper-1's price reaches %s" % base)


def test_whole_calls_answer_alike_with_creditd_s_headers_and_none_upstream():
    _prices_seen()
    acct = new_account("p98f-gw")
    calls = (("chat", CHAT, body_chat(max_completion_tokens=20), {}),
             ("anthropic", "/anthropic/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 20,
                                                      "messages": [{"role": "user", "content": "hi there"}]},
              {"anthropic-version": "2023-06-01", "x-api-key": key("guard")}),
             ("embeddings", "/openai/v1/embeddings", {"model": "text-embedding-3-small", "input": ["one two"]}, {}))
    for what, path, body, extra in calls:
        got = []
        for name, base in bases():
            reset()
            mode(output_tokens=7)
            before = state(acct)[0]
            # Anthropic's SDK sends its key as x-api-key: it reaches creditd
            # through Apache as through nginx.
            r = gw(base, path, body, acct, headers=extra, auth=None if "x-api-key" in extra else "guard")
            eq(r.status, 200, "%s through %s: %r" % (what, name, r))
            up = forwarded()
            eq(len(up), 1, "%s through %s: one call upstream" % (what, name))
            check(not any(h.startswith("creditd-") for h in up[0]["headers"]), "no Creditd-* header upstream")
            charged = int(r.headers["creditd-charged-micros"])
            eq(state(acct), (before - charged, 0), "%s through %s: charged what it says, nothing held" % (what, name))
            check(r.headers["creditd-hold-id"].startswith("hold_"), "the hold named")
            eq(int(r.headers["creditd-balance-micros"]), before - charged, "the balance after it")
            got.append(r)
        n, a = got
        eq(sorted(h for h in a.headers if h.startswith("creditd-")),
           sorted(h for h in n.headers if h.startswith("creditd-")), "%s: the same Creditd-* headers" % what)
        eq(a.headers.get("content-type"), n.headers.get("content-type"), "%s: Content-Type" % what)
        eq(sorted(set(a.headers) - HOP), sorted(set(n.headers) - HOP), "%s: the same headers" % what)
        eq(int(a.headers["creditd-charged-micros"]), int(n.headers["creditd-charged-micros"]),
           "%s: the same charge" % what)
    verify()


def test_the_gateway_s_own_answers_answer_alike():
    """Answers creditd makes on the gateway's paths, in the provider's
    shape, the same through both (docs/gateway.md, "Refusals, in the
    provider's shape")."""
    ensure_prices()
    acct = new_account("p98f-gwref")
    alike(*both("GET", "/openai/v1/nothing", auth="guard"), "an unknown gateway path: 404")
    alike(*both("POST", "/anthropic/v1/messages", {}, headers={"anthropic-version": "2023-06-01"}),
          "no key on Anthropic's route: 401")
    alike(*both("PUT", CHAT, auth="guard"), "405 on a gateway route")
    alike(*both("HEAD", "/openai/v1/models", auth="guard"), "HEAD models", body=False)
    alike(*both("GET", "/openai/v1/models", auth="guard"), "the models list")
    alike(*both("POST", CHAT, body_chat(max_completion_tokens=20, bogus_member=1), auth="guard",
                headers={"Creditd-Account": acct}), "400 in OpenAI's shape")
    alike(*both("POST", CHAT, body_chat(), auth="guard", headers={"Creditd-Account": "p98f-nobody"}),
          "an unknown account: 404 in OpenAI's shape")


def event_times(base, acct, body, path=CHAT, headers=None):
    """(seconds since the request was sent, data payload) of each event of
    a stream as it arrives, and the answer's headers."""
    return t80_event_times(base, acct, body, path, headers, with_headers=True)


# Hop-by-hop and the servers' own headers, not creditd's.
HOP = {"date", "server", "connection", "transfer-encoding", "content-length", "keep-alive"}


def _words(events):
    return [(t, d) for t, d in events if d != "[DONE]" and json.loads(d).get("choices") and
            json.loads(d)["choices"][0]["delta"].get("content")]


def test_a_stream_arrives_event_by_event_through_apache():
    _prices_seen()
    acct = new_account("p98f-stream")
    names = {}
    for name, base in bases():
        reset()
        mode(output_tokens=5, chunk_interval_ms=400)
        events, heads = event_times(base, acct, body_chat(stream=True, max_completion_tokens=10))
        names[name] = sorted(set(heads) - HOP)
        words = _words(events)
        eq(len(words), 5, "%s: every word: %r" % (name, events))
        check(heads.get("content-type", "").startswith("text/event-stream"), "%s: an event stream" % name)
        check(heads.get("creditd-hold-id", "").startswith("hold_"), "%s: Creditd-Hold-Id on a stream" % name)
        # Paced 400 ms apart, the first word is due at about 0.4 s and the
        # last at about 2 s: buffered on the way, all would come at the end.
        first, last = words[0][0], words[-1][0]
        print("%s: first word at %.2f s, last at %.2f s" % (name, first, last))
        check(first < last - 1.2, "%s: the first word (%.2f s) long before the last (%.2f s)" % (name, first, last))
        gaps = [b[0] - a[0] for a, b in zip(words, words[1:])]
        check(all(g > 0.2 for g in gaps), "%s: each word as the provider sent it: gaps %r" % (name, gaps))
        eq(events[-1][1], "[DONE]", "%s: the stream's end" % name)
        check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "%s: settled" % name)
    # The same headers reach the client (creditd's X-Accel-Buffering is
    # for nginx, which takes it off; Apache's snippet does the same).
    eq(names["Apache"], names["nginx"], "a stream's headers through Apache as through nginx")
    for name, base in bases():
        reset()
        mode(output_tokens=5, chunk_interval_ms=400)
        events, _ = event_times(base, acct, {"model": "claude-haiku-4-5", "max_tokens": 10, "stream": True,
                                             "messages": [{"role": "user", "content": "hi"}]},
                                path="/anthropic/v1/messages", headers={"anthropic-version": "2023-06-01"})
        deltas = [t for t, d in events if json.loads(d)["type"] == "content_block_delta"]
        eq(len(deltas), 5, "%s: Anthropic's deltas: %r" % (name, events))
        check(deltas[0] < deltas[-1] - 1.2, "%s: Anthropic's first delta (%.2f s) long before the last (%.2f s)"
              % (name, deltas[0], deltas[-1]))
        check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "%s: settled" % name)
    eq(reasons(acct), ["provider_usage"] * 4, "all settled with the provider's usage")
    verify()


def test_a_client_gone_mid_stream_through_apache_is_charged_the_provider_s_usage():
    _prices_seen()
    reset()
    acct = new_account("p98f-gone")
    before = state(acct)[0]
    mode(output_tokens=30, chunk_interval_ms=50)
    u = urllib.parse.urlsplit(ENV["CREDITD_APACHE_URL"])
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    body = json.dumps(body_chat(stream=True, max_completion_tokens=100)).encode()
    s.sendall(("POST %s%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\n"
               "Creditd-Account: %s\r\nContent-Length: %d\r\n\r\n" % (u.path, CHAT, key("guard"), acct, len(body))
               ).encode() + body)
    first = s.recv(4096)
    check(first.split(b"\r\n")[0].endswith(b"200 OK"), "the stream began: %r" % first[:100])
    s.close()
    check(wait_until(lambda: state(acct)[1] == 0 and reasons(acct), timeout=20), "settled after the client left")
    eq(reasons(acct), ["client_gone"], "settled as client_gone (docs/gateway.md)")
    rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
               "ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct)
    eq(rows[0][1], "30", "drained: the provider's whole output charged")
    eq(int(rows[0][2]), cost("gpt-4o-mini", int(rows[0][0]), 0, 30), "at the price")
    eq(state(acct), (before - int(rows[0][2]), 0), "the balance moved by it")
    verify()


def _holds_of(acct):
    return sql("SELECT COUNT(*) FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s'" % acct)


def test_transcriptions_of_1_and_20_mb_are_taken_and_26_mib_refused_in_openai_s_shape():
    _prices_seen()
    acct = new_account("p98f-audio")
    base = ENV["CREDITD_APACHE_URL"]
    for size in (1000000, 20000000):
        reset()
        raw, ctype = form([("model", "whisper-1"), ("response_format", "json")],
                          data=b"\xff\xf3" + b"\x00" * (size - 2))
        before = state(acct)[0]
        r = gw(base, TRANSCRIPTIONS, None, acct, raw=raw, headers={"Content-Type": ctype})
        eq(r.status, 200, "%d bytes to transcriptions through Apache: %r" % (size, r))
        up = forwarded()
        eq(len(up), 1, "forwarded once")
        eq(up[0]["json"]["file"]["bytes"], size, "the file forwarded whole")
        charged = int(r.headers["creditd-charged-micros"])
        check(charged > 0, "charged")
        eq(state(acct), (before - charged, 0), "charged what it says, nothing held after")
    reset()
    before = state(acct)
    holds = _holds_of(acct)
    raw, ctype = form([("model", "whisper-1")], data=b"\xff\xf3" + b"\x00" * (26 * MIB))
    r = gw(base, TRANSCRIPTIONS, None, acct, raw=raw, headers={"Content-Type": ctype})
    eq(r.status, 413, "past 25 MiB: %r" % r)
    eq(r.headers.get("content-type"), "application/json", "in JSON")
    eq((r.json["error"]["type"], r.json["error"]["code"]), ("invalid_request_error", "payload_too_large"),
       "OpenAI's shape: %r" % r.json)
    eq(forwarded(), [], "nothing forwarded")
    eq((state(acct), _holds_of(acct)), (before, holds), "nothing held or charged")
    verify()


def _batch_file(size):
    """A batch input file of about size bytes: lines of 100 KB of text."""
    lines, total, i = [], 0, 0
    while total < size:
        ln = line("c%d" % i, text="x" * 100000, max_tokens=1)
        lines.append(ln)
        total += len(json.dumps(ln)) + 1
        i += 1
    return multipart(lines)


def test_a_30_mb_batch_input_file_is_taken_through_apache():
    _prices_seen()
    raw, ctype = _batch_file(30 * 1000 * 1000)
    check(len(raw) > 30 * 1000 * 1000, "past 30 MB: %d" % len(raw))
    for name, base in bases():
        reset()
        acct = new_account("p98f-files")
        r = gw(base, FILES, None, acct, raw=raw, headers={"Content-Type": ctype})
        eq(r.status, 200, "%s: %d bytes to %s (the route takes 200 MB): %r" % (name, len(raw), FILES, r))
        check(r.json["id"].startswith("file"), "%s: the provider's file: %r" % (name, r.json))
        eq([x["path"] for x in forwarded()], ["/v1/files"], "%s: forwarded once" % name)


def _big_json(size):
    return b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' + b"a" * size + b'"}]}'


def _chunked_post(base, path, raw, headers):
    """POSTs raw chunked (no Content-Length: Apache passes such a body on
    as it comes, creditd counts it); (status, JSON body)."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.putrequest("POST", u.path.rstrip("/") + path)
    for k, v in dict(headers, **{"Transfer-Encoding": "chunked", "Connection": "close"}).items():
        c.putheader(k, v)
    c.endheaders()
    try:
        for i in range(0, len(raw), MIB):
            piece = raw[i:i + MIB]
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        c.send(b"0\r\n\r\n")
    except OSError:
        pass    # refused before it all went: the answer is read below
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data)


def test_a_json_body_past_8_mib_is_413_in_the_route_s_provider_s_shape():
    _prices_seen()
    reset()
    acct = new_account("p98f-big")
    before = state(acct)
    raw = _big_json(9 * MIB)
    for name, base in bases():
        r = gw(base, CHAT, None, acct, raw=raw)
        eq(r.status, 413, "%s: 9 MiB of chat: %r" % (name, r))
        eq(r.json, {"error": {"type": "invalid_request_error", "code": "payload_too_large",
                              "message": "request body too large", "param": None}}, "%s: OpenAI's shape" % name)
        r = gw(base, "/anthropic/v1/messages", None, acct, raw=raw, headers={"anthropic-version": "2023-06-01"})
        eq(r.status, 413, "%s: 9 MiB of messages: %r" % (name, r))
        eq((r.json["type"], r.json["error"]["type"]), ("error", "request_too_large"), "%s: Anthropic's shape" % name)
    h = {"Content-Type": "application/json", "Authorization": "Bearer " + key("guard"), "Creditd-Account": acct}
    status, doc = _chunked_post(ENV["CREDITD_APACHE_URL"], CHAT, raw, h)
    eq((status, doc["error"]["code"]), (413, "payload_too_large"), "chunked through Apache: cut at the limit")
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


# ---- the console under /credits ----

def test_the_console_and_its_cookie_under_apache_s_base_path():
    base = ENV["CREDITD_APACHE_URL"]
    path = urllib.parse.urlsplit(base).path.rstrip("/")
    n, a = both("GET", "/console/")
    alike(n, a, "the console's page", body=False)
    eq(a.body, n.body, "the same page")
    check(b"<html" in a.body.lower(), "a page")
    r = req(base, "POST", "/console/session", {"key": ENV["CREDITD_ADMIN_KEY"]})
    eq(r.status, 204, "signed in through Apache: %r" % r)
    eq(len(r.cookies), 1, "one cookie: %r" % r.cookies)
    parts = [p.strip() for p in r.cookies[0].split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}
    eq(name, "creditd_console", "the cookie")
    eq(attrs.get("path"), path + "/console/", "Path is the base's console path")
    eq((attrs.get("httponly"), attrs.get("samesite")), (True, "Strict"), "HttpOnly, SameSite=Strict")
    check("secure" not in attrs, "plain http from loopback: no Secure (docs/api.md): %r" % r.cookies[0])
    jar = {"Cookie": "creditd_console=" + value}
    g = req(base, "GET", "/console/session", headers=jar)
    eq(g.status, 200, "the session read back through Apache: %r" % g)
    csrf = g.json["csrf"]
    acct = new_account("p98f-console")
    g = req(base, "GET", "/console/api/v1/accounts/" + acct, headers=jar)
    eq((g.status, g.json["id"]), (200, acct), "a console read through Apache")
    eq(req(base, "GET", "/v1/accounts/" + acct, headers=jar).status, 401, "/v1 never reads the cookie")
    # A write from the console's own origin (Apache passes the Host it
    # was asked with) is done; from another site it is refused.
    origin = "http://" + urllib.parse.urlsplit(base).netloc
    grant = {"amount_micros": 1000, "source": "promo"}
    for site, want in (("https://evil.example", 403), (origin, 201)):
        w = req(base, "POST", "/console/api/v1/accounts/%s/grants" % acct, grant,
                headers=dict(jar, **{"X-CSRF-Token": csrf, "Origin": site, "Idempotency-Key": uid("c98f")}))
        eq(w.status, want, "a console write from %s through Apache: %r" % (site, w))
    d = req(base, "DELETE", "/console/session", headers=dict(jar, **{"X-CSRF-Token": csrf}))
    eq(d.status, 204, "signed out through Apache: %r" % d)
    check(d.cookies and "path=%s/console/" % path in d.cookies[0].lower() and "max-age=0" in d.cookies[0].lower(),
          "the cookie cleared on its path: %r" % d.cookies)
    eq(req(base, "GET", "/console/session", headers=jar).status, 401, "the session ended")


# ---- mod_fcgid as apache/example-fcgid.conf ships it ----

def _fcgid_apache():
    """An Apache with example-fcgid.conf as test_05_fcgid starts it: (its
    base URL, its process, its dir)."""
    import test_05_fcgid as f5
    d, binary = f5._site_dir()
    site_conf = f5._site_config(d)
    port = free_port()
    conf = os.path.join(d, "apache.conf")
    with open(conf, "w") as fo:
        fo.write(f5._config(d, port, binary))
    out = open(os.path.join(d, "apache.out"), "w")
    proc = subprocess.Popen(["apache2", "-f", conf, "-DFOREGROUND"], stdin=subprocess.DEVNULL, stdout=out,
                            stderr=out, start_new_session=True)
    out.close()
    stack.record("apache2-fcgid-98f", proc.pid)
    base = "http://127.0.0.1:%d/credits" % port

    def up():
        try:
            return req(base, "GET", "/healthz", timeout=5).status == 200
        except OSError:
            return False
    check(wait_until(up, timeout=20), "healthz through mod_fcgid: %s" % f5._logs(d))
    return base, proc, d, binary


def _creditd_processes(binary):
    n = 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink("/proc/%s/exe" % pid) == binary:
                n += 1
        except OSError:
            continue
    return n


def test_mod_fcgid_as_shipped_takes_a_batch_file_streams_and_keeps_its_process_limit():
    import test_05_fcgid as f5
    _prices_seen()
    base, proc, d, binary = _fcgid_apache()
    try:
        acct = new_account("p98f-fcgid")
        h = req(base, "GET", "/healthz")
        eq(vary(h), [], "no Vary through mod_fcgid but what creditd says: %r" % h.headers)
        # An error page of Apache's own: no ETag to revalidate.
        r = req(base, "POST", "/v1/accounts", raw=b"a" * 1100000, auth="admin")
        eq((r.status, r.json["error"]["code"]), (413, "payload_too_large"), "past 1 MiB through mod_fcgid")
        check("etag" not in r.headers, "no ETag on Apache's error: %r" % r.headers)
        # A stream, event by event (FcgidOutputBufferSize 0).
        reset()
        mode(output_tokens=4, chunk_interval_ms=400)
        words = _words(event_times(base, acct, body_chat(stream=True, max_completion_tokens=10))[0])
        eq(len(words), 4, "the words through mod_fcgid")
        check(words[0][0] < words[-1][0] - 0.8, "mod_fcgid: the first word (%.2f s) long before the last (%.2f s)"
              % (words[0][0], words[-1][0]))
        # The process limit (FcgidMaxProcessesPerClass 4) under 8 at once.
        mode(mode="delay", delay_ms=300, count=8)
        threads = [threading.Thread(target=gw, args=(base, CHAT, body_chat(max_completion_tokens=5), acct))
                   for _ in range(8)]
        for t in threads:
            t.start()
        most = 0
        while any(t.is_alive() for t in threads):
            most = max(most, _creditd_processes(binary))
            time.sleep(0.05)
        for t in threads:
            t.join()
        print("mod_fcgid: %d creditd processes at most for 8 calls at once" % most)
        check(1 <= most <= 4, "at most FcgidMaxProcessesPerClass (4) creditd processes: %d" % most)
        # The batch files route takes 200 MB (docs/gateway.md, "Request
        # bodies"): a 30 MB input file is not refused by the web server.
        reset()
        raw, ctype = _batch_file(30 * 1000 * 1000)
        r = gw(base, FILES, None, acct, raw=raw, headers={"Content-Type": ctype})
        eq(r.status, 200, "30 MB to %s through mod_fcgid: %r; %s" % (FILES, r, f5._logs(d)[-600:]))
        # Anthropic's batch create takes 25 MiB as the upload routes do
        # (docs/gateway.md, "Request bodies"): 9 MiB reaches creditd (no
        # key: 401), not Apache's 413.
        r = _post(base, "/anthropic/v1/messages/batches", 9 * MIB, ctype="application/json")
        eq(r[0], 401, "9 MiB to messages/batches through mod_fcgid reaches creditd: %r" % (r[1][:200],))
        # Past 25 MiB elsewhere in the gateway: still 413 in JSON.
        raw, ctype = form([("model", "whisper-1")], data=b"\xff\xf3" + b"\x00" * (26 * MIB))
        r = gw(base, TRANSCRIPTIONS, None, acct, raw=raw, headers={"Content-Type": ctype})
        eq((r.status, (r.json or {}).get("error", {}).get("code")), (413, "payload_too_large"),
           "26 MiB to transcriptions through mod_fcgid: %r" % r)
    finally:
        f5._stop_group(proc)
        stack.forget("apache2-fcgid-98f")
