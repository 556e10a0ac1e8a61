"""test_17_batch_calls.py: the guard's read procedure (sql/020_batch_calls.sql)
and the one writer (cd_write, sql/039) against the stack's real MariaDB,
called directly, and the CALLs a guard write costs seen from /metrics.

cd_batch_read: accounts named by id and by external id come back locked in
ascending id order, an unknown one is absent, grants come in spending order
with the debt row last, stored answers and holds come with their accounts;
with lock 0 the accounts are not returned. cd_write: new holds, usages and
grants get their ids back by position, a write that does not commit gets
its one journal row's id, a stored answer naming a new hold or usage gets
that id written in, journal rows keep the order given, any Unicode text is
stored as given, a lone row and a list store the same columns, and without
do_commit nothing is committed (a ROLLBACK undoes it all).
"""
import hashlib
import json
import os
import re
import subprocess

import lib
import stack
from lib import ENV, Fail, api, check, eq, new_account, procedure_from, sql, uid, verify, wait_until
from test_20_guard import authorize, funded, settle
from test_70_metrics import scrape, value

SETS = ("accounts", "plan_caps", "holds", "hold_reqs", "members", "usages", "grants", "idem_keys",
        "new_holds", "new_usages", "new_grants", "new_journal", "journal", "alerts", "alert_members",
        "alert_plan_grants", "alert_plan_caps", "versions", "handler", "row_after")


def call_sets(statements):
    """Runs statements as root; the result sets, by the name of their first column."""
    cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
    p = subprocess.run(["mariadb", "--defaults-file=" + cnf, "--default-character-set=utf8mb4", "-B", "creditd", "-e",
                        statements],
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
WRITE_LISTS = ("holds_new", "usages_new", "usages", "holds_set", "grants_set", "debts", "grants_new", "journal",
               "members", "accounts", "events", "recharges", "keys", "at", "alerts_set", "alert_members_set",
               "alert_members_del")


def read_call(lock, **lists):
    """CALL cd_batch_read with each list given (the others NULL), 65 grants a page."""
    return "CALL cd_batch_read(%d, 65, %s)" % (lock, ", ".join(lit(lists.get(k)) for k in READ_LISTS))


def write_call(now, commit, **lists):
    return "CALL cd_write2(%d, %d, %s)" % (now, commit, ", ".join(lit(lists.get(k)) for k in WRITE_LISTS))


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


def test_read_answers_alert_rows_only_for_accounts_with_alerts():
    """cd_batch_read (sql/059) answers the alert sets, last, only when an
    account it read has alerts: an account without costs no set; one
    with has its alerts in order and the states of the members named."""
    plain, ws = new_account("bcall"), new_account("bcall", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob", "monthly_cap_micros": 1000}).status
       in (200, 201), True, "bob")
    got = call_sets(read_call(1, ext=[plain, ws], members=[[ws, "bob"]]))
    check(not any(k.startswith("alert") for k in got), "no alerts anywhere: no alert set: %r" % list(got))
    alerts = [{"kind": "member_cap_pct", "pct": 50}, {"kind": "balance_below", "micros": 7}]
    eq(api("PUT", "/v1/accounts/%s/alerts" % ws, {"alerts": alerts}).status, 200, "alerts set")
    iw = acct_id(ws)
    first = int(sql("SELECT id FROM alerts WHERE account_id = %d AND kind = 'member_cap_pct'" % iw)[0][0])
    sql("INSERT INTO alert_members (alert_id, member, fired_key) VALUES (%d, 'bob', 7), (%d, 'carol', 7)"
        % (first, first))
    got = call_sets(read_call(1, ext=[plain, ws], members=[[ws, "bob"]]))
    eq([r[3] for r in got["alerts"]["rows"]], ["member_cap_pct", "balance_below"], "the account's alerts, in order")
    eq({int(r[1]) for r in got["alerts"]["rows"]}, {iw}, "of the account with alerts alone")
    eq([(int(r[1]), r[2], int(r[3])) for r in got["alert_members"]["rows"]], [(first, "bob", 7)],
       "the named member's state, not another's")
    names = list(got)
    eq(names[names.index("alerts"):], [n for n in names if n.startswith("alert")],
       "the alert sets come last, after every set a creditd before 059 reads: %r" % names)


def test_write_sets_alert_states():
    """cd_write's alert lists (sql/059): an alert's own state set, a
    member's state made or changed, and one dropped (armed again)."""
    ws = new_account("bcall", kind="workspace")
    alerts = [{"kind": "member_cap_pct", "pct": 50}, {"kind": "balance_below", "micros": 7}]
    eq(api("PUT", "/v1/accounts/%s/alerts" % ws, {"alerts": alerts}).status, 200, "alerts set")
    iw = acct_id(ws)
    cap, low = (int(sql("SELECT id FROM alerts WHERE account_id = %d AND kind = '%s'" % (iw, k))[0][0])
                for k in ("member_cap_pct", "balance_below"))
    sql("INSERT INTO alert_members (alert_id, member, fired_key) VALUES (%d, 'bob', 202610), (%d, 'carol', 202611)"
        % (cap, cap))
    call_sets(write_call(1, 1, alerts_set=[[low, 1]], alert_members_set=[[cap, "bob", 202611], [cap, "dan", 202611]],
                         alert_members_del=[[cap, "carol"]]))
    eq(int(sql("SELECT fired_key FROM alerts WHERE id = %d" % low)[0][0]), 1, "the alert's own state")
    eq(sorted(tuple(r) for r in sql("SELECT member, fired_key FROM alert_members WHERE alert_id = %d" % cap)),
       [("bob", "202611"), ("dan", "202611")], "bob's state moved, dan's made, carol's dropped")


def test_the_writer_a_creditd_before_059_calls_still_writes():
    """cd_write keeps its 16 parameters (sql/059): a creditd before 059,
    still running while the instances are restarted one by one, writes
    through it as it did, cd_write2 doing the work."""
    ws = new_account("bcall", kind="workspace")
    alerts = [{"kind": "balance_below", "micros": 7}]
    eq(api("PUT", "/v1/accounts/%s/alerts" % ws, {"alerts": alerts}).status, 200, "alerts set")
    iw = acct_id(ws)
    low = int(sql("SELECT id FROM alerts WHERE account_id = %d" % iw)[0][0])
    lists = {"events": [[iw, ws, "test.old_writer", "{}"]]}
    call_sets("CALL cd_write(1, 1, %s)" % ", ".join(lit(lists.get(k)) for k in WRITE_LISTS[:-3]))
    eq(sql("SELECT COUNT(*) FROM events WHERE account_id = %d AND type = 'test.old_writer'" % iw), [["1"]],
       "its event written by the 16-parameter call")
    eq(sql("SELECT fired_key FROM alerts WHERE id = %d" % low), [["0"]], "and no alert state (it had none to give)")


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


def _written(first, lists, commit_sql):
    """Runs cd_write with lists (commit 0) and reads back what the rows
    named in `first` became; rolled back."""
    ia, h1, g1, ref, req, newreq = first
    got = call_sets(
        "SET autocommit = 0; %s; "
        "SELECT 0 AS holds, state, charged_micros, HEX(settle_hash), HEX(settle_response), finished_at "
        "FROM holds WHERE id = %d; "
        "SELECT 0 AS grants, remaining_micros FROM grants WHERE id = %d; "
        "SELECT 0 AS members, amount_micros, balance_after_micros, cause, source, hold_id, "
        "idempotency_key, created_at, grant_id, description FROM journal WHERE reference = '%s'; "
        "SELECT 0 AS accounts, balance_micros, reserved_micros, month_key, month_spent_micros, sweep_due_at, "
        "day_key, day_spent_micros, low_noted, depleted_noted, limit_month_noted, limit_day_noted, "
        "recharge_pending, recharge_day_key, recharge_day_count, rate_minute, rate_requests, rate_tokens, "
        "recharge_threshold_micros, recharge_amount_cents, recharge_failures "
        "FROM accounts WHERE id = %d; "
        "SELECT 0 AS usages, account_id, hold_id, usage_key, member, model, action, input_tokens, "
        "cached_input_tokens, output_tokens, cost_micros, byok, conversation_id, HEX(request_hash), created_at "
        "FROM usage_records WHERE request_id = '%s'; "
        "SELECT 0 AS hold_reqs, account_id, member, model, action, conversation_id, amount_micros, "
        "max_output_tokens, pin_input_micros_per_mtok, pin_cached_input_micros_per_mtok, "
        "pin_output_micros_per_mtok, pin_margin_bps, rate_minute, rate_tokens, byok, expires_at, created_at "
        "FROM holds WHERE request_id = '%s'; %s"
        % (write_call(1700000000, 0, **lists), h1, g1, ref, ia, req, newreq, commit_sql))
    return {k: got[k]["rows"] for k in ("holds", "grants", "members", "accounts", "usages", "hold_reqs")}


def test_new_grants_and_a_journal_row_get_their_ids():
    """A write that does not commit (an operation's step inside its own
    transaction) inserts its grants in order and answers their ids, and
    the id of its one journal row."""
    acct = funded(10 ** 7, "bcall")
    ia = acct_id(acct)
    ref = uid("g\u00fc")
    doc = dict(grants_new=[[ia, "promo", 30, 30, 50, None, ref, "first \U0001F600"],
                           [ia, "promo", 40, 40, 60, 1900000000, ref, None]],
               journal=[[ia, 70, 10 ** 7 + 70, "grant", "promo", None, ref, None, -2, "two grants"]])
    got = call_sets("SET autocommit = 0; %s; "
                    "SELECT 0 AS grants, id, amount_micros, priority, expires_at, reference, description "
                    "FROM grants WHERE reference = '%s' ORDER BY id; "
                    "SELECT 0 AS journal, id, grant_id FROM journal WHERE reference = '%s'; ROLLBACK"
                    % (write_call(1700000000, 0, **doc), ref, ref))
    rows = got["grants"]["rows"]
    eq([r[2:] for r in rows], [["30", "50", "NULL", ref, "first \U0001F600"], ["40", "60", "1900000000", ref, "NULL"]],
       "both grants, in order, every column as given")
    new = {int(r[1]): int(r[2]) for r in got["new_grants"]["rows"]}
    eq(new, {0: int(rows[0][1]), 1: int(rows[1][1])}, "their ids by position")
    eq([int(r[2]) for r in got["new_journal"]["rows"]], [int(got["journal"]["rows"][0][1])], "the journal row's id")
    eq(int(got["journal"]["rows"][0][2]), int(rows[1][1]), "grant_id -2: the second grant of the write")
    two = call_sets("SET autocommit = 0; %s; SELECT 0 AS journal, grant_id FROM journal WHERE reference = '%s' "
                    "ORDER BY id; SELECT 0 AS grants, id FROM grants WHERE reference = '%s' ORDER BY id; ROLLBACK"
                    % (write_call(1700000000, 0, grants_new=doc["grants_new"],
                                  journal=[doc["journal"][0][:8] + [-1, None], doc["journal"][0]]), ref, ref))
    check("new_journal" not in two, "a write of two journal rows answers no one id: %r" % list(two))
    eq([r[1] for r in two["journal"]["rows"]], [r[1] for r in two["grants"]["rows"]],
       "a list of journal rows names each new grant by its place too")
    eq(sql("SELECT COUNT(*) FROM journal WHERE reference = '%s'" % ref)[0][0], "0", "rolled back")


def test_an_event_names_a_grant_of_its_write():
    """cd_write2 (sql/083): an event row with null data names a grant of
    the same write by its place (fifth) and carries its data sixth, whose
    grant_id becomes that grant's, in the data's own compact text (a top-up's
    topup.succeeded); a row of four elements is stored as given; a place
    where the write made no grant refuses the write."""
    acct = funded(10 ** 7, "bevg")
    ia = acct_id(acct)
    ref = uid("evg")
    grants = [[ia, "promo", 30, 30, 50, None, ref, None], [ia, "promo", 40, 40, 50, None, ref, None]]
    events = [[ia, acct, "test.named", None, 1, '{"a":1,"grant_id":null,"z":"\u00e9\U0001F600"}'],
              [ia, acct, "test.plain", '{"b": 2, "grant_id": 7}']]
    got = call_sets("SET autocommit = 0; %s; SELECT 0 AS grants, id FROM grants WHERE reference = '%s' ORDER BY id; "
                    "SELECT 0 AS journal, type, data FROM events WHERE account_id = %d AND type LIKE 'test.%%' "
                    "ORDER BY id; ROLLBACK" % (write_call(1700000000, 0, grants_new=grants, events=events), ref, ia))
    second = got["grants"]["rows"][1][1]
    eq([r[1:] for r in got["journal"]["rows"]],
       [["test.named", '{"a":1,"grant_id":"grant_%s","z":"\u00e9\U0001F600"}' % second],
        ["test.plain", '{"b": 2, "grant_id": 7}']], "the second grant named in its place; the other as given")
    try:
        call_sets("SET autocommit = 0; %s; ROLLBACK" % write_call(1700000000, 0, grants_new=grants[:1],
                                                                  events=[[ia, acct, "test.none", None, 1, "{}"]]))
        raise Fail("a write naming a grant it did not make was not refused")
    except Fail as e:
        check("an event names a grant the write did not make" in str(e), "refused: %s" % e)
    eq(sql("SELECT COUNT(*) FROM events WHERE account_id = %d AND type LIKE 'test.%%'" % ia), [["0"]], "nothing kept")


def test_a_lone_row_and_a_list_write_the_same():
    """cd_write writes a list of one row by single-row statements and
    longer lists through JSON_TABLE: both forms store every column alike,
    Unicode text included."""
    accts = [funded(10 ** 7, "bform") for _ in range(2)]
    ids = [acct_id(a) for a in accts]
    holds = [lib.hold_parts(authorize(a).json["hold_id"])[1] for a in accts]
    grants = [int(sql("SELECT MIN(id) FROM grants WHERE account_id = %d" % i)[0][0]) for i in ids]

    def lists(n, tag):
        rows = dict(holds_set=[], grants_set=[], journal=[], accounts=[], usages=[], holds_new=[])
        firsts = None
        for k in range(n):
            ref, req, newreq = uid("ref" + tag), uid("rq" + tag), uid("nq" + tag)
            ia, h, g = ids[k], holds[k], grants[k]
            rows["holds_set"].append([h, "settled", 11 + k, "ab" * 32, '{"x":"a\\"b\\\\n"}'])
            rows["grants_set"].append([g, 123 + k])
            rows["journal"].append([ia, -5, 99, "usage", None, h, ref, None, g, "d\u00e9bit \U0001F600 \"q\""])
            rows["accounts"].append([ia, 9999 - k, 17, 202611, 44, None, 20780, 3, 1, 0, 202611, 0, 0, 20780,
                                     2, 29000000, 3, 1500, 5000, 1000, 2])
            rows["usages"].append([ia, h, None, None, "gpt-4o", "chat", 10, 2, 30, 57, 1, req, "conv-1",
                                   "cd" * 32])
            rows["holds_new"].append([ia, newreq, None, "gpt-4o", "chat", "conv-2", 5, 10, 1, 2, 3, 250, 29000000,
                                      1500, 0, 1700000900])
            firsts = firsts or (ia, h, g, ref, req, newreq)
        return firsts, rows

    lone = _written(*lists(1, "l"), "ROLLBACK")
    listed = _written(*lists(2, "m"), "ROLLBACK")
    for name in lone:
        eq(len(lone[name]), 1, "one %s row written (a lone row)" % name)
        eq(lone[name], listed[name], "%s: a lone row stored as the same row in a list" % name)
    eq(lone["holds"][0][1:4], ["settled", "11", "AB" * 32], "the settled hold's columns")
    eq(lone["members"][0][-1], "d\u00e9bit \U0001F600 \"q\"", "a journal description in any Unicode, as given")
    eq(lone["accounts"][0][-3:], ["5000", "1000", "2"], "the auto-recharge setting and failures")
    eq(bytes.fromhex(lone["holds"][0][4]).decode(), '{"x":"a\\"b\\\\n"}', "the stored answer as given")


def _counts(route):
    """The route's round trips less those of API key look-ups (a worker
    thread's key cache lasts a second, then a look-up costs a SELECT and a
    COMMIT, counted on the route that made it), and its requests."""
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r'^creditd_db_round_trips_total\{route="%s"\} (\d+)$' % re.escape(route), text, re.M)
    n = sum(int(x) for x in re.findall(r'^creditd_requests_total\{route="%s",status="\d+"\} (\d+)$'
                                       % re.escape(route), text, re.M))
    lookups = re.search(r'^creditd_auth_lookups_total (\d+)$', text, re.M)
    return (int(m.group(1)) if m else 0) - 2 * (int(lookups.group(1)) if lookups else 0), n


def _key_use_noted():
    """The guard key's last use noted far ahead, so a look-up never adds
    its UPDATE (a third round trip, once a minute) to a count here."""
    digest = hashlib.sha256(ENV["CREDITD_GUARD_KEY"].encode()).hexdigest()
    sql("UPDATE api_keys SET last_used_at = 4102444800 WHERE key_hash = UNHEX('%s')" % digest)
    eq(int(sql("SELECT COUNT(*) FROM api_keys WHERE key_hash = UNHEX('%s')" % digest)[0][0]), 1, "the guard key")


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


def _trips(route, fn):
    """Round trips of route while fn runs (one request of it)."""
    before = round_trips(route)
    sent(route)
    r = fn()
    return r, round_trips(route) - before


def test_a_guard_write_on_rows_kept_is_one_call():
    """An account's first batch reads its rows (the read CALL, then the
    write CALL), its grants included; from then on creditd keeps the rows
    it wrote, and a batch of rows kept is the write CALL alone, a settle's
    charge included."""
    acct = funded(10 ** 7, "bcall")
    _seen.clear()
    _key_use_noted()
    sent("authorize")
    eq(authorize(acct).status, 200, "the account's first authorize (it may open it: a month roll)")
    r, n = _trips("authorize", lambda: authorize(acct))
    eq(r.status, 200, "authorize")
    eq(n, 1, "an authorize on rows kept is the write CALL alone")
    s, n = _trips("settle", lambda: settle(r.json["hold_id"], 1000, 100))
    eq(s.status, 200, "settle")
    eq(n, 1, "the first settle finds the grants the first read kept")
    r, n = _trips("authorize", lambda: authorize(acct))
    eq(n, 1, "authorize, kept")
    s, n = _trips("settle", lambda: settle(r.json["hold_id"], 1000, 100))
    eq(s.status, 200, "settle")
    eq(n, 1, "a settle with the grants kept is the write CALL alone")
    verify()


def test_a_batch_with_a_key_reads_its_stored_answer():
    """A batch carrying an Idempotency-Key reads the answers stored under
    it, kept rows or not: a replay is answered from what was stored, even
    where deciding it again would refuse it and store nothing."""
    acct = funded(10 ** 7, "bcall")
    _seen.clear()
    _key_use_noted()
    for _ in range(2):
        sent("authorize")
        authorize(acct)
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 500,
            "request_id": uid("req")}
    key = uid("k")
    r, n = _trips("authorize", lambda: api("POST", "/v1/guard/authorize", body, auth="guard",
                                           headers={"Idempotency-Key": key}))
    eq(r.status, 200, "authorize")
    eq(n, 2, "read (no answer stored yet), then the write stores it")
    again, n = _trips("authorize", lambda: api("POST", "/v1/guard/authorize", body, auth="guard",
                                               headers={"Idempotency-Key": key}))
    eq(again.status, 200, "replay")
    eq(again.json["hold_id"], r.json["hold_id"], "the stored answer names the hold made")
    eq(n, 2, "the stored answer is read and replayed")
    eq(int(sql("SELECT COUNT(*) FROM holds WHERE request_id = '%s'" % body["request_id"])[0][0]), 1,
       "one hold for the key")


def _kept(prefix):
    """An account whose rows creditd keeps (an authorize and a settle done),
    and the hold of a third authorize, pending."""
    acct = funded(10 ** 7, prefix)
    _seen.clear()
    _key_use_noted()
    for _ in range(2):
        r = authorize(acct)
        eq(settle(r.json["hold_id"], 1000, 100).status, 200, "settle")
    r, n = _trips("authorize", lambda: authorize(acct))
    eq(n, 1, "rows kept")
    return acct, r.json["hold_id"]


def test_a_row_changed_behind_creditds_back_is_read_again():
    """The rows kept are never decided on once another writer moved them
    (sql/037's versions): an operator suspends the account by hand, a
    second process settles the pending hold, and creditd's next decisions
    see both, at the price of one refused write each."""
    acct, hold = _kept("bstale")
    moved = value(scrape(), "creditd_tx_retries_total", reason="moved")
    check(moved is not None, "the transaction loop's reasons are counted in /metrics")
    sql("UPDATE accounts SET status = 'suspended', status_reason = 'manual' WHERE ext_id = '%s'" % acct)
    r, n = _trips("authorize", lambda: authorize(acct))
    eq(r.status, 403, "the suspension made behind creditd's back binds: %r" % (r.json,))
    eq(n, 4, "the write of rows kept is refused and rolled back, then the rows are read and written (1 + 1 + 2)")
    eq(value(scrape(), "creditd_tx_retries_total", reason="moved"), moved + 1,
       "the batch run again once by its loop, for a row that moved")
    sql("UPDATE accounts SET status = 'active', status_reason = NULL WHERE ext_id = '%s'" % acct)
    eq(authorize(acct).status, 200, "active again")

    acct, hold = _kept("bstale")
    before = api("GET", "/v1/accounts/" + acct).json
    # Another creditd (here: SQL as it would write) releases the hold.
    hid = lib.hold_parts(hold)[1]
    sql("UPDATE holds h JOIN accounts a ON a.id = h.account_id SET h.state = 'released', h.finished_at = 1, "
        "a.reserved_micros = a.reserved_micros - h.amount_micros WHERE h.id = %s" % hid)
    moved = value(scrape(), "creditd_tx_retries_total", reason="moved")
    s, n = _trips("settle", lambda: settle(hold, 1000, 100))
    eq(s.status, 409, "a hold released elsewhere is not settled from the rows kept: %r" % (s.json,))
    eq(n, 4, "refused write, its rollback, then read and write")
    eq(value(scrape(), "creditd_tx_retries_total", reason="moved"), moved + 1, "counted moved")
    after = api("GET", "/v1/accounts/" + acct).json
    eq(after["balance_micros"], before["balance_micros"], "nothing charged")
    verify()


def test_a_member_costs_no_round_trip_when_its_row_is_made():
    """A member with a row, as one with none on a workspace without a plan
    member cap, is read by the read CALL: two round trips. A member the
    plan's cap makes a row for (DESIGN §13) costs none more: the read CALL
    makes the row under its account's lock (sql/086) and reads it back with
    the others (before, a statement of its own between the read and the
    write: three round trips)."""
    n = uid("bplan")
    eq(api("PUT", "/v1/plans/" + n, {"credits_micros": 0, "rollover": "none", "member_cap_micros": 10 ** 7})
       .status, 200, "a plan with a member cap")
    ws = uid("bws")
    eq(api("POST", "/v1/accounts", {"id": ws, "kind": "workspace", "plan": n}).status, 201, "its workspace")
    plain = new_account("bws", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "kept"}).status, 201, "a member with a row")
    _seen.clear()
    _key_use_noted()
    for acct in (ws, plain):
        sent("authorize")
        authorize(acct)     # the account's first batch may open it (month roll)
    for acct, member, want in ((ws, "kept", 2), (plain, "rowless", 2), (ws, "fresh", 2), (ws, "fresh", 2)):
        before = round_trips("authorize")
        sent("authorize")
        eq(authorize(acct, member=member).status, 200, "authorize for %s" % member)
        eq(round_trips("authorize") - before, want, "%s on %s: round trips" % (member, acct))
    rows = sql("SELECT m.member, m.monthly_cap_micros IS NULL, m.reserved_micros > 0 FROM members m "
               "JOIN accounts a ON a.id = m.account_id WHERE a.ext_id IN ('%s', '%s') ORDER BY m.member"
               % (ws, plain))
    eq([tuple(str(c) for c in r) for r in rows], [("fresh", "1", "1"), ("kept", "1", "1")],
       "the fresh member's row made once, with no cap of its own, its two holds reserved on it; "
       "none on the workspace without a member cap")


def test_a_creditd_of_086_refuses_a_capped_member_with_no_row_until_the_migration_runs():
    """docs/operations.md, 086: against 059's read, which makes no member
    row, a new member of a workspace whose plan caps members is refused
    (500, logged once), never decided as if it had no cap: nothing held,
    no row made. Migrated, the same authorize is held and its row made."""
    n = uid("bplan")
    eq(api("PUT", "/v1/plans/" + n, {"credits_micros": 0, "rollover": "none", "member_cap_micros": 10 ** 7})
       .status, 200, "a plan with a member cap")
    ws = uid("bws")
    eq(api("POST", "/v1/accounts", {"id": ws, "kind": "workspace", "plan": n}).status, 201, "its workspace")
    eq(authorize(ws).status, 200, "the workspace's first batch (no member)")
    procedure_from("059_alerts_in_batch.sql", "cd_batch_read")
    try:
        moved = value(scrape(), "creditd_tx_retries_total", reason="moved")
        r = authorize(ws, member="late")
        eq(r.status, 500, "refused against 059's read: %r" % (r.json,))
        eq(r.json["error"]["code"], "internal_error", "its code")
        # Read once more first (a plan's cap set between the read's two
        # looks at the plan leaves the same gap), then refused.
        eq(value(scrape(), "creditd_tx_retries_total", reason="moved"), moved + 1, "read again once, as moved")
    finally:
        procedure_from("086_member_rows_in_read.sql", "cd_batch_read")
    held = "SELECT COUNT(*) FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s' " \
           "AND h.member = 'late'" % ws
    rows = "SELECT COUNT(*) FROM members m JOIN accounts a ON a.id = m.account_id WHERE a.ext_id = '%s'" % ws
    eq((sql(held)[0][0], sql(rows)[0][0]), ("0", "0"), "nothing held, no row made")
    eq(authorize(ws, member="late").status, 200, "migrated: held")
    eq((sql(held)[0][0], sql(rows)[0][0]), ("1", "1"), "its hold and its row")
    with open(stack.path("creditd.log"), errors="replace") as f:
        check("has no row where its plan caps members: the read makes it from sql/086: run creditctl migrate"
              in f.read(), "the refusal logged, naming the migration")
    verify()


def test_a_guard_batch_with_alerts_is_its_read_and_its_write():
    """An account with threshold alerts has its alerts, its members'
    alert states, its plan's member cap and plan grants read by the
    batch's read CALL, and the states that move written by its write
    CALL with the alert.threshold events: a batch is two round trips
    whether an alert fires or not (docs/architecture.md, "One writer")."""
    ws = funded(10 ** 7, "balert", kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "bob", "monthly_cap_micros": 12000}).status
       in (200, 201), True, "bob, capped")
    alerts = [{"kind": "balance_below", "micros": 10 ** 7 - 1000}, {"kind": "member_cap_pct", "pct": 50},
              {"kind": "monthly_spend_pct", "pct": 90}]
    eq(api("PUT", "/v1/accounts/%s/alerts" % ws, {"alerts": alerts}).status, 200, "alerts set")

    def told():
        return [(e["kind"], e.get("member")) for e in (json.loads(r[0]) for r in sql(
            "SELECT e.data FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id = '%s' "
            "AND e.type = 'alert.threshold' ORDER BY e.id" % ws))]
    _seen.clear()
    _key_use_noted()
    sent("authorize")
    eq(authorize(ws, member="bob", input_tokens=10, max_output_tokens=10).status, 200,
       "the account's first authorize (it may open it: a month roll)")
    eq(told(), [], "nothing crossed yet")
    r, n = _trips("authorize", lambda: authorize(ws, member="bob"))
    eq(r.status, 200, "authorize")
    eq(told(), [("balance_below", None)], "the hold took the balance below its threshold")
    eq(n, 2, "an authorize whose alert fires: its read and its write")
    s, n = _trips("settle", lambda: settle(r.json["hold_id"], 1000, 500))
    eq(s.status, 200, "settle")
    check(s.json["charged_micros"] >= 6000, "bob past half his cap: %r" % (s.json,))
    eq(told(), [("balance_below", None), ("member_cap_pct", "bob")], "bob's 50 %, once")
    eq(n, 2, "a settle whose member alert fires: its read and its write")
    r, n = _trips("authorize", lambda: authorize(ws, member="bob", input_tokens=10, max_output_tokens=10))
    eq(r.status, 200, "authorize")
    eq(n, 2, "an authorize with alerts that fire nothing: its read and its write")
    eq(len(told()), 2, "nothing told twice")
    verify()


def test_unicode_keys_are_found_again():
    """A request_id, a usage's request_id and an Idempotency-Key in any
    Unicode are stored by cd_write and looked up by cd_batch_read in the
    same bytes (both take utf8mb4 lists, whatever the database's default
    character set: the stack's is latin1): each replay answers the first
    result and charges nothing twice."""
    acct = funded(10 ** 7, "bcall")
    tag = uid("\u00e9\U0001F600")
    a1 = authorize(acct, request_id="rq-" + tag)
    a2 = authorize(acct, request_id="rq-" + tag)
    eq((a1.status, a2.status), (200, 200), "authorize twice: %r %r" % (a1.json, a2.json))
    eq(a2.json["hold_id"], a1.json["hold_id"], "the same request_id answers its hold")
    use = {"account": acct, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10, "request_id": "u-" + tag}
    u1, u2 = api("POST", "/v1/usage", use, auth="guard"), api("POST", "/v1/usage", use, auth="guard")
    eq((u1.status, u2.status), (200, 200), "usage twice: %r %r" % (u1.json, u2.json))
    eq((u2.json["usage_id"], u2.json["charged_micros"], u2.json.get("replayed")),
       (u1.json["usage_id"], u1.json["charged_micros"], True), "the same usage request_id answers the first result")
    body = {"hold_id": a1.json["hold_id"], "input_tokens": 10, "output_tokens": 20, "idempotency_key": "k-" + tag}
    s1 = api("POST", "/v1/guard/settle", body, auth="guard")
    s2 = api("POST", "/v1/guard/settle", body, auth="guard")
    eq((s1.status, s2.status), (200, 200), "settle twice under one key: %r %r" % (s1.json, s2.json))
    eq(s2.json, s1.json, "the same Idempotency-Key answers the first result")
    eq(int(sql("SELECT COUNT(*) FROM usage_records WHERE account_id = %d" % acct_id(acct))[0][0]), 2,
       "one usage row for the usage, one for the settle")
    verify()


def _others_wait(ids, at, wrote):
    """Session 1 runs cd_write (no commit) naming accounts `at` ([[id,
    version], ...]) as creditd does (READ COMMITTED, autocommit off) and
    holds its transaction open; meanwhile a second session tries to update
    each of ids, waiting at most a second. The ids whose update waited
    (1205) are returned, and what session 1's write answered."""
    cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
    held = subprocess.Popen(
        ["mariadb", "--defaults-file=" + cnf, "-B", "creditd", "-e",
         "SET SESSION tx_isolation = 'READ-COMMITTED', autocommit = 0; %s; SELECT 'written'; SELECT SLEEP(4); "
         "ROLLBACK" % write_call(1, 0, at=at, **wrote)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: sql("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE "
                               "'SELECT SLEEP(4)%'")[0][0] != "0", timeout=10)
        waited = []
        for i in ids:
            p = subprocess.run(["mariadb", "--defaults-file=" + cnf, "-B", "creditd", "-e",
                                "SET SESSION innodb_lock_wait_timeout = 1; UPDATE accounts SET low_noted = low_noted "
                                "WHERE id = %d; ROLLBACK" % i], capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                check("1205" in p.stderr, "a lock wait, not another error: %s" % p.stderr)
                waited.append(i)
    finally:
        out, err = held.communicate(timeout=30)
    check(held.returncode == 0 and "written" in out, "session 1's write: %s %s" % (out, err))
    return waited, out


def test_a_checked_write_keeps_every_account_it_checked_locked():
    """cd_write's version check (sql/040) leaves every account it checked
    locked to the COMMIT, those whose version it found unmoved above all:
    another writer waits, it cannot commit a grant or a charge between the
    check and the write. (039's check selected the moved rows with FOR
    UPDATE; READ COMMITTED unlocks the rows a locking read's WHERE rejects,
    so the accounts still at their version were unlocked at once: the lost
    updates of DESIGN §14.) The versions answered after the write are the
    rows' as locked."""
    a, b, c = (acct_id(new_account("bver")) for _ in range(3))
    ver = {int(r[0]): int(r[1]) for r in sql("SELECT id, row_version FROM accounts WHERE id IN (%d, %d, %d)" %
                                               (a, b, c))}
    at = [[i, ver[i]] for i in sorted((a, b, c))]
    waited, out = _others_wait([a, b, c], at, {})
    eq(sorted(waited), sorted([a, b, c]), "every account checked at its version stays locked (none may be written "
                                          "under the write)")
    check(re.search(r"versions\s+id\s+row_version", out), "the versions come back: %s" % out)
    # One account of one: the same.
    waited, _ = _others_wait([a], [[a, ver[a]]], {})
    eq(waited, [a], "a lone account checked stays locked")
    # A write of rows creditd read under their locks names no version:
    # nothing is checked, and an account it does not write is not locked
    # by it (its lock is the read's).
    waited, _ = _others_wait([c], [[a, None]], {})
    eq(waited, [], "no check without versions")


# An account row as cd_write's accounts list takes it (sql/078), in order.
ACCOUNT_ROW = ("id", "balance_micros", "reserved_micros", "month_key", "month_spent_micros", "sweep_due_at", "day_key",
               "day_spent_micros", "low_noted", "depleted_noted", "limit_month_noted", "limit_day_noted",
               "recharge_pending", "recharge_day_key", "recharge_day_count", "rate_minute", "rate_requests",
               "rate_tokens", "recharge_threshold_micros", "recharge_amount_cents", "recharge_failures")


def _account_row(ia):
    row = sql("SELECT %s FROM accounts WHERE id = %d" % (", ".join(ACCOUNT_ROW), ia))[0]
    return [None if v == "NULL" else int(v) for v in row]


def _lone_write(ia, commit, **lists):
    """cd_write2 as one session runs it (READ COMMITTED, autocommit off),
    then the index look-ups it made (Handler_read_key) and the account's
    row_version; rolled back unless the procedure committed."""
    return call_sets("SET SESSION tx_isolation = 'READ-COMMITTED', autocommit = 0; FLUSH STATUS; %s; "
                     "SELECT 0 AS handler, VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                     "WHERE VARIABLE_NAME = 'HANDLER_READ_KEY'; "
                     "SELECT 0 AS row_after, row_version FROM accounts WHERE id = %d; ROLLBACK"
                     % (write_call(1700000000, commit, **lists), ia))


def test_a_lone_write_reads_its_account_once():
    """A write naming one account (every guard batch at one client) reads
    its row_version once, under its lock, and answers the version it
    leaves from it (sql/082): the check's read plus the rows its update
    changed, where 078 read the row a second time. The version answered is
    the row's, checked or not, with the account's row written or not; a
    write that commits answers the same sets (after its COMMIT)."""
    ia = acct_id(funded(10 ** 7, "blone"))
    ver = int(sql("SELECT row_version FROM accounts WHERE id = %d" % ia)[0][0])
    row = _account_row(ia)
    row[2] += 5  # the new hold's reserve
    hold = lambda: [[ia, uid("rq"), None, "gpt-4o", None, None, 5, 10, 1, 2, 3, 0, None, None, 0, 1700000900]]
    base = _lone_write(ia, 0, holds_new=hold(), accounts=[row])
    check("versions" not in base, "no account named, no versions: %s" % base)
    reads = int(base["handler"]["rows"][0][1])
    for at in ([[ia, ver]], [[ia, None]]):
        got = _lone_write(ia, 0, holds_new=hold(), accounts=[row], at=at)
        eq(got["versions"]["rows"], [["0", str(ia), str(ver + 1)]], "%s: the version the write left" % at)
        eq(got["row_after"]["rows"][0][1], str(ver + 1), "%s: the row's own" % at)
        eq(len(got["new_holds"]["rows"]), 1, "%s: the new hold's id" % at)
        eq(int(got["handler"]["rows"][0][1]), reads + 1, "%s: the account's row read once more than a write "
                                                         "naming no account (the check), not twice" % at)
    got = _lone_write(ia, 0, holds_new=hold(), at=[[ia, ver]])
    eq(got["versions"]["rows"], [["0", str(ia), str(ver)]], "the account's row not written: its version stays")
    # Written and committed by the procedure: the row as it is, unchanged.
    got = _lone_write(ia, 1, accounts=[_account_row(ia)], at=[[ia, ver]])
    eq(got["versions"]["rows"], [["0", str(ia), str(ver + 1)]], "committed: the version the write left")
    eq(sql("SELECT row_version FROM accounts WHERE id = %d" % ia)[0][0], str(ver + 1), "committed")
    verify()
