"""test_88_mail.py: alerts by email (DESIGN §14): with [email] smtp_url
pointing at a local SMTP sink this test starts (Python's standard library
only; no mail leaves the machine), each event of a type [email] events
names, on an account with an email, is mailed to it from the outbox: an
RFC 5322 message (parsed with Python's email package, strict policy) with
Date, From, To, a Subject of its type, a Message-ID of its event that a
resend after a 451 keeps (and `creditctl events retry` after it was given
up), text and HTML parts in English or French with
the account, the event's figures, its balance and the top-up link; the
HTML rendered in headless chromium (a screenshot in tests/browser/output/).
One mail per event with two creditd processes mailing from one outbox;
none for an account without an email nor for a type not listed; the
account's email set, shown, cleared and checked by the API; plain SMTP to
another host than loopback refused at start. The nginx-side creditd is
restarted with an [email] section (test_82's way) and started again as the
stack has it."""
import email
import email.utils
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import stack
from lib import ENV, Fail, api, check, creditctl, eq, new_account, sql, uid, wait_until
from smtp_sink import Sink, parse
from test_56_push import redeem_events
from test_70_metrics import RULES, promtool

FROM = "alerts@creditd.test"
TOPUP = "https://app.example/topup?account={account}&src=mail"
BROWSER_DIR = os.path.join(stack.ROOT, "tests", "browser")
OUT = os.path.join(BROWSER_DIR, "output")


def mail_conf(port, extra=""):
    conf = stack.path("creditd-mail.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf, "a") as f:
        f.write("\n[email]\nsmtp_url = smtp://127.0.0.1:%d\nfrom = %s\nevents = balance.low, payg.failed\n"
                "topup_url = %s\nretry_hours = 1\n%s" % (port, FROM, TOPUP, extra))
    os.chmod(conf, 0o600)
    return conf


def restart_with_mail(port, extra=""):
    conf = mail_conf(port, extra)
    stack.creditd_kill9()
    stack.creditd_start(config=conf)
    return conf


def restart_without_mail():
    stack.creditd_kill9()
    stack.creditd_start()


def addr():
    return "%s@example.com" % uid("m").replace("-", ".")


def low_event(acct):
    """Makes acct's balance.low (a threshold above what it has) and
    returns the event's id."""
    start = int(sql("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])
    bal = api("GET", "/v1/accounts/" + acct, auth="read").json["available_micros"]
    eq(api("PATCH", "/v1/accounts/" + acct, {"low_balance_micros": bal + 2500000}).status, 200, "threshold")
    rows = sql("SELECT id FROM events WHERE id > %d AND account = '%s' AND type = 'balance.low'" % (start, acct))
    eq(len(rows), 1, "a balance.low")
    return int(rows[0][0])


def mail_row(event_id):
    rows = sql("SELECT state, attempts, last_error FROM event_mails WHERE event_id = %d" % event_id)
    return rows[0] if rows else None


def cursor_past(event_id):
    return wait_until(lambda: int(sql("SELECT last_event_id FROM mail_cursor")[0][0]) >= event_id, timeout=15)


def metric(name):
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r"^%s (\d+)$" % name, text, re.M)
    check(m is not None, "%s in /metrics" % name)
    return int(m.group(1))


def lines_ok(raw):
    """Every line CRLF-ended and at most 998 bytes (RFC 5322 2.1.1)."""
    lines = raw.split(b"\r\n")
    return all(b"\n" not in l and b"\r" not in l and len(l) <= 998 for l in lines)


def euros(micros, sep="."):
    whole, frac = divmod(micros, 1000000)
    digits = ("%06d" % frac).rstrip("0").ljust(2, "0")
    return "%d%s%s EUR" % (whole, sep, digits)


def render(name, html):
    for need in (shutil.which("node"), "/usr/bin/chromium-headless-shell", os.path.join(BROWSER_DIR, "node_modules",
                                                                        "puppeteer-core")):
        if need is None or not os.path.exists(need):
            raise Fail("browser test tooling missing (%s): ./dev installs chromium-headless-shell, nodejs and puppeteer-core" % need)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "mail_shot.js"),
                        json.dumps({"file": path, "out": OUT, "name": name})],
                       capture_output=True, text=True, timeout=120, cwd=BROWSER_DIR)
    if p.returncode != 0:
        raise Fail("mail_shot.js failed: %s" % p.stderr[-2000:])
    return json.loads(p.stdout)


def test_the_account_email_is_set_shown_cleared_and_checked():
    to = addr()
    acct = new_account("mailapi", email=to)
    eq(api("GET", "/v1/accounts/" + acct, auth="read").json["email"], to, "set at creation, shown")
    other = new_account("mailapi")
    eq(api("GET", "/v1/accounts/" + other, auth="read").json["email"], None, "null when none")
    r = api("PATCH", "/v1/accounts/" + other, {"email": "ops@example.org"})
    eq((r.status, r.json["email"]), (200, "ops@example.org"), "set by PATCH, in its answer")
    eq(api("GET", "/v1/accounts/" + other, auth="read").json["email"], "ops@example.org", "and on GET")
    eq(api("PATCH", "/v1/accounts/" + other, {"plan": None}).json["email"], "ops@example.org",
       "another field's patch leaves it")
    r = api("PATCH", "/v1/accounts/" + other, {"email": None})
    eq((r.status, r.json["email"]), (200, None), "cleared by null")
    for bad in ("ann", "ann@example.com\r\nBcc: eve@example.com", "Ann <ann@example.com>", "\"a b\"@example.com",
                "a@" + "b" * 250 + ".com", 5, "ann@[127.0.0.1]"):
        r = api("PATCH", "/v1/accounts/" + other, {"email": bad})
        eq(r.status, 400, "refused: %r" % (bad,))
        eq(r.json["error"]["param"], "email", "param email: %r" % r.json)
    r = api("POST", "/v1/accounts", {"id": uid("mailapi"), "kind": "user", "email": "no at all"})
    eq((r.status, r.json["error"]["param"]), (400, "email"), "refused at creation too")
    eq(api("GET", "/v1/accounts/" + other, auth="read").json["email"], None, "a refusal changes nothing")


def test_alerts_are_mailed_with_their_figures_link_and_a_stable_message_id():
    sink = Sink()
    try:
        restart_with_mail(sink.port)
        sent0, failed0 = metric("creditd_mail_sent_total"), metric("creditd_mail_failures_total")
        to = addr()
        acct = new_account("mail", email=to)
        ev = low_event(acct)
        check(wait_until(lambda: sink.to(to), timeout=20), "mailed: %r" % mail_row(ev))
        raw = sink.raw_to(to)[0][0]
        check(lines_ok(raw), "CRLF lines of at most 998 bytes")
        m = sink.to(to)[0]
        eq(m["From"], FROM, "From: [email] from")
        eq(m["To"], to, "To: the account's email")
        eq(str(m["Subject"]), "Low balance on account %s" % acct, "the type's Subject")
        eq(m["Message-ID"], "<creditd.event.%d@creditd.test>" % ev, "a Message-ID of the event")
        sent_at = email.utils.parsedate_to_datetime(str(m["Date"])).timestamp()
        from lib import clock_now
        check(abs(sent_at - clock_now()) < 60, "Date: now (%s)" % m["Date"])
        eq(m.get_content_type(), "multipart/alternative", "two alternatives")
        text, html = m.get_body(("plain",)), m.get_body(("html",))
        check(text is not None and html is not None, "a text part and an HTML part")
        eq((text.get_content_charset(), html.get_content_charset()), ("utf-8", "utf-8"), "UTF-8")
        data = api("GET", "/v1/events?after=%d&limit=1" % (ev - 1)).json["data"][0]["data"]
        now = api("GET", "/v1/accounts/" + acct, auth="read").json
        body = text.get_content()
        for want in ("Account: %s" % acct, "Available: %s" % euros(data["available_micros"]),
                     "Threshold: %s" % euros(data["threshold_micros"]), "Balance: %s" % euros(data["balance_micros"]),
                     "Balance now: %s" % euros(now["balance_micros"]), "balance.low #%d" % ev,
                     "Top up: " + TOPUP.replace("{account}", urllib.parse.quote(acct, safe=""))):
            check(want in body, "the text says %r: %s" % (want, body))
        eq(mail_row(ev)[:2], ["sent", "1"], "marked sent after one attempt")
        eq(metric("creditd_mail_sent_total") - sent0, 1, "creditd_mail_sent_total counts it")

        seen = render("mail-en", html.get_content())
        link = TOPUP.replace("{account}", urllib.parse.quote(acct, safe=""))
        eq(seen["links"], [["Top up the account", link]], "one link, the top-up's, whole")
        check(["Available", euros(data["available_micros"])] in seen["rows"], "the figures shown: %r" % seen["rows"])
        eq(seen["lang"], "en", "in English")
        eq(seen["scripts"], 0, "no script")
        eq([r for r in seen["requests"] if not r.startswith("file:")], [], "nothing fetched from the network")

        # The sink refuses once (451): sent again, with the same Message-ID.
        to2 = addr()
        acct2 = new_account("mail", email=to2)
        with sink.lock:
            sink.plan[to2] = ["451"]
        ev2 = low_event(acct2)
        check(wait_until(lambda: sink.to(to2), timeout=30), "taken the second time: %r" % mail_row(ev2))
        tries = sink.raw_to(to2)
        eq([code for _, code in tries], [451, 250], "refused once, then taken")
        ids = [parse(r)["Message-ID"] for r, _ in tries]
        eq(ids, ["<creditd.event.%d@creditd.test>" % ev2] * 2, "the resend keeps its Message-ID")
        row = mail_row(ev2)
        eq((row[0], row[1], row[2]), ("sent", "2", "NULL"), "two attempts, the error cleared")
        eq(metric("creditd_mail_failures_total") - failed0, 1, "creditd_mail_failures_total counts the 451")
        p = creditctl("events", "list", "--after", str(ev2 - 1), "--limit", "1")
        line = p.stdout.splitlines()[0].split("\t")
        eq(line[0], str(ev2), "creditctl events lists it")
        check("mail=sent" in line and "mail_attempts=2" in line, "with its mail beside the push: %r" % line)

        # No email, or a type not listed: nothing mailed.
        acct3 = new_account("mail")
        ev3 = low_event(acct3)
        promo = redeem_events(acct)[-1]
        check(cursor_past(max(ev3, promo)), "the mailer read past both")
        eq((mail_row(ev3), mail_row(promo)), (None, None), "no mail for either")
        with sink.lock:
            eq([g for g in sink.got if acct3 in g[2].decode("ascii", "replace")], [], "none sent")
        eq(len(sink.to(to)), 1, "the promo.redeemed of an account with an email is not mailed")
        p = creditctl("events", "list", "--after", str(ev3 - 1), "--limit", "1")
        check(p.stdout.rstrip("\n").endswith("\tmail=-"), "creditctl: not mailed: %r" % p.stdout)
    finally:
        sink.close()
        restart_without_mail()


def test_french_mails():
    sink = Sink()
    try:
        restart_with_mail(sink.port, "locale = fr\n")
        to = addr()
        acct = new_account("mailfr", email=to)
        ev = low_event(acct)
        check(wait_until(lambda: sink.to(to), timeout=20), "mailed: %r" % mail_row(ev))
        raw = sink.raw_to(to)[0][0]
        check(lines_ok(raw), "CRLF lines of at most 998 bytes")
        m = sink.to(to)[0]
        eq(str(m["Subject"]), "Solde bas sur le compte %s" % acct, "a French Subject")
        data = api("GET", "/v1/events?after=%d&limit=1" % (ev - 1)).json["data"][0]["data"]
        body = m.get_body(("plain",)).get_content()
        for want in ("Compte : %s" % acct, "Disponible : %s" % euros(data["available_micros"], ","),
                     "Seuil : %s" % euros(data["threshold_micros"], ","), "Solde actuel : ",
                     "Recharger : https://app.example/topup?account="):
            check(want in body, "the French text says %r: %s" % (want, body))
        seen = render("mail-fr", m.get_body(("html",)).get_content())
        eq(seen["lang"], "fr", "in French")
        eq([l[0] for l in seen["links"]], ["Recharger le compte"], "the link's words")
        check("Le solde disponible du compte %s est passé sous son seuil d'alerte." % acct in seen["text"],
              "the lead, accents whole: %r" % seen["text"])
    finally:
        sink.close()
        restart_without_mail()


def test_two_creditd_processes_mail_each_event_once():
    sink = Sink()
    sink.delay = 0.2
    second = None
    try:
        conf = restart_with_mail(sink.port)
        sock = stack.path("creditd-mail2.sock")
        second = stack.start("creditd-mail2", [os.path.join(stack.ROOT, "creditd"), "-c", conf, "--listen",
                                               "unix:" + sock], env={"CREDITD_BASE_PATH": "/"})
        check(wait_until(lambda: os.path.exists(sock), timeout=15), "the second creditd listens")
        tos = [addr() for _ in range(10)]
        accts = [new_account("mail2", email=t) for t in tos]
        evs = [low_event(a) for a in accts]
        check(wait_until(lambda: all(mail_row(e) and mail_row(e)[0] == "sent" for e in evs), timeout=40),
              "all sent: %r" % [mail_row(e) for e in evs])
        time.sleep(1.5)     # a second copy would be on its way by now: the sink is fast
        for t, e in zip(tos, evs):
            got = sink.to(t)
            eq([g["Message-ID"] for g in got], ["<creditd.event.%d@creditd.test>" % e], "one mail for event %d" % e)
    finally:
        if second is not None:
            second.kill()
            second.wait()
            stack.forget("creditd-mail2")
        sink.close()
        restart_without_mail()


def test_plain_smtp_to_another_host_is_refused_at_start():
    conf = mail_conf(25, "tls = none\n")
    with open(conf) as f:
        text = f.read().replace("smtp://127.0.0.1:25", "smtp://mail.example.com:25")
    with open(conf, "w") as f:
        f.write(text)
    p = subprocess.run([os.path.join(stack.ROOT, "creditd"), "-c", conf, "--check-config"], capture_output=True,
                       text=True, timeout=10)
    check(p.returncode != 0, "refused")
    check("email.tls = none (plain SMTP) is only for smtp:// to 127.0.0.1" in p.stderr, "saying why: %r" % p.stderr)
    with open(conf, "w") as f:
        f.write(text.replace("tls = none\n", ""))
    p = subprocess.run([os.path.join(stack.ROOT, "creditd"), "-c", conf, "--check-config"], capture_output=True,
                       text=True, timeout=10)
    eq(p.returncode, 0, "smtp:// to another host with STARTTLS required is taken: %r" % p.stderr)


def mail_failing_fires(counted, must):
    """promtool test rules: creditd_mail_failures_total from 0 (a restarted
    creditd) to what creditd counted a minute later, then flat; whether
    CreditdMailFailing fires at 5m (with its labels and annotations)."""
    import yaml
    d = tempfile.mkdtemp(prefix="alerts.", dir=stack.path())
    test = os.path.join(d, "t.yml")
    exp = [{"exp_labels": {"severity": "warning", "instance": "i"},
            "exp_annotations": {"summary": "creditd on i cannot mail alerts through [email] smtp_url",
                                "description": "%d mails failed in the last hour; they are retried for [email] "
                                               "retry_hours." % counted}}] if must else []
    doc = {"rule_files": [RULES], "evaluation_interval": "1m",
           "tests": [{"interval": "1m",
                      "input_series": [{"series": 'creditd_mail_failures_total{instance="i"}',
                                        "values": " ".join(str(v) for v in [0] + [counted] * 5)}],
                      "alert_rule_test": [{"eval_time": "5m", "alertname": "CreditdMailFailing",
                                           "exp_alerts": exp}]}]}
    with open(test, "w") as f:
        yaml.safe_dump(doc, f)
    return promtool("test", "rules", test)


def test_a_server_refusing_mails_is_counted_and_pages():
    sink = Sink()
    try:
        restart_with_mail(sink.port)
        before = metric("creditd_mail_failures_total")
        eq(metric("creditd_mail_pending"), 0, "creditd_mail_pending: nothing waiting")
        to = addr()
        acct = new_account("mailfail", email=to)
        with sink.lock:
            sink.plan[to] = ["451", "421", "554"]
        ev = low_event(acct)
        check(wait_until(lambda: sink.to(to), timeout=40), "taken on the fourth attempt: %r" % mail_row(ev))
        eq([code for _, code in sink.raw_to(to)], [451, 421, 554, 250], "three refusals, then taken")
        after = metric("creditd_mail_failures_total")
        eq(after - before, 3, "each refusal counted")
        p = mail_failing_fires(after - before, True)
        eq(p.returncode, 0, "CreditdMailFailing fires on what creditd counted: %s%s" % (p.stdout, p.stderr))
        p = mail_failing_fires(2, False)
        eq(p.returncode, 0, "two in an hour do not page: %s%s" % (p.stdout, p.stderr))
    finally:
        sink.close()
        restart_without_mail()


def test_a_mail_given_up_is_listed_failed_and_sent_again_by_events_retry():
    sink = Sink()
    try:
        restart_with_mail(sink.port)
        to = addr()
        acct = new_account("mailretry", email=to)
        with sink.lock:
            sink.plan[to] = ["451"] * 100
        ev = low_event(acct)
        check(wait_until(lambda: (mail_row(ev) or ["", "0"])[1] != "0", timeout=20), "a first attempt refused")
        # Past its retry window, the next failure leaves it unsent.
        sql("UPDATE event_mails SET created_at = created_at - 2 * 3600, next_at = 0 WHERE event_id = %d" % ev)
        check(wait_until(lambda: mail_row(ev)[0] == "failed", timeout=20), "given up: %r" % (mail_row(ev),))
        check("451" in mail_row(ev)[2], "its last error is the server's reply: %r" % (mail_row(ev),))
        line = creditctl("events", "list", "--after", str(ev - 1), "--limit", "1").stdout.splitlines()[0]
        check("\tmail=failed\t" in line and "451" in line, "listed as failed with its error: %r" % line)
        with sink.lock:
            sink.plan[to] = []
        p = creditctl("events", "retry", str(ev))
        eq(p.returncode, 0, "retry")
        check("1 mail(s) to be sent again" in p.stderr, "the mail counted: %r" % p.stderr)
        check(wait_until(lambda: mail_row(ev)[0] == "sent", timeout=20), "sent again: %r" % (mail_row(ev),))
        eq([code for _, code in sink.raw_to(to)][-1], 250, "taken")
        ids = set(parse(r)["Message-ID"] for r, _ in sink.raw_to(to))
        eq(ids, {"<creditd.event.%d@creditd.test>" % ev}, "one Message-ID over every attempt")
    finally:
        sink.close()
        restart_without_mail()


def low_events(acct):
    return [int(r[0]) for r in sql("SELECT id FROM events WHERE account = '%s' AND type = 'balance.low' ORDER BY id"
                                   % acct)]


def test_calls_refused_or_charged_nothing_near_the_threshold_mail_nothing():
    """The reviewer's flood (DESIGN §15, "Fair share and no free lanes"):
    an account just above its threshold makes 30 calls the provider
    refuses or that are released or settled at 0 — every hold takes what
    is available under the threshold, none moves the balance. balance.low
    is judged on the balance after settles, holds excluded: no event, no
    mail. A settle that takes the balance under tells once (one mail); a
    grant above the threshold arms it again; under again tells once
    more."""
    from test_20_guard import authorize, cost as guard_cost, release, settle
    from test_80_gateway import body_chat, chat, mode, reset, state
    sink = Sink()
    try:
        restart_with_mail(sink.port)
        to = addr()
        acct = new_account("lowflood", email=to)
        charge = guard_cost("gpt-4o", 1000, 500)
        bal = api("GET", "/v1/accounts/" + acct, auth="read").json["balance_micros"]
        threshold = bal - charge // 2
        eq(api("PATCH", "/v1/accounts/" + acct, {"low_balance_micros": threshold}).status, 200, "threshold")
        for i in range(10):
            r = authorize(acct)
            eq(r.status, 200, "held %r" % r)
            check(r.json["available_micros"] < threshold, "the hold takes available under the threshold")
            eq(release(r.json["hold_id"]).status, 200, "released")
        for i in range(5):
            r = authorize(acct)
            eq(settle(r.json["hold_id"], 0, 0).status, 200, "settled at 0")
        reset()
        for status in (500, 400, 429) * 5:
            mode(mode="error", status=status)
            r = chat(acct, body_chat())
            check(r.status >= 400, "the provider refused it (%d): %r" % (status, r.status))
        mode(mode="ok")
        eq(state(acct), (bal, 0), "30 calls: nothing charged, nothing held")
        eq(low_events(acct), [], "no balance.low for 30 refused or released calls")
        r = authorize(acct)
        eq(settle(r.json["hold_id"], 1000, 500).status, 200, "a settle under the threshold")
        first = low_events(acct)
        eq(len(first), 1, "one balance.low for the crossing")
        data = api("GET", "/v1/events?after=%d&limit=1" % (first[0] - 1)).json["data"][0]["data"]
        eq((data["balance_micros"], data["threshold_micros"]), (bal - charge, threshold), "its figures")
        check(wait_until(lambda: sink.to(to), timeout=20), "mailed: %r" % mail_row(first[0]))
        time.sleep(1.5)     # a flood's mails would be on their way by now: the sink is fast
        eq([m["Message-ID"] for m in sink.to(to)], ["<creditd.event.%d@creditd.test>" % first[0]],
           "one mail, of the crossing")
        r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": charge, "source": "adjustment"})
        eq(r.status, 201, "a grant above the threshold %r" % r)
        eq(sql("SELECT low_noted FROM accounts WHERE ext_id = '%s'" % acct), [["0"]], "armed again")
        eq(len(low_events(acct)), 1, "no event for the grant")
        r = authorize(acct)
        eq(settle(r.json["hold_id"], 1000, 500).status, 200, "under again")
        eq(len(low_events(acct)), 2, "one more balance.low")
        check(wait_until(lambda: len(sink.to(to)) == 2, timeout=20), "and one more mail")
    finally:
        mode(mode="ok")
        sink.close()
        restart_without_mail()
