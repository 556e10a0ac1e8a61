"""test_59_widget_browser.py: the widget as a person sees it, in a real
headless browser (Debian's chromium, driven by tests/browser/drive.js with
puppeteer-core): pages served by the test stack's nginx embed the three
elements; the balance shown is the API's, the low state shows under the
threshold, the top-up button sends the browser to the Checkout URL creditd
made, the history pages (by keyboard), French formats the French way, and
an expired token or creditd down shows a message, not a blank box.
Screenshots of every element go to tests/browser/output/."""
import json
import os
import shutil
import subprocess
import time

import stack
from lib import ENV, Fail, api, check, eq, new_account, uid
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


def elements(tok, locale="en", page_size=5, extra=""):
    a = 'token="%s" locale="%s"%s' % (tok, locale, extra)
    return ('<creditd-balance id="balance" variant="full" %s></creditd-balance>'
            '<creditd-topup id="topup" %s></creditd-topup>'
            '<creditd-history id="history" page-size="%d" %s></creditd-history>') % (a, a, page_size, a)


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
