"""test_59_widget_browser.py: the widget as a person sees it, in a real
headless browser (Debian's chromium, driven by tests/browser/drive.js with
puppeteer-core): pages served by the test stack's nginx embed the three
elements; the balance shown is the API's, the low state shows under the
threshold, the top-up button sends the browser to the Checkout URL creditd
made, the history pages (by keyboard), French formats the French way, and
an expired token or creditd down shows a message, not a blank box. A
suspended account says why (an alert) and what it owes, and the top-up
pays that amount; an active one shows no notice.
Screenshots of every element go to tests/browser/output/."""
import json
import os
import shutil
import subprocess
import time

import stack
from lib import ENV, Fail, api, check, eq, new_account, sql, uid
from test_30_stripe import fake, ok_mode

BROWSER_DIR = os.path.join(stack.ROOT, "tests", "browser")
OUT = os.path.join(BROWSER_DIR, "output")
NBSP, NNBSP = "\u00a0", "\u202f"


def drive(name, body, locale="en", **opts):
    """Writes a page of the elements in `body` and reads it in chromium."""
    for need in (shutil.which("node"), "/usr/bin/chromium", os.path.join(BROWSER_DIR, "node_modules",
                                                                        "puppeteer-core")):
        if need is None or not os.path.exists(need):
            raise Fail("browser test tooling missing (%s): ./dev installs chromium, nodejs and puppeteer-core" % need)
    page = ('<!doctype html><html lang="%s"><head><meta charset="utf-8"><title>creditd widget</title><link rel="icon" href="data:,">'
            '<script src="/widget/creditd-widget.js" defer></script>'
            '<style>body{font-family:sans-serif;margin:24px;display:grid;gap:16px;max-width:640px}</style>'
            '</head><body><h1>Credits</h1>%s</body></html>') % (locale, body)
    fname = "%s-%s.html" % (name, uid("p"))
    with open(os.path.join(stack.path("www"), fname), "w") as f:
        f.write(page)
    spec = dict({"url": ENV["CREDITD_URL"] + "/demo/" + fname, "origin": ENV["CREDITD_URL"], "out": OUT,
                 "name": name}, **opts)
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "drive.js"), json.dumps(spec)], capture_output=True,
                       text=True, timeout=120, cwd=BROWSER_DIR)
    if p.returncode != 0:
        raise Fail("drive.js failed: %s" % p.stderr[-2000:])
    out = json.loads(p.stdout)
    errors = [c for c in out["console"] if c.startswith("pageerror") or c.startswith("error")]
    return out, errors


def token(acct, **body):
    r = api("POST", "/v1/accounts/%s/browser_tokens" % acct, body, auth="app")
    eq(r.status, 201, "token %r" % r)
    return r.json["token"]


def elements(tok, locale="en", page_size=5, extra="", compact=False, history=True):
    a = 'token="%s" locale="%s"%s' % (tok, locale, extra)
    return (('<creditd-balance id="compact" variant="compact" %s></creditd-balance>' % a if compact else "") +
            ('<creditd-balance id="balance" variant="full" %s></creditd-balance>'
             '<creditd-topup id="topup" %s></creditd-topup>') % (a, a) +
            ('<creditd-history id="history" page-size="%d" %s></creditd-history>' % (page_size, a) if history else ""))


def euros_en(micros):
    return "€{:,.2f}".format(micros / 1e6)


def euros_fr(micros):
    whole, cents = "{:,.2f}".format(micros / 1e6).split(".")
    return whole.replace(",", NNBSP) + "," + cents + NBSP + "€"


def test_balance_topup_and_history_in_english():
    ok_mode()
    acct = new_account("wb")
    for i in range(11):
        eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1234567 + i, "source": "adjustment",
                                                          "description": "gift %d" % i}).status, 201, "grant")
    me = api("GET", "/v1/accounts/" + acct, auth="read").json
    out, errors = drive("en", elements(token(acct)), topup=True, more=True)
    eq(errors, [], "no script errors")
    eq(out["balance"]["state"], "ok", "settled, not low")
    eq((out["balance"]["alerts"], out["balance"]["owed"]), (0, None), "an active account: no notice, nothing owed")
    eq((out["topup"]["owed"], out["topup"]["pay"]), (None, "Continue to payment"), "the top-up as before")
    eq(out["balance"]["amount"], euros_en(me["available_micros"]), "the balance shown is the API's")
    check(euros_en(me["available_micros"]) in (out["balance"]["ariaLabel"] or ""), "read out to screen readers")
    eq(out["history"]["rows"], 5, "a first page of 5")
    eq(out["historyPages"], [5, 10, 12], "paged through by keyboard: %r" % out["historyPages"])
    eq(out["historyAfter"]["more"], False, "no more pages")
    check("gift 10" in out["history"]["firstRow"], "newest first: %r" % out["history"]["firstRow"])
    nav = [u for u in out["navigations"] if "checkout" in u]
    eq(len(nav), 1, "the top-up sent the browser to Checkout: %r" % out["navigations"])
    sid = nav[0].rsplit("/", 1)[-1].split("#")[0]
    session = fake("GET", "/_sessions/" + sid)
    eq(nav[0], "https://checkout.stripe.com/c/pay/" + sid, "the URL creditd answered")
    eq(session["metadata"]["account"], acct, "a session of this account")
    eq(session["amount_total"], 1000, "the preset chosen by default (10 €)")
    for name in ("balance", "topup", "history", "history-more", "page"):
        check(os.path.getsize(os.path.join(OUT, "en-%s.png" % name)) > 1000, "screenshot en-%s" % name)


def test_low_state_and_french():
    acct = new_account("wb")
    me = api("GET", "/v1/accounts/" + acct, auth="read").json
    eq(api("PATCH", "/v1/accounts/" + acct, {"low_balance_micros": me["available_micros"] + 1}).status, 200, "low")
    out, errors = drive("fr", elements(token(acct), "fr"), locale="fr")
    eq(errors, [], "no script errors")
    eq(out["balance"]["state"], "low", "the low state")
    check(out["balance"]["low"], "styled low")
    eq(out["balance"]["amount"], euros_fr(me["available_micros"]), "French number formatting")
    check("Votre solde est bas" in out["balance"]["text"], "said in French: %r" % out["balance"]["text"])
    check("Continuer vers le paiement" in out["topup"]["buttons"], "French buttons: %r" % out["topup"]["buttons"])
    check(any(b.endswith(NBSP + "€") for b in out["topup"]["buttons"]), "French amounts on the presets")


def test_an_expired_token_and_creditd_down_show_a_message():
    acct = new_account("wb")
    tok = token(acct, ttl_seconds=60)
    forged = tok[:-2] + ("AA" if not tok.endswith("AA") else "BB")
    out, errors = drive("expired", elements(forged))
    for el in ("balance", "topup", "history"):
        eq(out[el]["state"], "expired", "%s: the expired state" % el)
        check("expired" in (out[el]["alert"] or ""), "%s says so: %r" % (el, out[el]["alert"]))
    closed = "http://127.0.0.1:9"     # nothing listens there
    out, errors = drive("down", elements(tok, extra=' base-url="%s"' % closed))
    for el in ("balance", "topup", "history"):
        eq(out[el]["state"], "error", "%s: the error state" % el)
        check("unavailable" in (out[el]["alert"] or ""), "%s: a clear message: %r" % (el, out[el]["alert"]))
    time.sleep(0)


def in_debt(prefix, debt_micros):
    """An account whose balance is -debt_micros (an admin debit within an
    overdraft), suspended because its collection failed: what a failed
    pay-as-you-go charge leaves (set in SQL, as no route suspends for it)."""
    acct = new_account(prefix)
    me = api("GET", "/v1/accounts/" + acct, auth="read").json
    eq(api("PATCH", "/v1/accounts/" + acct, {"overdraft_limit_micros": 2 * debt_micros}).status, 200, "overdraft")
    r = api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": me["balance_micros"] + debt_micros,
                                                      "reason": "a month of usage"})
    eq(r.status, 201, "debit beyond the balance %r" % r)
    sql("UPDATE accounts SET status = 'suspended', status_reason = 'payment_failed' WHERE ext_id = X'%s'"
        % acct.encode().hex())
    return acct


def test_a_suspended_account_says_why_and_pays_what_it_owes():
    ok_mode()
    acct = in_debt("wd", 12345678)
    tok = token(acct)
    me = api("GET", "/v1/me", auth=tok).json
    eq((me["status"], me["status_reason"], me["balance_micros"], me["owed_micros"]),
       ("suspended", "payment_failed", -12345678, 12345678), "/v1/me: why and what is owed")
    check("collection" in me, "/v1/me answers collection: %r" % sorted(me))
    out, errors = drive("suspended", elements(tok, compact=True), topup=True)
    eq(errors, [], "no script errors")
    for el in ("balance", "compact"):
        eq(out[el]["state"], "suspended", "%s: the suspended state" % el)
        eq(out[el]["alerts"], 1, "%s: one notice, announced (role alert)" % el)
        check("Your account is suspended." in out[el]["alert"] and "Your last payment failed." in out[el]["alert"],
              "%s says why: %r" % (el, out[el]["alert"]))
        eq(out[el]["owed"], "Amount owed: €12.35", "%s: the amount owed, in euros" % el)
        eq(out[el]["amount"], "-€12.35", "%s: the balance, not what the overdraft leaves" % el)
        check(out[el]["visible"]["[role=alert]"] and out[el]["visible"]["[part=owed]"], "%s: on screen" % el)
    check("Pay what is owed to use your account again." in out["balance"]["alert"], "how to get it back")
    eq(out["topup"]["owed"], "Amount owed: €12.35", "the top-up says what is owed")
    eq(out["topup"]["pressed"], "€12.35", "the debt, in whole cents rounded up, chosen")
    eq(out["topup"]["pay"], "Pay what is owed", "the button says what it pays")
    check(out["topup"]["visible"]["button[part=pay]"], "the button is on screen")
    nav = [u for u in out["navigations"] if "checkout" in u]
    eq(len(nav), 1, "the button sent the browser to Checkout: %r" % out["navigations"])
    session = fake("GET", "/_sessions/" + nav[0].rsplit("/", 1)[-1].split("#")[0])
    eq(session["metadata"]["account"], acct, "a session of this account")
    eq(session["amount_total"], 1235, "a top-up of what is owed")
    for name in ("balance", "compact", "topup", "page"):
        check(os.path.getsize(os.path.join(OUT, "suspended-%s.png" % name)) > 1000, "screenshot suspended-%s" % name)

    # When the card is tried again (the account's collection; merged into
    # /v1/me here, as accounts carry it only once collections run).
    again = {"period": "2025-05", "amount_micros": 12345678, "state": "failed", "tries": 1,
             "next_try_at": "2025-06-02T00:00:00Z"}
    out, errors = drive("retry", elements(tok), me={"collection": again})
    eq(errors, [], "no script errors")
    check(out["balance"]["retry"] and "We will try your card again on" in out["balance"]["retry"]
          and "2025" in out["balance"]["retry"], "when the card is tried again: %r" % out["balance"]["retry"])
    out, errors = drive("retry-fr", elements(tok, "fr"), locale="fr", me={"collection": again})
    check("Votre dernier paiement a échoué." in out["balance"]["alert"], "why, in French: %r" % out["balance"]["alert"])
    eq(out["balance"]["owed"], "Montant dû: " + euros_fr(12345678), "owed, the French way")
    check("Nous réessaierons votre carte le" in (out["balance"]["retry"] or ""), "retry, in French")
    eq(out["topup"]["pay"], "Payer le montant dû", "the button, in French")


def test_a_manual_suspension_on_a_narrow_screen_in_french():
    acct = new_account("wm")
    eq(api("PATCH", "/v1/accounts/" + acct, {"status": "suspended"}).status, 200, "suspend")
    out, errors = drive("manual-narrow", elements(token(acct), "fr", compact=True, history=False), locale="fr",
                        width=320)
    eq(errors, [], "no script errors")
    for el in ("balance", "compact"):
        eq(out[el]["state"], "suspended", "%s: the suspended state" % el)
        check("Votre compte est suspendu." in out[el]["alert"] and "Le service l’a suspendu" in out[el]["alert"],
              "%s says why, in French: %r" % (el, out[el]["alert"]))
        eq(out[el]["owed"], None, "%s: nothing owed" % el)
        eq(out[el]["amount"], euros_fr(10000000), "%s: the balance" % el)
        check(out[el]["visible"]["[role=alert]"], "%s: the notice fits the screen" % el)
    eq(out["topup"]["pay"], "Continuer vers le paiement", "no debt to pay")
    eq(out["sideways"], False, "nothing scrolls sideways at 320 px")
