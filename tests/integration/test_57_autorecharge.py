"""test_57_autorecharge.py: auto-recharge (DESIGN §9) against the local
Stripe stand-in, which checks every parameter of the off-session
PaymentIntent: a saved card from a top-up with save_card, one recharge
queued in the transaction that crosses the threshold (never two in
flight), the recharge id as Stripe's Idempotency-Key, one credit however
often payment_intent.succeeded comes, failures counted and two in a row
switching it off, and auto_recharge_max_per_day."""
import json
import time

from lib import ENV, api, check, creditctl, eq, key_salt, new_account, parallel, sql, uid, verify, wait_until
from test_30_stripe import RATE, fake, fake_mode, ok_mode, post_payload, sign, topup
from test_20_guard import cost

C = cost("gpt-4o", 1000, 500)


def acct_get(acct):
    r = api("GET", "/v1/accounts/" + acct, auth="read")
    eq(r.status, 200, "get %r" % r)
    return r.json


def with_card(prefix="ar"):
    """A new account that topped up 10 € keeping its card."""
    acct = new_account(prefix)
    r = topup(acct, 1000, save_card=True)
    eq(r.status, 200, "top-up %r" % r)
    out = fake("POST", "/_sessions/%s/complete" % r.json["session_id"], {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"]})
    eq(post_payload(out["payload"], out["signature"]).status, 200, "credited")
    check("payment_intent_payload" in out, "the stand-in kept the card")
    eq(post_payload(out["payment_intent_payload"], out["payment_intent_signature"]).status, 200, "card saved")
    eq(acct_get(acct)["card_saved"], True, "card_saved")
    return acct


def spend(acct, n=1):
    return [api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 1000,
                                      "output_tokens": 500, "request_id": uid("u")}, auth="guard").status
            for _ in range(n)]


def recharges(acct):
    return sql("SELECT r.id, r.state, r.amount_cents, IFNULL(r.payment_intent, '-') FROM recharges r JOIN accounts a "
               "ON a.id = r.account_id WHERE a.ext_id = '%s' ORDER BY r.id" % acct)


def intents(acct):
    return [p for p in fake("GET", "/_payment_intents") if p["metadata"].get("account") == acct]


def pi_event(pid, etype="payment_intent.succeeded"):
    out = fake("POST", "/_payment_intents/%s/event" % pid, {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"],
                                                            "type": etype})
    return out["payload"], out["signature"]


def events_of(acct, etype):
    return [json.loads(r[0]) for r in sql("SELECT data FROM events WHERE account = '%s' AND type = '%s' ORDER BY id"
                                           % (acct, etype))]


def enable(acct, threshold, cents):
    r = api("PATCH", "/v1/accounts/" + acct, {"auto_recharge": {"threshold_micros": threshold, "amount_cents": cents}})
    eq(r.status, 200, "auto-recharge on %r" % r)
    return r.json


def near_threshold(acct, cents=1000):
    """Auto-recharge on, its threshold just under what the account has: the
    next charge crosses it."""
    enable(acct, acct_get(acct)["available_micros"] - C // 2, cents)


def reached(acct, state, index=0, timeout=10):
    """Waits for the account's recharge `index` to be in `state`."""
    return wait_until(lambda: len(recharges(acct)) > index and recharges(acct)[index][1] == state, timeout=timeout)


def payment_mode(mode, **kw):
    fake("POST", "/_payment_mode", dict({"mode": mode}, **kw))


def test_the_setting_needs_a_saved_card_and_is_validated():
    ok_mode()
    plain = new_account("ar")
    r = api("PATCH", "/v1/accounts/" + plain, {"auto_recharge": {"threshold_micros": 1000, "amount_cents": 1000}})
    eq((r.status, r.err.get("param")), (400, "auto_recharge"), "no card: refused %r" % r)
    eq(acct_get(plain)["auto_recharge"], None, "nothing stored")
    acct = with_card()
    for bad in ({"threshold_micros": -1, "amount_cents": 1000}, {"threshold_micros": 10, "amount_cents": 1},
                {"threshold_micros": 10}, {"amount_cents": 1000}, {"threshold_micros": "10", "amount_cents": 1000},
                {"threshold_micros": 10, "amount_cents": 1000, "extra": 1}, 5, "on"):
        r = api("PATCH", "/v1/accounts/" + acct, {"auto_recharge": bad})
        eq((r.status, r.err.get("param")), (400, "auto_recharge"), "invalid %r: %r" % (bad, r))
    a = enable(acct, 1000, 800)
    eq(a["auto_recharge"], {"threshold_micros": 1000, "amount_cents": 800}, "answered")
    eq(acct_get(acct)["auto_recharge"], {"threshold_micros": 1000, "amount_cents": 800}, "stored")
    eq(api("PATCH", "/v1/accounts/" + acct, {"auto_recharge": None}).json["auto_recharge"], None, "off")
    r = topup(acct, 1000, save_card="yes")
    eq((r.status, r.err.get("param")), (400, "save_card"), "save_card is a boolean")


def test_concurrent_charges_queue_one_recharge_credited_once():
    ok_mode()
    payment_mode("ok")
    acct = with_card()
    bal = acct_get(acct)["available_micros"]
    threshold = bal - 10 * C
    enable(acct, threshold, 2000)
    statuses = parallel(32, lambda i: spend(acct)[0])
    check(statuses.count(200) >= 11, "charges: %r" % statuses)
    rows = recharges(acct)
    eq(len(rows), 1, "32 concurrent charges crossing the threshold queue one recharge: %r" % rows)
    check(wait_until(lambda: len(intents(acct)) == 1 and recharges(acct)[0][1] == "succeeded", timeout=10),
          "paid at Stripe, credited from its answer: %r" % recharges(acct))
    pi = intents(acct)[0]
    rid = rows[0][0]
    eq((pi["amount"], pi["currency"], pi["metadata"]["type"], pi["metadata"]["recharge"], pi["customer"] is not None),
       (2000, "eur", "auto_recharge", rid, True), "the PaymentIntent")
    sent = [e for e in fake("GET", "/_requests") if e["path"] == "/v1/payment_intents" and
            e["form"].get("metadata[recharge]") == rid]
    check(sent and all(e["headers"].get("idempotency-key") == "recharge_%s-%s" % (key_salt(), rid) for e in sent),
          "the recharge's id as Idempotency-Key: %r" % [e["headers"].get("idempotency-key") for e in sent])
    eq(recharges(acct)[0][3], pi["id"], "its PaymentIntent recorded")
    credited = [g for g in sql("SELECT COUNT(*), COALESCE(SUM(amount_micros), 0) FROM grants WHERE reference = '%s'"
                               % pi["id"])]
    eq(credited, [["1", str(2000 * RATE)]], "one top-up grant of the recharge")
    before = acct_get(acct)["balance_micros"]
    payload, sig = pi_event(pi["id"])
    res = parallel(10, lambda i: post_payload(payload, sig))
    check(all(r.status == 200 for r in res), "every delivery acknowledged: %r" % [r.status for r in res])
    eq(acct_get(acct)["balance_micros"], before, "the webhook ten times over adds nothing: credited once")
    eq(recharges(acct)[0][1], "succeeded", "the recharge succeeded")
    eq(len(events_of(acct, "autorecharge.succeeded")), 1, "one autorecharge.succeeded")
    # A fresh delivery of the same payment (another event id) credits nothing more.
    payload2, sig2 = pi_event(pi["id"])
    eq(post_payload(payload2, sig2).status, 200, "another event")
    eq(acct_get(acct)["balance_micros"], before, "still once")
    verify()


def test_a_processing_payment_is_credited_once_by_its_webhook():
    ok_mode()
    payment_mode("processing")
    acct = with_card()
    near_threshold(acct, 1500)
    eq(spend(acct), [200], "below")
    check(reached(acct, "sent", timeout=10),
          "sent, not paid yet: %r" % recharges(acct))
    eq(spend(acct, 3), [200] * 3, "charges meanwhile")
    eq(len(recharges(acct)), 1, "one in flight")
    before = acct_get(acct)["balance_micros"]
    payload, sig = pi_event(intents(acct)[0]["id"])
    res = parallel(10, lambda i: post_payload(payload, sig))
    check(all(r.status == 200 for r in res), "acknowledged")
    eq(acct_get(acct)["balance_micros"], before + 1500 * RATE, "credited once for ten deliveries")
    eq(recharges(acct)[0][1], "succeeded", "succeeded")
    eq(len(events_of(acct, "autorecharge.succeeded")), 1, "one event")
    payment_mode("ok")
    verify()


def test_a_refund_that_came_before_the_recharge_s_credit_is_applied_with_it():
    from test_30_stripe import charge_event, refunds
    ok_mode()
    payment_mode("processing")
    acct = with_card("arr")
    near_threshold(acct, 1500)
    eq(spend(acct), [200], "below")
    check(reached(acct, "sent", timeout=10), "sent, not paid yet: %r" % recharges(acct))
    pid = intents(acct)[0]["id"]
    early = json.dumps(charge_event(pid, acct, 500, amount=1500))
    r = post_payload(early, sign(early))
    eq(r.status, 200, "acknowledged")
    check(r.json["outcome"].startswith("kept"), "kept for its credit: %r" % r.json)
    before = acct_get(acct)["balance_micros"]
    payload, sig = pi_event(pid)
    eq(post_payload(payload, sig).status, 200, "credited")
    eq(acct_get(acct)["balance_micros"], before + 1000 * RATE, "credited, and the third refunded taken back with it")
    eq([t["amount_micros"] for t in refunds(acct)], [-500 * RATE], "one refund entry")
    eq(post_payload(early, sign(early)).status, 200, "the refund again")
    eq(acct_get(acct)["balance_micros"], before + 1000 * RATE, "changes nothing")
    payment_mode("ok")
    verify()


def test_a_payment_above_the_largest_grant_is_not_credited():
    """DESIGN §10: no single grant above 10^12 micros. A recharge's payment
    that large (amount_received at the top-up rate) credits nothing, is
    acknowledged and logged, and leaves the recharge as it was."""
    ok_mode()
    payment_mode("processing")
    acct = with_card("arbig")
    near_threshold(acct, 1500)
    eq(spend(acct), [200], "below")
    check(reached(acct, "sent", timeout=10), "sent, not paid yet: %r" % recharges(acct))
    before = acct_get(acct)["balance_micros"]
    payload, _ = pi_event(intents(acct)[0]["id"])
    ev = json.loads(payload)
    ev["data"]["object"]["amount_received"] = 10 ** 12 // RATE + 1
    payload = json.dumps(ev)
    r = post_payload(payload, sign(payload))
    eq(r.status, 200, "acknowledged: %r" % r)
    check(r.json["outcome"].startswith("not credited"), "the answer says why: %r" % r.json)
    eq(acct_get(acct)["balance_micros"], before, "nothing credited")
    eq(recharges(acct)[0][1], "sent", "the recharge left as it was")
    eq(events_of(acct, "autorecharge.succeeded"), [], "no event")
    # Its payment ended, or creditd would ask Stripe about it again 15,
    # 30, 60 minutes on, into a later file's count of what Stripe was sent.
    payload, sig = pi_event(intents(acct)[0]["id"], "payment_intent.payment_failed")
    eq(post_payload(payload, sig).status, 200, "its payment failed")
    eq(recharges(acct)[0][1], "failed", "and the recharge with it")
    payment_mode("ok")
    verify()


def test_two_declines_in_a_row_switch_it_off():
    ok_mode()
    payment_mode("decline", count=2)
    acct = with_card()
    bal = acct_get(acct)["available_micros"]
    enable(acct, bal - C // 2, 1000)
    eq(spend(acct), [200], "below the threshold")
    check(reached(acct, "failed", timeout=10),
          "the decline fails it: %r" % recharges(acct))
    first = events_of(acct, "autorecharge.failed")
    eq(len(first), 1, "an autorecharge.failed event")
    eq((first[0]["disabled"], first[0]["failures_in_a_row"]), (False, 1), "not off yet")
    check("declined" in first[0]["error"], "says why: %r" % first[0])
    eq(spend(acct), [200], "still below: tried again")
    check(reached(acct, "failed", 1),
          "the second decline: %r" % recharges(acct))
    second = events_of(acct, "autorecharge.failed")[1]
    eq((second["disabled"], second["failures_in_a_row"]), (True, 2), "switched off, and said so")
    eq(acct_get(acct)["auto_recharge"], None, "off")
    eq(spend(acct), [200], "more charges")
    eq(len(recharges(acct)), 2, "no more recharges once off")
    payment_mode("ok")


def test_a_failed_payment_webhook_fails_a_sent_recharge():
    ok_mode()
    payment_mode("processing")
    acct = with_card()
    near_threshold(acct)
    eq(spend(acct), [200], "below")
    check(reached(acct, "sent", timeout=10), "sent")
    payload, sig = pi_event(intents(acct)[0]["id"], "payment_intent.payment_failed")
    eq(post_payload(payload, sig).status, 200, "payment_failed")
    eq(recharges(acct)[0][1], "failed", "failed")
    eq(len(events_of(acct, "autorecharge.failed")), 1, "its event")
    payload, sig = pi_event(intents(acct)[0]["id"])
    eq(post_payload(payload, sig).status, 200, "a late success of a failed recharge")
    eq(recharges(acct)[0][1], "succeeded", "a payment that did succeed is credited after all")
    payment_mode("ok")


def test_the_daily_cap_holds():
    ok_mode()
    payment_mode("ok")
    acct = with_card()
    # A recharge smaller than one charge: the account stays below the
    # threshold, so every charge would want another.
    enable(acct, acct_get(acct)["available_micros"] + 10 ** 9, 500)
    for _ in range(5):
        eq(spend(acct), [200], "a charge below the threshold")
        check(wait_until(lambda: all(r[1] == "succeeded" for r in recharges(acct)), timeout=10),
              "what was queued is paid: %r" % recharges(acct))
    eq(len(recharges(acct)), 3, "auto_recharge_max_per_day (3) recharges today, for 5 charges")
    eq([r[1] for r in recharges(acct)], ["succeeded"] * 3, "and no fourth queued")
    verify()


def test_stripe_failing_or_slow_is_retried_with_the_same_key_and_never_doubled():
    ok_mode()
    payment_mode("ok")
    acct = with_card()
    near_threshold(acct)
    fake_mode("fail500", count=1)
    eq(spend(acct), [200], "below")
    check(reached(acct, "succeeded", timeout=15),
          "paid after Stripe's 500: %r" % recharges(acct))
    rid = recharges(acct)[0][0]
    keys = [e["headers"].get("idempotency-key") for e in fake("GET", "/_requests")
            if e["path"] == "/v1/payment_intents" and e["form"].get("metadata[recharge]") == rid]
    eq(keys, ["recharge_%s-%s" % (key_salt(), rid)] * 2, "tried twice, with the same Idempotency-Key")
    eq(len(intents(acct)), 1, "one PaymentIntent at Stripe")
    # A slow Stripe: charges go on meanwhile, and queue nothing more.
    payment_mode("slow", delay_seconds=2, count=1)
    near_threshold(acct)
    eq(spend(acct), [200], "below again")
    check(wait_until(lambda: len(recharges(acct)) == 2, timeout=5), "a second recharge queued")
    eq(spend(acct, 3), [200] * 3, "charges while Stripe is slow")
    eq(len(recharges(acct)), 2, "still one in flight")
    check(reached(acct, "succeeded", 1, timeout=15), "paid once Stripe answered")
    verify()


def test_verify_sees_a_recharge_credited_twice():
    acct = with_card()
    near_threshold(acct)
    payment_mode("ok")
    eq(spend(acct), [200], "below")
    check(reached(acct, "succeeded", timeout=10), "credited")
    pid = intents(acct)[0]["id"]
    verify()
    where = "account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND reference = '%s'" % (acct, pid)
    sql("UPDATE grants SET reference = 'moved' WHERE " + where)
    try:
        p = creditctl("verify", check_rc=False)
        check(p.returncode != 0 and "recharge credited other than once" in p.stdout + p.stderr,
              "verify sees it: %s" % p.stdout)
    finally:
        sql("UPDATE grants SET reference = '%s' WHERE account_id = (SELECT id FROM accounts WHERE ext_id = '%s') "
            "AND reference = 'moved'" % (pid, acct))
    verify()


def test_switching_it_off_drops_what_was_queued():
    ok_mode()
    payment_mode("ok")
    acct = with_card()
    near_threshold(acct)
    # Stripe fails the first try: the recharge waits queued for its retry.
    fake_mode("fail500", count=1)
    eq(spend(acct), [200], "below")
    check(wait_until(lambda: sql("SELECT attempts FROM recharges r JOIN accounts a ON a.id = r.account_id "
                                 "WHERE a.ext_id = '%s'" % acct) == [["1"]], timeout=5), "one failed try")
    eq(api("PATCH", "/v1/accounts/" + acct, {"auto_recharge": None}).status, 200, "switched off meanwhile")
    eq([r[1] for r in recharges(acct)], ["failed"], "not sent any more")
    eq(acct_get(acct)["auto_recharge"], None, "off")
    time.sleep(3)       # past the retry's backoff
    eq(intents(acct), [], "nothing charged to the card after it was switched off")
    verify()
