"""test_33_payg.py: pay-as-you-go collection (DESIGN §10 "Pay-as-you-go"):
an account with an overdraft and a saved card that ends a month in debt is
charged for it off-session at the first sweep after the 1st (UTC).

What is checked, with the test clock moved across month boundaries: one
PaymentIntent per (account, period) with the debt in whole cents rounded
up, the saved card, off_session and confirm, metadata type/account/period
and the Idempotency-Key payg-<salt>-<account>-<YYYY-MM>-<try>; the payment
credited at once from Stripe's answer and never again for its webhook;
December's debt collected in January as period YYYY-12; a decline
suspending the account (403 account_suspended on the guard) until the
debt is paid by a top-up, a grant or a retry (payg.recovered), retries one
day and then two days later and none after the third; a manual suspension
that a payment does not lift; no charge without a saved card; creditctl
collect (--dry-run, --account, exit codes); and the ledger exact while
guard calls charge the account during its collection.

The period collected is the month before the stack clock's month. Each
test moves the clock forward from real time and puts it (and the stand-in's
payment mode) back in a finally, and leaves its accounts out of debt so
that a later test's month change charges none of them."""
import calendar
import threading
import time
import urllib.parse

from lib import (ENV, api, check, clock_now, clock_reset, clock_set, creditctl, eq, key_salt, new_account, parallel,
                 sql, uid, verify, wait_until)
from test_20_guard import authorize, cost, release, settle
from test_30_stripe import RATE, fake, fake_mode, ok_mode, post_payload, topup
from test_57_autorecharge import acct_get, events_of, intents, payment_mode

C = cost("gpt-4o", 1000, 500)          # one guard request's charge
OVERDRAFT = 100 * 10 ** 6              # 100 EUR of pay-as-you-go credit
SWEEPS = 3.0                           # seconds: a few of the test stack's 1 s sweeps


# ---- helpers ---------------------------------------------------------------

def month_start(y, m):
    return calendar.timegm((y, m, 1, 0, 0, 0))


def next_month(t):
    """(start of the month after t's month, "YYYY-MM" of t's month: the period
    a collection then is for)."""
    g = time.gmtime(t)
    y, m = (g.tm_year + 1, 1) if g.tm_mon == 12 else (g.tm_year, g.tm_mon + 1)
    return month_start(y, m), "%04d-%02d" % (g.tm_year, g.tm_mon)


def next_january(t):
    """(start of the first January after t, "YYYY-12" of the December before)."""
    y = time.gmtime(t).tm_year + 1
    return month_start(y, 1), "%04d-12" % (y - 1)


def period_now():
    """The period a collection made now is for: the month before the clock's."""
    g = time.gmtime(clock_now())
    y, m = (g.tm_year - 1, 12) if g.tm_mon == 1 else (g.tm_year, g.tm_mon - 1)
    return "%04d-%02d" % (y, m)


def at(t):
    t0 = time.time()
    clock_set(t)
    got = clock_now()
    # Read back at least t, and later by no more than the seconds that
    # passed: a loaded machine may stall this process between the two.
    check(t <= got <= t + 1 + int(time.time() - t0), "the clock moved: %d for %d" % (got, t))


def rfc3339(s):
    check(isinstance(s, str), "an RFC 3339 time: %r" % (s,))
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def cents_up(debt_micros):
    return -(-debt_micros // RATE)


def field(a, name):
    """A field GET /v1/accounts/{id} must answer (absent is not null)."""
    check(name in a, "GET account answers %r: %r" % (name, sorted(a)))
    return a[name]


def card_account(prefix="payg"):
    """A new account that topped up 10 EUR keeping its card (test_57's
    with_card): (account, the saved payment method's id)."""
    acct, pm, _ = card_topup(prefix)
    return acct, pm


def card_topup(prefix):
    """card_account's account and card, and the top-up's PaymentIntent."""
    acct = new_account(prefix)
    r = topup(acct, 1000, save_card=True)
    eq(r.status, 200, "top-up %r" % r)
    out = fake("POST", "/_sessions/%s/complete" % r.json["session_id"],
               {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"], "timestamp": clock_now()})
    eq(post_payload(out["payload"], out["signature"]).status, 200, "credited")
    check("payment_intent_payload" in out, "the stand-in kept the card")
    eq(post_payload(out["payment_intent_payload"], out["payment_intent_signature"]).status, 200, "card saved")
    eq(acct_get(acct)["card_saved"], True, "card_saved")
    return (acct, out["payment_intent_event"]["data"]["object"]["payment_method"],
            out["event"]["data"]["object"]["payment_intent"])


def in_debt(acct, debt):
    """Makes acct pay-as-you-go and leaves it exactly `debt` micros below 0.
    The sweeps see it first while it is not negative, so it is not collected
    for the period running now: the debt waits for the next month change."""
    r = api("PATCH", "/v1/accounts/" + acct, {"overdraft_limit_micros": OVERDRAFT})
    eq(r.status, 200, "overdraft %r" % r)
    time.sleep(SWEEPS)
    bal = acct_get(acct)["balance_micros"]
    r = api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": bal + debt, "reason": "test: a month's use"})
    eq(r.status, 201, "debit %r" % r)
    eq(acct_get(acct)["balance_micros"], -debt, "in debt")


def payg_account(debt, prefix="payg"):
    acct, pm = card_account(prefix)
    in_debt(acct, debt)
    return acct, pm


def square(*accts):
    """Leaves accounts out of debt and active (best effort, for finally:
    a later month change must not charge them)."""
    for acct in accts:
        try:
            a = acct_get(acct)
            if a["balance_micros"] < 0:
                api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": -a["balance_micros"],
                                                             "source": "adjustment", "description": "test: square"})
            if a.get("status") != "active":
                api("PATCH", "/v1/accounts/" + acct, {"status": "active"})
        except Exception:  # noqa: BLE001 - clean-up must not hide the test's own failure
            pass


def restore(*accts):
    clock_reset()
    payment_mode("ok")
    ok_mode()
    square(*accts)


def pi_event(pid, etype="payment_intent.succeeded"):
    """A signed payment_intent event, stamped with the stack's clock (which
    the tests move: a stamp far from creditd's time is refused)."""
    out = fake("POST", "/_payment_intents/%s/event" % pid, {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"],
                                                            "type": etype, "timestamp": clock_now()})
    return out["payload"], out["signature"]


def pi_requests(acct):
    """POST /v1/payment_intents creditd sent for acct's collections."""
    return [e for e in fake("GET", "/_requests") if e["path"] == "/v1/payment_intents" and
            e["form"].get("metadata[account]") == acct and e["form"].get("metadata[type]") == "payg_collection"]


def keys_sent(acct):
    return [e["headers"].get("idempotency-key") for e in pi_requests(acct)]


def payg_intents(acct):
    return [p for p in intents(acct) if p["metadata"].get("type") == "payg_collection"]


def payment_credits(acct):
    """Journal rows of grants with source payment: (amount, cause). Read
    from the database: under guard traffic they leave the first pages of
    /transactions at once."""
    return [(int(r[0]), r[1]) for r in sql("SELECT j.amount_micros, j.cause FROM journal j JOIN accounts a ON "
                                           "a.id = j.account_id WHERE a.ext_id = '%s' AND j.source = 'payment' "
                                           "ORDER BY j.id" % acct)]


def collection(acct, made=True):
    """The account's latest collection: a dict when made, else null."""
    col = field(acct_get(acct), "collection")
    check(isinstance(col, dict) if made else col is None, "collection %s: %r" % ("made" if made else "null", col))
    return col


def customer(acct):
    rows = sql("SELECT IFNULL(stripe_customer_id, '-') FROM accounts WHERE ext_id = '%s'" % acct)
    eq(len(rows), 1, "account row")
    return rows[0][0]


def failed_seen(acct, n=1, timeout=10):
    return wait_until(lambda: len(events_of(acct, "payg.failed")) >= n, timeout=timeout)


def guard_status(acct):
    """authorize, then release what was held: the guard's answer's status and code."""
    r = authorize(acct)
    if r.status == 200:
        release(r.json["hold_id"])
    return r.status, r.err.get("code")


# ---- tests -----------------------------------------------------------------

def test_a_month_s_debt_is_collected_once_rounded_up_to_the_cent():
    ok_mode()
    payment_mode("ok")
    debt = 45000001                                    # 45.000001 EUR
    acct, pm = payg_account(debt)
    start, period = next_month(clock_now())
    try:
        eq(payg_intents(acct), [], "a debt made mid-month waits for the month change")
        at(start + 5)
        check(wait_until(lambda: acct_get(acct)["balance_micros"] >= 0, timeout=10),
              "collected within a few sweeps of the 1st: %r, %r" % (acct_get(acct)["balance_micros"], intents(acct)))
        pis = payg_intents(acct)
        eq(len(pis), 1, "one PaymentIntent: %r" % pis)
        pi = pis[0]
        eq((pi["amount"], pi["currency"], pi["customer"], pi["payment_method"], pi["status"]),
           (4501, "eur", customer(acct), pm, "succeeded"),
           "the debt in cents rounded up, charged to the saved card of the account's customer")
        eq((pi["metadata"].get("type"), pi["metadata"].get("account"), pi["metadata"].get("period")),
           ("payg_collection", acct, period), "metadata")
        sent = pi_requests(acct)
        eq(len(sent), 1, "one request to Stripe")
        eq((sent[0]["form"].get("off_session"), sent[0]["form"].get("confirm")), ("true", "true"),
           "off-session, confirmed")
        eq(keys_sent(acct), ["payg-%s-%s-%s-1" % (key_salt(), acct, period)], "Idempotency-Key payg-<salt>-<account>-<period>-<try>")
        a = acct_get(acct)
        eq(a["balance_micros"], 4501 * RATE - debt, "credited 45.01 EUR at once: 0.009999 EUR left")
        eq((a["status"], field(a, "status_reason")), ("active", None), "active")
        eq(field(a, "collection"), {"period": period, "amount_micros": 4501 * RATE, "state": "succeeded", "tries": 1,
                                    "next_try_at": None}, "the collection")
        eq(payment_credits(acct), [(4501 * RATE, "grant")], "one grant with source payment")
        ev = events_of(acct, "payg.collected")
        eq(len(ev), 1, "one payg.collected: %r" % ev)
        eq((ev[0].get("period"), ev[0].get("amount_cents"), ev[0].get("amount_micros"), ev[0].get("payment_intent")),
           (period, 4501, 4501 * RATE, pi["id"]), "payg.collected says what was collected")
        # Nothing collects it again: creditctl, the sweeps, the webhook.
        for _ in range(2):
            p = creditctl("collect", "--account", acct)
            eq(p.stdout.strip(), "nothing to collect", "already collected for %s" % period)
            p = creditctl("collect", check_rc=False)
            check(acct not in p.stdout, "a collect of every due account leaves it out: %s" % p.stdout)
        time.sleep(SWEEPS)
        eq(len(payg_intents(acct)), 1, "still one PaymentIntent")
        eq(len(pi_requests(acct)), 1, "nothing more sent to Stripe")
        payload, sig = pi_event(pi["id"])
        for _ in range(2):
            eq(post_payload(payload, sig).status, 200, "payment_intent.succeeded acknowledged")
        payload, sig = pi_event(pi["id"])       # another delivery: a new event id, the same payment
        eq(post_payload(payload, sig).status, 200, "acknowledged")
        eq(acct_get(acct)["balance_micros"], 4501 * RATE - debt, "the webhook credits nothing more")
        eq(payment_credits(acct), [(4501 * RATE, "grant")], "still one payment grant")
        eq(len(events_of(acct, "payg.collected")), 1, "still one payg.collected")
    finally:
        restore(acct)
    verify()


def test_a_decline_suspends_until_a_top_up_pays_the_debt():
    ok_mode()
    debt = 12345678                                    # 12.345678 EUR -> 1235 cents
    acct, _ = payg_account(debt)
    start, period = next_month(clock_now())
    try:
        payment_mode("decline")
        at(start + 5)
        check(failed_seen(acct), "payg.failed after the decline: %r" % intents(acct))
        payment_mode("ok")
        pis = payg_intents(acct)
        eq([(p["amount"], p["status"]) for p in pis], [(1235, "requires_payment_method")], "one declined PaymentIntent")
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason")), ("suspended", "payment_failed"),
           "suspended for the failed payment")
        eq(a["balance_micros"], -debt, "nothing credited")
        col = collection(acct)
        eq((col["period"], col["amount_micros"], col["state"], col["tries"]), (period, 1235 * RATE, "failed", 1),
           "the failed collection")
        check(isinstance(col["next_try_at"], str), "a retry is scheduled: %r" % col)
        eq(guard_status(acct), (403, "account_suspended"), "the guard refuses a suspended account")
        eq(events_of(acct, "payg.recovered"), [], "not recovered yet")
        # The user pays the debt by a Checkout top-up of 20 EUR.
        r = topup(acct, 2000)
        eq(r.status, 200, "a top-up while suspended %r" % r)
        out = fake("POST", "/_sessions/%s/complete" % r.json["session_id"],
                   {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"], "timestamp": clock_now()})
        eq(post_payload(out["payload"], out["signature"]).status, 200, "top-up credited")
        a = acct_get(acct)
        eq(a["balance_micros"], 2000 * RATE - debt, "the top-up repaid the debt")
        eq((a["status"], field(a, "status_reason")), ("active", None), "the suspension lifted by itself")
        eq(len(events_of(acct, "payg.recovered")), 1, "payg.recovered")
        eq(collection(acct)["state"], "failed", "the collection itself stays failed")
        eq(guard_status(acct)[0], 200, "the guard serves it again")
        eq(payment_credits(acct), [], "no payment grant: the card never paid")
    finally:
        restore(acct)
    verify()


def test_a_retry_is_dropped_once_the_debt_is_paid_otherwise():
    """A decline, then an admin grant pays the debt: the try due a day later
    is never sent (the card is not charged for a debt that is gone)."""
    ok_mode()
    acct, _ = payg_account(15000000)
    start, period = next_month(clock_now())
    try:
        payment_mode("decline")
        at(start + 5)
        check(failed_seen(acct), "the first try declined")
        payment_mode("ok")
        r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 15000000, "source": "adjustment"})
        eq(r.status, 201, "a grant paying the debt %r" % r)
        a = acct_get(acct)
        eq((a["balance_micros"], a["status"]), (0, "active"), "paid and active again")
        col = collection(acct)
        eq((col["state"], col["tries"], col["next_try_at"]), ("failed", 1, None), "no try left to make")
        at(start + 5 + 86400 + 60)
        time.sleep(SWEEPS)
        eq(len(keys_sent(acct)), 1, "no second try sent: %r" % keys_sent(acct))
        eq(acct_get(acct)["balance_micros"], 0, "nothing charged")
    finally:
        restore(acct)
    verify()


def test_a_processing_collection_fails_by_its_webhook_and_only_the_current_try():
    """Stripe answers processing, then payment_intent.payment_failed: the
    collection fails and the account is suspended; the same event again
    (for a try that ended) changes nothing."""
    ok_mode()
    acct, _ = payg_account(9000000)
    start, period = next_month(clock_now())
    try:
        payment_mode("processing")
        at(start + 5)
        check(wait_until(lambda: len(payg_intents(acct)) == 1, timeout=10), "sent: %r" % intents(acct))
        payment_mode("ok")
        pi = payg_intents(acct)[0]
        eq(collection(acct)["state"], "pending", "pending while Stripe processes it")
        payload, sig = pi_event(pi["id"], "payment_intent.payment_failed")
        eq(post_payload(payload, sig).status, 200, "payment_failed acknowledged")
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason")), ("suspended", "payment_failed"), "suspended")
        col = collection(acct)
        eq((col["state"], col["tries"]), ("failed", 1), "the try failed")
        payload, sig = pi_event(pi["id"], "payment_intent.payment_failed")
        eq(post_payload(payload, sig).status, 200, "acknowledged again")
        eq(len(events_of(acct, "payg.failed")), 1, "one payg.failed for one try")
        eq(collection(acct)["tries"], 1, "still one try")
    finally:
        restore(acct)
    verify()


def stripe_key():
    """The stack's Stripe secret key, from creditd's config."""
    with open(ENV["CREDITD_CONFIG"]) as f:
        for line in f:
            k, _, v = line.partition("=")
            if k.strip() == "secret_key":
                return v.strip()
    raise AssertionError("no [stripe] secret_key in the config")


def test_stripe_away_is_not_a_decline():
    """Stripe answering 500 to every try for a while: the collection is
    sent again with the same key until it answers, and no failure is
    counted (no payg.failed, no suspension); then it is charged once."""
    acct, _ = payg_account(6000000)
    start, period = next_month(clock_now())
    try:
        fake_mode("fail500")
        at(start + 5)
        check(wait_until(lambda: len(keys_sent(acct)) >= 1, timeout=10), "the first try sent")
        t = start + 5
        for _ in range(12):                        # past the auto-recharge's 8 attempts
            t += 700                               # past the longest backoff (600 s)
            at(t)
            n = len(keys_sent(acct))
            wait_until(lambda: len(keys_sent(acct)) > n, timeout=5)
        check(len(keys_sent(acct)) >= 10, "sent again and again: %d" % len(keys_sent(acct)))
        eq(events_of(acct, "payg.failed"), [], "no failure counted while Stripe is away")
        eq(acct_get(acct)["status"], "active", "not suspended")
        ok_mode()
        t += 700
        at(t)
        check(wait_until(lambda: acct_get(acct)["balance_micros"] == 0, timeout=10), "charged once Stripe is back")
        eq(set(keys_sent(acct)), {"payg-%s-%s-%s-1" % (key_salt(), acct, period)}, "always try 1's key")
        eq(len(payment_credits(acct)), 1, "credited once")
    finally:
        restore(acct)
    verify()


def test_a_payment_other_than_the_try_with_stripe_is_not_credited():
    """A signed payment_intent.succeeded with a collection's metadata, for a
    PaymentIntent creditd did not send for the try with Stripe, credits
    nothing."""
    acct, _ = payg_account(8000000)
    start, period = next_month(clock_now())
    try:
        payment_mode("processing")
        at(start + 5)
        check(wait_until(lambda: len(payg_intents(acct)) == 1, timeout=10), "sent: %r" % intents(acct))
        payment_mode("ok")
        cus, pm = sql("SELECT stripe_customer_id, stripe_payment_method FROM accounts WHERE ext_id = '%s'" % acct)[0]
        form = urllib.parse.urlencode({
            "amount": "800", "currency": "eur", "customer": cus, "payment_method": pm, "confirm": "true",
            "off_session": "true", "metadata[type]": "payg_collection", "metadata[account]": acct,
            "metadata[period]": period}).encode()
        other = api("POST", "/v1/payment_intents", raw=form, auth=None, base=ENV["CREDITD_STRIPE_API_BASE"],
                    headers={"Authorization": "Bearer " + stripe_key(), "Idempotency-Key": uid("other"),
                             "Content-Type": "application/x-www-form-urlencoded"})
        eq(other.status, 200, "another PaymentIntent at Stripe %r" % other)
        payload, sig = pi_event(other.json["id"])
        eq(post_payload(payload, sig).status, 200, "acknowledged (Stripe must not retry it)")
        eq(acct_get(acct)["balance_micros"], -8000000, "not credited")
        eq(payment_credits(acct), [], "no payment grant")
    finally:
        restore(acct)
    verify()


def test_a_declined_collection_is_retried_a_day_later_and_recovers():
    ok_mode()
    debt = 30000000                                    # 30 EUR
    acct, _ = payg_account(debt)
    start, period = next_month(clock_now())
    try:
        payment_mode("decline")
        at(start + 5)
        check(failed_seen(acct), "the first try declined")
        seen = clock_now()
        payment_mode("ok")
        col = collection(acct)
        eq((col["state"], col["tries"]), ("failed", 1), "failed once: %r" % col)
        retry = rfc3339(col["next_try_at"])
        check(start + 86400 <= retry <= seen + 86400 + 2, "try 2 a day after the failure: %r" % col)
        at(retry - 60)
        time.sleep(SWEEPS)
        eq(len(pi_requests(acct)), 1, "not retried before its time")
        at(retry + 2)
        check(wait_until(lambda: acct_get(acct)["balance_micros"] == 0, timeout=10),
              "try 2 paid the debt: %r" % intents(acct))
        eq(keys_sent(acct), ["payg-%s-%s-%s-%d" % (key_salt(), acct, period, i) for i in (1, 2)], "try 2's key")
        pis = payg_intents(acct)
        # The declined try stays open at Stripe (requires_payment_method)
        # until the collection is paid: then it is cancelled (DESIGN §13).
        check(wait_until(lambda: sorted((p["amount"], p["status"]) for p in payg_intents(acct)) ==
                         [(3000, "canceled"), (3000, "succeeded")], timeout=SWEEPS + 5),
              "two PaymentIntents: the declined one, cancelled once the retry paid: %r" % payg_intents(acct))
        pis = payg_intents(acct)
        paid = [p for p in pis if p["status"] == "succeeded"][0]
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason")), ("active", None), "active again")
        eq(field(a, "collection"), {"period": period, "amount_micros": 3000 * RATE, "state": "succeeded", "tries": 2,
                                    "next_try_at": None}, "the collection")
        eq(payment_credits(acct), [(3000 * RATE, "grant")], "credited once")
        eq(len(events_of(acct, "payg.recovered")), 1, "payg.recovered")
        ev = events_of(acct, "payg.collected")
        eq([(e.get("payment_intent"), e.get("amount_micros")) for e in ev], [(paid["id"], 3000 * RATE)],
           "one payg.collected, for the retry")
        payload, sig = pi_event(paid["id"])
        eq(post_payload(payload, sig).status, 200, "its webhook")
        eq(acct_get(acct)["balance_micros"], 0, "the webhook credits nothing more")
    finally:
        restore(acct)
    verify()


def test_three_tries_one_and_two_days_apart_then_no_more():
    ok_mode()
    debt = 5000000                                     # 5 EUR
    acct, _ = payg_account(debt)
    start, period = next_month(clock_now())
    try:
        payment_mode("decline")
        at(start + 5)
        check(failed_seen(acct, 1), "try 1 declined")
        seen = clock_now()
        retry = rfc3339(collection(acct)["next_try_at"])
        check(start + 86400 <= retry <= seen + 86400 + 2, "try 2 one day later: %r" % collection(acct))
        at(retry + 2)
        check(failed_seen(acct, 2), "try 2 declined")
        seen = clock_now()
        col = collection(acct)
        eq((col["state"], col["tries"]), ("failed", 2), "failed twice: %r" % col)
        retry3 = rfc3339(col["next_try_at"])
        check(retry + 2 * 86400 <= retry3 <= seen + 2 * 86400 + 2, "try 3 two days after try 2: %r" % col)
        at(retry3 - 60)
        time.sleep(SWEEPS)
        eq(len(pi_requests(acct)), 2, "try 3 not before its time")
        at(retry3 + 2)
        check(failed_seen(acct, 3), "try 3 declined")
        col = collection(acct)
        eq((col["state"], col["tries"], col["next_try_at"]), ("failed", 3, None), "no try after the third: %r" % col)
        at(retry3 + 10 * 86400)
        time.sleep(SWEEPS)
        eq(keys_sent(acct), ["payg-%s-%s-%s-%d" % (key_salt(), acct, period, i) for i in (1, 2, 3)], "three tries, three keys")
        eq(len(payg_intents(acct)), 3, "three PaymentIntents")
        eq(len(events_of(acct, "payg.failed")), 3, "one payg.failed per try")
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason"), a["balance_micros"]), ("suspended", "payment_failed", -debt),
           "left to the operator, still suspended")
        # The operator's grant pays the debt: the suspension lifts.
        payment_mode("ok")
        r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": debt, "source": "adjustment"})
        check(r.status in (200, 201), "grant %r" % r)
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason"), a["balance_micros"]), ("active", None, 0), "recovered by a grant")
        eq(len(events_of(acct, "payg.recovered")), 1, "payg.recovered")
    finally:
        restore(acct)
    verify()


def test_a_manual_suspension_survives_a_payment():
    ok_mode()
    payment_mode("ok")
    debt = 10000000
    acct, _ = payg_account(debt)
    try:
        r = api("PATCH", "/v1/accounts/" + acct, {"status": "suspended"})
        eq(r.status, 200, "suspended by the admin %r" % r)
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason")), ("suspended", "manual"), "reason manual")
        r = topup(acct, 1500)
        eq(r.status, 200, "top-up %r" % r)
        out = fake("POST", "/_sessions/%s/complete" % r.json["session_id"],
                   {"webhook_secret": ENV["CREDITD_WEBHOOK_SECRET"], "timestamp": clock_now()})
        eq(post_payload(out["payload"], out["signature"]).status, 200, "top-up credited")
        a = acct_get(acct)
        eq(a["balance_micros"], 1500 * RATE - debt, "the debt is paid")
        eq((a["status"], field(a, "status_reason")), ("suspended", "manual"),
           "a payment does not lift a manual suspension")
        eq(events_of(acct, "payg.recovered"), [], "no payg.recovered")
        eq(guard_status(acct), (403, "account_suspended"), "still refused")
        r = api("PATCH", "/v1/accounts/" + acct, {"status": "active"})
        eq(r.status, 200, "the admin lifts it %r" % r)
        a = acct_get(acct)
        eq((a["status"], field(a, "status_reason")), ("active", None), "active, no reason")
    finally:
        restore(acct)
    verify()


def test_no_saved_card_no_charge():
    ok_mode()
    payment_mode("ok")
    bare = new_account("paygbare")
    in_debt(bare, 20000000)
    rich, _ = card_account("paygrich")                # pay-as-you-go, a card, not in debt
    eq(api("PATCH", "/v1/accounts/" + rich, {"overdraft_limit_micros": OVERDRAFT}).status, 200, "overdraft")
    rich_balance = acct_get(rich)["balance_micros"]
    start, _ = next_month(clock_now())
    try:
        at(start + 5)
        time.sleep(SWEEPS + 1)
        for acct in (bare, rich):
            eq(intents(acct), [], "no PaymentIntent for %s" % acct)
            eq(pi_requests(acct), [], "nothing sent to Stripe for %s" % acct)
            collection(acct, made=False)
        a = acct_get(bare)
        eq((a["balance_micros"], a["card_saved"], a["status"], field(a, "status_reason")),
           (-20000000, False, "active", None), "the account without a card stays in debt, active")
        eq(acct_get(rich)["balance_micros"], rich_balance, "an account not in debt owes nothing")
        p = creditctl("collect", "--account", bare, check_rc=False)
        eq((p.returncode, p.stdout.strip()), (0, "nothing to collect"), "creditctl collect has nothing either")
        eq(intents(bare), [], "still no PaymentIntent")
        eq(events_of(bare, "payg.failed") + events_of(bare, "payg.collected"), [], "no payg event")
    finally:
        restore(bare, rich)
    verify()


def test_creditctl_collect_dry_run_account_and_exit_codes():
    ok_mode()
    payment_mode("ok")
    debt = 45000001
    acct, _ = payg_account(debt, "paygctl")
    declines, _ = payg_account(10000000, "paygctl")   # 10 EUR
    period = period_now()
    try:
        p = creditctl("collect", "--dry-run", "--account", acct)
        eq(p.stdout.strip(), "%s %s 4501 would charge" % (acct, period), "what it would charge")
        p = creditctl("collect", "--dry-run", check_rc=False)
        check("%s %s 4501 would charge" % (acct, period) in p.stdout.splitlines(),
              "the dry run of every due account lists it: %s" % p.stdout)
        eq(pi_requests(acct), [], "a dry run sends nothing")
        a = acct_get(acct)
        eq((a["balance_micros"], a["status"], field(a, "collection")), (-debt, "active", None), "and changes nothing")
        eq(events_of(acct, "payg.collected") + events_of(acct, "payg.failed"), [], "no event")
        p = creditctl("collect", "--account", uid("nosuch"), check_rc=False)
        eq(p.returncode, 1, "an unknown account: exit 1 (%s%s)" % (p.stdout, p.stderr))
        p = creditctl("collect", "--no-such-option", check_rc=False)
        eq(p.returncode, 2, "a usage error: exit 2 (%s%s)" % (p.stdout, p.stderr))
        # The real thing: a debt of this month is collected now, once.
        p = creditctl("collect", "--account", acct)
        pis = payg_intents(acct)
        eq(len(pis), 1, "one PaymentIntent: %r" % pis)
        eq(p.stdout.strip(), "%s %s 4501 charged %s" % (acct, period, pis[0]["id"]), "what it charged")
        eq((pis[0]["amount"], pis[0]["metadata"].get("period")), (4501, period), "the PaymentIntent")
        eq(keys_sent(acct), ["payg-%s-%s-%s-1" % (key_salt(), acct, period)], "its key")
        eq(acct_get(acct)["balance_micros"], 4501 * RATE - debt, "credited")
        p = creditctl("collect", "--account", acct)
        eq(p.stdout.strip(), "nothing to collect", "not twice for a period")
        eq(len(pi_requests(acct)), 1, "nothing more sent")
        # A decline: exit 1, and the account suspended.
        payment_mode("decline")
        p = creditctl("collect", "--account", declines, check_rc=False)
        payment_mode("ok")
        eq(p.returncode, 1, "a declined charge: exit 1 (%s%s)" % (p.stdout, p.stderr))
        check(p.stdout.strip().startswith("%s %s 1000 declined: " % (declines, period)), "says so: %s" % p.stdout)
        a = acct_get(declines)
        eq((a["status"], field(a, "status_reason")), ("suspended", "payment_failed"), "suspended")
    finally:
        restore(acct, declines)
    verify()


def test_guard_calls_during_the_collection_keep_the_ledger_exact():
    ok_mode()
    payment_mode("ok")
    acct, _ = payg_account(20000000, "paygrace")
    start_balance = acct_get(acct)["balance_micros"]
    month, period = next_month(clock_now())
    charged = []
    statuses = []
    lock = threading.Lock()
    stop = threading.Event()

    def work(i):
        if i == 0:
            try:
                at(month + 5)
                wait_until(lambda: len(payment_credits(acct)) >= 1, timeout=15)
                time.sleep(1.0)           # a little more traffic after the credit
            finally:
                stop.set()
            return
        n = 0
        while not stop.is_set() and n < 200:
            n += 1
            r = authorize(acct)
            with lock:
                statuses.append(r.status)
            if r.status != 200:
                continue
            s = settle(r.json["hold_id"], 1000, 500)
            with lock:
                statuses.append(s.status)
                if s.status == 200:
                    charged.append(s.json["charged_micros"])

    try:
        parallel(9, work)
        check(statuses and all(s == 200 for s in statuses), "every guard call served: %r" % sorted(set(statuses)))
        check(len(charged) >= 20, "traffic during the collection: %d charges" % len(charged))
        eq(set(charged), {C}, "each charge the request's cost")
        credits = payment_credits(acct)
        eq(len(credits), 1, "one payment grant: %r" % credits)
        credited = credits[0][0]
        pis = payg_intents(acct)
        eq(len(pis), 1, "one PaymentIntent: %r" % pis)
        eq((credited, pis[0]["metadata"].get("period")), (pis[0]["amount"] * RATE, period),
           "credited what was charged")
        check(20000000 <= credited < 20000000 + len(charged) * C + RATE,
              "the debt at the sweep, rounded up: %d" % credited)
        eq(acct_get(acct)["balance_micros"], start_balance - sum(charged) + credited,
           "balance = start - charges + the collection")
        eq(acct_get(acct)["reserved_micros"], 0, "no hold left")
    finally:
        restore(acct)
    verify()


def test_december_s_debt_is_collected_in_january():
    """Last: the clock goes furthest here (the other tests stay in the next month)."""
    ok_mode()
    payment_mode("ok")
    acct, _ = payg_account(7500000)                    # 7.50 EUR: whole cents, nothing to round
    start, period = next_january(clock_now())
    check(period.endswith("-12"), "a December")
    try:
        at(start + 5)
        check(wait_until(lambda: len(payg_intents(acct)) == 1 and acct_get(acct)["balance_micros"] == 0, timeout=10),
              "collected on January 1st: %r" % intents(acct))
        pi = payg_intents(acct)[0]
        eq((pi["amount"], pi["metadata"].get("period")), (750, period), "December's debt, period %s" % period)
        eq(keys_sent(acct), ["payg-%s-%s-%s-1" % (key_salt(), acct, period)], "the key names December")
        eq(collection(acct)["period"], period, "the collection's period")
        eq(events_of(acct, "payg.collected")[0].get("period"), period, "the event's period")
    finally:
        restore(acct)
    verify()
