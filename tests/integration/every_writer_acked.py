"""every_writer_acked.py: every write every_writer.py's workload had
acknowledged, looked for in the database as it was answered
(docs/architecture.md, "On Galera", its last paragraph). The invariants (balance = its journal, reserved =
its pending holds, the journal's running sum) and creditctl verify hold
as well when a write answered 200/201 was lost whole, journal row and
balance together (a Galera rollback of a whole CALL nobody told creditd
of): only looking for each acknowledged write by the ids its answer gave
finds that. So each one is looked up, by kind:
  - POST /v1/usage: its usage_records row (usage_id), at the charge
    answered, on its account; and per account, the usage rows with no
    hold and the journal's usage rows with no hold both sum to the
    charges answered and the batch lines' charges at the provider's
    figures (a line's record names no hold; every_writer_gateway.py):
    no usage lost or added, on either side;
  - grants: the grants row (id) with its amount, and its journal row
    (transaction.id) naming it; debits: their journal row (id);
  - holds, the guard's, the gateway's (Creditd-Hold-Id) and the
    background runs' (at their provider's usage): the holds
    row in the state and at the charge answered; a settled one has one
    usage row charging what was answered (the gateway's
    Creditd-Charged-Micros, or a stream's `: creditd` cost line) and
    journal rows taking it off (a captured gateway hold's refund grant
    given back); a released or expired one has no usage and
    its journal rows (an expiry's, of 0) take nothing.
A finished hold's row may be purged ([retention] holds_days, 30, after
the test clock moved a month or two: docs/operations.md "Data
retention"): such a hold is still checked through its usage and journal
rows, which are never purged, and a hold finished within the last 29 days
(a day's margin on the sweep's cutoff) must still be there. The purge
deletes only settled and released holds, so a lost settle or release
(the hold left pending, then expired) is always found.
"""
import json
import threading

from lib import check, clock_now

KEPT_S = 29 * 86400         # a hold finished since clock - KEPT_S is never purged (holds_days 30, a day's margin)
MANY = 2000                 # ids in one IN list


def number(ident, prefix):
    """The row id of an API id (usage_12, grant_12, txn_12)."""
    check(isinstance(ident, str) and ident.startswith(prefix) and ident[len(prefix):].isdigit(),
          "an id %s<n>: %r" % (prefix, ident))
    return int(ident[len(prefix):])


def stream_cost(raw):
    """The `: creditd {...}` line a stream asked with Creditd-Stream-Cost: 1
    ends with (docs/gateway.md, "The cost of one call"), after [DONE]."""
    text = raw.decode("utf-8", "replace").rstrip("\n")
    head, _, tail = text.rpartition("\n")
    if not tail.startswith(": creditd {") or not head.rstrip().endswith("data: [DONE]"):
        return None
    try:
        return json.loads(tail[len(": creditd "):])
    except ValueError:
        return None


class Acked:
    """The acknowledged writes that every_writer.py does not keep itself
    (it keeps holds, top-ups, promo codes), as their answers gave them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.usage = {}      # usage row id -> (account, charged_micros)
        self.grants = {}     # grant row id -> (account, amount_micros)
        self.entries = {}    # journal row id -> (account, amount_micros, cause, grant row id or 0)
        self.gateway = {}    # hold id -> (charged_micros, the stack's clock when sent)

    def usage_answered(self, acct, r):
        with self.lock:
            self.usage[number(r.json["usage_id"], "usage_")] = (acct, r.json["charged_micros"])

    def grant_answered(self, acct, r):
        g, t = number(r.json["id"], "grant_"), r.json["transaction"]
        with self.lock:
            self.grants[g] = (acct, r.json["amount_micros"])
            self.entries[number(t["id"], "txn_")] = (acct, t["amount_micros"], "grant", g)
        return g

    def debit_answered(self, acct, r):
        with self.lock:
            self.entries[number(r.json["id"], "txn_")] = (acct, r.json["amount_micros"], "adjustment", 0)

    def gateway_answered(self, r, stream, sent):
        """A gateway call answered 200: its hold and what it said it
        charged. Returns the contract error, or None."""
        hold = r.headers.get("creditd-hold-id")
        if stream:
            line = stream_cost(r.raw)
            if line is None or line.get("hold_id") != hold:
                return "a stream asked for its cost ends with [DONE] and its cost line: %r" % r.raw[-300:]
            charged = line["charged_micros"]
        else:
            charged = int(r.headers.get("creditd-charged-micros", "0"))
        if not hold or not isinstance(charged, int) or charged <= 0:
            return "a gateway call names its hold and its charge: %r %r" % (r, r.headers)
        with self.lock:
            self.gateway[hold] = (charged, sent)
        return None


def rows(sql, statement, ids):
    """statement's rows for ids (a %s for the IN list), MANY at a time."""
    ids = sorted(ids)
    out = []
    for i in range(0, len(ids), MANY):
        out += sql(statement % ",".join(map(str, ids[i:i + MANY])))
    return out


def first(out, problems, limit=5):
    """out with up to `limit` of problems, and a count of the rest."""
    out += problems[:limit]
    if len(problems) > limit:
        out.append("... and %d more like these" % (len(problems) - limit))


def entry_problems(w):
    """Usage, grants and debits, each where its answer said."""
    a, sql, out = w.acked, w.t.sql, []
    got = {int(i): (acct, int(c)) for i, acct, c in rows(
        sql, "SELECT u.id, a.ext_id, u.cost_micros FROM usage_records u JOIN accounts a ON a.id = u.account_id "
             "WHERE u.hold_id IS NULL AND u.id IN (%s)", a.usage)}
    first(out, ["usage_%d answered %r, in the database %r" % (i, v, got.get(i))
                for i, v in sorted(a.usage.items()) if got.get(i) != v])
    got = {int(i): (acct, int(m)) for i, acct, m in rows(
        sql, "SELECT g.id, a.ext_id, g.amount_micros FROM grants g JOIN accounts a ON a.id = g.account_id "
             "WHERE g.id IN (%s)", a.grants)}
    first(out, ["grant_%d answered %r, in the database %r" % (i, v, got.get(i))
                for i, v in sorted(a.grants.items()) if got.get(i) != v])
    got = {int(i): (acct, int(m), cause, int(g)) for i, acct, m, cause, g in rows(
        sql, "SELECT j.id, a.ext_id, j.amount_micros, j.cause, IFNULL(j.grant_id, 0) FROM journal j JOIN accounts a "
             "ON a.id = j.account_id WHERE j.id IN (%s)", a.entries)}
    first(out, ["txn_%d answered %r, in the journal %r" % (i, v, got.get(i))
                for i, v in sorted(a.entries.items()) if got.get(i) != v])
    # Per account, the usage with no hold both ways: a usage row or its
    # journal row lost alone (or one never answered) shows here.
    want = {acct: 0 for acct in w.accounts}
    for acct, c in list(a.usage.values()) + list(w.media.no_hold.items()):
        want[acct] += c
    for acct, usage, journal in sql(
            "SELECT a.ext_id, (SELECT COALESCE(SUM(u.cost_micros), 0) FROM usage_records u WHERE u.account_id = a.id "
            "AND u.hold_id IS NULL), (SELECT COALESCE(-SUM(j.amount_micros), 0) FROM journal j WHERE j.account_id = "
            "a.id AND j.cause = 'usage' AND j.hold_id IS NULL) FROM accounts a WHERE a.id IN %s" % w.in_accounts()):
        if (int(usage), int(journal)) != (want[acct], want[acct]):
            out.append("%s: usage with no hold %s in usage_records, %s in the journal; %d answered"
                       % (acct, usage, journal, want[acct]))
    return out


def hold_problems(w):
    """Every hold answered, the guard's and the gateway's, as answered:
    its row if it was not purged, its usage and journal rows always."""
    out, since = [], clock_now() - KEPT_S
    want = {h: ("settled", c, at) for h, (c, at) in w.settled.items()}
    want.update({h: (s, 0, at) for h, (s, at) in w.released.items()})
    want.update({h: ("expired", 0, None) for h in w.left})      # an expired hold is never purged
    want.update({h: ("settled", c, at) for h, (c, at) in w.acked.gateway.items()})
    num = w.numbers(list(want))
    check(len(num) == len(want), "every hold id answered deciphers: %d of %d" % (len(num), len(want)))
    want = {num[h]: v for h, v in want.items()}
    # A gateway call's hold is captured in full when it expires (the clock
    # moved past it mid-call); its late settle below that gives the rest
    # back as a refund grant whose journal row names the hold by its id
    # (docs/architecture.md, a settle's refund grant; src/ledger/guard/ledger_holds.c).
    given = {num[h]: int(m) for h, m in w.t.sql(
        "SELECT reference, SUM(amount_micros) FROM journal WHERE account_id IN %s AND source = 'refund' AND "
        "reference LIKE 'hold%%' GROUP BY reference" % w.in_accounts()) if h in num}
    held = {int(i): (s, int(c)) for i, s, c in rows(
        w.t.sql, "SELECT id, state, charged_micros FROM holds WHERE id IN (%s)", want)}
    used = {int(i): (int(c), int(n)) for i, c, n in rows(
        w.t.sql, "SELECT hold_id, SUM(cost_micros), COUNT(*) FROM usage_records WHERE hold_id IN (%s) GROUP BY hold_id",
        want)}
    taken = {int(i): int(m) - given.get(int(i), 0) for i, m in rows(
        w.t.sql, "SELECT hold_id, -SUM(amount_micros) FROM journal WHERE account_id IN " + w.in_accounts()
        + " AND hold_id IN (%s) GROUP BY hold_id", want)}
    wrong, purged = [], 0
    for n, (state, charged, at) in sorted(want.items()):
        if n not in held and (at is None or at >= since):
            wrong.append("hold %d (%s, %d answered, the clock %s then) not found" % (n, state, charged, at))
        elif n in held and held[n] != (state, charged):
            wrong.append("hold %d: %r in the database, (%r, %d) answered" % (n, held[n], state, charged))
        purged += n not in held and at is not None and at < since
        if state == "settled" and (used.get(n), taken.get(n)) != ((charged, 1), charged):
            wrong.append("hold %d settled at %d: usage (charged, rows) %r, the journal took %r"
                         % (n, charged, used.get(n), taken.get(n)))
        if state != "settled" and (n in used or taken.get(n, 0) != 0):
            wrong.append("hold %d %s: usage %r, the journal took %r" % (n, state, used.get(n), taken.get(n)))
    first(out, wrong)
    print("every writer: %d holds answered (%d the gateway's), %d of them purged by retention, checked through "
          "their usage and journal rows" % (len(want), len(w.acked.gateway), purged), flush=True)
    return out


def problems(w):
    return entry_problems(w) + hold_problems(w)
