"""test_84_gateway_attacks.py: what a key holder tries against the gateway
(DESIGN §14, "The gateway under attack"), each attack as a key holder would
send it, through nginx -> creditd -> the fake provider
(tests/fake_provider.md): a call the provider works on is charged, and no
key can free it, bound it by less than it asks, or make it outlive its
hold."""
import json
import socket
import urllib.parse

from lib import ENV, api, check, eq, key, new_account, parallel, sql, verify, wait_until
from test_80_gateway import (anthropic_error, body_chat, call, chat, cost, ensure_prices, import_prices, messages,
                             mode, openai_error, reasons, received, reset, state)


def _stream_open(acct, body):
    """A streamed chat call, read up to its first bytes: (socket, the
    answer's head as bytes)."""
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    s = socket.create_connection((u.hostname, u.port), timeout=20)
    data = json.dumps(body).encode()
    s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + key("guard").encode() + b"\r\nCreditd-Account: " + acct.encode() +
              b"\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    head = b""
    while b"\r\n\r\n" not in head:
        piece = s.recv(4096)
        check(piece, "the stream's head came: %r" % head)
        head += piece
    return s, head


def _stream_begun(prefix, tokens, cap, interval_ms):
    """A new account's streamed call under way: (account, its balance
    before, the socket, the answer's head)."""
    ensure_prices()
    reset()
    acct = new_account(prefix)
    before, _ = state(acct)
    mode(output_tokens=tokens, chunks=tokens, chunk_interval_ms=interval_ms)
    s, head = _stream_open(acct, body_chat(stream=True, max_completion_tokens=cap))
    check(b" 200 " in head.split(b"\r\n")[0], "the stream began: %r" % head[:200])
    return acct, before, s, head


def _charged_its_usage(acct, before, output, why):
    """The stream's one usage record has the provider's output, is its
    cost at the price, and the balance is down by it alone."""
    rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
               "ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct)
    eq(int(rows[0][1]), output, "the provider's output")
    eq(int(rows[0][2]), cost("gpt-4o-mini", int(rows[0][0]), 0, output), "its cost")
    eq(state(acct), (before - int(rows[0][2]), 0), why)
    verify()


def _read_to_end(s):
    s.settimeout(30)
    while s.recv(65536):
        pass
    s.close()


def test_a_guard_key_cannot_free_or_cheapen_a_gateway_call():
    """The gateway's hold id comes with a stream's first byte: releasing it,
    or settling it with 0 tokens or a cheaper model, through the guard API
    is refused 409 and changes nothing; the call's own ending settles it
    with the provider's figures. (Before: the release succeeded, the
    gateway's settle got 409, and the account was charged 0.)"""
    acct, before, s, head = _stream_begun("gwfree", 40, 200, 40)
    hold = [ln.split(b":", 1)[1].strip().decode() for ln in head.split(b"\r\n")
            if ln.lower().startswith(b"creditd-hold-id:")]
    eq(len(hold), 1, "the hold named in the head: %r" % head[:400])
    hold = hold[0]
    _, reserved = state(acct)
    check(reserved > 0, "held while the call runs")
    for path, body in (("/v1/guard/release", {"hold_id": hold}),
                       ("/v1/guard/settle", {"hold_id": hold, "input_tokens": 0, "output_tokens": 0}),
                       ("/v1/guard/settle", {"hold_id": hold, "input_tokens": 1, "output_tokens": 1,
                                             "model": "gpt-4o-mini"})):
        r = api("POST", path, body, auth="guard")
        eq(r.status, 409, "%s on a gateway call's hold: %r" % (path, r.json))
        eq((r.err.get("code"), r.err.get("param")), ("conflict", "hold_id"), "the error names the hold")
        check("gateway" in r.err.get("message", ""), "the message says why: %r" % r.err)
        eq(state(acct), (before, reserved), "nothing changed by %s" % path)
    _read_to_end(s)
    wait_until(lambda: state(acct)[1] == 0, timeout=10)
    rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
               "ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct)
    eq(len(rows), 1, "one usage row, the call's")
    eq(int(rows[0][1]), 40, "the provider's output charged")
    eq(before - state(acct)[0], int(rows[0][2]), "charged what the call cost")
    check(int(rows[0][2]) == cost("gpt-4o-mini", int(rows[0][0]), 0, 40), "at the model's price")
    eq(reasons(acct), ["provider_usage"], "settled by its own ending")
    verify()


def test_a_guard_request_id_cannot_take_the_gateway_s_prefix():
    """Gateway holds are told apart by their request_id's prefix, which a
    guard authorize may not use."""
    acct = new_account("gwpfx")
    r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o-mini", "input_tokens": 10,
                                            "max_output_tokens": 10, "request_id": "gw_mine"}, auth="guard")
    eq((r.status, r.err.get("param")), (400, "request_id"), "refused: %r" % r.json)
    eq(state(acct)[1], 0, "nothing held")
    # Nor a usage record's: a batch's lines are recorded under the prefix,
    # and a client's record there would be taken for one of them.
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 10,
                                  "request_id": "gw_bj_1_mine"}, auth="guard")
    eq((r.status, r.err.get("param")), (400, "request_id"), "a usage refused: %r" % r.json)
    eq(sql("SELECT COUNT(*) FROM usage_records u JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s'"
           % acct), [["0"]], "no usage recorded")


def test_input_stored_at_the_provider_is_refused_before_anything_is_forwarded():
    """A body that names input the provider keeps (a stored response, a
    conversation, a stored prompt, a file, a vector store, a document by
    URL) makes the provider bill a context creditd never saw: held at the
    body's bound, one tiny call would settle the whole re-billed context.
    Refused 400 in the provider's shape naming the member, nothing
    forwarded, nothing held; and a background run with the caller's own
    key, which creditd could not follow, is refused too (test_87d has the
    background runs)."""
    ensure_prices()
    reset()
    acct = new_account("gwstored")
    before = state(acct)
    openai_responses = (
        ({"model": "gpt-4o-mini", "input": "again", "previous_response_id": "resp_abc"}, "previous_response_id"),
        ({"model": "gpt-4o-mini", "input": "again", "conversation": "conv_abc"}, "conversation"),
        ({"model": "gpt-4o-mini", "prompt": {"id": "pmpt_abc"}}, "prompt"),
        ({"model": "gpt-4o-mini", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
         "file_id"),
        # file_search: a tool the provider runs and bills apart, refused by the route's table by its type
        ({"model": "gpt-4o-mini", "input": "find it", "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]},
         "tools[0].type"),
        ({"model": "gpt-4o-mini", "input": "later", "background": True}, "background"))
    for body, param in openai_responses:
        byok = {"Creditd-Provider-Key": "sk-callers-own"} if "background" in body else {}
        r = call("/openai/v1/responses", body, headers=dict({"Creditd-Account": acct}, **byok))
        openai_error(r, 400, "invalid_request", param)
    r = chat(acct, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_id": "file-2"}}]}]})
    openai_error(r, 400, "invalid_request", "file_id")
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]}]})
    anthropic_error(r, 400, "invalid_request_error")
    check("source" in r.json["error"]["message"], "the member named: %r" % r.json)
    eq(received(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")
    # The same bodies with their input inline go through.
    r = call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "again"}, headers={"Creditd-Account": acct})
    eq(r.status, 200, "inline input: %r" % r.body[:200])
    verify()


def test_byok_can_be_turned_off():
    """[gateway] byok = off: a call bringing its own provider key is refused
    403 naming the header, nothing forwarded, nothing held; the same call
    without it goes through on the deployment's key."""
    from test_30_stripe import Spawned
    ensure_prices()
    reset()
    acct = new_account("gwbyok")
    before = state(acct)
    c = Spawned("whsec_" + "x" * 32, sections={"gateway": "byok = off\n"})
    try:
        h = {"Authorization": "Bearer " + key("guard"), "Creditd-Account": acct}
        body = json.dumps(body_chat()).encode()
        status, got = c.request("POST", "/openai/v1/chat/completions", body,
                                dict(h, **{"Creditd-Provider-Key": "sk-users-own"}))
        eq((status, got["error"]["param"]), (403, "Creditd-Provider-Key"), "refused: %r" % got)
        check("byok" in got["error"]["message"], "the setting named: %r" % got)
        eq(received(), [], "nothing forwarded")
        eq(state(acct), before, "nothing held")
        status, got = c.request("POST", "/openai/v1/chat/completions", body, h)
        eq(status, 200, "the deployment's key still serves: %r" % got)
    finally:
        c.close()
    verify()


def test_a_member_s_call_is_not_shown_the_pool_s_balance():
    """A member-bound gateway key's whole answer carries what it cost, not
    the workspace's balance (Creditd-Balance-Micros is absent); the
    account's own key still sees it."""
    from test_83_gateway_keys import gchat, gw_key
    ensure_prices()
    reset()
    ws = new_account("gwpool", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "dana"}).status, 201, "member")
    r = gchat(gw_key(ws, member="dana")["key"])
    eq(r.status, 200, "the member's call: %r" % r.body[:200])
    check("creditd-charged-micros" in r.headers, "its cost shown")
    check("creditd-balance-micros" not in r.headers, "the pool's balance not shown: %r" % r.headers)
    r = gchat(gw_key(ws)["key"])
    eq(int(r.headers["creditd-balance-micros"]), state(ws)[0], "the account's own key sees its balance")
    # Nor in a refusal: a call the pool cannot cover says so, without its figures.
    eq(api("POST", "/v1/accounts/%s/debits" % ws, {"amount_micros": state(ws)[0] - 20, "reason": "drain"}).status,
       201, "the pool drained to 20 micros")
    r = gchat(gw_key(ws, member="dana")["key"])
    openai_error(r, 402, "insufficient_credits")
    check("available_micros" not in r.json["error"] and "required_micros" not in r.json["error"],
          "no pool figures: %r" % r.json)
    check(str(state(ws)[0] - state(ws)[1]) not in r.body.decode(), "nor the pool's available in the text")


def test_a_member_key_s_concurrent_stored_context_calls_stay_within_its_cap():
    """The attack of DESIGN §14: a member-bound key with a small cap fires
    many calls at once, each a tiny body naming a large context stored at
    the provider. None is forwarded, none holds or charges anything, and
    the member's spend stays within its cap."""
    from test_83_gateway_keys import gw_key
    ensure_prices()
    reset()
    ws = new_account("gwflood", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "mallory", "monthly_cap_micros": 5000}).status, 201,
       "member with a cap")
    secret = gw_key(ws, member="mallory")["key"]
    before = state(ws)

    def one(i):
        return call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "go on %d" % i,
                                             "previous_response_id": "resp_big_context"}, auth=secret).status
    statuses = parallel(40, one)
    eq(set(statuses), {400}, "every call refused: %r" % statuses)
    eq(received(), [], "nothing forwarded")
    eq(state(ws), before, "nothing held or charged")
    spent = sql("SELECT COALESCE(SUM(m.month_spent_micros), 0) FROM members m JOIN accounts a ON a.id = m.account_id "
                "WHERE a.ext_id = '%s' AND m.member = 'mallory'" % ws)
    check(int(spent[0][0]) <= 5000, "the member's spend within its cap: %r" % spent)
    verify()


def test_a_gateway_hold_that_expires_is_captured_whatever_expired_holds_says():
    """creditd dies while the provider works on a call (here: a provider
    that has not answered yet); the hold is left pending. At its expiry it
    is captured in full, though the stack's [ledger] expired_holds is
    release: the provider was called, so a crash never makes a call free.
    (Before: released, the call charged 0.)"""
    import threading
    import time
    import stack
    from lib import clock_reset, clock_set, creditctl
    ensure_prices()
    reset()
    acct = new_account("gwcrash")
    before, _ = state(acct)
    mode(mode="silent", silent_seconds=20)
    caller = threading.Thread(target=lambda: chat(acct, body_chat(stream=True, max_completion_tokens=300)),
                              daemon=True)
    caller.start()
    check(wait_until(lambda: state(acct)[1] > 0, timeout=10), "the call is held")
    held = state(acct)[1]
    stack.creditd_kill9()
    try:
        stack.creditd_start()
        eq(state(acct), (before, held), "still pending after the crash")
        clock_set(time.time() + 3 * 3600)
        creditctl("sweep")
        rows = sql("SELECT h.state, h.charged_micros, h.amount_micros FROM holds h JOIN accounts a "
                   "ON a.id = h.account_id WHERE a.ext_id = '%s'" % acct)
        eq(rows, [["captured", str(held), str(held)]], "captured in full")
        eq(state(acct), (before - held, 0), "charged the hold")
    finally:
        clock_reset()
        mode()
    verify()


def test_one_key_or_one_account_cannot_take_every_stream():
    """[gateway] max_streams_per_key and max_streams_per_account: calls
    hanging on a silent provider fill a gateway key's share (2 here) and
    an account's (3); the next call of that key, or for that account by
    another key, is refused 429 rate_limit_exceeded with Retry-After,
    nothing held; another account's call still gets a place."""
    import threading
    from test_82_gateway_capacity import in_flight, with_gateway
    from test_83_gateway_keys import gchat, gw_key

    def run():
        ensure_prices()
        reset()
        mode(mode="silent", silent_seconds=6)
        acct, other = new_account("gwshare"), new_account("gwshare2")
        end_user = gw_key(acct)["key"]
        threads = [threading.Thread(target=lambda: gchat(end_user)) for _ in range(2)]
        for t in threads:
            t.start()
        check(wait_until(lambda: in_flight() == 2, timeout=10), "the key's two calls in flight")
        held = state(acct)
        r = gchat(end_user)
        openai_error(r, 429, "rate_limit_exceeded")
        eq(r.headers.get("retry-after"), "1", "with Retry-After")
        check("max_streams_per_key" in r.json["error"]["message"], "the setting named: %r" % r.json)
        r = call("/openai/v1/chat/completions", body_chat(max_completion_tokens=50), auth=None,
                 headers={"Authorization": "bEaReR   " + end_user})
        openai_error(r, 429, "rate_limit_exceeded")
        eq(state(acct), held, "nothing more held: the key however its header is spelt")
        threads.append(threading.Thread(target=lambda: chat(acct, body_chat(max_completion_tokens=20))))
        threads[-1].start()
        check(wait_until(lambda: in_flight() == 3, timeout=10), "the account's third call, by the guard key")
        r = chat(acct, body_chat(max_completion_tokens=20))
        openai_error(r, 429, "rate_limit_exceeded")
        check("max_streams_per_account" in r.json["error"]["message"], "the account's share: %r" % r.json)
        threads.append(threading.Thread(target=lambda: chat(other, body_chat(max_completion_tokens=20))))
        threads[-1].start()
        check(wait_until(lambda: in_flight() == 4, timeout=10), "another account still gets a place")
        for t in threads:
            t.join(30)
        check(wait_until(lambda: in_flight() == 0, timeout=10), "all places given back")
        mode()
    with_gateway("max_streams_per_key = 2\nmax_streams_per_account = 3\nfirst_byte_timeout_seconds = 30\n", run)
    verify()


def test_a_stream_that_outlives_its_hold_is_charged_its_usage():
    """A stream longer than its hold's ttl (here: the clock moved past it
    while the provider still streams): at its expiry the hold is captured
    in full, so its reserve never turns into credit that admits other
    calls; the stream's own ending then settles late at the provider's
    figures, the capture corrected to the exact cost."""
    import time
    from lib import clock_reset, clock_set, creditctl
    acct, before, s, _ = _stream_begun("gwlong", 30, 400, 100)
    held = state(acct)[1]
    try:
        clock_set(time.time() + 3 * 3600)
        creditctl("sweep")
        eq(state(acct), (before - held, 0), "captured at its expiry: charged in full, nothing left reserved")
        _read_to_end(s)
        check(wait_until(lambda: len(reasons(acct)) == 1, timeout=10), "settled at the stream's end")
    finally:
        clock_reset()
    _charged_its_usage(acct, before, 30, "the capture corrected to the call's cost")


def test_a_stream_longer_than_its_hold_s_ttl_keeps_its_hold():
    """DESIGN §14, "A hold lives as long as its call": the gateway renews
    the hold of a call in flight once half its ttl is gone, so however long
    a stream lasts the sweep finds it pending, and its reserve never turns
    into credit for other calls. Here the clock moves 0.6 ttl twice while
    the provider still streams: without renewal the hold expired at the
    second sweep and was captured; with it, still held, then settled at the
    provider's figures."""
    import time
    from lib import clock_now, clock_reset, clock_set, creditctl
    acct, before, s, _ = _stream_begun("gwrenew", 80, 400, 250)
    held = state(acct)[1]
    row = sql("SELECT h.expires_at - h.created_at FROM holds h JOIN accounts a ON a.id = h.account_id "
              "WHERE a.ext_id = '%s' AND h.state = 'pending'" % acct)
    ttl = int(row[0][0])
    try:
        for jump in (1, 2):
            clock_set(clock_now() + ttl * 6 // 10)
            time.sleep(6)           # the renewal looks every 5 s
            creditctl("sweep")
            eq(state(acct), (before, held), "still held after %.1f ttl of streaming" % (0.6 * jump))
        _read_to_end(s)
        check(wait_until(lambda: len(reasons(acct)) == 1, timeout=10), "settled at the stream's end")
    finally:
        clock_reset()
    _charged_its_usage(acct, before, 80, "charged the call's cost, not the hold in full")


def test_unknown_models_do_not_reload_the_price_table_each():
    """A stream of requests naming models that do not exist: each is
    refused 400 naming the model, and the price table is reloaded a few
    times a second at most, not once a request (a reload costs the
    database four round trips)."""
    from test_17_batch_calls import _key_use_noted, round_trips, sent
    acct = new_account("gwmiss")
    _key_use_noted()
    before = round_trips("authorize")
    n = 60
    for i in range(n):
        sent("authorize")
        r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "no-such-model-%d" % i, "input_tokens": 5,
                                                "max_output_tokens": 5, "request_id": "miss-%d" % i}, auth="guard")
        eq((r.status, r.err.get("param")), (400, "model"), "unknown model refused: %r" % r.json)
    trips = round_trips("authorize") - before
    check(trips <= 2 * 8 * 4, "%d round trips for %d unknown models: reloads bounded" % (trips, n))


def test_whole_answers_held_at_once_are_bounded():
    """[gateway] max_buffered_mib bounds the whole answers held in all: an
    answer that would pass it (here 1 MiB: 20,000 embeddings) is answered
    503 gateway_busy; creditd reads it on without keeping it and charges
    the usage its end reports (the provider did the work), never the hold
    in full (DESIGN §15); a small one still passes."""
    from test_82_gateway_capacity import with_gateway

    def run():
        ensure_prices()
        reset()
        acct = new_account("gwbuf")
        before, _ = state(acct)
        big = {"model": "text-embedding-3-small", "input": ["w%d" % i for i in range(20000)]}
        r = call("/openai/v1/embeddings", big, headers={"Creditd-Account": acct})
        openai_error(r, 503, "gateway_busy")
        check("max_buffered_mib" in r.json["error"]["message"], "the setting named: %r" % r.json)
        check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "its hold settled")
        eq(reasons(acct), ["provider_usage"], "charged the usage its answer's end reports")
        held = sql("SELECT h.amount_micros, h.charged_micros FROM holds h JOIN accounts a ON a.id = h.account_id "
                   "WHERE a.ext_id = '%s'" % acct)
        eq(int(held[0][1]), cost("text-embedding-3-small", 20000, 0, 0), "20,000 input tokens, as the provider said")
        check(int(held[0][1]) < int(held[0][0]), "less than the hold: %r" % held)
        eq(before - state(acct)[0], int(held[0][1]), "charged")
        small = {"model": "text-embedding-3-small", "input": ["w%d" % i for i in range(100)]}
        r = call("/openai/v1/embeddings", small, headers={"Creditd-Account": acct})
        eq(r.status, 200, "a small answer passes: %r" % r.body[:200])
    with_gateway("max_buffered_mib = 1\n", run)
    verify()


def _price_reasoner():
    """A model whose row gives max_input_tokens (200,000) and marks it a
    reasoning one, imported from a LiteLLM-shaped catalogue entry."""
    import_prices({"o4-mini-ctx": {
        "litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1.1e-06, "output_cost_per_token": 4.4e-06,
        "max_output_tokens": 1000, "max_input_tokens": 200000, "supports_reasoning": True}}, "--force")


def test_stored_input_is_held_at_the_model_s_context_with_provider_objects_on():
    """[gateway] provider_objects = on (one tenant to the provider's org): a
    body naming a file the provider keeps is forwarded, held at the model's
    max_input_tokens; on a model whose row gives none it is still refused,
    and so is a previous_response_id the account was never answered
    (test_previous_response_id_names_only_the_account_s_own_responses)."""
    from test_82_gateway_capacity import with_gateway

    def run():
        ensure_prices()
        _price_reasoner()
        reset()
        acct = new_account("gwctx")
        body = {"model": "o4-mini-ctx", "max_output_tokens": 100, "input": [{"role": "user", "content": [
            {"type": "input_file", "file_id": "file-1"}, {"type": "input_text", "text": "sum it up"}]}]}
        r = call("/openai/v1/responses", body, headers={"Creditd-Account": acct})
        eq(r.status, 200, "forwarded: %r" % r.body[:200])
        held = sql("SELECT h.amount_micros FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s'"
                   % acct)
        eq(int(held[0][0]), cost("o4-mini-ctx", 200000, 0, 100), "held at 200,000 input tokens and the cap")
        openai_error(call("/openai/v1/responses", dict(body, model="gpt-4o-mini"), headers={"Creditd-Account": acct}),
                     400, "invalid_request", "file_id")
        openai_error(call("/openai/v1/responses", {"model": "o4-mini-ctx", "input": "more",
                                                   "previous_response_id": "resp_1"},
                          headers={"Creditd-Account": acct}), 400, "invalid_request", "previous_response_id")
    with_gateway("provider_objects = on\n", run)
    verify()


def test_previous_response_id_names_only_the_account_s_own_responses():
    """previous_response_id makes the provider bill the stored response's
    whole context again. creditd keeps the id of every Responses answer an
    account receives through it (whole or streamed) and lets a call name
    only those, held at the model's max_input_tokens: an id another
    account received, or one never answered through creditd, is refused
    400 naming the field, nothing forwarded or held; a model whose row
    gives no max_input_tokens is refused too."""
    import re
    ensure_prices()
    _price_reasoner()
    reset()
    acct, other = new_account("gwprev"), new_account("gwprev")
    r = call("/openai/v1/responses", {"model": "o4-mini-ctx", "input": "hi", "max_output_tokens": 50},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "a first response: %r" % r.body[:200])
    first = r.json["id"]
    r = call("/openai/v1/responses", {"model": "o4-mini-ctx", "input": "hi", "max_output_tokens": 50, "stream": True},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "a streamed one")
    streamed = re.search(r"resp_[0-9a-f]+", r.body.decode()).group(0)
    check(streamed != first, "two responses: %s, %s" % (first, streamed))
    check(wait_until(lambda: len(reasons(acct)) == 2, timeout=10), "both settled (a stream's after its last byte)")
    reset()
    before_other = state(other)
    for who, rid, why in ((other, first, "another account's response"), (acct, "resp_0123abc", "one never answered"),
                          (acct, first + "x", "a changed id")):
        openai_error(call("/openai/v1/responses", {"model": "o4-mini-ctx", "input": "more", "previous_response_id": rid},
                          headers={"Creditd-Account": who}), 400, "invalid_request", "previous_response_id")
    openai_error(call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "more", "previous_response_id": first},
                      headers={"Creditd-Account": acct}), 400, "invalid_request", "previous_response_id")
    eq(received(), [], "nothing forwarded")
    eq(state(other), before_other, "nothing held of the other account")
    for rid in (first, streamed):
        before = state(acct)
        r = call("/openai/v1/responses", {"model": "o4-mini-ctx", "input": "more", "max_output_tokens": 100,
                                          "previous_response_id": rid}, headers={"Creditd-Account": acct})
        eq(r.status, 200, "its own response %s: forwarded (%r)" % (rid, r.body[:200]))
        held = sql("SELECT h.amount_micros FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s' "
                   "ORDER BY h.id DESC LIMIT 1" % acct)
        eq(int(held[0][0]), cost("o4-mini-ctx", 200000, 0, 100), "held at 200,000 input tokens and the cap")
        check(state(acct)[0] < before[0], "charged")
    eq(len(received()), 2, "the two calls naming the account's own responses, forwarded")
    verify()


def test_a_reasoning_model_s_call_without_usage_is_charged_the_hold_s_output():
    """A stream that ends without usage is estimated from its visible text,
    but on a model its row marks reasoning the provider billed hidden
    reasoning tokens too: the estimate charges the hold's output."""
    ensure_prices()
    _price_reasoner()
    reset()
    acct = new_account("gwreason")
    mode(mode="no_usage", output_tokens=8)
    r = chat(acct, {"model": "o4-mini-ctx", "stream": True, "max_completion_tokens": 600,
                    "messages": [{"role": "user", "content": "think"}]})
    eq(r.status, 200, "streamed")
    check(wait_until(lambda: len(reasons(acct)) == 1, timeout=10), "settled")
    eq(reasons(acct), ["estimated"], "estimated")
    rows = sql("SELECT u.output_tokens FROM usage_records u JOIN accounts a ON a.id = u.account_id "
               "WHERE a.ext_id = '%s'" % acct)
    eq(rows, [["600"]], "the hold's output, not the 8 words' bytes / 4")
    mode()
    verify()
