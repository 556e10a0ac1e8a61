"""test_97_core_contract_stripe.py: top-ups and the Stripe webhook from
outside (test_97_core_contract.py says how), against the stack's Stripe
stand-in: the Checkout session creditd asks for, the signature checks
(none, malformed, another secret, another body, too old, too new), a
credit once per session under replays and concurrent deliveries,
mismatches, refunds, disputes, async payments, invoices, subscriptions,
referral rewards, the top-up attempts per hour; and browser tokens with
/v1/me."""
import json
import time

from core_contract import (BONUS, HOOK, authorize, checkout_event, err, event, get, hook, path, refused_unchanged,
                           send, sign, state, stripe_session, txns)
from lib import ENV, api, check, eq, new_account, parallel, uid, verify, wait_until


# ---- top-ups and the Stripe webhook ----

def test_topup_session_and_refusals():
    acct = new_account("topup")
    r = api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app")
    eq(r.status, 200, "topup: %r" % r)
    check(set(r.json) >= {"checkout_url", "session_id"}, "%r" % r.json)
    s = stripe_session(r.json["session_id"])
    eq(s.get("mode"), "payment", "a payment session")
    md = s.get("metadata") or {}
    eq((md.get("type"), md.get("account"), str(md.get("amount_cents"))), ("credit_topup", acct, "1000"), "metadata")
    for cents in (499, 100001, -1, 10.5, "1000"):
        refused_unchanged(acct, lambda: api("POST", path(acct, "/topup"), {"amount_cents": cents}, auth="app"), 400,
                          "invalid_request", "amount_cents", what="top-up of %r" % (cents,))
    refused_unchanged(acct, lambda: api("POST", path(acct, "/topup"), {}, auth="app"), 400, "invalid_request",
                      "amount_cents", what="no amount")
    err(api("POST", path(uid(), "/topup"), {"amount_cents": 1000}, auth="app"), 404, "not_found",
        what="unknown account")


def test_webhook_signature_checks_and_credit_once():
    acct = new_account("hook")
    sid = api("POST", path(acct, "/topup"), {"amount_cents": 1500}, auth="app").json["session_id"]
    payload = checkout_event(sid)
    before = state(acct)
    for header, what in ((None, "no signature"), ("garbage", "a malformed header"),
                         (sign(payload, secret="whsec_" + "x" * 40), "another secret"),
                         (sign(payload + b" "), "a signature over another body"),
                         (sign(payload, t=int(time.time()) - 400), "an old timestamp"),
                         (sign(payload, t=int(time.time()) + 400), "a timestamp in the future")):
        r = hook(payload, header)
        eq(r.status, 400, "%s: 400 (%r)" % (what, r))
        eq(state(acct), before, "%s: no effect" % what)
    good = sign(payload)
    t = good.split(",")[0]
    several = "%s,v1=%s,%s" % (t, "0" * 64, good.split(",")[1])
    r = hook(payload, several)
    eq(r.status, 200, "one good v1 among several: %r" % r)
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "credited amount_cents x topup_rate")
    top = txns(acct)[0]
    eq((top["cause"], top["source"], top["reference"]), ("grant", "topup", sid), "the top-up's journal row")
    eq(hook(payload, sign(payload)).status, 200, "the same event again: 200")
    other = checkout_event(sid)
    eq(hook(other, sign(other)).status, 200, "the same session under another event id: 200")
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "credited once")
    stranger = json.dumps({"id": uid("evt"), "object": "event", "type": "checkout.session.completed",
                           "data": {"object": {"id": "cs_test_" + uid(""), "object": "checkout.session",
                                               "mode": "payment", "payment_status": "paid", "currency": "eur",
                                               "amount_total": 1500,
                                               "metadata": {"type": "credit_topup", "account": acct,
                                                            "amount_cents": "1500"}}}}).encode()
    eq(hook(stranger, sign(stranger)).status, 200, "a session creditd never made: 200")
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "and no credit")
    ignored = json.dumps({"id": uid("evt"), "object": "event", "type": "customer.created",
                          "data": {"object": {"id": "cus_x"}}}).encode()
    eq(hook(ignored, sign(ignored)).status, 200, "another type: 200, ignored")
    r = api("POST", HOOK, raw=ignored, auth=None, headers={"Stripe-Signature": sign(ignored),
                                                            "Content-Type": "text/plain"})
    eq(r.status, 200, "no 415 on the webhook route: %r" % r)
    verify()


# ---- browser tokens and /v1/me ----

def test_browser_tokens_and_me():
    acct = new_account("me")
    r = api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": 120}, auth="app")
    eq(r.status, 201, "browser token: %r" % r)
    check(set(r.json) >= {"token", "expires_at"}, "%r" % r.json)
    tok = r.json["token"]
    r = api("GET", "/v1/me", auth=tok)
    eq((r.status, r.json["id"], r.json["balance_micros"]), (200, acct, BONUS), "GET /v1/me: %r" % r)
    r = api("GET", "/v1/me/transactions", auth=tok)
    eq((r.status, len(r.json["data"])), (200, 1), "GET /v1/me/transactions")
    check("next_cursor" in r.json, "a page")
    r = api("POST", "/v1/me/topup", {"amount_cents": 1000}, auth=tok)
    eq(r.status, 200, "POST /v1/me/topup: %r" % r)
    check(set(r.json) >= {"checkout_url", "session_id"}, "%r" % r.json)
    err(api("GET", path(acct), auth=tok), 401, "unauthorized", what="a browser token on an API route")
    tampered = tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")
    err(api("GET", "/v1/me", auth=tampered), 401, "unauthorized", what="a tampered token")
    err(api("GET", "/v1/me", auth="read"), 401, "unauthorized", what="an API key on /v1/me")
    for ttl in (59, 3601, "900"):
        err(api("POST", path(acct, "/browser_tokens"), {"ttl_seconds": ttl}, auth="app"), 400, "invalid_request",
            "ttl_seconds", what="ttl %r" % (ttl,))
    err(api("POST", path(uid(), "/browser_tokens"), {}, auth="app"), 404, "not_found", what="unknown account")
    r = api("GET", "/widget/creditd-widget.js", auth=None)
    eq(r.status, 200, "the widget script")
    check("javascript" in r.headers.get("content-type", ""), "served as JavaScript: %r" % r.headers)
    check(len(r.raw) < 48 * 1024, "under 48 KB: %d" % len(r.raw))
    for el in (b"creditd-balance", b"creditd-topup", b"creditd-history"):
        check(el in r.raw, "defines %s" % el.decode())


def test_webhook_mismatch_refund_dispute():
    acct = new_account("rfd")
    sid = api("POST", path(acct, "/topup"), {"amount_cents": 2000}, auth="app").json["session_id"]
    for changes in ({"currency": "usd"}, {"payment_status": "unpaid"},
                    {"metadata": {"type": "credit_topup", "account": acct, "amount_cents": "99999"}}):
        send(checkout_event(sid, **changes))
        eq(get(acct)["balance_micros"], BONUS, "no credit for %r" % changes)
    send(checkout_event(sid))
    eq(get(acct)["balance_micros"], BONUS + 2000 * 10000, "credited")
    taxed = new_account("tax")
    tsid = api("POST", path(taxed, "/topup"), {"amount_cents": 2000}, auth="app").json["session_id"]
    send(checkout_event(tsid, amount_total=2400, total_details={"amount_discount": 0, "amount_shipping": 0,
                                                                 "amount_tax": 400}))
    eq(get(taxed)["balance_micros"], BONUS + 2000 * 10000, "metadata.amount_cents x topup_rate: tax buys nothing")
    pi = stripe_session(sid)["payment_intent"]
    ch = "ch_" + uid("")[-12:]
    refund = {"id": ch, "object": "charge", "amount": 2000, "amount_refunded": 500, "currency": "eur",
              "payment_intent": pi, "refunded": False, "status": "succeeded", "metadata": {}}
    send(event("charge.refunded", refund))
    send(event("charge.refunded", refund))
    eq(get(acct)["balance_micros"], BONUS + 1500 * 10000, "the refunded amount taken back once")
    eq((txns(acct)[0]["cause"], txns(acct)[0]["amount_micros"]), ("refund", -500 * 10000), "a refund row")
    du = {"id": "du_" + uid("")[-12:], "object": "dispute", "amount": 1500, "charge": ch, "currency": "eur",
          "payment_intent": pi, "status": "needs_response", "reason": "fraudulent"}
    send(event("charge.dispute.created", du))
    a = get(acct)
    eq((a["balance_micros"], a["status"], a["status_reason"]), (BONUS, "suspended", "dispute"), "disputed")
    eq(txns(acct)[0]["cause"], "dispute", "cause dispute")
    err(authorize(acct), 403, "account_suspended", what="a guard call while suspended for a dispute")
    send(event("charge.dispute.closed", dict(du, status="won")))
    a = get(acct)
    eq((a["balance_micros"], a["status"]), (BONUS + 1500 * 10000, "suspended"), "won: given back, still suspended")
    eq(txns(acct)[0]["cause"], "dispute_won", "cause dispute_won")
    verify()


def test_referral_reward_on_the_first_topup():
    referrer = new_account("rfr")
    code = api("GET", path(referrer, "/referral_code"), auth="app").json["code"]
    referred = uid("rfd")
    eq(api("POST", "/v1/accounts", {"id": referred, "kind": "user", "referral_code": code}).status, 201, "referred")
    sid = api("POST", path(referred, "/topup"), {"amount_cents": 1000}, auth="app").json["session_id"]
    eq(send(checkout_event(sid))["outcome"], "credited", "the first top-up")
    me = api("GET", "/v1/me", auth=api("POST", path(referrer, "/browser_tokens"), {}, auth="app").json["token"]).json
    rr = me["referral"]
    check(rr and rr["referrer_micros"] > 0, "the deployment rewards referrers: %r" % rr)
    check(wait_until(lambda: any(g["source"] == "referral" for g in get(referrer)["grants"]), timeout=10),
          "the referrer's reward")
    eq([g["remaining_micros"] for g in get(referrer)["grants"] if g["source"] == "referral"], [rr["referrer_micros"]],
       "referrer_micros")
    eq([g["remaining_micros"] for g in get(referred)["grants"] if g["source"] == "referral"], [rr["referred_micros"]],
       "referred_micros")
    r = api("GET", path(referrer, "/referrals"), auth="read").json
    eq([x["account"] for x in r["data"]], [referred], "its referrals")


def test_topup_attempts_count_and_idempotency_before_stripe():
    base = ENV["CREDITD_STRIPE_API_BASE"]
    acct = new_account("tpa")
    api("POST", "/_mode", {"mode": "fail500"}, auth=None, base=base)
    try:
        for _ in range(10):
            err(api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app"), 502, "upstream_error",
                what="Stripe failing")
    finally:
        api("POST", "/_mode", {"mode": "ok"}, auth=None, base=base)
    r = api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app")
    e = err(r, 429, "rate_limit_exceeded", what="the 11th attempt in the hour")
    eq(e["type"], "rate_limit_error", "type")
    check(r.headers.get("retry-after", "").isdigit(), "Retry-After")
    other = new_account("tpi")
    k = {"Idempotency-Key": uid("tk")}
    r1 = api("POST", path(other, "/topup"), {"amount_cents": 1000}, auth="app", headers=k)
    r2 = api("POST", path(other, "/topup"), {"amount_cents": 1000}, auth="app", headers=k)
    eq((r1.status, r2.status, r1.json["session_id"]), (200, 200, r2.json["session_id"]), "replayed")
    n = len(api("GET", "/_requests", auth=None, base=base).json)
    err(api("POST", path(other, "/topup"), {"amount_cents": 1500}, auth="app", headers=k), 409, "conflict",
        what="the key with another body")
    eq(len(api("GET", "/_requests", auth=None, base=base).json), n, "nothing sent to Stripe")


def test_subscription_sets_and_clears_the_plan():
    name = "sp" + uid("")[-8:]
    api("PUT", "/v1/plans/" + name, {"credits_micros": 4000000, "rollover": "none", "stripe_price_ids": ["price_" + name]})
    acct = new_account("sub")
    api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app")
    cus = [x for x in api("GET", "/_requests", auth=None, base=ENV["CREDITD_STRIPE_API_BASE"]).json
           if x["path"] == "/v1/customers" and (x.get("form") or {}).get("metadata[account]") == acct]
    eq(len(cus), 1, "one Stripe customer made for the account")
    sessions = [x for x in api("GET", "/_requests", auth=None, base=ENV["CREDITD_STRIPE_API_BASE"]).json
                if x["path"] == "/v1/checkout/sessions" and (x.get("form") or {}).get("metadata[account]") == acct]
    customer = sessions[-1]["form"]["customer"]
    sub = {"id": "sub_" + uid("")[-10:], "object": "subscription", "customer": customer, "status": "active",
           "items": {"data": [{"price": {"id": "price_" + name}}]}, "metadata": {"account": acct},
           "current_period_start": int(time.time()) - 10, "current_period_end": int(time.time()) + 86400 * 30}
    send(event("customer.subscription.created", sub))
    a = get(acct)
    eq(a["plan"], name, "the subscription's plan")
    eq([g["remaining_micros"] for g in a["grants"] if g["source"] == "plan"], [4000000], "its credits")
    send(event("customer.subscription.deleted", dict(sub, status="canceled")))
    eq(get(acct)["plan"], None, "cleared")


def test_webhook_async_payment_invoice_and_concurrent_deliveries():
    acct = new_account("asy")
    sid = api("POST", path(acct, "/topup"), {"amount_cents": 1000}, auth="app").json["session_id"]
    eq(send(checkout_event(sid, payment_status="unpaid"))["outcome"][:7], "pending", "completed, not paid yet")
    eq(get(acct)["balance_micros"], BONUS, "nothing credited yet")
    paid = checkout_event(sid).replace(b"checkout.session.completed", b"checkout.session.async_payment_succeeded")
    send(paid)
    eq(get(acct)["balance_micros"], BONUS + 1000 * 10000, "the async payment credits")
    once = new_account("cw")
    sid = api("POST", path(once, "/topup"), {"amount_cents": 1000}, auth="app").json["session_id"]
    payload = checkout_event(sid)
    header = sign(payload)
    rs = parallel(6, lambda i: hook(payload, header))
    eq([r.status for r in rs], [200] * 6, "every delivery answered 200")
    eq(get(once)["balance_micros"], BONUS + 1000 * 10000, "one event at once six times: credited once")
    inv_acct = new_account("inv")
    api("POST", path(inv_acct, "/topup"), {"amount_cents": 1000}, auth="app")
    customer = [x for x in api("GET", "/_requests", auth=None, base=ENV["CREDITD_STRIPE_API_BASE"]).json
                if x["path"] == "/v1/checkout/sessions" and (x.get("form") or {}).get("metadata[account]") == inv_acct
                ][-1]["form"]["customer"]
    now = int(time.time())
    inv = {"id": "in_" + uid("")[-10:], "object": "invoice", "customer": customer, "subscription": "sub_" + uid("")[-8:],
           "status": "paid", "paid": True, "amount_paid": 1500, "currency": "eur", "billing_reason": "subscription_cycle",
           "period_start": now - 10, "period_end": now + 86400 * 30,
           "lines": {"data": [{"price": {"id": "price_in_no_plan"}, "period": {"start": now - 10, "end": now + 86400 * 30}}]}}
    send(event("invoice.paid", inv))
    send(event("invoice.paid", inv))
    eq([g["remaining_micros"] for g in get(inv_acct)["grants"] if g["source"] == "plan"], [1500 * 10000],
       "a price in no plan: amount_paid x topup_rate as a plan grant, once per invoice")
    verify()
