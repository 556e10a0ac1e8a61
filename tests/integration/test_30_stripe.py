"""test_30_stripe.py: top-ups through Stripe Checkout and signed Stripe
webhooks, credited exactly once.

creditd talks to the stack's fake Stripe (tests/fake_stripe.py); what it
sent is read back from the fake's /_requests. Webhooks are signed here
with Debian's python3-stripe (stripe.WebhookSignature), an implementation
independent of creditd's, and posted through nginx as Stripe would. The
effects are checked through the API (balance, grants, transactions) and
in the database (topups, stripe_events, accounts), and the ledger with
`creditctl verify`. Refunds, subscriptions and Stripe down or slow are
test_30_stripe_later.py's.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

import stripe

import lib
from lib import ENV, Fail, api, check, eq, new_account, parallel, sql, uid, wait_until

RATE = 10000                      # topup_rate of the test stack: micros per cent
HOOK = "/v1/webhooks/stripe"


# ---- helpers ---------------------------------------------------------------

def fake(method, path, body=None):
    """A control or API call to the fake Stripe (no creditd involved)."""
    r = api(method, path, body, auth=None, base=ENV["CREDITD_STRIPE_API_BASE"])
    check(r.status == 200, "fake Stripe %s %s: %r" % (method, path, r))
    return r.json


def fake_mode(mode, **kw):
    body = {"mode": mode}
    body.update(kw)
    fake("POST", "/_mode", body)


def fake_requests(path=None, since=0):
    return [e for e in fake("GET", "/_requests") if e["seq"] > since and (path is None or e["path"] == path)]


def last_seq():
    reqs = fake("GET", "/_requests")
    return reqs[-1]["seq"] if reqs else 0


def quoted(s):
    """s for an SQL literal: the ids we make are [A-Za-z0-9_-] only."""
    check(all(c.isalnum() or c in "_-" for c in s), "unsafe SQL literal %r" % s)
    return "'%s'" % s


def one(statement):
    rows = sql(statement)
    eq(len(rows), 1, "one row from: " + statement)
    return rows[0][0]


def acct_path(acct, tail=""):
    return "/v1/accounts/" + urllib.parse.quote(acct, safe="") + tail


def balance(acct):
    r = api("GET", acct_path(acct), auth="read")
    eq(r.status, 200, "GET account")
    return r.json["balance_micros"]


def journal(acct, limit=200):
    r = api("GET", acct_path(acct, "/transactions?limit=%d" % limit), auth="read")
    eq(r.status, 200, "transactions")
    return r.json["data"]


def snapshot(acct):
    """What a refused or ignored webhook must not change."""
    a = quoted(acct)
    return {
        "balance": balance(acct),
        "journal": int(one("SELECT COUNT(*) FROM journal j JOIN accounts a ON a.id = j.account_id "
                           "WHERE a.ext_id = %s" % a)),
        "grants": int(one("SELECT COUNT(*) FROM grants g JOIN accounts a ON a.id = g.account_id "
                          "WHERE a.ext_id = %s" % a)),
        "events": int(one("SELECT COUNT(*) FROM stripe_events")),
        "topups": sql("SELECT t.id, t.status, t.credited_micros, t.refunded_micros FROM topups t "
                      "JOIN accounts a ON a.id = t.account_id WHERE a.ext_id = %s ORDER BY t.id" % a),
        "plan": one("SELECT IFNULL(plan, '-') FROM accounts WHERE ext_id = %s" % a),
    }


def topup(acct, cents, auth="app", **fields):
    body = {"amount_cents": cents}
    body.update(fields)
    return api("POST", acct_path(acct, "/topup"), body, auth=auth)


def open_session(acct, cents):
    r = topup(acct, cents)
    eq(r.status, 200, "topup %r" % r)
    return r.json["session_id"]


def session(sid):
    """The session as Stripe stores it (the fake's private fields dropped)."""
    return {k: v for k, v in fake("GET", "/_sessions/" + sid).items() if not k.startswith("_")}


def evt_id():
    return "evt_" + secrets.token_hex(12)


def event(etype, obj, eid=None):
    return {"id": eid or evt_id(), "object": "event", "api_version": "2024-06-20", "created": int(time.time()),
            "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": etype}


def checkout_event(sid, etype="checkout.session.completed", payment_status="paid", eid=None, **changes):
    obj = session(sid)
    obj.update({"status": "complete", "payment_status": payment_status, "url": None,
                "customer_details": {"email": "buyer@example.com", "name": "Test Buyer", "address": None,
                                     "phone": None, "tax_exempt": "none", "tax_ids": []}})
    obj.update(changes)
    return event(etype, obj, eid)


def sign(payload, secret=None, t=None):
    """A Stripe-Signature header made by the stripe library, not by creditd."""
    t = int(time.time()) if t is None else t
    secret = secret or ENV["CREDITD_WEBHOOK_SECRET"]
    return "t=%d,v1=%s" % (t, stripe.WebhookSignature._compute_signature("%d.%s" % (t, payload), secret))


def post_payload(payload, header):
    headers = {} if header is None else {"Stripe-Signature": header}
    return api("POST", HOOK, raw=payload.encode("utf-8"), auth=None, headers=headers)


def deliver(ev, secret=None, t=None):
    """Posts an event as Stripe does: compact JSON, signed now."""
    payload = json.dumps(ev, indent=2)
    header = sign(payload, secret, t)
    stripe.WebhookSignature.verify_header(payload, header, secret or ENV["CREDITD_WEBHOOK_SECRET"], 300)
    return post_payload(payload, header)


def delivered(ev, **kw):
    r = deliver(ev, **kw)
    check(200 <= r.status < 300, "webhook %s answered %r" % (ev["type"], r))
    return r


def topup_grants(acct):
    r = api("GET", acct_path(acct), auth="read")
    return [g for g in r.json["grants"] if g["source"] == "topup"]


def event_rows(eid):
    return int(one("SELECT COUNT(*) FROM stripe_events WHERE event_id = %s" % quoted(eid)))


def pending_without_session():
    """Top-ups left pending with no session (a failed attempt is kept,
    status failed: it counts toward topups_per_hour)."""
    return int(one("SELECT COUNT(*) FROM topups WHERE session_id IS NULL AND status = 'pending'"))


def attempts(acct):
    """The account's top-up rows by status, e.g. {"failed": 2, "pending": 1}."""
    rows = sql("SELECT t.status, COUNT(*) FROM topups t JOIN accounts a ON a.id = t.account_id "
               "WHERE a.ext_id = %s GROUP BY t.status" % quoted(acct))
    return {r[0]: int(r[1]) for r in rows}


def ok_mode():
    fake_mode("ok")


def verify():
    """creditctl verify (through lib): every invariant holds."""
    return lib.verify()


# ---- the happy path ----------------------------------------------------------

def test_topup_checkout_webhook_credits_balance():
    ok_mode()
    acct = new_account("topup")
    before = balance(acct)
    r = topup(acct, 1234)
    eq(r.status, 200, "topup")
    sid = r.json["session_id"]
    check(sid.startswith("cs_test_"), "a Checkout session id: %r" % r.json)
    check(r.json["checkout_url"].startswith("https://checkout.stripe.com/"), "checkout url: %r" % r.json)
    eq(session(sid)["url"], r.json["checkout_url"], "the url is the session's")
    eq(one("SELECT status FROM topups WHERE session_id = %s" % quoted(sid)), "pending", "top-up pending")
    eq(balance(acct), before, "nothing credited before Stripe says paid")
    ev = checkout_event(sid)
    r = delivered(ev)
    eq(r.json.get("outcome"), "credited", "outcome")
    eq(balance(acct), before + 1234 * RATE, "balance up by amount_cents x topup_rate")
    grants = topup_grants(acct)
    eq(len(grants), 1, "one topup grant")
    eq(grants[0]["remaining_micros"], 1234 * RATE, "grant amount")
    top = journal(acct)[0]
    eq((top["amount_micros"], top["cause"], top["source"]), (1234 * RATE, "grant", "topup"), "journal entry")
    eq(top["balance_after_micros"], before + 1234 * RATE, "balance after")
    eq(top["reference"], sid, "the journal names the Checkout session")
    eq(one("SELECT idempotency_key FROM journal WHERE reference = %s" % quoted(sid)), ev["id"],
       "the journal row records the event id: each event has effect once")
    row = sql("SELECT status, credited_micros, amount_cents, payment_intent FROM topups WHERE session_id = %s"
              % quoted(sid))
    eq(row, [["credited", str(1234 * RATE), "1234", session(sid)["payment_intent"]]], "topups row")
    eq(event_rows(ev["id"]), 1, "event recorded")
    verify()


def creditd_version():
    """The version `creditd --version` prints ("creditd 0.2.0")."""
    binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    return out.split()[-1]


def test_what_creditd_sends_to_stripe():
    ok_mode()
    acct = new_account("form")
    seq = last_seq()
    r = topup(acct, 2500, success_url="https://app.example.com/paid?x=1&y=%C3%A9",
              cancel_url="https://app.example.com/back")
    eq(r.status, 200, "topup")
    posts = fake_requests(since=seq)
    eq([p["path"] for p in posts], ["/v1/customers", "/v1/checkout/sessions"], "a customer, then a session")
    for p in posts:
        eq(p["method"], "POST", "POST")
        eq(p["status"], 200, "the fake accepted %s (%s)" % (p["path"], p["body"][:300]))
        check(p["headers"].get("idempotency-key", "").strip() != "", "Idempotency-Key on %s" % p["path"])
        auth = p["headers"].get("authorization", "")
        check(auth.startswith("Bearer sk_test_"), "bearer secret key on %s" % p["path"])
        check(p["headers"].get("content-type", "").startswith("application/x-www-form-urlencoded"), "form body")
        eq(p["headers"].get("user-agent"), "creditd/" + creditd_version(), "creditd and its version, as --version says")
    eq(posts[0]["nested"]["metadata"]["account"], acct, "customer metadata[account]")
    form = posts[1]["form"]
    eq(form["mode"], "payment", "mode")
    eq(form["line_items[0][price_data][currency]"], "eur", "currency")
    eq(form["line_items[0][price_data][unit_amount]"], "2500", "unit_amount")
    eq(form["line_items[0][quantity]"], "1", "quantity")
    check(form.get("line_items[0][price_data][product_data][name]", "") != "", "product name")
    eq(form["metadata[type]"], "credit_topup", "metadata[type]")
    eq(form["metadata[account]"], acct, "metadata[account]")
    eq(form["metadata[amount_cents]"], "2500", "metadata[amount_cents]")
    eq(form["success_url"], "https://app.example.com/paid?x=1&y=%C3%A9", "success_url as given")
    eq(form["cancel_url"], "https://app.example.com/back", "cancel_url as given")
    s = fake("GET", "/_sessions/" + r.json["session_id"])
    eq(s["customer"], one("SELECT stripe_customer_id FROM accounts WHERE ext_id = %s" % quoted(acct)),
       "the session is for the account's stored customer")
    check(s["_idempotency_key"] != posts[0]["headers"]["idempotency-key"], "one key per call")
    # Without URLs the configured ones are sent.
    seq = last_seq()
    eq(topup(acct, 600).status, 200, "topup with default URLs")
    posts = fake_requests(since=seq)
    eq([p["path"] for p in posts], ["/v1/checkout/sessions"], "the customer is reused, not created again")
    form = posts[0]["form"]
    port = urllib.parse.urlsplit(ENV["CREDITD_URL"]).port
    eq(form["success_url"], "http://127.0.0.1:%d/billing/success" % port, "configured success_url")
    eq(form["cancel_url"], "http://127.0.0.1:%d/billing/cancel" % port, "configured cancel_url")
    check(posts[0]["headers"]["idempotency-key"] != s["_idempotency_key"], "a new key for a new top-up")


def test_topup_body_is_validated_before_stripe():
    ok_mode()
    acct = new_account("valid")
    seq = last_seq()
    for cents in (499, 0, -500, 100001, 10 ** 12):
        r = topup(acct, cents)
        eq(r.status, 400, "amount_cents %d" % cents)
        eq(r.err.get("param"), "amount_cents", "param for %d" % cents)
        eq(r.err.get("code"), "invalid_request", "code")
        eq(r.err.get("type"), "invalid_request_error", "type")
    for bad in (500.5, "1000", None, True, [1000]):
        r = topup(acct, bad)
        eq(r.status, 400, "amount_cents %r" % (bad,))
        eq(r.err.get("param"), "amount_cents", "param for %r" % (bad,))
    r = api("POST", acct_path(acct, "/topup"), {}, auth="app")
    eq((r.status, r.err.get("param")), (400, "amount_cents"), "missing amount_cents")
    r = api("POST", acct_path(acct, "/topup"), {"amount_cents": 1000, "amount_micros": 5}, auth="app")
    eq((r.status, r.err.get("param")), (400, "amount_micros"), "unknown field named")
    r = api("POST", acct_path(acct, "/topup"), raw=b'{"amount_cents": 1000', auth="app")
    eq(r.status, 400, "malformed JSON")
    port = urllib.parse.urlsplit(ENV["CREDITD_URL"]).port
    bad_urls = ("https://evil.example.com/x", "http://app.example.com/x", "https://app.example.com.evil.net/",
                "https://app.example.com@evil.net/", "javascript:alert(1)", "//app.example.com/x",
                "https://127.0.0.1:%d/ok" % port, "http://127.0.0.1:%d.evil.net/" % port, "ftp://app.example.com/")
    for name in ("success_url", "cancel_url"):
        for url in bad_urls:
            r = topup(acct, 1000, **{name: url})
            eq(r.status, 400, "%s %s: %r" % (name, url, r))
            eq(r.err.get("param"), name, "param for %s" % url)
        r = topup(acct, 1000, **{name: ""})
        eq(r.status, 400, "empty %s" % name)
    eq(fake_requests(since=seq), [], "nothing reached Stripe for an invalid top-up")
    eq(pending_without_session(), 0, "no pending top-up left behind")
    for name, url in (("success_url", "https://app.example.com/thanks"),
                      ("cancel_url", "https://APP.example.com/cancelled"),
                      ("success_url", "http://127.0.0.1:%d/billing/other" % port)):
        r = topup(acct, 500, **{name: url})
        eq(r.status, 200, "allowed %s %s: %r" % (name, url, r))
    eq(topup(acct, 100000).status, 200, "the maximum is allowed")
    r = topup(acct, 1000, auth="guard")
    eq(r.status, 403, "a guard key may not start top-ups")
    r = topup("nobody-" + uid(), 1000)
    eq(r.status, 404, "unknown account")


def test_one_customer_per_account_under_concurrent_topups():
    ok_mode()
    acct = new_account("cust")
    seq = last_seq()
    results = parallel(8, lambda i: topup(acct, 500 + i))
    for r in results:
        eq(r.status, 200, "concurrent top-up: %r" % r)
    stored = one("SELECT stripe_customer_id FROM accounts WHERE ext_id = %s" % quoted(acct))
    check(stored.startswith("cus_"), "customer stored on the account")
    customers = {fake("GET", "/_sessions/" + r.json["session_id"])["customer"] for r in results}
    eq(customers, {stored}, "every session is for the one stored customer")
    made = [p for p in fake_requests("/v1/customers", since=seq) if p["status"] == 200 and not p["idempotent_replayed"]]
    eq(len(made), 1, "Stripe created exactly one customer")
    eq(len({r.json["session_id"] for r in results}), 8, "eight distinct sessions")
    eq(int(one("SELECT COUNT(*) FROM topups t JOIN accounts a ON a.id = t.account_id WHERE a.ext_id = %s "
               "AND session_id IS NOT NULL" % quoted(acct))), 8, "eight top-ups recorded")
    eq(pending_without_session(), 0, "no top-up without a session")


def test_one_customer_when_concurrent_topups_overlap_at_stripe():
    """Stripe answers 409 to a key in flight; creditd waits it out."""
    ok_mode()
    acct = new_account("slowcust")
    seq = last_seq()
    fake_mode("slow", delay_seconds=0.4)
    try:
        results = parallel(4, lambda i: topup(acct, 600 + i))
    finally:
        ok_mode()
    for r in results:
        eq(r.status, 200, "concurrent top-up of a new account: %r" % r)
    made = [p for p in fake_requests("/v1/customers", since=seq) if p["status"] == 200 and not p["idempotent_replayed"]]
    eq(len(made), 1, "Stripe created exactly one customer")
    check(any(p["status"] == 409 for p in fake_requests("/v1/customers", since=seq)), "the calls did overlap")
    stored = one("SELECT stripe_customer_id FROM accounts WHERE ext_id = %s" % quoted(acct))
    eq({fake("GET", "/_sessions/" + r.json["session_id"])["customer"] for r in results}, {stored}, "one customer")
    eq(pending_without_session(), 0, "no top-up without a session")


# ---- exactly once --------------------------------------------------------------

def test_same_event_sequentially_and_concurrently_credits_once():
    ok_mode()
    acct = new_account("once")
    base = balance(acct)
    sid = open_session(acct, 700)
    ev = checkout_event(sid)
    outcomes = [delivered(ev).json.get("outcome") for _ in range(5)]
    eq(outcomes[0], "credited", "first delivery credits")
    check(all(o.startswith("duplicate") for o in outcomes[1:]), "later deliveries are duplicates: %r" % outcomes)
    eq(balance(acct), base + 700 * RATE, "credited once after 5 deliveries")
    sid2 = open_session(acct, 900)
    ev2 = checkout_event(sid2)
    payload = json.dumps(ev2)
    header = sign(payload)
    results = parallel(20, lambda i: post_payload(payload, header))
    for r in results:
        check(200 <= r.status < 300, "concurrent delivery answered %r" % r)
    eq(sum(1 for r in results if r.json.get("outcome") == "credited"), 1, "exactly one delivery credited")
    eq(balance(acct), base + 700 * RATE + 900 * RATE, "credited once after 20 concurrent deliveries")
    eq(len(topup_grants(acct)), 2, "two topup grants")
    eq(event_rows(ev["id"]) + event_rows(ev2["id"]), 2, "each event recorded once")
    verify()


def test_other_checkout_event_for_same_session_not_credited_again():
    ok_mode()
    acct = new_account("twice")
    sid = open_session(acct, 800)
    delivered(checkout_event(sid))
    snap = snapshot(acct)
    r = delivered(checkout_event(sid, "checkout.session.async_payment_succeeded"))
    check(r.json.get("outcome", "").startswith("duplicate"), "outcome: %r" % r.json)
    after = snapshot(acct)
    eq(after["events"], snap["events"] + 1, "the event is recorded")
    after["events"] = snap["events"]
    eq(after, snap, "nothing else changed")


def test_unpaid_then_async_payment_succeeded_credits_once():
    ok_mode()
    acct = new_account("async")
    base = balance(acct)
    sid = open_session(acct, 1500)
    r = delivered(checkout_event(sid, payment_status="unpaid"))
    check("not" in r.json.get("outcome", ""), "unpaid outcome: %r" % r.json)
    eq(balance(acct), base, "an unpaid session credits nothing")
    eq(one("SELECT status FROM topups WHERE session_id = %s" % quoted(sid)), "pending", "still pending")
    r = delivered(checkout_event(sid, "checkout.session.async_payment_failed", payment_status="unpaid"))
    eq(balance(acct), base, "a failed async payment credits nothing")
    r = delivered(checkout_event(sid, "checkout.session.async_payment_succeeded"))
    eq(r.json.get("outcome"), "credited", "async success credits")
    eq(balance(acct), base + 1500 * RATE, "credited")
    delivered(checkout_event(sid, "checkout.session.async_payment_succeeded"))
    delivered(checkout_event(sid))
    eq(balance(acct), base + 1500 * RATE, "credited once")
    verify()


def test_wrong_currency_or_foreign_events_credit_nothing():
    ok_mode()
    acct = new_account("cur")
    sid = open_session(acct, 1000)
    snap = snapshot(acct)
    cases = [
        checkout_event(sid, currency="usd"),
        checkout_event(sid, currency="USD"),
        checkout_event(sid, metadata={"type": "something_else", "account": acct, "amount_cents": "1000"}),
        checkout_event(sid, metadata={"type": "credit_topup", "account": acct, "amount_cents": "-5"}),
        checkout_event(sid, metadata={"type": "credit_topup", "account": acct, "amount_cents": "10.5"}),
        checkout_event(sid, metadata={"type": "credit_topup", "account": acct}),
        checkout_event(sid, payment_status="no_payment_required"),
    ]
    for ev in cases:
        r = deliver(ev)
        check(200 <= r.status < 300, "a well-signed event is acknowledged: %r" % r)
        eq(balance(acct), snap["balance"], "not credited: %s" % json.dumps(ev["data"]["object"].get("metadata")))
    after = snapshot(acct)
    eq(after["events"], snap["events"] + len(cases), "events recorded")
    after["events"] = snap["events"]
    eq(after, snap, "nothing credited")
    eq(one("SELECT status FROM topups WHERE session_id = %s" % quoted(sid)), "pending", "top-up still pending")


def test_session_without_metadata_type_is_a_top_up():
    ok_mode()
    acct = new_account("notype")
    sid = open_session(acct, 1500)
    before = balance(acct)
    r = deliver(checkout_event(sid, metadata={"account": acct, "amount_cents": "1500"}))
    check(200 <= r.status < 300, "acknowledged: %r" % r)
    eq(balance(acct), before + 1500 * RATE, "account and amount_cents metadata suffice")


def test_event_for_unknown_account_is_acknowledged_and_ignored():
    ok_mode()
    acct = new_account("ghost")
    sid = open_session(acct, 1000)
    ghost = "ghost-" + secrets.token_hex(6)
    snap = snapshot(acct)
    ev = checkout_event(sid, metadata={"type": "credit_topup", "account": ghost, "amount_cents": "1000"},
                        client_reference_id=ghost)
    r = delivered(ev)
    eq(r.status, 200, "unknown account: 200")
    eq(int(one("SELECT COUNT(*) FROM accounts WHERE ext_id = %s" % quoted(ghost))), 0, "no account made")
    after = snapshot(acct)
    after["events"] -= 1
    eq(after, snap, "nothing credited")
    other = new_account("ghost2")
    osnap = snapshot(other)
    ev = checkout_event(sid, metadata={"type": "credit_topup", "account": other, "amount_cents": "1000"},
                        client_reference_id=other)
    eq(delivered(ev).status, 200, "a session of another account: 200")
    after = snapshot(other)
    after["events"] -= 1
    eq(after, osnap, "the session's top-up credits no other account")
    eq(one("SELECT status FROM topups WHERE session_id = %s" % quoted(sid)), "pending", "still pending")


def test_other_event_types_are_ignored():
    ok_mode()
    acct = new_account("other")
    snap = snapshot(acct)
    for etype, obj in (("payment_intent.succeeded", {"id": "pi_" + secrets.token_hex(8), "object": "payment_intent",
                                                       "amount": 5000, "currency": "eur",
                                                       "metadata": {"account": acct, "type": "credit_topup"}}),
                       ("customer.created", {"id": "cus_" + secrets.token_hex(7), "object": "customer"}),
                       ("charge.succeeded", {"id": "ch_" + secrets.token_hex(8), "object": "charge",
                                             "amount": 5000}),
                       ("invoice.payment_failed", {"id": "in_" + secrets.token_hex(8), "object": "invoice"}),
                       ("some.future.type", {"id": "x_1"})):
        r = delivered(event(etype, obj))
        eq(r.status, 200, etype)
    after = snapshot(acct)
    eq(after["events"], snap["events"] + 5, "ignored events recorded")
    after["events"] = snap["events"]
    eq(after, snap, "ignored events change nothing")


# ---- signatures ----------------------------------------------------------------------

def test_bad_signatures_are_400_and_change_nothing():
    ok_mode()
    acct = new_account("sig")
    sid = open_session(acct, 2000)
    ev = checkout_event(sid)
    payload = json.dumps(ev)
    now = int(time.time())
    good = sign(payload, t=now)
    sig = good.split("v1=")[1]
    tampered = payload.replace('"amount_cents": "2000"', '"amount_cents": "9000"')
    check(tampered != payload, "tampering changed the body")
    cases = [
        ("wrong secret", payload, sign(payload, secret="whsec_" + secrets.token_hex(16), t=now)),
        ("stale timestamp", payload, sign(payload, t=now - 400)),
        ("future timestamp", payload, sign(payload, t=now + 400)),
        ("tampered body", tampered, good),
        ("missing header", payload, None),
        ("empty header", payload, ""),
        ("v0 only", payload, "t=%d,v0=%s" % (now, sig)),
        ("no timestamp", payload, "v1=%s" % sig),
        ("timestamp of another signature", payload, "t=%d,v1=%s" % (now - 1, sig)),
        ("malformed", payload, "garbage"),
        ("non-numeric t", payload, "t=abc,v1=%s" % sig),
        ("short v1", payload, "t=%d,v1=%s" % (now, sig[:40])),
        ("non-hex v1", payload, "t=%d,v1=%s" % (now, "z" * 64)),
        ("signature of the bare body", payload,
         "t=%d,v1=%s" % (now, stripe.WebhookSignature._compute_signature(payload, ENV["CREDITD_WEBHOOK_SECRET"]))),
    ]
    snap = snapshot(acct)
    for name, body, header in cases:
        r = post_payload(body, header)
        eq(r.status, 400, "%s: %r" % (name, r))
        eq(r.err.get("type"), "invalid_request_error", "%s: type" % name)
        eq(r.err.get("code"), "invalid_request", "%s: code" % name)
    eq(snapshot(acct), snap, "refused deliveries changed nothing")
    eq(event_rows(ev["id"]), 0, "the event id was not consumed")
    r = post_payload(payload, good)
    eq((r.status, r.json.get("outcome")), (200, "credited"), "the genuine delivery still credits")
    eq(balance(acct), snap["balance"] + 2000 * RATE, "credited")
    for t in (now - 250, now + 250):
        r = delivered(checkout_event(sid), t=t)
        check(r.json.get("outcome", "").startswith("duplicate"), "within the tolerance at %+d s" % (t - now))
    verify()


def test_rotation_any_listed_v1_with_the_configured_secret_passes():
    ok_mode()
    acct = new_account("rot")
    sid = open_session(acct, 1100)
    ev = checkout_event(sid)
    payload = json.dumps(ev)
    now = int(time.time())
    other = "whsec_" + secrets.token_hex(16)
    snap = snapshot(acct)
    r = post_payload(payload, sign(payload, secret=other, t=now))
    eq(r.status, 400, "a secret that is not configured is refused")
    eq(snapshot(acct), snap, "nothing changed")
    # During a rotation Stripe sends one v1 per secret, in any order.
    theirs = sign(payload, secret=other, t=now).split("v1=")[1]
    ours = sign(payload, t=now).split("v1=")[1]
    header = "t=%d,v1=%s,v1=%s,v0=%s" % (now, theirs, ours, theirs)
    stripe.WebhookSignature.verify_header(payload, header, ENV["CREDITD_WEBHOOK_SECRET"], 300)
    r = post_payload(payload, header)
    eq((r.status, r.json.get("outcome")), (200, "credited"), "the configured secret's v1 passes")
    eq(balance(acct), snap["balance"] + 1100 * RATE, "credited")


# ---- a second creditd with two secrets and no Stripe key --------------------------

class Spawned:
    """A creditd of our own on a unix socket (same database), spoken to with
    cgi-fcgi: two webhook secrets for rotation, no Stripe key; extra: more
    [stripe] lines; sections: {section: lines} added at the top of each."""

    def __init__(self, secrets_csv, secret_key="", api_base=None, extra="", sections=None):
        self.dir = tempfile.mkdtemp(prefix="creditd-t30-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "c.sock")
        conf = os.path.join(self.dir, "creditd.conf")
        lines = []
        with open(ENV["CREDITD_CONFIG"]) as f:
            for line in f:
                k = line.split("=", 1)[0].strip()
                if k in ("secret_key", "webhook_secrets", "log", "threads") or (api_base and k == "api_base"):
                    continue
                lines.append(line)
                if line.strip() == "[server]":
                    lines.append("threads = 2\nlog = %s\n" % os.path.join(self.dir, "creditd.log"))
                if line.strip().startswith("[") and line.strip()[1:-1] in (sections or {}):
                    lines.append(sections[line.strip()[1:-1]])
                if line.strip() == "[stripe]":
                    lines.append("secret_key = %s\nwebhook_secrets = %s\n" % (secret_key, secrets_csv))
                    if api_base:
                        lines.append("api_base = %s\n" % api_base)
                    lines.append(extra)
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.writelines(lines)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
        binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
        self.out = open(os.path.join(self.dir, "out"), "w")
        self.proc = subprocess.Popen([binary, "-c", conf, "--listen", "unix:" + self.sock], env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
        if not wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10):
            self.close()
            raise Fail("spawned creditd did not start")
        if self.proc.poll() is not None:
            self.close()
            raise Fail("spawned creditd exited %s" % self.proc.returncode)

    def request(self, method, path, body=b"", headers=None):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REQUEST_METHOD": method, "REQUEST_URI": path,
               "DOCUMENT_URI": path, "SCRIPT_NAME": path, "QUERY_STRING": "", "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
        for k, v in (headers or {}).items():
            env["HTTP_" + k.upper().replace("-", "_")] = v
        p = subprocess.run(["cgi-fcgi", "-bind", "-connect", self.sock], input=body, env=env,
                           capture_output=True, timeout=30)
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        status = 0
        for line in head.decode("latin-1").split("\r\n"):
            if line.lower().startswith("status:"):
                status = int(line.split()[1])
        return status, json.loads(payload) if payload.strip() else None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def test_two_configured_secrets_and_no_stripe_key_end_to_end():
    ok_mode()
    acct = new_account("two")
    old, new = "whsec_old" + secrets.token_hex(12), "whsec_new" + secrets.token_hex(12)
    c = Spawned("%s, %s" % (old, new))
    try:
        seq = last_seq()
        status, body = c.request("POST", acct_path(acct, "/topup"), json.dumps({"amount_cents": 1000}).encode(),
                                 {"Authorization": "Bearer " + ENV["CREDITD_APP_KEY"]})
        eq(status, 503, "top-up with no Stripe key: %r" % body)
        eq(body["error"]["code"], "stripe_not_configured", "code")
        eq(body["error"]["type"], "api_error", "type")
        status, body = c.request("POST", acct_path(acct, "/topup"), json.dumps({"amount_cents": 1}).encode(),
                                 {"Authorization": "Bearer " + ENV["CREDITD_APP_KEY"]})
        eq((status, body["error"]["param"]), (400, "amount_cents"), "the body is validated first")
        eq(fake_requests(since=seq), [], "nothing sent to Stripe")
        sid = open_session(acct, 1300)       # through the stack's creditd
        base = balance(acct)
        ev_old, ev_new = checkout_event(sid), checkout_event(sid, "checkout.session.async_payment_succeeded")
        p_old, p_new = json.dumps(ev_old), json.dumps(ev_new)
        status, _ = c.request("POST", HOOK, p_old.encode(), {"Stripe-Signature": sign(p_old, secret="whsec_x1")})
        eq(status, 400, "a third secret is refused")
        status, body = c.request("POST", HOOK, p_old.encode(), {"Stripe-Signature": sign(p_old, secret=old)})
        eq((status, body.get("outcome")), (200, "credited"), "signed with the old secret")
        status, body = c.request("POST", HOOK, p_new.encode(), {"Stripe-Signature": sign(p_new, secret=new)})
        eq(status, 200, "signed with the new secret")
        check(body.get("outcome", "").startswith("duplicate"), "same session: %r" % body)
        eq(balance(acct), base + 1300 * RATE, "credited once")
        r = post_payload(p_new, sign(p_new, secret=new))
        eq(r.status, 400, "the stack's creditd does not know the new secret")
    finally:
        c.close()
    verify()


def test_stripe_unreachable_is_502_and_leaves_nothing_pending():
    ok_mode()
    acct = new_account("unreach")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                        # nothing listens there now
    c = Spawned(ENV["CREDITD_WEBHOOK_SECRET"], secret_key="sk_test_unreachable",
                api_base="http://127.0.0.1:%d" % port)
    try:
        t0 = time.time()
        status, body = c.request("POST", acct_path(acct, "/topup"), json.dumps({"amount_cents": 1000}).encode(),
                                 {"Authorization": "Bearer " + ENV["CREDITD_APP_KEY"]})
        eq(status, 502, "Stripe unreachable: %r" % body)
        eq(body["error"]["code"], "upstream_error", "code")
        check(time.time() - t0 < 3, "answered at once")
    finally:
        c.close()
    eq(pending_without_session(), 0, "no pending top-up left behind")
    eq(attempts(acct), {"failed": 1}, "the attempt is kept, failed: it counts toward topups_per_hour")


def test_topup_and_webhook_through_apache():
    ok_mode()
    acct = new_account("apache")
    base = balance(acct)
    a = ENV["CREDITD_APACHE_URL"]
    r = api("POST", acct_path(acct, "/topup"), {"amount_cents": 1700}, auth="app", base=a)
    eq(r.status, 200, "top-up via Apache: %r" % r)
    ev = checkout_event(r.json["session_id"])
    payload = json.dumps(ev, indent=2)
    r = api("POST", HOOK, raw=payload.encode(), auth=None, headers={"Stripe-Signature": sign(payload + " ")}, base=a)
    eq(r.status, 400, "a signature over another body via Apache")
    r = api("POST", HOOK, raw=payload.encode(), auth=None, headers={"Stripe-Signature": sign(payload)}, base=a)
    eq((r.status, r.json.get("outcome")), (200, "credited"), "webhook via Apache: %r" % r)
    eq(balance(acct), base + 1700 * RATE, "credited")


# ---- helpers of test_30_stripe_later.py (shared) ----

def charge_event(pi, acct, refunded, amount=2000, charge=None, currency="eur"):
    obj = {"id": charge or "ch_" + secrets.token_hex(12), "object": "charge", "amount": amount,
           "amount_captured": amount, "amount_refunded": refunded, "captured": True, "currency": currency,
           "customer": one("SELECT stripe_customer_id FROM accounts WHERE ext_id = %s" % quoted(acct)),
           "metadata": {"type": "credit_topup", "account": acct}, "paid": True, "payment_intent": pi,
           "refunded": refunded >= amount, "status": "succeeded"}
    return event("charge.refunded", obj)


def refunds(acct):
    return [t for t in journal(acct) if t["cause"] == "refund"]


def give_customer(acct):
    """The account's Stripe customer, made by a real top-up."""
    open_session(acct, 500)
    return one("SELECT stripe_customer_id FROM accounts WHERE ext_id = %s" % quoted(acct))


def invoice_event(customer, sub, paid_cents, period_end, account=None, price="price_pro_monthly"):
    start = period_end - 30 * 86400
    line = {"id": "il_" + secrets.token_hex(8), "object": "line_item", "amount": paid_cents, "currency": "eur",
            "metadata": {}, "period": {"start": start, "end": period_end},
            "price": {"id": price, "object": "price", "recurring": {"interval": "month"}},
            "subscription": sub, "type": "subscription"}
    obj = {"id": "in_" + secrets.token_hex(10), "object": "invoice", "amount_due": paid_cents,
           "amount_paid": paid_cents, "billing_reason": "subscription_cycle", "currency": "eur",
           "customer": customer, "lines": {"object": "list", "data": [line], "has_more": False},
           "metadata": {"account": account} if account else {}, "paid": True, "period_start": start,
           "period_end": start, "status": "paid", "subscription": sub,
           "payment_intent": "pi_" + secrets.token_hex(12), "charge": "ch_" + secrets.token_hex(12)}
    return event("invoice.paid", obj)


def subscription_event(etype, customer, sub, plan="price_pro_monthly", status="active", account=None):
    now = int(time.time())
    item = {"id": "si_" + secrets.token_hex(8), "object": "subscription_item",
            "price": {"id": plan, "object": "price"}, "current_period_start": now,
            "current_period_end": now + 30 * 86400}
    obj = {"id": sub, "object": "subscription", "customer": customer, "status": status,
           "items": {"object": "list", "data": [item]}, "metadata": {"account": account} if account else {},
           "current_period_start": now, "current_period_end": now + 30 * 86400}
    return event(etype, obj)


def expect_upstream(acct, what, max_seconds, message=None):
    t0 = time.time()
    r = topup(acct, 1000)
    took = time.time() - t0
    eq(r.status, 502, "%s: %r" % (what, r))
    eq(r.err.get("code"), "upstream_error", "%s: code" % what)
    eq(r.err.get("type"), "api_error", "%s: type" % what)
    check(took < max_seconds, "%s: answered in %.1f s" % (what, took))
    if message is not None:
        check(message in r.err.get("message", ""), "%s: Stripe's message in %r" % (what, r.err))
    return r
