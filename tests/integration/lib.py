"""lib.py: what every integration test uses to reach the private stack.

The stack (MariaDB, creditd behind nginx and Apache, a Stripe stand-in) is
started by ./dev; its coordinates come from the stack.env file it writes.
Everything here talks to real servers: HTTP through nginx or Apache, SQL
through libmariadb (python3-mysqldb, as the mariadb client does), operator
commands through creditctl.
"""
import http.client
import json
import os
import re
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import MySQLdb
from MySQLdb.constants.CLIENT import MULTI_RESULTS, MULTI_STATEMENTS

ENV = {}


class Fail(AssertionError):
    pass


def load_env(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                ENV[k] = v
    os.environ["CREDITD_CONFIG"] = ENV["CREDITD_CONFIG"]
    # What a test starts (creditd again, creditctl) reads the stack's test
    # clock as the stack's creditd does: a lane's runner (run.py, lanes.py)
    # has it from here, not from ./dev's environment.
    if ENV.get("CREDITD_TEST_CLOCK_FILE"):
        os.environ["CREDITD_TEST_CLOCK_FILE"] = ENV["CREDITD_TEST_CLOCK_FILE"]


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def eq(got, want, msg=""):
    if got != want:
        raise Fail("%s: got %r, want %r" % (msg or "values differ", got, want))


def key(name):
    """name: admin|guard|read|app -> the stack's key; anything else is used as is."""
    return {"admin": ENV.get("CREDITD_ADMIN_KEY"), "guard": ENV.get("CREDITD_GUARD_KEY"),
            "read": ENV.get("CREDITD_READ_KEY"), "app": ENV.get("CREDITD_APP_KEY")}.get(name, name)


_local = threading.local()


def _conn(base):
    u = urllib.parse.urlsplit(base)
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    c = pool.get(u.netloc)
    if c is None:
        c = pool[u.netloc] = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    return c, u.path.rstrip("/")


class Resp:
    def __init__(self, status, body, headers):
        self.status = status
        self.raw = body
        self.headers = headers
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.json = None

    @property
    def err(self):
        return (self.json or {}).get("error") or {}

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def api(method, path, body=None, auth="admin", headers=None, base=None, raw=None):
    """One HTTP request through nginx (or `base`). body: a dict/list sent as
    JSON; raw: bytes sent as they are. auth: admin|guard|read|app|None|a key."""
    base = base or ENV["CREDITD_URL"]
    h = {"Content-Type": "application/json"}
    if auth is not None:
        h["Authorization"] = "Bearer " + key(auth)
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    for attempt in range(2):
        c, prefix = _conn(base)
        try:
            c.request(method, prefix + path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            resp = Resp(r.status, payload, {k.lower(): v for k, v in r.getheaders()})
        except (http.client.HTTPException, ConnectionError, OSError):
            c.close()
            _local.pool.pop(urllib.parse.urlsplit(base).netloc, None)
            if attempt == 1:
                raise
            continue
        # For docs/openapi.yaml (test_99_openapi.py validates these): every
        # answer is appended as one JSON line to $CREDITD_OPENAPI_RECORD,
        # else to <stack dir>/openapi-record.jsonl. One write per line.
        record = os.environ.get("CREDITD_OPENAPI_RECORD") or (
            os.path.join(ENV["CREDITD_STACK_DIR"], "openapi-record.jsonl") if ENV.get("CREDITD_STACK_DIR") else None)
        if record:
            # "stripe": an answer of the stack's Stripe stand-in (lanes
            # record side by side, each with its own).
            line = json.dumps({"base": base, "stripe": base == ENV.get("CREDITD_STRIPE_API_BASE"),
                               "method": method, "path": path.split("?", 1)[0],
                               "status": resp.status, "content_type": resp.headers.get("content-type"),
                               "body": resp.json}) + "\n"
            fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        return resp


def uid(prefix="acct"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def new_account(prefix="acct", **fields):
    """Creates an account (signup bonus 10 EUR) and returns its id."""
    body = {"id": uid(prefix), "kind": "user"}
    body.update(fields)
    r = api("POST", "/v1/accounts", body)
    check(r.status in (200, 201), "account create: %r" % r)
    return body["id"]


def account(acct_id):
    r = api("GET", "/v1/accounts/" + urllib.parse.quote(acct_id, safe=""), auth="read")
    check(r.status == 200, "account get: %r" % r)
    return r.json


def creditctl(*args, check_rc=True):
    p = subprocess.run([ENV["CREDITCTL"], "-c", ENV["CREDITD_CONFIG"]] + list(args),
                       capture_output=True, text=True, timeout=120)
    if check_rc and p.returncode != 0:
        raise Fail("creditctl %s: exit %d: %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def verify():
    p = creditctl("verify", check_rc=False)
    check(p.returncode == 0, "creditctl verify found violations:\n" + p.stdout + p.stderr)


def verify_sees(broken, fix, name):
    """creditctl verify on a ledger broken on purpose by the statement
    broken fails, naming the check name; fix mends it, whatever happened."""
    sql(broken)
    try:
        p = creditctl("verify", check_rc=False)
        check(p.returncode != 0, "verify sees: " + name)
        check(name in p.stdout + p.stderr, "named %r: %s" % (name, p.stdout + p.stderr))
    finally:
        sql(fix)


def _sql_text(v):
    """A value as `mariadb -N -B` prints it: NULL as NULL, and the batch
    mode's escapes of a backslash, NUL, tab and newline."""
    if v is None:
        return "NULL"
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v.replace("\\", "\\\\").replace("\0", "\\0").replace("\t", "\\t").replace("\n", "\\n")


def my_cnf():
    """The stack's MariaDB client options (socket, root user)."""
    return os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")


def sql_client(statement):
    """Runs SQL as root through the mariadb client itself (`-N -B -e`),
    each row a line of its output split on tabs: what sql's rows are held
    to, and its way for a text with the client's own DELIMITER command.
    Only newlines end a row (a binary value may hold other line breaks,
    which the client does not escape); bytes that are not UTF-8 are
    replaced, as sql does."""
    p = subprocess.run(["mariadb", "--defaults-file=" + my_cnf(), "-N", "-B", "creditd", "-e", statement],
                       capture_output=True, text=True, errors="replace", timeout=60)
    if p.returncode != 0:
        raise Fail("sql failed: %s" % p.stderr)
    return [line.split("\t") for line in p.stdout.split("\n")[:-1]]


def sql(statement):
    """Runs SQL as root on the stack's MariaDB; returns rows (lists of str).

    The rows are what `mariadb -N -B creditd -e STATEMENT` prints, split
    on its tabs (sql_client): each value the server's own text (no
    conversion), a new session each call (autocommit on, the client's utf8
    as the mariadb client has it), every result set's rows in order, the
    first error a Fail. It is asked in this process through libmariadb
    (python3-mysqldb, reading the same my.cnf): the client's process cost
    about 27 ms of CPU a call here, and the suite makes thousands. A text
    with the client's own DELIMITER command goes to the client, which
    alone knows it."""
    if re.search(r"^\s*DELIMITER\b", statement, re.M | re.I):
        return sql_client(statement)
    return sql_on(my_cnf(), statement)


def sql_on(cnf, statement):
    """sql's rows, asked of the server the client options file cnf names
    (lanes.py asks each lane's stack, outside any test)."""
    conn = None
    try:
        conn = MySQLdb.connect(read_default_file=cnf, db="creditd",
                               conv={}, charset="utf8", autocommit=True, client_flag=MULTI_STATEMENTS | MULTI_RESULTS,
                               connect_timeout=60, read_timeout=60, write_timeout=60)
        cur = conn.cursor()
        cur.execute(statement)
        rows = []
        while True:
            if cur.description is not None:
                rows.extend([_sql_text(v) for v in row] for row in cur.fetchall())
            if cur.nextset() is None:
                return rows
    except MySQLdb.Error as e:
        raise Fail("sql failed: %s" % (e,))
    finally:
        if conn is not None:
            conn.close()


SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sql")


def procedure_from(migration, name):
    """The stored procedure name made again as sql/<migration> defines it,
    by root, for its definer (the schema's owner, as creditctl migrate made
    it): what a database not migrated past it runs."""
    user, host = sql("SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'creditd' "
                     "AND ROUTINE_NAME = '%s'" % name)[0][0].rsplit("@", 1)
    with open(os.path.join(SQL_DIR, migration)) as f:
        text = f.read()
    body = text[text.index("CREATE OR REPLACE PROCEDURE %s(" % name):]
    body = body[:body.index("\nEND;") + len("\nEND")]
    body = body.replace("CREATE OR REPLACE PROCEDURE", "CREATE OR REPLACE DEFINER='%s'@'%s' PROCEDURE" % (user, host), 1)
    p = subprocess.run(["mariadb", "--defaults-file=" + my_cnf(), "creditd"], input="DELIMITER //\n%s//\n" % body,
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "%s of %s: %s" % (name, migration, p.stderr))


def _hold_key(rows=None):
    """The hold ids' AES-128 key as creditd reads it (src/store/store_tx.c,
    sql/044), from the stack's database or the rows given (name, value)."""
    v = dict((name, int(value)) for name, value in
             rows or sql("SELECT name, value FROM settings WHERE name LIKE 'hold_id_key_%'"))
    ks = [v["hold_id_key_%d" % n] for n in (1, 2, 3)]
    return bytes((ks[i // 7] >> (8 * (i % 7))) & 0xff for i in range(16)).hex()


def _aes(hexblock, decrypt, key_rows=None):
    p = subprocess.run(["openssl", "enc", "-aes-128-ecb", "-nopad", "-K", _hold_key(key_rows)] + (["-d"] if decrypt else []),
                       input=bytes.fromhex(hexblock), capture_output=True, timeout=10)
    if p.returncode != 0:
        raise Fail("openssl: %s" % p.stderr.decode())
    return p.stdout.hex()


def hold_parts(hold_id, key_rows=None):
    """(account row id, hold row id) of a hold id the API gave out (hold_ and
    32 hex digits: both numbers enciphered, DESIGN §14); key_rows: the
    settings rows of another database than the stack's."""
    m = re.fullmatch(r"hold_([0-9a-f]{32})", hold_id or "")
    if m is None:
        raise Fail("not a hold id: %r" % (hold_id,))
    plain = _aes(m.group(1), True, key_rows)
    return int(plain[:16], 16), int(plain[16:], 16)


def hold_parts_many(hold_ids, key_rows=None):
    """{hold id: (account row id, hold row id)} for many ids in one openssl
    run (ECB enciphers each 16-byte block alone); ids of another form are
    left out."""
    ids = [h for h in hold_ids if re.fullmatch(r"hold_[0-9a-f]{32}", h or "")]
    if not ids:
        return {}
    plain = _aes("".join(h[5:] for h in ids), True, key_rows)
    return {h: (int(plain[32 * i:32 * i + 16], 16), int(plain[32 * i + 16:32 * i + 32], 16)) for i, h in enumerate(ids)}


def hold_id_of(account_id, hold):
    """The id creditd gives out for hold `hold` of account row `account_id`."""
    return "hold_" + _aes("%016x%016x" % (account_id, hold), False)


def parallel(n, fn):
    """Runs fn(i) in n threads at once; returns the results in order."""
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# ---- the database's own view of a stall ----

def db_state():
    """What MariaDB says of its transactions and lock waits now, as text:
    the transactions, who waits for whom, the sessions, and SHOW ENGINE
    INNODB STATUS (read when an answer is slow, to find what it waits on)."""
    parts = []
    for title, statement in (
            ("transactions", "SELECT trx_id, trx_state, trx_started, trx_wait_started, trx_mysql_thread_id, "
             "trx_rows_locked, trx_query FROM information_schema.innodb_trx"),
            ("lock waits", "SELECT requesting_trx_id, blocking_trx_id FROM information_schema.innodb_lock_waits"),
            ("locks", "SELECT lock_trx_id, lock_mode, lock_type, lock_table, lock_index, lock_data "
             "FROM information_schema.innodb_locks"),
            ("sessions", "SELECT id, command, time, state, info FROM information_schema.processlist "
             "WHERE command <> 'Sleep' OR time > 1"),
            ("innodb status", "SHOW ENGINE INNODB STATUS")):
        try:
            rows = sql(statement)
            parts.append("== %s\n%s" % (title, "\n".join("\t".join(r) for r in rows).replace("\\n", "\n")))
        except Exception as e:  # noqa: BLE001 - a snapshot says what it could not read
            parts.append("== %s: %s" % (title, e))
    return "\n".join(parts) + "\n"


class DbWatch:
    """A thread that looks at MariaDB every 0.2 s while the block runs:
    while a transaction has waited for a lock (or a statement has run)
    `after` seconds or more, it appends db_state() to `name` in the stack's
    directory once a second, five times at most (KEEP_TMP=1 keeps the
    file), and keeps its path in .snapshot."""

    def __init__(self, name, after=0.5):
        self.path = os.path.join(ENV["CREDITD_STACK_DIR"], name)
        self.after = after
        self.snapshot = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        q = ("SELECT (SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_wait_started <= "
             "NOW(6) - INTERVAL %d MICROSECOND) + (SELECT COUNT(*) FROM information_schema.processlist WHERE "
             "command = 'Query' AND time_ms >= %d AND info NOT LIKE '%%information_schema%%')"
             % (int(self.after * 1e6), int(self.after * 1000)))
        taken, last = 0, 0.0
        while not self._stop.wait(0.2) and taken < 5:
            try:
                waiting = int(sql(q)[0][0])
            except Exception:  # noqa: BLE001 - a watch never fails its test
                continue
            if waiting > 0 and time.time() - last >= 1.0:
                last = time.time()
                with open(self.path, "a") as f:
                    f.write("######## %s\n%s" % (time.strftime("%H:%M:%S", time.localtime(last)) +
                                                   (".%03d" % (last % 1 * 1000)), db_state()))
                self.snapshot = self.path
                taken += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def key_salt():
    """The deployment's salt creditd puts in every Idempotency-Key it sends
    Stripe (DESIGN §13), as docs/configuration.md says it is derived when
    [stripe] key_salt is not set: the first 12 hex digits of SHA-256 over
    "creditd stripe key salt\\n" and the first webhook secret."""
    import hashlib
    return hashlib.sha256(b"creditd stripe key salt\n" + ENV["CREDITD_WEBHOOK_SECRET"].encode()).hexdigest()[:12]


def free_port():
    """A port free now on 127.0.0.1 for a server a test starts, below the
    kernel's ephemeral range: a port the kernel hands out for port 0 is
    where outgoing connections take their source ports, and one may take
    it between this pick and the server's bind (the server then fails to
    listen, at random)."""
    low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    lo, hi = (10000, low) if low - 10000 >= 2000 else (high + 1, 65536)
    while True:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", random.randrange(lo, hi)))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()


def wait_until(fn, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(step)
    return False


# ---- the test clock ----
# A dev build of creditd and creditctl adds the seconds in the stack's
# CREDITD_TEST_CLOCK_FILE to the real clock (configure --enable-test-clock).
# Tests move time forward only, and put it back when they are done.

def clock_offset():
    try:
        with open(ENV["CREDITD_TEST_CLOCK_FILE"]) as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return 0


def clock_now():
    """What the stack's clock reads now."""
    return int(time.time()) + clock_offset()


def clock_set(at):
    """Moves the stack's clock so that it reads `at` (unix seconds) now."""
    path = ENV.get("CREDITD_TEST_CLOCK_FILE")
    check(path, "the stack has no test clock (CREDITD_TEST_CLOCK_FILE)")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % (int(at) - int(time.time())))
    os.replace(tmp, path)


def clock_reset():
    """Puts the stack's clock back to the machine's: an offset of 0, written
    as such (set to "now", two reads of the time a second apart left -1)."""
    path = ENV.get("CREDITD_TEST_CLOCK_FILE")
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("0\n")
        os.replace(tmp, path)


# ---- test tools from npm ----

def npm_tool(package, name):
    """The command `name` of npm's `package` (name@version), installed into
    the stack directory once: test tooling, never a dependency of creditd
    or of a client."""
    npm = shutil.which("npm")
    check(npm, "npm is not installed: %s needs it (Debian: apt-get install npm)" % package)
    cache = os.path.join(ENV["CREDITD_STACK_DIR"], "npm-" + name)
    tool = os.path.join(cache, "node_modules", ".bin", name)
    if not os.path.exists(tool):
        os.makedirs(cache, exist_ok=True)
        p = subprocess.run([npm, "install", "--prefix", cache, "--no-audit", "--no-fund", "--loglevel=error",
                            package], capture_output=True, text=True, timeout=600)
        check(p.returncode == 0 and os.path.exists(tool),
              "npm install %s failed (exit %d): %s%s" % (package, p.returncode, p.stdout[-800:], p.stderr[-800:]))
    return tool


def tx_retries(bases):
    """{reason: transaction attempts run again} of the processes at bases,
    summed (creditd_tx_retries_total, docs/architecture.md "One retry
    loop")."""
    out = {}
    for base in sorted(set(bases)):
        r = api("GET", "/metrics", auth=None, base=base)
        eq(r.status, 200, "GET /metrics of %s" % base)
        for m in re.finditer(r'(?m)^creditd_tx_retries_total\{reason="(\w+)"\} (\d+)$', r.raw.decode()):
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out
