"""test_50_clients.py: the Python client (clients/python, package `creditd`) against the real stack.

The package is imported from clients/python/src and driven here; expected
costs come from GET /v1/models and DESIGN's formula. (The PHP and Node
clients have tests of their own, test_51 and test_52; the asyncio client,
test_54.)
"""
import contextlib
import http.server
import os
import re
import socket
import sys
import threading
import uuid

import lib
from lib import ENV, Fail, api, check, eq, sql, uid, verify

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))

import creditd as cc  # noqa: E402

# ---- helpers ----


def admin():
    return cc.Creditd(ENV["CREDITD_URL"], ENV["CREDITD_ADMIN_KEY"])


def guard_client():
    return cc.Creditd(ENV["CREDITD_URL"], ENV["CREDITD_GUARD_KEY"])


def reader():
    return cc.Creditd(ENV["CREDITD_URL"], ENV["CREDITD_READ_KEY"])


def app_client():
    """An app backend's key: what read does, plus top-ups, redeem and browser tokens."""
    return cc.Creditd(ENV["CREDITD_URL"], ENV["CREDITD_APP_KEY"])


def cost(models, model, input_tokens, output_tokens, cached=0, cache_write=0):
    """ceil(((in - cached - cache_write)*p_in + cached*p_cached + cache_write*p_cache_write + out*p_out)
    * margin_bps / 10^10), integer math."""
    m = {row["model"]: row for row in models["data"]}[model]
    base = ((input_tokens - cached - cache_write) * m["input_micros_per_mtok"]
            + cached * m["cached_input_micros_per_mtok"] + cache_write * m["cache_write_micros_per_mtok"]
            + output_tokens * m["output_micros_per_mtok"])
    return -(-(base * models["margin_bps"]) // 10 ** 10)


# A model whose cache writes are priced apart from its input (etc/prices.csv).
CACHE_WRITE_MODEL = "claude-sonnet-4-20250514"


def cache_write_model(models):
    """CACHE_WRITE_MODEL, checked to price a cache write above an input token."""
    m = {row["model"]: row for row in models["data"]}[CACHE_WRITE_MODEL]
    check(m["cache_write_micros_per_mtok"] > m["input_micros_per_mtok"],
          "%s: a cache write costs more than an input token: %r" % (CACHE_WRITE_MODEL, m))
    return CACHE_WRITE_MODEL


def raises(cls, fn, *args, **kwargs):
    """Calls fn, which must raise exactly cls; returns the exception."""
    try:
        fn(*args, **kwargs)
    except cc.CreditdError as e:
        eq(type(e), cls, "exception class (%s)" % e)
        return e
    raise Fail("%s did not raise %s" % (getattr(fn, "__name__", fn), cls.__name__))


def hold_state(hold_id):
    rows = sql("SELECT state FROM holds WHERE id = %d" % lib.hold_parts(hold_id)[1])
    eq(len(rows), 1, "hold row of %s" % hold_id)
    return rows[0][0]


def funded(micros, prefix="cli"):
    """An account holding exactly `micros` (the signup bonus minus a debit)."""
    c = admin()
    acct = uid(prefix)
    bonus = c.create_account(acct)["balance_micros"]
    check(bonus > micros, "the signup bonus covers the set-up")
    c.debit(acct, bonus - micros, "test set-up")
    eq(c.get_account(acct)["balance_micros"], micros, "set-up balance")
    return acct


class _Answer503(http.server.BaseHTTPRequestHandler):
    """Answers everything as creditd does while its database is down."""

    seen = None

    def _answer(self):
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"error":{"type":"api_error","code":"unavailable","message":"database unavailable","param":null}}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def unavailable_server():
    """A local HTTP server answering 503 with Retry-After: 7; yields its URL and
    the list of the requests' headers it saw."""
    seen = []
    handler = type("Answer503", (_Answer503,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d/credits" % server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def closed_url():
    """A loopback URL nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d" % port


# ---- Python client ----


def plan_pro():
    """The catalogued plan the client flows put accounts on."""
    r = api("PUT", "/v1/plans/pro", {"credits_micros": 0, "rollover": "none"})
    eq(r.status, 200, "plan pro: %r" % r)


def test_python_accounts_and_not_found():
    plan_pro()
    c = admin()
    acct = uid("cli")
    created = c.create_account(acct, monthly_limit_micros=50000000, plan=None)
    eq(created["id"], acct, "created id")
    eq(created["monthly_limit_micros"], 50000000, "limit sent")
    eq(created["plan"], None, "None fields are not sent")
    eq(c.create_account(acct, monthly_limit_micros=50000000), created, "the same body again answers the account")
    got = reader().get_account(acct)
    eq((got["id"], got["balance_micros"], got["reserved_micros"]), (acct, created["balance_micros"], 0), "get")
    patched = c.patch_account(acct, monthly_limit_micros=cc.CLEAR, plan="pro", low_balance_micros=None)
    eq((patched["monthly_limit_micros"], patched["plan"]), (None, "pro"), "CLEAR sends null, None is left out")
    eq(created["email"], None, "no email")
    eq(c.patch_account(acct, email="ops@example.com")["email"], "ops@example.com", "an email set")
    eq(reader().get_account(acct)["email"], "ops@example.com", "and shown")
    eq(c.patch_account(acct, email=cc.CLEAR)["email"], None, "CLEAR removes it")
    mailed = uid("cli")
    eq(c.create_account(mailed, email="ann@example.org")["email"], "ann@example.org", "an email at creation")
    e = raises(cc.InvalidRequest, c.patch_account, acct, email="Ann <ann@example.org>")
    eq((e.status, e.param), (400, "email"), "a display name refused, naming email")

    e = raises(cc.NotFound, reader().get_account, uid("nobody"))
    eq((e.status, e.code, e.type), (404, "not_found", "not_found_error"), "404 fields")
    check(isinstance(e, cc.CreditdError) and e.message, "a CreditdError with a message")
    eq(e.body["error"]["code"], "not_found", "the whole body")
    e = raises(cc.Conflict, c.create_account, acct, kind="workspace")
    eq((e.status, e.code, e.type), (409, "conflict", "conflict_error"), "409 fields")
    e = raises(cc.InvalidRequest, guard_client().authorize, acct, uid("req"), model="no-such-model", input_tokens=1)
    eq((e.status, e.code, e.param), (400, "invalid_request", "model"), "400 names the field")
    e = raises(cc.Forbidden, reader().grant, acct, 1, "promo")
    eq((e.status, e.code), (403, "forbidden"), "a read key cannot grant")

    # Ids are one escaped path segment each.
    odd = uid("cli") + " a/b?c#d%é"
    eq(c.create_account(odd)["id"], odd, "odd id created")
    eq(reader().get_account(odd)["id"], odd, "odd id read back")
    eq(c.healthz(), {"status": "ok"}, "healthz")
    apache = ENV.get("CREDITD_APACHE_URL")
    if apache:
        # Not `odd` itself: Apache answers 404 to an encoded slash (%2F) unless
        # the vhost sets AllowEncodedSlashes NoDecode.
        spaced = uid("cli") + " a?c#d%é"
        c.create_account(spaced)
        eq(cc.Creditd(apache, ENV["CREDITD_READ_KEY"]).get_account(spaced)["id"], spaced, "through Apache at /credits")


def test_python_authorize_settle_charges_the_exact_cost():
    models = reader().models()
    acct = funded(5000000)
    g = guard_client()
    hold = g.authorize(acct, uid("req"), model="gpt-4o", input_tokens=1200, max_output_tokens=800)
    eq(hold["amount_micros"], cost(models, "gpt-4o", 1200, 800), "hold = worst-case cost")
    eq(hold["available_micros"], 5000000 - hold["amount_micros"], "available after the hold")
    eq(hold["max_output_tokens"], 800, "the output cap to give the model")
    eq(reader().get_account(acct)["reserved_micros"], hold["amount_micros"], "reserved")
    poor = funded(cost(models, "gpt-4o", 1000, 100))
    small = g.authorize(poor, uid("req"), model="gpt-4o", input_tokens=1000, max_output_tokens=500,
                        min_output_tokens=10)
    eq(small["max_output_tokens"], 100, "shrunk to what the account can cover (min_output_tokens passed)")
    want = cost(models, "gpt-4o", 1200, 350, cached=200)
    settled = g.settle(hold["hold_id"], 1200, 350, cached_input_tokens=200)
    eq(settled["charged_micros"], want, "charged the exact cost")
    eq(settled["released_micros"], hold["amount_micros"] - want, "released the rest")
    eq(settled["balance_micros"], 5000000 - want, "balance")
    eq(settled["late"], False, "not late")
    eq(g.settle(hold["hold_id"], 1200, 350, cached_input_tokens=200), settled, "settling again replays")
    e = raises(cc.Conflict, g.release, hold["hold_id"])
    eq(e.param, "hold_id", "a settled hold cannot be released")
    a = reader().get_account(acct)
    eq((a["balance_micros"], a["reserved_micros"]), (5000000 - want, 0), "account after settle")
    eq(hold_state(hold["hold_id"]), "settled", "hold state")

    # Action holds and direct usage.
    price = {row["action"]: row["price_micros"] for row in models["actions"]}["summary"]
    act = g.authorize(acct, uid("req"), action="summary")
    eq(act["amount_micros"], price, "action hold")
    eq(g.settle(act["hold_id"], 0, 0)["charged_micros"], price, "action settled")
    rid = uid("batch")
    used = g.record_usage(acct, model="gpt-3.5-turbo", input_tokens=300, output_tokens=120, request_id=rid)
    eq(used["charged_micros"], cost(models, "gpt-3.5-turbo", 300, 120), "direct usage cost")
    eq(g.record_usage(acct, model="gpt-3.5-turbo", input_tokens=300, output_tokens=120, request_id=rid)
       ["balance_micros"], used["balance_micros"], "a repeated request_id is recorded once")
    report = reader().usage(acct, group_by="model")
    check(isinstance(report, dict), "usage report: %r" % report)
    verify()


def test_python_refusals_carry_the_amounts():
    models = reader().models()
    acct = funded(1000)
    need = cost(models, "gpt-4o", 100000, 1000)
    e = raises(cc.InsufficientCredits, guard_client().authorize, acct, uid("req"), model="gpt-4o",
               input_tokens=100000, max_output_tokens=1000)
    eq((e.status, e.code, e.type), (402, "insufficient_credits", "insufficient_quota"), "402 fields")
    eq((e.available_micros, e.required_micros), (1000, need), "available and required")
    e = raises(cc.InsufficientCredits, admin().debit, acct, 5000, "too much")
    eq(e.status, 402, "a debit beyond the available balance")

    capped = uid("cli")
    admin().create_account(capped, monthly_limit_micros=1000)
    e = raises(cc.BillingHardLimitReached, guard_client().authorize, capped, uid("req"), model="gpt-4o",
               input_tokens=100000, max_output_tokens=1000)
    eq((e.status, e.code, e.type), (429, "billing_hard_limit_reached", "insufficient_quota"), "429 fields")
    eq(e.required_micros, need, "429 required")


def test_python_idempotency_key_replays_the_same_body():
    c = admin()
    acct = uid("cli")
    c.create_account(acct)
    key = uid("idem")
    first = c.grant(acct, 1234, "promo", idempotency_key=key, description="client test")
    again = c.grant(acct, 1234, "promo", idempotency_key=key, description="client test")
    eq(again, first, "the same key and body replay the first answer")
    e = raises(cc.Conflict, c.grant, acct, 999, "promo", idempotency_key=key, description="client test")
    eq(e.param, "idempotency_key", "another body with the key")
    grants = [t for t in c.iter_transactions(acct) if t["amount_micros"] == 1234]
    eq(len(grants), 1, "granted once")

    g = guard_client()
    hold = g.authorize(acct, uid("req"), model="gpt-4o", input_tokens=10, max_output_tokens=10)
    key = uid("idem")
    first = g.release(hold["hold_id"], idempotency_key=key)
    eq(first["state"], "released", "release")
    eq(g.release(hold["hold_id"], idempotency_key=key), first, "release replayed")
    eq(reader().get_account(acct)["reserved_micros"], 0, "nothing reserved")


def test_python_iter_transactions_walks_every_page():
    c = admin()
    acct = uid("cli")
    c.create_account(acct)
    for i in range(6):
        c.grant(acct, 1000 + i, "promo")
    everything = c.transactions(acct, limit=200)
    eq(everything["next_cursor"], None, "one page holds all")
    want = [t["id"] for t in everything["data"]]
    eq(len(want), 7, "signup bonus + 6 grants")
    first = c.transactions(acct, limit=2)
    eq(len(first["data"]), 2, "page size")
    check(first["next_cursor"], "a next cursor")
    eq([t["id"] for t in c.iter_transactions(acct, page_size=2)], want, "walked 4 pages, newest first")
    eq([t["id"] for t in c.iter_transactions(acct)], want, "the default page size")


def test_python_guard_releases_on_exception_and_settles_when_told():
    models = reader().models()
    acct = funded(5000000)
    g = guard_client()

    class LLMDown(Exception):
        pass

    seen = {}
    try:
        with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            seen["hold_id"] = h.hold_id
            eq(reader().get_account(acct)["reserved_micros"], cost(models, "gpt-4o", 1000, 500), "held inside")
            raise LLMDown("the provider failed")
    except LLMDown:
        pass
    else:
        raise Fail("the block's exception must propagate")
    eq(hold_state(seen["hold_id"]), "released", "released on exception")
    a = reader().get_account(acct)
    eq((a["reserved_micros"], a["balance_micros"]), (0, 5000000), "reserve back to 0, nothing charged")

    with g.guard(acct, uid("req"), "gpt-4o", 1000, 500) as h:
        pass                                     # never settled
    eq(hold_state(h.hold_id), "released", "released when never settled")
    eq(h.released["state"], "released", "the release answer")

    want = cost(models, "gpt-4o", 1000, 123, cached=400)
    with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, 500) as h:
        settled = h.settle(1000, 123, cached_input_tokens=400)
    eq(settled["charged_micros"], want, "settled with the exact cost")
    eq((h.settled, h.released), (settled, None), "settled, not released")
    eq(hold_state(h.hold_id), "settled", "hold settled")
    a = reader().get_account(acct)
    eq((a["reserved_micros"], a["balance_micros"]), (0, 5000000 - want), "after the settled guard")

    # A settle that was tried and failed is not followed by a release: the
    # tokens were spent, so the hold waits for a corrected settle.
    try:
        with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, 500) as h:
            h.settle(10, 5, cached_input_tokens=11)
    except cc.InvalidRequest as e:
        eq((e.status, e.param), (400, "cached_input_tokens"), "the settle's error propagates")
    else:
        raise Fail("cached_input_tokens > input_tokens must be refused")
    eq((hold_state(h.hold_id), h.released), ("pending", None), "left pending after a failed settle")
    eq(h.settle(10, 5)["charged_micros"], cost(models, "gpt-4o", 10, 5), "settled on a second try")

    poor = funded(10)
    e = raises(cc.InsufficientCredits, cc.guard(g, poor, uid("req"), "gpt-4o", 1000, 500).__enter__)
    eq(e.required_micros, cost(models, "gpt-4o", 1000, 500), "a refused guard raises on enter")
    verify()


def usage_row(hold_id):
    """(input_tokens, output_tokens, cached_input_tokens, cost_micros) recorded for a hold."""
    rows = sql("SELECT input_tokens, output_tokens, cached_input_tokens, cost_micros FROM usage_records "
               "WHERE hold_id = %d" % lib.hold_parts(hold_id)[1])
    eq(len(rows), 1, "one usage record for %s" % hold_id)
    return tuple(int(x) for x in rows[0])


def cache_writes(hold_id):
    """The cache_write_input_tokens recorded for a hold."""
    rows = sql("SELECT cache_write_input_tokens FROM usage_records WHERE hold_id = %d"
               % lib.hold_parts(hold_id)[1])
    eq(len(rows), 1, "one usage record for %s" % hold_id)
    return int(rows[0][0])


class ProviderCut(Exception):
    """The provider's stream broke off."""


def cut_stream(pieces):
    """A fake provider stream: yields `pieces`, then breaks off."""
    for piece in pieces:
        yield piece
    raise ProviderCut("stream cut off")


def test_python_guard_settles_a_stream_cut_off_midway():
    models = reader().models()
    acct = funded(5000000)
    g = guard_client()

    # Text chunks, no usage from the provider: the estimate, never 0.
    got = []
    try:
        with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            for piece in h.stream(cut_stream(["Hello", ", wor", "ld and the", " rest"])):
                got.append(piece)
    except ProviderCut:
        pass
    else:
        raise Fail("the provider's exception must propagate")
    eq(got, ["Hello", ", wor", "ld and the", " rest"], "the stream passed through")
    out = max(4, -(-len("Hello, world and the rest") // cc.CHARS_PER_TOKEN))
    eq(h.produced()["output_tokens"], out, "estimated output tokens")
    eq((hold_state(h.hold_id), h.released, h.partial), ("settled", None, True), "settled, not released")
    want = cost(models, "gpt-4o", 1000, out)
    check(want > 0, "a charge")
    eq(h.settled["charged_micros"], want, "charged the tokens produced")
    eq(usage_row(h.hold_id), (1000, out, 0, want), "usage recorded with the produced output")
    a = reader().get_account(acct)
    eq((a["reserved_micros"], a["balance_micros"]), (0, 5000000 - want), "the rest released")
    spent = want

    # Counted tokens win over the estimate; reported input tokens over the authorized ones.
    try:
        with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            h.usage(input_tokens=1040)
            for piece in cut_stream([("a", 7), ("b", 5)]):
                h.add_output_tokens(piece[1])
    except ProviderCut:
        pass
    eq(h.produced(), {"input_tokens": 1040, "output_tokens": 12, "cached_input_tokens": None,
                      "cache_write_input_tokens": None}, "produced")
    want = cost(models, "gpt-4o", 1040, 12)
    eq((hold_state(h.hold_id), h.settled["charged_micros"]), ("settled", want), "settled with the counted tokens")
    eq(usage_row(h.hold_id), (1040, 12, 0, want), "usage of the counted tokens")
    spent += want

    # A usage reported early (output 1, as at some streams' start) does not hide the chunks after it.
    try:
        with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            h.usage(output_tokens=1)
            for piece in h.stream(cut_stream(["x", "y", "z"])):
                pass
    except ProviderCut:
        pass
    want = cost(models, "gpt-4o", 1000, 3)
    eq((hold_state(h.hold_id), h.settled["charged_micros"]), ("settled", want), "at least a token a chunk")
    spent += want

    # Nothing produced before the cut: released, nothing charged.
    try:
        with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            for piece in h.stream(cut_stream(["", ""])):    # empty pieces (a role-only first chunk) are no output
                pass
    except ProviderCut:
        pass
    else:
        raise Fail("the provider's exception must propagate")
    eq((hold_state(h.hold_id), h.settled, h.released["state"]), ("released", None, "released"), "released")
    eq(reader().get_account(acct)["balance_micros"], 5000000 - spent, "nothing charged")

    # A normal completion settles with the usage the provider reported at the end.
    chunks = [{"text": "Hi"}, {"text": " there"}, {"text": "", "usage": {"input_tokens": 1010, "output_tokens": 42,
                                                                       "cached_input_tokens": 10}}]
    with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
        text = "".join(c["text"] for c in h.stream(chunks, text=lambda c: c["text"], usage=lambda c: c.get("usage")))
    eq(text, "Hi there", "streamed")
    want = cost(models, "gpt-4o", 1010, 42, cached=10)
    eq((hold_state(h.hold_id), h.settled["charged_micros"], h.partial), ("settled", want, False),
       "settled with the reported usage on exit")
    eq(usage_row(h.hold_id), (1010, 42, 10, want), "usage as reported")
    verify()


def _cut(g, acct, cap, pieces, early_output=None):
    """A guarded stream of `pieces` under max_output_tokens cap, cut off."""
    try:
        with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=cap) as h:
            if early_output is not None:
                h.usage(output_tokens=early_output)
            for piece in h.stream(cut_stream(pieces)):
                pass
    except ProviderCut:
        pass
    else:
        raise Fail("the provider's exception must propagate")
    return h


def test_python_guard_estimates_never_settle_beyond_the_hold():
    """More non-empty pieces than max_output_tokens: the estimate (and a
    usage reported early, which lags) stops at the cap, so a prepaid account
    funded with exactly the hold ends at zero, never below."""
    models = reader().models()
    g = guard_client()
    hold_cost = cost(models, "gpt-4o", 1000, 3)
    for early in (None, 1):
        acct = funded(hold_cost, "cap")
        h = _cut(g, acct, 3, ["a", "b", "c", "d", "e"], early)
        eq(h.hold["amount_micros"], hold_cost, "the hold covers 3 output tokens")
        eq(h.produced()["output_tokens"], 3, "at most the cap (early usage %r)" % early)
        eq((hold_state(h.hold_id), h.settled["charged_micros"]), ("settled", hold_cost), "settled within the hold")
        a = reader().get_account(acct)
        eq((a["balance_micros"], a["reserved_micros"]), (0, 0), "prepaid: down to zero, not below")
    # A usage the provider reported is settled as reported, past the cap.
    acct = funded(5000000, "cap")
    with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=3) as h:
        for piece in h.stream(["a", "b"]):
            pass
        h.usage(output_tokens=7)
    eq(h.settled["charged_micros"], cost(models, "gpt-4o", 1000, 7), "reported tokens settled as reported")
    verify()


def test_python_guard_counts_code_points_and_sends_only_valid_usage():
    models = reader().models()
    g = guard_client()
    # bytes are UTF-8: eight "é" are 16 bytes and 8 characters, 2 tokens.
    h = cc.Guard(g, "nobody", "r", "gpt-4o", 10)
    h.chunk("\u00e9" * 8)
    eq(h.produced()["output_tokens"], 2, "str: code points")
    h = cc.Guard(g, "nobody", "r", "gpt-4o", 10)
    h.chunk(b"\xc3\xa9" * 8)
    eq(h.produced()["output_tokens"], 2, "bytes: code points, as PHP counts them")
    h = cc.Guard(g, "nobody", "r", "gpt-4o", 10)
    h.chunk(b"\xff" * 8)
    eq(h.produced()["output_tokens"], 2, "bytes that are not UTF-8: one replacement character each")

    acct = funded(5000000, "rep")
    # Cached input reported above the input: clamped, so the exit settles
    # (a 400 would leave the hold pending and the output unbilled).
    with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
        h.chunk("Hello")
        h.usage(input_tokens=100, output_tokens=5, cached_input_tokens=200)
    eq(h.produced(), {"input_tokens": 100, "output_tokens": 5, "cached_input_tokens": 100,
                      "cache_write_input_tokens": None}, "cached clamped")
    eq((hold_state(h.hold_id), h.settled["charged_micros"]), ("settled", cost(models, "gpt-4o", 100, 5, cached=100)),
       "settled with the cached input clamped")
    # Negative figures are no figures: the authorized input, the estimate, no cached.
    with cc.guard(g, acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
        for piece in h.stream(["ab", "cd"]):
            pass
        h.usage(input_tokens=-5, output_tokens=-1, cached_input_tokens=-1)
    eq(h.produced(), {"input_tokens": 1000, "output_tokens": 2, "cached_input_tokens": None,
                      "cache_write_input_tokens": None}, "negatives dropped")
    eq((hold_state(h.hold_id), h.settled["charged_micros"]), ("settled", cost(models, "gpt-4o", 1000, 2)),
       "settled without the negative figures")
    verify()


def test_python_members_and_topup():
    c = admin()
    ws = uid("ws")
    c.create_account(ws, kind="workspace")
    m = c.add_member(ws, "carol/x", monthly_cap_micros=30000)
    eq((m["member"], m["monthly_cap_micros"]), ("carol/x", 30000), "member added")
    eq(c.add_member(ws, "carol/x")["monthly_cap_micros"], 30000, "posting again without a cap keeps it")
    eq(c.add_member(ws, "carol/x", monthly_cap_micros=cc.CLEAR)["monthly_cap_micros"], None, "CLEAR removes it")
    c.remove_member(ws, "carol/x")
    raises(cc.NotFound, c.remove_member, ws, "carol/x")
    e = raises(cc.Forbidden, reader().topup, ws, 2000)
    eq((e.status, e.code), (403, "forbidden"), "a read key starts no top-up")
    t = app_client().topup(ws, 2000, success_url="https://app.example.com/paid", idempotency_key=uid("top"),
                           save_card=True)
    check(t["checkout_url"].startswith("https://"), "checkout url: %r" % t)
    check(t["session_id"], "session id")
    e = raises(cc.InvalidRequest, app_client().topup, ws, 1)
    eq((e.status, e.param), (400, "amount_cents"), "top-up below the minimum")


def test_python_unavailable_and_connection_failures():
    with unavailable_server() as (url, seen):
        # Retry-After 7 is more than max_retry_delay_ms: raised at once, saying when.
        e = raises(cc.Unavailable, cc.Creditd(url, "k", max_retry_delay_ms=5000).healthz)
        eq((e.status, e.code, e.retry_after, len(seen)), (503, "unavailable", 7, 1), "503 with Retry-After")
        del seen[:]
        c = cc.Creditd(url, "k", max_retries=2)
        waits = []
        c._sleep = waits.append
        raises(cc.Unavailable, c.grant, "a", 1, "promo")
        eq(waits, [7.0, 7.0], "two retries, each after Retry-After")
        eq(len({h["idempotency-key"] for h in seen}), 1, "three tries, one Idempotency-Key: %r" % seen)
        eq(len(seen), 3, "three tries")
    e = raises(cc.ConnectionFailed, cc.Creditd(closed_url(), "k", timeout_ms=3000, retry_delay_ms=50).models)
    eq(e.status, None, "no status without an answer")


def test_python_keep_alive_one_connection_for_many_calls():
    c = admin()
    acct = uid("ka")
    c.create_account(acct)
    port = c._conn.sock.getsockname()[1]
    for i in range(5):
        c.grant(acct, 100 + i, "promo")
        c.get_account(acct)
    g = guard_client()
    for _ in range(3):
        hold = g.authorize(acct, uid("req"), model="gpt-4o", input_tokens=10, max_output_tokens=10)
        g.settle(hold["hold_id"], 10, 1)
    eq((c.connections_opened, g.connections_opened), (1, 1), "one connection each for 11 and 6 calls")
    eq(c._conn.sock.getsockname()[1], port, "the same local port: the same TCP connection")
    eq(len(list(c.iter_transactions(acct, page_size=2))), len(c.transactions(acct, limit=200)["data"]),
       "paging over it too")
    eq(c.connections_opened, 1, "still one")
    c.close()
    c.get_account(acct)
    eq(c.connections_opened, 2, "close() then a call: a new connection")


def test_python_limit_refusals_are_typed_with_amounts():
    models = reader().models()
    c, g = admin(), guard_client()
    need = cost(models, "gpt-4o", 1000, 100)
    daily = uid("cli")
    c.create_account(daily, daily_limit_micros=need - 1)
    e = raises(cc.DailyLimitReached, g.authorize, daily, uid("req"), model="gpt-4o", input_tokens=1000,
               max_output_tokens=100)
    eq((e.status, e.code, e.type, e.required_micros), (429, "daily_limit_reached", "insufficient_quota", need),
       "daily limit")
    check(isinstance(e, cc.LimitReached), "a LimitReached")

    ws = uid("ws")
    c.create_account(ws, kind="workspace")
    c.add_member(ws, "dan", monthly_cap_micros=need - 1)
    e = raises(cc.MemberCapReached, g.authorize, ws, uid("req"), model="gpt-4o", input_tokens=1000,
               max_output_tokens=100, member="dan")
    eq((e.status, e.code, e.required_micros), (429, "member_cap_reached", need), "member cap")

    rated = uid("cli")
    c.create_account(rated, requests_per_minute=1)
    hold = g.authorize(rated, uid("req"), model="gpt-4o", input_tokens=10, max_output_tokens=10)
    e = raises(cc.RateLimited, g.authorize, rated, uid("req"), model="gpt-4o", input_tokens=10, max_output_tokens=10)
    eq((e.status, e.code, e.type), (429, "rate_limit_exceeded", "rate_limit_error"), "rate limit")
    check(e.retry_after is not None and 0 < e.retry_after <= 60, "retry_after: %r" % e.retry_after)
    check(not isinstance(e, cc.LimitReached), "a rate limit is no spending limit")
    g.release(hold["hold_id"])

    # Usage after the fact: refused like authorize, charged anyway with force.
    poor = funded(1000)
    charge = cost(models, "gpt-4o", 1000, 100)
    e = raises(cc.InsufficientCredits, g.record_usage, poor, model="gpt-4o", input_tokens=1000, output_tokens=100)
    eq((e.available_micros, e.required_micros), (1000, charge), "usage refused with the amounts")
    eq(reader().get_account(poor)["balance_micros"], 1000, "a refusal charges nothing")
    forced = g.record_usage(poor, model="gpt-4o", input_tokens=1000, output_tokens=100, force=True,
                            request_id=uid("forced"))
    eq((forced["charged_micros"], forced["balance_micros"]), (charge, 1000 - charge), "forced usage charged")
    verify()


def test_python_plans_promo_browser_tokens_and_events():
    plan_pro()
    c, app = admin(), app_client()
    check("pro" in [p["name"] for p in reader().plans()["data"]], "the plan catalogue lists pro")
    start = 0
    for ev in c.iter_events(page_size=200):
        start = ev["id"]
    acct = uid("cli")
    c.create_account(acct)
    code = "PY" + uuid.uuid4().hex[:16]
    c.create_promo_code(code, 250000)
    r = app.redeem(acct, code.lower(), idempotency_key=uid("redeem"))
    eq(r["amount_micros"], 250000, "redeemed (any case)")
    e = raises(cc.AlreadyRedeemed, app.redeem, acct, code)
    eq((e.status, e.code), (409, "already_redeemed"), "twice")
    raises(cc.NotFound, app.redeem, acct, "NOSUCH" + uuid.uuid4().hex[:16])
    t = app.browser_token(acct, ttl_seconds=120)
    check(t["token"] and t["expires_at"], "a browser token: %r" % t)
    raises(cc.Forbidden, reader().browser_token, acct)

    mine = [ev for ev in c.iter_events(after=start, page_size=1) if ev["account"] == acct]
    eq([ev["type"] for ev in mine], ["promo.redeemed"], "the outbox, paged one by one from `after`")
    page = c.events(after=start, limit=1)
    check(len(page["data"]) == 1 and page["next_after"] == page["data"][0]["id"], "next_after: %r" % page)


def _openai_stream(pieces, usage=None):
    yield {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}], "usage": None}
    for p in pieces:
        yield {"choices": [{"index": 0, "delta": {"content": p}}], "usage": None}
    if usage is None:
        raise ProviderCut("stream cut off")
    yield {"choices": [], "usage": usage}


def _anthropic_stream(pieces, input_tokens, output_tokens=None):
    yield {"type": "message_start", "message": {"usage": {"input_tokens": input_tokens, "output_tokens": 1,
                                                          "cache_read_input_tokens": 0}}}
    for p in pieces:
        yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
    if output_tokens is None:
        raise ProviderCut("stream cut off")
    yield {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output_tokens}}


def test_python_provider_streams_settle_what_was_produced():
    models = reader().models()
    acct = funded(5000000, "prov")
    g = guard_client()
    pieces = ["The answer", " is forty", "-two, and"]
    est = max(3, -(-len("".join(pieces)) // cc.CHARS_PER_TOKEN))

    try:
        with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            for _ in h.openai_stream(_openai_stream(pieces)):
                pass
    except ProviderCut:
        pass
    else:
        raise Fail("the provider's exception must propagate")
    eq((hold_state(h.hold_id), h.partial), ("settled", True), "an OpenAI stream cut off: settled")
    eq(usage_row(h.hold_id), (1000, est, 0, cost(models, "gpt-4o", 1000, est)), "the streamed text's estimate")
    spent = h.settled["charged_micros"]

    usage = {"prompt_tokens": 1020, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 20}}
    with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
        for _ in h.openai_stream(_openai_stream(pieces, usage)):
            pass
    eq(usage_row(h.hold_id), (1020, 9, 20, cost(models, "gpt-4o", 1020, 9, cached=20)), "the final chunk's usage")
    spent += h.settled["charged_micros"]

    try:
        with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            for _ in h.anthropic_stream(_anthropic_stream(pieces, 980)):
                pass
    except ProviderCut:
        pass
    eq(usage_row(h.hold_id), (980, est, 0, cost(models, "gpt-4o", 980, est)),
       "an Anthropic stream cut off: message_start's input, the text's estimate")
    spent += h.settled["charged_micros"]

    with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
        for _ in h.anthropic_stream(_anthropic_stream(pieces, 990, output_tokens=11)):
            pass
    eq(usage_row(h.hold_id), (990, 11, 0, cost(models, "gpt-4o", 990, 11)), "message_delta's output")
    spent += h.settled["charged_micros"]

    try:
        with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
            for _ in h.anthropic_stream(_anthropic_stream([], 980)):
                pass
    except ProviderCut:
        pass
    eq((hold_state(h.hold_id), h.settled), ("released", None), "nothing produced: released")

    with g.guard(acct, uid("req"), "gpt-4o", 1000, max_output_tokens=500) as h:
        h.openai_response({"choices": [{"message": {"content": "Hi"}}],
                           "usage": {"prompt_tokens": 1000, "completion_tokens": 2}})
    eq(usage_row(h.hold_id), (1000, 2, 0, cost(models, "gpt-4o", 1000, 2)), "a whole answer's usage")
    spent += h.settled["charged_micros"]
    a = reader().get_account(acct)
    eq((a["balance_micros"], a["reserved_micros"]), (5000000 - spent, 0), "charged exactly the settles")
    verify()


def anthropic_cache_stream(pieces, output_tokens=None):
    """An Anthropic stream whose input is 400 + 3000 cache writes + 600 cache reads."""
    yield {"type": "message_start", "message": {"usage": {
        "input_tokens": 400, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 600,
        "cache_creation": {"ephemeral_5m_input_tokens": 3000, "ephemeral_1h_input_tokens": 0}, "output_tokens": 1}}}
    for p in pieces:
        yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
    if output_tokens is None:
        raise ProviderCut("stream cut off")
    yield {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output_tokens}}


def test_python_guard_charges_anthropic_cache_writes_at_the_cache_write_price():
    models = reader().models()
    model = cache_write_model(models)
    acct = funded(5000000, "cw")
    g = guard_client()
    want = cost(models, model, 4000, 21, cached=600, cache_write=3000)
    check(want > cost(models, model, 4000, 21, cached=600), "the writes at the input price would be less")

    with g.guard(acct, uid("req"), model, 4000, max_output_tokens=500) as h:
        for _ in h.anthropic_stream(anthropic_cache_stream(["Bonjour"], output_tokens=21)):
            pass
    eq((h.settled["charged_micros"], usage_row(h.hold_id), cache_writes(h.hold_id)),
       (want, (4000, 21, 600, want), 3000), "a stream: the writes at the cache-write price")
    spent = want

    try:
        with g.guard(acct, uid("req"), model, 4000, max_output_tokens=500) as h:
            for _ in h.anthropic_stream(anthropic_cache_stream(["The answer", " is forty"])):
                pass
    except ProviderCut:
        pass
    est = max(2, -(-len("The answer is forty") // cc.CHARS_PER_TOKEN))
    cut = cost(models, model, 4000, est, cached=600, cache_write=3000)
    eq((h.partial, h.settled["charged_micros"], cache_writes(h.hold_id)), (True, cut, 3000),
       "a stream cut off: message_start's writes, the text's estimate")
    spent += cut

    with g.guard(acct, uid("req"), model, 4000, max_output_tokens=500) as h:
        h.anthropic_response({"type": "message", "content": [{"type": "text", "text": "Hi"}], "usage": {
            "input_tokens": 400, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 600,
            "output_tokens": 21}})
    eq((h.settled["charged_micros"], cache_writes(h.hold_id)), (want, 3000), "a whole answer")
    spent += want

    # The explicit calls.
    hold = g.authorize(acct, uid("req"), model=model, input_tokens=4000, max_output_tokens=500)
    eq(g.settle(hold["hold_id"], 4000, 21, cached_input_tokens=600, cache_write_input_tokens=3000)["charged_micros"],
       want, "settle(cache_write_input_tokens=)")
    spent += want
    used = g.record_usage(acct, model=model, input_tokens=4000, output_tokens=21, cached_input_tokens=600,
                          cache_write_input_tokens=3000, request_id=uid("batch"))
    eq(used["charged_micros"], want, "record_usage(cache_write_input_tokens=)")
    spent += want
    a = reader().get_account(acct)
    eq((a["balance_micros"], a["reserved_micros"]), (5000000 - spent, 0), "charged exactly the settles")
    verify()
