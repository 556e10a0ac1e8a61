"""test_51_php_client.py: the PHP package creditd/client (clients/php) against the real stack.

tests/integration/php/package_flow.php drives the package once per
transport (ext-curl and the http stream wrapper) and prints what it saw as
JSON; the assertions are here, with expected costs from GET /v1/models and
DESIGN's formula. Around it, local servers stand in for what the stack has
not: one answering 503 with Retry-After, a proxy that loses the first answer
of each write (forwarded to creditd, then 503) to prove the retries replay
rather than repeat, and a model provider whose SSE streams break off
mid-way. The package's own unit tests (phpunit) and `composer validate
--strict` run here too, and a Composer project installs it from a path
repository, offline.
"""
import contextlib
import hashlib
import hmac
import http.client
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

from lib import ENV, Fail, api, check, eq, verify

from test_50_clients import (cache_write_model, cache_writes, closed_url, cost, hold_state, plan_pro,
                             unavailable_server, usage_row)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PKG = os.path.join(ROOT, "clients", "php")
NS = "Creditd\\Exception\\"


def need(tool, package):
    path = shutil.which(tool)
    if path is None:
        raise Fail("%s is missing: apt-get install %s" % (tool, package))
    return path


# ---- local servers ----


@contextlib.contextmanager
def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Flaky(http.server.BaseHTTPRequestHandler):
    """A proxy to creditd. The first try of each write (by Idempotency-Key) is
    forwarded and committed, and its answer lost: the client gets 503
    unavailable with Retry-After: 1. Later tries are forwarded as they are."""
    protocol_version = "HTTP/1.1"
    seen = {}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _forward(self, body):
        u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        path = self.path[len("/credits"):] if self.path.startswith("/credits") else self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request(self.command, u.path.rstrip("/") + path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data, r.getheader("Content-Type") or "application/json"

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        key = self.headers.get("Idempotency-Key")
        status, data, ctype = self._forward(body)
        with self.lock:
            tries = self.seen.setdefault(key, [])
            tries.append((self.command, self.path.split("?")[0], body, status))
            lose = self.command != "GET" and key is not None and len(tries) == 1
        if lose:
            status, data, ctype = 503, json.dumps({"error": {
                "type": "api_error", "code": "unavailable", "message": "lost on the way back", "param": None}}).encode(), \
                "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if lose:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle


def _sse(events):
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


def openai_events(texts):
    chunks = [{"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
               "usage": None}]
    chunks += [{"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t}}], "usage": None}
               for t in texts]
    chunks.append({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": None})
    chunks.append({"object": "chat.completion.chunk", "choices": [],
                   "usage": {"prompt_tokens": 1012, "completion_tokens": 31,
                             "prompt_tokens_details": {"cached_tokens": 12}}})
    return chunks


def anthropic_events(texts):
    ev = [{"type": "message_start", "message": {"type": "message", "role": "assistant", "content": [],
                                                "usage": {"input_tokens": 950, "cache_creation_input_tokens": 30,
                                                          "cache_read_input_tokens": 20, "output_tokens": 1}}},
          {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
    ev += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}} for t in texts]
    ev += [{"type": "content_block_stop", "index": 0},
           {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 27}},
           {"type": "message_stop"}]
    return ev


TEXTS = ["The quick", " brown fox", " jumps over", " the lazy", " dog, twice."]


class _Provider(http.server.BaseHTTPRequestHandler):
    """GET /openai|anthropic/full|cut|nothing: an SSE stream; `cut` breaks the
    connection after three text pieces (chunked encoding left unfinished),
    `nothing` right after the first event, before any text."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        _, kind, how = self.path.split("/")
        events = openai_events(TEXTS) if kind == "openai" else anthropic_events(TEXTS)
        if how == "cut":
            events = events[:1 + 3] if kind == "openai" else events[:2 + 3]
        elif how == "nothing":
            events = events[:1]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for e in events:
            data = _sse([e])
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(0.01)
        if how == "full":
            self.wfile.write(b"0\r\n\r\n")
        else:
            half = b'data: {"type": "content_block_delta", "delta": {"text": "half'
            self.wfile.write(b"%x\r\n%s" % (len(half) + 40, half))  # a chunk promised, never finished
            self.wfile.flush()
        self.close_connection = True


# ---- the flow ----


def _flow(transport):
    php = need("php", "php-cli php-curl")
    prefix = "php51-%s-%d" % (transport, int(time.time() * 1000) % 10 ** 9)
    secret = "whsec_" + "k" * 32
    event = json.dumps({"id": 7, "type": "balance.low", "account": prefix, "data": {"available_micros": 5}})
    ts = int(time.time())
    header = "t=%d,v1=%s" % (ts, hmac.new(secret.encode(), ("%d.%s" % (ts, event)).encode(), hashlib.sha256).hexdigest())
    _Flaky.seen = {}
    with unavailable_server() as (down, _seen), serve(_Flaky) as flaky, serve(_Provider) as prov:
        env = dict(os.environ, CREDITD_URL=ENV["CREDITD_URL"], CREDITD_ADMIN_KEY=ENV["CREDITD_ADMIN_KEY"],
                   CREDITD_GUARD_KEY=ENV["CREDITD_GUARD_KEY"], CREDITD_READ_KEY=ENV["CREDITD_READ_KEY"],
                   CREDITD_APP_KEY=ENV["CREDITD_APP_KEY"], PREFIX=prefix, UNAVAILABLE_URL=down,
                   CLOSED_URL=closed_url(), FLAKY_URL="http://127.0.0.1:%d/credits" % flaky.server_address[1],
                   PROVIDER_URL="http://127.0.0.1:%d" % prov.server_address[1],
                   EVENT_BODY=event, EVENT_HEADER=header, EVENT_SECRET=secret)
        p = subprocess.run([php, "-d", "display_errors=stderr", os.path.join(HERE, "php", "package_flow.php"),
                            transport], capture_output=True, text=True, timeout=180, env=env)
    if p.returncode != 0:
        raise Fail("php package_flow.php %s: exit %d\n%s%s" % (transport, p.returncode, p.stdout[-3000:], p.stderr))
    try:
        return prefix, json.loads(p.stdout), dict(_Flaky.seen)
    except ValueError:
        raise Fail("php printed no JSON: %s%s" % (p.stdout[-3000:], p.stderr)) from None


def _refused(info, cls, status, code):
    eq((info["class"], info["status"], info["code"]), (NS + cls, status, code), "%s refusal: %r" % (cls, info))


def _check(transport):
    plan_pro()
    prefix, out, flaky = _flow(transport)
    eq(out["transport"], transport, "transport used")
    models = out["models"]
    acct = prefix + "-main"

    # accounts
    eq(out["created"]["id"], acct, "created")
    eq(out["created_again"], out["created"], "the same body again")
    eq(out["odd_get"]["id"], prefix + " a/b?c#d%é", "an id needing URL encoding")
    eq((out["patched"]["monthly_limit_micros"], out["patched"]["plan"]), (None, "pro"), "clear() sends null")
    eq((out["emailed"]["email"], out["unemailed"]["email"]), ("ops@example.com", None), "an email set, cleared")
    eq(out["email_created"]["email"], "ann@example.org", "an email at creation")
    _refused(out["bad_email"], "InvalidRequest", 400, "invalid_request")
    eq(out["healthz"], {"status": "ok"}, "healthz")
    start = out["account_before"]["balance_micros"]

    # authorize / settle / release, exact costs
    hold = out["authorize"]
    eq(hold["amount_micros"], cost(models, "gpt-4o", 1200, 800), "hold (1200.0 and '800' sent as integers)")
    eq(hold["max_output_tokens"], 800, "the output held for")
    shrunk = out["shrunk"]
    check(1 <= shrunk["max_output_tokens"] < 1000, "min_output_tokens passed through: shrunk %r" % shrunk)
    eq(shrunk["amount_micros"], cost(models, "gpt-4o", 100, shrunk["max_output_tokens"]), "the shrunk hold's cost")
    want = cost(models, "gpt-4o", 1200, 350, cached=200)
    eq(out["settle"]["charged_micros"], want, "settled the exact cost")
    eq(out["settle_again"], out["settle"], "settle replayed")
    a = out["account_after_settle"]
    eq((a["balance_micros"], a["reserved_micros"]), (start - want, 0), "account after settle")
    eq(out["release"]["state"], "released", "release")
    eq(hold_state(hold["hold_id"]), "settled", "settled hold row")
    _refused(out["settle_released"], "Conflict", 409, "conflict")
    eq(out["account_after_release"]["reserved_micros"], 0, "nothing reserved")

    # refusals, typed
    need_ = cost(models, "gpt-4o", 100000, 1000)
    ins = out["insufficient"]
    _refused(ins, "InsufficientCredits", 402, "insufficient_credits")
    eq((ins["type"], ins["available_micros"], ins["required_micros"]), ("insufficient_quota", 1000, need_), "402 body")
    _refused(out["limit"], "BillingHardLimitReached", 429, "billing_hard_limit_reached")
    eq(out["limit"]["required_micros"], need_, "429 amounts")
    _refused(out["daily"], "DailyLimitReached", 429, "daily_limit_reached")
    _refused(out["suspended"], "AccountSuspended", 403, "account_suspended")
    rl = out["rate_limited"]
    _refused(rl, "RateLimited", 429, "rate_limit_exceeded")
    check(isinstance(rl["retry_after"], int) and 1 <= rl["retry_after"] <= 60, "retry_after: %r" % rl)
    nf = out["not_found"]
    _refused(nf, "NotFound", 404, "not_found")
    eq(nf["body"]["error"]["type"], "not_found_error", "getBody()")
    _refused(out["conflict_create"], "Conflict", 409, "conflict")
    bad = out["bad_request"]
    _refused(bad, "InvalidRequest", 400, "invalid_request")
    eq(bad["param"], "model", "400 param")
    _refused(out["wrong_scope"], "Forbidden", 403, "forbidden")
    check(out["float_refused"] and "input_tokens" in out["float_refused"], "a fractional float never leaves")

    # idempotency and paging
    eq(out["grant_replay"], out["grant_first"], "idempotent replay")
    _refused(out["grant_other_body"], "Conflict", 409, "conflict")
    eq(out["grant_other_body"]["param"], "idempotency_key", "another body with the key")
    want_ids = [t["id"] for t in out["all_page"]["data"]]
    check(len(want_ids) >= 3, "entries for two pages of 2: %d" % len(want_ids))
    eq(out["iter_ids"], want_ids, "iterTransactions walked every page")
    eq(sum(1 for t in out["all_page"]["data"] if t["amount_micros"] == 1234), 1, "the replayed grant once")

    # members, usage, usage report, top-up, promo, plans, browser token
    eq((out["member_added"]["member"], out["member_added"]["monthly_cap_micros"]), ("bob/2", 50000), "member")
    _refused(out["member_removed_again"], "NotFound", 404, "not_found")
    eq(out["record_usage"]["charged_micros"], cost(models, "gpt-3.5-turbo", 300, 120), "recordUsage")
    rep = out["usage"]
    eq((rep["account"], rep["group_by"]), (acct, "model"), "usage report")
    by_model = {r["model"]: r for r in rep["data"]}
    eq((by_model["gpt-3.5-turbo"]["requests"], by_model["gpt-3.5-turbo"]["cost_micros"]),
       (1, cost(models, "gpt-3.5-turbo", 300, 120)), "usage report: the recorded usage")
    eq(by_model["gpt-4o"]["cost_micros"], want, "usage report: the settle")
    _refused(out["usage_refused"], "InsufficientCredits", 402, "insufficient_credits")
    forced = out["usage_forced"]
    eq((forced["charged_micros"], forced.get("forced")), (need_, True), "force charges it anyway")
    check(out["poor_after_force"]["balance_micros"] < 0, "forced below zero")
    eq((out["topup_read_key"]["status"], out["topup_read_key"]["code"]), (403, "forbidden"), "a read key: no top-up")
    check(out["topup"]["checkout_url"].startswith("https://"), "top-up: %r" % out["topup"])
    check("pro" in [p["name"] for p in out["plans"]["data"]], "plans lists pro")
    eq(out["redeemed"]["amount_micros"], 2500000, "redeemed (any case)")
    _refused(out["redeemed_again"], "AlreadyRedeemed", 409, "already_redeemed")
    _refused(out["redeem_unknown"], "NotFound", 404, "not_found")
    check(out["browser_token"]["token"] and out["browser_token"]["expires_at"], "browser token")
    eq(out["alerts_set"]["alerts"], [{"kind": "balance_below", "micros": out["alert_threshold"], "state": "armed"},
                                     {"kind": "daily_spend_pct", "pct": 50, "state": "armed"}], "alerts set")
    _refused(out["alerts_bad"], "InvalidRequest", 400, "invalid_request")
    eq(out["alerts_bad"]["param"], "alerts[0].pct", "the bad alert's field named")
    eq([a["state"] for a in out["alerts_after"]["alerts"]], ["fired", "armed"], "the debit crossed one")
    eq(out["referral_code_again"], out["referral_code"], "the referral code is stable")
    eq(out["referred"]["id"], prefix + "-referred", "created with the referral code")
    _refused(out["referral_unknown"], "InvalidRequest", 400, "invalid_request")
    eq(out["referral_unknown"]["param"], "referral_code", "an unknown code names the field")

    # events
    check(len(out["events_walked"]) >= 7, "events walked: %r" % out["events_walked"])
    # The big page is read after the walk: events the sweeper wrote in
    # between may follow, the walk's must come first, in order, once each.
    eq(out["events_page"][:len(out["events_walked"])], out["events_walked"], "iterEvents with after, page by page")
    eq(out["event_verified"]["id"], 7, "a pushed event verified")
    eq(out["event_tampered"]["class"], NS + "BadSignature", "a tampered event refused")

    # transport failures
    un = out["unavailable"]
    _refused(un, "Unavailable", 503, "unavailable")
    eq(un["retry_after"], 7, "Retry-After")
    eq((out["closed"]["class"], out["closed"]["status"]), (NS + "ConnectionFailed", None), "no answer")

    _check_retries(out, flaky, models, prefix)
    _check_guard(out, models)
    _check_provider(out, models)


def _check_retries(out, flaky, models, prefix):
    """Every write's first answer was lost; the retry, with the same key and body, got the first result."""
    writes = {k: v for k, v in flaky.items() if k is not None}
    check(len(writes) >= 5, "writes through the flaky proxy: %r" % list(flaky))
    retried = [v for v in writes.values() if len(v) > 1]
    eq(len(retried), 4, "four writes retried (create, grant, authorize, settle)")
    for tries in retried:
        eq(len({(m, p, b) for m, p, b, _ in tries}), 1, "the same request each try")
        eq(len(tries), 2, "one retry each")
    facct = prefix + "-flaky"
    eq(out["flaky_created"]["id"], facct, "created through retries")
    h = out["flaky_hold"]
    eq(h["amount_micros"], cost(models, "gpt-4o", 500, 100), "one hold")
    want = cost(models, "gpt-4o", 500, 40)
    eq(out["flaky_settle"]["charged_micros"], want, "settled once")
    a = out["flaky_account"]
    grants = [t for t in out["flaky_journal"] if t["amount_micros"] == 777]
    eq(len(grants), 1, "the retried grant is in the journal once")
    usage = [t for t in out["flaky_journal"] if t["cause"] == "usage"]
    eq([t["amount_micros"] for t in usage], [-want], "one usage charge")
    eq(a["reserved_micros"], 0, "no hold left pending")
    nr = out["flaky_no_retry"]
    _refused(nr, "Unavailable", 503, "unavailable")
    eq(nr["retry_after"], 1, "retries off: the 503 thrown")


def _check_guard(out, models):
    """The guard helper with hand-fed streams: as test_50's PHP flow checked it."""
    cut = out["guard_cut_text"]
    eq((cut["thrown"], cut["partial"]), ("ProviderCut", True), "the provider's exception rethrown, partial")
    est = max(4, -(-len("Hello, world and the rest") // 4))
    eq(cut["produced"]["output_tokens"], est, "estimated output tokens")
    want1 = cost(models, "gpt-4o", 1000, est)
    eq((hold_state(cut["hold_id"]), cut["settled"]["charged_micros"], cut["released"]), ("settled", want1, None),
       "a cut stream is settled, not released")
    eq(usage_row(cut["hold_id"]), (1000, est, 0, want1), "usage recorded with the produced output")
    counted = out["guard_cut_counted"]
    want2 = cost(models, "gpt-4o", 1040, 12)
    eq((counted["thrown"], hold_state(counted["hold_id"]), counted["settled"]["charged_micros"]),
       ("ProviderCut", "settled", want2), "counted tokens and reported input")
    early = out["guard_cut_early_usage"]
    want4 = cost(models, "gpt-4o", 1000, 3)
    eq((early["thrown"], early["settled"]["charged_micros"]), ("ProviderCut", want4), "an early usage lags")
    empty = out["guard_cut_empty"]
    eq((empty["thrown"], hold_state(empty["hold_id"]), empty["settled"], empty["released"]["state"]),
       ("ProviderCut", "released", None, "released"), "nothing produced: released")
    done = out["guard_complete"]
    want3 = cost(models, "gpt-4o", 1010, 42, cached=10)
    eq((done["thrown"], done["result"], done["partial"]), (None, "Hi there", False), "a normal completion")
    eq(usage_row(done["hold_id"]), (1010, 42, 10, want3), "usage as reported")
    a = out["guard_balance_after"]
    eq((a["balance_micros"], a["reserved_micros"]), (out["guard_balance_before"] - want1 - want2 - want3 - want4, 0),
       "charged exactly the four settles")
    three = cost(models, "gpt-4o", 1000, 3)
    for name in ("guard_cap_chunks", "guard_cap_early_usage"):
        c = out[name]
        eq((c["thrown"], c["produced"]["output_tokens"], c["settled"]["charged_micros"]), ("ProviderCut", 3, three),
           "%s: an estimate never past the hold's max_output_tokens" % name)
    eq(out["guard_cap_reported"]["settled"]["charged_micros"], cost(models, "gpt-4o", 1000, 7), "reported as reported")
    c = out["guard_cached_above_input"]
    eq((c["produced"], c["settled"]["charged_micros"]),
       ({"input_tokens": 100, "output_tokens": 5, "cached_input_tokens": 100, "cache_write_input_tokens": None},
        cost(models, "gpt-4o", 100, 5, cached=100)),
       "cached input clamped")
    c = out["guard_negative_usage"]
    eq(c["produced"], {"input_tokens": 1000, "output_tokens": 2, "cached_input_tokens": None,
                       "cache_write_input_tokens": None}, "negatives dropped")
    eq(out["guard_code_points"]["output_tokens"], 2, "eight code points, two tokens")


def _check_provider(out, models):
    """Real SSE over HTTP from a fake provider, read with the flow's transport."""
    so_far = "".join(TEXTS[:3])
    est = max(3, -(-len(so_far) // 4))
    c = out["prov_openai_cut"]
    want_oc = cost(models, "gpt-4o", 1000, est)
    eq((c["thrown"], c["partial"], c["result"]), ("ProviderCut", True, None), "OpenAI stream cut: rethrown")
    eq(usage_row(c["hold_id"]), (1000, est, 0, want_oc), "OpenAI cut: the text streamed so far, input authorized")
    c = out["prov_openai_full"]
    want_of = cost(models, "gpt-4o", 1012, 31, cached=12)
    eq((c["thrown"], c["result"]), (None, "".join(TEXTS)), "OpenAI full stream")
    eq(usage_row(c["hold_id"]), (1012, 31, 12, want_of), "OpenAI: the include_usage chunk settled")
    # Anthropic: 950 input + 30 cache writes + 20 cache reads, the writes at the cache-write price.
    model = cache_write_model(models)
    c = out["prov_anthropic_cut"]
    want_ac = cost(models, model, 1000, est, cached=20, cache_write=30)
    eq((c["thrown"], c["partial"]), ("ProviderCut", True), "Anthropic stream cut: rethrown")
    eq(usage_row(c["hold_id"]), (1000, est, 20, want_ac), "Anthropic cut: message_start input, text so far")
    eq(cache_writes(c["hold_id"]), 30, "Anthropic cut: message_start's cache writes")
    c = out["prov_anthropic_full"]
    want_af = cost(models, model, 1000, 27, cached=20, cache_write=30)
    check(want_af > cost(models, model, 1000, 27, cached=20), "the writes at the input price would be less")
    eq(usage_row(c["hold_id"]), (1000, 27, 20, want_af), "Anthropic: message_delta's output tokens")
    eq(cache_writes(c["hold_id"]), 30, "Anthropic: the cache writes")
    c = out["prov_openai_nothing"]
    eq((c["thrown"], c["settled"], c["released"]["state"], hold_state(c["hold_id"])),
       ("ProviderCut", None, "released", "released"), "cut before any output: released")
    a = out["prov_account"]
    eq((a["balance_micros"], a["reserved_micros"]),
       (out["prov_balance_before"] - want_oc - want_of - want_ac - want_af, 0), "charged exactly the four settles")
    want_cw = cost(models, model, 4000, 21, cached=600, cache_write=3000)
    eq(out["cw_settle"]["charged_micros"], want_cw, "settle() with cache writes")
    eq(cache_writes(out["cw_hold_id"]), 3000, "settle()'s cache writes recorded")
    eq(out["cw_usage"]["charged_micros"], want_cw, "recordUsage() with cache writes (a whole float sent as an integer)")
    eq(out["cw_account"]["balance_micros"], out["cw_balance_before"] - 2 * want_cw, "charged exactly the two")


def test_php_package_with_curl():
    _check("curl")


def test_php_package_with_streams():
    _check("stream")
    verify()


def test_php_package_unit_tests_and_composer():
    """phpunit over clients/php/tests; composer validate --strict; a path-repository install, offline."""
    phpunit = need("phpunit", "phpunit")
    composer = need("composer", "composer")
    p = subprocess.run([phpunit, "--configuration", os.path.join(PKG, "phpunit.xml")], cwd=PKG,
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0 or "OK (" not in p.stdout:
        raise Fail("phpunit: exit %d\n%s%s" % (p.returncode, p.stdout[-4000:], p.stderr[-2000:]))
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, COMPOSER_HOME=home, COMPOSER_CACHE_DIR=os.path.join(home, "cache"),
                   COMPOSER_DISABLE_NETWORK="1", COMPOSER_NO_INTERACTION="1", COMPOSER_ALLOW_SUPERUSER="1")
        p = subprocess.run([composer, "validate", "--strict", "--no-check-publish"], cwd=PKG,
                           capture_output=True, text=True, timeout=120, env=env)
        eq(p.returncode, 0, "composer validate --strict: %s%s" % (p.stdout, p.stderr))
        app = os.path.join(home, "app")
        os.mkdir(app)
        with open(os.path.join(app, "composer.json"), "w") as f:
            json.dump({"name": "example/app", "description": "uses creditd", "license": "MIT",
                       "repositories": [{"type": "path", "url": PKG, "options": {"symlink": False}},
                                        {"packagist.org": False}],
                       "require": {"creditd/client": "*@dev"}}, f)
        p = subprocess.run([composer, "install", "--no-progress"], cwd=app, capture_output=True, text=True,
                           timeout=300, env=env)
        eq(p.returncode, 0, "composer install from the path repository: %s%s" % (p.stdout, p.stderr))
        installed = os.path.join(app, "vendor", "creditd", "client", "LICENSE")
        check(os.path.exists(installed), "the installed package carries LICENSE (MIT)")
        with open(installed) as f, open(os.path.join(ROOT, "LICENSE")) as top:
            eq(f.read(), top.read(), "its LICENSE is creditd's")
        script = ("require 'vendor/autoload.php'; $c = new Creditd\\Client(getenv('CREDITD_URL'), 'k');"
                  "echo json_encode([$c->healthz(), class_exists('Creditd\\\\Exception\\\\InsufficientCredits')]);")
        p = subprocess.run([need("php", "php-cli"), "-r", script], cwd=app, capture_output=True, text=True,
                           timeout=60, env=dict(env, CREDITD_URL=ENV["CREDITD_URL"]))
        eq((p.returncode, p.stdout), (0, '[{"status":"ok"},true]'), "the installed package: %s" % p.stderr)
