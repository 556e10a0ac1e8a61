"""test_11_ledger.py: the ledger core through nginx, continued from
test_10_accounts.py (whose helpers it uses): idempotency, the spending
order, expiry, a randomized stress run, creditctl's ledger commands and
`verify`."""
import json
import random
import re
import threading
import time

from lib import api, check, creditctl, eq, new_account, parallel, sql, uid, verify, wait_until
from test_10_accounts import (BONUS, TXN_FIELDS, accounts_total, db_state, debit, ensure_plans, exists, get, grant,
    hexid, idem, in_seconds, is_error, journal, ledger_consistent, p, pages, rejected, remaining, rfc3339_epoch,
    snapshot)


# ---- idempotency ----

def test_idempotency_sequential():
    ensure_plans()
    acct_id = new_account("idem")
    writes = [
        ("POST", "/v1/accounts", {"id": uid("idemnew"), "kind": "user"}, {"id": uid("idemnew2"), "kind": "user"}),
        ("PATCH", p(acct_id), {"plan": "gold"}, {"plan": "silver"}),
        ("POST", p(acct_id) + "/grants", {"amount_micros": 777, "source": "promo"},
         {"amount_micros": 778, "source": "promo"}),
        ("POST", p(acct_id) + "/debits", {"amount_micros": 55, "reason": "fee"}, {"amount_micros": 56, "reason": "fee"}),
    ]
    for method, path, body, other in writes:
        k = uid("key")
        first = idem(method, path, body, k)
        check(first.status in (200, 201), "%s %s first: %r" % (method, path, first))
        after_first = db_state(acct_id)
        n = accounts_total()
        again = idem(method, path, body, k)
        eq(again.status, first.status, "%s %s replay status" % (method, path))
        eq(again.json, first.json, "%s %s replay body" % (method, path))
        eq(db_state(acct_id), after_first, "%s %s applied once" % (method, path))
        r = idem(method, path, other, k)
        is_error(r, 409, "conflict", "idempotency_key", "%s %s same key, other body" % (method, path))
        eq(db_state(acct_id), after_first, "%s %s conflict changes nothing" % (method, path))
        eq(accounts_total(), n, "%s %s conflict creates nothing" % (method, path))
        if path.endswith("/grants") or path.endswith("/debits"):
            keyed = sql("SELECT COUNT(*) FROM journal WHERE idempotency_key = '%s'" % k)
            eq(keyed[0][0], "1", "%s %s: the journal row records its Idempotency-Key" % (method, path))
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55, "each write applied once")
    # A key sent in the body works like the header.
    k = uid("bodykey")
    body = {"amount_micros": 10, "source": "promo", "idempotency_key": k}
    r1 = api("POST", p(acct_id) + "/grants", body)
    r2 = api("POST", p(acct_id) + "/grants", body)
    eq((r1.status, r2.json), (201, r1.json), "idempotency_key field replays")
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55 + 10, "applied once")
    # Without a key, each request is its own write.
    grant(acct_id, 1)
    grant(acct_id, 1)
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55 + 12, "no key, two grants")
    eq(sql("SELECT COUNT(*) FROM journal WHERE idempotency_key = '%s'" % k)[0][0], "1", "the body's key is recorded")
    last = sql("SELECT idempotency_key IS NULL FROM journal WHERE account_id = (SELECT id FROM accounts "
               "WHERE ext_id = %s) ORDER BY id DESC LIMIT 1" % hexid(acct_id))
    eq(last[0][0], "1", "no key, none recorded")
    # A key names one request: the same body on another account conflicts.
    k = uid("route")
    eq(idem("POST", p(acct_id) + "/grants", {"amount_micros": 3, "source": "promo"}, k).status, 201, "first use")
    other = new_account("idemother")
    before = snapshot(other)
    r = idem("POST", p(other) + "/grants", {"amount_micros": 3, "source": "promo"}, k)
    is_error(r, 409, "conflict", "idempotency_key", "same key and body on another account")
    eq(snapshot(other), before, "the other account is untouched")
    eq(get(acct_id)["balance_micros"], BONUS + 777 - 55 + 15, "granted once")
    # Same id, other body, under a fresh key: the id conflicts, not the key.
    r = idem("POST", "/v1/accounts", {"id": acct_id, "kind": "workspace"}, uid("fresh"))
    is_error(r, 409, "conflict", "id", "id conflict under a fresh key")
    for bad in ("", "k" * 256, "a\x01b"):
        before = snapshot(acct_id)
        r = api("POST", p(acct_id) + "/grants", {"amount_micros": 10, "source": "promo", "idempotency_key": bad})
        is_error(r, 400, "invalid_request", "idempotency_key", "bad key %r" % bad[:10])
        eq(snapshot(acct_id), before, "bad key changes nothing")


def test_idempotency_concurrent():
    acct_id = new_account("idemrace")
    k = uid("race")
    body = {"amount_micros": 1234, "source": "adjustment", "priority": 3}
    results = parallel(32, lambda i: idem("POST", p(acct_id) + "/grants", body, k))
    eq({r.status for r in results}, {201}, "every request answers the one result")
    eq(len({json.dumps(r.json, sort_keys=True) for r in results}), 1, "one result for all 32")
    eq(get(acct_id)["balance_micros"], BONUS + 1234, "granted once")
    eq(len(journal(acct_id)), 2, "one journal row")
    k = uid("race")
    results = parallel(32, lambda i: idem("POST", p(acct_id) + "/debits", {"amount_micros": 34, "reason": "r"}, k))
    eq({r.status for r in results}, {201}, "debits: one result")
    eq(len({r.json["id"] for r in results}), 1, "one journal entry id")
    eq(get(acct_id)["balance_micros"], BONUS + 1200, "debited once")
    new_id = uid("idemacct")
    k = uid("race")
    results = parallel(32, lambda i: idem("POST", "/v1/accounts", {"id": new_id, "kind": "user"}, k))
    eq({r.status for r in results}, {201}, "account create under one key: the stored 201 for all")
    eq(len(journal(new_id)), 1, "one bonus")
    ledger_consistent(acct_id)


# ---- spending order and expiry ----


def test_spending_order():
    acct_id = new_account("order")
    bonus_id = get(acct_id)["grants"][0]["id"]
    late = grant(acct_id, 1000, expires_at=in_seconds(7200))["id"]       # prio 50, expires later
    soon = grant(acct_id, 1000, expires_at=in_seconds(3600))["id"]       # prio 50, expires sooner
    first = grant(acct_id, 1000, "adjustment", priority=10)["id"]        # lowest priority number
    newer = grant(acct_id, 1000)["id"]                                   # prio 50, no expiry, newer than bonus
    last = grant(acct_id, 1000, priority=90, expires_at=in_seconds(60))["id"]  # high number: burns last
    order = [g for g, _ in remaining(acct_id)]
    eq(order, [first, soon, late, bonus_id, newer, last], "grants listed in spending order")
    eq(debit(acct_id, 1500).status, 201, "debit 1500")
    eq(remaining(acct_id), [(soon, 500), (late, 1000), (bonus_id, BONUS), (newer, 1000), (last, 1000)],
       "priority 10 first, then the soonest expiry")
    eq(debit(acct_id, 1000).status, 201, "debit 1000")
    eq(remaining(acct_id), [(late, 500), (bonus_id, BONUS), (newer, 1000), (last, 1000)], "then the later expiry")
    eq(debit(acct_id, BONUS).status, 201, "debit the bonus' worth")
    eq(remaining(acct_id), [(bonus_id, 500), (newer, 1000), (last, 1000)], "then the oldest grant without expiry")
    eq(debit(acct_id, 1400).status, 201, "debit 1400")
    eq(remaining(acct_id), [(newer, 100), (last, 1000)], "then the newer one")
    eq(debit(acct_id, 1100).status, 201, "debit 1100")
    eq(remaining(acct_id), [], "priority 90 last")
    eq(ledger_consistent(acct_id), 0, "all spent")


def test_spending_many_small_grants():
    # More grants than one spend reads at once: all of them must be used
    # before anything becomes debt.
    acct_id = new_account("many")
    parallel(10, lambda i: [grant(acct_id, 1, priority=0) for _ in range(8)])
    eq(get(acct_id)["balance_micros"], BONUS + 80, "80 small grants")
    r = debit(acct_id, BONUS + 80, "everything")
    eq(r.status, 201, "debit everything: %r" % r)
    eq(get(acct_id)["grants"], [], "no grant left, no debt")
    eq(ledger_consistent(acct_id), 0, "consistent")
    verify()


def test_overdraft_debt_is_repaid_first():
    acct_id = new_account("debt", overdraft_limit_micros=5000000)
    eq(debit(acct_id, BONUS + 3000000).status, 201, "debit into the overdraft")
    a = get(acct_id)
    eq((a["balance_micros"], a["available_micros"]), (-3000000, 2000000), "a debt of 3 EUR")
    r = debit(acct_id, 2000001)
    is_error(r, 402, "insufficient_credits", "amount_micros", "beyond the overdraft")
    # The credit line cannot be cut below the debt already drawn on it
    # (verify's invariant 3); down to the debt itself is fine.
    rejected("PATCH", p(acct_id), {"overdraft_limit_micros": 2999999}, "overdraft_limit_micros", acct_id,
             "overdraft below the debt")
    ensure_plans()
    rejected("PATCH", p(acct_id), {"overdraft_limit_micros": 0, "plan": "pro"}, "overdraft_limit_micros", acct_id,
             "overdraft to zero with a debt")
    rejected("PATCH", p(acct_id), {"overdraft_limit_micros": 3000000}, "idempotency_key", acct_id,
             "a bad Idempotency-Key is named as such", headers={"Idempotency-Key": "k" * 256})
    r = api("PATCH", p(acct_id), {"overdraft_limit_micros": 3000000})
    eq((r.status, r.json["available_micros"]), (200, 0), "overdraft down to the debt")
    verify()
    r = api("PATCH", p(acct_id), {"overdraft_limit_micros": 5000000})
    eq((r.status, r.json["available_micros"]), (200, 2000000), "and back up")
    g = grant(acct_id, 4000000)
    eq(g["balance_micros"], 1000000, "the grant repays the debt first")
    eq([x["remaining_micros"] for x in get(acct_id)["grants"]], [1000000], "what is left of the grant")
    eq(ledger_consistent(acct_id), 1000000, "consistent")


def test_grant_fields_and_expiry_written_off_once():
    acct_id = new_account("expiry")
    t = in_seconds(3)
    g = grant(acct_id, 5000, "promo", expires_at=t, priority=20, description="three seconds")
    eq((g["remaining_micros"], g["priority"], g["expires_at"], g["source"]), (5000, 20, t, "promo"), "grant answer")
    listed = [x for x in get(acct_id)["grants"] if x["id"] == g["id"]]
    eq(listed, [{"id": g["id"], "source": "promo", "remaining_micros": 5000, "priority": 20, "expires_at": t}],
       "listed with its expiry")
    eq(debit(acct_id, 1000).status, 201, "spend from it first (priority 20)")
    # An account nobody touches: only the background thread can expire it.
    idle = new_account("idle")
    grant(idle, 7000, expires_at=in_seconds(2))
    deadline = rfc3339_epoch(t)
    while time.time() < deadline + 1.05:
        time.sleep(0.05)
    # Many readers race the background thread for the write-off.
    results = parallel(16, lambda i: get(acct_id))
    check(all(a["balance_micros"] == BONUS for a in results), "every reader sees the written-off balance: %r"
          % sorted({a["balance_micros"] for a in results}))
    check(all(g["id"] not in [x["id"] for x in a["grants"]] for a in results), "the grant is gone")
    check(wait_until(lambda: any(r[3] == "expiry" for r in journal(idle)), timeout=5),
          "the background thread wrote off the idle account's grant")
    rows = journal(acct_id)
    expiries = [r for r in rows if r[3] == "expiry"]
    eq(len(expiries), 1, "one expiry entry")
    eq((expiries[0][1], expiries[0][4]), (-4000, "promo"), "the remainder, written off")
    tx = api("GET", p(acct_id) + "/transactions?limit=1", auth="read").json["data"][0]
    eq((tx["cause"], tx["amount_micros"], tx["balance_after_micros"], tx["reference"]),
       ("expiry", -4000, BONUS, g["id"]), "in the journal, naming the grant")
    # Two more sweeps run; the entry stays single.
    due = sql("SELECT COALESCE(sweep_due_at, -1) FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0]
    eq(due, "-1", "nothing left to sweep")
    time.sleep(2.2)
    eq(len([r for r in journal(acct_id) if r[3] == "expiry"]), 1, "never twice")
    eq([r for r in journal(idle) if r[3] == "expiry"][0][1], -7000, "idle account: the whole grant")
    eq(len([r for r in journal(idle) if r[3] == "expiry"]), 1, "idle account: once")
    eq(get(idle)["balance_micros"], BONUS, "idle account balance")
    ledger_consistent(acct_id)
    ledger_consistent(idle)


def test_expired_grants_are_never_spent():
    spent = new_account("spent")
    grant(spent, 3000, expires_at=in_seconds(2), priority=0)
    eq(debit(spent, 3000).status, 201, "spend the whole grant before it expires")
    other = new_account("skip")
    gone = grant(other, 6000, expires_at=in_seconds(2), priority=0)["id"]
    time.sleep(2.2)
    # Whether the sweeper or this debit gets there first, the expired grant
    # is written off in full and the debit burns the bonus.
    r = debit(other, 6000, "after the expiry")
    eq(r.status, 201, "debit after the expiry")
    eq(r.json["balance_after_micros"], BONUS - 6000, "the expired 6000 did not pay for it")
    eq(remaining(other), [(get(other)["grants"][0]["id"], BONUS - 6000)], "only the bonus is left")
    expiries = [row for row in journal(other) if row[3] == "expiry"]
    eq([row[1] for row in expiries], [-6000], "written off once, in full")
    check(gone not in [g for g, _ in remaining(other)], "the grant is gone")
    eq(get(spent)["balance_micros"], BONUS, "balance")
    eq([row for row in journal(spent) if row[3] == "expiry" and row[1] != 0], [], "nothing to write off")
    r = debit(other, BONUS - 6000 + 1)
    is_error(r, 402, "insufficient_credits", "amount_micros", "the expired credit is not available")
    ledger_consistent(spent)
    ledger_consistent(other)


def test_many_expired_grants_are_all_written_off_before_spending():
    # More grants expire at once than one sweep pass takes: none of them
    # may pay for a debit, whoever (reader or sweeper) gets there first.
    acct_id = new_account("manyexp")
    t = in_seconds(3)
    parallel(25, lambda i: [grant(acct_id, 1, priority=0, expires_at=t) for _ in range(8)])
    eq(get(acct_id)["balance_micros"], BONUS + 200, "200 expiring grants")
    deadline = rfc3339_epoch(t)
    while time.time() < deadline + 0.3:
        time.sleep(0.05)
    r = debit(acct_id, BONUS + 1, "more than what is left")
    is_error(r, 402, "insufficient_credits", "amount_micros", "expired credit cannot be debited")
    r = debit(acct_id, BONUS, "all that is left")
    eq(r.status, 201, "the unexpired bonus can: %r" % r)
    eq(get(acct_id)["grants"], [], "nothing left, no debt")
    expiries = [row for row in journal(acct_id) if row[3] == "expiry"]
    eq((len(expiries), sum(row[1] for row in expiries)), (200, -200), "each grant written off once")
    eq(ledger_consistent(acct_id), 0, "consistent")


# ---- stress and verify ----


def test_randomized_stress_then_verify():
    rng = random.Random(1010)
    accts = parallel(20, lambda i: [new_account("stress") for _ in range(5)])
    accts = [a for group in accts for a in group]
    eq(len(accts), 100, "100 accounts")
    outcome = {"grant": 0, "debit": 0, "refused": 0}
    lock = threading.Lock()
    plans = [[(rng.choice(accts), rng.random(), rng.randint(1, 3000000), rng.randint(0, 100)) for _ in range(40)]
             for _ in range(24)]

    def worker(i):
        for acct_id, roll, amount, prio in plans[i]:
            if roll < 0.35:
                r = api("POST", p(acct_id) + "/grants", {"amount_micros": amount, "source": "promo", "priority": prio})
                kind = "grant"
            elif roll < 0.5:
                r = api("POST", p(acct_id) + "/grants", {"amount_micros": amount, "source": "promo", "priority": prio,
                                                         "expires_at": in_seconds(2 + prio % 3)})
                kind = "grant"
            elif roll < 0.9:
                r = debit(acct_id, amount * 3)
                kind = "debit"
            else:
                r = api("GET", p(acct_id), auth="read")
                kind = None
            if r.status == 402:
                with lock:
                    outcome["refused"] += 1
                continue
            check(r.status in (200, 201), "stress %s: %r" % (kind, r))
            if kind:
                with lock:
                    outcome[kind] += 1
        return True

    parallel(24, worker)
    check(outcome["grant"] > 100 and outcome["debit"] > 100, "a real mix: %r" % outcome)
    # Wait for every expiry to be due, then let the sweeper (or readers) write them off.
    # Only this test's accounts: the stack holds whatever earlier files left.
    mine = "SELECT id FROM accounts WHERE ext_id IN (%s)" % ", ".join(hexid(a) for a in accts)
    eq(sql("SELECT COUNT(*) FROM (%s) m" % mine)[0][0], str(len(set(accts))), "the checks below see this test's accounts")
    time.sleep(4.2)
    check(wait_until(lambda: sql("SELECT COUNT(*) FROM grants WHERE remaining_micros > 0 AND expires_at <= "
                                 "UNIX_TIMESTAMP() AND account_id IN (%s)" % mine)[0][0] == "0", timeout=10),
          "every due grant written off")
    verify()
    for acct_id in rng.sample(accts, 10):
        balance = ledger_consistent(acct_id)
        a = get(acct_id)
        eq(a["balance_micros"], balance, "API = DB")
        eq(sum(g["remaining_micros"] for g in a["grants"]), balance, "grants[] add up to the balance")
        check(balance >= 0, "prepaid accounts never go below zero")
    twice = sql("SELECT grant_id, COUNT(*) FROM journal WHERE cause = 'expiry' AND grant_id IS NOT NULL "
                "AND account_id IN (%s) GROUP BY grant_id HAVING COUNT(*) > 1" % mine)
    eq(twice, [], "no grant written off twice")
    # (another file may leave a prepaid account forced below zero: test_97_core_contract's forced usage)
    neg = sql("SELECT COUNT(*) FROM accounts WHERE balance_micros < 0 AND overdraft_limit_micros = 0 "
              "AND id IN (%s)" % mine)
    eq(neg[0][0], "0", "no prepaid account below zero")


def test_verify_reports_tampering():
    acct_id = new_account("tamper")
    grant(acct_id, 5000)
    verify()
    aid = sql("SELECT id FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0]
    sql("UPDATE accounts SET balance_micros = balance_micros + 1 WHERE id = %s" % aid)
    try:
        out = creditctl("verify", check_rc=False)
    finally:
        sql("UPDATE accounts SET balance_micros = balance_micros - 1 WHERE id = %s" % aid)
    eq(out.returncode, 1, "verify fails on a tampered balance")
    lines = [line for line in out.stdout.splitlines() if acct_id in line]
    check(any("journal" in line for line in lines), "names the account and the journal: " + out.stdout)
    check(any(str(BONUS + 5000 + 1) in line and str(BONUS + 5000) in line for line in lines),
          "prints both numbers: " + out.stdout)
    check("violations" in out.stdout.splitlines()[-1] and not out.stdout.splitlines()[-1].startswith("0 "),
          "a count at the end: " + out.stdout)
    verify()
    gid = sql("SELECT MAX(id) FROM grants WHERE account_id = %s" % aid)[0][0]
    sql("UPDATE grants SET remaining_micros = remaining_micros - 100 WHERE id = %s" % gid)
    try:
        out = creditctl("verify", check_rc=False)
    finally:
        sql("UPDATE grants SET remaining_micros = remaining_micros + 100 WHERE id = %s" % gid)
    eq(out.returncode, 1, "verify fails on a tampered grant")
    check(any(acct_id in line and "grants" in line for line in out.stdout.splitlines()),
          "names the account and the grants: " + out.stdout)
    verify()


# ---- creditctl ----


def test_creditctl_account_show_and_grant():
    acct_id = new_account("ctl")
    out = creditctl("account", "show", acct_id)
    shown = json.loads(out.stdout)
    eq(shown, get(acct_id), "account show prints what GET prints")
    t = in_seconds(3600)
    out = creditctl("grant", acct_id, "2500000", "--source", "promo", "--expires", t, "--priority", "7",
                    "--description", "from the CLI")
    g = json.loads(out.stdout)
    eq((g["amount_micros"], g["source"], g["priority"], g["expires_at"]), (2500000, "promo", 7, t), "grant printed")
    listed = [x for x in get(acct_id)["grants"] if x["id"] == g["id"]]
    eq(listed, [{"id": g["id"], "source": "promo", "remaining_micros": 2500000, "priority": 7, "expires_at": t}],
       "the grant is live")
    eq(get(acct_id)["balance_micros"], BONUS + 2500000, "balance")
    tx = api("GET", p(acct_id) + "/transactions?limit=1", auth="read").json["data"][0]
    eq((tx["amount_micros"], tx["cause"], tx["source"], tx["description"]),
       (2500000, "grant", "promo", "from the CLI"), "journal entry")
    creditctl("grant", acct_id, "1", "--source", "adjustment")
    creditctl("grant", acct_id, "1", "--source", "signup_bonus")
    eq(get(acct_id)["balance_micros"], BONUS + 2500002, "more grants")
    before = snapshot(acct_id)
    for args in (["grant", acct_id, "0", "--source", "promo"], ["grant", acct_id, "-5", "--source", "promo"],
                 ["grant", acct_id, "1.5", "--source", "promo"], ["grant", acct_id, "12abc", "--source", "promo"],
                 ["grant", acct_id, "9223372036854775808", "--source", "promo"],
                 ["grant", acct_id, "5", "--source", "topup"], ["grant", acct_id, "5"],
                 ["grant", acct_id, "5", "--source", "promo", "--expires", "2020-01-01T00:00:00Z"],
                 ["grant", acct_id, "5", "--source", "promo", "--expires", "soon"],
                 ["grant", acct_id, "5", "--source", "promo", "--priority", "101"],
                 ["grant", acct_id, "5", "--source", "promo", "--priority", "x"], ["grant", acct_id],
                 # A mistyped option must not turn into a grant without it.
                 ["grant", acct_id, "5", "--source", "promo", "--expire", in_seconds(60)],
                 ["grant", acct_id, "5", "--source", "promo", "--priority"],
                 ["grant", acct_id, "5", "--source", "promo", "extra"],
                 ["grant", acct_id, "5", "--source", "promo", "--description", "d" * 501],
                 ["grant", acct_id, "5", "--source", "promo", "--description", "a\x01b"]):
        r = creditctl(*args, check_rc=False)
        eq(r.returncode, 2, "usage error for %r" % args)
        check(r.stderr.strip() != "", "says why for %r" % args)
    cli_id = uid("cli")
    made = json.loads(creditctl("account", "create", cli_id, "--kind", "workspace").stdout)
    eq((made["id"], made["kind"], made["balance_micros"]), (cli_id, "workspace", BONUS), "account create")
    again = json.loads(creditctl("account", "create", cli_id, "--kind", "workspace").stdout)
    eq(again["balance_micros"], BONUS, "created once")
    eq(len(journal(cli_id)), 1, "one bonus")
    r = creditctl("account", "create", cli_id, check_rc=False)
    eq(r.returncode, 1, "same id, other kind")
    check("conflict" in r.stderr, "says conflict: " + r.stderr)
    typo = uid("typo")
    r = creditctl("account", "create", typo, "--kidn", "workspace", check_rc=False)
    eq(r.returncode, 2, "a mistyped option is a usage error")
    check(not exists(typo), "not created with the wrong kind")
    for bad in (b"x" * 129, b"a\x01b", b"\xff\xfe"):
        r = creditctl("account", "create", bad, check_rc=False)
        eq(r.returncode, 2, "bad id %r refused" % bad[:8])
        check(not exists(bad), "not created")
    r = creditctl("grant", uid("nobody"), "5", "--source", "promo", check_rc=False)
    eq(r.returncode, 1, "grant to an unknown account")
    check("not found" in r.stderr, "says not found: " + r.stderr)
    eq(snapshot(acct_id), before, "refused grants change nothing")
    verify()


def test_creditctl_export():
    acct_id = new_account("export")
    grant(acct_id, 1500, "adjustment", description='says "hi", twice')
    eq(debit(acct_id, 500, "fee, with comma").status, 201, "debit")
    api_rows = list(reversed(pages(acct_id, 200)))
    out = creditctl("export", acct_id, "--format", "csv").stdout
    import csv
    import io
    rows = list(csv.reader(io.StringIO(out)))
    eq(rows[0], ["id", "amount_micros", "balance_after_micros", "cause", "source", "reference", "description",
                 "created_at"], "CSV header")
    eq(len(rows) - 1, 3, "one row per entry")
    for row, e in zip(rows[1:], api_rows):
        eq(row[0], e["id"], "id, oldest first")
        eq((int(row[1]), int(row[2]), row[3]), (e["amount_micros"], e["balance_after_micros"], e["cause"]), "money")
        eq(row[4], e["source"] or "", "source")
        eq(row[6], e["description"] or "", "description survives quoting")
        eq(row[7], e["created_at"], "time")
    eq(creditctl("export", acct_id).stdout, out, "CSV is the default")
    out = creditctl("export", acct_id, "--format", "json").stdout
    exported = [json.loads(line) for line in out.splitlines() if line.strip()]
    eq(len(exported), 3, "JSON lines")
    for got, e in zip(exported, api_rows):
        for k in TXN_FIELDS:
            eq(got.get(k), e[k], "JSON export field " + k)
    r = creditctl("export", uid("nobody"), check_rc=False)
    eq(r.returncode, 1, "unknown account")
    r = creditctl("export", acct_id, "--format", "xml", check_rc=False)
    eq(r.returncode, 2, "unknown format")
    for args in (["--format"], ["--fromat", "json"], ["json"]):
        r = creditctl("export", acct_id, *args, check_rc=False)
        eq((r.returncode, r.stdout), (2, ""), "export %r is a usage error" % args)


def test_creditctl_export_in_pages():
    # More journal rows than one page of an export (LIMIT_EXPORT_PAGE,
    # 256): creditctl reads page after page, and prints every row once, in
    # order, with one CSV header.
    acct_id = new_account("export_pages")
    parallel(10, lambda i: [grant(acct_id, 1, "adjustment", description="row %d.%d" % (i, k)) for k in range(30)])
    api_rows = list(reversed(pages(acct_id, 200)))
    eq(len(api_rows), 301, "the signup bonus and 300 grants")
    out = creditctl("export", acct_id).stdout
    lines = out.splitlines()
    eq(lines[0], "id,amount_micros,balance_after_micros,cause,source,reference,description,created_at", "header")
    eq([line.split(",")[0] for line in lines[1:]], [e["id"] for e in api_rows], "every row once, oldest first")
    exported = [json.loads(line) for line in creditctl("export", acct_id, "--format", "json").stdout.splitlines()]
    eq([e["id"] for e in exported], [e["id"] for e in api_rows], "JSON lines, every row once")
    eq([e["description"] for e in exported], [e["description"] for e in api_rows], "descriptions")


def test_verify_says_how_far_it_is_with_progress():
    """--progress: a line on stderr after each check (its number of all,
    its name, what it found, how long), stdout as without it; a wrong
    argument is a usage error (2) that checks nothing."""
    plain = creditctl("verify")
    out = creditctl("verify", "--progress")
    eq(out.stdout, plain.stdout, "stdout keeps its shape")
    eq(plain.stderr, "", "no progress unless asked (stderr is no terminal here)")
    lines = out.stderr.splitlines()
    check(len(lines) >= 20, "a line a check: " + out.stderr)
    total = len(lines)
    for n, line in enumerate(lines, 1):
        m = re.match(r"creditctl: verify: (\d+)/(\d+) (.+): (\d+) found, ([\d.]+) s \(([\d.]+) s in all\)$", line)
        check(m is not None, "progress line shape: " + line)
        eq((int(m.group(1)), int(m.group(2))), (n, total), "numbered in order: " + line)
    check(any(" balance vs journal: " in line for line in lines), "names the checks: " + out.stderr)
    check(any(" usage cost vs journal: " in line for line in lines), "names the checks: " + out.stderr)
    bad = creditctl("verify", "--fast", check_rc=False)
    eq(bad.returncode, 2, "unknown argument: usage")
    check("usage: creditctl verify" in bad.stderr, "says the usage: " + bad.stderr)


def test_verify_sums_usage_per_account_and_names_the_account():
    """The usage check compares an account's usage rows with its journal
    charges: a usage row's cost changed is found and named by account."""
    acct_id = new_account("usesum")
    grant(acct_id, 100000)
    r = api("POST", "/v1/usage", {"account": acct_id, "model": "gpt-4o", "input_tokens": 100,
                                  "output_tokens": 10, "request_id": uid("u")}, auth="guard")
    eq(r.status, 200, "direct usage")
    verify()
    aid = sql("SELECT id FROM accounts WHERE ext_id = %s" % hexid(acct_id))[0][0]
    sql("UPDATE usage_records SET cost_micros = cost_micros + 7 WHERE account_id = %s" % aid)
    try:
        out = creditctl("verify", check_rc=False)
    finally:
        sql("UPDATE usage_records SET cost_micros = cost_micros - 7 WHERE account_id = %s" % aid)
    eq(out.returncode, 1, "verify fails on a tampered usage cost")
    check(any("usage cost vs journal" in line and acct_id in line for line in out.stdout.splitlines()),
          "names the check and the account: " + out.stdout)
    verify()
