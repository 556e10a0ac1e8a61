"""test_94b_console_more.py: what the operator's console's pages read and
write beyond test_94's (docs/api.md, "Transactions", "Prices", "Holds in
flight"; docs/operations.md, "Console").

* Every journal row names who acted (`actor`, sql/070): the prefix of the
  API key whose request wrote it, "console:" and that prefix when the
  console sent it, "stripe" for a Stripe webhook's credit, "system" for
  what creditd did of itself (an expiry, whichever request ran it); shown
  by GET /v1/accounts/{id}/transactions as MariaDB holds it."""
import time
import urllib.parse

from lib import ENV, api, check, clock_now, creditctl, eq, key, new_account, sql, uid
from test_30_stripe import checkout_event, delivered, open_session
from test_93_console_session import call, session


def q(s):
    return urllib.parse.quote(s, safe="")


def rows(acct):
    r = api("GET", "/v1/accounts/%s/transactions?limit=100" % q(acct), auth="read")
    eq(r.status, 200, "journal: %r" % r)
    return r.json["data"]


def stored_actors(acct):
    """(id, actor) of the account's journal rows as MariaDB holds them, newest first."""
    got = sql("SELECT j.id, COALESCE(j.actor, 'NULL') FROM journal j JOIN accounts a ON a.id = j.account_id "
              "WHERE a.ext_id = '%s' ORDER BY j.id DESC" % acct)
    return [("txn_%s" % i, a) for i, a in got]


def prefix(name):
    return key(name)[:12]


# ---- actor ----

def test_journal_rows_name_the_key_that_acted():
    acct = new_account("actor")
    r = api("POST", "/v1/accounts/%s/grants" % q(acct), {"amount_micros": 2000000, "source": "promo"},
            headers={"Idempotency-Key": uid("idem")})
    eq(r.status, 201, "grant: %r" % r)
    r = api("POST", "/v1/accounts/%s/debits" % q(acct), {"amount_micros": 500000, "reason": "actor test"},
            headers={"Idempotency-Key": uid("idem")})
    eq(r.status, 201, "debit: %r" % r)
    r = api("POST", "/v1/usage", {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10, "output_tokens": 10,
                                  "request_id": uid("req")}, auth="guard")
    check(r.status in (200, 201), "usage: %r" % r)
    got = rows(acct)
    eq([(x["id"], x["actor"]) for x in got], [(i, a) for i, a in stored_actors(acct)],
       "each row's actor as MariaDB holds it")
    by_cause = [(x["cause"], x["source"], x["actor"]) for x in reversed(got)]
    eq(by_cause, [("grant", "signup_bonus", prefix("admin")), ("grant", "promo", prefix("admin")),
                  ("adjustment", None, prefix("admin")), ("usage", None, prefix("guard"))],
       "the account's creation, the grant and the debit by the admin key, the usage by the guard key")
    check(all(not x["actor"].startswith(key("admin")[:20]) or len(x["actor"]) == 12 for x in got),
          "a prefix, never the key")


def test_a_console_write_names_the_console_and_its_key():
    acct = new_account("actor-con")
    cookie, csrf = session("admin")
    r = call("POST", "/console/api/v1/accounts/%s/grants" % q(acct), {"amount_micros": 1234567, "source": "promo"},
             headers={"X-CSRF-Token": csrf, "Idempotency-Key": uid("idem")}, cookie=cookie)
    eq(r.status, 201, "the console's grant: %r" % r)
    top = rows(acct)[0]
    eq((top["source"], top["actor"]), ("promo", "console:" + prefix("admin")), "the console's row")
    # The console reads the same field.
    r = call("GET", "/console/api/v1/accounts/%s/transactions?limit=1" % q(acct), cookie=cookie)
    eq(r.json["data"][0]["actor"], "console:" + prefix("admin"), "shown to the console")


def test_stripe_and_creditd_itself_are_named():
    acct = new_account("actor-sys")
    delivered(checkout_event(open_session(acct, 500)))
    credit = [x for x in rows(acct) if x["source"] == "topup"]
    eq([x["actor"] for x in credit], ["stripe"], "a webhook's credit names Stripe")
    # A grant that expires, written off by the next request on the account
    # (another key's): the expiry is creditd's own.
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock_now() + 2))
    r = api("POST", "/v1/accounts/%s/grants" % q(acct), {"amount_micros": 3000000, "source": "promo",
                                                         "expires_at": at})
    eq(r.status, 201, "an expiring grant: %r" % r)
    time.sleep(3.2)
    r = api("POST", "/v1/accounts/%s/debits" % q(acct), {"amount_micros": 1, "reason": "after the expiry"},
            headers={"Idempotency-Key": uid("idem")})
    eq(r.status, 201, "a later debit: %r" % r)
    got = rows(acct)
    expiry = [x for x in got if x["cause"] == "expiry"]
    eq([(x["amount_micros"], x["actor"]) for x in expiry], [(-3000000, "system")], "the expiry is creditd's")
    eq(got[0]["actor"], prefix("admin"), "the debit that ran it is the admin key's")


def test_rows_before_the_column_show_null():
    acct = new_account("actor-old")
    # A row as a creditd before sql/070 wrote it: no actor.
    sql("INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, created_at) "
        "SELECT id, 0, balance_micros, 'adjustment', NULL, %d FROM accounts WHERE ext_id = '%s'" % (clock_now(), acct))
    eq(rows(acct)[0]["actor"], None, "null where nobody was named")


def test_the_end_users_page_shows_no_actor():
    acct = new_account("actor-me")
    r = api("POST", "/v1/accounts/%s/browser_tokens" % q(acct), {}, auth="app")
    eq(r.status, 201, "a browser token: %r" % r)
    me = api("GET", "/v1/me/transactions", auth=r.json["token"])
    eq(me.status, 200, "the widget's journal: %r" % me)
    check(me.json["data"], "rows")
    check(all("actor" not in x for x in me.json["data"]), "no actor on the end user's page: %r" % me.json["data"])
    check(all("actor" in x for x in rows(acct)), "the operator's page has it")
