"""test_59_widget_browser.py: the widget as a person sees it, in a real
headless browser (Debian's chromium, driven by tests/browser/drive.js with
puppeteer-core): pages served by the test stack's nginx embed the three
elements; the balance shown is the API's, the low state shows under the
threshold, the top-up button sends the browser to the Checkout URL creditd
made, the history pages (by keyboard), French formats the French way, and
an expired token or creditd down shows a message, not a blank box. A
suspended account says why (an alert) and what it owes, and the top-up
pays that amount; an active one shows no notice. The history's Credits and
Usage tabs (by keyboard, a label per source in English and French, sub-cent
costs, day totals), <creditd-usage>'s bars, screen-reader table and
by-model table, a member's cap, <creditd-referral> (the code, the link
made of it, what a referral earns in English and French; hidden when the
deployment rewards no referrer or for a member), and the script's size
under 48 KB.
Screenshots of every element go to tests/browser/output/."""
import json
import os
import shutil
import subprocess
import time
from decimal import ROUND_HALF_UP, Decimal

import stack
from lib import ENV, Fail, api, check, eq, new_account, sql, uid
from test_30_stripe import fake, ok_mode

BROWSER_DIR = os.path.join(stack.ROOT, "tests", "browser")
OUT = os.path.join(BROWSER_DIR, "output")
NBSP, NNBSP = "\u00a0", "\u202f"


def drive(name, body, locale="en", **opts):
    """Writes a page of the elements in `body` and reads it in chromium."""
    for need in (shutil.which("node"), "/usr/bin/chromium-headless-shell", os.path.join(BROWSER_DIR, "node_modules",
                                                                        "puppeteer-core")):
        if need is None or not os.path.exists(need):
            raise Fail("browser test tooling missing (%s): ./dev installs chromium-headless-shell, nodejs and puppeteer-core" % need)
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


# ---- Credits and Usage in the end user's hands (DESIGN §11) ----
# Journal rows' `usage`, GET /v1/me/usage and member tokens come with the
# API's wave 3. Until the stack answers them, drive.js serves the answers
# the contract describes (fixtures built here); once a usage row carries a
# `usage` key, /v1/me/usage answers 200 and a member token mints, the
# tests read the live answers instead and hold the widget to those.

WIDGET = os.path.join(stack.ROOT, "widget", "creditd-widget.js")
DOCS = os.path.join(stack.ROOT, "docs")
DAY = 86400


def money_en(micros, sub_cent=True):
    """As the widget writes a cost in English: below a cent, up to four
    decimals (never 0.00), else cents; the sign before the symbol."""
    a = abs(micros)
    if sub_cent and 0 < a < 10000:
        body = str(Decimal(max(a, 100)).scaleb(-6).quantize(Decimal("0.0001"), ROUND_HALF_UP)).rstrip("0")
        body += "0" * max(0, 2 - len(body.split(".")[1]))
    else:
        body = "{:,.2f}".format(Decimal(a).scaleb(-6).quantize(Decimal("0.01"), ROUND_HALF_UP))
    return ("-" if micros < 0 else "") + "€" + body


def day_en(day):
    return time.strftime("%b %-d, %Y", time.strptime(day, "%Y-%m-%d"))


def utc_day(ts):
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


CALLS = [  # (days ago, model, input, cached, output, cost_micros): seed 001's chats cost about a tenth of a cent
    (0, "gpt-4o", 150, 0, 90, 1200), (0, "gpt-4o-mini", 900, 100, 300, 50), (1, "gpt-4o", 2000, 0, 1200, 15000),
    (3, "gpt-4o-mini", 400, 0, 120, 800), (3, "gpt-4o", 300, 0, 80, 1400)]


def fixture_rows(now):
    """A journal page as the contract has it: usage rows with `usage`,
    every credit source, a receipt, an operator's description and the
    server's own texts (which the widget must not repeat)."""
    rows, balance, n = [], 0, 1000
    credits = [(20, "grant", "signup_bonus", 10000000, "signup bonus", None),
               (12, "grant", "topup", 20000000, "Stripe top-up", "https://pay.stripe.com/receipts/acct_1/rcpt_1"),
               (10, "grant", "promo", 5000000, "promo code", None),
               (8, "grant", "plan", 30000000, "plan credit for the period", None),
               (6, "grant", "payment", 4000000, "pay-as-you-go collection", None),
               (5, "grant", "refund", 2500000, "late settle below captured hold", None),
               (4, "grant", "adjustment", 1000000, "Goodwill for the outage of 3 May", None)]
    events = [(now - ago * DAY - 3600, cause, source, amount, desc, receipt, None)
              for ago, cause, source, amount, desc, receipt in credits]
    for i, (ago, model, inp, cached, out, micros) in enumerate(CALLS):
        usage = {"model": model, "input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
                 "member": None, "byok": False}
        events.append((now - ago * DAY - 60 * (i + 1), "usage", None, -micros, "usage", None, usage))
    for at, cause, source, amount, desc, receipt, usage in sorted(events):
        balance += amount
        n += 1
        row = {"id": "txn_%d" % n, "amount_micros": amount, "balance_after_micros": balance, "cause": cause,
               "source": source, "reference": None, "description": desc, "created_at": iso(at), "usage": usage}
        if receipt:
            row["receipt_url"] = receipt
            row["invoice_url"] = "https://invoice.stripe.com/i/acct_1/inv_1"
            row["invoice_pdf"] = "https://pay.stripe.com/invoice/acct_1/inv_1/pdf"
        if source == "promo":
            row["receipt_url"] = "javascript:alert(1)"    # not https: never a link
        rows.append(row)
    return {"data": rows[::-1], "next_cursor": None, "has_more": False}


def report(rows, key, now):
    """GET /v1/me/usage as /v1/accounts/{id}/usage answers it, from rows."""
    groups, total = {}, {"requests": 0, "input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0,
                         "cost_micros": 0}
    for x in rows:
        if x["cause"] != "usage":
            continue
        u = x["usage"]
        name = u["model"] if key == "model" else x["created_at"][:10]
        g = groups.setdefault(name, dict({key: name}, **{k: 0 for k in total}))
        for sums in (g, total):
            sums["requests"] += 1
            sums["cost_micros"] -= x["amount_micros"]
            for k in ("input_tokens", "cached_input_tokens", "output_tokens"):
                sums[k] += u[k]
    return {"account": "fixture", "currency": "EUR", "from": iso(now - 30 * DAY), "to": iso(now), "group_by": key,
            "data": [groups[k] for k in sorted(groups)], "total": total}


def usage_answers(tok, acct, member=None):
    """The answers the widget reads: live when the stack has the fields,
    else fixtures. Returns (answers for drive.js or None, the page, the
    day report, the model report, live?)."""
    for ago, model, inp, cached, out, micros in CALLS if acct else []:
        if ago == 0:
            body = {"account": acct, "model": model if model != "gpt-4o-mini" else "gpt-3.5-turbo",
                    "input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out, "request_id": uid("u")}
            if member:
                body["member"] = member
            r = api("POST", "/v1/usage", body, auth="guard")
            eq(r.status, 200, "usage %r" % r)
    page = api("GET", "/v1/me/transactions?limit=50", auth=tok).json
    days = api("GET", "/v1/me/usage?group_by=day", auth=tok)
    models = api("GET", "/v1/me/usage?group_by=model", auth=tok)
    live = any("usage" in x for x in page["data"]) and days.status == 200 and models.status == 200
    if live:
        return None, page, days.json, models.json, True
    now = int(time.time())
    page = fixture_rows(now)
    if member:
        page["data"] = [x for x in page["data"] if x["cause"] == "usage"]
    answers = {"transactions": page, "usage_day": report(page["data"], "day", now),
               "usage_model": report(page["data"], "model", now)}
    return answers, page, answers["usage_day"], answers["usage_model"], False


def keep_screenshot(name, doc_name):
    """Every run checks the screenshot; UPDATE_DOCS_SCREENSHOTS=1 also
    copies it to docs/ (what docs/api.md shows)."""
    path = os.path.join(OUT, name + ".png")
    check(os.path.getsize(path) > 1000, "screenshot %s" % name)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(path, os.path.join(DOCS, doc_name + ".png"))


def expected_days(page, days):
    """Each UTC day's calls, newest first, headed by the day's total (the
    report's, as the widget takes it)."""
    totals = {d["day"]: d["cost_micros"] for d in days["data"]}
    out = {}
    for x in page["data"]:
        if x["cause"] == "usage":
            out.setdefault(x["created_at"][:10], []).append(x)
    return [(day, -totals[day] if day in totals else sum(x["amount_micros"] for x in xs), xs)
            for day, xs in out.items()]


def test_the_size_of_the_script():
    size = os.path.getsize(WIDGET)
    check(size < 48 * 1024, "under 48 KB: %d" % size)
    r = api("GET", "/widget/creditd-widget.js", auth=None)
    eq(len(r.raw), size, "creditd serves the file as it is")


def test_history_tabs_credits_labels_and_usage_rows():
    acct = new_account("wh")
    tok = token(acct)
    answers, page, days, models, live = usage_answers(tok, acct)
    # The Credits labels come from a fixture in both modes: one account
    # cannot hold every source (plan, payment, refund, top-up) in a test.
    credit_page = fixture_rows(int(time.time()))
    credit_answers = dict(answers or {}, transactions=credit_page)
    body = '<creditd-history id="history" page-size="50" token="%s" locale="%%s"></creditd-history>' % tok
    out, errors = drive("credits-en", body % "en", answers=credit_answers, tabs=True)
    eq(errors, [], "no script errors")
    h = out["history"]
    eq(h["tablist"], 1, "one tablist")
    eq([(x["text"], x["selected"], x["tabindex"], x["controls"]) for x in h["tabs"]],
       [("Credits", "true", 0, "panel-credits"), ("Usage", "false", -1, "panel-usage")], "two tabs, Credits first")
    eq([(p["id"], p["hidden"], p["labelledby"]) for p in h["panels"]],
       [("panel-credits", False, "tab-credits"), ("panel-usage", True, "tab-usage")], "tab panels")
    eq([(w["key"], w["tab"], w["focused"], w["selected"], w["visible"]) for w in out["tabWalk"]],
       [("ArrowRight", "usage", "tab-usage", ["tab-usage"], ["panel-usage"]),
        ("ArrowRight", "credits", "tab-credits", ["tab-credits"], ["panel-credits"]),
        ("End", "usage", "tab-usage", ["tab-usage"], ["panel-usage"]),
        ("Home", "credits", "tab-credits", ["tab-credits"], ["panel-credits"]),
        ("ArrowLeft", "usage", "tab-usage", ["tab-usage"], ["panel-usage"])], "tabs by keyboard")
    eq(h["sources"], ["Adjustment", "Refund", "Payment", "Plan credits", "Promo code", "Top-up", "Signup bonus"],
       "a label per source, newest first")
    eq(h["descriptions"], ["Goodwill for the outage of 3 May"], "only the operator's own words, not the server's")
    eq(h["receipts"], [["Receipt", "https://pay.stripe.com/receipts/acct_1/rcpt_1", "noopener noreferrer"]],
       "the receipt link of the top-up")
    eq(h["invoices"], [["invoice", "Invoice", "https://invoice.stripe.com/i/acct_1/inv_1", "noopener noreferrer"],
                       ["invoice-pdf", "PDF", "https://pay.stripe.com/invoice/acct_1/inv_1/pdf", "noopener noreferrer"]],
       "the invoice links of the top-up")
    adjustment = next(x for x in credit_page["data"] if x["source"] == "adjustment")
    eq(h["credits"][0][2:], ["€1.00", money_en(adjustment["balance_after_micros"], False)],
       "amount and balance after")
    check(all(r[2] != "-€0.00" for r in h["credits"]), "no −€0.00")
    fr, errors = drive("credits-fr", body % "fr", locale="fr", answers=credit_answers, tabs=True)
    eq(errors, [], "no script errors")
    eq([x["text"] for x in fr["history"]["tabs"]], ["Crédits", "Consommation"], "tabs in French")
    eq(fr["history"]["sources"], ["Ajustement", "Remboursement", "Paiement", "Crédits du forfait", "Code promo",
                                  "Recharge", "Bonus de bienvenue"], "labels in French")
    eq(fr["history"]["receipts"][0][0], "Reçu", "receipt, in French")

    # Usage: the live journal once rows carry `usage`, else the fixture.
    out, errors = drive("usage-en", body % "en", answers=answers, tabs=True)
    eq(errors, [], "no script errors")
    got = out["historyUsage"]["days"]
    want = expected_days(page, days)
    eq(len(got), len(want), "one group per day: %r" % got)
    for g, (day, total, xs) in zip(got, want):
        eq(g["head"], [time.strftime("%A, %B %-d, %Y", time.strptime(day, "%Y-%m-%d")), "Total " + money_en(total)],
           "the day's total heads its calls (%s)" % day)
        eq([c[1:] for c in g["calls"]],
           [[x["usage"]["model"], "{:,}".format(x["usage"]["input_tokens"]), "{:,}".format(x["usage"]["output_tokens"]),
             money_en(x["amount_micros"])] for x in xs], "one row per call: model, tokens in / out, cost")
    costs = [c[-1] for g in got for c in g["calls"]]
    check(all(c != "-€0.00" and c != "€0.00" for c in costs), "never −€0.00: %r" % costs)
    if not live:
        check("-€0.0012" in costs and "-€0.0001" in costs, "sub-cent costs in four decimals: %r" % costs)
    check(any(c.startswith("-€0.00") and len(c) > 6 for c in costs), "a sub-cent cost shown non-zero: %r" % costs)
    fr, errors = drive("usage-fr", body % "fr", locale="fr", answers=answers, tabs=True)
    eq(errors, [], "no script errors")
    frcosts = [c[-1] for g in fr["historyUsage"]["days"] for c in g["calls"]]
    check(all(not c.startswith("-0,00" + NBSP) for c in frcosts), "never -0,00 € in French: %r" % frcosts)
    if not live:
        check("-0,0012" + NBSP + "€" in frcosts, "French four decimals: %r" % frcosts)
    check(fr["historyUsage"]["days"][0]["head"][1].startswith("Total "), "the day total in French")
    keep_screenshot("credits-en-history", "widget-history-en")
    keep_screenshot("credits-fr-history", "widget-history-fr")
    keep_screenshot("usage-en-history-usage", "widget-history-usage-en")
    keep_screenshot("usage-fr-history-usage", "widget-history-usage-fr")


def check_usage_element(u, days, models, what):
    first = utc_day(time.time() - 29 * DAY)
    spent = [d for d in days["data"] if d["cost_micros"] > 0 and d["day"] >= first]
    eq([b[0] for b in u["bars"]], [d["day"] for d in spent], "%s: a bar per day with spend" % what)
    top = max(d["cost_micros"] for d in spent)
    eq([b[1] for b in u["bars"]], [max(1, round(d["cost_micros"] / top * 100)) for d in spent],
       "%s: bar heights in proportion" % what)
    eq(u["chartHidden"], "true", "%s: the picture is hidden from screen readers" % what)
    eq(u["dayTable"], [[day_en(d["day"]), money_en(d["cost_micros"])] for d in spent],
       "%s: the table screen readers read has the same figures" % what)
    eq(u["total"], money_en(days["total"]["cost_micros"]), "%s: the 30 days' total" % what)
    eq(u["models"], [[m["model"], "{:,}".format(m["requests"]), "{:,}".format(m["input_tokens"]),
                      "{:,}".format(m["output_tokens"]), money_en(m["cost_micros"])]
                     for m in sorted(models["data"], key=lambda m: -m["cost_micros"])], "%s: by model" % what)


def test_the_usage_element_chart_and_models():
    acct = new_account("wu")
    tok = token(acct)
    answers, page, days, models, live = usage_answers(tok, acct)
    body = '<creditd-usage id="usage" token="%s" locale="%%s"></creditd-usage>' % tok
    out, errors = drive("usage-el-en", body % "en", answers=answers)
    eq(errors, [], "no script errors")
    eq(out["usage"]["state"], "ok", "settled")
    check_usage_element(out["usage"], days, models, "live" if live else "fixture")
    eq(out["usage"]["dayTableCaption"], "Spend by day", "the table's caption")
    eq(out["usage"]["cap"], None, "no member, no cap")
    if not live:
        eq(len(out["usage"]["bars"]), 3, "three days of the fixture")
    fr, errors = drive("usage-el-fr", body % "fr", locale="fr", answers=answers)
    eq(errors, [], "no script errors")
    check("Dépenses des 30 derniers jours" in fr["usage"]["text"], "French: %r" % fr["usage"]["text"])
    eq(len(fr["usage"]["bars"]), len(out["usage"]["bars"]), "the same bars")
    check(fr["usage"]["total"].endswith(NBSP + "€"), "French money: %r" % fr["usage"]["total"])
    keep_screenshot("usage-el-en-usage", "widget-usage-en")
    keep_screenshot("usage-el-fr-usage", "widget-usage-fr")


def test_a_member_sees_their_cap():
    acct = new_account("wmb", kind="workspace")
    r = api("POST", "/v1/accounts/%s/members" % acct, {"member": "alice", "monthly_cap_micros": 2000000})
    check(r.status in (200, 201), "member %r" % r)
    t = api("POST", "/v1/accounts/%s/browser_tokens" % acct, {"member": "alice"}, auth="app")
    me = api("GET", "/v1/me", auth=t.json["token"]).json if t.status == 201 else {}
    live = "member" in me
    tok = t.json["token"] if live else token(acct)
    answers, page, days, models, live_usage = usage_answers(tok, acct, member="alice" if live else None)
    if live:
        me = api("GET", "/v1/me", auth=tok).json
        extra = {}
    else:
        me = {"member": {"member": "alice", "monthly_cap_micros": 2000000, "month_spent_micros": 1250000,
                         "reserved_micros": 250000, "remaining_micros": 500000}}
        extra = {"me": me}
    m = me["member"]
    body = ('<creditd-usage id="usage" token="%s" locale="en"></creditd-usage>'
            '<creditd-history id="history" token="%s" locale="en"></creditd-history>') % (tok, tok)
    out, errors = drive("member-en", body, answers=answers, **extra)
    eq(errors, [], "no script errors")
    cap = out["usage"]["cap"]
    check(cap is not None, "the member's cap is shown")
    eq((round(float(cap["spent"].rstrip("%")), 2), round(float(cap["reserved"].rstrip("%")), 2)),
       (round(100 * m["month_spent_micros"] / m["monthly_cap_micros"], 2),
        round(100 * m["reserved_micros"] / m["monthly_cap_micros"], 2)), "spent and reserved against the cap")
    said = "%s spent and %s reserved of %s · %s left" % (
        money_en(m["month_spent_micros"], False), money_en(m["reserved_micros"], False),
        money_en(m["monthly_cap_micros"], False), money_en(m["remaining_micros"], False))
    check(said in cap["text"], "in words: %r" % cap["text"])
    eq(cap["label"], "Your monthly cap: " + said, "read out to screen readers")
    eq(out["history"]["tabs"][1]["selected"], "true", "a member's history opens on Usage")
    if live:
        check(all(x["cause"] == "usage" for x in page["data"]), "a member sees their usage rows only")
    keep_screenshot("member-en-usage", "widget-usage-member-en")


def referral_page(tok, locale, link=True):
    extra = ' link="https://app.example.com/signup?ref={code}"' if link else ""
    return '<creditd-referral id="referral" token="%s" locale="%s"%s></creditd-referral>' % (tok, locale, extra)


def test_the_referral_code_and_what_it_earns_in_english_and_french():
    acct = new_account("wref")
    me = api("GET", "/v1/me", auth=token(acct)).json
    r = me["referral"]
    check(r is not None and r["referrer_micros"] > 0, "the test stack rewards referrers: %r" % r)
    code = api("GET", "/v1/accounts/%s/referral_code" % acct, auth="app").json["code"]
    eq(r["code"], code, "/v1/me's code is the account's")
    for locale, fmt, words in (("en", euros_en, ("Invite a friend", "you get", "they get", "days")),
                               ("fr", euros_fr, ("Parrainez un ami", "vous recevez", "elle reçoit", "jours"))):
        out, errors = drive("referral-" + locale, referral_page(token(acct), locale), locale=locale)
        eq(errors, [], "no script errors")
        ref = out["referral"]
        eq((ref["state"], ref["hidden"]), ("ok", False), "shown: the deployment rewards referrers")
        eq(ref["code"], "https://app.example.com/signup?ref=" + code, "the link made of the code")
        check(fmt(r["referrer_micros"]) in ref["earn"] and fmt(r["referred_micros"]) in ref["earn"],
              "what a referral earns, formatted for %s: %r" % (locale, ref["earn"]))
        check(all(w in ref["text"] for w in words), "said in %s: %r" % (locale, ref["text"]))
        check(str(r["expires_days"]) in (ref["expiry"] or ""), "how long the credits last: %r" % ref["expiry"])
        eq(ref["buttons"], ["Copy" if locale == "en" else "Copier"], "a copy button")
        keep_screenshot("referral-%s-referral" % locale, "widget-referral-" + locale)
    # Without link: the code alone.
    out, errors = drive("referral-code", referral_page(token(acct), "en", link=False))
    eq((errors, out["referral"]["code"]), ([], code), "the code alone")
    # A deployment that rewards no referrer (its /v1/me says null): hidden.
    out, errors = drive("referral-off", referral_page(token(acct), "en"), me={"referral": None})
    eq(errors, [], "no script errors")
    eq((out["referral"]["state"], out["referral"]["hidden"], out["referral"]["boxShown"]), ("off", True, False),
       "hidden when off")
    # ... even on a page whose own rule shows the element (display: block): no empty box.
    out, errors = drive("referral-off-block", "<style>creditd-referral{display:block}</style>" +
                        referral_page(token(acct), "en"), me={"referral": None})
    eq((errors, out["referral"]["state"], out["referral"]["boxShown"]), ([], "off", False), "no empty box")
    # A member's token: not the member's code to share.
    ws = new_account("wref", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob"}).status, 201, "member")
    t = api("POST", "/v1/accounts/%s/browser_tokens" % ws, {"member": "bob"}, auth="app").json["token"]
    eq(api("GET", "/v1/me", auth=t).json["referral"], None, "a member's /v1/me has no referral")
    out, errors = drive("referral-member", referral_page(t, "en"))
    eq((errors, out["referral"]["state"], out["referral"]["hidden"]), ([], "off", True), "hidden for a member")
    out, errors = drive("referral-shown", referral_page(token(acct), "en"))
    check(out["referral"]["boxShown"], "shown when on")
