"""test_94b_console_more.py: what the operator's console's pages read and
write beyond test_94's (docs/api.md, "Transactions", "Prices", "Holds in
flight"; docs/operations.md, "Console").

* Every journal row names who acted (`actor`, sql/074): the prefix of the
  API key whose request wrote it, "console:" and that prefix when the
  console sent it, "stripe" for a Stripe webhook's credit, "system" for
  what creditd did of itself (an expiry, whichever request ran it); shown
  by GET /v1/accounts/{id}/transactions as MariaDB holds it.
* POST /v1/models/import: a price list or LiteLLM's catalogue imported as
  creditctl price import does (all or nothing, the rise bound, a dry
  run), by an admin key or an admin's console only.
* GET /v1/accounts/{id}/holds|topups|referrals: the account's holds in
  flight (oldest first, by the ids the API gives out), its top-ups with
  their refunds and disputes, the accounts it referred; paged; a bound
  key reads its own account's only."""
import time
import urllib.parse

from lib import ENV, api, check, clock_now, creditctl, eq, key, new_account, sql, uid
from test_30_stripe import RATE, charge_event, checkout_event, delivered, open_session
from test_30_stripe import session as stripe_session
from test_31_stripe_trust import dispute_event
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
    # A row as a creditd before sql/074 wrote it: no actor.
    sql("INSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, created_at) "
        "SELECT id, 0, balance_micros, 'adjustment', NULL, %d FROM accounts WHERE ext_id = '%s'" % (clock_now(), acct))
    eq(rows(acct)[0]["actor"], None, "null where nobody was named")


def test_the_end_users_page_is_the_same_rows():
    acct = new_account("actor-me")
    r = api("POST", "/v1/accounts/%s/browser_tokens" % q(acct), {}, auth="app")
    eq(r.status, 201, "a browser token: %r" % r)
    me = api("GET", "/v1/me/transactions", auth=r.json["token"])
    eq(me.status, 200, "the widget's journal: %r" % me)
    eq(me.json["data"], rows(acct), "the same rows, who acted in each too")
    eq([x["actor"] for x in me.json["data"]], [prefix("admin")], "the account's creation")


# ---- prices imported through the API ----

def stored_price(model):
    rows = [m for m in api("GET", "/v1/models", auth="read").json["data"] if m["model"] == model]
    return rows[0] if rows else None


def price_history(model):
    r = api("GET", "/v1/models/%s/history" % q(model), auth="read")
    return r.json["data"] if r.status == 200 else []


def imported(body, auth="admin", idem=True):
    h = {"Idempotency-Key": uid("idem")} if idem else {}
    return api("POST", "/v1/models/import", body, auth=auth, headers=h)


def row(model, inp, out, **more):
    r = {"model": model, "input_micros_per_mtok": inp, "cached_input_micros_per_mtok": inp // 10,
         "output_micros_per_mtok": out, "max_output_tokens": 4096}
    r.update(more)
    return r


def test_a_price_list_is_imported_all_or_nothing_with_its_rise_bound():
    a, b = uid("imp-a"), uid("imp-b")
    r = imported({"prices": [row(a, 1000000, 4000000), row(b, 500000, 1500000)]})
    eq(r.status, 200, "imported: %r" % r)
    eq((r.json["imported"], r.json["dry_run"]), (2, False), "two rows")
    eq([(x["model"], x["new"], x["changed"]) for x in r.json["data"]], [(a, True, True), (b, True, True)], "both new")
    eq(stored_price(a)["output_micros_per_mtok"], 4000000, "listed at once, as given")
    eq(sql("SELECT output_micros_per_mtok FROM models WHERE name = '%s'" % a), [["4000000"]], "as MariaDB holds it")
    eq(len(price_history(a)), 1, "one history row")
    # The same list again: a state, nothing new in the history.
    r = imported({"prices": [row(a, 1000000, 4000000), row(b, 500000, 1500000)]})
    eq((r.status, [x["changed"] for x in r.json["data"]]), (200, [False, False]), "unchanged")
    eq(len(price_history(a)), 1, "still one history row")
    # a's output 50 % up, b's input 10 %: refused whole under the default 20 %.
    rise = {"prices": [row(b, 550000, 1500000), row(a, 1000000, 6000000)]}
    r = imported(rise)
    eq((r.status, r.err.get("code"), r.err.get("param")), (409, "conflict", "prices"), "refused: %r" % r)
    check(a in r.err["message"] and "4000000" in r.err["message"] and "6000000" in r.err["message"],
          "names the model and the prices: %r" % r.err["message"])
    eq((stored_price(a)["output_micros_per_mtok"], stored_price(b)["input_micros_per_mtok"]), (4000000, 500000),
       "nothing imported, not even the 10 % rise")
    # A dry run says what would change and changes nothing.
    r = imported(dict(rise, dry_run=True, max_increase_pct=60))
    eq((r.status, r.json["dry_run"], r.json["imported"]), (200, True, 0), "a dry run: %r" % r)
    eq([(x["model"], x["changed"]) for x in r.json["data"]], [(b, True), (a, True)], "both would change")
    eq(stored_price(a)["output_micros_per_mtok"], 4000000, "unchanged by the dry run")
    r = imported(dict(rise, force=True))
    eq(r.status, 200, "forced: %r" % r)
    eq((stored_price(a)["output_micros_per_mtok"], stored_price(b)["input_micros_per_mtok"]), (6000000, 550000),
       "both imported")
    eq(len(price_history(a)), 2, "the change in the history")


def test_a_catalogue_is_read_as_creditctl_reads_it():
    m = uid("imp-cat")
    cat = {m: {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 0.00001, "cache_read_input_token_cost": 1.25e-06,
               "max_output_tokens": 16384, "litellm_provider": "openai", "mode": "chat"},
           "sample_spec": {"input_cost_per_token": 0}}
    r = imported({"prices": cat})
    eq(r.status, 200, "imported: %r" % r)
    eq([x["model"] for x in r.json["skipped"]], ["sample_spec"], "LiteLLM's sample skipped, with why")
    check(r.json["skipped"][0]["why"], "a reason")
    got = stored_price(m)
    eq((got["input_micros_per_mtok"], got["cached_input_micros_per_mtok"], got["output_micros_per_mtok"],
        got["max_output_tokens"]), (2500000, 1250000, 10000000, 16384), "exact micros per million tokens")


def test_a_bad_import_names_its_entry_and_imports_nothing():
    good, bad = uid("imp-good"), uid("imp-bad")
    cases = [
        ({"prices": [row(good, 1, 1), {"model": bad, "input_micros_per_mtok": "x"}]}, 400, "entry 2 (%s)" % bad),
        ({"prices": [row(good, 1, 1), row(bad, 1, 1, provider="nosuch")]}, 400, "nosuch"),
        ({"prices": 3}, 400, "prices"),
        ({}, 400, "prices is required"),
        ({"prices": [], "extra": 1}, 400, "extra"),
        ({"prices": [], "max_increase_pct": -1}, 400, "max_increase_pct"),
    ]
    for body, status, says in cases:
        r = imported(body)
        eq(r.status, status, "refused: %r" % (body,))
        check(says in r.err.get("message", ""), "says %r: %r" % (says, r.err))
    eq((stored_price(good), price_history(good)), (None, []), "the good entry before the bad one was not imported")


def test_only_an_admin_imports_and_the_console_sends_its_key():
    m = uid("imp-who")
    body = {"prices": [row(m, 1000, 2000)]}
    for auth in ("read", "app", "guard"):
        r = imported(body, auth=auth)
        eq((r.status, r.err.get("code")), (403, "forbidden"), "%s key refused" % auth)
    cookie, csrf = session("read")
    r = call("POST", "/console/api/v1/models/import", body, headers={"X-CSRF-Token": csrf,
                                                                      "Idempotency-Key": uid("idem")}, cookie=cookie)
    eq(r.status, 403, "a read key's console is refused: %r" % r)
    eq(stored_price(m), None, "nothing imported")
    cookie, csrf = session("admin")
    r = call("POST", "/console/api/v1/models/import", body, headers={"X-CSRF-Token": csrf,
                                                                      "Idempotency-Key": uid("idem")}, cookie=cookie)
    eq((r.status, r.json["imported"]), (200, 1), "an admin's console imports: %r" % r)
    eq(stored_price(m)["output_micros_per_mtok"], 2000, "imported")


# ---- an account's lists: holds in flight, top-ups, referrals ----

def authorize(acct, n=10):
    r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": n,
                                            "max_output_tokens": 10, "request_id": uid("r")}, auth="guard")
    eq(r.status, 200, "authorize: %r" % r)
    return r.json["hold_id"]


def page(acct, what, auth="read", **params):
    query = "&".join("%s=%s" % (k, q(str(v))) for k, v in params.items())
    return api("GET", "/v1/accounts/%s/%s%s" % (q(acct), what, "?" + query if query else ""), auth=auth)


def test_an_accounts_holds_in_flight_paged_oldest_first():
    acct = new_account("holds")
    ids = [authorize(acct, 10 + i) for i in range(3)]
    r = api("POST", "/v1/guard/settle", {"hold_id": ids[1], "input_tokens": 5, "output_tokens": 5}, auth="guard")
    eq(r.status, 200, "settled: %r" % r)
    r = page(acct, "holds")
    eq(r.status, 200, "holds: %r" % r)
    got = r.json["data"]
    eq([h["hold_id"] for h in got], [ids[0], ids[2]], "the pending ones, oldest first, by the ids the API gave")
    held = sql("SELECT amount_micros FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s' "
               "AND h.state = 'pending' ORDER BY h.id" % acct)
    eq([h["held_micros"] for h in got], [int(x[0]) for x in held], "held as MariaDB holds it")
    eq(sum(h["held_micros"] for h in got), api("GET", "/v1/accounts/" + acct, auth="read").json["reserved_micros"],
       "they make the account's reserved")
    eq(set(got[0]), {"hold_id", "member", "model", "action", "held_micros", "created_at", "expires_at", "unresolved",
                     "byok"}, "fields")
    eq((got[0]["model"], got[0]["unresolved"]), ("gpt-3.5-turbo", False), "its model, not unresolved")
    # Paged one at a time.
    r1 = page(acct, "holds", limit=1)
    eq((len(r1.json["data"]), r1.json["has_more"], r1.json["next_cursor"]), (1, True, ids[0]), "first page")
    r2 = page(acct, "holds", limit=1, cursor=r1.json["next_cursor"])
    eq(([h["hold_id"] for h in r2.json["data"]], r2.json["has_more"]), ([ids[2]], False), "second and last")
    # Another account's hold id is no cursor here; an unknown account is 404.
    other = authorize(new_account("holds-other"))
    r = page(acct, "holds", cursor=other)
    eq((r.status, r.err.get("param")), (400, "cursor"), "a foreign cursor: %r" % r)
    eq(page(uid("nobody"), "holds").status, 404, "unknown account")


def test_an_accounts_topups_with_refunds_and_disputes():
    acct = new_account("topups")
    sid1 = open_session(acct, 2000)
    delivered(checkout_event(sid1))
    sid2 = open_session(acct, 1000)
    pi1 = stripe_session(sid1)["payment_intent"]
    delivered(charge_event(pi1, acct, 500))
    r = page(acct, "topups")
    eq(r.status, 200, "top-ups: %r" % r)
    got = r.json["data"]
    eq([(t["session_id"], t["status"], t["amount_cents"]) for t in got], [(sid2, "pending", 1000),
                                                                         (sid1, "credited", 2000)], "newest first")
    eq((got[1]["credited_micros"], got[1]["refunded_cents"], got[1]["refunded_micros"]),
       (2000 * RATE, 500, 500 * RATE), "the refund of the first")
    stored = sql("SELECT credited_micros, refunded_micros FROM topups WHERE session_id = '%s'" % sid1)[0]
    eq([got[1]["credited_micros"], got[1]["refunded_micros"]], [int(x) for x in stored], "as MariaDB holds it")
    eq(got[1]["disputes"], [], "no dispute on the first")
    r = page(acct, "topups", limit=1)
    eq((len(r.json["data"]), r.json["has_more"]), (1, True), "paged")
    r = page(acct, "topups", limit=1, cursor=r.json["next_cursor"])
    eq(([t["session_id"] for t in r.json["data"]], r.json["has_more"]), ([sid1], False), "the next page")


def test_a_dispute_shows_on_its_topup():
    acct = new_account("topup-du")
    sid = open_session(acct, 1500)
    delivered(checkout_event(sid))
    du = "du_" + uid("x").replace("-", "")
    delivered(dispute_event("charge.dispute.created", stripe_session(sid)["payment_intent"], 1500, dispute=du))
    got = page(acct, "topups").json["data"][0]
    eq([(d["dispute_id"], d["amount_cents"], d["taken_micros"], d["state"]) for d in got["disputes"]],
       [(du, 1500, 1500 * RATE, "open")], "the dispute, what it took")
    check(got["disputes"][0]["created_at"].endswith("Z"), "a time as the API writes one")


def test_an_accounts_referrals():
    a = new_account("ref-list")
    code = api("GET", "/v1/accounts/%s/referral_code" % q(a), auth="app").json["code"]
    b = new_account("ref-b", referral_code=code)
    c = new_account("ref-c", referral_code=code)
    r = page(a, "referrals")
    eq(r.status, 200, "referrals: %r" % r)
    eq(([x["account"] for x in r.json["data"]], r.json["referred_by"]), ([c, b], None), "newest first")
    eq((r.json["data"][0]["rewarded_at"], r.json["data"][0]["reward_micros"]), (None, None), "not rewarded yet")
    eq(page(b, "referrals").json["referred_by"], a, "who referred b")


def test_a_bound_key_reads_its_own_lists_only():
    acct, other = new_account("bound-lists"), new_account("bound-other")
    bound = creditctl("key", "create", "--scope", "read", "--account", acct, "--name", "bound").stdout.strip()
    bound = bound.splitlines()[-1]
    for what in ("holds", "topups", "referrals"):
        eq(page(acct, what, auth=bound).status, 200, "its own %s" % what)
        eq(page(other, what, auth=bound).status, 404, "another's %s" % what)
        eq(page(acct, what, auth=None).status, 401, "no key")
