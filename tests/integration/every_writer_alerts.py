"""every_writer_alerts.py: every_writer.py's threshold alerts: set on two
of the hot accounts before the load (a user: balance_below,
monthly_spend_pct, daily_spend_pct under limits no run reaches; the
workspace: plan_credits_used_pct, member_cap_pct for every member and for
one), fired meanwhile by whichever writer crosses them, and checked after
it (Alerts.problems). The other two hot accounts keep none: an account
with alerts is never kept in memory, and their guard calls still are."""
import json
import time

from lib import api, eq

# The alerted user's limits: far above what a run spends (never a 429),
# low enough for 1 % of them to be crossed within seconds.
ALERT_LIMIT = 10 ** 8
ALERT_BALANCE_DROP = 2 * 10 ** 6     # balance_below: this far under the balance at the start


class Alerts:
    def __init__(self, workload):
        self.w = workload

    def setup(self):
        """Threshold alerts on users[0] and the workspace (the others keep
        none: accounts with alerts are never kept in memory)."""
        self.alerted = self.w.users[0]
        r = api("PATCH", "/v1/accounts/" + self.alerted, {"monthly_limit_micros": ALERT_LIMIT,
                                                          "daily_limit_micros": ALERT_LIMIT})
        eq(r.status, 200, "the alerted user's limits %r" % r)
        start = api("GET", "/v1/accounts/" + self.alerted, auth="read").json["available_micros"]
        self.balance_threshold = start - ALERT_BALANCE_DROP
        # Its journal before the alert was set (the signup bonus the account
        # was made with, under any threshold) is no crossing: rows after this
        # one only (one account's rows are written on its own node).
        self.journal_from = int(self.w.t.sql("SELECT COALESCE(MAX(j.id), 0) FROM journal j JOIN accounts a ON a.id = "
                                             "j.account_id WHERE a.ext_id = '%s'" % self.alerted)[0][0])
        self.alerts = {
            self.alerted: [{"kind": "balance_below", "micros": self.balance_threshold},
                           {"kind": "monthly_spend_pct", "pct": 1}, {"kind": "monthly_spend_pct", "pct": 2},
                           {"kind": "daily_spend_pct", "pct": 1}, {"kind": "daily_spend_pct", "pct": 3}],
            self.w.workspace: [{"kind": "plan_credits_used_pct", "pct": 10},
                               {"kind": "plan_credits_used_pct", "pct": 25},
                               {"kind": "member_cap_pct", "pct": 50},
                               {"kind": "member_cap_pct", "pct": 90, "member": "ann"}],
        }
        for acct, alerts in self.alerts.items():
            r = api("PUT", "/v1/accounts/%s/alerts" % acct, {"alerts": alerts}, auth="app")
            eq(r.status, 200, "alerts %r" % r)
            eq([a["state"] for a in r.json["alerts"]], ["armed"] * len(alerts), "set armed")
        return self

    def problems(self):
        """Each alert.threshold of the alerted accounts: past its threshold
        when told; at most one per alert, member and period for the figures
        that only grow in a period (a second would be a crossing told
        twice); each alert's state at the end the one its figure calls for
        (the last change wrote it); and an alert whose figure was crossed
        told at least once."""
        out = []
        for acct, alerts in self.alerts.items():
            rows = self.w.t.sql("SELECT e.id, e.created_at, e.data FROM events e JOIN accounts a ON "
                                "a.id = e.account_id WHERE a.ext_id = '%s' AND e.type = 'alert.threshold' ORDER BY e.id" % acct)
            evs = [(int(i), int(at), json.loads(d)) for i, at, d in rows]
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
                out += self.told_when_crossed(evs)
        out += self.states()
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
                if a["kind"] == kind and micros * 100 >= a["pct"] * ALERT_LIMIT and (kind, a["pct"], period) not in told:
                    out.append("%s: %s %d %% never told in %r, whose usage came to %d" % (
                        self.alerted, kind, a["pct"], period, micros))
        return out

    def states(self):
        """The alerted user's states at the end against its figures then."""
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
        lowest = self.w.t.sql("SELECT MIN(balance_after_micros) FROM journal WHERE account_id = (SELECT id "
                            "FROM accounts WHERE ext_id = '%s') AND id > %d" % (self.alerted, self.journal_from))[0][0]
        n = int(self.w.t.sql("SELECT COUNT(*) FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id = "
                           "'%s' AND e.type = 'alert.threshold' AND e.data LIKE '%%balance_below%%'"
                           % self.alerted)[0][0])
        if lowest not in (None, "NULL") and int(lowest) < self.balance_threshold and n == 0:
            out.append("%s: the balance went to %s, under %d, and balance_below never told" % (
                self.alerted, lowest, self.balance_threshold))
        return out


    def told(self):
        """alert.threshold events of the alerted accounts (the run's figures)."""
        return int(self.w.t.sql("SELECT COUNT(*) FROM events WHERE type = 'alert.threshold' AND account_id IN "
                                "(SELECT id FROM accounts WHERE ext_id IN ('%s'))" % "','".join(self.alerts))[0][0])
