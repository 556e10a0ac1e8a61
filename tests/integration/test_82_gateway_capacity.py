"""test_82_gateway_capacity.py: the gateway's calls never hold up the rest
(DESIGN §12): with [gateway] max_streams calls hanging on a silent
provider, /v1/guard/authorize and settle, the Stripe webhook and /healthz
answer in their usual time, and one call more is refused 503 with
Retry-After: 1 in the provider's shape, before anything is held. SIGTERM
lets the calls in flight finish and settles them before creditd exits.
These tests restart the nginx-side creditd with a config of their own
(test_27's way) and start it again as the stack has it."""
import json
import os
import re
import shutil
import signal
import threading
import time

import stack
from lib import ENV, api, check, creditctl, eq, new_account, sql, verify, wait_until
from test_30_stripe import deliver, event
from test_80_gateway import body_chat, chat, mode, reset, state

STREAMS = 6


def with_gateway(settings, fn):
    """Runs fn against the nginx-side creditd started with settings
    (key = value lines) in its [gateway] section, then restarts it as the
    stack has it."""
    conf = stack.path("creditd-gateway.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(re.sub(r"\[gateway\]\n", "[gateway]\n" + settings, text))
    os.chmod(conf, 0o600)
    stack.creditd_kill9()
    stack.creditd_start(config=conf)
    try:
        fn()
    finally:
        mode()
        stack.creditd_kill9()
        stack.creditd_start()


def in_flight():
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r"^creditd_gateway_in_flight (\d+)$", text, re.M)
    return int(m.group(1)) if m else -1


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def test_silent_calls_never_hold_up_the_guard_the_webhook_or_healthz():
    def run():
        reset()
        mode(mode="silent", silent_seconds=8)
        acct = new_account("gwcap")
        before = state(acct)
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(chat(acct, body_chat(max_completion_tokens=50))))
                   for _ in range(STREAMS)]
        for t in threads:
            t.start()
        check(wait_until(lambda: in_flight() == STREAMS, timeout=10), "%d calls in flight: %d" % (STREAMS, in_flight()))
        r = chat(acct, body_chat())
        eq(r.status, 503, "one call more is refused: %r" % r.body[:200])
        eq(r.json["error"]["code"], "gateway_busy", "creditd's code, in OpenAI's shape")
        eq(r.headers.get("retry-after"), "1", "with Retry-After: 1")
        other = new_account("gwcapg")
        for name, fn in (
                ("healthz", lambda: api("GET", "/healthz", auth=None)),
                ("authorize", lambda: api("POST", "/v1/guard/authorize", {
                    "account": other, "model": "gpt-4o", "input_tokens": 10, "max_output_tokens": 10,
                    "request_id": "cap-1"}, auth="guard")),
                ("webhook", lambda: deliver(event("customer.created", {"id": "cus_cap", "object": "customer"}))),
                ("account", lambda: api("GET", "/v1/accounts/" + other, auth="read"))):
            r, took = timed(fn)
            check(200 <= r.status < 300, "%s answered %d" % (name, r.status))
            check(took < 0.5, "%s answered in %.3f s with %d calls hanging" % (name, took, STREAMS))
        hold = api("POST", "/v1/guard/authorize", {"account": other, "model": "gpt-4o", "input_tokens": 10,
                                                   "max_output_tokens": 10, "request_id": "cap-2"}, auth="guard")
        r, took = timed(lambda: api("POST", "/v1/guard/settle", {"hold_id": hold.json["hold_id"], "input_tokens": 10,
                                                                 "output_tokens": 5}, auth="guard"))
        check(r.status == 200 and took < 0.5, "settle answered %d in %.3f s" % (r.status, took))
        eq(state(acct)[1] > 0, True, "the hanging calls are held meanwhile")
        for t in threads:
            t.join(30)
        # The provider left after the requests were sent in full: it may
        # have run them (docs/gateway.md, "When a provider may already be
        # working"): 504, not sent again, their holds kept unresolved.
        eq(sorted(a.status for a in answers), [504] * STREAMS, "each silent call ended 504 when the provider left")
        check(all(a.json["error"]["code"] == "upstream_error" for a in answers), "in OpenAI's shape")
        check(all(a.headers.get("x-should-retry") == "false" for a in answers), "not to be sent again")
        eq(state(acct)[0], before[0], "nothing charged")
        for a in answers:
            creditctl("hold", "resolve", a.headers["creditd-hold-id"], "release")
        check(wait_until(lambda: state(acct) == before, timeout=10), "released by the operator: nothing charged")
        eq(in_flight(), 0, "nothing left in flight")
    with_gateway("max_streams = %d\nfirst_byte_timeout_seconds = 30\n" % STREAMS, run)
    verify()


def test_sigterm_lets_streams_finish_and_settles_them():
    def run():
        reset()
        mode(output_tokens=20, chunk_interval_ms=100)
        acct = new_account("gwterm")
        before = state(acct)[0]
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(chat(acct, body_chat(stream=True,
                                                                                      max_completion_tokens=40))))
                   for _ in range(2)]
        for t in threads:
            t.start()
        check(wait_until(lambda: in_flight() == 2, timeout=10), "two streams in flight")
        time.sleep(0.3)
        pid = stack.creditd_pid()
        os.kill(pid, signal.SIGTERM)
        for t in threads:
            t.join(30)
        check(wait_until(lambda: not stack.alive(pid), timeout=30), "creditd exited after its streams")
        eq(len(answers), 2, "both streams answered")
        for a in answers:
            eq(a.status, 200, "streamed")
            eq(a.events()[-1], "[DONE]", "each stream ran to its end after SIGTERM")
        rows = sql("SELECT u.output_tokens FROM usage_records u JOIN accounts a ON a.id = u.account_id "
                   "WHERE a.ext_id = '%s'" % acct)
        eq(sorted(rows), [["20"], ["20"]], "both settled with the provider's usage before creditd exited")
        stack.creditd_start(config=stack.path("creditd-gateway.conf"))
        check(state(acct)[0] < before and state(acct)[1] == 0, "charged, nothing left held")
    with_gateway("drain_seconds = 20\n", run)
    verify()


def test_the_gateway_s_paths_and_the_pooled_routes_at_once_lose_no_request():
    # nginx keeps a pool of FastCGI connections for the guard's routes; the
    # gateway's location takes none of it (its own upstream): with one
    # upstream for both, about 2 % of these requests were answered 502.
    from lib import parallel
    from test_80_gateway import call

    def one(i):
        out = []
        for j in range(120):
            if j % 2:
                out.append(call("/openai/v1/fine_tuning/jobs", {"model": "x"}).status)
            else:
                out.append(api("POST", "/v1/no_such_route", {"x": 1}).status)
        return out
    statuses = {}
    for res in parallel(8, one):
        for s in res:
            statuses[s] = statuses.get(s, 0) + 1
    eq(statuses, {404: 960}, "every request answered by creditd")


def test_a_client_gone_with_cancel_closes_the_provider_s_stream_and_charges_an_estimate():
    import socket
    import urllib.parse
    from lib import key
    from test_80_gateway import ensure_prices, received

    def run():
        ensure_prices()
        reset()
        mode(output_tokens=60, chunk_interval_ms=100)
        acct = new_account("gwcancel")
        before = state(acct)[0]
        u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        body = json.dumps(body_chat(stream=True, max_completion_tokens=100)).encode()
        s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + key("guard").encode() + b"\r\nCreditd-Account: " + acct.encode() +
                  b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        first = s.recv(4096)
        check(first.startswith(b"HTTP/1.1 200 OK"), "the stream began: %r" % first[:300])
        t0 = time.monotonic()
        s.close()
        check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "settled")
        took = time.monotonic() - t0
        check(took < 4, "settled %.1f s after the client left, before the provider's 6 s stream ended" % took)
        rows = sql("SELECT u.output_tokens, u.settle_reason FROM usage_records u JOIN accounts a "
                   "ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct)
        eq(len(rows), 1, "one usage record")
        out, reason = int(rows[0][0]), rows[0][1]
        eq(reason, "client_gone", "its reason")
        check(0 < out < 60, "an estimate of what was sent before the cancel, not the provider's 60: %d" % out)
        check(state(acct)[0] < before, "charged")
        eq(len(received()), 1, "one call upstream")
    with_gateway("on_client_gone = cancel\n", run)
    verify()


def test_the_gateway_s_metrics():
    from test_80_gateway import chat as gw_chat
    reset()
    acct = new_account("gwmetrics")
    eq(gw_chat(acct, body_chat()).status, 200, "a call")
    eq(gw_chat(acct, body_chat(model="nope")).status, 400, "a refusal")
    text = api("GET", "/metrics", auth=None).raw.decode()

    def value(line):
        m = re.search(r"^%s (\d+(?:\.\d+)?)$" % re.escape(line), text, re.M)
        return float(m.group(1)) if m else -1
    check(value('creditd_gateway_requests_total{provider="openai",route="chat_completions",status="200"}') >= 1,
          "calls by provider, route and status")
    check(value('creditd_gateway_requests_total{provider="openai",route="chat_completions",status="400"}') >= 1,
          "refusals too")
    check(value('creditd_gateway_settles_total{reason="provider_usage"}') >= 1, "settles by reason")
    check(value("creditd_gateway_overhead_seconds_count") >= 1, "the overhead histogram")
    eq(value("creditd_gateway_in_flight"), 0.0, "nothing in flight now")


def held_back():
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r"^creditd_gateway_held_back_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else -1


def raw_stream(acct, body, rcvbuf=None):
    """A gateway stream on a socket of its own: the socket, its answer's
    first bytes read."""
    import socket
    import urllib.parse
    from lib import key
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((u.hostname, u.port))
    data = json.dumps(body).encode()
    s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + key("guard").encode() + b"\r\nCreditd-Account: " + acct.encode() +
              b"\r\nConnection: close\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return s, s.recv(1024)


def test_a_client_that_stops_reading_holds_up_no_other_stream():
    # One thread passes every stream's events on: a client that stops
    # reading must cost it nothing. Its answer is held back (curl paused,
    # counted) until the client reads or leaves; a paced stream running
    # beside it arrives event by event on time.
    from test_80_gateway import ensure_prices, provider
    ensure_prices()
    reset()
    acct, other = new_account("gwslow"), new_account("gwslow2")
    before = state(acct)[0]
    held = held_back()
    mode(output_tokens=24, chunk_interval_ms=150, count=1)
    s, got = raw_stream(other, body_chat(stream=True, max_completion_tokens=40))
    # The flood's last event (its usage) waits until the client has left:
    # however much of it the buffers between take, it cannot end first.
    mode(output_tokens=16000, chunk_interval_ms=0, end_gate=True)
    slow = None
    buf, t0 = got, time.monotonic()
    seen = buf.count(b"data: ")
    times = [t0] * seen
    while b"data: [DONE]" not in buf and time.monotonic() - t0 < 15:
        if slow is None and seen >= 3:
            # the paced stream is under way: the flood starts beside it
            slow, first = raw_stream(acct, body_chat(stream=True, max_completion_tokens=16000), rcvbuf=4096)
            check(first.startswith(b"HTTP/1.1 200 OK"), "the slow client's stream began: %r" % first[:200])
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        now, n = time.monotonic(), buf.count(b"data: ")
        times += [now] * (n - seen)
        seen = n
    s.close()
    check(b"data: [DONE]" in buf, "the paced stream ran to its end: %r" % buf[-200:])
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(len(gaps) >= 20 and max(gaps) < 0.5,
          "its events came as the provider sent them, 150 ms apart (gaps %s)" % ["%.2f" % g for g in gaps])
    check(held_back() > held, "the slow client's answer was held back meanwhile (%d)" % held_back())
    slow.close()
    time.sleep(0.5)     # creditd sees the client gone (a closed socket: at once) before the provider ends
    provider("POST", "/_open_gate", {})
    check(wait_until(lambda: state(acct)[1] == 0, timeout=30), "the slow client's call settled once it left")
    rows = sql("SELECT u.settle_reason FROM usage_records u JOIN accounts a ON a.id = u.account_id "
               "WHERE a.ext_id = '%s'" % acct)
    eq(rows, [["client_gone"]], "as client_gone")
    check(state(acct)[0] < before, "charged for what it was sent")
    verify()


def test_a_whole_answer_reaches_a_slow_client_whole_and_is_settled_first():
    # A whole answer is settled on an ending thread, then handed back to
    # the loop to send as the client reads: the ending thread never
    # waits on the client, and nothing of the answer is lost.
    from test_80_gateway import ensure_prices
    ensure_prices()
    reset()
    acct = new_account("gwslowwhole")
    before = state(acct)[0]
    mode(output_tokens=16000)
    s, got = raw_stream(acct, body_chat(max_completion_tokens=16000), rcvbuf=4096)
    check(wait_until(lambda: state(acct)[0] < before and state(acct)[1] == 0, timeout=20),
          "settled while the client has read only %d bytes" % len(got))
    buf = got
    while True:
        time.sleep(0.01)
        chunk = s.recv(8192)
        if not chunk:
            break
        buf += chunk
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), "answered 200: %r" % head[:200])
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    answer = json.loads(body)
    eq(answer["usage"]["completion_tokens"], 16000, "the whole answer, to its usage")
    check(len(body) > 64 * 1024, "larger than the sockets between (%d bytes)" % len(body))
    charged = re.search(rb"creditd-charged-micros: (\d+)", head.lower())
    check(charged is not None and before - state(acct)[0] == int(charged.group(1)),
          "charged what Creditd-Charged-Micros says")
    verify()


def test_one_account_s_unread_answers_never_fail_or_charge_another_s_call():
    """DESIGN §15 (the reviewer's case): one account opens whole calls
    whose answers it never reads. Each reserves its answer's room at
    admission (its cap's bound, at most the account's room): once its
    room ([gateway] max_buffered_per_account_mib) is held, its next call
    is 429 rate_limit_error with Retry-After, nothing forwarded, held or
    charged; another account's whole call is answered and charged its
    usage. Before: every unread answer counted against max_buffered_mib
    alone, and the other account's call was 503 gateway_busy, charged its
    whole hold."""
    from test_80_gateway import cost, ensure_prices, import_prices, received
    ensure_prices()
    import_prices("model,big-out,150000,75000,600000,128000\n")

    def run():
        reset()
        hog, victim = new_account("gwhog"), new_account("gwvictim")
        # Answers of 7.8 MB (128,000 words of 60 bytes), more than the
        # sockets between take, within the cap's bound (8.4 MB).
        mode(output_tokens=128000, word_bytes=60)
        socks, statuses = [], []
        for _ in range(40):
            s, first = raw_stream(hog, body_chat("big-out", max_completion_tokens=128000), rcvbuf=4096)
            socks.append(s)
            statuses.append(first.split(b"\r\n", 1)[0])
            if b" 429 " in statuses[-1]:
                break
        try:
            check(wait_until(lambda: state(hog)[1] == 0, timeout=30), "the hog's answered calls are settled")
            check(any(b" 200 " in st for st in statuses), "the hog's first calls answered: %r" % statuses[:3])
            before, sent = state(victim), len(received())
            r = chat(victim, body_chat("big-out", max_completion_tokens=128000))
            eq(r.status, 200, "the other account's whole call is answered (%d unread answers of the first "
               "account's in flight): %r" % (len(socks), r.body[:300]))
            u = r.json["usage"]
            eq(state(victim), (before[0] - cost("big-out", u["prompt_tokens"], 0, u["completion_tokens"]), 0),
               "charged its usage, nothing more")
            eq(len(received()), sent + 1, "forwarded once")
            # The first account's room is held by its unread answers.
            check(b" 429 " in statuses[-1], "its calls stopped at its room: %r" % statuses)
            hog_before, sent = state(hog), len(received())
            r = chat(hog, body_chat("big-out", max_completion_tokens=128000))
            eq(r.status, 429, "the first account's next call as large: %r" % r.body[:300])
            eq(r.json["error"]["type"], "rate_limit_error", "in OpenAI's shape")
            check("max_buffered_per_account_mib" in r.json["error"]["message"], "names the setting: %r" % r.json)
            eq(r.headers.get("retry-after"), "1", "Retry-After")
            eq(r.headers.get("creditd-hold-id"), None, "no hold")
            eq(state(hog), hog_before, "nothing held or charged")
            eq(len(received()), sent, "nothing forwarded")
        finally:
            for s in socks:
                s.close()
        check(wait_until(lambda: in_flight() == 0, timeout=30), "the unread calls end once their clients leave")
        verify()

    with_gateway("max_buffered_mib = 20\nmax_buffered_per_account_mib = 10\n", run)
