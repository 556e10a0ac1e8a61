"""every_writer_mail.py: every_writer.py's alerts by email: no mail sent
twice, nor left unsent, by two creditd processes mailing from one outbox
under the load (DESIGN §14). Mailing() starts an SMTP sink on loopback
(smtp_sink.py) and restarts both creditd processes of the stack with an
[email] section naming it (test_88_mail's way, for both), and starts them
again as the stack has them afterwards. Its setup gives the four hot
accounts an email, and two of them a low-balance threshold at their
balance (the load crosses it both ways: balance.low told once a crossing);
the alert.threshold events are every_writer_alerts.py's; top-ups and
promo redemptions are mailed too. After the load
(Mailing.problems): the mailer caught up, each event of a mailed type on
a hot account mailed once (its Message-ID names the event; one made in the
seconds before the clock moved days forward at most once), no Message-ID
twice, each message RFC 5322 (the email package's strict policy) to its
account's email with the configured From."""
import os
import re
import shutil
import signal

import stack
from lib import ENV, api, eq, wait_until
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
# An event made this long before the clock was moved (days forward) may be
# seen by the mailer only after the move (see Mailing.unmailed).
STEP_WINDOW_S = 5
STRADDLE_S = 60


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

    def __exit__(self, *_exc):
        try:
            for name, (argv, env) in self.before.items():
                restart(name, argv, env)
        finally:
            self.sink.close()

    def setup(self, w):
        """An email for each hot account; a low-balance threshold at their
        balance now for the alerted user and the workspace."""
        self.emails = {a: "%s@example.com" % a.replace("-", ".").lower() for a in w.accounts}
        for acct, to in self.emails.items():
            body = {"email": to}
            if acct in (w.users[0], w.workspace):
                body["low_balance_micros"] = api("GET", "/v1/accounts/" + acct, auth="read").json["available_micros"]
            r = api("PATCH", "/v1/accounts/" + acct, body)
            eq(r.status, 200, "the hot account's email %r" % r)

    def events(self, w):
        """{event id: (account, made at)} of the mailed types on the hot accounts."""
        return {int(i): (a, int(at)) for i, a, at in w.t.sql(
            "SELECT e.id, a.ext_id, e.created_at FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id "
            "IN (%s) AND e.type IN (%s)" % (",".join("'%s'" % a for a in self.emails),
                                           ",".join("'%s'" % t for t in TYPES)))}

    def unmailed(self, w):
        """(the events, {event id: its mail row's state or None} of those
        not mailed yet, the ids of those rightly never mailed). An event
        made in the seconds before the clock moved days forward may first
        have been seen by the mailer after the move, older than
        retry_hours: it is never mailed (that is [email] retry_hours)."""
        evs = self.events(w)
        rows = dict(w.t.sql("SELECT event_id, state FROM event_mails WHERE event_id IN (%s)"
                            % (",".join(map(str, evs)) or "0")))
        stepped = {i for i, (_a, at) in evs.items() if str(i) not in rows and
                   any(j - STEP_WINDOW_S <= at <= j for j in w.jumped)}
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
        return out + self.messages(evs, stepped, w.jumped)

    def messages(self, evs, stepped, jumped):
        """Each event mailed once (but those stepped over: at most once),
        each message as it should be."""
        out, seen, made = [], {}, {}
        with self.sink.lock:
            got = list(self.sink.got)
        for frm, rcpt, raw, code in got:
            try:
                m = parse(raw)
                mid, to, sender = str(m["Message-ID"]), str(m["To"]), str(m["From"])
            except Exception as e:  # noqa: BLE001 - a message not RFC 5322 is a problem
                out.append("a message not RFC 5322 (%s): %r" % (e, raw[:200]))
                continue
            n = re.fullmatch(r"<creditd\.event\.(\d+)@creditd\.test>", mid)
            acct = evs[int(n.group(1))][0] if n and int(n.group(1)) in evs else None
            if acct is None:
                out.append("a mail for no event of a mailed type on a hot account: %s to %s" % (mid, rcpt))
                continue
            seen[mid] = seen.get(mid, 0) + 1
            made[mid] = evs[int(n.group(1))][1]
            want = self.emails[acct]
            if (frm, rcpt, to, sender, code) != (FROM, [want], want, FROM, 250):
                out.append("%s: envelope %s -> %r, To %s, From %s, reply %d; want %s -> %s"
                           % (mid, frm, rcpt, to, sender, code, FROM, want))
        # A mail whose sending straddled the clock's move days forward had
        # its lease (on creditd's clock) run out under it: the other process
        # may send it again, with the same Message-ID, which is the
        # contract's "at least once" (a move no real clock makes). Only
        # events made in the minute before a move are so excused.
        twice = {mid: k for mid, k in seen.items() if k > 1 and not (
            k == 2 and any(j - STRADDLE_S <= made[mid] <= j for j in jumped))}
        if twice:
            out.append("%d of %d mails sent more than once: %r" % (len(twice), len(seen),
                                                                    dict(list(twice.items())[:5])))
        never = sorted(i for i in evs if "<creditd.event.%d@creditd.test>" % i not in seen and i not in stepped)
        if never:
            out.append("%d of %d events never mailed, the first: %r" % (len(never), len(evs), never[:5]))
        print("every writer: %d events to mail, %d messages, %d made just before the clock moved and not mailed"
              % (len(evs), len(got), len(stepped)), flush=True)
        return out
