"""test_67_retention.py: retention (DESIGN §10 "Growth and retention").

The sweeper purges, in batches of LIMIT_PURGE_BATCH (500) rows, each its
own transaction, at most LIMIT_PURGE_BATCHES (10) per table and
LIMIT_PURGE_SWEEP_MS (200) in all a sweep: idempotency keys past [ledger]
idempotency_ttl_hours (24), kept receipts past 7 days, Stripe event ids
past [retention] stripe_events_days (90) and finished holds (settled,
released) whose expires_at and finished_at are both past [retention]
holds_days (30). Never a journal or usage row, a pending, expired (it may
still be settled late) or captured hold, or a hold that justifies a late
charge (its usage cost more than it held, or came at or after its
expiry): creditctl verify reads that one. Rows are written here directly,
aged as the stack's clock reads; the stack runs the defaults with a sweep
a second.
"""
import os
import re
import secrets
import subprocess

import lib
from lib import ENV, api, check, clock_now, eq, new_account, sql, verify, wait_until
from test_20_guard import authorize, cost, funded, internal_id, settle

DAY = 86400


def insert_hold(aid, state, expires_at, finished_at, usage_at=None):
    """A hold row as the ledger leaves one in `state`; its id. With usage_at,
    the one usage row of a settled hold goes in the same transaction: BYOK,
    so it costs 0 and has no journal row (creditctl verify's rules for a
    settled hold's usage). Apart, a sweep between the two statements finds
    a finished hold with no usage and purges it."""
    req = "t67-" + secrets.token_hex(8)
    usage = ""
    if usage_at is not None:
        usage = ("INSERT INTO usage_records (account_id, hold_id, model, cost_micros, byok, created_at) "
                 "VALUES (%d, LAST_INSERT_ID(), 'gpt-4o', 0, 1, %d); " % (aid, usage_at))
    rows = sql("START TRANSACTION; INSERT INTO holds (account_id, request_id, amount_micros, state, expires_at, "
               "created_at, charged_micros, finished_at) VALUES (%d, '%s', 0, '%s', %d, %d, 0, %s); "
               "SET @hold = LAST_INSERT_ID(); %sCOMMIT; SELECT @hold"
               % (aid, req, state, expires_at, expires_at - 600, "NULL" if finished_at is None else finished_at,
                  usage))
    return int(rows[-1][0])


def present(table, column, values):
    if not values:
        return set()
    quoted = ",".join("'%s'" % v for v in values)
    return {r[0] for r in sql("SELECT %s FROM %s WHERE %s IN (%s)" % (column, table, column, quoted))}


def held(ids):
    return {int(v) for v in present("holds", "id", [str(i) for i in ids])}


def counts(aids):
    where = "account_id IN (%s)" % ",".join(str(a) for a in aids)
    return (sql("SELECT COUNT(*) FROM journal WHERE " + where)[0][0],
            sql("SELECT COUNT(*) FROM usage_records WHERE " + where)[0][0])


def beyond_the_hold():
    """An account taken below its overdraft (0) by a settle beyond its hold,
    the hold and its usage then aged past holds_days: the hold must stay,
    or verify would find the negative balance unjustified."""
    held_micros = cost("gpt-4o", 1000, 100)
    acct = funded(held_micros + 50, prefix="ret-beyond")
    a = authorize(acct, "gpt-4o", 1000, 100)
    eq(a.status, 200, "authorize")
    s = settle(a.json["hold_id"], 1000, 3000)
    eq(s.status, 200, "settle beyond the hold")
    check(s.json["balance_micros"] < 0, "below the overdraft: %r" % s.json)
    hid = lib.hold_parts(a.json["hold_id"])[1]
    old = clock_now() - 40 * DAY
    # Its usage came before its (aged) expiry: only the cost justifies it.
    sql("UPDATE holds SET created_at = %d, expires_at = %d, finished_at = %d WHERE id = %d"
        % (old - 600, old, old + 5, hid))
    sql("UPDATE usage_records SET created_at = %d WHERE hold_id = %d" % (old - 10, hid))
    return internal_id(acct), hid


def test_the_sweeper_purges_exactly_what_retention_lets_go():
    now = clock_now()
    old, recent = now - 40 * DAY, now - 20 * DAY
    aid = internal_id(new_account("ret"))
    keep_aid = internal_id(new_account("ret-keep"))       # never touched: its pending hold stays pending
    beyond_aid, beyond = beyond_the_hold()
    aids = [aid, keep_aid, beyond_aid]

    gone, kept = [], [beyond]
    for state in ("settled", "released", "expired"):
        settled = state == "settled"
        h = insert_hold(aid, state, old, old + 5, usage_at=old - 10 if settled else None)
        # An expired hold may still be settled late (DESIGN §5): kept.
        (kept if state == "expired" else gone).append(h)
        kept.append(insert_hold(aid, state, recent, recent + 5, usage_at=recent - 10 if settled else None))
    kept.append(insert_hold(aid, "released", old, now - 10 * DAY))   # ended recently
    kept.append(insert_hold(aid, "released", recent, old))           # expires recently
    kept.append(insert_hold(keep_aid, "pending", old, None))
    kept.append(insert_hold(keep_aid, "captured", old, old + 5))
    kept.append(insert_hold(aid, "settled", old, old + 5, usage_at=old))  # settled at or after its expiry
    before = counts(aids)

    tag = secrets.token_hex(6)
    ev_old, ev_new = ["evt_t67_old_%s_%d" % (tag, i) for i in range(3)], ["evt_t67_new_%s" % tag]
    for e, at in [(e, now - 100 * DAY) for e in ev_old] + [(ev_new[0], now - 80 * DAY)]:
        sql("INSERT INTO stripe_events (event_id, type, received_at) VALUES ('%s', 'charge.succeeded', %d)" % (e, at))
    key_old, key_new = "t67-old-" + tag, "t67-new-" + tag
    for k, at in ((key_old, now - 25 * 3600), (key_new, now - 23 * 3600)):
        sql("INSERT INTO idempotency_keys (idem_key, request_hash, status, response, created_at) "
            "VALUES ('%s', UNHEX(REPEAT('00', 32)), 200, '{}', %d)" % (k, at))
    pi_old, pi_new = "pi_t67_old_" + tag, "pi_t67_new_" + tag
    for p, at in ((pi_old, now - 8 * DAY), (pi_new, now - 6 * DAY)):
        sql("INSERT INTO receipts_waiting (payment_intent, receipt_url, event_at, created_at) "
            "VALUES ('%s', 'https://pay.stripe.com/receipts/t67', %d, %d)" % (p, at, at))

    def purged():
        return (not held(gone) and not present("stripe_events", "event_id", ev_old) and
                not present("idempotency_keys", "idem_key", [key_old]) and
                not present("receipts_waiting", "payment_intent", [pi_old]))

    check(wait_until(purged, timeout=30, step=0.5),
          "purged within sweeps: holds %r, events %r, key %r, receipt %r" %
          (held(gone), present("stripe_events", "event_id", ev_old),
           present("idempotency_keys", "idem_key", [key_old]), present("receipts_waiting", "payment_intent", [pi_old])))
    eq(held(kept), set(kept), "the holds retention keeps are kept")
    eq(sql("SELECT state FROM holds WHERE account_id = %d ORDER BY id" % keep_aid), [["pending"], ["captured"]],
       "pending and captured holds untouched")
    eq(present("stripe_events", "event_id", ev_new), set(ev_new), "a Stripe event id of 80 days kept")
    eq(present("idempotency_keys", "idem_key", [key_new]), {key_new}, "an Idempotency-Key of 23 h kept")
    eq(present("receipts_waiting", "payment_intent", [pi_new]), {pi_new}, "a receipt of 6 days kept")
    eq(counts(aids), before, "journal and usage rows are never deleted")
    eq(sql("SELECT COUNT(*) FROM usage_records WHERE hold_id IN (%s)" % ",".join(str(h) for h in gone))[0][0], "1",
       "the purged settled hold's usage row stays")
    verify()


def test_a_clock_set_back_purges_what_is_due_again():
    """A sweep under a clock a year ahead moves the holds' purge bound up
    (its range starts one retention period below that cutoff); the clock
    set back, holds old by the real clock are due again and go."""
    aid = internal_id(new_account("ret-back"))
    lib.clock_set(clock_now() + 400 * DAY)
    try:
        # A sweep's holds batch under that clock: an old hold of then goes.
        ahead = clock_now() - 40 * DAY
        first = insert_hold(aid, "released", ahead, ahead + 5)
        check(wait_until(lambda: not held([first]), timeout=30, step=0.5), "a hold purged under the clock ahead")
    finally:
        lib.clock_reset()
    old = clock_now() - 40 * DAY
    gone = [insert_hold(aid, state, old, old + 5) for state in ("released", "settled")]
    check(wait_until(lambda: not held(gone), timeout=30, step=0.5),
          "old holds purged after the clock was set back: %r left" % sorted(held(gone)))
    verify()


def log_text():
    path = os.path.join(ENV["CREDITD_STACK_DIR"], "creditd.log")
    with open(path, errors="replace") as f:
        return f.read()


def purged_metric(table):
    r = api("GET", "/metrics", auth=None)
    eq(r.status, 200, "GET /metrics")
    m = re.search(r'^creditd_purged_rows_total\{table="%s"\} (\d+)$' % table, r.raw.decode(), re.M)
    check(m is not None, "creditd_purged_rows_total for %s in /metrics" % table)
    return int(m.group(1))


def test_a_backlog_is_purged_batch_after_batch_over_several_sweeps():
    """25,000 old holds: 500 a batch, batch after batch, at most ten batches
    and 200 ms of purging in one sweep (at most 5,000 rows), the rest at
    the next sweeps. The stack runs two creditd on one database (both log
    to creditd.log), each sweeping: they share the backlog, a batch waiting
    on the other's row locks and taking the rows after them."""
    aid = internal_id(new_account("ret-bulk"))
    old = clock_now() - 40 * DAY
    metric = purged_metric("holds")
    seen = len(log_text())
    # Counted in the insert's own session: a sweep may take a batch the
    # moment it commits.
    written = sql("INSERT INTO holds (account_id, request_id, amount_micros, state, expires_at, created_at, "
                  "charged_micros, finished_at) SELECT %d, CONCAT('t67-bulk-', seq), 0, 'released', %d, %d, 0, %d "
                  "FROM seq_1_to_25000; SELECT ROW_COUNT()" % (aid, old, old - 600, old + 5))
    eq(written[-1][0], "25000", "the backlog written")
    check(wait_until(lambda: sql("SELECT COUNT(*) FROM holds WHERE account_id = %d" % aid)[0][0] == "0",
                     timeout=90, step=0.5), "the backlog purged within sweeps")
    lines = re.findall(r"purged (\d+) rows of holds in (\d+) batches", log_text()[seen:])
    runs = [(int(n), int(b)) for n, b in lines]
    check(any(n == 500 * b and b >= 2 for n, b in runs), "a sweep purged full batches one after the other: %r" % runs)
    check(sum(n for n, _ in runs) >= 25000 and len(runs) >= 5, "the rest at later sweeps: %r" % runs)
    check(all(n <= 500 * b and b <= 10 for n, b in runs), "at most 500 a batch, 10 batches a sweep: %r" % runs)
    # Each creditd counts its own; nginx asks either.
    check(wait_until(lambda: purged_metric("holds") > metric, timeout=5, step=0.1),
          "creditd_purged_rows_total counts them")
    verify()


def check_config(text):
    path = os.path.join(ENV["CREDITD_STACK_DIR"], "retention.conf")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
    return subprocess.run([binary, "-c", path, "--check-config"], capture_output=True, text=True)


def test_retention_keys_are_checked():
    for text in ("", "[retention]\n", "[retention]\nstripe_events_days = 0\nholds_days = 0\n",
                 "[retention]\nstripe_events_days = 30\nholds_days = 1\n",
                 "[retention]\nstripe_events_days = 36500\nholds_days = 36500\n"):
        p = check_config(text)
        eq(p.returncode, 0, "%r loads: %s" % (text, p.stderr))
    for line, key in (("holds_days = -1", "holds_days"), ("holds_days = 36501", "holds_days"),
                      ("holds_days = 30d", "holds_days"), ("stripe_events_days = 29", "stripe_events_days"),
                      ("stripe_events_days = 1", "stripe_events_days"), ("stripe_events_days = -1", "stripe_events_days"),
                      ("stripe_events_days = 36501", "stripe_events_days"), ("keep_days = 3", "keep_days")):
        p = check_config("[retention]\n%s\n" % line)
        check(p.returncode != 0, "%r refused" % line)
        check(key in p.stderr, "the message names %s: %s" % (key, p.stderr))
