"""test_30_stripe_later.py: Stripe, continued from test_30_stripe.py
(whose helpers and fake it uses): refunds of top-ups, subscriptions'
invoices and plan changes, Stripe down or slow, a top-up's
Idempotency-Key, a credit written by one call of the one writer, and
the ledger verified at the end."""
import json
import secrets
import time

import lib
from lib import Fail, api, check, eq, new_account, procedure_from, sql
from test_30_stripe import (RATE, acct_path, attempts, balance, charge_event, checkout_event, deliver, delivered,
    event, event_rows, expect_upstream, fake, fake_mode, fake_requests, give_customer, invoice_event, last_seq,
    ok_mode, one, open_session, pending_without_session, quoted, refunds, session, snapshot, subscription_event,
    topup, verify)


# ---- refunds ----

def test_partial_then_full_refund_never_beyond_the_topup():
    ok_mode()
    acct = new_account("refund")
    sid = open_session(acct, 2000)
    delivered(checkout_event(sid))
    pi = session(sid)["payment_intent"]
    credited = balance(acct)
    charge = "ch_" + secrets.token_hex(12)
    delivered(charge_event(pi, acct, 500, charge=charge))
    eq(balance(acct), credited - 500 * RATE, "partial refund")
    got = refunds(acct)
    eq([(t["amount_micros"], t["reference"]) for t in got], [(-500 * RATE, charge)], "one refund entry")
    delivered(charge_event(pi, acct, 500, charge=charge))
    eq(balance(acct), credited - 500 * RATE, "the same cumulative amount again: nothing more")
    delivered(charge_event(pi, acct, 2000, charge=charge))
    eq(balance(acct), credited - 2000 * RATE, "full refund: the rest")
    eq([t["amount_micros"] for t in refunds(acct)], [-1500 * RATE, -500 * RATE], "two refund entries")
    delivered(charge_event(pi, acct, 5000, amount=5000, charge=charge))
    eq(balance(acct), credited - 2000 * RATE, "never beyond the top-up")
    eq(one("SELECT CONCAT(refunded_cents, '/', refunded_micros) FROM topups WHERE session_id = %s" % quoted(sid)),
       "5000/%d" % (2000 * RATE), "refund recorded on the top-up")
    snap = snapshot(acct)
    delivered(charge_event("pi_" + secrets.token_hex(12), acct, 100))
    after = snapshot(acct)
    after["events"] -= 1
    eq(after, snap, "a refund of an unknown payment changes nothing")
    verify()


def test_a_top_up_row_edited_beyond_its_credit_is_refused_not_asserted():
    """The refund and dispute rules assert that refunds and disputes never
    take back more than was credited; a top-up row edited by hand past
    that is refused where it is read (a 500 naming nothing, logged, Stripe
    retries), never an assertion that stops creditd. Put back, the same
    event credits its refund."""
    ok_mode()
    acct = new_account("refund-bad-row")
    sid = open_session(acct, 2000)
    delivered(checkout_event(sid))
    pi = session(sid)["payment_intent"]
    credited = balance(acct)
    sql("UPDATE topups SET refunded_micros = credited_micros + 1 WHERE session_id = %s" % quoted(sid))
    snap = snapshot(acct)
    ev = charge_event(pi, acct, 500)
    r = deliver(ev)
    eq(r.status, 500, "a refund over a row out of range: %r" % r)
    eq(api("GET", "/healthz", auth=None).status, 200, "creditd still serves")
    eq(snapshot(acct), snap, "nothing changed")
    sql("UPDATE topups SET refunded_micros = 0 WHERE session_id = %s" % quoted(sid))
    delivered(ev)
    eq(balance(acct), credited - 500 * RATE, "the row put back, the same event refunds")
    verify()


def test_refunds_take_back_the_paid_share_when_tax_was_charged():
    ok_mode()
    acct = new_account("refundtax")
    sid = open_session(acct, 2000)
    delivered(checkout_event(sid, amount_total=2400, total_details={"amount_discount": 0, "amount_shipping": 0,
                                                                      "amount_tax": 400}))
    pi = session(sid)["payment_intent"]
    credited = balance(acct)
    charge = "ch_" + secrets.token_hex(12)
    delivered(charge_event(pi, acct, 600, amount=2400, charge=charge))
    eq(balance(acct), credited - 2000 * RATE // 4, "a quarter of the charge refunded: a quarter of the credit")
    delivered(charge_event(pi, acct, 2400, amount=2400, charge=charge))
    eq(balance(acct), credited - 2000 * RATE, "a full refund takes back exactly the credit")
    eq([t["amount_micros"] for t in refunds(acct)], [-1500 * RATE, -500 * RATE], "two refund entries")


def test_refund_before_the_credit_and_of_an_uncredited_topup():
    ok_mode()
    acct = new_account("refund2")
    sid = open_session(acct, 1000)
    pi = session(sid)["payment_intent"]
    snap = snapshot(acct)
    delivered(charge_event(pi, acct, 1000, amount=1000))
    after = snapshot(acct)
    after["events"] -= 1
    eq(after, snap, "no refund of a top-up that was never credited")


def test_a_refund_that_came_before_its_top_up_s_credit_is_applied_with_it():
    # Stripe does not deliver in order: a charge.refunded can come while
    # the session's checkout.session.completed is still being retried. It
    # is kept (answered 200), then applied in the credit's transaction, as
    # if it came after it; once, whatever comes again.
    ok_mode()
    acct = new_account("refund3")
    base = balance(acct)
    sid = open_session(acct, 2000)
    pi = session(sid)["payment_intent"]
    charge = "ch_" + secrets.token_hex(12)
    early = charge_event(pi, acct, 500, amount=2000, charge=charge)
    r = delivered(early)
    check(r.json["outcome"].startswith("kept"), "kept for its credit: %r" % r.json)
    eq(balance(acct), base, "nothing to take back yet")
    delivered(checkout_event(sid))
    eq(balance(acct), base + 2000 * RATE - 500 * RATE, "credited, and the quarter refunded taken back with it")
    eq([t["amount_micros"] for t in refunds(acct)], [-500 * RATE], "one refund entry")
    eq(sql("SELECT COUNT(*) FROM refunds_waiting WHERE charge_id = '%s'" % charge), [["0"]], "no longer waiting")
    delivered(early)
    delivered(checkout_event(sid))
    eq(balance(acct), base + 1500 * RATE, "the same refund and the same credit again change nothing")
    delivered(charge_event(pi, acct, 2000, amount=2000, charge=charge))
    eq(balance(acct), base, "the rest refunded later takes back the rest")
    verify()


# ---- subscriptions -------------------------------------------------------------------------


def test_invoice_paid_for_a_subscription_grants_plan_credit():
    ok_mode()
    acct = new_account("plan")
    customer = give_customer(acct)
    base = balance(acct)
    sub = "sub_" + secrets.token_hex(10)
    end = int(time.time()) + 30 * 86400
    r = delivered(invoice_event(customer, sub, 1900, end))
    eq(balance(acct), base + 1900 * RATE, "plan credit for the period")
    r = api("GET", acct_path(acct), auth="read")
    plans = [g for g in r.json["grants"] if g["source"] == "plan"]
    eq(len(plans), 1, "one plan grant")
    eq(plans[0]["remaining_micros"], 1900 * RATE, "plan grant amount")
    eq(plans[0]["expires_at"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)), "expires at period end")
    ev = invoice_event(customer, sub, 1900, end)
    delivered(ev)
    delivered(ev)
    eq(balance(acct), base + 2 * 1900 * RATE, "a second invoice credits once")
    other = new_account("plan2")
    obase = balance(other)
    delivered(invoice_event("cus_unknown" + secrets.token_hex(4), "sub_" + secrets.token_hex(8), 900, end,
                            account=other))
    eq(balance(other), obase + 900 * RATE, "metadata.account names the account")
    snap = snapshot(acct)
    usd = invoice_event(customer, sub, 900, end)
    usd["data"]["object"]["currency"] = "usd"
    delivered(usd)
    delivered(invoice_event(customer, sub, 900, int(time.time()) - 60))
    delivered(invoice_event("cus_nobody" + secrets.token_hex(6), "sub_" + secrets.token_hex(8), 900, end))
    noone = dict(invoice_event(customer, sub, 900, end))
    noone["data"]["object"]["subscription"] = None
    noone["data"]["object"]["lines"]["data"][0]["subscription"] = None
    delivered(noone)
    after = snapshot(acct)
    after["events"] -= 4
    eq(after, snap, "a USD invoice, a period already over, an unknown customer or a one-off invoice: nothing")
    verify()


def test_an_invoice_credits_once_whatever_events_name_it():
    """A price in no plan: the invoice's amount paid, once per invoice. The
    same invoice under a second event id (Stripe's manual resend, or a
    delivery after the first event's id was purged by retention) is a
    duplicate: nothing more credited, the answer says so; the grant and its
    journal row name the invoice, and invoice_credits (migration 026)
    refuses a second credit of it in any account; verify keeps each row
    and its grant together. An invoice event without its id is refused."""
    ok_mode()
    acct = new_account("inv-once")
    customer = give_customer(acct)
    sub = "sub_" + secrets.token_hex(10)
    end = int(time.time()) + 30 * 86400
    base = balance(acct)
    first = invoice_event(customer, sub, 700, end)
    inv = first["data"]["object"]["id"]
    r = delivered(first)
    eq(r.json["outcome"], "plan credited", "the first event credits")
    eq(balance(acct), base + 700 * RATE, "credited once")
    snap = snapshot(acct)
    again = event("invoice.paid", json.loads(json.dumps(first["data"]["object"])))
    check(again["id"] != first["id"], "a second event id")
    r = delivered(again)
    eq(r.json["outcome"], "duplicate: invoice credited already", "the answer says why")
    after = snapshot(acct)
    after["events"] -= 1
    eq(after, snap, "the same invoice again: nothing")
    sql("DELETE FROM stripe_events WHERE event_id = '%s'" % first["id"])
    eq(delivered(first).json["outcome"], "duplicate: invoice credited already", "its event id purged: still once")
    eq(balance(acct), base + 700 * RATE, "still credited once")
    rows = api("GET", acct_path(acct) + "/transactions?limit=5", auth="read").json["data"]
    eq([(t["source"], t["reference"]) for t in rows if t["cause"] == "grant" and t["source"] == "plan"],
       [("plan", inv)], "the journal names the invoice")
    delivered(invoice_event(customer, sub, 700, end))
    eq(balance(acct), base + 2 * 700 * RATE, "another invoice of the subscription credits")
    eq(sql("SELECT g.reference, g.amount_micros FROM grants g JOIN invoice_credits ic ON ic.grant_id = g.id "
           "JOIN accounts a ON a.id = g.account_id WHERE a.ext_id = %s AND ic.invoice_id = '%s'" % (quoted(acct), inv)),
       [[inv, str(700 * RATE)]], "the invoice's row names its grant, which names the invoice")
    # The database holds one credit an invoice, whatever the account.
    other = new_account("inv-other")
    try:
        sql("INSERT INTO invoice_credits (invoice_id, account_id, grant_id, created_at) "
            "SELECT '%s', id, 0, 0 FROM accounts WHERE ext_id = %s" % (inv, quoted(other)))
        refused = ""
    except Fail as e:
        refused = str(e)
    check("Duplicate" in refused, "a second credit of the invoice is refused: %r" % refused)
    # verify: a row and its grant go together.
    cols = ("account_id, grant_id, created_at, id, payment_intent, charge_id, paid_cents, currency, credited_micros, "
            "refunded_cents, refunded_micros, disputed_micros")
    sql("CREATE TABLE t30_invoice_row AS SELECT * FROM invoice_credits WHERE invoice_id = '%s'" % inv)
    sql("DELETE FROM invoice_credits WHERE invoice_id = '%s'" % inv)
    try:
        p = lib.creditctl("verify", check_rc=False)
    finally:
        sql("INSERT INTO invoice_credits (invoice_id, %s) SELECT invoice_id, %s FROM t30_invoice_row" % (cols, cols))
        sql("DROP TABLE t30_invoice_row")
    row = sql("SELECT account_id FROM invoice_credits WHERE invoice_id = '%s'" % inv)[0]
    eq(p.returncode, 1, "verify fails on an invoice grant without its row")
    check(any(acct in line and inv in line for line in p.stdout.splitlines()), "names both: %s" % p.stdout)
    bogus = "in_t30_nogrant_" + secrets.token_hex(4)
    sql("INSERT INTO invoice_credits (invoice_id, account_id, grant_id, created_at) VALUES ('%s', %s, 0, 0)"
        % (bogus, row[0]))
    try:
        p = lib.creditctl("verify", check_rc=False)
    finally:
        sql("DELETE FROM invoice_credits WHERE invoice_id = '%s'" % bogus)
    eq(p.returncode, 1, "verify fails on an invoice row without its grant")
    check(any(acct in line and bogus in line for line in p.stdout.splitlines()), "names it: %s" % p.stdout)
    # An invoice event without its id is refused, naming the field.
    snap = snapshot(acct)
    bare = invoice_event(customer, sub, 700, end)
    del bare["data"]["object"]["id"]
    r = deliver(bare)
    eq(r.status, 400, "an invoice without data.object.id")
    check("data.object.id" in r.json["error"]["message"], "the message names it: %r" % r.json)
    eq(snapshot(acct), snap, "nothing changed")
    verify()


def test_an_invoice_above_the_largest_grant_credits_nothing():
    """DESIGN §10: one grant is at most 10^12 micros. An invoice of a price in
    no catalogued plan credits amount_paid at the top-up rate; above the cap
    it credits nothing, is acknowledged (a retry would change nothing) and
    logged."""
    ok_mode()
    acct = new_account("bigplan")
    customer = give_customer(acct)
    sub = "sub_" + secrets.token_hex(10)
    end = int(time.time()) + 30 * 86400
    price = "price_none_" + secrets.token_hex(4)
    cap_cents = 10 ** 12 // RATE
    snap = snapshot(acct)
    ev = invoice_event(customer, sub, cap_cents + 1, end, price=price)
    r = delivered(ev)
    check(r.json["outcome"].startswith("not credited"), "the answer says why: %r" % r.json)
    after = snapshot(acct)
    after["events"] -= 1
    eq(after, snap, "an invoice above the cap: nothing credited")
    eq(event_rows(ev["id"]), 1, "the event is recorded as seen")
    delivered(invoice_event(customer, sub, cap_cents, end, price=price))
    eq(balance(acct), snap["balance"] + 10 ** 12, "an invoice at the cap is credited")
    verify()


def test_subscription_updated_and_deleted_set_and_clear_the_plan():
    ok_mode()
    acct = new_account("subs")
    customer = give_customer(acct)
    sub = "sub_" + secrets.token_hex(10)
    r = api("GET", acct_path(acct), auth="read")
    eq(r.json["plan"], None, "no plan at first")
    delivered(subscription_event("customer.subscription.updated", customer, sub, plan="price_team"))
    eq(api("GET", acct_path(acct), auth="read").json["plan"], "price_team", "plan set from the customer")
    delivered(subscription_event("customer.subscription.updated", customer, sub, plan="price_pro"))
    eq(api("GET", acct_path(acct), auth="read").json["plan"], "price_pro", "plan changed")
    eq(sql("SELECT plan, status FROM subscriptions WHERE subscription_id = %s" % quoted(sub)),
       [["price_pro", "active"]], "subscription stored")
    delivered(subscription_event("customer.subscription.deleted", customer, sub, plan="price_pro", status="canceled"))
    eq(api("GET", acct_path(acct), auth="read").json["plan"], None, "plan cleared")
    other = new_account("subs2")
    delivered(subscription_event("customer.subscription.updated", "cus_x" + secrets.token_hex(6),
                                 "sub_" + secrets.token_hex(8), plan="price_team", account=other))
    eq(api("GET", acct_path(other), auth="read").json["plan"], "price_team", "metadata.account names the account")
    r = delivered(subscription_event("customer.subscription.updated", "cus_none" + secrets.token_hex(6),
                                     "sub_" + secrets.token_hex(8)))
    eq(r.status, 200, "unknown customer: 200")


def test_an_older_subscription_event_does_not_undo_a_newer_one():
    ok_mode()
    acct = new_account("order")
    customer = give_customer(acct)
    sub = "sub_" + secrets.token_hex(10)
    now = int(time.time())
    updated = subscription_event("customer.subscription.updated", customer, sub, plan="price_team")
    updated["created"] = now - 60
    deleted = subscription_event("customer.subscription.deleted", customer, sub, plan="price_team",
                                 status="canceled")
    deleted["created"] = now - 30
    delivered(deleted)
    eq(api("GET", acct_path(acct), auth="read").json["plan"], None, "deleted first: no plan")
    r = delivered(updated)
    eq(r.json["outcome"], "ignored: older than the subscription's last event", "the late update is ignored")
    eq(api("GET", acct_path(acct), auth="read").json["plan"], None, "still no plan")
    eq(sql("SELECT status FROM subscriptions WHERE subscription_id = %s" % quoted(sub)), [["canceled"]],
       "the subscription stays canceled")


def test_moving_to_a_new_subscription_keeps_its_plan():
    ok_mode()
    acct = new_account("move")
    customer = give_customer(acct)
    old, new = "sub_" + secrets.token_hex(10), "sub_" + secrets.token_hex(10)

    def plan():
        return api("GET", acct_path(acct), auth="read").json["plan"]

    delivered(subscription_event("customer.subscription.updated", customer, old, plan="price_basic"))
    eq(plan(), "price_basic", "first subscription")
    delivered(subscription_event("customer.subscription.updated", customer, new, plan="price_pro"))
    eq(plan(), "price_pro", "the new subscription's plan")
    delivered(subscription_event("customer.subscription.deleted", customer, old, plan="price_basic",
                                 status="canceled"))
    eq(plan(), "price_pro", "cancelling the old subscription keeps the new plan")
    delivered(subscription_event("customer.subscription.updated", customer, new, plan="price_pro", status="unpaid"))
    eq(plan(), None, "an unpaid (lapsed) subscription gives no plan")
    delivered(subscription_event("customer.subscription.updated", customer, new, plan="price_pro"))
    eq(plan(), "price_pro", "paid again")
    delivered(subscription_event("customer.subscription.deleted", customer, new, plan="price_pro",
                                 status="canceled"))
    eq(plan(), None, "no subscription left: no plan")


# ---- Stripe down or slow ------------------------------------------------------------------


def test_stripe_down_or_slow_is_502_and_leaves_nothing_pending():
    ok_mode()
    acct = new_account("down")
    fresh = new_account("down2")
    try:
        fake_mode("fail500")
        expect_upstream(acct, "500 on the customer", 3, "An unknown error occurred")
        fake_mode("close")
        expect_upstream(acct, "closed connection", 3)
        fake_mode("garbage")
        expect_upstream(acct, "not JSON", 3)
        eq(one("SELECT IFNULL(stripe_customer_id, '-') FROM accounts WHERE ext_id = %s" % quoted(acct)), "-",
           "no customer stored")
        ok_mode()
        open_session(acct, 500)           # the account has its customer now
        fake_mode("fail500", count=1)
        expect_upstream(acct, "500 on the session", 3, "An unknown error occurred")
        fake_mode("close")
        expect_upstream(acct, "closed on the session", 3)
        # A kept-alive connection Stripe drops before answering is tried
        # again by libcurl (a fresh one is not): the idempotency key makes
        # that safe, same key and one session; else it is a 502.
        fake_mode("close", count=1)
        seq = last_seq()
        r = topup(acct, 700)
        tries = fake_requests("/v1/checkout/sessions", since=seq)
        if r.status == 200:
            eq([t["status"] for t in tries], [0, 200], "dropped, then answered")
            eq(tries[0]["headers"]["idempotency-key"], tries[1]["headers"]["idempotency-key"], "the same key")
            eq(fake("GET", "/_sessions/" + r.json["session_id"])["_idempotency_key"],
               tries[0]["headers"]["idempotency-key"], "the session of that key")
        else:
            eq((r.status, [t["status"] for t in tries]), (502, [0]), "dropped once: %r" % r)
        recorded = 2 if r.status == 200 else 1
        fake_mode("slow", delay_seconds=5)
        expect_upstream(acct, "slow session", 4.5)
        expect_upstream(fresh, "slow customer", 4.5)
        ok_mode()
    finally:
        ok_mode()
    eq(pending_without_session(), 0, "no pending top-up without a session")
    eq(attempts(acct), {"pending": recorded, "failed": 8 - recorded},
       "every attempt is recorded, those that opened no session failed")
    eq(open_session(fresh, 600).startswith("cs_"), True, "a later top-up works")
    verify()


def test_topup_idempotency_key():
    ok_mode()
    acct = new_account("idem")
    key = "topup-" + secrets.token_hex(8)
    r1 = api("POST", acct_path(acct, "/topup"), {"amount_cents": 1000}, auth="app", headers={"Idempotency-Key": key})
    r2 = api("POST", acct_path(acct, "/topup"), {"amount_cents": 1000}, auth="app", headers={"Idempotency-Key": key})
    eq((r1.status, r2.status), (200, 200), "same key, same body")
    eq(r2.json["session_id"], r1.json["session_id"], "the same session comes back")
    r3 = api("POST", acct_path(acct, "/topup"), {"amount_cents": 1000}, auth="app",
             headers={"Idempotency-Key": "topup-" + secrets.token_hex(8)})
    eq(r3.status, 200, "another key")
    check(r3.json["session_id"] != r1.json["session_id"], "another key is another top-up")
    r4 = topup(acct, 1000)
    check(r4.json["session_id"] not in (r1.json["session_id"], r3.json["session_id"]), "no key: a new top-up")
    r5 = api("POST", acct_path(acct, "/topup"), {"amount_cents": 2000}, auth="app", headers={"Idempotency-Key": key})
    eq(r5.status, 409, "same key, another body: %r" % r5)
    eq(int(one("SELECT COUNT(*) FROM topups t JOIN accounts a ON a.id = t.account_id WHERE a.ext_id = %s"
               % quoted(acct))), 3, "three top-ups recorded")
    eq(pending_without_session(), 0, "no pending top-up without a session")


# ---- a credit in one write ----

def procedure_calls():
    """The database server's procedure CALLs so far (MariaDB's
    Com_call_procedure): every call of the one writer is one."""
    return int(sql("SHOW GLOBAL STATUS LIKE 'Com_call_procedure'")[0][1])


def credited_in_calls(acct, cents):
    """A top-up of acct credited: its session and the procedure CALLs its
    webhook made."""
    sid = open_session(acct, cents)
    ev = checkout_event(sid)
    before = procedure_calls()
    r = delivered(ev)
    calls = procedure_calls() - before
    eq(r.json.get("outcome"), "credited", "outcome")
    return sid, calls


def events_of(acct, after=0):
    """acct's outbox rows after id `after`: (type, data as stored)."""
    return sql("SELECT e.type, e.data FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id = %s "
               "AND e.id > %d ORDER BY e.id" % (quoted(acct), after))


def test_a_credit_is_one_writer_call_and_its_event_names_its_grant():
    """docs/architecture.md, "How far each operation is from one shape":
    the grant, its journal row, topup.succeeded and the account in one
    CALL of the one writer (three before: the grant, the event, the
    account); the event names the grant the journal row names (sql/083),
    in the sorted compact text every event is stored in."""
    ok_mode()
    acct = new_account("onew")
    sid, calls = credited_in_calls(acct, 1500)
    eq(calls, 1, "the credit's procedure CALLs")
    grant = one("SELECT grant_id FROM journal WHERE reference = %s" % quoted(sid))
    eq(sql("SELECT source, amount_micros, reference FROM grants WHERE id = %s" % grant),
       [["topup", str(1500 * RATE), sid]], "the journal row's grant, made by the credit")
    eq(one("SELECT grant_id FROM topups WHERE session_id = %s" % quoted(sid)), grant, "the record's grant")
    told = [d for t, d in events_of(acct) if t == "topup.succeeded"]
    eq(len(told), 1, "one topup.succeeded")
    want = {"amount_cents": 1500, "amount_micros": 1500 * RATE, "grant_id": "grant_" + grant, "session": sid}
    eq(told[0], json.dumps(want, sort_keys=True, separators=(",", ":")), "its data, naming the grant")
    verify()


def test_a_credit_that_pays_a_debt_writes_its_notices_in_the_same_call():
    """A credit that pays a debt, ends a suspension for a failed payment,
    arms a threshold alert and balance.low again: the notices and the
    states decided on the balance after it, written by the credit's one
    CALL (five before), the events in the order they always had."""
    ok_mode()
    acct = new_account("onewd")
    eq(api("PATCH", acct_path(acct), {"overdraft_limit_micros": 10 ** 8, "low_balance_micros": 5 * 10 ** 6}).status,
       200, "overdraft and low balance set")
    eq(api("POST", acct_path(acct, "/debits"), {"amount_micros": balance(acct) + 2 * 10 ** 6,
                                                "reason": "test: into debt"}).status, 201, "debit into debt")
    eq(balance(acct), -2 * 10 ** 6, "in debt")
    eq(api("PUT", acct_path(acct, "/alerts"), {"alerts": [{"kind": "balance_below", "micros": 10 ** 8}]}).status,
       200, "an alert, past its threshold already")
    check(int(one("SELECT l.fired_key FROM alerts l JOIN accounts a ON a.id = l.account_id WHERE a.ext_id = %s"
                  % quoted(acct))) != 0, "the alert told")
    sql("UPDATE accounts SET status = 'suspended', status_reason = 'payment_failed' WHERE ext_id = %s" % quoted(acct))
    start = int(one("SELECT COALESCE(MAX(id), 0) FROM events"))
    sid, calls = credited_in_calls(acct, 1500)
    eq(calls, 1, "the credit's procedure CALLs, its notices and the alert's state with it")
    after = 1500 * RATE - 2 * 10 ** 6
    eq(balance(acct), after, "the debt repaid first")
    got = events_of(acct, start)
    eq([t for t, _ in got], ["topup.succeeded", "payg.recovered"], "the events, in their order")
    eq(json.loads(got[1][1]), {"reason": "payment_failed", "balance_micros": after}, "payg.recovered's data")
    eq(sql("SELECT a.status, IFNULL(a.status_reason, '-'), a.low_noted, l.fired_key FROM accounts a "
           "JOIN alerts l ON l.account_id = a.id WHERE a.ext_id = %s" % quoted(acct)),
       [["active", "-", "0", "0"]], "active again; balance.low and the alert armed again")
    verify()


def test_a_creditd_of_083_refuses_a_credit_until_the_migration_runs():
    """docs/operations.md, 083: against 082's writer, which reads four
    elements of an event row, this creditd's credit is refused whole (its
    topup.succeeded carries its data where 082 reads none: data is NOT
    NULL), never stored without its grant; Stripe's next delivery, once
    migrated, credits it."""
    ok_mode()
    acct = new_account("onew82")
    sid = open_session(acct, 1200)
    ev = checkout_event(sid)
    before = balance(acct)
    procedure_from("082_write_versions_kept.sql", "cd_write2")
    try:
        r = deliver(ev)
        check(r.status >= 500, "refused against 082's writer: %r" % r)
    finally:
        procedure_from("083_write_event_grant.sql", "cd_write2")
    eq(balance(acct), before, "nothing credited")
    eq([t for t, _ in events_of(acct) if t == "topup.succeeded"], [], "no event")
    eq(one("SELECT status FROM topups WHERE session_id = %s" % quoted(sid)), "pending", "the record waits")
    eq(delivered(ev).json.get("outcome"), "credited", "Stripe's next delivery, migrated")
    grant = one("SELECT grant_id FROM topups WHERE session_id = %s" % quoted(sid))
    eq([json.loads(d)["grant_id"] for t, d in events_of(acct) if t == "topup.succeeded"], ["grant_" + grant],
       "its event names its grant")
    verify()


def test_ledger_verifies_clean():
    verify()
