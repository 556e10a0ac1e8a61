"""lanes.py: the integration files side by side, one lane a stack.

./dev check starts several private stacks (each its own MariaDB, creditd,
nginx, Apache and stand-ins, on ports of its own) and gives run.py each
one's env file: each stack is a lane, running one file at a time in a
child `run.py --file NAME` of its own, and taking the next file of the
queue when it is done. Most files spend their time waiting (on a job's
tick, a webhook's retry, a timeout a test provokes), so two cores serve
three lanes.

A file's output is printed whole when it ends (a line a test, numbered
across the run). Every file gets a lane of its own stack, as with one
stack, but not the files that ran before it there: a file sets up what it
needs and never counts what others made.

Which files cannot run just anywhere:
- MACHINE: they touch the machine outside their stack (a system user, the
  systemd instance, the package's unpacked tree, a make install): they
  run one after another in one lane, in name order.
- LAST: test_99 validates every answer the other files got (recorded in
  CREDITD_OPENAPI_RECORD, one file for all the lanes): it runs when every
  other lane is done.
The slowest files start first (SLOW_FIRST, a hint of order only), so that
no lane is left with a long file at the end.

A file must leave its stack as it found it, since the next file on that
lane differs from run to run: after each file the stack's config, its test
clock, its servers (each name of its pids file alive) and what creditd
repeats by itself at a stand-in (a provider's batch or background run
polled, a payment Stripe is asked about again: none added) are compared
with before, and a difference is a failure named after the file
("left its stack changed"). Such a leak made a later file fail only in
some orders: a batch left running is polled every second of the rest of
its lane, and a later file's "the provider was sent N requests" counted
those polls; a payment left "processing" is fetched from Stripe again
15, 30, 60 minutes later.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import threading

import lib

MACHINE = ("test_00_foundation.py", "test_06_systemd.py", "test_08_debian.py", "test_08_source_install.py",
           "test_97_demo_packages.py")
LAST = ("test_99_openapi.py",)
SLOW_FIRST = (  # longest first: their tests' seconds in a run of ./dev check
    "test_95_console_browser.py", "test_95c_console_bad_input.py", "test_88b_gateway_batches.py",
    "test_59_widget_browser.py", "test_33_payg.py", "test_95b_console_browser_more.py",
    "test_87d_gateway_background.py", "test_53_client_suites.py", "test_87_gateway_providers.py",
    "test_96_gateway_contract.py", "test_81_gateway_sdks.py", "test_39_collection_tries.py",
    "test_84_gateway_attacks.py", "test_88_mail.py", "test_69_every_writer.py", "test_98f_apache_contract.py",
    "test_56_push.py", "test_21_guard_expiry_races.py", "test_34_payment_news.py",
    "test_88c_gateway_batch_settle.py", "test_97_bad_input_ctl.py", "test_87b_unresolved_usage.py",
    "test_05_shared_hosting.py")

_NUMBER = re.compile(r"^(not ok|ok) \d+ - ", re.M)


# What creditd repeats by itself at a stand-in every lane shares, each
# as a name: a provider's batch not done and background run running
# (polled, sql/076, sql/072), a recharge or collection Stripe is asked
# about again (a charge queued, or a payment sent and not yet paid or
# failed: ledger_charges.c's claim).
REPEATED = ("SELECT CONCAT('batch ', object_id) FROM gateway_jobs WHERE state <> 'done' "
            "UNION ALL SELECT CONCAT('background run ', response_id) FROM gateway_background "
            "WHERE state = 'running' "
            "UNION ALL SELECT CONCAT('recharge ', id) FROM recharges WHERE next_attempt_at >= 1 "
            "AND ((state = 'queued' AND kind = 'recharge') OR (state = 'sent' AND payment_intent IS NOT NULL))")


def repeated_work(stack_dir):
    """The names of what creditd repeats on the stack in stack_dir
    (REPEATED), a set, or why they could not be read, as text."""
    try:
        return {row[0] for row in lib.sql_on(os.path.join(stack_dir, "my.cnf"), REPEATED)}
    except lib.Fail as e:
        return "unread: %s" % (e,)


def stack_state(env):
    """What a file must leave as it found it on the stack of env: the
    config's digest, the test clock's offset, each name of the pids file
    with its pid and whether that pid is alive, and what creditd repeats
    by itself (repeated_work)."""
    stack_dir = os.path.dirname(os.path.abspath(env))
    state = {}
    try:
        with open(os.path.join(stack_dir, "creditd.conf"), "rb") as f:
            state["config"] = hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        state["config"] = None
    try:
        with open(os.path.join(stack_dir, "clock")) as f:
            state["clock offset"] = int(f.read().strip() or 0)
    except (OSError, ValueError):
        state["clock offset"] = 0
    servers = {}
    try:
        with open(os.path.join(stack_dir, "pids")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    servers[parts[0]] = (parts[1], os.path.exists("/proc/%s" % parts[1]))
    except OSError:
        pass
    state["servers"] = servers
    state["repeated"] = repeated_work(stack_dir)
    return state


def stack_changes(before, after):
    """How after differs from before (stack_state's): the config, the
    clock, a server alive before and not after, a server alive after that
    was not before, anything creditd repeats by itself that it did not
    before (or that list unread). A name whose pid, dead before, is alive
    after under the same number is another process that took the number:
    not a change."""
    changed = ["%s %r, was %r" % (k, after[k], before[k]) for k in ("config", "clock offset")
               if after[k] != before[k]]
    rep_was, rep_now = before["repeated"], after["repeated"]
    if isinstance(rep_now, str):
        changed.append("what creditd repeats by itself %s" % rep_now)
    elif isinstance(rep_was, set) and rep_now - rep_was:
        changed.append("left what creditd repeats by itself at a stand-in: %s" %
                       ", ".join(sorted(rep_now - rep_was)[:10]))
    was, now = before["servers"], after["servers"]
    for name in sorted(set(was) | set(now)):
        pid_was, alive_was = was.get(name, (None, False))
        pid_now, alive_now = now.get(name, (None, False))
        if alive_was and not alive_now:
            changed.append("%s stopped" % name)
        elif alive_now and not alive_was and pid_now != pid_was:
            changed.append("%s left running (pid %s)" % (name, pid_now))
    return changed


class Run:
    """The queue, the counts and the printer shared by the lanes."""

    def __init__(self, names, args, runner):
        self.args = args
        self.runner = runner
        self.lock = threading.Lock()
        machine = [n for n in names if n in MACHINE]
        rest = [n for n in names if n not in MACHINE and n not in LAST]
        rest.sort(key=lambda n: (SLOW_FIRST.index(n) if n in SLOW_FIRST else len(SLOW_FIRST), n))
        # The machine's files are one item (one lane, one after another),
        # queued first: together they are the longest.
        self.queue = ([machine] if machine else []) + [[n] for n in rest]
        self.last = [n for n in names if n in LAST]
        self.passed = self.failed = self.number = 0

    def take(self):
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def report(self, out, passed, failed):
        """A file's output, its tests numbered in the run's order."""
        with self.lock:
            def renumber(m):
                self.number += 1
                return "%s %d - " % (m.group(1), self.number)
            sys.stdout.write(_NUMBER.sub(renumber, out))
            sys.stdout.flush()
            self.passed += passed
            self.failed += failed

    def one(self, env, name):
        """Runs the file name on the stack of env, in a child of its own."""
        summary = tempfile.NamedTemporaryFile(prefix="creditd-lane.", delete=False)
        summary.close()
        argv = [sys.executable, self.runner, "--env", env, "--dir", self.args.dir, "--file", name,
                "--summary", summary.name]
        if self.args.pattern:
            argv += ["-k", self.args.pattern]
        if self.args.times:
            argv += ["--times", self.args.times]
        before = stack_state(env)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with p.stdout:
            stdout = p.stdout.read()
        # Its CPU: the file's processes and theirs (a build, a browser;
        # not the stack's servers), for tests/report.py.
        _pid, status, use = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if self.args.times:
            with open(self.args.times, "a") as f:
                f.write("%.2f\t#cpu %s\tok\n" % (use.ru_utime + use.ru_stime, name[:-3]))
        after = stack_state(env)
        out = "".join(line + "\n" for line in stdout.splitlines() if not line.startswith("integration tests: "))
        try:
            with open(summary.name) as f:
                passed, failed = map(int, f.read().split())
        except (OSError, ValueError):
            passed, failed = 0, 0
            p.returncode = p.returncode or 1
        os.unlink(summary.name)
        # The file's own failures beside its tests', each a line of the
        # report too (tests/report.py names it in a --repeat).
        problems = []
        if p.returncode != 0 and failed == 0:
            problems.append(("runner", "its runner exited %d" % p.returncode))
        changed = stack_changes(before, after)
        if changed:
            problems.append(("stack", "left its stack changed: " + "; ".join(changed)))
        for what, why in problems:
            out += "not ok 0 - %s.%s: %s\n" % (name[:-3], what, why)
            if self.args.times:
                with open(self.args.times, "a") as f:
                    f.write("0.00\t%s.%s\tfail\n" % (name[:-3], what))
        self.report(out, passed, failed + len(problems))

    def lane(self, env):
        while True:
            item = self.take()
            if item is None:
                return
            for name in item:
                self.one(env, name)


def run(names, args, runner):
    """Runs names on the stacks of args.env side by side: (passed, failed)."""
    # One record of the answers for every lane (test_99 reads it).
    os.environ.setdefault("CREDITD_OPENAPI_RECORD",
                          os.path.join(os.path.dirname(os.path.abspath(args.env[0])), "openapi-record.jsonl"))
    r = Run(names, args, runner)
    threads = [threading.Thread(target=r.lane, args=(env,)) for env in args.env]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in r.last:
        r.one(args.env[0], name)
    return r.passed, r.failed
