"""test_95_console_browser.py: the operator's console ({base}/console/) as an
operator sees it, in Debian's chromium (headless, driven by
tests/browser/console.js with puppeteer-core): the page and its headers
(a Content-Security-Policy the page keeps: no inline script or style, no
violation reported), sign-in with an admin key, every view, every action
done by keyboard alone (Tab to it, Enter) and its effect read back from the
ledger through the API (not the page), a read key's console (no action
shown; a write forced from its page refused, the ledger unchanged), a
write forged from a page of another origin while the operator is signed in
in that browser (refused, the ledger unchanged), French, the dark scheme,
screenshots at 1280 and 390 px wide (tests/browser/output/console/; with
CONSOLE_SHOTS_TO_DOCS=1 also into docs/console/), and no serious or
critical axe-core violation on any view."""
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import stack
from lib import ENV, Fail, api, check, eq, free_port, new_account, sql, uid

BROWSER_DIR = os.path.join(stack.ROOT, "tests", "browser")
OUT = os.path.join(BROWSER_DIR, "output", "console")
DOCS = os.path.join(stack.ROOT, "docs", "console")
VIEWS = ["overview", "accounts", "keys", "prices", "events", "reconcile", "health"]
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
NBSP, NNBSP = "\u00a0", "\u202f"
# Tab presses allowed to reach a row of a list every file adds to (keys,
# prices, failed deliveries): how many rows come before a test's own
# depends on which files ran on the stack before it.
FAR = 5000


def console_url():
    return ENV["CREDITD_URL"] + "/console/"


def drive(steps, **opts):
    """Runs the steps in chromium; returns the driver's report (raises on a
    failed step, a script error or a Content-Security-Policy violation)."""
    for need in (shutil.which("node"), "/usr/bin/chromium-headless-shell", os.path.join(BROWSER_DIR, "node_modules", "axe-core")):
        if need is None or not os.path.exists(need):
            raise Fail("browser test tooling missing (%s): ./dev installs chromium-headless-shell, nodejs and tests/browser's packages" % need)
    spec = dict({"url": console_url(), "out": OUT, "steps": steps}, **opts)
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "console.js"), json.dumps(spec)], capture_output=True,
                       text=True, timeout=300, cwd=BROWSER_DIR)
    if p.returncode != 0 or not p.stdout.startswith("{"):
        raise Fail("console.js failed: %s %s" % (p.stdout[-1000:], p.stderr[-2000:]))
    out = json.loads(p.stdout)
    if out["error"]:
        raise Fail("in the browser: %s (console: %r; the page then: %r; its last answers: %r; unanswered: %r)" %
                   (out["error"], out["console"][-5:], out.get("failed_page"), out.get("answers", [])[-8:],
                    out.get("unanswered")))
    # (A console answer framed by another page is refused by its
    # frame-ancestors: the forged test's iframe; that is no page's error.)
    errors = [c for c in out["console"] if c.startswith("pageerror") or
              ("Content Security Policy" in c and "frame-ancestors" not in c)]
    eq(errors, [], "no script error, no CSP refusal")
    eq(out["csp"], [], "no Content-Security-Policy violation")
    for name, violations in out["axe"].items():
        eq(violations, [], "axe-core: no serious or critical violation on %s" % name)
    return out


def money_en(micros):
    """As the console writes micros: exact, at least two decimals."""
    neg, v = micros < 0, abs(micros)
    frac = ("%06d" % (v % 1000000)).rstrip("0").ljust(2, "0")
    return ("-" if neg else "") + "€" + "{:,}".format(v // 1000000) + "." + frac


def money_fr(micros):
    en = money_en(micros).replace("€", "")
    whole, frac = en.split(".")
    return whole.replace(",", NNBSP) + "," + frac + NBSP + "€"


def failed_delivery(prefix):
    """A delivery given up, its event id: the push of a new account's alert
    (crossed by a debit), marked failed as the notify thread marks one it
    gave up."""
    macct = new_account(prefix)
    avail = acct_state(macct)["available_micros"]
    eq(api("PUT", "/v1/accounts/%s/alerts" % macct, {"alerts": [{"kind": "balance_below", "micros": avail - 1}]}).status,
       200, "an alert")
    eq(api("POST", "/v1/accounts/%s/debits" % macct, {"amount_micros": 2, "reason": "cross"}).status, 201, "debit")
    ev = int(sql("SELECT MAX(e.id) FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id = '%s'" % macct)[0][0])
    sql("UPDATE events SET state = 'failed', attempts = 8, last_error = 'HTTP 500' WHERE id = %d" % ev)
    return ev


def acct_state(acct):
    r = api("GET", "/v1/accounts/" + acct, auth="read")
    eq(r.status, 200, "account %r" % r)
    return r.json


def journal(acct):
    return api("GET", "/v1/accounts/%s/transactions?limit=200" % acct, auth="read").json["data"]


def spend(acct, n=3, member=None):
    """Some usage (settled guard calls) and one hold left in flight."""
    for i in range(n):
        body = {"account": acct, "model": "gpt-4o", "input_tokens": 1000 * (i + 1), "max_output_tokens": 500,
                "request_id": uid("req")}
        if member:
            body["member"] = member
        r = api("POST", "/v1/guard/authorize", body, auth="guard")
        eq(r.status, 200, "authorize %r" % r)
        eq(api("POST", "/v1/guard/settle", {"hold_id": r.json["hold_id"], "input_tokens": 1000 * (i + 1),
                                            "output_tokens": 200}, auth="guard").status, 200, "settle")
    r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 100,
                                            "max_output_tokens": 100, "request_id": uid("req")}, auth="guard")
    eq(r.status, 200, "a hold in flight %r" % r)


def visit_all(axe=True, shots=None):
    steps = []
    for v in VIEWS:
        steps += [{"hash": "#/" + v}, {"read": "h1-" + v, "sel": "main h1"}, {"count": "err-" + v, "sel": "main .error"}]
        if axe:
            steps.append({"axe": v})
        if shots:
            steps.append({"shot": "console-%s-%s" % (v, shots)})
    return steps


def test_the_page_and_its_headers():
    for path, ctype in (("", "text/html"), ("console.js", "application/javascript"),
                        ("console_account.js", "application/javascript"), ("console.css", "text/css")):
        r = api("GET", "/console/" + path, auth=None)
        eq(r.status, 200, "GET /console/%s" % path)
        check(r.headers.get("content-type", "").startswith(ctype), "%s: %r" % (path, r.headers.get("content-type")))
        eq(r.headers.get("content-security-policy"), CSP, "the CSP of /console/%s" % path)
        eq(r.headers.get("x-frame-options"), "DENY", "not framed")
        eq(r.headers.get("x-content-type-options"), "nosniff", "nosniff")
        eq(r.headers.get("referrer-policy"), "no-referrer", "no referrer")
        if path == "":
            eq(r.headers.get("cache-control"), "no-store", "the page is not stored")
            html = r.raw.decode()
            eq(re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html), [], "no inline script")
            eq(re.findall(r"\sstyle=|<style|\son[a-z]+=", html), [], "no inline style or handler")
            eq(re.findall(r"(?:src|href)=\"(?:https?:)?//", html), [], "nothing from another origin")
        else:
            etag = r.headers.get("etag")
            check(etag, "%s has an ETag" % path)
            check("no-store" not in r.headers.get("cache-control", ""), "an asset is revalidated, not refetched")
            again = api("GET", "/console/" + path, auth=None, headers={"If-None-Match": etag})
            eq(again.status, 304, "revalidated by its ETag")
            check(not re.search(rb"https?://(?!www\.w3\.org/2000/svg)", r.raw), "%s names no other origin" % path)


def test_admin_signs_in_visits_every_view_and_does_every_action_by_keyboard():
    acct = new_account("con")
    spend(acct, member="ann")
    before = acct_state(acct)
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"axe": "overview-first"}] + visit_all() + [
        {"hash": "#/accounts"}, {"fill": "#acc-q", "value": acct}, {"tab_to": "#acc-search-submit", "press": "Enter"},
        {"wait": "#acc-results[data-q='%s'] a" % acct, "text": acct},
        {"tab_to": "#acc-results a[href='#/accounts/%s']" % acct, "press": "Enter"}, {"wait_ready": True},
        {"read": "acc-h1", "sel": "main h1"}, {"axe": "account"},
        {"read": "balance", "sel": "[data-k=balance_micros] .v"}, {"read": "reserved", "sel": "[data-k=reserved_micros] .v"},
        {"count": "chart-bars", "sel": "#usage-chart rect.bar"}, {"count": "journal-rows", "sel": "#journal tbody tr"},
        {"tab_to": "#usage-model", "press": "Enter"}, {"wait": "#usage td", "text": "gpt-4o"},
        {"tab_to": "#usage-member", "press": "Enter"}, {"wait": "#usage td", "text": "ann"},
        {"fill": "#f-grant-amount", "value": "1.234567"}, {"fill": "#f-grant-description", "value": "console grant"},
        {"tab_to": "#f-grant-submit", "press": "Enter"}, {"wait": "#f-grant ~ .result.ok"},
        {"fill": "#f-debit-amount", "value": "0,5"}, {"fill": "#f-debit-reason", "value": "console debit"},
        {"tab_to": "#f-debit-submit", "press": "Enter"}, {"wait": "#f-debit ~ .result.ok"},
        {"fill": "#f-caps-monthly_limit_micros", "value": "50"}, {"fill": "#f-caps-daily_limit_micros", "value": "5.5"},
        {"tab_to": "#f-caps-submit", "press": "Enter"}, {"wait": "#f-caps ~ .result.ok"},
        {"select": "#f-alert-kind", "value": "balance_below"}, {"fill": "#f-alert-threshold", "value": "2"},
        {"tab_to": "#f-alert-submit", "press": "Enter"}, {"wait": "#f-alert ~ .result.ok"}, {"wait": "#alerts td", "text": "balance_below"},
        {"fill": "#f-gwkey-name", "value": "console laptop"}, {"fill": "#f-gwkey-member", "value": "ann"},
        {"tab_to": "#f-gwkey-submit", "press": "Enter"}, {"wait": "#f-gwkey ~ .result.ok .secret-value"},
        {"read": "gw-secret", "sel": "#f-gwkey ~ .result .secret-value"}, {"tab_to": "#f-gwkey ~ .result button.copy", "press": "Enter"},
        {"wait": "#f-gwkey ~ .result .secret [role=status]", "text": "Copied"}, {"eval": "clip", "js": "navigator.clipboard.readText()"},
        {"tab_to": "#f-status-submit", "press": "Enter"}, {"wait": "#acc-status", "text": "suspended"},
        {"shot": "console-account-1280-light-actions"},
    ])
    for v in VIEWS:
        eq(out["reads"]["err-" + v], 0, "the %s view shows its data, no error" % v)
        check(out["reads"]["h1-" + v], "the %s view has its heading" % v)
    eq(out["reads"]["acc-h1"], ["Account " + acct], "the account's page, reached from the search")
    eq(out["reads"]["balance"], [money_en(before["balance_micros"])], "the balance shown is the ledger's, exactly")
    eq(out["reads"]["reserved"], [money_en(before["reserved_micros"])], "the hold in flight is reserved")
    check(out["reads"]["chart-bars"] in (1, 2), "today's usage is a bar of the chart by day (two across midnight)")
    check(out["reads"]["journal-rows"] >= 4, "the journal: the bonus and the settles")
    after = acct_state(acct)
    rows = journal(acct)
    grant = [r for r in rows if r["description"] == "console grant"]
    eq([(r["amount_micros"], r["cause"]) for r in grant], [(1234567, "grant")], "the grant, once, exactly")
    debit = [r for r in rows if r["description"] == "console debit"]
    eq([r["amount_micros"] for r in debit], [-500000], "the debit, once ('0,5' read as 0.5)")
    eq(after["balance_micros"], before["balance_micros"] + 1234567 - 500000, "the balance moved by both")
    eq((after["monthly_limit_micros"], after["daily_limit_micros"]), (50000000, 5500000), "the limits set")
    eq((after["status"], after["status_reason"]), ("suspended", "manual"), "suspended")
    alerts = api("GET", "/v1/accounts/%s/alerts" % acct, auth="read").json["alerts"]
    eq([(a["kind"], a.get("micros")) for a in alerts], [("balance_below", 2000000)], "the alert set")
    keys = api("GET", "/v1/accounts/%s/gateway_keys" % acct).json["data"]
    secret = out["reads"]["gw-secret"][0]
    check(re.fullmatch(r"crd_[0-9a-f]{64}", secret), "the secret shown once: %r" % secret)
    eq([(k["name"], k["member"], k["prefix"]) for k in keys], [("console laptop", "ann", secret[:12])], "the key minted")
    eq(out["reads"]["clip"], secret, "the copy button copied the secret")
    for w in out["writes"]:
        eq(w["idem"], True, "every action sent an Idempotency-Key: %s %s" % (w["method"], w["path"]))

    # Then: resume, revoke the gateway key, and the other views' actions.
    ev = failed_delivery("conm")
    name, model = uid("key"), uid("console-model")
    # More keys before the one the console makes than GET /v1/keys answers
    # a page (50 unless asked, in id order): the view shows every page, so
    # the new key is listed and revoked by keyboard below (the view listed
    # the first page alone). Other files' keys on a shared stack come
    # before it too: Tab may go far.
    before = [api("POST", "/v1/keys", {"scopes": ["read"], "name": uid("filler")}).json["id"] for _ in range(60)]
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/prices"},
                 {"fill": "#f-price-model", "value": model}, {"fill": "#f-price-input", "value": "1.5"},
                 {"fill": "#f-price-output", "value": "6"}, {"fill": "#f-price-max", "value": "4096"},
                 {"tab_to": "#f-price-submit", "press": "Enter"}, {"wait": "#f-price ~ .result.ok"},
                 {"wait": "#prices-list td", "text": model},
                 {"tab_to": "#prices-list button.history[data-model='%s']" % model, "press": "Enter", "max": FAR},
                 {"wait": "#price-history td", "text": "€1.50"}, {"read": "history", "sel": "#price-history tbody tr"},
                 {"axe": "prices-history"}, {"hash": "#/events"}, {"wait": "#mails-list button.retry[data-id='%d']" % ev},
                 {"tab_to": "#mails-list button.retry[data-id='%d']" % ev, "press": "Enter", "max": FAR},
                 # The list drawn again once the retry is answered (its row gone).
                 {"until": "!document.querySelector(\"#mails-list button.retry[data-id='%d']\")" % ev},
                 {"count": "retry-left", "sel": "#mails-list button.retry[data-id='%d']" % ev},
                 {"hash": "#/accounts/" + acct},
                 {"select": "#journal-filter", "value": "topup"}, {"count": "topups", "sel": "#journal tbody tr"},
                 {"select": "#journal-filter", "value": "all"}, {"count": "all-rows", "sel": "#journal tbody tr"},
                 {"tab_to": "#alerts button.alert-remove", "press": "Enter"}, {"wait": "#alerts .empty"},
                 {"tab_to": "#f-status-submit", "press": "Enter"}, {"wait": "#acc-status", "text": "active"},
                 {"tab_to": "#gwkeys button.gw-revoke", "press": "Enter"}, {"wait": "#gwkeys .empty"},
                 {"hash": "#/keys"}, {"fill": "#f-key-name", "value": name}, {"check": "#f-key-scopes-read"},
                 {"tab_to": "#f-key-submit", "press": "Enter"}, {"wait": "#f-key ~ .result.ok .secret-value"},
                 {"read": "key-secret", "sel": "#f-key ~ .result .secret-value"}, {"axe": "keys-created"}])
    row = [m for m in api("GET", "/v1/models", auth="read").json["data"] if m["model"] == model]
    eq([(m["input_micros_per_mtok"], m["output_micros_per_mtok"], m["max_output_tokens"]) for m in row],
       [(1500000, 6000000, 4096)], "the price set")
    eq(len(out["reads"]["history"]), 1, "its history: one price")
    eq(out["reads"]["retry-left"], 0, "the delivery retried is no longer listed as failed")
    check(sql("SELECT state FROM events WHERE id = %d" % ev)[0][0] != "failed", "the push is due again")
    eq(out["reads"]["topups"], 0, "no top-up among the journal's rows")
    eq(out["reads"]["all-rows"], len(journal(acct)), "every row again")
    eq(api("GET", "/v1/accounts/%s/alerts" % acct, auth="read").json["alerts"], [], "the alert removed")
    eq(acct_state(acct)["status"], "active", "resumed")
    eq(api("GET", "/v1/accounts/%s/gateway_keys" % acct).json["data"], [], "the gateway key revoked")
    ksecret = out["reads"]["key-secret"][0]
    eq(api("GET", "/v1/models", auth=ksecret).status, 200, "the key created works (read)")
    eq(api("POST", "/v1/accounts", {"id": uid("no"), "kind": "user"}, auth=ksecret).status, 403, "and reads only")
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/keys"},
                 {"tab_to": "#keys-list button.revoke[aria-label$='%s']" % name, "press": "Enter", "max": FAR},
                 {"until": "!document.querySelector(\"#keys-list button.revoke[aria-label$='%s']\")" % name},
                 {"count": "still", "sel": "#keys-list button.revoke[aria-label$='%s']" % name}])
    eq(out["reads"]["still"], 0, "the key's row is gone")
    eq(api("GET", "/v1/models", auth=ksecret).status, 401, "the key revoked")
    for k in before:
        eq(api("DELETE", "/v1/keys/%s" % k).status, 200, "a filler key revoked")


def test_accounts_are_searched_and_paged_by_keyboard():
    prefix = uid("pg")
    ids = sorted("%s-%02d" % (prefix, i) for i in range(27))
    for i in ids:
        eq(api("POST", "/v1/accounts", {"id": i, "kind": "user"}).status, 201, "account")
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts"}, {"fill": "#acc-q", "value": prefix},
                 # The first row is the search's (the list before it may hold ids[0] further down).
                 {"tab_to": "#acc-search-submit", "press": "Enter"},
                 {"wait": "#acc-results[data-q='%s'] tbody tr:first-child td:first-child a" % prefix, "text": ids[0]},
                 {"read": "page1", "sel": "#acc-results tbody td:first-child"},
                 {"tab_to": "#acc-next", "press": "Enter"}, {"wait": "#acc-results a", "text": ids[-1]},
                 {"read": "page2", "sel": "#acc-results tbody td:first-child"}, {"count": "next", "sel": "#acc-next"},
                 {"tab_to": "#acc-prev", "press": "Enter"}, {"wait": "#acc-results a", "text": ids[0]},
                 {"count": "back", "sel": "#acc-results tbody tr"}])
    eq(out["reads"]["page1"], ids[:25], "the first page: 25, in id order")
    eq(out["reads"]["page2"], ids[25:], "the next page: the rest")
    eq((out["reads"]["next"], out["reads"]["back"]), (0, 25), "no page after the last; back to the first")


def test_signout_and_a_wrong_key():
    out = drive([{"signin": "crd_" + "0" * 64, "expect_fail": True}, {"read": "msg", "sel": "#signin-msg"},
                 {"eval": "stored", "js": "JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"}])
    eq(out["reads"]["msg"], ["This key cannot sign in."], "a wrong key is told so")
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]},
                 {"eval": "stored", "js": "JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"},
                 {"tab_to": "#signout", "press": "Enter"}, {"wait": "#signin-key"},
                 {"eval": "after", "js": "fetch('session', {credentials: 'same-origin'}).then((r) => r.status)"}])
    check(ENV["CREDITD_ADMIN_KEY"] not in out["reads"]["stored"], "the key is not kept in the browser")
    eq(out["reads"]["after"], 401, "signed out: the session is gone")


def test_a_read_keys_console_shows_no_action_and_a_forced_write_is_refused():
    acct = new_account("conr")
    before = acct_state(acct)
    grant = json.dumps({"amount_micros": 1000000, "source": "adjustment", "description": "forced"})
    forced = ("fetch('session').then((r) => r.json()).then((s) => fetch('api/v1/accounts/%s/grants', {method: 'POST', "
              "credentials: 'same-origin', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf, "
              "'Idempotency-Key': crypto.randomUUID()}, body: %s})).then((r) => r.status)" % (acct, json.dumps(grant)))
    out = drive([{"signin": ENV["CREDITD_READ_KEY"]}, {"read": "who", "sel": "#who"}] + visit_all(axe=False) + [
        {"hash": "#/accounts/" + acct}, {"read": "acc-h1", "sel": "main h1"},
        {"count": "acc-forms", "sel": "main form.act"}, {"count": "acc-buttons", "sel": "main button.danger, #f-status-submit"},
        {"hash": "#/keys"}, {"count": "key-forms", "sel": "main form.act, main button.revoke"},
        {"hash": "#/prices"}, {"count": "price-forms", "sel": "main form.act"},
        {"hash": "#/events"}, {"count": "retry", "sel": "main button.retry"},
        {"eval": "forced", "js": forced}, {"axe": "read-account"}])
    check("read" in out["reads"]["who"][0], "the session says read: %r" % out["reads"]["who"])
    eq(out["reads"]["acc-h1"], ["Account " + acct], "the account is shown")
    eq((out["reads"]["acc-forms"], out["reads"]["acc-buttons"], out["reads"]["key-forms"], out["reads"]["price-forms"],
        out["reads"]["retry"]), (0, 0, 0, 0, 0), "no action shown to a read key")
    eq(out["reads"]["forced"], 403, "a write forced from a read key's page is refused")
    eq(acct_state(acct)["balance_micros"], before["balance_micros"], "the ledger unchanged")


FORGED = """<!doctype html><html><head><meta charset="utf-8"><title>another site</title></head><body>
<p id="out">…</p>
<form id="f" method="POST" enctype="text/plain" target="sink" action="%(url)sapi/v1/accounts/%(acct)s/grants">
<input type="hidden" name='{"amount_micros":3000000,"source":"adjustment","description":"forged form","x":"' value='"}'></form>
<iframe name="sink" title="sink"></iframe>
<script>
const url = "%(url)sapi/v1/accounts/%(acct)s/grants";
const body = JSON.stringify({amount_micros: 1000000, source: "adjustment", description: "forged"});
const seen = [];
(async () => {
  try { const r = await fetch(url, {method: "POST", credentials: "include", mode: "no-cors",
        headers: {"Content-Type": "text/plain"}, body}); seen.push("no-cors:" + r.type); } catch (e) { seen.push("no-cors:error"); }
  try { const r = await fetch(url, {method: "POST", credentials: "include",
        headers: {"Content-Type": "application/json", "Idempotency-Key": "forged-1"}, body}); seen.push("cors:" + r.status); }
  catch (e) { seen.push("cors:refused"); }
  document.getElementById("f").submit();
  setTimeout(() => { document.getElementById("out").textContent = seen.join(" "); document.body.id = "done"; }, 1500);
})();
</script></body></html>"""


def test_a_write_forged_from_another_origin_is_refused():
    acct = new_account("conf")
    before, rows = acct_state(acct), len(journal(acct))
    page = (FORGED % {"url": console_url(), "acct": acct}).encode()
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *a):
            seen.append(a)

    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"goto": "http://127.0.0.1:%d/forged.html" % port},
                     {"wait": "body#done"}, {"read": "seen", "sel": "#out"}, {"goto": console_url()}, {"wait_ready": True},
                     {"read": "view", "sel": "main h1"}])
    finally:
        srv.shutdown()
        srv.server_close()
    check(seen, "the other origin's page was served")
    posts = [q for q in out["requests"] if q.startswith("POST ") and "/grants" in q]
    check(len(posts) >= 2, "the browser sent the forged writes: %r" % posts)
    eq(out["reads"]["view"], ["Overview"], "the operator was signed in all along")
    check(any("frame-ancestors" in c for c in out["console"]), "the console's answer refused to be framed: %r" % out["console"])
    eq(acct_state(acct)["balance_micros"], before["balance_micros"], "no forged write changed the balance")
    eq(len(journal(acct)), rows, "nor the journal")


def test_french_dark_narrow_screenshots_and_accessibility():
    acct = new_account("cons")
    spend(acct, n=4, member="bob")
    me = acct_state(acct)
    shots = []
    for width in (1280, 390):
        for dark in (False, True):
            tag = "%d-%s" % (width, "dark" if dark else "light")
            steps = [{"signin": ENV["CREDITD_ADMIN_KEY"]}] + visit_all(axe=True, shots=tag) + [
                {"hash": "#/accounts/" + acct}, {"axe": "account-" + tag}, {"shot": "console-account-" + tag},
                {"eval": "wide", "js": "document.documentElement.scrollWidth <= window.innerWidth + 1"},
                {"eval": "bg", "js": "getComputedStyle(document.documentElement).backgroundColor"}]
            out = drive(steps, width=width, dark=dark)
            shots += out["shots"]
            eq(out["reads"]["wide"], True, "%s: the page does not scroll sideways" % tag)
            dark_bg = sum(int(x) for x in re.findall(r"\d+", out["reads"]["bg"])[:3]) < 200
            eq(dark_bg, dark, "%s: the scheme follows prefers-color-scheme (%s)" % (tag, out["reads"]["bg"]))
    for s in shots:
        check(os.path.getsize(s) > 5000, "screenshot %s" % s)
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"read": "nav", "sel": "#nav a"},
                 {"eval": "lang", "js": "document.documentElement.lang"}, {"hash": "#/accounts/" + acct},
                 {"read": "balance", "sel": "[data-k=balance_micros] .v"}, {"read": "h1", "sel": "main h1"},
                 {"axe": "account-fr"}, {"shot": "console-account-1280-light-fr"},
                 {"tab_to": "#theme", "press": "Enter"}, {"eval": "toggled", "js": "document.documentElement.dataset.theme"},
                 {"tab_to": "#lang", "press": "Enter"}, {"wait_ready": True}, {"read": "h1-en", "sel": "main h1"}],
                lang="fr-FR")
    eq(out["reads"]["nav"][:3], ["Vue d’ensemble", "Comptes", "Clés"], "French navigation")
    eq(out["reads"]["lang"], "fr", "the page says it is French")
    eq(out["reads"]["h1"], ["Compte " + acct], "French headings")
    eq(out["reads"]["balance"], [money_fr(me["balance_micros"])], "French money, exact")
    eq(out["reads"]["toggled"], "dark", "the scheme's toggle, by keyboard")
    eq(out["reads"]["h1-en"], ["Account " + acct], "switched to English by keyboard")
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"reload": True},
                 {"tab_to": "#skip", "max": 1, "press": "Enter"}, {"eval": "focus", "js": "document.activeElement.id"}])
    eq(out["reads"]["focus"], "main", "the skip link, the first Tab, moves to the content")
    if os.environ.get("CONSOLE_SHOTS_TO_DOCS"):
        os.makedirs(DOCS, exist_ok=True)
        for s in shots + [os.path.join(OUT, "console-account-1280-light-fr.png")]:
            if "1280-light" in s or "-overview-" in s or "-account-" in s:
                shutil.copy(s, DOCS)
