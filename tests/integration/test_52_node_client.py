"""test_52_node_client.py: the Node client (clients/node) against the real stack.

Each test runs a small ES module under `node` that imports the client from
the tree, calls creditd through nginx, and prints what it saw as one JSON
line; the assertions are here, against /v1/models prices, the journal and
the holds table. Retries are exercised through a local proxy that loses
the first answer (the write happened) or answers 503 first.
"""
import http.client
import http.server
import json
import math
import os
import re
import shutil
import subprocess
import threading
import urllib.parse

import lib
from lib import ENV, Fail, api, check, eq, sql, uid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLIENT = os.path.join(ROOT, "clients", "node", "index.js")

# Every script starts with this: the client, one object per key, and
# caught(promise) -> the error's class and fields (null when it resolved).
PRELUDE = r"""
const cd = await import(process.env.CLIENT_URL);
const URL_ = process.env.BASE_URL || process.env.CREDITD_URL;
const fast = { retryDelayMs: 20 };
const admin = new cd.Creditd(URL_, process.env.CREDITD_ADMIN_KEY, fast);
const guard = new cd.Creditd(URL_, process.env.CREDITD_GUARD_KEY, fast);
const reader = new cd.Creditd(URL_, process.env.CREDITD_READ_KEY, fast);
const app = new cd.Creditd(URL_, process.env.CREDITD_APP_KEY, fast);
const ARGS = JSON.parse(process.env.ARGS || '{}');
const caught = async (p) => {
  try { await p; return null; } catch (e) {
    return { cls: e.constructor.name, status: e.status, code: e.code, param: e.param,
             available: e.availableMicros, required: e.requiredMicros, retryAfter: e.retryAfter ?? null,
             message: e.message };
  }
};
const out = (x) => process.stdout.write(JSON.stringify(x) + '\n');
"""


def node(script, base=None, **args):
    """Runs PRELUDE + script as an ES module; returns its last JSON line."""
    exe = shutil.which("node")
    if exe is None:
        raise Fail("node is missing: install nodejs (18 or later)")
    env = dict(os.environ, CLIENT_URL="file://" + CLIENT, CREDITD_URL=ENV["CREDITD_URL"],
               CREDITD_ADMIN_KEY=ENV["CREDITD_ADMIN_KEY"], CREDITD_GUARD_KEY=ENV["CREDITD_GUARD_KEY"],
               CREDITD_READ_KEY=ENV["CREDITD_READ_KEY"], CREDITD_APP_KEY=ENV["CREDITD_APP_KEY"],
               BASE_URL=base or "", ARGS=json.dumps(args))
    p = subprocess.run([exe, "--input-type=module", "-e", PRELUDE + script],
                       capture_output=True, text=True, timeout=90, env=env)
    if p.returncode != 0:
        raise Fail("node exited %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    lines = [line for line in p.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise Fail("node printed no JSON: %s%s" % (p.stdout, p.stderr)) from None


def models():
    r = api("GET", "/v1/models", auth="read")
    eq(r.status, 200, "models")
    return r.json


def a_model(m):
    """The first model priced by its tokens with an output cap (other files
    on the stack may have priced media models or ones with no cap), and a
    cap it allows."""
    row = next(r for r in m["data"] if isinstance(r.get("max_output_tokens"), int)
               and isinstance(r.get("input_micros_per_mtok"), int) and isinstance(r.get("output_micros_per_mtok"), int))
    return row["model"], min(400, row["max_output_tokens"])


def cost(m, model, input_tokens, output_tokens, cached=0, cache_write=0):
    """ceil(((in - cached - cache_write)*p_in + cached*p_cached + cache_write*p_cache_write + out*p_out)
    * margin_bps / 10^10), integer math."""
    row = {r["model"]: r for r in m["data"]}[model]
    base = ((input_tokens - cached - cache_write) * row["input_micros_per_mtok"]
            + cached * row["cached_input_micros_per_mtok"] + cache_write * row["cache_write_micros_per_mtok"]
            + output_tokens * row["output_micros_per_mtok"])
    return -(-(base * m["margin_bps"]) // 10 ** 10)


def funded(micros, prefix="node", **fields):
    """An account holding exactly `micros`, then PATCHed with `fields` (limits)."""
    acct = uid(prefix)
    r = api("POST", "/v1/accounts", {"id": acct, "kind": "user"})
    check(r.status in (200, 201), "create: %r" % r)
    bonus = r.json["balance_micros"]
    if bonus > micros:
        r = api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": bonus - micros, "reason": "set-up"})
    elif micros > bonus:
        r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": micros - bonus, "source": "adjustment"})
    check(r.status in (200, 201), "set-up: %r" % r)
    if fields:
        r = api("PATCH", "/v1/accounts/" + acct, fields)
        eq(r.status, 200, "set-up patch: %r" % r)
    eq(balance(acct), micros, "set-up balance")
    return acct


def balance(acct):
    r = api("GET", "/v1/accounts/" + urllib.parse.quote(acct, safe=""), auth="read")
    eq(r.status, 200, "account")
    return r.json["balance_micros"]


def hold_state(hold_id):
    rows = sql("SELECT state FROM holds WHERE id = %d" % lib.hold_parts(hold_id)[1])
    eq(len(rows), 1, "hold row of %s" % hold_id)
    return rows[0][0]


# ---- authorize / settle ----


def test_node_authorize_settle_charges_the_exact_cost():
    m = models()
    model, cap = a_model(m)
    acct = funded(5_000_000)
    got = node(r"""
const hold = await guard.authorize({ account: ARGS.acct, requestId: 'chat-1', model: ARGS.model,
                                     inputTokens: 1200, maxOutputTokens: ARGS.cap });
const again = await guard.authorize({ account: ARGS.acct, requestId: 'chat-1', model: ARGS.model,
                                      inputTokens: 1200, maxOutputTokens: ARGS.cap });
const settled = await guard.settle(hold.hold_id, { inputTokens: 1100, outputTokens: 250, cachedInputTokens: 100 });
const replay = await guard.settle(hold.hold_id, { inputTokens: 1100, outputTokens: 250, cachedInputTokens: 100 });
const released = await caught(guard.release(hold.hold_id));
const report = await reader.usageReport(ARGS.acct, { groupBy: 'model' });
const account = await reader.getAccount(ARGS.acct);
out({ hold, again, settled, replay, released, report, account });
""", acct=acct, model=model, cap=cap)
    eq(got["hold"]["amount_micros"], cost(m, model, 1200, cap), "the hold is the worst case")
    eq(got["hold"]["max_output_tokens"], cap, "max_output_tokens answered")
    eq(got["again"]["hold_id"], got["hold"]["hold_id"], "the same request_id answers the same hold")
    charge = cost(m, model, 1100, 250, 100)
    eq(got["settled"]["charged_micros"], charge, "settle charges the exact cost")
    eq(got["replay"], got["settled"], "settling again with the same figures answers the first result")
    eq((got["released"]["cls"], got["released"]["status"]), ("Conflict", 409), "a settled hold is not released")
    eq(got["account"]["balance_micros"], 5_000_000 - charge, "balance after the settle")
    eq(balance(acct), 5_000_000 - charge, "balance seen by the API")
    eq(hold_state(got["hold"]["hold_id"]), "settled", "hold state")
    rows = json.dumps(got["report"])
    check(model in rows and str(charge) in rows, "the usage report counts the call: %s" % rows)


def test_node_min_output_tokens_shrinks_and_record_usage_force():
    m = models()
    model, cap = a_model(m)
    # Enough for the input and about half the output cap.
    micros = cost(m, model, 1000, cap // 2)
    acct = funded(micros)
    got = node(r"""
const refused = await caught(guard.authorize({ account: ARGS.acct, requestId: 'big', model: ARGS.model,
                                                 inputTokens: 1000, maxOutputTokens: ARGS.cap }));
const shrunk = await guard.authorize({ account: ARGS.acct, requestId: 'small', model: ARGS.model, inputTokens: 1000,
                                       maxOutputTokens: ARGS.cap, minOutputTokens: 1 });
await guard.release(shrunk.hold_id);
const noForce = await caught(guard.recordUsage({ account: ARGS.acct, model: ARGS.model, inputTokens: 1000,
                                                 outputTokens: ARGS.cap * 4, requestId: 'u1' }));
const forced = await guard.recordUsage({ account: ARGS.acct, model: ARGS.model, inputTokens: 1000,
                                         outputTokens: ARGS.cap * 4, requestId: 'u2', force: true });
out({ refused, shrunk, noForce, forced });
""", acct=acct, model=model, cap=cap)
    eq(got["refused"]["cls"], "InsufficientCredits", "without min_output_tokens: refused")
    out = got["shrunk"]["max_output_tokens"]
    check(1 <= out < cap, "the hold shrank: %r" % got["shrunk"])
    check(got["shrunk"]["amount_micros"] <= micros, "a shrunk hold fits the balance")
    eq(got["noForce"]["cls"], "InsufficientCredits", "usage past the balance is refused without force")
    eq(got["forced"]["charged_micros"], cost(m, model, 1000, cap * 4), "force charges it anyway")
    eq(got["forced"]["forced"], True, "forced")
    eq(balance(acct), micros - cost(m, model, 1000, cap * 4), "the forced charge is in the balance")


# ---- refusals ----


def test_node_refusals_are_typed():
    m = models()
    model, cap = a_model(m)
    poor = funded(10)
    monthly = funded(5_000_000, monthly_limit_micros=1)
    daily = funded(5_000_000, daily_limit_micros=1)
    rated = funded(5_000_000, requests_per_minute=1)
    ws = uid("node-ws")
    r = api("POST", "/v1/accounts", {"id": ws, "kind": "workspace"})
    check(r.status in (200, 201), "workspace: %r" % r)
    r = api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob", "monthly_cap_micros": 1})
    check(r.status in (200, 201), "member: %r" % r)
    code = ("NODE" + uid("p").replace("-", "")).upper()[:30]
    got = node(r"""
const auth = (account, extra = {}) => guard.authorize({ account, requestId: 'r-' + Math.random(), model: ARGS.model,
                                                        inputTokens: 100, maxOutputTokens: ARGS.cap, ...extra });
const r = {};
r.poor = await caught(auth(ARGS.poor));
r.monthly = await caught(auth(ARGS.monthly));
r.daily = await caught(auth(ARGS.daily));
r.member = await caught(auth(ARGS.ws, { member: 'bob' }));
await auth(ARGS.rated);
r.rated = await caught(auth(ARGS.rated));
r.unknown = await caught(auth('no-such-account-' + Math.random()));
r.readTopup = await caught(reader.topup(ARGS.poor, 2000));
r.badModel = await caught(auth(ARGS.poor, { model: 'no-such-model' }));
await admin.createPromoCode(ARGS.code, 1000);
r.redeemed = await app.redeem(ARGS.poor, ARGS.code.toLowerCase());
r.again = await caught(app.redeem(ARGS.poor, ARGS.code));
r.noCode = await caught(app.redeem(ARGS.poor, 'NOPE' + ARGS.code));
const key = 'node-grant-' + Math.random();
await admin.grant(ARGS.poor, 5, 'adjustment', { idempotencyKey: key });
r.keyReuse = await caught(admin.grant(ARGS.poor, 6, 'adjustment', { idempotencyKey: key }));
out(r);
""", model=model, cap=cap, poor=poor, monthly=monthly, daily=daily, ws=ws, rated=rated, code=code)
    cls = {k: (v["cls"], v["status"], v["code"]) for k, v in got.items() if isinstance(v, dict) and "cls" in v}
    eq(cls["poor"], ("InsufficientCredits", 402, "insufficient_credits"), "402")
    eq(got["poor"]["available"], 10, "available_micros carried")
    eq(got["poor"]["required"], cost(m, model, 100, cap), "required_micros carried")
    eq(cls["monthly"], ("BillingHardLimitReached", 429, "billing_hard_limit_reached"), "monthly limit")
    eq(cls["daily"], ("DailyLimitReached", 429, "daily_limit_reached"), "daily limit")
    eq(cls["member"], ("MemberCapReached", 429, "member_cap_reached"), "member cap")
    eq(cls["rated"], ("RateLimited", 429, "rate_limit_exceeded"), "rate limit")
    check(isinstance(got["rated"]["retryAfter"], int) and 1 <= got["rated"]["retryAfter"] <= 60,
          "retryAfter: %r" % got["rated"])
    eq(cls["unknown"], ("NotFound", 404, "not_found"), "unknown account")
    eq(cls["readTopup"], ("Forbidden", 403, "forbidden"), "a read key starts no top-up")
    eq((cls["badModel"][:2], got["badModel"]["param"]), (("InvalidRequest", 400), "model"), "unknown model")
    eq(got["redeemed"]["amount_micros"], 1000, "redeemed, in any case")
    eq(cls["again"], ("AlreadyRedeemed", 409, "already_redeemed"), "redeemed twice")
    eq(cls["noCode"][:2], ("NotFound", 404), "unknown code")
    eq(cls["keyReuse"][:2], ("Conflict", 409), "an Idempotency-Key reused with another body")


# ---- retries through a proxy ----


class _Proxy(http.server.ThreadingHTTPServer):
    """Forwards to creditd; `mode` says what happens to the first request:
    "drop": forwarded, then the connection is closed without an answer;
    "503": answered 503 unavailable with Retry-After: 1, not forwarded."""

    daemon_threads = True

    def __init__(self, mode):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.mode = mode
        self.seen = []
        self.lock = threading.Lock()


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with self.server.lock:
            self.server.seen.append({"method": self.command, "path": self.path,
                                     "key": self.headers.get("Idempotency-Key")})
            first = len(self.server.seen) == 1
        if first and self.server.mode == "503":
            data = b'{"error":{"type":"api_error","code":"unavailable","message":"database unavailable","param":null}}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() in
                   ("authorization", "content-type", "idempotency-key", "accept")}
        conn.request(self.command, u.path.rstrip("/") + self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if first and self.server.mode == "drop":
            self.close_connection = True     # the write happened; its answer is lost
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-type", "retry-after", "x-request-id"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

    def log_message(self, *args):
        pass


def _with_proxy(mode, fn):
    proxy = _Proxy(mode)
    t = threading.Thread(target=proxy.serve_forever, daemon=True)
    t.start()
    try:
        return fn("http://127.0.0.1:%d" % proxy.server_address[1]), proxy.seen
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_node_retry_after_a_lost_answer_is_idempotent():
    m = models()
    model, cap = a_model(m)
    acct = funded(5_000_000)
    got, seen = _with_proxy("drop", lambda base: node(r"""
const grant = await admin.grant(ARGS.acct, 1234567, 'promo');
out({ grant });
""", base=base, acct=acct))
    eq(len(seen), 2, "the lost answer was retried once")
    check(seen[0]["key"] and seen[0]["key"] == seen[1]["key"], "one Idempotency-Key for both: %r" % seen)
    eq(got["grant"]["amount_micros"], 1234567, "the retry answers the first grant")
    eq(balance(acct), 5_000_000 + 1234567, "granted once")
    grants = [t for t in api("GET", "/v1/accounts/%s/transactions?limit=50" % acct, auth="read").json["data"]
              if t["amount_micros"] == 1234567]
    eq(len(grants), 1, "one journal entry")

    hold = api("POST", "/v1/guard/authorize", {"account": acct, "request_id": "retry-settle", "model": model,
                                               "input_tokens": 500, "max_output_tokens": cap}, auth="guard").json
    got, seen = _with_proxy("drop", lambda base: node(r"""
out(await guard.settle(ARGS.hold, { inputTokens: 500, outputTokens: 40 }));
""", base=base, hold=hold["hold_id"]))
    eq(len(seen), 2, "the settle was retried")
    eq((seen[0]["key"], seen[1]["key"]), (None, None), "a settle is idempotent by its body: no key")
    eq(got["charged_micros"], cost(m, model, 500, 40), "the retry answers the first settle")
    eq(got["late"], False, "not late")
    eq(balance(acct), 5_000_000 + 1234567 - cost(m, model, 500, 40), "balance after the retried settle")


def test_node_503_is_retried_after_retry_after():
    acct = funded(1_000_000)
    got, seen = _with_proxy("503", lambda base: node(r"""
const t0 = Date.now();
const a = await reader.getAccount(ARGS.acct);
out({ balance: a.balance_micros, waited: Date.now() - t0 });
""", base=base, acct=acct))
    eq(len(seen), 2, "one 503, one retry")
    eq(got["balance"], 1_000_000, "the retry's answer")
    check(got["waited"] >= 950, "Retry-After: 1 honoured (%d ms)" % got["waited"])


# ---- paging ----


def test_node_paging_transactions_and_events():
    acct = funded(1_000_000)
    for i in range(7):
        r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1000 + i, "source": "adjustment"})
        check(r.status in (200, 201), "grant: %r" % r)
    want = []
    cursor = None
    while True:
        r = api("GET", "/v1/accounts/%s/transactions?limit=200%s" % (acct, "&cursor=" + cursor if cursor else ""),
                auth="read").json
        want += [t["id"] for t in r["data"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    check(len(want) >= 8, "journal rows: %d" % len(want))
    after = 0
    while True:
        page = api("GET", "/v1/events?after=%d&limit=200" % after).json
        if not page["data"]:
            break
        after = page["next_after"]
    codes = [("NODEPAGE%d" % i) + uid("c").replace("-", "").upper()[:20] for i in range(5)]
    got = node(r"""
const ids = [];
for await (const t of reader.iterTransactions(ARGS.acct, { pageSize: 3 })) ids.push(t.id);
const first = await reader.transactions(ARGS.acct, { limit: 3 });
for (const code of ARGS.codes) {
  await admin.createPromoCode(code, 10);
  await app.redeem(ARGS.acct, code);
}
const events = [];
for await (const e of admin.iterEvents({ after: ARGS.after, pageSize: 2 })) {
  if (e.account === ARGS.acct) events.push({ id: e.id, type: e.type, code: e.data.code });
}
out({ ids, first, events });
""", acct=acct, after=after, codes=codes)
    eq(got["ids"], want, "iterTransactions walks every page, newest first")
    eq(len(got["first"]["data"]), 3, "a page of 3")
    check(got["first"]["next_cursor"], "a next_cursor")
    promo = [e for e in got["events"] if e["type"] == "promo.redeemed"]
    eq([e["code"].upper() for e in promo], [c.upper() for c in codes], "every promo.redeemed event, in order")
    ids = [e["id"] for e in got["events"]]
    eq(ids, sorted(ids), "events oldest first")
    check(all(i > after for i in ids), "only events after `after`")


def test_node_alerts_set_whole_read_and_fired():
    acct = uid("nodealert")
    eq(api("POST", "/v1/accounts", {"id": acct, "kind": "user"}).status, 201, "account")
    start = api("GET", "/v1/accounts/" + acct, auth="read").json["balance_micros"]
    got = node(r"""
const r = {};
r.set = await app.setAlerts(ARGS.acct, [{ kind: 'balance_below', micros: ARGS.threshold },
                                        { kind: 'member_cap_pct', pct: 90 }]);
r.bad = await caught(app.setAlerts(ARGS.acct, [{ kind: 'member_cap_pct', pct: 90, member: '' }]));
r.readSet = await caught(reader.setAlerts(ARGS.acct, []));
await admin.debit(ARGS.acct, 2000, 'test');
r.after = await reader.getAlerts(ARGS.acct);
out(r);
""", acct=acct, threshold=start - 1000)
    eq(got["set"]["alerts"], [{"kind": "balance_below", "micros": start - 1000, "state": "armed"},
                              {"kind": "member_cap_pct", "pct": 90, "member": None, "members_fired": 0,
                               "state": "armed"}], "set as given, armed")
    eq((got["bad"]["cls"], got["bad"]["status"], got["bad"]["param"]), ("InvalidRequest", 400, "alerts[0].member"),
       "a bad member names its field")
    eq((got["readSet"]["cls"], got["readSet"]["status"]), ("Forbidden", 403), "a read key sets none")
    eq([a["state"] for a in got["after"]["alerts"]], ["fired", "armed"], "the debit crossed it")


def test_node_account_email():
    acct = uid("node")
    got = node(r"""
const created = await admin.createAccount(ARGS.acct, { email: 'ann@example.org' });
const cleared = await admin.patchAccount(ARGS.acct, { email: null });
const set = await admin.patchAccount(ARGS.acct, { email: 'ops@example.com' });
const shown = await reader.getAccount(ARGS.acct);
const bad = await caught(admin.patchAccount(ARGS.acct, { email: 'ops@example.com\r\nBcc: x@example.com' }));
out({ created, cleared, set, shown, bad });
""", acct=acct)
    eq((got["created"]["email"], got["cleared"]["email"], got["set"]["email"], got["shown"]["email"]),
       ("ann@example.org", None, "ops@example.com", "ops@example.com"), "email at creation, cleared by null, set")
    eq((got["bad"]["cls"], got["bad"]["param"]), ("InvalidRequest", "email"), "a header in it refused")


def test_node_app_routes_plans_topup_browser_token_referral_code():
    acct = funded(1_000_000)
    plan = "node-" + uid("p")[-8:]
    got = node(r"""
await admin.putPlan(ARGS.plan, { creditsMicros: 0, rollover: 'none' });
const plans = await reader.plans();
const topup = await app.topup(ARGS.acct, 2000, { successUrl: 'https://app.example.com/paid', saveCard: true });
const low = await caught(app.topup(ARGS.acct, 1));
const token = await app.browserToken(ARGS.acct, { ttlSeconds: 120 });
const code = await app.referralCode(ARGS.acct);
const again = await app.referralCode(ARGS.acct);
const referred = await admin.createAccount(ARGS.referred, { referralCode: code.code });
const unknown = await caught(admin.createAccount(ARGS.referred + '-x', { referralCode: 'zzzzzzzzzz' }));
out({ plans, topup, low, token, code, again, referred, unknown });
""", acct=acct, plan=plan, referred=uid("node-ref"))
    check(plan in [p["name"] for p in got["plans"]["data"]], "the plan is listed")
    check(got["topup"]["checkout_url"].startswith("https://"), "checkout url: %r" % got["topup"])
    eq((got["low"]["cls"], got["low"]["param"]), ("InvalidRequest", "amount_cents"), "a top-up below the minimum")
    me = api("GET", "/v1/me", auth=got["token"]["token"])
    eq((me.status, me.json["id"]), (200, acct), "the browser token reads its account")
    eq(got["again"], got["code"], "the referral code is stable")
    eq(me.json["referral"]["code"], got["code"]["code"], "the widget's code is the same")
    check(got["referred"]["id"].startswith("node-ref"), "created with the referral code: %r" % got["referred"])
    eq((got["unknown"]["cls"], got["unknown"]["param"]), ("InvalidRequest", "referral_code"), "an unknown code")


# ---- the guard with provider streams ----


GUARD_SCRIPT = r"""
async function* openai(pieces, { failAfter = Infinity, usage = null } = {}) {
  yield { choices: [{ index: 0, delta: { role: 'assistant', content: '' } }], usage: null };
  let i = 0;
  for (const content of pieces) {
    if (i++ >= failAfter) throw new Error('upstream reset');
    yield { choices: [{ index: 0, delta: { content } }], usage: null };
  }
  if (failAfter < Infinity) throw new Error('upstream reset');
  if (usage) yield { choices: [], usage };
}
async function* anthropic(pieces, { failAfter = Infinity } = {}) {
  yield { type: 'message_start', message: { usage: { input_tokens: 700, cache_read_input_tokens: 200, output_tokens: 1 } } };
  let i = 0;
  for (const text of pieces) {
    if (i++ >= failAfter) throw new Error('overloaded');
    yield { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } };
  }
  if (failAfter < Infinity) throw new Error('overloaded');
  yield { type: 'message_delta', usage: { output_tokens: 33 } };
}
const params = (requestId) => ({ account: ARGS.acct, requestId, model: ARGS.model, inputTokens: 900, maxOutputTokens: ARGS.cap });
const run = async (requestId, body) => {
  let hold;
  const error = await caught(guard.guard(params(requestId), async (h) => { hold = h; for await (const c of body(h)) void c; }));
  return { error, holdId: hold.holdId, settled: hold.settled, released: hold.released, partial: hold.partial };
};
const pieces = ['The capital ', 'of France ', 'is Paris, ', 'a city of ', 'two million'];
out({
  full: await run('full', (h) => h.openaiStream(openai(pieces, { usage: { prompt_tokens: 905, completion_tokens: 12,
                                                                           prompt_tokens_details: { cached_tokens: 0 } } }))),
  cut: await run('cut', (h) => h.openaiStream(openai(pieces, { failAfter: 3 }))),
  nothing: await run('nothing', (h) => h.openaiStream(openai(pieces, { failAfter: 0 }))),
  huge: await run('huge', (h) => h.openaiStream(openai(['x'.repeat(ARGS.cap * 40)], { failAfter: 1 }))),
  anthropicCut: await run('a-cut', (h) => h.anthropicStream(anthropic(pieces, { failAfter: 2 }))),
  anthropicFull: await run('a-full', (h) => h.anthropicStream(anthropic(pieces))),
});
"""


def test_node_guard_streams_settle_what_was_produced():
    m = models()
    model, cap = a_model(m)
    acct = funded(5_000_000)
    got = node(GUARD_SCRIPT, acct=acct, model=model, cap=cap)
    pieces = ['The capital ', 'of France ', 'is Paris, ', 'a city of ', 'two million']

    full = got["full"]
    eq(full["error"], None, "a whole stream")
    eq(full["settled"]["charged_micros"], cost(m, model, 905, 12, 0), "settled with the include_usage chunk")
    eq(hold_state(full["holdId"]), "settled", "full: settled")

    cut = got["cut"]
    eq(cut["error"]["message"], "upstream reset", "the stream's error is thrown again")
    estimate = max(3, math.ceil(len("".join(pieces[:3])) / 4))
    eq(cut["settled"]["charged_micros"], cost(m, model, 900, estimate), "cut midway: the streamed text settled")
    eq((cut["partial"], cut["released"]), (True, None), "partial, not released")
    eq(hold_state(cut["holdId"]), "settled", "cut: settled")

    nothing = got["nothing"]
    eq(nothing["settled"], None, "nothing produced: no settle")
    eq(nothing["released"]["state"], "released", "nothing produced: released")
    eq(hold_state(nothing["holdId"]), "released", "nothing: released")

    huge = got["huge"]
    eq(huge["settled"]["charged_micros"], cost(m, model, 900, cap), "an estimate stops at the hold's cap")
    check(huge["settled"]["charged_micros"] <= cost(m, model, 900, cap), "never beyond the hold")

    a_cut = got["anthropicCut"]
    a_estimate = max(2, math.ceil(len("".join(pieces[:2])) / 4))
    eq(a_cut["settled"]["charged_micros"], cost(m, model, 900, a_estimate, 200),
       "Anthropic cut: message_start's input and cache, the streamed output")
    eq(got["anthropicFull"]["settled"]["charged_micros"], cost(m, model, 900, 33, 200),
       "Anthropic: message_start input + message_delta output")

    spent = sum(got[k]["settled"]["charged_micros"] for k in ("full", "cut", "huge", "anthropicCut", "anthropicFull"))
    eq(balance(acct), 5_000_000 - spent, "the balance is the sum of the settles")


CACHE_WRITE_SCRIPT = r"""
const start = { type: 'message_start', message: { usage: { input_tokens: 400, cache_creation_input_tokens: 3000,
  cache_read_input_tokens: 600, cache_creation: { ephemeral_5m_input_tokens: 3000, ephemeral_1h_input_tokens: 0 },
  output_tokens: 1 } } };
async function* anthropic(pieces, { failAfter = Infinity } = {}) {
  yield start;
  let i = 0;
  for (const text of pieces) {
    if (i++ >= failAfter) throw new Error('overloaded');
    yield { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } };
  }
  if (failAfter < Infinity) throw new Error('overloaded');
  yield { type: 'message_delta', usage: { output_tokens: 21 } };
}
const params = (requestId) => ({ account: ARGS.acct, requestId, model: ARGS.model, inputTokens: 4000, maxOutputTokens: 500 });
const run = async (requestId, body) => {
  let hold;
  const error = await caught(guard.guard(params(requestId), async (h) => { hold = h; return body(h); }));
  return { error, holdId: hold.holdId, settled: hold.settled, partial: hold.partial };
};
const drain = async (it) => { for await (const e of it) void e; };
const stream = await run('cw-full', (h) => drain(h.anthropicStream(anthropic(['Bonjour']))));
const cut = await run('cw-cut', (h) => drain(h.anthropicStream(anthropic(['The answer', ' is forty', ' more'], { failAfter: 2 }))));
const whole = await run('cw-whole', (h) => h.anthropicResponse({ type: 'message', content: [{ type: 'text', text: 'Hi' }],
  usage: { input_tokens: 400, cache_creation_input_tokens: 3000, cache_read_input_tokens: 600, output_tokens: 21 } }));
const hold = await guard.authorize(params('cw-explicit'));
const settled = await guard.settle(hold.hold_id, { inputTokens: 4000, outputTokens: 21, cachedInputTokens: 600,
  cacheWriteInputTokens: 3000 });
const used = await guard.recordUsage({ account: ARGS.acct, model: ARGS.model, inputTokens: 4000, outputTokens: 21,
  cachedInputTokens: 600, cacheWriteInputTokens: 3000, requestId: 'cw-usage' });
out({ stream, cut, whole, settled, used, holdId: hold.hold_id });
"""


def test_node_guard_charges_anthropic_cache_writes_at_the_cache_write_price():
    m = models()
    model = "claude-sonnet-4-20250514"
    row = {r["model"]: r for r in m["data"]}[model]
    check(row["cache_write_micros_per_mtok"] > row["input_micros_per_mtok"], "a model whose cache writes cost more")
    acct = funded(5_000_000)
    got = node(CACHE_WRITE_SCRIPT, acct=acct, model=model)
    want = cost(m, model, 4000, 21, 600, 3000)
    check(want > cost(m, model, 4000, 21, 600), "the writes at the input price would be less")
    eq(got["stream"]["error"], None, "a whole stream")
    eq(got["stream"]["settled"]["charged_micros"], want, "a stream: the writes at the cache-write price")
    estimate = max(2, math.ceil(len("The answer is forty") / 4))
    cut = cost(m, model, 4000, estimate, 600, 3000)
    eq((got["cut"]["partial"], got["cut"]["settled"]["charged_micros"]), (True, cut),
       "a stream cut off: message_start's writes, the text's estimate")
    eq(got["whole"]["settled"]["charged_micros"], want, "a whole answer")
    eq(got["settled"]["charged_micros"], want, "settle({cacheWriteInputTokens})")
    eq(got["used"]["charged_micros"], want, "recordUsage({cacheWriteInputTokens})")
    for hold_id in (got["stream"]["holdId"], got["whole"]["holdId"], got["holdId"]):
        rows = sql("SELECT cache_write_input_tokens FROM usage_records WHERE hold_id = %d"
                   % lib.hold_parts(hold_id)[1])
        eq([int(r[0]) for r in rows], [3000], "the cache writes recorded for %s" % hold_id)
    eq(balance(acct), 5_000_000 - 4 * want - cut, "the balance is the sum of the settles")
