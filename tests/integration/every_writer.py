"""every_writer.py: every writer of money at once on a few hot accounts,
through two creditd processes on one database (DESIGN §14, "No money
written from a row that was not locked or checked"). The workload and
its checks; the tests that run it: tests/integration/test_69_every_writer.py
(./dev check, short) and tests/chaos/chaos_every_writer.py (./dev chaos,
longer). Another stack (a Galera stack's two instances) is another Target.

Four hot accounts (three users and a workspace on a plan whose member cap
binds its members), each request sent to one of the two processes at
random, from many client threads at once:
  - guard pairs: authorize, then settle within the hold or beyond it
    (output above max_output_tokens), or release, or leave the hold to
    expire (ttl 1 s; half of those settled late); with and without a
    member; the settle mostly without an Idempotency-Key. A guard call
    with no member and no key is decided on the rows its process kept in
    memory: the path whose write lost grants and charges before sql/040;
  - POST /v1/usage with and without request_id, admin grants (some
    expiring within seconds, written off by the sweep) and debits;
  - Stripe top-ups credited by signed checkout.session.completed (some
    delivered twice) and refunded by charge.refunded, half then all;
    promo redemptions; an auto-recharge that fires again each time its
    credit is spent (charged and credited by creditd's recharge thread),
    one of them refunded;
  - referrals: the other hot accounts, and four more, were created with
    the first user's or the third's referral code: each one's first
    credited top-up rewards it and its referrer (the referrer locked
    last) in the middle of the load, and a refund of that top-up takes
    both grants back;
  - gateway chat completions, streamed and whole; images, audio,
    embeddings, background runs, batches, provider timeouts resolved by
    creditctl (every_writer_gateway.py, with its own checks);
  - the stack's clock moved into the next month mid-run: the workspace's
    plan period comes due, its old plan grant expires, holds expire;
  - threshold alerts on a user and the workspace (every_writer_alerts.py).
Then, for every hot account: balance = sum of its journal, reserved = sum
of its pending holds (and each member's reserve of its pending holds),
each journal row's balance_after = the running sum in id order; each
alert told once per crossing (every_writer_alerts.py); creditctl
verify reports 0 violations; every answer was one the API promises (no
5xx); what was acknowledged is in the database as answered, every write
by the ids its answer gave (every_writer_acked.py); every writer
wrote; both creditd processes are the ones started, still running;
no referral was rewarded twice, past its referrer's monthly cap, or left
standing after a refund of the top-up that rewarded it.
"""
import calendar
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import secrets
import threading
import time
import urllib.parse

import every_writer_acked
import every_writer_alerts
import every_writer_gateway
import every_writer_referrals
import lib
from lib import ENV, Fail, api, check, clock_now, clock_set, eq, key, uid, wait_until
from test_30_stripe import RATE, checkout_event, event, fake, fake_mode, session

MODEL = "gpt-4o"
FUNDS = 10 ** 11                 # each hot account's grant: nothing ever runs dry
PLAN_CREDITS = 20 * 10 ** 6
MEMBER_CAP = 10 ** 6             # the plan's member cap (ann, and cy who has no row): reached mid-month
RECHARGE_CENTS = 1000

# A deadlock met while creditd fetched a batch read's rows (the connection's
# 1213) was taken for rows past the read's bounds ("MariaDB error 2008"),
# answered 500 (fixed in store_sets.c: every 5xx fails the test). True counts
# such 500s apart (at most as the logs hold that line), for a creditd before.
TOLERATE_FETCH_DEADLOCK_500 = False
FETCH_DEADLOCK_LOG = ": MariaDB error 2008"     # "batch read: ...", "batch write: ..."
# How often a call takes a path that reads its rows (a member, a request_id
# to look up, an Idempotency-Key): seldom, so that most guard batches are
# decided on the rows kept in memory. Holds left to expire are made only
# in windows (EXPIRY_WINDOW_S every EXPIRY_PERIOD_S), and expiring grants
# in them expire at the next window's start: an account with something
# due reads its rows too, so the due moments are kept together.
MEMBER_SHARE = 0.12              # of the workspace's guard calls and usage
USAGE_RID_SHARE = 0.25
SETTLE_KEY_SHARE = 0.05
EXPIRY_PERIOD_S, EXPIRY_WINDOW_S = 10.0, 1.0
FETCH_DEADLOCK_KINDS = ("authorize", "authorize member", "settle", "settle beyond", "settle late", "release",
                        "usage", "gateway stream", "gateway whole", "read")


class Target:
    """The stack under load. bases: one API URL per creditd process (each
    request goes to one at random); gateway_bases: where the gateway's
    routes are reached; sql(statement) -> rows; pids: {name: pid} of the
    creditd processes, as recorded when the stack started them."""

    def __init__(self, name, bases, gateway_bases, sql, pids, logs, provider_url=None):
        self.name, self.bases, self.gateway_bases = name, bases, gateway_bases
        self.sql, self.pids, self.logs, self.provider_url = sql, pids, logs, provider_url


def integration_target():
    """The ./dev stack: creditd behind nginx and a second creditd behind Apache."""
    import stack
    names = ("creditd", "creditd-apache")
    return Target("nginx+apache", [ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]],
                  [ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]], lib.sql,
                  {n: stack.pid_of(n) for n in names}, [stack.path("creditd.log")], ENV.get("CREDITD_PROVIDER_URL"))


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def sign(payload):
    """A Stripe-Signature for payload, at the stack's clock (creditd checks
    the timestamp against its own, moved, clock)."""
    t = clock_now()
    mac = hmac.new(ENV["CREDITD_WEBHOOK_SECRET"].encode(), ("%d.%s" % (t, payload)).encode(), hashlib.sha256)
    return "t=%d,v1=%s" % (t, mac.hexdigest())


class Tally:
    """Every answer counted by kind and status; an answer the API does not
    promise for what was sent is a contract error."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []
        self.requests = 0
        self.fetch_deadlocks = 0     # 500s of the known defect (TOLERATE_FETCH_DEADLOCK_500)

    def seen(self, kind, r, ok):
        status = r.status if r is not None else "conn"
        known = (TOLERATE_FETCH_DEADLOCK_500 and status == 500 and kind in FETCH_DEADLOCK_KINDS and
                 (kind.startswith("gateway") or r.err.get("code") == "internal_error"))
        with self.lock:
            self.requests += 1
            per = self.counts.setdefault(kind, {})
            per[status] = per.get(status, 0) + 1
            if known:
                self.fetch_deadlocks += 1
            elif status not in ok:
                self.errors.append("%s -> %r" % (kind, r))
        return status in ok

    def ok(self, kind):
        return sum(n for s, n in self.counts.get(kind, {}).items() if s in (200, 201))

    def fivexx(self):
        """5xx answers and cut connections, the known defect's aside."""
        return sum(n for k, per in self.counts.items() if k != every_writer_gateway.TIMEOUT for s, n in per.items()
                   if s == "conn" or s >= 500) - self.fetch_deadlocks


class Workload:
    def __init__(self, target, seconds, clients, jumps=1, topups_per_account=3, seed=None, mail=None, referrals=True):
        self.t, self.mail, self.referrals = target, mail, referrals   # mail: every_writer_mail.Mailing, or None
        self.seconds, self.clients, self.jumps = seconds, clients, jumps
        self.topups_per_account = topups_per_account
        self.seed = int(os.environ.get("CREDITD_EVERY_WRITER_SEED") or random.randrange(1 << 30)) if seed is None else seed
        self.tally = Tally()
        self.lock = threading.Lock()
        self.settled = {}        # hold_id -> (charged_micros answered, the stack's clock then)
        self.released = {}       # hold_id -> (state answered by the release, the stack's clock then)
        self.left = []           # holds left to expire
        self.late = []           # (due, hold_id): expired holds to settle late
        self.expiring_grants = []
        self.expiring_windows = set()     # the windows an expiring grant was acknowledged in
        self.pending_topups = []     # (due, account, session id, cents): spread over the run
        self.credited = {}           # session id -> [account, payment_intent, cents, charge, refunded_cents, busy]
        self.redeemable = []         # (due, account, code): spread over the run
        self.redeemed = {}           # code -> acknowledged redemptions
        self.months = []         # plan period keys the clock was moved into
        self.recharge_refunded = None
        self.usage_with_rid = self.usage_without_rid = 0
        self.late_settles = 0
        self.acked = every_writer_acked.Acked()     # usage, grants, debits, gateway calls answered
        self.media = every_writer_gateway.Media(self)   # images, audio, embeddings, runs, batches, timeouts
        self.t0 = time.time()

    # ---- HTTP ----

    def call(self, kind, rnd, method, path, body=None, auth="guard", ok=(200,), headers=None, base=None):
        try:
            r = api(method, path, body, auth=auth, headers=headers, base=base or rnd.choice(self.t.bases))
        except (OSError, http.client.HTTPException):
            r = None            # a cut connection: counted as such
        return r if self.tally.seen(kind, r, ok) else None

    def gateway(self, rnd):
        acct, member = self.account_and_member(rnd)
        stream = rnd.random() < 0.5
        body = {"model": MODEL, "messages": [{"role": "user", "content": "every writer at once, say words"}]}
        if rnd.random() < 0.5:
            body["max_completion_tokens"] = 50
        if stream:
            body["stream"] = True
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + key("guard"),
                   "Creditd-Account": acct}
        if stream:
            headers["Creditd-Stream-Cost"] = "1"       # its charge in a last comment line
        if member:
            headers["Creditd-Member"] = member
        u = urllib.parse.urlsplit(rnd.choice(self.t.gateway_bases))
        r, sent = None, clock_now()
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            c.request("POST", u.path.rstrip("/") + "/openai/v1/chat/completions", body=json.dumps(body),
                      headers=headers)
            resp = c.getresponse()
            r = lib.Resp(resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()})
            c.close()
        except (OSError, http.client.HTTPException):
            r = None            # a stream cut midway included
        kind = "gateway stream" if stream else "gateway whole"
        if not self.tally.seen(kind, r, (200, 429) if member else (200,)) or r.status != 200:
            return
        wrong = self.acked.gateway_answered(r, stream, sent)
        self.contract(wrong is None, wrong)

    def contract(self, ok, msg):
        """An answer that breaks what the API promises, counted with the others."""
        if not ok:
            with self.tally.lock:
                self.tally.errors.append(msg)
        return ok

    # ---- set-up ----

    def setup(self):
        """The hot accounts, the plan and its members, the card kept for
        auto-recharge, promo codes and top-up sessions."""
        self.log_from = [os.path.getsize(p) for p in self.t.logs]
        fake_mode("ok")
        fake("POST", "/_payment_mode", {"mode": "ok"})
        if self.t.provider_url:
            u = urllib.parse.urlsplit(self.t.provider_url)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            c.request("POST", "/_mode", body=json.dumps({"mode": "ok"}), headers={"Content-Type": "application/json"})
            eq(c.getresponse().status, 200, "the fake provider's mode")
            c.close()
        self.plan = "ew-" + secrets.token_hex(5)
        r = api("PUT", "/v1/plans/" + self.plan, {"credits_micros": PLAN_CREDITS, "rollover": "none",
                                                  "member_cap_micros": MEMBER_CAP})
        eq(r.status, 200, "plan %r" % r)
        self.users = [uid("ew-user") for _ in range(3)]
        self.workspace = uid("ew-team")
        self.accounts = self.users + [self.workspace]
        self.codes = {}
        for i, acct in enumerate(self.accounts):
            body = {"id": acct, "kind": "user"} if acct != self.workspace else {
                "id": acct, "kind": "workspace", "plan": self.plan}
            every_writer_referrals.refer(self, i, body)
            r = api("POST", "/v1/accounts", body, base=self.t.bases[i % 2])
            eq(r.status, 201, "account %r" % r)
            r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": FUNDS, "source": "adjustment"})
            eq(r.status, 201, "funds %r" % r)
            every_writer_referrals.code_of(self, i, acct)
        every_writer_referrals.more_referred(self)
        # ann has no cap of her own (the plan's binds her), bo has his own;
        # a member with no row at all ("cy") is held to the plan's cap too.
        for body in ({"member": "ann"}, {"member": "bo", "monthly_cap_micros": 10 * MEMBER_CAP}):
            r = api("POST", "/v1/accounts/%s/members" % self.workspace, body)
            eq(r.status, 201, "member %r" % r)
        self.first_month = self.month_key(clock_now())
        self.alerting = every_writer_alerts.Alerts(self).setup()
        if self.mail is not None:
            self.mail.setup(self)
        self.recharger = self.users[1]
        self.keep_card(self.recharger)
        codes = ["EW-" + secrets.token_hex(5).upper() for _ in range(4 + self.topups_per_account)]
        for c in codes:
            r = api("POST", "/v1/promo_codes", {"code": c, "amount_micros": 2000})
            eq(r.status, 201, "promo code %r" % r)
            self.redeemed[c] = 0
        pairs = [(a, c) for a in self.accounts for c in codes]
        random.Random(self.seed).shuffle(pairs)
        self.redeemable = pairs
        for acct in self.accounts:
            for i in range(self.topups_per_account):
                cents = 500 + 100 * i
                r = api("POST", "/v1/accounts/%s/topup" % acct, {"amount_cents": cents}, auth="app")
                eq(r.status, 200, "top-up session %r" % r)
                self.pending_topups.append((acct, r.json["session_id"], cents))
        every_writer_referrals.topups(self)
        self.media.setup()

    def spread(self, items, t0):
        """items, each given a time to be sent, evenly over the run's first 80 %."""
        return [(t0 + 0.8 * self.seconds * i / len(items),) + tuple(x) for i, x in enumerate(items)]

    @staticmethod
    def take_due(items, rnd):
        """Removes and returns one item of (due, ...) whose time came, or None."""
        due = [x for x in items if x[0] <= time.time()]
        if not due:
            return None
        x = rnd.choice(due)
        items.remove(x)
        return x[1:]

    def keep_card(self, acct):
        """A top-up that keeps its card (as test_57's with_card), signed at the stack's clock."""
        r = api("POST", "/v1/accounts/%s/topup" % acct, {"amount_cents": 1000, "save_card": True}, auth="app")
        eq(r.status, 200, "top-up keeping the card %r" % r)
        out = fake("POST", "/_sessions/%s/complete" % r.json["session_id"],
                   {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"], "timestamp": clock_now()})
        for payload, sig in ((out["payload"], out["signature"]),
                             (out["payment_intent_payload"], out["payment_intent_signature"])):
            r = api("POST", "/v1/webhooks/stripe", raw=payload.encode(), auth=None, headers={"Stripe-Signature": sig})
            eq(r.status, 200, "card webhook %r" % r)
        eq(api("GET", "/v1/accounts/" + acct, auth="read").json["card_saved"], True, "card saved")

    @staticmethod
    def month_key(ts):
        t = time.gmtime(ts)
        return t.tm_year * 100 + t.tm_mon

    # ---- the writers ----

    def expiry_window(self):
        """True in the first EXPIRY_WINDOW_S of every EXPIRY_PERIOD_S of the load."""
        return (time.time() - self.t0) % EXPIRY_PERIOD_S < EXPIRY_WINDOW_S

    def next_window(self):
        """Seconds from now to the next window's start, None past the load's end."""
        elapsed = time.time() - self.t0
        start = (elapsed // EXPIRY_PERIOD_S + 1) * EXPIRY_PERIOD_S
        return start - elapsed if start < self.seconds else None

    def account_and_member(self, rnd):
        acct = rnd.choice(self.accounts)
        if acct == self.workspace and rnd.random() < MEMBER_SHARE:
            return acct, rnd.choice(("ann", "ann", "bo", "cy"))
        return acct, None

    def guard_pair(self, rnd):
        acct, member = self.account_and_member(rnd)
        body = {"account": acct, "model": MODEL, "input_tokens": 1000, "max_output_tokens": 500,
                "request_id": uid("ew")}
        if member:
            body["member"] = member
        expiring = self.expiry_window() and rnd.random() < 0.3
        if expiring:
            body["ttl_seconds"] = 1
        r = self.call("authorize member" if member else "authorize", rnd, "POST", "/v1/guard/authorize", body,
                      ok=(200, 429) if member else (200,))
        if r is None or r.status != 200:
            return
        hold = r.json["hold_id"]
        if expiring:
            with self.lock:
                if rnd.random() < 0.5:
                    self.late.append((time.time() + 2.5, hold))
                else:
                    self.left.append(hold)
            return
        x = rnd.random()
        if x < 0.12:
            sent = clock_now()
            r = self.call("release", rnd, "POST", "/v1/guard/release", {"hold_id": hold})
            if r is not None:
                with self.lock:
                    self.released[hold] = (r.json["state"], sent)
            return
        out = 900 if x > 0.8 else rnd.choice((100, 400))        # 900: beyond the hold's 500
        headers = {"Idempotency-Key": uid("ks")} if rnd.random() < SETTLE_KEY_SHARE else None
        self.settle(rnd, "settle beyond" if out > 500 else "settle", hold, out, headers)

    def settle(self, rnd, kind, hold, out, headers=None):
        sent = clock_now()
        r = self.call(kind, rnd, "POST", "/v1/guard/settle", {"hold_id": hold, "input_tokens": 1000,
                                                             "output_tokens": out}, headers=headers)
        if r is not None:
            with self.lock:
                self.settled[hold] = (r.json["charged_micros"], sent)
                self.late_settles += bool(r.json["late"])

    def settle_late(self, rnd):
        with self.lock:
            due = [x for x in self.late if x[0] <= time.time()]
            if not due:
                return False
            self.late.remove(due[0])
        self.settle(rnd, "settle late", due[0][1], rnd.choice((100, 700)))
        return True

    def usage(self, rnd):
        acct, member = self.account_and_member(rnd)
        body = {"account": acct, "model": MODEL, "input_tokens": 500, "output_tokens": rnd.choice((50, 300))}
        with_rid = rnd.random() < USAGE_RID_SHARE
        if with_rid:
            body["request_id"] = uid("ewu")
        if member:
            body["member"] = member
        r = self.call("usage", rnd, "POST", "/v1/usage", body, ok=(200, 429) if member else (200,))
        if r is not None and r.status == 200:
            self.acked.usage_answered(acct, r)
            with self.lock:
                if with_rid:
                    self.usage_with_rid += 1
                else:
                    self.usage_without_rid += 1

    def grant(self, rnd):
        acct = rnd.choice(self.accounts)
        window = int((time.time() - self.t0) // EXPIRY_PERIOD_S)     # a toss, but one in each window at least
        expiring = self.expiry_window() and self.next_window() is not None and (
            window not in self.expiring_windows or rnd.random() < 0.5)
        for attempt in (1, 2):
            jumps = len(self.months)
            body = {"amount_micros": 1000, "source": "adjustment"}
            if expiring:        # priority 90 burns last: it expires with all of it left
                body = {"amount_micros": 3000, "source": "promo", "priority": 90,
                        "expires_at": rfc3339(clock_now() + int(self.next_window()) + 1)}
            try:
                r = api("POST", "/v1/accounts/%s/grants" % acct, body, base=rnd.choice(self.t.bases))
            except (OSError, http.client.HTTPException):
                r = None
            # An expiry reckoned just before the clock jumped is in the past.
            if not (attempt == 1 and r is not None and r.status == 400 and len(self.months) != jumps):
                break
        if self.tally.seen("grant expiring" if expiring else "grant", r, (201,)):
            g = self.acked.grant_answered(acct, r)
            if expiring:
                with self.lock:
                    self.expiring_grants.append(g)
                    self.expiring_windows.add(window)

    def debit(self, rnd):
        acct = rnd.choice(self.accounts)
        r = self.call("debit", rnd, "POST", "/v1/accounts/%s/debits" % acct,
                      {"amount_micros": 700, "reason": "every writer"}, auth="admin", ok=(201,))
        if r is not None:
            self.acked.debit_answered(acct, r)

    def webhook(self, kind, rnd, ev):
        """Posts a Stripe event signed at the stack's clock to one process.
        Signed just before the clock jumps a month, it is a month old when
        checked (400): sent again once, signed anew."""
        for attempt in (1, 2):
            jumps = len(self.months)
            ev["created"] = clock_now()
            payload = json.dumps(ev)
            try:
                r = api("POST", "/v1/webhooks/stripe", raw=payload.encode(), auth=None,
                        headers={"Stripe-Signature": sign(payload)}, base=rnd.choice(self.t.bases))
            except (OSError, http.client.HTTPException):
                r = None
            if attempt == 1 and r is not None and r.status == 400 and len(self.months) != jumps:
                continue
            return r if self.tally.seen(kind, r, (200,)) else None

    def stripe(self, rnd):
        """A pending top-up credited, or a credited one refunded (half, then all)."""
        with self.lock:
            refundable = [s for s, v in self.credited.items() if v[4] < v[2] and not v[5]]
            topup = self.take_due(self.pending_topups, rnd) if not refundable or rnd.random() < 0.5 else None
            refund = None
            if topup is not None:
                acct, sid, cents = topup
            elif refundable:
                refund = rnd.choice(refundable)
                self.credited[refund][5] = True          # one refund of a top-up in flight at a time
            else:
                return
        if refund is None:
            r = self.webhook("top-up credited", rnd, checkout_event(sid))
            if r is None:
                return
            if not self.contract(r.json["outcome"] == "credited", "a paid session's first event credits it: %r" % r):
                return
            if rnd.random() < 0.3:    # Stripe delivers it again, with another event id
                again = self.webhook("top-up again", rnd, checkout_event(sid))
                self.contract(again is None or again.json["outcome"].startswith("duplicate"),
                              "a second delivery credits nothing: %r" % again)
            with self.lock:
                self.credited[sid] = [acct, session(sid)["payment_intent"], cents, "ch_" + secrets.token_hex(12), 0,
                                      False]
            return
        acct, pi, cents, charge, done, _ = self.credited[refund]
        now = cents if done else cents // 2
        r = self.webhook("top-up refunded", rnd, self.refund_event(acct, pi, charge, cents, now))
        with self.lock:
            if r is not None:
                self.credited[refund][4] = now
            self.credited[refund][5] = False

    def refund_event(self, acct, pi, charge, cents, refunded):
        """charge.refunded for a payment of `cents`, refunded so far in all (test_30's charge_event)."""
        customer = self.t.sql("SELECT stripe_customer_id FROM accounts WHERE ext_id = '%s'" % acct)[0][0]
        return event("charge.refunded", {
            "id": charge, "object": "charge", "amount": cents, "amount_captured": cents,
            "amount_refunded": refunded, "captured": True, "currency": "eur", "customer": customer,
            "metadata": {"type": "credit_topup", "account": acct}, "paid": True, "payment_intent": pi,
            "refunded": refunded >= cents, "status": "succeeded"})

    def redeem(self, rnd):
        with self.lock:
            pair = self.take_due(self.redeemable, rnd)
        if pair is None:
            return
        acct, code = pair
        r = self.call("promo redeemed", rnd, "POST", "/v1/accounts/%s/redeem" % acct, {"code": code}, auth="app",
                      ok=(201,))
        if r is not None:
            with self.lock:
                self.redeemed[code] += 1

    def read(self, rnd):
        acct = rnd.choice(self.accounts)
        if rnd.random() < 0.8:
            self.call("read", rnd, "GET", "/v1/accounts/" + acct, auth="read")
        else:
            self.call("read", rnd, "GET", "/v1/accounts/%s/transactions?limit=20" % acct, auth="read")

    # ---- the clock and the recharges: one conductor thread ----

    def jump(self):
        """The clock into the next month: the plan period comes due (the mailer watched across: Mailing.across)."""
        t = time.gmtime(clock_now())
        y, m = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
        # The month counted with the move: a grant or webhook refused for a time reckoned before it is sent again.
        move = lambda: (clock_set(calendar.timegm((y, m, 1, 0, 0, 30))), self.months.append(y * 100 + m))  # noqa: E731
        self.mail.across(move) if self.mail is not None else move()

    def recharges(self):
        return self.t.sql("SELECT r.state, r.amount_cents, r.credited_micros, IFNULL(r.payment_intent, '-'), IFNULL("
                          "r.error, '-') FROM recharges r JOIN accounts a ON a.id = r.account_id WHERE a.ext_id = '%s' "
                          "ORDER BY r.id" % self.recharger)

    def arm_recharge(self, rnd):
        """The recharger's auto-recharge, armed once just under what it
        has: the load crosses it within a second, and again each time a
        recharge's credit is spent (creditd queues one at a time, at most
        auto_recharge_max_per_day a day). Arming it again would cancel a
        recharge queued meanwhile."""
        a = api("GET", "/v1/accounts/" + self.recharger, auth="read")
        eq(a.status, 200, "the recharger %r" % a)
        self.call("recharge armed", rnd, "PATCH", "/v1/accounts/" + self.recharger,
                  {"auto_recharge": {"threshold_micros": a.json["available_micros"] - 20000,
                                     "amount_cents": RECHARGE_CENTS}}, auth="admin")

    def refund_recharge(self, rnd):
        """A third of the first recharge credited, refunded (once)."""
        done = [r for r in self.recharges() if r[0] == "succeeded"]
        if done and self.recharge_refunded is None:
            self.recharge_refunded = done[0][3]
            self.webhook("recharge refunded", rnd, self.refund_event(
                self.recharger, done[0][3], "ch_" + secrets.token_hex(12), RECHARGE_CENTS, RECHARGE_CENTS // 3))

    def conductor(self, stop_at):
        rnd = random.Random(self.seed - 1)
        start = time.time()
        jumps = [start + self.seconds * (i + 1) / (self.jumps + 1) for i in range(self.jumps)]
        self.arm_recharge(rnd)
        while time.time() < stop_at:
            if jumps and time.time() >= jumps[0]:
                jumps.pop(0)
                self.media.across(self.jump)
            self.refund_recharge(rnd)
            self.alerting.drive(rnd, (time.time() - start) / self.seconds)
            self.media.drive()
            time.sleep(0.3)

    # ---- the run ----

    def client(self, i, stop_at):
        rnd = random.Random(self.seed + i)
        writers = ((0.40, self.guard_pair), (0.58, self.usage), (0.65, self.grant), (0.68, self.debit),
                   (0.72, self.gateway), (0.75, self.stripe), (0.77, self.redeem), (0.83, self.media.write))
        while time.time() < stop_at:
            if rnd.random() < 0.1 and self.settle_late(rnd):
                continue
            x = rnd.random()
            fn = next((f for w, f in writers if x < w), self.read)
            fn(rnd)

    def run(self):
        """Set-up, the load, then every check; the clock put back at the
        end. Returns the figures."""
        print("every writer: seed %d, %d clients, %d s, on %s" % (self.seed, self.clients, self.seconds,
                                                                   self.t.name), flush=True)
        try:
            self.setup()
            retried = lib.tx_retries(self.t.bases)
            elapsed = self.load()
            retried = {k: v - retried.get(k, 0) for k, v in lib.tx_retries(self.t.bases).items()}
            print("every writer: transactions run again, by reason: %s" % json.dumps(retried, sort_keys=True),
                  flush=True)
            self.check_all(self.settle_down())
        finally:
            lib.clock_reset()
        fig = {"seconds": round(elapsed, 1), "requests": self.tally.requests,
               "requests_per_s": self.tally.requests / elapsed}
        fig.update({"tx_retries_" + k: v for k, v in sorted(retried.items())})
        fig.update({k.replace(" ", "_"): self.tally.ok(k) for k in sorted(self.tally.counts)})
        fig.update({"holds_expired": len(self.left), "grants_expired": len(self.expiring_grants),
                    "recharges_credited": sum(r[0] == "succeeded" for r in self.recharges()),
                    "months": len(self.months), "known_500": self.tally.fetch_deadlocks,
                    "alerts_told": self.alerting.told()})
        return fig

    def load(self):
        failures = []
        stop_at = time.time() + self.seconds

        def guarded(fn, *args):
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - reported after the join
                failures.append(e)

        threads = [threading.Thread(target=guarded, args=(self.client, i, stop_at), daemon=True)
                   for i in range(self.clients)]
        threads.append(threading.Thread(target=guarded, args=(self.conductor, stop_at), daemon=True))
        t0 = self.t0 = time.time()
        self.pending_topups = self.spread(self.pending_topups, t0)
        self.redeemable = self.spread(self.redeemable, t0)
        self.media.start(t0, self.seconds)
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1, stop_at + 180 - time.time()))
        check(not any(t.is_alive() for t in threads), "client threads still running 3 min after the end")
        if failures:
            raise failures[0]
        with self.lock:
            self.left += [h for _, h in self.late]
            self.late = []
        return time.time() - t0

    # ---- the checks ----

    def numbers(self, hold_ids):
        """{hold id: its row id}, read back with the stack's hold id key
        (through the target's own SQL: a Galera node, or the stack's)."""
        keys = self.t.sql("SELECT name, value FROM settings WHERE name LIKE 'hold_id_key_%'")
        return {h: parts[1] for h, parts in lib.hold_parts_many(hold_ids, keys).items()}

    def settle_down(self):
        """Waits for what comes after the answers: the sweep's expiries of
        the holds left to expire and of the expiring grants, and the
        recharge thread's last charge, the gateway's (every_writer_gateway.py). What did not come is a problem."""
        out = self.media.settle_down()
        holds = ",".join(str(n) for n in self.numbers(self.left).values()) or "0"
        grants = ",".join(map(str, self.expiring_grants)) or "0"
        for what, statement in (
                ("holds left to expire still pending",
                 "SELECT COUNT(*) FROM holds WHERE id IN (%s) AND state = 'pending'" % holds),
                ("expiring grants not written off",
                 "SELECT COUNT(*) FROM grants WHERE id IN (%s) AND remaining_micros <> 0" % grants),
                ("recharges in flight", "SELECT COUNT(*) FROM recharges r JOIN accounts a ON a.id = r.account_id "
                 "WHERE a.ext_id = '%s' AND r.state IN ('queued', 'sent')" % self.recharger)):
            if not wait_until(lambda: self.t.sql(statement)[0][0] == "0", timeout=30, step=0.5):
                out.append("%s 30 s after the load: %s" % (what, self.t.sql(statement)[0][0]))
        self.media.acknowledge()
        return out

    def in_accounts(self):
        return "(SELECT id FROM accounts WHERE ext_id IN (%s))" % ",".join("'%s'" % a for a in self.accounts)

    def ledger_problems(self):
        """DESIGN §4's invariants 1 and 2 on the hot accounts, each read in one statement."""
        out = []
        rows = self.t.sql(
            "SELECT a.ext_id, a.balance_micros, (SELECT COALESCE(SUM(j.amount_micros), 0) FROM journal j WHERE "
            "j.account_id = a.id), a.reserved_micros, (SELECT COALESCE(SUM(h.amount_micros), 0) FROM holds h "
            "WHERE h.account_id = a.id AND h.state = 'pending') FROM accounts a WHERE a.id IN %s" % self.in_accounts())
        eq(sorted(r[0] for r in rows), sorted(self.accounts), "the hot accounts' rows")
        for acct, balance, journal, reserved, pending in rows:
            balance, journal, reserved, pending = int(balance), int(journal), int(reserved), int(pending)
            if balance != journal:
                out.append("%s: balance_micros %s, its journal sums to %s" % (acct, balance, journal))
            if reserved != pending:
                out.append("%s: reserved_micros %s, its pending holds sum to %s" % (acct, reserved, pending))
        for member, reserved, pending in self.t.sql(
                "SELECT m.member, m.reserved_micros, (SELECT COALESCE(SUM(h.amount_micros), 0) FROM holds h WHERE "
                "h.account_id = m.account_id AND h.member = m.member AND h.state = 'pending') FROM members m WHERE "
                "m.account_id IN %s" % self.in_accounts()):
            if int(reserved) != int(pending):
                out.append("member %s: reserved_micros %s, its pending holds sum to %s" % (member, reserved, pending))
        broken = self.t.sql(
            "SELECT a.ext_id, COUNT(*), MIN(c.id) FROM (SELECT id, account_id, balance_after_micros AS after, "
            "SUM(amount_micros) OVER (PARTITION BY account_id ORDER BY id) AS run FROM journal WHERE account_id "
            "IN %s) c JOIN accounts a ON a.id = c.account_id WHERE c.after <> c.run GROUP BY a.ext_id"
            % self.in_accounts())
        for acct, n, first in broken:
            near = self.t.sql("SELECT id, amount_micros, balance_after_micros, cause, IFNULL(hold_id, '-'), created_at "
                              "FROM journal WHERE account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND id "
                              "<= %s ORDER BY id DESC LIMIT 4" % (acct, first))
            out.append("%s: %s journal rows whose balance_after_micros is not the running sum, from id %s (id, amount, "
                       "balance_after, cause, hold, at: %s)" % (acct, n, first, "; ".join(" ".join(r) for r in near)))
        return out

    def verify_problems(self):
        p = lib.creditctl("verify", check_rc=False)
        m = re.search(r"^(\d+) violations, (\d+) warnings$", p.stdout, re.M)
        if p.returncode == 0 and m is not None and m.group(1) == "0":
            return []
        lines = [x for x in p.stdout.splitlines() if x.startswith("violation")]
        return ["creditctl verify: exit %d, %s; %s" % (p.returncode, m.group(0) if m else p.stderr.strip()[-300:],
                                                        "; ".join(lines[:5]))]

    def acknowledged_problems(self):
        """What was acknowledged is in the database as it was answered:
        holds, usage, grants, debits, gateway calls (every_writer_acked.py),
        top-ups, promo codes, recharges."""
        out = every_writer_acked.problems(self)
        sids = ",".join("'%s'" % s for s in self.credited) or "''"
        for sid, status, credited, refunded in self.t.sql(
                "SELECT session_id, status, credited_micros, refunded_micros FROM topups WHERE session_id IN (%s)"
                % sids):
            _acct, _pi, cents, _charge, done, _busy = self.credited[sid]
            if (status, int(credited), int(refunded)) != ("credited", cents * RATE, done * RATE):
                out.append("top-up %s: %s, credited %s, refunded %s; answered %d cents, %d refunded"
                           % (sid, status, credited, refunded, cents, done))
        codes = dict(self.t.sql("SELECT code, redeemed FROM promo_codes WHERE code IN (%s)"
                                % ",".join("'%s'" % c for c in self.redeemed)))
        if {c: int(n) for c, n in codes.items()} != self.redeemed:
            out.append("promo codes redeemed %r, acknowledged %r" % (codes, self.redeemed))
        for state, cents, credited, pi, error in self.recharges():
            if (state, int(credited)) != ("succeeded", int(cents) * RATE):
                out.append("recharge %s: %s, credited %s (%s)" % (pi, state, credited, error))
        return out

    def writer_problems(self):
        """Every writer wrote: a writer that never ran proves nothing."""
        out = ["no %s acknowledged" % k for k in (
            "authorize", "authorize member", "settle", "settle beyond", "settle late", "release", "usage", "grant",
            "grant expiring", "debit", "top-up credited", "top-up refunded", "promo redeemed", "gateway stream",
            "gateway whole", "recharge armed", "recharge refunded") if self.tally.ok(k) == 0]
        if not (self.usage_with_rid and self.usage_without_rid):
            out.append("usage with and without request_id: %d, %d" % (self.usage_with_rid, self.usage_without_rid))
        if not (self.left and self.late_settles):
            out.append("holds left to expire: %d, settled late: %d" % (len(self.left), self.late_settles))
        if not any(r[0] == "succeeded" for r in self.recharges()):
            out.append("no auto-recharge credited")
        periods = {int(r[0]) for r in self.t.sql("SELECT period_key FROM plan_periods WHERE account_id IN %s"
                                                 % self.in_accounts())}
        if not {self.first_month, *self.months} <= periods:
            out.append("plan periods %r, the months run through %r" % (sorted(periods),
                                                                        [self.first_month] + self.months))
        written_off = self.t.sql("SELECT COUNT(DISTINCT grant_id) FROM journal WHERE cause = 'expiry' AND grant_id "
                                 "IN (%s)" % (",".join(map(str, self.expiring_grants)) or "0"))[0][0]
        if int(written_off) != len(self.expiring_grants):
            out.append("%s of %d expiring grants written off" % (written_off, len(self.expiring_grants)))
        return out

    def process_problems(self):
        import stack
        return ["%s (pid %d) is no longer running as started (now %s)" % (name, pid, stack.pid_of(name))
                for name, pid in self.t.pids.items() if not stack.alive(pid) or stack.pid_of(name) != pid]

    def logged_errors(self):
        """The error and warning lines creditd logged since the load began
        (what to read first when an answer was a 5xx), repeated ones once."""
        out = []
        for path, start in zip(self.t.logs, self.log_from):
            with open(path, "rb") as f:
                f.seek(start)
                for line in f.read().decode("utf-8", "replace").splitlines():
                    text = line.split(" ", 2)[-1]
                    if (" error: " in line or " warn: " in line) and "test clock" not in line and text not in out:
                        out.append(text[:300])
        return out

    def check_all(self, problems):
        t = self.tally
        problems += self.ledger_problems() + self.verify_problems()
        if t.fivexx():
            problems.append("%d answers 5xx or cut; creditd's errors and warnings meanwhile: %s"
                            % (t.fivexx(), " | ".join(self.logged_errors()[:8]) or "none"))
        if t.errors:
            problems.append("%d answers the API does not promise, the first: %s" % (len(t.errors),
                                                                                    "; ".join(t.errors[:3])))
        if t.fetch_deadlocks:
            logged = 0
            for path, start in zip(self.t.logs, self.log_from):
                with open(path, "rb") as f:
                    f.seek(start)
                    logged += f.read().decode("utf-8", "replace").count(FETCH_DEADLOCK_LOG)
            print("every writer: KNOWN DEFECT: %d calls answered 500 after a deadlock while fetching a batch's "
                  "rows (%d logged '%s'); see TOLERATE_FETCH_DEADLOCK_500" % (t.fetch_deadlocks, logged,
                                                                              FETCH_DEADLOCK_LOG), flush=True)
            if t.fetch_deadlocks > logged:
                problems.append("%d answers 500 on guard calls and reads, only %d logged as the known defect"
                                % (t.fetch_deadlocks, logged))
        problems += self.process_problems() + self.acknowledged_problems() + self.writer_problems()
        problems += self.alerting.problems() + self.media.problems()
        problems += every_writer_referrals.problems(self)
        problems += self.mail.problems(self) if self.mail is not None else []
        print("every writer: %s" % json.dumps(t.counts, sort_keys=True, default=str), flush=True)
        if problems:
            raise Fail("every writer at once (seed %d): %s" % (self.seed, "\n  ".join(problems)))
