"""test_95c_console_bad_input.py: the operator's console as a person uses it
with bad input and through failures, in Debian's chromium
(tests/browser/console.js, as test_95), written from the contract
(docs/operations.md, "Console"; docs/api.md, "Console sessions"): every
action given what a person mistypes (an empty field, letters or a negative
number in an amount, a fraction of a micro, an amount past int64, a very
long text, no scope, a list that is not one), a search for an account that
does not exist, wrong keys at sign-in until the address is throttled (429),
a read key's forged writes; each time an error shown under the action's
form that names the problem, in English and in French, the focus on the
field or the message, the form still usable, nothing changed in the ledger
(read back through the API), no serious axe-core violation, by keyboard
alone; then the session ended under the page (its row deleted) and the
database frozen for a moment: the page says so and recovers. Screenshots
of two error states at 1280 and 390 px wide (tests/browser/output/console/)."""
import json
import os
import signal

import stack
from lib import ENV, api, check, eq, new_account, sql, uid, wait_until
from test_27_auth_throttle import LIMIT, call, random_key, with_default_limit
from test_95_console_browser import FAR, OUT, acct_state, drive, failed_delivery, journal

# The result under a form: emptied before each try so a new answer is seen.
CLEAR = "(document.querySelectorAll('#%s ~ .result').forEach((n) => { n.textContent = ''; n.className = 'result'; }), 1)"
# The answer shown: the message an answer leaves (its class ok or err),
# not the "Loading…" the form shows while the request is out (the
# requests' end can come before the page has written the answer).
SHOWN = ("Array.from(document.querySelectorAll('#%s ~ .result')).some((n) => "
         "(n.classList.contains('ok') || n.classList.contains('err')) && n.innerText.trim() !== '')")
# What the person is left with: the message's class and whether it is
# announced, where the focus is, whether the form can be used again.
STATE = """(() => {
  const f = document.getElementById('%s'), r = f && f.parentElement.querySelector('#%s ~ .result');
  const a = document.activeElement, live = r && r.closest('[role=alert],[role=status],[aria-live]');
  const sub = document.getElementById('%s-submit');
  return {cls: r ? r.className : null, live: !!live, focus: a ? (a.id || a.className || a.tagName) : null,
          near: !!(a && (f.contains(a) || (r && r.contains(a)) || a === r)),
          invalid: Array.from(f.querySelectorAll('[aria-invalid=true]')).map((n) => n.id),
          usable: !!sub && !sub.disabled};
})()"""
LONG = "x" * 5000


def try_form(form, fills, name, checks=()):
    """Steps: fill the fields (a select by value, a box by Space), Tab to
    the form's submit, Enter, wait for its answer, read it and the state."""
    steps = [{"eval": "_", "js": CLEAR % form}]
    for sel, value in fills:
        if sel.startswith("select:"):
            steps.append({"select": sel[7:], "value": value})
        elif value is True:
            steps.append({"check": sel})
        else:
            steps.append({"fill": sel, "value": value, "paste": len(value) > 200})
    return steps + list(checks) + [{"tab_to": "#%s-submit" % form, "press": "Enter"}, {"until": SHOWN % form},
                                   {"read": name, "sel": "#%s ~ .result" % form},
                                   {"eval": name + "-state", "js": STATE % (form, form, form)}]


def refused(out, name, words, lang="en"):
    """The answer is an error, names the problem, is announced, and the
    focus is on the form's field or its message; the form can be used."""
    text = " ".join(out["reads"][name])
    st = out["reads"][name + "-state"]
    check(text, "%s: a message is shown" % name)
    check("ok" not in st["cls"].split(), "%s: shown as an error, not a success (%r: %r)" % (name, st["cls"], text))
    check(any(w.lower() in text.lower() for w in words), "%s: the message names the problem %r: %r" % (name, words, text))
    check(st["live"], "%s: the message is announced (role=alert or aria-live): %r" % (name, st))
    check(st["near"], "%s: the focus is on the form or its message, not lost: %r" % (name, st))
    check(st["usable"], "%s: the form can be used again" % name)
    return text


def seen(out, names):
    """Each case refused as refused() says; the messages written out
    beside the screenshots (bad-input-messages.json) to be read."""
    got = {name: refused(out, name, words) for name, words in names}
    path = os.path.join(OUT, "bad-input-messages.json")
    old = json.load(open(path)) if os.path.exists(path) else {}
    old.update(got)
    with open(path, "w") as f:
        json.dump(old, f, indent=1, ensure_ascii=False)


def snapshot(acct):
    a = acct_state(acct)
    return (a["balance_micros"], a["monthly_limit_micros"], a["daily_limit_micros"], a.get("overdraft_limit_micros"),
            a["status"], len(journal(acct)),
            json.dumps(api("GET", "/v1/accounts/%s/alerts" % acct, auth="read").json["alerts"], sort_keys=True),
            len(api("GET", "/v1/accounts/%s/gateway_keys" % acct).json["data"]))


def keys_now():
    ids, cursor = [], None
    while True:
        r = api("GET", "/v1/keys?limit=100" + ("&cursor=%s" % cursor if cursor else ""))
        eq(r.status, 200, "keys %r" % r)
        ids += [(k["id"], k["revoked_at"]) for k in r.json["data"]]
        if not r.json.get("has_more"):
            return sorted(ids)
        cursor = r.json["next_cursor"]


def prices_now():
    return json.dumps(api("GET", "/v1/models", auth="read").json["data"], sort_keys=True)


AMOUNTS = [("empty", "", ("required", "empty")), ("letters", "ten euros", ("amount", "number")),
           ("negative", "-5", ("positive", "negative", "greater", "above zero")),
           ("fraction", "0.0000015", ("amount", "micro", "decimal", "digits", "precision")),
           ("past-int64", "9223372036855", ("amount: an amount is digits", "range", "large", "exceed")),
           ("zero", "0", ("positive", "greater", "zero"))]


def account_cases(acct):
    steps, names = [], []
    for tag, value, words in AMOUNTS:
        steps += try_form("f-grant", [("#f-grant-amount", value), ("#f-grant-description", "bad " + tag)], "grant-" + tag)
        steps += try_form("f-debit", [("#f-debit-amount", value), ("#f-debit-reason", "bad " + tag)], "debit-" + tag)
        names += [("grant-" + tag, words), ("debit-" + tag, words)]
    steps += try_form("f-grant", [("#f-grant-amount", "1"), ("#f-grant-description", LONG)], "grant-long")
    names.append(("grant-long", ("description", "long", "characters", "length")))
    steps += try_form("f-debit", [("#f-debit-amount", "1"), ("#f-debit-reason", LONG)], "debit-long")
    names.append(("debit-long", ("reason", "long", "characters", "length")))
    steps += try_form("f-caps", [("#f-caps-monthly_limit_micros", "lots")], "caps-letters")
    names.append(("caps-letters", ("monthly", "limit", "number")))
    steps += try_form("f-caps", [("#f-caps-monthly_limit_micros", ""), ("#f-caps-daily_limit_micros", "-3")], "caps-negative")
    names.append(("caps-negative", ("daily", "limit", "negative", "positive")))
    steps += try_form("f-caps", [("#f-caps-daily_limit_micros", "99999999999999")], "caps-past-int64")
    names.append(("caps-past-int64", ("daily", "limit", "range", "large", "exceed")))
    steps += try_form("f-alert", [("select:#f-alert-kind", "balance_below"), ("#f-alert-threshold", "")], "alert-empty")
    names.append(("alert-empty", ("threshold", "amount", "micros", "required")))
    steps += try_form("f-alert", [("select:#f-alert-kind", "balance_below"), ("#f-alert-threshold", "two")], "alert-letters")
    names.append(("alert-letters", ("threshold", "amount", "number", "micros")))
    steps += try_form("f-gwkey", [("#f-gwkey-name", LONG)], "gwkey-long")
    names.append(("gwkey-long", ("name", "long", "characters", "length")))
    return steps, names


def test_every_account_action_refuses_bad_input_and_changes_nothing():
    acct = new_account("conbad")
    before = snapshot(acct)
    steps, names = account_cases(acct)
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts/" + acct}] + steps[:7] +
                [{"axe": "grant-error"}, {"shot": "console-error-grant-1280"}] + steps[7:] + [{"axe": "account-errors"}])
    seen(out, names)
    # An amount the page cannot read: that field marked invalid, and focused.
    for name, field in (("grant-letters", "f-grant-amount"), ("debit-negative", "f-debit-amount"),
                        ("caps-letters", "f-caps-monthly_limit_micros"), ("alert-letters", "f-alert-threshold")):
        st = out["reads"][name + "-state"]
        eq((st["invalid"], st["focus"]), ([field], field), "%s: the field named, marked invalid and focused" % name)
    eq(snapshot(acct), before, "nothing changed: balance, limits, status, journal, alerts, gateway keys")
    # The forms still work after all that: a grant by keyboard.
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts/" + acct}] +
                try_form("f-grant", [("#f-grant-amount", "ten"), ("#f-grant-description", "after")], "bad") +
                [{"shot": "console-error-grant-390"}] +
                try_form("f-grant", [("#f-grant-amount", "1.25"), ("#f-grant-description", "after")], "good"), width=390)
    refused(out, "bad", ("amount", "number"))
    check("ok" in out["reads"]["good-state"]["cls"].split(), "the same form then grants: %r" % out["reads"]["good"])
    eq(acct_state(acct)["balance_micros"], before[0] + 1250000, "the good grant, once")


def test_the_messages_are_french_in_a_french_console():
    acct = new_account("conbadfr")
    before = snapshot(acct)
    steps = []
    for tag, value in (("letters", "dix euros"), ("empty", ""), ("negative", "-5"), ("past-int64", "9223372036855")):
        steps += try_form("f-grant", [("#f-grant-amount", value), ("#f-grant-description", "fr")], "fr-" + tag)
    steps += try_form("f-caps", [("#f-caps-monthly_limit_micros", "beaucoup")], "fr-caps")
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts/" + acct}] + steps +
                [{"axe": "grant-error-fr"}], lang="fr-FR")
    en = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts/" + acct}] +
               try_form("f-grant", [("#f-grant-amount", "dix euros"), ("#f-grant-description", "en")], "en-letters") +
               try_form("f-grant", [("#f-grant-amount", "")], "en-empty"))
    fr_words = ("montant", "nombre", "requis", "vide", "positif", "négatif", "limite", "plafond", "trop")
    for name in ("fr-letters", "fr-empty", "fr-negative", "fr-caps"):
        refused(out, name, fr_words)
    refused(out, "fr-past-int64", ("montant : un montant",))
    for tag in ("letters", "empty"):
        check(out["reads"]["fr-" + tag] != en["reads"]["en-" + tag],
              "the console's own message is translated: %r / %r" % (out["reads"]["fr-" + tag], en["reads"]["en-" + tag]))
    eq(snapshot(acct), before, "nothing changed")


PRICES = (("price-nomodel", "#f-price-model", "", ("model: required", "model is required")),
          ("price-letters", "#f-price-input", "cheap", ("input per million",)),
          ("price-negative", "#f-price-output", "-2", ("output", "price", "amount", "negative", "positive")),
          ("price-maxfraction", "#f-price-max", "1.5", ("max", "tokens", "whole", "integer")),
          ("price-past-int64", "#f-price-input", "99999999999999", ("input per million", "range", "large", "exceed")))


def price(model):
    return [("#f-price-model", model), ("#f-price-input", "1"), ("#f-price-output", "2"), ("#f-price-max", "100")]


def imports(model):
    return (("import-empty", "", ("price", "list", "empty", "required", "json")),
            ("import-notjson", "gpt-4o costs 2", ("json", "list", "parse", "price")),
            ("import-badrow", json.dumps([{"model": model, "input_micros_per_mtok": -1}]),
             ("input_micros_per_mtok", "output", "max_output_tokens", "price", "row")))


def test_keys_prices_and_imports_refuse_bad_input():
    keys, prices = keys_now(), prices_now()
    model = uid("conbad-model")
    steps = (try_form("f-key", [("#f-key-name", "no scope")], "key-noscope") +
             try_form("f-key", [("#f-key-name", LONG), ("#f-key-scopes-read", True)], "key-long"))
    names = [("key-noscope", ("scope",)), ("key-long", ("name", "long", "characters", "length"))]
    n = len(steps)      # the keys' cases, then the prices' on their page
    steps += [s for tag, sel, value, words in PRICES for s in try_form("f-price", [
        (f, value if f == sel else v) for f, v in price(model)], tag)]
    steps += [s for tag, text, words in imports(model) for s in try_form("f-import", [("#f-import-prices", text)], tag)]
    names += [(tag, words) for tag, _, _, words in PRICES] + [(tag, words) for tag, _, words in imports(model)]
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/keys"}] + steps[:n] +
                [{"axe": "key-error"}, {"hash": "#/prices"}] + steps[n:] + [{"axe": "price-errors"}])
    seen(out, names)
    st = out["reads"]["price-nomodel-state"]
    eq((st["invalid"], st["focus"]), (["f-price-model"], "f-price-model"), "no model: that field marked and focused")
    eq(keys_now(), keys, "no key created")
    eq(prices_now(), prices, "no price set or imported")


def test_an_unknown_account_searched_or_opened():
    q = "no-such-" + uid("x")
    # The search's own answer (data-q), not the list before it: on a stack
    # without accounts that list has no link either.
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts"}, {"fill": "#acc-q", "value": q},
                 {"tab_to": "#acc-search-submit", "press": "Enter"}, {"wait": "#acc-results[data-q='%s']" % q},
                 {"read": "results", "sel": "#acc-results"}, {"count": "links", "sel": "#acc-results a"},
                 {"hash": "#/accounts/no-such-" + uid("y")}, {"read": "page", "sel": "main"}, {"axe": "account-missing"}])
    eq(out["reads"]["links"], 0, "no account listed")
    text = " ".join(out["reads"]["results"]).lower()
    check(any(w in text for w in ("no account", "nothing", "none", "no match", "no result")), "the search says none: %r" % text)
    page = " ".join(out["reads"]["page"]).lower()
    check("not found" in page or "no account" in page or "not_found" in page, "the page says no such account: %r" % page)


def test_sign_in_with_nothing_a_long_text_and_wrong_keys_until_throttled():
    # An empty key: the browser's own "fill out this field" on the field
    # (the sign-in's field is required), nothing sent.
    out = drive([{"goto": ENV["CREDITD_URL"] + "/console/"}, {"wait": "#signin-key"}, {"fill": "#signin-key", "value": ""},
                 {"tab_to": "#f-signin-submit", "max": 5, "press": "Enter"}, {"sleep": 500},
                 {"eval": "empty", "js": "document.querySelector('#signin-key').validationMessage"},
                 {"eval": "empty-focus", "js": "document.activeElement.id"},
                 {"signin": "k" * 3000, "paste": True, "expect_fail": True}, {"read": "long", "sel": "#signin-msg"}])
    check(out["reads"]["empty"], "an empty key is told so: %r" % out["reads"]["empty"])
    eq(out["reads"]["empty-focus"], "signin-key", "the focus on the empty field: %r" % out["reads"])
    eq(len([q for q in out["requests"] if q.startswith("POST ")]), 1, "the empty key was not sent (the long one was)")
    eq(out["reads"]["long"], ["This key cannot sign in."], "a long text is a wrong key")

    def run():
        shown = drive([{"signin": random_key(), "expect_fail": True}, {"read": "m1", "sel": "#signin-msg"},
                       {"signin": random_key(), "expect_fail": True}, {"signin": random_key(), "expect_fail": True},
                       {"read": "m3", "sel": "#signin-msg"}])
        eq(shown["reads"]["m3"], ["This key cannot sign in."], "a wrong key, the third time")
        for _ in range(LIMIT - 3):
            call(random_key())
        steps = [{"signin": random_key(), "expect_fail": True}, {"read": "throttled", "sel": "#signin-msg"},
                 {"eval": "focus", "js": "document.activeElement.id"}, {"axe": "signin-throttled"},
                 {"signin": ENV["CREDITD_ADMIN_KEY"], "expect_fail": True}, {"read": "good", "sel": "#signin-msg"}]
        en = drive(steps + [{"shot": "console-error-signin-1280"}])
        narrow = drive(steps[:2] + [{"shot": "console-error-signin-390"}], width=390)
        fr = drive(steps[:2] + [{"eval": "live", "js": "!!document.querySelector('#signin-msg').closest('[role=alert],[aria-live]')"}],
                   lang="fr-FR")
        msg = " ".join(en["reads"]["throttled"]).lower()
        check(any(w in msg for w in ("too many", "try again", "wait")), "the throttle is named: %r" % msg)
        check(msg != "this key cannot sign in.", "not told the key is wrong when throttled: %r" % msg)
        eq(en["reads"]["good"], en["reads"]["throttled"], "even the right key waits out the minute")
        eq(en["reads"]["focus"], "signin-key", "the focus back on the key's field")
        eq(narrow["reads"]["throttled"], en["reads"]["throttled"], "the same at 390 px")
        frmsg = " ".join(fr["reads"]["throttled"]).lower()
        check(any(w in frmsg for w in ("trop", "réessay", "attendez", "patientez")), "in French: %r" % frmsg)
        check(fr["reads"]["live"], "the message is announced")
        statuses = [q for q in en["requests"] if q.startswith("POST ") and q.endswith("/console/session")]
        check(statuses, "the sign-ins were sent")
    with_default_limit(run)


def test_a_read_keys_forged_writes_are_refused_and_change_nothing():
    acct = new_account("conbadr")
    before, keys, prices = snapshot(acct), keys_now(), prices_now()
    forge = ("fetch('session').then((r) => r.json()).then((s) => Promise.all(%s.map(([m, p, b]) => fetch(p, {method: m, "
             "credentials: 'same-origin', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf, "
             "'Idempotency-Key': crypto.randomUUID()}, body: b ? JSON.stringify(b) : undefined}).then((r) => r.status))))")
    calls = [["POST", "api/v1/accounts/%s/debits" % acct, {"amount_micros": 1000000, "reason": "forged"}],
             ["PATCH", "api/v1/accounts/%s" % acct, {"monthly_limit_micros": 1}],
             ["POST", "api/v1/accounts/%s/gateway_keys" % acct, {"name": "forged"}],
             ["POST", "api/v1/keys", {"scopes": ["admin"], "name": "forged"}],
             ["PUT", "api/v1/models/" + uid("forged"), {"input_micros_per_mtok": 1, "output_micros_per_mtok": 1,
                                                        "max_output_tokens": 1}],
             ["POST", "api/v1/models/import", {"models": []}]]
    out = drive([{"signin": ENV["CREDITD_READ_KEY"]}, {"hash": "#/accounts/" + acct},
                 {"count": "actions", "sel": "main form.act, main button.danger, main button.retry, main button.revoke"},
                 {"eval": "forged", "js": forge % json.dumps(calls)}])
    eq(out["reads"]["actions"], 0, "a read key's console shows no action")
    eq(out["reads"]["forged"], [403] * len(calls), "every forged write refused")
    eq((snapshot(acct), keys_now(), prices_now()), (before, keys, prices), "nothing changed")


def test_the_session_ended_under_the_page():
    acct = new_account("conbads")
    before = snapshot(acct)
    cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
    delete = "mariadb --defaults-file=%s creditd -e \"DELETE FROM console_sessions WHERE csrf = '$CSRF'\"" % cnf
    out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts/" + acct},
                 {"eval": "csrf", "js": "fetch('session').then((r) => r.json()).then((s) => s.csrf)"},
                 {"sh": delete, "env": {"CSRF": "csrf"}}, {"fill": "#f-grant-amount", "value": "3"},
                 {"fill": "#f-grant-description", "value": "after the end"},
                 {"tab_to": "#f-grant-submit", "press": "Enter"},
                 {"until": "!!document.querySelector('#signin-key') && document.querySelector('#signin-key').checkVisibility()"},
                 {"read": "said", "sel": "#signin-msg"}, {"eval": "focus", "js": "document.activeElement.id"},
                 {"axe": "session-ended"}, {"eval": "hash", "js": "location.hash"},
                 {"fill": "#signin-key", "value": ENV["CREDITD_ADMIN_KEY"]}, {"tab_to": "#f-signin-submit", "press": "Enter"},
                 {"wait": "main h1", "text": "Account " + acct}, {"read": "back", "sel": "main h1"}])
    said = " ".join(out["reads"]["said"]).lower()
    check(any(w in said for w in ("session", "signed out", "expired", "ended", "sign in again")),
          "the page says the session ended: %r" % said)
    eq(out["reads"]["focus"], "signin-key", "the focus on the key's field")
    eq(out["reads"]["hash"], "#/accounts/" + acct, "the address kept")
    eq(out["reads"]["back"], ["Account " + acct], "signed in again, back on the account")
    eq(snapshot(acct), before, "the grant sent after the end was not made")


def test_the_database_away_for_a_moment():
    acct = new_account("conbaddb")
    before = snapshot(acct)
    pid = stack.mariadbd_pid()
    try:
        out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/accounts/" + acct},
                     {"sh": "kill -STOP %d" % pid}, {"sleep": 2500}] +
                    try_form("f-grant", [("#f-grant-amount", "2"), ("#f-grant-description", "while away")], "away") +
                    [{"axe": "database-away"}, {"sh": "kill -CONT %d" % pid}, {"sleep": 2500}] +
                    try_form("f-grant", [("#f-grant-amount", "2"), ("#f-grant-description", "back")], "back") +
                    [{"hash": "#/health"}, {"read": "health", "sel": "main"}])
    finally:
        os.kill(pid, signal.SIGCONT)
    refused(out, "away", ("unavailable", "database", "try again", "moment"))
    check("ok" in out["reads"]["back-state"]["cls"].split(), "the same form works once it is back: %r" % out["reads"]["back"])
    rows = [r for r in journal(acct) if r["description"] in ("while away", "back")]
    eq([r["description"] for r in rows], ["back"], "only the grant sent once it was back")
    eq(acct_state(acct)["balance_micros"], before[0] + 2000000, "the balance moved once")
    check(os.path.exists(os.path.join(OUT, "console-error-grant-1280.png")), "the screenshots were written")


# A message shown beside a row's or the status's button: the nearest
# enclosing element (up to three up) holding a visible error with text,
# not one shown before the button was pressed (OLD marks those: three up
# from the status button is main, which holds an earlier row's error).
OLD = "(document.querySelectorAll('.error, .result.err, [role=alert]').forEach((x) => { x.dataset.old = '1'; }), 1)"
NEAR = """(() => {
  const b = document.querySelector(%s);
  for (let n = b && b.parentElement, i = 0; n && i < 3; n = n.parentElement, i++) {
    const e = Array.from(n.querySelectorAll('.error, .result.err, [role=alert]')).find((x) => !x.dataset.old && x.checkVisibility() && x.innerText.trim());
    if (e) return e.innerText.trim();
  }
  return '';
})()"""


def beside(sel, name):
    """Steps: Tab to the button SEL (past every row of a list before it),
    Enter, wait for a new message beside it."""
    js = NEAR % json.dumps(sel)
    return [{"eval": "_", "js": OLD}, {"tab_to": sel, "press": "Enter", "max": FAR}, {"until": js}, {"eval": name, "js": js},
            {"eval": name + "-focus", "js": "document.activeElement === document.querySelector(%s)" % json.dumps(sel)}]


def test_a_rows_or_the_status_button_that_fails_says_so_beside_it():
    """The gateway key revoked meanwhile (404), and with the database away
    for a moment: a delivery's retry, suspend, an alert's removal (503).
    Each says so beside its button, not only to a screen reader."""
    acct = new_account("conbadrow")
    eq(api("PUT", "/v1/accounts/%s/alerts" % acct, {"alerts": [{"kind": "balance_below", "micros": 1}]}).status, 200, "an alert")
    gw = api("POST", "/v1/accounts/%s/gateway_keys" % acct, {"name": "laptop"}, auth="app").json["id"]
    ev = failed_delivery("conbadrowm")
    before = snapshot(acct)
    revoke = ("fetch('session').then((r) => r.json()).then((s) => fetch('api/v1/accounts/%s/gateway_keys/%s', {method: 'DELETE', "
              "credentials: 'same-origin', headers: {'X-CSRF-Token': s.csrf}})).then((r) => r.status)" % (acct, gw))
    pid = stack.mariadbd_pid()
    try:
        out = drive([{"signin": ENV["CREDITD_ADMIN_KEY"]}, {"hash": "#/events"}, {"sh": "kill -STOP %d" % pid}, {"sleep": 2500}] +
                    beside("#mails-list button.retry[data-id='%d']" % ev, "retry") +
                    [{"sh": "kill -CONT %d" % pid}, {"sleep": 2500}, {"hash": "#/accounts/" + acct},
                     {"eval": "meanwhile", "js": revoke}] +
                    beside("#gwkeys button.gw-revoke", "gw") +
                    [{"sh": "kill -STOP %d" % pid}, {"sleep": 2500}] + beside("#f-status-submit", "status") +
                    beside("#alerts button.alert-remove", "alert") + [{"axe": "row-errors"}, {"shot": "console-error-rows-1280"},
                                                                       {"sh": "kill -CONT %d" % pid}])
    finally:
        os.kill(pid, signal.SIGCONT)
    # The watchdog answers 503 at once until its next look finds the
    # database back (every LIMIT_HEALTH_INTERVAL_MS): the page's last step
    # resumed it, so the rows below wait for that look first.
    check(wait_until(lambda: api("GET", "/healthz", auth=None).status == 200, timeout=15), "the database back")
    eq(sql("SELECT state FROM events WHERE id = %d" % ev), [["failed"]], "the delivery not retried while away")
    for name, words in (("gw", ("not_found", "not found", "revoked")), ("status", ("unavailable", "503")),
                        ("retry", ("unavailable", "503")),
                        ("alert", ("unavailable", "503"))):
        check(any(w in out["reads"][name].lower() for w in words), "%s: beside its button: %r" % (name, out["reads"][name]))
        check(out["reads"][name + "-focus"], "%s: the focus stays on the button" % name)
    after = snapshot(acct)
    eq(after[:7], before[:7], "nothing changed but the gateway key revoked meanwhile")
    eq(after[7], 0, "that key revoked")
