"""load.py: client workloads for the chaos scenarios.

A Ledger client sends the guard's writes with request_ids and
Idempotency-Keys and keeps retrying an operation whose outcome it does not
know (a 5xx, a cut connection) with the same key, as an app should. It
remembers every acknowledged answer, so a scenario can check afterwards
that each one is in the database exactly once and that balances are exact.
"""
import random
import threading
import time

from lib import Fail, api, uid

MODEL = "gpt-4o"


def timed(method, path, body=None, auth="guard", headers=None, raw=None):
    """(Resp or None, seconds): None when the connection failed."""
    t0 = time.time()
    try:
        r = api(method, path, body, auth=auth, headers=headers, raw=raw)
    except OSError:
        r = None
    return r, time.time() - t0


class Ledger:
    """Thread-safe record of what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.charged = {}        # account -> micros charged by acknowledged settles
        self.granted = {}        # account -> micros granted by acknowledged grants
        self.holds = {}          # hold_id -> (account, charged or None)
        self.grant_keys = []     # (account, Idempotency-Key)
        self.statuses = {}       # status (or "conn") -> count, every attempt
        self.first_unknown = 0   # operations whose first answer was not final
        self.max_attempts = 0
        self.max_seconds = 0.0   # slowest single attempt
        self.errors = []         # answers that break the contract

    def count(self, r, seconds):
        with self.lock:
            k = r.status if r is not None else "conn"
            self.statuses[k] = self.statuses.get(k, 0) + 1
            self.max_seconds = max(self.max_seconds, seconds)

    def fail(self, msg):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(msg)

    def call(self, method, path, body, auth="guard", key=None, deadline=None, ok=(200, 201), pause=0.05):
        """Sends until an answer is final: a 2xx (returned) or a 4xx (None
        and recorded as an error unless listed in ok). 5xx and cut
        connections are unknown outcomes, retried with the same key."""
        headers = {"Idempotency-Key": key} if key else None
        attempt = 0
        while True:
            attempt += 1
            r, seconds = timed(method, path, body, auth=auth, headers=headers)
            self.count(r, seconds)
            if r is not None and r.status in ok:
                break
            if r is not None and r.status < 500:
                self.fail("%s %s -> %r" % (method, path, r))
                return None
            if deadline is not None and time.time() > deadline:
                self.fail("%s %s: no final answer before the deadline (last %r)" % (method, path, r))
                return None
            time.sleep(pause)
        with self.lock:
            if attempt > 1:
                self.first_unknown += 1
            self.max_attempts = max(self.max_attempts, attempt)
        return r

    def pair(self, account, deadline, tokens=None):
        """authorize + settle, each keyed; records what was acknowledged."""
        rid = uid("req")
        inp, out = tokens or (random.randint(10, 2000), random.randint(1, 500))
        a = self.call("POST", "/v1/guard/authorize", {"account": account, "model": MODEL, "input_tokens": inp,
                                                      "max_output_tokens": 500, "request_id": rid},
                      key=uid("ka"), deadline=deadline)
        if a is None:
            return False
        hold = a.json["hold_id"]
        with self.lock:
            self.holds[hold] = (account, None)
        s = self.call("POST", "/v1/guard/settle", {"hold_id": hold, "input_tokens": inp, "output_tokens": out},
                      key=uid("ks"), deadline=deadline)
        if s is None:
            return False
        with self.lock:
            self.holds[hold] = (account, s.json["charged_micros"])
            self.charged[account] = self.charged.get(account, 0) + s.json["charged_micros"]
        return True

    def grant(self, account, micros, deadline):
        key = uid("kg")
        g = self.call("POST", "/v1/accounts/%s/grants" % account, {"amount_micros": micros, "source": "promo"},
                      auth="admin", key=key, deadline=deadline)
        if g is None:
            return False
        with self.lock:
            self.granted[account] = self.granted.get(account, 0) + micros
            self.grant_keys.append((account, key))
        return True

    def check_clean(self):
        if self.errors:
            raise Fail("%d contract errors, first: %s" % (len(self.errors), "; ".join(self.errors[:3])))


def run_clients(n, fn, seconds):
    """Runs fn(i, stop_at) in n threads until stop_at; returns when all end."""
    stop_at = time.time() + seconds
    threads = [threading.Thread(target=fn, args=(i, stop_at), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def join(threads, timeout):
    end = time.time() + timeout
    for t in threads:
        t.join(max(0.1, end - time.time()))
    if any(t.is_alive() for t in threads):
        raise Fail("client threads still running after %.0f s" % timeout)
