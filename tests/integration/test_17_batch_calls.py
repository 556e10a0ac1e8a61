"""test_17_batch_calls.py: the guard's two procedures (sql/020_batch_calls.sql)
against the stack's real MariaDB, called directly, and the two CALLs a
guard write costs seen from /metrics.

cd_batch_read: accounts named by id and by external id come back locked in
ascending id order, an unknown one is absent, grants come in spending order
with the debt row last, stored answers and holds come with their accounts;
with lock 0 the accounts are not returned. cd_batch_write: new holds get
their ids back by position, a stored answer naming a new hold or usage gets
that id written in, journal rows keep the order given, and without
do_commit nothing is committed (a ROLLBACK undoes it all).
"""
import json
import os
import re
import subprocess

from lib import ENV, Fail, api, check, eq, new_account, sql, uid, verify, wait_until
from test_20_guard import authorize, funded, settle

SETS = ("accounts", "plan_caps", "holds", "hold_reqs", "members", "usages", "grants", "idem_keys",
        "new_holds", "new_usages")


def call_sets(statements):
    """Runs statements as root; the result sets, by the name of their first column."""
    cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
    p = subprocess.run(["mariadb", "--defaults-file=" + cnf, "-B", "creditd", "-e", statements],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise Fail("sql failed: %s" % p.stderr)
    out, name = {}, None
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        if cols[0] in SETS:
            name = cols[0]
            out[name] = {"cols": cols, "rows": []}
        elif name is not None and cols[0] == "0":
            out[name]["rows"].append(cols)
    return out


def lit(doc):
    """A JSON document as an SQL string literal (None: NULL)."""
    if doc is None:
        return "NULL"
    return "'" + json.dumps(doc).replace("\\", "\\\\").replace("'", "''") + "'"


READ_LISTS = ("ids", "ext", "holds", "reqs", "members", "usages", "spend_ids", "spend_ext", "keys")
WRITE_LISTS = ("holds_new", "usages_new", "usages", "holds_set", "grants_set", "debts", "journal", "members",
               "accounts", "events", "recharges", "keys")


def read_call(lock, **lists):
    """CALL cd_batch_read with each list given (the others NULL), 65 grants a page."""
    return "CALL cd_batch_read(%d, 65, %s)" % (lock, ", ".join(lit(lists.get(k)) for k in READ_LISTS))


def write_call(now, commit, **lists):
    return "CALL cd_batch_write(%d, %d, %s)" % (now, commit, ", ".join(lit(lists.get(k)) for k in WRITE_LISTS))


def acct_id(ext):
    return int(sql("SELECT id FROM accounts WHERE ext_id = '%s'" % ext)[0][0])


def test_read_locks_accounts_in_id_order_and_skips_unknown_ones():
    a, b = new_account("bcall"), new_account("bcall")
    ia, ib = acct_id(a), acct_id(b)
    got = call_sets(read_call(1, ext=[b, "no-such-" + uid(), a]))
    ids = [int(r[1]) for r in got["accounts"]["rows"]]
    eq(ids, sorted([ia, ib]), "both known accounts, ascending, the unknown one absent")
    exts = [r[2] for r in got["accounts"]["rows"]]
    eq(set(exts), {a, b}, "external ids")
    got = call_sets(read_call(0, ext=[a], spend_ext=[a]))
    check("accounts" not in got, "lock 0 returns no accounts: %r" % got.keys())
    check("grants" in got, "but the grants of those that may spend")


def _grants_with_debt(prefix):
    acct = new_account(prefix)
    for prio, amount in ((90, 1000), (10, 2000), (50, 3000)):
        r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": amount, "source": "promo",
                                                           "priority": prio})
        check(r.status in (200, 201), "grant: %r" % r)
    ia = acct_id(acct)
    sql("INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, created_at) "
        "VALUES (%d, 'debt', 0, 0, 0, 0)" % ia)
    want = [int(r[0]) for r in sql("SELECT id FROM grants WHERE account_id = %d AND remaining_micros > 0 "
                                   "ORDER BY priority, expires_at IS NULL, expires_at, id" % ia)]
    debt = int(sql("SELECT id FROM grants WHERE account_id = %d AND source = 'debt'" % ia)[0][0])
    return acct, ia, want, debt


def test_read_returns_grants_in_spending_order_with_the_debt_row():
    acct, ia, want, debt = _grants_with_debt("bcall")
    # One account that spends (by external id, and by id): read by its key.
    for got in (call_sets(read_call(1, spend_ext=[acct], ext=[acct])),
                call_sets(read_call(1, ids=[ia], spend_ids=[ia]))):
        rows = got["grants"]["rows"]
        eq([int(r[1]) for r in rows if r[4] == "0"], want, "positive grants in spending order")
        eq([int(r[1]) for r in rows if r[4] == "1"], [debt], "and the debt row")
    # Two accounts: grouped by account, each in spending order, debt last.
    other, io, want_o, debt_o = _grants_with_debt("bcall")
    rows = call_sets(read_call(1, ext=[acct, other], spend_ext=[acct, other]))["grants"]["rows"]
    for a, w, d in ((ia, want, debt), (io, want_o, debt_o)):
        mine = [r for r in rows if int(r[2]) == a]
        eq([int(r[1]) for r in mine], w + [d], "account %d: spending order, then its debt row" % a)
    verify()


def test_read_pages_an_accounts_grants():
    acct = new_account("bcall")
    ia = acct_id(acct)
    # Rows of no journal's: taken out again, so the ledger still verifies.
    sql("INSERT INTO grants (account_id, source, amount_micros, remaining_micros, priority, reference, created_at) "
        "SELECT %d, 'promo', 1, 1, 50, 'test-17-page', 0 FROM seq_1_to_80" % ia)
    try:
        for lists in (dict(spend_ids=[ia]), dict(spend_ext=[acct], ext=[acct]),
                      dict(spend_ids=[ia], ids=[ia, ia + 1])):
            rows = call_sets(read_call(1, **lists))["grants"]["rows"]
            n = len([r for r in rows if r[4] == "0"])
            # 65: one more than a charge burns before reading again, so creditd
            # knows there are more (a lone account's page may carry one more).
            check(65 <= n <= 66, "a page of 65 positive grants, not all 80 (%r): %d" % (lists, n))
    finally:
        sql("DELETE FROM grants WHERE account_id = %d AND reference = 'test-17-page'" % ia)
    verify()


def test_write_returns_new_hold_ids_and_patches_stored_answers():
    acct = funded(10 ** 7, "bcall")
    ia = acct_id(acct)
    req1, req2, key = uid("rq"), uid("rq"), uid("k")
    answer = {"hold_id": "hold_%d_0" % ia, "amount_micros": 5}
    doc = dict(holds_new=[[ia, req1, None, "gpt-4o", None, None, 5, 10, 1, 2, 3, 0, None, None, 0, 1700000900],
                          [ia, req2, None, "gpt-4o", None, None, 7, 10, 1, 2, 3, 0, None, None, 0, 1700000900]],
               journal=[[ia, -3, 10 ** 7 - 3, "usage", None, None, "first", None],
                        [ia, -4, 10 ** 7 - 7, "usage", None, None, "second", None]],
               keys=[[key, "ab" * 32, 200, json.dumps(answer), 1, None]])
    got = call_sets("SET autocommit = 0; %s; "
                    "SELECT 0 AS idem_keys, response FROM idempotency_keys WHERE idem_key = '%s'; "
                    "SELECT 0 AS holds, id, request_id FROM holds WHERE request_id IN ('%s', '%s') ORDER BY id; "
                    "SELECT 0 AS usages, reference FROM journal WHERE account_id = %d AND reference IN "
                    "('first', 'second') ORDER BY id; ROLLBACK"
                    % (write_call(1700000000, 0, **doc), key, req1, req2, ia))
    by_req = {r[2]: int(r[1]) for r in got["holds"]["rows"]}
    new = {int(r[1]): int(r[2]) for r in got["new_holds"]["rows"]}
    eq(new, {0: by_req[req1], 1: by_req[req2]}, "new hold ids by position")
    stored = json.loads(got["idem_keys"]["rows"][0][1])
    eq(stored["hold_id"], "hold_%d_%d" % (ia, by_req[req2]), "the stored answer names the new hold")
    eq(stored["amount_micros"], 5, "the rest of the answer as given")
    eq([r[1] for r in got["usages"]["rows"]], ["first", "second"], "journal rows in the order given")
    left = sql("SELECT COUNT(*) FROM holds WHERE request_id IN ('%s', '%s')" % (req1, req2))
    eq(left[0][0], "0", "without do_commit, the ROLLBACK undid the write")


def test_write_returns_new_usage_ids_in_order():
    acct = funded(10 ** 7, "bcall")
    ia = acct_id(acct)
    k1, k2 = uid("u"), uid("u")
    row = lambda k: [ia, None, k, None, "gpt-4o", None, 1, 0, 1, 3, 0, k, None, "cd" * 32]
    doc = dict(usages_new=[row(k1), row(k2)],
               keys=[[uid("k"), "ab" * 32, 200, json.dumps({"usage_id": "usage_0"}), None, 1]])
    got = call_sets("SET autocommit = 0; %s; "
                    "SELECT 0 AS usages, id, usage_key FROM usage_records WHERE usage_key IN ('%s', '%s'); "
                    "SELECT 0 AS idem_keys, response FROM idempotency_keys WHERE idem_key = '%s'; ROLLBACK"
                    % (write_call(1700000000, 0, **doc), k1, k2, doc["keys"][0][0]))
    by_key = {r[2]: int(r[1]) for r in got["usages"]["rows"]}
    new = {int(r[1]): int(r[2]) for r in got["new_usages"]["rows"]}
    eq(new, {0: by_key[k1], 1: by_key[k2]}, "new usage ids by position")
    eq(json.loads(got["idem_keys"]["rows"][0][1])["usage_id"], "usage_%d" % by_key[k2], "patched usage id")


def _counts(route):
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r'^creditd_db_round_trips_total\{route="%s"\} (\d+)$' % re.escape(route), text, re.M)
    n = sum(int(x) for x in re.findall(r'^creditd_requests_total\{route="%s",status="\d+"\} (\d+)$'
                                       % re.escape(route), text, re.M))
    return (int(m.group(1)) if m else 0), n


_seen = {}


def round_trips(route):
    """The route's round trips once every request sent to it is counted
    (a request is counted just after its answer is written)."""
    want = _seen.get(route)
    got = [None]

    def counted():
        got[0] = _counts(route)
        return want is None or got[0][1] >= want
    wait_until(counted, timeout=5)
    return got[0][0]


def sent(route, n=1):
    _seen[route] = _counts(route)[1] + n if route not in _seen else _seen[route] + n


def test_a_guard_write_at_one_client_is_two_calls():
    acct = funded(10 ** 7, "bcall")
    _seen.clear()
    sent("authorize")
    authorize(acct)     # the account's first batch may open it (month roll)
    before = round_trips("authorize"), round_trips("settle")
    sent("authorize")
    sent("settle")
    r = authorize(acct)
    eq(r.status, 200, "authorize")
    s = settle(r.json["hold_id"], 1000, 100)
    eq(s.status, 200, "settle")
    after = round_trips("authorize"), round_trips("settle")
    eq(after[0] - before[0], 2, "an authorize is two round trips: the read CALL and the write CALL")
    eq(after[1] - before[1], 2, "a settle is two round trips")


def test_an_answer_stored_under_a_key_costs_no_third_round_trip():
    acct = funded(10 ** 7, "bcall")
    _seen.clear()
    sent("authorize")
    authorize(acct)
    before = round_trips("authorize")
    sent("authorize")
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 500,
            "request_id": uid("req")}
    key = uid("k")
    r = api("POST", "/v1/guard/authorize", body, auth="guard", headers={"Idempotency-Key": key})
    eq(r.status, 200, "authorize")
    eq(round_trips("authorize") - before, 2, "the answer is stored by the write CALL")
    sent("authorize")
    again = api("POST", "/v1/guard/authorize", body, auth="guard", headers={"Idempotency-Key": key})
    eq(again.status, 200, "replay")
    eq(again.json["hold_id"], r.json["hold_id"], "the stored answer names the hold made")
