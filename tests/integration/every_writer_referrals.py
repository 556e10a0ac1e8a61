"""every_writer_referrals.py: every_writer.py's referrals (its Workload is
`self` here): the other hot accounts, and four more, created with the
first user's or the third's referral code; each one's first credited
top-up (one of the load's) rewards it and its referrer (the referred
account locked first, the referrer last), and a refund of that top-up
(one of the load's) takes both grants back. Kept apart for the length of
every_writer.py. A workload made with referrals=False refers nobody."""
import re

from lib import ENV, api, eq, uid


def refer(self, i, body):
    """The body of hot account i: the first user refers the others."""
    if i > 0 and self.referrals:
        body["referral_code"] = self.codes[self.users[0]]


def code_of(self, i, acct):
    """Hot account i's referral code, kept in self.codes."""
    if not self.referrals:
        return
    r = api("GET", "/v1/accounts/%s/referral_code" % acct, auth="app", base=self.t.bases[i % 2])
    eq(r.status, 200, "referral code %r" % r)
    self.codes[acct] = r.json["code"]


def more_referred(self):
    """Four more accounts referred by the first user or the third."""
    self.referred_extra = [uid("ew-ref") for _ in range(4 if self.referrals else 0)]
    for i, acct in enumerate(self.referred_extra):
        r = api("POST", "/v1/accounts", {"id": acct, "kind": "user",
                                         "referral_code": self.codes[self.users[0 if i % 2 else 2]]})
        eq(r.status, 201, "referred account %r" % r)


def topups(self):
    """A top-up session for each of them, credited in the load."""
    for acct in self.referred_extra:
        r = api("POST", "/v1/accounts/%s/topup" % acct, {"amount_cents": 700}, auth="app")
        eq(r.status, 200, "top-up session %r" % r)
        self.pending_topups.append((acct, r.json["session_id"], 700))


def problems(self):
    """Each referral settled once, rewarded at most once on each side,
    its referrer within [referral] max_per_referrer_per_month a month,
    and taken back whole exactly when the top-up that rewarded it was
    refunded (acknowledged)."""
    out = []
    if not self.referrals:
        return out
    referred = self.accounts[1:] + self.referred_extra
    names = ",".join("'%s'" % a for a in referred)
    with open(ENV["CREDITD_CONFIG"]) as f:
        m = re.search(r"^max_per_referrer_per_month\s*=\s*(\d+)", f.read(), re.M)
    cap = int(m.group(1)) if m else 10      # the default
    rows = self.t.sql(
        "SELECT y.ext_id, r.settled_at IS NOT NULL, IFNULL(t.session_id, '-'), r.taken_back_at IS NOT NULL, "
        "IFNULL(r.referrer_grant_id, 0), IFNULL(r.referred_grant_id, 0) FROM referrals r JOIN accounts y ON "
        "y.id = r.referred_id LEFT JOIN topups t ON t.id = r.topup_id WHERE y.ext_id IN (%s)" % names)
    eq(sorted(r[0] for r in rows), sorted(referred), "a referral row for each referred account")
    credited_accounts = {v[0] for v in self.credited.values()}
    for acct, settled, sid, taken, g1, g2 in rows:
        if (settled == "1") != (acct in credited_accounts or acct == self.recharger):
            out.append("referral of %s: settled %s, a top-up credited %s" % (acct, settled,
                                                                              acct in credited_accounts))
        refunded = sid in self.credited and self.credited[sid][4] > 0
        if sid != "-" and sid in self.credited and (taken == "1") != refunded:
            out.append("referral of %s: taken back %s, its top-up refunded %s" % (acct, taken, refunded))
        if taken == "1":
            left = self.t.sql("SELECT COALESCE(SUM(remaining_micros), 0) FROM grants WHERE id IN (%s, %s)"
                              % (g1, g2))[0][0]
            if left != "0":
                out.append("referral of %s taken back, %s left on its grants" % (acct, left))
    # Every referral grant is the one its referral row names, on either side:
    # a second reward would be a grant no row names.
    accounts = ",".join("'%s'" % a for a in set(referred) | set(self.accounts))
    for acct, n in self.t.sql(
            "SELECT a.ext_id, COUNT(*) FROM grants g JOIN accounts a ON a.id = g.account_id WHERE g.source = "
            "'referral' AND a.ext_id IN (%s) AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.referrer_grant_id "
            "= g.id OR r.referred_grant_id = g.id) GROUP BY a.ext_id" % accounts):
        out.append("%s referral grants of %s that no referral names (rewarded twice)" % (n, acct))
    for ref, n in self.t.sql(
            "SELECT JSON_VALUE(data, '$.referred'), COUNT(*) FROM events WHERE type = 'referral.rewarded' AND "
            "JSON_VALUE(data, '$.referred') IN (%s) GROUP BY 1 HAVING COUNT(*) > 1" % names):
        out.append("%s referral.rewarded events for %s" % (n, ref))
    for referrer, month, n in self.t.sql(
            "SELECT referrer_id, reward_month, COUNT(*) FROM referrals WHERE reward_month IS NOT NULL AND "
            "referred_id IN (SELECT id FROM accounts WHERE ext_id IN (%s)) GROUP BY 1, 2" % names):
        if int(n) > cap:
            out.append("referrer %s rewarded %s times in month %s (cap %d)" % (referrer, n, month, cap))
    if not any(r[1] == "1" and r[0] != self.recharger for r in rows):
        out.append("no referral settled under the load")
    return out
