"""test_66_receipts.py: receipts of top-ups (DESIGN §10 "Receipts").

A top-up's journal row carries `receipt_url` once Stripe sent the charge
(charge.succeeded, charge.updated, matched by the top-up's payment
intent), and with stripe.invoice_topups = true the Checkout Session asks
for an invoice (invoice_creation[enabled]=true) whose hosted_invoice_url
and invoice_pdf (invoice.paid, invoice.finalized, matched by the session's
invoice id) appear as `invoice_url` and `invoice_pdf`: absent until known,
never null, on both /transactions and /v1/me/transactions. Events come
from tests/fake_stripe.py, shaped as Stripe's API reference has them, and
are posted signed, as in test_30_stripe.py.
"""
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from lib import ENV, api, check, eq, new_account, parallel, sql, wait_until
from test_30_stripe import (RATE, Spawned, acct_path, balance, event, fake, fake_requests, journal, last_seq, ok_mode,
                            one, open_session, post_payload, quoted, session, sign, snapshot, verify)
from test_33_payg import stripe_key
from test_58_browser_tokens import me, token

FIELDS = ("receipt_url", "invoice_url", "invoice_pdf")


def post(out):
    """Posts what the fake's control endpoint built: its payload, signed."""
    r = post_payload(out["payload"], out["signature"])
    eq(r.status, 200, "webhook %s: %r" % (out["event"]["type"], r))
    return r.json.get("outcome", "")


def complete(sid, via=None):
    """The session paid and its checkout.session.completed delivered (to the
    stack's creditd, or to a Spawned one): the event's session object."""
    out = fake("POST", "/_sessions/%s/complete" % sid, {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"]})
    if via is None:
        eq(post(out), "credited", "the top-up is credited")
    else:
        status, body = via.request("POST", "/v1/webhooks/stripe", out["payload"].encode(),
                                   {"Stripe-Signature": out["signature"]})
        eq((status, body.get("outcome")), (200, "credited"), "the top-up is credited")
    return out["event"]["data"]["object"]


def charge(sid, etype="charge.succeeded", **body):
    return fake("POST", "/_sessions/%s/charge_event" % sid,
                dict(body, type=etype, webhook_secret=ENV["CREDITD_WEBHOOK_SECRET"]))


def invoice(sid, etype="invoice.paid", **body):
    return fake("POST", "/_sessions/%s/invoice_event" % sid,
                dict(body, type=etype, webhook_secret=ENV["CREDITD_WEBHOOK_SECRET"]))


def topup_row(rows, sid):
    mine = [t for t in rows if t["cause"] == "grant" and t["source"] == "topup" and t["reference"] == sid]
    eq(len(mine), 1, "one journal row for the top-up %s" % sid)
    return mine[0]


def receipt_fields(acct, sid):
    """The receipt fields of the top-up's row, the same on both routes."""
    row = topup_row(journal(acct), sid)
    r = me(token(acct), "/v1/me/transactions?limit=100")
    eq(r.status, 200, "me transactions %r" % r)
    eq(topup_row(r.json["data"], sid), row, "the same row on /v1/me/transactions")
    for k in FIELDS:
        check(row.get(k, "absent") is not None, "%s is absent or a URL, never null: %r" % (k, row))
    return {k: row[k] for k in FIELDS if k in row}


def test_receipt_url_from_the_charge_events():
    ok_mode()
    acct = new_account("rcpt")
    seq = last_seq()
    sid = open_session(acct, 2000)
    form = fake_requests("/v1/checkout/sessions", since=seq)[-1]["form"]
    check(not any(k.startswith("invoice_creation") for k in form), "no invoice unless configured: %r" % form)
    eq(session(sid)["invoice_creation"]["enabled"], False, "the session makes no invoice")
    complete(sid)
    eq(receipt_fields(acct, sid), {}, "no receipt before Stripe sent the charge")

    first = charge(sid)
    url = first["event"]["data"]["object"]["receipt_url"]
    check(url.startswith("https://pay.stripe.com/receipts/"), "a Stripe receipt URL: %s" % url)
    eq(post(first), "receipt stored", "charge.succeeded")
    eq(receipt_fields(acct, sid), {"receipt_url": url}, "the receipt on the top-up's row")

    before = snapshot(acct)
    eq(post(first), "duplicate: event already processed", "the same event again")
    updated = charge(sid, "charge.updated", timestamp=int(time.time()) + 1)
    newer = updated["event"]["data"]["object"]["receipt_url"]
    check(newer != url, "charge.updated brings a new receipt URL")
    eq(post(updated), "receipt stored", "charge.updated")
    eq(receipt_fields(acct, sid), {"receipt_url": newer}, "the newer receipt")
    late = charge(sid, "charge.updated", timestamp=int(time.time()) - 60)
    eq(post(late), "unchanged: the URL kept is from a later event", "an older event delivered late")
    eq(receipt_fields(acct, sid), {"receipt_url": newer}, "the newer receipt is kept")
    after = snapshot(acct)
    eq(after["events"], before["events"] + 2, "the two new events recorded, the duplicate not")
    after["events"] = before["events"]
    eq(after, before, "receipts credit nothing and change nothing else")


def test_a_receipt_that_comes_before_the_credit_is_kept_for_it():
    """Stripe sends charge.succeeded before checkout.session.completed, as
    a rule: the receipt waits for the credit and lands on the top-up's row."""
    ok_mode()
    acct = new_account("rcpt-early")
    sid = open_session(acct, 1500)
    # Paid at Stripe; its completion is delivered after the charge's event.
    completed = fake("POST", "/_sessions/%s/complete" % sid, {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"]})
    out = charge(sid)
    url = out["event"]["data"]["object"]["receipt_url"]
    eq(post(out), "kept: no top-up credited for this payment intent yet", "kept before the credit")
    eq(post(completed), "credited", "then the top-up is credited")
    eq(receipt_fields(acct, sid), {"receipt_url": url}, "the receipt that came first, on the credited row")


def test_one_credit_through_both_processes_repays_the_debt_and_takes_the_receipt():
    """The credit's one load (the account, the record, its debt row, the
    receipt kept for it, each locked) under sixteen deliveries at once of
    the paid session (completed and async_payment_succeeded, each its own
    event id) through both creditd processes (nginx's and Apache's), to an
    account in debt whose receipt came first: credited once, the debt
    repaid once from it, the rest a grant, the receipt on the credited
    row and no longer kept."""
    ok_mode()
    acct = new_account("rcpt-both", overdraft_limit_micros=50000000)
    start = balance(acct)
    r = api("POST", acct_path(acct, "/debits"), {"amount_micros": start + 3000000, "reason": "into debt"})
    eq(r.status, 201, "debit into the overdraft: %r" % r)
    eq(balance(acct), -3000000, "in debt")
    sid = open_session(acct, 1500)
    completed = fake("POST", "/_sessions/%s/complete" % sid, {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"]})
    out = charge(sid)
    url = out["event"]["data"]["object"]["receipt_url"]
    pi = out["event"]["data"]["object"]["payment_intent"]
    eq(post(out), "kept: no top-up credited for this payment intent yet", "kept before the credit")
    obj = completed["event"]["data"]["object"]
    kinds = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
    payloads = [json.dumps(event(kinds[i % 2], obj)) for i in range(16)]
    bases = (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"])
    results = parallel(16, lambda i: api("POST", "/v1/webhooks/stripe", raw=payloads[i].encode(), auth=None,
                                         headers={"Stripe-Signature": sign(payloads[i])}, base=bases[i % 2]))
    outcomes = [r.json.get("outcome", "") if r.status == 200 else r.status for r in results]
    eq(sum(1 for o in outcomes if o == "credited"), 1, "exactly one delivery credits: %r" % outcomes)
    eq(sum(1 for o in outcomes if str(o).startswith("duplicate")), 15, "the others are duplicates: %r" % outcomes)
    eq(balance(acct), -3000000 + 1500 * RATE, "credited once, the debt repaid from it")
    aid = one("SELECT id FROM accounts WHERE ext_id = %s" % quoted(acct))
    eq(one("SELECT remaining_micros FROM grants WHERE account_id = %s AND source = 'debt'" % aid), "0",
       "the debt row repaid once")
    eq([g[0] for g in sql("SELECT remaining_micros FROM grants WHERE account_id = %s AND source = 'topup'" % aid)],
       [str(1500 * RATE - 3000000)], "one top-up grant: the credit less the debt")
    eq(receipt_fields(acct, sid), {"receipt_url": url}, "the receipt that came first, on the credited row")
    eq(one("SELECT COUNT(*) FROM receipts_waiting WHERE payment_intent = %s" % quoted(pi)), "0", "and no longer kept")
    eq(one("SELECT status FROM topups WHERE session_id = %s" % quoted(sid)), "credited", "the record credited")
    verify()


def test_a_receipt_kept_while_its_credit_committed_lands_within_a_sweep():
    """The charge's event and the credit at the same moment, neither seeing
    the other: the receipt was kept for a top-up that is credited by now
    (made here by writing the kept row by hand); the sweeper writes it on."""
    ok_mode()
    acct = new_account("rcpt-race")
    sid = open_session(acct, 1500)
    complete(sid)
    pi = sql("SELECT payment_intent FROM topups WHERE session_id = '%s'" % sid)[0][0]
    url = "https://pay.stripe.com/receipts/race_" + secrets.token_hex(8)
    sql("INSERT INTO receipts_waiting (payment_intent, receipt_url, event_at, created_at) VALUES "
        "('%s', '%s', UNIX_TIMESTAMP(), UNIX_TIMESTAMP())" % (pi, url))
    # Waited for on one route (the sweeper may write between two reads),
    # then read on both.
    check(wait_until(lambda: topup_row(journal(acct), sid).get("receipt_url") == url, timeout=10),
          "written on within a sweep: %r" % topup_row(journal(acct), sid))
    eq(receipt_fields(acct, sid), {"receipt_url": url}, "on both routes")
    eq(sql("SELECT COUNT(*) FROM receipts_waiting WHERE payment_intent = '%s'" % pi)[0][0], "0", "and no longer kept")


def test_unknown_payment_intent_or_invoice_and_unsafe_urls_change_nothing():
    ok_mode()
    acct = new_account("rcpt-x")
    sid = open_session(acct, 1500)
    complete(sid)
    before = snapshot(acct)
    obj = charge(sid)["event"]["data"]["object"]
    for url in ("http://pay.stripe.com/receipts/x", "javascript:alert(1)", "https://pay.stripe.com/r x",
                "https://pay.stripe.com/" + "a" * 1100):
        out = charge(sid, receipt_url=url)
        eq(post(out), "ignored: no payment intent or no https receipt_url", "not stored: %.40s" % url)
    unknown = dict(obj, id="ch_" + secrets.token_hex(12), payment_intent="pi_" + secrets.token_hex(12))
    payload = json.dumps(event("charge.succeeded", unknown))
    r = post_payload(payload, sign(payload))
    eq((r.status, r.json.get("outcome")), (200, "kept: no top-up credited for this payment intent yet"),
       "an unknown intent's receipt is kept, in case its top-up comes")
    inv = {"id": "in_" + secrets.token_hex(12), "object": "invoice", "amount_paid": 1500, "currency": "eur",
           "customer": obj["customer"], "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_x",
           "invoice_pdf": "https://pay.stripe.com/invoice/acct_1/test_x/pdf", "status": "paid",
           "subscription": None, "lines": {"object": "list", "data": []}}
    payload = json.dumps(event("invoice.paid", inv))
    r = post_payload(payload, sign(payload))
    eq((r.status, r.json.get("outcome")), (200, "ignored: no top-up for this invoice"), "unknown invoice")
    eq(receipt_fields(acct, sid), {}, "nothing stored")
    after = snapshot(acct)
    eq(after["events"], before["events"] + 6, "each event recorded once")
    after["events"] = before["events"]
    eq(after, before, "and nothing else changed")


def fake_form(params):
    """POST /v1/checkout/sessions to the fake directly: (status, body)."""
    data = "&".join("%s=%s" % (urllib.parse.quote(k), urllib.parse.quote(v)) for k, v in params)
    req = urllib.request.Request(ENV["CREDITD_STRIPE_API_BASE"] + "/v1/checkout/sessions", data.encode(),
                                 {"Authorization": "Bearer " + stripe_key(),
                                  "Idempotency-Key": "t66-" + secrets.token_hex(8),
                                  "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_stand_in_is_strict_about_invoice_creation():
    base = [("mode", "payment"), ("success_url", "https://app.example/ok"), ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", "eur"), ("line_items[0][price_data][unit_amount]", "1000"),
            ("line_items[0][price_data][product_data][name]", "Credits")]
    status, body = fake_form(base + [("invoice_creation[enabled]", "true"),
                                     ("invoice_creation[invoice_data][description]", "Credits")])
    eq(status, 200, "enabled with invoice_data: %r" % body)
    eq(body["invoice_creation"]["enabled"], True, "the session says so")
    for extra, param in (([("invoice_creation[enable]", "true")], "invoice_creation[enable]"),
                         ([("invoice_creation[invoice_data][description]", "x")], "invoice_creation[enabled]"),
                         ([("invoice_creation[enabled]", "yes")], "invoice_creation[enabled]"),
                         ([("invoice_creation[enabled]", "true"), ("invoice_creation[invoice_data][memo]", "x")],
                          "invoice_creation[invoice_data][memo]")):
        status, body = fake_form(base + extra)
        eq((status, body["error"].get("param")), (400, param), "refused as Stripe does: %r" % (extra,))


def test_invoice_topups_asks_for_an_invoice_and_shows_its_links():
    ok_mode()
    acct = new_account("inv")
    c = Spawned(ENV["CREDITD_WEBHOOK_SECRET"], secret_key=stripe_key(), api_base=ENV["CREDITD_STRIPE_API_BASE"],
                extra="invoice_topups = true\n")
    try:
        seq = last_seq()
        status, body = c.request("POST", acct_path(acct, "/topup"), json.dumps({"amount_cents": 2500}).encode(),
                                 {"Authorization": "Bearer " + ENV["CREDITD_APP_KEY"]})
        eq(status, 200, "top-up with invoice_topups: %r" % body)
        sid = body["session_id"]
        form = fake_requests("/v1/checkout/sessions", since=seq)[-1]["form"]
        eq(form.get("invoice_creation[enabled]"), "true", "the session asks for an invoice")
        obj = complete(sid, via=c)
        check(obj["invoice"].startswith("in_"), "the paid session made an invoice: %r" % obj["invoice"])
        eq(one("SELECT invoice_id FROM topups WHERE session_id = %s" % quoted(sid)), obj["invoice"],
           "the top-up keeps its invoice id")
        eq(receipt_fields(acct, sid), {}, "nothing shown before the invoice events")
        fin = invoice(sid, "invoice.finalized", timestamp=int(time.time()) - 5)
        inv = fin["event"]["data"]["object"]
        eq(post(fin), "invoice stored", "invoice.finalized")
        want = {"invoice_url": inv["hosted_invoice_url"], "invoice_pdf": inv["invoice_pdf"]}
        eq(receipt_fields(acct, sid), want, "the invoice's links on the row")
        before = snapshot(acct)
        paid = invoice(sid, "invoice.paid")
        eq(post(paid), "invoice stored", "invoice.paid of the same invoice")
        eq(post(paid), "duplicate: event already processed", "delivered twice")
        rc = charge(sid)
        eq(post(rc), "receipt stored", "and its charge")
        want["receipt_url"] = rc["event"]["data"]["object"]["receipt_url"]
        eq(receipt_fields(acct, sid), want, "receipt and invoice together")
        after = snapshot(acct)
        eq(after["events"], before["events"] + 2, "invoice.paid and the charge recorded, the duplicate not")
        after["events"] = before["events"]
        eq(after, before, "an invoice credits nothing: not a subscription's")
    finally:
        c.close()
