"""every_writer_alerts.py: every_writer.py's threshold alerts: set on two
of the hot accounts before the load (a user: balance_below,
monthly_spend_pct, daily_spend_pct under limits no run reaches; the
workspace: plan_credits_used_pct, member_cap_pct for every member (10 %,
crossed in seconds) and for one (90 %, near its cap)), fired meanwhile
by whichever writer crosses them (Alerts.drive crosses balance_below
twice), and checked after it (Alerts.problems), with balance.low (the
low-balance threshold that every_writer_mail.py sets at the balance of
the same two accounts). The other two hot accounts keep none: an account
with alerts is never kept in memory, and their guard calls still are.

Each kind is checked three ways, from what the database kept of the
figure (the journal, the usage, the plan's grants): told when crossed
(and the run must have crossed it: a kind never crossed proves nothing),
told once a crossing, and its state at the end the one its figure calls
for."""
import json
import time

from lib import api, clock_now, eq

# The alerted user's limits: far above what a run spends (never a 429),
# low enough for 1 % of them to be crossed within seconds.
ALERT_LIMIT = 10 ** 8
ALERT_BALANCE_DROP = 2 * 10 ** 6     # balance_below: this far under the balance at the start
DRIVE_MARGIN = 3 * 10 ** 6           # Alerts.drive: this far past it (what the load moves in a second or two)
# A transaction's rows and events carry the clock of its attempt's start
# (created_at), and it commits well within this (each statement's lock wait
# ends at [database] read_timeout_seconds − 1, 4 s, src/store/store.c; a
# run's transactions take milliseconds): what committed between two events
# was started within this of them.
TX_SPAN_S = 10


def month_of(at):
    t = time.gmtime(at)
    return t.tm_year * 100 + t.tm_mon


def next_month(key):
    return key + 89 if key % 100 == 12 else key + 1


def could_rearm(rows, start, a, b, threshold):
    """Whether the balance (+ overdraft) was at threshold or above at some
    moment between two events made at a and b (creditd's clock): rows are
    the account's journal (id order = commit order: (id, balance after,
    made at)) since the balance `start`. Every row committed between the
    two events, and the one standing when the first committed, lie in the
    ids from the row before the first one made at a − TX_SPAN_S or later to
    the last one made at b + TX_SPAN_S or earlier."""
    first = next((i for i, r in enumerate(rows) if r[2] >= a - TX_SPAN_S), len(rows))
    last = max([i for i, r in enumerate(rows) if r[2] <= b + TX_SPAN_S] + [first - 1])
    span = [r[1] for r in rows[max(first - 1, 0):last + 1]] + ([start] if first == 0 else [])
    return max(span) >= threshold


def downs(balances, start, threshold):
    """How often the balances, from start, went from threshold or above to under it."""
    n, below = 0, start < threshold
    for b in balances:
        n += b < threshold and not below
        below = b < threshold
    return n


class Alerts:
    def __init__(self, workload):
        self.w = workload

    def setup(self):
        """Threshold alerts on users[0] and the workspace (the others keep
        none: accounts with alerts are never kept in memory)."""
        self.alerted, self.driven = self.w.users[0], set()
        self.driven_below, self.not_rearmed = 0, []
        r = api("PATCH", "/v1/accounts/" + self.alerted, {"monthly_limit_micros": ALERT_LIMIT,
                                                          "daily_limit_micros": ALERT_LIMIT})
        eq(r.status, 200, "the alerted user's limits %r" % r)
        start = api("GET", "/v1/accounts/" + self.alerted, auth="read").json["available_micros"]
        self.balance_threshold = start - ALERT_BALANCE_DROP
        # Their journals before the alerts were set (the signup bonus the
        # account was made with, under any threshold) are no crossing: rows
        # after these only (one account's rows are written on its own node).
        self.journal_from = {a: int(self.w.t.sql(
            "SELECT COALESCE(MAX(j.id), 0) FROM journal j JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = "
            "'%s'" % a)[0][0]) for a in (self.alerted, self.w.workspace)}
        self.start = {a: int(self.w.t.sql("SELECT balance_micros FROM accounts WHERE ext_id = '%s'" % a)[0][0])
                      for a in self.journal_from}
        self.event_from = int(self.w.t.sql("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])
        self.alerts = {
            self.alerted: [{"kind": "balance_below", "micros": self.balance_threshold},
                           {"kind": "monthly_spend_pct", "pct": 1}, {"kind": "monthly_spend_pct", "pct": 2},
                           {"kind": "daily_spend_pct", "pct": 1}, {"kind": "daily_spend_pct", "pct": 3}],
            self.w.workspace: [{"kind": "plan_credits_used_pct", "pct": 10},
                               {"kind": "plan_credits_used_pct", "pct": 25},
                               {"kind": "member_cap_pct", "pct": 10},
                               {"kind": "member_cap_pct", "pct": 90, "member": "ann"}],
        }
        for acct, alerts in self.alerts.items():
            r = api("PUT", "/v1/accounts/%s/alerts" % acct, {"alerts": alerts}, auth="app")
            eq(r.status, 200, "alerts %r" % r)
            eq([a["state"] for a in r.json["alerts"]], ["armed"] * len(alerts), "set armed")
        return self

    def drive(self, rnd, done):
        """Called by the conductor as the load goes on (done: its share
        gone): a tenth in, spend past the spend alerts' first thresholds
        (Alerts.spend); a debit that takes the alerted user's balance well under
        balance_below's threshold at a fifth of the load, a grant that
        lifts it well above at half, a debit under again at seven tenths.
        Its top-ups (the first of the load's) lift it far above the
        threshold early, and the load alone would never cross it again.
        Each debit that takes available under the threshold while the alert
        was armed is a crossing that must be told (counted in
        self.driven_below); after the grant, available at the threshold or
        above, the alert must be armed again (else self.not_rearmed)."""
        for at, sign in ((0.1, 0), (0.2, -1), (0.45, 1), (0.7, -1)):
            if done < at or at in self.driven:
                continue
            self.driven.add(at)
            if sign == 0:
                self.spend(rnd)
                continue
            armed = self.below_state() == "armed"
            bal = api("GET", "/v1/accounts/" + self.alerted, auth="read").json
            # Acknowledged writes as the load's: each found in the
            # database by its answer (every_writer_acked.py).
            if sign < 0 and bal["available_micros"] >= self.balance_threshold - DRIVE_MARGIN:
                r = self.w.call("debit", rnd, "POST", "/v1/accounts/%s/debits" % self.alerted, {
                    "amount_micros": bal["available_micros"] - self.balance_threshold + DRIVE_MARGIN,
                    "reason": "every writer: balance_below crossed"}, auth="admin", ok=(201,))
                if r is not None and r.status == 201:
                    self.w.acked.debit_answered(self.alerted, r)
                    after = api("GET", "/v1/accounts/" + self.alerted, auth="read").json["available_micros"]
                    self.driven_below += armed and after < self.balance_threshold
            elif sign > 0 and bal["available_micros"] < self.balance_threshold + DRIVE_MARGIN:
                r = self.w.call("grant", rnd, "POST", "/v1/accounts/%s/grants" % self.alerted, {
                    "amount_micros": self.balance_threshold + DRIVE_MARGIN - bal["available_micros"],
                    "source": "adjustment"}, auth="admin", ok=(201,))
                if r is not None and r.status == 201:
                    self.w.acked.grant_answered(self.alerted, r)
                    state = self.below_state()
                    after = api("GET", "/v1/accounts/" + self.alerted, auth="read").json["available_micros"]
                    if state != "armed" and after >= self.balance_threshold:
                        self.not_rearmed.append((state, after))

    def below_state(self):
        """The alerted user's balance_below alert's state."""
        got = api("GET", "/v1/accounts/%s/alerts" % self.alerted, auth="read").json["alerts"]
        return next(a["state"] for a in got if a["kind"] == "balance_below")

    def spend(self, rnd):
        """Usage that crosses the user's 1 % of its monthly and daily limits
        and cy's 10 % of the plan's member cap at once (a shorter or slower
        run's load alone may not): 450,000 and 50,000 input tokens of the
        load's model (2.50 $ a million)."""
        for acct, member, tokens in ((self.alerted, None, 450000), (self.w.workspace, "cy", 50000)):
            body = {"account": acct, "model": "gpt-4o", "input_tokens": tokens, "output_tokens": 0}
            if member:
                body["member"] = member
            r = self.w.call("usage", rnd, "POST", "/v1/usage", body, ok=(200, 429) if member else (200,))
            if r is not None and r.status == 200:
                self.w.acked.usage_answered(acct, r)

    def fired(self, acct):
        """The account's alert.threshold events: [(id, made at, data)] in id order."""
        rows = self.w.t.sql("SELECT e.id, e.created_at, e.data FROM events e JOIN accounts a ON "
                            "a.id = e.account_id WHERE a.ext_id = '%s' AND e.type = 'alert.threshold' ORDER BY e.id" % acct)
        return [(int(i), int(at), json.loads(d)) for i, at, d in rows]

    def journal(self, acct):
        """The account's journal since its alerts were set: [(id, balance after, made at)]."""
        return [tuple(map(int, r)) for r in self.w.t.sql(
            "SELECT j.id, j.balance_after_micros, j.created_at FROM journal j JOIN accounts a ON a.id = j.account_id "
            "WHERE a.ext_id = '%s' AND j.id > %d ORDER BY j.id" % (acct, self.journal_from[acct]))]

    def problems(self):
        """Each alert.threshold of the alerted accounts: past its threshold
        when told; at most one per alert, member and period for the figures
        that only grow in a period (a second would be a crossing told
        twice), for balance_below none without the balance back at its
        threshold between; each alert's state at the end the one its figure
        calls for (the last change wrote it); and an alert whose figure was
        crossed told at least once. The same of balance.low."""
        out = []
        self.crossed = set()        # the kinds whose crossing the run was seen to make
        for acct, alerts in self.alerts.items():
            evs = self.fired(acct)
            per = {}
            for _id, at, d in evs:
                key = (d["kind"], d.get("pct", d.get("micros")), d["member"])
                if d["kind"] == "balance_below":
                    if not d["value_micros"] < d["micros"]:
                        out.append("%s: balance_below told at %s, not below %s" % (acct, d["value_micros"],
                                                                                   d["micros"]))
                    continue
                if d["limit_micros"] is None or d["value_micros"] * 100 < d["pct"] * d["limit_micros"]:
                    out.append("%s: %r told short of its threshold" % (acct, d))
                t = time.gmtime(at)
                period = (t.tm_year, t.tm_mon, t.tm_mday if d["kind"] == "daily_spend_pct" else 0)
                per[key + (period,)] = per.get(key + (period,), 0) + 1
            out += ["%s: %r told %d times in one period" % (acct, k, n) for k, n in per.items() if n > 1]
            if acct == self.alerted:
                out += self.told_when_crossed(evs) + self.balance_below(evs)
            else:
                out += self.plan_credits(evs) + self.member_caps(evs)
        out += self.states() + self.balance_low()
        kinds = {a["kind"] for alerts in self.alerts.values() for a in alerts}
        if self.lows:
            kinds.add("balance.low")
        out += ["%s: the run never crossed one (the figures stayed short of every threshold): its checks prove "
                "nothing" % k for k in sorted(kinds - self.crossed)]
        print("every writer: alert kinds crossed %s; balance_below (told, driven crossings, journal crossings) %r; balance.low (told, "
              "least, most) %r; plan used %r; members' usage %r" % (",".join(sorted(self.crossed)), self.below_counts,
                                                                     self.low_counts, self.plan_used, self.member_spent), flush=True)
        return out

    def told_when_crossed(self, evs):
        """The alerted user's spend alerts told in each month and day whose
        usage alone (a lower bound of its spend) reached them."""
        out = []
        spent = {}
        for at, cost in self.w.t.sql("SELECT u.created_at, u.cost_micros FROM usage_records u JOIN accounts a ON "
                                   "a.id = u.account_id WHERE a.ext_id = '%s'" % self.alerted):
            t = time.gmtime(int(at))
            for period in ((t.tm_year, t.tm_mon, 0), (t.tm_year, t.tm_mon, t.tm_mday)):
                spent[period] = spent.get(period, 0) + int(cost)
        told = set()
        for _id, at, d in evs:
            t = time.gmtime(at)
            told.add((d["kind"], d.get("pct"), (t.tm_year, t.tm_mon, t.tm_mday if d["kind"] == "daily_spend_pct" else 0)))
        for period, micros in spent.items():
            kind = "daily_spend_pct" if period[2] else "monthly_spend_pct"
            for a in self.alerts[self.alerted]:
                if a["kind"] == kind and micros * 100 >= a["pct"] * ALERT_LIMIT:
                    self.crossed.add(kind)
                    if (kind, a["pct"], period) not in told:
                        out.append("%s: %s %d %% never told in %r, whose usage came to %d" % (
                            self.alerted, kind, a["pct"], period, micros))
        return out

    def balance_below(self, evs):
        """balance_below told when the balance (+ overdraft, which
        available never exceeds: reserved ≥ 0) went under it, and a second
        time only if the balance was back at it in between (a hold's
        release may re-arm it, so nothing finer is known)."""
        out = []
        overdraft = int(self.w.t.sql("SELECT overdraft_limit_micros FROM accounts WHERE ext_id = '%s'" % self.alerted)[0][0])
        rows = [(i, after + overdraft, at) for i, after, at in self.journal(self.alerted)]
        told = [at for _i, at, d in evs if d["kind"] == "balance_below"]
        self.below_counts = (len(told), self.driven_below, downs([r[1] for r in rows], self.start[self.alerted] + overdraft,
                                              self.balance_threshold))
        if any(r[1] < self.balance_threshold for r in rows):
            self.crossed.add("balance_below")
            if not told:
                out.append("%s: the balance went to %d, under %d, and balance_below never told" % (
                    self.alerted, min(r[1] for r in rows), self.balance_threshold))
        if len(told) < self.driven_below:
            out.append("%s: balance_below told %d times, but the conductor's debits took available under %d "
                       "while it was armed %d times" % (self.alerted, len(told), self.balance_threshold,
                                                        self.driven_below))
        if self.not_rearmed:
            out.append("%s: balance_below not armed again after the grant lifted available to the threshold or "
                       "above: (state, available) %r" % (self.alerted, self.not_rearmed))
        for a, b in zip(told, told[1:]):
            if not could_rearm(rows, self.start[self.alerted] + overdraft, a, b, self.balance_threshold):
                out.append("%s: balance_below told at %d and again at %d, the balance under %d all along: one "
                           "crossing told twice" % (self.alerted, a, b, self.balance_threshold))
                break
        return out

    def plan_credits(self, evs):
        """plan_credits_used_pct told in each plan period whose grants were
        used past it (what a grant had left at its expiry, or has left)."""
        out = []
        used = {}
        for period, amount, left in self.w.t.sql(
                "SELECT g.period_key, g.amount_micros, g.remaining_micros - IFNULL((SELECT SUM(j.amount_micros) FROM "
                "journal j WHERE j.grant_id = g.id AND j.cause = 'expiry'), 0) FROM grants g JOIN accounts a ON a.id = "
                "g.account_id WHERE a.ext_id = '%s' AND g.source = 'plan' AND g.period_key IS NOT NULL" % self.w.workspace):
            granted, was = used.get(int(period), (0, 0))
            used[int(period)] = (granted + int(amount), was + int(amount) - int(left))
        self.plan_used = used
        for period, (granted, spent) in sorted(used.items()):
            for a in self.alerts[self.w.workspace]:
                if a["kind"] != "plan_credits_used_pct" or granted <= 0 or spent * 100 < a["pct"] * granted:
                    continue
                self.crossed.add(a["kind"])
                # Told while the account's period was this one: at the latest
                # in the next month, before the sweep renewed the plan.
                if not any(d["kind"] == a["kind"] and d["pct"] == a["pct"] and month_of(at) in
                           (period, next_month(period)) for _i, at, d in evs):
                    out.append("%s: plan_credits_used_pct %d %% never told in period %d, %d of %d used" % (
                        self.w.workspace, a["pct"], period, spent, granted))
        return out

    def member_caps(self, evs):
        """member_cap_pct told for each member in each month whose usage
        (a lower bound of its spend) reached it, of its cap (bo's own, the
        plan's for ann and for cy, who has no row)."""
        import every_writer     # its constants (it imports this module first)
        out = []
        caps = {"ann": every_writer.MEMBER_CAP, "bo": 10 * every_writer.MEMBER_CAP, "cy": every_writer.MEMBER_CAP}
        spent = {}
        for member, at, cost in self.w.t.sql(
                "SELECT u.member, u.created_at, u.cost_micros FROM usage_records u JOIN accounts a ON a.id = "
                "u.account_id WHERE a.ext_id = '%s' AND u.member IS NOT NULL" % self.w.workspace):
            key = (member, month_of(int(at)))
            spent[key] = spent.get(key, 0) + int(cost)
        self.member_spent = spent
        for (member, month), micros in sorted(spent.items()):
            for a in self.alerts[self.w.workspace]:
                if a["kind"] != "member_cap_pct" or a.get("member") not in (None, member) or \
                        member not in caps or micros * 100 < a["pct"] * caps[member]:
                    continue
                self.crossed.add(a["kind"])
                if not any(d["kind"] == a["kind"] and d["pct"] == a["pct"] and d["member"] == member and
                           month_of(at) == month for _i, at, d in evs):
                    out.append("%s: member_cap_pct %d %% never told for %s in %d, whose usage came to %d of %d" % (
                        self.w.workspace, a["pct"], member, month, micros, caps[member]))
        return out

    def balance_low(self):
        """balance.low of the hot accounts given a threshold
        (every_writer_mail.py: none without the mail): told when the
        balance (+ overdraft, holds excluded) went under it: at least as
        often as the changes known apart (of different seconds) crossed it,
        at most as often as the journal's rows did (a change of several rows
        may cross inside and end above), a second time only with the
        balance back at it in between, and low_noted at the end as the
        balance calls for."""
        out, self.low_counts = [], {}
        self.lows = {a: [int(x) for x in r] for a in self.journal_from for r in self.w.t.sql(
            "SELECT low_balance_micros, overdraft_limit_micros, low_noted, balance_micros FROM accounts WHERE ext_id = "
            "'%s' AND low_balance_micros > 0" % a)}
        for acct, (threshold, overdraft, noted, balance) in self.lows.items():
            rows = [(i, after + overdraft, at) for i, after, at in self.journal(acct)]
            told = [int(at) for at, in self.w.t.sql(
                "SELECT e.created_at FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id = '%s' AND "
                "e.type = 'balance.low' AND e.id > %d ORDER BY e.id" % (acct, self.event_from))]
            # A change's rows share its clock: a row followed by one of
            # another second ends a change (the last row too).
            ends = [r for k, r in enumerate(rows) if k + 1 == len(rows) or rows[k + 1][2] != r[2]]
            least, most = (downs([r[1] for r in x], self.start[acct] + overdraft, threshold) for x in (ends, rows))
            self.low_counts[acct] = (len(told), least, most)
            if most:
                self.crossed.add("balance.low")
            if not least <= len(told) <= most:
                out.append("%s: balance.low told %d times; the balance went under %d between %d (changes apart in "
                           "time) and %d (journal rows) times" % (acct, len(told), threshold, least, most))
            for a, b in zip(told, told[1:]):
                if not could_rearm(rows, self.start[acct] + overdraft, a, b, threshold):
                    out.append("%s: balance.low told at %d and again at %d, the balance under %d all along" % (
                        acct, a, b, threshold))
                    break
            if bool(noted) != (balance + overdraft < threshold):
                out.append("%s: low_noted %d at the end, the balance %d (+ %d) and the threshold %d" % (
                    acct, noted, balance, overdraft, threshold))
        return out

    def states(self):
        """Every alert's state at the end against its figures then: the
        user's from its account, the plan's from its grants this period,
        the members' from the events of this month (members_fired counts
        the members it fired for; fired when there is one)."""
        out = []
        a = api("GET", "/v1/accounts/" + self.alerted, auth="read").json
        got = api("GET", "/v1/accounts/%s/alerts" % self.alerted, auth="read").json["alerts"]
        for alert in got:
            if alert["kind"] == "balance_below":
                want = a["available_micros"] < alert["micros"]
            elif alert["kind"] == "monthly_spend_pct":
                want = a["month_spent_micros"] * 100 >= alert["pct"] * a["monthly_limit_micros"]
            else:
                want = a["day_spent_micros"] * 100 >= alert["pct"] * a["daily_limit_micros"]
            if (alert["state"] == "fired") != want:
                out.append("%s: %r at the end, its figures %r" % (self.alerted, alert, {
                    k: a[k] for k in ("available_micros", "month_spent_micros", "day_spent_micros")}))
        ws = self.w.workspace
        period = int(self.w.t.sql("SELECT plan_period FROM accounts WHERE ext_id = '%s'" % ws)[0][0])
        granted, used = self.plan_used.get(period, (0, 0))
        month = month_of(clock_now())
        evs = self.fired(ws)
        for alert in api("GET", "/v1/accounts/%s/alerts" % ws, auth="read").json["alerts"]:
            if alert["kind"] == "plan_credits_used_pct":
                want = granted > 0 and used * 100 >= alert["pct"] * granted
                if (alert["state"] == "fired") != want:
                    out.append("%s: %r at the end, %d of the period %d's %d used" % (ws, alert, used, period, granted))
                continue
            members = {d["member"] for _i, at, d in evs if d["kind"] == "member_cap_pct" and d["pct"] == alert["pct"]
                       and alert.get("member") in (None, d["member"]) and month_of(at) == month}
            if (alert["members_fired"], alert["state"]) != (len(members), "fired" if members else "armed"):
                out.append("%s: %r at the end, told this month (%d) for %r" % (ws, alert, month, sorted(members)))
        return out

    def told(self):
        """alert.threshold events of the alerted accounts (the run's figures)."""
        return int(self.w.t.sql("SELECT COUNT(*) FROM events WHERE type = 'alert.threshold' AND account_id IN "
                                "(SELECT id FROM accounts WHERE ext_id IN ('%s'))" % "','".join(self.alerts))[0][0])
