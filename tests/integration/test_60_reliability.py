"""test_60_reliability.py: the holes a hostile reading found, closed.

POST /v1/usage obeys status, limits, member caps and the available balance
(and `force` is the one way past them, marked in the journal); a body with
a Content-Type other than JSON is refused before it can act; every journal
row of a keyed request carries its Idempotency-Key; /healthz answers from
the watchdog and says 503 while the database is frozen.
"""
import os
import signal
import time

from lib import ENV, api, account, check, creditctl, eq, new_account, sql, uid, verify, wait_until


def _internal_id(acct):
    return int(sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct)[0][0])


def _usage(acct, output_tokens=200000, **extra):
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 100000, "output_tokens": output_tokens,
            "request_id": uid("use")}
    body.update(extra)
    return api("POST", "/v1/usage", body, auth="guard")


def _journal(acct):
    return sql("SELECT amount_micros, cause, COALESCE(source, ''), COALESCE(idempotency_key, '') FROM journal "
               "WHERE account_id = %d ORDER BY id" % _internal_id(acct))


def test_usage_is_refused_past_the_monthly_limit_and_charges_nothing():
    acct = new_account("usage-limit", monthly_limit_micros=10000)
    before = account(acct)
    r = _usage(acct)
    eq(r.status, 429, "usage over the monthly limit: %r" % r)
    eq(r.err.get("code"), "billing_hard_limit_reached", "code")
    eq(r.err.get("type"), "insufficient_quota", "type")
    check(r.err.get("required_micros", 0) > 10000, "required_micros in the refusal: %r" % r.err)
    eq(r.err.get("available_micros"), 10000, "what is left this month")
    after = account(acct)
    eq(after["balance_micros"], before["balance_micros"], "nothing charged")
    eq(after["month_spent_micros"], 0, "month spend untouched")
    eq(sql("SELECT COUNT(*) FROM usage_records WHERE account_id = %d" % _internal_id(acct)), [["0"]],
       "no usage recorded")
    small = _usage(acct, input_tokens=10, output_tokens=10)
    eq(small.status, 200, "a usage within the limit is charged")
    verify()


def test_usage_is_refused_past_the_balance_and_when_suspended():
    acct = new_account("usage-bal")
    start = account(acct)["balance_micros"]
    r = _usage(acct, model="gpt-4o", input_tokens=10 ** 7, output_tokens=10 ** 6)
    eq(r.status, 402, "usage over the available balance: %r" % r)
    eq(r.err.get("code"), "insufficient_credits", "code")
    eq(r.err.get("available_micros"), start, "available")
    eq(account(acct)["balance_micros"], start, "nothing charged")
    eq(api("PATCH", "/v1/accounts/" + acct, {"status": "suspended"}).status, 200, "suspend")
    r = _usage(acct, input_tokens=10, output_tokens=10)
    eq(r.status, 403, "usage on a suspended account")
    eq(r.err.get("code"), "account_suspended", "code")
    eq(account(acct)["balance_micros"], start, "still nothing charged")
    eq(_usage("no-such-" + uid(), input_tokens=1, output_tokens=1).status, 404, "unknown account")
    verify()


def test_usage_respects_the_member_cap():
    acct = new_account("usage-cap", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % acct, {"member": "bob", "monthly_cap_micros": 1000}).status, 201,
       "member")
    r = _usage(acct, member="bob")
    eq(r.status, 429, "usage over the member's cap")
    eq(r.err.get("code"), "member_cap_reached", "code")
    eq(r.err.get("param"), "member", "param")
    ok = _usage(acct, member="bob", input_tokens=10, output_tokens=10)
    eq(ok.status, 200, "small usage within the cap")
    r = api("POST", "/v1/accounts/%s/members" % acct, {"member": "bob"})
    eq(r.json["month_spent_micros"], ok.json["charged_micros"], "the member's month spend moved")


def test_forced_usage_is_charged_and_marked_and_verify_accepts_it():
    acct = new_account("usage-force", monthly_limit_micros=10000)
    start = account(acct)["balance_micros"]
    r = _usage(acct, model="gpt-4o", input_tokens=10 ** 7, output_tokens=10 ** 6, force=True)
    eq(r.status, 200, "forced usage: %r" % r)
    eq(r.json["forced"], True, "forced in the answer")
    charged = r.json["charged_micros"]
    check(charged > start, "the charge exceeds the balance")
    a = account(acct)
    eq(a["balance_micros"], start - charged, "charged past zero")
    eq(a["month_spent_micros"], charged, "month spend")
    rows = _journal(acct)
    eq(rows[-1][:3], [str(-charged), "usage", "forced"], "journal row marked forced")
    verify()
    # The same figures without force on a fresh account are a refusal, and
    # a bad `force` type is a 400 that changes nothing.
    other = new_account("usage-force")
    eq(_usage(other, input_tokens=10 ** 7, output_tokens=10 ** 6).status, 402, "refused without force")
    r = _usage(other, force="yes")
    eq(r.status, 400, "force must be a boolean")
    eq(r.err.get("param"), "force", "param")


def test_verify_no_longer_excuses_usage_without_a_hold():
    acct = new_account("usage-tamper")
    iid = _internal_id(acct)
    # A usage without a hold used to excuse any negative balance. With a
    # hold-less, unforced usage row present and the balance pushed below
    # zero by hand, verify must name the account.
    sql("INSERT INTO usage_records (account_id, cost_micros, created_at) VALUES (%d, 20000000, 0)" % iid)
    sql("UPDATE accounts SET balance_micros = balance_micros - 20000000 WHERE id = %d" % iid)
    try:
        p = creditctl("verify", check_rc=False)
    finally:
        sql("UPDATE accounts SET balance_micros = balance_micros + 20000000 WHERE id = %d" % iid)
        sql("DELETE FROM usage_records WHERE account_id = %d" % iid)
    check(p.returncode != 0, "verify must fail")
    check(any("below the overdraft limit" in line and acct in line for line in p.stdout.splitlines()),
          "the overdraft violation names the account: " + p.stdout)
    verify()


def test_content_type_other_than_json_is_415_and_changes_nothing():
    acct = new_account("ctype")
    start = account(acct)["balance_micros"]
    grant = b'{"amount_micros":1000000,"source":"promo"}'
    for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
               "application/jsonp", "text/json", "application/json-patch+json"):
        r = api("POST", "/v1/accounts/%s/grants" % acct, raw=grant, headers={"Content-Type": ct})
        eq(r.status, 415, "grant as %s" % ct)
        eq(r.err.get("code"), "unsupported_media_type", "code")
        eq(r.err.get("type"), "invalid_request_error", "type")
    auth = ('{"account":"%s","model":"gpt-4o","input_tokens":10,"request_id":"%s"}' % (acct, uid())).encode()
    r = api("POST", "/v1/guard/authorize", raw=auth, auth="guard",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 415, "authorize as a form")
    eq(account(acct)["balance_micros"], start, "nothing granted")
    eq(account(acct)["reserved_micros"], 0, "nothing held")
    for ct in ("application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"):
        r = api("POST", "/v1/accounts/%s/grants" % acct, raw=grant, headers={"Content-Type": ct})
        eq(r.status, 201, "grant as %s" % ct)
    # No Content-Type at all is accepted (old clients).
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.putrequest("POST", u.path.rstrip("/") + "/v1/accounts/%s/grants" % acct, skip_accept_encoding=True)
    c.putheader("Authorization", "Bearer " + ENV["CREDITD_ADMIN_KEY"])
    c.putheader("Content-Length", str(len(grant)))
    c.endheaders(grant)
    resp = c.getresponse()
    resp.read()
    c.close()
    eq(resp.status, 201, "grant without a Content-Type")
    eq(account(acct)["balance_micros"], start + 4000000, "the accepted grants only")
    eq(api("GET", "/v1/accounts/" + acct, auth="read", headers={"Content-Type": "text/plain"}).status, 200,
       "a GET is not refused for its Content-Type")


def test_settle_journal_rows_carry_the_idempotency_key():
    acct = new_account("jkey")
    rid = uid("req")
    r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 1000,
                                             "max_output_tokens": 100, "request_id": rid}, auth="guard")
    eq(r.status, 200, "authorize")
    key = uid("idem-settle")
    s = api("POST", "/v1/guard/settle", {"hold_id": r.json["hold_id"], "input_tokens": 1000, "output_tokens": 50},
            auth="guard", headers={"Idempotency-Key": key})
    eq(s.status, 200, "settle")
    use_key = uid("idem-usage")
    eq(api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 5, "output_tokens": 5},
           auth="guard", headers={"Idempotency-Key": use_key}).status, 200, "usage")
    gkey = uid("idem-grant")
    eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 5, "source": "promo"},
           headers={"Idempotency-Key": gkey}).status, 201, "grant")
    # Without a key, each row records the key that makes it happen once.
    r2 = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 1000,
                                              "max_output_tokens": 100, "request_id": uid("req")}, auth="guard")
    eq(api("POST", "/v1/guard/settle", {"hold_id": r2.json["hold_id"], "input_tokens": 10, "output_tokens": 5},
           auth="guard").status, 200, "settle without a key")
    rid = uid("use")
    eq(api("POST", "/v1/usage", {"account": acct, "model": "gpt-4o", "input_tokens": 5, "output_tokens": 5,
                                 "request_id": rid}, auth="guard").status, 200, "usage without a key")
    r3 = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 10,
                                              "max_output_tokens": 10, "request_id": uid("req"), "ttl_seconds": 1},
             auth="guard")
    eq(r3.status, 200, "a 1 s hold")
    check(wait_until(lambda: account(acct)["reserved_micros"] == 0, timeout=10), "the hold expires")
    rows = sql("SELECT cause, COALESCE(reference, ''), COALESCE(idempotency_key, '') FROM journal "
               "WHERE account_id = %d ORDER BY id" % _internal_id(acct))
    eq(rows[0], ["grant", "signup", "signup:" + acct], "the signup bonus: once per account")
    eq(rows[1], ["usage", r.json["hold_id"], key], "settle's row: the hold and the request's key")
    eq(rows[2][0::2], ["usage", use_key], "usage's row: the key")
    eq(rows[3][0::2], ["grant", gkey], "grant's row: the key")
    eq(rows[4], ["usage", r2.json["hold_id"], "settle:" + r2.json["hold_id"]], "a settle without a key")
    eq(rows[5], ["usage", rid, "usage:" + rid], "a usage without a key")
    eq(rows[6], ["expiry", r3.json["hold_id"], "expire:" + r3.json["hold_id"]], "an expiry, whoever ran it")


def _dir(*parts):
    return os.path.join(ENV["CREDITD_STACK_DIR"], *parts)


def _mariadbd_pid():
    with open(_dir("mysql.pid")) as f:
        return int(f.read().strip())


def _health():
    t0 = time.time()
    r = api("GET", "/healthz", auth=None)
    return r.status, time.time() - t0


def test_healthz_says_503_within_2s_of_a_frozen_database_and_200_after():
    acct = new_account("frozen")
    pid = _mariadbd_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        check(wait_until(lambda: _health()[0] == 503, timeout=3.0, step=0.1), "healthz 503 while frozen")
        eq_within = time.time() - t0
        check(eq_within < 2.0, "503 within 2 s (took %.2f s)" % eq_within)
        status, took = _health()
        eq(status, 503, "still 503")
        check(took < 0.5, "healthz answers at once, not after a timeout (%.2f s)" % took)
        t1 = time.time()
        r = api("GET", "/v1/accounts/" + acct, auth="read")
        eq(r.status, 503, "a read while frozen")
        check(time.time() - t1 < 1.0, "refused at once while the watchdog says down")
        eq(r.err.get("code"), "unavailable", "code")
        check(r.headers.get("retry-after"), "Retry-After")
    finally:
        os.kill(pid, signal.SIGCONT)
    t2 = time.time()
    check(wait_until(lambda: _health()[0] == 200, timeout=3.0, step=0.1), "healthz 200 after the thaw")
    check(time.time() - t2 < 2.0, "200 within 2 s of recovery")
    for _ in range(20):
        eq(api("GET", "/v1/accounts/" + acct, auth="read").status, 200, "reads work again")
    # The stack's second creditd (behind Apache) has a watchdog of its own:
    # it recovers as fast, and the next tests read through it.
    apache = ENV["CREDITD_APACHE_URL"]
    check(wait_until(lambda: api("GET", "/healthz", auth=None, base=apache).status == 200, timeout=3.0, step=0.1),
          "healthz 200 through Apache after the thaw")
