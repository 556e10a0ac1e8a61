"""test_89_referrals.py: referral credits (docs/growth.md, "Referrals").

An account's code is stable and its own; an account created with it is
referred by its owner (any case), one created with a code no account has
is refused 400 param referral_code and not created, an account cannot
refer itself, and a creation replayed answers as before. The referred
account's first Checkout top-up, credited by a signed
checkout.session.completed, gives both accounts a grant of source
referral expiring [referral] expires_days later, with one
referral.rewarded event, once: not at a promo redemption or an admin
grant before it, not while the payment is still pending, not at a second
top-up, not twice for a webhook delivered twice (one after the other or
twenty at once). A referrer past [referral] max_per_referrer_per_month
gets nothing more that month while its referred accounts still get
theirs. A refund (charge.refunded) or a dispute (charge.dispute.created)
of that top-up takes both grants' remainders back, once, and so does a
dispute that came before the credit. creditctl verify finds nothing after
each. With [referral] hold_days (creditd restarted with 14, the test
clock moved on) the reward waits: nothing at the credit, granted by the
sweep 14 days after it, and a refund or a dispute of that top-up within
those days cancels it, the referrer never getting it; the other tests run
with the stack's hold_days 0, as before.

The stack's [referral] (devtools/stack.sh) is read from its config file.
"""
import configparser
import json
import os
import re
import secrets
import urllib.parse

import lib
import stack
from lib import ENV, api, check, clock_now, clock_reset, clock_set, creditctl, eq, new_account, parallel, sql, uid, verify
from test_30_stripe import (RATE, balance, charge_event, checkout_event, delivered, journal, ok_mode,
                            open_session, post_payload, session, sign)
from test_31_stripe_trust import dispute_event, last_event_id, outbox

CODE = re.compile(r"^[0-9a-hjkmnp-tv-z]{10}$")


def referral_config():
    c = configparser.ConfigParser(strict=False, interpolation=None)
    with open(ENV["CREDITD_CONFIG"]) as f:
        c.read_string(f.read())
    s = c["referral"]
    return (int(s["referrer_micros"]), int(s["referred_micros"]), int(s["expires_days"]),
            int(s["max_per_referrer_per_month"]))


REFERRER, REFERRED, DAYS, CAP = referral_config()


def path(acct, tail=""):
    return "/v1/accounts/" + urllib.parse.quote(acct, safe="") + tail


def code_of(acct, auth="app"):
    r = api("GET", path(acct, "/referral_code"), auth=auth)
    eq(r.status, 200, "referral_code: %r" % r)
    return r.json["code"]


def create(acct, code, **kw):
    body = {"id": acct, "kind": "user", "referral_code": code}
    body.update(kw.pop("body", {}))
    return api("POST", "/v1/accounts", body, **kw)


def referred_by(referrer):
    """A new account created with referrer's code."""
    acct = uid("ref-b")
    r = create(acct, code_of(referrer))
    eq(r.status, 201, "created with a referral code: %r" % r)
    return acct


def referral_grants(acct):
    """The account's grants of source referral, live or not: (amount, remaining, expires_at)."""
    return [(int(r[0]), int(r[1]), None if r[2] == "NULL" else int(r[2])) for r in sql(
        "SELECT g.amount_micros, g.remaining_micros, IFNULL(g.expires_at, 'NULL') FROM grants g "
        "JOIN accounts a ON a.id = g.account_id WHERE a.ext_id = '%s' AND g.source = 'referral' ORDER BY g.id"
        % acct)]


def rewarded(after, referred):
    return [e for e in outbox(etype="referral.rewarded", after=after) if e[3]["referred"] == referred]


def settled(referred):
    rows = sql("SELECT r.settled_at IS NOT NULL FROM referrals r JOIN accounts a ON a.id = r.referred_id "
               "WHERE a.ext_id = '%s'" % referred)
    return None if not rows else rows[0][0] == "1"


def paid_topup(acct, cents=1000):
    """A Checkout top-up of the account, paid: (session id, the event delivered)."""
    sid = open_session(acct, cents)
    ev = checkout_event(sid)
    r = delivered(ev)
    eq(r.json.get("outcome"), "credited", "credited: %r" % r.json)
    return sid, ev


def taken_back(acct, cause):
    return [t for t in journal(acct) if t["cause"] == cause and t["source"] == "referral"]


def test_the_code_is_stable_and_an_accounts_own():
    a, b = new_account("ref-a"), new_account("ref-a")
    first = code_of(a)
    check(CODE.match(first), "10 URL-safe characters: %r" % first)
    eq(code_of(a), first, "asked again: the same code")
    eq(code_of(a, auth="admin"), first, "an admin key may ask too, and gets the same")
    check(code_of(b) != first, "another account has another code")
    eq(sql("SELECT COUNT(*) FROM referral_codes c JOIN accounts x ON x.id = c.account_id "
           "WHERE x.ext_id = '%s'" % a), [["1"]], "one code row an account")
    r = api("GET", path(a, "/referral_code"), auth="read")
    eq(r.status, 403, "a read key does not make codes: %r" % r)
    r = api("GET", path(uid("ref-none"), "/referral_code"), auth="app")
    eq(r.status, 404, "an unknown account: %r" % r)
    # Twenty first asks at once make one code.
    c = new_account("ref-a")
    codes = parallel(20, lambda i: api("GET", path(c, "/referral_code"), auth="app"))
    check(all(r.status == 200 for r in codes), "every ask answered: %r" % codes)
    eq(len({r.json["code"] for r in codes}), 1, "one code for concurrent first asks")


def test_creation_with_a_code_unknown_codes_and_replays():
    a = new_account("ref-a")
    code = code_of(a)
    b = uid("ref-b")
    r = create(b, code.upper())
    eq(r.status, 201, "created with the code in upper case: %r" % r)
    eq(sql("SELECT x.ext_id FROM referrals r JOIN accounts x ON x.id = r.referrer_id JOIN accounts y "
           "ON y.id = r.referred_id WHERE y.ext_id = '%s'" % b), [[a]], "referred by the code's owner")
    eq(create(b, code).status, 200, "the same creation again (the code in any case): 200")
    r = api("POST", "/v1/accounts", {"id": b, "kind": "user"})
    eq(r.status, 409, "the same id without the code: another body, 409: %r" % r)
    other = new_account("ref-a")
    eq(create(b, code_of(other)).status, 409, "a referral is only made at creation: another code is 409")
    # An unknown code: 400 naming the field, nothing created.
    c = uid("ref-c")
    r = create(c, "zzzzzzzzzz")
    eq((r.status, r.json["error"]["param"]), (400, "referral_code"), "unknown code: %r" % r)
    eq(api("GET", path(c), auth="read").status, 404, "nothing created")
    r = create(c, "")
    eq(r.status, 400, "an empty code: %r" % r)
    eq(api("GET", path(c), auth="read").status, 404, "nothing created")
    for bad in ("zzzzzzzzzzz", "zzzzzzzzz\u00e9", "zzzzzzzzz ", "ilou0ilou0"):
        r = create(c, bad)
        eq((r.status, r.json["error"]["param"]), (400, "referral_code"), "not a code's form %r: %r" % (bad, r))
    eq(api("GET", path(c), auth="read").status, 404, "nothing created")
    # An account cannot refer itself: its own code on its own id is 400, not 409.
    r = create(a, code)
    eq((r.status, r.json["error"]["param"]), (400, "referral_code"), "its own code: %r" % r)
    # A creation replayed by its Idempotency-Key answers as the first did.
    d, key = uid("ref-d"), "idem-" + secrets.token_hex(8)
    first = create(d, code, headers={"Idempotency-Key": key})
    eq(first.status, 201, "created: %r" % first)
    again = create(d, code, headers={"Idempotency-Key": key})
    eq((again.status, again.json), (201, first.json), "replayed as it was")
    r = create(d, code_of(other), headers={"Idempotency-Key": key})
    eq(r.status, 409, "the key with another code: %r" % r)
    eq(sql("SELECT COUNT(*) FROM referrals r JOIN accounts y ON y.id = r.referred_id WHERE y.ext_id = '%s'" % d),
       [["1"]], "one referral")
    verify()


def test_the_first_paid_topup_rewards_both_once():
    ok_mode()
    a = new_account("ref-a")
    b = referred_by(a)
    start = last_event_id()
    # Credits that are not a paid top-up settle nothing.
    promo = "REF-" + secrets.token_hex(5)
    eq(api("POST", "/v1/promo_codes", {"code": promo, "amount_micros": 1000000}).status, 201, "promo code")
    eq(api("POST", path(b, "/redeem"), {"code": promo}, auth="app").status, 201, "redeemed")
    eq(api("POST", path(b, "/grants"), {"amount_micros": 3000000, "source": "adjustment"}).status, 201, "grant")
    # A bank debit under way (paid later) settles nothing either.
    sid = open_session(b, 1000)
    r = delivered(checkout_event(sid, payment_status="unpaid"))
    check(r.json.get("outcome", "").startswith("pending"), "pending: %r" % r.json)
    eq((settled(b), referral_grants(a), referral_grants(b)), (False, [], []), "nothing before a paid top-up")
    a_before, b_before = balance(a), balance(b)
    now = lib.clock_now()
    ev = checkout_event(sid, etype="checkout.session.async_payment_succeeded")
    eq(delivered(ev).json.get("outcome"), "credited", "the payment came")
    ra, rb = referral_grants(a), referral_grants(b)
    eq([(g[0], g[1]) for g in ra], [(REFERRER, REFERRER)], "the referrer's grant")
    eq([(g[0], g[1]) for g in rb], [(REFERRED, REFERRED)], "the referred account's grant")
    for g in ra + rb:
        check(abs(g[2] - (now + DAYS * 86400)) <= 60, "expires %d days on: %r" % (DAYS, g))
    eq(balance(a), a_before + REFERRER, "the referrer's balance")
    eq(balance(b), b_before + 1000 * RATE + REFERRED, "the top-up and the referral")
    src = [g["source"] for g in lib.account(b)["grants"]]
    check("referral" in src, "the grant shows as referral: %r" % src)
    events = rewarded(start, b)
    eq(len(events), 1, "one referral.rewarded")
    eq(events[0][1], a, "the referrer's event")
    eq(events[0][3], {"referrer": a, "referred": b, "referrer_micros": REFERRER, "referred_micros": REFERRED,
                      "capped": False}, "its data")
    # The same event again, another event id for the session, a second top-up: nothing more.
    check(delivered(ev).json.get("outcome", "").startswith("duplicate"), "the same event again")
    r = delivered(checkout_event(sid))
    check(r.json.get("outcome", "").startswith("duplicate"), "another event of the session: %r" % r.json)
    paid_topup(b)
    eq((len(referral_grants(a)), len(referral_grants(b))), (1, 1), "once per referred account ever")
    eq(len(rewarded(start, b)), 1, "one event")
    verify()


def test_a_webhook_delivered_twenty_times_at_once_rewards_once():
    ok_mode()
    a = new_account("ref-a")
    b = referred_by(a)
    start = last_event_id()
    sid = open_session(b, 1500)
    same = json.dumps(checkout_event(sid))
    others = [json.dumps(checkout_event(sid)) for _ in range(10)]
    bodies = [same] * 10 + others
    results = parallel(20, lambda i: post_payload(bodies[i], sign(bodies[i])))
    check(all(r.status == 200 for r in results), "all acknowledged: %r" % results)
    eq([g[0] for g in referral_grants(a)], [REFERRER], "the referrer rewarded once")
    eq([g[0] for g in referral_grants(b)], [REFERRED], "the referred account rewarded once")
    eq(len(rewarded(start, b)), 1, "one event")
    verify()


def test_the_monthly_cap_leaves_the_referrer_out_not_the_referred():
    ok_mode()
    a = new_account("ref-a")
    start = last_event_id()
    referred = [referred_by(a) for _ in range(CAP + 1)]
    for b in referred:
        paid_topup(b, 800)
    eq([g[0] for g in referral_grants(a)], [REFERRER] * CAP, "the referrer rewarded %d times, no more" % CAP)
    for b in referred:
        eq([g[0] for g in referral_grants(b)], [REFERRED], "every referred account gets its own")
    capped = [rewarded(start, b)[0][3] for b in referred]
    eq([(e["referrer_micros"], e["capped"]) for e in capped], [(REFERRER, False)] * CAP + [(0, True)],
       "the last past the cap")
    verify()


def test_a_refund_takes_both_grants_remainders_back_once():
    ok_mode()
    a = new_account("ref-a")
    b = referred_by(a)
    sid, _ = paid_topup(b, 2000)
    pi = session(sid)["payment_intent"]
    # The referred account spends part of its grant (it expires first: spent first).
    spent = REFERRED // 4
    eq(api("POST", path(b, "/debits"), {"amount_micros": spent, "reason": "use"}).status, 201, "debit")
    eq(referral_grants(b)[0][1], REFERRED - spent, "the referral grant spent first")
    a_before, b_before = balance(a), balance(b)
    charge = "ch_" + secrets.token_hex(12)
    delivered(charge_event(pi, b, 500, charge=charge))
    eq(balance(a), a_before - REFERRER, "the referrer's grant taken back")
    eq(balance(b), b_before - 500 * RATE - (REFERRED - spent), "the refund and what was left of the grant")
    eq([t["amount_micros"] for t in taken_back(a, "refund")], [-REFERRER], "the referrer's journal: refund")
    eq([(t["amount_micros"], t["reference"]) for t in taken_back(b, "refund")], [(-(REFERRED - spent), charge)],
       "the referred account's journal: refund, naming the charge")
    eq([g[1] for g in referral_grants(a) + referral_grants(b)], [0, 0], "nothing left on either grant")
    delivered(charge_event(pi, b, 2000, charge=charge))
    eq(balance(a), a_before - REFERRER, "the full refund after: nothing more from the referrer")
    eq(len(taken_back(b, "refund")), 1, "nor from the referred account's grant")
    verify()


def test_a_dispute_takes_both_grants_back_once():
    ok_mode()
    a = new_account("ref-a")
    b = referred_by(a)
    sid, _ = paid_topup(b, 1200)
    pi = session(sid)["payment_intent"]
    a_before = balance(a)
    du, charge = "du_" + secrets.token_hex(10), "ch_" + secrets.token_hex(12)
    bodies = [json.dumps(dispute_event("charge.dispute.created", pi, 1200, dispute=du, charge=charge))
              for _ in range(5)]
    results = parallel(5, lambda i: post_payload(bodies[i], sign(bodies[i])))
    check(all(r.status == 200 for r in results), "acknowledged: %r" % results)
    eq(balance(a), a_before - REFERRER, "the referrer's grant taken back once")
    eq([t["amount_micros"] for t in taken_back(a, "dispute")], [-REFERRER], "cause dispute")
    eq([(t["amount_micros"], t["reference"]) for t in taken_back(b, "dispute")], [(-REFERRED, du)],
       "the referred account's grant too, naming the dispute")
    # Won later: the top-up's credit comes back, the referral's does not.
    won = dispute_event("charge.dispute.closed", pi, 1200, status="won", dispute=du, charge=charge)
    delivered(won)
    eq(balance(a), a_before - REFERRER, "a won dispute gives the referral nothing back")
    verify()


def test_a_dispute_that_came_before_the_credit_takes_the_reward_back_with_it():
    ok_mode()
    a = new_account("ref-a")
    b = referred_by(a)
    sid = open_session(b, 900)
    pi = session(sid)["payment_intent"]
    a_before, b_before = balance(a), balance(b)
    start = last_event_id()
    du = "du_" + secrets.token_hex(10)
    delivered(dispute_event("charge.dispute.created", pi, 900, dispute=du))
    eq(delivered(checkout_event(sid)).json.get("outcome"), "credited", "credited")
    eq(settled(b), True, "the first paid top-up settled the referral")
    eq(len(rewarded(start, b)), 1, "rewarded (the event says so)")
    eq([g[1] for g in referral_grants(a) + referral_grants(b)], [0, 0], "and taken back at once by the dispute")
    eq((balance(a), balance(b)), (a_before, b_before), "nothing stays: the credit and the reward taken back")
    eq([t["amount_micros"] for t in taken_back(b, "dispute")], [-REFERRED], "the referred grant, cause dispute")
    eq([t["amount_micros"] for t in taken_back(a, "dispute")], [-REFERRER], "the referrer's, cause dispute")
    verify()


def test_a_refund_that_came_before_the_credit_takes_the_reward_back_with_it():
    ok_mode()
    a = new_account("ref-a")
    b = referred_by(a)
    sid = open_session(b, 1000)
    pi = session(sid)["payment_intent"]
    r = delivered(charge_event(pi, b, 1000, amount=1000))
    check(r.json["outcome"].startswith("kept"), "the refund waits for its credit: %r" % r.json)
    a_before, b_before = balance(a), balance(b)
    delivered(checkout_event(sid))
    eq(settled(b), True, "the credit settled the referral")
    eq([g[1] for g in referral_grants(a) + referral_grants(b)], [0, 0], "and its refund took both grants back")
    eq((balance(a), balance(b)), (a_before, b_before), "nothing stays: the credit and the reward taken back")
    eq([t["amount_micros"] for t in taken_back(a, "refund")], [-REFERRER], "the referrer's, cause refund")
    eq([t["amount_micros"] for t in taken_back(b, "refund")], [-REFERRED], "the referred account's too")
    verify()


def test_the_python_client_s_referral_code():
    from test_50_clients import admin, app_client, cc, raises, reader
    c, app = admin(), app_client()
    acct = uid("cli")
    c.create_account(acct)
    ref = app.referral_code(acct)["code"]
    eq(app.referral_code(acct)["code"], ref, "the referral code is stable")
    raises(cc.Forbidden, reader().referral_code, acct)
    referred = uid("cli-ref")
    eq(c.create_account(referred, referral_code=ref.upper())["id"], referred, "created with the code (any case)")
    e = raises(cc.InvalidRequest, c.create_account, uid("cli-ref"), referral_code="zzzzzzzzzz")
    eq((e.status, e.param), (400, "referral_code"), "an unknown code names the field")


def test_verify_holds_each_referral_to_its_grants():
    # creditctl verify's referral checks, each seen on a ledger broken on
    # purpose (and mended): a grant of source referral no referral names,
    # a referral naming another account's grant, and a referral taken
    # back with a grant still holding money.
    ok_mode()
    a = new_account("ref-a")
    b = referred_by(a)
    paid_topup(b, 1000)
    rid = "(SELECT id FROM accounts WHERE ext_id = '%s')" % b
    ref_grant = "(SELECT referrer_grant_id FROM referrals WHERE referred_id = %s)" % rid
    for broken, fix, name in (
            ("UPDATE referrals SET referrer_grant_id = NULL WHERE referred_id = " + rid,
             None, "referral grant without its referral"),
            ("UPDATE referrals SET referred_grant_id = referrer_grant_id WHERE referred_id = " + rid,
             None, "referral naming another grant"),
            ("UPDATE referrals SET taken_back_at = 1 WHERE referred_id = " + rid,
             "UPDATE referrals SET taken_back_at = NULL WHERE referred_id = " + rid,
             "referral taken back, grant left")):
        saved = sql("SELECT referrer_grant_id, referred_grant_id FROM referrals WHERE referred_id = " + rid)[0]
        lib.verify_sees(broken, fix or "UPDATE referrals SET referrer_grant_id = %s, referred_grant_id = %s WHERE "
                        "referred_id = %s" % (saved[0], saved[1], rid), name)
    check(sql("SELECT COUNT(*) FROM grants WHERE id = " + ref_grant)[0][0] == "1", "mended")
    verify()


# ---- [referral] hold_days ----

def restart_with_hold(days):
    """The nginx-side creditd (the one webhooks reach) restarted with
    [referral] hold_days = days."""
    with open(ENV["CREDITD_CONFIG"]) as f:
        text = f.read()
    check("\n[referral]\n" in text, "the stack's config has a [referral] section")
    conf = stack.path("creditd-referral-hold.conf")
    with open(conf, "w") as f:
        f.write(text.replace("\n[referral]\n", "\n[referral]\nhold_days = %d\n" % days, 1))
    os.chmod(conf, 0o600)
    stack.creditd_kill9()
    stack.creditd_start(config=conf)


def due_at(referred):
    rows = sql("SELECT IFNULL(r.due_at, 'NULL') FROM referrals r JOIN accounts a ON a.id = r.referred_id "
               "WHERE a.ext_id = '%s'" % referred)
    return None if rows[0][0] == "NULL" else int(rows[0][0])


def test_a_reward_held_14_days_is_granted_by_the_sweep_and_a_refund_or_dispute_in_them_cancels_it():
    ok_mode()
    restart_with_hold(14)
    try:
        a = new_account("ref-hold")
        b, c, d = referred_by(a), referred_by(a), referred_by(a)
        start = last_event_id()
        now = clock_now()
        a_before = balance(a)
        pis = {}
        for x in (b, c, d):
            sid, _ = paid_topup(x, 1000)
            pis[x] = session(sid)["payment_intent"]
        for x in (b, c, d):
            eq((settled(x), referral_grants(x)), (False, []), "nothing granted at the credit")
            check(abs(due_at(x) - (now + 14 * 86400)) <= 60, "due 14 days after the credit: %r" % due_at(x))
        eq((referral_grants(a), balance(a)), ([], a_before), "the referrer has nothing yet")
        eq(rewarded(start, b), [], "no referral.rewarded yet")
        verify()    # pending rewards are held correct
        # A pending reward whose top-up was refunded (or disputed) would
        # have been cancelled: verify names one left pending.
        ref = "(SELECT r.topup_id FROM referrals r JOIN accounts x ON x.id = r.referred_id WHERE x.ext_id = '%s')" % b
        lib.verify_sees("UPDATE topups SET disputed_micros = 1 WHERE id = " + ref,
                        "UPDATE topups SET disputed_micros = 0 WHERE id = " + ref, "referral pending")
        # Within the window: c's top-up refunded in part, d's disputed.
        delivered(charge_event(pis[c], c, 300, amount=1000))
        du = "du_" + secrets.token_hex(10)
        delivered(dispute_event("charge.dispute.created", pis[d], 1000, dispute=du))
        for x in (c, d):
            eq((settled(x), referral_grants(x)), (True, []), "cancelled: settled, nothing granted")
            eq(taken_back(x, "refund") + taken_back(x, "dispute"), [], "nothing to take back")
        verify()
        # 13 days on the sweep grants nothing; 14 days on, b's reward.
        clock_set(now + 13 * 86400)
        creditctl("sweep")
        eq((settled(b), referral_grants(a), referral_grants(b)), (False, [], []), "not due after 13 days")
        clock_set(now + 14 * 86400 + 120)
        creditctl("sweep")
        granted_at = clock_now()
        ra, rb = referral_grants(a), referral_grants(b)
        eq([(g[0], g[1]) for g in ra], [(REFERRER, REFERRER)], "the referrer's grant, once: b's alone")
        eq([(g[0], g[1]) for g in rb], [(REFERRED, REFERRED)], "the referred account's grant")
        for g in ra + rb:
            check(DAYS == 0 or abs(g[2] - (granted_at + DAYS * 86400)) <= 120,
                  "expires %d days after the grant: %r" % (DAYS, g))
        eq(balance(a), a_before + REFERRER, "the referrer's balance")
        eq(settled(b), True, "settled by the sweep")
        events = rewarded(start, b)
        eq([e[3] for e in events], [{"referrer": a, "referred": b, "referrer_micros": REFERRER,
                                     "referred_micros": REFERRED, "capped": False}], "one referral.rewarded")
        eq((rewarded(start, c), rewarded(start, d)), ([], []), "none for the cancelled ones")
        eq([(referral_grants(c), referral_grants(d))], [([], [])], "the cancelled ones never granted")
        creditctl("sweep")
        eq((len(referral_grants(a)), len(rewarded(start, b))), (1, 1), "a second sweep grants nothing more")
        verify()
    finally:
        clock_reset()
        stack.creditd_kill9()
        stack.creditd_start()
