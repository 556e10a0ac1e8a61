"""every_writer_mail.py: every_writer.py's alerts by email: no mail sent
twice, nor left unsent, by two creditd processes mailing from one outbox
under the load (DESIGN §14). Mailing() starts an SMTP sink on loopback
(smtp_sink.py) and restarts both creditd processes of the stack with an
[email] section naming it (test_88_mail's way, for both), and starts them
again as the stack has them afterwards. Its setup gives the four hot
accounts an email, and two of them a low-balance threshold at their
balance (the load crosses it both ways: balance.low told once a crossing);
the alert.threshold events are every_writer_alerts.py's. After the load
(Mailing.problems): the mailer caught up, each event of a mailed type on
a hot account mailed once (its Message-ID names the event), no Message-ID
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
TYPES = ("balance.low", "alert.threshold")
BASES = {"creditd": "CREDITD_URL", "creditd-apache": "CREDITD_APACHE_URL"}
# After every mail row is sent: how long the sink stays quiet (no session)
# before it is read. A second copy from a process that claimed the same
# row would have begun by then: a claim is sent at once, and an idle
# mailer looks again each second.
QUIET_S = 3.0
# Each message taken this slowly: a round of a few mails outlasts the other
# process's next look at the outbox (each second when idle), so a mail not
# leased to the process sending it would be claimed and sent again.
DELAY_S = 0.3


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
        """{event id: account} of the mailed types on the hot accounts."""
        return {int(i): a for i, a in w.t.sql(
            "SELECT e.id, a.ext_id FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id IN (%s) "
            "AND e.type IN (%s)" % (",".join("'%s'" % a for a in self.emails), ",".join("'%s'" % t for t in TYPES)))}

    def unsent(self, w, ids):
        rows = w.t.sql("SELECT event_id, state FROM event_mails WHERE event_id IN (%s)" % (",".join(map(str, ids))
                                                                                         or "0"))
        return {int(i): s for i, s in rows if s != "sent"}, len(ids) - len(rows)

    def problems(self, w):
        out = ["no %s on a hot account to mail" % t for t in TYPES if not w.t.sql(
            "SELECT 1 FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.ext_id IN (%s) AND e.type = '%s' "
            "LIMIT 1" % (",".join("'%s'" % a for a in self.emails), t))]
        if not wait_until(lambda: self.unsent(w, self.events(w)) == ({}, 0), timeout=60, step=0.5):
            evs = self.events(w)
            unsent, missing = self.unsent(w, evs)
            out.append("mail 60 s after the load: %d of %d events with no mail row, not sent: %r"
                       % (missing, len(evs), dict(list(unsent.items())[:5])))
        if not wait_until(lambda: self.sink.quiet_for(QUIET_S), timeout=60, step=0.2):
            out.append("the SMTP sink still spoken to 60 s after the load")
        return out + self.messages(self.events(w))

    def messages(self, evs):
        """Each event mailed once, each message as it should be."""
        out, seen = [], {}
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
            acct = evs.get(int(n.group(1))) if n else None
            if acct is None:
                out.append("a mail for no event of a mailed type on a hot account: %s to %s" % (mid, rcpt))
                continue
            seen[mid] = seen.get(mid, 0) + 1
            want = self.emails[acct]
            if (frm, rcpt, to, sender, code) != (FROM, [want], want, FROM, 250):
                out.append("%s: envelope %s -> %r, To %s, From %s, reply %d; want %s -> %s"
                           % (mid, frm, rcpt, to, sender, code, FROM, want))
        twice = {mid: k for mid, k in seen.items() if k > 1}
        if twice:
            out.append("%d of %d mails sent more than once: %r" % (len(twice), len(seen), dict(list(twice.items())[:5])))
        never = sorted(i for i in evs if "<creditd.event.%d@creditd.test>" % i not in seen)
        if never:
            out.append("%d of %d events never mailed, the first: %r" % (len(never), len(evs), never[:5]))
        print("every writer: %d events mailed, %d messages" % (len(evs), len(got)), flush=True)
        return out
