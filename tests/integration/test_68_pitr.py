"""test_68_pitr.py: docs/operations.md's point-in-time recovery, run as
the page writes it.

The stack's MariaDB is left alone (other tests and the bench rely on its
settings): the drill starts MariaDB servers of its own in the stack's
directory, each configured with the page's binary log settings, and runs
the page's blocks (those after a `<!-- drill: NAME -->` marker) in bash,
with only the paths, passwords and the point the page leaves to the
reader filled in, and each server reached by the page's bare `mariadb`
through a ~/.my.cnf of its own (HOME). A creditd on the first server
moves money (accounts, grants, debits, guard pairs, a pending hold, a
usage) before and after the nightly dump; then a DBA's mistake (a DELETE
of grants, which `creditctl verify` catches), and more calls after it.
The page's steps restore into a second fresh server up to the bad
transaction's position from the listing, and into a third up to its
time: each must hold the source's rows exactly as they were just before
the mistake (the replay past the dump included, nothing after the point),
`creditctl migrate` must have nothing to do and `creditctl verify` find
0 violations. A creditd on the restored server hands out hold ids above
every id the damaged server gave (the next-ids step), and a hold made
after the point answers 404.
"""
import json
import os
import re
import shutil
import subprocess
import time

import stack
from lib import ENV, Fail, check, eq, wait_until

ROOT = os.path.dirname(ENV["CREDITCTL"])
DOC = os.path.join(ROOT, "docs", "operations.md")
OWNER_PASSWORD = "owner-pitr-drill-pw"
RUNTIME_PASSWORD = "runtime-pitr-drill-pw"
# The rows compared between the source at the point and each restore.
TABLES = ("accounts", "grants", "holds", "journal", "usage_records", "events")
BAD = "DELETE FROM grants WHERE account_id = %d"


def _dir(*parts):
    return os.path.join(ENV["CREDITD_STACK_DIR"], "pitr", *parts)


def drill_blocks():
    """{name: text} of every fenced block after a `<!-- drill: NAME -->`
    marker of operations.md, the list item's indentation taken off."""
    with open(DOC) as f:
        text = f.read()
    blocks = {}
    for m in re.finditer(r"(?m)^( *)<!-- drill: ([\w-]+) -->\n\1```\w*\n(.*?)\n\1```", text, re.S):
        indent, name, body = m.group(1), m.group(2), m.group(3)
        blocks[name] = "\n".join(line[len(indent):] if line.startswith(indent) else line
                                 for line in body.split("\n"))
    want = {"users", "config", "dump", "ship", "coords", "list", "next-ids", "restore", "check"}
    eq(sorted(want - set(blocks)), [], "operations.md's drill blocks")
    return blocks


def set_line(script, var, value):
    """script with its one `VAR=...` line (not a comment) set to value."""
    out, n = re.subn(r"(?m)^%s=.*$" % var, lambda _m: "%s=%s" % (var, value), script)
    eq(n, 1, "one %s= line in the block" % var)
    return out


class Server:
    """A private mariadbd with the page's binary log settings; its root
    reached by the page's bare `mariadb` with HOME=self.home."""

    def __init__(self, name, config):
        self.name = name
        self.base = _dir(name)
        self.sock = _dir(name + ".sock")
        self.binlog = os.path.join(self.base, "binlog")
        self.home = os.path.join(self.base, "home")
        self.cnf = os.path.join(self.base, "my.cnf")
        self.proc = None
        for d in (self.base, self.binlog, self.home):
            os.makedirs(d, exist_ok=True)
        with open(self.cnf, "w") as f:
            f.write("[mysqld]\ndatadir=%s/db\nsocket=%s\npid-file=%s/mysql.pid\nlog-error=%s/mysql.err\n"
                    "skip-networking\nuser=root\ninnodb_buffer_pool_size=64M\n" % (self.base, self.sock, self.base,
                                                                                  self.base))
            f.write(config.replace("[mysqld]\n", "").replace("/var/lib/mysql-binlog", self.binlog) + "\n")
            f.write("[client]\nsocket=%s\nuser=root\n" % self.sock)
        with open(os.path.join(self.home, ".my.cnf"), "w") as f:
            f.write("[client]\nsocket=%s\nuser=root\n" % self.sock)

    def start(self):
        p = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + os.path.join(self.base, "db"),
                            "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db"],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "mariadb-install-db: %s" % p.stdout[-500:] + p.stderr[-500:])
        self.proc = stack.start("pitr_" + self.name, ["mariadbd", "--defaults-file=" + self.cnf])
        up = wait_until(lambda: subprocess.run(["mariadb-admin", "--defaults-file=" + self.cnf, "ping"],
                                               capture_output=True).returncode == 0, timeout=30, step=0.1)
        if not up:
            with open(os.path.join(self.base, "mysql.err")) as f:
                raise Fail("mariadbd %s did not start: %s" % (self.name, f.read()[-1500:]))

    def stop(self):
        if self.proc is None:
            return
        subprocess.run(["mariadb-admin", "--defaults-file=" + self.cnf, "shutdown"], capture_output=True,
                       timeout=60)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        stack.forget("pitr_" + self.name)
        self.proc = None

    def sh(self, script, env=None):
        """Runs script in bash (errexit, pipefail) as the page's reader on
        this server's host: PATH with creditctl first, HOME for `mariadb`.
        Binary columns come out as backslash escapes."""
        e = {"PATH": ROOT + ":" + os.environ["PATH"], "HOME": self.home, "LC_ALL": "C"}
        e.update(env or {})
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=e, capture_output=True, text=True,
                           errors="backslashreplace", timeout=120, cwd=_dir())
        if p.returncode != 0:
            raise Fail("on %s, exit %d:\n%s\n---- stdout\n%s\n---- stderr\n%s"
                       % (self.name, p.returncode, script, p.stdout[-1500:], p.stderr[-1500:]))
        return p

    def rows(self, table):
        p = self.sh("mariadb -N -B creditd -e 'SELECT * FROM %s ORDER BY id'" % table)
        return p.stdout

    def state(self):
        return {t: self.rows(t) for t in TABLES}


def page_paths(script):
    """The page's paths as the drill's: the backup host's /backup (and its
    rsync destination) under the drill's directory, the owner's password file."""
    script = script.replace("backup-host:/backup/", "/backup/")
    script = script.replace("/backup", _dir("backup"))
    script = script.replace("/usr/share/creditd/sql", os.path.join(ROOT, "sql"))
    return script.replace("/root/creditd-owner.pw", _dir("owner.pw"))


def write_config(server):
    path = _dir("creditd-%s.conf" % server.name)
    text = ("[server]\nlog = %s\nsweep_interval_seconds = 3600\nbase_path = /\n"
            "[database]\nsocket = %s\nname = creditd\nuser = creditd\npassword = %s\n"
            "migrate_user = creditd_owner\nmigrate_password = %s\n"
            "[ledger]\ncurrency = EUR\nsignup_bonus_micros = 10000000\n"
            % (_dir("creditd-%s.log" % server.name), server.sock, RUNTIME_PASSWORD, OWNER_PASSWORD))
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    return path


class Creditd:
    """A creditd on a server's database, spoken to over FastCGI (cgi-fcgi)."""

    def __init__(self, server, conf):
        self.sock = _dir("creditd-%s.sock" % server.name)
        self.name = "pitr_creditd_" + server.name
        self.proc = stack.start(self.name, [os.path.join(ROOT, "creditd"), "-c", conf, "--listen",
                                            "unix:" + self.sock])
        check(wait_until(lambda: os.path.exists(self.sock), timeout=10), "creditd on %s listening" % server.name)

    def call(self, key, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        env = {"PATH": os.environ["PATH"], "REQUEST_METHOD": method, "REQUEST_URI": path, "QUERY_STRING": "",
               "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
               "HTTP_AUTHORIZATION": "Bearer " + key, "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
        p = subprocess.run(["cgi-fcgi", "-bind", "-connect", self.sock], input=data, env=env, capture_output=True,
                           timeout=30)
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        m = re.search(rb"Status: (\d+)", head)
        check(m is not None, "%s %s: no answer (%r)" % (method, path, p.stdout[:200] + p.stderr[:200]))
        return int(m.group(1)), json.loads(payload) if payload else None

    def ok(self, key, method, path, body=None, status=(200, 201)):
        st, out = self.call(key, method, path, body)
        check(st in status, "%s %s: %d %s" % (method, path, st, out))
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)
        stack.forget(self.name)


def pair(cd, guard, account, request_id, output_tokens=300):
    hold = cd.ok(guard, "POST", "/v1/guard/authorize", {"account": account, "model": "gpt-4o",
                                                         "input_tokens": 1200, "max_output_tokens": 800,
                                                         "request_id": request_id})
    cd.ok(guard, "POST", "/v1/guard/settle", {"hold_id": hold["hold_id"], "input_tokens": 1200,
                                              "output_tokens": output_tokens})
    return hold["hold_id"]


def ctl(conf, *args):
    p = subprocess.run([ENV["CREDITCTL"], "-c", conf] + list(args), capture_output=True, text=True, timeout=60)
    return p


def test_point_in_time_recovery_as_operations_md_writes_it():
    t0 = time.time()
    shutil.rmtree(_dir(), ignore_errors=True)
    os.makedirs(_dir("backup", "binlog"))
    with open(os.open(_dir("owner.pw"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(OWNER_PASSWORD + "\n")
    blocks = drill_blocks()
    # The owner's password is the block's first '...', the runtime user's the second.
    users = blocks["users"].replace("'...'", "'%s'" % OWNER_PASSWORD, 1)
    users = users.replace("'...'", "'%s'" % RUNTIME_PASSWORD, 1)
    check("'...'" not in users and RUNTIME_PASSWORD in users, "the users block has both users' passwords")
    servers, daemons = [], []
    try:
        # ---- the production server: the page's settings, users, schema.
        src = Server("src", blocks["config"])
        servers.append(src)
        src.start()
        src.sh("mariadb -e 'CREATE DATABASE creditd'\nmariadb <<'SQL'\n%s\nSQL" % users)
        eq(src.sh("mariadb -N -e 'SELECT @@log_bin, @@binlog_format, @@sync_binlog'").stdout.split(),
           ["1", "ROW", "1"], "the page's settings took")
        conf = write_config(src)
        p = ctl(conf, "migrate", "--sql-dir", os.path.join(ROOT, "sql"))
        check(p.returncode == 0, "creditctl migrate as the owner, binary log on: %s" % p.stderr)
        check(ctl(conf, "price", "import", os.path.join(ROOT, "etc", "prices.csv")).returncode == 0, "prices")
        admin = ctl(conf, "key", "create", "--scope", "admin").stdout.strip().splitlines()[-1]
        guard = ctl(conf, "key", "create", "--scope", "guard").stdout.strip().splitlines()[-1]
        cd = Creditd(src, conf)
        daemons.append(cd)

        # ---- before the nightly dump
        for acct in ("alice", "bob"):
            cd.ok(admin, "POST", "/v1/accounts", {"id": acct, "kind": "user"})
        cd.ok(admin, "POST", "/v1/accounts/alice/grants", {"amount_micros": 2000000, "source": "promo"})
        cd.ok(admin, "POST", "/v1/accounts/bob/debits", {"amount_micros": 500000, "reason": "drill"})
        for i in range(3):
            pair(cd, guard, "alice", "a-before-%d" % i)
        pair(cd, guard, "bob", "b-before")
        src.sh(page_paths(blocks["dump"]))
        at_dump = src.state()
        pair(cd, guard, "bob", "b-after-dump")
        # The cron'd copy runs: the replay spans two logs.
        src.sh(page_paths(blocks["ship"]).replace("/var/lib/mysql-binlog", src.binlog))

        # ---- after the dump, up to the point
        # carol's balance.low comes after the point: an outbox event id the restore must not give again.
        cd.ok(admin, "POST", "/v1/accounts", {"id": "carol", "kind": "user", "low_balance_micros": 9990000})
        cd.ok(admin, "POST", "/v1/accounts/bob/grants", {"amount_micros": 5000000, "source": "adjustment",
                                                         "description": "drill"})
        for i in range(3):
            pair(cd, guard, "alice", "a-after-%d" % i, output_tokens=100 + i)
        pair(cd, guard, "carol", "c-after")
        released = cd.ok(guard, "POST", "/v1/guard/authorize", {"account": "bob", "model": "gpt-4o",
                                                                 "input_tokens": 10, "request_id": "b-released"})
        cd.ok(guard, "POST", "/v1/guard/release", {"hold_id": released["hold_id"]})
        cd.ok(guard, "POST", "/v1/usage", {"account": "alice", "model": "gpt-4o", "input_tokens": 500,
                                           "output_tokens": 50, "request_id": "a-usage"})
        pending = cd.ok(guard, "POST", "/v1/guard/authorize", {"account": "bob", "model": "gpt-4o",
                                                                "input_tokens": 900, "request_id": "b-pending"})
        at_point = src.state()
        for t in ("journal", "holds", "accounts"):
            check(at_point[t] != at_dump[t], "%s moved after the dump (the replay has something to do)" % t)
        alice_id = int(src.sh("mariadb -N creditd -e \"SELECT id FROM accounts WHERE ext_id = 'alice'\"").stdout)

        # ---- the mistake, in a second of its own (for the restore by time), and calls after it
        last_good = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time()))
        wait_until(lambda: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time())) > last_good, timeout=2,
                   step=0.02)
        src.sh("mariadb creditd -e '%s'" % (BAD % alice_id))
        after = cd.ok(guard, "POST", "/v1/guard/authorize", {"account": "carol", "model": "gpt-4o",
                                                              "input_tokens": 10000, "request_id": "c-lost"})
        cd.ok(admin, "POST", "/v1/accounts/bob/grants", {"amount_micros": 7000000, "source": "promo"})
        p = ctl(conf, "verify")
        check(p.returncode == 1 and "account alice" in p.stdout, "verify finds the mistake: %s" % p.stdout)

        # ---- step 1: writes stopped, the logs shipped once more
        cd.stop()
        daemons.remove(cd)
        src.sh(page_paths(blocks["ship"]).replace("/var/lib/mysql-binlog", src.binlog))
        # ---- step 2: the dump's coordinates and the listing, on the backup host
        dump = sorted(f for f in os.listdir(_dir("backup")) if f.endswith(".sql.gz"))
        eq(len(dump), 1, "one dump written")
        coords = set_line(page_paths(blocks["coords"]), "DUMP", _dir("backup", dump[0]))
        src.sh(coords + "\n" + page_paths(blocks["list"]))
        with open(_dir("backup", "transactions.txt")) as f:
            listing = f.read().splitlines()
        bad = [line for line in listing if (BAD % alice_id) in line]
        eq(len(bad), 1, "the listing names the bad transaction once (%d lines)" % len(listing))
        log, position, day, clock = bad[0].split()[:4]
        before = listing[:listing.index(bad[0])]
        check(len(before) > 10, "the listing has the transactions before it: %d" % len(before))
        check("%s %s" % (day, clock) > last_good >= " ".join(before[-1].split()[2:4]),
              "the listing's times (local): the good ones up to %s, the bad one %s %s after it" % (last_good, day,
                                                                                                   clock))
        check(any(line.split()[0] != log for line in listing), "the listing spans more than one log")
        newest = sorted(f for f in os.listdir(_dir("backup", "binlog")) if re.fullmatch(r"mariadb-bin\.\d+", f))[-1]
        # ---- step 3: the next ids, from the damaged server
        src.sh(page_paths(blocks["next-ids"]))
        last_hold = int(src.sh("mariadb -N creditd -e 'SELECT MAX(id) FROM holds'").stdout)
        last_event = int(src.sh("mariadb -N creditd -e 'SELECT last_id FROM event_seq'").stdout)
        check(last_event > len(at_point["events"].splitlines()), "an outbox event after the point (%d)" % last_event)

        # ---- steps 4 and 5, once by position and once by time
        for name, stop, last in (("pos", "--stop-position=" + position, log),
                                 ("time", '"--stop-datetime=%s %s"' % (day, clock), newest)):
            dst = Server(name, blocks["config"])
            servers.append(dst)
            dst.start()
            dst.sh("mariadb <<'SQL'\n%s\nSQL" % users)
            restore = set_line(set_line(page_paths(blocks["restore"]), "STOP", stop), "LAST", last)
            dst.sh(coords + "\n" + restore)
            dconf = write_config(dst)
            out = dst.sh(page_paths(blocks["check"]), env={"CREDITD_CONFIG": dconf}).stdout
            check("applied" not in out, "migrate has nothing to do after the restore: %s" % out)
            check(re.search(r"(?m)^0 violations, 0 warnings$", out), "verify on the restore (%s): %s" % (name, out))
            got = dst.state()
            for t in TABLES:
                eq(got[t], at_point[t], "%s restored by %s: the rows at the point" % (t, name))
            eq(int(dst.sh("mariadb -N creditd -e 'SELECT last_id FROM event_seq'").stdout), last_event,
               "the outbox's ids go on from the damaged server's")
            if name == "pos":
                restored = dst
                restored_conf = dconf
            else:
                dst.stop()
                servers.remove(dst)

        # ---- the restored ledger serves: ids above the damaged server's, the lost hold unknown
        cd = Creditd(restored, restored_conf)
        daemons.append(cd)
        st, body = cd.call(guard, "POST", "/v1/guard/settle", {"hold_id": after["hold_id"], "input_tokens": 100,
                                                               "output_tokens": 10})
        eq((st, (body or {}).get("error", {}).get("code")), (404, "not_found"), "a hold made after the point")
        new = cd.ok(guard, "POST", "/v1/guard/authorize", {"account": "carol", "model": "gpt-4o",
                                                            "input_tokens": 100, "request_id": "c-new"})
        check(int(new["hold_id"].rsplit("_", 1)[1]) > last_hold,
              "a new hold's id %s is above the damaged server's last (%d)" % (new["hold_id"], last_hold))
        check(any(pending["hold_id"].rsplit("_", 1)[1] == line.split("\t")[0]
                  for line in restored.rows("holds").splitlines()), "the pending hold made before the point is back")
        print("    pitr drill: %d transactions listed since the dump, bad one at %s:%s, %.1f s"
              % (len(listing), log, position, time.time() - t0))
    finally:
        for d in daemons:
            d.stop()
        for s in servers:
            s.stop()
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(_dir(), ignore_errors=True)
