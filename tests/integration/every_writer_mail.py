"""every_writer_mail.py: every_writer.py's alerts by email: no mail sent
twice, nor left unsent, by two creditd processes mailing from one outbox
under the load (DESIGN §14). Mailing() starts an SMTP sink on loopback
(smtp_sink.py) and restarts both creditd processes of the stack with an
[email] section naming it (test_88_mail's way, for both), and starts them
again as the stack has them afterwards, the hot accounts' emails removed
(a later test's mailer would mail their events to a sink that knows them
not). Its setup gives the four hot accounts an email, and two of them a
low-balance threshold at their balance (the load crosses it both ways:
balance.low told once a crossing, every_writer_alerts.py); the
alert.threshold events are every_writer_alerts.py's; top-ups and promo
redemptions are mailed too. The workload moves the stack's clock through
Mailing.across, which reads the mailer's state on either side of the move.
After the load (Mailing.problems): the mailer caught up, each event of a
mailed type on a hot account mailed once, no Message-ID twice, each
message RFC 5322 (the email package's strict policy) to its account's
email with the configured From. Two excuses, each bounded by its cause
(src/jobs/mail.c, src/ledger/records/ledger_mails.c): a mail whose lease the move
made look run out, sent twice, once after the move (Mailing.messages); an
event the mailer had not read at the move, never mailed (Mailing.unmailed).
A mail for another test's account (its email left set) is checked against
the database: an event of a mailed type of an account with that email."""
import collections
import os
import re
import shutil
import signal
import time

import stack
from lib import ENV, api, clock_now, eq, wait_until
from smtp_sink import Sink, parse

FROM = "every-writer@creditd.test"
# The mailed types: the alerts, and three more the load writes from other
# writers (a webhook's credit or refund, a redemption) at the same time.
TYPES = ("balance.low", "alert.threshold", "topup.succeeded", "topup.refunded", "promo.redeemed")
BASES = {"creditd": "CREDITD_URL", "creditd-apache": "CREDITD_APACHE_URL"}
# After every mail row is sent: how long the sink stays quiet (no session)
# before it is read. A second copy from a process that claimed the same
# row would have begun by then: a claim is sent at once, and an idle
# mailer looks again each second.
QUIET_S = 3.0
# Each message taken this slowly: a round of a few mails outlasts the other
# process's next look at the outbox (each second when idle), so a mail not
# leased to the process sending it would be claimed and sent again.
DELAY_S = 0.2
# A move of the stack's clock days forward, as Mailing.across saw it: the
# clock before (creditd's seconds) and after, the real time just before
# it, the mailer's cursor just before it (mail_cursor.last_event_id), and
# the mail rows leased then: claimed, not yet sent, the lease not run out.
Move = collections.namedtuple("Move", "before after real cursor leased")


def launched(name):
    """(argv, CREDITD_ environment) of the recorded process name."""
    pid = stack.pid_of(name)
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if b"=" in e)
    return argv, {k: v for k, v in env.items() if k.startswith("CREDITD_")}


def restart(name, argv, env):
    """Kills name (SIGKILL, as test_88_mail does) and starts argv in its place."""
    pid = stack.pid_of(name)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if not wait_until(lambda: not stack.alive(pid), timeout=10, step=0.01):
        raise AssertionError("%s (pid %d) did not stop" % (name, pid))
    stack.start(name, argv, env=env)
    if not wait_until(lambda: stack.health(ENV[BASES[name]]) == 200, timeout=15):
        raise AssertionError("%s did not come back" % name)


class Mailing:
    def __enter__(self):
        self.sink = Sink()
        self.sink.delay = DELAY_S
        self.before = {n: launched(n) for n in BASES}
        try:
            for name, (argv, env) in self.before.items():
                i = argv.index("-c") + 1
                conf = stack.path(os.path.basename(argv[i]) + ".ewmail")
                shutil.copy(argv[i], conf)
                with open(conf, "a") as f:
                    f.write("\n[email]\nsmtp_url = smtp://127.0.0.1:%d\ntls = none\nfrom = %s\nevents = %s\n"
                            "retry_hours = 1\n" % (self.sink.port, FROM, ", ".join(TYPES)))
                os.chmod(conf, 0o600)
                restart(name, argv[:i] + [conf] + argv[i + 1:], env)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.forget(exc[0] is None)
        finally:
            try:
                for name, (argv, env) in self.before.items():
                    restart(name, argv, env)
            finally:
                self.sink.close()

    def forget(self, strict):
        """The hot accounts' emails removed: left set, a later test's mailer
        would mail their events (the workspace's plan renewed when that test
        moves the clock, say) into its own sink, as mails for no event of
        its own (a ./dev check's chaos run after test_69 on one stack)."""
        left = []
        for acct in getattr(self, "emails", {}):
            try:
                r = api("PATCH", "/v1/accounts/" + acct, {"email": None})
            except Exception as e:  # noqa: BLE001 - creditd gone: the test has failed already
                r = e
            if getattr(r, "status", None) != 200:
                left.append("%s: %r" % (acct, r))
        if left and strict:
            raise AssertionError("the hot accounts' emails not removed: %s" % "; ".join(left))

    def setup(self, w):
        """An email for each hot account; a low-balance threshold at their
        balance now for the alerted user and the workspace."""
        self.w, self.moves = w, []
        self.emails = {a: "%s@example.com" % a.replace("-", ".").lower() for a in w.accounts}
        for acct, to in self.emails.items():
            body = {"email": to}
            if acct in (w.users[0], w.workspace):
                body["low_balance_micros"] = api("GET", "/v1/accounts/" + acct, auth="read").json["available_micros"]
            r = api("PATCH", "/v1/accounts/" + acct, body)
            eq(r.status, 200, "the hot account's email %r" % r)

    def across(self, move):
        """move() moves the stack's clock days forward (every_writer.py's
        jump); the mailer's cursor and the mail rows leased are read just
        before it, and after it the rows whose lease it made look run out
        (claimed before the move, still pending: next_at past the clock
        before it, not past the clock after). The two reads together hold
        every row in flight at the move but one claimed and sent again in
        the milliseconds between them."""
        before = clock_now()
        rows = self.w.t.sql("SELECT 'cursor', last_event_id FROM mail_cursor WHERE id = 1 UNION ALL SELECT 'leased', "
                            "event_id FROM event_mails WHERE state = 'pending' AND next_at > %d" % before)
        real = time.time()
        move()
        after = clock_now()
        leased = {int(i) for what, i in rows if what == "leased"}
        leased |= {int(r[0]) for r in self.w.t.sql("SELECT event_id FROM event_mails WHERE state = 'pending' AND "
                                                   "next_at > %d AND next_at <= %d" % (before, after))}
        cursor = [int(i) for what, i in rows if what == "cursor"]
        self.moves.append(Move(before, after, real, cursor[0] if cursor else 0, leased))

    def events(self, w):
        """{event id: (account, made at)} of the mailed types on the hot accounts."""
        return {int(i): (a, int(at)) for i, a, at in w.t.sql(
            "SELECT e.id, a.ext_id, e.created_at FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id "
            "IN (%s) AND e.type IN (%s)" % (",".join("'%s'" % a for a in self.emails),
                                           ",".join("'%s'" % t for t in TYPES)))}

    def unmailed(self, w):
        """(the events, {event id: its mail row's state or None} of those
        not mailed yet, the ids of those rightly never mailed). The mailer
        reads the outbox past its cursor and makes a mail row for each
        event younger than retry_hours by its clock then (ledger_mails.c,
        SQL_ENQUEUE): an event made before a move of the clock days forward
        and past the cursor at the move is read after it, too old, and is
        never mailed ([email] retry_hours). Only those: an event the
        mailer had read before the move (at or below the cursor) has its
        row, and one made after the move is young."""
        evs = self.events(w)
        rows = dict(w.t.sql("SELECT event_id, state FROM event_mails WHERE event_id IN (%s)"
                            % (",".join(map(str, evs)) or "0")))
        stepped = {i for i, (_a, at) in evs.items() if str(i) not in rows and
                   any(i > m.cursor and at < m.after for m in self.moves)}
        return evs, {i: rows.get(str(i)) for i in evs if rows.get(str(i)) != "sent" and i not in stepped}, stepped

    def problems(self, w):
        out = ["no %s on a hot account to mail" % t for t in TYPES if not w.t.sql(
            "SELECT 1 FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id IN (%s) AND e.type = '%s' "
            "LIMIT 1" % (",".join("'%s'" % a for a in self.emails), t))]
        if not wait_until(lambda: not self.unmailed(w)[1], timeout=60, step=0.5):
            evs, unsent, _ = self.unmailed(w)
            out.append("%d of %d events not mailed 60 s after the load (mail row state: %r; the mail cursor at %s)"
                       % (len(unsent), len(evs), dict(list(unsent.items())[:5]),
                          w.t.sql("SELECT last_event_id FROM mail_cursor")[0][0]))
        if not wait_until(lambda: self.sink.quiet_for(QUIET_S), timeout=60, step=0.2):
            out.append("the SMTP sink still spoken to 60 s after the load")
        evs, _, stepped = self.unmailed(w)
        return out + self.messages(evs, stepped)

    def messages(self, evs, stepped):
        """Each event mailed once (but those stepped over: never), each
        message as it should be."""
        out, seen, foreign = [], {}, []
        with self.sink.lock:
            got = list(zip(self.sink.got, self.sink.times))
        for (frm, rcpt, raw, code), at in got:
            try:
                m = parse(raw)
                mid, to, sender = str(m["Message-ID"]), str(m["To"]), str(m["From"])
            except Exception as e:  # noqa: BLE001 - a message not RFC 5322 is a problem
                out.append("a message not RFC 5322 (%s): %r" % (e, raw[:200]))
                continue
            n = re.fullmatch(r"<creditd\.event\.(\d+)@creditd\.test>", mid)
            acct = evs[int(n.group(1))][0] if n and int(n.group(1)) in evs else None
            if acct is None:
                foreign.append((int(n.group(1)) if n else 0, mid, rcpt, to))
                continue
            seen.setdefault(mid, []).append(at)
            want = self.emails[acct]
            if (frm, rcpt, to, sender, code) != (FROM, [want], want, FROM, 250):
                out.append("%s: envelope %s -> %r, To %s, From %s, reply %d; want %s -> %s"
                           % (mid, frm, rcpt, to, sender, code, FROM, want))
        out += self.twice(seen) + self.others(foreign)
        never = sorted(i for i in evs if "<creditd.event.%d@creditd.test>" % i not in seen and i not in stepped)
        if never:
            out.append("%d of %d events never mailed, the first: %r" % (len(never), len(evs), never[:5]))
        print("every writer: %d events to mail, %d messages, %d of other tests' accounts, %d made before the clock "
              "moved, past the mailer's cursor then, and not mailed" % (len(evs), len(got), len(foreign), len(stepped)),
              flush=True)
        return out

    def twice(self, seen):
        """The mails sent more than once, but a pair the clock's move days
        forward explains: claimed by one process before the move (leased
        then: its row in Move.leased), its lease (on creditd's clock) made
        to look run out, so that the other process claimed it and sent it
        again after the move (the later copy came after it). That is the
        contract's "at least once" under a move no real clock makes; any
        other second copy is a defect of the lease."""
        def excused(mid, times):
            i = int(mid.split(".")[2].split("@")[0])
            return len(times) == 2 and any(i in m.leased and max(times) >= m.real for m in self.moves)
        twice = {mid: len(t) for mid, t in seen.items() if len(t) > 1 and not excused(mid, t)}
        if not twice:
            return []
        return ["%d of %d mails sent more than once (not a pair straddling a move of the clock, leased at it): %r; "
                "the moves (clock before, real time, rows leased): %r" % (
                    len(twice), len(seen), dict(list(twice.items())[:5]),
                    [(m.before, round(m.real, 2), sorted(m.leased)) for m in self.moves])]

    def others(self, foreign):
        """The mails for no event of this run's: each must be an event of a
        mailed type of another account (another test's, its email left
        set), to that account's email."""
        ids = ",".join(str(i) for i, _m, _r, _t in foreign) or "0"
        rows = {int(r[0]): r[1:] for r in self.w.t.sql(
            "SELECT e.id, e.type, a.ext_id, IFNULL(a.email, '-') FROM events e JOIN accounts a ON a.id = e.account_id "
            "WHERE e.id IN (%s)" % ids)}
        out = []
        for i, mid, rcpt, to in foreign:
            kind, acct, email = rows.get(i, ("no such event", "-", "-"))
            if kind not in TYPES or acct in self.emails or rcpt != [email] or to != email:
                out.append("a mail for no event of a mailed type on a hot account nor of another account with that "
                           "email: %s to %s, To %s (the event: %s of %s, whose email is %s)"
                           % (mid, rcpt, to, kind, acct, email))
        return out
