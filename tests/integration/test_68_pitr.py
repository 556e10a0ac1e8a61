"""test_68_pitr.py: docs/operations.md's point-in-time recovery, run as
the page writes it.

The stack's MariaDB is left alone (other tests and the bench rely on its
settings): the drill starts MariaDB servers of its own in the stack's
directory, each configured with the page's binary log settings, and runs
the page's blocks (those after a `<!-- drill: NAME -->` marker) in bash,
with only the paths, passwords and the point the page leaves to the
reader filled in. They run as root on one host, where a bare `mariadb`
(root's ~/.my.cnf) reaches the damaged server: the restore's blocks must
name the new server themselves, or they fail (a second CREATE DATABASE)
or change the damaged server, which is checked untouched. systemctl is
the drill's own (the units' states in files) and nginx in front of
creditd.socket is emulated: a request reaches the running creditd, or
starts one while the socket listens, or gets nginx's 503.

A creditd on the first server moves money (accounts, grants, debits,
guard pairs, a pending hold, a usage) before and after the nightly dump,
a DBA creates and drops a table from outside the database; then a DBA's
mistake (a DELETE of grants, which `creditctl verify` catches), and more
calls after it. The page's stop step must stop the socket too (a request
after the next ids were noted finds no creditd), its listing must show
the DBA's DROP, and its steps restore into a second fresh server up to
the bad transaction's position from the listing, and into a third up to
its time: each must hold the source's rows exactly as they were just
before the mistake (the replay past the dump included, nothing after the
point), `creditctl migrate` must have nothing to do and `creditctl
verify` find 0 violations on it (the config still naming the damaged
server), and the new dump is the restored server's. Served again by the
page's last step, creditd on the restored server hands out hold ids
above every id the damaged server gave (the next-ids step), and a hold
made after the point answers 404.
"""
import datetime
import gzip
import json
import os
import re
import shutil
import subprocess
import time

import stack
import lib
from lib import ENV, Fail, check, eq, wait_until

ROOT = os.path.dirname(ENV["CREDITCTL"])
DOC = os.path.join(ROOT, "docs", "operations.md")
OWNER_PASSWORD = "owner-pitr-drill-pw"
RUNTIME_PASSWORD = "runtime-pitr-drill-pw"
# The rows compared between the source at the point and each restore.
TABLES = ("accounts", "grants", "holds", "journal", "usage_records", "events")
BAD = "DELETE FROM grants WHERE account_id = %d"
# A DBA's table, created and dropped from outside the database before the point.
SCRATCH = "dba_scratch"
UNITS = ("creditd.socket", "creditd.service", "creditd-reconcile.timer")
# The drill's systemctl: each unit's state in a file of $DRILL_UNITS, every call logged there.
SYSTEMCTL = r"""#!/bin/bash
echo "$*" >> "$DRILL_UNITS/calls"
cmd=$1; shift
quiet=0 rc=0
for u in "$@"; do
  case $u in -q|--quiet) quiet=1; continue;; -*) continue;; esac
  f=$DRILL_UNITS/$u
  if [ ! -f "$f" ]; then echo "Unit $u not loaded." >&2; rc=5; continue; fi
  case $cmd in
    stop) echo inactive > "$f";;
    start) echo active > "$f";;
    is-active) s=$(cat "$f"); [ $quiet = 1 ] || echo "$s"; [ "$s" = active ] || rc=3;;
    is-enabled) [ $quiet = 1 ] || echo enabled;;
    *) echo "systemctl $cmd: not in the drill" >&2; exit 1;;
  esac
done
exit $rc
"""


def _dir(*parts):
    return os.path.join(ENV["CREDITD_STACK_DIR"], "pitr", *parts)


# The host's /etc/creditd/creditd.conf (the damaged server's until the page's step 5 says otherwise).
CONF = _dir("creditd.conf")
# root's home on the host: its ~/.my.cnf reaches the damaged server.
HOME = _dir("root")


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
    want = {"users", "config", "dump", "ship", "stop", "settings", "list", "next-ids", "restore", "check", "serve"}
    eq(sorted(want - set(blocks)), [], "operations.md's drill blocks")
    return blocks


def set_line(script, var, value):
    """script with its one `VAR=...` line (not a comment) set to value."""
    out, n = re.subn(r"(?m)^%s=.*$" % var, lambda _m: "%s=%s" % (var, value), script)
    eq(n, 1, "one %s= line in the block" % var)
    return out


class Units:
    """The host's systemd units, as the drill's systemctl keeps them."""

    def __init__(self):
        self.dir = _dir("units")
        os.makedirs(self.dir)
        os.makedirs(_dir("bin"))
        with open(os.open(_dir("bin", "systemctl"), os.O_WRONLY | os.O_CREAT, 0o755), "w") as f:
            f.write(SYSTEMCTL)
        for u in UNITS:
            self.set(u, "active")

    def state(self, unit):
        with open(os.path.join(self.dir, unit)) as f:
            return f.read().strip()

    def set(self, unit, state):
        with open(os.path.join(self.dir, unit), "w") as f:
            f.write(state + "\n")

    def calls(self, verb):
        """The units named by each `systemctl VERB` call, in order."""
        try:
            with open(os.path.join(self.dir, "calls")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [[a for a in line.split()[1:] if not a.startswith("-")] for line in lines
                if line.split()[:1] == [verb]]


class Server:
    """A private mariadbd with the page's binary log settings. The drill
    reaches its root through the server's own option file; the page's
    blocks reach it only by naming it."""

    def __init__(self, name, config):
        self.name = name
        self.base = _dir(name)
        self.sock = _dir(name + ".sock")
        self.binlog = os.path.join(self.base, "binlog")
        self.cnf = os.path.join(self.base, "my.cnf")
        self.proc = None
        # Temp tables in a dir of its own (devtools/stack.sh's mariadb_start says why).
        self.tmp = os.path.join(self.base, "db-tmp")
        for d in (self.base, self.binlog, self.tmp):
            os.makedirs(d, exist_ok=True)
        with open(self.cnf, "w") as f:
            f.write("[mysqld]\ndatadir=%s/db\ntmpdir=%s\nsocket=%s\npid-file=%s/mysql.pid\nlog-error=%s/mysql.err\n"
                    "skip-networking\nuser=root\ninnodb_buffer_pool_size=64M\n" % (self.base, self.tmp, self.sock,
                                                                                  self.base, self.base))
            f.write(config.replace("[mysqld]\n", "").replace("/var/lib/mysql-binlog", self.binlog) + "\n")
            f.write("[client]\nsocket=%s\nuser=root\n" % self.sock)

    def start(self):
        p = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + os.path.join(self.base, "db"),
                            "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, TMPDIR=self.tmp))
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

    def sql(self, sql, db=None):
        """sql run as this server's root (no default database unless db),
        its result as tab-separated lines; binary columns as backslash escapes."""
        p = subprocess.run(["mariadb", "--defaults-file=" + self.cnf, "-N", "-B"] + ([db] if db else []),
                           input=sql, capture_output=True, text=True, errors="backslashreplace", timeout=60)
        check(p.returncode == 0, "on %s: %s\n%s" % (self.name, sql, p.stderr[-1500:]))
        return p.stdout

    def rows(self, table):
        return self.sql("SELECT * FROM %s ORDER BY id" % table, "creditd")

    def state(self):
        return {t: self.rows(t) for t in TABLES}


def on_host(script, env=None):
    """Runs script in bash (errexit, pipefail) as root on the host, as the
    page's reader would: PATH with the drill's systemctl and creditctl
    first, HOME whose ~/.my.cnf reaches the damaged server, the host's
    creditd.conf. Binary columns come out as backslash escapes."""
    e = {"PATH": "%s:%s:%s" % (_dir("bin"), ROOT, os.environ["PATH"]), "HOME": HOME, "LC_ALL": "C",
         "CREDITD_CONFIG": CONF, "DRILL_UNITS": _dir("units")}
    e.update(env or {})
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=e, capture_output=True, text=True,
                       errors="backslashreplace", timeout=120, cwd=_dir())
    if p.returncode != 0:
        raise Fail("on the host, exit %d:\n%s\n---- stdout\n%s\n---- stderr\n%s"
                   % (p.returncode, script, p.stdout[-1500:], p.stderr[-1500:]))
    return p


def page_paths(script):
    """The page's paths as the drill's: the backup host's /backup (and its
    rsync destination) under the drill's directory, cron's files, the
    owner's password file."""
    script = script.replace("backup-host:/backup/", "/backup/")
    script = script.replace("/backup", _dir("backup"))
    script = script.replace("/etc/crontab", _dir("cron", "crontab")).replace("/etc/cron.d", _dir("cron", "cron.d"))
    script = script.replace("/var/spool/cron/crontabs", _dir("cron", "crontabs"))
    script = script.replace("/usr/share/creditd/sql", os.path.join(ROOT, "sql"))
    return script.replace("/etc/creditd/migrate.pw", _dir("owner.pw"))


def write_settings(block, dump, restore_socket):
    """The page's settings block, filled in, written where its first line
    names (the file the other blocks read)."""
    text = set_line(set_line(page_paths(block), "DUMP", dump), "RESTORE_SOCKET", restore_socket)
    m = re.match(r"# (/\S+)\n", text)
    check(m is not None, "the settings block names its file on its first line: %r" % text[:80])
    with open(m.group(1), "w") as f:
        f.write(text + "\n")
    return m.group(1)


def write_config(server):
    """The host's creditd.conf, its [database] the server's."""
    text = ("[server]\nlog = %s\nsweep_interval_seconds = 3600\nbase_path = /\n"
            "[database]\nsocket = %s\nname = creditd\nuser = creditd\npassword = %s\n"
            "migrate_user = creditd_owner\nmigrate_password = %s\n"
            "[ledger]\ncurrency = EUR\nsignup_bonus_micros = 10000000\n"
            % (_dir("creditd-%s.log" % server.name), server.sock, RUNTIME_PASSWORD, OWNER_PASSWORD))
    with open(os.open(CONF, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)


class Creditd:
    """A creditd on the host's config, spoken to over FastCGI (cgi-fcgi)."""

    def __init__(self):
        self.sock = _dir("creditd.sock")
        self.name = "pitr_creditd"
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = stack.start(self.name, [os.path.join(ROOT, "creditd"), "-c", CONF, "--listen",
                                            "unix:" + self.sock])
        check(wait_until(lambda: os.path.exists(self.sock), timeout=10), "creditd listening")

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

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)
        stack.forget(self.name)


class Web:
    """nginx in front of creditd.socket, by the units' states: a request
    goes to the running creditd, or starts one (socket activation) while
    creditd.socket listens; with neither, nginx answers 503 itself
    (creditd-errors.conf) and nothing is written."""

    def __init__(self, units):
        self.units = units
        self.cd = None

    def sync(self):
        """creditd runs while creditd.service is active; the service
        Requires= the socket, so stopping the socket stops it too."""
        if self.units.state("creditd.socket") != "active":
            self.units.set("creditd.service", "inactive")
        if self.units.state("creditd.service") != "active" and self.cd is not None:
            self.cd.stop()
            self.cd = None

    def call(self, key, method, path, body=None):
        self.sync()
        if self.cd is None:
            if self.units.state("creditd.socket") != "active":
                return 503, None
            self.cd = Creditd()
            self.units.set("creditd.service", "active")
        return self.cd.call(key, method, path, body)

    def ok(self, key, method, path, body=None, status=(200, 201)):
        st, out = self.call(key, method, path, body)
        check(st in status, "%s %s: %d %s" % (method, path, st, out))
        return out

    def stop(self):
        if self.cd is not None:
            self.cd.stop()
            self.cd = None


def pair(web, guard, account, request_id, output_tokens=300):
    hold = web.ok(guard, "POST", "/v1/guard/authorize", {"account": account, "model": "gpt-4o",
                                                          "input_tokens": 1200, "max_output_tokens": 800,
                                                          "request_id": request_id})
    web.ok(guard, "POST", "/v1/guard/settle", {"hold_id": hold["hold_id"], "input_tokens": 1200,
                                               "output_tokens": output_tokens})
    return hold["hold_id"]


def listed_time(line):
    """The time of a line of the page's listing (log, position, day, time,
    statement), read as a time (local, as listed), never compared as
    text: mariadb-binlog writes an hour before 10 as " 1", and as text
    "1:02:45" comes after "01:02:46" and "10:00:00"."""
    day, clock = line.split()[2:4]
    return datetime.datetime.strptime("%s %s" % (day, clock), "%Y-%m-%d %H:%M:%S")


# mariadb-binlog's output (--base64-output=decode-rows) at an hour before
# 10 (its header lines pad the hour with a space): a DBA's DDL at
# 01:02:44, the bad DELETE at 01:02:45, a transaction at 10:00:00 after it.
BINLOG_EARLY_HOURS = """/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/;
DELIMITER /*!*/;
# at 4
#261126  1:02:40 server id 1  end_log_pos 256 CRC32 0x590ec2e7 \tStart: binlog v 4, server v 10.11.19-MariaDB-log
# at 389
#261126  1:02:44 server id 1  end_log_pos 431 CRC32 0x98bfbdd2 \tGTID 0-1-166 ddl
/*M!100001 SET @@session.gtid_seq_no=166*//*!*/;
# at 431
#261126  1:02:44 server id 1  end_log_pos 556 CRC32 0xcf2b1d1e \tQuery\tthread_id=38\texec_time=0\terror_code=0
SET TIMESTAMP=1795654964/*!*/;
CREATE TABLE creditd.dba_scratch (id INT PRIMARY KEY)
/*!*/;
# at 556
#261126  1:02:45 server id 1  end_log_pos 598 CRC32 0x5b1f1490 \tGTID 0-1-183 trans
/*M!100001 SET @@session.gtid_seq_no=183*//*!*/;
START TRANSACTION
/*!*/;
# at 598
# at 667
#261126  1:02:45 server id 1  end_log_pos 667 CRC32 0xd77cc202 \tAnnotate_rows:
#Q> DELETE FROM grants WHERE account_id = 1
#261126  1:02:45 server id 1  end_log_pos 736 CRC32 0x0bb05f76 \tTable_map: `creditd`.`grants` mapped to number 63
# at 736
#261126  1:02:45 server id 1  end_log_pos 886 CRC32 0x1a9c7a39 \tDelete_rows: table id 63 flags: STMT_END_F
# at 886
#261126  1:02:45 server id 1  end_log_pos 917 CRC32 0x16361927 \tXid = 3106
COMMIT/*!*/;
# at 917
#261126 10:00:00 server id 1  end_log_pos 959 CRC32 0x4c9e2bfb \tGTID 0-1-184 trans
START TRANSACTION
/*!*/;
# at 959
# at 1100
#261126 10:00:00 server id 1  end_log_pos 1100 CRC32 0xb7ecb3ed \tAnnotate_rows:
#Q> INSERT INTO journal (account_id, amount_micros) VALUES (1, 5)
COMMIT/*!*/;
"""


def test_the_listing_reads_an_hour_before_ten():
    """The page's listing block on mariadb-binlog's output of an early
    hour (whatever the hour the suite runs at): its times are written
    YYYY-MM-DD HH:MM:SS, so they compare and sort as text the way they
    do as times (what a reader looking around the moment of the mistake
    does, and --stop-datetime takes them as they are), and the drill's
    reading of a line is a time, for a listing padded or not."""
    d = os.path.join(ENV["CREDITD_STACK_DIR"], "pitr-listing")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "binlog"))
    os.makedirs(os.path.join(d, "bin"))
    with open(os.path.join(d, "sample.txt"), "w") as f:
        f.write(BINLOG_EARLY_HOURS)
    with open(os.open(os.path.join(d, "bin", "mariadb-binlog"), os.O_WRONLY | os.O_CREAT, 0o755), "w") as f:
        f.write("#!/bin/sh\nexec cat %s/sample.txt\n" % d)
    with open(os.path.join(d, "pitr.env"), "w") as f:
        f.write("FIRST=mariadb-bin.000001\nSTART_POS=4\nLOGS=mariadb-bin.000001\n")
    script = drill_blocks()["list"].replace("/backup", d)
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60,
                       env={"PATH": "%s:%s" % (os.path.join(d, "bin"), os.environ["PATH"]), "LC_ALL": "C"}, cwd=d)
    eq(p.returncode, 0, "the listing block: %s" % p.stderr)
    with open(os.path.join(d, "transactions.txt")) as f:
        listing = f.read().splitlines()
    eq([" ".join(line.split()[:4]) for line in listing],
       ["mariadb-bin.000001 389 2026-11-26 01:02:44", "mariadb-bin.000001 556 2026-11-26 01:02:45",
        "mariadb-bin.000001 917 2026-11-26 10:00:00"], "the listing's log, position and time (an hour padded)")
    check(listing[1].endswith(" DELETE FROM grants WHERE account_id = 1"), "the bad one's line: %r" % listing[1])
    times = [listed_time(line) for line in listing]
    eq(times, [datetime.datetime(2026, 11, 26, 1, 2, 44), datetime.datetime(2026, 11, 26, 1, 2, 45),
               datetime.datetime(2026, 11, 26, 10, 0, 0)], "the listing's times read as times")
    eq(sorted(listing, key=lambda line: line.split()[2:4]), listing, "as text in the order of the times")
    # A line listed with the log's own hour, unpadded, is read as the same time.
    eq(listed_time("mariadb-bin.000001 556 2026-11-26 1:02:45 DELETE FROM grants"), times[1], "an unpadded hour")
    check(listed_time("mariadb-bin.000001 556 2026-11-26 1:02:45 x") > listed_time("x 1 2026-11-26 01:02:44 y"),
          "1:02:45 after 01:02:44")
    shutil.rmtree(d, ignore_errors=True)


def ctl(*args):
    p = subprocess.run([ENV["CREDITCTL"], "-c", CONF] + list(args), capture_output=True, text=True, timeout=60)
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
    # cron's lines of the background work, which the stop step must show
    cron_lines = {"cron.d/creditd": "*/15 * * * * creditd /usr/bin/creditctl collect",
                  "crontabs/alice": "* * * * * /home/alice/creditd/bin/creditctl -c /home/alice/creditd.conf sweep"}
    for rel, line in cron_lines.items():
        os.makedirs(os.path.dirname(_dir("cron", rel)), exist_ok=True)
        with open(_dir("cron", rel), "w") as f:
            f.write(line + "\n")
    units = Units()
    web = Web(units)
    servers = []
    try:
        # ---- the production server: the page's settings, users, schema; root's bare `mariadb` reaches it.
        src = Server("src", blocks["config"])
        servers.append(src)
        src.start()
        os.makedirs(HOME)
        with open(os.path.join(HOME, ".my.cnf"), "w") as f:
            f.write("[client]\nsocket=%s\nuser=root\n" % src.sock)
        on_host("mariadb -e 'CREATE DATABASE creditd'\nmariadb <<'SQL'\n%s\nSQL" % users)
        eq(src.sql("SELECT @@log_bin, @@binlog_format, @@sync_binlog").split(), ["1", "ROW", "1"],
           "the page's settings took")
        write_config(src)
        p = ctl("migrate", "--sql-dir", os.path.join(ROOT, "sql"))
        check(p.returncode == 0, "creditctl migrate as the owner, binary log on: %s" % p.stderr)
        check(ctl("price", "import", os.path.join(ROOT, "etc", "prices.csv")).returncode == 0, "prices")
        admin = ctl("key", "create", "--scope", "admin").stdout.strip().splitlines()[-1]
        guard = ctl("key", "create", "--scope", "guard").stdout.strip().splitlines()[-1]

        # ---- before the nightly dump
        for acct in ("alice", "bob"):
            web.ok(admin, "POST", "/v1/accounts", {"id": acct, "kind": "user"})
        web.ok(admin, "POST", "/v1/accounts/alice/grants", {"amount_micros": 2000000, "source": "promo"})
        web.ok(admin, "POST", "/v1/accounts/bob/debits", {"amount_micros": 500000, "reason": "drill"})
        for i in range(3):
            pair(web, guard, "alice", "a-before-%d" % i)
        pair(web, guard, "bob", "b-before")
        on_host(page_paths(blocks["dump"]))
        at_dump = src.state()
        pair(web, guard, "bob", "b-after-dump")
        # The cron'd copy runs: the replay spans two logs.
        on_host(page_paths(blocks["ship"]).replace("/var/lib/mysql-binlog", src.binlog))

        # ---- after the dump, up to the point
        # A DBA's table, made and dropped with no default database: the listing must show both.
        src.sql("CREATE TABLE creditd.%s (id INT PRIMARY KEY)" % SCRATCH)
        src.sql("DROP TABLE creditd.%s" % SCRATCH)
        # carol's balance.low comes after the point (c-lost's settle takes her balance, not what a
        # hold leaves available, under the threshold; c-after's does not): an outbox event id the
        # restore must not give again.
        web.ok(admin, "POST", "/v1/accounts", {"id": "carol", "kind": "user", "low_balance_micros": 9980000})
        web.ok(admin, "POST", "/v1/accounts/bob/grants", {"amount_micros": 5000000, "source": "adjustment",
                                                          "description": "drill"})
        for i in range(3):
            pair(web, guard, "alice", "a-after-%d" % i, output_tokens=100 + i)
        pair(web, guard, "carol", "c-after")
        released = web.ok(guard, "POST", "/v1/guard/authorize", {"account": "bob", "model": "gpt-4o",
                                                                  "input_tokens": 10, "request_id": "b-released"})
        web.ok(guard, "POST", "/v1/guard/release", {"hold_id": released["hold_id"]})
        web.ok(guard, "POST", "/v1/usage", {"account": "alice", "model": "gpt-4o", "input_tokens": 500,
                                            "output_tokens": 50, "request_id": "a-usage"})
        pending = web.ok(guard, "POST", "/v1/guard/authorize", {"account": "bob", "model": "gpt-4o",
                                                                 "input_tokens": 900, "request_id": "b-pending"})
        at_point = src.state()
        for t in ("journal", "holds", "accounts"):
            check(at_point[t] != at_dump[t], "%s moved after the dump (the replay has something to do)" % t)
        alice_id = int(src.sql("SELECT id FROM accounts WHERE ext_id = 'alice'", "creditd"))

        # ---- the mistake, in a second of its own (for the restore by time), and calls after it
        last_good = datetime.datetime.fromtimestamp(int(time.time()))     # local, as the listing's times
        wait_until(lambda: datetime.datetime.fromtimestamp(int(time.time())) > last_good, timeout=2, step=0.02)
        src.sql(BAD % alice_id, "creditd")
        after = web.ok(guard, "POST", "/v1/guard/authorize", {"account": "carol", "model": "gpt-4o",
                                                               "input_tokens": 10000, "request_id": "c-lost"})
        web.ok(guard, "POST", "/v1/guard/settle", {"hold_id": after["hold_id"], "input_tokens": 10000,
                                                   "output_tokens": 10})
        web.ok(admin, "POST", "/v1/accounts/bob/grants", {"amount_micros": 7000000, "source": "promo"})
        p = ctl("verify")
        check(p.returncode == 1 and "account alice" in p.stdout, "verify finds the mistake: %s" % p.stdout)

        # ---- step 1: writes stopped (the socket, the service, the timer; cron's lines shown), the logs shipped
        out = on_host(page_paths(blocks["stop"])).stdout
        web.sync()
        check(web.cd is None, "creditd stopped by the stop step")
        for rel, line in cron_lines.items():
            check(line in out, "the stop step shows cron's %s line: %s" % (rel, out))
        on_host(page_paths(blocks["ship"]).replace("/var/lib/mysql-binlog", src.binlog))
        # ---- step 2: the settings, the listing, on the backup host
        dump = sorted(f for f in os.listdir(_dir("backup")) if f.endswith(".sql.gz"))
        eq(len(dump), 1, "one dump written")
        dump = _dir("backup", dump[0])
        env_file = write_settings(blocks["settings"], dump, "/nonexistent/restore.sock")
        check(". %s\n" % env_file in page_paths(blocks["list"]), "the listing reads the settings' file")
        on_host(page_paths(blocks["list"]))
        with open(_dir("backup", "transactions.txt")) as f:
            listing = f.read().splitlines()
        bad = [line for line in listing if (BAD % alice_id) in line]
        eq(len(bad), 1, "the listing names the bad transaction once (%d lines)" % len(listing))
        for verb in ("CREATE TABLE", "DROP TABLE"):
            check(any(verb in line and SCRATCH in line for line in listing),
                  "the listing shows the DBA's %s %s, run from no database" % (verb, SCRATCH))
        log, position, day, clock = bad[0].split()[:4]
        before = listing[:listing.index(bad[0])]
        check(len(before) > 10, "the listing has the transactions before it: %d" % len(before))
        check(listed_time(bad[0]) > last_good >= listed_time(before[-1]),
              "the listing's times (local): the good ones up to %s, the bad one %s %s after it" % (last_good, day,
                                                                                                   clock))
        check(any(line.split()[0] != log for line in listing), "the listing spans more than one log")
        newest = sorted(f for f in os.listdir(_dir("backup", "binlog")) if re.fullmatch(r"mariadb-bin\.\d+", f))[-1]
        # ---- step 3: the next ids, from the damaged server
        on_host(page_paths(blocks["next-ids"]))
        # The app goes on calling: with the socket stopped nginx answers 503 and nothing is written.
        st, body = web.call(guard, "POST", "/v1/guard/authorize", {"account": "carol", "model": "gpt-4o",
                                                                   "input_tokens": 10, "request_id": "c-late"})
        eq(st, 503, "a request after the next ids were noted (%s): the stop step left creditd.socket listening"
           % body)
        stopped = {u for call in units.calls("stop") for u in call}
        eq(sorted(set(UNITS) - stopped), [], "units the stop step leaves running")
        last_hold = int(src.sql("SELECT MAX(id) FROM holds", "creditd"))
        last_event = int(src.sql("SELECT last_id FROM event_seq", "creditd"))
        check(last_event > len(at_point["events"].splitlines()), "an outbox event after the point (%d)" % last_event)
        evidence = src.state()

        # ---- steps 4 and 5, once by position and once by time; the host's creditd.conf still the damaged server's
        for name, stop, last in (("pos", "--stop-position=" + position, log),
                                 ("time", '"--stop-datetime=%s %s"' % (day, clock), newest)):
            dst = Server(name, blocks["config"])
            servers.append(dst)
            dst.start()
            dst.sql(users)
            write_settings(blocks["settings"], dump, dst.sock)
            restore = set_line(set_line(page_paths(blocks["restore"]), "STOP", stop), "LAST", last)
            on_host(restore)
            out = on_host(page_paths(blocks["check"])).stdout
            check("applied" not in out, "migrate has nothing to do after the restore: %s" % out)
            check(re.search(r"(?m)^0 violations, 0 warnings$", out), "verify on the restore (%s): %s" % (name, out))
            got = dst.state()
            for t in TABLES:
                eq(got[t], at_point[t], "%s restored by %s: the rows at the point" % (t, name))
            eq(int(dst.sql("SELECT last_id FROM event_seq", "creditd")), last_event,
               "the outbox's ids go on from the damaged server's")
            new_dumps = sorted(f for f in os.listdir(_dir("backup")) if f.endswith("-restored.sql.gz"))
            eq(len(new_dumps), 1, "the new server's dump")
            with gzip.open(_dir("backup", new_dumps[0])) as f:
                text = f.read()
            check(b"CHANGE MASTER TO" in text and b"a-usage" in text and b"c-lost" not in text,
                  "the new dump is the restored server's (its log position, the replayed usage, not the lost hold)")
            os.unlink(_dir("backup", new_dumps[0]))
            check(src.state() == evidence, "the damaged server untouched by the restore by %s" % name)
            if name == "pos":
                restored = dst
            else:
                dst.stop()
                servers.remove(dst)

        # ---- served again: creditd.conf names the restored server, the page starts the socket and the timer
        write_config(restored)
        on_host(page_paths(blocks["serve"]))
        eq([units.state(u) for u in ("creditd.socket", "creditd-reconcile.timer")], ["active", "active"],
           "creditd.socket and the reconcile timer after the serve step")
        # ids above the damaged server's, the lost hold unknown
        st, body = web.call(guard, "POST", "/v1/guard/settle", {"hold_id": after["hold_id"], "input_tokens": 100,
                                                                "output_tokens": 10})
        eq((st, (body or {}).get("error", {}).get("code")), (404, "not_found"), "a hold made after the point")
        new = web.ok(guard, "POST", "/v1/guard/authorize", {"account": "carol", "model": "gpt-4o",
                                                             "input_tokens": 100, "request_id": "c-new"})
        keys = [line.split("\t") for line in restored.sql(
            "SELECT name, value FROM settings WHERE name LIKE 'hold_id_key_%'", "creditd").splitlines()]
        check(lib.hold_parts(new["hold_id"], keys)[1] > last_hold,
              "a new hold's id %s is above the damaged server's last (%d)" % (new["hold_id"], last_hold))
        check(any(str(lib.hold_parts(pending["hold_id"], keys)[1]) == line.split("\t")[0]
                  for line in restored.rows("holds").splitlines()), "the pending hold made before the point is back")
        print("    pitr drill: %d transactions listed since the dump, bad one at %s:%s, %.1f s"
              % (len(listing), log, position, time.time() - t0))
    finally:
        web.stop()
        for s in servers:
            s.stop()
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(_dir(), ignore_errors=True)
