"""test_56_push.py: the push of the outbox (DESIGN §9): with [notify] url
and secret, creditd POSTs every event, signed in Stripe's scheme, in order
per account, at least once, retrying after 5xx answers and timeouts with
backoff, and still delivers after a kill -9 between commit and delivery.
A local receiver checks every signature itself (hmac from Python's
standard library, not creditd's code)."""
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import shutil
import threading
import time

import subprocess
import sys

import stack
from lib import ENV, api, check, creditctl, eq, new_account, sql, wait_until

sys.path.insert(0, os.path.join(stack.ROOT, "clients", "python"))
import creditd_client  # noqa: E402

SECRET = "whsec_notify_" + secrets.token_hex(16)


class Receiver:
    """An HTTP endpoint on loopback: records every POST; `plan` maps an
    account to the answers to give its POSTs in turn ("500", "slow", then
    200). Keyed by account, not event id: another account's event may take
    the id one expects."""

    def __init__(self):
        self.got = []          # (event, signature_ok, status answered)
        self.raw = []          # (body bytes, Creditd-Signature header)
        self.plan = {}
        self.arrived = []      # every event as its POST came in, before answering
        self.lock = threading.Lock()
        rx = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = rx.signature_ok(self.headers.get("Creditd-Signature", ""), body)
                ev = json.loads(body)
                with rx.lock:
                    rx.raw.append((body, self.headers.get("Creditd-Signature", "")))
                    rx.arrived.append(ev)
                    todo = rx.plan.get(ev["account"], [])
                    answer = todo.pop(0) if todo else "200"
                status = 0 if answer == "slow" else int(answer)     # 0: creditd gave up waiting
                if answer == "slow":
                    time.sleep(2.5)
                with rx.lock:
                    rx.got.append((ev, ok, status))
                try:
                    self.send_response(status or 200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hooks/creditd" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def signature_ok(header, body):
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts:
            return False
        mac = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, parts["v1"]) and abs(int(parts["t"]) - time.time()) < 300

    def of(self, acct):
        with self.lock:
            return [g for g in self.got if g[0]["account"] == acct]

    def arrived_of(self, acct):
        with self.lock:
            return [e for e in self.arrived if e["account"] == acct]

    def close(self):
        self.server.shutdown()


def restart_with_push(url, timeout_ms=1000):
    conf = stack.path("creditd-push.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf, "a") as f:
        f.write("\n[notify]\nconnect_timeout_ms = 500\ntimeout_ms = %d\n" % timeout_ms)
    stack.creditd_kill9()
    stack.creditd_start(config=conf, env={"CREDITD_NOTIFY_URL": url, "CREDITD_NOTIFY_SECRET": SECRET})


def restart_without_push():
    stack.creditd_kill9()
    stack.creditd_start()


def redeem_events(acct, n=1):
    """n promo.redeemed events of acct (one code each); their ids."""
    start = int(sql("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])
    for _ in range(n):
        code = "PU" + secrets.token_hex(5).upper()
        eq(api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 100}).status, 201, "code")
        eq(api("POST", "/v1/accounts/%s/redeem" % acct, {"code": code}, auth="app").status, 201, "redeem")
    return [int(r[0]) for r in sql("SELECT id FROM events WHERE id > %d AND account = '%s' ORDER BY id"
                                   % (start, acct))]


def state(event_id):
    return sql("SELECT state, attempts FROM events WHERE id = %d" % event_id)[0]


def push_failures():
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r"^creditd_event_push_failures_total (\d+)$", text, re.M)
    check(m is not None, "creditd_event_push_failures_total in /metrics")
    return int(m.group(1))


def test_push_signed_in_order_with_retries_timeouts_and_a_crash():
    rx = Receiver()
    try:
        restart_with_push(rx.url)
        # Signed, the same body the pull route shows, marked delivered.
        acct = new_account("push")
        ids = redeem_events(acct)
        check(wait_until(lambda: len(rx.of(acct)) == 1, timeout=10), "delivered: %r" % rx.got[-3:])
        ev, sig_ok, _ = rx.of(acct)[0]
        check(sig_ok, "the Creditd-Signature checks out with the secret")
        pulled = [e for e in api("GET", "/v1/events?after=%d" % (ids[0] - 1)).json["data"] if e["id"] == ids[0]]
        eq(ev, pulled[0], "the pushed body is the event as pulled")
        check(wait_until(lambda: state(ids[0])[0] == "delivered", timeout=5), "marked delivered")
        clients_verify(rx.raw[-1])

        # 500s then a timeout, then success: retried with backoff, and the
        # account's later events wait for it (order per account).
        acct2 = new_account("push")
        failed_before = push_failures()
        t0 = time.time()
        with rx.lock:
            rx.plan[acct2] = ["500", "500", "slow"]
        ids2 = redeem_events(acct2, 3)
        check(wait_until(lambda: all(state(i)[0] == "delivered" for i in ids2), timeout=30),
              "all delivered: %r" % [(g[0]["id"], g[2]) for g in rx.of(acct2)])
        seen = [(g[0]["id"], g[2]) for g in rx.of(acct2)]
        first = [s for s in seen if s[0] == ids2[0]]
        eq([s[1] for s in first], [500, 500, 0, 200], "retried after two 500s and a timeout")
        delivered_order = [i for i, st in seen if st == 200]
        eq(sorted(set(delivered_order)), ids2, "each delivered")
        firsts = [delivered_order.index(i) for i in ids2]
        eq(firsts, sorted(firsts), "in order per account: %r" % seen)
        check(all(seen.index((i, 200)) > seen.index(first[-1]) for i in ids2[1:]),
              "later events only after the first was taken: %r" % seen)
        check(time.time() - t0 >= 2, "with backoff, not at once")
        row = sql("SELECT attempts, last_error FROM events WHERE id = %d" % ids2[0])[0]
        eq(row, ["4", "NULL"], "attempts counted, the error cleared")
        eq(push_failures() - failed_before, 3, "creditd_event_push_failures_total counts the two 500s and the timeout")

        # kill -9 while an event's POST is in flight: after the restart it
        # is delivered all the same (at least once).
        acct3 = new_account("push")
        with rx.lock:
            rx.plan[acct3] = ["slow"]
        ids3 = redeem_events(acct3)
        check(wait_until(lambda: rx.arrived_of(acct3), timeout=5, step=0.01), "the POST is in flight")
        stack.creditd_kill9()
        eq(state(ids3[0])[0], "pending", "not marked delivered by a killed process")
        restart_with_push(rx.url)
        check(wait_until(lambda: state(ids3[0])[0] == "delivered", timeout=20),
              "delivered after the restart: %r" % (state(ids3[0]),))
        check(all(ok for _, ok, _ in rx.got), "every POST was signed correctly")
    finally:
        rx.close()
        restart_without_push()


PHP_VERIFY = r"""
require $argv[1];
$in = json_decode(stream_get_contents(STDIN), true);
try {
    $ev = Creditd\Client::verifyEvent($in['body'], $in['header'], $in['secret']);
    echo json_encode(['ok' => true, 'id' => $ev['id']]);
} catch (Creditd\BadSignature $e) {
    echo json_encode(['ok' => false, 'why' => $e->getMessage()]);
}
"""


def php_verify(body, header, secret):
    p = subprocess.run(["php", "-r", PHP_VERIFY, os.path.join(stack.ROOT, "clients", "php", "Creditd.php")],
                       input=json.dumps({"body": body.decode(), "header": header, "secret": secret}),
                       capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "php ran: %s" % p.stderr)
    return json.loads(p.stdout)


def clients_verify(sample):
    """The PHP and Python clients' checks accept what creditd pushed, and
    refuse it tampered with or under another secret."""
    body, header = sample
    ev = creditd_client.verify_event(body, header, SECRET)
    eq(ev, json.loads(body), "Python: verified and decoded")
    for bad_body, bad_secret in ((body.replace(b'"type"', b'"tipe"'), SECRET), (body, SECRET + "x")):
        try:
            creditd_client.verify_event(bad_body, header, bad_secret)
            raise AssertionError("Python accepted a bad signature")
        except creditd_client.BadSignature:
            pass
    eq(php_verify(body, header, SECRET), {"ok": True, "id": ev["id"]}, "PHP: verified")
    eq(php_verify(body.replace(b'"type"', b'"tipe"'), header, SECRET)["ok"], False, "PHP: tampered body refused")
    eq(php_verify(body, header, SECRET + "x")["ok"], False, "PHP: another secret refused")


def test_clients_page_through_events():
    c = creditd_client.Creditd(ENV["CREDITD_URL"], ENV["CREDITD_ADMIN_KEY"])
    acct = new_account("pushcli")
    start = int(sql("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])
    ids = redeem_events(acct, 3)
    got = [e["id"] for e in c.iter_events(after=start, page_size=1) if e["account"] == acct]
    eq(got, ids, "the Python client pages through the events")


def test_undelivered_events_stay_listed_and_retry_sends_them():
    rx = Receiver()
    try:
        restart_with_push(rx.url)
        acct = new_account("pushfail")
        with rx.lock:
            rx.plan[acct] = ["500"] * 100
        ids = redeem_events(acct)
        check(wait_until(lambda: int(state(ids[0])[1]) >= 1, timeout=10), "a failed attempt")
        # Past its retry window, the next failure leaves it undelivered.
        sql("UPDATE events SET created_at = created_at - 2 * 86400, next_attempt_at = 0 WHERE id = %d" % ids[0])
        check(wait_until(lambda: state(ids[0])[0] == "failed", timeout=10), "given up: %r" % (state(ids[0]),))
        p = creditctl("events", "list", "--state", "failed", "--after", str(ids[0] - 1))
        check(any(line.startswith("%d\t" % ids[0]) and "HTTP 500" in line for line in p.stdout.splitlines()),
              "listed as failed with its error: %r" % p.stdout)
        with rx.lock:
            rx.plan[acct] = []
        p = creditctl("events", "retry", str(ids[0]))
        eq(p.returncode, 0, "retry")
        check(wait_until(lambda: state(ids[0])[0] == "delivered", timeout=10), "sent again and delivered")
        eq(creditctl("events", "retry", "0", check_rc=False).returncode, 2, "a bad id")
        eq(creditctl("events", "list", "--state", "lost", check_rc=False).returncode, 2, "a bad state")
    finally:
        rx.close()
        restart_without_push()


def test_a_url_without_a_secret_is_refused_at_start():
    conf = stack.path("creditd-nosecret.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf, "a") as f:
        f.write("\n[notify]\nurl = http://127.0.0.1:9/x\n")
    p = __import__("subprocess").run([os.path.join(stack.ROOT, "creditd"), "-c", conf, "--check-config"],
                                     capture_output=True, text=True, timeout=10)
    check(p.returncode != 0 and "notify.secret" in p.stderr, "refused: %r" % ((p.returncode, p.stderr),))
